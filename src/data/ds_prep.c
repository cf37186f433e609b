/* ds_prepare: sources -> rows -> samples, in parallel chunks merged in order. */
#include "data/ds_prep.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/mem.h"
#include "data/ds_opts.h"
#include "data/ds_source.h"
#include "data/ds_split.h"
#include "formats/json.h"

#define CHUNK_ROWS 64

typedef struct {
    int64_t seq_len, min_len;
    enum { EXCESS_DROP, EXCESS_TRUNCATE, EXCESS_RAISE } excess;
    bool raise_malformed;
} len_rules;

/* One chunk's results, merged in chunk order so the output does not depend on scheduling. */
typedef struct {
    ds_set set;
    ds_stats st;
    bool fatal;
    nt_err err;
} chunk_out;

static void where(const ds_rows *r, const ds_row *row, char *buf, size_t cap) {
    const char *path = r->files[row->file].path;
    if (row->text) snprintf(buf, cap, "%s:%llu", path, (unsigned long long)row->row);
    else snprintf(buf, cap, "%s[%llu]", path, (unsigned long long)row->row);
}

static void note(chunk_out *co, const char *loc, const char *msg) {
    if (co->st.nnotes >= DS_MAX_NOTES) return;
    co->st.notes = nt_xrealloc(co->st.notes, (co->st.nnotes + 1) * sizeof *co->st.notes);
    co->st.notes[co->st.nnotes++] = nt_xasprintf("%s: %s", loc, msg);
}

static void drop(chunk_out *co, ds_drop why, const char *loc, const char *msg, bool fatal) {
    co->st.dropped[why]++;
    note(co, loc, msg);
    if (fatal && !co->fatal) {
        co->fatal = true;
        nt_err_set(&co->err, NT_EINVAL, "%s: %s", loc, msg);
    }
}

/* Length rules after encoding; returns false when the sample is dropped. */
static bool apply_lengths(const len_rules *lr, ds_sample *s, chunk_out *co, const char *loc) {
    char msg[128];
    if ((int64_t)s->n > lr->seq_len) {
        snprintf(msg, sizeof msg, "%zu tokens > sequence_len %lld", s->n, (long long)lr->seq_len);
        if (lr->excess != EXCESS_TRUNCATE) {
            drop(co, DS_DROP_TOO_LONG, loc, msg, lr->excess == EXCESS_RAISE);
            return false;
        }
        s->n = (size_t)lr->seq_len;
        co->st.truncated++;
    }
    if ((int64_t)s->n < lr->min_len) {
        snprintf(msg, sizeof msg, "%zu tokens < min_sample_len %lld", s->n, (long long)lr->min_len);
        drop(co, DS_DROP_TOO_SHORT, loc, msg, false);
        return false;
    }
    size_t trained = 0;
    for (size_t i = 0; i < s->n; i++) trained += s->labels[i] != DS_IGNORE_INDEX;
    if (!trained) {
        drop(co, DS_DROP_UNTRAINED, loc, "no trained token", false);
        return false;
    }
    co->st.trained += trained;
    co->st.tokens += s->n;
    co->st.unterminated += s->unterminated;
    return true;
}

static void do_row(const ds_chat *dcs, const ds_rows *r, const ds_row *row, const len_rules *lr,
                   tok_scratch *scratch, ds_sample *s, chunk_out *co) {
    char loc[600];
    where(r, row, loc, sizeof loc);
    nt_err err = {0};
    val *parsed = NULL;
    const val *v = row->v;
    co->st.rows++;
    if (!v && json_parse(row->text, row->n, &parsed, &err)) {
        drop(co, DS_DROP_JSON, loc, err.msg, lr->raise_malformed);
        return;
    }
    if (!v) v = parsed;
    ds_drop why = DS_DROP_ROW;
    if (ds_chat_encode(&dcs[row->dataset], v, scratch, s, &why, &err)) {
        drop(co, why, loc, err.msg, lr->raise_malformed);
    } else if (apply_lengths(lr, s, co, loc)) {
        ds_set_add(&co->set, s->ids, s->labels, (uint32_t)s->n, row->dataset, row->row);
        co->st.kept++;
    }
    val_unref(parsed);
}

static void run_chunks(const ds_chat *dcs, const ds_rows *r, const len_rules *lr, const tok_tokenizer *t,
                       int threads, chunk_out *outs, size_t nchunks) {
#pragma omp parallel num_threads(threads)
    {
        tok_scratch *scratch = tok_scratch_new(t);
        ds_sample s = {0};
#pragma omp for schedule(dynamic, 1)
        for (size_t c = 0; c < nchunks; c++) {
            size_t end = (c + 1) * CHUNK_ROWS < r->nrows ? (c + 1) * CHUNK_ROWS : r->nrows;
            for (size_t i = c * CHUNK_ROWS; i < end; i++) do_row(dcs, r, &r->rows[i], lr, scratch, &s, &outs[c]);
        }
        ds_sample_free(&s);
        tok_scratch_free(scratch);
    }
}

static void merge(ds_set *out, ds_stats *st, chunk_out *co) {
    ds_set_append(out, &co->set);
    st->rows += co->st.rows;
    st->kept += co->st.kept;
    st->truncated += co->st.truncated;
    st->tokens += co->st.tokens;
    st->trained += co->st.trained;
    st->unterminated += co->st.unterminated;
    for (int d = 0; d < DS_DROP_COUNT; d++) st->dropped[d] += co->st.dropped[d];
    for (size_t i = 0; i < co->st.nnotes; i++) {
        if (st->nnotes < DS_MAX_NOTES) {
            st->notes = nt_xrealloc(st->notes, (st->nnotes + 1) * sizeof *st->notes);
            st->notes[st->nnotes++] = co->st.notes[i];
        } else {
            free(co->st.notes[i]);
        }
    }
    free(co->st.notes);
    ds_set_free(&co->set);
}

static nt_status len_rules_of(const cfg *c, len_rules *lr, nt_err *err) {
    lr->seq_len = cfg_is_set(c, "sequence_len") ? cfg_get_int(c, "sequence_len") : 512;
    lr->min_len = cfg_is_set(c, "min_sample_len") ? cfg_get_int(c, "min_sample_len") : 2;
    const char *ex = cfg_get_str(c, "excess_length_strategy"), *mr = cfg_get_str(c, "malformed_row_strategy");
    lr->excess = !ex || !strcmp(ex, "drop") ? EXCESS_DROP : !strcmp(ex, "truncate") ? EXCESS_TRUNCATE : EXCESS_RAISE;
    lr->raise_malformed = mr && !strcmp(mr, "raise");
    if (lr->seq_len < 1) return nt_err_set(err, NT_EINVAL, "sequence_len: must be at least 1");
    return NT_OK;
}

static nt_status load_all(const cfg *c, const tok_tokenizer *t, ds_chat **dcs, size_t *n, ds_rows *r, nt_err *err) {
    const val *list = cfg_get(c, "datasets");
    *n = val_is(list, VAL_LIST) ? val_list_len(list) : 0;
    if (!*n) return nt_err_set(err, NT_EINVAL, "datasets: no dataset entries");
    *dcs = nt_xcalloc(*n, sizeof **dcs);
    nt_status st = NT_OK;
    for (size_t i = 0; i < *n && !st; i++) {
        st = ds_chat_init(&(*dcs)[i], c, i, t, err);
        if (!st) st = ds_rows_read(r, val_list_get(list, i), (uint32_t)i, err);
    }
    return st;
}

static int thread_count(const cfg *c, int threads) {
    if (threads <= 0 && cfg_is_set(c, "dataset_num_proc")) threads = (int)cfg_get_int(c, "dataset_num_proc");
    return threads > 0 ? threads : omp_get_max_threads();
}

nt_status ds_prepare(const cfg *c, const tok_tokenizer *t, int threads, ds_set *out, ds_stats *st,
                     nt_err *err) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(st, 0, sizeof *st);
    len_rules lr;
    ds_chat *dcs = NULL;
    size_t ndcs = 0;
    ds_rows rows = {0};
    nt_status rc = len_rules_of(c, &lr, err);
    if (!rc) rc = load_all(c, t, &dcs, &ndcs, &rows, err);
    if (!rc) {
        size_t nchunks = (rows.nrows + CHUNK_ROWS - 1) / CHUNK_ROWS;
        chunk_out *outs = nt_xcalloc(nchunks + 1, sizeof *outs);
        st->threads = thread_count(c, threads);
        run_chunks(dcs, &rows, &lr, t, st->threads, outs, nchunks);
        for (size_t i = 0; i < nchunks; i++) {
            if (outs[i].fatal && !rc) rc = nt_err_set(err, outs[i].err.code, "%s", outs[i].err.msg);
            merge(out, st, &outs[i]);
        }
        free(outs);
    }
    for (size_t i = 0; i < ndcs; i++) ds_chat_free(&dcs[i]);
    free(dcs);
    ds_rows_free(&rows);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    st->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return rc;
}

void ds_stats_free(ds_stats *s) {
    for (size_t i = 0; i < s->nnotes; i++) free(s->notes[i]);
    free(s->notes);
    memset(s, 0, sizeof *s);
}

uint64_t ds_stats_dropped(const ds_stats *s) {
    uint64_t n = 0;
    for (int d = 0; d < DS_DROP_COUNT; d++) n += s->dropped[d];
    return n;
}

nt_status ds_prepare_split(const cfg *c, const tok_tokenizer *t, int threads, ds_set *train,
                           ds_set *valid, ds_stats *st, nt_err *err) {
    ds_set all = {0};
    nt_status rc = ds_prepare(c, t, threads, &all, st, err);
    if (!rc && !all.n && st->dropped[DS_DROP_TOO_LONG]) /* the likely fix is the key, so name it */
        rc = nt_err_set(err, NT_EINVAL, "sequence_len: %lld is too small: %llu sample(s) longer than it were "
                        "dropped and none is left (datasets)", (long long)cfg_get_int(c, "sequence_len"),
                        (unsigned long long)st->dropped[DS_DROP_TOO_LONG]);
    else if (!rc && !all.n)
        rc = nt_err_set(err, NT_EINVAL, "datasets: no sample left after preprocessing (see the drops above)");
    ds_split_opts o = ds_split_opts_from_cfg(c);
    if (!rc) rc = ds_split(&all, &o, train, valid, err);
    ds_set_free(&all);
    return rc;
}
