/* newt init-model (--config CONFIG.json | --preset tiny|bench) --out DIR [--seed N]
 * [--dtype f32|bf16] [--max-shard-size BYTES]: writes a randomly initialized Mistral4 text
 * model (config.json + safetensors) in Hugging Face layout. See model/m4_init.h for the values
 * and the random stream. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "model/m4_init.h"

static int usage(void) {
    fprintf(stderr,
            "usage: newt init-model (--config CONFIG.json | --preset tiny|bench) --out DIR\n"
            "                       [--seed N] [--dtype f32|bf16] [--max-shard-size BYTES]\n"
            "  matrices ~ normal(0, initializer_range), norms = 1; same seed => same bytes.\n"
            "  Shards (model-0000i-of-0000n.safetensors + index) above --max-shard-size\n"
            "  (default 5 GiB).\n");
    return 2;
}

static bool parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') return false;
    *out = v;
    return true;
}

typedef struct {
    const char *config, *preset, *out, *dtype;
    m4_init_opts o;
} init_args;

static int parse_args(int argc, char **argv, init_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) return usage(), -1;
        if (!v) return usage();
        i++;
        if (!strcmp(k, "--config")) a->config = v;
        else if (!strcmp(k, "--preset")) a->preset = v;
        else if (!strcmp(k, "--out")) a->out = v;
        else if (!strcmp(k, "--dtype")) a->dtype = v;
        else if (!strcmp(k, "--seed")) {
            if (!parse_u64(v, &a->o.seed)) return cli_error("--seed: not an integer: %s", v), 2;
        } else if (!strcmp(k, "--max-shard-size")) {
            if (!parse_u64(v, &a->o.max_shard_bytes) || !a->o.max_shard_bytes)
                return cli_error("--max-shard-size: not a positive integer: %s", v), 2;
        } else return usage();
    }
    if (!a->out || !a->config == !a->preset) return usage();
    return 0;
}

int cli_cmd_init_model(int argc, char **argv) {
    init_args a = {.dtype = "f32"};
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    if (!strcmp(a.dtype, "f32")) a.o.dtype = TN_F32;
    else if (!strcmp(a.dtype, "bf16")) a.o.dtype = TN_BF16;
    else return cli_error("--dtype: %s (expected f32 or bf16)", a.dtype), 2;
    char *text = NULL;
    nt_err err = {0};
    if (a.preset) {
        const char *p = m4_init_preset(a.preset);
        if (!p) return cli_error("--preset: %s (expected tiny or bench)", a.preset), 2;
        text = nt_xstrdup(p);
    } else if (nt_read_file(a.config, &text, NULL, &err)) {
        cli_error("%s", err.msg);
        return 1;
    }
    nt_status st = m4_init_write(text, a.out, &a.o, &err);
    free(text);
    if (st) {
        cli_error("%s%s%s", a.config ? a.config : "", a.config ? ": " : "", err.msg);
        return 1;
    }
    printf("wrote %s (seed %" PRIu64 ", %s)\n", a.out, a.o.seed, a.dtype);
    return 0;
}
