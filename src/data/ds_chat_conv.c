/* A row -> the template's conversation object: messages remapped (keys, roles, thinking),
 * the system column prepended, tools decoded, chat_template_kwargs added; plus which turns
 * train. */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "data/ds_chat.h"
#include "formats/json.h"

static bool is_mapping_source(const val *mappings, const char *key) {
    for (size_t i = 0; i < val_dict_len(mappings); i++) {
        const val *v = val_dict_entry(mappings, i)->value;
        if (!strcmp(v->u.str.s, key)) return true;
    }
    return false;
}

/* Renamed keys first, then every other key as it is (a key the template does not read changes
 * nothing, so passing them all equals passing those it reads). */
static val *remap_keys(const ds_chat *dc, const val *m) {
    val *out = val_dict();
    for (size_t i = 0; i < val_dict_len(dc->mappings); i++) {
        const val_entry *en = val_dict_entry(dc->mappings, i);
        val *v = val_dict_get(m, en->value->u.str.s);
        if (v) val_dict_set(out, en->key->u.str.s, val_ref(v));
    }
    for (size_t i = 0; i < val_dict_len(m); i++) {
        const val_entry *en = val_dict_entry(m, i);
        const char *k = en->key->u.str.s;
        if (!is_mapping_source(dc->mappings, k) && !val_dict_get(out, k)) val_dict_set(out, k, val_ref(en->value));
    }
    return out;
}

/* The content as a list of chunks led by a thinking chunk. */
static val *thinking_chunks(val *thinking, const val *content) {
    val *list = val_list(), *chunk = val_dict();
    val_dict_set(chunk, "type", val_str("thinking"));
    val_dict_set(chunk, "thinking", val_ref(thinking));
    val_dict_set(chunk, "closed", val_bool(true));
    val_list_push(list, chunk);
    if (val_is(content, VAL_STR) && content->u.str.n) {
        val *text = val_dict();
        val_dict_set(text, "type", val_str("text"));
        val_dict_set(text, "text", val_ref((val *)content));
        val_list_push(list, text);
    } else if (val_is(content, VAL_LIST)) {
        for (size_t i = 0; i < val_list_len(content); i++) val_list_push(list, val_ref(val_list_get(content, i)));
    }
    return list;
}

static void apply_thinking(const ds_chat *dc, val *m) {
    if (strcmp(dc->field_thinking, dc->template_thinking_key)) {
        val *v = val_dict_get(m, dc->field_thinking);
        if (v && !val_dict_get(m, dc->template_thinking_key)) {
            val_dict_set(m, dc->template_thinking_key, val_ref(v));
            val_dict_del(m, dc->field_thinking);
        }
    }
    val *th = val_dict_get(m, "thinking");
    if (dc->think == DS_THINK_REASONING && val_is(th, VAL_STR) && !val_dict_get(m, "reasoning_content")) {
        val_dict_set(m, "reasoning_content", val_ref(th));
        val_dict_del(m, "thinking");
    } else if (dc->think == DS_THINK_CHUNK) {
        val *t = val_is(th, VAL_STR) ? th : val_dict_get(m, "reasoning_content");
        if (!val_is(t, VAL_STR)) return;
        val *chunks = thinking_chunks(t, val_dict_get(m, "content"));
        val_dict_set(m, "content", chunks); /* releases the old content, which chunks holds */
        val_dict_del(m, "thinking");
        val_dict_del(m, "reasoning_content");
    }
}

static bool role_trains(const ds_chat *dc, const char *role) {
    if (dc->train_on_inputs) return true;
    for (size_t i = 0; i < val_list_len(dc->roles_to_train); i++) {
        const val *r = val_list_get(dc->roles_to_train, i);
        if (val_is(r, VAL_STR) && !strcmp(r->u.str.s, role)) return true;
    }
    return false;
}

/* axolotl's order: an explicit per-turn flag, else "has a training detail", else the role. */
static nt_status turn_flags(const ds_chat *dc, const val *m, const char *role, size_t i, ds_turn *t,
                            nt_err *err) {
    t->train = role_trains(dc, role);
    t->detail = NULL;
    if (dc->field_training_detail) {
        const val *d = val_dict_get(m, dc->field_training_detail);
        if (val_is(d, VAL_LIST)) t->detail = d, t->train = true;
        else if (d && !val_is(d, VAL_NULL))
            return nt_err_set(err, NT_EINVAL, "message %zu: '%s' must be a list of {begin_offset, end_offset, train}",
                              i, dc->field_training_detail);
    }
    if (dc->field_training) {
        const val *f = val_dict_get(m, dc->field_training);
        if (val_is(f, VAL_BOOL)) t->train = f->u.b;
        else if (f && !val_is(f, VAL_NULL))
            return nt_err_set(err, NT_EINVAL, "message %zu: '%s' must be true or false, got %s", i,
                              dc->field_training, val_kind_name(f->kind));
    }
    return NT_OK;
}

static nt_status map_message(const ds_chat *dc, const val *m, size_t i, val **out, ds_turn *t, nt_err *err) {
    if (!val_is(m, VAL_DICT))
        return nt_err_set(err, NT_EINVAL, "message %zu: expected an object, got %s", i, m ? val_kind_name(m->kind) : "nothing");
    val *nm = remap_keys(dc, m);
    const val *role = val_dict_get(nm, "role"), *content = val_dict_get(nm, "content");
    const val *target = val_is(role, VAL_STR) ? val_dict_get(dc->roles, role->u.str.s) : NULL;
    nt_status st = NT_OK;
    if (!val_is(role, VAL_STR))
        st = nt_err_set(err, NT_EINVAL, "message %zu: no string role", i);
    else if (!target)
        st = nt_err_set(err, NT_EINVAL, "message %zu: unknown role '%s' (map it with roles:)", i, role->u.str.s);
    else if (content && !val_is(content, VAL_STR) && !val_is(content, VAL_LIST) && !val_is(content, VAL_NULL))
        st = nt_err_set(err, NT_EINVAL, "message %zu: content must be a string, a list of chunks or null, got %s",
                        i, val_kind_name(content->kind));
    else
        st = turn_flags(dc, nm, target->u.str.s, i, t, err); /* nm keeps detail alive */
    if (st) { val_unref(nm); return st; }
    val_dict_set(nm, "role", val_ref((val *)target));
    apply_thinking(dc, nm);
    *out = nm;
    return NT_OK;
}

static nt_status get_messages(const ds_chat *dc, const val *row, val **msgs, nt_err *err) {
    const val *m = val_dict_get(row, dc->field_messages);
    *msgs = NULL;
    if (!m) return nt_err_set(err, NT_EINVAL, "no '%s' field", dc->field_messages);
    if (val_is(m, VAL_STR)) { /* a JSON string holding the list, as axolotl accepts */
        if (json_parse(m->u.str.s, m->u.str.n, msgs, err)) return nt_err_prefix(err, "'%s': ", dc->field_messages);
    } else {
        *msgs = val_ref((val *)m);
    }
    if (!val_is(*msgs, VAL_LIST) || !val_list_len(*msgs)) {
        nt_status st = nt_err_set(err, NT_EINVAL, "'%s' must be a non-empty list of messages, got %s%s",
                                  dc->field_messages, val_is(*msgs, VAL_LIST) ? "an empty " : "",
                                  val_kind_name((*msgs)->kind));
        val_unref(*msgs);
        *msgs = NULL;
        return st;
    }
    return NT_OK;
}

static nt_status get_tools(const ds_chat *dc, const val *row, val **tools, nt_err *err) {
    const val *t = val_dict_get(row, dc->field_tools);
    *tools = NULL;
    if (!t || val_is(t, VAL_NULL)) return NT_OK;
    if (val_is(t, VAL_STR)) {
        if (json_parse(t->u.str.s, t->u.str.n, tools, err)) return nt_err_prefix(err, "'%s': ", dc->field_tools);
    } else {
        *tools = val_ref((val *)t);
    }
    if (val_is(*tools, VAL_LIST)) return NT_OK;
    nt_status st = nt_err_set(err, NT_EINVAL, "'%s' must be a list of tools (or a JSON string of one), got %s",
                              dc->field_tools, val_kind_name((*tools)->kind));
    val_unref(*tools);
    *tools = NULL;
    return st;
}

static void add_system(const ds_chat *dc, const val *row, val *out, ds_turn *turns, size_t *n) {
    const val *s = val_dict_get(row, dc->field_system);
    if (!val_is(s, VAL_STR) || !s->u.str.n || dc->drop_system) return;
    val *m = val_dict();
    val_dict_set(m, "role", val_str("system"));
    val_dict_set(m, "content", val_ref((val *)s));
    val_list_push(out, m);
    turns[(*n)++] = (ds_turn){.train = role_trains(dc, "system")};
}

nt_status ds_chat_conversation(const ds_chat *dc, const val *row, val **conv, ds_turn **turns,
                               size_t *nturns, nt_err *err) {
    if (!val_is(row, VAL_DICT))
        return nt_err_set(err, NT_EINVAL, "expected a JSON object, got %s", val_kind_name(row->kind));
    val *msgs = NULL, *tools = NULL;
    nt_status st = get_messages(dc, row, &msgs, err);
    if (st || (st = get_tools(dc, row, &tools, err))) { val_unref(msgs); return st; }
    val *list = val_list();
    ds_turn *t = nt_xcalloc(val_list_len(msgs) + 1, sizeof *t);
    size_t n = 0;
    add_system(dc, row, list, t, &n);
    for (size_t i = 0; i < val_list_len(msgs) && !st; i++) {
        val *m = NULL;
        if ((st = map_message(dc, val_list_get(msgs, i), i, &m, &t[n], err))) break;
        const val *role = val_dict_get(m, "role");
        if (dc->drop_system && !strcmp(role->u.str.s, "system")) { val_unref(m); continue; }
        val_list_push(list, m);
        n++;
    }
    val_unref(msgs);
    if (st) { val_unref(list); val_unref(tools); free(t); return st; }
    val *c = val_dict();
    val_dict_set(c, "messages", list);
    if (tools) val_dict_set(c, "tools", tools);
    for (size_t i = 0; i < val_dict_len(dc->kwargs); i++) {
        const val_entry *en = val_dict_entry(dc->kwargs, i);
        val_dict_set(c, en->key->u.str.s, val_ref(en->value));
    }
    *conv = c;
    *turns = t;
    *nturns = n;
    return NT_OK;
}
