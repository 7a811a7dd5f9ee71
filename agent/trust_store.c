/*
 * trust_store.c - the trust tables sealed at rest (trust.h "at rest";
 * docs/SECURITY.md section 7, docs/PROTOCOL.md "Sealed records").
 *
 * Every security-relevant value of the trust tables (pinned identities
 * and hashes, refusals, verified sets, our own device id, approvals,
 * removals, alerts, the accepted tree head) is a crypto_record sealed
 * under the home's storage key, bound to (table, column, address, row
 * id).  The sealing is two SQL functions of the connection, so that
 * trust.c keeps plain SQL and the key lives only with the connection:
 *     sb_seal(TABLE, COLUMN, ADDRESS, ID, VALUE) -> sealed blob
 *     sb_open(TABLE, COLUMN, ADDRESS, ID, SEALED) -> VALUE, or NULL when
 *                                                   SEALED does not open
 * VALUE is an integer or a blob (NULL seals as the empty blob), and
 * comes back with its type.  Without a key (trust_store_key with NULL:
 * the keyring has not answered yet) both fail with SQLITE_AUTH and
 * trust_ready says SB_ERR_KEY_MISSING.  The functions are
 * SQLITE_DIRECTONLY: a trigger or view planted in store.db by whoever
 * can write it cannot call them.
 *
 * Addresses and device ids stay in clear: they are the SQL lookup keys,
 * as the conversation folders' names are in the rest of the home.
 *
 * Also here: the trust schema (its steps 4 and 5 seal an older home in
 * place and start the alert mark), the scan for rows that do not open,
 * and the check that no alert was deleted (trust_meta).
 *
 * Never logs a value or a key.
 */
#include "trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "../common/sberr.h"
#include "../keyring/keyring.h"
#include "../proto/proto.h"
#include "store.h"
#include "trust_sql.h"

/* The plaintext of a sealed value: a type byte, then the value. */
#define SEALED_INT   1   /* u64be */
#define SEALED_BLOB  4   /* the bytes */

struct trust_keys {
	struct crypto_record *rec;   /* NULL: locked */
	int64_t scanned;             /* data_version of the last scan; -1: none */
};

static void
keys_free(void *p)
{
	struct trust_keys *k = p;

	if (k != NULL)
		crypto_record_free(k->rec);
	free(k);
}

static uint64_t
u64be(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int
place(sqlite3_value **v, struct crypto_record_at *at)
{
	const unsigned char *addr = sqlite3_value_text(v[2]);

	at->table = (const char *)sqlite3_value_text(v[0]);
	at->column = (const char *)sqlite3_value_text(v[1]);
	at->address = addr != NULL ? (const char *)addr : "";
	at->address_len = addr != NULL ? (size_t)sqlite3_value_bytes(v[2]) : 0;
	at->id = (uint64_t)sqlite3_value_int64(v[3]);
	return at->table != NULL && at->column != NULL;
}

static int
locked(sqlite3_context *ctx, struct trust_keys *k)
{
	if (k->rec != NULL)
		return 0;
	sqlite3_result_error(ctx, "trust store locked: no storage key yet", -1);
	sqlite3_result_error_code(ctx, SQLITE_AUTH);
	return 1;
}

static void
fn_seal(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
	static uint8_t pt_none[1] = { SEALED_BLOB };
	struct trust_keys *k = sqlite3_user_data(ctx);
	struct crypto_record_at at;
	struct sb_buf out = SB_BUF_INIT;
	uint8_t num[9], *pt = pt_none;
	uint8_t *big = NULL;
	size_t n = 1;
	int rc;

	(void)argc;
	if (locked(ctx, k))
		return;
	if (!place(v, &at)) {
		sqlite3_result_error(ctx, "sb_seal: no table or column", -1);
		return;
	}
	switch (sqlite3_value_type(v[4])) {
	case SQLITE_INTEGER:
		num[0] = SEALED_INT;
		sb_store_u64be(num + 1, (uint64_t)sqlite3_value_int64(v[4]));
		pt = num;
		n = sizeof(num);
		break;
	case SQLITE_NULL:
		break;
	case SQLITE_BLOB:
		n = (size_t)sqlite3_value_bytes(v[4]);
		if (n >= CRYPTO_RECORD_MAX || (big = malloc(n + 1)) == NULL) {
			sqlite3_result_error(ctx, "sb_seal: value too big", -1);
			return;
		}
		big[0] = SEALED_BLOB;
		if (n > 0)
			memcpy(big + 1, sqlite3_value_blob(v[4]), n);
		pt = big;
		n++;
		break;
	default:
		sqlite3_result_error(ctx, "sb_seal: an integer or a blob", -1);
		return;
	}
	rc = crypto_record_seal(k->rec, &at, pt, n, &out);
	free(big);
	if (rc == SB_OK)
		sqlite3_result_blob(ctx, out.d, (int)out.len, SQLITE_TRANSIENT);
	else
		sqlite3_result_error(ctx, sb_strerror(rc), -1);
	sb_buf_free(&out);
}

static void
fn_open(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
	struct trust_keys *k = sqlite3_user_data(ctx);
	struct crypto_record_at at;
	struct sb_buf out = SB_BUF_INIT;
	int rc;

	(void)argc;
	if (locked(ctx, k))
		return;
	/* Anything that is not a sealed blob of this place is not trusted:
	 * NULL, the caller's sign of a failed check. */
	if (!place(v, &at) || sqlite3_value_type(v[4]) != SQLITE_BLOB) {
		sqlite3_result_null(ctx);
		return;
	}
	rc = crypto_record_open(k->rec, &at, sqlite3_value_blob(v[4]),
	    (size_t)sqlite3_value_bytes(v[4]), &out);
	if (rc == SB_ERR_TAG || rc == SB_ERR_FORMAT || rc == SB_ERR_LENGTH)
		sqlite3_result_null(ctx);
	else if (rc != SB_OK)
		sqlite3_result_error(ctx, sb_strerror(rc), -1);
	else if (out.len == 9 && out.d[0] == SEALED_INT)
		sqlite3_result_int64(ctx, (sqlite3_int64)u64be(out.d + 1));
	else if (out.len == 1 && out.d[0] == SEALED_BLOB)
		sqlite3_result_zeroblob(ctx, 0);
	else if (out.len > 1 && out.d[0] == SEALED_BLOB)
		sqlite3_result_blob(ctx, out.d + 1, (int)out.len - 1, SQLITE_TRANSIENT);
	else
		sqlite3_result_null(ctx);
	sb_buf_free(&out);
}

/* sb_scanned(DATA_VERSION): 1 when this connection last scanned at that
 * data_version (nobody else has written since), else 0 and DATA_VERSION
 * is remembered as scanned (the caller scans now). */
static void
fn_scanned(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
	struct trust_keys *k = sqlite3_user_data(ctx);
	int64_t dv = sqlite3_value_int64(v[0]);

	(void)argc;
	if (locked(ctx, k))
		return;
	sqlite3_result_int(ctx, k->scanned == dv);
	k->scanned = dv;
}

static void
fn_ready(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
	struct trust_keys *k = sqlite3_user_data(ctx);

	(void)argc;
	(void)v;
	sqlite3_result_int(ctx, k->rec != NULL);
}

int
trust_store_key(sqlite3 *db, const uint8_t *storage_key)
{
	const int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY;
	struct trust_keys *k = calloc(1, sizeof(*k));
	int rc;

	if (k == NULL)
		return SB_ERR_ALLOC;
	k->scanned = -1;
	if (storage_key != NULL &&
	    (rc = crypto_record_new(storage_key, CRYPTO_RECORD_TRUST, &k->rec)) != SB_OK) {
		free(k);
		return rc;
	}
	/* sb_seal owns k (freed when replaced or at close; SQLite frees it if
	 * the registration fails); the other two borrow it, so they are
	 * replaced right after, or dropped. */
	if (sqlite3_create_function_v2(db, "sb_seal", 5, flags, k, fn_seal, NULL, NULL,
	    keys_free) != SQLITE_OK)
		return store_err(db, SQLITE_ERROR, "trust store key");
	if (sqlite3_create_function_v2(db, "sb_open", 5, flags, k, fn_open, NULL, NULL,
	    NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(db, "sb_ready", 0, flags, k, fn_ready, NULL, NULL,
	    NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(db, "sb_scanned", 1, flags, k, fn_scanned, NULL, NULL,
	    NULL) != SQLITE_OK) {
		(void)sqlite3_create_function_v2(db, "sb_open", 5, flags, NULL, NULL, NULL,
		    NULL, NULL);
		(void)sqlite3_create_function_v2(db, "sb_ready", 0, flags, NULL, NULL, NULL,
		    NULL, NULL);
		(void)sqlite3_create_function_v2(db, "sb_scanned", 1, flags, NULL, NULL, NULL,
		    NULL, NULL);
		return store_err(db, SQLITE_ERROR, "trust store key");
	}
	return trust_schema(db);
}

int
trust_ready(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int ready = 0;

	if (sqlite3_prepare_v2(db, "SELECT sb_ready()", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		ready = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return ready ? SB_OK : SB_ERR_KEY_MISSING;
}

/* ---- the schema ------------------------------------------------------------ */

static const char *const schema_steps[] = {
	/* v1 (issue 14).  Events are enum trust_event values: never
	 * renumbered.  n is the device id, or a tree size for log events;
	 * closed is when the user accepted or confirmed (0 while open). */
	"CREATE TABLE trust_pins("
	" address TEXT NOT NULL, device_id INTEGER NOT NULL,"
	" identity BLOB NOT NULL, hash BLOB NOT NULL, pinned INTEGER NOT NULL,"
	" PRIMARY KEY(address, device_id));"
	"CREATE TABLE trust_alerts("
	" id INTEGER PRIMARY KEY, time INTEGER NOT NULL, address TEXT NOT NULL,"
	" event INTEGER NOT NULL, n INTEGER NOT NULL, old_hash BLOB, new_hash BLOB,"
	" closed INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX trust_alerts_open ON trust_alerts(address, closed);"
	"CREATE TABLE trust_contacts("
	" address TEXT PRIMARY KEY, verified_set BLOB, verified_at INTEGER NOT NULL);",
	/* v2: our own account (self: this device's id on the row of our own
	 * address, 0 on every other) and the devices this one approved, so
	 * that a device of our account that we did not approve is an alert. */
	"ALTER TABLE trust_contacts ADD COLUMN self INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE trust_approvals("
	" address TEXT NOT NULL, device_id INTEGER NOT NULL, hash BLOB NOT NULL,"
	" approved INTEGER NOT NULL, PRIMARY KEY(address, device_id));"
	/* Devices this one removed: ids are never reused by the relay, so
	 * one named again is a stale answer (a cache), never news. */
	"CREATE TABLE trust_removed("
	" address TEXT NOT NULL, device_id INTEGER NOT NULL, removed INTEGER NOT NULL,"
	" PRIMARY KEY(address, device_id));",
	/* v3: the transparency log (docs/PROTOCOL.md section 14).  A device
	 * the log shows added without any countersignature to an account
	 * that had devices is pinned refused: nothing is sealed to it and
	 * nothing from it is shown until the user accepts it.  trust_log
	 * keeps the newest tree head this device accepted (one row). */
	"ALTER TABLE trust_pins ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE trust_log("
	" id INTEGER PRIMARY KEY CHECK (id = 1), head BLOB NOT NULL,"
	" size INTEGER NOT NULL, updated INTEGER NOT NULL);",
	/* v4: sealed at rest (trust_store.c).  Every value that decides
	 * what is trusted becomes sb_seal(...) of itself, in place; the
	 * times of pinning, approval and the head's update stay plain (they
	 * decide nothing).  Needs the storage key: trust_schema runs it only
	 * once the key is there (the first mount with the keyring). */
	"UPDATE trust_pins SET"
	" identity = " SEAL("trust_pins", "identity", "address", "device_id", "identity") ","
	" hash = " SEAL("trust_pins", "hash", "address", "device_id", "hash") ","
	" refused = " SEAL("trust_pins", "refused", "address", "device_id", "refused") ";"
	"UPDATE trust_contacts SET"
	" verified_set = " SEAL("trust_contacts", "verified_set", "address", "0", "verified_set") ","
	" verified_at = " SEAL("trust_contacts", "verified_at", "address", "0", "verified_at") ","
	" self = " SEAL("trust_contacts", "self", "address", "0", "self") ";"
	"UPDATE trust_approvals SET"
	" hash = " SEAL("trust_approvals", "hash", "address", "device_id", "hash") ";"
	"UPDATE trust_removed SET"
	" removed = " SEAL("trust_removed", "removed", "address", "device_id", "removed") ";"
	"DROP INDEX trust_alerts_open;"
	"CREATE INDEX trust_alerts_address ON trust_alerts(address);"
	"UPDATE trust_alerts SET"
	" time = " SEAL("trust_alerts", "time", "address", "id", "time") ","
	" event = " SEAL("trust_alerts", "event", "address", "id", "event") ","
	" n = " SEAL("trust_alerts", "n", "address", "id", "n") ","
	" old_hash = " SEAL("trust_alerts", "old_hash", "address", "id", "old_hash") ","
	" new_hash = " SEAL("trust_alerts", "new_hash", "address", "id", "new_hash") ","
	" closed = " SEAL("trust_alerts", "closed", "address", "id", "closed") ";"
	"UPDATE trust_log SET"
	" head = " SEAL("trust_log", "head", "''", "id", "head") ","
	" size = " SEAL("trust_log", "size", "''", "id", "size") ";",
	/* v5: the newest alert id, sealed (trust_store.c): alerts are never
	 * deleted and their ids run 1, 2, ..., so a gap or a newest one gone
	 * shows that someone deleted alerts. */
	"CREATE TABLE trust_meta(id INTEGER PRIMARY KEY CHECK (id = 1), alerts BLOB NOT NULL);"
	"INSERT INTO trust_meta(id, alerts) SELECT 1, "
	SEAL("trust_meta", "alerts", "''", "1", "coalesce(max(id), 0)") " FROM trust_alerts;",
};

int
trust_schema(sqlite3 *db)
{
	const size_t n = sizeof(schema_steps) / sizeof(schema_steps[0]);
	int64_t before = 0;
	int rc;

	/* Without the storage key nothing is made or converted: a home whose
	 * keyring has not answered yet gets its tables at the first mount
	 * that has it (every trust_* call says SB_ERR_KEY_MISSING till then). */
	if (trust_ready(db) != SB_OK)
		return SB_OK;
	if ((rc = store_query_int(db, "SELECT version FROM store_schema WHERE component = ?",
	    "trust", 0, &before)) != SB_OK)
		return rc;
	/* Converting plain rows: their old bytes must not stay behind in
	 * freed cells or in the WAL. */
	if (before > 0 && (size_t)before < n)
		(void)store_exec(db, "PRAGMA secure_delete = ON");
	rc = store_migrate(db, "trust", schema_steps, n);
	if (before > 0 && (size_t)before < n) {
		(void)store_exec(db, "PRAGMA secure_delete = OFF");
		if (rc == SB_OK)
			(void)store_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	}
	if (rc != SB_OK || before != 0)
		return rc;
	if ((rc = store_begin(db)) != SB_OK)
		return rc;
	return store_end(db, trust_import_legacy(db, (int64_t)time(NULL)));
}

int
trust_store_open(const char *home, const char *address, uint64_t device_id,
    sqlite3 **out)
{
	char *path = NULL, dev[24];
	uint8_t *key = NULL;
	int rc;

	*out = NULL;
	snprintf(dev, sizeof(dev), "%llu", (unsigned long long)device_id);
	if ((rc = keyring_init()) != SB_OK)
		return rc;
	if ((key = OPENSSL_secure_malloc(KEYRING_STORAGE_KEY_LEN)) == NULL)
		return SB_ERR_ALLOC;
	if ((rc = keyring_load_storage_key(address, dev, key)) != SB_OK)
		goto out;
	if (asprintf(&path, "%s/store.db", home) < 0) {
		path = NULL;
		rc = SB_ERR_ALLOC;
		goto out;
	}
	if ((rc = store_open(path, out)) == SB_OK &&
	    (rc = trust_store_key(*out, key)) != SB_OK) {
		store_close(*out);
		*out = NULL;
	}
out:
	OPENSSL_secure_clear_free(key, KEYRING_STORAGE_KEY_LEN);
	free(path);
	return rc;
}

/* ---- rows that do not open ------------------------------------------------ */

/* Each sealed table: how its rows name their address and row id, and its
 * sealed columns (the AAD of each value is table, column, address, id). */
static const struct sealed_table {
	const char *table, *addr, *id;
	const char *cols[6];
} sealed[] = {
	{ "trust_pins", "address", "device_id", { "identity", "hash", "refused" } },
	{ "trust_contacts", "address", "0", { "verified_set", "verified_at", "self" } },
	{ "trust_approvals", "address", "device_id", { "hash" } },
	{ "trust_removed", "address", "device_id", { "removed" } },
	{ "trust_alerts", "address", "id",
	    { "time", "event", "n", "old_hash", "new_hash", "closed" } },
	{ "trust_log", "''", "id", { "head", "size" } },
};

/* "sb_open(..) IS NULL OR .." over t's sealed columns into buf. */
static void
bad_expr(const struct sealed_table *t, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < 6 && t->cols[i] != NULL && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off,
		    "%ssb_open('%s', '%s', %s, %s, %s) IS NULL", i ? " OR " : "",
		    t->table, t->cols[i], t->addr, t->id, t->cols[i]);
}

/* SQL for t: what (SELECT DISTINCT address / DELETE) of the rows of
 * address ?1 (any when NULL) that do not open. */
static int
bad_sql(const struct sealed_table *t, int del, char *sql, size_t size)
{
	char bad[1024];
	int n;

	bad_expr(t, bad, sizeof(bad));
	n = snprintf(sql, size, "%s FROM %s WHERE (?1 IS NULL OR %s = ?1) AND (%s)",
	    del ? "DELETE" : "SELECT DISTINCT coalesce(address, '')", t->table,
	    t->addr, bad);
	/* trust_log has no address column: it is our own account's. */
	if (!del && strcmp(t->addr, "''") == 0)
		n = snprintf(sql, size, "SELECT coalesce((SELECT address FROM"
		    " trust_contacts WHERE sb_open('trust_contacts', 'self', address, 0,"
		    " self) != 0), '-') FROM trust_log WHERE ?1 IS NULL AND (%s)", bad);
	else if (del && strcmp(t->addr, "''") == 0)
		n = snprintf(sql, size, "DELETE FROM trust_log WHERE ?1 IS NULL AND (%s)", bad);
	return n > 0 && (size_t)n < size ? SB_OK : SB_ERR_INTERNAL;
}

/* ---- alerts deleted -------------------------------------------------------- */

int
trust_store_alerts_mark(sqlite3 *db, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(db, "UPDATE trust_meta SET alerts = sb_seal('trust_meta',"
	    " 'alerts', '', 1, ?1) WHERE id = 1", &st);

	if (rc != SB_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = store_step_done(db, st);
	sqlite3_finalize(st);
	return rc;
}

/* Fills every missing alert id up to top with a placeholder (address "",
 * event 0: sealed like any alert, worded by no listing), so that a gap
 * found once is not found again. */
static int
fill_gaps(sqlite3 *db, int64_t top, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(db, "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL"
	    " SELECT i + 1 FROM k WHERE i < ?1) INSERT INTO trust_alerts(id, address,"
	    " time, event, n, old_hash, new_hash, closed) SELECT i, '',"
	    " sb_seal('trust_alerts', 'time', '', i, ?2),"
	    " sb_seal('trust_alerts', 'event', '', i, 0),"
	    " sb_seal('trust_alerts', 'n', '', i, 0),"
	    " sb_seal('trust_alerts', 'old_hash', '', i, NULL),"
	    " sb_seal('trust_alerts', 'new_hash', '', i, NULL),"
	    " sb_seal('trust_alerts', 'closed', '', i, ?2)"
	    " FROM k WHERE i NOT IN (SELECT id FROM trust_alerts)", &st);

	if (rc != SB_OK)
		return rc;
	sqlite3_bind_int64(st, 1, top);
	sqlite3_bind_int64(st, 2, now);
	rc = store_step_done(db, st);
	sqlite3_finalize(st);
	return rc;
}

/*
 * *gone: alerts were deleted (a gap in the ids, the newest one gone, or
 * the sealed mark itself gone or not opening).  Then the gaps are filled
 * and the mark set again, so the loss is reported once.
 */
static int
alerts_check(sqlite3 *db, int64_t now, int *gone)
{
	sqlite3_stmt *st = NULL;
	int64_t rows = 0, top = 0, mark = -1;
	int rc, have = 0;

	*gone = 0;
	if ((rc = store_prepare(db, "SELECT count(*), coalesce(max(id), 0),"
	    " (SELECT count(*) FROM trust_meta), (SELECT sb_open('trust_meta', 'alerts',"
	    " '', id, alerts) FROM trust_meta WHERE id = 1) FROM trust_alerts", &st)) != SB_OK)
		return rc;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows = sqlite3_column_int64(st, 0);
		top = sqlite3_column_int64(st, 1);
		have = sqlite3_column_int64(st, 2) > 0;
		if (sqlite3_column_type(st, 3) == SQLITE_INTEGER)
			mark = sqlite3_column_int64(st, 3);
		rc = SB_OK;
	} else {
		rc = store_err(db, rc, "trust alerts mark");
	}
	sqlite3_finalize(st);
	if (rc != SB_OK || (have && mark >= 0 && mark <= top && rows == top))
		return rc;
	*gone = 1;
	if (mark > top)
		top = mark;
	if ((rc = fill_gaps(db, top, now)) != SB_OK)
		return rc;
	if (!have && (rc = store_exec(db, "INSERT INTO trust_meta(id, alerts)"
	    " VALUES (1, x'')")) != SB_OK)
		return rc;
	return trust_store_alerts_mark(db, top);
}

/* Our own address (the trust_contacts row with self), or "-". */
static void
self_address(sqlite3 *db, char out[SB_MAX_ADDRESS + 1])
{
	sqlite3_stmt *st = NULL;

	snprintf(out, SB_MAX_ADDRESS + 1, "-");
	if (store_prepare(db, "SELECT address FROM trust_contacts WHERE"
	    " sb_open('trust_contacts', 'self', address, 0, self) != 0 LIMIT 1", &st) == SB_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		snprintf(out, SB_MAX_ADDRESS + 1, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/*
 * 1 when nobody but this connection wrote store.db since its last scan:
 * its own writes go through trust.c, which seals what it writes, so only
 * another writer (a command beside the mount, or someone editing the
 * file) can have left a row that does not open.  Saves the scan's SQL on
 * every send and every received message.
 */
static int
scan_needed(sqlite3 *db, int *needed)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*needed = 1;
	if (sqlite3_prepare_v2(db, "SELECT sb_scanned(data_version) FROM pragma_data_version",
	    -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return SB_ERR_KEY_MISSING;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*needed = sqlite3_column_int(st, 0) == 0;
		rc = SB_OK;
	} else {
		rc = rc == SQLITE_AUTH ? SB_ERR_KEY_MISSING : store_err(db, rc, "trust scan");
	}
	sqlite3_finalize(st);
	return rc;
}

int
trust_store_scan(sqlite3 *db, int64_t now, FILE *logf)
{
	char sql[2048], found[8][SB_MAX_ADDRESS + 1];
	struct sb_buf log = SB_BUF_INIT;
	size_t n_found = 0;
	int needed = 1, gone = 0;
	int rc = scan_needed(db, &needed);

	if (rc != SB_OK || !needed)
		return rc;
	/* Best effort too: a read-only store cannot mend the gaps. */
	if (alerts_check(db, now, &gone) == SB_OK && gone)
		self_address(db, found[n_found++]);
	for (size_t i = 0; rc == SB_OK && i < sizeof(sealed) / sizeof(sealed[0]); i++) {
		sqlite3_stmt *st = NULL;

		if ((rc = bad_sql(&sealed[i], 0, sql, sizeof(sql))) != SB_OK ||
		    (rc = store_prepare(db, sql, &st)) != SB_OK)
			break;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *a = (const char *)sqlite3_column_text(st, 0);
			size_t k;

			for (k = 0; k < n_found && strcmp(found[k], a ? a : "") != 0; k++)
				;
			if (k == n_found && n_found < sizeof(found) / sizeof(found[0]))
				snprintf(found[n_found++], sizeof(found[0]), "%s", a ? a : "");
		}
		rc = rc == SQLITE_DONE ? SB_OK : store_err(db, rc, "trust integrity");
		sqlite3_finalize(st);
	}
	/* Recorded once while open; a store opened read-only (sealbox status
	 * beside no mount) cannot record it, and the next mount will. */
	for (size_t k = 0; rc == SB_OK && k < n_found; k++) {
		struct trust_alert al = {
			.time = now, .address = found[k][0] ? found[k] : "-",
			.event = TRUST_EV_INTEGRITY,
		};

		(void)trust_alert_once(db, &al, &log);
	}
	if (logf != NULL && log.len > 0) {
		fwrite(log.d, 1, log.len, logf);
		fflush(logf);
	}
	/* Not looked at everything: the next call looks again. */
	if (rc != SB_OK)
		(void)store_exec(db, "SELECT sb_scanned(-2)");
	sb_buf_free(&log);
	return rc;
}

int
trust_store_purge(sqlite3 *db, const char *addr)
{
	char sql[2048];
	int rc = SB_OK;

	for (size_t i = 0; rc == SB_OK && i < sizeof(sealed) / sizeof(sealed[0]); i++) {
		sqlite3_stmt *st = NULL;

		if ((rc = bad_sql(&sealed[i], 1, sql, sizeof(sql))) != SB_OK ||
		    (rc = store_prepare(db, sql, &st)) != SB_OK)
			break;
		sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
		rc = store_step_done(db, st);
		sqlite3_finalize(st);
	}
	/* Alert ids stay taken: the ones just deleted become placeholders. */
	if (rc == SB_OK) {
		int64_t top = 0;

		if ((rc = store_query_int(db, "SELECT max((SELECT coalesce(max(id), 0) FROM"
		    " trust_alerts), coalesce((SELECT sb_open('trust_meta', 'alerts', '', id,"
		    " alerts) FROM trust_meta WHERE id = 1), 0))", NULL, 0, &top)) == SB_OK)
			rc = fill_gaps(db, top, (int64_t)time(NULL));
	}
	return rc;
}
