/*
 * session.c - mounting, serving and unmounting the filesystem (fs.h).
 */
#include <errno.h>
#include <stdlib.h>

#include <fuse.h>

#include "../common/sberr.h"
#include "fs.h"
#include "ops.h"

struct fs {
	struct fuse *fuse;
	int mounted;
	int signals;
};

int
fs_new(struct agent *a, struct fuse_args *args, const char *mountpoint, struct fs **out)
{
	struct fs *fs;

	*out = NULL;
	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		return SB_ERR_ALLOC;
	fs->fuse = fuse_new(args, &fs_ops, sizeof(fs_ops), a);
	if (fs->fuse == NULL) {
		free(fs);
		return SB_ERR_INVALID_ARG;      /* libfuse printed which option */
	}
	if (fuse_mount(fs->fuse, mountpoint) != 0) {
		fuse_destroy(fs->fuse);
		free(fs);
		errno = errno != 0 ? errno : EIO;
		return SB_ERR_SYSTEM;
	}
	fs->mounted = 1;
	if (fuse_set_signal_handlers(fuse_get_session(fs->fuse)) == 0)
		fs->signals = 1;
	*out = fs;
	return SB_OK;
}

int
fs_run(struct fs *fs, int single_thread)
{
	int rc;

	if (single_thread) {
		rc = fuse_loop(fs->fuse);
	} else {
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();

		if (cfg == NULL)
			return SB_ERR_ALLOC;
		/* Reads of large attachments and a sender's writes proceed in
		 * parallel with listing; 10 idle threads is libfuse's default. */
		fuse_loop_cfg_set_max_threads(cfg, 16);
		rc = fuse_loop_mt(fs->fuse, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	if (rc < 0) {
		errno = -rc;
		return SB_ERR_SYSTEM;
	}
	return SB_OK;
}

void
fs_free(struct fs *fs)
{
	if (fs == NULL)
		return;
	if (fs->signals)
		fuse_remove_signal_handlers(fuse_get_session(fs->fuse));
	if (fs->mounted)
		fuse_unmount(fs->fuse);
	fuse_destroy(fs->fuse);
	free(fs);
}
