/*
 * client.h - the agent-side relay client (docs/PROTOCOL.md (section 13)).
 *
 * Keeps ONE persistent TLS 1.3 connection to sealbox-relay, pinned to the
 * relay certificate's SHA-256 fingerprint (compared in constant time; no CA
 * is consulted), authenticates the device by signing the relay's challenge
 * with its signing key, receives pushed messages, and reconnects with
 * capped exponential backoff.  It never sees plaintext and never loads keys:
 * the caller lends it the signing key and seals/opens payloads itself.
 *
 * Threading model (for the multi-threaded FUSE agent):
 *   - client_new() starts one client-owned I/O thread running its own
 *     libevent loop; every socket operation happens on that thread.
 *   - The request functions below (client_register, client_lookup,
 *     client_send, client_ack, client_status, client_remove,
 *     client_blob_upload/download) are thread-safe and BLOCKING: any number
 *     of threads may call them concurrently; each gets a request id and
 *     sleeps until the matching answer (or its timeout).  They must NOT be
 *     called from the push callback (they would wait on the thread that has
 *     to answer them): they return SB_ERR_INVALID_ARG there.
 *   - The push callback runs ON THE I/O THREAD, one push at a time, in
 *     queue order.  It should hand the push to another thread (store it
 *     durably there, then client_ack) or call client_ack_async, and return
 *     quickly: while it runs, nothing else on the connection moves.
 *   - A request issued while the connection is down waits (up to its
 *     timeout) for the reconnection; one that was on the wire when the
 *     connection dropped fails with SB_ERR_CLOSED (the caller retries; a
 *     send is idempotent per message id - a duplicate is SB_ERR_EXISTS).
 *
 * Return values: SB_OK or a negative SB_ERR_* (common/sberr.h).
 */
#ifndef SB_CLIENT_H
#define SB_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/wire.h"
#include "../crypto/crypto.h"
#include "../proto/proto.h"
#include "../tlog/tlog.h"

#define CLIENT_FP_LEN 32
#define CLIENT_MAX_RELAYS 8   /* addresses in client_config.relay */

/* One pushed message.  Everything is borrowed for the callback's duration. */
struct client_push {
	uint64_t item_id;               /* pass to client_ack once stored */
	uint8_t msgid[PROTO_MSGID_LEN];
	const char *sender;             /* sender address (NUL-terminated) */
	uint64_t sender_device;
	uint64_t timestamp;             /* relay time, s since the epoch */
	const uint8_t *payload;
	size_t payload_len;
};

struct client_config {
	/* "host:port", or the nodes of a relay cluster as
	 * "host:port,host:port,..." (at most CLIENT_MAX_RELAYS): after a
	 * failed attempt or a lost connection the next one is tried, with
	 * the same backoff. */
	const char *relay;
	uint8_t fingerprint[CLIENT_FP_LEN];
	/* The relay's next certificate, announced by PIN_NEXT and kept by the
	 * caller (PROTOCOL.md 13.10); has_next 0: none.  Either pin passes
	 * the handshake. */
	uint8_t next_fingerprint[CLIENT_FP_LEN];
	int has_next;
	/*
	 * Called ON THE I/O THREAD (no client lock held) when the pins
	 * change: a PIN_NEXT named a new next certificate (next != NULL), or
	 * a handshake met the next certificate, which is now the current one
	 * (next == NULL).  The caller stores them durably before returning
	 * (the agent: its config).  May be NULL.
	 */
	void (*on_pins)(void *arg, const uint8_t fingerprint[CLIENT_FP_LEN],
	    const uint8_t *next);
	/* Borrowed; must outlive the client.  Signs on the I/O thread, and on
	 * the caller's thread in client_link_approve and client_remove
	 * (signing does not change the key). */
	const struct crypto_key *sign_key;
	const char *address;            /* this device's address (for send) */
	uint64_t device_id;             /* 0 until client_register */
	void (*on_push)(void *arg, const struct client_push *p);  /* may be NULL */
	void *arg;
	unsigned backoff_min_ms;        /* 0: 200 */
	unsigned backoff_max_ms;        /* 0: 30000 (the cap) */
	unsigned request_timeout_ms;    /* 0: 30000 per request */
	unsigned ping_interval_s;       /* 0: 60 (keeps the relay's idle timer fed) */
	/*
	 * The transparency log (docs/PROTOCOL.md 14.8).  log_key: the log key
	 * pinned at init (TLOG_KEY_LEN bytes, copied); NULL: fetched with
	 * LOG_KEY over the pinned connection before the first lookup and
	 * reported through on_log_state (a home made before the log).
	 * log_head: the newest tree head accepted before (copied; NULL:
	 * none).  on_log_state is called on the calling thread, no client
	 * lock held, whenever the pinned key is first known or a newer head
	 * is accepted, for the caller to store both durably; it must not call
	 * this client's requests.  May be NULL.
	 */
	const uint8_t *log_key;
	const uint8_t *log_head;
	size_t log_head_len;
	void (*on_log_state)(void *arg, const uint8_t key[TLOG_KEY_LEN],
	    const uint8_t *head, size_t head_len);
};

struct client;

/* Parses 64 hex digits (colons allowed, as openssl prints them). */
int  client_parse_fingerprint(const char *hex, uint8_t fp[CLIENT_FP_LEN]);

/* Copies cfg (strings included), starts the I/O thread and the first
 * connection attempt.  Free with client_free (NULL accepted). */
int  client_new(const struct client_config *cfg, struct client **out);
/* Stops the I/O thread, closes the connection, frees everything. */
void client_free(struct client *c);

/*
 * Waits until the session is usable: authenticated when a device id is
 * known, else connected (ready for client_register).  Returns SB_ERR_AUTH if
 * the relay refused our signature or device, SB_ERR_TLS if the fingerprint
 * did not match, SB_ERR_NET on timeout.
 */
int  client_wait_ready(struct client *c, unsigned timeout_ms);
/*
 * Why the last connection attempt failed, as one line for a person, into
 * buf (size bytes, NUL-terminated, "" when there is nothing to say):
 * "connection refused" (any connect errno, as strerror says it, first
 * letter lowercased), "cannot resolve HOST: ...", "certificate fingerprint
 * mismatch: expected HEX, got HEX", "TLS handshake failed: REASON"
 * (OpenSSL's reason); with several relay addresses, prefixed by the
 * "host:port: " of the one tried.  Cleared once a connection reaches the relay's
 * HELLO, so after a client_wait_ready that timed out with nothing here the
 * attempt simply never finished (a relay that accepts and never answers).
 * SB_OK when there was something to say, else SB_ERR_NOT_FOUND.
 * Thread-safe (takes the client's lock briefly; fine from the push
 * callback too, which runs without it).
 */
int  client_last_error(struct client *c, char *buf, size_t size);
/* The device id (0 before registration). */
uint64_t client_device_id(struct client *c);
/* Sends nothing and waits for no answer (only for the client's lock, which
 * a reconnect holds across its name lookup): SB_OK while the session is
 * authenticated, else why not as
 * far as the client knows (SB_ERR_TLS for a pin mismatch, SB_ERR_AUTH when
 * refused, SB_ERR_NET while down or (re)connecting).  A snapshot for
 * status displays; a request still waits for the reconnection. */
int  client_link(struct client *c);

/* Enrolls this device (needs a connected, unauthenticated session; a client
 * created with a device id gets SB_ERR_EXISTS); on success the session is
 * authenticated as the new device and reconnects authenticate as it.
 * SB_ERR_ENROLL_CODE: wrong, used or expired code. */
int  client_register(struct client *c, const char *address, const char *code,
         const uint8_t *identity, size_t identity_len, enum crypto_suite suite,
         const char *device_name, uint64_t *device_id);

/* One device of a lookup answer, checked against the log (14.8). */
struct client_device {
	uint64_t id;
	char address[SB_MAX_ADDRESS + 1];
	char name[SB_MAX_DEVICE_NAME + 1];
	uint8_t *identity;              /* owned by the enclosing lookup */
	size_t identity_len;
	uint64_t approver;              /* the device that countersigned it; 0: none */
	int unapproved;                 /* added uncountersigned to an account that
	                                   had devices: never seal to it (the agent's rule) */
	int changed;                    /* a change entry replaced its identity */
};
/* One event of a looked-up address's history, in log order: what an
 * account's devices monitor (every add and removal they did not make). */
struct client_log_event {
	char address[SB_MAX_ADDRESS + 1];
	uint64_t index;                 /* its leaf in the log */
	uint8_t kind;                   /* TLOG_ADD, TLOG_CHANGE, TLOG_REMOVE */
	uint32_t seq;
	uint64_t device, time;
	uint64_t signer;                /* who signed it; 0: the relay's own word */
	uint8_t hash[CRYPTO_HASH_LEN];  /* H(identity) of the entry */
};
struct client_lookup {
	size_t n;
	struct client_device *devices;  /* all devices of all addresses, in order */
	size_t n_events;
	struct client_log_event *events;
};
/*
 * LOOKUP_LOG per address; every answer is checked whole against the log
 * (PROTOCOL 14.8) before anything of it is returned or cached.
 * SB_ERR_LOG_PROOF: an answer does not match the log (its keys must not be
 * used); SB_ERR_LOG_FORK: the relay's head is not consistent with the
 * newest one accepted (client_log_fault has both).  SB_ERR_CONFIG: no log
 * key known and the relay did not give one.
 */
int  client_lookup(struct client *c, const char *const *addresses, size_t n,
         struct client_lookup **out);
void client_lookup_free(struct client_lookup *l);

/* ---- the transparency log (PROTOCOL 14) -------------------------------- */

/* The log key: the pinned one, else LOG_KEY (works before registration:
 * `sealbox init` pins what this returns). */
int  client_log_key(struct client *c, uint8_t key[TLOG_KEY_LEN]);
/* The newest accepted head (what to gossip), appended to out;
 * SB_ERR_NOT_FOUND before the first lookup. */
int  client_log_head(struct client *c, struct sb_buf *out);
/*
 * PROTOCOL 14.9 for a head another device gossiped: SB_OK when it is
 * consistent with ours (proved by LOG_PROVE when the sizes differ);
 * SB_ERR_LOG_FORK when it cannot be (same size, other root; no valid
 * proof; the relay refusing one), both heads then in client_log_fault;
 * SB_ERR_SIGNATURE (or a parse error) for a head that is not this log's:
 * ignore it.  SB_ERR_NET etc. when the relay could not be asked: try later.
 */
int  client_log_check_head(struct client *c, const uint8_t *head, size_t len);

/* The last log failure: one line (which address, which check), and for a
 * fork the two heads (ours, then the other), for the user to publish. */
#define CLIENT_MAX_HEAD TLOG_MAX_STH
struct client_log_fault {
	int err;                        /* SB_ERR_LOG_PROOF, SB_ERR_LOG_FORK, ... */
	char why[256];
	uint8_t ours[CLIENT_MAX_HEAD], theirs[CLIENT_MAX_HEAD];
	size_t ours_len, theirs_len;    /* 0 unless a fork */
};
/* SB_OK and *f filled, or SB_ERR_NOT_FOUND when nothing failed yet. */
int  client_log_fault(struct client *c, struct client_log_fault *f);

/* ---- linking a device (PROTOCOL 14.4, 14.7) ----------------------------- */

/*
 * The new device's side (`sealbox init --link`), on a client without a
 * device id: asks the relay to hold its identity for approval.  *device_id
 * 0: waiting (ask again later: every call signs a fresh challenge;
 * client_resync reconnects); else approved, and the session is now
 * authenticated as that device.  SB_ERR_NOT_FOUND: the address has no
 * device to approve (use an invitation).  The code to show the user is
 * tlog_link_code(H(identity)).
 */
int  client_link_offer(struct client *c, const char *address, const uint8_t *identity,
         size_t identity_len, enum crypto_suite suite, const char *device_name,
         uint64_t *device_id);
/* One device waiting for this account's approval. */
struct client_link_offer {
	enum crypto_suite suite;
	uint8_t identity[SB_MAX_IDENTITY];
	size_t identity_len;
	uint8_t hash[CRYPTO_HASH_LEN];
	char name[SB_MAX_DEVICE_NAME + 1];
	char code[TLOG_LINK_CODE_BUF];  /* tlog_link_code of hash */
	uint64_t time;
};
/* The offers waiting for this account (offers whose identity does not
 * parse are left out); *out malloc'd (free()), NULL when none. */
int  client_link_list(struct client *c, struct client_link_offer **out, size_t *n);
/*
 * `sealbox devices approve CODE`: finds the waiting offer whose link code
 * is `code` (tlog_link_code_match), countersigns its identity with this
 * device's signing key (PROTOCOL 14.4) and sends LINK_APPROVE.
 * *device_id: the new device's id; *which (may be NULL): the offer.
 * SB_ERR_NOT_FOUND: no offer has that code; SB_ERR_FORMAT: not a code.
 */
int  client_link_approve(struct client *c, const char *code, uint64_t *device_id,
         struct client_link_offer *which);

/* Re-seals one message for exactly these devices: fills payloads[i] for
 * devs[i] (the buffers arrive empty).  Returns SB_OK or an error that
 * aborts the send. */
typedef int (*client_reseal_fn)(void *arg, const struct client_device *devs,
    size_t n, struct sb_buf *payloads);

/*
 * Sends one logical message to every device of every address in `to` and to
 * this account's other devices.  Takes the device lists from the client's
 * directory cache (filled by lookups, kept 5 minutes; LOOKUP for what it
 * lacks), calls reseal, submits the batch; when the relay says the device
 * set is stale, drops those cache entries, looks up again and re-seals (at
 * most 3 rounds; then SB_ERR_STALE_DEVICES).  At most SB_MAX_LOOKUP_ADDRS - 1
 * addresses (the own address takes one lookup slot).
 * SB_ERR_UNKNOWN_RECIPIENT when an address has no device; SB_ERR_TOO_BIG
 * when a payload is over the relay's inline limit.  *timestamp: the relay's
 * acceptance time (may be NULL).
 */
int  client_send(struct client *c, const uint8_t msgid[PROTO_MSGID_LEN],
         const char *const *to, size_t n_to, client_reseal_fn reseal, void *arg,
         uint64_t *timestamp);
/* client_send, and queued(arg) is called (in the calling thread, no lock
 * held) as soon as the SEND frame is queued: every request queued after
 * that goes on the wire after it, so threads that take turns in queued()
 * keep their SENDs in order while several are in flight.  Called once per
 * round (again after a stale set), never when no SEND was queued. */
int  client_send_ex(struct client *c, const uint8_t msgid[PROTO_MSGID_LEN],
         const char *const *to, size_t n_to, client_reseal_fn reseal,
         void (*queued)(void *arg), void *arg, uint64_t *timestamp);

/* The stale-set answer of client_send_batch: device ids, malloc'd. */
struct client_stale {
	uint64_t *missing, *extra;
	size_t n_missing, n_extra;
};
void client_stale_clear(struct client_stale *s);
/*
 * The raw batch submit under client_send: no lookup, no retry.  On
 * SB_ERR_STALE_DEVICES, *stale (if given) names missing and extra devices.
 */
struct client_item {
	uint64_t device_id;
	const uint8_t *payload;
	size_t payload_len;
};
int  client_send_batch(struct client *c, const uint8_t msgid[PROTO_MSGID_LEN],
         const char *const *to, size_t n_to, const struct client_item *items,
         size_t n_items, uint64_t *timestamp, struct client_stale *stale);

/* Acknowledges a pushed item after it is stored durably (deletes it at the
 * relay).  The _async form returns at once and may be called anywhere,
 * including the push callback; its outcome is only logged. */
int  client_ack(struct client *c, uint64_t item_id);
int  client_ack_async(struct client *c, uint64_t item_id);
/*
 * Closes the connection, if there is one, so that the reconnection that
 * follows has the relay push every unacknowledged item again, oldest first
 * (the relay keeps no other record of what a receiver dropped).  Waits for
 * blob uploads and downloads under way to end first (a flood of resyncs
 * must not keep an attachment from getting through).  Other requests on
 * the wire fail with SB_ERR_CLOSED and are retried by their callers as
 * after any lost connection.  Returns at once.
 */
void client_resync(struct client *c);

/* Per-device delivery state of a message this device sent; *out malloc'd. */
int  client_status(struct client *c, const uint8_t msgid[PROTO_MSGID_LEN],
         struct proto_status_entry **out, size_t *n);

/* Removes a device of this account (this one included), signed by this
 * device (REMOVE_SIGNED, PROTOCOL 14.4) over the device's identity as the
 * log shows it (a lookup of the own address first).  SB_ERR_PERMISSION:
 * not a device of this account. */
int  client_remove(struct client *c, uint64_t device_id);

/*
 * Blobs, streamed through file descriptors so memory does not grow with
 * size: upload reads exactly `size` bytes from fd (its current offset) and
 * returns the URI (NUL-terminated, < SB_MAX_URI + 1 bytes); download writes
 * the blob to fd and returns its size; a relay announcing more than max
 * bytes gets SB_ERR_LENGTH before any is written (the connection is reset
 * to stop its stream).  The fd is used on the I/O thread while the call
 * runs.
 */
int  client_blob_upload(struct client *c, int fd, uint64_t size,
         char uri[SB_MAX_URI + 1]);
/*
 * The producer of an upload's bytes (client_blob_upload_fill): puts the
 * next 1..want bytes of the blob into buf (want > 0) and their count into
 * *got.  It runs on the client's I/O thread with the client's lock held,
 * one BLOB_DATA frame's worth at a time, only while the call that gave it
 * waits (never after that call returned): it must not call the client and
 * should not block for long.  Anything but SB_OK, or *got == 0, abandons
 * the upload (the connection is reset, which drops the relay's partial
 * blob) and the upload returns that error (SB_ERR_TRUNCATED for *got == 0;
 * SB_ERR_SYSTEM with errno as the producer left it).
 */
typedef int (*client_blob_fill_fn)(void *arg, uint8_t *buf, size_t want, size_t *got);
/* client_blob_upload with the bytes from fill(arg, ...) instead of an fd:
 * the blob streams straight from its producer, no copy on disk. */
int  client_blob_upload_fill(struct client *c, uint64_t size, client_blob_fill_fn fill,
         void *arg, char uri[SB_MAX_URI + 1]);
/*
 * The largest blob this device may upload at all (docs/PROTOCOL.md 13.6,
 * BLOB_PUT of size 0): asked once per authenticated session, then
 * answered from memory.  SB_OK with *cap, 0 when the relay announces none
 * (one from before that revision); a network error otherwise (the request
 * waits for a reconnection like any other: callers that must not block
 * check client_link first).
 */
int  client_blob_cap(struct client *c, uint64_t *cap);
/*
 * Deletes a blob this device uploaded (BLOB_DELETE).  SB_OK,
 * SB_ERR_NOT_FOUND (unknown, expired or not ours), SB_ERR_PROTOCOL when the
 * relay announced no cap (it predates BLOB_DELETE: nothing is sent).
 */
int  client_blob_delete(struct client *c, const char *uri);
int  client_blob_download(struct client *c, const char *uri, int fd, uint64_t max,
         uint64_t *size);

#endif
