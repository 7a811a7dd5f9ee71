/*
 * log.c - the relay's event lines (docs/RELAY.md "Logs"), as text or as
 * one JSON object per line (serve --log-format json).
 *
 * Every call site writes its line as a printf format in one grammar:
 *
 *     EVENT WORDS[ key=VALUE]...[: DETAIL]
 *
 * where a key is [a-z_]+ and starts after a space of the FORMAT (never of
 * an argument), a VALUE runs to the next such key, and ": " in the format
 * starts the free-text detail.  The renderer walks the format itself, so
 * it knows where each value comes from: what an argument puts in a line
 * can neither start a field nor end one.  Arguments are escaped in both
 * forms: in text, a backslash and every byte outside printable ASCII
 * become \\ and \xNN (a device name or address cannot add a line, move
 * the cursor or reorder what a terminal shows), and a value written
 * between double quotes in the format (name="%s") gets its quotes escaped;
 * in JSON, strings are escaped as RFC 8259 asks, non-ASCII code points as
 * \uXXXX (surrogate pairs above U+FFFF) and any byte that is not UTF-8 as
 * the text \xNN, so every line is pure ASCII and parses.  A value made of
 * one integer conversion and nothing else is a JSON number.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../common/sberr.h"
#include "../common/wire.h"
#include "relay.h"

#define MAX_FIELDS 32
#define MAX_KEY    31
#define MAX_SPEC   32

static int log_json;

void
relay_log_set_json(int json)
{
	log_json = json;
}

struct field {
	char key[MAX_KEY + 1];
	struct sb_buf val;            /* raw bytes (arguments unescaped) */
	int convs, literal;           /* conversions in it; literal bytes in it */
	int numeric;                  /* its one conversion was an integer */
};

static int
key_at(const char *p, size_t *klen)
{
	size_t n = 0;

	while ((p[n] >= 'a' && p[n] <= 'z') || p[n] == '_')
		n++;
	*klen = n;
	return n > 0 && n <= MAX_KEY && p[n] == '=';
}

/* Text form of untrusted bytes. */
static void
put_text(struct sb_buf *out, const char *s, size_t n, int quoted)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };

		if (c == '\\' || (quoted && c == '"')) {
			sb_put_u8(out, '\\');
			sb_put_u8(out, c);
		} else if (c < 0x20 || c > 0x7e) {
			sb_put_bytes(out, e, 4);
		} else {
			sb_put_u8(out, c);
		}
	}
}

/* The code point of the UTF-8 sequence at s (n bytes left) in *cp, its
 * length returned; 0 when it is not well-formed (overlong, surrogate,
 * above U+10FFFF, cut short). */
static size_t
utf8_at(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, v = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, v = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, v = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* A JSON string of raw bytes, quotes included. */
static void
put_json(struct sb_buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char e[16];
	size_t i = 0, l;
	uint32_t cp;

	sb_put_u8(out, '"');
	while (i < n) {
		l = utf8_at(p + i, n - i, &cp);
		if (l == 0) {
			snprintf(e, sizeof(e), "\\\\x%02x", p[i]);
			sb_put_bytes(out, e, strlen(e));
			i++;
			continue;
		}
		i += l;
		if (cp == '"' || cp == '\\') {
			sb_put_u8(out, '\\');
			sb_put_u8(out, (uint8_t)cp);
		} else if (cp == '\n') {
			sb_put_bytes(out, "\\n", 2);
		} else if (cp == '\t') {
			sb_put_bytes(out, "\\t", 2);
		} else if (cp >= 0x20 && cp < 0x7f) {
			sb_put_u8(out, (uint8_t)cp);
		} else if (cp < 0x10000) {
			snprintf(e, sizeof(e), "\\u%04x", (unsigned)cp);
			sb_put_bytes(out, e, 6);
		} else {
			cp -= 0x10000;
			snprintf(e, sizeof(e), "\\u%04x\\u%04x", 0xd800u + (unsigned)(cp >> 10),
			    0xdc00u + (unsigned)(cp & 0x3ff));
			sb_put_bytes(out, e, 12);
		}
	}
	sb_put_u8(out, '"');
}

/* The decimal number in [p, end) (a precision of the format). */
static int
atoi_dec(const char *p, const char *end)
{
	int v = 0;

	for (; p < end && *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (*p - '0');
	return v;
}

/* A width or precision at f, digits or '*' (an int argument), copied into
 * spec at *o; NULL when spec would not keep 8 bytes for the rest. */
static const char *
number(const char *f, va_list *ap, char spec[MAX_SPEC], size_t *o)
{
	int n;

	if (*f == '*') {
		n = snprintf(spec + *o, MAX_SPEC - *o, "%d", va_arg(*ap, int));
		if (n < 0 || *o + (size_t)n >= MAX_SPEC - 8)
			return NULL;
		*o += (size_t)n;
		return f + 1;
	}
	while (*f >= '0' && *f <= '9') {
		if (*o >= MAX_SPEC - 8)
			return NULL;
		spec[(*o)++] = *f++;
	}
	return f;
}

/*
 * Renders the conversion at *f (just after its '%') into raw, consuming
 * its arguments; *integer says whether it printed an integer.  Returns
 * the format past the conversion, NULL for one it does not know (the
 * caller stops: arguments cannot be skipped safely).
 */
static const char *
conversion(const char *f, va_list *ap, struct sb_buf *raw, int *integer)
{
	char spec[MAX_SPEC], buf[64];
	size_t o = 0;
	int lmod = 0, n = -1;   /* lmod: 0 none, 1 l, 2 ll, 3 z, 4 h, 5 hh, 6 j */

	*integer = 0;
	spec[o++] = '%';
	while (*f != '\0' && strchr("-+ #0", *f) != NULL && o < MAX_SPEC - 8)
		spec[o++] = *f++;
	if ((f = number(f, ap, spec, &o)) == NULL)
		return NULL;
	if (*f == '.') {
		spec[o++] = *f++;
		if ((f = number(f, ap, spec, &o)) == NULL)
			return NULL;
	}
	if (f[0] == 'l' && f[1] == 'l') lmod = 2, f += 2;
	else if (f[0] == 'h' && f[1] == 'h') lmod = 5, f += 2;
	else if (*f == 'l') lmod = 1, f++;
	else if (*f == 'z') lmod = 3, f++;
	else if (*f == 'h') lmod = 4, f++;
	else if (*f == 'j') lmod = 6, f++;
	switch (*f) {
	case 'd': case 'i': {
		long long v = lmod == 2 ? va_arg(*ap, long long) : lmod == 1 ? va_arg(*ap, long) :
		    lmod == 3 ? (long long)va_arg(*ap, ptrdiff_t) :
		    lmod == 6 ? (long long)va_arg(*ap, intmax_t) : va_arg(*ap, int);

		memcpy(spec + o, "lld", 4);
		n = snprintf(buf, sizeof(buf), spec, v);
		*integer = 1;
		break;
	}
	case 'u': case 'x': case 'X': case 'o': {
		unsigned long long v = lmod == 2 ? va_arg(*ap, unsigned long long) :
		    lmod == 1 ? va_arg(*ap, unsigned long) : lmod == 3 ? va_arg(*ap, size_t) :
		    lmod == 6 ? (unsigned long long)va_arg(*ap, uintmax_t) :
		    va_arg(*ap, unsigned);

		spec[o] = 'l';
		spec[o + 1] = 'l';
		spec[o + 2] = *f;
		spec[o + 3] = '\0';
		n = snprintf(buf, sizeof(buf), spec, v);
		*integer = *f == 'u';
		break;
	}
	case 'f': case 'g': case 'e':
		spec[o] = *f;
		spec[o + 1] = '\0';
		n = snprintf(buf, sizeof(buf), spec, va_arg(*ap, double));
		break;
	case 'c':
		buf[0] = (char)va_arg(*ap, int);
		n = 1;
		break;
	case 'p':
		n = snprintf(buf, sizeof(buf), "%p", va_arg(*ap, void *));
		break;
	case 's': {
		const char *s = va_arg(*ap, const char *);
		const char *dot = memchr(spec, '.', o);
		size_t len;

		if (s == NULL)
			s = "(null)";
		/* Only a precision matters (at most that many bytes); widths
		 * pad nothing here. */
		len = dot != NULL ? strnlen(s, (size_t)atoi_dec(dot + 1, spec + o)) : strlen(s);
		sb_put_bytes(raw, s, len);
		return f + 1;
	}
	case '%':
		buf[0] = '%';
		n = 1;
		break;
	default:
		return NULL;
	}
	if (n < 0)
		return NULL;
	sb_put_bytes(raw, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	return f + 1;
}

int
relay_log_render(int json, const char *ts, const char *fmt, va_list args, struct sb_buf *out)
{
	struct field fields[MAX_FIELDS];
	struct sb_buf head = SB_BUF_INIT, detail = SB_BUF_INIT, raw = SB_BUF_INIT;
	enum { HEAD, FIELD, DETAIL } where = HEAD;
	struct field *cur = NULL;
	const char *f = fmt, *next;
	size_t nf = 0, kl, i;
	int quoted = 0, integer, rc;
	va_list ap;

	memset(fields, 0, sizeof(fields));
	va_copy(ap, args);
	if (!json) {
		sb_put_bytes(out, ts, strlen(ts));
		sb_put_bytes(out, " sealbox-relay: ", 16);
	}
	while (*f != '\0') {
		struct sb_buf *to = where == HEAD ? &head : where == DETAIL ? &detail : &cur->val;

		if (*f == '%') {
			sb_buf_truncate(&raw, 0);
			if ((next = conversion(f + 1, &ap, &raw, &integer)) == NULL)
				break;   /* an unknown conversion: its arguments cannot be skipped */
			if (!json)
				put_text(out, (const char *)raw.d, raw.len, quoted);
			sb_put_bytes(to, raw.d, raw.len);
			if (where == FIELD) {
				cur->convs++;
				cur->numeric = integer;
			}
			f = next;
			continue;
		}
		if (!quoted && where != DETAIL && *f == ' ' && key_at(f + 1, &kl) &&
		    nf < MAX_FIELDS) {
			cur = &fields[nf++];
			memcpy(cur->key, f + 1, kl);
			if (!json)
				sb_put_bytes(out, f, kl + 2);
			f += kl + 2;
			where = FIELD;
			if (*f == '"') {
				quoted = 1;
				if (!json)
					sb_put_u8(out, '"');
				f++;
			}
			continue;
		}
		if (quoted && *f == '"') {
			quoted = 0;
			if (!json)
				sb_put_u8(out, '"');
			f++;
			continue;
		}
		if (!quoted && where != DETAIL && f[0] == ':' && f[1] == ' ') {
			where = DETAIL;
			if (!json)
				sb_put_bytes(out, ": ", 2);
			f += 2;
			continue;
		}
		if (!json)
			sb_put_u8(out, (uint8_t)*f);
		sb_put_u8(to, (uint8_t)*f);
		if (where == FIELD)
			cur->literal++;
		f++;
	}
	va_end(ap);
	if (json) {
		sb_put_bytes(out, "{\"time\":", 8);
		put_json(out, ts, strlen(ts));
		sb_put_bytes(out, ",\"event\":", 9);
		put_json(out, (const char *)head.d, head.len);
		for (i = 0; i < nf; i++) {
			sb_put_bytes(out, ",\"", 2);
			sb_put_bytes(out, fields[i].key, strlen(fields[i].key));
			sb_put_bytes(out, "\":", 2);
			if (fields[i].numeric && fields[i].convs == 1 && fields[i].literal == 0 &&
			    fields[i].val.len > 0)
				sb_put_bytes(out, fields[i].val.d, fields[i].val.len);
			else
				put_json(out, (const char *)fields[i].val.d, fields[i].val.len);
		}
		if (where == DETAIL) {
			sb_put_bytes(out, ",\"detail\":", 10);
			put_json(out, (const char *)detail.d, detail.len);
		}
		sb_put_u8(out, '}');
	}
	rc = sb_put_u8(out, '\n');
	for (i = 0; i < nf; i++) {
		if (fields[i].val.err != SB_OK)
			rc = fields[i].val.err;
		sb_buf_free(&fields[i].val);
	}
	if (head.err != SB_OK || detail.err != SB_OK || out->err != SB_OK)
		rc = SB_ERR_ALLOC;
	sb_buf_free(&head);
	sb_buf_free(&detail);
	sb_buf_free(&raw);
	return rc;
}

#define HOLD_MAX (64u * 1024u)

static struct sb_buf held;           /* relay_log_hold: lines not yet written */
static void (*held_first)(void *arg);
static void *held_arg;

void
relay_log_flush(void)
{
	if (held.len == 0)
		return;
	flockfile(stderr);
	fwrite(held.d, 1, held.len, stderr);
	fflush(stderr);
	funlockfile(stderr);
	sb_buf_truncate(&held, 0);
	held.err = SB_OK;
}

void
relay_log_hold(void (*first)(void *arg), void *arg)
{
	relay_log_flush();
	held_first = first;
	held_arg = arg;
	if (first == NULL)
		sb_buf_free(&held);
}

void
relay_log(const char *fmt, ...)
{
	struct sb_buf b = SB_BUF_INIT;
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;
	int rc;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_start(ap, fmt);
	rc = relay_log_render(log_json, ts, fmt, ap, &b);
	va_end(ap);
	if (held_first != NULL && rc == SB_OK) {
		int was_empty = held.len == 0;

		sb_put_bytes(&held, b.d, b.len);
		sb_buf_free(&b);
		if (held.err != SB_OK || held.len >= HOLD_MAX)
			relay_log_flush();   /* (a line lost to ENOMEM is lost) */
		else if (was_empty)
			held_first(held_arg);
		return;
	}
	relay_log_flush();   /* keep the order of the lines */
	flockfile(stderr);
	if (rc == SB_OK)
		fwrite(b.d, 1, b.len, stderr);
	else
		fprintf(stderr, log_json ? "{\"time\":\"%s\",\"event\":\"log line lost\"}\n" :
		    "%s sealbox-relay: log line lost (out of memory)\n", ts);
	fflush(stderr);
	funlockfile(stderr);
	sb_buf_free(&b);
}
