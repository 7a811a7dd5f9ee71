/*
 * wire.h - the one way sealbox reads untrusted bytes and builds outgoing ones.
 *
 * Everything that comes from the relay, the disk, the keyring or a peer is
 * parsed through struct sb_reader: bounds-checked getters that return 0 or a
 * negative SB_ERR_*, write their result through pointers, and on failure
 * zero the outputs and leave the cursor where it was.  Lengths are compared
 * as "len > remaining", never "off + len", so no getter can overflow.
 *
 * struct sb_buf is the matching growable writer.  It is wiped (cleansed)
 * before its memory is released, so it is safe to hold key material in it.
 * A put on a buffer that already failed is a no-op returning the same error,
 * so encoders may check once at the end.
 *
 * Neither type does I/O.
 */
#ifndef SB_WIRE_H
#define SB_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* A read cursor over caller-owned bytes.  Fields are private. */
struct sb_reader {
	const uint8_t *p;
	size_t len;
	size_t off;
};

void   sb_reader_init(struct sb_reader *r, const void *buf, size_t len);
size_t sb_reader_remaining(const struct sb_reader *r);
/* SB_ERR_TRAILING unless every byte has been consumed. */
int    sb_reader_expect_end(const struct sb_reader *r);

int sb_get_u8(struct sb_reader *r, uint8_t *v);
int sb_get_u16be(struct sb_reader *r, uint16_t *v);
int sb_get_u32be(struct sb_reader *r, uint32_t *v);
int sb_get_u64be(struct sb_reader *r, uint64_t *v);
/* Copies n bytes into out. */
int sb_get_bytes(struct sb_reader *r, void *out, size_t n);
/* Borrows n bytes: *p points into the reader's buffer (valid while it is). */
int sb_get_bytes_direct(struct sb_reader *r, const uint8_t **p, size_t n);
/* Borrows the rest of the input. */
int sb_get_rest_direct(struct sb_reader *r, const uint8_t **p, size_t *n);
/*
 * Length-prefixed strings (u8 / u16be / u32be prefix), borrowed.  A length
 * above max is SB_ERR_LENGTH, one longer than the input SB_ERR_TRUNCATED.
 */
int sb_get_string8_direct(struct sb_reader *r, const uint8_t **p, size_t *n, size_t max);
int sb_get_string16_direct(struct sb_reader *r, const uint8_t **p, size_t *n, size_t max);
int sb_get_string32_direct(struct sb_reader *r, const uint8_t **p, size_t *n, size_t max);
/*
 * One DER TLV with a single-byte tag equal to `tag`, definite length in its
 * minimal encoding (X.690 10.1), at most 4 length octets.  Borrows the
 * contents.  A different tag is SB_ERR_FORMAT.
 */
int sb_get_der_tlv_direct(struct sb_reader *r, uint8_t tag, const uint8_t **p, size_t *n);

/* A growable output buffer.  Zero-initialise it (SB_BUF_INIT) before use. */
struct sb_buf {
	uint8_t *d;
	size_t len;
	size_t cap;
	int err;     /* first failure, sticky */
};
#define SB_BUF_INIT { NULL, 0, 0, 0 }

/* Cleanses and frees the contents; the buffer is reusable afterwards. */
void sb_buf_free(struct sb_buf *b);
/* Truncates to n bytes (n <= len), cleansing what is dropped. */
void sb_buf_truncate(struct sb_buf *b, size_t n);
/* Reserves n bytes at the end and returns a pointer to them via *p. */
int  sb_buf_reserve(struct sb_buf *b, size_t n, uint8_t **p);
int  sb_put_u8(struct sb_buf *b, uint8_t v);
int  sb_put_u16be(struct sb_buf *b, uint16_t v);
int  sb_put_u32be(struct sb_buf *b, uint32_t v);
int  sb_put_u64be(struct sb_buf *b, uint64_t v);
int  sb_put_bytes(struct sb_buf *b, const void *p, size_t n);
/* Length-prefixed; SB_ERR_LENGTH if n does not fit the prefix. */
int  sb_put_string8(struct sb_buf *b, const void *p, size_t n);
int  sb_put_string16(struct sb_buf *b, const void *p, size_t n);
int  sb_put_string32(struct sb_buf *b, const void *p, size_t n);
/* DER TLV with minimal length encoding. */
int  sb_put_der_tlv(struct sb_buf *b, uint8_t tag, const void *p, size_t n);

/* Lower-case hex of n bytes into out: 2n digits and a NUL (out holds
 * 2n + 1 bytes). */
void sb_hex(const void *p, size_t n, char *out);
/* The same digits appended to b (no NUL). */
int  sb_put_hex(struct sb_buf *b, const void *p, size_t n);

/* Host helpers for fixed positions in already-validated buffers. */
void sb_store_u16be(uint8_t *p, uint16_t v);
void sb_store_u32be(uint8_t *p, uint32_t v);
void sb_store_u64be(uint8_t *p, uint64_t v);

#endif
