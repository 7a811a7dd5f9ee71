/*
 * proto_stream.h - the body of fuzz_proto_c2r.c and fuzz_proto_r2c.c: the
 * relay frame codec (proto/proto.h) on a byte stream, as a peer would send
 * it.  The input is cut into frames with proto_frame_size exactly as the
 * relay (relay/server.c) and the client (client/client.c) do; each whole
 * frame is copied into a heap block of its own size (so ASan sees any
 * overread) and decoded.
 *
 * Properties: a frame that decodes re-encodes to the identical bytes (the
 * codec is strict and canonical, so the two can never disagree), a failed
 * decode leaves the message cleared, and a truncated tail never decodes.
 * The identities a frame carries (REGISTER, LOOKUP_RESULT) go on to
 * crypto_identity_parse, as they do in the relay and the agent.
 */
#ifndef SB_FUZZ_PROTO_H
#define SB_FUZZ_PROTO_H

#include "fuzz.h"
#include "proto/proto.h"

static void
parse_identity(const struct proto_bytes *b)
{
	struct crypto_identity *id = NULL;

	if (crypto_identity_parse(b->p, b->len, &id) == SB_OK)
		crypto_identity_free(id);
}

static void
use_msg(const struct proto_msg *m)
{
	size_t i, j;

	(void)proto_type_name(m->type);
	if (m->address.len > 0)
		(void)proto_address_valid(m->address.p, m->address.len);
	for (i = 0; i < m->n_addrs; i++)
		(void)proto_address_valid(m->addrs[i].p, m->addrs[i].len);
	if (m->type == PROTO_REGISTER)
		parse_identity(&m->identity);
	for (i = 0; i < m->n_results; i++) {
		(void)proto_address_valid(m->results[i].address.p, m->results[i].address.len);
		for (j = 0; j < m->results[i].n_devices; j++)
			parse_identity(&m->results[i].devices[j].identity);
	}
	for (i = 0; i < m->n_status; i++)
		FUZZ_ASSERT(strcmp(proto_state_name(m->status[i].state), "unknown") != 0);
}

/* Decodes one whole frame the way `from_client` (relay side: 1; client
 * side: 0) does, and checks the round trip. */
static void
one_frame(const uint8_t *src, size_t len, int from_client)
{
	struct proto_msg m;
	struct sb_buf out = SB_BUF_INIT;
	uint8_t *frame = malloc(len);
	int rc;

	FUZZ_ASSERT(frame != NULL);
	memcpy(frame, src, len);
	rc = proto_decode(frame, len, &m);
	if (rc != SB_OK) {
		FUZZ_ASSERT(rc < 0 && m.type == 0 && m.addrs == NULL && m.items == NULL &&
		    m.results == NULL && m.missing == NULL && m.extra == NULL &&
		    m.status == NULL);
		free(frame);
		return;
	}
	/* Each side refuses the other side's message types after decoding. */
	if (proto_type_from_client(m.type) == from_client) {
		use_msg(&m);
	}
	FUZZ_ASSERT(proto_encode(&m, &out) == SB_OK);
	FUZZ_ASSERT(out.len == len && memcmp(out.d, frame, len) == 0);
	if (m.type == PROTO_BLOB_DATA) {
		sb_buf_truncate(&out, 0);
		FUZZ_ASSERT(proto_encode_blob_data(m.rid, m.data.p, m.data.len, &out) == SB_OK);
		FUZZ_ASSERT(out.len == len && memcmp(out.d, frame, len) == 0);
	}
	sb_buf_free(&out);
	proto_msg_clear(&m);
	FUZZ_ASSERT(m.addrs == NULL && m.n_addrs == 0);
	free(frame);
}

static void
fuzz_proto_stream(const uint8_t *data, size_t size, int from_client)
{
	struct proto_msg m;
	size_t off = 0, total;
	int rc;

	while (off < size) {
		rc = proto_frame_size(data + off, size - off, &total);
		if (rc != SB_OK) {
			FUZZ_ASSERT(total == 0);
			FUZZ_ASSERT(rc == SB_ERR_TRUNCATED ? size - off < 4 : rc == SB_ERR_LENGTH);
			break;
		}
		FUZZ_ASSERT(total >= SB_FRAME_HDR && total <= SB_MAX_FRAME + 4);
		if (total > size - off) {
			/* The peer stopped mid-frame: what arrived never decodes. */
			FUZZ_ASSERT(proto_decode(data + off, size - off, &m) == SB_ERR_TRUNCATED);
			break;
		}
		/* The relay looks at the type byte before decoding. */
		if (!from_client || proto_type_from_client(data[off + 4]))
			one_frame(data + off, total, from_client);
		off += total;
	}
	/* The whole input as one frame, consistent length or not. */
	if (proto_decode(data, size, &m) == SB_OK)
		proto_msg_clear(&m);
}

#endif
