/* Private to src/model/m4_lora*.c: the adapter set attached to a model. */
#ifndef NEWT_MODEL_M4_LORA_INTERNAL_H
#define NEWT_MODEL_M4_LORA_INTERNAL_H

#include "model/m4_internal.h"
#include "model/m4_lora.h"

struct m4_lora {
    size_t n;                /* targets */
    tr_target *tg;           /* [n] copy of the tr_result's targets */
    int32_t *of_tensor;      /* [model tensors] target index or -1 */
    int32_t *tensor_of;      /* [n] model tensor index */
    int64_t *off;            /* [n] offset of A in p / g; B follows A */
    float *p, *g;            /* nf floats each */
    int64_t nf;
    m4_lora_tensor *t;       /* [2n] A, B per target */
    int64_t r;
    double scale, p_drop;
    uint64_t seed;
    int64_t step, micro;
    bool training;
};

#endif
