#include "model/m4_init.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "model/m4_names.h"
#include "tensor/convert.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void m4_rng_seed(m4_rng *r, uint64_t seed, const char *name) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    uint64_t x = h ^ seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t m4_rng_next(m4_rng *r) {
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double m4_rng_normal(m4_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    const double two_pi = 6.283185307179586476925286766559;
    double u1 = (double)((m4_rng_next(r) >> 11) + 1) * 0x1p-53;
    double u2 = (double)((m4_rng_next(r) >> 11) + 1) * 0x1p-53;
    double rad = sqrt(-2.0 * log(u1));
    r->spare = rad * sin(two_pi * u2);
    r->has_spare = 1;
    return rad * cos(two_pi * u2);
}

/* ---- presets ---- */

static const char TINY_JSON[] =
    "{\n  \"architectures\": [\"Mistral4ForCausalLM\"],\n  \"model_type\": \"mistral4\",\n"
    "  \"vocab_size\": 512, \"hidden_size\": 64, \"intermediate_size\": 128,\n"
    "  \"moe_intermediate_size\": 32, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,\n"
    "  \"num_key_value_heads\": 4, \"n_shared_experts\": 1, \"n_routed_experts\": 8,\n"
    "  \"routed_scaling_factor\": 1.0, \"kv_lora_rank\": 16, \"q_lora_rank\": 32,\n"
    "  \"qk_rope_head_dim\": 8, \"v_head_dim\": 16, \"qk_nope_head_dim\": 8, \"n_group\": 1,\n"
    "  \"topk_group\": 1, \"num_experts_per_tok\": 2, \"first_k_dense_replace\": 0,\n"
    "  \"norm_topk_prob\": true, \"hidden_act\": \"silu\", \"max_position_embeddings\": 4096,\n"
    "  \"initializer_range\": 0.02, \"rms_norm_eps\": 1e-06, \"tie_word_embeddings\": false,\n"
    "  \"rope_interleave\": true, \"attention_bias\": false, \"attention_dropout\": 0.0,\n"
    "  \"pad_token_id\": 11, \"bos_token_id\": 1, \"eos_token_id\": 2,\n"
    "  \"rope_parameters\": {\"type\": \"yarn\", \"rope_type\": \"yarn\", \"rope_theta\": 10000.0,\n"
    "    \"factor\": 4.0, \"original_max_position_embeddings\": 16,\n"
    "    \"max_position_embeddings\": 4096, \"beta_fast\": 32.0, \"beta_slow\": 1.0,\n"
    "    \"mscale_all_dim\": 1.0, \"mscale\": 1.0, \"llama_4_scaling_beta\": 0.1,\n"
    "    \"partial_rotary_factor\": 0.5}\n}\n";

/* shared/bench/mini_mistral4.py: plain RoPE (theta 10000, interleaved pairs, no yarn, no
 * llama-4 scaling), RMSNorm eps 1e-6, softmax top-4 renormalized, 1 shared expert. */
static const char BENCH_JSON[] =
    "{\n  \"architectures\": [\"Mistral4ForCausalLM\"],\n  \"model_type\": \"mistral4\",\n"
    "  \"vocab_size\": 32768, \"hidden_size\": 512, \"intermediate_size\": 1024,\n"
    "  \"moe_intermediate_size\": 256, \"num_hidden_layers\": 4, \"num_attention_heads\": 8,\n"
    "  \"num_key_value_heads\": 8, \"n_shared_experts\": 1, \"n_routed_experts\": 16,\n"
    "  \"routed_scaling_factor\": 1.0, \"kv_lora_rank\": 64, \"q_lora_rank\": 128,\n"
    "  \"qk_rope_head_dim\": 32, \"v_head_dim\": 64, \"qk_nope_head_dim\": 32, \"n_group\": 1,\n"
    "  \"topk_group\": 1, \"num_experts_per_tok\": 4, \"first_k_dense_replace\": 0,\n"
    "  \"norm_topk_prob\": true, \"hidden_act\": \"silu\", \"max_position_embeddings\": 4096,\n"
    "  \"initializer_range\": 0.02, \"rms_norm_eps\": 1e-06, \"tie_word_embeddings\": false,\n"
    "  \"rope_interleave\": true, \"attention_bias\": false, \"attention_dropout\": 0.0,\n"
    "  \"pad_token_id\": 11, \"bos_token_id\": 1, \"eos_token_id\": 2,\n"
    "  \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 10000.0}\n}\n";

const char *m4_init_preset(const char *name) {
    if (!strcmp(name, "tiny")) return TINY_JSON;
    if (!strcmp(name, "bench")) return BENCH_JSON;
    return NULL;
}
