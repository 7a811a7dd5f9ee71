/*
 * trust.c - the store half of trust.h: pins, alerts and verified contacts
 * in the home's store.db (component "trust"), and the one function that
 * applies a directory answer to them (trust_observe).
 *
 * Pins are the device identities this device has decided to use for an
 * address: set on first contact, extended by a new device, shrunk by a
 * removed one, and never replaced by a changed identity of the same device
 * id: a device's keys do not change in sealbox (a re-enrolled device gets
 * a new id), so a changed identity is the directory lying, until the user
 * accepts it (sealbox trust accept) or confirms a new code (sealbox verify
 * --confirm).  Messages are sealed to, and verified against, the pins only.
 *
 * Never holds plaintext or secrets: identities are public, fingerprints
 * are their hashes.  Never does network I/O; the callers bring the
 * directory's answers.  Locking: the caller serialises use of db (the
 * agent's db_lock; the CLI has its own connection).
 */
#include "trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../client/client.h"
#include "../common/sberr.h"
#include "store.h"
#include "trust_sql.h"


static int
table_exists(sqlite3 *db, const char *name, int *yes)
{
	int64_t n = 0;
	int rc = store_query_int(db, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'table' AND name = ?", name, 0, &n);

	*yes = n > 0;
	return rc;
}

/* H(identity) of DER bytes into h; SB_ERR_* of the parser otherwise. */
static int
identity_hash(const uint8_t *der, size_t len, uint8_t h[CRYPTO_HASH_LEN])
{
	struct crypto_identity *id = NULL;
	int rc = crypto_identity_parse(der, len, &id);

	if (rc == SB_OK)
		memcpy(h, crypto_identity_hash(id), CRYPTO_HASH_LEN);
	crypto_identity_free(id);
	return rc;
}

static int
pin_put(sqlite3 *db, const char *addr, uint64_t id, const uint8_t *der, size_t len,
    const uint8_t h[CRYPTO_HASH_LEN], int64_t now, int refused)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(db, "INSERT OR REPLACE INTO trust_pins(address, device_id,"
	    " identity, hash, pinned, refused) VALUES (?1, ?2,"
	    " " SEAL("trust_pins", "identity", "?1", "?2", "?3") ","
	    " " SEAL("trust_pins", "hash", "?1", "?2", "?4") ", ?5,"
	    " " SEAL("trust_pins", "refused", "?1", "?2", "?6") ")", &st);

	if (rc != SB_OK)
		return rc;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	sqlite3_bind_blob(st, 3, der, (int)len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, h, CRYPTO_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int(st, 6, refused != 0);
	rc = store_step_done(db, st);
	sqlite3_finalize(st);
	return rc;
}

/*
 * A home made before issue 14 kept its pins in inbox_devices and its
 * change records in inbox_key_events (the receiving side's directory
 * cache): they become the first pins and alerts, once.  Rows whose
 * identity does not parse are left behind (they were never usable).
 */
int
trust_import_legacy(sqlite3 *db, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int have, rc;

	if ((rc = table_exists(db, "inbox_devices", &have)) != SB_OK)
		return rc;
	if (have && (rc = store_prepare(db, "SELECT address, device_id, identity"
	    " FROM inbox_devices", &st)) == SB_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const uint8_t *der = sqlite3_column_blob(st, 2);
			size_t len = (size_t)sqlite3_column_bytes(st, 2);
			const unsigned char *addr = sqlite3_column_text(st, 0);
			uint8_t h[CRYPTO_HASH_LEN];

			if (addr == NULL || der == NULL || identity_hash(der, len, h) != SB_OK)
				continue;
			if ((rc = pin_put(db, (const char *)addr,
			    (uint64_t)sqlite3_column_int64(st, 1), der, len, h, now, 0)) != SB_OK)
				break;
		}
		rc = rc == SQLITE_DONE ? SB_OK : rc == SB_OK ? SB_OK :
		    rc > 0 ? store_err(db, rc, "import pins") : rc;
		sqlite3_finalize(st);
		if (rc != SB_OK)
			return rc;
	}
	if ((rc = table_exists(db, "inbox_key_events", &have)) != SB_OK || !have)
		return rc;
	/* Sealed under the old rows' ids: trust_alerts is empty here. */
	return store_exec(db, "INSERT INTO trust_alerts(id, address, time, event, n,"
	    " old_hash, new_hash, closed) SELECT id, address,"
	    " " SEAL("trust_alerts", "time", "address", "id", "time") ","
	    " " SEAL("trust_alerts", "event", "address", "id",
	    "CASE event WHEN 'changed' THEN 1 WHEN 'added' THEN 2 ELSE 3 END") ","
	    " " SEAL("trust_alerts", "n", "address", "id", "device_id") ","
	    " " SEAL("trust_alerts", "old_hash", "address", "id", "old_hash") ","
	    " " SEAL("trust_alerts", "new_hash", "address", "id", "new_hash") ","
	    " " SEAL("trust_alerts", "closed", "address", "id", "0")
	    " FROM inbox_key_events ORDER BY id;"
	    "UPDATE trust_meta SET alerts = " SEAL("trust_meta", "alerts", "''", "1",
	    "(SELECT coalesce(max(id), 0) FROM trust_alerts)") " WHERE id = 1");
}

/* ---- reading ------------------------------------------------------------- */

struct pinned {
	size_t n;
	struct trust_dev devs[TRUST_MAX_DEVICES];
};

static int
pins_load(sqlite3 *db, const char *addr, struct pinned *p)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(db, "SELECT device_id, h FROM (SELECT device_id,"
	    " " OPIN("hash") " AS h, " OPIN("identity") " AS i, " OPIN("refused") " AS r"
	    " FROM trust_pins WHERE address = ?) WHERE h IS NOT NULL AND i IS NOT NULL"
	    " AND r IS NOT NULL ORDER BY device_id", &st);

	p->n = 0;
	if (rc != SB_OK)
		return rc;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (p->n == TRUST_MAX_DEVICES || sqlite3_column_bytes(st, 1) != CRYPTO_HASH_LEN) {
			rc = SQLITE_CORRUPT;
			break;
		}
		p->devs[p->n].id = (uint64_t)sqlite3_column_int64(st, 0);
		memcpy(p->devs[p->n].hash, sqlite3_column_blob(st, 1), CRYPTO_HASH_LEN);
		p->n++;
	}
	rc = rc == SQLITE_DONE ? SB_OK : store_err(db, rc, "trust pins");
	sqlite3_finalize(st);
	return rc;
}

int
trust_pin_get(sqlite3 *db, const char *addr, uint64_t id, struct crypto_identity **out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = NULL;
	if ((rc = trust_store_scan(db, (int64_t)time(NULL), stderr)) != SB_OK)
		return rc;
	if ((rc = store_prepare(db, "SELECT i, r FROM (SELECT " OPIN("identity") " AS i,"
	    " " OPIN("refused") " AS r, " OPIN("hash") " AS h FROM trust_pins"
	    " WHERE address = ? AND device_id = ?) WHERE i IS NOT NULL AND r IS NOT NULL"
	    " AND h IS NOT NULL", &st)) != SB_OK)
		return rc;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_int(st, 1) != 0)
		rc = SB_ERR_PERMISSION;
	else if (rc == SQLITE_ROW)
		rc = crypto_identity_parse(sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), out);
	else
		rc = rc == SQLITE_DONE ? SB_ERR_NOT_FOUND : store_err(db, rc, "trust pin");
	sqlite3_finalize(st);
	return rc;
}

/* The verified set of addr into buf (*len bytes; 0 when not verified). */
static int
verified_get(sqlite3 *db, const char *addr, uint8_t *buf, size_t *len)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(db, "SELECT v FROM (SELECT " OCON("verified_set") " AS v,"
	    " " OCON("verified_at") " AS t, " OCON("self") " AS s FROM trust_contacts"
	    " WHERE address = ?) WHERE v IS NOT NULL AND t IS NOT NULL AND s IS NOT NULL", &st);

	*len = 0;
	if (rc != SB_OK)
		return rc;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(st, 0);

		if (n % CRYPTO_HASH_LEN != 0 || n > TRUST_MAX_DEVICES * CRYPTO_HASH_LEN)
			rc = store_err(db, SQLITE_CORRUPT, "verified set");
		else {
			if (n > 0)
				memcpy(buf, sqlite3_column_blob(st, 0), n);
			*len = n;
			rc = SB_OK;
		}
	} else {
		rc = rc == SQLITE_DONE ? SB_OK : store_err(db, rc, "verified set");
	}
	sqlite3_finalize(st);
	return rc;
}

/* Steps a prepared "SELECT count(*) ..." and finalizes it: *n. */
static int
count_step(sqlite3 *db, sqlite3_stmt *st, const char *what, int64_t *n)
{
	int rc = sqlite3_step(st);

	*n = 0;
	if (rc == SQLITE_ROW) {
		*n = sqlite3_column_int64(st, 0);
		rc = SB_OK;
	} else {
		rc = store_err(db, rc, what);
	}
	sqlite3_finalize(st);
	return rc;
}

static int
count_open(sqlite3 *db, const char *addr, int event, int64_t *n)
{
	sqlite3_stmt *st = NULL;
	/* Only the fields that decide (another field that does not open is
	 * the scan's to report; the alert still counts as open). */
	int rc = store_prepare(db, "SELECT count(*) FROM trust_alerts WHERE address = ?1"
	    " AND " OALERT("closed") " = 0 AND (?2 = 0 OR " OALERT("event") " = ?2)", &st);

	*n = 0;
	if (rc != SB_OK)
		return rc;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, event);
	return count_step(db, st, "open alerts", n);
}

/* Is a send to addr held?  A verified contact whose pins no longer are
 * the verified set, or one of whose devices showed another identity. */
static int
held(sqlite3 *db, const char *addr, int *out)
{
	uint8_t set[TRUST_MAX_DEVICES][CRYPTO_HASH_LEN], cur[TRUST_MAX_DEVICES][CRYPTO_HASH_LEN];
	struct pinned p;
	size_t set_len, n;
	int64_t changed;
	int rc;

	*out = 0;
	/* A record that failed its check holds sends until the user settles
	 * the contact (accept or confirm): it may have been the verified set. */
	if ((rc = trust_store_scan(db, (int64_t)time(NULL), stderr)) != SB_OK ||
	    (rc = count_open(db, addr, TRUST_EV_INTEGRITY, &changed)) != SB_OK)
		return rc;
	if (changed > 0) {
		*out = 1;
		return SB_OK;
	}
	if ((rc = verified_get(db, addr, &set[0][0], &set_len)) != SB_OK || set_len == 0)
		return rc;
	if ((rc = pins_load(db, addr, &p)) != SB_OK ||
	    (rc = count_open(db, addr, TRUST_EV_CHANGED, &changed)) != SB_OK)
		return rc;
	for (size_t i = 0; i < p.n; i++)
		memcpy(cur[i], p.devs[i].hash, CRYPTO_HASH_LEN);
	n = trust_set_normalize(cur, p.n);
	*out = changed > 0 || !trust_set_equal(set, set_len, cur, n * CRYPTO_HASH_LEN);
	return SB_OK;
}

int
trust_held(sqlite3 *db, const char *const *addrs, size_t n, const char **which)
{
	int rc, h;

	*which = NULL;
	for (size_t i = 0; i < n; i++) {
		if ((rc = held(db, addrs[i], &h)) != SB_OK)
			return rc;
		if (h) {
			*which = addrs[i];
			return SB_ERR_HELD;
		}
	}
	return SB_OK;
}

/* *yes: a row of table (trust_approvals or trust_removed) names (addr,
 * id), and hash when given. */
static uint64_t
approver_of(const struct trust_seen *devs, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (devs[i].id == id)
			return devs[i].approver;
	return 0;
}

/* Who signed the log's (last) removal of id: its signer, 0 for the relay's
 * own word, -1 when the log shows none (not known). */
static int64_t
removal_signer(const struct trust_removal *rm, size_t n, uint64_t id)
{
	int64_t who = -1;

	for (size_t i = 0; rm != NULL && i < n; i++)
		if (rm[i].device == id)
			who = (int64_t)rm[i].signer;
	return who;
}

static int
unapproved(const struct trust_seen *devs, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (devs[i].id == id)
			return devs[i].unapproved;
	return 0;
}

static int
dev_listed(sqlite3 *db, const char *sql, const char *addr, uint64_t id,
    const uint8_t *hash, int *yes)
{
	sqlite3_stmt *st = NULL;
	int64_t n = 0;
	int rc = store_prepare(db, sql, &st);

	*yes = 0;
	if (rc != SB_OK)
		return rc;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	if (hash != NULL)
		sqlite3_bind_blob(st, 3, hash, CRYPTO_HASH_LEN, SQLITE_STATIC);
	rc = count_step(db, st, "devices listed", &n);
	*yes = n > 0;
	return rc;
}

/* By the identity: an approval is recorded before the relay has given the
 * device its id (sealbox devices approve), so the id is not compared. */
static int
is_approved(sqlite3 *db, const char *addr, uint64_t id, const uint8_t h[CRYPTO_HASH_LEN],
    int *yes)
{
	return dev_listed(db, "SELECT count(*) FROM trust_approvals WHERE address = ?1"
	    " AND ?2 = ?2 AND sb_open('trust_approvals', 'hash', address, device_id, hash)"
	    " = ?3", addr, id, h, yes);
}

static int
is_removed(sqlite3 *db, const char *addr, uint64_t id, int *yes)
{
	return dev_listed(db, "SELECT count(*) FROM trust_removed WHERE address = ?"
	    " AND device_id = ? AND sb_open('trust_removed', 'removed', address,"
	    " device_id, removed) IS NOT NULL", addr, id, NULL, yes);
}

int
trust_is_removed(sqlite3 *db, const char *addr, uint64_t device_id, int *yes)
{
	return is_removed(db, addr, device_id, yes);
}

/* ---- writing ------------------------------------------------------------- */

/* 1 when an open alert already says exactly this (a directory that keeps
 * giving the same changed identity is one event, not one per lookup). */
static int
alert_known(sqlite3 *db, const char *addr, const struct trust_change *c,
    enum trust_event ev, int *known)
{
	sqlite3_stmt *st = NULL;
	int64_t n = 0;
	int rc = store_prepare(db, "SELECT count(*) FROM " ALERT_ROWS
	    " AND e = ?2 AND n = ?3 AND c = 0 AND nw = ?4", &st);

	*known = 0;
	if (rc != SB_OK)
		return rc;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)ev);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)c->device_id);
	/* None is sealed as the empty blob. */
	if (c->has_new)
		sqlite3_bind_blob(st, 4, c->new_hash, CRYPTO_HASH_LEN, SQLITE_STATIC);
	else
		sqlite3_bind_zeroblob(st, 4, 0);
	rc = count_step(db, st, "known alert", &n);
	*known = n > 0;
	return rc;
}

int
trust_alert_add(sqlite3 *db, const struct trust_alert *al, int64_t closed,
    struct sb_buf *log)
{
	char line[TRUST_LINE_BUF];
	sqlite3_stmt *st = NULL;
	int64_t id = 0;
	int rc = trust_alert_line(al, 1, line, sizeof(line));

	if (rc != SB_OK)
		return rc;
	/* The id is sealed into every field: chosen before the INSERT. */
	if ((rc = store_query_int(db, "SELECT coalesce(max(id), 0) + 1 FROM trust_alerts",
	    NULL, 1, &id)) != SB_OK)
		return rc;
	rc = store_prepare(db, "INSERT INTO trust_alerts(id, address, time, event, n,"
	    " old_hash, new_hash, closed) VALUES (?8, ?2,"
	    " " SEAL("trust_alerts", "time", "?2", "?8", "?1") ","
	    " " SEAL("trust_alerts", "event", "?2", "?8", "?3") ","
	    " " SEAL("trust_alerts", "n", "?2", "?8", "?4") ","
	    " " SEAL("trust_alerts", "old_hash", "?2", "?8", "?5") ","
	    " " SEAL("trust_alerts", "new_hash", "?2", "?8", "?6") ","
	    " " SEAL("trust_alerts", "closed", "?2", "?8", "?7") ")", &st);
	if (rc != SB_OK)
		return rc;
	sqlite3_bind_int64(st, 8, id);
	sqlite3_bind_int64(st, 1, al->time);
	sqlite3_bind_text(st, 2, al->address, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, (int)al->event);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)al->n);
	if (al->old_hash)
		sqlite3_bind_blob(st, 5, al->old_hash, CRYPTO_HASH_LEN, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	if (al->new_hash)
		sqlite3_bind_blob(st, 6, al->new_hash, CRYPTO_HASH_LEN, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, closed);
	rc = store_step_done(db, st);
	sqlite3_finalize(st);
	/* After the row, never before it: a reader between the two sees a
	 * newest id above the mark (fine), never a mark above it (deleted). */
	if (rc == SB_OK)
		rc = trust_store_alerts_mark(db, id);
	/* Logged by the caller once the transaction committed. */
	if (rc == SB_OK && log != NULL) {
		sb_put_bytes(log, "sealbox: alert: ", 16);
		sb_put_bytes(log, line, strlen(line));
		sb_put_u8(log, '\n');
		rc = log->err;
	}
	return rc;
}

static int
exec_addr(sqlite3 *db, const char *sql, const char *addr, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(db, sql, &st);

	if (rc != SB_OK)
		return rc;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, now);
	rc = store_step_done(db, st);
	sqlite3_finalize(st);
	return rc;
}

/* mode ACCEPT and CONFIRM: the user has decided about addr. */
static int
settle(sqlite3 *db, const char *addr, const struct trust_dev *now_devs, size_t n,
    enum trust_mode mode, int64_t now)
{
	uint8_t set[TRUST_MAX_DEVICES][CRYPTO_HASH_LEN];
	sqlite3_stmt *st = NULL;
	size_t k;
	int rc = exec_addr(db, "UPDATE trust_alerts SET closed = "
	    SEAL("trust_alerts", "closed", "address", "id", "?2") " WHERE address = ?1"
	    " AND " OALERT("closed") " = 0", addr, now);

	/* Rows of addr that failed their check are dropped now that the user
	 * decided (their alert was just closed): the pins were rewritten. */
	if (rc != SB_OK || (rc = trust_store_purge(db, addr)) != SB_OK)
		return rc;
	if ((rc = store_prepare(db, "INSERT INTO trust_contacts(address, verified_set,"
	    " verified_at, self) VALUES (?1,"
	    " " SEAL("trust_contacts", "verified_set", "?1", "0", "?2") ","
	    " " SEAL("trust_contacts", "verified_at", "?1", "0", "?3") ","
	    " " SEAL("trust_contacts", "self", "?1", "0", "0") ")"
	    " ON CONFLICT(address) DO UPDATE SET verified_set = excluded.verified_set,"
	    " verified_at = excluded.verified_at", &st)) != SB_OK)
		return rc;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	if (mode == TRUST_CONFIRM) {
		for (k = 0; k < n; k++)
			memcpy(set[k], now_devs[k].hash, CRYPTO_HASH_LEN);
		k = trust_set_normalize(set, n);
		sqlite3_bind_blob(st, 2, set, (int)(k * CRYPTO_HASH_LEN), SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, now);
	} else {
		/* Accepted without comparing codes: no longer verified
		 * (as Signal does after a safety number change). */
		sqlite3_bind_null(st, 2);
		sqlite3_bind_int64(st, 3, 0);
	}
	rc = store_step_done(db, st);
	sqlite3_finalize(st);
	return rc;
}

int
trust_observe(sqlite3 *db, const char *addr, const struct trust_seen *devs, size_t n,
    const struct trust_removal *rm, size_t n_rm, enum trust_mode mode, int64_t now,
    int *verdict, FILE *logf)
{
	struct trust_dev cur[TRUST_MAX_DEVICES];
	struct trust_seen kept[TRUST_MAX_DEVICES];
	struct trust_change ch[2 * TRUST_MAX_DEVICES];
	struct sb_buf log = SB_BUF_INIT;
	struct pinned p;
	size_t n_ch = 0, n_kept = 0, i;
	int64_t known_addr = 0, self = 0;
	int rc, h = 0, first;

	if (verdict)
		*verdict = TRUST_SEND;
	if (n > TRUST_MAX_DEVICES)
		return SB_ERR_TOO_BIG;
	if ((rc = store_begin(db)) != SB_OK)
		return rc;
	if ((rc = trust_store_scan(db, now, logf)) != SB_OK)
		goto out;
	for (i = 0; i < n; i++) {
		int gone = 0;

		if ((rc = is_removed(db, addr, devs[i].id, &gone)) != SB_OK)
			goto out;
		if (gone) {
			continue;
		}
		kept[n_kept] = devs[i];
		cur[n_kept].id = devs[i].id;
		if ((rc = identity_hash(devs[i].identity, devs[i].identity_len,
		    cur[n_kept].hash)) != SB_OK)
			goto out;
		n_kept++;
	}
	devs = kept;
	n = n_kept;
	if ((rc = pins_load(db, addr, &p)) != SB_OK ||
	    (rc = store_query_int(db, "SELECT count(*) FROM trust_contacts WHERE"
	    " address = ?", addr, 0, &known_addr)) != SB_OK ||
	    (rc = store_query_int(db, "SELECT " OCON("self") " FROM trust_contacts WHERE"
	    " address = ?", addr, 0, &self)) != SB_OK)
		goto out;
	/* First contact: what the directory says now is pinned, silently
	 * (trust on first use; the log and the codes are what check it).
	 * An address known before whose devices were all removed is not new. */
	first = p.n == 0 && known_addr == 0;
	if (first && (rc = exec_addr(db, "INSERT INTO trust_contacts(address,"
	    " verified_set, verified_at, self) VALUES (?1,"
	    " " SEAL("trust_contacts", "verified_set", "?1", "0", "NULL") ","
	    " " SEAL("trust_contacts", "verified_at", "?1", "0", "0") ","
	    " " SEAL("trust_contacts", "self", "?1", "0", "0") ")", addr, 0)) != SB_OK)
		goto out;
	if (!first && (rc = trust_diff(p.devs, p.n, cur, n, ch, sizeof(ch) / sizeof(ch[0]),
	    &n_ch)) != SB_OK)
		goto out;
	for (i = 0; rc == SB_OK && i < n_ch; i++) {
		const struct trust_change *c = &ch[i];
		struct trust_alert al = {
			.time = now, .address = addr, .event = c->event, .n = c->device_id,
			.old_hash = c->has_old ? c->old_hash : NULL,
			.new_hash = c->has_new ? c->new_hash : NULL,
		};
		int known = 0, approved = 0;

		/* Added without any countersignature where the account had
		 * devices (the log says so): refused, whosever it is. */
		if (self != 0 && c->event == TRUST_EV_ADDED && c->device_id == (uint64_t)self) {
			continue;   /* ourselves: no news */
		} else if (c->event == TRUST_EV_ADDED && unapproved(kept, n, c->device_id)) {
			al.event = TRUST_EV_UNSIGNED;
		} else if (self != 0 && c->event == TRUST_EV_ADDED) {
			/* Our own account: a device this one approved is
			 * history, any other is an alert. */
			if ((rc = is_approved(db, addr, c->device_id, c->new_hash,
			    &approved)) != SB_OK)
				break;
			approved |= approver_of(kept, n, c->device_id) == (uint64_t)self;
			if (!approved)
				al.event = TRUST_EV_UNAPPROVED;
		} else if (c->event == TRUST_EV_REMOVED) {
			int64_t signed_by = removal_signer(rm, n_rm, c->device_id);

			if (signed_by == 0)
				al.event = TRUST_EV_OPERATOR_REMOVED;
			/* This device signed it: history (approved reads as closed). */
			approved = self != 0 && signed_by == self;
		}
		if ((rc = alert_known(db, addr, c, al.event, &known)) != SB_OK)
			break;
		if (!known)
			rc = trust_alert_add(db, &al, mode == TRUST_OBSERVE && !approved ? 0 : now,
			    &log);
		if (rc == SB_OK && c->event == TRUST_EV_REMOVED) {
			sqlite3_stmt *st = NULL;

			if ((rc = store_prepare(db, "DELETE FROM trust_pins WHERE address = ?"
			    " AND device_id = ?", &st)) != SB_OK)
				break;
			sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)c->device_id);
			rc = store_step_done(db, st);
			sqlite3_finalize(st);
		}
	}
	/* First contact with an account that has an unapproved device is
	 * still an alert for that device. */
	for (i = 0; rc == SB_OK && first && mode == TRUST_OBSERVE && i < n; i++) {
		struct trust_alert al = {
			.time = now, .address = addr, .event = TRUST_EV_UNSIGNED,
			.n = cur[i].id, .new_hash = cur[i].hash,
		};

		if (devs[i].unapproved) {
			rc = trust_alert_add(db, &al, 0, &log);
		} else if (devs[i].changed) {
			al.event = TRUST_EV_CHANGED;
			rc = trust_alert_add(db, &al, 0, &log);
		}
	}
	/* Pins: every device on first contact or when the user decides, a
	 * new device always (refused when the log shows nobody approved it,
	 * unless the user decided); a changed identity never by itself. */
	for (i = 0; rc == SB_OK && i < n; i++) {
		int pin = first || mode != TRUST_OBSERVE;

		for (size_t k = 0; !pin && k < n_ch; k++)
			pin = ch[k].event == TRUST_EV_ADDED && ch[k].device_id == cur[i].id;
		if (pin)
			rc = pin_put(db, addr, cur[i].id, devs[i].identity, devs[i].identity_len,
			    cur[i].hash, now, mode == TRUST_OBSERVE && devs[i].unapproved);
	}
	if (rc == SB_OK && mode != TRUST_OBSERVE)
		rc = settle(db, addr, cur, n, mode, now);
	if (rc == SB_OK)
		rc = held(db, addr, &h);
out:
	rc = store_end(db, rc);
	if (rc == SB_OK) {
		if (logf != NULL && log.len > 0) {
			fwrite(log.d, 1, log.len, logf);
			fflush(logf);
		}
		if (verdict)
			*verdict = h ? TRUST_HOLD : TRUST_SEND;
	}
	sb_buf_free(&log);
	return rc;
}

int
trust_observe_devices(sqlite3 *db, const char *addr, const struct client_device *devs,
    size_t n_devs, enum trust_mode mode, int64_t now, int *verdict, FILE *logf)
{
	struct trust_seen seen[TRUST_MAX_DEVICES];
	size_t n = 0;

	for (size_t i = 0; i < n_devs; i++) {
		if (strcmp(devs[i].address, addr) != 0)
			continue;
		if (n == TRUST_MAX_DEVICES)
			return SB_ERR_TOO_BIG;
		seen[n++] = (struct trust_seen){
			.id = devs[i].id,
			.identity = devs[i].identity,
			.identity_len = devs[i].identity_len,
			.unapproved = devs[i].unapproved,
			.approver = devs[i].approver,
			.changed = devs[i].changed,
		};
	}
	return trust_observe(db, addr, seen, n, NULL, 0, mode, now, verdict, logf);
}

int
trust_observe_lookup(sqlite3 *db, const char *addr, const struct client_lookup *l,
    enum trust_mode mode, int64_t now, int *verdict, FILE *logf)
{
	struct trust_seen seen[TRUST_MAX_DEVICES];
	struct trust_removal *rm = NULL;
	size_t n = 0, n_rm = 0;
	int rc;

	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->devices[i].address, addr) != 0)
			continue;
		if (n == TRUST_MAX_DEVICES)
			return SB_ERR_TOO_BIG;
		seen[n++] = (struct trust_seen){
			.id = l->devices[i].id,
			.identity = l->devices[i].identity,
			.identity_len = l->devices[i].identity_len,
			.unapproved = l->devices[i].unapproved,
			.approver = l->devices[i].approver,
			.changed = l->devices[i].changed,
		};
	}
	if (l->n_events > 0 && (rm = calloc(l->n_events, sizeof(*rm))) == NULL)
		return SB_ERR_ALLOC;
	for (size_t i = 0; i < l->n_events; i++)
		if (l->events[i].kind == TLOG_REMOVE && strcmp(l->events[i].address, addr) == 0)
			rm[n_rm++] = (struct trust_removal){ l->events[i].device,
			    l->events[i].signer };
	rc = trust_observe(db, addr, seen, n, rm, n_rm, mode, now, verdict, logf);
	free(rm);
	return rc;
}

/* ---- what the user sees -------------------------------------------------- */

/* The alert of a trust_alerts row (columns time, address, event, n,
 * old_hash, new_hash) as a line. */
static int
row_line(sqlite3_stmt *st, int with_time, char *out, size_t size)
{
	const unsigned char *addr = sqlite3_column_text(st, 1);
	struct trust_alert al = {
		.time = sqlite3_column_int64(st, 0),
		.address = addr ? (const char *)addr : "?",
		.event = (enum trust_event)sqlite3_column_int(st, 2),
		.n = (uint64_t)sqlite3_column_int64(st, 3),
		.old_hash = sqlite3_column_bytes(st, 4) == CRYPTO_HASH_LEN ?
		    sqlite3_column_blob(st, 4) : NULL,
		.new_hash = sqlite3_column_bytes(st, 5) == CRYPTO_HASH_LEN ?
		    sqlite3_column_blob(st, 5) : NULL,
	};

	return trust_alert_line(&al, with_time, out, size);
}

int
trust_alerts_text(sqlite3 *db, int open_only, const char *prefix, struct sb_buf *out)
{
	char line[TRUST_LINE_BUF];
	sqlite3_stmt *st = NULL;
	int rc = trust_store_scan(db, (int64_t)time(NULL), stderr);

	if (rc != SB_OK || (rc = store_prepare(db, "SELECT t, address, e, n, o, nw FROM "
	    ALERT_ROWS " AND (?2 = 0 OR c = 0) ORDER BY id", &st)) != SB_OK)
		return rc;
	sqlite3_bind_int(st, 2, open_only);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* A row this version cannot word is skipped, not fatal. */
		if (row_line(st, 1, line, sizeof(line)) != SB_OK)
			continue;
		if (prefix)
			sb_put_bytes(out, prefix, strlen(prefix));
		sb_put_bytes(out, line, strlen(line));
		sb_put_u8(out, '\n');
	}
	rc = rc == SQLITE_DONE ? out->err : store_err(db, rc, "alerts");
	sqlite3_finalize(st);
	return rc;
}

int
trust_folder_state(sqlite3 *db, const char *const *addrs, size_t n, char *out,
    size_t size)
{
	struct trust_addr_state *st = NULL;
	char (*lines)[TRUST_LINE_BUF] = NULL;
	int64_t *newest_id = NULL;
	sqlite3_stmt *q = NULL;
	int rc = SB_OK;

	if (n == 0) {
		trust_folder_text(NULL, 0, out, size);
		return SB_OK;
	}
	st = calloc(n, sizeof(*st));
	lines = calloc(n, sizeof(*lines));
	newest_id = calloc(n, sizeof(*newest_id));
	if (st == NULL || lines == NULL || newest_id == NULL) {
		rc = SB_ERR_ALLOC;
		goto out;
	}
	for (size_t i = 0; rc == SB_OK && i < n; i++) {
		uint8_t set[TRUST_MAX_DEVICES * CRYPTO_HASH_LEN];
		size_t set_len;
		int64_t open;

		if ((rc = trust_store_scan(db, (int64_t)time(NULL), stderr)) != SB_OK ||
		    (rc = verified_get(db, addrs[i], set, &set_len)) != SB_OK ||
		    (rc = count_open(db, addrs[i], 0, &open)) != SB_OK)
			break;
		st[i].verified = set_len > 0;
		st[i].open = (size_t)open;
		if (open == 0)
			continue;
		if ((rc = store_prepare(db, "SELECT t, address, e, n, o, nw, id FROM "
		    ALERT_ROWS " AND c = 0 ORDER BY id DESC LIMIT 1", &q)) != SB_OK)
			break;
		sqlite3_bind_text(q, 1, addrs[i], -1, SQLITE_STATIC);
		if (sqlite3_step(q) == SQLITE_ROW && row_line(q, 0, lines[i], TRUST_LINE_BUF) == SB_OK) {
			st[i].newest = lines[i];
			newest_id[i] = sqlite3_column_int64(q, 6);
		}
		sqlite3_finalize(q);
		q = NULL;
	}
	if (rc == SB_OK) {
		/* trust_folder_text takes the last open one as the newest:
		 * order the addresses by their newest alert. */
		for (size_t i = 1; i < n; i++)
			for (size_t k = i; k > 0 && newest_id[k - 1] > newest_id[k]; k--) {
				struct trust_addr_state t = st[k];
				int64_t ti = newest_id[k];

				st[k] = st[k - 1];
				st[k - 1] = t;
				newest_id[k] = newest_id[k - 1];
				newest_id[k - 1] = ti;
			}
		trust_folder_text(st, n, out, size);
	}
out:
	free(st);
	free(lines);
	free(newest_id);
	return rc;
}

int
trust_list_text(sqlite3 *db, struct sb_buf *out)
{
	char state[TRUST_LINE_BUF + 32], fp[TRUST_FP_BUF], line[64];
	sqlite3_stmt *st = NULL;
	int rc = trust_store_scan(db, (int64_t)time(NULL), stderr);

	if (rc != SB_OK || (rc = store_prepare(db, "SELECT address FROM trust_contacts UNION"
	    " SELECT address FROM trust_pins ORDER BY 1", &st)) != SB_OK)
		return rc;
	while (rc == SB_OK && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		char addr[SB_MAX_ADDRESS + 1];
		const char *one[1] = { addr };
		struct pinned p;

		snprintf(addr, sizeof(addr), "%s", t ? (const char *)t : "");
		int64_t self = 0;

		if ((rc = trust_folder_state(db, one, 1, state, sizeof(state))) != SB_OK ||
		    (rc = pins_load(db, addr, &p)) != SB_OK ||
		    (rc = store_query_int(db, "SELECT " OCON("self") " FROM trust_contacts"
		    " WHERE address = ?", addr, 0, &self)) != SB_OK)
			break;
		/* Our own account is never "verified": it is ours. */
		if (self != 0 && strcmp(state, "unverified") == 0)
			snprintf(state, sizeof(state), "this account");
		sb_put_bytes(out, addr, strlen(addr));
		sb_put_bytes(out, ": ", 2);
		sb_put_bytes(out, state, strlen(state));
		sb_put_u8(out, '\n');
		for (size_t i = 0; i < p.n; i++) {
			trust_fingerprint(p.devs[i].hash, fp);
			snprintf(line, sizeof(line), "  device %llu %s\n",
			    (unsigned long long)p.devs[i].id, fp);
			sb_put_bytes(out, line, strlen(line));
		}
		rc = out->err;
	}
	sqlite3_finalize(st);
	return rc;
}

int
trust_self_set(sqlite3 *db, const char *addr, uint64_t device_id)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(db, "INSERT INTO trust_contacts(address, verified_set,"
	    " verified_at, self) VALUES (?1,"
	    " " SEAL("trust_contacts", "verified_set", "?1", "0", "NULL") ","
	    " " SEAL("trust_contacts", "verified_at", "?1", "0", "0") ","
	    " " SEAL("trust_contacts", "self", "?1", "0", "?2") ")"
	    " ON CONFLICT(address) DO UPDATE SET self = excluded.self", &st);

	if (rc != SB_OK)
		return rc;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)device_id);
	rc = store_step_done(db, st);
	sqlite3_finalize(st);
	return rc;
}

int
trust_approve(sqlite3 *db, const char *addr, uint64_t device_id,
    const uint8_t hash[CRYPTO_HASH_LEN], int64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(db, "INSERT OR REPLACE INTO trust_approvals(address,"
	    " device_id, hash, approved) VALUES (?1, ?2,"
	    " " SEAL("trust_approvals", "hash", "?1", "?2", "?3") ", ?4)", &st);

	if (rc != SB_OK)
		return rc;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)device_id);
	sqlite3_bind_blob(st, 3, hash, CRYPTO_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	rc = store_step_done(db, st);
	sqlite3_finalize(st);
	return rc;
}

int
trust_unpin(sqlite3 *db, const char *addr, uint64_t device_id, int64_t now)
{
	struct pinned p;
	const uint8_t *old = NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = store_begin(db)) != SB_OK)
		return rc;
	if ((rc = pins_load(db, addr, &p)) != SB_OK)
		goto out;
	for (size_t i = 0; i < p.n; i++)
		if (p.devs[i].id == device_id)
			old = p.devs[i].hash;
	if (old != NULL) {
		struct trust_alert al = {
			.time = now, .address = addr, .event = TRUST_EV_REMOVED,
			.n = device_id, .old_hash = old, .new_hash = NULL,
		};

		/* This device did it: history, not an open alert. */
		if ((rc = trust_alert_add(db, &al, now, NULL)) != SB_OK)
			goto out;
	}
	if ((rc = store_prepare(db, "DELETE FROM trust_pins WHERE address = ?"
	    " AND device_id = ?", &st)) != SB_OK)
		goto out;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)device_id);
	rc = store_step_done(db, st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc == SB_OK && (rc = store_prepare(db, "INSERT OR REPLACE INTO trust_removed"
	    "(address, device_id, removed) VALUES (?1, ?2,"
	    " " SEAL("trust_removed", "removed", "?1", "?2", "?3") ")", &st)) == SB_OK) {
		sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)device_id);
		sqlite3_bind_int64(st, 3, now);
		rc = store_step_done(db, st);
		sqlite3_finalize(st);
	}
out:
	return store_end(db, rc);
}

int
trust_log_head_get(sqlite3 *db, struct sb_buf *out)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(db, "SELECT h FROM (SELECT " OLOG("head") " AS h, "
	    OLOG("size") " AS s FROM trust_log WHERE id = 1) WHERE h IS NOT NULL"
	    " AND s IS NOT NULL", &st);

	if (rc != SB_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = sb_put_bytes(out, sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0));
	else
		rc = rc == SQLITE_DONE ? SB_ERR_NOT_FOUND : store_err(db, rc, "log head");
	sqlite3_finalize(st);
	return rc;
}

int
trust_log_head_put(sqlite3 *db, const uint8_t *head, size_t len, uint64_t size,
    int64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (len == 0 || len > TRUST_MAX_HEAD)
		return SB_ERR_LENGTH;
	/* Never backwards: a smaller head than the stored one is dropped. */
	/* (A stored head that does not open is replaced: it was never ours.) */
	rc = store_prepare(db, "INSERT INTO trust_log(id, head, size, updated)"
	    " VALUES (1, " SEAL("trust_log", "head", "''", "1", "?1") ","
	    " " SEAL("trust_log", "size", "''", "1", "?2") ", ?3) ON CONFLICT(id) DO UPDATE"
	    " SET head = excluded.head, size = excluded.size, updated = excluded.updated"
	    " WHERE ?2 >= coalesce(sb_open('trust_log', 'size', '', trust_log.id,"
	    " trust_log.size), -1)", &st);
	if (rc != SB_OK)
		return rc;
	sqlite3_bind_blob(st, 1, head, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
	sqlite3_bind_int64(st, 3, now);
	rc = store_step_done(db, st);
	sqlite3_finalize(st);
	return rc;
}

int
trust_unapprove(sqlite3 *db, const char *addr, const uint8_t hash[CRYPTO_HASH_LEN])
{
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(db, "DELETE FROM trust_approvals WHERE address = ? AND"
	    " sb_open('trust_approvals', 'hash', address, device_id, hash) = ?", &st);

	if (rc != SB_OK)
		return rc;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, hash, CRYPTO_HASH_LEN, SQLITE_STATIC);
	rc = store_step_done(db, st);
	sqlite3_finalize(st);
	return rc;
}

int
trust_pins_equal(sqlite3 *db, const char *addr, const struct client_device *devs,
    size_t n, uint64_t self, const uint8_t self_hash[CRYPTO_HASH_LEN], int *equal)
{
	struct trust_dev cur[TRUST_MAX_DEVICES + 1];
	struct trust_change ch[2 * TRUST_MAX_DEVICES + 2];
	struct pinned p;
	size_t k = 0, n_ch = 0;
	int rc;

	*equal = 0;
	for (size_t i = 0; i < n; i++) {
		int gone = 0;

		if (strcmp(devs[i].address, addr) != 0)
			continue;
		if ((rc = is_removed(db, addr, devs[i].id, &gone)) != SB_OK)
			return rc;
		if (gone)
			continue;
		if (k == TRUST_MAX_DEVICES)
			return SB_ERR_TOO_BIG;
		cur[k].id = devs[i].id;
		if ((rc = identity_hash(devs[i].identity, devs[i].identity_len,
		    cur[k].hash)) != SB_OK)
			return rc;
		k++;
	}
	cur[k].id = self;
	memcpy(cur[k].hash, self_hash, CRYPTO_HASH_LEN);
	k++;
	if ((rc = pins_load(db, addr, &p)) != SB_OK ||
	    (rc = trust_diff(p.devs, p.n, cur, k, ch, sizeof(ch) / sizeof(ch[0]), &n_ch)) != SB_OK)
		return rc;
	*equal = n_ch == 0;
	return SB_OK;
}

int
trust_alert_once(sqlite3 *db, const struct trust_alert *al, struct sb_buf *log)
{
	struct trust_change c = {
		.event = al->event, .device_id = al->n, .has_new = al->new_hash != NULL,
	};
	int known = 0, rc;

	if (al->new_hash != NULL)
		memcpy(c.new_hash, al->new_hash, CRYPTO_HASH_LEN);
	if ((rc = alert_known(db, al->address, &c, al->event, &known)) != SB_OK || known)
		return rc;
	return trust_alert_add(db, al, 0, log);
}

int
trust_log_failure(sqlite3 *db, struct client *c, const char *addr, int err, int64_t now,
    FILE *logf)
{
	struct client_log_fault f;
	struct trust_alert al = { .time = now, .address = addr, .event = TRUST_EV_PROOF };
	struct tlog_sth ours, theirs;
	struct sb_buf log = SB_BUF_INIT;
	char hex[2 * TLOG_MAX_STH + 1];
	int have = client_log_fault(c, &f) == SB_OK, rc;

	if (err != SB_ERR_LOG_PROOF && err != SB_ERR_LOG_FORK)
		return SB_OK;
	if (err == SB_ERR_LOG_FORK) {
		/* Both heads, or there is nothing to show. */
		if (!have || f.ours_len == 0 || f.theirs_len == 0 ||
		    tlog_sth_parse(f.ours, f.ours_len, &ours) != SB_OK ||
		    tlog_sth_parse(f.theirs, f.theirs_len, &theirs) != SB_OK) {
			if (logf != NULL)
				fprintf(logf, "sealbox: log fork reported without both heads: %s\n",
				    have ? f.why : "no reason given");
			return SB_OK;
		}
		al.event = TRUST_EV_FORK;
		al.n = theirs.size;
		al.old_hash = ours.root;
		al.new_hash = theirs.root;
	}
	if ((rc = trust_alert_once(db, &al, &log)) == SB_OK && logf != NULL) {
		if (log.len > 0)
			fwrite(log.d, 1, log.len, logf);
		if (have)
			fprintf(logf, "sealbox: log: %s\n", f.why);
		if (err == SB_ERR_LOG_FORK) {
			/* The evidence, for the user to publish: two heads the
			 * log key signed that no honest log can both have. */
			sb_hex(f.ours, f.ours_len, hex);
			fprintf(logf, "sealbox: log fork: our tree head (size %llu): %s\n",
			    (unsigned long long)ours.size, hex);
			sb_hex(f.theirs, f.theirs_len, hex);
			fprintf(logf, "sealbox: log fork: the other tree head (size %llu): %s\n",
			    (unsigned long long)theirs.size, hex);
		}
		fflush(logf);
	}
	sb_buf_free(&log);
	return rc;
}
