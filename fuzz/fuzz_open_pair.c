/*
 * fuzz_open_pair.c - crypto_open for suite pair (RSA-OAEP wrap, 0x02
 * payloads): alice (P-256 signing key) sends to bob (RSA-1280, the modulus
 * deployed devices use, and the fastest to fuzz).  See open_payload.h.
 */
#include "open_payload.h"

static struct fuzz_open_keys keys;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_open_setup(&keys, "alice", "bob");
	FUZZ_ASSERT(crypto_identity_suite(keys.recipient) == CRYPTO_SUITE_PAIR);
	fuzz_open_one(&keys, data, size);
	return 0;
}
