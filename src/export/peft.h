/* PEFT LoRA adapters as PEFT 0.19.1 writes them (formats.md §1, §2, §8.5): a folder with
 *   adapter_config.json        the LoraConfig, json.dumps(indent=2, sort_keys=True), no
 *                              trailing newline, the full 0.19.1 key set with defaults;
 *   adapter_model.safetensors  `base_model.model.<module>.lora_A.weight` [r·E, in] and
 *                              `.lora_B.weight` [out, r·E] (E = experts of a fused
 *                              parameter, 1 otherwise; `.base_layer` nesting §2.3), the
 *                              modules_to_save tensors in full, __metadata__ {"format": "pt"};
 *   README.md                  the model card: PEFT's front matter, then a summary.
 * Every file is written atomically. Adapter tensors are f32 in memory and saved as F32
 * (PEFT's default: it upcasts LoRA parameters) or BF16. */
#ifndef NEWT_EXPORT_PEFT_H
#define NEWT_EXPORT_PEFT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "formats/safetensors.h"
#include "train/lora_target.h"
#include "value/value.h"

#define EX_PEFT_VERSION "0.19.1"

typedef struct {
    const char *base_model;     /* base_model_name_or_path; NULL writes null */
    int64_t r, lora_alpha;
    double lora_dropout;
    bool use_rslora;
    /* Written as given (targets come from the tr_result). */
    const char *exclude_regex;
    const char *const *exclude; size_t n_exclude;
    const char *const *target_parameters; size_t n_target_parameters;
    const char *const *modules_to_save; size_t n_modules_to_save;
    const int64_t *layers_to_transform; size_t n_layers_to_transform; /* written as a list */
} ex_peft_config;

typedef struct {
    const char *name;           /* e.g. "train_loss" */
    double value;
} ex_metric;

/* The adapter_config.json dict (new reference). target_modules is the tr_result's regex
 * string or its list. */
val *ex_adapter_config(const tr_result *res, const ex_peft_config *c);
/* Its exact file text (heap string). */
char *ex_adapter_config_json(const tr_result *res, const ex_peft_config *c);

/* The saved key of a target's lora_A (which = 'A') or lora_B ('B'), e.g.
 * base_model.model.model.language_model.layers.0.mlp.experts.base_layer.lora_A.weight. */
char *ex_lora_key(const tr_target *t, char which);

/* Per target (in tr_result order): A [r·E, in], B [out, r·E], row-major f32. */
typedef struct {
    const float *A, *B;
} ex_lora_tensors;

typedef struct {
    const ex_lora_tensors *lora;   /* res->n entries */
    const float *const *saved;     /* res->n_saved entries: the modules_to_save tensors */
    st_dtype dtype;                /* ST_F32 or ST_BF16 */
    const ex_metric *metrics; size_t n_metrics;  /* for README.md */
} ex_adapter_data;

/* Writes adapter_config.json, adapter_model.safetensors and README.md into dir (created). */
nt_status ex_save_adapter(const char *dir, const tr_result *res, const ex_peft_config *c,
                          const ex_adapter_data *d, nt_err *err);

/* README.md text: PEFT's front matter (base_model, library_name, pipeline_tag, tags), then
 * the LoRA settings, the targets per group and the metrics. */
char *ex_model_card(const tr_result *res, const ex_peft_config *c, const ex_metric *m,
                    size_t n_metrics);

/* PEFT's init_lora_weights=true for one target: A ~ kaiming_uniform(a=√5) on [r·E, in],
 * which is U(-1/√in, +1/√in); B = 0. The stream is m4_rng (model/m4_init.h) keyed by
 * (seed, lora_A key), so a value depends only on the seed and the tensor's name; each
 * value is (float)(bound · (2u − 1)) with u = (next >> 11) · 2^-53. */
void ex_lora_init(const tr_target *t, int64_t r, uint64_t seed, float *A, float *B);

#endif
