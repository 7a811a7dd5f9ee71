/*
 * cmd_umount.c - `sealbox umount MOUNTPOINT [--home DIR] [--timeout SECONDS]`
 * (issue 17): a clean unmount that loses nothing.
 *
 * A closed outbox file is durably spooled before close(2) returns
 * (ARCHITECTURE.md "Sending"), so the only file not yet safe is one still
 * open for writing, and while any file of the mount is open the kernel
 * refuses the unmount (EBUSY).  So: unmount with fusermount3 -u, retrying
 * while the mount is busy (saying so once) up to the deadline; then wait,
 * to the same deadline, for the process that served the mount to exit, so
 * that a remount or a `sealbox status` that follows finds the home free.
 *
 * The serving process is the holder of HOME/mount.lock (config_lock_holder),
 * whose note names the mountpoint: the home from --home / the default, or
 * else the home whose lock some process of ours holds open naming this
 * mountpoint (found through /proc/PID/fd).  It runs no program but
 * fusermount3, with no secret in its arguments or environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define EXIT_USAGE         2
#define UMOUNT_TIMEOUT_S   30
#define UMOUNT_TIMEOUT_MAX 3600
#define POLL_MS            100

static void
usage(void)
{
	printf("usage: sealbox umount MOUNTPOINT [--home DIR] [--timeout SECONDS]\n"
	    "\n"
	    "Unmounts a mailbox once it is safe: while a file in it is still open\n"
	    "(being written) the unmount is retried, then it waits for the mount's\n"
	    "process to exit.  Closed files are already safe in the home's spool and\n"
	    "are sent at the next mount.\n"
	    "\n"
	    "  --home DIR         the home mounted there (default: the home whose\n"
	    "                     mount.lock names MOUNTPOINT, $SEALBOX_HOME, else\n"
	    "                     $XDG_DATA_HOME/sealbox)\n"
	    "  --timeout SECONDS  give up after this long (default %d): exit 1\n"
	    "  -h, --help         this help\n"
	    "\n"
	    "Exit status: 0 unmounted and its process exited, 1 failure, 2 usage.\n",
	    UMOUNT_TIMEOUT_S);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
nap(void)
{
	struct timespec ts = { 0, POLL_MS * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Runs fusermount3 -u mnt.  Returns 0 when it unmounted, 1 when the mount
 * is busy, -1 on any other failure with fusermount3's line in err.
 */
static int
fusermount(const char *mnt, char *err, size_t err_size)
{
	char *argv[] = { "fusermount3", "-u", (char *)mnt, NULL };
	int p[2], status, devnull;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	err[0] = '\0';
	if (pipe2(p, O_CLOEXEC) != 0) {
		snprintf(err, err_size, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, err_size, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDOUT_FILENO);
		}
		dup2(p[1], STDERR_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run fusermount3: %s\n", strerror(errno));
		_exit(127);
	}
	close(p[1]);
	while (got + 1 < err_size &&
	    ((n = read(p[0], err + got, err_size - 1 - got)) > 0 || (n < 0 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	err[got] = '\0';
	err[strcspn(err, "\n")] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	/* fusermount3 says "failed to unmount MNT: Device or resource busy". */
	if (strstr(err, "busy") != NULL)
		return 1;
	if (err[0] == '\0')
		snprintf(err, err_size, "fusermount3 -u failed");
	return -1;
}

/* 1 while pid runs (a zombie has finished: its parent reaps it). */
static int
running(long pid)
{
	char path[64], buf[512], *rp;
	FILE *f;
	int alive = 0;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL && (rp = strrchr(buf, ')')) != NULL)
		alive = rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
	fclose(f);
	return alive;
}

int
cmd_umount(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char mnt[PATH_MAX], fstype[64], err[512], found[PATH_MAX];
	const char *home_arg = NULL;
	char *end;
	long pid = 0, secs = UMOUNT_TIMEOUT_S;
	long long deadline;
	int c, rc, said = 0, status = 1;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': home_arg = optarg; break;
		case 't':
			errno = 0;
			secs = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || secs < 1 || secs > UMOUNT_TIMEOUT_MAX)
				return (cli_fail("umount", "--timeout must be 1..%d seconds",
				    UMOUNT_TIMEOUT_MAX), EXIT_USAGE);
			break;
		case 'h':
			usage();
			return 0;
		default:
			return (cli_fail("umount", "unknown option '%s' (try --help)",
			    argv[optind - 1]), EXIT_USAGE);
		}
	}
	if (optind == argc)
		return (cli_fail("umount", "which mountpoint? (sealbox umount MOUNTPOINT)"),
		    EXIT_USAGE);
	if (optind + 1 != argc)
		return (cli_fail("umount", "unexpected argument '%s'", argv[optind + 1]),
		    EXIT_USAGE);
	if (cli_abspath(argv[optind], mnt) != 0)
		return cli_fail("umount", "%s: %s", argv[optind], strerror(errno));
	cli_mount_fstype(mnt, fstype, sizeof(fstype));
	if (strcmp(fstype, "fuse.sealbox") != 0)
		return cli_fail("umount", "%s is not a sealbox mount%s%s%s", mnt,
		    fstype[0] ? " (it is " : "", fstype, fstype[0] ? ")" : "");

	/* Who serves it: not knowing only means not waiting. */
	if (cli_mount_home(home_arg, mnt, found, sizeof(found), &pid) != 0)
		pid = 0;

	deadline = now_ms() + secs * 1000LL;
	while ((rc = fusermount(mnt, err, sizeof(err))) == 1) {
		if (now_ms() >= deadline) {
			cli_fail("umount", "%s is still busy after %ld s: a file in it is"
			    " still open (close it, or find it with fuser -vm %s)", mnt, secs, mnt);
			goto out;
		}
		if (!said) {
			fprintf(stderr, "sealbox: umount: %s is busy (a file in it is open);"
			    " retrying for up to %ld s\n", mnt, secs);
			said = 1;
		}
		nap();
	}
	if (rc != 0) {
		cli_fail("umount", "%s", err);
		goto out;
	}
	while (pid > 0 && running(pid)) {
		if (now_ms() >= deadline) {
			cli_fail("umount", "%s is unmounted, but its process %ld is still"
			    " running after %ld s", mnt, pid, secs);
			goto out;
		}
		nap();
	}
	status = 0;
out:
	return status;
}
