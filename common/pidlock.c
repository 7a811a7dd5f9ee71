/*
 * pidlock.c - see pidlock.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "pidlock.h"
#include "sberr.h"

int
sb_lock_take(const char *path, const char *note, int *fd)
{
	char pid[24];
	size_t nl = strlen(note);
	int n;

	if ((*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return SB_ERR_SYSTEM;
	if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		if (e == EWOULDBLOCK)
			return SB_ERR_EXISTS;
		close(*fd);
		*fd = -1;
		errno = e;
		return SB_ERR_SYSTEM;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(*fd, 0) != 0 || pwrite(*fd, pid, (size_t)n, 0) != n ||
	    (nl > 0 && pwrite(*fd, note, nl, n) != (ssize_t)nl)) {
		int e = errno;

		close(*fd);
		*fd = -1;
		errno = e;
		return SB_ERR_SYSTEM;
	}
	return SB_OK;
}

int
sb_lock_held(const char *path, int *fd)
{
	int e;

	if ((*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return errno == ENOENT ? SB_ERR_NOT_FOUND : SB_ERR_SYSTEM;
	/* A shared lock we can take means no holder; it is never kept. */
	if (flock(*fd, LOCK_SH | LOCK_NB) == 0) {
		close(*fd);
		*fd = -1;
		return SB_ERR_NOT_FOUND;
	}
	if ((e = errno) == EWOULDBLOCK)
		return SB_OK;
	close(*fd);
	*fd = -1;
	errno = e;
	return SB_ERR_SYSTEM;
}
