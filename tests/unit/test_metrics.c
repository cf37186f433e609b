/* Training logs: TensorBoard records against the spec's test vectors and an independent
 * Python reader (tests/unit/oracles/tfevents_ref.py), trainer_state.json against Python's
 * json.dumps(indent=2, sort_keys=True), metrics.jsonl and the log line. */
#include <stdint.h>
#include <string.h>

#include "test.h"
#include "py_oracle.h"

#include "base/fileio.h"
#include "base/log.h"
#include "base/mem.h"
#include "formats/json.h"
#include "train/metrics.h"

static char *hex(const nt_buf *b) {
    char *s = nt_xmalloc(b->len * 2 + 1);
    for (size_t i = 0; i < b->len; i++) sprintf(s + 2 * i, "%02x", (uint8_t)b->data[i]);
    s[b->len * 2] = 0;
    return s;
}

TEST(crc32c_check_value) {
    CHECK(tr_crc32c("123456789", 9) == 0xE3069283u);
    CHECK(tr_crc32c("", 0) == 0);
}

/* spec formats.md §11 test vectors */
TEST(tensorboard_records_match_spec_vectors) {
    nt_buf b = {0};
    tr_tb_record_version(&b, 1700000000.0);
    char *h = hex(&b);
    CHECK_EQ_STR(h, "1800000000000000a37f4b220900000040fc54d9411a0d627261696e2e4576656e743a32eced8f9d");
    free(h);
    b.len = 0;
    tr_tb_record_scalar(&b, 1700000001.5, 10, "train/loss", 1.25f);
    h = hex(&b);
    CHECK_EQ_STR(h, "200000000000000029eda9500900006040fc54d941100a2a130a110a0a747261696e2f6c6f7373150000a03f0ec9f32b");
    free(h);
    nt_buf_free(&b);
}

TEST(tensorboard_tags) {
    const char *in[] = {"loss", "eval_loss", "test_acc", "learning_rate", "evaluation"};
    const char *want[] = {"train/loss", "eval/loss", "test/acc", "train/learning_rate", "train/evaluation"};
    for (int i = 0; i < 5; i++) {
        char *t = tr_tb_tag(in[i]);
        CHECK_EQ_STR(t, want[i]);
        free(t);
    }
}

static tr_log_event event(int64_t step, double loss) {
    return (tr_log_event){.step = step, .max_steps = 30, .loss = loss, .grad_norm = 0.75,
                          .learning_rate = 4.91e-4, .epoch = step / 30.0,
                          .tokens_per_second = 1234.5, .tokens_trainable = 1000 * step,
                          .tokens_total = 1500 * step};
}

/* Runs the Python reader on an event file; its output lines, or NULL (skip set if no python). */
static char *read_events(const char *path, int *skip) {
    *skip = !py_oracle_available();
    if (*skip) return NULL;
    FILE *f = py_oracle_open("tfevents_ref.py", path);
    if (!f) return NULL;
    nt_buf b = {0};
    char line[512];
    while (fgets(line, sizeof line, f)) nt_buf_puts(&b, line);
    int rc = pclose(f);
    CHECK_MSG(rc == 0, "reader failed: %s", b.data ? b.data : "");
    return nt_buf_take(&b, NULL);
}

static char *slurp(const char *path) {
    char *d = NULL;
    size_t n;
    nt_err err = {0};
    return nt_read_file(path, &d, &n, &err) == NT_OK ? d : NULL;
}

/* Logs three events and the end entry through the sink, then checks metrics.jsonl and the
 * event file. */
TEST(sink_writes_jsonl_and_tensorboard) {
    char *dir = nt_path_join(test_tmpdir(), "out");
    tr_metrics *m = NULL;
    nt_err err = {0};
    nt_log_level lvl = nt_log_get_level();
    nt_log_set_level(NT_LOG_WARN); /* keep the test output quiet */
    CHECK(tr_metrics_open(dir, true, &m, &err) == NT_OK);
    for (int s = 10; m && s <= 30; s += 10) {
        tr_log_event ev = event(s, 2.0 / s);
        CHECK(tr_metrics_log(m, &ev, &err) == NT_OK);
    }
    if (m) CHECK(tr_metrics_log_end(m, 1.0, 30, 1.5e12, 0.1, 12.5, 9.6, 2.4, &err) == NT_OK);
    nt_log_set_level(lvl);
    if (!m) {
        free(dir);
        return;
    }
    CHECK_EQ_INT(val_list_len(tr_metrics_history(m)), 4);
    char *tb = nt_xstrdup(tr_metrics_tb_path(m));
    CHECK_CONTAINS(tb, "/out/runs/events.out.tfevents.");
    tr_metrics_close(m);

    char *jpath = nt_path_join(dir, "metrics.jsonl");
    char *j = slurp(jpath);
    CHECK(j != NULL);
    if (j) {
        /* one object per line, Python's json.dumps separators, floats as repr */
        const char *first = "{\"loss\": 0.2, \"grad_norm\": 0.75, \"learning_rate\": 0.000491, "
                            "\"epoch\": 0.3333333333333333, \"ppl\": 1.2214027581601699, ";
        CHECK(strncmp(j, first, strlen(first)) == 0);
        CHECK_CONTAINS(j, "\"tokens/trainable\": 10000, \"tokens/total\": 15000, \"step\": 10}\n");
        CHECK_CONTAINS(j, "{\"train_runtime\": 12.5, \"train_samples_per_second\": 9.6, "
                          "\"train_steps_per_second\": 2.4, \"total_flos\": 1500000000000.0, "
                          "\"train_loss\": 0.1, \"epoch\": 1.0, \"step\": 30}\n");
        int lines = 0;
        for (char *p = j; *p; p++) lines += *p == '\n';
        CHECK_EQ_INT(lines, 4);
    }
    int skip;
    char *ev = read_events(tb, &skip);
    if (!skip) {
        CHECK(ev != NULL);
        if (ev) {
            CHECK(strncmp(ev, "version brain.Event:2\n", 22) == 0);
            CHECK_CONTAINS(ev, "scalar 10 train/loss 0x1.99999a0000000p-3\n"); /* f32(0.2) */
            CHECK_CONTAINS(ev, "scalar 20 train/grad_norm 0x1.8000000000000p-1\n");
            CHECK_CONTAINS(ev, "scalar 30 train/epoch 0x1.0000000000000p+0\n");
            CHECK_CONTAINS(ev, "scalar 30 train/tokens/trainable 0x1.d4c0000000000p+14\n");
            CHECK_CONTAINS(ev, "scalar 30 train/train_loss 0x1.99999a0000000p-4\n");
            CHECK(!strstr(ev, "train/step"));
            int recs = 0;
            for (char *p = ev; *p; p++) recs += *p == '\n';
            /* version + 3 x 9 scalars (no step) + 6 end scalars */
            CHECK_EQ_INT(recs, 1 + 3 * 9 + 6);
        }
    }
    free(ev), free(j), free(jpath), free(tb), free(dir);
}

TEST(log_line) {
    tr_log_event ev = event(10, 1.2345);
    nt_buf b = {0};
    tr_log_line(&b, &ev, 1.5);
    nt_buf_putc(&b, 0);
    CHECK_EQ_STR(b.data, "step 10/30  loss 1.2345  grad_norm 0.7500  lr 4.910e-04  epoch 0.333"
                         "  ppl 3.437  1234 tok/s  rss 1.50 GiB");
    nt_buf_free(&b);
    CHECK(tr_peak_rss_gib() > 0);
}

/* HF's key set (spec §8.2) and Python's json.dumps(indent=2, sort_keys=True) + "\n" of the
 * same data, byte for byte. */
TEST(trainer_state_json_like_hf) {
    val *hist = val_list();
    tr_log_event e1 = event(10, 1.5), e2 = event(20, 1.25);
    val_list_push(hist, tr_log_entry(&e1, 1.0));
    val_list_push(hist, tr_log_entry(&e2, 1.0));
    tr_trainer_state st = {.epoch = 0.6666666666666666, .global_step = 20, .max_steps = 30,
                           .logging_steps = 10, .eval_steps = 500, .save_steps = 20,
                           .num_train_epochs = 1, .train_batch_size = 2,
                           .num_input_tokens_seen = 0, .total_flos = 123456789.0,
                           .best_global_step = -1, .best_metric = NAN, .should_save = true};
    char *path = nt_path_join(test_tmpdir(), "trainer_state.json");
    nt_err err = {0};
    CHECK(tr_trainer_state_write(path, &st, hist, &err) == NT_OK);
    char *text = slurp(path);
    CHECK(text != NULL);
    if (text) {
        CHECK_CONTAINS(text, "{\n  \"best_global_step\": null,\n  \"best_metric\": null,\n");
        CHECK_CONTAINS(text, "\"should_save\": true,\n");
        CHECK_CONTAINS(text, "\"attributes\": {}\n");
        CHECK_CONTAINS(text, "\"trial_params\": null\n}\n");
    }
    if (py_oracle_available() && text) {
        char *cmd = nt_xasprintf(
            PY_ORACLE_PYTHON " -c \"import json,sys; t=open(sys.argv[1]).read(); d=json.loads(t);"
            " keys=['best_global_step','best_metric','best_model_checkpoint','epoch','eval_steps',"
            "'global_step','is_hyper_param_search','is_local_process_zero','is_world_process_zero',"
            "'log_history','logging_steps','max_steps','num_input_tokens_seen','num_train_epochs',"
            "'save_steps','stateful_callbacks','total_flos','train_batch_size','trial_name','trial_params'];"
            " assert sorted(d)==keys, sorted(d);"
            " assert sorted(d['stateful_callbacks']['TrainerControl']['args'])==['should_epoch_stop',"
            "'should_evaluate','should_log','should_save','should_training_stop'];"
            " assert all({'epoch','grad_norm','learning_rate','loss','step'} <= set(e) for e in d['log_history']);"
            " sys.exit(0 if json.dumps(d, indent=2, sort_keys=True) + '\\n' == t else 3)\" %s", path);
        CHECK_EQ_INT(system(cmd), 0);
        free(cmd);
    }
    /* resume: the history comes back from the file */
    tr_metrics *m = NULL;
    char *dir = nt_path_join(test_tmpdir(), "resume");
    CHECK(tr_metrics_open(dir, false, &m, &err) == NT_OK);
    if (m) {
        CHECK(tr_metrics_load_history(m, path, &err) == NT_OK);
        CHECK(val_equal(tr_metrics_history(m), hist));
        CHECK(tr_metrics_tb_path(m) == NULL);
        CHECK(tr_metrics_load_history(m, dir, &err) != NT_OK);
    }
    tr_metrics_close(m);
    val_unref(hist);
    free(text), free(path), free(dir);
}

TEST_MAIN()
