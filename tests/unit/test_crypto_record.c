/*
 * test_crypto_record.c - sealed records (crypto.h "At rest: small sealed
 * records"): the docs/PROTOCOL.md vectors (from Python's cryptography
 * package), round trips, and every way a value must fail to open: a
 * flipped bit anywhere, another table, column, address or row id (a value
 * moved elsewhere), another storage key or label, bad lengths and version.
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

/* storage key 00..1f, label "sealbox-trust-v1", nonce 10..1b. */
static const uint8_t vec_pin[] = {
	0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a,
	0x1b, 0x6d, 0xcf, 0x68, 0x73, 0xdc, 0x5d, 0xce, 0xdf, 0x9f, 0x7b, 0xdd,
	0x46, 0x7d, 0xaf, 0xd0, 0xaa, 0x87, 0x36, 0x0a, 0x97, 0x61, 0x8a, 0xff,
	0xc0, 0xc1, 0x01, 0xc9, 0xa1, 0x72, 0x63, 0x09,
};
static const uint8_t vec_empty[] = {
	0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a,
	0x1b, 0x8a, 0x74, 0x2c, 0x7b, 0x28, 0xdb, 0x75, 0xcb, 0x8c, 0xbe, 0xba,
	0x09, 0x54, 0xb8, 0xaa, 0x70,
};

#define BOB "bob@example.com"

static const struct crypto_record_at at_pin = {
	"trust_pins", "hash", BOB, sizeof(BOB) - 1, 7,
};

static struct crypto_record *
rec_new(uint8_t first, const char *label)
{
	uint8_t sk[CRYPTO_STORAGE_KEY_LEN];
	struct crypto_record *r = NULL;

	for (size_t i = 0; i < sizeof(sk); i++)
		sk[i] = (uint8_t)(first + i);
	assert_int_equal(crypto_record_new(sk, label, &r), SB_OK);
	return r;
}

static int
opens(struct crypto_record *r, const struct crypto_record_at *at, const uint8_t *v,
    size_t len)
{
	struct sb_buf out = SB_BUF_INIT;
	int rc = crypto_record_open(r, at, v, len, &out);

	if (rc != SB_OK)
		assert_int_equal(out.len, 0);
	sb_buf_free(&out);
	return rc;
}

static void
test_record_vector(void **state)
{
	struct crypto_record *r = rec_new(0, CRYPTO_RECORD_TRUST);
	struct crypto_record_at log = { "trust_log", "head", "", 0, 1 };
	struct sb_buf out = SB_BUF_INIT;

	(void)state;
	assert_int_equal(crypto_record_open(r, &at_pin, vec_pin, sizeof(vec_pin), &out), SB_OK);
	assert_int_equal(out.len, 15);
	assert_memory_equal(out.d, "sealbox record\n", 15);
	sb_buf_free(&out);
	assert_int_equal(crypto_record_open(r, &log, vec_empty, sizeof(vec_empty), &out), SB_OK);
	assert_int_equal(out.len, 0);
	sb_buf_free(&out);
	crypto_record_free(r);
}

static void
test_record_tamper(void **state)
{
	struct crypto_record *r = rec_new(0, CRYPTO_RECORD_TRUST);
	uint8_t v[sizeof(vec_pin)];

	(void)state;
	/* Every bit of nonce, ciphertext and tag matters; the version byte
	 * is checked first. */
	for (size_t i = 0; i < sizeof(v) * 8; i++) {
		memcpy(v, vec_pin, sizeof(v));
		v[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(opens(r, &at_pin, v, sizeof(v)),
		    i < 8 ? SB_ERR_FORMAT : SB_ERR_TAG);
	}
	/* Cut short or padded. */
	assert_int_equal(opens(r, &at_pin, vec_pin, sizeof(vec_pin) - 1), SB_ERR_TAG);
	assert_int_equal(opens(r, &at_pin, vec_pin, CRYPTO_RECORD_OVERHEAD - 1), SB_ERR_LENGTH);
	assert_int_equal(opens(r, &at_pin, vec_pin, 0), SB_ERR_LENGTH);
	crypto_record_free(r);
}

static void
test_record_wrong_aad(void **state)
{
	struct crypto_record *r = rec_new(0, CRYPTO_RECORD_TRUST);
	const struct crypto_record_at other[] = {
		{ "trust_contacts", "hash", BOB, sizeof(BOB) - 1, 7 },  /* table */
		{ "trust_pins", "identity", BOB, sizeof(BOB) - 1, 7 },  /* column */
		{ "trust_pins", "hash", "carol@example.com", 17, 7 },   /* address */
		{ "trust_pins", "hash", BOB, sizeof(BOB) - 2, 7 },      /* address cut */
		{ "trust_pins", "hash", BOB, sizeof(BOB) - 1, 8 },      /* row id */
		{ "trust_pins", "hash", BOB, sizeof(BOB) - 1, 7ull << 32 },
		/* The same bytes, other field boundaries. */
		{ "trust_pinsh", "ash", BOB, sizeof(BOB) - 1, 7 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		assert_int_equal(opens(r, &other[i], vec_pin, sizeof(vec_pin)), SB_ERR_TAG);
	crypto_record_free(r);
}

static void
test_record_wrong_key(void **state)
{
	struct crypto_record *k2 = rec_new(1, CRYPTO_RECORD_TRUST);
	struct crypto_record *l2 = rec_new(0, "sealbox-other-v1");

	(void)state;
	assert_int_equal(opens(k2, &at_pin, vec_pin, sizeof(vec_pin)), SB_ERR_TAG);
	assert_int_equal(opens(l2, &at_pin, vec_pin, sizeof(vec_pin)), SB_ERR_TAG);
	crypto_record_free(k2);
	crypto_record_free(l2);
}

static void
test_record_round_trip(void **state)
{
	struct crypto_record *r = rec_new(0, CRYPTO_RECORD_TRUST);
	static uint8_t big[CRYPTO_RECORD_MAX + 1];
	struct sb_buf a = SB_BUF_INIT, b = SB_BUF_INIT, out = SB_BUF_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(crypto_record_seal(r, &at_pin, big, CRYPTO_RECORD_MAX, &a), SB_OK);
	assert_int_equal(a.len, CRYPTO_RECORD_MAX + CRYPTO_RECORD_OVERHEAD);
	assert_int_equal(crypto_record_open(r, &at_pin, a.d, a.len, &out), SB_OK);
	assert_int_equal(out.len, CRYPTO_RECORD_MAX);
	assert_memory_equal(out.d, big, CRYPTO_RECORD_MAX);
	/* A fresh nonce each time: the same value never seals the same. */
	assert_int_equal(crypto_record_seal(r, &at_pin, big, CRYPTO_RECORD_MAX, &b), SB_OK);
	assert_memory_not_equal(a.d, b.d, a.len);
	sb_buf_free(&a);
	sb_buf_free(&b);
	sb_buf_free(&out);
	/* Bounds: nothing is appended on a refusal. */
	assert_int_equal(crypto_record_seal(r, &at_pin, big, sizeof(big), &a), SB_ERR_INVALID_ARG);
	assert_int_equal(a.len, 0);
	{
		struct crypto_record_at bad = at_pin;
		static char addr[CRYPTO_RECORD_ADDR_MAX + 1];

		bad.table = "";
		assert_int_equal(crypto_record_seal(r, &bad, big, 1, &a), SB_ERR_INVALID_ARG);
		bad = at_pin;
		bad.address = addr;
		bad.address_len = sizeof(addr);
		assert_int_equal(crypto_record_seal(r, &bad, big, 1, &a), SB_ERR_INVALID_ARG);
		assert_int_equal(a.len, 0);
	}
	assert_int_equal(opens(r, &at_pin, big, CRYPTO_RECORD_MAX + CRYPTO_RECORD_OVERHEAD + 1),
	    SB_ERR_LENGTH);
	crypto_record_free(r);
	crypto_record_free(NULL);
	assert_int_equal(crypto_record_new(big, "", &r), SB_ERR_INVALID_ARG);
	assert_null(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_vector),
		cmocka_unit_test(test_record_tamper),
		cmocka_unit_test(test_record_wrong_aad),
		cmocka_unit_test(test_record_wrong_key),
		cmocka_unit_test(test_record_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
