/* Memory and time of the LM head + cross-entropy, forward and backward to dh, with a frozen
 * head (the LoRA case), newt's fused path against a materialized one (bench/train --loss):
 *   build/release/bench/xent_mem fused|materialized [T V D [CHUNK]]     (2048 131072 1024)
 *
 * fused         kn_lmhead_xent — the function m4_forward calls for the head and the loss —
 *               over chunks of CHUNK rows into a CHUNK × V scratch, as the model runs it:
 *               CHUNK defaults to the model's rule (m4_options.xent_chunk = 0: a 32 MiB block
 *               of logits, 64..1024 rows; 64 rows at V = 131072).
 * materialized  what an autograd framework keeps: logits [T, V] (the same GEMM), their
 *               log-softmax [T, V], the gradient dlogits [T, V], then dh = dlogits · W.
 *
 * Inputs h [T, D], W [V, D] (scaled by D^-½) and labels are allocated and written first; the
 * resident set at that point (/proc/self/statm) is the base, and "extra" is the peak
 * (getrusage ru_maxrss) after the loss minus the base: dh, scratch, logits and the BLAS
 * buffers. Run each variant in its own process so one's peak cannot hide the other's.
 * Prints one line: variant=... extra=... MiB time=... ms loss=... |dh|=... */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/threads.h"
#include "kernels/kernels.h"
#include "bench_util.h"

static float *xalloc(size_t n) {
    float *p = malloc(n * sizeof *p);
    if (!p) fprintf(stderr, "xent_mem: cannot allocate %zu floats\n", n), exit(1);
    return p;
}

/* Uniform in [-a, a) from a per-element hash: deterministic and written in parallel. */
static void fill(float *x, int64_t n, float a, uint64_t seed) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        uint64_t z = (uint64_t)i * 0x9E3779B97F4A7C15ULL + seed;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        x[i] = a * (2.0f * (float)(z >> 40) / 16777216.0f - 1.0f);
    }
}

/* logits → log-softmax rows (logp) and grad_scale·(softmax − onehot) (dl), as three [T, V]
 * buffers; returns the summed loss. */
static double materialized_softmax(const float *logits, float *logp, float *dl, const int32_t *y, int64_t T,
                                   int64_t V, float grad_scale) {
    double loss = 0;
#pragma omp parallel for schedule(static) reduction(+ : loss)
    for (int64_t i = 0; i < T; i++) {
        const float *l = logits + i * V;
        float *lp = logp + i * V, *d = dl + i * V, m = l[0];
        for (int64_t j = 1; j < V; j++) m = l[j] > m ? l[j] : m;
        double s = 0;
        for (int64_t j = 0; j < V; j++) s += expf(l[j] - m);
        float lse = m + (float)log(s);
        for (int64_t j = 0; j < V; j++) lp[j] = l[j] - lse;
        for (int64_t j = 0; j < V; j++) d[j] = expf(lp[j]) * grad_scale;
        d[y[i]] -= grad_scale;
        loss -= lp[y[i]];
    }
    return loss;
}

static double run_materialized(const float *h, const float *w, const int32_t *y, float *dh, int64_t T, int64_t V,
                               int64_t D) {
    size_t n = (size_t)T * (size_t)V;
    float *logits = xalloc(n), *logp = xalloc(n), *dl = xalloc(n);
    kn_linear_fwd(logits, h, w, T, V, D, false);
    double loss = materialized_softmax(logits, logp, dl, y, T, V, 1.0f / (float)T);
    kn_linear_bwd(dh, NULL, dl, h, w, T, V, D);
    free(logits), free(logp), free(dl);
    return loss;
}

static double run_fused(const float *h, const float *w, const int32_t *y, float *dh, int64_t T, int64_t V,
                        int64_t D, int64_t chunk) {
    float *scratch = xalloc((size_t)chunk * (size_t)V);
    kn_xent_result r = kn_lmhead_xent(h, w, y, T, D, V, 1.0f / (float)T, dh, NULL, NULL, scratch, chunk);
    free(scratch);
    return r.loss_sum;
}

/* m4_model.c's default_xent_chunk: a 32 MiB logits block, clamped to 64..1024 rows. */
static int64_t model_chunk(int64_t V) {
    int64_t rows = ((int64_t)32 << 20) / (V * (int64_t)sizeof(float));
    return rows < 64 ? 64 : rows > 1024 ? 1024 : rows;
}

int main(int argc, char **argv) {
    bool fused = argc > 1 && !strcmp(argv[1], "fused");
    if (argc < 2 || (!fused && strcmp(argv[1], "materialized")) || (argc != 2 && argc != 5 && argc != 6))
        return fprintf(stderr, "usage: xent_mem fused|materialized [T V D [CHUNK]]\n"), 2;
    int64_t T = argc > 2 ? atoll(argv[2]) : 2048, V = argc > 2 ? atoll(argv[3]) : 131072;
    int64_t D = argc > 2 ? atoll(argv[4]) : 1024, chunk = argc > 5 ? atoll(argv[5]) : model_chunk(V);
    if (T < 1 || V < 2 || D < 1 || chunk < 1) return fprintf(stderr, "xent_mem: bad sizes\n"), 2;
    if (chunk > T) chunk = T; /* as m4_forward: no larger than the batch */
    nt_threads_init(0);
    float *h = xalloc((size_t)(T * D)), *w = xalloc((size_t)(V * D));
    int32_t *y = malloc((size_t)T * sizeof *y);
    fill(h, T * D, 1.7f, 1), fill(w, V * D, 1.7f / sqrtf((float)D), 2); /* ≈ unit variance, W/√D */
    for (int64_t i = 0; i < T; i++) y[i] = (int32_t)(((uint64_t)i * 2654435761ULL + 12345) % (uint64_t)V);
    double base = bn_rss_mib();
    float *dh = calloc((size_t)(T * D), sizeof *dh);
    double t0 = bn_now();
    double loss = fused ? run_fused(h, w, y, dh, T, V, D, chunk) : run_materialized(h, w, y, dh, T, V, D);
    double dt = bn_now() - t0, norm = 0;
    for (int64_t i = 0; i < T * D; i++) norm += (double)dh[i] * dh[i];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("variant=%s T=%lld V=%lld D=%lld chunk=%lld threads=%d base=%.0f MiB extra=%.0f MiB time=%.0f ms "
           "loss=%.6f |dh|=%.6g (logits f32 would be %.0f MiB)\n",
           argv[1], (long long)T, (long long)V, (long long)D, fused ? (long long)chunk : (long long)T, nt_threads_count(), base,
           (double)ru.ru_maxrss / 1024.0 - base, dt * 1e3, loss / (double)T, sqrt(norm), (double)T * (double)V * 4 / 1048576.0);
    free(dh), free(h), free(w), free(y);
    return 0;
}
