/*
 * record.c - small sealed values for the home's database (crypto.h "At
 * rest: small sealed records", docs/PROTOCOL.md "Sealed records"):
 * AES-256-GCM under a labelled HKDF subkey of the storage key, bound by
 * its AAD to the table, column, address and row id it belongs to.
 *
 * Never does I/O and never keeps the storage key: only the derived key,
 * in the OpenSSL secure heap, which crypto_record_free cleanses.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "../common/sberr.h"
#include "crypto.h"
#include "internal.h"

#define RECORD_KEY_LEN 32
/* u8 + table + u8 + column + u16 + address + u64 */
#define AAD_MAX (1 + CRYPTO_RECORD_NAME_MAX + 1 + CRYPTO_RECORD_NAME_MAX + 2 + \
    CRYPTO_RECORD_ADDR_MAX + 8)

struct crypto_record {
	uint8_t key[RECORD_KEY_LEN];
	EVP_CIPHER *aes;
	EVP_CIPHER_CTX *ctx;
};

int
crypto_record_new(const uint8_t storage_key[CRYPTO_STORAGE_KEY_LEN], const char *label,
    struct crypto_record **out)
{
	struct crypto_record *r;
	size_t label_len;
	int rc;

	if (out == NULL)
		return SB_ERR_INVALID_ARG;
	*out = NULL;
	if (storage_key == NULL || label == NULL ||
	    (label_len = strlen(label)) == 0 || label_len > CRYPTO_RECORD_NAME_MAX)
		return SB_ERR_INVALID_ARG;
	if ((r = OPENSSL_secure_zalloc(sizeof(*r))) == NULL)
		return SB_ERR_ALLOC;
	if ((rc = crypto_hkdf_sha256(storage_key, CRYPTO_STORAGE_KEY_LEN, NULL, 0,
	    (const uint8_t *)label, label_len, r->key, RECORD_KEY_LEN)) != SB_OK) {
		crypto_record_free(r);
		return rc;
	}
	if ((r->aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL ||
	    (r->ctx = EVP_CIPHER_CTX_new()) == NULL) {
		crypto_record_free(r);
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	}
	*out = r;
	return SB_OK;
}

void
crypto_record_free(struct crypto_record *r)
{
	if (r == NULL)
		return;
	EVP_CIPHER_CTX_free(r->ctx);
	EVP_CIPHER_free(r->aes);
	OPENSSL_secure_clear_free(r, sizeof(*r));
}

/* The AAD of `at` into aad (AAD_MAX bytes): its length, or 0 when a name
 * or the address is out of bounds.  Length-prefixed fields: no two
 * places share an AAD. */
static size_t
make_aad(const struct crypto_record_at *at, uint8_t *aad)
{
	size_t t, c, n = 0;

	if (at == NULL || at->table == NULL || at->column == NULL ||
	    (at->address == NULL && at->address_len > 0))
		return 0;
	t = strlen(at->table);
	c = strlen(at->column);
	if (t == 0 || t > CRYPTO_RECORD_NAME_MAX || c == 0 || c > CRYPTO_RECORD_NAME_MAX ||
	    at->address_len > CRYPTO_RECORD_ADDR_MAX)
		return 0;
	aad[n++] = (uint8_t)t;
	memcpy(aad + n, at->table, t);
	n += t;
	aad[n++] = (uint8_t)c;
	memcpy(aad + n, at->column, c);
	n += c;
	sb_store_u16be(aad + n, (uint16_t)at->address_len);
	n += 2;
	if (at->address_len > 0)
		memcpy(aad + n, at->address, at->address_len);
	n += at->address_len;
	sb_store_u64be(aad + n, at->id);
	return n + 8;
}

/* One AES-256-GCM pass over in (len bytes) with aad, into out; the tag
 * is written (enc) or checked (!enc, SB_ERR_TAG). */
static int
gcm(struct crypto_record *r, int enc, const uint8_t *nonce, const uint8_t *aad,
    size_t aad_len, const uint8_t *in, size_t len, uint8_t *tag, uint8_t *out)
{
	OSSL_PARAM params[2];
	int outl = 0, fin = 0;

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
	    tag, CRYPTO_ATREST_TAG_LEN);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_CipherInit_ex2(r->ctx, r->aes, r->key, nonce, enc, NULL) != 1 ||
	    EVP_CipherUpdate(r->ctx, NULL, &outl, aad, (int)aad_len) != 1 ||
	    (len > 0 && EVP_CipherUpdate(r->ctx, out, &outl, in, (int)len) != 1) ||
	    (!enc && EVP_CIPHER_CTX_set_params(r->ctx, params) != 1))
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	/* Decrypting, the tag is compared here (constant time in OpenSSL). */
	if (EVP_CipherFinal_ex(r->ctx, out + (len > 0 ? (size_t)outl : 0), &fin) != 1)
		return crypto_ossl_fail(enc ? SB_ERR_CRYPTO : SB_ERR_TAG);
	if (enc && EVP_CIPHER_CTX_get_params(r->ctx, params) != 1)
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	return SB_OK;
}

int
crypto_record_seal(struct crypto_record *r, const struct crypto_record_at *at,
    const uint8_t *in, size_t len, struct sb_buf *out)
{
	uint8_t aad[AAD_MAX], v[CRYPTO_RECORD_MAX + CRYPTO_RECORD_OVERHEAD];
	uint8_t *nonce = v + 1, *ct = nonce + CRYPTO_ATREST_NONCE_LEN;
	size_t aad_len;
	int rc;

	if (r == NULL || out == NULL || (in == NULL && len > 0) || len > CRYPTO_RECORD_MAX ||
	    (aad_len = make_aad(at, aad)) == 0)
		return SB_ERR_INVALID_ARG;
	v[0] = CRYPTO_RECORD_VERSION;
	if ((rc = crypto_random(nonce, CRYPTO_ATREST_NONCE_LEN)) == SB_OK &&
	    (rc = gcm(r, 1, nonce, aad, aad_len, in, len, ct + len, ct)) == SB_OK)
		rc = sb_put_bytes(out, v, len + CRYPTO_RECORD_OVERHEAD);
	OPENSSL_cleanse(v, sizeof(v));
	return rc;
}

int
crypto_record_open(struct crypto_record *r, const struct crypto_record_at *at,
    const uint8_t *in, size_t len, struct sb_buf *out)
{
	uint8_t aad[AAD_MAX], pt[CRYPTO_RECORD_MAX], tag[CRYPTO_ATREST_TAG_LEN];
	size_t aad_len, n;
	int rc;

	if (r == NULL || out == NULL || (in == NULL && len > 0) ||
	    (aad_len = make_aad(at, aad)) == 0)
		return SB_ERR_INVALID_ARG;
	if (len < CRYPTO_RECORD_OVERHEAD || len - CRYPTO_RECORD_OVERHEAD > CRYPTO_RECORD_MAX)
		return SB_ERR_LENGTH;
	if (in[0] != CRYPTO_RECORD_VERSION)
		return SB_ERR_FORMAT;
	n = len - CRYPTO_RECORD_OVERHEAD;
	memcpy(tag, in + 1 + CRYPTO_ATREST_NONCE_LEN + n, CRYPTO_ATREST_TAG_LEN);
	rc = gcm(r, 0, in + 1, aad, aad_len, in + 1 + CRYPTO_ATREST_NONCE_LEN, n, tag, pt);
	if (rc == SB_OK)
		rc = sb_put_bytes(out, pt, n);
	OPENSSL_cleanse(pt, sizeof(pt));
	return rc;
}
