/* Dataset sources: resolving paths to files and reading rows. */
#include "data/ds_source.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "formats/json.h"

typedef enum { FMT_JSON, FMT_JSONL, FMT_OTHER } file_fmt;

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static file_fmt fmt_of(const char *name) {
    if (ends_with(name, ".jsonl") || ends_with(name, ".ndjson")) return FMT_JSONL;
    return ends_with(name, ".json") ? FMT_JSON : FMT_OTHER;
}

static const char *entry_str(const val *e, const char *key) {
    const val *v = val_dict_get(e, key);
    return val_is(v, VAL_STR) ? v->u.str.s : NULL;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void push(char ***list, size_t *n, char *s) {
    *list = nt_xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = s;
}

/* The .json/.jsonl files of a folder, sorted; only those named after `split` (train.jsonl,
 * train-00000.json, ...) when some are, as Hugging Face's loader picks split files. */
static nt_status list_dir(const char *dir, const char *split, char ***files, size_t *n, nt_err *err) {
    DIR *d = opendir(dir);
    if (!d) return nt_err_errno(err, NT_EIO, "%s: cannot open folder", dir);
    char **all = NULL;
    size_t nall = 0, nsplit = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.' || fmt_of(de->d_name) == FMT_OTHER) continue;
        push(&all, &nall, nt_path_join(dir, de->d_name));
        if (split && !strncmp(de->d_name, split, strlen(split))) nsplit++;
    }
    closedir(d);
    if (nall) qsort(all, nall, sizeof *all, cmp_str);
    for (size_t i = 0; i < nall; i++) {
        const char *base = strrchr(all[i], '/') ? strrchr(all[i], '/') + 1 : all[i];
        if (!nsplit || !strncmp(base, split, strlen(split))) push(files, n, all[i]);
        else free(all[i]);
    }
    free(all);
    return *n ? NT_OK : nt_err_set(err, NT_ENOTFOUND, "%s: no .json or .jsonl files in the folder", dir);
}

static nt_status check_file(const char *f, const char *ds_type, nt_err *err) {
    if (!nt_path_exists(f)) return nt_err_set(err, NT_ENOTFOUND, "%s: no such file", f);
    if (ds_type && strcmp(ds_type, "json") && strcmp(ds_type, "jsonl"))
        return nt_err_set(err, NT_EUNSUPPORTED, "ds_type: %s is not supported yet (json and jsonl are)", ds_type);
    if (!ds_type && fmt_of(f) == FMT_OTHER)
        return nt_err_set(err, NT_EUNSUPPORTED, "%s: only .json and .jsonl files are supported yet "
                          "(Parquet, CSV and Arrow come later)", f);
    return NT_OK;
}

static nt_status data_files(const val *e, const char *path, char ***files, size_t *n, nt_err *err) {
    const val *df = val_dict_get(e, "data_files");
    size_t k = val_is(df, VAL_LIST) ? val_list_len(df) : 1;
    for (size_t i = 0; i < k; i++) {
        const val *f = val_is(df, VAL_LIST) ? val_list_get(df, i) : df;
        if (!val_is(f, VAL_STR)) return nt_err_set(err, NT_EINVAL, "data_files: expected file names");
        push(files, n, nt_is_dir(path) && f->u.str.s[0] != '/' ? nt_path_join(path, f->u.str.s)
                                                              : nt_xstrdup(f->u.str.s));
    }
    return NT_OK;
}

static nt_status resolve(const val *e, char ***files, size_t *n, nt_err *err) {
    const char *path = entry_str(e, "path"), *split = entry_str(e, "split"), *name = entry_str(e, "name");
    if (!path) return nt_err_set(err, NT_EINVAL, "path: missing");
    if (val_is(val_dict_get(e, "data_files"), VAL_LIST) || val_is(val_dict_get(e, "data_files"), VAL_STR))
        return data_files(e, path, files, n, err);
    if (!nt_path_exists(path)) {
        bool hub = path[0] != '/' && path[0] != '.' && strchr(path, '/') && !strchr(path, '.');
        return hub ? nt_err_set(err, NT_EUNSUPPORTED, "path: %s is not a local file or folder; Hugging Face "
                                "hub datasets are not supported yet", path)
                   : nt_err_set(err, NT_ENOTFOUND, "path: %s: no such file or folder", path);
    }
    if (!nt_is_dir(path)) { push(files, n, nt_xstrdup(path)); return NT_OK; }
    char *sub = name ? nt_path_join(path, name) : NULL; /* a configuration's subfolder */
    nt_status st = list_dir(sub && nt_is_dir(sub) ? sub : path, split, files, n, err);
    free(sub);
    return st;
}

nt_status ds_source_files(const val *entry, size_t index, char ***files, size_t *n, nt_err *err) {
    *files = NULL;
    *n = 0;
    nt_status st = resolve(entry, files, n, err);
    for (size_t i = 0; !st && i < *n; i++) st = check_file((*files)[i], entry_str(entry, "ds_type"), err);
    if (!st) return NT_OK;
    for (size_t i = 0; i < *n; i++) free((*files)[i]);
    free(*files);
    *files = NULL;
    *n = 0;
    return nt_err_prefix(err, "datasets[%zu].", index);
}

static void add_row(ds_rows *r, ds_row row) {
    if (r->nrows == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 1024;
        r->rows = nt_xrealloc(r->rows, r->cap * sizeof *r->rows);
    }
    r->rows[r->nrows++] = row;
}

static void split_lines(ds_rows *r, uint32_t ds, uint32_t fi) {
    const ds_file *f = &r->files[fi];
    const char *p = f->data, *end = f->data + f->len;
    for (uint64_t line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *stop = nl ? nl : end;
        const char *q = p;
        while (q < stop && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q < stop) add_row(r, (ds_row){.dataset = ds, .file = fi, .row = line, .text = p, .n = (size_t)(stop - p)});
        p = stop + 1;
    }
}

/* A .json file: a list of rows, or an object whose field_rows key holds the list. A file that
 * is not one JSON value is read as JSON lines (Hugging Face's json loader accepts both). */
static nt_status json_rows(ds_rows *r, const val *e, uint32_t ds, uint32_t fi, nt_err *err) {
    ds_file *f = &r->files[fi];
    nt_err perr = {0};
    if (json_parse(f->data, f->len, &f->root, &perr)) { split_lines(r, ds, fi); return NT_OK; }
    const val *list = f->root;
    const char *field = entry_str(e, "field_rows");
    if (val_is(list, VAL_DICT) && field) {
        list = val_dict_get(f->root, field);
        if (!val_is(list, VAL_LIST))
            return nt_err_set(err, NT_EINVAL, "%s: field_rows: no list under key '%s'", f->path, field);
    } else if (val_is(list, VAL_DICT)) {
        nt_buf keys = {0};
        for (size_t i = 0; i < val_dict_len(list) && i < 8; i++)
            nt_buf_printf(&keys, "%s'%s'", i ? ", " : "", val_dict_entry(list, i)->key->u.str.s);
        nt_status st = nt_err_set(err, NT_EINVAL, "%s: holds a JSON object, not a list of rows; set field_rows: "
                                  "to the key holding the rows (keys: %s)", f->path, keys.data ? keys.data : "none");
        nt_buf_free(&keys);
        return st;
    }
    if (!val_is(list, VAL_LIST))
        return nt_err_set(err, NT_EINVAL, "%s: expected a list of rows, got %s", f->path, val_kind_name(list->kind));
    for (size_t i = 0; i < val_list_len(list); i++)
        add_row(r, (ds_row){.dataset = ds, .file = fi, .row = i, .v = val_list_get(list, i)});
    return NT_OK;
}

nt_status ds_rows_read(ds_rows *r, const val *entry, uint32_t index, nt_err *err) {
    char **files = NULL;
    size_t n = 0;
    nt_status st = ds_source_files(entry, index, &files, &n, err);
    for (size_t i = 0; !st && i < n; i++) {
        r->files = nt_xrealloc(r->files, (r->nfiles + 1) * sizeof *r->files);
        ds_file *f = &r->files[r->nfiles];
        *f = (ds_file){.path = files[i]};
        files[i] = NULL;
        uint32_t fi = (uint32_t)r->nfiles++;
        st = nt_read_file(f->path, &f->data, &f->len, err);
        const char *ds_type = entry_str(entry, "ds_type");
        bool jsonl = ds_type ? !strcmp(ds_type, "jsonl") : fmt_of(f->path) == FMT_JSONL;
        if (!st && jsonl) split_lines(r, index, fi);
        else if (!st) st = json_rows(r, entry, index, fi, err);
    }
    for (size_t i = 0; i < n; i++) free(files[i]);
    free(files);
    return st ? nt_err_prefix(err, "datasets[%u]: ", index) : NT_OK;
}

void ds_rows_free(ds_rows *r) {
    for (size_t i = 0; i < r->nfiles; i++) {
        free(r->files[i].path);
        free(r->files[i].data);
        val_unref(r->files[i].root);
    }
    free(r->files);
    free(r->rows);
    memset(r, 0, sizeof *r);
}
