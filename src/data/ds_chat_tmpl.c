/* Which chat template a dataset entry renders with, its special tokens, and how thinking
 * reaches it. */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "data/ds_chat.h"

static const char *entry_str(const val *e, const char *key) {
    const val *v = val_dict_get(e, key);
    return val_is(v, VAL_STR) ? v->u.str.s : NULL;
}

/* Where the tokenizer (and so tokenizer_default's template) lives: a folder. */
static char *tokenizer_dir(const cfg *c) {
    const char *src = cfg_get_str(c, "tokenizer_config");
    if (!src) src = cfg_get_str(c, "base_model");
    if (!src) return NULL;
    if (nt_is_dir(src)) return nt_xstrdup(src);
    char *copy = nt_xstrdup(src), *dir = nt_xstrdup(dirname(copy));
    free(copy);
    return dir;
}

/* bos_token & co. as the tokenizer has them, so the template writes the tokens it encodes. */
static val *tokenizer_specials(const tok_tokenizer *t) {
    static const char *const keys[TOK_NROLES] = {"bos_token", "eos_token", "pad_token", "unk_token"};
    val *d = val_dict();
    for (int r = 0; r < TOK_NROLES; r++) {
        int32_t id = tok_special_id(t, (tok_role)r);
        size_t n = 0;
        const uint8_t *b = id >= 0 ? tok_token_bytes(t, (uint32_t)id, &n) : NULL;
        if (b) val_dict_set(d, keys[r], val_strn((const char *)b, n));
    }
    return d;
}

static nt_status load_jinja(const char *jinja, char **text, size_t *len, nt_err *err) {
    if (!jinja)
        return nt_err_set(err, NT_EINVAL, "chat_template: jinja needs chat_template_jinja (template text or a file)");
    if (!strchr(jinja, '{') && nt_path_exists(jinja)) return nt_read_file(jinja, text, len, err);
    *text = nt_xstrdup(jinja);
    *len = strlen(jinja);
    return NT_OK;
}

static nt_status load_default(const cfg *c, char **text, size_t *len, val **special, nt_err *err) {
    char *dir = tokenizer_dir(c);
    if (!dir) return nt_err_set(err, NT_EINVAL, "chat_template: tokenizer_default needs base_model or tokenizer_config");
    nt_status st = tmpl_load(dir, text, len, special, err);
    if (st) nt_err_prefix(err, "chat_template: tokenizer_default: ");
    free(dir);
    return st;
}

/* DS_THINK_*: from what the template reads (a substring test on its source, like axolotl's
 * scan of the template for the message keys it uses). */
static ds_think_style think_style(const char *text) {
    if (strstr(text, "reasoning_content")) return DS_THINK_REASONING;
    if (strstr(text, "'thinking'") || strstr(text, "\"thinking\"")) return DS_THINK_CHUNK;
    return DS_THINK_FIELD;
}

nt_status ds_chat_load_template(ds_chat *dc, const cfg *c, const val *e, nt_err *err);

nt_status ds_chat_load_template(ds_chat *dc, const cfg *c, const val *e, nt_err *err) {
    const char *name = entry_str(e, "chat_template"), *jinja = entry_str(e, "chat_template_jinja");
    if (!name) name = cfg_get_str(c, "chat_template");
    if (!jinja) jinja = cfg_get_str(c, "chat_template_jinja");
    if (!name) name = jinja ? "jinja" : "tokenizer_default";
    val *special = NULL;
    nt_status st;
    if (!strcmp(name, "jinja"))
        st = load_jinja(jinja, &dc->tmpl_text, &dc->tmpl_len, err);
    else if (!strcmp(name, "tokenizer_default") || !strncmp(name, "tokenizer_default_fallback_", 27))
        st = load_default(c, &dc->tmpl_text, &dc->tmpl_len, &special, err);
    else
        st = nt_err_set(err, NT_EUNSUPPORTED,
                        "chat_template: '%s' is not supported yet (use tokenizer_default, or jinja with "
                        "chat_template_jinja)", name);
    if (st) return nt_err_prefix(err, "datasets[%u]: ", dc->index);
    dc->special = tokenizer_specials(dc->tok);
    for (size_t i = 0; special && i < val_dict_len(special); i++) {
        const val_entry *en = val_dict_entry(special, i);
        val_dict_set(dc->special, en->key->u.str.s, val_ref(en->value));
    }
    val_unref(special);
    dc->think = think_style(dc->tmpl_text);
    st = tmpl_compile(dc->tmpl_text, dc->tmpl_len, "chat_template", &dc->tmpl, err);
    return st ? nt_err_prefix(err, "datasets[%u]: ", dc->index) : NT_OK;
}
