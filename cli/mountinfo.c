/*
 * mountinfo.c - what the kernel says is mounted where: the one reader of
 * /proc/self/mountinfo, for `mount` (refuse a sealbox mount as a
 * mountpoint), `umount` and `watch` (refuse what is no sealbox mount); and
 * which home a mount serves (the holder of HOME/mount.lock names its
 * mountpoint), for `umount` and `watch`.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../agent/config.h"
#include "../common/sberr.h"
#include "cli.h"

/*
 * The fstype of the mount whose mount point is path, from
 * /proc/self/mountinfo ("id parent maj:min root MOUNTPOINT opts... - FSTYPE
 * source superopts", the mount point with octal escapes); "" if path is no
 * mount point.  The last matching line wins: it is the one on top.
 */
void
cli_mount_fstype(const char *path, char *fstype, size_t size)
{
	char line[8192], mnt[PATH_MAX], *p, *sep;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	size_t i;
	int k;

	fstype[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		for (p = line, k = 0; k < 4 && p != NULL; k++)
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		if (p == NULL || (sep = strstr(p, " - ")) == NULL)
			continue;
		for (i = 0; *p != ' ' && i < sizeof(mnt) - 1; i++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' &&
			    p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
				mnt[i] = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
				p += 4;
			} else {
				mnt[i] = *p++;
			}
		}
		mnt[i] = '\0';
		if (strcmp(mnt, path) == 0)
			snprintf(fstype, size, "%.*s", (int)strcspn(sep + 3, " \n"), sep + 3);
	}
	fclose(f);
}

/* The absolute form of arg: realpath when it resolves; a dead FUSE mount
 * (ENOTCONN on stat) cannot be resolved, so then the cwd joined lexically. */
int
cli_abspath(const char *arg, char *out)
{
	char cwd[PATH_MAX];
	size_t n;

	if (realpath(arg, out) != NULL)
		return 0;
	if (arg[0] == '/') {
		n = (size_t)snprintf(out, PATH_MAX, "%s", arg);
	} else {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return -1;
		n = (size_t)snprintf(out, PATH_MAX, "%s/%s", cwd, arg);
	}
	if (n >= PATH_MAX)
		return -1;
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

/* 1 with *pid if home's lock is held by a process that mounted it at mnt. */
static int
home_serves(const char *home, const char *mnt, long *pid)
{
	char held[PATH_MAX], abs_held[PATH_MAX];

	if (config_lock_holder(home, pid, held, sizeof(held)) != SB_OK || held[0] == '\0')
		return 0;
	if (cli_abspath(held, abs_held) != 0)
		return 0;
	return strcmp(abs_held, mnt) == 0;
}

/*
 * Looks through the open files of our processes for a HOME/mount.lock
 * whose holder serves mnt; copies that home into home.  Processes of other
 * users are unreadable here, and could not be ours to unmount anyway.
 */
static int
find_home(const char *mnt, char *home, size_t size, long *pid)
{
	char dir[64], link[PATH_MAX], target[PATH_MAX];
	struct dirent *p, *fd;
	DIR *procs, *fds;
	ssize_t n;
	int found = 0;

	if ((procs = opendir("/proc")) == NULL)
		return 0;
	while (!found && (p = readdir(procs)) != NULL) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(dir, sizeof(dir), "/proc/%.20s/fd", p->d_name);
		if ((fds = opendir(dir)) == NULL)
			continue;
		while (!found && (fd = readdir(fds)) != NULL) {
			snprintf(link, sizeof(link), "%s/%.20s", dir, fd->d_name);
			if ((n = readlink(link, target, sizeof(target) - 1)) <= 0)
				continue;
			target[n] = '\0';
			if (n <= 11 || strcmp(target + n - 11, "/mount.lock") != 0)
				continue;
			target[n - 11] = '\0';
			if (home_serves(target, mnt, pid)) {
				snprintf(home, size, "%s", target);
				found = 1;
			}
		}
		closedir(fds);
	}
	closedir(procs);
	return found;
}

int
cli_mount_home(const char *home_arg, const char *mnt, char *home, size_t size, long *pid)
{
	char *h = NULL;
	int found = 0;

	*pid = 0;
	if (config_home(home_arg, &h) == SB_OK && home_serves(h, mnt, pid)) {
		snprintf(home, size, "%s", h);
		found = 1;
	} else if (home_arg == NULL) {
		found = find_home(mnt, home, size, pid);
	}
	free(h);
	return found ? 0 : -1;
}
