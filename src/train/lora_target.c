#include "train/lora_target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "train/lora_target_internal.h"

m4_naming tr_naming(const m4_config *cfg) {
    bool wrapper = cfg->has_vision ||
                   !strcmp(cfg->architecture, "Mistral3ForConditionalGeneration");
    return wrapper ? M4_NAMES_V5 : M4_NAMES_TEXT;
}

char *tr_default_regex(m4_naming naming) {
    const char *p = naming == M4_NAMES_TEXT ? "model\\.layers" : "model\\.language_model\\.layers";
    return nt_xasprintf("%s\\.\\d+\\.(self_attn\\.(q_a_proj|q_b_proj|q_proj|kv_a_proj_with_mqa|"
                        "kv_b_proj|o_proj)|mlp\\.shared_experts\\.(gate_proj|up_proj|down_proj))",
                        p);
}

void tr_warn(tr_result *r, char *msg) {
    r->warnings = nt_xrealloc(r->warnings, (r->n_warnings + 1) * sizeof *r->warnings);
    r->warnings[r->n_warnings++] = msg;
}

void tr_push_target(tr_result *r, const tr_target *t) {
    r->targets = nt_xrealloc(r->targets, (r->n + 1) * sizeof *r->targets);
    r->targets[r->n++] = *t;
    r->group_count[t->group]++;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_str(char **v, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s)) return true;
    return false;
}

/* The target_modules that go into the adapter config (and drive the matching). */
static nt_status effective_targets(const tr_table *t, const tr_spec *s, tr_result *r,
                                   nt_err *err) {
    if (s->modules_regex && (s->n_modules || s->target_linear))
        return nt_err_set(err, NT_EINVAL,
                          "lora_target_modules: a regex cannot be combined with a list or with "
                          "lora_target_linear");
    if (s->modules_regex) {
        r->modules_regex = nt_xstrdup(s->modules_regex);
        return NT_OK;
    }
    for (size_t i = 0; i < s->n_modules; i++)
        if (!has_str(r->modules, r->n_modules, s->modules[i])) {
            r->modules = nt_xrealloc(r->modules, (r->n_modules + 1) * sizeof *r->modules);
            r->modules[r->n_modules++] = nt_xstrdup(s->modules[i]);
        }
    if (s->target_linear) {
        /* axolotl: the last name part of every linear module, minus the output embedding. */
        size_t first = r->n_modules;
        for (size_t i = 0; i < t->n; i++) {
            if (!t->e[i].linear || t->e[i].group == M4_GROUP_LM_HEAD) continue;
            const char *last = strrchr(t->e[i].module, '.');
            last = last ? last + 1 : t->e[i].module;
            if (has_str(r->modules, r->n_modules, last)) continue;
            r->modules = nt_xrealloc(r->modules, (r->n_modules + 1) * sizeof *r->modules);
            r->modules[r->n_modules++] = nt_xstrdup(last);
        }
        qsort(r->modules + first, r->n_modules - first, sizeof *r->modules, cmp_str);
    }
    if (!r->n_modules && !s->n_parameters) {
        r->modules_regex = tr_default_regex(r->naming);
        r->defaulted = true;
    }
    return NT_OK;
}

/* What to use instead when a non-linear module is matched as a module target. */
static const char *not_linear_advice(const tr_entry *e) {
    switch (e->group) {
    case M4_GROUP_ROUTER: return "the MoE router is not nn.Linear: use lora_target_parameters "
                                 "[mlp.gate.weight]";
    case M4_GROUP_ROUTED_EXPERTS: return "the routed experts are fused parameters: use "
                                         "lora_target_parameters [mlp.experts.gate_up_proj, "
                                         "mlp.experts.down_proj]";
    case M4_GROUP_EMBED: return "LoRA on embeddings is not supported: train it in full with "
                                "lora_modules_to_save [embed_tokens]";
    default: return "only linear layers can be LoRA targets";
    }
}

typedef struct {
    tr_matcher target, exclude, layer;
    tr_matcher *save;
    size_t n_save;
    bool has_target, has_exclude, has_layer;
    const tr_spec *spec;
} matchers;

static void matchers_free(matchers *m) {
    if (m->has_target) tr_matcher_free(&m->target);
    if (m->has_exclude) tr_matcher_free(&m->exclude);
    if (m->has_layer) tr_matcher_free(&m->layer);
    for (size_t i = 0; i < m->n_save; i++) tr_matcher_free(&m->save[i]);
    free(m->save);
}

static nt_status matchers_init(matchers *m, const tr_spec *s, const tr_result *r, nt_err *err) {
    memset(m, 0, sizeof *m);
    m->spec = s;
    if (s->n_layers && r->modules_regex)
        return nt_err_set(err, NT_EINVAL,
                          "peft_layers_to_transform cannot be used with a regex "
                          "lora_target_modules (PEFT refuses it); give a list");
    nt_status st = NT_OK;
    if (s->n_layers) {
        /* PEFT's layer-index rule; group 1 is the index. */
        st = tr_matcher_regex(&m->layer, ".*?\\.[^.]*\\.(\\d+)\\.", false,
                              "layers_to_transform", err);
        if (st) return st;
        m->has_layer = true;
    }
    m->save = nt_xcalloc(s->n_modules_to_save + 1, sizeof *m->save);
    for (size_t i = 0; i < s->n_modules_to_save && !st; i++) {
        char *pat = nt_xasprintf("(^|.*\\.)%s($|\\..*)", s->modules_to_save[i]);
        st = tr_matcher_regex(&m->save[i], pat, false, "lora_modules_to_save", err);
        if (!st) m->n_save++;
        free(pat);
    }
    if (!st && (s->exclude_regex || s->n_exclude)) {
        m->has_exclude = true;
        if (s->exclude_regex)
            st = tr_matcher_regex(&m->exclude, s->exclude_regex, true, "exclude_modules", err);
        else
            tr_matcher_list(&m->exclude, s->exclude, s->n_exclude);
        if (st) m->has_exclude = false;
    }
    if (!st && (r->modules_regex || r->n_modules)) {
        m->has_target = true;
        if (r->modules_regex)
            st = tr_matcher_regex(&m->target, r->modules_regex, true, "lora_target_modules", err);
        else
            tr_matcher_list(&m->target, (const char *const *)r->modules, r->n_modules);
        if (st) m->has_target = false;
    }
    if (st) matchers_free(m);
    return st;
}

static bool layer_selected(matchers *m, const char *module) {
    if (!m->has_layer) return true;
    int rc = pcre2_match(m->layer.re, (PCRE2_SPTR)module, strlen(module), 0, 0, m->layer.md,
                         NULL);
    if (rc < 2) return false; /* no layer index: PEFT does not target it */
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->layer.md);
    int64_t idx = strtoll(module + ov[2], NULL, 10);
    for (size_t i = 0; i < m->spec->n_layers; i++)
        if (m->spec->layers[i] == idx) return true;
    return false;
}

static bool in_modules_to_save(matchers *m, const char *module) {
    for (size_t i = 0; i < m->n_save; i++)
        if (tr_matcher_test(&m->save[i], module)) return true;
    return false;
}

static nt_status match_modules(const tr_table *t, matchers *m, tr_result *r, nt_err *err) {
    for (size_t i = 0; i < t->n; i++) {
        const tr_entry *e = &t->e[i];
        if (i && !strcmp(t->e[i - 1].module, e->module)) continue; /* experts: 2 tensors */
        /* Tested first so that an entry counts as matching even when every module it
         * names is then excluded or saved in full (that is not a typo in the entry). */
        if (!m->has_target || !tr_matcher_test(&m->target, e->module)) continue;
        if (m->has_exclude && tr_matcher_test(&m->exclude, e->module)) continue;
        if (in_modules_to_save(m, e->module)) continue;
        if (!layer_selected(m, e->module)) continue;
        if (!e->linear)
            return nt_err_set(err, NT_EUNSUPPORTED,
                              "lora_target_modules matches '%s', which is not a linear layer (%s)",
                              e->module, not_linear_advice(e));
        tr_target tg = {.kind = TR_MODULE, .in = e->shape[1], .out = e->shape[0], .experts = 1};
        snprintf(tg.name, sizeof tg.name, "%s", e->module);
        snprintf(tg.module, sizeof tg.module, "%s", e->module);
        tg.group = tr_group_for(e->module, e->group);
        tr_push_target(r, &tg);
    }
    return NT_OK;
}

static bool user_entry(const tr_spec *s, const char *name) {
    for (size_t i = 0; i < s->n_modules; i++)
        if (!strcmp(s->modules[i], name)) return true;
    return false;
}

/* Only the user's own entries are checked: target_linear's names all exist by construction. */
static nt_status check_unmatched(const matchers *m, const tr_spec *s, const tr_result *r,
                                 nt_err *err) {
    if (!m->has_target) return NT_OK;
    if (r->modules_regex && !m->target.total)
        return nt_err_set(err, NT_EINVAL,
                          "lora_target_modules: the regex '%s' matches no linear module of this "
                          "model (it must match the whole name, e.g. '%s')",
                          r->modules_regex,
                          r->naming == M4_NAMES_TEXT ? "model.layers.0.self_attn.o_proj"
                                                     : "model.language_model.layers.0.self_attn.o_proj");
    for (size_t i = 0; i < m->target.n; i++)
        if (!m->target.hits[i] && user_entry(s, m->target.list[i]))
            return nt_err_set(err, NT_EINVAL,
                              "lora_target_modules: '%s' matches no module of this model",
                              m->target.list[i]);
    return NT_OK;
}

nt_status tr_resolve(const m4_config *cfg, const tr_spec *spec, tr_result *out, nt_err *err) {
    memset(out, 0, sizeof *out);
    out->naming = tr_naming(cfg);
    tr_table t;
    tr_table_build(cfg, out->naming, &t);
    matchers m;
    nt_status st = effective_targets(&t, spec, out, err);
    if (!st) st = matchers_init(&m, spec, out, err);
    if (!st) {
        st = match_modules(&t, &m, out, err);
        if (!st) st = check_unmatched(&m, spec, out, err);
        matchers_free(&m);
    }
    if (!st) st = tr_resolve_params(&t, spec, out, err);
    if (!st) st = tr_resolve_saved(&t, spec, out, err);
    if (!st && (spec->modules_regex || spec->n_modules)) tr_coverage_warning(&t, out);
    if (!st && !out->n && !out->n_saved)
        st = nt_err_set(err, NT_EINVAL, "no LoRA target left (everything was excluded)");
    tr_table_free(&t);
    if (st) tr_result_free(out);
    return st;
}

void tr_result_free(tr_result *r) {
    free(r->targets);
    free(r->saved);
    free(r->modules_regex);
    for (size_t i = 0; i < r->n_modules; i++) free(r->modules[i]);
    free(r->modules);
    for (size_t i = 0; i < r->n_warnings; i++) free(r->warnings[i]);
    free(r->warnings);
    memset(r, 0, sizeof *r);
}
