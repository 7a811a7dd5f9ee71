/*
 * store.h - the agent's local database, HOME/store.db (SQLite).
 *
 * What it holds: conversations, outgoing messages and their send queue,
 * per-device delivery status, incoming message records, the replay cache.
 * Never any plaintext or key: content lives in HOME/data/ as cfile
 * ciphertext; rows hold names, ids, times, states.
 *
 * Durability: journal_mode=WAL with synchronous=FULL, so a COMMIT that has
 * returned survives a crash or power loss (the inbox's "stored before
 * ACK").  Under store_lock_lazy() a COMMIT survives a crash of the process
 * (kill -9) but reaches the disk only with the next store_sync() or FULL
 * commit: the outbox's close path (docs/ARCHITECTURE.md "Durability of the
 * outbox").
 *
 * Connection and locking policy: ONE connection per agent (a->db), opened
 * by agent_open, used by every thread under a->db_lock.  Take the lock with
 * store_lock()/store_unlock() around each whole use (prepare .. step ..
 * finalize, or BEGIN .. COMMIT); never hold it across network calls,
 * crypto of large data, or while taking a->lock (order: a->lock may be
 * held when taking db_lock, never the other way round).  The helpers below
 * do NOT lock: the caller holds db_lock.
 *
 * Schema versioning: each part owns its tables and registers them with
 * store_migrate(db, component, steps, n) ("outbox": send/; "inbox":
 * msgstore/, the name kept from before the cut so existing homes open at
 * their version): steps[i] is the SQL
 * taking that component from version i to i+1; the versions applied are
 * kept in the table store_schema(component, version).  Append new steps,
 * never edit old ones.
 *
 * Errors: SB_OK or SB_ERR_STORAGE (logged with SQLite's message);
 * SB_ERR_SYSTEM with errno = ENOSPC when the disk is full.
 */
#ifndef SB_AGENT_STORE_H
#define SB_AGENT_STORE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

struct agent;

/* Opens (creating) the database at path with WAL, synchronous=FULL,
 * foreign_keys=ON and a busy timeout; *out closed with store_close. */
int  store_open(const char *path, sqlite3 **out);
/* Closes db (NULL accepted); the caller has finalized its statements. */
void store_close(sqlite3 *db);

/* a->db_lock.  Commits under store_lock() are synced before they return
 * (synchronous=FULL); under store_lock_lazy() they are not (NORMAL: safe
 * against a crash of the process, not against power loss, until
 * store_sync()). */
void store_lock(struct agent *a);
void store_lock_lazy(struct agent *a);
void store_unlock(struct agent *a);
/* Takes db_lock and syncs the WAL: every commit made so far, lazy or not,
 * is on disk when it returns SB_OK. */
int  store_sync(struct agent *a);

/* Runs one or more SQL statements without results (sqlite3_exec). */
int  store_exec(sqlite3 *db, const char *sql);
/* Prepares one statement; *out finalized by the caller (sqlite3_finalize). */
int  store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out);
/* Steps a statement that returns no row (INSERT/UPDATE/DELETE): SB_OK on
 * SQLITE_DONE.  Does not finalize. */
int  store_step_done(sqlite3 *db, sqlite3_stmt *st);
/* Maps an SQLite result code (logging db's message with `what`) to
 * SB_OK / SB_ERR_STORAGE / SB_ERR_SYSTEM(ENOSPC). */
int  store_err(sqlite3 *db, int rc, const char *what);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (rollback never fails the caller). */
int  store_begin(sqlite3 *db);
int  store_commit(sqlite3 *db);
void store_rollback(sqlite3 *db);
/* Ends a transaction: commits when rc is SB_OK, else rolls back.  Returns
 * the commit's result, or rc unchanged after a rollback. */
int  store_end(sqlite3 *db, int rc);

/* Applies steps[v..n) of component, each in its own transaction with the
 * version bump.  SB_ERR_STORAGE if the stored version is newer than n (a
 * newer sealbox made this home). */
int  store_migrate(sqlite3 *db, const char *component,
         const char *const *steps, size_t n);

/* Integer from "SELECT ..." with one '?' bound to the text arg (may be
 * NULL: no bind); *out = dflt when there is no row. */
int  store_query_int(sqlite3 *db, const char *sql, const char *arg,
         int64_t dflt, int64_t *out);

#endif
