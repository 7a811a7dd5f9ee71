/*
 * test_trust.c - the pure trust rules (agent/trust_rules.c): what a change
 * of the directory's answer is, the alert line, the folder xattr, the held
 * status and the verification code's comparison; and the store half
 * (agent/trust.c) on a real SQLite file: pins, alerts, verified contacts,
 * held sends, our own account, refused devices, the log head.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <unistd.h>

#include "agent/names.h"
#include "agent/store.h"
#include "agent/trust.h"
#include "common/sberr.h"
#include "common/wire.h"

static struct trust_dev
dev(uint64_t id, uint8_t fill)
{
	struct trust_dev d;

	d.id = id;
	memset(d.hash, fill, sizeof(d.hash));
	return d;
}

static void
test_trust_event_names(void **state)
{
	(void)state;
	for (int ev = TRUST_EV_CHANGED; ev <= TRUST_EV_INTEGRITY; ev++) {
		const char *n = trust_event_name((enum trust_event)ev);
		assert_non_null(n);
		assert_int_equal(trust_event_parse(n), ev);
	}
	assert_null(trust_event_name(0));
	assert_null(trust_event_name(99));
	assert_int_equal(trust_event_parse("nonsense"), 0);
	assert_int_equal(trust_event_parse(NULL), 0);
	assert_string_equal(trust_event_name(TRUST_EV_CHANGED), "changed");
}

static void
test_trust_fingerprint(void **state)
{
	uint8_t h[CRYPTO_HASH_LEN];
	char fp[TRUST_FP_BUF];

	(void)state;
	for (int i = 0; i < CRYPTO_HASH_LEN; i++)
		h[i] = (uint8_t)(i * 17);
	trust_fingerprint(h, fp);
	assert_string_equal(fp, "00112233445566778899aabbccddeeff");
	trust_fingerprint(NULL, fp);
	assert_string_equal(fp, "-");
}

static void
test_trust_diff_none_pinned_and_same(void **state)
{
	struct trust_dev now[2] = { dev(5, 1), dev(3, 2) };
	struct trust_dev same[2] = { dev(3, 2), dev(5, 1) };
	struct trust_change ch[8];
	size_t n = 99;

	(void)state;
	/* Nothing pinned: everything is new (the caller knows whether the
	 * address is, and then pins without alerts). */
	assert_int_equal(trust_diff(NULL, 0, now, 2, ch, 8, &n), SB_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ch[0].event, TRUST_EV_ADDED);
	assert_int_equal(ch[0].device_id, 3);
	assert_int_equal(ch[1].device_id, 5);
	/* Order does not matter, only ids and hashes. */
	assert_int_equal(trust_diff(same, 2, now, 2, ch, 8, &n), SB_OK);
	assert_int_equal(n, 0);
}

static void
test_trust_diff_changes(void **state)
{
	struct trust_dev pinned[3] = { dev(7, 0xaa), dev(2, 0xbb), dev(4, 0xcc) };
	struct trust_dev now[3] = { dev(9, 0xdd), dev(4, 0xee), dev(7, 0xaa) };
	struct trust_change ch[8];
	size_t n = 0;

	(void)state;
	assert_int_equal(trust_diff(pinned, 3, now, 3, ch, 8, &n), SB_OK);
	assert_int_equal(n, 3);
	/* In device-id order: 2 removed, 4 changed, 9 added. */
	assert_int_equal(ch[0].event, TRUST_EV_REMOVED);
	assert_int_equal(ch[0].device_id, 2);
	assert_true(ch[0].has_old);
	assert_false(ch[0].has_new);
	assert_int_equal(ch[0].old_hash[0], 0xbb);
	assert_int_equal(ch[1].event, TRUST_EV_CHANGED);
	assert_int_equal(ch[1].device_id, 4);
	assert_true(ch[1].has_old && ch[1].has_new);
	assert_int_equal(ch[1].old_hash[31], 0xcc);
	assert_int_equal(ch[1].new_hash[31], 0xee);
	assert_int_equal(ch[2].event, TRUST_EV_ADDED);
	assert_int_equal(ch[2].device_id, 9);
	assert_false(ch[2].has_old);
	assert_int_equal(ch[2].new_hash[0], 0xdd);

	/* Everything removed: the directory lists no device any more. */
	assert_int_equal(trust_diff(pinned, 3, NULL, 0, ch, 8, &n), SB_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ch[i].event, TRUST_EV_REMOVED);
}

static void
test_trust_diff_limits(void **state)
{
	struct trust_dev dup[2] = { dev(1, 1), dev(1, 2) };
	struct trust_dev one[1] = { dev(1, 1) };
	struct trust_dev many[TRUST_MAX_DEVICES + 1];
	struct trust_dev three[3] = { dev(2, 1), dev(3, 1), dev(4, 1) };
	struct trust_change ch[2];
	size_t n = 7;

	(void)state;
	assert_int_equal(trust_diff(dup, 2, one, 1, ch, 2, &n), SB_ERR_INVALID_ARG);
	assert_int_equal(n, 0);
	assert_int_equal(trust_diff(one, 1, dup, 2, ch, 2, &n), SB_ERR_INVALID_ARG);
	for (size_t i = 0; i < TRUST_MAX_DEVICES + 1; i++)
		many[i] = dev(i + 1, 1);
	assert_int_equal(trust_diff(one, 1, many, TRUST_MAX_DEVICES + 1, ch, 2, &n),
	    SB_ERR_TOO_BIG);
	/* 1 removed + 3 added = 4 changes, room for 2: refused whole. */
	assert_int_equal(trust_diff(one, 1, three, 3, ch, 2, &n), SB_ERR_TOO_BIG);
	assert_int_equal(n, 0);
}

static void
test_trust_set(void **state)
{
	uint8_t h[5][CRYPTO_HASH_LEN], g[2][CRYPTO_HASH_LEN];
	size_t n;

	(void)state;
	memset(h[0], 9, CRYPTO_HASH_LEN);
	memset(h[1], 3, CRYPTO_HASH_LEN);
	memset(h[2], 9, CRYPTO_HASH_LEN);
	memset(h[3], 5, CRYPTO_HASH_LEN);
	memset(h[4], 3, CRYPTO_HASH_LEN);
	n = trust_set_normalize(h, 5);
	assert_int_equal(n, 3);
	assert_int_equal(h[0][0], 3);
	assert_int_equal(h[1][0], 5);
	assert_int_equal(h[2][0], 9);
	assert_int_equal(trust_set_normalize(h, 0), 0);
	memset(g[0], 3, CRYPTO_HASH_LEN);
	memset(g[1], 5, CRYPTO_HASH_LEN);
	assert_true(trust_set_equal(h, 2 * CRYPTO_HASH_LEN, g, 2 * CRYPTO_HASH_LEN));
	assert_false(trust_set_equal(h, 3 * CRYPTO_HASH_LEN, g, 2 * CRYPTO_HASH_LEN));
	g[1][31] = 6;
	assert_false(trust_set_equal(h, 2 * CRYPTO_HASH_LEN, g, 2 * CRYPTO_HASH_LEN));
	assert_true(trust_set_equal(NULL, 0, NULL, 0));
}

static void
test_trust_alert_line(void **state)
{
	uint8_t o[CRYPTO_HASH_LEN], nw[CRYPTO_HASH_LEN];
	char line[TRUST_LINE_BUF];
	struct trust_alert al = {
		.time = 1796403781,   /* 2026-12-04T17:03:01Z */
		.address = "bob@example.com",
		.event = TRUST_EV_CHANGED,
		.n = 7,
		.old_hash = o,
		.new_hash = nw,
	};

	(void)state;
	memset(o, 0x0a, sizeof(o));
	memset(nw, 0xb1, sizeof(nw));
	assert_int_equal(trust_alert_line(&al, 1, line, sizeof(line)), SB_OK);
	assert_string_equal(line, "2026-12-04T17:03:01Z bob@example.com device 7 changed"
	    " 0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a -> b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1");
	assert_int_equal(trust_alert_line(&al, 0, line, sizeof(line)), SB_OK);
	assert_string_equal(line, "bob@example.com device 7 changed"
	    " 0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a -> b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1");

	al.event = TRUST_EV_ADDED;
	al.old_hash = NULL;
	al.n = 12;
	assert_int_equal(trust_alert_line(&al, 1, line, sizeof(line)), SB_OK);
	assert_string_equal(line, "2026-12-04T17:03:01Z bob@example.com device 12 added"
	    " - -> b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1");

	al.event = TRUST_EV_FORK;
	al.address = "alice@example.com";
	al.old_hash = o;
	al.n = 40;
	al.time = 0;
	assert_int_equal(trust_alert_line(&al, 1, line, sizeof(line)), SB_OK);
	assert_string_equal(line, "1970-01-01T00:00:00Z alice@example.com log forked at"
	    " size 40 0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a -> b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1");

	al.event = TRUST_EV_PROOF;
	al.address = "bob@example.com";
	al.old_hash = al.new_hash = NULL;
	al.n = 0;
	assert_int_equal(trust_alert_line(&al, 1, line, sizeof(line)), SB_OK);
	assert_string_equal(line, "1970-01-01T00:00:00Z bob@example.com log proof failed:"
	    " directory answer not used - -> -");
	al.event = TRUST_EV_FORK;
	al.old_hash = o;
	al.new_hash = nw;

	/* Too small: nothing half-written. */
	assert_int_equal(trust_alert_line(&al, 1, line, 30), SB_ERR_LENGTH);
	assert_string_equal(line, "");
	al.event = 0;
	assert_int_equal(trust_alert_line(&al, 1, line, sizeof(line)), SB_ERR_INVALID_ARG);
}

static void
test_trust_folder_text(void **state)
{
	struct trust_addr_state st[3];
	char t[TRUST_LINE_BUF + 32];

	(void)state;
	memset(st, 0, sizeof(st));
	trust_folder_text(st, 1, t, sizeof(t));
	assert_string_equal(t, "unverified");
	st[0].verified = 1;
	trust_folder_text(st, 1, t, sizeof(t));
	assert_string_equal(t, "verified");
	/* A group is verified only when every member is. */
	trust_folder_text(st, 2, t, sizeof(t));
	assert_string_equal(t, "unverified");
	st[1].verified = 1;
	trust_folder_text(st, 2, t, sizeof(t));
	assert_string_equal(t, "verified");
	/* An open alert wins over verified. */
	st[1].open = 1;
	st[1].newest = "bob@example.com device 7 changed 0a -> b1";
	trust_folder_text(st, 2, t, sizeof(t));
	assert_string_equal(t, "changed: bob@example.com device 7 changed 0a -> b1");
	st[2].open = 2;
	st[2].newest = "carol@example.com device 3 added - -> cc";
	trust_folder_text(st, 3, t, sizeof(t));
	assert_string_equal(t, "changed: carol@example.com device 3 added - -> cc (+2 more)");
	trust_folder_text(st, 0, t, sizeof(t));
	assert_string_equal(t, "unverified");
}

static void
test_trust_held_text(void **state)
{
	char t[TRUST_LINE_BUF];

	(void)state;
	trust_held_text("bob@example.com", t, sizeof(t));
	assert_string_equal(t, "held: bob@example.com's devices changed; compare codes again");
}

static void
test_trust_code_check(void **state)
{
	const char *code =
	    "12345 67890 11111 22222\n33333 44444 55555 66666\n77777 88888 99999 00000";
	char other[128];

	(void)state;
	assert_int_equal(trust_code_check(code, code), SB_OK);
	/* As people type it: one line, dashes, tabs, a trailing newline. */
	assert_int_equal(trust_code_check("123456789011111222223333344444555556666677777"
	    "888889999900000", code), SB_OK);
	assert_int_equal(trust_code_check("12345-67890-11111-22222\t33333 44444 55555 66666"
	    " 77777 88888 99999 00000\n", code), SB_OK);
	/* One digit off anywhere: a mismatch. */
	for (size_t i = 0; i < strlen(code); i++) {
		if (code[i] < '0' || code[i] > '9')
			continue;
		snprintf(other, sizeof(other), "%s", code);
		other[i] = other[i] == '9' ? '0' : (char)(other[i] + 1);
		assert_int_equal(trust_code_check(other, code), SB_ERR_TAG);
	}
	/* The wrong shape: 59 or 61 digits, letters, nothing. */
	assert_int_equal(trust_code_check(code + 1, code), SB_ERR_FORMAT);
	snprintf(other, sizeof(other), "%s1", code);
	assert_int_equal(trust_code_check(other, code), SB_ERR_FORMAT);
	snprintf(other, sizeof(other), "%s", code);
	other[3] = 'a';
	assert_int_equal(trust_code_check(other, code), SB_ERR_FORMAT);
	assert_int_equal(trust_code_check("", code), SB_ERR_FORMAT);
	assert_int_equal(trust_code_check(NULL, code), SB_ERR_INVALID_ARG);
	assert_int_equal(trust_code_check(code, "123"), SB_ERR_INVALID_ARG);
	assert_int_equal(trust_code_shape(code), SB_OK);
	assert_int_equal(trust_code_shape(code + 1), SB_ERR_FORMAT);
	assert_int_equal(trust_code_shape("x"), SB_ERR_FORMAT);
	assert_int_equal(trust_code_shape(NULL), SB_ERR_FORMAT);
}

static void
test_names_utc_text(void **state)
{
	char t[NAMES_UTC_BUF];

	(void)state;
	names_utc_text(0, t);
	assert_string_equal(t, "1970-01-01T00:00:00Z");
	names_utc_text(951782400, t);   /* a leap day */
	assert_string_equal(t, "2000-02-29T00:00:00Z");
	names_utc_text(-5, t);
	assert_string_equal(t, "1970-01-01T00:00:00Z");
	names_utc_text(NAMES_MAX_TIME + 100, t);
	assert_string_equal(t, "9999-12-31T23:59:59Z");
}

/* ---- the store half (agent/trust.c), on a real SQLite file ------------- */

struct fixture {
	char dir[64];
	sqlite3 *db;
	struct sb_buf ids[6];            /* DER identities of 6 devices */
	uint8_t hash[6][CRYPTO_HASH_LEN];
};

static struct fixture fx;

static void
make_identity(int i)
{
	struct crypto_key *s = NULL, *e = NULL;
	struct crypto_identity *id = NULL;
	const uint8_t *der;
	size_t len;

	assert_int_equal(crypto_key_generate_sign(&s), SB_OK);
	assert_int_equal(crypto_key_generate_encrypt(CRYPTO_SUITE_EC, 0, &e), SB_OK);
	assert_int_equal(crypto_identity_from_keys(s, e, &id), SB_OK);
	crypto_identity_der(id, &der, &len);
	assert_int_equal(sb_put_bytes(&fx.ids[i], der, len), SB_OK);
	memcpy(fx.hash[i], crypto_identity_hash(id), CRYPTO_HASH_LEN);
	crypto_identity_free(id);
	crypto_key_free(s);
	crypto_key_free(e);
}

static int
store_setup(void **state)
{
	(void)state;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/test_trust.XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	{
		char path[128];
		uint8_t key[CRYPTO_STORAGE_KEY_LEN];

		memset(key, 0x5b, sizeof(key));
		snprintf(path, sizeof(path), "%s/store.db", fx.dir);
		assert_int_equal(store_open(path, &fx.db), SB_OK);
		assert_int_equal(trust_store_key(fx.db, key), SB_OK);
	}
	for (int i = 0; i < 6; i++)
		if (fx.ids[i].len == 0)
			make_identity(i);
	return 0;
}

static int
store_teardown(void **state)
{
	char path[128];

	(void)state;
	store_close(fx.db);
	fx.db = NULL;
	for (const char *f = "store.db\0store.db-wal\0store.db-shm\0"; *f; f += strlen(f) + 1) {
		snprintf(path, sizeof(path), "%s/%s", fx.dir, f);
		unlink(path);
	}
	rmdir(fx.dir);
	return 0;
}

/* A directory answer: devices ids[k] with identity idx[k]. */
static int
observe(const char *addr, const uint64_t *ids, const int *idx, const int *unapproved,
    size_t n, enum trust_mode mode, int *verdict)
{
	struct trust_seen seen[8];

	for (size_t k = 0; k < n; k++) {
		seen[k].id = ids[k];
		seen[k].identity = fx.ids[idx[k]].d;
		seen[k].identity_len = fx.ids[idx[k]].len;
		seen[k].unapproved = unapproved ? unapproved[k] : 0;
		seen[k].approver = 0;
		seen[k].changed = unapproved ? unapproved[k] == 2 : 0;
		if (seen[k].changed)
			seen[k].unapproved = 0;
	}
	return trust_observe(fx.db, addr, seen, n, NULL, 0, mode, 1796403781, verdict, NULL);
}

static char *
alerts(int open_only)
{
	static char text[4096];
	struct sb_buf b = SB_BUF_INIT;

	assert_int_equal(trust_alerts_text(fx.db, open_only, NULL, &b), SB_OK);
	assert_true(b.len < sizeof(text));
	memcpy(text, b.d ? (const char *)b.d : "", b.len);
	text[b.len] = '\0';
	sb_buf_free(&b);
	return text;
}

static size_t
lines(const char *t)
{
	size_t n = 0;

	for (; *t; t++)
		n += *t == '\n';
	return n;
}

/* The pinned identity of (addr, id) is identity idx (or refused, or none). */
static void
assert_pin(const char *addr, uint64_t id, int idx)
{
	struct crypto_identity *got = NULL;
	int rc = trust_pin_get(fx.db, addr, id, &got);

	if (idx < 0) {
		assert_int_equal(rc, idx == -1 ? SB_ERR_NOT_FOUND : SB_ERR_PERMISSION);
		return;
	}
	assert_int_equal(rc, SB_OK);
	assert_memory_equal(crypto_identity_hash(got), fx.hash[idx], CRYPTO_HASH_LEN);
	crypto_identity_free(got);
}

static void
test_trust_store_pins(void **state)
{
	const char *bob = "bob@example.com";
	uint64_t ids[3] = { 7, 8, 9 };
	int idx[3] = { 0, 1, 2 }, v = -1;
	char fp0[TRUST_FP_BUF], fp1[TRUST_FP_BUF], fp3[TRUST_FP_BUF], want[512];

	(void)state;
	trust_fingerprint(fx.hash[0], fp0);
	trust_fingerprint(fx.hash[1], fp1);
	trust_fingerprint(fx.hash[3], fp3);
	/* First contact: pinned, silently. */
	assert_int_equal(observe(bob, ids, idx, NULL, 2, TRUST_OBSERVE, &v), SB_OK);
	assert_int_equal(v, TRUST_SEND);
	assert_string_equal(alerts(0), "");
	assert_pin(bob, 7, 0);
	assert_pin(bob, 8, 1);
	/* The same answer again: nothing. */
	assert_int_equal(observe(bob, ids, idx, NULL, 2, TRUST_OBSERVE, &v), SB_OK);
	assert_string_equal(alerts(0), "");
	/* Device 7 with another identity: an alert, the pin stays; twice is
	 * one alert. */
	idx[0] = 3;
	assert_int_equal(observe(bob, ids, idx, NULL, 2, TRUST_OBSERVE, &v), SB_OK);
	assert_int_equal(observe(bob, ids, idx, NULL, 2, TRUST_OBSERVE, &v), SB_OK);
	snprintf(want, sizeof(want), "2026-12-04T17:03:01Z bob@example.com device 7 changed"
	    " %s -> %s\n", fp0, fp3);
	assert_string_equal(alerts(1), want);
	assert_pin(bob, 7, 0);
	/* Device 8 gone, 9 new. */
	ids[1] = 9;
	idx[1] = 2;
	assert_int_equal(observe(bob, ids, idx, NULL, 2, TRUST_OBSERVE, &v), SB_OK);
	assert_int_equal(lines(alerts(1)), 3);
	assert_pin(bob, 8, -1);
	assert_pin(bob, 9, 2);
	assert_non_null(strstr(alerts(1), "bob@example.com device 8 removed"));
	snprintf(want, sizeof(want), "device 8 removed %s -> -\n", fp1);
	assert_non_null(strstr(alerts(1), want));
	assert_non_null(strstr(alerts(1), "bob@example.com device 9 added - -> "));
	/* Accept: pins what is listed now, closes the alerts, unverified. */
	assert_int_equal(observe(bob, ids, idx, NULL, 2, TRUST_ACCEPT, &v), SB_OK);
	assert_string_equal(alerts(1), "");
	assert_int_equal(lines(alerts(0)), 3);
	assert_pin(bob, 7, 3);
}

static void
test_trust_store_verified_and_held(void **state)
{
	const char *bob = "bob@example.com", *carol = "carol@example.com";
	const char *to[2] = { carol, bob }, *which = NULL;
	uint64_t ids[2] = { 7, 8 };
	int idx[2] = { 0, 1 }, v = -1;
	char t[TRUST_LINE_BUF + 32];

	(void)state;
	assert_int_equal(observe(bob, ids, idx, NULL, 1, TRUST_OBSERVE, &v), SB_OK);
	assert_int_equal(trust_held(fx.db, to, 2, &which), SB_OK);
	assert_int_equal(trust_folder_state(fx.db, to + 1, 1, t, sizeof(t)), SB_OK);
	assert_string_equal(t, "unverified");
	assert_int_equal(observe(bob, ids, idx, NULL, 1, TRUST_CONFIRM, &v), SB_OK);
	assert_int_equal(trust_folder_state(fx.db, to + 1, 1, t, sizeof(t)), SB_OK);
	assert_string_equal(t, "verified");
	/* A group is verified only when every member is. */
	assert_int_equal(trust_folder_state(fx.db, to, 2, t, sizeof(t)), SB_OK);
	assert_string_equal(t, "unverified");
	/* A new device of a verified contact holds sends to it. */
	assert_int_equal(observe(bob, ids, idx, NULL, 2, TRUST_OBSERVE, &v), SB_OK);
	assert_int_equal(v, TRUST_HOLD);
	assert_int_equal(trust_held(fx.db, to, 2, &which), SB_ERR_HELD);
	assert_string_equal(which, bob);
	assert_int_equal(trust_folder_state(fx.db, to + 1, 1, t, sizeof(t)), SB_OK);
	assert_non_null(strstr(t, "changed: bob@example.com device 8 added - -> "));
	/* Confirmed again: released, verified. */
	assert_int_equal(observe(bob, ids, idx, NULL, 2, TRUST_CONFIRM, &v), SB_OK);
	assert_int_equal(v, TRUST_SEND);
	assert_int_equal(trust_held(fx.db, to, 2, &which), SB_OK);
	/* A changed identity of a verified contact holds too, and accept
	 * releases it and leaves it unverified. */
	idx[0] = 4;
	assert_int_equal(observe(bob, ids, idx, NULL, 2, TRUST_OBSERVE, &v), SB_OK);
	assert_int_equal(v, TRUST_HOLD);
	assert_int_equal(observe(bob, ids, idx, NULL, 2, TRUST_ACCEPT, &v), SB_OK);
	assert_int_equal(v, TRUST_SEND);
	assert_int_equal(trust_folder_state(fx.db, to + 1, 1, t, sizeof(t)), SB_OK);
	assert_string_equal(t, "unverified");
}

static void
test_trust_store_own_account(void **state)
{
	const char *me = "alice@example.com";
	uint64_t ids[4] = { 1, 2, 3, 4 };
	int idx[4] = { 0, 1, 2, 3 }, un[4] = { 0, 0, 0, 1 }, gone = 0;

	(void)state;
	/* init: the account as found, then marked ours. */
	assert_int_equal(observe(me, ids, idx, NULL, 1, TRUST_ACCEPT, NULL), SB_OK);
	assert_int_equal(trust_self_set(fx.db, me, 1), SB_OK);
	assert_string_equal(alerts(0), "");
	/* Device 2 approved by us: a closed line; device 3 not: open. */
	assert_int_equal(trust_approve(fx.db, me, 2, fx.hash[1], 1), SB_OK);
	assert_int_equal(observe(me, ids, idx, NULL, 3, TRUST_OBSERVE, NULL), SB_OK);
	assert_int_equal(lines(alerts(0)), 2);
	assert_int_equal(lines(alerts(1)), 1);
	assert_non_null(strstr(alerts(1), "alice@example.com device 3 added without"
	    " this device's approval - -> "));
	/* Device 4, which the log shows nobody approved: refused. */
	assert_int_equal(observe(me, ids, idx, un, 4, TRUST_OBSERVE, NULL), SB_OK);
	assert_non_null(strstr(alerts(1), "device 4 not approved by any device of its"
	    " account: refused - -> "));
	assert_pin(me, 4, -2);
	/* We remove device 3: a closed line, and a stale answer naming it
	 * again is no news. */
	assert_int_equal(trust_unpin(fx.db, me, 3, 2), SB_OK);
	assert_int_equal(trust_is_removed(fx.db, me, 3, &gone), SB_OK);
	assert_true(gone);
	assert_int_equal(observe(me, ids, idx, un, 4, TRUST_OBSERVE, NULL), SB_OK);
	assert_pin(me, 3, -1);
	assert_int_equal(lines(alerts(1)), 2);
	assert_null(strstr(alerts(1), "device 3 removed"));
	assert_non_null(strstr(alerts(0), "device 3 removed"));
	/* The relay drops device 2 (we did not): open. */
	ids[1] = 4;
	idx[1] = 3;
	un[1] = 1;
	assert_int_equal(observe(me, ids, idx, un, 2, TRUST_OBSERVE, NULL), SB_OK);
	assert_non_null(strstr(alerts(1), "device 2 removed"));
}

static void
test_trust_store_unapproved_first_contact_and_log_head(void **state)
{
	const char *bob = "bob@example.com";
	uint64_t ids[2] = { 7, 8 };
	int idx[2] = { 0, 1 }, un[2] = { 0, 1 };
	struct sb_buf h = SB_BUF_INIT;
	uint8_t head[TRUST_MAX_HEAD + 1];

	(void)state;
	assert_int_equal(observe(bob, ids, idx, un, 2, TRUST_OBSERVE, NULL), SB_OK);
	assert_int_equal(lines(alerts(1)), 1);
	assert_non_null(strstr(alerts(1), "bob@example.com device 8 not approved"));
	assert_pin(bob, 7, 0);
	assert_pin(bob, 8, -2);
	/* The user accepts it: usable. */
	assert_int_equal(observe(bob, ids, idx, un, 2, TRUST_ACCEPT, NULL), SB_OK);
	assert_pin(bob, 8, 1);
	/* First contact with a device the log shows changed (un 2): an alert
	 * without an old fingerprint, pinned as it is. */
	{
		const char *carol = "carol@example.com";
		uint64_t cid[1] = { 11 };
		int cidx[1] = { 2 }, cun[1] = { 2 };

		assert_int_equal(observe(carol, cid, cidx, cun, 1, TRUST_OBSERVE, NULL), SB_OK);
		assert_non_null(strstr(alerts(1), "carol@example.com device 11 changed - -> "));
		assert_pin(carol, 11, 2);
	}

	memset(head, 0x11, sizeof(head));
	assert_int_equal(trust_log_head_get(fx.db, &h), SB_ERR_NOT_FOUND);
	assert_int_equal(trust_log_head_put(fx.db, head, 120, 10, 1), SB_OK);
	head[0] = 0x22;
	assert_int_equal(trust_log_head_put(fx.db, head, 121, 9, 2), SB_OK);   /* older: kept out */
	assert_int_equal(trust_log_head_get(fx.db, &h), SB_OK);
	assert_int_equal(h.len, 120);
	assert_int_equal(h.d[0], 0x11);
	sb_buf_free(&h);
	assert_int_equal(trust_log_head_put(fx.db, head, 121, 12, 3), SB_OK);
	assert_int_equal(trust_log_head_get(fx.db, &h), SB_OK);
	assert_int_equal(h.len, 121);
	sb_buf_free(&h);
	assert_int_equal(trust_log_head_put(fx.db, head, TRUST_MAX_HEAD + 1, 13, 4),
	    SB_ERR_LENGTH);
	assert_int_equal(trust_log_head_put(fx.db, head, 0, 13, 4), SB_ERR_LENGTH);
}

/* A home from before sealing (trust schema 3, plain rows) is converted at
 * the first open with the key: the pin, the verified state and the log
 * head still read, and the plain hash is nowhere in the file. */
static void
test_trust_store_converts_plain_rows(void **state)
{
	static const char *const v3 =
	    "CREATE TABLE trust_pins(address TEXT NOT NULL, device_id INTEGER NOT NULL,"
	    " identity BLOB NOT NULL, hash BLOB NOT NULL, pinned INTEGER NOT NULL,"
	    " refused INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(address, device_id));"
	    "CREATE TABLE trust_alerts(id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
	    " address TEXT NOT NULL, event INTEGER NOT NULL, n INTEGER NOT NULL,"
	    " old_hash BLOB, new_hash BLOB, closed INTEGER NOT NULL DEFAULT 0);"
	    "CREATE INDEX trust_alerts_open ON trust_alerts(address, closed);"
	    "CREATE TABLE trust_contacts(address TEXT PRIMARY KEY, verified_set BLOB,"
	    " verified_at INTEGER NOT NULL, self INTEGER NOT NULL DEFAULT 0);"
	    "CREATE TABLE trust_approvals(address TEXT NOT NULL, device_id INTEGER NOT NULL,"
	    " hash BLOB NOT NULL, approved INTEGER NOT NULL, PRIMARY KEY(address, device_id));"
	    "CREATE TABLE trust_removed(address TEXT NOT NULL, device_id INTEGER NOT NULL,"
	    " removed INTEGER NOT NULL, PRIMARY KEY(address, device_id));"
	    "CREATE TABLE trust_log(id INTEGER PRIMARY KEY CHECK (id = 1), head BLOB NOT NULL,"
	    " size INTEGER NOT NULL, updated INTEGER NOT NULL);"
	    "INSERT INTO store_schema(component, version) VALUES ('trust', 3);";
	const char *to[1] = { "bob@example.com" };
	uint8_t key[CRYPTO_STORAGE_KEY_LEN], head[100];
	struct crypto_identity *got = NULL;
	struct sb_buf h = SB_BUF_INIT;
	sqlite3_stmt *st = NULL;
	char dir[64], path[128], t[TRUST_LINE_BUF];
	FILE *f;

	(void)state;
	memset(key, 0x5b, sizeof(key));
	memset(head, 0x33, sizeof(head));
	snprintf(dir, sizeof(dir), "/tmp/test_trust_v3.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/store.db", dir);
	store_close(fx.db);
	assert_int_equal(store_open(path, &fx.db), SB_OK);
	assert_int_equal(store_exec(fx.db, v3), SB_OK);
	assert_int_equal(sqlite3_prepare_v2(fx.db, "INSERT INTO trust_pins VALUES"
	    " ('bob@example.com', 7, ?1, ?2, 1, 0)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_blob(st, 1, fx.ids[0].d, (int)fx.ids[0].len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, fx.hash[0], CRYPTO_HASH_LEN, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(fx.db, "INSERT INTO trust_contacts VALUES"
	    " ('bob@example.com', ?1, 5, 0)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_blob(st, 1, fx.hash[0], CRYPTO_HASH_LEN, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(fx.db, "INSERT INTO trust_log VALUES"
	    " (1, ?1, 10, 1)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_blob(st, 1, head, sizeof(head), SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	assert_int_equal(store_exec(fx.db, "INSERT INTO trust_alerts(time, address, event,"
	    " n, old_hash, new_hash, closed) VALUES (4, 'bob@example.com', 2, 7, NULL,"
	    " x'00', 5)"), SB_OK);

	/* Locked: nothing converted, nothing answered. */
	assert_int_equal(trust_store_key(fx.db, NULL), SB_OK);
	assert_int_equal(trust_pin_get(fx.db, "bob@example.com", 7, &got), SB_ERR_KEY_MISSING);
	assert_int_equal(trust_store_key(fx.db, key), SB_OK);
	assert_int_equal(trust_pin_get(fx.db, "bob@example.com", 7, &got), SB_OK);
	assert_memory_equal(crypto_identity_hash(got), fx.hash[0], CRYPTO_HASH_LEN);
	crypto_identity_free(got);
	assert_int_equal(trust_folder_state(fx.db, to, 1, t, sizeof(t)), SB_OK);
	assert_string_equal(t, "verified");
	assert_int_equal(trust_log_head_get(fx.db, &h), SB_OK);
	assert_int_equal(h.len, sizeof(head));
	sb_buf_free(&h);
	store_close(fx.db);
	fx.db = NULL;
	/* Nowhere in the file in clear (WAL truncated after converting). */
	assert_non_null(f = fopen(path, "rb"));
	{
		static uint8_t all[1 << 20];
		size_t n = fread(all, 1, sizeof(all), f);

		assert_null(memmem(all, n, fx.hash[0], CRYPTO_HASH_LEN));
		assert_null(memmem(all, n, fx.ids[0].d, fx.ids[0].len));
	}
	fclose(f);
	snprintf(path, sizeof(path), "%s/store.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/store.db-shm", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/store.db", dir);
	unlink(path);
	rmdir(dir);
	/* The teardown closes a db: give it the fixture's again. */
	snprintf(path, sizeof(path), "%s/store.db", fx.dir);
	assert_int_equal(store_open(path, &fx.db), SB_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trust_event_names),
		cmocka_unit_test(test_trust_fingerprint),
		cmocka_unit_test(test_trust_diff_none_pinned_and_same),
		cmocka_unit_test(test_trust_diff_changes),
		cmocka_unit_test(test_trust_diff_limits),
		cmocka_unit_test(test_trust_set),
		cmocka_unit_test(test_trust_alert_line),
		cmocka_unit_test(test_trust_folder_text),
		cmocka_unit_test(test_trust_held_text),
		cmocka_unit_test(test_trust_code_check),
		cmocka_unit_test(test_names_utc_text),
		cmocka_unit_test_setup_teardown(test_trust_store_pins, store_setup,
		    store_teardown),
		cmocka_unit_test_setup_teardown(test_trust_store_verified_and_held,
		    store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_trust_store_own_account, store_setup,
		    store_teardown),
		cmocka_unit_test_setup_teardown(test_trust_store_unapproved_first_contact_and_log_head,
		    store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_trust_store_converts_plain_rows,
		    store_setup, store_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
