/*
 * util.c - constant-time compare, randomness and wiping for the crypto core.
 *
 * Never does I/O.  Secrets are compared only with CRYPTO_memcmp and erased
 * only with OPENSSL_cleanse, which the compiler may not optimise away.
 */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "../common/sberr.h"
#include "internal.h"

int
crypto_ct_equal(const void *a, const void *b, size_t len)
{
	if (len == 0)
		return 1;
	return CRYPTO_memcmp(a, b, len) == 0;
}

int
crypto_random(void *out, size_t len)
{
	uint8_t *p = out;

	/* RAND_priv_bytes takes an int; every caller asks for key-sized
	 * amounts, but chunk anyway so no length can truncate. */
	while (len > 0) {
		size_t n = len > (1u << 20) ? (1u << 20) : len;

		if (RAND_priv_bytes(p, (int)n) != 1)
			return crypto_ossl_fail(SB_ERR_CRYPTO);
		p += n;
		len -= n;
	}
	return SB_OK;
}

void
crypto_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

int
crypto_ossl_fail(int err)
{
	ERR_clear_error();
	return err;
}

int
crypto_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
    size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5], *p = params;
	char digest[] = "SHA256";
	int ok;

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
	/* No salt parameter: RFC 5869's default, HashLen zero bytes. */
	if (salt != NULL && salt_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
		    salt_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
	*p = OSSL_PARAM_construct_end();
	ok = (kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) != NULL &&
	    (kctx = EVP_KDF_CTX_new(kdf)) != NULL &&
	    EVP_KDF_derive(kctx, out, out_len, params) == 1;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ok ? SB_OK : crypto_ossl_fail(SB_ERR_CRYPTO);
}
