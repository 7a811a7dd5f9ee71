/*
 * proto.h - the sealbox relay wire protocol (docs/PROTOCOL.md (section 13)), shared
 * by the relay (relay/) and the agent-side client library (client/).
 *
 * A frame is  u32be len || u8 type || u32be rid || body,  where len counts
 * everything after itself and is at most SB_MAX_FRAME.  `rid` is the
 * request id chosen by the client and echoed by the relay's answer; pushes
 * carry rid 0.  Every decode goes through common/wire.h, is strict (unknown
 * type, short or trailing bytes, a length over its SB_MAX_* cap: rejected)
 * and yields a struct proto_msg whose byte fields BORROW from the frame
 * buffer (valid while that buffer is).  Lists are copied into arrays owned
 * by the message: free with proto_msg_clear().
 *
 * This module does no I/O and no cryptography: payloads and identities are
 * opaque bytes here, and signatures are only carried.
 */
#ifndef SB_PROTO_H
#define SB_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "../common/wire.h"

#define PROTO_VERSION            1

/* Named caps (all inclusive). */
#define SB_MAX_FRAME             (1024u * 1024u)  /* len field of one frame */
#define SB_FRAME_HDR             9u               /* len(4) type(1) rid(4) */
#define SB_MAX_ADDRESS           254u   /* e-mail (RFC 5321 path) or E.164 */
#define SB_MAX_CODE              64u    /* enrollment code text */
#define SB_MAX_IDENTITY          2048u  /* DER identity blob (RSA-4096 fits) */
#define SB_MAX_DEVICE_NAME       64u
#define SB_MAX_SIG               80u    /* DER ECDSA P-256 signature is <= 72 */
#define SB_MAX_LOOKUP_ADDRS      32u    /* addresses per lookup / per send */
#define SB_MAX_DEVICES_PER_ADDR  32u
#define SB_MAX_BATCH_DEVICES     48u    /* 48 x 16 KiB payloads fit one frame */
#define SB_MAX_PAYLOAD           65536u /* protocol cap; the relay's inline
                                           limit (4096/16384) is lower */
#define SB_MAX_BLOB_CHUNK        65536u /* bytes per BLOB_DATA frame */
#define SB_MAX_URI               80u
#define SB_MAX_ERRMSG            200u
#define SB_MAX_STATUS_DEVICES    (SB_MAX_BATCH_DEVICES)
#define SB_MAX_STALE_IDS         (SB_MAX_LOOKUP_ADDRS * SB_MAX_DEVICES_PER_ADDR)
/* The transparency log (PROTOCOL section 14; the same caps as tlog/tlog.h,
 * which the relay and the client check at compile time). */
#define SB_MAX_STH               128u   /* a signed tree head, 120..122 */
#define SB_MAX_PROOF             64u    /* hashes in one proof */
#define SB_MAX_LOG_ENTRY         1169u  /* one entry */
#define SB_MAX_LOG_ENTRIES       256u   /* entries of one address in an answer */
#define SB_MAX_LINK_OFFERS       8u     /* pending links of one address */
#define PROTO_HASH_LEN           32
#define PROTO_LOG_KEY_LEN        65     /* uncompressed P-256 point */
#define PROTO_MSGID_LEN          16
#define PROTO_CHALLENGE_LEN      32
#define PROTO_EXPORTER_LEN       32
#define PROTO_FP_LEN             32     /* SHA-256 of a certificate's DER */
/* RFC 8446 7.5 exporter label binding the auth signature to one TLS session. */
#define PROTO_EXPORTER_LABEL     "EXPORTER-sealbox-relay-auth"

enum proto_type {
	/* client -> relay */
	PROTO_REGISTER      = 0x01,
	PROTO_AUTH          = 0x02,
	PROTO_LOOKUP        = 0x03,
	PROTO_REMOVE        = 0x04,
	PROTO_SEND          = 0x05,
	PROTO_ACK           = 0x06,
	PROTO_STATUS        = 0x07,
	PROTO_BLOB_PUT      = 0x08,
	PROTO_BLOB_GET      = 0x0A,
	PROTO_PING          = 0x0B,
	PROTO_LOOKUP_LOG    = 0x0C,
	PROTO_LOG_PROVE     = 0x0D,
	PROTO_LOG_KEY       = 0x0E,
	PROTO_LINK_OFFER    = 0x0F,
	PROTO_LINK_LIST     = 0x10,
	PROTO_LINK_APPROVE  = 0x11,
	PROTO_REMOVE_SIGNED = 0x12,
	/* only to a relay that answered BLOB_PUT of size 0 (its blob cap)
	 * with OK: older relays close the connection on it */
	PROTO_BLOB_DELETE   = 0x13,
	/* both directions */
	PROTO_BLOB_DATA     = 0x09,
	/* relay -> client */
	PROTO_HELLO         = 0x80,
	PROTO_OK            = 0x81,
	PROTO_ERROR         = 0x82,
	PROTO_LOOKUP_RESULT = 0x83,
	PROTO_STALE         = 0x84,
	PROTO_PUSH          = 0x85,
	PROTO_STATUS_RESULT = 0x86,
	PROTO_BLOB_URI      = 0x87,
	PROTO_PIN_NEXT      = 0x8C,   /* 0x88..0x8B: the transparency log */
	PROTO_LOOKUP_LOG_RESULT = 0x88,
	PROTO_LOG_PROOF     = 0x89,
	PROTO_LOG_KEY_RESULT = 0x8A,
	PROTO_LINK_OFFERS   = 0x8B,
};

/* Per-device delivery state reported by STATUS. */
enum proto_state {
	PROTO_STATE_QUEUED    = 1,
	PROTO_STATE_DELIVERED = 2,   /* acknowledged by the device */
	PROTO_STATE_EXPIRED   = 3,   /* retention passed before an ack */
	PROTO_STATE_REMOVED   = 4,   /* the device left the directory */
};

/* A byte string borrowed from the frame (or, when encoding, from the caller). */
struct proto_bytes {
	const uint8_t *p;
	size_t len;
};

struct proto_device {          /* LOOKUP_RESULT entry */
	uint64_t id;
	struct proto_bytes name;
	struct proto_bytes identity;
};

struct proto_addr_devices {    /* LOOKUP_RESULT: one address */
	struct proto_bytes address;
	size_t n_devices;
	struct proto_device *devices;
};

struct proto_item {            /* SEND: one recipient device */
	uint64_t device_id;
	struct proto_bytes payload;
};

/* n hashes of PROTO_HASH_LEN bytes, contiguous, borrowed from the frame. */
struct proto_hashes {
	const uint8_t *p;
	size_t n;
};

struct proto_proven {          /* LOOKUP_LOG_RESULT: one log entry */
	uint64_t index;
	struct proto_bytes entry;
	struct proto_hashes path;
};

struct proto_link_offer {      /* LINK_OFFERS: one pending device */
	uint8_t suite;
	struct proto_bytes identity;
	struct proto_bytes name;
	uint64_t time;
};

struct proto_status_entry {
	uint64_t device_id;
	uint8_t state;             /* enum proto_state */
};

/*
 * One decoded (or to-be-encoded) message.  Only the fields of `type` are
 * meaningful; the rest stay zero.
 */
struct proto_msg {
	uint8_t type;
	uint32_t rid;

	/* REGISTER, LINK_OFFER (no code), LINK_APPROVE (identity, sig),
	 * LOOKUP_LOG (address), REMOVE_SIGNED (sig) */
	struct proto_bytes address, code, identity, name, sig;
	uint8_t suite;
	/* AUTH / REMOVE / REMOVE_SIGNED / ACK (item id) / BLOB_PUT (size; 0
	 * asks for the blob cap) / OK (value) / LOOKUP_LOG (known size) /
	 * LOG_PROVE (first) */
	uint64_t u64;
	/* LOG_PROVE (second) */
	uint64_t u64b;
	/* LOOKUP, SEND: addresses */
	size_t n_addrs;
	struct proto_bytes *addrs;
	/* SEND, STATUS, PUSH */
	uint8_t msgid[PROTO_MSGID_LEN];
	size_t n_items;
	struct proto_item *items;
	/* HELLO */
	uint8_t version;
	uint8_t challenge[PROTO_CHALLENGE_LEN];
	/* ERROR */
	int32_t err;               /* a negative SB_ERR_* */
	struct proto_bytes text;   /* ERROR message, BLOB_URI/GET/DELETE uri */
	/* LOOKUP_RESULT */
	size_t n_results;
	struct proto_addr_devices *results;
	/* STALE */
	size_t n_missing, n_extra;
	uint64_t *missing, *extra;
	/* PUSH (address = sender address, payload in `data`) */
	uint64_t item_id, sender_device, timestamp;
	/* PUSH payload, BLOB_DATA chunk */
	struct proto_bytes data;
	/* STATUS_RESULT */
	size_t n_status;
	struct proto_status_entry *status;
	/* PIN_NEXT: the next certificate's fingerprint (PROTOCOL.md 13.10) */
	uint8_t fingerprint[PROTO_FP_LEN];
	/* LOOKUP_LOG_RESULT: head, consistency proof (hashes), devices,
	 * entries; LOG_PROOF: hashes */
	struct proto_bytes head;
	struct proto_hashes hashes;
	size_t n_devices;
	struct proto_device *devices;
	size_t n_proven;
	struct proto_proven *proven;
	/* LOG_KEY_RESULT */
	uint8_t log_key[PROTO_LOG_KEY_LEN];
	/* LINK_OFFERS */
	size_t n_offers;
	struct proto_link_offer *offers;
};

/*
 * Given the first `avail` bytes of an input stream, tells how long the next
 * frame is.  Returns SB_OK with *total = whole frame length (header
 * included), SB_ERR_TRUNCATED if fewer than 4 bytes are there yet, or
 * SB_ERR_LENGTH if the announced length is below the header or above
 * SB_MAX_FRAME (the connection must then be closed).
 */
int  proto_frame_size(const uint8_t *buf, size_t avail, size_t *total);

/*
 * Decodes exactly one whole frame (buf, len = the *total from
 * proto_frame_size).  On success m's byte fields borrow from buf and its
 * arrays are owned by m (proto_msg_clear).  On failure m is cleared and the
 * error says why: SB_ERR_FORMAT (unknown type, bad enum value),
 * SB_ERR_TRUNCATED, SB_ERR_TRAILING, SB_ERR_LENGTH (a cap), SB_ERR_ALLOC.
 */
int  proto_decode(const uint8_t *buf, size_t len, struct proto_msg *m);
/* Frees m's arrays and zeroes it.  Accepts a zeroed message. */
void proto_msg_clear(struct proto_msg *m);

/*
 * Appends the frame for m to out (header included).  Enforces the same caps
 * as the decoder, so what we send the peer would accept: SB_ERR_LENGTH /
 * SB_ERR_INVALID_ARG otherwise, out unchanged.
 */
int  proto_encode(const struct proto_msg *m, struct sb_buf *out);

/* Appends the frame header + a BLOB_DATA chunk without building a msg. */
int  proto_encode_blob_data(uint32_t rid, const uint8_t *p, size_t n, struct sb_buf *out);

/* 1 if type is one the relay accepts from a client, else 0. */
int  proto_type_from_client(uint8_t type);

/*
 * Addresses are an e-mail address (local@domain.tld, printable ASCII, no
 * spaces) or an E.164 number (+ then 8..15 digits, first not 0).  Returns
 * SB_OK or SB_ERR_INVALID_ARG.
 */
int  proto_address_valid(const uint8_t *p, size_t len);

/*
 * A device name (REGISTER, shown by `sealbox devices` on other machines):
 * 1..SB_MAX_DEVICE_NAME bytes of well-formed UTF-8 (no overlong forms, no
 * surrogates) without control or invisible format characters: C0, DEL,
 * C1, U+00AD, U+061C, U+180E, U+200B..U+200F, U+2028..U+202E,
 * U+2060..U+206F, U+FEFF, U+FFF9..U+FFFB, noncharacters U+FFFE/U+FFFF and
 * the tags U+E0000..U+E007F.  Those reorder or hide what a terminal shows
 * (an RLO makes "evil" read "live").  Returns SB_OK or SB_ERR_INVALID_ARG.
 */
int  proto_device_name_valid(const uint8_t *p, size_t len);

/*
 * The bytes a device signs (crypto_sign) to authenticate, or to prove
 * possession of its signing key when registering.  Both bind the relay's
 * fresh challenge and the TLS session's exporter value, so a signature is
 * worthless on any other connection.  Appended to out.
 */
int  proto_auth_transcript(const uint8_t exporter[PROTO_EXPORTER_LEN],
         const uint8_t challenge[PROTO_CHALLENGE_LEN], uint64_t device_id,
         struct sb_buf *out);
int  proto_register_transcript(const uint8_t exporter[PROTO_EXPORTER_LEN],
         const uint8_t challenge[PROTO_CHALLENGE_LEN],
         const uint8_t *address, size_t address_len,
         const uint8_t *identity, size_t identity_len, struct sb_buf *out);
/* LINK_OFFER's (PROTOCOL 14.7): the register transcript under its own
 * context, so neither signature passes for the other. */
int  proto_link_transcript(const uint8_t exporter[PROTO_EXPORTER_LEN],
         const uint8_t challenge[PROTO_CHALLENGE_LEN],
         const uint8_t *address, size_t address_len,
         const uint8_t *identity, size_t identity_len, struct sb_buf *out);

/* A static name for a type (logs), "unknown" otherwise. */
const char *proto_type_name(uint8_t type);
/* A static name for a state, "unknown" otherwise. */
const char *proto_state_name(uint8_t state);

#endif
