/* ds_chat_init: one dataset entry's chat_template keys, resolved against the top level. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "data/ds_chat.h"

static const char *entry_str(const val *e, const char *key) {
    const val *v = val_dict_get(e, key);
    return val_is(v, VAL_STR) ? v->u.str.s : NULL;
}

static char *dup_or_null(const char *s) { return s ? nt_xstrdup(s) : NULL; }

static nt_status eos_mode(const char *s, ds_eos_mode *out) {
    static const char *const names[] = {"turn", "all", "last", "none"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) { *out = (ds_eos_mode)i; return NT_OK; }
    return NT_EINVAL;
}

/* Message keys: template key -> dataset key; axolotl's default is role and content as they
 * are, the legacy message_field_role/content keys rename them, message_property_mappings wins. */
static val *build_mappings(const val *e) {
    val *m = val_dict();
    const char *r = entry_str(e, "message_field_role"), *c = entry_str(e, "message_field_content");
    val_dict_set(m, "role", val_str(r ? r : "role"));
    val_dict_set(m, "content", val_str(c ? c : "content"));
    const val *given = val_dict_get(e, "message_property_mappings");
    if (val_is(given, VAL_DICT))
        for (size_t i = 0; i < val_dict_len(given); i++) {
            const val_entry *en = val_dict_entry(given, i);
            if (val_is(en->value, VAL_STR)) val_dict_set(m, en->key->u.str.s, val_ref(en->value));
        }
    return m;
}

/* Dataset role -> template role: the entry's `roles` (target -> sources) first, then axolotl's
 * defaults (human/user, gpt/assistant, system, tool); every target maps to itself. */
static val *build_roles(const val *e) {
    static const char *const dflt[][2] = {{"human", "user"}, {"user", "user"}, {"gpt", "assistant"},
                                          {"assistant", "assistant"}, {"system", "system"},
                                          {"tool", "tool"}};
    val *m = val_dict();
    const val *given = val_dict_get(e, "roles");
    if (val_is(given, VAL_DICT))
        for (size_t i = 0; i < val_dict_len(given); i++) {
            const val_entry *en = val_dict_entry(given, i);
            const char *target = en->key->u.str.s;
            val_dict_set(m, target, val_str(target));
            if (val_is(en->value, VAL_STR)) val_dict_set(m, en->value->u.str.s, val_str(target));
            if (val_is(en->value, VAL_LIST))
                for (size_t k = 0; k < val_list_len(en->value); k++) {
                    const val *src = val_list_get(en->value, k);
                    if (val_is(src, VAL_STR)) val_dict_set(m, src->u.str.s, val_str(target));
                }
        }
    for (size_t i = 0; i < sizeof dflt / sizeof *dflt; i++)
        if (!val_dict_get(m, dflt[i][0])) val_dict_set(m, dflt[i][0], val_str(dflt[i][1]));
    return m;
}

static val *merged_kwargs(const cfg *c, const val *e) {
    val *k = val_dict();
    const val *sources[2] = {cfg_get(c, "chat_template_kwargs"), val_dict_get(e, "chat_template_kwargs")};
    for (int s = 0; s < 2; s++)
        if (val_is(sources[s], VAL_DICT))
            for (size_t i = 0; i < val_dict_len(sources[s]); i++) {
                const val_entry *en = val_dict_entry(sources[s], i);
                val_dict_set(k, en->key->u.str.s, val_ref(en->value));
            }
    return k;
}

static nt_status resolve_eot(ds_chat *dc, const cfg *c, const val *e, const tok_tokenizer *t,
                             nt_err *err) {
    dc->eos_id = tok_special_id(t, TOK_ROLE_EOS);
    const val *list = val_dict_get(e, "eot_tokens");
    char where[64];
    snprintf(where, sizeof where, "datasets[%u].eot_tokens", dc->index);
    if (!val_is(list, VAL_LIST)) list = cfg_get(c, "eot_tokens"), snprintf(where, sizeof where, "eot_tokens");
    if (!val_is(list, VAL_LIST)) {
        if (dc->eos_id < 0) return NT_OK;
        dc->eot_ids = nt_xmalloc(sizeof *dc->eot_ids);
        dc->eot_ids[dc->neot++] = dc->eos_id;
        return NT_OK;
    }
    dc->eot_ids = nt_xcalloc(val_list_len(list) + 1, sizeof *dc->eot_ids);
    for (size_t i = 0; i < val_list_len(list); i++) {
        const val *s = val_list_get(list, i);
        int32_t id = val_is(s, VAL_STR) ? tok_token_id(t, s->u.str.s, s->u.str.n) : -1;
        if (id < 0)
            return nt_err_set(err, NT_EINVAL,
                              "%s[%zu]: %s is not a single token of the tokenizer (add it with tokens: "
                              "or added_tokens_overrides:)", where, i,
                              val_is(s, VAL_STR) ? s->u.str.s : "a non-string");
        dc->eot_ids[dc->neot++] = id;
    }
    return NT_OK;
}

nt_status ds_chat_load_template(ds_chat *dc, const cfg *c, const val *e, nt_err *err);

static nt_status resolve_modes(ds_chat *dc, const cfg *c, const val *e, nt_err *err) {
    const char *eos = entry_str(e, "train_on_eos"), *eot = entry_str(e, "train_on_eot");
    if (eos && eos_mode(eos, &dc->eos_mode))
        return nt_err_set(err, NT_EINVAL, "datasets[%u].train_on_eos: unknown mode '%s'", dc->index, eos);
    dc->eot_mode = dc->eos_mode;
    if (eot && eos_mode(eot, &dc->eot_mode))
        return nt_err_set(err, NT_EINVAL, "datasets[%u].train_on_eot: unknown mode '%s'", dc->index, eot);
    const val *toi = val_dict_get(e, "train_on_inputs");
    dc->train_on_inputs = val_is(toi, VAL_BOOL) ? toi->u.b : cfg_get_bool(c, "train_on_inputs");
    const val *ds = val_dict_get(e, "drop_system_message");
    dc->drop_system = val_is(ds, VAL_BOOL) && ds->u.b;
    const val *rt = val_dict_get(e, "roles_to_train");
    dc->roles_to_train = val_is(rt, VAL_LIST) ? val_ref((val *)rt) : val_list();
    return NT_OK;
}

static nt_status check_type(const val *e, size_t index, nt_err *err) {
    const char *type = entry_str(e, "type");
    if (!type)
        return nt_err_set(err, NT_EINVAL, "datasets[%zu].type: missing (newt supports type: chat_template)",
                          index);
    if (strcmp(type, "chat_template"))
        return nt_err_set(err, NT_EUNSUPPORTED,
                          "datasets[%zu].type: '%s' is not supported yet (newt supports chat_template)",
                          index, type);
    return NT_OK;
}

nt_status ds_chat_init(ds_chat *dc, const cfg *c, size_t index, const tok_tokenizer *t, nt_err *err) {
    memset(dc, 0, sizeof *dc);
    const val *list = cfg_get(c, "datasets");
    if (!val_is(list, VAL_LIST) || index >= val_list_len(list))
        return nt_err_set(err, NT_EINVAL, "datasets[%zu]: no such dataset entry", index);
    const val *e = val_list_get(list, index);
    nt_status st = check_type(e, index, err);
    if (st) return st;
    dc->index = (uint32_t)index;
    dc->tok = t;
    const char *fm = entry_str(e, "field_messages"), *fs = entry_str(e, "field_system");
    const char *ft = entry_str(e, "field_tools"), *fth = entry_str(e, "field_thinking");
    const char *tk = entry_str(e, "template_thinking_key");
    dc->field_messages = nt_xstrdup(fm ? fm : "messages");
    dc->field_system = nt_xstrdup(fs ? fs : "system");
    dc->field_tools = nt_xstrdup(ft ? ft : "tools");
    dc->field_thinking = nt_xstrdup(fth ? fth : "reasoning_content");
    dc->template_thinking_key = nt_xstrdup(tk ? tk : "reasoning_content");
    dc->field_training = dup_or_null(entry_str(e, "message_field_training"));
    dc->field_training_detail = dup_or_null(entry_str(e, "message_field_training_detail"));
    dc->mappings = build_mappings(e);
    dc->roles = build_roles(e);
    dc->kwargs = merged_kwargs(c, e);
    if ((st = resolve_modes(dc, c, e, err)) || (st = resolve_eot(dc, c, e, t, err)) ||
        (st = ds_chat_load_template(dc, c, e, err))) {
        ds_chat_free(dc);
        return st;
    }
    return NT_OK;
}

void ds_chat_free(ds_chat *dc) {
    free(dc->field_messages);
    free(dc->field_system);
    free(dc->field_tools);
    free(dc->field_thinking);
    free(dc->template_thinking_key);
    free(dc->field_training);
    free(dc->field_training_detail);
    free(dc->eot_ids);
    free(dc->tmpl_text);
    val_unref(dc->mappings);
    val_unref(dc->roles);
    val_unref(dc->roles_to_train);
    val_unref(dc->kwargs);
    val_unref(dc->special);
    tmpl_free(dc->tmpl);
    memset(dc, 0, sizeof *dc);
}

void ds_sample_free(ds_sample *s) {
    free(s->ids);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

const char *ds_drop_name(ds_drop d) {
    static const char *const names[DS_DROP_COUNT] = {
        "bad JSON", "malformed row", "template error", "turn span not found",
        "too long", "too short", "no trained token"};
    return (unsigned)d < DS_DROP_COUNT ? names[d] : "?";
}
