/*
 * fuzz_identity.c - crypto_identity_parse on arbitrary bytes (the blob the
 * directory serves for every device, DESIGN.md 4).
 *
 * Properties beyond "no crash, no leak": a rejected blob yields no
 * identity; an accepted one is exactly the input (no trailing bytes kept),
 * parses again to the same hash and suite, and can be sealed to - a blob
 * the parser accepts but seal chokes on would break sending.
 */
#include "fuzz.h"

static struct crypto_key *alice_sign;
static struct crypto_identity *alice;

static void
setup(void)
{
	if (alice != NULL)
		return;
	alice_sign = fuzz_load_key("alice", "sign.pem");
	alice = fuzz_load_identity("alice");
}

static void
check_accepted(const struct crypto_identity *id, const uint8_t *data, size_t size)
{
	struct crypto_identity *again = NULL;
	struct sb_buf payload = SB_BUF_INIT;
	enum crypto_suite suite = crypto_identity_suite(id);
	const uint8_t *der;
	size_t der_len, m_len;

	FUZZ_ASSERT(suite == CRYPTO_SUITE_PAIR || suite == CRYPTO_SUITE_EC);
	crypto_identity_der(id, &der, &der_len);
	FUZZ_ASSERT(der_len == size && memcmp(der, data, size) == 0);
	FUZZ_ASSERT(crypto_identity_parse(der, der_len, &again) == SB_OK);
	FUZZ_ASSERT(crypto_identity_suite(again) == suite);
	FUZZ_ASSERT(memcmp(crypto_identity_hash(again), crypto_identity_hash(id),
	    CRYPTO_HASH_LEN) == 0);
	crypto_identity_free(again);

	/* A signature made by someone else must not verify. */
	FUZZ_ASSERT(crypto_verify(id, data, size, data, size < 72 ? size : 72) != SB_OK);

	m_len = crypto_seal_max_plaintext(id);
	FUZZ_ASSERT(m_len > 0);
	if (m_len > size)
		m_len = size;
	FUZZ_ASSERT(crypto_seal(alice_sign, alice, id, data, m_len, &payload) == SB_OK);
	FUZZ_ASSERT(payload.len > m_len);
	sb_buf_free(&payload);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crypto_identity *id = NULL;
	int rc;

	setup();
	rc = crypto_identity_parse(data, size, &id);
	if (rc != SB_OK) {
		FUZZ_ASSERT(rc < 0 && id == NULL);
		return 0;
	}
	FUZZ_ASSERT(id != NULL);
	check_accepted(id, data, size);
	crypto_identity_free(id);
	return 0;
}
