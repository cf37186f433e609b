/* Running the Python reference scripts of tests/unit/oracles/ from a test: Debian's
 * /usr/bin/python3 (standard library only). Tests SKIP when it is absent. */
#ifndef NEWT_TEST_PY_ORACLE_H
#define NEWT_TEST_PY_ORACLE_H

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define PY_ORACLE_PYTHON "/usr/bin/python3"

static inline int py_oracle_available(void) { return access(PY_ORACLE_PYTHON, X_OK) == 0; }

/* popen("/usr/bin/python3 tests/unit/oracles/<script> <args>"), NULL on failure. */
static inline FILE *py_oracle_open(const char *script, const char *args) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, PY_ORACLE_PYTHON " tests/unit/oracles/%s %s", script, args);
    return popen(cmd, "r");
}

/* Writes n little-endian f32 values to a file in the test's temp dir; returns the path. */
static inline const char *py_oracle_write_f32(const char *name, const float *x, size_t n) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    size_t w = fwrite(x, sizeof(float), n, f);
    fclose(f);
    return w == n ? path : NULL;
}

/* A small deterministic generator (xorshift64*) so the oracle and newt see the same data. */
static inline uint64_t py_oracle_rand(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static inline double py_oracle_uniform(uint64_t *s) {
    return (double)(py_oracle_rand(s) >> 11) * 0x1p-53;
}

/* N(0,1) by Box-Muller. */
static inline double py_oracle_gauss(uint64_t *s) {
    double u = py_oracle_uniform(s), v = py_oracle_uniform(s);
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#endif
