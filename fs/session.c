/*
 * session.c - mounting, serving and unmounting the filesystem (fs.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fuse.h>

#include "../common/sberr.h"
#include "fs.h"
#include "fs_int.h"
#include "mail/mail.h"
#include "ops.h"

struct fs {
	struct fuse *fuse;
	struct fs_ctx ctx;
	int mounted;
	int signals;
};

enum { KEY_ALLOW_ROOT };
static const struct fuse_opt access_spec[] = {
	FUSE_OPT_KEY("allow_root", KEY_ALLOW_ROOT),
	FUSE_OPT_END
};

/* Notes -o allow_root and keeps it for libfuse (1: keep the argument). */
static int
access_opt(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	(void)arg;
	(void)outargs;
	if (key == KEY_ALLOW_ROOT)
		((struct fs_ctx *)data)->allow_root = 1;
	return 1;
}

int
fs_new(struct agent *a, struct fuse_args *args, const char *mountpoint, struct fs **out)
{
	struct fuse_operations md, an, ops;
	struct stat under;
	struct fs *fs;
	int rc;

	*out = NULL;
	/* What is beneath the mount, to tell our mount from it later
	 * (announce.c: an announcement must never land beneath). */
	if (stat(mountpoint, &under) != 0)
		return SB_ERR_SYSTEM;
	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		return SB_ERR_ALLOC;
	fs->ctx.a = a;
	fs->ctx.owner_uid = getuid();
	fs->ctx.owner_gid = getgid();
	/* The kernel checks every access against the owner-only modes too,
	 * whatever -o the user gave (guard.c says why both). */
	/* The mount shows as "sealbox on MNT type fuse.sealbox".  fsname goes
	 * first, so a user's own -o fsname= wins; subtype goes last, or
	 * libfuse's default (the program name, here "mount") would win. */
	if (fuse_opt_parse(args, &fs->ctx, access_spec, access_opt) != 0 ||
	    fuse_opt_add_arg(args, "-odefault_permissions") != 0 ||
	    fuse_opt_insert_arg(args, 1, "-ofsname=sealbox") != 0 ||
	    fuse_opt_add_arg(args, "-osubtype=sealbox") != 0) {
		free(fs);
		return SB_ERR_INVALID_ARG;
	}
	if ((rc = mail_view_new(a, &fs->ctx.mv)) != SB_OK) {
		free(fs);
		return rc;
	}
	fs_maildir_table(&fs_ops, &md);
	fs_announce_table(&md, &an);
	fs_guard_table(&an, &ops);
	fs->fuse = fuse_new(args, &ops, sizeof(ops), &fs->ctx);
	if (fs->fuse == NULL) {
		mail_view_free(fs->ctx.mv);
		free(fs);
		return SB_ERR_INVALID_ARG;      /* libfuse printed which option */
	}
	if (fuse_mount(fs->fuse, mountpoint) != 0) {
		fuse_destroy(fs->fuse);
		mail_view_free(fs->ctx.mv);
		free(fs);
		errno = errno != 0 ? errno : EIO;
		return SB_ERR_SYSTEM;
	}
	fs->mounted = 1;
	if ((rc = fs_announcer_start(a, fs->fuse, mountpoint, under.st_dev, &fs->ctx.an))
	    != SB_OK) {
		fs_free(fs);
		return rc;
	}
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
	/* Unmounted first: an announcement waiting on the mount then fails
	 * (ENOTCONN) instead of waiting for a loop that has stopped. */
	if (fs->mounted)
		fuse_unmount(fs->fuse);
	fs_announcer_stop(fs->ctx.an);
	fuse_destroy(fs->fuse);
	mail_view_free(fs->ctx.mv);
	free(fs);
}
