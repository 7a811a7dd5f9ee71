/*
 * outbox.c - our own spool's part of the outbox namespace: conversation
 * folders, drafts written through encrypted content files, write sessions,
 * temporary names, renames, stat and the status xattr (outbox.h has the
 * model; view/outbox_view.c adds our other devices' synced copies).
 *
 * Never writes plaintext to disk: every byte written goes into a cfile
 * under the home's storage key.  Never talks to the relay except to check
 * recipients at mkdir; sending is send.c's.
 *
 * Locking: ob->lock guards the open table and session bookkeeping (held
 * across the database updates that end a session, so an open racing a
 * release sees either the old or the new row); e->mu guards one entry's
 * cfile and live size/mtime.  Order: ob->lock, then e->mu, then db_lock.
 */
#include "agent/send/outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "client/client.h"
#include "common/sberr.h"
#include "agent/cfile.h"
#include "agent/names.h"
#include "agent/store.h"
#include "agent/trust.h"

#define FILE_REF_BUF OB_FILE_REF_BUF
#define REASON_BUF   160
#define COPY_CHUNK   65536

/* One row's content, shared by every handle open on that row. */
struct ob_entry {
	struct ob_entry *next;
	int64_t row;
	pthread_mutex_t mu;
	struct cfile *cf;
	int writable;
	unsigned refs;            /* handles */
	unsigned writers;         /* write handles of the session */
	int session;              /* a write session owns this row (a draft) */
	int modified;             /* the session changed something */
	int dirty;                /* written since the last flush */
	int db_open;              /* the row says OPEN in store.db */
	int new_file;             /* the data/ entry is not yet noted for a sync */
	int fsynced;              /* fsync(2) since the last change: sent at once */
	char file[FILE_REF_BUF];  /* the content file (data/ name) */
	int64_t base;             /* row this session replaces, 0 if none */
	int create;               /* enum ob_create of the session that made the row */
	int too_big;              /* a write or truncate passed the relay's cap */
	uint64_t size;
	struct timespec mtime;
};

struct ob_file {
	struct agent_file head;   /* kind AGENT_FILE_OUT */
	struct ob_entry *e;
	int write;
};

struct ob_row {
	int64_t id;
	char folder[NAMES_NAME_BUF];
	char name[AGENT_PATH_MAX + 1];      /* a path below the folder */
	uint8_t msgid[PROTO_MSGID_LEN];
	char file[FILE_REF_BUF];
	uint64_t size;
	struct timespec mtime, ctime, atime;   /* atime {0, 0}: never set */
	int state;
	int deleted;
	int tentative;
	int is_dir;               /* a folder inside the conversation */
	char reason[REASON_BUF];
	int64_t delivered, total, status_at;
	char held[TRUST_LINE_BUF];   /* "held: ..." while a send waits on trust */
};

static const char *const schema[] = {
	/* 1 */
	"CREATE TABLE out_folder(name TEXT PRIMARY KEY, ctime INTEGER NOT NULL);"
	"CREATE TABLE out_msg("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" folder TEXT NOT NULL, name TEXT NOT NULL,"
	" msgid BLOB NOT NULL UNIQUE,"
	" file TEXT NOT NULL,"
	" size INTEGER NOT NULL DEFAULT 0,"
	" mtime_s INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
	" ctime_s INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,"
	" state INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL DEFAULT 0,"
	" reason TEXT,"
	" sent_ts INTEGER,"
	" delivered INTEGER NOT NULL DEFAULT 0,"
	" total INTEGER NOT NULL DEFAULT 0,"
	" status_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX out_msg_name ON out_msg(folder, name, deleted);"
	"CREATE INDEX out_msg_state ON out_msg(state, deleted);",
	/* 2: a queued send waiting for the user to compare codes again
	 * (issue 14): its status text; NULL when it may go. */
	"ALTER TABLE out_msg ADD COLUMN held TEXT;",
	/* 3 (issue 13): a file mkstemp made (or an empty exclusive create)
	 * waits for its rename or OB_TENTATIVE_IDLE_S after its last close
	 * (closed_ns); blob_uri is the last upload of the row, deleted at
	 * the relay when no accepted message names it; out_blob_gone holds
	 * such blobs until the relay has deleted them. */
	"ALTER TABLE out_msg ADD COLUMN tentative INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE out_msg ADD COLUMN closed_ns INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE out_msg ADD COLUMN blob_uri TEXT;"
	"CREATE TABLE out_blob_gone(uri TEXT PRIMARY KEY);"
	/* utimensat's atime (NULL: the mtime); folder times that move with
	 * their entries (ns; 0 before any change since this step), and
	 * outbox/'s own, one row */
	"ALTER TABLE out_msg ADD COLUMN atime_s INTEGER;"
	"ALTER TABLE out_msg ADD COLUMN atime_ns INTEGER;"
	"ALTER TABLE out_folder ADD COLUMN mtime_ns INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE out_folder ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE out_box(id INTEGER PRIMARY KEY CHECK (id = 1),"
	" time_ns INTEGER NOT NULL);"
	/* a folder made inside a conversation: a row with no content file,
	 * sent as a folder message (docs/PROTOCOL.md 11.1); `name` of every
	 * row may be a path below the conversation folder */
	"ALTER TABLE out_msg ADD COLUMN is_dir INTEGER NOT NULL DEFAULT 0;",
};

#define ROW_COLS "id, folder, name, msgid, file, size, mtime_s, mtime_ns," \
	" ctime_s, ctime_ns, state, deleted, reason, delivered, total, status_at," \
	" held, tentative, atime_s, atime_ns, is_dir"

/* ---- small helpers ----------------------------------------------------------- */

static struct timespec
now_ts(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

static struct outbox *
OB(struct agent *a)
{
	return a->out;
}

char *
outbox_data_path(struct agent *a, const char *file)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", OB(a)->data_dir, file) < 0)
		return NULL;
	return p;
}

static int
storage_key(struct agent *a, const uint8_t **key)
{
	int rc = agent_keys_acquire(a);

	if (rc != SB_OK)
		return rc;
	*key = a->storage_key;
	return SB_OK;
}

static void
row_from_stmt(sqlite3_stmt *st, struct ob_row *r)
{
	const void *b;
	const unsigned char *t;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	if ((t = sqlite3_column_text(st, 1)) != NULL)
		snprintf(r->folder, sizeof(r->folder), "%s", (const char *)t);
	if ((t = sqlite3_column_text(st, 2)) != NULL)
		snprintf(r->name, sizeof(r->name), "%s", (const char *)t);
	b = sqlite3_column_blob(st, 3);
	if (b && sqlite3_column_bytes(st, 3) == PROTO_MSGID_LEN)
		memcpy(r->msgid, b, PROTO_MSGID_LEN);
	if ((t = sqlite3_column_text(st, 4)) != NULL)
		snprintf(r->file, sizeof(r->file), "%s", (const char *)t);
	r->size = (uint64_t)sqlite3_column_int64(st, 5);
	r->mtime.tv_sec = sqlite3_column_int64(st, 6);
	r->mtime.tv_nsec = sqlite3_column_int64(st, 7);
	r->ctime.tv_sec = sqlite3_column_int64(st, 8);
	r->ctime.tv_nsec = sqlite3_column_int64(st, 9);
	r->state = sqlite3_column_int(st, 10);
	r->deleted = sqlite3_column_int(st, 11);
	if ((t = sqlite3_column_text(st, 12)) != NULL)
		snprintf(r->reason, sizeof(r->reason), "%s", (const char *)t);
	r->delivered = sqlite3_column_int64(st, 13);
	r->total = sqlite3_column_int64(st, 14);
	r->status_at = sqlite3_column_int64(st, 15);
	r->held[0] = '\0';
	if ((t = sqlite3_column_text(st, 16)) != NULL)
		snprintf(r->held, sizeof(r->held), "%s", (const char *)t);
	r->tentative = sqlite3_column_int(st, 17);
	if (sqlite3_column_type(st, 18) != SQLITE_NULL) {
		r->atime.tv_sec = sqlite3_column_int64(st, 18);
		r->atime.tv_nsec = sqlite3_column_int64(st, 19);
	}
	r->is_dir = sqlite3_column_int(st, 20);
}

/* The visible row of (folder, name): the newest not deleted.  Caller holds
 * no db lock. */
static int
row_visible(struct agent *a, const char *folder, const char *name, struct ob_row *r)
{
	sqlite3_stmt *st;
	int rc;

	spool_lock(a);
	rc = spool_prepare(a, "SELECT " ROW_COLS " FROM out_msg WHERE folder = ?"
	    " AND name = ? AND deleted = 0 ORDER BY id DESC LIMIT 1", &st);
	if (rc == SB_OK) {
		sqlite3_bind_text(st, 1, folder, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
		int s = sqlite3_step(st);
		if (s == SQLITE_ROW) {
			row_from_stmt(st, r);
			rc = SB_OK;
		} else if (s == SQLITE_DONE) {
			rc = SB_ERR_NOT_FOUND;
		} else {
			rc = store_err(a->db, s, "outbox row");
		}
		spool_finalize(a, st);
	}
	spool_unlock(a);
	return rc;
}

static int
row_by_id(struct agent *a, int64_t id, struct ob_row *r)
{
	sqlite3_stmt *st;
	int rc;

	spool_lock(a);
	rc = spool_prepare(a, "SELECT " ROW_COLS " FROM out_msg WHERE id = ?", &st);
	if (rc == SB_OK) {
		sqlite3_bind_int64(st, 1, id);
		int s = sqlite3_step(st);
		if (s == SQLITE_ROW) {
			row_from_stmt(st, r);
			rc = SB_OK;
		} else {
			rc = s == SQLITE_DONE ? SB_ERR_NOT_FOUND : store_err(a->db, s, "row");
		}
		spool_finalize(a, st);
	}
	spool_unlock(a);
	return rc;
}

/* Runs one UPDATE/DELETE with an int64 row id as its last parameter and
 * up to two int64 values before it. */
static int
row_exec(struct agent *a, const char *sql, int nvals, int64_t v1, int64_t v2,
    int64_t id)
{
	sqlite3_stmt *st;
	int rc;

	spool_lock(a);
	rc = spool_prepare(a, sql, &st);
	if (rc == SB_OK) {
		int i = 1;
		if (nvals >= 1)
			sqlite3_bind_int64(st, i++, v1);
		if (nvals >= 2)
			sqlite3_bind_int64(st, i++, v2);
		sqlite3_bind_int64(st, i, id);
		rc = store_step_done(a->db, st);
		spool_finalize(a, st);
	}
	spool_unlock(a);
	return rc;
}

static int64_t
ts_ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/*
 * An entry of folder was added, removed or renamed: its mtime and ctime
 * move to now, and never back (one ns past the last if the clock did).
 * A conversation folder known only by its files gets its record here.
 * Best effort (a failure only leaves the times as they were); caller holds
 * no db lock.
 */
static void
folder_touch(struct agent *a, const char *folder)
{
	int64_t now = ts_ns(now_ts());
	sqlite3_stmt *st;

	spool_lock(a);
	if (spool_prepare(a, "INSERT INTO out_folder(name, ctime, mtime_ns, ctime_ns)"
	    " VALUES(?1, ?2 / 1000000000, ?2, ?2) ON CONFLICT(name) DO UPDATE SET"
	    " mtime_ns = max(?2, mtime_ns + 1), ctime_ns = max(?2, ctime_ns + 1)", &st) == SB_OK) {
		sqlite3_bind_text(st, 1, folder, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, now);
		store_step_done(a->db, st);
		spool_finalize(a, st);
	}
	spool_unlock(a);
}

/* The same for outbox/ itself, when a conversation is made or removed. */
static void
box_touch(struct agent *a)
{
	int64_t now = ts_ns(now_ts());
	sqlite3_stmt *st;

	spool_lock(a);
	if (spool_prepare(a, "INSERT INTO out_box(id, time_ns) VALUES(1, ?1)"
	    " ON CONFLICT(id) DO UPDATE SET time_ns = max(?1, time_ns + 1)", &st) == SB_OK) {
		sqlite3_bind_int64(st, 1, now);
		store_step_done(a->db, st);
		spool_finalize(a, st);
	}
	spool_unlock(a);
}

/*
 * An entry was added, removed or renamed in FOLDER/dirname(name): the
 * times of that folder move (a folder inside the conversation: its row's
 * mtime and ctime).  Caller holds no db lock.
 */
static void
entry_touch(struct agent *a, const char *folder, const char *name)
{
	const char *slash = strrchr(name, '/');
	struct timespec now = now_ts();
	sqlite3_stmt *st;

	if (slash == NULL) {
		folder_touch(a, folder);
		return;
	}
	spool_lock(a);
	if (spool_prepare(a, "UPDATE out_msg SET mtime_s = ?1, mtime_ns = ?2,"
	    " ctime_s = ?1, ctime_ns = ?2 WHERE folder = ?3 AND name = ?4 AND is_dir = 1"
	    " AND deleted = 0", &st) == SB_OK) {
		sqlite3_bind_int64(st, 1, now.tv_sec);
		sqlite3_bind_int64(st, 2, now.tv_nsec);
		sqlite3_bind_text(st, 3, folder, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, name, (int)(slash - name), SQLITE_TRANSIENT);
		store_step_done(a->db, st);
		spool_finalize(a, st);
	}
	spool_unlock(a);
}

static struct timespec
ns_ts(int64_t ns)
{
	struct timespec t = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };

	return t;
}

/*
 * Marks the rows of (folder, name) but keep deleted.  keep_queued: a new
 * version was queued or took the name; the versions before it leave the
 * listing except those still queued, which go out first, in order (one
 * message per write session; send.c retires them once sent).  Otherwise
 * (rm) every version goes, queued ones cancelled.  Caller holds db_lock.
 */
static int
retire_name_rows(struct agent *a, const char *folder, const char *name, int64_t keep,
    int keep_queued)
{
	sqlite3_stmt *st;
	int rc = spool_prepare(a, "UPDATE out_msg SET deleted = 1 WHERE folder = ?"
	    " AND name = ? AND id != ? AND (state != 2 OR ? = 0)", &st);

	if (rc != SB_OK)
		return rc;
	sqlite3_bind_text(st, 1, folder, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, keep);
	sqlite3_bind_int(st, 4, keep_queued);
	rc = store_step_done(a->db, st);
	spool_finalize(a, st);
	return rc;
}

int
outbox_folder_known(struct agent *a, const char *folder)
{
	int64_t n = 0;
	sqlite3_stmt *st;

	spool_lock(a);
	if (spool_prepare(a, "SELECT (SELECT count(*) FROM out_folder WHERE name = ?1)"
	    " + (SELECT count(*) FROM out_msg WHERE folder = ?1 AND deleted = 0)", &st) == SB_OK) {
		sqlite3_bind_text(st, 1, folder, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		spool_finalize(a, st);
	}
	spool_unlock(a);
	return n > 0;
}

/* ---- the open table ------------------------------------------------------------ */

static struct ob_entry *
entry_find(struct outbox *ob, int64_t row)
{
	for (struct ob_entry *e = ob->open; e; e = e->next)
		if (e->row == row)
			return e;
	return NULL;
}

static void
entry_unlink(struct outbox *ob, struct ob_entry *e)
{
	for (struct ob_entry **pp = &ob->open; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			return;
		}
}

static void
entry_free(struct ob_entry *e)
{
	if (e == NULL)
		return;
	cfile_close(e->cf);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

/* Opens (or reopens writable) the entry's cfile.  Caller holds e->mu. */
static int
entry_ensure_cf(struct agent *a, struct ob_entry *e, const char *file, int writable)
{
	const uint8_t *key;
	char *path;
	int rc;

	if (e->cf && (e->writable || !writable))
		return SB_OK;
	if ((rc = storage_key(a, &key)) != SB_OK)
		return rc;
	if ((path = outbox_data_path(a, file)) == NULL)
		return SB_ERR_ALLOC;
	if (e->cf) {
		cfile_close(e->cf);
		e->cf = NULL;
	}
	rc = cfile_open(path, key, writable, &e->cf);
	free(path);
	if (rc == SB_OK) {
		e->writable = writable;
		e->size = cfile_size(e->cf);
	}
	return rc;
}

/* Finds or creates the entry for row r (caller holds ob->lock). */
static int
entry_get(struct agent *a, const struct ob_row *r, int writable, struct ob_entry **out)
{
	struct outbox *ob = OB(a);
	struct ob_entry *e = entry_find(ob, r->id);
	int rc;

	if (e == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return SB_ERR_ALLOC;
		pthread_mutex_init(&e->mu, NULL);
		e->row = r->id;
		e->size = r->size;
		e->mtime = r->mtime;
		e->db_open = r->state == OB_OPEN;
		snprintf(e->file, sizeof(e->file), "%s", r->file);
		pthread_mutex_lock(&e->mu);
		rc = entry_ensure_cf(a, e, r->file, writable);
		pthread_mutex_unlock(&e->mu);
		if (rc != SB_OK) {
			entry_free(e);
			return rc;
		}
		e->next = ob->open;
		ob->open = e;
	} else {
		pthread_mutex_lock(&e->mu);
		rc = entry_ensure_cf(a, e, r->file, writable);
		pthread_mutex_unlock(&e->mu);
		if (rc != SB_OK)
			return rc;
	}
	*out = e;
	return SB_OK;
}

/* ---- init / gc --------------------------------------------------------------- */

/*
 * Crash recovery: an OPEN row whose content file is missing or shorter than
 * an empty cfile (header + one empty chunk, docs/PROTOCOL.md section 10) was
 * killed between the row's insert and the file's creation.  No close ever
 * accepted it, so it is dropped; kept, its name would stay listed but be
 * unusable (open: ENOENT from the missing file, create: EEXIST from the row).
 */
#define OB_EMPTY_CFILE 56
static void
drop_unborn_drafts(struct agent *a)
{
	sqlite3_stmt *st;
	int64_t ids[256];
	size_t n = 0;

	spool_lock(a);
	if (spool_prepare(a, "SELECT id, file FROM out_msg WHERE state = 0 AND"
	    " deleted = 0", &st) == SB_OK) {
		while (sqlite3_step(st) == SQLITE_ROW && n < 256) {
			const char *f = (const char *)sqlite3_column_text(st, 1);
			char *p = f ? outbox_data_path(a, f) : NULL;
			struct stat sb;

			if (p != NULL && (stat(p, &sb) != 0 ? errno == ENOENT :
			    sb.st_size < OB_EMPTY_CFILE))
				ids[n++] = sqlite3_column_int64(st, 0);
			free(p);
		}
		spool_finalize(a, st);
	}
	spool_unlock(a);
	for (size_t i = 0; i < n; i++) {
		fprintf(stderr, "sealbox: outbox: row %lld was created but never written"
		    " before a crash: dropped\n", (long long)ids[i]);
		row_exec(a, "UPDATE out_msg SET deleted = 1 WHERE id = ?", 0, 0, 0, ids[i]);
	}
}

/*
 * Crash recovery: an OPEN row that replaces an older queued, sent or failed
 * version of the same name is a rewrite whose session never ended (no last
 * release).  It is dropped, so the name shows the version that was closed
 * (and sent), not a half-written draft hiding it.
 */
static void
drop_unfinished_rewrites(struct agent *a)
{
	int64_t n = 0;

	spool_lock(a);
	if (store_exec(a->db, "UPDATE out_msg SET deleted = 1 WHERE state = 0 AND"
	    " deleted = 0 AND EXISTS (SELECT 1 FROM out_msg o WHERE o.folder ="
	    " out_msg.folder AND o.name = out_msg.name AND o.id < out_msg.id AND"
	    " o.deleted = 0 AND o.state IN (2, 3, 4))") == SB_OK)
		n = sqlite3_changes(a->db);
	spool_unlock(a);
	if (n > 0)
		fprintf(stderr, "sealbox: outbox: %lld rewrite(s) unfinished before a"
		    " crash: dropped, the earlier versions stay\n", (long long)n);
}

int
outbox_init(struct agent *a)
{
	struct outbox *ob;
	int rc;

	if ((ob = calloc(1, sizeof(*ob))) == NULL)
		return SB_ERR_ALLOC;
	pthread_mutex_init(&ob->lock, NULL);
	pthread_cond_init(&ob->cond, NULL);
	pthread_cond_init(&ob->idle, NULL);
	if (asprintf(&ob->data_dir, "%s/data", a->home) < 0) {
		ob->data_dir = NULL;
		free(ob);
		return SB_ERR_ALLOC;
	}
	a->out = ob;
	if (mkdir(ob->data_dir, 0700) != 0 && errno != EEXIST)
		return SB_ERR_SYSTEM;
	if ((rc = spool_start(a)) != SB_OK)
		return rc;
	spool_lock(a);
	rc = store_migrate(a->db, "outbox", schema, sizeof(schema) / sizeof(schema[0]));
	spool_unlock(a);
	if (rc != SB_OK)
		return rc;

	/* Crash recovery: a CLOSED row with a visible name was closed by the
	 * user (flush returned) but its release never came: send it. */
	sqlite3_stmt *st;
	int64_t ids[256];
	size_t n = 0;
	spool_lock(a);
	rc = spool_prepare(a, "SELECT id, name FROM out_msg WHERE state = 1 AND"
	    " deleted = 0", &st);
	if (rc == SB_OK) {
		while (sqlite3_step(st) == SQLITE_ROW && n < 256) {
			const char *nm = (const char *)sqlite3_column_text(st, 1);
			if (nm && !outbox_is_temp_name(nm))
				ids[n++] = sqlite3_column_int64(st, 0);
		}
		spool_finalize(a, st);
	}
	spool_unlock(a);
	for (size_t i = 0; i < n; i++) {
		fprintf(stderr, "sealbox: outbox: row %lld was closed before a restart:"
		    " queued\n", (long long)ids[i]);
		row_exec(a, "UPDATE out_msg SET state = 2 WHERE id = ?", 0, 0, 0, ids[i]);
	}
	if (rc == SB_OK)
		drop_unborn_drafts(a);
	if (rc == SB_OK)
		drop_unfinished_rewrites(a);
	return rc;
}

void
outbox_free(struct agent *a)
{
	struct outbox *ob = a ? OB(a) : NULL;
	struct ob_entry *e;

	if (ob == NULL)
		return;
	while ((e = ob->open) != NULL) {
		ob->open = e->next;
		if (e->cf && e->writable)
			cfile_sync(e->cf);
		entry_free(e);
	}
	spool_stop(a);
	spool_cache_free(a);
	pthread_mutex_destroy(&ob->lock);
	pthread_cond_destroy(&ob->cond);
	pthread_cond_destroy(&ob->idle);
	free(ob->data_dir);
	free(ob);
	a->out = NULL;
}

void
outbox_gc(struct agent *a)
{
	struct outbox *ob = OB(a);
	sqlite3_stmt *st;
	int64_t ids[64];
	char files[64][FILE_REF_BUF];
	size_t n = 0;
	int rc;

	/* ob->lock only to choose: rows no handle holds and not being sent
	 * (a removed row is no longer visible, so none can be opened after).
	 * The deletes then run in one transaction without it, so an rm or a
	 * release waits for no fsync of ours (issue 13: an rm right after
	 * close must land within the settle time). */
	pthread_mutex_lock(&ob->lock);
	spool_lock(a);
	if (spool_prepare(a, "SELECT id, file FROM out_msg WHERE deleted = 1"
	    " LIMIT 64", &st) == SB_OK) {
		while (sqlite3_step(st) == SQLITE_ROW && n < 64) {
			int64_t id = sqlite3_column_int64(st, 0);
			const char *f = (const char *)sqlite3_column_text(st, 1);
			int busy = 0;
			for (size_t k = 0; k < OB_SENDERS; k++)
				busy |= ob->slot[k].inflight == id;
			if (busy || entry_find(ob, id) || f == NULL)
				continue;
			/* (a folder's row has no content file: "") */
			ids[n] = id;
			snprintf(files[n], FILE_REF_BUF, "%s", f);
			n++;
		}
		spool_finalize(a, st);
	}
	spool_unlock(a);
	pthread_mutex_unlock(&ob->lock);
	if (n == 0)
		return;
	spool_lock(a);
	rc = store_begin(a->db);
	for (size_t i = 0; rc == SB_OK && i < n; i++) {
		/* A removed row the relay never accepted: the blob of its last
		 * attempt is nobody's (the sender deletes it at the relay). */
		rc = spool_prepare(a, "INSERT OR IGNORE INTO out_blob_gone(uri) SELECT"
		    " blob_uri FROM out_msg WHERE id = ? AND blob_uri IS NOT NULL AND"
		    " state != 3", &st);
		if (rc == SB_OK) {
			sqlite3_bind_int64(st, 1, ids[i]);
			rc = store_step_done(a->db, st);
			spool_finalize(a, st);
		}
		if (rc == SB_OK)
			rc = spool_prepare(a, "DELETE FROM out_msg WHERE id = ?", &st);
		if (rc == SB_OK) {
			sqlite3_bind_int64(st, 1, ids[i]);
			rc = store_step_done(a->db, st);
			spool_finalize(a, st);
		}
	}
	rc = store_end(a->db, rc);
	spool_unlock(a);
	for (size_t i = 0; rc == SB_OK && i < n; i++) {
		char *p = files[i][0] ? outbox_data_path(a, files[i]) : NULL;
		if (p) {
			if (unlink(p) != 0 && errno != ENOENT)
				fprintf(stderr, "sealbox: outbox: cannot delete %s: %s\n",
				    files[i], strerror(errno));
			free(p);
		}
	}
}

/* ---- folders ------------------------------------------------------------------ */

int
outbox_box_attr(struct agent *a, struct agent_attr *out)
{
	struct stat sb;

	int64_t t = 0;

	memset(out, 0, sizeof(*out));
	out->is_dir = 1;
	out->mode = 0755;
	if (stat(OB(a)->data_dir, &sb) == 0) {
		out->mtime = sb.st_mtim;
		out->ctime = sb.st_ctim;
	} else {
		out->mtime = out->ctime = now_ts();
	}
	/* The later of data/'s times and the last mkdir or rmdir here. */
	spool_lock(a);
	store_query_int(a->db, "SELECT time_ns FROM out_box WHERE id = 1", NULL, 0, &t);
	spool_unlock(a);
	if (t > ts_ns(out->mtime))
		out->mtime = ns_ts(t);
	if (t > ts_ns(out->ctime))
		out->ctime = ns_ts(t);
	return SB_OK;
}

/* Remembers names already listed so synced copies never repeat ours. */
int
outbox_list_folders(struct agent *a, agent_fill_fn fill, void *ctx)
{
	int stopped = 0;
	sqlite3_stmt *st;
	char (*names)[NAMES_NAME_BUF] = NULL;
	struct timespec *times = NULL;
	size_t n = 0, cap = 0;
	int rc;

	spool_lock(a);
	rc = spool_prepare(a, "SELECT name, ctime FROM out_folder UNION"
	    " SELECT DISTINCT folder, 0 FROM out_msg WHERE deleted = 0", &st);
	if (rc == SB_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *nm = (const char *)sqlite3_column_text(st, 0);
			if (nm == NULL)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				void *p1 = realloc(names, nc * sizeof(*names));
				if (p1 == NULL) { rc = SB_ERR_ALLOC; break; }
				names = p1;
				void *p2 = realloc(times, nc * sizeof(*times));
				if (p2 == NULL) { rc = SB_ERR_ALLOC; break; }
				times = p2;
				cap = nc;
			}
			snprintf(names[n], NAMES_NAME_BUF, "%s", nm);
			times[n].tv_sec = sqlite3_column_int64(st, 1);
			times[n].tv_nsec = 0;
			n++;
		}
		spool_finalize(a, st);
	}
	spool_unlock(a);
	for (size_t i = 0; rc == SB_OK && i < n && !stopped; i++) {
		struct agent_attr at = { .is_dir = 1, .mode = 0755 };
		if (outbox_folder_attr(a, names[i], &at) != SB_OK) {
			at.is_dir = 1;
			at.mode = 0755;
			at.mtime = at.ctime = times[i];
		}
		stopped = fill(ctx, names[i], &at) != 0;
	}
	free(names);
	free(times);
	return rc;
}

int
outbox_folder_attr(struct agent *a, const char *folder, struct agent_attr *out)
{
	sqlite3_stmt *st;
	int64_t ct = -1, mt = -1, mns = 0, cns = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	spool_lock(a);
	rc = spool_prepare(a, "SELECT (SELECT ctime FROM out_folder WHERE name = ?1),"
	    " (SELECT max(mtime_s) FROM out_msg WHERE folder = ?1 AND deleted = 0),"
	    " (SELECT min(ctime_s) FROM out_msg WHERE folder = ?1 AND deleted = 0),"
	    " (SELECT mtime_ns FROM out_folder WHERE name = ?1),"
	    " (SELECT ctime_ns FROM out_folder WHERE name = ?1)", &st);
	if (rc == SB_OK) {
		sqlite3_bind_text(st, 1, folder, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW) {
			if (sqlite3_column_type(st, 0) != SQLITE_NULL)
				ct = sqlite3_column_int64(st, 0);
			else if (sqlite3_column_type(st, 2) != SQLITE_NULL)
				ct = sqlite3_column_int64(st, 2);
			if (sqlite3_column_type(st, 1) != SQLITE_NULL)
				mt = sqlite3_column_int64(st, 1);
			mns = sqlite3_column_int64(st, 3);
			cns = sqlite3_column_int64(st, 4);
		}
		spool_finalize(a, st);
	}
	spool_unlock(a);
	if (rc != SB_OK)
		return rc;
	if (ct < 0)
		return SB_ERR_NOT_FOUND;
	out->is_dir = 1;
	out->mode = 0755;
	if (mns > 0) {
		/* Moved by every change of its entries (folder_touch). */
		out->mtime = ns_ts(mns);
		out->ctime = ns_ts(cns);
		return SB_OK;
	}
	/* Untouched since before the times were kept: what it was. */
	out->ctime.tv_sec = ct;
	out->mtime.tv_sec = mt > ct ? mt : ct;
	return SB_OK;
}

int
outbox_folder_create(struct agent *a, const char *folder)
{
	struct names_recipients *r = NULL;
	struct client_lookup *l = NULL;
	const char **addrs = NULL;
	size_t n;
	int rc;

	rc = names_resolve(agent_contacts(a), folder, strlen(folder), &r);
	if (rc != SB_OK)
		return rc;
	n = names_recipients_count(r);
	if ((rc = agent_keys_acquire(a)) != SB_OK)
		goto out;
	if (n > SB_MAX_LOOKUP_ADDRS) {
		rc = SB_ERR_TOO_BIG;
		goto out;
	}
	if ((addrs = calloc(n, sizeof(*addrs))) == NULL) {
		rc = SB_ERR_ALLOC;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		addrs[i] = names_recipients_get(r, i);
	if (agent_client(a) == NULL) {
		rc = SB_ERR_NET;
		goto out;
	}
	rc = client_lookup(agent_client(a), addrs, n, &l);
	if (rc != SB_OK)
		goto out;
	/* Every address needs at least one device in the directory. */
	for (size_t i = 0; i < n && rc == SB_OK; i++) {
		int found = 0;
		for (size_t j = 0; j < l->n && !found; j++)
			found = strcmp(l->devices[j].address, addrs[i]) == 0;
		if (!found) {
			fprintf(stderr, "sealbox: outbox: mkdir %s: no devices for %s\n",
			    folder, addrs[i]);
			rc = SB_ERR_UNKNOWN_RECIPIENT;
		}
	}
	if (rc == SB_OK) {
		sqlite3_stmt *st;
		spool_lock(a);
		rc = spool_prepare(a, "INSERT OR IGNORE INTO out_folder(name, ctime,"
		    " mtime_ns, ctime_ns) VALUES(?1, ?2 / 1000000000, ?2, ?2)", &st);
		if (rc == SB_OK) {
			sqlite3_bind_text(st, 1, folder, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 2, ts_ns(now_ts()));
			rc = store_step_done(a->db, st);
			spool_finalize(a, st);
		}
		spool_unlock(a);
		if (rc == SB_OK)
			box_touch(a);
	}
out:
	client_lookup_free(l);
	free(addrs);
	names_recipients_free(r);
	return rc;
}

int
outbox_folder_remove(struct agent *a, const char *folder)
{
	int64_t n = 0, f = 0;
	sqlite3_stmt *st;
	int rc;

	spool_lock(a);
	rc = store_query_int(a->db, "SELECT count(*) FROM out_folder WHERE name = ?",
	    folder, 0, &f);
	if (rc == SB_OK)
		rc = store_query_int(a->db, "SELECT count(*) FROM out_msg WHERE folder = ?"
		    " AND deleted = 0", folder, 0, &n);
	spool_unlock(a);
	if (rc != SB_OK)
		return rc;
	if (n > 0)
		return SB_ERR_EXISTS;
	if (f == 0)
		return SB_ERR_NOT_FOUND;
	spool_lock(a);
	rc = spool_prepare(a, "DELETE FROM out_folder WHERE name = ?", &st);
	if (rc == SB_OK) {
		sqlite3_bind_text(st, 1, folder, -1, SQLITE_TRANSIENT);
		rc = store_step_done(a->db, st);
		spool_finalize(a, st);
	}
	spool_unlock(a);
	if (rc == SB_OK)
		box_touch(a);
	return rc;
}

/* ---- folders inside a conversation ------------------------------------------- */

static int inflight_settle(struct outbox *ob, int64_t row, int cancel);

int
outbox_dir_create(struct agent *a, const char *folder, const char *path)
{
	struct outbox *ob = OB(a);
	struct timespec now = now_ts();
	uint8_t msgid[PROTO_MSGID_LEN];
	sqlite3_stmt *st;
	struct ob_row r;
	int rc;

	pthread_mutex_lock(&ob->lock);
	rc = row_visible(a, folder, path, &r);
	if (rc == SB_OK)
		rc = SB_ERR_EXISTS;
	else if (rc == SB_ERR_NOT_FOUND)
		rc = crypto_random(msgid, sizeof(msgid));
	if (rc == SB_OK) {
		/* Queued at once: a folder message has no write session.  It
		 * settles like a file (closed_ns), so an rmdir right after the
		 * mkdir (a tool's scratch folder) is not sent either. */
		spool_lock(a);
		rc = spool_prepare(a, "INSERT INTO out_msg(folder, name, msgid, file, size,"
		    " mtime_s, mtime_ns, ctime_s, ctime_ns, state, is_dir, closed_ns)"
		    " VALUES(?1, ?2, ?3, '', 0, ?4, ?5, ?4, ?5, 2, 1, ?6)", &st);
		if (rc == SB_OK) {
			sqlite3_bind_text(st, 1, folder, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
			sqlite3_bind_blob(st, 3, msgid, sizeof(msgid), SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 4, now.tv_sec);
			sqlite3_bind_int64(st, 5, now.tv_nsec);
			sqlite3_bind_int64(st, 6, ts_ns(now));
			rc = store_step_done(a->db, st);
			spool_finalize(a, st);
		}
		spool_unlock(a);
	}
	pthread_mutex_unlock(&ob->lock);
	if (rc == SB_OK) {
		fprintf(stderr, "sealbox: outbox: %s/%s/ queued (a folder)\n", folder, path);
		entry_touch(a, folder, path);
		send_kick(a);
	}
	return rc;
}

int
outbox_dir_remove(struct agent *a, const char *folder, const char *path)
{
	struct outbox *ob = OB(a);
	int64_t below = 0;
	sqlite3_stmt *st;
	struct ob_row r;
	int rc;

	pthread_mutex_lock(&ob->lock);
	rc = row_visible(a, folder, path, &r);
	if (rc == SB_OK && !r.is_dir)
		rc = SB_ERR_PERMISSION;
	if (rc == SB_OK) {
		spool_lock(a);
		rc = spool_prepare(a, "SELECT count(*) FROM out_msg WHERE folder = ?1 AND"
		    " deleted = 0 AND substr(name, 1, length(?2) + 1) = ?2 || '/'", &st);
		if (rc == SB_OK) {
			sqlite3_bind_text(st, 1, folder, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(st) == SQLITE_ROW)
				below = sqlite3_column_int64(st, 0);
			spool_finalize(a, st);
		}
		spool_unlock(a);
		if (rc == SB_OK && below > 0)
			rc = SB_ERR_EXISTS;
	}
	/* Local only, as rm is: a folder message already sent stays sent;
	 * one not yet sent is not sent. */
	if (rc == SB_OK) {
		inflight_settle(ob, r.id, 1);
		spool_lock(a);
		rc = retire_name_rows(a, folder, path, 0, 0);
		spool_unlock(a);
	}
	pthread_mutex_unlock(&ob->lock);
	if (rc == SB_OK)
		entry_touch(a, folder, path);
	return rc;
}

/* ---- files ------------------------------------------------------------------ */

static void
row_attr(struct agent *a, const struct ob_row *r, struct agent_attr *out)
{
	struct outbox *ob = OB(a);
	struct ob_entry *e;

	memset(out, 0, sizeof(*out));
	out->mode = r->is_dir ? 0755 : 0644;
	out->is_dir = r->is_dir;
	out->size = r->size;
	out->mtime = r->mtime;
	out->ctime = r->ctime;
	out->atime = r->atime;
	pthread_mutex_lock(&ob->lock);
	if ((e = entry_find(ob, r->id)) != NULL && e->session) {
		pthread_mutex_lock(&e->mu);
		out->size = e->size;
		out->mtime = e->mtime;
		pthread_mutex_unlock(&e->mu);
	}
	pthread_mutex_unlock(&ob->lock);
	if (out->ctime.tv_sec < out->mtime.tv_sec)
		out->ctime = out->mtime;
}

int
outbox_list_files(struct agent *a, const char *folder, const char *dir,
    agent_fill_fn fill, void *ctx)
{
	struct ob_row *rows = NULL;
	size_t n = 0, cap = 0, skip = dir ? strlen(dir) + 1 : 0;
	sqlite3_stmt *st;
	int stopped = 0, rc;

	spool_lock(a);
	/* The children of dir (of the folder itself when NULL): names right
	 * below it, with no further '/'. */
	rc = spool_prepare(a, "SELECT " ROW_COLS " FROM out_msg m WHERE folder = ?1"
	    " AND deleted = 0 AND id = (SELECT max(id) FROM out_msg WHERE folder = ?1"
	    " AND name = m.name AND deleted = 0) AND (CASE WHEN ?2 IS NULL THEN"
	    " instr(name, '/') = 0 ELSE substr(name, 1, length(?2) + 1) = ?2 || '/' AND"
	    " instr(substr(name, length(?2) + 2), '/') = 0 END) ORDER BY name", &st);
	if (rc == SB_OK) {
		sqlite3_bind_text(st, 1, folder, -1, SQLITE_TRANSIENT);
		if (dir != NULL)
			sqlite3_bind_text(st, 2, dir, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, 2);
		while (sqlite3_step(st) == SQLITE_ROW) {
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct ob_row *p = realloc(rows, nc * sizeof(*p));
				if (p == NULL) {
					rc = SB_ERR_ALLOC;
					break;
				}
				rows = p;
				cap = nc;
			}
			row_from_stmt(st, &rows[n++]);
		}
		spool_finalize(a, st);
	}
	spool_unlock(a);
	for (size_t i = 0; rc == SB_OK && i < n && !stopped; i++) {
		struct agent_attr at;
		row_attr(a, &rows[i], &at);
		stopped = fill(ctx, rows[i].name + skip, &at) != 0;
	}
	free(rows);
	return rc;
}

int
outbox_file_attr(struct agent *a, const char *folder, const char *name,
    struct agent_attr *out)
{
	struct ob_row r;
	int rc = row_visible(a, folder, name, &r);

	if (rc == SB_OK)
		row_attr(a, &r, out);
	return rc;
}

/* Inserts a new OPEN row with a fresh message id and content file. */
static int
new_row(struct agent *a, const char *folder, const char *name, struct ob_row *r)
{
	uint8_t fid[16];
	sqlite3_stmt *st;
	struct timespec now = now_ts();
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = crypto_random(r->msgid, sizeof(r->msgid))) != SB_OK ||
	    (rc = crypto_random(fid, sizeof(fid))) != SB_OK)
		return rc;
	snprintf(r->file, sizeof(r->file), "o-");
	for (size_t i = 0; i < sizeof(fid); i++)
		snprintf(r->file + 2 + 2 * i, 3, "%02x", fid[i]);
	snprintf(r->folder, sizeof(r->folder), "%s", folder);
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->mtime = r->ctime = now;
	r->state = OB_OPEN;
	spool_lock(a);
	rc = spool_prepare(a, "INSERT INTO out_msg(folder, name, msgid, file, size,"
	    " mtime_s, mtime_ns, ctime_s, ctime_ns, state) VALUES(?,?,?,?,0,?,?,?,?,0)", &st);
	if (rc == SB_OK) {
		sqlite3_bind_text(st, 1, folder, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st, 3, r->msgid, sizeof(r->msgid), SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, r->file, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 5, now.tv_sec);
		sqlite3_bind_int64(st, 6, now.tv_nsec);
		sqlite3_bind_int64(st, 7, now.tv_sec);
		sqlite3_bind_int64(st, 8, now.tv_nsec);
		rc = store_step_done(a->db, st);
		spool_finalize(a, st);
		r->id = sqlite3_last_insert_rowid(a->db);
	}
	spool_unlock(a);
	return rc;
}

/* Copies the content of cfile src into dst (streamed, one chunk of memory). */
static int
copy_content(struct cfile *src, struct cfile *dst)
{
	uint8_t *buf = OPENSSL_secure_malloc(COPY_CHUNK);
	uint64_t off = 0;
	int rc = SB_OK;

	if (buf == NULL)
		return SB_ERR_ALLOC;
	for (;;) {
		size_t got = 0;
		if ((rc = cfile_pread(src, buf, COPY_CHUNK, off, &got)) != SB_OK || got == 0)
			break;
		if ((rc = cfile_pwrite(dst, buf, got, off)) != SB_OK)
			break;
		off += got;
	}
	OPENSSL_secure_clear_free(buf, COPY_CHUNK);
	return rc;
}

/* Starts a write session: a new row for (folder, name), its entry holding a
 * fresh cfile, filled from base's content unless truncating.  Caller holds
 * ob->lock. */
static int
session_new(struct agent *a, const char *folder, const char *name,
    const struct ob_row *base, int trunc, struct ob_entry **out)
{
	struct outbox *ob = OB(a);
	const uint8_t *key;
	struct ob_entry *e;
	struct ob_row r;
	char *path;
	int rc;

	if ((rc = storage_key(a, &key)) != SB_OK)
		return rc;
	if ((rc = new_row(a, folder, name, &r)) != SB_OK)
		return rc;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		row_exec(a, "DELETE FROM out_msg WHERE id = ?", 0, 0, 0, r.id);
		return SB_ERR_ALLOC;
	}
	pthread_mutex_init(&e->mu, NULL);
	e->row = r.id;
	e->mtime = r.mtime;
	e->db_open = 1;
	e->new_file = 1;
	snprintf(e->file, sizeof(e->file), "%s", r.file);
	e->session = 1;
	e->writable = 1;
	e->modified = base == NULL || trunc;
	e->base = base ? base->id : 0;
	if ((path = outbox_data_path(a, r.file)) == NULL) {
		rc = SB_ERR_ALLOC;
	} else {
		rc = cfile_create(path, key, &e->cf);
		free(path);
	}
	/* The blob form is made as it is written (issue 15); the sender
	 * falls back to a pass of its own when it could not be.  Not for a
	 * copy of the old version: that copy runs under ob->lock, which
	 * the hashing would hold twice as long. */
	if (rc == SB_OK && (base == NULL || trunc) && cfile_blob_begin(e->cf) != SB_OK)
		fprintf(stderr, "sealbox: outbox: row %lld: no blob form while written\n",
		    (long long)r.id);
	if (rc == SB_OK && base && !trunc) {
		struct ob_entry *be = entry_find(ob, base->id);
		if (be) {
			pthread_mutex_lock(&be->mu);
			rc = copy_content(be->cf, e->cf);
			pthread_mutex_unlock(&be->mu);
		} else {
			struct cfile *src = NULL;
			char *bp = outbox_data_path(a, base->file);
			rc = bp ? cfile_open(bp, key, 0, &src) : SB_ERR_ALLOC;
			free(bp);
			if (rc == SB_OK)
				rc = copy_content(src, e->cf);
			cfile_close(src);
		}
		e->mtime = base->mtime;
	}
	/* The new version starts with the old one's times (its mtime above
	 * once the content is copied; an atime utimensat set). */
	if (rc == SB_OK && base && (base->atime.tv_sec != 0 || base->atime.tv_nsec != 0))
		rc = row_exec(a, "UPDATE out_msg SET atime_s = ?, atime_ns = ? WHERE id = ?",
		    2, base->atime.tv_sec, base->atime.tv_nsec, r.id);
	if (rc != SB_OK) {
		char *p = outbox_data_path(a, r.file);
		entry_free(e);
		if (p) {
			unlink(p);
			free(p);
		}
		row_exec(a, "DELETE FROM out_msg WHERE id = ?", 0, 0, 0, r.id);
		return rc;
	}
	if (base == NULL)
		entry_touch(a, folder, name);  /* a new entry */
	e->size = cfile_size(e->cf);
	e->next = ob->open;
	ob->open = e;
	*out = e;
	return SB_OK;
}

static int
handle_new(struct agent *a, struct ob_entry *e, int write, struct agent_file **out)
{
	struct ob_file *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return SB_ERR_ALLOC;
	f->head.kind = AGENT_FILE_OUT;
	f->head.a = a;
	f->e = e;
	f->write = write;
	e->refs++;
	if (write)
		e->writers++;
	*out = &f->head;
	return SB_OK;
}

/* Drops an entry nobody holds (caller holds ob->lock). */
static void
entry_put(struct outbox *ob, struct ob_entry *e)
{
	if (e->refs == 0) {
		entry_unlink(ob, e);
		entry_free(e);
	}
}

int
outbox_file_open(struct agent *a, const char *folder, const char *name,
    int flags, struct agent_file **out)
{
	struct outbox *ob = OB(a);
	int write = (flags & (AGENT_OPEN_WRITE | AGENT_OPEN_TRUNC | AGENT_OPEN_CREATE)) != 0;
	int trunc = (flags & AGENT_OPEN_TRUNC) != 0;
	struct ob_entry *e = NULL;
	struct ob_row r;
	int rc;

	*out = NULL;
	if (write && (rc = agent_keys_acquire(a)) != SB_OK)
		return rc;
	pthread_mutex_lock(&ob->lock);
	rc = row_visible(a, folder, name, &r);
	if (rc == SB_ERR_NOT_FOUND) {
		if (!(flags & AGENT_OPEN_CREATE)) {
			pthread_mutex_unlock(&ob->lock);
			return SB_ERR_NOT_FOUND;
		}
		rc = session_new(a, folder, name, NULL, 1, &e);
		if (rc == SB_OK && (flags & AGENT_OPEN_EXCL))
			e->create = (flags & AGENT_OPEN_READ) && (flags & AGENT_OPEN_WRITE) ?
			    OB_CREATE_MKSTEMP : OB_CREATE_EXCL;
		if (rc == SB_OK)
			rc = handle_new(a, e, 1, out);
		pthread_mutex_unlock(&ob->lock);
		return rc;
	}
	if (rc != SB_OK)
		goto out;
	if ((flags & AGENT_OPEN_CREATE) && (flags & AGENT_OPEN_EXCL)) {
		rc = SB_ERR_EXISTS;
		goto out;
	}
	if (r.is_dir) {
		rc = SB_ERR_PERMISSION;          /* fs/ says EISDIR */
		goto out;
	}
	if (!write) {
		if ((rc = entry_get(a, &r, 0, &e)) == SB_OK)
			rc = handle_new(a, e, 0, out);
		goto out;
	}
	if (r.state == OB_OPEN || r.state == OB_CLOSED) {
		/* A draft: join (or resume) its session, same message id. */
		if ((rc = entry_get(a, &r, 1, &e)) != SB_OK)
			goto out;
		e->session = 1;
		if (trunc) {
			pthread_mutex_lock(&e->mu);
			rc = cfile_truncate(e->cf, 0);
			if (rc == SB_OK) {
				e->size = 0;
				e->dirty = e->modified = 1;
				e->fsynced = 0;
				e->mtime = now_ts();
			}
			pthread_mutex_unlock(&e->mu);
		}
		if (rc == SB_OK)
			rc = handle_new(a, e, 1, out);
		else
			entry_put(ob, e);
		goto out;
	}
	/* Queued, sent or failed: a new write session replaces it. */
	if ((rc = session_new(a, folder, name, &r, trunc, &e)) == SB_OK)
		rc = handle_new(a, e, 1, out);
out:
	pthread_mutex_unlock(&ob->lock);
	return rc;
}

int
outbox_file_read(struct agent_file *f, void *buf, size_t size, uint64_t off,
    size_t *got)
{
	struct ob_entry *e = ((struct ob_file *)f)->e;
	int rc;

	pthread_mutex_lock(&e->mu);
	rc = cfile_pread(e->cf, buf, size, off, got);
	pthread_mutex_unlock(&e->mu);
	return rc;
}

/* Before the first change after a flush, the row must say OPEN again, so a
 * crash mid-rewrite is not mistaken for a finished file.  Caller holds e->mu. */
static int
mark_open(struct agent *a, struct ob_entry *e)
{
	int rc;

	if (e->db_open)
		return SB_OK;
	rc = row_exec(a, "UPDATE out_msg SET state = 0 WHERE id = ? AND state = 1",
	    0, 0, 0, e->row);
	if (rc == SB_OK)
		e->db_open = 1;
	return rc;
}

/*
 * SB_ERR_TOO_BIG (EFBIG) when bytes up to off + len would pass the relay's
 * blob cap (docs/PROTOCOL.md 13.6): refused before a byte is encrypted,
 * and the session will not be sent (a file cut short by the refusal is
 * not what its writer meant).  No cap known yet: no check (the relay
 * refuses the upload, the file fails then).  Caller holds e->mu.
 */
static int
over_cap(struct agent *a, struct ob_entry *e, uint64_t off, uint64_t len)
{
	uint64_t cap = __atomic_load_n(&OB(a)->blob_cap, __ATOMIC_RELAXED);

	if (cap == 0 || (off <= cap && len <= cap - off))
		return SB_OK;
	if (!e->too_big)
		fprintf(stderr, "sealbox: outbox: row %lld: %llu bytes would pass the relay's"
		    " blob cap of %llu: EFBIG, the file will not be sent\n", (long long)e->row,
		    (unsigned long long)(off + len), (unsigned long long)cap);
	e->too_big = 1;
	return SB_ERR_TOO_BIG;
}

int
outbox_file_write(struct agent_file *f, const void *buf, size_t size, uint64_t off)
{
	struct ob_file *of = (struct ob_file *)f;
	struct ob_entry *e = of->e;
	int rc;

	if (!of->write)
		return SB_ERR_PERMISSION;
	pthread_mutex_lock(&e->mu);
	rc = over_cap(f->a, e, off, size);
	if (rc == SB_OK)
		rc = mark_open(f->a, e);
	if (rc == SB_OK)
		rc = cfile_pwrite(e->cf, buf, size, off);
	if (rc == SB_OK) {
		e->size = cfile_size(e->cf);
		e->mtime = now_ts();
		e->dirty = e->modified = 1;
		e->fsynced = 0;
	}
	pthread_mutex_unlock(&e->mu);
	return rc;
}

static int
entry_truncate(struct agent *a, struct ob_entry *e, uint64_t size)
{
	int rc;

	pthread_mutex_lock(&e->mu);
	rc = over_cap(a, e, size, 0);
	if (rc == SB_OK)
		rc = mark_open(a, e);
	if (rc == SB_OK)
		rc = cfile_truncate(e->cf, size);
	if (rc == SB_OK) {
		e->size = cfile_size(e->cf);
		e->mtime = now_ts();
		e->dirty = e->modified = 1;
		e->fsynced = 0;
	}
	pthread_mutex_unlock(&e->mu);
	return rc;
}

int
outbox_file_truncate(struct agent_file *f, uint64_t size)
{
	struct ob_file *of = (struct ob_file *)f;

	if (!of->write)
		return SB_ERR_PERMISSION;
	return entry_truncate(f->a, of->e, size);
}

/*
 * Makes the entry's content and record safe from a crash of the process
 * (outbox.h "Durability of the outbox"): the content sealed into the
 * kernel (cfile_seal), then size/mtime and state CLOSED in one lazy
 * commit; the file (and data/, the first time) noted for the spool's next
 * round of syncs, which makes both durable against power loss.
 */
static int
entry_flush(struct agent *a, struct ob_entry *e)
{
	int rc = SB_OK;

	pthread_mutex_lock(&e->mu);
	if (e->dirty || e->db_open || e->new_file) {
		rc = cfile_seal(e->cf);
		if (rc == SB_OK) {
			spool_note_file(a, e->file, e->new_file);
			e->new_file = 0;
		}
		if (rc == SB_OK) {
			sqlite3_stmt *st;
			spool_lock(a);
			rc = spool_prepare(a, "UPDATE out_msg SET size = ?, mtime_s = ?,"
			    " mtime_ns = ?, state = CASE state WHEN 0 THEN 1 ELSE state END"
			    " WHERE id = ?", &st);
			if (rc == SB_OK) {
				sqlite3_bind_int64(st, 1, (int64_t)e->size);
				sqlite3_bind_int64(st, 2, e->mtime.tv_sec);
				sqlite3_bind_int64(st, 3, e->mtime.tv_nsec);
				sqlite3_bind_int64(st, 4, e->row);
				rc = store_step_done(a->db, st);
				spool_finalize(a, st);
			}
			spool_unlock(a);
		}
		if (rc == SB_OK) {
			e->dirty = 0;
			e->db_open = 0;
		}
	}
	pthread_mutex_unlock(&e->mu);
	return rc;
}

int
outbox_file_flush(struct agent_file *f)
{
	struct ob_file *of = (struct ob_file *)f;

	if (!of->write || !of->e->session)
		return SB_OK;
	return entry_flush(f->a, of->e);
}

int
outbox_file_fsync(struct agent_file *f)
{
	struct ob_file *of = (struct ob_file *)f;
	struct ob_entry *e = of->e;
	int rc = SB_OK;

	if (of->write && e->session)
		rc = entry_flush(f->a, e);
	if (rc == SB_OK)
		rc = spool_sync_wait(f->a, e->file, 0);
	if (rc == SB_OK && of->write && e->session) {
		pthread_mutex_lock(&e->mu);
		e->fsynced = !e->dirty;
		pthread_mutex_unlock(&e->mu);
	}
	return rc;
}

/* The last writer left: queue, keep as a draft, or drop the session
 * (caller holds ob->lock). */
static int
session_end(struct agent *a, struct ob_entry *e)
{
	struct ob_row r;
	int rc = entry_flush(a, e);

	struct timespec now = now_ts();
	struct ob_session s;
	int64_t closed_ns;

	e->session = 0;
	if (rc != SB_OK)
		return rc;
	if ((rc = row_by_id(a, e->row, &r)) != SB_OK)
		return rc;
	/* Tentative is decided once, at the end of the session that created
	 * the file, and holds until a rename (outbox_created_tentative). */
	if (e->create != OB_CREATE_PLAIN && !r.tentative &&
	    outbox_created_tentative(e->create, e->size)) {
		r.tentative = 1;
		rc = row_exec(a, "UPDATE out_msg SET tentative = 1 WHERE id = ?", 0, 0, 0, r.id);
		if (rc != SB_OK)
			return rc;
	}
	e->create = OB_CREATE_PLAIN;
	/* closed_ns is where the settle time counts from: a file its writer
	 * fsynced after the last change is meant to be kept, and is due at
	 * once (outbox.h, OB_SETTLE_MS). */
	closed_ns = ts_ns(now);
	if (e->fsynced)
		closed_ns -= (int64_t)OB_SETTLE_MS * 1000000;
	e->fsynced = 0;
	s.modified = e->modified;
	s.replaces_row = e->base != 0;
	s.deleted = r.deleted;
	s.too_big = e->too_big;
	s.tentative = r.tentative;
	s.name = r.name;
	enum ob_end end = outbox_session_end(&s);
	/* (OB_END_QUEUE sets it in its own transaction) */
	if (end != OB_END_QUEUE && (rc = row_exec(a, "UPDATE out_msg SET closed_ns = ?"
	    " WHERE id = ?", 1, closed_ns, 0, r.id)) != SB_OK)
		return rc;
	switch (end) {
	case OB_END_DISCARD:
		/* Opened for writing, changed nothing: the old entry stays. */
		rc = row_exec(a, "UPDATE out_msg SET deleted = 1 WHERE id = ?", 0, 0, 0, e->row);
		break;
	case OB_END_KEEP:
		if (r.tentative && !r.deleted && !outbox_is_temp_name(r.name)) {
			/* The sender queues it once it has been idle long enough
			 * (slot 0 does: every idle slot wakes). */
			a->out->kick++;
			pthread_cond_broadcast(&a->out->idle);
		}
		break;
	case OB_END_FAIL: {
		char why[REASON_BUF];
		sqlite3_stmt *st;

		snprintf(why, sizeof(why), "too big for the relay (its cap is %llu bytes)",
		    (unsigned long long)__atomic_load_n(&a->out->blob_cap, __ATOMIC_RELAXED));
		spool_lock(a);
		rc = store_begin(a->db);
		if (rc == SB_OK)
			rc = retire_name_rows(a, r.folder, r.name, r.id, 1);
		if (rc == SB_OK)
			rc = spool_prepare(a, "UPDATE out_msg SET state = 4, reason = ?"
			    " WHERE id = ?", &st);
		if (rc == SB_OK) {
			sqlite3_bind_text(st, 1, why, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 2, r.id);
			rc = store_step_done(a->db, st);
			spool_finalize(a, st);
		}
		rc = store_end(a->db, rc);
		spool_unlock(a);
		if (rc == SB_OK)
			fprintf(stderr, "sealbox: outbox: %s/%s not sent: %s\n", r.folder, r.name, why);
		break;
	}
	case OB_END_QUEUE:
		spool_lock(a);
		rc = store_begin(a->db);
		if (rc == SB_OK)
			rc = retire_name_rows(a, r.folder, r.name, r.id, 1);
		if (rc == SB_OK) {
			sqlite3_stmt *st;
			rc = spool_prepare(a, "UPDATE out_msg SET state = 2, closed_ns = ?"
			    " WHERE id = ?", &st);
			if (rc == SB_OK) {
				sqlite3_bind_int64(st, 1, closed_ns);
				sqlite3_bind_int64(st, 2, r.id);
				rc = store_step_done(a->db, st);
				spool_finalize(a, st);
			}
		}
		rc = store_end(a->db, rc);
		spool_unlock(a);
		if (rc == SB_OK) {
			fprintf(stderr, "sealbox: outbox: %s/%s queued (%llu bytes)\n",
			    r.folder, r.name, (unsigned long long)r.size);
			/* send_kick() takes ob->lock, which we hold: kick inline;
			 * one idle slot is enough (it wakes another if it finds a
			 * row). */
			a->out->kick++;
			pthread_cond_signal(&a->out->idle);
		}
		break;
	}
	e->modified = 0;
	e->too_big = 0;
	e->base = 0;
	return rc;
}

int
outbox_file_release(struct agent_file *f)
{
	struct ob_file *of = (struct ob_file *)f;
	struct outbox *ob = OB(f->a);
	struct ob_entry *e = of->e;
	int rc = SB_OK;

	pthread_mutex_lock(&ob->lock);
	e->refs--;
	if (of->write) {
		e->writers--;
		if (e->writers == 0 && e->session)
			rc = session_end(f->a, e);
	}
	entry_put(ob, e);
	pthread_mutex_unlock(&ob->lock);
	free(of);
	if (rc != SB_OK)
		fprintf(stderr, "sealbox: outbox: release: %s\n", sb_strerror(rc));
	return rc;
}

int
outbox_truncate(struct agent *a, const char *folder, const char *name, uint64_t size)
{
	struct outbox *ob = OB(a);
	struct ob_entry *e;
	struct ob_row r;
	int rc;

	pthread_mutex_lock(&ob->lock);
	rc = row_visible(a, folder, name, &r);
	if (rc != SB_OK)
		goto out;
	if (r.state != OB_OPEN && r.state != OB_CLOSED) {
		rc = SB_ERR_PERMISSION;
		goto out;
	}
	if ((rc = entry_get(a, &r, 1, &e)) != SB_OK)
		goto out;
	rc = entry_truncate(a, e, size);
	if (rc == SB_OK && e->writers == 0)
		rc = entry_flush(a, e);
	if (e->writers == 0)
		e->modified = 0;
	entry_put(ob, e);
out:
	pthread_mutex_unlock(&ob->lock);
	return rc;
}

int
outbox_set_times(struct agent *a, const char *folder, const char *name,
    const struct timespec *atime, const struct timespec *mtime)
{
	struct outbox *ob = OB(a);
	struct timespec now = now_ts();
	struct ob_entry *e;
	struct ob_row r;
	int64_t ids[2];
	int rc;

	pthread_mutex_lock(&ob->lock);
	rc = row_visible(a, folder, name, &r);
	if (rc != SB_OK)
		goto out;
	ids[0] = r.id;
	ids[1] = 0;
	if ((e = entry_find(ob, r.id)) != NULL) {
		pthread_mutex_lock(&e->mu);
		if (mtime != NULL)
			e->mtime = *mtime;
		/* touch(1) opens the file for writing, then sets its times: the
		 * session changes no byte and is dropped at its end, so the
		 * version it would have replaced takes the times too. */
		if (e->session)
			ids[1] = e->base;
		pthread_mutex_unlock(&e->mu);
	}
	for (int i = 0; i < 2 && rc == SB_OK && ids[i] != 0; i++) {
		if (mtime != NULL)
			rc = row_exec(a, "UPDATE out_msg SET mtime_s = ?, mtime_ns = ? WHERE id = ?",
			    2, mtime->tv_sec, mtime->tv_nsec, ids[i]);
		if (rc == SB_OK && atime != NULL)
			rc = row_exec(a, "UPDATE out_msg SET atime_s = ?, atime_ns = ? WHERE id = ?",
			    2, atime->tv_sec, atime->tv_nsec, ids[i]);
		/* A change of times is a change of the inode: its ctime moves. */
		if (rc == SB_OK)
			rc = row_exec(a, "UPDATE out_msg SET ctime_s = ?, ctime_ns = ? WHERE id = ?",
			    2, now.tv_sec, now.tv_nsec, ids[i]);
	}
out:
	pthread_mutex_unlock(&ob->lock);
	return rc;
}

/*
 * The row being sent is removed (cancel) or renamed: tell the sender, and
 * if its SEND is already on the wire, wait for the relay's answer, so the
 * caller knows which side of the acceptance it is on.  Returns 1 if the
 * relay accepted the row.  Caller holds ob->lock.
 */
static int
inflight_settle(struct outbox *ob, int64_t row, int cancel)
{
	struct ob_slot *sl = NULL;
	int accepted = 0;

	for (size_t k = 0; k < OB_SENDERS; k++)
		if (ob->slot[k].inflight == row)
			sl = &ob->slot[k];
	if (sl != NULL) {
		if (cancel)
			sl->cancel = 1;
		else
			sl->moved = 1;
		/* A slot waiting out the settle time wakes up and stops. */
		pthread_cond_broadcast(&ob->cond);
		while (sl->submitting && sl->inflight == row)
			pthread_cond_wait(&ob->cond, &ob->lock);
	}
	for (size_t k = 0; k < OB_SENDERS; k++)
		accepted |= ob->slot[k].accepted_row == row;
	return accepted;
}

int
outbox_unlink(struct agent *a, const char *folder, const char *name)
{
	struct outbox *ob = OB(a);
	struct ob_row r;
	int rc;

	pthread_mutex_lock(&ob->lock);
	rc = row_visible(a, folder, name, &r);
	if (rc == SB_OK && r.is_dir)
		rc = SB_ERR_PERMISSION;          /* rmdir; fs/ says EISDIR */
	if (rc == SB_OK) {
		int accepted = inflight_settle(ob, r.id, 1) || r.state == OB_SENT;

		spool_lock(a);
		rc = retire_name_rows(a, folder, name, 0, 0);
		spool_unlock(a);
		if (rc == SB_OK && accepted)
			fprintf(stderr, "sealbox: outbox: %s/%s removed here only (the relay had"
			    " accepted it)\n", folder, name);
		else if (rc == SB_OK && r.state == OB_QUEUED)
			fprintf(stderr, "sealbox: outbox: %s/%s removed before it was sent:"
			    " cancelled\n", folder, name);
	}
	pthread_mutex_unlock(&ob->lock);
	if (rc == SB_OK) {
		entry_touch(a, folder, name);
		send_kick(a);  /* the sender collects the content file */
	}
	return rc;
}

int
outbox_rename(struct agent *a, const char *from_folder, const char *from_name,
    const char *to_folder, const char *to_name)
{
	struct outbox *ob = OB(a);
	int same_folder = strcmp(from_folder, to_folder) == 0;
	struct ob_entry *e;
	struct ob_row r;
	int queue = 0, rc;

	if (same_folder && strcmp(from_name, to_name) == 0)
		return SB_OK;
	pthread_mutex_lock(&ob->lock);
	rc = row_visible(a, from_folder, from_name, &r);
	if (rc != SB_OK)
		goto out;
	if (r.is_dir) {
		rc = SB_ERR_PERMISSION;          /* fs/ says EXDEV first */
		goto out;
	}
	if (!same_folder && r.state != OB_OPEN && r.state != OB_CLOSED) {
		/* Already on its way to the first folder's recipients. */
		rc = SB_ERR_PERMISSION;
		goto out;
	}
	inflight_settle(ob, r.id, 0);
	e = entry_find(ob, r.id);
	queue = r.state == OB_CLOSED && !outbox_is_temp_name(to_name) &&
	    (e == NULL || e->writers == 0);
	spool_lock(a);
	rc = store_begin(a->db);
	if (rc == SB_OK)
		rc = retire_name_rows(a, to_folder, to_name, r.id, 1);
	/* Older rows under the old name (a replaced version) go with it. */
	if (rc == SB_OK)
		rc = retire_name_rows(a, from_folder, from_name, r.id, 1);
	if (rc == SB_OK) {
		sqlite3_stmt *st;
		/* A rename is what a tentative file waited for. */
		rc = spool_prepare(a, "UPDATE out_msg SET folder = ?, name = ?,"
		    " state = ?, tentative = 0 WHERE id = ?", &st);
		if (rc == SB_OK) {
			sqlite3_bind_text(st, 1, to_folder, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 2, to_name, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int(st, 3, queue ? OB_QUEUED : r.state);
			sqlite3_bind_int64(st, 4, r.id);
			rc = store_step_done(a->db, st);
			spool_finalize(a, st);
		}
	}
	rc = store_end(a->db, rc);
	spool_unlock(a);
	if (rc == SB_OK && queue)
		fprintf(stderr, "sealbox: outbox: %s/%s queued (renamed from %s)\n",
		    to_folder, to_name, from_name);
out:
	pthread_mutex_unlock(&ob->lock);
	if (rc == SB_OK) {
		entry_touch(a, from_folder, from_name);
		entry_touch(a, to_folder, to_name);
		send_kick(a);
	}
	return rc;
}

/* ---- xattrs -------------------------------------------------------------------- */

int
outbox_xattr_get(struct agent *a, const char *folder, const char *name,
    const char *attr, struct sb_buf *out)
{
	struct outbox *ob = OB(a);
	char text[64 + TRUST_LINE_BUF];
	struct ob_entry *e;
	struct ob_row r;
	struct client *c;
	int writing = 0, link, rc;

	rc = row_visible(a, folder, name, &r);
	if (rc != SB_OK)
		return rc;
	if (strcmp(attr, "user.sealbox.id") == 0) {
		for (size_t i = 0; i < sizeof(r.msgid); i++) {
			snprintf(text + 2 * i, 3, "%02x", r.msgid[i]);
		}
		return sb_put_bytes(out, text, 2 * sizeof(r.msgid));
	}
	if (strcmp(attr, AGENT_XATTR_STATUS) != 0)
		return SB_ERR_NOT_FOUND;
	pthread_mutex_lock(&ob->lock);
	if ((e = entry_find(ob, r.id)) != NULL)
		writing = e->writers > 0;
	if (r.state == OB_QUEUED)
		snprintf(r.reason, sizeof(r.reason), "%s", ob->retry_reason);
	pthread_mutex_unlock(&ob->lock);
	/* An attempt against a relay that is down waits for the reconnection
	 * (up to the request timeout) before it can fail: say so meanwhile. */
	if (r.state == OB_QUEUED && r.reason[0] == '\0' && (c = agent_client(a)) != NULL &&
	    (link = client_link(c)) != SB_OK)
		outbox_retry_reason(link, 0, r.reason, sizeof(r.reason));
	if (r.state == OB_SENT && (r.total == 0 || r.delivered < r.total) &&
	    time(NULL) - r.status_at >= OB_STATUS_REFRESH_S)
		send_want_status(a, r.id);
	outbox_status_text(r.state, writing, r.reason, r.delivered, r.total,
	    text, sizeof(text));
	/* Held is no transient failure: it waits for the user, so it says
	 * what they must do instead of "queued". */
	if (r.state == OB_QUEUED && !writing && r.held[0] != '\0')
		snprintf(text, sizeof(text), "%s", r.held);
	return sb_put_bytes(out, text, strlen(text));
}

int
outbox_xattr_list(struct agent *a, const char *folder, const char *name,
    struct sb_buf *out)
{
	static const char names[] = AGENT_XATTR_STATUS "\0user.sealbox.id";
	struct ob_row r;
	int rc = row_visible(a, folder, name, &r);

	if (rc != SB_OK)
		return rc;
	return sb_put_bytes(out, names, sizeof(names));
}
