/*
 * test_wire.c - the bounds-checked reader and the cleansing writer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/sberr.h"
#include "common/wire.h"

static void
test_wire_ints_roundtrip(void **state)
{
	struct sb_buf b = SB_BUF_INIT;
	struct sb_reader r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	(void)state;
	assert_int_equal(sb_put_u8(&b, 0xab), SB_OK);
	assert_int_equal(sb_put_u16be(&b, 0x1234), SB_OK);
	assert_int_equal(sb_put_u32be(&b, 0xdeadbeef), SB_OK);
	assert_int_equal(sb_put_u64be(&b, 0x0102030405060708ull), SB_OK);
	assert_int_equal(b.len, 15);
	assert_int_equal(b.d[1], 0x12);
	assert_int_equal(b.d[2], 0x34);
	sb_reader_init(&r, b.d, b.len);
	assert_int_equal(sb_get_u8(&r, &u8), SB_OK);
	assert_int_equal(sb_get_u16be(&r, &u16), SB_OK);
	assert_int_equal(sb_get_u32be(&r, &u32), SB_OK);
	assert_int_equal(sb_get_u64be(&r, &u64), SB_OK);
	assert_int_equal(u8, 0xab);
	assert_int_equal(u16, 0x1234);
	assert_int_equal(u32, 0xdeadbeef);
	assert_true(u64 == 0x0102030405060708ull);
	assert_int_equal(sb_reader_expect_end(&r), SB_OK);
	sb_buf_free(&b);
}

static void
test_wire_truncated_leaves_cursor(void **state)
{
	const uint8_t in[] = { 0x00, 0x05, 'a', 'b' };
	struct sb_reader r;
	const uint8_t *p = (const uint8_t *)1;
	size_t n = 99;
	uint32_t v = 7;

	(void)state;
	sb_reader_init(&r, in, sizeof(in));
	assert_int_equal(sb_get_string16_direct(&r, &p, &n, 100), SB_ERR_TRUNCATED);
	assert_null(p);
	assert_int_equal(n, 0);
	assert_int_equal(sb_reader_remaining(&r), 4);
	assert_int_equal(sb_get_string16_direct(&r, &p, &n, 4), SB_ERR_LENGTH);
	assert_int_equal(sb_reader_remaining(&r), 4);
	assert_int_equal(sb_get_u32be(&r, &v), SB_OK);
	assert_int_equal(sb_get_u8(&r, (uint8_t *)&v), SB_ERR_TRUNCATED);
	assert_int_equal(sb_reader_expect_end(&r), SB_OK);
}

static void
test_wire_trailing(void **state)
{
	const uint8_t in[] = { 1, 2, 3 };
	struct sb_reader r;
	uint16_t v;

	(void)state;
	sb_reader_init(&r, in, sizeof(in));
	assert_int_equal(sb_get_u16be(&r, &v), SB_OK);
	assert_int_equal(sb_reader_expect_end(&r), SB_ERR_TRAILING);
}

static void
test_wire_der_tlv(void **state)
{
	struct sb_buf b = SB_BUF_INIT;
	struct sb_reader r;
	uint8_t big[300];
	const uint8_t *p;
	size_t n;

	(void)state;
	memset(big, 0x5a, sizeof(big));
	assert_int_equal(sb_put_der_tlv(&b, 0x81, big, 5), SB_OK);
	assert_int_equal(sb_put_der_tlv(&b, 0x82, big, sizeof(big)), SB_OK);
	assert_int_equal(b.d[7], 0x82);      /* tag */
	assert_int_equal(b.d[8], 0x82);      /* two length octets */
	assert_int_equal(b.d[9], 0x01);
	assert_int_equal(b.d[10], 0x2c);
	sb_reader_init(&r, b.d, b.len);
	assert_int_equal(sb_get_der_tlv_direct(&r, 0x82, &p, &n), SB_ERR_FORMAT);
	assert_int_equal(sb_get_der_tlv_direct(&r, 0x81, &p, &n), SB_OK);
	assert_int_equal(n, 5);
	assert_int_equal(sb_get_der_tlv_direct(&r, 0x82, &p, &n), SB_OK);
	assert_int_equal(n, 300);
	assert_int_equal(sb_reader_expect_end(&r), SB_OK);
	sb_buf_free(&b);
}

static void
test_wire_der_rejects_nonminimal(void **state)
{
	const uint8_t indefinite[] = { 0x30, 0x80, 0x00, 0x00 };
	const uint8_t longshort[] = { 0x30, 0x81, 0x05, 1, 2, 3, 4, 5 };
	const uint8_t leadzero[] = { 0x30, 0x82, 0x00, 0x81 };
	struct sb_reader r;
	const uint8_t *p;
	size_t n;

	(void)state;
	sb_reader_init(&r, indefinite, sizeof(indefinite));
	assert_int_equal(sb_get_der_tlv_direct(&r, 0x30, &p, &n), SB_ERR_FORMAT);
	assert_int_equal(sb_reader_remaining(&r), sizeof(indefinite));
	sb_reader_init(&r, longshort, sizeof(longshort));
	assert_int_equal(sb_get_der_tlv_direct(&r, 0x30, &p, &n), SB_ERR_FORMAT);
	sb_reader_init(&r, leadzero, sizeof(leadzero));
	assert_int_equal(sb_get_der_tlv_direct(&r, 0x30, &p, &n), SB_ERR_FORMAT);
}

static void
test_wire_string_overflow_sticky(void **state)
{
	struct sb_buf b = SB_BUF_INIT;
	uint8_t big[300] = { 0 };

	(void)state;
	assert_int_equal(sb_put_string8(&b, big, sizeof(big)), SB_ERR_LENGTH);
	/* The error is sticky: later puts fail the same way. */
	assert_int_equal(sb_put_u8(&b, 1), SB_ERR_LENGTH);
	assert_int_equal(b.len, 0);
	sb_buf_free(&b);
	assert_int_equal(sb_put_string8(&b, big, 255), SB_OK);
	assert_int_equal(b.len, 256);
	sb_buf_truncate(&b, 10);
	assert_int_equal(b.len, 10);
	sb_buf_free(&b);
}

static void
test_wire_hex(void **state)
{
	const uint8_t in[] = { 0x00, 0x9f, 0xa0, 0xff };
	struct sb_buf b = SB_BUF_INIT;
	char out[2 * sizeof(in) + 1];

	(void)state;
	memset(out, 'z', sizeof(out));
	sb_hex(in, sizeof(in), out);
	assert_string_equal(out, "009fa0ff");
	sb_hex(in, 0, out);
	assert_string_equal(out, "");
	assert_int_equal(sb_put_u8(&b, '<'), SB_OK);
	assert_int_equal(sb_put_hex(&b, in, sizeof(in)), SB_OK);
	assert_int_equal(b.len, 9);
	assert_memory_equal(b.d, "<009fa0ff", 9);
	sb_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_ints_roundtrip),
		cmocka_unit_test(test_wire_truncated_leaves_cursor),
		cmocka_unit_test(test_wire_trailing),
		cmocka_unit_test(test_wire_der_tlv),
		cmocka_unit_test(test_wire_der_rejects_nonminimal),
		cmocka_unit_test(test_wire_string_overflow_sticky),
		cmocka_unit_test(test_wire_hex),
	};
	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
