/* Parameter targets (fused experts, router), modules_to_save, the coverage warning, counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "train/lora_target_internal.h"

static bool suffix_match(const char *key, const char *item) {
    size_t n = strlen(key), m = strlen(item);
    if (n == m) return !strcmp(key, item);
    return n > m && key[n - m - 1] == '.' && !strcmp(key + n - m, item);
}

static nt_status param_target(const tr_entry *e, tr_target *tg, nt_err *err) {
    memset(tg, 0, sizeof *tg);
    tg->kind = TR_PARAMETER;
    snprintf(tg->name, sizeof tg->name, "%s", e->tensor);
    snprintf(tg->module, sizeof tg->module, "%s", e->module);
    if (e->group == M4_GROUP_ROUTED_EXPERTS && e->ndim == 3) {
        /* [E, out, in] (transformers v5 layout; PEFT >= 0.19.1 swaps to in = d2, out = d1). */
        tg->experts = e->shape[0];
        tg->out = e->shape[1];
        tg->in = e->shape[2];
        tg->group = TR_GROUP_ROUTED_EXPERTS;
    } else if (e->group == M4_GROUP_ROUTER && e->ndim == 2) {
        tg->experts = 1;
        tg->out = e->shape[0];
        tg->in = e->shape[1];
        tg->group = TR_GROUP_ROUTER;
    } else {
        return nt_err_set(err, NT_EUNSUPPORTED,
                          "lora_target_parameters matches '%s': only the fused experts "
                          "(mlp.experts.gate_up_proj, mlp.experts.down_proj) and the router "
                          "(mlp.gate.weight) are parameter targets; use lora_target_modules "
                          "for linear layers",
                          e->tensor);
    }
    return NT_OK;
}

/* §2.3: a second targeted parameter of the same module wraps the first, which then sits
 * under `.base_layer`; the nesting follows definition order (= checkpoint order). */
static void set_nesting(tr_result *r, size_t first) {
    for (size_t i = first; i < r->n; i++)
        for (size_t j = i + 1; j < r->n; j++)
            if (!strcmp(r->targets[i].module, r->targets[j].module)) r->targets[i].nest++;
}

static void warn_single_expert_param(tr_result *r, size_t first) {
    bool gate_up = false, down = false;
    for (size_t i = first; i < r->n; i++) {
        const char *n = r->targets[i].name;
        size_t len = strlen(n);
        if (len > 13 && !strcmp(n + len - 13, ".gate_up_proj")) gate_up = true;
        if (len > 10 && !strcmp(n + len - 10, ".down_proj")) down = true;
    }
    if (gate_up != down)
        tr_warn(r, nt_xasprintf(
                       "lora_target_parameters targets only mlp.experts.%s: the saved keys are "
                       "then ambiguous to readers and vLLM refuses such adapters; target "
                       "mlp.experts.gate_up_proj and mlp.experts.down_proj together",
                       gate_up ? "gate_up_proj" : "down_proj"));
}

nt_status tr_resolve_params(const tr_table *t, const tr_spec *s, tr_result *r, nt_err *err) {
    if (!s->n_parameters) return NT_OK;
    if (s->lora_dropout != 0.0)
        return nt_err_set(err, NT_EINVAL,
                          "lora_target_parameters needs lora_dropout: 0 (it is %g; PEFT's "
                          "parameter LoRA has no dropout and the value applies to every module)",
                          s->lora_dropout);
    int64_t *hits = nt_xcalloc(s->n_parameters, sizeof *hits);
    size_t first = r->n;
    nt_status st = NT_OK;
    for (size_t i = 0; i < t->n && !st; i++) {
        bool hit = false;
        for (size_t k = 0; k < s->n_parameters; k++)
            if (suffix_match(t->e[i].tensor, s->parameters[k])) {
                hits[k]++;
                hit = true;
            }
        if (!hit) continue;
        tr_target tg;
        st = param_target(&t->e[i], &tg, err);
        if (!st) tr_push_target(r, &tg);
    }
    for (size_t k = 0; k < s->n_parameters && !st; k++)
        if (!hits[k])
            st = nt_err_set(err, NT_EINVAL,
                            "lora_target_parameters: '%s' matches no parameter of this model "
                            "(e.g. mlp.experts.gate_up_proj, mlp.experts.down_proj, "
                            "mlp.gate.weight)",
                            s->parameters[k]);
    free(hits);
    if (st) return st;
    set_nesting(r, first);
    warn_single_expert_param(r, first);
    return NT_OK;
}

nt_status tr_resolve_saved(const tr_table *t, const tr_spec *s, tr_result *r, nt_err *err) {
    for (size_t k = 0; k < s->n_modules_to_save; k++) {
        tr_matcher m;
        char *pat = nt_xasprintf("(^|.*\\.)%s($|\\..*)", s->modules_to_save[k]);
        nt_status st = tr_matcher_regex(&m, pat, false, "lora_modules_to_save", err);
        free(pat);
        if (st) return st;
        size_t before = r->n_saved;
        for (size_t i = 0; i < t->n; i++) {
            const tr_entry *e = &t->e[i];
            if (!tr_matcher_test(&m, e->module)) continue;
            bool dup = false;
            for (size_t j = 0; j < r->n_saved && !dup; j++)
                dup = !strcmp(r->saved[j].name, e->tensor);
            if (dup) continue;
            r->saved = nt_xrealloc(r->saved, (r->n_saved + 1) * sizeof *r->saved);
            tr_saved *sv = &r->saved[r->n_saved++];
            memset(sv, 0, sizeof *sv);
            snprintf(sv->name, sizeof sv->name, "%s", e->tensor);
            sv->ndim = e->ndim > 3 ? 3 : e->ndim;
            sv->numel = 1;
            for (int d = 0; d < e->ndim; d++) sv->numel *= e->shape[d];
            for (int d = 0; d < sv->ndim; d++) sv->shape[d] = e->shape[d];
        }
        tr_matcher_free(&m);
        if (r->n_saved == before)
            return nt_err_set(err, NT_EINVAL,
                              "lora_modules_to_save: '%s' matches no module of this model",
                              s->modules_to_save[k]);
    }
    return NT_OK;
}

/* Kinds of text-layer projections: the name after `layers.N.`, e.g. "self_attn.o_proj". */
#define MAX_KINDS 16
typedef struct {
    char name[64];
    int64_t avail, hit;
    bool attention;
} kind;

static const char *kind_of(const char *module) {
    const char *p = strstr(module, "layers.");
    if (!p || strstr(module, "vision_tower")) return NULL;
    p = strchr(p + 7, '.');
    return p ? p + 1 : NULL;
}

static size_t collect_kinds(const tr_table *t, const tr_result *r, kind *k) {
    size_t nk = 0;
    for (size_t i = 0; i < t->n; i++) {
        const char *kn = t->e[i].linear ? kind_of(t->e[i].module) : NULL;
        if (!kn) continue;
        size_t j = 0;
        while (j < nk && strcmp(k[j].name, kn)) j++;
        if (j == nk) {
            if (nk == MAX_KINDS) continue;
            memset(&k[nk], 0, sizeof k[nk]);
            snprintf(k[nk].name, sizeof k[nk].name, "%s", kn);
            k[nk++].attention = t->e[i].group == M4_GROUP_ATTENTION;
        }
        k[j].avail++;
        for (size_t x = 0; x < r->n; x++)
            if (r->targets[x].kind == TR_MODULE && !strcmp(r->targets[x].name, t->e[i].module)) {
                k[j].hit++;
                break;
            }
    }
    return nk;
}

/* A user target set that hits some text projections but only a small part of them (fewer
 * than half the kinds, or part of the attention projections) is most likely a regex written
 * for a dense Mistral: say loudly what it leaves out. */
void tr_coverage_warning(const tr_table *t, tr_result *r) {
    kind k[MAX_KINDS];
    size_t nk = collect_kinds(t, r, k), hit = 0, att = 0, att_hit = 0;
    for (size_t i = 0; i < nk; i++) {
        hit += k[i].hit > 0;
        att += k[i].attention;
        att_hit += k[i].attention && k[i].hit > 0;
    }
    if (!hit || hit == nk) return;
    if (!(2 * hit < nk || (att_hit && att_hit < att))) return;
    nt_buf got = {0}, missed = {0};
    for (size_t i = 0; i < nk; i++) {
        if (k[i].hit)
            nt_buf_printf(&got, "%s%s (%lld)", got.len ? ", " : "", k[i].name,
                          (long long)k[i].hit);
        else
            nt_buf_printf(&missed, "%s%s", missed.len ? ", " : "", k[i].name);
    }
    tr_warn(r, nt_xasprintf("WARNING: lora_target_modules covers only %zu of the %zu kinds of "
                            "text projections: %s. NOT targeted: %s. (Mistral 4 uses MLA "
                            "attention and MoE MLPs; routed experts need "
                            "lora_target_parameters.)",
                            hit, nk, got.data, missed.data ? missed.data : ""));
    nt_buf_free(&got);
    nt_buf_free(&missed);
}

int64_t tr_trainable_params(const tr_result *res, int64_t r, int64_t *by_group,
                            int64_t *saved_out) {
    int64_t total = 0, saved = 0;
    if (by_group) memset(by_group, 0, TR_GROUP_COUNT * sizeof *by_group);
    for (size_t i = 0; i < res->n; i++) {
        const tr_target *t = &res->targets[i];
        int64_t n = t->experts * r * (t->in + t->out);
        total += n;
        if (by_group) by_group[t->group] += n;
    }
    for (size_t i = 0; i < res->n_saved; i++) saved += res->saved[i].numel;
    if (saved_out) *saved_out = saved;
    return total + saved;
}

char *tr_summary(const tr_result *res, int64_t r) {
    int64_t by[TR_GROUP_COUNT], saved;
    int64_t total = tr_trainable_params(res, r, by, &saved);
    nt_buf b = {0};
    char line[256];
    for (int g = 0; g < TR_GROUP_COUNT; g++) {
        if (!res->group_count[g]) continue;
        snprintf(line, sizeof line, "  %-30s %6lld %-10s %14lld params\n", tr_group_name(g),
                 (long long)res->group_count[g],
                 g == TR_GROUP_ROUTED_EXPERTS || g == TR_GROUP_ROUTER ? "parameters" : "modules",
                 (long long)by[g]);
        nt_buf_append(&b, line, strlen(line));
    }
    if (res->n_saved) {
        snprintf(line, sizeof line, "  %-30s %6zu %-10s %14lld params\n", "modules_to_save",
                 res->n_saved, "tensors", (long long)saved);
        nt_buf_append(&b, line, strlen(line));
    }
    snprintf(line, sizeof line, "  %-30s %6zu %-10s %14lld params (r=%lld)\n", "total", res->n,
             "targets", (long long)total, (long long)r);
    nt_buf_append(&b, line, strlen(line) + 1);
    return (char *)b.data;
}
