/*
 * hook.c - HOME/hooks/on-receive, run once per arrival (watch.h).
 *
 * One thread runs the queued arrivals in order, one hook at a time: a
 * burst of mail starts no burst of processes, and the hook sees arrivals
 * in the order they were stored.  The receiving thread only queues a copy.
 *
 * Before each run the hook must be a regular file (not a symbolic link)
 * owned by the user, executable, in a folder owned by the user, neither
 * writable by group or others: whoever can change it runs code as the
 * user with their mail at hand.  Otherwise it is not run, and the log says
 * why (every time: a hook that silently stopped running would be worse).
 *
 * A run: fork + execve (only async-signal-safe calls in the child: the
 * mount has many threads), a process group of its own, stdin /dev/null,
 * stdout and stderr a pipe whose lines go to the log, cwd HOME/hooks, the
 * signal mask and dispositions reset (the mount ignores SIGPIPE), every
 * other descriptor closed.  After the timeout the whole group gets
 * SIGKILL.  Exit status other than 0 is logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/sberr.h"
#include "common/workq.h"
#include "watch_int.h"

extern char **environ;

struct item {
	struct watch_event ev;
	uint8_t msgid[WATCH_MSGID_LEN];
	char *strs;                 /* mount, folder, name, sender */
};

struct watch_hook {
	char *home;
	char dir[4096], path[4096];
	unsigned timeout_s;
	struct sb_workq *q;         /* the runner: one thread, in order */
	pthread_mutex_t lock;
	unsigned dropped;
};

static void
item_free(void *item)
{
	struct item *it = item;

	if (it == NULL)
		return;
	free(it->strs);
	free(it);
}

static struct item *
item_new(const struct watch_event *ev)
{
	const char *src[4] = { ev->mount, ev->folder, ev->name, ev->sender };
	size_t len[4], total = 0, i;
	struct item *it = calloc(1, sizeof(*it));
	char *p;

	if (it == NULL)
		return NULL;
	for (i = 0; i < 4; i++)
		total += (len[i] = strlen(src[i]) + 1);
	if ((it->strs = malloc(total)) == NULL) {
		free(it);
		return NULL;
	}
	it->ev = *ev;
	for (p = it->strs, i = 0; i < 4; p += len[i], i++)
		memcpy(p, src[i], len[i]);
	it->ev.mount = it->strs;
	it->ev.folder = it->ev.mount + len[0];
	it->ev.name = it->ev.folder + len[1];
	it->ev.sender = it->ev.name + len[2];
	memcpy(it->msgid, ev->msgid, WATCH_MSGID_LEN);
	it->ev.msgid = it->msgid;
	return it;
}

void
watch_hook_queue(struct watch_hook *h, const struct watch_event *ev)
{
	struct item *it;
	size_t waiting = 0;

	if (h == NULL || (it = item_new(ev)) == NULL)
		return;
	if (sb_workq_push(h->q, it, &waiting) != SB_OK) {
		pthread_mutex_lock(&h->lock);
		if (h->dropped++ % 100 == 0)
			fprintf(stderr, "sealbox: hook on-receive: %zu arrivals waiting;"
			    " not run for %s/inbox/%s/%s\n", waiting, ev->mount, ev->folder,
			    ev->name);
		pthread_mutex_unlock(&h->lock);
		item_free(it);
	}
}

/* ---- Checks ---------------------------------------------------------------------- */

/* NULL if path (a folder when dir) may be run/trusted, else why not. */
static const char *
unsafe(const char *path, int dir)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return "cannot be examined";
	if (S_ISLNK(st.st_mode))
		return "is a symbolic link";
	if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return dir ? "is not a folder" : "is not a regular file";
	if (st.st_uid != getuid())
		return "is not owned by you";
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return "is writable by its group or others";
	if (!dir && !(st.st_mode & S_IXUSR))
		return "is not executable";
	return NULL;
}

/* ---- Running ------------------------------------------------------------------------ */

/* Logs one line of the hook's output (controls shown as '?'). */
static void
log_line(char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = '?';
	fprintf(stderr, "sealbox: hook on-receive: %.*s\n", (int)n, s);
}

struct output {
	char line[1024];
	size_t len;
	size_t total;               /* bytes logged so far */
	int cut;
};

static void
take_output(struct output *o, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (o->total >= WATCH_HOOK_OUTPUT_MAX) {
			if (!o->cut)
				fprintf(stderr, "sealbox: hook on-receive: (more output not logged)\n");
			o->cut = 1;
			return;
		}
		o->total++;
		if (buf[i] == '\n' || o->len == sizeof(o->line)) {
			log_line(o->line, o->len);
			o->len = 0;
			if (buf[i] == '\n')
				continue;
		}
		o->line[o->len++] = buf[i];
	}
}

/* The child: async-signal-safe calls only, then execve. */
static void
child(struct watch_hook *h, int out, int devnull, char *const argv[], char *const envp[],
    const sigset_t *empty)
{
	struct sigaction dfl;
	int sig;

	setpgid(0, 0);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &dfl, NULL);
	sigprocmask(SIG_SETMASK, empty, NULL);
	if (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(126);
	close_range(3, ~0U, 0);
	if (chdir(h->dir) != 0)
		_exit(126);
	execve(h->path, argv, envp);
	_exit(127);
}

/* The runner (sb_workq's thread): one arrival. */
static void
run(void *ctx, void *item)
{
	struct watch_hook *h = ctx;
	const struct watch_event *ev = &((struct item *)item)->ev;
	struct sb_buf path = SB_BUF_INIT;
	struct output o;
	char **envp = NULL, *argv[3], buf[4096];
	const char *why, *who;
	sigset_t empty;
	int64_t deadline;
	int p[2] = { -1, -1 }, devnull = -1, status = 0, exited = 0, eof = 0, killed = 0;
	ssize_t n;
	pid_t pid;

	if (watch_event_path(ev, &path) != SB_OK)
		goto out;
	if (access(h->path, F_OK) != 0 && errno == ENOENT)
		goto out;                  /* no hook */
	who = h->dir;
	if ((why = unsafe(h->dir, 1)) == NULL) {
		who = h->path;
		why = unsafe(h->path, 0);
	}
	if (why != NULL) {
		fprintf(stderr, "sealbox: hook on-receive: not run for %s: %s %s\n",
		    (const char *)path.d, who, why);
		goto out;
	}
	if (watch_hook_env(ev, h->home, environ, &envp) != SB_OK)
		goto out;
	argv[0] = h->path;
	argv[1] = (char *)path.d;
	argv[2] = NULL;
	sigemptyset(&empty);
	if (pipe2(p, O_CLOEXEC) != 0 || (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "sealbox: hook on-receive: not run for %s: %s\n",
		    (const char *)path.d, strerror(errno));
		goto out;
	}
	if ((pid = fork()) < 0) {
		fprintf(stderr, "sealbox: hook on-receive: not run for %s: fork: %s\n",
		    (const char *)path.d, strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(h, p[1], devnull, argv, envp, &empty);
	setpgid(pid, pid);             /* either side may win the race */
	close(p[1]);
	p[1] = -1;
	memset(&o, 0, sizeof(o));
	deadline = sb_mono_ms() + (int64_t)h->timeout_s * 1000;
	while (!exited) {
		struct pollfd pfd = { eof ? -1 : p[0], POLLIN, 0 };
		int64_t left = deadline - sb_mono_ms();

		if (left <= 0) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			killed = 1;
			break;
		}
		(void)poll(&pfd, 1, left < 100 ? (int)left : 100);
		if (pfd.revents & (POLLIN | POLLHUP)) {
			n = read(p[0], buf, sizeof(buf));
			if (n > 0)
				take_output(&o, buf, (size_t)n);
			else if (n == 0)
				eof = 1;
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			exited = 1;
	}
	/* What it wrote before it ended (a child it left may keep the pipe
	 * open: take only what is there). */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	while (!eof && (n = read(p[0], buf, sizeof(buf))) > 0)
		take_output(&o, buf, (size_t)n);
	if (o.len > 0)
		log_line(o.line, o.len);
	if (killed)
		fprintf(stderr, "sealbox: hook on-receive: killed after %u s: %s\n",
		    h->timeout_s, (const char *)path.d);
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		fprintf(stderr, "sealbox: hook on-receive: exited %d: %s\n",
		    WEXITSTATUS(status), (const char *)path.d);
	else if (WIFSIGNALED(status))
		fprintf(stderr, "sealbox: hook on-receive: killed by signal %d: %s\n",
		    WTERMSIG(status), (const char *)path.d);
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (devnull >= 0)
		close(devnull);
	watch_env_free(envp);
	sb_buf_free(&path);
	item_free(item);
}

int
watch_hook_start(const char *home, unsigned timeout_s, struct watch_hook **out)
{
	struct watch_hook *h;
	int rc;

	*out = NULL;
	if (timeout_s < 1 || timeout_s > WATCH_HOOK_TIMEOUT_MAX_S)
		return SB_ERR_INVALID_ARG;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return SB_ERR_ALLOC;
	if ((h->home = strdup(home)) == NULL ||
	    (size_t)snprintf(h->dir, sizeof(h->dir), "%s/hooks", home) >= sizeof(h->dir) ||
	    (size_t)snprintf(h->path, sizeof(h->path), "%s/hooks/on-receive", home) >=
	    sizeof(h->path)) {
		free(h->home);
		free(h);
		return SB_ERR_ALLOC;
	}
	h->timeout_s = timeout_s;
	pthread_mutex_init(&h->lock, NULL);
	if ((rc = sb_workq_start(WATCH_HOOK_QUEUE, run, item_free, h, &h->q)) != SB_OK) {
		pthread_mutex_destroy(&h->lock);
		free(h->home);
		free(h);
		return rc;
	}
	*out = h;
	return SB_OK;
}

void
watch_hook_stop(struct watch_hook *h)
{
	size_t dropped;

	if (h == NULL)
		return;
	if ((dropped = sb_workq_stop(h->q)) > 0)
		fprintf(stderr, "sealbox: hook on-receive: not run for %zu arrivals:"
		    " the mount stopped\n", dropped);
	pthread_mutex_destroy(&h->lock);
	free(h->home);
	free(h);
}
