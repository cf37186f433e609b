/* newt inspect PATH: tensors, dtypes, shapes and parameter counts of a safetensors file or a
 * model folder; for a folder with config.json also the architecture summary, the parameter
 * count the config implies, and a check of the checkpoint against the expected tensors. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "model/m4_config.h"
#include "model/m4_names.h"

typedef struct {
    int64_t tensors[M4_GROUP_COUNT];
    uint64_t params[M4_GROUP_COUNT], bytes[M4_GROUP_COUNT];
    unsigned dtypes[M4_GROUP_COUNT]; /* bit set of st_dtype */
    uint64_t total_params, total_bytes;
} group_stats;

/* 119401317952 -> "119,401,317,952" */
static const char *commas(uint64_t v, char *buf) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

static void human_bytes(uint64_t b, char *buf, size_t cap) {
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, u ? "%.2f %s" : "%.0f %s", v, units[u]);
}

static void shape_str(const st_tensor *t, char *buf, size_t cap) {
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < t->ndim && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, i ? ", %" PRId64 : "%" PRId64, t->shape[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

static void collect(const st_model *m, group_stats *g) {
    memset(g, 0, sizeof *g);
    for (size_t i = 0; i < st_model_count(m); i++) {
        const st_tensor *t = st_model_tensor(m, i);
        m4_group k = m4_group_of(t->name);
        g->tensors[k]++;
        g->params[k] += t->numel;
        g->bytes[k] += t->nbytes;
        g->dtypes[k] |= 1u << t->dtype;
        g->total_params += t->numel;
        g->total_bytes += t->nbytes;
    }
}

static void print_groups(const group_stats *g) {
    char n1[32], n2[32];
    printf("\n%-16s %8s %20s %12s  %s\n", "group", "tensors", "parameters", "bytes", "dtypes");
    for (int k = 0; k < M4_GROUP_COUNT; k++) {
        if (!g->tensors[k]) continue;
        char dts[96] = "";
        for (int d = 0; d < ST_DTYPE_COUNT; d++)
            if (g->dtypes[k] & (1u << d))
                snprintf(dts + strlen(dts), sizeof dts - strlen(dts), "%s%s", dts[0] ? " " : "",
                         st_dtype_name((st_dtype)d));
        human_bytes(g->bytes[k], n2, sizeof n2);
        printf("%-16s %8" PRId64 " %20s %12s  %s\n", m4_group_name((m4_group)k), g->tensors[k],
               commas(g->params[k], n1), n2, dts);
    }
    int64_t nt = 0;
    for (int k = 0; k < M4_GROUP_COUNT; k++) nt += g->tensors[k];
    human_bytes(g->total_bytes, n2, sizeof n2);
    printf("%-16s %8" PRId64 " %20s %12s\n", "total", nt, commas(g->total_params, n1), n2);
}

static void print_tensors(const st_model *m) {
    char shape[128];
    printf("\n");
    for (size_t i = 0; i < st_model_count(m); i++) {
        const st_tensor *t = st_model_tensor_sorted(m, i);
        shape_str(t, shape, sizeof shape);
        printf("%-72s %-8s %s\n", t->name, st_dtype_name(t->dtype), shape);
    }
}

static void print_arch(const m4_config *c) {
    const m4_text_config *t = &c->text;
    printf("architecture: %s\n", c->architecture[0] ? c->architecture : "(none given)");
    printf("text (mistral4): %" PRId64 " layers, hidden %" PRId64 ", %" PRId64 " heads, vocab %"
           PRId64 ", %s lm_head\n", t->num_layers, t->hidden_size, t->num_heads, t->vocab_size,
           t->tie_word_embeddings ? "tied" : "untied");
    printf("  MLA: q_lora_rank %" PRId64 ", kv_lora_rank %" PRId64 ", qk head %" PRId64 " (nope %"
           PRId64 " + rope %" PRId64 "), v head %" PRId64 "\n", t->q_lora_rank, t->kv_lora_rank,
           m4_qk_head_dim(t), t->qk_nope_head_dim, t->qk_rope_head_dim, t->v_head_dim);
    printf("  MoE: %" PRId64 " routed experts, top-%" PRId64 " (groups %" PRId64 "/%" PRId64
           "), %" PRId64 " shared, expert width %" PRId64 ", first %" PRId64 " layers dense\n",
           t->n_routed_experts, t->experts_per_tok, t->topk_group, t->n_group,
           t->n_shared_experts, t->moe_intermediate_size, t->first_k_dense_replace);
    if (t->rope.type == M4_ROPE_YARN)
        printf("  RoPE: yarn factor %g, original %" PRId64 " positions, theta %g, llama-4 beta %g\n",
               t->rope.factor, t->rope.original_max_positions, t->rope.theta,
               t->rope.llama_4_scaling_beta);
    else
        printf("  RoPE: default, theta %g\n", t->rope.theta);
    if (!c->has_vision) return;
    const m4_vision_config *v = &c->vision;
    printf("vision (pixtral): %" PRId64 " layers, hidden %" PRId64 ", %" PRId64 " heads x %" PRId64
           ", intermediate %" PRId64 ", patch %" PRId64 ", image %" PRId64 "\n", v->num_layers,
           v->hidden_size, v->num_heads, v->head_dim, v->intermediate_size, v->patch_size,
           v->image_size);
    printf("projector: %" PRId64 "x%" PRId64 " patch merger, %s, %" PRId64 " -> %" PRId64 "\n",
           c->spatial_merge_size, c->spatial_merge_size, c->projector_act, v->hidden_size,
           t->hidden_size);
}

typedef struct {
    const st_model *m;
    int64_t expected, missing, misshaped;
    char first_problem[320];
} check_ctx;

static void check_cb(const m4_tensor_spec *s, void *ud) {
    check_ctx *c = ud;
    c->expected++;
    const st_tensor *t = st_model_find(c->m, s->name);
    if (!t) {
        if (!c->missing++ && !c->misshaped)
            snprintf(c->first_problem, sizeof c->first_problem, "missing tensor %s", s->name);
        return;
    }
    bool same = t->ndim == s->ndim;
    for (int i = 0; same && i < s->ndim; i++) same = t->shape[i] == s->shape[i];
    if (!same && !c->misshaped++ && !c->missing)
        snprintf(c->first_problem, sizeof c->first_problem, "tensor %s has an unexpected shape",
                 s->name);
}

static m4_naming detect_naming(const st_model *m) {
    for (size_t i = 0; i < st_model_count(m); i++) {
        const char *n = st_model_tensor(m, i)->name;
        if (!strncmp(n, "language_model.", 15) || !strncmp(n, "vision_tower.", 13)) return M4_NAMES_LEGACY;
        if (!strncmp(n, "model.language_model.", 21)) return M4_NAMES_V5;
    }
    return M4_NAMES_TEXT;
}

static void print_config_check(const m4_config *c, const st_model *m, const group_stats *g) {
    char n1[32], n2[32];
    m4_param_counts pc;
    m4_count_params(c, &pc);
    bool fp8 = g->tensors[M4_GROUP_FP8_SCALE] > 0;
    printf("\nconfig implies %s parameters", commas((uint64_t)pc.total, n1));
    if (fp8) printf(" + %s FP8 scale values", commas(g->params[M4_GROUP_FP8_SCALE], n2));
    printf("\n");
    check_ctx cc = {.m = m};
    m4_naming naming = detect_naming(m);
    m4_enum_tensors(c, naming, fp8, check_cb, &cc);
    int64_t unexpected = (int64_t)st_model_count(m) - (cc.expected - cc.missing);
    static const char *layout[] = {"text-only (model.*)", "transformers v5 (model.language_model.*)",
                                   "release on-disk (language_model.model.*)"};
    printf("checkpoint layout: %s; %" PRId64 " expected tensors: %" PRId64 " missing, %" PRId64
           " with another shape, %" PRId64 " unexpected\n", layout[naming], cc.expected,
           cc.missing, cc.misshaped, unexpected < 0 ? 0 : unexpected);
    if (cc.first_problem[0]) printf("  first problem: %s\n", cc.first_problem);
}

static void print_index_total(const st_model *m, const group_stats *g) {
    const val *meta = st_model_index_metadata(m);
    const val *tp = meta ? val_dict_get(meta, "total_parameters") : NULL;
    if (!tp || !val_is_number(tp)) return;
    char n1[32];
    uint64_t want = (uint64_t)val_to_double(tp);
    printf("index total_parameters: %s (%s)\n", commas(want, n1),
           want == g->total_params ? "matches the tensors" : "DOES NOT match the tensors");
}

static int usage(void) {
    fprintf(stderr, "usage: newt inspect PATH [--tensors]\n"
                    "  PATH: a .safetensors file, an index .json, or a model folder\n"
                    "  --tensors: also list every tensor (name, dtype, shape)\n");
    return 2;
}

static nt_status load_config(const char *path, m4_config *cfg, bool *have, nt_err *err) {
    *have = false;
    if (!nt_is_dir(path)) return NT_OK;
    char *cp = nt_path_join(path, "config.json");
    nt_status st = NT_OK;
    if (nt_path_exists(cp)) {
        val *v = NULL;
        st = json_parse_file(cp, &v, err);
        if (!st && (st = m4_config_from_val(v, cfg, err))) nt_err_prefix(err, "%s: ", cp);
        *have = st == NT_OK;
        val_unref(v);
    }
    free(cp);
    return st;
}

int cli_cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    bool list = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tensors")) list = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(), 0;
        else if (argv[i][0] == '-' || path) return usage();
        else path = argv[i];
    }
    if (!path) return usage();
    nt_err err = {0};
    m4_config cfg;
    bool have_cfg;
    st_model *m = NULL;
    if (load_config(path, &cfg, &have_cfg, &err) || st_model_open(path, &m, &err)) {
        cli_error("%s", err.msg);
        return 1;
    }
    group_stats g;
    collect(m, &g);
    printf("model: %s (%zu tensor%s in %zu file%s)\n", path, st_model_count(m),
           st_model_count(m) == 1 ? "" : "s", st_model_shard_count(m),
           st_model_shard_count(m) == 1 ? "" : "s");
    if (have_cfg) print_arch(&cfg);
    print_groups(&g);
    print_index_total(m, &g);
    if (have_cfg) print_config_check(&cfg, m, &g);
    if (list) print_tensors(m);
    st_model_close(m);
    return 0;
}
