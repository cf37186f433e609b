/* Throughput of nt_hash (BLAKE2b-256) over a 256 MiB in-memory buffer.
 * Usage: hash_bench [MiB] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "bench_util.h"

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 256;
    size_t n = mib << 20;
    unsigned char *buf = malloc(n);
    if (!buf) return 1;
    for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)(i * 131 + (i >> 9));
    uint8_t d[NT_HASH_LEN];
    char hex[2 * NT_HASH_LEN + 1];
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = bn_now();
        nt_hash_buf(buf, n, d, NT_HASH_LEN);
        double dt = bn_now() - t0;
        if (dt < best) best = dt;
    }
    printf("blake2b-256: %zu MiB in %.3f s = %.0f MB/s (%s)\n", mib, best, (double)n / best / 1e6,
           nt_hash_hex(d, NT_HASH_LEN, hex));
    free(buf);
    return 0;
}
