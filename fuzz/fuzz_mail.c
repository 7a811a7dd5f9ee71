/*
 * fuzz_mail.c - mail/mail.h on arbitrary bytes: the strict parser of the
 * Maildir view's file names (a path a program asks the mount for), and the
 * renderer on the bytes as content, as subject and classified.
 *
 * Properties: a name parses only if it is exactly what mail_file_name
 * makes of what it parsed to (one spelling per message); a rejected name
 * leaves every output zero; the classification agrees with the text rules
 * (TEXT content has no NUL); a rendered message is exactly
 * mail_render_size bytes, read whole or in two pieces at any cut.
 */
#include "fuzz.h"
#include "mail/mail.h"

static const uint8_t ID[MAIL_MSGID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

struct src {
	const uint8_t *p;
	size_t len;
};

static int
src_read(void *ctx, void *buf, size_t n, uint64_t off, size_t *got)
{
	struct src *s = ctx;

	*got = 0;
	if (off < s->len) {
		*got = s->len - (size_t)off < n ? s->len - (size_t)off : n;
		memcpy(buf, s->p + off, *got);
	}
	return SB_OK;
}

static void
check_name(const uint8_t *data, size_t size)
{
	char name[MAIL_NAME_BUF + 64], again[MAIL_NAME_BUF];
	uint8_t id[MAIL_MSGID_LEN], zero[MAIL_MSGID_LEN] = { 0 };
	uint64_t date = 1, dev = 1;
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;

	memcpy(name, data, n);
	name[n] = '\0';
	if (mail_file_name_parse(name, &date, id, &dev) == SB_OK) {
		FUZZ_ASSERT(mail_file_name(date, id, dev, again, sizeof(again)) == SB_OK);
		FUZZ_ASSERT(strcmp(again, name) == 0);
	} else {
		FUZZ_ASSERT(date == 0 && dev == 0 && memcmp(id, zero, sizeof(id)) == 0);
	}
}

static void
check_render(const uint8_t *data, size_t size)
{
	static const char *const to[] = { "bob@example.com" };
	char subject[MAIL_STR_MAX + 1];
	struct mail_render *r = NULL;
	struct src s = { data, size };
	struct mail_meta m;
	uint8_t *a, *b;
	size_t n = size < MAIL_STR_MAX ? size : MAIL_STR_MAX, got, got2, cut;
	uint64_t total;

	memcpy(subject, data, n);
	subject[n] = '\0';
	memset(&m, 0, sizeof(m));
	m.from = "alice@example.com";
	m.to = to;
	m.n_to = 1;
	m.date = 1700000000;
	m.subject = subject;
	m.msgid = ID;
	m.device = 7;
	m.size = size;
	m.body = mail_classify(data, size, size);
	if (m.body == MAIL_BODY_TEXT)
		FUZZ_ASSERT(memchr(data, '\0', size) == NULL);
	FUZZ_ASSERT(mail_render_new(&m, &r) == SB_OK);
	total = mail_render_size(r);
	a = malloc((size_t)total + 1);
	b = malloc((size_t)total + 1);
	if (a == NULL || b == NULL)
		fuzz_die("malloc", "render buffers");
	FUZZ_ASSERT(mail_render_read(r, src_read, &s, a, (size_t)total + 1, 0, &got) == SB_OK);
	FUZZ_ASSERT(got == total);
	cut = size > 0 ? data[0] * (size_t)total / 255 : 0;
	FUZZ_ASSERT(mail_render_read(r, src_read, &s, b, cut, 0, &got) == SB_OK && got == cut);
	FUZZ_ASSERT(mail_render_read(r, src_read, &s, b + cut, (size_t)total - cut, cut,
	    &got2) == SB_OK && got2 == total - cut);
	FUZZ_ASSERT(memcmp(a, b, (size_t)total) == 0);
	free(a);
	free(b);
	mail_render_free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_name(data, size);
	if (size <= 65536)
		check_render(data, size);
	return 0;
}
