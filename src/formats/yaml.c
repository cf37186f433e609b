/* YAML composer: libyaml's event stream turned into values, one recursive call per node
 * (depth-limited), with PyYAML's resolution of tags, anchors, aliases and merge keys. */
#include "formats/yaml.h"
#include "value/pyrepr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "formats/yaml_scalar.h"

typedef struct {
    char *name;
    val *v;        /* NULL while the anchored node is still being built */
    size_t nodes;  /* its size with aliases expanded */
} yml_anchor;

typedef struct {
    yaml_parser_t parser;
    yaml_event_t ev;
    bool have_ev;
    const char *name;
    nt_err *err;
    yml_anchor *anchors;
    size_t nanchors, cap_anchors;
    size_t nodes;
    int depth;
    val *locs;     /* path -> line, or NULL */
    nt_buf path;
} yml_ctx;

static nt_status fail_at(yml_ctx *c, nt_status code, yaml_mark_t m, const char *fmt, const char *arg) {
    char what[512];
    snprintf(what, sizeof what, fmt, arg);
    return nt_err_set(c->err, code, "%s:%zu:%zu: %s", c->name, m.line + 1, m.column + 1, what);
}

static nt_status parser_error(yml_ctx *c) {
    yaml_parser_t *p = &c->parser;
    if (p->error == YAML_MEMORY_ERROR) return nt_err_set(c->err, NT_ENOMEM, "%s: out of memory", c->name);
    char what[512];
    snprintf(what, sizeof what, "%s%s%s%s", p->problem ? p->problem : "syntax error",
             p->context ? " (" : "", p->context ? p->context : "", p->context ? ")" : "");
    return fail_at(c, NT_EPARSE, p->problem_mark, "%s", what);
}

/* Replaces the current event with the next one. */
static nt_status next_event(yml_ctx *c) {
    if (c->have_ev) yaml_event_delete(&c->ev);
    c->have_ev = false;
    if (!yaml_parser_parse(&c->parser, &c->ev)) return parser_error(c);
    c->have_ev = true;
    return NT_OK;
}

static nt_status count_nodes(yml_ctx *c, size_t k) {
    c->nodes += k;
    if (c->nodes > YML_MAX_NODES)
        return fail_at(c, NT_ELIMIT, c->ev.start_mark, "document too large: more than %s nodes "
                       "with aliases expanded", "1000000");
    return NT_OK;
}

static yml_anchor *find_anchor(yml_ctx *c, const char *name) {
    for (size_t i = c->nanchors; i-- > 0;)
        if (!strcmp(c->anchors[i].name, name)) return &c->anchors[i];
    return NULL;
}

static size_t add_anchor(yml_ctx *c, const char *name) {
    if (c->nanchors == c->cap_anchors) {
        c->cap_anchors = c->cap_anchors ? 2 * c->cap_anchors : 8;
        c->anchors = nt_xrealloc(c->anchors, c->cap_anchors * sizeof *c->anchors);
    }
    c->anchors[c->nanchors] = (yml_anchor){nt_xstrdup(name), NULL, 0};
    return c->nanchors++;
}

static void record_loc(yml_ctx *c, yaml_mark_t m) {
    if (c->locs) val_dict_setn(c->locs, c->path.data, c->path.len, val_int((int64_t)m.line + 1));
}

static nt_status parse_node(yml_ctx *c, val **out);

static nt_status parse_alias(yml_ctx *c, val **out) {
    yml_anchor *a = find_anchor(c, (const char *)c->ev.data.alias.anchor);
    if (!a) return fail_at(c, NT_EPARSE, c->ev.start_mark, "found undefined alias '%s'",
                           (const char *)c->ev.data.alias.anchor);
    if (!a->v) return fail_at(c, NT_EPARSE, c->ev.start_mark, "recursive alias '%s' is not supported",
                              a->name);
    nt_status st = count_nodes(c, a->nodes);
    if (st) return st;
    *out = val_ref(a->v);
    return NT_OK;
}

static nt_status parse_scalar(yml_ctx *c, val **out) {
    const yaml_event_t *e = &c->ev;
    const char *s = (const char *)e->data.scalar.value, *tag = (const char *)e->data.scalar.tag;
    size_t n = e->data.scalar.length;
    yml_tag t;
    if (tag && !strcmp(tag, "!")) /* PyYAML resolves a bare `!` scalar as if plain */
        t = yml_resolve_plain(s, n);
    else if (!tag)
        t = e->data.scalar.plain_implicit ? yml_resolve_plain(s, n) : YML_T_STR;
    else
        t = yml_tag_from_name(tag);
    if (t == YML_T_MERGE || t == YML_T_UNKNOWN || t == YML_T_MAP || t == YML_T_SEQ)
        return fail_at(c, NT_EPARSE, e->start_mark, "could not determine a constructor for the tag '%s'",
                       tag ? tag : (t == YML_T_MERGE ? "tag:yaml.org,2002:merge" : "tag:yaml.org,2002:value"));
    const char *problem = NULL;
    *out = yml_construct_scalar(t, s, n, &problem);
    if (!*out) return fail_at(c, NT_EPARSE, e->start_mark, "%s", problem);
    return count_nodes(c, 1);
}

/* Checks that a collection's explicit tag (if any) matches its kind. */
static nt_status check_collection_tag(yml_ctx *c, const yaml_char_t *tag, yml_tag want) {
    if (!tag || !strcmp((const char *)tag, "!") || yml_tag_from_name((const char *)tag) == want)
        return NT_OK;
    return fail_at(c, NT_EPARSE, c->ev.start_mark, "could not determine a constructor for the tag '%s'",
                   (const char *)tag);
}

static nt_status parse_sequence(yml_ctx *c, val **out) {
    nt_status st = check_collection_tag(c, c->ev.data.sequence_start.tag, YML_T_SEQ);
    if (st || (st = count_nodes(c, 1))) return st;
    val *list = val_list();
    size_t base = c->path.len;
    for (size_t i = 0;; i++) {
        if ((st = next_event(c))) break;
        if (c->ev.type == YAML_SEQUENCE_END_EVENT) break;
        nt_buf_printf(&c->path, "[%zu]", i);
        record_loc(c, c->ev.start_mark);
        val *item = NULL;
        st = parse_node(c, &item);
        c->path.len = base;
        c->path.data[base] = '\0';
        if (st) break;
        val_list_push(list, item);
    }
    if (st) { val_unref(list); return st; }
    *out = list;
    return NT_OK;
}

/* The string json.dumps would write for a dict key; NULL for list/dict keys. */
static char *key_string(const val *k) {
    char buf[32];
    switch (k->kind) {
    case VAL_STR: return nt_xstrndup(k->u.str.s, k->u.str.n);
    case VAL_NULL: return nt_xstrdup("null");
    case VAL_BOOL: return nt_xstrdup(k->u.b ? "true" : "false");
    case VAL_INT: return nt_xasprintf("%lld", (long long)k->u.i);
    case VAL_FLOAT:
        if (isnan(k->u.f)) return nt_xstrdup("NaN");
        if (isinf(k->u.f)) return nt_xstrdup(k->u.f > 0 ? "Infinity" : "-Infinity");
        val_float_repr(buf, k->u.f);
        return nt_xstrdup(buf);
    default: return NULL;
    }
}

static bool is_merge_key(const yaml_event_t *e) {
    if (e->type != YAML_SCALAR_EVENT) return false;
    const char *tag = (const char *)e->data.scalar.tag;
    if (tag) return yml_tag_from_name(tag) == YML_T_MERGE;
    return e->data.scalar.plain_implicit &&
           yml_resolve_plain((const char *)e->data.scalar.value, e->data.scalar.length) == YML_T_MERGE;
}

/* Parses a key node into its string; *key stays NULL for a merge key `<<`. */
static nt_status parse_key(yml_ctx *c, char **key) {
    *key = NULL;
    if (is_merge_key(&c->ev)) return count_nodes(c, 1);
    yaml_mark_t at = c->ev.start_mark;
    val *k = NULL;
    nt_status st = parse_node(c, &k);
    if (st) return st;
    *key = key_string(k);
    val_unref(k);
    if (!*key) return fail_at(c, NT_EPARSE, at, "%s", "found unhashable key (a list or mapping)");
    return NT_OK;
}

/* Adds the mappings a `<<` value names to merges, in PyYAML's priority order. */
static nt_status add_merge(yml_ctx *c, yaml_mark_t at, val *v, val *merges) {
    if (v->kind == VAL_DICT) { val_list_push(merges, val_ref(v)); return NT_OK; }
    if (v->kind != VAL_LIST)
        return fail_at(c, NT_EPARSE, at, "expected a mapping or list of mappings for merging, but "
                       "found %s", val_kind_name(v->kind));
    for (size_t i = val_list_len(v); i-- > 0;) { /* earlier mappings of the list win */
        val *m = val_list_get(v, i);
        if (m->kind != VAL_DICT)
            return fail_at(c, NT_EPARSE, at, "expected a mapping for merging, but found %s",
                           val_kind_name(m->kind));
        val_list_push(merges, val_ref(m));
    }
    return NT_OK;
}

/* Merged entries come first, then the mapping's own, so its own keys win. */
static val *apply_merges(val *own, val *merges) {
    if (val_list_len(merges) == 0) return own;
    val *out = val_dict();
    for (size_t i = 0; i < val_list_len(merges); i++) {
        const val *m = val_list_get(merges, i);
        for (size_t j = 0; j < val_dict_len(m); j++) {
            const val_entry *e = val_dict_entry(m, j);
            val_dict_setn(out, e->key->u.str.s, e->key->u.str.n, val_ref(e->value));
        }
    }
    for (size_t j = 0; j < val_dict_len(own); j++) {
        const val_entry *e = val_dict_entry(own, j);
        val_dict_setn(out, e->key->u.str.s, e->key->u.str.n, val_ref(e->value));
    }
    val_unref(own);
    return out;
}

static void push_key_path(yml_ctx *c, const char *key) {
    if (c->path.len) nt_buf_putc(&c->path, '.');
    nt_buf_puts(&c->path, key);
}

/* One key: value pair (the key's first event is current). */
static nt_status parse_pair(yml_ctx *c, val *own, val *merges) {
    yaml_mark_t at = c->ev.start_mark;
    char *key = NULL;
    nt_status st = parse_key(c, &key);
    if (st || (st = next_event(c))) { free(key); return st; }
    size_t base = c->path.len;
    if (key) push_key_path(c, key);
    if (key) record_loc(c, at);
    val *v = NULL;
    st = parse_node(c, &v);
    c->path.len = base;
    c->path.data[base] = '\0';
    if (!st && key) val_dict_set(own, key, v);
    else if (!st) { st = add_merge(c, at, v, merges); val_unref(v); }
    free(key);
    return st;
}

static nt_status parse_mapping(yml_ctx *c, val **out) {
    nt_status st = check_collection_tag(c, c->ev.data.mapping_start.tag, YML_T_MAP);
    if (st || (st = count_nodes(c, 1))) return st;
    val *own = val_dict(), *merges = val_list();
    while (!(st = next_event(c)) && c->ev.type != YAML_MAPPING_END_EVENT)
        if ((st = parse_pair(c, own, merges))) break;
    if (st) val_unref(own);
    else *out = apply_merges(own, merges);
    val_unref(merges);
    return st;
}

static nt_status parse_node_inner(yml_ctx *c, val **out) {
    switch (c->ev.type) {
    case YAML_ALIAS_EVENT: return parse_alias(c, out);
    case YAML_SCALAR_EVENT: return parse_scalar(c, out);
    case YAML_SEQUENCE_START_EVENT: return parse_sequence(c, out);
    case YAML_MAPPING_START_EVENT: return parse_mapping(c, out);
    default: return fail_at(c, NT_EPARSE, c->ev.start_mark, "%s", "unexpected event");
    }
}

static const yaml_char_t *event_anchor(const yaml_event_t *e) {
    switch (e->type) {
    case YAML_SCALAR_EVENT: return e->data.scalar.anchor;
    case YAML_SEQUENCE_START_EVENT: return e->data.sequence_start.anchor;
    case YAML_MAPPING_START_EVENT: return e->data.mapping_start.anchor;
    default: return NULL;
    }
}

/* Parses the node whose first event is current; registers its anchor around the build so
 * an alias inside it is detected as recursive. */
static nt_status parse_node(yml_ctx *c, val **out) {
    if (++c->depth > YML_MAX_DEPTH) {
        c->depth--;
        return fail_at(c, NT_ELIMIT, c->ev.start_mark, "nesting deeper than %s levels", "256");
    }
    const yaml_char_t *anchor = event_anchor(&c->ev);
    if (anchor && find_anchor(c, (const char *)anchor)) { /* PyYAML refuses these too */
        c->depth--;
        return fail_at(c, NT_EPARSE, c->ev.start_mark, "found duplicate anchor '%s'", (const char *)anchor);
    }
    size_t slot = anchor ? add_anchor(c, (const char *)anchor) : 0, before = c->nodes;
    nt_status st = parse_node_inner(c, out);
    c->depth--;
    if (st || !anchor) return st;
    c->anchors[slot].v = val_ref(*out); /* held: a duplicate key may drop the tree's copy */
    c->anchors[slot].nodes = c->nodes - before;
    return NT_OK;
}

static nt_status expect(yml_ctx *c, yaml_event_type_t t, const char *what) {
    nt_status st = next_event(c);
    if (st) return st;
    if (c->ev.type != t) return fail_at(c, NT_EPARSE, c->ev.start_mark, "%s", what);
    return NT_OK;
}

static nt_status parse_stream(yml_ctx *c, val **out) {
    nt_status st = expect(c, YAML_STREAM_START_EVENT, "expected the start of a stream");
    if (st || (st = next_event(c))) return st;
    if (c->ev.type == YAML_STREAM_END_EVENT) { *out = val_null(); return NT_OK; }
    if ((st = next_event(c))) return st; /* the document's root node */
    val *root = NULL;
    if ((st = parse_node(c, &root))) return st;
    if (!(st = expect(c, YAML_DOCUMENT_END_EVENT, "expected the end of the document")) &&
        !(st = next_event(c)) && c->ev.type != YAML_STREAM_END_EVENT)
        st = fail_at(c, NT_EPARSE, c->ev.start_mark, "%s",
                     "expected a single document in the stream, but found another document");
    if (st) { val_unref(root); return st; }
    *out = root;
    return NT_OK;
}

static void ctx_free(yml_ctx *c) {
    if (c->have_ev) yaml_event_delete(&c->ev);
    yaml_parser_delete(&c->parser);
    for (size_t i = 0; i < c->nanchors; i++) {
        free(c->anchors[i].name);
        if (c->anchors[i].v) val_unref(c->anchors[i].v);
    }
    free(c->anchors);
    nt_buf_free(&c->path);
}

nt_status yml_parse_ex(const char *text, size_t n, const char *name, val **out, val **locs,
                       nt_err *err) {
    *out = NULL;
    if (locs) *locs = NULL;
    if (!name) name = "<string>";
    if (n > YML_MAX_INPUT)
        return nt_err_set(err, NT_ELIMIT, "%s: YAML input of %zu bytes is over the %u-byte limit",
                          name, n, (unsigned)YML_MAX_INPUT);
    yml_ctx c = {.name = name, .err = err, .locs = locs ? val_dict() : NULL};
    if (!yaml_parser_initialize(&c.parser)) {
        val_unref(c.locs);
        return nt_err_set(err, NT_ENOMEM, "%s: out of memory", name);
    }
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, n);
    nt_buf_reserve(&c.path, 64);
    nt_status st = parse_stream(&c, out);
    ctx_free(&c);
    if (st || !locs) val_unref(c.locs);
    else *locs = c.locs;
    return st;
}

nt_status yml_parse(const char *text, size_t n, val **out, nt_err *err) {
    return yml_parse_ex(text, n, NULL, out, NULL, err);
}

nt_status yml_parse_file(const char *path, val **out, nt_err *err) {
    char *data = NULL;
    size_t n = 0;
    *out = NULL;
    nt_status st = nt_read_file(path, &data, &n, err);
    if (st) return st;
    st = yml_parse_ex(data, n, path, out, NULL, err);
    free(data);
    return st;
}
