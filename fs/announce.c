/*
 * announce.c - what the kernel learns of an arrival (issue 13, point 6).
 *
 * Caches.  The kernel caches a folder's attributes for attr_timeout (1 s,
 * ops.c), so a stat right after an arrival could show the folder as it
 * was.  On each arrival (agent_subscribe; the receiving thread, no lock
 * held) the folder's and its box's cached attributes are dropped at once
 * (fuse_invalidate_path: FUSE_NOTIFY_INVAL_INODE), before any other
 * subscriber (watch/) tells a program, so what a program is told it can
 * see.  Listings are never cached and names not looked up negatively
 * (negative_timeout 0), so `ls` shows the arrival anyway.
 *
 * inotify.  The kernel raises fsnotify events only in its own VFS calls;
 * none of FUSE's notifications raises one for a new name.  Tried on Linux
 * 6.18 with inotifywait on a FUSE folder (docs/ARCHITECTURE.md): notify
 * inval_entry (-ENOENT: the name had no dentry yet), inval_inode of the
 * folder, expire_entry, delete: no event at all.  So the mount announces
 * each arrival through the VFS itself: a thread of ours (the announcer)
 * creates the new name on our own mount with open(O_CREAT | O_EXCL |
 * O_WRONLY) and closes it; the kernel reports IN_CREATE, IN_OPEN and
 * IN_CLOSE_WRITE to watchers of the folder, as for a file written there.
 * A new sender's folder is announced first by mkdir (IN_CREATE|IN_ISDIR).
 *
 * The layer below makes that work without a new writable path: for the
 * announcer's thread alone (fuse_get_context()->pid is the calling
 * thread's id) and the one name being announced, getattr says ENOENT
 * until the create or mkdir comes (O_EXCL revalidates a cached dentry,
 * so the kernel asks), and the create or mkdir succeeds without touching
 * anything; the handle it returns does nothing.  Any other caller, or
 * any other name, goes to the table below, where inbox/ stays EROFS.
 * inbox/ and its folders are 0700 so that the kernel's mode check
 * (default_permissions) lets the owner's announcer through.
 *
 * The announcer never holds a lock while in a system call on the mount
 * (a FUSE worker serves it), never blocks the receiver (a bounded queue),
 * and checks that the path is still our mount before and after each
 * create: after an unmount it would reach the folder beneath, where a
 * file it made by mistake is removed again.
 *
 * Those system calls are made by a child process, never by a thread of
 * the daemon.  A thread of ours inside open() on our own mount cannot be
 * killed: once its request has been read, the kernel waits for the answer
 * uninterruptibly, and the answer could only come from the process being
 * killed; a kill -9 of the mount at that moment left a process that never
 * died and a mount that hung (fault_kill9 caught it).  The child holds no
 * descriptor of /dev/fuse, so when the daemon dies the connection is
 * aborted and the child's call fails with ENOTCONN; it then reads EOF on
 * its socket (or gets PR_SET_PDEATHSIG) and exits.  It was forked from a
 * threaded process, so it only makes async-signal-safe system calls on
 * paths the daemon composed; it says what happened in one int and the
 * daemon's thread logs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "common/sberr.h"
#include "common/workq.h"
#include "fs_int.h"
#include "mail/mail.h"

/* Arrivals waiting to be announced; more are not announced (logged). */
#define ANNOUNCE_QUEUE_MAX 1024

enum { HIDDEN = 1, SHOWN = 2 };

struct item {
	int new_folder;
	char folder[PATH_MAX];        /* "/inbox/FOLDER" */
	char file[PATH_MAX];          /* "/inbox/FOLDER/NAME", "" for none */
};

struct fs_announcer {
	struct agent *a;
	struct fuse *fuse;
	char mnt[PATH_MAX];
	dev_t under;                  /* st_dev of the folder beneath the mount */
	struct sb_workq *q;           /* the announcer: its one thread */
	unsigned dropped;
	pid_t child;                  /* makes the calls on the mount */
	int sock;                     /* to the child: requests and answers */

	pthread_mutex_t lock;
	pid_t tid;                    /* the announcer's thread id */
	/* The one name being announced and how far it got. */
	char pending[PATH_MAX];
	int state;
};

/* A copy of the table below this layer (set once by its table function). */
static struct fuse_operations below_copy;
static const struct fuse_operations *const below = &below_copy;
/* The handle of an announcement's create: no agent file behind it. */
static char announce_fh_mark;
#define ANNOUNCE_FH ((uint64_t)(uintptr_t)&announce_fh_mark)

static struct fs_announcer *
announcer(void)
{
	return ((struct fs_ctx *)fuse_get_context()->private_data)->an;
}

/* SHOWN/HIDDEN if path is the announcer's pending name and the caller is
 * the announcer; 0 otherwise.  With `show`, HIDDEN becomes SHOWN. */
static int
pending_state(const char *path, int show)
{
	struct fs_announcer *an = announcer();
	int st = 0;

	if (an == NULL)
		return 0;
	pthread_mutex_lock(&an->lock);
	if (an->state != 0 && an->tid == fuse_get_context()->pid &&
	    strcmp(path, an->pending) == 0) {
		st = an->state;
		if (show)
			an->state = SHOWN;
	}
	pthread_mutex_unlock(&an->lock);
	return st;
}

static int
an_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	if (pending_state(path, 0) == HIDDEN)
		return -ENOENT;
	return below->getattr(path, st, fi);
}

static int
an_mkdir(const char *path, mode_t mode)
{
	if (pending_state(path, 1) == HIDDEN)
		return 0;
	return below->mkdir(path, mode);
}

static int
an_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	if (pending_state(path, 1) == HIDDEN) {
		fi->fh = ANNOUNCE_FH;
		return 0;
	}
	return below->create(path, mode, fi);
}

static int
an_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	if (fi->fh == ANNOUNCE_FH)
		return -EROFS;
	return below->write(path, buf, size, off, fi);
}

static int
an_flush(const char *path, struct fuse_file_info *fi)
{
	return fi->fh == ANNOUNCE_FH ? 0 : below->flush(path, fi);
}

static int
an_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	return fi->fh == ANNOUNCE_FH ? 0 : below->fsync(path, datasync, fi);
}

static int
an_release(const char *path, struct fuse_file_info *fi)
{
	return fi->fh == ANNOUNCE_FH ? 0 : below->release(path, fi);
}

static int
an_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	return fi->fh == ANNOUNCE_FH ? 0 : below->read(path, buf, size, off, fi);
}

static int
an_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	if (fi != NULL && fi->fh == ANNOUNCE_FH)
		return -EROFS;
	return below->truncate(path, size, fi);
}

void
fs_announce_table(const struct fuse_operations *inner, struct fuse_operations *out)
{
	below_copy = *inner;
	*out = *inner;
	out->getattr = an_getattr;
	out->mkdir = an_mkdir;
	out->create = an_create;
	out->write = an_write;
	out->flush = an_flush;
	out->fsync = an_fsync;
	out->release = an_release;
	out->read = an_read;
	out->truncate = an_truncate;
}

/* ---- The announcer thread ------------------------------------------------------ */

/* ---- The child: the calls on our own mount -------------------------------- */

/* A request to the child: one name to create on the mount. */
enum { REQ_MKDIR = 1, REQ_CREATE = 2 };
struct req {
	int op;
	char path[2 * PATH_MAX];      /* absolute, under the mount point */
};
/* Its answer: 0 done, -errno failed, or one of these. */
#define ANS_NOT_MOUNTED 1         /* the mount point is not ours any more */
#define ANS_REMOVED     2         /* made beneath the mount: removed again */

/* 1 while mnt is still our mount: not the folder beneath it.  (The
 * first call may wait for the FUSE loop to start serving.) */
static int
still_mounted(const struct fs_announcer *an)
{
	struct stat st;

	return stat(an->mnt, &st) == 0 && st.st_dev != an->under;
}

/* In the child: one request, only async-signal-safe calls. */
static int
child_do(const struct fs_announcer *an, const struct req *r)
{
	struct stat st;
	int fd;

	if (!still_mounted(an))
		return ANS_NOT_MOUNTED;
	if (r->op == REQ_MKDIR) {
		if (mkdir(r->path, 0700) != 0)
			return -errno;
		if (stat(r->path, &st) != 0 || st.st_dev == an->under) {
			rmdir(r->path);         /* beneath the mount: ours, empty */
			return ANS_REMOVED;
		}
		return 0;
	}
	fd = open(r->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || st.st_dev == an->under) {
		/* Not our mount any more: the file is ours (O_EXCL). */
		unlink(r->path);
		close(fd);
		return ANS_REMOVED;
	}
	close(fd);
	return 0;
}

static void __attribute__((noreturn))
child_main(const struct fs_announcer *an, pid_t parent, int sock, int fuse_fd)
{
	struct req r;
	int s, null, ans;

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	(void)prctl(PR_SET_NAME, "sealbox-announ");
	/* Keep stderr (unless it is the device) and the socket, as fd 3;
	 * above all, close our copy of /dev/fuse. */
	if ((s = fcntl(sock, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		_exit(1);
	if (dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    (fuse_fd == 2 && dup2(null, 2) < 0) || dup2(s, 3) < 0 ||
	    close_range(4, ~0U, 0) != 0)
		_exit(1);
	for (;;) {
		ssize_t n = read(3, &r, sizeof(r));

		if (n != (ssize_t)sizeof(r))
			_exit(0);               /* EOF: the daemon is gone or done */
		r.path[sizeof(r.path) - 1] = '\0';
		ans = child_do(an, &r);
		if (write(3, &ans, sizeof(ans)) != (ssize_t)sizeof(ans))
			_exit(0);
	}
}

/* Starts the child; SB_OK or SB_ERR_SYSTEM. */
static int
child_start(struct fs_announcer *an, int fuse_fd)
{
	int sv[2];
	pid_t parent = getpid(), pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return SB_ERR_SYSTEM;
	if ((pid = fork()) < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		errno = e;
		return SB_ERR_SYSTEM;
	}
	if (pid == 0)
		child_main(an, parent, sv[1], fuse_fd);
	close(sv[1]);
	an->child = pid;
	an->sock = sv[0];
	return SB_OK;
}

/* The child's answer to one request (-EPIPE if it is gone). */
static int
ask_child(struct fs_announcer *an, int op, const char *path)
{
	struct req r;
	int ans;

	memset(&r, 0, sizeof(r));
	r.op = op;
	if ((size_t)snprintf(r.path, sizeof(r.path), "%s", path) >= sizeof(r.path))
		return -ENAMETOOLONG;
	if (an->sock < 0 || write(an->sock, &r, sizeof(r)) != (ssize_t)sizeof(r) ||
	    read(an->sock, &ans, sizeof(ans)) != (ssize_t)sizeof(ans)) {
		if (an->sock >= 0)
			fprintf(stderr, "sealbox: the announcer process is gone; arrivals"
			    " are no longer announced to inotify\n");
		if (an->sock >= 0)
			close(an->sock);
		an->sock = -1;
		return -EPIPE;
	}
	return ans;
}

static void
set_pending(struct fs_announcer *an, const char *path)
{
	pthread_mutex_lock(&an->lock);
	an->tid = an->child;          /* one thread: tid == pid */
	snprintf(an->pending, sizeof(an->pending), "%s", path);
	an->state = path[0] != '\0' ? HIDDEN : 0;
	pthread_mutex_unlock(&an->lock);
}

/* One name announced through the child, what went wrong logged. */
static void
announce_one(struct fs_announcer *an, int op, const char *rel)
{
	char path[2 * PATH_MAX];
	int ans;

	snprintf(path, sizeof(path), "%s%s", an->mnt, rel);
	set_pending(an, rel);
	ans = ask_child(an, op, path);
	set_pending(an, "");
	if (ans == ANS_REMOVED)
		fprintf(stderr, "sealbox: %s is no longer mounted: removed %s again\n",
		    an->mnt, path);
	/* EEXIST: the kernel saw it already; ENOENT: removed meanwhile. */
	else if (ans < 0 && ans != -EEXIST && ans != -ENOENT && ans != -EPIPE)
		fprintf(stderr, "sealbox: could not announce %s: %s\n", rel,
		    strerror(-ans));
}

/* The announcer (sb_workq's thread): one arrival. */
static void
announce(void *ctx, void *item)
{
	struct fs_announcer *an = ctx;
	struct item *it = item;

	if (it->new_folder)
		announce_one(an, REQ_MKDIR, it->folder);
	if (it->file[0] != '\0')
		announce_one(an, REQ_CREATE, it->file);
	free(it);
}

/* Drops the kernel's cached attributes of path (nothing cached: -ENOENT,
 * which is fine). */
static void
invalidate(struct fs_announcer *an, const char *path)
{
	(void)fuse_invalidate_path(an->fuse, path);
}

/* The agent's arrival callback: the receiving thread, no lock held. */
static void
on_arrival(void *ctx, const struct agent_arrival *ev)
{
	struct fs_announcer *an = ctx;
	const char *box = ev->box == AGENT_BOX_IN ? "/inbox" : "/outbox";
	char md[MAIL_FOLDER_BUF], path[PATH_MAX];
	struct item *it;
	size_t waiting = 0;

	invalidate(an, box);
	snprintf(path, sizeof(path), "%s/%s", box, ev->folder);
	invalidate(an, path);
	/* A file of a received tree: the folders on its way changed too. */
	for (const char *s = strchr(ev->name, '/'); s != NULL; s = strchr(s + 1, '/'))
		if ((size_t)snprintf(path, sizeof(path), "%s/%s/%.*s", box, ev->folder,
		    (int)(s - ev->name), ev->name) < sizeof(path))
			invalidate(an, path);
	if (ev->box == AGENT_BOX_IN && mail_folder_name(ev->folder, md, sizeof(md)) == SB_OK) {
		invalidate(an, "/maildir");
		snprintf(path, sizeof(path), "/maildir/%s", md);
		invalidate(an, path);
		snprintf(path, sizeof(path), "/maildir/%s/cur", md);
		invalidate(an, path);
	}
	if ((it = calloc(1, sizeof(*it))) == NULL)
		return;
	it->new_folder = ev->new_folder;
	snprintf(it->folder, sizeof(it->folder), "%s/%s", box, ev->folder);
	/* A name in a subfolder would need its folders announced first: only
	 * names that are one component are (folders-as-folders, issue 13
	 * point 8, can extend this). */
	if (strchr(ev->name, '/') == NULL &&
	    (size_t)snprintf(it->file, sizeof(it->file), "%s/%s/%s", box, ev->folder,
	    ev->name) >= sizeof(it->file))
		it->file[0] = '\0';
	if (sb_workq_push(an->q, it, &waiting) != SB_OK) {
		/* Only this thread counts: no lock needed. */
		if (an->dropped++ % 100 == 0)
			fprintf(stderr, "sealbox: %zu arrivals waiting to be announced to"
			    " inotify; not announcing more\n", waiting);
		free(it);
	}
}

int
fs_announcer_start(struct agent *a, struct fuse *fuse, const char *mountpoint,
    dev_t under, struct fs_announcer **out)
{
	struct fs_announcer *an;
	int rc;

	*out = NULL;
	if (strlen(mountpoint) >= PATH_MAX || mountpoint[0] != '/')
		return SB_ERR_INVALID_ARG;
	if ((an = calloc(1, sizeof(*an))) == NULL)
		return SB_ERR_ALLOC;
	an->a = a;
	an->fuse = fuse;
	an->under = under;
	memcpy(an->mnt, mountpoint, strlen(mountpoint) + 1);
	an->sock = -1;
	if ((rc = child_start(an, fuse_session_fd(fuse_get_session(fuse)))) != SB_OK) {
		free(an);
		return rc;
	}
	pthread_mutex_init(&an->lock, NULL);
	if ((rc = sb_workq_start(ANNOUNCE_QUEUE_MAX, announce, free, an, &an->q)) != SB_OK) {
		pthread_mutex_destroy(&an->lock);
		close(an->sock);
		waitpid(an->child, NULL, 0);
		free(an);
		return rc;
	}
	if ((rc = agent_subscribe(a, on_arrival, an)) != SB_OK) {
		fs_announcer_stop(an);
		return rc;
	}
	*out = an;
	return SB_OK;
}

void
fs_announcer_stop(struct fs_announcer *an)
{
	if (an == NULL)
		return;
	agent_unsubscribe(an->a, on_arrival, an);
	sb_workq_stop(an->q);
	/* EOF tells the child to exit; the mount is gone by now (fs_free), so
	 * a call of its on the mount has failed and it is reading. */
	if (an->sock >= 0)
		close(an->sock);
	while (waitpid(an->child, NULL, 0) < 0 && errno == EINTR)
		;
	pthread_mutex_destroy(&an->lock);
	free(an);
}
