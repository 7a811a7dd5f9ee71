/*
 * attach.c - the attachment stream cipher and ciphertext hasher
 * (DESIGN.md 4 "Attachments", docs/PROTOCOL.md "Attachment").
 *
 * AES-256-CTR under a fresh 256-bit key.  Byte b of the stream is
 * encrypted with keystream block floor(b / 16), whose counter block is
 * that index as a 128-bit big-endian integer (block 0 is all zeroes), at
 * position b mod 16: any byte range can be en/decrypted on its own, so
 * reads seek and writes stream.  SHA-1 (the seed) and SHA-256 run over the
 * ciphertext incrementally.  Never does I/O; keys are the caller's.
 */
#include <stdlib.h>

#include <openssl/evp.h>

#include "../common/sberr.h"
#include "internal.h"

int
crypto_attach_key_generate(uint8_t key[CRYPTO_ATTACH_KEY_LEN])
{
	return crypto_random(key, CRYPTO_ATTACH_KEY_LEN);
}

int
crypto_attach_xor(const uint8_t key[CRYPTO_ATTACH_KEY_LEN], uint64_t offset,
    const uint8_t *in, uint8_t *out, size_t len)
{
	uint8_t iv[16] = { 0 };

	if (key == NULL || ((in == NULL || out == NULL) && len > 0))
		return SB_ERR_INVALID_ARG;
	if (len == 0)
		return SB_OK;
	/* offset / 16 < 2^60, so the high 64 bits of the counter are zero
	 * and the 128-bit counter cannot wrap within a u64 stream. */
	sb_store_u64be(iv + 8, offset / 16);
	return crypto_ctr256_at(key, iv, (size_t)(offset % 16), in, out, len);
}

struct crypto_hasher {
	EVP_MD_CTX *sha1;
	EVP_MD_CTX *sha256;
};

int
crypto_hasher_new(struct crypto_hasher **out)
{
	struct crypto_hasher *h;

	*out = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return SB_ERR_ALLOC;
	if ((h->sha1 = EVP_MD_CTX_new()) == NULL ||
	    (h->sha256 = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex2(h->sha1, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestInit_ex2(h->sha256, EVP_sha256(), NULL) != 1) {
		crypto_hasher_free(h);
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	}
	*out = h;
	return SB_OK;
}

int
crypto_hasher_update(struct crypto_hasher *h, const uint8_t *p, size_t len)
{
	if (h == NULL || (p == NULL && len > 0))
		return SB_ERR_INVALID_ARG;
	if (len == 0)
		return SB_OK;
	if (EVP_DigestUpdate(h->sha1, p, len) != 1 ||
	    EVP_DigestUpdate(h->sha256, p, len) != 1)
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	return SB_OK;
}

int
crypto_hasher_final(struct crypto_hasher *h, uint8_t sha1[CRYPTO_SHA1_LEN],
    uint8_t sha256[CRYPTO_SHA256_LEN])
{
	if (h == NULL)
		return SB_ERR_INVALID_ARG;
	if (EVP_DigestFinal_ex(h->sha1, sha1, NULL) != 1 ||
	    EVP_DigestFinal_ex(h->sha256, sha256, NULL) != 1)
		return crypto_ossl_fail(SB_ERR_CRYPTO);
	return SB_OK;
}

void
crypto_hasher_free(struct crypto_hasher *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->sha1);
	EVP_MD_CTX_free(h->sha256);
	free(h);
}
