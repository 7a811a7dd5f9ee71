/*
 * client.c - the agent-side relay client (see client.h for the threading
 * model).  One I/O thread owns the libevent loop and the connection; caller
 * threads queue requests under c->lock and sleep on c->cond.
 *
 * Locking: c->lock guards the request lists, the connection state and the
 * blob streaming pointers.  The I/O thread holds it while it touches any of
 * those and drops it only around the push callback.  Caller threads never
 * touch the bufferevent.
 *
 * Never logs or stores a payload; never loads keys (the signing key is lent
 * by the caller).  Every frame is cut and decoded with proto/.
 */
#include <errno.h>
#include <stdatomic.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "../common/clock.h"
#include "../common/sberr.h"
#include "client.h"

#define OUT_HIGH        (256u * 1024u)
#define OUT_LOW         (64u * 1024u)
#define IN_HIGH         (SB_MAX_FRAME + SB_MAX_BLOB_CHUNK + 64u)
#define SEND_ROUNDS     3
#define CACHE_TTL_MS    (300 * 1000)   /* a stale refusal refreshes sooner */

enum conn_state {
	ST_DOWN,         /* no connection (a reconnect timer may be armed) */
	ST_TLS,          /* TCP/TLS in progress, no HELLO yet */
	ST_CONNECTED,    /* HELLO received, not authenticated */
	ST_AUTHING,      /* AUTH sent */
	ST_AUTHED,
	ST_FAILED,       /* the relay refused our device: no more reconnects */
};

/* NEED_ANY: once connected, authenticated or not (LOG_KEY). */
enum need { NEED_AUTH, NEED_UNAUTH, NEED_ANY };

struct req {
	uint32_t rid;
	enum need need;
	uint8_t type;
	struct sb_buf frame;            /* built by the caller, or at send time */
	/* REGISTER is built on the I/O thread (it signs the session's challenge). */
	char reg_address[SB_MAX_ADDRESS + 1];
	char reg_code[SB_MAX_CODE + 1];
	char reg_name[SB_MAX_DEVICE_NAME + 1];
	uint8_t *reg_identity;
	size_t reg_identity_len;
	uint8_t reg_suite;
	int detached;                   /* nobody waits: free when answered */
	/* Called once the frame is queued, behind every request queued
	 * before it (client_send_ex); outside c->lock. */
	void (*queued)(void *arg);
	void *queued_arg;
	int done, rc;
	int sys_errno;                  /* rc == SB_ERR_SYSTEM: the I/O thread's errno */
	uint8_t *resp;                  /* a copy of the answer frame */
	size_t resp_len;
	struct timespec progress;       /* last sign of life (blob streaming) */
	/* blob streaming: an upload's bytes come from fill(fill_arg, ...) */
	int fd;
	client_blob_fill_fn fill;
	void *fill_arg;
	uint64_t left, max;             /* max: largest download accepted */
	struct req *next;
};

struct client {
	struct client_config cfg;
	char *relay, *address;
	/* The relay's addresses: one, or the nodes of a cluster, tried in
	 * turn; cur is the one connected to or tried next, why_at the one
	 * c->why speaks of. */
	char host[CLIENT_MAX_RELAYS][256], port[CLIENT_MAX_RELAYS][8];
	unsigned n_relays, cur, why_at;
	pthread_t thread;
	int thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct event_base *base;
	struct event *wake_ev, *retry_ev, *ping_ev;
	SSL_CTX *ctx;
	struct bufferevent *bev;
	enum conn_state state;
	int last_err;                   /* under lock */
	atomic_int pin_failed;          /* set by verify_pin, outside lock */
	/* The certificate verify_pin rejected last: written by verify_pin
	 * inside the handshake, read by event_cb; both run on the I/O thread,
	 * one after the other, so it needs no lock. */
	uint8_t pin_got[CLIENT_FP_LEN];
	/* The handshake matched cfg.next_fingerprint (verify_pin -> on_hello,
	 * the I/O thread, as everything that reads or writes the pins). */
	int pin_was_next;
	/* Why the last connection attempt failed, in words (client_last_error);
	 * under lock.  "" once a session got as far as the relay's HELLO:
	 * a stale reason must not explain a later timeout. */
	char why[192];
	int stopping;
	int reset_requested;
	int resync_requested;           /* client_resync, once no blob moves */
	unsigned backoff_ms;
	uint32_t next_rid;
	uint8_t challenge[PROTO_CHALLENGE_LEN];
	uint8_t exporter[PROTO_EXPORTER_LEN];
	uint32_t auth_rid;
	struct req *pending, *inflight;
	struct req *upload, *download;  /* streaming now (also in inflight) */
	/* The BLOB_DATA frame being built: kept between frames, so a 1 GiB
	 * upload does not allocate, grow and free 16,384 frame buffers (the
	 * I/O thread's arena would hand their pages back and fault them in
	 * again each time). */
	struct sb_buf up_frame;
	/* Authenticated sessions so far, and the blob cap the relay announced
	 * in session cap_session (0: none announced); under lock. */
	unsigned sessions, cap_session;
	uint64_t cap;
	/* Directory answers for client_send, per address; own lock (never
	 * held together with c->lock). */
	pthread_mutex_t cache_lock;
	struct cache_ent *cache;
	/*
	 * The transparency log (PROTOCOL 14.8).  log_lock is held across a
	 * whole lookup (request, check, adoption), so every answer is
	 * checked against the newest head; it is taken before c->lock, never
	 * while holding it.
	 */
	pthread_mutex_t log_lock;
	int have_log_key, have_head, head_checked;
	uint8_t log_key[TLOG_KEY_LEN];
	struct tlog_sth head;
	uint8_t head_bytes[TLOG_MAX_STH];
	size_t head_len;
	struct client_log_fault fault;  /* err 0: none yet */
};

struct cache_ent {
	char address[SB_MAX_ADDRESS + 1];
	struct client_lookup *l;        /* that address's devices only */
	struct timespec at;
	struct cache_ent *next;
};

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;

static void
evthread_init(void)
{
	evthread_use_pthreads();
}

static void
mono_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static long long
ms_since(const struct timespec *t)
{
	struct timespec n;

	mono_now(&n);
	return (long long)(n.tv_sec - t->tv_sec) * 1000 + (n.tv_nsec - t->tv_nsec) / 1000000;
}

int
client_parse_fingerprint(const char *hex, uint8_t fp[CLIENT_FP_LEN])
{
	size_t o = 0;
	int hi = -1;

	for (; *hex != '\0'; hex++) {
		int v;

		if (*hex == ':')
			continue;
		if (*hex >= '0' && *hex <= '9') v = *hex - '0';
		else if (*hex >= 'a' && *hex <= 'f') v = *hex - 'a' + 10;
		else if (*hex >= 'A' && *hex <= 'F') v = *hex - 'A' + 10;
		else return SB_ERR_INVALID_ARG;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (o == CLIENT_FP_LEN)
			return SB_ERR_INVALID_ARG;
		fp[o++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return o == CLIENT_FP_LEN && hi < 0 ? SB_OK : SB_ERR_INVALID_ARG;
}

/* ---- request bookkeeping (c->lock held) ---------------------------------- */

static void
req_free(struct req *r)
{
	if (r == NULL)
		return;
	sb_buf_free(&r->frame);
	free(r->reg_identity);
	free(r->resp);
	OPENSSL_cleanse(r->reg_code, sizeof(r->reg_code));
	free(r);
}

static void
unlink_req(struct req **list, struct req *r)
{
	for (; *list != NULL; list = &(*list)->next)
		if (*list == r) {
			*list = r->next;
			r->next = NULL;
			return;
		}
}

static void
append(struct req **list, struct req *r)
{
	while (*list != NULL)
		list = &(*list)->next;
	r->next = NULL;
	*list = r;
}

/* 1 while a blob upload or download is on its way (queued, streaming,
 * or waiting for its answer): a resync waits for it, or a flood of
 * resyncs could keep a large attachment from ever getting through. */
static int
transfer_busy(const struct client *c)
{
	const struct req *r;

	if (c->upload != NULL || c->download != NULL)
		return 1;
	for (r = c->inflight; r != NULL; r = r->next)
		if (r->type == PROTO_BLOB_PUT || r->type == PROTO_BLOB_GET)
			return 1;
	for (r = c->pending; r != NULL; r = r->next)
		if (r->type == PROTO_BLOB_PUT || r->type == PROTO_BLOB_GET)
			return 1;
	return 0;
}

/* Completes r (already unlinked from every list). */
static void
finish(struct client *c, struct req *r, int rc)
{
	if (c->resync_requested && !c->stopping)
		event_active(c->wake_ev, EV_READ, 0);   /* maybe its turn now */
	if (c->upload == r)
		c->upload = NULL;
	if (c->download == r)
		c->download = NULL;
	/* SB_ERR_SYSTEM means "look at errno" (sberr.h); the waiting thread
	 * has its own errno, so carry the I/O thread's across. */
	r->sys_errno = rc == SB_ERR_SYSTEM ? errno : 0;
	r->rc = rc;
	r->done = 1;
	if (r->detached)
		req_free(r);
	else
		pthread_cond_broadcast(&c->cond);
}

static struct req *
find_inflight(struct client *c, uint32_t rid)
{
	struct req *r;

	for (r = c->inflight; r != NULL; r = r->next)
		if (r->rid == rid)
			return r;
	return NULL;
}

/* ---- connection ----------------------------------------------------------- */

static void conn_drop(struct client *c, int err);
static void cache_store(struct client *c, const char *address,
    const struct client_lookup *l);
static void flush_pending(struct client *c);

static int
out_len(struct client *c)
{
	return (int)evbuffer_get_length(bufferevent_get_output(c->bev));
}

static int
verify_pin(X509_STORE_CTX *xs, void *arg)
{
	struct client *c = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	uint8_t fp[CLIENT_FP_LEN];
	unsigned int n = 0;

	/* Pinning replaces PKI validation: only the relay's own cert passes,
	 * the current one or, during a rotation, the next (13.10). */
	c->pin_was_next = 0;
	if (leaf != NULL && X509_digest(leaf, EVP_sha256(), fp, &n) == 1 &&
	    n == CLIENT_FP_LEN && c->cfg.has_next &&
	    CRYPTO_memcmp(fp, c->cfg.fingerprint, CLIENT_FP_LEN) != 0 &&
	    CRYPTO_memcmp(fp, c->cfg.next_fingerprint, CLIENT_FP_LEN) == 0) {
		c->pin_was_next = 1;
		return 1;
	}
	if (leaf == NULL || n != CLIENT_FP_LEN ||
	    CRYPTO_memcmp(fp, c->cfg.fingerprint, CLIENT_FP_LEN) != 0) {
		/* OpenSSL calls this inside the handshake, where c->lock is not
		 * held: event_cb moves the flag into last_err under the lock. */
		if (n == CLIENT_FP_LEN)
			memcpy(c->pin_got, fp, CLIENT_FP_LEN);
		else
			memset(c->pin_got, 0, CLIENT_FP_LEN);
		atomic_store(&c->pin_failed, 1);
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	return 1;
}

static int
write_frame(struct client *c, const struct sb_buf *b)
{
	return bufferevent_write(c->bev, b->d, b->len) == 0 ? SB_OK : SB_ERR_ALLOC;
}

static void
send_auth(struct client *c)
{
	struct sb_buf tr = SB_BUF_INIT, sig = SB_BUF_INIT, out = SB_BUF_INIT;
	struct proto_msg m;
	int rc;

	proto_auth_transcript(c->exporter, c->challenge, c->cfg.device_id, &tr);
	rc = tr.err != SB_OK ? tr.err : crypto_sign(c->cfg.sign_key, tr.d, tr.len, &sig);
	if (rc == SB_OK) {
		memset(&m, 0, sizeof(m));
		m.type = PROTO_AUTH;
		m.rid = c->auth_rid = ++c->next_rid;
		m.u64 = c->cfg.device_id;
		m.sig.p = sig.d;
		m.sig.len = sig.len;
		rc = proto_encode(&m, &out);
	}
	if (rc == SB_OK)
		rc = write_frame(c, &out);
	sb_buf_free(&tr);
	sb_buf_free(&sig);
	sb_buf_free(&out);
	if (rc != SB_OK) {
		conn_drop(c, rc);
		return;
	}
	c->state = ST_AUTHING;
}

static int
build_register(struct client *c, struct req *r)
{
	struct sb_buf tr = SB_BUF_INIT, sig = SB_BUF_INIT;
	struct proto_msg m;
	int rc;

	/* LINK_OFFER is REGISTER without a code, under its own context. */
	(r->type == PROTO_LINK_OFFER ? proto_link_transcript : proto_register_transcript)(
	    c->exporter, c->challenge, (const uint8_t *)r->reg_address,
	    strlen(r->reg_address), r->reg_identity, r->reg_identity_len, &tr);
	rc = tr.err != SB_OK ? tr.err : crypto_sign(c->cfg.sign_key, tr.d, tr.len, &sig);
	if (rc == SB_OK) {
		memset(&m, 0, sizeof(m));
		m.type = r->type;
		m.rid = r->rid;
		m.address.p = (const uint8_t *)r->reg_address;
		m.address.len = strlen(r->reg_address);
		m.code.p = (const uint8_t *)r->reg_code;
		m.code.len = strlen(r->reg_code);
		m.suite = r->reg_suite;
		m.identity.p = r->reg_identity;
		m.identity.len = r->reg_identity_len;
		m.name.p = (const uint8_t *)r->reg_name;
		m.name.len = strlen(r->reg_name);
		m.sig.p = sig.d;
		m.sig.len = sig.len;
		sb_buf_free(&r->frame);
		rc = proto_encode(&m, &r->frame);
	}
	sb_buf_free(&tr);
	sb_buf_free(&sig);
	return rc;
}

/* Moves every sendable pending request onto the wire. */
static void
flush_pending(struct client *c)
{
	struct req **pp = &c->pending, *r;
	int rc;

	while ((r = *pp) != NULL) {
		int ok = (r->need == NEED_AUTH && c->state == ST_AUTHED) ||
		    (r->need == NEED_UNAUTH && c->state == ST_CONNECTED) ||
		    (r->need == NEED_ANY && (c->state == ST_CONNECTED ||
		    c->state == ST_AUTHED));

		if (c->bev == NULL || !ok) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		rc = r->type == PROTO_REGISTER || r->type == PROTO_LINK_OFFER ?
		    build_register(c, r) : SB_OK;
		if (rc == SB_OK)
			rc = write_frame(c, &r->frame);
		if (rc != SB_OK) {
			finish(c, r, rc);
			continue;
		}
		mono_now(&r->progress);
		append(&c->inflight, r);
	}
}

static void
schedule_retry(struct client *c)
{
	unsigned min = c->cfg.backoff_min_ms ? c->cfg.backoff_min_ms : 200;
	unsigned max = c->cfg.backoff_max_ms ? c->cfg.backoff_max_ms : 30000;
	struct timeval tv;
	uint16_t jitter = 0;
	unsigned d;

	if (c->stopping || c->state == ST_FAILED)
		return;
	if (c->backoff_ms < min)
		c->backoff_ms = min;
	/* up to +25% jitter so a relay restart is not met by a synchronized herd */
	if (RAND_bytes((unsigned char *)&jitter, sizeof(jitter)) != 1)
		jitter = 0;     /* no jitter is still a correct backoff */
	d = c->backoff_ms + (unsigned)(jitter % (c->backoff_ms / 4 + 1));
	tv.tv_sec = d / 1000;
	tv.tv_usec = (d % 1000) * 1000;
	evtimer_add(c->retry_ev, &tv);
	c->backoff_ms = c->backoff_ms >= max / 2 ? max : c->backoff_ms * 2;
	/* The node that failed or dropped us may be down: the next attempt
	 * goes to the next one (a cluster's nodes are interchangeable; the
	 * backoff above is the same whichever node it tries). */
	c->cur = (c->cur + 1) % c->n_relays;
}

/* Closes the connection: on-the-wire requests fail with err. */
static void
conn_drop(struct client *c, int err)
{
	struct req *r;

	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	while ((r = c->inflight) != NULL) {
		c->inflight = r->next;
		r->next = NULL;
		finish(c, r, err);
	}
	c->upload = c->download = NULL;
	if (c->state != ST_FAILED)
		c->state = ST_DOWN;
	pthread_cond_broadcast(&c->cond);
	schedule_retry(c);
}

static void
fail_pending(struct client *c, int err)
{
	struct req *r;

	while ((r = c->pending) != NULL) {
		c->pending = r->next;
		r->next = NULL;
		finish(c, r, err);
	}
}

/* ---- streaming ------------------------------------------------------------ */

static void
pump_upload(struct client *c)
{
	uint8_t chunk[SB_MAX_BLOB_CHUNK];
	struct sb_buf *b = &c->up_frame;
	struct req *r = c->upload;
	size_t want, n;
	int rc;

	while (r != NULL && r->left > 0 && c->bev != NULL && out_len(c) < (int)OUT_HIGH) {
		want = r->left < sizeof(chunk) ? (size_t)r->left : sizeof(chunk);
		n = 0;
		rc = r->fill(r->fill_arg, chunk, want, &n);
		if (rc == SB_OK && (n == 0 || n > want))
			rc = SB_ERR_TRUNCATED;
		if (rc != SB_OK) {
			/* The relay holds a partial upload: only a reset clears it. */
			unlink_req(&c->inflight, r);
			finish(c, r, rc);
			conn_drop(c, SB_ERR_CLOSED);
			break;
		}
		sb_buf_truncate(b, 0);
		b->err = SB_OK;
		if (proto_encode_blob_data(r->rid, chunk, n, b) != SB_OK ||
		    write_frame(c, b) != SB_OK) {
			conn_drop(c, SB_ERR_ALLOC);
			break;
		}
		r->left -= (uint64_t)n;
		mono_now(&r->progress);
	}
	if (r != NULL && c->upload == r && r->left == 0)
		c->upload = NULL;   /* all sent; the BLOB_URI answer completes it */
}

/* ---- incoming frames ------------------------------------------------------- */

static int
copy_resp(struct req *r, const uint8_t *f, size_t n)
{
	free(r->resp);
	r->resp = malloc(n);
	if (r->resp == NULL)
		return SB_ERR_ALLOC;
	memcpy(r->resp, f, n);
	r->resp_len = n;
	return SB_OK;
}

/* Tells the caller the pins changed (c->lock held on entry and exit;
 * dropped around the callback, as for pushes). */
static void
pins_changed(struct client *c)
{
	uint8_t cur[CLIENT_FP_LEN], next[CLIENT_FP_LEN];
	int has = c->cfg.has_next;

	if (c->cfg.on_pins == NULL)
		return;
	memcpy(cur, c->cfg.fingerprint, CLIENT_FP_LEN);
	memcpy(next, c->cfg.next_fingerprint, CLIENT_FP_LEN);
	pthread_mutex_unlock(&c->lock);
	c->cfg.on_pins(c->cfg.arg, cur, has ? next : NULL);
	pthread_mutex_lock(&c->lock);
}

/* PIN_NEXT: the relay's next certificate (13.10).  This connection's
 * certificate matched a pin, so the announcement is the relay's. */
static void
on_pin_next(struct client *c, const struct proto_msg *m)
{
	if (CRYPTO_memcmp(m->fingerprint, c->cfg.fingerprint, CLIENT_FP_LEN) == 0 ||
	    (c->cfg.has_next &&
	     CRYPTO_memcmp(m->fingerprint, c->cfg.next_fingerprint, CLIENT_FP_LEN) == 0))
		return;   /* known: repeated at every authentication */
	memcpy(c->cfg.next_fingerprint, m->fingerprint, CLIENT_FP_LEN);
	c->cfg.has_next = 1;
	pins_changed(c);
}

static void
on_hello(struct client *c, const struct proto_msg *m)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	if (c->state != ST_TLS || m->version != PROTO_VERSION ||
	    SSL_export_keying_material(ssl, c->exporter, sizeof(c->exporter),
	        PROTO_EXPORTER_LABEL, strlen(PROTO_EXPORTER_LABEL), NULL, 0, 0) != 1) {
		conn_drop(c, SB_ERR_PROTOCOL);
		return;
	}
	if (c->pin_was_next) {
		/* The relay switched: the next certificate is the current one,
		 * and the old one will not come back. */
		c->pin_was_next = 0;
		memcpy(c->cfg.fingerprint, c->cfg.next_fingerprint, CLIENT_FP_LEN);
		c->cfg.has_next = 0;
		pins_changed(c);
		if (c->state != ST_TLS)
			return;   /* dropped while the lock was free */
	}
	memcpy(c->challenge, m->challenge, sizeof(c->challenge));
	c->state = ST_CONNECTED;
	c->last_err = SB_OK;
	c->why[0] = '\0';
	if (c->cfg.device_id != 0) {
		send_auth(c);
		return;
	}
	c->backoff_ms = 0;
	pthread_cond_broadcast(&c->cond);
	flush_pending(c);
}

static void
on_auth_answer(struct client *c, const struct proto_msg *m)
{
	if (m->type == PROTO_OK) {
		c->state = ST_AUTHED;
		c->sessions++;
		c->backoff_ms = 0;
		c->last_err = SB_OK;
		pthread_cond_broadcast(&c->cond);
		flush_pending(c);
		return;
	}
	/* Refused: the key or device is not what the relay knows.  Retrying
	 * would only hammer it; the agent must re-enroll. */
	c->state = ST_FAILED;
	c->last_err = SB_ERR_AUTH;
	fail_pending(c, SB_ERR_AUTH);
	conn_drop(c, SB_ERR_AUTH);
}

static void
on_push(struct client *c, const struct proto_msg *m)
{
	char sender[SB_MAX_ADDRESS + 1];
	struct client_push p;

	if (c->cfg.on_push == NULL)
		return;
	memcpy(sender, m->address.p, m->address.len);
	sender[m->address.len] = '\0';
	memset(&p, 0, sizeof(p));
	p.item_id = m->item_id;
	memcpy(p.msgid, m->msgid, sizeof(p.msgid));
	p.sender = sender;
	p.sender_device = m->sender_device;
	p.timestamp = m->timestamp;
	p.payload = m->data.p;
	p.payload_len = m->data.len;
	/* Unlocked: the callback may call client_ack_async (or take long). */
	pthread_mutex_unlock(&c->lock);
	c->cfg.on_push(c->cfg.arg, &p);
	pthread_mutex_lock(&c->lock);
}

static void
on_blob_data(struct client *c, const struct proto_msg *m)
{
	struct req *r = c->download;
	const uint8_t *p = m->data.p;
	size_t left = m->data.len;
	ssize_t n;

	if (r == NULL || r->rid != m->rid || m->data.len > r->left) {
		conn_drop(c, SB_ERR_PROTOCOL);
		return;
	}
	while (left > 0) {
		n = write(r->fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			unlink_req(&c->inflight, r);
			finish(c, r, SB_ERR_SYSTEM);
			conn_drop(c, SB_ERR_CLOSED);   /* stop the relay's stream */
			return;
		}
		p += n;
		left -= (size_t)n;
	}
	r->left -= m->data.len;
	mono_now(&r->progress);
	if (r->left == 0) {
		unlink_req(&c->inflight, r);
		finish(c, r, SB_OK);
	}
}

/* An answer to request r: decide whether it completes r. */
static void
on_answer(struct client *c, struct req *r, const struct proto_msg *m,
    const uint8_t *frame, size_t len)
{
	int rc = copy_resp(r, frame, len);

	/* (A BLOB_PUT of size 0 asks for the cap: its OK is the answer.) */
	if (rc == SB_OK && m->type == PROTO_OK && r->type == PROTO_BLOB_PUT && r->left > 0) {
		c->upload = r;
		pump_upload(c);
		return;
	}
	if (rc == SB_OK && m->type == PROTO_OK && r->type == PROTO_BLOB_GET && m->u64 > r->max) {
		/* More than the caller can use: refuse it before a byte lands,
		 * and reset the connection, which stops the relay's stream. */
		unlink_req(&c->inflight, r);
		finish(c, r, SB_ERR_LENGTH);
		conn_drop(c, SB_ERR_CLOSED);
		return;
	}
	if (rc == SB_OK && m->type == PROTO_OK && r->type == PROTO_BLOB_GET && m->u64 > 0) {
		r->left = m->u64;
		c->download = r;
		return;
	}
	if (rc == SB_OK && m->type == PROTO_OK && (r->type == PROTO_REGISTER ||
	    (r->type == PROTO_LINK_OFFER && m->u64 != 0))) {
		c->cfg.device_id = m->u64;
		c->state = ST_AUTHED;
		c->sessions++;
		pthread_cond_broadcast(&c->cond);
	}
	unlink_req(&c->inflight, r);
	finish(c, r, rc);
	if (c->state == ST_AUTHED)
		flush_pending(c);
}

static void
on_frame(struct client *c, const uint8_t *frame, size_t len)
{
	struct proto_msg m;
	struct req *r;

	if (proto_decode(frame, len, &m) != SB_OK || proto_type_from_client(m.type) ==
	    (m.type != PROTO_BLOB_DATA)) {
		proto_msg_clear(&m);
		conn_drop(c, SB_ERR_PROTOCOL);
		return;
	}
	if (m.type == PROTO_HELLO)
		on_hello(c, &m);
	else if (m.type == PROTO_PUSH)
		on_push(c, &m);
	else if (m.type == PROTO_BLOB_DATA)
		on_blob_data(c, &m);
	else if (m.type == PROTO_PIN_NEXT)
		on_pin_next(c, &m);
	else if (c->state == ST_AUTHING && m.rid == c->auth_rid)
		on_auth_answer(c, &m);
	else if ((r = find_inflight(c, m.rid)) != NULL)
		on_answer(c, r, &m, frame, len);
	/* else: the answer to a request its caller gave up on */
	proto_msg_clear(&m);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in;
	uint8_t hdr[4];
	size_t total;

	pthread_mutex_lock(&c->lock);
	while (c->bev == bev) {
		in = bufferevent_get_input(bev);
		if (evbuffer_get_length(in) < 4)
			break;
		evbuffer_copyout(in, hdr, 4);
		if (proto_frame_size(hdr, 4, &total) != SB_OK) {
			conn_drop(c, SB_ERR_PROTOCOL);
			break;
		}
		if (evbuffer_get_length(in) < total)
			break;
		on_frame(c, evbuffer_pullup(in, (ssize_t)total), total);
		if (c->bev != bev)
			break;   /* dropped while handling: bev is gone */
		evbuffer_drain(in, total);
	}
	pthread_mutex_unlock(&c->lock);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	(void)bev;
	pthread_mutex_lock(&c->lock);
	pump_upload(c);
	pthread_mutex_unlock(&c->lock);
}

/* Lowercases the first letter of strerror's text: the reason follows a
 * colon in "relay HOST:PORT: connection refused". */
static void
errno_text(int e, char *out, size_t size)
{
	snprintf(out, size, "%s", strerror(e));
	if (out[0] >= 'A' && out[0] <= 'Z' && !(out[1] >= 'A' && out[1] <= 'Z'))
		out[0] = (char)(out[0] - 'A' + 'a');
}

/*
 * Puts into c->why what made a connection attempt end (lock held, before
 * conn_drop frees bev): the pin mismatch with both fingerprints, OpenSSL's
 * first reason, or the socket's errno (a refused connect shows up as a
 * socket error, SO_ERROR, with no OpenSSL error queued).  A connection that
 * got past HELLO ends for reasons a request reports itself: left alone.
 */
static void
conn_explain(struct client *c, struct bufferevent *bev, short what, int pin)
{
	char a[2 * CLIENT_FP_LEN + 1], b[2 * CLIENT_FP_LEN + 1], t[128];
	unsigned long e, first = 0;
	int serr = 0, fd = (int)bufferevent_getfd(bev);
	socklen_t len = sizeof(serr);

	if (c->state != ST_TLS)
		return;
	if (pin) {
		sb_hex(c->cfg.fingerprint, CLIENT_FP_LEN, a);
		sb_hex(c->pin_got, CLIENT_FP_LEN, b);
		snprintf(c->why, sizeof(c->why),
		    "certificate fingerprint mismatch: expected %s, got %s", a, b);
		return;
	}
	/* libevent queues SSL_get_error's code (SSL_ERROR_SYSCALL, ...) before
	 * OpenSSL's own errors: only an error with a reason string says why. */
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (first == 0 && ERR_reason_error_string(e) != NULL)
			first = e;
	if (first != 0) {
		snprintf(c->why, sizeof(c->why), "TLS handshake failed: %s",
		    ERR_reason_error_string(first));
		return;
	}
	if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &serr, &len) == 0 && serr != 0) {
		errno_text(serr, t, sizeof(t));
		snprintf(c->why, sizeof(c->why), "%s", t);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && (serr = EVUTIL_SOCKET_ERROR()) != 0 &&
	    serr != EAGAIN && serr != EINPROGRESS) {
		errno_text(serr, t, sizeof(t));
		/* Connected at TCP level or not, no TLS answer came: say which
		 * part failed when the socket says it was up. */
		snprintf(c->why, sizeof(c->why), "%s", t);
		return;
	}
	snprintf(c->why, sizeof(c->why), "TLS handshake failed: %s",
	    (what & BEV_EVENT_EOF) ? "the relay closed the connection" : "no reason given");
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	pthread_mutex_lock(&c->lock);
	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;

		/* Frames are small and answered at once: Nagle's algorithm
		 * against the peer's delayed ACK added ~40 ms to every
		 * request/answer round (docs/BENCHMARKS.md). */
		(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY,
		    &one, sizeof(one));
		c->state = ST_TLS;   /* HELLO comes next */
	} else {
		int err, pin = atomic_exchange(&c->pin_failed, 0);

		if (pin)
			c->last_err = SB_ERR_TLS;
		err = c->last_err == SB_ERR_TLS ? SB_ERR_TLS : SB_ERR_CLOSED;
		if (c->bev == bev)
			conn_explain(c, bev, what, pin);
		while (bufferevent_get_openssl_error(bev) != 0)
			;
		conn_drop(c, err);
	}
	pthread_mutex_unlock(&c->lock);
}

static void
connect_now(struct client *c)
{
	struct addrinfo hints, *ai = NULL;
	SSL *ssl;
	int gai;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	c->why_at = c->cur;
	if ((gai = getaddrinfo(c->host[c->cur], c->port[c->cur], &hints, &ai)) != 0 ||
	    ai == NULL) {
		snprintf(c->why, sizeof(c->why), "cannot resolve %.100s: %s", c->host[c->cur],
		    gai != 0 ? gai_strerror(gai) : "no address");
		c->last_err = SB_ERR_NET;
		schedule_retry(c);
		return;
	}
	if ((ssl = SSL_new(c->ctx)) == NULL) {
		freeaddrinfo(ai);
		schedule_retry(c);
		return;
	}
	c->bev = bufferevent_openssl_socket_new(c->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		freeaddrinfo(ai);
		schedule_retry(c);
		return;
	}
	c->state = ST_TLS;
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	/* No read high-watermark: libevent 2.1's socket-based OpenSSL
	 * bufferevent stops at it with decrypted bytes left inside the SSL
	 * object, and re-enabling reading only waits for the socket, which
	 * stays quiet when the relay has sent everything: the last pushes of
	 * a burst sat there until the idle timeout (libevent issues 690 and
	 * 854; seen in fault_kill9 after the relay's group commit made pushes
	 * come in bursts).  read_cb consumes every whole frame at once, so
	 * the input never holds more than one partial frame (<= IN_HIGH)
	 * plus one read's worth anyway. */
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, ai->ai_addr, (int)ai->ai_addrlen) != 0) {
		char t[128];

		errno_text(EVUTIL_SOCKET_ERROR(), t, sizeof(t));
		snprintf(c->why, sizeof(c->why), "%s", t);
		conn_drop(c, SB_ERR_NET);
	}
	freeaddrinfo(ai);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&c->lock);
	if (c->bev == NULL && !c->stopping && c->state != ST_FAILED)
		connect_now(c);
	pthread_mutex_unlock(&c->lock);
}

static void
ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	struct req *r;
	struct proto_msg m;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&c->lock);
	if (c->bev != NULL && (c->state == ST_AUTHED || c->state == ST_CONNECTED) &&
	    (r = calloc(1, sizeof(*r))) != NULL) {
		memset(&m, 0, sizeof(m));
		m.type = PROTO_PING;
		m.rid = r->rid = ++c->next_rid;
		r->type = PROTO_PING;
		r->detached = 1;
		r->need = c->state == ST_AUTHED ? NEED_AUTH : NEED_UNAUTH;
		r->fd = -1;
		if (proto_encode(&m, &r->frame) == SB_OK) {
			append(&c->pending, r);
			flush_pending(c);
		} else {
			req_free(r);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&c->lock);
	if (c->stopping) {
		event_base_loopbreak(c->base);
	} else {
		if (c->reset_requested && c->bev != NULL)
			conn_drop(c, SB_ERR_CLOSED);
		c->reset_requested = 0;
		if (c->resync_requested && (c->bev == NULL || !transfer_busy(c))) {
			c->resync_requested = 0;
			if (c->bev != NULL)
				conn_drop(c, SB_ERR_CLOSED);
		}
		flush_pending(c);
	}
	pthread_mutex_unlock(&c->lock);
}

static void *
io_main(void *arg)
{
	struct client *c = arg;

	event_base_loop(c->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* ---- lifetime --------------------------------------------------------------- */

/* "HOST:PORT[,HOST:PORT...]": 1..CLIENT_MAX_RELAYS addresses, none empty. */
static int
split_hostport(struct client *c)
{
	const char *p = c->relay, *end, *colon;
	size_t hl, pl;

	c->n_relays = 0;
	for (;;) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		colon = memrchr(p, ':', (size_t)(end - p));
		if (c->n_relays == CLIENT_MAX_RELAYS || colon == NULL || colon == p)
			return SB_ERR_INVALID_ARG;
		hl = (size_t)(colon - p);
		pl = (size_t)(end - colon - 1);
		if (hl >= sizeof(c->host[0]) || pl == 0 || pl >= sizeof(c->port[0]))
			return SB_ERR_INVALID_ARG;
		memcpy(c->host[c->n_relays], p, hl);
		c->host[c->n_relays][hl] = '\0';
		memcpy(c->port[c->n_relays], colon + 1, pl);
		c->port[c->n_relays][pl] = '\0';
		c->n_relays++;
		if (*end == '\0')
			return SB_OK;
		p = end + 1;
	}
}

int
client_new(const struct client_config *cfg, struct client **out)
{
	struct client *c;
	pthread_condattr_t ca;
	struct timeval ping;

	*out = NULL;
	if (cfg == NULL || cfg->relay == NULL || cfg->sign_key == NULL)
		return SB_ERR_INVALID_ARG;
	pthread_once(&evthread_once, evthread_init);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return SB_ERR_ALLOC;
	c->cfg = *cfg;
	c->relay = strdup(cfg->relay);
	c->address = cfg->address ? strdup(cfg->address) : NULL;
	c->cfg.relay = c->relay;
	c->cfg.address = c->address;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->cache_lock, NULL);
	pthread_mutex_init(&c->log_lock, NULL);
	c->cfg.log_key = NULL;
	c->cfg.log_head = NULL;
	if (cfg->log_key != NULL) {
		memcpy(c->log_key, cfg->log_key, TLOG_KEY_LEN);
		c->have_log_key = 1;
	}
	/* The stored head is checked under the key before its first use. */
	if (cfg->log_head != NULL && cfg->log_head_len > 0 &&
	    cfg->log_head_len <= sizeof(c->head_bytes) &&
	    tlog_sth_parse(cfg->log_head, cfg->log_head_len, &c->head) == SB_OK) {
		memcpy(c->head_bytes, cfg->log_head, cfg->log_head_len);
		c->head_len = cfg->log_head_len;
		c->have_head = 1;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (c->relay == NULL || (cfg->address != NULL && c->address == NULL) ||
	    split_hostport(c) != SB_OK)
		goto fail;
	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(c->ctx, TLS1_3_VERSION) != 1)
		goto fail;
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(c->ctx, verify_pin, c);
	if ((c->base = event_base_new()) == NULL)
		goto fail;
	c->wake_ev = event_new(c->base, -1, 0, wake_cb, c);
	c->retry_ev = evtimer_new(c->base, retry_cb, c);
	c->ping_ev = event_new(c->base, -1, EV_PERSIST, ping_cb, c);
	if (c->wake_ev == NULL || c->retry_ev == NULL || c->ping_ev == NULL)
		goto fail;
	ping.tv_sec = cfg->ping_interval_s ? cfg->ping_interval_s : 60;
	ping.tv_usec = 0;
	event_add(c->ping_ev, &ping);
	c->state = ST_DOWN;
	c->last_err = SB_ERR_NET;
	connect_now(c);   /* before the thread exists: no lock needed yet */
	if (pthread_create(&c->thread, NULL, io_main, c) != 0)
		goto fail;
	c->thread_started = 1;
	*out = c;
	return SB_OK;
fail:
	client_free(c);
	return SB_ERR_ALLOC;
}

void
client_free(struct client *c)
{
	struct req *r;

	if (c == NULL)
		return;
	if (c->thread_started) {
		pthread_mutex_lock(&c->lock);
		c->stopping = 1;
		event_active(c->wake_ev, EV_READ, 0);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	while ((r = c->inflight) != NULL) {
		c->inflight = r->next;
		req_free(r);
	}
	while ((r = c->pending) != NULL) {
		c->pending = r->next;
		req_free(r);
	}
	if (c->wake_ev) event_free(c->wake_ev);
	if (c->retry_ev) event_free(c->retry_ev);
	if (c->ping_ev) event_free(c->ping_ev);
	if (c->base) event_base_free(c->base);
	SSL_CTX_free(c->ctx);
	while (c->cache != NULL) {
		struct cache_ent *e = c->cache;

		c->cache = e->next;
		client_lookup_free(e->l);
		free(e);
	}
	pthread_mutex_destroy(&c->cache_lock);
	pthread_mutex_destroy(&c->log_lock);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	sb_buf_free(&c->up_frame);
	free(c->relay);
	free(c->address);
	free(c);
}

/* A deadline for c->cond, which waits on CLOCK_MONOTONIC. */
static void
deadline_in(struct timespec *ts, unsigned ms)
{
	sb_deadline(CLOCK_MONOTONIC, ms, ts);
}

static int
on_io_thread(struct client *c)
{
	return c->thread_started && pthread_equal(pthread_self(), c->thread);
}

int
client_link(struct client *c)
{
	int rc;

	pthread_mutex_lock(&c->lock);
	if (c->state == ST_AUTHED)
		rc = SB_OK;
	else if (c->last_err == SB_ERR_TLS || c->last_err == SB_ERR_AUTH)
		rc = c->last_err;
	else
		rc = SB_ERR_NET;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int
client_wait_ready(struct client *c, unsigned timeout_ms)
{
	struct timespec dl;
	int rc = SB_ERR_NET;

	if (on_io_thread(c))
		return SB_ERR_INVALID_ARG;
	deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&c->lock);
	for (;;) {
		if (c->state == ST_AUTHED ||
		    (c->cfg.device_id == 0 && c->state == ST_CONNECTED)) {
			rc = SB_OK;
			break;
		}
		if (c->state == ST_FAILED) {
			rc = c->last_err;
			break;
		}
		/* A pin mismatch is not transient: say so now (reconnects go on). */
		if (c->last_err == SB_ERR_TLS) {
			rc = SB_ERR_TLS;
			break;
		}
		if (pthread_cond_timedwait(&c->cond, &c->lock, &dl) == ETIMEDOUT) {
			rc = c->last_err == SB_ERR_TLS ? SB_ERR_TLS : SB_ERR_NET;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int
client_last_error(struct client *c, char *buf, size_t size)
{
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = c->why[0] != '\0' ? SB_OK : SB_ERR_NOT_FOUND;
	/* Of several nodes, say which one the reason is about. */
	if (size > 0 && c->n_relays > 1 && rc == SB_OK)
		snprintf(buf, size, "%s:%s: %s", c->host[c->why_at], c->port[c->why_at], c->why);
	else if (size > 0)
		snprintf(buf, size, "%s", c->why);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

uint64_t
client_device_id(struct client *c)
{
	uint64_t id;

	pthread_mutex_lock(&c->lock);
	id = c->cfg.device_id;
	pthread_mutex_unlock(&c->lock);
	return id;
}

/* ---- blocking requests -------------------------------------------------------- */

static struct req *
req_new(uint8_t type, enum need need)
{
	struct req *r = calloc(1, sizeof(*r));

	if (r != NULL) {
		r->type = type;
		r->need = need;
		r->fd = -1;
	}
	return r;
}

/*
 * Queues r, waits for its answer.  On SB_OK, r->resp holds the answer frame
 * (decode it with proto_decode).  The caller always frees r (req_free).  A
 * request that makes no progress for request_timeout_ms is abandoned:
 * SB_ERR_NET, and if it was on the wire the connection is reset (its
 * answer could otherwise arrive half-way through a blob stream).
 */
static int
submit(struct client *c, struct req *r, struct proto_msg *m)
{
	unsigned tmo = c->cfg.request_timeout_ms ? c->cfg.request_timeout_ms : 30000;
	struct timespec dl;
	int rc;

	if (on_io_thread(c))
		return SB_ERR_INVALID_ARG;
	pthread_mutex_lock(&c->lock);
	r->rid = ++c->next_rid;
	if (c->next_rid == 0)
		r->rid = ++c->next_rid;   /* rid 0 is for pushes */
	if (m != NULL) {
		m->rid = r->rid;
		if ((rc = proto_encode(m, &r->frame)) != SB_OK) {
			pthread_mutex_unlock(&c->lock);
			return rc;
		}
	}
	if (c->state == ST_FAILED) {
		pthread_mutex_unlock(&c->lock);
		return c->last_err;
	}
	mono_now(&r->progress);
	append(&c->pending, r);
	event_active(c->wake_ev, EV_READ, 0);
	if (r->queued != NULL) {
		/* The I/O thread writes pending frames in order: whoever queues
		 * after this call returns goes on the wire after us.  r stays
		 * ours (freed by the caller) whatever the I/O thread does. */
		pthread_mutex_unlock(&c->lock);
		r->queued(r->queued_arg);
		pthread_mutex_lock(&c->lock);
	}
	while (!r->done) {
		deadline_in(&dl, 100);
		pthread_cond_timedwait(&c->cond, &c->lock, &dl);
		if (!r->done && ms_since(&r->progress) > (long long)tmo) {
			struct req *p;
			int was_inflight = 0;

			for (p = c->inflight; p != NULL; p = p->next)
				was_inflight |= p == r;
			unlink_req(&c->pending, r);
			unlink_req(&c->inflight, r);
			if (c->upload == r) c->upload = NULL;
			if (c->download == r) c->download = NULL;
			if (was_inflight) {
				c->reset_requested = 1;
				event_active(c->wake_ev, EV_READ, 0);
			}
			r->rc = c->state == ST_FAILED ? c->last_err : SB_ERR_NET;
			r->done = 1;
		}
	}
	rc = r->rc;
	pthread_mutex_unlock(&c->lock);
	if (rc == SB_ERR_SYSTEM)
		errno = r->sys_errno ? r->sys_errno : EIO;
	return rc;
}

/* Decodes r's answer; maps ERROR to its code.  m must be cleared.  The
 * relay's own SB_ERR_SYSTEM says nothing of our errno: EIO stands for it. */
static int
answer(struct req *r, struct proto_msg *m, uint8_t want)
{
	int rc = proto_decode(r->resp, r->resp_len, m);

	if (rc != SB_OK)
		return SB_ERR_PROTOCOL;
	if (m->type == PROTO_ERROR) {
		if (m->err == SB_ERR_SYSTEM)
			errno = EIO;
		return m->err;
	}
	if (m->type != want)
		return m->type == PROTO_STALE ? SB_ERR_STALE_DEVICES : SB_ERR_PROTOCOL;
	return SB_OK;
}

/* A request answered by OK (its value into *out, which may be NULL). */
static int
ok_request(struct client *c, struct proto_msg *m, uint64_t *out)
{
	struct req *r = req_new(m->type, NEED_AUTH);
	struct proto_msg a;
	int rc;

	if (r == NULL)
		return SB_ERR_ALLOC;
	memset(&a, 0, sizeof(a));
	rc = submit(c, r, m);
	if (rc == SB_OK)
		rc = answer(r, &a, PROTO_OK);
	if (rc == SB_OK && out != NULL)
		*out = a.u64;
	proto_msg_clear(&a);
	req_free(r);
	return rc;
}

/* Simple request with a u64 argument answered by OK. */
static int
simple(struct client *c, uint8_t type, uint64_t v, uint64_t *out)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.u64 = v;
	return ok_request(c, &m, out);
}

/* REGISTER (code) or LINK_OFFER (code NULL): built and signed on the I/O
 * thread, where the session's challenge and exporter are. */
static int
enroll_req(struct client *c, uint8_t type, const char *address, const char *code,
    const uint8_t *identity, size_t identity_len, enum crypto_suite suite,
    const char *device_name, uint64_t *device_id)
{
	struct req *r;
	struct proto_msg a;
	int rc;

	*device_id = 0;
	if (client_device_id(c) != 0)
		return SB_ERR_EXISTS;   /* this client already is a device */
	if (strlen(address) > SB_MAX_ADDRESS || (code && strlen(code) > SB_MAX_CODE) ||
	    strlen(device_name) > SB_MAX_DEVICE_NAME || identity_len > SB_MAX_IDENTITY ||
	    identity_len == 0)
		return SB_ERR_INVALID_ARG;
	if ((r = req_new(type, NEED_UNAUTH)) == NULL ||
	    (r->reg_identity = malloc(identity_len)) == NULL) {
		req_free(r);
		return SB_ERR_ALLOC;
	}
	snprintf(r->reg_address, sizeof(r->reg_address), "%s", address);
	snprintf(r->reg_code, sizeof(r->reg_code), "%s", code ? code : "");
	snprintf(r->reg_name, sizeof(r->reg_name), "%s", device_name);
	memcpy(r->reg_identity, identity, identity_len);
	r->reg_identity_len = identity_len;
	r->reg_suite = (uint8_t)suite;
	memset(&a, 0, sizeof(a));
	rc = submit(c, r, NULL);
	if (rc == SB_OK)
		rc = answer(r, &a, PROTO_OK);
	if (rc == SB_OK)
		*device_id = a.u64;
	proto_msg_clear(&a);
	req_free(r);
	return rc;
}

int
client_register(struct client *c, const char *address, const char *code,
    const uint8_t *identity, size_t identity_len, enum crypto_suite suite,
    const char *device_name, uint64_t *device_id)
{
	return enroll_req(c, PROTO_REGISTER, address, code, identity, identity_len, suite,
	    device_name, device_id);
}

void
client_lookup_free(struct client_lookup *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->devices[i].identity);
	free(l->devices);
	free(l->events);
	free(l);
}

/* ---- the transparency log (PROTOCOL 14.8, 14.9) ------------------------------ */

/* Records a failure for client_log_fault; log_lock held. */
static void
log_fault(struct client *c, int err, const char *address, const char *why,
    const uint8_t *theirs, size_t theirs_len)
{
	struct client_log_fault *f = &c->fault;

	memset(f, 0, sizeof(*f));
	f->err = err;
	if (address != NULL)
		snprintf(f->why, sizeof(f->why), "%s: %s", address, why);
	else
		snprintf(f->why, sizeof(f->why), "%s", why);
	if (err == SB_ERR_LOG_FORK && c->have_head && theirs != NULL &&
	    theirs_len <= sizeof(f->theirs)) {
		memcpy(f->ours, c->head_bytes, c->head_len);
		f->ours_len = c->head_len;
		memcpy(f->theirs, theirs, theirs_len);
		f->theirs_len = theirs_len;
	}
}

/* What on_log_state reports, copied under log_lock, called after it. */
struct log_note {
	int due;
	uint8_t key[TLOG_KEY_LEN];
	uint8_t head[TLOG_MAX_STH];
	size_t head_len;
};

static void
log_note_take(struct client *c, struct log_note *n)
{
	n->due = 1;
	memcpy(n->key, c->log_key, TLOG_KEY_LEN);
	memcpy(n->head, c->head_bytes, c->head_len);
	n->head_len = c->head_len;
}

static void
log_note_send(struct client *c, const struct log_note *n)
{
	if (n->due && c->cfg.on_log_state != NULL)
		c->cfg.on_log_state(c->cfg.arg, n->key, n->head_len ? n->head : NULL,
		    n->head_len);
}

/*
 * The pinned key, fetched (LOG_KEY) when the configuration had none, and
 * the stored head checked under it once.  log_lock held.
 */
static int
log_ready(struct client *c, struct log_note *note)
{
	struct req *r;
	struct proto_msg m, a;
	int rc;

	if (!c->have_log_key) {
		if ((r = req_new(PROTO_LOG_KEY, NEED_ANY)) == NULL)
			return SB_ERR_ALLOC;
		memset(&m, 0, sizeof(m));
		memset(&a, 0, sizeof(a));
		m.type = PROTO_LOG_KEY;
		rc = submit(c, r, &m);
		if (rc == SB_OK)
			rc = answer(r, &a, PROTO_LOG_KEY_RESULT);
		/* Not a P-256 point: no key at all. */
		if (rc == SB_OK && crypto_verify_point(a.log_key, NULL, 0, (const uint8_t *)"",
		    0) == SB_ERR_KEY_INVALID)
			rc = SB_ERR_CONFIG;
		if (rc == SB_OK) {
			memcpy(c->log_key, a.log_key, TLOG_KEY_LEN);
			c->have_log_key = 1;
			log_note_take(c, note);
		}
		proto_msg_clear(&a);
		req_free(r);
		if (rc != SB_OK)
			return rc == SB_ERR_PROTOCOL || rc == SB_ERR_CONFIG ? SB_ERR_CONFIG : rc;
	}
	if (c->have_head && !c->head_checked) {
		if (tlog_sth_verify(c->log_key, &c->head) != SB_OK) {
			log_fault(c, SB_ERR_LOG_PROOF, NULL,
			    "the stored tree head does not verify under the pinned log key",
			    NULL, 0);
			return SB_ERR_LOG_PROOF;
		}
		c->head_checked = 1;
	}
	return SB_OK;
}

/* Adopts a verified head if it is newer.  log_lock held. */
static void
log_adopt(struct client *c, const struct tlog_sth *sth, const uint8_t *bytes, size_t len,
    struct log_note *note)
{
	if (len > sizeof(c->head_bytes) || (c->have_head && sth->size <= c->head.size))
		return;
	c->head = *sth;
	memcpy(c->head_bytes, bytes, len);
	c->head_len = len;
	c->have_head = c->head_checked = 1;
	log_note_take(c, note);
}

/* Appends the checked answer for one address to l. */
static int
log_collect(struct client_lookup *l, const char *address, const struct proto_msg *a,
    const struct tlog_answer *ta)
{
	size_t i, nd = a->n_devices, ne = a->n_proven;
	void *p;

	if (nd > 0) {
		if ((p = realloc(l->devices, (l->n + nd) * sizeof(*l->devices))) == NULL)
			return SB_ERR_ALLOC;
		l->devices = p;
		memset(l->devices + l->n, 0, nd * sizeof(*l->devices));
	}
	for (i = 0; i < nd; i++) {
		struct client_device *d = &l->devices[l->n];
		const struct proto_device *pd = &a->devices[i];

		snprintf(d->address, sizeof(d->address), "%s", address);
		memcpy(d->name, pd->name.p, pd->name.len);
		if ((d->identity = malloc(pd->identity.len ? pd->identity.len : 1)) == NULL)
			return SB_ERR_ALLOC;
		memcpy(d->identity, pd->identity.p, pd->identity.len);
		d->identity_len = pd->identity.len;
		d->id = ta->devices[i].id;
		d->approver = ta->devices[i].approver;
		d->unapproved = ta->devices[i].unapproved;
		d->changed = ta->devices[i].changed;
		l->n++;
	}
	if (ne > 0) {
		if ((p = realloc(l->events, (l->n_events + ne) * sizeof(*l->events))) == NULL)
			return SB_ERR_ALLOC;
		l->events = p;
	}
	for (i = 0; i < ne; i++) {
		struct client_log_event *e = &l->events[l->n_events++];
		const struct tlog_event *t = &ta->events[i];

		memset(e, 0, sizeof(*e));
		snprintf(e->address, sizeof(e->address), "%s", address);
		e->index = t->index;
		e->kind = t->kind;
		e->seq = t->seq;
		e->device = t->device;
		e->time = t->time;
		e->signer = t->signer;
		memcpy(e->hash, t->hash, sizeof(e->hash));
	}
	return SB_OK;
}

/* LOOKUP_LOG of one address, checked whole (14.8).  log_lock held. */
static int
lookup_one(struct client *c, const char *address, struct client_lookup *l, int *unknown,
    struct log_note *note)
{
	struct tlog_proven pe[SB_MAX_LOG_ENTRIES];
	struct tlog_served sv[SB_MAX_DEVICES_PER_ADDR];
	struct tlog_device *dv = NULL;
	struct tlog_event *ev = NULL;
	struct tlog_answer *ta;
	struct proto_msg m, a;
	struct req *r;
	size_t i;
	int rc;

	if ((r = req_new(PROTO_LOOKUP_LOG, NEED_AUTH)) == NULL ||
	    (ta = calloc(1, sizeof(*ta))) == NULL) {
		req_free(r);
		return SB_ERR_ALLOC;
	}
	memset(&m, 0, sizeof(m));
	memset(&a, 0, sizeof(a));
	m.type = PROTO_LOOKUP_LOG;
	m.u64 = c->have_head ? c->head.size : 0;
	m.address.p = (const uint8_t *)address;
	m.address.len = strlen(address);
	rc = submit(c, r, &m);
	if (rc == SB_OK)
		rc = answer(r, &a, PROTO_LOOKUP_LOG_RESULT);
	if (rc == SB_OK && ((a.n_devices && (dv = calloc(a.n_devices, sizeof(*dv))) == NULL) ||
	    (a.n_proven && (ev = calloc(a.n_proven, sizeof(*ev))) == NULL)))
		rc = SB_ERR_ALLOC;
	if (rc == SB_OK) {
		for (i = 0; i < a.n_proven; i++) {
			pe[i].index = a.proven[i].index;
			pe[i].entry = a.proven[i].entry.p;
			pe[i].entry_len = a.proven[i].entry.len;
			pe[i].path = (const uint8_t (*)[TLOG_HASH_LEN])a.proven[i].path.p;
			pe[i].path_len = a.proven[i].path.n;
		}
		for (i = 0; i < a.n_devices; i++) {
			sv[i].id = a.devices[i].id;
			sv[i].identity = a.devices[i].identity.p;
			sv[i].identity_len = a.devices[i].identity.len;
		}
		ta->key = c->log_key;
		ta->known = c->have_head ? &c->head : NULL;
		ta->address = address;
		ta->head = a.head.p;
		ta->head_len = a.head.len;
		ta->consistency = (const uint8_t (*)[TLOG_HASH_LEN])a.hashes.p;
		ta->consistency_len = a.hashes.n;
		ta->entries = pe;
		ta->n_entries = a.n_proven;
		ta->served = sv;
		ta->n_served = a.n_devices;
		ta->devices = dv;
		ta->events = ev;
		rc = tlog_check_answer(ta);
		if (rc == SB_ERR_LOG_PROOF || rc == SB_ERR_LOG_FORK)
			log_fault(c, rc, address, ta->why, a.head.p, a.head.len);
	}
	if (rc == SB_OK) {
		log_adopt(c, &ta->sth, a.head.p, a.head.len, note);
		if (a.n_devices == 0)
			*unknown = 1;
		rc = log_collect(l, address, &a, ta);
	}
	free(dv);
	free(ev);
	free(ta);
	proto_msg_clear(&a);
	req_free(r);
	return rc;
}

/* Lookup, also reporting whether some address had no device at all. */
static int
lookup(struct client *c, const char *const *addrs, size_t n,
    struct client_lookup **out, int *unknown)
{
	struct client_lookup *l;
	struct log_note note = { 0 };
	size_t i;
	int rc;

	*out = NULL;
	*unknown = 0;
	if (n == 0 || n > SB_MAX_LOOKUP_ADDRS)
		return SB_ERR_INVALID_ARG;
	for (i = 0; i < n; i++)
		if (proto_address_valid((const uint8_t *)addrs[i], strlen(addrs[i])) != SB_OK)
			return SB_ERR_INVALID_ARG;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SB_ERR_ALLOC;
	pthread_mutex_lock(&c->log_lock);
	rc = log_ready(c, &note);
	/* One address per request: its whole history and proofs fill a frame. */
	for (i = 0; rc == SB_OK && i < n; i++)
		rc = lookup_one(c, addrs[i], l, unknown, &note);
	pthread_mutex_unlock(&c->log_lock);
	log_note_send(c, &note);
	if (rc != SB_OK) {
		client_lookup_free(l);
		return rc;
	}
	*out = l;
	return SB_OK;
}

int
client_log_key(struct client *c, uint8_t key[TLOG_KEY_LEN])
{
	struct log_note note = { 0 };
	int rc;

	pthread_mutex_lock(&c->log_lock);
	rc = log_ready(c, &note);
	if (rc == SB_OK)
		memcpy(key, c->log_key, TLOG_KEY_LEN);
	pthread_mutex_unlock(&c->log_lock);
	log_note_send(c, &note);
	return rc;
}

int
client_log_head(struct client *c, struct sb_buf *out)
{
	int rc;

	pthread_mutex_lock(&c->log_lock);
	rc = c->have_head && c->head_checked ? sb_put_bytes(out, c->head_bytes, c->head_len) :
	    SB_ERR_NOT_FOUND;
	pthread_mutex_unlock(&c->log_lock);
	return rc;
}

int
client_log_fault(struct client *c, struct client_log_fault *f)
{
	int rc;

	pthread_mutex_lock(&c->log_lock);
	rc = c->fault.err != 0 ? SB_OK : SB_ERR_NOT_FOUND;
	*f = c->fault;
	pthread_mutex_unlock(&c->log_lock);
	return rc;
}

/* LOG_PROVE between two sizes.  log_lock held. */
static int
log_prove(struct client *c, uint64_t first, uint64_t second,
    uint8_t proof[][TLOG_HASH_LEN], size_t *len)
{
	struct req *r = req_new(PROTO_LOG_PROVE, NEED_AUTH);
	struct proto_msg m, a;
	int rc;

	*len = 0;
	if (r == NULL)
		return SB_ERR_ALLOC;
	memset(&m, 0, sizeof(m));
	memset(&a, 0, sizeof(a));
	m.type = PROTO_LOG_PROVE;
	m.u64 = first;
	m.u64b = second;
	rc = submit(c, r, &m);
	if (rc == SB_OK)
		rc = answer(r, &a, PROTO_LOG_PROOF);
	if (rc == SB_OK) {
		memcpy(proof, a.hashes.p, a.hashes.n * TLOG_HASH_LEN);
		*len = a.hashes.n;
	}
	proto_msg_clear(&a);
	req_free(r);
	return rc;
}

int
client_log_check_head(struct client *c, const uint8_t *head, size_t len)
{
	struct log_note note = { 0 };
	uint8_t proof[TLOG_MAX_PROOF][TLOG_HASH_LEN];
	const struct tlog_sth *lo, *hi;
	struct client_lookup *own = NULL;
	struct tlog_sth g;
	size_t plen = 0;
	char why[200];
	int unknown, rc;

	pthread_mutex_lock(&c->log_lock);
	rc = log_ready(c, &note);
	if (rc == SB_OK && (rc = tlog_sth_open(c->log_key, head, len, &g)) != SB_OK) {
		pthread_mutex_unlock(&c->log_lock);
		log_note_send(c, &note);
		return rc;   /* not this log's head: nothing to compare */
	}
	/* No head of our own yet: the relay's, checked, for the comparison. */
	if (rc == SB_OK && !c->have_head && c->address != NULL) {
		if ((own = calloc(1, sizeof(*own))) == NULL)
			rc = SB_ERR_ALLOC;
		else
			rc = lookup_one(c, c->address, own, &unknown, &note);
		client_lookup_free(own);
	}
	if (rc == SB_OK && !c->have_head)
		rc = SB_ERR_NOT_FOUND;
	if (rc == SB_OK) {
		lo = g.size < c->head.size ? &g : &c->head;
		hi = lo == &g ? &c->head : &g;
		if (g.size == c->head.size) {
			if (CRYPTO_memcmp(g.root, c->head.root, TLOG_HASH_LEN) != 0)
				rc = SB_ERR_LOG_FORK;
		} else {
			rc = log_prove(c, lo->size, hi->size, proof, &plen);
			/* A relay that cannot prove the two heads consistent has
			 * signed a head of another log: a fork.  A relay out of
			 * reach proves nothing either way. */
			if (rc != SB_OK && rc != SB_ERR_NET && rc != SB_ERR_CLOSED &&
			    rc != SB_ERR_TLS && rc != SB_ERR_AUTH && rc != SB_ERR_ALLOC)
				rc = SB_ERR_LOG_FORK;
			else if (rc == SB_OK && tlog_verify_consistency(lo->size, hi->size,
			    lo->root, hi->root, (const uint8_t (*)[TLOG_HASH_LEN])proof,
			    plen) != SB_OK)
				rc = SB_ERR_LOG_FORK;
		}
		if (rc == SB_ERR_LOG_FORK) {
			snprintf(why, sizeof(why), "a gossiped tree head of size %llu is not"
			    " consistent with ours (size %llu)", (unsigned long long)g.size,
			    (unsigned long long)c->head.size);
			log_fault(c, rc, NULL, why, head, len);
		}
	}
	pthread_mutex_unlock(&c->log_lock);
	log_note_send(c, &note);
	return rc;
}

/* ---- linking ------------------------------------------------------------------ */

int
client_link_offer(struct client *c, const char *address, const uint8_t *identity,
    size_t identity_len, enum crypto_suite suite, const char *device_name,
    uint64_t *device_id)
{
	return enroll_req(c, PROTO_LINK_OFFER, address, NULL, identity, identity_len, suite,
	    device_name, device_id);
}

int
client_link_list(struct client *c, struct client_link_offer **out, size_t *n)
{
	struct req *r = req_new(PROTO_LINK_LIST, NEED_AUTH);
	struct client_link_offer *v = NULL;
	struct crypto_identity *id;
	struct proto_msg m, a;
	size_t i, k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (r == NULL)
		return SB_ERR_ALLOC;
	memset(&m, 0, sizeof(m));
	memset(&a, 0, sizeof(a));
	m.type = PROTO_LINK_LIST;
	rc = submit(c, r, &m);
	if (rc == SB_OK)
		rc = answer(r, &a, PROTO_LINK_OFFERS);
	if (rc == SB_OK && a.n_offers > 0 && (v = calloc(a.n_offers, sizeof(*v))) == NULL)
		rc = SB_ERR_ALLOC;
	for (i = 0; rc == SB_OK && i < a.n_offers; i++) {
		const struct proto_link_offer *o = &a.offers[i];

		if (crypto_identity_parse(o->identity.p, o->identity.len, &id) != SB_OK)
			continue;
		v[k].suite = (enum crypto_suite)o->suite;
		memcpy(v[k].identity, o->identity.p, o->identity.len);
		v[k].identity_len = o->identity.len;
		memcpy(v[k].hash, crypto_identity_hash(id), CRYPTO_HASH_LEN);
		crypto_identity_free(id);
		/* Names come from another machine: shown, so checked. */
		if (proto_device_name_valid(o->name.p, o->name.len) == SB_OK)
			memcpy(v[k].name, o->name.p, o->name.len);
		v[k].time = o->time;
		rc = tlog_link_code(v[k].hash, v[k].code);
		k++;
	}
	proto_msg_clear(&a);
	req_free(r);
	if (rc != SB_OK || k == 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = k;
	return SB_OK;
}

int
client_link_approve(struct client *c, const char *code, uint64_t *device_id,
    struct client_link_offer *which)
{
	static const uint8_t zero[CRYPTO_HASH_LEN];
	struct client_link_offer *v = NULL, *o = NULL;
	struct sb_buf text = SB_BUF_INIT, sig = SB_BUF_INIT;
	uint8_t addr[TLOG_HASH_LEN];
	struct proto_msg m, a;
	struct req *r = NULL;
	size_t n = 0, i;
	int rc;

	*device_id = 0;
	if (c->address == NULL)
		return SB_ERR_INVALID_ARG;
	/* A typo is refused before anything is asked of the relay. */
	if ((rc = tlog_link_code_match(code, zero)) == SB_ERR_FORMAT)
		return rc;
	if ((rc = client_link_list(c, &v, &n)) != SB_OK)
		return rc;
	/* The code names the keys: the relay cannot offer others for it. */
	for (i = 0; i < n && o == NULL; i++)
		if (tlog_link_code_match(code, v[i].hash) == SB_OK)
			o = &v[i];
	rc = o == NULL ? SB_ERR_NOT_FOUND : SB_OK;
	if (rc == SB_OK)
		rc = tlog_addr_hash(c->address, strlen(c->address), addr);
	if (rc == SB_OK)
		rc = tlog_approve_text(addr, o->hash, &text);
	if (rc == SB_OK)
		rc = crypto_sign(c->cfg.sign_key, text.d, text.len, &sig);
	if (rc == SB_OK && (r = req_new(PROTO_LINK_APPROVE, NEED_AUTH)) == NULL)
		rc = SB_ERR_ALLOC;
	memset(&a, 0, sizeof(a));
	if (rc == SB_OK) {
		memset(&m, 0, sizeof(m));
		m.type = PROTO_LINK_APPROVE;
		m.identity.p = o->identity;
		m.identity.len = o->identity_len;
		m.sig.p = sig.d;
		m.sig.len = sig.len;
		rc = submit(c, r, &m);
	}
	if (rc == SB_OK)
		rc = answer(r, &a, PROTO_OK);
	if (rc == SB_OK) {
		*device_id = a.u64;
		if (which != NULL)
			*which = *o;
	}
	proto_msg_clear(&a);
	req_free(r);
	sb_buf_free(&text);
	sb_buf_free(&sig);
	free(v);
	return rc;
}

int
client_lookup(struct client *c, const char *const *addresses, size_t n,
    struct client_lookup **out)
{
	size_t i;
	int unknown, rc;

	rc = lookup(c, addresses, n, out, &unknown);
	for (i = 0; rc == SB_OK && i < n; i++)
		cache_store(c, addresses[i], *out);
	return rc;
}

void
client_stale_clear(struct client_stale *s)
{
	if (s == NULL)
		return;
	free(s->missing);
	free(s->extra);
	memset(s, 0, sizeof(*s));
}

static int
copy_ids(uint64_t **dst, size_t *n_dst, const uint64_t *src, size_t n)
{
	*dst = NULL;
	*n_dst = 0;
	if (n == 0)
		return SB_OK;
	if ((*dst = malloc(n * sizeof(**dst))) == NULL)
		return SB_ERR_ALLOC;
	memcpy(*dst, src, n * sizeof(**dst));
	*n_dst = n;
	return SB_OK;
}

static int
send_batch(struct client *c, const uint8_t msgid[PROTO_MSGID_LEN],
    const char *const *to, size_t n_to, const struct client_item *items,
    size_t n_items, uint64_t *timestamp, struct client_stale *stale,
    void (*queued)(void *), void *queued_arg)
{
	struct proto_bytes b[SB_MAX_LOOKUP_ADDRS];
	struct proto_item it[SB_MAX_BATCH_DEVICES];
	struct proto_msg m, a;
	struct req *r;
	size_t i;
	int rc;

	if (stale != NULL)
		memset(stale, 0, sizeof(*stale));
	if (n_to == 0 || n_to > SB_MAX_LOOKUP_ADDRS || n_items > SB_MAX_BATCH_DEVICES)
		return SB_ERR_INVALID_ARG;
	for (i = 0; i < n_to; i++) {
		b[i].p = (const uint8_t *)to[i];
		b[i].len = strlen(to[i]);
	}
	for (i = 0; i < n_items; i++) {
		it[i].device_id = items[i].device_id;
		it[i].payload.p = items[i].payload;
		it[i].payload.len = items[i].payload_len;
	}
	if ((r = req_new(PROTO_SEND, NEED_AUTH)) == NULL)
		return SB_ERR_ALLOC;
	r->queued = queued;
	r->queued_arg = queued_arg;
	memset(&m, 0, sizeof(m));
	memset(&a, 0, sizeof(a));
	m.type = PROTO_SEND;
	memcpy(m.msgid, msgid, PROTO_MSGID_LEN);
	m.addrs = b;
	m.n_addrs = n_to;
	m.items = it;
	m.n_items = n_items;
	rc = submit(c, r, &m);
	if (rc == SB_OK)
		rc = answer(r, &a, PROTO_OK);
	if (rc == SB_OK && timestamp != NULL)
		*timestamp = a.u64;
	if (rc == SB_ERR_STALE_DEVICES && stale != NULL &&
	    (copy_ids(&stale->missing, &stale->n_missing, a.missing, a.n_missing) != SB_OK ||
	     copy_ids(&stale->extra, &stale->n_extra, a.extra, a.n_extra) != SB_OK)) {
		client_stale_clear(stale);
		rc = SB_ERR_ALLOC;
	}
	proto_msg_clear(&a);
	req_free(r);
	return rc;
}

int
client_send_batch(struct client *c, const uint8_t msgid[PROTO_MSGID_LEN],
    const char *const *to, size_t n_to, const struct client_item *items,
    size_t n_items, uint64_t *timestamp, struct client_stale *stale)
{
	return send_batch(c, msgid, to, n_to, items, n_items, timestamp, stale, NULL, NULL);
}

/* Appends deep copies of src's devices (those of `address`, or all when
 * address is NULL) to dst. */
static int
lookup_append(struct client_lookup *dst, const struct client_lookup *src,
    const char *address)
{
	struct client_device *v;
	size_t i, n = 0;

	for (i = 0; i < src->n; i++)
		n += address == NULL || strcmp(src->devices[i].address, address) == 0;
	if (n == 0)
		return SB_OK;
	v = realloc(dst->devices, (dst->n + n) * sizeof(*v));
	if (v == NULL)
		return SB_ERR_ALLOC;
	dst->devices = v;
	for (i = 0; i < src->n; i++) {
		const struct client_device *d = &src->devices[i];
		struct client_device *o = &dst->devices[dst->n];

		if (address != NULL && strcmp(d->address, address) != 0)
			continue;
		*o = *d;
		if ((o->identity = malloc(d->identity_len ? d->identity_len : 1)) == NULL)
			return SB_ERR_ALLOC;
		memcpy(o->identity, d->identity, d->identity_len);
		dst->n++;
	}
	return SB_OK;
}

/* Remembers (a copy of) address's devices from a lookup answer. */
static void
cache_store(struct client *c, const char *address, const struct client_lookup *l)
{
	struct cache_ent **pp, *e;
	struct client_lookup *copy = calloc(1, sizeof(*copy));

	if (copy == NULL || lookup_append(copy, l, address) != SB_OK || copy->n == 0) {
		/* nothing cached for an address without devices: a fresh
		 * enrollment is seen at the next send */
		client_lookup_free(copy);
		return;
	}
	pthread_mutex_lock(&c->cache_lock);
	for (pp = &c->cache; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->address, address) == 0)
			break;
	if ((e = *pp) == NULL && (e = calloc(1, sizeof(*e))) != NULL) {
		snprintf(e->address, sizeof(e->address), "%s", address);
		*pp = e;
	}
	if (e != NULL) {
		client_lookup_free(e->l);
		e->l = copy;
		mono_now(&e->at);
	} else {
		client_lookup_free(copy);
	}
	pthread_mutex_unlock(&c->cache_lock);
}

/* Appends the cached devices of address to dst: 1 if fresh ones were
 * there, 0 if the caller must look it up. */
static int
cache_get(struct client *c, const char *address, struct client_lookup *dst)
{
	struct cache_ent *e;
	int hit = 0;

	pthread_mutex_lock(&c->cache_lock);
	for (e = c->cache; e != NULL; e = e->next)
		if (strcmp(e->address, address) == 0)
			break;
	if (e != NULL && ms_since(&e->at) < CACHE_TTL_MS &&
	    lookup_append(dst, e->l, NULL) == SB_OK)
		hit = 1;
	pthread_mutex_unlock(&c->cache_lock);
	return hit;
}

static void
cache_forget(struct client *c, const char *const *addrs, size_t n)
{
	struct cache_ent **pp, *e;
	size_t i;

	pthread_mutex_lock(&c->cache_lock);
	for (i = 0; i < n; i++)
		for (pp = &c->cache; (e = *pp) != NULL; pp = &e->next)
			if (strcmp(e->address, addrs[i]) == 0) {
				*pp = e->next;
				client_lookup_free(e->l);
				free(e);
				break;
			}
	pthread_mutex_unlock(&c->cache_lock);
}

/* Recipients' devices + our other devices, each once: from the cache, and
 * one LOOKUP for the addresses it does not hold. */
static int
target_devices(struct client *c, const char *const *addrs, size_t n_addrs,
    size_t n_to, struct client_lookup **out)
{
	const char *miss[SB_MAX_LOOKUP_ADDRS];
	struct client_lookup *res, *l = NULL;
	size_t i, j, k, n_miss = 0;
	uint64_t self = client_device_id(c);
	int unknown, rc = SB_OK;

	*out = NULL;
	if ((res = calloc(1, sizeof(*res))) == NULL)
		return SB_ERR_ALLOC;
	for (i = 0; i < n_addrs; i++)
		if (!cache_get(c, addrs[i], res))
			miss[n_miss++] = addrs[i];
	if (n_miss > 0 && (rc = lookup(c, miss, n_miss, &l, &unknown)) == SB_OK) {
		for (i = 0; i < n_miss; i++)
			cache_store(c, miss[i], l);
		rc = lookup_append(res, l, NULL);
		client_lookup_free(l);
	}
	/* Our own address may legitimately have no other device; recipients
	 * must have at least one. */
	for (i = 0; rc == SB_OK && i < n_to; i++) {
		int found = 0;

		for (j = 0; j < res->n; j++)
			found |= strcmp(res->devices[j].address, addrs[i]) == 0;
		if (!found)
			rc = SB_ERR_UNKNOWN_RECIPIENT;
	}
	if (rc != SB_OK) {
		client_lookup_free(res);
		return rc;
	}
	for (i = 0, k = 0; i < res->n; i++) {
		int dup = res->devices[i].id == self;

		for (j = 0; j < k && !dup; j++)
			dup = res->devices[j].id == res->devices[i].id;
		if (dup) {
			free(res->devices[i].identity);
			continue;
		}
		res->devices[k++] = res->devices[i];
	}
	res->n = k;
	*out = res;
	return SB_OK;
}

int
client_send(struct client *c, const uint8_t msgid[PROTO_MSGID_LEN],
    const char *const *to, size_t n_to, client_reseal_fn reseal, void *arg,
    uint64_t *timestamp)
{
	return client_send_ex(c, msgid, to, n_to, reseal, NULL, arg, timestamp);
}

int
client_send_ex(struct client *c, const uint8_t msgid[PROTO_MSGID_LEN],
    const char *const *to, size_t n_to, client_reseal_fn reseal,
    void (*queued)(void *arg), void *arg, uint64_t *timestamp)
{
	struct client_item items[SB_MAX_BATCH_DEVICES];
	struct sb_buf payloads[SB_MAX_BATCH_DEVICES];
	const char *addrs[SB_MAX_LOOKUP_ADDRS];
	struct client_lookup *l = NULL;
	size_t i, n_addrs = 0;
	int round, rc = SB_ERR_STALE_DEVICES;

	if (n_to == 0 || n_to >= SB_MAX_LOOKUP_ADDRS)
		return SB_ERR_INVALID_ARG;
	for (i = 0; i < n_to; i++)
		addrs[n_addrs++] = to[i];
	if (c->address != NULL)
		addrs[n_addrs++] = c->address;
	for (round = 0; round < SEND_ROUNDS && rc == SB_ERR_STALE_DEVICES; round++) {
		/* after a stale refusal, ask the directory again */
		if (round > 0)
			cache_forget(c, addrs, n_addrs);
		if ((rc = target_devices(c, addrs, n_addrs, n_to, &l)) != SB_OK)
			break;
		if (l->n > SB_MAX_BATCH_DEVICES) {
			client_lookup_free(l);
			rc = SB_ERR_TOO_BIG;
			break;
		}
		for (i = 0; i < l->n; i++)
			payloads[i] = (struct sb_buf)SB_BUF_INIT;
		rc = reseal(arg, l->devices, l->n, payloads);
		for (i = 0; rc == SB_OK && i < l->n; i++) {
			items[i].device_id = l->devices[i].id;
			items[i].payload = payloads[i].d;
			items[i].payload_len = payloads[i].len;
			if (payloads[i].err != SB_OK)
				rc = payloads[i].err;
		}
		if (rc == SB_OK)
			rc = send_batch(c, msgid, to, n_to, items, l->n, timestamp, NULL,
			    queued, arg);
		for (i = 0; i < l->n; i++)
			sb_buf_free(&payloads[i]);
		client_lookup_free(l);
		l = NULL;
	}
	return rc;
}

int
client_ack(struct client *c, uint64_t item_id)
{
	return simple(c, PROTO_ACK, item_id, NULL);
}

int
client_ack_async(struct client *c, uint64_t item_id)
{
	struct req *r = req_new(PROTO_ACK, NEED_AUTH);
	struct proto_msg m;
	int rc;

	if (r == NULL)
		return SB_ERR_ALLOC;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_ACK;
	m.u64 = item_id;
	r->detached = 1;
	/* Called from the push callback the lock is free (on_push drops it). */
	pthread_mutex_lock(&c->lock);
	m.rid = r->rid = ++c->next_rid;
	rc = proto_encode(&m, &r->frame);
	if (rc == SB_OK) {
		append(&c->pending, r);
		event_active(c->wake_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&c->lock);
	if (rc != SB_OK)
		req_free(r);
	return rc;
}

void
client_resync(struct client *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->bev != NULL && !c->stopping) {
		c->resync_requested = 1;
		event_active(c->wake_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&c->lock);
}

int
client_status(struct client *c, const uint8_t msgid[PROTO_MSGID_LEN],
    struct proto_status_entry **out, size_t *n)
{
	struct req *r = req_new(PROTO_STATUS, NEED_AUTH);
	struct proto_msg m, a;
	int rc;

	*out = NULL;
	*n = 0;
	if (r == NULL)
		return SB_ERR_ALLOC;
	memset(&m, 0, sizeof(m));
	memset(&a, 0, sizeof(a));
	m.type = PROTO_STATUS;
	memcpy(m.msgid, msgid, PROTO_MSGID_LEN);
	rc = submit(c, r, &m);
	if (rc == SB_OK)
		rc = answer(r, &a, PROTO_STATUS_RESULT);
	if (rc == SB_OK) {
		/* hand the decoded array over to the caller */
		*out = a.status;
		*n = a.n_status;
		a.status = NULL;
		a.n_status = 0;
	}
	proto_msg_clear(&a);
	req_free(r);
	return rc;
}

int
client_remove(struct client *c, uint64_t device_id)
{
	const char *own[1] = { c->address };
	struct client_lookup *l = NULL;
	struct sb_buf text = SB_BUF_INIT, sig = SB_BUF_INIT;
	uint8_t addr[TLOG_HASH_LEN], hash[CRYPTO_HASH_LEN];
	struct crypto_identity *id = NULL;
	struct proto_msg m, a;
	struct req *r = NULL;
	size_t i;
	int unknown, rc;

	if (c->address == NULL)
		return SB_ERR_INVALID_ARG;
	/* The identity the removal names is the one the log shows. */
	if ((rc = lookup(c, own, 1, &l, &unknown)) != SB_OK)
		return rc;
	for (i = 0; i < l->n && l->devices[i].id != device_id; i++)
		;
	if (i == l->n)
		rc = SB_ERR_PERMISSION;   /* not ours, or no such device */
	if (rc == SB_OK)
		rc = crypto_identity_parse(l->devices[i].identity, l->devices[i].identity_len, &id);
	if (rc == SB_OK) {
		memcpy(hash, crypto_identity_hash(id), sizeof(hash));
		crypto_identity_free(id);
		rc = tlog_addr_hash(c->address, strlen(c->address), addr);
	}
	client_lookup_free(l);
	if (rc == SB_OK)
		rc = tlog_remove_text(addr, device_id, hash, &text);
	if (rc == SB_OK)
		rc = crypto_sign(c->cfg.sign_key, text.d, text.len, &sig);
	if (rc == SB_OK && (r = req_new(PROTO_REMOVE_SIGNED, NEED_AUTH)) == NULL)
		rc = SB_ERR_ALLOC;
	memset(&a, 0, sizeof(a));
	if (rc == SB_OK) {
		memset(&m, 0, sizeof(m));
		m.type = PROTO_REMOVE_SIGNED;
		m.u64 = device_id;
		m.sig.p = sig.d;
		m.sig.len = sig.len;
		rc = submit(c, r, &m);
	}
	if (rc == SB_OK)
		rc = answer(r, &a, PROTO_OK);
	proto_msg_clear(&a);
	req_free(r);
	sb_buf_free(&text);
	sb_buf_free(&sig);
	return rc;
}

/* client_blob_upload's producer: read(2) from the caller's fd. */
static int
fill_from_fd(void *arg, uint8_t *buf, size_t want, size_t *got)
{
	int fd = *(const int *)arg;
	ssize_t n;

	do
		n = read(fd, buf, want);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return SB_ERR_SYSTEM;
	*got = (size_t)n;
	return SB_OK;
}

int
client_blob_upload(struct client *c, int fd, uint64_t size, char uri[SB_MAX_URI + 1])
{
	return client_blob_upload_fill(c, size, fill_from_fd, &fd, uri);
}

int
client_blob_upload_fill(struct client *c, uint64_t size, client_blob_fill_fn fill,
    void *arg, char uri[SB_MAX_URI + 1])
{
	struct req *r = req_new(PROTO_BLOB_PUT, NEED_AUTH);
	struct proto_msg m, a;
	int rc;

	uri[0] = '\0';
	if (r == NULL)
		return SB_ERR_ALLOC;
	if (size == 0 || fill == NULL) {
		req_free(r);
		return SB_ERR_INVALID_ARG;
	}
	r->fill = fill;
	r->fill_arg = arg;
	r->left = size;
	memset(&m, 0, sizeof(m));
	memset(&a, 0, sizeof(a));
	m.type = PROTO_BLOB_PUT;
	m.u64 = size;
	rc = submit(c, r, &m);
	if (rc == SB_OK)
		rc = answer(r, &a, PROTO_BLOB_URI);
	if (rc == SB_OK) {
		memcpy(uri, a.text.p, a.text.len);
		uri[a.text.len] = '\0';
	}
	proto_msg_clear(&a);
	req_free(r);
	return rc;
}

int
client_blob_cap(struct client *c, uint64_t *cap)
{
	int known, rc;

	*cap = 0;
	pthread_mutex_lock(&c->lock);
	known = c->state == ST_AUTHED && c->sessions != 0 && c->cap_session == c->sessions;
	if (known)
		*cap = c->cap;
	pthread_mutex_unlock(&c->lock);
	if (known)
		return SB_OK;
	/* BLOB_PUT of size 0 starts no upload: it asks (PROTOCOL.md 13.6). */
	rc = simple(c, PROTO_BLOB_PUT, 0, cap);
	if (rc == SB_OK || rc == SB_ERR_TOO_BIG) {
		/* TOO_BIG: a relay from before the cap was announced. */
		if (rc != SB_OK)
			*cap = 0;
		pthread_mutex_lock(&c->lock);
		if (c->state == ST_AUTHED) {
			c->cap_session = c->sessions;
			c->cap = *cap;
		}
		pthread_mutex_unlock(&c->lock);
		rc = SB_OK;
	}
	return rc;
}

int
client_blob_delete(struct client *c, const char *uri)
{
	struct proto_msg m;
	uint64_t cap;
	int rc;

	if (strlen(uri) > SB_MAX_URI)
		return SB_ERR_INVALID_ARG;
	if ((rc = client_blob_cap(c, &cap)) != SB_OK)
		return rc;
	if (cap == 0)
		return SB_ERR_PROTOCOL;     /* an older relay: it would hang up */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_BLOB_DELETE;
	m.text.p = (const uint8_t *)uri;
	m.text.len = strlen(uri);
	return ok_request(c, &m, NULL);
}

int
client_blob_download(struct client *c, const char *uri, int fd, uint64_t max,
    uint64_t *size)
{
	struct req *r = req_new(PROTO_BLOB_GET, NEED_AUTH);
	struct proto_msg m, a;
	int rc;

	*size = 0;
	if (r == NULL)
		return SB_ERR_ALLOC;
	if (strlen(uri) > SB_MAX_URI) {
		req_free(r);
		return SB_ERR_INVALID_ARG;
	}
	r->fd = fd;
	r->max = max;
	memset(&m, 0, sizeof(m));
	memset(&a, 0, sizeof(a));
	m.type = PROTO_BLOB_GET;
	m.text.p = (const uint8_t *)uri;
	m.text.len = strlen(uri);
	rc = submit(c, r, &m);
	if (rc == SB_OK)
		rc = answer(r, &a, PROTO_OK);
	if (rc == SB_OK)
		*size = a.u64;
	proto_msg_clear(&a);
	req_free(r);
	return rc;
}
