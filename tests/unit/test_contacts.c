/*
 * test_contacts.c - the vCard reader: exports of real contacts apps
 * (tests/vectors/vcf/), the syntax corners of RFC 6350/2426/2.1, caps,
 * malformed cards, and every truncation and many corruptions of the input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/sberr.h"
#include "agent/contacts.h"

#define VCF_DIR "tests/vectors/vcf/"

/* Reads a vector into an exact-size heap block (so ASan sees overreads). */
static uint8_t *
slurp(const char *name, size_t *len)
{
	char path[256];
	uint8_t *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), VCF_DIR "%s", name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s (run from the repository top)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static struct contacts *
parse_file(const char *name)
{
	struct contacts *c = NULL;
	uint8_t *buf;
	size_t len;

	buf = slurp(name, &len);
	assert_int_equal(contacts_parse(buf, len, &c), SB_OK);
	assert_non_null(c);
	free(buf);
	return c;
}

static struct contacts *
parse_str(const char *s)
{
	struct contacts *c = NULL;

	assert_int_equal(contacts_parse(s, strlen(s), &c), SB_OK);
	assert_non_null(c);
	return c;
}

static size_t
find_card(const struct contacts *c, const char *name)
{
	size_t i;

	for (i = 0; i < contacts_count(c); i++)
		if (strcmp(contacts_card_name(c, i), name) == 0)
			return i;
	fail_msg("no card named '%s'", name);
	return 0;
}

/* Asserts card i's address j. */
static void
check_addr(const struct contacts *c, size_t i, size_t j, const char *want,
    enum contacts_addr_kind want_kind, unsigned want_types)
{
	enum contacts_addr_kind kind;
	unsigned types;
	const char *a = contacts_card_addr(c, i, j, &kind, &types);

	assert_non_null(a);
	assert_string_equal(a, want);
	assert_int_equal(kind, want_kind);
	assert_int_equal(types, want_types);
}

/* Asserts the name lookup gives exactly the addresses in want (sorted). */
static void
check_lookup(const struct contacts *c, const char *name, const char **want,
    size_t nwant)
{
	const char **got = NULL;
	size_t n = 0, i;

	assert_int_equal(contacts_lookup_name(c, name, strlen(name), &got, &n),
	    SB_OK);
	assert_int_equal(n, nwant);
	for (i = 0; i < n; i++)
		assert_string_equal(got[i], want[i]);
	free(got);
}

static void
test_contacts_apple_export(void **state)
{
	struct contacts *c = parse_file("apple-3.0.vcf");
	size_t bob, acme;
	const char *bob_want[] = { "+15551234567", "bob.smith@work.example.com",
	    "bob@example.com" };

	(void)state;
	assert_int_equal(contacts_count(c), 3);
	assert_int_equal(contacts_skipped(c), 0);
	bob = find_card(c, "Bob Smith");
	assert_int_equal(contacts_card_addr_count(c, bob), 5);
	/* item1. group, type=pref as a TYPE value */
	check_addr(c, bob, 0, "bob@example.com", CONTACTS_EMAIL,
	    CONTACTS_TYPE_PREF);
	/* the whole address is lowercased */
	check_addr(c, bob, 1, "bob.smith@work.example.com", CONTACTS_EMAIL,
	    CONTACTS_TYPE_WORK);
	check_addr(c, bob, 2, "+15551234567", CONTACTS_PHONE,
	    CONTACTS_TYPE_CELL | CONTACTS_TYPE_VOICE | CONTACTS_TYPE_PREF);
	/* no '+': kept as written, never matched */
	check_addr(c, bob, 3, "(555) 987-6543", CONTACTS_UNUSABLE,
	    CONTACTS_TYPE_HOME | CONTACTS_TYPE_VOICE);
	check_addr(c, bob, 4, "+15550001111", CONTACTS_PHONE,
	    CONTACTS_TYPE_WORK | CONTACTS_TYPE_FAX);
	/* the fax line is not messaged */
	check_lookup(c, "Bob Smith", bob_want, 3);
	check_lookup(c, "bob smith", bob_want, 3);
	check_lookup(c, "BOB SMITH", bob_want, 3);
	acme = find_card(c, "Acme Plumbing");
	check_addr(c, acme, 1, "service@acme-plumbing.example", CONTACTS_EMAIL,
	    CONTACTS_TYPE_PREF);
	find_card(c, "Siobh\xc3\xa1n O'Brien");
	assert_string_equal(contacts_lookup_address(c, "+353851234567"),
	    "Siobh\xc3\xa1n O'Brien");
	assert_string_equal(contacts_lookup_address(c, "+15550109999"),
	    "Acme Plumbing");
	assert_string_equal(contacts_lookup_address(c, "+15550001111"),
	    "Bob Smith");
	assert_null(contacts_lookup_address(c, "(555) 987-6543"));
	assert_null(contacts_lookup_address(c, "nobody@example.com"));
	contacts_free(c);
}

static void
test_contacts_google_export(void **state)
{
	struct contacts *c = parse_file("google-3.0.vcf");
	const char *carol[] = { "+442079460000", "+442079460958",
	    "+442079460959", "carol.jones@example.net", "carol@example.org" };
	const char *smith[] = { "bob.other@example.com" };
	const char **got = NULL;
	size_t n = 1;

	(void)state;
	assert_int_equal(contacts_count(c), 4);
	assert_int_equal(contacts_skipped(c), 0);
	/* Two "Carol Jones" cards merge, dupes dropped, "(0)" dropped. */
	check_lookup(c, "Carol Jones", carol, 5);
	/* FN with an escaped comma; an empty FN falls back to N. */
	check_lookup(c, "Smith, Bob", smith, 1);
	find_card(c, "Dr. Anh Nguyen");
	assert_int_equal(contacts_lookup_name(c, "Carol", 5, &got, &n),
	    SB_ERR_NOT_FOUND);
	assert_null(got);
	assert_int_equal(n, 0);
	/* Reverse lookup: the first card holding the address wins. */
	assert_string_equal(contacts_lookup_address(c, "carol@example.org"),
	    "Carol Jones");
	contacts_free(c);
}

static void
test_contacts_thunderbird_vcard4(void **state)
{
	struct contacts *c = parse_file("thunderbird-4.0.vcf");
	const char *doerte[] = { "+49301234567", "d.mueller@example.de",
	    "doerte@example.de" };
	const char *dave[] = { "+15554443333", "dave@example.com" };
	size_t d;

	(void)state;
	assert_int_equal(contacts_count(c), 2);
	d = find_card(c, "D\xc3\xb6rte M\xc3\xbcller");
	check_addr(c, d, 0, "doerte@example.de", CONTACTS_EMAIL,
	    CONTACTS_TYPE_PREF);
	/* TYPE="work,voice" with VALUE=uri and a tel: URI */
	check_addr(c, d, 2, "+49301234567", CONTACTS_PHONE,
	    CONTACTS_TYPE_WORK | CONTACTS_TYPE_VOICE);
	/* an extension is a switchboard; a sip: URI is no phone number */
	check_addr(c, d, 3, "tel:+49-170-1234567;ext=12", CONTACTS_UNUSABLE,
	    CONTACTS_TYPE_CELL);
	check_addr(c, d, 4, "sip:doerte@voip.example.de", CONTACTS_UNUSABLE,
	    CONTACTS_TYPE_HOME);
	check_lookup(c, "d\xc3\xb6rte m\xc3\xbcller", doerte, 3);
	/* Non-ASCII letters compare exactly (no Unicode case folding). */
	assert_int_equal(contacts_lookup_name(c, "D\xc3\x96rte M\xc3\xbcller",
	    strlen("D\xc3\x96rte M\xc3\xbcller"), &(const char **){ NULL },
	    &(size_t){ 0 }), SB_ERR_NOT_FOUND);
	/* FN folded over two lines; fax and pager excluded from messaging. */
	check_lookup(c, "Dave Long", dave, 2);
	assert_string_equal(contacts_lookup_address(c, "+15554443334"),
	    "Dave Long");
	contacts_free(c);
}

static void
test_contacts_vcard21_quoted_printable(void **state)
{
	struct contacts *c = parse_file("v21-quoted-printable.vcf");
	const char *emile[] = { "+33612345678", "emile@example.fr" };
	const char *ada[] = { "ada@example.co.uk" };
	size_t e;

	(void)state;
	assert_int_equal(contacts_count(c), 2);
	assert_int_equal(contacts_skipped(c), 0);
	/* QUOTED-PRINTABLE in ISO-8859-1 becomes UTF-8 */
	e = find_card(c, "\xc3\x89mile Zola");
	check_addr(c, e, 0, "+33612345678", CONTACTS_PHONE,
	    CONTACTS_TYPE_CELL | CONTACTS_TYPE_VOICE);
	check_addr(c, e, 1, "01 23 45 67 89", CONTACTS_UNUSABLE,
	    CONTACTS_TYPE_HOME);
	check_addr(c, e, 2, "emile@example.fr", CONTACTS_EMAIL,
	    CONTACTS_TYPE_PREF);
	check_lookup(c, "\xc3\x89mile Zola", emile, 2);
	/* a soft line break inside a quoted-printable FN */
	check_lookup(c, "Ada Lovelace", ada, 1);
	contacts_free(c);
}

static void
test_contacts_malformed_cards_skipped(void **state)
{
	static const struct {
		size_t line;
		const char *reason;
	} want[] = {
		{ 7, "malformed line" },
		{ 13, "unsupported VERSION" },
		{ 18, "no FN, N or ORG" },
		{ 22, "BEGIN:VCARD inside a card" },
		{ 30, "malformed line" },
		{ 41, "no END:VCARD" },
	};
	struct contacts *c = parse_file("malformed.vcf");
	const char *reason;
	size_t i, line;

	(void)state;
	assert_int_equal(contacts_count(c), 3);
	find_card(c, "Good One");
	find_card(c, "Inner");
	find_card(c, "Good Two");
	assert_int_equal(contacts_skipped(c), 6);
	for (i = 0; i < 6; i++) {
		assert_int_equal(contacts_skip_info(c, i, &line, &reason), SB_OK);
		assert_int_equal(line, want[i].line);
		assert_string_equal(reason, want[i].reason);
	}
	assert_int_equal(contacts_skip_info(c, 6, &line, &reason),
	    SB_ERR_INVALID_ARG);
	assert_null(contacts_lookup_address(c, "nocolon@example.com"));
	assert_string_equal(contacts_lookup_address(c, "+15552223333"),
	    "Good Two");
	contacts_free(c);
}

static void
test_contacts_line_endings(void **state)
{
	static const char *forms[] = {
		"BEGIN:VCARD\nVERSION:3.0\nFN:Eve Adams\nEMAIL:eve@example.com\n"
		"TEL:+1 555 777 8888\nEND:VCARD\n",
		"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Eve Adams\r\nEMAIL:eve@example.com"
		"\r\nTEL:+1 555 777 8888\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\rVERSION:3.0\rFN:Eve Adams\rEMAIL:eve@example.com\r"
		"TEL:+1 555 777 8888\rEND:VCARD\r",
		/* no final line end, a UTF-8 BOM, blank lines */
		"\xef\xbb\xbf\nBEGIN:VCARD\n\nVERSION:3.0\nFN:Eve Adams\n"
		"EMAIL:eve@example.com\nTEL:+1 555 777 8888\nEND:VCARD",
	};
	const char *want[] = { "+15557778888", "eve@example.com" };
	struct contacts *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		c = parse_str(forms[i]);
		assert_int_equal(contacts_count(c), 1);
		assert_int_equal(contacts_skipped(c), 0);
		check_lookup(c, "Eve Adams", want, 2);
		contacts_free(c);
	}
}

static void
test_contacts_folding_and_escapes(void **state)
{
	struct contacts *c = parse_str(
	    "BEGIN:VCARD\r\n"
	    "VERSION:4.0\r\n"
	    "FN:Back\\\\slash\\; Semi\\, Comma\r\n"
	    "EMAIL:fold\r\n"
	    " ed@exa\r\n"
	    "\tmple.com\r\n"
	    "END:VCARD\r\n"
	    "BEGIN:VCARD\r\n"
	    "VERSION:4.0\r\n"
	    "FN:Two\\nLines\r\n"
	    "END:VCARD\r\n"
	    "BEGIN:VCARD\r\n"
	    "VERSION:2.1\r\n"
	    "FN;ENCODING=QUOTED-PRINTABLE:Soft=\r\n"
	    " Break=\r\n"
	    "=3D\r\n"
	    "END:VCARD\r\n");
	const char *want[] = { "folded@example.com" };

	(void)state;
	assert_int_equal(contacts_count(c), 3);
	assert_string_equal(contacts_card_name(c, 0),
	    "Back\\slash; Semi, Comma");
	/* after a quoted-printable soft break the next line is all content */
	assert_string_equal(contacts_card_name(c, 2), "Soft Break=");
	check_lookup(c, "Back\\slash; Semi, Comma", want, 1);
	assert_string_equal(contacts_card_name(c, 1), "Two\nLines");
	assert_int_equal(contacts_card_addr_count(c, 1), 0);
	contacts_free(c);
}

static void
test_contacts_groups_params_case(void **state)
{
	struct contacts *c = parse_str(
	    "begin:vcard\n"
	    "version:3.0\n"
	    "fn:Frank Case\n"
	    "item1.email;type=work,voice:frank@example.com\n"
	    "Item2.Tel;Type=work;TYPE=Voice;x-custom=\"a;b:c\":+1 555 123 0001\n"
	    "TEL;type=\"fax\":+1 555 123 0002\n"
	    "TEL;TYPE=cell;PREF=2;VALUE=uri:tel:+1-555-123-0003\n"
	    "EmAiL:  Frank.Case@EXAMPLE.com  \n"
	    "EMAIL:not-an-address\n"
	    "TEL:bob@example.com\n"
	    "EMAIL:+15551230009\n"
	    "end:vcard\n");
	const char *want[] = { "+15551230001", "+15551230003",
	    "frank.case@example.com", "frank@example.com" };

	(void)state;
	assert_int_equal(contacts_count(c), 1);
	check_addr(c, 0, 0, "frank@example.com", CONTACTS_EMAIL,
	    CONTACTS_TYPE_WORK | CONTACTS_TYPE_VOICE);
	/* a quoted parameter value may hold ';' and ':' */
	check_addr(c, 0, 1, "+15551230001", CONTACTS_PHONE,
	    CONTACTS_TYPE_WORK | CONTACTS_TYPE_VOICE);
	check_addr(c, 0, 2, "+15551230002", CONTACTS_PHONE, CONTACTS_TYPE_FAX);
	check_addr(c, 0, 3, "+15551230003", CONTACTS_PHONE,
	    CONTACTS_TYPE_CELL | CONTACTS_TYPE_PREF);
	check_addr(c, 0, 4, "frank.case@example.com", CONTACTS_EMAIL, 0);
	check_addr(c, 0, 5, "not-an-address", CONTACTS_UNUSABLE, 0);
	/* an e-mail in TEL and a number in EMAIL are mistakes */
	check_addr(c, 0, 6, "bob@example.com", CONTACTS_UNUSABLE, 0);
	check_addr(c, 0, 7, "+15551230009", CONTACTS_UNUSABLE, 0);
	check_lookup(c, "FRANK CASE", want, 4);
	assert_null(contacts_lookup_address(c, "bob@example.com"));
	contacts_free(c);
}

static void
test_contacts_first_card_wins(void **state)
{
	struct contacts *c = parse_str(
	    "BEGIN:VCARD\nFN:Zed First\nEMAIL:shared@example.com\nEND:VCARD\n"
	    "BEGIN:VCARD\nFN:Amy Second\nEMAIL:shared@example.com\n"
	    "EMAIL:amy@example.com\nEND:VCARD\n"
	    "BEGIN:VCARD\nFN:Mid Third\nEMAIL:Shared@Example.com\nEND:VCARD\n");

	(void)state;
	assert_int_equal(contacts_count(c), 3);
	assert_string_equal(contacts_lookup_address(c, "shared@example.com"),
	    "Zed First");
	assert_string_equal(contacts_lookup_address(c, "amy@example.com"),
	    "Amy Second");
	assert_null(contacts_lookup_address(NULL, "amy@example.com"));
	contacts_free(c);
}

static void
test_contacts_nul_and_charset(void **state)
{
	static const char with_nul[] =
	    "BEGIN:VCARD\nFN:Nul\0Byte\nEMAIL:nul@example.com\nEND:VCARD\n"
	    "BEGIN:VCARD\nFN:Ok\nEMAIL:ok@example.com\nEND:VCARD\n";
	struct contacts *c = NULL;

	(void)state;
	assert_int_equal(contacts_parse(with_nul, sizeof(with_nul) - 1, &c),
	    SB_OK);
	assert_int_equal(contacts_count(c), 1);
	assert_string_equal(contacts_card_name(c, 0), "Ok");
	assert_int_equal(contacts_skipped(c), 1);
	contacts_free(c);
	/* An unknown charset drops the FN (N takes over); stray bytes that
	 * are not UTF-8 become U+FFFD. */
	c = parse_str(
	    "BEGIN:VCARD\nFN;CHARSET=SHIFT_JIS:\x82\xa0\nN:Tanaka;Yui\nEND:VCARD\n"
	    "BEGIN:VCARD\nFN:Caf\xe9\nEND:VCARD\n"
	    "BEGIN:VCARD\nFN;ENCODING=b:QWRh\nORG:Base Co;Unit\nEND:VCARD\n");
	assert_int_equal(contacts_count(c), 3);
	assert_string_equal(contacts_card_name(c, 0), "Yui Tanaka");
	assert_string_equal(contacts_card_name(c, 1), "Caf\xef\xbf\xbd");
	assert_string_equal(contacts_card_name(c, 2), "Base Co");
	contacts_free(c);
}

/* Appends s to a growing heap string. */
static void
cat(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*buf = realloc(*buf, *cap);
		assert_non_null(*buf);
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

static void
test_contacts_caps(void **state)
{
	char *buf = NULL, line[128];
	size_t len = 0, cap = 0, i;
	struct contacts *c = NULL;
	const char *reason;

	(void)state;
	/* A 100 KiB folded photo is dropped; the card stays.  A name over
	 * the line cap, and a card with too many addresses, are skipped. */
	cat(&buf, &len, &cap, "BEGIN:VCARD\nFN:Photo Person\nPHOTO;ENCODING=b:");
	for (i = 0; i < 1600; i++)
		cat(&buf, &len, &cap, "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n ");
	cat(&buf, &len, &cap, "QQ==\nEMAIL:photo@example.com\nEND:VCARD\n");
	cat(&buf, &len, &cap, "BEGIN:VCARD\nFN:");
	for (i = 0; i < 1200; i++)
		cat(&buf, &len, &cap, "Long name part \n ");
	cat(&buf, &len, &cap, "\nEND:VCARD\n");
	cat(&buf, &len, &cap, "BEGIN:VCARD\nFN:Many Addresses\n");
	for (i = 0; i < CONTACTS_MAX_ADDRS + 1; i++) {
		snprintf(line, sizeof(line), "EMAIL:m%zu@example.com\n", i);
		cat(&buf, &len, &cap, line);
	}
	cat(&buf, &len, &cap, "END:VCARD\n");
	cat(&buf, &len, &cap, "BEGIN:VCARD\nFN:");
	for (i = 0; i < CONTACTS_MAX_NAME + 1; i++)
		cat(&buf, &len, &cap, "x");
	cat(&buf, &len, &cap, "\nEND:VCARD\n");
	assert_int_equal(contacts_parse(buf, len, &c), SB_OK);
	assert_int_equal(contacts_count(c), 1);
	assert_string_equal(contacts_lookup_address(c, "photo@example.com"),
	    "Photo Person");
	assert_int_equal(contacts_skipped(c), 3);
	assert_int_equal(contacts_skip_info(c, 0, NULL, &reason), SB_OK);
	assert_string_equal(reason, "line too long");
	assert_int_equal(contacts_skip_info(c, 1, NULL, &reason), SB_OK);
	assert_string_equal(reason, "too many addresses");
	assert_int_equal(contacts_skip_info(c, 2, NULL, &reason), SB_OK);
	assert_string_equal(reason, "name too long");
	contacts_free(c);

	/* Cards past CONTACTS_MAX_CARDS are skipped and counted. */
	len = 0;
	for (i = 0; i < CONTACTS_MAX_CARDS + 70; i++) {
		snprintf(line, sizeof(line),
		    "BEGIN:VCARD\nFN:C%zu\nTEL:+1555%07zu\nEND:VCARD\n", i, i);
		cat(&buf, &len, &cap, line);
	}
	assert_int_equal(contacts_parse(buf, len, &c), SB_OK);
	assert_int_equal(contacts_count(c), CONTACTS_MAX_CARDS);
	assert_int_equal(contacts_skipped(c), 70);
	assert_int_equal(contacts_skip_info(c, CONTACTS_MAX_SKIPS - 1, NULL,
	    &reason), SB_OK);
	assert_string_equal(reason, "too many cards");
	assert_int_equal(contacts_skip_info(c, CONTACTS_MAX_SKIPS, NULL,
	    &reason), SB_ERR_INVALID_ARG);
	assert_string_equal(contacts_lookup_address(c, "+15550019999"),
	    "C19999");
	assert_null(contacts_lookup_address(c, "+15550020000"));
	contacts_free(c);
	free(buf);

	/* The file cap is checked before a byte is read. */
	buf = calloc(1, CONTACTS_MAX_FILE + 1);
	assert_non_null(buf);
	c = (struct contacts *)1;
	assert_int_equal(contacts_parse(buf, CONTACTS_MAX_FILE + 1, &c),
	    SB_ERR_TOO_BIG);
	assert_null(c);
	assert_int_equal(contacts_parse(buf, CONTACTS_MAX_FILE, &c), SB_OK);
	assert_int_equal(contacts_count(c), 0);
	contacts_free(c);
	free(buf);
}

static void
test_contacts_empty_and_args(void **state)
{
	struct contacts *c = NULL;
	const char **a;
	size_t n;

	(void)state;
	assert_int_equal(contacts_parse(NULL, 0, &c), SB_OK);
	assert_int_equal(contacts_count(c), 0);
	assert_int_equal(contacts_skipped(c), 0);
	assert_null(contacts_lookup_address(c, "a@example.com"));
	assert_int_equal(contacts_lookup_name(c, "x", 1, &a, &n),
	    SB_ERR_NOT_FOUND);
	assert_null(contacts_card_name(c, 0));
	assert_null(contacts_card_addr(c, 0, 0, NULL, NULL));
	contacts_free(c);
	assert_int_equal(contacts_parse(NULL, 5, &c), SB_ERR_INVALID_ARG);
	assert_int_equal(contacts_parse("x", 1, NULL), SB_ERR_INVALID_ARG);
	contacts_free(NULL);
	/* A contact whose numbers are all unusable: found, no address. */
	c = parse_str("BEGIN:VCARD\nFN:Local Only\nTEL:555-1234\nEND:VCARD\n");
	a = (const char **)1;
	n = 9;
	assert_int_equal(contacts_lookup_name(c, "Local Only", 10, &a, &n),
	    SB_OK);
	assert_int_equal(n, 0);
	assert_null(a);
	contacts_free(c);
}

/* Parses buf[0..len) from an exact-size copy and checks the result is
 * usable: every lookup works on whatever was kept. */
static void
parse_any(const uint8_t *buf, size_t len)
{
	struct contacts *c = NULL;
	uint8_t *copy = malloc(len > 0 ? len : 1);
	size_t i, j;

	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, buf, len);
	assert_int_equal(contacts_parse(copy, len, &c), SB_OK);
	for (i = 0; i < contacts_count(c); i++) {
		const char *name = contacts_card_name(c, i), **a = NULL;
		size_t n;

		assert_non_null(name);
		assert_int_equal(contacts_lookup_name(c, name, strlen(name), &a,
		    &n), SB_OK);
		free(a);
		for (j = 0; j < contacts_card_addr_count(c, i); j++)
			assert_non_null(contacts_card_addr(c, i, j, NULL, NULL));
	}
	contacts_free(c);
	free(copy);
}

static const char *vectors[] = {
	"apple-3.0.vcf", "google-3.0.vcf", "thunderbird-4.0.vcf",
	"v21-quoted-printable.vcf", "malformed.vcf",
};

static void
test_contacts_truncated_at_every_byte(void **state)
{
	size_t v, cut, len;
	uint8_t *buf;

	(void)state;
	for (v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
		buf = slurp(vectors[v], &len);
		for (cut = 0; cut <= len; cut++)
			parse_any(buf, cut);
		free(buf);
	}
}

/* xorshift32: deterministic corruption, no libc generator. */
static uint32_t
next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
test_contacts_corrupted_never_crashes(void **state)
{
	static const uint8_t specials[] = { 0, '\r', '\n', ' ', '\t', ':', ';',
	    '=', ',', '"', '\\', '.', 0x80, 0xff };
	uint32_t seed = 0x5eed1234;
	size_t v, i, len;
	uint8_t *buf, saved, garbage[4096];

	(void)state;
	for (v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
		buf = slurp(vectors[v], &len);
		for (i = 0; i < len; i++) {
			saved = buf[i];
			buf[i] = specials[next_rand(&seed) % sizeof(specials)];
			parse_any(buf, len);
			buf[i] ^= (uint8_t)(1u << (next_rand(&seed) % 8));
			parse_any(buf, len);
			buf[i] = saved;
		}
		free(buf);
	}
	/* Pure binary garbage, and garbage inside a card. */
	for (i = 0; i < 200; i++) {
		for (v = 0; v < sizeof(garbage); v++)
			garbage[v] = (uint8_t)next_rand(&seed);
		parse_any(garbage, sizeof(garbage));
		memcpy(garbage, "BEGIN:VCARD\n", 12);
		parse_any(garbage, sizeof(garbage));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contacts_apple_export),
		cmocka_unit_test(test_contacts_google_export),
		cmocka_unit_test(test_contacts_thunderbird_vcard4),
		cmocka_unit_test(test_contacts_vcard21_quoted_printable),
		cmocka_unit_test(test_contacts_malformed_cards_skipped),
		cmocka_unit_test(test_contacts_line_endings),
		cmocka_unit_test(test_contacts_folding_and_escapes),
		cmocka_unit_test(test_contacts_groups_params_case),
		cmocka_unit_test(test_contacts_first_card_wins),
		cmocka_unit_test(test_contacts_nul_and_charset),
		cmocka_unit_test(test_contacts_caps),
		cmocka_unit_test(test_contacts_empty_and_args),
		cmocka_unit_test(test_contacts_truncated_at_every_byte),
		cmocka_unit_test(test_contacts_corrupted_never_crashes),
	};
	return cmocka_run_group_tests_name("contacts", tests, NULL, NULL);
}
