/*
 * send.c - the sender thread: takes queued outbox rows in order, seals the
 * inner message once per device (inline) or uploads the content as an
 * AES-256-CTR blob and seals its descriptor (attachment), submits the batch
 * through client_send, and records the outcome; refreshes delivery status
 * on demand.
 *
 * Never drops a queued message on a transient failure (relay down, keyring
 * locked, disk busy): it stays "queued" and is retried with backoff, with
 * the same message id, so the relay's duplicate check (SB_ERR_EXISTS) keeps
 * it from arriving twice.  Never writes plaintext to disk: the blob
 * streams from the spool to the relay, encrypted and hashed on the way,
 * with no copy on disk; the attachment key lives only in memory and is
 * wiped.
 */
#include "agent/send/outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "client/client.h"
#include "common/clock.h"
#include "common/sberr.h"
#include "agent/cfile.h"
#include "agent/config.h"
#include "agent/message.h"
#include "agent/trust.h"
#include "agent/names.h"
#include "agent/store.h"

#define CHUNK 65536

struct job {
	struct agent *a;
	int64_t row;
	char folder[NAMES_NAME_BUF];
	char name[AGENT_PATH_MAX + 1];      /* a path below the folder */
	char file[64];
	uint8_t msgid[PROTO_MSGID_LEN];
	uint64_t size;
	struct timespec mtime;
	struct message m;
	struct sb_buf inner;         /* the encoded inner message (cleansing) */
	uint32_t limit;              /* inline limit; 0 = no check */
	int too_big;                 /* a sealed payload exceeded limit */
	char held[TRUST_LINE_BUF];   /* SB_ERR_HELD: the status text */
	int is_dir;                  /* a folder message (PROTOCOL.md 11.1) */
	int cancelled, moved;        /* removed / renamed before submission */
	char prev_uri[SB_MAX_URI + 1];  /* an earlier attempt's blob, "" if none */
	struct sb_buf gossip;        /* the tree head m.gossip points into */
	int64_t due_ns;              /* its last close + OB_SETTLE_MS (realtime) */
	struct ob_slot *slot;        /* the sender slot it is in flight in */
};

/* send_row's outcomes besides SB_OK and the SB_ERR_* of the attempt. */
#define SEND_CANCELLED 1     /* removed before the relay accepted it */
#define SEND_MOVED     2     /* renamed meanwhile: send it again, at once */

/*
 * The last word before a payload goes out (client_send's reseal ends with
 * it, just before each SEND).  It first waits out the row's settle time
 * (OB_SETTLE_MS after its last close: the lookups, the upload and the
 * sealing ran meanwhile, so the wait costs only what they did not fill),
 * waking early for a remover or a rename; then a row removed or renamed
 * since it was loaded stops here.  From here until submit_done() a
 * remover waits for the relay's answer (outbox.c, inflight_settle).
 */
static int
my_turn(const struct outbox *ob, const struct job *j)
{
	for (size_t k = 0; k < OB_SENDERS; k++) {
		const struct ob_slot *o = &ob->slot[k];

		if (o != j->slot && o->inflight != 0 && o->inflight < j->row && !o->queued)
			return 0;
	}
	return 1;
}

static int
submit_check(struct job *j)
{
	struct outbox *ob = j->a->out;
	struct timespec due = { (time_t)(j->due_ns / 1000000000),
	    (long)(j->due_ns % 1000000000) };
	int rc = SB_OK;

	pthread_mutex_lock(&ob->lock);
	while (j->due_ns > 0 && !j->slot->cancel && !j->slot->moved && !ob->stop &&
	    pthread_cond_timedwait(&ob->cond, &ob->lock, &due) == 0)
		;
	/* Our turn: every older row in another slot has queued its SEND (or
	 * given up), so ours goes on the wire after theirs (slot_queued). */
	while (!j->slot->cancel && !j->slot->moved && !ob->stop && !my_turn(ob, j))
		pthread_cond_wait(&ob->cond, &ob->lock);
	if (j->slot->cancel)
		j->cancelled = 1;
	else if (j->slot->moved)
		j->moved = 1;
	else
		j->slot->submitting = 1;
	if (j->cancelled || j->moved)
		rc = SB_ERR_NOT_FOUND;
	pthread_mutex_unlock(&ob->lock);
	return rc;
}

/* 1 if the row was removed or renamed since the job began (no lock kept). */
static int
job_stopped(struct job *j)
{
	struct outbox *ob = j->a->out;

	pthread_mutex_lock(&ob->lock);
	j->cancelled = j->slot->cancel;
	j->moved = !j->cancelled && j->slot->moved;
	pthread_mutex_unlock(&ob->lock);
	return j->cancelled || j->moved;
}

static void
submit_done(struct job *j, int rc)
{
	struct outbox *ob = j->a->out;

	pthread_mutex_lock(&ob->lock);
	j->slot->submitting = 0;
	if (rc == SB_OK || rc == SB_ERR_EXISTS)
		j->slot->accepted_row = j->row;
	pthread_cond_broadcast(&ob->cond);
	pthread_mutex_unlock(&ob->lock);
}

/* A blob no accepted message names: the sender deletes it at the relay
 * (drain_gone), durably noted first so a crash does not forget it. */
static void
blob_gone(struct agent *a, const char *uri)
{
	sqlite3_stmt *st;

	if (uri == NULL || uri[0] == '\0')
		return;
	store_lock(a);
	if (store_prepare(a->db, "INSERT OR IGNORE INTO out_blob_gone(uri) VALUES(?)",
	    &st) == SB_OK) {
		sqlite3_bind_text(st, 1, uri, -1, SQLITE_TRANSIENT);
		store_step_done(a->db, st);
		sqlite3_finalize(st);
	}
	store_unlock(a);
}

static void
set_blob_uri(struct agent *a, int64_t row, const char *uri)
{
	sqlite3_stmt *st;

	store_lock(a);
	if (store_prepare(a->db, "UPDATE out_msg SET blob_uri = ? WHERE id = ?", &st) == SB_OK) {
		if (uri && uri[0])
			sqlite3_bind_text(st, 1, uri, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, 1);
		sqlite3_bind_int64(st, 2, row);
		store_step_done(a->db, st);
		sqlite3_finalize(st);
	}
	store_unlock(a);
}

/* client_send_ex's queued callback: our SEND is queued in order; the
 * next row's slot may queue its own. */
static void
slot_queued(void *arg)
{
	struct job *j = arg;
	struct outbox *ob = j->a->out;

	pthread_mutex_lock(&ob->lock);
	j->slot->queued = 1;
	pthread_cond_broadcast(&ob->cond);
	pthread_mutex_unlock(&ob->lock);
}

/* client_send once, with the submission bracketed for removers. */
static int
submit(struct job *j, const char **to, size_t n_to, client_reseal_fn fn, uint64_t *ts)
{
	int rc = client_send_ex(agent_client(j->a), j->msgid, to, n_to, fn, slot_queued, j, ts);

	submit_done(j, rc);
	if (j->cancelled)
		return SEND_CANCELLED;
	if (j->moved)
		return SEND_MOVED;
	return rc;
}

/* ---- sealing ------------------------------------------------------------------ */

static int monitor_own(struct agent *a);

/*
 * Applies a send set's devices of addr to the pins.  Our own account is
 * another matter: a send set leaves this device out and says nothing of
 * who signed a removal, so when it differs from the pins the account is
 * looked up whole, with its log history (monitor_own), before sealing.
 */
static int
observe(struct agent *a, const char *addr, const struct client_device *devs, size_t n,
    int *verdict)
{
	int rc, equal = 0;

	store_lock(a);
	if (strcmp(addr, a->cfg->address) != 0)
		rc = trust_observe_devices(a->db, addr, devs, n, TRUST_OBSERVE, time(NULL),
		    verdict, stderr);
	else
		rc = trust_pins_equal(a->db, addr, devs, n, a->cfg->device_id,
		    crypto_identity_hash(a->identity), &equal);
	store_unlock(a);
	if (rc == SB_OK && strcmp(addr, a->cfg->address) == 0 && !equal)
		(void)monitor_own(a);
	return rc;
}

/*
 * client_send's reseal callback: one payload per device, each sealed to the
 * device's PINNED identity (agent/trust.h), never to what the directory
 * says now when the two differ.  The directory's answer is applied to the
 * pins first, per address (a new device is pinned and alerted, a changed
 * identity alerted and not used); a verified contact whose devices changed
 * stops the send: SB_ERR_HELD, j->held naming it.
 */
static int
reseal(void *arg, const struct client_device *devs, size_t n, struct sb_buf *payloads)
{
	struct job *j = arg;
	struct agent *a = j->a;
	struct sb_buf head = SB_BUF_INIT;
	int rc = SB_OK, verdict;

	if (job_stopped(j))
		return SB_ERR_NOT_FOUND;
	/* The lookups of this send may have brought a newer tree head than
	 * the one the message was encoded with: gossip the newest. */
	if (client_log_head(agent_client(a), &head) == SB_OK && head.len > 0 &&
	    head.len <= MESSAGE_MAX_GOSSIP && (head.len != j->m.gossip_len ||
	    memcmp(head.d, j->m.gossip, head.len) != 0)) {
		sb_buf_free(&j->gossip);
		j->gossip = head;
		head = (struct sb_buf)SB_BUF_INIT;
		j->m.gossip = j->gossip.d;
		j->m.gossip_len = j->gossip.len;
		sb_buf_free(&j->inner);
		if ((rc = message_encode(&j->m, &j->inner)) != SB_OK)
			return rc;
	}
	sb_buf_free(&head);
	/* Our own account first and always: a send set that lists none of
	 * its other devices says they are gone. */
	rc = observe(a, a->cfg->address, devs, n, &verdict);
	for (size_t i = 0; rc == SB_OK && i < n; i++) {
		int seen = strcmp(devs[i].address, a->cfg->address) == 0;

		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(devs[k].address, devs[i].address) == 0;
		if (seen)
			continue;
		rc = observe(a, devs[i].address, devs, n, &verdict);
		if (rc == SB_OK && verdict == TRUST_HOLD) {
			trust_held_text(devs[i].address, j->held, sizeof(j->held));
			rc = SB_ERR_HELD;
		}
	}
	for (size_t i = 0; rc == SB_OK && i < n; i++) {
		struct crypto_identity *id = NULL;
		int gone = 0;

		spool_lock(a);          /* reads only: no need to switch modes */
		rc = trust_is_removed(a->db, devs[i].address, devs[i].id, &gone);
		if (rc == SB_OK && !gone)
			rc = trust_pin_get(a->db, devs[i].address, devs[i].id, &id);
		spool_unlock(a);
		/* A device this one removed, named by a stale cache: nothing
		 * sealed to it; the relay answers STALE and the set is fetched
		 * again.  A device pinned refused (nobody of its account
		 * approved it): nothing sealed to it either, the others get
		 * the message. */
		if ((rc == SB_OK && gone) || rc == SB_ERR_PERMISSION) {
			rc = SB_OK;
			continue;
		}
		/* A device of our own account we have not pinned even after
		 * looking the account up (observe): a stale set; nothing sealed
		 * to it, the relay says what the set is now. */
		if (rc == SB_ERR_NOT_FOUND && strcmp(devs[i].address, a->cfg->address) == 0) {
			rc = SB_OK;
			continue;
		}
		if (rc != SB_OK) {
			fprintf(stderr, "sealbox: send: device %llu of %s has no usable"
			    " pinned identity: %s\n", (unsigned long long)devs[i].id,
			    devs[i].address, sb_strerror(rc));
			return rc == SB_ERR_NOT_FOUND ? SB_ERR_KEY_INVALID : rc;
		}
		rc = crypto_seal(a->sign_key, a->identity, id, j->inner.d, j->inner.len,
		    &payloads[i]);
		crypto_identity_free(id);
		if (rc != SB_OK)
			return rc;
		if (j->limit && payloads[i].len > j->limit) {
			j->too_big = 1;
			return SB_ERR_TOO_BIG;
		}
	}
	if (rc == SB_OK)
		rc = submit_check(j);
	return rc;
}

/*
 * The blob's producer (client_blob_upload_fill, on the client's I/O
 * thread): the next piece of the spooled content, decrypted into the
 * secure heap, AES-256-CTR encrypted into the frame and hashed there.  One
 * pass from the spool to the relay: no copy of the blob on disk.
 */
struct blob_src {
	struct job *j;
	struct cfile *cf;
	struct crypto_hasher *h;     /* NULL: hashed while it was written */
	uint8_t *plain;              /* CHUNK bytes, secure heap */
	uint64_t off;
};

static int
blob_fill(void *arg, uint8_t *buf, size_t want, size_t *got)
{
	struct blob_src *s = arg;
	int rc;

	if (want > CHUNK)
		want = CHUNK;
	if ((rc = cfile_pread(s->cf, s->plain, want, s->off, got)) != SB_OK)
		return rc;
	if (*got == 0)
		return SB_ERR_TRUNCATED;
	if ((rc = crypto_attach_xor(s->j->m.att.key, s->off, s->plain, buf, *got)) != SB_OK ||
	    (s->h != NULL && (rc = crypto_hasher_update(s->h, buf, *got)) != SB_OK))
		return rc;
	s->off += *got;
	return SB_OK;
}

/*
 * Encrypts the row's content as it streams to the relay.  Key and hashes
 * come from the spool when it made them while the file was written
 * (cfile_blob_take: once per key); else a fresh key, and the ciphertext is
 * hashed on the way.  Fills j->m's descriptor (uri points into uri_buf).
 */
static int
upload(struct job *j, struct cfile *cf, char uri_buf[SB_MAX_URI + 1])
{
	struct blob_src s = { .j = j, .cf = cf };
	int rc;

	if (cfile_blob_take(cf, j->m.att.key, j->m.att.sha1, j->m.att.sha256) == SB_OK) {
		fprintf(stderr, "sealbox: send: %s/%s: blob key and hashes made while"
		    " it was written\n", j->folder, j->name);
		rc = SB_OK;
	} else if ((rc = crypto_attach_key_generate(j->m.att.key)) == SB_OK)
		rc = crypto_hasher_new(&s.h);
	if (rc != SB_OK)
		goto out;
	if ((s.plain = OPENSSL_secure_malloc(CHUNK)) == NULL) {
		rc = SB_ERR_ALLOC;
		goto out;
	}
	if (job_stopped(j)) {
		rc = j->cancelled ? SEND_CANCELLED : SEND_MOVED;
		goto out;
	}
	rc = client_blob_upload_fill(agent_client(j->a), j->size, blob_fill, &s, uri_buf);
	if (job_stopped(j)) {          /* removed or renamed while it went */
		if (rc == SB_OK)
			blob_gone(j->a, uri_buf);   /* nobody's: a retry uploads anew */
		rc = j->cancelled ? SEND_CANCELLED : SEND_MOVED;
		goto out;
	}
	if (rc == SB_OK && s.off != j->size)
		rc = SB_ERR_TRUNCATED;
	if (rc == SB_OK && s.h != NULL)
		rc = crypto_hasher_final(s.h, j->m.att.sha1, j->m.att.sha256);
	if (rc == SB_OK) {
		j->m.kind = MESSAGE_ATTACHMENT;
		j->m.att.uri.p = uri_buf;
		j->m.att.uri.len = strlen(uri_buf);
		j->m.att.size = j->size;
	}
out:
	if (s.plain)
		OPENSSL_secure_clear_free(s.plain, CHUNK);
	crypto_hasher_free(s.h);
	return rc;
}

/*
 * The message's fixed fields from the job, and its name: a path below the
 * conversation ("a/b/c.txt") travels as name "c.txt" and the path
 * extension ["a", "b"] (docs/PROTOCOL.md 11.1).  The components borrow
 * from j->name, which must not change afterwards.
 */
static int
job_names(struct job *j)
{
	struct agent *a = j->a;
	char *s = j->name, *slash;

	memcpy(j->m.id, j->msgid, sizeof(j->m.id));
	j->m.timestamp = (uint64_t)time(NULL);
	j->m.sender.p = a->cfg->address;
	j->m.sender.len = strlen(a->cfg->address);
	j->m.folder.p = j->folder;
	j->m.folder.len = strlen(j->folder);
	j->m.mtime_sec = j->mtime.tv_sec > 0 ? (uint64_t)j->mtime.tv_sec : 0;
	j->m.mtime_nsec = (uint32_t)j->mtime.tv_nsec;
	j->m.depth = 0;
	while ((slash = strchr(s, '/')) != NULL) {
		if (j->m.depth == MESSAGE_MAX_DEPTH)
			return SB_ERR_LENGTH;
		j->m.path[j->m.depth].p = s;
		j->m.path[j->m.depth].len = (size_t)(slash - s);
		j->m.depth++;
		s = slash + 1;
	}
	j->m.name.p = s;
	j->m.name.len = strlen(s);
	return SB_OK;
}

static int
load_job(struct agent *a, int64_t row, struct job *j)
{
	sqlite3_stmt *st;
	int rc;

	memset(j, 0, sizeof(*j));
	j->a = a;
	j->row = row;
	spool_lock(a);
	rc = spool_prepare(a, "SELECT folder, name, file, msgid, size, mtime_s,"
	    " mtime_ns, blob_uri, is_dir, closed_ns, deleted FROM out_msg WHERE id = ?", &st);
	if (rc == SB_OK) {
		sqlite3_bind_int64(st, 1, row);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(j->folder, sizeof(j->folder), "%s", sqlite3_column_text(st, 0));
			snprintf(j->name, sizeof(j->name), "%s", sqlite3_column_text(st, 1));
			snprintf(j->file, sizeof(j->file), "%s", sqlite3_column_text(st, 2));
			if (sqlite3_column_bytes(st, 3) == PROTO_MSGID_LEN)
				memcpy(j->msgid, sqlite3_column_blob(st, 3), PROTO_MSGID_LEN);
			j->size = (uint64_t)sqlite3_column_int64(st, 4);
			j->mtime.tv_sec = sqlite3_column_int64(st, 5);
			j->mtime.tv_nsec = sqlite3_column_int64(st, 6);
			if (sqlite3_column_type(st, 7) == SQLITE_TEXT &&
			    sqlite3_column_bytes(st, 7) <= (int)SB_MAX_URI)
				snprintf(j->prev_uri, sizeof(j->prev_uri), "%s",
				    (const char *)sqlite3_column_text(st, 7));
			j->is_dir = sqlite3_column_int(st, 8);
			j->due_ns = sqlite3_column_int64(st, 9) + (int64_t)1000000 *
			    (j->is_dir ? OB_DIR_SETTLE_MS : OB_SETTLE_MS);
			/* Removed between next_queued and the sender's
			 * inflight mark (the remover saw no inflight row). */
			j->cancelled = sqlite3_column_int(st, 10) != 0;
		} else {
			rc = SB_ERR_NOT_FOUND;
		}
		spool_finalize(a, st);
	}
	spool_unlock(a);
	return rc;
}

/* SB_ERR_HELD (text in held) when a recipient is a verified contact whose
 * devices changed since (trust_held). */
static int
held_check(struct agent *a, const char *const *to, size_t n_to, char *held)
{
	const char *which = NULL;
	int rc;

	spool_lock(a);
	rc = trust_held(a->db, to, n_to, &which);
	spool_unlock(a);
	if (rc == SB_ERR_HELD)
		trust_held_text(which, held, TRUST_LINE_BUF);
	return rc;
}

/*
 * Sends one row.  Returns SB_OK (accepted: *ts the relay time), a permanent
 * error (outbox_err_permanent) or a transient one.
 */
/* Sends one queued row.  On SB_ERR_SYSTEM, *sys_errno is the failing
 * call's errno (saved before the cleanup below can change it); on
 * SB_ERR_HELD, held (TRUST_LINE_BUF bytes) is the row's status text. */
static int
send_row(struct agent *a, struct ob_slot *sl, int64_t row, uint64_t *ts, int *sys_errno,
    char *held)
{
	struct names_recipients *rcpt = NULL;
	const char **to = NULL;
	struct cfile *cf = NULL;
	uint8_t *content = NULL;
	char uri[SB_MAX_URI + 1];
	struct job j;
	char *path = NULL;
	size_t n_to = 0;
	int rc;

	if ((rc = load_job(a, row, &j)) != SB_OK)
		return rc;
	j.slot = sl;
	if (j.cancelled || job_stopped(&j))
		return j.cancelled ? SEND_CANCELLED : SEND_MOVED;
	if ((rc = agent_keys_acquire(a)) != SB_OK)
		return rc;
	if (agent_client(a) == NULL)
		return SB_ERR_NET;
	rc = names_resolve(agent_contacts(a), j.folder, strlen(j.folder), &rcpt);
	if (rc != SB_OK)
		goto out;
	n_to = names_recipients_count(rcpt);
	if (n_to > SB_MAX_LOOKUP_ADDRS || n_to > MESSAGE_MAX_RECIPIENTS) {
		rc = SB_ERR_TOO_BIG;
		goto out;
	}
	if ((to = calloc(n_to, sizeof(*to))) == NULL) {
		rc = SB_ERR_ALLOC;
		goto out;
	}
	j.m.n_recipients = n_to;
	for (size_t i = 0; i < n_to; i++) {
		to[i] = names_recipients_get(rcpt, i);
		j.m.recipients[i].p = to[i];
		j.m.recipients[i].len = strlen(to[i]);
	}
	message_sort_recipients(&j.m);
	/* From the store alone, before any upload: a send that must wait for
	 * the user costs nothing each time it is looked at again. */
	if ((rc = held_check(a, to, n_to, j.held)) != SB_OK)
		goto out;
	if ((rc = job_names(&j)) != SB_OK)
		goto out;
	if (j.is_dir) {
		/* A folder made in the conversation: no content, sent at once. */
		j.m.kind = MESSAGE_FOLDER;
		if ((rc = message_encode(&j.m, &j.inner)) == SB_OK)
			rc = submit(&j, to, n_to, reseal, ts);
		goto out;
	}
	if ((path = outbox_data_path(a, j.file)) == NULL) {
		rc = SB_ERR_ALLOC;
		goto out;
	}
	if ((rc = cfile_open(path, a->storage_key, 0, &cf)) != SB_OK)
		goto out;
	if (cfile_size(cf) != j.size) {
		fprintf(stderr, "sealbox: send: %s/%s: content is %llu bytes, record says"
		    " %llu\n", j.folder, j.name, (unsigned long long)cfile_size(cf),
		    (unsigned long long)j.size);
		j.size = cfile_size(cf);
	}

	j.limit = a->cfg->inline_limit ? a->cfg->inline_limit : CONFIG_INLINE_LIMIT_DEFAULT;
	/* Our newest tree head rides along inside the sealed message, where
	 * the relay cannot see or strip it (PROTOCOL.md 14.9): the client's,
	 * or before its first lookup the one the store kept; reseal takes a
	 * newer one the send's own lookups brought. */
	if (client_log_head(agent_client(a), &j.gossip) != SB_OK) {
		sb_buf_truncate(&j.gossip, 0);
		store_lock(a);
		if (trust_log_head_get(a->db, &j.gossip) != SB_OK)
			sb_buf_truncate(&j.gossip, 0);
		store_unlock(a);
	}
	if (j.gossip.len > 0 && j.gossip.len <= MESSAGE_MAX_GOSSIP) {
		j.m.gossip = j.gossip.d;
		j.m.gossip_len = j.gossip.len;
	}

	/* Inline when the content could fit: the payload is always larger than
	 * the plaintext, so anything over the limit goes by attachment at once. */
	if (j.size <= j.limit && j.size <= MESSAGE_MAX_INLINE) {
		size_t got = 0;
		if ((content = OPENSSL_secure_malloc(j.size ? j.size : 1)) == NULL) {
			rc = SB_ERR_ALLOC;
			goto out;
		}
		if ((rc = cfile_pread(cf, content, j.size, 0, &got)) != SB_OK)
			goto out;
		if (got != j.size) {
			rc = SB_ERR_TRUNCATED;
			goto out;
		}
		j.m.kind = MESSAGE_INLINE;
		j.m.content = content;
		j.m.content_len = j.size;
		if ((rc = message_encode(&j.m, &j.inner)) != SB_OK)
			goto out;
		rc = submit(&j, to, n_to, reseal, ts);
		if (rc != SB_ERR_TOO_BIG)
			goto out;
		fprintf(stderr, "sealbox: send: %s/%s: over the inline limit, sending as"
		    " an attachment\n", j.folder, j.name);
		sb_buf_free(&j.inner);
		j.too_big = 0;
	}
	if ((rc = upload(&j, cf, uri)) != SB_OK)
		goto out;
	/* Known before the SEND: after a crash the retry, whose key is new,
	 * knows this blob is garbage unless the relay accepted this attempt. */
	set_blob_uri(a, row, uri);
	if (job_stopped(&j)) {
		rc = j.cancelled ? SEND_CANCELLED : SEND_MOVED;
		if (j.cancelled) {
			blob_gone(a, uri);
			blob_gone(a, j.prev_uri);
		}
		goto out;
	}
	j.m.content = NULL;
	j.m.content_len = 0;
	if ((rc = message_encode(&j.m, &j.inner)) != SB_OK)
		goto out;
	rc = submit(&j, to, n_to, reseal, ts);
	if (rc == SB_OK && strcmp(j.prev_uri, uri) != 0) {
		blob_gone(a, j.prev_uri);               /* an earlier, refused attempt's */
	} else if (rc == SB_ERR_EXISTS && strcmp(j.prev_uri, uri) != 0) {
		blob_gone(a, uri);                      /* the earlier attempt went */
		set_blob_uri(a, row, j.prev_uri);
	} else if (rc == SEND_CANCELLED || (rc != SB_OK && outbox_err_permanent(rc))) {
		blob_gone(a, uri);
		blob_gone(a, j.prev_uri);
	}
out:
	*sys_errno = rc == SB_ERR_SYSTEM ? errno : 0;
	/* A directory answer the log does not back: an alert (on the
	 * recipient when there is one, else on our own account, whose answer
	 * every send includes); the send waits and is tried again. */
	if ((rc == SB_ERR_LOG_PROOF || rc == SB_ERR_LOG_FORK) && agent_client(a) != NULL) {
		store_lock(a);
		(void)trust_log_failure(a->db, agent_client(a), to != NULL && n_to == 1 ?
		    to[0] : a->cfg->address, rc, time(NULL), stderr);
		store_unlock(a);
	}
	if (rc == SB_ERR_HELD)
		memcpy(held, j.held, sizeof(j.held));
	if (rc != SB_OK && rc != SB_ERR_EXISTS && rc != SB_ERR_HELD && rc != SEND_CANCELLED &&
	    rc != SEND_MOVED)
		fprintf(stderr, "sealbox: send: %s/%s: %s\n", j.folder, j.name,
		    sb_strerror(rc));
	crypto_wipe(j.m.att.key, sizeof(j.m.att.key));
	sb_buf_free(&j.inner);
	if (content)
		OPENSSL_secure_clear_free(content, j.size ? j.size : 1);
	cfile_close(cf);
	free(path);
	free(to);
	names_recipients_free(rcpt);
	sb_buf_free(&j.gossip);
	return rc;
}

/* ---- the thread ------------------------------------------------------------------ */

static const char *
reason_of(int err)
{
	switch (err) {
	case SB_ERR_UNKNOWN_RECIPIENT: return "unknown recipient";
	case SB_ERR_TOO_BIG:           return "too big";
	case SB_ERR_NOT_FOUND:         return "unknown recipient";
	case SB_ERR_TAG:
	case SB_ERR_TRUNCATED:         return "content corrupt";
	default:                       return sb_strerror(err);
	}
}

/*
 * Claims the oldest queued row no slot has for slot sl (caller holds
 * ob->lock); 0: none now.  Rows are taken in queue order and their SENDs
 * queued in that order (submit_check), so versions of one name, a folder
 * and what it holds, and all of a conversation reach the relay in the
 * order they were written.  The row is taken at once: its settle time runs
 * while it is prepared.
 */
static int64_t
claim(struct agent *a, struct ob_slot *sl)
{
	struct outbox *ob = a->out;
	int64_t got = 0;
	sqlite3_stmt *st;

	spool_lock(a);
	/* Held rows wait for the user; the rest of the queue goes ahead. */
	if (spool_prepare(a, "SELECT id FROM out_msg WHERE state = 2 AND deleted = 0"
	    " AND held IS NULL ORDER BY id LIMIT ?", &st) == SB_OK) {
		sqlite3_bind_int(st, 1, OB_SENDERS + 1);
		while (got == 0 && sqlite3_step(st) == SQLITE_ROW) {
			int64_t id = sqlite3_column_int64(st, 0);
			int taken = 0;

			for (size_t k = 0; k < OB_SENDERS; k++)
				taken |= ob->slot[k].inflight == id;
			if (!taken)
				got = id;
		}
		spool_finalize(a, st);
	}
	spool_unlock(a);
	if (got != 0) {
		sl->inflight = got;
		sl->cancel = sl->moved = sl->submitting = sl->queued = 0;
	}
	return got;
}

static void
set_held(struct agent *a, int64_t row, const char *held)
{
	sqlite3_stmt *st;

	spool_lock(a);
	if (spool_prepare(a, "UPDATE out_msg SET held = ? WHERE id = ?", &st) == SB_OK) {
		if (held)
			sqlite3_bind_text(st, 1, held, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, 1);
		sqlite3_bind_int64(st, 2, row);
		store_step_done(a->db, st);
		spool_finalize(a, st);
	}
	spool_unlock(a);
}

/*
 * Releases the held rows whose recipients no longer hold them: the user
 * confirmed a new code or accepted the change (sealbox verify --confirm,
 * sealbox trust accept: written into store.db by another process, so
 * this is looked at on every turn of the sender, at most 2 s apart).
 * The store only: no network.
 */
static void
recheck_held(struct agent *a)
{
	int64_t rows[64];
	char folders[64][NAMES_NAME_BUF];
	size_t n = 0;
	sqlite3_stmt *st;

	spool_lock(a);
	if (spool_prepare(a, "SELECT id, folder FROM out_msg WHERE held IS NOT NULL"
	    " AND state = 2 AND deleted = 0 ORDER BY id LIMIT 64", &st) == SB_OK) {
		while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
			const unsigned char *f = sqlite3_column_text(st, 1);

			rows[n] = sqlite3_column_int64(st, 0);
			snprintf(folders[n], sizeof(folders[n]), "%s", f ? (const char *)f : "");
			n++;
		}
		spool_finalize(a, st);
	}
	spool_unlock(a);
	for (size_t i = 0; i < n; i++) {
		struct names_recipients *rcpt = NULL;
		const char *to[SB_MAX_LOOKUP_ADDRS];
		char held[TRUST_LINE_BUF];
		size_t n_to;
		int rc = names_resolve(agent_contacts(a), folders[i], strlen(folders[i]), &rcpt);

		n_to = names_recipients_count(rcpt);
		if (rc == SB_OK && n_to <= SB_MAX_LOOKUP_ADDRS) {
			for (size_t k = 0; k < n_to; k++)
				to[k] = names_recipients_get(rcpt, k);
			rc = held_check(a, to, n_to, held);
		}
		/* Anything but "still held" lets the sender decide again. */
		if (rc != SB_ERR_HELD) {
			fprintf(stderr, "sealbox: send: row %lld released\n", (long long)rows[i]);
			set_held(a, rows[i], NULL);
		}
		names_recipients_free(rcpt);
	}
}

static void
record(struct agent *a, int64_t row, int rc, uint64_t ts)
{
	sqlite3_stmt *st;

	spool_lock(a);
	if (rc == SB_OK || rc == SB_ERR_EXISTS) {
		if (spool_prepare(a, "UPDATE out_msg SET state = 3, sent_ts = ?,"
		    " reason = NULL WHERE id = ?", &st) == SB_OK) {
			sqlite3_bind_int64(st, 1, (int64_t)ts);
			sqlite3_bind_int64(st, 2, row);
			store_step_done(a->db, st);
			spool_finalize(a, st);
		}
		/* A version a newer one replaced while it waited: sent, it
		 * leaves the outbox like the versions before it. */
		if (spool_prepare(a, "UPDATE out_msg SET deleted = 1 WHERE id = ?1 AND"
		    " EXISTS (SELECT 1 FROM out_msg o, out_msg me WHERE me.id = ?1 AND"
		    " o.folder = me.folder AND o.name = me.name AND o.id > me.id AND"
		    " o.deleted = 0 AND o.state >= 2)", &st) == SB_OK) {
			sqlite3_bind_int64(st, 1, row);
			store_step_done(a->db, st);
			spool_finalize(a, st);
		}
	} else {
		/* Never accepted: a blob it uploaded is nobody's. */
		if (spool_prepare(a, "INSERT OR IGNORE INTO out_blob_gone(uri) SELECT"
		    " blob_uri FROM out_msg WHERE id = ? AND blob_uri IS NOT NULL", &st) == SB_OK) {
			sqlite3_bind_int64(st, 1, row);
			store_step_done(a->db, st);
			spool_finalize(a, st);
		}
		if (spool_prepare(a, "UPDATE out_msg SET state = 4, reason = ?"
		    " WHERE id = ?", &st) == SB_OK) {
			sqlite3_bind_text(st, 1, reason_of(rc), -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 2, row);
			store_step_done(a->db, st);
			spool_finalize(a, st);
		}
	}
	spool_unlock(a);
}

static void
refresh_status(struct agent *a, int64_t row)
{
	struct proto_status_entry *e = NULL;
	uint8_t msgid[PROTO_MSGID_LEN];
	size_t n = 0;
	int64_t delivered = 0, state = 0;
	sqlite3_stmt *st;
	int rc, have = 0;

	spool_lock(a);
	if (spool_prepare(a, "SELECT msgid, state FROM out_msg WHERE id = ?", &st) == SB_OK) {
		sqlite3_bind_int64(st, 1, row);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_bytes(st, 0) == PROTO_MSGID_LEN) {
			memcpy(msgid, sqlite3_column_blob(st, 0), PROTO_MSGID_LEN);
			state = sqlite3_column_int(st, 1);
			have = 1;
		}
		spool_finalize(a, st);
	}
	spool_unlock(a);
	if (!have || state != OB_SENT || agent_client(a) == NULL)
		return;
	rc = client_status(agent_client(a), msgid, &e, &n);
	if (rc != SB_OK) {
		if (rc != SB_ERR_NOT_FOUND)
			return;
		n = 0;
	}
	for (size_t i = 0; i < n; i++)
		if (e[i].state == PROTO_STATE_DELIVERED)
			delivered++;
	free(e);
	spool_lock(a);
	if (spool_prepare(a, "UPDATE out_msg SET delivered = ?, total = ?,"
	    " status_at = ? WHERE id = ?", &st) == SB_OK) {
		sqlite3_bind_int64(st, 1, delivered);
		sqlite3_bind_int64(st, 2, (int64_t)n);
		sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
		sqlite3_bind_int64(st, 4, row);
		store_step_done(a->db, st);
		spool_finalize(a, st);
	}
	spool_unlock(a);
}

/* Waits up to ms for a kick newer than *seen (or the stop); 1 if kicked. */
static int
wait_for(struct outbox *ob, unsigned ms, unsigned *seen)
{
	struct timespec dl;
	int kicked;

	sb_deadline(CLOCK_REALTIME, ms, &dl);
	pthread_mutex_lock(&ob->lock);
	while (!ob->stop && ob->kick == *seen)
		if (pthread_cond_timedwait(&ob->idle, &ob->lock, &dl) != 0)
			break;
	kicked = *seen != ob->kick;
	*seen = ob->kick;
	pthread_mutex_unlock(&ob->lock);
	return kicked;
}

/* Learns the relay's blob cap once per session (it answers from memory
 * after that); never waits for a relay that is not connected. */
static void
refresh_cap(struct agent *a)
{
	struct client *c = agent_client(a);
	uint64_t cap;

	if (c == NULL || client_link(c) != SB_OK || client_blob_cap(c, &cap) != SB_OK)
		return;
	if (__atomic_exchange_n(&a->out->blob_cap, cap, __ATOMIC_RELAXED) != cap)
		fprintf(stderr, "sealbox: send: the relay's blob cap is %llu bytes%s\n",
		    (unsigned long long)cap, cap ? "" : " (not announced: not checked early)");
}

/*
 * Tentative files (outbox_created_tentative) that nobody renamed within
 * OB_TENTATIVE_IDLE_S of their last close are files after all: queued
 * under their own names.  Returns the ms until the next one is due (or
 * 2000).
 */
static unsigned
queue_idle(struct agent *a)
{
	int64_t idle_ns = (int64_t)OB_TENTATIVE_IDLE_S * 1000000000, now_ns, next = 0;
	struct timespec now;
	sqlite3_stmt *st;
	int64_t ids[64];
	char names[64][NAMES_NAME_BUF + AGENT_PATH_MAX + 1];
	size_t n = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	pthread_mutex_lock(&a->out->lock);
	spool_lock(a);
	if (spool_prepare(a, "SELECT id, name, closed_ns, folder FROM out_msg WHERE state = 1"
	    " AND tentative = 1 AND deleted = 0 ORDER BY closed_ns", &st) == SB_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *nm = (const char *)sqlite3_column_text(st, 1);
			int64_t closed = sqlite3_column_int64(st, 2);

			if (nm == NULL || outbox_is_temp_name(nm))
				continue;
			if (closed > now_ns - idle_ns) {
				next = closed + idle_ns - now_ns;
				break;
			}
			if (n < 64) {
				ids[n] = sqlite3_column_int64(st, 0);
				snprintf(names[n], sizeof(names[n]), "%s/%s",
				    (const char *)sqlite3_column_text(st, 3), nm);
				n++;
			}
		}
		spool_finalize(a, st);
	}
	for (size_t i = 0; i < n; i++) {
		if (spool_prepare(a, "UPDATE out_msg SET state = 2 WHERE id = ? AND"
		    " state = 1 AND tentative = 1", &st) != SB_OK)
			break;
		sqlite3_bind_int64(st, 1, ids[i]);
		if (store_step_done(a->db, st) == SB_OK && sqlite3_changes(a->db) > 0)
			fprintf(stderr, "sealbox: outbox: %s queued (idle %d s, never renamed)\n",
			    names[i], OB_TENTATIVE_IDLE_S);
		spool_finalize(a, st);
	}
	spool_unlock(a);
	pthread_mutex_unlock(&a->out->lock);
	if (next > 0 && next / 1000000 < 2000)
		return (unsigned)(next / 1000000) + 1;
	return 2000;
}

/* Deletes at the relay the blobs no accepted message names (cancelled
 * sends, superseded attempts); kept for later while the relay is away. */
static void
drain_gone(struct agent *a)
{
	struct client *c = agent_client(a);
	char uris[16][SB_MAX_URI + 1];
	sqlite3_stmt *st;
	size_t n = 0;

	if (c == NULL || client_link(c) != SB_OK)
		return;
	spool_lock(a);
	if (spool_prepare(a, "SELECT uri FROM out_blob_gone LIMIT 16", &st) == SB_OK) {
		while (sqlite3_step(st) == SQLITE_ROW && n < 16)
			if (sqlite3_column_bytes(st, 0) <= (int)SB_MAX_URI)
				snprintf(uris[n++], SB_MAX_URI + 1, "%s",
				    (const char *)sqlite3_column_text(st, 0));
		spool_finalize(a, st);
	}
	spool_unlock(a);
	for (size_t i = 0; i < n; i++) {
		int rc = client_blob_delete(c, uris[i]);

		if (rc != SB_OK && rc != SB_ERR_NOT_FOUND && rc != SB_ERR_PROTOCOL)
			break;                  /* the relay went away: later */
		fprintf(stderr, "sealbox: send: blob of a message that was never sent: %s\n",
		    rc == SB_OK ? "deleted at the relay" : rc == SB_ERR_NOT_FOUND ?
		    "gone at the relay already" : "the relay cannot delete it (left to expire)");
		spool_lock(a);
		if (spool_prepare(a, "DELETE FROM out_blob_gone WHERE uri = ?", &st) == SB_OK) {
			sqlite3_bind_text(st, 1, uris[i], -1, SQLITE_TRANSIENT);
			store_step_done(a->db, st);
			spool_finalize(a, st);
		}
		spool_unlock(a);
	}
}

/* How often the idle sender retries a keyring that failed. */
#define IDLE_KEYS_RETRY_S 10
/* How often the idle sender checks this account's devices (monitoring:
 * a device this one did not approve, one removed, our own key swapped). */
#define MONITOR_S 60

/*
 * Monitoring of our own account: the directory's list of its devices and
 * the log's history of them are applied to the pins (trust_observe_lookup:
 * alerts for what this device did not do).  Only on a live session: an idle check must never sit in a
 * request's timeout while a send waits behind it.  1 when it ran.
 */
static int
monitor_own(struct agent *a)
{
	const char *addrs[1] = { a->cfg->address };
	struct client_lookup *l = NULL;
	struct client *c = agent_client(a);
	int rc;

	if (c == NULL || client_link(c) != SB_OK)
		return 0;
	if ((rc = client_lookup(c, addrs, 1, &l)) == SB_OK) {
		store_lock(a);
		rc = trust_observe_lookup(a->db, a->cfg->address, l,
		    TRUST_OBSERVE, time(NULL), NULL, stderr);
		store_unlock(a);
		client_lookup_free(l);
	}
	if (rc == SB_ERR_LOG_PROOF || rc == SB_ERR_LOG_FORK) {
		store_lock(a);
		(void)trust_log_failure(a->db, c, a->cfg->address, rc, time(NULL), stderr);
		store_unlock(a);
	}
	if (rc == SB_OK)
		return 1;
	/* A lost connection or a busy store: the next idle turn tries again. */
	fprintf(stderr, "sealbox: monitor: %s: %s\n", a->cfg->address, sb_strerror(rc));
	return 0;
}

static int
keys_missing(struct agent *a)
{
	int missing;

	pthread_mutex_lock(&a->lock);
	missing = a->sign_key == NULL;
	pthread_mutex_unlock(&a->lock);
	return missing;
}

struct slot_arg {
	struct agent *a;
	size_t k;
};
static struct slot_arg slot_args[OB_SENDERS];

static int64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/*
 * One sender slot.  Slot 0 also keeps house between rows (collection,
 * delivery status, held rows, the relay's cap, tentative files, blobs to
 * delete, the idle keyring retry and monitoring); every slot claims rows
 * (claim) and sends them, each with its own SEND in flight.
 */
static void *
sender_main(void *arg)
{
	struct slot_arg *sa = arg;
	struct agent *a = sa->a;
	struct outbox *ob = a->out;
	struct ob_slot *sl = &ob->slot[sa->k];
	int house = sa->k == 0;
	time_t keys_tried = 0, monitored = 0;
	unsigned seen = 0;

	for (;;) {
		int64_t row = 0, want[OB_WANT_MAX], wait_ns = 0;
		size_t n_want = 0;
		unsigned idle_ms = 2000;

		pthread_mutex_lock(&ob->lock);
		if (ob->stop) {
			pthread_mutex_unlock(&ob->lock);
			break;
		}
		seen = ob->kick;
		if (house) {
			n_want = ob->n_want;
			memcpy(want, ob->want, n_want * sizeof(*want));
			ob->n_want = 0;
		}
		pthread_mutex_unlock(&ob->lock);

		if (house) {
			outbox_gc(a);
			for (size_t i = 0; i < n_want; i++)
				refresh_status(a, want[i]);
			recheck_held(a);
			idle_ms = queue_idle(a);
			drain_gone(a);
		}
		/* Every slot, before it sends: once a message went out, the
		 * relay's blob cap is known (writes past it fail at once). */
		refresh_cap(a);
		pthread_mutex_lock(&ob->lock);
		wait_ns = ob->retry_ns - now_ns();
		if (wait_ns <= 0)
			row = claim(a, sl);
		/* One more idle slot looks for a row behind this one: a burst
		 * spreads over the slots one wake-up at a time, not a herd. */
		if (row != 0)
			pthread_cond_signal(&ob->idle);
		pthread_mutex_unlock(&ob->lock);
		if (wait_ns > 0) {
			/* After a transient failure every slot waits, until the
			 * backoff is over or something new happens (a file
			 * queued, a status asked for): then it tries at once. */
			if (wait_for(ob, (unsigned)(wait_ns / 1000000) + 1, &seen)) {
				pthread_mutex_lock(&ob->lock);
				ob->retry_ns = 0;
				pthread_mutex_unlock(&ob->lock);
			}
			continue;
		}
		if (row == 0) {
			/* Idle: a keyring that failed at mount is retried here too,
			 * so receiving starts once it is unlocked, without waiting
			 * for someone to open a file. */
			if (house && keys_missing(a) && time(NULL) - keys_tried >= IDLE_KEYS_RETRY_S) {
				keys_tried = time(NULL);
				agent_keys_acquire(a);
			}
			if (house && time(NULL) - monitored >= MONITOR_S && monitor_own(a))
				monitored = time(NULL);
			wait_for(ob, idle_ms, &seen);
			continue;
		}

		uint64_t ts = 0;
		char held[TRUST_LINE_BUF] = "";
		int sys_errno = 0, rc = send_row(a, sl, row, &ts, &sys_errno, held);
		char why[OB_RETRY_REASON_BUF] = "";
		int transient = rc != SB_OK && rc != SB_ERR_EXISTS && rc != SB_ERR_HELD &&
		    rc != SEND_CANCELLED && rc != SEND_MOVED && !outbox_err_permanent(rc);

		if (rc == SB_ERR_HELD) {
			/* Held: waits for the user, not for the relay: no backoff,
			 * the queue behind it goes on. */
			fprintf(stderr, "sealbox: send: row %lld %s\n", (long long)row, held);
			set_held(a, row, held);
		} else if (rc == SEND_CANCELLED) {
			/* Removed: nothing went out (outbox.c logged it). */
			fprintf(stderr, "sealbox: send: row %lld cancelled before the"
			    " relay accepted it\n", (long long)row);
		} else if (rc != SEND_MOVED) {
			/* (Renamed: still queued, and goes now under its new name.) */
			if (transient)
				outbox_retry_reason(rc, sys_errno, why, sizeof(why));
			pthread_mutex_lock(&ob->lock);
			memcpy(ob->retry_reason, why, sizeof(why));
			pthread_mutex_unlock(&ob->lock);
		}
		if (!transient && rc != SB_ERR_HELD && rc != SEND_CANCELLED && rc != SEND_MOVED) {
			if (rc == SB_ERR_EXISTS)
				ts = (uint64_t)time(NULL);
			record(a, row, rc, ts);
			if (rc == SB_OK || rc == SB_ERR_EXISTS)
				fprintf(stderr, "sealbox: send: row %lld sent%s\n", (long long)row,
				    rc == SB_ERR_EXISTS ? " (already accepted before)" : "");
			else
				fprintf(stderr, "sealbox: send: row %lld failed: %s\n",
				    (long long)row, reason_of(rc));
		}
		pthread_mutex_lock(&ob->lock);
		sl->inflight = 0;
		/* (wakes a slot waiting for its turn behind this row too) */
		pthread_cond_broadcast(&ob->cond);
		if (transient) {
			/* Relay down, keyring locked, ...: keep it queued, retry;
			 * the other slots wait as well (their rows would fail alike). */
			unsigned b = ob->backoff_ms ? ob->backoff_ms * 2 : OB_BACKOFF_MIN_MS;

			ob->backoff_ms = b > OB_BACKOFF_MAX_MS ? OB_BACKOFF_MAX_MS : b;
			ob->retry_ns = now_ns() + (int64_t)ob->backoff_ms * 1000000;
			fprintf(stderr, "sealbox: send: row %lld stays queued: %s; retry in"
			    " %u ms\n", (long long)row, sb_strerror(rc), ob->backoff_ms);
		} else if (rc == SB_OK || rc == SB_ERR_EXISTS || outbox_err_permanent(rc)) {
			ob->backoff_ms = 0;
		}
		pthread_mutex_unlock(&ob->lock);
	}
	return NULL;
}

int
send_start(struct agent *a)
{
	struct outbox *ob = a->out;

	for (size_t k = 0; k < OB_SENDERS; k++) {
		slot_args[k].a = a;
		slot_args[k].k = k;
		if (pthread_create(&ob->slot[k].thread, NULL, sender_main, &slot_args[k]) != 0)
			return SB_ERR_SYSTEM;
		ob->slot[k].started = 1;
	}
	return SB_OK;
}

void
send_stop(struct agent *a)
{
	struct outbox *ob = a ? a->out : NULL;

	if (ob == NULL)
		return;
	pthread_mutex_lock(&ob->lock);
	ob->stop = 1;
	pthread_cond_broadcast(&ob->cond);
	pthread_cond_broadcast(&ob->idle);
	pthread_mutex_unlock(&ob->lock);
	for (size_t k = 0; k < OB_SENDERS; k++)
		if (ob->slot[k].started) {
			pthread_join(ob->slot[k].thread, NULL);
			ob->slot[k].started = 0;
		}
}

void
send_kick(struct agent *a)
{
	struct outbox *ob = a->out;

	pthread_mutex_lock(&ob->lock);
	ob->kick++;
	pthread_cond_broadcast(&ob->idle);
	pthread_mutex_unlock(&ob->lock);
}

void
send_want_status(struct agent *a, int64_t row)
{
	struct outbox *ob = a->out;

	pthread_mutex_lock(&ob->lock);
	int dup = 0;
	for (size_t i = 0; i < ob->n_want; i++)
		dup |= ob->want[i] == row;
	if (!dup && ob->n_want < OB_WANT_MAX)
		ob->want[ob->n_want++] = row;
	ob->kick++;
	pthread_cond_broadcast(&ob->idle);
	pthread_mutex_unlock(&ob->lock);
}
