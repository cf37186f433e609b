/* PyYAML's YAML 1.1 resolver (yaml/resolver.py) and SafeConstructor scalar rules, written as
 * hand matchers of its regular expressions. The quirks are deliberate: configs must mean
 * here exactly what they mean to axolotl, e.g. `1e-4` is a string, `0o17` a string. */
#include "formats/yaml_scalar.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "formats/yaml.h"

typedef struct {
    const char *p, *end;
} cur;

static bool at_end(const cur *c) { return c->p == c->end; }
static bool eat(cur *c, char ch) {
    if (c->p < c->end && *c->p == ch) { c->p++; return true; }
    return false;
}
static void eat_sign(cur *c) { if (!eat(c, '-')) eat(c, '+'); }
/* Consumes characters of the set; returns how many. */
static size_t eat_set(cur *c, const char *set) {
    size_t k = 0;
    while (c->p < c->end && *c->p && strchr(set, *c->p)) { c->p++; k++; }
    return k;
}

static bool is_one_of(const char *s, size_t n, const char *const *words) {
    for (; *words; words++)
        if (strlen(*words) == n && memcmp(*words, s, n) == 0) return true;
    return false;
}

static const char *const bool_words[] = {
    "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
    "on", "On", "ON", "off", "Off", "OFF", NULL};
static const char *const null_words[] = {"", "~", "null", "Null", "NULL", NULL};

#define DIGITS "0123456789"
#define DIGITS_ "0123456789_"

/* (:[0-5]?[0-9])+ */
static bool eat_sexagesimal(cur *c) {
    size_t groups = 0;
    while (eat(c, ':')) {
        const char *a = c->p;
        if (eat_set(c, DIGITS) == 0) return false;
        size_t k = (size_t)(c->p - a);
        if (k > 2 || (k == 2 && a[0] > '5')) return false;
        groups++;
    }
    return groups > 0;
}

/* [eE][-+][0-9]+ (optional) */
static bool eat_exponent(cur *c) {
    if (!eat(c, 'e') && !eat(c, 'E')) return true;
    if (!eat(c, '-') && !eat(c, '+')) return false;
    return eat_set(c, DIGITS) > 0;
}

static bool match_int(const char *s, size_t n) {
    cur c = {s, s + n};
    eat_sign(&c);
    if (eat(&c, '0')) {
        if (at_end(&c)) return true;
        if (eat(&c, 'b')) return eat_set(&c, "01_") > 0 && at_end(&c);
        if (eat(&c, 'x')) return eat_set(&c, "0123456789abcdefABCDEF_") > 0 && at_end(&c);
        return eat_set(&c, "01234567_") > 0 && at_end(&c);
    }
    if (at_end(&c) || !strchr("123456789", *c.p)) return false;
    eat_set(&c, DIGITS_);
    if (at_end(&c)) return true;
    return eat_sexagesimal(&c) && at_end(&c);
}

static bool match_special_float(const char *s, size_t n) {
    static const char *const inf[] = {".inf", ".Inf", ".INF", NULL};
    static const char *const nan[] = {".nan", ".NaN", ".NAN", NULL};
    if (is_one_of(s, n, nan)) return true;
    if (n > 0 && (*s == '-' || *s == '+')) { s++; n--; }
    return is_one_of(s, n, inf);
}

static bool match_float(const char *s, size_t n) {
    if (match_special_float(s, n)) return true;
    cur c = {s, s + n};
    if (eat(&c, '.')) /* \.[0-9][0-9_]*(exp)? */
        return !at_end(&c) && isdigit((unsigned char)*c.p) && eat_set(&c, DIGITS_) &&
               eat_exponent(&c) && at_end(&c);
    eat_sign(&c);
    if (at_end(&c) || !isdigit((unsigned char)*c.p)) return false;
    eat_set(&c, DIGITS_);
    if (!at_end(&c) && *c.p == ':') { /* base 60: [0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* */
        if (!eat_sexagesimal(&c) || !eat(&c, '.')) return false;
        eat_set(&c, DIGITS_);
        return at_end(&c);
    }
    if (!eat(&c, '.')) return false;
    eat_set(&c, DIGITS_);
    return eat_exponent(&c) && at_end(&c);
}

yml_tag yml_resolve_plain(const char *s, size_t n) {
    if (is_one_of(s, n, bool_words)) return YML_T_BOOL;
    if (is_one_of(s, n, null_words)) return YML_T_NULL;
    if (n == 2 && s[0] == '<' && s[1] == '<') return YML_T_MERGE;
    if (n == 1 && s[0] == '=') return YML_T_UNKNOWN;
    if (n > 0 && strchr("-+0123456789.", s[0])) {
        if (match_float(s, n)) return YML_T_FLOAT;
        if (match_int(s, n)) return YML_T_INT;
    }
    return YML_T_STR;
}

yml_tag yml_tag_from_name(const char *tag) {
    static const struct { const char *name; yml_tag t; } tags[] = {
        {"str", YML_T_STR}, {"int", YML_T_INT}, {"float", YML_T_FLOAT}, {"bool", YML_T_BOOL},
        {"null", YML_T_NULL}, {"merge", YML_T_MERGE}, {"map", YML_T_MAP}, {"seq", YML_T_SEQ},
    };
    static const char prefix[] = "tag:yaml.org,2002:";
    if (strncmp(tag, prefix, sizeof prefix - 1) != 0) return YML_T_UNKNOWN;
    tag += sizeof prefix - 1;
    for (size_t i = 0; i < sizeof tags / sizeof *tags; i++)
        if (!strcmp(tag, tags[i].name)) return tags[i].t;
    return YML_T_UNKNOWN;
}

/* The scalar without '_', optionally lowercased (PyYAML's value.replace('_', '')). */
static char *strip_underscores(const char *s, size_t n, bool lower) {
    char *o = nt_xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_') o[k++] = lower ? (char)tolower((unsigned char)s[i]) : s[i];
    o[k] = '\0';
    return o;
}

/* Unsigned digits of a base into *out; false on a bad digit, emptiness or overflow. */
static bool parse_digits(const char *s, int base, uint64_t *out) {
    uint64_t v = 0;
    if (!*s) return false;
    for (; *s; s++) {
        int d = isdigit((unsigned char)*s) ? *s - '0'
                : isalpha((unsigned char)*s) ? tolower((unsigned char)*s) - 'a' + 10 : 99;
        if (d >= base || v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return true;
}

static val *signed_int(int sign, uint64_t mag, const char **problem) {
    if (sign > 0 && mag <= INT64_MAX) return val_int((int64_t)mag);
    if (sign < 0 && mag <= (uint64_t)INT64_MAX + 1) return val_int((int64_t)(0 - mag));
    *problem = "integer out of range";
    return NULL;
}

/* Base 60: "1:30" = 90. */
static bool sexagesimal_int(const char *s, uint64_t *out) {
    uint64_t total = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        unsigned long long part = strtoull(p, &end, 10);
        if (end == p || errno || (*end && *end != ':') || !isdigit((unsigned char)*p)) return false;
        if (total > (UINT64_MAX - part) / 60) return false;
        total = total * 60 + part;
        p = *end ? end + 1 : end;
    }
    *out = total;
    return p > s && p[-1] != ':';
}

/* Decimal integers too large for int64 become the double Python's json round trip gives. */
static val *big_decimal(int sign, const char *digits) {
    char *t = nt_xasprintf("%s%s", sign < 0 ? "-" : "", digits);
    val *v = val_float(strtod(t, NULL));
    free(t);
    return v;
}

static val *construct_int(const char *s, size_t n, const char **problem) {
    char *t = strip_underscores(s, n, false), *v = t;
    int sign = 1;
    uint64_t mag = 0;
    val *out = NULL;
    if (*v == '-') sign = -1;
    if (*v == '-' || *v == '+') v++;
    *problem = "invalid integer";
    if (!strcmp(v, "0")) out = val_int(0);
    else if (!strncmp(v, "0b", 2)) { if (parse_digits(v + 2, 2, &mag)) out = signed_int(sign, mag, problem); }
    else if (!strncmp(v, "0x", 2)) { if (parse_digits(v + 2, 16, &mag)) out = signed_int(sign, mag, problem); }
    else if (*v == '0') { /* Python's int(v, 8) also takes a 0o prefix */
        const char *d = (v[1] == 'o' || v[1] == 'O') ? v + 2 : v;
        if (parse_digits(d, 8, &mag)) out = signed_int(sign, mag, problem);
    } else if (strchr(v, ':')) { if (sexagesimal_int(v, &mag)) out = signed_int(sign, mag, problem); }
    else if (*v && strspn(v, DIGITS) == strlen(v)) {
        out = parse_digits(v, 10, &mag) ? signed_int(sign, mag, problem) : NULL;
        if (!out) out = big_decimal(sign, v); /* beyond int64, as Python's big int via JSON */
    }
    free(t);
    return out;
}

/* Python float() of an underscore-free lowercase string: decimal or inf/nan words only. */
static bool python_float(const char *s, double *out) {
    if (!*s || strpbrk(s, "xp(") || isspace((unsigned char)*s)) return false;
    char *end;
    *out = strtod(s, &end);
    return *end == '\0';
}

static bool sexagesimal_float(char *s, double *out) {
    double parts[64];
    int np = 0;
    for (char *tok = s, *colon; tok; tok = colon ? colon + 1 : NULL) {
        colon = strchr(tok, ':');
        if (colon) *colon = '\0';
        if (np == 64 || !python_float(tok, &parts[np++])) return false;
    }
    double v = 0.0, base = 1.0; /* same order of operations as PyYAML, for bit-equal sums */
    for (int i = np - 1; i >= 0; i--) {
        v += parts[i] * base;
        base *= 60;
    }
    *out = v;
    return true;
}

static val *construct_float(const char *s, size_t n, const char **problem) {
    char *t = strip_underscores(s, n, true), *v = t;
    double sign = 1.0, f = 0.0;
    bool ok = true;
    if (*v == '-') sign = -1.0;
    if (*v == '-' || *v == '+') v++;
    if (!strcmp(v, ".inf")) f = INFINITY;
    else if (!strcmp(v, ".nan")) { f = NAN; sign = 1.0; }
    else if (strchr(v, ':')) ok = sexagesimal_float(v, &f);
    else ok = python_float(v, &f);
    free(t);
    if (!ok) { *problem = "invalid float"; return NULL; }
    return val_float(sign * f);
}

static val *construct_bool(const char *s, size_t n, const char **problem) {
    static const char *const yes[] = {"yes", "true", "on", NULL}, *const no[] = {"no", "false", "off", NULL};
    char *t = strip_underscores(s, n, true);
    size_t k = strlen(t);
    val *out = is_one_of(t, k, yes) ? val_bool(true) : is_one_of(t, k, no) ? val_bool(false) : NULL;
    /* strip_underscores dropped '_' too; PyYAML would not, so only accept when none existed */
    if (k != n) out = NULL;
    free(t);
    if (!out) *problem = "invalid boolean";
    return out;
}

val *yml_construct_scalar(yml_tag t, const char *s, size_t n, const char **problem) {
    switch (t) {
    case YML_T_STR: return val_strn(s, n);
    case YML_T_NULL: return val_null();
    case YML_T_BOOL: return construct_bool(s, n, problem);
    case YML_T_INT: return construct_int(s, n, problem);
    case YML_T_FLOAT: return construct_float(s, n, problem);
    default: *problem = "could not determine a constructor for the tag"; return NULL;
    }
}
