/* A training/probe batch read from a safetensors file with the fixture conventions:
 * input_ids [B,T] (I32 or I64), optional labels [B,T] (same dtypes, -100 = ignored),
 * attention_mask [B,T] (I64/I32/U8/BOOL, nonzero = real token), position_ids [B,T]
 * (I64/I32; restarts at 0 mark packed samples). */
#ifndef NEWT_MODEL_M4_BATCH_H
#define NEWT_MODEL_M4_BATCH_H

#include "base/error.h"
#include "formats/safetensors.h"
#include "model/m4_model.h"

typedef struct {
    m4_batch b;        /* points into the buffers below */
    int32_t *ids, *labels;
    uint8_t *mask;
    int64_t *pos;
} m4_batch_buf;

/* Errors name the file and the tensor (wrong dtype, shape, out-of-range value). */
nt_status m4_batch_read(const st_file *f, m4_batch_buf *out, nt_err *err);
void m4_batch_buf_free(m4_batch_buf *bb);

#endif
