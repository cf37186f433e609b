/* Fuzzes the YAML parser: any input must give a value or an error, never a crash, a leak or
 * unbounded memory (aliases, depth). */
#include "formats/yaml.h"
#include "fuzz.h"

static void fuzz_seeds(fuzz_corpus *c) {
    static const char *seeds[] = {
        "a: 1\nb: [1.5, yes, ~, 0x1F, 1:30, 1.0e-4, 1e-4]\nc: {d: 'e', f: \"g\\n\"}\n",
        "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\ne: [*b, *b]\n",
        "a: &a [x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n",
        "v: |\n  literal\n  text\nw: >-\n  folded\n  text\n",
        "- - - [1, 2]\n  - {a: b}\n- !!str 12\n- !!int 0o17\n- !!float 3\n",
        "datasets:\n  - path: x/y\n    type: chat_template\n    roles_to_train: [assistant]\n",
        "? complex\n: value\n1: int key\n~: null key\n",
        "%YAML 1.1\n---\nx: !!bool yes\n...\n",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) fuzz_add(c, seeds[i], strlen(seeds[i]));
}

static void fuzz_target(const uint8_t *data, size_t n) {
    val *v = NULL, *locs = NULL;
    nt_err err = {0};
    if (yml_parse_ex((const char *)data, n, "fuzz", &v, &locs, &err) == NT_OK) {
        val_unref(v);
        val_unref(locs);
    }
}

FUZZ_MAIN()
