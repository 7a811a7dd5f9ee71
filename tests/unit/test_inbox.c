/*
 * test_inbox.c - the inbox side's pure rules: the inner message against its
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
#include <unistd.h>
#include <cmocka.h>

#include "common/sberr.h"
#include "client/client.h"
#include "agent/inbox_int.h"
#include "agent/message.h"
#include "agent/names.h"
#include "agent/store.h"

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
	assert_int_equal(inbox_schema(db), SB_OK);
	assert_int_equal(inbox_schema(db), SB_OK);     /* idempotent */
	memset(id1, 1, sizeof(id1));
	memset(id2, 2, sizeof(id2));
	memset(k1, 3, sizeof(k1));
	memset(k2, 4, sizeof(k2));

	assert_int_equal(inbox_replay_check(db, id1, k1), SB_OK);
	assert_int_equal(inbox_replay_add(db, id1, k1, T0), SB_OK);
	/* Same message id, another key block: a replay. */
	assert_int_equal(inbox_replay_check(db, id1, k2), SB_ERR_REPLAY);
	/* Another message id, the same key block: a replay. */
	assert_int_equal(inbox_replay_check(db, id2, k1), SB_ERR_REPLAY);
	assert_int_equal(inbox_replay_add(db, id2, k1, T0), SB_ERR_REPLAY);
	assert_int_equal(inbox_replay_add(db, id1, k2, T0), SB_ERR_REPLAY);
	/* Both new: fine. */
	assert_int_equal(inbox_replay_check(db, id2, k2), SB_OK);
	assert_int_equal(inbox_replay_add(db, id2, k2, T0), SB_OK);
	assert_int_equal(inbox_replay_check(db, id2, k2), SB_ERR_REPLAY);
	store_close(db);

	/* It survives reopening (durable, not an in-memory cache). */
	assert_int_equal(store_open(path, &db), SB_OK);
	assert_int_equal(inbox_schema(db), SB_OK);
	assert_int_equal(inbox_replay_check(db, id1, k2), SB_ERR_REPLAY);
	store_close(db);

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
	/* The cap: beyond it pushes are left to the relay. */
	for (i = 0; i < INBOX_QUEUE_MAX + 10; i++) {
		p.item_id = 100 + i;
		inbox_on_push(&a, &p);
	}
	assert_int_equal(in->n, INBOX_QUEUE_MAX);

	/* Shut down: the queue is freed, later pushes are dropped. */
	inbox_shutdown(&a);
	assert_null(a.in);
	p.item_id = 9;
	inbox_on_push(&a, &p);
	assert_null(a.in);
	inbox_on_push(NULL, &p);
	pthread_mutex_destroy(&a.lock);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
