/* End-to-end tests of the training loop (src/train/trainer.h) on a tiny Mistral 4 model made
 * on the spot (m4_init_write + a byte-level tokenizer), with a learnable task: the answer to
 * "next: c" is always "d" (a fixed function of the question). */
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "formats/safetensors.h"
#include "model/m4_init.h"
#include "model/m4_load.h"
#include "test.h"
#include "tokenizer/tok.h"
#include "train/lora_spec.h"
#include "train/trainer.h"

#define TMPL "{% for m in messages %}{% if m.role == 'user' %}[INST]{{ m.content }}[/INST]" \
             "{% else %}{{ m.content }}</s>{% endif %}{% endfor %}"

/* tmpdir/model: the tiny preset's weights and a byte-level Tekken tokenizer (ids < 294 < 512);
 * tmpdir/data.jsonl: 64 conversations over 8 letters. Made once per binary. */
static const char *env_dir(void) {
    static char dir[512];
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "%s/model", test_tmpdir());
    nt_err err = {0};
    m4_init_opts o = {.seed = 1, .dtype = TN_F32};
    if (m4_init_write(m4_init_preset("tiny"), dir, &o, &err)) fprintf(stderr, "  init: %s\n", err.msg);
    tok_ranks r;
    tok_ranks_byte_level(&r, 38);
    char *tj = nt_path_join(dir, "tekken.json");
    if (tok_write_tekken_json(&r, tj, &err)) fprintf(stderr, "  tokenizer: %s\n", err.msg);
    tok_ranks_free(&r);
    free(tj);
    nt_buf b = {0};
    for (int i = 0; i < 64; i++) {
        char q = (char)('a' + (i * 5) % 8);
        nt_buf_printf(&b, "{\"messages\": [{\"role\": \"user\", \"content\": \"next: %c\"}, "
                          "{\"role\": \"assistant\", \"content\": \"%c\"}]}\n", q, q + 1);
    }
    char *dp = nt_path_join(test_tmpdir(), "data.jsonl");
    if (nt_write_file_atomic(dp, b.data, b.len, &err)) fprintf(stderr, "  data: %s\n", err.msg);
    free(dp);
    nt_buf_free(&b);
    return dir;
}

/* A config over the tiny environment; `extra` is more YAML (later keys are not repeated). */
static bool has_key(const char *yaml, const char *key) {
    size_t n = strlen(key);
    for (const char *p = yaml; p; p = strchr(p, '\n')) {
        if (*p == '\n') p++;
        if (!strncmp(p, key, n) && p[n] == ':') return true;
    }
    return false;
}

static char *cfg_text(const char *out, const char *extra) {
    const char *env = env_dir();
    nt_buf b = {0};
    if (!has_key(extra, "base_model")) nt_buf_printf(&b, "base_model: %s\n", env);
    if (!has_key(extra, "learning_rate")) nt_buf_printf(&b, "learning_rate: 0.001\n");
    if (!has_key(extra, "sequence_len")) nt_buf_printf(&b, "sequence_len: 32\n");
    if (!has_key(extra, "chat_template")) nt_buf_printf(&b, "chat_template: jinja\n");
    if (!has_key(extra, "chat_template") && !has_key(extra, "chat_template_jinja"))
        nt_buf_printf(&b, "chat_template_jinja: \"%s\"\n", TMPL);
    if (!has_key(extra, "datasets"))
        nt_buf_printf(&b, "datasets:\n  - path: %s/data.jsonl\n    type: chat_template\n", test_tmpdir());
    if (!has_key(extra, "output_dir")) nt_buf_printf(&b, "output_dir: %s/%s\n", test_tmpdir(), out);
    nt_buf_printf(&b, "logging_steps: 100\n%s", extra);
    nt_buf_putc(&b, '\0');
    return b.data;
}

static cfg *make_cfg(const char *out, const char *extra, nt_err *err) {
    char *text = cfg_text(out, extra);
    cfg *c = NULL;
    if (cfg_load_text(text, strlen(text), "test.yml", 0, NULL, &c, err)) c = NULL;
    free(text);
    return c;
}

static nt_status run(const char *out, const char *extra, tr_run_opts *o, tr_run_result *r, nt_err *err) {
    cfg *c = make_cfg(out, extra, err);
    if (!c) return err->code;
    nt_status rc = tr_train(c, o, r, err);
    cfg_free(c);
    return rc;
}

static char *out_path(const char *out, const char *file) {
    return nt_xasprintf("%s/%s/%s", test_tmpdir(), out, file);
}

static bool file_equal(const char *a, const char *b) {
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    nt_err err = {0};
    bool eq = !nt_read_file(a, &x, &nx, &err) && !nt_read_file(b, &y, &ny, &err) && nx == ny && !memcmp(x, y, nx);
    free(x), free(y);
    return eq;
}

#define LEARN "val_set_size: 0.25\nmicro_batch_size: 4\nlearning_rate: 0.01\nlr_scheduler: constant\n" \
              "max_steps: 40\nseed: 3\n"

TEST(fft_learns_the_task_and_outputs_load) {
    tr_run_opts o = {.eval_at_start = true};
    tr_run_result r;
    nt_err err = {0};
    CHECK_MSG(run("fft", LEARN, &o, &r, &err) == NT_OK, "%s", err.msg);
    CHECK_EQ_INT(r.steps, 40);
    CHECK_MSG(r.last_loss < 0.5 * r.first_loss, "loss %g -> %g", r.first_loss, r.last_loss);
    /* the base model knows nothing: about ln(512) per token; after training the answer and
     * the end of turn are near certain */
    CHECK_MSG(r.eval_loss_start > 4.0, "base eval_loss %g", r.eval_loss_start);
    CHECK_MSG(r.eval_loss < 0.2 * r.eval_loss_start, "eval_loss %g -> %g", r.eval_loss_start, r.eval_loss);
    const char *files[] = {"model.safetensors", "config.json", "generation_config.json", "tekken.json",
                           "chat_template.jinja", "README.md", "metrics.jsonl", "trainer_state.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *p = out_path("fft", files[i]);
        CHECK_MSG(nt_path_exists(p), "missing %s", p);
        free(p);
    }
    char *card = NULL, *state = NULL, *p = out_path("fft", "README.md"), *q = out_path("fft", "trainer_state.json");
    size_t n;
    CHECK(!nt_read_file(p, &card, &n, &err) && strstr(card, "eval_loss") && strstr(card, "max_steps: 40"));
    CHECK(!nt_read_file(q, &state, &n, &err) && strstr(state, "\"global_step\": 40") && strstr(state, "\"eval_loss\""));
    free(card), free(state), free(p), free(q);
    /* the saved model loads and gives the loss the trained one had */
    char *dir = nt_xasprintf("%s/fft", test_tmpdir());
    m4_weights *w = NULL;
    CHECK_MSG(m4_weights_open(dir, &w, &err) == NT_OK, "%s", err.msg);
    m4_weights_close(w);
    char *extra = nt_xasprintf(LEARN "base_model: %s\n", dir);
    tr_run_result r2;
    char *again = strstr(extra, "max_steps: 40");
    memcpy(again, "max_steps: 01", 13);
    CHECK_MSG(run("fft2", extra, &o, &r2, &err) == NT_OK, "%s", err.msg);
    CHECK_NEAR(r2.eval_loss_start, r.eval_loss, 1e-5);
    free(extra), free(dir);
}

/* HF's loss normalization: one micro-batch of 2 rows equals two accumulated micro-batches of
 * one row (sum of token losses / trained tokens of the whole accumulated batch). */
TEST(micro_batch_2_equals_accumulation_2) {
    tr_run_result a, b;
    nt_err err = {0};
    const char *base = "val_set_size: 0\nlearning_rate: 0.001\nlr_scheduler: constant\nmax_steps: 3\nseed: 5\n"
                       "max_grad_norm: 0\n";
    char *x = nt_xasprintf("%smicro_batch_size: 2\ngradient_accumulation_steps: 1\n", base);
    char *y = nt_xasprintf("%smicro_batch_size: 1\ngradient_accumulation_steps: 2\n", base);
    CHECK_MSG(run("mb2", x, NULL, &a, &err) == NT_OK, "%s", err.msg);
    CHECK_MSG(run("ga2", y, NULL, &b, &err) == NT_OK, "%s", err.msg);
    CHECK_NEAR(a.first_loss, b.first_loss, 1e-5);
    CHECK_NEAR(a.last_loss, b.last_loss, 1e-4);
    char *pa = out_path("mb2", "model.safetensors"), *pb = out_path("ga2", "model.safetensors");
    st_file *fa = NULL, *fb = NULL;
    CHECK(!st_file_open(pa, &fa, &err) && !st_file_open(pb, &fb, &err));
    double maxd = 0;
    for (size_t i = 0; fa && fb && i < st_file_count(fa); i++) {
        const st_tensor *ta = st_file_tensor(fa, i), *tb = st_file_find(fb, ta->name);
        CHECK(tb != NULL);
        if (!tb) continue;
        const float *va = ta->data, *vb = tb->data;
        for (size_t k = 0; k < ta->nbytes / 4; k++) maxd = fmax(maxd, fabs((double)va[k] - vb[k]));
    }
    CHECK_MSG(maxd < 1e-5, "max weight difference %g", maxd);
    st_file_close(fa), st_file_close(fb);
    free(pa), free(pb), free(x), free(y);
}

static double max_weight_diff(const char *out_a, const char *out_b) {
    char *pa = out_path(out_a, "model.safetensors"), *pb = out_path(out_b, "model.safetensors");
    st_file *fa = NULL, *fb = NULL;
    nt_err err = {0};
    double maxd = st_file_open(pa, &fa, &err) || st_file_open(pb, &fb, &err) ? INFINITY : 0;
    for (size_t i = 0; fa && fb && i < st_file_count(fa); i++) {
        const st_tensor *ta = st_file_tensor(fa, i), *tb = st_file_find(fb, ta->name);
        if (!tb || tb->nbytes != ta->nbytes) { maxd = INFINITY; continue; }
        const float *va = ta->data, *vb = tb->data;
        for (size_t k = 0; k < ta->nbytes / 4; k++) maxd = fmax(maxd, fabs((double)va[k] - vb[k]));
    }
    st_file_close(fa), st_file_close(fb);
    free(pa), free(pb);
    return maxd;
}

/* One SGD step (lr 1: the weight change IS the gradient) over every sample, once as padded
 * rows and once packed into bins: same loss, same gradients within fp32 rounding. */
TEST(packed_equals_unpacked) {
    tr_run_result a, b;
    nt_err err = {0};
    const char *base = "val_set_size: 0\nmicro_batch_size: 64\nmax_steps: 1\noptimizer: sgd\nlearning_rate: 1.0\n"
                       "lr_scheduler: constant\nwarmup_steps: 0\nmax_grad_norm: 0\nseed: 4\n";
    char *y = nt_xasprintf("%ssample_packing: true\n", base);
    CHECK_MSG(run("unpacked", base, NULL, &a, &err) == NT_OK, "%s", err.msg);
    CHECK_MSG(run("packed", y, NULL, &b, &err) == NT_OK, "%s", err.msg);
    CHECK_NEAR(a.first_loss, b.first_loss, 1e-5);
    CHECK_EQ_INT(a.trained_tokens, b.trained_tokens);
    double d = max_weight_diff("unpacked", "packed");
    CHECK_MSG(d < 2e-5, "max weight (= gradient) difference %g", d);
    CHECK_MSG(max_weight_diff("unpacked", "fft") > 1e-3, "the comparison sees differences"); /* a different run */
    free(y);
}

TEST(same_seed_gives_bit_identical_weights_packed) {
    tr_run_result a, b;
    nt_err err = {0};
    const char *e = "val_set_size: 0.1\nsample_packing: true\nmicro_batch_size: 1\ngradient_accumulation_steps: 2\n"
                    "max_steps: 3\nseed: 9\nlearning_rate: 0.002\ngradient_checkpointing: true\n";
    CHECK_MSG(run("seed1", e, NULL, &a, &err) == NT_OK, "%s", err.msg);
    CHECK_MSG(run("seed2", e, NULL, &b, &err) == NT_OK, "%s", err.msg);
    char *pa = out_path("seed1", "model.safetensors"), *pb = out_path("seed2", "model.safetensors");
    CHECK(file_equal(pa, pb));
    CHECK(a.first_loss == b.first_loss && a.last_loss == b.last_loss);
    free(pa), free(pb);
}

static void check_adapter(const char *out, bool qlora) {
    tr_run_opts o = {.eval_at_start = true};
    tr_run_result r;
    nt_err err = {0};
    char *e = nt_xasprintf(LEARN "adapter: %s\nlora_r: 4\nlora_alpha: 8\nlora_target_linear: true\n"
                           "lora_modules_to_save: [lm_head]\n%s", qlora ? "qlora" : "lora",
                           qlora ? "load_in_4bit: true\nquantize_moe_experts: true\n" : "bf16: true\n");
    CHECK_MSG(run(out, e, &o, &r, &err) == NT_OK, "%s", err.msg);
    CHECK_MSG(r.eval_loss < 0.5 * r.eval_loss_start, "eval_loss %g -> %g", r.eval_loss_start, r.eval_loss);
    char *p = out_path(out, "adapter_model.safetensors"), *q = out_path(out, "adapter_config.json");
    st_file *f = NULL;
    CHECK_MSG(st_file_open(p, &f, &err) == NT_OK, "%s", err.msg);
    if (f) { /* PEFT's keys and shapes: A [r, in], B [out, r]; q_a_proj is 64 -> 32 */
        const st_tensor *a = st_file_find(f, "base_model.model.model.layers.0.self_attn.q_a_proj.lora_A.weight");
        const st_tensor *b = st_file_find(f, "base_model.model.model.layers.1.self_attn.q_a_proj.lora_B.weight");
        CHECK(a && a->ndim == 2 && a->shape[0] == 4 && a->shape[1] == 64);
        CHECK(b && b->ndim == 2 && b->shape[0] == 32 && b->shape[1] == 4);
        CHECK(st_file_find(f, "base_model.model.lm_head.modules_to_save.default.weight") ||
              st_file_find(f, "base_model.model.lm_head.weight"));
        st_file_close(f);
    }
    char *cj = NULL;
    size_t n;
    CHECK(!nt_read_file(q, &cj, &n, &err) && strstr(cj, "\"peft_type\": \"LORA\"") && strstr(cj, "\"r\": 4") &&
          strstr(cj, "\"lora_alpha\": 8"));
    free(cj), free(p), free(q), free(e);
}

TEST(lora_learns_the_task_and_saves_a_peft_adapter) { check_adapter("lora", false); }
TEST(qlora_learns_the_task_and_saves_a_peft_adapter) { check_adapter("qlora", true); }

#define CKPT "val_set_size: 0.1\nmicro_batch_size: 8\ngradient_accumulation_steps: 2\nnum_epochs: 2\n" \
             "learning_rate: 0.002\nsave_steps: 3\nsave_total_limit: 1\nseed: 11\n"

/* A run resumed from checkpoint-6 (epoch 2 of 2, 4 updates per epoch) ends with the same
 * bytes as the uninterrupted run; save_total_limit 1 keeps only the newest checkpoint. */
static void check_resume_with(const char *name, const char *base, const char *extra, const char *weights) {
    tr_run_result a, b, c;
    nt_err err = {0};
    char *e = nt_xasprintf("%s%s", base, extra), *full = nt_xasprintf("%s_full", name), *res = nt_xasprintf("%s_res", name);
    CHECK_MSG(run(full, e, NULL, &a, &err) == NT_OK, "%s", err.msg);
    CHECK_EQ_INT(a.steps, 8);
    char *c3 = out_path(full, "checkpoint-3"), *c6 = out_path(full, "checkpoint-6");
    char *c6s = out_path(full, "checkpoint-6/optimizer.safetensors"), *c6t = out_path(full, "checkpoint-6/trainer_state.json");
    CHECK(!nt_path_exists(c3) && nt_path_exists(c6s) && nt_path_exists(c6t));
    char *e2 = nt_xasprintf("%sresume_from_checkpoint: %s\n", e, c6);
    CHECK_MSG(run(res, e2, NULL, &b, &err) == NT_OK, "%s", err.msg);
    CHECK_EQ_INT(b.steps, 8);
    char *wa = out_path(full, weights), *wb = out_path(res, weights);
    CHECK_MSG(file_equal(wa, wb), "%s: resumed weights differ", name);
    /* auto_resume_from_checkpoints: the final weights removed, as if killed after step 6 */
    unlink(wa);
    char *e3 = nt_xasprintf("%sauto_resume_from_checkpoints: true\n", e);
    CHECK_MSG(run(full, e3, NULL, &c, &err) == NT_OK, "%s", err.msg);
    CHECK(file_equal(wa, wb));
    free(e), free(e2), free(e3), free(full), free(res), free(c3), free(c6), free(c6s), free(c6t), free(wa), free(wb);
}

static void check_resume(const char *name, const char *extra, const char *weights) {
    check_resume_with(name, CKPT, extra, weights);
}

TEST(fft_resume_is_bit_identical) { check_resume("ckfft", "", "model.safetensors"); }
/* 8-bit AdamW: codes, absmaxes and maps saved and loaded (the lookup tables rebuilt) */
TEST(fft_resume_is_bit_identical_adamw_8bit) {
    check_resume("ckfft8", "optimizer: adamw_bnb_8bit\n", "model.safetensors");
}
TEST(lora_resume_is_bit_identical) {
    check_resume("cklora", "adapter: lora\nlora_r: 4\nlora_target_linear: true\nlora_modules_to_save: [lm_head]\n",
                 "adapter_model.safetensors");
}

/* The optimizer in backward (auto without clipping): the same bytes as with gradient buffers,
 * a bit-identical resume, and `true` refused where it would not be exact. */
TEST(fft_optimizer_in_backward_matches_gradient_buffers) {
    tr_run_result a, b;
    nt_err err = {0};
    const char *base = "val_set_size: 0\nmicro_batch_size: 2\nlearning_rate: 0.003\nlr_scheduler: cosine\n"
                       "max_steps: 4\nseed: 9\nmax_grad_norm: 0\nweight_decay: 0.01\n";
    char *x = nt_xasprintf("%s", base), *y = nt_xasprintf("%soptimizer_in_backward: false\n", base);
    char *sa = NULL, *sb = NULL;
    size_t na = 0, nb = 0;
    FILE *fa = open_memstream(&sa, &na), *fb = open_memstream(&sb, &nb);
    tr_run_opts oa = {.out = fa}, ob = {.out = fb};
    CHECK_MSG(run("ib_on", x, &oa, &a, &err) == NT_OK, "%s", err.msg);
    CHECK_MSG(run("ib_off", y, &ob, &b, &err) == NT_OK, "%s", err.msg);
    fclose(fa), fclose(fb);
    CHECK_CONTAINS(sa, "at a time: the optimizer runs in the backward"); /* the summary says which */
    CHECK(strstr(sb, "runs in the backward") == NULL);
    free(sa), free(sb);
    CHECK(a.steps == 4 && b.steps == 4 && a.last_loss == b.last_loss);
    char *wa = out_path("ib_on", "model.safetensors"), *wb = out_path("ib_off", "model.safetensors");
    CHECK_MSG(file_equal(wa, wb), "in-backward weights differ (max %g)", max_weight_diff("ib_on", "ib_off"));
    free(wa), free(wb), free(x), free(y);
}
TEST(fft_optimizer_in_backward_resume_is_bit_identical) {
    /* CKPT's 16 rows per update as one micro-batch: no accumulation */
    check_resume_with("ckib", "val_set_size: 0.1\nmicro_batch_size: 16\nnum_epochs: 2\nlearning_rate: 0.002\n"
                      "save_steps: 3\nsave_total_limit: 1\nseed: 11\n", "max_grad_norm: 0\n", "model.safetensors");
}
TEST(optimizer_in_backward_true_needs_an_exact_step) {
    tr_run_result r;
    nt_err err = {0};
    CHECK(run("ib_bad", "max_steps: 1\noptimizer_in_backward: true\n", NULL, &r, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "optimizer_in_backward");
    CHECK_CONTAINS(err.msg, "max_grad_norm");
    CHECK(run("ib_bad2", "max_steps: 1\nmax_grad_norm: 0\ngradient_accumulation_steps: 2\noptimizer_in_backward: true\n",
              NULL, &r, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "gradient_accumulation_steps 2");
}

/* A disk too full for the next checkpoint (free bytes forced by the test hook): the run fails
 * naming output_dir and the bytes, before writing anything — checkpoint-2 and the previous
 * final weights keep their bytes and save_total_limit 1 rotated nothing away. */
TEST(low_disk_space_fails_before_overwriting) {
    const char *e1 = "val_set_size: 0\nmicro_batch_size: 4\nsave_steps: 2\nsave_total_limit: 1\nseed: 5\nmax_steps: 2\n";
    tr_run_result r;
    nt_err err = {0};
    CHECK_MSG(run("disk", e1, NULL, &r, &err) == NT_OK, "%s", err.msg);
    char *c2 = out_path("disk", "checkpoint-2/model.safetensors"), *fin = out_path("disk", "model.safetensors");
    char *keep_c2 = out_path("disk", "../disk_c2.safetensors"), *keep_fin = out_path("disk", "../disk_fin.safetensors");
    char *cmd = nt_xasprintf("cp %s %s && cp %s %s", c2, keep_c2, fin, keep_fin);
    char *cp_out = NULL;
    CHECK(test_run(cmd, &cp_out) == 0);
    free(cp_out);
    char *e2 = nt_xasprintf("%.*smax_steps: 4\nauto_resume_from_checkpoints: true\n", (int)(strlen(e1) - 13), e1);
    setenv("NEWT_TEST_FREE_BYTES", "1000", 1);
    nt_status rc = run("disk", e2, NULL, &r, &err);
    unsetenv("NEWT_TEST_FREE_BYTES");
    CHECK(rc != NT_OK);
    CHECK_CONTAINS(err.msg, "output_dir");
    CHECK_CONTAINS(err.msg, "/disk: not enough disk space for the checkpoint");
    CHECK_CONTAINS(err.msg, "1000 available");
    CHECK_CONTAINS(err.msg, "checkpoint 4");
    CHECK_MSG(file_equal(c2, keep_c2), "checkpoint-2 changed");
    CHECK_MSG(file_equal(fin, keep_fin), "final weights changed");
    char *c4 = out_path("disk", "checkpoint-4"), *t4 = out_path("disk", ".checkpoint-4.tmp");
    CHECK(!nt_path_exists(c4) && !nt_path_exists(t4));
    /* the final outputs are checked too: one step, no checkpoint due, a disk of 1000 bytes */
    setenv("NEWT_TEST_FREE_BYTES", "1000", 1);
    rc = run("disk_fin", "val_set_size: 0\nmicro_batch_size: 4\nmax_steps: 1\n", NULL, &r, &err);
    unsetenv("NEWT_TEST_FREE_BYTES");
    CHECK(rc != NT_OK);
    CHECK_CONTAINS(err.msg, "not enough disk space for the final outputs");
    char *f2 = out_path("disk_fin", "model.safetensors");
    CHECK(!nt_path_exists(f2));
    free(c2), free(fin), free(keep_c2), free(keep_fin), free(cmd), free(e2), free(c4), free(t4), free(f2);
}

/* The newest complete checkpoint in dir, or 0. */
static int64_t newest_ckpt(const char *dir) {
    int64_t best = 0;
    for (int64_t k = 1; k <= 400; k++) {
        char *p = nt_xasprintf("%s/checkpoint-%lld/newt_state.json", dir, (long long)k);
        if (nt_path_exists(p)) best = k;
        free(p);
    }
    return best;
}

#define SIG "val_set_size: 0\nmicro_batch_size: 4\nlr_scheduler: constant\nwarmup_steps: 0\nlearning_rate: 0.002\n" \
            "seed: 21\nsave_steps: 1\nsave_total_limit: 2\n"

/* `newt train` stopped by a signal once a checkpoint past the first exists (a constant schedule, so a run of
 * k steps is a prefix of a longer one). Returns the newest checkpoint left. */
static int64_t train_and_signal(const char *out, const char *sig, int *rc) {
    char *yml = nt_xasprintf("%s/%s.yml", test_tmpdir(), out), *text = cfg_text(out, SIG "max_steps: 400\n");
    nt_err err = {0};
    CHECK(nt_write_file_atomic(yml, text, strlen(text), &err) == NT_OK);
    /* Waits for any checkpoint past the first, not for checkpoint-2 itself: save_total_limit
     * removes checkpoint-2 once checkpoint-4 is written, and a poller starved by a loaded
     * machine could miss that window and let the run finish unsignalled. */
    char *cmd = nt_xasprintf("d=%s/%s; %s train %s --no-progress >%s.log 2>&1 & pid=$!; i=0; "
                             "ready() { for f in $d/checkpoint-*/newt_state.json; do case $f in */checkpoint-1/*) ;; "
                             "*) [ -e \"$f\" ] && return 0 ;; esac; done; return 1; }; "
                             "while ! ready && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; "
                             "kill -%s $pid; wait $pid; echo rc=$?",
                             test_tmpdir(), out, test_newt_bin(), yml, yml, sig);
    char *o = NULL;
    test_run(cmd, &o);
    *rc = o && strstr(o, "rc=") ? atoi(strstr(o, "rc=") + 3) : -1;
    char *dir = nt_xasprintf("%s/%s", test_tmpdir(), out);
    int64_t k = newest_ckpt(dir);
    free(yml), free(text), free(cmd), free(o), free(dir);
    return k;
}

/* SIGINT: the process writes checkpoint-k, says how to continue and exits 130; checkpoint-k
 * holds exactly the weights of a k-step run. */
TEST(sigint_writes_a_resumable_checkpoint) {
    int rc;
    int64_t k = train_and_signal("sigint", "INT", &rc);
    CHECK_EQ_INT(rc, 130);
    CHECK_MSG(k >= 2 && k < 400, "newest checkpoint %lld", (long long)k);
    char *log = NULL, *lp = nt_xasprintf("%s/sigint.yml.log", test_tmpdir());
    size_t n;
    nt_err err = {0};
    CHECK(!nt_read_file(lp, &log, &n, &err) && strstr(log, "--auto_resume_from_checkpoints true"));
    tr_run_result r;
    char *e = nt_xasprintf(SIG "max_steps: %lld\n", (long long)k);
    CHECK_MSG(run("sigint_ref", e, NULL, &r, &err) == NT_OK, "%s", err.msg);
    char *a = out_path("sigint_ref", "model.safetensors");
    char *b = nt_xasprintf("%s/sigint/checkpoint-%lld/model.safetensors", test_tmpdir(), (long long)k);
    CHECK_MSG(file_equal(a, b), "checkpoint-%lld differs from a %lld-step run", (long long)k, (long long)k);
    free(log), free(lp), free(e), free(a), free(b);
}

/* SIGKILL at an arbitrary moment, then auto-resume: the same bytes as an uninterrupted run. */
TEST(sigkill_then_auto_resume_is_bit_identical) {
    int rc;
    int64_t k = train_and_signal("sigkill", "KILL", &rc);
    CHECK_EQ_INT(rc, 137);
    CHECK_MSG(k >= 2 && k < 400, "newest checkpoint %lld", (long long)k);
    tr_run_result r;
    nt_err err = {0};
    char *e = nt_xasprintf(SIG "max_steps: %lld\nauto_resume_from_checkpoints: true\n", (long long)k + 2);
    CHECK_MSG(run("sigkill", e, NULL, &r, &err) == NT_OK, "%s", err.msg);
    CHECK_EQ_INT(r.steps, k + 2);
    char *e2 = nt_xasprintf(SIG "max_steps: %lld\n", (long long)k + 2);
    CHECK_MSG(run("sigkill_ref", e2, NULL, &r, &err) == NT_OK, "%s", err.msg);
    char *a = out_path("sigkill_ref", "model.safetensors"), *b = out_path("sigkill", "model.safetensors");
    CHECK(file_equal(a, b));
    free(e), free(e2), free(a), free(b);
}

/* The groups the Mistral 4 QLoRA example's targets resolve to on the tiny model (2 MoE
 * layers): 2 modules per MLA attention group and 3 x 2 shared-expert modules as written;
 * with its commented fused-expert block uncommented, 2 x 2 expert parameters more. */
static void check_example_groups(const char *text, int64_t routed) {
    cfg *c = NULL;
    nt_err err = {0};
    CHECK_MSG(cfg_load_text(text, strlen(text), "qlora-text.yml", 0, NULL, &c, &err) == NT_OK, "%s", err.msg);
    if (!c) return;
    CHECK_EQ_INT(c->nreports, 0);
    tr_spec_buf sb = {0};
    tr_result res = {0};
    m4_weights *w = NULL;
    CHECK(m4_weights_open(env_dir(), &w, &err) == NT_OK && tr_spec_from_cfg(c, &sb, &err) == NT_OK);
    CHECK_MSG(w && tr_resolve(m4_weights_config(w), &sb.spec, &res, &err) == NT_OK, "%s", err.msg);
    int64_t want[TR_GROUP_COUNT] = {[TR_GROUP_Q_A] = 2, [TR_GROUP_Q_B] = 2, [TR_GROUP_KV_A] = 2,
                                    [TR_GROUP_KV_B] = 2, [TR_GROUP_O] = 2, [TR_GROUP_SHARED_EXPERTS] = 6,
                                    [TR_GROUP_ROUTED_EXPERTS] = routed};
    for (int g = 0; g < TR_GROUP_COUNT && res.targets; g++)
        CHECK_MSG(res.group_count[g] == want[g], "%s: %lld", tr_group_name((tr_group)g), (long long)res.group_count[g]);
    if (res.targets) tr_result_free(&res);
    tr_spec_buf_free(&sb);
    m4_weights_close(w);
    cfg_free(c);
}

TEST(mistral4_qlora_example_targets_mla_and_experts) {
    char *text = NULL;
    size_t n = 0;
    nt_err err = {0};
    CHECK_MSG(nt_read_file("examples/mistral4/qlora-text.yml", &text, &n, &err) == NT_OK, "%s", err.msg);
    if (!text) return;
    check_example_groups(text, 0);
    const char *lines[] = {"# lora_target_parameters:\n", "#   - mlp.experts.gate_up_proj\n", "#   - mlp.experts.down_proj\n"};
    for (int i = 0; i < 3; i++) { /* uncomment: drop the "# " */
        char *p = strstr(text, lines[i]);
        CHECK_MSG(p != NULL, "no '%s' in the example", lines[i]);
        if (p) memmove(p, p + 2, strlen(p + 2) + 1);
    }
    check_example_groups(text, 4);
    free(text);
}

/* The vision examples, and each key that asks for vision, fail at once with "vision
 * fine-tuning lands in a later release" naming the key (the examples' base_model is a hub id
 * that would otherwise be the first error). */
TEST(vision_configs_fail_naming_the_key) {
    const char *ex[][2] = {{"examples/mistral4/qlora-vision.yml", "processor_type"},
                           {"examples/mistral4/fft-vision.yml", "processor_type"}};
    for (int i = 0; i < 2; i++) {
        cfg *c = NULL;
        nt_err err = {0};
        CHECK_MSG(cfg_load_file(ex[i][0], 0, NULL, &c, &err) == NT_OK, "%s", err.msg);
        if (!c) continue;
        tr_run_result r;
        CHECK_EQ_INT(tr_train(c, NULL, &r, &err), NT_EUNSUPPORTED);
        CHECK_CONTAINS(err.msg, ex[i][1]);
        CHECK_CONTAINS(err.msg, "vision fine-tuning lands in a later release");
        cfg_free(c);
    }
    const char *keys[][2] = {{"skip_prepare_dataset: true\n", "skip_prepare_dataset"},
                             {"freeze_mm_modules: true\n", "freeze_mm_modules"},
                             {"image_size: 512\n", "image_size"},
                             {"processor_type: AutoProcessor\n", "processor_type"}};
    for (int i = 0; i < 4; i++) {
        nt_err err = {0};
        tr_run_result r;
        CHECK_EQ_INT(run("vision", keys[i][0], NULL, &r, &err), NT_EUNSUPPORTED);
        CHECK_MSG(!strncmp(err.msg, keys[i][1], strlen(keys[i][1])), "'%s' does not start with %s", err.msg, keys[i][1]);
        CHECK_CONTAINS(err.msg, "later release");
    }
}

/* Each bad config fails before training with an error naming the key (or file) at fault. */
TEST(bad_configs_name_the_key) {
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"base_model: /nonexistent/model\n", "base_model"},
        {"micro_batch_size: 0\n", "micro_batch_size"},
        {"micro_batch_size: 1000\n", "micro_batch_size"},
        {"batch_size: 4\ngradient_accumulation_steps: 2\n", "batch_size"},
        {"micro_batch_size: 2\nbatch_size: 3\n", "batch_size"},
        {"eval_steps: 2\nevals_per_epoch: 2\nval_set_size: 0.1\n", "eval_steps"},
        {"optimizer: adafactor\n", "optimizer"},
        {"lr_scheduler: polynomial\n", "lr_scheduler"},
        {"learning_rate: fast\n", "learning_rate"},
        {"num_epochs: -1\n", "num_epochs"},
        {"max_steps: 0\n", "max_steps"},
        {"sequence_len: 0\n", "sequence_len"},
        {"learnig_rate: 0.1\n", "learnig_rate"},
        {"adapter: dora\n", "adapter"},
        {"adapter: lora\nlora_r: 4\nlora_alpha: 8\nlora_target_modules: [nonexistent_proj]\n", "lora_target_modules"},
        {"adapter: lora\nlora_r: 4\nlora_alpha: 8\nlora_target_modules: 'model.*zzz'\n", "lora_target_modules"},
        {"adapter: lora\nlora_r: 4\nlora_target_parameters: [mlp.experts.gate_up_proj]\nlora_dropout: 0.1\n", "dropout"},
        {"adapter: lora\nlora_r: 4\nlora_modules_to_save: [no_such_module]\n", "lora_modules_to_save"},
        {"lora_r: -2\nadapter: lora\n", "lora_r"},
        {"save_steps: 2\nsaves_per_epoch: 1\n", "save_steps"},
        {"resume_from_checkpoint: /nonexistent/checkpoint-3\n", "resume_from_checkpoint"},
        {"tokenizer_config: /nonexistent/tok\n", "tokenizer"},
        {"val_set_size: 64\n", "val"},
        {"gradient_accumulation_steps: 0\n", "gradient_accumulation_steps"},
        {"warmup_ratio: 2\n", "warmup_ratio"},
        {"gradient_accumulation_steps: -1\n", "gradient_accumulation_steps"},
        {"adapter: qlora\nlora_r: 4\nlora_target_linear: true\n", "load_in_4bit"},
        {"adapter: lora\nlora_r: 4\nlora_target_linear: true\nload_in_4bit: true\n", "load_in_4bit"},
        {"optimizer: adamw_torhc\n", "adamw_torch"},
        {"lr_scheduler: cosine_min_lr\n", "lr_scheduler"},
        {"datasets:\n  - path: /nonexistent/data.jsonl\n    type: chat_template\n", "/nonexistent/data.jsonl"},
        {"chat_template: jinja\n", "chat_template_jinja"},
        {"val_set_size: 1.5\n", "val_set_size"},
        {"save_total_limit: -1\n", "save_total_limit"},
        {"output_dir: /dev/null\n", "output_dir"},
        {"adapter: lora\nlora_r: 0\nlora_target_linear: true\n", "lora_r"},
        {"adapter: lora\nlora_r: 4\nlora_alpha: big\nlora_target_linear: true\n", "lora_alpha"},
        {"sequence_len: 3\n", "sequence_len"},
        {"learning_rate: -0.001\n", "learning_rate"},
        {"max_grad_norm: -1\n", "max_grad_norm"},
        {"warmup_steps: -5\n", "warmup_steps"},
        {"eval_batch_size: 0\nval_set_size: 0.1\n", "eval_batch_size"},
        {"lora_target_linear: true\n", "adapter"},
        {"resume_from_checkpoint: 42\n", "resume_from_checkpoint"},
        {"micro_batch_size: two\n", "micro_batch_size"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        nt_err err = {0};
        tr_run_result r;
        char *y = nt_xasprintf("%smax_steps: 1\n", cases[i].yaml);
        if (strstr(cases[i].yaml, "max_steps")) strcpy(y, cases[i].yaml);
        nt_status rc = run("bad", y, NULL, &r, &err);
        CHECK_MSG(rc != NT_OK, "case %zu (%s) did not fail", i, cases[i].yaml);
        CHECK_MSG(strstr(err.msg, cases[i].want) != NULL, "case %zu: '%s' does not name %s", i, err.msg, cases[i].want);
        free(y);
    }
}

TEST_MAIN()
