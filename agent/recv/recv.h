/*
 * recv.h - the agent's RECEIVE part (recv.c, attach.c): the push queue and
 * its worker, verification, attachment fetch; and the pure rules the unit
 * tests check (tests/unit/test_inbox.c).
 *
 * It receives pushed messages, verifies them and writes them into the
 * store (msgstore/); it never acknowledges an item before its record is
 * durable.  It never calls the send side or the namespace views, and
 * includes neither outbox.h nor view.h (scripts/check-layers.sh).  The
 * queue keeps its old name, struct inbox (a->in).
 */
#ifndef SB_AGENT_RECV_H
#define SB_AGENT_RECV_H

#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/internal.h"
#include "agent/msgstore/msgstore.h"
#include "agent/names.h"
#include "crypto/crypto.h"

/* What the envelope carries is what the store keeps. */
#define INBOX_MSGID_LEN     MSGSTORE_MSGID_LEN
#define INBOX_KEYHASH_LEN   MSGSTORE_KEYHASH_LEN
#define ATTACH_REF_BUF      MSGSTORE_REF_BUF
/* The key-block hash covers the payload's first bytes: the RSA/ECIES block
 * that carries K sits there, so a replayed key block is caught even when
 * the attacker re-frames the rest. */
#define INBOX_KEYBLOCK_LEN  256
/* How far the sender's clock may run ahead of the relay's, and how old a
 * message may be when the relay accepts it (a sender offline or crashed
 * submits later; the relay keeps nothing longer than its retention). */
#define INBOX_MAX_FUTURE_S  (10 * 60)
#define INBOX_MAX_AGE_S     (31 * 24 * 3600)
/* Pending pushes kept in memory; beyond it new ones are dropped unacked
 * (the relay keeps them and pushes them again on the next connection). */
#define INBOX_QUEUE_MAX     4096
/* One sender's share of the queue.  Without it a sender whose items sit
 * waiting (an attachment whose blob is bad is fetched again for a minute)
 * could fill the queue and have everyone else's pushes dropped (issue 12,
 * finding 1): filling it now takes INBOX_QUEUE_MAX / INBOX_SENDER_MAX
 * accounts. */
#define INBOX_SENDER_MAX    256
/* Items verified and stored in one transaction, one fsync, then
 * acknowledged together: everything the relay pushed that is waiting, up
 * to this many (a batch holds at most this many payloads in memory, which
 * the queue holds anyway). */
#define INBOX_BATCH_MAX     64
/* Senders whose pushes were dropped, remembered for the resync; more than
 * this and the resync waits for the whole queue to drain instead. */
#define INBOX_DROPPED_MAX   16
/* Resyncs (a reconnection, after which the relay pushes its backlog again)
 * are spaced from 1 s, doubling while pushes keep being dropped, to 60 s. */
#define INBOX_RESYNC_MIN_MS 1000
#define INBOX_RESYNC_MAX_MS 60000

/* One push copied off the client's I/O thread. */
struct inbox_item {
	struct inbox_item *next;
	uint64_t item_id;
	uint8_t msgid[INBOX_MSGID_LEN];
	char *sender;
	uint64_t sender_device;
	uint64_t timestamp;
	uint8_t *payload;
	size_t payload_len;
	/* attachment fetches whose blob failed its checks, since when
	 * (monotonic seconds), and when the item may next be tried (monotonic
	 * ms; also set by a lack of local space) */
	unsigned blob_tries;
	int64_t blob_first_s, blob_next_ms;
	/* tries that found too little local space for the attachment, and
	 * its announced size */
	unsigned space_tries;
	uint64_t att_size;
	/* taken into the batch being processed (recv.c next_due skips it) */
	int in_batch;
	/* when the push reached us (CLOCK_MONOTONIC, ns): the log line of
	 * its arrival says how long it took to be listed (bench/recv.sh) */
	int64_t pushed_ns;
};

struct inbox {
	struct agent *a;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct inbox_item *head, *tail;
	size_t n;
	int stop;
	int started;
	pthread_t thread;
	/* Pushes dropped since the last resync: whose (dropped_all: the
	 * queue itself was full, or too many senders to name), and when the
	 * next resync may run. */
	char *dropped[INBOX_DROPPED_MAX];
	size_t n_dropped;
	int dropped_all;
	int64_t resync_at_ms;
	unsigned resync_backoff_ms;
	/* The sender served last: the worker takes turns between senders. */
	char last_sender[NAMES_ADDR_BUF];
	/* ACKs of the batch being processed, sent once it is committed
	 * (recv.c acks_send); the worker's alone. */
	uint64_t acks[INBOX_BATCH_MAX];
	size_t n_acks;
};

/* ---- Pure rules (unit-tested) ------------------------------------------- */

/* The relay's envelope of one pushed item. */
struct inbox_envelope {
	const uint8_t *msgid;               /* INBOX_MSGID_LEN */
	const char *sender;                 /* sender address */
	uint64_t time;                      /* relay acceptance time, s */
};

struct message;
/*
 * Checks the inner message m against its envelope (DESIGN.md 4): same
 * sender, same message id, our address `self` among the recipients or the
 * sender is our own address (a synced copy: *is_sync = 1), sender timestamp
 * within [env->time - INBOX_MAX_AGE_S, env->time + INBOX_MAX_FUTURE_S].
 * Returns SB_OK or SB_ERR_ENVELOPE with *why a static reason.
 */
int  inbox_check_envelope(const struct inbox_envelope *env, const struct message *m,
         const char *self, int *is_sync, const char **why);

/* SHA-256 of the payload's first INBOX_KEYBLOCK_LEN bytes (all of it when
 * shorter): the replay cache's key-block hash. */
int  inbox_keyblock_hash(const uint8_t *payload, size_t len,
         uint8_t out[INBOX_KEYHASH_LEN]);

/* 1 if err is worth retrying later (keyring, network, disk, database):
 * the item stays unacknowledged.  0: a verdict on the message itself. */
int  inbox_err_transient(int err);

/* name with " (n)" before its extension ("a.txt" -> "a (2).txt"), cut to
 * fit NAMES_NAME_MAX on a UTF-8 boundary.  out_size >= NAMES_NAME_BUF. */
int  inbox_name_variant(const char *name, unsigned n, char *out, size_t out_size);

/* ---- Receiving (recv.c) ------------------------------------------------- */

/* Opens the store (msgstore_open), then starts the worker thread. */
int  inbox_init(struct agent *a);
void inbox_shutdown(struct agent *a);
/* The relay client's push callback (client.h): runs on the client's I/O
 * thread, hands the push to the worker and returns at once. */
void inbox_on_push(void *arg, const struct client_push *p);

/*
 * The queue's admission rule, under in->lock: SB_OK to queue a push from
 * sender, SB_ERR_EXISTS if item_id is queued already (a re-push after a
 * reconnection), SB_ERR_TOO_BIG when the queue or the sender's share of it
 * is full (the push is left at the relay and remembered for a resync).
 */
int  inbox_admit(struct inbox *in, uint64_t item_id, const char *sender);
/*
 * Under in->lock: 1 if pushes were dropped and room has come back for them
 * (the queue at most half full, every sender that lost a push at most at
 * half its share) and it is time (now_ms >= resync_at_ms); the caller then
 * resyncs.  Clears the record and spaces the next resync.  0 otherwise,
 * with *next_ms the time to check again (0: nothing is waiting).
 */
int  inbox_resync_due(struct inbox *in, int64_t now_ms, int64_t *next_ms);

/* Starts the worker on in (a->in); recv_stop joins it and drops what is
 * still queued (never acknowledged: the relay pushes it again). */
int  recv_start(struct agent *a, struct inbox *in);
void recv_stop(struct inbox *in);

/* ---- Attachments (attach.c) --------------------------------------------- */

/*
 * Downloads the blob the descriptor of m names into an unnamed temp file in
 * HOME/data, checks its size, SHA-1 and SHA-256 against the descriptor (in
 * constant time), and only then decrypts it (AES-256-CTR, streamed) into a
 * new content file, made durable.  Writes the content file's reference into
 * ref (NUL-terminated, ref_size >= ATTACH_REF_BUF) and its cfile file id
 * into file_id (recorded, compared at open: two content files swapped on
 * disk are noticed).  Returns SB_OK, a verdict (reject) or a transient
 * error; *blob_bad is 1 when the verdict is on the blob as the relay
 * served it (gone, wrong size, wrong hash), which a relay's passing fault
 * could explain.
 */
int  attach_fetch(struct agent *a, const struct message *m, char *ref, size_t ref_size,
         uint8_t file_id[CRYPTO_ATREST_FILE_ID_LEN], int *blob_bad);
/*
 * Room for an attachment of `size` bytes in HOME/data: its blob while it is
 * checked, its content file (chunk overhead included) and a reserve, so
 * that storing one message never fills the disk the rest of the home needs
 * (issue 12, finding 2).  SB_OK, or SB_ERR_SYSTEM with errno ENOSPC when
 * there is not; *need and *avail in bytes either way.  Checked before any
 * byte is fetched.
 */
#define ATTACH_SPACE_RESERVE (UINT64_C(8) << 20)
uint64_t attach_space_needed(uint64_t size);
int  attach_space(struct agent *a, uint64_t size, uint64_t *need, uint64_t *avail);
#endif
