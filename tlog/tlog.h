/*
 * tlog.h - the transparency log of directory changes (docs/PROTOCOL.md
 * section 14): entries and their codec, RFC 9162 tree hashing, inclusion
 * and consistency proofs, signed tree heads, the countersignature and
 * removal texts, link codes, and the whole check of one directory answer.
 *
 * Shared by the relay (which appends, proves and signs) and the client
 * (which verifies).  Pure: no I/O, no clock, no globals.  Untrusted bytes
 * are read through common/wire.h only; signatures go through crypto/.
 *
 * Return values: SB_OK or a negative SB_ERR_*.  A proof that does not
 * verify is SB_ERR_LOG_PROOF; a consistency proof between two signed heads
 * that does not verify is SB_ERR_LOG_FORK (both heads are then evidence).
 */
#ifndef SB_TLOG_H
#define SB_TLOG_H

#include <stddef.h>
#include <stdint.h>

#include "../common/wire.h"
#include "../crypto/crypto.h"

#define TLOG_VERSION        1
#define TLOG_HASH_LEN       32
#define TLOG_KEY_LEN        CRYPTO_P256_POINT_LEN    /* the log key LK, 14.1 */
#define TLOG_MAX_IDENTITY   CRYPTO_IDENTITY_MAX      /* 1024 */
#define TLOG_MAX_SIG        80
/* version kind addr seq device time |identity| signer |sig| = 65 bytes */
#define TLOG_ENTRY_FIXED    65
#define TLOG_MAX_ENTRY      (TLOG_ENTRY_FIXED + TLOG_MAX_IDENTITY + TLOG_MAX_SIG)
#define TLOG_MAX_STH        128
#define TLOG_MAX_PROOF      64       /* node hashes in one proof */
#define TLOG_MAX_SIZE       (1ull << 62)
/* Entries of one address a lookup answer carries (PROTOCOL 14.7). */
#define TLOG_MAX_ADDR_ENTRIES 256
/* "xxxx-xxxx-xxxx-xxxx" and a NUL. */
#define TLOG_LINK_CODE_BUF  20

enum tlog_kind {
	TLOG_ADD    = 1,
	TLOG_CHANGE = 2,
	TLOG_REMOVE = 3,
};

/* One entry (14.3).  identity and sig are borrowed (from the parsed
 * input, or from the caller when encoding). */
struct tlog_entry {
	uint8_t kind;                       /* enum tlog_kind */
	uint8_t addr[TLOG_HASH_LEN];        /* tlog_addr_hash of the account */
	uint32_t seq;
	uint64_t device;
	uint64_t time;
	const uint8_t *identity;
	size_t identity_len;
	uint64_t signer;                    /* 0: none */
	const uint8_t *sig;
	size_t sig_len;
};

/* A(address) of 14.2 over the address's bytes exactly as given. */
int  tlog_addr_hash(const char *address, size_t len, uint8_t out[TLOG_HASH_LEN]);

/* Appends the entry's canonical bytes; checks what the parser checks
 * (SB_ERR_LENGTH, SB_ERR_INVALID_ARG) and appends nothing on failure. */
int  tlog_entry_encode(const struct tlog_entry *e, struct sb_buf *out);
/*
 * Parses exactly len bytes (14.3's refusals, in order: SB_ERR_TRUNCATED,
 * SB_ERR_FORMAT, SB_ERR_LENGTH, SB_ERR_FORMAT, SB_ERR_TRAILING); borrows
 * from p.  On failure *e is zeroed.
 */
int  tlog_entry_parse(const uint8_t *p, size_t len, struct tlog_entry *e);

/* RFC 9162 2.1.1: SHA-256(0x00 || data) and SHA-256(0x01 || l || r). */
int  tlog_leaf_hash(const uint8_t *data, size_t len, uint8_t out[TLOG_HASH_LEN]);
int  tlog_node_hash(const uint8_t l[TLOG_HASH_LEN], const uint8_t r[TLOG_HASH_LEN],
         uint8_t out[TLOG_HASH_LEN]);

/*
 * An in-memory Merkle tree over leaf hashes, appended to one at a time.
 * It keeps every complete aligned subtree's hash (about two hashes per
 * leaf), so a root, a path or a consistency proof for ANY size up to the
 * current one costs O(log n) hashes.  Not thread-safe.
 */
struct tlog_tree;
int  tlog_tree_new(struct tlog_tree **out);
void tlog_tree_free(struct tlog_tree *t);    /* NULL accepted */
uint64_t tlog_tree_size(const struct tlog_tree *t);
/* SB_ERR_TOO_BIG at TLOG_MAX_SIZE leaves, SB_ERR_ALLOC. */
int  tlog_tree_append(struct tlog_tree *t, const uint8_t leaf[TLOG_HASH_LEN]);
/* The leaf hash at index (< size). */
int  tlog_tree_leaf(const struct tlog_tree *t, uint64_t index, uint8_t out[TLOG_HASH_LEN]);
/* MTH of the first n leaves (n <= size; n = 0 is SHA-256 of nothing). */
int  tlog_tree_root(const struct tlog_tree *t, uint64_t n, uint8_t out[TLOG_HASH_LEN]);
/* PATH(index, D[0..n)) of RFC 9162 2.1.3.1 into proof (TLOG_MAX_PROOF
 * hashes of room), its length in *len.  SB_ERR_INVALID_ARG unless
 * index < n <= size. */
int  tlog_tree_inclusion(const struct tlog_tree *t, uint64_t index, uint64_t n,
         uint8_t proof[][TLOG_HASH_LEN], size_t *len);
/* PROOF(m, D[0..n)) of RFC 9162 2.1.4.1 (empty for m = 0 or m = n).
 * SB_ERR_INVALID_ARG unless m <= n <= size. */
int  tlog_tree_consistency(const struct tlog_tree *t, uint64_t m, uint64_t n,
         uint8_t proof[][TLOG_HASH_LEN], size_t *len);

/* RFC 9162 2.1.3.2: SB_OK or SB_ERR_LOG_PROOF (also for index >= n or a
 * proof longer than TLOG_MAX_PROOF). */
int  tlog_verify_inclusion(uint64_t index, uint64_t n, const uint8_t leaf[TLOG_HASH_LEN],
         const uint8_t proof[][TLOG_HASH_LEN], size_t len,
         const uint8_t root[TLOG_HASH_LEN]);
/* RFC 9162 2.1.4.2, plus m = n (empty proof, equal roots) and m = 0 (empty
 * proof): SB_OK or SB_ERR_LOG_FORK; SB_ERR_INVALID_ARG for m > n. */
int  tlog_verify_consistency(uint64_t m, uint64_t n, const uint8_t root_m[TLOG_HASH_LEN],
         const uint8_t root_n[TLOG_HASH_LEN], const uint8_t proof[][TLOG_HASH_LEN],
         size_t len);

/* ---- signed tree heads (14.5) ------------------------------------------ */

struct tlog_sth {
	uint64_t size;
	uint64_t time;
	uint8_t root[TLOG_HASH_LEN];
	uint8_t sig[TLOG_MAX_SIG];
	size_t sig_len;
};

/* log_id = SHA-256(LK): the log fingerprint a device pins. */
int  tlog_key_fingerprint(const uint8_t key[TLOG_KEY_LEN], uint8_t out[TLOG_HASH_LEN]);
/* Fills sth->sig (size, time and root set by the caller) with the log
 * key's signature. */
int  tlog_sth_sign(const struct crypto_key *log_key, struct tlog_sth *sth);
int  tlog_sth_encode(const struct tlog_sth *sth, struct sb_buf *out);
/* The structural refusals of 14.5 (TRUNCATED, FORMAT, LENGTH, TRAILING,
 * FORMAT for a size above TLOG_MAX_SIZE); no signature check. */
int  tlog_sth_parse(const uint8_t *p, size_t len, struct tlog_sth *out);
/* The signature under the pinned key (SB_ERR_SIGNATURE), then the empty
 * tree's root (SB_ERR_FORMAT). */
int  tlog_sth_verify(const uint8_t key[TLOG_KEY_LEN], const struct tlog_sth *sth);
/* tlog_sth_parse then tlog_sth_verify. */
int  tlog_sth_open(const uint8_t key[TLOG_KEY_LEN], const uint8_t *p, size_t len,
         struct tlog_sth *out);

/* ---- what devices sign (14.4) ------------------------------------------ */

/* The texts a device signs with crypto_sign, appended to out. */
int  tlog_approve_text(const uint8_t addr[TLOG_HASH_LEN],
         const uint8_t new_identity_hash[CRYPTO_HASH_LEN], struct sb_buf *out);
int  tlog_remove_text(const uint8_t addr[TLOG_HASH_LEN], uint64_t device,
         const uint8_t removed_identity_hash[CRYPTO_HASH_LEN], struct sb_buf *out);
/* The link code of an identity ("7x2k-m9qd-4hpb-e1ca"), NUL-terminated. */
int  tlog_link_code(const uint8_t identity_hash[CRYPTO_HASH_LEN],
         char out[TLOG_LINK_CODE_BUF]);
/* SB_OK when `typed` (any case, '-' and white space ignored, i/l read as
 * 1, o as 0) is identity_hash's code; SB_ERR_TAG when it is another
 * code; SB_ERR_FORMAT when it is no code at all. */
int  tlog_link_code_match(const char *typed, const uint8_t identity_hash[CRYPTO_HASH_LEN]);

/* ---- one directory answer, checked whole (14.8) ------------------------- */

/* One entry of an answer with its place in the log and its path. */
struct tlog_proven {
	uint64_t index;
	const uint8_t *entry;
	size_t entry_len;
	const uint8_t (*path)[TLOG_HASH_LEN];
	size_t path_len;
};

/* One device as the relay served it. */
struct tlog_served {
	uint64_t id;
	const uint8_t *identity;
	size_t identity_len;
};

/* What the log says of one device of the address, after the check. */
struct tlog_device {
	uint64_t id;
	uint64_t approver;          /* the add's signer; 0: none */
	int unapproved;             /* added without signer while the account had devices */
	int changed;                /* a change entry replaced its identity */
	uint8_t hash[CRYPTO_HASH_LEN];   /* H(identity) now */
};

/* One event of the address's history, in log order (for monitoring). */
struct tlog_event {
	uint64_t index;             /* leaf index */
	uint8_t kind;               /* enum tlog_kind */
	uint32_t seq;
	uint64_t device, time, signer;
	uint8_t hash[CRYPTO_HASH_LEN];   /* H(identity) of the entry */
};

struct tlog_answer {
	/* in */
	const uint8_t *key;                 /* pinned LK */
	const struct tlog_sth *known;       /* newest accepted head; NULL: none */
	const char *address;
	const uint8_t *head;                /* the answer's head, as sent */
	size_t head_len;
	const uint8_t (*consistency)[TLOG_HASH_LEN];
	size_t consistency_len;
	const struct tlog_proven *entries;
	size_t n_entries;
	const struct tlog_served *served;
	size_t n_served;
	/* out: valid when tlog_check_answer returned SB_OK; devices in the
	 * order served, events in log order. */
	struct tlog_sth sth;
	struct tlog_device *devices;        /* caller's, n_served of room */
	struct tlog_event *events;          /* caller's, n_entries of room; may be NULL */
	/* out on failure: one line saying which check failed and for what */
	char why[160];
};

/*
 * 14.8 steps 1-7 for one LOOKUP_LOG answer.  SB_OK: every device in
 * a->served is exactly what the log says, a->sth is the verified head
 * (newer than or equal to a->known) and devices/events are filled.
 * Otherwise SB_ERR_LOG_PROOF, or SB_ERR_LOG_FORK when the head is not
 * consistent with a->known, with a->why filled; nothing of the answer may
 * be used.  On SB_ERR_LOG_FORK a->sth is the answer's head (its signature
 * verified): with a->known, the evidence of the fork.  After any other
 * failure a->sth is zeroed.  SB_ERR_ALLOC, SB_ERR_INVALID_ARG for the
 * caller's mistakes.
 */
int  tlog_check_answer(struct tlog_answer *a);

#endif
