/* Vision fine-tuning is not in this release (docs/training.md, "Vision"): a config that asks
 * for it — a multimodal processor, batch-time preparation of image rows, the vision tower's
 * freezing or image sizes — fails at once with a message naming the key, instead of training
 * the text model on a dataset it cannot read or failing later on an unrelated key. */
#include "train/trainer_internal.h"

#define TR_VISION_LATER "vision fine-tuning lands in a later release; newt trains text only for now " \
                        "(remove it and use a text dataset, e.g. examples/mistral4/qlora-text.yml)"

nt_status tr_vision_check(const cfg *c, nt_err *err) {
    static const char *const keys[] = {"processor_type", "freeze_mm_modules", "image_size"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (cfg_is_set(c, keys[i]))
            return nt_err_set(err, NT_EUNSUPPORTED, "%s: asks for a vision model: " TR_VISION_LATER, keys[i]);
    if (cfg_get_bool(c, "skip_prepare_dataset"))
        return nt_err_set(err, NT_EUNSUPPORTED,
                          "skip_prepare_dataset: true prepares image rows at batch time (the multimodal path): "
                          TR_VISION_LATER);
    return NT_OK;
}
