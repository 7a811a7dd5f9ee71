/*
 * test_cfile.c - encrypted content files against a plain in-memory model:
 * random-offset writes, reads, truncations, syncs and reopens agree with a
 * byte array; 0-byte files and exact 64 KiB boundaries have the documented
 * lengths; a flipped bit, a swapped or dropped chunk, a cut file, a wrong
 * key or a foreign header are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cfile.h"
#include "common/sberr.h"
#include "crypto/crypto.h"

#define MODEL_MAX (5 * CFILE_CHUNK + 1234)

static char dir[64];
static char path[128];
static uint8_t key[CRYPTO_STORAGE_KEY_LEN];

static uint32_t
xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", "/tmp/test_cfile.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/f", dir);
	return crypto_random(key, sizeof(key)) == SB_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static uint64_t
disk_len(void)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static uint64_t
expected_len(uint64_t size)
{
	uint64_t n = size == 0 ? 1 : (size + CFILE_CHUNK - 1) / CFILE_CHUNK;

	return CFILE_HEADER_LEN + n * CRYPTO_ATREST_OVERHEAD + size;
}

static void
check_all(struct cfile *cf, const uint8_t *model, uint64_t size)
{
	static uint8_t buf[MODEL_MAX + 10];
	size_t got = 99;

	assert_int_equal(cfile_size(cf), size);
	assert_int_equal(cfile_pread(cf, buf, sizeof(buf), 0, &got), SB_OK);
	assert_int_equal(got, size);
	if (size > 0)
		assert_memory_equal(buf, model, size);
	assert_int_equal(cfile_pread(cf, buf, 10, size, &got), SB_OK);
	assert_int_equal(got, 0);
}

/* Writes n random bytes at off (both clamped to MODEL_MAX) into cf and
 * into model, whose size was size; returns the new size. */
static uint64_t
model_write(struct cfile *cf, uint8_t *model, uint64_t size, uint64_t off, size_t n,
    uint32_t *st)
{
	static uint8_t data[3 * CFILE_CHUNK];
	size_t j;

	if (off > MODEL_MAX - 1)
		off = MODEL_MAX - 1;
	if (n > MODEL_MAX - off)
		n = (size_t)(MODEL_MAX - off);
	if (n > sizeof(data))
		n = sizeof(data);
	for (j = 0; j < n; j++)
		data[j] = (uint8_t)xorshift(st);
	assert_int_equal(cfile_pwrite(cf, data, n, off), SB_OK);
	if (n > 0) {
		if (off > size)
			memset(model + size, 0, off - size);
		memcpy(model + off, data, n);
		if (off + n > size)
			size = off + n;
	}
	return size;
}

static void
test_cfile_random_model(void **state)
{
	static uint8_t model[MODEL_MAX], data[3 * CFILE_CHUNK], buf[3 * CFILE_CHUNK];
	struct cfile *cf = NULL;
	uint64_t size = 0;
	uint32_t st = 0x12345678;
	int i;

	(void)state;
	assert_int_equal(cfile_create(path, key, &cf), SB_OK);
	for (i = 0; i < 600; i++) {
		uint32_t op = xorshift(&st) % 16;

		if (op < 7) {               /* write */
			uint64_t off = xorshift(&st) % (MODEL_MAX - 1);
			size_t n = xorshift(&st) % (op == 0 ? sizeof(data) : 9000);

			if (n > MODEL_MAX - off)
				n = (size_t)(MODEL_MAX - off);
			if (xorshift(&st) % 3 == 0)   /* near a chunk boundary */
				off = (off / CFILE_CHUNK) * CFILE_CHUNK - (off % 3 ? 1 : 0) +
				    (off % 2);
			size = model_write(cf, model, size, off, n, &st);
		} else if (op < 11) {       /* read */
			uint64_t off = xorshift(&st) % (MODEL_MAX + 100);
			size_t n = xorshift(&st) % sizeof(buf), got = 7, want;

			assert_int_equal(cfile_pread(cf, buf, n, off, &got), SB_OK);
			want = off >= size ? 0 : (n < size - off ? n : (size_t)(size - off));
			assert_int_equal(got, want);
			if (want > 0)
				assert_memory_equal(buf, model + off, want);
		} else if (op < 13) {       /* truncate */
			uint64_t ns = xorshift(&st) % MODEL_MAX;

			if (xorshift(&st) % 2)
				ns = (ns / CFILE_CHUNK) * CFILE_CHUNK;
			assert_int_equal(cfile_truncate(cf, ns), SB_OK);
			if (ns > size)
				memset(model + size, 0, ns - size);
			size = ns;
		} else if (op < 14) {       /* sync: the disk is a complete cfile */
			struct cfile *ro = NULL;

			assert_int_equal(cfile_sync(cf), SB_OK);
			assert_int_equal(disk_len(), expected_len(size));
			/* ... which a second, read-only handle opens. */
			assert_int_equal(cfile_open(path, key, 0, &ro), SB_OK);
			check_all(ro, model, size);
			assert_int_equal(cfile_close(ro), SB_OK);
		} else {                    /* close and reopen */
			assert_int_equal(cfile_close(cf), SB_OK);
			cf = NULL;
			assert_int_equal(disk_len(), expected_len(size));
			assert_int_equal(cfile_open(path, key, 1, &cf), SB_OK);
			check_all(cf, model, size);
		}
		assert_int_equal(cfile_size(cf), size);
	}
	check_all(cf, model, size);
	assert_int_equal(cfile_close(cf), SB_OK);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_OK);
	check_all(cf, model, size);
	assert_int_equal(cfile_close(cf), SB_OK);
}

/* SHA-1 and SHA-256 of the AES-256-CTR form of model under k. */
static void
blob_of(const uint8_t *model, uint64_t size, const uint8_t k[CRYPTO_ATTACH_KEY_LEN],
    uint8_t sha1[CRYPTO_SHA1_LEN], uint8_t sha256[CRYPTO_SHA256_LEN])
{
	static uint8_t ct[MODEL_MAX];
	struct crypto_hasher *h = NULL;

	assert_int_equal(crypto_attach_xor(k, 0, model, ct, (size_t)size), SB_OK);
	assert_int_equal(crypto_hasher_new(&h), SB_OK);
	assert_int_equal(crypto_hasher_update(h, ct, (size_t)size), SB_OK);
	assert_int_equal(crypto_hasher_final(h, sha1, sha256), SB_OK);
	crypto_hasher_free(h);
}

/* Takes cf's attachment form; when there is one, it must be the blob of
 * model.  Returns 1 if there was one. */
static int
take_matches(struct cfile *cf, const uint8_t *model, uint64_t size)
{
	uint8_t k[CRYPTO_ATTACH_KEY_LEN], sha1[CRYPTO_SHA1_LEN], sha256[CRYPTO_SHA256_LEN];
	uint8_t w1[CRYPTO_SHA1_LEN], w256[CRYPTO_SHA256_LEN];
	int rc = cfile_blob_take(cf, k, sha1, sha256);

	if (rc == SB_ERR_NOT_FOUND)
		return 0;
	assert_int_equal(rc, SB_OK);
	blob_of(model, size, k, w1, w256);
	assert_memory_equal(sha1, w1, sizeof(w1));
	assert_memory_equal(sha256, w256, sizeof(w256));
	/* Once only: a key encrypts one upload. */
	assert_int_equal(cfile_blob_take(cf, k, sha1, sha256), SB_ERR_NOT_FOUND);
	return 1;
}

/*
 * The attachment form made while writing (cfile_blob_begin) against the
 * model: in-order writes of every shape (syncs between, a short last
 * chunk extended, holes, truncation to 0) keep it and it is exactly the
 * blob of the content; random writes, shrinks and growth either keep it
 * right or lose it, never a wrong hash.
 */
static void
test_cfile_blob_form(void **state)
{
	static uint8_t model[MODEL_MAX], data[2 * CFILE_CHUNK];
	uint32_t st = 0x9e3779b9;
	int round, kept = 0, lost = 0;

	(void)state;
	for (round = 0; round < 60; round++) {
		struct cfile *cf = NULL;
		uint64_t size = 0;
		int in_order = round % 2 == 0, i, ops = 1 + (int)(xorshift(&st) % 12);

		unlink(path);
		assert_int_equal(cfile_create(path, key, &cf), SB_OK);
		assert_int_equal(cfile_blob_begin(cf), SB_OK);
		assert_int_equal(cfile_blob_begin(cf), SB_ERR_INVALID_ARG);
		for (i = 0; i < ops; i++) {
			uint32_t op = xorshift(&st) % 10;
			uint64_t off = in_order ? size : xorshift(&st) % (MODEL_MAX - 1);
			size_t n = xorshift(&st) % sizeof(data);

			if (op == 8) {
				assert_int_equal(cfile_sync(cf), SB_OK);
				continue;
			}
			if (op == 9) {
				uint64_t ns = in_order ? (xorshift(&st) % 4 == 0 ? 0 : size +
				    xorshift(&st) % 70000) : xorshift(&st) % MODEL_MAX;

				if (ns > MODEL_MAX)
					ns = MODEL_MAX;
				assert_int_equal(cfile_truncate(cf, ns), SB_OK);
				if (ns > size)
					memset(model + size, 0, ns - size);
				size = ns;
				continue;
			}
			if (in_order && op == 7)
				off = size + xorshift(&st) % (3 * CFILE_CHUNK);   /* a hole */
			size = model_write(cf, model, size, off, n, &st);
		}
		assert_int_equal(cfile_close(cf), SB_OK);
		assert_int_equal(cfile_open(path, key, 0, &cf), SB_OK);
		check_all(cf, model, size);
		if (take_matches(cf, model, size)) {
			kept++;
		} else {
			/* Written in order past the first chunk: it must be there. */
			assert_false(in_order && size >= CFILE_CHUNK);
			lost++;
		}
		assert_int_equal(cfile_close(cf), SB_OK);
	}
	assert_true(kept > 10);
	assert_true(lost > 0);

	/* A writable open forgets it: the content may change. */
	{
		struct cfile *cf = NULL, *w = NULL;

		unlink(path);
		memset(data, 7, sizeof(data));
		assert_int_equal(cfile_create(path, key, &cf), SB_OK);
		assert_int_equal(cfile_blob_begin(cf), SB_OK);
		assert_int_equal(cfile_pwrite(cf, data, sizeof(data), 0), SB_OK);
		assert_int_equal(cfile_close(cf), SB_OK);
		assert_int_equal(cfile_open(path, key, 1, &w), SB_OK);
		assert_int_equal(cfile_open(path, key, 0, &cf), SB_OK);
		assert_int_equal(take_matches(cf, data, sizeof(data)), 0);
		assert_int_equal(cfile_close(cf), SB_OK);
		assert_int_equal(cfile_close(w), SB_OK);
	}
}

#ifndef SYS_cachestat
#if defined(__x86_64__)
#define SYS_cachestat 451
#endif
#endif

/*
 * A large file goes to the disk while it is written (WRITEBACK_EVERY),
 * not all at the fsync of its close: after 32 MiB written and no sync, at
 * most the last few MiB are still dirty in the page cache (cachestat(2);
 * skipped where the kernel has none, or on a file system that keeps no
 * dirty pages, such as tmpfs).
 */
static void
test_cfile_writeback_while_written(void **state)
{
#ifdef SYS_cachestat
	static uint8_t data[CFILE_CHUNK];
	struct { uint64_t off, len; } range = { 0, 0 };
	struct { uint64_t cache, dirty, writeback, evicted, recently_evicted; } cs;
	struct cfile *cf = NULL;
	int fd;

	(void)state;
	memset(data, 0x5a, sizeof(data));
	assert_int_equal(cfile_create(path, key, &cf), SB_OK);
	for (unsigned i = 0; i < 512; i++)        /* 32 MiB */
		assert_int_equal(cfile_pwrite(cf, data, sizeof(data), (uint64_t)i * sizeof(data)),
		    SB_OK);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	memset(&cs, 0, sizeof(cs));
	if (syscall(SYS_cachestat, fd, &range, &cs, 0) != 0 || cs.cache == 0) {
		close(fd);
		assert_int_equal(cfile_close(cf), SB_OK);
		skip();
	}
	close(fd);
	/* pages of 4 KiB at least: 16 MiB is twice WRITEBACK_EVERY */
	assert_true(cs.dirty * 4096 <= (16u << 20));
	assert_int_equal(cfile_close(cf), SB_OK);
#else
	(void)state;
	skip();
#endif
}

static void
test_cfile_empty_and_boundaries(void **state)
{
	static uint8_t data[2 * CFILE_CHUNK + 1], buf[2 * CFILE_CHUNK + 1];
	uint64_t sizes[] = { 0, 1, CFILE_CHUNK - 1, CFILE_CHUNK, CFILE_CHUNK + 1,
	    2 * CFILE_CHUNK, 2 * CFILE_CHUNK + 1 };
	struct cfile *cf = NULL;
	size_t i, got;

	(void)state;
	memset(data, 0xa5, sizeof(data));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unlink(path);
		assert_int_equal(cfile_create(path, key, &cf), SB_OK);
		assert_int_equal(cfile_size(cf), 0);
		assert_int_equal(cfile_pwrite(cf, data, (size_t)sizes[i], 0), SB_OK);
		assert_int_equal(cfile_sync(cf), SB_OK);
		assert_int_equal(disk_len(), expected_len(sizes[i]));
		assert_int_equal(cfile_close(cf), SB_OK);
		assert_int_equal(disk_len(), expected_len(sizes[i]));
		assert_int_equal(cfile_open(path, key, 0, &cf), SB_OK);
		assert_int_equal(cfile_size(cf), sizes[i]);
		assert_int_equal(cfile_pread(cf, buf, sizeof(buf), 0, &got), SB_OK);
		assert_int_equal(got, sizes[i]);
		if (got > 0)
			assert_memory_equal(buf, data, got);
		/* Read-only: writes refused. */
		assert_int_equal(cfile_pwrite(cf, data, 1, 0), SB_ERR_INVALID_ARG);
		assert_int_equal(cfile_truncate(cf, 0), SB_ERR_INVALID_ARG);
		assert_int_equal(cfile_close(cf), SB_OK);
	}
	/* The empty file is the header plus one empty final chunk. */
	assert_int_equal(expected_len(0), CFILE_HEADER_LEN + CRYPTO_ATREST_OVERHEAD);
	/* A hole: a write far past the end reads back zeros before it. */
	unlink(path);
	assert_int_equal(cfile_create(path, key, &cf), SB_OK);
	assert_int_equal(cfile_pwrite(cf, "x", 1, 3 * CFILE_CHUNK + 5), SB_OK);
	assert_int_equal(cfile_close(cf), SB_OK);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_OK);
	assert_int_equal(cfile_size(cf), 3 * CFILE_CHUNK + 6);
	memset(data, 0, sizeof(data));
	assert_int_equal(cfile_pread(cf, buf, sizeof(buf), CFILE_CHUNK - 7, &got), SB_OK);
	assert_int_equal(got, sizeof(buf));
	assert_memory_equal(buf, data, sizeof(buf));
	assert_int_equal(cfile_pread(cf, buf, 10, 3 * CFILE_CHUNK + 5, &got), SB_OK);
	assert_int_equal(got, 1);
	assert_int_equal(buf[0], 'x');
	assert_int_equal(cfile_close(cf), SB_OK);
	/* Exclusive create. */
	errno = 0;
	assert_int_equal(cfile_create(path, key, &cf), SB_ERR_SYSTEM);
	assert_int_equal(errno, EEXIST);
	assert_null(cf);
	assert_int_equal(cfile_close(NULL), SB_OK);
}

/* Writes a 3-chunk file (the last short) and returns nothing. */
static void
make_three(void)
{
	static uint8_t data[2 * CFILE_CHUNK + 100];
	struct cfile *cf = NULL;
	size_t i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	unlink(path);
	assert_int_equal(cfile_create(path, key, &cf), SB_OK);
	assert_int_equal(cfile_pwrite(cf, data, sizeof(data), 0), SB_OK);
	assert_int_equal(cfile_close(cf), SB_OK);
}

static void
flip(uint64_t off)
{
	uint8_t b;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

static void
test_cfile_tamper(void **state)
{
	static uint8_t buf[CFILE_CHUNK];
	static uint8_t c0[CFILE_CHUNK_DISK], c1[CFILE_CHUNK_DISK];
	uint8_t other[CRYPTO_STORAGE_KEY_LEN];
	struct cfile *cf = NULL;
	size_t got;
	uint64_t c1pos = CFILE_HEADER_LEN + CFILE_CHUNK_DISK;
	int fd;

	(void)state;
	/* A bit flip in chunk 1: chunks 0 and 2 still read, chunk 1 is EBADMSG. */
	make_three();
	flip(c1pos + 100);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_OK);
	assert_int_equal(cfile_pread(cf, buf, 10, 0, &got), SB_OK);
	assert_int_equal(cfile_pread(cf, buf, 10, 2 * CFILE_CHUNK, &got), SB_OK);
	assert_int_equal(cfile_pread(cf, buf, 10, CFILE_CHUNK + 5, &got), SB_ERR_TAG);
	assert_int_equal(cfile_pread(cf, buf, 10, CFILE_CHUNK - 5, &got), SB_ERR_TAG);
	assert_int_equal(cfile_close(cf), SB_OK);

	/* Flipped nonce or tag of the last chunk: refused at open. */
	make_three();
	flip(disk_len() - 1);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_ERR_TAG);
	assert_null(cf);

	/* Header: magic, version, chunk size are format errors; the file id
	 * makes every chunk fail. */
	make_three();
	flip(0);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_ERR_FORMAT);
	make_three();
	flip(4);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_ERR_FORMAT);
	make_three();
	flip(10);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_ERR_FORMAT);
	make_three();
	flip(20);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_ERR_TAG);

	/* Wrong storage key. */
	make_three();
	memcpy(other, key, sizeof(other));
	other[3] ^= 1;
	assert_int_equal(cfile_open(path, other, 0, &cf), SB_ERR_TAG);

	/* Swapped chunks 0 and 1 (both full, non-final): each fails. */
	make_three();
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, c0, sizeof(c0), CFILE_HEADER_LEN), (ssize_t)sizeof(c0));
	assert_int_equal(pread(fd, c1, sizeof(c1), (off_t)c1pos), (ssize_t)sizeof(c1));
	assert_int_equal(pwrite(fd, c1, sizeof(c1), CFILE_HEADER_LEN), (ssize_t)sizeof(c1));
	assert_int_equal(pwrite(fd, c0, sizeof(c0), (off_t)c1pos), (ssize_t)sizeof(c0));
	close(fd);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_OK);
	assert_int_equal(cfile_pread(cf, buf, 1, 0, &got), SB_ERR_TAG);
	assert_int_equal(cfile_pread(cf, buf, 1, CFILE_CHUNK, &got), SB_ERR_TAG);
	assert_int_equal(cfile_close(cf), SB_OK);
}

static void
test_cfile_truncated_file(void **state)
{
	struct cfile *cf = NULL;
	uint64_t len;

	(void)state;
	/* Cut at a chunk boundary: the new last chunk lacks the final flag. */
	make_three();
	len = disk_len();
	assert_int_equal(truncate(path, (off_t)(CFILE_HEADER_LEN + 2 * CFILE_CHUNK_DISK)), 0);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_ERR_TAG);
	make_three();
	assert_int_equal(truncate(path, (off_t)(CFILE_HEADER_LEN + CFILE_CHUNK_DISK)), 0);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_ERR_TAG);
	/* Cut inside a chunk: a short tail or a bad tag. */
	make_three();
	assert_int_equal(truncate(path, (off_t)(len - 1)), 0);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_ERR_TAG);
	make_three();
	assert_int_equal(truncate(path, (off_t)(CFILE_HEADER_LEN + 2 * CFILE_CHUNK_DISK + 10)), 0);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_ERR_TRUNCATED);
	/* Only the header, or less. */
	make_three();
	assert_int_equal(truncate(path, CFILE_HEADER_LEN), 0);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_ERR_TRUNCATED);
	make_three();
	assert_int_equal(truncate(path, 5), 0);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_ERR_TRUNCATED);
	/* Padded: an extra empty-looking tail after a full chunk. */
	make_three();
	assert_int_equal(truncate(path, (off_t)(CFILE_HEADER_LEN + CFILE_CHUNK_DISK +
	    CRYPTO_ATREST_OVERHEAD)), 0);
	assert_int_equal(cfile_open(path, key, 0, &cf), SB_ERR_FORMAT);
	assert_null(cf);
}

static void
test_cfile_sequential_writes_seal_once(void **state)
{
	static uint8_t data[10240];
	struct cfile *cf = NULL;
	uint64_t off;
	struct stat st;

	(void)state;
	/* tar-sized writes over 1 MiB: the disk grows chunk by chunk, and the
	 * result reads back; the file is never longer than the layout. */
	memset(data, 'T', sizeof(data));
	unlink(path);
	assert_int_equal(cfile_create(path, key, &cf), SB_OK);
	for (off = 0; off < (1u << 20); off += sizeof(data)) {
		assert_int_equal(cfile_pwrite(cf, data, sizeof(data), off), SB_OK);
		assert_int_equal(stat(path, &st), 0);
		assert_true((uint64_t)st.st_size <= expected_len(off + sizeof(data)));
	}
	assert_int_equal(cfile_sync(cf), SB_OK);
	assert_int_equal(disk_len(), expected_len(cfile_size(cf)));
	assert_int_equal(cfile_close(cf), SB_OK);
}

static void
test_cfile_no_plaintext_on_disk(void **state)
{
	static uint8_t data[3 * CFILE_CHUNK], raw[3 * CFILE_CHUNK + 4096];
	const char pattern[] = "SECRET-PLAINTEXT-MARKER";
	struct cfile *cf = NULL;
	size_t i, n;
	FILE *f;

	(void)state;
	for (i = 0; i + sizeof(pattern) - 1 <= sizeof(data); i += sizeof(pattern) - 1)
		memcpy(data + i, pattern, sizeof(pattern) - 1);
	unlink(path);
	assert_int_equal(cfile_create(path, key, &cf), SB_OK);
	assert_int_equal(cfile_pwrite(cf, data, sizeof(data), 0), SB_OK);
	assert_int_equal(cfile_close(cf), SB_OK);
	assert_non_null(f = fopen(path, "rb"));
	n = fread(raw, 1, sizeof(raw), f);
	fclose(f);
	assert_true(n > sizeof(data));
	assert_null(memmem(raw, n, pattern, 8));
}

/* The errno of a failing write reaches the caller untouched (ENOSPC stays
 * ENOSPC); RLIMIT_FSIZE makes the kernel fail with EFBIG, in a child. */
/*
 * In a child under RLIMIT_FSIZE = fsize_limit: creates the file, writes
 * len bytes of buf at off, syncs, and requires the failure SB_ERR_SYSTEM
 * with errno want.  The limit also keeps a regression from filling the disk.
 */
static void
write_fails_with(rlim_t fsize_limit, const void *buf, size_t len, uint64_t off, int want)
{
	struct cfile *cf = NULL;
	pid_t pid;
	int status;

	unlink(path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { fsize_limit, fsize_limit };
		int rc;

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0 || cfile_create(path, key, &cf) != SB_OK)
			_exit(10);
		rc = cfile_pwrite(cf, buf, len, off);
		if (rc == SB_OK)
			rc = cfile_sync(cf);
		if (rc != SB_ERR_SYSTEM)
			_exit(11);
		if (errno != want)
			_exit(12);
		(void)cfile_close(cf);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A failing write keeps its errno (EFBIG here, ENOSPC on a full disk). */
static void
test_cfile_errno_preserved(void **state)
{
	static uint8_t data[4 * CFILE_CHUNK];

	(void)state;
	write_fails_with(2 * CFILE_CHUNK, data, sizeof(data), 0, EFBIG);
}

/*
 * A write 32 TiB past the end must not seal the gap chunk by chunk until
 * the disk is full (it did: an 84 GB file before ENOSPC).  It fails at once
 * with ENOSPC; under the 4 MiB limit a regression would fail with EFBIG.
 */
static void
test_cfile_huge_gap_enospc(void **state)
{
	(void)state;
	write_fails_with(64 * CFILE_CHUNK, "x", 1, UINT64_C(1) << 45, ENOSPC);
	/* Nothing of the gap was written. */
	assert_true(disk_len() < 2 * CFILE_CHUNK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cfile_random_model, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfile_empty_and_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfile_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfile_truncated_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfile_sequential_writes_seal_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfile_no_plaintext_on_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfile_errno_preserved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfile_huge_gap_enospc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfile_blob_form, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfile_writeback_while_written, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
