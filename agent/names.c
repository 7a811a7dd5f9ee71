/*
 * names.c - addresses, conversation folder names and incoming file names
 * (see names.h).
 *
 * Pure string work: no I/O, no clock, no locale (case folding is ASCII, so
 * the answer never depends on LC_CTYPE), no globals.  Untrusted names are
 * decoded through common/wire.h's reader, one UTF-8 character at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sberr.h"
#include "common/wire.h"
#include "agent/contacts.h"
#include "agent/names.h"

struct names_recipients {
	char **addr;
	size_t n;
	size_t cap;
};

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_lower_alnum(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z');
}

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Narrows [*s, *s + *len) to exclude ASCII white space at both ends. */
static void
trim(const char **s, size_t *len)
{
	while (*len > 0 && is_space((unsigned char)(*s)[0])) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_space((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

static int
has_prefix_ci(const char *s, size_t len, const char *prefix)
{
	size_t i, n = strlen(prefix);

	if (len < n)
		return 0;
	for (i = 0; i < n; i++)
		if (ascii_lower((unsigned char)s[i]) != prefix[i])
			return 0;
	return 1;
}

/* ---- UTF-8 ---- */

int
names_utf8_next(struct sb_reader *r, uint32_t *cp)
{
	struct sb_reader after_lead;
	uint32_t v, min;
	uint8_t b, c;
	size_t i, n;

	*cp = 0;
	if (sb_get_u8(r, &b) != SB_OK)
		return -1;
	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	/* RFC 3629 section 4: C0, C1 and F5..FF never appear. */
	if (b >= 0xc2 && b <= 0xdf) {
		n = 1, v = b & 0x1f, min = 0x80;
	} else if (b >= 0xe0 && b <= 0xef) {
		n = 2, v = b & 0x0f, min = 0x800;
	} else if (b >= 0xf0 && b <= 0xf4) {
		n = 3, v = b & 0x07, min = 0x10000;
	} else {
		*cp = 0xfffd;
		return 0;
	}
	after_lead = *r;
	for (i = 0; i < n; i++) {
		if (sb_get_u8(r, &c) != SB_OK || (c & 0xc0) != 0x80)
			goto invalid;
		v = (v << 6) | (c & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		goto invalid;
	*cp = v;
	return 1;
invalid:
	/* Only the lead byte is consumed: what follows may start a valid
	 * character of its own. */
	*r = after_lead;
	*cp = 0xfffd;
	return 0;
}

size_t
names_utf8_put(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* ---- Addresses ---- */

/* RFC 5322 atext, lowercase only (canonical form), minus '/': a folder
 * name can never hold it, and no mail provider hands it out. */
static int
is_local_char(int c)
{
	return is_lower_alnum(c) || (c != '/' && c != 0 &&
	    strchr("!#$%&'*+-=?^_`{|}~", c) != NULL);
}

/* Dot-separated runs of allowed characters, no empty run. */
static int
dot_runs_ok(const char *s, size_t len, int (*ok)(int))
{
	size_t i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i - 1] == '.')
				return 0;
		} else if (!ok((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

/* RFC 1035 host name, lowercase: labels of 1..63 letters, digits, '-'
 * (not at either end), at least two labels. */
static int
domain_ok(const char *s, size_t len)
{
	size_t i, start = 0, labels = 0;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			if (!is_lower_alnum((unsigned char)s[i]) && s[i] != '-')
				return 0;
			continue;
		}
		if (i - start == 0 || i - start > 63 || s[start] == '-' ||
		    s[i - 1] == '-')
			return 0;
		labels++;
		start = i + 1;
	}
	return labels >= 2;
}

int
names_is_email(const char *s, size_t len)
{
	const char *at;
	size_t local;

	if (s == NULL || len == 0 || len > NAMES_MAX_EMAIL)
		return 0;
	if ((at = memchr(s, '@', len)) == NULL)
		return 0;
	local = (size_t)(at - s);
	if (local == 0 || local > NAMES_MAX_EMAIL_LOCAL)
		return 0;
	return dot_runs_ok(s, local, is_local_char) &&
	    domain_ok(at + 1, len - local - 1);
}

int
names_is_e164(const char *s, size_t len)
{
	size_t i, digits = len - 1;

	if (s == NULL || len < 1 + NAMES_MIN_E164_DIGITS ||
	    len > 1 + NAMES_MAX_E164_DIGITS || s[0] != '+')
		return 0;
	/* ITU-T E.164: country codes never start with 0. */
	if (s[1] == '0')
		return 0;
	for (i = 1; i <= digits; i++)
		if (!is_digit((unsigned char)s[i]))
			return 0;
	return 1;
}

enum names_kind
names_kind(const char *s, size_t len)
{
	if (names_is_e164(s, len))
		return NAMES_PHONE;
	if (names_is_email(s, len))
		return NAMES_EMAIL;
	return NAMES_NOT_ADDRESS;
}

static int
canonical_email(const char *s, size_t len, char *out, size_t out_size)
{
	size_t i;

	if (has_prefix_ci(s, len, "mailto:")) {
		s += 7;
		len -= 7;
	}
	if (len > NAMES_MAX_EMAIL || len >= out_size)
		return SB_ERR_INVALID_ARG;
	/* Lowercasing the local part too: see ARCHITECTURE.md ("Contacts and names"). */
	for (i = 0; i < len; i++)
		out[i] = (char)ascii_lower((unsigned char)s[i]);
	out[len] = '\0';
	return names_is_email(out, len) ? SB_OK : SB_ERR_INVALID_ARG;
}

/* RFC 3966 visual separators, plus the spaces people type. */
static int
is_phone_separator(int c)
{
	return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')';
}

static int
canonical_phone(const char *s, size_t len, char *out, size_t out_size)
{
	const char *semi;
	size_t i, n = 0;

	if (has_prefix_ci(s, len, "tel:")) {
		s += 4;
		len -= 4;
		/* URI parameters follow ';'.  An extension means the number is
		 * a switchboard, not the person: not a messaging address. */
		if ((semi = memchr(s, ';', len)) != NULL) {
			size_t plen = len - (size_t)(semi - s);

			for (i = 0; i + 5 <= plen; i++)
				if (has_prefix_ci(semi + i, plen - i, ";ext="))
					return SB_ERR_INVALID_ARG;
			len = (size_t)(semi - s);
		}
	}
	if (len == 0 || s[0] != '+' || out_size < 2)
		return SB_ERR_INVALID_ARG;
	out[n++] = '+';
	for (i = 1; i < len; i++) {
		/* "+44 (0)20 ...": the national trunk prefix in parentheses is
		 * never dialled from abroad, so it is not part of the number. */
		if (len - i >= 3 && s[i] == '(' && s[i + 1] == '0' &&
		    s[i + 2] == ')') {
			i += 2;
			continue;
		}
		if (is_phone_separator((unsigned char)s[i]))
			continue;
		if (!is_digit((unsigned char)s[i]) ||
		    n > NAMES_MAX_E164_DIGITS || n + 1 >= out_size)
			return SB_ERR_INVALID_ARG;
		out[n++] = s[i];
	}
	out[n] = '\0';
	return names_is_e164(out, n) ? SB_OK : SB_ERR_INVALID_ARG;
}

int
names_address_canonical(const char *in, size_t len, char *out,
    size_t out_size, enum names_kind *kind)
{
	int rc;

	if (kind != NULL)
		*kind = NAMES_NOT_ADDRESS;
	if (out == NULL || out_size < NAMES_ADDR_BUF)
		return SB_ERR_INVALID_ARG;
	out[0] = '\0';
	if (in == NULL)
		return SB_ERR_INVALID_ARG;
	trim(&in, &len);
	if (memchr(in, '@', len) != NULL) {
		rc = canonical_email(in, len, out, out_size);
		if (rc == SB_OK && kind != NULL)
			*kind = NAMES_EMAIL;
	} else {
		rc = canonical_phone(in, len, out, out_size);
		if (rc == SB_OK && kind != NULL)
			*kind = NAMES_PHONE;
	}
	if (rc != SB_OK)
		out[0] = '\0';
	return rc;
}

/* ---- Sanitising one path component ---- */

/* Characters a reader cannot see or that change what the rest of a line
 * looks like: C0, DEL, C1; U+2028/9 (line breaks); bidi marks, embeddings,
 * overrides and isolates ("invoice\u202Efdp.exe" displays as
 * "invoiceexe.pdf"); and the zero-width and other format characters
 * (soft hyphen, ZWSP/ZWNJ/ZWJ, word joiner, invisible operators, BOM,
 * interlinear annotation, tags, Hangul fillers), with which two names that
 * look the same differ; and the noncharacters U+FFFE/F.  One list for file
 * names and for what the CLI prints (names_escape_display); a superset of
 * what the relay refuses in a device name (proto_device_name_valid), so
 * init never sends a name the relay would refuse for its characters. */
static int
is_invisible(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x00ad ||
	    cp == 0x034f || cp == 0x061c || cp == 0x115f || cp == 0x1160 ||
	    cp == 0x180e || (cp >= 0x200b && cp <= 0x200f) ||
	    (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) ||
	    cp == 0x3164 || cp == 0xfeff || cp == 0xffa0 ||
	    (cp >= 0xfff9 && cp <= 0xfffb) || cp == 0xfffe || cp == 0xffff ||
	    (cp >= 0xe0000 && cp <= 0xe007f);
}

/* Characters drawn like '/' (issue 12, finding 10): "..\u2215etc" must not
 * pass for a path in ls, a file manager or a mail client that shows it.
 * FRACTION SLASH, DIVISION SLASH, BOX DRAWINGS LIGHT DIAGONAL, MATHEMATICAL
 * RISING DIAGONAL, BIG SOLIDUS, FULLWIDTH SOLIDUS; and BIG REVERSE SOLIDUS,
 * the same trap for a reader who expects a Windows path.
 * Letters that merely resemble a slash in some fonts (CJK) stay: mapping
 * them would mangle ordinary names. */
static int
is_slash_like(uint32_t cp)
{
	return cp == '/' || cp == 0x2044 || cp == 0x2215 || cp == 0x2571 ||
	    cp == 0x27cb || cp == 0x29f8 || cp == 0x29f9 || cp == 0xff0f;
}

/* What a path component may not hold: NUL and '/' would break the path,
 * the rest would disguise it. */
static int
is_forbidden(uint32_t cp)
{
	return is_invisible(cp) || is_slash_like(cp);
}

/* A bounded output: appends whole characters only, so any cut falls on a
 * UTF-8 boundary. */
struct sink {
	char *d;
	size_t len;
	size_t max;
};

static int
sink_put(struct sink *s, const char *p, size_t n)
{
	if (n > s->max - s->len)
		return 0;
	memcpy(s->d + s->len, p, n);
	s->len += n;
	return 1;
}

/* Sanitised characters of in[0..len) into s until one does not fit.
 * Returns 1 if everything fit. */
static int
emit(const char *in, size_t len, int keep_leading_dot, struct sink *s)
{
	struct sb_reader r;
	char enc[4];
	uint32_t cp;
	int first = 1;

	sb_reader_init(&r, in, len);
	while (names_utf8_next(&r, &cp) >= 0) {
		if (is_forbidden(cp) || (first && cp == '.' && !keep_leading_dot))
			cp = '_';
		first = 0;
		if (!sink_put(s, enc, names_utf8_put(cp, enc)))
			return 0;
	}
	return 1;
}

/* Length of a keepable extension of in[0..len) (after its last '.'), or 0.
 * Only short ASCII alphanumeric ones: they are what tools and people
 * recognise a file by, and are safe to copy as they are. */
static size_t
extension_len(const char *in, size_t len)
{
	size_t i = len;

	while (i > 0 && in[i - 1] != '.') {
		int c = (unsigned char)in[i - 1];

		if (!is_digit(c) && !(c >= 'a' && c <= 'z') &&
		    !(c >= 'A' && c <= 'Z'))
			return 0;
		i--;
	}
	/* No dot, a dot first (a dot file, not an extension), or too long. */
	if (i <= 1 || len - i == 0 || len - i > NAMES_EXT_MAX)
		return 0;
	return len - i;
}

static int
only_dots(const char *in, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (in[i] != '.')
			return 0;
	return 1;
}

/* A cut may leave the kept head ending in spaces; drop them (never the
 * first character, which trimming already made non-space). */
static void
trim_cut(struct sink *s)
{
	while (s->len > 1 && s->d[s->len - 1] == ' ')
		s->len--;
}

static int
only_dots_or_space(const char *in, size_t len)
{
	trim(&in, &len);
	return only_dots(in, len);
}

static void
sanitize(const char *in, size_t len, size_t max, int keep_leading_dot,
    char *out)
{
	struct sink s = { out, 0, max };
	size_t ext;

	if (in == NULL)
		len = 0;
	trim(&in, &len);
	if (only_dots(in, len)) {
		sink_put(&s, NAMES_PLACEHOLDER, strlen(NAMES_PLACEHOLDER));
	} else if (!emit(in, len, keep_leading_dot, &s) &&
	    (ext = extension_len(in, len)) != 0) {
		/* Too long: cut the stem, keep ".ext" (ASCII, 1 byte each). */
		s.len = 0;
		s.max = max - ext - 1;
		emit(in, len - ext - 1, keep_leading_dot, &s);
		trim_cut(&s);
		s.max = max;
		sink_put(&s, in + len - ext - 1, ext + 1);
	} else {
		trim_cut(&s);
	}
	out[s.len] = '\0';
}

int
names_sanitize_tree_component(const char *in, size_t len, char *out, size_t out_size)
{
	if (out == NULL || out_size <= NAMES_NAME_MAX)
		return SB_ERR_INVALID_ARG;
	sanitize(in, len, NAMES_NAME_MAX, 1, out);
	return SB_OK;
}

int
names_sanitize_component(const char *in, size_t len, size_t max, char *out,
    size_t out_size)
{
	if (out == NULL || max < NAMES_SANITIZE_MIN || max > NAMES_NAME_MAX ||
	    out_size <= max)
		return SB_ERR_INVALID_ARG;
	sanitize(in, len, max, 0, out);
	return SB_OK;
}

/* ---- Showing untrusted names on a terminal ---- */

/* names_utf8_next, plus the byte an invalid sequence starts with. */
static int
next_char(struct sb_reader *r, uint32_t *cp, uint8_t *lead)
{
	struct sb_reader at = *r;
	int rc = names_utf8_next(r, cp);

	*lead = 0;
	if (rc == 0)
		(void)sb_get_u8(&at, lead);
	return rc;
}

int
names_display_check(const char *in, size_t len, uint32_t *bad, size_t *bad_off)
{
	struct sb_reader r;
	uint32_t cp, dummy;
	size_t off, dummy_off;
	uint8_t lead;
	int rc;

	if (bad == NULL)
		bad = &dummy;
	if (bad_off == NULL)
		bad_off = &dummy_off;
	*bad = 0;
	*bad_off = 0;
	if (in == NULL)
		len = 0;
	sb_reader_init(&r, in, len);
	for (;;) {
		off = len - sb_reader_remaining(&r);
		if ((rc = next_char(&r, &cp, &lead)) < 0)
			return SB_OK;
		if (rc == 0 || is_invisible(cp)) {
			*bad = rc == 0 ? NAMES_BAD_BYTE | lead : cp;
			*bad_off = off;
			return SB_ERR_INVALID_ARG;
		}
	}
}

int
names_escape_display(const char *in, size_t len, char *out, size_t out_size)
{
	struct sink s;
	struct sb_reader r;
	char esc[16];
	uint32_t cp;
	uint8_t lead;
	size_t n;
	int rc;

	if (out == NULL || out_size == 0)
		return SB_ERR_INVALID_ARG;
	s.d = out, s.len = 0, s.max = out_size - 1;
	if (in == NULL)
		len = 0;
	sb_reader_init(&r, in, len);
	while ((rc = next_char(&r, &cp, &lead)) >= 0) {
		/* A backslash is doubled, so "\\x" in the output always starts
		 * an escape and never a name that spells one. */
		if (rc == 0)
			n = (size_t)snprintf(esc, sizeof(esc), "\\x%02X", lead);
		else if (cp < 0x80 && is_invisible(cp))
			n = (size_t)snprintf(esc, sizeof(esc), "\\x%02X", (unsigned)cp);
		else if (is_invisible(cp))
			n = (size_t)snprintf(esc, sizeof(esc), "\\u{%04X}", (unsigned)cp);
		else if (cp == '\\')
			n = (size_t)snprintf(esc, sizeof(esc), "\\\\");
		else
			n = names_utf8_put(cp, esc);
		/* Whole escapes only: a cut never leaves half of one. */
		if (!sink_put(&s, esc, n)) {
			out[s.len] = '\0';
			return SB_ERR_LENGTH;
		}
	}
	out[s.len] = '\0';
	return SB_OK;
}

/* ---- Incoming file names ---- */

/* Proleptic Gregorian date of a day count since 1970-01-01 (days >= 0).
 * H. Hinnant, "chrono-Compatible Low-Level Date Algorithms", civil_from_days;
 * done by hand so the name never depends on TZ, locale or time_t width. */
static void
civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t z = days + 719468;
	int64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int
names_incoming_file(int64_t time, unsigned seq, const uint8_t *id, size_t id_len,
    const char *sender_name, size_t name_len, char *out, size_t out_size)
{
	int64_t y, secs;
	unsigned mo, d;
	int n;

	if (out == NULL || out_size < NAMES_NAME_BUF)
		return SB_ERR_INVALID_ARG;
	out[0] = '\0';
	if (id == NULL || id_len < NAMES_ID_HEX_LEN / 2 || time < 0 ||
	    time > NAMES_MAX_TIME || seq == 0)
		return SB_ERR_INVALID_ARG;
	civil_from_days(time / 86400, &y, &mo, &d);
	secs = time % 86400;
	n = snprintf(out, out_size, "%04d%02u%02uT%02d%02d%02dZ-%04u-%02x%02x%02x%02x-",
	    (int)y, mo, d, (int)(secs / 3600), (int)(secs / 60 % 60),
	    (int)(secs % 60), seq, id[0], id[1], id[2], id[3]);
	/* 31 bytes, up to 37 for a sequence of 10 digits: the sanitised name
	 * keeps at least 218 bytes (more than NAMES_SANITIZE_MIN). */
	if (n < NAMES_FILE_PREFIX_LEN || n > NAMES_FILE_PREFIX_LEN + 6)
		return SB_ERR_INTERNAL;
	sanitize(sender_name, name_len, NAMES_NAME_MAX - (size_t)n, 1, out + n);
	return SB_OK;
}

void
names_utc_text(int64_t time, char out[NAMES_UTC_BUF])
{
	int64_t y, secs;
	unsigned mo, d;

	if (time < 0)
		time = 0;
	if (time > NAMES_MAX_TIME)
		time = NAMES_MAX_TIME;
	civil_from_days(time / 86400, &y, &mo, &d);
	secs = time % 86400;
	snprintf(out, NAMES_UTC_BUF, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)y, mo, d,
	    (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

/* ---- Recipient sets ---- */

void
names_recipients_free(struct names_recipients *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		free(r->addr[i]);
	free(r->addr);
	free(r);
}

size_t
names_recipients_count(const struct names_recipients *r)
{
	return r == NULL ? 0 : r->n;
}

const char *
names_recipients_get(const struct names_recipients *r, size_t i)
{
	return r == NULL || i >= r->n ? NULL : r->addr[i];
}

int
names_recipients_contains(const struct names_recipients *r, const char *addr)
{
	size_t i;

	if (r == NULL || addr == NULL)
		return 0;
	for (i = 0; i < r->n; i++)
		if (strcmp(r->addr[i], addr) == 0)
			return 1;
	return 0;
}

/* Adds a canonical address unless present.  The set stays small
 * (NAMES_MAX_RECIPIENTS), so a linear check is the simple right thing. */
static int
recipients_add(struct names_recipients *r, const char *addr)
{
	char **na;
	size_t ncap;

	if (names_recipients_contains(r, addr))
		return SB_OK;
	if (r->n >= NAMES_MAX_RECIPIENTS)
		return SB_ERR_TOO_BIG;
	if (r->n == r->cap) {
		ncap = r->cap == 0 ? 4 : r->cap * 2;
		if ((na = realloc(r->addr, ncap * sizeof(*na))) == NULL)
			return SB_ERR_ALLOC;
		r->addr = na;
		r->cap = ncap;
	}
	if ((r->addr[r->n] = strdup(addr)) == NULL)
		return SB_ERR_ALLOC;
	r->n++;
	return SB_OK;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ASCII case-insensitive equality of a NUL-terminated string and len bytes. */
static int
equal_ci(const char *z, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (z[i] == '\0' || ascii_lower((unsigned char)z[i]) !=
		    ascii_lower((unsigned char)s[i]))
			return 0;
	return z[len] == '\0';
}

/* Whether address j of card i may be messaged: e-mail or E.164, and not
 * a fax or pager line (unless it is also marked voice or cell). */
static int
matchable(const struct contacts *c, size_t i, size_t j, const char **addr)
{
	enum contacts_addr_kind kind;
	unsigned types;

	*addr = contacts_card_addr(c, i, j, &kind, &types);
	if (*addr == NULL || (kind != CONTACTS_EMAIL && kind != CONTACTS_PHONE))
		return 0;
	return !(types & (CONTACTS_TYPE_FAX | CONTACTS_TYPE_PAGER)) ||
	    (types & (CONTACTS_TYPE_VOICE | CONTACTS_TYPE_CELL));
}

/* Contacts whose inbox folder (sanitised display name) equals the name:
 * the way back from inbox/<folder> to outbox/<folder>. */
static int
add_by_folder(const struct contacts *c, const char *name, size_t len,
    struct names_recipients *r, int *found)
{
	char folder[NAMES_NAME_BUF];
	const char *cn, *addr;
	size_t i, j;
	int rc;

	for (i = 0; i < contacts_count(c); i++) {
		cn = contacts_card_name(c, i);
		sanitize(cn, strlen(cn), NAMES_NAME_MAX, 0, folder);
		if (!equal_ci(folder, name, len))
			continue;
		*found = 1;
		for (j = 0; j < contacts_card_addr_count(c, i); j++)
			if (matchable(c, i, j, &addr) &&
			    (rc = recipients_add(r, addr)) != SB_OK)
				return rc;
	}
	return SB_OK;
}

/* One address or contact name (not a group) into r. */
static int
resolve_one(const struct contacts *c, const char *name, size_t len,
    struct names_recipients *r)
{
	char addr[NAMES_ADDR_BUF];
	const char **list = NULL;
	size_t i, n = 0, before = r->n;
	int rc, found = 0;

	trim(&name, &len);
	if (len == 0)
		return SB_ERR_INVALID_ARG;
	if (names_address_canonical(name, len, addr, sizeof(addr), NULL) == SB_OK)
		return recipients_add(r, addr);
	if (c != NULL) {
		rc = contacts_lookup_name(c, name, len, &list, &n);
		if (rc == SB_OK) {
			found = 1;
			for (i = 0; i < n && rc == SB_OK; i++)
				rc = recipients_add(r, list[i]);
			free(list);
		} else if (rc == SB_ERR_NOT_FOUND) {
			rc = add_by_folder(c, name, len, r, &found);
		}
		if (rc != SB_OK)
			return rc;
	}
	if (found && r->n > before)
		return SB_OK;
	if (found)
		return SB_ERR_UNKNOWN_RECIPIENT; /* a contact, but no usable address */
	/* Not a contact: something that tried to be an address is malformed,
	 * anything else is a name nobody knows. */
	if (memchr(name, '@', len) != NULL || name[0] == '+' ||
	    has_prefix_ci(name, len, "tel:") || has_prefix_ci(name, len, "mailto:"))
		return SB_ERR_INVALID_ARG;
	return SB_ERR_UNKNOWN_RECIPIENT;
}

static int
resolve_group(const struct contacts *c, const char *name, size_t len,
    struct names_recipients *r)
{
	const char *comma;
	size_t part;
	int rc;

	for (;;) {
		comma = memchr(name, ',', len);
		part = comma == NULL ? len : (size_t)(comma - name);
		if ((rc = resolve_one(c, name, part, r)) != SB_OK)
			return rc;
		if (comma == NULL)
			return SB_OK;
		name += part + 1;
		len -= part + 1;
	}
}

int
names_resolve(const struct contacts *contacts, const char *name, size_t len,
    struct names_recipients **out)
{
	struct names_recipients *r;
	int rc;

	if (out == NULL)
		return SB_ERR_INVALID_ARG;
	*out = NULL;
	if (name == NULL || len == 0 || len > NAMES_NAME_MAX ||
	    memchr(name, '/', len) != NULL || memchr(name, '\0', len) != NULL)
		return SB_ERR_INVALID_ARG;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return SB_ERR_ALLOC;
	/* The whole name first: "Smith, Bob" may be one contact's FN. */
	rc = resolve_one(contacts, name, len, r);
	if (rc != SB_OK && rc != SB_ERR_ALLOC && rc != SB_ERR_TOO_BIG &&
	    memchr(name, ',', len) != NULL) {
		names_recipients_free(r);
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return SB_ERR_ALLOC;
		rc = resolve_group(contacts, name, len, r);
	}
	if (rc != SB_OK) {
		names_recipients_free(r);
		return rc;
	}
	qsort(r->addr, r->n, sizeof(*r->addr), cmp_str);
	*out = r;
	return SB_OK;
}

int
names_group_canonical(const struct names_recipients *r, char *out,
    size_t out_size)
{
	struct sink s = { out, 0, NAMES_NAME_MAX };
	size_t i;

	if (out == NULL || out_size < NAMES_NAME_BUF)
		return SB_ERR_INVALID_ARG;
	out[0] = '\0';
	if (r == NULL || r->n == 0)
		return SB_ERR_INVALID_ARG;
	for (i = 0; i < r->n; i++) {
		if ((i > 0 && !sink_put(&s, ",", 1)) ||
		    !sink_put(&s, r->addr[i], strlen(r->addr[i]))) {
			out[0] = '\0';
			return SB_ERR_LENGTH;
		}
	}
	out[s.len] = '\0';
	return SB_OK;
}

int
names_inbox_folder(const struct contacts *contacts, const char *sender,
    char *out, size_t out_size)
{
	const char *name;
	size_t len;

	if (out == NULL || out_size < NAMES_NAME_BUF)
		return SB_ERR_INVALID_ARG;
	out[0] = '\0';
	if (sender == NULL || names_kind(sender, strlen(sender)) ==
	    NAMES_NOT_ADDRESS)
		return SB_ERR_INVALID_ARG;
	name = contacts_lookup_address(contacts, sender);
	if (name != NULL) {
		len = strlen(name);
		sanitize(name, len, NAMES_NAME_MAX, 0, out);
		/* A card named "carol@example.com" holding dave's address must
		 * not file dave's messages where carol's would go; a name that
		 * is only dots says less than the address. */
		if ((names_kind(out, strlen(out)) == NAMES_NOT_ADDRESS ||
		    strcmp(out, sender) == 0) && !only_dots_or_space(name, len))
			return SB_OK;
	}
	/* Canonical addresses are at most NAMES_ADDR_MAX < out_size bytes. */
	len = strlen(sender);
	memcpy(out, sender, len + 1);
	return SB_OK;
}
