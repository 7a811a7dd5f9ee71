/*
 * util.c - constant-time compare, randomness and wiping for the crypto core.
 *
 * Never does I/O.  Secrets are compared only with CRYPTO_memcmp and erased
 * only with OPENSSL_cleanse, which the compiler may not optimise away.
 */
#include <openssl/crypto.h>
#include <openssl/err.h>
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
