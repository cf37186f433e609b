/* Loading a model folder's tokenizer: tokenizer.json first (what transformers' fast tokenizer
 * uses), else tekken.json; special-token roles from tokenizer_config.json or
 * special_tokens_map.json next to it. */
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "formats/json.h"
#include "tokenizer/tok_internal.h"

static const char *const role_keys[TOK_NROLES] = {"bos_token", "eos_token", "pad_token", "unk_token"};

/* A role is a string or {"content": string}; unknown tokens are an error naming the file. */
static nt_status roles_from(tok_tokenizer *t, const char *path, nt_err *err) {
    val *root = NULL;
    nt_status st = json_parse_file(path, &root, err);
    if (st) return st;
    for (int r = 0; r < TOK_NROLES && !st; r++) {
        const val *v = val_is(root, VAL_DICT) ? val_dict_get(root, role_keys[r]) : NULL;
        if (val_is(v, VAL_DICT)) v = val_dict_get(v, "content");
        if (!val_is(v, VAL_STR)) continue;
        int32_t id = tok_token_id(t, v->u.str.s, v->u.str.n);
        if (id < 0)
            st = nt_err_set(err, NT_EINVAL, "%s: %s '%s' is not a token of the tokenizer", path, role_keys[r],
                            v->u.str.s);
        else
            t->roles[r] = id;
    }
    val_unref(root);
    return st;
}

nt_status tok_load_roles(tok_tokenizer *t, const char *dir, nt_err *err) {
    static const char *const files[] = {"special_tokens_map.json", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++) { /* tokenizer_config.json last: it wins */
        char *p = nt_path_join(dir, files[i]);
        nt_status st = nt_path_exists(p) ? roles_from(t, p, err) : NT_OK;
        free(p);
        if (st) return st;
    }
    return NT_OK;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

nt_status tok_load(const char *path, tok_tokenizer **out, nt_err *err) {
    char *file = NULL, *dir = NULL;
    if (nt_is_dir(path)) {
        char *hf = nt_path_join(path, "tokenizer.json"), *tk = nt_path_join(path, "tekken.json");
        if (nt_path_exists(hf)) file = hf, hf = NULL;
        else if (nt_path_exists(tk)) file = tk, tk = NULL;
        free(hf);
        free(tk);
        if (!file) return nt_err_set(err, NT_ENOTFOUND, "%s: no tokenizer.json or tekken.json in the folder", path);
        dir = nt_xstrdup(path);
    } else {
        if (!nt_path_exists(path)) return nt_err_set(err, NT_ENOTFOUND, "%s: no such file", path);
        file = nt_xstrdup(path);
        const char *slash = strrchr(path, '/');
        dir = slash ? nt_xstrndup(path, (size_t)(slash - path)) : nt_xstrdup(".");
    }
    /* tekken.json and tokenizer.json differ in structure; the name decides, else the content */
    tok_tokenizer *t = NULL;
    nt_status st;
    if (ends_with(file, "tekken.json")) {
        st = tok_load_tekken(file, &t, err);
    } else {
        val *probe = NULL;
        st = ends_with(file, "tokenizer.json") ? NT_OK : json_parse_file(file, &probe, err);
        bool tekken = val_is(probe, VAL_DICT) && val_dict_get(probe, "config") && !val_dict_get(probe, "model");
        val_unref(probe);
        if (!st) st = tekken ? tok_load_tekken(file, &t, err) : tok_load_hf_json(file, &t, err);
    }
    if (!st) st = tok_load_roles(t, dir, err);
    free(file);
    free(dir);
    if (st) {
        tok_free(t);
        return st;
    }
    *out = t;
    return NT_OK;
}
