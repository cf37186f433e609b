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

/* A lookup table giving tn_qmap_quantize's code for a fixed map without the binary search
 * (optim_bnb_table.c explains why it is exact). Built for strictly increasing finite maps
 * only; ok == false otherwise, and then the search is used. */
typedef struct {
    uint32_t *tab;    /* per bucket: code below its step | step offset in the bucket << 8 */
    uint32_t mb0;     /* magnitudes (float bits) below this collapse onto it */
    uint32_t shift;   /* bucket = (key - klo) >> shift */
    int32_t klo, khi; /* keys are clamped to [klo, khi] (constant codes outside) */
    int32_t nneg;     /* codes with the sign bit set: exactly those below this index (sorted) */
    bool ok;
} tr_qtable;

void tr_qtable_build(tr_qtable *t, const float code[256]); /* frees an earlier table first */
void tr_qtable_free(tr_qtable *t);
uint8_t tr_qtable_quantize(const tr_qtable *t, float x); /* == tn_qmap_quantize when t->ok */

struct tr_optim {
    tr_optim_hparams hp;
    tr_param *ps;
    tr_state *st;
    size_t n;
    int64_t step;
    float qmap1[256], qmap2[256]; /* bnb: signed (m) and unsigned (v) dynamic maps */
    tr_qtable qt1, qt2;           /* their lookup tables (rebuilt when a checkpoint loads maps) */
    tr_chunk *chunks;
    size_t nchunks;
    double *partial; /* per chunk: sum of squared gradients (clipping) */
    size_t *pchunk;  /* [n + 1] first chunk of each parameter */
    double *lanes;   /* [nchunks × TR_SUMSQ_LANES] tr_optim_range_*: per-chunk lane sums */
    struct tr_range *range;        /* tr_optim_range_*: the current step (optim_fused.c) */
    float *norms;    /* per parameter: L2 norm of its gradient */
};

/* AVX2 + FMA loops available and not disabled by NEWT_SIMD=portable (reads the environment:
 * once per step, never per element). */
bool tr_use_simd(void);
/* out[j] = tn_qmap_quantize(code, x[j]) for j < n <= 256, searched in lockstep; simd: the
 * AVX2 build of the loops (only when tr_use_simd()). */
void tr_quantize_many(bool simd, const float code[256], const float *x, size_t n, uint8_t *out);

/* The 8-bit block kernels, all giving the same bits: the reference binary search (also the
 * fallback for maps without a table; NEWT_BNB_QUANT=search selects it, for comparisons), the
 * table lookup in portable C (NEWT_SIMD=portable), and the table lookup with the whole block
 * in AVX-512 (CPUs with AVX-512F) or AVX2 (the others with AVX2 + FMA; NEWT_SIMD=avx2 picks
 * it on AVX-512 CPUs too). */
typedef enum { TR_BNB_SEARCH, TR_BNB_TABLE, TR_BNB_AVX2, TR_BNB_AVX512 } tr_bnb_kernel;

/* The scalars of one update (after o->step was advanced), computed once per step. */
typedef struct {
    bool simd;
    double lr;
    float neg_step_size, bc2_sqrt, eps, w1, b2, w2; /* adamw */
    float lr_f, c2, step_size;                      /* bnb */
    tr_bnb_kernel bnb;                              /* bnb 8-bit: how blocks are updated */
} tr_step_consts;

void tr_step_consts_init(const tr_optim *o, double lr, tr_step_consts *k);
void tr_bnb_consts(const tr_optim *o, double lr, tr_step_consts *k);
/* The update of elements [start, start + n) of parameter pi from the gradient values g[0..n)
 * (which need not be the parameter's gradient buffer: the fused step passes a prepared copy).
 * 8-bit bnb tensors: start on a 256-block boundary, n a multiple of 256 unless the range ends
 * the tensor. Every element is independent of the others' ranges, so any split into ranges
 * gives the same bits. */
void tr_step_range(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t start, size_t n,
                   const float *g);
/* Block blk (a full one) of 8-bit parameter pi by the AVX-512 kernel (optim_bnb_avx512.c) or
 * the AVX2 one (optim_bnb_avx2.c); false when it was not built in (then nothing is done). */
bool tr_bnb8_block_avx512(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t blk,
                          const float *gb);
bool tr_bnb8_block_avx2(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t blk,
                        const float *gb);
/* The AVX-512 lookup of x[0..n) (n a multiple of 16), for tests; false (nothing done) where
 * the CPU or the build lacks AVX-512F. */
bool tr_qtable_quantize_avx512(const tr_qtable *t, const float *x, size_t n, uint8_t *out);
bool tr_qtable_quantize_avx2(const tr_qtable *t, const float *x, size_t n, uint8_t *out); /* n % 8 == 0 */
void tr_bnb_apply(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t start, size_t n,
                  const float *g);

/* Sum of squares in a fixed order, so that the norm pass and the fused step (which meets the
 * values 1024 at a time) give the same bits: element j of a run goes to lane j % 8 of acc,
 * each square (exact in double) added in element order; a run continues an earlier one when
 * that one's length was a multiple of 8. tr_sumsq_total adds the lanes in a fixed tree. */
#define TR_SUMSQ_LANES 8
void tr_sumsq_lanes(bool simd, double acc[TR_SUMSQ_LANES], const float *x, size_t n);
double tr_sumsq_total(const double acc[TR_SUMSQ_LANES]);
/* From the per-chunk sums in o->partial: per-parameter norms into o->norms and the total. */
float tr_norm_from_partials(tr_optim *o);
/* clip_grad_norm_'s coefficient for a total norm: min(max_norm / (total + 1e-6), 1) in f32. */
float tr_clip_coef(float total, double max_norm);

#endif
