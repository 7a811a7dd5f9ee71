/*
 * guard.c - who may use the mount: the one access check, wrapped around
 * every operation of fs_ops (ops.c), so no op can forget it.
 *
 * A mailbox is one person's: its inbox is their decrypted mail and whatever
 * lands in its outbox goes out signed as them.  With `-o allow_other` the
 * kernel lets every local user's requests through to us, and FUSE's own
 * permission checks (default_permissions, which fs_new always adds) skip
 * root.  So every request whose caller is not the mounting user is refused
 * here with EACCES: root too, unless the mount was made with
 * `-o allow_root` (libfuse's own option, which also tells the kernel to
 * admit root and nobody else).  Issue 12, finding 4.
 */
#include <errno.h>

#include "fs_int.h"
#include "ops.h"

int
fs_caller_allowed(const struct fs_ctx *ctx, uid_t caller)
{
	if (caller == ctx->owner_uid)
		return 1;
	return caller == 0 && ctx->allow_root;
}

/* 0, or -EACCES for a caller who is not the owner.  fuse_get_context()
 * names the caller of the request being served. */
static int
deny(void)
{
	struct fuse_context *fc = fuse_get_context();

	return fs_caller_allowed(fc->private_data, fc->uid) ? 0 : -EACCES;
}

#define GUARD(call) do { int e_ = deny(); return e_ ? e_ : (call); } while (0)

static int
g_getattr(const char *p, struct stat *st, struct fuse_file_info *fi)
{ GUARD(fs_ops.getattr(p, st, fi)); }
static int
g_readdir(const char *p, void *b, fuse_fill_dir_t f, off_t o, struct fuse_file_info *fi,
    enum fuse_readdir_flags fl)
{ GUARD(fs_ops.readdir(p, b, f, o, fi, fl)); }
static int
g_mkdir(const char *p, mode_t m)
{ GUARD(fs_ops.mkdir(p, m)); }
static int
g_rmdir(const char *p)
{ GUARD(fs_ops.rmdir(p)); }
static int
g_create(const char *p, mode_t m, struct fuse_file_info *fi)
{ GUARD(fs_ops.create(p, m, fi)); }
static int
g_open(const char *p, struct fuse_file_info *fi)
{ GUARD(fs_ops.open(p, fi)); }
static int
g_read(const char *p, char *b, size_t n, off_t o, struct fuse_file_info *fi)
{ GUARD(fs_ops.read(p, b, n, o, fi)); }
static int
g_write(const char *p, const char *b, size_t n, off_t o, struct fuse_file_info *fi)
{ GUARD(fs_ops.write(p, b, n, o, fi)); }
static int
g_flush(const char *p, struct fuse_file_info *fi)
{ GUARD(fs_ops.flush(p, fi)); }
static int
g_fsync(const char *p, int d, struct fuse_file_info *fi)
{ GUARD(fs_ops.fsync(p, d, fi)); }
/* release is not guarded: it only ends what a guarded open began, and its
 * result is dropped by the kernel anyway. */
static int
g_truncate(const char *p, off_t s, struct fuse_file_info *fi)
{ GUARD(fs_ops.truncate(p, s, fi)); }
static int
g_utimens(const char *p, const struct timespec tv[2], struct fuse_file_info *fi)
{ GUARD(fs_ops.utimens(p, tv, fi)); }
static int
g_chmod(const char *p, mode_t m, struct fuse_file_info *fi)
{ GUARD(fs_ops.chmod(p, m, fi)); }
static int
g_chown(const char *p, uid_t u, gid_t g, struct fuse_file_info *fi)
{ GUARD(fs_ops.chown(p, u, g, fi)); }
static int
g_unlink(const char *p)
{ GUARD(fs_ops.unlink(p)); }
static int
g_rename(const char *a, const char *b, unsigned int f)
{ GUARD(fs_ops.rename(a, b, f)); }
static int
g_getxattr(const char *p, const char *n, char *v, size_t s)
{ GUARD(fs_ops.getxattr(p, n, v, s)); }
static int
g_listxattr(const char *p, char *l, size_t s)
{ GUARD(fs_ops.listxattr(p, l, s)); }
static int
g_setxattr(const char *p, const char *n, const char *v, size_t s, int f)
{ GUARD(fs_ops.setxattr(p, n, v, s, f)); }
static int
g_removexattr(const char *p, const char *n)
{ GUARD(fs_ops.removexattr(p, n)); }
static int
g_statfs(const char *p, struct statvfs *st)
{ GUARD(fs_ops.statfs(p, st)); }
static int
g_symlink(const char *t, const char *p)
{ GUARD(fs_ops.symlink(t, p)); }
static int
g_mknod(const char *p, mode_t m, dev_t d)
{ GUARD(fs_ops.mknod(p, m, d)); }
static int
g_link(const char *a, const char *b)
{ GUARD(fs_ops.link(a, b)); }

void
fs_guard_table(struct fuse_operations *out)
{
	*out = (struct fuse_operations){
	.init        = fs_ops.init,   /* not a request: nobody to check */
	.release     = fs_ops.release,
	.getattr     = g_getattr,
	.readdir     = g_readdir,
	.mkdir       = g_mkdir,
	.rmdir       = g_rmdir,
	.create      = g_create,
	.open        = g_open,
	.read        = g_read,
	.write       = g_write,
	.flush       = g_flush,
	.fsync       = g_fsync,
	.truncate    = g_truncate,
	.utimens     = g_utimens,
	.chmod       = g_chmod,
	.chown       = g_chown,
	.unlink      = g_unlink,
	.rename      = g_rename,
	.getxattr    = g_getxattr,
	.listxattr   = g_listxattr,
	.setxattr    = g_setxattr,
	.removexattr = g_removexattr,
	.statfs      = g_statfs,
	.symlink     = g_symlink,
	.mknod       = g_mknod,
	.link        = g_link,
	};
}
