/* The loop's model: base_model loaded with the policy the adapter asks for (full fine-tune:
 * everything trainable in f32; lora: base frozen, linear weights bf16 with `bf16: true`;
 * qlora: frozen linear weights NF4 with double quantization, fused experts too only with
 * quantize_moe_experts), the optimizer over the trainable tensors, and the start summary. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "formats/json.h"
#include "data/ds_opts.h"
#include "model/m4_load.h"
#include "model/m4_lora.h"
#include "train/step.h"
#include "train/trainer_internal.h"

static bool is_expert_weight(const char *name) { return strstr(name, "mlp.experts.") != NULL; }

/* The text-layout index of a modules_to_save tensor (its name may use the wrapper's
 * `model.language_model.` prefix). */
int64_t tr_model_find_saved(const m4_model *m, const char *name) {
    int64_t i = m4_model_find_param(m, name);
    const char *pre = "model.language_model.";
    if (i < 0 && !strncmp(name, pre, strlen(pre))) {
        char *alt = nt_xasprintf("model.%s", name + strlen(pre));
        i = m4_model_find_param(m, alt);
        free(alt);
    }
    return i;
}

static nt_status apply_adapter_policy(tr_ctx *x, nt_err *err) {
    bool qlora = !strcmp(x->adapter, "qlora"), bf16 = cfg_get_bool(x->c, "bf16");
    bool q_experts = cfg_get_bool(x->c, "quantize_moe_experts");
    size_t n = m4_model_num_params(x->model);
    m4_param_policy *pol = nt_xcalloc(n, sizeof *pol);
    for (size_t i = 0; i < n; i++) {
        const char *name = m4_model_param(x->model, i)->name;
        tn_dtype dt = TN_F32;
        if (m4_model_is_linear_weight(x->model, i)) {
            if (qlora && (q_experts || !is_expert_weight(name))) dt = TN_NF4;
            else if (bf16) dt = TN_BF16;
        }
        pol[i] = (m4_param_policy){.trainable = false, .storage = dt, .double_quant = dt == TN_NF4};
    }
    nt_status rc = NT_OK;
    for (size_t k = 0; k < x->targets.n_saved && !rc; k++) {
        int64_t i = tr_model_find_saved(x->model, x->targets.saved[k].name);
        if (i < 0) rc = nt_err_set(err, NT_EINVAL, "lora_modules_to_save: no tensor %s in the model", x->targets.saved[k].name);
        else pol[i] = (m4_param_policy){.trainable = true, .storage = TN_F32};
    }
    if (!rc) rc = m4_model_apply_policy(x->model, pol, err);
    free(pol);
    return rc;
}

/* PEFT's adapters at every resolved target (model/m4_lora.h): A from the seed, B = 0. */
static nt_status attach_lora(tr_ctx *x, nt_err *err) {
    if (!x->targets.n) return NT_OK;
    int64_t r = cfg_get_int(x->c, "lora_r");
    if (r < 1) return nt_err_set(err, NT_EINVAL, "lora_r: adapter %s needs lora_r >= 1", x->adapter);
    m4_lora_opts o = {.r = r, .alpha = cfg_is_set(x->c, "lora_alpha") ? cfg_get_float(x->c, "lora_alpha") : (double)r,
                      .use_rslora = cfg_get_bool(x->c, "peft_use_rslora"),
                      .dropout = cfg_get_float(x->c, "lora_dropout"),
                      .seed = cfg_is_set(x->c, "seed") ? (uint64_t)cfg_get_int(x->c, "seed") : DS_DEFAULT_SEED};
    return m4_lora_attach(x->model, &x->targets, &o, err);
}

static nt_status resolve_targets(tr_ctx *x, nt_err *err) {
    if (tr_spec_from_cfg(x->c, &x->spec, err)) return err->code;
    if (tr_resolve(&x->mcfg, &x->spec.spec, &x->targets, err)) return err->code;
    x->have_targets = true;
    return NT_OK;
}

static nt_status open_base(tr_ctx *x, m4_weights **w, nt_err *err) {
    const char *base = cfg_get_str(x->c, "base_model");
    if (!base || !nt_is_dir(base))
        return nt_err_set(err, NT_ENOTFOUND, "base_model: '%s' is not a model folder (config.json + safetensors); "
                          "Hugging Face ids need a download (not available offline)", base ? base : "");
    x->base_dir = nt_xstrdup(base);
    char *cj = nt_path_join(base, "config.json");
    nt_status rc = json_parse_file(cj, &x->model_json, err);
    free(cj);
    if (!rc) rc = m4_weights_open(base, w, err);
    if (rc) return nt_err_prefix(err, "base_model: ");
    x->mcfg = *m4_weights_config(*w);
    return NT_OK;
}

nt_status tr_model_load(tr_ctx *x, nt_err *err) {
    m4_weights *w = NULL;
    nt_status rc = open_base(x, &w, err);
    /* "offload" / "offload_disk" keep the recomputation; offloading itself is not done on CPU */
    m4_options mo = {.checkpointing = cfg_get_bool(x->c, "gradient_checkpointing") || cfg_get_str(x->c, "gradient_checkpointing"),
                     .loss_sum = true};
    if (!rc) rc = m4_model_new(&x->mcfg.text, &mo, &x->model, err);
    if (!rc && x->adapter) rc = resolve_targets(x, err);
    if (!rc && x->adapter) rc = apply_adapter_policy(x, err);
    if (!rc) rc = m4_model_load(x->model, w, err);
    if (!rc && x->adapter) rc = attach_lora(x, err);
    if (!rc) rc = m4_model_alloc_grads(x->model, err);
    m4_weights_close(w);
    return rc;
}

/* optimizer_in_backward: auto (the default) applies the update in the backward whenever that
 * is exact (train/step.h); true insists (an error names what stands in the way); false never. */
nt_status tr_optim_build(tr_ctx *x, nt_err *err) {
    const char *mode = cfg_get_str(x->c, "optimizer_in_backward"); /* "auto", or NULL for a bool */
    bool want = mode || cfg_get_bool(x->c, "optimizer_in_backward");
    bool exact = tr_step_inbwd_exact(x->model, x->to.max_grad_norm, x->accum);
    if (!mode && want && !exact)
        return nt_err_set(err, NT_EINVAL,
                          "optimizer_in_backward: true needs every update to be known from its own gradient: "
                          "max_grad_norm: 0 (no clipping), gradient_accumulation_steps: 1 and no adapter "
                          "(have max_grad_norm %g, gradient_accumulation_steps %lld%s)",
                          x->to.max_grad_norm, (long long)x->accum, x->adapter ? ", adapter" : "");
    if (want && exact)
        return tr_step_inbwd_new(x->model, &x->to.optim, x->to.weight_decay, &x->inbwd, &x->opt, err);
    return tr_step_optim_new(x->model, &x->to.optim, x->to.weight_decay, &x->opt, err);
}

void tr_model_summary(const tr_ctx *x, FILE *out) {
    m4_param_report r;
    m4_model_report(x->model, &r);
    int64_t total = m4_model_num_floats(x->model);
    int64_t lora = m4_lora_num_floats(x->model), train = r.trainable + lora;
    fprintf(out, "model             %s: %" PRId64 " parameters, %" PRId64 " trainable (%.2f%%)%s\n", x->base_dir,
            total, train, total ? 100.0 * (double)train / (double)total : 0.0, lora ? " incl. LoRA" : "");
    for (int d = 0; d < TN_DTYPE_COUNT; d++)
        if (r.count[d])
            fprintf(out, "  stored %-6s   %" PRId64 " parameters, %.3f bytes/parameter\n", tn_dtype_name((tn_dtype)d),
                    r.count[d], (double)r.bytes[d] / (double)r.count[d]);
    if (x->inbwd)
        fprintf(out, "  gradients       %.2f MiB at a time: the optimizer runs in the backward\n",
                (double)r.grad_bytes / 1048576.0);
    else
        fprintf(out, "  gradients       %.2f MiB\n", (double)r.grad_bytes / 1048576.0);
    if (x->have_targets) {
        char *s = tr_summary(&x->targets, cfg_get_int(x->c, "lora_r"));
        fprintf(out, "%s", s);
        free(s);
        for (size_t i = 0; i < x->targets.n_warnings; i++) fprintf(out, "warning: %s\n", x->targets.warnings[i]);
    }
}

void tr_model_free(tr_ctx *x) {
    tr_step_inbwd_free(x->inbwd);
    tr_optim_free(x->opt);
    m4_model_free(x->model);
    if (x->have_targets) tr_result_free(&x->targets);
    tr_spec_buf_free(&x->spec);
    val_unref(x->model_json);
    free(x->base_dir);
}
