/* Internals of the template engine: arena, runtime values with provenance, AST, renderer.
 *
 * Runtime values (tv) live in a per-render arena and are never freed one by one: the sandbox
 * makes lists and dicts immutable, so sharing is safe, and the whole arena goes at the end of
 * the render. Only namespace() objects are mutable. Runtime errors longjmp back to
 * tmpl_render (everything they would leak is in the arena). */
#ifndef NEWT_TEMPLATE_TMPL_INT_H
#define NEWT_TEMPLATE_TMPL_INT_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/mem.h"
#include "template/tmpl.h"
#include "value/value.h"

#define JSON_DEPTH_GUARD 1024

/* ---- arena ---- */
typedef struct tmpl_chunk tmpl_chunk;
typedef struct {
    tmpl_chunk *head;
    size_t used, limit; /* bytes handed out so far; 0 limit = unbounded */
    bool over;          /* set when the limit was hit */
    unsigned char *first; /* optional caller buffer used before any chunk (no malloc for */
    size_t first_cap, first_used; /* small renders) */
} tmpl_arena;

void *tmpl_arena_alloc(tmpl_arena *a, size_t n); /* NULL only when over the limit */
void tmpl_arena_free(tmpl_arena *a);

/* ---- provenance taint: 0 = none, else ((message + 2) << 8) | field ---- */
typedef uint32_t taint;
#define TAINT(msg, field) ((taint)((uint32_t)((msg) + 2) << 8 | (uint32_t)(field)))
#define TAINT_MSG(t) ((int32_t)((t) >> 8) - 2)
#define TAINT_FIELD(t) ((int)((t)&0x7f))
/* Runs of captured output (macro results) already attributed as template text carry this bit. */
#define TAINT_TEMPLATE 0x80u
/* Same message, different fields: the value stands for the message as a whole. A value mixing
 * messages belongs to none of them; context data (message -1) yields to message data. */
static inline taint taint_join(taint a, taint b) {
    if (!a || a == b) return b ? b : a;
    if (!b) return a;
    int ma = TAINT_MSG(a), mb = TAINT_MSG(b);
    if (ma < 0) return b;
    if (mb < 0) return a;
    return ma == mb ? TAINT(ma, TMPL_F_MESSAGE) : 0;
}


/* A string's byte runs: run k covers [off_k, off_{k+1}) (the last one to the end). */
typedef struct {
    uint32_t off;
    taint t;
} tspan;

typedef enum {
    TV_UNDEF, TV_NONE, TV_BOOL, TV_INT, TV_FLOAT, TV_STR, TV_LIST, TV_DICT,
    TV_NS,     /* namespace(): mutable dict */
    TV_MACRO,  /* a {% macro %} or caller */
    TV_FUNC,   /* a global function or a bound method */
    TV_LOOP,   /* the `loop` object of a for */
} tv_kind;

typedef struct tv tv;
typedef struct node node;
typedef struct tloop tloop;
typedef struct frame frame;
typedef struct rstate rstate;

typedef struct {
    tv *k, *v;
} tkv;

typedef tv *(*tfunc)(rstate *rs, const node *at, tv *self, tv **args, size_t nargs,
                     const char **kwn, tv **kwv, size_t nkw);

struct tv {
    uint8_t kind;
    bool safe;
    bool tup;    /* a tuple (prints with parentheses) */
    bool gen;    /* a list standing for the generator a filter (map, select, ...) returns in
                  * Jinja2: always true, no len() */
    taint t; /* value-level provenance (decides control-flow attribution) */
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *s; size_t n; const tspan *sp; uint32_t nsp; tspan one; } str;
        struct { tv **items; size_t n; } list;
        struct { tkv *e; size_t n, cap; } dict; /* also TV_NS */
        struct { const node *def; frame *scope; tv *caller; } macro;
        struct { tfunc fn; tv *self; const char *name; } func;
        tloop *loop;
        /* TV_UNDEF, what Jinja2's message needs: the variable or attribute name (NULL: an
         * element index), the object lacking it (NULL: an undefined variable), the index */
        struct { const char *name; tv *obj; int64_t idx; const char *hint; } undef;
    } u;
    const val *orig;   /* the conversation value this was converted from (tojson reuses it) */
};


struct tloop {
    tv **items;
    size_t n, i;
    int depth;
};

/* ---- AST ---- */
typedef enum {
    N_LIT, N_NAME, N_ATTR, N_ITEM, N_SLICE, N_CALL, N_FILTER, N_TEST, N_NEG, N_POS, N_NOT,
    N_BIN, N_CMP, N_AND, N_OR, N_COND, N_LIST, N_TUPLE, N_DICT, N_KWARG,
    N_BODY, N_TEXT, N_OUT, N_IF, N_FOR, N_SET, N_SETATTR, N_SETBLOCK, N_MACRO, N_CALLBLOCK,
    N_BREAK, N_CONTINUE, N_GENERATION, N_FILTERBLOCK,
} nkind;

typedef enum {
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FDIV, OP_MOD, OP_POW, OP_CAT,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN,
} op_kind;

/* Names a macro body reads: Jinja2 lets a macro take extra positional arguments, unknown
 * keyword arguments or a caller only when its body uses varargs / kwargs / caller. */
enum { MACRO_USES_VARARGS = 1, MACRO_USES_KWARGS = 2, MACRO_USES_CALLER = 4 };

struct node {
    uint8_t kind, op; /* op: N_BIN/N_CMP operator; N_MACRO/N_CALLBLOCK: MACRO_USES_* bits */
    bool neg;     /* N_TEST: `is not`; N_CMP: a link after the first of a chain (a < b < c) */
    int line, col;
    int sym;      /* N_NAME / N_SET / N_MACRO...: interned name id */
    const char *name; /* attribute / filter / test / kwarg / macro name */
    size_t nlen;      /* strlen(name) */
    int fid;          /* N_FILTER / N_TEST: builtin id resolved at parse time, -1 unknown */
    bool shape;       /* N_TEST: a type test (see tmpl_test_is_shape) */
    node *a, *b, *c, *d;
    node **kids;  /* list items, call args, body statements, macro params */
    size_t nkids;
    tv *lit;
};

typedef struct {
    const char **names;
    size_t *lens;
    size_t n, cap;
} symtab;

struct tmpl {
    tmpl_arena arena; /* AST, literals, names */
    node *root;
    symtab syms;
    char *name;
    int sym_loop, sym_caller, sym_varargs, sym_kwargs;
};

int tmpl_sym(tmpl *t, const char *s, size_t n);  /* interns, returns id */
int tmpl_sym_find(const tmpl *t, const char *s, size_t n); /* -1 if absent */

/* Lexer + parser: builds t->root. */
nt_status tmpl_parse(tmpl *t, const char *src, size_t n, nt_err *err);

/* ---- renderer ---- */
typedef struct {
    int sym;
    tv *v;
} fvar;

struct frame {
    frame *up;
    fvar *vars;
    size_t n, cap;
    tv **direct; /* the globals frame: indexed by symbol id (every name is known at parse time) */
};

/* Strings with provenance are built in the arena (so an error mid-way leaks nothing). */
typedef struct {
    char *data;
    size_t len, cap;
    tspan *sp;
    size_t nsp, capsp;
} sbuild;

struct rstate {
    const tmpl *t;
    tmpl_arena arena;
    jmp_buf jb;
    nt_err *err;
    nt_status status;
    nt_buf out;
    tmpl_span *spans;
    size_t nspans, capspans;
    size_t (*gen)[2];
    size_t ngen, capgen;
    taint ctl;          /* innermost control-flow provenance */
    sbuild *sink;       /* where output goes (the result, or a macro's capture) */
    sbuild main;
    frame *globals;
    frame *cur;         /* the scope statements run in */
    int depth;
    int cdepth;         /* C recursion (eval + exec_body), see MAX_C_DEPTH */
    uint64_t steps;
    size_t max_output;
    uint64_t max_steps;
    int max_depth;
    const char *now;
    tv *undef;          /* a plain undefined */
    tv *v_true, *v_false; /* untainted booleans, shared (values are immutable) */
    int brk;            /* 1 = break, 2 = continue pending */
};

/* Errors: never return. */
_Noreturn void rs_fail(rstate *rs, const node *at, nt_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
_Noreturn void rs_undefined_fail(rstate *rs, const node *at, const tv *u);

void rs_step(rstate *rs, const node *at);
void *rs_alloc_slow(rstate *rs, size_t n);
/* Bump allocation from the render's arena (the common case inline). */
static inline void *rs_alloc(rstate *rs, size_t n) {
    tmpl_arena *a = &rs->arena;
    n = (n + 15) & ~(size_t)15;
    if (a->first && a->first_cap - a->first_used >= n && (!a->limit || a->used + n <= a->limit)) {
        void *p = a->first + a->first_used;
        a->first_used += n;
        a->used += n;
        return p;
    }
    return rs_alloc_slow(rs, n);
}

/* Values. */
tv *tv_new(rstate *rs, tv_kind k);
tv *tv_bool(rstate *rs, bool b, taint t);
tv *tv_int(rstate *rs, int64_t i, taint t);
tv *tv_float(rstate *rs, double f, taint t);
tv *tv_none(rstate *rs, taint t);
tv *tv_strn(rstate *rs, const char *s, size_t n, taint t); /* copies; whole-string span t */
tv *tv_lit(rstate *rs, const char *s);                      /* static literal, untainted */
tv *tv_list(rstate *rs, size_t n);                          /* n slots, filled by caller */
tv *tv_dict(rstate *rs, size_t cap);
void tv_dict_put(rstate *rs, tv *d, tv *k, tv *v);         /* replaces an existing key */
tv *tv_dict_get(const tv *d, const char *k, size_t n);
tv *tv_dict_getv(const tv *d, const tv *k);
tv *tv_retaint(rstate *rs, tv *v, taint t);  /* shallow copy with another value taint */
tv *tv_undef(rstate *rs, const char *name, tv *obj, taint t);
tv *tv_undef_hint(rstate *rs, const char *hint); /* Jinja2's Undefined(hint=...) */
/* v read out of container c under key: v's own provenance, else c's (a message key names the
 * field). */
tv *tv_inherit(rstate *rs, tv *v, const tv *c, const char *key);
int tmpl_field_of_key(const char *k, size_t n); /* message key -> tmpl_field */

void sb_add(rstate *rs, sbuild *sb, const tv *s, size_t from, size_t to); /* byte range */
void sb_lit(rstate *rs, sbuild *sb, const char *s, size_t n, taint t);
tv *sb_finish(rstate *rs, sbuild *sb, taint t);
tv *tv_concat(rstate *rs, tv *a, tv *b);
tv *tv_substr(rstate *rs, tv *s, size_t from, size_t to);
tv *tv_escape(rstate *rs, tv *s); /* HTML-escapes (markupsafe rules) */

/* Conversions, Python semantics. */
tv *tv_from_val(rstate *rs, const val *v, int msg, int field, int depth);
val *tv_to_val(rstate *rs, const node *at, const tv *v, int depth); /* new reference */
bool tv_truthy(const tv *v);
bool tv_eq(const tv *a, const tv *b);
int tv_cmp(rstate *rs, const node *at, const tv *a, const tv *b); /* <0, 0, >0 */
tv *tv_to_str(rstate *rs, const node *at, tv *v);   /* Python str(), keeps spans */
void tv_repr(rstate *rs, const node *at, sbuild *sb, const tv *v);
const char *tv_type_name(const tv *v);               /* "str", "list", "dict", ... */
size_t utf8_len(const char *s, size_t n);
size_t utf8_offset(const char *s, size_t n, size_t cp); /* byte offset of code point cp */
bool tv_in(rstate *rs, const node *at, tv *item, tv *container);
tv *tv_iterable(rstate *rs, const node *at, tv *v);  /* list of items (dict: keys, str: chars) */
int64_t tv_len(rstate *rs, const node *at, tv *v);

/* Evaluation. */
tv *eval_node(rstate *rs, const node *n);
_Noreturn void rs_too_deep(rstate *rs, const node *at);

/* Nested expressions, statements and macro calls all recurse on the C stack: one counter
 * bounds them together (Python's recursion limit plays this part for Jinja2). */
#define MAX_C_DEPTH 1500

static inline void rs_enter(rstate *rs, const node *at) {
    if (++rs->cdepth > MAX_C_DEPTH) rs_too_deep(rs, at);
}

static inline tv *eval(rstate *rs, const node *n) {
    rs_enter(rs, n);
    tv *v = eval_node(rs, n);
    rs->cdepth--;
    return v;
}
bool eval_cond(rstate *rs, const node *n, taint *t);
tv *eval_getattr(rstate *rs, const node *at, tv *obj, const char *name, size_t nlen);
tv *eval_getitem(rstate *rs, const node *at, tv *obj, tv *key);
tv *call_value(rstate *rs, const node *at, tv *fn, tv **args, size_t nargs, const char **kwn,
               tv **kwv, size_t nkw);
void exec_body(rstate *rs, const node *body);
void emit(rstate *rs, const tv *s, taint vt);
tv *capture(rstate *rs, const node *body);
tv *call_macro(rstate *rs, const node *at, tv *m, tv **args, size_t nargs, const char **kwn,
               tv **kwv, size_t nkw, tv *caller);
tv *frame_get(rstate *rs, frame *f, int sym);
void frame_set(rstate *rs, frame *f, int sym, tv *v);

/* Filters, tests, methods, globals. */
tv *apply_filter(rstate *rs, const node *at, const char *name, tv *v, tv **args, size_t nargs,
                 const char **kwn, tv **kwv, size_t nkw);
bool apply_test(rstate *rs, const node *at, const char *name, tv *v, tv **args, size_t nargs);
int tmpl_filter_id(const char *name); /* -1 if unknown */
int tmpl_test_id(const char *name);
tv *apply_filter_id(rstate *rs, const node *at, int id, const char *name, tv *v, tv **args,
                    size_t nargs, const char **kwn, tv **kwv, size_t nkw);
bool apply_test_id(rstate *rs, const node *at, int id, const char *name, tv *v, tv **args, size_t nargs);
bool tmpl_test_is_shape(const char *name);
tv *method_lookup(rstate *rs, tv *obj, const char *name, size_t n); /* NULL if none */
tv *global_lookup(rstate *rs, const char *name);                    /* NULL if none */
tv *tv_str_strip(rstate *rs, tv *s, const char *chars, size_t nchars, bool left, bool right);
tv *str_replace(rstate *rs, const node *at, tv *self, tv *old, tv *new_, int64_t count);
tv *str_case(rstate *rs, tv *s, int mode); /* 0 upper, 1 lower, 2 capitalize, 3 str.title,
                                            4 Jinja2's |title */
tv *binop(rstate *rs, const node *at, int op, tv *a, tv *b);

#endif
