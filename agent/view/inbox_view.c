/*
 * inbox_view.c - the namespace of received messages: inbox/FOLDER/NAME, and
 * the copies our other devices sent (merged into outbox/ by outbox_view.c);
 * reading with verification on every read.  The records and files it shows
 * are the store's (msgstore/); it reads them and removes them, never
 * writes new ones.
 *
 * Records live in store.db (table inbox_messages): names, ids, times and
 * the sender's identity as it was verified, and the sealed payload exactly
 * as it arrived (never its plaintext; rows older than schema v9 keep it as
 * a file of its own in HOME/data, msgstore.h); an
 * attachment's plaintext lives only in its encrypted content file (cfile)
 * there.  Every open re-opens (signature, unwrap, tag) the stored payload;
 * every read of an inline message reads and opens it again, every read of
 * an attachment verifies the cfile chunks it touches.
 *
 * Never writes into inbox/ on a user's behalf (SB_ERR_READONLY; removing a
 * message is the one change allowed), never returns a byte that did not
 * verify.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sberr.h"
#include "crypto/crypto.h"
#include "agent/cfile.h"
#include "agent/config.h"
#include "agent/message.h"
#include "agent/msgstore/msgstore.h"
#include "agent/names.h"
#include "agent/store.h"
#include "agent/view/view.h"

/* ---- Records ------------------------------------------------------------------ */

struct row {
	int64_t id;
	int kind;
	uint8_t msgid[MSGSTORE_MSGID_LEN];
	char sender[NAMES_ADDR_BUF];
	uint64_t sender_device;
	uint64_t sent, received, size, mtime_sec;
	uint32_t mtime_nsec;
	int64_t arrived_ns;
	uint8_t *identity;            /* malloc'd (with_blobs) */
	size_t identity_len;
	char payload[MSGSTORE_REF_BUF];  /* the sealed payload's file ("": in the row) */
	char cfile[MSGSTORE_REF_BUF];
	uint8_t cfile_id[CRYPTO_ATREST_FILE_ID_LEN];
};

static void
row_clear(struct row *r)
{
	free(r->identity);
	memset(r, 0, sizeof(*r));
}

static int
copy_blob(sqlite3_stmt *st, int col, uint8_t **out, size_t *len)
{
	const void *p = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);

	*out = malloc(n > 0 ? (size_t)n : 1);
	if (*out == NULL)
		return SB_ERR_ALLOC;
	if (n > 0)
		memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	return SB_OK;
}

/*
 * The folder a row shows under.  outbox/ (synced copies): the folder the
 * sender typed, as stored.  inbox/: the sender's contact name under the
 * contacts as they are NOW, else the bare address, so a contact added
 * later gathers the messages that came before it.
 */
static void
shown_folder(const struct contacts *c, enum agent_box box, const unsigned char *folder,
    const unsigned char *sender, char out[NAMES_NAME_BUF])
{
	out[0] = '\0';
	if (box == AGENT_BOX_OUT) {
		snprintf(out, NAMES_NAME_BUF, "%s", folder ? (const char *)folder : "");
		return;
	}
	if (sender == NULL || names_inbox_folder(c, (const char *)sender, out,
	    NAMES_NAME_BUF) != SB_OK)
		out[0] = '\0';
}

/*
 * shown_folder, remembering its last answer: a listing walks rows in name
 * order, which come in long runs of one sender, and asking the contacts
 * again for each row made a listing of a long folder cost one contacts
 * lookup per message (issue 15: the poll that sees an arrival is one
 * listing, under db_lock, which the receiver waits for).
 */
struct shown_memo {
	int valid;
	char folder[NAMES_NAME_BUF], sender[NAMES_ADDR_BUF], shown[NAMES_NAME_BUF];
};

static const char *
shown_memo(struct shown_memo *mm, const struct contacts *c, enum agent_box box,
    const unsigned char *folder, const unsigned char *sender)
{
	const char *f = folder ? (const char *)folder : "";
	const char *s = sender ? (const char *)sender : "";

	if (mm->valid && strcmp(mm->folder, f) == 0 && strcmp(mm->sender, s) == 0)
		return mm->shown;
	shown_folder(c, box, folder, sender, mm->shown);
	mm->valid = strlen(f) < sizeof(mm->folder) && strlen(s) < sizeof(mm->sender);
	if (mm->valid) {
		memcpy(mm->folder, f, strlen(f) + 1);
		memcpy(mm->sender, s, strlen(s) + 1);
	}
	return mm->shown;
}

/* The contacts for one operation; taken before db_lock (lock order). */
static const struct contacts *
contacts_now(struct agent *a, enum agent_box box)
{
	return box == AGENT_BOX_IN ? agent_contacts(a) : NULL;
}

/* Loads (box, folder, name); SB_ERR_NOT_FOUND if there is none.  Names are
 * unique within inbox/ as a whole (recv.c), so the name finds the row and
 * the folder only has to agree. */
static int
row_get(struct agent *a, enum agent_box box, const char *folder, const char *name,
    int with_blobs, struct row *r)
{
	const struct contacts *c;
	sqlite3_stmt *st = NULL;
	const unsigned char *t;
	char shown[NAMES_NAME_BUF];
	int rc;

	memset(r, 0, sizeof(*r));
	if (folder == NULL || name == NULL)
		return SB_ERR_NOT_FOUND;
	c = contacts_now(a, box);
	store_lock(a);
	rc = msgstore_prepare(a->db, "SELECT id, kind, msgid, sender, sender_device, sent,"
	    " received, size, mtime_sec, mtime_nsec, cfile, cfile_id, identity, payload,"
	    " folder, arrived_ns FROM inbox_messages WHERE box = ? AND name = ? ORDER BY id", &st);
	if (rc == SB_OK) {
		sqlite3_bind_int(st, 1, (int)box);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			shown_folder(c, box, sqlite3_column_text(st, 14),
			    sqlite3_column_text(st, 3), shown);
			if (strcmp(shown, folder) == 0)
				break;
		}
		if (rc == SQLITE_ROW) {
			rc = SB_OK;
			r->id = sqlite3_column_int64(st, 0);
			r->kind = sqlite3_column_int(st, 1);
			if (sqlite3_column_bytes(st, 2) == MSGSTORE_MSGID_LEN)
				memcpy(r->msgid, sqlite3_column_blob(st, 2), MSGSTORE_MSGID_LEN);
			t = sqlite3_column_text(st, 3);
			snprintf(r->sender, sizeof(r->sender), "%s", t ? (const char *)t : "");
			r->sender_device = (uint64_t)sqlite3_column_int64(st, 4);
			r->sent = (uint64_t)sqlite3_column_int64(st, 5);
			r->received = (uint64_t)sqlite3_column_int64(st, 6);
			r->size = (uint64_t)sqlite3_column_int64(st, 7);
			r->mtime_sec = (uint64_t)sqlite3_column_int64(st, 8);
			r->mtime_nsec = (uint32_t)sqlite3_column_int(st, 9);
			r->arrived_ns = sqlite3_column_int64(st, 15);
			t = sqlite3_column_text(st, 10);
			snprintf(r->cfile, sizeof(r->cfile), "%s", t ? (const char *)t : "");
			if (sqlite3_column_bytes(st, 11) == CRYPTO_ATREST_FILE_ID_LEN)
				memcpy(r->cfile_id, sqlite3_column_blob(st, 11),
				    CRYPTO_ATREST_FILE_ID_LEN);
			t = sqlite3_column_text(st, 13);
			snprintf(r->payload, sizeof(r->payload), "%s", t ? (const char *)t : "");
			if (with_blobs)
				rc = copy_blob(st, 12, &r->identity, &r->identity_len);
		} else if (rc == SQLITE_DONE) {
			rc = SB_ERR_NOT_FOUND;
		} else {
			rc = store_err(a->db, rc, "inbox row");
		}
	}
	msgstore_finalize(st);
	store_unlock(a);
	if (rc != SB_OK)
		row_clear(r);
	return rc;
}

/* ns since the epoch as a timespec; fallback (s) when ns is 0. */
static struct timespec
ns_time(int64_t ns, time_t fallback)
{
	struct timespec t = { fallback, 0 };

	if (ns > 0) {
		t.tv_sec = (time_t)(ns / 1000000000);
		t.tv_nsec = (long)(ns % 1000000000);
	}
	return t;
}

static int
ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

static void
fill_attr(enum agent_box box, const struct row *r, struct agent_attr *out)
{
	memset(out, 0, sizeof(*out));
	out->is_dir = r->kind == MESSAGE_FOLDER;
	out->size = r->size;
	if (box == AGENT_BOX_IN) {
		out->mtime.tv_sec = (time_t)r->sent;
		out->mode = 0444;
	} else {
		out->mtime.tv_sec = (time_t)r->mtime_sec;
		out->mtime.tv_nsec = (long)r->mtime_nsec;
		out->mode = 0644;
	}
	/* A folder of a received tree: 0755, so rm of what is in it passes
	 * the kernel's mode check (nothing can be created: EROFS). */
	if (out->is_dir)
		out->mode = 0755;
	out->ctime = ns_time(r->arrived_ns, (time_t)r->received);
}

/* ---- Listing -------------------------------------------------------------------- */

struct entry {
	struct entry *next;
	struct agent_attr attr;
	char name[];
};

static void
entries_free(struct entry *e)
{
	struct entry *n;

	for (; e != NULL; e = n) {
		n = e->next;
		free(e);
	}
}

static struct entry *
entry_new(const char *name)
{
	size_t n = strlen(name);
	struct entry *e = calloc(1, sizeof(*e) + n + 1);

	if (e)
		memcpy(e->name, name, n);
	return e;
}

/* Calls fill for each entry, outside db_lock (a filler may well call back
 * into the agent), then frees the list. */
static int
emit(struct entry *head, int rc, agent_fill_fn fill, void *ctx)
{
	struct entry *e;

	for (e = head; rc == SB_OK && e != NULL; e = e->next)
		if (fill(ctx, e->name, &e->attr) != 0)
			break;
	entries_free(head);
	return rc;
}

/*
 * The folders of box, each with the time of its newest message, sorted by
 * name (several senders may share one contact's folder).  *out is a list
 * the caller frees (entries_free).
 */
static int
folders(struct agent *a, enum agent_box box, struct entry **out)
{
	const struct contacts *c = contacts_now(a, box);
	sqlite3_stmt *st = NULL;
	struct entry *head = NULL, **pp, *e;
	char shown[NAMES_NAME_BUF];
	struct timespec ct;
	time_t t;
	int rc;

	*out = NULL;
	store_lock(a);
	rc = msgstore_prepare(a->db, "SELECT folder, sender, max(sent), max(arrived_ns)"
	    " FROM inbox_messages WHERE box = ? GROUP BY folder, sender", &st);
	if (rc == SB_OK) {
		sqlite3_bind_int(st, 1, (int)box);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			shown_folder(c, box, sqlite3_column_text(st, 0),
			    sqlite3_column_text(st, 1), shown);
			if (shown[0] == '\0')
				continue;
			t = (time_t)sqlite3_column_int64(st, 2);
			/* A folder's ctime is its newest arrival (else its newest
			 * send time, for rows older than arrived_ns). */
			ct = ns_time(sqlite3_column_int64(st, 3), t);
			/* Sorted insert, merging a folder seen before. */
			for (pp = &head; *pp && strcmp((*pp)->name, shown) < 0; pp = &(*pp)->next)
				;
			if (*pp && strcmp((*pp)->name, shown) == 0) {
				if (t > (*pp)->attr.mtime.tv_sec)
					(*pp)->attr.mtime.tv_sec = t;
				if (ts_after(&ct, &(*pp)->attr.ctime))
					(*pp)->attr.ctime = ct;
				continue;
			}
			if ((e = entry_new(shown)) == NULL)
				break;
			e->attr.is_dir = 1;
			/* Writable as a folder only so that rm of a message
			 * passes the kernel's mode check (default_permissions);
			 * nothing can be created in it (SB_ERR_READONLY). */
			e->attr.mode = 0755;
			e->attr.mtime.tv_sec = t;
			e->attr.ctime = ct;
			e->next = *pp;
			*pp = e;
		}
		rc = rc == SQLITE_DONE ? SB_OK
		    : rc == SQLITE_ROW ? SB_ERR_ALLOC : store_err(a->db, rc, "inbox folders");
	}
	msgstore_finalize(st);
	/* A removal moved the folder's times past its remaining messages'. */
	for (e = head; rc == SB_OK && e != NULL; e = e->next) {
		struct timespec rm = ns_time(msgstore_folder_time(a->db, (int)box, e->name), 0);

		if (ts_after(&rm, &e->attr.mtime))
			e->attr.mtime = rm;
		if (ts_after(&rm, &e->attr.ctime))
			e->attr.ctime = rm;
	}
	store_unlock(a);
	if (rc != SB_OK) {
		entries_free(head);
		return rc;
	}
	*out = head;
	return SB_OK;
}

int
inbox_list_folders(struct agent *a, enum agent_box box, agent_fill_fn fill, void *ctx)
{
	struct entry *head = NULL;
	int rc = folders(a, box, &head);

	return emit(head, rc, fill, ctx);
}

int
inbox_folder_attr(struct agent *a, enum agent_box box, const char *folder,
    struct agent_attr *out)
{
	struct entry *head = NULL, *e;
	int rc;

	memset(out, 0, sizeof(*out));
	if (folder == NULL)
		return SB_ERR_NOT_FOUND;
	rc = folders(a, box, &head);
	if (rc == SB_OK) {
		rc = SB_ERR_NOT_FOUND;
		for (e = head; e != NULL; e = e->next) {
			if (strcmp(e->name, folder) == 0) {
				*out = e->attr;
				rc = SB_OK;
				break;
			}
		}
	}
	entries_free(head);
	return rc;
}

static int remove_row(struct agent *a, enum agent_box box, const char *folder,
    const char *name);

/* A folder seen only through the paths below it: the newest of them. */
static void
merge_dir_times(struct agent_attr *d, const struct agent_attr *child)
{
	if (ts_after(&child->mtime, &d->mtime))
		d->mtime = child->mtime;
	if (ts_after(&child->ctime, &d->ctime))
		d->ctime = child->ctime;
}

int
inbox_list_files(struct agent *a, enum agent_box box, const char *folder,
    const char *dir, agent_fill_fn fill, void *ctx)
{
	const struct contacts *c;
	sqlite3_stmt *st = NULL;
	struct entry *head = NULL, **tail = &head, *e, *last = NULL;
	const unsigned char *t;
	struct shown_memo *mm = calloc(1, sizeof(*mm));
	size_t skip = dir ? strlen(dir) + 1 : 0;
	struct row r;
	int rc, any = 0;

	if (folder == NULL || mm == NULL) {
		free(mm);
		return folder == NULL ? SB_ERR_NOT_FOUND : SB_ERR_ALLOC;
	}
	c = contacts_now(a, box);
	store_lock(a);
	/* Names are paths for received trees (docs/PROTOCOL.md 11.1): the
	 * entries of FOLDER/DIR are its files and folders, and the folders
	 * seen only through deeper paths.  Sorted, a folder's paths are
	 * neighbours, so one look at the last entry merges them. */
	rc = msgstore_prepare(a->db, "SELECT name, size, sent, received, mtime_sec, mtime_nsec,"
	    " folder, sender, arrived_ns, kind FROM inbox_messages WHERE box = ?1 AND"
	    " (?2 IS NULL OR (name >= ?2 || '/' AND name < ?2 || '0')) ORDER BY name", &st);
	if (rc == SB_OK) {
		sqlite3_bind_int(st, 1, (int)box);
		if (dir != NULL)
			sqlite3_bind_text(st, 2, dir, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, 2);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *rel, *slash;
			struct agent_attr at;

			if (strcmp(shown_memo(mm, c, box, sqlite3_column_text(st, 6),
			    sqlite3_column_text(st, 7)), folder) != 0)
				continue;
			any = 1;
			t = sqlite3_column_text(st, 0);
			rel = t && strlen((const char *)t) >= skip ? (const char *)t + skip : "";
			memset(&r, 0, sizeof(r));
			r.size = (uint64_t)sqlite3_column_int64(st, 1);
			r.sent = (uint64_t)sqlite3_column_int64(st, 2);
			r.received = (uint64_t)sqlite3_column_int64(st, 3);
			r.mtime_sec = (uint64_t)sqlite3_column_int64(st, 4);
			r.mtime_nsec = (uint32_t)sqlite3_column_int(st, 5);
			r.arrived_ns = sqlite3_column_int64(st, 8);
			r.kind = sqlite3_column_int(st, 9);
			fill_attr(box, &r, &at);
			slash = strchr(rel, '/');
			if (slash != NULL) {
				/* deeper: its first folder is the entry */
				size_t n = (size_t)(slash - rel);
				if (last != NULL && last->attr.is_dir && strlen(last->name) == n &&
				    memcmp(last->name, rel, n) == 0) {
					merge_dir_times(&last->attr, &at);
					continue;
				}
				if ((e = calloc(1, sizeof(*e) + n + 1)) == NULL)
					break;
				memcpy(e->name, rel, n);
				e->attr = at;
				e->attr.is_dir = 1;
				e->attr.mode = 0755;
				e->attr.size = 0;
			} else {
				if (last != NULL && last->attr.is_dir && at.is_dir &&
				    strcmp(last->name, rel) == 0)
					continue;
				if ((e = entry_new(rel)) == NULL)
					break;
				e->attr = at;
			}
			*tail = e;
			tail = &e->next;
			last = e;
		}
		rc = rc == SQLITE_DONE ? SB_OK
		    : rc == SQLITE_ROW ? SB_ERR_ALLOC : store_err(a->db, rc, "inbox list");
	}
	msgstore_finalize(st);
	store_unlock(a);
	free(mm);
	if (rc == SB_OK && !any)
		rc = SB_ERR_NOT_FOUND;      /* no such folder */
	return emit(head, rc, fill, ctx);
}

/* A folder of a received tree known only by the paths below it. */
struct implicit {
	int any;
	struct agent_attr at;
};

static int
implicit_one(void *vctx, const char *name, const struct agent_attr *at)
{
	struct implicit *im = vctx;

	(void)name;
	if (!im->any)
		im->at = *at;
	im->any = 1;
	merge_dir_times(&im->at, at);
	return 0;
}

int
inbox_dir_remove(struct agent *a, enum agent_box box, const char *folder,
    const char *path)
{
	struct implicit im = { 0 };
	struct row r;
	int rc;

	if (inbox_list_files(a, box, folder, path, implicit_one, &im) == SB_OK && im.any)
		return SB_ERR_EXISTS;
	rc = row_get(a, box, folder, path, 0, &r);
	if (rc != SB_OK)
		return rc;
	rc = r.kind == MESSAGE_FOLDER ? SB_OK : SB_ERR_PERMISSION;
	row_clear(&r);
	if (rc != SB_OK)
		return rc;
	if (box != AGENT_BOX_IN)
		return SB_ERR_PERMISSION;   /* a synced copy is read-only */
	return remove_row(a, box, folder, path);
}

int
inbox_file_attr(struct agent *a, enum agent_box box, const char *folder,
    const char *name, struct agent_attr *out)
{
	struct implicit im = { 0 };
	struct row r;
	int rc = row_get(a, box, folder, name, 0, &r);

	memset(out, 0, sizeof(*out));
	if (rc == SB_ERR_NOT_FOUND &&
	    inbox_list_files(a, box, folder, name, implicit_one, &im) == SB_OK && im.any) {
		/* a folder of a received tree that only its contents make */
		*out = im.at;
		out->is_dir = 1;
		out->mode = 0755;
		out->size = 0;
		return SB_OK;
	}
	if (rc != SB_OK)
		return rc;
	fill_attr(box, &r, out);
	row_clear(&r);
	return SB_OK;
}

/* One message for inbox_each, strings after the struct. */
struct each_entry {
	struct each_entry *next;
	struct agent_msg m;
	char strs[];
};

static struct each_entry *
each_entry_new(const char *folder, const char *name, const char *sender)
{
	size_t fl = strlen(folder) + 1, nl = strlen(name) + 1, sl = strlen(sender) + 1;
	struct each_entry *e = calloc(1, sizeof(*e) + fl + nl + sl);

	if (e == NULL)
		return NULL;
	memcpy(e->strs, folder, fl);
	memcpy(e->strs + fl, name, nl);
	memcpy(e->strs + fl + nl, sender, sl);
	e->m.folder = e->strs;
	e->m.name = e->strs + fl;
	e->m.sender = e->strs + fl + nl;
	return e;
}

int
inbox_each(struct agent *a, const char *folder, const uint8_t *msgid, uint64_t device,
    agent_msg_fn fn, void *ctx)
{
	const struct contacts *c = contacts_now(a, AGENT_BOX_IN);
	struct each_entry *head = NULL, **tail = &head, *e, *n;
	sqlite3_stmt *st = NULL;
	const unsigned char *t, *snd;
	char shown[NAMES_NAME_BUF];
	int rc;

	store_lock(a);
	rc = store_prepare(a->db, msgid != NULL
	    ? "SELECT folder, sender, name, sender_device, msgid, sent, arrived_ns, received,"
	      " size FROM inbox_messages WHERE box = ?1 AND msgid = ?2 AND sender_device = ?3"
	      " AND kind != 3"
	    : "SELECT folder, sender, name, sender_device, msgid, sent, arrived_ns, received,"
	      " size FROM inbox_messages WHERE box = ?1 AND kind != 3 ORDER BY name", &st);
	/* (kind 3: a folder of a received tree, no message to show) */
	if (rc == SB_OK) {
		sqlite3_bind_int(st, 1, AGENT_BOX_IN);
		if (msgid != NULL) {
			sqlite3_bind_blob(st, 2, msgid, MSGSTORE_MSGID_LEN, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, (sqlite3_int64)device);
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			snd = sqlite3_column_text(st, 1);
			shown_folder(c, AGENT_BOX_IN, sqlite3_column_text(st, 0), snd, shown);
			if (shown[0] == '\0' || (folder != NULL && strcmp(shown, folder) != 0))
				continue;
			t = sqlite3_column_text(st, 2);
			e = each_entry_new(shown, t ? (const char *)t : "",
			    snd ? (const char *)snd : "");
			if (e == NULL)
				break;
			e->m.sender_device = (uint64_t)sqlite3_column_int64(st, 3);
			if (sqlite3_column_bytes(st, 4) == MSGSTORE_MSGID_LEN)
				memcpy(e->m.msgid, sqlite3_column_blob(st, 4), MSGSTORE_MSGID_LEN);
			e->m.sent = (uint64_t)sqlite3_column_int64(st, 5);
			e->m.arrived = ns_time(sqlite3_column_int64(st, 6),
			    (time_t)sqlite3_column_int64(st, 7));
			e->m.size = (uint64_t)sqlite3_column_int64(st, 8);
			*tail = e;
			tail = &e->next;
		}
		rc = rc == SQLITE_DONE ? SB_OK
		    : rc == SQLITE_ROW ? SB_ERR_ALLOC : store_err(a->db, rc, "inbox each");
	}
	sqlite3_finalize(st);
	store_unlock(a);
	if (rc == SB_OK && msgid != NULL && head == NULL)
		rc = SB_ERR_NOT_FOUND;
	/* Outside db_lock: fn may well call back into the agent. */
	for (e = head; e != NULL; e = n) {
		n = e->next;
		if (rc == SB_OK && fn(ctx, &e->m) != 0)
			rc = 1;
		free(e);
	}
	return rc == 1 ? SB_OK : rc;
}

/* ---- Open files: verify on open and on every read ------------------------------- */

struct in_file {
	struct agent_file head;
	pthread_mutex_t lock;          /* a cfile is one-thread-at-a-time */
	struct row r;
	struct crypto_identity *sender;
	struct cfile *cf;              /* attachments */
	/* The inner message's recipients (each NUL-terminated) and the
	 * sender's file name, as verified at open (agent_file_message). */
	struct sb_buf to, name;
};

/*
 * What a failed verification is called towards fs/: a length that does not
 * verify is a bad message, not a long name; a key that is not our
 * identity's is a keyring problem.
 */
static int
read_err(int rc)
{
	switch (rc) {
	case SB_ERR_LENGTH:      return SB_ERR_FORMAT;
	case SB_ERR_INVALID_ARG: return SB_ERR_KEY_CORRUPT;
	default:                 return rc;
	}
}

/*
 * Opens the stored payload again (signature, unwrap, tag) and checks that
 * it is still the message the record says (id, sender, kind, size): a row
 * whose payload was swapped for another verified one is caught too.
 * On SB_OK, *m borrows from plain.
 */
static int
reverify(struct agent *a, struct in_file *f, struct sb_buf *plain, struct message *m)
{
	uint8_t *payload = NULL;
	size_t len = 0;
	int rc = agent_keys_acquire(a);

	if (rc != SB_OK)
		return rc;
	/* From disk each time: what is verified is what is there now (the
	 * row's own copy, or the file of a row stored before schema v9). */
	if (f->r.payload[0] == '\0') {
		store_lock(a);
		rc = msgstore_payload_read(a->db, f->r.id, &payload, &len);
		store_unlock(a);
	} else {
		rc = msgstore_payload_load(a, f->r.payload, &payload, &len);
	}
	if (rc == SB_ERR_SYSTEM && errno == ENOENT)
		rc = SB_ERR_FORMAT;           /* the record's payload is gone */
	if (rc == SB_OK)
		rc = crypto_open(a->enc_key, a->identity, f->sender, payload, len, plain);
	free(payload);
	if (rc == SB_OK)
		rc = message_parse(plain->d, plain->len, m);
	if (rc != SB_OK)
		return rc;
	if (!crypto_ct_equal(m->id, f->r.msgid, MSGSTORE_MSGID_LEN) ||
	    m->sender.len != strlen(f->r.sender) ||
	    memcmp(m->sender.p, f->r.sender, m->sender.len) != 0 ||
	    (int)m->kind != f->r.kind)
		return SB_ERR_ENVELOPE;
	if ((m->kind == MESSAGE_INLINE ? (uint64_t)m->content_len : m->att.size) != f->r.size)
		return SB_ERR_LENGTH;
	return SB_OK;
}

/* What agent_file_message answers, copied from the verified message. */
static int
keep_message(struct in_file *f, const struct message *m)
{
	char name[NAMES_NAME_BUF];
	size_t i;
	int rc;

	for (i = 0; i < m->n_recipients; i++) {
		sb_put_bytes(&f->to, m->recipients[i].p, m->recipients[i].len);
		sb_put_u8(&f->to, '\0');
	}
	rc = names_sanitize_component(m->name.p, m->name.len, NAMES_NAME_MAX, name,
	    sizeof(name));
	if (rc == SB_OK)
		rc = sb_put_bytes(&f->name, name, strlen(name) + 1);
	return rc == SB_OK ? f->to.err : rc;
}

int
inbox_file_message(struct agent_file *af, struct sb_buf *to, struct sb_buf *name)
{
	struct in_file *f = (struct in_file *)af;

	sb_put_bytes(to, f->to.d, f->to.len);
	sb_put_bytes(name, f->name.d, f->name.len);
	return to->err != SB_OK ? to->err : name->err;
}

static void
in_file_free(struct in_file *f)
{
	if (f == NULL)
		return;
	if (f->cf)
		cfile_close(f->cf);
	crypto_identity_free(f->sender);
	row_clear(&f->r);
	sb_buf_free(&f->to);
	sb_buf_free(&f->name);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int
inbox_file_open(struct agent *a, enum agent_box box, const char *folder,
    const char *name, struct agent_file **out)
{
	struct in_file *f;
	struct message *m = NULL;
	struct sb_buf plain = SB_BUF_INIT;
	char path[4096];
	int rc;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return SB_ERR_ALLOC;
	pthread_mutex_init(&f->lock, NULL);
	f->head.kind = AGENT_FILE_IN;
	f->head.a = a;
	rc = row_get(a, box, folder, name, 1, &f->r);
	if (rc == SB_OK && f->r.kind == MESSAGE_FOLDER)
		rc = SB_ERR_PERMISSION;          /* fs/ says EISDIR */
	if (rc == SB_OK)
		rc = agent_keys_acquire(a);
	if (rc == SB_OK)
		rc = crypto_identity_parse(f->r.identity, f->r.identity_len, &f->sender);
	if (rc == SB_OK) {
		m = malloc(sizeof(*m));
		rc = m ? reverify(a, f, &plain, m) : SB_ERR_ALLOC;
	}
	if (rc == SB_OK)
		rc = keep_message(f, m);
	if (rc == SB_OK && f->r.kind == MESSAGE_ATTACHMENT) {
		if (f->r.cfile[0] == '\0' || strchr(f->r.cfile, '/') != NULL ||
		    (size_t)snprintf(path, sizeof(path), "%s/data/%s", a->home,
		    f->r.cfile) >= sizeof(path))
			rc = SB_ERR_FORMAT;
		if (rc == SB_OK)
			rc = cfile_open(path, a->storage_key, 0, &f->cf);
		/* The record names this very file: another verified content
		 * file moved into its place does not pass. */
		if (rc == SB_OK && !crypto_ct_equal(cfile_file_id(f->cf), f->r.cfile_id,
		    CRYPTO_ATREST_FILE_ID_LEN))
			rc = SB_ERR_FORMAT;
		if (rc == SB_OK && cfile_size(f->cf) != f->r.size)
			rc = SB_ERR_LENGTH;
	}
	if (m) {
		crypto_wipe(m, sizeof(*m));
		free(m);
	}
	sb_buf_free(&plain);
	rc = read_err(rc);
	if (rc != SB_OK) {
		if (rc != SB_ERR_NOT_FOUND)
			fprintf(stderr, "sealbox: inbox: %s/%s does not verify: %s\n",
			    folder, name, sb_strerror(rc));
		in_file_free(f);
		return rc;
	}
	*out = &f->head;
	return SB_OK;
}

static int
read_inline(struct agent *a, struct in_file *f, void *buf, size_t size,
    uint64_t off, size_t *got)
{
	struct sb_buf plain = SB_BUF_INIT;
	struct message *m = malloc(sizeof(*m));
	size_t n = 0;
	int rc;

	if (m == NULL)
		return SB_ERR_ALLOC;
	rc = reverify(a, f, &plain, m);
	if (rc == SB_OK && off < m->content_len) {
		n = m->content_len - (size_t)off;
		if (n > size)
			n = size;
		memcpy(buf, m->content + off, n);
	}
	*got = n;
	crypto_wipe(m, sizeof(*m));
	free(m);
	sb_buf_free(&plain);
	return rc;
}

static int
read_attachment(struct in_file *f, void *buf, size_t size, uint64_t off, size_t *got)
{
	size_t done = 0, n;
	int rc = SB_OK;

	while (done < size) {
		rc = cfile_pread(f->cf, (uint8_t *)buf + done, size - done, off + done, &n);
		if (rc != SB_OK || n == 0)
			break;
		done += n;
	}
	*got = rc == SB_OK ? done : 0;
	return rc;
}

int
inbox_file_read(struct agent_file *af, void *buf, size_t size, uint64_t off, size_t *got)
{
	struct in_file *f = (struct in_file *)af;
	int rc;

	*got = 0;
	if (af == NULL || af->kind != AGENT_FILE_IN)
		return SB_ERR_INVALID_ARG;
	pthread_mutex_lock(&f->lock);
	if (f->r.kind == MESSAGE_INLINE)
		rc = read_inline(af->a, f, buf, size, off, got);
	else
		rc = read_attachment(f, buf, size, off, got);
	pthread_mutex_unlock(&f->lock);
	rc = read_err(rc);
	if (rc != SB_OK)
		fprintf(stderr, "sealbox: inbox: read of message %016" PRIx64
		    " failed: %s\n", (uint64_t)f->r.id, sb_strerror(rc));
	return rc;
}

int
inbox_file_release(struct agent_file *af)
{
	if (af == NULL)
		return SB_OK;
	in_file_free((struct in_file *)af);
	return SB_OK;
}

/* ---- Extended attributes ----------------------------------------------------------- */

#define XATTR_SENDER "user.sealbox.sender"
#define XATTR_DEVICE "user.sealbox.device"
#define XATTR_ID     "user.sealbox.id"

int
inbox_xattr_get(struct agent *a, enum agent_box box, const char *folder,
    const char *name, const char *attr, struct sb_buf *out)
{
	struct row r;
	char dev[17];
	int rc = row_get(a, box, folder, name, 0, &r);

	if (rc != SB_OK)
		return rc;
	if (strcmp(attr, XATTR_SENDER) == 0) {
		sb_put_bytes(out, r.sender, strlen(r.sender));
	} else if (strcmp(attr, XATTR_DEVICE) == 0) {
		snprintf(dev, sizeof(dev), "%016" PRIx64, r.sender_device);
		sb_put_bytes(out, dev, strlen(dev));
	} else if (strcmp(attr, XATTR_ID) == 0) {
		sb_put_hex(out, r.msgid, MSGSTORE_MSGID_LEN);
	} else if (box == AGENT_BOX_OUT && strcmp(attr, AGENT_XATTR_STATUS) == 0) {
		/* Another of our devices sent it; its delivery is that device's
		 * to follow. */
		sb_put_bytes(out, "sent", 4);
	} else {
		rc = SB_ERR_NOT_FOUND;
	}
	row_clear(&r);
	return rc == SB_OK ? out->err : rc;
}

int
inbox_xattr_list(struct agent *a, enum agent_box box, const char *folder,
    const char *name, struct sb_buf *out)
{
	struct row r;
	int rc = row_get(a, box, folder, name, 0, &r);

	if (rc != SB_OK)
		return rc;
	row_clear(&r);
	if (box == AGENT_BOX_OUT)
		sb_put_bytes(out, AGENT_XATTR_STATUS, sizeof(AGENT_XATTR_STATUS));
	sb_put_bytes(out, XATTR_SENDER, sizeof(XATTR_SENDER));
	sb_put_bytes(out, XATTR_DEVICE, sizeof(XATTR_DEVICE));
	sb_put_bytes(out, XATTR_ID, sizeof(XATTR_ID));
	return out->err;
}

/* inbox/ is read-only; a synced copy in outbox/ may be deleted locally. */
/*
 * A received message may be removed (issue 13: the inbox can be cleaned):
 * its record and its files go; its entry in the replay cache (inbox_seen)
 * stays, so the relay cannot bring it back.  A content file another
 * message shares stays for that one.  The folder it was in moves its times.
 */
static int
remove_row(struct agent *a, enum agent_box box, const char *folder, const char *name)
{
	struct row r;
	sqlite3_stmt *st = NULL;
	int rc;

	rc = row_get(a, box, folder, name, 0, &r);
	if (rc != SB_OK)
		return rc;
	store_lock(a);
	rc = store_begin(a->db);
	if (rc == SB_OK)
		rc = store_prepare(a->db, "DELETE FROM inbox_messages WHERE id = ?", &st);
	if (rc == SB_OK) {
		struct timespec now;

		sqlite3_bind_int64(st, 1, r.id);
		rc = store_step_done(a->db, st);
		clock_gettime(CLOCK_REALTIME, &now);
		if (rc == SB_OK)
			rc = msgstore_folder_touch(a->db, (int)box, folder,
			    (int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
	}
	sqlite3_finalize(st);
	rc = store_end(a->db, rc);
	store_unlock(a);
	if (rc == SB_OK) {
		msgstore_ref_release(a, r.payload);
		msgstore_ref_release(a, r.cfile);
		if (box == AGENT_BOX_IN)
			fprintf(stderr, "sealbox: removed inbox/%s/%s\n", folder, name);
	}
	row_clear(&r);
	return rc;
}

int
inbox_unlink(struct agent *a, enum agent_box box, const char *folder,
    const char *name)
{
	struct row r;
	int rc = row_get(a, box, folder, name, 0, &r);

	if (rc == SB_OK && r.kind == MESSAGE_FOLDER)
		rc = SB_ERR_PERMISSION;          /* rmdir; fs/ says EISDIR */
	row_clear(&r);
	return rc == SB_OK ? remove_row(a, box, folder, name) : rc;
}
