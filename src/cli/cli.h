/* One function per command, each in its own file (cli/cmd_<name>.c). They parse their own
 * arguments, print results to stdout and errors to stderr, and return the process exit
 * status: 0 success, 1 error, 2 usage error (3: a chat template raised an exception). */
#ifndef NEWT_CLI_CLI_H
#define NEWT_CLI_CLI_H

typedef int (*cli_cmd_fn)(int argc, char **argv);

int cli_cmd_inspect(int argc, char **argv);
int cli_cmd_config_schema(int argc, char **argv);
int cli_cmd_config_check(int argc, char **argv);
int cli_cmd_init_model(int argc, char **argv);
int cli_cmd_probe(int argc, char **argv);
int cli_cmd_render(int argc, char **argv);
int cli_cmd_tokenize(int argc, char **argv);
int cli_cmd_preprocess(int argc, char **argv);
int cli_cmd_train(int argc, char **argv);
int cli_cmd_tokenizer_convert(int argc, char **argv);

/* Prints "newt: <msg>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
