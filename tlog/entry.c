/*
 * entry.c - the log's small codecs (docs/PROTOCOL.md 14.2-14.4): address
 * hash, entries, leaf and node hashes, the texts devices sign, link codes.
 * No I/O; untrusted bytes only through common/wire.h.
 */
#include <ctype.h>
#include <string.h>

#include <openssl/evp.h>

#include "../common/sberr.h"
#include "tlog.h"

#define ADDR_CONTEXT    "sealbox-log address v1"
#define APPROVE_CONTEXT "sealbox-log approve v1"
#define REMOVE_CONTEXT  "sealbox-log remove v1"
#define LINK_CONTEXT    "sealbox-link v1"
/* Crockford's base32: no i, l, o, u, so a code read aloud is not misheard. */
static const char code_alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
#define CODE_CHARS      16          /* 80 bits */

/* SHA-256 over up to three pieces. */
static int
sha256_3(const void *a, size_t an, const void *b, size_t bn, const void *c, size_t cn,
    uint8_t out[TLOG_HASH_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (ctx == NULL)
		return SB_ERR_ALLOC;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, a, an) == 1 &&
	    (bn == 0 || EVP_DigestUpdate(ctx, b, bn) == 1) &&
	    (cn == 0 || EVP_DigestUpdate(ctx, c, cn) == 1) &&
	    EVP_DigestFinal_ex(ctx, out, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? SB_OK : SB_ERR_CRYPTO;
}

int
tlog_addr_hash(const char *address, size_t len, uint8_t out[TLOG_HASH_LEN])
{
	if (address == NULL || out == NULL)
		return SB_ERR_INVALID_ARG;
	/* sizeof includes the NUL: the context's terminator is the 0x00. */
	return sha256_3(ADDR_CONTEXT, sizeof(ADDR_CONTEXT), address, len, NULL, 0, out);
}

int
tlog_leaf_hash(const uint8_t *data, size_t len, uint8_t out[TLOG_HASH_LEN])
{
	static const uint8_t zero = 0x00;

	return sha256_3(&zero, 1, data, len, NULL, 0, out);
}

int
tlog_node_hash(const uint8_t l[TLOG_HASH_LEN], const uint8_t r[TLOG_HASH_LEN],
    uint8_t out[TLOG_HASH_LEN])
{
	static const uint8_t one = 0x01;

	return sha256_3(&one, 1, l, TLOG_HASH_LEN, r, TLOG_HASH_LEN, out);
}

/* The rules a parsed entry obeys beyond its lengths (14.3). */
static int
entry_fields_valid(const struct tlog_entry *e)
{
	if (e->kind < TLOG_ADD || e->kind > TLOG_REMOVE || e->device == 0)
		return 0;
	if ((e->signer == 0) != (e->sig_len == 0))
		return 0;
	return e->kind != TLOG_CHANGE || e->signer == 0;
}

int
tlog_entry_encode(const struct tlog_entry *e, struct sb_buf *out)
{
	size_t start;

	if (e == NULL || out == NULL)
		return SB_ERR_INVALID_ARG;
	if (e->identity_len == 0 || e->identity_len > TLOG_MAX_IDENTITY ||
	    e->sig_len > TLOG_MAX_SIG)
		return SB_ERR_LENGTH;
	if (!entry_fields_valid(e))
		return SB_ERR_INVALID_ARG;
	start = out->len;
	sb_put_u8(out, TLOG_VERSION);
	sb_put_u8(out, e->kind);
	sb_put_bytes(out, e->addr, TLOG_HASH_LEN);
	sb_put_u32be(out, e->seq);
	sb_put_u64be(out, e->device);
	sb_put_u64be(out, e->time);
	sb_put_string16(out, e->identity, e->identity_len);
	sb_put_u64be(out, e->signer);
	sb_put_string8(out, e->sig, e->sig_len);
	if (out->err != SB_OK) {
		int rc = out->err;

		if (out->len >= start)
			sb_buf_truncate(out, start);
		return rc;
	}
	return SB_OK;
}

int
tlog_entry_parse(const uint8_t *p, size_t len, struct tlog_entry *e)
{
	struct sb_reader r;
	struct tlog_entry t;
	uint8_t version = 0;
	int rc;

	if (e == NULL)
		return SB_ERR_INVALID_ARG;
	memset(e, 0, sizeof(*e));
	memset(&t, 0, sizeof(t));
	sb_reader_init(&r, p, p == NULL ? 0 : len);
	if ((rc = sb_get_u8(&r, &version)) != SB_OK ||
	    (rc = sb_get_u8(&r, &t.kind)) != SB_OK)
		return rc;
	if (version != TLOG_VERSION || t.kind < TLOG_ADD || t.kind > TLOG_REMOVE)
		return SB_ERR_FORMAT;
	if ((rc = sb_get_bytes(&r, t.addr, TLOG_HASH_LEN)) != SB_OK ||
	    (rc = sb_get_u32be(&r, &t.seq)) != SB_OK ||
	    (rc = sb_get_u64be(&r, &t.device)) != SB_OK ||
	    (rc = sb_get_u64be(&r, &t.time)) != SB_OK ||
	    (rc = sb_get_string16_direct(&r, &t.identity, &t.identity_len,
	        TLOG_MAX_IDENTITY)) != SB_OK ||
	    (rc = sb_get_u64be(&r, &t.signer)) != SB_OK ||
	    (rc = sb_get_string8_direct(&r, &t.sig, &t.sig_len, TLOG_MAX_SIG)) != SB_OK)
		return rc;
	if (t.identity_len == 0)
		return SB_ERR_LENGTH;
	if (!entry_fields_valid(&t))
		return SB_ERR_FORMAT;
	if ((rc = sb_reader_expect_end(&r)) != SB_OK)
		return rc;
	*e = t;
	return SB_OK;
}

int
tlog_approve_text(const uint8_t addr[TLOG_HASH_LEN],
    const uint8_t new_identity_hash[CRYPTO_HASH_LEN], struct sb_buf *out)
{
	if (addr == NULL || new_identity_hash == NULL || out == NULL)
		return SB_ERR_INVALID_ARG;
	sb_put_bytes(out, APPROVE_CONTEXT, sizeof(APPROVE_CONTEXT));
	sb_put_bytes(out, addr, TLOG_HASH_LEN);
	return sb_put_bytes(out, new_identity_hash, CRYPTO_HASH_LEN);
}

int
tlog_remove_text(const uint8_t addr[TLOG_HASH_LEN], uint64_t device,
    const uint8_t removed_identity_hash[CRYPTO_HASH_LEN], struct sb_buf *out)
{
	if (addr == NULL || removed_identity_hash == NULL || out == NULL)
		return SB_ERR_INVALID_ARG;
	sb_put_bytes(out, REMOVE_CONTEXT, sizeof(REMOVE_CONTEXT));
	sb_put_bytes(out, addr, TLOG_HASH_LEN);
	sb_put_u64be(out, device);
	return sb_put_bytes(out, removed_identity_hash, CRYPTO_HASH_LEN);
}

/* The 16 symbols (values 0..31) of an identity's code. */
static int
code_symbols(const uint8_t h[CRYPTO_HASH_LEN], uint8_t sym[CODE_CHARS])
{
	uint8_t l[TLOG_HASH_LEN];
	size_t i;
	int rc;

	if ((rc = sha256_3(LINK_CONTEXT, sizeof(LINK_CONTEXT), h, CRYPTO_HASH_LEN,
	    NULL, 0, l)) != SB_OK)
		return rc;
	/* 80 bits = 10 bytes, 5 bits a symbol, most significant first. */
	for (i = 0; i < CODE_CHARS; i++) {
		size_t bit = i * 5, byte = bit / 8, shift = bit % 8;
		unsigned v = (unsigned)l[byte] << 8 | (byte + 1 < 10 ? l[byte + 1] : 0);

		sym[i] = (uint8_t)((v >> (11 - shift)) & 31);
	}
	return SB_OK;
}

int
tlog_link_code(const uint8_t identity_hash[CRYPTO_HASH_LEN], char out[TLOG_LINK_CODE_BUF])
{
	uint8_t sym[CODE_CHARS];
	size_t i, o = 0;
	int rc;

	if (identity_hash == NULL || out == NULL)
		return SB_ERR_INVALID_ARG;
	if ((rc = code_symbols(identity_hash, sym)) != SB_OK)
		return rc;
	for (i = 0; i < CODE_CHARS; i++) {
		if (i > 0 && i % 4 == 0)
			out[o++] = '-';
		out[o++] = code_alphabet[sym[i]];
	}
	out[o] = '\0';
	return SB_OK;
}

/* A typed character's symbol, or -1. */
static int
code_value(int c)
{
	const char *p;

	c = tolower((unsigned char)c);
	if (c == 'i' || c == 'l')
		c = '1';
	else if (c == 'o')
		c = '0';
	p = strchr(code_alphabet, c);
	return c != '\0' && p != NULL ? (int)(p - code_alphabet) : -1;
}

int
tlog_link_code_match(const char *typed, const uint8_t identity_hash[CRYPTO_HASH_LEN])
{
	uint8_t want[CODE_CHARS], got[CODE_CHARS];
	size_t n = 0;
	int rc, v;

	if (typed == NULL || identity_hash == NULL)
		return SB_ERR_INVALID_ARG;
	for (; *typed != '\0'; typed++) {
		if (*typed == '-' || isspace((unsigned char)*typed))
			continue;
		if ((v = code_value(*typed)) < 0 || n == CODE_CHARS)
			return SB_ERR_FORMAT;
		got[n++] = (uint8_t)v;
	}
	if (n != CODE_CHARS)
		return SB_ERR_FORMAT;
	if ((rc = code_symbols(identity_hash, want)) != SB_OK)
		return rc;
	return memcmp(want, got, CODE_CHARS) == 0 ? SB_OK : SB_ERR_TAG;
}
