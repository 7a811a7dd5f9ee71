/*
 * test_names.c - addresses, outbox folder resolution, inbox folder names,
 * sanitising of untrusted names, and incoming file names.
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
#include "common/wire.h"
#include "agent/contacts.h"
#include "agent/names.h"
#include "proto/proto.h"

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
test_names_is_email(void **state)
{
	static const char *yes[] = {
		"bob@example.com", "a@b.co", "bob.smith+tag@mail.example.co.uk",
		"o'brien@example.ie", "x_y-z@sub-domain.example", "1@2.3",
		"!#$%&'*+-=?^_`{|}~@example.com",
	};
	static const char *no[] = {
		"", "bob", "@example.com", "bob@", "bob@example", "Bob@example.com",
		"bob@Example.com", "bob@@example.com", "bob@exa@mple.com",
		".bob@example.com", "bob.@example.com", "bo..b@example.com",
		"bob@.example.com", "bob@example..com", "bob@example.com.",
		"bob@-example.com", "bob@example-.com", "bob smith@example.com",
		"bob/x@example.com", "bob,carol@example.com", "b\xc3\xb6@example.com",
		"bob@ex_ample.com", "\"bob\"@example.com", "bob@example.com ",
	};
	char longlocal[80], longdomain[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!names_is_email(yes[i], strlen(yes[i])))
			fail_msg("'%s' should be an e-mail address", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (names_is_email(no[i], strlen(no[i])))
			fail_msg("'%s' should not be an e-mail address", no[i]);
	memset(longlocal, 'a', 64);
	memcpy(longlocal + 64, "@example.com", 13);
	assert_true(names_is_email(longlocal, strlen(longlocal)));
	memset(longlocal, 'a', 65);
	memcpy(longlocal + 65, "@example.com", 13);
	assert_false(names_is_email(longlocal, strlen(longlocal)));
	/* 254 bytes in all is the most an address may have. */
	memcpy(longdomain, "a@", 2);
	for (i = 2; i < 254; i++)
		longdomain[i] = (i % 50 == 0) ? '.' : 'b';
	longdomain[254] = '\0';
	assert_true(names_is_email(longdomain, 254));
	assert_false(names_is_email(longdomain, 255));
	assert_int_equal(names_kind("bob@example.com", 15), NAMES_EMAIL);
	/* Only len bytes count: no NUL needed, none looked at. */
	assert_true(names_is_email("bob@example.comXYZ", 15));
	assert_false(names_is_email(NULL, 0));
}

static void
test_names_is_e164(void **state)
{
	static const char *yes[] = {
		"+15551234567", "+12345678", "+123456789012345", "+442079460958",
		"+4930123456",
	};
	static const char *no[] = {
		"", "+", "15551234567", "+1234567", "+1234567890123456",
		"+05551234567", "+1 555 123 4567", "+1-555-1234567", "++15551234567",
		"+1555123456a", "tel:+15551234567", "+1555123456\xd9\xa3",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!names_is_e164(yes[i], strlen(yes[i])))
			fail_msg("'%s' should be E.164", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (names_is_e164(no[i], strlen(no[i])))
			fail_msg("'%s' should not be E.164", no[i]);
	assert_int_equal(names_kind("+15551234567", 12), NAMES_PHONE);
	assert_int_equal(names_kind("Bob", 3), NAMES_NOT_ADDRESS);
}

static void
test_names_address_canonical(void **state)
{
	static const struct {
		const char *in, *out;
		enum names_kind kind;
	} ok[] = {
		{ "bob@example.com", "bob@example.com", NAMES_EMAIL },
		{ "  Bob.Smith@Example.COM\t", "bob.smith@example.com", NAMES_EMAIL },
		{ "mailto:Carol@Example.org", "carol@example.org", NAMES_EMAIL },
		{ "+1 (555) 123-4567", "+15551234567", NAMES_PHONE },
		{ "+44 (0)20 7946 0958", "+442079460958", NAMES_PHONE },
		{ "+49.30.123456", "+4930123456", NAMES_PHONE },
		{ "tel:+1-555-123-4567", "+15551234567", NAMES_PHONE },
		{ "TEL:+1-555-123-4567;phone-context=example.com", "+15551234567",
		  NAMES_PHONE },
	};
	static const char *bad[] = {
		"", "   ", "Bob Smith", "555-123-4567", "(555) 123-4567",
		"0044 20 7946 0958", "+1 555 CALL NOW", "tel:+1-555-123-4567;ext=9",
		"+1 555 123 4567 x12", "bob@", "sip:bob@example.com",
		"+1 555 123 4567 890 1234", "bob@ex ample.com",
	};
	char out[NAMES_ADDR_BUF], small[10];
	enum names_kind kind;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(names_address_canonical(ok[i].in,
		    strlen(ok[i].in), out, sizeof(out), &kind), SB_OK);
		assert_string_equal(out, ok[i].out);
		assert_int_equal(kind, ok[i].kind);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (names_address_canonical(bad[i], strlen(bad[i]), out,
		    sizeof(out), &kind) != SB_ERR_INVALID_ARG)
			fail_msg("'%s' should not canonicalise (got '%s')",
			    bad[i], out);
		assert_string_equal(out, "");
		assert_int_equal(kind, NAMES_NOT_ADDRESS);
	}
	assert_int_equal(names_address_canonical("a@b.co", 6, small,
	    sizeof(small), NULL), SB_ERR_INVALID_ARG);
}

static struct contacts *
book(void)
{
	static const char vcf[] =
	    "BEGIN:VCARD\nVERSION:3.0\nFN:Bob Smith\n"
	    "EMAIL:bob@example.com\nTEL;TYPE=cell:+1 555 123 4567\n"
	    "TEL;TYPE=fax:+1 555 123 0000\nEND:VCARD\n"
	    "BEGIN:VCARD\nVERSION:3.0\nFN:Carol Jones\n"
	    "EMAIL:carol@example.org\nEND:VCARD\n"
	    "BEGIN:VCARD\nVERSION:3.0\nFN:Smith\\, Bob\n"
	    "EMAIL:bob.other@example.com\nEND:VCARD\n"
	    "BEGIN:VCARD\nVERSION:3.0\nFN:AC/DC\n"
	    "EMAIL:band@acdc.example\nEND:VCARD\n"
	    "BEGIN:VCARD\nVERSION:3.0\nFN:Landline Only\n"
	    "TEL:555-1234\nEND:VCARD\n"
	    "BEGIN:VCARD\nVERSION:3.0\nFN:carol@example.org\n"
	    "EMAIL:dave@example.com\nEND:VCARD\n"
	    "BEGIN:VCARD\nVERSION:3.0\nFN:.hidden\xe2\x80\xae"
	    "txt.exe\nEMAIL:mallory@example.com\nEND:VCARD\n"
	    "BEGIN:VCARD\nVERSION:3.0\nFN: .. \nEMAIL:dots@example.com\n"
	    "END:VCARD\n";
	struct contacts *c = NULL;

	assert_int_equal(contacts_parse(vcf, sizeof(vcf) - 1, &c), SB_OK);
	assert_int_equal(contacts_count(c), 8);
	return c;
}

/* Resolves name and checks the canonical group name of the result. */
static void
check_resolve(const struct contacts *c, const char *name, const char *want)
{
	struct names_recipients *r = NULL;
	char canon[NAMES_NAME_BUF];
	int rc;

	rc = names_resolve(c, name, strlen(name), &r);
	if (rc != SB_OK)
		fail_msg("'%s' did not resolve: %s", name, sb_strerror(rc));
	assert_int_equal(names_group_canonical(r, canon, sizeof(canon)), SB_OK);
	assert_string_equal(canon, want);
	names_recipients_free(r);
}

static void
check_resolve_err(const struct contacts *c, const char *name, int want)
{
	struct names_recipients *r = (struct names_recipients *)1;
	int rc = names_resolve(c, name, strlen(name), &r);

	if (rc != want)
		fail_msg("'%s': want %s, got %s", name, sb_strerror(want),
		    sb_strerror(rc));
	assert_null(r);
}

static void
test_names_resolve(void **state)
{
	struct contacts *c = book();
	struct names_recipients *r = NULL;

	(void)state;
	/* addresses */
	check_resolve(c, "bob@example.com", "bob@example.com");
	check_resolve(c, "Bob@Example.COM", "bob@example.com");
	check_resolve(c, "+15551234567", "+15551234567");
	check_resolve(c, "+1 555 123 4567", "+15551234567");
	/* a name: all the contact's messageable addresses, sorted */
	check_resolve(c, "Bob Smith", "+15551234567,bob@example.com");
	check_resolve(c, "bob smith", "+15551234567,bob@example.com");
	/* a comma in one contact's name beats splitting */
	check_resolve(c, "Smith, Bob", "bob.other@example.com");
	/* the inbox folder name of a contact whose FN had to be sanitised */
	check_resolve(c, "AC_DC", "band@acdc.example");
	/* an FN that is an address is an address first */
	check_resolve(c, "carol@example.org", "carol@example.org");
	/* groups: members trimmed, deduplicated, sorted */
	check_resolve(c, "carol@example.org,bob@example.com",
	    "bob@example.com,carol@example.org");
	check_resolve(c, "Carol Jones, Bob Smith , bob@example.com",
	    "+15551234567,bob@example.com,carol@example.org");
	check_resolve(c, "+15551234567,bob smith",
	    "+15551234567,bob@example.com");
	check_resolve(c, "zed@example.com,bob@example.com,amy@example.com",
	    "amy@example.com,bob@example.com,zed@example.com");
	/* errors */
	check_resolve_err(c, "Nobody Known", SB_ERR_UNKNOWN_RECIPIENT);
	check_resolve_err(c, "bob@example.com,Nobody", SB_ERR_UNKNOWN_RECIPIENT);
	check_resolve_err(c, "Landline Only", SB_ERR_UNKNOWN_RECIPIENT);
	check_resolve_err(c, "Bob", SB_ERR_UNKNOWN_RECIPIENT);
	check_resolve_err(c, "bob@", SB_ERR_INVALID_ARG);
	check_resolve_err(c, "+1555", SB_ERR_INVALID_ARG);
	check_resolve_err(c, "", SB_ERR_INVALID_ARG);
	check_resolve_err(c, "   ", SB_ERR_INVALID_ARG);
	check_resolve_err(c, "bob@example.com,", SB_ERR_INVALID_ARG);
	check_resolve_err(c, ",bob@example.com", SB_ERR_INVALID_ARG);
	check_resolve_err(c, "bob@example.com,,carol@example.org",
	    SB_ERR_INVALID_ARG);
	check_resolve_err(c, "AC/DC", SB_ERR_INVALID_ARG);
	assert_int_equal(names_resolve(c, "bob@example.com\0x", 17, &r),
	    SB_ERR_INVALID_ARG);
	assert_int_equal(names_resolve(c, "x", 1, NULL), SB_ERR_INVALID_ARG);
	/* no contacts file: addresses still work, names are unknown */
	check_resolve(NULL, "bob@example.com", "bob@example.com");
	check_resolve_err(NULL, "Bob Smith", SB_ERR_UNKNOWN_RECIPIENT);
	/* the set's accessors */
	assert_int_equal(names_resolve(c, "Bob Smith,Carol Jones", 21, &r),
	    SB_OK);
	assert_int_equal(names_recipients_count(r), 3);
	assert_string_equal(names_recipients_get(r, 0), "+15551234567");
	assert_string_equal(names_recipients_get(r, 2), "carol@example.org");
	assert_null(names_recipients_get(r, 3));
	assert_true(names_recipients_contains(r, "bob@example.com"));
	assert_false(names_recipients_contains(r, "+15551230000"));
	names_recipients_free(r);
	names_recipients_free(NULL);
	contacts_free(c);
}

static void
test_names_resolve_caps(void **state)
{
	char *vcf, canon[NAMES_NAME_BUF], longname[NAMES_NAME_MAX + 2];
	struct names_recipients *r = NULL;
	struct contacts *c = NULL;
	size_t len = 0, cap = 64 * 1024, i, j;

	(void)state;
	/* Five contacts of 60 addresses each. */
	vcf = malloc(cap);
	assert_non_null(vcf);
	for (i = 0; i < 5; i++) {
		len += (size_t)snprintf(vcf + len, cap - len,
		    "BEGIN:VCARD\nFN:P%zu\n", i);
		for (j = 0; j < 60; j++)
			len += (size_t)snprintf(vcf + len, cap - len,
			    "EMAIL:p%zu.%zu@example.com\n", i, j);
		len += (size_t)snprintf(vcf + len, cap - len, "END:VCARD\n");
	}
	assert_true(len < cap);
	assert_int_equal(contacts_parse(vcf, len, &c), SB_OK);
	free(vcf);
	/* 240 recipients resolve, but have no canonical folder name. */
	assert_int_equal(names_resolve(c, "P0,P1,P2,P3", 11, &r), SB_OK);
	assert_int_equal(names_recipients_count(r), 240);
	assert_int_equal(names_group_canonical(r, canon, sizeof(canon)),
	    SB_ERR_LENGTH);
	assert_string_equal(canon, "");
	names_recipients_free(r);
	/* 300 are over NAMES_MAX_RECIPIENTS. */
	check_resolve_err(c, "P0,P1,P2,P3,P4", SB_ERR_TOO_BIG);
	/* A folder name is one path component: at most 255 bytes. */
	memset(longname, 'a', sizeof(longname));
	memcpy(longname + NAMES_NAME_MAX - 12, "@example.com", 12);
	longname[NAMES_NAME_MAX] = '\0';
	check_resolve_err(c, longname + 1, SB_ERR_INVALID_ARG);
	memmove(longname + 1, longname, NAMES_NAME_MAX + 1);
	check_resolve_err(c, longname, SB_ERR_INVALID_ARG);
	contacts_free(c);
	assert_int_equal(names_group_canonical(NULL, canon, sizeof(canon)),
	    SB_ERR_INVALID_ARG);
	assert_int_equal(names_group_canonical(NULL, canon, 10),
	    SB_ERR_INVALID_ARG);
}

static void
test_names_inbox_folder(void **state)
{
	struct contacts *c = book();
	char out[NAMES_NAME_BUF];

	(void)state;
	assert_int_equal(names_inbox_folder(c, "+15551234567", out, sizeof(out)),
	    SB_OK);
	assert_string_equal(out, "Bob Smith");
	/* the fax number still names its owner */
	assert_int_equal(names_inbox_folder(c, "+15551230000", out, sizeof(out)),
	    SB_OK);
	assert_string_equal(out, "Bob Smith");
	assert_int_equal(names_inbox_folder(c, "band@acdc.example", out,
	    sizeof(out)), SB_OK);
	assert_string_equal(out, "AC_DC");
	/* no match: the bare address */
	assert_int_equal(names_inbox_folder(c, "stranger@example.net", out,
	    sizeof(out)), SB_OK);
	assert_string_equal(out, "stranger@example.net");
	/* a card named like another address does not capture the sender */
	assert_int_equal(names_inbox_folder(c, "dave@example.com", out,
	    sizeof(out)), SB_OK);
	assert_string_equal(out, "dave@example.com");
	/* never hidden, never reordered by a bidi override */
	assert_int_equal(names_inbox_folder(c, "mallory@example.com", out,
	    sizeof(out)), SB_OK);
	assert_string_equal(out, "_hidden_txt.exe");
	/* a name of only dots: the address says more */
	assert_int_equal(names_inbox_folder(c, "dots@example.com", out,
	    sizeof(out)), SB_OK);
	assert_string_equal(out, "dots@example.com");
	assert_int_equal(names_inbox_folder(NULL, "bob@example.com", out,
	    sizeof(out)), SB_OK);
	assert_string_equal(out, "bob@example.com");
	/* the sender must be canonical */
	assert_int_equal(names_inbox_folder(c, "Bob@example.com", out,
	    sizeof(out)), SB_ERR_INVALID_ARG);
	assert_int_equal(names_inbox_folder(c, "../x", out, sizeof(out)),
	    SB_ERR_INVALID_ARG);
	assert_int_equal(names_inbox_folder(c, "bob@example.com", out, 100),
	    SB_ERR_INVALID_ARG);
	contacts_free(c);
}

static void
check_sanitize(const char *in, size_t len, const char *want)
{
	char out[NAMES_NAME_BUF];

	assert_int_equal(names_sanitize_component(in, len, NAMES_NAME_MAX, out,
	    sizeof(out)), SB_OK);
	assert_string_equal(out, want);
	assert_true(valid_utf8(out));
}

static void
test_names_sanitize_edges(void **state)
{
	char in[600], out[NAMES_NAME_BUF], want[NAMES_NAME_BUF];
	size_t i, n;

	(void)state;
	check_sanitize("note.txt", 8, "note.txt");
	check_sanitize("", 0, NAMES_PLACEHOLDER);
	check_sanitize(NULL, 0, NAMES_PLACEHOLDER);
	check_sanitize(".", 1, NAMES_PLACEHOLDER);
	check_sanitize("..", 2, NAMES_PLACEHOLDER);
	check_sanitize(" ... ", 5, NAMES_PLACEHOLDER);
	check_sanitize("   ", 3, NAMES_PLACEHOLDER);
	check_sanitize("/", 1, "_");
	check_sanitize("../../etc/passwd", 16, "_._.._etc_passwd");
	check_sanitize(".bashrc", 7, "_bashrc");
	check_sanitize("a\0b", 3, "a_b");
	check_sanitize("tab\there\x1b[31m\x7f", 14, "tab_here_[31m_");
	check_sanitize("  padded name.txt \n", 19, "padded name.txt");
	/* C1 controls (U+0085) and the bidi override (U+202E) */
	check_sanitize("a\xc2\x85z", 4, "a_z");
	check_sanitize("invoice\xe2\x80\xae" "fdp.exe", 17, "invoice_fdp.exe");
	/* invalid UTF-8: lone continuation, overlong, surrogate, truncated */
	check_sanitize("a\x80z", 3, "a\xef\xbf\xbdz");
	check_sanitize("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");
	check_sanitize("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	check_sanitize("caf\xc3", 4, "caf\xef\xbf\xbd");
	check_sanitize("\xf4\x90\x80\x80", 4,
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* valid multibyte passes unchanged */
	check_sanitize("\xe6\x97\xa5\xe6\x9c\xac.txt", 10,
	    "\xe6\x97\xa5\xe6\x9c\xac.txt");
	check_sanitize("\xf0\x9f\x93\x8e clip", 9, "\xf0\x9f\x93\x8e clip");

	/* 300 bytes: cut to 255, keeping the extension */
	memset(in, 'a', 296);
	memcpy(in + 296, ".pdf", 4);
	memset(want, 'a', 251);
	memcpy(want + 251, ".pdf", 5);
	check_sanitize(in, 300, want);
	/* no extension: plain cut */
	memset(in, 'b', 300);
	memset(want, 'b', 255);
	want[255] = '\0';
	check_sanitize(in, 300, want);
	/* an "extension" that is too long or not alphanumeric is not kept */
	memset(in, 'c', 280);
	memcpy(in + 280, ".this-is-not-ext", 16);
	memset(want, 'c', 255);
	want[255] = '\0';
	check_sanitize(in, 296, want);

	/* a 3-byte character straddling the cut is dropped whole */
	for (i = 0; i < 100; i++)
		memcpy(in + 3 * i, "\xe2\x82\xac", 3); /* 100 x U+20AC, 300 B */
	assert_int_equal(names_sanitize_component(in, 300, NAMES_NAME_MAX, out,
	    sizeof(out)), SB_OK);
	assert_int_equal(strlen(out), 255);
	assert_true(valid_utf8(out));
	memcpy(in + 298, ".z", 2); /* 99 x U+20AC + 'x'... then ".z" */
	in[297] = 'x';
	assert_int_equal(names_sanitize_component(in, 300, NAMES_NAME_MAX, out,
	    sizeof(out)), SB_OK);
	n = strlen(out);
	assert_true(n <= 255 && n >= 252);
	assert_true(valid_utf8(out));
	assert_string_equal(out + n - 2, ".z");
	/* every cut point of 4-byte characters stays valid */
	for (i = 0; i < 150; i++)
		memcpy(in + 4 * i, "\xf0\x9f\x98\x80", 4);
	for (n = NAMES_SANITIZE_MIN; n <= NAMES_NAME_MAX; n++) {
		assert_int_equal(names_sanitize_component(in, 600, n, out,
		    sizeof(out)), SB_OK);
		assert_true(strlen(out) <= n && strlen(out) > n - 4);
		assert_int_equal(strlen(out) % 4, 0);
		assert_true(valid_utf8(out));
	}
	/* invalid byte replacement grows the name: still bounded */
	memset(in, 0xff, 300);
	assert_int_equal(names_sanitize_component(in, 300, NAMES_NAME_MAX, out,
	    sizeof(out)), SB_OK);
	assert_int_equal(strlen(out), 255);
	assert_true(valid_utf8(out));
	/* bad arguments */
	assert_int_equal(names_sanitize_component("a", 1, NAMES_NAME_MAX + 1, out,
	    sizeof(out)), SB_ERR_INVALID_ARG);
	assert_int_equal(names_sanitize_component("a", 1, 10, out, sizeof(out)),
	    SB_ERR_INVALID_ARG);
	assert_int_equal(names_sanitize_component("a", 1, NAMES_NAME_MAX, out,
	    NAMES_NAME_MAX), SB_ERR_INVALID_ARG);
}

/* Issue 12, finding 10: slash look-alikes and invisible characters map to
 * '_' like '/' and the controls, one for each, under the same rules. */
static void
test_names_sanitize_lookalikes(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		/* DIVISION SLASH, FULLWIDTH SOLIDUS, FRACTION SLASH, BIG SOLIDUS,
		 * BIG REVERSE SOLIDUS, BOX DRAWINGS LIGHT DIAGONAL, MATHEMATICAL
		 * RISING DIAGONAL */
		{ "..\xe2\x88\x95..\xe2\x88\x95" "etc\xe2\x88\x95passwd", "_._.._etc_passwd" },
		{ "a\xef\xbc\x8f" "b", "a_b" },
		{ "1\xe2\x81\x84" "2", "1_2" },
		{ "a\xe2\xa7\xb8" "b\xe2\xa7\xb9" "c", "a_b_c" },
		{ "a\xe2\x95\xb1" "b\xe2\x9f\x8b" "c", "a_b_c" },
		/* zero width space, non-joiner, joiner, LRM, RLM */
		{ "in\xe2\x80\x8bvo\xe2\x80\x8cice\xe2\x80\x8d.\xe2\x80\x8e" "pdf\xe2\x80\x8f",
		  "in_vo_ice_._pdf_" },
		/* LRE..RLO, word joiner..invisible plus, LRI..PDI, BOM, soft hyphen */
		{ "\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad\xe2\x80\xae", "_____" },
		{ "x\xe2\x81\xa0\xe2\x81\xa1\xe2\x81\xa2\xe2\x81\xa3\xe2\x81\xa4y", "x_____y" },
		{ "x\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9y", "x____y" },
		{ "\xef\xbb\xbfname", "_name" },
		{ "pay\xc2\xadpal.html", "pay_pal.html" },
		/* a leading look-alike is not a dot: nothing is hidden, and
		 * "." / ".." cannot come out of a mapping */
		{ "\xe2\x80\x8b.", "_." },
		{ ".\xe2\x80\x8b.", "__." },
		/* what stays: a plain backslash, CJK, emoji, accents */
		{ "a\\b", "a\\b" },
		{ "\xe3\x83\x8e\xe4\xb8\xbf", "\xe3\x83\x8e\xe4\xb8\xbf" },
		{ "caf\xc3\xa9 \xf0\x9f\x93\x8e", "caf\xc3\xa9 \xf0\x9f\x93\x8e" },
	};
	char in[600], out[NAMES_NAME_BUF];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_sanitize(cases[i].in, strlen(cases[i].in), cases[i].want);
	/* Mapping a 3-byte character to 1 byte never breaks the bound or a
	 * boundary: 100 x U+2215 then ".txt" */
	for (i = 0; i < 100; i++)
		memcpy(in + 3 * i, "\xe2\x88\x95", 3);
	memcpy(in + 300, ".txt", 4);
	assert_int_equal(names_sanitize_component(in, 304, NAMES_NAME_MAX, out,
	    sizeof(out)), SB_OK);
	n = strlen(out);
	assert_int_equal(n, 104);
	for (i = 0; i < 100; i++)
		assert_int_equal(out[i], '_');
	assert_string_equal(out + 100, ".txt");
	/* Cut of a long name of look-alikes and letters stays valid UTF-8 */
	for (i = 0; i < 150; i++)
		memcpy(in + 4 * i, i % 2 ? "\xef\xbc\x8fx" : "\xe2\x82\xacy", 4);
	assert_int_equal(names_sanitize_component(in, 600, NAMES_NAME_MAX, out,
	    sizeof(out)), SB_OK);
	assert_true(strlen(out) <= NAMES_NAME_MAX && strlen(out) > NAMES_NAME_MAX - 4);
	assert_true(valid_utf8(out));
	assert_null(strstr(out, "\xef\xbc\x8f"));
	/* the incoming file name gets the same mapping */
	assert_int_equal(names_incoming_file(0, 1, (const uint8_t *)"\1\2\3\4", 4,
	    "\xe2\x88\x95" "etc\xef\xbc\x8f" "shadow", 15, out, sizeof(out)), SB_OK);
	assert_string_equal(out, "19700101T000000Z-0001-01020304-_etc_shadow");
}

static void
check_escape(const char *in, size_t len, const char *want)
{
	char out[NAMES_ESCAPE_BUF(64)];

	assert_true(len <= 64);
	assert_int_equal(names_escape_display(in, len, out, sizeof(out)), SB_OK);
	assert_string_equal(out, want);
	assert_true(valid_utf8(out));
	/* what comes out is safe to show as it is */
	assert_int_equal(names_display_check(out, strlen(out), NULL, NULL), SB_OK);
}

/* Issue 12, finding 8: device names from the relay on a terminal. */
static void
test_names_escape_display(void **state)
{
	char out[NAMES_ESCAPE_BUF(64)], in[64];
	uint32_t bad;
	size_t off, i;

	(void)state;
	check_escape("laptop", 6, "laptop");
	check_escape("", 0, "");
	check_escape(NULL, 0, "");
	check_escape("Bob's \xc3\xa9t\xc3\xa9 \xf0\x9f\x93\xb1", 16,
	    "Bob's \xc3\xa9t\xc3\xa9 \xf0\x9f\x93\xb1");
	/* RLO: "phone\u202Egnp.exe" would show as "phoneexe.png" */
	check_escape("phone\xe2\x80\xae" "gnp.exe", 15, "phone\\u{202E}gnp.exe");
	/* C0 (ESC, newline), DEL, C1 (CSI, NEL) */
	check_escape("a\x1b[2Jb\nc\x7f", 9, "a\\x1B[2Jb\\x0Ac\\x7F");
	check_escape("\xc2\x9b" "31m\xc2\x85", 7, "\\u{009B}31m\\u{0085}");
	/* invalid UTF-8: each bad byte alone; a valid character after it kept */
	check_escape("\xff\xfe", 2, "\\xFF\\xFE");
	check_escape("caf\xc3", 4, "caf\\xC3");
	check_escape("\xe2\x80" "A", 3, "\\xE2\\x80A");
	check_escape("\xed\xa0\x80", 3, "\\xED\\xA0\\x80");   /* surrogate */
	check_escape("\xc0\xaf", 2, "\\xC0\\xAF");               /* overlong '/' */
	/* zero width, BOM, soft hyphen, a tag character: shown, not hidden */
	check_escape("a\xe2\x80\x8b" "b\xef\xbb\xbf" "c\xc2\xad" "d\xf3\xa0\x80\x81", 16,
	    "a\\u{200B}b\\u{FEFF}c\\u{00AD}d\\u{E0001}");
	/* a backslash is doubled: a name cannot spell an escape */
	check_escape("x\\u{202E}y", 10, "x\\\\u{202E}y");
	/* NUL inside the length is escaped too */
	check_escape("a\0b", 3, "a\\x00b");

	/* the bound: worst case 4 bytes out per byte in, always fits */
	memset(in, 0xff, sizeof(in));
	assert_int_equal(names_escape_display(in, sizeof(in), out, sizeof(out)), SB_OK);
	assert_int_equal(strlen(out), 4 * sizeof(in));
	for (i = 0; i + 1 < sizeof(in); i += 2)
		memcpy(in + i, "\xc2\x85", 2);
	assert_int_equal(names_escape_display(in, sizeof(in), out, sizeof(out)), SB_OK);
	assert_int_equal(strlen(out), 4 * sizeof(in));
	/* too small: cut after a whole escape, never inside one */
	assert_int_equal(names_escape_display("ab\xe2\x80\xae", 5, out, 9), SB_ERR_LENGTH);
	assert_string_equal(out, "ab");
	assert_int_equal(names_escape_display("ab\xe2\x80\xae", 5, out, 11), SB_OK);
	assert_string_equal(out, "ab\\u{202E}");
	assert_int_equal(names_escape_display("ab", 2, out, 0), SB_ERR_INVALID_ARG);
	assert_int_equal(names_escape_display("ab", 2, NULL, 10), SB_ERR_INVALID_ARG);

	/* the check init uses before registering a device name */
	assert_int_equal(names_display_check("laptop", 6, &bad, &off), SB_OK);
	assert_int_equal(names_display_check("caf\xc3\xa9", 5, &bad, &off), SB_OK);
	assert_int_equal(names_display_check("a\\b/c", 5, &bad, &off), SB_OK);
	assert_int_equal(names_display_check("evil\xe2\x80\xae" "gnp", 10, &bad, &off),
	    SB_ERR_INVALID_ARG);
	assert_int_equal(bad, 0x202e);
	assert_int_equal(off, 4);
	assert_int_equal(names_display_check("ab\xff", 3, &bad, &off), SB_ERR_INVALID_ARG);
	assert_int_equal(bad, NAMES_BAD_BYTE | 0xff);
	assert_int_equal(off, 2);
	assert_int_equal(names_display_check("\xc2\x85", 2, &bad, &off), SB_ERR_INVALID_ARG);
	assert_int_equal(bad, 0x85);
	assert_int_equal(names_display_check("a\tb", 3, NULL, NULL), SB_ERR_INVALID_ARG);
	assert_int_equal(names_display_check("zw\xe2\x80\x8bsp", 7, &bad, NULL),
	    SB_ERR_INVALID_ARG);
	assert_int_equal(bad, 0x200b);
	/* everything the relay refuses in a device name is refused here too */
	for (i = 0; i <= 0x10ffff; i++) {
		char enc[4];
		size_t n;

		if (i >= 0xd800 && i <= 0xdfff)
			continue;
		n = names_utf8_put((uint32_t)i, enc);
		if (proto_device_name_valid((const uint8_t *)enc, n) != SB_OK)
			assert_int_equal(names_display_check(enc, n, NULL, NULL),
			    SB_ERR_INVALID_ARG);
	}
}

static const uint8_t msgid[16] = { 0x3f, 0x9a, 0x2c, 0x1e, 0xde, 0xad };

static void
check_file(int64_t t, const char *name, const char *want)
{
	char out[NAMES_NAME_BUF];

	assert_int_equal(names_incoming_file(t, 1, msgid, sizeof(msgid), name,
	    name == NULL ? 0 : strlen(name), out, sizeof(out)), SB_OK);
	assert_string_equal(out, want);
}

static void
test_names_incoming_file(void **state)
{
	char out[NAMES_NAME_BUF], in[400];

	(void)state;
	/* DESIGN.md section 3's example */
	check_file(1795413662, "note.txt", "20261123T060102Z-0001-3f9a2c1e-note.txt");
	check_file(0, "a", "19700101T000000Z-0001-3f9a2c1e-a");
	check_file(951868799, "leap", "20000229T235959Z-0001-3f9a2c1e-leap");
	check_file(4107542400, "x", "21000301T000000Z-0001-3f9a2c1e-x");
	check_file(NAMES_MAX_TIME, "end", "99991231T235959Z-0001-3f9a2c1e-end");
	/* the sender's name is sanitised; a leading dot is harmless here */
	check_file(0, "../../x", "19700101T000000Z-0001-3f9a2c1e-.._.._x");
	check_file(0, ".bashrc", "19700101T000000Z-0001-3f9a2c1e-.bashrc");
	check_file(0, "..", "19700101T000000Z-0001-3f9a2c1e-" NAMES_PLACEHOLDER);
	check_file(0, "", "19700101T000000Z-0001-3f9a2c1e-" NAMES_PLACEHOLDER);
	check_file(0, NULL, "19700101T000000Z-0001-3f9a2c1e-" NAMES_PLACEHOLDER);
	check_file(0, "a/b\nc", "19700101T000000Z-0001-3f9a2c1e-a_b_c");
	/* bounded to 255 in all, extension kept */
	memset(in, 'n', 396);
	memcpy(in + 396, ".jpg", 4);
	assert_int_equal(names_incoming_file(1, 1, msgid, 4, in, 400, out,
	    sizeof(out)), SB_OK);
	assert_int_equal(strlen(out), NAMES_NAME_MAX);
	assert_string_equal(out + NAMES_NAME_MAX - 4, ".jpg");
	assert_memory_equal(out, "19700101T000001Z-0001-3f9a2c1e-nnn", 34);
	/* the sequence: fixed width up to 9999, wider after (still bounded) */
	assert_int_equal(names_incoming_file(1, 12, msgid, 4, "a", 1, out, sizeof(out)), SB_OK);
	assert_string_equal(out, "19700101T000001Z-0012-3f9a2c1e-a");
	assert_int_equal(names_incoming_file(1, NAMES_SEQ_MAX, msgid, 4, "a", 1, out,
	    sizeof(out)), SB_OK);
	assert_string_equal(out, "19700101T000001Z-9999-3f9a2c1e-a");
	assert_int_equal(names_incoming_file(1, 4000000000u, msgid, 4, in, 400, out,
	    sizeof(out)), SB_OK);
	assert_int_equal(strlen(out), NAMES_NAME_MAX);
	assert_memory_equal(out, "19700101T000001Z-4000000000-3f9a2c1e-nnn", 40);
	/* bad arguments */
	assert_int_equal(names_incoming_file(-1, 1, msgid, 16, "a", 1, out,
	    sizeof(out)), SB_ERR_INVALID_ARG);
	assert_int_equal(names_incoming_file(NAMES_MAX_TIME + 1, 1, msgid, 16, "a",
	    1, out, sizeof(out)), SB_ERR_INVALID_ARG);
	assert_int_equal(names_incoming_file(0, 1, msgid, 3, "a", 1, out,
	    sizeof(out)), SB_ERR_INVALID_ARG);
	assert_int_equal(names_incoming_file(0, 1, NULL, 16, "a", 1, out,
	    sizeof(out)), SB_ERR_INVALID_ARG);
	assert_int_equal(names_incoming_file(0, 1, msgid, 16, "a", 1, out, 255),
	    SB_ERR_INVALID_ARG);
	assert_int_equal(names_incoming_file(0, 0, msgid, 16, "a", 1, out,
	    sizeof(out)), SB_ERR_INVALID_ARG);
}

/* Names inside a received tree keep a leading dot, nothing else unsafe. */
static void
test_names_tree_component(void **state)
{
	static const struct { const char *in, *want; } t[] = {
		{ ".git", ".git" }, { ".gitignore", ".gitignore" }, { "HEAD", "HEAD" },
		{ "..", NAMES_PLACEHOLDER }, { ".", NAMES_PLACEHOLDER }, { "", NAMES_PLACEHOLDER },
		{ "a/b", "a_b" }, { "x\xe2\x80\xae" "fdp.exe", "x_fdp.exe" }, { "\x01z", "_z" },
		{ " pad ", "pad" },
	};
	char out[NAMES_NAME_BUF];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(names_sanitize_tree_component(t[i].in, strlen(t[i].in), out,
		    sizeof(out)), SB_OK);
		assert_string_equal(out, t[i].want);
	}
	assert_int_equal(names_sanitize_tree_component("a", 1, out, NAMES_NAME_MAX),
	    SB_ERR_INVALID_ARG);
}

struct stamped {
	char name[NAMES_NAME_BUF];
	int64_t time;
	unsigned seq;
};

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct stamped *)a)->name,
	    ((const struct stamped *)b)->name);
}

/* `ls` sorts bytewise in the C locale; the stamp is digits at fixed
 * positions, so other locales' collation orders these names alike. */
static void
test_names_files_sort_in_time_order(void **state)
{
	enum { N = 2000 };
	static struct stamped f[N];
	uint32_t s = 0x12345678;
	uint8_t id[4];
	size_t i;

	(void)state;
	for (i = 0; i < N; i++) {
		/* spread over centuries, with neighbours one second apart and
		 * random ids, so an id never decides across seconds */
		s ^= s << 13, s ^= s >> 17, s ^= s << 5;
		f[i].time = i % 2 ? f[i - 1].time + 1 :
		    (int64_t)(s % 4000000000u) * 3;
		s ^= s << 13, s ^= s >> 17, s ^= s << 5;
		memcpy(id, &s, sizeof(id));
		if (i % 2)
			id[0] = 0x00; /* later second, smaller id */
		else
			id[0] = 0xff;
		/* within a second: ranks 1..12, the later one with the
		 * smaller id, so the id never decides either */
		f[i].seq = 1 + (unsigned)(i % 12);
		if (f[i].seq > 1 && i % 2 == 0)
			f[i].time = f[i - 1].time;
		assert_int_equal(names_incoming_file(f[i].time, f[i].seq, id, sizeof(id),
		    "z.txt", 5, f[i].name, sizeof(f[i].name)), SB_OK);
	}
	qsort(f, N, sizeof(f[0]), cmp_name);
	for (i = 1; i < N; i++) {
		assert_true(f[i - 1].time <= f[i].time);
		if (f[i - 1].time == f[i].time)
			assert_true(f[i - 1].seq < f[i].seq);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_is_email),
		cmocka_unit_test(test_names_is_e164),
		cmocka_unit_test(test_names_address_canonical),
		cmocka_unit_test(test_names_resolve),
		cmocka_unit_test(test_names_resolve_caps),
		cmocka_unit_test(test_names_inbox_folder),
		cmocka_unit_test(test_names_sanitize_edges),
		cmocka_unit_test(test_names_sanitize_lookalikes),
		cmocka_unit_test(test_names_escape_display),
		cmocka_unit_test(test_names_incoming_file),
		cmocka_unit_test(test_names_tree_component),
		cmocka_unit_test(test_names_files_sort_in_time_order),
	};
	return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
