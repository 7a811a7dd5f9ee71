/*
 * test_crypto_seal.c - per-device payloads: round trips at the boundary
 * sizes for RSA-1280/2048/4096 and suite ec, and the tamper matrix
 * (every byte of a small payload, sampled bytes of a maximal one, re-signed
 * payloads, a wrong tag under a valid signature, wrong identities,
 * truncation and trailing bytes).  Keys are generated once per group.
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
#include "crypto/internal.h"

struct dev {
	struct crypto_key *sign, *enc;
	struct crypto_identity *id;
};

enum { ALICE, CAROL, BOB1280, BOB2048, BOB4096, BOBEC, NDEV };

static struct dev devs[NDEV];
static uint8_t big[0x10000];

static void
make_dev(struct dev *d, enum crypto_suite suite, unsigned bits)
{
	assert_int_equal(crypto_key_generate_sign(&d->sign), SB_OK);
	assert_int_equal(crypto_key_generate_encrypt(suite, bits, &d->enc), SB_OK);
	assert_int_equal(crypto_identity_from_keys(d->sign, d->enc, &d->id), SB_OK);
	assert_int_equal(crypto_identity_suite(d->id), suite);
}

static int
group_setup(void **state)
{
	size_t i;

	(void)state;
	make_dev(&devs[ALICE], CRYPTO_SUITE_EC, 0);
	make_dev(&devs[CAROL], CRYPTO_SUITE_PAIR, 1280);
	make_dev(&devs[BOB1280], CRYPTO_SUITE_PAIR, 1280);
	make_dev(&devs[BOB2048], CRYPTO_SUITE_PAIR, 2048);
	make_dev(&devs[BOB4096], CRYPTO_SUITE_PAIR, 4096);
	make_dev(&devs[BOBEC], CRYPTO_SUITE_EC, 0);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 131 + 7);
	return 0;
}

static int
group_teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NDEV; i++) {
		crypto_key_free(devs[i].sign);
		crypto_key_free(devs[i].enc);
		crypto_identity_free(devs[i].id);
	}
	return 0;
}

/* Deterministic sample positions, independent of any library PRNG. */
static uint32_t
xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
seal(int from, int to, const uint8_t *m, size_t len, struct sb_buf *payload)
{
	assert_int_equal(crypto_seal(devs[from].sign, devs[from].id, devs[to].id,
	    m, len, payload), SB_OK);
}

/* Opens as `to` from `from`; on failure asserts nothing was appended. */
static int
open_as(int to, int from, const uint8_t *p, size_t len, struct sb_buf *plain)
{
	size_t before = plain->len;
	int rc = crypto_open(devs[to].enc, devs[to].id, devs[from].id, p, len, plain);

	if (rc != SB_OK)
		assert_int_equal(plain->len, before);
	return rc;
}

static size_t
expected_body(int to, size_t m_len)
{
	size_t k;
	const struct crypto_identity *id = devs[to].id;

	if (crypto_identity_suite(id) == CRYPTO_SUITE_EC)
		return 97 + m_len;
	k = id->rsa_len;
	return m_len > 100 ? k + m_len - 100 : k;
}

static void
roundtrip(int to)
{
	const size_t max = crypto_seal_max_plaintext(devs[to].id);
	const size_t sizes[] = { 0, 1, 99, 100, 101, 4096, max };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct sb_buf p = SB_BUF_INIT, m = SB_BUF_INIT;
		size_t body;

		seal(ALICE, to, big, sizes[i], &p);
		body = expected_body(to, sizes[i]);
		assert_int_equal(p.d[0], crypto_payload_version(crypto_identity_suite(devs[to].id)));
		assert_int_equal((p.d[1] << 8) | p.d[2], body);
		assert_int_equal(p.len, 3 + body + 1 + p.d[3 + body]);
		assert_int_equal(open_as(to, ALICE, p.d, p.len, &m), SB_OK);
		assert_int_equal(m.len, sizes[i]);
		if (sizes[i] > 0)
			assert_memory_equal(m.d, big, sizes[i]);
		sb_buf_free(&p);
		sb_buf_free(&m);
	}
	/* One past the largest: the u16 body length cannot hold it. */
	{
		struct sb_buf p = SB_BUF_INIT;

		assert_int_equal(expected_body(to, max), 0xffff);
		assert_int_equal(crypto_seal(devs[ALICE].sign, devs[ALICE].id, devs[to].id,
		    big, max + 1, &p), SB_ERR_TOO_BIG);
		assert_int_equal(p.len, 0);
		sb_buf_free(&p);
	}
}

static void test_crypto_seal_roundtrip_rsa1280(void **s) { (void)s; roundtrip(BOB1280); }
static void test_crypto_seal_roundtrip_rsa2048(void **s) { (void)s; roundtrip(BOB2048); }
static void test_crypto_seal_roundtrip_rsa4096(void **s) { (void)s; roundtrip(BOB4096); }
static void test_crypto_seal_roundtrip_ec(void **s) { (void)s; roundtrip(BOBEC); }

/* A sender of suite pair sealing to an ec device and back. */
static void
test_crypto_seal_cross_suite(void **state)
{
	struct sb_buf p = SB_BUF_INIT, m = SB_BUF_INIT;

	(void)state;
	seal(CAROL, BOBEC, big, 300, &p);
	assert_int_equal(open_as(BOBEC, CAROL, p.d, p.len, &m), SB_OK);
	assert_int_equal(m.len, 300);
	sb_buf_free(&p);
	seal(BOBEC, CAROL, big, 50, &p);
	assert_int_equal(open_as(CAROL, BOBEC, p.d, p.len, &m), SB_OK);
	assert_int_equal(m.len, 350);
	sb_buf_free(&p);
	sb_buf_free(&m);
}

/* Flips byte i with each pattern and expects open to fail. */
static void
flip_fails(int to, struct sb_buf *p, size_t i, size_t *tried)
{
	static const uint8_t pats[] = { 0x01, 0x80, 0xff };
	struct sb_buf m = SB_BUF_INIT;
	size_t j;

	for (j = 0; j < sizeof(pats); j++) {
		p->d[i] ^= pats[j];
		if (open_as(to, ALICE, p->d, p->len, &m) == SB_OK)
			fail_msg("flip 0x%02x at %zu of %zu opened", pats[j], i, p->len);
		p->d[i] ^= pats[j];
		(*tried)++;
	}
	/* The untouched payload still opens. */
	sb_buf_free(&m);
}

static void
tamper_every_byte(int to, size_t m_len)
{
	struct sb_buf p = SB_BUF_INIT, m = SB_BUF_INIT;
	size_t i, tried = 0;

	seal(ALICE, to, big, m_len, &p);
	for (i = 0; i < p.len; i++)
		flip_fails(to, &p, i, &tried);
	assert_int_equal(tried, 3 * p.len);
	assert_int_equal(open_as(to, ALICE, p.d, p.len, &m), SB_OK);
	sb_buf_free(&p);
	sb_buf_free(&m);
}

static void test_crypto_seal_tamper_every_byte_pair(void **s) { (void)s; tamper_every_byte(BOB1280, 120); }
static void test_crypto_seal_tamper_every_byte_ec(void **s) { (void)s; tamper_every_byte(BOBEC, 120); }

static void
tamper_sampled(int to)
{
	struct sb_buf p = SB_BUF_INIT, m = SB_BUF_INIT;
	uint32_t st = 0x2545f491;
	size_t i, tried = 0, max = crypto_seal_max_plaintext(devs[to].id);

	seal(ALICE, to, big, max, &p);
	/* Both ends and the fields around the body, then 200 samples. */
	flip_fails(to, &p, 0, &tried);
	flip_fails(to, &p, 1, &tried);
	flip_fails(to, &p, 2, &tried);
	flip_fails(to, &p, p.len - 1, &tried);
	flip_fails(to, &p, 3 + 0xffff, &tried);
	for (i = 0; i < 200; i++)
		flip_fails(to, &p, xorshift(&st) % p.len, &tried);
	assert_int_equal(tried, 3 * 205);
	assert_int_equal(open_as(to, ALICE, p.d, p.len, &m), SB_OK);
	sb_buf_free(&p);
	sb_buf_free(&m);
}

static void test_crypto_seal_tamper_sampled_pair(void **s) { (void)s; tamper_sampled(BOB2048); }
static void test_crypto_seal_tamper_sampled_ec(void **s) { (void)s; tamper_sampled(BOBEC); }

/* Body of a payload produced by seal (already known to be well formed). */
static void
body_of(const struct sb_buf *p, const uint8_t **body, size_t *len)
{
	*len = ((size_t)p->d[1] << 8) | p->d[2];
	*body = p->d + 3;
}

static void
resigned(int to, int claimed_carol)
{
	struct sb_buf p = SB_BUF_INIT, q = SB_BUF_INIT, m = SB_BUF_INIT;
	const uint8_t *body;
	size_t body_len;
	uint8_t v;

	seal(ALICE, to, big, 150, &p);
	body_of(&p, &body, &body_len);
	v = p.d[0];
	assert_int_equal(crypto_payload_frame(devs[CAROL].sign, v, body, body_len, &q), SB_OK);
	/* Claimed to be from Alice: Carol's signature does not verify. */
	assert_int_equal(open_as(to, ALICE, q.d, q.len, &m), SB_ERR_SIGNATURE);
	/* Claimed to be from Carol: the signature verifies, but the tag (and
	 * for ec the HKDF salt) binds H(Alice), so Carol cannot pass Alice's
	 * message off as hers. */
	assert_int_equal(open_as(to, CAROL, q.d, q.len, &m), claimed_carol);
	/* The original from Alice opened as if from Carol. */
	assert_int_equal(open_as(to, CAROL, p.d, p.len, &m), SB_ERR_SIGNATURE);
	sb_buf_free(&p);
	sb_buf_free(&q);
	sb_buf_free(&m);
}

static void test_crypto_seal_resigned_pair(void **s) { (void)s; resigned(BOB1280, SB_ERR_TAG); }
static void test_crypto_seal_resigned_ec(void **s) { (void)s; resigned(BOBEC, SB_ERR_UNWRAP); }

/* K with a flipped tag bit, everything else honest and validly signed. */
static void
wrong_tag(int to, size_t m_len)
{
	struct sb_buf c = SB_BUF_INIT, body = SB_BUF_INIT, p = SB_BUF_INIT, m = SB_BUF_INIT;
	const struct crypto_identity *s = devs[ALICE].id, *r = devs[to].id;
	uint8_t seed[CRYPTO_SEED_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
	uint8_t k[CRYPTO_MSG_KEY_LEN], *dst;

	assert_int_equal(crypto_msg_key(seed, big, m_len, crypto_identity_hash(s),
	    crypto_identity_hash(r), k), SB_OK);
	k[CRYPTO_MSG_KEY_LEN - 1] ^= 0x01;
	assert_int_equal(sb_buf_reserve(&c, m_len, &dst), SB_OK);
	assert_int_equal(crypto_ctr128(k, big, dst, m_len), SB_OK);
	assert_int_equal(crypto_body_build(s, r, k, c.d, c.len, NULL, &body), SB_OK);
	assert_int_equal(crypto_payload_frame(devs[ALICE].sign,
	    crypto_payload_version(crypto_identity_suite(r)), body.d, body.len, &p), SB_OK);
	assert_int_equal(open_as(to, ALICE, p.d, p.len, &m), SB_ERR_TAG);
	/* The same construction with the honest tag opens. */
	k[CRYPTO_MSG_KEY_LEN - 1] ^= 0x01;
	sb_buf_free(&body);
	sb_buf_free(&p);
	assert_int_equal(crypto_ctr128(k, big, c.d, m_len), SB_OK);
	assert_int_equal(crypto_body_build(s, r, k, c.d, c.len, NULL, &body), SB_OK);
	assert_int_equal(crypto_payload_frame(devs[ALICE].sign,
	    crypto_payload_version(crypto_identity_suite(r)), body.d, body.len, &p), SB_OK);
	assert_int_equal(open_as(to, ALICE, p.d, p.len, &m), SB_OK);
	assert_memory_equal(m.d, big, m_len);
	sb_buf_free(&c);
	sb_buf_free(&body);
	sb_buf_free(&p);
	sb_buf_free(&m);
}

static void
test_crypto_seal_wrong_tag_valid_sig(void **state)
{
	(void)state;
	wrong_tag(BOB1280, 10);
	wrong_tag(BOB2048, 500);
	wrong_tag(BOBEC, 10);
	wrong_tag(BOBEC, 500);
}

static void
test_crypto_seal_wrong_identities(void **state)
{
	struct sb_buf p = SB_BUF_INIT, m = SB_BUF_INIT;
	struct crypto_identity *mixed;

	(void)state;
	seal(ALICE, BOB2048, big, 40, &p);
	/* Wrong sender identity: signature. */
	assert_int_equal(open_as(BOB2048, CAROL, p.d, p.len, &m), SB_ERR_SIGNATURE);
	/* Another device's key and identity: the RSA block does not unwrap;
	 * a bigger modulus does not even fit the body. */
	assert_int_equal(open_as(BOB1280, ALICE, p.d, p.len, &m), SB_ERR_UNWRAP);
	assert_int_equal(open_as(BOB4096, ALICE, p.d, p.len, &m), SB_ERR_LENGTH);
	/* Bob's key under an identity with another signing key: unwraps, but
	 * H(recipient) differs, so the tag fails. */
	assert_int_equal(crypto_identity_from_keys(devs[CAROL].sign, devs[BOB2048].enc,
	    &mixed), SB_OK);
	assert_int_equal(crypto_open(devs[BOB2048].enc, mixed, devs[ALICE].id, p.d, p.len,
	    &m), SB_ERR_TAG);
	/* Key and identity that do not belong together; key of another suite. */
	assert_int_equal(crypto_open(devs[BOB1280].enc, devs[BOB2048].id, devs[ALICE].id,
	    p.d, p.len, &m), SB_ERR_INVALID_ARG);
	assert_int_equal(crypto_open(devs[BOBEC].enc, devs[BOB2048].id, devs[ALICE].id,
	    p.d, p.len, &m), SB_ERR_KEY_TYPE);
	/* A pair payload handed to an ec recipient: version byte. */
	assert_int_equal(open_as(BOBEC, ALICE, p.d, p.len, &m), SB_ERR_FORMAT);
	assert_int_equal(m.len, 0);
	crypto_identity_free(mixed);
	sb_buf_free(&p);

	/* Same for ec: a different ec device cannot unwrap. */
	seal(ALICE, BOBEC, big, 40, &p);
	assert_int_equal(open_as(ALICE, ALICE, p.d, p.len, &m), SB_ERR_UNWRAP);
	assert_int_equal(open_as(BOBEC, CAROL, p.d, p.len, &m), SB_ERR_SIGNATURE);
	assert_int_equal(crypto_identity_from_keys(devs[CAROL].sign, devs[BOBEC].enc,
	    &mixed), SB_OK);
	/* HKDF binds H(recipient) too, so the unwrap itself fails. */
	assert_int_equal(crypto_open(devs[BOBEC].enc, mixed, devs[ALICE].id, p.d, p.len,
	    &m), SB_ERR_UNWRAP);
	crypto_identity_free(mixed);
	/* Seal refuses a sign key that is not the sender identity's. */
	assert_int_equal(crypto_seal(devs[CAROL].sign, devs[ALICE].id, devs[BOBEC].id,
	    big, 1, &p), SB_ERR_INVALID_ARG);
	sb_buf_free(&p);
	sb_buf_free(&m);
}

static void
truncation(int to)
{
	struct sb_buf p = SB_BUF_INIT, m = SB_BUF_INIT;
	size_t n;

	seal(ALICE, to, big, 130, &p);
	for (n = 0; n < p.len; n++) {
		int rc = open_as(to, ALICE, p.d, n, &m);

		/* Cutting into the signature shortens what the sig length
		 * promised; cutting into the body, what the body length did. */
		assert_int_equal(rc, SB_ERR_TRUNCATED);
	}
	assert_int_equal(sb_put_u8(&p, 0), SB_OK);
	assert_int_equal(open_as(to, ALICE, p.d, p.len, &m), SB_ERR_TRAILING);
	sb_buf_free(&p);
	sb_buf_free(&m);
}

static void test_crypto_seal_truncated_trailing_pair(void **s) { (void)s; truncation(BOB1280); }
static void test_crypto_seal_truncated_trailing_ec(void **s) { (void)s; truncation(BOBEC); }

/*
 * A poor man's fuzzer under ASan/UBSan: 1 to 4 random byte replacements,
 * sometimes with the payload cut or extended.  Every mutant must fail and
 * append nothing.
 */
static void
mutations(int to)
{
	struct sb_buf p = SB_BUF_INIT, q = SB_BUF_INIT, m = SB_BUF_INIT;
	uint32_t st = 0x1234567u + (uint32_t)to;
	int i;

	seal(ALICE, to, big, 150, &p);
	for (i = 0; i < 1000; i++) {
		uint32_t n = 1 + xorshift(&st) % 4, j, shape = xorshift(&st) % 8;
		size_t len = p.len;

		sb_buf_truncate(&q, 0);
		assert_int_equal(sb_put_bytes(&q, p.d, p.len), SB_OK);
		for (j = 0; j < n; j++) {
			size_t at = xorshift(&st) % q.len;

			q.d[at] ^= (uint8_t)(1 + xorshift(&st) % 255);
		}
		if (shape == 0) {
			len = xorshift(&st) % p.len;
		} else if (shape == 1) {
			assert_int_equal(sb_put_u8(&q, (uint8_t)xorshift(&st)), SB_OK);
			len++;
		}
		if (len == p.len && memcmp(q.d, p.d, len) == 0)
			continue;       /* two flips cancelled out */
		assert_int_not_equal(open_as(to, ALICE, q.d, len, &m), SB_OK);
	}
	assert_int_equal(m.len, 0);
	sb_buf_free(&p);
	sb_buf_free(&q);
	sb_buf_free(&m);
}

static void
test_crypto_seal_random_mutations(void **state)
{
	(void)state;
	mutations(BOB1280);
	mutations(BOBEC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crypto_seal_roundtrip_rsa1280),
		cmocka_unit_test(test_crypto_seal_roundtrip_rsa2048),
		cmocka_unit_test(test_crypto_seal_roundtrip_rsa4096),
		cmocka_unit_test(test_crypto_seal_roundtrip_ec),
		cmocka_unit_test(test_crypto_seal_cross_suite),
		cmocka_unit_test(test_crypto_seal_tamper_every_byte_pair),
		cmocka_unit_test(test_crypto_seal_tamper_every_byte_ec),
		cmocka_unit_test(test_crypto_seal_tamper_sampled_pair),
		cmocka_unit_test(test_crypto_seal_tamper_sampled_ec),
		cmocka_unit_test(test_crypto_seal_resigned_pair),
		cmocka_unit_test(test_crypto_seal_resigned_ec),
		cmocka_unit_test(test_crypto_seal_wrong_tag_valid_sig),
		cmocka_unit_test(test_crypto_seal_wrong_identities),
		cmocka_unit_test(test_crypto_seal_truncated_trailing_pair),
		cmocka_unit_test(test_crypto_seal_truncated_trailing_ec),
		cmocka_unit_test(test_crypto_seal_random_mutations),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
