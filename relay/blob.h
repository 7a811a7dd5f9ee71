/*
 * blob.h - the contents of the relay's attachment blobs, streamed in and
 * out one chunk at a time (never a whole blob in memory), wherever they
 * live: files under DIR/blobs on a single node, or chunk rows of the
 * PostgreSQL store that every node of a cluster shares (store.h's blob_*
 * content ops).  The record of a blob (size, owner, age) is the store's
 * either way.  Never interprets the bytes.
 *
 * Return values are SB_OK or a negative SB_ERR_*: SB_ERR_NO_SPACE for a
 * full disk (the sender waits and retries), SB_ERR_SYSTEM for another
 * failed call (errno kept), SB_ERR_STORAGE for the database.
 */
#ifndef SB_RELAY_BLOB_H
#define SB_RELAY_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/proto.h"
#include "store.h"

struct relay_blobs;
struct relay_upload;
struct relay_download;

/* Blobs of the relay in datadir over store st (borrowed; outlives *out).
 * A file store drops half-written uploads of a previous run here. */
int  relay_blobs_new(const char *datadir, struct relay_store *st,
         struct relay_blobs **out);
void relay_blobs_free(struct relay_blobs *b);
/* SB_OK when size more bytes fit (a file store checks its file system,
 * keeping a margin for the database); else SB_ERR_NO_SPACE. */
int  relay_blobs_room(struct relay_blobs *b, uint64_t size);
/* Deletes blobs created before cutoff, contents and records. */
int  relay_blobs_expire(struct relay_blobs *b, uint64_t cutoff);
/* Deletes the blob named uri (len bytes, untrusted) if device owner
 * uploaded it, record and contents (BLOB_DELETE, PROTOCOL.md 13.6);
 * SB_ERR_NOT_FOUND for any other uri, malformed ones included. */
int  relay_blobs_delete(struct relay_blobs *b, const uint8_t *uri, size_t len,
         uint64_t owner);

/* An upload of size bytes by device owner: write chunks (in order, their
 * total exactly size), then finish (publishes it under a fresh random
 * URI, durably, and frees up) or abort (forgets it, frees up). */
int  relay_upload_begin(struct relay_blobs *b, uint64_t owner, uint64_t size,
         uint64_t now, struct relay_upload **up);
int  relay_upload_write(struct relay_upload *up, const uint8_t *p, size_t n);
int  relay_upload_finish(struct relay_upload *up, uint64_t now, char uri[SB_MAX_URI]);
void relay_upload_abort(struct relay_upload *up);

/* A download of the blob named uri (len bytes, untrusted: anything but a
 * well-formed URI is SB_ERR_NOT_FOUND, as is a blob created before
 * not_before); *size is what will be served.  read gives the next chunk,
 * 1..cap bytes (cap >= SB_MAX_BLOB_CHUNK); close accepts NULL. */
int  relay_download_open(struct relay_blobs *b, const uint8_t *uri, size_t len,
         uint64_t not_before, uint64_t *size, struct relay_download **d);
int  relay_download_read(struct relay_download *d, uint8_t *buf, size_t cap, size_t *n);
void relay_download_close(struct relay_download *d);

#endif
