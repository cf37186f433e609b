#include <stdint.h>
#include <sys/wait.h>

#include "base/arena.h"
#include "base/mem.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

TEST(default_alignment_is_64_and_custom_alignment_is_honoured) {
    nt_arena a;
    nt_arena_init(&a, 4096);
    for (int i = 1; i < 50; i++) {
        uint8_t *p = nt_arena_alloc(&a, (size_t)i * 3, 0);
        CHECK(p && (uintptr_t)p % 64 == 0);
        memset(p, 0xab, (size_t)i * 3);
    }
    void *q = nt_arena_alloc(&a, 10, 8192); /* alignment above the page size */
    CHECK(q && (uintptr_t)q % 8192 == 0);
    CHECK(nt_arena_alloc(&a, 10, 48) == NULL); /* not a power of two */
    nt_arena_free(&a);
}

TEST(stats_count_bytes_and_padding_exactly) {
    nt_arena a;
    nt_arena_init(&a, 1 << 16);
    char *p1 = nt_arena_alloc(&a, 10, 0);  /* chunk start: no padding, 10 bytes */
    char *p2 = nt_arena_alloc(&a, 100, 0); /* 54 bytes padding to offset 64 */
    CHECK(p2 - p1 == 64);
    CHECK_EQ_INT(a.in_use, 164);
    CHECK_EQ_INT(a.high_water, 164);
    CHECK_EQ_INT(a.reserved, 1 << 16);
    nt_arena_reset(&a);
    CHECK_EQ_INT(a.in_use, 0);
    CHECK_EQ_INT(a.high_water, 164); /* the peak survives reset: it sizes the next run */
    char *p3 = nt_arena_alloc(&a, 1, 1);
    CHECK(p3 == p1); /* memory is reused, not remapped */
    CHECK_EQ_INT(a.reserved, 1 << 16);
    nt_arena_free(&a);
    CHECK_EQ_INT(a.reserved, 0);
}

TEST(mark_and_rollback_across_chunks) {
    nt_arena a;
    nt_arena_init(&a, 4096);
    char *keep = nt_arena_alloc(&a, 1000, 0);
    memset(keep, 7, 1000);
    nt_arena_pos pos = nt_arena_mark(&a);
    size_t before = a.in_use;
    char *first_after = nt_arena_alloc(&a, 100, 0);
    for (int i = 0; i < 20; i++) memset(nt_arena_alloc(&a, 1000, 0), 1, 1000); /* spills */
    CHECK(a.reserved > 4096);
    size_t reserved = a.reserved;
    nt_arena_rollback(&a, pos);
    CHECK_EQ_INT(a.in_use, before);
    CHECK(nt_arena_alloc(&a, 100, 0) == first_after);
    for (int i = 0; i < 20; i++) nt_arena_alloc(&a, 1000, 0);
    CHECK_EQ_INT(a.reserved, reserved); /* the rolled-back chunks were reused */
    int intact = 1;
    for (int i = 0; i < 1000; i++) intact &= keep[i] == 7;
    CHECK(intact);
    nt_arena_free(&a);
}

TEST(oversized_request_gets_its_own_chunk) {
    nt_arena a;
    nt_arena_init(&a, 4096);
    char *small = nt_arena_alloc(&a, 16, 0);
    char *big = nt_arena_alloc(&a, 1 << 20, 0);
    CHECK(big != NULL);
    memset(big, 3, 1 << 20);
    CHECK(a.reserved >= 4096 + (1 << 20));
    CHECK_EQ_INT(a.in_use, 16 + (1 << 20));
    nt_arena_reset(&a);
    CHECK(nt_arena_alloc(&a, 16, 0) == small);
    nt_arena_free(&a);
}

TEST(rollback_to_mark_of_empty_arena_resets) {
    nt_arena a;
    nt_arena_init(&a, 0);
    nt_arena_pos pos = nt_arena_mark(&a);
    char *p = nt_arena_alloc(&a, 64, 0);
    nt_arena_rollback(&a, pos);
    CHECK_EQ_INT(a.in_use, 0);
    CHECK(nt_arena_alloc(&a, 64, 0) == p);
    CHECK_EQ_INT(a.reserved, NT_ARENA_CHUNK);
    nt_arena_free(&a);
}

#ifdef TEST_ASAN
TEST(asan_poisons_unused_and_reset_memory) {
    nt_arena a;
    nt_arena_init(&a, 4096);
    char *p = nt_arena_alloc(&a, 10, 0);
    CHECK(!__asan_address_is_poisoned(p));
    CHECK(!__asan_address_is_poisoned(p + 9));
    CHECK(__asan_address_is_poisoned(p + 10)); /* padding and the free tail */
    CHECK(__asan_address_is_poisoned(p + 2000));
    nt_arena_pos pos = nt_arena_mark(&a);
    char *q = nt_arena_alloc(&a, 10, 0);
    nt_arena_rollback(&a, pos);
    CHECK(__asan_address_is_poisoned(q));
    CHECK(!__asan_address_is_poisoned(p));
    nt_arena_reset(&a);
    CHECK(__asan_address_is_poisoned(p));
    nt_arena_free(&a);
}

TEST(asan_reports_use_after_reset) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* silence the expected report; the parent only checks how the child died */
        if (!freopen("/dev/null", "w", stderr)) _exit(3);
        nt_arena a;
        nt_arena_init(&a, 4096);
        volatile char *p = nt_arena_alloc(&a, 32, 0);
        p[0] = 1;
        nt_arena_reset(&a);
        p[0] = 2; /* must be caught */
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(!(WIFEXITED(status) && WEXITSTATUS(status) == 0),
              "write after reset went unnoticed");
}
#endif

TEST_MAIN()
