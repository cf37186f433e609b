/* The targeting request of a training config (axolotl keys lora_target_modules,
 * lora_target_linear, lora_target_parameters, lora_modules_to_save, lora_dropout,
 * peft_layers_to_transform) as a tr_spec. */
#ifndef NEWT_TRAIN_LORA_SPEC_H
#define NEWT_TRAIN_LORA_SPEC_H

#include "config/config.h"
#include "train/lora_target.h"

typedef struct {
    tr_spec spec;          /* strings borrowed from the cfg: valid while it lives */
    const char **strs;     /* owned arrays behind spec's lists */
    int64_t *layers;
} tr_spec_buf;

/* Errors name the key ("lora_modules_to_save[1]: expected a string, got 3"). A string
 * lora_target_parameters is taken as a one-entry list (PEFT itself only accepts lists). */
nt_status tr_spec_from_cfg(const cfg *c, tr_spec_buf *out, nt_err *err);
void tr_spec_buf_free(tr_spec_buf *b);

#endif
