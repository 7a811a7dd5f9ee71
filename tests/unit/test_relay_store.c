/*
 * test_relay_store.c - the relay's SQLite store (relay/store.h) against a
 * real temporary database: enrollment codes, devices, atomic batches,
 * queue order and acks, status, expiry, blob records, durability across a
 * reopen, the WAL journal, and the transparency log every directory
 * change appends to (links, removals, the backfill of a pre-log database).
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

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	relay_store_close(f->s);
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
	relay_store_close(f->s);
	f->s = NULL;
	assert_int_equal(relay_store_open_sqlite(f->path, &f->s), SB_OK);
	s = f->s;
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
	/* Append-only, for anyone writing through SQLite with the triggers. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM log WHERE idx=1", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE log SET seq=9", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_relay_store_enroll_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_batch_queue_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_expire_and_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_blobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_admin_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_durable_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_store_log_backfill, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
