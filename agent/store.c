/*
 * store.c - HOME/store.db: opening with the durability settings, the
 * locking policy and small statement helpers (store.h).
 *
 * Never stores plaintext or keys; never logs bound values (only SQLite's
 * own error text and which operation failed).
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "../common/sberr.h"
#include "internal.h"

#define BUSY_TIMEOUT_MS 10000

int store_err(sqlite3 *db, int rc, const char *what)
{
	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return SB_OK;
	fprintf(stderr, "sealbox: store: %s: %s\n", what ? what : "sqlite",
	    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	if ((rc & 0xff) == SQLITE_FULL) {
		errno = ENOSPC;
		return SB_ERR_SYSTEM;
	}
	return SB_ERR_STORAGE;
}

int store_open(const char *path, sqlite3 **out)
{
	sqlite3 *db = NULL;
	int rc;

	*out = NULL;
	/* SQLite creates files 0644 and gives -wal/-shm the database's mode:
	 * create it 0600 first, since names and addresses are in it. */
	if ((rc = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return SB_ERR_SYSTEM;
	close(rc);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int err = store_err(db, rc, "open");
		sqlite3_close(db);
		return err;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	/* WAL + FULL: a returned COMMIT is on disk (outbox close, inbox ack). */
	rc = store_exec(db, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON;"
	    "CREATE TABLE IF NOT EXISTS store_schema("
	    " component TEXT PRIMARY KEY, version INTEGER NOT NULL);");
	if (rc != SB_OK) {
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return SB_OK;
}

void store_close(sqlite3 *db)
{
	if (db)
		sqlite3_close(db);
}

/*
 * The connection runs synchronous=FULL (every COMMIT waits for the disk)
 * except while a store_lock_lazy() holder uses it: then NORMAL, and the
 * WAL frames of its commits are written (kill -9 safe: they are in the
 * kernel) but not synced.  The mode is switched only when the next holder
 * wants the other one, so a run of lazy users pays no PRAGMA; a FULL
 * commit after lazy ones syncs the whole WAL, theirs included.
 */
static void
set_lazy(struct agent *a, int lazy)
{
	if (a->db_lazy == lazy)
		return;
	if (store_exec(a->db, lazy ? "PRAGMA synchronous=NORMAL" :
	    "PRAGMA synchronous=FULL") == SB_OK)
		a->db_lazy = lazy;
}

void store_lock(struct agent *a)
{
	pthread_mutex_lock(&a->db_lock);
	set_lazy(a, 0);
}

void store_lock_lazy(struct agent *a)
{
	pthread_mutex_lock(&a->db_lock);
	set_lazy(a, 1);
}

int store_sync(struct agent *a)
{
	sqlite3_file *f = NULL;
	int rc = SQLITE_OK;

	pthread_mutex_lock(&a->db_lock);
	/* In WAL mode the "journal" is the WAL (sqlite3PagerJrnlFile); not
	 * open yet (nothing read or written): nothing to sync. */
	if (sqlite3_file_control(a->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) ==
	    SQLITE_OK && f != NULL && f->pMethods != NULL)
		rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
	pthread_mutex_unlock(&a->db_lock);
	return store_err(a->db, rc, "sync");
}

void store_unlock(struct agent *a)
{
	pthread_mutex_unlock(&a->db_lock);
}

int store_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		int err = store_err(db, rc, "exec");
		sqlite3_free(msg);
		return err;
	}
	sqlite3_free(msg);
	return SB_OK;
}

int store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);

	if (rc != SQLITE_OK) {
		*out = NULL;
		return store_err(db, rc, "prepare");
	}
	return SB_OK;
}

int store_step_done(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return SB_OK;
	return store_err(db, rc, "step");
}

int store_begin(sqlite3 *db)
{
	return store_exec(db, "BEGIN IMMEDIATE");
}

int store_commit(sqlite3 *db)
{
	int rc = store_exec(db, "COMMIT");

	if (rc != SB_OK)
		store_rollback(db);
	return rc;
}

int
store_end(sqlite3 *db, int rc)
{
	if (rc == SB_OK)
		return store_commit(db);
	store_rollback(db);
	return rc;
}

void store_rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int store_query_int(sqlite3 *db, const char *sql, const char *arg,
    int64_t dflt, int64_t *out)
{
	sqlite3_stmt *st;
	int rc = store_prepare(db, sql, &st);

	*out = dflt;
	if (rc != SB_OK)
		return rc;
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) != SQLITE_NULL)
			*out = sqlite3_column_int64(st, 0);
		rc = SB_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SB_OK;
	} else {
		rc = store_err(db, rc, "query");
	}
	sqlite3_finalize(st);
	return rc;
}

int store_migrate(sqlite3 *db, const char *component,
    const char *const *steps, size_t n)
{
	int64_t v;
	int rc = store_query_int(db,
	    "SELECT version FROM store_schema WHERE component = ?", component, 0, &v);

	if (rc != SB_OK)
		return rc;
	if (v < 0 || (uint64_t)v > n) {
		fprintf(stderr, "sealbox: store: %s schema version %lld is newer than "
		    "this sealbox knows (%zu)\n", component, (long long)v, n);
		return SB_ERR_STORAGE;
	}
	for (size_t i = (size_t)v; i < n; i++) {
		sqlite3_stmt *st;

		if ((rc = store_begin(db)) != SB_OK)
			return rc;
		rc = store_exec(db, steps[i]);
		if (rc == SB_OK)
			rc = store_prepare(db, "INSERT INTO store_schema(component, version)"
			    " VALUES(?, ?) ON CONFLICT(component) DO UPDATE SET"
			    " version = excluded.version", &st);
		if (rc == SB_OK) {
			sqlite3_bind_text(st, 1, component, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)(i + 1));
			rc = store_step_done(db, st);
			sqlite3_finalize(st);
		}
		if (rc != SB_OK) {
			store_rollback(db);
			return rc;
		}
		if ((rc = store_commit(db)) != SB_OK)
			return rc;
	}
	return SB_OK;
}
