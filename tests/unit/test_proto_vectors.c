/*
 * test_proto_vectors.c - known-answer tests of the relay protocol codec
 * (proto/) against tests/vectors/proto-*, which tests/vectors/gen_proto.py
 * writes from the message tables of docs/PROTOCOL.md section 13, not from
 * proto.c.  test_proto.c round-trips our encoder through our decoder; this
 * suite catches the mistakes both of them would share.
 *
 * Every positive vector is cut with proto_frame_size, decoded, checked
 * field by field against the vector's named values (every named value must
 * be checked: an unread field fails), and re-encoded to the identical
 * bytes.  Every negative vector must be refused at the stage and with the
 * class it names.  The counts are asserted, so a vector missing from INDEX
 * (or from the disk) fails.  Runs with cwd = repo top; never writes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "common/sberr.h"
#include "common/wire.h"
#include "proto/proto.h"

#include "vecfile.h"

/* What gen_proto.py writes; a changed generator must change these. */
#define N_OK        49
#define N_FRAME     4
#define N_TYPE      18
#define N_BODY      106

/* The `type` field: "0x" and two hex digits. */
static uint8_t
need_type(struct vec *v)
{
	const char *s = need(v, "type");

	if (strlen(s) != 4 || s[0] != '0' || s[1] != 'x' || hexval(s[2]) < 0 ||
	    hexval(s[3]) < 0)
		fail_msg("%s: bad type '%s'", v->name, s);
	return (uint8_t)(hexval(s[2]) << 4 | hexval(s[3]));
}

static void
bytes_equal(const struct vec *v, const char *what, const char *hex, size_t hexlen,
    const struct proto_bytes *b)
{
	struct sb_buf want = SB_BUF_INIT;

	unhex(hex, hexlen, &want);
	if (want.len != b->len || (b->len > 0 && memcmp(want.d, b->p, b->len) != 0))
		fail_msg("%s: %s differs (%zu bytes decoded, %zu named)", v->name, what,
		    b->len, want.len);
	sb_buf_free(&want);
}

/* Byte field k: its hex, or (for big ones) k.len and k.sha256. */
static void
check_bytes(struct vec *v, const char *k, const struct proto_bytes *b)
{
	char key[128];
	const char *s = field(v, k);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	struct proto_bytes got;

	if (s != NULL) {
		bytes_equal(v, k, s, strlen(s), b);
		return;
	}
	snprintf(key, sizeof(key), "%s.len", k);
	assert_int_equal(need_u64(v, key), b->len);
	snprintf(key, sizeof(key), "%s.sha256", k);
	s = need(v, key);
	assert_int_equal(EVP_Digest(b->p, b->len, md, &mdlen, EVP_sha256(), NULL), 1);
	got.p = md;
	got.len = mdlen;
	bytes_equal(v, key, s, strlen(s), &got);
}

static void
check_fixed(struct vec *v, const char *k, const uint8_t *p, size_t n)
{
	struct proto_bytes b = { p, n };

	check_bytes(v, k, &b);
}

/* List field k: k.count equals n (the values are checked per element). */
static void
check_count(struct vec *v, const char *k, size_t n)
{
	char key[128];

	snprintf(key, sizeof(key), "%s.count", k);
	if (need_u64(v, key) != n)
		fail_msg("%s: %s has %zu elements decoded, %s named", v->name, k, n,
		    field(v, key));
}

static void
check_u64_elem(struct vec *v, const char *k, size_t i, uint64_t got)
{
	size_t n;
	const char *s = nth(v, need(v, k), i, &n);

	if (to_u64(v, s, n) != got)
		fail_msg("%s: %s[%zu] differs", v->name, k, i);
}

static void
check_bytes_elem(struct vec *v, const char *k, size_t i, const struct proto_bytes *b)
{
	char what[160];
	size_t n;
	const char *s = nth(v, need(v, k), i, &n);

	snprintf(what, sizeof(what), "%s[%zu]", k, i);
	bytes_equal(v, what, s, n, b);
}

/* ---- one check per message type ----------------------------------------- */

static void
check_addrs(struct vec *v, const struct proto_msg *m)
{
	size_t i;

	check_count(v, "address", m->n_addrs);
	for (i = 0; i < m->n_addrs; i++)
		check_bytes_elem(v, "address", i, &m->addrs[i]);
	if (m->n_addrs == 0)
		assert_string_equal(need(v, "address"), "");
}

static void
check_lookup_result(struct vec *v, const struct proto_msg *m)
{
	char key[128];
	size_t i, j;

	check_count(v, "entry", m->n_results);
	for (i = 0; i < m->n_results; i++) {
		const struct proto_addr_devices *a = &m->results[i];

		snprintf(key, sizeof(key), "entry.%zu.address", i);
		check_bytes(v, key, &a->address);
		snprintf(key, sizeof(key), "entry.%zu.device", i);
		check_count(v, key, a->n_devices);
		for (j = 0; j < a->n_devices; j++) {
			snprintf(key, sizeof(key), "entry.%zu.device.id", i);
			check_u64_elem(v, key, j, a->devices[j].id);
			snprintf(key, sizeof(key), "entry.%zu.device.name", i);
			check_bytes_elem(v, key, j, &a->devices[j].name);
			snprintf(key, sizeof(key), "entry.%zu.device.identity", i);
			check_bytes_elem(v, key, j, &a->devices[j].identity);
		}
		if (a->n_devices == 0) {
			/* The empty lists are named too: look at them. */
			snprintf(key, sizeof(key), "entry.%zu.device.id", i);
			assert_string_equal(need(v, key), "");
			snprintf(key, sizeof(key), "entry.%zu.device.name", i);
			assert_string_equal(need(v, key), "");
			snprintf(key, sizeof(key), "entry.%zu.device.identity", i);
			assert_string_equal(need(v, key), "");
		}
	}
}

static void
check_u64_list(struct vec *v, const char *k, const uint64_t *x, size_t n)
{
	size_t i;

	check_count(v, k, n);
	for (i = 0; i < n; i++)
		check_u64_elem(v, k, i, x[i]);
	if (n == 0)
		assert_string_equal(need(v, k), "");
}

/* A list8<bytes[32]> named k (hashes joined by ','). */
static void
check_hashes(struct vec *v, const char *k, const struct proto_hashes *h)
{
	size_t i;

	check_count(v, k, h->n);
	for (i = 0; i < h->n; i++) {
		struct proto_bytes b = { h->p + i * PROTO_HASH_LEN, PROTO_HASH_LEN };

		check_bytes_elem(v, k, i, &b);
	}
	if (h->n == 0)
		assert_string_equal(need(v, k), "");
}

static void
check_devices(struct vec *v, const struct proto_device *d, size_t n)
{
	size_t i;

	check_count(v, "device", n);
	for (i = 0; i < n; i++) {
		check_u64_elem(v, "device.id", i, d[i].id);
		check_bytes_elem(v, "device.name", i, &d[i].name);
		check_bytes_elem(v, "device.identity", i, &d[i].identity);
	}
	if (n == 0) {
		assert_string_equal(need(v, "device.id"), "");
		assert_string_equal(need(v, "device.name"), "");
		assert_string_equal(need(v, "device.identity"), "");
	}
}

static void
check_lookup_log_result(struct vec *v, const struct proto_msg *m)
{
	char key[128];
	size_t i;

	check_bytes(v, "head", &m->head);
	check_hashes(v, "consistency", &m->hashes);
	check_devices(v, m->devices, m->n_devices);
	check_count(v, "proven", m->n_proven);
	for (i = 0; i < m->n_proven; i++) {
		snprintf(key, sizeof(key), "proven.%zu.index", i);
		assert_int_equal(need_u64(v, key), m->proven[i].index);
		snprintf(key, sizeof(key), "proven.%zu.entry", i);
		check_bytes(v, key, &m->proven[i].entry);
		snprintf(key, sizeof(key), "proven.%zu.path", i);
		check_hashes(v, key, &m->proven[i].path);
	}
}

static void
check_link_offers(struct vec *v, const struct proto_msg *m)
{
	size_t i;

	check_count(v, "offer", m->n_offers);
	for (i = 0; i < m->n_offers; i++) {
		check_u64_elem(v, "offer.suite", i, m->offers[i].suite);
		check_bytes_elem(v, "offer.identity", i, &m->offers[i].identity);
		check_bytes_elem(v, "offer.name", i, &m->offers[i].name);
		check_u64_elem(v, "offer.time", i, m->offers[i].time);
	}
}

static void
check_fields(struct vec *v, const struct proto_msg *m)
{
	size_t i;

	switch (m->type) {
	case PROTO_REGISTER:
		check_bytes(v, "address", &m->address);
		check_bytes(v, "code", &m->code);
		assert_int_equal(need_u64(v, "suite"), m->suite);
		check_bytes(v, "identity", &m->identity);
		check_bytes(v, "name", &m->name);
		check_bytes(v, "sig", &m->sig);
		break;
	case PROTO_AUTH:
		assert_int_equal(need_u64(v, "device_id"), m->u64);
		check_bytes(v, "sig", &m->sig);
		break;
	case PROTO_LOOKUP:
		check_addrs(v, m);
		break;
	case PROTO_REMOVE:
		assert_int_equal(need_u64(v, "device_id"), m->u64);
		break;
	case PROTO_SEND:
		check_fixed(v, "msgid", m->msgid, sizeof(m->msgid));
		check_addrs(v, m);
		check_count(v, "item", m->n_items);
		for (i = 0; i < m->n_items; i++) {
			check_u64_elem(v, "item.device_id", i, m->items[i].device_id);
			check_bytes_elem(v, "item.payload", i, &m->items[i].payload);
		}
		if (m->n_items == 0) {
			assert_string_equal(need(v, "item.device_id"), "");
			assert_string_equal(need(v, "item.payload"), "");
		}
		break;
	case PROTO_ACK:
		assert_int_equal(need_u64(v, "item_id"), m->u64);
		break;
	case PROTO_STATUS:
		check_fixed(v, "msgid", m->msgid, sizeof(m->msgid));
		break;
	case PROTO_BLOB_PUT:
		assert_int_equal(need_u64(v, "size"), m->u64);
		break;
	case PROTO_BLOB_DATA:
		check_bytes(v, "chunk", &m->data);
		break;
	case PROTO_BLOB_GET: case PROTO_BLOB_URI: case PROTO_BLOB_DELETE:
		check_bytes(v, "uri", &m->text);
		break;
	case PROTO_PING:
		break;
	case PROTO_HELLO:
		assert_int_equal(need_u64(v, "version"), m->version);
		check_fixed(v, "challenge", m->challenge, sizeof(m->challenge));
		break;
	case PROTO_OK:
		assert_int_equal(need_u64(v, "value"), m->u64);
		break;
	case PROTO_ERROR:
		/* The wire carries the absolute value of the negative code. */
		assert_int_equal(-(int64_t)need_u64(v, "code"), m->err);
		check_bytes(v, "text", &m->text);
		break;
	case PROTO_LOOKUP_RESULT:
		check_lookup_result(v, m);
		break;
	case PROTO_STALE:
		check_u64_list(v, "missing", m->missing, m->n_missing);
		check_u64_list(v, "extra", m->extra, m->n_extra);
		break;
	case PROTO_PUSH:
		assert_int_equal(need_u64(v, "item_id"), m->item_id);
		check_fixed(v, "msgid", m->msgid, sizeof(m->msgid));
		check_bytes(v, "sender", &m->address);
		assert_int_equal(need_u64(v, "sender_device"), m->sender_device);
		assert_int_equal(need_u64(v, "timestamp"), m->timestamp);
		check_bytes(v, "payload", &m->data);
		break;
	case PROTO_PIN_NEXT:
		check_fixed(v, "fingerprint", m->fingerprint, sizeof(m->fingerprint));
		break;
	case PROTO_STATUS_RESULT:
		check_count(v, "entry", m->n_status);
		for (i = 0; i < m->n_status; i++) {
			check_u64_elem(v, "entry.device_id", i, m->status[i].device_id);
			check_u64_elem(v, "entry.state", i, m->status[i].state);
		}
		break;
	case PROTO_LOOKUP_LOG:
		assert_int_equal(need_u64(v, "known"), m->u64);
		check_bytes(v, "address", &m->address);
		break;
	case PROTO_LOG_PROVE:
		assert_int_equal(need_u64(v, "first"), m->u64);
		assert_int_equal(need_u64(v, "second"), m->u64b);
		break;
	case PROTO_LOG_KEY: case PROTO_LINK_LIST:
		break;
	case PROTO_LINK_OFFER:
		check_bytes(v, "address", &m->address);
		assert_int_equal(need_u64(v, "suite"), m->suite);
		check_bytes(v, "identity", &m->identity);
		check_bytes(v, "name", &m->name);
		check_bytes(v, "sig", &m->sig);
		break;
	case PROTO_LINK_APPROVE:
		check_bytes(v, "identity", &m->identity);
		check_bytes(v, "sig", &m->sig);
		break;
	case PROTO_REMOVE_SIGNED:
		assert_int_equal(need_u64(v, "device_id"), m->u64);
		check_bytes(v, "sig", &m->sig);
		break;
	case PROTO_LOOKUP_LOG_RESULT:
		check_lookup_log_result(v, m);
		break;
	case PROTO_LOG_PROOF:
		check_hashes(v, "proof", &m->hashes);
		break;
	case PROTO_LOG_KEY_RESULT:
		check_fixed(v, "key", m->log_key, sizeof(m->log_key));
		break;
	case PROTO_LINK_OFFERS:
		check_link_offers(v, m);
		break;
	default:
		fail_msg("%s: decoded an unknown type 0x%02x", v->name, m->type);
	}
}

/* ---- the receivers' checks ---------------------------------------------- */

static int
expect_code(struct vec *v)
{
	static const struct { const char *n; int rc; } map[] = {
		{ "ok", SB_OK }, { "truncated", SB_ERR_TRUNCATED },
		{ "trailing", SB_ERR_TRAILING }, { "length", SB_ERR_LENGTH },
		{ "format", SB_ERR_FORMAT },
	};
	const char *e = need(v, "expect");
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].n, e) == 0)
			return map[i].rc;
	fail_msg("%s: unknown expect '%s'", v->name, e);
	return 0;
}

/*
 * 1 if the receiver of `direction` takes this type: the relay exactly the
 * proto_type_from_client types (relay/server.c checks it before decoding),
 * a client every other type proto_decode knows plus BLOB_DATA
 * (client/client.c on_frame).
 */
static int
accepts(struct vec *v, uint8_t type)
{
	const char *d = need(v, "direction");

	if (strcmp(d, "client") == 0)
		return proto_type_from_client(type);
	if (strcmp(d, "relay") == 0)
		return strcmp(proto_type_name(type), "unknown") != 0 &&
		    (!proto_type_from_client(type) || type == PROTO_BLOB_DATA);
	fail_msg("%s: direction '%s' has no receiver", v->name, d);
	return 0;
}

/* Decodes v's frame expecting want; on failure the message must be clear. */
static int
decode_as(struct vec *v, struct proto_msg *m, int want)
{
	static const struct proto_msg zero;
	int rc = proto_decode(v->blob.d, v->blob.len, m);

	if (rc != want)
		fail_msg("%s: proto_decode gave %d (%s), expected %s", v->name, rc,
		    sb_strerror(rc), sb_strerror(want));
	if (rc != SB_OK)
		assert_memory_equal(m, &zero, sizeof(zero));
	return rc;
}

/* proto_frame_size from the first 4 bytes alone, and from the whole frame. */
static int
frame_size(struct vec *v, size_t *total)
{
	size_t t4;
	int rc;

	assert_true(v->blob.len >= 4);
	rc = proto_frame_size(v->blob.d, 4, &t4);
	assert_int_equal(proto_frame_size(v->blob.d, v->blob.len, total), rc);
	assert_int_equal(*total, t4);
	return rc;
}

/* The spec's name (LOOKUP_RESULT) is proto_type_name's (lookup-result). */
static void
name_is(const struct vec *v, const char *spec, uint8_t type)
{
	const char *ours = proto_type_name(type);
	size_t i;

	for (i = 0; spec[i] != '\0' && ours[i] != '\0'; i++)
		if ((spec[i] == '_' ? '-' : spec[i] - 'A' + 'a') != ours[i])
			break;
	if (spec[i] != '\0' || ours[i] != '\0')
		fail_msg("%s: type 0x%02x is %s here, %s in the spec", v->name, type,
		    ours, spec);
}

struct tally {
	size_t ok, frame, type, body;
	uint32_t seen_client, seen_relay;   /* bit per type with an ok vector */
};

static uint32_t
type_bit(uint8_t t)
{
	return (uint32_t)1 << (t < 0x80 ? t : t - 0x80 + 16);
}

static void
check_ok(struct vec *v, struct tally *n)
{
	struct proto_msg m;
	struct sb_buf out = SB_BUF_INIT;
	size_t total;

	assert_int_equal(frame_size(v, &total), SB_OK);
	assert_int_equal(total, v->blob.len);
	decode_as(v, &m, SB_OK);
	assert_int_equal(need_type(v), m.type);
	name_is(v, need(v, "message"), m.type);
	assert_int_equal(need_u64(v, "rid"), m.rid);
	if (!accepts(v, m.type))
		fail_msg("%s: the receiver refuses type 0x%02x", v->name, m.type);
	check_fields(v, &m);
	assert_int_equal(proto_encode(&m, &out), SB_OK);
	if (out.len != v->blob.len || memcmp(out.d, v->blob.d, out.len) != 0)
		fail_msg("%s: re-encoding gave other bytes", v->name);
	if (strcmp(need(v, "direction"), "client") == 0)
		n->seen_client |= type_bit(m.type);
	else
		n->seen_relay |= type_bit(m.type);
	n->ok++;
	sb_buf_free(&out);
	proto_msg_clear(&m);
}

static void
check_refused(struct vec *v, struct tally *n)
{
	const char *stage = need(v, "stage");
	int want = expect_code(v);
	struct proto_msg m;
	size_t total;
	int rc;

	assert_int_not_equal(want, SB_OK);
	rc = frame_size(v, &total);
	if (strcmp(stage, "frame") == 0) {
		/* Check 1: refused from the length field alone, by either side. */
		assert_string_equal(need(v, "direction"), "any");
		assert_int_equal(rc, want);
		assert_int_equal(total, 0);
		decode_as(v, &m, want);
		n->frame++;
		return;
	}
	assert_int_equal(rc, SB_OK);
	assert_int_equal(total, v->blob.len);
	assert_int_equal(need_type(v), v->blob.d[4]);
	if (strcmp(stage, "type") == 0) {
		/* Check 2: the receiver refuses the type before the body. */
		assert_int_equal(want, SB_ERR_FORMAT);
		if (accepts(v, v->blob.d[4]))
			fail_msg("%s: the receiver takes type 0x%02x", v->name, v->blob.d[4]);
		if (strcmp(need(v, "known"), "yes") == 0) {
			decode_as(v, &m, SB_OK);     /* a type of the other side */
			proto_msg_clear(&m);
		} else {
			decode_as(v, &m, want);
		}
		n->type++;
		return;
	}
	if (strcmp(stage, "body") != 0)
		fail_msg("%s: unknown stage '%s'", v->name, stage);
	/* Check 3: a type the receiver takes, with a body it refuses. */
	if (!accepts(v, v->blob.d[4]))
		fail_msg("%s: the receiver refuses the type, not the body", v->name);
	decode_as(v, &m, want);
	n->body++;
}

static void
check_vector(struct vec *v, struct tally *n)
{
	(void)need(v, "comment");
	assert_string_equal(need(v, "kind"), "proto");
	if (expect_code(v) == SB_OK)
		check_ok(v, n);
	else
		check_refused(v, n);
	all_used(v);
}

static void
for_each_proto(struct tally *n)
{
	char *index = slurp(VEC_DIR "INDEX", NULL), *line, *save = NULL;

	for (line = strtok_r(index, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		struct vec v;

		if (strncmp(line, "proto-", 6) != 0)
			continue;
		vec_load(&v, line);
		check_vector(&v, n);
		vec_free(&v);
	}
	free(index);
}

static void
test_proto_vectors_all(void **state)
{
	static const uint8_t from_client[] = {
		PROTO_REGISTER, PROTO_AUTH, PROTO_LOOKUP, PROTO_REMOVE, PROTO_SEND,
		PROTO_ACK, PROTO_STATUS, PROTO_BLOB_PUT, PROTO_BLOB_DATA,
		PROTO_BLOB_GET, PROTO_PING, PROTO_LOOKUP_LOG, PROTO_LOG_PROVE,
		PROTO_LOG_KEY, PROTO_LINK_OFFER, PROTO_LINK_LIST, PROTO_LINK_APPROVE,
		PROTO_REMOVE_SIGNED, PROTO_BLOB_DELETE,
	};
	static const uint8_t from_relay[] = {
		PROTO_HELLO, PROTO_OK, PROTO_ERROR, PROTO_LOOKUP_RESULT, PROTO_STALE,
		PROTO_PUSH, PROTO_STATUS_RESULT, PROTO_BLOB_URI, PROTO_BLOB_DATA,
		PROTO_PIN_NEXT,
		PROTO_LOOKUP_LOG_RESULT, PROTO_LOG_PROOF, PROTO_LOG_KEY_RESULT,
		PROTO_LINK_OFFERS,
	};
	struct tally n;
	size_t i;

	(void)state;
	memset(&n, 0, sizeof(n));
	for_each_proto(&n);
	assert_int_equal(n.ok, N_OK);
	assert_int_equal(n.frame, N_FRAME);
	assert_int_equal(n.type, N_TYPE);
	assert_int_equal(n.body, N_BODY);
	/* Every message of 13.4 has a positive vector in its direction. */
	for (i = 0; i < sizeof(from_client); i++)
		if (!(n.seen_client & type_bit(from_client[i])))
			fail_msg("no positive vector for %s from a client",
			    proto_type_name(from_client[i]));
	for (i = 0; i < sizeof(from_relay); i++)
		if (!(n.seen_relay & type_bit(from_relay[i])))
			fail_msg("no positive vector for %s from the relay",
			    proto_type_name(from_relay[i]));
}

/* ---- the encoder refuses what the negative vectors carry ----------------- */

/* proto_encode(m) must fail with want and leave out as it was. */
static void
encode_refused(const struct proto_msg *m, int want)
{
	struct sb_buf out = SB_BUF_INIT;

	assert_int_equal(sb_put_u8(&out, 0x42), SB_OK);
	assert_int_equal(proto_encode(m, &out), want);
	assert_int_equal(out.len, 1);
	assert_int_equal(out.err, SB_OK);
	sb_buf_free(&out);
}

static void
test_proto_vectors_encoder_caps(void **state)
{
	static uint8_t big[SB_MAX_BLOB_CHUNK + 1];
	struct proto_bytes addrs[SB_MAX_LOOKUP_ADDRS + 1];
	struct proto_status_entry st[2] = { { 1, PROTO_STATE_QUEUED }, { 2, 0 } };
	struct proto_msg m;
	size_t i;

	(void)state;
	for (i = 0; i <= SB_MAX_LOOKUP_ADDRS; i++) {
		addrs[i].p = (const uint8_t *)"a@b.c";
		addrs[i].len = 5;
	}
	/* Enums (13.3 check 3: FORMAT on decode). */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_REGISTER;
	m.suite = 0;
	encode_refused(&m, SB_ERR_INVALID_ARG);
	m.suite = 3;
	encode_refused(&m, SB_ERR_INVALID_ARG);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_HELLO;
	m.version = PROTO_VERSION + 1;
	encode_refused(&m, SB_ERR_INVALID_ARG);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_STATUS_RESULT;
	m.status = st;
	m.n_status = 2;
	encode_refused(&m, SB_ERR_INVALID_ARG);
	st[1].state = PROTO_STATE_REMOVED + 1;
	encode_refused(&m, SB_ERR_INVALID_ARG);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_ERROR;
	m.err = 0;
	encode_refused(&m, SB_ERR_INVALID_ARG);
	m.err = -1001;
	encode_refused(&m, SB_ERR_INVALID_ARG);
	/* Strings, lists and chunks over (or under) their caps. */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_BLOB_URI;
	m.text.p = big;
	m.text.len = SB_MAX_URI + 1;
	encode_refused(&m, SB_ERR_LENGTH);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_LOOKUP;
	m.addrs = addrs;
	encode_refused(&m, SB_ERR_LENGTH);              /* no address */
	m.n_addrs = SB_MAX_LOOKUP_ADDRS + 1;
	encode_refused(&m, SB_ERR_LENGTH);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_BLOB_DATA;
	m.data.p = big;
	encode_refused(&m, SB_ERR_LENGTH);              /* no byte */
	m.data.len = sizeof(big);
	encode_refused(&m, SB_ERR_LENGTH);
	memset(&m, 0, sizeof(m));
	m.type = 0x14;
	encode_refused(&m, SB_ERR_INVALID_ARG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_vectors_all),
		cmocka_unit_test(test_proto_vectors_encoder_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
