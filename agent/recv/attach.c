/*
 * attach.c - received attachments: fetch the blob, check it, and only then
 * turn it into an encrypted content file (DESIGN.md 4, "The receiver checks
 * the hash before any plaintext is served").
 *
 * The blob (AES-256-CTR ciphertext) is downloaded into an unnamed temp file
 * in HOME/data (O_TMPFILE: it vanishes with a crash), its size, SHA-1 and
 * SHA-256 are compared with the descriptor in constant time, and only when
 * all three match is it decrypted, one 64 KiB piece at a time, into a new
 * cfile (AES-256-GCM at rest under the storage key).  Memory stays flat
 * whatever the size.
 *
 * Also the sealed payloads of received messages: each is kept, as it
 * arrived, in a file of its own in HOME/data (ciphertext only).
 *
 * Never writes plaintext to disk, never decrypts a blob whose hash failed,
 * never leaves a content file behind on failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "client/client.h"
#include "common/durable.h"
#include "common/sberr.h"
#include "crypto/crypto.h"
#include "agent/cfile.h"
#include "agent/recv/recv.h"
#include "agent/message.h"

#define PIECE CFILE_CHUNK

uint64_t
attach_space_needed(uint64_t size)
{
	uint64_t chunks = size / CFILE_CHUNK + 1, need;

	/* Saturating: a descriptor may announce any u64. */
	if (size > (UINT64_MAX - ATTACH_SPACE_RESERVE) / 3)
		return UINT64_MAX;
	need = 2 * size + ATTACH_SPACE_RESERVE + CFILE_HEADER_LEN;
	if (chunks > (UINT64_MAX - need) / CRYPTO_ATREST_OVERHEAD)
		return UINT64_MAX;
	return need + chunks * CRYPTO_ATREST_OVERHEAD;
}

int
attach_space(struct agent *a, uint64_t size, uint64_t *need, uint64_t *avail)
{
	char dir[4096];
	struct statvfs vfs;
	int rc = msgstore_data_dir(a, dir, sizeof(dir));

	*need = attach_space_needed(size);
	*avail = 0;
	if (rc != SB_OK)
		return rc;
	if (statvfs(dir, &vfs) != 0)
		return SB_ERR_SYSTEM;
	/* f_bavail: what an unprivileged writer may use; root's reserve is
	 * not ours to fill. */
	*avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
	if (*avail < *need) {
		errno = ENOSPC;
		return SB_ERR_SYSTEM;
	}
	return SB_OK;
}

/* An unnamed file in dir; falls back to a name unlinked at once. */
static int
temp_fd(const char *dir, int *fd)
{
	char path[4096];
	int e;

	*fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (*fd >= 0)
		return SB_OK;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return SB_ERR_SYSTEM;
	if ((size_t)snprintf(path, sizeof(path), "%s/.blob-XXXXXX", dir) >= sizeof(path))
		return SB_ERR_LENGTH;
	*fd = mkostemp(path, O_CLOEXEC);
	if (*fd < 0)
		return SB_ERR_SYSTEM;
	if (unlink(path) != 0) {
		e = errno;
		close(*fd);
		*fd = -1;
		errno = e;
		return SB_ERR_SYSTEM;
	}
	return SB_OK;
}

/* Reads exactly n bytes at off (the file is ours; short means trouble). */
static int
read_at(int fd, uint8_t *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = pread(fd, buf + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return SB_ERR_SYSTEM;
		if (r == 0)
			return SB_ERR_TRUNCATED;
		done += (size_t)r;
	}
	return SB_OK;
}

/* Size, SHA-1 and SHA-256 of the downloaded ciphertext against m. */
static int
check_blob(int fd, uint64_t size, const struct message *m, uint8_t *buf)
{
	struct crypto_hasher *h = NULL;
	uint8_t sha1[CRYPTO_SHA1_LEN], sha256[CRYPTO_SHA256_LEN];
	uint64_t off;
	size_t n;
	int rc, ok;

	if (size != m->att.size)
		return SB_ERR_LENGTH;
	rc = crypto_hasher_new(&h);
	for (off = 0; rc == SB_OK && off < size; off += n) {
		n = size - off < PIECE ? (size_t)(size - off) : PIECE;
		rc = read_at(fd, buf, n, off);
		if (rc == SB_OK)
			rc = crypto_hasher_update(h, buf, n);
	}
	if (rc == SB_OK)
		rc = crypto_hasher_final(h, sha1, sha256);
	crypto_hasher_free(h);
	if (rc != SB_OK)
		return rc;
	/* Both, always: no early exit that says which one failed first. */
	ok = crypto_ct_equal(sha1, m->att.sha1, CRYPTO_SHA1_LEN);
	ok &= crypto_ct_equal(sha256, m->att.sha256, CRYPTO_SHA256_LEN);
	return ok ? SB_OK : SB_ERR_HASH;
}

/* Decrypts the checked blob into a new cfile at path, durable on return. */
static int
decrypt_into(struct agent *a, int fd, uint64_t size, const struct message *m,
    const char *path, uint8_t *buf, uint8_t file_id[CRYPTO_ATREST_FILE_ID_LEN])
{
	struct cfile *cf = NULL;
	uint64_t off;
	size_t n;
	int rc;

	rc = cfile_create(path, a->storage_key, &cf);
	for (off = 0; rc == SB_OK && off < size; off += n) {
		n = size - off < PIECE ? (size_t)(size - off) : PIECE;
		rc = read_at(fd, buf, n, off);
		if (rc == SB_OK)
			rc = crypto_attach_xor(m->att.key, off, buf, buf, n);
		if (rc == SB_OK)
			rc = cfile_pwrite(cf, buf, n, off);
		crypto_wipe(buf, n);
	}
	if (rc == SB_OK)
		rc = cfile_sync(cf);
	if (rc == SB_OK)
		memcpy(file_id, cfile_file_id(cf), CRYPTO_ATREST_FILE_ID_LEN);
	if (cf) {
		int rc2 = cfile_close(cf);
		if (rc == SB_OK)
			rc = rc2;
	}
	if (rc != SB_OK && cf)
		unlink(path);
	return rc;
}

int
attach_fetch(struct agent *a, const struct message *m, char *ref, size_t ref_size,
    uint8_t file_id[CRYPTO_ATREST_FILE_ID_LEN], int *blob_bad)
{
	char dir[4096], path[4096 + ATTACH_REF_BUF], uri[MESSAGE_MAX_URI + 1];
	uint8_t *buf = NULL;
	uint64_t size = 0;
	struct client *c;
	int fd = -1, rc, e;

	ref[0] = '\0';
	*blob_bad = 0;
	if (ref_size < ATTACH_REF_BUF || m->kind != MESSAGE_ATTACHMENT)
		return SB_ERR_INVALID_ARG;
	if (m->att.uri.len > MESSAGE_MAX_URI || m->att.uri.len == 0)
		return SB_ERR_LENGTH;
	/* Refused before a byte is fetched: no content file could hold it. */
	if (m->att.size > CFILE_MAX_SIZE)
		return SB_ERR_TOO_BIG;
	memcpy(uri, m->att.uri.p, m->att.uri.len);
	uri[m->att.uri.len] = '\0';
	pthread_mutex_lock(&a->lock);
	c = a->client;
	pthread_mutex_unlock(&a->lock);
	if (c == NULL)
		return SB_ERR_NET;

	rc = msgstore_data_dir(a, dir, sizeof(dir));
	if (rc == SB_OK)
		rc = temp_fd(dir, &fd);
	if (rc == SB_OK) {
		buf = malloc(PIECE);
		if (buf == NULL)
			rc = SB_ERR_ALLOC;
	}
	/* The relay stores no empty blob: a 0-byte attachment has nothing to
	 * fetch, and its hashes must still be those of nothing. */
	if (rc == SB_OK && m->att.size > 0) {
		rc = client_blob_download(c, uri, fd, m->att.size, &size);
		if (rc == SB_ERR_NOT_FOUND || rc == SB_ERR_EXPIRED)
			rc = SB_ERR_NOT_FOUND;     /* a verdict: the blob is gone */
		*blob_bad = rc == SB_ERR_NOT_FOUND || rc == SB_ERR_LENGTH;
	}
	if (rc == SB_OK) {
		rc = check_blob(fd, size, m, buf);
		*blob_bad = rc == SB_ERR_LENGTH || rc == SB_ERR_HASH;
	}
	if (rc == SB_OK)
		rc = msgstore_new_ref(ref, "");
	if (rc == SB_OK) {
		snprintf(path, sizeof(path), "%s/%s", dir, ref);
		rc = decrypt_into(a, fd, size, m, path, buf, file_id);
		if (rc == SB_OK && (rc = sb_fsync_dir(dir)) != SB_OK) {
			e = errno;
			unlink(path);
			errno = e;
		}
		if (rc != SB_OK)
			ref[0] = '\0';
	}
	e = errno;
	if (fd >= 0)
		close(fd);
	free(buf);
	errno = e;
	return rc;
}

