/* Shared between the lora_target files: the model's module table and the matchers. */
#ifndef NEWT_TRAIN_LORA_TARGET_INTERNAL_H
#define NEWT_TRAIN_LORA_TARGET_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "train/lora_target.h"

/* One tensor of the model, with the module that owns it (the name minus its last part). */
typedef struct {
    char tensor[192];
    char module[192];
    int ndim;
    int64_t shape[4];
    m4_group group;
    bool linear;      /* the module is an nn.Linear (2-D .weight, not embeddings / router) */
} tr_entry;

typedef struct {
    tr_entry *e;
    size_t n, cap;
} tr_table;

void tr_table_build(const m4_config *cfg, m4_naming naming, tr_table *t);
void tr_table_free(tr_table *t);

/* A compiled regex or a name list, PEFT-style. hits (list form) counts matches per entry. */
typedef struct {
    pcre2_code *re;
    pcre2_match_data *md;
    const char *const *list;
    size_t n;
    int64_t *hits;
    int64_t total;
} tr_matcher;

/* full: re.fullmatch (target/exclude); otherwise re.match (anchored at the start only). */
nt_status tr_matcher_regex(tr_matcher *m, const char *pattern, bool full, const char *what,
                           nt_err *err);
void tr_matcher_list(tr_matcher *m, const char *const *list, size_t n);
bool tr_matcher_test(tr_matcher *m, const char *key);
void tr_matcher_free(tr_matcher *m);

tr_group tr_group_for(const char *module, m4_group g);

/* Steps of tr_resolve (lora_target_params.c). */
nt_status tr_resolve_params(const tr_table *t, const tr_spec *s, tr_result *r, nt_err *err);
nt_status tr_resolve_saved(const tr_table *t, const tr_spec *s, tr_result *r, nt_err *err);
void tr_coverage_warning(const tr_table *t, tr_result *r);
void tr_warn(tr_result *r, char *msg); /* takes msg */
void tr_push_target(tr_result *r, const tr_target *t);

#endif
