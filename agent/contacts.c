/*
 * contacts.c - the vCard reader behind contacts.vcf (see contacts.h).
 *
 * Three layers, each over common/wire.h's bounded reader:
 *   lines:   physical lines (CRLF, LF or CR) joined into logical lines
 *            (RFC 6350 3.2 folding; 2.1 quoted-printable soft breaks);
 *   content: one logical line split into group, name, parameters, value
 *            (RFC 6350 3.3), all spans borrowed from the line;
 *   cards:   BEGIN..END assembled into a card that is kept or skipped whole.
 * Only FN, N, ORG (for a name), EMAIL and TEL are kept; everything else is
 * read past.  It never does I/O and never fails a file for one bad card.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sberr.h"
#include "common/wire.h"
#include "agent/contacts.h"
#include "agent/names.h"

struct addr {
	char *value;
	enum contacts_addr_kind kind;
	unsigned types;
};

struct card {
	char *name;
	struct addr *addrs;
	size_t naddrs;
};

struct skip {
	size_t line;
	const char *reason;
};

/* Reverse lookup: (address, first card holding it), sorted by address. */
struct index_entry {
	const char *addr;
	size_t card;
};

struct contacts {
	struct card *cards;
	size_t ncards;
	size_t cap;
	size_t nskipped;
	struct skip skips[CONTACTS_MAX_SKIPS];
	struct index_entry *index;
	size_t nindex;
};

/* A borrowed run of bytes inside the current logical line. */
struct span {
	const uint8_t *p;
	size_t n;
};

enum encoding { ENC_TEXT, ENC_QP, ENC_UNSUPPORTED };
enum charset { CS_UTF8, CS_LATIN1, CS_UNSUPPORTED };

/* One parsed content line. */
struct prop {
	struct span name;   /* without its group */
	struct span value;
	unsigned types;     /* CONTACTS_TYPE_* */
	enum encoding enc;
	enum charset cs;
};

/* The card being read. */
struct pending {
	int open;
	size_t line;        /* of its BEGIN */
	const char *bad;    /* reason it will be skipped, or NULL */
	char *fn;
	char *n;            /* name built from N */
	char *org;
	struct addr addrs[CONTACTS_MAX_ADDRS];
	size_t naddrs;
};

struct parser {
	struct sb_reader r;
	size_t lineno;      /* 1-based number of the next physical line */
	struct sb_buf line; /* current logical line (at most CONTACTS_MAX_LINE) */
	size_t line_start;
	int oversize;       /* the logical line was longer than the cap */
	struct sb_buf tmp;  /* decoded values */
	struct pending card;
	struct contacts *c;
};

/* ---- small text helpers ---- */

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
span_is(struct span s, const char *word)
{
	size_t i, n = strlen(word);

	if (s.n != n)
		return 0;
	for (i = 0; i < n; i++)
		if (lower(s.p[i]) != lower((unsigned char)word[i]))
			return 0;
	return 1;
}

static int
is_ws(int c)
{
	return c == ' ' || c == '\t';
}

static struct span
span_trim(struct span s)
{
	while (s.n > 0 && is_ws(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && is_ws(s.p[s.n - 1]))
		s.n--;
	return s;
}

/* Reads bytes up to (not including) the first byte in stop that is not
 * inside double quotes, and borrows them.  The stop byte is not consumed. */
static struct span
take_until(struct sb_reader *r, const char *stop, int quotes)
{
	struct sb_reader peek = *r;
	struct span s = { NULL, 0 };
	const uint8_t *p;
	int inq = 0;
	uint8_t b;
	size_t n = 0;

	while (sb_get_u8(&peek, &b) == SB_OK) {
		if (quotes && b == '"')
			inq = !inq;
		else if (!inq && b != 0 && strchr(stop, b) != NULL)
			break;
		n++;
	}
	if (sb_get_bytes_direct(r, &p, n) == SB_OK) {
		s.p = p;
		s.n = n;
	}
	return s;
}

/* Consumes the next byte if it is c. */
static int
accept(struct sb_reader *r, uint8_t c)
{
	struct sb_reader peek = *r;
	uint8_t b;

	if (sb_get_u8(&peek, &b) != SB_OK || b != c)
		return 0;
	*r = peek;
	return 1;
}

static char *
dup_span(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		if (n > 0)
			memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* ---- lines ---- */

/* Borrows the next physical line without its terminator.  Returns 0 at the
 * end of the input. */
static int
next_physical(struct parser *ps, struct span *line)
{
	struct sb_reader peek = ps->r;
	const uint8_t *p;
	size_t n = 0;
	uint8_t b;

	if (sb_reader_remaining(&ps->r) == 0)
		return 0;
	while (sb_get_u8(&peek, &b) == SB_OK && b != '\n' && b != '\r')
		n++;
	if (sb_get_bytes_direct(&ps->r, &p, n) != SB_OK)
		return 0;
	line->p = p;
	line->n = n;
	if (accept(&ps->r, '\r'))
		accept(&ps->r, '\n');
	else
		accept(&ps->r, '\n');
	ps->lineno++;
	return 1;
}

static int
line_append(struct parser *ps, const uint8_t *p, size_t n)
{
	if (n > CONTACTS_MAX_LINE - ps->line.len) {
		/* Keep the head (it names the property) and drop the rest. */
		n = CONTACTS_MAX_LINE - ps->line.len;
		ps->oversize = 1;
	}
	return sb_put_bytes(&ps->line, p, n);
}

/* Whether the line's parameters say ENCODING=QUOTED-PRINTABLE: then a
 * value ending in '=' continues on the next line, unindented (RFC 2045 6.7
 * soft line break, as vCard 2.1 uses it). */
static int
is_quoted_printable(const struct sb_buf *line)
{
	struct sb_reader r;
	struct span head;
	size_t i;

	sb_reader_init(&r, line->d, line->len);
	head = take_until(&r, ":", 1);
	for (i = 0; i + 16 <= head.n; i++) {
		struct span w = { head.p + i, 16 };

		if (span_is(w, "QUOTED-PRINTABLE"))
			return 1;
	}
	return 0;
}

/* Assembles the next logical line into ps->line.  Returns 1, 0 at the end
 * of input, or a negative SB_ERR_*. */
static int
next_logical(struct parser *ps)
{
	struct span phys;
	struct sb_reader peek;
	uint8_t b;
	int rc, qp = -1;

	sb_buf_truncate(&ps->line, 0);
	ps->oversize = 0;
	if (!next_physical(ps, &phys))
		return 0;
	ps->line_start = ps->lineno - 1;
	if ((rc = line_append(ps, phys.p, phys.n)) != SB_OK)
		return rc;
	for (;;) {
		peek = ps->r;
		/* Whether the line is quoted-printable is decided once: a run
		 * of "=" lines must not rescan the line each time. */
		if (qp < 0 && ps->line.len > 0 &&
		    ps->line.d[ps->line.len - 1] == '=')
			qp = is_quoted_printable(&ps->line);
		if (sb_reader_remaining(&ps->r) > 0 && !ps->oversize &&
		    qp == 1 && ps->line.d[ps->line.len - 1] == '=') {
			/* The soft break first: after "=" CRLF the next line is
			 * all content, a leading space included. */
			sb_buf_truncate(&ps->line, ps->line.len - 1);
			next_physical(ps, &phys);
			rc = line_append(ps, phys.p, phys.n);
		} else if (sb_get_u8(&peek, &b) == SB_OK && is_ws(b)) {
			/* RFC 6350 3.2: CRLF plus one white space is removed. */
			next_physical(ps, &phys);
			rc = line_append(ps, phys.p + 1, phys.n - 1);
		} else {
			return 1;
		}
		if (rc != SB_OK)
			return rc;
	}
}

/* ---- content lines ---- */

static int
is_name_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

static int
valid_name(struct span s)
{
	size_t i;

	if (s.n == 0)
		return 0;
	for (i = 0; i < s.n; i++)
		if (!is_name_char(s.p[i]))
			return 0;
	return 1;
}

static void
apply_type(struct prop *pr, struct span v)
{
	static const struct {
		const char *word;
		unsigned bit;
	} types[] = {
		{ "pref", CONTACTS_TYPE_PREF }, { "home", CONTACTS_TYPE_HOME },
		{ "work", CONTACTS_TYPE_WORK }, { "cell", CONTACTS_TYPE_CELL },
		{ "voice", CONTACTS_TYPE_VOICE }, { "fax", CONTACTS_TYPE_FAX },
		{ "pager", CONTACTS_TYPE_PAGER },
	};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (span_is(v, types[i].word))
			pr->types |= types[i].bit;
}

static void
apply_encoding(struct prop *pr, struct span v)
{
	if (span_is(v, "QUOTED-PRINTABLE"))
		pr->enc = ENC_QP;
	else if (!span_is(v, "8BIT") && !span_is(v, "7BIT"))
		pr->enc = ENC_UNSUPPORTED; /* b, BASE64: only photos use it */
}

static void
apply_charset(struct prop *pr, struct span v)
{
	if (span_is(v, "UTF-8") || span_is(v, "US-ASCII"))
		pr->cs = CS_UTF8;
	else if (span_is(v, "ISO-8859-1") || span_is(v, "LATIN1"))
		pr->cs = CS_LATIN1;
	else
		pr->cs = CS_UNSUPPORTED;
}

/* One value of parameter pname (pname.n == 0: a bare 2.1 parameter). */
static void
apply_param(struct prop *pr, struct span pname, struct span v)
{
	/* Values were split at every ',', so TYPE="work,voice" arrives as
	 * '"work' and 'voice"': strip each end's quote on its own. */
	if (v.n > 0 && v.p[0] == '"') {
		v.p++;
		v.n--;
	}
	if (v.n > 0 && v.p[v.n - 1] == '"')
		v.n--;
	if (pname.n == 0) {
		if (span_is(v, "QUOTED-PRINTABLE") || span_is(v, "BASE64") ||
		    span_is(v, "8BIT") || span_is(v, "7BIT"))
			apply_encoding(pr, v);
		else
			apply_type(pr, v);
	} else if (span_is(pname, "TYPE")) {
		apply_type(pr, v);
	} else if (span_is(pname, "PREF")) {
		pr->types |= CONTACTS_TYPE_PREF;
	} else if (span_is(pname, "ENCODING")) {
		apply_encoding(pr, v);
	} else if (span_is(pname, "CHARSET")) {
		apply_charset(pr, v);
	}
	/* VALUE=uri needs nothing: a TEL value is read as a tel: URI whenever
	 * it starts with "tel:", and any other URI is not a phone number. */
}

/* ";NAME=v1,v2" or ";v" (the ';' already consumed), up to ';' or ':'. */
static int
parse_param(struct sb_reader *r, struct prop *pr)
{
	struct span pname = { NULL, 0 }, all, v;
	struct sb_reader vr;

	all = take_until(r, ";:", 1);
	sb_reader_init(&vr, all.p, all.n);
	v = take_until(&vr, "=", 1);
	if (accept(&vr, '=')) {
		pname = span_trim(v);
		if (!valid_name(pname))
			return SB_ERR_FORMAT;
		/* TYPE=work,voice and TYPE="work,voice" alike. */
		do {
			v = take_until(&vr, ",", 0);
			apply_param(pr, pname, span_trim(v));
		} while (accept(&vr, ','));
	} else {
		apply_param(pr, pname, span_trim(v));
	}
	return SB_OK;
}

/* [group "."] name *(";" param) ":" value */
static int
parse_content(const struct sb_buf *line, struct prop *pr)
{
	struct sb_reader r;
	struct span head;
	size_t i;
	int rc;

	memset(pr, 0, sizeof(*pr));
	sb_reader_init(&r, line->d, line->len);
	head = take_until(&r, ";:", 0);
	/* The group is everything before the last '.'; it only ties
	 * properties together (item1.EMAIL + item1.X-ABLabel) and is ignored. */
	for (i = head.n; i > 0; i--) {
		if (head.p[i - 1] == '.') {
			struct span group = { head.p, i - 1 };

			if (!valid_name(group))
				return SB_ERR_FORMAT;
			head.p += i;
			head.n -= i;
			break;
		}
	}
	if (!valid_name(head))
		return SB_ERR_FORMAT;
	pr->name = head;
	while (accept(&r, ';'))
		if ((rc = parse_param(&r, pr)) != SB_OK)
			return rc;
	if (!accept(&r, ':'))
		return SB_ERR_FORMAT;
	sb_get_rest_direct(&r, &pr->value.p, &pr->value.n);
	return SB_OK;
}

/* ---- values ---- */

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (uint8_t)lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* RFC 2045 6.7: "=XX" is a byte; anything else after '=' is kept as is. */
static int
qp_decode(struct span v, struct sb_buf *out)
{
	struct sb_reader r, peek;
	uint8_t b, h1, h2;

	sb_reader_init(&r, v.p, v.n);
	while (sb_get_u8(&r, &b) == SB_OK) {
		peek = r;
		if (b == '=' && sb_get_u8(&peek, &h1) == SB_OK &&
		    sb_get_u8(&peek, &h2) == SB_OK && hexval(h1) >= 0 &&
		    hexval(h2) >= 0) {
			b = (uint8_t)(hexval(h1) << 4 | hexval(h2));
			r = peek;
		}
		sb_put_u8(out, b);
	}
	return out->err;
}

static void
latin1_to_utf8(struct sb_buf *b)
{
	struct sb_buf out = SB_BUF_INIT;
	struct sb_reader r;
	char enc[4];
	uint8_t c;

	sb_reader_init(&r, b->d, b->len);
	while (sb_get_u8(&r, &c) == SB_OK)
		sb_put_bytes(&out, enc, names_utf8_put(c, enc));
	if (out.err != SB_OK) {
		b->err = out.err;
		sb_buf_free(&out);
		return;
	}
	sb_buf_free(b);
	*b = out;
}

/* Replaces bytes that are not UTF-8 by U+FFFD, so names stay text. */
static void
fix_utf8(struct sb_buf *b)
{
	struct sb_buf out = SB_BUF_INIT;
	struct sb_reader r;
	uint32_t cp;
	char enc[4];
	int bad = 0;

	sb_reader_init(&r, b->d, b->len);
	while (names_utf8_next(&r, &cp) >= 0) {
		if (cp == 0xfffd)
			bad = 1;
		sb_put_bytes(&out, enc, names_utf8_put(cp, enc));
	}
	if (!bad || out.err != SB_OK) {
		if (out.err != SB_OK)
			b->err = out.err;
		sb_buf_free(&out);
		return;
	}
	sb_buf_free(b);
	*b = out;
}

/*
 * The raw value of pr, transfer-decoded and in UTF-8, into ps->tmp.
 * Returns SB_OK, SB_ERR_FORMAT (an encoding or charset we do not read:
 * the property is ignored), SB_ERR_ALLOC.
 */
static int
decode_value(struct parser *ps, const struct prop *pr)
{
	sb_buf_free(&ps->tmp);
	if (pr->enc == ENC_UNSUPPORTED || pr->cs == CS_UNSUPPORTED)
		return SB_ERR_FORMAT;
	if (pr->enc == ENC_QP)
		qp_decode(pr->value, &ps->tmp);
	else
		sb_put_bytes(&ps->tmp, pr->value.p, pr->value.n);
	if (pr->cs == CS_LATIN1)
		latin1_to_utf8(&ps->tmp);
	fix_utf8(&ps->tmp);
	return ps->tmp.err;
}

/*
 * RFC 6350 3.4 text unescaping of one component of v (components split at
 * unescaped `sep`; sep 0 = the whole value) into out; *r advances past it.
 * "\n" and "\N" are newlines, "\x" is x for any other x.
 */
static int
unescape_component(struct sb_reader *r, uint8_t sep, struct sb_buf *out)
{
	uint8_t b;

	while (sb_get_u8(r, &b) == SB_OK) {
		if (sep != 0 && b == sep)
			break;
		if (b == '\\' && sb_get_u8(r, &b) == SB_OK &&
		    (b == 'n' || b == 'N'))
			b = '\n';
		sb_put_u8(out, b);
	}
	return out->err;
}

/* The unescaped, trimmed text of ps->tmp (or one of its ';' components)
 * as a new string; NULL with *rc set on failure. */
static char *
text_value(struct sb_reader *r, uint8_t sep, int *rc)
{
	struct sb_buf out = SB_BUF_INIT;
	struct span s;
	char *z = NULL;

	if ((*rc = unescape_component(r, sep, &out)) == SB_OK) {
		s.p = out.d;
		s.n = out.len;
		s = span_trim(s);
		if ((z = dup_span(s.p, s.n)) == NULL)
			*rc = SB_ERR_ALLOC;
	}
	sb_buf_free(&out);
	return z;
}

/* ---- cards ---- */

static void
pending_reset(struct pending *pc)
{
	size_t i;

	free(pc->fn);
	free(pc->n);
	free(pc->org);
	for (i = 0; i < pc->naddrs; i++)
		free(pc->addrs[i].value);
	memset(pc, 0, sizeof(*pc));
}

static void
record_skip(struct contacts *c, size_t line, const char *reason)
{
	if (c->nskipped < CONTACTS_MAX_SKIPS) {
		c->skips[c->nskipped].line = line;
		c->skips[c->nskipped].reason = reason;
	}
	c->nskipped++;
}

static void
mark_bad(struct pending *pc, const char *reason)
{
	if (pc->bad == NULL)
		pc->bad = reason;
}

/* N = family;given;additional;prefixes;suffixes -> "prefix given
 * additional family suffix", the order FN usually has. */
static int
name_from_n(struct parser *ps, char **out)
{
	static const int order[] = { 3, 1, 2, 0, 4 };
	char *comp[5] = { NULL, NULL, NULL, NULL, NULL };
	struct sb_buf name = SB_BUF_INIT;
	struct sb_reader r;
	size_t i;
	int rc = SB_OK;

	sb_reader_init(&r, ps->tmp.d, ps->tmp.len);
	for (i = 0; i < 5 && rc == SB_OK; i++)
		comp[i] = text_value(&r, ';', &rc);
	for (i = 0; i < 5 && rc == SB_OK; i++) {
		const char *part = comp[order[i]];

		if (part == NULL || part[0] == '\0')
			continue;
		if (name.len > 0)
			sb_put_u8(&name, ' ');
		sb_put_bytes(&name, part, strlen(part));
	}
	if (rc == SB_OK)
		rc = name.err;
	if (rc == SB_OK && name.len > 0 &&
	    (*out = dup_span(name.d, name.len)) == NULL)
		rc = SB_ERR_ALLOC;
	for (i = 0; i < 5; i++)
		free(comp[i]);
	sb_buf_free(&name);
	return rc;
}

enum name_prop { NAME_FN, NAME_N, NAME_ORG };

/* A name property: the first of each kind wins. */
static int
take_name(struct parser *ps, const struct prop *pr, enum name_prop which)
{
	struct pending *pc = &ps->card;
	char **slot = which == NAME_FN ? &pc->fn : which == NAME_N ? &pc->n :
	    &pc->org;
	struct sb_reader r;
	int rc;

	if (*slot != NULL)
		return SB_OK;
	if ((rc = decode_value(ps, pr)) != SB_OK)
		return rc == SB_ERR_FORMAT ? SB_OK : rc;
	if (which == NAME_N)
		return name_from_n(ps, slot);
	sb_reader_init(&r, ps->tmp.d, ps->tmp.len);
	/* ORG is structured too (org;unit): its first component names it. */
	*slot = text_value(&r, which == NAME_ORG ? ';' : 0, &rc);
	return rc;
}

static int
take_address(struct parser *ps, const struct prop *pr, int is_tel)
{
	struct pending *pc = &ps->card;
	char canon[NAMES_ADDR_BUF];
	enum names_kind kind;
	struct sb_reader r;
	struct addr *a;
	char *raw;
	int rc;

	if ((rc = decode_value(ps, pr)) != SB_OK)
		return rc == SB_ERR_FORMAT ? SB_OK : rc;
	sb_reader_init(&r, ps->tmp.d, ps->tmp.len);
	if ((raw = text_value(&r, 0, &rc)) == NULL)
		return rc;
	/* Empty values are common (Outlook exports them); too-long ones can
	 * never be an address and are not worth keeping. */
	if (raw[0] == '\0' || strlen(raw) > NAMES_ADDR_MAX) {
		free(raw);
		return SB_OK;
	}
	if (pc->naddrs == CONTACTS_MAX_ADDRS) {
		free(raw);
		mark_bad(pc, "too many addresses");
		return SB_OK;
	}
	a = &pc->addrs[pc->naddrs++];
	a->types = pr->types;
	a->kind = CONTACTS_UNUSABLE;
	a->value = raw;
	rc = names_address_canonical(raw, strlen(raw), canon, sizeof(canon),
	    &kind);
	/* An e-mail in TEL or a number in EMAIL is a mistake, not an address. */
	if (rc == SB_OK && kind == (is_tel ? NAMES_PHONE : NAMES_EMAIL)) {
		free(a->value);
		if ((a->value = dup_span((const uint8_t *)canon,
		    strlen(canon))) == NULL)
			return SB_ERR_ALLOC;
		a->kind = is_tel ? CONTACTS_PHONE : CONTACTS_EMAIL;
	}
	return SB_OK;
}

static int
finish_card(struct parser *ps)
{
	struct pending *pc = &ps->card;
	struct contacts *c = ps->c;
	struct card *cd, *ncards;
	char **name;
	size_t ncap;

	name = pc->fn != NULL && pc->fn[0] != '\0' ? &pc->fn :
	    pc->n != NULL ? &pc->n :
	    pc->org != NULL && pc->org[0] != '\0' ? &pc->org : NULL;
	if (pc->bad == NULL && name == NULL)
		pc->bad = "no FN, N or ORG";
	if (pc->bad == NULL && strlen(*name) > CONTACTS_MAX_NAME)
		pc->bad = "name too long";
	if (pc->bad == NULL && c->ncards == CONTACTS_MAX_CARDS)
		pc->bad = "too many cards";
	if (pc->bad != NULL) {
		record_skip(c, pc->line, pc->bad);
		pending_reset(pc);
		return SB_OK;
	}
	if (c->ncards == c->cap) {
		ncap = c->cap == 0 ? 16 : c->cap * 2;
		if ((ncards = realloc(c->cards, ncap * sizeof(*ncards))) == NULL)
			return SB_ERR_ALLOC;
		c->cards = ncards;
		c->cap = ncap;
	}
	cd = &c->cards[c->ncards];
	memset(cd, 0, sizeof(*cd));
	if (pc->naddrs > 0 &&
	    (cd->addrs = calloc(pc->naddrs, sizeof(*cd->addrs))) == NULL)
		return SB_ERR_ALLOC;
	if (pc->naddrs > 0)
		memcpy(cd->addrs, pc->addrs, pc->naddrs * sizeof(*cd->addrs));
	cd->naddrs = pc->naddrs;
	pc->naddrs = 0; /* ownership of the values moved to cd */
	cd->name = *name;
	*name = NULL;
	c->ncards++;
	pending_reset(pc);
	return SB_OK;
}

static int
has_nul(const struct sb_buf *line)
{
	return line->len > 0 && memchr(line->d, '\0', line->len) != NULL;
}

/* One logical line inside or outside a card. */
static int
handle_line(struct parser *ps)
{
	struct pending *pc = &ps->card;
	struct prop pr;
	int rc;

	if (ps->line.len == 0)
		return SB_OK;
	rc = parse_content(&ps->line, &pr);
	if (rc == SB_OK && span_is(pr.name, "BEGIN") &&
	    span_is(span_trim(pr.value), "VCARD")) {
		if (pc->open) {
			/* 2.1 AGENT can nest a card; we read neither. */
			mark_bad(pc, "BEGIN:VCARD inside a card");
			record_skip(ps->c, pc->line, pc->bad);
			pending_reset(pc);
		}
		pc->open = 1;
		pc->line = ps->line_start;
		return SB_OK;
	}
	if (!pc->open)
		return SB_OK; /* text between cards is not ours to judge */
	if (has_nul(&ps->line)) {
		mark_bad(pc, "NUL byte");
		return SB_OK;
	}
	if (rc != SB_OK) {
		mark_bad(pc, "malformed line");
		return SB_OK;
	}
	if (span_is(pr.name, "END") && span_is(span_trim(pr.value), "VCARD"))
		return finish_card(ps);
	if (ps->oversize) {
		/* Photos and keys run long; only our properties matter. */
		if (span_is(pr.name, "FN") || span_is(pr.name, "N") ||
		    span_is(pr.name, "EMAIL") || span_is(pr.name, "TEL"))
			mark_bad(pc, "line too long");
		return SB_OK;
	}
	if (span_is(pr.name, "VERSION")) {
		struct span v = span_trim(pr.value);

		if (!span_is(v, "2.1") && !span_is(v, "3.0") && !span_is(v, "4.0"))
			mark_bad(pc, "unsupported VERSION");
		return SB_OK;
	}
	if (span_is(pr.name, "FN"))
		return take_name(ps, &pr, NAME_FN);
	if (span_is(pr.name, "N"))
		return take_name(ps, &pr, NAME_N);
	if (span_is(pr.name, "ORG"))
		return take_name(ps, &pr, NAME_ORG);
	if (span_is(pr.name, "EMAIL"))
		return take_address(ps, &pr, 0);
	if (span_is(pr.name, "TEL"))
		return take_address(ps, &pr, 1);
	return SB_OK;
}

/* ---- the index for reverse lookups ---- */

static int
cmp_entry(const void *a, const void *b)
{
	const struct index_entry *x = a, *y = b;
	int d = strcmp(x->addr, y->addr);

	if (d != 0)
		return d;
	/* Equal addresses: the earlier card first, so "first card wins"
	 * survives qsort's instability. */
	return x->card < y->card ? -1 : x->card > y->card;
}

static int
build_index(struct contacts *c)
{
	size_t i, j, n = 0, out = 0;

	for (i = 0; i < c->ncards; i++)
		n += c->cards[i].naddrs;
	if (n == 0)
		return SB_OK;
	if ((c->index = calloc(n, sizeof(*c->index))) == NULL)
		return SB_ERR_ALLOC;
	for (i = 0; i < c->ncards; i++) {
		for (j = 0; j < c->cards[i].naddrs; j++) {
			if (c->cards[i].addrs[j].kind == CONTACTS_UNUSABLE)
				continue;
			c->index[out].addr = c->cards[i].addrs[j].value;
			c->index[out].card = i;
			out++;
		}
	}
	qsort(c->index, out, sizeof(*c->index), cmp_entry);
	/* Keep the first entry of each address. */
	for (i = 0, n = 0; i < out; i++)
		if (n == 0 || strcmp(c->index[n - 1].addr, c->index[i].addr) != 0)
			c->index[n++] = c->index[i];
	c->nindex = n;
	return SB_OK;
}

/* ---- public ---- */

static const uint8_t utf8_bom[3] = { 0xef, 0xbb, 0xbf };

int
contacts_parse(const void *buf, size_t len, struct contacts **out)
{
	struct parser ps;
	struct sb_reader peek;
	uint8_t bom[3];
	int rc;

	if (out == NULL)
		return SB_ERR_INVALID_ARG;
	*out = NULL;
	if (buf == NULL && len > 0)
		return SB_ERR_INVALID_ARG;
	if (len > CONTACTS_MAX_FILE)
		return SB_ERR_TOO_BIG;
	memset(&ps, 0, sizeof(ps));
	if ((ps.c = calloc(1, sizeof(*ps.c))) == NULL)
		return SB_ERR_ALLOC;
	sb_reader_init(&ps.r, buf, len);
	peek = ps.r;
	if (sb_get_bytes(&peek, bom, sizeof(bom)) == SB_OK &&
	    memcmp(bom, utf8_bom, sizeof(bom)) == 0)
		ps.r = peek;
	ps.lineno = 1;
	while ((rc = next_logical(&ps)) == 1)
		if ((rc = handle_line(&ps)) != SB_OK)
			break;
	if (rc == 0 && ps.card.open) {
		record_skip(ps.c, ps.card.line, "no END:VCARD");
		pending_reset(&ps.card);
	}
	if (rc == 0)
		rc = build_index(ps.c);
	pending_reset(&ps.card);
	sb_buf_free(&ps.line);
	sb_buf_free(&ps.tmp);
	if (rc != SB_OK) {
		contacts_free(ps.c);
		return rc;
	}
	*out = ps.c;
	return SB_OK;
}

void
contacts_free(struct contacts *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->ncards; i++) {
		for (j = 0; j < c->cards[i].naddrs; j++)
			free(c->cards[i].addrs[j].value);
		free(c->cards[i].addrs);
		free(c->cards[i].name);
	}
	free(c->cards);
	free(c->index);
	free(c);
}

size_t
contacts_count(const struct contacts *c)
{
	return c == NULL ? 0 : c->ncards;
}

const char *
contacts_card_name(const struct contacts *c, size_t i)
{
	return c == NULL || i >= c->ncards ? NULL : c->cards[i].name;
}

size_t
contacts_card_addr_count(const struct contacts *c, size_t i)
{
	return c == NULL || i >= c->ncards ? 0 : c->cards[i].naddrs;
}

const char *
contacts_card_addr(const struct contacts *c, size_t i, size_t j,
    enum contacts_addr_kind *kind, unsigned *types)
{
	const struct addr *a;

	if (kind != NULL)
		*kind = CONTACTS_UNUSABLE;
	if (types != NULL)
		*types = 0;
	if (c == NULL || i >= c->ncards || j >= c->cards[i].naddrs)
		return NULL;
	a = &c->cards[i].addrs[j];
	if (kind != NULL)
		*kind = a->kind;
	if (types != NULL)
		*types = a->types;
	return a->value;
}

size_t
contacts_skipped(const struct contacts *c)
{
	return c == NULL ? 0 : c->nskipped;
}

int
contacts_skip_info(const struct contacts *c, size_t k, size_t *line,
    const char **reason)
{
	if (c == NULL || k >= c->nskipped || k >= CONTACTS_MAX_SKIPS)
		return SB_ERR_INVALID_ARG;
	if (line != NULL)
		*line = c->skips[k].line;
	if (reason != NULL)
		*reason = c->skips[k].reason;
	return SB_OK;
}

static int
name_equal(const char *z, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (z[i] == '\0' || lower((unsigned char)z[i]) !=
		    lower((unsigned char)s[i]))
			return 0;
	return z[len] == '\0';
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Fax and pager lines cannot take a message (unless also voice/cell). */
static int
messageable(const struct addr *a)
{
	if (a->kind != CONTACTS_EMAIL && a->kind != CONTACTS_PHONE)
		return 0;
	return !(a->types & (CONTACTS_TYPE_FAX | CONTACTS_TYPE_PAGER)) ||
	    (a->types & (CONTACTS_TYPE_VOICE | CONTACTS_TYPE_CELL));
}

int
contacts_lookup_name(const struct contacts *c, const char *name, size_t len,
    const char ***addrs, size_t *n)
{
	const char **list = NULL, **nl;
	size_t i, j, cnt = 0, cap = 0, u;
	int found = 0;

	if (addrs == NULL || n == NULL)
		return SB_ERR_INVALID_ARG;
	*addrs = NULL;
	*n = 0;
	if (c == NULL || name == NULL)
		return SB_ERR_NOT_FOUND;
	for (i = 0; i < c->ncards; i++) {
		if (!name_equal(c->cards[i].name, name, len))
			continue;
		found = 1;
		for (j = 0; j < c->cards[i].naddrs; j++) {
			if (!messageable(&c->cards[i].addrs[j]))
				continue;
			if (cnt == cap) {
				cap = cap == 0 ? 8 : cap * 2;
				if ((nl = realloc(list, cap * sizeof(*nl))) == NULL) {
					free(list);
					return SB_ERR_ALLOC;
				}
				list = nl;
			}
			list[cnt++] = c->cards[i].addrs[j].value;
		}
	}
	if (!found)
		return SB_ERR_NOT_FOUND;
	if (cnt == 0) {
		free(list);
		return SB_OK;
	}
	qsort(list, cnt, sizeof(*list), cmp_str);
	for (i = 0, u = 0; i < cnt; i++)
		if (u == 0 || strcmp(list[u - 1], list[i]) != 0)
			list[u++] = list[i];
	*addrs = list;
	*n = u;
	return SB_OK;
}

const char *
contacts_lookup_address(const struct contacts *c, const char *addr)
{
	size_t lo = 0, hi, mid;
	int d;

	if (c == NULL || addr == NULL)
		return NULL;
	hi = c->nindex;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		d = strcmp(addr, c->index[mid].addr);
		if (d == 0)
			return c->cards[c->index[mid].card].name;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
