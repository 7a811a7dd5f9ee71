/*
 * atrest.c - the at-rest chunk cipher: per-file subkeys and AES-256-GCM
 * chunks bound to (file id, chunk index, final flag) (crypto.h "At rest",
 * docs/PROTOCOL.md "At rest").
 *
 * Never does I/O (agent/cfile places chunks in files) and never keeps the
 * storage key: only the derived subkey, in the OpenSSL secure heap, which
 * crypto_atrest_free cleanses.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "../common/sberr.h"
#include "crypto.h"
#include "internal.h"

#define AAD_LEN (CRYPTO_ATREST_FILE_ID_LEN + 8 + 1)

struct crypto_atrest {
	uint8_t subkey[32];
	uint8_t file_id[CRYPTO_ATREST_FILE_ID_LEN];
	EVP_CIPHER *aes;            /* fetched once per file, not per chunk */
	EVP_CIPHER_CTX *ctx;
};

/* subkey = HKDF-SHA256(IKM = storage key, salt = file id, info). */
static int
derive(const uint8_t storage_key[CRYPTO_STORAGE_KEY_LEN],
    const uint8_t file_id[CRYPTO_ATREST_FILE_ID_LEN], uint8_t subkey[32])
{
	static const char info[] = CRYPTO_ATREST_INFO;

	return crypto_hkdf_sha256(storage_key, CRYPTO_STORAGE_KEY_LEN, file_id,
	    CRYPTO_ATREST_FILE_ID_LEN, (const uint8_t *)info, sizeof(info) - 1, subkey, 32);
}

int
crypto_atrest_new(const uint8_t storage_key[CRYPTO_STORAGE_KEY_LEN],
    const uint8_t file_id[CRYPTO_ATREST_FILE_ID_LEN], struct crypto_atrest **out)
{
	struct crypto_atrest *at;
	int rc;

	if (out == NULL)
		return SB_ERR_INVALID_ARG;
	*out = NULL;
	if (storage_key == NULL || file_id == NULL)
		return SB_ERR_INVALID_ARG;
	/* Secure heap when keyring_init set one up; plain heap otherwise
	 * (CRYPTO_secure_zalloc falls back by itself). */
	if ((at = OPENSSL_secure_zalloc(sizeof(*at))) == NULL)
		return SB_ERR_ALLOC;
	memcpy(at->file_id, file_id, CRYPTO_ATREST_FILE_ID_LEN);
	if ((rc = derive(storage_key, file_id, at->subkey)) != SB_OK) {
		crypto_atrest_free(at);
		return rc;
	}
	if ((at->aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL ||
	    (at->ctx = EVP_CIPHER_CTX_new()) == NULL) {
		crypto_atrest_free(at);
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	}
	*out = at;
	return SB_OK;
}

void
crypto_atrest_free(struct crypto_atrest *at)
{
	if (at == NULL)
		return;
	EVP_CIPHER_CTX_free(at->ctx);
	EVP_CIPHER_free(at->aes);
	OPENSSL_secure_clear_free(at, sizeof(*at));
}

static void
make_aad(const struct crypto_atrest *at, uint64_t index, int final, uint8_t aad[AAD_LEN])
{
	memcpy(aad, at->file_id, CRYPTO_ATREST_FILE_ID_LEN);
	sb_store_u64be(aad + CRYPTO_ATREST_FILE_ID_LEN, index);
	aad[AAD_LEN - 1] = final ? 1 : 0;
}

int
crypto_atrest_seal(struct crypto_atrest *at, uint64_t index, int final,
    const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t aad[AAD_LEN];
	uint8_t *nonce = out, *ct = out + CRYPTO_ATREST_NONCE_LEN;
	uint8_t *tag = ct + len;
	OSSL_PARAM params[2];
	int outl = 0, fin = 0, rc;

	if (at == NULL || out == NULL || (in == NULL && len > 0) ||
	    len > CRYPTO_ATREST_CHUNK_MAX)
		return SB_ERR_INVALID_ARG;
	if ((rc = crypto_random(nonce, CRYPTO_ATREST_NONCE_LEN)) != SB_OK)
		return rc;
	make_aad(at, index, final, aad);
	if (EVP_EncryptInit_ex2(at->ctx, at->aes, at->subkey, nonce, NULL) != 1 ||
	    EVP_EncryptUpdate(at->ctx, NULL, &outl, aad, AAD_LEN) != 1 ||
	    (len > 0 && EVP_EncryptUpdate(at->ctx, ct, &outl, in, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(at->ctx, ct + (len > 0 ? (size_t)outl : 0), &fin) != 1)
		goto fail;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
	    tag, CRYPTO_ATREST_TAG_LEN);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_CIPHER_CTX_get_params(at->ctx, params) != 1)
		goto fail;
	return SB_OK;
fail:
	OPENSSL_cleanse(out, len + CRYPTO_ATREST_OVERHEAD);
	return crypto_ossl_fail(SB_ERR_CRYPTO);
}

int
crypto_atrest_open(struct crypto_atrest *at, uint64_t index, int final,
    const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t aad[AAD_LEN], tag[CRYPTO_ATREST_TAG_LEN];
	const uint8_t *nonce = in, *ct = in + CRYPTO_ATREST_NONCE_LEN;
	size_t ptlen;
	OSSL_PARAM params[2];
	int outl = 0, fin = 0;

	if (at == NULL || in == NULL || out == NULL)
		return SB_ERR_INVALID_ARG;
	if (len < CRYPTO_ATREST_OVERHEAD ||
	    len - CRYPTO_ATREST_OVERHEAD > CRYPTO_ATREST_CHUNK_MAX)
		return SB_ERR_LENGTH;
	ptlen = len - CRYPTO_ATREST_OVERHEAD;
	memcpy(tag, ct + ptlen, CRYPTO_ATREST_TAG_LEN);
	make_aad(at, index, final, aad);
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
	    tag, CRYPTO_ATREST_TAG_LEN);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_DecryptInit_ex2(at->ctx, at->aes, at->subkey, nonce, NULL) != 1 ||
	    EVP_DecryptUpdate(at->ctx, NULL, &outl, aad, AAD_LEN) != 1 ||
	    (ptlen > 0 && EVP_DecryptUpdate(at->ctx, out, &outl, ct, (int)ptlen) != 1) ||
	    EVP_CIPHER_CTX_set_params(at->ctx, params) != 1) {
		OPENSSL_cleanse(out, ptlen);
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	}
	/* The tag is checked here (constant time inside OpenSSL). */
	if (EVP_DecryptFinal_ex(at->ctx, out + (ptlen > 0 ? (size_t)outl : 0), &fin) != 1) {
		OPENSSL_cleanse(out, ptlen);
		return crypto_ossl_fail(SB_ERR_TAG);
	}
	return SB_OK;
}
