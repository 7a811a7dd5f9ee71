/*
 * test_relay_store.c - the relay's stores (relay/store.h) against real
 * databases: enrollment codes, devices, atomic batches, queue order and
 * acks, status, expiry, blob records, durability across a reopen, and
 * the transparency log every directory change appends to (links,
 * removals, the backfill of a pre-log database).
 *
 * Every case runs on SQLite (a temporary file).  With SB_TEST_PG set to a
 * libpq URI the same cases run again on PostgreSQL (each on an emptied
 * schema), followed by what only the cluster store has: blob contents,
 * the once-per-cluster sweep and news between nodes.
 * tests/integration/relay_pg_store.sh starts a real server for that.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "common/sberr.h"
#include "relay/store.h"
#include "tlog/tlog.h"

struct fx {
	char dir[64];
	char path[96];
	struct relay_store *s;
};

static const uint8_t code_a[RELAY_CODE_HASH_LEN] = { 1 };
static const uint8_t code_b[RELAY_CODE_HASH_LEN] = { 2 };

static const char *pg_dsn;   /* SB_TEST_PG: the PostgreSQL group runs */

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/sealbox-store.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/relay.db", f->dir);
	if (relay_store_open_sqlite(f->path, &f->s) != SB_OK)
		return -1;
	*state = f;
	return 0;
}

/* An empty database for each case: the schema is dropped and made again
 * by the store's own migration. */
static int
pg_reset(void)
{
	PGconn *db = PQconnectdb(pg_dsn);
	PGresult *r;
	int ok;

	if (PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "SB_TEST_PG: %s", PQerrorMessage(db));
		PQfinish(db);
		return -1;
	}
	/* A failed case may have left a connection inside a transaction
	 * holding locks: end every other session first. */
	PQclear(PQexec(db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	    " WHERE datname = current_database() AND pid <> pg_backend_pid()"));
	r = PQexec(db, "SET client_min_messages = warning;"
	    " DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	PQfinish(db);
	return ok ? 0 : -1;
}

static int
setup_pg(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char why[256];

	if (f == NULL || pg_reset() != 0)
		return -1;
	if (relay_store_open_pg(pg_dsn, &f->s, why, sizeof(why)) != SB_OK) {
		fprintf(stderr, "open: %s\n", why);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	relay_store_close(f->s);
	if (f->dir[0] == '\0') {
		free(f);
		return 0;
	}
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static uint64_t
enroll(struct relay_store *s, const char *addr, const uint8_t code[RELAY_CODE_HASH_LEN])
{
	uint64_t id = 0;

	assert_int_equal(s->ops->invite_add(s, addr, code, 1000), SB_OK);
	assert_int_equal(s->ops->enroll(s, addr, code, 0, "dev", 2,
	    (const uint8_t *)"ident", 5, 1000, &id), SB_OK);
	assert_true(id > 0);
	return id;
}

static void
test_relay_store_enroll_codes(void **state)
{
	struct fx *f = *state;
	struct relay_store *s = f->s;
	struct relay_device d, *v = NULL;
	uint64_t id = 0, id2 = 0;
	size_t n;

	assert_int_equal(s->ops->invite_add(s, "bob@example.com", code_a, 1000), SB_OK);
	/* wrong address for the code, wrong code, code too old */
	assert_int_equal(s->ops->enroll(s, "eve@example.com", code_a, 0, "x", 2,
	    (const uint8_t *)"i", 1, 1000, &id), SB_ERR_ENROLL_CODE);
	assert_int_equal(s->ops->enroll(s, "bob@example.com", code_b, 0, "x", 2,
	    (const uint8_t *)"i", 1, 1000, &id), SB_ERR_ENROLL_CODE);
	assert_int_equal(s->ops->enroll(s, "bob@example.com", code_a, 1001, "x", 2,
	    (const uint8_t *)"i", 1, 1000, &id), SB_ERR_ENROLL_CODE);
	assert_true(id == 0);
	assert_int_equal(s->ops->enroll(s, "bob@example.com", code_a, 1000, "laptop", 1,
	    (const uint8_t *)"identity", 8, 1000, &id), SB_OK);
	assert_true(id > 0);
	/* single use */
	assert_int_equal(s->ops->enroll(s, "bob@example.com", code_a, 0, "again", 2,
	    (const uint8_t *)"i", 1, 1000, &id2), SB_ERR_ENROLL_CODE);

	assert_int_equal(s->ops->device_get(s, id, &d), SB_OK);
	assert_string_equal(d.address, "bob@example.com");
	assert_string_equal(d.name, "laptop");
	assert_int_equal(d.suite, 1);
	assert_int_equal(d.identity_len, 8);
	assert_memory_equal(d.identity, "identity", 8);
	assert_int_equal(s->ops->device_get(s, id + 100, &d), SB_ERR_NOT_FOUND);

	id2 = enroll(s, "bob@example.com", code_b);
	assert_int_equal(s->ops->devices_of(s, "bob@example.com", &v, &n), SB_OK);
	assert_int_equal(n, 2);
	assert_true(v[0].id == id && v[1].id == id2);
	free(v);
	assert_int_equal(s->ops->devices_of(s, "nobody@example.com", &v, &n), SB_OK);
	assert_int_equal(n, 0);
	assert_null(v);
}

static void
test_relay_store_batch_queue_ack(void **state)
{
	struct fx *f = *state;
	struct relay_store *s = f->s;
	uint64_t a = enroll(s, "alice@example.com", code_a);
	uint64_t b = enroll(s, "bob@example.com", code_b), n;
	uint8_t m1[PROTO_MSGID_LEN], m2[PROTO_MSGID_LEN];
	struct relay_batch_entry e[2] = {
		{ b, (const uint8_t *)"to bob", 6 }, { a, (const uint8_t *)"to alice", 8 },
	};
	struct relay_item it;
	struct proto_status_entry *st;
	size_t ns;

	memset(m1, 1, sizeof(m1));
	memset(m2, 2, sizeof(m2));
	assert_int_equal(s->ops->batch_commit(s, m1, "alice@example.com", 99, 2000, e, 2), SB_OK);
	assert_int_equal(s->ops->batch_commit(s, m2, "alice@example.com", 99, 2001, e, 1), SB_OK);
	/* a message id is used once per sender device: all or nothing */
	assert_int_equal(s->ops->batch_commit(s, m2, "alice@example.com", 99, 2002, e, 2),
	    SB_ERR_EXISTS);
	assert_int_equal(s->ops->queue_count(s, a, &n), SB_OK);
	assert_true(n == 1);
	assert_int_equal(s->ops->queue_count(s, b, &n), SB_OK);
	assert_true(n == 2);

	/* oldest first; `after` walks; every envelope field kept */
	assert_int_equal(s->ops->queue_next(s, b, 0, 0, &it), SB_OK);
	assert_memory_equal(it.msgid, m1, PROTO_MSGID_LEN);
	assert_string_equal(it.sender, "alice@example.com");
	assert_true(it.sender_device == 99 && it.timestamp == 2000);
	assert_int_equal(it.payload_len, 6);
	assert_memory_equal(it.payload, "to bob", 6);
	uint64_t first = it.id;
	relay_item_clear(&it);
	assert_int_equal(s->ops->queue_next(s, b, first, 0, &it), SB_OK);
	assert_memory_equal(it.msgid, m2, PROTO_MSGID_LEN);
	uint64_t second = it.id;
	relay_item_clear(&it);
	assert_int_equal(s->ops->queue_next(s, b, second, 0, &it), SB_ERR_NOT_FOUND);
	/* not_before hides what is past retention */
	assert_int_equal(s->ops->queue_next(s, b, 0, 2001, &it), SB_OK);
	assert_true(it.id == second);
	relay_item_clear(&it);

	/* only the owner's ack deletes */
	assert_int_equal(s->ops->queue_ack(s, a, first), SB_ERR_NOT_FOUND);
	assert_int_equal(s->ops->queue_ack(s, b, first), SB_OK);
	assert_int_equal(s->ops->queue_ack(s, b, first), SB_ERR_NOT_FOUND);
	assert_int_equal(s->ops->queue_count(s, b, &n), SB_OK);
	assert_true(n == 1);

	assert_int_equal(s->ops->status(s, 99, m1, &st, &ns), SB_OK);
	assert_int_equal(ns, 2);
	assert_true(st[0].device_id == a && st[0].state == PROTO_STATE_QUEUED);
	assert_true(st[1].device_id == b && st[1].state == PROTO_STATE_DELIVERED);
	free(st);
	/* status is per sender device */
	assert_int_equal(s->ops->status(s, 98, m1, &st, &ns), SB_ERR_NOT_FOUND);
}

static void
test_relay_store_expire_and_remove(void **state)
{
	struct fx *f = *state;
	struct relay_store *s = f->s;
	uint64_t a = enroll(s, "alice@example.com", code_a);
	uint64_t b = enroll(s, "bob@example.com", code_b), n = 0;
	uint8_t m1[PROTO_MSGID_LEN], m2[PROTO_MSGID_LEN];
	struct relay_batch_entry e = { b, (const uint8_t *)"x", 1 };
	struct relay_batch_entry ea = { a, (const uint8_t *)"y", 1 };
	struct proto_status_entry *st;
	size_t ns;

	memset(m1, 1, sizeof(m1));
	memset(m2, 2, sizeof(m2));
	assert_int_equal(s->ops->batch_commit(s, m1, "alice@example.com", a, 1000, &e, 1), SB_OK);
	assert_int_equal(s->ops->batch_commit(s, m2, "alice@example.com", a, 5000, &e, 1), SB_OK);
	assert_int_equal(s->ops->expire(s, 3000, 0, &n), SB_OK);
	assert_true(n == 1);
	assert_int_equal(s->ops->status(s, a, m1, &st, &ns), SB_OK);
	assert_true(ns == 1 && st[0].state == PROTO_STATE_EXPIRED);
	free(st);
	assert_int_equal(s->ops->status(s, a, m2, &st, &ns), SB_OK);
	assert_true(ns == 1 && st[0].state == PROTO_STATE_QUEUED);
	free(st);
	/* status rows themselves go after their own cutoff */
	assert_int_equal(s->ops->expire(s, 3000, 2000, &n), SB_OK);
	assert_true(n == 0);
	assert_int_equal(s->ops->status(s, a, m1, &st, &ns), SB_ERR_NOT_FOUND);

	/* removing a device drops its queue; its status says so */
	assert_int_equal(s->ops->device_remove(s, b, NULL, 1000), SB_OK);
	assert_int_equal(s->ops->device_remove(s, b, NULL, 1000), SB_ERR_NOT_FOUND);
	assert_int_equal(s->ops->queue_count(s, b, &n), SB_OK);
	assert_true(n == 0);
	assert_int_equal(s->ops->status(s, a, m2, &st, &ns), SB_OK);
	assert_true(ns == 1 && st[0].state == PROTO_STATE_REMOVED);
	free(st);
	assert_int_equal(s->ops->batch_commit(s, m1, "bob@example.com", b, 6000, &ea, 1), SB_OK);
}

static int gone_count;
static char gone_uri[64];

static void
gone(void *arg, const char *uri)
{
	(void)arg;
	gone_count++;
	snprintf(gone_uri, sizeof(gone_uri), "%s", uri);
}

static void
test_relay_store_blobs(void **state)
{
	struct fx *f = *state;
	struct relay_store *s = f->s;
	uint64_t size = 0;

	assert_int_equal(s->ops->blob_add(s, "sbblob:old", 10, 1, 1000), SB_OK);
	assert_int_equal(s->ops->blob_add(s, "sbblob:new", 1ull << 32, 1, 5000), SB_OK);
	assert_int_equal(s->ops->blob_add(s, "sbblob:new", 1, 1, 5000), SB_ERR_STORAGE);
	assert_int_equal(s->ops->blob_get(s, "sbblob:new", 0, &size), SB_OK);
	assert_true(size == 1ull << 32);
	assert_int_equal(s->ops->blob_get(s, "sbblob:old", 2000, &size), SB_ERR_NOT_FOUND);
	assert_int_equal(s->ops->blob_get(s, "sbblob:none", 0, &size), SB_ERR_NOT_FOUND);
	gone_count = 0;
	assert_int_equal(s->ops->blob_expire(s, 3000, gone, NULL), SB_OK);
	assert_int_equal(gone_count, 1);
	assert_string_equal(gone_uri, "sbblob:old");
	assert_int_equal(s->ops->blob_get(s, "sbblob:old", 0, &size), SB_ERR_NOT_FOUND);
	assert_int_equal(s->ops->blob_get(s, "sbblob:new", 0, &size), SB_OK);
	/* Only its uploader deletes a blob; anyone else sees NOT_FOUND. */
	assert_int_equal(s->ops->blob_delete(s, "sbblob:new", 2), SB_ERR_NOT_FOUND);
	assert_int_equal(s->ops->blob_delete(s, "sbblob:none", 1), SB_ERR_NOT_FOUND);
	assert_int_equal(s->ops->blob_delete(s, "sbblob:new", 1), SB_OK);
	assert_int_equal(s->ops->blob_get(s, "sbblob:new", 0, &size), SB_ERR_NOT_FOUND);
	assert_int_equal(s->ops->blob_delete(s, "sbblob:new", 1), SB_ERR_NOT_FOUND);
}

static int gone_n;
static void
count_gone(void *arg, const char *uri)
{
	(void)arg;
	assert_non_null(uri);
	gone_n++;
}

/* The operator's kit: last seen, invites voided, a device's blobs dropped,
 * the whole-relay totals. */
static void
test_relay_store_admin_ops(void **state)
{
	struct fx *f = *state;
	struct relay_store_totals t;
	struct relay_device d;
	struct relay_batch_entry e;
	uint8_t msgid[PROTO_MSGID_LEN] = { 7 };
	uint64_t a = enroll(f->s, "alice@example.com", code_a);
	uint64_t b = enroll(f->s, "bob@example.com", code_b);
	uint64_t n = 9, bytes = 9;

	assert_int_equal(f->s->ops->device_get(f->s, a, &d), SB_OK);
	assert_int_equal(d.last_seen, 0);
	assert_int_equal(f->s->ops->device_seen(f->s, a, 4242), SB_OK);
	assert_int_equal(f->s->ops->device_seen(f->s, 999, 4242), SB_OK);
	assert_int_equal(f->s->ops->device_get(f->s, a, &d), SB_OK);
	assert_int_equal(d.last_seen, 4242);

	static const uint8_t code_c[RELAY_CODE_HASH_LEN] = { 3 };

	assert_int_equal(f->s->ops->invite_add(f->s, "bob@example.com", code_c, 1000), SB_OK);
	assert_int_equal(f->s->ops->invite_void(f->s, "bob@example.com", &n), SB_OK);
	assert_int_equal(n, 1);   /* the used code of bob's device stays */
	assert_int_equal(f->s->ops->invite_void(f->s, "bob@example.com", &n), SB_OK);
	assert_int_equal(n, 0);

	assert_int_equal(f->s->ops->blob_add(f->s, "sbblob:1", 100, b, 1000), SB_OK);
	assert_int_equal(f->s->ops->blob_add(f->s, "sbblob:2", 200, b, 1000), SB_OK);
	assert_int_equal(f->s->ops->blob_add(f->s, "sbblob:3", 300, a, 1000), SB_OK);
	e.device_id = b;
	e.payload = (const uint8_t *)"xyz";
	e.payload_len = 3;
	assert_int_equal(f->s->ops->batch_commit(f->s, msgid, "alice@example.com", a, 1000,
	    &e, 1), SB_OK);
	assert_int_equal(f->s->ops->totals(f->s, &t), SB_OK);
	assert_int_equal(t.devices, 2);
	assert_int_equal(t.queued_items, 1);
	assert_int_equal(t.blobs, 3);
	assert_int_equal(t.blob_bytes, 600);

	gone_n = 0;
	assert_int_equal(f->s->ops->device_remove(f->s, b, NULL, 1000), SB_OK);
	assert_int_equal(f->s->ops->blob_drop_owner(f->s, b, count_gone, NULL, &n, &bytes),
	    SB_OK);
	assert_int_equal(n, 2);
	assert_int_equal(bytes, 300);
	assert_int_equal(gone_n, 2);
	assert_int_equal(f->s->ops->totals(f->s, &t), SB_OK);
	assert_int_equal(t.devices, 1);
	assert_int_equal(t.queued_items, 0);
	assert_int_equal(t.blobs, 1);
	assert_int_equal(t.blob_bytes, 300);
}

/* Closes and opens again the fixture's SQLite store. */
static struct relay_store *
reopen_sqlite(struct fx *f)
{
	relay_store_close(f->s);
	f->s = NULL;
	assert_int_equal(relay_store_open_sqlite(f->path, &f->s), SB_OK);
	return f->s;
}

/*
 * Group commit (store.h group_begin): SENDs and ACKs join one transaction,
 * a failed op rolls back alone, reads see the group's rows, nothing is
 * kept without the commit and all of it after (after a reopen, too).
 */
static void
test_relay_store_group(void **state)
{
	struct fx *f = *state;
	struct relay_store *s = f->s;
	uint64_t a = enroll(s, "alice@example.com", code_a);
	uint64_t b = enroll(s, "bob@example.com", code_b), n = 0, items, bytes, blobs;
	uint8_t m1[PROTO_MSGID_LEN], m2[PROTO_MSGID_LEN];
	struct relay_batch_entry e = { b, (const uint8_t *)"to bob", 6 };
	struct proto_status_entry *st;
	struct relay_item it;
	uint64_t first;
	size_t ns;

	memset(m1, 1, sizeof(m1));
	memset(m2, 2, sizeof(m2));
	/* rolled back: nothing of it is kept */
	assert_int_equal(s->ops->group_begin(s), SB_OK);
	assert_int_equal(s->ops->batch_commit(s, m1, "alice@example.com", a, 2000, &e, 1), SB_OK);
	assert_int_equal(s->ops->queue_count(s, b, &n), SB_OK);
	assert_true(n == 1);
	assert_int_equal(s->ops->group_end(s, 0), SB_OK);
	assert_int_equal(s->ops->queue_count(s, b, &n), SB_OK);
	assert_true(n == 0);

	/* committed: every op that succeeded, none that failed */
	assert_int_equal(s->ops->group_begin(s), SB_OK);
	assert_int_not_equal(s->ops->group_begin(s), SB_OK);   /* no nesting */
	assert_int_equal(s->ops->batch_commit(s, m1, "alice@example.com", a, 2000, &e, 1), SB_OK);
	assert_int_equal(s->ops->batch_commit(s, m1, "alice@example.com", a, 2000, &e, 1),
	    SB_ERR_EXISTS);
	assert_int_equal(s->ops->batch_commit(s, m2, "alice@example.com", a, 2001, &e, 1), SB_OK);
	assert_int_equal(s->ops->queue_next(s, b, 0, 0, &it), SB_OK);
	first = it.id;
	assert_memory_equal(it.msgid, m1, PROTO_MSGID_LEN);
	relay_item_clear(&it);
	assert_int_equal(s->ops->queue_ack(s, b, first), SB_OK);
	assert_int_equal(s->ops->queue_ack(s, b, first), SB_ERR_NOT_FOUND);
	assert_int_equal(s->ops->usage(s, "alice@example.com", &items, &bytes, &blobs), SB_OK);
	assert_true(items == 1 && bytes == 6);
	assert_int_equal(s->ops->device_seen(s, a, 3000), SB_OK);
	assert_int_equal(s->ops->group_end(s, 1), SB_OK);
	assert_int_not_equal(s->ops->group_end(s, 1), SB_OK);   /* none open */

	if (f->dir[0] != '\0')
		s = reopen_sqlite(f);   /* on disk, not only in this connection */
	assert_int_equal(s->ops->queue_count(s, b, &n), SB_OK);
	assert_true(n == 1);
	assert_int_equal(s->ops->queue_next(s, b, 0, 0, &it), SB_OK);
	assert_memory_equal(it.msgid, m2, PROTO_MSGID_LEN);
	first = it.id;
	relay_item_clear(&it);
	assert_int_equal(s->ops->status(s, a, m1, &st, &ns), SB_OK);
	assert_true(ns == 1 && st[0].state == PROTO_STATE_DELIVERED);
	free(st);
	/* and a store outside a group commits each op on its own again */
	assert_int_equal(s->ops->queue_ack(s, b, first), SB_OK);
	assert_int_equal(s->ops->queue_count(s, b, &n), SB_OK);
	assert_true(n == 0);
}

static void
test_relay_store_durable_wal(void **state)
{
	struct fx *f = *state;
	struct relay_store *s = f->s;
	uint64_t b = enroll(s, "bob@example.com", code_b), n = 0;
	uint8_t m[PROTO_MSGID_LEN] = { 9 };
	struct relay_batch_entry e = { b, (const uint8_t *)"kept", 4 };
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(s->ops->batch_commit(s, m, "alice@example.com", 1, 1000, &e, 1), SB_OK);
	s = reopen_sqlite(f);
	assert_int_equal(s->ops->queue_count(s, b, &n), SB_OK);
	assert_true(n == 1);

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Entry i of addr's history, parsed (into e, borrowing from v). */
static void
log_entry(struct relay_log_entry *v, size_t i, struct tlog_entry *e)
{
	assert_int_equal(tlog_entry_parse(v[i].entry, v[i].len, e), SB_OK);
}

static void
test_relay_store_log(void **state)
{
	struct fx *f = *state;
	struct relay_store *s = f->s;
	struct relay_log_signer by = { 0, (const uint8_t *)"sig", 3 };
	struct relay_log_entry *v = NULL;
	struct relay_link_offer *o = NULL;
	struct tlog_entry e;
	uint8_t a[TLOG_HASH_LEN], leaves[4][32], leaf[TLOG_HASH_LEN];
	uint64_t n = 0, d1, d2, d3 = 0;
	size_t k;
	sqlite3 *db;

	assert_int_equal(s->ops->log_size(s, &n), SB_OK);
	assert_int_equal(n, 0);
	d1 = enroll(s, "bob@example.com", code_a);
	assert_int_equal(tlog_addr_hash("bob@example.com", 15, a), SB_OK);
	/* A link offer, refreshed (not doubled), then approved by d1. */
	assert_int_equal(s->ops->link_offer_put(s, "bob@example.com", 2,
	    (const uint8_t *)"phone", 5, "phone", 1100, 0), SB_OK);
	assert_int_equal(s->ops->link_offer_put(s, "bob@example.com", 2,
	    (const uint8_t *)"phone", 5, "phone 2", 1200, 0), SB_OK);
	assert_int_equal(s->ops->link_offers_of(s, "bob@example.com", 0, &o, &k), SB_OK);
	assert_int_equal(k, 1);
	assert_string_equal(o[0].name, "phone 2");
	assert_int_equal(o[0].created, 1200);
	free(o);
	/* Expired for a reader after 1200: none. */
	assert_int_equal(s->ops->link_offers_of(s, "bob@example.com", 1201, &o, &k), SB_OK);
	assert_int_equal(k, 0);
	assert_null(o);
	by.signer = d1;
	assert_int_equal(s->ops->link_approve(s, "bob@example.com", (const uint8_t *)"tablet",
	    6, 0, &by, 1300, &d3), SB_ERR_NOT_FOUND);
	assert_int_equal(s->ops->link_approve(s, "bob@example.com", (const uint8_t *)"phone",
	    5, 0, &by, 1300, &d2), SB_OK);
	assert_int_equal(s->ops->link_offers_of(s, "bob@example.com", 0, &o, &k), SB_OK);
	assert_int_equal(k, 0);
	/* d1 removes d2 with its signature; the operator removes d1. */
	assert_int_equal(s->ops->device_remove(s, d2, &by, 1400), SB_OK);
	assert_int_equal(s->ops->device_remove(s, d1, NULL, 1500), SB_OK);
	assert_int_equal(s->ops->device_remove(s, d1, NULL, 1500), SB_ERR_NOT_FOUND);

	assert_int_equal(s->ops->log_size(s, &n), SB_OK);
	assert_int_equal(n, 4);
	assert_int_equal(s->ops->log_entries_of(s, a, &v, &k), SB_OK);
	assert_int_equal(k, 4);
	log_entry(v, 0, &e);
	assert_true(e.kind == TLOG_ADD && e.seq == 0 && e.device == d1 && e.signer == 0);
	assert_int_equal(e.time, 1000);
	log_entry(v, 1, &e);
	assert_true(e.kind == TLOG_ADD && e.seq == 1 && e.device == d2 && e.signer == d1);
	assert_memory_equal(e.identity, "phone", 5);
	assert_memory_equal(e.sig, "sig", 3);
	log_entry(v, 2, &e);
	assert_true(e.kind == TLOG_REMOVE && e.device == d2 && e.signer == d1);
	assert_memory_equal(e.identity, "phone", 5);
	assert_int_equal(e.time, 1400);
	log_entry(v, 3, &e);
	assert_true(e.kind == TLOG_REMOVE && e.device == d1 && e.signer == 0 && e.seq == 3);
	assert_memory_equal(e.addr, a, sizeof(a));
	/* The leaves are the entries' leaf hashes, in index order. */
	assert_int_equal(s->ops->log_leaves(s, 0, 4, leaves), SB_OK);
	for (k = 0; k < 4; k++) {
		assert_int_equal(v[k].index, k);
		assert_int_equal(tlog_leaf_hash(v[k].entry, v[k].len, leaf), SB_OK);
		assert_memory_equal(leaves[k], leaf, sizeof(leaf));
	}
	assert_int_equal(s->ops->log_leaves(s, 2, 3, leaves), SB_ERR_NOT_FOUND);
	free(v);
	/* Another address's history is its own. */
	enroll(s, "eve@example.com", code_b);
	assert_int_equal(s->ops->log_entries_of(s, a, &v, &k), SB_OK);
	assert_int_equal(k, 4);
	free(v);
	/* Append-only, for anyone writing through the database's triggers. */
	if (f->dir[0] != '\0') {
		assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
		assert_int_not_equal(sqlite3_exec(db, "DELETE FROM log WHERE idx=1", NULL, NULL,
		    NULL), SQLITE_OK);
		assert_int_not_equal(sqlite3_exec(db, "UPDATE log SET seq=9", NULL, NULL, NULL),
		    SQLITE_OK);
		sqlite3_close(db);
	} else {
		PGconn *pg = PQconnectdb(pg_dsn);
		PGresult *r;

		assert_int_equal(PQstatus(pg), CONNECTION_OK);
		r = PQexec(pg, "DELETE FROM log WHERE idx=1");
		assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
		PQclear(r);
		r = PQexec(pg, "UPDATE log SET seq=9");
		assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
		PQclear(r);
		r = PQexec(pg, "TRUNCATE log");
		assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
		PQclear(r);
		PQfinish(pg);
	}
	assert_int_equal(s->ops->log_size(s, &n), SB_OK);
	assert_int_equal(n, 5);
}

/* A database from before the log gets one add entry per device, once. */
static void
test_relay_store_log_backfill(void **state)
{
	struct fx *f = *state;
	struct relay_store *s = f->s;
	struct relay_log_entry *v = NULL;
	struct tlog_entry e;
	uint8_t a[TLOG_HASH_LEN];
	uint64_t n = 0, d1, d2;
	size_t k;
	sqlite3 *db;

	d1 = enroll(s, "bob@example.com", code_a);
	d2 = enroll(s, "bob@example.com", code_b);
	relay_store_close(s);
	f->s = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE log", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(relay_store_open_sqlite(f->path, &f->s), SB_OK);
	relay_store_close(f->s);
	assert_int_equal(relay_store_open_sqlite(f->path, &f->s), SB_OK);
	s = f->s;
	assert_int_equal(s->ops->log_size(s, &n), SB_OK);
	assert_int_equal(n, 2);
	assert_int_equal(tlog_addr_hash("bob@example.com", 15, a), SB_OK);
	assert_int_equal(s->ops->log_entries_of(s, a, &v, &k), SB_OK);
	assert_int_equal(k, 2);
	log_entry(v, 0, &e);
	assert_true(e.kind == TLOG_ADD && e.device == d1 && e.signer == 0 && e.time == 1000);
	log_entry(v, 1, &e);
	assert_true(e.kind == TLOG_ADD && e.device == d2 && e.seq == 1);
	free(v);
}

/* PostgreSQL: the same durability across a reopen, on a server that
 * commits synchronously. */
static void
test_relay_store_pg_durable(void **state)
{
	struct fx *f = *state;
	struct relay_store *s = f->s;
	uint64_t b = enroll(s, "bob@example.com", code_b), n = 0;
	uint8_t m[PROTO_MSGID_LEN] = { 9 };
	struct relay_batch_entry e = { b, (const uint8_t *)"kept", 4 };
	char why[256];
	PGconn *db;
	PGresult *r;

	assert_int_equal(s->ops->batch_commit(s, m, "alice@example.com", 1, 1000, &e, 1), SB_OK);
	relay_store_close(f->s);
	f->s = NULL;
	assert_int_equal(relay_store_open_pg(pg_dsn, &f->s, why, sizeof(why)), SB_OK);
	s = f->s;
	assert_int_equal(s->ops->queue_count(s, b, &n), SB_OK);
	assert_true(n == 1);

	db = PQconnectdb(pg_dsn);
	assert_int_equal(PQstatus(db), CONNECTION_OK);
	r = PQexec(db, "SELECT current_setting('synchronous_commit'), current_setting('fsync')");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 0), "on");
	assert_string_equal(PQgetvalue(r, 0, 1), "on");
	PQclear(r);
	PQfinish(db);
}

/* Blob contents in chunk rows: streamed in, visible only once finished,
 * read back chunk by chunk, gone with the record. */
static void
test_relay_store_pg_blob_chunks(void **state)
{
	struct fx *f = *state;
	struct relay_store *s = f->s;
	uint8_t a[SB_MAX_BLOB_CHUNK], buf[SB_MAX_BLOB_CHUNK];
	uint64_t up = 0, up2 = 0, size = 0, h = 0, items, bytes, blobs;
	size_t n = 0;

	memset(a, 0xa5, sizeof(a));
	assert_int_equal(s->ops->blob_begin(s, 7, sizeof(a) + 3, 1000, &up), SB_OK);
	assert_true(up > 0);
	assert_int_equal(s->ops->blob_write(s, up, 0, a, sizeof(a)), SB_OK);
	assert_int_equal(s->ops->blob_write(s, up, 1, (const uint8_t *)"end", 3), SB_OK);
	/* the same chunk twice is refused, not appended */
	assert_int_equal(s->ops->blob_write(s, up, 1, (const uint8_t *)"end", 3), SB_ERR_EXISTS);
	/* not visible before it is finished */
	assert_int_equal(s->ops->blob_open(s, "sbblob:c1", 0, &size, &h), SB_ERR_NOT_FOUND);
	assert_int_equal(s->ops->blob_finish(s, up, "sbblob:c1", sizeof(a) + 3, 7, 1000), SB_OK);
	/* finished once */
	assert_int_equal(s->ops->blob_finish(s, up, "sbblob:c2", sizeof(a) + 3, 7, 1000),
	    SB_ERR_NOT_FOUND);
	assert_int_equal(s->ops->blob_open(s, "sbblob:c1", 0, &size, &h), SB_OK);
	assert_true(size == sizeof(a) + 3);
	assert_int_equal(s->ops->blob_read(s, h, 0, buf, sizeof(buf), &n), SB_OK);
	assert_int_equal(n, sizeof(a));
	assert_memory_equal(buf, a, sizeof(a));
	assert_int_equal(s->ops->blob_read(s, h, 1, buf, sizeof(buf), &n), SB_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "end", 3);
	assert_int_equal(s->ops->blob_read(s, h, 2, buf, sizeof(buf), &n), SB_ERR_NOT_FOUND);
	/* the record is also what blob_get and the quota see */
	assert_int_equal(s->ops->blob_get(s, "sbblob:c1", 0, &size), SB_OK);
	assert_true(size == sizeof(a) + 3);
	/* too old for not_before */
	assert_int_equal(s->ops->blob_open(s, "sbblob:c1", 1001, &size, &h), SB_ERR_NOT_FOUND);

	/* a dropped upload leaves nothing */
	assert_int_equal(s->ops->blob_begin(s, 7, 10, 1000, &up2), SB_OK);
	assert_int_equal(s->ops->blob_write(s, up2, 0, a, 10), SB_OK);
	s->ops->blob_drop(s, up2);
	assert_int_equal(s->ops->blob_finish(s, up2, "sbblob:c3", 10, 7, 1000), SB_ERR_NOT_FOUND);

	/* expiry takes the contents with the record */
	gone_count = 0;
	assert_int_equal(s->ops->blob_expire(s, 2000, gone, NULL), SB_OK);
	assert_int_equal(gone_count, 1);
	assert_int_equal(s->ops->blob_open(s, "sbblob:c1", 0, &size, &h), SB_ERR_NOT_FOUND);
	assert_int_equal(s->ops->blob_read(s, h, 0, buf, sizeof(buf), &n), SB_ERR_NOT_FOUND);
	(void)items; (void)bytes; (void)blobs;
}

/* An upload a dead node left half-written is dropped a day later. */
static void
test_relay_store_pg_blob_stale_upload(void **state)
{
	struct fx *f = *state;
	struct relay_store *s = f->s;
	uint64_t up = 0, up2 = 0;

	assert_int_equal(s->ops->blob_begin(s, 7, 10, 1000, &up), SB_OK);
	assert_int_equal(s->ops->blob_write(s, up, 0, (const uint8_t *)"0123456789", 10), SB_OK);
	assert_int_equal(s->ops->blob_begin(s, 7, 10, 1000 + 86401, &up2), SB_OK);
	assert_int_equal(s->ops->blob_finish(s, up, "sbblob:late", 10, 7, 1000 + 86402),
	    SB_ERR_NOT_FOUND);
}

/* Once per interval for the whole cluster, whichever node asks. */
static void
test_relay_store_pg_sweep_once(void **state)
{
	struct fx *f = *state;
	struct relay_store *a = f->s, *b = NULL;
	char why[256];

	assert_int_equal(relay_store_open_pg(pg_dsn, &b, why, sizeof(why)), SB_OK);
	assert_int_equal(a->ops->sweep_claim(a, 10000, 60), SB_OK);
	assert_int_equal(b->ops->sweep_claim(b, 10000, 60), SB_ERR_EXISTS);
	assert_int_equal(a->ops->sweep_claim(a, 10059, 60), SB_ERR_EXISTS);
	assert_int_equal(b->ops->sweep_claim(b, 10060, 60), SB_OK);
	assert_int_equal(a->ops->sweep_claim(a, 10060, 60), SB_ERR_EXISTS);
	/* a clock set back does not stop sweeping for good */
	assert_int_equal(a->ops->sweep_claim(a, 5000, 60), SB_OK);
	relay_store_close(b);
}

struct seen {
	int n;
	int kind[8];
	uint64_t dev[8], at[8];
};

static void
on_event(void *arg, int kind, uint64_t device, uint64_t at)
{
	struct seen *v = arg;

	if (v->n < 8) {
		v->kind[v->n] = kind;
		v->dev[v->n] = device;
		v->at[v->n] = at;
	}
	v->n++;
}

/* Drains node's news until want events came (or 5 s passed). */
static void
wait_events(struct relay_store *node, struct seen *v, int want)
{
	int i;

	for (i = 0; i < 500 && v->n < want; i++) {
		assert_int_equal(node->ops->events_read(node, on_event, v), SB_OK);
		if (v->n < want)
			usleep(10000);
	}
}

/* What one node commits, the other hears; never its own news. */
static void
test_relay_store_pg_events(void **state)
{
	struct fx *f = *state;
	struct relay_store *a = f->s, *b = NULL;
	uint64_t x = enroll(a, "alice@example.com", code_a);
	uint64_t y = enroll(a, "bob@example.com", code_b);
	uint8_t m[PROTO_MSGID_LEN] = { 3 };
	struct relay_batch_entry e[2] = {
		{ x, (const uint8_t *)"1", 1 }, { y, (const uint8_t *)"2", 1 },
	};
	struct seen va = { 0 }, vb = { 0 };
	char why[256];
	int fa = -1, fb = -1;

	assert_int_equal(relay_store_open_pg(pg_dsn, &b, why, sizeof(why)), SB_OK);
	assert_int_equal(a->ops->events_fd(a, &fa), SB_OK);
	assert_int_equal(b->ops->events_fd(b, &fb), SB_OK);
	assert_true(fa >= 0 && fb >= 0);
	assert_int_equal(a->ops->batch_commit(a, m, "alice@example.com", x, 1000, e, 2), SB_OK);
	/* a refused batch says nothing */
	assert_int_equal(a->ops->batch_commit(a, m, "alice@example.com", x, 1000, e, 2),
	    SB_ERR_EXISTS);
	assert_int_equal(a->ops->announce(a, RELAY_EV_CONNECTED, y, 123456), SB_OK);
	assert_int_equal(b->ops->announce(b, RELAY_EV_REMOVED, x, 0), SB_OK);
	wait_events(b, &vb, 3);
	assert_int_equal(vb.n, 3);
	assert_true(vb.kind[0] == RELAY_EV_QUEUED && vb.dev[0] == x);
	assert_true(vb.kind[1] == RELAY_EV_QUEUED && vb.dev[1] == y);
	assert_true(vb.kind[2] == RELAY_EV_CONNECTED && vb.dev[2] == y && vb.at[2] == 123456);
	wait_events(a, &va, 1);
	assert_int_equal(va.n, 1);
	assert_true(va.kind[0] == RELAY_EV_REMOVED && va.dev[0] == x);
	/* nothing more: in particular not a's own batch */
	usleep(100000);
	assert_int_equal(a->ops->events_read(a, on_event, &va), SB_OK);
	assert_int_equal(va.n, 1);
	relay_store_close(b);
}

struct racer {
	struct relay_store *s;
	uint64_t device;
	atomic_int done;
	int rc;
};

static void *
racer_main(void *arg)
{
	struct racer *r = arg;
	uint8_t m[PROTO_MSGID_LEN] = { 0x77 };
	struct relay_batch_entry e = { r->device, (const uint8_t *)"second", 6 };

	r->rc = r->s->ops->batch_commit(r->s, m, "alice@example.com", 1, 1000, &e, 1);
	atomic_store(&r->done, 1);
	return NULL;
}

/*
 * Two nodes' batches for one device: the one that drew its queue id
 * second must not commit first, or a node that pushed it (cursor = its
 * id) would never look back for the other.  (The quota trigger's row
 * lock does not prevent it: a batch can draw its id between another's
 * id and that one's trigger.)  So batch_commit locks the device rows
 * before it draws.  Node 1's batch is played by hand: it holds bob's row
 * as batch_commit does first; node 2's batch_commit must then wait - it
 * is seen waiting in pg_locks, nothing of it visible - until node 1 has
 * drawn its id and committed, and so draws a larger one.
 */
static void
test_relay_store_pg_commit_order(void **state)
{
	struct fx *f = *state;
	struct relay_store *a = f->s;
	uint64_t bob = enroll(a, "bob@example.com", code_b), first, waiting = 0;
	struct racer r = { NULL, bob, 0, 0 };
	struct relay_item it;
	pthread_t t;
	char why[256], sql[512];
	PGconn *db = PQconnectdb(pg_dsn), *obs = PQconnectdb(pg_dsn);
	PGresult *res;
	int i;

	assert_int_equal(PQstatus(db), CONNECTION_OK);
	assert_int_equal(PQstatus(obs), CONNECTION_OK);
	assert_int_equal(relay_store_open_pg(pg_dsn, &r.s, why, sizeof(why)), SB_OK);
	PQclear(PQexec(db, "BEGIN"));
	snprintf(sql, sizeof(sql), "SELECT id FROM devices WHERE id=%llu FOR UPDATE",
	    (unsigned long long)bob);
	res = PQexec(db, sql);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);

	assert_int_equal(pthread_create(&t, NULL, racer_main, &r), 0);
	/* Until node 2 waits on a lock, or has finished (the bug). */
	for (i = 0; i < 1000 && !atomic_load(&r.done) && waiting == 0; i++) {
		res = PQexec(obs, "SELECT count(*) FROM pg_locks WHERE NOT granted");
		waiting = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		if (waiting == 0)
			usleep(5000);
	}
	assert_false(atomic_load(&r.done));
	assert_true(waiting >= 1);
	assert_int_equal(a->ops->queue_next(a, bob, 0, 0, &it), SB_ERR_NOT_FOUND);

	snprintf(sql, sizeof(sql), "INSERT INTO queue(device_id,msgid,sender,sender_device,"
	    "ts,payload) VALUES(%llu,'\\x01','alice@example.com',1,1000,'\\x6669727374')"
	    " RETURNING id", (unsigned long long)bob);
	res = PQexec(db, sql);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	first = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	PQclear(PQexec(db, "COMMIT"));
	pthread_join(t, NULL);
	assert_int_equal(r.rc, SB_OK);
	/* commit order is id order */
	assert_int_equal(a->ops->queue_next(a, bob, 0, 0, &it), SB_OK);
	assert_true(it.id == first);
	relay_item_clear(&it);
	assert_int_equal(a->ops->queue_next(a, bob, first, 0, &it), SB_OK);
	assert_true(it.id > first);
	assert_memory_equal(it.payload, "second", 6);
	relay_item_clear(&it);
	relay_store_close(r.s);
	PQfinish(db);
	PQfinish(obs);
}

/* A newer relay's schema is refused, with the versions named. */
static void
test_relay_store_pg_newer_schema(void **state)
{
	struct relay_store *s = NULL;
	char why[256];
	PGconn *db = PQconnectdb(pg_dsn);

	(void)state;
	PQclear(PQexec(db, "UPDATE relay_meta SET v=2 WHERE k='schema'"));
	PQfinish(db);
	assert_int_equal(relay_store_open_pg(pg_dsn, &s, why, sizeof(why)), SB_ERR_CONFIG);
	assert_string_equal(why, "the database's schema (version 2) is newer than this relay's (1)");
	assert_null(s);
}

static void
test_relay_store_pg_unreachable(void **state)
{
	struct relay_store *s = NULL;
	char why[256];

	(void)state;
	assert_int_equal(relay_store_open_pg("postgresql:///x?host=/nonexistent-sealbox",
	    &s, why, sizeof(why)), SB_ERR_STORAGE);
	assert_string_equal(why, "connection to server on socket"
	    " \"/nonexistent-sealbox/.s.PGSQL.5432\" failed: No such file or directory");
	assert_null(s);
}

/* NOTIFY payloads: numbers and single spaces, nothing else (every cut and
 * every one-bit flip of a valid payload either parses to numbers or is
 * refused; none reads past the end). */
static void
test_relay_store_event_parse(void **state)
{
	static const char ok[] = "12 3 18446744073709551615";
	uint64_t ids[RELAY_MAX_EVENT_IDS];
	char buf[64];
	size_t n = 9, i, cut;
	int bit;

	(void)state;
	assert_int_equal(relay_event_parse(ok, strlen(ok), ids, 4, &n), SB_OK);
	assert_int_equal(n, 3);
	assert_true(ids[0] == 12 && ids[1] == 3 && ids[2] == UINT64_MAX);
	assert_int_equal(relay_event_parse(ok, strlen(ok), ids, 2, &n), SB_ERR_FORMAT);
	assert_int_equal(n, 0);
	assert_int_equal(relay_event_parse("", 0, ids, 4, &n), SB_ERR_FORMAT);
	assert_int_equal(relay_event_parse("18446744073709551616", 20, ids, 4, &n), SB_ERR_FORMAT);
	assert_int_equal(relay_event_parse("1  2", 4, ids, 4, &n), SB_ERR_FORMAT);
	assert_int_equal(relay_event_parse(" 1", 2, ids, 4, &n), SB_ERR_FORMAT);
	assert_int_equal(relay_event_parse("1 ", 2, ids, 4, &n), SB_ERR_FORMAT);
	assert_int_equal(relay_event_parse("-1", 2, ids, 4, &n), SB_ERR_FORMAT);
	assert_int_equal(relay_event_parse("1\n", 2, ids, 4, &n), SB_ERR_FORMAT);
	/* the length bounds the read, not a NUL */
	assert_int_equal(relay_event_parse("7 8", 1, ids, 4, &n), SB_OK);
	assert_true(n == 1 && ids[0] == 7);
	for (cut = 0; cut < strlen(ok); cut++) {
		int rc = relay_event_parse(ok, cut, ids, 4, &n);

		/* a cut right after a space leaves a trailing space */
		assert_true(rc == SB_OK ? cut > 0 && ok[cut - 1] != ' ' : rc == SB_ERR_FORMAT);
	}
	for (i = 0; i < strlen(ok); i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(buf, ok, sizeof(ok));
			buf[i] = (char)(buf[i] ^ (1 << bit));
			int rc = relay_event_parse(buf, strlen(ok), ids, 4, &n);
			int digit = buf[i] >= '0' && buf[i] <= '9';

			if (!digit && buf[i] != ' ')
				assert_int_equal(rc, SB_ERR_FORMAT);
			else if (i >= 4)   /* joins, splits or changes the 20-digit maximum */
				assert_true(rc == SB_OK || rc == SB_ERR_FORMAT);
			else               /* a digit, or a space become one: "1203" */
				assert_int_equal(rc, SB_OK);
		}
}

#define BOTH(t) \
	cmocka_unit_test_setup_teardown(t, setup_pg, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_relay_store_enroll_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_batch_queue_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_expire_and_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_blobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_admin_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_durable_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_log_backfill, setup, teardown),
		cmocka_unit_test(test_relay_store_event_parse),
	};
	const struct CMUnitTest pg[] = {
		BOTH(test_relay_store_enroll_codes),
		BOTH(test_relay_store_batch_queue_ack),
		BOTH(test_relay_store_expire_and_remove),
		BOTH(test_relay_store_blobs),
		BOTH(test_relay_store_admin_ops),
		BOTH(test_relay_store_log),
		BOTH(test_relay_store_group),
		BOTH(test_relay_store_pg_durable),
		BOTH(test_relay_store_pg_blob_chunks),
		BOTH(test_relay_store_pg_blob_stale_upload),
		BOTH(test_relay_store_pg_sweep_once),
		BOTH(test_relay_store_pg_events),
		BOTH(test_relay_store_pg_commit_order),
		BOTH(test_relay_store_pg_newer_schema),
		cmocka_unit_test(test_relay_store_pg_unreachable),
	};
	int rc = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);

	if ((pg_dsn = getenv("SB_TEST_PG")) != NULL && pg_dsn[0] != '\0')
		rc |= cmocka_run_group_tests_name("postgresql", pg, NULL, NULL);
	return rc;
}
