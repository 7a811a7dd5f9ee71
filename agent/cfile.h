/*
 * cfile.h - an encrypted content file of the home's data/ (docs/PROTOCOL.md
 * "At rest"): outbox drafts and sent copies, received texts and attachments.
 *
 * A cfile behaves like a plain file with pread/pwrite at any offset, but
 * what reaches the disk is only a header and AES-256-GCM chunks
 * (crypto/crypto.h "At rest") under a subkey of the home's storage key:
 *     header  "SBCF" | u8 version (1) | u8 0 | u16be 0 | u32be chunk size
 *             (65536) | 16-byte random file id                  (28 bytes)
 *     chunks  nonce (12) | ciphertext (<= 65536) | tag (16), each full
 *             except the last, which carries the final flag; an empty file
 *             is one empty final chunk.
 * The plaintext size follows from the file length; a file whose length does
 * not fit that rule (cut short or padded) is SB_ERR_TRUNCATED/SB_ERR_FORMAT
 * at open; a chunk that does not verify is SB_ERR_TAG when read.
 *
 * Memory is O(one chunk) whatever the file size: the cfile caches one
 * decrypted chunk (wiped on eviction and close).  Writes go into that cache;
 * a chunk is sealed when a write or read moves past it, on cfile_sync and on
 * cfile_close.  So between syncs the on-disk file is not a consistent cfile
 * (another handle opening the same path may fail with SB_ERR_TAG or
 * SB_ERR_TRUNCATED): read a file being written through the writing handle,
 * or after its cfile_sync.
 *
 * A large file goes to the disk while it is written: every 8 MiB the
 * kernel is asked to start writing back its dirty pages (no wait, no
 * promise), so the fsync of cfile_sync finds little left to write.
 *
 * Never writes plaintext to disk; never holds the storage key (only the
 * file's subkey, in the OpenSSL secure heap).
 *
 * Threads: a cfile is not thread-safe; one thread at a time (the caller
 * locks).  Different cfiles are independent.
 *
 * Errors: SB_OK or a negative SB_ERR_*; SB_ERR_SYSTEM leaves the failing
 * call's errno in errno (ENOSPC stays ENOSPC).
 */
#ifndef SB_AGENT_CFILE_H
#define SB_AGENT_CFILE_H

#include <stddef.h>
#include <stdint.h>

#include "../crypto/crypto.h"

#define CFILE_MAGIC        "SBCF"
#define CFILE_VERSION      1
#define CFILE_HEADER_LEN   28
#define CFILE_CHUNK        CRYPTO_ATREST_CHUNK_MAX
#define CFILE_CHUNK_DISK   (CFILE_CHUNK + CRYPTO_ATREST_OVERHEAD)
/* Largest plaintext size (keeps every offset computation inside u64/off_t). */
#define CFILE_MAX_SIZE     (UINT64_C(1) << 46)

struct cfile;

/*
 * Creates a new, empty cfile at path (O_CREAT|O_EXCL, mode 0600; SB_ERR_SYSTEM
 * with errno EEXIST if it exists) with a fresh file id, writes its header
 * and empty final chunk, and returns it open for reading and writing.  Not
 * yet durable: call cfile_sync (which also fsyncs nothing but the file: the
 * caller fsyncs the directory if the entry itself must survive a crash).
 * On failure nothing is left at path.
 */
int  cfile_create(const char *path, const uint8_t storage_key[CRYPTO_STORAGE_KEY_LEN],
         struct cfile **out);

/*
 * Opens an existing cfile (writable: O_RDWR, else O_RDONLY), checks the
 * header and that the length is a valid cfile length.  SB_ERR_FORMAT for a
 * wrong magic/version/chunk size, SB_ERR_TRUNCATED for an impossible length.
 * The last chunk is verified (SB_ERR_TAG if not) so the size is trustworthy.
 */
int  cfile_open(const char *path, const uint8_t storage_key[CRYPTO_STORAGE_KEY_LEN],
         int writable, struct cfile **out);

/*
 * Reads up to n bytes at plaintext offset off into buf; *got is n, fewer at
 * the end of the file, 0 at or past it.  Every chunk touched is verified:
 * SB_ERR_TAG (-> EBADMSG) on tamper; nothing of a failing chunk is copied.
 */
int  cfile_pread(struct cfile *cf, void *buf, size_t n, uint64_t off, size_t *got);

/*
 * Writes n bytes at plaintext offset off (read-modify-write of partial
 * chunks; a gap past the end reads back as zeros).  SB_ERR_TOO_BIG past
 * CFILE_MAX_SIZE; SB_ERR_INVALID_ARG on a read-only cfile.
 */
int  cfile_pwrite(struct cfile *cf, const void *buf, size_t n, uint64_t off);

/* Sets the plaintext size (shrinks, or grows with zeros). */
int  cfile_truncate(struct cfile *cf, uint64_t size);

/* The current plaintext size (including cached, not yet sealed writes). */
uint64_t cfile_size(const struct cfile *cf);

/* The file id (CRYPTO_ATREST_FILE_ID_LEN bytes, borrowed): a store may
 * record it and compare after open to notice two content files swapped. */
const uint8_t *cfile_file_id(const struct cfile *cf);

/*
 * The attachment form, made while the file is written (issue 15, docs/
 * ARCHITECTURE.md "Attachments in one pass"): on a cfile just made by
 * cfile_create, cfile_blob_begin draws a fresh attachment key (held in the
 * OpenSSL secure heap, never on disk) and from then on every chunk sealed
 * full and in order (0, 1, 2, ...) is AES-256-CTR encrypted at its stream
 * offset (docs/PROTOCOL.md 6) and its ciphertext hashed (SHA-1, SHA-256)
 * on a worker thread, started at the first full chunk (a small file never
 * starts one; four chunk buffers while it runs).  A write or truncation
 * behind what was hashed stops it for good (truncation to 0 starts it
 * over).  At cfile_close, if it never stopped, the rest is hashed and the
 * key, size and hashes are kept in memory by file id (at most 256 files,
 * the oldest dropped) until cfile_blob_take hands them out; a writable
 * cfile_open of the same file forgets them.  The spool itself is
 * unchanged: AES-256-GCM chunks as always.
 *
 * cfile_blob_take: SB_OK with the key and hashes of cf's content as it is
 * now (the size must match), once: the entry is gone afterwards, so a key
 * encrypts at most one upload.  SB_ERR_NOT_FOUND when there is none (the
 * file was rewritten, the mount restarted, the form never ran): the
 * caller encrypts and hashes itself.
 */
int  cfile_blob_begin(struct cfile *cf);
int  cfile_blob_take(struct cfile *cf, uint8_t key[CRYPTO_ATTACH_KEY_LEN],
         uint8_t sha1[CRYPTO_SHA1_LEN], uint8_t sha256[CRYPTO_SHA256_LEN]);

/* Seals what is cached, without fsync: afterwards the file in the kernel
 * is a complete, consistent cfile (it survives a crash of the process, not
 * yet a power loss). */
int  cfile_seal(struct cfile *cf);

/* Seals what is cached and fsyncs: afterwards the file on disk is a
 * complete, consistent cfile and durable. */
int  cfile_sync(struct cfile *cf);

/*
 * Seals what is cached (no fsync: call cfile_sync first if durability
 * matters), closes and frees, wiping the subkey and the cache.  Always
 * frees; returns the first error (a failed final seal or close).  NULL ok.
 */
int  cfile_close(struct cfile *cf);

#endif
