/*
 * guard.c - who may use the mount: the one access check, wrapped around
 * every operation of the table (ops.c and its layers), so no op can forget
 * it.
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

/* A copy of the table this layer guards (fs_guard_table sets it once). */
static struct fuse_operations inner_copy;
static const struct fuse_operations *const inner_ops = &inner_copy;

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
{ GUARD(inner_ops->getattr(p, st, fi)); }
static int
g_readdir(const char *p, void *b, fuse_fill_dir_t f, off_t o, struct fuse_file_info *fi,
    enum fuse_readdir_flags fl)
{ GUARD(inner_ops->readdir(p, b, f, o, fi, fl)); }
static int
g_mkdir(const char *p, mode_t m)
{ GUARD(inner_ops->mkdir(p, m)); }
static int
g_rmdir(const char *p)
{ GUARD(inner_ops->rmdir(p)); }
static int
g_create(const char *p, mode_t m, struct fuse_file_info *fi)
{ GUARD(inner_ops->create(p, m, fi)); }
static int
g_open(const char *p, struct fuse_file_info *fi)
{ GUARD(inner_ops->open(p, fi)); }
static int
g_read(const char *p, char *b, size_t n, off_t o, struct fuse_file_info *fi)
{ GUARD(inner_ops->read(p, b, n, o, fi)); }
static int
g_write(const char *p, const char *b, size_t n, off_t o, struct fuse_file_info *fi)
{ GUARD(inner_ops->write(p, b, n, o, fi)); }
static int
g_flush(const char *p, struct fuse_file_info *fi)
{ GUARD(inner_ops->flush(p, fi)); }
static int
g_fsync(const char *p, int d, struct fuse_file_info *fi)
{ GUARD(inner_ops->fsync(p, d, fi)); }
/* release is not guarded: it only ends what a guarded open began, and its
 * result is dropped by the kernel anyway. */
static int
g_fsyncdir(const char *p, int d, struct fuse_file_info *fi)
{ GUARD(inner_ops->fsyncdir(p, d, fi)); }
static int
g_truncate(const char *p, off_t s, struct fuse_file_info *fi)
{ GUARD(inner_ops->truncate(p, s, fi)); }
static int
g_utimens(const char *p, const struct timespec tv[2], struct fuse_file_info *fi)
{ GUARD(inner_ops->utimens(p, tv, fi)); }
static int
g_chmod(const char *p, mode_t m, struct fuse_file_info *fi)
{ GUARD(inner_ops->chmod(p, m, fi)); }
static int
g_chown(const char *p, uid_t u, gid_t g, struct fuse_file_info *fi)
{ GUARD(inner_ops->chown(p, u, g, fi)); }
static int
g_unlink(const char *p)
{ GUARD(inner_ops->unlink(p)); }
static int
g_rename(const char *a, const char *b, unsigned int f)
{ GUARD(inner_ops->rename(a, b, f)); }
static int
g_getxattr(const char *p, const char *n, char *v, size_t s)
{ GUARD(inner_ops->getxattr(p, n, v, s)); }
static int
g_listxattr(const char *p, char *l, size_t s)
{ GUARD(inner_ops->listxattr(p, l, s)); }
static int
g_setxattr(const char *p, const char *n, const char *v, size_t s, int f)
{ GUARD(inner_ops->setxattr(p, n, v, s, f)); }
static int
g_removexattr(const char *p, const char *n)
{ GUARD(inner_ops->removexattr(p, n)); }
static int
g_statfs(const char *p, struct statvfs *st)
{ GUARD(inner_ops->statfs(p, st)); }
static int
g_symlink(const char *t, const char *p)
{ GUARD(inner_ops->symlink(t, p)); }
static int
g_mknod(const char *p, mode_t m, dev_t d)
{ GUARD(inner_ops->mknod(p, m, d)); }
static int
g_link(const char *a, const char *b)
{ GUARD(inner_ops->link(a, b)); }

void
fs_guard_table(const struct fuse_operations *inner, struct fuse_operations *out)
{
	inner_copy = *inner;
	*out = (struct fuse_operations){
	.init        = inner->init,   /* not a request: nobody to check */
	.release     = inner->release,
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
	.fsyncdir    = g_fsyncdir,
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
