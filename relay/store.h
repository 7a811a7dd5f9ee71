/*
 * store.h - the relay's durable state behind one function-pointer table
 * (DESIGN.md section 5: "the storage sits behind one interface so a shared
 * database can take its place").  The embedded backend is SQLite
 * (store_sqlite.c); a networked one implements the same ops.
 *
 * Two backends: SQLite (store_sqlite.c, one node, the default) and
 * PostgreSQL (store_pg.c, any number of nodes sharing one database).
 *
 * The store keeps metadata and opaque payload bytes only: it never sees a
 * plaintext, never interprets a payload.  Blob contents live in the blob
 * folder on one node (relay/blob.c) and in the store itself in a cluster
 * (the blob_* content ops below, NULL in SQLite).  Every call that changes
 * state is one transaction, durable when it returns SB_OK - except inside
 * a group (group_begin below), where it is durable when the group commits.
 *
 * EVERY BACKEND IMPLEMENTS EVERY OP: whoever adds an op to this table adds
 * it to store_sqlite.c AND store_pg.c (with a case in
 * tests/unit/test_relay_store.c, which runs against both), or marks it
 * optional (NULL allowed) here and makes its callers check.
 *
 * Times are seconds since the epoch, passed in by the caller (the relay's
 * clock, injectable in tests); the store never reads the clock itself.
 */
#ifndef SB_RELAY_STORE_H
#define SB_RELAY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/proto.h"

#define RELAY_CODE_HASH_LEN 32

struct relay_device {
	uint64_t id;
	char address[SB_MAX_ADDRESS + 1];
	char name[SB_MAX_DEVICE_NAME + 1];
	uint8_t suite;
	uint8_t identity[SB_MAX_IDENTITY];
	size_t identity_len;
	uint64_t created;
	uint64_t last_seen;           /* last authentication or disconnection; 0 never */
};

/* One queued message for one device.  payload is owned: relay_item_clear. */
struct relay_item {
	uint64_t id;
	uint64_t device_id;
	uint8_t msgid[PROTO_MSGID_LEN];
	char sender[SB_MAX_ADDRESS + 1];
	uint64_t sender_device;
	uint64_t timestamp;
	uint8_t *payload;
	size_t payload_len;
};

/* One entry of a send batch; payload borrowed from the caller. */
struct relay_batch_entry {
	uint64_t device_id;
	const uint8_t *payload;
	size_t payload_len;
};

/*
 * Who signed a directory change (docs/PROTOCOL.md 14.4): a device of the
 * account, by its signing key.  NULL (or signer 0) where the relay or its
 * operator made the change on its own word.  Borrowed.
 */
struct relay_log_signer {
	uint64_t signer;
	const uint8_t *sig;
	size_t sig_len;
};

/* One transparency log entry (PROTOCOL 14.3) and its leaf index. */
#define RELAY_LOG_ENTRY_MAX 1169     /* = TLOG_MAX_ENTRY, checked in store_sqlite.c */
struct relay_log_entry {
	uint64_t index;
	uint8_t entry[RELAY_LOG_ENTRY_MAX];
	size_t len;
};

/* A device waiting for an existing device's approval (LINK_OFFER). */
struct relay_link_offer {
	uint8_t suite;
	uint8_t identity[SB_MAX_IDENTITY];
	size_t identity_len;
	char name[SB_MAX_DEVICE_NAME + 1];
	uint64_t created;
};

/* An address's log entries are capped (PROTOCOL 14.7: one answer carries
 * them all); an add is refused at this many, so that removing every device
 * the account may have still fits. */
#define RELAY_LOG_ADDR_ADDS_MAX (SB_MAX_LOG_ENTRIES - SB_MAX_DEVICES_PER_ADDR)

struct relay_store;

struct relay_store_totals {
	uint64_t devices;
	uint64_t queued_items;
	uint64_t blobs, blob_bytes;
};

struct relay_store_ops {
	void (*close)(struct relay_store *s);

	/* Records a one-time enrollment code (by its SHA-256) for address. */
	int (*invite_add)(struct relay_store *s, const char *address,
	    const uint8_t code_hash[RELAY_CODE_HASH_LEN], uint64_t now);
	/*
	 * Atomically consumes the code (it must be unused, for this address,
	 * and created at or after not_before), adds the device and appends its
	 * add entry (signer 0: an invitation is the operator's word) to the
	 * transparency log.  Returns SB_ERR_ENROLL_CODE for a wrong, used or
	 * expired code, SB_ERR_TOO_BIG when the address already has
	 * SB_MAX_DEVICES_PER_ADDR devices or RELAY_LOG_ADDR_ADDS_MAX entries.
	 */
	int (*enroll)(struct relay_store *s, const char *address,
	    const uint8_t code_hash[RELAY_CODE_HASH_LEN], uint64_t not_before,
	    const char *name, uint8_t suite, const uint8_t *identity,
	    size_t identity_len, uint64_t now, uint64_t *device_id);
	/* SB_ERR_NOT_FOUND if no such device. */
	int (*device_get)(struct relay_store *s, uint64_t id, struct relay_device *out);
	/* All devices of address, ordered by id; *out is malloc'd (free()),
	 * NULL with *n = 0 when there are none. */
	int (*devices_of)(struct relay_store *s, const char *address,
	    struct relay_device **out, size_t *n);
	/* Removes the device and its queue (status rows become "removed") and
	 * appends its remove entry, signed by `by` (NULL: the relay's own
	 * word), at now.  The one way a device leaves the directory: the
	 * protocol's REMOVE / REMOVE_SIGNED and the operator's remove-device /
	 * remove-address all call it. */
	int (*device_remove)(struct relay_store *s, uint64_t id,
	    const struct relay_log_signer *by, uint64_t now);
	/* Records that device id was seen (authenticated, or its connection
	 * closed) at now; an unknown id is not an error. */
	int (*device_seen)(struct relay_store *s, uint64_t id, uint64_t now);
	/* Deletes the unused invites of address; *n how many. */
	int (*invite_void)(struct relay_store *s, const char *address, uint64_t *n);

	/*
	 * Device linking (PROTOCOL 14.7).  link_offer_put stores, or refreshes
	 * the time of, a device waiting for approval; offers created before
	 * not_before are gone (deleted here); SB_ERR_TOO_BIG when
	 * SB_MAX_LINK_OFFERS others wait.  link_offers_of lists the live ones,
	 * oldest first (*out malloc'd, NULL when none).  link_approve
	 * consumes the offer of exactly this identity (SB_ERR_NOT_FOUND),
	 * adds the device (SB_ERR_TOO_BIG as enroll) and appends its add
	 * entry signed by `by`, in one transaction.
	 */
	int (*link_offer_put)(struct relay_store *s, const char *address, uint8_t suite,
	    const uint8_t *identity, size_t identity_len, const char *name,
	    uint64_t now, uint64_t not_before);
	int (*link_offers_of)(struct relay_store *s, const char *address,
	    uint64_t not_before, struct relay_link_offer **out, size_t *n);
	int (*link_approve)(struct relay_store *s, const char *address,
	    const uint8_t *identity, size_t identity_len, uint64_t not_before,
	    const struct relay_log_signer *by, uint64_t now, uint64_t *device_id);

	/*
	 * The transparency log (PROTOCOL 14), appended to only by the
	 * directory changes above, in their transactions.  log_size: the
	 * number of entries.  log_leaves: the leaf hashes of entries
	 * [from, from + n) into out (SB_ERR_NOT_FOUND past the end).
	 * log_entries_of: every entry of the address hash addr, by seq (*out
	 * malloc'd, NULL when none; at most SB_MAX_LOG_ENTRIES).
	 */
	int (*log_size)(struct relay_store *s, uint64_t *n);
	int (*log_leaves)(struct relay_store *s, uint64_t from, uint64_t n,
	    uint8_t (*out)[32]);
	int (*log_entries_of)(struct relay_store *s, const uint8_t addr[32],
	    struct relay_log_entry **out, size_t *n);

	/*
	 * Queues one payload per entry, all or nothing, in one transaction.
	 * SB_ERR_EXISTS if this sender device already used msgid.
	 */
	int (*batch_commit)(struct relay_store *s, const uint8_t msgid[PROTO_MSGID_LEN],
	    const char *sender, uint64_t sender_device, uint64_t now,
	    const struct relay_batch_entry *e, size_t n);
	/* The oldest item of device with id > after and timestamp >= not_before;
	 * SB_ERR_NOT_FOUND when there is none. */
	int (*queue_next)(struct relay_store *s, uint64_t device_id, uint64_t after,
	    uint64_t not_before, struct relay_item *out);
	/* Deletes item if it belongs to device_id (else SB_ERR_NOT_FOUND) and
	 * marks its status delivered. */
	int (*queue_ack)(struct relay_store *s, uint64_t device_id, uint64_t item_id);
	/* Per-device states of (sender_device, msgid); *out malloc'd. */
	int (*status)(struct relay_store *s, uint64_t sender_device,
	    const uint8_t msgid[PROTO_MSGID_LEN], struct proto_status_entry **out,
	    size_t *n);
	/* Deletes queue items older than item_cutoff (status -> expired), status
	 * rows older than status_cutoff, invites older than item_cutoff. */
	int (*expire)(struct relay_store *s, uint64_t item_cutoff,
	    uint64_t status_cutoff, uint64_t *n_expired);

	int (*blob_add)(struct relay_store *s, const char *uri, uint64_t size,
	    uint64_t owner_device, uint64_t now);
	/* SB_ERR_NOT_FOUND if unknown or created before not_before. */
	int (*blob_get)(struct relay_store *s, const char *uri, uint64_t not_before,
	    uint64_t *size);
	/* Deletes the record of uri if owner_device uploaded it (its quota
	 * charge is refunded); SB_ERR_NOT_FOUND for any other uri.  The
	 * caller unlinks the file after SB_OK. */
	int (*blob_delete)(struct relay_store *s, const char *uri, uint64_t owner_device);
	/* Deletes records created before cutoff, calling gone(arg, uri) first
	 * for each (so the caller unlinks the file). */
	int (*blob_expire)(struct relay_store *s, uint64_t cutoff,
	    void (*gone)(void *arg, const char *uri), void *arg);
	/* Deletes the records of every blob owner uploaded, calling gone(arg,
	 * uri) first for each; *n and *bytes: how many, how large. */
	int (*blob_drop_owner)(struct relay_store *s, uint64_t owner,
	    void (*gone)(void *arg, const char *uri), void *arg, uint64_t *n,
	    uint64_t *bytes);
	/*
	 * What the account `address` is charged for (quotas): items its
	 * devices sent that are still queued and their payload bytes, and the
	 * bytes of unexpired blobs its current devices uploaded.
	 */
	int (*usage)(struct relay_store *s, const char *address, uint64_t *items,
	    uint64_t *bytes, uint64_t *blob_bytes);
	/* Counts (quotas, tests, logs): queued items of a device (0 = all devices). */
	int (*queue_count)(struct relay_store *s, uint64_t device_id, uint64_t *n);
	/* Whole-relay figures for the metrics endpoint. */
	int (*totals)(struct relay_store *s, struct relay_store_totals *out);
	/* Calls blob(arg, uri, size) for every blob record, in URI order; a
	 * non-zero return from blob stops and is returned. */
	int (*blob_each)(struct relay_store *s,
	    int (*blob)(void *arg, const char *uri, uint64_t size), void *arg);
	/*
	 * OPTIONAL (NULL: the backend has its own tools, e.g. pg_dump): writes
	 * a consistent copy of the store to path (in a folder just made, so
	 * nothing is there) while others keep writing.
	 */
	int (*backup)(struct relay_store *s, const char *path);

	/* ---- Optional (NULL in a single-node store) ------------------------ */

	/*
	 * The retention sweep runs on one node at a time and once per
	 * interval for the whole cluster: SB_OK when this node should sweep
	 * now (and the cluster's clock of the last sweep says now), SB_ERR_EXISTS
	 * when another node swept less than interval seconds ago or is
	 * sweeping.  NULL: always sweep.
	 */
	int (*sweep_claim)(struct relay_store *s, uint64_t now, uint64_t interval);

	/*
	 * Blob contents in the store, streamed in chunks (never a whole blob
	 * in memory): blob_begin opens an upload of size bytes (*upload is
	 * its handle), blob_write appends chunk number index (0, 1, ...),
	 * blob_finish publishes it under uri - only then is it durable and
	 * visible, charged to owner - and blob_drop forgets an unfinished one.
	 * blob_open finds a published blob (SB_ERR_NOT_FOUND if unknown or
	 * created before not_before) and blob_read reads its chunk number
	 * index into buf (cap >= SB_MAX_BLOB_CHUNK); SB_ERR_NOT_FOUND past
	 * the last chunk or once the blob has expired.  blob_expire deletes
	 * the contents with the records.  All NULL: blobs live in files.
	 */
	int (*blob_begin)(struct relay_store *s, uint64_t owner, uint64_t size,
	    uint64_t now, uint64_t *upload);
	int (*blob_write)(struct relay_store *s, uint64_t upload, uint64_t index,
	    const uint8_t *p, size_t n);
	int (*blob_finish)(struct relay_store *s, uint64_t upload, const char *uri,
	    uint64_t size, uint64_t owner, uint64_t now);
	void (*blob_drop)(struct relay_store *s, uint64_t upload);
	int (*blob_open)(struct relay_store *s, const char *uri, uint64_t not_before,
	    uint64_t *size, uint64_t *handle);
	int (*blob_read)(struct relay_store *s, uint64_t handle, uint64_t index,
	    uint8_t *buf, size_t cap, size_t *n);

	/*
	 * News between the nodes of a cluster (PostgreSQL LISTEN/NOTIFY):
	 * batch_commit announces the recipients of what it queued, in the
	 * same transaction; announce tells the other nodes that a device
	 * authenticated here (RELAY_EV_CONNECTED, at = now in ms) or was
	 * removed (RELAY_EV_REMOVED).  events_fd opens the listening side
	 * (once; again after events_read failed) and returns the descriptor
	 * to watch for reading; events_read drains what arrived, calling
	 * cb once per device, never for this node's own news.  An
	 * events_read failure means news may have been lost: the caller
	 * reopens and re-checks every queue it serves.  All NULL: one node.
	 */
	int (*announce)(struct relay_store *s, int kind, uint64_t device, uint64_t at);
	int (*events_fd)(struct relay_store *s, int *fd);
	int (*events_read)(struct relay_store *s,
	    void (*cb)(void *arg, int kind, uint64_t device, uint64_t at), void *arg);

	/*
	 * Group commit (docs/RELAY.md "Group commit").  group_begin opens one
	 * transaction; until group_end every op that changes state joins it
	 * instead of committing on its own, each in a savepoint of its own
	 * (a failed op - SB_ERR_EXISTS, NOT_FOUND - rolls back alone and
	 * returns its error as usual; the others stay).  Nothing of the
	 * group is durable, and the caller answers nothing of it, before
	 * group_end(s, 1) returns SB_OK: ONE commit, one fsync, for all of
	 * them.  On a failed commit (or group_end(s, 0)) nothing of the
	 * group is kept, and group_end returns why (SB_ERR_NO_SPACE for a
	 * full disk, else SB_ERR_STORAGE).  Reads inside a group see its
	 * uncommitted writes (quotas count them).  Groups do not nest; a
	 * group lasts one turn of the caller's event loop.
	 */
	int (*group_begin)(struct relay_store *s);
	int (*group_end)(struct relay_store *s, int commit);
};

enum { RELAY_EV_QUEUED = 1, RELAY_EV_CONNECTED, RELAY_EV_REMOVED };

/*
 * Every backend implements every op above but the ones marked optional:
 * store_sqlite.c and store_pg.c both append the log entry inside enroll,
 * device_remove and link_approve's transactions (a directory change
 * outside the log is exactly what devices alert on).
 */
struct relay_store {
	const struct relay_store_ops *ops;
};

/* Opens (creating if needed) the SQLite store at path: WAL journal,
 * synchronous=FULL.  Close with s->ops->close(s). */
int  relay_store_open_sqlite(const char *path, struct relay_store **out);
/*
 * Connects to the PostgreSQL store named by a libpq connection URI
 * (postgresql://...), creating or upgrading its schema.  On failure why
 * (cap bytes) says what went wrong in one line, without the password.
 * Close with relay_store_close.
 */
int  relay_store_open_pg(const char *conninfo, struct relay_store **out, char *why,
         size_t cap);
/*
 * A NOTIFY payload of store_pg.c: 1..max decimal numbers (no sign, at
 * most 20 digits, below 2^64) separated by single spaces, nothing else.
 * SB_ERR_FORMAT otherwise.  Exposed for its unit test.
 */
#define RELAY_MAX_EVENT_IDS (SB_MAX_BATCH_DEVICES + 1)
int  relay_event_parse(const char *text, size_t len, uint64_t *ids, size_t max,
         size_t *n);
/* Closes any store; accepts NULL. */
void relay_store_close(struct relay_store *s);
void relay_item_clear(struct relay_item *it);

#endif
