/*
 * test_mail.c - the RFC 5322 renderer of the Maildir view (mail/render.c):
 * classification, exact bytes of a text message, the attachment's MIME
 * layout read back at every offset, RFC 2047 / 2231 for names that are
 * not ASCII, folded To:, dates, and the strict parser of file names
 * (every prefix, every bit flip).  maildir_view.sh checks the same against
 * Python's email module and notmuch on a real mount.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "common/sberr.h"
#include "mail/mail.h"

static const uint8_t ID[MAIL_MSGID_LEN] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
};
#define DEV  UINT64_C(0x75bcd15)
#define DATE UINT64_C(1700000000)      /* Tue, 14 Nov 2023 22:13:20 +0000 */

struct src {
	const uint8_t *p;
	size_t len;
	unsigned calls;
};

static int
src_read(void *ctx, void *buf, size_t n, uint64_t off, size_t *got)
{
	struct src *s = ctx;

	s->calls++;
	*got = 0;
	if (off < s->len) {
		*got = s->len - (size_t)off < n ? s->len - (size_t)off : n;
		memcpy(buf, s->p + off, *got);
	}
	return SB_OK;
}

static const char *const TO1[] = { "bob@example.com" };

static void
meta_init(struct mail_meta *m, const char *subject, uint64_t size, enum mail_body body)
{
	memset(m, 0, sizeof(*m));
	m->from = "alice@example.com";
	m->to = TO1;
	m->n_to = 1;
	m->date = DATE;
	m->subject = subject;
	m->msgid = ID;
	m->device = DEV;
	m->size = size;
	m->body = body;
}

/* The whole message, read in one go; caller frees. */
static char *
render_all(const struct mail_meta *m, const uint8_t *content, size_t *len)
{
	struct mail_render *r = NULL;
	struct src s = { content, (size_t)m->size, 0 };
	size_t got = 0;
	uint64_t size;
	char *out;

	assert_int_equal(mail_render_new(m, &r), SB_OK);
	size = mail_render_size(r);
	out = malloc((size_t)size + 1);
	assert_non_null(out);
	assert_int_equal(mail_render_read(r, src_read, &s, out, (size_t)size + 100, 0, &got), SB_OK);
	assert_int_equal(got, size);
	out[got] = '\0';
	*len = got;
	mail_render_free(r);
	return out;
}

static void
test_mail_classify(void **state)
{
	char line[MAIL_LINE_MAX + 2];

	(void)state;
	assert_int_equal(mail_classify((const uint8_t *)"", 0, 0), MAIL_BODY_TEXT);
	assert_int_equal(mail_classify((const uint8_t *)"hi\n\tok\f", 7, 7), MAIL_BODY_TEXT);
	assert_int_equal(mail_classify((const uint8_t *)"Gr\xc3\xbc\xc3\x9f" "e", 7, 7), MAIL_BODY_TEXT);
	assert_int_equal(mail_classify((const uint8_t *)"a\r\nb", 4, 4), MAIL_BODY_TEXT_B64);
	assert_int_equal(mail_classify((const uint8_t *)"a\0b", 3, 3), MAIL_BODY_ATTACHMENT);
	assert_int_equal(mail_classify((const uint8_t *)"a\x1b[0m", 5, 5), MAIL_BODY_ATTACHMENT);
	assert_int_equal(mail_classify((const uint8_t *)"a\x7f", 2, 2), MAIL_BODY_ATTACHMENT);
	assert_int_equal(mail_classify((const uint8_t *)"\xc3", 1, 1), MAIL_BODY_ATTACHMENT);
	assert_int_equal(mail_classify((const uint8_t *)"\xc0\xaf", 2, 2), MAIL_BODY_ATTACHMENT);
	assert_int_equal(mail_classify((const uint8_t *)"\xed\xa0\x80", 3, 3), MAIL_BODY_ATTACHMENT);
	/* only part of the content given, or too big: an attachment */
	assert_int_equal(mail_classify((const uint8_t *)"abc", 3, 4), MAIL_BODY_ATTACHMENT);
	assert_int_equal(mail_classify((const uint8_t *)"abc", 3, MAIL_TEXT_MAX + 1),
	    MAIL_BODY_ATTACHMENT);
	/* 998 bytes a line is 8bit; 999 is not */
	memset(line, 'x', sizeof(line));
	line[MAIL_LINE_MAX] = '\n';
	assert_int_equal(mail_classify((uint8_t *)line, MAIL_LINE_MAX + 1, MAIL_LINE_MAX + 1),
	    MAIL_BODY_TEXT);
	line[MAIL_LINE_MAX] = 'x';
	assert_int_equal(mail_classify((uint8_t *)line, MAIL_LINE_MAX + 1, MAIL_LINE_MAX + 1),
	    MAIL_BODY_TEXT_B64);
}

static void
test_mail_render_text_exact(void **state)
{
	static const char body[] = "Hello Bob,\nthe secret word is quokka.\n";
	static const char want[] =
	    "From: alice@example.com\n"
	    "To: bob@example.com\n"
	    "Date: Tue, 14 Nov 2023 22:13:20 +0000\n"
	    "Subject: greeting.txt\n"
	    "Message-ID: <0123456789abcdeffedcba9876543210.00000000075bcd15@sealbox>\n"
	    "X-Sealbox-Verified: yes; sender alice@example.com; device 00000000075bcd15\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: 8bit\n"
	    "\n"
	    "Hello Bob,\nthe secret word is quokka.\n";
	struct mail_meta m;
	size_t len;
	char *out;

	(void)state;
	meta_init(&m, "greeting.txt", strlen(body), MAIL_BODY_TEXT);
	out = render_all(&m, (const uint8_t *)body, &len);
	assert_int_equal(len, strlen(want));
	assert_string_equal(out, want);
	free(out);
}

/* Decodes the base64 lines of s[0..n) (LF-separated) into out. */
static size_t
b64_decode_lines(const char *s, size_t n, uint8_t *out)
{
	size_t o = 0, i = 0, j;
	int k;

	while (i < n) {
		for (j = i; j < n && s[j] != '\n'; j++)
			;
		assert_true(j - i <= MAIL_B64_LINE);
		k = EVP_DecodeBlock(out + o, (const unsigned char *)s + i, (int)(j - i));
		assert_true(k >= 0);
		o += (size_t)k;
		if (j - i >= 2 && s[j - 1] == '=')
			o -= s[j - 2] == '=' ? 2 : 1;
		i = j + 1;
	}
	return o;
}

static void
test_mail_render_attachment_windows(void **state)
{
	uint8_t content[1000];
	struct mail_render *r = NULL;
	struct mail_meta m;
	struct src s = { content, sizeof(content), 0 };
	char *all, win[400], *body, *end;
	uint8_t dec[1100];
	size_t len, got, i, off, n;

	(void)state;
	for (i = 0; i < sizeof(content); i++)
		content[i] = (uint8_t)(i * 7 + 3);
	meta_init(&m, "photo.bin", sizeof(content), MAIL_BODY_ATTACHMENT);
	all = render_all(&m, content, &len);
	assert_non_null(strstr(all, "Content-Type: multipart/mixed; boundary=\"sealbox-"
	    "0123456789abcdeffedcba9876543210\"\n"));
	assert_non_null(strstr(all, "\nAttached: photo.bin (1000 bytes)\n--sealbox-"));
	assert_non_null(strstr(all, "Content-Disposition: attachment; filename=\"photo.bin\"\n\n"));
	body = strstr(all, "filename=\"photo.bin\"\n\n") + strlen("filename=\"photo.bin\"\n\n");
	end = strstr(body, "--sealbox-0123456789abcdeffedcba9876543210--\n");
	assert_non_null(end);
	assert_string_equal(end, "--sealbox-0123456789abcdeffedcba9876543210--\n");
	assert_int_equal(b64_decode_lines(body, (size_t)(end - body), dec), sizeof(content));
	assert_memory_equal(dec, content, sizeof(content));
	/* every window agrees with the whole */
	assert_int_equal(mail_render_new(&m, &r), SB_OK);
	assert_int_equal(mail_render_size(r), len);
	for (off = 0; off <= len; off += 7) {
		for (n = 1; n < sizeof(win); n += 37) {
			assert_int_equal(mail_render_read(r, src_read, &s, win, n, off, &got), SB_OK);
			assert_int_equal(got, off + n <= len ? n : len - off);
			assert_memory_equal(win, all + off, got);
		}
	}
	/* a window inside the base64 reads only the groups it shows */
	s.calls = 0;
	off = (size_t)(body - all) + 77 * 3 + 5;
	assert_int_equal(mail_render_read(r, src_read, &s, win, 10, off, &got), SB_OK);
	assert_int_equal(s.calls, 1);
	/* content shorter than announced */
	s.len = 500;
	assert_int_equal(mail_render_read(r, src_read, &s, win, 100, off + 77 * 8, &got),
	    SB_ERR_LENGTH);
	mail_render_free(r);
	free(all);
}

static void
test_mail_render_text_b64(void **state)
{
	static const char body[] = "dos\r\nline\r\n";
	struct mail_meta m;
	size_t len;
	char *out;

	(void)state;
	meta_init(&m, "dos.txt", strlen(body), MAIL_BODY_TEXT_B64);
	out = render_all(&m, (const uint8_t *)body, &len);
	assert_non_null(strstr(out, "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: base64\n\nZG9zDQpsaW5lDQo=\n"));
	assert_int_equal(out[len - 1], '\n');
	assert_null(strstr(out, "multipart"));
	free(out);
}

static void
test_mail_render_names_not_ascii(void **state)
{
	static const char name[] = "Gr\xc3\xbc\xc3\x9f" "e.txt";
	char longname[200], *p, *q, *out;
	struct mail_meta m;
	uint8_t dec[100];
	size_t len, i;
	int k;

	(void)state;
	meta_init(&m, name, 1, MAIL_BODY_TEXT);
	out = render_all(&m, (const uint8_t *)"x", &len);
	assert_non_null(strstr(out, "\nSubject: =?UTF-8?B?R3LDvMOfZS50eHQ=?=\n"));
	free(out);
	meta_init(&m, name, 1, MAIL_BODY_ATTACHMENT);
	out = render_all(&m, (const uint8_t *)"\0", &len);
	assert_non_null(strstr(out, "attachment; filename*=utf-8''Gr%C3%BC%C3%9Fe.txt\n"));
	assert_non_null(strstr(out, "\nAttached: Gr\xc3\xbc\xc3\x9f" "e.txt (1 bytes)\n"));
	free(out);
	/* "=?" in plain ASCII is encoded too (it would read as a word) */
	meta_init(&m, "a=?b.txt", 1, MAIL_BODY_TEXT);
	out = render_all(&m, (const uint8_t *)"x", &len);
	assert_non_null(strstr(out, "\nSubject: =?UTF-8?B?YT0/Yi50eHQ=?=\n"));
	free(out);
	/* a long name: words of at most 75, folded, each whole characters */
	for (i = 0; i + 2 < sizeof(longname) - 1; i += 2) {
		longname[i] = (char)0xc3;
		longname[i + 1] = (char)0xa9;      /* é */
	}
	longname[i] = '\0';
	meta_init(&m, longname, 1, MAIL_BODY_TEXT);
	out = render_all(&m, (const uint8_t *)"x", &len);
	p = strstr(out, "\nSubject: ") + 10;
	for (;;) {
		q = strstr(p, "?=");
		assert_non_null(q);
		assert_true(q + 2 - p <= 75);
		assert_memory_equal(p, "=?UTF-8?B?", 10);
		k = EVP_DecodeBlock(dec, (const unsigned char *)p + 10, (int)(q - p - 10));
		assert_true(k > 0);
		assert_int_equal(dec[0], 0xc3);            /* starts on a character */
		if (q[2] != '\n' || q[3] != ' ')
			break;
		p = q + 4;
	}
	free(out);
}

static void
test_mail_render_to_folded(void **state)
{
	char addrs[40][32];
	const char *to[40];
	struct mail_meta m;
	size_t len, i, col = 0;
	char *out, *p;

	(void)state;
	for (i = 0; i < 40; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "person%02zu@example.com", i);
		to[i] = addrs[i];
	}
	meta_init(&m, "x", 1, MAIL_BODY_TEXT);
	m.to = to;
	m.n_to = 40;
	out = render_all(&m, (const uint8_t *)"x", &len);
	assert_non_null(strstr(out, "To: person00@example.com, person01@example.com,"
	    " person02@example.com,\n person03@example.com"));
	for (p = out; *p != '\0'; p++) {
		col = *p == '\n' ? 0 : col + 1;
		assert_true(col <= 80);
	}
	free(out);
	m.n_to = 0;
	assert_int_equal(mail_render_new(&m, &(struct mail_render *){ NULL }), SB_ERR_INVALID_ARG);
	m.n_to = 1;
	m.from = "al ice@example.com";
	assert_int_equal(mail_render_new(&m, &(struct mail_render *){ NULL }), SB_ERR_INVALID_ARG);
	m.from = "alice@example.com";
	m.date = UINT64_C(253402300800);
	assert_int_equal(mail_render_new(&m, &(struct mail_render *){ NULL }), SB_ERR_INVALID_ARG);
}

static void
test_mail_file_name_parse(void **state)
{
	char name[MAIL_NAME_BUF], bad[MAIL_NAME_BUF], again[MAIL_NAME_BUF];
	uint8_t id[MAIL_MSGID_LEN];
	uint64_t date, dev;
	size_t i, len;
	int bit;

	(void)state;
	assert_int_equal(mail_file_name(DATE, ID, DEV, name, sizeof(name)), SB_OK);
	assert_string_equal(name, "1700000000.0123456789abcdeffedcba9876543210_"
	    "00000000075bcd15.sealbox:2,S");
	assert_int_equal(mail_file_name_parse(name, &date, id, &dev), SB_OK);
	assert_int_equal(date, DATE);
	assert_int_equal(dev, DEV);
	assert_memory_equal(id, ID, MAIL_MSGID_LEN);
	len = strlen(name);
	for (i = 0; i < len; i++) {             /* every prefix */
		memcpy(bad, name, i);
		bad[i] = '\0';
		assert_int_equal(mail_file_name_parse(bad, &date, id, &dev), SB_ERR_FORMAT);
		assert_int_equal(date, 0);
		assert_int_equal(dev, 0);
	}
	for (i = 0; i < len; i++) {             /* every bit flip */
		for (bit = 0; bit < 8; bit++) {
			memcpy(bad, name, len + 1);
			bad[i] = (char)(bad[i] ^ (1 << bit));
			if (bad[i] == '\0')
				continue;
			if (mail_file_name_parse(bad, &date, id, &dev) == SB_OK) {
				/* only another canonical name parses */
				assert_int_equal(mail_file_name(date, id, dev, again, sizeof(again)),
				    SB_OK);
				assert_string_equal(again, bad);
			}
		}
	}
	assert_int_equal(mail_file_name_parse("01.0123456789abcdeffedcba9876543210_"
	    "00000000075bcd15.sealbox:2,S", &date, id, &dev), SB_ERR_FORMAT);
	assert_int_equal(mail_file_name_parse("1.0123456789ABCDEFfedcba9876543210_"
	    "00000000075bcd15.sealbox:2,S", &date, id, &dev), SB_ERR_FORMAT);
	assert_int_equal(mail_file_name_parse("1234567890123.0123456789abcdeffedcba9876543210_"
	    "00000000075bcd15.sealbox:2,S", &date, id, &dev), SB_ERR_FORMAT);
	assert_int_equal(mail_file_name_parse("0.0123456789abcdeffedcba9876543210_"
	    "00000000075bcd15.sealbox:2,S", &date, id, &dev), SB_OK);
}

static void
test_mail_folder_name(void **state)
{
	char out[MAIL_FOLDER_BUF], in[400];
	size_t i;

	(void)state;
	assert_int_equal(mail_folder_name("alice@example.com", out, sizeof(out)), SB_OK);
	assert_string_equal(out, ".alice@example_com");
	assert_int_equal(mail_folder_name("Alice Smith", out, sizeof(out)), SB_OK);
	assert_string_equal(out, ".Alice Smith");
	assert_int_equal(mail_folder_name("", out, sizeof(out)), SB_ERR_INVALID_ARG);
	/* 255 bytes of 2-byte characters: cut to fit NAME_MAX on a boundary */
	for (i = 0; i + 1 < 300; i += 2) {
		in[i] = (char)0xc3;
		in[i + 1] = (char)0xa9;
	}
	in[300] = '\0';
	assert_int_equal(mail_folder_name(in, out, sizeof(out)), SB_OK);
	assert_true(strlen(out) <= 255);
	assert_int_equal(strlen(out) % 2, 1);   /* "." + whole characters */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mail_classify),
		cmocka_unit_test(test_mail_render_text_exact),
		cmocka_unit_test(test_mail_render_attachment_windows),
		cmocka_unit_test(test_mail_render_text_b64),
		cmocka_unit_test(test_mail_render_names_not_ascii),
		cmocka_unit_test(test_mail_render_to_folded),
		cmocka_unit_test(test_mail_file_name_parse),
		cmocka_unit_test(test_mail_folder_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
