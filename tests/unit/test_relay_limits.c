/*
 * test_relay_limits.c - the relay's defences of issue 12: the device-name
 * check REGISTER applies (proto_device_name_valid), the per-device token
 * buckets (relay/ratelimit.c), the store's per-account usage that quotas
 * are held against, and relay.conf's quota keys (written by init, absent
 * from an older file).
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
#include "proto/proto.h"
#include "relay/relay.h"
#include "relay/store.h"

static int
name_ok(const char *s)
{
	return proto_device_name_valid((const uint8_t *)s, strlen(s)) == SB_OK;
}

static void
test_relay_limits_device_names(void **state)
{
	static const char *bad[] = {
		"phone\xe2\x80\xaegnp.exe",    /* U+202E RLO */
		"a\xe2\x80\xad" "b",           /* U+202D LRO */
		"a\xe2\x80\x8b" "b",           /* U+200B zero width space */
		"a\xe2\x80\x8f" "b",           /* U+200F RLM */
		"a\xe2\x81\xa6" "b",           /* U+2066 LRI */
		"a\xe2\x81\xa9" "b",           /* U+2069 PDI */
		"\xef\xbb\xbflaptop",          /* U+FEFF BOM */
		"a\xc2\x85" "b",               /* U+0085 NEL (C1) */
		"a\xc2\x9b" "b",               /* U+009B CSI (C1) */
		"a\xc2\xad" "b",               /* U+00AD soft hyphen */
		"a\tb", "a\x1b[31mb", "a\x7f",  /* C0, ESC, DEL */
		"a\xff" "b",                   /* never UTF-8 */
		"caf\xc3",                     /* truncated sequence */
		"a\xc0\xaf" "b",               /* overlong '/' */
		"a\xe0\x80\xaf" "b",           /* overlong, 3 bytes */
		"a\xed\xa0\x80" "b",           /* surrogate U+D800 */
		"a\xf4\x90\x80\x80" "b",       /* above U+10FFFF */
		"a\xf3\xa0\x81\x81" "b",       /* U+E0041 tag */
		"a\xef\xbf\xbe" "b",           /* U+FFFE noncharacter */
		"",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(name_ok(bad[i]));
	assert_true(name_ok("laptop"));
	assert_true(name_ok("Jos\xc3\xa9's \xf0\x9f\x93\xb1"));       /* é, U+1F4F1 */
	assert_true(name_ok("\xe6\x9d\xb1\xe4\xba\xac"));             /* CJK */
	assert_true(name_ok("a\xe2\x80\x90" "b"));                    /* U+2010 hyphen is fine */
	/* 64 bytes pass, 65 do not; NUL never */
	assert_int_equal(proto_device_name_valid((const uint8_t *)
	    "0123456789012345678901234567890123456789012345678901234567890123", 64), SB_OK);
	assert_int_equal(proto_device_name_valid((const uint8_t *)
	    "01234567890123456789012345678901234567890123456789012345678901234", 65),
	    SB_ERR_INVALID_ARG);
	assert_int_equal(proto_device_name_valid((const uint8_t *)"a\0b", 3), SB_ERR_INVALID_ARG);
}

static void
test_relay_limits_token_buckets(void **state)
{
	struct relay_rates *r = NULL;
	int i;

	(void)state;
	assert_int_equal(relay_rates_new(&r), SB_OK);
	/* burst 5 at 1/s: five pass at once, the sixth is refused */
	for (i = 0; i < 5; i++)
		assert_int_equal(relay_rate_take(r, 7, RELAY_RATE_SEND, 1, 1, 5, 100.0), SB_OK);
	assert_int_equal(relay_rate_take(r, 7, RELAY_RATE_SEND, 1, 1, 5, 100.0), SB_ERR_RATE_LIMIT);
	/* kinds and devices are separate buckets */
	assert_int_equal(relay_rate_take(r, 7, RELAY_RATE_LOOKUP, 1, 1, 5, 100.0), SB_OK);
	assert_int_equal(relay_rate_take(r, 8, RELAY_RATE_SEND, 1, 1, 5, 100.0), SB_OK);
	/* refills at the rate, never above the burst */
	assert_int_equal(relay_rate_take(r, 7, RELAY_RATE_SEND, 1, 1, 5, 101.0), SB_OK);
	assert_int_equal(relay_rate_take(r, 7, RELAY_RATE_SEND, 1, 1, 5, 101.0), SB_ERR_RATE_LIMIT);
	for (i = 0; i < 5; i++)
		assert_int_equal(relay_rate_take(r, 7, RELAY_RATE_SEND, 1, 1, 5, 1000.0), SB_OK);
	assert_int_equal(relay_rate_take(r, 7, RELAY_RATE_SEND, 1, 1, 5, 1000.0), SB_ERR_RATE_LIMIT);
	/* a cost above the burst takes the whole (full) bucket */
	assert_int_equal(relay_rate_take(r, 9, RELAY_RATE_LOOKUP, 32, 1, 5, 0.0), SB_OK);
	assert_int_equal(relay_rate_take(r, 9, RELAY_RATE_LOOKUP, 1, 1, 5, 0.0), SB_ERR_RATE_LIMIT);
	/* pruning forgets only refilled devices: 9 (empty at t=0) stays
	 * empty when pruned at t=1 with a 5 s refill */
	relay_rates_prune(r, 1.0, 5.0);
	assert_int_equal(relay_rate_take(r, 9, RELAY_RATE_LOOKUP, 2, 1, 5, 1.0), SB_ERR_RATE_LIMIT);
	relay_rates_prune(r, 2000.0, 5.0);
	assert_int_equal(relay_rate_take(r, 7, RELAY_RATE_SEND, 5, 1, 5, 2000.0), SB_OK);
	assert_int_equal(relay_rate_take(r, 7, 5, 1, 1, 5, 0.0), SB_ERR_INVALID_ARG);
	relay_rates_free(r);
	relay_rates_free(NULL);
}

static void
test_relay_limits_store_usage(void **state)
{
	char dir[] = "/tmp/sealbox-limits.XXXXXX", path[96];
	static const uint8_t ca[RELAY_CODE_HASH_LEN] = { 1 }, cb[RELAY_CODE_HASH_LEN] = { 2 };
	uint8_t m1[PROTO_MSGID_LEN] = { 1 }, m2[PROTO_MSGID_LEN] = { 2 };
	struct relay_store *s;
	uint64_t a = 0, b = 0, items, bytes, blobs, n;
	struct relay_batch_entry e[1];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/relay.db", dir);
	assert_int_equal(relay_store_open_sqlite(path, &s), SB_OK);
	assert_int_equal(s->ops->invite_add(s, "alice@example.com", ca, 1000), SB_OK);
	assert_int_equal(s->ops->enroll(s, "alice@example.com", ca, 0, "a", 2,
	    (const uint8_t *)"i", 1, 1000, &a), SB_OK);
	assert_int_equal(s->ops->invite_add(s, "bob@example.com", cb, 1000), SB_OK);
	assert_int_equal(s->ops->enroll(s, "bob@example.com", cb, 0, "b", 2,
	    (const uint8_t *)"i", 1, 1000, &b), SB_OK);
	e[0].device_id = b;
	e[0].payload = (const uint8_t *)"0123456789";
	e[0].payload_len = 10;
	assert_int_equal(s->ops->batch_commit(s, m1, "alice@example.com", a, 1000, e, 1), SB_OK);
	e[0].payload_len = 4;
	assert_int_equal(s->ops->batch_commit(s, m2, "alice@example.com", a, 1000, e, 1), SB_OK);
	assert_int_equal(s->ops->blob_add(s, "sbblob:x", 100000, a, 1000), SB_OK);
	assert_int_equal(s->ops->blob_add(s, "sbblob:y", 7, b, 1000), SB_OK);

	/* alice is charged for what she sent and uploaded; bob, the
	 * recipient, only for his blob, charged as one 64 KiB chunk */
	assert_int_equal(s->ops->usage(s, "alice@example.com", &items, &bytes, &blobs), SB_OK);
	assert_true(items == 2 && bytes == 14 && blobs == 100000);
	assert_int_equal(s->ops->usage(s, "bob@example.com", &items, &bytes, &blobs), SB_OK);
	assert_true(items == 0 && bytes == 0 && blobs == 65536);
	assert_int_equal(s->ops->queue_count(s, b, &n), SB_OK);
	assert_true(n == 2);
	/* an acknowledgement gives the quota back */
	{
		struct relay_item it;

		assert_int_equal(s->ops->queue_next(s, b, 0, 0, &it), SB_OK);
		assert_int_equal(s->ops->queue_ack(s, b, it.id), SB_OK);
		relay_item_clear(&it);
	}
	assert_int_equal(s->ops->usage(s, "alice@example.com", &items, &bytes, &blobs), SB_OK);
	assert_true(items == 1 && bytes == 4);
	assert_int_equal(s->ops->queue_count(s, b, &n), SB_OK);
	assert_true(n == 1);
	/* removing the recipient refunds the sender (triggers, same commit) */
	assert_int_equal(s->ops->device_remove(s, b, NULL, 1000), SB_OK);
	assert_int_equal(s->ops->usage(s, "alice@example.com", &items, &bytes, &blobs), SB_OK);
	assert_true(items == 0 && bytes == 0);
	assert_int_equal(s->ops->batch_commit(s, m1, "alice@example.com", a + 100, 1000, e, 1),
	    SB_OK);
	relay_store_close(s);
	/* a database from before the counters: filled from the rows at open */
	{
		sqlite3 *db;

		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "DELETE FROM sender_usage; DELETE FROM"
		    " device_usage; DELETE FROM blob_usage;", NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
	}
	assert_int_equal(relay_store_open_sqlite(path, &s), SB_OK);
	assert_int_equal(s->ops->usage(s, "alice@example.com", &items, &bytes, &blobs), SB_OK);
	assert_true(items == 1 && bytes == 4 && blobs == 100000);
	relay_store_close(s);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

static void
test_relay_limits_config(void **state)
{
	char dir[] = "/tmp/sealbox-conf.XXXXXX", path[96];
	struct relay_config c, l;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	relay_config_defaults(&c);
	c.quota_queue_items = 7;
	c.lookup_burst = 3;
	assert_int_equal(relay_config_save(dir, &c), SB_OK);
	assert_int_equal(relay_config_load(dir, &l), SB_OK);
	assert_true(l.quota_queue_items == 7 && l.lookup_burst == 3);
	assert_true(l.quota_blob_bytes == RELAY_DEFAULT_BLOB_QUOTA);
	/* a relay.conf from before the quota keys: defaults */
	snprintf(path, sizeof(path), "%s/relay.conf", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("listen = 127.0.0.1:7443\ninline_limit = 4096\nretention_days = 30\n"
	    "blob_max = 4294967296\n", f);
	fclose(f);
	assert_int_equal(relay_config_load(dir, &l), SB_OK);
	assert_true(l.quota_queue_items == RELAY_DEFAULT_Q_ITEMS);
	assert_true(l.send_rate == RELAY_DEFAULT_SEND_RATE);
	assert_true(l.max_unauth == RELAY_DEFAULT_MAX_UNAUTH);
	/* zero or junk is refused, not taken as "no limit" */
	assert_non_null(f = fopen(path, "a"));
	fputs("send_rate = 0\n", f);
	fclose(f);
	assert_int_equal(relay_config_load(dir, &l), SB_ERR_CONFIG);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_limits_device_names),
		cmocka_unit_test(test_relay_limits_token_buckets),
		cmocka_unit_test(test_relay_limits_store_usage),
		cmocka_unit_test(test_relay_limits_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
