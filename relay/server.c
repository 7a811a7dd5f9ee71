/*
 * server.c - `sealbox-relay serve`: the TLS 1.3 listener, sessions, and the
 * request handlers of the directory, the push queues and the blob store
 * (docs/PROTOCOL.md (section 13), docs/RELAY.md).
 *
 * One libevent loop, one thread.  Every connection is a bufferevent_openssl;
 * frames are cut with proto_frame_size and decoded with proto_decode, never
 * by hand.  Memory per connection is bounded: input by the read high
 * watermark (one maximal frame plus slack), output by OUT_HIGH - past it we
 * stop reading from that client and stop generating pushes or blob chunks
 * until the socket drains (flow control; a stalled reader cannot make the
 * relay buffer).  A misbehaving client is closed with one logged reason and
 * touches no other session.
 *
 * The relay never interprets payloads or blob bytes.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "../common/sberr.h"
#include "../crypto/crypto.h"
#include "../proto/proto.h"
#include "../tlog/tlog.h"
#include "metrics.h"
#include "blob.h"
#include "relay.h"
#include "store.h"

/* proto/ carries the log's bytes without knowing tlog/: one set of caps. */
_Static_assert(SB_MAX_STH == TLOG_MAX_STH, "tree head cap");
_Static_assert(SB_MAX_PROOF == TLOG_MAX_PROOF, "proof cap");
_Static_assert(SB_MAX_LOG_ENTRY == TLOG_MAX_ENTRY, "entry cap");
_Static_assert(PROTO_HASH_LEN == TLOG_HASH_LEN && PROTO_LOG_KEY_LEN == TLOG_KEY_LEN,
    "hash and key sizes");

#define OUT_HIGH      (256u * 1024u)   /* stop producing output past this */
#define OUT_LOW       (64u * 1024u)    /* resume below this */
#define IN_HIGH       (SB_MAX_FRAME + SB_MAX_BLOB_CHUNK + 64u)
#define MAX_AUTH_FAILS 3               /* wrong code / signature per connection */
#define FD_RESERVE    16u              /* listener, loop, database, std streams */
#define ACCEPT_PAUSE_MS 200            /* after EMFILE: let descriptors free up */
#define ACCEPT_LOG_S  10               /* at most one accept-failure line per 10 s */

struct server;

struct session {
	struct server *srv;
	struct bufferevent *bev;
	struct event *auth_timer;
	uint64_t conn;                  /* connection number, for logs */
	char peer[64];
	char ip[INET_ADDRSTRLEN];       /* source address, for the per-IP cap */
	int hello_sent;
	uint8_t challenge[PROTO_CHALLENGE_LEN];
	uint8_t exporter[PROTO_EXPORTER_LEN];
	int auth_fails;
	uint64_t device;                /* 0 until authenticated */
	char address[SB_MAX_ADDRESS + 1];
	uint64_t push_cursor;           /* last item id pushed on this connection */
	int queue_more;                 /* the queue may hold items past the cursor */
	uint64_t authed_ms;             /* wall clock at authentication (cluster) */
	int read_paused;
	/* one blob upload at a time; up_err != 0: the upload failed (disk
	 * full) and its remaining BLOB_DATA is read and dropped, then up_err
	 * is the answer */
	struct relay_upload *up;
	int up_err;
	uint32_t up_rid;
	uint64_t up_size, up_left;
	/* one blob download at a time */
	struct relay_download *down;
	uint32_t down_rid;
	uint64_t down_left;
	/* Group commit: the answers held until the group commits, in request
	 * order (held: on srv->held), pushes to produce once it has, and why
	 * the session must close at the end of the turn (a failed write). */
	struct pend *pend, **pend_tail;
	struct session *held_next;
	int held, produce_later;
	const char *doomed;
	struct session *prev, *next;
};

/*
 * One answer held back by the open group (docs/RELAY.md "Group commit"):
 * a SEND's or ACK's success, sent only once the group's commit is on
 * disk, or any frame for the same connection queued after one (answers
 * leave in request order).
 */
enum { PEND_SEND = 1, PEND_ACK, PEND_FRAME };
struct pend {
	struct pend *next;
	int kind;
	uint32_t rid;
	uint64_t v;                      /* SEND: its time; ACK: the item */
	uint8_t msgid[PROTO_MSGID_LEN];  /* SEND: for the log line */
	size_t n;                        /* SEND: recipients; FRAME: bytes */
	uint8_t frame[];                 /* FRAME */
};

struct server {
	struct event_base *base;
	SSL_CTX *ctx;
	struct evconnlistener *listener;
	struct relay_store *store;
	struct relay_blobs *blobs;      /* files, or the store's chunk rows */
	struct relay_config cfg;
	struct relay_serve_opts opts;
	char datadir[PATH_MAX];
	struct session *sessions;
	uint64_t next_conn;
	struct event *sweep_ev, *sigint_ev, *sigterm_ev, *sighup_ev;
	/* A cluster store's news from the other nodes (LISTEN/NOTIFY): the
	 * listening connection's socket, and the timer that reopens it. */
	struct event *news_ev, *news_retry_ev;
	struct sb_buf scratch;          /* reused for outgoing frames */
	struct relay_rates *rates;      /* SEND / LOOKUP token buckets per device */
	struct relay_dirlog *dirlog;    /* the transparency log's key and tree */
	unsigned nofile;                /* the descriptor limit we run with */
	unsigned unauth_cap;            /* max_unauth, bounded by nofile */
	struct event *accept_ev;        /* re-enables accepting after EMFILE */
	/* The certificate served, and the next one while a rotation is
	 * pending (PROTOCOL.md 13.10): announced with PIN_NEXT. */
	uint8_t cur_fp[RELAY_FP_LEN], next_fp[RELAY_FP_LEN];
	int has_next;
	struct relay_counters counters;  /* metrics.h; scraped by --metrics */
	struct evhttp *metrics;
	uint64_t start_time;
	double accept_logged;           /* when the last accept failure was logged */
	uint64_t accept_fails;          /* failures since then */
	/* Group commit: a group is open from the first SEND or ACK of a loop
	 * turn to turn_ev, which libevent runs after every callback already
	 * due in that turn; held lists the sessions with answers waiting for
	 * the commit, kick the devices whose queues it fills. */
	int group_open;
	size_t group_ops;
	struct event *turn_ev;
	struct session *held;
	uint64_t *kick;
	size_t n_kick, cap_kick;
	int turn_work;                  /* produce_later or doomed sessions */
};

/* ---- clock ------------------------------------------------------------- */

/* Real time plus, in tests only, the offset read from test_clock_file. */
static uint64_t
now_of(const struct server *srv)
{
	long long off = 0;
	FILE *f;

	if (srv->opts.test_clock_file != NULL &&
	    (f = fopen(srv->opts.test_clock_file, "re")) != NULL) {
		if (fscanf(f, "%lld", &off) != 1)
			off = 0;
		fclose(f);
	}
	return (uint64_t)((long long)time(NULL) + off);
}

/* Seconds on a clock that never jumps: token buckets. */
static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
retention_s(const struct server *srv)
{
	return (uint64_t)srv->cfg.retention_days * 86400u;
}

/* Items/blobs created before this are past retention. */
static uint64_t
cutoff_of(const struct server *srv)
{
	uint64_t now = now_of(srv), r = retention_s(srv);

	return now > r ? now - r : 0;
}

/* ---- session lifetime ---------------------------------------------------- */

/* Forgets the answers s holds and takes s off srv->held. */
static void
held_drop(struct session *s)
{
	struct session **pp;
	struct pend *p;

	while ((p = s->pend) != NULL) {
		s->pend = p->next;
		free(p);
	}
	s->pend_tail = &s->pend;
	if (!s->held)
		return;
	for (pp = &s->srv->held; *pp != NULL; pp = &(*pp)->held_next)
		if (*pp == s) {
			*pp = s->held_next;
			break;
		}
	s->held = 0;
	s->held_next = NULL;
}

static void
session_close(struct session *s, const char *reason)
{
	struct server *srv = s->srv;

	int ec = relay_close_class_of(reason);

	relay_log("close conn=%llu peer=%s device=%llu reason=%s",
	    (unsigned long long)s->conn, s->peer, (unsigned long long)s->device, reason);
	if (ec >= 0)
		srv->counters.errors[ec]++;
	if (s->device != 0)
		(void)srv->store->ops->device_seen(srv->store, s->device, now_of(srv));
	relay_upload_abort(s->up);
	relay_download_close(s->down);
	/* Its held answers go nowhere; what it sent stays in the group. */
	held_drop(s);
	if (s->auth_timer != NULL)
		event_free(s->auth_timer);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	free(s);
}

static size_t
out_len(struct session *s)
{
	return evbuffer_get_length(bufferevent_get_output(s->bev));
}

/* Appends p to the answers s holds. */
static void
hold(struct session *s, struct pend *p)
{
	p->next = NULL;
	if (s->pend_tail == NULL)
		s->pend_tail = &s->pend;
	*s->pend_tail = p;
	s->pend_tail = &p->next;
	if (!s->held) {
		s->held = 1;
		s->held_next = s->srv->held;
		s->srv->held = s;
	}
}

/* Queues one frame (behind the answers s holds, if any); a failure here
 * is memory exhaustion. */
static int
send_msg(struct session *s, const struct proto_msg *m)
{
	struct sb_buf *b = &s->srv->scratch;
	struct pend *p;
	int rc;

	sb_buf_truncate(b, 0);
	b->err = SB_OK;
	if ((rc = proto_encode(m, b)) != SB_OK)
		return rc;
	if (s->pend == NULL)
		return bufferevent_write(s->bev, b->d, b->len) == 0 ? SB_OK : SB_ERR_ALLOC;
	if ((p = calloc(1, sizeof(*p) + b->len)) == NULL)
		return SB_ERR_ALLOC;
	p->kind = PEND_FRAME;
	p->n = b->len;
	memcpy(p->frame, b->d, b->len);
	hold(s, p);
	return SB_OK;
}

static int
send_ok(struct session *s, uint32_t rid, uint64_t v)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_OK;
	m.rid = rid;
	m.u64 = v;
	return send_msg(s, &m);
}

static int
send_err(struct session *s, uint32_t rid, int err, const char *text)
{
	struct proto_msg m;

	s->srv->counters.errors[relay_err_class_of(err)]++;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_ERROR;
	m.rid = rid;
	m.err = err < 0 ? err : SB_ERR_INTERNAL;
	m.text.p = (const uint8_t *)(text != NULL ? text : sb_strerror(err));
	m.text.len = strlen((const char *)m.text.p);
	if (m.text.len > SB_MAX_ERRMSG)
		m.text.len = SB_MAX_ERRMSG;
	return send_msg(s, &m);
}

/* PIN_NEXT (PROTOCOL.md 13.10), when a next certificate is pending. */
static int
send_pin_next(struct session *s)
{
	struct proto_msg m;

	if (!s->srv->has_next)
		return SB_OK;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_PIN_NEXT;
	memcpy(m.fingerprint, s->srv->next_fp, PROTO_FP_LEN);
	return send_msg(s, &m);
}

/* Returns 0, or (rc failed: memory exhausted) closes s and returns -1. */
static int
reply(struct session *s, int rc)
{
	if (rc == SB_OK)
		return 0;
	session_close(s, "cannot queue a reply");
	return -1;
}

static struct session *
session_of_device(struct server *srv, uint64_t device, struct session *except)
{
	struct session *s;

	for (s = srv->sessions; s != NULL; s = s->next)
		if (s->device == device && s != except)
			return s;
	return NULL;
}

/* ---- pushes and blob downloads: produce while the socket keeps up -------- */

static int
pump_pushes(struct session *s)
{
	struct server *srv = s->srv;
	struct relay_item it;
	struct proto_msg m;
	int rc;

	/* Once the queue is found empty, it is not read again (each time the
	 * socket drains) until a commit or the cluster's news adds to it. */
	while (s->device != 0 && s->queue_more && out_len(s) < OUT_HIGH) {
		rc = srv->store->ops->queue_next(srv->store, s->device, s->push_cursor,
		    cutoff_of(srv), &it);
		if (rc == SB_ERR_NOT_FOUND) {
			s->queue_more = 0;
			return SB_OK;
		}
		if (rc != SB_OK)
			return rc;
		memset(&m, 0, sizeof(m));
		m.type = PROTO_PUSH;
		m.item_id = it.id;
		memcpy(m.msgid, it.msgid, PROTO_MSGID_LEN);
		m.address.p = (const uint8_t *)it.sender;
		m.address.len = strlen(it.sender);
		m.sender_device = it.sender_device;
		m.timestamp = it.timestamp;
		m.data.p = it.payload;
		m.data.len = it.payload_len;
		rc = send_msg(s, &m);
		if (rc == SB_OK) {
			char h[17];

			sb_hex(it.msgid, 8, h);
			relay_log("push conn=%llu device=%llu item=%llu msg=%s",
			    (unsigned long long)s->conn, (unsigned long long)s->device,
			    (unsigned long long)it.id, h);
			s->push_cursor = it.id;
			srv->counters.pushed++;
		}
		relay_item_clear(&it);
		if (rc != SB_OK)
			return rc;
	}
	return SB_OK;
}

static int
pump_download(struct session *s)
{
	uint8_t chunk[SB_MAX_BLOB_CHUNK];
	struct sb_buf *b = &s->srv->scratch;
	size_t n;
	int rc;

	while (s->down != NULL && out_len(s) < OUT_HIGH) {
		if ((rc = relay_download_read(s->down, chunk, sizeof(chunk), &n)) != SB_OK)
			return rc;   /* the blob shrank or expired under us */
		/* never more than announced (a damaged, longer blob) */
		if (n > s->down_left)
			n = (size_t)s->down_left;
		sb_buf_truncate(b, 0);
		b->err = SB_OK;
		if ((rc = proto_encode_blob_data(s->down_rid, chunk, n, b)) != SB_OK)
			return rc;
		if (bufferevent_write(s->bev, b->d, b->len) != 0)
			return SB_ERR_ALLOC;
		s->down_left -= (uint64_t)n;
		if (s->down_left == 0) {
			relay_log("blob sent conn=%llu device=%llu",
			    (unsigned long long)s->conn, (unsigned long long)s->device);
			relay_download_close(s->down);
			s->down = NULL;
		}
	}
	return SB_OK;
}

/* Returns 0, or -1 when the session was closed.  While a group is open
 * its reads would see rows not yet committed: the session produces at the
 * end of the turn instead, after the commit (turn_cb). */
static int
produce(struct session *s)
{
	if (s->srv->group_open) {
		s->produce_later = 1;
		s->srv->turn_work = 1;
		return 0;
	}
	if (pump_download(s) != SB_OK) {
		session_close(s, "blob read failed");
		return -1;
	}
	if (pump_pushes(s) != SB_OK) {
		session_close(s, "queue read failed");
		return -1;
	}
	return 0;
}

/* After a commit: wake the recipient's connection, if it has one. */
static void
kick_device(struct server *srv, uint64_t device)
{
	struct session *s = session_of_device(srv, device, NULL);

	if (s != NULL)
		s->queue_more = 1;
	if (s != NULL && !s->read_paused)
		produce(s);
	/* A paused session resumes producing from its write callback. */
}

/* ---- group commit (docs/RELAY.md "Group commit") ------------------------- */

/*
 * Every SEND and ACK of one turn of the loop joins one store group: its
 * rows are written at once, in a savepoint each, and its answer is held
 * (struct pend).  turn_ev, made active when the group opens, runs after
 * every callback libevent already had due in this turn (read callbacks of
 * many connections, each with several frames): it commits the group -
 * ONE transaction, one fsync - and only then sends the held answers and
 * pushes what was queued.  Any other request first ends the open group
 * (group_flush), so what it reads or answers comes after, as before.
 * Nothing here waits on a timer: the group ends when the turn does.
 */
static int
group_join(struct server *srv)
{
	struct relay_store *st = srv->store;
	int rc;

	if (srv->group_open || st->ops->group_begin == NULL)
		return SB_OK;
	if ((rc = st->ops->group_begin(st)) != SB_OK)
		return rc;
	srv->group_open = 1;
	event_active(srv->turn_ev, EV_TIMEOUT, 0);
	return SB_OK;
}

/* A held answer goes out: rc is the group's commit. */
static int
held_emit(struct session *s, const struct pend *p, int rc)
{
	char h[17];

	if (p->kind == PEND_FRAME)
		return bufferevent_write(s->bev, p->frame, p->n) == 0 ? SB_OK : SB_ERR_ALLOC;
	if (p->kind == PEND_SEND) {
		sb_hex(p->msgid, 8, h);
		if (rc != SB_OK) {
			relay_log("send refused conn=%llu device=%llu msg=%s: %s",
			    (unsigned long long)s->conn, (unsigned long long)s->device, h,
			    sb_strerror(rc));
			return send_err(s, p->rid, rc, NULL);
		}
		/* Durable now (the group's commit returned): only then "accepted". */
		relay_log("send accepted conn=%llu device=%llu msg=%s devices=%zu",
		    (unsigned long long)s->conn, (unsigned long long)s->device, h, p->n);
		s->srv->counters.accepted++;
		return send_ok(s, p->rid, p->v);
	}
	relay_log("ack conn=%llu device=%llu item=%llu: %s", (unsigned long long)s->conn,
	    (unsigned long long)s->device, (unsigned long long)p->v,
	    rc == SB_OK ? "deleted" : sb_strerror(rc));
	if (rc != SB_OK)
		return send_err(s, p->rid, rc, NULL);
	s->srv->counters.acked++;
	return send_ok(s, p->rid, p->v);
}

/*
 * Ends the open group: one commit, then every held answer in request
 * order (success for what the commit made durable, the commit's error
 * otherwise), and the recipients of what it queued are marked to push.
 * Never closes a session - it may run inside a handler - a failed write
 * dooms the session, closed by turn_cb.
 */
static void
group_flush(struct server *srv)
{
	struct relay_store *st = srv->store;
	struct session *s, *next;
	struct pend *p, *pn;
	int rc = SB_OK;
	size_t i;

	if (srv->group_open) {
		srv->group_open = 0;
		rc = st->ops->group_end(st, 1);
		if (rc != SB_OK)
			relay_log("commit failed ops=%zu: %s", srv->group_ops, sb_strerror(rc));
		/* A group whose ops all failed (an ACK of an item already gone)
		 * wrote nothing: no fsync, not counted. */
		if (rc == SB_OK && srv->group_ops > 0) {
			srv->counters.commits++;
			srv->counters.committed_ops += srv->group_ops;
			if (srv->group_ops > srv->counters.commit_ops_max)
				srv->counters.commit_ops_max = srv->group_ops;
		}
		srv->group_ops = 0;
	}
	for (s = srv->held; s != NULL; s = next) {
		next = s->held_next;
		s->held = 0;
		s->held_next = NULL;
		p = s->pend;
		s->pend = NULL;
		s->pend_tail = &s->pend;
		for (; p != NULL; p = pn) {
			pn = p->next;
			if (s->doomed == NULL && held_emit(s, p, rc) != SB_OK) {
				s->doomed = "cannot queue a reply";
				srv->turn_work = 1;
			}
			free(p);
		}
	}
	srv->held = NULL;
	for (i = 0; rc == SB_OK && i < srv->n_kick; i++)
		if ((s = session_of_device(srv, srv->kick[i], NULL)) != NULL) {
			s->queue_more = 1;
			s->produce_later = 1;
			srv->turn_work = 1;
		}
	srv->n_kick = 0;
	if (srv->turn_work)
		event_active(srv->turn_ev, EV_TIMEOUT, 0);
}

/* Holds the answer of a SEND or ACK that joined the group; -1: s closed
 * (out of memory: its op commits unanswered, as if the connection had
 * dropped, and a retry is safe). */
static int
hold_op(struct session *s, int kind, uint32_t rid, uint64_t v,
    const uint8_t *msgid, const struct proto_item *items, size_t n)
{
	struct server *srv = s->srv;
	struct pend *p = calloc(1, sizeof(*p));
	size_t i;

	if (p != NULL && srv->n_kick + n > srv->cap_kick) {
		size_t cap = (srv->n_kick + n) * 2;
		uint64_t *k = realloc(srv->kick, cap * sizeof(*k));

		if (k == NULL) {
			free(p);
			p = NULL;
		} else {
			srv->kick = k;
			srv->cap_kick = cap;
		}
	}
	if (p == NULL) {
		session_close(s, "out of memory");
		return -1;
	}
	p->kind = kind;
	p->rid = rid;
	p->v = v;
	p->n = n;
	if (msgid != NULL)
		memcpy(p->msgid, msgid, PROTO_MSGID_LEN);
	for (i = 0; i < n; i++)
		srv->kick[srv->n_kick++] = items[i].device_id;
	hold(s, p);
	srv->group_ops++;
	/* With no group (a store without one) the op is durable already;
	 * its answer still leaves at the end of the turn, in order. */
	event_active(srv->turn_ev, EV_TIMEOUT, 0);
	return 0;
}

/* The end of a turn: commit, answer, then push and close what waits. */
static void
turn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct session *s, *next;

	(void)fd;
	(void)what;
	group_flush(srv);
	if (srv->turn_work) {
		srv->turn_work = 0;
		for (s = srv->sessions; s != NULL; s = next) {
			next = s->next;
			if (s->doomed != NULL) {
				session_close(s, s->doomed);
			} else if (s->produce_later) {
				s->produce_later = 0;
				if (!s->read_paused)
					produce(s);
			}
		}
	}
	/* The turn's log lines, in one write, before its answers and pushes
	 * leave (the sockets are written on the next turn). */
	relay_log_flush();
}

/* A log line is held (relay_log_hold): the end of the turn writes it. */
static void
log_held(void *arg)
{
	struct server *srv = arg;

	event_active(srv->turn_ev, EV_TIMEOUT, 0);
}

/* ---- handlers ------------------------------------------------------------ */

/* Copies a validated address into a C string. */
static int
addr_cstr(const struct proto_bytes *b, char out[SB_MAX_ADDRESS + 1])
{
	if (proto_address_valid(b->p, b->len) != SB_OK)
		return SB_ERR_INVALID_ARG;
	memcpy(out, b->p, b->len);
	out[b->len] = '\0';
	return SB_OK;
}

static int
name_cstr(const struct proto_bytes *b, char out[SB_MAX_DEVICE_NAME + 1])
{
	if (proto_device_name_valid(b->p, b->len) != SB_OK)
		return SB_ERR_INVALID_ARG;
	memcpy(out, b->p, b->len);
	out[b->len] = '\0';
	return SB_OK;
}

/* Verifies sig over transcript with identity; parses the identity. */
static int
verify_with(const uint8_t *idb, size_t idlen, int want_suite,
    const struct sb_buf *transcript, const struct proto_bytes *sig)
{
	struct crypto_identity *id = NULL;
	int rc;

	if ((rc = crypto_identity_parse(idb, idlen, &id)) != SB_OK)
		return rc;
	if (want_suite != 0 && (int)crypto_identity_suite(id) != want_suite)
		rc = SB_ERR_KEY_TYPE;
	else
		rc = crypto_verify(id, transcript->d, transcript->len, sig->p, sig->len);
	crypto_identity_free(id);
	return rc;
}

/* Counts a failed auth/register; closes after MAX_AUTH_FAILS.  -1 = closed. */
static int
auth_failed(struct session *s, uint32_t rid, int err, const char *what)
{
	relay_log("%s refused conn=%llu peer=%s: %s", what,
	    (unsigned long long)s->conn, s->peer, sb_strerror(err));
	if (reply(s, send_err(s, rid, err, NULL)) != 0)
		return -1;
	if (++s->auth_fails >= MAX_AUTH_FAILS) {
		session_close(s, "too many failed authentication attempts");
		return -1;
	}
	return 0;
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
become(struct session *s, const struct relay_device *d)
{
	struct relay_store *st = s->srv->store;
	struct session *old;

	/* One live connection per device (as APNs): the newer one wins, on
	 * this node and, through the cluster's news, on the others. */
	while ((old = session_of_device(s->srv, d->id, s)) != NULL)
		session_close(old, "replaced by a newer connection of the same device");
	s->device = d->id;
	s->authed_ms = wall_ms();
	if (st->ops->announce != NULL &&
	    st->ops->announce(st, RELAY_EV_CONNECTED, d->id, s->authed_ms) != SB_OK)
		relay_log("cannot tell the other nodes of device %llu's connection",
		    (unsigned long long)d->id);
	memcpy(s->address, d->address, sizeof(s->address));
	s->push_cursor = 0;
	s->queue_more = 1;
	if (s->auth_timer != NULL) {
		event_free(s->auth_timer);
		s->auth_timer = NULL;
	}
}

static int
h_register(struct session *s, const struct proto_msg *m)
{
	struct server *srv = s->srv;
	struct sb_buf tr = SB_BUF_INIT;
	struct relay_device d;
	uint8_t hash[RELAY_CODE_HASH_LEN];
	uint64_t now = now_of(srv), id = 0;
	int rc;

	memset(&d, 0, sizeof(d));
	if (s->device != 0)
		return reply(s, send_err(s, m->rid, SB_ERR_PROTOCOL, "already authenticated"));
	if (addr_cstr(&m->address, d.address) != SB_OK ||
	    (m->suite != CRYPTO_SUITE_PAIR && m->suite != CRYPTO_SUITE_EC))
		return reply(s, send_err(s, m->rid, SB_ERR_INVALID_ARG, "bad address or suite"));
	/* The name is shown on other accounts' screens: no bidi overrides,
	 * invisible or control characters, no invalid UTF-8 (issue 12, 8). */
	if (name_cstr(&m->name, d.name) != SB_OK) {
		relay_log("register refused conn=%llu peer=%s: bad device name",
		    (unsigned long long)s->conn, s->peer);
		return reply(s, send_err(s, m->rid, SB_ERR_INVALID_ARG, "device name must be 1..64"
		    " bytes of UTF-8 without control or invisible format characters"));
	}
	proto_register_transcript(s->exporter, s->challenge, m->address.p, m->address.len,
	    m->identity.p, m->identity.len, &tr);
	rc = tr.err != SB_OK ? tr.err :
	    verify_with(m->identity.p, m->identity.len, m->suite, &tr, &m->sig);
	sb_buf_free(&tr);
	if (rc != SB_OK)
		return auth_failed(s, m->rid, rc == SB_ERR_SIGNATURE ? SB_ERR_AUTH : rc, "register");
	if (EVP_Digest(m->code.p, m->code.len, hash, NULL, EVP_sha256(), NULL) != 1)
		return reply(s, send_err(s, m->rid, SB_ERR_CRYPTO, NULL));
	rc = srv->store->ops->enroll(srv->store, d.address, hash,
	    now > RELAY_INVITE_TTL ? now - RELAY_INVITE_TTL : 0, d.name, m->suite,
	    m->identity.p, m->identity.len, now, &id);
	if (rc == SB_ERR_ENROLL_CODE)
		return auth_failed(s, m->rid, rc, "register");
	if (rc != SB_OK)
		return reply(s, send_err(s, m->rid, rc, NULL));
	d.id = id;
	become(s, &d);
	relay_log("register conn=%llu device=%llu address=%s name=\"%s\" suite=%u",
	    (unsigned long long)s->conn, (unsigned long long)id, d.address, d.name, m->suite);
	if (reply(s, send_ok(s, m->rid, id)) != 0)
		return -1;
	return reply(s, send_pin_next(s));
}

static int
h_auth(struct session *s, const struct proto_msg *m)
{
	struct server *srv = s->srv;
	struct sb_buf tr = SB_BUF_INIT;
	struct relay_device d;
	int rc;

	if (s->device != 0)
		return reply(s, send_err(s, m->rid, SB_ERR_PROTOCOL, "already authenticated"));
	rc = srv->store->ops->device_get(srv->store, m->u64, &d);
	if (rc == SB_OK) {
		proto_auth_transcript(s->exporter, s->challenge, m->u64, &tr);
		rc = tr.err != SB_OK ? tr.err :
		    verify_with(d.identity, d.identity_len, 0, &tr, &m->sig);
		sb_buf_free(&tr);
	}
	if (rc != SB_OK) {
		/* Unknown device and bad signature look the same to the peer. */
		return auth_failed(s, m->rid, rc == SB_ERR_STORAGE ? rc : SB_ERR_AUTH, "auth");
	}
	become(s, &d);
	(void)srv->store->ops->device_seen(srv->store, d.id, now_of(srv));
	relay_log("auth conn=%llu device=%llu address=%s", (unsigned long long)s->conn,
	    (unsigned long long)d.id, d.address);
	if (reply(s, send_ok(s, m->rid, d.id)) != 0 || reply(s, send_pin_next(s)) != 0)
		return -1;
	return produce(s);   /* the backlog, oldest first */
}

/* Takes cost tokens of kind for the session's device; on a refusal
 * answers RATE_LIMIT (the connection stays: a refusal, not a disconnect)
 * and returns 1.  -1: the session is gone. */
static int
rate_refused(struct session *s, const struct proto_msg *m, int kind, double cost)
{
	const struct relay_config *c = &s->srv->cfg;
	double rate = kind == RELAY_RATE_SEND ? c->send_rate : c->lookup_rate;
	double burst = kind == RELAY_RATE_SEND ? c->send_burst : c->lookup_burst;
	int rc;

	rc = relay_rate_take(s->srv->rates, s->device, kind, cost, rate, burst, mono_now());
	if (rc == SB_OK)
		return 0;
	/* Not logged per refusal: a flood would turn into a log flood. */
	if (reply(s, send_err(s, m->rid, rc, rc == SB_ERR_RATE_LIMIT ?
	    (kind == RELAY_RATE_SEND ? "too many sends: slow down" :
	    "too many lookups: slow down") : NULL)) != 0)
		return -1;
	return 1;
}

static int
h_lookup(struct session *s, const struct proto_msg *m)
{
	struct server *srv = s->srv;
	struct proto_msg r;
	struct relay_device *devs[SB_MAX_LOOKUP_ADDRS];
	char addr[SB_MAX_ADDRESS + 1];
	size_t i, j, n;
	int rc = SB_OK;

	/* Counted per address: 32 in one request cost 32 (enumeration). */
	if ((rc = rate_refused(s, m, RELAY_RATE_LOOKUP, (double)m->n_addrs)) != 0)
		return rc > 0 ? 0 : -1;
	memset(&r, 0, sizeof(r));
	memset(devs, 0, sizeof(devs));
	r.type = PROTO_LOOKUP_RESULT;
	r.rid = m->rid;
	r.results = calloc(m->n_addrs, sizeof(*r.results));
	if (r.results == NULL)
		return -1;
	r.n_results = m->n_addrs;
	for (i = 0; rc == SB_OK && i < m->n_addrs; i++) {
		struct proto_addr_devices *a = &r.results[i];

		if ((rc = addr_cstr(&m->addrs[i], addr)) != SB_OK)
			break;
		rc = srv->store->ops->devices_of(srv->store, addr, &devs[i], &n);
		a->address = m->addrs[i];
		a->n_devices = n;
		a->devices = n ? calloc(n, sizeof(*a->devices)) : NULL;
		if (n && a->devices == NULL)
			rc = SB_ERR_ALLOC;
		for (j = 0; rc == SB_OK && j < n; j++) {
			a->devices[j].id = devs[i][j].id;
			/* A sender needs ids and identities, not what another
			 * account calls its devices ("Bob's work laptop"): the
			 * name goes only to the account's own devices. */
			a->devices[j].name.p = (const uint8_t *)devs[i][j].name;
			a->devices[j].name.len = strcmp(addr, s->address) == 0 ?
			    strlen(devs[i][j].name) : 0;
			a->devices[j].identity.p = devs[i][j].identity;
			a->devices[j].identity.len = devs[i][j].identity_len;
		}
	}
	rc = rc == SB_OK ? send_msg(s, &r) : send_err(s, m->rid, rc, NULL);
	for (i = 0; i < m->n_addrs; i++)
		free(devs[i]);
	proto_msg_clear(&r);
	return reply(s, rc);
}

/*
 * REMOVE and REMOVE_SIGNED (PROTOCOL 13.6, 14.7).  A signed removal's
 * signature is the session device's over the target's id and identity;
 * an unsigned one is logged as the relay's word (signer 0).
 */
static int
h_remove(struct session *s, const struct proto_msg *m)
{
	struct server *srv = s->srv;
	struct relay_log_signer by = { 0, NULL, 0 };
	struct relay_device d, me;
	struct crypto_identity *target = NULL;
	struct sb_buf text = SB_BUF_INIT;
	uint8_t addr[TLOG_HASH_LEN];
	struct session *other;
	int rc;

	rc = srv->store->ops->device_get(srv->store, m->u64, &d);
	/* Same answer for "no such device" and "not yours": no probing. */
	if (rc == SB_ERR_NOT_FOUND || (rc == SB_OK && strcmp(d.address, s->address) != 0)) {
		relay_log("remove refused conn=%llu device=%llu target=%llu",
		    (unsigned long long)s->conn, (unsigned long long)s->device,
		    (unsigned long long)m->u64);
		return reply(s, send_err(s, m->rid, SB_ERR_PERMISSION, NULL));
	}
	if (rc == SB_OK && m->type == PROTO_REMOVE_SIGNED) {
		by.signer = s->device;
		by.sig = m->sig.p;
		by.sig_len = m->sig.len;
		rc = srv->store->ops->device_get(srv->store, s->device, &me);
		if (rc == SB_OK)
			rc = crypto_identity_parse(d.identity, d.identity_len, &target);
		if (rc == SB_OK)
			rc = tlog_addr_hash(s->address, strlen(s->address), addr);
		if (rc == SB_OK)
			rc = tlog_remove_text(addr, d.id, crypto_identity_hash(target), &text);
		if (rc == SB_OK)
			rc = verify_with(me.identity, me.identity_len, 0, &text, &m->sig);
		crypto_identity_free(target);
		sb_buf_free(&text);
		if (rc == SB_ERR_SIGNATURE)
			relay_log("remove refused conn=%llu device=%llu target=%llu: bad signature",
			    (unsigned long long)s->conn, (unsigned long long)s->device,
			    (unsigned long long)d.id);
	}
	if (rc == SB_OK)
		rc = srv->store->ops->device_remove(srv->store, d.id, &by, now_of(srv));
	if (rc != SB_OK)
		return reply(s, send_err(s, m->rid, rc, NULL));
	relay_log("remove conn=%llu device=%llu removed=%llu address=%s%s",
	    (unsigned long long)s->conn, (unsigned long long)s->device,
	    (unsigned long long)d.id, d.address, by.signer ? " signed" : "");
	if ((other = session_of_device(srv, d.id, s)) != NULL)
		session_close(other, "device removed");
	if (srv->store->ops->announce != NULL)
		(void)srv->store->ops->announce(srv->store, RELAY_EV_REMOVED, d.id, 0);
	if (d.id == s->device)
		s->device = 0;   /* the session may not act for a removed device */
	return reply(s, send_ok(s, m->rid, d.id));
}

static int
id_in(uint64_t id, const uint64_t *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == id)
			return 1;
	return 0;
}

/* The set the relay expects: every device of each recipient address and
 * the sender's own other devices.  NOT_FOUND names an unknown address. */
static int
expected_set(struct session *s, const struct proto_msg *m, uint64_t *exp,
    size_t *n_exp, char *bad, size_t badcap)
{
	struct relay_store *st = s->srv->store;
	struct relay_device *devs;
	char addr[SB_MAX_ADDRESS + 1];
	size_t i, j, n;
	int rc;

	*n_exp = 0;
	for (i = 0; i <= m->n_addrs; i++) {
		if (i < m->n_addrs) {
			if (addr_cstr(&m->addrs[i], addr) != SB_OK)
				return SB_ERR_INVALID_ARG;
		} else {
			memcpy(addr, s->address, sizeof(addr));
		}
		if ((rc = st->ops->devices_of(st, addr, &devs, &n)) != SB_OK)
			return rc;
		if (n == 0 && i < m->n_addrs) {
			snprintf(bad, badcap, "unknown recipient %s", addr);
			return SB_ERR_NOT_FOUND;
		}
		for (j = 0; j < n; j++)
			if (devs[j].id != s->device && !id_in(devs[j].id, exp, *n_exp) &&
			    *n_exp < SB_MAX_STALE_IDS)
				exp[(*n_exp)++] = devs[j].id;
		free(devs);
	}
	return SB_OK;
}

static int
send_stale(struct session *s, const struct proto_msg *m, const uint64_t *exp, size_t n_exp)
{
	uint64_t miss[SB_MAX_STALE_IDS], extra[SB_MAX_BATCH_DEVICES];
	struct proto_msg r;
	size_t i, nm = 0, ne = 0;
	char h[17];

	for (i = 0; i < n_exp; i++) {
		size_t j;
		int found = 0;

		for (j = 0; j < m->n_items; j++)
			found |= m->items[j].device_id == exp[i];
		if (!found)
			miss[nm++] = exp[i];
	}
	for (i = 0; i < m->n_items; i++)
		if (!id_in(m->items[i].device_id, exp, n_exp))
			extra[ne++] = m->items[i].device_id;
	if (nm == 0 && ne == 0)
		return 1;   /* sets agree */
	memset(&r, 0, sizeof(r));
	r.type = PROTO_STALE;
	r.rid = m->rid;
	r.missing = miss;
	r.n_missing = nm;
	r.extra = extra;
	r.n_extra = ne;
	sb_hex(m->msgid, 8, h);
	s->srv->counters.errors[RELAY_EC_STALE]++;
	relay_log("send stale conn=%llu device=%llu msg=%s missing=%zu extra=%zu",
	    (unsigned long long)s->conn, (unsigned long long)s->device, h, nm, ne);
	return reply(s, send_msg(s, &r));
}

/*
 * Quotas (issue 12, finding 6): the SENDING account is charged for what
 * its devices put into queues and is not yet acknowledged or expired, so a
 * flooding account exhausts its own quota, not the relay's disk; a
 * recipient device's queue has its own cap (above one account's), so
 * flooding one recipient takes several accounts.  SB_ERR_QUOTA with the
 * reason in why.  The check and the commit run on the one loop thread, so
 * no other send slips in between.
 */
static int
send_quota(struct session *s, const struct proto_msg *m, char *why, size_t cap)
{
	struct server *srv = s->srv;
	struct relay_store *st = srv->store;
	uint64_t items, bytes, blobs, add = 0, n;
	size_t i;
	int rc;

	for (i = 0; i < m->n_items; i++)
		add += m->items[i].payload.len;
	/* A batch that could never fit is final (TOO_BIG), not "wait". */
	if (m->n_items > srv->cfg.quota_queue_items || add > srv->cfg.quota_queue_bytes) {
		snprintf(why, cap, "message larger than the sender's relay quota");
		return SB_ERR_TOO_BIG;
	}
	if ((rc = st->ops->usage(st, s->address, &items, &bytes, &blobs)) != SB_OK)
		return rc;
	/* No overflow: stored counts and the quotas are below 2^62. */
	if (items + m->n_items > srv->cfg.quota_queue_items ||
	    bytes + add > srv->cfg.quota_queue_bytes) {
		snprintf(why, cap, "sender's relay quota exceeded (%llu items, %llu bytes"
		    " undelivered)", (unsigned long long)items, (unsigned long long)bytes);
		return SB_ERR_QUOTA;
	}
	for (i = 0; i < m->n_items; i++) {
		if ((rc = st->ops->queue_count(st, m->items[i].device_id, &n)) != SB_OK)
			return rc;
		if (n >= srv->cfg.device_queue_items) {
			snprintf(why, cap, "recipient device %llu's relay queue is full",
			    (unsigned long long)m->items[i].device_id);
			return SB_ERR_QUOTA;
		}
	}
	return SB_OK;
}

static int
h_send(struct session *s, const struct proto_msg *m)
{
	struct server *srv = s->srv;
	uint64_t exp[SB_MAX_STALE_IDS], now;
	struct relay_batch_entry e[SB_MAX_BATCH_DEVICES];
	size_t i, j, n_exp = 0;
	char bad[SB_MAX_ADDRESS + 40] = "", h[17];
	int rc;

	if ((rc = rate_refused(s, m, RELAY_RATE_SEND, 1)) != 0)
		return rc > 0 ? 0 : -1;
	sb_hex(m->msgid, 8, h);
	for (i = 0; i < m->n_items; i++) {
		if (m->items[i].payload.len > srv->cfg.inline_limit) {
			relay_log("send refused conn=%llu device=%llu msg=%s: payload %zu > inline limit %u",
			    (unsigned long long)s->conn, (unsigned long long)s->device, h,
			    m->items[i].payload.len, srv->cfg.inline_limit);
			return reply(s, send_err(s, m->rid, SB_ERR_TOO_BIG,
			    "payload over the relay's inline limit"));
		}
		for (j = 0; j < i; j++)
			if (m->items[j].device_id == m->items[i].device_id)
				return reply(s, send_err(s, m->rid, SB_ERR_INVALID_ARG,
				    "device listed twice"));
	}
	rc = expected_set(s, m, exp, &n_exp, bad, sizeof(bad));
	if (rc != SB_OK) {
		relay_log("send refused conn=%llu device=%llu msg=%s: %s",
		    (unsigned long long)s->conn, (unsigned long long)s->device, h,
		    bad[0] ? bad : sb_strerror(rc));
		return reply(s, send_err(s, m->rid, rc, bad[0] ? bad : NULL));
	}
	if ((rc = send_stale(s, m, exp, n_exp)) != 1)
		return rc;
	if ((rc = send_quota(s, m, bad, sizeof(bad))) != SB_OK) {
		relay_log("send refused conn=%llu device=%llu msg=%s: %s",
		    (unsigned long long)s->conn, (unsigned long long)s->device, h,
		    bad[0] ? bad : sb_strerror(rc));
		return reply(s, send_err(s, m->rid, rc, bad[0] ? bad : NULL));
	}
	for (i = 0; i < m->n_items; i++) {
		e[i].device_id = m->items[i].device_id;
		e[i].payload = m->items[i].payload.p;
		e[i].payload_len = m->items[i].payload.len;
	}
	now = now_of(srv);
	if ((rc = group_join(srv)) == SB_OK)
		rc = srv->store->ops->batch_commit(srv->store, m->msgid, s->address,
		    s->device, now, e, m->n_items);
	if (rc != SB_OK) {
		relay_log("send refused conn=%llu device=%llu msg=%s: %s",
		    (unsigned long long)s->conn, (unsigned long long)s->device, h, sb_strerror(rc));
		return reply(s, send_err(s, m->rid, rc, NULL));
	}
	/* In the group, not durable yet: "accepted" (and the pushes) once
	 * the group has committed, at the end of this turn (group_flush). */
	return hold_op(s, PEND_SEND, m->rid, now, m->msgid, m->items, m->n_items);
}

static int
h_ack(struct session *s, const struct proto_msg *m)
{
	struct relay_store *st = s->srv->store;
	int rc = group_join(s->srv);

	if (rc == SB_OK)
		rc = st->ops->queue_ack(st, s->device, m->u64);
	if (rc != SB_OK) {
		relay_log("ack conn=%llu device=%llu item=%llu: %s", (unsigned long long)s->conn,
		    (unsigned long long)s->device, (unsigned long long)m->u64, sb_strerror(rc));
		return reply(s, send_err(s, m->rid, rc, NULL));
	}
	/* Deleted in the group: answered once the group has committed. */
	return hold_op(s, PEND_ACK, m->rid, m->u64, NULL, NULL, 0);
}

static int
h_status(struct session *s, const struct proto_msg *m)
{
	struct relay_store *st = s->srv->store;
	struct proto_msg r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.type = PROTO_STATUS_RESULT;
	r.rid = m->rid;
	rc = st->ops->status(st, s->device, m->msgid, &r.status, &r.n_status);
	if (rc != SB_OK)
		return reply(s, send_err(s, m->rid, rc, NULL));
	rc = send_msg(s, &r);
	proto_msg_clear(&r);
	return reply(s, rc);
}

/* SB_ERR_QUOTA if the account's stored blobs plus size pass its quota;
 * SB_ERR_TOO_BIG if size alone does (waiting would never help). */
static int
blob_quota(struct session *s, uint64_t size)
{
	struct relay_store *st = s->srv->store;
	uint64_t items, bytes, blobs;
	int rc;

	if (size > s->srv->cfg.quota_blob_bytes)
		return SB_ERR_TOO_BIG;
	if ((rc = st->ops->usage(st, s->address, &items, &bytes, &blobs)) != SB_OK)
		return rc;
	return blobs + size > s->srv->cfg.quota_blob_bytes ? SB_ERR_QUOTA : SB_OK;
}

static int
h_blob_put(struct session *s, const struct proto_msg *m)
{
	struct server *srv = s->srv;
	int rc;

	if (m->u64 == 0) {
		/* Size 0 asks for the cap (PROTOCOL.md 13.6): the largest blob
		 * this device may upload at all, so a client refuses a write
		 * past it at once instead of after encrypting it all. */
		uint64_t cap = srv->cfg.blob_max < srv->cfg.quota_blob_bytes ?
		    srv->cfg.blob_max : srv->cfg.quota_blob_bytes;
		return reply(s, send_ok(s, m->rid, cap));
	}
	if (s->up != NULL || s->up_err != 0)
		return reply(s, send_err(s, m->rid, SB_ERR_PROTOCOL, "an upload is already running"));
	if (m->u64 > srv->cfg.blob_max) {
		relay_log("blob refused conn=%llu device=%llu size=%llu max=%llu",
		    (unsigned long long)s->conn, (unsigned long long)s->device,
		    (unsigned long long)m->u64, (unsigned long long)srv->cfg.blob_max);
		return reply(s, send_err(s, m->rid, SB_ERR_TOO_BIG, "blob over the relay's size cap"));
	}
	if ((rc = blob_quota(s, m->u64)) != SB_OK) {
		relay_log("blob refused conn=%llu device=%llu size=%llu: %s",
		    (unsigned long long)s->conn, (unsigned long long)s->device,
		    (unsigned long long)m->u64, rc == SB_ERR_QUOTA ?
		    "account over its blob quota" : rc == SB_ERR_TOO_BIG ?
		    "larger than the account's blob quota" : sb_strerror(rc));
		return reply(s, send_err(s, m->rid, rc, rc == SB_ERR_QUOTA ?
		    "sender's relay blob quota exceeded" : rc == SB_ERR_TOO_BIG ?
		    "blob larger than the sender's relay blob quota" : NULL));
	}
	if (relay_blobs_room(srv->blobs, m->u64) != SB_OK) {
		relay_log("blob refused conn=%llu device=%llu size=%llu: out of disk space",
		    (unsigned long long)s->conn, (unsigned long long)s->device,
		    (unsigned long long)m->u64);
		return reply(s, send_err(s, m->rid, SB_ERR_NO_SPACE, NULL));
	}
	rc = relay_upload_begin(srv->blobs, s->device, m->u64, now_of(srv), &s->up);
	if (rc != SB_OK)
		return reply(s, send_err(s, m->rid, rc, rc == SB_ERR_SYSTEM ? strerror(errno) : NULL));
	s->up_rid = m->rid;
	s->up_size = s->up_left = m->u64;
	relay_log("blob upload conn=%llu device=%llu size=%llu", (unsigned long long)s->conn,
	    (unsigned long long)s->device, (unsigned long long)m->u64);
	return reply(s, send_ok(s, m->rid, m->u64));
}

/* A write into the upload failed: drop the partial blob, read and drop
 * the rest of the upload, and answer err once it has all arrived, so the
 * connection (and the client's other requests) carry on. */
static void
upload_abandon(struct session *s, int err)
{
	relay_log("blob write failed conn=%llu device=%llu: %s", (unsigned long long)s->conn,
	    (unsigned long long)s->device, err == SB_ERR_SYSTEM || err == SB_ERR_NO_SPACE ?
	    strerror(errno) : sb_strerror(err));
	relay_upload_abort(s->up);
	s->up = NULL;
	s->up_err = err;
}

static int
h_blob_data(struct session *s, const struct proto_msg *m)
{
	struct proto_msg r;
	char uri[SB_MAX_URI];
	struct relay_upload *up;
	int rc;

	if ((s->up == NULL && s->up_err == 0) || m->rid != s->up_rid ||
	    m->data.len > s->up_left) {
		session_close(s, "blob data outside a declared upload");
		return -1;
	}
	if (s->up != NULL && (rc = relay_upload_write(s->up, m->data.p, m->data.len)) != SB_OK)
		upload_abandon(s, rc);
	s->up_left -= m->data.len;
	if (s->up_left > 0)
		return 0;
	if (s->up_err != 0) {
		rc = s->up_err;
		s->up_err = 0;
		return reply(s, send_err(s, s->up_rid, rc, NULL));
	}
	up = s->up;
	s->up = NULL;
	if ((rc = relay_upload_finish(up, now_of(s->srv), uri)) != SB_OK) {
		relay_log("blob refused conn=%llu device=%llu size=%llu: %s",
		    (unsigned long long)s->conn, (unsigned long long)s->device,
		    (unsigned long long)s->up_size, sb_strerror(rc));
		return reply(s, send_err(s, s->up_rid, rc, NULL));
	}
	relay_log("blob stored conn=%llu device=%llu size=%llu", (unsigned long long)s->conn,
	    (unsigned long long)s->device, (unsigned long long)s->up_size);
	s->srv->counters.blobs_uploaded++;
	s->srv->counters.blob_bytes_uploaded += s->up_size;
	memset(&r, 0, sizeof(r));
	r.type = PROTO_BLOB_URI;
	r.rid = s->up_rid;
	r.text.p = (const uint8_t *)uri;
	r.text.len = strlen(uri);
	return reply(s, send_msg(s, &r));
}

static int
h_blob_get(struct session *s, const struct proto_msg *m)
{
	struct server *srv = s->srv;
	uint64_t size;
	int rc;

	if (s->down != NULL)
		return reply(s, send_err(s, m->rid, SB_ERR_PROTOCOL, "a download is already running"));
	/* Only a well-formed URI reaches the file system or the database. */
	rc = relay_download_open(srv->blobs, m->text.p, m->text.len, cutoff_of(srv), &size,
	    &s->down);
	if (rc != SB_OK) {
		relay_log("blob get refused conn=%llu device=%llu: %s", (unsigned long long)s->conn,
		    (unsigned long long)s->device, sb_strerror(rc));
		return reply(s, send_err(s, m->rid, rc, NULL));
	}
	s->down_rid = m->rid;
	s->down_left = size;
	relay_log("blob download conn=%llu device=%llu size=%llu", (unsigned long long)s->conn,
	    (unsigned long long)s->device, (unsigned long long)size);
	if (reply(s, send_ok(s, m->rid, size)) != 0)
		return -1;
	if (size == 0) {
		relay_download_close(s->down);
		s->down = NULL;
	}
	return produce(s);
}

/* ---- the transparency log (PROTOCOL 14.7) --------------------------------- */

static int
h_lookup_log(struct session *s, const struct proto_msg *m)
{
	struct server *srv = s->srv;
	struct relay_device *devs = NULL;
	struct relay_log_entry *ents = NULL;
	uint8_t (*paths)[SB_MAX_PROOF][TLOG_HASH_LEN] = NULL;
	uint8_t cons[SB_MAX_PROOF][TLOG_HASH_LEN], addr_hash[TLOG_HASH_LEN];
	char addr[SB_MAX_ADDRESS + 1];
	const uint8_t *head = NULL;
	size_t head_len = 0, nd = 0, ne = 0, i, clen = 0;
	struct tlog_sth sth;
	struct proto_msg r;
	int own, rc;

	if ((rc = rate_refused(s, m, RELAY_RATE_LOOKUP, 1.0)) != 0)
		return rc > 0 ? 0 : -1;
	if (addr_cstr(&m->address, addr) != SB_OK)
		return reply(s, send_err(s, m->rid, SB_ERR_INVALID_ARG, "bad address"));
	memset(&r, 0, sizeof(r));
	/*
	 * The devices, then the address's entries, then the head (which
	 * catches up with the store): every entry read is below the head's
	 * size.  Only the operator's remove-device, another process, can
	 * land between the first two reads; the device then sees an answer
	 * that does not add up and asks again later.
	 */
	rc = srv->store->ops->devices_of(srv->store, addr, &devs, &nd);
	if (rc == SB_OK)
		rc = tlog_addr_hash(addr, strlen(addr), addr_hash);
	if (rc == SB_OK)
		rc = srv->store->ops->log_entries_of(srv->store, addr_hash, &ents, &ne);
	if (rc == SB_OK)
		rc = relay_dirlog_head(srv->dirlog, srv->store, now_of(srv), &sth, &head,
		    &head_len);
	/* A device that knows a larger log than ours gets our head and no
	 * proof: it will say so (it must never take an older head). */
	if (rc == SB_OK && m->u64 > 0 && m->u64 <= sth.size)
		rc = relay_dirlog_consistency(srv->dirlog, m->u64, sth.size, cons, &clen);
	if (rc == SB_OK && ne > 0 && (paths = calloc(ne, sizeof(*paths))) == NULL)
		rc = SB_ERR_ALLOC;
	if (rc == SB_OK && (r.devices = nd ? calloc(nd, sizeof(*r.devices)) : NULL,
	    r.proven = ne ? calloc(ne, sizeof(*r.proven)) : NULL,
	    (nd && r.devices == NULL) || (ne && r.proven == NULL)))
		rc = SB_ERR_ALLOC;
	own = strcmp(addr, s->address) == 0;
	for (i = 0; rc == SB_OK && i < nd; i++) {
		r.devices[i].id = devs[i].id;
		r.devices[i].name.p = (const uint8_t *)devs[i].name;
		r.devices[i].name.len = own ? strlen(devs[i].name) : 0;
		r.devices[i].identity.p = devs[i].identity;
		r.devices[i].identity.len = devs[i].identity_len;
	}
	for (i = 0; rc == SB_OK && i < ne; i++) {
		r.proven[i].index = ents[i].index;
		r.proven[i].entry.p = ents[i].entry;
		r.proven[i].entry.len = ents[i].len;
		rc = relay_dirlog_inclusion(srv->dirlog, ents[i].index, sth.size, paths[i],
		    &r.proven[i].path.n);
		r.proven[i].path.p = &paths[i][0][0];
	}
	if (rc == SB_OK) {
		r.type = PROTO_LOOKUP_LOG_RESULT;
		r.rid = m->rid;
		r.head.p = head;
		r.head.len = head_len;
		r.hashes.p = &cons[0][0];
		r.hashes.n = clen;
		r.n_devices = nd;
		r.n_proven = ne;
		rc = send_msg(s, &r);
	} else {
		relay_log("lookup-log failed conn=%llu address=%s: %s",
		    (unsigned long long)s->conn, addr, sb_strerror(rc));
		rc = send_err(s, m->rid, rc, NULL);
	}
	proto_msg_clear(&r);
	free(paths);
	free(ents);
	free(devs);
	return reply(s, rc);
}

static int
h_log_prove(struct session *s, const struct proto_msg *m)
{
	struct server *srv = s->srv;
	uint8_t proof[SB_MAX_PROOF][TLOG_HASH_LEN];
	const uint8_t *head;
	size_t head_len, len = 0;
	struct tlog_sth sth;
	struct proto_msg r;
	uint64_t second;
	int rc;

	rc = relay_dirlog_head(srv->dirlog, srv->store, now_of(srv), &sth, &head, &head_len);
	if (rc != SB_OK)
		return reply(s, send_err(s, m->rid, rc, NULL));
	second = m->u64b == 0 ? sth.size : m->u64b;
	if (m->u64 == 0 || m->u64 > second || second > sth.size)
		return reply(s, send_err(s, m->rid, SB_ERR_INVALID_ARG,
		    "sizes must be 0 < first <= second <= the log's size"));
	if ((rc = relay_dirlog_consistency(srv->dirlog, m->u64, second, proof, &len)) != SB_OK)
		return reply(s, send_err(s, m->rid, rc, NULL));
	memset(&r, 0, sizeof(r));
	r.type = PROTO_LOG_PROOF;
	r.rid = m->rid;
	r.hashes.p = &proof[0][0];
	r.hashes.n = len;
	return reply(s, send_msg(s, &r));
}

static int
h_log_key(struct session *s, const struct proto_msg *m)
{
	struct proto_msg r;

	memset(&r, 0, sizeof(r));
	r.type = PROTO_LOG_KEY_RESULT;
	r.rid = m->rid;
	relay_dirlog_key(s->srv->dirlog, r.log_key);
	return reply(s, send_msg(s, &r));
}

/* A new device of an account with devices asks to be approved. */
static int
h_link_offer(struct session *s, const struct proto_msg *m)
{
	struct server *srv = s->srv;
	struct sb_buf tr = SB_BUF_INIT;
	struct relay_device *devs = NULL, d;
	char name[SB_MAX_DEVICE_NAME + 1];
	uint64_t now = now_of(srv);
	size_t n = 0, i;
	int rc;

	memset(&d, 0, sizeof(d));
	if (s->device != 0)
		return reply(s, send_err(s, m->rid, SB_ERR_PROTOCOL, "already authenticated"));
	if (addr_cstr(&m->address, d.address) != SB_OK)
		return reply(s, send_err(s, m->rid, SB_ERR_INVALID_ARG, "bad address"));
	if (name_cstr(&m->name, name) != SB_OK)
		return reply(s, send_err(s, m->rid, SB_ERR_INVALID_ARG, "device name must be 1..64"
		    " bytes of UTF-8 without control or invisible format characters"));
	proto_link_transcript(s->exporter, s->challenge, m->address.p, m->address.len,
	    m->identity.p, m->identity.len, &tr);
	rc = tr.err != SB_OK ? tr.err :
	    verify_with(m->identity.p, m->identity.len, m->suite, &tr, &m->sig);
	sb_buf_free(&tr);
	if (rc != SB_OK)
		return auth_failed(s, m->rid, rc == SB_ERR_SIGNATURE ? SB_ERR_AUTH : rc, "link");
	if ((rc = srv->store->ops->devices_of(srv->store, d.address, &devs, &n)) != SB_OK)
		return reply(s, send_err(s, m->rid, rc, NULL));
	for (i = 0; i < n; i++)
		if (devs[i].identity_len == m->identity.len &&
		    memcmp(devs[i].identity, m->identity.p, m->identity.len) == 0)
			break;
	if (i < n) {
		/* Approved meanwhile: the offer was signed by the device's key
		 * over this session's challenge, which is an authentication. */
		d = devs[i];
		free(devs);
		become(s, &d);
		relay_log("link done conn=%llu device=%llu address=%s",
		    (unsigned long long)s->conn, (unsigned long long)d.id, d.address);
		return reply(s, send_ok(s, m->rid, d.id));
	}
	free(devs);
	if (n == 0)
		return reply(s, send_err(s, m->rid, SB_ERR_NOT_FOUND,
		    "the address has no device to approve this one: enroll with an invitation"));
	rc = srv->store->ops->link_offer_put(srv->store, d.address, m->suite, m->identity.p,
	    m->identity.len, name, now, now > RELAY_LINK_TTL ? now - RELAY_LINK_TTL : 0);
	if (rc != SB_OK)
		return reply(s, send_err(s, m->rid, rc, rc == SB_ERR_TOO_BIG ?
		    "too many devices wait for approval on this address" : NULL));
	relay_log("link offer conn=%llu address=%s name=\"%s\"",
	    (unsigned long long)s->conn, d.address, name);
	return reply(s, send_ok(s, m->rid, 0));
}

static int
h_link_list(struct session *s, const struct proto_msg *m)
{
	struct server *srv = s->srv;
	struct relay_link_offer *offers = NULL;
	struct proto_link_offer po[SB_MAX_LINK_OFFERS];
	uint64_t now = now_of(srv);
	struct proto_msg r;
	size_t n = 0, i;
	int rc;

	rc = srv->store->ops->link_offers_of(srv->store, s->address,
	    now > RELAY_LINK_TTL ? now - RELAY_LINK_TTL : 0, &offers, &n);
	if (rc != SB_OK)
		return reply(s, send_err(s, m->rid, rc, NULL));
	memset(&r, 0, sizeof(r));
	for (i = 0; i < n; i++) {
		po[i].suite = offers[i].suite;
		po[i].identity.p = offers[i].identity;
		po[i].identity.len = offers[i].identity_len;
		po[i].name.p = (const uint8_t *)offers[i].name;
		po[i].name.len = strlen(offers[i].name);
		po[i].time = offers[i].created;
	}
	r.type = PROTO_LINK_OFFERS;
	r.rid = m->rid;
	r.offers = po;
	r.n_offers = n;
	rc = send_msg(s, &r);
	free(offers);
	return reply(s, rc);
}

/* The session's device countersigns an offered identity (PROTOCOL 14.4). */
static int
h_link_approve(struct session *s, const struct proto_msg *m)
{
	struct server *srv = s->srv;
	struct relay_log_signer by = { s->device, m->sig.p, m->sig.len };
	struct crypto_identity *id = NULL;
	struct sb_buf text = SB_BUF_INIT;
	uint8_t addr[TLOG_HASH_LEN];
	struct relay_device me;
	uint64_t now = now_of(srv), dev = 0;
	int rc;

	rc = crypto_identity_parse(m->identity.p, m->identity.len, &id);
	if (rc == SB_OK)
		rc = srv->store->ops->device_get(srv->store, s->device, &me);
	if (rc == SB_OK)
		rc = tlog_addr_hash(s->address, strlen(s->address), addr);
	if (rc == SB_OK)
		rc = tlog_approve_text(addr, crypto_identity_hash(id), &text);
	if (rc == SB_OK)
		rc = verify_with(me.identity, me.identity_len, 0, &text, &m->sig);
	crypto_identity_free(id);
	sb_buf_free(&text);
	if (rc == SB_OK)
		rc = srv->store->ops->link_approve(srv->store, s->address, m->identity.p,
		    m->identity.len, now > RELAY_LINK_TTL ? now - RELAY_LINK_TTL : 0, &by, now,
		    &dev);
	if (rc != SB_OK) {
		relay_log("link approve refused conn=%llu device=%llu: %s",
		    (unsigned long long)s->conn, (unsigned long long)s->device, sb_strerror(rc));
		return reply(s, send_err(s, m->rid, rc, rc == SB_ERR_NOT_FOUND ?
		    "no device of this account waits with these keys" : NULL));
	}
	relay_log("link approve conn=%llu device=%llu added=%llu address=%s",
	    (unsigned long long)s->conn, (unsigned long long)s->device,
	    (unsigned long long)dev, s->address);
	return reply(s, send_ok(s, m->rid, dev));
}

/* Deletes a blob this device uploaded (a send it cancelled, or a retry's
 * superseded upload); anyone else's URI is NOT_FOUND, as an unknown one. */
static int
h_blob_delete(struct session *s, const struct proto_msg *m)
{
	int rc = relay_blobs_delete(s->srv->blobs, m->text.p, m->text.len, s->device);

	if (rc != SB_OK) {
		relay_log("blob delete refused conn=%llu device=%llu: %s",
		    (unsigned long long)s->conn, (unsigned long long)s->device, sb_strerror(rc));
		return reply(s, send_err(s, m->rid, rc, NULL));
	}
	relay_log("blob deleted conn=%llu device=%llu", (unsigned long long)s->conn,
	    (unsigned long long)s->device);
	return reply(s, send_ok(s, m->rid, 0));
}

/* Returns 0 to go on, -1 when the session is gone. */
static int
dispatch(struct session *s, const struct proto_msg *m)
{
	if (!s->hello_sent) {
		session_close(s, "frame before the handshake finished");
		return -1;
	}
	/* SEND and ACK join the turn's group; anything else comes after it
	 * (its reads and its answer follow the commit, as before). */
	if (m->type != PROTO_SEND && m->type != PROTO_ACK &&
	    (s->srv->group_open || s->srv->held != NULL)) {
		group_flush(s->srv);
		if (s->doomed != NULL)
			return -1;   /* closed by turn_cb */
	}
	switch (m->type) {
	case PROTO_REGISTER: return h_register(s, m);
	case PROTO_AUTH:     return h_auth(s, m);
	case PROTO_PING:     return reply(s, send_ok(s, m->rid, 0));
	case PROTO_LINK_OFFER: return h_link_offer(s, m);
	case PROTO_LOG_KEY:  return h_log_key(s, m);
	default:             break;
	}
	if (s->device == 0)
		return reply(s, send_err(s, m->rid, SB_ERR_AUTH, "authenticate first"));
	switch (m->type) {
	case PROTO_LOOKUP:    return h_lookup(s, m);
	case PROTO_REMOVE:    return h_remove(s, m);
	case PROTO_REMOVE_SIGNED: return h_remove(s, m);
	case PROTO_LOOKUP_LOG: return h_lookup_log(s, m);
	case PROTO_LOG_PROVE: return h_log_prove(s, m);
	case PROTO_LINK_LIST: return h_link_list(s, m);
	case PROTO_LINK_APPROVE: return h_link_approve(s, m);
	case PROTO_SEND:      return h_send(s, m);
	case PROTO_ACK:       return h_ack(s, m);
	case PROTO_STATUS:    return h_status(s, m);
	case PROTO_BLOB_PUT:  return h_blob_put(s, m);
	case PROTO_BLOB_DATA: return h_blob_data(s, m);
	case PROTO_BLOB_GET:  return h_blob_get(s, m);
	case PROTO_BLOB_DELETE: return h_blob_delete(s, m);
	default:
		session_close(s, "unexpected message type");
		return -1;
	}
}

/* ---- libevent callbacks -------------------------------------------------- */

static void
pause_reading(struct session *s)
{
	if (!s->read_paused && out_len(s) >= OUT_HIGH) {
		bufferevent_disable(s->bev, EV_READ);
		s->read_paused = 1;
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[SB_FRAME_HDR];
	struct proto_msg m;
	size_t total;
	char why[96];
	int rc;

	while (!s->read_paused) {
		size_t have = evbuffer_get_length(in);

		if (have < 4)
			return;
		evbuffer_copyout(in, hdr, have < sizeof(hdr) ? have : sizeof(hdr));
		rc = proto_frame_size(hdr, 4, &total);
		if (rc != SB_OK) {
			session_close(s, "oversized or undersized frame");
			return;
		}
		if (have < total)
			return;
		if (!proto_type_from_client(hdr[4])) {
			snprintf(why, sizeof(why), "unknown message type 0x%02x", hdr[4]);
			session_close(s, why);
			return;
		}
		rc = proto_decode(evbuffer_pullup(in, (ssize_t)total), total, &m);
		if (rc != SB_OK) {
			snprintf(why, sizeof(why), "malformed %s frame (%s)",
			    proto_type_name(hdr[4]), sb_strerror(rc));
			session_close(s, why);
			return;
		}
		rc = dispatch(s, &m);
		proto_msg_clear(&m);
		if (rc != 0)
			return;   /* session closed (or an encoder failed: see below) */
		evbuffer_drain(in, total);
		pause_reading(s);
	}
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (produce(s) != 0)
		return;
	if (s->read_paused && out_len(s) < OUT_HIGH) {
		s->read_paused = 0;
		bufferevent_enable(s->bev, EV_READ);
		read_cb(s->bev, s);   /* frames may already be waiting */
	}
}

/* libevent moves OpenSSL's error queue into the bufferevent: read it there. */
static int
tls_reason(struct bufferevent *bev, char *out, size_t cap)
{
	unsigned long e, first = 0;

	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (first == 0)
			first = e;
	if (first == 0)
		return 0;
	snprintf(out, cap, "tls: %s", ERR_reason_error_string(first) ?
	    ERR_reason_error_string(first) : "error");
	return 1;
}

static void
hello(struct session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	struct proto_msg m;

	if (RAND_bytes(s->challenge, sizeof(s->challenge)) != 1 ||
	    SSL_export_keying_material(ssl, s->exporter, sizeof(s->exporter),
	        PROTO_EXPORTER_LABEL, strlen(PROTO_EXPORTER_LABEL), NULL, 0, 0) != 1) {
		session_close(s, "cannot derive the auth challenge");
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = PROTO_HELLO;
	m.version = PROTO_VERSION;
	memcpy(m.challenge, s->challenge, sizeof(m.challenge));
	if (send_msg(s, &m) != SB_OK) {
		session_close(s, "out of memory");
		return;
	}
	s->hello_sent = 1;
	relay_log("connect conn=%llu peer=%s tls=%s", (unsigned long long)s->conn, s->peer,
	    SSL_get_version(ssl));
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	char why[160];

	if (what & BEV_EVENT_CONNECTED) {
		hello(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof(why), "%s timeout",
		    (what & BEV_EVENT_READING) ? "idle" : "write");
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "peer closed");
	else if (tls_reason(bev, why, sizeof(why)))
		;
	else
		snprintf(why, sizeof(why), "connection error: %s",
		    errno ? strerror(errno) : "reset");
	session_close(s, why);
}

static void
auth_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	session_close(s, s->hello_sent ? "not authenticated in time" : "tls handshake timeout");
}

/*
 * Unauthenticated connections cost a descriptor and a TLS state each and
 * prove nothing yet: they are capped overall (unauth_cap, kept below the
 * descriptor limit so authenticated devices always have room) and per
 * source address.  At a cap the OLDEST such connection goes, so a flood of
 * idle sockets cannot lock out a client that handshakes promptly
 * (issue 12, finding 7).  Sessions are listed newest first.
 */
static void
unauth_make_room(struct server *srv, const char *ip)
{
	struct session *s, *oldest = NULL, *oldest_ip = NULL;
	unsigned n = 0, n_ip = 0;

	for (s = srv->sessions; s != NULL; s = s->next) {
		if (s->device != 0)
			continue;
		n++;
		oldest = s;
		if (strcmp(s->ip, ip) == 0) {
			n_ip++;
			oldest_ip = s;
		}
	}
	if (oldest_ip != NULL && n_ip >= srv->cfg.max_unauth_per_ip)
		session_close(oldest_ip, "unauthenticated connections from this address at their cap");
	else if (oldest != NULL && n >= srv->unauth_cap)
		session_close(oldest, "unauthenticated connections at their cap");
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(srv->listener);
}

/*
 * accept() failed for a reason other than a retriable one.  Out of
 * descriptors (EMFILE/ENFILE) the pending connection stays in the backlog
 * and the socket stays readable: retrying as before spun the CPU and
 * logged a line per try (834,929 lines in 10 s).  Instead: if an
 * unauthenticated connection can be dropped, drop the oldest and let the
 * next accept take its descriptor (progress, not a spin); if not (every
 * descriptor belongs to an authenticated device), stop accepting for
 * ACCEPT_PAUSE_MS.  Logged at most once per ACCEPT_LOG_S, with a count.
 */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct server *srv = arg;
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	int err = EVUTIL_SOCKET_ERROR();
	struct session *s, *oldest = NULL;
	double now = mono_now();

	srv->accept_fails++;
	if (srv->accept_logged == 0 || now - srv->accept_logged >= ACCEPT_LOG_S) {
		relay_log("accept failed %llu times: %s (descriptor limit %u, unauthenticated"
		    " cap %u)", (unsigned long long)srv->accept_fails, strerror(err),
		    srv->nofile, srv->unauth_cap);
		srv->accept_logged = now;
		srv->accept_fails = 0;
	}
	if (err == EMFILE || err == ENFILE)
		for (s = srv->sessions; s != NULL; s = s->next)
			if (s->device == 0)
				oldest = s;
	if (oldest != NULL) {
		session_close(oldest, "descriptors exhausted: oldest unauthenticated connection dropped");
		return;
	}
	evconnlistener_disable(l);
	evtimer_add(srv->accept_ev, &tv);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct server *srv = arg;
	struct session *s;
	struct timeval idle = { srv->opts.idle_timeout, 0 };
	struct timeval wto = { srv->opts.write_timeout, 0 };
	struct timeval ato = { srv->opts.auth_timeout, 0 };
	SSL *ssl;

	(void)l;
	(void)salen;
	if ((s = calloc(1, sizeof(*s))) == NULL || (ssl = SSL_new(srv->ctx)) == NULL) {
		free(s);
		evutil_closesocket(fd);
		return;
	}
	s->srv = srv;
	/* Pushes and answers are small frames that must leave at once, not
	 * wait for Nagle's algorithm (see client.c). */
	{
		int one = 1;

		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	s->conn = ++srv->next_conn;
	srv->counters.connections++;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(s->peer, sizeof(s->peer), "%s:%u", ip, ntohs(in->sin_port));
		snprintf(s->ip, sizeof(s->ip), "%s", ip);
	} else {
		snprintf(s->peer, sizeof(s->peer), "?");
		snprintf(s->ip, sizeof(s->ip), "?");
	}
	unauth_make_room(srv, s->ip);
	s->bev = bufferevent_openssl_socket_new(srv->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	if (s->bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		session_close(s, "out of memory");
		return;
	}
	/* A client that just closes its socket is "peer closed", not a TLS error. */
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, IN_HIGH);
	bufferevent_setwatermark(s->bev, EV_WRITE, OUT_LOW, 0);
	bufferevent_set_timeouts(s->bev, &idle, &wto);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->auth_timer = evtimer_new(srv->base, auth_timeout_cb, s);
	if (s->auth_timer != NULL)
		evtimer_add(s->auth_timer, &ato);
}

/* Seconds for the slowest bucket to refill from empty: a device idle
 * that long has full buckets, the same as no entry. */
static double
refill_s(const struct relay_config *c)
{
	double a = (double)c->send_burst / c->send_rate;
	double b = (double)c->lookup_burst / c->lookup_rate;

	return a > b ? a : b;
}

static void
sweep(struct server *srv)
{
	uint64_t cut = cutoff_of(srv), n = 0, r = retention_s(srv);
	struct relay_store *st = srv->store;
	int rc;

	group_flush(srv);   /* the sweep's own transactions come after the group */
	relay_rates_prune(srv->rates, mono_now(), refill_s(&srv->cfg));
	/* A cluster sweeps once per interval, on whichever node claims it. */
	if (st->ops->sweep_claim != NULL &&
	    st->ops->sweep_claim(st, now_of(srv), srv->opts.sweep_interval) != SB_OK)
		return;
	rc = srv->store->ops->expire(srv->store, cut, cut > r ? cut - r : 0, &n);
	if (rc != SB_OK)
		relay_log("expire failed: %s", sb_strerror(rc));
	else if (n > 0)
		relay_log("expire items=%llu", (unsigned long long)n);
	rc = relay_blobs_expire(srv->blobs, cut);
	if (rc != SB_OK)
		relay_log("blob expire failed: %s", sb_strerror(rc));
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sweep(arg);
}

/* ---- news from the other nodes of a cluster ------------------------------- */

static void news_open(struct server *srv);

static void
on_news(void *arg, int kind, uint64_t device, uint64_t at)
{
	struct server *srv = arg;
	struct session *s = session_of_device(srv, device, NULL);

	if (s == NULL)
		return;
	if (kind == RELAY_EV_QUEUED)
		kick_device(srv, device);
	else if (kind == RELAY_EV_REMOVED)
		session_close(s, "device removed");
	/* The device connected to another node after it connected here:
	 * this connection is the stale one (node clocks agree to NTP's
	 * precision; a wrong guess costs one reconnection). */
	else if (kind == RELAY_EV_CONNECTED && s->authed_ms < at)
		session_close(s, "replaced by a newer connection to another node");
}

static void
news_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct session *s, *next;

	(void)fd;
	(void)what;
	news_open(srv);
	if (srv->news_ev == NULL)
		return;
	relay_log("listening to the other nodes again");
	/* What was committed while we were deaf: every queue served here. */
	for (s = srv->sessions; s != NULL; s = next) {
		next = s->next;
		s->queue_more = 1;
		if (s->device != 0 && !s->read_paused)
			produce(s);
	}
}

static void
news_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct timeval tv = { 1, 0 };

	(void)fd;
	(void)what;
	if (srv->store->ops->events_read(srv->store, on_news, srv) == SB_OK)
		return;
	relay_log("lost the other nodes' news (database connection): reopening in 1 s");
	event_free(srv->news_ev);
	srv->news_ev = NULL;
	evtimer_add(srv->news_retry_ev, &tv);
}

/* Watches the store's news socket; on failure retries each second. */
static void
news_open(struct server *srv)
{
	struct timeval tv = { 1, 0 };
	int fd = -1;

	if (srv->store->ops->events_fd(srv->store, &fd) == SB_OK &&
	    (srv->news_ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, news_cb, srv)) != NULL &&
	    event_add(srv->news_ev, NULL) == 0)
		return;
	if (srv->news_ev != NULL) {
		event_free(srv->news_ev);
		srv->news_ev = NULL;
	}
	evtimer_add(srv->news_retry_ev, &tv);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	(void)what;
	relay_log("stopping on signal %d", (int)sig);
	event_base_loopexit(srv->base, NULL);
}

static SSL_CTX *server_ctx(const char *datadir);

static void
fp_short(const uint8_t fp[RELAY_FP_LEN], char out[17])
{
	sb_hex(fp, 8, out);
}

/*
 * The certificates of DIR/tls as they are now.  A new current one (after
 * rotate-cert --switch) gets a new TLS context for the connections to
 * come; those open keep theirs (an SSL holds its context).  A new next
 * one is announced at once to every authenticated connection.  A context
 * that does not build (a key that is not the certificate's) keeps the
 * old one serving, and says so.
 */
static void
tls_reload(struct server *srv)
{
	uint8_t fp[RELAY_FP_LEN];
	struct session *s, *next;
	SSL_CTX *ctx;
	char h[17];
	int had = srv->has_next;

	if (relay_tls_fingerprint(srv->datadir, fp) == SB_OK &&
	    memcmp(fp, srv->cur_fp, RELAY_FP_LEN) != 0) {
		fp_short(fp, h);
		if ((ctx = server_ctx(srv->datadir)) == NULL) {
			relay_log("tls reload failed: tls/key.pem is not the key of tls/cert.pem"
			    " %s...; still serving the previous certificate", h);
		} else {
			SSL_CTX_free(srv->ctx);
			srv->ctx = ctx;
			memcpy(srv->cur_fp, fp, RELAY_FP_LEN);
			relay_log("tls certificate %s... now served", h);
		}
	}
	srv->has_next = relay_tls_next_fingerprint(srv->datadir, fp) == SB_OK &&
	    memcmp(fp, srv->cur_fp, RELAY_FP_LEN) != 0;
	if (!srv->has_next || (had && memcmp(fp, srv->next_fp, RELAY_FP_LEN) == 0))
		return;
	memcpy(srv->next_fp, fp, RELAY_FP_LEN);
	fp_short(fp, h);
	relay_log("tls next certificate %s... announced", h);
	for (s = srv->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->device != 0)
			reply(s, send_pin_next(s));
	}
}

/*
 * SIGHUP: the operator changed DIR behind our back (sealbox-relay
 * remove-device, remove-address, rotate-cert: relay_notify_serve).  A
 * connection whose device left the directory is closed, as after a
 * REMOVE; the certificates are looked at again.
 */
static void
reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	struct session *s, *next;
	struct relay_device d;

	(void)sig;
	(void)what;
	group_flush(srv);
	relay_log("reload");
	tls_reload(srv);
	for (s = srv->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->device != 0 &&
		    srv->store->ops->device_get(srv->store, s->device, &d) == SB_ERR_NOT_FOUND)
			session_close(s, "device removed");
	}
}

/* A scrape of --metrics: the counters, and gauges read now. */
static void
snapshot(void *arg, struct relay_snapshot *out)
{
	struct server *srv = arg;
	struct relay_store_totals t;
	struct session *s;

	out->c = srv->counters;
	for (s = srv->sessions; s != NULL; s = s->next) {
		out->open_connections++;
		out->authenticated += s->device != 0;
	}
	if (srv->store->ops->totals(srv->store, &t) == SB_OK) {
		out->store_ok = 1;
		out->devices = t.devices;
		out->queued_items = t.queued_items;
		out->blobs = t.blobs;
		out->blob_bytes = t.blob_bytes;
	}
	out->rotation_pending = srv->has_next;
	out->start_time = srv->start_time;
}

static int
metrics_on(struct server *srv, const char *hostport)
{
	char host[RELAY_MAX_HOST + 1];
	uint16_t port;
	int rc;

	if (relay_parse_hostport(hostport, host, &port) != SB_OK)
		return SB_ERR_INVALID_ARG;
	rc = relay_metrics_listen(srv->base, host, port, snapshot, srv, &srv->metrics);
	if (rc != SB_OK)
		relay_log("metrics: cannot listen on %s: %s", hostport, strerror(errno));
	else
		relay_log("metrics on http://%s/metrics", hostport);
	return rc;
}

/* ---- setup --------------------------------------------------------------- */

void
relay_serve_defaults(struct relay_serve_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->idle_timeout = 300;
	o->auth_timeout = 10;
	o->write_timeout = 60;
	o->sweep_interval = 60;
}

static SSL_CTX *
server_ctx(const char *datadir)
{
	char cert[PATH_MAX], key[PATH_MAX];
	SSL_CTX *ctx;

	if (snprintf(cert, sizeof(cert), "%s/tls/cert.pem", datadir) >= (int)sizeof(cert) ||
	    snprintf(key, sizeof(key), "%s/tls/key.pem", datadir) >= (int)sizeof(key))
		return NULL;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return NULL;
	/* TLS 1.3 only: forward secret key exchange always (DESIGN.md 5). */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* A peer that closes without close_notify has simply gone: report EOF
	 * (OpenSSL 3 would otherwise call it a protocol error). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
	return ctx;
}

static int
listen_on(struct server *srv, const char *host, uint16_t port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return SB_ERR_CONFIG;
	srv->listener = evconnlistener_new_bind(srv->base, accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (srv->listener == NULL)
		return SB_ERR_SYSTEM;
	evconnlistener_set_error_cb(srv->listener, accept_error_cb);
	srv->accept_ev = evtimer_new(srv->base, accept_resume_cb, srv);
	return srv->accept_ev == NULL ? SB_ERR_ALLOC : SB_OK;
}

static void
server_free(struct server *srv)
{
	if (srv->turn_ev != NULL)
		group_flush(srv);   /* a group left open is committed, not lost */
	relay_log_hold(NULL, NULL);
	while (srv->sessions != NULL)
		session_close(srv->sessions, "relay stopping");
	if (srv->metrics) evhttp_free(srv->metrics);
	if (srv->listener) evconnlistener_free(srv->listener);
	if (srv->accept_ev) event_free(srv->accept_ev);
	relay_rates_free(srv->rates);
	if (srv->sweep_ev) event_free(srv->sweep_ev);
	if (srv->turn_ev) event_free(srv->turn_ev);
	free(srv->kick);
	if (srv->news_ev) event_free(srv->news_ev);
	if (srv->news_retry_ev) event_free(srv->news_retry_ev);
	if (srv->sigint_ev) event_free(srv->sigint_ev);
	if (srv->sigterm_ev) event_free(srv->sigterm_ev);
	if (srv->sighup_ev) event_free(srv->sighup_ev);
	if (srv->base) event_base_free(srv->base);
	SSL_CTX_free(srv->ctx);
	relay_blobs_free(srv->blobs);
	relay_store_close(srv->store);
	relay_dirlog_free(srv->dirlog);
	sb_buf_free(&srv->scratch);
}

/*
 * Raises the soft descriptor limit to the hard one (a relay holds one per
 * connection; the default soft 1024 is an accident of history), then
 * sizes the unauthenticated cap so that half of what is left after
 * FD_RESERVE stays for authenticated devices and their blob files.
 */
static void
fd_limits(struct server *srv)
{
	struct rlimit rl;
	rlim_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	} else if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		rl.rlim_cur = 1024;
	}
	n = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1u << 24 ? 1u << 24 : rl.rlim_cur;
	srv->nofile = (unsigned)n;
	n = n > 2 * FD_RESERVE ? (n - FD_RESERVE) / 2 : 1;
	srv->unauth_cap = srv->cfg.max_unauth < n ? srv->cfg.max_unauth : (unsigned)n;
}

int
relay_serve(const char *datadir, const struct relay_serve_opts *o)
{
	struct server srv;
	char host[RELAY_MAX_HOST + 1];
	struct timeval sw;
	uint16_t port;
	int rc;

	memset(&srv, 0, sizeof(srv));
	srv.opts = *o;
	if (snprintf(srv.datadir, sizeof(srv.datadir), "%s", datadir) >= (int)sizeof(srv.datadir))
		return SB_ERR_INVALID_ARG;
	if ((rc = relay_config_load(datadir, &srv.cfg)) != SB_OK)
		return rc;
	memcpy(host, srv.cfg.host, sizeof(host));
	port = srv.cfg.port;
	if (o->listen != NULL && relay_parse_hostport(o->listen, host, &port) != SB_OK)
		return SB_ERR_INVALID_ARG;
	signal(SIGPIPE, SIG_IGN);
	fd_limits(&srv);
	if ((rc = relay_rates_new(&srv.rates)) != SB_OK)
		return rc;
	if ((rc = relay_store_open_config(datadir, &srv.cfg, &srv.store)) != SB_OK ||
	    (rc = relay_blobs_new(datadir, srv.store, &srv.blobs)) != SB_OK)
		goto out;
	if ((rc = relay_dirlog_new(datadir, o->test_log_rebuild, &srv.dirlog)) != SB_OK)
		goto out;
	rc = SB_ERR_TLS;
	if ((srv.ctx = server_ctx(datadir)) == NULL ||
	    relay_tls_fingerprint(datadir, srv.cur_fp) != SB_OK)
		goto out;
	srv.has_next = relay_tls_next_fingerprint(datadir, srv.next_fp) == SB_OK;
	rc = SB_ERR_SYSTEM;
	if ((srv.base = event_base_new()) == NULL)
		goto out;
	if ((rc = listen_on(&srv, host, port)) != SB_OK)
		goto out;
	srv.start_time = now_of(&srv);
	if (o->metrics != NULL && (rc = metrics_on(&srv, o->metrics)) != SB_OK)
		goto out;
	srv.sweep_ev = event_new(srv.base, -1, EV_PERSIST, sweep_cb, &srv);
	srv.turn_ev = event_new(srv.base, -1, 0, turn_cb, &srv);
	srv.sigint_ev = evsignal_new(srv.base, SIGINT, signal_cb, &srv);
	srv.sigterm_ev = evsignal_new(srv.base, SIGTERM, signal_cb, &srv);
	srv.sighup_ev = evsignal_new(srv.base, SIGHUP, reload_cb, &srv);
	if (srv.sweep_ev == NULL || srv.turn_ev == NULL || srv.sigint_ev == NULL || srv.sigterm_ev == NULL ||
	    srv.sighup_ev == NULL) {
		rc = SB_ERR_ALLOC;
		goto out;
	}
	sw.tv_sec = o->sweep_interval > 0 ? o->sweep_interval : 60;
	sw.tv_usec = 0;
	event_add(srv.sweep_ev, &sw);
	event_add(srv.sigint_ev, NULL);
	event_add(srv.sigterm_ev, NULL);
	event_add(srv.sighup_ev, NULL);
	if (srv.store->ops->events_fd != NULL) {
		/* Before the first accept: no device connects unheard. */
		if ((srv.news_retry_ev = evtimer_new(srv.base, news_retry_cb, &srv)) == NULL) {
			rc = SB_ERR_ALLOC;
			goto out;
		}
		news_open(&srv);
		if (srv.news_ev == NULL) {
			rc = SB_ERR_STORAGE;
			goto out;
		}
	}
	sweep(&srv);
	relay_log("listening on %s:%u inline_limit=%u retention_days=%u blob_max=%llu"
	    " nofile=%u max_unauth=%u max_unauth_per_ip=%u clock=%s store=%s",
	    host, port, srv.cfg.inline_limit, srv.cfg.retention_days,
	    (unsigned long long)srv.cfg.blob_max, srv.nofile, srv.unauth_cap,
	    srv.cfg.max_unauth_per_ip, o->test_clock_file ? "TEST-CLOCK" : "real",
	    srv.cfg.store[0] ? "postgresql" : "sqlite");
	relay_log_hold(log_held, &srv);
	rc = event_base_dispatch(srv.base) == 0 ? SB_OK : SB_ERR_SYSTEM;
out:
	server_free(&srv);
	return rc;
}
