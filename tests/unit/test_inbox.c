/*
 * test_inbox.c - the receive side's pure rules: the inner message against its
 * envelope, the key-block hash, which failures are retried, collision-free
 * names, the replay cache (on a real SQLite store.db in a temp dir) and the
 * push hand-off queue.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/sberr.h"
#include "client/client.h"
#include "agent/contacts.h"
#include "agent/msgstore/msgstore.h"
#include "agent/recv/recv.h"
#include "agent/message.h"
#include "agent/names.h"
#include "agent/store.h"
#include "agent/view/view.h"

#define T0 UINT64_C(1800000000)

static const uint8_t ID[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static void
str(struct message_str *s, const char *z)
{
	s->p = z;
	s->len = strlen(z);
}

/* A message from alice to bob and carol, as the envelope says. */
static void
good(struct message *m, struct inbox_envelope *env)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->id, ID, sizeof(ID));
	m->timestamp = T0 - 5;
	str(&m->sender, "alice@example.com");
	m->n_recipients = 2;
	str(&m->recipients[0], "bob@example.com");
	str(&m->recipients[1], "carol@example.com");
	str(&m->folder, "bob@example.com,carol@example.com");
	str(&m->name, "note.txt");
	m->kind = MESSAGE_INLINE;
	env->msgid = ID;
	env->sender = "alice@example.com";
	env->time = T0;
}

static int
check(const struct message *m, const struct inbox_envelope *env, const char *self,
    int *sync)
{
	const char *why = NULL;
	int rc = inbox_check_envelope(env, m, self, sync, &why);

	if (rc != SB_OK)
		assert_non_null(why);
	return rc;
}

static void
test_envelope_accepts(void **state)
{
	struct message m;
	struct inbox_envelope env;
	int sync = -1;

	(void)state;
	good(&m, &env);
	assert_int_equal(check(&m, &env, "bob@example.com", &sync), SB_OK);
	assert_int_equal(sync, 0);
	assert_int_equal(check(&m, &env, "carol@example.com", &sync), SB_OK);
	assert_int_equal(sync, 0);
	/* Our own address as sender: a copy our other device sent. */
	assert_int_equal(check(&m, &env, "alice@example.com", &sync), SB_OK);
	assert_int_equal(sync, 1);
}

static void
test_envelope_rejects(void **state)
{
	struct message m;
	struct inbox_envelope env;
	uint8_t other[16];
	int sync;

	(void)state;
	/* Not for us. */
	good(&m, &env);
	assert_int_equal(check(&m, &env, "dave@example.com", &sync), SB_ERR_ENVELOPE);
	/* Inner sender differs (a device of mallory signed alice's name). */
	good(&m, &env);
	env.sender = "mallory@example.com";
	assert_int_equal(check(&m, &env, "bob@example.com", &sync), SB_ERR_ENVELOPE);
	/* ... even when mallory is "us": the inner sender still differs. */
	assert_int_equal(check(&m, &env, "mallory@example.com", &sync), SB_ERR_ENVELOPE);
	/* A prefix of the sender is not the sender. */
	good(&m, &env);
	str(&m.sender, "alice@example.co");
	assert_int_equal(check(&m, &env, "bob@example.com", &sync), SB_ERR_ENVELOPE);
	/* Message id differs in its last byte. */
	good(&m, &env);
	memcpy(other, ID, sizeof(other));
	other[15] ^= 1;
	env.msgid = other;
	assert_int_equal(check(&m, &env, "bob@example.com", &sync), SB_ERR_ENVELOPE);
}

static void
test_envelope_time_window(void **state)
{
	struct message m;
	struct inbox_envelope env;
	int sync;

	(void)state;
	good(&m, &env);
	m.timestamp = T0 + INBOX_MAX_FUTURE_S;
	assert_int_equal(check(&m, &env, "bob@example.com", &sync), SB_OK);
	m.timestamp = T0 + INBOX_MAX_FUTURE_S + 1;
	assert_int_equal(check(&m, &env, "bob@example.com", &sync), SB_ERR_ENVELOPE);
	m.timestamp = T0 - INBOX_MAX_AGE_S;
	assert_int_equal(check(&m, &env, "bob@example.com", &sync), SB_OK);
	m.timestamp = T0 - INBOX_MAX_AGE_S - 1;
	assert_int_equal(check(&m, &env, "bob@example.com", &sync), SB_ERR_ENVELOPE);
	m.timestamp = 0;
	assert_int_equal(check(&m, &env, "bob@example.com", &sync), SB_ERR_ENVELOPE);
	m.timestamp = UINT64_MAX;
	assert_int_equal(check(&m, &env, "bob@example.com", &sync), SB_ERR_ENVELOPE);
	/* The window applies to synced copies too. */
	m.timestamp = T0 + INBOX_MAX_FUTURE_S + 1;
	assert_int_equal(check(&m, &env, "alice@example.com", &sync), SB_ERR_ENVELOPE);
}

static void
test_keyblock_hash(void **state)
{
	uint8_t p[600], h1[INBOX_KEYHASH_LEN], h2[INBOX_KEYHASH_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(p); i++)
		p[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(inbox_keyblock_hash(p, sizeof(p), h1), SB_OK);
	/* Same key block, another tail: the same hash (a re-framed replay). */
	p[INBOX_KEYBLOCK_LEN] ^= 0xff;
	p[sizeof(p) - 1] ^= 0xff;
	assert_int_equal(inbox_keyblock_hash(p, sizeof(p) - 10, h2), SB_OK);
	assert_memory_equal(h1, h2, sizeof(h1));
	/* A bit inside the key block: another hash. */
	p[INBOX_KEYBLOCK_LEN - 1] ^= 1;
	assert_int_equal(inbox_keyblock_hash(p, sizeof(p), h2), SB_OK);
	assert_memory_not_equal(h1, h2, sizeof(h1));
	/* Short payloads hash whole. */
	assert_int_equal(inbox_keyblock_hash(p, 10, h1), SB_OK);
	assert_int_equal(inbox_keyblock_hash(p, 11, h2), SB_OK);
	assert_memory_not_equal(h1, h2, sizeof(h1));
}

static void
test_transient(void **state)
{
	(void)state;
	/* Not the message's fault: keep it unacknowledged. */
	assert_true(inbox_err_transient(SB_ERR_NET));
	assert_true(inbox_err_transient(SB_ERR_CLOSED));
	assert_true(inbox_err_transient(SB_ERR_SYSTEM));
	assert_true(inbox_err_transient(SB_ERR_STORAGE));
	assert_true(inbox_err_transient(SB_ERR_KEYRING_LOCKED));
	assert_true(inbox_err_transient(SB_ERR_KEY_MISSING));
	assert_true(inbox_err_transient(SB_ERR_NO_KEYRING));
	/* A verdict on the message: acknowledge and drop. */
	assert_false(inbox_err_transient(SB_ERR_SIGNATURE));
	assert_false(inbox_err_transient(SB_ERR_TAG));
	assert_false(inbox_err_transient(SB_ERR_UNWRAP));
	assert_false(inbox_err_transient(SB_ERR_FORMAT));
	assert_false(inbox_err_transient(SB_ERR_TRUNCATED));
	assert_false(inbox_err_transient(SB_ERR_ENVELOPE));
	assert_false(inbox_err_transient(SB_ERR_REPLAY));
	assert_false(inbox_err_transient(SB_ERR_HASH));
	assert_false(inbox_err_transient(SB_ERR_NOT_FOUND));
}

static void
test_name_variant(void **state)
{
	char out[NAMES_NAME_BUF], in[NAMES_NAME_BUF];
	size_t i;

	(void)state;
	assert_int_equal(inbox_name_variant("a.txt", 2, out, sizeof(out)), SB_OK);
	assert_string_equal(out, "a (2).txt");
	assert_int_equal(inbox_name_variant("20261123T060102Z-3f9a2c1e-note", 17, out,
	    sizeof(out)), SB_OK);
	assert_string_equal(out, "20261123T060102Z-3f9a2c1e-note (17)");
	assert_int_equal(inbox_name_variant("x.tar.gz", 3, out, sizeof(out)), SB_OK);
	assert_string_equal(out, "x.tar (3).gz");
	/* A name already at the limit is cut, on a UTF-8 boundary, and keeps
	 * its extension. */
	for (i = 0; i + 2 <= 250; i += 2)
		memcpy(in + i, "\xc3\xa9", 2);     /* e-acute */
	memcpy(in + 250, ".pdf", 5);
	assert_int_equal(strlen(in), 254);
	assert_int_equal(inbox_name_variant(in, 2, out, sizeof(out)), SB_OK);
	assert_true(strlen(out) <= NAMES_NAME_MAX);
	assert_int_equal(strcmp(out + strlen(out) - 8, " (2).pdf"), 0);
	assert_int_equal((unsigned char)out[strlen(out) - 9], 0xa9);
	assert_int_equal((unsigned char)out[strlen(out) - 10], 0xc3);
	/* Bad arguments. */
	assert_int_equal(inbox_name_variant("a", 1, out, sizeof(out)), SB_ERR_INVALID_ARG);
	assert_int_equal(inbox_name_variant("a", 2, out, 10), SB_ERR_INVALID_ARG);
}

static void
test_replay_cache(void **state)
{
	char dir[] = "/tmp/test_inbox.XXXXXX", path[256];
	uint8_t id1[16], id2[16], k1[32], k2[32];
	sqlite3 *db = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/store.db", dir);
	assert_int_equal(store_open(path, &db), SB_OK);
	assert_int_equal(msgstore_schema(db), SB_OK);
	assert_int_equal(msgstore_schema(db), SB_OK);     /* idempotent */
	memset(id1, 1, sizeof(id1));
	memset(id2, 2, sizeof(id2));
	memset(k1, 3, sizeof(k1));
	memset(k2, 4, sizeof(k2));

	{
		struct msgstore_seen c1 = { "carol@example.com", 7, id1, k1 };
		struct msgstore_seen c1k2 = { "carol@example.com", 7, id1, k2 };
		struct msgstore_seen c2k1 = { "carol@example.com", 7, id2, k1 };
		struct msgstore_seen c2k2 = { "carol@example.com", 7, id2, k2 };
		/* Another sender, or another device of carol's, reusing carol's
		 * id with a key block of its own: not a replay (finding 1). */
		struct msgstore_seen m1 = { "mallory@example.com", 9, id1, k2 };
		struct msgstore_seen c1d8 = { "carol@example.com", 8, id1, k2 };

		assert_int_equal(msgstore_replay_check(db, &c1), SB_OK);
		assert_int_equal(msgstore_replay_add(db, &c1, T0), SB_OK);
		/* Same device and message id, another key block: a replay. */
		assert_int_equal(msgstore_replay_check(db, &c1k2), SB_ERR_REPLAY);
		assert_int_equal(msgstore_replay_add(db, &c1k2, T0), SB_ERR_REPLAY);
		/* Another message id, the same key block: a replay. */
		assert_int_equal(msgstore_replay_check(db, &c2k1), SB_ERR_REPLAY);
		assert_int_equal(msgstore_replay_add(db, &c2k1, T0), SB_ERR_REPLAY);
		assert_int_equal(msgstore_replay_check(db, &m1), SB_OK);
		assert_int_equal(msgstore_replay_check(db, &c1d8), SB_OK);
		assert_int_equal(msgstore_replay_add(db, &m1, T0), SB_OK);
		/* ... and the first one's key block is still its own. */
		assert_int_equal(msgstore_replay_check(db, &c1d8), SB_ERR_REPLAY);
		/* k2 is mallory's key block now: carol's id2 with it is a replay. */
		assert_int_equal(msgstore_replay_check(db, &c2k2), SB_ERR_REPLAY);
		/* (its kept statements go before the connection does) */
		msgstore_stmts_free(db);
		store_close(db);

		/* It survives reopening (durable, not an in-memory cache). */
		assert_int_equal(store_open(path, &db), SB_OK);
		assert_int_equal(msgstore_schema(db), SB_OK);
		assert_int_equal(msgstore_replay_check(db, &c1k2), SB_ERR_REPLAY);
		assert_int_equal(msgstore_replay_check(db, &m1), SB_ERR_REPLAY);
		msgstore_stmts_free(db);
		store_close(db);
	}

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

/* The push hand-off: copies (the client's buffers are borrowed), keeps one
 * copy of an item the relay pushes again, caps the queue, and drops pushes
 * once the inbox is shut down (nothing acknowledged: the relay keeps them). */
static void
test_push_queue(void **state)
{
	struct agent a;
	struct inbox *in;
	struct client_push p;
	uint8_t payload[64];
	char sender[] = "alice@example.com";
	size_t i;

	(void)state;
	memset(&a, 0, sizeof(a));
	pthread_mutex_init(&a.lock, NULL);
	in = calloc(1, sizeof(*in));
	assert_non_null(in);
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->cond, NULL);
	in->a = &a;
	a.in = in;          /* no worker: the queue is only filled */

	memset(&p, 0, sizeof(p));
	memset(payload, 0x5a, sizeof(payload));
	p.item_id = 7;
	memcpy(p.msgid, ID, sizeof(ID));
	p.sender = sender;
	p.sender_device = 3;
	p.timestamp = T0;
	p.payload = payload;
	p.payload_len = sizeof(payload);
	inbox_on_push(&a, &p);
	/* The caller's buffers are reused after the callback returns. */
	memset(payload, 0, sizeof(payload));
	memcpy(sender, "mallory@exampl", 15);
	assert_int_equal(in->n, 1);
	assert_non_null(in->head);
	assert_int_equal(in->head->item_id, 7);
	assert_int_equal(in->head->sender_device, 3);
	assert_int_equal(in->head->timestamp, T0);
	assert_string_equal(in->head->sender, "alice@example.com");
	assert_memory_equal(in->head->msgid, ID, sizeof(ID));
	assert_int_equal(in->head->payload_len, sizeof(payload));
	for (i = 0; i < sizeof(payload); i++)
		assert_int_equal(in->head->payload[i], 0x5a);

	/* The same item pushed again after a reconnection: one copy. */
	inbox_on_push(&a, &p);
	assert_int_equal(in->n, 1);
	/* An empty payload is still an item (it will be rejected, and acked). */
	p.item_id = 8;
	p.payload_len = 0;
	p.payload = NULL;
	inbox_on_push(&a, &p);
	assert_int_equal(in->n, 2);
	assert_int_equal(in->tail->item_id, 8);
	/* One sender's share: beyond it that sender's pushes are left to
	 * the relay, and a resync is due only once its share has room. */
	{
		char many[32];
		int64_t next = -1;

		for (i = 0; i < INBOX_SENDER_MAX + 10; i++) {
			p.item_id = 100 + i;
			inbox_on_push(&a, &p);
		}
		/* item 7 is alice's; 8 on are "mallory@exampl"'s (the reused buffer) */
		assert_int_equal(in->n, 1 + INBOX_SENDER_MAX);
		assert_int_equal(in->n_dropped, 1);
		assert_int_equal(inbox_resync_due(in, 1000000, &next), 0);
		assert_int_equal(next, 0);
		/* Another sender still gets in. */
		p.sender = "carol@example.com";
		p.item_id = 50;
		inbox_on_push(&a, &p);
		assert_int_equal(in->n, INBOX_SENDER_MAX + 2);
		assert_string_equal(in->tail->sender, "carol@example.com");

		/* The whole queue: many senders fill it, then everyone waits. */
		for (i = 0; in->n < INBOX_QUEUE_MAX; i++) {
			snprintf(many, sizeof(many), "s%zu@example.com", i / 200);
			p.sender = many;
			p.item_id = 10000 + i;
			inbox_on_push(&a, &p);
		}
		p.sender = "dave@example.com";
		p.item_id = 99999;
		inbox_on_push(&a, &p);
		assert_int_equal(in->n, INBOX_QUEUE_MAX);
		assert_int_equal(in->dropped_all, 1);
		assert_int_equal(inbox_resync_due(in, 1000000, &next), 0);

		/* Drained to half, with alice's share at half: due, once, and the
		 * next one is spaced. */
		while (in->n > INBOX_SENDER_MAX / 2) {
			struct inbox_item *it = in->head;
			in->head = it->next;
			in->n--;
			free(it->sender);
			free(it->payload);
			free(it);
		}
		assert_int_equal(inbox_resync_due(in, 1000000, &next), 1);
		assert_int_equal(in->n_dropped, 0);
		assert_int_equal(in->dropped_all, 0);
		assert_int_equal(inbox_resync_due(in, 1000000, &next), 0);
		/* The next one is spaced, and the spacing doubles. */
		assert_int_equal(in->resync_at_ms, 1000000 + INBOX_RESYNC_MIN_MS);
		assert_int_equal(in->resync_backoff_ms, 2 * INBOX_RESYNC_MIN_MS);
		p.sender = "erin@example.com";
		for (i = 0; i <= INBOX_SENDER_MAX; i++) {
			p.item_id = 300000 + i;
			inbox_on_push(&a, &p);
		}
		assert_int_equal(in->n_dropped, 1);
		assert_int_equal(inbox_resync_due(in, 1000000 + 10, &next), 0);
		p.sender = sender;
	}
	/* Shut down: the queue is freed, later pushes are dropped. */
	inbox_shutdown(&a);
	assert_null(a.in);
	p.item_id = 9;
	inbox_on_push(&a, &p);
	assert_null(a.in);
	inbox_on_push(NULL, &p);
	pthread_mutex_destroy(&a.lock);
}

/* ---- A home on disk: payload files, the orphan sweep, the namespace ---- */

struct home {
	char dir[64];
	struct agent a;
};

static void
home_open(struct home *h)
{
	char path[128];

	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "/tmp/test_inbox.XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	h->a.home = h->dir;
	pthread_mutex_init(&h->a.lock, NULL);
	pthread_mutex_init(&h->a.db_lock, NULL);
	snprintf(path, sizeof(path), "%s/store.db", h->dir);
	assert_int_equal(store_open(path, &h->a.db), SB_OK);
}

static void
home_close(struct home *h)
{
	char cmd[128];

	inbox_shutdown(&h->a);
	/* agent_close's part: the contacts agent_contacts() loaded. */
	contacts_free(h->a.contacts);
	store_close(h->a.db);
	pthread_mutex_destroy(&h->a.lock);
	pthread_mutex_destroy(&h->a.db_lock);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
	assert_int_equal(system(cmd), 0);
}

static int
exists(const struct home *h, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/data/%s", h->dir, name);
	return access(path, F_OK) == 0;
}

/* Sealed payloads: in the row since schema v9 (msgstore_payload_read),
 * as a file of its own in HOME/data for rows stored before (load). */
static void
test_payload_files(void **state)
{
	struct home h;
	uint8_t p[300], *back = NULL;
	const char *ref = "in-0123456789abcdef0123456789abcdef.msg";
	char path[256];
	sqlite3_stmt *st = NULL;
	size_t len = 0, i;
	int64_t id;
	FILE *f;

	(void)state;
	home_open(&h);
	assert_int_equal(msgstore_schema(h.a.db), SB_OK);
	for (i = 0; i < sizeof(p); i++)
		p[i] = (uint8_t)i;

	/* In the row. */
	assert_int_equal(store_exec(h.a.db, "INSERT INTO inbox_messages(box, folder, name,"
	    " msgid, sender, sender_device, identity, sent, received, size, mtime_sec,"
	    " mtime_nsec, kind, payload) VALUES (1, 'f', 'n', x'00', 's', 1, x'00', 1, 1,"
	    " 1, 1, 0, 1, '')"), SB_OK);
	id = sqlite3_last_insert_rowid(h.a.db);
	assert_int_equal(msgstore_payload_read(h.a.db, id, &back, &len), SB_ERR_FORMAT);
	assert_null(back);
	assert_int_equal(store_prepare(h.a.db, "UPDATE inbox_messages SET payload_data = ?"
	    " WHERE id = ?", &st), SB_OK);
	sqlite3_bind_blob(st, 1, p, sizeof(p), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	assert_int_equal(store_step_done(h.a.db, st), SB_OK);
	sqlite3_finalize(st);
	assert_int_equal(msgstore_payload_read(h.a.db, id, &back, &len), SB_OK);
	assert_int_equal(len, sizeof(p));
	assert_memory_equal(back, p, sizeof(p));
	free(back);
	back = NULL;
	/* A row that is gone has no payload. */
	assert_int_equal(msgstore_payload_read(h.a.db, id + 1, &back, &len), SB_ERR_FORMAT);
	assert_null(back);

	/* A file, as rows before v9 have it. */
	snprintf(path, sizeof(path), "%s/data", h.dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/data/%s", h.dir, ref);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, sizeof(p), f), sizeof(p));
	fclose(f);
	assert_int_equal(msgstore_payload_load(&h.a, ref, &back, &len), SB_OK);
	assert_int_equal(len, sizeof(p));
	assert_memory_equal(back, p, sizeof(p));
	free(back);

	/* A file grown past the payload cap is refused, not read whole. */
	f = fopen(path, "ab");
	assert_non_null(f);
	for (i = 0; i <= MSGSTORE_PAYLOAD_MAX; i += sizeof(p))
		assert_int_equal(fwrite(p, 1, sizeof(p), f), sizeof(p));
	fclose(f);
	assert_int_equal(msgstore_payload_load(&h.a, ref, &back, &len), SB_ERR_FORMAT);
	assert_null(back);
	/* References never leave HOME/data. */
	assert_int_equal(msgstore_payload_load(&h.a, "../store.db", &back, &len), SB_ERR_FORMAT);
	assert_int_equal(msgstore_payload_load(&h.a, "", &back, &len), SB_ERR_FORMAT);
	assert_int_equal(msgstore_payload_load(&h.a, "in-missing.msg", &back, &len), SB_ERR_SYSTEM);
	msgstore_file_delete(&h.a, ref);
	assert_false(exists(&h, ref));
	home_close(&h);
}

/* One row as recv.c stores it (the payload file need not exist here). */
static void
put_row(struct home *h, int box, const char *sender, const char *folder, const char *name,
    uint64_t sent, uint64_t size, const char *payload, const char *cfile)
{
	sqlite3_stmt *st = NULL;
	uint8_t id[16];

	memcpy(id, ID, sizeof(id));
	id[0] = (uint8_t)sent;
	assert_int_equal(store_prepare(h->a.db, "INSERT INTO inbox_messages(box, folder,"
	    " name, msgid, sender, sender_device, identity, sent, received, size,"
	    " mtime_sec, mtime_nsec, kind, payload, cfile)"
	    " VALUES (?,?,?,?,?,26,x'00',?,?,?,?,5,1,?,?)", &st), SB_OK);
	sqlite3_bind_int(st, 1, box);
	sqlite3_bind_text(st, 2, folder, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, id, sizeof(id), SQLITE_STATIC);
	sqlite3_bind_text(st, 5, sender, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)sent);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)sent + 1);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)size);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)sent - 100);
	sqlite3_bind_text(st, 10, payload, -1, SQLITE_STATIC);
	if (cfile)
		sqlite3_bind_text(st, 11, cfile, -1, SQLITE_STATIC);
	assert_int_equal(store_step_done(h->a.db, st), SB_OK);
	sqlite3_finalize(st);
}

static void
touch_data(struct home *h, const char *name)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/data", h->dir);
	(void)mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/data/%s", h->dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

static void
write_contacts(struct home *h, const char *vcf)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/contacts.vcf", h->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(vcf, f) >= 0, 1);
	fclose(f);
}

struct seen {
	char names[8][64];
	struct agent_attr attr[8];
	int n;
};

static int
collect(void *ctx, const char *name, const struct agent_attr *attr)
{
	struct seen *s = ctx;

	assert_true(s->n < 8);
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	s->attr[s->n] = *attr;
	s->n++;
	return 0;
}

static void
test_init_and_namespace(void **state)
{
	struct home h;
	struct seen s;
	struct agent_attr at;
	struct sb_buf x = SB_BUF_INIT;

	(void)state;
	home_open(&h);
	/* Left by a crash before COMMIT: files no row names.  And a row's
	 * files, and someone else's file: those stay. */
	assert_int_equal(msgstore_schema(h.a.db), SB_OK);
	put_row(&h, AGENT_BOX_IN, "alice@example.com", "alice@example.com",
	    "20270115T080000Z-01020304-a.txt", T0, 12, "in-aaaa.msg", NULL);
	put_row(&h, AGENT_BOX_IN, "alice@example.com", "alice@example.com",
	    "20270115T080001Z-02020304-b.bin", T0 + 1, 70000, "in-bbbb.msg", "in-bbbb");
	put_row(&h, AGENT_BOX_IN, "bob@example.com", "bob@example.com",
	    "20270115T080002Z-03020304-c.txt", T0 + 2, 3, "in-cccc.msg", NULL);
	put_row(&h, AGENT_BOX_IN, "+15551234567", "+15551234567",
	    "20270115T080003Z-04020304-d.txt", T0 + 5, 3, "in-eeee.msg", NULL);
	put_row(&h, AGENT_BOX_OUT, "alice@example.com", "carol@example.com", "synced.txt",
	    T0 + 3, 4, "in-dddd.msg", NULL);
	touch_data(&h, "in-aaaa.msg");
	touch_data(&h, "in-bbbb.msg");
	touch_data(&h, "in-bbbb");
	touch_data(&h, "in-dddd.msg");
	touch_data(&h, "in-orphan.msg");
	touch_data(&h, "in-orphan");
	touch_data(&h, "out-1234");
	assert_int_equal(inbox_init(&h.a), SB_OK);
	assert_non_null(h.a.in);
	assert_true(exists(&h, "in-aaaa.msg"));
	assert_true(exists(&h, "in-bbbb.msg"));
	assert_true(exists(&h, "in-bbbb"));
	assert_false(exists(&h, "in-orphan.msg"));
	assert_false(exists(&h, "in-orphan"));
	assert_true(exists(&h, "out-1234"));

	/* inbox/: one folder per sender address while there are no contacts. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(inbox_list_folders(&h.a, AGENT_BOX_IN, collect, &s), SB_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[0], "+15551234567");
	assert_string_equal(s.names[1], "alice@example.com");
	assert_string_equal(s.names[2], "bob@example.com");
	assert_true(s.attr[1].is_dir);
	/* writable as a folder so rm of a message passes the kernel's check
	 * (fs/ keeps the owner bits: 0700); nothing can be created in it */
	assert_int_equal(s.attr[1].mode, 0755);
	assert_int_equal(s.attr[1].mtime.tv_sec, (time_t)(T0 + 1));

	/* A contact card added later gathers both of Bob's addresses under
	 * his name, messages received before it included. */
	write_contacts(&h, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Smith\r\n"
	    "EMAIL:bob@example.com\r\nTEL;TYPE=CELL:+1 555 123 4567\r\nEND:VCARD\r\n");
	memset(&s, 0, sizeof(s));
	assert_int_equal(inbox_list_folders(&h.a, AGENT_BOX_IN, collect, &s), SB_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "Bob Smith");
	assert_string_equal(s.names[1], "alice@example.com");
	assert_int_equal(s.attr[0].mtime.tv_sec, (time_t)(T0 + 5));    /* newest of both */
	memset(&s, 0, sizeof(s));
	assert_int_equal(inbox_list_files(&h.a, AGENT_BOX_IN, "Bob Smith", NULL, collect, &s), SB_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "20270115T080002Z-03020304-c.txt");
	assert_string_equal(s.names[1], "20270115T080003Z-04020304-d.txt");
	assert_int_equal(inbox_file_attr(&h.a, AGENT_BOX_IN, "Bob Smith",
	    "20270115T080002Z-03020304-c.txt", &at), SB_OK);
	assert_int_equal(inbox_file_attr(&h.a, AGENT_BOX_IN, "bob@example.com",
	    "20270115T080002Z-03020304-c.txt", &at), SB_ERR_NOT_FOUND);
	assert_int_equal(inbox_folder_attr(&h.a, AGENT_BOX_IN, "bob@example.com", &at),
	    SB_ERR_NOT_FOUND);
	assert_int_equal(inbox_folder_attr(&h.a, AGENT_BOX_IN, "Bob Smith", &at), SB_OK);
	assert_true(at.is_dir);
	/* ... and the name is taken by nobody else: a message is in one folder. */
	assert_int_equal(inbox_file_attr(&h.a, AGENT_BOX_IN, "alice@example.com",
	    "20270115T080002Z-03020304-c.txt", &at), SB_ERR_NOT_FOUND);

	memset(&s, 0, sizeof(s));
	assert_int_equal(inbox_list_files(&h.a, AGENT_BOX_IN, "alice@example.com", NULL, collect, &s),
	    SB_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "20270115T080000Z-01020304-a.txt");
	assert_int_equal(s.attr[0].size, 12);
	assert_int_equal(s.attr[0].mode, 0444);
	assert_int_equal(s.attr[0].mtime.tv_sec, (time_t)T0);      /* sent time */
	assert_int_equal(s.attr[1].size, 70000);
	assert_int_equal(inbox_list_files(&h.a, AGENT_BOX_IN, "nobody@example.com", NULL, collect, &s),
	    SB_ERR_NOT_FOUND);
	assert_int_equal(inbox_folder_attr(&h.a, AGENT_BOX_IN, "nobody@example.com", &at),
	    SB_ERR_NOT_FOUND);
	assert_int_equal(inbox_file_attr(&h.a, AGENT_BOX_IN, "alice@example.com", "x", &at),
	    SB_ERR_NOT_FOUND);
	/* The same name in another box is another entry. */
	assert_int_equal(inbox_file_attr(&h.a, AGENT_BOX_OUT, "alice@example.com",
	    "20270115T080000Z-01020304-a.txt", &at), SB_ERR_NOT_FOUND);

	/* Synced copies: outbox modes, the file's own mtime. */
	assert_int_equal(inbox_file_attr(&h.a, AGENT_BOX_OUT, "carol@example.com", "synced.txt",
	    &at), SB_OK);
	assert_int_equal(at.mode, 0644);
	assert_int_equal(at.size, 4);
	assert_int_equal(at.mtime.tv_sec, (time_t)(T0 + 3 - 100));

	/* xattrs. */
	assert_int_equal(inbox_xattr_get(&h.a, AGENT_BOX_IN, "alice@example.com",
	    "20270115T080000Z-01020304-a.txt", "user.sealbox.sender", &x), SB_OK);
	assert_int_equal(x.len, strlen("alice@example.com"));
	assert_memory_equal(x.d, "alice@example.com", x.len);
	sb_buf_free(&x);
	assert_int_equal(inbox_xattr_get(&h.a, AGENT_BOX_IN, "alice@example.com",
	    "20270115T080000Z-01020304-a.txt", "user.sealbox.device", &x), SB_OK);
	assert_int_equal(x.len, 16);
	assert_memory_equal(x.d, "000000000000001a", 16);
	sb_buf_free(&x);
	assert_int_equal(inbox_xattr_get(&h.a, AGENT_BOX_IN, "alice@example.com",
	    "20270115T080000Z-01020304-a.txt", "user.sealbox.id", &x), SB_OK);
	assert_int_equal(x.len, 32);
	sb_buf_free(&x);
	assert_int_equal(inbox_xattr_get(&h.a, AGENT_BOX_IN, "alice@example.com",
	    "20270115T080000Z-01020304-a.txt", "user.sealbox.status", &x), SB_ERR_NOT_FOUND);
	assert_int_equal(inbox_xattr_get(&h.a, AGENT_BOX_OUT, "carol@example.com",
	    "synced.txt", "user.sealbox.status", &x), SB_OK);
	assert_int_equal(x.len, 4);
	assert_memory_equal(x.d, "sent", 4);
	sb_buf_free(&x);
	assert_int_equal(inbox_xattr_list(&h.a, AGENT_BOX_IN, "alice@example.com",
	    "20270115T080000Z-01020304-a.txt", &x), SB_OK);
	assert_int_equal(x.len, sizeof("user.sealbox.sender") + sizeof("user.sealbox.device") +
	    sizeof("user.sealbox.id"));
	sb_buf_free(&x);

	/* A received message and a synced copy can be removed, each with its
	 * file (inbox_rm.sh drives the rest: replays stay refused). */
	assert_true(exists(&h, "in-aaaa.msg"));
	assert_int_equal(inbox_unlink(&h.a, AGENT_BOX_IN, "alice@example.com",
	    "20270115T080000Z-01020304-a.txt"), SB_OK);
	assert_false(exists(&h, "in-aaaa.msg"));
	assert_int_equal(inbox_file_attr(&h.a, AGENT_BOX_IN, "alice@example.com",
	    "20270115T080000Z-01020304-a.txt", &at), SB_ERR_NOT_FOUND);
	assert_int_equal(inbox_unlink(&h.a, AGENT_BOX_OUT, "carol@example.com", "synced.txt"),
	    SB_OK);
	assert_false(exists(&h, "in-dddd.msg"));
	assert_int_equal(inbox_file_attr(&h.a, AGENT_BOX_OUT, "carol@example.com", "synced.txt",
	    &at), SB_ERR_NOT_FOUND);
	memset(&s, 0, sizeof(s));
	assert_int_equal(inbox_list_folders(&h.a, AGENT_BOX_OUT, collect, &s), SB_OK);
	assert_int_equal(s.n, 0);
	home_close(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envelope_accepts),
		cmocka_unit_test(test_envelope_rejects),
		cmocka_unit_test(test_envelope_time_window),
		cmocka_unit_test(test_keyblock_hash),
		cmocka_unit_test(test_transient),
		cmocka_unit_test(test_name_variant),
		cmocka_unit_test(test_replay_cache),
		cmocka_unit_test(test_push_queue),
		cmocka_unit_test(test_payload_files),
		cmocka_unit_test(test_init_and_namespace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
