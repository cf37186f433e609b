/* Optimizer step throughput: one tensor of N f32 parameters (default 16M), clip + step,
 * for each optimizer kind, with the OpenMP threads of the process (OMP_NUM_THREADS).
 * Usage: build/release/bench/optim_bench [elements] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/mem.h"
#include "base/threads.h"
#include "train/optim.h"
#include "bench_util.h"

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 16u << 20;
    int threads = nt_threads_init(0);
    float *p = nt_xmalloc(n * sizeof(float)), *g = nt_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        p[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
        g[i] = (float)((i * 40503u) % 1000) * 1e-5f - 0.005f;
    }
    const tr_optim_kind kinds[] = {TR_OPT_ADAMW, TR_OPT_ADAMW_8BIT, TR_OPT_SGD};
    printf("%zu parameters, %d threads\n", n, threads);
    for (int k = 0; k < 3; k++) {
        tr_optim_hparams hp = tr_optim_defaults(kinds[k]);
        tr_param ps = {"w", p, g, n, 0.01, false};
        tr_optim *o;
        nt_err err = {0};
        if (tr_optim_new(&hp, &ps, 1, &o, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
        tr_optim_step(o, 1e-4); /* warm the pages */
        int steps = 10;
        double t0 = bn_now();
        for (int s = 0; s < steps; s++) tr_optim_step(o, 1e-4);
        double t1 = bn_now();
        for (int s = 0; s < steps; s++) tr_optim_clip_grad_norm(o, 1e9);
        double t2 = bn_now();
        printf("%-15s step %7.2f ms (%6.0f Mparam/s)   clip %6.2f ms\n", tr_optim_kind_name(kinds[k]),
               1e3 * (t1 - t0) / steps, n * steps / (t1 - t0) / 1e6, 1e3 * (t2 - t1) / steps);
        tr_optim_free(o);
    }
    free(p);
    free(g);
    return 0;
}
