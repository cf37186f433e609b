/* Rules that involve more than one key (axolotl's validators that already mean something
 * for newt). Each rule is a row; the message names both keys. */
#include <stdio.h>
#include <string.h>

#include "config/config.h"

typedef struct {
    const char *a, *b;
} cfg_exclusive;

/* Pairs of keys that must not both be set. */
static const cfg_exclusive exclusive[] = {
    {"warmup_steps", "warmup_ratio"},
    {"save_steps", "saves_per_epoch"},
    {"eval_steps", "evals_per_epoch"},
    {"test_datasets", "val_set_size"},
    {"load_in_4bit", "load_in_8bit"},
};

/* "Set" for the exclusivity rules: present and not the neutral value (false, 0). */
static bool is_active(const cfg *c, const char *key) {
    const val *v = cfg_get(c, key);
    if (!v || v->kind == VAL_NULL) return false;
    if (v->kind == VAL_BOOL) return v->u.b;
    if (val_is_number(v)) return val_to_double(v) != 0;
    return true;
}

static nt_status check_exclusive(const cfg *c, nt_err *err) {
    for (size_t i = 0; i < sizeof exclusive / sizeof *exclusive; i++)
        if (is_active(c, exclusive[i].a) && is_active(c, exclusive[i].b))
            return nt_err_set(err, NT_EINVAL, "%s and %s cannot both be set (%s)", exclusive[i].a,
                              exclusive[i].b, c->path);
    return NT_OK;
}

static nt_status check_adapter(const cfg *c, nt_err *err) {
    const char *adapter = cfg_get_str(c, "adapter");
    bool q4 = cfg_get_bool(c, "load_in_4bit"), q8 = cfg_get_bool(c, "load_in_8bit");
    if ((q4 || q8) && !adapter)
        return nt_err_set(err, NT_EINVAL, "%s: quantized loading needs an adapter (adapter: lora or "
                          "qlora) (%s)", q4 ? "load_in_4bit" : "load_in_8bit", c->path);
    if (adapter && !strcmp(adapter, "qlora") && !q4)
        return nt_err_set(err, NT_EINVAL, "adapter: qlora needs load_in_4bit: true (%s)", c->path);
    if (adapter && !strcmp(adapter, "lora") && q4) /* a 4-bit base is what qlora means */
        return nt_err_set(err, NT_EINVAL, "load_in_4bit: true with adapter: lora; use adapter: qlora for a "
                          "4-bit base (%s)", c->path);
    /* LoRA keys without an adapter would silently train every weight instead */
    static const char *const lora_keys[] = {"lora_target_modules", "lora_target_linear", "lora_target_parameters",
                                            "lora_modules_to_save"};
    for (size_t i = 0; !adapter && i < sizeof lora_keys / sizeof *lora_keys; i++)
        if (is_active(c, lora_keys[i]))
            return nt_err_set(err, NT_EINVAL, "%s: set without adapter (a full fine-tune); set adapter: lora or "
                              "qlora, or remove it (%s)", lora_keys[i], c->path);
    return NT_OK;
}

/* PEFT's parameter-level LoRA (experts) has no dropout path. */
static nt_status check_target_parameters(const cfg *c, nt_err *err) {
    if (is_active(c, "lora_target_parameters") && cfg_get_float(c, "lora_dropout") != 0)
        return nt_err_set(err, NT_EINVAL, "lora_dropout: must be 0 when lora_target_parameters is "
                          "set, got %g (%s)", cfg_get_float(c, "lora_dropout"), c->path);
    return NT_OK;
}

static nt_status check_jinja(const cfg *c, nt_err *err) {
    const char *t = cfg_get_str(c, "chat_template");
    if (t && !strcmp(t, "jinja") && !cfg_is_set(c, "chat_template_jinja"))
        return nt_err_set(err, NT_EINVAL, "chat_template: jinja needs chat_template_jinja (%s)", c->path);
    return NT_OK;
}

typedef nt_status (*cfg_rule)(const cfg *c, nt_err *err);

static const cfg_rule rules[] = {check_exclusive, check_adapter, check_target_parameters, check_jinja};

nt_status cfg_check_cross(const cfg *c, nt_err *err) {
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        nt_status st = rules[i](c, err);
        if (st) return st;
    }
    return NT_OK;
}
