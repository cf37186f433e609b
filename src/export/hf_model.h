/* Full models in Hugging Face layout (formats.md §9) and the LoRA merge math (§10).
 *
 * ex_save_model writes dir/config.json (the input config with `dtype`, transformers v5's
 * key, set to the saved dtype and v4's `torch_dtype` removed), dir/generation_config.json
 * (bos/eos/pad ids from the config) — both json.dumps(indent=2, sort_keys=True) + "\n" as
 * transformers writes them — and the weights: one model.safetensors, or above the shard
 * limit model-0000i-of-0000n.safetensors plus model.safetensors.index.json (the shard
 * split and index of st_writer_save_sharded). Weights are f32 in memory and saved as F32 or
 * BF16 (round to nearest even), converted chunk by chunk while writing. */
#ifndef NEWT_EXPORT_HF_MODEL_H
#define NEWT_EXPORT_HF_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "formats/safetensors.h"
#include "value/value.h"

#define EX_DEFAULT_SHARD_BYTES 50000000000ull /* transformers v5: max_shard_size "50GB" */

typedef struct {
    const char *name;
    int ndim;
    int64_t shape[4];
    const float *data;   /* borrowed until ex_save_model returns */
} ex_tensor;

typedef struct {
    st_dtype dtype;              /* ST_F32 or ST_BF16 */
    uint64_t max_shard_bytes;    /* 0: EX_DEFAULT_SHARD_BYTES */
} ex_save_opts;

/* config.json content: a copy of config with dtype set ("float32" / "bfloat16"), also in
 * text_config / vision_config when they carry a dtype. New reference. */
val *ex_model_config(const val *config, st_dtype dtype);
/* generation_config.json content: {"_from_model_config": true, bos/eos/pad ids found at the
 * top level or in text_config, "transformers_version" when the config has one}. */
val *ex_generation_config(const val *config);

nt_status ex_save_model(const char *dir, const val *config, const ex_tensor *t, size_t n,
                        const ex_save_opts *o, nt_err *err);

/* LoRA scale: alpha / r, or alpha / √r with rsLoRA (r = the per-expert rank). */
double ex_lora_scale(int64_t alpha, int64_t r, bool rslora);

/* W += s · B_e @ A_e for each of E experts (E = 1: a plain linear [out, in]). W is
 * [E, out, in]; A is [r·E, in] with A_e = rows e·r .. e·r+r−1; B is [out, r·E] with
 * B_e[:, k] = B[:, k·E + e] (PEFT's ParamWrapper layout, formats.md §2.2). */
void ex_merge_lora(float *W, int64_t E, int64_t out, int64_t in, const float *A,
                   const float *B, int64_t r, double s);

#endif
