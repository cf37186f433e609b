/* LoRA targeting: which modules and parameters of a Mistral Small 4 model an adapter covers.
 *
 * Names are the runtime module names transformers v5 gives the model (formats.md §1.4): a
 * text-only Mistral4ForCausalLM has `model.layers.N.self_attn.q_a_proj`, ...; the
 * Mistral3ForConditionalGeneration wrapper has `model.language_model.layers.N...`,
 * `model.vision_tower.transformer.layers.J...` and `model.multi_modal_projector...`. They are
 * enumerated from the config (m4_enum_tensors), never from a checkpoint.
 *
 * Matching follows PEFT 0.19.1 exactly (formats.md §1.3, §2.1):
 *   - exclude_modules: a string is a full regex match, a list an exact or `.`-suffix match;
 *   - modules named in modules_to_save (`(^|.*\.)NAME($|\..*)`) are never LoRA-wrapped;
 *   - target_modules as a string: full regex match (Python re.fullmatch; PCRE2 with both
 *     anchors); as a list: exact name or `.`-suffix match; target_linear: every linear but
 *     lm_head (what axolotl's lora_target_linear and PEFT's "all-linear" give);
 *   - layers_to_transform (with a list only) keeps modules of the listed layer indices;
 *   - target_parameters (list only): exact or `.`-suffix match on parameter keys
 *     `<module>.<param>`; only the fused experts and the router are parameter targets.
 * Diagnostics: an entry (or regex) that matches nothing is an error naming it; a non-linear
 * module (router, experts container, embeddings, norms) matched as a module is an error
 * that says what to use instead; a target set that covers only a small part of the text
 * projections (the axolotl example's regex hits only o_proj) produces a warning naming
 * what it missed. With no target at all, the default is every MLA projection and the shared
 * experts (as a full-match regex, so the adapter config records it). */
#ifndef NEWT_TRAIN_LORA_TARGET_H
#define NEWT_TRAIN_LORA_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/m4_config.h"
#include "model/m4_names.h"

typedef enum {
    TR_GROUP_Q_A, TR_GROUP_Q_B, TR_GROUP_Q, TR_GROUP_KV_A, TR_GROUP_KV_B, TR_GROUP_O,
    TR_GROUP_SHARED_EXPERTS, TR_GROUP_DENSE_MLP, TR_GROUP_ROUTED_EXPERTS, TR_GROUP_ROUTER,
    TR_GROUP_VISION, TR_GROUP_PROJECTOR, TR_GROUP_LM_HEAD,
    TR_GROUP_COUNT
} tr_group;

const char *tr_group_name(tr_group g); /* "attention q_a_proj", "shared experts", ... */

typedef enum { TR_MODULE, TR_PARAMETER } tr_kind;

typedef struct {
    char name[192];    /* module name (TR_MODULE) or parameter key (TR_PARAMETER) */
    char module[192];  /* the module that carries the LoRA tensors (`...mlp.experts`) */
    tr_kind kind;
    tr_group group;
    int64_t in, out;   /* per expert for 3-D parameters ([E, out, in], §2.2) */
    int64_t experts;   /* E for fused expert parameters, 1 otherwise */
    int nest;          /* `.base_layer` segments in the saved key (§2.3: gate_up_proj under
                          down_proj on the same experts module) */
} tr_target;

typedef struct {
    char name[192];    /* tensor name, e.g. model.language_model.embed_tokens.weight */
    int ndim;
    int64_t shape[3];
    int64_t numel;
} tr_saved;

/* What the user asked for (axolotl keys lora_target_modules, lora_target_linear,
 * lora_target_parameters, lora_modules_to_save, and PEFT's exclude_modules). Lists are
 * borrowed arrays of NUL-terminated strings. */
typedef struct {
    const char *modules_regex;            /* target_modules as a string, or NULL */
    const char *const *modules; size_t n_modules; /* target_modules as a list */
    bool target_linear;
    const char *exclude_regex;
    const char *const *exclude; size_t n_exclude;
    const char *const *parameters; size_t n_parameters;
    const char *const *modules_to_save; size_t n_modules_to_save;
    double lora_dropout;                  /* must be 0 with parameter targets (§2.1) */
    /* PEFT layers_to_transform (list target_modules only): a module is kept when its layer
     * index — the first number captured by `.*?\.[^.]*\.(\d+)\.` — is listed. */
    const int64_t *layers; size_t n_layers;
} tr_spec;

typedef struct {
    m4_naming naming;               /* M4_NAMES_TEXT or M4_NAMES_V5 */
    tr_target *targets; size_t n;   /* modules in model order, then parameters */
    tr_saved *saved; size_t n_saved;
    int64_t group_count[TR_GROUP_COUNT];
    /* target_modules as it goes into adapter_config.json: exactly one of these is set
     * (regex: the user's or the default; list: the user's, or the all-linear names). */
    char *modules_regex;
    char **modules; size_t n_modules;
    bool defaulted;                 /* no target was given: the Mistral 4 default regex */
    char **warnings; size_t n_warnings;
} tr_result;

/* The module naming transformers uses for this config: the wrapper's names for
 * Mistral3ForConditionalGeneration (or any config with a vision tower), else text-only. */
m4_naming tr_naming(const m4_config *cfg);

/* The default Mistral 4 target regex (MLA projections + shared experts) for a naming. */
char *tr_default_regex(m4_naming naming);

/* Resolves spec against the model's modules. Errors name the unmatched entry, the bad regex
 * (with PCRE2's message and offset) or the unsupported module. out is valid on success
 * only; free it with tr_result_free. */
nt_status tr_resolve(const m4_config *cfg, const tr_spec *spec, tr_result *out, nt_err *err);
void tr_result_free(tr_result *r);

/* Trainable parameters at rank r: r·(in+out) per module target, E·r·(in+out) per fused
 * expert parameter, plus the full modules_to_save tensors. rsLoRA changes only the scale,
 * never the count. by_group (optional, TR_GROUP_COUNT entries) receives the LoRA part per
 * group; *saved_out (optional) the modules_to_save part. */
int64_t tr_trainable_params(const tr_result *res, int64_t r, int64_t *by_group,
                            int64_t *saved_out);

/* A short multi-line summary: per-group target counts and trainable parameters. */
char *tr_summary(const tr_result *res, int64_t r);

#endif
