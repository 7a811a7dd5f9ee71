/*
 * identity.c - the public identity blob and H(identity) (DESIGN.md 4,
 * docs/PROTOCOL.md "Identity").
 *
 *   identity = SEQUENCE { [1] IMPLICIT OCTET STRING sign,
 *                         [2] IMPLICIT OCTET STRING enc }
 *   sign = u16be 65 || 0x04 || X || Y
 *   enc  = u16be len || (uncompressed P-256 point | PKCS#1 RSAPublicKey)
 *   H    = SHA-256(sign || enc)
 *
 * The suite is read from enc: 65 bytes starting 0x04 is ec, a DER SEQUENCE
 * (0x30) is pair.  Every identity, including the ones built from our own
 * keys, goes through the one strict parser below; it never accepts
 * trailing bytes, non-minimal DER, points off the curve or RSA moduli
 * outside 1280..4096 bits.  Never does I/O.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "../common/sberr.h"
#include "internal.h"

#define TAG_SEQUENCE  0x30
#define TAG_INTEGER   0x02
#define TAG_SIGN      0x81  /* [1] IMPLICIT, primitive */
#define TAG_ENC       0x82  /* [2] IMPLICIT, primitive */
/* RSAPublicKey of RSA-4096 with e < 2^32: 4 + (4 + 513) + (2 + 5). */
#define RSA_PUB_DER_MAX 528
#define RSA_E_MAX_BYTES 4

/* ---- DER INTEGER helpers ------------------------------------------------ */

/* Checks a DER INTEGER's contents are a minimal, positive encoding and
 * returns the magnitude without its sign octet. */
static int
der_uint(const uint8_t *p, size_t n, const uint8_t **mag, size_t *mag_len)
{
	*mag = NULL;
	*mag_len = 0;
	if (n == 0 || (p[0] & 0x80) != 0)
		return SB_ERR_FORMAT;           /* empty or negative */
	if (n >= 2 && p[0] == 0 && (p[1] & 0x80) == 0)
		return SB_ERR_FORMAT;           /* non-minimal */
	if (p[0] == 0) {
		p++;
		n--;
	}
	if (n == 0)
		return SB_ERR_FORMAT;           /* zero */
	*mag = p;
	*mag_len = n;
	return SB_OK;
}

static int
put_der_uint(struct sb_buf *b, const BIGNUM *bn)
{
	uint8_t tmp[RSA_PUB_DER_MAX];
	int n = BN_num_bytes(bn);

	if (n <= 0 || (size_t)n + 1 > sizeof(tmp))
		return SB_ERR_KEY_TYPE;
	tmp[0] = 0;
	BN_bn2bin(bn, tmp + 1);
	/* A set top bit would read as negative: keep the zero octet. */
	if (tmp[1] & 0x80)
		return sb_put_der_tlv(b, TAG_INTEGER, tmp, (size_t)n + 1);
	return sb_put_der_tlv(b, TAG_INTEGER, tmp + 1, (size_t)n);
}

/* ---- Parsing the encryption key of suite pair --------------------------- */

static int
rsa_from_ne(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
    EVP_PKEY **out, size_t *mod_len)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *bn = NULL, *be = NULL;
	int bits, rc = SB_ERR_KEY_INVALID;

	*out = NULL;
	*mod_len = 0;
	if (e_len > RSA_E_MAX_BYTES)
		return SB_ERR_KEY_TYPE;
	if ((bn = BN_bin2bn(n, (int)n_len, NULL)) == NULL ||
	    (be = BN_bin2bn(e, (int)e_len, NULL)) == NULL) {
		rc = crypto_ossl_fail(SB_ERR_ALLOC);
		goto out;
	}
	bits = BN_num_bits(bn);
	if (bits < CRYPTO_RSA_BITS_MIN || bits > CRYPTO_RSA_BITS_MAX) {
		rc = SB_ERR_KEY_TYPE;
		goto out;
	}
	/* A real modulus and exponent are odd; e = 1 would be no cipher. */
	if (!BN_is_odd(bn) || !BN_is_odd(be) || BN_is_one(be))
		goto out;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(*out);
		*out = NULL;
		rc = crypto_ossl_fail(SB_ERR_KEY_INVALID);
		goto out;
	}
	*mod_len = ((size_t)bits + 7) / 8;
	rc = SB_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return rc;
}

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
static int
parse_rsa_pub(const uint8_t *der, size_t len, EVP_PKEY **out, size_t *mod_len)
{
	struct sb_reader r, seq;
	const uint8_t *body, *n, *e, *nm, *em;
	size_t body_len, n_len, e_len, nm_len, em_len;
	int rc;

	*out = NULL;
	*mod_len = 0;
	sb_reader_init(&r, der, len);
	if ((rc = sb_get_der_tlv_direct(&r, TAG_SEQUENCE, &body, &body_len)) != SB_OK ||
	    (rc = sb_reader_expect_end(&r)) != SB_OK)
		return rc;
	sb_reader_init(&seq, body, body_len);
	if ((rc = sb_get_der_tlv_direct(&seq, TAG_INTEGER, &n, &n_len)) != SB_OK ||
	    (rc = sb_get_der_tlv_direct(&seq, TAG_INTEGER, &e, &e_len)) != SB_OK ||
	    (rc = sb_reader_expect_end(&seq)) != SB_OK)
		return rc;
	if ((rc = der_uint(n, n_len, &nm, &nm_len)) != SB_OK ||
	    (rc = der_uint(e, e_len, &em, &em_len)) != SB_OK)
		return rc;
	return rsa_from_ne(nm, nm_len, em, em_len, out, mod_len);
}

/* ---- The identity blob -------------------------------------------------- */

/* One [n] OCTET STRING's contents: u16be len || key, nothing after. */
static int
parse_keyfield(const uint8_t *p, size_t n, const uint8_t **key, size_t *key_len)
{
	struct sb_reader r;
	int rc;

	sb_reader_init(&r, p, n);
	if ((rc = sb_get_string16_direct(&r, key, key_len, RSA_PUB_DER_MAX)) != SB_OK)
		return rc;
	return sb_reader_expect_end(&r);
}

static void
identity_hash(struct crypto_identity *id, int *ok)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	*ok = ctx != NULL &&
	    EVP_DigestInit_ex2(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, id->der + id->sign_off, id->sign_len) == 1 &&
	    EVP_DigestUpdate(ctx, id->der + id->enc_off, id->enc_len) == 1 &&
	    EVP_DigestFinal_ex(ctx, id->hash, NULL) == 1;
	EVP_MD_CTX_free(ctx);
}

/* Parses id->der (already copied in) and fills the rest of *id. */
static int
parse_into(struct crypto_identity *id)
{
	struct sb_reader r, seq;
	const uint8_t *body, *sign, *enc, *key;
	size_t body_len, sign_len, enc_len, key_len;
	int rc, ok;

	sb_reader_init(&r, id->der, id->der_len);
	if ((rc = sb_get_der_tlv_direct(&r, TAG_SEQUENCE, &body, &body_len)) != SB_OK ||
	    (rc = sb_reader_expect_end(&r)) != SB_OK)
		return rc;
	sb_reader_init(&seq, body, body_len);
	if ((rc = sb_get_der_tlv_direct(&seq, TAG_SIGN, &sign, &sign_len)) != SB_OK ||
	    (rc = sb_get_der_tlv_direct(&seq, TAG_ENC, &enc, &enc_len)) != SB_OK ||
	    (rc = sb_reader_expect_end(&seq)) != SB_OK)
		return rc;
	id->sign_off = (size_t)(sign - id->der);
	id->sign_len = sign_len;
	id->enc_off = (size_t)(enc - id->der);
	id->enc_len = enc_len;

	if ((rc = parse_keyfield(sign, sign_len, &key, &key_len)) != SB_OK)
		return rc;
	if (key_len != CRYPTO_POINT_LEN || key[0] != 0x04)
		return SB_ERR_KEY_TYPE;
	if ((rc = crypto_p256_from_point(key, &id->sign_pub)) != SB_OK)
		return rc;

	if ((rc = parse_keyfield(enc, enc_len, &key, &key_len)) != SB_OK)
		return rc;
	if (key_len == CRYPTO_POINT_LEN && key[0] == 0x04) {
		id->suite = CRYPTO_SUITE_EC;
		rc = crypto_p256_from_point(key, &id->enc_pub);
	} else if (key_len > 0 && key[0] == TAG_SEQUENCE) {
		id->suite = CRYPTO_SUITE_PAIR;
		rc = parse_rsa_pub(key, key_len, &id->enc_pub, &id->rsa_len);
	} else {
		rc = SB_ERR_KEY_TYPE;
	}
	if (rc != SB_OK)
		return rc;
	identity_hash(id, &ok);
	return ok ? SB_OK : crypto_ossl_fail(SB_ERR_CRYPTO);
}

int
crypto_identity_parse(const uint8_t *der, size_t len, struct crypto_identity **out)
{
	struct crypto_identity *id;
	int rc;

	*out = NULL;
	if (der == NULL || len == 0)
		return SB_ERR_TRUNCATED;
	if (len > CRYPTO_IDENTITY_MAX)
		return SB_ERR_LENGTH;
	if ((id = calloc(1, sizeof(*id))) == NULL)
		return SB_ERR_ALLOC;
	memcpy(id->der, der, len);
	id->der_len = len;
	if ((rc = parse_into(id)) != SB_OK) {
		crypto_identity_free(id);
		return rc;
	}
	*out = id;
	return SB_OK;
}

void
crypto_identity_free(struct crypto_identity *id)
{
	if (id == NULL)
		return;
	EVP_PKEY_free(id->sign_pub);
	EVP_PKEY_free(id->enc_pub);
	free(id);
}

/* ---- Building identities from private keys ------------------------------ */

static int
put_p256_field(struct sb_buf *b, const struct crypto_key *k)
{
	if (k->kind != CRYPTO_KEY_P256)
		return SB_ERR_KEY_TYPE;
	return sb_put_string16(b, k->point, sizeof(k->point));
}

static int
put_rsa_field(struct sb_buf *b, const struct crypto_key *k)
{
	struct sb_buf ints = SB_BUF_INIT, seq = SB_BUF_INIT;
	BIGNUM *n = NULL, *e = NULL;
	int rc;

	if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
		rc = crypto_ossl_fail(SB_ERR_CRYPTO);
		goto out;
	}
	if ((rc = put_der_uint(&ints, n)) != SB_OK ||
	    (rc = put_der_uint(&ints, e)) != SB_OK ||
	    (rc = sb_put_der_tlv(&seq, TAG_SEQUENCE, ints.d, ints.len)) != SB_OK)
		goto out;
	rc = sb_put_string16(b, seq.d, seq.len);
out:
	BN_free(n);
	BN_free(e);
	sb_buf_free(&ints);
	sb_buf_free(&seq);
	return rc;
}

/* Appends the contents of [1] (which == TAG_SIGN) or [2] for key k. */
static int
put_field(struct sb_buf *b, uint8_t which, const struct crypto_key *k)
{
	if (which == TAG_SIGN || k->kind == CRYPTO_KEY_P256)
		return put_p256_field(b, k);
	return put_rsa_field(b, k);
}

int
crypto_identity_from_keys(const struct crypto_key *sign_key,
    const struct crypto_key *enc_key, struct crypto_identity **out)
{
	struct sb_buf f1 = SB_BUF_INIT, f2 = SB_BUF_INIT, inner = SB_BUF_INIT,
	    der = SB_BUF_INIT;
	int rc;

	*out = NULL;
	if (sign_key == NULL || enc_key == NULL)
		return SB_ERR_INVALID_ARG;
	if (sign_key->kind != CRYPTO_KEY_P256)
		return SB_ERR_KEY_TYPE;
	if ((rc = put_field(&f1, TAG_SIGN, sign_key)) == SB_OK &&
	    (rc = put_field(&f2, TAG_ENC, enc_key)) == SB_OK &&
	    (rc = sb_put_der_tlv(&inner, TAG_SIGN, f1.d, f1.len)) == SB_OK &&
	    (rc = sb_put_der_tlv(&inner, TAG_ENC, f2.d, f2.len)) == SB_OK &&
	    (rc = sb_put_der_tlv(&der, TAG_SEQUENCE, inner.d, inner.len)) == SB_OK)
		rc = crypto_identity_parse(der.d, der.len, out);
	sb_buf_free(&f1);
	sb_buf_free(&f2);
	sb_buf_free(&inner);
	sb_buf_free(&der);
	return rc;
}

/* ---- Accessors ---------------------------------------------------------- */

void
crypto_identity_der(const struct crypto_identity *id, const uint8_t **der, size_t *len)
{
	*der = id->der;
	*len = id->der_len;
}

const uint8_t *
crypto_identity_hash(const struct crypto_identity *id)
{
	return id->hash;
}

enum crypto_suite
crypto_identity_suite(const struct crypto_identity *id)
{
	return id->suite;
}

/* 1 if the identity field at (off, len) encodes k's public key. */
static int
field_matches(const struct crypto_identity *id, size_t off, size_t len,
    uint8_t which, const struct crypto_key *k)
{
	struct sb_buf f = SB_BUF_INIT;
	int eq;

	if (put_field(&f, which, k) != SB_OK) {
		sb_buf_free(&f);
		return 0;
	}
	eq = f.len == len && crypto_ct_equal(f.d, id->der + off, len);
	sb_buf_free(&f);
	return eq;
}

int
crypto_identity_matches(const struct crypto_identity *id,
    const struct crypto_key *sign_key, const struct crypto_key *enc_key)
{
	if (id == NULL || (sign_key == NULL && enc_key == NULL))
		return 0;
	if (sign_key != NULL && (sign_key->kind != CRYPTO_KEY_P256 ||
	    !field_matches(id, id->sign_off, id->sign_len, TAG_SIGN, sign_key)))
		return 0;
	if (enc_key != NULL) {
		enum crypto_key_kind want = id->suite == CRYPTO_SUITE_EC ?
		    CRYPTO_KEY_P256 : CRYPTO_KEY_RSA;

		if (enc_key->kind != want ||
		    !field_matches(id, id->enc_off, id->enc_len, TAG_ENC, enc_key))
			return 0;
	}
	return 1;
}

int
crypto_verify(const struct crypto_identity *id, const uint8_t *msg, size_t len,
    const uint8_t *sig, size_t sig_len)
{
	if (id == NULL || (msg == NULL && len > 0) || sig == NULL)
		return SB_ERR_SIGNATURE;
	return crypto_ecdsa_verify(id->sign_pub, "SHA256", msg, len, sig, sig_len);
}
