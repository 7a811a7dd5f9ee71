/*
 * msgstore.h - the store of received messages (the agent's STORE part).
 *
 * What it owns: the tables of received messages in store.db (their schema:
 * records with their sealed payloads exactly as they arrived, the replay
 * cache, key events, the waiting table, the directory cache) and their
 * files in HOME/data ("in-*": attachment content files, and the payloads of
 * rows stored before schema v9), with the rule that a file is deleted only
 * once no record names it.
 *
 * It knows nothing of namespaces (inbox/, outbox/), of the push queue or
 * of sending: recv/ writes into it, view/ reads from it, send/ never uses
 * it.  It includes no header of recv/, send/ or view/
 * (scripts/check-layers.sh).
 *
 * Every function that takes a sqlite3 * runs under the caller's db_lock
 * (store.h); those that take the agent lock it themselves.
 */
#ifndef SB_AGENT_MSGSTORE_H
#define SB_AGENT_MSGSTORE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

struct agent;

#define MSGSTORE_MSGID_LEN    16
#define MSGSTORE_KEYHASH_LEN  32
/* A file reference: "in-" + 32 hex digits + a suffix, NUL included. */
#define MSGSTORE_REF_BUF      128
/* The largest sealed payload kept as a file (load refuses bigger ones). */
#define MSGSTORE_PAYLOAD_MAX  65536u

/*
 * Creates or migrates the tables, forgets what waited for space in an
 * earlier run (it is at the relay still and is noted again when it comes
 * back) and deletes "in-" files no record names (a crash between writing
 * them and the COMMIT).  Runs before the receiver starts.
 */
int  msgstore_open(struct agent *a);

/*
 * Statements kept prepared, per connection (issue 15: parsing them again
 * for every message was a fixed cost of each).  prepare: like
 * store_prepare, sql a string literal (its address is the key); finalize:
 * resets a kept one, finalizes any other; exec: one statement without
 * results (SAVEPOINT, RELEASE).  Caller holds db_lock.  stmts_free
 * finalizes db's kept statements: before the connection closes
 * (inbox_shutdown).
 */
int  msgstore_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out);
void msgstore_finalize(sqlite3_stmt *st);
int  msgstore_exec(sqlite3 *db, const char *sql);
void msgstore_stmts_free(sqlite3 *db);

/*
 * The schema steps, registered as component "inbox" of store_schema: the
 * component keeps its old name so that every existing home opens with its
 * version as it is (renaming it would re-run step 1 on tables that exist).
 */
int  msgstore_schema(sqlite3 *db);

/*
 * What the replay cache remembers of one stored message.  The message id
 * is the sender's to choose, so it is unique only per sending device: a
 * co-recipient who learnt another sender's id and used it first must not
 * turn the genuine message into a "replay" (issue 12, finding 1).  The
 * key-block hash needs no such scope: nobody but the sender of a key block
 * can produce a payload that opens with it.
 */
struct msgstore_seen {
	const char *sender;                 /* envelope sender address */
	uint64_t sender_device;             /* envelope sender device */
	const uint8_t *msgid;               /* MSGSTORE_MSGID_LEN */
	const uint8_t *keyhash;             /* MSGSTORE_KEYHASH_LEN */
};

/* SB_ERR_REPLAY if (sender, device, message id) or the key-block hash was
 * seen; caller holds db_lock. */
int  msgstore_replay_check(sqlite3 *db, const struct msgstore_seen *s);
/* Records both (inside the caller's transaction). */
int  msgstore_replay_add(sqlite3 *db, const struct msgstore_seen *s, uint64_t now);

/* 1 if a record names file `ref` of HOME/data (in doubt: 1); caller holds
 * db_lock. */
int  msgstore_ref_used(sqlite3 *db, const char *ref);
/* Deletes file `ref` unless a record still names it (an attachment's
 * content file is shared by every message with the same content); takes
 * db_lock. */
void msgstore_ref_release(struct agent *a, const char *ref);

/* A message was removed from folder (as shown) of box at now_ns: the
 * folder's times move there, never back (time_ns = max(now, last + 1)).
 * _time: that time, 0 if none.  Caller holds db_lock. */
int  msgstore_folder_touch(sqlite3 *db, int box, const char *folder, int64_t now_ns);
int64_t msgstore_folder_time(sqlite3 *db, int box, const char *folder);

/* Items waiting for local space, for `sealbox status` (table
 * inbox_waiting); caller holds db_lock. */
int  msgstore_waiting_note(sqlite3 *db, uint64_t item_id, const char *sender,
         uint64_t size, uint64_t need, uint64_t avail, unsigned tries, uint64_t now);
int  msgstore_waiting_clear(sqlite3 *db, uint64_t item_id);

/* ---- Files in HOME/data ------------------------------------------------- */

/* HOME/data (created 0700 if missing) into out. */
int  msgstore_data_dir(struct agent *a, char *out, size_t out_size);
/* A fresh reference, "in-" + 32 random hex digits + suffix, into ref
 * (MSGSTORE_REF_BUF). */
int  msgstore_new_ref(char *ref, const char *suffix);
/* Deletes a file by reference (best effort; never outside HOME/data). */
void msgstore_file_delete(struct agent *a, const char *ref);

/*
 * The sealed payload of a received message, exactly as it arrived
 * (ciphertext only, opened and verified again on every read).  Since
 * schema v9 it is kept in its row (column payload_data, the row's payload
 * ref is ''), written by the receiver's transaction: read takes the row id,
 * caller holds db_lock.  Rows stored before keep it as a file of its own in
 * HOME/data ("in-<hex>.msg", the row's payload ref): load reads that.
 * Either way *buf is malloc'd (caller frees), at most MSGSTORE_PAYLOAD_MAX
 * bytes (SB_ERR_FORMAT beyond, or when the row or its payload is gone).
 */
int  msgstore_payload_read(sqlite3 *db, int64_t id, uint8_t **buf, size_t *len);
int  msgstore_payload_load(struct agent *a, const char *ref, uint8_t **buf, size_t *len);

#endif
