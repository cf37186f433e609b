/* Shared between m4_load.c (open, names), m4_load_check.c (validation) and m4_load_read.c
 * (conversion). Not a public interface. */
#ifndef NEWT_MODEL_M4_LOAD_INTERNAL_H
#define NEWT_MODEL_M4_LOAD_INTERNAL_H

#include <stdbool.h>

#include "model/m4_load.h"

struct m4_weights {
    m4_config cfg;
    st_model *model;
    m4_naming layout;
    m4_load_stats stats;
};

/* Checkpoint name of a canonical text-model name (see m4_weights_find). */
void m4w_full_name(const m4_weights *w, const char *canon, char *buf, size_t cap);
/* The float dtypes a weight may be stored in; false for anything else. */
bool m4w_tn_dtype(st_dtype d, tn_dtype *out);
/* Name of the FP8 scale of a weight: "X.weight" -> "X.weight_scale_inv", fused experts
 * "...experts.gate_up_proj" -> "...experts.gate_up_proj_scale_inv". */
void m4w_scale_name(const char *weight, char *buf, size_t cap);
/* Number of scales an FP8 weight has: E for a 3-D fused expert tensor, else 1. */
size_t m4w_scale_count(const st_tensor *t);
/* Reads the scales of an FP8 weight (already validated at open) into dst[m4w_scale_count]. */
nt_status m4w_read_scales(const m4_weights *w, const st_tensor *t, float *dst, nt_err *err);
/* Checks the checkpoint against m4_enum_tensors and fills w->stats. */
nt_status m4w_validate(m4_weights *w, nt_err *err);

#endif
