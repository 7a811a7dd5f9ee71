/* fs_int.h - what fs/'s own files share (not for the agent or the CLI). */
#ifndef SB_FS_INT_H
#define SB_FS_INT_H

#include <sys/types.h>

#include <fuse.h>

struct agent;
struct fs_announcer;
struct mail_view;

/* The filesystem's private data (fuse_get_context()->private_data). */
struct fs_ctx {
	struct agent *a;
	uid_t owner_uid;          /* the mounting user: owns every node */
	gid_t owner_gid;
	int allow_root;           /* -o allow_root: root may use the mount too */
	struct mail_view *mv;     /* maildir/ (maildir.c) */
	struct fs_announcer *an;  /* arrivals to the kernel (announce.c) */
};

struct agent_attr;
struct stat;
/* stat(2) of a node from the agent's attributes (ops.c): the mounting
 * user's, the owner bits of at->mode only.  In a request's context. */
void fs_stat_fill(const struct agent_attr *at, struct stat *st);
/* An agent_fill_fn adding one readdir entry; ctx a struct fs_fill. */
struct fs_fill {
	void *buf;
	fuse_fill_dir_t filler;
};
int  fs_fill_one(void *ctx, const char *name, const struct agent_attr *at);

/*
 * The table is built in layers, each wrapping the one it is given (each
 * layer keeps a pointer to it: one table per process):
 *   fs_guard_table(fs_announce_table(fs_maildir_table(fs_ops)))
 */
/* 1 if a request from uid `caller` may be served (guard.c). */
int  fs_caller_allowed(const struct fs_ctx *ctx, uid_t caller);
/* Fills *out with inner, every request-serving op wrapped in the check. */
void fs_guard_table(const struct fuse_operations *inner, struct fuse_operations *out);
/* /maildir to the mail view, the rest to inner (maildir.c). */
void fs_maildir_table(const struct fuse_operations *inner, struct fuse_operations *out);
/* The announcer's own requests answered, the rest to inner (announce.c). */
void fs_announce_table(const struct fuse_operations *inner, struct fuse_operations *out);

/*
 * Subscribes to a's arrivals: invalidates the kernel's cached attributes
 * of the folders an arrival changes, and announces it through the VFS
 * (announce.c).  mountpoint absolute; under the st_dev of the folder
 * beneath the mount (to notice an unmount).  Stop (NULL accepted) before
 * the fuse goes.
 */
int  fs_announcer_start(struct agent *a, struct fuse *fuse, const char *mountpoint,
         dev_t under, struct fs_announcer **out);
void fs_announcer_stop(struct fs_announcer *an);

#endif
