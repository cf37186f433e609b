/* Throughput of the dtype conversions and NF4 (de)quantization, single thread.
 * Usage: build/release/bench/dtype_bench [elements]   (default 16M; a 4096-element tile
 * that stays in L1/L2 is measured too). GB/s counts source + destination bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tensor/convert.h"
#include "tensor/fp.h"
#include "tensor/nf4.h"
#include "bench_util.h"

typedef struct {
    const uint16_t *h;
    const uint8_t *q;
    const float *f;
    float *out;
    uint16_t *h_out;
    uint8_t *q_out;
    const tn_nf4 *nf4;
} bench_bufs;

typedef void (*bench_fn)(const bench_bufs *b, size_t n);

static void b_bf16(const bench_bufs *b, size_t n) { tn_bf16_to_f32_row(b->h, b->out, n); }
static void b_bf16_p(const bench_bufs *b, size_t n) { tn_bf16_to_f32_row_portable(b->h, b->out, n); }
static void b_f16(const bench_bufs *b, size_t n) { tn_f16_to_f32_row(b->h, b->out, n); }
static void b_f16_p(const bench_bufs *b, size_t n) { tn_f16_to_f32_row_portable(b->h, b->out, n); }
static void b_fp8(const bench_bufs *b, size_t n) { tn_fp8_dequant(b->q, 0.01f, b->out, n); }
static void b_fp8_p(const bench_bufs *b, size_t n) { tn_f8e4m3_scaled_to_f32_portable(b->q, 0.01f, b->out, n); }
static void b_to_bf16(const bench_bufs *b, size_t n) { tn_f32_to_bf16_row(b->f, b->h_out, n); }
static void b_to_f16(const bench_bufs *b, size_t n) { tn_f32_to_f16_row(b->f, b->h_out, n); }
static void b_to_fp8(const bench_bufs *b, size_t n) { tn_from_f32(TN_F8_E4M3, b->f, b->q_out, n, NULL); }
static void b_nf4(const bench_bufs *b, size_t n) { tn_nf4_dequant(b->nf4, 0, n, b->out); }

static void run(const char *name, bench_fn fn, const bench_bufs *b, size_t n, double bytes_per) {
    double best = 1e30;
    int reps = n < 100000 ? 2000 : 5;
    for (int t = 0; t < 3; t++) {
        double t0 = bn_now();
        for (int r = 0; r < reps; r++) fn(b, n);
        double dt = (bn_now() - t0) / reps;
        if (dt < best) best = dt;
    }
    printf("%-28s n=%-9zu %8.1f Melem/s %7.2f GB/s\n", name, n, (double)n / best * 1e-6,
           (double)n * bytes_per / best * 1e-9);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : (size_t)16 << 20;
    if (n < 4096) n = 4096;
    uint16_t *h = malloc(n * 2), *h_out = malloc(n * 2);
    uint8_t *q = malloc(n), *q_out = malloc(n);
    float *f = malloc(n * 4), *out = malloc(n * 4);
    if (!h || !h_out || !q || !q_out || !f || !out) return 1;
    uint32_t s = 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        f[i] = (float)((int32_t)s) * 0x1p-33f;
        h[i] = tn_f32_to_bf16(f[i]);
        q[i] = (uint8_t)(s >> 24);
    }
    tn_nf4 qt;
    int64_t shape[1] = {(int64_t)n};
    nt_err err = {0};
    double t0 = bn_now();
    if (tn_nf4_quantize(TN_F32, f, shape, 1, 64, true, &qt, &err)) {
        fprintf(stderr, "dtype_bench: %s\n", err.msg);
        return 1;
    }
    double tq = bn_now() - t0;
    printf("dispatch: %s\n", tn_convert_impl());
    printf("%-28s n=%-9zu %8.1f Melem/s (all threads)\n", "nf4 quantize f32 (dq)", n, (double)n / tq * 1e-6);
    bench_bufs b = {h, q, f, out, h_out, q_out, &qt};
    size_t sizes[2] = {4096, n};
    for (int k = 0; k < 2; k++) {
        size_t m = sizes[k];
        run("bf16 -> f32", b_bf16, &b, m, 6);
        run("bf16 -> f32 (portable)", b_bf16_p, &b, m, 6);
        run("f16 -> f32", b_f16, &b, m, 6);
        run("f16 -> f32 (portable)", b_f16_p, &b, m, 6);
        run("fp8 * scale -> f32", b_fp8, &b, m, 5);
        run("fp8 * scale -> f32 (portable)", b_fp8_p, &b, m, 5);
        run("f32 -> bf16", b_to_bf16, &b, m, 6);
        run("f32 -> f16", b_to_f16, &b, m, 6);
        run("f32 -> fp8 e4m3fn", b_to_fp8, &b, m, 5);
        run("nf4 (dq) -> f32", b_nf4, &b, m, 4.5);
    }
    tn_nf4_free(&qt);
    free(h), free(h_out), free(q), free(q_out), free(f), free(out);
    return 0;
}
