/* newt command-line entry point: dispatches to one function per command. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define NEWT_VERSION "0.1.0"

typedef struct {
    const char *name;
    cli_cmd_fn fn;
    const char *help;
} cli_command;

static const cli_command commands[] = {
    {"inspect", cli_cmd_inspect, "show tensors, dtypes, shapes and parameter counts of a model"},
    {"config-schema", cli_cmd_config_schema, "print every config key with type, default and doc"},
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
    fprintf(out, "usage: newt <command> [options]   (newt <command> --help for details)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-16s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
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
