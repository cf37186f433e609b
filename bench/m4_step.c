/* Forward + backward throughput of the model on random tokens:
 *   build/release/bench/m4_step MODEL_DIR [T=512] [steps=5] [checkpointing=0]
 * Prints each step's time and the median tokens/s (full gradients, no optimizer). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/threads.h"
#include "model/m4_load.h"
#include "model/m4_model.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: m4_step MODEL_DIR [T] [steps] [ckpt]\n"), 2;
    int64_t T = argc > 2 ? atoll(argv[2]) : 512;
    int steps = argc > 3 ? atoi(argv[3]) : 5;
    m4_options opt = {.checkpointing = argc > 4 && atoi(argv[4])};
    nt_threads_init(0);
    nt_err err = {0};
    m4_weights *w = NULL;
    m4_model *m = NULL;
    if (m4_weights_open(argv[1], &w, &err) || m4_model_new(&m4_weights_config(w)->text, &opt, &m, &err) ||
        m4_model_load(m, w, &err) || m4_model_alloc_grads(m, &err))
        return fprintf(stderr, "m4_step: %s\n", err.msg), 1;
    int32_t *ids = malloc(T * sizeof(int32_t));
    srand(1);
    for (int64_t i = 0; i < T; i++) ids[i] = rand() % (int)m4_model_config(m)->vocab_size;
    m4_batch b = {1, T, ids, ids, NULL, NULL};
    double *dt = malloc(steps * sizeof(double));
    for (int s = 0; s < steps; s++) {
        double t0 = now();
        m4_loss loss;
        m4_model_zero_grads(m);
        if (m4_forward(m, &b, true, NULL, &loss, &err) || m4_backward(m, &err))
            return fprintf(stderr, "m4_step: %s\n", err.msg), 1;
        dt[s] = now() - t0;
        printf("step %d: %.3f s, loss %.4f\n", s, dt[s], loss.loss);
    }
    qsort(dt, steps, sizeof(double), cmp);
    printf("median %.1f tokens/s (T=%lld, %s)\n", T / dt[steps / 2], (long long)T,
           opt.checkpointing ? "checkpointing" : "no checkpointing");
    free(dt); free(ids);
    m4_model_free(m);
    m4_weights_close(w);
    return 0;
}
