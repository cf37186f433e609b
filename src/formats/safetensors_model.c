/* A model's weights as one set of tensors: a single file, or an index with its shards. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "formats/json.h"
#include "formats/safetensors_internal.h"

struct st_model {
    st_file **shards;
    size_t nshards;
    val *index_meta;             /* the index's "metadata" dict, or NULL */
    const st_tensor **all, **sorted;
    size_t n;
    st_map by_name;              /* name -> index into all */
    uint64_t total_bytes;
};

void st_model_close(st_model *m) {
    if (!m) return;
    for (size_t i = 0; i < m->nshards; i++) st_file_close(m->shards[i]);
    free(m->shards);
    val_unref(m->index_meta);
    free(m->all);
    free(m->sorted);
    st_map_free(&m->by_name);
    free(m);
}

/* Flattens the shards' tensors into all/sorted/by_name. A name in two shards is an error
 * (which copy would win is not defined anywhere). */
static nt_status collect_tensors(st_model *m, nt_err *err) {
    size_t total = 0;
    for (size_t s = 0; s < m->nshards; s++) total += st_file_count(m->shards[s]);
    m->all = nt_xmalloc((total ? total : 1) * sizeof *m->all);
    m->sorted = nt_xmalloc((total ? total : 1) * sizeof *m->sorted);
    char q[ST_QUOTE_CAP];
    for (size_t s = 0; s < m->nshards; s++) {
        for (size_t i = 0; i < st_file_count(m->shards[s]); i++) {
            const st_tensor *t = st_file_tensor(m->shards[s], i);
            size_t prev;
            if (!st_map_put(&m->by_name, t->name, m->n, &prev))
                return nt_err_set(err, NT_EINVAL, "tensor '%s' is in two shards: %s and %s",
                                  st_quote(q, sizeof q, t->name, strlen(t->name)),
                                  st_file_path(m->all[prev]->file), st_file_path(m->shards[s]));
            m->all[m->n++] = t;
            m->total_bytes += t->nbytes;
        }
    }
    memcpy(m->sorted, m->all, m->n * sizeof *m->all);
    st_sort_by_name(m->sorted, m->n);
    return NT_OK;
}

static nt_status open_single(const char *path, st_model *m, nt_err *err) {
    m->shards = nt_xmalloc(sizeof *m->shards);
    nt_status st = st_file_open(path, &m->shards[0], err);
    if (st) return st;
    m->nshards = 1;
    return collect_tensors(m, err);
}

/* Shard names are plain file names next to the index: a path component would let an index
 * read files anywhere on the machine. */
static nt_status check_shard_name(const val *v, const char *tensor, nt_err *err) {
    char q[ST_QUOTE_CAP], q2[ST_QUOTE_CAP];
    st_quote(q2, sizeof q2, tensor, strlen(tensor));
    if (!val_is(v, VAL_STR))
        return nt_err_set(err, NT_EINVAL, "weight_map['%s'] has type %s, expected a file name", q2,
                          val_kind_name(v->kind));
    const char *s = v->u.str.s;
    size_t n = v->u.str.n;
    if (n == 0 || strlen(s) != n || strchr(s, '/') || strchr(s, '\\') || strstr(s, ".."))
        return nt_err_set(err, NT_EINVAL,
                          "weight_map['%s']: shard name '%s' is not a plain file name", q2,
                          st_quote(q, sizeof q, s, n));
    return NT_OK;
}

static nt_status check_index_metadata(st_model *m, const val *root, nt_err *err) {
    const val *md = val_dict_get(root, "metadata");
    if (!md) return NT_OK;
    if (!val_is(md, VAL_DICT))
        return nt_err_set(err, NT_EINVAL, "\"metadata\" has type %s, expected an object",
                          val_kind_name(md->kind));
    static const char *const counts[] = {"total_size", "total_parameters"};
    for (size_t i = 0; i < 2; i++) {
        const val *v = val_dict_get(md, counts[i]);
        if (v && !(val_is(v, VAL_INT) && v->u.i >= 0))
            return nt_err_set(err, NT_EINVAL, "metadata.%s is not a non-negative integer",
                              counts[i]);
    }
    m->index_meta = val_ref((val *)md);
    return NT_OK;
}

static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first weight_map key mapped to shard, to name a tensor in messages. */
static const char *first_listed(const val *wm, const char *shard) {
    for (size_t i = 0; i < val_dict_len(wm); i++) {
        val_entry *e = val_dict_entry(wm, i);
        if (strcmp(e->value->u.str.s, shard) == 0) return e->key->u.str.s;
    }
    return "?";
}

/* Opens every distinct shard named in the weight_map, in file-name order. */
static nt_status open_shards(st_model *m, const val *wm, const char *dir, nt_err *err) {
    size_t n = val_dict_len(wm), k = 0;
    if (n == 0) return nt_err_set(err, NT_EINVAL, "\"weight_map\" is empty");
    const char **names = nt_xmalloc(n * sizeof *names);
    st_map seen = {0};
    nt_status st = NT_OK;
    char q[ST_QUOTE_CAP];
    for (size_t i = 0; i < n && !st; i++) {
        val_entry *e = val_dict_entry(wm, i);
        st = check_shard_name(e->value, e->key->u.str.s, err);
        if (!st && st_map_put(&seen, e->value->u.str.s, k, NULL)) names[k++] = e->value->u.str.s;
    }
    st_map_free(&seen);
    if (!st) qsort(names, k, sizeof *names, cmp_cstr);
    m->shards = nt_xcalloc(k ? k : 1, sizeof *m->shards);
    for (size_t i = 0; i < k && !st; i++) {
        char *p = nt_path_join(dir, names[i]);
        st = st_file_open(p, &m->shards[m->nshards], err);
        if (st == NT_OK) m->nshards++;
        else if (!nt_path_exists(p))
            nt_err_set(err, NT_ENOTFOUND,
                       "shard '%s' does not exist (the weight_map lists tensor '%s' in it)",
                       names[i], st_quote(q, sizeof q, first_listed(wm, names[i]),
                                          strlen(first_listed(wm, names[i]))));
        free(p);
    }
    free(names);
    return st;
}

/* Every weight_map entry must be in its shard, and every shard tensor in the weight_map. */
static nt_status check_weight_map(st_model *m, const val *wm, nt_err *err) {
    char q[ST_QUOTE_CAP];
    for (size_t i = 0; i < val_dict_len(wm); i++) {
        val_entry *e = val_dict_entry(wm, i);
        const st_tensor *t = st_model_find(m, e->key->u.str.s);
        const char *shard = e->value->u.str.s, *qn = st_quote(q, sizeof q, e->key->u.str.s,
                                                               e->key->u.str.n);
        const char *in = t ? strrchr(st_file_path(t->file), '/') : NULL;
        in = in ? in + 1 : t ? st_file_path(t->file) : NULL;
        if (!t || strcmp(in, shard) != 0)
            return nt_err_set(err, NT_ENOTFOUND, "tensor '%s' is listed in shard '%s' but %s%s",
                              qn, shard, t ? "found in " : "not present there",
                              t ? st_file_path(t->file) : "");
    }
    for (size_t i = 0; i < m->n; i++) {
        if (!val_dict_get(wm, m->all[i]->name))
            return nt_err_set(err, NT_EINVAL, "tensor '%s' in %s is not listed in the weight_map",
                              st_quote(q, sizeof q, m->all[i]->name, strlen(m->all[i]->name)),
                              st_file_path(m->all[i]->file));
    }
    return NT_OK;
}

static nt_status open_index(const char *path, st_model *m, nt_err *err) {
    val *root = NULL;
    nt_status st = json_parse_file(path, &root, err);
    if (st) return st;
    const val *wm = val_dict_get(root, "weight_map");
    if (!val_is(root, VAL_DICT)) st = nt_err_set(err, NT_EINVAL, "index is not a JSON object");
    else if (!wm) st = nt_err_set(err, NT_EINVAL, "no \"weight_map\"");
    else if (!val_is(wm, VAL_DICT))
        st = nt_err_set(err, NT_EINVAL, "\"weight_map\" has type %s, expected an object",
                        val_kind_name(wm->kind));
    if (!st) st = check_index_metadata(m, root, err);
    char *dir = nt_xstrdup(path), *slash = strrchr(dir, '/');
    if (slash) slash[slash == dir] = '\0'; /* "/x.index.json" lives in "/" */
    else strcpy(dir, ".");
    if (!st) st = open_shards(m, wm, dir, err);
    if (!st) st = collect_tensors(m, err);
    if (!st) st = check_weight_map(m, wm, err);
    free(dir);
    val_unref(root);
    if (st && !strstr(err->msg, path)) nt_err_prefix(err, "%s: ", path);
    return st;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The one *.safetensors in dir, when there is exactly one. */
static nt_status find_single(const char *dir, char **out, nt_err *err) {
    DIR *d = opendir(dir);
    if (!d) return nt_err_errno(err, NT_EIO, "%s", dir);
    nt_buf found = {0};
    size_t count = 0;
    char *first = NULL;
    for (struct dirent *e; (e = readdir(d));) {
        if (!ends_with(e->d_name, ".safetensors")) continue;
        if (!count++) first = nt_xstrdup(e->d_name);
        nt_buf_printf(&found, "%s%s", count > 1 ? ", " : "", e->d_name);
    }
    closedir(d);
    nt_status st = NT_OK;
    if (count == 1) *out = nt_path_join(dir, first);
    else if (count == 0)
        st = nt_err_set(err, NT_ENOTFOUND, "%s: no model.safetensors(.index.json), "
                        "consolidated.safetensors(.index.json) or other .safetensors file", dir);
    else
        st = nt_err_set(err, NT_EINVAL, "%s: %zu .safetensors files and no index: %s", dir,
                        count, found.data);
    free(first);
    nt_buf_free(&found);
    return st;
}

static nt_status resolve_folder(const char *dir, char **out, nt_err *err) {
    static const char *const names[] = {"model.safetensors.index.json", "model.safetensors",
                                        "consolidated.safetensors.index.json",
                                        "consolidated.safetensors"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char *p = nt_path_join(dir, names[i]);
        if (nt_path_exists(p)) {
            *out = p;
            return NT_OK;
        }
        free(p);
    }
    return find_single(dir, out, err);
}

nt_status st_model_open(const char *path, st_model **out, nt_err *err) {
    nt_err local;
    if (!err) err = &local; /* messages are inspected and prefixed in place */
    *out = NULL;
    char *file = NULL;
    nt_status st = nt_is_dir(path) ? resolve_folder(path, &file, err) : NT_OK;
    if (st) return st;
    if (!file) file = nt_xstrdup(path);
    st_model *m = nt_xcalloc(1, sizeof *m);
    st = ends_with(file, ".json") ? open_index(file, m, err) : open_single(file, m, err);
    free(file);
    if (st) {
        st_model_close(m);
        return st;
    }
    *out = m;
    return NT_OK;
}

size_t st_model_count(const st_model *m) { return m->n; }
const st_tensor *st_model_tensor(const st_model *m, size_t i) { return i < m->n ? m->all[i] : NULL; }
const st_tensor *st_model_tensor_sorted(const st_model *m, size_t i) {
    return i < m->n ? m->sorted[i] : NULL;
}
size_t st_model_shard_count(const st_model *m) { return m->nshards; }
const st_file *st_model_shard(const st_model *m, size_t i) {
    return i < m->nshards ? m->shards[i] : NULL;
}
const val *st_model_index_metadata(const st_model *m) { return m->index_meta; }
uint64_t st_model_total_bytes(const st_model *m) { return m->total_bytes; }

const st_tensor *st_model_find(const st_model *m, const char *name) {
    size_t i;
    return st_map_get(&m->by_name, name, &i) ? m->all[i] : NULL;
}
