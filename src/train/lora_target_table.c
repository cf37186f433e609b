#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "train/lora_target_internal.h"

static void add_tensor(const m4_tensor_spec *s, void *ud) {
    tr_table *t = ud;
    if (s->group == M4_GROUP_FP8_SCALE) return;
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 256;
        t->e = nt_xrealloc(t->e, t->cap * sizeof *t->e);
    }
    tr_entry *e = &t->e[t->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->tensor, sizeof e->tensor, "%s", s->name);
    snprintf(e->module, sizeof e->module, "%s", s->name);
    char *dot = strrchr(e->module, '.');
    if (dot) *dot = 0;
    e->ndim = s->ndim;
    for (int i = 0; i < 4; i++) e->shape[i] = s->shape[i];
    e->group = s->group;
    size_t n = strlen(s->name);
    bool weight = n > 7 && !strcmp(s->name + n - 7, ".weight");
    e->linear = weight && s->ndim == 2 && s->group != M4_GROUP_EMBED &&
                s->group != M4_GROUP_ROUTER;
}

void tr_table_build(const m4_config *cfg, m4_naming naming, tr_table *t) {
    memset(t, 0, sizeof *t);
    m4_enum_tensors(cfg, naming, false, add_tensor, t);
}

void tr_table_free(tr_table *t) {
    free(t->e);
    memset(t, 0, sizeof *t);
}

static bool ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

tr_group tr_group_for(const char *module, m4_group g) {
    switch (g) {
    case M4_GROUP_ATTENTION:
        if (ends_with(module, ".q_a_proj")) return TR_GROUP_Q_A;
        if (ends_with(module, ".q_b_proj")) return TR_GROUP_Q_B;
        if (ends_with(module, ".kv_a_proj_with_mqa")) return TR_GROUP_KV_A;
        if (ends_with(module, ".kv_b_proj")) return TR_GROUP_KV_B;
        if (ends_with(module, ".q_proj")) return TR_GROUP_Q;
        return TR_GROUP_O;
    case M4_GROUP_SHARED_EXPERTS: return TR_GROUP_SHARED_EXPERTS;
    case M4_GROUP_DENSE_MLP: return TR_GROUP_DENSE_MLP;
    case M4_GROUP_ROUTED_EXPERTS: return TR_GROUP_ROUTED_EXPERTS;
    case M4_GROUP_ROUTER: return TR_GROUP_ROUTER;
    case M4_GROUP_VISION: return TR_GROUP_VISION;
    case M4_GROUP_PROJECTOR: return TR_GROUP_PROJECTOR;
    default: return TR_GROUP_LM_HEAD;
    }
}

const char *tr_group_name(tr_group g) {
    static const char *names[TR_GROUP_COUNT] = {
        "attention q_a_proj", "attention q_b_proj", "attention q_proj",
        "attention kv_a_proj_with_mqa", "attention kv_b_proj", "attention o_proj",
        "shared experts", "dense MLP", "routed experts", "router", "vision tower",
        "projector", "lm_head"};
    return (unsigned)g < TR_GROUP_COUNT ? names[g] : "?";
}

/* ---- matchers ---- */

nt_status tr_matcher_regex(tr_matcher *m, const char *pattern, bool full, const char *what,
                           nt_err *err) {
    memset(m, 0, sizeof *m);
    int code;
    PCRE2_SIZE off;
    /* Python's re.fullmatch: anchored at both ends, with backtracking into alternatives
     * until the whole name is consumed (PCRE2_ENDANCHORED does exactly that). */
    uint32_t opts = PCRE2_ANCHORED | (full ? PCRE2_ENDANCHORED : 0);
    m->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
    if (!m->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return nt_err_set(err, NT_EINVAL, "%s: invalid regex '%s' at offset %zu: %s", what,
                          pattern, (size_t)off, (const char *)msg);
    }
    m->md = pcre2_match_data_create_from_pattern(m->re, NULL);
    return NT_OK;
}

void tr_matcher_list(tr_matcher *m, const char *const *list, size_t n) {
    memset(m, 0, sizeof *m);
    m->list = list;
    m->n = n;
    m->hits = nt_xcalloc(n ? n : 1, sizeof *m->hits);
}

/* PEFT's list rule: the name itself, or a suffix that starts right after a '.'. */
static bool suffix_match(const char *key, const char *item) {
    size_t n = strlen(key), m = strlen(item);
    if (n == m) return !strcmp(key, item);
    return n > m && key[n - m - 1] == '.' && !strcmp(key + n - m, item);
}

bool tr_matcher_test(tr_matcher *m, const char *key) {
    bool hit = false;
    if (m->re) {
        hit = pcre2_match(m->re, (PCRE2_SPTR)key, strlen(key), 0, 0, m->md, NULL) >= 0;
    } else {
        for (size_t i = 0; i < m->n; i++)
            if (suffix_match(key, m->list[i])) {
                m->hits[i]++;
                hit = true;
            }
    }
    if (hit) m->total++;
    return hit;
}

void tr_matcher_free(tr_matcher *m) {
    pcre2_match_data_free(m->md);
    pcre2_code_free(m->re);
    free(m->hits);
    memset(m, 0, sizeof *m);
}
