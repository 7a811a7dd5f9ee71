/*
 * cli.h - the sealbox command table.  Each command lives in its own
 * cli/cmd_*.c and has the signature below: argv[0] is the command name.
 * A command prints at most one line to stderr on failure, prefixed
 * "sealbox: CMD: ", and returns the process exit status.
 */
#ifndef SB_CLI_H
#define SB_CLI_H

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/* Prints "sealbox: CMD: MESSAGE\n" to stderr; returns 1 (for `return cli_fail(...)`). */
int cli_fail(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int cmd_keygen(int argc, char **argv);
int cmd_seal(int argc, char **argv);
int cmd_open(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_mount(int argc, char **argv);

#endif
