/*
 * maildir.c - MNT/maildir, the read-only Maildir view (mail/mail.h), as a
 * layer around the table it is given: a path under /maildir goes to the
 * mail view, every other path to the table below, and the root's listing
 * gains "maildir".  Like guard.c, a layer wraps the table rather than each
 * op of ops.c knowing about it.
 *
 * Every change under /maildir is EROFS; the view's files are opened read
 * only (EROFS for writing, as in inbox/).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "common/sberr.h"
#include "fs.h"
#include "fs_int.h"
#include "mail/mail.h"

/* A copy of the table below this layer (set once by its table function). */
static struct fuse_operations below_copy;
static const struct fuse_operations *const below = &below_copy;

#define MD_DEPTH 4

struct mdpath {
	int n;
	const char *comp[MD_DEPTH];
	char buf[PATH_MAX];
};

/* 1 if path is /maildir or below it. */
static int
in_maildir(const char *path)
{
	return strncmp(path, "/maildir", 8) == 0 && (path[8] == '\0' || path[8] == '/');
}

/* Splits what follows "/maildir".  -ENOENT past MD_DEPTH components,
 * -ENAMETOOLONG as ops.c says. */
static int
md_split(const char *path, struct mdpath *p)
{
	char *save = NULL, *t;
	size_t len = strlen(path);

	memset(p, 0, sizeof(*p));
	if (len - 8 >= sizeof(p->buf))
		return -ENAMETOOLONG;
	memcpy(p->buf, path + 8, len - 8 + 1);
	for (t = strtok_r(p->buf, "/", &save); t != NULL; t = strtok_r(NULL, "/", &save)) {
		if (strlen(t) > NAME_MAX)
			return -ENAMETOOLONG;
		if (p->n == MD_DEPTH)
			return -ENOENT;
		p->comp[p->n++] = t;
	}
	return 0;
}

static struct mail_view *
view(void)
{
	return ((struct fs_ctx *)fuse_get_context()->private_data)->mv;
}

static int
neg(int sb_err)
{
	return sb_err == SB_OK ? 0 : -fs_errno(sb_err);
}

static int
md_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct agent_attr at;
	struct mdpath p;
	int rc;

	if (!in_maildir(path)) {
		rc = below->getattr(path, st, fi);
		if (rc == 0 && strcmp(path, "/") == 0)
			st->st_nlink++;         /* maildir/ */
		return rc;
	}
	if ((rc = md_split(path, &p)) != 0)
		return rc;
	if ((rc = mail_view_attr(view(), p.comp, p.n, &at)) != SB_OK)
		return neg(rc);
	fs_stat_fill(&at, st);
	return 0;
}

static int
md_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct fs_fill c = { buf, filler };
	struct mdpath p;
	int rc;

	if (!in_maildir(path)) {
		rc = below->readdir(path, buf, filler, off, fi, flags);
		if (rc == 0 && strcmp(path, "/") == 0)
			filler(buf, "maildir", NULL, 0, 0);
		return rc;
	}
	if ((rc = md_split(path, &p)) != 0)
		return rc;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	rc = mail_view_list(view(), p.comp, p.n, fs_fill_one, &c);
	return rc == SB_ERR_INVALID_ARG ? -ENOTDIR : neg(rc);
}

static int
md_open(const char *path, struct fuse_file_info *fi)
{
	struct mail_file *f = NULL;
	struct agent_attr at;
	struct mdpath p;
	int rc;

	if (!in_maildir(path))
		return below->open(path, fi);
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return -EROFS;
	if ((rc = md_split(path, &p)) != 0)
		return rc;
	if ((rc = mail_view_attr(view(), p.comp, p.n, &at)) != SB_OK)
		return neg(rc);
	if (at.is_dir)
		return -EISDIR;
	if ((rc = mail_view_open(view(), p.comp, p.n, &f)) != SB_OK)
		return neg(rc);
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->keep_cache = 0;
	return 0;
}

static int
md_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	size_t got = 0;
	int rc;

	if (!in_maildir(path))
		return below->read(path, buf, size, off, fi);
	if (off < 0)
		return -EINVAL;
	rc = mail_view_read((struct mail_file *)(uintptr_t)fi->fh, buf, size, (uint64_t)off, &got);
	return rc != SB_OK ? neg(rc) : (int)got;
}

static int
md_flush(const char *path, struct fuse_file_info *fi)
{
	return in_maildir(path) ? 0 : below->flush(path, fi);
}

static int
md_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	return in_maildir(path) ? 0 : below->fsync(path, datasync, fi);
}

static int
md_release(const char *path, struct fuse_file_info *fi)
{
	if (!in_maildir(path))
		return below->release(path, fi);
	mail_view_release((struct mail_file *)(uintptr_t)fi->fh);
	return 0;
}

/* ---- Changes: EROFS under /maildir, else the table below --------------- */

#define RO1(path, call) return in_maildir(path) ? -EROFS : (call)
#define RO2(a, b, call) return in_maildir(a) || in_maildir(b) ? -EROFS : (call)

static int
md_mkdir(const char *p, mode_t m)
{ RO1(p, below->mkdir(p, m)); }
static int
md_rmdir(const char *p)
{ RO1(p, below->rmdir(p)); }
static int
md_create(const char *p, mode_t m, struct fuse_file_info *fi)
{ RO1(p, below->create(p, m, fi)); }
static int
md_write(const char *p, const char *b, size_t n, off_t o, struct fuse_file_info *fi)
{ RO1(p, below->write(p, b, n, o, fi)); }
static int
md_truncate(const char *p, off_t s, struct fuse_file_info *fi)
{ RO1(p, below->truncate(p, s, fi)); }
static int
md_utimens(const char *p, const struct timespec tv[2], struct fuse_file_info *fi)
{ RO1(p, below->utimens(p, tv, fi)); }
static int
md_chmod(const char *p, mode_t m, struct fuse_file_info *fi)
{ RO1(p, below->chmod(p, m, fi)); }
static int
md_chown(const char *p, uid_t u, gid_t g, struct fuse_file_info *fi)
{ RO1(p, below->chown(p, u, g, fi)); }
static int
md_unlink(const char *p)
{ RO1(p, below->unlink(p)); }
static int
md_rename(const char *a, const char *b, unsigned int f)
{ RO2(a, b, below->rename(a, b, f)); }
static int
md_setxattr(const char *p, const char *n, const char *v, size_t s, int f)
{ RO1(p, below->setxattr(p, n, v, s, f)); }
static int
md_removexattr(const char *p, const char *n)
{ RO1(p, below->removexattr(p, n)); }
static int
md_symlink(const char *t, const char *p)
{ RO1(p, below->symlink(t, p)); }
static int
md_mknod(const char *p, mode_t m, dev_t d)
{ RO1(p, below->mknod(p, m, d)); }
static int
md_link(const char *a, const char *b)
{ RO2(a, b, below->link(a, b)); }

/* The view's files carry no attributes of their own. */
static int
md_getxattr(const char *p, const char *n, char *v, size_t s)
{
	return in_maildir(p) ? -ENODATA : below->getxattr(p, n, v, s);
}

static int
md_listxattr(const char *p, char *l, size_t s)
{
	return in_maildir(p) ? 0 : below->listxattr(p, l, s);
}

void
fs_maildir_table(const struct fuse_operations *inner, struct fuse_operations *out)
{
	below_copy = *inner;
	*out = *inner;
	out->getattr = md_getattr;
	out->readdir = md_readdir;
	out->open = md_open;
	out->read = md_read;
	out->flush = md_flush;
	out->fsync = md_fsync;
	out->release = md_release;
	out->mkdir = md_mkdir;
	out->rmdir = md_rmdir;
	out->create = md_create;
	out->write = md_write;
	out->truncate = md_truncate;
	out->utimens = md_utimens;
	out->chmod = md_chmod;
	out->chown = md_chown;
	out->unlink = md_unlink;
	out->rename = md_rename;
	out->setxattr = md_setxattr;
	out->removexattr = md_removexattr;
	out->symlink = md_symlink;
	out->mknod = md_mknod;
	out->link = md_link;
	out->getxattr = md_getxattr;
	out->listxattr = md_listxattr;
}
