/*
 * test_crypto_keys.c - private keys (generation, PKCS#8 DER/PEM, refusal of
 * other algorithms), the identity blob (encoding, H(identity), strict
 * parsing under truncation and bit flips) and crypto_sign/crypto_verify.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/sberr.h"
#include "crypto/crypto.h"
#include "crypto/internal.h"

static struct crypto_key *sign_a, *enc_ec, *enc_rsa, *sign_b;
static struct crypto_identity *id_ec, *id_rsa;

static int
group_setup(void **state)
{
	(void)state;
	if (crypto_key_generate_sign(&sign_a) != SB_OK ||
	    crypto_key_generate_sign(&sign_b) != SB_OK ||
	    crypto_key_generate_encrypt(CRYPTO_SUITE_EC, 0, &enc_ec) != SB_OK ||
	    crypto_key_generate_encrypt(CRYPTO_SUITE_PAIR, 1280, &enc_rsa) != SB_OK ||
	    crypto_identity_from_keys(sign_a, enc_ec, &id_ec) != SB_OK ||
	    crypto_identity_from_keys(sign_a, enc_rsa, &id_rsa) != SB_OK)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	crypto_key_free(sign_a);
	crypto_key_free(sign_b);
	crypto_key_free(enc_ec);
	crypto_key_free(enc_rsa);
	crypto_identity_free(id_ec);
	crypto_identity_free(id_rsa);
	return 0;
}

static void
pkcs8_roundtrip(const struct crypto_key *k, const struct crypto_identity *id,
    int is_sign)
{
	struct sb_buf der = SB_BUF_INIT, pem = SB_BUF_INIT, again = SB_BUF_INIT;
	struct crypto_key *k1, *k2;

	assert_int_equal(crypto_key_to_pkcs8_der(k, &der), SB_OK);
	assert_int_equal(crypto_key_to_pkcs8_pem(k, &pem), SB_OK);
	assert_non_null(memmem(pem.d, pem.len, "-----BEGIN PRIVATE KEY-----", 27));
	assert_int_equal(crypto_key_from_pkcs8_der(der.d, der.len, &k1), SB_OK);
	assert_int_equal(crypto_key_from_pkcs8_pem(pem.d, pem.len, &k2), SB_OK);
	assert_int_equal(crypto_key_to_pkcs8_der(k2, &again), SB_OK);
	assert_int_equal(again.len, der.len);
	assert_memory_equal(again.d, der.d, der.len);
	assert_true(crypto_identity_matches(id, is_sign ? k1 : NULL, is_sign ? NULL : k1));
	crypto_key_free(k2);
	/* Trailing garbage after DER. */
	assert_int_equal(sb_put_u8(&der, 0), SB_OK);
	assert_int_equal(crypto_key_from_pkcs8_der(der.d, der.len, &k2),
	    SB_ERR_TRAILING);
	assert_null(k2);
	crypto_key_free(k1);
	sb_buf_free(&der);
	sb_buf_free(&pem);
	sb_buf_free(&again);
}

static void
test_crypto_keys_pkcs8_roundtrip(void **state)
{
	(void)state;
	pkcs8_roundtrip(sign_a, id_ec, 1);
	pkcs8_roundtrip(enc_ec, id_ec, 0);
	pkcs8_roundtrip(enc_rsa, id_rsa, 0);
}

/* PKCS#8 of a key generated outside crypto/ (another algorithm or size). */
static void
foreign_pkcs8(const char *alg, const char *param, struct sb_buf *der)
{
	EVP_PKEY *pkey;
	unsigned char *p = NULL;
	int n;

	if (strcmp(alg, "RSA") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)atoi(param));
	else if (strcmp(alg, "EC") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", param);
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, alg);
	assert_non_null(pkey);
	/* i2d_PrivateKey would give PKCS#1 for RSA; go through PKCS8_PRIV_KEY_INFO. */
	{
		PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);

		assert_non_null(p8);
		n = i2d_PKCS8_PRIV_KEY_INFO(p8, &p);
		PKCS8_PRIV_KEY_INFO_free(p8);
	}
	assert_true(n > 0);
	assert_int_equal(sb_put_bytes(der, p, (size_t)n), SB_OK);
	OPENSSL_clear_free(p, (size_t)n);
	EVP_PKEY_free(pkey);
}

static void
test_crypto_keys_refuse_other_algorithms(void **state)
{
	static const char *const cases[][2] = {
		{ "RSA", "1024" }, { "EC", "P-384" }, { "ED25519", NULL }, { "X25519", NULL },
	};
	struct crypto_key *k = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sb_buf der = SB_BUF_INIT;

		foreign_pkcs8(cases[i][0], cases[i][1], &der);
		assert_int_equal(crypto_key_from_pkcs8_der(der.d, der.len, &k), SB_ERR_KEY_TYPE);
		assert_null(k);
		sb_buf_free(&der);
	}
	assert_int_equal(crypto_key_from_pkcs8_der((const uint8_t *)"\x30\x03\x02\x01\x00", 5,
	    &k), SB_ERR_KEY_INVALID);
	assert_int_equal(crypto_key_from_pkcs8_pem((const uint8_t *)"not a key\n", 10, &k),
	    SB_ERR_KEY_INVALID);
	assert_int_equal(crypto_key_generate_encrypt(CRYPTO_SUITE_PAIR, 1279, &k), SB_ERR_KEY_TYPE);
	assert_int_equal(crypto_key_generate_encrypt(CRYPTO_SUITE_PAIR, 4097, &k), SB_ERR_KEY_TYPE);
	assert_null(k);
}

/* H(identity) recomputed from the DER by hand: SHA-256 of the contents of
 * [1] and [2], length prefixes included. */
static void
test_crypto_keys_identity_layout(void **state)
{
	const uint8_t *der;
	size_t len, c1_off, c2_off, c2_len;
	uint8_t h[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	(void)state;
	crypto_identity_der(id_ec, &der, &len);
	/* 30 81 8a | 81 43 (00 41 04 X Y) | 82 43 (00 41 04 X Y) */
	assert_int_equal(len, 3 + 2 + 67 + 2 + 67);
	assert_memory_equal(der, "\x30\x81\x8a\x81\x43\x00\x41\x04", 8);
	assert_memory_equal(der + 72, "\x82\x43\x00\x41\x04", 5);
	c1_off = 5;
	c2_off = 74;
	c2_len = 67;
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex2(ctx, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, der + c1_off, 67), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, der + c2_off, c2_len), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, h, NULL), 1);
	EVP_MD_CTX_free(ctx);
	assert_memory_equal(h, crypto_identity_hash(id_ec), 32);
	assert_int_equal(crypto_identity_suite(id_ec), CRYPTO_SUITE_EC);
	assert_int_equal(crypto_identity_suite(id_rsa), CRYPTO_SUITE_PAIR);
	/* Same signing key in both identities, different hashes. */
	assert_memory_not_equal(crypto_identity_hash(id_ec), crypto_identity_hash(id_rsa), 32);
	assert_true(crypto_identity_matches(id_ec, sign_a, enc_ec));
	assert_false(crypto_identity_matches(id_ec, sign_b, NULL));
	assert_false(crypto_identity_matches(id_ec, NULL, enc_rsa));
	assert_false(crypto_identity_matches(id_rsa, enc_ec, NULL));
	assert_false(crypto_identity_matches(id_rsa, NULL, enc_ec));
}

/* Every strict prefix fails; appending a byte fails. */
static void
truncations(const struct crypto_identity *id)
{
	struct crypto_identity *out;
	uint8_t buf[CRYPTO_IDENTITY_MAX + 1];
	const uint8_t *der;
	size_t len, n;

	crypto_identity_der(id, &der, &len);
	for (n = 0; n < len; n++) {
		int rc = crypto_identity_parse(der, n, &out);

		assert_int_not_equal(rc, SB_OK);
		assert_null(out);
	}
	memcpy(buf, der, len);
	buf[len] = 0;
	assert_int_equal(crypto_identity_parse(buf, len + 1, &out), SB_ERR_TRAILING);
	assert_int_equal(crypto_identity_parse(der, len, &out), SB_OK);
	crypto_identity_free(out);
}

static void
test_crypto_keys_identity_truncated(void **state)
{
	(void)state;
	truncations(id_ec);
	truncations(id_rsa);
}

/*
 * Every single-bit flip of an ec identity fails to parse (framing bytes
 * break the DER, point bytes leave the curve).  In an RSA identity a flip
 * inside the modulus can give another well-formed modulus, so there the
 * rule is: the parse fails, or it yields a different H(identity).
 */
static void
test_crypto_keys_identity_bitflips(void **state)
{
	const struct crypto_identity *ids[] = { id_ec, id_rsa };
	size_t which, i, accepted = 0;
	int bit;

	(void)state;
	for (which = 0; which < 2; which++) {
		uint8_t buf[CRYPTO_IDENTITY_MAX];
		const uint8_t *der;
		size_t len;

		crypto_identity_der(ids[which], &der, &len);
		memcpy(buf, der, len);
		for (i = 0; i < len; i++) {
			for (bit = 0; bit < 8; bit++) {
				struct crypto_identity *out = NULL;
				int rc;

				buf[i] ^= (uint8_t)(1u << bit);
				rc = crypto_identity_parse(buf, len, &out);
				buf[i] ^= (uint8_t)(1u << bit);
				if (rc != SB_OK)
					continue;
				if (which == 0)
					fail_msg("ec identity accepted with bit %d of byte %zu flipped", bit, i);
				assert_memory_not_equal(crypto_identity_hash(out),
				    crypto_identity_hash(ids[which]), CRYPTO_HASH_LEN);
				crypto_identity_free(out);
				accepted++;
			}
		}
	}
	/* Only bits of the modulus (its sign octet included: 0x00 -> 0x01
	 * makes a 1281-bit modulus) and of the 3-byte exponent can survive,
	 * never a parity bit or a bit that makes an INTEGER negative. */
	assert_true(accepted > 0 && accepted <= 8 * (161 + 3) - 4);
}

/* Random garbage and random splices of real identities: the parser must
 * never crash or leak (ASan), and never accept a non-identity prefix. */
static void
test_crypto_keys_identity_garbage(void **state)
{
	uint8_t buf[CRYPTO_IDENTITY_MAX + 8];
	uint32_t st = 0xdeadbeefu;
	const uint8_t *der;
	size_t len, i, j;

	(void)state;
	crypto_identity_der(id_rsa, &der, &len);
	for (i = 0; i < 2000; i++) {
		struct crypto_identity *out = NULL;
		size_t n;

		st ^= st << 13;
		st ^= st >> 17;
		st ^= st << 5;
		n = st % sizeof(buf);
		/* Half keep the real header so parsing gets deep. */
		for (j = 0; j < n; j++)
			buf[j] = (uint8_t)((st >> (j % 24)) ^ (j * 197));
		if (i % 2 == 0 && n > 8)
			memcpy(buf, der, n < len ? n : len);
		if (crypto_identity_parse(buf, n, &out) == SB_OK) {
			/* Only the intact identity may parse. */
			assert_int_equal(n, len);
			crypto_identity_free(out);
		}
	}
}

static void
test_crypto_keys_sign_verify(void **state)
{
	struct sb_buf sig = SB_BUF_INIT;
	const uint8_t msg[] = "challenge 1234";

	(void)state;
	assert_int_equal(crypto_sign(sign_a, msg, sizeof(msg), &sig), SB_OK);
	assert_true(sig.len > 8 && sig.len <= 72);
	assert_int_equal(crypto_verify(id_ec, msg, sizeof(msg), sig.d, sig.len), SB_OK);
	assert_int_equal(crypto_verify(id_rsa, msg, sizeof(msg), sig.d, sig.len), SB_OK);
	assert_int_equal(crypto_verify(id_ec, msg, sizeof(msg) - 1, sig.d, sig.len),
	    SB_ERR_SIGNATURE);
	sig.d[sig.len - 1] ^= 1;
	assert_int_equal(crypto_verify(id_ec, msg, sizeof(msg), sig.d, sig.len), SB_ERR_SIGNATURE);
	sb_buf_free(&sig);
	/* Another key's signature; an RSA key cannot sign. */
	assert_int_equal(crypto_sign(sign_b, msg, sizeof(msg), &sig), SB_OK);
	assert_int_equal(crypto_verify(id_ec, msg, sizeof(msg), sig.d, sig.len), SB_ERR_SIGNATURE);
	sb_buf_free(&sig);
	assert_int_equal(crypto_sign(enc_rsa, msg, sizeof(msg), &sig), SB_ERR_KEY_TYPE);
	assert_int_equal(crypto_verify(id_ec, msg, sizeof(msg), (const uint8_t *)"", 0),
	    SB_ERR_SIGNATURE);
	sb_buf_free(&sig);
}

static void
test_crypto_keys_helpers(void **state)
{
	uint8_t a[32], b[32];

	(void)state;
	assert_int_equal(crypto_random(a, sizeof(a)), SB_OK);
	memcpy(b, a, sizeof(a));
	assert_true(crypto_ct_equal(a, b, sizeof(a)));
	b[31] ^= 1;
	assert_false(crypto_ct_equal(a, b, sizeof(a)));
	assert_true(crypto_ct_equal(a, b, 0));
	crypto_wipe(a, sizeof(a));
	memset(b, 0, sizeof(b));
	assert_memory_equal(a, b, sizeof(a));
	crypto_wipe(NULL, 5);
	crypto_key_free(NULL);
	crypto_identity_free(NULL);
	crypto_hasher_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crypto_keys_pkcs8_roundtrip),
		cmocka_unit_test(test_crypto_keys_refuse_other_algorithms),
		cmocka_unit_test(test_crypto_keys_identity_layout),
		cmocka_unit_test(test_crypto_keys_identity_truncated),
		cmocka_unit_test(test_crypto_keys_identity_bitflips),
		cmocka_unit_test(test_crypto_keys_identity_garbage),
		cmocka_unit_test(test_crypto_keys_sign_verify),
		cmocka_unit_test(test_crypto_keys_helpers),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
