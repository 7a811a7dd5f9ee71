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
/* The absolute form of arg into out (PATH_MAX): realpath when it resolves;
 * a dead FUSE mount (ENOTCONN on stat) cannot be, so then the cwd joined
 * lexically.  0, or -1 with errno. */
int  cli_abspath(const char *arg, char *out);
/*
 * The home mounted at mnt (absolute) into home, and the pid of the mount's
 * process: the home from home_arg (or the default home) if its mount.lock
 * names mnt, else, without home_arg, the home whose mount.lock some
 * process of ours holds open naming mnt (/proc/PID/fd).  0, or -1 if none.
 */
int  cli_mount_home(const char *home_arg, const char *mnt, char *home, size_t size,
         long *pid);

int cli_code_read(const char *file, const char *address, char code[CLI_CODE_MAX + 1]);

/* ---- the home's device, for devices / verify / trust / status (cmd_init.c) */

#include "../agent/config.h"
#include "../agent/names.h"

struct crypto_key;
struct client;
struct client_lookup;
/* What a command's relay client knows of the transparency log: the home
 * (NULL: keep nothing, as init before it has one) and the config whose
 * log_key it pins (PROTOCOL.md 14.1).  Must outlive the client. */
struct cli_log {
	const char *home;
	struct agent_config *cfg;
};
struct device_ctx {
	char *home;
	struct agent_config cfg;
	struct crypto_key *sign;
	struct client *c;
	struct cli_log log;
};
/* Loads the config and the signing key; connects unless timeout_ms is 0.
 * Returns 0, or 1 after printing the command's one line. */
int  device_ctx_open(const char *cmd, const char *home_arg, unsigned timeout_ms,
         struct device_ctx *d);
void device_ctx_free(struct device_ctx *d);
/*
 * A command connects as the home's device, and so does the home's mount:
 * the relay keeps one connection per device, so each replaces the other
 * and a request on the wire can be lost (SB_ERR_CLOSED, or SB_ERR_NET
 * while the client reconnects).  cli_lost says whether to try again (1,
 * after a pause) or give up (0: another error, or CLI_RETRIES tries).
 * Only for requests that are safe to repeat.
 */
#define CLI_RETRIES  8
#define CLI_RETRY_MS 250u
int  cli_lost(int rc, int *tries);
/* The devices of one canonical address (at least one, else one line and
 * 1); *l freed with client_lookup_free.  Retried as cli_lost says. */
int  cli_lookup(const char *cmd, struct device_ctx *d, const char *address,
         struct client_lookup **l);
/* in canonicalised into out, or exit status 2 after one line. */
int  cli_canonical_arg(const char *cmd, const char *in, char out[NAMES_ADDR_BUF]);

/* sealbox devices approve|remove (cmd_link.c): argv[0] is the subcommand, after
 * it its arguments; pre[0..n_pre) the options that came before it. */
int cli_devices_manage(int argc, char **argv, char **pre, int n_pre);

/*
 * Options of a command with subcommands: --home DIR and -h/--help (usage()
 * printed) anywhere; *home set, *next the index of the first other
 * argument (getopt permutes them to the end).  Returns -1 to go on, else
 * the exit status (0 after --help, 2 after one line for a bad option).
 */
int cli_parse_home(const char *cmd, int argc, char **argv, void (*usage)(void),
    const char **home, int *next);

int cmd_trust(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_seal(int argc, char **argv);
int cmd_open(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_watch(int argc, char **argv);

#endif
