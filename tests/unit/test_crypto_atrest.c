/*
 * test_crypto_atrest.c - the at-rest chunk cipher: the docs/PROTOCOL.md "At
 * rest" vector (from Python's cryptography package), round trips, and every
 * way a chunk must fail to open: a flipped bit anywhere, another index
 * (swapped chunks), a cleared final flag (truncation), another file id,
 * another storage key, bad lengths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/sberr.h"
#include "crypto/crypto.h"

static const uint8_t vec_chunk[] = {
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
	0xc8, 0x32, 0x83, 0xe5, 0xd1, 0x5f, 0x6d, 0x33, 0x79, 0xc4, 0x38, 0x91,
	0x69, 0x4c, 0x96, 0x30, 0x2b, 0xd7, 0x7c, 0xa2, 0x5f, 0xeb, 0xb7, 0x28,
	0xcb, 0x3b, 0x12, 0x8f, 0x4c, 0x94, 0x14, 0x74,
};
static const uint8_t vec_empty[] = {
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
	0x86, 0x90, 0x84, 0x12, 0xb2, 0x58, 0x1b, 0x70, 0x9f, 0xd4, 0xd5, 0xa7,
	0xd7, 0x77, 0x98, 0x25,
};

static void
vec_keys(uint8_t sk[CRYPTO_STORAGE_KEY_LEN], uint8_t fid[CRYPTO_ATREST_FILE_ID_LEN])
{
	size_t i;

	for (i = 0; i < CRYPTO_STORAGE_KEY_LEN; i++)
		sk[i] = (uint8_t)i;
	for (i = 0; i < CRYPTO_ATREST_FILE_ID_LEN; i++)
		fid[i] = (uint8_t)(0xa0 + i);
}

static void
test_atrest_vector(void **state)
{
	uint8_t sk[CRYPTO_STORAGE_KEY_LEN], fid[CRYPTO_ATREST_FILE_ID_LEN];
	uint8_t out[64];
	struct crypto_atrest *at = NULL;

	(void)state;
	vec_keys(sk, fid);
	assert_int_equal(crypto_atrest_new(sk, fid, &at), SB_OK);
	assert_int_equal(crypto_atrest_open(at, 1, 1, vec_chunk, sizeof(vec_chunk), out), SB_OK);
	assert_memory_equal(out, "sealbox at rest\n", 16);
	assert_int_equal(crypto_atrest_open(at, 0, 1, vec_empty, sizeof(vec_empty), out), SB_OK);
	/* Same bytes, wrong position or flag: refused. */
	assert_int_equal(crypto_atrest_open(at, 0, 1, vec_chunk, sizeof(vec_chunk), out), SB_ERR_TAG);
	assert_int_equal(crypto_atrest_open(at, 1, 0, vec_chunk, sizeof(vec_chunk), out), SB_ERR_TAG);
	assert_int_equal(crypto_atrest_open(at, 0, 0, vec_empty, sizeof(vec_empty), out), SB_ERR_TAG);
	crypto_atrest_free(at);
}

static void
test_atrest_round_trip_and_tamper(void **state)
{
	static uint8_t pt[CRYPTO_ATREST_CHUNK_MAX], back[CRYPTO_ATREST_CHUNK_MAX];
	static uint8_t chunk[CRYPTO_ATREST_CHUNK_MAX + CRYPTO_ATREST_OVERHEAD];
	static uint8_t chunk2[CRYPTO_ATREST_CHUNK_MAX + CRYPTO_ATREST_OVERHEAD];
	uint8_t sk[CRYPTO_STORAGE_KEY_LEN], fid[CRYPTO_ATREST_FILE_ID_LEN];
	struct crypto_atrest *at = NULL;
	size_t sizes[] = { 0, 1, 15, 16, 17, 4096, CRYPTO_ATREST_CHUNK_MAX };
	size_t i, j;

	(void)state;
	assert_int_equal(crypto_random(sk, sizeof(sk)), SB_OK);
	assert_int_equal(crypto_random(fid, sizeof(fid)), SB_OK);
	assert_int_equal(crypto_random(pt, sizeof(pt)), SB_OK);
	assert_int_equal(crypto_atrest_new(sk, fid, &at), SB_OK);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], clen = n + CRYPTO_ATREST_OVERHEAD;

		assert_int_equal(crypto_atrest_seal(at, 7, 0, pt, n, chunk), SB_OK);
		/* Fresh nonce per seal: same input, different bytes. */
		assert_int_equal(crypto_atrest_seal(at, 7, 0, pt, n, chunk2), SB_OK);
		assert_memory_not_equal(chunk, chunk2, CRYPTO_ATREST_NONCE_LEN);
		assert_int_equal(crypto_atrest_open(at, 7, 0, chunk, clen, back), SB_OK);
		if (n > 0)
			assert_memory_equal(back, pt, n);
		/* Every byte (nonce, ciphertext, tag) is covered, for small ones. */
		if (n <= 4096) {
			for (j = 0; j < clen; j++) {
				chunk[j] ^= 0x01;
				assert_int_equal(crypto_atrest_open(at, 7, 0, chunk, clen, back), SB_ERR_TAG);
				chunk[j] ^= 0x01;
			}
		}
		assert_int_equal(crypto_atrest_open(at, 6, 0, chunk, clen, back), SB_ERR_TAG);
		assert_int_equal(crypto_atrest_open(at, 7, 1, chunk, clen, back), SB_ERR_TAG);
		if (clen > CRYPTO_ATREST_OVERHEAD)
			assert_int_equal(crypto_atrest_open(at, 7, 0, chunk, clen - 1, back), SB_ERR_TAG);
	}
	crypto_atrest_free(at);
}

static void
test_atrest_other_file_or_key(void **state)
{
	uint8_t sk[CRYPTO_STORAGE_KEY_LEN], fid[CRYPTO_ATREST_FILE_ID_LEN];
	uint8_t chunk[100 + CRYPTO_ATREST_OVERHEAD], pt[100], back[100];
	struct crypto_atrest *a = NULL, *b = NULL, *c = NULL;

	(void)state;
	memset(pt, 'x', sizeof(pt));
	vec_keys(sk, fid);
	assert_int_equal(crypto_atrest_new(sk, fid, &a), SB_OK);
	fid[15] ^= 1;
	assert_int_equal(crypto_atrest_new(sk, fid, &b), SB_OK);
	fid[15] ^= 1;
	sk[0] ^= 1;
	assert_int_equal(crypto_atrest_new(sk, fid, &c), SB_OK);
	assert_int_equal(crypto_atrest_seal(a, 0, 1, pt, sizeof(pt), chunk), SB_OK);
	assert_int_equal(crypto_atrest_open(a, 0, 1, chunk, sizeof(chunk), back), SB_OK);
	assert_int_equal(crypto_atrest_open(b, 0, 1, chunk, sizeof(chunk), back), SB_ERR_TAG);
	assert_int_equal(crypto_atrest_open(c, 0, 1, chunk, sizeof(chunk), back), SB_ERR_TAG);
	crypto_atrest_free(a);
	crypto_atrest_free(b);
	crypto_atrest_free(c);
}

static void
test_atrest_bounds(void **state)
{
	static uint8_t big[CRYPTO_ATREST_CHUNK_MAX + CRYPTO_ATREST_OVERHEAD + 1];
	uint8_t sk[CRYPTO_STORAGE_KEY_LEN], fid[CRYPTO_ATREST_FILE_ID_LEN];
	static uint8_t out[CRYPTO_ATREST_CHUNK_MAX + CRYPTO_ATREST_OVERHEAD + 1];
	struct crypto_atrest *at = NULL;

	(void)state;
	vec_keys(sk, fid);
	assert_int_equal(crypto_atrest_new(NULL, fid, &at), SB_ERR_INVALID_ARG);
	assert_null(at);
	assert_int_equal(crypto_atrest_new(sk, fid, &at), SB_OK);
	assert_int_equal(crypto_atrest_seal(at, 0, 0, big, CRYPTO_ATREST_CHUNK_MAX + 1, out),
	    SB_ERR_INVALID_ARG);
	assert_int_equal(crypto_atrest_open(at, 0, 0, big, sizeof(big), out), SB_ERR_LENGTH);
	assert_int_equal(crypto_atrest_open(at, 0, 0, big, CRYPTO_ATREST_OVERHEAD - 1, out),
	    SB_ERR_LENGTH);
	crypto_atrest_free(at);
	crypto_atrest_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atrest_vector),
		cmocka_unit_test(test_atrest_round_trip_and_tamper),
		cmocka_unit_test(test_atrest_other_file_or_key),
		cmocka_unit_test(test_atrest_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
