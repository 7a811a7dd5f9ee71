/*
 * cfile.c - encrypted content files: a plain-file view (pread/pwrite at any
 * offset) over a header and AES-256-GCM chunks (cfile.h, docs/PROTOCOL.md
 * "At rest").
 *
 * Never writes plaintext to disk, never keeps the storage key (only the
 * file's subkey, inside crypto_atrest) and never allocates more than three
 * chunk-sized buffers per open file, whatever its size (seven, and one
 * worker thread, while cfile_blob_begin's attachment form is being made).
 *
 * The on-disk state between syncs is tracked by three numbers:
 *   disk_chunks  chunks present on disk (indices 0 .. disk_chunks-1);
 *   disk_final   the index sealed with the final flag, or NONE; when set it
 *                is disk_chunks-1 and is the only chunk that may be short;
 *   disk_len     the file's length.
 * Every other chunk on disk is full (65536 bytes) and sealed non-final.
 * The logical file (size, and the one cached chunk) runs ahead of the disk;
 * finalize() brings the disk to exactly the logical file with the final
 * flag on its last chunk.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../common/sberr.h"
#include "../common/wire.h"
#include "cfile.h"

#define NONE UINT64_MAX
/*
 * A large file's pages go to the disk while it is written, not all at its
 * cfile_sync: every WRITEBACK_EVERY bytes the kernel is asked to start
 * writing back what is dirty (sync_file_range, SYNC_FILE_RANGE_WRITE: it
 * waits for nothing and promises nothing; the fsync still does).  Without
 * it a machine with much memory keeps a whole 1 GiB file dirty until the
 * fsync of its close, which then writes it all while the writer waits.
 */
#define WRITEBACK_EVERY (8u << 20)

struct cfile {
	int fd;
	int writable;
	uint8_t file_id[CRYPTO_ATREST_FILE_ID_LEN];
	struct crypto_atrest *at;
	uint64_t size;          /* logical plaintext size */
	uint64_t disk_chunks;
	uint64_t disk_final;
	uint64_t disk_len;
	uint8_t *cache;         /* CFILE_CHUNK bytes: chunk cidx, zero past its end */
	uint64_t cidx;          /* NONE when nothing is cached */
	int dirty;
	uint8_t *scratch;       /* CFILE_CHUNK bytes, for re-sealing another chunk */
	uint8_t *sealed;        /* CFILE_CHUNK_DISK bytes */
	struct blobform *bf;    /* cfile_blob_begin: the attachment form, or NULL */
	uint64_t unsynced;      /* bytes written since writeback was last started */
};

/*
 * The attachment form made while the file is written (cfile_blob_begin).
 * Chunks 0 .. next-1 have been handed to the worker, as AES-256-CTR
 * ciphertext under key at their stream offsets, in order; the worker
 * hashes them.  Only the owning thread touches key, next and dead; the
 * ring is shared with the worker under mu.
 */
#define BF_RING 4
struct blobform {
	uint8_t *key;           /* CRYPTO_ATTACH_KEY_LEN bytes, secure heap */
	struct crypto_hasher *h;
	uint64_t next;
	int dead;               /* stopped: a write behind next, an error */
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t *ring[BF_RING]; /* CFILE_CHUNK bytes of ciphertext each */
	unsigned head, count;
	int stop, err;
};

/* The attachment forms of closed files, for the sender (cfile_blob_take):
 * by file id, at most BF_DONE_MAX (a burst of files queued behind one
 * another), the oldest dropped first. */
#define BF_DONE_MAX 256
struct blob_done {
	struct blob_done *next;
	uint8_t id[CRYPTO_ATREST_FILE_ID_LEN];
	uint64_t size;
	uint8_t *key;           /* secure heap */
	uint8_t sha1[CRYPTO_SHA1_LEN], sha256[CRYPTO_SHA256_LEN];
};
static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static struct blob_done *done_list;
static unsigned done_n;

static void
done_free(struct blob_done *d)
{
	if (d == NULL)
		return;
	OPENSSL_secure_clear_free(d->key, CRYPTO_ATTACH_KEY_LEN);
	crypto_wipe(d, sizeof(*d));
	free(d);
}

/* Unlinks and returns the entry for id (done_mu held), NULL if none. */
static struct blob_done *
done_unlink(const uint8_t id[CRYPTO_ATREST_FILE_ID_LEN])
{
	for (struct blob_done **pp = &done_list; *pp != NULL; pp = &(*pp)->next)
		if (memcmp((*pp)->id, id, CRYPTO_ATREST_FILE_ID_LEN) == 0) {
			struct blob_done *d = *pp;

			*pp = d->next;
			done_n--;
			return d;
		}
	return NULL;
}

static void
done_forget(const uint8_t id[CRYPTO_ATREST_FILE_ID_LEN])
{
	struct blob_done *d;

	pthread_mutex_lock(&done_mu);
	d = done_unlink(id);
	pthread_mutex_unlock(&done_mu);
	done_free(d);
}

static void
done_add(struct blob_done *d)
{
	struct blob_done *old, **pp;

	pthread_mutex_lock(&done_mu);
	old = done_unlink(d->id);
	d->next = done_list;
	done_list = d;
	done_n++;
	if (done_n > BF_DONE_MAX) {
		for (pp = &done_list; (*pp)->next != NULL; pp = &(*pp)->next)
			;
		done_free(*pp);
		*pp = NULL;
		done_n--;
	}
	pthread_mutex_unlock(&done_mu);
	done_free(old);
}

static void *
bf_worker(void *arg)
{
	struct blobform *bf = arg;

	pthread_mutex_lock(&bf->mu);
	for (;;) {
		while (bf->count == 0 && !bf->stop)
			pthread_cond_wait(&bf->cv, &bf->mu);
		if (bf->count == 0)
			break;
		uint8_t *p = bf->ring[bf->head];

		pthread_mutex_unlock(&bf->mu);
		/* Every queued chunk is full: only those go to the worker. */
		int rc = crypto_hasher_update(bf->h, p, CFILE_CHUNK);
		pthread_mutex_lock(&bf->mu);
		if (rc != SB_OK && bf->err == SB_OK)
			bf->err = rc;
		bf->head = (bf->head + 1) % BF_RING;
		bf->count--;
		pthread_cond_broadcast(&bf->cv);
	}
	pthread_mutex_unlock(&bf->mu);
	return NULL;
}

/* Waits until the worker hashed everything queued; its error, if any. */
static int
bf_drain(struct blobform *bf)
{
	int rc;

	pthread_mutex_lock(&bf->mu);
	while (bf->count > 0)
		pthread_cond_wait(&bf->cv, &bf->mu);
	rc = bf->err;
	pthread_mutex_unlock(&bf->mu);
	return rc;
}

static void
bf_free(struct blobform *bf)
{
	if (bf == NULL)
		return;
	if (bf->started) {
		pthread_mutex_lock(&bf->mu);
		bf->stop = 1;
		pthread_cond_broadcast(&bf->cv);
		pthread_mutex_unlock(&bf->mu);
		pthread_join(bf->thread, NULL);
	}
	pthread_mutex_destroy(&bf->mu);
	pthread_cond_destroy(&bf->cv);
	for (unsigned i = 0; i < BF_RING; i++)
		free(bf->ring[i]);
	crypto_hasher_free(bf->h);
	OPENSSL_secure_clear_free(bf->key, CRYPTO_ATTACH_KEY_LEN);
	free(bf);
}

/* Stops the attachment form for good (a write behind what was hashed):
 * the sender encrypts and hashes at upload instead. */
static void
bf_kill(struct cfile *cf)
{
	if (cf->bf != NULL && !cf->bf->dead) {
		cf->bf->dead = 1;
		done_forget(cf->file_id);
	}
}

/* Chunk idx was sealed with len bytes of pt: the next one in order and
 * full goes to the worker as ciphertext (waiting while the ring is full). */
static void
bf_sealed(struct cfile *cf, uint64_t idx, const uint8_t *pt, size_t len)
{
	struct blobform *bf = cf->bf;
	unsigned slot;

	if (bf == NULL || bf->dead || idx != bf->next || len != CFILE_CHUNK)
		return;
	if (!bf->started) {
		for (unsigned i = 0; i < BF_RING; i++)
			if ((bf->ring[i] = malloc(CFILE_CHUNK)) == NULL) {
				bf_kill(cf);
				return;
			}
		if (pthread_create(&bf->thread, NULL, bf_worker, bf) != 0) {
			bf_kill(cf);
			return;
		}
		bf->started = 1;
	}
	pthread_mutex_lock(&bf->mu);
	while (bf->count == BF_RING)
		pthread_cond_wait(&bf->cv, &bf->mu);
	slot = (bf->head + bf->count) % BF_RING;
	pthread_mutex_unlock(&bf->mu);
	/* The slot is ours until counted in: the worker reads only counted ones. */
	if (crypto_attach_xor(bf->key, idx * CFILE_CHUNK, pt, bf->ring[slot],
	    CFILE_CHUNK) != SB_OK) {
		bf_kill(cf);
		return;
	}
	pthread_mutex_lock(&bf->mu);
	bf->count++;
	pthread_cond_broadcast(&bf->cv);
	pthread_mutex_unlock(&bf->mu);
	bf->next++;
}

/* Truncation to nothing: the form starts over (the key has encrypted
 * nothing that left this process). */
static int
bf_restart(struct blobform *bf)
{
	int rc;

	if (bf->dead)
		return SB_ERR_INVALID_ARG;
	if (bf->started && (rc = bf_drain(bf)) != SB_OK)
		return rc;
	crypto_hasher_free(bf->h);
	bf->h = NULL;
	if ((rc = crypto_hasher_new(&bf->h)) != SB_OK)
		return rc;
	bf->next = 0;
	return SB_OK;
}

/* ---- Geometry ------------------------------------------------------------ */

static uint64_t
last_index(uint64_t size)
{
	return size == 0 ? 0 : (size - 1) / CFILE_CHUNK;
}

/* Plaintext bytes of chunk idx in a file of `size` bytes. */
static size_t
chunk_len(uint64_t size, uint64_t idx)
{
	uint64_t start = idx * CFILE_CHUNK;

	if (start >= size)
		return 0;
	return size - start >= CFILE_CHUNK ? CFILE_CHUNK : (size_t)(size - start);
}

static uint64_t
chunk_pos(uint64_t idx)
{
	return CFILE_HEADER_LEN + idx * (uint64_t)CFILE_CHUNK_DISK;
}

/* ---- Raw I/O ------------------------------------------------------------- */

static int
pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = pread(fd, p, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return SB_ERR_SYSTEM;
		if (r == 0)
			return SB_ERR_TRUNCATED;
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return SB_OK;
}

static int
pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = pwrite(fd, p, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return SB_ERR_SYSTEM;
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return SB_OK;
}

/* ---- Chunks on disk -------------------------------------------------------- */

/* Seals len bytes of pt as chunk idx and writes it in place. */
static int
write_chunk(struct cfile *cf, uint64_t idx, int final, const uint8_t *pt, size_t len)
{
	uint64_t pos = chunk_pos(idx), end = pos + len + CRYPTO_ATREST_OVERHEAD;
	int rc;

	if ((rc = crypto_atrest_seal(cf->at, idx, final, pt, len, cf->sealed)) != SB_OK)
		return rc;
	if ((rc = pwrite_full(cf->fd, cf->sealed, len + CRYPTO_ATREST_OVERHEAD, pos)) != SB_OK)
		return rc;
	bf_sealed(cf, idx, pt, len);
	cf->unsynced += len + CRYPTO_ATREST_OVERHEAD;
	if (cf->unsynced >= WRITEBACK_EVERY) {
		cf->unsynced = 0;
		(void)sync_file_range(cf->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	}
	if (idx >= cf->disk_chunks)
		cf->disk_chunks = idx + 1;
	/* A short final chunk re-sealed full makes the file longer. */
	if (end > cf->disk_len)
		cf->disk_len = end;
	if (final) {
		/* The final chunk is the last on disk: drop anything after it. */
		if (cf->disk_len > end && ftruncate(cf->fd, (off_t)end) != 0)
			return SB_ERR_SYSTEM;
		cf->disk_len = end;
		cf->disk_final = idx;
	} else if (cf->disk_final == idx) {
		cf->disk_final = NONE;
	}
	return SB_OK;
}

/* Reads and opens on-disk chunk idx into out (CFILE_CHUNK bytes, zero past
 * the chunk's plaintext). */
static int
read_chunk(struct cfile *cf, uint64_t idx, uint8_t *out)
{
	uint64_t pos = chunk_pos(idx), len = CFILE_CHUNK_DISK;
	int rc;

	if (idx == cf->disk_chunks - 1)
		len = cf->disk_len - pos;
	if (len < CRYPTO_ATREST_OVERHEAD || len > CFILE_CHUNK_DISK)
		return SB_ERR_TRUNCATED;
	if ((rc = pread_full(cf->fd, cf->sealed, (size_t)len, pos)) != SB_OK)
		return rc;
	memset(out, 0, CFILE_CHUNK);
	rc = crypto_atrest_open(cf->at, idx, idx == cf->disk_final, cf->sealed,
	    (size_t)len, out);
	return rc;
}

static int
ensure_scratch(struct cfile *cf)
{
	if (cf->scratch == NULL && (cf->scratch = malloc(CFILE_CHUNK)) == NULL)
		return SB_ERR_ALLOC;
	return SB_OK;
}

/*
 * Makes disk chunks 0 .. upto-1 present, full and non-final, so chunk
 * `upto` can be written at its position: the old final chunk (possibly
 * short) is re-sealed padded with zeros, and holes become zero chunks.
 * Never touches the cached chunk (callers pass upto <= cidx).
 */
static int
extend_disk(struct cfile *cf, uint64_t upto)
{
	uint64_t k;
	int rc;

	if (cf->disk_chunks >= upto && (cf->disk_final == NONE || cf->disk_final >= upto))
		return SB_OK;
	if ((rc = ensure_scratch(cf)) != SB_OK)
		return rc;
	if (cf->disk_final != NONE && cf->disk_final < upto) {
		uint64_t f = cf->disk_final;

		if ((rc = read_chunk(cf, f, cf->scratch)) != SB_OK ||
		    (rc = write_chunk(cf, f, 0, cf->scratch, CFILE_CHUNK)) != SB_OK)
			goto out;
	}
	if (cf->disk_chunks < upto) {
		struct statvfs vfs;

		/*
		 * A write far past the end (pwrite at a huge offset, truncate -s)
		 * would seal every zero chunk of the gap: refuse up front what the
		 * filesystem cannot hold, rather than fill the disk and fail at
		 * the last chunk.
		 */
		if (fstatvfs(cf->fd, &vfs) == 0 &&
		    chunk_pos(upto) - chunk_pos(cf->disk_chunks) >
		    (uint64_t)vfs.f_bavail * vfs.f_frsize) {
			errno = ENOSPC;
			rc = SB_ERR_SYSTEM;
			goto out;
		}
		memset(cf->scratch, 0, CFILE_CHUNK);
		for (k = cf->disk_chunks; k < upto; k++)
			if ((rc = write_chunk(cf, k, 0, cf->scratch, CFILE_CHUNK)) != SB_OK)
				goto out;
	}
	rc = SB_OK;
out:
	crypto_wipe(cf->scratch, CFILE_CHUNK);
	return rc;
}

/* Seals the cached chunk if it holds unsaved writes. */
static int
flush_cache(struct cfile *cf)
{
	int rc, final;

	if (!cf->dirty || cf->cidx == NONE)
		return SB_OK;
	final = cf->cidx == last_index(cf->size);
	if ((rc = extend_disk(cf, cf->cidx)) != SB_OK)
		return rc;
	rc = write_chunk(cf, cf->cidx, final, cf->cache, chunk_len(cf->size, cf->cidx));
	if (rc == SB_OK)
		cf->dirty = 0;
	return rc;
}

/* Makes chunk idx the cached one (sealing the previous one if dirty). */
static int
load(struct cfile *cf, uint64_t idx)
{
	int rc;

	if (cf->cidx == idx)
		return SB_OK;
	if ((rc = flush_cache(cf)) != SB_OK)
		return rc;
	cf->cidx = NONE;
	if (idx < cf->disk_chunks) {
		if ((rc = read_chunk(cf, idx, cf->cache)) != SB_OK)
			return rc;
		/* Bytes past the logical end read as zeros (after a shrink the
		 * disk copy is gone; after growth the padding is zeros already). */
		if (chunk_len(cf->size, idx) < CFILE_CHUNK)
			memset(cf->cache + chunk_len(cf->size, idx), 0,
			    CFILE_CHUNK - chunk_len(cf->size, idx));
	} else {
		memset(cf->cache, 0, CFILE_CHUNK);
	}
	cf->cidx = idx;
	return SB_OK;
}

/* Brings the disk to exactly the logical file (no fsync). */
static int
finalize(struct cfile *cf)
{
	uint64_t last = last_index(cf->size);
	uint64_t want = chunk_pos(last) + chunk_len(cf->size, last) + CRYPTO_ATREST_OVERHEAD;
	int rc;

	if (!cf->writable)
		return SB_OK;
	if ((rc = flush_cache(cf)) != SB_OK)
		return rc;
	if (cf->disk_final == last && cf->disk_chunks == last + 1 && cf->disk_len == want)
		return SB_OK;
	if ((rc = load(cf, last)) != SB_OK)
		return rc;
	cf->dirty = 1;
	return flush_cache(cf);
}

/*
 * At close, the file on disk being final (finalize): hashes the chunks
 * the worker did not get (the last, short one; any sealed out of order)
 * and keeps key, size and hashes for cfile_blob_take.  On any failure
 * nothing is kept (the sender then does it all at upload).
 */
static void
bf_finish(struct cfile *cf)
{
	struct blobform *bf = cf->bf;
	struct blob_done *d = NULL;
	uint64_t k, last = last_index(cf->size);
	int rc = bf_drain(bf);

	for (k = bf->next; rc == SB_OK && k <= last && cf->size > 0; k++) {
		size_t len = chunk_len(cf->size, k);
		const uint8_t *pt = cf->cache;

		if (k != cf->cidx) {
			if ((rc = ensure_scratch(cf)) != SB_OK ||
			    (rc = read_chunk(cf, k, cf->scratch)) != SB_OK)
				break;
			pt = cf->scratch;
		}
		/* cf->sealed is free once the file is final: the ciphertext. */
		rc = crypto_attach_xor(bf->key, k * CFILE_CHUNK, pt, cf->sealed, len);
		if (rc == SB_OK)
			rc = crypto_hasher_update(bf->h, cf->sealed, len);
	}
	if (cf->scratch != NULL)
		crypto_wipe(cf->scratch, CFILE_CHUNK);
	if (rc == SB_OK && (d = calloc(1, sizeof(*d))) == NULL)
		rc = SB_ERR_ALLOC;
	if (rc == SB_OK)
		rc = crypto_hasher_final(bf->h, d->sha1, d->sha256);
	if (rc != SB_OK) {
		free(d);
		return;
	}
	memcpy(d->id, cf->file_id, sizeof(d->id));
	d->size = cf->size;
	d->key = bf->key;       /* handed over */
	bf->key = NULL;
	done_add(d);
}

int
cfile_blob_begin(struct cfile *cf)
{
	struct blobform *bf;
	int rc;

	if (cf == NULL || !cf->writable || cf->size != 0 || cf->bf != NULL)
		return SB_ERR_INVALID_ARG;
	if ((bf = calloc(1, sizeof(*bf))) == NULL)
		return SB_ERR_ALLOC;
	pthread_mutex_init(&bf->mu, NULL);
	pthread_cond_init(&bf->cv, NULL);
	if ((bf->key = OPENSSL_secure_malloc(CRYPTO_ATTACH_KEY_LEN)) == NULL)
		rc = SB_ERR_ALLOC;
	else if ((rc = crypto_attach_key_generate(bf->key)) == SB_OK)
		rc = crypto_hasher_new(&bf->h);
	if (rc != SB_OK) {
		bf_free(bf);
		return rc;
	}
	cf->bf = bf;
	return SB_OK;
}

int
cfile_blob_take(struct cfile *cf, uint8_t key[CRYPTO_ATTACH_KEY_LEN],
    uint8_t sha1[CRYPTO_SHA1_LEN], uint8_t sha256[CRYPTO_SHA256_LEN])
{
	struct blob_done *d;

	if (cf == NULL || key == NULL || sha1 == NULL || sha256 == NULL)
		return SB_ERR_INVALID_ARG;
	pthread_mutex_lock(&done_mu);
	d = done_unlink(cf->file_id);
	pthread_mutex_unlock(&done_mu);
	if (d == NULL)
		return SB_ERR_NOT_FOUND;
	/* Taken whatever the answer: a key encrypts one upload at most. */
	if (d->size != cf->size) {
		done_free(d);
		return SB_ERR_NOT_FOUND;
	}
	memcpy(key, d->key, CRYPTO_ATTACH_KEY_LEN);
	memcpy(sha1, d->sha1, CRYPTO_SHA1_LEN);
	memcpy(sha256, d->sha256, CRYPTO_SHA256_LEN);
	done_free(d);
	return SB_OK;
}

/* ---- Lifecycle -------------------------------------------------------------- */

static int
alloc_cfile(int fd, int writable, const uint8_t *storage_key,
    const uint8_t file_id[CRYPTO_ATREST_FILE_ID_LEN], struct cfile **out)
{
	struct cfile *cf;
	int rc;

	if ((cf = calloc(1, sizeof(*cf))) == NULL)
		return SB_ERR_ALLOC;
	cf->fd = fd;
	cf->writable = writable;
	cf->cidx = NONE;
	cf->disk_final = NONE;
	memcpy(cf->file_id, file_id, CRYPTO_ATREST_FILE_ID_LEN);
	if ((cf->cache = malloc(CFILE_CHUNK)) == NULL ||
	    (cf->sealed = malloc(CFILE_CHUNK_DISK)) == NULL) {
		rc = SB_ERR_ALLOC;
		goto fail;
	}
	if ((rc = crypto_atrest_new(storage_key, file_id, &cf->at)) != SB_OK)
		goto fail;
	*out = cf;
	return SB_OK;
fail:
	cf->fd = -1;
	(void)cfile_close(cf);
	return rc;
}

int
cfile_create(const char *path, const uint8_t storage_key[CRYPTO_STORAGE_KEY_LEN],
    struct cfile **out)
{
	uint8_t hdr[CFILE_HEADER_LEN], id[CRYPTO_ATREST_FILE_ID_LEN];
	struct cfile *cf = NULL;
	int fd, rc, saved;

	if (out == NULL)
		return SB_ERR_INVALID_ARG;
	*out = NULL;
	if (path == NULL || storage_key == NULL)
		return SB_ERR_INVALID_ARG;
	if ((rc = crypto_random(id, sizeof(id))) != SB_OK)
		return rc;
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return SB_ERR_SYSTEM;
	if ((rc = alloc_cfile(fd, 1, storage_key, id, &cf)) != SB_OK) {
		saved = errno;
		close(fd);
		unlink(path);
		errno = saved;
		return rc;
	}
	memcpy(hdr, CFILE_MAGIC, 4);
	hdr[4] = CFILE_VERSION;
	hdr[5] = hdr[6] = hdr[7] = 0;
	sb_store_u32be(hdr + 8, CFILE_CHUNK);
	memcpy(hdr + 12, id, sizeof(id));
	if ((rc = pwrite_full(fd, hdr, sizeof(hdr), 0)) != SB_OK ||
	    (rc = write_chunk(cf, 0, 1, NULL, 0)) != SB_OK) {
		saved = errno;
		cf->writable = 0;       /* nothing more to write: it goes */
		(void)cfile_close(cf);
		unlink(path);
		errno = saved;
		return rc;
	}
	*out = cf;
	return SB_OK;
}

/* Checks the file's length against the layout; sets the disk geometry and
 * the plaintext size. */
static int
geometry(struct cfile *cf, uint64_t len)
{
	uint64_t body, n, last;

	if (len <= CFILE_HEADER_LEN)
		return SB_ERR_TRUNCATED;
	body = len - CFILE_HEADER_LEN;
	n = (body + CFILE_CHUNK_DISK - 1) / CFILE_CHUNK_DISK;
	last = body - (n - 1) * CFILE_CHUNK_DISK;
	if (last < CRYPTO_ATREST_OVERHEAD)
		return SB_ERR_TRUNCATED;
	if (last == CRYPTO_ATREST_OVERHEAD && n > 1)
		return SB_ERR_FORMAT;
	if ((n - 1) * (uint64_t)CFILE_CHUNK > CFILE_MAX_SIZE)
		return SB_ERR_TOO_BIG;
	cf->disk_chunks = n;
	cf->disk_final = n - 1;
	cf->disk_len = len;
	cf->size = (n - 1) * (uint64_t)CFILE_CHUNK + (last - CRYPTO_ATREST_OVERHEAD);
	return SB_OK;
}

int
cfile_open(const char *path, const uint8_t storage_key[CRYPTO_STORAGE_KEY_LEN],
    int writable, struct cfile **out)
{
	uint8_t hdr[CFILE_HEADER_LEN];
	struct sb_reader r;
	const uint8_t *magic, *id;
	uint8_t version, z1;
	uint16_t z2;
	uint32_t csize;
	struct cfile *cf = NULL;
	struct stat st;
	int fd, rc, saved;

	if (out == NULL)
		return SB_ERR_INVALID_ARG;
	*out = NULL;
	if (path == NULL || storage_key == NULL)
		return SB_ERR_INVALID_ARG;
	if ((fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return SB_ERR_SYSTEM;
	if (fstat(fd, &st) != 0) {
		rc = SB_ERR_SYSTEM;
		goto fail_fd;
	}
	if ((rc = pread_full(fd, hdr, sizeof(hdr), 0)) != SB_OK)
		goto fail_fd;
	sb_reader_init(&r, hdr, sizeof(hdr));
	if ((rc = sb_get_bytes_direct(&r, &magic, 4)) != SB_OK ||
	    (rc = sb_get_u8(&r, &version)) != SB_OK ||
	    (rc = sb_get_u8(&r, &z1)) != SB_OK ||
	    (rc = sb_get_u16be(&r, &z2)) != SB_OK ||
	    (rc = sb_get_u32be(&r, &csize)) != SB_OK ||
	    (rc = sb_get_bytes_direct(&r, &id, CRYPTO_ATREST_FILE_ID_LEN)) != SB_OK ||
	    (rc = sb_reader_expect_end(&r)) != SB_OK)
		goto fail_fd;
	if (memcmp(magic, CFILE_MAGIC, 4) != 0 || version != CFILE_VERSION ||
	    z1 != 0 || z2 != 0 || csize != CFILE_CHUNK) {
		rc = SB_ERR_FORMAT;
		goto fail_fd;
	}
	if ((rc = alloc_cfile(fd, writable, storage_key, id, &cf)) != SB_OK)
		goto fail_fd;
	/* A file that may change no longer matches its attachment form. */
	if (writable)
		done_forget(cf->file_id);
	if ((rc = geometry(cf, (uint64_t)st.st_size)) != SB_OK ||
	    (rc = load(cf, cf->disk_final)) != SB_OK) {
		/* A tampered or cut file is refused before anyone reads it. */
		saved = errno;
		(void)cfile_close(cf);
		errno = saved;
		return rc;
	}
	*out = cf;
	return SB_OK;
fail_fd:
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int
cfile_close(struct cfile *cf)
{
	int rc = SB_OK, saved = 0;

	if (cf == NULL)
		return SB_OK;
	if (cf->fd >= 0 && cf->at != NULL && (rc = finalize(cf)) != SB_OK)
		saved = errno;
	if (rc == SB_OK && cf->bf != NULL && cf->bf->started && !cf->bf->dead)
		bf_finish(cf);
	bf_free(cf->bf);
	if (cf->fd >= 0 && close(cf->fd) != 0 && rc == SB_OK) {
		rc = SB_ERR_SYSTEM;
		saved = errno;
	}
	crypto_atrest_free(cf->at);
	if (cf->cache != NULL) {
		crypto_wipe(cf->cache, CFILE_CHUNK);
		free(cf->cache);
	}
	if (cf->scratch != NULL) {
		crypto_wipe(cf->scratch, CFILE_CHUNK);
		free(cf->scratch);
	}
	free(cf->sealed);
	crypto_wipe(cf, sizeof(*cf));
	free(cf);
	if (rc != SB_OK)
		errno = saved;
	return rc;
}

/* ---- Data ------------------------------------------------------------------- */

int
cfile_pread(struct cfile *cf, void *buf, size_t n, uint64_t off, size_t *got)
{
	uint8_t *p = buf;
	size_t done = 0;
	int rc;

	if (got != NULL)
		*got = 0;
	if (cf == NULL || got == NULL || (buf == NULL && n > 0))
		return SB_ERR_INVALID_ARG;
	if (off >= cf->size)
		return SB_OK;
	if (n > cf->size - off)
		n = (size_t)(cf->size - off);
	while (done < n) {
		uint64_t pos = off + done, idx = pos / CFILE_CHUNK;
		size_t in = (size_t)(pos % CFILE_CHUNK);
		size_t k = CFILE_CHUNK - in;

		if (k > n - done)
			k = n - done;
		if ((rc = load(cf, idx)) != SB_OK)
			return rc;
		memcpy(p + done, cf->cache + in, k);
		done += k;
	}
	*got = done;
	return SB_OK;
}

int
cfile_pwrite(struct cfile *cf, const void *buf, size_t n, uint64_t off)
{
	const uint8_t *p = buf;
	size_t done = 0;
	int rc;

	if (cf == NULL || (buf == NULL && n > 0))
		return SB_ERR_INVALID_ARG;
	if (!cf->writable)
		return SB_ERR_INVALID_ARG;
	if (n == 0)
		return SB_OK;
	if (off > CFILE_MAX_SIZE || n > CFILE_MAX_SIZE - off)
		return SB_ERR_TOO_BIG;
	/* Bytes already hashed in their attachment form change: it stops. */
	if (cf->bf != NULL && off < cf->bf->next * CFILE_CHUNK)
		bf_kill(cf);
	if (off + n > cf->size)
		cf->size = off + n;
	while (done < n) {
		uint64_t pos = off + done, idx = pos / CFILE_CHUNK;
		size_t in = (size_t)(pos % CFILE_CHUNK);
		size_t k = CFILE_CHUNK - in;

		if (k > n - done)
			k = n - done;
		if ((rc = load(cf, idx)) != SB_OK)
			return rc;
		memcpy(cf->cache + in, p + done, k);
		cf->dirty = 1;
		done += k;
	}
	return SB_OK;
}

int
cfile_truncate(struct cfile *cf, uint64_t size)
{
	uint64_t last;
	size_t keep;
	int rc;

	if (cf == NULL || !cf->writable)
		return SB_ERR_INVALID_ARG;
	if (size > CFILE_MAX_SIZE)
		return SB_ERR_TOO_BIG;
	if (size >= cf->size) {
		/* Growth: the new bytes are zeros already (cache and disk
		 * padding); finalize() writes them out. */
		cf->size = size;
		return SB_OK;
	}
	if (cf->bf != NULL && size < cf->bf->next * CFILE_CHUNK &&
	    (size > 0 || bf_restart(cf->bf) != SB_OK))
		bf_kill(cf);
	if ((rc = flush_cache(cf)) != SB_OK)
		return rc;
	last = last_index(size);
	if ((rc = load(cf, last)) != SB_OK)
		return rc;
	keep = chunk_len(size, last);
	memset(cf->cache + keep, 0, CFILE_CHUNK - keep);
	cf->size = size;
	cf->dirty = 1;
	/* The new last chunk lives in the cache; the disk keeps only the full
	 * chunks before it. */
	if (last < cf->disk_chunks) {
		if (ftruncate(cf->fd, (off_t)chunk_pos(last)) != 0)
			return SB_ERR_SYSTEM;
		cf->disk_chunks = last;
		cf->disk_len = chunk_pos(last);
		if (cf->disk_final != NONE && cf->disk_final >= last)
			cf->disk_final = NONE;
	}
	return SB_OK;
}

uint64_t
cfile_size(const struct cfile *cf)
{
	return cf == NULL ? 0 : cf->size;
}

const uint8_t *
cfile_file_id(const struct cfile *cf)
{
	return cf == NULL ? NULL : cf->file_id;
}

int
cfile_seal(struct cfile *cf)
{
	if (cf == NULL)
		return SB_ERR_INVALID_ARG;
	return finalize(cf);
}

int
cfile_sync(struct cfile *cf)
{
	int rc;

	if (cf == NULL)
		return SB_ERR_INVALID_ARG;
	if ((rc = finalize(cf)) != SB_OK)
		return rc;
	if (cf->writable && fsync(cf->fd) != 0)
		return SB_ERR_SYSTEM;
	cf->unsynced = 0;
	return SB_OK;
}
