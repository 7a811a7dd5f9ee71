/*
 * test_proto.c - the relay frame codec (proto/proto.h): every message type
 * round-trips byte for byte; truncation at every byte, every single-bit
 * flip, oversize and trailing bytes are refused or re-encode identically
 * (the decoder is strict and canonical); caps hold on both sides.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/sberr.h"
#include "common/wire.h"
#include "proto/proto.h"

#define B(s) ((struct proto_bytes){ (const uint8_t *)(s), sizeof(s) - 1 })

static struct proto_bytes addrs[2] = {
	{ (const uint8_t *)"bob@example.com", 15 },
	{ (const uint8_t *)"+15551234567", 12 },
};
static struct proto_item items[2] = {
	{ 7, { (const uint8_t *)"payload-one", 11 } },
	{ 9, { (const uint8_t *)"p2", 2 } },
};
static struct proto_device devs[2] = {
	{ 7, { (const uint8_t *)"laptop", 6 }, { (const uint8_t *)"\x30\x03\x81\x01\x00", 5 } },
	{ 9, { (const uint8_t *)"phone", 5 }, { (const uint8_t *)"\x30\x00", 2 } },
};
static struct proto_addr_devices results[2] = {
	{ { (const uint8_t *)"bob@example.com", 15 }, 2, devs },
	{ { (const uint8_t *)"nobody@example.com", 18 }, 0, NULL },
};
static uint64_t missing[3] = { 1, 2, 0xffffffffffffffffull };
static uint64_t extra[1] = { 42 };
static struct proto_status_entry status[3] = {
	{ 7, PROTO_STATE_QUEUED }, { 8, PROTO_STATE_DELIVERED }, { 9, PROTO_STATE_EXPIRED },
};

/* One sample of every message type. */
static size_t
samples(struct proto_msg *m)
{
	size_t n = 0;

	memset(m, 0, 20 * sizeof(*m));
	m[n].type = PROTO_REGISTER; m[n].rid = 1; m[n].address = B("alice@example.com");
	m[n].code = B("abcd-ef01"); m[n].suite = 2; m[n].identity = B("\x30\x01\x00");
	m[n].name = B("laptop"); m[n].sig = B("\x30\x44sig"); n++;
	m[n].type = PROTO_AUTH; m[n].rid = 2; m[n].u64 = 77; m[n].sig = B("sig"); n++;
	m[n].type = PROTO_LOOKUP; m[n].rid = 3; m[n].addrs = addrs; m[n].n_addrs = 2; n++;
	m[n].type = PROTO_REMOVE; m[n].rid = 4; m[n].u64 = 5; n++;
	m[n].type = PROTO_SEND; m[n].rid = 5; memset(m[n].msgid, 0xab, PROTO_MSGID_LEN);
	m[n].addrs = addrs; m[n].n_addrs = 2; m[n].items = items; m[n].n_items = 2; n++;
	m[n].type = PROTO_ACK; m[n].rid = 6; m[n].u64 = 1234; n++;
	m[n].type = PROTO_STATUS; m[n].rid = 7; memset(m[n].msgid, 0x11, PROTO_MSGID_LEN); n++;
	m[n].type = PROTO_BLOB_PUT; m[n].rid = 8; m[n].u64 = 1ull << 30; n++;
	m[n].type = PROTO_BLOB_DATA; m[n].rid = 8; m[n].data = B("chunk of blob"); n++;
	m[n].type = PROTO_BLOB_GET; m[n].rid = 9; m[n].text = B("sbblob:00ff"); n++;
	m[n].type = PROTO_PING; m[n].rid = 10; n++;
	m[n].type = PROTO_HELLO; m[n].version = PROTO_VERSION;
	memset(m[n].challenge, 0x5a, PROTO_CHALLENGE_LEN); n++;
	m[n].type = PROTO_OK; m[n].rid = 11; m[n].u64 = 99; n++;
	m[n].type = PROTO_ERROR; m[n].rid = 12; m[n].err = SB_ERR_STALE_DEVICES;
	m[n].text = B("stale"); n++;
	m[n].type = PROTO_LOOKUP_RESULT; m[n].rid = 13; m[n].results = results;
	m[n].n_results = 2; n++;
	m[n].type = PROTO_STALE; m[n].rid = 14; m[n].missing = missing; m[n].n_missing = 3;
	m[n].extra = extra; m[n].n_extra = 1; n++;
	m[n].type = PROTO_PUSH; m[n].item_id = 55; memset(m[n].msgid, 0x22, PROTO_MSGID_LEN);
	m[n].address = B("alice@example.com"); m[n].sender_device = 3; m[n].timestamp = 1700000000;
	m[n].data = B("opaque sealed payload"); n++;
	m[n].type = PROTO_STATUS_RESULT; m[n].rid = 15; m[n].status = status; m[n].n_status = 3; n++;
	m[n].type = PROTO_BLOB_URI; m[n].rid = 16; m[n].text = B("sbblob:abcdef"); n++;
	return n;
}

static void
encode_ok(const struct proto_msg *m, struct sb_buf *b)
{
	sb_buf_free(b);
	assert_int_equal(proto_encode(m, b), SB_OK);
}

static void
test_proto_roundtrip_every_type(void **state)
{
	struct proto_msg m[20], d;
	struct sb_buf b = SB_BUF_INIT, b2 = SB_BUF_INIT;
	size_t n = samples(m), i, total;

	(void)state;
	for (i = 0; i < n; i++) {
		encode_ok(&m[i], &b);
		assert_int_equal(proto_frame_size(b.d, b.len, &total), SB_OK);
		assert_int_equal(total, b.len);
		assert_int_equal(proto_decode(b.d, b.len, &d), SB_OK);
		assert_int_equal(d.type, m[i].type);
		assert_int_equal(d.rid, m[i].rid);
		encode_ok(&d, &b2);
		assert_int_equal(b2.len, b.len);
		assert_memory_equal(b2.d, b.d, b.len);
		proto_msg_clear(&d);
	}
	sb_buf_free(&b);
	sb_buf_free(&b2);
}

static void
test_proto_fields_survive(void **state)
{
	struct proto_msg m[20], d;
	struct sb_buf b = SB_BUF_INIT;

	(void)state;
	samples(m);
	encode_ok(&m[4], &b);   /* SEND */
	assert_int_equal(proto_decode(b.d, b.len, &d), SB_OK);
	assert_int_equal(d.n_addrs, 2);
	assert_int_equal(d.addrs[1].len, 12);
	assert_memory_equal(d.addrs[1].p, "+15551234567", 12);
	assert_int_equal(d.n_items, 2);
	assert_true(d.items[0].device_id == 7);
	assert_memory_equal(d.items[0].payload.p, "payload-one", 11);
	proto_msg_clear(&d);
	encode_ok(&m[14], &b);  /* LOOKUP_RESULT */
	assert_int_equal(proto_decode(b.d, b.len, &d), SB_OK);
	assert_int_equal(d.n_results, 2);
	assert_int_equal(d.results[0].n_devices, 2);
	assert_memory_equal(d.results[0].devices[1].name.p, "phone", 5);
	assert_int_equal(d.results[1].n_devices, 0);
	proto_msg_clear(&d);
	encode_ok(&m[13], &b);  /* ERROR */
	assert_int_equal(proto_decode(b.d, b.len, &d), SB_OK);
	assert_int_equal(d.err, SB_ERR_STALE_DEVICES);
	proto_msg_clear(&d);
	sb_buf_free(&b);
}

/* Cutting a frame anywhere (with a length field that agrees with the cut,
 * and without) is refused. */
static void
test_proto_truncation_every_byte(void **state)
{
	struct proto_msg m[20], d;
	struct sb_buf b = SB_BUF_INIT;
	uint8_t *cp;
	size_t n = samples(m), i, k;

	(void)state;
	for (i = 0; i < n; i++) {
		encode_ok(&m[i], &b);
		cp = malloc(b.len);
		assert_non_null(cp);
		for (k = 0; k < b.len; k++) {
			memcpy(cp, b.d, k);
			assert_int_not_equal(proto_decode(cp, k, &d), SB_OK);
			/* BLOB_DATA's body is "the rest": a shorter chunk is valid */
			if (k >= 4 && !(m[i].type == PROTO_BLOB_DATA && k > SB_FRAME_HDR)) {
				sb_store_u32be(cp, (uint32_t)(k - 4));
				assert_int_not_equal(proto_decode(cp, k, &d), SB_OK);
			}
		}
		free(cp);
	}
	sb_buf_free(&b);
}

/* Any single-bit flip is refused, or decodes to a message that re-encodes
 * to exactly the flipped bytes (no two encodings of one message). */
static void
test_proto_bit_flips(void **state)
{
	struct proto_msg m[20], d;
	struct sb_buf b = SB_BUF_INIT, b2 = SB_BUF_INIT;
	uint8_t *cp;
	size_t n = samples(m), i, k;
	int bit, accepted = 0, refused = 0;

	(void)state;
	for (i = 0; i < n; i++) {
		encode_ok(&m[i], &b);
		cp = malloc(b.len);
		assert_non_null(cp);
		for (k = 0; k < b.len; k++)
			for (bit = 0; bit < 8; bit++) {
				memcpy(cp, b.d, b.len);
				cp[k] ^= (uint8_t)(1u << bit);
				if (proto_decode(cp, b.len, &d) != SB_OK) {
					refused++;
					continue;
				}
				accepted++;
				sb_buf_free(&b2);
				assert_int_equal(proto_encode(&d, &b2), SB_OK);
				assert_int_equal(b2.len, b.len);
				assert_memory_equal(b2.d, cp, b.len);
				proto_msg_clear(&d);
			}
		free(cp);
	}
	assert_true(refused > 0 && accepted > 0);
	sb_buf_free(&b);
	sb_buf_free(&b2);
}

static void
test_proto_trailing_and_unknown(void **state)
{
	struct proto_msg m[20], d;
	struct sb_buf b = SB_BUF_INIT;
	size_t n = samples(m), i;

	(void)state;
	for (i = 0; i < n; i++) {
		encode_ok(&m[i], &b);
		if (m[i].type == PROTO_BLOB_DATA)
			continue;   /* its body is "the rest": no trailing bytes exist */
		sb_put_u8(&b, 0);
		/* length field still says one less: the extra byte is outside */
		assert_int_equal(proto_decode(b.d, b.len, &d), SB_ERR_TRAILING);
		sb_store_u32be(b.d, (uint32_t)(b.len - 4));
		assert_int_equal(proto_decode(b.d, b.len, &d), SB_ERR_TRAILING);
	}
	encode_ok(&m[10], &b);   /* PING */
	b.d[4] = 0x7e;
	assert_int_equal(proto_decode(b.d, b.len, &d), SB_ERR_FORMAT);
	assert_false(proto_type_from_client(0x7e));
	assert_false(proto_type_from_client(PROTO_PUSH));
	assert_true(proto_type_from_client(PROTO_SEND));
	sb_buf_free(&b);
}

static void
test_proto_oversize(void **state)
{
	uint8_t hdr[9] = { 0 }, big[SB_MAX_BLOB_CHUNK + 1];
	struct proto_msg m, d;
	struct proto_item many[SB_MAX_BATCH_DEVICES + 1];
	struct sb_buf b = SB_BUF_INIT;
	size_t total;

	(void)state;
	sb_store_u32be(hdr, SB_MAX_FRAME + 1);
	assert_int_equal(proto_frame_size(hdr, sizeof(hdr), &total), SB_ERR_LENGTH);
	assert_int_equal(proto_decode(hdr, sizeof(hdr), &d), SB_ERR_LENGTH);
	sb_store_u32be(hdr, 4);   /* shorter than type + rid */
	assert_int_equal(proto_frame_size(hdr, sizeof(hdr), &total), SB_ERR_LENGTH);
	assert_int_equal(proto_frame_size(hdr, 3, &total), SB_ERR_TRUNCATED);
	sb_store_u32be(hdr, SB_MAX_FRAME);
	assert_int_equal(proto_frame_size(hdr, 4, &total), SB_OK);
	assert_int_equal(total, SB_MAX_FRAME + 4);

	memset(big, 'x', sizeof(big));
	assert_int_equal(proto_encode_blob_data(1, big, sizeof(big), &b), SB_ERR_LENGTH);
	assert_int_equal(b.len, 0);
	assert_int_equal(proto_encode_blob_data(1, big, sizeof(big) - 1, &b), SB_OK);
	assert_int_equal(proto_decode(b.d, b.len, &d), SB_OK);
	proto_msg_clear(&d);
	sb_buf_free(&b);

	memset(&m, 0, sizeof(m));
	memset(many, 0, sizeof(many));
	m.type = PROTO_SEND;
	m.addrs = addrs;
	m.n_addrs = 1;
	m.items = many;
	m.n_items = SB_MAX_BATCH_DEVICES + 1;
	assert_int_equal(proto_encode(&m, &b), SB_ERR_LENGTH);
	assert_int_equal(b.len, 0);
	m.n_items = 1;
	many[0].payload.p = big;
	many[0].payload.len = SB_MAX_PAYLOAD + 1;
	assert_int_equal(proto_encode(&m, &b), SB_ERR_LENGTH);
	m.n_addrs = SB_MAX_LOOKUP_ADDRS + 1;
	many[0].payload.len = 1;
	assert_int_equal(proto_encode(&m, &b), SB_ERR_LENGTH);
	m.n_addrs = 0;
	assert_int_equal(proto_encode(&m, &b), SB_ERR_LENGTH);
	assert_int_equal(b.len, 0);
	sb_buf_free(&b);
}

/* A count field larger than its cap is refused before any allocation. */
static void
test_proto_count_caps_on_decode(void **state)
{
	struct sb_buf b = SB_BUF_INIT;
	struct proto_msg d;

	(void)state;
	sb_put_u32be(&b, 5 + 16 + 1 + 1 + 1 + 2);
	sb_put_u8(&b, PROTO_SEND);
	sb_put_u32be(&b, 1);
	sb_put_bytes(&b, "0123456789abcdef", 16);
	sb_put_u8(&b, 1);
	sb_put_string8(&b, "a", 1);
	sb_put_u16be(&b, SB_MAX_BATCH_DEVICES + 1);
	assert_int_equal(proto_decode(b.d, b.len, &d), SB_ERR_LENGTH);
	sb_buf_free(&b);
}

static void
test_proto_addresses(void **state)
{
	static const char *good[] = { "a@b.co", "bob@example.com", "x.y+tag@mail.example.org",
	    "+15551234567", "+442071838750" };
	static const char *bad[] = { "", "bob", "@example.com", "bob@", "bob@example",
	    "bob@@example.com", "bob @example.com", "bob@example.com.", "bob@.com",
	    "+0123456789", "+1234", "+1555123456789012", "+1555-123-4567", "a/b@example.com",
	    "a@b,c.com", "bob@exa\x01mple.com" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(proto_address_valid((const uint8_t *)good[i], strlen(good[i])), SB_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(proto_address_valid((const uint8_t *)bad[i], strlen(bad[i])),
		    SB_ERR_INVALID_ARG);
}

static void
test_proto_transcripts_bind_everything(void **state)
{
	uint8_t ex[PROTO_EXPORTER_LEN], ch[PROTO_CHALLENGE_LEN];
	struct sb_buf a = SB_BUF_INIT, b = SB_BUF_INIT;

	(void)state;
	memset(ex, 1, sizeof(ex));
	memset(ch, 2, sizeof(ch));
	proto_auth_transcript(ex, ch, 7, &a);
	proto_auth_transcript(ex, ch, 8, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_not_equal(a.d, b.d, a.len);
	sb_buf_free(&b);
	ex[0] ^= 1;
	proto_auth_transcript(ex, ch, 7, &b);
	assert_memory_not_equal(a.d, b.d, a.len);
	sb_buf_free(&b);
	ex[0] ^= 1;
	ch[31] ^= 1;
	proto_auth_transcript(ex, ch, 7, &b);
	assert_memory_not_equal(a.d, b.d, a.len);
	sb_buf_free(&b);
	ch[31] ^= 1;
	proto_register_transcript(ex, ch, (const uint8_t *)"a@b.co", 6,
	    (const uint8_t *)"id", 2, &b);
	/* different context strings: an auth signature never passes as a
	 * registration one */
	assert_memory_not_equal(a.d, b.d, 16);
	sb_buf_free(&a);
	sb_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_roundtrip_every_type),
		cmocka_unit_test(test_proto_fields_survive),
		cmocka_unit_test(test_proto_truncation_every_byte),
		cmocka_unit_test(test_proto_bit_flips),
		cmocka_unit_test(test_proto_trailing_and_unknown),
		cmocka_unit_test(test_proto_oversize),
		cmocka_unit_test(test_proto_count_caps_on_decode),
		cmocka_unit_test(test_proto_addresses),
		cmocka_unit_test(test_proto_transcripts_bind_everything),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
