/* Optimizers against references: torch.optim.AdamW / SGD + clip_grad_norm_ + LambdaLR
 * (tests/unit/oracles/optim_torch.py, needs python3-torch) and bitsandbytes' 8-bit AdamW
 * re-implemented from the spec in numpy (oracles/bnb8_ref.py); state save/load round trips;
 * HF's weight-decay rule on hand-derived names. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "test.h"
#include "py_oracle.h"

#include "base/mem.h"
#include "formats/safetensors.h"
#include "tensor/qmap.h"
#include "train/optim.h"
#include "train/optim_internal.h"
#include "train/schedule.h"

enum { STEPS = 50, WARM = 5 };
#define LR 1e-3

typedef struct {
    size_t n;
    double wd;
} tensor_spec;

/* Initial params, then STEPS rounds of gradients, the scale varying so that clipping at 1.0
 * is active on some steps and not on others. */
static float *gen_data(const tensor_spec *ts, size_t nt, size_t *total_out) {
    size_t per = 0;
    for (size_t i = 0; i < nt; i++) per += ts[i].n;
    float *d = nt_xmalloc(per * (STEPS + 1) * sizeof(float));
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < per; i++) d[i] = (float)(0.5 * py_oracle_gauss(&s));
    for (int k = 0; k < STEPS; k++) {
        double scale = 0.001 * (1 + k % 5);
        for (size_t i = 0; i < per; i++)
            d[per * (k + 1) + i] = (float)(scale * py_oracle_gauss(&s));
    }
    *total_out = per;
    return d;
}

/* Runs an oracle script; returns its output (n floats) or NULL, *skip set when it exited 77. */
static float *run_oracle(const char *script, const char *args, const float *data, size_t ndata,
                         size_t nout, int *skip) {
    *skip = 0;
    if (!py_oracle_available()) {
        *skip = 1;
        return NULL;
    }
    const char *in = py_oracle_write_f32("optim_in.bin", data, ndata);
    if (!in) return NULL;
    char *inp = nt_xstrdup(in);
    char *outp = nt_xasprintf("%s/optim_out.bin", test_tmpdir());
    char *cmd = nt_xasprintf(PY_ORACLE_PYTHON " tests/unit/oracles/%s %s %s %s", script, args, inp, outp);
    int rc = system(cmd);
    float *out = NULL;
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        *skip = 1;
    } else if (rc == 0) {
        out = nt_xmalloc(nout * sizeof(float) + 1);
        FILE *f = fopen(outp, "rb");
        size_t got = f ? fread(out, sizeof(float), nout + 1, f) : 0;
        if (f) fclose(f);
        if (got != nout) {
            fprintf(stderr, "  oracle %s: %zu floats, expected %zu\n", script, got, nout);
            free(out);
            out = NULL;
        }
    }
    free(cmd);
    free(inp);
    free(outp);
    return out;
}

/* Max over i of |a-b| / (|b| + floor): relative error, with a floor for values near 0. */
static double max_rel(const float *a, const float *b, size_t n, double floor) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / (fabs((double)b[i]) + floor);
        if (!(e <= m)) m = e;
    }
    return m;
}

/* The run on the C side: params from data, clip (if max_norm > 0), step with the cosine
 * LambdaLR; norms[k] gets step k's pre-clip norm. Returns the optimizer (params in *pbuf). */
static tr_optim *run_c(const tr_optim_hparams *hp, const tensor_spec *ts, size_t nt,
                       const float *data, size_t per, double max_norm, float *norms,
                       float **pbuf, float **gbuf) {
    float *p = nt_xmalloc(per * sizeof(float)), *g = nt_xmalloc(per * sizeof(float));
    memcpy(p, data, per * sizeof(float));
    tr_param ps[4];
    char names[4][32];
    for (size_t i = 0, off = 0; i < nt; off += ts[i].n, i++) {
        snprintf(names[i], sizeof names[i], "t%zu", i);
        ps[i] = (tr_param){names[i], p + off, g + off, ts[i].n, ts[i].wd, false};
    }
    tr_optim *o = NULL;
    nt_err err = {0};
    CHECK(tr_optim_new(hp, ps, nt, &o, &err) == NT_OK);
    tr_sched sch;
    CHECK(tr_sched_init(&sch, "cosine", LR, WARM, STEPS, false, 0, &err) == NT_OK);
    for (int k = 0; k < STEPS && o; k++) {
        memcpy(g, data + per * (k + 1), per * sizeof(float));
        if (max_norm > 0) norms[k] = tr_optim_clip_grad_norm(o, max_norm);
        tr_optim_step(o, tr_sched_lr(&sch, k));
    }
    *pbuf = p;
    *gbuf = g;
    return o;
}

static char *sizes_arg(const tensor_spec *ts, size_t nt) {
    nt_buf b = {0};
    for (size_t i = 0; i < nt; i++) nt_buf_printf(&b, "%s%zu", i ? "," : "", ts[i].n);
    nt_buf_printf(&b, " ");
    for (size_t i = 0; i < nt; i++) nt_buf_printf(&b, "%s%.17g", i ? "," : "", ts[i].wd);
    return nt_buf_take(&b, NULL);
}

/* Three tensors: decayed, decayed and spanning two 64K chunks, not decayed (a "bias"). */
static const tensor_spec k_torch_ts[] = {{1000, 0.1}, {70000, 0.1}, {37, 0.0}};
#define NT_TORCH 3

/* Compares params and states of the C run with the torch output. */
static size_t count_diff_f32(const void *a, const float *b, size_t n);

/* Compares params and states of the C run with the torch output: worst relative errors of
 * norms, params, states in worst[0..2], number of differing floats (params + states) in *ndiff. */
static void compare_torch(tr_optim *o, const float *p, const float *ref, size_t per,
                          const float *norms, int nstate, double *worst, size_t *ndiff) {
    const float *rp = ref + STEPS;
    worst[0] = max_rel(norms, ref, STEPS, 1e-30);
    worst[1] = max_rel(p, rp, per, 1e-2);
    worst[2] = 0;
    *ndiff = count_diff_f32(p, rp, per);
    const float *rs = rp + per;
    nt_err err = {0};
    char *path = nt_xasprintf("%s/st.safetensors", test_tmpdir());
    CHECK(tr_optim_save(o, path, &err) == NT_OK);
    st_file *f = NULL;
    CHECK(st_file_open(path, &f, &err) == NT_OK);
    static const char *fields[] = {"exp_avg", "exp_avg_sq", "momentum_buffer"};
    for (size_t i = 0; f && i < NT_TORCH; i++)
        for (int j = 0; j < nstate; j++) {
            char key[64];
            snprintf(key, sizeof key, "state.t%zu.%s", i, fields[nstate == 1 ? 2 : j]);
            const st_tensor *t = st_file_find(f, key);
            CHECK_MSG(t && t->numel == k_torch_ts[i].n, "%s", key);
            if (!t) continue;
            /* relative to the tensor's largest magnitude: moments cross zero */
            double mx = 0;
            for (size_t k = 0; k < t->numel; k++) mx = fmax(mx, fabs(rs[k]));
            double e = max_rel(t->data, rs, t->numel, mx);
            if (e > worst[2]) worst[2] = e;
            *ndiff += count_diff_f32(t->data, rs, t->numel);
            rs += t->numel;
        }
    st_file_close(f);
    free(path);
}

/* torch 1.13 (the oracle here) computes exp_avg as mul_(b1).add_(g, 1-b1); torch 2.x and newt
 * use lerp_, which rounds differently in the last bit; hence a tolerance, not bit equality. */
#define TOL_P 2e-6
#define TOL_STATE 1e-5

/* mode: the oracle's ("adamw" = torch.optim.AdamW, "adamw2" = torch 2.x's step, "sgd");
 * exact: every param and state float must equal torch's. */
static void torch_case(const char *mode, tr_optim_kind kind, double momentum, double max_norm,
                       bool exact) {
    size_t per;
    float *data = gen_data(k_torch_ts, NT_TORCH, &per);
    tr_optim_hparams hp = tr_optim_defaults(kind);
    hp.momentum = momentum;
    int nstate = kind == TR_OPT_ADAMW ? 2 : momentum != 0;
    char *sz = sizes_arg(k_torch_ts, NT_TORCH);
    char *args = nt_xasprintf("%s %s %d %d %d %.17g %.17g %.17g",
                              mode, sz, STEPS, WARM, STEPS,
                              LR, momentum, max_norm);
    int skip;
    float *ref = run_oracle("optim_torch.py", args, data, per * (STEPS + 1),
                            STEPS * (max_norm > 0) + per * (1 + nstate), &skip);
    if (skip) {
        free(data), free(sz), free(args);
        SKIP("python3 with torch not available");
    }
    CHECK(ref != NULL);
    float norms[STEPS], *p = NULL, *g = NULL;
    tr_optim *o = run_c(&hp, k_torch_ts, NT_TORCH, data, per, max_norm, norms, &p, &g);
    if (ref && o) {
        double w[3];
        size_t nd = 0;
        if (max_norm > 0) {
            compare_torch(o, p, ref, per, norms, nstate, w, &nd);
        } else { /* no norms in front of the params */
            float *shifted = nt_xmalloc((STEPS + per * (1 + nstate)) * sizeof(float));
            memset(shifted, 0, STEPS * sizeof(float));
            memcpy(shifted + STEPS, ref, per * (1 + nstate) * sizeof(float));
            memset(norms, 0, sizeof norms);
            compare_torch(o, p, shifted, per, norms, nstate, w, &nd);
            free(shifted);
        }
        printf("  %s momentum %g clip %g: max rel err grad_norm %.3g, params %.3g, state %.3g;"
               " %zu floats differ\n", mode, momentum, max_norm, w[0], w[1], w[2], nd);
        if (exact) CHECK_MSG(nd == 0, "%zu floats differ from torch", nd);
        CHECK_MSG(w[0] <= 1e-6, "grad_norm rel err %g", w[0]);
        CHECK_MSG(w[1] <= TOL_P, "param rel err %g", w[1]);
        CHECK_MSG(w[2] <= TOL_STATE, "state rel err %g", w[2]);
    }
    tr_optim_free(o);
    free(p), free(g), free(ref), free(data), free(sz), free(args);
}

/* Clipping: torch's f32 norm reduction and newt's (double sums) differ by an ulp or two, so
 * the clipped gradients and everything after differ in the last bits. */
TEST(adamw_matches_torch_with_clip_and_cosine) { torch_case("adamw", TR_OPT_ADAMW, 0, 1.0, false); }
/* Without clipping, torch 2.x's AdamW step run by torch's kernels: bit for bit. */
TEST(adamw_matches_torch2_step_exactly) { torch_case("adamw2", TR_OPT_ADAMW, 0, 0, true); }
TEST(sgd_matches_torch_with_clip) { torch_case("sgd", TR_OPT_SGD, 0, 1.0, false); }
TEST(sgd_momentum_matches_torch_exactly) { torch_case("sgd", TR_OPT_SGD, 0.9, 0, true); }

/* ---- bitsandbytes 8-bit AdamW against the numpy re-implementation of the spec ---- */

/* 1000 elements: 32-bit path; 5000: 8-bit, last block padded; 70000: 8-bit over two chunks. */
static const tensor_spec k_bnb_ts[] = {{1000, 0.1}, {5000, 0.1}, {70000, 0.0}};
#define NT_BNB 3

static size_t bnb_out_len(void) {
    size_t n = 512;
    for (size_t i = 0; i < NT_BNB; i++) {
        size_t e = k_bnb_ts[i].n, nb = (e + 255) / 256;
        n += e + (e < TR_BNB_MIN_8BIT ? 2 * e : 2 * e + 2 * nb);
    }
    return n;
}

static size_t count_diff_f32(const void *a, const float *b, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += memcmp((const float *)a + i, b + i, 4) != 0;
    return d;
}

static size_t count_diff_u8(const uint8_t *a, const float *b, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += a[i] != (uint8_t)b[i];
    return d;
}

/* Checks every saved state tensor of the 8-bit run against the reference, bit for bit. */
static void compare_bnb_state(const st_file *f, const float *rs) {
    for (size_t i = 0; i < NT_BNB; i++) {
        size_t n = k_bnb_ts[i].n, nb = (n + 255) / 256;
        bool is8 = n >= TR_BNB_MIN_8BIT;
        const char *fld[4] = {"exp_avg", "exp_avg_sq", "state1", "state2"};
        for (int j = 0; j < 2; j++) {
            char key[64];
            snprintf(key, sizeof key, "state.t%zu.%s", i, fld[is8 * 2 + j]);
            const st_tensor *t = st_file_find(f, key);
            CHECK_MSG(t && t->numel == n, "%s", key);
            if (t) {
                size_t d = is8 ? count_diff_u8(t->data, rs, n) : count_diff_f32(t->data, rs, n);
                CHECK_MSG(d == 0, "%s: %zu of %zu differ", key, d, n);
            }
            rs += n;
        }
        for (int j = 0; is8 && j < 2; j++) {
            char key[64];
            snprintf(key, sizeof key, "state.t%zu.absmax%d", i, j + 1);
            const st_tensor *t = st_file_find(f, key);
            CHECK_MSG(t && t->numel == nb, "%s", key);
            if (t) CHECK_MSG(count_diff_f32(t->data, rs, nb) == 0, "%s differs", key);
            rs += nb;
        }
    }
}

TEST(adamw_8bit_matches_spec_reference) {
    size_t per;
    float *data = gen_data(k_bnb_ts, NT_BNB, &per);
    data[per * 11 + 1000 + 17] = INFINITY; /* step 10, tensor 1: a non-finite gradient */
    char *sz = sizes_arg(k_bnb_ts, NT_BNB);
    char *args = nt_xasprintf("%s %d %d %d %.17g", sz, STEPS, WARM, STEPS, LR);
    int skip;
    size_t nout = bnb_out_len();
    float *ref = run_oracle("bnb8_ref.py", args, data, per * (STEPS + 1), nout, &skip);
    if (skip) {
        free(data), free(sz), free(args);
        SKIP("python3 with numpy not available");
    }
    CHECK(ref != NULL);
    tr_optim_hparams hp = tr_optim_defaults(TR_OPT_ADAMW_8BIT);
    float *p = NULL, *g = NULL;
    tr_optim *o = run_c(&hp, k_bnb_ts, NT_BNB, data, per, 0, NULL, &p, &g);
    nt_err err = {0};
    char *path = nt_xasprintf("%s/bnb.safetensors", test_tmpdir());
    st_file *f = NULL;
    if (ref && o && tr_optim_save(o, path, &err) == NT_OK && st_file_open(path, &f, &err) == NT_OK) {
        const st_tensor *q1 = st_file_find(f, "state.t1.qmap1"), *q2 = st_file_find(f, "state.t1.qmap2");
        CHECK(q1 && count_diff_f32(q1->data, ref, 256) == 0);
        CHECK(q2 && count_diff_f32(q2->data, ref + 256, 256) == 0);
        size_t d = count_diff_f32(p, ref + 512, per);
        printf("  8-bit AdamW, 50 steps: %zu of %zu params differ from the reference\n", d, per);
        CHECK_MSG(d == 0, "%zu params differ", d);
        compare_bnb_state(f, ref + 512 + per);
    } else {
        CHECK(0);
    }
    st_file_close(f);
    tr_optim_free(o);
    free(path), free(p), free(g), free(ref), free(data), free(sz), free(args);
}

/* ---- checkpoint round trip: stop after 20 steps, reload into a fresh optimizer, go on ---- */

static void roundtrip_case(tr_optim_kind kind, double momentum) {
    static const tensor_spec ts[] = {{300, 0.1}, {5000, 0.05}, {70000, 0.0}};
    size_t per;
    float *data = gen_data(ts, 3, &per);
    float *pa = nt_xmalloc(per * sizeof(float)), *pb = nt_xmalloc(per * sizeof(float));
    float *g = nt_xmalloc(per * sizeof(float));
    memcpy(pa, data, per * sizeof(float));
    tr_param psa[3], psb[3];
    const char *names[3] = {"a.weight", "b.lora_A.weight", "c.bias"};
    for (size_t i = 0, off = 0; i < 3; off += ts[i].n, i++) {
        psa[i] = (tr_param){names[i], pa + off, g + off, ts[i].n, ts[i].wd, false};
        psb[i] = (tr_param){names[i], pb + off, g + off, ts[i].n, ts[i].wd, false};
    }
    tr_optim_hparams hp = tr_optim_defaults(kind);
    hp.momentum = momentum;
    tr_optim *a = NULL, *b = NULL;
    nt_err err = {0};
    CHECK(tr_optim_new(&hp, psa, 3, &a, &err) == NT_OK);
    CHECK(tr_optim_new(&hp, psb, 3, &b, &err) == NT_OK);
    char *path = nt_xasprintf("%s/rt.safetensors", test_tmpdir());
    for (int k = 0; k < 40 && a && b; k++) {
        if (k == 20) {
            CHECK(tr_optim_save(a, path, &err) == NT_OK);
            CHECK_MSG(tr_optim_load(b, path, &err) == NT_OK, "%s", err.msg);
            CHECK_EQ_INT(tr_optim_step_count(b), 20);
            memcpy(pb, pa, per * sizeof(float));
        }
        memcpy(g, data + per * (k % STEPS + 1), per * sizeof(float));
        tr_optim_clip_grad_norm(a, 1.0);
        tr_optim_step(a, 1e-3 * (k + 1) / 40);
        if (k >= 20) {
            memcpy(g, data + per * (k % STEPS + 1), per * sizeof(float));
            tr_optim_clip_grad_norm(b, 1.0);
            tr_optim_step(b, 1e-3 * (k + 1) / 40);
        }
    }
    CHECK_MSG(memcmp(pa, pb, per * sizeof(float)) == 0, "%s: resumed run differs",
              tr_optim_kind_name(kind));
    tr_optim_free(a);
    tr_optim_free(b);
    free(path), free(pa), free(pb), free(g), free(data);
}

TEST(state_roundtrip_adamw) { roundtrip_case(TR_OPT_ADAMW, 0); }
TEST(state_roundtrip_adamw_8bit) { roundtrip_case(TR_OPT_ADAMW_8BIT, 0); }
TEST(state_roundtrip_sgd_momentum) { roundtrip_case(TR_OPT_SGD, 0.9); }

TEST(state_load_errors) {
    float p[8] = {0}, g[8] = {0};
    tr_param a = {"w", p, g, 8, 0, false}, b = {"other", p, g, 8, 0, false}, c = {"w", p, g, 4, 0, false};
    tr_optim_hparams hp = tr_optim_defaults(TR_OPT_ADAMW);
    tr_optim *oa = NULL, *ob = NULL, *oc = NULL, *os = NULL;
    nt_err err = {0};
    CHECK(tr_optim_new(&hp, &a, 1, &oa, &err) == NT_OK);
    CHECK(tr_optim_new(&hp, &b, 1, &ob, &err) == NT_OK);
    CHECK(tr_optim_new(&hp, &c, 1, &oc, &err) == NT_OK);
    tr_optim_hparams hs = tr_optim_defaults(TR_OPT_SGD);
    CHECK(tr_optim_new(&hs, &a, 1, &os, &err) == NT_OK);
    char *path = nt_xasprintf("%s/err.safetensors", test_tmpdir());
    tr_optim_step(oa, 0.1);
    CHECK(tr_optim_save(oa, path, &err) == NT_OK);
    CHECK(tr_optim_load(ob, path, &err) == NT_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "state.other.exp_avg");
    CHECK_CONTAINS(err.msg, "err.safetensors");
    CHECK(tr_optim_load(oc, path, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "F32[8], expected F32[4]");
    CHECK(tr_optim_load(os, path, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "adamw_torch, not sgd");
    CHECK_EQ_INT(tr_optim_step_count(ob), 0);
    char *missing = nt_xasprintf("%s/nope.safetensors", test_tmpdir());
    CHECK(tr_optim_load(oa, missing, &err) != NT_OK);
    CHECK_CONTAINS(err.msg, "nope.safetensors");
    /* a file whose metadata is not ours */
    char *bad = nt_xasprintf("%s/bad.safetensors", test_tmpdir());
    int64_t shape[1] = {8};
    for (int k = 0; k < 2; k++) {
        st_writer *w = st_writer_new();
        st_writer_set_metadata(w, "optimizer", "adamw_torch");
        if (k) st_writer_set_metadata(w, "step", "12x");
        CHECK(st_writer_add(w, "state.w.exp_avg", ST_F32, 1, shape, p, &err) == NT_OK);
        CHECK(st_writer_add(w, "state.w.exp_avg_sq", ST_F32, 1, shape, p, &err) == NT_OK);
        CHECK(st_writer_save(w, bad, &err) == NT_OK);
        st_writer_free(w);
        CHECK(tr_optim_load(oa, bad, &err) == NT_EPARSE);
        CHECK_CONTAINS(err.msg, k ? "not a step count: '12x'" : "lacks \"optimizer\" or \"step\"");
    }
    CHECK_EQ_INT(tr_optim_step_count(oa), 1);
    free(bad);
    tr_param dup[2] = {a, a};
    tr_optim *od = NULL;
    CHECK(tr_optim_new(&hp, dup, 2, &od, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "'w' given twice");
    hp.beta2 = 1.0;
    CHECK(tr_optim_new(&hp, &a, 1, &od, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "adam_beta2");
    tr_optim_free(oa), tr_optim_free(ob), tr_optim_free(oc), tr_optim_free(os);
    free(path), free(missing);
}

/* Runs `steps` updates of params split as `sizes` (flags: bnb_32bit) over one buffer. */
static void run_split(tr_optim_kind kind, double mom, const size_t *sizes, const bool *f32,
                      size_t nt, float *p, const float *data, size_t per, int steps) {
    float *g = nt_xmalloc(per * sizeof(float));
    tr_param ps[4];
    char names[4][32];
    memcpy(p, data, per * sizeof(float));
    for (size_t i = 0, off = 0; i < nt; off += sizes[i], i++) {
        snprintf(names[i], sizeof names[i], "w%zu", i);
        ps[i] = (tr_param){names[i], p + off, g + off, sizes[i], 0.05, f32 ? f32[i] : false};
    }
    tr_optim_hparams hp = tr_optim_defaults(kind);
    hp.momentum = mom;
    tr_optim *o = NULL;
    nt_err err = {0};
    CHECK(tr_optim_new(&hp, ps, nt, &o, &err) == NT_OK);
    for (int k = 0; k < steps && o; k++) {
        memcpy(g, data + per * (k + 1), per * sizeof(float));
        tr_optim_step(o, 1e-3);
    }
    tr_optim_free(o);
    free(g);
}

/* The AVX2 + FMA loops and the portable ones give the same bits (NEWT_SIMD=portable). */
TEST(simd_and_portable_paths_agree) {
    static const tensor_spec ts[] = {{5003, 0}};
    size_t per, n = 5003;
    float *data = gen_data(ts, 1, &per);
    float *a = nt_xmalloc(per * sizeof(float)), *b = nt_xmalloc(per * sizeof(float));
    const tr_optim_kind kinds[] = {TR_OPT_ADAMW, TR_OPT_SGD, TR_OPT_SGD, TR_OPT_ADAMW_8BIT};
    const double moms[] = {0, 0, 0.9, 0};
    const char *old = getenv("NEWT_SIMD");
    char *saved = old ? nt_xstrdup(old) : NULL;
    for (int k = 0; k < 4; k++) {
        unsetenv("NEWT_SIMD");
        run_split(kinds[k], moms[k], &n, NULL, 1, a, data, per, 20);
        setenv("NEWT_SIMD", "portable", 1);
        run_split(kinds[k], moms[k], &n, NULL, 1, b, data, per, 20);
        CHECK_MSG(memcmp(a, b, per * sizeof(float)) == 0, "%s momentum %g",
                  tr_optim_kind_name(kinds[k]), moms[k]);
    }
    if (saved) setenv("NEWT_SIMD", saved, 1);
    else unsetenv("NEWT_SIMD");
    free(saved), free(a), free(b), free(data);
}

/* A 5000-element tensor forced to f32 states updates exactly like two 2500-element halves
 * (below min_8bit_size, so f32 states too: the kernel is elementwise). */
TEST(adamw_8bit_embedding_override_uses_f32_states) {
    static const tensor_spec ts[] = {{5000, 0}};
    size_t per;
    float *data = gen_data(ts, 1, &per);
    float *a = nt_xmalloc(per * sizeof(float)), *b = nt_xmalloc(per * sizeof(float));
    size_t whole = 5000, halves[2] = {2500, 2500};
    bool f32 = true;
    run_split(TR_OPT_ADAMW_8BIT, 0, &whole, &f32, 1, a, data, per, 20);
    run_split(TR_OPT_ADAMW_8BIT, 0, halves, NULL, 2, b, data, per, 20);
    CHECK(memcmp(a, b, per * sizeof(float)) == 0);
    bool f8 = false; /* without the flag the 8-bit path rounds differently */
    run_split(TR_OPT_ADAMW_8BIT, 0, &whole, &f8, 1, a, data, per, 20);
    CHECK(memcmp(a, b, per * sizeof(float)) != 0);
    free(a), free(b), free(data);
}

/* The lockstep quantizer against tn_qmap_quantize (the reference search) on both maps, for
 * random values, every code, the midpoints between codes and their neighbours, and specials. */
TEST(lockstep_quantizer_matches_reference_search) {
    float maps[2][256];
    tn_qmap_dynamic(true, maps[0]);
    tn_qmap_dynamic(false, maps[1]);
    float x[4096];
    size_t n = 0;
    uint64_t s = 7;
    for (int i = 0; i < 256; i++) {
        float c = maps[0][i], d = i < 255 ? (maps[0][i] + maps[0][i + 1]) * 0.5f : 1.5f;
        x[n++] = c, x[n++] = d, x[n++] = nextafterf(d, -2), x[n++] = nextafterf(d, 2);
        c = maps[1][i], d = i < 255 ? (maps[1][i] + maps[1][i + 1]) * 0.5f : 1.5f;
        x[n++] = c, x[n++] = d, x[n++] = nextafterf(d, -2), x[n++] = nextafterf(d, 2);
    }
    const float special[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 1.0f, -1.0f, 2.0f, -2.0f, 1e-30f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) x[n++] = special[i];
    while (n < 4096) {
        double u = py_oracle_uniform(&s) * 2 - 1;
        x[n++] = (float)(u * pow(10, -7 * py_oracle_uniform(&s)));
    }
    const char *old = getenv("NEWT_SIMD");
    char *saved = old ? nt_xstrdup(old) : NULL;
    for (int pass = 0; pass < 2; pass++) {
        if (pass) setenv("NEWT_SIMD", "portable", 1);
        else unsetenv("NEWT_SIMD");
        for (int mi = 0; mi < 2; mi++) {
            int bad = 0;
            for (size_t off = 0; off < n; off += 256) {
                uint8_t q[256];
                size_t cnt = n - off < 256 ? n - off : 256;
                tr_quantize_many(tr_use_simd(), maps[mi], x + off, cnt, q);
                for (size_t j = 0; j < cnt; j++)
                    if (q[j] != tn_qmap_quantize(maps[mi], x[off + j]) && !bad++)
                        fprintf(stderr, "  map %d x=%a: %d != %d\n", mi, x[off + j], q[j],
                                tn_qmap_quantize(maps[mi], x[off + j]));
            }
            CHECK_MSG(bad == 0, "pass %d map %d: %d differ", pass, mi, bad);
        }
    }
    if (saved) setenv("NEWT_SIMD", saved, 1);
    else unsetenv("NEWT_SIMD");
    free(saved);
}

/* ---- names, decay rule, clipping by hand ---- */

TEST(optimizer_names) {
    tr_optim_kind k;
    CHECK(tr_optim_parse_name("adamw_torch_fused", &k) && k == TR_OPT_ADAMW);
    CHECK(tr_optim_parse_name("adamw_hf", &k) && k == TR_OPT_ADAMW);
    CHECK(tr_optim_parse_name("paged_adamw_8bit", &k) && k == TR_OPT_ADAMW_8BIT);
    CHECK(tr_optim_parse_name("adamw_8bit", &k) && k == TR_OPT_ADAMW_8BIT);
    CHECK(tr_optim_parse_name("sgd", &k) && k == TR_OPT_SGD);
    CHECK(!tr_optim_parse_name("adamw_torch_8bit", &k)); /* torchao: a different algorithm */
    CHECK(!tr_optim_parse_name("lion_8bit", &k));
}

/* Expected values derived by hand from the regexes of spec §5.3. */
TEST(weight_decay_rule) {
    CHECK(!tr_param_decays("model.language_model.layers.0.input_layernorm.weight"));
    CHECK(!tr_param_decays("model.language_model.layers.3.self_attn.kv_a_layernorm.weight"));
    CHECK(!tr_param_decays("model.language_model.norm.weight"));
    CHECK(!tr_param_decays("model.vision_tower.transformer.layers.0.attention_norm.weight"));
    CHECK(!tr_param_decays("model.multi_modal_projector.norm.weight"));
    CHECK(!tr_param_decays("norm.weight"));
    CHECK(!tr_param_decays("x.q_a_norm"));
    CHECK(!tr_param_decays("lm_head.Bias"));
    CHECK(!tr_param_decays("a.RMSNorm.weight"));
    CHECK(tr_param_decays("model.vision_tower.ln_pre.weight"));
    CHECK(tr_param_decays("model.language_model.layers.0.self_attn.q_a_proj.lora_A.default.weight"));
    CHECK(tr_param_decays("lm_head.weight"));
    CHECK(tr_param_decays("a.enorm.weight"));     /* "norm" not at a component start */
    CHECK(tr_param_decays("a.norm_x.weight"));    /* nor at a component end */
    CHECK(tr_param_decays("a.normalizer.weight"));
}

TEST(clip_grad_norm_by_hand) {
    /* grads (3, 4) and (12): norms 5 and 12, total 13; max_norm 6.5 -> coef 6.5/(13+1e-6) */
    float p[3] = {0}, g[3] = {3, 4, 12};
    tr_param ps[2] = {{"a", p, g, 2, 0, false}, {"b", p + 2, g + 2, 1, 0, false}};
    tr_optim_hparams hp = tr_optim_defaults(TR_OPT_SGD);
    tr_optim *o = NULL;
    nt_err err = {0};
    CHECK(tr_optim_new(&hp, ps, 2, &o, &err) == NT_OK);
    CHECK(tr_optim_grad_norm(o) == 13.0f);
    CHECK(g[0] == 3.0f);
    float coef = (1.0f / (13.0f + 1e-6f)) * 6.5f;
    CHECK(tr_optim_clip_grad_norm(o, 6.5) == 13.0f);
    CHECK(g[0] == 3.0f * coef && g[1] == 4.0f * coef && g[2] == 12.0f * coef);
    CHECK_NEAR(g[2], 6.0, 1e-6);
    float before = g[1];
    CHECK_NEAR(tr_optim_clip_grad_norm(o, 100.0), 6.5, 1e-6); /* coef clamps to 1 */
    CHECK(g[1] == before);
    tr_optim_free(o);
}

TEST_MAIN()
