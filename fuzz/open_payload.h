/*
 * open_payload.h - the body of fuzz_open_pair.c and fuzz_open_ec.c: crypto_open for
 * one fixed sender -> recipient pair of test keys (tests/vectors/keys).
 *
 * Each input is tried three ways:
 *   1. as a payload, as it would arrive from the relay;
 *   2. re-signed: its version byte and body (as far as the input has one)
 *      get a fresh valid signature by the sender, so mutations of a valid
 *      payload's body reach the unwrap, decryption and tag check instead of
 *      stopping at the signature;
 *   3. as a plaintext: seal then open must give it back unchanged.
 * Properties: a failure appends nothing to the output; a payload that opens
 * as sent also opens re-signed, to the same plaintext.
 */
#ifndef SB_FUZZ_OPEN_H
#define SB_FUZZ_OPEN_H

#include "fuzz.h"
#include "crypto/internal.h"

/* Round trips are for coverage of normal sizes, not for speed tests. */
#define FUZZ_OPEN_ROUNDTRIP_MAX 4096

struct fuzz_open_keys {
	struct crypto_key *sender_sign, *recipient_enc;
	struct crypto_identity *sender, *recipient;
};

static void
fuzz_open_setup(struct fuzz_open_keys *k, const char *sender, const char *recipient)
{
	if (k->sender != NULL)
		return;
	k->sender_sign = fuzz_load_key(sender, "sign.pem");
	k->sender = fuzz_load_identity(sender);
	k->recipient_enc = fuzz_load_key(recipient, "encrypt.pem");
	k->recipient = fuzz_load_identity(recipient);
}

/* crypto_open, checking that a failure leaves `plain` as it was. */
static int
open_checked(const struct fuzz_open_keys *k, const uint8_t *p, size_t len,
    struct sb_buf *plain)
{
	int rc = crypto_open(k->recipient_enc, k->recipient, k->sender, p, len, plain);

	if (rc != SB_OK)
		FUZZ_ASSERT(rc < 0 && plain->len == 0);
	return rc;
}

static void
fuzz_open_one(const struct fuzz_open_keys *k, const uint8_t *data, size_t size)
{
	struct sb_buf raw = SB_BUF_INIT, resigned = SB_BUF_INIT, plain = SB_BUF_INIT;
	struct sb_buf sealed = SB_BUF_INIT;
	size_t body_len;
	int rc_raw, rc;

	rc_raw = open_checked(k, data, size, &raw);

	if (size >= 3) {
		body_len = ((size_t)data[1] << 8) | data[2];
		if (body_len > size - 3)
			body_len = size - 3;
		rc = crypto_payload_frame(k->sender_sign, data[0], data + 3, body_len,
		    &resigned);
		FUZZ_ASSERT(rc == SB_OK);
		rc = open_checked(k, resigned.d, resigned.len, &plain);
		if (rc_raw == SB_OK) {
			FUZZ_ASSERT(rc == SB_OK && plain.len == raw.len);
			FUZZ_ASSERT(raw.len == 0 || memcmp(plain.d, raw.d, raw.len) == 0);
		}
		sb_buf_free(&plain);
	}

	if (size <= FUZZ_OPEN_ROUNDTRIP_MAX) {
		rc = crypto_seal(k->sender_sign, k->sender, k->recipient, data, size, &sealed);
		FUZZ_ASSERT(rc == SB_OK);
		rc = open_checked(k, sealed.d, sealed.len, &plain);
		FUZZ_ASSERT(rc == SB_OK && plain.len == size);
		FUZZ_ASSERT(size == 0 || memcmp(plain.d, data, size) == 0);
	}
	sb_buf_free(&raw);
	sb_buf_free(&resigned);
	sb_buf_free(&plain);
	sb_buf_free(&sealed);
}

#endif
