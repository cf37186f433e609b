/* Low disk space is an error before anything is written (docs/training.md, "Checkpoints"):
 * a checkpoint or the final outputs are estimated (weights + optimizer state + small files)
 * and compared with the free space of output_dir's filesystem, so a full disk never leaves
 * a half-written output, and a failed save never reaches save_total_limit's rotation. */
#include <errno.h>
#include <stdlib.h>
#include <sys/statvfs.h>

#include "train/trainer_internal.h"

/* Room for trainer_state.json, metrics, the card, tokenizer files and filesystem overhead. */
#define TR_DISK_SMALL_FILES (16ull << 20)

/* Free bytes for an unprivileged writer of dir. NEWT_TEST_FREE_BYTES overrides the measure:
 * a test hook (a full disk cannot be made on demand), not a user setting. */
static nt_status free_bytes(const char *dir, uint64_t *out, nt_err *err) {
    const char *hook = getenv("NEWT_TEST_FREE_BYTES");
    if (hook && *hook) {
        *out = strtoull(hook, NULL, 10);
        return NT_OK;
    }
    struct statvfs s;
    if (statvfs(dir, &s)) return nt_err_errno(err, NT_EIO, "output_dir %s: statvfs", dir);
    *out = (uint64_t)s.f_bavail * (uint64_t)s.f_frsize;
    return NT_OK;
}

/* Bytes of the weights saved: the trainable tensors (adapter) or every model tensor. */
static uint64_t weight_bytes(const tr_ctx *x, unsigned elem) {
    uint64_t n = 0;
    if (x->adapter && x->have_targets) {
        for (size_t i = 0; i < tr_optim_param_count(x->opt); i++) n += tr_optim_param(x->opt, i)->numel;
    } else {
        for (size_t i = 0; i < m4_model_num_params(x->model); i++) n += (uint64_t)m4_model_param(x->model, i)->numel;
    }
    return n * elem;
}

/* Optimizer state: at most two f32 moments per trainable value (8-bit states are smaller). */
static uint64_t optim_bytes(const tr_ctx *x) {
    uint64_t n = 0;
    for (size_t i = 0; i < tr_optim_param_count(x->opt); i++) n += tr_optim_param(x->opt, i)->numel;
    return n * 8;
}

nt_status tr_disk_check(const tr_ctx *x, tr_disk_what what, unsigned elem, nt_err *err) {
    uint64_t need = weight_bytes(x, elem) + TR_DISK_SMALL_FILES;
    if (what == TR_DISK_CHECKPOINT) need += optim_bytes(x);
    need += need / 10; /* margin: safetensors headers, metadata, estimates */
    uint64_t avail = 0;
    if (free_bytes(x->out_dir, &avail, err)) return err->code;
    if (avail >= need) return NT_OK;
    return nt_err_set(err, NT_EIO,
                      "output_dir %s: not enough disk space for the %s: about %llu bytes needed, %llu available "
                      "(nothing was written; free space or choose another output_dir)",
                      x->out_dir, what == TR_DISK_CHECKPOINT ? "checkpoint" : "final outputs",
                      (unsigned long long)need, (unsigned long long)avail);
}
