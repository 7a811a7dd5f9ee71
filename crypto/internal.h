/*
 * internal.h - private to crypto/ and to its unit tests.
 *
 * Holds the two opaque structs and the building blocks crypto_seal() is
 * made of, split out so known-answer tests can fix the seed and the
 * ephemeral key, and tamper tests can build a payload with a wrong tag but
 * a valid signature.  Nothing outside crypto/ and tests/unit/ includes this
 * header; the mailbox code uses crypto.h only.
 *
 * Never does I/O.  Every function returns SB_OK or a negative SB_ERR_*.
 */
#ifndef SB_CRYPTO_INTERNAL_H
#define SB_CRYPTO_INTERNAL_H

#include <openssl/evp.h>

#include "crypto.h"

#define CRYPTO_SEED_LEN      11   /* 88-bit HMAC key (DESIGN.md 4) */
#define CRYPTO_TAG_LEN        5   /* 40-bit tag */
#define CRYPTO_MSG_KEY_LEN   16   /* K = seed || tag, AES-128 */
#define CRYPTO_WRAP_PREFIX  100   /* C[0..100) travels inside the key wrap */
#define CRYPTO_POINT_LEN     65   /* uncompressed P-256 point */
#define CRYPTO_SIG_MAX       72   /* DER ECDSA-P256 signature, at most */
#define CRYPTO_GCM_TAG_LEN   16
#define CRYPTO_EC_WRAP_KEY   32   /* AES-256-GCM key from HKDF */
/* Body overhead of suite ec: ephemeral point, K, GCM tag. */
#define CRYPTO_EC_BODY_MIN  (CRYPTO_POINT_LEN + CRYPTO_MSG_KEY_LEN + CRYPTO_GCM_TAG_LEN)
#define CRYPTO_BODY_MAX     0xffff
#define CRYPTO_EC_INFO      "sealbox-ecies-v1"

enum crypto_key_kind {
	CRYPTO_KEY_P256 = 1,
	CRYPTO_KEY_RSA  = 2,
};

struct crypto_key {
	EVP_PKEY *pkey;
	enum crypto_key_kind kind;
	unsigned bits;
	/* P-256 only: the public point, taken once at adoption; every seal
	 * checks the sender's identity against it, and exporting it from the
	 * EVP_PKEY each time (BIGNUM conversions) was most of what a seal
	 * cost beyond the primitives themselves. */
	uint8_t point[CRYPTO_POINT_LEN];
};

struct crypto_identity {
	enum crypto_suite suite;
	uint8_t der[CRYPTO_IDENTITY_MAX];
	size_t der_len;
	/* Contents of [1] and [2] (u16be length prefix included), in der. */
	size_t sign_off, sign_len;
	size_t enc_off, enc_len;
	uint8_t hash[CRYPTO_HASH_LEN];
	EVP_PKEY *sign_pub;     /* P-256 */
	EVP_PKEY *enc_pub;      /* RSA (pair) or P-256 (ec) */
	size_t rsa_len;         /* modulus bytes k; 0 for ec */
};

/* Maps a libcrypto failure to `err` after clearing OpenSSL's thread-local
 * error queue, so one failed parse leaves nothing for unrelated code. */
int crypto_ossl_fail(int err);

/* HKDF-SHA256 (RFC 5869): out_len bytes from ikm, salt (NULL/0: none) and
 * info. */
int crypto_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
        size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out,
        size_t out_len);

/* Uncompressed point (0x04 || X || Y) of a P-256 EVP_PKEY. */
int crypto_p256_point(const EVP_PKEY *pkey, uint8_t out[CRYPTO_POINT_LEN]);
/* Public P-256 key from an uncompressed point; validated (on curve).
 * SB_ERR_KEY_INVALID otherwise.  Caller frees with EVP_PKEY_free. */
int crypto_p256_from_point(const uint8_t point[CRYPTO_POINT_LEN], EVP_PKEY **out);
/* Wraps an EVP_PKEY (ownership moves in, also on failure) after checking
 * it is P-256 or RSA within bounds. */
int crypto_key_adopt(EVP_PKEY *pkey, struct crypto_key **out);

/* ECDSA-P256 over digest `md` ("SHA1" or "SHA256") of msg, DER output
 * appended to sig.  Verify returns SB_OK or SB_ERR_SIGNATURE. */
int crypto_ecdsa_sign(const struct crypto_key *k, const char *md,
        const uint8_t *msg, size_t len, struct sb_buf *sig);
int crypto_ecdsa_verify(EVP_PKEY *pub, const char *md, const uint8_t *msg,
        size_t len, const uint8_t *sig, size_t sig_len);

/*
 * K = seed || HMAC-SHA256(seed, m || 0x02 || hs || hr)[0..5)
 * (DESIGN.md 4; used by both suites).
 */
int crypto_msg_key(const uint8_t seed[CRYPTO_SEED_LEN], const uint8_t *m, size_t m_len,
        const uint8_t hs[CRYPTO_HASH_LEN], const uint8_t hr[CRYPTO_HASH_LEN],
        uint8_t k[CRYPTO_MSG_KEY_LEN]);
/* AES-128-CTR under K from counter block 00..01; in may equal out. */
int crypto_ctr128(const uint8_t k[CRYPTO_MSG_KEY_LEN], const uint8_t *in,
        uint8_t *out, size_t len);

/* AES-256-CTR from counter block iv, first skipping `skip` (< 16)
 * keystream bytes; shared by the attachment cipher. */
int crypto_ctr256_at(const uint8_t key[32], const uint8_t iv[16], size_t skip,
        const uint8_t *in, uint8_t *out, size_t len);

/*
 * Appends the body for `recipient`'s suite: the key wrap of
 * K || C[0..min(100,|C|)) followed by C[100..].  eph is the ephemeral
 * P-256 key for suite ec (NULL: a fresh one); ignored for pair.
 */
int crypto_body_build(const struct crypto_identity *sender,
        const struct crypto_identity *recipient, const uint8_t k[CRYPTO_MSG_KEY_LEN],
        const uint8_t *c, size_t c_len, const struct crypto_key *eph,
        struct sb_buf *body);
/* Appends version || u16be |body| || body || u8 |sig| || sig, with sig =
 * ECDSA-P256 over SHA-1(body). */
int crypto_payload_frame(const struct crypto_key *sender_sign, uint8_t version,
        const uint8_t *body, size_t body_len, struct sb_buf *payload);
/* Payload version byte for a recipient's suite. */
uint8_t crypto_payload_version(enum crypto_suite suite);

/* crypto_seal with a fixed seed (and, for ec, a fixed ephemeral key). */
int crypto_seal_with_seed(const struct crypto_key *sender_sign,
        const struct crypto_identity *sender, const struct crypto_identity *recipient,
        const uint8_t *m, size_t m_len, const uint8_t seed[CRYPTO_SEED_LEN],
        const struct crypto_key *eph, struct sb_buf *payload);

#endif
