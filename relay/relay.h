/*
 * relay.h - internal API of sealbox-relay (the directory, push relay and
 * blob store of DESIGN.md section 5).  Used by relay/main.c and the relay's
 * unit tests; the agent never links against it (it speaks proto/ through
 * client/).
 *
 * The relay never sees plaintext: payloads and blobs are opaque bytes that
 * it stores, forwards and expires.  It never writes its TLS private key
 * anywhere but DIR/tls/key.pem (mode 0600).
 */
#ifndef SB_RELAY_H
#define SB_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include "../proto/proto.h"

#define RELAY_DEFAULT_LISTEN      "127.0.0.1:7443"
#define RELAY_DEFAULT_INLINE      4096u
#define RELAY_DEFAULT_RETENTION   30u                      /* days */
#define RELAY_DEFAULT_BLOB_MAX    (4ull << 30)             /* 4 GiB */
#define RELAY_INVITE_TTL          (7u * 86400u)            /* seconds */
#define RELAY_LINK_TTL            (15u * 60u)              /* a LINK_OFFER waits this long */
/*
 * Quotas and rate limits (docs/RELAY.md "Quotas and rate limits").  A
 * sending ACCOUNT is charged for what it has put into queues and the blob
 * store and that is not yet acknowledged or expired, so one flooding
 * account cannot exhaust everyone's storage; a recipient DEVICE's queue is
 * capped above one account's item quota, so filling it takes several
 * enrolled accounts.
 */
/* Defaults sized for people, not for floods: a group message to 32
 * addresses of 5 devices each is 160 items, so 100,000 items is 600 such
 * messages nobody has fetched yet; a burst of 5,000 sends covers a backlog
 * replayed after an outage. */
#define RELAY_DEFAULT_Q_BYTES     (512ull << 20)           /* queued payload bytes per account */
#define RELAY_DEFAULT_Q_ITEMS     100000u                  /* queued items per account */
#define RELAY_DEFAULT_BLOB_QUOTA  (8ull << 30)             /* stored blob bytes per account */
#define RELAY_DEFAULT_DEV_ITEMS   150000u                  /* queued items per recipient device */
#define RELAY_DEFAULT_SEND_RATE   100u                     /* SENDs per second per device */
#define RELAY_DEFAULT_SEND_BURST  5000u
#define RELAY_DEFAULT_LOOKUP_RATE 10u                      /* looked-up addresses per s per device */
#define RELAY_DEFAULT_LOOKUP_BURST 200u
#define RELAY_DEFAULT_MAX_UNAUTH  256u                     /* connections not yet authenticated */
#define RELAY_DEFAULT_UNAUTH_PER_IP 32u                    /* ... of them from one source address */
#define RELAY_FP_LEN              32                       /* SHA-256 */
#define RELAY_MAX_HOST            255
#define RELAY_MAX_STORE           1024                     /* a libpq URI */

/* DIR/relay.conf: what `init` fixed.  Plain "key = value" lines. */
struct relay_config {
	char host[RELAY_MAX_HOST + 1];
	uint16_t port;
	unsigned inline_limit;        /* 4096 or 16384 (the seed's APNs limits) */
	unsigned retention_days;
	uint64_t blob_max;
	/* Absent from a relay.conf written before they existed: defaults. */
	uint64_t quota_queue_bytes;
	uint64_t quota_queue_items;
	uint64_t quota_blob_bytes;
	uint64_t device_queue_items;
	unsigned send_rate, send_burst;      /* token bucket per device */
	unsigned lookup_rate, lookup_burst;  /* counted in addresses */
	unsigned max_unauth, max_unauth_per_ip;
	/* "" (absent): SQLite in DIR/relay.db, blobs in DIR/blobs, one node.
	 * Else a libpq URI (postgresql://...): the PostgreSQL store that the
	 * nodes of a cluster share, blobs included (docs/RELAY.md). */
	char store[RELAY_MAX_STORE + 1];
};

/* Fills cfg with the defaults above. */
void relay_config_defaults(struct relay_config *cfg);
/* Parses "HOST:PORT" (IPv4 literal or name; port 1..65535). */
int  relay_parse_hostport(const char *s, char host[RELAY_MAX_HOST + 1], uint16_t *port);
/* Reads DIR/relay.conf: SB_ERR_CONFIG when missing or malformed. */
int  relay_config_load(const char *datadir, struct relay_config *cfg);
/* Writes DIR/relay.conf (fails with SB_ERR_EXISTS if it is there). */
int  relay_config_save(const char *datadir, const struct relay_config *cfg);
/* SB_OK for a store value relay.conf accepts: a postgresql:// or
 * postgres:// URI that libpq parses, printable, at most RELAY_MAX_STORE. */
int  relay_store_valid(const char *store);

/*
 * Opens the store cfg names for DIR (relay.db, or the PostgreSQL URI).
 * On failure relay_why() says why in one line where the SB_ERR_* does
 * not (a database that cannot be reached, a newer schema).
 */
struct relay_store;
int  relay_store_open_config(const char *datadir, const struct relay_config *cfg,
         struct relay_store **s);
/* The reason of the last failure that had more to say than its SB_ERR_*
 * code ("" if none): one line for sealbox-relay's error message. */
const char *relay_why(void);

/*
 * Creates DIR/tls/key.pem (P-256, PKCS#8 PEM, mode 0600) and DIR/tls/cert.pem
 * (self-signed X.509v3, 10 years) and returns the certificate's SHA-256
 * fingerprint (over its DER encoding).
 */
int  relay_tls_create(const char *datadir, uint8_t fp[RELAY_FP_LEN]);
/* The fingerprint of DIR/tls/cert.pem (SB_ERR_CONFIG: none). */
int  relay_tls_fingerprint(const char *datadir, uint8_t fp[RELAY_FP_LEN]);
/*
 * Certificate rotation (docs/RELAY.md "Certificate rotation", PROTOCOL.md
 * 13.10).  relay_tls_rotate makes the next key and certificate,
 * DIR/tls/next-key.pem and next-cert.pem, as init makes the current ones;
 * SB_ERR_EXISTS (with its fingerprint) when one is pending already.
 * relay_tls_next_fingerprint: SB_ERR_NOT_FOUND when none is.
 * relay_tls_switch makes the next pair the current one (the old key is
 * gone), fingerprint of the new current certificate in fp;
 * SB_ERR_NOT_FOUND when nothing is pending, SB_ERR_TLS when the next key
 * is not the next certificate's.  Run again after an interruption, it
 * finishes the switch.
 */
#define RELAY_NEXT_KEY  "next-key.pem"
#define RELAY_NEXT_CERT "next-cert.pem"
int  relay_tls_rotate(const char *datadir, uint8_t fp[RELAY_FP_LEN]);
int  relay_tls_next_fingerprint(const char *datadir, uint8_t fp[RELAY_FP_LEN]);
int  relay_tls_switch(const char *datadir, uint8_t fp[RELAY_FP_LEN]);
/* SB_OK (and the fingerprint) when DIR/tls/key.pem is the key of
 * DIR/tls/cert.pem; SB_ERR_TLS when it is not, SB_ERR_CONFIG when either
 * is missing or unreadable. */
int  relay_tls_check(const char *datadir, uint8_t fp[RELAY_FP_LEN]);

/*
 * The transparency log's key and tree (dirlog.c, docs/PROTOCOL.md 14).
 * The log key is a P-256 key of its own in DIR/tls/log-key.pem (mode
 * 0600, never replaced: devices pin it); its fingerprint is SHA-256 of its
 * uncompressed public point.  key_create: SB_ERR_EXISTS when there is one.
 * key_load: SB_ERR_NOT_FOUND when there is none.
 */
#define RELAY_LOG_KEY_FILE "tls/log-key.pem"
int  relay_dirlog_key_create(const char *datadir, uint8_t fp[RELAY_FP_LEN]);
struct crypto_key;
int  relay_dirlog_key_load(const char *datadir, struct crypto_key **out);
int  relay_dirlog_fingerprint(const char *datadir, uint8_t fp[RELAY_FP_LEN]);
/*
 * serve's view of the log: the key (made here for a relay initialised
 * before the log existed) and a Merkle tree that catches up with the
 * store before each answer.  relay_dirlog_head signs (once per size) and
 * returns the head of the store's current size; *head borrows from l
 * until the next call.  inclusion/consistency answer for sizes up to the
 * last head's (tlog_tree_*).
 */
struct relay_dirlog;
struct relay_store;
struct tlog_sth;
int  relay_dirlog_new(const char *datadir, int rebuild, struct relay_dirlog **out);
void relay_dirlog_free(struct relay_dirlog *l);
void relay_dirlog_key(const struct relay_dirlog *l, uint8_t key[65]);
int  relay_dirlog_head(struct relay_dirlog *l, struct relay_store *s, uint64_t now,
         struct tlog_sth *sth, const uint8_t **head, size_t *head_len);
int  relay_dirlog_inclusion(struct relay_dirlog *l, uint64_t index, uint64_t n,
         uint8_t proof[][32], size_t *len);
int  relay_dirlog_consistency(struct relay_dirlog *l, uint64_t m, uint64_t n,
         uint8_t proof[][32], size_t *len);

/* Full `init`: directories, TLS, log key, database, config. */
int  relay_init(const char *datadir, const struct relay_config *cfg,
         uint8_t fp[RELAY_FP_LEN]);
/*
 * `invite`: validates address, stores the SHA-256 of a fresh random code,
 * writes the code (NUL-terminated) into code.  Single use, valid
 * RELAY_INVITE_TTL seconds.
 */
#define RELAY_CODE_MAX 32
int  relay_invite(const char *datadir, const char *address, char code[RELAY_CODE_MAX]);

/* `serve` tunables (defaults in relay_serve_defaults). */
struct relay_serve_opts {
	const char *listen;           /* NULL: the config's */
	unsigned idle_timeout;        /* s without a frame from the client */
	unsigned auth_timeout;        /* s to finish TLS + auth/register */
	unsigned write_timeout;       /* s a pending write may stall */
	unsigned sweep_interval;      /* s between expiry sweeps */
	/* TEST ONLY: a file holding a signed number of seconds added to the
	 * real clock, re-read on every clock reading (expiry tests). */
	const char *test_clock_file;
	/* TEST ONLY (tests/helpers/hostile_relay): read the whole log from
	 * the store for every answer instead of only its new entries, so a
	 * store that rewrites history is served as it lies. */
	int test_log_rebuild;
	/* HOST:PORT of the Prometheus endpoint (a loopback address: main.c
	 * checks), NULL for none. */
	const char *metrics;
};
void relay_serve_defaults(struct relay_serve_opts *o);
/* Runs until SIGINT/SIGTERM.  Returns SB_OK on a clean stop. */
int  relay_serve(const char *datadir, const struct relay_serve_opts *o);

/*
 * Per-device token buckets (ratelimit.c).  relay_rate_take takes cost
 * tokens of kind from device's bucket (rate tokens/s, at most burst; a new
 * device starts full): SB_OK, or SB_ERR_RATE_LIMIT with nothing taken.
 * now is a monotonic time in seconds.  relay_rates_prune drops devices
 * unused for refill seconds (their buckets are full again anyway).
 */
enum { RELAY_RATE_SEND, RELAY_RATE_LOOKUP, RELAY_RATE_KINDS };
struct relay_rates;
int  relay_rates_new(struct relay_rates **out);
void relay_rates_free(struct relay_rates *r);
int  relay_rate_take(struct relay_rates *r, uint64_t device, int kind, double cost,
         double rate, double burst, double now);
void relay_rates_prune(struct relay_rates *r, double now, double refill);

/*
 * One event line to stderr (log.c): "<UTC time> sealbox-relay: <text>",
 * or, after relay_log_set_json(1), one JSON object {"time":..,"event":..,
 * "<key>":..,"detail":..}.  fmt follows log.c's grammar: "EVENT WORDS
 * key=%x key=\"%s\" ...: detail"; every argument is escaped.
 */
void relay_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void relay_log_set_json(int json);
/*
 * serve's loop (server.c): relay_log_hold(first, arg) keeps the lines in
 * memory, calling first(arg) when one arrives into an empty buffer, until
 * relay_log_flush() writes them all with one write - at the end of each
 * turn of the loop, before any answer of that turn reaches the network
 * (three lines per routed message were three system calls).  Past 64 KiB
 * held, a line flushes at once.  relay_log_hold(NULL, NULL) flushes and
 * writes each line again as it comes.
 */
void relay_log_hold(void (*first)(void *arg), void *arg);
void relay_log_flush(void);
/* The line relay_log writes, appended to out (tests).  SB_ERR_ALLOC. */
struct sb_buf;
int  relay_log_render(int json, const char *ts, const char *fmt, va_list ap,
         struct sb_buf *out);

/* ---- the operator's kit (admin.c; docs/RELAY.md "Operating a relay") ---- */

struct relay_store;

/* Opens the store DIR's relay.conf names (SQLite in DIR/relay.db when it
 * names none, or before relay.conf is there); close with relay_store_close. */
int  relay_store_open_dir(const char *datadir, struct relay_store **out);

/*
 * DIR/serve.lock: one `serve` per data directory.  relay_lock_take takes
 * an exclusive flock kept on *fd for the life of the process and writes
 * "PID\n" into the file; SB_ERR_EXISTS when another process holds it,
 * its pid in *holder (0 if the file says none).  relay_lock_holder: SB_OK
 * with *pid while someone serves DIR, SB_ERR_NOT_FOUND when nobody does.
 * Neither blocks.
 */
#define RELAY_LOCK_FILE "serve.lock"
int  relay_lock_take(const char *datadir, int *fd, long *holder);
int  relay_lock_holder(const char *datadir, long *pid);
/*
 * Tells the relay serving DIR, if any, to look at DIR again (SIGHUP): it
 * closes the connections of devices that are no longer in the directory
 * and reloads the certificates of tls/.  *pid: whom it told (0: nobody
 * serves DIR, SB_OK).  SB_ERR_SYSTEM (errno) if the signal failed.
 */
int  relay_notify_serve(const char *datadir, long *pid);

/* The file of a blob URI ("sbblob:" + 64 lower-case hex digits) in DIR's
 * blobs/; SB_ERR_FORMAT for any other text: nothing else names a file. */
int  relay_blob_path(const char *datadir, const char *uri, char out[PATH_MAX]);

/* `devices ADDRESS`: a table of the address's devices on out.
 * SB_ERR_NOT_FOUND when it has none, SB_ERR_INVALID_ARG for a bad address. */
int  relay_devices_print(const char *datadir, const char *address, FILE *out);

/* What one removal dropped. */
struct relay_removal {
	uint64_t device;
	char address[SB_MAX_ADDRESS + 1];
	uint64_t items;               /* queued for it */
	uint64_t blobs, blob_bytes;   /* uploaded by it, still stored */
};
/*
 * `remove-device ID`: the device leaves the directory through the store's
 * device_remove (its queue goes, its status rows read "removed"), then
 * the blobs it uploaded are deleted (records and files).  SB_ERR_NOT_FOUND
 * for an unknown id.
 */
int  relay_remove_device(const char *datadir, uint64_t id, struct relay_removal *r);
/*
 * `remove-address ADDRESS`: every device of it as above (each() after
 * each one), then its unused invites (*invites: how many).  SB_ERR_NOT_FOUND
 * when it has no device and no invite.
 */
int  relay_remove_address(const char *datadir, const char *address,
         void (*each)(void *arg, const struct relay_removal *r), void *arg,
         uint64_t *invites);

/*
 * `backup --data DIR OUT` and `restore BACKUP --data DIR` (backup.c).  OUT
 * and the restored DIR must be new (missing or an empty folder:
 * SB_ERR_EXISTS otherwise).  The backup runs while serve does; a blob
 * deleted between the database snapshot and its copy is counted in
 * blobs_missing and left out.  restore fails on a missing or short blob
 * (SB_ERR_NOT_FOUND / SB_ERR_LENGTH), a database that does not open
 * (SB_ERR_STORAGE), a key that is not the certificate's (SB_ERR_TLS);
 * bad names the file at fault.  SB_ERR_NOT_FOUND from relay_backup with
 * bad empty: the store has no backup operation (PostgreSQL: pg_dump).
 */
struct relay_copy_stats {
	uint64_t db_bytes;
	uint64_t blobs, blob_bytes, blobs_missing;
	char bad[80];
};
int  relay_backup(const char *datadir, const char *out, struct relay_copy_stats *st);
int  relay_restore(const char *backup, const char *datadir, struct relay_copy_stats *st,
         uint8_t fp[RELAY_FP_LEN]);

#endif
