/*
 * cmd_watch.c - `sealbox watch [MOUNTPOINT] [--home DIR] [--json]`
 * (issue 13, point 6): one line per message that arrives in inbox/, until
 * the mount goes.
 *
 * It reads HOME/watch.sock, which the mount's process serves (watch/
 * watch.h has the protocol): sends "text" or "json", then copies each
 * line it gets to stdout, flushed at once, so `sealbox watch | while read`
 * sees every arrival as it is stored.  "!end" (the mount stopped) ends it
 * with status 0; "!lost" (it fell too far behind) or the connection
 * closing without "!end" (the mount's process died) with status 1 and
 * one line.  The server must be the user's own (SO_PEERCRED), and a line
 * with a control character or longer than LINE_MAX is refused: what is
 * printed is what the mount said, one line per arrival.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../agent/config.h"
#include "../common/sberr.h"
#include "../watch/watch.h"
#include "cli.h"

#define EXIT_USAGE 2
/* The longest line a watcher accepts: a path of PATH_MAX and the rest. */
#define LINE_MAX_BYTES (PATH_MAX + 8192)

static void
usage(void)
{
	printf("usage: sealbox watch [MOUNTPOINT] [--home DIR] [--json]\n"
	    "\n"
	    "Prints one line for each message that arrives in inbox/, as it is stored:\n"
	    "  PATH<TAB>SENDER<TAB>SIZE<TAB>verified\n"
	    "and exits (status 0) when the mount goes.  Reads HOME/watch.sock, which\n"
	    "the mount serves to its own user only.\n"
	    "\n"
	    "  MOUNTPOINT  the mount to watch (default: the one of the home)\n"
	    "  --home DIR  the device's home (default $SEALBOX_HOME, else\n"
	    "              $XDG_DATA_HOME/sealbox)\n"
	    "  --json      one JSON object per line: path, folder, name, sender,\n"
	    "              device, id, size, sent, arrived, verified\n"
	    "  -h, --help  this help\n"
	    "\n"
	    "Exit status: 0 the mount went, 1 failure (lines were lost, the mount's\n"
	    "process died, nothing mounted), 2 usage.\n");
}

/* Connects to home's socket; the fd, or -1 after printing why. */
static int
connect_home(const char *home)
{
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, e;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (watch_socket_path(home, sa.sun_path, sizeof(sa.sun_path)) != SB_OK)
		return cli_fail("watch", "%s: the path of its watch.sock is too long", home), -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return cli_fail("watch", "socket: %s", strerror(errno)), -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		e = errno;
		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			return cli_fail("watch", "%s is not mounted", home), -1;
		return cli_fail("watch", "cannot connect to %s: %s", sa.sun_path, strerror(e)), -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != getuid()) {
		close(fd);
		return cli_fail("watch", "%s is not served by a process of yours", sa.sun_path), -1;
	}
	return fd;
}

/* 0 if line (len bytes, no newline) is printable text and tabs. */
static int
line_ok(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
			return -1;
	return 0;
}

/* Copies the server's lines to stdout; the exit status. */
static int
relay_lines(int fd)
{
	char *buf = malloc(LINE_MAX_BYTES + 1), *nl;
	size_t have = 0, len;
	ssize_t n;
	int status = -1;

	if (buf == NULL)
		return cli_fail("watch", "out of memory");
	while (status < 0) {
		n = read(fd, buf + have, LINE_MAX_BYTES + 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			status = cli_fail("watch", "the mount closed the connection");
			break;
		}
		have += (size_t)n;
		while (status < 0 && (nl = memchr(buf, '\n', have)) != NULL) {
			len = (size_t)(nl - buf);
			if (len == 4 && memcmp(buf, "!end", 4) == 0) {
				status = 0;
			} else if (len == 5 && memcmp(buf, "!lost", 5) == 0) {
				status = cli_fail("watch", "lines were lost: this watcher fell more"
				    " than %u KiB behind", WATCH_CLIENT_BUF / 1024);
			} else if (line_ok(buf, len) != 0 || len == 0 || buf[0] == '!') {
				status = cli_fail("watch", "the mount sent a line that is not an"
				    " arrival");
			} else if (fwrite(buf, 1, len + 1, stdout) != len + 1 || fflush(stdout) != 0) {
				status = 0;     /* the reader went (a pipe closed): done */
			}
			have -= len + 1;
			memmove(buf, nl + 1, have);
		}
		if (status < 0 && have > LINE_MAX_BYTES)
			status = cli_fail("watch", "the mount sent a line longer than %d bytes",
			    LINE_MAX_BYTES);
	}
	free(buf);
	return status;
}

int
cmd_watch(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char mnt[PATH_MAX], fstype[64], found[PATH_MAX];
	const char *home_arg = NULL, *req = "text\n";
	char *home = NULL;
	long pid;
	int c, fd, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': home_arg = optarg; break;
		case 'j': req = "json\n"; break;
		case 'h':
			usage();
			return 0;
		default:
			return (cli_fail("watch", "unknown option '%s' (try --help)",
			    argv[optind - 1]), EXIT_USAGE);
		}
	}
	if (optind + 1 < argc)
		return (cli_fail("watch", "unexpected argument '%s'", argv[optind + 1]),
		    EXIT_USAGE);
	if (optind < argc) {
		if (cli_abspath(argv[optind], mnt) != 0)
			return cli_fail("watch", "%s: %s", argv[optind], strerror(errno));
		cli_mount_fstype(mnt, fstype, sizeof(fstype));
		if (strcmp(fstype, "fuse.sealbox") != 0)
			return cli_fail("watch", "%s is not a sealbox mount", mnt);
		if (cli_mount_home(home_arg, mnt, found, sizeof(found), &pid) != 0)
			return cli_fail("watch", "cannot tell which home is mounted at %s"
			    " (give --home)", mnt);
		fd = connect_home(found);
	} else {
		if (config_home(home_arg, &home) != SB_OK)
			return cli_fail("watch", "cannot find the home (give --home)");
		fd = connect_home(home);
		free(home);
	}
	if (fd < 0)
		return 1;
	/* A closed stdout is an EPIPE to notice, not a signal to die of. */
	signal(SIGPIPE, SIG_IGN);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return cli_fail("watch", "the mount closed the connection");
	}
	status = relay_lines(fd);
	close(fd);
	return status;
}
