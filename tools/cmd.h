/*
 * tools/cmd.h - the subcommands of the svmx command.
 */
#ifndef SVMX_TOOLS_CMD_H
#define SVMX_TOOLS_CMD_H

/* Each returns the process exit status. argv[0] is the subcommand name. */
int cmd_decode(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* The bytes `svmx decode` shows without arguments (and `make run`). */
extern const char *const cmd_decode_demo[];

#endif /* SVMX_TOOLS_CMD_H */
