/*
 * blob.c - attachment blob contents (blob.h): files under DIR/blobs on a
 * single node, chunk rows of the PostgreSQL store in a cluster.
 *
 * Files: an upload is written to blobs/tmp/RANDOM, fsync'd, renamed to
 * blobs/URIHEX and the folder fsync'd before the record is added - never
 * a torn blob under a URI.  Store: each chunk is a row; blob_finish
 * publishes the record and makes the chunks durable in one commit.
 * Either way a URI is "sbblob:" + 64 hex digits of fresh CSPRNG output, and
 * nothing but such a URI ever reaches the file system or the database.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "../common/durable.h"
#include "../common/sberr.h"
#include "../common/wire.h"
#include "blob.h"
#include "relay.h"

#define URI_PREFIX       "sbblob:"
#define URI_RAND         32            /* 256 random bits per blob URI */
#define BLOB_ROOM_MARGIN (1u << 20)    /* kept free for the database */

struct relay_blobs {
	char datadir[PATH_MAX];
	struct relay_store *st;
	int in_store;                   /* the store holds the contents */
};

struct relay_upload {
	struct relay_blobs *b;
	uint64_t owner, size;
	/* files */
	int fd;
	char tmp[PATH_MAX];
	/* store */
	uint64_t id, index;
};

struct relay_download {
	struct relay_blobs *b;
	int fd;                         /* files */
	uint64_t handle, index;         /* store */
};

static int
blob_path(const struct relay_blobs *b, const char *name, char out[PATH_MAX])
{
	int n = snprintf(out, PATH_MAX, "%s/blobs/%s", b->datadir, name);

	return n < 0 || n >= PATH_MAX ? SB_ERR_INVALID_ARG : SB_OK;
}

/* Fresh random name: 2 * nbytes hex digits.  SB_ERR_CRYPTO if the CSPRNG
 * fails: a blob name must never be predictable. */
static int
rand_hex(char *out, size_t nbytes)
{
	uint8_t r[URI_RAND];

	if (nbytes > sizeof(r) || RAND_bytes(r, (int)nbytes) != 1)
		return SB_ERR_CRYPTO;
	sb_hex(r, nbytes, out);
	return SB_OK;
}

/* SB_ERR_NO_SPACE for a full disk, SB_ERR_SYSTEM for any other failure. */
static int
errno_err(void)
{
	return errno == ENOSPC || errno == EDQUOT ? SB_ERR_NO_SPACE : SB_ERR_SYSTEM;
}

/* A URI is URI_PREFIX + 64 lower-case hex digits; name gets the digits. */
static int
uri_file(const uint8_t *u, size_t len, char name[2 * URI_RAND + 1])
{
	size_t pl = strlen(URI_PREFIX), i;

	if (len != pl + 2 * URI_RAND || memcmp(u, URI_PREFIX, pl) != 0)
		return SB_ERR_INVALID_ARG;
	for (i = 0; i < 2 * URI_RAND; i++) {
		uint8_t c = u[pl + i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return SB_ERR_INVALID_ARG;
		name[i] = (char)c;
	}
	name[2 * URI_RAND] = '\0';
	return SB_OK;
}

static void
clean_tmp(const struct relay_blobs *b)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *e;
	int dfd;

	/* Half-written uploads of a previous run have no URI: drop them. */
	if (blob_path(b, "tmp", path) != SB_OK || (d = opendir(path)) == NULL)
		return;
	dfd = dirfd(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			unlinkat(dfd, e->d_name, 0);
	closedir(d);
}

int
relay_blobs_new(const char *datadir, struct relay_store *st, struct relay_blobs **out)
{
	struct relay_blobs *b;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return SB_ERR_ALLOC;
	if (snprintf(b->datadir, sizeof(b->datadir), "%s", datadir) >= (int)sizeof(b->datadir)) {
		free(b);
		return SB_ERR_INVALID_ARG;
	}
	b->st = st;
	b->in_store = st->ops->blob_begin != NULL;
	if (!b->in_store)
		clean_tmp(b);
	*out = b;
	return SB_OK;
}

void
relay_blobs_free(struct relay_blobs *b)
{
	free(b);
}

int
relay_blobs_room(struct relay_blobs *b, uint64_t size)
{
	struct statvfs v;
	char dir[PATH_MAX];

	/* The database reports its own full disk (SB_ERR_NO_SPACE). */
	if (b->in_store)
		return SB_OK;
	if (blob_path(b, "tmp", dir) != SB_OK || statvfs(dir, &v) != 0)
		return SB_OK;   /* cannot tell: let the writes decide */
	/* No overflow: size <= blob_max, far below UINT64_MAX (relay.conf's
	 * parser caps it). */
	return (uint64_t)v.f_bavail * v.f_frsize >= size + BLOB_ROOM_MARGIN ?
	    SB_OK : SB_ERR_NO_SPACE;
}

static void
gone(void *arg, const char *uri)
{
	struct relay_blobs *b = arg;
	char name[2 * URI_RAND + 1], path[PATH_MAX];

	if (!b->in_store && uri_file((const uint8_t *)uri, strlen(uri), name) == SB_OK &&
	    blob_path(b, name, path) == SB_OK)
		unlink(path);
	relay_log("blob expired %.*s...", 16, uri);
}

int
relay_blobs_expire(struct relay_blobs *b, uint64_t cutoff)
{
	return b->st->ops->blob_expire(b->st, cutoff, gone, b);
}

int
relay_blobs_delete(struct relay_blobs *b, const uint8_t *uri, size_t len, uint64_t owner)
{
	char name[2 * URI_RAND + 1], u[SB_MAX_URI + 1], path[PATH_MAX];
	int rc;

	if (uri_file(uri, len, name) != SB_OK)
		return SB_ERR_NOT_FOUND;
	memcpy(u, uri, len);
	u[len] = '\0';
	/* The record first: once it is gone nobody is served the file, which
	 * is removed after (a store holding the contents removes both). */
	rc = b->st->ops->blob_delete(b->st, u, owner);
	if (rc == SB_OK && !b->in_store && blob_path(b, name, path) == SB_OK &&
	    unlink(path) != 0 && errno != ENOENT)
		relay_log("blob delete: cannot unlink %s: %s", name, strerror(errno));
	return rc;
}

/* ---- uploads ----------------------------------------------------------------- */

int
relay_upload_begin(struct relay_blobs *b, uint64_t owner, uint64_t size, uint64_t now,
    struct relay_upload **out)
{
	struct relay_upload *up;
	char name[4 + 2 * 16 + 1];
	int rc;

	*out = NULL;
	if ((up = calloc(1, sizeof(*up))) == NULL)
		return SB_ERR_ALLOC;
	up->b = b;
	up->owner = owner;
	up->size = size;
	up->fd = -1;
	if (b->in_store) {
		rc = b->st->ops->blob_begin(b->st, owner, size, now, &up->id);
	} else {
		memcpy(name, "tmp/", 4);
		rc = rand_hex(name + 4, 16);
		if (rc == SB_OK)
			rc = blob_path(b, name, up->tmp);
		if (rc == SB_OK &&
		    (up->fd = open(up->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
			rc = errno_err();
	}
	if (rc != SB_OK) {
		free(up);
		return rc;
	}
	*out = up;
	return SB_OK;
}

int
relay_upload_write(struct relay_upload *up, const uint8_t *p, size_t n)
{
	ssize_t w;

	if (up->b->in_store) {
		if (n == 0)
			return SB_OK;
		return up->b->st->ops->blob_write(up->b->st, up->id, up->index++, p, n);
	}
	while (n > 0) {
		w = write(up->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			return errno_err();
		}
		p += w;
		n -= (size_t)w;
	}
	return SB_OK;
}

void
relay_upload_abort(struct relay_upload *up)
{
	if (up == NULL)
		return;
	if (up->b->in_store) {
		up->b->st->ops->blob_drop(up->b->st, up->id);
	} else {
		if (up->fd >= 0)
			close(up->fd);
		unlink(up->tmp);
	}
	free(up);
}

static int
finish_file(struct relay_upload *up, uint64_t now, char uri[SB_MAX_URI])
{
	struct relay_blobs *b = up->b;
	char hex[2 * URI_RAND + 1], path[PATH_MAX], dir[PATH_MAX];
	int rc, renamed;

	/* write to temp, fsync, rename, fsync the folder: never a torn blob */
	rc = fsync(up->fd) == 0 ? SB_OK : errno_err();
	close(up->fd);
	up->fd = -1;
	if (rc == SB_OK)
		rc = rand_hex(hex, URI_RAND);
	if (rc == SB_OK)
		rc = blob_path(b, hex, path);
	if (rc == SB_OK && rename(up->tmp, path) != 0)
		rc = errno_err();
	renamed = rc == SB_OK;
	if (rc == SB_OK && (blob_path(b, "", dir) != SB_OK || sb_fsync_dir(dir) != SB_OK))
		rc = errno_err();
	if (rc == SB_OK) {
		snprintf(uri, SB_MAX_URI, URI_PREFIX "%s", hex);
		rc = b->st->ops->blob_add(b->st, uri, up->size, up->owner, now);
	}
	/* Only what this upload made: path is set only once renamed. */
	if (rc != SB_OK)
		unlink(renamed ? path : up->tmp);
	return rc;
}

int
relay_upload_finish(struct relay_upload *up, uint64_t now, char uri[SB_MAX_URI])
{
	struct relay_blobs *b = up->b;
	char hex[2 * URI_RAND + 1];
	int rc;

	uri[0] = '\0';
	if (!b->in_store) {
		rc = finish_file(up, now, uri);
		free(up);
		return rc;
	}
	rc = rand_hex(hex, URI_RAND);
	if (rc == SB_OK) {
		snprintf(uri, SB_MAX_URI, URI_PREFIX "%s", hex);
		rc = b->st->ops->blob_finish(b->st, up->id, uri, up->size, up->owner, now);
	}
	if (rc != SB_OK) {
		uri[0] = '\0';
		b->st->ops->blob_drop(b->st, up->id);
	}
	free(up);
	return rc;
}

/* ---- downloads --------------------------------------------------------------- */

int
relay_download_open(struct relay_blobs *b, const uint8_t *u, size_t len,
    uint64_t not_before, uint64_t *size, struct relay_download **out)
{
	struct relay_download *d;
	char name[2 * URI_RAND + 1], uri[SB_MAX_URI + 1], path[PATH_MAX];
	struct stat st;
	int rc;

	*out = NULL;
	*size = 0;
	if (uri_file(u, len, name) != SB_OK)
		return SB_ERR_NOT_FOUND;
	memcpy(uri, u, len);
	uri[len] = '\0';
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return SB_ERR_ALLOC;
	d->b = b;
	d->fd = -1;
	if (b->in_store) {
		rc = b->st->ops->blob_open(b->st, uri, not_before, size, &d->handle);
		goto out;
	}
	rc = b->st->ops->blob_get(b->st, uri, not_before, size);
	if (rc == SB_OK && (blob_path(b, name, path) != SB_OK ||
	    (d->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0))
		rc = SB_ERR_NOT_FOUND;
	if (rc == SB_OK && fstat(d->fd, &st) == 0 && (uint64_t)st.st_size != *size) {
		/* A damaged blob store.  Shorter: serve what the file holds (the
		 * recipient checks size and hashes end to end) rather than promise
		 * bytes that are not there and drop the connection halfway.
		 * Longer: the recorded size, never more than was uploaded. */
		relay_log("blob damaged %.16s...: file has %lld bytes, record says %llu",
		    uri, (long long)st.st_size, (unsigned long long)*size);
		if ((uint64_t)st.st_size < *size)
			*size = (uint64_t)st.st_size;
	}
out:
	if (rc != SB_OK) {
		relay_download_close(d);
		*size = 0;
		return rc;
	}
	*out = d;
	return SB_OK;
}

int
relay_download_read(struct relay_download *d, uint8_t *buf, size_t cap, size_t *n)
{
	ssize_t r;
	int rc;

	*n = 0;
	if (d->b->in_store) {
		rc = d->b->st->ops->blob_read(d->b->st, d->handle, d->index, buf, cap, n);
		if (rc == SB_OK && *n == 0)
			rc = SB_ERR_STORAGE;   /* an empty chunk would never end */
		if (rc == SB_OK)
			d->index++;
		return rc;
	}
	do
		r = read(d->fd, buf, cap);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return SB_ERR_SYSTEM;   /* the blob file shrank under us */
	*n = (size_t)r;
	return SB_OK;
}

void
relay_download_close(struct relay_download *d)
{
	if (d == NULL)
		return;
	if (d->fd >= 0)
		close(d->fd);
	free(d);
}
