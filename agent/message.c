/*
 * message.c - the inner message codec (message.h, docs/PROTOCOL.md "Inner
 * message").
 *
 * Pure: no I/O, no clock, no allocation.  Parsing goes through sb_reader
 * only and borrows from the input; encoding checks the same rules the parser
 * enforces, so whatever we send, every receiver accepts.
 */
#include <stdlib.h>
#include <string.h>

#include "../common/sberr.h"
#include "../common/wire.h"
#include "message.h"

#define NSEC_PER_SEC 1000000000u

/* ---- Field rules (shared by encode and parse) ------------------------------ */

static int
check_address(const struct message_str *s)
{
	if (s->p == NULL || s->len == 0 || s->len > MESSAGE_MAX_ADDR)
		return SB_ERR_FORMAT;
	return names_kind(s->p, s->len) == NAMES_NOT_ADDRESS ? SB_ERR_FORMAT : SB_OK;
}

/* A single path component: 1..255 bytes, no NUL or '/', not "." / "..". */
static int
check_component(const struct message_str *s)
{
	if (s->p == NULL || s->len == 0 || s->len > MESSAGE_MAX_NAME)
		return SB_ERR_FORMAT;
	if (memchr(s->p, '\0', s->len) != NULL || memchr(s->p, '/', s->len) != NULL)
		return SB_ERR_FORMAT;
	if ((s->len == 1 && s->p[0] == '.') ||
	    (s->len == 2 && s->p[0] == '.' && s->p[1] == '.'))
		return SB_ERR_FORMAT;
	return SB_OK;
}

static int
check_uri(const struct message_str *s)
{
	size_t i;

	if (s->p == NULL || s->len == 0 || s->len > MESSAGE_MAX_URI)
		return SB_ERR_FORMAT;
	for (i = 0; i < s->len; i++)
		if ((unsigned char)s->p[i] < 0x21 || (unsigned char)s->p[i] > 0x7e)
			return SB_ERR_FORMAT;
	return SB_OK;
}

/* Bytewise order, a proper prefix first. */
static int
str_cmp(const struct message_str *a, const struct message_str *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = n > 0 ? memcmp(a->p, b->p, n) : 0;

	if (c != 0)
		return c;
	return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

static int
check_recipients(const struct message *m)
{
	size_t i;
	int rc;

	if (m->n_recipients == 0 || m->n_recipients > MESSAGE_MAX_RECIPIENTS)
		return SB_ERR_LENGTH;
	for (i = 0; i < m->n_recipients; i++) {
		if ((rc = check_address(&m->recipients[i])) != SB_OK)
			return rc;
		if (i > 0 && str_cmp(&m->recipients[i - 1], &m->recipients[i]) >= 0)
			return SB_ERR_FORMAT;
	}
	return SB_OK;
}

static int
check_message(const struct message *m)
{
	int rc;

	if ((rc = check_address(&m->sender)) != SB_OK ||
	    (rc = check_recipients(m)) != SB_OK ||
	    (rc = check_component(&m->folder)) != SB_OK ||
	    (rc = check_component(&m->name)) != SB_OK)
		return rc;
	if (m->mtime_nsec >= NSEC_PER_SEC)
		return SB_ERR_FORMAT;
	switch (m->kind) {
	case MESSAGE_INLINE:
		if (m->content_len > MESSAGE_MAX_INLINE)
			return SB_ERR_LENGTH;
		if (m->content == NULL && m->content_len > 0)
			return SB_ERR_FORMAT;
		return SB_OK;
	case MESSAGE_ATTACHMENT:
		return check_uri(&m->att.uri);
	case MESSAGE_FOLDER:
		return SB_OK;
	}
	return SB_ERR_FORMAT;
}

/* The path extension's value length (0: no extension). */
static size_t
path_value_len(const struct message *m)
{
	size_t n = 1, i;

	if (m->depth == 0)
		return 0;
	for (i = 0; i < m->depth && i < MESSAGE_MAX_DEPTH; i++)
		n += 1 + m->path[i].len;
	return n;
}

static int
check_path(const struct message *m)
{
	size_t i;
	int rc;

	if (m->depth > MESSAGE_MAX_DEPTH)
		return SB_ERR_LENGTH;
	for (i = 0; i < m->depth; i++)
		if ((rc = check_component(&m->path[i])) != SB_OK)
			return rc;
	return path_value_len(m) <= MESSAGE_MAX_EXT_VALUE ? SB_OK : SB_ERR_LENGTH;
}

static int
check_gossip(const struct message *m)
{
	if (m->gossip == NULL)
		return m->gossip_len == 0 ? SB_OK : SB_ERR_FORMAT;
	return m->gossip_len >= 1 && m->gossip_len <= MESSAGE_MAX_GOSSIP ? SB_OK :
	    SB_ERR_LENGTH;
}

/* ---- Encode ---------------------------------------------------------------- */

int
message_encode(const struct message *m, struct sb_buf *out)
{
	size_t start, i;
	int rc;

	if (m == NULL || out == NULL)
		return SB_ERR_INVALID_ARG;
	if (out->err != 0)
		return out->err;
	if ((rc = check_message(m)) != SB_OK || (rc = check_gossip(m)) != SB_OK ||
	    (rc = check_path(m)) != SB_OK)
		return rc == SB_ERR_LENGTH ? SB_ERR_LENGTH : SB_ERR_INVALID_ARG;
	start = out->len;
	sb_put_u8(out, MESSAGE_VERSION);
	sb_put_bytes(out, m->id, MESSAGE_ID_LEN);
	sb_put_u64be(out, m->timestamp);
	sb_put_string8(out, m->sender.p, m->sender.len);
	sb_put_u16be(out, (uint16_t)m->n_recipients);
	for (i = 0; i < m->n_recipients; i++)
		sb_put_string8(out, m->recipients[i].p, m->recipients[i].len);
	sb_put_string8(out, m->folder.p, m->folder.len);
	sb_put_string8(out, m->name.p, m->name.len);
	sb_put_u64be(out, m->mtime_sec);
	sb_put_u32be(out, m->mtime_nsec);
	sb_put_u8(out, (uint8_t)m->kind);
	if (m->kind == MESSAGE_INLINE) {
		rc = sb_put_string32(out, m->content, m->content_len);
	} else if (m->kind == MESSAGE_FOLDER) {
		rc = out->err;
	} else {
		sb_put_bytes(out, m->att.key, sizeof(m->att.key));
		sb_put_string8(out, m->att.uri.p, m->att.uri.len);
		sb_put_bytes(out, m->att.sha1, sizeof(m->att.sha1));
		sb_put_bytes(out, m->att.sha256, sizeof(m->att.sha256));
		rc = sb_put_u64be(out, m->att.size);
	}
	if (rc == SB_OK && m->gossip_len > 0) {
		sb_put_u8(out, MESSAGE_EXT_GOSSIP);
		rc = sb_put_string16(out, m->gossip, m->gossip_len);
	}
	if (rc == SB_OK && m->depth > 0) {
		sb_put_u8(out, MESSAGE_EXT_PATH);
		sb_put_u16be(out, (uint16_t)path_value_len(m));
		sb_put_u8(out, (uint8_t)m->depth);
		for (i = 0; i < m->depth; i++)
			rc = sb_put_string8(out, m->path[i].p, m->path[i].len);
	}
	if (rc != SB_OK) {
		/* Nothing appended on failure (the buffer's error is sticky). */
		if (out->len > start)
			sb_buf_truncate(out, start);
		return rc;
	}
	return SB_OK;
}

size_t
message_encoded_size(const struct message *m)
{
	size_t n = 1 + MESSAGE_ID_LEN + 8 + 1 + m->sender.len + 2, i;

	for (i = 0; i < m->n_recipients; i++)
		n += 1 + m->recipients[i].len;
	n += 1 + m->folder.len + 1 + m->name.len + 8 + 4 + 1;
	if (m->kind == MESSAGE_INLINE)
		n += 4 + m->content_len;
	else if (m->kind == MESSAGE_ATTACHMENT)
		n += CRYPTO_ATTACH_KEY_LEN + 1 + m->att.uri.len + CRYPTO_SHA1_LEN +
		    CRYPTO_SHA256_LEN + 8;
	if (m->gossip_len > 0)
		n += 1 + 2 + m->gossip_len;
	if (m->depth > 0)
		n += 1 + 2 + path_value_len(m);
	return n;
}

size_t
message_inline_overhead(const struct message *m)
{
	struct message t = *m;

	t.kind = MESSAGE_INLINE;
	t.content = NULL;
	t.content_len = 0;
	return message_encoded_size(&t);
}

/* ---- Parse ----------------------------------------------------------------- */

static int
get_str8(struct sb_reader *r, struct message_str *s, size_t max)
{
	const uint8_t *p;
	size_t n;
	int rc;

	if ((rc = sb_get_string8_direct(r, &p, &n, max)) != SB_OK)
		return rc;
	s->p = (const char *)p;
	s->len = n;
	return SB_OK;
}

/* Extension 2's value (PROTOCOL.md 11.1): a depth, then the folders. */
static int
parse_path(const uint8_t *v, size_t len, struct message *m)
{
	struct sb_reader r;
	uint8_t depth;
	size_t i;
	int rc;

	sb_reader_init(&r, v, len);
	if ((rc = sb_get_u8(&r, &depth)) != SB_OK)
		return rc;
	if (depth == 0 || depth > MESSAGE_MAX_DEPTH)
		return SB_ERR_LENGTH;
	for (i = 0; i < depth; i++)
		if ((rc = get_str8(&r, &m->path[i], MESSAGE_MAX_NAME)) != SB_OK)
			return rc;
	if ((rc = sb_reader_expect_end(&r)) != SB_OK)
		return rc;
	m->depth = depth;
	return check_path(m);
}

/* The extensions after the kind's fields, to the end of the input. */
static int
parse_extensions(struct sb_reader *r, struct message *m)
{
	unsigned n = 0, last = 0;

	while (sb_reader_remaining(r) > 0) {
		const uint8_t *v;
		uint8_t type;
		size_t len;
		int rc;

		if ((rc = sb_get_u8(r, &type)) != SB_OK)
			return rc;
		if (type == 0 || type <= last)
			return SB_ERR_FORMAT;
		if (++n > MESSAGE_MAX_EXTENSIONS)
			return SB_ERR_LENGTH;
		if ((rc = sb_get_string16_direct(r, &v, &len, MESSAGE_MAX_EXT_VALUE)) != SB_OK)
			return rc;
		last = type;
		if (type == MESSAGE_EXT_PATH) {
			if ((rc = parse_path(v, len, m)) != SB_OK)
				return rc;
			continue;
		}
		if (type != MESSAGE_EXT_GOSSIP) {
			m->skipped_len += 1 + 2 + len;   /* a later version's: skipped */
			continue;
		}
		if (len < 1 || len > MESSAGE_MAX_GOSSIP)
			return SB_ERR_LENGTH;
		m->gossip = v;
		m->gossip_len = len;
	}
	return SB_OK;
}

static int
parse(struct sb_reader *r, struct message *m)
{
	uint8_t version, kind;
	uint16_t count;
	size_t i;
	int rc;

	if ((rc = sb_get_u8(r, &version)) != SB_OK)
		return rc;
	if (version != MESSAGE_VERSION)
		return SB_ERR_FORMAT;
	if ((rc = sb_get_bytes(r, m->id, MESSAGE_ID_LEN)) != SB_OK ||
	    (rc = sb_get_u64be(r, &m->timestamp)) != SB_OK ||
	    (rc = get_str8(r, &m->sender, MESSAGE_MAX_ADDR)) != SB_OK ||
	    (rc = sb_get_u16be(r, &count)) != SB_OK)
		return rc;
	if (count == 0 || count > MESSAGE_MAX_RECIPIENTS)
		return SB_ERR_LENGTH;
	m->n_recipients = count;
	for (i = 0; i < count; i++)
		if ((rc = get_str8(r, &m->recipients[i], MESSAGE_MAX_ADDR)) != SB_OK)
			return rc;
	if ((rc = get_str8(r, &m->folder, MESSAGE_MAX_NAME)) != SB_OK ||
	    (rc = get_str8(r, &m->name, MESSAGE_MAX_NAME)) != SB_OK ||
	    (rc = sb_get_u64be(r, &m->mtime_sec)) != SB_OK ||
	    (rc = sb_get_u32be(r, &m->mtime_nsec)) != SB_OK ||
	    (rc = sb_get_u8(r, &kind)) != SB_OK)
		return rc;
	if (kind == MESSAGE_INLINE) {
		m->kind = MESSAGE_INLINE;
		if ((rc = sb_get_string32_direct(r, &m->content, &m->content_len,
		    MESSAGE_MAX_INLINE)) != SB_OK)
			return rc;
	} else if (kind == MESSAGE_ATTACHMENT) {
		m->kind = MESSAGE_ATTACHMENT;
		if ((rc = sb_get_bytes(r, m->att.key, sizeof(m->att.key))) != SB_OK ||
		    (rc = get_str8(r, &m->att.uri, MESSAGE_MAX_URI)) != SB_OK ||
		    (rc = sb_get_bytes(r, m->att.sha1, sizeof(m->att.sha1))) != SB_OK ||
		    (rc = sb_get_bytes(r, m->att.sha256, sizeof(m->att.sha256))) != SB_OK ||
		    (rc = sb_get_u64be(r, &m->att.size)) != SB_OK)
			return rc;
	} else if (kind == MESSAGE_FOLDER) {
		m->kind = MESSAGE_FOLDER;
	} else {
		return SB_ERR_FORMAT;
	}
	if ((rc = parse_extensions(r, m)) != SB_OK)
		return rc;
	return check_message(m);
}

int
message_parse(const uint8_t *buf, size_t len, struct message *m)
{
	struct sb_reader r;
	int rc;

	if (m == NULL)
		return SB_ERR_INVALID_ARG;
	memset(m, 0, sizeof(*m));
	if (buf == NULL && len > 0)
		return SB_ERR_INVALID_ARG;
	sb_reader_init(&r, buf, len);
	if ((rc = parse(&r, m)) != SB_OK)
		crypto_wipe(m, sizeof(*m));   /* the attachment key may be in it */
	return rc;
}

/* ---- Helpers --------------------------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return str_cmp(a, b);
}

void
message_sort_recipients(struct message *m)
{
	if (m != NULL && m->n_recipients > 1 && m->n_recipients <= MESSAGE_MAX_RECIPIENTS)
		qsort(m->recipients, m->n_recipients, sizeof(m->recipients[0]), cmp_str);
}

int
message_has_recipient(const struct message *m, const char *addr, size_t len)
{
	struct message_str key = { addr, len };
	size_t i;

	if (m == NULL || addr == NULL)
		return 0;
	for (i = 0; i < m->n_recipients && i < MESSAGE_MAX_RECIPIENTS; i++)
		if (str_cmp(&m->recipients[i], &key) == 0)
			return 1;
	return 0;
}
