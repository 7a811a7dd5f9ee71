/*
 * cmd_mount.c - `sealbox mount MOUNTPOINT [-f] [-s] [-d] [-o OPTS] [--home DIR]`
 * (DESIGN.md 2): the filesystem and the agent in one process.
 *
 * Without -f the command forks before anything starts a thread (the agent,
 * libsecret, the relay client all do), the child mounts and reports back
 * through a pipe, and the parent exits only then: 0 once the mount is
 * usable, or 1 with the child's one-line reason.  So `sealbox mount` in a
 * script returns with the mailbox ready, or with the reason it is not.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fuse.h>
#include <fuse_lowlevel.h>

#include "../agent/agent.h"
#include "../agent/config.h"
#include "../common/sberr.h"
#include "../fs/fs.h"
#include "../keyring/keyring.h"
#include "../watch/watch.h"
#include "cli.h"

struct mount_opts {
	char *home;
	int help;
	int nonempty;
	int hook_timeout;      /* -1: not given */
};

#define MOUNT_OPT(t, p) { t, offsetof(struct mount_opts, p), 1 }
static const struct fuse_opt mount_spec[] = {
	MOUNT_OPT("--home %s", home),
	MOUNT_OPT("--home=%s", home),
	MOUNT_OPT("--hook-timeout %i", hook_timeout),
	MOUNT_OPT("--hook-timeout=%i", hook_timeout),
	MOUNT_OPT("-h", help),
	MOUNT_OPT("--help", help),
	/* libfuse 3 dropped this option (it mounts over anything); we refuse
	 * a non-empty mountpoint unless asked, as gocryptfs does. */
	MOUNT_OPT("nonempty", nonempty),
	FUSE_OPT_END
};

static void
usage(void)
{
	printf("usage: sealbox mount MOUNTPOINT [-f] [-s] [-d] [-o OPTIONS] [--home DIR]\n"
	    "                     [--hook-timeout SECONDS]\n"
	    "\n"
	    "Mounts the mailbox of the device initialised in the home (see 'sealbox init'):\n"
	    "outbox/ADDRESS-OR-NAME/ sends what is written into it; inbox/ holds what\n"
	    "arrived, verified and decrypted on every read; maildir/ shows it as a\n"
	    "read-only Maildir for mail clients.  Each arrival is told to 'sealbox watch'\n"
	    "and to the hook HOME/hooks/on-receive.  Unmount with sealbox umount.\n"
	    "\n"
	    "  -f            stay in the foreground (log to stderr; in the background\n"
	    "                the log is HOME/mount.log)\n"
	    "  -s            single-threaded\n"
	    "  -d            FUSE debug output (implies -f)\n"
	    "  -o OPTIONS    FUSE mount options.  Only the mounting user may use the\n"
	    "                mount, whatever the options: other users (root too) get\n"
	    "                EACCES; -o allow_root admits root as well.  -o nonempty\n"
	    "                mounts over a folder that is not empty (refused otherwise)\n"
	    "  --home DIR    the device's home (default $SEALBOX_HOME, else\n"
	    "                $XDG_DATA_HOME/sealbox)\n"
	    "  --hook-timeout SECONDS\n"
	    "                kill the on-receive hook after this long (default %d,\n"
	    "                at most %d)\n", WATCH_HOOK_TIMEOUT_S, WATCH_HOOK_TIMEOUT_MAX_S);
}

/* Refuses a mountpoint that is a sealbox mount already or, without
 * -o nonempty, a folder with anything in it (a mount would hide it). */
static int
check_mountpoint(const char *mnt, int nonempty)
{
	char fstype[64];
	struct dirent *de;
	DIR *d;

	cli_mount_fstype(mnt, fstype, sizeof(fstype));
	if (strcmp(fstype, "fuse.sealbox") == 0)
		return cli_fail("mount", "%s is already a sealbox mount", mnt);
	if ((d = opendir(mnt)) == NULL)
		return cli_fail("mount", "%s: %s", mnt, strerror(errno));
	while (!nonempty && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		closedir(d);
		return cli_fail("mount", "%s is not empty (its files would be hidden;"
		    " -o nonempty mounts over them)", mnt);
	}
	closedir(d);
	return 0;
}

/* stdin and stdout to /dev/null, stderr to HOME/mount.log (append, 0600):
 * a mount in the background keeps its log, rejections and all. */
static void
detach_output(const char *home)
{
	char path[4096];
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC), log = -1;

	if ((size_t)snprintf(path, sizeof(path), "%s/mount.log", home) < sizeof(path))
		log = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(log >= 0 ? log : devnull, STDERR_FILENO);
		close(devnull);
	}
	if (log >= 0)
		close(log);
}

/*
 * sd_notify(3) by hand, so a systemd unit can be Type=notify without a
 * libsystemd dependency: one datagram to the unix socket $NOTIFY_SOCKET
 * names (a leading '@' is the abstract namespace).  Not under systemd (no
 * variable), or the send fails: nothing happens, the mount goes on.
 */
static void
notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len < 2 || len > sizeof(sa.sun_path))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	(void)sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

/* The part that runs in the process that serves the mount.  `ready` is
 * the pipe to the waiting parent, or -1 in the foreground. */
static int
serve(const char *home, struct fuse_args *args, const struct fuse_cmdline_opts *co,
    unsigned hook_timeout, int ready)
{
	struct agent *a = NULL;
	struct watch *w = NULL;
	struct fs *fs = NULL;
	char held[PATH_MAX];
	long holder = 0;
	int rc, lock = -1;

	if ((rc = config_lock_take(home, co->mountpoint, &lock, &holder, held, sizeof(held)))
	    != SB_OK) {
		if (rc == SB_ERR_EXISTS)
			return cli_fail("mount", "%s is already mounted at %s by pid %ld", home,
			    held[0] ? held : "?", holder);
		return cli_fail("mount", "%s/mount.lock: %s", home, strerror(errno));
	}
	if ((rc = keyring_init()) != SB_OK)
		return cli_fail("mount", "cannot set up locked memory: %s", sb_strerror(rc));
	if ((rc = agent_open(home, &a)) != SB_OK)
		/* A bad config was already named, line and all, by agent_open:
		 * a second, vaguer line would break the one-line rule. */
		return rc == SB_ERR_CONFIG ? 1 :
		    cli_fail("mount", "%s: %s", home, sb_strerror(rc));
	if ((rc = fs_new(a, args, co->mountpoint, &fs)) != SB_OK) {
		agent_close(a);
		return cli_fail("mount", "cannot mount %s: %s", co->mountpoint, sb_strerror(rc));
	}
	/* Without the socket and the hook the mailbox still works: say so and
	 * go on (a home whose path is too long for a unix socket, say). */
	if ((rc = watch_start(a, home, co->mountpoint, hook_timeout, &w)) != SB_OK)
		fprintf(stderr, "sealbox: watch: %s/watch.sock and the hook are not available:"
		    " %s\n", home, rc == SB_ERR_SYSTEM ? strerror(errno) : sb_strerror(rc));
	/* fs/ and watch/ listen now: mail that came while we started (held
	 * by the agent until here) is told to them too. */
	agent_subscribed(a);
	if (ready >= 0) {
		char state[64];

		/* Tell systemd first (the parent exits on "ok"; with
		 * NotifyAccess=all, MAINPID moves the unit to us), then the
		 * parent, then let go of its terminal. */
		snprintf(state, sizeof(state), "READY=1\nMAINPID=%ld", (long)getpid());
		notify_systemd(state);
		if (write(ready, "ok", 2) != 2)
			fprintf(stderr, "sealbox: mount: lost the waiting parent\n");
		close(ready);
		detach_output(home);
	} else {
		notify_systemd("READY=1");
	}
	fprintf(stderr, "sealbox: mounted %s at %s\n", home, co->mountpoint);
	rc = fs_run(fs, co->singlethread);
	notify_systemd("STOPPING=1");
	watch_stop(w);          /* watchers get "!end" */
	fs_free(fs);
	agent_close(a);
	close(lock);      /* the home is free once the agent is gone */
	if (rc != SB_OK)
		return cli_fail("mount", "serving %s: %s", co->mountpoint, sb_strerror(rc));
	fprintf(stderr, "sealbox: unmounted %s\n", co->mountpoint);
	return 0;
}

/*
 * Forks; the child serves.  The parent relays the child's one error line
 * (the child writes it to the shared stderr before exiting) and its exit
 * status, or returns 0 once the child says the mount is up.
 */
static int
serve_in_background(const char *home, struct fuse_args *args,
    const struct fuse_cmdline_opts *co, unsigned hook_timeout)
{
	int p[2], status;
	char buf[2];
	pid_t pid;
	ssize_t n;

	if (pipe(p) != 0)
		return cli_fail("mount", "pipe: %s", strerror(errno));
	if ((pid = fork()) < 0)
		return cli_fail("mount", "fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		if (setsid() < 0)
			_exit(cli_fail("mount", "setsid: %s", strerror(errno)));
		_exit(serve(home, args, co, hook_timeout, p[1]));
	}
	close(p[1]);
	do {
		n = read(p[0], buf, sizeof(buf));
	} while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n == 2)
		return 0;
	/* The child failed before mounting; its reason is already on stderr. */
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) != 0)
		return WEXITSTATUS(status);
	return cli_fail("mount", "the mount process died before the mount was ready");
}

int
cmd_mount(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts co = { 0 };
	struct mount_opts mo = { .hook_timeout = -1 };
	char *home = NULL;
	int rc;

	if (fuse_opt_parse(&args, &mo, mount_spec, NULL) != 0)
		return 2;
	if (mo.help) {
		usage();
		rc = 0;
		goto out;
	}
	if (fuse_parse_cmdline(&args, &co) != 0) {
		rc = 2;
		goto out;
	}
	if (co.mountpoint == NULL) {
		fprintf(stderr, "sealbox: mount: missing MOUNTPOINT (see 'sealbox mount --help')\n");
		rc = 2;
		goto out;
	}
	if (mo.hook_timeout == -1) {
		mo.hook_timeout = WATCH_HOOK_TIMEOUT_S;
	} else if (mo.hook_timeout < 1 || mo.hook_timeout > WATCH_HOOK_TIMEOUT_MAX_S) {
		rc = (cli_fail("mount", "--hook-timeout must be 1..%d seconds",
		    WATCH_HOOK_TIMEOUT_MAX_S), 2);
		goto out;
	}
	if ((rc = config_home(mo.home, &home)) != SB_OK) {
		rc = cli_fail("mount", "cannot find the home: %s", sb_strerror(rc));
		goto out;
	}
	if ((rc = check_mountpoint(co.mountpoint, mo.nonempty)) != 0)
		goto out;
	if (co.foreground || co.debug)
		rc = serve(home, &args, &co, (unsigned)mo.hook_timeout, -1);
	else
		rc = serve_in_background(home, &args, &co, (unsigned)mo.hook_timeout);
out:
	free(home);
	free(co.mountpoint);
	free(mo.home);
	fuse_opt_free_args(&args);
	return rc;
}
