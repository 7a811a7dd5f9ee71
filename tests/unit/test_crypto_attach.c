/*
 * test_crypto_attach.c - the seekable attachment cipher and the running
 * ciphertext hasher: any offset/length slice equals the same bytes of a
 * one-shot encryption, and incremental hashing equals one-shot hashing.
 * (Known answers for both are in test_crypto_vectors.c.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "common/sberr.h"
#include "crypto/crypto.h"

#define STREAM 20000

static uint32_t
xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
test_crypto_attach_random_offsets(void **state)
{
	static uint8_t pt[STREAM], whole[STREAM], part[STREAM];
	uint8_t key[CRYPTO_ATTACH_KEY_LEN], other[CRYPTO_ATTACH_KEY_LEN];
	uint32_t st = 0x9e3779b9;
	size_t i;

	(void)state;
	for (i = 0; i < STREAM; i++)
		pt[i] = (uint8_t)(i ^ (i >> 8));
	assert_int_equal(crypto_attach_key_generate(key), SB_OK);
	assert_int_equal(crypto_attach_key_generate(other), SB_OK);
	assert_memory_not_equal(key, other, sizeof(key));
	assert_int_equal(crypto_attach_xor(key, 0, pt, whole, STREAM), SB_OK);
	assert_memory_not_equal(whole, pt, 64);
	for (i = 0; i < 500; i++) {
		size_t off = xorshift(&st) % STREAM;
		size_t len = xorshift(&st) % (STREAM - off + 1);

		assert_int_equal(crypto_attach_xor(key, off, pt + off, part, len), SB_OK);
		if (len > 0)
			assert_memory_equal(part, whole + off, len);
	}
	/* Streaming in odd-sized chunks, in place, then decrypting back. */
	memcpy(part, pt, STREAM);
	for (i = 0; i < STREAM;) {
		size_t n = 1 + xorshift(&st) % 777;

		if (n > STREAM - i)
			n = STREAM - i;
		assert_int_equal(crypto_attach_xor(key, i, part + i, part + i, n), SB_OK);
		i += n;
	}
	assert_memory_equal(part, whole, STREAM);
	assert_int_equal(crypto_attach_xor(key, 0, part, part, STREAM), SB_OK);
	assert_memory_equal(part, pt, STREAM);
	/* A different key gives a different stream. */
	assert_int_equal(crypto_attach_xor(other, 0, pt, part, 64), SB_OK);
	assert_memory_not_equal(part, whole, 64);
}

/* Block k's counter is k as a 128-bit big-endian number: block 0 is the
 * all-zero block, checked here against plain EVP AES-256-ECB. */
static void
test_crypto_attach_counter_layout(void **state)
{
	uint8_t key[CRYPTO_ATTACH_KEY_LEN], zero[32] = { 0 }, ks[32], ctrblk[32] = { 0 }, ecb[32];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl;

	(void)state;
	memset(key, 0x42, sizeof(key));
	ctrblk[31] = 1;     /* blocks 0 and 1 */
	assert_non_null(ctx);
	assert_int_equal(EVP_EncryptInit_ex2(ctx, EVP_aes_256_ecb(), key, NULL, NULL), 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	assert_int_equal(EVP_EncryptUpdate(ctx, ecb, &outl, ctrblk, 32), 1);
	EVP_CIPHER_CTX_free(ctx);
	assert_int_equal(crypto_attach_xor(key, 0, zero, ks, 32), SB_OK);
	assert_memory_equal(ks, ecb, 32);
}

static void
test_crypto_attach_hasher_incremental(void **state)
{
	static uint8_t data[STREAM];
	uint8_t s1[CRYPTO_SHA1_LEN], s256[CRYPTO_SHA256_LEN], o1[20], o256[32];
	struct crypto_hasher *h;
	uint32_t st = 7;
	size_t i;

	(void)state;
	for (i = 0; i < STREAM; i++)
		data[i] = (uint8_t)xorshift(&st);
	assert_int_equal(crypto_hasher_new(&h), SB_OK);
	assert_int_equal(crypto_hasher_update(h, data, 0), SB_OK);
	for (i = 0; i < STREAM;) {
		size_t n = xorshift(&st) % 1000;

		if (n > STREAM - i)
			n = STREAM - i;
		assert_int_equal(crypto_hasher_update(h, data + i, n), SB_OK);
		i += n;
	}
	assert_int_equal(crypto_hasher_final(h, s1, s256), SB_OK);
	crypto_hasher_free(h);
	assert_int_equal(EVP_Digest(data, STREAM, o1, NULL, EVP_sha1(), NULL), 1);
	assert_int_equal(EVP_Digest(data, STREAM, o256, NULL, EVP_sha256(), NULL), 1);
	assert_memory_equal(s1, o1, 20);
	assert_memory_equal(s256, o256, 32);
	/* Empty stream: the well-known empty digests. */
	assert_int_equal(crypto_hasher_new(&h), SB_OK);
	assert_int_equal(crypto_hasher_final(h, s1, s256), SB_OK);
	crypto_hasher_free(h);
	assert_memory_equal(s1, "\xda\x39\xa3\xee\x5e\x6b\x4b\x0d\x32\x55", 10);
	assert_memory_equal(s256, "\xe3\xb0\xc4\x42\x98\xfc\x1c\x14\x9a\xfb", 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crypto_attach_random_offsets),
		cmocka_unit_test(test_crypto_attach_counter_layout),
		cmocka_unit_test(test_crypto_attach_hasher_incremental),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
