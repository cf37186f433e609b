#include "cli/cli.h"
int cli_cmd_inspect(int argc, char **argv) { (void)argc; (void)argv; cli_error("inspect: not built yet"); return 1; }
