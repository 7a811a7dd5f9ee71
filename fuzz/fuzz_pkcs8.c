/*
 * fuzz_pkcs8.c - private keys from PKCS#8, DER (as the keyring stores them)
 * and PEM (the offline codec's key files): crypto_key_from_pkcs8_der and
 * crypto_key_from_pkcs8_pem on the same arbitrary bytes.
 *
 * Properties: a rejected input yields no key; an accepted key serialises,
 * and its serialisation parses back to the same serialisation (DER and
 * PEM); the key is whole, its public half matching its private half: as a
 * signing key, its own identity verifies what it signs; as an encryption
 * key, it opens what is sealed to its own identity.  (This found that the
 * parsers trusted the public key embedded in PKCS#8: fuzz/crashes/pkcs8/.)
 */
#include "fuzz.h"

/* The P-256 signing key that stands beside a parsed encryption key. */
static struct crypto_key *alice_sign;

static void
check_encrypt(const struct crypto_key *k, const uint8_t *data, size_t size)
{
	struct crypto_identity *id = NULL;
	struct sb_buf payload = SB_BUF_INIT, plain = SB_BUF_INIT;

	if (crypto_identity_from_keys(alice_sign, k, &id) != SB_OK)
		return;
	if (size > 64)
		size = 64;
	FUZZ_ASSERT(crypto_seal(alice_sign, id, id, data, size, &payload) == SB_OK);
	FUZZ_ASSERT(crypto_open(k, id, id, payload.d, payload.len, &plain) == SB_OK);
	FUZZ_ASSERT(plain.len == size && (size == 0 || memcmp(plain.d, data, size) == 0));
	crypto_identity_free(id);
	sb_buf_free(&payload);
	sb_buf_free(&plain);
}

static void
check_key(const struct crypto_key *k, const uint8_t *data, size_t size)
{
	struct sb_buf der = SB_BUF_INIT, der2 = SB_BUF_INIT, pem = SB_BUF_INIT;
	struct sb_buf sig = SB_BUF_INIT;
	struct crypto_key *k2 = NULL;
	struct crypto_identity *id = NULL;

	FUZZ_ASSERT(crypto_key_to_pkcs8_der(k, &der) == SB_OK && der.len > 0);
	FUZZ_ASSERT(crypto_key_from_pkcs8_der(der.d, der.len, &k2) == SB_OK);
	FUZZ_ASSERT(crypto_key_to_pkcs8_der(k2, &der2) == SB_OK);
	FUZZ_ASSERT(der2.len == der.len && memcmp(der2.d, der.d, der.len) == 0);
	crypto_key_free(k2);
	k2 = NULL;
	FUZZ_ASSERT(crypto_key_to_pkcs8_pem(k, &pem) == SB_OK);
	FUZZ_ASSERT(crypto_key_from_pkcs8_pem(pem.d, pem.len, &k2) == SB_OK);
	crypto_key_free(k2);

	/* Only a P-256 key can sign; it then also serves as a suite-ec
	 * encryption key, so it makes a whole identity on its own. */
	if (crypto_sign(k, data, size, &sig) == SB_OK) {
		FUZZ_ASSERT(crypto_identity_from_keys(k, k, &id) == SB_OK);
		FUZZ_ASSERT(crypto_identity_matches(id, k, k) == 1);
		FUZZ_ASSERT(crypto_verify(id, data, size, sig.d, sig.len) == SB_OK);
		crypto_identity_free(id);
	}
	check_encrypt(k, data, size);
	sb_buf_free(&sig);
	sb_buf_free(&der);
	sb_buf_free(&der2);
	sb_buf_free(&pem);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crypto_key *k = NULL;
	int rc;

	if (alice_sign == NULL)
		alice_sign = fuzz_load_key("alice", "sign.pem");
	rc = crypto_key_from_pkcs8_der(data, size, &k);
	if (rc == SB_OK) {
		check_key(k, data, size);
		crypto_key_free(k);
	} else {
		FUZZ_ASSERT(rc < 0 && k == NULL);
	}
	k = NULL;
	rc = crypto_key_from_pkcs8_pem(data, size, &k);
	if (rc == SB_OK) {
		check_key(k, data, size);
		crypto_key_free(k);
	} else {
		FUZZ_ASSERT(rc < 0 && k == NULL);
	}
	return 0;
}
