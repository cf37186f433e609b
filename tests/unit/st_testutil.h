/* Helpers shared by the safetensors tests: temp files, an independent Python dump of a
 * safetensors file (json + struct + zlib only) and the same dump built from newt's reader,
 * so that two implementations can be compared line for line. */
#ifndef NEWT_ST_TESTUTIL_H
#define NEWT_ST_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "formats/safetensors.h"
#include "test.h"

#define ST_FIXTURE "tests/fixtures/mistral4-tiny/model.safetensors"
#define PYTHON "/usr/bin/python3"

static inline char *tpath(const char *name) { return nt_path_join(test_tmpdir(), name); }

static inline void write_bytes(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) { perror(path); exit(2); }
    if (n && fwrite(data, 1, n, fp) != n) { perror(path); exit(2); }
    fclose(fp);
}

/* 8-byte little-endian length + header text + ndata bytes (0, 1, 2, ...). */
static inline void make_st(nt_buf *b, const char *header, uint64_t hlen, size_t ndata) {
    for (int i = 0; i < 8; i++) nt_buf_putc(b, (char)(hlen >> (8 * i)));
    nt_buf_puts(b, header);
    for (size_t i = 0; i < ndata; i++) nt_buf_putc(b, (char)i);
}

static inline uint32_t crc32_ieee(const uint8_t *p, uint64_t n) {
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
        table[i] = c;
    }
    uint32_t c = 0xffffffffu;
    for (uint64_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return ~c;
}

static inline void hex_into(nt_buf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) nt_buf_printf(b, "%02x", (unsigned char)s[i]);
}

static const char st_py_dump[] =
    "import json, struct, sys, zlib\n"
    "paths = sys.argv[1:]\n"
    "if paths and paths[0] == '--walk':\n"
    "    import os\n"
    "    paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(paths[1]) for f in fs\n"
    "                   if f.endswith('.safetensors'))\n"
    "for path in paths:\n"
    "    print('F', path)\n"
    "    b = open(path, 'rb').read()\n"
    "    n = struct.unpack('<Q', b[:8])[0]\n"
    "    h = json.loads(b[8:8 + n])\n"
    "    data = b[8 + n:]\n"
    "    print('H', n, len(data))\n"
    "    for k, v in h.get('__metadata__', {}).items():\n"
    "        print('M', k.encode().hex(), v.encode().hex())\n"
    "    for k, v in h.items():\n"
    "        if k == '__metadata__':\n"
    "            continue\n"
    "        s, e = v['data_offsets']\n"
    "        vals = '-'\n"
    "        if v['dtype'] == 'F32' and e > s:\n"
    "            vals = '%08x,%08x' % (struct.unpack('<I', data[s:s + 4])[0],\n"
    "                                  struct.unpack('<I', data[e - 4:e])[0])\n"
    "        print('T', k.encode().hex(), v['dtype'], ','.join(map(str, v['shape'])), s, e,\n"
    "              '%08x' % zlib.crc32(data[s:e]), vals)\n";

static inline bool have_python(void) { return access(PYTHON, X_OK) == 0; }

/* Runs a Python script (text) with args; returns its stdout or NULL on failure. */
static inline char *run_python(const char *script, const char *args) {
    char *sp = tpath("oracle.py");
    write_bytes(sp, script, strlen(script));
    char *cmd = nt_xasprintf(PYTHON " %s %s", sp, args);
    FILE *p = popen(cmd, "r");
    nt_buf out = {0};
    char buf[4096];
    size_t k;
    while (p && (k = fread(buf, 1, sizeof buf, p)) > 0) nt_buf_append(&out, buf, k);
    int rc = p ? pclose(p) : -1;
    free(cmd);
    free(sp);
    if (rc != 0) {
        nt_buf_free(&out);
        return NULL;
    }
    nt_buf_putc(&out, '\0');
    return nt_buf_take(&out, NULL);
}

/* newt's view of a file in the Python script's format. */
static inline void c_dump(nt_buf *b, const st_file *f) {
    nt_buf_printf(b, "F %s\n", st_file_path(f));
    nt_buf_printf(b, "H %llu %llu\n", (unsigned long long)st_file_header_len(f),
                  (unsigned long long)st_file_data_len(f));
    const val *md = st_file_metadata(f);
    for (size_t i = 0; i < val_dict_len(md); i++) {
        val_entry *e = val_dict_entry(md, i);
        nt_buf_puts(b, "M ");
        hex_into(b, e->key->u.str.s, e->key->u.str.n);
        nt_buf_putc(b, ' ');
        hex_into(b, e->value->u.str.s, e->value->u.str.n);
        nt_buf_putc(b, '\n');
    }
    for (size_t i = 0; i < st_file_count(f); i++) {
        const st_tensor *t = st_file_tensor(f, i);
        nt_buf_puts(b, "T ");
        hex_into(b, t->name, strlen(t->name));
        nt_buf_printf(b, " %s ", st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) nt_buf_printf(b, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        nt_buf_printf(b, " %llu %llu %08x ", (unsigned long long)t->offset,
                      (unsigned long long)(t->offset + t->nbytes),
                      crc32_ieee(t->data, t->nbytes));
        if (t->dtype == ST_F32 && t->nbytes) {
            uint32_t first, last;
            memcpy(&first, t->data, 4);
            memcpy(&last, (const uint8_t *)t->data + t->nbytes - 4, 4);
            nt_buf_printf(b, "%08x,%08x\n", first, last);
        } else nt_buf_puts(b, "-\n");
    }
}

#endif
