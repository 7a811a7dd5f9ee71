/*
 * outbox.h - the agent's SEND part (outbox.c: drafts, write sessions, our
 * own spool's names; send.c: the sender thread; outbox_rules.c: the pure
 * rules).  Shared by send/, the views (view/outbox_view.c merges our other
 * devices' synced copies into outbox/), agent.c and the unit tests; never
 * included by recv/ or msgstore/, and it includes none of their headers
 * (scripts/check-layers.sh).  The functions below see our own rows only.
 *
 * The model (docs/ARCHITECTURE.md "The mailbox"):
 *   - Every write session is one row of out_msg with its own message id and
 *     its own content file in HOME/data (a cfile: ciphertext only).  The
 *     visible entry for (folder, name) is the newest row not deleted.
 *   - States: OPEN (being written, or abandoned mid-write by a crash),
 *     CLOSED (flushed: durable; a temporary name stays CLOSED), QUEUED,
 *     SENT, FAILED.  After a crash, CLOSED rows with a visible name are
 *     queued (close(2) returned, so the user expects the send).
 *   - Opening a QUEUED/SENT/FAILED file for writing starts a new session:
 *     a new row replacing the old one when the session ends having changed
 *     something (a session that changed nothing is dropped again).
 *   - The last writer's release queues the row, once, unless its name is a
 *     temporary one; renaming a closed temporary file to a visible name
 *     queues it then.
 */
#ifndef SB_AGENT_OUTBOX_H
#define SB_AGENT_OUTBOX_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "agent/internal.h"

enum ob_state {
	OB_OPEN   = 0,
	OB_CLOSED = 1,
	OB_QUEUED = 2,
	OB_SENT   = 3,
	OB_FAILED = 4,
};

/* How often (at most) getxattr makes the sender ask the relay for the
 * delivery state of one message. */
#define OB_STATUS_REFRESH_S  1
#define OB_WANT_MAX          64
#define OB_RETRY_REASON_BUF  96
#define OB_BACKOFF_MIN_MS    500
#define OB_BACKOFF_MAX_MS    15000
/*
 * Messages in flight from this device: each sender slot seals and submits
 * one row, so the next ones are sealed while earlier ones are on the wire
 * and the relay can commit several SENDs in one transaction.  The slots
 * take rows in queue order and queue their SENDs on the one connection in
 * that order too (send.c, submit_check), so the relay accepts them, and
 * recipients list them, in the order they were written.
 */
#define OB_SENDERS           4

/*
 * Durability of the outbox (docs/ARCHITECTURE.md "Durability of the
 * outbox"): when close(2) returns, the file's content and records are
 * written (a kill -9 of the agent loses nothing, and it is sent exactly
 * once); they are on disk (power loss) within OB_SYNC_WINDOW_MS of the
 * close, or when fsync(2) on the file returns.  One round of syncs (each
 * content file written, data/ once, the WAL once) serves every file closed
 * in the window (spool.c).
 */
#define OB_SYNC_WINDOW_MS 50
#define OB_FILE_REF_BUF   64

struct ob_entry;
struct ob_sync_file { char name[OB_FILE_REF_BUF]; };
#define OB_STMT_CACHE 64
struct sqlite3_stmt;
struct ob_stmt { const char *sql; struct sqlite3_stmt *st; int busy; };

struct outbox {
	pthread_mutex_t lock;       /* the open table, the sender's fields */
	pthread_cond_t cond;        /* a slot's row: cancelled, renamed, its turn */
	pthread_cond_t idle;        /* wakes idle sender slots (kick) */
	struct ob_entry *open;      /* open content, one per row */
	char *data_dir;             /* HOME/data */

	/* sender (send.c): OB_SENDERS slots, each a thread with one row in
	 * flight, so several messages are on the wire at once. */
	struct ob_slot {
		pthread_t thread;
		int started;
		int64_t inflight;   /* row being sent: not garbage-collected */
		int queued;         /* its SEND is queued in the client (its
		                     * turn is over: later rows may queue) */
		/* The inflight row was removed (do not submit it; delete its
		 * blob) or renamed (submit it again under its new name); its
		 * SEND is on the wire (removers wait for the answer); the last
		 * row the relay accepted from this slot. */
		int cancel, moved, submitting;
		int64_t accepted_row;
	} slot[OB_SENDERS];
	int stop;
	unsigned kick;              /* bumped (under lock) to wake the slots */
	/* After a transient failure no slot takes a row before retry_ns
	 * (CLOCK_REALTIME); backoff_ms doubles per failure, 0 after a success. */
	int64_t retry_ns;
	unsigned backoff_ms;
	/* The relay's blob cap (client_blob_cap), 0 while unknown: writes
	 * past it fail with EFBIG at once.  Written by the sender, read
	 * atomically by writers. */
	uint64_t blob_cap;
	int64_t want[OB_WANT_MAX];  /* rows whose delivery status is wanted */
	size_t n_want;
	/* why the queue is stuck: the last attempt's transient failure,
	 * shown as "queued: REASON" on every queued row; "" once a send
	 * gets through */
	char retry_reason[OB_RETRY_REASON_BUF];

	/* the spool's syncer (spool.c), under sync_mu */
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cond;    /* CLOCK_MONOTONIC */
	pthread_t syncer;
	int sync_init, sync_started_thread, sync_stop;
	int sync_dirty;              /* something to sync since sync_first */
	int sync_now;                /* an fsync(2) waits: no window */
	int sync_dir;                /* data/ has new entries */
	struct timespec sync_first;
	struct ob_sync_file *sync_files;   /* content files written */
	size_t n_sync, cap_sync;
	uint64_t sync_started, sync_done;  /* rounds */
	int sync_rc;                 /* the last round's result */
	int64_t db_changes;          /* spool_lock's sqlite3_total_changes64 */
	struct ob_stmt stmts[OB_STMT_CACHE];   /* spool_prepare, under db_lock */

	/* keyring retry pacing (agent.c) */
	struct timespec keys_next_try;
};

/* ---- pure rules (unit-tested) ------------------------------------------- */

/*
 * 1 if path (a file's name, or its path below the conversation folder:
 * "a/b/c.txt") names a temporary that is never sent, by its last
 * component: a leading '.' at the top of the conversation only (inside a
 * folder, dot-files are content: .gitignore, .git/HEAD); a leading '#' or
 * ".#" (Emacs); ".sw[a-p]" after a leading '.' (vim's swap files); the
 * suffixes '~', ".swp", ".swx", ".tmp", ".part" and SQLite's "-journal",
 * "-wal", "-shm".  Renaming such a file to another name sends it then.
 */
int  outbox_is_temp_name(const char *path);

/* How a write session created its file (agent.h's open flags). */
enum ob_create {
	OB_CREATE_PLAIN   = 0,   /* O_CREAT alone, or an existing file */
	OB_CREATE_EXCL    = 1,   /* O_CREAT|O_EXCL, write-only (cp, tar, vim's probe) */
	OB_CREATE_MKSTEMP = 2,   /* O_CREAT|O_EXCL|O_RDWR: mkstemp(3) and kin */
};
/*
 * 1 if a file created so, holding size bytes at the end of its first
 * session, is a tentative file: kept as a draft until it is renamed (then
 * sent under the new name) or stays unchanged for OB_TENTATIVE_IDLE_S
 * (then sent under its own).  mkstemp's files are the temporaries of
 * every "safe write" (sed -i, Python, GLib, git); an empty exclusive
 * create is a probe or a lock (vim's 4913, lock files).  cp, install and
 * tar create exclusively too, but write-only and with content: they go at
 * close, without delay.
 */
#define OB_TENTATIVE_IDLE_S 3
/*
 * A queued file's SEND leaves OB_SETTLE_MS after its last close at the
 * earliest, so that an rm right after the close (a program cleaning up
 * after itself) finds it unsent and cancels it.  The sender takes the row
 * at once and does everything else meanwhile (the recipients' devices,
 * an attachment's upload, the sealing: send.c, submit_check), so the wait
 * costs only what that work does not fill.  A file its writer fsynced
 * after its last change goes without it.  Measured (100 files each,
 * python's close + unlink back to back / a shell's printf > f; rm f; how
 * many still reached the relay): when the close path waited for fsyncs
 * (issue 13), 0 ms 73 / 99, 2 ms 39 / 98, 5 ms 7 / 96, 20 ms 0 / 2, 50 ms
 * 0 / 0; since it does not (issue 15, load average 4.8), 0 ms 43 / 91,
 * 2 ms 1 / 2, 5, 10 and 20 ms 0 / 0; but at load 7, with a 3 MiB upload
 * beside it, 1 of outbox_rm_cancels' 20 back-to-back unlinks came 5 ms
 * late: 10 ms.
 */
#define OB_SETTLE_MS 10
/*
 * A folder made in a conversation settles longer: a scratch folder made and
 * removed by two commands (mkdir d; ...; rmdir d, each a fork and exec)
 * takes more than 5 ms on a busy machine, and a folder message carries
 * nothing a reader waits for (outbox_trees.sh: mkdir + rmdir sends nothing).
 */
#define OB_DIR_SETTLE_MS 50
int  outbox_created_tentative(int create, uint64_t size);

/* The status xattr text for a row (no NUL), into out (out_size >= 64 +
 * reason): "draft", "queued", "sent", "delivered N/M", "failed: REASON";
 * a queued row with a reason (why the last attempt did not get through)
 * reads "queued: REASON". */
void outbox_status_text(enum ob_state st, int writing, const char *reason,
         int64_t delivered, int64_t total, char *out, size_t out_size);

/* What to do at the end of a write session. */
enum ob_end {
	OB_END_DISCARD = 1,   /* nothing changed on a replaced row: drop the session */
	OB_END_KEEP    = 2,   /* temporary name, tentative or deleted: stays a draft */
	OB_END_QUEUE   = 3,   /* send it */
	OB_END_FAIL    = 4,   /* a write passed the relay's blob cap: never sent */
};
struct ob_session {
	int modified;         /* the session changed something */
	int replaces_row;     /* it rewrites a queued, sent or failed version */
	int deleted;          /* the file was removed meanwhile */
	int too_big;          /* a write or truncate was refused with EFBIG */
	int tentative;        /* outbox_created_tentative, not renamed since */
	const char *name;     /* its name (path below the conversation) */
};
enum ob_end outbox_session_end(const struct ob_session *s);

/* 1 if a send error is permanent ("failed: REASON"), 0 if the message stays
 * queued and is retried. */
int  outbox_err_permanent(int err);

/* Why a queued message has not gone out yet, for "queued: REASON": the
 * transient err of the last attempt (sys_errno for SB_ERR_SYSTEM), e.g.
 * "relay out of disk space, retrying". */
void outbox_retry_reason(int err, int sys_errno, char *out, size_t out_size);

/* ---- outbox.c -------------------------------------------------------------- */

int  outbox_init(struct agent *a);      /* schema, crash recovery */
void outbox_free(struct agent *a);      /* after send_stop */
/* Content file path for a stored file reference (malloc'd). */
char *outbox_data_path(struct agent *a, const char *file);
/* Deletes content files of deleted rows nobody uses any more. */
void outbox_gc(struct agent *a);

/*
 * Our own spool's part of outbox/.  A name or folder that only our other
 * devices' synced copies have is SB_ERR_NOT_FOUND here; folder_create,
 * list_files, file_open and rename leave checking that the folder exists
 * (or not) to their caller, view/outbox_view.c, which sees both.
 */
/* 1 if our own spool knows folder (made by mkdir, or holding a row). */
int  outbox_folder_known(struct agent *a, const char *folder);
int  outbox_box_attr(struct agent *a, struct agent_attr *out);
int  outbox_list_folders(struct agent *a, agent_fill_fn fill, void *ctx);
int  outbox_folder_attr(struct agent *a, const char *folder, struct agent_attr *out);
int  outbox_folder_create(struct agent *a, const char *folder);
int  outbox_folder_remove(struct agent *a, const char *folder);
/* The entries of FOLDER/DIR (DIR NULL: of FOLDER), names relative to it. */
int  outbox_list_files(struct agent *a, const char *folder, const char *dir,
         agent_fill_fn fill, void *ctx);
/* Folders inside a conversation (agent.h): a row each, sent as a folder
 * message; remove: an empty one, locally.  SB_ERR_NOT_FOUND when our spool
 * has no such folder (a synced copy's may: the view decides). */
int  outbox_dir_create(struct agent *a, const char *folder, const char *path);
int  outbox_dir_remove(struct agent *a, const char *folder, const char *path);
int  outbox_file_attr(struct agent *a, const char *folder, const char *name,
         struct agent_attr *out);
int  outbox_file_open(struct agent *a, const char *folder, const char *name,
         int flags, struct agent_file **out);
int  outbox_file_read(struct agent_file *f, void *buf, size_t size, uint64_t off,
         size_t *got);
int  outbox_file_write(struct agent_file *f, const void *buf, size_t size, uint64_t off);
int  outbox_file_truncate(struct agent_file *f, uint64_t size);
int  outbox_file_flush(struct agent_file *f);
/* fsync(2): flush, then a round of the spool's syncs (spool_sync_wait); a
 * write session fsynced after its last change is sent without the settle
 * time when it ends. */
int  outbox_file_fsync(struct agent_file *f);
int  outbox_file_release(struct agent_file *f);
int  outbox_truncate(struct agent *a, const char *folder, const char *name, uint64_t size);
int  outbox_set_times(struct agent *a, const char *folder, const char *name,
         const struct timespec *atime, const struct timespec *mtime);
int  outbox_unlink(struct agent *a, const char *folder, const char *name);
int  outbox_rename(struct agent *a, const char *from_folder, const char *from_name,
         const char *to_folder, const char *to_name);
int  outbox_xattr_get(struct agent *a, const char *folder, const char *name,
         const char *attr, struct sb_buf *out);
int  outbox_xattr_list(struct agent *a, const char *folder, const char *name,
         struct sb_buf *out);

/* ---- spool.c: group commit of the spool --------------------------------------- */

/* db_lock for the outbox's own commits: lazy (store_lock_lazy), and a
 * change made under it is synced by the next round. */
void spool_lock(struct agent *a);
void spool_unlock(struct agent *a);
/* store_prepare through the outbox's statement cache (sql: a literal, its
 * address is the key); spool_finalize resets a cached statement instead of
 * finalizing it.  Caller holds db_lock for both. */
int  spool_prepare(struct agent *a, const char *sql, struct sqlite3_stmt **out);
void spool_finalize(struct agent *a, struct sqlite3_stmt *st);
/* Finalizes the cached statements (outbox_free, before store_close). */
void spool_cache_free(struct agent *a);
/* Content file `file` (data/ name) was written; new_entry: it was created
 * (data/ is synced too).  Synced by the next round. */
void spool_note_file(struct agent *a, const char *file, int new_entry);
/* Asks for a round now (file and new_entry as above; file may be NULL)
 * and waits for it: SB_OK when everything noted before is on disk. */
int  spool_sync_wait(struct agent *a, const char *file, int new_entry);
int  spool_start(struct agent *a);   /* in outbox_init */
void spool_stop(struct agent *a);    /* in outbox_free: a last round */

/* ---- send.c ---------------------------------------------------------------- */

int  send_start(struct agent *a);
void send_stop(struct agent *a);
/* Wakes the sender (a row was queued). */
void send_kick(struct agent *a);
/* Asks the sender to refresh row's delivery status from the relay. */
void send_want_status(struct agent *a, int64_t row);

#endif
