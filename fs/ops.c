/*
 * ops.c - the one fuse_operations table.  Each op splits its path, calls one
 * agent_* function and maps the result with fs_errno(); nothing else.
 *
 * Paths: "/", "/outbox", "/inbox", "/BOX/FOLDER", "/BOX/FOLDER/NAME", and
 * the read-only file "/alerts".  NAME may be a path inside the
 * conversation, "a/b/c.txt" (issue 13, point 8): depth 3 is anything below
 * a conversation folder, file or folder, and the agent says which.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>		/* RENAME_NOREPLACE, RENAME_EXCHANGE */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fuse.h>

#include "../agent/agent.h"
#include "../common/sberr.h"
#include "fs.h"
#include "fs_int.h"
#include "ops.h"

/* A split path; components point into `buf`. */
struct fspath {
	int depth;              /* 0 root, 1 box, 2 folder, 3 below a folder */
	int alerts;             /* "/alerts" (depth 1, no box) */
	enum agent_box box;
	const char *folder;
	const char *name;       /* the path below the folder, '/' between */
	char buf[PATH_MAX];
};

static const struct fs_ctx *
ctx(void)
{
	return fuse_get_context()->private_data;
}

static struct agent *
ctx_agent(void)
{
	return ctx()->a;
}

/*
 * Splits path into box, folder and the path below the folder.  -ENOENT
 * for an unknown box; -ENAMETOOLONG past PATH_MAX, for a component longer
 * than NAME_MAX, or a path below the folder longer than AGENT_PATH_MAX
 * bytes or AGENT_PATH_DEPTH components (what one message can carry,
 * docs/PROTOCOL.md 11.1).
 */
static int
split(const char *path, struct fspath *p)
{
	char *s, *e, *tok[2] = { NULL, NULL };
	size_t len = strlen(path);
	int n = 0, below = 0;

	memset(p, 0, sizeof(*p));
	if (len >= sizeof(p->buf))
		return -ENAMETOOLONG;
	memcpy(p->buf, path, len + 1);
	for (s = p->buf; *s != '\0'; s = e) {
		while (*s == '/')
			s++;
		if (*s == '\0')
			break;
		for (e = s; *e != '\0' && *e != '/'; e++)
			;
		/* FUSE passes names up to 1024 bytes; every other Linux file
		 * system, and the inner message's str8 names, stop at 255. */
		if ((size_t)(e - s) > NAME_MAX)
			return -ENAMETOOLONG;
		if (n < 2) {
			tok[n++] = s;
			if (*e != '\0')
				*e++ = '\0';
			continue;
		}
		if (below++ == 0)
			p->name = s;      /* the rest stays as it is, '/' and all */
		if (below > AGENT_PATH_DEPTH)
			return -ENAMETOOLONG;
	}
	p->depth = n + (below > 0);
	if (p->name != NULL && strlen(p->name) > AGENT_PATH_MAX)
		return -ENAMETOOLONG;
	if (n == 0)
		return 0;
	if (p->depth == 1 && strcmp(tok[0], AGENT_ALERTS_NAME) == 0) {
		p->alerts = 1;
		return 0;
	}
	if (strcmp(tok[0], "outbox") == 0)
		p->box = AGENT_BOX_OUT;
	else if (strcmp(tok[0], "inbox") == 0)
		p->box = AGENT_BOX_IN;
	else
		return -ENOENT;
	p->folder = n >= 2 ? tok[1] : NULL;
	return 0;
}

/* 1 if the path below a folder names one of its folders (not a file). */
static int
is_subdir(const struct fspath *p)
{
	struct agent_attr at = { 0 };

	return p->depth == 3 &&
	    agent_file_attr(ctx_agent(), p->box, p->folder, p->name, &at) == SB_OK && at.is_dir;
}

static int
neg(int sb_err)
{
	return sb_err == SB_OK ? 0 : -fs_errno(sb_err);
}

/* Every node is the mounting user's, and only theirs: the agent's mode
 * bits keep their owner part (inbox read-only, outbox writable), never a
 * group or other bit (issue 12, finding 4; guard.c refuses the others'
 * requests, default_permissions has the kernel check these modes). */
void
fs_stat_fill(const struct agent_attr *at, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = (at->is_dir ? S_IFDIR : S_IFREG) | (at->mode & 0700);
	/* A folder's count of subfolders is not kept: 1, as btrfs says, tells
	 * find(1) and others not to count on it. */
	st->st_nlink = 1;
	st->st_uid = ctx()->owner_uid;
	st->st_gid = ctx()->owner_gid;
	st->st_size = (off_t)at->size;
	st->st_blksize = 65536;
	st->st_blocks = (blkcnt_t)((at->size + 511) / 512);
	st->st_mtim = at->mtime;
	st->st_atim = at->atime.tv_sec == 0 && at->atime.tv_nsec == 0 ? at->mtime : at->atime;
	st->st_ctim = at->ctime;
}

static int
op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct agent_attr at = { 0 };
	struct fspath p;
	int rc;

	(void)fi;
	if ((rc = split(path, &p)) != 0)
		return rc;
	switch (p.depth) {
	case 0:
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFDIR | 0700;
		st->st_nlink = 4;
		st->st_uid = ctx()->owner_uid;
		st->st_gid = ctx()->owner_gid;
		return 0;
	case 1:
		rc = p.alerts ? agent_alerts_attr(ctx_agent(), &at) :
		    agent_box_attr(ctx_agent(), p.box, &at);
		break;
	case 2:
		rc = agent_folder_attr(ctx_agent(), p.box, p.folder, &at);
		break;
	default:
		rc = agent_file_attr(ctx_agent(), p.box, p.folder, p.name, &at);
		break;
	}
	if (rc != SB_OK)
		return neg(rc);
	fs_stat_fill(&at, st);
	return 0;
}

int
fs_fill_one(void *vctx, const char *name, const struct agent_attr *at)
{
	struct fs_fill *c = vctx;
	struct stat st;

	fs_stat_fill(at, &st);
	return c->filler(c->buf, name, &st, 0, 0);
}

static int
op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct fs_fill c = { buf, filler };
	struct fspath p;
	int rc;

	(void)off;
	(void)fi;
	(void)flags;
	if ((rc = split(path, &p)) != 0)
		return rc;
	if ((p.depth == 3 && !is_subdir(&p)) || p.alerts)
		return -ENOTDIR;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	switch (p.depth) {
	case 0:
		filler(buf, AGENT_ALERTS_NAME, NULL, 0, 0);
		filler(buf, "inbox", NULL, 0, 0);
		filler(buf, "outbox", NULL, 0, 0);
		return 0;
	case 1:
		return neg(agent_list_folders(ctx_agent(), p.box, fs_fill_one, &c));
	default:
		return neg(agent_list_dir(ctx_agent(), p.box, p.folder, p.name, fs_fill_one, &c));
	}
}

static int
op_mkdir(const char *path, mode_t mode)
{
	struct fspath p;
	int rc;

	(void)mode;
	if ((rc = split(path, &p)) != 0)
		return rc;
	if (p.depth < 2)
		return -EEXIST;
	if (p.box == AGENT_BOX_IN)
		return -EROFS;
	if (p.depth == 3)
		return neg(agent_dir_create(ctx_agent(), p.box, p.folder, p.name));
	return neg(agent_folder_create(ctx_agent(), p.box, p.folder));
}

static int
op_rmdir(const char *path)
{
	struct fspath p;
	int rc;

	if ((rc = split(path, &p)) != 0)
		return rc;
	if (p.alerts)
		return -ENOTDIR;
	if (p.depth < 2)
		return -EPERM;
	if (p.depth == 3) {
		if (!is_subdir(&p))
			return agent_file_attr(ctx_agent(), p.box, p.folder, p.name,
			    &(struct agent_attr){ 0 }) == SB_OK ? -ENOTDIR : -ENOENT;
		rc = agent_dir_remove(ctx_agent(), p.box, p.folder, p.name);
	} else {
		rc = agent_folder_remove(ctx_agent(), p.box, p.folder);
	}
	return rc == SB_ERR_EXISTS ? -ENOTEMPTY : neg(rc);
}

static int
open_flags(int oflags)
{
	int f = 0;

	switch (oflags & O_ACCMODE) {
	case O_RDONLY: f = AGENT_OPEN_READ; break;
	case O_WRONLY: f = AGENT_OPEN_WRITE; break;
	default:       f = AGENT_OPEN_READ | AGENT_OPEN_WRITE; break;
	}
	if (oflags & O_TRUNC)
		f |= AGENT_OPEN_TRUNC;
	if (oflags & O_CREAT)
		f |= AGENT_OPEN_CREATE;
	if (oflags & O_EXCL)
		f |= AGENT_OPEN_EXCL;
	return f;
}

static int
do_open(const char *path, int flags, struct fuse_file_info *fi)
{
	struct agent_file *f = NULL;
	struct fspath p;
	int rc;

	if ((rc = split(path, &p)) != 0)
		return rc;
	if (p.alerts) {
		if (flags & (AGENT_OPEN_WRITE | AGENT_OPEN_CREATE | AGENT_OPEN_TRUNC))
			return -EROFS;
		if ((rc = agent_alerts_open(ctx_agent(), &f)) != SB_OK)
			return neg(rc);
		fi->fh = (uint64_t)(uintptr_t)f;
		/* Its size changes between opens: read what the snapshot
		 * holds, never a cached or stat-sized view. */
		fi->direct_io = 1;
		return 0;
	}
	if (p.depth < 3) {
		if (flags & (AGENT_OPEN_WRITE | AGENT_OPEN_CREATE))
			return p.depth >= 1 && p.box == AGENT_BOX_IN ? -EROFS : -EISDIR;
		return -EISDIR;
	}
	if ((rc = agent_file_open(ctx_agent(), p.box, p.folder, p.name, flags, &f)) != SB_OK)
		return is_subdir(&p) ? -EISDIR : neg(rc);
	fi->fh = (uint64_t)(uintptr_t)f;
	/* Content is decrypted and verified by the agent on every read: keep
	 * no stale plaintext in the page cache across opens. */
	fi->keep_cache = 0;
	return 0;
}

static int
op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	return do_open(path, open_flags(fi->flags) | AGENT_OPEN_CREATE, fi);
}

static int
op_open(const char *path, struct fuse_file_info *fi)
{
	return do_open(path, open_flags(fi->flags), fi);
}

static struct agent_file *
fh(const struct fuse_file_info *fi)
{
	return (struct agent_file *)(uintptr_t)fi->fh;
}

static int
op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	size_t got = 0;
	int rc;

	(void)path;
	if (off < 0)
		return -EINVAL;
	if ((rc = agent_file_read(fh(fi), buf, size, (uint64_t)off, &got)) != SB_OK)
		return neg(rc);
	return (int)got;
}

static int
op_write(const char *path, const char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	int rc;

	(void)path;
	if (off < 0)
		return -EINVAL;
	if ((rc = agent_file_write(fh(fi), buf, size, (uint64_t)off)) != SB_OK)
		return neg(rc);
	return (int)size;
}

/* close(2) reports what flush returns; release's result is dropped by the
 * kernel, so durability is established here (STYLE.md b). */
static int
op_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	return neg(agent_file_flush(fh(fi)));
}

/* close(2) spools (safe from a crash of the agent); fsync(2) makes it
 * durable on disk, as on any file system (docs/ARCHITECTURE.md). */
static int
op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	return neg(agent_file_fsync(fh(fi)));
}

/* fsync(2) on a folder: what changed in the mount (files created, renamed,
 * removed) is on disk when it returns, as a mail tool's fsync of the
 * directory after its rename expects. */
static int
op_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	(void)fi;
	return neg(agent_sync(ctx_agent()));
}

static int
op_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	return neg(agent_file_release(fh(fi)));
}

static int
op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct fspath p;
	int rc;

	if (size < 0)
		return -EINVAL;
	if (fi != NULL)
		return neg(agent_file_truncate(fh(fi), (uint64_t)size));
	if ((rc = split(path, &p)) != 0)
		return rc;
	if (p.alerts)
		return -EROFS;
	if (p.depth < 3)
		return p.depth >= 1 && p.box == AGENT_BOX_IN ? -EROFS : -EISDIR;
	return neg(agent_truncate(ctx_agent(), p.box, p.folder, p.name, (uint64_t)size));
}

/* One of utimensat's two times: NULL for UTIME_OMIT, the time for
 * UTIME_NOW (and for a NULL times array). */
static const struct timespec *
utime_of(const struct timespec tv[2], int i, const struct timespec *now,
    struct timespec *out)
{
	if (tv == NULL || tv[i].tv_nsec == UTIME_NOW)
		*out = *now;
	else if (tv[i].tv_nsec == UTIME_OMIT)
		return NULL;
	else
		*out = tv[i];
	return out;
}

static int
op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct timespec now, at, mt;
	const struct timespec *a, *m;
	struct fspath p;
	int rc;

	(void)fi;
	if ((rc = split(path, &p)) != 0)
		return rc;
	if (p.alerts)
		return -EROFS;
	if (p.depth < 3)
		return p.depth >= 1 && p.box == AGENT_BOX_IN ? -EROFS : 0;
	clock_gettime(CLOCK_REALTIME, &now);
	a = utime_of(tv, 0, &now, &at);
	m = utime_of(tv, 1, &now, &mt);
	if (a == NULL && m == NULL)
		return neg(agent_file_attr(ctx_agent(), p.box, p.folder, p.name,
		    &(struct agent_attr){ 0 }));
	return neg(agent_set_times(ctx_agent(), p.box, p.folder, p.name, a, m));
}

/*
 * Permission bits and owners are fixed by the mailbox (the mount belongs to
 * whoever mounted it).  rsync -a, tar -x and cp -p set them after writing;
 * failing would make them report errors for a file that was sent, so the
 * outbox accepts and ignores them.  The inbox is read-only.
 */
static int
accept_meta(const char *path)
{
	struct agent_attr at;
	struct fspath p;
	int rc;

	if ((rc = split(path, &p)) != 0)
		return rc;
	if (p.alerts || (p.depth >= 1 && p.box == AGENT_BOX_IN))
		return -EROFS;
	if (p.depth == 3)
		return neg(agent_file_attr(ctx_agent(), p.box, p.folder, p.name, &at));
	if (p.depth == 2)
		return neg(agent_folder_attr(ctx_agent(), p.box, p.folder, &at));
	return 0;
}

static int
op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)mode;
	(void)fi;
	return accept_meta(path);
}

static int
op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)uid;
	(void)gid;
	(void)fi;
	return accept_meta(path);
}

static int
op_unlink(const char *path)
{
	struct fspath p;
	int rc;

	if ((rc = split(path, &p)) != 0)
		return rc;
	if (p.alerts)
		return -EROFS;
	if (p.depth < 3)
		return -EISDIR;
	if ((rc = agent_unlink(ctx_agent(), p.box, p.folder, p.name)) != SB_OK)
		return is_subdir(&p) ? -EISDIR : neg(rc);
	return 0;
}

static int
op_rename(const char *from, const char *to, unsigned int flags)
{
	struct fspath a, b;
	struct agent_attr at;
	int rc;

	if ((rc = split(from, &a)) != 0 || (rc = split(to, &b)) != 0)
		return rc;
	if ((a.depth >= 1 && a.box == AGENT_BOX_IN) || (b.depth >= 1 && b.box == AGENT_BOX_IN) ||
	    a.alerts || b.alerts)
		return -EROFS;
	if (a.depth != 3 || b.depth != 3)
		return -EPERM;          /* boxes and conversations are not renamed */
	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	/* A folder inside a conversation: its files are messages under their
	 * paths; mv copies it over (and removes the old one) on EXDEV. */
	if (is_subdir(&a))
		return -EXDEV;
	if (is_subdir(&b))
		return -EISDIR;
	if ((flags & RENAME_NOREPLACE) &&
	    agent_file_attr(ctx_agent(), b.box, b.folder, b.name, &at) == SB_OK)
		return -EEXIST;
	return neg(agent_rename(ctx_agent(), a.box, a.folder, a.name, b.folder, b.name));
}

/* Copies an xattr answer into the caller's buffer (size 0: length probe). */
static int
xattr_reply(const struct sb_buf *v, char *out, size_t size)
{
	if (v->len > INT_MAX)
		return -E2BIG;
	if (size == 0)
		return (int)v->len;
	if (v->len > size)
		return -ERANGE;
	if (v->len > 0)
		memcpy(out, v->d, v->len);
	return (int)v->len;
}

static int
op_getxattr(const char *path, const char *name, char *value, size_t size)
{
	struct sb_buf v = SB_BUF_INIT;
	struct fspath p;
	int rc;

	if ((rc = split(path, &p)) != 0)
		return rc;
	if (p.depth < 2)
		return -ENODATA;
	if (p.depth == 2)
		rc = agent_folder_xattr_get(ctx_agent(), p.box, p.folder, name, &v);
	else
		rc = agent_xattr_get(ctx_agent(), p.box, p.folder, p.name, name, &v);
	rc = rc == SB_ERR_NOT_FOUND ? -ENODATA : rc == SB_OK ? xattr_reply(&v, value, size) : neg(rc);
	sb_buf_free(&v);
	return rc;
}

static int
op_listxattr(const char *path, char *list, size_t size)
{
	struct sb_buf v = SB_BUF_INIT;
	struct fspath p;
	int rc;

	if ((rc = split(path, &p)) != 0)
		return rc;
	if (p.depth < 2)
		return 0;
	if (p.depth == 2)
		rc = agent_folder_xattr_list(ctx_agent(), p.box, p.folder, &v);
	else
		rc = agent_xattr_list(ctx_agent(), p.box, p.folder, p.name, &v);
	rc = rc == SB_OK ? xattr_reply(&v, list, size) : neg(rc);
	sb_buf_free(&v);
	return rc;
}

/* The agent's attributes are computed, not stored: refuse to set any. */
static int
op_setxattr(const char *path, const char *name, const char *value, size_t size, int flags)
{
	struct fspath p;
	int rc;

	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	if ((rc = split(path, &p)) != 0)
		return rc;
	return p.alerts || (p.depth >= 1 && p.box == AGENT_BOX_IN) ? -EROFS : -ENOTSUP;
}

static int
op_removexattr(const char *path, const char *name)
{
	return op_setxattr(path, name, NULL, 0, 0);
}

static int
op_statfs(const char *path, struct statvfs *st)
{
	int rc;

	(void)path;
	memset(st, 0, sizeof(*st));
	if ((rc = agent_statfs(ctx_agent(), st)) != SB_OK)
		return neg(rc);
	st->f_namemax = 255;
	return 0;
}

/* Node types the mailbox has no use for: symlink(2), mknod(2) and
 * mkfifo(3) (also what bind(2) of a unix socket calls) and link(2) all say
 * EPERM for a file system that does not support them (libfuse's default
 * for a missing op is ENOSYS, which tools report as a bug). */
static int
op_symlink(const char *target, const char *path)
{
	(void)target;
	(void)path;
	return -EPERM;
}

static int
op_mknod(const char *path, mode_t mode, dev_t dev)
{
	(void)path;
	(void)mode;
	(void)dev;
	return -EPERM;
}

static int
op_link(const char *from, const char *to)
{
	(void)from;
	(void)to;
	return -EPERM;
}

static void *
op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* open(O_TRUNC) arrives as one call, so a truncating open of a sent
	 * file starts one new write session instead of truncate-then-open. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* New mail must show up at once: no negative caching, short attribute
	 * caching (sizes change while the sender writes). */
	cfg->negative_timeout = 0;
	cfg->entry_timeout = 1.0;
	cfg->attr_timeout = 1.0;
	cfg->use_ino = 0;
	cfg->nullpath_ok = 0;
	return fuse_get_context()->private_data;
}

const struct fuse_operations fs_ops = {
	.init        = op_init,
	.getattr     = op_getattr,
	.readdir     = op_readdir,
	.mkdir       = op_mkdir,
	.rmdir       = op_rmdir,
	.create      = op_create,
	.open        = op_open,
	.read        = op_read,
	.write       = op_write,
	.flush       = op_flush,
	.fsync       = op_fsync,
	.fsyncdir    = op_fsyncdir,
	.release     = op_release,
	.truncate    = op_truncate,
	.utimens     = op_utimens,
	.chmod       = op_chmod,
	.chown       = op_chown,
	.unlink      = op_unlink,
	.rename      = op_rename,
	.getxattr    = op_getxattr,
	.listxattr   = op_listxattr,
	.setxattr    = op_setxattr,
	.removexattr = op_removexattr,
	.statfs      = op_statfs,
	.symlink     = op_symlink,
	.mknod       = op_mknod,
	.link        = op_link,
};
