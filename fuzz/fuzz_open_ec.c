/*
 * fuzz_open_ec.c - crypto_open for suite ec (ECIES wrap, 0x03 payloads):
 * alice sends to erin (P-256 encryption key).  See open_payload.h.
 */
#include "open_payload.h"

static struct fuzz_open_keys keys;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_open_setup(&keys, "alice", "erin");
	FUZZ_ASSERT(crypto_identity_suite(keys.recipient) == CRYPTO_SUITE_EC);
	fuzz_open_one(&keys, data, size);
	return 0;
}
