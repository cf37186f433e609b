/* Random initialization of a Mistral4 text model, written as an HF checkpoint (config.json +
 * model.safetensors, or shards + model.safetensors.index.json above a size limit).
 *
 * Values: every matrix (embeddings, attention, router, experts, lm_head) ~ normal(0,
 * initializer_range); every RMSNorm weight = 1 (transformers' _init_weights for Mistral4).
 *
 * The random stream is documented so any implementation can reproduce it: each tensor has its
 * own generator, so its values depend only on (seed, tensor name), not on order or sharding:
 *   key   = FNV-1a-64(name bytes) XOR seed;
 *   state = four successive splitmix64 outputs starting from key (s0..s3);
 *   next  = xoshiro256** (Blackman & Vigna);
 *   u     = ((next >> 11) + 1) * 2^-53, in (0, 1];
 *   pairs = Box-Muller in double: r = sqrt(-2 ln u1), z0 = r cos(2 pi u2), z1 = r sin(2 pi u2),
 *           used in that order; value = (float)(std * z), then rounded to bf16 (nearest even)
 *           for --dtype bf16.
 * The integer stream is exact everywhere; the double transform uses libm's log/cos/sin/sqrt,
 * whose last-ulp differences between libms vanish when rounding to f32 except in rare ties. */
#ifndef NEWT_MODEL_M4_INIT_H
#define NEWT_MODEL_M4_INIT_H

#include <stdint.h>

#include "base/error.h"
#include "model/m4_config.h"
#include "tensor/dtype.h"

#define M4_INIT_DEFAULT_SHARD_BYTES ((uint64_t)5 << 30) /* HF's "5GB" default, in GiB */

typedef struct {
    uint64_t seed;
    tn_dtype dtype;            /* TN_F32 or TN_BF16 */
    uint64_t max_shard_bytes;  /* 0: M4_INIT_DEFAULT_SHARD_BYTES */
} m4_init_opts;

/* config.json text of a preset: "tiny" (run_ref.py's tiny oracle config: hidden 64, 2 layers,
 * 8 experts, vocab 512) or "bench" (the benchmark model of shared/bench: hidden 512, 4 MoE
 * layers, 16 experts top-4, vocab 32768, 62.3M parameters). NULL for an unknown name. */
const char *m4_init_preset(const char *name);

/* Writes dir/config.json (config_json verbatim) and the weights of the model it describes.
 * Files are atomic; weights are generated while writing (memory stays at one 4 MiB chunk).
 * Text-only (Mistral4ForCausalLM names); a wrapper config with vision is rejected. */
nt_status m4_init_write(const char *config_json, const char *dir, const m4_init_opts *o,
                        nt_err *err);

/* The generator, exposed for tests: a tensor's stream and its first values. */
typedef struct {
    uint64_t s[4];
    double spare;
    int has_spare;
} m4_rng;

void m4_rng_seed(m4_rng *r, uint64_t seed, const char *name);
uint64_t m4_rng_next(m4_rng *r);
double m4_rng_normal(m4_rng *r);

#endif
