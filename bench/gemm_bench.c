/* GEMM throughput: newt's kn_sgemm against cblas_sgemm (whatever OPENBLAS_CORETYPE selects),
 * on the benchmark model's shapes, with 1 and 2 threads; then compact (NF4 / bf16) weights:
 * kn_sgemm_w packing straight from the compact storage vs the f32 own kernel vs the old path
 * (dequantize 1 Mi-float tiles + OpenBLAS). Each figure is the median of REPS runs of at least
 * MIN_S seconds each, the contenders alternating run by run so they see the same load.
 * GEMM_BENCH_CLOCK=cpu measures process CPU time divided by the thread count instead of wall
 * time: on a machine shared with other jobs a run that gets descheduled is not charged for the
 * time it waited (exact for 1 thread; with 2, a thread spinning at a barrier while its partner
 * waits for a core is still charged, to both contenders alike).
 * Usage: build/release/bench/gemm_bench [min_seconds=0.2] [reps=5] */
#include <cblas.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/threads.h"
#include "kernels/kernels.h"
#include "tensor/nf4.h"
#include "bench_util.h"

void openblas_set_num_threads(int num_threads);

typedef struct {
    const char *name;
    kn_trans ta, tb;
    int64_t M, N, K;
} shape;

static const shape shapes[] = {
    {"lm_head fwd   NT", KN_N, KN_T, 512, 32768, 512},
    {"lm_head dgrad NN", KN_N, KN_N, 512, 512, 32768},
    {"lm_head wgrad TN", KN_T, KN_N, 32768, 512, 512},
    {"hidden fwd    NT", KN_N, KN_T, 512, 512, 512},
    {"hidden dgrad  NN", KN_N, KN_N, 512, 512, 512},
    {"hidden wgrad  TN", KN_T, KN_N, 512, 512, 512},
    {"expert fwd    NT", KN_N, KN_T, 128, 512, 512},
    {"expert down   NT", KN_N, KN_T, 128, 512, 256},
    {"expert wgrad  TN", KN_T, KN_N, 512, 512, 128},
    {"attn QK^T     NT", KN_N, KN_T, 512, 512, 64},
    {"attn PV       NN", KN_N, KN_N, 512, 64, 512},
    {"mla q_a fwd   NT", KN_N, KN_T, 512, 128, 512},
    {"mla kv_b fwd  NT", KN_N, KN_T, 512, 1024, 64},
};

static bool g_cpu_clock;
static int g_threads = 1;

static double now(void) {
    double t = bn_clock(g_cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC);
    return g_cpu_clock ? t / g_threads : t;
}

typedef void (*gemm_fn)(const shape *s, const void *ctx);

typedef struct {
    const float *A, *B;
    float *C;
    const kn_wsrc *W;
} bufs;

static void run_own(const shape *s, const void *ctx) {
    const bufs *b = ctx;
    kn_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, b->A, s->ta == KN_T ? s->M : s->K, b->B,
             s->tb == KN_T ? s->K : s->N, 0.0f, b->C, s->N);
}
static void run_blas(const shape *s, const void *ctx) {
    const bufs *b = ctx;
    cblas_sgemm(CblasRowMajor, s->ta == KN_T ? CblasTrans : CblasNoTrans,
                s->tb == KN_T ? CblasTrans : CblasNoTrans, (int)s->M, (int)s->N, (int)s->K, 1.0f,
                b->A, (int)(s->ta == KN_T ? s->M : s->K), b->B, (int)(s->tb == KN_T ? s->K : s->N),
                0.0f, b->C, (int)s->N);
}
static void run_w(const shape *s, const void *ctx) {
    const bufs *b = ctx;
    kn_sgemm_w(s->ta, s->tb, s->M, s->N, s->K, 1.0f, b->A, s->ta == KN_T ? s->M : s->K, b->W,
               0.0f, b->C, s->N);
}
static void run_w_tiles(const shape *s, const void *ctx) {
    setenv("NEWT_GEMM", "blas", 1);
    run_w(s, ctx);
    unsetenv("NEWT_GEMM");
}

static double gflops_once(gemm_fn f, const shape *s, const void *ctx, double min_s) {
    f(s, ctx); /* warm */
    double t0 = now(), t;
    long n = 0;
    do {
        f(s, ctx);
        n++;
    } while ((t = now() - t0) < min_s);
    return 2.0 * (double)s->M * (double)s->N * (double)s->K * (double)n / t * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Medians of reps alternating runs of nf functions. */
static void medians(gemm_fn *f, const void **ctx, int nf, const shape *s, double min_s, int reps,
                    double *out) {
    double v[4][32];
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < nf; i++) v[i][r] = gflops_once(f[i], s, ctx[i], min_s);
    for (int i = 0; i < nf; i++) {
        qsort(v[i], (size_t)reps, sizeof(double), cmp_d);
        out[i] = v[i][reps / 2];
    }
}

static float *randf(int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    uint64_t x = 88172645463325252ull;
    for (int64_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = (float)((double)(x >> 11) / (double)(1ull << 53) - 0.5) * 0.1f;
    }
    return p;
}

static void set_threads(int t) {
    g_threads = t;
    omp_set_num_threads(t);
    openblas_set_num_threads(t);
}

static void bench_f32(double min_s, int reps) {
    printf("\nf32 GEMM, GFLOP/s (median of %d × ≥%.2f s), own kernel vs OpenBLAS (%s)\n", reps,
           min_s, getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "auto core");
    printf("%-18s %6s %6s %6s | %8s %8s %6s | %8s %8s %6s\n", "shape", "M", "N", "K", "own 1t",
           "blas 1t", "x", "own 2t", "blas 2t", "x");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        bufs b = {randf(s->M * s->K), randf(s->K * s->N), randf(s->M * s->N), NULL};
        gemm_fn f[2] = {run_own, run_blas};
        const void *ctx[2] = {&b, &b};
        double r1[2], r2[2];
        set_threads(1);
        medians(f, ctx, 2, s, min_s, reps, r1);
        set_threads(2);
        medians(f, ctx, 2, s, min_s, reps, r2);
        printf("%-18s %6ld %6ld %6ld | %8.1f %8.1f %6.2f | %8.1f %8.1f %6.2f\n", s->name,
               (long)s->M, (long)s->N, (long)s->K, r1[0], r1[1], r1[0] / r1[1], r2[0], r2[1],
               r2[0] / r2[1]);
        fflush(stdout);
        free((void *)b.A), free((void *)b.B), free(b.C);
    }
}

/* W [rows, cols] quantized to `kind`; f32 copy of its dequantized values in *deq. */
static kn_wsrc make_w(const char *kind, int64_t rows, int64_t cols, tn_nf4 *q, uint16_t **bf,
                      float **deq) {
    float *x = randf(rows * cols);
    *deq = x;
    if (!strcmp(kind, "bf16")) {
        *bf = malloc((size_t)(rows * cols) * sizeof(uint16_t));
        for (int64_t i = 0; i < rows * cols; i++) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            (*bf)[i] = (uint16_t)(u >> 16);
            u &= 0xffff0000u;
            memcpy(&x[i], &u, 4);
        }
        return (kn_wsrc){.kind = KN_W_BF16, .ld = cols, .bf16 = *bf};
    }
    int64_t shape2[2] = {rows, cols};
    nt_err err = {0};
    if (tn_nf4_quantize(TN_F32, x, shape2, 2, 64, !strcmp(kind, "nf4dq"), q, &err)) abort();
    tn_nf4_dequant_rows(q, 0, (size_t)rows, x);
    return (kn_wsrc){.kind = KN_W_NF4, .ld = cols, .packed = q->packed, .blocksize = 64,
                     .quant_map = q->quant_map, .absmax = q->double_quant ? NULL : q->absmax,
                     .absmax_q = q->absmax_q, .nested_absmax = q->nested_absmax,
                     .nested_quant_map = q->nested_quant_map,
                     .nested_blocksize = (int64_t)q->nested_blocksize,
                     .nested_offset = q->nested_offset};
}

static void bench_compact(double min_s, int reps) {
    static const shape cs[] = {{"linear fwd   NT", KN_N, KN_T, 512, 2048, 512},
                               {"linear dgrad NN", KN_N, KN_N, 512, 512, 2048},
                               {"expert fwd   NT", KN_N, KN_T, 128, 512, 512}};
    static const char *kinds[] = {"nf4", "nf4dq", "bf16"};
    printf("\ncompact W, GFLOP/s: f32 own | compact packed by kn_sgemm_w | old path (dequant "
           "tiles + OpenBLAS)\n%-16s %-6s %3s | %8s %8s %8s | %7s %7s\n", "shape", "kind", "thr",
           "f32 own", "w own", "tiles", "w/f32", "w/tiles");
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        for (int k = 0; k < 3; k++)
            for (int t = 1; t <= 2; t++) {
                const shape *s = &cs[i];
                int64_t rows = s->tb == KN_T ? s->N : s->K, cols = s->tb == KN_T ? s->K : s->N;
                tn_nf4 q = {0};
                uint16_t *bf = NULL;
                float *deq;
                kn_wsrc w = make_w(kinds[k], rows, cols, &q, &bf, &deq);
                bufs b = {randf(s->M * s->K), deq, randf(s->M * s->N), &w};
                gemm_fn f[3] = {run_own, run_w, run_w_tiles};
                const void *ctx[3] = {&b, &b, &b};
                double r[3];
                set_threads(t);
                medians(f, ctx, 3, s, min_s, reps, r);
                printf("%-16s %-6s %3d | %8.1f %8.1f %8.1f | %7.2f %7.2f\n", s->name, kinds[k], t,
                       r[0], r[1], r[2], r[1] / r[0], r[1] / r[2]);
                fflush(stdout);
                free((void *)b.A), free(deq), free(b.C), free(bf);
                tn_nf4_free(&q);
            }
}

int main(int argc, char **argv) {
    double min_s = argc > 1 ? atof(argv[1]) : 0.2;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (reps < 1 || reps > 31) reps = 5;
    const char *only = getenv("GEMM_BENCH_ONLY"); /* "f32" or "compact" */
    const char *clk = getenv("GEMM_BENCH_CLOCK");
    g_cpu_clock = clk && !strcmp(clk, "cpu");
    nt_threads_init(2);
    unsetenv("NEWT_GEMM");
    printf("kn_sgemm implementation: %s; clock: %s\n", kn_sgemm_impl(),
           g_cpu_clock ? "process CPU time / threads" : "wall");
    if (!only || !strcmp(only, "f32")) bench_f32(min_s, reps);
    if (!only || !strcmp(only, "compact")) bench_compact(min_s, reps);
    return 0;
}
