/*
 * test_message.c - the inner message codec: round trips of both kinds,
 * size helpers that match the encoder, truncation at every byte, every
 * single-bit flip either refused or re-encoding to exactly the flipped bytes
 * (no two encodings of one message), and each cap and rule refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/message.h"
#include "common/sberr.h"

#define S(x) ((struct message_str){ (x), sizeof(x) - 1 })

static void
fill(struct message *m, enum message_kind kind)
{
	static const uint8_t content[] = "hello, bob\n";
	size_t i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < MESSAGE_ID_LEN; i++)
		m->id[i] = (uint8_t)(0x10 + i);
	m->timestamp = 1764000000;
	m->sender = S("alice@example.com");
	m->n_recipients = 2;
	m->recipients[0] = S("+4915112345678");
	m->recipients[1] = S("bob@example.com");
	m->folder = S("Bob,Carol");
	m->name = S("notes.txt");
	m->mtime_sec = 1763999999;
	m->mtime_nsec = 123456789;
	m->kind = kind;
	if (kind == MESSAGE_INLINE) {
		m->content = content;
		m->content_len = sizeof(content) - 1;
	} else {
		memset(m->att.key, 0x42, sizeof(m->att.key));
		m->att.uri = S("blob:0123456789abcdef");
		memset(m->att.sha1, 0x11, sizeof(m->att.sha1));
		memset(m->att.sha256, 0x22, sizeof(m->att.sha256));
		m->att.size = 5u << 20;
	}
}

static int
str_eq(struct message_str a, struct message_str b)
{
	return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static void
assert_same(const struct message *a, const struct message *b)
{
	size_t i;

	assert_memory_equal(a->id, b->id, MESSAGE_ID_LEN);
	assert_int_equal(a->timestamp, b->timestamp);
	assert_true(str_eq(a->sender, b->sender));
	assert_int_equal(a->n_recipients, b->n_recipients);
	for (i = 0; i < a->n_recipients; i++)
		assert_true(str_eq(a->recipients[i], b->recipients[i]));
	assert_true(str_eq(a->folder, b->folder));
	assert_true(str_eq(a->name, b->name));
	assert_int_equal(a->mtime_sec, b->mtime_sec);
	assert_int_equal(a->mtime_nsec, b->mtime_nsec);
	assert_int_equal(a->kind, b->kind);
	if (a->kind == MESSAGE_INLINE) {
		assert_int_equal(a->content_len, b->content_len);
		assert_memory_equal(a->content, b->content, a->content_len);
	} else {
		assert_memory_equal(a->att.key, b->att.key, sizeof(a->att.key));
		assert_true(str_eq(a->att.uri, b->att.uri));
		assert_memory_equal(a->att.sha1, b->att.sha1, sizeof(a->att.sha1));
		assert_memory_equal(a->att.sha256, b->att.sha256, sizeof(a->att.sha256));
		assert_int_equal(a->att.size, b->att.size);
	}
}

static void
test_message_round_trip(void **state)
{
	static struct message m, back;
	struct sb_buf b = SB_BUF_INIT;
	int kind;

	(void)state;
	for (kind = MESSAGE_INLINE; kind <= MESSAGE_ATTACHMENT; kind++) {
		fill(&m, (enum message_kind)kind);
		assert_int_equal(message_encode(&m, &b), SB_OK);
		assert_int_equal(b.len, message_encoded_size(&m));
		assert_int_equal(message_parse(b.d, b.len, &back), SB_OK);
		assert_same(&m, &back);
		assert_true(message_has_recipient(&back, "bob@example.com", 15));
		assert_false(message_has_recipient(&back, "bob@example.co", 14));
		sb_buf_free(&b);
	}
	/* The overhead helper: encoded size = overhead + content. */
	fill(&m, MESSAGE_INLINE);
	assert_int_equal(message_inline_overhead(&m) + m.content_len, message_encoded_size(&m));
	fill(&m, MESSAGE_ATTACHMENT);
	m.content_len = 0;
	{
		struct message t = m;

		t.kind = MESSAGE_INLINE;
		assert_int_equal(message_encode(&t, &b), SB_OK);
		assert_int_equal(b.len, message_inline_overhead(&m));
		sb_buf_free(&b);
	}
	/* Empty inline content and the largest inline content. */
	fill(&m, MESSAGE_INLINE);
	m.content_len = 0;
	assert_int_equal(message_encode(&m, &b), SB_OK);
	assert_int_equal(message_parse(b.d, b.len, &back), SB_OK);
	assert_int_equal(back.content_len, 0);
	sb_buf_free(&b);
	{
		uint8_t *big = calloc(1, MESSAGE_MAX_INLINE + 1);

		assert_non_null(big);
		m.content = big;
		m.content_len = MESSAGE_MAX_INLINE;
		assert_int_equal(message_encode(&m, &b), SB_OK);
		assert_int_equal(message_parse(b.d, b.len, &back), SB_OK);
		assert_int_equal(back.content_len, MESSAGE_MAX_INLINE);
		sb_buf_free(&b);
		m.content_len = MESSAGE_MAX_INLINE + 1;
		assert_int_equal(message_encode(&m, &b), SB_ERR_LENGTH);
		assert_int_equal(b.len, 0);
		free(big);
	}
}

static void
test_message_truncation_and_trailing(void **state)
{
	static struct message m, back;
	struct sb_buf b = SB_BUF_INIT;
	size_t n;
	int kind;

	(void)state;
	for (kind = MESSAGE_INLINE; kind <= MESSAGE_ATTACHMENT; kind++) {
		fill(&m, (enum message_kind)kind);
		assert_int_equal(message_encode(&m, &b), SB_OK);
		for (n = 0; n < b.len; n++) {
			int rc = message_parse(b.d, n, &back);

			assert_true(rc == SB_ERR_TRUNCATED);
			assert_int_equal(back.n_recipients, 0);
		}
		/* A byte after the last field starts an extension (section 11):
		 * type 0 is refused, type 1 without its length is cut short. */
		assert_int_equal(sb_put_u8(&b, 0), SB_OK);
		assert_int_equal(message_parse(b.d, b.len, &back), SB_ERR_FORMAT);
		b.d[b.len - 1] = 1;
		assert_int_equal(message_parse(b.d, b.len, &back), SB_ERR_TRUNCATED);
		sb_buf_free(&b);
	}
}

static void
test_message_bit_flips(void **state)
{
	static struct message m, back;
	struct sb_buf b = SB_BUF_INIT, again = SB_BUF_INIT;
	size_t i;
	int bit, kind, accepted = 0, refused = 0;

	(void)state;
	for (kind = MESSAGE_INLINE; kind <= MESSAGE_ATTACHMENT; kind++) {
		fill(&m, (enum message_kind)kind);
		assert_int_equal(message_encode(&m, &b), SB_OK);
		for (i = 0; i < b.len; i++) {
			for (bit = 0; bit < 8; bit++) {
				b.d[i] ^= (uint8_t)(1u << bit);
				if (message_parse(b.d, b.len, &back) == SB_OK) {
					/* Accepted only if canonical: it re-encodes to the
					 * very same bytes. */
					assert_int_equal(message_encode(&back, &again), SB_OK);
					assert_int_equal(again.len, b.len);
					assert_memory_equal(again.d, b.d, b.len);
					sb_buf_free(&again);
					accepted++;
				} else {
					refused++;
				}
				b.d[i] ^= (uint8_t)(1u << bit);
			}
		}
		sb_buf_free(&b);
	}
	assert_true(refused > 0);
	assert_true(accepted > 0);
}

/* Appends extension (type, value of len bytes 0x5a) to b. */
static void
put_ext(struct sb_buf *b, uint8_t type, size_t len)
{
	uint8_t v[MESSAGE_MAX_EXT_VALUE + 1];

	memset(v, 0x5a, sizeof(v));
	assert_int_equal(sb_put_u8(b, type), SB_OK);
	assert_int_equal(sb_put_string16(b, v, len), SB_OK);
}

static void
test_message_extensions(void **state)
{
	static struct message m, back;
	struct sb_buf b = SB_BUF_INIT, base = SB_BUF_INIT, again = SB_BUF_INIT;
	uint8_t head[MESSAGE_MAX_GOSSIP + 1];
	size_t n;
	int bit;

	(void)state;
	memset(head, 0xa7, sizeof(head));
	fill(&m, MESSAGE_INLINE);
	assert_int_equal(message_encode(&m, &base), SB_OK);

	/* Gossip round trip; the size helpers count it. */
	m.gossip = head;
	m.gossip_len = 121;
	assert_int_equal(message_encode(&m, &b), SB_OK);
	assert_int_equal(b.len, base.len + 1 + 2 + 121);
	assert_int_equal(b.len, message_encoded_size(&m));
	assert_int_equal(message_inline_overhead(&m) + m.content_len, b.len);
	assert_int_equal(message_parse(b.d, b.len, &back), SB_OK);
	assert_same(&m, &back);
	assert_int_equal(back.gossip_len, 121);
	assert_memory_equal(back.gossip, head, 121);
	/* Without extensions the encoding is exactly the old one. */
	assert_int_equal(message_parse(base.d, base.len, &back), SB_OK);
	assert_null(back.gossip);
	/* Every cut is refused. */
	for (n = base.len + 1; n < b.len; n++)
		assert_int_equal(message_parse(b.d, n, &back), SB_ERR_TRUNCATED);
	/* Every bit flip in the extension: refused, or the same message with
	 * another head (the sender's signature covers it at the payload
	 * layer), or an unknown type skipped. */
	for (n = base.len; n < b.len; n++)
		for (bit = 0; bit < 8; bit++) {
			b.d[n] ^= (uint8_t)(1u << bit);
			if (message_parse(b.d, b.len, &back) == SB_OK)
				assert_true(back.gossip == NULL || back.gossip_len == 121);
			b.d[n] ^= (uint8_t)(1u << bit);
		}
	sb_buf_free(&b);

	/* Encoder caps. */
	m.gossip_len = MESSAGE_MAX_GOSSIP + 1;
	assert_int_equal(message_encode(&m, &b), SB_ERR_LENGTH);
	assert_int_equal(b.len, 0);
	m.gossip_len = MESSAGE_MAX_GOSSIP;
	assert_int_equal(message_encode(&m, &b), SB_OK);
	sb_buf_free(&b);

	/* An unknown type after gossip is skipped; re-encoding drops it. */
	assert_int_equal(sb_put_bytes(&b, base.d, base.len), SB_OK);
	put_ext(&b, 1, 16);
	put_ext(&b, 200, MESSAGE_MAX_EXT_VALUE);
	assert_int_equal(message_parse(b.d, b.len, &back), SB_OK);
	assert_int_equal(back.gossip_len, 16);
	assert_int_equal(message_encode(&back, &again), SB_OK);
	assert_int_equal(again.len, base.len + 1 + 2 + 16);
	sb_buf_free(&again);
	sb_buf_free(&b);

	/* Refusals, each alone. */
	struct { uint8_t types[10]; size_t lens[10]; size_t n; int rc; } bad[] = {
		{ { 0 }, { 4 }, 1, SB_ERR_FORMAT },                    /* type 0 */
		/* (types 3 and up are unknown here: 2 is the path, below) */
		{ { 4, 3 }, { 4, 4 }, 2, SB_ERR_FORMAT },              /* out of order */
		{ { 3, 3 }, { 4, 4 }, 2, SB_ERR_FORMAT },              /* repeated */
		{ { 3 }, { MESSAGE_MAX_EXT_VALUE + 1 }, 1, SB_ERR_LENGTH },
		{ { 1 }, { 0 }, 1, SB_ERR_LENGTH },                    /* empty gossip */
		{ { 1 }, { MESSAGE_MAX_GOSSIP + 1 }, 1, SB_ERR_LENGTH },
		{ { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, { 4, 4, 4, 4, 4, 4, 4, 4, 4 }, 9,
		  SB_ERR_LENGTH },                                     /* more than 8 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sb_put_bytes(&b, base.d, base.len), SB_OK);
		for (size_t k = 0; k < bad[i].n; k++)
			put_ext(&b, bad[i].types[k], bad[i].lens[k]);
		assert_int_equal(message_parse(b.d, b.len, &back), bad[i].rc);
		assert_int_equal(back.n_recipients, 0);
		sb_buf_free(&b);
	}
	/* Eight are fine. */
	assert_int_equal(sb_put_bytes(&b, base.d, base.len), SB_OK);
	for (uint8_t t = 1; t <= 9; t++)
		if (t != MESSAGE_EXT_PATH)
			put_ext(&b, t, 4);
	assert_int_equal(message_parse(b.d, b.len, &back), SB_OK);
	sb_buf_free(&b);
	sb_buf_free(&base);
}

static void expect_refused(const struct message *m, int enc_rc);

/* Appends a path extension with a hand-made value to b. */
static void
put_path(struct sb_buf *b, const uint8_t *v, size_t len)
{
	assert_int_equal(sb_put_u8(b, MESSAGE_EXT_PATH), SB_OK);
	assert_int_equal(sb_put_string16(b, v, len), SB_OK);
}

/* Files in folders (PROTOCOL.md 11.1): the path extension and kind 3. */
static void
test_message_paths(void **state)
{
	static struct message m, back;
	struct sb_buf b = SB_BUF_INIT, base = SB_BUF_INIT, again = SB_BUF_INIT;
	uint8_t head[121];
	size_t n;
	int kind, bit;

	(void)state;
	memset(head, 0xa7, sizeof(head));
	for (kind = MESSAGE_INLINE; kind <= MESSAGE_FOLDER; kind++) {
		fill(&m, (enum message_kind)kind);
		if (kind == MESSAGE_FOLDER)
			m.name = S("sub");
		m.depth = 3;
		m.path[0] = S("proj");
		m.path[1] = S(".git");
		m.path[2] = S("objects");
		m.gossip = head;
		m.gossip_len = sizeof(head);
		assert_int_equal(message_encode(&m, &b), SB_OK);
		assert_int_equal(b.len, message_encoded_size(&m));
		assert_int_equal(message_parse(b.d, b.len, &back), SB_OK);
		assert_int_equal(back.kind, kind);
		assert_int_equal(back.depth, 3);
		assert_true(str_eq(back.path[1], S(".git")));
		assert_true(str_eq(back.path[2], S("objects")));
		assert_int_equal(back.gossip_len, sizeof(head));
		assert_int_equal(message_encode(&back, &again), SB_OK);
		assert_int_equal(again.len, b.len);
		assert_memory_equal(again.d, b.d, b.len);
		sb_buf_free(&again);
		/* every cut refused, but at an extension's end: a message with
		 * fewer extensions (each one is whole or absent) */
		for (n = 0; n < b.len; n++) {
			int rc = message_parse(b.d, n, &back);
			assert_true(rc == SB_ERR_TRUNCATED || (rc == SB_OK && back.depth == 0));
		}
		/* every bit flip: refused, or canonical (re-encodes the same), and
		 * never a path with "..", "." or '/' */
		for (n = 0; n < b.len; n++)
			for (bit = 0; bit < 8; bit++) {
				b.d[n] ^= (uint8_t)(1u << bit);
				if (message_parse(b.d, b.len, &back) == SB_OK) {
					for (size_t i = 0; i < back.depth; i++) {
						assert_null(memchr(back.path[i].p, '/', back.path[i].len));
						assert_false(str_eq(back.path[i], S("..")));
						assert_false(str_eq(back.path[i], S(".")));
					}
					/* canonical, unless a flipped type made an
					 * extension unknown (skipped, not re-encoded) */
					assert_int_equal(message_encode(&back, &again), SB_OK);
					if (back.skipped_len == 0) {
						assert_int_equal(again.len, b.len);
						assert_memory_equal(again.d, b.d, b.len);
					}
					sb_buf_free(&again);
				}
				b.d[n] ^= (uint8_t)(1u << bit);
			}
		sb_buf_free(&b);
	}

	/* A folder message carries no content fields. */
	fill(&m, MESSAGE_FOLDER);
	assert_int_equal(message_encode(&m, &b), SB_OK);
	assert_int_equal(message_parse(b.d, b.len, &back), SB_OK);
	assert_int_equal(back.kind, MESSAGE_FOLDER);
	assert_int_equal(back.depth, 0);
	sb_buf_free(&b);

	/* Encoder refusals: what no receiver would take. */
	fill(&m, MESSAGE_INLINE);
	m.depth = 1;
	m.path[0] = S("..");
	expect_refused(&m, SB_ERR_INVALID_ARG);
	m.path[0] = S("a/b");
	expect_refused(&m, SB_ERR_INVALID_ARG);
	m.path[0] = S("");
	expect_refused(&m, SB_ERR_INVALID_ARG);
	m.path[0] = S(".");
	expect_refused(&m, SB_ERR_INVALID_ARG);
	m.depth = MESSAGE_MAX_DEPTH + 1;
	for (n = 0; n < MESSAGE_MAX_DEPTH + 1; n++)
		m.path[n < MESSAGE_MAX_DEPTH ? n : 0] = S("d");
	expect_refused(&m, SB_ERR_LENGTH);
	m.depth = MESSAGE_MAX_DEPTH;
	assert_int_equal(message_encode(&m, &b), SB_OK);      /* 31 folders: fine */
	sb_buf_free(&b);
	{
		static char big[255];
		memset(big, 'x', sizeof(big));
		m.depth = 5;
		for (n = 0; n < 5; n++)
			m.path[n] = (struct message_str){ big, sizeof(big) };
		expect_refused(&m, SB_ERR_LENGTH);          /* value over 1024 */
	}

	/* Parser refusals, each alone, on hand-made values. */
	fill(&m, MESSAGE_INLINE);
	assert_int_equal(message_encode(&m, &base), SB_OK);
	struct { uint8_t v[12]; size_t len; int rc; } bad[] = {
		{ { 0 }, 1, SB_ERR_LENGTH },                             /* depth 0 */
		{ { 32, 1, 'a' }, 3, SB_ERR_LENGTH },                    /* depth 32 */
		{ { 1, 2, '.', '.' }, 4, SB_ERR_FORMAT },                /* ".." */
		{ { 1, 1, '.' }, 3, SB_ERR_FORMAT },                     /* "." */
		{ { 1, 0 }, 2, SB_ERR_FORMAT },                          /* empty */
		{ { 1, 3, 'a', '/', 'b' }, 5, SB_ERR_FORMAT },           /* '/' */
		{ { 1, 3, 'a', 0, 'b' }, 5, SB_ERR_FORMAT },             /* NUL */
		{ { 2, 1, 'a' }, 3, SB_ERR_TRUNCATED },                  /* one short */
		{ { 1, 5, 'a', 'b' }, 4, SB_ERR_TRUNCATED },             /* cut */
		{ { 1, 1, 'a', 'z' }, 4, SB_ERR_TRAILING },              /* left over */
		{ { 0 }, 0, SB_ERR_TRUNCATED },                          /* no depth */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sb_put_bytes(&b, base.d, base.len), SB_OK);
		put_path(&b, bad[i].v, bad[i].len);
		assert_int_equal(message_parse(b.d, b.len, &back), bad[i].rc);
		assert_int_equal(back.n_recipients, 0);
		sb_buf_free(&b);
	}
	/* The hand-made good one parses. */
	assert_int_equal(sb_put_bytes(&b, base.d, base.len), SB_OK);
	put_path(&b, (const uint8_t *)"\x02\x01" "a" "\x02" "bc", 6);
	assert_int_equal(message_parse(b.d, b.len, &back), SB_OK);
	assert_int_equal(back.depth, 2);
	assert_true(str_eq(back.path[1], S("bc")));
	sb_buf_free(&b);
	sb_buf_free(&base);
}

/* Encodes m, expecting encode to refuse with enc_rc; then builds the bytes
 * by hand-mutating a valid encoding where that is possible. */
static void
expect_refused(const struct message *m, int enc_rc)
{
	struct sb_buf b = SB_BUF_INIT;

	assert_int_equal(message_encode(m, &b), enc_rc);
	assert_int_equal(b.len, 0);
	sb_buf_free(&b);
}

static void
test_message_rules(void **state)
{
	static struct message m, back;
	struct sb_buf b = SB_BUF_INIT;
	size_t i;
	char addrs[MESSAGE_MAX_RECIPIENTS + 1][32];

	(void)state;
	/* The encoder refuses what the parser would. */
	fill(&m, MESSAGE_INLINE);
	m.sender = S("Alice@example.com");            /* not canonical */
	expect_refused(&m, SB_ERR_INVALID_ARG);
	fill(&m, MESSAGE_INLINE);
	m.recipients[0] = S("bob@example.com");
	m.recipients[1] = S("+4915112345678");        /* unsorted */
	expect_refused(&m, SB_ERR_INVALID_ARG);
	message_sort_recipients(&m);
	assert_int_equal(message_encode(&m, &b), SB_OK);
	sb_buf_free(&b);
	fill(&m, MESSAGE_INLINE);
	m.recipients[0] = S("bob@example.com");       /* duplicate */
	expect_refused(&m, SB_ERR_INVALID_ARG);
	fill(&m, MESSAGE_INLINE);
	m.n_recipients = 0;
	expect_refused(&m, SB_ERR_LENGTH);
	fill(&m, MESSAGE_INLINE);
	m.name = S("..");
	expect_refused(&m, SB_ERR_INVALID_ARG);
	m.name = S("a/b");
	expect_refused(&m, SB_ERR_INVALID_ARG);
	m.name = (struct message_str){ "a\0b", 3 };
	expect_refused(&m, SB_ERR_INVALID_ARG);
	m.name = S("");
	expect_refused(&m, SB_ERR_INVALID_ARG);
	fill(&m, MESSAGE_INLINE);
	m.folder = S(".");
	expect_refused(&m, SB_ERR_INVALID_ARG);
	fill(&m, MESSAGE_INLINE);
	m.mtime_nsec = 1000000000u;
	expect_refused(&m, SB_ERR_INVALID_ARG);
	fill(&m, MESSAGE_ATTACHMENT);
	m.att.uri = S("blob: space");
	expect_refused(&m, SB_ERR_INVALID_ARG);
	m.att.uri = S("");
	expect_refused(&m, SB_ERR_INVALID_ARG);
	fill(&m, MESSAGE_INLINE);
	m.kind = (enum message_kind)4;
	expect_refused(&m, SB_ERR_INVALID_ARG);

	/* Recipient count cap: MESSAGE_MAX_RECIPIENTS encodes, one more is
	 * refused by the parser (count field patched by hand). */
	fill(&m, MESSAGE_INLINE);
	for (i = 0; i < MESSAGE_MAX_RECIPIENTS; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "u%04zu@example.com", i);
		m.recipients[i] = (struct message_str){ addrs[i], strlen(addrs[i]) };
	}
	m.n_recipients = MESSAGE_MAX_RECIPIENTS;
	assert_int_equal(message_encode(&m, &b), SB_OK);
	assert_int_equal(message_parse(b.d, b.len, &back), SB_OK);
	assert_int_equal(back.n_recipients, MESSAGE_MAX_RECIPIENTS);
	{
		size_t at = 1 + MESSAGE_ID_LEN + 8 + 1 + m.sender.len;

		sb_store_u16be(b.d + at, MESSAGE_MAX_RECIPIENTS + 1);
		assert_int_equal(message_parse(b.d, b.len, &back), SB_ERR_LENGTH);
		sb_store_u16be(b.d + at, 0);
		assert_int_equal(message_parse(b.d, b.len, &back), SB_ERR_LENGTH);
	}
	sb_buf_free(&b);

	/* Version and kind bytes. */
	fill(&m, MESSAGE_INLINE);
	assert_int_equal(message_encode(&m, &b), SB_OK);
	b.d[0] = 2;
	assert_int_equal(message_parse(b.d, b.len, &back), SB_ERR_FORMAT);
	b.d[0] = MESSAGE_VERSION;
	{
		size_t kpos = message_inline_overhead(&m) - 4 - 1;

		assert_int_equal(b.d[kpos], MESSAGE_INLINE);
		b.d[kpos] = 3;
		assert_int_equal(message_parse(b.d, b.len, &back), SB_ERR_FORMAT);
		b.d[kpos] = MESSAGE_INLINE;
		/* Content length over the cap. */
		sb_store_u32be(b.d + kpos + 1, MESSAGE_MAX_INLINE + 1);
		assert_int_equal(message_parse(b.d, b.len, &back), SB_ERR_LENGTH);
	}
	sb_buf_free(&b);
	assert_int_equal(message_parse(NULL, 0, &back), SB_ERR_TRUNCATED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_round_trip),
		cmocka_unit_test(test_message_truncation_and_trailing),
		cmocka_unit_test(test_message_bit_flips),
		cmocka_unit_test(test_message_extensions),
		cmocka_unit_test(test_message_paths),
		cmocka_unit_test(test_message_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
