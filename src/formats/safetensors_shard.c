/* Sharded saving as Hugging Face does it (huggingface_hub's state-dict splitter followed by
 * transformers' save_pretrained): shard assignment, file names, the index file, and removal
 * of a previous save's leftovers so the folder never describes two different checkpoints. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "formats/json.h"
#include "formats/safetensors_internal.h"

/* Tensors in order; one larger than the limit gets a shard of its own, appended at once
 * (so it precedes the shard still being filled); otherwise a tensor that would push the
 * current shard over the limit closes it first. Shard numbers follow the order shards are
 * closed, exactly as the reference splitter numbers them. */
size_t st_writer_plan_shards(const st_writer *w, uint64_t max_shard_bytes, size_t *shard_of) {
    size_t n = st_writer_count(w), nprov = 0, closed = 0, cur = SIZE_MAX;
    size_t *final = nt_xmalloc((n ? n : 1) * sizeof *final); /* provisional -> final id */
    uint64_t cur_size = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t sz = st_writer_nbytes(w, i);
        if (max_shard_bytes && sz > max_shard_bytes) {
            shard_of[i] = nprov;
            final[nprov++] = closed++;
            continue;
        }
        if (max_shard_bytes && cur != SIZE_MAX && cur_size + sz > max_shard_bytes) {
            final[cur] = closed++;
            cur = SIZE_MAX;
        }
        if (cur == SIZE_MAX) {
            cur = nprov++;
            cur_size = 0;
        }
        shard_of[i] = cur;
        cur_size += sz;
    }
    if (cur != SIZE_MAX) final[cur] = closed++;
    for (size_t i = 0; i < n; i++) shard_of[i] = final[shard_of[i]];
    free(final);
    return closed;
}

/* json.dumps(index, indent=2, sort_keys=True) + "\n", as transformers writes it. */
static void build_index(const st_writer *w, const size_t *shard_of, size_t nshards, nt_buf *b) {
    uint64_t params = 0, bytes = 0;
    val *wm = val_dict();
    for (size_t i = 0; i < st_writer_count(w); i++) {
        params += st_writer_numel(w, i);
        bytes += st_writer_nbytes(w, i);
        char *file = nt_xasprintf("model-%05zu-of-%05zu.safetensors", shard_of[i] + 1, nshards);
        val_dict_set(wm, st_writer_name(w, i), val_str(file));
        free(file);
    }
    val *md = val_dict(), *root = val_dict();
    val_dict_set(md, "total_parameters", val_int((int64_t)params));
    val_dict_set(md, "total_size", val_int((int64_t)bytes));
    val_dict_set(root, "metadata", md);
    val_dict_set(root, "weight_map", wm);
    json_opts o = {.indent = 2, .ensure_ascii = true, .sort_keys = true};
    json_dump(b, root, &o);
    nt_buf_putc(b, '\n');
    val_unref(root);
}

/* Removes files of an earlier save that the new one does not use: an index when the new
 * save is a single file (it would shadow it), a single file when the new save is sharded,
 * and model-*-of-M shards with M != nshards. Only names of exactly these forms are touched. */
static void remove_stale(const char *dir, size_t nshards) {
    char *p = nt_path_join(dir, nshards > 1 ? "model.safetensors" : "model.safetensors.index.json");
    unlink(p);
    free(p);
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        unsigned i, m;
        int end = 0;
        if (strlen(e->d_name) != 32 ||
            sscanf(e->d_name, "model-%5u-of-%5u.safetensors%n", &i, &m, &end) != 2 || end != 32)
            continue;
        if (nshards > 1 && m == nshards) continue;
        p = nt_path_join(dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
}

static nt_status write_shards(st_writer *w, const char *dir, const size_t *shard_of,
                              size_t nshards, nt_err *err) {
    size_t n = st_writer_count(w);
    size_t *idx = nt_xmalloc((n ? n : 1) * sizeof *idx);
    nt_status st = NT_OK;
    for (size_t s = 0; s < nshards && !st; s++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (shard_of[i] == s) idx[k++] = i;
        char *name = nt_xasprintf("model-%05zu-of-%05zu.safetensors", s + 1, nshards);
        char *p = nt_path_join(dir, name);
        st = st_writer_write_subset(w, idx, k, p, err);
        free(p);
        free(name);
    }
    free(idx);
    return st;
}

nt_status st_writer_save_sharded(st_writer *w, const char *dir, uint64_t max_shard_bytes,
                                 nt_err *err) {
    nt_status st = nt_mkdirs(dir, err);
    if (st) return st;
    size_t n = st_writer_count(w);
    size_t *shard_of = nt_xmalloc((n ? n : 1) * sizeof *shard_of);
    size_t nshards = st_writer_plan_shards(w, max_shard_bytes, shard_of);
    if (nshards <= 1) {
        char *p = nt_path_join(dir, "model.safetensors");
        st = st_writer_save(w, p, err);
        free(p);
    } else if (!(st = write_shards(w, dir, shard_of, nshards, err))) {
        nt_buf b = {0};
        build_index(w, shard_of, nshards, &b);
        char *p = nt_path_join(dir, "model.safetensors.index.json");
        st = nt_write_file_atomic(p, b.data, b.len, err); /* last: its presence means complete */
        free(p);
        nt_buf_free(&b);
    }
    if (!st) remove_stale(dir, nshards);
    free(shard_of);
    return st;
}
