/* Expected lines are derived by hand from the format description in progress.h (see the
 * arithmetic in the comments), not produced by the code under test. */
#include "base/mem.h"
#include "base/progress.h"
#include "test.h"

static char *slurp(FILE *f) {
    fflush(f);
    rewind(f);
    nt_buf b = {0};
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) nt_buf_append(&b, chunk, r);
    nt_buf_putc(&b, '\0');
    return nt_buf_take(&b, NULL);
}

static int count_char(const char *s, char c) {
    int n = 0;
    for (; *s; s++) n += *s == c;
    return n;
}

TEST(format_known_total_with_smoothed_rate) {
    FILE *f = tmpfile();
    nt_progress p;
    nt_progress_start_at(&p, "train", 1000, NULL, f, 100.0);
    char line[512];
    /* nothing done yet: no rate, no ETA */
    nt_progress_format(&p, 100.0, line, sizeof line);
    CHECK_EQ_STR(line, "train   0%|          | 0/1000 [00:00<?, ? it/s]");
    /* 420 in 12 s: rate 35/s; ETA 580/35 = 16.6 s; bar 0.42*80 = 33 eighths = 4 full + 1/8 */
    nt_progress_update_at(&p, 420, 112.0);
    nt_progress_format(&p, 112.0, line, sizeof line);
    CHECK_EQ_STR(line, "train  42%|████▏     | 420/1000 [00:12<00:16, 35.0 it/s]");
    /* +50 in 1 s: smoothed 0.3*50 + 0.7*35 = 39.5; ETA 530/39.5 = 13.4; 37 eighths = 4 + 5/8 */
    nt_progress_update_at(&p, 50, 113.0);
    nt_progress_set_postfix(&p, "loss=1.23");
    nt_progress_format(&p, 113.0, line, sizeof line);
    CHECK_EQ_STR(line, "train  47%|████▋     | 470/1000 [00:13<00:13, 39.5 it/s] loss=1.23");
    /* finished: average 1000/20 s = 50/s, full bar */
    nt_progress_update_at(&p, 530, 120.0);
    nt_progress_finish_at(&p, 120.0);
    char *s = slurp(f);
    /* a file is not a TTY: one plain line at 112 (12 s >= 10 s since start), then the end */
    CHECK_EQ_STR(s, "train  42%|████▏     | 420/1000 [00:12<00:16, 35.0 it/s]\n"
                    "train 100%|██████████| 1000/1000 [00:20<00:00, 50.0 it/s] loss=1.23\n");
    free(s);
    fclose(f);
}

TEST(format_unknown_total_and_unit_scaling) {
    nt_progress p;
    char line[512];
    FILE *null = fopen("/dev/null", "w");
    nt_progress_start_at(&p, "prep", 0, "tok", null, 0.0);
    nt_progress_update_at(&p, 1234567, 10.0); /* 123456.7/s -> 123k */
    nt_progress_format(&p, 10.0, line, sizeof line);
    CHECK_EQ_STR(line, "prep 1234567 tok [00:10, 123k tok/s]");
    nt_progress_start_at(&p, "", -1, "tok", null, 0.0);
    nt_progress_update_at(&p, 123456780, 10.0); /* 12345678/s -> 12.3M */
    nt_progress_format(&p, 3725.0, line, sizeof line); /* 3725 s = 1:02:05 */
    CHECK_EQ_STR(line, "123456780 tok [1:02:05, 12.3M tok/s]");
    nt_progress_start_at(&p, "x", 0, NULL, null, 0.0);
    nt_progress_update_at(&p, 9997, 10.0); /* 999.7/s rounds up into the next unit */
    nt_progress_format(&p, 10.0, line, sizeof line);
    CHECK_EQ_STR(line, "x 9997 it [00:10, 1.00k it/s]");
    nt_progress_start_at(&p, "slow", 10, NULL, null, 0.0);
    nt_progress_update_at(&p, 2, 5.0); /* 0.4/s shows as 2.50 s/it; ETA 8/0.4 = 20 s */
    nt_progress_format(&p, 5.0, line, sizeof line);
    CHECK_EQ_STR(line, "slow  20%|██        | 2/10 [00:05<00:20, 2.50 s/it]");
    fclose(null);
}

TEST(plain_output_every_interval_without_carriage_returns) {
    FILE *f = tmpfile();
    nt_progress p;
    nt_progress_start_at(&p, "job", 25, NULL, f, 0.0);
    CHECK(!p.tty);
    for (int t = 1; t <= 25; t++) nt_progress_update_at(&p, 1, (double)t);
    nt_progress_finish_at(&p, 25.5);
    char *s = slurp(f);
    /* lines at t=10 and t=20 (10 s default), then the final line: 25/25.5 s = 0.98/s =
     * 1.02 s/it */
    CHECK_EQ_STR(s, "job  40%|████      | 10/25 [00:10<00:15, 1.00 it/s]\n"
                    "job  80%|████████  | 20/25 [00:20<00:05, 1.00 it/s]\n"
                    "job 100%|██████████| 25/25 [00:25<00:00, 1.02 s/it]\n");
    CHECK(!strchr(s, '\r'));
    free(s);
    fclose(f);

    f = tmpfile();
    nt_progress_start_at(&p, "job", 0, NULL, f, 0.0);
    nt_progress_set_interval(&p, 5);
    for (int t = 1; t <= 25; t++) nt_progress_update_at(&p, 1, (double)t);
    nt_progress_finish_at(&p, 25.0);
    nt_progress_finish_at(&p, 26.0); /* idempotent */
    s = slurp(f);
    CHECK_EQ_INT(count_char(s, '\n'), 6); /* t = 5, 10, 15, 20, 25 and the final line */
    CHECK(!strchr(s, '\r'));
    free(s);
    fclose(f);
}

TEST(tty_redraws_in_place_at_most_ten_times_a_second) {
    FILE *f = tmpfile();
    nt_progress p;
    nt_progress_start_at(&p, "t", 1000, NULL, f, 0.0);
    nt_progress_set_tty(&p, true);
    for (int k = 1; k <= 200; k++) nt_progress_update_at(&p, 1, k * 0.01); /* 2 s, 100 Hz */
    char *s = slurp(f);
    int redraws = count_char(s, '\r');
    CHECK_MSG(redraws >= 15 && redraws <= 20, "%d redraws in 2 s", redraws);
    CHECK(!strchr(s, '\n'));
    free(s);
    nt_progress_finish_at(&p, 2.0);
    s = slurp(f);
    size_t len = strlen(s);
    CHECK(len > 0 && s[len - 1] == '\n');
    CHECK_CONTAINS(strrchr(s, '\r'), "\rt  20%|██        | 200/1000 [00:02<00:08, 100 it/s]");
    free(s);
    fclose(f);
}

TEST(tty_blanks_leftovers_of_a_longer_previous_line) {
    FILE *f = tmpfile();
    nt_progress p;
    nt_progress_start_at(&p, "t", 0, NULL, f, 0.0);
    nt_progress_set_tty(&p, true);
    nt_progress_set_postfix(&p, "loss=12345");
    nt_progress_update_at(&p, 1, 1.0);
    nt_progress_set_postfix(&p, NULL);
    nt_progress_update_at(&p, 1, 2.0);
    char *s = slurp(f);
    /* "t 1 it [00:01, 1.00 it/s] loss=12345" is 36 columns; the next line is 25 + 11 blanks */
    CHECK_EQ_STR(s, "\rt 1 it [00:01, 1.00 it/s] loss=12345"
                    "\rt 2 it [00:02, 1.00 it/s]           ");
    free(s);
    fclose(f);
}

TEST_MAIN()
