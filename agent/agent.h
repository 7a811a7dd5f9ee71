/*
 * agent.h - the device agent: the mailbox's logic behind fs/ (DESIGN.md
 * sections 3 and 6, docs/ARCHITECTURE.md "The mailbox").
 *
 * fs/ splits a path into (box, folder, name) and calls one function here;
 * everything else (naming, drafts and sending, the encrypted spool and
 * store, the relay connection, verification on read) happens behind this
 * header.  The agent never calls FUSE; fs/ never does cryptography or
 * networking.
 *
 * Namespace (DESIGN.md 3):
 *   outbox/FOLDER/NAME   FOLDER is an address, a contact's name or a
 *                        comma-separated group (agent/names.h); NAME a file
 *                        this device sent, one synced from our other devices,
 *                        or a draft being written.
 *   inbox/FOLDER/NAME    FOLDER the sender's contact name or address; NAME
 *                        YYYYMMDDTHHMMSSZ-<id>-<sanitised name>.  Read-only.
 *
 * Sending rules:
 *   - A file created (or opened for writing) in an outbox folder is a draft
 *     for that write session.  agent_file_flush() spools what was written
 *     (encrypted; safe from a crash of the process) before close()
 *     returns, agent_file_fsync() makes it durable on disk; the last
 *     agent_file_release() of the session queues it for sending, exactly
 *     once.
 *   - A temporary name (starts with '.' or '#', ends with '~', ".swp",
 *     ".swx", ".tmp", ".part") is never sent; renaming a finished temporary
 *     file to a visible name sends it then, once (rsync, editors).  Renaming
 *     onto an existing name replaces that entry (and sends the new content).
 *   - A sent file reads back as what was sent; opening it for writing starts
 *     a new write session whose release sends the new version.
 *
 * Threads: every function is safe to call from any FUSE worker thread.
 * An agent_file is used by one open file handle; fs/ serialises nothing.
 *
 * Errors: SB_OK or a negative SB_ERR_* that fs/ maps to errno
 * (fs/errno.c): SB_ERR_NOT_FOUND -> ENOENT, SB_ERR_EXISTS -> EEXIST,
 * SB_ERR_READONLY -> EROFS, SB_ERR_UNKNOWN_RECIPIENT -> ENXIO,
 * SB_ERR_KEY_MISSING/KEYRING_LOCKED/NO_KEYRING/KEY_CORRUPT -> ENOKEY,
 * SB_ERR_SIGNATURE/TAG/UNWRAP/HASH/FORMAT/... (verification) -> EBADMSG,
 * SB_ERR_TOO_BIG -> EFBIG, SB_ERR_PERMISSION -> EPERM,
 * SB_ERR_INVALID_ARG -> EINVAL, SB_ERR_LENGTH -> ENAMETOOLONG,
 * SB_ERR_SYSTEM -> errno (ENOSPC stays ENOSPC).
 */
#ifndef SB_AGENT_H
#define SB_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/wire.h"

enum agent_box {
	AGENT_BOX_OUT = 1,
	AGENT_BOX_IN  = 2,
};

/* What stat(2) shows.  fs/ adds uid/gid (the mounting user), nlink, ino. */
struct agent_attr {
	int is_dir;
	uint64_t size;            /* plaintext size: real sizes in ls -l */
	struct timespec mtime;    /* outbox: last write (or utimens); inbox: sent time */
	struct timespec ctime;
	struct timespec atime;    /* what utimensat set; {0, 0}: the mtime (reads
	                             never change it, as with noatime) */
	unsigned mode;            /* permission bits only: 0755/0555 dirs,
	                             0644 outbox files, 0444 inbox files */
};

/* readdir callback: return non-zero to stop (buffer full). */
typedef int (*agent_fill_fn)(void *ctx, const char *name, const struct agent_attr *attr);

struct agent;
struct agent_file;

/*
 * Opens the home (config, contacts.vcf, store.db under `home`), loads the
 * device keys from the keyring and starts the relay connection and the
 * sender/receiver threads.  A keyring failure does not fail the mount: the
 * agent then lists what it has, answers reads with ENOKEY and sends
 * nothing, and retries the keyring on each open until it answers.
 * SB_ERR_CONFIG if the home is not initialised ('sealbox init').
 */
int  agent_open(const char *home, struct agent **out);
/* Stops the threads after finishing in-flight durable work, closes the
 * store, wipes keys.  NULL accepted. */
void agent_close(struct agent *a);

/* The file system the home is on (statvfs of HOME): what `df` of the
 * mount shows, since everything the mount stores lands there.  SB_OK or
 * SB_ERR_SYSTEM. */
struct statvfs;
int  agent_statfs(struct agent *a, struct statvfs *out);

/* ---- Folders ------------------------------------------------------------ */

int  agent_box_attr(struct agent *a, enum agent_box box, struct agent_attr *out);
int  agent_list_folders(struct agent *a, enum agent_box box, agent_fill_fn fill, void *ctx);
int  agent_folder_attr(struct agent *a, enum agent_box box, const char *folder,
         struct agent_attr *out);
/* outbox only: resolves FOLDER (names_resolve) and checks every address
 * against the directory; SB_ERR_UNKNOWN_RECIPIENT if one has no device.
 * inbox: SB_ERR_READONLY. */
int  agent_folder_create(struct agent *a, enum agent_box box, const char *folder);
/* Empty outbox folders only (SB_ERR_EXISTS if not empty -> ENOTEMPTY is
 * chosen by fs/); inbox: SB_ERR_READONLY. */
int  agent_folder_remove(struct agent *a, enum agent_box box, const char *folder);

/*
 * Folders inside a conversation (issue 13, point 8; docs/PROTOCOL.md
 * 11.1).  From here on a NAME may be a path below FOLDER, "a/b/c.txt":
 * components of 1..NAME_MAX bytes joined by '/', at most AGENT_PATH_MAX
 * bytes and AGENT_PATH_DEPTH components in all (fs/ refuses longer ones
 * with ENAMETOOLONG).  agent_file_attr answers is_dir for such folders.
 *   dir_create: outbox only; PATH's parent must exist; the folder is sent
 *     (a folder message, so an empty folder arrives too); SB_ERR_EXISTS.
 *   dir_remove: an empty folder (SB_ERR_EXISTS if not), locally only;
 *     inbox/: a received tree's folder; SB_ERR_PERMISSION for a file.
 *   list_dir: the entries of FOLDER/DIR (DIR NULL: of FOLDER itself).
 * Files and folders of a path are refused by the calls of the other kind
 * with SB_ERR_PERMISSION (fs/ says EISDIR or ENOTDIR, after a look).
 */
#define AGENT_PATH_MAX   1024
#define AGENT_PATH_DEPTH 32
int  agent_dir_create(struct agent *a, enum agent_box box, const char *folder,
         const char *path);
int  agent_dir_remove(struct agent *a, enum agent_box box, const char *folder,
         const char *path);
int  agent_list_dir(struct agent *a, enum agent_box box, const char *folder,
         const char *dir, agent_fill_fn fill, void *ctx);

/* ---- Files ---------------------------------------------------------------- */

int  agent_list_files(struct agent *a, enum agent_box box, const char *folder,
         agent_fill_fn fill, void *ctx);
int  agent_file_attr(struct agent *a, enum agent_box box, const char *folder,
         const char *name, struct agent_attr *out);

#define AGENT_OPEN_READ   0x1
#define AGENT_OPEN_WRITE  0x2
#define AGENT_OPEN_TRUNC  0x4
#define AGENT_OPEN_CREATE 0x8   /* create if missing (O_CREAT) */
#define AGENT_OPEN_EXCL   0x10  /* with CREATE: fail SB_ERR_EXISTS if present */

/*
 * Opens (and with AGENT_OPEN_CREATE creates) a file.  WRITE/TRUNC/CREATE in
 * inbox: SB_ERR_READONLY.  Opening for read loads/verifies what is needed to
 * answer reads (an inbox message's signature and tag are checked here and
 * again on every read); keyring failures surface here as SB_ERR_KEY_*.
 */
int  agent_file_open(struct agent *a, enum agent_box box, const char *folder,
         const char *name, int flags, struct agent_file **out);
/* Reads up to size bytes at off (short only at end of file).  Decrypts and
 * verifies on every call; for attachments only the chunks touched. */
int  agent_file_read(struct agent_file *f, void *buf, size_t size, uint64_t off,
         size_t *got);
/* Writes at off, encrypting into the spool as it goes (flat memory). */
int  agent_file_write(struct agent_file *f, const void *buf, size_t size, uint64_t off);
int  agent_file_truncate(struct agent_file *f, uint64_t size);
/* Spools everything written so far: it survives a crash (kill -9) of the
 * agent, and power loss once the spool's next round of syncs has run
 * (docs/ARCHITECTURE.md "Durability of the outbox"); idempotent (flush may
 * run twice).  Errors here are what close(2) returns. */
int  agent_file_flush(struct agent_file *f);
/* fsync(2): everything written so far is on disk when it returns SB_OK. */
int  agent_file_fsync(struct agent_file *f);
/* fsync(2) of a folder: every change made in the outbox so far (files
 * closed, renamed, removed; folders) is on disk when it returns SB_OK. */
int  agent_sync(struct agent *a);
/* The handle's last close: a finished write session is queued for sending
 * (once).  Frees f (NULL accepted). */
int  agent_file_release(struct agent_file *f);

/* truncate(2) by path: outbox drafts only; sent files SB_ERR_PERMISSION. */
int  agent_truncate(struct agent *a, enum agent_box box, const char *folder,
         const char *name, uint64_t size);
/* utimensat: outbox files keep the given atime and mtime (rsync -a,
 * tar -x, touch -a); NULL leaves that one as it is (UTIME_OMIT; fs/ turns
 * UTIME_NOW into the time).  A synced copy keeps its sender's times (the
 * call succeeds); inbox: SB_ERR_READONLY. */
int  agent_set_times(struct agent *a, enum agent_box box, const char *folder,
         const char *name, const struct timespec *atime, const struct timespec *mtime);
int  agent_unlink(struct agent *a, enum agent_box box, const char *folder,
         const char *name);
/* Within the outbox only (inbox: SB_ERR_READONLY; across boxes or across
 * folders for a file already sent: SB_ERR_PERMISSION). */
int  agent_rename(struct agent *a, enum agent_box box, const char *from_folder,
         const char *from_name, const char *to_folder, const char *to_name);

/* ---- Extended attributes ------------------------------------------------- */

#define AGENT_XATTR_STATUS "user.sealbox.status"

/*
 * Appends the value of xattr `attr` of the file to out (no NUL).  Outbox:
 * user.sealbox.status = "queued" | "sent" | "delivered N/M" |
 * "failed: REASON" | "draft" (a temporary name, or still open for writing).
 * Inbox: user.sealbox.sender (address), user.sealbox.device (hex device id),
 * user.sealbox.id (message id, hex).  SB_ERR_NOT_FOUND for an unknown attr
 * (fs/ answers ENODATA).
 */
int  agent_xattr_get(struct agent *a, enum agent_box box, const char *folder,
         const char *name, const char *attr, struct sb_buf *out);
/* Appends the NUL-separated names of the file's xattrs to out. */
int  agent_xattr_list(struct agent *a, enum agent_box box, const char *folder,
         const char *name, struct sb_buf *out);

/* ---- Trust (issue 14) ---------------------------------------------------- */

#define AGENT_XATTR_TRUST  "user.sealbox.trust"
#define AGENT_ALERTS_NAME  "alerts"

/*
 * user.sealbox.trust of an inbox/ or outbox/ folder (appended to out, no
 * NUL): "unverified", "verified" (every address of the conversation has
 * a verified key set: sealbox verify --confirm) or "changed: ALERT" (an
 * alert of one of its addresses is open: the newest, without its time;
 * " (+N more)" when there are others).  SB_ERR_NOT_FOUND for another attr
 * or a folder that does not exist.
 */
int  agent_folder_xattr_get(struct agent *a, enum agent_box box, const char *folder,
         const char *attr, struct sb_buf *out);
int  agent_folder_xattr_list(struct agent *a, enum agent_box box, const char *folder,
         struct sb_buf *out);

/*
 * MNT/alerts: every alert this device recorded, one line each, oldest
 * first (agent/trust.h, trust_alert_line).  Read-only: its attr (mode
 * 0400, size of the text now, mtime the newest alert's time) and an open
 * that takes a snapshot, read with agent_file_read and freed by
 * agent_file_release; writes are SB_ERR_READONLY.
 */
int  agent_alerts_attr(struct agent *a, struct agent_attr *out);
int  agent_alerts_open(struct agent *a, struct agent_file **out);

/* ---- Received messages, for other views (mail/) ---------------------------- */

/*
 * One received message in inbox/.  Strings borrowed for the callback's
 * duration.  `name` is its name in `folder`; a view must not assume it is
 * one path component (messages may come to sit in subfolders of a
 * sender's folder).
 */
struct agent_msg {
	const char *folder;         /* inbox/FOLDER, as shown now */
	const char *name;
	const char *sender;         /* the sender's address */
	uint64_t sender_device;
	uint8_t msgid[16];
	uint64_t sent;              /* the sender's time, s */
	struct timespec arrived;    /* stored here (ctime) */
	uint64_t size;              /* plaintext bytes */
};
/* Return non-zero to stop. */
typedef int (*agent_msg_fn)(void *ctx, const struct agent_msg *m);

/*
 * The ONE list of received messages the other views are built from: every
 * message of inbox/ (folder NULL) or of one inbox folder, in name order;
 * fn is called outside every agent lock.  SB_OK or the
 * store's error.
 */
int  agent_inbox_each(struct agent *a, const char *folder, agent_msg_fn fn, void *ctx);
/* The message sent by device `device` with id `msgid` (unique together:
 * the replay cache keeps them so), through fn; SB_ERR_NOT_FOUND if none. */
int  agent_inbox_find(struct agent *a, const uint8_t msgid[16], uint64_t device,
         agent_msg_fn fn, void *ctx);
/*
 * What the inner message of an open inbox file says beyond its record, as
 * verified at open: its recipients (canonical addresses, each
 * NUL-terminated, in order) appended to `to`, and the sender's file name
 * as sanitised for a name (NUL-terminated) to `name`.  SB_ERR_INVALID_ARG
 * for a file that is not a received message.
 */
int  agent_file_message(struct agent_file *f, struct sb_buf *to, struct sb_buf *name);

/* ---- Arrivals ------------------------------------------------------------- */

/* A message was stored (durably) and is listed from now on. */
struct agent_arrival {
	enum agent_box box;         /* AGENT_BOX_IN, or _OUT: a synced copy */
	const char *folder;
	const char *name;
	int new_folder;             /* the folder had nothing else in it (inbox/:
	                             * set by the receiver; outbox/: by
	                             * agent_arrived, as listed) */
	const char *sender;
	uint64_t sender_device;
	const uint8_t *msgid;       /* 16 bytes */
	uint64_t size;
	uint64_t sent;
	struct timespec arrived;
};
/* Runs on the receiving thread with no agent lock held: it must not block
 * (queue the event and return), and must not call agent_subscribe. */
typedef void (*agent_arrival_fn)(void *ctx, const struct agent_arrival *ev);

#define AGENT_SUBSCRIBERS_MAX 4
/*
 * Calls fn(ctx, ev) for every arrival from now on, after the subscribers
 * before it.  SB_ERR_TOO_BIG past AGENT_SUBSCRIBERS_MAX.  Unsubscribe
 * returns once no call of fn is running; call it before ctx goes.
 */
int  agent_subscribe(struct agent *a, agent_arrival_fn fn, void *ctx);
void agent_unsubscribe(struct agent *a, agent_arrival_fn fn, void *ctx);
/*
 * Every subscriber is in place.  Until this is called the receiver holds
 * the first arrival (stored, not yet acknowledged) and waits, so the
 * subscribers made right after agent_open miss nothing that arrives while
 * the mount starts (mail queued while the device was off).  agent_close
 * releases it too.
 */
void agent_subscribed(struct agent *a);

#endif
