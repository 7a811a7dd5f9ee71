/*
 * fuzz_wire.c - the bounded reader of common/wire.h, driven by the input:
 * byte 0 says how many of the following bytes are operations, the rest is
 * the buffer they read.  Each operation is one getter (integers, bytes,
 * length-prefixed strings with a chosen cap, a DER TLV with a chosen tag).
 *
 * Properties (wire.h's promises): a failing getter returns a negative
 * SB_ERR_*, zeroes its outputs and leaves the cursor where it was; a
 * succeeding one consumes exactly its field and borrows from inside the
 * buffer; what a string or DER getter accepted re-encodes through the
 * matching sb_put_* to the very bytes it consumed (DER: minimal lengths).
 */
#include "fuzz.h"
#include "common/wire.h"

/* Caps a string getter is tried with (index = op >> 4 & 7). */
static const size_t caps[8] = { 0, 1, 2, 64, 255, 256, 65535, (size_t)-1 };
/* Tags a DER getter is tried with; index 0 = "the next byte", so the
 * fuzzer can succeed without guessing. */
static const uint8_t tags[8] = { 0, 0x30, 0x02, 0x04, 0x81, 0x82, 0xa0, 0xff };

static const uint8_t *buf_lo, *buf_hi;

static void
check_borrow(const uint8_t *p, size_t n)
{
	FUZZ_ASSERT(n == 0 || (p >= buf_lo && p + n <= buf_hi));
}

/* Re-encodes an accepted field and compares it with the consumed bytes. */
static void
check_reencode(const struct sb_buf *b, const uint8_t *consumed, size_t n)
{
	FUZZ_ASSERT(b->err == SB_OK && b->len == n);
	FUZZ_ASSERT(n == 0 || memcmp(b->d, consumed, n) == 0);
}

static void
op_int(struct sb_reader *r, unsigned which)
{
	static const size_t width[4] = { 1, 2, 4, 8 };
	size_t before = sb_reader_remaining(r), w = width[which & 3];
	uint8_t v8 = 0xaa;
	uint16_t v16 = 0xaaaa;
	uint32_t v32 = 0xaaaaaaaa;
	uint64_t v64 = 0xaaaaaaaaaaaaaaaa, v;
	int rc;

	switch (which & 3) {
	case 0: rc = sb_get_u8(r, &v8); v = v8; break;
	case 1: rc = sb_get_u16be(r, &v16); v = v16; break;
	case 2: rc = sb_get_u32be(r, &v32); v = v32; break;
	default: rc = sb_get_u64be(r, &v64); v = v64; break;
	}
	if (rc != SB_OK) {
		FUZZ_ASSERT(rc == SB_ERR_TRUNCATED && v == 0 && before < w);
		FUZZ_ASSERT(sb_reader_remaining(r) == before);
		return;
	}
	FUZZ_ASSERT(before - sb_reader_remaining(r) == w);
}

static void
op_bytes(struct sb_reader *r, size_t n, int direct)
{
	size_t before = sb_reader_remaining(r), i;
	const uint8_t *p = buf_lo;
	uint8_t out[64];
	int rc;

	if (direct) {
		rc = sb_get_bytes_direct(r, &p, n);
	} else {
		if (n > sizeof(out))
			n = sizeof(out);
		memset(out, 0xaa, sizeof(out));
		rc = sb_get_bytes(r, out, n);
	}
	if (rc != SB_OK) {
		FUZZ_ASSERT(rc == SB_ERR_TRUNCATED && n > before);
		FUZZ_ASSERT(sb_reader_remaining(r) == before);
		if (direct)
			FUZZ_ASSERT(p == NULL);
		else
			for (i = 0; i < n; i++)
				FUZZ_ASSERT(out[i] == 0);
		return;
	}
	FUZZ_ASSERT(before - sb_reader_remaining(r) == n);
	if (direct)
		check_borrow(p, n);
}

static void
op_string(struct sb_reader *r, unsigned prefix, size_t max)
{
	struct sb_buf b = SB_BUF_INIT;
	size_t before = sb_reader_remaining(r), n = 12345, consumed;
	const uint8_t *p = buf_lo, *start = buf_hi - before;
	int rc;

	switch (prefix) {
	case 1: rc = sb_get_string8_direct(r, &p, &n, max); break;
	case 2: rc = sb_get_string16_direct(r, &p, &n, max); break;
	default: rc = sb_get_string32_direct(r, &p, &n, max); break;
	}
	if (rc != SB_OK) {
		FUZZ_ASSERT(rc == SB_ERR_TRUNCATED || rc == SB_ERR_LENGTH);
		FUZZ_ASSERT(p == NULL && n == 0 && sb_reader_remaining(r) == before);
		return;
	}
	consumed = before - sb_reader_remaining(r);
	FUZZ_ASSERT(n <= max && consumed == prefix + n);
	check_borrow(p, n);
	FUZZ_ASSERT(p == start + prefix || n == 0);
	switch (prefix) {
	case 1: sb_put_string8(&b, p, n); break;
	case 2: sb_put_string16(&b, p, n); break;
	default: sb_put_string32(&b, p, n); break;
	}
	check_reencode(&b, start, consumed);
	sb_buf_free(&b);
}

static void
op_der(struct sb_reader *r, uint8_t tag)
{
	struct sb_buf b = SB_BUF_INIT;
	size_t before = sb_reader_remaining(r), n = 12345, consumed;
	const uint8_t *p = buf_lo, *start = buf_hi - before;
	int rc;

	rc = sb_get_der_tlv_direct(r, tag, &p, &n);
	if (rc != SB_OK) {
		FUZZ_ASSERT(rc == SB_ERR_TRUNCATED || rc == SB_ERR_FORMAT ||
		    rc == SB_ERR_LENGTH);
		FUZZ_ASSERT(p == NULL && n == 0 && sb_reader_remaining(r) == before);
		return;
	}
	consumed = before - sb_reader_remaining(r);
	FUZZ_ASSERT(start[0] == tag && consumed >= 2 + n && consumed <= 6 + n);
	check_borrow(p, n);
	FUZZ_ASSERT(p + n == start + consumed);
	FUZZ_ASSERT(sb_put_der_tlv(&b, tag, p, n) == SB_OK);
	check_reencode(&b, start, consumed);
	sb_buf_free(&b);
}

/* The writer on its own: what goes in comes out, truncation cleanses. */
static void
writer(const uint8_t *data, size_t size)
{
	struct sb_buf b = SB_BUF_INIT;
	uint8_t *dst;
	size_t half = size / 2;

	FUZZ_ASSERT(sb_put_bytes(&b, data, size) == SB_OK && b.len == size);
	FUZZ_ASSERT(size == 0 || memcmp(b.d, data, size) == 0);
	sb_buf_truncate(&b, half);
	FUZZ_ASSERT(b.len == half);
	FUZZ_ASSERT(sb_buf_reserve(&b, size, &dst) == SB_OK && b.len == half + size);
	if (size > 0)
		memcpy(dst, data, size);
	FUZZ_ASSERT(sb_put_string8(&b, data, size) == (size <= 0xff ? SB_OK : SB_ERR_LENGTH));
	sb_buf_free(&b);
	FUZZ_ASSERT(b.d == NULL && b.len == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sb_reader r;
	const uint8_t *ops, *rest;
	size_t n_ops, i, rest_len;
	uint8_t op;

	if (size == 0)
		return 0;
	n_ops = data[0] % 32;
	if (n_ops > size - 1)
		n_ops = size - 1;
	ops = data + 1;
	rest = data + 1 + n_ops;
	rest_len = size - 1 - n_ops;
	buf_lo = rest;
	buf_hi = rest + rest_len;
	sb_reader_init(&r, rest, rest_len);
	FUZZ_ASSERT(sb_reader_remaining(&r) == rest_len);

	for (i = 0; i < n_ops; i++) {
		op = ops[i];
		switch (op & 0x0f) {
		case 0: case 1: case 2: case 3:
			op_int(&r, op & 3);
			break;
		case 4:
			op_bytes(&r, op >> 4, 0);
			break;
		case 5:
			op_bytes(&r, (size_t)(op >> 4) * 17, 1);
			break;
		case 6: case 7: case 8:
			op_string(&r, (op & 0x0f) == 6 ? 1 : (op & 0x0f) == 7 ? 2 : 4,
			    caps[op >> 4 & 7]);
			break;
		case 9: case 10: {
			uint8_t tag = tags[op >> 4 & 7];

			if ((op >> 4 & 7) == 0)
				tag = sb_reader_remaining(&r) > 0 ? buf_hi[-(long)sb_reader_remaining(&r)] : 0x30;
			op_der(&r, tag);
			break;
		}
		case 11: {
			const uint8_t *p = buf_lo;
			size_t n = 1, before = sb_reader_remaining(&r);

			FUZZ_ASSERT(sb_get_rest_direct(&r, &p, &n) == SB_OK && n == before);
			check_borrow(p, n);
			FUZZ_ASSERT(sb_reader_remaining(&r) == 0);
			break;
		}
		default:
			FUZZ_ASSERT((sb_reader_expect_end(&r) == SB_OK) ==
			    (sb_reader_remaining(&r) == 0));
			break;
		}
	}
	/* Whatever is left: read it as a sequence of DER TLVs. */
	while (sb_reader_remaining(&r) > 0) {
		size_t before = sb_reader_remaining(&r);

		op_der(&r, buf_hi[-(long)before]);
		if (sb_reader_remaining(&r) == before)
			break;
	}
	writer(data, size);
	return 0;
}
