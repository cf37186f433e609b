/* newt config-schema [--markdown]: every config key with type, default, status and doc. */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "cli/cli.h"
#include "config/schema.h"

int cli_cmd_config_schema(int argc, char **argv) {
    bool markdown = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--markdown")) {
            markdown = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: newt config-schema [--markdown]\n\n"
                   "Prints every config key: type, default, status (supported / not yet / ignored)\n"
                   "and a one-line description. --markdown writes docs/config.md's text.\n");
            return 0;
        } else {
            cli_error("config-schema: unknown option '%s'", argv[i]);
            return 2;
        }
    }
    nt_buf b = {0};
    if (markdown) cfg_schema_markdown(&b);
    else cfg_schema_text(&b);
    fwrite(b.data, 1, b.len, stdout);
    nt_buf_free(&b);
    return ferror(stdout) ? 1 : 0;
}
