/* Looking at prepared samples: axolotl-style token dumps (`newt preprocess --debug`) and the
 * one-line-per-sample JSON export (`--export-jsonl`). */
#ifndef NEWT_DATA_DS_DEBUG_H
#define NEWT_DATA_DS_DEBUG_H

#include <stdbool.h>

#include "base/error.h"
#include "base/mem.h"
#include "data/ds_set.h"
#include "tokenizer/tok.h"

/* Sample i as "text(label, id) text(label, id) ...": with color, trained tokens green and
 * masked ones red (ANSI); without, trained tokens are wrapped in « » so the mask is visible in
 * plain text. Control characters in token text are escaped (\n). Then a line with the length
 * and the trained count. */
void ds_debug_sample(nt_buf *b, const ds_set *s, size_t i, const tok_tokenizer *t, bool color);

/* {"input_ids": [...], "labels": [...], "dataset": i, "row": n} per sample, written atomically. */
nt_status ds_export_jsonl(const ds_set *s, const char *path, nt_err *err);

#endif
