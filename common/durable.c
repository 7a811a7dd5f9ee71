/*
 * durable.c - see durable.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "durable.h"
#include "sberr.h"

int
sb_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int saved;

	if (fd < 0)
		return SB_ERR_SYSTEM;
	if (fsync(fd) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return SB_ERR_SYSTEM;
	}
	close(fd);
	return SB_OK;
}
