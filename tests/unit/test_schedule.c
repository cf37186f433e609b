/* Learning-rate schedules against LambdaLR with transformers' / axolotl's lambdas
 * (tests/unit/oracles/schedule_ref.py), bit for bit; warmup and total step counts against
 * hand-derived values. */
#include <stdint.h>
#include <string.h>

#include "test.h"
#include "py_oracle.h"

#include "base/mem.h"
#include "train/schedule.h"

typedef struct {
    const char *cfg_name;  /* lr_scheduler as configured */
    bool has_ratio;        /* cosine_min_lr_ratio / min_lr_rate set */
    const char *py_name;   /* the oracle's lambda */
    double base, rate;
    int64_t w, t;
} sched_case;

static const sched_case k_cases[] = {
    {"linear", false, "linear", 5e-4, 0, 0, 500},
    {"linear", false, "linear", 2e-5, 0, 10, 100},
    {"linear", false, "linear", 1e-4, 0, 30, 30}, /* all warmup */
    {"linear", false, "linear", 1e-4, 0, 40, 25}, /* warmup longer than the run */
    {"cosine", false, "cosine", 2e-4, 0, 10, 100},
    {"cosine", false, "cosine", 3e-4, 0, 0, 1},
    {"cosine", false, "cosine", 1e-3, 0, 8, 77},
    {"constant", false, "constant", 1e-5, 0, 5, 20},
    {"constant_with_warmup", false, "constant_with_warmup", 7e-5, 0, 7, 50},
    {"cosine_with_min_lr", true, "cosine_with_min_lr", 1e-4, 0.1, 5, 60},
    {"cosine", true, "axolotl_cosine_min_lr_ratio", 2e-4, 0.2, 3, 40},
    {"cosine", true, "axolotl_cosine_min_lr_ratio", 2e-4, 0.05, 0, 13},
};

#define NCASES (sizeof k_cases / sizeof k_cases[0])

/* One oracle run for all cases: T + 3 lrs each (a few steps past the end), concatenated. */
static int oracle_lrs(double *out, int cap) {
    nt_buf args = {0};
    for (size_t i = 0; i < NCASES; i++) {
        const sched_case *c = &k_cases[i];
        nt_buf_printf(&args, " %s %.17g %lld %lld %.17g %lld", c->py_name, c->base,
                      (long long)c->w, (long long)c->t, c->rate, (long long)c->t + 3);
    }
    FILE *f = py_oracle_open("schedule_ref.py", args.data);
    nt_buf_free(&args);
    if (!f) return 0;
    char line[64];
    int k = 0;
    while (k < cap && fgets(line, sizeof line, f)) out[k++] = strtod(line, NULL);
    pclose(f);
    return k;
}

TEST(schedules_match_lambdalr_exactly) {
    if (!py_oracle_available()) SKIP("python3 not available");
    static double ref[2000];
    int total = 0, got = oracle_lrs(ref, 2000);
    for (size_t i = 0; i < NCASES; i++) total += (int)k_cases[i].t + 3;
    CHECK_EQ_INT(got, total);
    for (size_t i = 0, off = 0; i < NCASES && got == total; off += (size_t)k_cases[i].t + 3, i++) {
        const sched_case *c = &k_cases[i];
        tr_sched s;
        nt_err err = {0};
        CHECK(tr_sched_init(&s, c->cfg_name, c->base, c->w, c->t, c->has_ratio, c->rate, &err) == NT_OK);
        int bad = 0;
        for (int k = 0; k < (int)c->t + 3; k++)
            if (tr_sched_lr(&s, k) != ref[off + k] && !bad++)
                fprintf(stderr, "  %s W=%lld T=%lld step %d: %a != %a\n", c->py_name,
                        (long long)c->w, (long long)c->t, k, tr_sched_lr(&s, k), ref[off + k]);
        CHECK_MSG(bad == 0, "case %zu: %d steps differ", i, bad);
    }
}

/* spec §6.1: linear, no warmup, base 5e-4, T=500: the step-10 log shows 4.91e-4. */
TEST(logged_lr_example) {
    tr_sched s;
    nt_err err = {0};
    CHECK(tr_sched_init(&s, "linear", 5e-4, 0, 500, false, 0, &err) == NT_OK);
    CHECK_NEAR(tr_sched_lr(&s, 10 - 1), 4.91e-4, 1e-18);
    CHECK(tr_sched_lr(&s, 500) == 0.0);
    CHECK(tr_sched_init(&s, "cosine", 1e-3, 4, 20, false, 0, &err) == NT_OK);
    CHECK(tr_sched_lr(&s, 0) == 0.0); /* the first update only moves the moments */
    CHECK(tr_sched_lr(&s, 2) == 1e-3 * 0.5);
    CHECK(tr_sched_lr(&s, 4) == 1e-3);
}

TEST(schedule_errors) {
    tr_sched s;
    nt_err err = {0};
    CHECK(tr_sched_init(&s, "polynomial", 1e-3, 0, 10, false, 0, &err) == NT_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "polynomial");
    CHECK(tr_sched_init(&s, "linear", 1e-3, 0, 10, true, 0.1, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "cosine_min_lr_ratio");
    CHECK(tr_sched_init(&s, "cosine", 1e-3, 0, 10, true, 1.5, &err) == NT_EINVAL);
    CHECK(tr_sched_init(&s, "cosine", 1e-3, -1, 10, false, 0, &err) == NT_EINVAL);
    CHECK(tr_sched_init(&s, "cosine_with_min_lr", 1e-3, 0, 10, false, 0, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "min_lr_rate");
    tr_sched_kind k;
    CHECK(tr_sched_parse_name("constant_with_warmup", &k) && k == TR_SCHED_CONSTANT_WITH_WARMUP);
    CHECK(!tr_sched_parse_name("one_cycle", &k));
}

/* transformers v5: ceil(T * ratio), hand-computed; 100 * 0.07 is 7.000000000000001 in double. */
TEST(warmup_hf) {
    CHECK_EQ_INT(tr_warmup_steps_hf(0.1, 95), 10);
    CHECK_EQ_INT(tr_warmup_steps_hf(0.03, 1000), 30);
    CHECK_EQ_INT(tr_warmup_steps_hf(0.07, 100), 8);
    CHECK_EQ_INT(tr_warmup_steps_hf(0.0, 100), 0);
    CHECK_EQ_INT(tr_warmup_steps_hf(25, 100), 25);
    CHECK_EQ_INT(tr_warmup_steps_hf(1, 100), 1);
}

/* axolotl: floor(ratio * T); default min(floor(0.03 T), 100); 1 becomes 2. */
TEST(warmup_axolotl) {
    CHECK_EQ_INT(tr_warmup_steps_axolotl(17, 0.5, 100), 17);
    CHECK_EQ_INT(tr_warmup_steps_axolotl(-1, 0.1, 95), 9);
    CHECK_EQ_INT(tr_warmup_steps_axolotl(-1, 0.07, 100), 7);
    CHECK_EQ_INT(tr_warmup_steps_axolotl(-1, -1, 1000), 30);
    CHECK_EQ_INT(tr_warmup_steps_axolotl(-1, -1, 10000), 100);
    CHECK_EQ_INT(tr_warmup_steps_axolotl(-1, -1, 50), 2);  /* int(1.5) = 1 -> 2 */
    CHECK_EQ_INT(tr_warmup_steps_axolotl(1, -1, 50), 2);
    CHECK_EQ_INT(tr_warmup_steps_axolotl(-1, -1, 20), 0);
    CHECK_EQ_INT(tr_warmup_steps_axolotl(0, -1, 1000), 0);
}

/* spec §6.4, hand-computed. */
TEST(total_steps) {
    /* 1000 examples, batch 4, 1 rank: 250 batches; GA 8 -> 31 + 1 = 32 updates/epoch */
    CHECK_EQ_INT(tr_total_steps_hf(1000, 4, 1, 8, 3, 0), 96);
    CHECK_EQ_INT(tr_total_steps_hf(1000, 4, 1, 8, 1.5, 0), 48);
    CHECK_EQ_INT(tr_total_steps_hf(1000, 4, 1, 8, 2.5, 0), 80);
    /* 2 ranks: ceil(250 / 2) = 125 batches, GA 4: 31 + 1 = 32 */
    CHECK_EQ_INT(tr_total_steps_hf(1000, 4, 2, 4, 1, 0), 32);
    CHECK_EQ_INT(tr_total_steps_hf(3, 4, 1, 8, 2, 0), 2); /* max(.., 1) per epoch */
    CHECK_EQ_INT(tr_total_steps_hf(1000, 4, 1, 8, 3, 7), 7);
    /* axolotl: ceil(1000 * 3 / (4 * 8)) = ceil(93.75) */
    CHECK_EQ_INT(tr_total_steps_axolotl(1000, 4, 1, 8, 3, 0), 94);
    CHECK_EQ_INT(tr_total_steps_axolotl(1000, 2, 2, 2, 1, 0), 125);
    CHECK_EQ_INT(tr_total_steps_axolotl(1000, 4, 1, 8, 3, 11), 11);
}

TEST_MAIN()
