/* TensorBoard event files written by hand (spec formats.md §11): TFRecord framing with masked
 * CRC-32C around proto3-encoded tensorboard.Event messages carrying simple_value scalars. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fileio.h"
#include "train/metrics.h"

uint32_t tr_crc32c(const void *data, size_t n) {
    const uint8_t *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) { /* records are tens of bytes: bitwise is plenty fast */
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

uint32_t tr_crc32c_masked(const void *data, size_t n) {
    uint32_t c = tr_crc32c(data, n);
    return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

static void put_le(nt_buf *b, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) nt_buf_putc(b, (char)(uint8_t)(v >> (8 * i)));
}

static void put_varint(nt_buf *b, uint64_t v) {
    while (v >= 0x80) {
        nt_buf_putc(b, (char)(uint8_t)(v | 0x80));
        v >>= 7;
    }
    nt_buf_putc(b, (char)(uint8_t)v);
}

/* A length-delimited field: tag byte, varint length, bytes. */
static void put_bytes(nt_buf *b, uint8_t tag, const void *data, size_t n) {
    nt_buf_putc(b, (char)tag);
    put_varint(b, n);
    nt_buf_append(b, data, n);
}

static void put_double(nt_buf *b, uint8_t tag, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    nt_buf_putc(b, (char)tag);
    put_le(b, u, 8);
}

/* u64 length | masked crc of those 8 bytes | payload | masked crc of the payload */
static void frame(nt_buf *b, const nt_buf *payload) {
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)payload->len >> (8 * i));
    nt_buf_append(b, len, 8);
    put_le(b, tr_crc32c_masked(len, 8), 4);
    nt_buf_append(b, payload->data, payload->len);
    put_le(b, tr_crc32c_masked(payload->data, payload->len), 4);
}

void tr_tb_record_version(nt_buf *b, double wall_time) {
    nt_buf ev = {0};
    put_double(&ev, 0x09, wall_time);                      /* Event.wall_time = 1 */
    put_bytes(&ev, 0x1A, "brain.Event:2", 13);             /* Event.file_version = 3 */
    frame(b, &ev);
    nt_buf_free(&ev);
}

void tr_tb_record_scalar(nt_buf *b, double wall_time, int64_t step, const char *tag, float value) {
    nt_buf sv = {0}, sum = {0}, ev = {0};
    uint32_t bits;
    memcpy(&bits, &value, 4);
    put_bytes(&sv, 0x0A, tag, strlen(tag));               /* Summary.Value.tag = 1 */
    nt_buf_putc(&sv, 0x15);                               /* simple_value = 2, fixed32 */
    put_le(&sv, bits, 4);
    put_bytes(&sum, 0x0A, sv.data, sv.len);              /* Summary.value = 1 */
    put_double(&ev, 0x09, wall_time);
    if (step != 0) {                                       /* Event.step = 2 (proto3: 0 omitted) */
        nt_buf_putc(&ev, 0x10);
        put_varint(&ev, (uint64_t)step);
    }
    put_bytes(&ev, 0x2A, sum.data, sum.len);               /* Event.summary = 5 */
    frame(b, &ev);
    nt_buf_free(&sv), nt_buf_free(&sum), nt_buf_free(&ev);
}

char *tr_tb_tag(const char *key) {
    if (strncmp(key, "eval_", 5) == 0) return nt_xasprintf("eval/%s", key + 5);
    if (strncmp(key, "test_", 5) == 0) return nt_xasprintf("test/%s", key + 5);
    return nt_xasprintf("train/%s", key);
}

struct tr_tb {
    int fd;
    char *path;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static nt_status write_all(tr_tb *tb, const nt_buf *b, nt_err *err) {
    for (size_t off = 0; off < b->len;) {
        ssize_t w = write(tb->fd, b->data + off, b->len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return nt_err_errno(err, NT_EIO, "%s: write", tb->path);
        off += (size_t)w;
    }
    return NT_OK;
}

nt_status tr_tb_open(const char *dir, tr_tb **out, nt_err *err) {
    *out = NULL;
    nt_status rc = nt_mkdirs(dir, err);
    if (rc) return rc;
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "localhost");
    double t = now_s();
    tr_tb *tb = nt_xcalloc(1, sizeof *tb);
    /* PyTorch's SummaryWriter naming (pid and a counter make concurrent runs distinct) */
    for (int n = 0;; n++) {
        char *name = nt_xasprintf("events.out.tfevents.%010lld.%s.%d.%d", (long long)t, host,
                                  (int)getpid(), n);
        tb->path = nt_path_join(dir, name);
        free(name);
        tb->fd = open(tb->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
        if (tb->fd >= 0 || errno != EEXIST || n > 100) break;
        free(tb->path);
    }
    if (tb->fd < 0) {
        nt_err_errno(err, NT_EIO, "%s: cannot create", tb->path);
        free(tb->path), free(tb);
        return NT_EIO;
    }
    nt_buf b = {0};
    tr_tb_record_version(&b, t);
    rc = write_all(tb, &b, err);
    nt_buf_free(&b);
    if (rc) {
        tr_tb_close(tb);
        return rc;
    }
    *out = tb;
    return NT_OK;
}

const char *tr_tb_path(const tr_tb *tb) { return tb->path; }

nt_status tr_tb_log(tr_tb *tb, const val *entry, int64_t step, nt_err *err) {
    nt_buf b = {0};
    double t = now_s();
    for (size_t i = 0; i < val_dict_len(entry); i++) {
        const val_entry *e = val_dict_entry(entry, i);
        const char *key = e->key->u.str.s;
        if (strcmp(key, "step") == 0 || !(val_is(e->value, VAL_INT) || val_is(e->value, VAL_FLOAT)))
            continue;
        char *tag = tr_tb_tag(key);
        tr_tb_record_scalar(&b, t, step, tag, (float)val_to_double(e->value));
        free(tag);
    }
    nt_status rc = write_all(tb, &b, err);
    nt_buf_free(&b);
    return rc;
}

void tr_tb_close(tr_tb *tb) {
    if (!tb) return;
    if (tb->fd >= 0) close(tb->fd);
    free(tb->path);
    free(tb);
}
