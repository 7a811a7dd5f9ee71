/*
 * fuzz_names.c - agent/names.h on arbitrary bytes: address classification
 * and canonicalisation, outbox folder resolution (with a small fixed
 * address book, so contact names and groups resolve too), sanitising of
 * untrusted file names, incoming file names and the UTF-8 decoder.
 *
 * Properties: canonicalisation is idempotent and agrees with names_kind;
 * a resolved folder names a sorted, unique set of canonical addresses whose
 * canonical group name resolves to the same set; a sanitised name is
 * non-empty, bounded, valid UTF-8, free of '/', its look-alikes, control
 * and invisible characters and never "." or ".."; every UTF-8 character
 * decoded re-encodes to itself; the display escape of any bytes is
 * bounded, valid UTF-8 and safe to show, and exactly the bytes the display
 * check accepts come out unchanged.
 */
#include "fuzz.h"
#include "common/wire.h"
#include "agent/contacts.h"
#include "agent/names.h"

static const char book[] =
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Smith\r\n"
    "EMAIL;TYPE=work:bob@example.com\r\nTEL;TYPE=cell:+1 555 123 4567\r\n"
    "TEL;TYPE=fax:+1 555 000 1111\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Carol\r\nEMAIL:carol@example.org\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:.. / Evil\\, Inc\r\nEMAIL:evil@example.net\r\nEND:VCARD\r\n";

static struct contacts *contacts;

static int
valid_utf8(const char *s)
{
	struct sb_reader r;
	uint32_t cp;
	int rc;

	sb_reader_init(&r, s, strlen(s));
	while ((rc = names_utf8_next(&r, &cp)) == 1)
		;
	return rc == -1;
}

static void
check_component(const char *s, size_t max)
{
	size_t i, len = strlen(s);

	FUZZ_ASSERT(len > 0 && len <= max);
	FUZZ_ASSERT(strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
	for (i = 0; i < len; i++)
		FUZZ_ASSERT(s[i] != '/' && (uint8_t)s[i] >= 0x20 && s[i] != 0x7f);
	FUZZ_ASSERT(valid_utf8(s));
	/* Nothing invisible, and no U+2215 / U+FF0F passing for a '/'. */
	FUZZ_ASSERT(names_display_check(s, len, NULL, NULL) == SB_OK);
	FUZZ_ASSERT(strstr(s, "\xe2\x88\x95") == NULL && strstr(s, "\xef\xbc\x8f") == NULL);
}

static void
fuzz_canonical(const uint8_t *data, size_t size)
{
	char out[NAMES_ADDR_BUF], again[NAMES_ADDR_BUF];
	enum names_kind kind, kind2;
	int rc;

	(void)names_is_email((const char *)data, size);
	(void)names_is_e164((const char *)data, size);
	kind = names_kind((const char *)data, size);
	FUZZ_ASSERT(kind == NAMES_NOT_ADDRESS || kind == NAMES_EMAIL || kind == NAMES_PHONE);

	rc = names_address_canonical((const char *)data, size, out, sizeof(out), &kind);
	if (rc != SB_OK) {
		FUZZ_ASSERT(out[0] == '\0');
		return;
	}
	FUZZ_ASSERT(strlen(out) <= NAMES_ADDR_MAX);
	FUZZ_ASSERT(kind != NAMES_NOT_ADDRESS && names_kind(out, strlen(out)) == kind);
	FUZZ_ASSERT(names_address_canonical(out, strlen(out), again, sizeof(again), &kind2) == SB_OK);
	FUZZ_ASSERT(kind2 == kind && strcmp(again, out) == 0);
}

static void
fuzz_resolve(const struct contacts *c, const uint8_t *data, size_t size)
{
	struct names_recipients *r = NULL, *r2 = NULL;
	char group[NAMES_NAME_BUF];
	const char *a;
	size_t i, n;
	int rc;

	rc = names_resolve(c, (const char *)data, size, &r);
	if (rc != SB_OK) {
		FUZZ_ASSERT(r == NULL);
		return;
	}
	n = names_recipients_count(r);
	FUZZ_ASSERT(n >= 1 && n <= NAMES_MAX_RECIPIENTS);
	for (i = 0; i < n; i++) {
		a = names_recipients_get(r, i);
		FUZZ_ASSERT(names_kind(a, strlen(a)) != NAMES_NOT_ADDRESS);
		FUZZ_ASSERT(i == 0 || strcmp(names_recipients_get(r, i - 1), a) < 0);
		FUZZ_ASSERT(names_recipients_contains(r, a));
	}
	rc = names_group_canonical(r, group, sizeof(group));
	if (rc == SB_OK) {
		FUZZ_ASSERT(names_resolve(c, group, strlen(group), &r2) == SB_OK);
		FUZZ_ASSERT(names_recipients_count(r2) == n);
		for (i = 0; i < n; i++)
			FUZZ_ASSERT(strcmp(names_recipients_get(r2, i),
			    names_recipients_get(r, i)) == 0);
		names_recipients_free(r2);
	} else {
		FUZZ_ASSERT(rc == SB_ERR_LENGTH);
	}
	names_recipients_free(r);
}

static void
fuzz_file_names(const uint8_t *data, size_t size)
{
	char out[NAMES_NAME_BUF];
	size_t max = NAMES_NAME_MAX;
	uint64_t u = 0;
	int64_t t;
	size_t i;

	/* The first bytes choose the bound and the time; all bytes are the name. */
	if (size > 0)
		max = NAMES_SANITIZE_MIN + data[0] % (NAMES_NAME_MAX - NAMES_SANITIZE_MIN + 1);
	FUZZ_ASSERT(names_sanitize_component((const char *)data, size, max, out,
	    sizeof(out)) == SB_OK);
	check_component(out, max);
	FUZZ_ASSERT(out[0] != '.');

	for (i = 0; i < size && i < 8; i++)
		u = u << 8 | data[i];
	t = (int64_t)(u % ((uint64_t)NAMES_MAX_TIME + 1));
	if (size >= 4) {
		FUZZ_ASSERT(names_incoming_file(t, 1 + (unsigned)(u % 20000), data, size,
		    (const char *)data, size, out, sizeof(out)) == SB_OK);
		check_component(out, NAMES_NAME_MAX);
		FUZZ_ASSERT(strlen(out) > NAMES_FILE_PREFIX_LEN);
	}
	FUZZ_ASSERT(names_incoming_file(NAMES_MAX_TIME + 1, 1, data, size,
	    (const char *)data, size, out, sizeof(out)) != SB_OK);
}

static void
fuzz_utf8(const uint8_t *data, size_t size)
{
	struct sb_reader r, r2;
	char enc[4];
	uint32_t cp, cp2;
	size_t n, before;
	int rc;

	sb_reader_init(&r, data, size);
	for (;;) {
		before = sb_reader_remaining(&r);
		rc = names_utf8_next(&r, &cp);
		if (rc == -1) {
			FUZZ_ASSERT(before == 0);
			break;
		}
		FUZZ_ASSERT(sb_reader_remaining(&r) < before);
		FUZZ_ASSERT(cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff));
		if (rc == 0) {
			FUZZ_ASSERT(cp == 0xfffd && before - sb_reader_remaining(&r) == 1);
			continue;
		}
		FUZZ_ASSERT(rc == 1);
		n = names_utf8_put(cp, enc);
		FUZZ_ASSERT(n == before - sb_reader_remaining(&r));
		sb_reader_init(&r2, enc, n);
		FUZZ_ASSERT(names_utf8_next(&r2, &cp2) == 1 && cp2 == cp);
	}
}

static void
fuzz_display(const uint8_t *data, size_t size)
{
	static char out[NAMES_ESCAPE_BUF(4096)];
	size_t n;

	if (size > 4096)
		size = 4096;
	FUZZ_ASSERT(names_escape_display((const char *)data, size, out, sizeof(out)) == SB_OK);
	n = strlen(out);
	FUZZ_ASSERT(n <= 4 * size);
	FUZZ_ASSERT(valid_utf8(out));
	FUZZ_ASSERT(names_display_check(out, n, NULL, NULL) == SB_OK);
	if (names_display_check((const char *)data, size, NULL, NULL) == SB_OK &&
	    memchr(data, '\\', size) == NULL)
		FUZZ_ASSERT(n == size && memcmp(out, data, size) == 0);
	/* a short buffer cuts, never overflows, and still ends in a string */
	FUZZ_ASSERT(names_escape_display((const char *)data, size, out, 8) != SB_ERR_INVALID_ARG);
	FUZZ_ASSERT(strlen(out) < 8 && valid_utf8(out));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (contacts == NULL &&
	    contacts_parse(book, sizeof(book) - 1, &contacts) != SB_OK)
		fuzz_die("parse", "built-in address book");
	fuzz_canonical(data, size);
	fuzz_resolve(NULL, data, size);
	fuzz_resolve(contacts, data, size);
	fuzz_file_names(data, size);
	fuzz_utf8(data, size);
	fuzz_display(data, size);
	return 0;
}
