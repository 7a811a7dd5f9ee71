/*
 * proto.c - frame codec of the relay protocol (see proto.h and
 * docs/PROTOCOL.md (section 13)).  Pure byte work: no I/O, no cryptography.
 *
 * Decoders read only through struct sb_reader and finish with
 * sb_reader_expect_end, so a frame is either consumed exactly or refused.
 * Encoders write the same layouts through struct sb_buf, checking the same
 * caps, so a message we produce always decodes on the other side.
 */
#include <stdlib.h>
#include <string.h>

#include "../common/sberr.h"
#include "proto.h"

#define TRY(x) do { int rc_ = (x); if (rc_ != SB_OK) return rc_; } while (0)

static const char auth_ctx[] = "sealbox-relay auth v1";
static const char register_ctx[] = "sealbox-relay register v1";
static const char link_ctx[] = "sealbox-relay link v1";

int
proto_type_from_client(uint8_t type)
{
	switch (type) {
	case PROTO_REGISTER: case PROTO_AUTH: case PROTO_LOOKUP:
	case PROTO_REMOVE: case PROTO_SEND: case PROTO_ACK: case PROTO_STATUS:
	case PROTO_BLOB_PUT: case PROTO_BLOB_GET: case PROTO_PING:
	case PROTO_BLOB_DATA: case PROTO_LOOKUP_LOG: case PROTO_LOG_PROVE:
	case PROTO_LOG_KEY: case PROTO_LINK_OFFER: case PROTO_LINK_LIST:
	case PROTO_LINK_APPROVE: case PROTO_REMOVE_SIGNED: case PROTO_BLOB_DELETE:
		return 1;
	default:
		return 0;
	}
}

const char *
proto_type_name(uint8_t type)
{
	switch (type) {
	case PROTO_REGISTER:      return "register";
	case PROTO_AUTH:          return "auth";
	case PROTO_LOOKUP:        return "lookup";
	case PROTO_REMOVE:        return "remove";
	case PROTO_SEND:          return "send";
	case PROTO_ACK:           return "ack";
	case PROTO_STATUS:        return "status";
	case PROTO_BLOB_PUT:      return "blob-put";
	case PROTO_BLOB_GET:      return "blob-get";
	case PROTO_PING:          return "ping";
	case PROTO_BLOB_DELETE:   return "blob-delete";
	case PROTO_BLOB_DATA:     return "blob-data";
	case PROTO_LOOKUP_LOG:    return "lookup-log";
	case PROTO_LOG_PROVE:     return "log-prove";
	case PROTO_LOG_KEY:       return "log-key";
	case PROTO_LINK_OFFER:    return "link-offer";
	case PROTO_LINK_LIST:     return "link-list";
	case PROTO_LINK_APPROVE:  return "link-approve";
	case PROTO_REMOVE_SIGNED: return "remove-signed";
	case PROTO_HELLO:         return "hello";
	case PROTO_OK:            return "ok";
	case PROTO_ERROR:         return "error";
	case PROTO_LOOKUP_RESULT: return "lookup-result";
	case PROTO_STALE:         return "stale";
	case PROTO_PUSH:          return "push";
	case PROTO_STATUS_RESULT: return "status-result";
	case PROTO_BLOB_URI:      return "blob-uri";
	case PROTO_PIN_NEXT:      return "pin-next";
	case PROTO_LOOKUP_LOG_RESULT: return "lookup-log-result";
	case PROTO_LOG_PROOF:     return "log-proof";
	case PROTO_LOG_KEY_RESULT: return "log-key-result";
	case PROTO_LINK_OFFERS:   return "link-offers";
	default:                  return "unknown";
	}
}

const char *
proto_state_name(uint8_t state)
{
	switch (state) {
	case PROTO_STATE_QUEUED:    return "queued";
	case PROTO_STATE_DELIVERED: return "delivered";
	case PROTO_STATE_EXPIRED:   return "expired";
	case PROTO_STATE_REMOVED:   return "removed";
	default:                    return "unknown";
	}
}

int
proto_frame_size(const uint8_t *buf, size_t avail, size_t *total)
{
	struct sb_reader r;
	uint32_t len;

	*total = 0;
	sb_reader_init(&r, buf, avail);
	TRY(sb_get_u32be(&r, &len));
	if (len < SB_FRAME_HDR - 4 || len > SB_MAX_FRAME)
		return SB_ERR_LENGTH;
	*total = (size_t)len + 4;
	return SB_OK;
}

void
proto_msg_clear(struct proto_msg *m)
{
	size_t i;

	if (m == NULL)
		return;
	free(m->addrs);
	free(m->items);
	for (i = 0; i < m->n_results && m->results != NULL; i++)
		free(m->results[i].devices);
	free(m->results);
	free(m->missing);
	free(m->extra);
	free(m->status);
	free(m->devices);
	free(m->proven);
	free(m->offers);
	memset(m, 0, sizeof(*m));
}

/* ---- decoding ------------------------------------------------------------ */

/*
 * The enums of section 13.4.  Each is checked by the decoder (FORMAT: the
 * peer is broken, close) and by the encoder (INVALID_ARG: we are), so no
 * out-of-range value crosses the wire in either direction.
 */
static int
suite_valid(uint8_t suite)
{
	return suite == 1 || suite == 2;    /* 1 pair, 2 ec (CRYPTO_SUITE_*) */
}

static int
state_valid(uint8_t state)
{
	return state >= PROTO_STATE_QUEUED && state <= PROTO_STATE_REMOVED;
}

static int
get_s8(struct sb_reader *r, struct proto_bytes *b, size_t max)
{
	return sb_get_string8_direct(r, &b->p, &b->len, max);
}

static int
get_s16(struct sb_reader *r, struct proto_bytes *b, size_t max)
{
	return sb_get_string16_direct(r, &b->p, &b->len, max);
}

static int
get_s32(struct sb_reader *r, struct proto_bytes *b, size_t max)
{
	return sb_get_string32_direct(r, &b->p, &b->len, max);
}

/* calloc that treats n == 0 as "no array" and never overflows. */
static int
alloc_array(void **out, size_t n, size_t size)
{
	*out = NULL;
	if (n == 0)
		return SB_OK;
	*out = calloc(n, size);
	return *out == NULL ? SB_ERR_ALLOC : SB_OK;
}

static int
get_addr_list8(struct sb_reader *r, struct proto_msg *m)
{
	uint8_t n;
	size_t i;

	TRY(sb_get_u8(r, &n));
	if (n == 0 || n > SB_MAX_LOOKUP_ADDRS)
		return SB_ERR_LENGTH;
	TRY(alloc_array((void **)&m->addrs, n, sizeof(*m->addrs)));
	m->n_addrs = n;
	for (i = 0; i < n; i++)
		TRY(get_s8(r, &m->addrs[i], SB_MAX_ADDRESS));
	return SB_OK;
}

static int
get_u64_list16(struct sb_reader *r, uint64_t **out, size_t *n_out)
{
	uint16_t n;
	size_t i;

	TRY(sb_get_u16be(r, &n));
	if (n > SB_MAX_STALE_IDS)
		return SB_ERR_LENGTH;
	TRY(alloc_array((void **)out, n, sizeof(**out)));
	*n_out = n;
	for (i = 0; i < n; i++)
		TRY(sb_get_u64be(r, &(*out)[i]));
	return SB_OK;
}

static int
dec_send(struct sb_reader *r, struct proto_msg *m)
{
	uint16_t n;
	size_t i;

	TRY(sb_get_bytes(r, m->msgid, PROTO_MSGID_LEN));
	TRY(get_addr_list8(r, m));
	TRY(sb_get_u16be(r, &n));
	if (n > SB_MAX_BATCH_DEVICES)
		return SB_ERR_LENGTH;
	TRY(alloc_array((void **)&m->items, n, sizeof(*m->items)));
	m->n_items = n;
	for (i = 0; i < n; i++) {
		TRY(sb_get_u64be(r, &m->items[i].device_id));
		TRY(get_s32(r, &m->items[i].payload, SB_MAX_PAYLOAD));
	}
	return SB_OK;
}

static int
dec_lookup_result(struct sb_reader *r, struct proto_msg *m)
{
	uint8_t n, nd;
	size_t i, j;

	TRY(sb_get_u8(r, &n));
	if (n > SB_MAX_LOOKUP_ADDRS)
		return SB_ERR_LENGTH;
	TRY(alloc_array((void **)&m->results, n, sizeof(*m->results)));
	m->n_results = n;
	for (i = 0; i < n; i++) {
		struct proto_addr_devices *a = &m->results[i];

		TRY(get_s8(r, &a->address, SB_MAX_ADDRESS));
		TRY(sb_get_u8(r, &nd));
		if (nd > SB_MAX_DEVICES_PER_ADDR)
			return SB_ERR_LENGTH;
		TRY(alloc_array((void **)&a->devices, nd, sizeof(*a->devices)));
		a->n_devices = nd;
		for (j = 0; j < nd; j++) {
			TRY(sb_get_u64be(r, &a->devices[j].id));
			TRY(get_s8(r, &a->devices[j].name, SB_MAX_DEVICE_NAME));
			TRY(get_s16(r, &a->devices[j].identity, SB_MAX_IDENTITY));
		}
	}
	return SB_OK;
}

/* list8<bytes[32]> of at most SB_MAX_PROOF, borrowed. */
static int
get_hashes(struct sb_reader *r, struct proto_hashes *h)
{
	uint8_t n;

	TRY(sb_get_u8(r, &n));
	if (n > SB_MAX_PROOF)
		return SB_ERR_LENGTH;
	TRY(sb_get_bytes_direct(r, &h->p, (size_t)n * PROTO_HASH_LEN));
	h->n = n;
	return SB_OK;
}

static int
get_device(struct sb_reader *r, struct proto_device *d)
{
	TRY(sb_get_u64be(r, &d->id));
	TRY(get_s8(r, &d->name, SB_MAX_DEVICE_NAME));
	return get_s16(r, &d->identity, SB_MAX_IDENTITY);
}

static int
dec_lookup_log_result(struct sb_reader *r, struct proto_msg *m)
{
	uint8_t nd;
	uint16_t ne;
	size_t i;

	TRY(get_s8(r, &m->head, SB_MAX_STH));
	TRY(get_hashes(r, &m->hashes));
	TRY(sb_get_u8(r, &nd));
	if (nd > SB_MAX_DEVICES_PER_ADDR)
		return SB_ERR_LENGTH;
	TRY(alloc_array((void **)&m->devices, nd, sizeof(*m->devices)));
	m->n_devices = nd;
	for (i = 0; i < nd; i++)
		TRY(get_device(r, &m->devices[i]));
	TRY(sb_get_u16be(r, &ne));
	if (ne > SB_MAX_LOG_ENTRIES)
		return SB_ERR_LENGTH;
	TRY(alloc_array((void **)&m->proven, ne, sizeof(*m->proven)));
	m->n_proven = ne;
	for (i = 0; i < ne; i++) {
		TRY(sb_get_u64be(r, &m->proven[i].index));
		TRY(get_s16(r, &m->proven[i].entry, SB_MAX_LOG_ENTRY));
		TRY(get_hashes(r, &m->proven[i].path));
	}
	return SB_OK;
}

static int
dec_link_offers(struct sb_reader *r, struct proto_msg *m)
{
	uint8_t n;
	size_t i;

	TRY(sb_get_u8(r, &n));
	if (n > SB_MAX_LINK_OFFERS)
		return SB_ERR_LENGTH;
	TRY(alloc_array((void **)&m->offers, n, sizeof(*m->offers)));
	m->n_offers = n;
	for (i = 0; i < n; i++) {
		struct proto_link_offer *o = &m->offers[i];

		TRY(sb_get_u8(r, &o->suite));
		if (!suite_valid(o->suite))
			return SB_ERR_FORMAT;
		TRY(get_s16(r, &o->identity, SB_MAX_IDENTITY));
		TRY(get_s8(r, &o->name, SB_MAX_DEVICE_NAME));
		TRY(sb_get_u64be(r, &o->time));
	}
	return SB_OK;
}

static int
dec_status_result(struct sb_reader *r, struct proto_msg *m)
{
	uint16_t n;
	size_t i;

	TRY(sb_get_u16be(r, &n));
	if (n > SB_MAX_STATUS_DEVICES)
		return SB_ERR_LENGTH;
	TRY(alloc_array((void **)&m->status, n, sizeof(*m->status)));
	m->n_status = n;
	for (i = 0; i < n; i++) {
		TRY(sb_get_u64be(r, &m->status[i].device_id));
		TRY(sb_get_u8(r, &m->status[i].state));
		if (!state_valid(m->status[i].state))
			return SB_ERR_FORMAT;
	}
	return SB_OK;
}

static int
dec_body(struct sb_reader *r, struct proto_msg *m)
{
	uint32_t code;

	switch (m->type) {
	case PROTO_REGISTER:
		TRY(get_s8(r, &m->address, SB_MAX_ADDRESS));
		TRY(get_s8(r, &m->code, SB_MAX_CODE));
		TRY(sb_get_u8(r, &m->suite));
		if (!suite_valid(m->suite))
			return SB_ERR_FORMAT;
		TRY(get_s16(r, &m->identity, SB_MAX_IDENTITY));
		TRY(get_s8(r, &m->name, SB_MAX_DEVICE_NAME));
		return get_s8(r, &m->sig, SB_MAX_SIG);
	case PROTO_AUTH:
		TRY(sb_get_u64be(r, &m->u64));
		return get_s8(r, &m->sig, SB_MAX_SIG);
	case PROTO_LOOKUP:
		return get_addr_list8(r, m);
	case PROTO_REMOVE: case PROTO_ACK: case PROTO_BLOB_PUT: case PROTO_OK:
		return sb_get_u64be(r, &m->u64);
	case PROTO_SEND:
		return dec_send(r, m);
	case PROTO_STATUS:
		return sb_get_bytes(r, m->msgid, PROTO_MSGID_LEN);
	case PROTO_BLOB_GET: case PROTO_BLOB_URI: case PROTO_BLOB_DELETE:
		return get_s8(r, &m->text, SB_MAX_URI);
	case PROTO_PING:
		return SB_OK;
	case PROTO_BLOB_DATA:
		TRY(sb_get_rest_direct(r, &m->data.p, &m->data.len));
		if (m->data.len == 0 || m->data.len > SB_MAX_BLOB_CHUNK)
			return SB_ERR_LENGTH;
		return SB_OK;
	case PROTO_HELLO:
		TRY(sb_get_u8(r, &m->version));
		if (m->version != PROTO_VERSION)
			return SB_ERR_FORMAT;
		return sb_get_bytes(r, m->challenge, PROTO_CHALLENGE_LEN);
	case PROTO_ERROR:
		TRY(sb_get_u32be(r, &code));
		/* Only negative SB_ERR_* codes travel; 0 or absurd values are bugs. */
		if (code == 0 || code > 1000)
			return SB_ERR_FORMAT;
		m->err = -(int32_t)code;
		return get_s8(r, &m->text, SB_MAX_ERRMSG);
	case PROTO_LOOKUP_RESULT:
		return dec_lookup_result(r, m);
	case PROTO_STALE:
		TRY(get_u64_list16(r, &m->missing, &m->n_missing));
		return get_u64_list16(r, &m->extra, &m->n_extra);
	case PROTO_PUSH:
		TRY(sb_get_u64be(r, &m->item_id));
		TRY(sb_get_bytes(r, m->msgid, PROTO_MSGID_LEN));
		TRY(get_s8(r, &m->address, SB_MAX_ADDRESS));
		TRY(sb_get_u64be(r, &m->sender_device));
		TRY(sb_get_u64be(r, &m->timestamp));
		return get_s32(r, &m->data, SB_MAX_PAYLOAD);
	case PROTO_STATUS_RESULT:
		return dec_status_result(r, m);
	case PROTO_PIN_NEXT:
		return sb_get_bytes(r, m->fingerprint, PROTO_FP_LEN);
	case PROTO_LOOKUP_LOG:
		TRY(sb_get_u64be(r, &m->u64));
		return get_s8(r, &m->address, SB_MAX_ADDRESS);
	case PROTO_LOG_PROVE:
		TRY(sb_get_u64be(r, &m->u64));
		return sb_get_u64be(r, &m->u64b);
	case PROTO_LOG_KEY: case PROTO_LINK_LIST:
		return SB_OK;
	case PROTO_LINK_OFFER:
		TRY(get_s8(r, &m->address, SB_MAX_ADDRESS));
		TRY(sb_get_u8(r, &m->suite));
		if (!suite_valid(m->suite))
			return SB_ERR_FORMAT;
		TRY(get_s16(r, &m->identity, SB_MAX_IDENTITY));
		TRY(get_s8(r, &m->name, SB_MAX_DEVICE_NAME));
		return get_s8(r, &m->sig, SB_MAX_SIG);
	case PROTO_LINK_APPROVE:
		TRY(get_s16(r, &m->identity, SB_MAX_IDENTITY));
		return get_s8(r, &m->sig, SB_MAX_SIG);
	case PROTO_REMOVE_SIGNED:
		TRY(sb_get_u64be(r, &m->u64));
		return get_s8(r, &m->sig, SB_MAX_SIG);
	case PROTO_LOOKUP_LOG_RESULT:
		return dec_lookup_log_result(r, m);
	case PROTO_LOG_PROOF:
		return get_hashes(r, &m->hashes);
	case PROTO_LOG_KEY_RESULT:
		return sb_get_bytes(r, m->log_key, PROTO_LOG_KEY_LEN);
	case PROTO_LINK_OFFERS:
		return dec_link_offers(r, m);
	default:
		return SB_ERR_FORMAT;
	}
}

int
proto_decode(const uint8_t *buf, size_t len, struct proto_msg *m)
{
	struct sb_reader r;
	uint32_t flen;
	int rc;

	memset(m, 0, sizeof(*m));
	sb_reader_init(&r, buf, len);
	if ((rc = sb_get_u32be(&r, &flen)) != SB_OK)
		return rc;
	if (flen < SB_FRAME_HDR - 4 || flen > SB_MAX_FRAME)
		return SB_ERR_LENGTH;
	if (flen > sb_reader_remaining(&r))
		return SB_ERR_TRUNCATED;
	if (flen < sb_reader_remaining(&r))
		return SB_ERR_TRAILING;
	if ((rc = sb_get_u8(&r, &m->type)) != SB_OK ||
	    (rc = sb_get_u32be(&r, &m->rid)) != SB_OK ||
	    (rc = dec_body(&r, m)) != SB_OK ||
	    (rc = sb_reader_expect_end(&r)) != SB_OK) {
		proto_msg_clear(m);
		return rc;
	}
	return SB_OK;
}

/* ---- encoding ------------------------------------------------------------ */

static int
put_s8(struct sb_buf *b, const struct proto_bytes *s, size_t max)
{
	if (s->len > max)
		return SB_ERR_LENGTH;
	return sb_put_string8(b, s->p, s->len);
}

static int
put_s16(struct sb_buf *b, const struct proto_bytes *s, size_t max)
{
	if (s->len > max)
		return SB_ERR_LENGTH;
	return sb_put_string16(b, s->p, s->len);
}

static int
put_s32(struct sb_buf *b, const struct proto_bytes *s, size_t max)
{
	if (s->len > max)
		return SB_ERR_LENGTH;
	return sb_put_string32(b, s->p, s->len);
}

static int
put_addrs(struct sb_buf *b, const struct proto_msg *m)
{
	size_t i;

	if (m->n_addrs == 0 || m->n_addrs > SB_MAX_LOOKUP_ADDRS)
		return SB_ERR_LENGTH;
	TRY(sb_put_u8(b, (uint8_t)m->n_addrs));
	for (i = 0; i < m->n_addrs; i++)
		TRY(put_s8(b, &m->addrs[i], SB_MAX_ADDRESS));
	return SB_OK;
}

static int
put_u64_list(struct sb_buf *b, const uint64_t *v, size_t n)
{
	size_t i;

	if (n > SB_MAX_STALE_IDS)
		return SB_ERR_LENGTH;
	TRY(sb_put_u16be(b, (uint16_t)n));
	for (i = 0; i < n; i++)
		TRY(sb_put_u64be(b, v[i]));
	return SB_OK;
}

static int
enc_lookup_result(struct sb_buf *b, const struct proto_msg *m)
{
	size_t i, j;

	if (m->n_results > SB_MAX_LOOKUP_ADDRS)
		return SB_ERR_LENGTH;
	TRY(sb_put_u8(b, (uint8_t)m->n_results));
	for (i = 0; i < m->n_results; i++) {
		const struct proto_addr_devices *a = &m->results[i];

		if (a->n_devices > SB_MAX_DEVICES_PER_ADDR)
			return SB_ERR_LENGTH;
		TRY(put_s8(b, &a->address, SB_MAX_ADDRESS));
		TRY(sb_put_u8(b, (uint8_t)a->n_devices));
		for (j = 0; j < a->n_devices; j++) {
			TRY(sb_put_u64be(b, a->devices[j].id));
			TRY(put_s8(b, &a->devices[j].name, SB_MAX_DEVICE_NAME));
			TRY(put_s16(b, &a->devices[j].identity, SB_MAX_IDENTITY));
		}
	}
	return SB_OK;
}

static int
put_hashes(struct sb_buf *b, const struct proto_hashes *h)
{
	if (h->n > SB_MAX_PROOF)
		return SB_ERR_LENGTH;
	TRY(sb_put_u8(b, (uint8_t)h->n));
	return sb_put_bytes(b, h->p, h->n * PROTO_HASH_LEN);
}

static int
enc_lookup_log_result(struct sb_buf *b, const struct proto_msg *m)
{
	size_t i;

	if (m->n_devices > SB_MAX_DEVICES_PER_ADDR || m->n_proven > SB_MAX_LOG_ENTRIES)
		return SB_ERR_LENGTH;
	TRY(put_s8(b, &m->head, SB_MAX_STH));
	TRY(put_hashes(b, &m->hashes));
	TRY(sb_put_u8(b, (uint8_t)m->n_devices));
	for (i = 0; i < m->n_devices; i++) {
		TRY(sb_put_u64be(b, m->devices[i].id));
		TRY(put_s8(b, &m->devices[i].name, SB_MAX_DEVICE_NAME));
		TRY(put_s16(b, &m->devices[i].identity, SB_MAX_IDENTITY));
	}
	TRY(sb_put_u16be(b, (uint16_t)m->n_proven));
	for (i = 0; i < m->n_proven; i++) {
		TRY(sb_put_u64be(b, m->proven[i].index));
		TRY(put_s16(b, &m->proven[i].entry, SB_MAX_LOG_ENTRY));
		TRY(put_hashes(b, &m->proven[i].path));
	}
	return SB_OK;
}

static int
enc_link_offers(struct sb_buf *b, const struct proto_msg *m)
{
	size_t i;

	if (m->n_offers > SB_MAX_LINK_OFFERS)
		return SB_ERR_LENGTH;
	TRY(sb_put_u8(b, (uint8_t)m->n_offers));
	for (i = 0; i < m->n_offers; i++) {
		if (!suite_valid(m->offers[i].suite))
			return SB_ERR_INVALID_ARG;
		TRY(sb_put_u8(b, m->offers[i].suite));
		TRY(put_s16(b, &m->offers[i].identity, SB_MAX_IDENTITY));
		TRY(put_s8(b, &m->offers[i].name, SB_MAX_DEVICE_NAME));
		TRY(sb_put_u64be(b, m->offers[i].time));
	}
	return SB_OK;
}

static int
enc_body(struct sb_buf *b, const struct proto_msg *m)
{
	size_t i;

	switch (m->type) {
	case PROTO_REGISTER:
		TRY(put_s8(b, &m->address, SB_MAX_ADDRESS));
		TRY(put_s8(b, &m->code, SB_MAX_CODE));
		if (!suite_valid(m->suite))
			return SB_ERR_INVALID_ARG;
		TRY(sb_put_u8(b, m->suite));
		TRY(put_s16(b, &m->identity, SB_MAX_IDENTITY));
		TRY(put_s8(b, &m->name, SB_MAX_DEVICE_NAME));
		return put_s8(b, &m->sig, SB_MAX_SIG);
	case PROTO_AUTH:
		TRY(sb_put_u64be(b, m->u64));
		return put_s8(b, &m->sig, SB_MAX_SIG);
	case PROTO_LOOKUP:
		return put_addrs(b, m);
	case PROTO_REMOVE: case PROTO_ACK: case PROTO_BLOB_PUT: case PROTO_OK:
		return sb_put_u64be(b, m->u64);
	case PROTO_SEND:
		if (m->n_items > SB_MAX_BATCH_DEVICES)
			return SB_ERR_LENGTH;
		TRY(sb_put_bytes(b, m->msgid, PROTO_MSGID_LEN));
		TRY(put_addrs(b, m));
		TRY(sb_put_u16be(b, (uint16_t)m->n_items));
		for (i = 0; i < m->n_items; i++) {
			TRY(sb_put_u64be(b, m->items[i].device_id));
			TRY(put_s32(b, &m->items[i].payload, SB_MAX_PAYLOAD));
		}
		return SB_OK;
	case PROTO_STATUS:
		return sb_put_bytes(b, m->msgid, PROTO_MSGID_LEN);
	case PROTO_BLOB_GET: case PROTO_BLOB_URI: case PROTO_BLOB_DELETE:
		return put_s8(b, &m->text, SB_MAX_URI);
	case PROTO_PING:
		return SB_OK;
	case PROTO_BLOB_DATA:
		if (m->data.len == 0 || m->data.len > SB_MAX_BLOB_CHUNK)
			return SB_ERR_LENGTH;
		return sb_put_bytes(b, m->data.p, m->data.len);
	case PROTO_HELLO:
		if (m->version != PROTO_VERSION)
			return SB_ERR_INVALID_ARG;
		TRY(sb_put_u8(b, m->version));
		return sb_put_bytes(b, m->challenge, PROTO_CHALLENGE_LEN);
	case PROTO_ERROR:
		if (m->err >= 0 || m->err < -1000)
			return SB_ERR_INVALID_ARG;
		TRY(sb_put_u32be(b, (uint32_t)-m->err));
		return put_s8(b, &m->text, SB_MAX_ERRMSG);
	case PROTO_LOOKUP_RESULT:
		return enc_lookup_result(b, m);
	case PROTO_STALE:
		TRY(put_u64_list(b, m->missing, m->n_missing));
		return put_u64_list(b, m->extra, m->n_extra);
	case PROTO_PUSH:
		TRY(sb_put_u64be(b, m->item_id));
		TRY(sb_put_bytes(b, m->msgid, PROTO_MSGID_LEN));
		TRY(put_s8(b, &m->address, SB_MAX_ADDRESS));
		TRY(sb_put_u64be(b, m->sender_device));
		TRY(sb_put_u64be(b, m->timestamp));
		return put_s32(b, &m->data, SB_MAX_PAYLOAD);
	case PROTO_PIN_NEXT:
		return sb_put_bytes(b, m->fingerprint, PROTO_FP_LEN);
	case PROTO_STATUS_RESULT:
		if (m->n_status > SB_MAX_STATUS_DEVICES)
			return SB_ERR_LENGTH;
		TRY(sb_put_u16be(b, (uint16_t)m->n_status));
		for (i = 0; i < m->n_status; i++) {
			if (!state_valid(m->status[i].state))
				return SB_ERR_INVALID_ARG;
			TRY(sb_put_u64be(b, m->status[i].device_id));
			TRY(sb_put_u8(b, m->status[i].state));
		}
		return SB_OK;
	case PROTO_LOOKUP_LOG:
		TRY(sb_put_u64be(b, m->u64));
		return put_s8(b, &m->address, SB_MAX_ADDRESS);
	case PROTO_LOG_PROVE:
		TRY(sb_put_u64be(b, m->u64));
		return sb_put_u64be(b, m->u64b);
	case PROTO_LOG_KEY: case PROTO_LINK_LIST:
		return SB_OK;
	case PROTO_LINK_OFFER:
		TRY(put_s8(b, &m->address, SB_MAX_ADDRESS));
		if (!suite_valid(m->suite))
			return SB_ERR_INVALID_ARG;
		TRY(sb_put_u8(b, m->suite));
		TRY(put_s16(b, &m->identity, SB_MAX_IDENTITY));
		TRY(put_s8(b, &m->name, SB_MAX_DEVICE_NAME));
		return put_s8(b, &m->sig, SB_MAX_SIG);
	case PROTO_LINK_APPROVE:
		TRY(put_s16(b, &m->identity, SB_MAX_IDENTITY));
		return put_s8(b, &m->sig, SB_MAX_SIG);
	case PROTO_REMOVE_SIGNED:
		TRY(sb_put_u64be(b, m->u64));
		return put_s8(b, &m->sig, SB_MAX_SIG);
	case PROTO_LOOKUP_LOG_RESULT:
		return enc_lookup_log_result(b, m);
	case PROTO_LOG_PROOF:
		return put_hashes(b, &m->hashes);
	case PROTO_LOG_KEY_RESULT:
		return sb_put_bytes(b, m->log_key, PROTO_LOG_KEY_LEN);
	case PROTO_LINK_OFFERS:
		return enc_link_offers(b, m);
	default:
		return SB_ERR_INVALID_ARG;
	}
}

int
proto_encode(const struct proto_msg *m, struct sb_buf *out)
{
	size_t start = out->len, flen;
	int rc;

	if (out->err != SB_OK)
		return out->err;
	if ((rc = sb_put_u32be(out, 0)) != SB_OK ||
	    (rc = sb_put_u8(out, m->type)) != SB_OK ||
	    (rc = sb_put_u32be(out, m->rid)) != SB_OK ||
	    (rc = enc_body(out, m)) != SB_OK)
		goto fail;
	flen = out->len - start - 4;
	if (flen > SB_MAX_FRAME) {
		rc = SB_ERR_LENGTH;
		goto fail;
	}
	sb_store_u32be(out->d + start, (uint32_t)flen);
	return SB_OK;
fail:
	/* An encoder failure is a caller error, not a poisoned buffer: roll back. */
	out->err = SB_OK;
	if (out->len > start)
		sb_buf_truncate(out, start);
	return rc;
}

int
proto_encode_blob_data(uint32_t rid, const uint8_t *p, size_t n, struct sb_buf *out)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_BLOB_DATA;
	m.rid = rid;
	m.data.p = p;
	m.data.len = n;
	return proto_encode(&m, out);
}

/* ---- addresses and signed transcripts ------------------------------------ */

static int
email_valid(const uint8_t *p, size_t len)
{
	size_t i, at = len, dot = 0;

	for (i = 0; i < len; i++) {
		if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '/' || p[i] == ',')
			return 0;
		if (p[i] == '@') {
			if (at != len)
				return 0;
			at = i;
		} else if (at != len && p[i] == '.') {
			dot = i;
		}
	}
	/* local part non-empty, domain has an inner dot, no trailing dot */
	return at > 0 && at < len && dot > at + 1 && dot + 1 < len;
}

static int
e164_valid(const uint8_t *p, size_t len)
{
	size_t i;

	if (len < 9 || len > 16 || p[0] != '+' || p[1] == '0')
		return 0;
	for (i = 1; i < len; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

int
proto_address_valid(const uint8_t *p, size_t len)
{
	if (p == NULL || len == 0 || len > SB_MAX_ADDRESS)
		return SB_ERR_INVALID_ARG;
	if (p[0] == '+')
		return e164_valid(p, len) ? SB_OK : SB_ERR_INVALID_ARG;
	return email_valid(p, len) ? SB_OK : SB_ERR_INVALID_ARG;
}

/* Decodes one UTF-8 sequence at p[0..left): its length, or 0 if it is
 * malformed, overlong, a surrogate or above U+10FFFF. */
static size_t
utf8_next(const uint8_t *p, size_t left, uint32_t *cp)
{
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n, i;
	uint32_t c = p[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, c &= 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, c &= 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, c &= 0x07;
	else
		return 0;   /* continuation byte, or 0xc0/0xc1/0xf5.. (never valid) */
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Control and format characters that must not be in a device name. */
static int
cp_hidden(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0xad || c == 0x61c ||
	    c == 0x180e || (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
	    (c >= 0x2060 && c <= 0x206f) || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb) ||
	    c == 0xfffe || c == 0xffff || (c >= 0xe0000 && c <= 0xe007f);
}

int
proto_device_name_valid(const uint8_t *p, size_t len)
{
	size_t off = 0, n;
	uint32_t c;

	if (p == NULL || len == 0 || len > SB_MAX_DEVICE_NAME)
		return SB_ERR_INVALID_ARG;
	while (off < len) {
		if ((n = utf8_next(p + off, len - off, &c)) == 0 || cp_hidden(c))
			return SB_ERR_INVALID_ARG;
		off += n;
	}
	return SB_OK;
}

int
proto_auth_transcript(const uint8_t exporter[PROTO_EXPORTER_LEN],
    const uint8_t challenge[PROTO_CHALLENGE_LEN], uint64_t device_id,
    struct sb_buf *out)
{
	/* The NUL after the context string keeps contexts prefix-free. */
	sb_put_bytes(out, auth_ctx, sizeof(auth_ctx));
	sb_put_bytes(out, exporter, PROTO_EXPORTER_LEN);
	sb_put_bytes(out, challenge, PROTO_CHALLENGE_LEN);
	return sb_put_u64be(out, device_id);
}

static int
enroll_transcript(const char *ctx, size_t ctx_size,
    const uint8_t exporter[PROTO_EXPORTER_LEN],
    const uint8_t challenge[PROTO_CHALLENGE_LEN],
    const uint8_t *address, size_t address_len,
    const uint8_t *identity, size_t identity_len, struct sb_buf *out)
{
	sb_put_bytes(out, ctx, ctx_size);
	sb_put_bytes(out, exporter, PROTO_EXPORTER_LEN);
	sb_put_bytes(out, challenge, PROTO_CHALLENGE_LEN);
	sb_put_string8(out, address, address_len);
	return sb_put_string16(out, identity, identity_len);
}

int
proto_register_transcript(const uint8_t exporter[PROTO_EXPORTER_LEN],
    const uint8_t challenge[PROTO_CHALLENGE_LEN],
    const uint8_t *address, size_t address_len,
    const uint8_t *identity, size_t identity_len, struct sb_buf *out)
{
	return enroll_transcript(register_ctx, sizeof(register_ctx), exporter, challenge,
	    address, address_len, identity, identity_len, out);
}

int
proto_link_transcript(const uint8_t exporter[PROTO_EXPORTER_LEN],
    const uint8_t challenge[PROTO_CHALLENGE_LEN],
    const uint8_t *address, size_t address_len,
    const uint8_t *identity, size_t identity_len, struct sb_buf *out)
{
	return enroll_transcript(link_ctx, sizeof(link_ctx), exporter, challenge,
	    address, address_len, identity, identity_len, out);
}
