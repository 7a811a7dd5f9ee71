/*
 * sth.c - signed tree heads (docs/PROTOCOL.md 14.5): codec, signature by
 * the relay's log key, verification under the key a device pinned.
 * No I/O; the signing itself is crypto/'s.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "../common/sberr.h"
#include "tlog.h"

#define STH_CONTEXT "sealbox-log tree head v1"

int
tlog_key_fingerprint(const uint8_t key[TLOG_KEY_LEN], uint8_t out[TLOG_HASH_LEN])
{
	if (key == NULL || out == NULL)
		return SB_ERR_INVALID_ARG;
	return EVP_Digest(key, TLOG_KEY_LEN, out, NULL, EVP_sha256(), NULL) == 1 ?
	    SB_OK : SB_ERR_CRYPTO;
}

/* The text the log key signs: context, log_id, size, time, root. */
static int
signed_text(const uint8_t key[TLOG_KEY_LEN], const struct tlog_sth *sth, struct sb_buf *out)
{
	uint8_t id[TLOG_HASH_LEN];
	int rc;

	if ((rc = tlog_key_fingerprint(key, id)) != SB_OK)
		return rc;
	sb_put_bytes(out, STH_CONTEXT, sizeof(STH_CONTEXT));
	sb_put_bytes(out, id, sizeof(id));
	sb_put_u64be(out, sth->size);
	sb_put_u64be(out, sth->time);
	return sb_put_bytes(out, sth->root, TLOG_HASH_LEN);
}

int
tlog_sth_sign(const struct crypto_key *log_key, struct tlog_sth *sth)
{
	struct sb_buf text = SB_BUF_INIT, sig = SB_BUF_INIT;
	uint8_t key[TLOG_KEY_LEN];
	int rc;

	if (log_key == NULL || sth == NULL || sth->size > TLOG_MAX_SIZE)
		return SB_ERR_INVALID_ARG;
	if ((rc = crypto_key_public_point(log_key, key)) == SB_OK &&
	    (rc = signed_text(key, sth, &text)) == SB_OK &&
	    (rc = crypto_sign(log_key, text.d, text.len, &sig)) == SB_OK) {
		if (sig.len == 0 || sig.len > TLOG_MAX_SIG) {
			rc = SB_ERR_INTERNAL;
		} else {
			memcpy(sth->sig, sig.d, sig.len);
			sth->sig_len = sig.len;
		}
	}
	sb_buf_free(&text);
	sb_buf_free(&sig);
	return rc;
}

int
tlog_sth_encode(const struct tlog_sth *sth, struct sb_buf *out)
{
	size_t start;
	int rc;

	if (sth == NULL || out == NULL)
		return SB_ERR_INVALID_ARG;
	if (sth->sig_len == 0 || sth->sig_len > TLOG_MAX_SIG)
		return SB_ERR_LENGTH;
	if (sth->size > TLOG_MAX_SIZE)
		return SB_ERR_INVALID_ARG;
	start = out->len;
	sb_put_u8(out, TLOG_VERSION);
	sb_put_u64be(out, sth->size);
	sb_put_u64be(out, sth->time);
	sb_put_bytes(out, sth->root, TLOG_HASH_LEN);
	if ((rc = sb_put_string8(out, sth->sig, sth->sig_len)) != SB_OK) {
		if (out->len >= start)
			sb_buf_truncate(out, start);
		return rc;
	}
	return SB_OK;
}

int
tlog_sth_parse(const uint8_t *p, size_t len, struct tlog_sth *out)
{
	struct sb_reader r;
	struct tlog_sth t;
	const uint8_t *sig;
	uint8_t version = 0;
	int rc;

	if (out == NULL)
		return SB_ERR_INVALID_ARG;
	memset(out, 0, sizeof(*out));
	memset(&t, 0, sizeof(t));
	sb_reader_init(&r, p, p == NULL ? 0 : len);
	if ((rc = sb_get_u8(&r, &version)) != SB_OK)
		return rc;
	if (version != TLOG_VERSION)
		return SB_ERR_FORMAT;
	if ((rc = sb_get_u64be(&r, &t.size)) != SB_OK ||
	    (rc = sb_get_u64be(&r, &t.time)) != SB_OK ||
	    (rc = sb_get_bytes(&r, t.root, TLOG_HASH_LEN)) != SB_OK ||
	    (rc = sb_get_string8_direct(&r, &sig, &t.sig_len, TLOG_MAX_SIG)) != SB_OK)
		return rc;
	if (t.sig_len == 0)
		return SB_ERR_LENGTH;
	if ((rc = sb_reader_expect_end(&r)) != SB_OK)
		return rc;
	if (t.size > TLOG_MAX_SIZE)
		return SB_ERR_FORMAT;
	memcpy(t.sig, sig, t.sig_len);
	*out = t;
	return SB_OK;
}

int
tlog_sth_verify(const uint8_t key[TLOG_KEY_LEN], const struct tlog_sth *sth)
{
	struct sb_buf text = SB_BUF_INIT;
	uint8_t empty[TLOG_HASH_LEN];
	int rc;

	if (key == NULL || sth == NULL)
		return SB_ERR_INVALID_ARG;
	if ((rc = signed_text(key, sth, &text)) == SB_OK)
		rc = crypto_verify_point(key, text.d, text.len, sth->sig, sth->sig_len);
	sb_buf_free(&text);
	if (rc == SB_ERR_KEY_INVALID)
		return SB_ERR_SIGNATURE;   /* a pinned key that is no point verifies nothing */
	if (rc != SB_OK)
		return rc;
	if (sth->size == 0) {
		if (EVP_Digest("", 0, empty, NULL, EVP_sha256(), NULL) != 1)
			return SB_ERR_CRYPTO;
		if (CRYPTO_memcmp(empty, sth->root, TLOG_HASH_LEN) != 0)
			return SB_ERR_FORMAT;
	}
	return SB_OK;
}

int
tlog_sth_open(const uint8_t key[TLOG_KEY_LEN], const uint8_t *p, size_t len,
    struct tlog_sth *out)
{
	int rc;

	if ((rc = tlog_sth_parse(p, len, out)) != SB_OK)
		return rc;
	if ((rc = tlog_sth_verify(key, out)) != SB_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}
