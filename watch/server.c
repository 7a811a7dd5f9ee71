/*
 * server.c - the watch socket (watch.h): HOME/watch.sock, served by one
 * thread of the mount process with poll(2).
 *
 * An arrival (agent_subscribe, on the receiving thread) is formatted once
 * per format and appended to each watcher's buffer under the lock; the
 * thread writes the buffers out without blocking.  A watcher whose buffer
 * would pass WATCH_CLIENT_BUF gets "!lost" and is closed once that is out:
 * delivery never waits for a reader, and a reader never silently misses
 * a line.  The hook (hook.c) gets its own copy of each arrival.
 *
 * Why a socket in the home rather than a file in the mount that blocks on
 * read: a blocked read would hold one of the mount's worker threads per
 * watcher, and FUSE has no way to say "the mount is going" to it; a socket
 * costs the mount nothing while idle, tells the watcher the end with one
 * line, and checks its peer (SO_PEERCRED) like any local service.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/agent.h"
#include "common/sberr.h"
#include "watch.h"
#include "watch_int.h"

/* After "!end", how long the last lines may take to go out. */
#define END_FLUSH_MS 1000

struct client {
	int fd;
	pid_t pid;
	int format;                 /* 0: no request yet, 't' or 'j' */
	char req[WATCH_REQUEST_MAX];
	size_t req_len;
	struct sb_buf out;
	size_t out_off;
	int closing;                /* close once out is written */
};

struct watch {
	struct agent *a;
	char *home, *mount;
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd;
	int wake[2];
	pthread_t thread;
	int started, subscribed;
	pthread_mutex_t lock;
	int stop;
	struct client clients[WATCH_CLIENTS_MAX];
	size_t n;
	struct watch_hook *hook;
};

int
watch_socket_path(const char *home, char *out, size_t out_size)
{
	int n = snprintf(out, out_size, "%s/watch.sock", home);

	if (n < 0 || (size_t)n >= out_size || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return SB_ERR_LENGTH;
	return SB_OK;
}

static void
wake(struct watch *w)
{
	char c = 1;

	/* Full pipe: the thread is awake anyway. */
	(void)!write(w->wake[1], &c, 1);
}

/* Appends line to c's buffer, or marks it lost.  Under w->lock. */
static void
queue_line(struct client *c, const struct sb_buf *line)
{
	if (c->closing || c->format == 0)
		return;
	if (c->out.len - c->out_off + line->len > WATCH_CLIENT_BUF) {
		sb_put_bytes(&c->out, "!lost\n", 6);
		c->closing = 1;
		return;
	}
	sb_put_bytes(&c->out, line->d, line->len);
	if (c->out.err != SB_OK)
		c->closing = 1;
}

static void
on_arrival(void *ctx, const struct agent_arrival *ev)
{
	struct watch *w = ctx;
	struct sb_buf text = SB_BUF_INIT, json = SB_BUF_INIT;
	struct watch_event we;
	size_t i;

	if (ev->box != AGENT_BOX_IN)
		return;
	memset(&we, 0, sizeof(we));
	we.mount = w->mount;
	we.folder = ev->folder;
	we.name = ev->name;
	we.sender = ev->sender;
	we.device = ev->sender_device;
	we.msgid = ev->msgid;
	we.size = ev->size;
	we.sent = ev->sent;
	we.arrived = ev->arrived;
	watch_hook_queue(w->hook, &we);
	if (watch_format_text(&we, &text) != SB_OK || watch_format_json(&we, &json) != SB_OK) {
		fprintf(stderr, "sealbox: watch: out of memory; watchers miss an arrival\n");
	} else {
		pthread_mutex_lock(&w->lock);
		for (i = 0; i < w->n; i++)
			queue_line(&w->clients[i], w->clients[i].format == 'j' ? &json : &text);
		pthread_mutex_unlock(&w->lock);
		wake(w);
	}
	sb_buf_free(&text);
	sb_buf_free(&json);
}

/* ---- The thread ------------------------------------------------------------- */

static void
client_close(struct watch *w, size_t i)
{
	close(w->clients[i].fd);
	sb_buf_free(&w->clients[i].out);
	w->clients[i] = w->clients[--w->n];
	memset(&w->clients[w->n], 0, sizeof(w->clients[0]));
}

static void
accept_one(struct watch *w)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct client *c;
	int fd = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != getuid()) {
		fprintf(stderr, "sealbox: watch: refused a watcher of uid %ld\n",
		    len == sizeof(cred) ? (long)cred.uid : -1L);
		close(fd);
		return;
	}
	pthread_mutex_lock(&w->lock);
	if (w->n == WATCH_CLIENTS_MAX) {
		pthread_mutex_unlock(&w->lock);
		fprintf(stderr, "sealbox: watch: refused a watcher (pid %ld): %d watch already\n",
		    (long)cred.pid, WATCH_CLIENTS_MAX);
		close(fd);
		return;
	}
	c = &w->clients[w->n++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->pid = cred.pid;
	pthread_mutex_unlock(&w->lock);
}

/* Reads c's request line ("text" or "json"); 0, or -1 to close it. */
static int
read_request(struct client *c)
{
	char buf[256];
	ssize_t n = read(c->fd, buf, sizeof(buf));
	size_t i;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (n < 0 || c->format != 0)
		return 0;                /* after the request, input is ignored */
	for (i = 0; i < (size_t)n; i++) {
		if (buf[i] == '\n') {
			c->req[c->req_len] = '\0';
			if (strcmp(c->req, "text") == 0 || strcmp(c->req, "json") == 0) {
				c->format = c->req[0] == 't' ? 't' : 'j';
				fprintf(stderr, "sealbox: watch: a watcher connected (pid %ld, %s)\n",
				    (long)c->pid, c->req);
				return 0;
			}
			return -1;
		}
		if (c->req_len == sizeof(c->req) - 1)
			return -1;
		c->req[c->req_len++] = buf[i];
	}
	return 0;
}

/* Writes what c has pending; 0, or -1 to close it. */
static int
write_out(struct client *c)
{
	ssize_t n;

	while (c->out_off < c->out.len) {
		n = send(c->fd, c->out.d + c->out_off, c->out.len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->out_off += (size_t)n;
	}
	sb_buf_truncate(&c->out, 0);
	c->out_off = 0;
	return c->closing ? -1 : 0;
}

static void *
serve(void *arg)
{
	struct watch *w = arg;
	struct pollfd pfd[WATCH_CLIENTS_MAX + 2];
	long long end_by = -1;
	char drain[64];
	size_t i, n;
	int stop, r;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		stop = w->stop;
		for (i = 0; i < w->n; i++) {
			pfd[i + 2].fd = w->clients[i].fd;
			pfd[i + 2].events = POLLIN |
			    (w->clients[i].out.len > w->clients[i].out_off ? POLLOUT : 0);
			pfd[i + 2].revents = 0;
		}
		n = w->n;
		pthread_mutex_unlock(&w->lock);
		if (stop && (n == 0 || end_by == 0))
			break;
		pfd[0].fd = stop ? -1 : w->lfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = w->wake[0];
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		r = poll(pfd, n + 2, stop ? 50 : -1);
		if (stop && end_by < 0)
			end_by = END_FLUSH_MS / 50;
		else if (stop && end_by > 0)
			end_by--;
		if (r < 0 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN)
			while (read(w->wake[0], drain, sizeof(drain)) > 0)
				;
		pthread_mutex_lock(&w->lock);
		/* Backwards: client_close moves the last one into slot i. */
		for (i = n; i-- > 0;) {
			struct client *c = &w->clients[i];
			int bad = 0;

			if (pfd[i + 2].revents & (POLLIN | POLLHUP | POLLERR))
				bad = read_request(c) != 0;
			if (!bad && c->out.len > c->out_off)
				bad = write_out(c) != 0;
			else if (!bad && c->closing)
				bad = 1;
			if (bad)
				client_close(w, i);
		}
		pthread_mutex_unlock(&w->lock);
		if (pfd[0].revents & POLLIN)
			accept_one(w);
	}
	pthread_mutex_lock(&w->lock);
	while (w->n > 0)
		client_close(w, w->n - 1);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* ---- Start and stop ---------------------------------------------------------------- */

/* Binds HOME/watch.sock, replacing a stale one (no listener). */
static int
listen_socket(struct watch *w)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd, probe, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, w->sock, strlen(w->sock) + 1);
	if (lstat(w->sock, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errno = EEXIST;
			return SB_ERR_SYSTEM;
		}
		/* The home's mount.lock is ours: whatever listened there is gone. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			errno = EADDRINUSE;
			return SB_ERR_SYSTEM;
		}
		if (probe >= 0)
			close(probe);
		unlink(w->sock);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return SB_ERR_SYSTEM;
	/* Born 0600 (umask), so no other user ever had a moment to connect. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || chmod(w->sock, 0600) != 0 || listen(fd, 16) != 0) {
		rc = errno;
		close(fd);
		unlink(w->sock);
		errno = rc;
		return SB_ERR_SYSTEM;
	}
	w->lfd = fd;
	return SB_OK;
}

int
watch_start(struct agent *a, const char *home, const char *mount, unsigned hook_timeout_s,
    struct watch **out)
{
	struct watch *w;
	int rc;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return SB_ERR_ALLOC;
	w->a = a;
	w->lfd = w->wake[0] = w->wake[1] = -1;
	pthread_mutex_init(&w->lock, NULL);
	if ((w->home = strdup(home)) == NULL || (w->mount = strdup(mount)) == NULL) {
		rc = SB_ERR_ALLOC;
		goto fail;
	}
	if ((rc = watch_socket_path(home, w->sock, sizeof(w->sock))) != SB_OK)
		goto fail;
	if (pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		rc = SB_ERR_SYSTEM;
		goto fail;
	}
	if ((rc = listen_socket(w)) != SB_OK)
		goto fail;
	if ((rc = watch_hook_start(home, hook_timeout_s, &w->hook)) != SB_OK)
		goto fail;
	if ((rc = pthread_create(&w->thread, NULL, serve, w)) != 0) {
		errno = rc;
		rc = SB_ERR_SYSTEM;
		goto fail;
	}
	w->started = 1;
	if ((rc = agent_subscribe(a, on_arrival, w)) != SB_OK)
		goto fail;
	w->subscribed = 1;
	*out = w;
	return SB_OK;
fail:
	watch_stop(w);
	return rc;
}

void
watch_stop(struct watch *w)
{
	size_t i;

	if (w == NULL)
		return;
	if (w->subscribed)
		agent_unsubscribe(w->a, on_arrival, w);
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	for (i = 0; i < w->n; i++) {
		if (w->clients[i].format == 0)
			continue;
		sb_put_bytes(&w->clients[i].out, "!end\n", 5);
		w->clients[i].closing = 1;
	}
	pthread_mutex_unlock(&w->lock);
	if (w->started) {
		wake(w);
		pthread_join(w->thread, NULL);
	}
	if (w->lfd >= 0) {
		close(w->lfd);
		unlink(w->sock);
	}
	watch_hook_stop(w->hook);
	if (w->wake[0] >= 0)
		close(w->wake[0]);
	if (w->wake[1] >= 0)
		close(w->wake[1]);
	pthread_mutex_destroy(&w->lock);
	free(w->home);
	free(w->mount);
	free(w);
}
