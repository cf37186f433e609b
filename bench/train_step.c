/* One training step of the model, timed exactly as `newt train` runs it (newt's side of
 * bench/train):
 *   build/release/bench/train_step MODEL_DIR [--mode full|lora|qlora] [--seq T] [--steps N]
 *                                  [--warmup N] [--experts nf4|f32] [--optim adamw|adamw8] [--ckpt]
 *                                  [--in-backward auto|off]
 *
 *   full   every parameter trainable, f32; AdamW over all of them.
 *   lora   base frozen (f32), r=16 alpha=32 adapters on q_a_proj, q_b_proj,
 *          kv_a_proj_with_mqa, kv_b_proj, o_proj of every layer (the PyTorch baseline's
 *          targets); AdamW over the adapters.
 *   qlora  the same adapters; the frozen decoder-layer linear weights stored NF4 with double
 *          quantization, as `newt train` does for load_in_4bit (the fused experts too, as with
 *          quantize_moe_experts: true; --experts f32 leaves them f32 as without it).
 *
 * Random token ids and random labels (batch 1, T tokens). Each timed step is
 *   m4_model_zero_grads + m4_forward (loss) + m4_backward
 *   + tr_step_finish(AdamW betas 0.9/0.999, eps 1e-8, weight decay 0.01, lr 1e-4, no clipping)
 * — the trainer's train_step for one micro-batch (src/train/trainer.c), with the optimizer
 * built by the trainer's own tr_step_optim_new. Where the trainer applies the update during
 * the backward (optimizer_in_backward: auto, and this step is exact for it: no clipping, one
 * micro-batch, no adapters — the full mode), so does this, through tr_step_inbwd (no gradient
 * buffer); --in-backward off keeps the gradient buffer and tr_step_finish. The model shifts labels (position i predicts
 * labels[i+1]), so T−1 positions carry a loss; the gradient scale is 1 / that count.
 *
 * Prints one line (bench/train parses `key=NUMBER`):
 *   newt mode=lora T=512 threads=2 params=62.3M trainable=0.236M step median=... ms (min ..,
 *   max .., n=5) tokens/s=... model-fwd GFLOP/token=0.0554 achieved=... GFLOP/s maxrss=... MiB
 *   loss=...
 * GFLOP/token and achieved follow the FLOP model of bench/README.md ("The FLOP model"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/threads.h"
#include "model/m4_load.h"
#include "model/m4_lora.h"
#include "model/m4_model.h"
#include "train/lora_target.h"
#include "train/step.h"
#include "bench_util.h"

enum { MODE_FULL, MODE_LORA, MODE_QLORA };

typedef struct {
    const char *dir;
    int mode;
    bool experts_nf4, ckpt, adamw8; /* adamw8: bitsandbytes' 8-bit AdamW (adamw_bnb_8bit) */
    bool inbwd_off;                 /* --in-backward off */
    int64_t T;
    int steps, warmup;
} args;

static const char *const MODE_NAMES[] = {"full", "lora", "qlora"};

static int parse_mode(const char *s) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, MODE_NAMES[i])) return i;
    return -1;
}

static int parse(int argc, char **argv, args *a) {
    *a = (args){.mode = MODE_FULL, .experts_nf4 = true, .T = 512, .steps = 5, .warmup = 2};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--ckpt")) a->ckpt = true;
        else if (!strcmp(s, "--mode") && v) a->mode = parse_mode(argv[++i]);
        else if (!strcmp(s, "--seq") && v) a->T = atoll(argv[++i]);
        else if (!strcmp(s, "--steps") && v) a->steps = atoi(argv[++i]);
        else if (!strcmp(s, "--warmup") && v) a->warmup = atoi(argv[++i]);
        else if (!strcmp(s, "--in-backward") && v) {
            const char *o = argv[++i];
            if (strcmp(o, "auto") && strcmp(o, "off")) return 1;
            a->inbwd_off = !strcmp(o, "off");
        } else if (!strcmp(s, "--optim") && v) {
            const char *o = argv[++i];
            if (strcmp(o, "adamw") && strcmp(o, "adamw8")) return 1;
            a->adamw8 = !strcmp(o, "adamw8");
        } else if (!strcmp(s, "--experts") && v) {
            const char *e = argv[++i];
            if (strcmp(e, "nf4") && strcmp(e, "f32")) return 1;
            a->experts_nf4 = !strcmp(e, "nf4");
        } else if (s[0] != '-' && !a->dir) a->dir = s;
        else return 1;
    }
    return !a->dir || a->mode < 0 || a->T < 2 || a->steps < 1 || a->warmup < 0;
}

/* The frozen base, as the trainer's apply_adapter_policy makes it: nothing trainable, linear
 * weights f32 (lora) or NF4 + double quant (qlora; experts only with experts_nf4). */
static nt_status apply_policy(m4_model *m, const args *a, nt_err *err) {
    if (a->mode == MODE_FULL) return NT_OK;
    size_t n = m4_model_num_params(m);
    m4_param_policy *pol = calloc(n, sizeof *pol);
    if (!pol) return nt_err_set(err, NT_ENOMEM, "policy: out of memory");
    for (size_t i = 0; i < n; i++) {
        bool expert = strstr(m4_model_param(m, i)->name, "mlp.experts.") != NULL;
        bool nf4 = a->mode == MODE_QLORA && m4_model_is_linear_weight(m, i) && (a->experts_nf4 || !expert);
        pol[i] = (m4_param_policy){.trainable = false, .storage = nf4 ? TN_NF4 : TN_F32, .double_quant = nf4};
    }
    nt_status st = m4_model_apply_policy(m, pol, err);
    free(pol);
    return st;
}

/* r=16, alpha=32 on the five MLA projections of every layer (the baseline's adapters). */
static nt_status attach(m4_model *m, const m4_config *cfg, const args *a, nt_err *err) {
    if (a->mode == MODE_FULL) return NT_OK;
    static const char *const mods[] = {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"};
    tr_spec sp = {.modules = mods, .n_modules = 5};
    tr_result res;
    nt_status st = tr_resolve(cfg, &sp, &res, err);
    if (st) return st;
    m4_lora_opts o = {.r = 16, .alpha = 32.0, .seed = 1};
    st = m4_lora_attach(m, &res, &o, err);
    tr_result_free(&res);
    return st;
}

/* Forward model FLOPs per token (2 per multiply-add), bench/README.md "The FLOP model": the
 * decoder's linears, causal attention over T/2 keys on average, the MoE (router, top-k routed
 * + shared experts, 3 matrices each) and the LM head. Embedding lookups, norms, RoPE and
 * softmaxes are not counted. */
static double fwd_flops_per_token(const m4_text_config *c, int64_t T) {
    double D = (double)c->hidden_size, H = (double)c->num_heads, nope = (double)c->qk_nope_head_dim;
    double rope = (double)c->qk_rope_head_dim, vd = (double)c->v_head_dim, qk = nope + rope;
    double q = c->q_lora_rank > 0 ? D * (double)c->q_lora_rank + (double)c->q_lora_rank * H * qk : D * H * qk;
    double lin = q + D * ((double)c->kv_lora_rank + rope) + (double)c->kv_lora_rank * H * (nope + vd) + H * vd * D;
    double attn = H * (qk + vd) * (double)T / 2.0, macs = 0;
    for (int64_t l = 0; l < c->num_layers; l++) {
        bool dense = !m4_layer_is_moe(c, l);
        double mlp = dense ? 3.0 * D * (double)c->intermediate_size
                           : D * (double)c->n_routed_experts +
                                 (double)(c->experts_per_tok + c->n_shared_experts) * 3.0 * D * (double)c->moe_intermediate_size;
        macs += lin + attn + mlp;
    }
    return 2.0 * (macs + D * (double)c->vocab_size);
}

static int cmp(const void *x, const void *y) {
    double p = *(const double *)x, q = *(const double *)y;
    return (p > q) - (p < q);
}

static uint64_t next_rand(uint64_t *s) { /* xorshift64*: reproducible ids without rand() */
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static nt_status load(const args *a, m4_model **m, nt_err *err) {
    m4_options mo = {.checkpointing = a->ckpt, .loss_sum = true}; /* as tr_model_load */
    m4_weights *w = NULL;
    nt_status st = m4_weights_open(a->dir, &w, err);
    if (!st) st = m4_model_new(&m4_weights_config(w)->text, &mo, m, err);
    if (!st) st = apply_policy(*m, a, err);
    if (!st) st = m4_model_load(*m, w, err);
    if (!st) st = attach(*m, m4_weights_config(w), a, err);
    if (w) m4_weights_close(w);
    return st;
}

/* The optimizer as the trainer builds it (tr_optim_build): in the backward when exact. */
static nt_status make_optim(m4_model *m, const args *a, tr_optim **o, tr_inbwd **ib, nt_err *err) {
    tr_optim_hparams hp = tr_optim_defaults(a->adamw8 ? TR_OPT_ADAMW_8BIT : TR_OPT_ADAMW); /* betas 0.9/0.999, eps 1e-8 */
    if (!a->inbwd_off && tr_step_inbwd_exact(m, 0.0, 1)) return tr_step_inbwd_new(m, &hp, 0.01, ib, o, err);
    if (m4_model_alloc_grads(m, err)) return err->code;
    return tr_step_optim_new(m, &hp, 0.01, o, err);
}

/* Runs warmup + steps training steps; dt receives the timed ones (sorted). */
static nt_status run_steps(m4_model *m, tr_optim *o, tr_inbwd *ib, const args *a, const m4_batch *b,
                           double *dt, m4_loss *loss, nt_err *err) {
    for (int s = 0; s < a->warmup + a->steps; s++) {
        double t0 = bn_now();
        m4_model_zero_grads(m);
        if (m4_lora_attached(m)) m4_lora_set_step(m, s, 0);
        if (ib) tr_step_inbwd_arm(ib, 1e-4);
        if (m4_forward(m, b, true, NULL, loss, err) || m4_backward(m, err)) return err->code;
        if (ib) tr_step_inbwd_finish(ib);
        else tr_step_finish(o, m, loss->count ? 1.0 / (double)loss->count : 1.0, 0.0, 1e-4);
        if (s >= a->warmup) dt[s - a->warmup] = bn_now() - t0;
    }
    qsort(dt, (size_t)a->steps, sizeof *dt, cmp);
    return NT_OK;
}

int main(int argc, char **argv) {
    args a;
    if (parse(argc, argv, &a))
        return fprintf(stderr, "usage: train_step MODEL_DIR [--mode full|lora|qlora] [--seq T] [--steps N] "
                               "[--warmup N] [--experts nf4|f32 (qlora)] [--optim adamw|adamw8] [--ckpt] [--in-backward auto|off]\n"), 2;
    nt_threads_init(0);
    nt_err err = {0};
    m4_model *m = NULL;
    tr_optim *o = NULL;
    tr_inbwd *ib = NULL;
    if (load(&a, &m, &err) || make_optim(m, &a, &o, &ib, &err))
        return fprintf(stderr, "train_step: %s\n", err.msg), m4_model_free(m), 1;
    const m4_text_config *c = m4_model_config(m);
    int32_t *ids = malloc((size_t)a.T * sizeof *ids), *labels = malloc((size_t)a.T * sizeof *labels);
    double *dt = malloc((size_t)a.steps * sizeof *dt);
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (int64_t i = 0; i < a.T; i++) {
        ids[i] = (int32_t)(next_rand(&seed) % (uint64_t)c->vocab_size);
        labels[i] = (int32_t)(next_rand(&seed) % (uint64_t)c->vocab_size);
    }
    m4_batch b = {1, a.T, ids, labels, NULL, NULL};
    m4_loss loss = {0};
    if (run_steps(m, o, ib, &a, &b, dt, &loss, &err))
        return fprintf(stderr, "train_step: %s\n", err.msg), 1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    m4_param_report r;
    m4_model_report(m, &r);
    double fwd = fwd_flops_per_token(c, a.T), med = dt[a.steps / 2];
    double factor = a.mode == MODE_FULL ? 3.0 : 2.0; /* forward + backward (bench/README.md) */
    printf("newt mode=%s optim=%s in_backward=%s T=%lld threads=%d params=%.1fM trainable=%.3fM step median=%.0f ms (min %.0f, max %.0f, n=%d) "
           "tokens/s=%.1f model-fwd GFLOP/token=%.4f achieved=%.1f GFLOP/s maxrss=%.0f MiB loss=%.4f\n",
           MODE_NAMES[a.mode], a.adamw8 ? "adamw_bnb_8bit" : "adamw", ib ? "yes" : "no", (long long)a.T, nt_threads_count(), (double)m4_model_num_floats(m) / 1e6,
           (double)(r.trainable + m4_lora_num_floats(m)) / 1e6, med * 1e3, dt[0] * 1e3, dt[a.steps - 1] * 1e3, a.steps,
           (double)a.T / med, fwd / 1e9, factor * fwd * (double)a.T / med / 1e9, (double)ru.ru_maxrss / 1024.0,
           loss.count ? loss.loss / (double)loss.count : 0.0); /* loss_sum: the mean per token */
    free(dt), free(ids), free(labels);
    tr_step_inbwd_free(ib);
    tr_optim_free(o);
    m4_model_free(m);
    return 0;
}
