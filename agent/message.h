/*
 * message.h - the inner message: the plaintext that is sealed once per
 * recipient device (docs/PROTOCOL.md "Inner message").
 *
 * Layout (all integers big-endian; strings are length-prefixed bytes, no NUL):
 *     u8      version (MESSAGE_VERSION)
 *     16      message id (= the relay batch's message id)
 *     u64     sender timestamp (s since the epoch)
 *     str8    sender address (canonical, agent/names.h)
 *     u16     recipient count (1..MESSAGE_MAX_RECIPIENTS), then that many
 *     str8    recipient addresses (canonical, strictly ascending bytewise)
 *     str8    outbox folder name as the sender typed it (1..255 bytes)
 *     str8    file name (1..255 bytes)
 *     u64     file mtime, seconds;  u32 nanoseconds (< 1e9)
 *     u8      kind: 1 inline, 2 attachment, 3 folder (no fields follow)
 *   inline:
 *     str32   content (0..MESSAGE_MAX_INLINE bytes)
 *   attachment:
 *     32      AES-256-CTR key
 *     str8    blob URI (1..SB_MAX_URI bytes, printable ASCII)
 *     20      SHA-1 of the blob (ciphertext)
 *     32      SHA-256 of the blob (ciphertext)
 *     u64     size (plaintext = ciphertext size)
 *   then zero or more extensions (docs/PROTOCOL.md section 11): u8 type
 *   (strictly ascending, 1..255), str16 value (<= MESSAGE_MAX_EXT_VALUE);
 *   at most MESSAGE_MAX_EXTENSIONS.  Type 1 is gossip: the sender's newest
 *   signed tree head (1..MESSAGE_MAX_GOSSIP bytes, section 14.9).  Type 2
 *   is path (section 11.1): u8 depth (1..MESSAGE_MAX_DEPTH), then depth
 *   str8 folder names, from the conversation folder down to the parent of
 *   `name`.  Other types are skipped (a later version's, still under the
 *   signature).
 *   end: no trailing bytes.
 * Folder and file names must not contain NUL or '/' and must not be "." or
 * "..".  No compression.
 *
 * Pure: no I/O, no clock.  message_parse borrows from its input; the
 * envelope checks (sender, id, recipients, time, replay) are the
 * receiver's, not this codec's.
 */
#ifndef SB_AGENT_MESSAGE_H
#define SB_AGENT_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/wire.h"
#include "../crypto/crypto.h"
#include "names.h"

#define MESSAGE_VERSION         1
#define MESSAGE_ID_LEN          16
#define MESSAGE_MAX_RECIPIENTS  NAMES_MAX_RECIPIENTS
#define MESSAGE_MAX_ADDR        NAMES_ADDR_MAX
#define MESSAGE_MAX_NAME        NAMES_NAME_MAX
/* A sealed payload's body length is a u16, so inline content never exceeds it. */
#define MESSAGE_MAX_INLINE      65535u
/* proto.h's SB_MAX_URI (80); repeated so this header stays light. */
#define MESSAGE_MAX_URI         80u
#define MESSAGE_MAX_EXTENSIONS  8
#define MESSAGE_MAX_EXT_VALUE   1024u
#define MESSAGE_EXT_GOSSIP      1
#define MESSAGE_EXT_PATH        2
/* Folders above a file in one message (its own name makes it 32 levels). */
#define MESSAGE_MAX_DEPTH       31
/* tlog.h's TLOG_MAX_STH; repeated so this header stays light. */
#define MESSAGE_MAX_GOSSIP      128u

enum message_kind {
	MESSAGE_INLINE     = 1,
	MESSAGE_ATTACHMENT = 2,
	MESSAGE_FOLDER     = 3,   /* a folder made in a conversation (11.1) */
};

/* A borrowed byte string (not NUL-terminated). */
struct message_str {
	const char *p;
	size_t len;
};

struct message_attachment {
	uint8_t key[CRYPTO_ATTACH_KEY_LEN];
	struct message_str uri;
	uint8_t sha1[CRYPTO_SHA1_LEN];
	uint8_t sha256[CRYPTO_SHA256_LEN];
	uint64_t size;
};

struct message {
	uint8_t id[MESSAGE_ID_LEN];
	uint64_t timestamp;
	struct message_str sender;
	size_t n_recipients;
	struct message_str recipients[MESSAGE_MAX_RECIPIENTS];
	struct message_str folder;
	struct message_str name;
	uint64_t mtime_sec;
	uint32_t mtime_nsec;
	enum message_kind kind;
	const uint8_t *content;            /* inline */
	size_t content_len;
	struct message_attachment att;     /* attachment (att.key is secret) */
	/* Extension 1: the sender's newest signed tree head, opaque here
	 * (checked by the receiver after the message passed every check). */
	const uint8_t *gossip;             /* NULL / 0: none */
	size_t gossip_len;
	/* Extension 2: the folders above `name`, top first; depth 0 when the
	 * file (or folder) is directly in the conversation (no extension). */
	size_t depth;
	struct message_str path[MESSAGE_MAX_DEPTH];
	/* Parse only: bytes of extensions of unknown types that were skipped
	 * (the encoding without them is message_encoded_size). */
	size_t skipped_len;
};

/*
 * Appends the encoding of m to out.  Checks every field as message_parse
 * would (recipients must already be canonical and sorted: see
 * message_sort_recipients) and appends nothing on failure:
 * SB_ERR_INVALID_ARG / SB_ERR_LENGTH.  out is a cleansing sb_buf, so
 * encoding a key or content into it is safe.
 */
int message_encode(const struct message *m, struct sb_buf *out);

/*
 * Parses exactly len bytes into *m, borrowing from buf (m is valid while buf
 * is).  Strict: wrong version/kind SB_ERR_FORMAT, a length over its cap or
 * a bad count SB_ERR_LENGTH, short input SB_ERR_TRUNCATED, leftover bytes
 * SB_ERR_TRAILING, a non-canonical/unsorted/duplicate address or a bad name
 * SB_ERR_FORMAT.  Extensions: type 0, types out of order or repeated
 * SB_ERR_FORMAT; more than MESSAGE_MAX_EXTENSIONS, a value over
 * MESSAGE_MAX_EXT_VALUE or a gossip value of 0 or over MESSAGE_MAX_GOSSIP
 * bytes SB_ERR_LENGTH.  A message with an extension of a type this
 * version does not know re-encodes without it.  On failure *m is zeroed.
 */
int message_parse(const uint8_t *buf, size_t len, struct message *m);

/* Sorts m->recipients ascending bytewise (the order the codec requires);
 * duplicates are left for message_encode to refuse. */
void message_sort_recipients(struct message *m);

/* Exact size message_encode would produce for m (no validation). */
size_t message_encoded_size(const struct message *m);

/*
 * Bytes an inline message for m costs besides its content: the encoded size
 * with content_len 0.  The sender sends inline when, for every device,
 * crypto_seal of (overhead + content_len) bytes fits both
 * crypto_seal_max_plaintext(device) and the relay's inline limit.
 */
size_t message_inline_overhead(const struct message *m);

/* For the receiver: 1 if the canonical address addr (len bytes) is among
 * m's recipients, else 0. */
int message_has_recipient(const struct message *m, const char *addr, size_t len);

#endif
