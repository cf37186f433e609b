/* Loading the text model's weights from a Mistral Small 4 family checkpoint.
 *
 * A checkpoint is a folder with config.json and safetensors (one file, shards + index, or
 * consolidated). Three naming layouts exist (model/m4_names.h); the loader detects which one
 * from where embed_tokens.weight lives and lets callers ask for a tensor by its canonical
 * text-model name, the name inside Mistral4Model without prefix:
 *   "embed_tokens.weight", "layers.3.self_attn.q_a_proj.weight",
 *   "layers.0.mlp.experts.gate_up_proj", "norm.weight", "lm_head.weight".
 *
 * Opening validates the whole checkpoint against m4_enum_tensors: every expected text tensor
 * present with its exact shape and a float dtype (F32, BF16, F16, or F8_E4M3 with its scale);
 * anything else is an error naming the tensor, except vision tower / projector tensors (skipped
 * for text-only use) and FP8 activation_scale tensors (only used by FP8 inference kernels),
 * which are counted in m4_load_stats.
 *
 * Conversion to f32 is exact: F32 copies, BF16/F16 widen, F8_E4M3 is f32(fp8) * scale with the
 * product rounded once in f32 (the checkpoint's weight_scale_inv: a scalar per linear layer,
 * [E,1,1] per expert for the fused expert tensors, named X_scale_inv). */
#ifndef NEWT_MODEL_M4_LOAD_H
#define NEWT_MODEL_M4_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "formats/safetensors.h"
#include "model/m4_config.h"
#include "model/m4_names.h"
#include "tensor/dtype.h"
#include "tensor/nf4.h"

typedef struct m4_weights m4_weights;

typedef struct {
    size_t text;              /* expected text-model tensors found (lm_head counted if untied) */
    size_t fp8;               /* of those, stored as F8_E4M3 */
    size_t scales;            /* weight_scale_inv / *_scale_inv tensors used */
    size_t skipped_vision;    /* vision_tower.* / multi_modal_projector.* tensors skipped */
    size_t ignored_activation_scales;
} m4_load_stats;

/* dir: a model folder (config.json + weights). Errors name the file and tensor at fault. */
nt_status m4_weights_open(const char *dir, m4_weights **out, nt_err *err);
/* Explicit config.json path and weights path (anything st_model_open accepts). */
nt_status m4_weights_open_paths(const char *config_path, const char *weights_path,
                                m4_weights **out, nt_err *err);
void m4_weights_close(m4_weights *w);

const m4_config *m4_weights_config(const m4_weights *w);
m4_naming m4_weights_layout(const m4_weights *w);
const char *m4_layout_name(m4_naming n); /* "text-only", "transformers-v5", "legacy" */
const m4_load_stats *m4_weights_stats(const m4_weights *w);
const st_model *m4_weights_model(const m4_weights *w);

/* Writes the checkpoint name of a canonical name into buf (e.g. "layers.0.mlp.gate.weight" ->
 * "language_model.model.layers.0.mlp.gate.weight" in the legacy layout). With tied
 * embeddings "lm_head.weight" resolves to the embedding. Returns the tensor, or NULL (with
 * err set, NT_ENOTFOUND naming both names) when the checkpoint has no such tensor. */
const st_tensor *m4_weights_find(const m4_weights *w, const char *canon, nt_err *err);

/* Shape and element count of a canonical tensor. */
nt_status m4_weights_shape(const m4_weights *w, const char *canon, int *ndim, int64_t shape[4],
                           size_t *numel, nt_err *err);

/* Loads the whole tensor as f32 into dst (numel floats; numel must equal the tensor's). */
nt_status m4_load_f32(const m4_weights *w, const char *canon, float *dst, size_t numel,
                      nt_err *err);
/* Elements [start, start + count) of the row-major flattened tensor, as f32: a slice (one
 * expert, a block of rows) without converting the rest. */
nt_status m4_load_f32_range(const m4_weights *w, const char *canon, size_t start, size_t count,
                            float *dst, nt_err *err);

/* A frozen weight kept in a compact storage dtype. */
typedef struct {
    tn_dtype dtype;   /* TN_F32, TN_BF16 or TN_NF4 */
    int ndim;
    int64_t shape[4];
    size_t numel;
    void *data;       /* F32: float[numel]; BF16: uint16_t[numel]; NF4: NULL (see nf4) */
    tn_nf4 nf4;       /* NF4: blocksize 64, no double quant; dtype = the checkpoint's */
} m4_stored;

/* Loads a tensor into storage dtype dt: F32 exact; BF16 by round-to-nearest-even from the exact
 * f32 value (exact when the checkpoint is BF16); NF4 by tn_nf4_quantize of the exact f32 value.
 * Free with m4_stored_free. */
nt_status m4_load_stored(const m4_weights *w, const char *canon, tn_dtype dt, m4_stored *out,
                         nt_err *err);
void m4_stored_free(m4_stored *s);

#endif
