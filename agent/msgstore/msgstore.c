/*
 * msgstore.c - the store of received messages: its tables in store.db
 * (schema, records and their sealed payloads, replay cache, waiting table)
 * and its files in HOME/data (content files; payloads of rows from before
 * schema v9), deleted only once no record names them.
 * msgstore.h says what it owns and what it never knows about.
 */
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/internal.h"
#include "agent/msgstore/msgstore.h"
#include "agent/store.h"
#include "common/sberr.h"
#include "crypto/crypto.h"

/* ---- Schema and the replay cache ------------------------------------------ */

static const char *const schema_steps[] = {
	/* v1 */
	"CREATE TABLE inbox_devices("
	" address TEXT NOT NULL, device_id INTEGER NOT NULL,"
	" identity BLOB NOT NULL, PRIMARY KEY(address, device_id));"
	"CREATE TABLE inbox_replay("
	" msgid BLOB NOT NULL UNIQUE, keyhash BLOB NOT NULL UNIQUE,"
	" seen INTEGER NOT NULL);"
	"CREATE TABLE inbox_messages("
	" id INTEGER PRIMARY KEY,"
	" box INTEGER NOT NULL, folder TEXT NOT NULL, name TEXT NOT NULL,"
	" msgid BLOB NOT NULL, sender TEXT NOT NULL, sender_device INTEGER NOT NULL,"
	" identity BLOB NOT NULL, sent INTEGER NOT NULL, received INTEGER NOT NULL,"
	" size INTEGER NOT NULL, mtime_sec INTEGER NOT NULL,"
	" mtime_nsec INTEGER NOT NULL, kind INTEGER NOT NULL,"
	" payload TEXT NOT NULL, cfile TEXT, cfile_id BLOB,"
	" UNIQUE(box, folder, name));",
	/* v2: names are looked up per box (inbox folders follow the contacts). */
	"CREATE INDEX inbox_messages_name ON inbox_messages(box, name);",
	/* v3: message ids are unique per sending device only (struct
	 * msgstore_seen).  Old rows take their sender from the message they
	 * stored; one whose message is gone keeps an empty sender, which no
	 * envelope has, so only its key-block hash still counts. */
	"CREATE TABLE inbox_seen("
	" sender TEXT NOT NULL, sender_device INTEGER NOT NULL, msgid BLOB NOT NULL,"
	" keyhash BLOB NOT NULL UNIQUE, seen INTEGER NOT NULL,"
	" PRIMARY KEY(sender, sender_device, msgid));"
	"INSERT OR IGNORE INTO inbox_seen(sender, sender_device, msgid, keyhash, seen)"
	" SELECT coalesce(m.sender, ''), coalesce(m.sender_device, 0), r.msgid,"
	"  r.keyhash, r.seen FROM inbox_replay r LEFT JOIN inbox_messages m"
	"  ON m.msgid = r.msgid;"
	"DROP TABLE inbox_replay;",
	/* v4: items waiting for local space (sealbox status shows them);
	 * rewritten by every run, emptied at start. */
	"CREATE TABLE inbox_waiting("
	" item_id INTEGER PRIMARY KEY, sender TEXT NOT NULL, size INTEGER NOT NULL,"
	" need INTEGER NOT NULL, avail INTEGER NOT NULL, since INTEGER NOT NULL,"
	" tries INTEGER NOT NULL);",
	/* v5: every change the directory made to a sender's devices after we
	 * first pinned them (issue 12, finding 5); never deleted. */
	"CREATE TABLE inbox_key_events("
	" id INTEGER PRIMARY KEY, time INTEGER NOT NULL, address TEXT NOT NULL,"
	" device_id INTEGER NOT NULL, event TEXT NOT NULL,"
	" old_hash BLOB, new_hash BLOB);",
	/* v6: one content file per attachment content (recv.c blob_id),
	 * however many messages name it (issue 12, finding 6). */
	"ALTER TABLE inbox_messages ADD COLUMN blob_id BLOB;"
	"CREATE INDEX inbox_messages_blob ON inbox_messages(blob_id);",
	/* v7: when the message arrived here (ns since the epoch): its ctime,
	 * so find -cnewer and backup tools see late arrivals (issue 13,
	 * point 5); mtime stays the sender's time.  0 for older rows: their
	 * ctime stays the relay's time. */
	"ALTER TABLE inbox_messages ADD COLUMN arrived_ns INTEGER NOT NULL DEFAULT 0;",
	/* v8: when a message was last removed from a folder (ns), keyed by the
	 * folder as shown then: the folder's mtime and ctime never go back
	 * when its newest message goes (issue 13, point 4). */
	"CREATE TABLE inbox_folder_times(box INTEGER NOT NULL, folder TEXT NOT NULL,"
	" time_ns INTEGER NOT NULL, PRIMARY KEY(box, folder));",
	/* v9: the sealed payload in the row itself (issue 15): a batch of
	 * received messages is durable at one COMMIT, one fsync, instead of
	 * a file, its fsync and its folder's fsync each.  payload is '' for
	 * such a row; older rows keep their data/in-<id>.msg file. */
	"ALTER TABLE inbox_messages ADD COLUMN payload_data BLOB;",
	/* v10: a sender's rows by index: whether an arrival opens a new
	 * inbox/ folder is asked inside the receiver's transaction
	 * (recv.c folder_is_new), one index probe instead of a listing. */
	"CREATE INDEX inbox_messages_sender ON inbox_messages(box, sender);",
};

/* ---- Prepared statements, kept ----------------------------------------- */

/*
 * The receiver runs the same dozen statements for every message, and a
 * listing one per row run: prepared once per connection and reset after
 * use instead of parsed again each time (issue 15).  Keyed by the SQL
 * text's address (callers pass string literals) and the connection; a
 * statement in use (a nested use) is prepared afresh.  The table has its
 * own lock; each statement is used under its connection's db_lock.
 */
#define STMT_CACHE 32

static struct {
	sqlite3 *db;
	const char *sql;
	sqlite3_stmt *st;
	int busy;
} stmts[STMT_CACHE];
static pthread_mutex_t stmts_lock = PTHREAD_MUTEX_INITIALIZER;

int
msgstore_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
	int i, free_slot = -1, rc;

	pthread_mutex_lock(&stmts_lock);
	for (i = 0; i < STMT_CACHE; i++) {
		if (stmts[i].st != NULL && stmts[i].db == db && stmts[i].sql == sql) {
			if (stmts[i].busy)
				break;
			stmts[i].busy = 1;
			*out = stmts[i].st;
			pthread_mutex_unlock(&stmts_lock);
			return SB_OK;
		}
		if (stmts[i].st == NULL && free_slot < 0)
			free_slot = i;
	}
	if (i < STMT_CACHE)
		free_slot = -1;           /* in use: a fresh one, not kept */
	rc = store_prepare(db, sql, out);
	if (rc == SB_OK && free_slot >= 0) {
		stmts[free_slot].db = db;
		stmts[free_slot].sql = sql;
		stmts[free_slot].st = *out;
		stmts[free_slot].busy = 1;
	}
	pthread_mutex_unlock(&stmts_lock);
	return rc;
}

void
msgstore_finalize(sqlite3_stmt *st)
{
	int i;

	if (st == NULL)
		return;
	pthread_mutex_lock(&stmts_lock);
	for (i = 0; i < STMT_CACHE; i++) {
		if (stmts[i].st == st) {
			/* (reset also ends its read transaction) */
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			stmts[i].busy = 0;
			pthread_mutex_unlock(&stmts_lock);
			return;
		}
	}
	pthread_mutex_unlock(&stmts_lock);
	sqlite3_finalize(st);
}

int
msgstore_exec(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int rc = msgstore_prepare(db, sql, &st);

	if (rc == SB_OK)
		rc = store_step_done(db, st);
	msgstore_finalize(st);
	return rc;
}

void
msgstore_stmts_free(sqlite3 *db)
{
	int i;

	pthread_mutex_lock(&stmts_lock);
	for (i = 0; i < STMT_CACHE; i++) {
		if (stmts[i].st != NULL && stmts[i].db == db) {
			sqlite3_finalize(stmts[i].st);
			memset(&stmts[i], 0, sizeof(stmts[i]));
		}
	}
	pthread_mutex_unlock(&stmts_lock);
}

int
msgstore_folder_touch(sqlite3 *db, int box, const char *folder, int64_t now_ns)
{
	sqlite3_stmt *st = NULL;
	int rc = msgstore_prepare(db, "INSERT INTO inbox_folder_times(box, folder, time_ns)"
	    " VALUES(?1, ?2, ?3) ON CONFLICT(box, folder) DO UPDATE SET"
	    " time_ns = max(?3, time_ns + 1)", &st);

	if (rc != SB_OK)
		return rc;
	sqlite3_bind_int(st, 1, box);
	sqlite3_bind_text(st, 2, folder, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now_ns);
	rc = store_step_done(db, st);
	msgstore_finalize(st);
	return rc;
}

int64_t
msgstore_folder_time(sqlite3 *db, int box, const char *folder)
{
	sqlite3_stmt *st = NULL;
	int64_t t = 0;

	if (msgstore_prepare(db, "SELECT time_ns FROM inbox_folder_times WHERE box = ? AND"
	    " folder = ?", &st) != SB_OK)
		return 0;
	sqlite3_bind_int(st, 1, box);
	sqlite3_bind_text(st, 2, folder, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		t = sqlite3_column_int64(st, 0);
	msgstore_finalize(st);
	return t;
}

int
msgstore_schema(sqlite3 *db)
{
	return store_migrate(db, "inbox", schema_steps,
	    sizeof(schema_steps) / sizeof(schema_steps[0]));
}

static void
bind_seen(sqlite3_stmt *st, const struct msgstore_seen *s)
{
	sqlite3_bind_text(st, 1, s->sender, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)s->sender_device);
	sqlite3_bind_blob(st, 3, s->msgid, MSGSTORE_MSGID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, s->keyhash, MSGSTORE_KEYHASH_LEN, SQLITE_STATIC);
}

int
msgstore_replay_check(sqlite3 *db, const struct msgstore_seen *s)
{
	sqlite3_stmt *st = NULL;
	int rc = msgstore_prepare(db, "SELECT count(*) FROM inbox_seen"
	    " WHERE (sender = ?1 AND sender_device = ?2 AND msgid = ?3)"
	    " OR keyhash = ?4", &st);

	if (rc != SB_OK)
		return rc;
	bind_seen(st, s);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = sqlite3_column_int64(st, 0) > 0 ? SB_ERR_REPLAY : SB_OK;
	else
		rc = store_err(db, rc, "replay check");
	msgstore_finalize(st);
	return rc;
}

int
msgstore_replay_add(sqlite3 *db, const struct msgstore_seen *s, uint64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc = msgstore_prepare(db, "INSERT INTO inbox_seen(sender, sender_device,"
	    " msgid, keyhash, seen) VALUES (?1, ?2, ?3, ?4, ?5)", &st);

	if (rc != SB_OK)
		return rc;
	bind_seen(st, s);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
	rc = sqlite3_step(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		rc = SB_ERR_REPLAY;
	else
		rc = store_err(db, rc, "replay add");
	msgstore_finalize(st);
	return rc;
}

int
msgstore_waiting_note(sqlite3 *db, uint64_t item_id, const char *sender, uint64_t size,
    uint64_t need, uint64_t avail, unsigned tries, uint64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(db, "INSERT INTO inbox_waiting(item_id, sender, size,"
	    " need, avail, since, tries) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	    " ON CONFLICT(item_id) DO UPDATE SET need = ?4, avail = ?5, tries = ?7", &st);

	if (rc != SB_OK)
		return rc;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)item_id);
	sqlite3_bind_text(st, 2, sender, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)(size > INT64_MAX ? INT64_MAX : size));
	sqlite3_bind_int64(st, 4, (sqlite3_int64)(need > INT64_MAX ? INT64_MAX : need));
	sqlite3_bind_int64(st, 5, (sqlite3_int64)(avail > INT64_MAX ? INT64_MAX : avail));
	sqlite3_bind_int64(st, 6, (sqlite3_int64)now);
	sqlite3_bind_int(st, 7, (int)tries);
	rc = store_step_done(db, st);
	sqlite3_finalize(st);
	return rc;
}

int
msgstore_waiting_clear(sqlite3 *db, uint64_t item_id)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(db, "DELETE FROM inbox_waiting WHERE item_id = ?", &st);

	if (rc != SB_OK)
		return rc;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)item_id);
	rc = store_step_done(db, st);
	sqlite3_finalize(st);
	return rc;
}

/* ---- Lifecycle --------------------------------------------------------------- */

/* 1 if a row refers to file `ref` of HOME/data.  Caller holds db_lock. */
int
msgstore_ref_used(sqlite3 *db, const char *ref)
{
	int64_t n = 1;

	sqlite3_stmt *st = NULL;
	if (msgstore_prepare(db, "SELECT count(*) FROM inbox_messages"
	    " WHERE payload = ? OR cfile = ?", &st) != SB_OK)
		return 1;      /* when in doubt, keep it */
	sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	msgstore_finalize(st);
	return n > 0;
}

void
msgstore_ref_release(struct agent *a, const char *ref)
{
	if (ref == NULL || ref[0] == '\0')
		return;
	/* Under db_lock: a receiver reusing the file checks, in its own
	 * transaction, that a row still names it (recv.c store_record). */
	store_lock(a);
	if (!msgstore_ref_used(a->db, ref))
		msgstore_file_delete(a, ref);
	store_unlock(a);
}

/*
 * A crash between writing a received message's files and its COMMIT
 * leaves files no row names (the item was not acknowledged: it comes
 * again).  Runs before the worker starts, so nothing is being written.
 */
static void
sweep_orphans(struct agent *a)
{
	char dir[4096], path[4096 + 256];
	struct dirent *de;
	DIR *d;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/data", a->home) >= sizeof(dir))
		return;
	d = opendir(dir);
	if (d == NULL)
		return;
	store_lock(a);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "in-", 3) != 0 || msgstore_ref_used(a->db, de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) == 0)
			fprintf(stderr, "sealbox: inbox: removed unreferenced %s\n", de->d_name);
	}
	store_unlock(a);
	closedir(d);
}

int
msgstore_open(struct agent *a)
{
	int rc;

	store_lock(a);
	rc = msgstore_schema(a->db);
	/* What waited for space in an earlier run is at the relay still and
	 * is noted again when it comes back. */
	if (rc == SB_OK)
		rc = store_exec(a->db, "DELETE FROM inbox_waiting");
	store_unlock(a);
	if (rc == SB_OK)
		sweep_orphans(a);
	return rc;
}

/* ---- Files in HOME/data ------------------------------------------------------- */

/* HOME/data (created 0700 if missing) into out. */
int
msgstore_data_dir(struct agent *a, char *out, size_t out_size)
{
	int n = snprintf(out, out_size, "%s/data", a->home);

	if (n < 0 || (size_t)n >= out_size)
		return SB_ERR_LENGTH;
	if (mkdir(out, 0700) != 0 && errno != EEXIST)
		return SB_ERR_SYSTEM;
	return SB_OK;
}

/* "in-" + 32 random hex digits + suffix into ref (MSGSTORE_REF_BUF). */
int
msgstore_new_ref(char *ref, const char *suffix)
{
	uint8_t rnd[16];
	int rc = crypto_random(rnd, sizeof(rnd));

	if (rc != SB_OK)
		return rc;
	memcpy(ref, "in-", 3);
	sb_hex(rnd, sizeof(rnd), ref + 3);
	snprintf(ref + 3 + 2 * sizeof(rnd), MSGSTORE_REF_BUF - 3 - 2 * sizeof(rnd), "%s", suffix);
	return SB_OK;
}

void
msgstore_file_delete(struct agent *a, const char *ref)
{
	char path[4096];

	if (ref == NULL || ref[0] == '\0' || strchr(ref, '/') != NULL)
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s/data/%s", a->home, ref) >= sizeof(path))
		return;
	if (unlink(path) != 0 && errno != ENOENT)
		fprintf(stderr, "sealbox: inbox: cannot delete content file %s: %s\n",
		    ref, strerror(errno));
}

int
msgstore_payload_read(sqlite3 *db, int64_t id, uint8_t **buf, size_t *len)
{
	sqlite3_stmt *st = NULL;
	const void *p;
	int rc, n;

	*buf = NULL;
	*len = 0;
	rc = msgstore_prepare(db, "SELECT payload_data FROM inbox_messages WHERE id = ?", &st);
	if (rc != SB_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		p = sqlite3_column_blob(st, 0);
		n = sqlite3_column_bytes(st, 0);
		if (p == NULL || n <= 0 || (size_t)n > MSGSTORE_PAYLOAD_MAX) {
			rc = SB_ERR_FORMAT;        /* gone, or not a payload */
		} else if ((*buf = malloc((size_t)n)) == NULL) {
			rc = SB_ERR_ALLOC;
		} else {
			memcpy(*buf, p, (size_t)n);
			*len = (size_t)n;
			rc = SB_OK;
		}
	} else {
		rc = rc == SQLITE_DONE ? SB_ERR_FORMAT : store_err(db, rc, "payload read");
	}
	msgstore_finalize(st);
	return rc;
}

int
msgstore_payload_load(struct agent *a, const char *ref, uint8_t **buf, size_t *len)
{
	char path[4096];
	uint8_t *b;
	size_t done = 0;
	ssize_t n;
	int fd, rc = SB_OK, e;

	*buf = NULL;
	*len = 0;
	if (ref == NULL || ref[0] == '\0' || strchr(ref, '/') != NULL)
		return SB_ERR_FORMAT;
	if ((size_t)snprintf(path, sizeof(path), "%s/data/%s", a->home, ref) >= sizeof(path))
		return SB_ERR_FORMAT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return SB_ERR_SYSTEM;
	/* One byte more than allowed tells an oversized file from a full one. */
	b = malloc(MSGSTORE_PAYLOAD_MAX + 1);
	if (b == NULL) {
		close(fd);
		return SB_ERR_ALLOC;
	}
	for (;;) {
		n = read(fd, b + done, MSGSTORE_PAYLOAD_MAX + 1 - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = SB_ERR_SYSTEM;
			break;
		}
		if (n == 0)
			break;
		done += (size_t)n;
		if (done > MSGSTORE_PAYLOAD_MAX) {
			rc = SB_ERR_FORMAT;
			break;
		}
	}
	e = errno;
	close(fd);
	if (rc != SB_OK) {
		free(b);
		errno = e;
		return rc;
	}
	*buf = b;
	*len = done;
	return SB_OK;
}
