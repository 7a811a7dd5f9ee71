/*
 * trust.h - what this device believes about other devices' keys (issue
 * 14): pinned keys, alerts, verified contacts, held sends.  Shared by the
 * agent's parts and cli/ (sealbox verify, trust, status); not for fs/.
 *
 * The pure rules (trust_rules.c: no I/O, no clock, no globals) decide
 * what a change of the directory's answer means and how it reads: the
 * alert line, the folder xattr, the held status, the verification code
 * comparison.  The store half (trust.c) keeps pins, alerts and verified
 * state in the home's store.db and applies the rules to it.
 *
 * Fingerprints are the first 16 bytes of H(identity) (docs/PROTOCOL.md
 * section 2) as 32 lower-case hex digits: the same bytes `sealbox devices`
 * prints in groups of four.
 */
#ifndef SB_AGENT_TRUST_H
#define SB_AGENT_TRUST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../crypto/crypto.h"

#define TRUST_FP_LEN       16                      /* bytes of H shown */
#define TRUST_FP_BUF       (2 * TRUST_FP_LEN + 1)  /* hex + NUL */
#define TRUST_MAX_DEVICES  64                      /* per address, > relay's 32 */
#define TRUST_CODE_DIGITS  60                      /* 12 groups of 5 */
/* An alert line: time (20) + address (254) + what (~60) + 2 fingerprints
 * + separators, with room to spare. */
#define TRUST_LINE_BUF     512

/* What happened to a device, a contact or the log. */
enum trust_event {
	TRUST_EV_CHANGED = 1,      /* a pinned device id now has another identity */
	TRUST_EV_ADDED,            /* a new device of a pinned address */
	TRUST_EV_REMOVED,          /* a pinned device is gone from the directory */
	TRUST_EV_UNAPPROVED,       /* own account: a device this one did not approve */
	TRUST_EV_UNSIGNED,         /* no device of its account countersigned it: refused */
	TRUST_EV_OPERATOR_REMOVED, /* removed without a removal signed by its account */
	TRUST_EV_FORK,             /* two tree heads that cannot both be honest */
	TRUST_EV_PROOF,            /* a log proof failed: the answer was not used */
	TRUST_EV_INTEGRITY,        /* a sealed trust row did not authenticate: not used */
};

/* The event's word(s) in an alert line; NULL for an unknown value. */
const char *trust_event_name(enum trust_event ev);
/* The inverse (the store keeps the words); 0 when s names none. */
enum trust_event trust_event_parse(const char *s);

/* 32 hex digits of hash[0..16), or "-" when hash is NULL. */
void trust_fingerprint(const uint8_t *hash, char out[TRUST_FP_BUF]);

/* One device as pinned or as the directory names it now. */
struct trust_dev {
	uint64_t id;
	uint8_t hash[CRYPTO_HASH_LEN];   /* H(identity) */
};

/* One difference between the pins of an address and the directory. */
struct trust_change {
	enum trust_event event;          /* CHANGED, ADDED or REMOVED */
	uint64_t device_id;
	int has_old, has_new;
	uint8_t old_hash[CRYPTO_HASH_LEN], new_hash[CRYPTO_HASH_LEN];
};

/*
 * Compares what was pinned for one address with what the directory says
 * now; writes the differences into out[0..max) in device-id order
 * (removed and changed ones by the pinned id, added ones by the new id),
 * their number in *n.  (Whether an address is new, so that its devices
 * are pinned without alerts, is the caller's knowledge.)
 * SB_ERR_INVALID_ARG for a device id listed twice on one side,
 * SB_ERR_TOO_BIG for more than TRUST_MAX_DEVICES on a side or more
 * changes than max.
 */
int  trust_diff(const struct trust_dev *pinned, size_t np,
         const struct trust_dev *now, size_t nn,
         struct trust_change *out, size_t max, size_t *n);

/*
 * The key set of an address as a verified contact records it: the
 * distinct identity hashes, sorted ascending bytewise, concatenated.
 * Sorts and deduplicates hashes in place; returns how many remain.
 */
size_t trust_set_normalize(uint8_t (*hashes)[CRYPTO_HASH_LEN], size_t n);
/* 1 when two normalized sets (byte strings of n * 32 bytes) are equal. */
int  trust_set_equal(const void *a, size_t a_len, const void *b, size_t b_len);

/* One alert as the store keeps it. */
struct trust_alert {
	int64_t time;                    /* s since the epoch */
	const char *address;             /* canonical; for log events our own */
	enum trust_event event;
	uint64_t n;                      /* the device id; FORK: the tree size; PROOF: 0 */
	const uint8_t *old_hash;         /* NULL: none ("-") */
	const uint8_t *new_hash;
};

/*
 * The line for one alert (no newline), as MNT/alerts, the log and
 * `sealbox status` show it:
 *   2026-12-04T17:03:01Z bob@example.com device 7 changed OLDFP -> NEWFP
 *   2026-12-04T17:03:01Z bob@example.com device 9 added - -> NEWFP
 *   2026-12-04T17:03:01Z alice@example.com log forked at size 12 ROOT -> ROOT
 *   2026-12-04T17:03:01Z bob@example.com log proof failed: directory answer not used - -> -
 *   2026-12-04T17:03:01Z bob@example.com trust record failed its integrity check - -> -
 * that is TIME ADDRESS WHAT OLD -> NEW, fingerprints per trust_fingerprint
 * (for log events, of the two tree heads' roots).  with_time 0 leaves the
 * time and its space out (the folder xattr).  SB_ERR_LENGTH when it does
 * not fit (out is then "").
 */
int  trust_alert_line(const struct trust_alert *al, int with_time, char *out,
         size_t size);

/* What one address of a folder contributes to its xattr. */
struct trust_addr_state {
	int verified;                    /* a verified key set is recorded */
	size_t open;                     /* open alerts */
	const char *newest;              /* newest open alert, without time; NULL if none */
};

/*
 * user.sealbox.trust of a folder whose conversation has these addresses:
 * "changed: NEWEST" when any has an open alert (the newest of them; with
 * " (+N more)" when there are others), else "verified" when every one is,
 * else "unverified".  Into out (no newline, NUL-terminated, truncated to
 * size).
 */
void trust_folder_text(const struct trust_addr_state *st, size_t n, char *out,
         size_t size);

/* The status of an outbox file held for addr:
 * "held: ADDR's devices changed; compare codes again". */
void trust_held_text(const char *addr, char *out, size_t size);

/*
 * Compares a verification code as typed (digits, with any spaces, tabs,
 * newlines or '-' between them) with the expected one (the same form) in
 * constant time over the 60 digits.  SB_OK on a match, SB_ERR_TAG on a
 * mismatch, SB_ERR_FORMAT when `given` holds anything else or not exactly
 * 60 digits (checked before any comparison: the shape is not secret).
 */
int  trust_code_check(const char *given, const char *expected);
/* SB_OK when `given` has a code's shape (as trust_code_check reads it),
 * else SB_ERR_FORMAT: for refusing a typo before connecting anywhere. */
int  trust_code_shape(const char *given);

/* ---- the store (trust.c): HOME/store.db, component "trust" ------------- */

struct sqlite3;
struct sb_buf;

/*
 * At rest (trust_store.c, docs/SECURITY.md section 7): every value that
 * decides what is trusted is sealed under the home's storage key, bound to
 * its table, column, address and row id.  A row that does not open is
 * never used (not pinned, not verified, not approved, not removed) and is
 * an alert "ADDRESS trust record failed its integrity check" (event
 * TRUST_EV_INTEGRITY; sends to ADDRESS are held) until the user accepts or
 * confirms ADDRESS again, which drops such rows.  Alerts deleted from the
 * table (a gap in their ids, or the newest gone: trust_meta keeps the
 * newest id sealed) are the same alert on our own account.
 *
 * trust_store_key binds the storage key (32 bytes, copied into a derived
 * key; NULL: none yet) to db and then creates, upgrades or converts the
 * trust tables (trust_schema).  Without a key every other trust_* call on
 * db answers SB_ERR_KEY_MISSING (trust_ready says which).  The caller
 * holds db's lock and has no statement of db running.
 */
int  trust_store_key(struct sqlite3 *db, const uint8_t *storage_key);
/* SB_OK when db has its storage key, else SB_ERR_KEY_MISSING. */
int  trust_ready(struct sqlite3 *db);
/* Creates or upgrades the trust tables (trust_store_key does): nothing
 * without the key.  A home made before them keeps what it knew:
 * inbox_devices become the pins and inbox_key_events the first alerts
 * (once); a home from before sealing has its rows sealed in place, the
 * plain bytes wiped (secure_delete, WAL truncated). */
int  trust_schema(struct sqlite3 *db);
/* Opens HOME/store.db (store_open) with the storage key of (address,
 * device_id) from the keyring: for cli/, beside a live mount or without
 * one.  keyring errors as keyring.h says.  Close with store_close. */
int  trust_store_open(const char *home, const char *address, uint64_t device_id,
         struct sqlite3 **out);
/* Looks for rows that do not open, and for deleted alerts, and records an
 * open integrity alert for each address with one (once while open; best
 * effort: a read-only store records nothing), lines to logf (may be
 * NULL).  Skipped (SB_OK at once) while nobody but db itself has written
 * store.db since its last scan (PRAGMA data_version). */
int  trust_store_scan(struct sqlite3 *db, int64_t now, FILE *logf);
/* Deletes the rows of addr that do not open (an alert's id is kept, as a
 * placeholder no listing shows). */
int  trust_store_purge(struct sqlite3 *db, const char *addr);
/* Records id as the newest alert's (trust_alert_add, after its INSERT). */
int  trust_store_alerts_mark(struct sqlite3 *db, int64_t id);

/* One device of a directory answer (borrowed). */
struct trust_seen {
	uint64_t id;
	const uint8_t *identity;         /* DER, docs/PROTOCOL.md section 2 */
	size_t identity_len;
	int unapproved;                  /* the log: added without a countersignature
	                                    to an account that had devices */
	uint64_t approver;               /* the log: the device that countersigned
	                                    it; 0: none or not known */
	int changed;                     /* the log: a change entry replaced its
	                                    identity (only an operator's tool makes one) */
};

/* A removal the log shows (PROTOCOL.md 14.3): who signed it, 0 for the
 * relay's own word (the operator, or an unsigned REMOVE). */
struct trust_removal {
	uint64_t device;
	uint64_t signer;
};

enum trust_mode {
	TRUST_OBSERVE = 0,   /* the agent saw a directory answer */
	TRUST_ACCEPT,        /* sealbox trust accept: pin it, alerts closed, unverified */
	TRUST_CONFIRM,       /* sealbox verify --confirm: pin it, alerts closed, verified */
};
enum trust_verdict { TRUST_SEND = 0, TRUST_HOLD = 1 };

/*
 * Applies the directory's answer for one address (devs: all of its
 * devices) to the pins, in one transaction:
 *   - an address seen for the first time: every device pinned, no alert;
 *   - a new device: an "added" alert, and pinned (our own account: one
 *     this device approved, by trust_approve or as the log's approver, is
 *     a closed line; any other "added without this device's approval");
 *   - a device the log shows nobody approved (unapproved): a "not
 *     approved by any device of its account: refused" alert, also on
 *     first contact, and pinned refused (trust_pin_get: SB_ERR_PERMISSION);
 *   - on first contact, a device whose identity the log shows replaced
 *     (changed): a "changed" alert with no old fingerprint (pinned as is);
 *   - a device gone: a "removed" alert, unpinned; when rm (the log's
 *     removals of addr, may be NULL) shows nobody of the account signed
 *     it: "removed by the relay, not by its account"; when it shows this
 *     device did (our own account): a closed line;
 *   - a device with another identity: a "changed" alert; the pin is NOT
 *     replaced (messages stay sealed to and verified against the pinned
 *     key) unless mode is ACCEPT or CONFIRM;
 *   - ACCEPT/CONFIRM: every device pinned as given, every open alert of
 *     the address closed (alerts of this answer recorded closed), the
 *     address verified (CONFIRM: this set) or not (ACCEPT).
 * An alert already open with the same event, device and new identity is
 * not recorded twice.  New alerts are written to logf (may be NULL) as
 * "sealbox: alert: LINE" after COMMIT.  *verdict (may be NULL):
 * TRUST_HOLD when sends to addr must wait (trust_held).  SB_ERR_* of the
 * identity parser for a device whose identity does not parse (nothing
 * changed), SB_ERR_TOO_BIG past TRUST_MAX_DEVICES, SB_ERR_STORAGE.
 */
int  trust_observe(struct sqlite3 *db, const char *addr, const struct trust_seen *devs,
         size_t n, const struct trust_removal *rm, size_t n_rm, enum trust_mode mode,
         int64_t now, int *verdict, FILE *logf);

/* trust_observe with the devices of addr among devs (a send set,
 * client.h; other addresses' are skipped): no removals known. */
struct client_device;
struct client_lookup;
int  trust_observe_devices(struct sqlite3 *db, const char *addr,
         const struct client_device *devs, size_t n, enum trust_mode mode,
         int64_t now, int *verdict, FILE *logf);
/* The same with a lookup answer checked against the log: its devices'
 * approvers and verdicts and addr's removals from its history. */
int  trust_observe_lookup(struct sqlite3 *db, const char *addr,
         const struct client_lookup *l, enum trust_mode mode, int64_t now,
         int *verdict, FILE *logf);

/* *equal: the pins of addr are exactly the devices of addr among devs
 * (a send set) plus this device (self, self_hash), ids and identities,
 * leaving out devices this one removed.  Reads only. */
int  trust_pins_equal(struct sqlite3 *db, const char *addr,
         const struct client_device *devs, size_t n, uint64_t self,
         const uint8_t self_hash[CRYPTO_HASH_LEN], int *equal);

/* The pinned identity of (addr, id): SB_ERR_NOT_FOUND when none,
 * SB_ERR_PERMISSION when it is pinned refused (nothing is sealed to it or
 * accepted from it).  *out freed with crypto_identity_free. */
int  trust_pin_get(struct sqlite3 *db, const char *addr, uint64_t id,
         struct crypto_identity **out);

/*
 * SB_ERR_HELD when a send to any of addrs must wait, *which then naming
 * the first such address (borrowed from addrs): a verified contact whose
 * pinned devices are no longer the verified set, or one of whose devices
 * showed another identity (an open "changed" alert).  SB_OK otherwise.
 * Reads only the store: no network.
 */
int  trust_held(struct sqlite3 *db, const char *const *addrs, size_t n,
         const char **which);

/* Records one alert (closed: 0 for open, else when it was settled) and
 * appends "sealbox: alert: LINE\n" to log (may be NULL). */
int  trust_alert_add(struct sqlite3 *db, const struct trust_alert *al, int64_t closed,
         struct sb_buf *log);

/* trust_alert_add of an open alert, unless an open one already says the
 * same (address, event, n, new hash): a fork seen in every message of a
 * forked view is one alert. */
int  trust_alert_once(struct sqlite3 *db, const struct trust_alert *al, struct sb_buf *log);

/*
 * A lookup or a gossiped head failed the log's checks (err
 * SB_ERR_LOG_PROOF or SB_ERR_LOG_FORK; anything else is ignored): an
 * alert on addr ("log proof failed: directory answer not used", or "log
 * forked at size N OURROOT -> OTHERROOT" with both heads written to logf
 * in hex), once while open, and the client's reason (client_log_fault)
 * on logf.  The caller holds the store's lock.
 */
struct client;
int  trust_log_failure(struct sqlite3 *db, struct client *c, const char *addr, int err,
         int64_t now, FILE *logf);

/* Every alert (open_only: the open ones) as lines, oldest first, each
 * after prefix (may be NULL) and ending in a newline, appended to out. */
int  trust_alerts_text(struct sqlite3 *db, int open_only, const char *prefix,
         struct sb_buf *out);

/* user.sealbox.trust of a folder whose conversation is addrs
 * (trust_folder_text), into out. */
int  trust_folder_state(struct sqlite3 *db, const char *const *addrs, size_t n,
         char *out, size_t size);

/*
 * Our own account.  trust_self_set marks addr as this device's account,
 * device_id as this device (idempotent; agent_open and init call it):
 * from then on a new device of addr that this device did not approve
 * (trust_approve: by identity hash; the id is kept for the record) is an open "added without
 * this device's approval" alert, an approved one a closed "added" line,
 * this device itself nothing.  trust_unpin records that this device
 * removed one of its account's devices (a closed "removed" line), drops
 * its pin and remembers the id, so no later answer brings it back.
 */
int  trust_self_set(struct sqlite3 *db, const char *addr, uint64_t device_id);
int  trust_approve(struct sqlite3 *db, const char *addr, uint64_t device_id,
         const uint8_t hash[CRYPTO_HASH_LEN], int64_t now);
int  trust_unpin(struct sqlite3 *db, const char *addr, uint64_t device_id, int64_t now);
/* Forgets an approval (by identity hash): the relay refused it. */
int  trust_unapprove(struct sqlite3 *db, const char *addr, const uint8_t hash[CRYPTO_HASH_LEN]);
/* *yes: this device removed (addr, device_id) (trust_unpin).  Such a
 * device in a directory answer is a stale answer: trust_observe skips it
 * and a sender seals nothing to it (the relay then says the set is
 * stale, and the next answer no longer names it). */
int  trust_is_removed(struct sqlite3 *db, const char *addr, uint64_t device_id, int *yes);

/*
 * The newest signed tree head this device accepted (docs/PROTOCOL.md
 * 14.8), as the client library gave it: get appends it to out
 * (SB_ERR_NOT_FOUND: none yet); put stores one of the given size unless
 * a larger one is stored (heads never go backwards here).
 */
#define TRUST_MAX_HEAD 128           /* tlog.h TLOG_MAX_STH */
int  trust_log_head_get(struct sqlite3 *db, struct sb_buf *out);
int  trust_log_head_put(struct sqlite3 *db, const uint8_t *head, size_t len,
         uint64_t size, int64_t now);

/* What sealbox trust lists, appended to out: per known address (sorted)
 * "ADDRESS: STATE" (trust_folder_text of that address alone), then one
 * "  device ID FINGERPRINT" line per pinned device, by id. */
int  trust_list_text(struct sqlite3 *db, struct sb_buf *out);

#endif
