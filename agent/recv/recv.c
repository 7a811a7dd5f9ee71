/*
 * recv.c - receiving: the push hand-off, the inbox worker thread, and the
 * verification pipeline of one pushed item (DESIGN.md 4 and 6,
 * docs/ARCHITECTURE.md "Receiving").
 *
 * For each item, in order: the sending device's identity (directory cache,
 * refreshed once on a miss or a failed verification), crypto_open with our
 * encryption key, the inner message, its checks against the envelope, the
 * replay cache, the attachment (fetched and hash-checked before any
 * plaintext exists), then ONE transaction storing the record, then the ACK.
 * Items go in batches: everything pushed and due (up to INBOX_BATCH_MAX)
 * is verified, then stored in one transaction, one fsync (the payload is
 * in the row), then announced, then acknowledged back to back (one round
 * trip for the batch); see run_batch.
 * A verdict against the message is logged with its reason and the item is
 * acknowledged and dropped; a transient failure (keyring, network, disk)
 * leaves the item unacknowledged and retries it later.
 *
 * Never stores, shows or acts on any part of a message that failed a check;
 * never calls the relay from the client's I/O thread; never logs content.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "common/clock.h"
#include "common/sberr.h"
#include "crypto/crypto.h"
#include "agent/config.h"
#include "agent/recv/recv.h"
#include "agent/message.h"
#include "agent/names.h"
#include "agent/store.h"
#include "agent/trust.h"

/* A verdict: the item was acknowledged (stored, or rejected and dropped). */
#define DONE 1
#define LATER 2       /* process(): a bad blob, fetched again at blob_next_ms */

#define RETRY_MIN_MS 500u
#define RETRY_MAX_MS 30000u
/* A blob that is missing, of the wrong size or fails its hashes may be the
 * relay's doing (a corrupt disk, a hostile relay that behaves again later)
 * or the sender's (a descriptor that lies).  It is fetched again, 1 s, 2 s,
 * ... 16 s apart, until BLOB_RETRY_S have passed since the first bad fetch,
 * and only then rejected: long enough to outlast a relay's passing fault.
 * Meanwhile the items behind it go ahead, so a lying sender holds up
 * nothing but its own message. */
#define BLOB_RETRY_S    60
#define BLOB_BACKOFF_MS 1000
#define BLOB_BACKOFF_MAX_MS 16000
/* An attachment that does not fit the home's free space (issue 12,
 * finding 2) is that item's problem, never the queue's: it waits, items
 * behind it go ahead, and it is tried again 2 s, 4 s, ... 5 min apart, each
 * try a statvfs, no download until the space is there.  It is never
 * rejected for it: the relay keeps it (30 days) and the user can make room,
 * which `sealbox status` and the log say how much of. */
#define SPACE_BACKOFF_MS     2000
#define SPACE_BACKOFF_MAX_MS 300000


static void
item_free(struct inbox_item *it)
{
	if (it == NULL)
		return;
	free(it->sender);
	if (it->payload)
		crypto_wipe(it->payload, it->payload_len);
	free(it->payload);
	free(it);
}

static void log_reject(const struct inbox_item *it, const char *why);

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs on the client's I/O thread: copy, enqueue, wake the worker. */
void
inbox_on_push(void *arg, const struct client_push *p)
{
	struct agent *a = arg;
	struct inbox *in;
	struct inbox_item *it;
	size_t first;
	int rc, all;

	if (a == NULL || p == NULL)
		return;
	it = calloc(1, sizeof(*it));
	if (it == NULL)
		return;            /* unacked: the relay pushes it again */
	it->item_id = p->item_id;
	it->pushed_ns = mono_ns();
	memcpy(it->msgid, p->msgid, INBOX_MSGID_LEN);
	it->sender = strdup(p->sender ? p->sender : "");
	it->sender_device = p->sender_device;
	it->timestamp = p->timestamp;
	it->payload_len = p->payload_len;
	it->payload = malloc(p->payload_len ? p->payload_len : 1);
	if (it->sender == NULL || it->payload == NULL) {
		item_free(it);
		return;
	}
	if (p->payload_len)
		memcpy(it->payload, p->payload, p->payload_len);

	/* a->lock keeps inbox_shutdown from freeing the queue under us. */
	pthread_mutex_lock(&a->lock);
	in = a->in;
	if (in == NULL) {
		pthread_mutex_unlock(&a->lock);
		item_free(it);
		return;
	}
	pthread_mutex_lock(&in->lock);
	first = in->n_dropped + (size_t)in->dropped_all;
	rc = in->stop ? SB_ERR_CLOSED : inbox_admit(in, it->item_id, it->sender);
	first = in->n_dropped + (size_t)in->dropped_all != first;
	all = in->dropped_all;
	if (rc != SB_OK) {
		pthread_mutex_unlock(&in->lock);
		pthread_mutex_unlock(&a->lock);
		/* Dropped unacked: the queued copy, or the relay at the next
		 * resync, has it.  Logged once per sender until that resync (a
		 * flood would otherwise write one line per push), never for a
		 * re-push of a queued item (normal after a resync). */
		if (rc == SB_ERR_TOO_BIG && first)
			fprintf(stderr, "sealbox: inbox: pushes from %s left at the relay"
			    " (%s); fetched again when there is room\n", it->sender,
			    all ? "queue full" : "the sender's share of the queue is full");
		item_free(it);
		return;
	}
	if (in->tail)
		in->tail->next = it;
	else
		in->head = it;
	in->tail = it;
	in->n++;
	pthread_cond_signal(&in->cond);
	pthread_mutex_unlock(&in->lock);
	pthread_mutex_unlock(&a->lock);
}

static size_t
queued_from(const struct inbox *in, const char *sender)
{
	const struct inbox_item *q;
	size_t n = 0;

	for (q = in->head; q != NULL; q = q->next)
		n += strcmp(q->sender, sender) == 0;
	return n;
}

static void
note_dropped(struct inbox *in, const char *sender)
{
	size_t i;

	if (in->dropped_all || sender == NULL)
		goto all;
	for (i = 0; i < in->n_dropped; i++)
		if (strcmp(in->dropped[i], sender) == 0)
			return;
	if (in->n_dropped < INBOX_DROPPED_MAX &&
	    (in->dropped[in->n_dropped] = strdup(sender)) != NULL) {
		in->n_dropped++;
		return;
	}
all:
	in->dropped_all = 1;
}

int
inbox_admit(struct inbox *in, uint64_t item_id, const char *sender)
{
	const struct inbox_item *q;

	for (q = in->head; q != NULL; q = q->next)
		if (q->item_id == item_id)
			return SB_ERR_EXISTS;
	if (in->n >= INBOX_QUEUE_MAX) {
		note_dropped(in, NULL);
		return SB_ERR_TOO_BIG;
	}
	if (queued_from(in, sender) >= INBOX_SENDER_MAX) {
		note_dropped(in, sender);
		return SB_ERR_TOO_BIG;
	}
	return SB_OK;
}

int
inbox_resync_due(struct inbox *in, int64_t now_ms, int64_t *next_ms)
{
	size_t i;

	*next_ms = 0;
	if (!in->dropped_all && in->n_dropped == 0)
		return 0;
	/* Room must have come back, or the resync would only drop the same
	 * pushes again; the item that frees it wakes the worker. */
	if (in->n > INBOX_QUEUE_MAX / 2)
		return 0;
	for (i = 0; i < in->n_dropped; i++)
		if (queued_from(in, in->dropped[i]) > INBOX_SENDER_MAX / 2)
			return 0;
	if (now_ms < in->resync_at_ms) {
		*next_ms = in->resync_at_ms;
		return 0;
	}
	for (i = 0; i < in->n_dropped; i++)
		free(in->dropped[i]);
	in->n_dropped = 0;
	in->dropped_all = 0;
	if (in->resync_backoff_ms < INBOX_RESYNC_MIN_MS)
		in->resync_backoff_ms = INBOX_RESYNC_MIN_MS;
	in->resync_at_ms = now_ms + in->resync_backoff_ms;
	in->resync_backoff_ms = in->resync_backoff_ms * 2 > INBOX_RESYNC_MAX_MS ?
	    INBOX_RESYNC_MAX_MS : in->resync_backoff_ms * 2;
	return 1;
}

/* a->client is set (under a->lock) once the keys load. */
static struct client *
client_of(struct agent *a)
{
	struct client *c;

	pthread_mutex_lock(&a->lock);
	c = a->client;
	pthread_mutex_unlock(&a->lock);
	return c;
}

/* ---- The sender's identity: the pins (agent/trust.h) ---------------------- */

static int
pin_get(struct agent *a, const char *addr, uint64_t dev, struct crypto_identity **out)
{
	int rc;

	store_lock(a);
	rc = trust_pin_get(a->db, addr, dev, out);
	store_unlock(a);
	/* A pin that no longer parses was never usable: as if absent.  A
	 * refused one (SB_ERR_PERMISSION) is a verdict. */
	return rc == SB_OK || rc == SB_ERR_STORAGE || rc == SB_ERR_SYSTEM ||
	    rc == SB_ERR_PERMISSION ? rc : SB_ERR_NOT_FOUND;
}

/*
 * The identity of (addr, dev) as pinned; with refresh (or when nothing is
 * pinned) the directory is asked first and its answer applied to the pins
 * (trust_observe: a new device is pinned, a changed identity is an alert
 * and NOT used, a removed device unpinned).  *cached: the pin was used
 * without asking.  SB_ERR_NOT_FOUND: no such device is pinned (a verdict).
 */
static int
sender_identity(struct agent *a, const char *addr, uint64_t dev, int refresh,
    struct crypto_identity **out, int *cached)
{
	struct client_lookup *l = NULL;
	const char *addrs[1];
	int rc;

	*out = NULL;
	*cached = 0;
	if (!refresh) {
		rc = pin_get(a, addr, dev, out);
		if (rc == SB_OK) {
			*cached = 1;
			return SB_OK;
		}
		if (rc != SB_ERR_NOT_FOUND)
			return rc;
	}
	if (client_of(a) == NULL)
		return SB_ERR_NET;
	addrs[0] = addr;
	rc = client_lookup(client_of(a), addrs, 1, &l);
	if (rc == SB_ERR_UNKNOWN_RECIPIENT)
		rc = SB_ERR_NOT_FOUND;
	/* An answer the log does not back: an alert, and its keys unused. */
	if (rc == SB_ERR_LOG_PROOF || rc == SB_ERR_LOG_FORK) {
		store_lock(a);
		(void)trust_log_failure(a->db, client_of(a), addr, rc, time(NULL), stderr);
		store_unlock(a);
	}
	if (rc != SB_OK)
		return rc;
	store_lock(a);
	rc = trust_observe_lookup(a->db, addr, l, TRUST_OBSERVE, time(NULL), NULL, stderr);
	store_unlock(a);
	client_lookup_free(l);
	return rc == SB_OK ? pin_get(a, addr, dev, out) : rc;
}

/* ---- Gossip (PROTOCOL.md 14.9) -------------------------------------------- */

/*
 * A sender's newest tree head, checked against ours: a fork (two heads of
 * one log that no honest log can both have signed) is an alert on our own
 * address, and both heads go to the log in hex for the user to publish
 * (trust_log_failure).  A head of another log (a contact on another relay)
 * is noted and ignored; a relay that cannot be asked now is asked with
 * the next message.
 */
static void
gossip_check(struct agent *a, const struct inbox_item *it, const uint8_t *head, size_t len)
{
	struct client *c = client_of(a);
	int rc;

	if (c == NULL || (rc = client_log_check_head(c, head, len)) == SB_OK)
		return;
	if (rc != SB_ERR_LOG_FORK) {
		fprintf(stderr, "sealbox: log: tree head gossiped by %s/%016" PRIx64 " not"
		    " checked: %s\n", it->sender, it->sender_device, sb_strerror(rc));
		return;
	}
	fprintf(stderr, "sealbox: log: the tree head gossiped by %s/%016" PRIx64 " is not"
	    " consistent with ours\n", it->sender, it->sender_device);
	store_lock(a);
	(void)trust_log_failure(a->db, c, a->cfg->address, rc, time(NULL), stderr);
	store_unlock(a);
}

/* ---- One item -------------------------------------------------------------- */

static void
log_reject(const struct inbox_item *it, const char *why)
{
	char idhex[2 * INBOX_MSGID_LEN + 1];

	sb_hex(it->msgid, INBOX_MSGID_LEN, idhex);
	fprintf(stderr, "sealbox: rejected message %s from %s/%016" PRIx64 ": %s\n",
	    idhex, it->sender, it->sender_device, why);
}

/*
 * Acknowledges an item that is stored durably, or rejected.  The worker's
 * ACKs are gathered (in->acks) and sent by acks_send once its batch is
 * committed; without an inbox (shut down meanwhile) it goes at once.  A
 * lost ACK is harmless: the item comes again and the replay cache
 * acknowledges it then.
 */
static int
ack(struct agent *a, const struct inbox_item *it)
{
	struct client *c;
	struct inbox *in;
	int rc;

	pthread_mutex_lock(&a->lock);
	in = a->in;
	if (in != NULL && in->n_acks < INBOX_BATCH_MAX) {
		in->acks[in->n_acks++] = it->item_id;   /* the worker's own */
		pthread_mutex_unlock(&a->lock);
		return DONE;
	}
	pthread_mutex_unlock(&a->lock);
	c = client_of(a);
	rc = c ? client_ack_async(c, it->item_id) : SB_ERR_NET;
	if (rc != SB_OK)
		fprintf(stderr, "sealbox: inbox: ack of item %" PRIu64 " failed: %s\n",
		    it->item_id, sb_strerror(rc));
	return DONE;
}

/*
 * Sends the gathered ACKs back to back and waits for the last one's
 * answer: one round trip for the batch instead of one per item.  The
 * relay handles one connection's requests in order (PROTOCOL.md 13.6), so
 * once the last is answered every one before it was handled, and the
 * worker may forget the items: a resync that follows cannot bring them
 * back as replays.
 */
static void
acks_send(struct agent *a, struct inbox *in)
{
	struct client *c = client_of(a);
	size_t i;
	int rc = SB_OK;

	if (in->n_acks == 0)
		return;
	for (i = 0; c != NULL && rc == SB_OK && i + 1 < in->n_acks; i++)
		rc = client_ack_async(c, in->acks[i]);
	if (c == NULL)
		rc = SB_ERR_NET;
	else if (rc == SB_OK)
		rc = client_ack(c, in->acks[in->n_acks - 1]);
	if (rc != SB_OK)
		fprintf(stderr, "sealbox: inbox: ack of %zu item(s) up to %" PRIu64 " failed: %s\n",
		    in->n_acks, in->acks[in->n_acks - 1], sb_strerror(rc));
	in->n_acks = 0;
}

static int
reject(struct agent *a, const struct inbox_item *it, const char *why)
{
	log_reject(it, why);
	return ack(a, it);
}

/* Copies a borrowed message string into a NUL-terminated buffer. */
static int
mstr(const struct message_str *s, char *out, size_t out_size)
{
	if (s->len >= out_size)
		return SB_ERR_LENGTH;
	memcpy(out, s->p, s->len);
	out[s->len] = '\0';
	return SB_OK;
}

/* Is name taken anywhere in inbox/?  Unique across folders, because a
 * folder is the sender's contact name NOW and contacts change (view/inbox_view.c).
 * Caller holds db_lock. */
static int
name_taken(sqlite3 *db, const char *name, int *taken)
{
	int64_t n;
	sqlite3_stmt *st = NULL;
	/* (a name is also taken by a received tree's first folder) */
	int rc = msgstore_prepare(db, "SELECT count(*) FROM inbox_messages"
	    " WHERE box = ?1 AND (name = ?2 OR (name >= ?2 || '/' AND name < ?2 || '0'))", &st);

	*taken = 0;
	if (rc != SB_OK)
		return rc;
	sqlite3_bind_int(st, 1, AGENT_BOX_IN);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		n = sqlite3_column_int64(st, 0);
		*taken = n > 0;
		rc = SB_OK;
	} else {
		rc = store_err(db, rc, "inbox name");
	}
	msgstore_finalize(st);
	return rc;
}

/* Removes a synced copy of the same name (it is being replaced); its
 * files go into old[0] (payload) and old[1] (content) for deletion after
 * COMMIT. */
/*
 * Where a file or folder of a tree may go (docs/PROTOCOL.md 11.1), inside
 * store_record's transaction: nothing on the way to it may be a file, and
 * a file may not land where a folder holds entries.  SB_ERR_EXISTS (the
 * message is refused) otherwise.  Caller holds db_lock.
 */
static int
tree_room(sqlite3 *db, int box, const char *folder, const char *path, int is_folder)
{
	sqlite3_stmt *st = NULL;
	int64_t n = 0;
	int rc;

	for (const char *s = strchr(path, '/'); s != NULL; s = strchr(s + 1, '/')) {
		rc = msgstore_prepare(db, "SELECT count(*) FROM inbox_messages WHERE box = ?"
		    " AND folder = ? AND name = ? AND kind != 3", &st);
		if (rc != SB_OK)
			return rc;
		sqlite3_bind_int(st, 1, box);
		sqlite3_bind_text(st, 2, folder, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, path, (int)(s - path), SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		msgstore_finalize(st);
		if (n > 0)
			return SB_ERR_EXISTS;          /* a file on the way */
	}
	if (is_folder)
		return SB_OK;
	rc = msgstore_prepare(db, "SELECT count(*) FROM inbox_messages WHERE box = ?1 AND"
	    " folder = ?2 AND name >= ?3 || '/' AND name < ?3 || '0'", &st);
	if (rc != SB_OK)
		return rc;
	sqlite3_bind_int(st, 1, box);
	sqlite3_bind_text(st, 2, folder, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	msgstore_finalize(st);
	return n > 0 ? SB_ERR_EXISTS : SB_OK;   /* a folder with entries */
}

/* Removes the row of (box, folder, name), being replaced; its files go
 * into old[0] (payload) and old[1] (content) for deletion after COMMIT. */
static int
drop_row(struct agent *a, int box, const char *folder, const char *name,
    char old[2][ATTACH_REF_BUF])
{
	sqlite3_stmt *st = NULL;
	int rc = msgstore_prepare(a->db, "SELECT payload, cfile FROM inbox_messages"
	    " WHERE box = ? AND folder = ? AND name = ?", &st);
	int i;

	old[0][0] = old[1][0] = '\0';
	if (rc != SB_OK)
		return rc;
	sqlite3_bind_int(st, 1, box);
	sqlite3_bind_text(st, 2, folder, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		for (i = 0; i < 2; i++) {
			const unsigned char *r = sqlite3_column_text(st, i);
			if (r)
				snprintf(old[i], ATTACH_REF_BUF, "%s", (const char *)r);
		}
	}
	msgstore_finalize(st);
	rc = msgstore_prepare(a->db, "DELETE FROM inbox_messages"
	    " WHERE box = ? AND folder = ? AND name = ?", &st);
	if (rc != SB_OK)
		return rc;
	sqlite3_bind_int(st, 1, box);
	sqlite3_bind_text(st, 2, folder, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	rc = store_step_done(a->db, st);
	msgstore_finalize(st);
	return rc;
}

struct record {
	int box;
	char folder[NAMES_NAME_BUF];
	/* a stamped name, or the path of a file or folder of a tree */
	char name[AGENT_PATH_MAX + NAMES_NAME_BUF];
	int tree;                        /* placed at its path (PROTOCOL 11.1) */
	const struct crypto_identity *sender_id;
	uint64_t size;
	uint64_t sent;                   /* the sender's timestamp */
	uint64_t mtime_sec;
	uint32_t mtime_nsec;
	int kind;
	const uint8_t *payload;          /* the sealed payload, kept in the row */
	size_t payload_len;
	const char *cfile;               /* attachments: content file ref */
	const uint8_t *cfile_id;         /* ... and its file id */
	int shared;                      /* ... named by an earlier row too */
	const uint8_t *blob_id;          /* attachments: blob_id() */
	uint8_t keyhash[INBOX_KEYHASH_LEN];
	struct timespec arrived;         /* set by store_one: the row's arrived_ns */
	int new_folder;                  /* set by store_one (inbox/): its folder was empty */
	const struct message *m;         /* inbox/: named in the transaction */
};

/*
 * The rank of the next message stamped like `name` (its first
 * NAMES_STAMP_LEN + 1 bytes) in inbox/: one more than the highest there,
 * so `ls` lists a second's messages in arrival order (names.h).  Caller
 * holds db_lock, inside the transaction that inserts the row.
 */
static int
next_seq(sqlite3 *db, const char *name, unsigned *seq)
{
	char stamp[NAMES_STAMP_LEN + 2], pat[NAMES_STAMP_LEN + 32];
	sqlite3_stmt *st = NULL;
	int rc;

	*seq = 1;
	snprintf(stamp, sizeof(stamp), "%.*s", NAMES_STAMP_LEN + 1, name);
	snprintf(pat, sizeof(pat), "%s[0-9][0-9][0-9][0-9]*", stamp);
	rc = msgstore_prepare(db, "SELECT max(CAST(substr(name, ?1, instr(substr(name, ?1),"
	    " '-') - 1) AS INTEGER)) FROM inbox_messages WHERE box = ?2 AND name GLOB ?3", &st);
	if (rc != SB_OK)
		return rc;
	sqlite3_bind_int(st, 1, NAMES_STAMP_LEN + 2);
	sqlite3_bind_int(st, 2, AGENT_BOX_IN);
	sqlite3_bind_text(st, 3, pat, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t top = sqlite3_column_int64(st, 0);
		if (top > 0 && top < UINT32_MAX)
			*seq = (unsigned)top + 1;
		rc = SB_OK;
	} else {
		rc = store_err(db, rc, "inbox sequence");
	}
	msgstore_finalize(st);
	return rc;
}

static int
incoming_name(const struct message *m, unsigned seq, char *out, size_t out_size)
{
	return names_incoming_file((int64_t)(m->timestamp > (uint64_t)NAMES_MAX_TIME ?
	    (uint64_t)NAMES_MAX_TIME : m->timestamp), seq, m->id, MESSAGE_ID_LEN,
	    m->name.p, m->name.len, out, out_size);
}

/*
 * Whether the inbox/ folder r->folder (the sender's contact name, or the
 * address) shows nothing yet, looked up inside the transaction before the
 * row goes in, so the first of several messages a batch brings into a new
 * folder is the one that says so (the announcer's mkdir for inotify,
 * fs/announce.c).  A folder gathers one sender's messages, and those of
 * the contact's other addresses: a row of the same sender answers at once
 * (index inbox_messages_sender); only a sender's first message looks at
 * the other senders.  Caller holds db_lock; ct are the contacts place()
 * named the folder with.
 */
static int
folder_is_new(sqlite3 *db, const struct contacts *ct, const struct record *r,
    const char *sender, int *is_new)
{
	sqlite3_stmt *st = NULL;
	char shown[NAMES_NAME_BUF], sql[128];
	int64_t seen = 0;
	int rc;

	*is_new = 1;
	snprintf(sql, sizeof(sql), "SELECT EXISTS(SELECT 1 FROM inbox_messages WHERE"
	    " box = %d AND sender = ?)", (int)AGENT_BOX_IN);
	rc = store_query_int(db, sql, sender, 0, &seen);
	if (rc != SB_OK || seen) {
		*is_new = !seen;
		return rc;
	}
	rc = msgstore_prepare(db, "SELECT DISTINCT sender FROM inbox_messages WHERE box = ?", &st);
	if (rc != SB_OK)
		return rc;
	sqlite3_bind_int(st, 1, AGENT_BOX_IN);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		if (t != NULL && names_inbox_folder(ct, (const char *)t, shown,
		    sizeof(shown)) == SB_OK && strcmp(shown, r->folder) == 0) {
			*is_new = 0;
			break;
		}
	}
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SB_OK : store_err(db, rc, "inbox folder");
	msgstore_finalize(st);
	return rc;
}

/*
 * One item's rows inside the batch's transaction (commit_batch; caller
 * holds db_lock): the replay check again (an earlier item of the same batch
 * counts), the name, the replay cache entry and the record.  Under a
 * SAVEPOINT, so that an item refused here (SB_ERR_REPLAY, SB_ERR_EXISTS
 * from tree_room, SB_ERR_NOT_FOUND: its shared content file went) leaves
 * the others of the batch as they were.  Files of a replaced row go into
 * old[0] (payload) and old[1] (content), deleted after COMMIT.
 */
static int
store_one(struct agent *a, const struct contacts *ct, const struct inbox_item *it,
    struct record *r, char old[2][ATTACH_REF_BUF])
{
	sqlite3_stmt *st = NULL;
	const uint8_t *der;
	size_t der_len;
	char base[sizeof(r->name)];
	unsigned n;
	int rc, taken;

	struct msgstore_seen seen = { it->sender, it->sender_device, it->msgid, r->keyhash };
	struct timespec now;

	crypto_identity_der(r->sender_id, &der, &der_len);
	old[0][0] = old[1][0] = '\0';
	rc = msgstore_exec(a->db, "SAVEPOINT item");
	if (rc != SB_OK)
		return rc;
	rc = msgstore_replay_check(a->db, &seen);
	/* A shared content file must still be there: a row may have let go
	 * of it since verify() found it (then: fetched afresh next time). */
	if (rc == SB_OK && r->shared && !msgstore_ref_used(a->db, r->cfile))
		rc = SB_ERR_NOT_FOUND;
	/* A tree's path: room for it, then the newest arrival replaces the
	 * one before (docs/PROTOCOL.md 11.1). */
	if (rc == SB_OK && r->tree)
		rc = tree_room(a->db, r->box, r->folder, r->name, r->kind == MESSAGE_FOLDER);
	if (rc == SB_OK && (r->tree || r->box == AGENT_BOX_OUT))
		rc = drop_row(a, r->box, r->folder, r->name, old);
	if (rc == SB_OK && r->box == AGENT_BOX_IN && r->m != NULL && !r->tree) {
		unsigned seq;

		rc = next_seq(a->db, r->name, &seq);
		if (rc == SB_OK)
			rc = incoming_name(r->m, seq, r->name, sizeof(r->name));
	}
	if (rc == SB_OK && r->box == AGENT_BOX_IN && !r->tree) {
		/* Collisions are impossible by construction: a taken name
		 * (same second, same short id, same file name) gets a counter. */
		snprintf(base, sizeof(base), "%s", r->name);
		for (n = 2; rc == SB_OK; n++) {
			rc = name_taken(a->db, r->name, &taken);
			if (rc != SB_OK || !taken)
				break;
			rc = inbox_name_variant(base, n, r->name, sizeof(r->name));
		}
	}
	if (rc == SB_OK && r->box == AGENT_BOX_IN)
		rc = folder_is_new(a->db, ct, r, it->sender, &r->new_folder);
	if (rc == SB_OK)
		rc = msgstore_replay_add(a->db, &seen, (uint64_t)time(NULL));
	if (rc == SB_OK)
		rc = msgstore_prepare(a->db, "INSERT INTO inbox_messages(box, folder, name,"
		    " msgid, sender, sender_device, identity, sent, received, size,"
		    " mtime_sec, mtime_nsec, kind, payload, cfile, cfile_id, blob_id, arrived_ns,"
		    " payload_data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,'',?,?,?,?,?)", &st);
	if (rc == SB_OK) {
		sqlite3_bind_int(st, 1, r->box);
		sqlite3_bind_text(st, 2, r->folder, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, it->msgid, INBOX_MSGID_LEN, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, it->sender, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, (sqlite3_int64)it->sender_device);
		sqlite3_bind_blob(st, 7, der, (int)der_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 8, (sqlite3_int64)r->sent);
		sqlite3_bind_int64(st, 9, (sqlite3_int64)it->timestamp);
		sqlite3_bind_int64(st, 10, (sqlite3_int64)r->size);
		sqlite3_bind_int64(st, 11, (sqlite3_int64)r->mtime_sec);
		sqlite3_bind_int(st, 12, (int)r->mtime_nsec);
		sqlite3_bind_int(st, 13, r->kind);
		if (r->cfile)
			sqlite3_bind_text(st, 14, r->cfile, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 14);
		if (r->cfile_id)
			sqlite3_bind_blob(st, 15, r->cfile_id, CRYPTO_ATREST_FILE_ID_LEN,
			    SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 15);
		if (r->blob_id)
			sqlite3_bind_blob(st, 16, r->blob_id, CRYPTO_SHA256_LEN, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 16);
		/* The arrival, to the ns: the file's ctime (view/inbox_view.c). */
		clock_gettime(CLOCK_REALTIME, &now);
		r->arrived = now;
		sqlite3_bind_int64(st, 17, (sqlite3_int64)now.tv_sec * 1000000000 + now.tv_nsec);
		sqlite3_bind_blob(st, 18, r->payload, (int)r->payload_len, SQLITE_STATIC);
		rc = store_step_done(a->db, st);
	}
	msgstore_finalize(st);
	if (rc == SB_OK)
		return msgstore_exec(a->db, "RELEASE item");
	/* (after an error that ended the transaction there is no savepoint
	 * left: commit_batch sees that and gives up the batch) */
	(void)sqlite3_exec(a->db, "ROLLBACK TO item; RELEASE item", NULL, NULL, NULL);
	old[0][0] = old[1][0] = '\0';
	return rc;
}

/*
 * The path of a file or folder of a tree, each component made safe to show
 * (the first as names at the top always are, a leading '.' kept below it:
 * .git/HEAD) and joined by '/'.  SB_ERR_LENGTH past AGENT_PATH_MAX (what
 * the mount serves): such a message is refused.
 */
static int
tree_path(const struct message *m, char *out, size_t out_size)
{
	char comp[NAMES_NAME_BUF];
	size_t len = 0, i;
	int rc;

	for (i = 0; i <= m->depth; i++) {
		const struct message_str *s = i < m->depth ? &m->path[i] : &m->name;
		size_t n;

		rc = i == 0 ? names_sanitize_component(s->p, s->len, NAMES_NAME_MAX, comp,
		    sizeof(comp)) : names_sanitize_tree_component(s->p, s->len, comp, sizeof(comp));
		if (rc != SB_OK)
			return rc;
		n = strlen(comp);
		if (len + (i > 0) + n > AGENT_PATH_MAX || len + (i > 0) + n >= out_size)
			return SB_ERR_LENGTH;
		if (i > 0)
			out[len++] = '/';
		memcpy(out + len, comp, n);
		len += n;
	}
	out[len] = '\0';
	return SB_OK;
}

/* Where the message goes: inbox/<contact or address>/<stamped name>, or,
 * for our own other device's sent copy, outbox/<its folder>/<its name>. */
static int
place(struct agent *a, const struct message *m, int is_sync, struct record *r)
{
	char raw[NAMES_NAME_BUF];
	int rc;

	r->tree = m->depth > 0 || m->kind == MESSAGE_FOLDER;
	if (is_sync) {
		r->box = AGENT_BOX_OUT;
		rc = names_sanitize_component(m->folder.p, m->folder.len, NAMES_NAME_MAX,
		    r->folder, sizeof(r->folder));
		if (rc == SB_OK && r->tree)
			return tree_path(m, r->name, sizeof(r->name));
		if (rc == SB_OK)
			rc = names_sanitize_component(m->name.p, m->name.len, NAMES_NAME_MAX,
			    r->name, sizeof(r->name));
		return rc;
	}
	r->box = AGENT_BOX_IN;
	rc = mstr(&m->sender, raw, sizeof(raw));
	if (rc != SB_OK)
		return rc;
	rc = names_inbox_folder(agent_contacts(a), raw, r->folder, sizeof(r->folder));
	if (rc != SB_OK)
		return rc;
	if (r->tree)
		return tree_path(m, r->name, sizeof(r->name));
	/* The sequence is known only inside store_record's transaction. */
	r->m = m;
	return incoming_name(m, 1, r->name, sizeof(r->name));
}

/*
 * What identifies an attachment's content: the ciphertext (its SHA-256 and
 * size) and the key decrypting it.  Two descriptors that agree on these
 * decrypt to the same bytes, whatever blob URI they name, so one content
 * file serves both: 20 messages naming one 4 MiB blob cost 4 MiB, not 80
 * (issue 12, finding 6).  A hash, so the key itself is not stored.
 */
static int
blob_id(const struct message *m, uint8_t out[CRYPTO_SHA256_LEN])
{
	static const char dom[] = "sealbox blob id v1";
	struct crypto_hasher *h = NULL;
	uint8_t sha1[CRYPTO_SHA1_LEN], size[8];
	int rc = crypto_hasher_new(&h), i;

	for (i = 0; i < 8; i++)
		size[i] = (uint8_t)(m->att.size >> (56 - 8 * i));
	if (rc == SB_OK)
		rc = crypto_hasher_update(h, (const uint8_t *)dom, sizeof(dom));
	if (rc == SB_OK)
		rc = crypto_hasher_update(h, m->att.key, sizeof(m->att.key));
	if (rc == SB_OK)
		rc = crypto_hasher_update(h, m->att.sha256, sizeof(m->att.sha256));
	if (rc == SB_OK)
		rc = crypto_hasher_update(h, size, sizeof(size));
	if (rc == SB_OK)
		rc = crypto_hasher_final(h, sha1, out);
	crypto_hasher_free(h);
	return rc;
}

/* The content file an earlier message with the same blob_id stored:
 * SB_OK with ref and file_id filled, or SB_ERR_NOT_FOUND. */
static int
blob_stored(struct agent *a, const uint8_t id[CRYPTO_SHA256_LEN], char *ref,
    size_t ref_size, uint8_t file_id[CRYPTO_ATREST_FILE_ID_LEN])
{
	sqlite3_stmt *st = NULL;
	int rc;

	store_lock(a);
	rc = msgstore_prepare(a->db, "SELECT cfile, cfile_id FROM inbox_messages"
	    " WHERE blob_id = ? AND cfile IS NOT NULL AND cfile_id IS NOT NULL LIMIT 1", &st);
	if (rc == SB_OK) {
		sqlite3_bind_blob(st, 1, id, CRYPTO_SHA256_LEN, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == CRYPTO_ATREST_FILE_ID_LEN &&
		    (size_t)sqlite3_column_bytes(st, 0) < ref_size) {
			snprintf(ref, ref_size, "%s", (const char *)sqlite3_column_text(st, 0));
			memcpy(file_id, sqlite3_column_blob(st, 1), CRYPTO_ATREST_FILE_ID_LEN);
			rc = SB_OK;
		} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
			rc = SB_ERR_NOT_FOUND;
		} else {
			rc = store_err(a->db, rc, "blob lookup");
		}
	}
	msgstore_finalize(st);
	store_unlock(a);
	return rc;
}

/* A fetch whose blob failed its checks: LATER while inside BLOB_RETRY_S of
 * the first such fetch (it->blob_next_ms set), else 0 (reject it now). */
static int
blob_later(struct inbox_item *it, int err)
{
	int64_t now = sb_mono_ms(), delay;

	if (it->blob_tries++ == 0)
		it->blob_first_s = now / 1000;
	if (now / 1000 - it->blob_first_s >= BLOB_RETRY_S)
		return 0;
	delay = (int64_t)BLOB_BACKOFF_MS << (it->blob_tries < 5 ? it->blob_tries - 1 : 4);
	if (delay > BLOB_BACKOFF_MAX_MS)
		delay = BLOB_BACKOFF_MAX_MS;
	it->blob_next_ms = now + delay;
	fprintf(stderr, "sealbox: inbox: item %" PRIu64 ": attachment: %s (try %u);"
	    " will fetch it again in %lld s\n", it->item_id, sb_strerror(err),
	    it->blob_tries, (long long)(delay / 1000));
	return LATER;
}

static int
space_later(struct agent *a, struct inbox_item *it, uint64_t need, uint64_t avail)
{
	int64_t now = sb_mono_ms(), delay;
	int rc;

	it->space_tries++;
	delay = (int64_t)SPACE_BACKOFF_MS << (it->space_tries < 9 ? it->space_tries - 1 : 8);
	if (delay > SPACE_BACKOFF_MAX_MS)
		delay = SPACE_BACKOFF_MAX_MS;
	it->blob_next_ms = now + delay;
	fprintf(stderr, "sealbox: inbox: item %" PRIu64 " from %s: attachment needs %.1f MiB"
	    " free in %s/data, %.1f MiB free; waiting (try %u, next in %lld s)\n",
	    it->item_id, it->sender, (double)need / 1048576.0, a->home,
	    (double)avail / 1048576.0, it->space_tries, (long long)(delay / 1000));
	store_lock(a);
	rc = msgstore_waiting_note(a->db, it->item_id, it->sender, it->att_size, need, avail,
	    it->space_tries, (uint64_t)time(NULL));
	store_unlock(a);
	if (rc != SB_OK)
		fprintf(stderr, "sealbox: inbox: cannot note item %" PRIu64 " as waiting: %s\n",
		    it->item_id, sb_strerror(rc));
	return LATER;
}

/* ---- A batch of items ------------------------------------------------------ */

/* Where an item of a batch stands. */
enum stage {
	S_NONE,          /* not looked at (a transient error stopped the batch) */
	S_READY,         /* verified, its attachment in place: to be stored */
	S_STORED,        /* committed (after commit_batch) */
	S_REFUSED,       /* refused inside the transaction: why says why */
	S_AGAIN,         /* its shared content file went: tried again, unacked */
	S_DONE,          /* rejected before the transaction, acknowledged */
	S_LATER,         /* its blob is fetched again later (blob_next_ms) */
};

/* One item of a batch, from verification to its ACK. */
struct staged {
	struct inbox_item *it;
	enum stage stage;
	const char *why;
	struct crypto_identity *sid;
	struct sb_buf plain;
	struct message *m;
	int is_sync;
	struct record r;
	char ref[ATTACH_REF_BUF], old[2][ATTACH_REF_BUF];
	uint8_t file_id[CRYPTO_ATREST_FILE_ID_LEN], bid[CRYPTO_SHA256_LEN];
};

static void
staged_clear(struct staged *s)
{
	if (s->m) {
		crypto_wipe(s->m, sizeof(*s->m));
		free(s->m);
	}
	sb_buf_free(&s->plain);
	crypto_identity_free(s->sid);
	memset(s, 0, sizeof(*s));
}

/* Returned by verify(): its attachment must be downloaded first. */
#define FETCH 3
#define READY 4

/*
 * Everything about one item that needs no write: the sender's identity,
 * crypto_open, the inner message, its envelope, the replay cache (before
 * any download: a replayed attachment is not even fetched), its place.
 * Returns READY (s->r filled), FETCH (an attachment stored nowhere yet),
 * DONE (rejected and acknowledged) or a transient SB_ERR_* (unacked).
 */
static int
verify(struct agent *a, struct inbox_item *it, struct staged *s)
{
	struct inbox_envelope env;
	struct message *m;
	const char *why = NULL;
	int rc, cached = 0;

	if (names_kind(it->sender, strlen(it->sender)) == NAMES_NOT_ADDRESS)
		return reject(a, it, "envelope sender is not an address");
	rc = sender_identity(a, it->sender, it->sender_device, 0, &s->sid, &cached);
	if (rc == SB_OK)
		rc = crypto_open(a->enc_key, a->identity, s->sid, it->payload,
		    it->payload_len, &s->plain);
	if (rc != SB_OK && cached && !inbox_err_transient(rc)) {
		/* The device may have re-enrolled: ask the directory once. */
		crypto_identity_free(s->sid);
		s->sid = NULL;
		rc = sender_identity(a, it->sender, it->sender_device, 1, &s->sid, &cached);
		if (rc == SB_OK)
			rc = crypto_open(a->enc_key, a->identity, s->sid, it->payload,
			    it->payload_len, &s->plain);
	}
	if (rc != SB_OK) {
		if (inbox_err_transient(rc))
			return rc;
		why = rc == SB_ERR_NOT_FOUND ? "sending device not in the directory" :
		    rc == SB_ERR_PERMISSION ? "sending device not approved by any"
		    " device of its account" : sb_strerror(rc);
		return reject(a, it, why);
	}
	if ((m = s->m = malloc(sizeof(*m))) == NULL)
		return SB_ERR_ALLOC;
	rc = message_parse(s->plain.d, s->plain.len, m);
	if (rc != SB_OK) {
		char buf[160];
		snprintf(buf, sizeof(buf), "inner message: %s", sb_strerror(rc));
		return reject(a, it, buf);
	}
	env.msgid = it->msgid;
	env.sender = it->sender;
	env.time = it->timestamp;
	rc = inbox_check_envelope(&env, m, a->cfg->address, &s->is_sync, &why);
	if (rc != SB_OK)
		return reject(a, it, why);
	rc = inbox_keyblock_hash(it->payload, it->payload_len, s->r.keyhash);
	if (rc != SB_OK)
		return rc;
	store_lock(a);
	{
		struct msgstore_seen seen = { it->sender, it->sender_device, it->msgid, s->r.keyhash };
		rc = msgstore_replay_check(a->db, &seen);
	}
	store_unlock(a);
	if (rc == SB_ERR_REPLAY)
		return reject(a, it, "replay (this device's message id, or the key block, seen before)");
	if (rc != SB_OK)
		return rc;
	if (place(a, m, s->is_sync, &s->r) != SB_OK)
		return reject(a, it, "unusable folder or file name");
	s->r.sender_id = s->sid;
	s->r.sent = m->timestamp;
	s->r.mtime_sec = m->timestamp;
	s->r.mtime_nsec = 0;
	if (s->is_sync) {
		/* Our own sent copy keeps the file's time, as on the sending device. */
		s->r.mtime_sec = m->mtime_sec;
		s->r.mtime_nsec = m->mtime_nsec;
	}
	s->r.kind = m->kind;
	s->r.payload = it->payload;
	s->r.payload_len = it->payload_len;
	if (m->kind == MESSAGE_INLINE) {
		s->r.size = m->content_len;
		return READY;
	}
	if (m->kind == MESSAGE_FOLDER) {
		s->r.size = 0;             /* a folder of a tree: nothing to fetch */
		return READY;
	}
	s->r.size = m->att.size;
	it->att_size = m->att.size;
	rc = blob_id(m, s->bid);
	if (rc != SB_OK)
		return rc;
	s->r.blob_id = s->bid;
	rc = blob_stored(a, s->bid, s->ref, sizeof(s->ref), s->file_id);
	if (rc == SB_ERR_NOT_FOUND)
		return FETCH;
	if (rc != SB_OK)
		return rc;
	s->r.shared = 1;                   /* stored already: not fetched again */
	s->r.cfile = s->ref;
	s->r.cfile_id = s->file_id;
	return READY;
}

/* The attachment of an item verify() answered FETCH for, once what was
 * ready before it is committed: READY, LATER (its blob, or the space for
 * it, is tried again later), DONE or transient. */
static int
fetch(struct agent *a, struct inbox_item *it, struct staged *s)
{
	uint64_t need = 0, avail = 0;
	int rc, blob_bad = 0;

	/* An item just committed may have stored the same content (twenty
	 * messages naming one blob in one batch): shared, not fetched again. */
	rc = blob_stored(a, s->bid, s->ref, sizeof(s->ref), s->file_id);
	if (rc == SB_OK) {
		s->r.shared = 1;
		s->r.cfile = s->ref;
		s->r.cfile_id = s->file_id;
		return READY;
	}
	if (rc != SB_ERR_NOT_FOUND)
		return rc;
	rc = attach_space(a, s->m->att.size, &need, &avail);
	if (rc == SB_OK)
		rc = attach_fetch(a, s->m, s->ref, sizeof(s->ref), s->file_id, &blob_bad);
	if (rc == SB_ERR_SYSTEM && (errno == ENOSPC || errno == EDQUOT))
		return space_later(a, it, need, avail);
	if (rc != SB_OK && blob_bad && blob_later(it, rc) == LATER)
		return LATER;              /* not acknowledged: fetched again */
	if (rc != SB_OK) {
		char buf[160];

		if (inbox_err_transient(rc))
			return rc;
		snprintf(buf, sizeof(buf), "attachment: %s", sb_strerror(rc));
		return reject(a, it, buf);
	}
	s->r.cfile = s->ref;
	s->r.cfile_id = s->file_id;
	return READY;
}

/*
 * The ONE transaction of a batch: every READY item's rows, one COMMIT,
 * one fsync (WAL, synchronous=FULL) for all of them.  Each item ends
 * S_STORED, S_REFUSED or S_AGAIN (store_one's savepoint); SB_OK, or a
 * transient error after which nothing of the batch is stored (all back to
 * S_READY, their own new content files deleted, as they are fetched again).
 */
static int
commit_batch(struct agent *a, struct staged *s, size_t n)
{
	size_t i, ready = 0;
	int rc, one;

	const struct contacts *ct;

	for (i = 0; i < n; i++)
		ready += s[i].stage == S_READY;
	if (ready == 0)
		return SB_OK;
	ct = agent_contacts(a);           /* before db_lock (lock order) */
	store_lock(a);
	rc = store_begin(a->db);
	for (i = 0; rc == SB_OK && i < n; i++) {
		if (s[i].stage != S_READY)
			continue;
		one = store_one(a, ct, s[i].it, &s[i].r, s[i].old);
		if (one == SB_OK) {
			s[i].stage = S_STORED;
		} else if (one == SB_ERR_REPLAY && !sqlite3_get_autocommit(a->db)) {
			/* raced with a re-push of itself, or its twin is earlier in
			 * this batch */
			s[i].stage = S_REFUSED;
			s[i].why = "replay (this device's message id, or the key block, seen before)";
		} else if (one == SB_ERR_EXISTS && !sqlite3_get_autocommit(a->db)) {
			s[i].stage = S_REFUSED;
			s[i].why = "its path runs into a file, or a folder with entries,"
			    " of the tree already here";
		} else if (one == SB_ERR_NOT_FOUND && !sqlite3_get_autocommit(a->db)) {
			s[i].stage = S_AGAIN;
		} else {
			rc = one;
		}
	}
	rc = store_end(a->db, rc);
	store_unlock(a);
	if (rc == SB_OK)
		return SB_OK;
	for (i = 0; i < n; i++) {
		if (s[i].stage != S_STORED && s[i].stage != S_REFUSED && s[i].stage != S_AGAIN)
			continue;
		s[i].stage = S_READY;
		s[i].old[0][0] = s[i].old[1][0] = '\0';
	}
	return rc;
}

/* After commit_batch: what the user and the relay learn of each item.
 * Listed from its COMMIT on; the ACK follows its announcement. */
static void
finish(struct agent *a, struct staged *s, int committed, size_t together)
{
	struct inbox_item *it = s->it;
	char idhex[2 * INBOX_MSGID_LEN + 1];

	if (s->stage == S_READY || s->stage == S_REFUSED || s->stage == S_AGAIN) {
		/* not stored: a content file fetched for it alone goes */
		if (s->r.cfile && !s->r.shared)
			msgstore_file_delete(a, s->r.cfile);
		if (s->stage == S_REFUSED) {
			reject(a, it, s->why);
			s->stage = S_DONE;
		}
		if (!committed || s->stage == S_AGAIN)
			s->stage = S_NONE;
		return;
	}
	if (s->stage != S_STORED)
		return;
	msgstore_ref_release(a, s->old[0]);
	msgstore_ref_release(a, s->old[1]);
	sb_hex(it->msgid, INBOX_MSGID_LEN, idhex);
	fprintf(stderr, "sealbox: received message %s from %s/%016" PRIx64
	    " -> %s/%s/%s (%" PRIu64 " bytes%s; stored %.3f ms after its push,"
	    " in a batch of %zu)\n", idhex, it->sender, it->sender_device,
	    s->r.box == AGENT_BOX_IN ? "inbox" : "outbox", s->r.folder, s->r.name, s->r.size,
	    s->r.shared ? "; its content was stored already" : "",
	    (double)(mono_ns() - it->pushed_ns) / 1e6, together);
	{
		/* Listed from now on: tell the watchers (fs/ for the kernel's
		 * caches and inotify, watch/ for `sealbox watch` and the hook).
		 * They only queue; the ACK does not wait for them. */
		struct agent_arrival ev = {
			.box = (enum agent_box)s->r.box, .folder = s->r.folder,
			.name = s->r.name, .sender = it->sender,
			.sender_device = it->sender_device, .msgid = it->msgid,
			.size = s->r.size, .sent = s->r.sent, .arrived = s->r.arrived,
			.new_folder = s->r.new_folder,
		};
		/* (a folder of a tree is no message: nothing to announce) */
		if (s->m->kind != MESSAGE_FOLDER)
			agent_arrived(a, &ev);
	}
	ack(a, it);
	s->stage = S_DONE;
	/* Only a message that passed every check has its gossip looked at
	 * (PROTOCOL.md 11, 14.9). */
	if (s->m->gossip_len > 0)
		gossip_check(a, it, s->m->gossip, s->m->gossip_len);
}

/* Commits the READY items of s[0..n), finishes every item there and sends
 * the ACKs gathered so far (rejections before them included). */
static int
flush(struct agent *a, struct inbox *in, struct staged *s, size_t n)
{
	int rc = commit_batch(a, s, n);
	size_t i, stored = 0;

	for (i = 0; i < n; i++)
		stored += s[i].stage == S_STORED;
	for (i = 0; i < n; i++)
		finish(a, &s[i], rc == SB_OK, stored);
	acks_send(a, in);
	return rc;
}

/*
 * Verifies, stores and acknowledges the items of batch[0..n), in order:
 * one transaction for all that are ready, then their announcements and
 * ACKs.  An attachment to download first commits what is ready before it
 * (a download may take long; the messages verified meanwhile need not
 * wait for it).  A transient error stops the batch there: what is ready
 * is committed, the rest stays queued, unacked.  done[i] is set for each
 * item that was acknowledged (stored or rejected); SB_OK or that error.
 */
static int
run_batch(struct agent *a, struct inbox *in, struct inbox_item **batch, size_t n, int *done)
{
	struct staged *s = calloc(n, sizeof(*s));
	size_t i, first = 0;
	int rc = SB_OK, one;

	if (s == NULL)
		return SB_ERR_ALLOC;
	rc = agent_keys_acquire(a);
	for (i = 0; rc == SB_OK && i < n; i++) {
		s[i].it = batch[i];
		one = verify(a, batch[i], &s[i]);
		if (one == FETCH) {
			rc = flush(a, in, s + first, i - first);
			first = i;
			if (rc != SB_OK)
				break;
			one = fetch(a, batch[i], &s[i]);
		}
		if (one == READY)
			s[i].stage = S_READY;
		else if (one == DONE)
			s[i].stage = S_DONE;
		else if (one == LATER)
			s[i].stage = S_LATER;
		else
			rc = one;                    /* transient: stop here */
	}
	if (first < n) {
		int frc = flush(a, in, s + first, n - first);
		if (rc == SB_OK)
			rc = frc;
	}
	for (i = 0; i < n; i++) {
		done[i] = s[i].stage == S_DONE;
		staged_clear(&s[i]);
	}
	free(s);
	return rc;
}

/* ---- The worker ----------------------------------------------------------- */

/* Sleeps until deadline_ms (monotonic) or stop; pushes do not cut it
 * short, so a burst of arrivals cannot turn a backoff into a busy loop. */
static void
wait_until(struct inbox *in, int64_t deadline_ms)
{
	struct timespec ts;
	int64_t left;

	pthread_mutex_lock(&in->lock);
	while (!in->stop && (left = deadline_ms - sb_mono_ms()) > 0) {
		sb_deadline(CLOCK_REALTIME, left, &ts);
		pthread_cond_timedwait(&in->cond, &in->lock, &ts);
	}
	pthread_mutex_unlock(&in->lock);
}

/*
 * The item to work on: the first one due now (in queue order) from a sender
 * other than the one served last, else the first one due; NULL with
 * *next_ms the soonest time one falls due (0: none is waiting).  Taking
 * turns means a sender with many slow items (attachments, fetches again)
 * delays another sender's message by one item at most per turn.  Order
 * within one sender's items is kept.  Items already in the batch being
 * gathered are skipped.  Under in->lock.
 */
static struct inbox_item *
next_due(struct inbox *in, int64_t now, int64_t *next_ms)
{
	struct inbox_item *it, *first = NULL;

	*next_ms = 0;
	for (it = in->head; it != NULL; it = it->next) {
		if (it->in_batch)
			continue;
		if (it->blob_next_ms <= now) {
			if (strcmp(it->sender, in->last_sender) != 0)
				return it;
			if (first == NULL)
				first = it;
			continue;
		}
		if (*next_ms == 0 || it->blob_next_ms < *next_ms)
			*next_ms = it->blob_next_ms;
	}
	return first;
}

/* Removes it from the queue, wherever it is.  Under in->lock. */
static void
unqueue(struct inbox *in, struct inbox_item *it)
{
	struct inbox_item **pp, *prev = NULL;

	for (pp = &in->head; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
		if (*pp == it) {
			*pp = it->next;
			if (in->tail == it)
				in->tail = prev;
			in->n--;
			return;
		}
	}
}

/* The resync, when one is due: the relay pushes its backlog again, and
 * what was dropped comes back.  The queued items come again too and are
 * recognised by item id. */
static void
resync_if_due(struct inbox *in, int64_t *next_ms)
{
	struct client *c;
	int due;

	pthread_mutex_lock(&in->lock);
	due = inbox_resync_due(in, sb_mono_ms(), next_ms);
	pthread_mutex_unlock(&in->lock);
	if (due && (c = client_of(in->a)) != NULL) {
		fprintf(stderr, "sealbox: inbox: room again for dropped pushes;"
		    " asking the relay for its backlog\n");
		client_resync(c);
	}
}

static int64_t
sooner(int64_t a, int64_t b)
{
	return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

static void *
worker(void *arg)
{
	struct inbox *in = arg;
	struct agent *a = in->a;
	struct inbox_item *it = NULL, *batch[INBOX_BATCH_MAX];
	int done[INBOX_BATCH_MAX];
	unsigned backoff = RETRY_MIN_MS;
	int64_t next_ms, resync_ms;
	size_t n, i;
	int rc, last = SB_OK;

	for (;;) {
		resync_if_due(in, &resync_ms);
		pthread_mutex_lock(&in->lock);
		while (!in->stop && (it = next_due(in, sb_mono_ms(), &next_ms)) == NULL) {
			next_ms = sooner(next_ms, resync_ms);
			if (next_ms == 0) {
				pthread_cond_wait(&in->cond, &in->lock);
			} else {
				pthread_mutex_unlock(&in->lock);
				wait_until(in, next_ms);   /* a blob's next fetch, a resync */
				pthread_mutex_lock(&in->lock);
			}
			pthread_mutex_unlock(&in->lock);
			resync_if_due(in, &resync_ms);
			pthread_mutex_lock(&in->lock);
		}
		if (in->stop) {
			pthread_mutex_unlock(&in->lock);
			break;
		}
		/* The batch: everything due now, up to INBOX_BATCH_MAX, taken in
		 * turns between senders as one item at a time would be.  The
		 * items stay queued while processed: dedup sees them. */
		n = 0;
		do {
			snprintf(in->last_sender, sizeof(in->last_sender), "%s", it->sender);
			it->in_batch = 1;
			batch[n++] = it;
		} while (n < INBOX_BATCH_MAX && (it = next_due(in, sb_mono_ms(), &next_ms)) != NULL);
		pthread_mutex_unlock(&in->lock);

		rc = run_batch(a, in, batch, n, done);
		for (i = 0; i < n; i++) {
			it = batch[i];
			if (done[i] && it->space_tries > 0) {
				store_lock(a);
				msgstore_waiting_clear(a->db, it->item_id);   /* best effort: status only */
				store_unlock(a);
			}
		}
		pthread_mutex_lock(&in->lock);
		for (i = 0; i < n; i++) {
			batch[i]->in_batch = 0;
			if (!done[i])
				continue;
			unqueue(in, batch[i]);
			item_free(batch[i]);
		}
		if (in->n == 0)
			in->resync_backoff_ms = 0;   /* drained: the next resync may be prompt */
		pthread_mutex_unlock(&in->lock);
		if (rc != SB_OK) {
			/* Transient (keyring, network, disk): nothing behind it would
			 * fare better; keep it (unacked) and try again later. */
			for (i = 0; i < n && done[i]; i++)
				;
			if (rc != last)
				fprintf(stderr, "sealbox: inbox: cannot store item %" PRIu64
				    " now (%s); will retry\n", i < n ? batch[i]->item_id : 0,
				    sb_strerror(rc));
			last = rc;
			wait_until(in, sb_mono_ms() + backoff);
			backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
			continue;
		}
		last = SB_OK;
		backoff = RETRY_MIN_MS;
	}
	return NULL;
}

int
recv_start(struct agent *a, struct inbox *in)
{
	in->a = a;
	if (pthread_create(&in->thread, NULL, worker, in) != 0)
		return SB_ERR_SYSTEM;
	in->started = 1;
	return SB_OK;
}

void
recv_stop(struct inbox *in)
{
	struct inbox_item *it;

	if (in == NULL)
		return;
	pthread_mutex_lock(&in->lock);
	in->stop = 1;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	if (in->started)
		pthread_join(in->thread, NULL);
	in->started = 0;
	/* What is left was never acknowledged: the relay still has it. */
	while ((it = in->head) != NULL) {
		in->head = it->next;
		item_free(it);
	}
	in->tail = NULL;
	in->n = 0;
	while (in->n_dropped > 0)
		free(in->dropped[--in->n_dropped]);
}

/* ---- Pure rules ------------------------------------------------------------ */

static int
str_is(const struct message_str *s, const char *z)
{
	size_t n = strlen(z);

	return s->len == n && memcmp(s->p, z, n) == 0;
}

int
inbox_check_envelope(const struct inbox_envelope *env, const struct message *m,
    const char *self, int *is_sync, const char **why)
{
	*is_sync = 0;
	*why = NULL;
	if (!str_is(&m->sender, env->sender)) {
		*why = "inner sender differs from the envelope's";
		return SB_ERR_ENVELOPE;
	}
	if (!crypto_ct_equal(m->id, env->msgid, INBOX_MSGID_LEN)) {
		*why = "inner message id differs from the envelope's";
		return SB_ERR_ENVELOPE;
	}
	if (m->timestamp > env->time + INBOX_MAX_FUTURE_S) {
		*why = "sender timestamp is in the future";
		return SB_ERR_ENVELOPE;
	}
	if (env->time > INBOX_MAX_AGE_S && m->timestamp < env->time - INBOX_MAX_AGE_S) {
		*why = "sender timestamp is too old";
		return SB_ERR_ENVELOPE;
	}
	if (strcmp(env->sender, self) == 0) {
		/* Our own address: a copy one of our other devices sent. */
		*is_sync = 1;
		return SB_OK;
	}
	if (!message_has_recipient(m, self, strlen(self))) {
		*why = "we are not among the recipients";
		return SB_ERR_ENVELOPE;
	}
	return SB_OK;
}

int
inbox_keyblock_hash(const uint8_t *payload, size_t len, uint8_t out[INBOX_KEYHASH_LEN])
{
	struct crypto_hasher *h = NULL;
	uint8_t sha1[CRYPTO_SHA1_LEN];
	int rc = crypto_hasher_new(&h);

	if (rc == SB_OK)
		rc = crypto_hasher_update(h, payload,
		    len < INBOX_KEYBLOCK_LEN ? len : INBOX_KEYBLOCK_LEN);
	if (rc == SB_OK)
		rc = crypto_hasher_final(h, sha1, out);
	crypto_hasher_free(h);
	return rc;
}

int
inbox_err_transient(int err)
{
	switch (err) {
	case SB_ERR_ALLOC:
	case SB_ERR_SYSTEM:
	case SB_ERR_STORAGE:
	case SB_ERR_NO_SPACE:
	case SB_ERR_NET:
	case SB_ERR_TLS:
	case SB_ERR_CLOSED:
	case SB_ERR_AUTH:
	case SB_ERR_PROTOCOL:
	case SB_ERR_NO_KEYRING:
	case SB_ERR_KEYRING_LOCKED:
	case SB_ERR_KEY_MISSING:
	case SB_ERR_KEY_CORRUPT:
	case SB_ERR_INTERNAL:
	case SB_ERR_CRYPTO:
		return 1;
	default:
		return 0;
	}
}

/* ---- Lifecycle --------------------------------------------------------------- */

int
inbox_init(struct agent *a)
{
	struct inbox *in;
	int rc;

	if ((rc = msgstore_open(a)) != SB_OK)
		return rc;
	in = calloc(1, sizeof(*in));
	if (in == NULL)
		return SB_ERR_ALLOC;
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->cond, NULL);
	pthread_mutex_lock(&a->lock);
	a->in = in;
	pthread_mutex_unlock(&a->lock);
	rc = recv_start(a, in);
	if (rc != SB_OK)
		inbox_shutdown(a);
	return rc;
}

void
inbox_shutdown(struct agent *a)
{
	struct inbox *in;

	if (a == NULL)
		return;
	/* Unhooked under a->lock first: a push arriving now is dropped (the
	 * relay keeps it), never queued into freed memory. */
	pthread_mutex_lock(&a->lock);
	in = a->in;
	a->in = NULL;
	pthread_mutex_unlock(&a->lock);
	if (in != NULL) {
		recv_stop(in);
		pthread_cond_destroy(&in->cond);
		pthread_mutex_destroy(&in->lock);
		free(in);
	}
	/* The statements msgstore kept go before the connection (store_close
	 * follows: agent_close, after the mount's threads are gone). */
	if (a->db != NULL) {
		store_lock(a);
		msgstore_stmts_free(a->db);
		store_unlock(a);
	}
}

/* ---- Names ---------------------------------------------------------------------------- */

/* Length of the longest prefix of s[0..max) ending on a UTF-8 boundary. */
static size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

int
inbox_name_variant(const char *name, unsigned n, char *out, size_t out_size)
{
	char suffix[16];
	const char *dot = strrchr(name, '.');
	size_t len = strlen(name), ext_len = 0, base_len, slen, room;

	if (out_size < NAMES_NAME_BUF || n < 2)
		return SB_ERR_INVALID_ARG;
	if (dot && dot != name && strlen(dot) <= NAMES_EXT_MAX + 1)
		ext_len = strlen(dot);
	base_len = len - ext_len;
	slen = (size_t)snprintf(suffix, sizeof(suffix), " (%u)", n);
	if (slen + ext_len >= NAMES_NAME_MAX)
		return SB_ERR_LENGTH;
	room = NAMES_NAME_MAX - slen - ext_len;
	base_len = utf8_cut(name, base_len, room);
	memcpy(out, name, base_len);
	memcpy(out + base_len, suffix, slen);
	memcpy(out + base_len + slen, name + len - ext_len, ext_len);
	out[base_len + slen + ext_len] = '\0';
	return SB_OK;
}
