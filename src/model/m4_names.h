/* Checkpoint tensor names of the Mistral Small 4 family, in the three layouts found on disk:
 *   M4_NAMES_TEXT    text-only Mistral4ForCausalLM:        model.*, lm_head.*
 *   M4_NAMES_V5      transformers v5 wrapper state dict:   model.language_model.*, lm_head.*,
 *                    model.vision_tower.*, model.multi_modal_projector.*
 *   M4_NAMES_LEGACY  the release's on-disk wrapper names:  language_model.model.*,
 *                    language_model.lm_head.*, vision_tower.*, multi_modal_projector.*
 * The enumeration is the single source of truth for which tensors a config implies: the
 * loader checks checkpoints against it, `inspect` groups parameters with it, init-model and
 * tests generate checkpoints from it. */
#ifndef NEWT_MODEL_M4_NAMES_H
#define NEWT_MODEL_M4_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "model/m4_config.h"

typedef enum { M4_NAMES_TEXT, M4_NAMES_V5, M4_NAMES_LEGACY } m4_naming;

typedef enum {
    M4_GROUP_EMBED,
    M4_GROUP_LM_HEAD,
    M4_GROUP_NORM,
    M4_GROUP_ATTENTION,
    M4_GROUP_ROUTER,
    M4_GROUP_ROUTED_EXPERTS,
    M4_GROUP_SHARED_EXPERTS,
    M4_GROUP_DENSE_MLP,
    M4_GROUP_VISION,
    M4_GROUP_PROJECTOR,
    M4_GROUP_FP8_SCALE,   /* weight_scale_inv / activation_scale tensors of FP8 checkpoints */
    M4_GROUP_OTHER,
    M4_GROUP_COUNT
} m4_group;

const char *m4_group_name(m4_group g);

/* Classifies any tensor name of the family (any layout) into a group. */
m4_group m4_group_of(const char *name);

typedef struct {
    const char *name;  /* valid during the callback only */
    int ndim;
    int64_t shape[4];
    m4_group group;
    bool fp8;          /* stored as F8_E4M3 in an FP8 release (weights with scales) */
} m4_tensor_spec;

typedef void (*m4_tensor_cb)(const m4_tensor_spec *t, void *ud);

/* Calls cb for every tensor the config implies, in checkpoint order. With fp8_scales the FP8
 * release's scale tensors are included (per linear: weight_scale_inv and activation_scale
 * scalars; per fused expert tensor: [E,1,1] scale_inv and [E] activation_scale). */
void m4_enum_tensors(const m4_config *cfg, m4_naming naming, bool fp8_scales, m4_tensor_cb cb,
                     void *ud);

#endif
