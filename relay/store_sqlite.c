/*
 * store_sqlite.c - the embedded relay store (store.h) on SQLite.
 *
 * Durability: journal_mode=WAL with synchronous=FULL, so a COMMIT has been
 * fsync'd to the WAL before sqlite3_step returns; "accepted" is only sent
 * after that (DESIGN.md section 5).  A group (group_begin) is one such
 * COMMIT for every SEND and ACK of one turn of the relay's loop, each op
 * in a savepoint of its own.  busy_timeout lets `sealbox-relay
 * invite` write while `serve` runs.  Every statement binds its parameters;
 * no SQL is ever built from input.  Payloads are stored as opaque BLOBs.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "../common/sberr.h"
#include "../tlog/tlog.h"
#include "store.h"

_Static_assert(RELAY_LOG_ENTRY_MAX == TLOG_MAX_ENTRY, "one cap for a log entry");
_Static_assert(SB_MAX_LOG_ENTRIES == TLOG_MAX_ADDR_ENTRIES, "one cap per address");

#define STMT_CACHE 24

struct sqlite_store {
	struct relay_store base;   /* first: the ops table */
	sqlite3 *db;
	int group;                 /* a group (group_begin) is open */
	int group_lost;            /* ...and SQLite rolled it back under us */
	/* The statements of the message path, prepared once (cprep). */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS invites ("
	"  code_hash BLOB PRIMARY KEY, address TEXT NOT NULL,"
	"  created INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS devices ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, address TEXT NOT NULL,"
	"  name TEXT NOT NULL, suite INTEGER NOT NULL, identity BLOB NOT NULL,"
	"  created INTEGER NOT NULL, last_seen INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS devices_addr ON devices(address);"
	"CREATE TABLE IF NOT EXISTS queue ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, device_id INTEGER NOT NULL,"
	"  msgid BLOB NOT NULL, sender TEXT NOT NULL, sender_device INTEGER NOT NULL,"
	"  ts INTEGER NOT NULL, payload BLOB NOT NULL);"
	"CREATE INDEX IF NOT EXISTS queue_dev ON queue(device_id, id);"
	"CREATE INDEX IF NOT EXISTS queue_ts ON queue(ts);"
	"CREATE TABLE IF NOT EXISTS status ("
	"  sender_device INTEGER NOT NULL, msgid BLOB NOT NULL,"
	"  device_id INTEGER NOT NULL, item_id INTEGER NOT NULL,"
	"  state INTEGER NOT NULL, ts INTEGER NOT NULL,"
	"  PRIMARY KEY (sender_device, msgid, device_id));"
	"CREATE INDEX IF NOT EXISTS status_item ON status(item_id);"
	"CREATE INDEX IF NOT EXISTS status_ts ON status(ts);"
	"CREATE TABLE IF NOT EXISTS blobs ("
	"  uri TEXT PRIMARY KEY, size INTEGER NOT NULL, owner INTEGER NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS link_offers ("
	"  address TEXT NOT NULL, identity BLOB NOT NULL, suite INTEGER NOT NULL,"
	"  name TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (address, identity));";

/*
 * The transparency log (docs/PROTOCOL.md 14): idx is the leaf index from
 * 0, entry the canonical bytes, leaf their RFC 9162 leaf hash.  The
 * triggers make the table append-only for every writer of this file (a
 * bug that rewrote history would fork the log for everyone); an attacker
 * with the database drops them, and the devices notice (SECURITY.md).
 */
static const char log_schema[] =
	"CREATE TABLE IF NOT EXISTS log ("
	"  idx INTEGER PRIMARY KEY, addr BLOB NOT NULL, seq INTEGER NOT NULL,"
	"  entry BLOB NOT NULL, leaf BLOB NOT NULL, UNIQUE (addr, seq));"
	"CREATE TRIGGER IF NOT EXISTS log_no_update BEFORE UPDATE ON log BEGIN"
	"  SELECT RAISE(ABORT, 'the log is append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS log_no_delete BEFORE DELETE ON log BEGIN"
	"  SELECT RAISE(ABORT, 'the log is append-only'); END;";

/*
 * Quota counters (issue 12, finding 6), kept by triggers so that every
 * path that adds or deletes a row - send, ack, expiry, device removal -
 * charges or refunds in the same transaction, and a quota check is one
 * row lookup: summing the queue per SEND took 350 ms for 100,000 items of
 * 4 KiB, which a flooder at its quota could repeat 100 times a second.
 * A blob is charged at least one 64 KiB chunk: a million 1-byte blobs
 * would cost a million files for nothing.
 */
static const char usage_schema[] =
	"CREATE TABLE IF NOT EXISTS sender_usage (sender TEXT PRIMARY KEY,"
	"  items INTEGER NOT NULL, bytes INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS device_usage (device_id INTEGER PRIMARY KEY,"
	"  items INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS blob_usage (owner INTEGER PRIMARY KEY,"
	"  bytes INTEGER NOT NULL);"
	"CREATE TRIGGER IF NOT EXISTS queue_charge AFTER INSERT ON queue BEGIN"
	"  INSERT INTO sender_usage VALUES (NEW.sender, 1, length(NEW.payload))"
	"   ON CONFLICT(sender) DO UPDATE SET items = items + 1,"
	"   bytes = bytes + length(NEW.payload);"
	"  INSERT INTO device_usage VALUES (NEW.device_id, 1)"
	"   ON CONFLICT(device_id) DO UPDATE SET items = items + 1;"
	" END;"
	"CREATE TRIGGER IF NOT EXISTS queue_refund AFTER DELETE ON queue BEGIN"
	"  UPDATE sender_usage SET items = items - 1, bytes = bytes - length(OLD.payload)"
	"   WHERE sender = OLD.sender;"
	"  UPDATE device_usage SET items = items - 1 WHERE device_id = OLD.device_id;"
	" END;"
	"CREATE TRIGGER IF NOT EXISTS blob_charge AFTER INSERT ON blobs BEGIN"
	"  INSERT INTO blob_usage VALUES (NEW.owner, max(NEW.size, 65536))"
	"   ON CONFLICT(owner) DO UPDATE SET bytes = bytes + max(NEW.size, 65536);"
	" END;"
	"CREATE TRIGGER IF NOT EXISTS blob_refund AFTER DELETE ON blobs BEGIN"
	"  UPDATE blob_usage SET bytes = bytes - max(OLD.size, 65536) WHERE owner = OLD.owner;"
	" END;";

/* A database from before the counters: fill them once from the rows (a
 * counter table is empty only then, or while there is nothing to count). */
static const char usage_backfill[] =
	"BEGIN IMMEDIATE;"
	"INSERT INTO sender_usage SELECT sender, count(*), sum(length(payload)) FROM queue"
	"  WHERE NOT EXISTS (SELECT 1 FROM sender_usage) GROUP BY sender;"
	"INSERT INTO device_usage SELECT device_id, count(*) FROM queue"
	"  WHERE NOT EXISTS (SELECT 1 FROM device_usage) GROUP BY device_id;"
	"INSERT INTO blob_usage SELECT owner, sum(max(size, 65536)) FROM blobs"
	"  WHERE NOT EXISTS (SELECT 1 FROM blob_usage) GROUP BY owner;"
	"COMMIT;";

static sqlite3 *
db_of(struct relay_store *s)
{
	return ((struct sqlite_store *)s)->db;
}

/* A failed write names a full disk apart from every other storage
 * failure: it is the one the operator can fix and the sender should wait
 * out (SQLite reports ENOSPC as SQLITE_FULL). */
static int
failed(int sqlite_rc)
{
	return (sqlite_rc & 0xff) == SQLITE_FULL ? SB_ERR_NO_SPACE : SB_ERR_STORAGE;
}

static int
exec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? SB_OK : failed(rc);
}

static int
prep(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	return sqlite3_prepare_v2(db, sql, -1, st, NULL) == SQLITE_OK ?
	    SB_OK : SB_ERR_STORAGE;
}

/* Runs a statement that returns no rows; finalizes it. */
static int
run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SB_OK : failed(rc);
}

/*
 * A statement of the message path (SEND, push, ACK), prepared once for the
 * connection's life and found again by its SQL literal's address: parsing
 * the SQL each time was most of the relay's instructions per message
 * (bench/NOTES.md).  The caller gives it back with cdone, never finalizes it.
 */
static int
cprep(struct relay_store *st, const char *sql, sqlite3_stmt **out)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	size_t i;

	*out = NULL;
	for (i = 0; i < STMT_CACHE && s->cache[i].sql != NULL; i++)
		if (s->cache[i].sql == sql) {
			*out = s->cache[i].st;
			return SB_OK;
		}
	if (i == STMT_CACHE ||
	    sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
		return SB_ERR_STORAGE;   /* STMT_CACHE too small: a bug, caught by the tests */
	s->cache[i].sql = sql;
	s->cache[i].st = *out;
	return SB_OK;
}

/* Ends a use of a cached statement (its read, if any, is over). */
static void
cdone(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs a cached statement that returns no rows. */
static int
crun(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	cdone(st);
	return rc == SQLITE_DONE ? SB_OK : failed(rc);
}

static int
begin(sqlite3 *db)
{
	/* IMMEDIATE takes the write lock up front, so a transaction never has
	 * to be retried halfway through because another writer got in. */
	return exec(db, "BEGIN IMMEDIATE");
}

static int
end(sqlite3 *db, int rc)
{
	if (rc == SB_OK)
		rc = exec(db, "COMMIT");
	if (rc != SB_OK)
		exec(db, "ROLLBACK");
	return rc;
}

/* A cached statement without parameters or rows (the savepoints, one per
 * op of a group). */
static int
cexec(struct relay_store *st, const char *sql)
{
	sqlite3_stmt *q;

	if (cprep(st, sql, &q) != SB_OK)
		return SB_ERR_STORAGE;
	return crun(q);
}

/*
 * An op's own transaction, or inside a group its savepoint.  SQLite may
 * roll a whole transaction back by itself after SQLITE_FULL, IOERR or
 * NOMEM (autocommit is then on again): the group is lost, and every op
 * after that fails instead of committing on its own.
 */
static int
tx_begin(struct relay_store *st)
{
	struct sqlite_store *s = (struct sqlite_store *)st;

	if (!s->group)
		return begin(s->db);
	if (s->group_lost || sqlite3_get_autocommit(s->db)) {
		s->group_lost = 1;
		return SB_ERR_STORAGE;
	}
	return cexec(st, "SAVEPOINT op");
}

static int
tx_end(struct relay_store *st, int rc)
{
	struct sqlite_store *s = (struct sqlite_store *)st;

	if (!s->group)
		return end(s->db, rc);
	if (rc == SB_OK)
		rc = cexec(st, "RELEASE op");
	if (rc != SB_OK && !sqlite3_get_autocommit(s->db)) {
		cexec(st, "ROLLBACK TO op");
		cexec(st, "RELEASE op");
	}
	if (sqlite3_get_autocommit(s->db))
		s->group_lost = 1;
	return rc;
}

static int
sq_group_begin(struct relay_store *st)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	int rc;

	if (s->group)
		return SB_ERR_INVALID_ARG;
	if ((rc = begin(s->db)) != SB_OK)
		return rc;
	s->group = 1;
	s->group_lost = 0;
	return SB_OK;
}

/* COMMIT in WAL mode with synchronous=FULL: one fsync of the WAL for the
 * whole group. */
static int
sq_group_end(struct relay_store *st, int commit)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	int rc = SB_OK;

	if (!s->group)
		return SB_ERR_INVALID_ARG;
	s->group = 0;
	if (s->group_lost || sqlite3_get_autocommit(s->db))
		return commit ? SB_ERR_STORAGE : SB_OK;
	if (commit)
		rc = exec(s->db, "COMMIT");
	if ((!commit || rc != SB_OK) && !sqlite3_get_autocommit(s->db))
		exec(s->db, "ROLLBACK");
	return rc;
}

static void
copy_text(char *dst, size_t cap, const unsigned char *src)
{
	size_t n = src == NULL ? 0 : strlen((const char *)src);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src == NULL ? (const unsigned char *)"" : src, n);
	dst[n] = '\0';
}

static void
sq_close(struct relay_store *s)
{
	struct sqlite_store *q = (struct sqlite_store *)s;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < STMT_CACHE; i++)
		sqlite3_finalize(q->cache[i].st);
	sqlite3_close(db_of(s));
	free(s);
}

static int
sq_invite_add(struct relay_store *s, const char *address,
    const uint8_t code_hash[RELAY_CODE_HASH_LEN], uint64_t now)
{
	sqlite3_stmt *st;

	if (prep(db_of(s), "INSERT INTO invites(code_hash,address,created) VALUES(?,?,?)",
	    &st) != SB_OK)
		return SB_ERR_STORAGE;
	sqlite3_bind_blob(st, 1, code_hash, RELAY_CODE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
	return run(st);
}

static int
count_devices(sqlite3 *db, const char *address, int64_t *n)
{
	sqlite3_stmt *st;
	int rc;

	if (prep(db, "SELECT count(*) FROM devices WHERE address=?", &st) != SB_OK)
		return SB_ERR_STORAGE;
	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_ROW ? SB_OK : SB_ERR_STORAGE;
	*n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc;
}

static int
consume_code(sqlite3 *db, const char *address,
    const uint8_t code_hash[RELAY_CODE_HASH_LEN], uint64_t not_before)
{
	sqlite3_stmt *st;
	int rc;

	/* One UPDATE both checks and consumes: address, unused, fresh. */
	if (prep(db, "UPDATE invites SET used=1 WHERE code_hash=? AND address=?"
	    " AND used=0 AND created>=?", &st) != SB_OK)
		return SB_ERR_STORAGE;
	sqlite3_bind_blob(st, 1, code_hash, RELAY_CODE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)not_before);
	if ((rc = run(st)) != SB_OK)
		return rc;
	return sqlite3_changes(db) == 1 ? SB_OK : SB_ERR_ENROLL_CODE;
}

/* One int64 from a query with an optional text/blob/int parameter. */
static int
query_i64(sqlite3 *db, const char *sql, const char *text, const uint8_t *blob,
    size_t blob_len, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	*out = 0;
	if (prep(db, sql, &st) != SB_OK)
		return SB_ERR_STORAGE;
	if (text != NULL)
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	else if (blob != NULL)
		sqlite3_bind_blob(st, 1, blob, (int)blob_len, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_ROW ? SB_OK : SB_ERR_STORAGE;
	*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc;
}

/*
 * Appends one entry (PROTOCOL 14.3) inside the caller's transaction: the
 * directory change and its entry commit together or not at all.  An add
 * is refused (TOO_BIG) once the address has RELAY_LOG_ADDR_ADDS_MAX
 * entries, so every answer still fits one frame.
 */
static int
log_append(sqlite3 *db, uint8_t kind, const char *address, uint64_t device,
    const uint8_t *identity, size_t identity_len, const struct relay_log_signer *by,
    uint64_t now)
{
	struct tlog_entry e;
	struct sb_buf b = SB_BUF_INIT;
	uint8_t leaf[TLOG_HASH_LEN];
	int64_t seq = 0, idx = 0;
	sqlite3_stmt *st;
	int rc;

	memset(&e, 0, sizeof(e));
	if ((rc = tlog_addr_hash(address, strlen(address), e.addr)) != SB_OK)
		return rc;
	if ((rc = query_i64(db, "SELECT coalesce(max(seq) + 1, 0) FROM log WHERE addr=?",
	    NULL, e.addr, sizeof(e.addr), &seq)) != SB_OK ||
	    (rc = query_i64(db, "SELECT coalesce(max(idx) + 1, 0) FROM log", NULL, NULL, 0,
	    &idx)) != SB_OK)
		return rc;
	if (kind == TLOG_ADD && seq >= (int64_t)RELAY_LOG_ADDR_ADDS_MAX)
		return SB_ERR_TOO_BIG;
	if (seq >= (int64_t)SB_MAX_LOG_ENTRIES)
		return SB_ERR_TOO_BIG;
	e.kind = kind;
	e.seq = (uint32_t)seq;
	e.device = device;
	e.time = now;
	e.identity = identity;
	e.identity_len = identity_len;
	if (by != NULL && by->signer != 0) {
		e.signer = by->signer;
		e.sig = by->sig;
		e.sig_len = by->sig_len;
	}
	if ((rc = tlog_entry_encode(&e, &b)) != SB_OK ||
	    (rc = tlog_leaf_hash(b.d, b.len, leaf)) != SB_OK) {
		sb_buf_free(&b);
		return rc == SB_ERR_LENGTH || rc == SB_ERR_INVALID_ARG ? SB_ERR_INVALID_ARG : rc;
	}
	if ((rc = prep(db, "INSERT INTO log(idx,addr,seq,entry,leaf) VALUES(?,?,?,?,?)",
	    &st)) == SB_OK) {
		sqlite3_bind_int64(st, 1, idx);
		sqlite3_bind_blob(st, 2, e.addr, sizeof(e.addr), SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, seq);
		sqlite3_bind_blob(st, 4, b.d, (int)b.len, SQLITE_STATIC);
		sqlite3_bind_blob(st, 5, leaf, sizeof(leaf), SQLITE_STATIC);
		rc = run(st);
	}
	sb_buf_free(&b);
	return rc;
}

static int
sq_enroll(struct relay_store *s, const char *address,
    const uint8_t code_hash[RELAY_CODE_HASH_LEN], uint64_t not_before,
    const char *name, uint8_t suite, const uint8_t *identity,
    size_t identity_len, uint64_t now, uint64_t *device_id)
{
	sqlite3 *db = db_of(s);
	sqlite3_stmt *st;
	int64_t have = 0;
	int rc;

	*device_id = 0;
	if ((rc = tx_begin(s)) != SB_OK)
		return rc;
	rc = consume_code(db, address, code_hash, not_before);
	if (rc == SB_OK)
		rc = count_devices(db, address, &have);
	if (rc == SB_OK && have >= (int64_t)SB_MAX_DEVICES_PER_ADDR)
		rc = SB_ERR_TOO_BIG;
	if (rc == SB_OK)
		rc = prep(db, "INSERT INTO devices(address,name,suite,identity,created)"
		    " VALUES(?,?,?,?,?)", &st);
	if (rc == SB_OK) {
		sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, suite);
		sqlite3_bind_blob(st, 4, identity, (int)identity_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
		rc = run(st);
	}
	if (rc == SB_OK) {
		*device_id = (uint64_t)sqlite3_last_insert_rowid(db);
		rc = log_append(db, TLOG_ADD, address, *device_id, identity, identity_len,
		    NULL, now);
	}
	rc = tx_end(s, rc);
	if (rc != SB_OK)
		*device_id = 0;
	return rc;
}

static void
row_to_device(sqlite3_stmt *st, struct relay_device *d)
{
	const void *idb = sqlite3_column_blob(st, 4);
	size_t n = (size_t)sqlite3_column_bytes(st, 4);

	memset(d, 0, sizeof(*d));
	d->id = (uint64_t)sqlite3_column_int64(st, 0);
	copy_text(d->address, sizeof(d->address), sqlite3_column_text(st, 1));
	copy_text(d->name, sizeof(d->name), sqlite3_column_text(st, 2));
	d->suite = (uint8_t)sqlite3_column_int(st, 3);
	if (n > sizeof(d->identity))
		n = 0;   /* cannot happen: enroll checks SB_MAX_IDENTITY */
	if (n > 0)
		memcpy(d->identity, idb, n);
	d->identity_len = n;
	d->created = (uint64_t)sqlite3_column_int64(st, 5);
	d->last_seen = (uint64_t)sqlite3_column_int64(st, 6);
}

#define DEVICE_COLS "id,address,name,suite,identity,created,last_seen"

static int
sq_device_get(struct relay_store *s, uint64_t id, struct relay_device *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if (cprep(s, "SELECT " DEVICE_COLS " FROM devices WHERE id=?", &st) != SB_OK)
		return SB_ERR_STORAGE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_to_device(st, out);
	cdone(st);
	return rc == SQLITE_ROW ? SB_OK : rc == SQLITE_DONE ? SB_ERR_NOT_FOUND : SB_ERR_STORAGE;
}

static int
sq_devices_of(struct relay_store *s, const char *address,
    struct relay_device **out, size_t *n)
{
	sqlite3_stmt *st;
	struct relay_device *v;
	size_t cnt = 0;
	int rc;

	*out = NULL;
	*n = 0;
	/* Not calloc: zeroing 32 records of 2 KiB identities per SEND was a
	 * third of the relay's instructions; row_to_device clears each row
	 * it fills, and only those are read. */
	v = malloc(SB_MAX_DEVICES_PER_ADDR * sizeof(*v));
	if (v == NULL)
		return SB_ERR_ALLOC;
	if (cprep(s, "SELECT " DEVICE_COLS " FROM devices WHERE address=?"
	    " ORDER BY id LIMIT ?", &st) != SB_OK) {
		free(v);
		return SB_ERR_STORAGE;
	}
	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, SB_MAX_DEVICES_PER_ADDR);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		row_to_device(st, &v[cnt++]);
	cdone(st);
	if (rc != SQLITE_DONE || cnt == 0) {
		free(v);
		return rc == SQLITE_DONE ? SB_OK : SB_ERR_STORAGE;
	}
	*out = v;
	*n = cnt;
	return SB_OK;
}

static int
bind_run_id(sqlite3 *db, const char *sql, uint64_t id)
{
	sqlite3_stmt *st;

	if (prep(db, sql, &st) != SB_OK)
		return SB_ERR_STORAGE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	return run(st);
}

static int
sq_device_remove(struct relay_store *s, uint64_t id, const struct relay_log_signer *by,
    uint64_t now)
{
	sqlite3 *db = db_of(s);
	struct relay_device d;
	int rc;

	if ((rc = tx_begin(s)) != SB_OK)
		return rc;
	/* The entry names the identity that leaves (PROTOCOL 14.3). */
	rc = sq_device_get(s, id, &d);
	if (rc == SB_OK)
		rc = log_append(db, TLOG_REMOVE, d.address, id, d.identity, d.identity_len,
		    by, now);
	if (rc == SB_OK)
		rc = bind_run_id(db, "DELETE FROM devices WHERE id=?", id);
	if (rc == SB_OK && sqlite3_changes(db) != 1)
		rc = SB_ERR_NOT_FOUND;
	if (rc == SB_OK)
		rc = bind_run_id(db, "UPDATE status SET state=4 WHERE device_id=? AND state=1", id);
	if (rc == SB_OK)
		rc = bind_run_id(db, "DELETE FROM queue WHERE device_id=?", id);
	return tx_end(s, rc);
}

static int
sq_device_seen(struct relay_store *s, uint64_t id, uint64_t now)
{
	sqlite3_stmt *st;

	if (cprep(s, "UPDATE devices SET last_seen=? WHERE id=?", &st) != SB_OK)
		return SB_ERR_STORAGE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	return crun(st);
}

static int
sq_invite_void(struct relay_store *s, const char *address, uint64_t *n)
{
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	if (prep(db_of(s), "DELETE FROM invites WHERE address=? AND used=0", &st) != SB_OK)
		return SB_ERR_STORAGE;
	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	if ((rc = run(st)) == SB_OK)
		*n = (uint64_t)sqlite3_changes(db_of(s));
	return rc;
}

static int
sq_link_offer_put(struct relay_store *s, const char *address, uint8_t suite,
    const uint8_t *identity, size_t identity_len, const char *name, uint64_t now,
    uint64_t not_before)
{
	sqlite3 *db = db_of(s);
	sqlite3_stmt *st;
	int64_t others = 0;
	int rc;

	if ((rc = tx_begin(s)) != SB_OK)
		return rc;
	if ((rc = prep(db, "DELETE FROM link_offers WHERE created<?", &st)) == SB_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)not_before);
		rc = run(st);
	}
	if (rc == SB_OK && (rc = prep(db, "SELECT count(*) FROM link_offers WHERE address=?"
	    " AND identity<>?", &st)) == SB_OK) {
		sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, identity, (int)identity_len, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_ROW ? SB_OK : SB_ERR_STORAGE;
		others = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	if (rc == SB_OK && others >= (int64_t)SB_MAX_LINK_OFFERS)
		rc = SB_ERR_TOO_BIG;
	if (rc == SB_OK && (rc = prep(db, "INSERT INTO link_offers(address,identity,suite,"
	    "name,created) VALUES(?,?,?,?,?) ON CONFLICT(address,identity) DO UPDATE SET"
	    " suite=excluded.suite, name=excluded.name, created=excluded.created",
	    &st)) == SB_OK) {
		sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, identity, (int)identity_len, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, suite);
		sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
		rc = run(st);
	}
	return tx_end(s, rc);
}

static int
sq_link_offers_of(struct relay_store *s, const char *address, uint64_t not_before,
    struct relay_link_offer **out, size_t *n)
{
	struct relay_link_offer *v;
	sqlite3_stmt *st;
	size_t cnt = 0, len;
	int rc;

	*out = NULL;
	*n = 0;
	if ((v = calloc(SB_MAX_LINK_OFFERS, sizeof(*v))) == NULL)
		return SB_ERR_ALLOC;
	if (prep(db_of(s), "SELECT suite,identity,name,created FROM link_offers"
	    " WHERE address=? AND created>=? ORDER BY created, rowid LIMIT ?", &st) != SB_OK) {
		free(v);
		return SB_ERR_STORAGE;
	}
	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)not_before);
	sqlite3_bind_int(st, 3, SB_MAX_LINK_OFFERS);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct relay_link_offer *o = &v[cnt];

		len = (size_t)sqlite3_column_bytes(st, 1);
		if (len == 0 || len > sizeof(o->identity))
			continue;   /* cannot happen: the server checked it */
		o->suite = (uint8_t)sqlite3_column_int(st, 0);
		memcpy(o->identity, sqlite3_column_blob(st, 1), len);
		o->identity_len = len;
		copy_text(o->name, sizeof(o->name), sqlite3_column_text(st, 2));
		o->created = (uint64_t)sqlite3_column_int64(st, 3);
		cnt++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || cnt == 0) {
		free(v);
		return rc == SQLITE_DONE ? SB_OK : SB_ERR_STORAGE;
	}
	*out = v;
	*n = cnt;
	return SB_OK;
}

static int
sq_link_approve(struct relay_store *s, const char *address, const uint8_t *identity,
    size_t identity_len, uint64_t not_before, const struct relay_log_signer *by,
    uint64_t now, uint64_t *device_id)
{
	sqlite3 *db = db_of(s);
	sqlite3_stmt *st;
	char name[SB_MAX_DEVICE_NAME + 1];
	int64_t have = 0;
	int suite = 0, rc;

	*device_id = 0;
	if ((rc = tx_begin(s)) != SB_OK)
		return rc;
	if ((rc = prep(db, "SELECT suite,name FROM link_offers WHERE address=? AND"
	    " identity=? AND created>=?", &st)) == SB_OK) {
		sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, identity, (int)identity_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)not_before);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			suite = sqlite3_column_int(st, 0);
			copy_text(name, sizeof(name), sqlite3_column_text(st, 1));
		}
		sqlite3_finalize(st);
		rc = rc == SQLITE_ROW ? SB_OK : rc == SQLITE_DONE ? SB_ERR_NOT_FOUND :
		    SB_ERR_STORAGE;
	}
	if (rc == SB_OK)
		rc = count_devices(db, address, &have);
	if (rc == SB_OK && have >= (int64_t)SB_MAX_DEVICES_PER_ADDR)
		rc = SB_ERR_TOO_BIG;
	if (rc == SB_OK && (rc = prep(db, "INSERT INTO devices(address,name,suite,identity,"
	    "created) VALUES(?,?,?,?,?)", &st)) == SB_OK) {
		sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, suite);
		sqlite3_bind_blob(st, 4, identity, (int)identity_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
		rc = run(st);
	}
	if (rc == SB_OK) {
		*device_id = (uint64_t)sqlite3_last_insert_rowid(db);
		rc = log_append(db, TLOG_ADD, address, *device_id, identity, identity_len, by,
		    now);
	}
	if (rc == SB_OK && (rc = prep(db, "DELETE FROM link_offers WHERE address=? AND"
	    " identity=?", &st)) == SB_OK) {
		sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, identity, (int)identity_len, SQLITE_STATIC);
		rc = run(st);
	}
	rc = tx_end(s, rc);
	if (rc != SB_OK)
		*device_id = 0;
	return rc;
}

static int
sq_log_size(struct relay_store *s, uint64_t *n)
{
	int64_t v = 0;
	int rc = query_i64(db_of(s), "SELECT coalesce(max(idx) + 1, 0) FROM log", NULL, NULL,
	    0, &v);

	*n = rc == SB_OK ? (uint64_t)v : 0;
	return rc;
}

static int
sq_log_leaves(struct relay_store *s, uint64_t from, uint64_t n, uint8_t (*out)[32])
{
	sqlite3_stmt *st;
	uint64_t got = 0;
	int rc;

	if (prep(db_of(s), "SELECT idx,leaf FROM log WHERE idx>=? AND idx<? ORDER BY idx",
	    &st) != SB_OK)
		return SB_ERR_STORAGE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(from + n));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* Indices are dense from 0: a gap is a damaged store. */
		if ((uint64_t)sqlite3_column_int64(st, 0) != from + got ||
		    sqlite3_column_bytes(st, 1) != 32)
			break;
		memcpy(out[got++], sqlite3_column_blob(st, 1), 32);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return SB_ERR_STORAGE;
	return got == n ? SB_OK : SB_ERR_NOT_FOUND;
}

static int
sq_log_entries_of(struct relay_store *s, const uint8_t addr[32],
    struct relay_log_entry **out, size_t *n)
{
	struct relay_log_entry *v;
	sqlite3_stmt *st;
	size_t cnt = 0, len;
	int rc;

	*out = NULL;
	*n = 0;
	if ((v = calloc(SB_MAX_LOG_ENTRIES, sizeof(*v))) == NULL)
		return SB_ERR_ALLOC;
	if (prep(db_of(s), "SELECT idx,entry FROM log WHERE addr=? ORDER BY seq LIMIT ?",
	    &st) != SB_OK) {
		free(v);
		return SB_ERR_STORAGE;
	}
	sqlite3_bind_blob(st, 1, addr, 32, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, SB_MAX_LOG_ENTRIES);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		len = (size_t)sqlite3_column_bytes(st, 1);
		if (len > RELAY_LOG_ENTRY_MAX) {
			rc = SQLITE_CORRUPT;
			break;
		}
		v[cnt].index = (uint64_t)sqlite3_column_int64(st, 0);
		memcpy(v[cnt].entry, sqlite3_column_blob(st, 1), len);
		v[cnt++].len = len;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || cnt == 0) {
		free(v);
		return rc == SQLITE_DONE ? SB_OK : SB_ERR_STORAGE;
	}
	*out = v;
	*n = cnt;
	return SB_OK;
}

static int
insert_entry(sqlite3 *db, sqlite3_stmt *qi, sqlite3_stmt *si,
    const struct relay_batch_entry *e)
{
	sqlite3_int64 item;
	int rc;

	sqlite3_reset(qi);
	sqlite3_bind_int64(qi, 1, (sqlite3_int64)e->device_id);
	sqlite3_bind_blob(qi, 6, e->payload, (int)e->payload_len, SQLITE_STATIC);
	rc = sqlite3_step(qi);
	sqlite3_reset(qi);
	if (rc != SQLITE_DONE)
		return failed(rc);
	item = sqlite3_last_insert_rowid(db);
	sqlite3_reset(si);
	sqlite3_bind_int64(si, 3, (sqlite3_int64)e->device_id);
	sqlite3_bind_int64(si, 4, item);
	rc = sqlite3_step(si);
	sqlite3_reset(si);
	if (rc == SQLITE_CONSTRAINT)
		return SB_ERR_EXISTS;
	return rc == SQLITE_DONE ? SB_OK : failed(rc);
}

static int
sq_batch_commit(struct relay_store *s, const uint8_t msgid[PROTO_MSGID_LEN],
    const char *sender, uint64_t sender_device, uint64_t now,
    const struct relay_batch_entry *e, size_t n)
{
	sqlite3 *db = db_of(s);
	sqlite3_stmt *qi = NULL, *si = NULL;
	size_t i;
	int rc;

	if ((rc = tx_begin(s)) != SB_OK)
		return rc;
	rc = cprep(s, "INSERT INTO queue(device_id,msgid,sender,sender_device,ts,payload)"
	    " VALUES(?,?,?,?,?,?)", &qi);
	if (rc == SB_OK)
		rc = cprep(s, "INSERT INTO status(sender_device,msgid,device_id,item_id,state,ts)"
		    " VALUES(?,?,?,?,1,?)", &si);
	if (rc == SB_OK) {
		sqlite3_bind_blob(qi, 2, msgid, PROTO_MSGID_LEN, SQLITE_STATIC);
		sqlite3_bind_text(qi, 3, sender, -1, SQLITE_STATIC);
		sqlite3_bind_int64(qi, 4, (sqlite3_int64)sender_device);
		sqlite3_bind_int64(qi, 5, (sqlite3_int64)now);
		sqlite3_bind_int64(si, 1, (sqlite3_int64)sender_device);
		sqlite3_bind_blob(si, 2, msgid, PROTO_MSGID_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(si, 5, (sqlite3_int64)now);
	}
	for (i = 0; rc == SB_OK && i < n; i++)
		rc = insert_entry(db, qi, si, &e[i]);
	if (qi != NULL)
		cdone(qi);
	if (si != NULL)
		cdone(si);
	/* A repeated (sender device, message id, device) hits the status
	 * primary key: SB_ERR_EXISTS, and the whole batch rolls back. */
	return tx_end(s, rc);
}

static int
sq_queue_next(struct relay_store *s, uint64_t device_id, uint64_t after,
    uint64_t not_before, struct relay_item *out)
{
	sqlite3_stmt *st;
	const void *p;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (cprep(s, "SELECT id,msgid,sender,sender_device,ts,payload FROM queue"
	    " WHERE device_id=? AND id>? AND ts>=? ORDER BY id LIMIT 1", &st) != SB_OK)
		return SB_ERR_STORAGE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)device_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)after);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)not_before);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		cdone(st);
		return rc == SQLITE_DONE ? SB_ERR_NOT_FOUND : SB_ERR_STORAGE;
	}
	out->id = (uint64_t)sqlite3_column_int64(st, 0);
	out->device_id = device_id;
	if (sqlite3_column_bytes(st, 1) == PROTO_MSGID_LEN)
		memcpy(out->msgid, sqlite3_column_blob(st, 1), PROTO_MSGID_LEN);
	copy_text(out->sender, sizeof(out->sender), sqlite3_column_text(st, 2));
	out->sender_device = (uint64_t)sqlite3_column_int64(st, 3);
	out->timestamp = (uint64_t)sqlite3_column_int64(st, 4);
	p = sqlite3_column_blob(st, 5);
	n = (size_t)sqlite3_column_bytes(st, 5);
	out->payload = malloc(n > 0 ? n : 1);
	if (out->payload == NULL) {
		cdone(st);
		return SB_ERR_ALLOC;
	}
	if (n > 0)
		memcpy(out->payload, p, n);
	out->payload_len = n;
	cdone(st);
	return SB_OK;
}

static int
sq_queue_ack(struct relay_store *s, uint64_t device_id, uint64_t item_id)
{
	sqlite3 *db = db_of(s);
	sqlite3_stmt *st;
	int rc;

	if ((rc = tx_begin(s)) != SB_OK)
		return rc;
	rc = cprep(s, "DELETE FROM queue WHERE id=? AND device_id=?", &st);
	if (rc == SB_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)item_id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)device_id);
		rc = crun(st);
	}
	if (rc == SB_OK && sqlite3_changes(db) != 1)
		rc = SB_ERR_NOT_FOUND;
	if (rc == SB_OK)
		rc = cprep(s, "UPDATE status SET state=2 WHERE item_id=?", &st);
	if (rc == SB_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)item_id);
		rc = crun(st);
	}
	return tx_end(s, rc);
}

static int
sq_status(struct relay_store *s, uint64_t sender_device,
    const uint8_t msgid[PROTO_MSGID_LEN], struct proto_status_entry **out, size_t *n)
{
	sqlite3_stmt *st;
	struct proto_status_entry *v;
	size_t cnt = 0;
	int rc;

	*out = NULL;
	*n = 0;
	v = calloc(SB_MAX_STATUS_DEVICES, sizeof(*v));
	if (v == NULL)
		return SB_ERR_ALLOC;
	if (prep(db_of(s), "SELECT device_id,state FROM status WHERE sender_device=?"
	    " AND msgid=? ORDER BY device_id LIMIT ?", &st) != SB_OK) {
		free(v);
		return SB_ERR_STORAGE;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)sender_device);
	sqlite3_bind_blob(st, 2, msgid, PROTO_MSGID_LEN, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, SB_MAX_STATUS_DEVICES);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v[cnt].device_id = (uint64_t)sqlite3_column_int64(st, 0);
		v[cnt].state = (uint8_t)sqlite3_column_int(st, 1);
		cnt++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || cnt == 0) {
		free(v);
		return rc == SQLITE_DONE ? SB_ERR_NOT_FOUND : SB_ERR_STORAGE;
	}
	*out = v;
	*n = cnt;
	return SB_OK;
}

static int
sq_expire(struct relay_store *s, uint64_t item_cutoff, uint64_t status_cutoff,
    uint64_t *n_expired)
{
	sqlite3 *db = db_of(s);
	int rc;

	*n_expired = 0;
	if ((rc = tx_begin(s)) != SB_OK)
		return rc;
	rc = bind_run_id(db, "UPDATE status SET state=3 WHERE state=1 AND item_id IN"
	    " (SELECT id FROM queue WHERE ts<?)", item_cutoff);
	if (rc == SB_OK)
		rc = bind_run_id(db, "DELETE FROM queue WHERE ts<?", item_cutoff);
	if (rc == SB_OK)
		*n_expired = (uint64_t)sqlite3_changes(db);
	if (rc == SB_OK)
		rc = bind_run_id(db, "DELETE FROM status WHERE ts<?", status_cutoff);
	if (rc == SB_OK)
		rc = bind_run_id(db, "DELETE FROM invites WHERE created<?", item_cutoff);
	rc = tx_end(s, rc);
	if (rc != SB_OK)
		*n_expired = 0;
	return rc;
}

static int
sq_blob_add(struct relay_store *s, const char *uri, uint64_t size,
    uint64_t owner_device, uint64_t now)
{
	sqlite3_stmt *st;

	if (prep(db_of(s), "INSERT INTO blobs(uri,size,owner,created) VALUES(?,?,?,?)",
	    &st) != SB_OK)
		return SB_ERR_STORAGE;
	sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)owner_device);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now);
	return run(st);
}

static int
sq_blob_get(struct relay_store *s, const char *uri, uint64_t not_before,
    uint64_t *size)
{
	sqlite3_stmt *st;
	int rc;

	*size = 0;
	if (prep(db_of(s), "SELECT size FROM blobs WHERE uri=? AND created>=?", &st) != SB_OK)
		return SB_ERR_STORAGE;
	sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)not_before);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*size = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? SB_OK : rc == SQLITE_DONE ? SB_ERR_NOT_FOUND : SB_ERR_STORAGE;
}

static int
sq_blob_delete(struct relay_store *s, const char *uri, uint64_t owner_device)
{
	sqlite3 *db = db_of(s);
	sqlite3_stmt *st;
	int rc;

	if (prep(db, "DELETE FROM blobs WHERE uri=? AND owner=?", &st) != SB_OK)
		return SB_ERR_STORAGE;
	sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)owner_device);
	rc = run(st);
	if (rc == SB_OK && sqlite3_changes(db) == 0)
		rc = SB_ERR_NOT_FOUND;
	return rc;
}

static int
sq_blob_expire(struct relay_store *s, uint64_t cutoff,
    void (*gone)(void *arg, const char *uri), void *arg)
{
	sqlite3 *db = db_of(s);
	sqlite3_stmt *st;
	int rc;

	if ((rc = tx_begin(s)) != SB_OK)
		return rc;
	rc = prep(db, "SELECT uri FROM blobs WHERE created<?", &st);
	if (rc == SB_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)cutoff);
		while (sqlite3_step(st) == SQLITE_ROW)
			gone(arg, (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		rc = bind_run_id(db, "DELETE FROM blobs WHERE created<?", cutoff);
	}
	return tx_end(s, rc);
}

static int
sq_blob_drop_owner(struct relay_store *s, uint64_t owner,
    void (*gone)(void *arg, const char *uri), void *arg, uint64_t *n, uint64_t *bytes)
{
	sqlite3 *db = db_of(s);
	sqlite3_stmt *st;
	int rc;

	*n = *bytes = 0;
	if ((rc = tx_begin(s)) != SB_OK)
		return rc;
	rc = prep(db, "SELECT uri,size FROM blobs WHERE owner=?", &st);
	if (rc == SB_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)owner);
		while (sqlite3_step(st) == SQLITE_ROW) {
			gone(arg, (const char *)sqlite3_column_text(st, 0));
			(*n)++;
			*bytes += (uint64_t)sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);
		rc = bind_run_id(db, "DELETE FROM blobs WHERE owner=?", owner);
	}
	rc = tx_end(s, rc);
	if (rc != SB_OK)
		*n = *bytes = 0;
	return rc;
}

/* One row of up to two integer columns for a single text parameter. */
static int
sum_query(struct relay_store *s, const char *sql, const char *text, uint64_t *a,
    uint64_t *b)
{
	sqlite3_stmt *st;
	int rc;

	if (cprep(s, sql, &st) != SB_OK)
		return SB_ERR_STORAGE;
	sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_ROW ? SB_OK : SB_ERR_STORAGE;
	if (rc == SB_OK) {
		*a = (uint64_t)sqlite3_column_int64(st, 0);
		if (b != NULL)
			*b = (uint64_t)sqlite3_column_int64(st, 1);
	}
	cdone(st);
	return rc;
}

static int
sq_usage(struct relay_store *s, const char *address, uint64_t *items,
    uint64_t *bytes, uint64_t *blob_bytes)
{
	int rc;

	*items = *bytes = *blob_bytes = 0;
	/* Expired rows still count until the sweep deletes them: at most one
	 * sweep interval of over-charging, never under-charging. */
	rc = sum_query(s, "SELECT coalesce(sum(items),0), coalesce(sum(bytes),0)"
	    " FROM sender_usage WHERE sender=?", address, items, bytes);
	if (rc == SB_OK)
		rc = sum_query(s, "SELECT coalesce(sum(bytes),0) FROM blob_usage WHERE owner IN"
		    " (SELECT id FROM devices WHERE address=?)", address, blob_bytes, NULL);
	return rc;
}

static int
sq_queue_count(struct relay_store *s, uint64_t device_id, uint64_t *n)
{
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	if (cprep(s, device_id == 0 ? "SELECT count(*) FROM queue WHERE ?=0" :
	    "SELECT coalesce(sum(items),0) FROM device_usage WHERE device_id=?", &st) != SB_OK)
		return SB_ERR_STORAGE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)device_id);
	rc = sqlite3_step(st) == SQLITE_ROW ? SB_OK : SB_ERR_STORAGE;
	*n = (uint64_t)sqlite3_column_int64(st, 0);
	cdone(st);
	return rc;
}

static int
sq_totals(struct relay_store *s, struct relay_store_totals *out)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	/* The counters, not count(*) over the queue: a scrape every few
	 * seconds must not scan 100,000 rows. */
	if (prep(db_of(s), "SELECT (SELECT count(*) FROM devices),"
	    " (SELECT coalesce(sum(items),0) FROM device_usage),"
	    " (SELECT count(*) FROM blobs), (SELECT coalesce(sum(size),0) FROM blobs)",
	    &st) != SB_OK)
		return SB_ERR_STORAGE;
	rc = sqlite3_step(st) == SQLITE_ROW ? SB_OK : SB_ERR_STORAGE;
	if (rc == SB_OK) {
		out->devices = (uint64_t)sqlite3_column_int64(st, 0);
		out->queued_items = (uint64_t)sqlite3_column_int64(st, 1);
		out->blobs = (uint64_t)sqlite3_column_int64(st, 2);
		out->blob_bytes = (uint64_t)sqlite3_column_int64(st, 3);
	}
	sqlite3_finalize(st);
	return rc;
}

static int
sq_blob_each(struct relay_store *s, int (*blob)(void *arg, const char *uri, uint64_t size),
    void *arg)
{
	sqlite3_stmt *st;
	int r, rc = SB_OK;

	if (prep(db_of(s), "SELECT uri,size FROM blobs ORDER BY uri", &st) != SB_OK)
		return SB_ERR_STORAGE;
	while (rc == SB_OK && (r = sqlite3_step(st)) == SQLITE_ROW)
		rc = blob(arg, (const char *)sqlite3_column_text(st, 0),
		    (uint64_t)sqlite3_column_int64(st, 1));
	if (rc == SB_OK && r != SQLITE_DONE)
		rc = SB_ERR_STORAGE;
	sqlite3_finalize(st);
	return rc;
}

/*
 * The online backup API copies every page inside one read transaction; in
 * WAL mode writers go on meanwhile, and the copy is the database as of the
 * moment that read began: one consistent snapshot, whatever commits
 * during the copy.
 */
static int
sq_backup(struct relay_store *s, const char *path)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int rc;

	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sqlite3_close(dst);
		return SB_ERR_STORAGE;
	}
	if ((b = sqlite3_backup_init(dst, "main", db_of(s), "main")) == NULL) {
		sqlite3_close(dst);
		return SB_ERR_STORAGE;
	}
	rc = sqlite3_backup_step(b, -1);
	rc = sqlite3_backup_finish(b) == SQLITE_OK && rc == SQLITE_DONE ? SB_OK : failed(rc);
	/* One file standing alone (no -wal beside it), fsync'd on commit. */
	if (rc == SB_OK)
		rc = exec(dst, "PRAGMA journal_mode=DELETE");
	if (sqlite3_close(dst) != SQLITE_OK && rc == SB_OK)
		rc = SB_ERR_STORAGE;
	return rc;
}

static const struct relay_store_ops sqlite_ops = {
	.close = sq_close,
	.invite_add = sq_invite_add,
	.enroll = sq_enroll,
	.device_get = sq_device_get,
	.devices_of = sq_devices_of,
	.device_remove = sq_device_remove,
	.device_seen = sq_device_seen,
	.invite_void = sq_invite_void,
	.link_offer_put = sq_link_offer_put,
	.link_offers_of = sq_link_offers_of,
	.link_approve = sq_link_approve,
	.log_size = sq_log_size,
	.log_leaves = sq_log_leaves,
	.log_entries_of = sq_log_entries_of,
	.batch_commit = sq_batch_commit,
	.queue_next = sq_queue_next,
	.queue_ack = sq_queue_ack,
	.status = sq_status,
	.expire = sq_expire,
	.blob_add = sq_blob_add,
	.blob_get = sq_blob_get,
	.blob_delete = sq_blob_delete,
	.blob_expire = sq_blob_expire,
	.blob_drop_owner = sq_blob_drop_owner,
	.usage = sq_usage,
	.queue_count = sq_queue_count,
	.totals = sq_totals,
	.blob_each = sq_blob_each,
	.backup = sq_backup,
	.group_begin = sq_group_begin,
	.group_end = sq_group_end,
};

/* A database from before devices.last_seen: add the column (0: never). */
static int
add_last_seen(sqlite3 *db)
{
	sqlite3_stmt *st;
	int found = 0, rc;

	if (prep(db, "SELECT 1 FROM pragma_table_info('devices') WHERE name='last_seen'",
	    &st) != SB_OK)
		return SB_ERR_STORAGE;
	rc = sqlite3_step(st);
	found = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return SB_ERR_STORAGE;
	return found ? SB_OK :
	    exec(db, "ALTER TABLE devices ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0");
}

/*
 * A database from before the log: every device it holds gets an add entry
 * (signer 0, at its enrollment time), once, in id order, so the log
 * describes the directory from the first answer on.  Who approved whom
 * was never recorded, so none of it is claimed.
 */
static int
log_backfill(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t have = 0;
	int rc, step;

	if ((rc = begin(db)) != SB_OK)
		return rc;
	rc = query_i64(db, "SELECT count(*) FROM log", NULL, NULL, 0, &have);
	if (rc == SB_OK && have == 0 && (rc = prep(db, "SELECT address,id,identity,created"
	    " FROM devices ORDER BY id", &st)) == SB_OK) {
		while (rc == SB_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
			rc = log_append(db, TLOG_ADD, (const char *)sqlite3_column_text(st, 0),
			    (uint64_t)sqlite3_column_int64(st, 1), sqlite3_column_blob(st, 2),
			    (size_t)sqlite3_column_bytes(st, 2), NULL,
			    (uint64_t)sqlite3_column_int64(st, 3));
		if (rc == SB_OK && step != SQLITE_DONE)
			rc = SB_ERR_STORAGE;
		sqlite3_finalize(st);
	}
	return end(db, rc);
}

int
relay_store_open_sqlite(const char *path, struct relay_store **out)
{
	struct sqlite_store *s;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return SB_ERR_ALLOC;
	s->base.ops = &sqlite_ops;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(s->db, 5000);
	if (exec(s->db, "PRAGMA journal_mode=WAL") != SB_OK ||
	    exec(s->db, "PRAGMA synchronous=FULL") != SB_OK ||
	    exec(s->db, schema) != SB_OK || exec(s->db, usage_schema) != SB_OK ||
	    exec(s->db, usage_backfill) != SB_OK || add_last_seen(s->db) != SB_OK ||
	    exec(s->db, log_schema) != SB_OK || log_backfill(s->db) != SB_OK)
		goto fail;
	*out = &s->base;
	return SB_OK;
fail:
	sqlite3_close(s->db);
	free(s);
	return SB_ERR_STORAGE;
}

void
relay_store_close(struct relay_store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

void
relay_item_clear(struct relay_item *it)
{
	if (it == NULL)
		return;
	free(it->payload);
	memset(it, 0, sizeof(*it));
}
