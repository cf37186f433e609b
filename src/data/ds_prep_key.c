/* The prepared-cache key: everything that changes what ds_prepare + split produce. */
#include <stdlib.h>
#include <string.h>

#include "data/ds_prep.h"
#include "data/ds_source.h"

/* Config keys that change the prepared sets (the datasets list carries every per-entry key). */
static const char *const key_names[] = {
    "datasets", "sequence_len", "min_sample_len", "excess_length_strategy", "malformed_row_strategy",
    "chat_template", "chat_template_jinja", "chat_template_kwargs", "eot_tokens", "train_on_inputs",
    "special_tokens", "tokens", "added_tokens_overrides", "val_set_size", "seed",
    "shuffle_merged_datasets", "default_system_message",
};

static nt_status key_dataset(ds_cache_key *k, const cfg *c, const tok_tokenizer *t, size_t i, nt_err *err) {
    char **files = NULL;
    size_t n = 0;
    nt_status st = ds_source_files(val_list_get(cfg_get(c, "datasets"), i), i, &files, &n, err);
    for (size_t f = 0; f < n; f++) {
        if (!st) st = ds_cache_key_file(k, "data", files[f], err);
        free(files[f]);
    }
    free(files);
    if (st) return st;
    ds_chat dc;
    if ((st = ds_chat_init(&dc, c, i, t, err))) return st;
    ds_cache_key_bytes(k, "template", dc.tmpl_text, dc.tmpl_len);
    ds_cache_key_config(k, dc.special);
    ds_chat_free(&dc);
    return NT_OK;
}

nt_status ds_prepare_key(const cfg *c, const tok_tokenizer *t, uint8_t key[DS_CACHE_KEY_LEN], nt_err *err) {
    ds_cache_key k;
    ds_cache_key_init(&k);
    ds_cache_key_str(&k, "pipeline", "newt-chat-template-1"); /* bump when masking changes */
    nt_status st = ds_cache_key_file(&k, "tokenizer", tok_source(t), err);
    const val *list = cfg_get(c, "datasets");
    size_t n = val_is(list, VAL_LIST) ? val_list_len(list) : 0;
    for (size_t i = 0; i < n && !st; i++) st = key_dataset(&k, c, t, i, err);
    if (st) return st;
    val *d = val_dict();
    for (size_t i = 0; i < sizeof key_names / sizeof *key_names; i++) {
        const val *v = cfg_get(c, key_names[i]);
        if (v) val_dict_set(d, key_names[i], val_ref((val *)v));
    }
    ds_cache_key_config(&k, d);
    val_unref(d);
    ds_cache_key_final(&k, key);
    return NT_OK;
}
