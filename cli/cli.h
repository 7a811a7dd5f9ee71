/*
 * cli.h - the sealbox command table.  Each command lives in its own
 * cli/cmd_*.c and has the signature below: argv[0] is the command name.
 * A command prints at most one line to stderr on failure, prefixed
 * "sealbox: CMD: ", and returns the process exit status.
 */
#ifndef SB_CLI_H
#define SB_CLI_H

#include <stddef.h>

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/* Prints "sealbox: CMD: MESSAGE\n" to stderr; returns 1 (for `return cli_fail(...)`). */
int cli_fail(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The enrollment code for `sealbox init` (cli/code.c): from file (mode
 * 0600 or stricter), or standard input when file is NULL or "-" (a prompt
 * without echo when that is a terminal); never argv.  address is shown in
 * the prompt.  Returns 0 with the code NUL-terminated in code, or the exit
 * status after printing one line (code cleansed).  The caller cleanses code
 * once it is used.
 */
#define CLI_CODE_MAX 64   /* proto.h SB_MAX_CODE */
/* The fstype ("fuse.sealbox", ...) of the mount whose mount point is path
 * (absolute), from /proc/self/mountinfo; "" if path is no mount point. */
void cli_mount_fstype(const char *path, char *fstype, size_t size);

int cli_code_read(const char *file, const char *address, char code[CLI_CODE_MAX + 1]);

int cmd_keygen(int argc, char **argv);
int cmd_seal(int argc, char **argv);
int cmd_open(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);

#endif
