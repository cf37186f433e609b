/* Fuzzes the JSON parser: any input must give a value or an error, never a crash or leak. */
#include "formats/json.h"
#include "fuzz.h"

static void fuzz_seeds(fuzz_corpus *c) {
    static const char *seeds[] = {
        "{\"a\": [1, 2.5, -3e-7, true, false, null], \"b\": {\"c\": \"d\\u00e9\\ud83d\\ude00\"}}",
        "[[[[[]]]]]", "\"\\n\\t\\\\\\\"\"", "-0", "1e400", "12345678901234567890", "{}",
        "[NaN, Infinity, -Infinity]", "\"\xc3\xa9\xf0\x9f\x98\x80\"",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) fuzz_add(c, seeds[i], strlen(seeds[i]));
}

static void fuzz_target(const uint8_t *data, size_t n) {
    val *v = NULL;
    nt_err err = {0};
    if (json_parse((const char *)data, n, &v, &err) == NT_OK) val_unref(v);
}

FUZZ_MAIN()
