/* newt command-line entry point: dispatches to one function per command. */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/threads.h"
#include "cli/cli.h"

#define NEWT_VERSION "0.1.0"

typedef struct {
    const char *name;
    cli_cmd_fn fn;
    const char *help;
} cli_command;

static const cli_command commands[] = {
    {"inspect", cli_cmd_inspect, "show tensors, dtypes, shapes and parameter counts of a model"},
    {"render", cli_cmd_render, "render a chat template over a conversation (with byte provenance)"},
    {"config-schema", cli_cmd_config_schema, "print every config key with type, default and doc"},
    {"config-check", cli_cmd_config_check, "validate a config (+ overrides) and print it resolved"},
    {"init-model", cli_cmd_init_model, "write a randomly initialized model (HF layout)"},
    {"probe", cli_cmd_probe, "run the model on one batch; write loss, hidden states, logits, grads"},
    {"preprocess", cli_cmd_preprocess, "tokenize and mask the datasets of a config; build the prepared cache"},
    {"train", cli_cmd_train, "fine-tune base_model on the datasets of a config (full, LoRA, QLoRA)"},
    {"tokenize", cli_cmd_tokenize, "encode text to token ids and byte offsets, or decode ids"},
    {"tokenizer-convert", cli_cmd_tokenizer_convert, "write tekken.json and tokenizer.json from Tekken ranks"},
};

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("newt: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(FILE *out) {
    fprintf(out, "newt %s: fine-tuning for Mistral Small 4-class models\n\n", NEWT_VERSION);
    fprintf(out, "usage: newt [-v|-q] [--threads N] <command> [options]\n"
                 "       (newt <command> --help for details)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-18s %s\n", commands[i].name, commands[i].help);
}

/* Global options before the command: verbosity and the one thread count shared by OpenMP
 * kernels and OpenBLAS. Returns the index of the command word, or -1 on a usage error. */
static int global_options(int argc, char **argv) {
    int i = 1, threads = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            nt_log_set_level(NT_LOG_DEBUG);
        } else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
            nt_log_set_level(NT_LOG_WARN);
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = atoi(argv[++i]);
            if (threads <= 0) {
                cli_error("--threads: expected a positive number, got '%s'", argv[i]);
                return -1;
            }
        } else {
            break; /* --help, --version and unknown options are handled by the caller */
        }
    }
    nt_threads_init(threads);
    if (nt_threads_blas_conflict())
        nt_log(NT_LOG_WARN, "the linked OpenBLAS is not its OpenMP build: BLAS and newt's "
                            "kernels will run two thread pools against each other");
    return i;
}

int main(int argc, char **argv) {
    int first = global_options(argc, argv);
    if (first < 0) return 2;
    argc -= first - 1;
    argv += first - 1;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("newt %s\n", NEWT_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    cli_error("unknown command '%s'", argv[1]);
    usage(stderr);
    return 2;
}
