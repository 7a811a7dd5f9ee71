/*
 * payload.c - per-device payloads: seal and open for suites pair and ec
 * (DESIGN.md 4; byte layouts in docs/PROTOCOL.md "Suite pair", "Suite ec").
 *
 *   K       = seed(11) || HMAC-SHA256(seed, M || 0x02 || H(s) || H(r))[0..5)
 *   C       = AES-128-CTR(K, M), counter block 00..01
 *   body    = wrap(K || C[0..min(100,|C|))) || C[100..]
 *   payload = version || u16be |body| || body || u8 |sig| || sig,
 *             sig = ECDSA-P256 over SHA-1(body)
 *   wrap    = RSA-OAEP-SHA1 (pair, version 0x02) or
 *             eph point || AES-256-GCM under HKDF-SHA256(ECDH) (ec, 0x03)
 *
 * Open parses the whole payload before any cryptography, then verifies,
 * unwraps, decrypts into a cleansing buffer and checks the tag in constant
 * time; plaintext reaches the caller only when all of it succeeded.  Never
 * does I/O; never compresses.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/rsa.h>

#include "../common/sberr.h"
#include "internal.h"

static const uint8_t ctr_iv[16] = { [15] = 0x01 };
static const uint8_t gcm_nonce[12];  /* zero: each wrap key is used once */

uint8_t
crypto_payload_version(enum crypto_suite suite)
{
	return suite == CRYPTO_SUITE_EC ? CRYPTO_PAYLOAD_V_EC : CRYPTO_PAYLOAD_V_PAIR;
}

static size_t
min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ---- K and C ------------------------------------------------------------ */

int
crypto_msg_key(const uint8_t seed[CRYPTO_SEED_LEN], const uint8_t *m, size_t m_len,
    const uint8_t hs[CRYPTO_HASH_LEN], const uint8_t hr[CRYPTO_HASH_LEN],
    uint8_t k[CRYPTO_MSG_KEY_LEN])
{
	static const uint8_t v2 = 0x02;
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	uint8_t full[32];
	size_t full_len = 0;
	char digest[] = "SHA256";
	int ok;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	ok = (ctx = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_init(ctx, seed, CRYPTO_SEED_LEN, params) == 1 &&
	    (m_len == 0 || EVP_MAC_update(ctx, m, m_len) == 1) &&
	    EVP_MAC_update(ctx, &v2, 1) == 1 &&
	    EVP_MAC_update(ctx, hs, CRYPTO_HASH_LEN) == 1 &&
	    EVP_MAC_update(ctx, hr, CRYPTO_HASH_LEN) == 1 &&
	    EVP_MAC_final(ctx, full, &full_len, sizeof(full)) == 1 &&
	    full_len == sizeof(full);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	if (ok) {
		memcpy(k, seed, CRYPTO_SEED_LEN);
		memcpy(k + CRYPTO_SEED_LEN, full, CRYPTO_TAG_LEN);
	}
	OPENSSL_cleanse(full, sizeof(full));
	return ok ? SB_OK : crypto_ossl_fail(SB_ERR_CRYPTO);
}

/* AES-CTR over len bytes, chunked because EVP lengths are int. */
static int
ctr_xor(const EVP_CIPHER *cipher, const uint8_t *key, const uint8_t iv[16],
    size_t skip, const uint8_t *in, uint8_t *out, size_t len)
{
	EVP_CIPHER_CTX *ctx;
	uint8_t pad[16] = { 0 };
	int outl, ok;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return SB_ERR_ALLOC;
	ok = EVP_EncryptInit_ex2(ctx, cipher, key, iv, NULL) == 1;
	/* Consume the keystream before an unaligned start offset. */
	if (ok && skip > 0)
		ok = EVP_EncryptUpdate(ctx, pad, &outl, pad, (int)skip) == 1;
	while (ok && len > 0) {
		size_t n = min_size(len, (size_t)1 << 30);

		ok = EVP_EncryptUpdate(ctx, out, &outl, in, (int)n) == 1 &&
		    (size_t)outl == n;
		in += n;
		out += n;
		len -= n;
	}
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(pad, sizeof(pad));
	return ok ? SB_OK : crypto_ossl_fail(SB_ERR_CRYPTO);
}

int
crypto_ctr128(const uint8_t k[CRYPTO_MSG_KEY_LEN], const uint8_t *in,
    uint8_t *out, size_t len)
{
	if (len == 0)
		return SB_OK;
	return ctr_xor(EVP_aes_128_ctr(), k, ctr_iv, 0, in, out, len);
}

int
crypto_ctr256_at(const uint8_t key[32], const uint8_t iv[16], size_t skip,
    const uint8_t *in, uint8_t *out, size_t len)
{
	return ctr_xor(EVP_aes_256_ctr(), key, iv, skip, in, out, len);
}

/* ---- Suite pair: RSA-OAEP(SHA-1, MGF1-SHA-1, empty label) ---------------- */

static int
oaep_ctx(EVP_PKEY *pkey, int decrypt, EVP_PKEY_CTX **out)
{
	char pad[] = OSSL_PKEY_RSA_PAD_MODE_OAEP, sha1[] = "SHA1", mgf[] = "SHA1";
	OSSL_PARAM params[4];
	EVP_PKEY_CTX *ctx;
	int ok;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, pad, 0);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, sha1, 0);
	params[2] = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, mgf, 0);
	params[3] = OSSL_PARAM_construct_end();
	*out = NULL;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	ok = decrypt ? EVP_PKEY_decrypt_init_ex(ctx, params) == 1 :
	    EVP_PKEY_encrypt_init_ex(ctx, params) == 1;
	if (!ok) {
		EVP_PKEY_CTX_free(ctx);
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	}
	*out = ctx;
	return SB_OK;
}

static int
wrap_pair(const struct crypto_identity *recipient, const uint8_t *kc, size_t kc_len,
    struct sb_buf *body)
{
	EVP_PKEY_CTX *ctx;
	uint8_t *dst;
	size_t outlen = recipient->rsa_len;
	int rc;

	if ((rc = oaep_ctx(recipient->enc_pub, 0, &ctx)) != SB_OK)
		return rc;
	if ((rc = sb_buf_reserve(body, recipient->rsa_len, &dst)) != SB_OK) {
		EVP_PKEY_CTX_free(ctx);
		return rc;
	}
	if (EVP_PKEY_encrypt(ctx, dst, &outlen, kc, kc_len) != 1 ||
	    outlen != recipient->rsa_len) {
		EVP_PKEY_CTX_free(ctx);
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	}
	EVP_PKEY_CTX_free(ctx);
	return SB_OK;
}

/* Unwraps the RSA block into kc (cleansing); SB_ERR_UNWRAP on any failure. */
static int
unwrap_pair(const struct crypto_key *enc, const uint8_t *block, size_t block_len,
    struct sb_buf *kc)
{
	EVP_PKEY_CTX *ctx;
	uint8_t *dst;
	size_t outlen = block_len;
	int rc;

	if ((rc = oaep_ctx(enc->pkey, 1, &ctx)) != SB_OK)
		return rc;
	if ((rc = sb_buf_reserve(kc, block_len, &dst)) != SB_OK) {
		EVP_PKEY_CTX_free(ctx);
		return rc;
	}
	if (EVP_PKEY_decrypt(ctx, dst, &outlen, block, block_len) != 1) {
		EVP_PKEY_CTX_free(ctx);
		sb_buf_truncate(kc, 0);
		return crypto_ossl_fail(SB_ERR_UNWRAP);
	}
	EVP_PKEY_CTX_free(ctx);
	sb_buf_truncate(kc, outlen);
	return SB_OK;
}

/* ---- Suite ec: ECIES ---------------------------------------------------- */

/*
 * wrap key = HKDF-SHA256(ikm = ECDH x-coordinate,
 *                        salt = H(sender) || H(recipient),
 *                        info = "sealbox-ecies-v1" || eph point)[0..32)
 */
static int
ec_wrap_key(EVP_PKEY *priv, EVP_PKEY *peer, const struct crypto_identity *sender,
    const struct crypto_identity *recipient, const uint8_t eph[CRYPTO_POINT_LEN],
    uint8_t key[CRYPTO_EC_WRAP_KEY])
{
	uint8_t z[32], salt[2 * CRYPTO_HASH_LEN];
	uint8_t info[sizeof(CRYPTO_EC_INFO) - 1 + CRYPTO_POINT_LEN];
	size_t zlen = sizeof(z);
	EVP_PKEY_CTX *dctx;
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5];
	char digest[] = "SHA256";
	int ok;

	if ((dctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL)) == NULL)
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	ok = EVP_PKEY_derive_init(dctx) == 1 &&
	    EVP_PKEY_derive_set_peer(dctx, peer) == 1 &&
	    EVP_PKEY_derive(dctx, z, &zlen) == 1 && zlen == sizeof(z);
	EVP_PKEY_CTX_free(dctx);
	if (!ok) {
		OPENSSL_cleanse(z, sizeof(z));
		return crypto_ossl_fail(SB_ERR_UNWRAP);
	}
	memcpy(salt, sender->hash, CRYPTO_HASH_LEN);
	memcpy(salt + CRYPTO_HASH_LEN, recipient->hash, CRYPTO_HASH_LEN);
	memcpy(info, CRYPTO_EC_INFO, sizeof(CRYPTO_EC_INFO) - 1);
	memcpy(info + sizeof(CRYPTO_EC_INFO) - 1, eph, CRYPTO_POINT_LEN);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z, sizeof(z));
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof(salt));
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info));
	params[4] = OSSL_PARAM_construct_end();
	ok = (kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) != NULL &&
	    (kctx = EVP_KDF_CTX_new(kdf)) != NULL &&
	    EVP_KDF_derive(kctx, key, CRYPTO_EC_WRAP_KEY, params) == 1;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	OPENSSL_cleanse(z, sizeof(z));
	return ok ? SB_OK : crypto_ossl_fail(SB_ERR_CRYPTO);
}

/* AES-256-GCM, empty AAD: out receives len bytes then the 16-byte tag
 * (encrypt), or len plaintext bytes after the tag checked (decrypt). */
static int
gcm(int enc, const uint8_t key[CRYPTO_EC_WRAP_KEY], const uint8_t *in, size_t len,
    uint8_t *tag, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx;
	OSSL_PARAM params[2];
	uint8_t last[16];
	int outl = 0, ok;

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
	    tag, CRYPTO_GCM_TAG_LEN);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return SB_ERR_ALLOC;
	ok = EVP_CipherInit_ex2(ctx, EVP_aes_256_gcm(), key, gcm_nonce, enc, NULL) == 1 &&
	    EVP_CipherUpdate(ctx, out, &outl, in, (int)len) == 1 && (size_t)outl == len;
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_set_params(ctx, params) == 1;
	ok = ok && EVP_CipherFinal_ex(ctx, last, &outl) == 1 && outl == 0;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_get_params(ctx, params) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? SB_OK : crypto_ossl_fail(enc ? SB_ERR_CRYPTO : SB_ERR_UNWRAP);
}

static int
wrap_ec(const struct crypto_identity *sender, const struct crypto_identity *recipient,
    const uint8_t *kc, size_t kc_len, const struct crypto_key *eph_in,
    struct sb_buf *body)
{
	struct crypto_key *fresh = NULL;
	const struct crypto_key *eph = eph_in;
	uint8_t point[CRYPTO_POINT_LEN], key[CRYPTO_EC_WRAP_KEY], *dst;
	int rc;

	if (eph == NULL) {
		if ((rc = crypto_key_generate_sign(&fresh)) != SB_OK)
			return rc;
		eph = fresh;
	}
	if (eph->kind != CRYPTO_KEY_P256) {
		rc = SB_ERR_KEY_TYPE;
		goto out;
	}
	memcpy(point, eph->point, sizeof(point));   /* taken at the key's adoption */
	if ((rc = ec_wrap_key(eph->pkey, recipient->enc_pub, sender, recipient,
	    point, key)) != SB_OK ||
	    (rc = sb_put_bytes(body, point, sizeof(point))) != SB_OK ||
	    (rc = sb_buf_reserve(body, kc_len + CRYPTO_GCM_TAG_LEN, &dst)) != SB_OK)
		goto out;
	rc = gcm(1, key, kc, kc_len, dst + kc_len, dst);
out:
	OPENSSL_cleanse(key, sizeof(key));
	crypto_key_free(fresh);
	return rc;
}

/* block = eph point || GCM ciphertext || GCM tag; kc gets the plaintext. */
static int
unwrap_ec(const struct crypto_key *enc, const struct crypto_identity *sender,
    const struct crypto_identity *recipient, const uint8_t *block, size_t block_len,
    struct sb_buf *kc)
{
	EVP_PKEY *eph = NULL;
	uint8_t key[CRYPTO_EC_WRAP_KEY], tag[CRYPTO_GCM_TAG_LEN], *dst;
	size_t ct_len = block_len - CRYPTO_POINT_LEN - CRYPTO_GCM_TAG_LEN;
	int rc;

	/* The caller checked block_len >= CRYPTO_EC_BODY_MIN. */
	if (crypto_p256_from_point(block, &eph) != SB_OK)
		return SB_ERR_UNWRAP;
	memcpy(tag, block + CRYPTO_POINT_LEN + ct_len, sizeof(tag));
	if ((rc = ec_wrap_key(enc->pkey, eph, sender, recipient, block, key)) == SB_OK &&
	    (rc = sb_buf_reserve(kc, ct_len, &dst)) == SB_OK)
		rc = gcm(0, key, block + CRYPTO_POINT_LEN, ct_len, tag, dst);
	if (rc != SB_OK)
		sb_buf_truncate(kc, 0);
	OPENSSL_cleanse(key, sizeof(key));
	EVP_PKEY_free(eph);
	return rc;
}

/* ---- Building blocks shared by seal and the tests ----------------------- */

int
crypto_body_build(const struct crypto_identity *sender,
    const struct crypto_identity *recipient, const uint8_t k[CRYPTO_MSG_KEY_LEN],
    const uint8_t *c, size_t c_len, const struct crypto_key *eph,
    struct sb_buf *body)
{
	uint8_t kc[CRYPTO_MSG_KEY_LEN + CRYPTO_WRAP_PREFIX];
	size_t n0 = min_size(c_len, CRYPTO_WRAP_PREFIX);
	int rc;

	memcpy(kc, k, CRYPTO_MSG_KEY_LEN);
	if (n0 > 0)
		memcpy(kc + CRYPTO_MSG_KEY_LEN, c, n0);
	if (recipient->suite == CRYPTO_SUITE_EC)
		rc = wrap_ec(sender, recipient, kc, CRYPTO_MSG_KEY_LEN + n0, eph, body);
	else
		rc = wrap_pair(recipient, kc, CRYPTO_MSG_KEY_LEN + n0, body);
	OPENSSL_cleanse(kc, sizeof(kc));
	if (rc == SB_OK && c_len > n0)
		rc = sb_put_bytes(body, c + n0, c_len - n0);
	return rc;
}

int
crypto_payload_frame(const struct crypto_key *sender_sign, uint8_t version,
    const uint8_t *body, size_t body_len, struct sb_buf *payload)
{
	struct sb_buf sig = SB_BUF_INIT;
	int rc;

	if (body_len > CRYPTO_BODY_MAX)
		return SB_ERR_TOO_BIG;
	if ((rc = crypto_ecdsa_sign(sender_sign, "SHA1", body, body_len, &sig)) == SB_OK) {
		sb_put_u8(payload, version);
		sb_put_string16(payload, body, body_len);
		rc = sb_put_string8(payload, sig.d, sig.len);
	}
	sb_buf_free(&sig);
	return rc;
}

size_t
crypto_seal_max_plaintext(const struct crypto_identity *recipient)
{
	if (recipient == NULL)
		return 0;
	if (recipient->suite == CRYPTO_SUITE_EC)
		return CRYPTO_BODY_MAX - CRYPTO_EC_BODY_MIN;
	/* body = k + (|M| - 100) once |M| > 100. */
	return CRYPTO_BODY_MAX - recipient->rsa_len + CRYPTO_WRAP_PREFIX;
}

int
crypto_seal_with_seed(const struct crypto_key *sender_sign,
    const struct crypto_identity *sender, const struct crypto_identity *recipient,
    const uint8_t *m, size_t m_len, const uint8_t seed[CRYPTO_SEED_LEN],
    const struct crypto_key *eph, struct sb_buf *payload)
{
	struct sb_buf c = SB_BUF_INIT, body = SB_BUF_INIT, out = SB_BUF_INIT;
	uint8_t k[CRYPTO_MSG_KEY_LEN], *dst = NULL;
	int rc;

	if (sender_sign == NULL || sender == NULL || recipient == NULL ||
	    payload == NULL || seed == NULL || (m == NULL && m_len > 0))
		return SB_ERR_INVALID_ARG;
	if (sender_sign->kind != CRYPTO_KEY_P256)
		return SB_ERR_KEY_TYPE;
	if (!crypto_identity_matches(sender, sender_sign, NULL))
		return SB_ERR_INVALID_ARG;
	if (m_len > crypto_seal_max_plaintext(recipient))
		return SB_ERR_TOO_BIG;
	if ((rc = crypto_msg_key(seed, m, m_len, sender->hash, recipient->hash, k)) != SB_OK)
		return rc;
	if (m_len > 0 && (rc = sb_buf_reserve(&c, m_len, &dst)) == SB_OK)
		rc = crypto_ctr128(k, m, dst, m_len);
	if (rc == SB_OK &&
	    (rc = crypto_body_build(sender, recipient, k, c.d, m_len, eph, &body)) == SB_OK &&
	    (rc = crypto_payload_frame(sender_sign, crypto_payload_version(recipient->suite),
	    body.d, body.len, &out)) == SB_OK)
		rc = sb_put_bytes(payload, out.d, out.len);
	OPENSSL_cleanse(k, sizeof(k));
	sb_buf_free(&c);
	sb_buf_free(&body);
	sb_buf_free(&out);
	return rc;
}

int
crypto_seal(const struct crypto_key *sender_sign,
    const struct crypto_identity *sender, const struct crypto_identity *recipient,
    const uint8_t *m, size_t m_len, struct sb_buf *payload)
{
	uint8_t seed[CRYPTO_SEED_LEN];
	int rc;

	if ((rc = crypto_random(seed, sizeof(seed))) != SB_OK)
		return rc;
	rc = crypto_seal_with_seed(sender_sign, sender, recipient, m, m_len, seed,
	    NULL, payload);
	OPENSSL_cleanse(seed, sizeof(seed));
	return rc;
}

/* ---- Open --------------------------------------------------------------- */

struct parsed {
	const uint8_t *body, *sig;
	size_t body_len, sig_len;
};

/* Structure only: version, lengths, nothing trailing.  No cryptography. */
static int
parse_payload(const struct crypto_identity *recipient, const uint8_t *p, size_t len,
    struct parsed *out)
{
	struct sb_reader r;
	uint8_t version;
	int rc;

	memset(out, 0, sizeof(*out));
	sb_reader_init(&r, p, len);
	if ((rc = sb_get_u8(&r, &version)) != SB_OK)
		return rc;
	if (version != crypto_payload_version(recipient->suite))
		return SB_ERR_FORMAT;
	if ((rc = sb_get_string16_direct(&r, &out->body, &out->body_len,
	    CRYPTO_BODY_MAX)) != SB_OK ||
	    (rc = sb_get_string8_direct(&r, &out->sig, &out->sig_len, 0xff)) != SB_OK ||
	    (rc = sb_reader_expect_end(&r)) != SB_OK)
		return rc;
	if (out->sig_len == 0 || out->sig_len > CRYPTO_SIG_MAX)
		return SB_ERR_LENGTH;
	if (out->body_len < (recipient->suite == CRYPTO_SUITE_EC ?
	    CRYPTO_EC_BODY_MIN : recipient->rsa_len))
		return SB_ERR_LENGTH;
	return SB_OK;
}

/*
 * Unwraps K || C0 into kc and returns through *wrapped how many body bytes
 * the wrap occupied (the rest of the body is C[100..]).
 */
static int
unwrap(const struct crypto_key *enc, const struct crypto_identity *sender,
    const struct crypto_identity *recipient, const struct parsed *pp,
    struct sb_buf *kc, size_t *wrapped)
{
	size_t n0;

	if (recipient->suite == CRYPTO_SUITE_EC) {
		/* |body| = 97 + |M|, so the wrap length follows from |body|. */
		n0 = min_size(pp->body_len - CRYPTO_EC_BODY_MIN, CRYPTO_WRAP_PREFIX);
		*wrapped = CRYPTO_EC_BODY_MIN + n0;
		return unwrap_ec(enc, sender, recipient, pp->body, *wrapped, kc);
	}
	*wrapped = recipient->rsa_len;
	return unwrap_pair(enc, pp->body, recipient->rsa_len, kc);
}

/* Recomputes the tag from seed = K[0..11) and the decrypted M; compares
 * in constant time (DESIGN.md 4). */
static int
check_tag(const uint8_t k[CRYPTO_MSG_KEY_LEN], const uint8_t *m, size_t m_len,
    const struct crypto_identity *sender, const struct crypto_identity *recipient)
{
	uint8_t k2[CRYPTO_MSG_KEY_LEN];
	int rc, eq;

	if ((rc = crypto_msg_key(k, m, m_len, sender->hash, recipient->hash, k2)) != SB_OK)
		return rc;
	eq = CRYPTO_memcmp(k2 + CRYPTO_SEED_LEN, k + CRYPTO_SEED_LEN, CRYPTO_TAG_LEN) == 0;
	OPENSSL_cleanse(k2, sizeof(k2));
	return eq ? SB_OK : SB_ERR_TAG;
}

int
crypto_open(const struct crypto_key *recipient_enc,
    const struct crypto_identity *recipient, const struct crypto_identity *sender,
    const uint8_t *payload, size_t len, struct sb_buf *plain)
{
	struct sb_buf kc = SB_BUF_INIT, c = SB_BUF_INIT, m = SB_BUF_INIT;
	struct parsed pp;
	uint8_t k[CRYPTO_MSG_KEY_LEN], *dst;
	size_t wrapped, n0, rest, m_len;
	int rc;

	if (recipient_enc == NULL || recipient == NULL || sender == NULL ||
	    plain == NULL || (payload == NULL && len > 0))
		return SB_ERR_INVALID_ARG;
	if (recipient_enc->kind != (recipient->suite == CRYPTO_SUITE_EC ?
	    CRYPTO_KEY_P256 : CRYPTO_KEY_RSA))
		return SB_ERR_KEY_TYPE;
	/* H(recipient) must describe the key we decrypt with, or the tag
	 * would bind the wrong identity. */
	if (!crypto_identity_matches(recipient, NULL, recipient_enc))
		return SB_ERR_INVALID_ARG;
	if ((rc = parse_payload(recipient, payload, len, &pp)) != SB_OK)
		return rc;
	if ((rc = crypto_ecdsa_verify(sender->sign_pub, "SHA1", pp.body, pp.body_len,
	    pp.sig, pp.sig_len)) != SB_OK)
		return rc;
	if ((rc = unwrap(recipient_enc, sender, recipient, &pp, &kc, &wrapped)) != SB_OK)
		goto out;
	/* K || C0 where C0 is all of C (short message) or its first 100
	 * bytes (then the body continues past the wrap). */
	rest = pp.body_len - wrapped;
	if (kc.len < CRYPTO_MSG_KEY_LEN ||
	    kc.len > CRYPTO_MSG_KEY_LEN + CRYPTO_WRAP_PREFIX ||
	    (rest > 0 && kc.len != CRYPTO_MSG_KEY_LEN + CRYPTO_WRAP_PREFIX)) {
		rc = SB_ERR_LENGTH;
		goto out;
	}
	n0 = kc.len - CRYPTO_MSG_KEY_LEN;
	m_len = n0 + rest;
	memcpy(k, kc.d, CRYPTO_MSG_KEY_LEN);
	sb_put_bytes(&c, kc.d + CRYPTO_MSG_KEY_LEN, n0);
	if ((rc = sb_put_bytes(&c, pp.body + wrapped, rest)) != SB_OK)
		goto out;
	if (m_len > 0) {
		if ((rc = sb_buf_reserve(&m, m_len, &dst)) != SB_OK ||
		    (rc = crypto_ctr128(k, c.d, dst, m_len)) != SB_OK)
			goto out;
	}
	if ((rc = check_tag(k, m.d, m_len, sender, recipient)) != SB_OK)
		goto out;
	rc = sb_put_bytes(plain, m.d, m_len);
out:
	OPENSSL_cleanse(k, sizeof(k));
	sb_buf_free(&kc);
	sb_buf_free(&c);
	sb_buf_free(&m);
	return rc;
}
