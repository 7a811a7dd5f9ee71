/*
 * hostile_log.h - TEST ONLY, included by hostile_relay.c after the genuine
 * SQLite store: the lies a relay can tell about its transparency log
 * (docs/PROTOCOL.md 14), one per run, chosen by
 *
 *   --log-attack MODE:ADDRESS[:FILE]
 *
 *   unsigned-device    at startup, a device of the relay's own making is
 *                      enrolled for ADDRESS as an invitation would (logged,
 *                      no countersignature): honest about the log, so the
 *                      account's devices and its contacts see an
 *                      "unapproved" device
 *   forged-countersig  at startup, the same device logged as countersigned
 *                      by ADDRESS's first device, with a signature that
 *                      device never made
 *   unlogged-device    every answer for ADDRESS lists one more device, with
 *                      keys that are in no log entry
 *   split              a split view: while FILE does not exist, the log has
 *                      one more entry, a device of the relay's for ADDRESS
 *                      (which ADDRESS's answers list); once FILE exists, the
 *                      same position holds an entry of another address and
 *                      ADDRESS looks untouched.  Two logs of one size with
 *                      different roots, each shown to someone
 *   drop               the newest entry of ADDRESS is cut out of the log (the
 *                      entries after it move down one place)
 *
 * Every attack that rewrites history is served as it lies because
 * hostile_relay runs serve with test_log_rebuild (no cached tree).  Each
 * attack logs "hostile: log-attack MODE address=ADDRESS ..." once when it
 * takes effect, so a case can check it happened.
 */
#ifndef SB_HOSTILE_LOG_H
#define SB_HOSTILE_LOG_H

#include <unistd.h>

#include "../../tlog/tlog.h"

enum la_mode { LA_NONE, LA_UNSIGNED, LA_FORGED_SIG, LA_UNLOGGED, LA_SPLIT, LA_DROP };

#define LA_FAKE_DEVICE  ((1ull << 40) + 77)   /* the relay's own device's id */
#define LA_OTHER        "split-filler@example.invalid"

static struct {
	enum la_mode mode;
	char addr[SB_MAX_ADDRESS + 1];
	char file[PATH_MAX];
	uint8_t addr_hash[TLOG_HASH_LEN];
	uint8_t identity[SB_MAX_IDENTITY];    /* the relay's own device's keys */
	size_t identity_len;
	int said;                             /* the log line was written (split: view) */
} LA;

static const char *const la_names[] = {
	"", "unsigned-device", "forged-countersig", "unlogged-device", "split", "drop",
};

static void
la_say(const char *fmt, unsigned long long v)
{
	if (LA.said)
		return;
	LA.said = 1;
	fprintf(stderr, "hostile: log-attack %s address=%s ", la_names[LA.mode], LA.addr);
	fprintf(stderr, fmt, v);
	fprintf(stderr, "\n");
}

/* Parses MODE:ADDRESS[:FILE].  0 ok, -1 bad. */
static int
la_parse(const char *arg)
{
	char buf[PATH_MAX + SB_MAX_ADDRESS + 32], *mode, *addr, *file;
	size_t i;

	snprintf(buf, sizeof(buf), "%s", arg);
	mode = strtok(buf, ":");
	addr = strtok(NULL, ":");
	file = strtok(NULL, "");
	if (mode == NULL || addr == NULL)
		return -1;
	for (i = 1; i < sizeof(la_names) / sizeof(la_names[0]); i++)
		if (strcmp(mode, la_names[i]) == 0)
			LA.mode = (enum la_mode)i;
	if (LA.mode == LA_NONE || (LA.mode == LA_SPLIT) != (file != NULL))
		return -1;
	snprintf(LA.addr, sizeof(LA.addr), "%s", addr);
	if (file != NULL)
		snprintf(LA.file, sizeof(LA.file), "%s", file);
	return tlog_addr_hash(LA.addr, strlen(LA.addr), LA.addr_hash) == SB_OK ? 0 : -1;
}

/* Fresh keys for the relay's own device. */
static int
la_keys(void)
{
	struct crypto_key *s = NULL, *e = NULL;
	struct crypto_identity *id = NULL;
	const uint8_t *der;
	size_t len;
	int rc;

	if ((rc = crypto_key_generate_sign(&s)) == SB_OK &&
	    (rc = crypto_key_generate_encrypt(CRYPTO_SUITE_EC, 0, &e)) == SB_OK &&
	    (rc = crypto_identity_from_keys(s, e, &id)) == SB_OK) {
		crypto_identity_der(id, &der, &len);
		memcpy(LA.identity, der, len);
		LA.identity_len = len;
	}
	crypto_identity_free(id);
	crypto_key_free(s);
	crypto_key_free(e);
	return rc;
}

/* The attacks done once, in the database, when the store opens. */
static int
la_startup(struct relay_store *real)
{
	static const uint8_t code[RELAY_CODE_HASH_LEN] = { 0x4c, 0x41 };
	struct relay_device *devs = NULL;
	struct relay_log_signer by;
	uint8_t junk[70];
	uint64_t id = 0;
	size_t n = 0;
	sqlite3 *db = db_of(real);
	sqlite3_stmt *st;
	int rc;

	if (LA.mode == LA_NONE)
		return SB_OK;
	if ((rc = la_keys()) != SB_OK)
		return rc;
	if (LA.mode == LA_UNSIGNED) {
		/* An invitation of its own, used at once. */
		rc = real->ops->invite_add(real, LA.addr, code, (uint64_t)time(NULL));
		if (rc == SB_OK)
			rc = real->ops->enroll(real, LA.addr, code, 0, "relay's", CRYPTO_SUITE_EC,
			    LA.identity, LA.identity_len, (uint64_t)time(NULL), &id);
		if (rc == SB_OK)
			la_say("device=%llu", (unsigned long long)id);
		return rc;
	}
	if (LA.mode != LA_FORGED_SIG)
		return SB_OK;
	if ((rc = real->ops->devices_of(real, LA.addr, &devs, &n)) != SB_OK || n == 0) {
		free(devs);
		return rc != SB_OK ? rc : SB_ERR_NOT_FOUND;
	}
	/* A DER-shaped signature its claimed signer never made. */
	memset(junk, 0x5a, sizeof(junk));
	junk[0] = 0x30;
	junk[1] = sizeof(junk) - 2;
	by.signer = devs[0].id;
	by.sig = junk;
	by.sig_len = sizeof(junk);
	free(devs);
	if ((rc = begin(db)) != SB_OK)
		return rc;
	if ((rc = prep(db, "INSERT INTO devices(address,name,suite,identity,created)"
	    " VALUES(?,'relay''s',2,?,?)", &st)) == SB_OK) {
		sqlite3_bind_text(st, 1, LA.addr, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, LA.identity, (int)LA.identity_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
		rc = run(st);
	}
	if (rc == SB_OK) {
		id = (uint64_t)sqlite3_last_insert_rowid(db);
		rc = log_append(db, TLOG_ADD, LA.addr, id, LA.identity, LA.identity_len, &by,
		    (uint64_t)time(NULL));
	}
	rc = end(db, rc);
	if (rc == SB_OK)
		fprintf(stderr, "hostile: log-attack forged-countersig address=%s device=%llu"
		    " signer=%llu\n", LA.addr, (unsigned long long)id,
		    (unsigned long long)by.signer);
	LA.said = 1;
	return rc;
}

/* split: which view is served now (1: the one with the relay's device). */
static int
la_view_a(void)
{
	return access(LA.file, F_OK) != 0;
}

/* split: the extra entry at index `at` of the view served now. */
static int
la_split_entry(struct relay_store *real, uint64_t at, struct sb_buf *out)
{
	struct relay_log_entry *v = NULL;
	struct tlog_entry e;
	const char *who = la_view_a() ? LA.addr : LA_OTHER;
	size_t n = 0;
	int rc;

	memset(&e, 0, sizeof(e));
	if ((rc = tlog_addr_hash(who, strlen(who), e.addr)) != SB_OK ||
	    (rc = real->ops->log_entries_of(real, e.addr, &v, &n)) != SB_OK)
		return rc;
	free(v);
	e.kind = TLOG_ADD;
	e.seq = (uint32_t)n;
	e.device = LA_FAKE_DEVICE + (la_view_a() ? 0 : 1);
	e.time = 1796000000ull + at;
	e.identity = LA.identity;
	e.identity_len = LA.identity_len;
	return tlog_entry_encode(&e, out);
}

/* drop: the index of ADDRESS's newest entry (SB_ERR_NOT_FOUND: none). */
static int
la_dropped(struct relay_store *real, uint64_t *at)
{
	struct relay_log_entry *v = NULL;
	size_t n = 0;
	int rc = real->ops->log_entries_of(real, LA.addr_hash, &v, &n);

	if (rc == SB_OK && n == 0)
		rc = SB_ERR_NOT_FOUND;
	if (rc == SB_OK)
		*at = v[n - 1].index;
	free(v);
	return rc;
}

static int
la_log_size(struct relay_store *real, uint64_t *n)
{
	uint64_t at;
	int rc = real->ops->log_size(real, n);

	if (rc != SB_OK)
		return rc;
	if (LA.mode == LA_SPLIT)
		(*n)++;
	else if (LA.mode == LA_DROP && la_dropped(real, &at) == SB_OK)
		(*n)--;
	return SB_OK;
}

static int
la_log_leaves(struct relay_store *real, uint64_t from, uint64_t n, uint8_t (*out)[32])
{
	struct sb_buf b = SB_BUF_INIT;
	uint64_t size = 0, at = 0, i;
	int rc;

	if (LA.mode == LA_SPLIT) {
		if ((rc = real->ops->log_size(real, &size)) != SB_OK)
			return rc;
		for (i = 0; i < n; i++) {
			if (from + i < size) {
				rc = real->ops->log_leaves(real, from + i, 1, &out[i]);
			} else {
				sb_buf_truncate(&b, 0);
				rc = la_split_entry(real, from + i, &b);
				if (rc == SB_OK)
					rc = tlog_leaf_hash(b.d, b.len, out[i]);
				/* One line per view, when it starts being served. */
				if (LA.said != (la_view_a() ? 1 : 2)) {
					fprintf(stderr, "hostile: log-attack split address=%s"
					    " view=%d\n", LA.addr, la_view_a() ? 1 : 2);
					LA.said = la_view_a() ? 1 : 2;
				}
			}
			if (rc != SB_OK)
				break;
		}
		sb_buf_free(&b);
		return rc;
	}
	if (LA.mode != LA_DROP || la_dropped(real, &at) != SB_OK)
		return real->ops->log_leaves(real, from, n, out);
	la_say("index=%llu", (unsigned long long)at);
	for (i = 0; i < n; i++) {
		uint64_t real_ix = from + i < at ? from + i : from + i + 1;

		if ((rc = real->ops->log_leaves(real, real_ix, 1, &out[i])) != SB_OK)
			return rc;
	}
	return SB_OK;
}

static int
la_log_entries_of(struct relay_store *real, const uint8_t addr[32],
    struct relay_log_entry **out, size_t *n)
{
	struct sb_buf b = SB_BUF_INIT;
	uint8_t other[TLOG_HASH_LEN];
	uint64_t size = 0, at = 0;
	size_t i, k;
	int rc = real->ops->log_entries_of(real, addr, out, n);

	if (rc != SB_OK)
		return rc;
	if (LA.mode == LA_SPLIT) {
		int mine = memcmp(addr, LA.addr_hash, TLOG_HASH_LEN) == 0;

		if ((rc = tlog_addr_hash(LA_OTHER, strlen(LA_OTHER), other)) != SB_OK ||
		    (rc = real->ops->log_size(real, &size)) != SB_OK)
			return rc;
		if (!((mine && la_view_a()) ||
		    (memcmp(addr, other, TLOG_HASH_LEN) == 0 && !la_view_a())))
			return SB_OK;
		if (*out == NULL && (*out = calloc(SB_MAX_LOG_ENTRIES, sizeof(**out))) == NULL)
			return SB_ERR_ALLOC;
		if ((rc = la_split_entry(real, size, &b)) == SB_OK) {
			(*out)[*n].index = size;
			memcpy((*out)[*n].entry, b.d, b.len);
			(*out)[(*n)++].len = b.len;
		}
		sb_buf_free(&b);
		return rc;
	}
	if (LA.mode != LA_DROP || la_dropped(real, &at) != SB_OK)
		return SB_OK;
	for (i = 0, k = 0; i < *n; i++) {
		if ((*out)[i].index == at)
			continue;
		(*out)[k] = (*out)[i];
		if ((*out)[k].index > at)
			(*out)[k].index--;
		k++;
	}
	*n = k;
	return SB_OK;
}

/* unlogged-device and split (view A): ADDRESS's answer lists the relay's
 * own device too.  *out holds SB_MAX_DEVICES_PER_ADDR slots or is NULL. */
static int
la_devices_of(const char *address, struct relay_device **out, size_t *n)
{
	struct relay_device *d;

	if (strcmp(address, LA.addr) != 0 ||
	    !(LA.mode == LA_UNLOGGED || (LA.mode == LA_SPLIT && la_view_a())))
		return SB_OK;
	if (*out == NULL && (*out = calloc(SB_MAX_DEVICES_PER_ADDR, sizeof(**out))) == NULL)
		return SB_ERR_ALLOC;
	if (*n >= SB_MAX_DEVICES_PER_ADDR)
		return SB_OK;
	d = &(*out)[(*n)++];
	memset(d, 0, sizeof(*d));
	d->id = LA_FAKE_DEVICE;
	snprintf(d->address, sizeof(d->address), "%s", address);
	snprintf(d->name, sizeof(d->name), "relay's");
	d->suite = CRYPTO_SUITE_EC;
	memcpy(d->identity, LA.identity, LA.identity_len);
	d->identity_len = LA.identity_len;
	if (LA.mode == LA_UNLOGGED)
		la_say("device=%llu", (unsigned long long)LA_FAKE_DEVICE);
	return SB_OK;
}

#endif
