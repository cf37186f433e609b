/* Finding a chat template on disk and building the render kwargs the way transformers'
 * apply_chat_template does. */
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "formats/json.h"
#include "template/tmpl.h"

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* The special tokens of a tokenizer_config.json: "x_token": "..." or {"content": "..."}. */
static void read_special(const val *cfg, val *out) {
    for (size_t i = 0; val_is(cfg, VAL_DICT) && i < val_dict_len(cfg); i++) {
        const val_entry *e = val_dict_entry(cfg, i);
        if (!ends_with(e->key->u.str.s, "_token")) continue;
        const val *v = e->value;
        if (val_is(v, VAL_DICT)) v = val_dict_get(v, "content");
        if (val_is(v, VAL_STR)) val_dict_set(out, e->key->u.str.s, val_ref((val *)v));
    }
}

/* The "chat_template" field: a string, or a list of {name, template} (we take "default"). */
static nt_status template_field(const val *cfg, const char *path, char **text, size_t *len,
                                nt_err *err) {
    const val *ct = val_is(cfg, VAL_DICT) ? val_dict_get(cfg, "chat_template") : NULL;
    if (val_is(ct, VAL_LIST)) {
        const val *found = NULL;
        for (size_t i = 0; i < val_list_len(ct); i++) {
            const val *it = val_list_get(ct, i), *nm = val_is(it, VAL_DICT) ? val_dict_get(it, "name") : NULL;
            if (val_is(nm, VAL_STR) && !strcmp(nm->u.str.s, "default")) found = val_dict_get(it, "template");
        }
        ct = found;
    }
    if (!val_is(ct, VAL_STR))
        return nt_err_set(err, NT_ENOTFOUND, "%s: no \"chat_template\" string (or list entry named \"default\")", path);
    *text = nt_xstrndup(ct->u.str.s, ct->u.str.n);
    *len = ct->u.str.n;
    return NT_OK;
}

static nt_status load_file(const char *path, char **text, size_t *len, val *special, nt_err *err) {
    if (!ends_with(path, ".json")) return nt_read_file(path, text, len, err);
    val *cfg = NULL;
    nt_status st = json_parse_file(path, &cfg, err);
    if (st) return st;
    read_special(cfg, special);
    st = template_field(cfg, path, text, len, err);
    val_unref(cfg);
    return st;
}

nt_status tmpl_load(const char *path, char **text, size_t *len, val **special, nt_err *err) {
    val *sp = val_dict();
    nt_status st;
    if (nt_is_dir(path)) {
        static const char *const names[] = {"chat_template.jinja", "chat_template.json", "tokenizer_config.json"};
        char *tc = nt_path_join(path, "tokenizer_config.json");
        if (nt_path_exists(tc)) {
            val *cfg = NULL;
            if (json_parse_file(tc, &cfg, NULL) == NT_OK) read_special(cfg, sp);
            val_unref(cfg);
        }
        free(tc);
        st = nt_err_set(err, NT_ENOTFOUND, "%s: no chat_template.jinja, chat_template.json or tokenizer_config.json", path);
        for (size_t i = 0; i < 3; i++) {
            char *p = nt_path_join(path, names[i]);
            if (nt_path_exists(p)) {
                nt_err_clear(err);
                val *ignored = val_dict();
                st = load_file(p, text, len, ignored, err);
                val_unref(ignored);
                free(p);
                break;
            }
            free(p);
        }
    } else {
        st = load_file(path, text, len, sp, err);
    }
    if (st) {
        val_unref(sp);
        return st;
    }
    *special = sp;
    return NT_OK;
}

static bool known_key(const char *k) {
    static const char *const known[] = {"messages", "add_generation_prompt", "continue_final_message",
                                        "tools", "documents", "special_tokens", "kwargs"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (!strcmp(k, known[i])) return true;
    return false;
}

static void merge_strings(val *ctx, const val *from) {
    for (size_t i = 0; val_is(from, VAL_DICT) && i < val_dict_len(from); i++) {
        const val_entry *e = val_dict_entry(from, i);
        val_dict_set(ctx, e->key->u.str.s, val_ref(e->value));
    }
}

static val *or_null(const val *v) { return v ? val_ref((val *)v) : val_null(); }

nt_status tmpl_context(const val *conv, const val *special, val **out, nt_err *err) {
    if (!val_is(conv, VAL_DICT)) return nt_err_set(err, NT_EINVAL, "conversation must be a JSON object");
    const val *msgs = val_dict_get(conv, "messages");
    if (!val_is(msgs, VAL_LIST)) return nt_err_set(err, NT_EINVAL, "conversation: \"messages\" must be a list");
    const val *cfm = val_dict_get(conv, "continue_final_message");
    if (cfm && !(val_is(cfm, VAL_BOOL) && !cfm->u.b))
        return nt_err_set(err, NT_EUNSUPPORTED, "conversation: continue_final_message is not supported");
    const val *docs = val_dict_get(conv, "documents");
    for (size_t i = 0; val_is(docs, VAL_LIST) && i < val_list_len(docs); i++)
        if (!val_is(val_list_get(docs, i), VAL_DICT))
            return nt_err_set(err, NT_EINVAL, "Documents should be a list of dicts with 'title' and 'text' keys!");
    val *ctx = val_dict();
    val_dict_set(ctx, "bos_token", val_str("<s>"));
    val_dict_set(ctx, "eos_token", val_str("</s>"));
    val_dict_set(ctx, "unk_token", val_str("<unk>"));
    val_dict_set(ctx, "pad_token", val_str("<pad>"));
    merge_strings(ctx, special);
    merge_strings(ctx, val_dict_get(conv, "special_tokens"));
    for (size_t i = 0; i < val_dict_len(conv); i++) {
        const val_entry *e = val_dict_entry(conv, i);
        if (!known_key(e->key->u.str.s)) val_dict_set(ctx, e->key->u.str.s, val_ref(e->value));
    }
    merge_strings(ctx, val_dict_get(conv, "kwargs"));
    val_dict_set(ctx, "messages", val_ref((val *)msgs));
    val_dict_set(ctx, "tools", or_null(val_dict_get(conv, "tools")));
    val_dict_set(ctx, "documents", or_null(docs));
    const val *agp = val_dict_get(conv, "add_generation_prompt");
    val_dict_set(ctx, "add_generation_prompt", agp ? val_ref((val *)agp) : val_bool(false));
    *out = ctx;
    return NT_OK;
}
