/*
 * store_pg.c - the relay store (store.h) on PostgreSQL, shared by every
 * node of a cluster (docs/RELAY.md "Running a cluster").
 *
 * Durability: every op that changes state is one transaction (or, in a
 * group, a savepoint of the group's one transaction: pg_group_begin) committed
 * with synchronous_commit on (the server's default, which we never lower
 * for queue, directory or status rows), so COMMIT has returned - the WAL
 * flushed - before the relay says "accepted" or an ack is answered.
 *
 * Order across nodes: queue ids come from one sequence, but two nodes'
 * transactions may commit out of id order, and a node that pushed item 11
 * would never look back for a later-committed item 10.  So a batch first
 * locks its recipients' device rows (FOR UPDATE, in id order: no
 * deadlock) and only then draws ids: for one device, ids then grow in
 * commit order, which is all a push cursor needs.
 *
 * News between nodes is LISTEN/NOTIFY on channels sb_queued, sb_connected
 * and sb_removed: a batch notifies its recipients in its own transaction
 * (PostgreSQL delivers a notification only at commit), on a second
 * connection that only listens; its socket is watched by the node's
 * event loop.  Payloads are decimal numbers (relay_event_parse).
 *
 * Blob contents are chunk rows (blob_data), one per BLOB_DATA frame; a
 * chunk is committed asynchronously (synchronous_commit off for that one
 * statement) and the blob becomes durable and visible when blob_finish
 * commits synchronously: the WAL is one stream, so flushing the finish
 * record flushes every chunk before it.
 *
 * Every statement is prepared once per connection with typed parameters
 * sent in binary; no SQL is built from input.  Results are binary.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "../common/sberr.h"
#include "../tlog/tlog.h"
#include "store.h"

/* Type OIDs of the parameters we send (PostgreSQL's catalog, stable). */
#define OID_BYTEA 17
#define OID_INT8  20
#define OID_TEXT  25

#define SCHEMA_VERSION 1
#define MAX_PARAMS 8
#define TX_TRIES   3            /* deadlock / serialization failure retries */
#define UPLOAD_STALE_S 86400    /* unfinished uploads older than this are dropped */
/* pg_advisory_xact_lock(int, int) key spaces. */
#define LOCK_SCHEMA  1
#define LOCK_ADDRESS 2
#define LOCK_SWEEP   3
#define LOCK_LOG     4
#define LOCK_GROUP   5

struct pg_store {
	struct relay_store base;   /* first: the ops table */
	PGconn *db;                /* every request */
	PGconn *lsn;               /* LISTEN only (serve) */
	char *conninfo;
	int group;                 /* a group (group_begin) is open */
};

static PGconn *
db_of(struct relay_store *s)
{
	return ((struct pg_store *)s)->db;
}

/* ---- schema -------------------------------------------------------------- */

/*
 * Integers are bigint throughout (binary results then have one width);
 * payloads and chunks are stored out of line without compression
 * (STORAGE EXTERNAL): they are ciphertext, and pglz would try and fail on
 * every row.
 */
static const char schema[] =
	"CREATE TABLE IF NOT EXISTS relay_meta (k TEXT PRIMARY KEY, v BIGINT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS invites ("
	"  code_hash BYTEA PRIMARY KEY, address TEXT NOT NULL,"
	"  created BIGINT NOT NULL, used BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS devices ("
	"  id BIGSERIAL PRIMARY KEY, address TEXT NOT NULL,"
	"  name TEXT NOT NULL, suite BIGINT NOT NULL, identity BYTEA NOT NULL,"
	"  created BIGINT NOT NULL, last_seen BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS devices_addr ON devices(address);"
	"CREATE TABLE IF NOT EXISTS queue ("
	"  id BIGSERIAL PRIMARY KEY, device_id BIGINT NOT NULL,"
	"  msgid BYTEA NOT NULL, sender TEXT NOT NULL, sender_device BIGINT NOT NULL,"
	"  ts BIGINT NOT NULL, payload BYTEA NOT NULL);"
	"ALTER TABLE queue ALTER COLUMN payload SET STORAGE EXTERNAL;"
	"CREATE INDEX IF NOT EXISTS queue_dev ON queue(device_id, id);"
	"CREATE INDEX IF NOT EXISTS queue_ts ON queue(ts);"
	"CREATE TABLE IF NOT EXISTS status ("
	"  sender_device BIGINT NOT NULL, msgid BYTEA NOT NULL,"
	"  device_id BIGINT NOT NULL, item_id BIGINT NOT NULL,"
	"  state BIGINT NOT NULL, ts BIGINT NOT NULL,"
	"  PRIMARY KEY (sender_device, msgid, device_id));"
	"CREATE INDEX IF NOT EXISTS status_item ON status(item_id);"
	"CREATE INDEX IF NOT EXISTS status_ts ON status(ts);"
	"CREATE TABLE IF NOT EXISTS blobs ("
	"  uri TEXT PRIMARY KEY, size BIGINT NOT NULL, owner BIGINT NOT NULL,"
	"  created BIGINT NOT NULL, data BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS blobs_created ON blobs(created);"
	"CREATE TABLE IF NOT EXISTS uploads ("
	"  id BIGSERIAL PRIMARY KEY, owner BIGINT NOT NULL, size BIGINT NOT NULL,"
	"  started BIGINT NOT NULL, done BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS blob_data ("
	"  upload BIGINT NOT NULL, n BIGINT NOT NULL, data BYTEA NOT NULL,"
	"  PRIMARY KEY (upload, n));"
	"ALTER TABLE blob_data ALTER COLUMN data SET STORAGE EXTERNAL;"
	/* Quota counters, kept by triggers as in store_sqlite.c (issue 12,
	 * finding 6): every path that adds or deletes a row charges or
	 * refunds in its own transaction. */
	"CREATE TABLE IF NOT EXISTS sender_usage (sender TEXT PRIMARY KEY,"
	"  items BIGINT NOT NULL, bytes BIGINT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS device_usage (device_id BIGINT PRIMARY KEY,"
	"  items BIGINT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS blob_usage (owner BIGINT PRIMARY KEY,"
	"  bytes BIGINT NOT NULL);"
	"CREATE OR REPLACE FUNCTION sb_queue_charge() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  INSERT INTO sender_usage VALUES (NEW.sender, 1, octet_length(NEW.payload))"
	"   ON CONFLICT (sender) DO UPDATE SET items = sender_usage.items + 1,"
	"   bytes = sender_usage.bytes + EXCLUDED.bytes;"
	"  INSERT INTO device_usage VALUES (NEW.device_id, 1)"
	"   ON CONFLICT (device_id) DO UPDATE SET items = device_usage.items + 1;"
	"  RETURN NULL;"
	" END $$;"
	"CREATE OR REPLACE FUNCTION sb_queue_refund() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  UPDATE sender_usage SET items = items - 1, bytes = bytes - octet_length(OLD.payload)"
	"   WHERE sender = OLD.sender;"
	"  UPDATE device_usage SET items = items - 1 WHERE device_id = OLD.device_id;"
	"  RETURN NULL;"
	" END $$;"
	"CREATE OR REPLACE FUNCTION sb_blob_charge() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  INSERT INTO blob_usage VALUES (NEW.owner, greatest(NEW.size, 65536))"
	"   ON CONFLICT (owner) DO UPDATE SET bytes = blob_usage.bytes + EXCLUDED.bytes;"
	"  RETURN NULL;"
	" END $$;"
	"CREATE OR REPLACE FUNCTION sb_blob_refund() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  UPDATE blob_usage SET bytes = bytes - greatest(OLD.size, 65536) WHERE owner = OLD.owner;"
	"  RETURN NULL;"
	" END $$;"
	"CREATE OR REPLACE TRIGGER queue_charge AFTER INSERT ON queue"
	"  FOR EACH ROW EXECUTE FUNCTION sb_queue_charge();"
	"CREATE OR REPLACE TRIGGER queue_refund AFTER DELETE ON queue"
	"  FOR EACH ROW EXECUTE FUNCTION sb_queue_refund();"
	"CREATE OR REPLACE TRIGGER blob_charge AFTER INSERT ON blobs"
	"  FOR EACH ROW EXECUTE FUNCTION sb_blob_charge();"
	"CREATE OR REPLACE TRIGGER blob_refund AFTER DELETE ON blobs"
	"  FOR EACH ROW EXECUTE FUNCTION sb_blob_refund();"
	"CREATE TABLE IF NOT EXISTS link_offers ("
	"  address TEXT NOT NULL, identity BYTEA NOT NULL, suite BIGINT NOT NULL,"
	"  name TEXT NOT NULL, created BIGINT NOT NULL, n BIGSERIAL,"
	"  PRIMARY KEY (address, identity));"
	/* The transparency log (PROTOCOL 14), as in store_sqlite.c: idx the
	 * leaf index from 0, dense; append-only for every writer through
	 * these triggers (a bug that rewrote history would fork the log). */
	"CREATE TABLE IF NOT EXISTS log ("
	"  idx BIGINT PRIMARY KEY, addr BYTEA NOT NULL, seq BIGINT NOT NULL,"
	"  entry BYTEA NOT NULL, leaf BYTEA NOT NULL, UNIQUE (addr, seq));"
	"CREATE OR REPLACE FUNCTION sb_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN RAISE EXCEPTION 'the log is append-only'; END $$;"
	"CREATE OR REPLACE TRIGGER log_no_change BEFORE UPDATE OR DELETE ON log"
	"  FOR EACH ROW EXECUTE FUNCTION sb_log_append_only();"
	"CREATE OR REPLACE TRIGGER log_no_truncate BEFORE TRUNCATE ON log"
	"  FOR EACH STATEMENT EXECUTE FUNCTION sb_log_append_only();"
	"INSERT INTO relay_meta VALUES ('last_sweep', 0) ON CONFLICT DO NOTHING;";

/* ---- prepared statements --------------------------------------------------- */

#define DEVICE_COLS "id,address,name,suite,identity,created,last_seen"

enum stmt {
	S_INVITE_ADD, S_CONSUME, S_COUNT_DEVICES, S_DEVICE_ADD, S_DEVICE_GET,
	S_DEVICES_OF, S_DEVICE_DEL, S_DEVICE_STATUS_REMOVED, S_DEVICE_QUEUE_DEL,
	S_LOCK_DEVICES, S_QUEUE_ADD, S_NOTIFY, S_QUEUE_NEXT, S_ACK, S_STATUS,
	S_EXP_STATUS, S_EXP_QUEUE, S_EXP_STATUS_ROWS, S_EXP_INVITES,
	S_BLOB_ADD, S_BLOB_GET, S_BLOB_EXP_LIST, S_BLOB_EXP_DATA, S_BLOB_EXP,
	S_USAGE, S_BLOB_USAGE, S_COUNT_DEV, S_COUNT_ALL, S_SWEEP_CLAIM,
	S_UP_BEGIN, S_UP_STALE, S_UP_WRITE, S_UP_DONE, S_UP_DROP_DATA, S_UP_DROP,
	S_BLOB_OPEN, S_BLOB_READ, S_LOCK_ADDRESS, S_DEVICE_SEEN, S_INVITE_VOID,
	S_OWNER_LIST, S_OWNER_DATA, S_OWNER_DEL, S_TOTALS, S_BLOB_EACH,
	S_LOCK_LOG, S_LOG_SEQ, S_LOG_SIZE, S_LOG_ADD, S_LOG_LEAVES, S_LOG_OF,
	S_OFFER_EXPIRE, S_OFFER_OTHERS, S_OFFER_PUT, S_OFFERS_OF, S_OFFER_GET, S_OFFER_DEL,
	S_BLOB_DEL_DATA, S_BLOB_DEL,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_INVITE_ADD] = "INSERT INTO invites(code_hash,address,created) VALUES($1,$2,$3)",
	/* One UPDATE both checks and consumes: address, unused, fresh. */
	[S_CONSUME] = "UPDATE invites SET used=1 WHERE code_hash=$1 AND address=$2"
	    " AND used=0 AND created>=$3",
	[S_COUNT_DEVICES] = "SELECT count(*) FROM devices WHERE address=$1",
	[S_DEVICE_ADD] = "INSERT INTO devices(address,name,suite,identity,created)"
	    " VALUES($1,$2,$3,$4,$5) RETURNING id",
	[S_DEVICE_GET] = "SELECT " DEVICE_COLS " FROM devices WHERE id=$1",
	[S_DEVICES_OF] = "SELECT " DEVICE_COLS " FROM devices"
	    " WHERE address=$1 ORDER BY id LIMIT $2",
	[S_DEVICE_DEL] = "DELETE FROM devices WHERE id=$1",
	[S_DEVICE_STATUS_REMOVED] = "UPDATE status SET state=4 WHERE device_id=$1 AND state=1",
	[S_DEVICE_QUEUE_DEL] = "DELETE FROM queue WHERE device_id=$1",
	/* See the top of the file: ids drawn after this lock grow in
	 * commit order per device. */
	[S_LOCK_DEVICES] = "SELECT id FROM devices WHERE id = ANY($1::text::bigint[])"
	    " ORDER BY id FOR UPDATE",
	[S_QUEUE_ADD] = "WITH q AS (INSERT INTO queue(device_id,msgid,sender,sender_device,ts,payload)"
	    " VALUES($1,$2,$3,$4,$5,$6) RETURNING id)"
	    " INSERT INTO status(sender_device,msgid,device_id,item_id,state,ts)"
	    " SELECT $4,$2,$1,id,1,$5 FROM q",
	[S_NOTIFY] = "SELECT pg_notify($1, $2)",
	[S_QUEUE_NEXT] = "SELECT id,msgid,sender,sender_device,ts,payload FROM queue"
	    " WHERE device_id=$1 AND id>$2 AND ts>=$3 ORDER BY id LIMIT 1",
	/* One statement, so one round trip and its own transaction. */
	[S_ACK] = "WITH d AS (DELETE FROM queue WHERE id=$1 AND device_id=$2 RETURNING id),"
	    " u AS (UPDATE status SET state=2 WHERE item_id IN (SELECT id FROM d))"
	    " SELECT count(*) FROM d",
	[S_STATUS] = "SELECT device_id,state FROM status WHERE sender_device=$1"
	    " AND msgid=$2 ORDER BY device_id LIMIT $3",
	[S_EXP_STATUS] = "UPDATE status SET state=3 WHERE state=1 AND item_id IN"
	    " (SELECT id FROM queue WHERE ts<$1)",
	[S_EXP_QUEUE] = "DELETE FROM queue WHERE ts<$1",
	[S_EXP_STATUS_ROWS] = "DELETE FROM status WHERE ts<$1",
	[S_EXP_INVITES] = "DELETE FROM invites WHERE created<$1",
	[S_BLOB_ADD] = "INSERT INTO blobs(uri,size,owner,created) VALUES($1,$2,$3,$4)",
	[S_BLOB_GET] = "SELECT size FROM blobs WHERE uri=$1 AND created>=$2",
	[S_BLOB_EXP_LIST] = "SELECT uri FROM blobs WHERE created<$1",
	[S_BLOB_EXP_DATA] = "WITH u AS (DELETE FROM uploads WHERE id IN"
	    " (SELECT data FROM blobs WHERE created<$1 AND data<>0) RETURNING id)"
	    " DELETE FROM blob_data WHERE upload IN (SELECT id FROM u)",
	[S_BLOB_EXP] = "DELETE FROM blobs WHERE created<$1",
	[S_BLOB_DEL_DATA] = "WITH u AS (DELETE FROM uploads WHERE id IN"
	    " (SELECT data FROM blobs WHERE uri=$1 AND owner=$2 AND data<>0) RETURNING id)"
	    " DELETE FROM blob_data WHERE upload IN (SELECT id FROM u)",
	[S_BLOB_DEL] = "DELETE FROM blobs WHERE uri=$1 AND owner=$2 RETURNING 1",
	/* Expired rows still count until the sweep deletes them: at most
	 * one sweep interval of over-charging, never under-charging. */
	[S_USAGE] = "SELECT coalesce(sum(items),0)::bigint, coalesce(sum(bytes),0)::bigint"
	    " FROM sender_usage WHERE sender=$1",
	[S_BLOB_USAGE] = "SELECT coalesce(sum(bytes),0)::bigint FROM blob_usage WHERE owner IN"
	    " (SELECT id FROM devices WHERE address=$1)",
	[S_COUNT_DEV] = "SELECT coalesce(sum(items),0)::bigint FROM device_usage WHERE device_id=$1",
	[S_COUNT_ALL] = "SELECT count(*) FROM queue",
	/* Once per interval for the whole cluster (a clock set back counts
	 * as due), never two nodes at once (the try-lock). */
	[S_SWEEP_CLAIM] = "WITH l AS (SELECT pg_try_advisory_xact_lock(3, 0) AS got)"
	    " UPDATE relay_meta SET v=$1 FROM l WHERE l.got AND k='last_sweep'"
	    " AND (v <= $1 - $2::bigint OR v > $1) RETURNING v",
	[S_UP_BEGIN] = "INSERT INTO uploads(owner,size,started) VALUES($1,$2,$3) RETURNING id",
	/* A node that died mid-upload leaves chunks nobody will finish. */
	[S_UP_STALE] = "WITH u AS (DELETE FROM uploads WHERE done=0 AND started<$1 RETURNING id)"
	    " DELETE FROM blob_data WHERE upload IN (SELECT id FROM u)",
	/* synchronous_commit off for this statement's own transaction only:
	 * blob_finish's synchronous commit flushes it (top of the file). */
	[S_UP_WRITE] = "WITH c AS (SELECT set_config('synchronous_commit', 'off', true))"
	    " INSERT INTO blob_data(upload,n,data) SELECT $1::bigint,$2::bigint,$3::bytea FROM c",
	[S_UP_DONE] = "WITH u AS (UPDATE uploads SET done=1 WHERE id=$1 AND done=0 RETURNING id)"
	    " INSERT INTO blobs(uri,size,owner,created,data)"
	    " SELECT $2::text,$3::bigint,$4::bigint,$5::bigint,id FROM u",
	[S_UP_DROP_DATA] = "DELETE FROM blob_data WHERE upload=$1",
	[S_UP_DROP] = "DELETE FROM uploads WHERE id=$1 AND done=0",
	[S_BLOB_OPEN] = "SELECT size,data FROM blobs WHERE uri=$1 AND created>=$2 AND data<>0",
	[S_BLOB_READ] = "SELECT data FROM blob_data WHERE upload=$1 AND n=$2",
	/* Enrollments of one address serialise (the device cap). */
	[S_LOCK_ADDRESS] = "SELECT pg_advisory_xact_lock(2, hashtext($1))",
	[S_DEVICE_SEEN] = "UPDATE devices SET last_seen=$1 WHERE id=$2",
	[S_INVITE_VOID] = "DELETE FROM invites WHERE address=$1 AND used=0",
	[S_OWNER_LIST] = "SELECT uri,size FROM blobs WHERE owner=$1",
	/* Contents of its published blobs and of its unfinished uploads. */
	[S_OWNER_DATA] = "WITH u AS (DELETE FROM uploads WHERE owner=$1 RETURNING id)"
	    " DELETE FROM blob_data WHERE upload IN (SELECT id FROM u)",
	[S_OWNER_DEL] = "DELETE FROM blobs WHERE owner=$1",
	/* The counters, not count(*) over the queue: a metrics scrape every
	 * few seconds must not scan the queue. */
	[S_TOTALS] = "SELECT (SELECT count(*) FROM devices),"
	    " (SELECT coalesce(sum(items),0)::bigint FROM device_usage),"
	    " (SELECT count(*) FROM blobs), (SELECT coalesce(sum(size),0)::bigint FROM blobs)",
	[S_BLOB_EACH] = "SELECT uri,size FROM blobs ORDER BY uri",
	/* Directory changes append one at a time for the whole cluster,
	 * the lock held to commit: indices stay dense and commit in order,
	 * so no node's tree ever reads a leaf before the one under it. */
	[S_LOCK_LOG] = "SELECT pg_advisory_xact_lock(4, 0)",
	[S_LOG_SEQ] = "SELECT coalesce(max(seq) + 1, 0) FROM log WHERE addr=$1",
	[S_LOG_SIZE] = "SELECT coalesce(max(idx) + 1, 0) FROM log",
	[S_LOG_ADD] = "INSERT INTO log(idx,addr,seq,entry,leaf) VALUES($1,$2,$3,$4,$5)",
	[S_LOG_LEAVES] = "SELECT idx,leaf FROM log WHERE idx>=$1 AND idx<$2 ORDER BY idx",
	[S_LOG_OF] = "SELECT idx,entry FROM log WHERE addr=$1 ORDER BY seq LIMIT $2",
	[S_OFFER_EXPIRE] = "DELETE FROM link_offers WHERE created<$1",
	[S_OFFER_OTHERS] = "SELECT count(*) FROM link_offers WHERE address=$1 AND identity<>$2",
	[S_OFFER_PUT] = "INSERT INTO link_offers(address,identity,suite,name,created)"
	    " VALUES($1,$2,$3,$4,$5) ON CONFLICT (address,identity) DO UPDATE SET"
	    " suite=EXCLUDED.suite, name=EXCLUDED.name, created=EXCLUDED.created",
	[S_OFFERS_OF] = "SELECT suite,identity,name,created FROM link_offers"
	    " WHERE address=$1 AND created>=$2 ORDER BY created, n LIMIT $3",
	[S_OFFER_GET] = "SELECT suite,name FROM link_offers WHERE address=$1 AND identity=$2"
	    " AND created>=$3",
	[S_OFFER_DEL] = "DELETE FROM link_offers WHERE address=$1 AND identity=$2",
};

static void
stmt_name(enum stmt st, char out[16])
{
	snprintf(out, 16, "sb%d", (int)st);
}

/* ---- parameters and results ------------------------------------------------ */

struct params {
	int n;
	Oid type[MAX_PARAMS];
	const char *v[MAX_PARAMS];
	int len[MAX_PARAMS];
	int fmt[MAX_PARAMS];
	unsigned char ints[MAX_PARAMS][8];
};

static void
p_u64(struct params *p, uint64_t x)
{
	int i = p->n++, k;

	for (k = 7; k >= 0; k--, x >>= 8)
		p->ints[i][k] = (unsigned char)(x & 0xff);
	p->type[i] = OID_INT8;
	p->v[i] = (const char *)p->ints[i];
	p->len[i] = 8;
	p->fmt[i] = 1;
}

static void
p_bytes(struct params *p, const void *d, size_t n)
{
	int i = p->n++;

	p->type[i] = OID_BYTEA;
	p->v[i] = n > 0 ? d : "";
	p->len[i] = (int)n;
	p->fmt[i] = 1;
}

static void
p_text(struct params *p, const char *t)
{
	int i = p->n++;

	p->type[i] = OID_TEXT;
	p->v[i] = t;
	p->len[i] = (int)strlen(t);
	p->fmt[i] = 1;    /* binary text is the bytes themselves */
}

/* An integer column of a binary result (bigint; smaller widths too). */
static uint64_t
col_u64(const PGresult *r, int row, int col)
{
	const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
	int n = PQgetlength(r, row, col), i;
	uint64_t v = 0;

	if (n != 2 && n != 4 && n != 8)
		return 0;
	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void
col_text(const PGresult *r, int row, int col, char *dst, size_t cap)
{
	size_t n = (size_t)PQgetlength(r, row, col);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, PQgetvalue(r, row, col), n);
	dst[n] = '\0';
}

/* What a failed statement means for the caller. */
static int
failed(const PGresult *r)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	if (st == NULL)
		return SB_ERR_STORAGE;
	if (strcmp(st, "23505") == 0)                 /* unique_violation */
		return SB_ERR_EXISTS;
	if (strcmp(st, "53100") == 0)                 /* disk_full */
		return SB_ERR_NO_SPACE;
	if (strcmp(st, "40P01") == 0 || strcmp(st, "40001") == 0)
		return SB_ERR_CLOSED;    /* internal: retry the transaction (tx_end) */
	return SB_ERR_STORAGE;
}

/* Runs a prepared statement; *res (if given) keeps a result with rows. */
static int
q(PGconn *db, enum stmt st, const struct params *p, PGresult **res)
{
	char name[16];
	PGresult *r;
	int rc;

	if (res != NULL)
		*res = NULL;
	stmt_name(st, name);
	r = PQexecPrepared(db, name, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL,
	    p ? p->fmt : NULL, 1);
	switch (PQresultStatus(r)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		rc = SB_OK;
		break;
	default:
		rc = failed(r);
		break;
	}
	if (rc == SB_OK && res != NULL) {
		*res = r;
		return SB_OK;
	}
	PQclear(r);
	return rc;
}

/* The number of rows a statement changed (or returned). */
static int
q_changes(PGconn *db, enum stmt st, const struct params *p, uint64_t *n)
{
	PGresult *r;
	int rc = q(db, st, p, &r);

	*n = 0;
	if (rc == SB_OK) {
		*n = strtoull(PQcmdTuples(r), NULL, 10);
		PQclear(r);
	}
	return rc;
}

/* A statement returning one row of one integer. */
static int
q_u64(PGconn *db, enum stmt st, const struct params *p, uint64_t *v)
{
	PGresult *r;
	int rc = q(db, st, p, &r);

	*v = 0;
	if (rc != SB_OK)
		return rc;
	if (PQntuples(r) != 1)
		rc = SB_ERR_NOT_FOUND;
	else
		*v = col_u64(r, 0, 0);
	PQclear(r);
	return rc;
}

static int
simple(PGconn *db, const char *sql)
{
	PGresult *r = PQexec(db, sql);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? SB_OK : failed(r);

	PQclear(r);
	return rc;
}

/* ---- connections ----------------------------------------------------------- */

static int
prepare_all(PGconn *db)
{
	char name[16];
	PGresult *r;
	int i, ok;

	for (i = 0; i < S_COUNT; i++) {
		stmt_name((enum stmt)i, name);
		r = PQprepare(db, name, stmt_sql[i], 0, NULL);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (!ok)
			return SB_ERR_STORAGE;
	}
	return SB_OK;
}

/* The first line of libpq's message: one line for the operator. */
static void
first_line(const char *msg, char *why, size_t cap)
{
	size_t n = strcspn(msg, "\n");

	if (cap == 0)
		return;
	if (n >= cap)
		n = cap - 1;
	memcpy(why, msg, n);
	why[n] = '\0';
}

/*
 * Connects.  Our defaults come BEFORE the user's URI in the keyword list
 * so that the URI overrides them: a 10 s connect timeout (a node must
 * fail at once, not hang, when the database is away) and keepalives so a
 * vanished database is noticed on an idle LISTEN connection.
 */
static PGconn *
connect_db(const char *conninfo, char *why, size_t cap)
{
	static const char *const kw[] = { "connect_timeout", "application_name",
	    "keepalives_idle", "keepalives_interval", "keepalives_count", "dbname", NULL };
	const char *val[] = { "10", "sealbox-relay", "30", "10", "3", conninfo, NULL };
	PGconn *db = PQconnectdbParams(kw, val, 1);

	if (db == NULL) {
		first_line("out of memory", why, cap);
		return NULL;
	}
	if (PQstatus(db) != CONNECTION_OK) {
		first_line(PQerrorMessage(db), why, cap);
		PQfinish(db);
		return NULL;
	}
	return db;
}

/* A connection that died (the database restarted) is reset before the
 * next op; the op itself fails if that does not work. */
static int
alive(struct pg_store *s)
{
	/* In a group: the group's transaction, still healthy, or nothing
	 * (a failed statement outside a savepoint lost it: COMMIT will say so). */
	if (s->group)
		return PQstatus(s->db) == CONNECTION_OK &&
		    PQtransactionStatus(s->db) == PQTRANS_INTRANS ? SB_OK : SB_ERR_STORAGE;
	if (PQstatus(s->db) == CONNECTION_OK && PQtransactionStatus(s->db) == PQTRANS_IDLE)
		return SB_OK;
	if (PQstatus(s->db) == CONNECTION_OK) {
		/* left inside a transaction by a failed op: end it */
		PQclear(PQexec(s->db, "ROLLBACK"));
		return PQtransactionStatus(s->db) == PQTRANS_IDLE ? SB_OK : SB_ERR_STORAGE;
	}
	PQreset(s->db);
	if (PQstatus(s->db) != CONNECTION_OK || prepare_all(s->db) != SB_OK)
		return SB_ERR_STORAGE;
	return SB_OK;
}

/* An op's own transaction, or inside a group its savepoint (a failed op,
 * deadlock included, rolls back alone and may be retried). */
static int
begin(struct relay_store *st)
{
	struct pg_store *s = (struct pg_store *)st;
	int rc = alive(s);

	if (rc != SB_OK)
		return rc;
	return simple(s->db, s->group ? "SAVEPOINT op" : "BEGIN");
}

/* Commits on SB_OK, else rolls back.  SB_ERR_CLOSED from failed() means
 * a deadlock or serialization failure: the caller runs the transaction
 * again (TX_TRIES); after the last try it is a storage failure. */
static int
end(struct relay_store *st, int rc)
{
	PGconn *db = db_of(st);

	if (((struct pg_store *)st)->group) {
		if (rc == SB_OK)
			rc = simple(db, "RELEASE op");
		if (rc != SB_OK) {
			PQclear(PQexec(db, "ROLLBACK TO op"));
			PQclear(PQexec(db, "RELEASE op"));
		}
		return rc;
	}
	if (rc == SB_OK)
		rc = simple(db, "COMMIT");
	if (rc != SB_OK)
		PQclear(PQexec(db, "ROLLBACK"));
	return rc;
}

static int final(int rc);

/*
 * A group: one transaction for every SEND and ACK of the node's loop turn.
 * Groups of all nodes take one advisory lock first, so they never wait on
 * each other's device rows in a cycle (two groups each holding the row
 * the other's next send locks would deadlock; one at a time cannot).
 */
static int
pg_group_begin(struct relay_store *st)
{
	struct pg_store *s = (struct pg_store *)st;
	PGresult *r;
	int rc;

	if (s->group)
		return SB_ERR_INVALID_ARG;
	if ((rc = alive(s)) != SB_OK || (rc = simple(s->db, "BEGIN")) != SB_OK)
		return rc;
	r = PQexec(s->db, "SELECT pg_advisory_xact_lock(5, 0)");
	_Static_assert(LOCK_GROUP == 5, "the SQL above");
	rc = PQresultStatus(r) == PGRES_TUPLES_OK ? SB_OK : failed(r);
	PQclear(r);
	if (rc != SB_OK) {
		PQclear(PQexec(s->db, "ROLLBACK"));
		return final(rc);
	}
	s->group = 1;
	return SB_OK;
}

/* COMMIT of a transaction that failed answers "ROLLBACK": not committed. */
static int
pg_group_end(struct relay_store *st, int commit)
{
	struct pg_store *s = (struct pg_store *)st;
	PGresult *r;
	int rc = SB_OK;

	if (!s->group)
		return SB_ERR_INVALID_ARG;
	s->group = 0;
	if (commit) {
		r = PQexec(s->db, "COMMIT");
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = final(failed(r));
		else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
			rc = SB_ERR_STORAGE;
		PQclear(r);
	}
	if ((!commit || rc != SB_OK) && PQstatus(s->db) == CONNECTION_OK &&
	    PQtransactionStatus(s->db) != PQTRANS_IDLE)
		PQclear(PQexec(s->db, "ROLLBACK"));
	return rc;
}

static int
retried(int rc, int try)
{
	return rc == SB_ERR_CLOSED && try + 1 < TX_TRIES;
}

static int
final(int rc)
{
	return rc == SB_ERR_CLOSED ? SB_ERR_STORAGE : rc;
}

/* For a single-statement op: the connection is usable first. */
static int
ready(struct relay_store *st)
{
	return alive((struct pg_store *)st);
}

/* ---- ops ------------------------------------------------------------------- */

static void
pg_close(struct relay_store *st)
{
	struct pg_store *s = (struct pg_store *)st;

	if (s == NULL)
		return;
	PQfinish(s->db);
	if (s->lsn != NULL)
		PQfinish(s->lsn);
	free(s->conninfo);
	free(s);
}

static int
pg_invite_add(struct relay_store *s, const char *address,
    const uint8_t code_hash[RELAY_CODE_HASH_LEN], uint64_t now)
{
	struct params p = { 0 };
	int rc;

	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_bytes(&p, code_hash, RELAY_CODE_HASH_LEN);
	p_text(&p, address);
	p_u64(&p, now);
	return final(q(db_of(s), S_INVITE_ADD, &p, NULL));
}

/*
 * Appends one entry (PROTOCOL 14.3) inside the caller's transaction, as
 * store_sqlite.c's log_append: the directory change and its entry commit
 * together or not at all; an add is refused (TOO_BIG) once the address
 * has RELAY_LOG_ADDR_ADDS_MAX entries.
 */
static int
log_append(PGconn *db, uint8_t kind, const char *address, uint64_t device,
    const uint8_t *identity, size_t identity_len, const struct relay_log_signer *by,
    uint64_t now)
{
	struct tlog_entry e;
	struct sb_buf b = SB_BUF_INIT;
	struct params p = { 0 };
	uint8_t leaf[TLOG_HASH_LEN];
	uint64_t seq = 0, idx = 0;
	int rc;

	memset(&e, 0, sizeof(e));
	if ((rc = tlog_addr_hash(address, strlen(address), e.addr)) != SB_OK)
		return rc;
	if ((rc = q(db, S_LOCK_LOG, NULL, NULL)) != SB_OK)
		return rc;
	p_bytes(&p, e.addr, sizeof(e.addr));
	if ((rc = q_u64(db, S_LOG_SEQ, &p, &seq)) != SB_OK ||
	    (rc = q_u64(db, S_LOG_SIZE, NULL, &idx)) != SB_OK)
		return rc;
	if (kind == TLOG_ADD && seq >= RELAY_LOG_ADDR_ADDS_MAX)
		return SB_ERR_TOO_BIG;
	if (seq >= SB_MAX_LOG_ENTRIES)
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
	memset(&p, 0, sizeof(p));
	p_u64(&p, idx);
	p_bytes(&p, e.addr, sizeof(e.addr));
	p_u64(&p, seq);
	p_bytes(&p, b.d, b.len);
	p_bytes(&p, leaf, sizeof(leaf));
	rc = q(db, S_LOG_ADD, &p, NULL);
	sb_buf_free(&b);
	return rc;
}

static int
enroll_once(struct relay_store *s, const char *address,
    const uint8_t code_hash[RELAY_CODE_HASH_LEN], uint64_t not_before,
    const char *name, uint8_t suite, const uint8_t *identity,
    size_t identity_len, uint64_t now, uint64_t *device_id)
{
	PGconn *db = db_of(s);
	struct params p = { 0 };
	uint64_t n = 0;
	int rc;

	if ((rc = begin(s)) != SB_OK)
		return rc;
	p_text(&p, address);
	rc = q(db, S_LOCK_ADDRESS, &p, NULL);
	memset(&p, 0, sizeof(p));
	p_bytes(&p, code_hash, RELAY_CODE_HASH_LEN);
	p_text(&p, address);
	p_u64(&p, not_before);
	if (rc == SB_OK)
		rc = q_changes(db, S_CONSUME, &p, &n);
	if (rc == SB_OK && n != 1)
		rc = SB_ERR_ENROLL_CODE;
	memset(&p, 0, sizeof(p));
	p_text(&p, address);
	if (rc == SB_OK)
		rc = q_u64(db, S_COUNT_DEVICES, &p, &n);
	if (rc == SB_OK && n >= SB_MAX_DEVICES_PER_ADDR)
		rc = SB_ERR_TOO_BIG;
	p_text(&p, name);
	p_u64(&p, suite);
	p_bytes(&p, identity, identity_len);
	p_u64(&p, now);
	if (rc == SB_OK)
		rc = q_u64(db, S_DEVICE_ADD, &p, device_id);
	if (rc == SB_OK)
		rc = log_append(db, TLOG_ADD, address, *device_id, identity, identity_len,
		    NULL, now);
	return end(s, rc);
}

static int
pg_enroll(struct relay_store *s, const char *address,
    const uint8_t code_hash[RELAY_CODE_HASH_LEN], uint64_t not_before,
    const char *name, uint8_t suite, const uint8_t *identity,
    size_t identity_len, uint64_t now, uint64_t *device_id)
{
	int rc, t;

	for (t = 0; ; t++) {
		*device_id = 0;
		rc = enroll_once(s, address, code_hash, not_before, name, suite, identity,
		    identity_len, now, device_id);
		if (!retried(rc, t))
			break;
	}
	if (rc != SB_OK)
		*device_id = 0;
	return final(rc);
}

static void
row_to_device(const PGresult *r, int row, struct relay_device *d)
{
	size_t n = (size_t)PQgetlength(r, row, 4);

	memset(d, 0, sizeof(*d));
	d->id = col_u64(r, row, 0);
	col_text(r, row, 1, d->address, sizeof(d->address));
	col_text(r, row, 2, d->name, sizeof(d->name));
	d->suite = (uint8_t)col_u64(r, row, 3);
	if (n > sizeof(d->identity))
		n = 0;   /* cannot happen: enroll checks SB_MAX_IDENTITY */
	if (n > 0)
		memcpy(d->identity, PQgetvalue(r, row, 4), n);
	d->identity_len = n;
	d->created = col_u64(r, row, 5);
	d->last_seen = col_u64(r, row, 6);
}

static int
pg_device_get(struct relay_store *s, uint64_t id, struct relay_device *out)
{
	struct params p = { 0 };
	PGresult *r;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_u64(&p, id);
	if ((rc = q(db_of(s), S_DEVICE_GET, &p, &r)) != SB_OK)
		return final(rc);
	if (PQntuples(r) == 1)
		row_to_device(r, 0, out);
	else
		rc = SB_ERR_NOT_FOUND;
	PQclear(r);
	return rc;
}

static int
pg_devices_of(struct relay_store *s, const char *address,
    struct relay_device **out, size_t *n)
{
	struct params p = { 0 };
	struct relay_device *v;
	PGresult *r;
	int rc, i, rows;

	*out = NULL;
	*n = 0;
	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_text(&p, address);
	p_u64(&p, SB_MAX_DEVICES_PER_ADDR);
	if ((rc = q(db_of(s), S_DEVICES_OF, &p, &r)) != SB_OK)
		return final(rc);
	rows = PQntuples(r);
	if (rows == 0) {
		PQclear(r);
		return SB_OK;
	}
	if ((v = calloc((size_t)rows, sizeof(*v))) == NULL) {
		PQclear(r);
		return SB_ERR_ALLOC;
	}
	for (i = 0; i < rows; i++)
		row_to_device(r, i, &v[i]);
	PQclear(r);
	*out = v;
	*n = (size_t)rows;
	return SB_OK;
}

static int
remove_once(struct relay_store *s, uint64_t id, const struct relay_log_signer *by,
    uint64_t now)
{
	PGconn *db = db_of(s);
	struct params p = { 0 };
	struct relay_device d;
	PGresult *r;
	uint64_t n = 0;
	int rc;

	if ((rc = begin(s)) != SB_OK)
		return rc;
	p_u64(&p, id);
	/* The entry names the identity that leaves (PROTOCOL 14.3). */
	rc = q(db, S_DEVICE_GET, &p, &r);
	if (rc == SB_OK) {
		if (PQntuples(r) == 1)
			row_to_device(r, 0, &d);
		else
			rc = SB_ERR_NOT_FOUND;
		PQclear(r);
	}
	if (rc == SB_OK)
		rc = log_append(db, TLOG_REMOVE, d.address, id, d.identity, d.identity_len,
		    by, now);
	if (rc == SB_OK)
		rc = q_changes(db, S_DEVICE_DEL, &p, &n);
	if (rc == SB_OK && n != 1)
		rc = SB_ERR_NOT_FOUND;
	if (rc == SB_OK)
		rc = q(db, S_DEVICE_STATUS_REMOVED, &p, NULL);
	if (rc == SB_OK)
		rc = q(db, S_DEVICE_QUEUE_DEL, &p, NULL);
	return end(s, rc);
}

static int
pg_device_remove(struct relay_store *s, uint64_t id, const struct relay_log_signer *by,
    uint64_t now)
{
	int rc, t;

	for (t = 0; retried(rc = remove_once(s, id, by, now), t); t++)
		;
	return final(rc);
}

/* ---- device linking and the log ---------------------------------------------- */

static int
offer_put_once(struct relay_store *s, const char *address, uint8_t suite,
    const uint8_t *identity, size_t identity_len, const char *name, uint64_t now,
    uint64_t not_before)
{
	PGconn *db = db_of(s);
	struct params p = { 0 };
	uint64_t others = 0;
	int rc;

	if ((rc = begin(s)) != SB_OK)
		return rc;
	p_text(&p, address);
	rc = q(db, S_LOCK_ADDRESS, &p, NULL);
	memset(&p, 0, sizeof(p));
	p_u64(&p, not_before);
	if (rc == SB_OK)
		rc = q(db, S_OFFER_EXPIRE, &p, NULL);
	memset(&p, 0, sizeof(p));
	p_text(&p, address);
	p_bytes(&p, identity, identity_len);
	if (rc == SB_OK)
		rc = q_u64(db, S_OFFER_OTHERS, &p, &others);
	if (rc == SB_OK && others >= SB_MAX_LINK_OFFERS)
		rc = SB_ERR_TOO_BIG;
	p_u64(&p, suite);
	p_text(&p, name);
	p_u64(&p, now);
	if (rc == SB_OK)
		rc = q(db, S_OFFER_PUT, &p, NULL);
	return end(s, rc);
}

static int
pg_link_offer_put(struct relay_store *s, const char *address, uint8_t suite,
    const uint8_t *identity, size_t identity_len, const char *name, uint64_t now,
    uint64_t not_before)
{
	int rc, t;

	for (t = 0; retried(rc = offer_put_once(s, address, suite, identity, identity_len,
	    name, now, not_before), t); t++)
		;
	return final(rc);
}

static int
pg_link_offers_of(struct relay_store *s, const char *address, uint64_t not_before,
    struct relay_link_offer **out, size_t *n)
{
	struct params p = { 0 };
	struct relay_link_offer *v;
	PGresult *r;
	size_t cnt = 0, len;
	int rc, i;

	*out = NULL;
	*n = 0;
	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_text(&p, address);
	p_u64(&p, not_before);
	p_u64(&p, SB_MAX_LINK_OFFERS);
	if ((rc = q(db_of(s), S_OFFERS_OF, &p, &r)) != SB_OK)
		return final(rc);
	if (PQntuples(r) == 0 || (v = calloc((size_t)PQntuples(r), sizeof(*v))) == NULL) {
		rc = PQntuples(r) == 0 ? SB_OK : SB_ERR_ALLOC;
		PQclear(r);
		return rc;
	}
	for (i = 0; i < PQntuples(r); i++) {
		struct relay_link_offer *o = &v[cnt];

		len = (size_t)PQgetlength(r, i, 1);
		if (len == 0 || len > sizeof(o->identity))
			continue;   /* cannot happen: the server checked it */
		o->suite = (uint8_t)col_u64(r, i, 0);
		memcpy(o->identity, PQgetvalue(r, i, 1), len);
		o->identity_len = len;
		col_text(r, i, 2, o->name, sizeof(o->name));
		o->created = col_u64(r, i, 3);
		cnt++;
	}
	PQclear(r);
	if (cnt == 0) {
		free(v);
		return SB_OK;
	}
	*out = v;
	*n = cnt;
	return SB_OK;
}

static int
approve_once(struct relay_store *s, const char *address, const uint8_t *identity,
    size_t identity_len, uint64_t not_before, const struct relay_log_signer *by,
    uint64_t now, uint64_t *device_id)
{
	PGconn *db = db_of(s);
	struct params p = { 0 };
	char name[SB_MAX_DEVICE_NAME + 1];
	uint64_t suite = 0, have = 0;
	PGresult *r;
	int rc;

	if ((rc = begin(s)) != SB_OK)
		return rc;
	p_text(&p, address);
	rc = q(db, S_LOCK_ADDRESS, &p, NULL);
	p_bytes(&p, identity, identity_len);
	p_u64(&p, not_before);
	if (rc == SB_OK && (rc = q(db, S_OFFER_GET, &p, &r)) == SB_OK) {
		if (PQntuples(r) == 1) {
			suite = col_u64(r, 0, 0);
			col_text(r, 0, 1, name, sizeof(name));
		} else {
			rc = SB_ERR_NOT_FOUND;
		}
		PQclear(r);
	}
	memset(&p, 0, sizeof(p));
	p_text(&p, address);
	if (rc == SB_OK)
		rc = q_u64(db, S_COUNT_DEVICES, &p, &have);
	if (rc == SB_OK && have >= SB_MAX_DEVICES_PER_ADDR)
		rc = SB_ERR_TOO_BIG;
	p_text(&p, name);
	p_u64(&p, suite);
	p_bytes(&p, identity, identity_len);
	p_u64(&p, now);
	if (rc == SB_OK)
		rc = q_u64(db, S_DEVICE_ADD, &p, device_id);
	if (rc == SB_OK)
		rc = log_append(db, TLOG_ADD, address, *device_id, identity, identity_len, by,
		    now);
	memset(&p, 0, sizeof(p));
	p_text(&p, address);
	p_bytes(&p, identity, identity_len);
	if (rc == SB_OK)
		rc = q(db, S_OFFER_DEL, &p, NULL);
	return end(s, rc);
}

static int
pg_link_approve(struct relay_store *s, const char *address, const uint8_t *identity,
    size_t identity_len, uint64_t not_before, const struct relay_log_signer *by,
    uint64_t now, uint64_t *device_id)
{
	int rc, t;

	for (t = 0; ; t++) {
		*device_id = 0;
		rc = approve_once(s, address, identity, identity_len, not_before, by, now,
		    device_id);
		if (!retried(rc, t))
			break;
	}
	if (rc != SB_OK)
		*device_id = 0;
	return final(rc);
}

static int
pg_log_size(struct relay_store *s, uint64_t *n)
{
	int rc;

	*n = 0;
	if ((rc = ready(s)) != SB_OK)
		return rc;
	return final(q_u64(db_of(s), S_LOG_SIZE, NULL, n));
}

static int
pg_log_leaves(struct relay_store *s, uint64_t from, uint64_t n, uint8_t (*out)[32])
{
	struct params p = { 0 };
	PGresult *r;
	uint64_t got = 0;
	int rc, i;

	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_u64(&p, from);
	p_u64(&p, from + n);   /* no overflow: n leaves exist below 2^63 */
	if ((rc = q(db_of(s), S_LOG_LEAVES, &p, &r)) != SB_OK)
		return final(rc);
	for (i = 0; i < PQntuples(r) && got < n; i++) {
		/* Indices are dense from 0: a gap is a damaged store. */
		if (col_u64(r, i, 0) != from + got || PQgetlength(r, i, 1) != 32)
			break;
		memcpy(out[got++], PQgetvalue(r, i, 1), 32);
	}
	PQclear(r);
	return got == n ? SB_OK : SB_ERR_NOT_FOUND;
}

static int
pg_log_entries_of(struct relay_store *s, const uint8_t addr[32],
    struct relay_log_entry **out, size_t *n)
{
	struct params p = { 0 };
	struct relay_log_entry *v;
	PGresult *r;
	size_t len;
	int rc = SB_OK, i, rows;

	*out = NULL;
	*n = 0;
	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_bytes(&p, addr, 32);
	p_u64(&p, SB_MAX_LOG_ENTRIES);
	if ((rc = q(db_of(s), S_LOG_OF, &p, &r)) != SB_OK)
		return final(rc);
	rows = PQntuples(r);
	if (rows == 0 || (v = calloc((size_t)rows, sizeof(*v))) == NULL) {
		PQclear(r);
		return rows == 0 ? SB_OK : SB_ERR_ALLOC;
	}
	for (i = 0; rc == SB_OK && i < rows; i++) {
		len = (size_t)PQgetlength(r, i, 1);
		if (len > RELAY_LOG_ENTRY_MAX) {
			rc = SB_ERR_STORAGE;
			break;
		}
		v[i].index = col_u64(r, i, 0);
		memcpy(v[i].entry, PQgetvalue(r, i, 1), len);
		v[i].len = len;
	}
	PQclear(r);
	if (rc != SB_OK) {
		free(v);
		return rc;
	}
	*out = v;
	*n = (size_t)rows;
	return SB_OK;
}

/* "12 34 56": the recipients, for the other nodes' sb_queued listeners. */
static int
notify_ids(PGconn *db, const char *channel, const uint64_t *ids, size_t n)
{
	char text[RELAY_MAX_EVENT_IDS * 21 + 1];
	struct params p = { 0 };
	size_t i, o = 0;

	if (n == 0 || n > RELAY_MAX_EVENT_IDS)
		return SB_ERR_INVALID_ARG;
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%llu", i ? " " : "",
		    (unsigned long long)ids[i]);
	p_text(&p, channel);
	p_text(&p, text);
	return q(db, S_NOTIFY, &p, NULL);
}

static int
batch_once(struct relay_store *s, const uint8_t msgid[PROTO_MSGID_LEN],
    const char *sender, uint64_t sender_device, uint64_t now,
    const struct relay_batch_entry *e, size_t n)
{
	PGconn *db = db_of(s);
	char list[SB_MAX_BATCH_DEVICES * 21 + 3];
	uint64_t ids[SB_MAX_BATCH_DEVICES];
	struct params p;
	size_t i, o = 0;
	int rc;

	if (n == 0 || n > SB_MAX_BATCH_DEVICES)
		return SB_ERR_INVALID_ARG;
	/* "{1,2,3}": the array goes as text and is cast, one parameter. */
	list[o++] = '{';
	for (i = 0; i < n; i++) {
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%llu", i ? "," : "",
		    (unsigned long long)e[i].device_id);
		ids[i] = e[i].device_id;
	}
	list[o++] = '}';
	list[o] = '\0';
	if ((rc = begin(s)) != SB_OK)
		return rc;
	memset(&p, 0, sizeof(p));
	p_text(&p, list);
	rc = q(db, S_LOCK_DEVICES, &p, NULL);
	for (i = 0; rc == SB_OK && i < n; i++) {
		memset(&p, 0, sizeof(p));
		p_u64(&p, e[i].device_id);
		p_bytes(&p, msgid, PROTO_MSGID_LEN);
		p_text(&p, sender);
		p_u64(&p, sender_device);
		p_u64(&p, now);
		p_bytes(&p, e[i].payload, e[i].payload_len);
		/* A repeated (sender device, message id, device) hits the status
		 * primary key: SB_ERR_EXISTS, and the whole batch rolls back. */
		rc = q(db, S_QUEUE_ADD, &p, NULL);
	}
	if (rc == SB_OK)
		rc = notify_ids(db, "sb_queued", ids, n);
	return end(s, rc);
}

static int
pg_batch_commit(struct relay_store *s, const uint8_t msgid[PROTO_MSGID_LEN],
    const char *sender, uint64_t sender_device, uint64_t now,
    const struct relay_batch_entry *e, size_t n)
{
	int rc, t;

	for (t = 0; retried(rc = batch_once(s, msgid, sender, sender_device, now, e, n), t);
	    t++)
		;
	return final(rc);
}

static int
pg_queue_next(struct relay_store *s, uint64_t device_id, uint64_t after,
    uint64_t not_before, struct relay_item *out)
{
	struct params p = { 0 };
	PGresult *r;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_u64(&p, device_id);
	p_u64(&p, after);
	p_u64(&p, not_before);
	if ((rc = q(db_of(s), S_QUEUE_NEXT, &p, &r)) != SB_OK)
		return final(rc);
	if (PQntuples(r) != 1) {
		PQclear(r);
		return SB_ERR_NOT_FOUND;
	}
	out->id = col_u64(r, 0, 0);
	out->device_id = device_id;
	if (PQgetlength(r, 0, 1) == PROTO_MSGID_LEN)
		memcpy(out->msgid, PQgetvalue(r, 0, 1), PROTO_MSGID_LEN);
	col_text(r, 0, 2, out->sender, sizeof(out->sender));
	out->sender_device = col_u64(r, 0, 3);
	out->timestamp = col_u64(r, 0, 4);
	n = (size_t)PQgetlength(r, 0, 5);
	if ((out->payload = malloc(n > 0 ? n : 1)) == NULL) {
		PQclear(r);
		return SB_ERR_ALLOC;
	}
	memcpy(out->payload, PQgetvalue(r, 0, 5), n);
	out->payload_len = n;
	PQclear(r);
	return SB_OK;
}

static int
pg_queue_ack(struct relay_store *s, uint64_t device_id, uint64_t item_id)
{
	struct params p = { 0 };
	uint64_t n = 0;
	int rc, t;

	for (t = 0; ; t++) {
		int grp = ((struct pg_store *)s)->group;

		if ((rc = grp ? begin(s) : ready(s)) != SB_OK)
			return rc;
		memset(&p, 0, sizeof(p));
		p_u64(&p, item_id);
		p_u64(&p, device_id);
		rc = q_u64(db_of(s), S_ACK, &p, &n);
		if (grp)
			rc = end(s, rc);
		if (!retried(rc, t))
			break;
	}
	if (rc != SB_OK)
		return final(rc);
	return n == 1 ? SB_OK : SB_ERR_NOT_FOUND;
}

static int
pg_status(struct relay_store *s, uint64_t sender_device,
    const uint8_t msgid[PROTO_MSGID_LEN], struct proto_status_entry **out, size_t *n)
{
	struct params p = { 0 };
	struct proto_status_entry *v;
	PGresult *r;
	int rc, i, rows;

	*out = NULL;
	*n = 0;
	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_u64(&p, sender_device);
	p_bytes(&p, msgid, PROTO_MSGID_LEN);
	p_u64(&p, SB_MAX_STATUS_DEVICES);
	if ((rc = q(db_of(s), S_STATUS, &p, &r)) != SB_OK)
		return final(rc);
	rows = PQntuples(r);
	if (rows == 0 || (v = calloc((size_t)rows, sizeof(*v))) == NULL) {
		PQclear(r);
		return rows == 0 ? SB_ERR_NOT_FOUND : SB_ERR_ALLOC;
	}
	for (i = 0; i < rows; i++) {
		v[i].device_id = col_u64(r, i, 0);
		v[i].state = (uint8_t)col_u64(r, i, 1);
	}
	PQclear(r);
	*out = v;
	*n = (size_t)rows;
	return SB_OK;
}

static int
expire_once(struct relay_store *s, uint64_t item_cutoff, uint64_t status_cutoff,
    uint64_t *n_expired)
{
	PGconn *db = db_of(s);
	struct params p = { 0 }, ps = { 0 };
	int rc;

	if ((rc = begin(s)) != SB_OK)
		return rc;
	p_u64(&p, item_cutoff);
	p_u64(&ps, status_cutoff);
	rc = q(db, S_EXP_STATUS, &p, NULL);
	if (rc == SB_OK)
		rc = q_changes(db, S_EXP_QUEUE, &p, n_expired);
	if (rc == SB_OK)
		rc = q(db, S_EXP_STATUS_ROWS, &ps, NULL);
	if (rc == SB_OK)
		rc = q(db, S_EXP_INVITES, &p, NULL);
	return end(s, rc);
}

static int
pg_expire(struct relay_store *s, uint64_t item_cutoff, uint64_t status_cutoff,
    uint64_t *n_expired)
{
	int rc, t;

	for (t = 0; ; t++) {
		*n_expired = 0;
		rc = expire_once(s, item_cutoff, status_cutoff, n_expired);
		if (!retried(rc, t))
			break;
	}
	if (rc != SB_OK)
		*n_expired = 0;
	return final(rc);
}

static int
pg_blob_add(struct relay_store *s, const char *uri, uint64_t size,
    uint64_t owner_device, uint64_t now)
{
	struct params p = { 0 };
	int rc;

	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_text(&p, uri);
	p_u64(&p, size);
	p_u64(&p, owner_device);
	p_u64(&p, now);
	rc = final(q(db_of(s), S_BLOB_ADD, &p, NULL));
	/* The same answer as SQLite's for a URI used twice. */
	return rc == SB_ERR_EXISTS ? SB_ERR_STORAGE : rc;
}

static int
pg_blob_get(struct relay_store *s, const char *uri, uint64_t not_before,
    uint64_t *size)
{
	struct params p = { 0 };
	int rc;

	*size = 0;
	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_text(&p, uri);
	p_u64(&p, not_before);
	return final(q_u64(db_of(s), S_BLOB_GET, &p, size));
}

static int
blob_expire_once(struct relay_store *s, uint64_t cutoff,
    void (*gone)(void *arg, const char *uri), void *arg)
{
	PGconn *db = db_of(s);
	struct params p = { 0 };
	char uri[SB_MAX_URI + 1];
	PGresult *r;
	int rc, i;

	if ((rc = begin(s)) != SB_OK)
		return rc;
	p_u64(&p, cutoff);
	rc = q(db, S_BLOB_EXP_LIST, &p, &r);
	if (rc == SB_OK) {
		for (i = 0; i < PQntuples(r); i++) {
			col_text(r, i, 0, uri, sizeof(uri));
			gone(arg, uri);
		}
		PQclear(r);
		rc = q(db, S_BLOB_EXP_DATA, &p, NULL);
	}
	if (rc == SB_OK)
		rc = q(db, S_BLOB_EXP, &p, NULL);
	return end(s, rc);
}

static int
blob_delete_once(struct relay_store *s, const char *uri, uint64_t owner)
{
	PGconn *db = db_of(s);
	struct params p = { 0 };
	PGresult *r;
	int rc;

	if ((rc = begin(s)) != SB_OK)
		return rc;
	p_text(&p, uri);
	p_u64(&p, owner);
	rc = q(db, S_BLOB_DEL_DATA, &p, NULL);
	if (rc == SB_OK && (rc = q(db, S_BLOB_DEL, &p, &r)) == SB_OK) {
		if (PQntuples(r) == 0)
			rc = SB_ERR_NOT_FOUND;
		PQclear(r);
	}
	return end(s, rc);
}

static int
pg_blob_delete(struct relay_store *s, const char *uri, uint64_t owner)
{
	int rc, t;

	for (t = 0; retried(rc = blob_delete_once(s, uri, owner), t); t++)
		;
	return final(rc);
}

static int
pg_blob_expire(struct relay_store *s, uint64_t cutoff,
    void (*gone)(void *arg, const char *uri), void *arg)
{
	int rc, t;

	for (t = 0; retried(rc = blob_expire_once(s, cutoff, gone, arg), t); t++)
		;
	return final(rc);
}

static int
pg_usage(struct relay_store *s, const char *address, uint64_t *items,
    uint64_t *bytes, uint64_t *blob_bytes)
{
	struct params p = { 0 };
	PGresult *r;
	int rc;

	*items = *bytes = *blob_bytes = 0;
	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_text(&p, address);
	if ((rc = q(db_of(s), S_USAGE, &p, &r)) != SB_OK)
		return final(rc);
	if (PQntuples(r) == 1) {
		*items = col_u64(r, 0, 0);
		*bytes = col_u64(r, 0, 1);
	}
	PQclear(r);
	return final(q_u64(db_of(s), S_BLOB_USAGE, &p, blob_bytes));
}

static int
pg_queue_count(struct relay_store *s, uint64_t device_id, uint64_t *n)
{
	struct params p = { 0 };
	int rc;

	*n = 0;
	if ((rc = ready(s)) != SB_OK)
		return rc;
	if (device_id == 0)
		return final(q_u64(db_of(s), S_COUNT_ALL, NULL, n));
	p_u64(&p, device_id);
	return final(q_u64(db_of(s), S_COUNT_DEV, &p, n));
}

static int
pg_sweep_claim(struct relay_store *s, uint64_t now, uint64_t interval)
{
	struct params p = { 0 };
	uint64_t n = 0;
	int rc;

	if ((rc = ready(s)) != SB_OK)
		return rc;
	/* Both bounds stay in bigint: relay times are far below 2^62. */
	p_u64(&p, now);
	p_u64(&p, interval);
	if ((rc = q_changes(db_of(s), S_SWEEP_CLAIM, &p, &n)) != SB_OK)
		return final(rc);
	return n == 1 ? SB_OK : SB_ERR_EXISTS;
}

static int
pg_device_seen(struct relay_store *s, uint64_t id, uint64_t now)
{
	struct params p = { 0 };
	int rc;

	if (((struct pg_store *)s)->group) {
		/* in a group: a failure must not take the group with it */
		if ((rc = begin(s)) != SB_OK)
			return rc;
		p_u64(&p, now);
		p_u64(&p, id);
		return final(end(s, q(db_of(s), S_DEVICE_SEEN, &p, NULL)));
	}
	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_u64(&p, now);
	p_u64(&p, id);
	return final(q(db_of(s), S_DEVICE_SEEN, &p, NULL));
}

static int
pg_invite_void(struct relay_store *s, const char *address, uint64_t *n)
{
	struct params p = { 0 };
	int rc;

	*n = 0;
	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_text(&p, address);
	return final(q_changes(db_of(s), S_INVITE_VOID, &p, n));
}

static int
drop_owner_once(struct relay_store *s, uint64_t owner,
    void (*gone)(void *arg, const char *uri), void *arg, uint64_t *n, uint64_t *bytes)
{
	PGconn *db = db_of(s);
	struct params p = { 0 };
	char uri[SB_MAX_URI + 1];
	PGresult *r;
	int rc, i;

	if ((rc = begin(s)) != SB_OK)
		return rc;
	p_u64(&p, owner);
	rc = q(db, S_OWNER_LIST, &p, &r);
	if (rc == SB_OK) {
		for (i = 0; i < PQntuples(r); i++) {
			col_text(r, i, 0, uri, sizeof(uri));
			gone(arg, uri);
			(*n)++;
			*bytes += col_u64(r, i, 1);
		}
		PQclear(r);
		rc = q(db, S_OWNER_DATA, &p, NULL);
	}
	if (rc == SB_OK)
		rc = q(db, S_OWNER_DEL, &p, NULL);
	return end(s, rc);
}

static int
pg_blob_drop_owner(struct relay_store *s, uint64_t owner,
    void (*gone)(void *arg, const char *uri), void *arg, uint64_t *n, uint64_t *bytes)
{
	int rc, t;

	for (t = 0; ; t++) {
		*n = *bytes = 0;
		rc = drop_owner_once(s, owner, gone, arg, n, bytes);
		if (!retried(rc, t))
			break;
	}
	if (rc != SB_OK)
		*n = *bytes = 0;
	return final(rc);
}

static int
pg_totals(struct relay_store *s, struct relay_store_totals *out)
{
	PGresult *r;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ready(s)) != SB_OK)
		return rc;
	if ((rc = q(db_of(s), S_TOTALS, NULL, &r)) != SB_OK)
		return final(rc);
	if (PQntuples(r) == 1) {
		out->devices = col_u64(r, 0, 0);
		out->queued_items = col_u64(r, 0, 1);
		out->blobs = col_u64(r, 0, 2);
		out->blob_bytes = col_u64(r, 0, 3);
	} else {
		rc = SB_ERR_STORAGE;
	}
	PQclear(r);
	return rc;
}

static int
pg_blob_each(struct relay_store *s, int (*blob)(void *arg, const char *uri, uint64_t size),
    void *arg)
{
	char uri[SB_MAX_URI + 1];
	PGresult *r;
	int rc, i;

	if ((rc = ready(s)) != SB_OK)
		return rc;
	if ((rc = q(db_of(s), S_BLOB_EACH, NULL, &r)) != SB_OK)
		return final(rc);
	for (i = 0; rc == SB_OK && i < PQntuples(r); i++) {
		col_text(r, i, 0, uri, sizeof(uri));
		rc = blob(arg, uri, col_u64(r, i, 1));
	}
	PQclear(r);
	return rc;
}

/* ---- blob contents ---------------------------------------------------------- */

static int
pg_blob_begin(struct relay_store *s, uint64_t owner, uint64_t size, uint64_t now,
    uint64_t *upload)
{
	struct params p = { 0 };
	int rc;

	*upload = 0;
	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_u64(&p, now > UPLOAD_STALE_S ? now - UPLOAD_STALE_S : 0);
	if ((rc = q(db_of(s), S_UP_STALE, &p, NULL)) != SB_OK)
		return final(rc);
	memset(&p, 0, sizeof(p));
	p_u64(&p, owner);
	p_u64(&p, size);
	p_u64(&p, now);
	return final(q_u64(db_of(s), S_UP_BEGIN, &p, upload));
}

static int
pg_blob_write(struct relay_store *s, uint64_t upload, uint64_t index,
    const uint8_t *d, size_t n)
{
	struct params p = { 0 };
	int rc;

	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_u64(&p, upload);
	p_u64(&p, index);
	p_bytes(&p, d, n);
	return final(q(db_of(s), S_UP_WRITE, &p, NULL));
}

static int
pg_blob_finish(struct relay_store *s, uint64_t upload, const char *uri, uint64_t size,
    uint64_t owner, uint64_t now)
{
	struct params p = { 0 };
	uint64_t n = 0;
	int rc;

	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_u64(&p, upload);
	p_text(&p, uri);
	p_u64(&p, size);
	p_u64(&p, owner);
	p_u64(&p, now);
	if ((rc = q_changes(db_of(s), S_UP_DONE, &p, &n)) != SB_OK)
		return rc == SB_ERR_EXISTS ? SB_ERR_STORAGE : final(rc);
	return n == 1 ? SB_OK : SB_ERR_NOT_FOUND;
}

static void
pg_blob_drop(struct relay_store *s, uint64_t upload)
{
	struct params p = { 0 };

	if (ready(s) != SB_OK)
		return;   /* the next upload's stale sweep takes it */
	p_u64(&p, upload);
	if (q(db_of(s), S_UP_DROP, &p, NULL) == SB_OK)
		q(db_of(s), S_UP_DROP_DATA, &p, NULL);
}

static int
pg_blob_open(struct relay_store *s, const char *uri, uint64_t not_before,
    uint64_t *size, uint64_t *handle)
{
	struct params p = { 0 };
	PGresult *r;
	int rc;

	*size = *handle = 0;
	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_text(&p, uri);
	p_u64(&p, not_before);
	if ((rc = q(db_of(s), S_BLOB_OPEN, &p, &r)) != SB_OK)
		return final(rc);
	if (PQntuples(r) == 1) {
		*size = col_u64(r, 0, 0);
		*handle = col_u64(r, 0, 1);
	} else {
		rc = SB_ERR_NOT_FOUND;
	}
	PQclear(r);
	return rc;
}

static int
pg_blob_read(struct relay_store *s, uint64_t handle, uint64_t index, uint8_t *buf,
    size_t cap, size_t *n)
{
	struct params p = { 0 };
	PGresult *r;
	size_t len;
	int rc;

	*n = 0;
	if ((rc = ready(s)) != SB_OK)
		return rc;
	p_u64(&p, handle);
	p_u64(&p, index);
	if ((rc = q(db_of(s), S_BLOB_READ, &p, &r)) != SB_OK)
		return final(rc);
	if (PQntuples(r) != 1) {
		PQclear(r);
		return SB_ERR_NOT_FOUND;
	}
	len = (size_t)PQgetlength(r, 0, 0);
	if (len > cap) {
		PQclear(r);
		return SB_ERR_STORAGE;   /* a chunk larger than any frame we took */
	}
	memcpy(buf, PQgetvalue(r, 0, 0), len);
	*n = len;
	PQclear(r);
	return SB_OK;
}

/* ---- news between nodes --------------------------------------------------------- */

int
relay_event_parse(const char *text, size_t len, uint64_t *ids, size_t max, size_t *n)
{
	size_t i = 0, k = 0, digits;
	uint64_t v;

	*n = 0;
	if (len == 0)
		return SB_ERR_FORMAT;
	while (i < len) {
		if (k == max)
			return SB_ERR_FORMAT;
		v = 0;
		for (digits = 0; i < len && text[i] >= '0' && text[i] <= '9'; i++, digits++) {
			unsigned d = (unsigned)(text[i] - '0');

			/* overflow guard: v * 10 + d must stay below 2^64 */
			if (v > (UINT64_MAX - d) / 10)
				return SB_ERR_FORMAT;
			v = v * 10 + d;
		}
		if (digits == 0 || digits > 20)
			return SB_ERR_FORMAT;
		ids[k++] = v;
		if (i < len) {
			if (text[i] != ' ' || i + 1 == len)
				return SB_ERR_FORMAT;
			i++;
		}
	}
	*n = k;
	return SB_OK;
}

static int
pg_announce(struct relay_store *s, int kind, uint64_t device, uint64_t at)
{
	uint64_t v[2] = { device, at };
	int rc;

	if ((rc = ready(s)) != SB_OK)
		return rc;
	if (kind == RELAY_EV_CONNECTED)
		return final(notify_ids(db_of(s), "sb_connected", v, 2));
	if (kind == RELAY_EV_REMOVED)
		return final(notify_ids(db_of(s), "sb_removed", v, 1));
	return SB_ERR_INVALID_ARG;
}

static int
pg_events_fd(struct relay_store *st, int *fd)
{
	struct pg_store *s = (struct pg_store *)st;
	char why[256];

	*fd = -1;
	if (s->lsn != NULL)
		PQfinish(s->lsn);
	if ((s->lsn = connect_db(s->conninfo, why, sizeof(why))) == NULL)
		return SB_ERR_STORAGE;
	if (simple(s->lsn, "LISTEN sb_queued") != SB_OK ||
	    simple(s->lsn, "LISTEN sb_connected") != SB_OK ||
	    simple(s->lsn, "LISTEN sb_removed") != SB_OK ||
	    PQsetnonblocking(s->lsn, 1) != 0 || (*fd = PQsocket(s->lsn)) < 0) {
		PQfinish(s->lsn);
		s->lsn = NULL;
		*fd = -1;
		return SB_ERR_STORAGE;
	}
	return SB_OK;
}

static int
pg_events_read(struct relay_store *st,
    void (*cb)(void *arg, int kind, uint64_t device, uint64_t at), void *arg)
{
	struct pg_store *s = (struct pg_store *)st;
	uint64_t ids[RELAY_MAX_EVENT_IDS];
	PGnotify *nf;
	size_t n, i;
	int own, kind;

	if (s->lsn == NULL || PQconsumeInput(s->lsn) != 1 || PQstatus(s->lsn) != CONNECTION_OK)
		return SB_ERR_STORAGE;
	/* Our own notifications come from the request connection's backend. */
	own = PQbackendPID(s->db);
	while ((nf = PQnotifies(s->lsn)) != NULL) {
		kind = strcmp(nf->relname, "sb_queued") == 0 ? RELAY_EV_QUEUED :
		    strcmp(nf->relname, "sb_connected") == 0 ? RELAY_EV_CONNECTED :
		    strcmp(nf->relname, "sb_removed") == 0 ? RELAY_EV_REMOVED : 0;
		if (nf->be_pid != own && kind != 0 &&
		    relay_event_parse(nf->extra, strlen(nf->extra), ids, RELAY_MAX_EVENT_IDS,
		    &n) == SB_OK) {
			if (kind == RELAY_EV_QUEUED)
				for (i = 0; i < n; i++)
					cb(arg, kind, ids[i], 0);
			else
				cb(arg, kind, ids[0], n > 1 ? ids[1] : 0);
		}
		PQfreemem(nf);
	}
	return SB_OK;
}

static const struct relay_store_ops pg_ops = {
	.close = pg_close,
	.invite_add = pg_invite_add,
	.enroll = pg_enroll,
	.device_get = pg_device_get,
	.devices_of = pg_devices_of,
	.device_remove = pg_device_remove,
	.device_seen = pg_device_seen,
	.invite_void = pg_invite_void,
	.link_offer_put = pg_link_offer_put,
	.link_offers_of = pg_link_offers_of,
	.link_approve = pg_link_approve,
	.log_size = pg_log_size,
	.log_leaves = pg_log_leaves,
	.log_entries_of = pg_log_entries_of,
	.batch_commit = pg_batch_commit,
	.queue_next = pg_queue_next,
	.queue_ack = pg_queue_ack,
	.status = pg_status,
	.expire = pg_expire,
	.blob_add = pg_blob_add,
	.blob_get = pg_blob_get,
	.blob_expire = pg_blob_expire,
	.blob_delete = pg_blob_delete,
	.blob_drop_owner = pg_blob_drop_owner,
	.usage = pg_usage,
	.queue_count = pg_queue_count,
	.totals = pg_totals,
	.blob_each = pg_blob_each,
	/* .backup: none of our own; pg_dump takes a consistent copy
	 * (docs/RELAY.md). */
	.sweep_claim = pg_sweep_claim,
	.blob_begin = pg_blob_begin,
	.blob_write = pg_blob_write,
	.blob_finish = pg_blob_finish,
	.blob_drop = pg_blob_drop,
	.blob_open = pg_blob_open,
	.blob_read = pg_blob_read,
	.announce = pg_announce,
	.events_fd = pg_events_fd,
	.events_read = pg_events_read,
	.group_begin = pg_group_begin,
	.group_end = pg_group_end,
};

/* The schema version a database holds: 0 for an empty one. */
static int
schema_version(PGconn *db, uint64_t *have)
{
	PGresult *r = PQexec(db, "SELECT to_regclass('relay_meta') IS NOT NULL");
	int rc = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? SB_OK :
	    SB_ERR_STORAGE;
	int exists = rc == SB_OK && PQgetvalue(r, 0, 0)[0] == 't';

	PQclear(r);
	*have = 0;
	if (rc != SB_OK || !exists)
		return rc;
	r = PQexec(db, "SELECT v FROM relay_meta WHERE k='schema'");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = SB_ERR_STORAGE;
	else if (PQntuples(r) == 1)
		*have = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return rc;
}

/*
 * Creates or upgrades the schema, under a lock so that nodes starting
 * together do not race on CREATE ... IF NOT EXISTS; a current schema is
 * left alone (its ALTERs would lock the queue while other nodes serve).
 * A database written by a newer relay is refused rather than
 * half-understood.
 */
static int
migrate(PGconn *db, char *why, size_t cap)
{
	PGresult *r;
	uint64_t have = 0;
	int rc;

	if ((rc = simple(db, "BEGIN")) != SB_OK)
		goto out;
	r = PQexec(db, "SELECT pg_advisory_xact_lock(1, 0)");
	rc = PQresultStatus(r) == PGRES_TUPLES_OK ? SB_OK : SB_ERR_STORAGE;
	PQclear(r);
	if (rc == SB_OK)
		rc = schema_version(db, &have);
	if (rc == SB_OK && have > SCHEMA_VERSION) {
		snprintf(why, cap, "the database's schema (version %llu) is newer than this"
		    " relay's (%d)", (unsigned long long)have, SCHEMA_VERSION);
		PQclear(PQexec(db, "ROLLBACK"));
		return SB_ERR_CONFIG;
	}
	if (rc == SB_OK && have < SCHEMA_VERSION) {
		rc = simple(db, "SET LOCAL client_min_messages = warning");
		if (rc == SB_OK)
			rc = simple(db, schema);
		if (rc == SB_OK)
			rc = simple(db, "INSERT INTO relay_meta VALUES ('schema', 1)"
			    " ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v");
	}
	if (rc == SB_OK)
		rc = simple(db, "COMMIT");
out:
	if (rc != SB_OK) {
		first_line(PQerrorMessage(db), why, cap);
		PQclear(PQexec(db, "ROLLBACK"));
	}
	return rc;
}

int
relay_store_open_pg(const char *conninfo, struct relay_store **out, char *why, size_t cap)
{
	struct pg_store *s;
	int rc;

	*out = NULL;
	if (cap > 0)
		why[0] = '\0';
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->conninfo = strdup(conninfo)) == NULL) {
		free(s);
		return SB_ERR_ALLOC;
	}
	s->base.ops = &pg_ops;
	if ((s->db = connect_db(conninfo, why, cap)) == NULL) {
		pg_close(&s->base);
		return SB_ERR_STORAGE;
	}
	if ((rc = migrate(s->db, why, cap)) != SB_OK ||
	    (rc = prepare_all(s->db)) != SB_OK) {
		if (cap > 0 && why[0] == '\0')
			first_line(PQerrorMessage(s->db), why, cap);
		pg_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return SB_OK;
}
