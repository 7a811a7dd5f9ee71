/*
 * key.c - device private keys: generation, PKCS#8 (DER/PEM) in memory,
 * ECDSA signatures.
 *
 * Never does I/O (PEM goes through memory only) and never hands a private
 * key out other than as PKCS#8 in a cleansing sb_buf.  Only P-256 and RSA
 * 1280..4096 are accepted, whatever the PKCS#8 bytes say.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "../common/sberr.h"
#include "internal.h"

/* Cap on PKCS#8 input: an RSA-4096 PEM is about 3.3 KB. */
#define KEY_PKCS8_MAX 16384

int
crypto_key_adopt(EVP_PKEY *pkey, struct crypto_key **out)
{
	struct crypto_key *k;
	char group[64];
	int bits, rc;

	*out = NULL;
	if (pkey == NULL)
		return SB_ERR_INVALID_ARG;
	if (EVP_PKEY_is_a(pkey, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
		    group, sizeof(group), NULL) != 1 ||
		    strcmp(group, "prime256v1") != 0) {
			EVP_PKEY_free(pkey);
			return crypto_ossl_fail(SB_ERR_KEY_TYPE);
		}
		bits = 256;
	} else if (EVP_PKEY_is_a(pkey, "RSA")) {
		bits = EVP_PKEY_get_bits(pkey);
		if (bits < CRYPTO_RSA_BITS_MIN || bits > CRYPTO_RSA_BITS_MAX) {
			EVP_PKEY_free(pkey);
			return SB_ERR_KEY_TYPE;
		}
	} else {
		EVP_PKEY_free(pkey);
		return SB_ERR_KEY_TYPE;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pkey);
		return SB_ERR_ALLOC;
	}
	k->pkey = pkey;
	k->kind = EVP_PKEY_is_a(pkey, "EC") ? CRYPTO_KEY_P256 : CRYPTO_KEY_RSA;
	k->bits = (unsigned)bits;
	if (k->kind == CRYPTO_KEY_P256 && (rc = crypto_p256_point(pkey, k->point)) != SB_OK) {
		crypto_key_free(k);
		return rc;
	}
	*out = k;
	return SB_OK;
}

static int
generate_p256(struct crypto_key **out)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");

	*out = NULL;
	if (pkey == NULL)
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	return crypto_key_adopt(pkey, out);
}

int
crypto_key_generate_sign(struct crypto_key **out)
{
	return generate_p256(out);
}

static int
generate_rsa(unsigned bits, struct crypto_key **out)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;
	unsigned int e = 65537;
	size_t nbits = bits;
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_RSA_BITS, &nbits);
	params[1] = OSSL_PARAM_construct_uint(OSSL_PKEY_PARAM_RSA_E, &e);
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL)
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	if (EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_params(ctx, params) != 1 ||
	    EVP_PKEY_generate(ctx, &pkey) != 1) {
		EVP_PKEY_CTX_free(ctx);
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	}
	EVP_PKEY_CTX_free(ctx);
	return crypto_key_adopt(pkey, out);
}

int
crypto_key_generate_encrypt(enum crypto_suite suite, unsigned bits,
    struct crypto_key **out)
{
	*out = NULL;
	if (suite == CRYPTO_SUITE_EC)
		return generate_p256(out);
	if (suite != CRYPTO_SUITE_PAIR)
		return SB_ERR_INVALID_ARG;
	if (bits < CRYPTO_RSA_BITS_MIN || bits > CRYPTO_RSA_BITS_MAX)
		return SB_ERR_KEY_TYPE;
	return generate_rsa(bits, out);
}

void
crypto_key_free(struct crypto_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);  /* OpenSSL clears private key material */
	free(k);
}

static int
to_pkcs8(const struct crypto_key *k, const char *form, struct sb_buf *out)
{
	OSSL_ENCODER_CTX *ectx;
	unsigned char *data = NULL;
	size_t len = 0;
	int rc;

	if (k == NULL || out == NULL)
		return SB_ERR_INVALID_ARG;
	ectx = OSSL_ENCODER_CTX_new_for_pkey(k->pkey, EVP_PKEY_KEYPAIR, form,
	    "PrivateKeyInfo", NULL);
	if (ectx == NULL)
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	if (OSSL_ENCODER_CTX_get_num_encoders(ectx) == 0 ||
	    OSSL_ENCODER_to_data(ectx, &data, &len) != 1) {
		OSSL_ENCODER_CTX_free(ectx);
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	}
	OSSL_ENCODER_CTX_free(ectx);
	rc = sb_put_bytes(out, data, len);
	OPENSSL_clear_free(data, len);
	return rc;
}

int
crypto_key_to_pkcs8_der(const struct crypto_key *k, struct sb_buf *out)
{
	return to_pkcs8(k, "DER", out);
}

int
crypto_key_to_pkcs8_pem(const struct crypto_key *k, struct sb_buf *out)
{
	return to_pkcs8(k, "PEM", out);
}

/* 1 if an RSA key's two halves work together: a block sealed (OAEP) with
 * the public half opens with the private half, which is all an encryption
 * key is used for.  libcrypto's pairwise check would also test p and q for
 * primality: half a second for a 4096-bit key at every mount, and what
 * kept the pkcs8 fuzzer at 35 inputs a second. */
static int
rsa_halves_agree(EVP_PKEY_CTX *ctx, EVP_PKEY *pkey)
{
	uint8_t in[32], ct[CRYPTO_RSA_BITS_MAX / 8], back[CRYPTO_RSA_BITS_MAX / 8];
	size_t ct_len = sizeof(ct), back_len = sizeof(back);
	int ok;

	/* Too big to check here is too big to use: crypto_key_adopt refuses
	 * it next, by its size. */
	if (EVP_PKEY_get_bits(pkey) > CRYPTO_RSA_BITS_MAX)
		return 1;
	ok = crypto_random(in, sizeof(in)) == SB_OK &&
	    EVP_PKEY_encrypt_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
	    EVP_PKEY_encrypt(ctx, ct, &ct_len, in, sizeof(in)) == 1 &&
	    EVP_PKEY_decrypt_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
	    EVP_PKEY_decrypt(ctx, back, &back_len, ct, ct_len) == 1 &&
	    back_len == sizeof(in) && CRYPTO_memcmp(in, back, sizeof(in)) == 0;
	OPENSSL_cleanse(back, sizeof(back));
	return ok;
}

/* 1 if the key's public half matches its private half: libcrypto's own
 * pairwise validation for P-256 (one scalar multiplication), a round trip
 * for RSA. */
static int
pairwise_ok(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok = ctx != NULL && (EVP_PKEY_is_a(pkey, "RSA") ? rsa_halves_agree(ctx, pkey) :
	    EVP_PKEY_pairwise_check(ctx) == 1);

	EVP_PKEY_CTX_free(ctx);
	if (!ok)
		crypto_ossl_fail(SB_ERR_KEY_INVALID);
	return ok;
}

static int
from_pkcs8(const char *form, const uint8_t *in, size_t len, struct crypto_key **out)
{
	OSSL_DECODER_CTX *dctx;
	EVP_PKEY *pkey = NULL;
	const unsigned char *p = in;
	size_t left = len;

	*out = NULL;
	if (in == NULL || len == 0)
		return SB_ERR_KEY_INVALID;
	if (len > KEY_PKCS8_MAX)
		return SB_ERR_LENGTH;
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, form, "PrivateKeyInfo", NULL,
	    EVP_PKEY_KEYPAIR, NULL, NULL);
	if (dctx == NULL)
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || pkey == NULL) {
		OSSL_DECODER_CTX_free(dctx);
		EVP_PKEY_free(pkey);
		return crypto_ossl_fail(SB_ERR_KEY_INVALID);
	}
	OSSL_DECODER_CTX_free(dctx);
	/* DER must be exactly one structure; PEM may end in whitespace. */
	if (strcmp(form, "DER") == 0 && left != 0) {
		EVP_PKEY_free(pkey);
		return SB_ERR_TRAILING;
	}
	/*
	 * A PKCS#8 item carries the public half beside the private one and the
	 * decoder trusts it.  A key whose halves disagree would sign what its
	 * own identity cannot verify, or publish an identity whose messages it
	 * cannot open (found by fuzz/fuzz_pkcs8.c): refuse it here.
	 */
	if (!pairwise_ok(pkey)) {
		EVP_PKEY_free(pkey);
		return SB_ERR_KEY_INVALID;
	}
	return crypto_key_adopt(pkey, out);
}

int
crypto_key_from_pkcs8_der(const uint8_t *der, size_t len, struct crypto_key **out)
{
	return from_pkcs8("DER", der, len, out);
}

int
crypto_key_from_pkcs8_pem(const uint8_t *pem, size_t len, struct crypto_key **out)
{
	return from_pkcs8("PEM", pem, len, out);
}

int
crypto_p256_point(const EVP_PKEY *pkey, uint8_t out[CRYPTO_POINT_LEN])
{
	BIGNUM *x = NULL, *y = NULL;
	int rc = SB_OK;

	/* X and Y separately, so the output is uncompressed whatever point
	 * format the key was imported with. */
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
	    BN_bn2binpad(x, out + 1, 32) != 32 ||
	    BN_bn2binpad(y, out + 33, 32) != 32)
		rc = crypto_ossl_fail(SB_ERR_CRYPTO);
	out[0] = 0x04;
	BN_free(x);
	BN_free(y);
	return rc;
}

int
crypto_p256_from_point(const uint8_t point[CRYPTO_POINT_LEN], EVP_PKEY **out)
{
	EVP_PKEY_CTX *ctx, *chk;
	OSSL_PARAM params[3];
	char group[] = "prime256v1";
	int ok;

	*out = NULL;
	if (point[0] != 0x04)
		return SB_ERR_KEY_INVALID;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    (void *)point, CRYPTO_POINT_LEN);
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL)
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	ok = EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (!ok) {
		EVP_PKEY_free(*out);
		*out = NULL;
		return crypto_ossl_fail(SB_ERR_KEY_INVALID);
	}
	/* Import already rejects points off the curve; the explicit check
	 * keeps that true whatever the provider does.  The quick check (on
	 * the curve, not infinity) is the whole check for P-256: its cofactor
	 * is 1, so every such point has order n, and the full check's n*Q
	 * multiplication cost each ec open as much as the ECDH itself. */
	chk = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL);
	ok = chk != NULL && EVP_PKEY_public_check_quick(chk) == 1;
	EVP_PKEY_CTX_free(chk);
	if (!ok) {
		EVP_PKEY_free(*out);
		*out = NULL;
		return crypto_ossl_fail(SB_ERR_KEY_INVALID);
	}
	return SB_OK;
}

int
crypto_ecdsa_sign(const struct crypto_key *k, const char *md,
    const uint8_t *msg, size_t len, struct sb_buf *sig)
{
	EVP_MD_CTX *ctx;
	uint8_t buf[CRYPTO_SIG_MAX + 8];
	size_t slen = sizeof(buf);
	int ok;

	if (k == NULL || k->kind != CRYPTO_KEY_P256)
		return SB_ERR_KEY_TYPE;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return SB_ERR_ALLOC;
	ok = EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, k->pkey, NULL) == 1 &&
	    EVP_DigestSign(ctx, buf, &slen, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok || slen > CRYPTO_SIG_MAX)
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	return sb_put_bytes(sig, buf, slen);
}

int
crypto_ecdsa_verify(EVP_PKEY *pub, const char *md, const uint8_t *msg,
    size_t len, const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx;
	int ok;

	if (sig_len == 0 || sig_len > CRYPTO_SIG_MAX)
		return SB_ERR_SIGNATURE;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return SB_ERR_ALLOC;
	/* 1 is the only success; 0 and negative (undecodable DER) both
	 * mean the signature is not good. */
	ok = EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, pub, NULL) == 1 &&
	    EVP_DigestVerify(ctx, sig, sig_len, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? SB_OK : crypto_ossl_fail(SB_ERR_SIGNATURE);
}

int
crypto_sign(const struct crypto_key *sign_key, const uint8_t *msg, size_t len,
    struct sb_buf *sig)
{
	if (sign_key == NULL || sig == NULL || (msg == NULL && len > 0))
		return SB_ERR_INVALID_ARG;
	return crypto_ecdsa_sign(sign_key, "SHA256", msg, len, sig);
}

int
crypto_key_public_point(const struct crypto_key *k, uint8_t point[CRYPTO_P256_POINT_LEN])
{
	if (k == NULL || point == NULL)
		return SB_ERR_INVALID_ARG;
	if (k->kind != CRYPTO_KEY_P256)
		return SB_ERR_KEY_TYPE;
	memcpy(point, k->point, CRYPTO_POINT_LEN);
	return SB_OK;
}

int
crypto_verify_point(const uint8_t point[CRYPTO_P256_POINT_LEN], const uint8_t *msg,
    size_t len, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY *pub = NULL;
	int rc;

	if (point == NULL || (msg == NULL && len > 0) || sig == NULL)
		return SB_ERR_SIGNATURE;
	if ((rc = crypto_p256_from_point(point, &pub)) != SB_OK)
		return rc;
	rc = crypto_ecdsa_verify(pub, "SHA256", msg, len, sig, sig_len);
	EVP_PKEY_free(pub);
	return rc;
}
