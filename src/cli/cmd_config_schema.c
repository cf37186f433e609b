#include "cli/cli.h"
int cli_cmd_config_schema(int argc, char **argv) { (void)argc; (void)argv; cli_error("config-schema: not built yet"); return 1; }
