/* adapter_config.json and README.md of a PEFT adapter. */
#include <string.h>

#include "base/mem.h"
#include "export/peft.h"
#include "formats/json.h"
#include <stdlib.h>

static val *str_list(const char *const *v, size_t n) {
    val *l = val_list();
    for (size_t i = 0; i < n; i++) val_list_push(l, val_str(v[i]));
    return l;
}

static val *str_or_null(const char *s) { return s ? val_str(s) : val_null(); }

/* The key set PEFT 0.19.1 writes for LoRA (formats.md §1.2), in its alphabetical order;
 * keys newt never sets keep PEFT's defaults. */
val *ex_adapter_config(const tr_result *res, const ex_peft_config *c) {
    val *d = val_dict();
    static const char *nulls[] = {"alora_invocation_tokens", "arrow_config", "auto_mapping",
                                  "corda_config", "eva_config", "layer_replication",
                                  "layers_pattern", "lora_ga_config",
                                  "megatron_config", "revision", "trainable_token_indices",
                                  "use_bdlora"};
    for (size_t i = 0; i < sizeof nulls / sizeof *nulls; i++) val_dict_set(d, nulls[i], val_null());
    val_dict_set(d, "alpha_pattern", val_dict());
    val_dict_set(d, "base_model_name_or_path", str_or_null(c->base_model));
    val_dict_set(d, "bias", val_str("none"));
    val_dict_set(d, "ensure_weight_tying", val_bool(false));
    val_dict_set(d, "exclude_modules",
                 c->exclude_regex ? val_str(c->exclude_regex)
                 : c->n_exclude   ? str_list(c->exclude, c->n_exclude)
                                  : val_null());
    val_dict_set(d, "fan_in_fan_out", val_bool(false));
    val_dict_set(d, "inference_mode", val_bool(true)); /* PEFT forces it on save */
    val_dict_set(d, "init_lora_weights", val_bool(true));
    val *layers = val_null();
    if (c->n_layers_to_transform) {
        val_unref(layers);
        layers = val_list();
        for (size_t i = 0; i < c->n_layers_to_transform; i++)
            val_list_push(layers, val_int(c->layers_to_transform[i]));
    }
    val_dict_set(d, "layers_to_transform", layers);
    val_dict_set(d, "loftq_config", val_dict());
    val_dict_set(d, "lora_alpha", val_int(c->lora_alpha));
    val_dict_set(d, "lora_bias", val_bool(false));
    val_dict_set(d, "lora_dropout", val_float(c->lora_dropout));
    val_dict_set(d, "megatron_core", val_str("megatron.core"));
    val_dict_set(d, "modules_to_save", c->n_modules_to_save
                                           ? str_list(c->modules_to_save, c->n_modules_to_save)
                                           : val_null());
    val_dict_set(d, "peft_type", val_str("LORA"));
    val_dict_set(d, "peft_version", val_str(EX_PEFT_VERSION));
    val_dict_set(d, "qalora_group_size", val_int(16));
    val_dict_set(d, "r", val_int(c->r));
    val_dict_set(d, "rank_pattern", val_dict());
    /* PEFT writes [] when only target_parameters are given (target_modules=None → set()). */
    val_dict_set(d, "target_modules",
                 res->modules_regex
                     ? val_str(res->modules_regex)
                     : str_list((const char *const *)res->modules, res->n_modules));
    val_dict_set(d, "target_parameters",
                 c->n_target_parameters ? str_list(c->target_parameters, c->n_target_parameters)
                                        : val_null());
    val_dict_set(d, "task_type", val_str("CAUSAL_LM"));
    val_dict_set(d, "use_dora", val_bool(false));
    val_dict_set(d, "use_qalora", val_bool(false));
    val_dict_set(d, "use_rslora", val_bool(c->use_rslora));
    return d;
}

char *ex_adapter_config_json(const tr_result *res, const ex_peft_config *c) {
    val *d = ex_adapter_config(res, c);
    json_opts o = {.indent = 2, .ensure_ascii = true, .sort_keys = true};
    char *s = json_dumps(d, &o, NULL);
    val_unref(d);
    return s;
}

char *ex_model_card(const tr_result *res, const ex_peft_config *c, const ex_metric *m,
                    size_t n_metrics) {
    const char *base = c->base_model ? c->base_model : "unknown";
    nt_buf b = {0};
    nt_buf_printf(&b,
                  "---\nbase_model: %s\nlibrary_name: peft\npipeline_tag: text-generation\n"
                  "tags:\n- base_model:adapter:%s\n- lora\n- transformers\n---\n\n",
                  base, base);
    nt_buf_printf(&b, "# LoRA adapter for %s\n\nTrained with newt.\n\n## LoRA settings\n\n", base);
    nt_buf_printf(&b, "- r: %lld\n- lora_alpha: %lld\n- lora_dropout: %g\n- use_rslora: %s\n",
                  (long long)c->r, (long long)c->lora_alpha, c->lora_dropout,
                  c->use_rslora ? "true" : "false");
    if (res->modules_regex) nt_buf_printf(&b, "- target_modules: `%s`\n", res->modules_regex);
    for (size_t i = 0; i < res->n_modules; i++)
        nt_buf_printf(&b, "%s`%s`%s", i ? ", " : "- target_modules: ", res->modules[i],
                      i + 1 == res->n_modules ? "\n" : "");
    for (size_t i = 0; i < c->n_target_parameters; i++)
        nt_buf_printf(&b, "%s`%s`%s", i ? ", " : "- target_parameters: ", c->target_parameters[i],
                      i + 1 == c->n_target_parameters ? "\n" : "");
    char *summary = tr_summary(res, c->r);
    nt_buf_printf(&b, "\n## Targets\n\n```\n%s```\n", summary);
    free(summary);
    if (n_metrics) {
        nt_buf_puts(&b, "\n## Final metrics\n\n");
        for (size_t i = 0; i < n_metrics; i++)
            nt_buf_printf(&b, "- %s: %.6g\n", m[i].name, m[i].value);
    }
    nt_buf_puts(&b, "\n### Framework versions\n\n- PEFT " EX_PEFT_VERSION "\n");
    return nt_buf_take(&b, NULL);
}
