/* Fuzzes the safetensors reader in memory: any input must open or fail with an error, never
 * crash or leak; on success every byte of every tensor is read, so a pointer or size that
 * escaped validation shows up as an ASan out-of-bounds read (inputs are exact-size copies). */
#include "base/fileio.h"
#include "formats/safetensors.h"
#include "fuzz.h"

static void add_st(fuzz_corpus *c, const char *header, size_t ndata) {
    size_t hl = strlen(header), n = 8 + hl + ndata;
    uint8_t *b = calloc(1, n);
    if (!b) abort();
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    for (size_t i = 0; i < ndata; i++) b[8 + hl + i] = (uint8_t)(i * 37);
    fuzz_add(c, b, n);
    free(b);
}

static void fuzz_seeds(fuzz_corpus *c) {
    add_st(c, "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],"
              "\"data_offsets\":[0,24]},\"b\":{\"dtype\":\"BF16\",\"shape\":[],"
              "\"data_offsets\":[24,26]},\"c\":{\"dtype\":\"U8\",\"shape\":[0,4],"
              "\"data_offsets\":[26,26]}}", 26);
    add_st(c, "{\"x\":{\"dtype\":\"I64\",\"shape\":[1,1,1,1,1,1,1,1],\"data_offsets\":[0,8]},"
              "\"y\":{\"dtype\":\"F8_E4M3\",\"shape\":[3],\"data_offsets\":[8,11]}}    ", 11);
    add_st(c, "{\"__metadata__\":{}}", 0);
    add_st(c, "{\"t\":{\"dtype\":\"BOOL\",\"shape\":[5],\"data_offsets\":[0,5]}}", 5);
    /* The real fixture (run from the repository root, as CI does). */
    char *data = NULL;
    size_t len = 0;
    nt_err err = {0};
    if (nt_read_file("tests/fixtures/mistral4-tiny/model.safetensors", &data, &len, &err) == NT_OK) {
        fuzz_add(c, data, len);
        free(data);
    }
}

static void fuzz_target(const uint8_t *data, size_t n) {
    st_file *f = NULL;
    nt_err err = {0};
    if (st_file_open_memory(data, n, "fuzz", &f, &err) != NT_OK) {
        if (!strstr(err.msg, "fuzz: ")) abort(); /* every message names the file */
        return;
    }
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < st_file_count(f); i++) {
        const st_tensor *t = st_file_tensor(f, i);
        const uint8_t *p = t->data;
        if (st_file_find(f, t->name) != t || !st_file_tensor_sorted(f, i)) abort();
        for (uint64_t k = 0; k < t->nbytes; k++) sink ^= p[k];
    }
    (void)sink;
    st_file_close(f);
}

FUZZ_MAIN()
