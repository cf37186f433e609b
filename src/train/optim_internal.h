/* Shared between the optimizer's files (creation, step kernels, clipping, state I/O). */
#ifndef NEWT_TRAIN_OPTIM_INTERNAL_H
#define NEWT_TRAIN_OPTIM_INTERNAL_H

#include "train/optim.h"

/* A contiguous slice of one parameter. Slices of 8-bit tensors start on a 256-block boundary,
 * so every block is updated by exactly one thread. */
typedef struct {
    size_t param, start, end;
} tr_chunk;

/* Elements per chunk: big enough to amortise scheduling, small enough to balance threads. */
#define TR_CHUNK (64u * 1024u)

typedef struct {
    float *m, *v;              /* adamw and bnb 32-bit: exp_avg, exp_avg_sq; sgd: momentum (m) */
    uint8_t *q1, *q2;          /* bnb 8-bit codes of m (signed map) and v (unsigned map) */
    float *absmax1, *absmax2;  /* bnb 8-bit: one per 256-block */
    size_t nblocks;
    bool is8;
} tr_state;

struct tr_optim {
    tr_optim_hparams hp;
    tr_param *ps;
    tr_state *st;
    size_t n;
    int64_t step;
    float qmap1[256], qmap2[256]; /* bnb: signed (m) and unsigned (v) dynamic maps */
    tr_chunk *chunks;
    size_t nchunks;
    double *partial; /* per chunk: sum of squared gradients (clipping) */
    float *norms;    /* per parameter: L2 norm of its gradient */
};

void tr_step_adamw(tr_optim *o, double lr);
/* AVX2 + FMA loops available and not disabled by NEWT_SIMD=portable (reads the environment:
 * once per step, never per element). */
bool tr_use_simd(void);
/* out[j] = tn_qmap_quantize(code, x[j]) for j < n <= 256, searched in lockstep; simd: the
 * AVX2 build of the loops (only when tr_use_simd()). */
void tr_quantize_many(bool simd, const float code[256], const float *x, size_t n, uint8_t *out);
void tr_step_bnb(tr_optim *o, double lr);
void tr_step_sgd(tr_optim *o, double lr);

#endif
