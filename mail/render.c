/*
 * render.c - one received message as an RFC 5322 message (mail.h).
 *
 * A message is three runs of bytes: the head (header fields and, for an
 * attachment, the MIME parts before the content), the body (the content as
 * it is, or its base64 form) and the tail (the closing boundary).  Head and
 * tail are built once, in memory; the body is computed from the content on
 * each read, so its size is known exactly without reading it (stat) and any
 * window of it costs only the content it shows (FUSE reads by offset).
 *
 * Lines end in LF, as Maildir files on Unix do (mail clients and notmuch
 * read them so); RFC 5322's CRLF is what a client puts on the wire.
 *
 * Pure: no I/O, no clock, no locale (day and month names are our own).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/names.h"
#include "common/sberr.h"
#include "common/wire.h"
#include "mail.h"

struct mail_render {
	struct sb_buf head;
	enum mail_body body;
	uint64_t size;          /* content bytes */
	uint64_t body_len;      /* rendered body bytes */
	struct sb_buf tail;
	uint64_t total;
};

/* ---- Classification --------------------------------------------------------- */

enum mail_body
mail_classify(const uint8_t *p, size_t len, uint64_t size)
{
	struct sb_reader r;
	size_t line = 0, before;
	uint32_t cp;
	int rc, cr = 0, long_line = 0;

	if (size > MAIL_TEXT_MAX || (uint64_t)len != size)
		return MAIL_BODY_ATTACHMENT;
	sb_reader_init(&r, p, len);
	for (;;) {
		before = sb_reader_remaining(&r);
		rc = names_utf8_next(&r, &cp);
		if (rc < 0)
			break;
		if (rc == 0)
			return MAIL_BODY_ATTACHMENT;
		if (cp == '\n') {
			line = 0;
			continue;
		}
		if ((cp < 0x20 && cp != '\t' && cp != '\r' && cp != '\f') || cp == 0x7f)
			return MAIL_BODY_ATTACHMENT;
		if (cp == '\r')
			cr = 1;
		line += before - sb_reader_remaining(&r);
		if (line > MAIL_LINE_MAX)
			long_line = 1;
	}
	return cr || long_line ? MAIL_BODY_TEXT_B64 : MAIL_BODY_TEXT;
}

/* ---- base64 ------------------------------------------------------------------ */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encodes n bytes (n <= 3 * k) into out; returns the characters written. */
static size_t
b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < n) {
		v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	return o;
}

/* Rendered size of n bytes as base64 in lines of MAIL_B64_LINE + LF. */
static uint64_t
b64_size(uint64_t n)
{
	uint64_t chars = (n + 2) / 3 * 4;

	return chars + (chars + MAIL_B64_LINE - 1) / MAIL_B64_LINE;
}

/* ---- Header pieces ------------------------------------------------------------- */

static int
put_str(struct sb_buf *b, const char *s)
{
	return sb_put_bytes(b, s, strlen(s));
}

/* 1 if s is 1..MAIL_STR_MAX bytes of printable ASCII (an address). */
static int
printable_ascii(const char *s)
{
	size_t n = strnlen(s, MAIL_STR_MAX + 1), i;

	if (n == 0 || n > MAIL_STR_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return 0;
	return 1;
}

/* RFC 5322 3.3: "Sun, 22 Nov 2026 06:01:02 +0000" (UTC; gmtime_r reads no
 * TZ, and the names are ours, not the locale's). */
static int
put_date(struct sb_buf *b, uint64_t t)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;
	char s[64];
	int n;

	if (gmtime_r(&tt, &tm) == NULL)
		return SB_ERR_INVALID_ARG;
	n = snprintf(s, sizeof(s), "%s, %d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	return sb_put_bytes(b, s, (size_t)n);
}

/* The subject as it may stand in a header: control characters as '_'. */
static int
clean_text(const char *in, struct sb_buf *out)
{
	size_t n = strnlen(in, MAIL_STR_MAX + 1), i;
	uint8_t *p;
	int rc;

	if (n > MAIL_STR_MAX)
		return SB_ERR_INVALID_ARG;
	if ((rc = sb_buf_reserve(out, n, &p)) != SB_OK)
		return rc;
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)in[i] < 0x20 || in[i] == 0x7f ? '_' : (uint8_t)in[i];
	return SB_OK;
}

/*
 * RFC 2047 5(1): unstructured text that is not plain ASCII (or that could
 * be read as an encoded word) as "=?UTF-8?B?...?=" words, each of at most
 * 45 bytes of whole UTF-8 characters (60 base64 characters: 72 with the
 * delimiters, under the 75 of RFC 2047 2), folded one word a line.
 */
static int
put_text(struct sb_buf *b, const uint8_t *s, size_t n)
{
	size_t i, start, cut;
	char enc[64];
	int plain = 1;

	for (i = 0; i < n && plain; i++)
		if (s[i] >= 0x80 || (s[i] == '=' && i + 1 < n && s[i + 1] == '?'))
			plain = 0;
	if (plain)
		return sb_put_bytes(b, s, n);
	for (start = 0; start < n; start = cut) {
		cut = start + 45 < n ? start + 45 : n;
		while (cut < n && cut > start + 1 && (s[cut] & 0xc0) == 0x80)
			cut--;
		if (start > 0)
			sb_put_bytes(b, "\n ", 2);
		put_str(b, "=?UTF-8?B?");
		sb_put_bytes(b, enc, b64_encode(s + start, cut - start, enc));
		put_str(b, "?=");
	}
	return b->err;
}

/* RFC 2231 attr-char: what a parameter value may hold unencoded. */
static int
attr_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    strchr("!#$&+-.^_`|~", c) != NULL;
}

/* filename="NAME" when NAME is printable ASCII without '"' or '\',
 * else RFC 2231's filename*=utf-8''%XX... */
static int
put_filename(struct sb_buf *b, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	int quoted = 1;

	for (i = 0; i < n && quoted; i++)
		if (s[i] < 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\')
			quoted = 0;
	if (quoted) {
		put_str(b, "filename=\"");
		sb_put_bytes(b, s, n);
		return sb_put_u8(b, '"');
	}
	put_str(b, "filename*=utf-8''");
	for (i = 0; i < n; i++) {
		if (attr_char(s[i])) {
			sb_put_u8(b, s[i]);
		} else {
			sb_put_u8(b, '%');
			sb_put_u8(b, (uint8_t)hex[s[i] >> 4]);
			sb_put_u8(b, (uint8_t)hex[s[i] & 15]);
		}
	}
	return b->err;
}

/* "To: a, b" folded before an address that would pass column 78. */
static int
put_to(struct sb_buf *b, const char *const *to, size_t n)
{
	size_t i, col = 4, len;

	put_str(b, "To: ");
	for (i = 0; i < n; i++) {
		len = strlen(to[i]);
		if (i > 0) {
			if (col + 2 + len > 78) {
				put_str(b, ",\n ");
				col = 1;
			} else {
				put_str(b, ", ");
				col += 2;
			}
		}
		sb_put_bytes(b, to[i], len);
		col += len;
	}
	return sb_put_u8(b, '\n');
}

static int
build(const struct mail_meta *m, struct mail_render *r)
{
	struct sb_buf subject = SB_BUF_INIT;
	struct sb_buf *h = &r->head;
	char id[2 * MAIL_MSGID_LEN + 1], dev[17], num[32];
	int rc;

	sb_hex(m->msgid, MAIL_MSGID_LEN, id);
	snprintf(dev, sizeof(dev), "%016llx", (unsigned long long)m->device);
	if ((rc = clean_text(m->subject, &subject)) != SB_OK)
		return rc;
	put_str(h, "From: ");
	put_str(h, m->from);
	put_str(h, "\n");
	put_to(h, m->to, m->n_to);
	put_str(h, "Date: ");
	put_date(h, m->date);
	put_str(h, "\nSubject: ");
	put_text(h, subject.d ? subject.d : (const uint8_t *)"", subject.len);
	put_str(h, "\nMessage-ID: <");
	put_str(h, id);
	put_str(h, ".");
	put_str(h, dev);
	put_str(h, "@sealbox>\n");
	/* Only verified messages are ever stored, so this is always "yes";
	 * it names what was verified: the sender's address and device key. */
	put_str(h, "X-Sealbox-Verified: yes; sender ");
	put_str(h, m->from);
	put_str(h, "; device ");
	put_str(h, dev);
	put_str(h, "\nMIME-Version: 1.0\n");
	r->body = m->body;
	r->size = m->size;
	switch (m->body) {
	case MAIL_BODY_TEXT:
	case MAIL_BODY_TEXT_B64:
		put_str(h, "Content-Type: text/plain; charset=utf-8\n");
		put_str(h, m->body == MAIL_BODY_TEXT ? "Content-Transfer-Encoding: 8bit\n\n"
		    : "Content-Transfer-Encoding: base64\n\n");
		r->body_len = m->body == MAIL_BODY_TEXT ? m->size : b64_size(m->size);
		break;
	case MAIL_BODY_ATTACHMENT:
		/* The boundary cannot occur in the parts: base64 has no '-',
		 * and the note's one line starts with "Attached". */
		put_str(h, "Content-Type: multipart/mixed; boundary=\"sealbox-");
		put_str(h, id);
		put_str(h, "\"\n\n--sealbox-");
		put_str(h, id);
		put_str(h, "\nContent-Type: text/plain; charset=utf-8\n"
		    "Content-Transfer-Encoding: 8bit\n\nAttached: ");
		sb_put_bytes(h, subject.d ? subject.d : (const uint8_t *)"", subject.len);
		snprintf(num, sizeof(num), " (%llu bytes)\n", (unsigned long long)m->size);
		put_str(h, num);
		put_str(h, "--sealbox-");
		put_str(h, id);
		put_str(h, "\nContent-Type: application/octet-stream\n"
		    "Content-Transfer-Encoding: base64\nContent-Disposition: attachment; ");
		put_filename(h, subject.d ? subject.d : (const uint8_t *)"", subject.len);
		put_str(h, "\n\n");
		r->body_len = b64_size(m->size);
		put_str(&r->tail, "--sealbox-");
		put_str(&r->tail, id);
		put_str(&r->tail, "--\n");
		break;
	default:
		rc = SB_ERR_INVALID_ARG;
	}
	sb_buf_free(&subject);
	if (rc == SB_OK)
		rc = h->err != SB_OK ? h->err : r->tail.err;
	r->total = r->head.len + r->body_len + r->tail.len;
	return rc;
}

int
mail_render_new(const struct mail_meta *m, struct mail_render **out)
{
	struct mail_render *r;
	size_t i;
	int rc;

	*out = NULL;
	if (m == NULL || m->from == NULL || m->subject == NULL || m->msgid == NULL ||
	    m->to == NULL || m->n_to == 0 || m->n_to > MAIL_TO_MAX ||
	    m->date > UINT64_C(253402300799) || !printable_ascii(m->from))
		return SB_ERR_INVALID_ARG;
	for (i = 0; i < m->n_to; i++)
		if (m->to[i] == NULL || !printable_ascii(m->to[i]))
			return SB_ERR_INVALID_ARG;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return SB_ERR_ALLOC;
	if ((rc = build(m, r)) != SB_OK) {
		mail_render_free(r);
		return rc;
	}
	*out = r;
	return SB_OK;
}

void
mail_render_free(struct mail_render *r)
{
	if (r == NULL)
		return;
	sb_buf_free(&r->head);
	sb_buf_free(&r->tail);
	free(r);
}

uint64_t
mail_render_size(const struct mail_render *r)
{
	return r->total;
}

/* ---- Reading by offset ---------------------------------------------------------- */

/* Exactly n content bytes at off, or SB_ERR_LENGTH if the content ends. */
static int
read_full(mail_read_fn src, void *ctx, uint8_t *buf, size_t n, uint64_t off)
{
	size_t done = 0, got;
	int rc;

	while (done < n) {
		got = 0;
		if ((rc = src(ctx, buf + done, n - done, off + done, &got)) != SB_OK)
			return rc;
		if (got == 0)
			return SB_ERR_LENGTH;
		done += got;
	}
	return SB_OK;
}

/* Bytes [off, off + n) of the content's base64 form (n > 0, within it):
 * the whole 57-byte groups of the lines the window touches are read in
 * one call, then each line is encoded and the window's part copied. */
static int
read_b64(const struct mail_render *r, mail_read_fn src, void *ctx, uint8_t *out,
    size_t n, uint64_t off)
{
	const uint64_t per = MAIL_B64_LINE + 1;
	uint64_t first = off / per, last = (off + n - 1) / per, in_off, in_end;
	uint8_t *in;
	char line[MAIL_B64_LINE + 1];
	size_t done = 0, in_len, k, ll, from, take;
	uint64_t l;
	int rc;

	in_off = first * MAIL_B64_IN;
	in_end = (last + 1) * MAIL_B64_IN < r->size ? (last + 1) * MAIL_B64_IN : r->size;
	in_len = (size_t)(in_end - in_off);
	if ((in = malloc(in_len > 0 ? in_len : 1)) == NULL)
		return SB_ERR_ALLOC;
	rc = read_full(src, ctx, in, in_len, in_off);
	for (l = first; rc == SB_OK && l <= last; l++) {
		k = (size_t)(l - first) * MAIL_B64_IN;
		ll = b64_encode(in + k, in_len - k < MAIL_B64_IN ? in_len - k : MAIL_B64_IN, line);
		line[ll++] = '\n';
		from = l == first ? (size_t)(off - first * per) : 0;
		take = ll - from < n - done ? ll - from : n - done;
		memcpy(out + done, line + from, take);
		done += take;
	}
	/* Content is plaintext: leave none of it in freed memory. */
	memset(in, 0, in_len);
	free(in);
	return rc;
}

int
mail_render_read(const struct mail_render *r, mail_read_fn src, void *ctx,
    void *buf, size_t size, uint64_t off, size_t *got)
{
	uint8_t *out = buf;
	uint64_t head = r->head.len, body_end = head + r->body_len, n;
	size_t done = 0;
	int rc = SB_OK;

	*got = 0;
	if (off >= r->total)
		return SB_OK;
	if (size > r->total - off)
		size = (size_t)(r->total - off);
	if (off < head) {
		n = head - off < size ? head - off : size;
		memcpy(out, r->head.d + off, (size_t)n);
		done += (size_t)n;
	}
	if (done < size && off + done < body_end) {
		uint64_t boff = off + done - head;
		n = body_end - (off + done) < size - done ? body_end - (off + done) : size - done;
		if (r->body == MAIL_BODY_TEXT)
			rc = read_full(src, ctx, out + done, (size_t)n, boff);
		else
			rc = read_b64(r, src, ctx, out + done, (size_t)n, boff);
		if (rc != SB_OK)
			return rc;
		done += (size_t)n;
	}
	if (done < size) {
		uint64_t toff = off + done - body_end;
		memcpy(out + done, r->tail.d + toff, size - done);
		done = size;
	}
	*got = done;
	return SB_OK;
}

/* ---- Names ------------------------------------------------------------------------ */

int
mail_file_name(uint64_t date, const uint8_t msgid[MAIL_MSGID_LEN], uint64_t device,
    char *out, size_t out_size)
{
	char id[2 * MAIL_MSGID_LEN + 1];
	int n;

	if (out_size < MAIL_NAME_BUF)
		return SB_ERR_INVALID_ARG;
	sb_hex(msgid, MAIL_MSGID_LEN, id);
	n = snprintf(out, out_size, "%llu.%s_%016llx.sealbox:2,S",
	    (unsigned long long)date, id, (unsigned long long)device);
	return n > 0 && (size_t)n < out_size ? SB_OK : SB_ERR_LENGTH;
}

static int
hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
mail_file_name_parse(const char *name, uint64_t *date, uint8_t msgid[MAIL_MSGID_LEN],
    uint64_t *device)
{
	static const char suffix[] = ".sealbox:2,S";
	const char *p = name;
	uint64_t d = 0, dev = 0;
	size_t i, digits = 0;
	int hi, lo;

	*date = 0;
	*device = 0;
	memset(msgid, 0, MAIL_MSGID_LEN);
	/* Decimal without leading zeros (one spelling per time), at most
	 * 12 digits: 9999-12-31 is 253402300799. */
	while (*p >= '0' && *p <= '9') {
		if (++digits > 12 || (digits == 2 && p[-1] == '0'))
			return SB_ERR_FORMAT;
		d = d * 10 + (uint64_t)(*p++ - '0');
	}
	if (digits == 0 || *p++ != '.')
		return SB_ERR_FORMAT;
	for (i = 0; i < MAIL_MSGID_LEN; i++, p += 2) {
		if ((hi = hex_val(p[0])) < 0 || (lo = hex_val(p[1])) < 0)
			goto bad;
		msgid[i] = (uint8_t)(hi << 4 | lo);
	}
	if (*p++ != '_')
		goto bad;
	for (i = 0; i < 16; i++, p++) {
		if ((hi = hex_val(*p)) < 0)
			goto bad;
		dev = dev << 4 | (uint64_t)hi;
	}
	if (strcmp(p, suffix) != 0)
		goto bad;
	*date = d;
	*device = dev;
	return SB_OK;
bad:
	memset(msgid, 0, MAIL_MSGID_LEN);
	return SB_ERR_FORMAT;
}

int
mail_folder_name(const char *inbox_folder, char *out, size_t out_size)
{
	size_t n = strnlen(inbox_folder, MAIL_FOLDER_BUF), i;

	if (n == 0 || out_size < MAIL_FOLDER_BUF)
		return SB_ERR_INVALID_ARG;
	/* With its dot the name must still be one component (NAME_MAX 255):
	 * a longer one is cut on a UTF-8 boundary, and shares its folder
	 * with any other it then equals (as two contacts whose names
	 * sanitise alike share one in inbox/). */
	if (n > MAIL_FOLDER_BUF - 2) {
		n = MAIL_FOLDER_BUF - 2;
		while (n > 0 && ((unsigned char)inbox_folder[n] & 0xc0) == 0x80)
			n--;
	}
	out[0] = '.';
	for (i = 0; i < n; i++)
		out[i + 1] = inbox_folder[i] == '.' ? '_' : inbox_folder[i];
	out[n + 1] = '\0';
	return SB_OK;
}
