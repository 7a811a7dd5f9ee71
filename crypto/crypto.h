/*
 * crypto.h - the sealbox cryptographic core (DESIGN.md section 4,
 * docs/PROTOCOL.md).
 *
 * Never does I/O and holds no global state: keys, identities and payloads go
 * in and out as memory.  OpenSSL 3 EVP APIs only.  Every secret this module
 * allocates is cleansed before it is freed.  All untrusted input is parsed
 * through common/wire.h.
 *
 * Return values: SB_OK (0) or a negative SB_ERR_* (common/sberr.h).  On
 * failure, outputs are left empty (NULL / length 0 / an empty sb_buf).
 */
#ifndef SB_CRYPTO_H
#define SB_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "../common/wire.h"

enum crypto_suite {
	CRYPTO_SUITE_PAIR = 1,  /* RSA-OAEP key wrap (the seed) */
	CRYPTO_SUITE_EC   = 2,  /* ECIES to P-256 (the seed's iOS 13+ variant) */
};

#define CRYPTO_RSA_BITS_MIN      1280
#define CRYPTO_RSA_BITS_MAX      4096
#define CRYPTO_RSA_BITS_DEFAULT  2048
#define CRYPTO_HASH_LEN          32     /* H(identity): SHA-256 */
/* Cap on an identity blob (RSA-4096 with a 4-byte exponent is 607 bytes). */
#define CRYPTO_IDENTITY_MAX      1024
/* Largest payload: version, u16 body length, body, u8 sig length, sig. */
#define CRYPTO_PAYLOAD_MAX       (1 + 2 + 0xffff + 1 + 0xff)
/* Payload version bytes (docs/PROTOCOL.md): 0x02 is the seed's RSA layout,
 * 0x03 the ECIES layout, so neither can be mistaken for the other. */
#define CRYPTO_PAYLOAD_V_PAIR    0x02
#define CRYPTO_PAYLOAD_V_EC      0x03

/* ---- Keys -------------------------------------------------------------- */

/*
 * One private key: a P-256 signing key, or an encryption key (RSA for suite
 * pair, P-256 for suite ec).  Opaque; owned by the caller; free with
 * crypto_key_free (NULL accepted).
 */
struct crypto_key;

int  crypto_key_generate_sign(struct crypto_key **out);
/* bits is ignored for CRYPTO_SUITE_EC; for pair it must be in
 * [CRYPTO_RSA_BITS_MIN, CRYPTO_RSA_BITS_MAX]. */
int  crypto_key_generate_encrypt(enum crypto_suite suite, unsigned bits,
         struct crypto_key **out);
void crypto_key_free(struct crypto_key *k);

/*
 * Serialisation of private keys as unencrypted PKCS#8, DER or PEM, into a
 * cleansing sb_buf.  The keyring stores the DER form; the offline codec's
 * files use PEM.  The parse functions accept only the algorithms above
 * (SB_ERR_KEY_TYPE otherwise; SB_ERR_KEY_INVALID for bytes that do not
 * decode).  `purpose` of a parsed key is checked by its user (seal wants a
 * P-256 signing key; open wants the encryption key of the recipient's suite).
 */
int  crypto_key_to_pkcs8_der(const struct crypto_key *k, struct sb_buf *out);
int  crypto_key_to_pkcs8_pem(const struct crypto_key *k, struct sb_buf *out);
int  crypto_key_from_pkcs8_der(const uint8_t *der, size_t len, struct crypto_key **out);
int  crypto_key_from_pkcs8_pem(const uint8_t *pem, size_t len, struct crypto_key **out);

/* Signs msg with a P-256 key: ECDSA over SHA-256(msg), DER signature.
 * Used by the relay protocol's challenge-response, not by payloads. */
int  crypto_sign(const struct crypto_key *sign_key, const uint8_t *msg, size_t len,
         struct sb_buf *sig);

/* A bare P-256 public key: 0x04 || X || Y.  The relay's log key travels
 * and is pinned this way (docs/PROTOCOL.md 14.1), outside any identity. */
#define CRYPTO_P256_POINT_LEN 65
/* The public point of a P-256 key; SB_ERR_KEY_TYPE for an RSA key. */
int  crypto_key_public_point(const struct crypto_key *k,
         uint8_t point[CRYPTO_P256_POINT_LEN]);
/* Verifies a crypto_sign() signature under a bare public point: SB_OK,
 * SB_ERR_SIGNATURE, or SB_ERR_KEY_INVALID for a point not on P-256. */
int  crypto_verify_point(const uint8_t point[CRYPTO_P256_POINT_LEN],
         const uint8_t *msg, size_t len, const uint8_t *sig, size_t sig_len);

/* ---- Public identities -------------------------------------------------- */

/* A parsed public identity (signing key + encryption key + suite). */
struct crypto_identity;

/* Builds the identity of a device from its two private keys. */
int  crypto_identity_from_keys(const struct crypto_key *sign_key,
         const struct crypto_key *enc_key, struct crypto_identity **out);
/* Parses the DER identity blob strictly (no trailing bytes, minimal DER,
 * valid points, RSA modulus within bounds). */
int  crypto_identity_parse(const uint8_t *der, size_t len, struct crypto_identity **out);
void crypto_identity_free(struct crypto_identity *id);
/* Borrowed views, valid while id lives. */
void crypto_identity_der(const struct crypto_identity *id, const uint8_t **der, size_t *len);
const uint8_t *crypto_identity_hash(const struct crypto_identity *id);  /* CRYPTO_HASH_LEN bytes */
enum crypto_suite crypto_identity_suite(const struct crypto_identity *id);
/* 1 if id's public keys are those of the given private key(s), else 0. */
int  crypto_identity_matches(const struct crypto_identity *id,
         const struct crypto_key *sign_key, const struct crypto_key *enc_key);
/* Verifies a crypto_sign() signature against id's signing key:
 * SB_OK or SB_ERR_SIGNATURE. */
int  crypto_verify(const struct crypto_identity *id, const uint8_t *msg, size_t len,
         const uint8_t *sig, size_t sig_len);

/* ---- Per-device payloads (suite chosen by the recipient identity) ------- */

/*
 * Seals plaintext m for one recipient device.  The payload is appended to
 * `payload` (nothing is appended on failure).  SB_ERR_TOO_BIG when the body
 * would not fit its u16 length; SB_ERR_INVALID_ARG when sender_sign is not
 * the signing key of `sender`.  Test-only building blocks (fixed seed,
 * fixed ephemeral key) are in crypto/internal.h.
 */
int  crypto_seal(const struct crypto_key *sender_sign,
         const struct crypto_identity *sender,
         const struct crypto_identity *recipient,
         const uint8_t *m, size_t m_len, struct sb_buf *payload);

/* Largest plaintext crypto_seal accepts for this recipient (the u16 body
 * length bounds it; it depends on the suite and RSA modulus size). */
size_t crypto_seal_max_plaintext(const struct crypto_identity *recipient);

/*
 * Opens a payload: verifies the sender's signature, unwraps K with the
 * recipient's encryption key, decrypts, checks the 40-bit tag in constant
 * time.  Plaintext is appended to `plain` only when everything verified;
 * on any failure nothing is appended.  Failure classes, in the order they
 * are checked (docs/PROTOCOL.md section 3): SB_ERR_KEY_TYPE (key not of the
 * recipient's suite), SB_ERR_INVALID_ARG (key is not the recipient
 * identity's), SB_ERR_FORMAT / _TRUNCATED / _TRAILING / _LENGTH (structure),
 * SB_ERR_SIGNATURE, SB_ERR_UNWRAP, SB_ERR_LENGTH (unwrapped length),
 * SB_ERR_TAG.  These are for local diagnosis only: never report them to the
 * sender (they would be a decryption oracle).
 */
int  crypto_open(const struct crypto_key *recipient_enc,
         const struct crypto_identity *recipient,
         const struct crypto_identity *sender,
         const uint8_t *payload, size_t len, struct sb_buf *plain);

/* ---- Attachments: AES-256-CTR, seekable, with running hashes ------------ */

#define CRYPTO_ATTACH_KEY_LEN 32
#define CRYPTO_SHA1_LEN       20
#define CRYPTO_SHA256_LEN     32

/* Fills key with CRYPTO_ATTACH_KEY_LEN fresh random bytes. */
int  crypto_attach_key_generate(uint8_t key[CRYPTO_ATTACH_KEY_LEN]);

/*
 * En/decrypts len bytes that sit at byte `offset` of the attachment stream
 * (any offset, not only block-aligned).  in and out may be equal.
 */
int  crypto_attach_xor(const uint8_t key[CRYPTO_ATTACH_KEY_LEN], uint64_t offset,
         const uint8_t *in, uint8_t *out, size_t len);

/* Incremental SHA-1 + SHA-256 of a ciphertext stream. */
struct crypto_hasher;
int  crypto_hasher_new(struct crypto_hasher **out);
int  crypto_hasher_update(struct crypto_hasher *h, const uint8_t *p, size_t len);
int  crypto_hasher_final(struct crypto_hasher *h, uint8_t sha1[CRYPTO_SHA1_LEN],
         uint8_t sha256[CRYPTO_SHA256_LEN]);
void crypto_hasher_free(struct crypto_hasher *h);

/* ---- At rest: chunked AES-256-GCM content files --------------------------
 *
 * docs/PROTOCOL.md "At rest".  The home's 32-byte storage key (keyring
 * purpose "storage") never encrypts anything itself: each content file has a
 * random 16-byte file id and its own subkey
 *     subkey = HKDF-SHA256(IKM = storage key, salt = file id,
 *                          info = "sealbox-atrest-v1", L = 32)
 * and is cut into chunks of at most CRYPTO_ATREST_CHUNK_MAX plaintext bytes,
 * each sealed on its own:
 *     chunk = nonce (12, random) || AES-256-GCM(subkey, nonce, AAD, pt) || tag (16)
 *     AAD   = file id (16) || u64be chunk index || u8 final (1 on the last
 *             chunk of the file, else 0)
 * so a chunk cannot be moved to another index or file, and dropping the
 * tail of a file is detected (the new last chunk lacks the final flag).
 * The I/O (file header, chunk placement) is agent/cfile's.
 */
#define CRYPTO_STORAGE_KEY_LEN      32
#define CRYPTO_ATREST_FILE_ID_LEN   16
#define CRYPTO_ATREST_NONCE_LEN     12
#define CRYPTO_ATREST_TAG_LEN       16
#define CRYPTO_ATREST_OVERHEAD      (CRYPTO_ATREST_NONCE_LEN + CRYPTO_ATREST_TAG_LEN)
#define CRYPTO_ATREST_CHUNK_MAX     65536u
#define CRYPTO_ATREST_INFO          "sealbox-atrest-v1"

/* One file's subkey (in the OpenSSL secure heap) and a reusable cipher
 * context.  Not thread-safe: one user at a time.  Free with
 * crypto_atrest_free (NULL accepted; the subkey is cleansed). */
struct crypto_atrest;

/* Derives the subkey of file_id under storage_key. */
int  crypto_atrest_new(const uint8_t storage_key[CRYPTO_STORAGE_KEY_LEN],
         const uint8_t file_id[CRYPTO_ATREST_FILE_ID_LEN],
         struct crypto_atrest **out);
void crypto_atrest_free(struct crypto_atrest *at);

/*
 * Seals len (<= CRYPTO_ATREST_CHUNK_MAX, 0 allowed) plaintext bytes as chunk
 * `index` (final: 0 or 1) with a fresh random nonce into out, which must
 * hold len + CRYPTO_ATREST_OVERHEAD bytes.  in and out must not overlap.
 * SB_ERR_INVALID_ARG for len over the cap.
 */
int  crypto_atrest_seal(struct crypto_atrest *at, uint64_t index, int final,
         const uint8_t *in, size_t len, uint8_t *out);
/*
 * Opens one on-disk chunk of len bytes (CRYPTO_ATREST_OVERHEAD ..
 * CRYPTO_ATREST_CHUNK_MAX + CRYPTO_ATREST_OVERHEAD) expected at `index`
 * with the given final flag; writes len - CRYPTO_ATREST_OVERHEAD bytes to
 * out only if the tag verifies (SB_ERR_TAG otherwise: tampered, wrong
 * index, wrong file, wrong final flag, wrong key; out is then zeroed).
 * SB_ERR_LENGTH for a len outside the bounds.
 */
int  crypto_atrest_open(struct crypto_atrest *at, uint64_t index, int final,
         const uint8_t *in, size_t len, uint8_t *out);

/* ---- At rest: small sealed records (the trust store) ---------------------
 *
 * docs/PROTOCOL.md "Sealed records".  One value of a database row (a pinned
 * identity, a verified key set, an alert's fields) sealed on its own under
 *     key   = HKDF-SHA256(IKM = storage key, salt = none, info = label, L = 32)
 *     value = u8 version (1) || nonce (12, random) || AES-256-GCM ct || tag (16)
 *     AAD   = u8 len || table || u8 len || column || u16be len || address ||
 *             u64be row id
 * so a value moved to another table, column, address or row id (or sealed
 * under another home's key or label) does not open.  Replaying an older
 * value of the same cell, or deleting a row, is not caught here (see
 * docs/SECURITY.md section 7).  The SQL is agent/trust_store.c's.
 */
#define CRYPTO_RECORD_VERSION   1
#define CRYPTO_RECORD_OVERHEAD  (1 + CRYPTO_ATREST_NONCE_LEN + CRYPTO_ATREST_TAG_LEN)
#define CRYPTO_RECORD_MAX       4096    /* plaintext cap: a verified set is 2 KiB */
#define CRYPTO_RECORD_NAME_MAX  64      /* table and column names */
#define CRYPTO_RECORD_ADDR_MAX  1024    /* the address bound into the AAD */
#define CRYPTO_RECORD_TRUST     "sealbox-trust-v1"

/* A record key (OpenSSL secure heap) and a reusable cipher context.  Not
 * thread-safe.  Free with crypto_record_free (NULL accepted; cleansed). */
struct crypto_record;

/* Derives the key of label (1..64 bytes of text) under storage_key. */
int  crypto_record_new(const uint8_t storage_key[CRYPTO_STORAGE_KEY_LEN],
         const char *label, struct crypto_record **out);
void crypto_record_free(struct crypto_record *r);

/* Where a value lives: bound into its AAD.  table and column are 1..64
 * bytes, address 0..CRYPTO_RECORD_ADDR_MAX bytes (address_len counts; no
 * NUL needed). */
struct crypto_record_at {
	const char *table;
	const char *column;
	const char *address;
	size_t address_len;
	uint64_t id;
};

/*
 * Seals len (<= CRYPTO_RECORD_MAX, 0 allowed) bytes with a fresh nonce,
 * appending len + CRYPTO_RECORD_OVERHEAD bytes to out (nothing on
 * failure).  SB_ERR_INVALID_ARG for a name or length out of bounds.
 */
int  crypto_record_seal(struct crypto_record *r, const struct crypto_record_at *at,
         const uint8_t *in, size_t len, struct sb_buf *out);
/*
 * Opens a sealed value expected at `at`, appending the plaintext to out only
 * when it authenticates.  SB_ERR_FORMAT for another version byte,
 * SB_ERR_LENGTH for a length outside the bounds, SB_ERR_TAG when the tag
 * does not verify (tampered, moved, another key).
 */
int  crypto_record_open(struct crypto_record *r, const struct crypto_record_at *at,
         const uint8_t *in, size_t len, struct sb_buf *out);

/* ---- Small helpers ------------------------------------------------------ */

/* Constant-time equality: 1 if equal, 0 otherwise. */
int  crypto_ct_equal(const void *a, const void *b, size_t len);
/* Fresh random bytes from the OS-seeded CSPRNG. */
int  crypto_random(void *out, size_t len);
/* Cleanses len bytes. */
void crypto_wipe(void *p, size_t len);

#endif
