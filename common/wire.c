/*
 * wire.c - bounds-checked reader and cleansing writer (see wire.h).
 *
 * Every getter checks "n > remaining" before touching memory and commits the
 * cursor only after the whole field has been validated, so a failed parse
 * leaves the reader exactly where it was.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sberr.h"
#include "wire.h"

/* Hard ceiling for any single buffer: far above every protocol cap, low
 * enough that size arithmetic on it can never wrap. */
#define SB_BUF_MAX ((size_t)1 << 31)

void
sb_reader_init(struct sb_reader *r, const void *buf, size_t len)
{
	r->p = buf;
	r->len = buf == NULL ? 0 : len;
	r->off = 0;
}

size_t
sb_reader_remaining(const struct sb_reader *r)
{
	return r->len - r->off;
}

int
sb_reader_expect_end(const struct sb_reader *r)
{
	return sb_reader_remaining(r) == 0 ? SB_OK : SB_ERR_TRAILING;
}

int
sb_get_bytes_direct(struct sb_reader *r, const uint8_t **p, size_t n)
{
	*p = NULL;
	if (n > sb_reader_remaining(r))
		return SB_ERR_TRUNCATED;
	/* A reader over NULL (len 0) has nothing to point into: NULL + 0 is
	 * undefined behaviour in C (as in sb_buf_reserve below). */
	if (r->p == NULL)
		return SB_OK;
	*p = r->p + r->off;
	r->off += n;
	return SB_OK;
}

int
sb_get_rest_direct(struct sb_reader *r, const uint8_t **p, size_t *n)
{
	*n = sb_reader_remaining(r);
	return sb_get_bytes_direct(r, p, *n);
}

int
sb_get_bytes(struct sb_reader *r, void *out, size_t n)
{
	const uint8_t *p;
	int rc;

	if ((rc = sb_get_bytes_direct(r, &p, n)) != SB_OK) {
		if (n > 0)
			memset(out, 0, n);
		return rc;
	}
	if (n > 0)
		memcpy(out, p, n);
	return SB_OK;
}

static int
get_be(struct sb_reader *r, size_t n, uint64_t *v)
{
	const uint8_t *p;
	uint64_t x = 0;
	size_t i;
	int rc;

	*v = 0;
	if ((rc = sb_get_bytes_direct(r, &p, n)) != SB_OK)
		return rc;
	for (i = 0; i < n; i++)
		x = (x << 8) | p[i];
	*v = x;
	return SB_OK;
}

int
sb_get_u8(struct sb_reader *r, uint8_t *v)
{
	uint64_t x;
	int rc = get_be(r, 1, &x);

	*v = (uint8_t)x;
	return rc;
}

int
sb_get_u16be(struct sb_reader *r, uint16_t *v)
{
	uint64_t x;
	int rc = get_be(r, 2, &x);

	*v = (uint16_t)x;
	return rc;
}

int
sb_get_u32be(struct sb_reader *r, uint32_t *v)
{
	uint64_t x;
	int rc = get_be(r, 4, &x);

	*v = (uint32_t)x;
	return rc;
}

int
sb_get_u64be(struct sb_reader *r, uint64_t *v)
{
	return get_be(r, 8, v);
}

/* Shared body of the length-prefixed getters: on any failure the cursor is
 * rewound over the prefix too, so the reader is unmoved. */
static int
get_string(struct sb_reader *r, size_t prefix, const uint8_t **p, size_t *n,
    size_t max)
{
	size_t save = r->off;
	uint64_t len;
	int rc;

	*p = NULL;
	*n = 0;
	if ((rc = get_be(r, prefix, &len)) != SB_OK)
		return rc;
	if (len > max) {
		r->off = save;
		return SB_ERR_LENGTH;
	}
	if ((rc = sb_get_bytes_direct(r, p, (size_t)len)) != SB_OK) {
		r->off = save;
		return rc;
	}
	*n = (size_t)len;
	return SB_OK;
}

int
sb_get_string8_direct(struct sb_reader *r, const uint8_t **p, size_t *n, size_t max)
{
	return get_string(r, 1, p, n, max);
}

int
sb_get_string16_direct(struct sb_reader *r, const uint8_t **p, size_t *n, size_t max)
{
	return get_string(r, 2, p, n, max);
}

int
sb_get_string32_direct(struct sb_reader *r, const uint8_t **p, size_t *n, size_t max)
{
	return get_string(r, 4, p, n, max);
}

int
sb_get_der_tlv_direct(struct sb_reader *r, uint8_t tag, const uint8_t **p, size_t *n)
{
	size_t save = r->off;
	uint8_t t, l0;
	uint64_t len;
	int rc;

	*p = NULL;
	*n = 0;
	if ((rc = sb_get_u8(r, &t)) != SB_OK)
		return rc;
	if (t != tag) {
		rc = SB_ERR_FORMAT;
		goto fail;
	}
	if ((rc = sb_get_u8(r, &l0)) != SB_OK)
		goto fail;
	if (l0 < 0x80) {
		len = l0;
	} else {
		size_t nlen = l0 & 0x7f;

		/* 0x80 is the indefinite form, which DER forbids. */
		if (nlen == 0 || nlen > 4) {
			rc = SB_ERR_FORMAT;
			goto fail;
		}
		if ((rc = get_be(r, nlen, &len)) != SB_OK)
			goto fail;
		/* Minimal encoding: no leading zero octet, and the long form
		 * only for lengths that need it. */
		if (len < 0x80 || (len >> ((nlen - 1) * 8)) == 0) {
			rc = SB_ERR_FORMAT;
			goto fail;
		}
	}
	if ((rc = sb_get_bytes_direct(r, p, (size_t)len)) != SB_OK)
		goto fail;
	*n = (size_t)len;
	return SB_OK;
fail:
	r->off = save;
	return rc;
}

void
sb_buf_free(struct sb_buf *b)
{
	if (b->d != NULL) {
		OPENSSL_cleanse(b->d, b->cap);
		free(b->d);
	}
	b->d = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}

void
sb_buf_truncate(struct sb_buf *b, size_t n)
{
	if (n < b->len) {
		OPENSSL_cleanse(b->d + n, b->len - n);
		b->len = n;
	}
}

/* Grows by copying into fresh memory and cleansing the old block, never by
 * realloc, which could leave key material behind in freed memory. */
static int
grow(struct sb_buf *b, size_t need)
{
	size_t ncap;
	uint8_t *nd;

	if (need <= b->cap)
		return SB_OK;
	if (need > SB_BUF_MAX)
		return SB_ERR_TOO_BIG;
	ncap = b->cap < 256 ? 256 : b->cap;
	while (ncap < need)
		ncap *= 2;
	if ((nd = malloc(ncap)) == NULL)
		return SB_ERR_ALLOC;
	if (b->len > 0)
		memcpy(nd, b->d, b->len);
	if (b->d != NULL) {
		OPENSSL_cleanse(b->d, b->cap);
		free(b->d);
	}
	b->d = nd;
	b->cap = ncap;
	return SB_OK;
}

int
sb_buf_reserve(struct sb_buf *b, size_t n, uint8_t **p)
{
	int rc;

	*p = NULL;
	if (b->err != 0)
		return b->err;
	if (n > SB_BUF_MAX - b->len) {
		b->err = SB_ERR_TOO_BIG;
		return b->err;
	}
	if ((rc = grow(b, b->len + n)) != SB_OK) {
		b->err = rc;
		return rc;
	}
	/* Reserving 0 bytes of a buffer that owns no memory yet: *p stays
	 * NULL, since NULL + 0 is undefined behaviour in C (UBSan, found by
	 * fuzz/fuzz_open_pair.c on an empty input). */
	if (b->d == NULL)
		return SB_OK;
	*p = b->d + b->len;
	b->len += n;
	return SB_OK;
}

int
sb_put_bytes(struct sb_buf *b, const void *p, size_t n)
{
	uint8_t *dst;
	int rc;

	if ((rc = sb_buf_reserve(b, n, &dst)) != SB_OK)
		return rc;
	if (n > 0)
		memcpy(dst, p, n);
	return SB_OK;
}

static int
put_be(struct sb_buf *b, size_t n, uint64_t v)
{
	uint8_t tmp[8];
	size_t i;

	for (i = 0; i < n; i++)
		tmp[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return sb_put_bytes(b, tmp, n);
}

int sb_put_u8(struct sb_buf *b, uint8_t v)     { return put_be(b, 1, v); }
int sb_put_u16be(struct sb_buf *b, uint16_t v) { return put_be(b, 2, v); }
int sb_put_u32be(struct sb_buf *b, uint32_t v) { return put_be(b, 4, v); }
int sb_put_u64be(struct sb_buf *b, uint64_t v) { return put_be(b, 8, v); }

static int
put_string(struct sb_buf *b, size_t prefix, const void *p, size_t n)
{
	int rc;

	if (prefix < 8 && (uint64_t)n >> (8 * prefix) != 0) {
		if (b->err == 0)
			b->err = SB_ERR_LENGTH;
		return b->err;
	}
	if ((rc = put_be(b, prefix, n)) != SB_OK)
		return rc;
	return sb_put_bytes(b, p, n);
}

int sb_put_string8(struct sb_buf *b, const void *p, size_t n)  { return put_string(b, 1, p, n); }
int sb_put_string16(struct sb_buf *b, const void *p, size_t n) { return put_string(b, 2, p, n); }
int sb_put_string32(struct sb_buf *b, const void *p, size_t n) { return put_string(b, 4, p, n); }

int
sb_put_der_tlv(struct sb_buf *b, uint8_t tag, const void *p, size_t n)
{
	int rc;

	if ((uint64_t)n > 0xffffffffu) {
		if (b->err == 0)
			b->err = SB_ERR_LENGTH;
		return b->err;
	}
	if ((rc = sb_put_u8(b, tag)) != SB_OK)
		return rc;
	if (n < 0x80)
		rc = sb_put_u8(b, (uint8_t)n);
	else if (n <= 0xff)
		rc = sb_put_u8(b, 0x81) == SB_OK ? sb_put_u8(b, (uint8_t)n) : b->err;
	else if (n <= 0xffff)
		rc = sb_put_u8(b, 0x82) == SB_OK ? sb_put_u16be(b, (uint16_t)n) : b->err;
	else if (n <= 0xffffff)
		rc = sb_put_u8(b, 0x83) == SB_OK ? put_be(b, 3, n) : b->err;
	else
		rc = sb_put_u8(b, 0x84) == SB_OK ? put_be(b, 4, n) : b->err;
	if (rc != SB_OK)
		return rc;
	return sb_put_bytes(b, p, n);
}

void
sb_hex(const void *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *in = p;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
sb_put_hex(struct sb_buf *b, const void *p, size_t n)
{
	uint8_t *dst;
	char pair[3];
	size_t i;
	int rc;

	if (n > SB_BUF_MAX / 2)
		return SB_ERR_TOO_BIG;
	if ((rc = sb_buf_reserve(b, 2 * n, &dst)) != SB_OK)
		return rc;
	for (i = 0; i < n; i++) {
		sb_hex((const uint8_t *)p + i, 1, pair);
		dst[2 * i] = (uint8_t)pair[0];
		dst[2 * i + 1] = (uint8_t)pair[1];
	}
	return SB_OK;
}

void
sb_store_u16be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void
sb_store_u32be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
sb_store_u64be(uint8_t *p, uint64_t v)
{
	sb_store_u32be(p, (uint32_t)(v >> 32));
	sb_store_u32be(p + 4, (uint32_t)v);
}
