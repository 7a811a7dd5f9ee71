/* fs_int.h - what fs/'s own files share (not for the agent or the CLI). */
#ifndef SB_FS_INT_H
#define SB_FS_INT_H

#include <sys/types.h>

#include <fuse.h>

struct agent;

/* The filesystem's private data (fuse_get_context()->private_data). */
struct fs_ctx {
	struct agent *a;
	uid_t owner_uid;          /* the mounting user: owns every node */
	gid_t owner_gid;
	int allow_root;           /* -o allow_root: root may use the mount too */
};

/* 1 if a request from uid `caller` may be served (guard.c). */
int  fs_caller_allowed(const struct fs_ctx *ctx, uid_t caller);
/* Fills *out with fs_ops, every request-serving op wrapped in the check. */
void fs_guard_table(struct fuse_operations *out);

#endif
