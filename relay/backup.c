/*
 * backup.c - `sealbox-relay backup` and `restore` (docs/RELAY.md
 * "Backup and restore").
 *
 * A backup is itself a relay data directory: relay.conf, tls/, relay.db
 * and blobs/.  `backup` takes it while `serve` runs: the database through
 * the store's backup operation (SQLite's online backup API: one snapshot),
 * then exactly the blob files that snapshot records.  Blob files never
 * change once named, so the copy is consistent: a blob stored after the
 * snapshot is not in it, and one deleted since (expired, its device
 * removed) is reported and left out.  `restore` copies a backup into a
 * fresh directory and checks it on the way: the database opens, every
 * blob it records is there with its recorded size, the key matches the
 * certificate.  In both, relay.conf is written last: its presence means
 * "initialised", so an interrupted run leaves no directory that looks
 * whole.  Nothing here follows a symbolic link or reads outside the two
 * directories.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/durable.h"
#include "../common/sberr.h"
#include "relay.h"
#include "store.h"

#define URI_PREFIX "sbblob:"
#define COPY_CHUNK (1u << 16)

/* The TLS files a data directory may hold (the next pair while a
 * certificate rotation is pending). */
static const char *const tls_files[] = {
	"tls/key.pem", "tls/cert.pem", "tls/next-key.pem", "tls/next-cert.pem",
	/* The log key (PROTOCOL 14.1): devices pin it, so a restore without it
	 * would be a relay they refuse.  Absent only before the log existed. */
	"tls/log-key.pem",
};

static int
join(char out[PATH_MAX], const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

	return n < 0 || n >= PATH_MAX ? SB_ERR_INVALID_ARG : SB_OK;
}

/*
 * Copies src to dst (created with mode, O_EXCL), fsync'd.  want: the size
 * src must have (UINT64_MAX: any).  *size: bytes copied.  SB_ERR_NOT_FOUND
 * when src is missing, SB_ERR_LENGTH when its size is not want, else
 * SB_ERR_SYSTEM (errno).  A partial dst is removed.
 */
static int
copy_file(const char *src, const char *dst, mode_t mode, uint64_t want, uint64_t *size)
{
	char buf[COPY_CHUNK];
	struct stat st;
	int in, out, rc = SB_OK, e;
	ssize_t n;

	*size = 0;
	if ((in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return errno == ENOENT ? SB_ERR_NOT_FOUND : SB_ERR_SYSTEM;
	if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(in);
		return SB_ERR_SYSTEM;
	}
	if (want != UINT64_MAX && (uint64_t)st.st_size != want) {
		close(in);
		return SB_ERR_LENGTH;
	}
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)) < 0) {
		e = errno;
		close(in);
		errno = e;
		return SB_ERR_SYSTEM;
	}
	while (rc == SB_OK && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(out, buf, (size_t)n) != n)
			rc = SB_ERR_SYSTEM;
		else
			*size += (uint64_t)n;
	}
	if (rc == SB_OK && fsync(out) != 0)
		rc = SB_ERR_SYSTEM;
	e = errno;
	close(in);
	close(out);
	if (rc != SB_OK)
		unlink(dst);
	errno = e;
	return rc;
}

/* dir must be new: created (mode 0700), or an empty existing folder. */
static int
fresh_dir(const char *dir)
{
	DIR *d;
	struct dirent *e;
	int empty = 1;

	if (mkdir(dir, 0700) == 0)
		return SB_OK;
	if (errno != EEXIST || (d = opendir(dir)) == NULL)
		return SB_ERR_SYSTEM;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty ? SB_OK : SB_ERR_EXISTS;
}

struct copy {
	const char *from, *to;
	int strict;                   /* restore: a missing or short blob fails */
	struct relay_copy_stats *st;
};

static int
copy_blob(void *arg, const char *uri, uint64_t size)
{
	struct copy *c = arg;
	char src[PATH_MAX], dst[PATH_MAX];
	uint64_t got;
	int rc;

	if (relay_blob_path(c->from, uri, src) != SB_OK ||
	    relay_blob_path(c->to, uri, dst) != SB_OK) {
		if (c->strict)
			return SB_ERR_FORMAT;
		c->st->blobs_missing++;   /* a record no file can have */
		return SB_OK;
	}
	rc = copy_file(src, dst, 0600, c->strict ? size : UINT64_MAX, &got);
	if (rc == SB_ERR_NOT_FOUND && !c->strict) {
		c->st->blobs_missing++;
		return SB_OK;
	}
	if (rc != SB_OK) {
		snprintf(c->st->bad, sizeof(c->st->bad), "blobs/%.64s", uri + strlen(URI_PREFIX));
		return rc;
	}
	c->st->blobs++;
	c->st->blob_bytes += got;
	return SB_OK;
}

/* tls/ (key and certificate, and the next pair while a rotation is
 * pending). */
static int
copy_tls(const char *from, const char *to, struct relay_copy_stats *st)
{
	char src[PATH_MAX], dst[PATH_MAX];
	uint64_t n;
	size_t i;
	int rc;

	if (join(dst, to, "tls") != SB_OK || mkdir(dst, 0700) != 0)
		return SB_ERR_SYSTEM;
	for (i = 0; i < sizeof(tls_files) / sizeof(tls_files[0]); i++) {
		if (join(src, from, tls_files[i]) != SB_OK || join(dst, to, tls_files[i]) != SB_OK)
			return SB_ERR_INVALID_ARG;
		/* Keys stay 0600; certificates are public. */
		rc = copy_file(src, dst, strstr(tls_files[i], "key") ? 0600 : 0644, UINT64_MAX, &n);
		if (rc == SB_ERR_NOT_FOUND && i >= 2)
			continue;   /* no rotation pending */
		if (rc != SB_OK) {
			snprintf(st->bad, sizeof(st->bad), "%s", tls_files[i]);
			return rc;
		}
	}
	if (join(dst, to, "tls") != SB_OK || sb_fsync_dir(dst) != SB_OK ||
	    join(dst, to, "blobs") != SB_OK || sb_fsync_dir(dst) != SB_OK)
		return SB_ERR_SYSTEM;
	return SB_OK;
}

/* relay.conf, last: its presence means a whole relay directory. */
static int
copy_conf(const char *from, const char *to, struct relay_copy_stats *st)
{
	char src[PATH_MAX], dst[PATH_MAX];
	uint64_t n;
	int rc;

	if (join(src, from, "relay.conf") != SB_OK || join(dst, to, "relay.conf") != SB_OK)
		return SB_ERR_INVALID_ARG;
	if ((rc = copy_file(src, dst, 0600, UINT64_MAX, &n)) != SB_OK) {
		snprintf(st->bad, sizeof(st->bad), "relay.conf");
		return rc;
	}
	return sb_fsync_dir(to) == SB_OK ? SB_OK : SB_ERR_SYSTEM;
}

static int
make_blob_dirs(const char *to)
{
	char p[PATH_MAX];

	if (join(p, to, "blobs") != SB_OK || mkdir(p, 0700) != 0 ||
	    join(p, to, "blobs/tmp") != SB_OK || mkdir(p, 0700) != 0)
		return SB_ERR_SYSTEM;
	return SB_OK;
}

int
relay_backup(const char *datadir, const char *out, struct relay_copy_stats *st)
{
	struct relay_config cfg;
	struct relay_store *s = NULL, *copy = NULL;
	struct copy c = { datadir, out, 0, st };
	char db[PATH_MAX];
	struct stat sb;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = relay_config_load(datadir, &cfg)) != SB_OK)
		return rc;
	if ((rc = fresh_dir(out)) != SB_OK)
		return rc;
	if ((rc = make_blob_dirs(out)) != SB_OK)
		return rc;
	if ((rc = relay_store_open_dir(datadir, &s)) != SB_OK)
		return rc;
	if (s->ops->backup == NULL)
		rc = SB_ERR_NOT_FOUND;   /* main.c: "use the store's own tools" */
	else if ((rc = join(db, out, "relay.db")) == SB_OK)
		rc = s->ops->backup(s, db);
	relay_store_close(s);
	/* The blob list comes from the COPY: the files of its snapshot. */
	if (rc == SB_OK)
		rc = relay_store_open_sqlite(db, &copy);
	if (rc == SB_OK)
		rc = copy->ops->blob_each(copy, copy_blob, &c);
	relay_store_close(copy);
	if (rc == SB_OK && stat(db, &sb) == 0)
		st->db_bytes = (uint64_t)sb.st_size;
	if (rc == SB_OK)
		rc = copy_tls(datadir, out, st);
	if (rc == SB_OK)
		rc = copy_conf(datadir, out, st);
	return rc;
}

int
relay_restore(const char *backup, const char *datadir, struct relay_copy_stats *st,
    uint8_t fp[RELAY_FP_LEN])
{
	struct relay_config cfg;
	struct relay_store *s = NULL;
	struct copy c = { backup, datadir, 1, st };
	char src[PATH_MAX], dst[PATH_MAX];
	int rc;

	memset(st, 0, sizeof(*st));
	/* A backup is a relay directory; relay.conf says it is whole. */
	if ((rc = relay_config_load(backup, &cfg)) != SB_OK)
		return SB_ERR_CONFIG;
	if ((rc = fresh_dir(datadir)) != SB_OK)
		return rc;
	if ((rc = make_blob_dirs(datadir)) != SB_OK)
		return rc;
	if (join(src, backup, "relay.db") != SB_OK || join(dst, datadir, "relay.db") != SB_OK)
		return SB_ERR_INVALID_ARG;
	if ((rc = copy_file(src, dst, 0600, UINT64_MAX, &st->db_bytes)) != SB_OK) {
		snprintf(st->bad, sizeof(st->bad), "relay.db");
		return rc;
	}
	/* Opening it checks it is a database of ours; its records say which
	 * blob files must come along, each with its recorded size. */
	if ((rc = relay_store_open_dir(datadir, &s)) != SB_OK) {
		snprintf(st->bad, sizeof(st->bad), "relay.db");
		return rc;
	}
	rc = s->ops->blob_each(s, copy_blob, &c);
	relay_store_close(s);
	if (rc == SB_OK)
		rc = copy_tls(backup, datadir, st);
	/* serve would refuse a key that is not the certificate's: say so now. */
	if (rc == SB_OK && (rc = relay_tls_check(datadir, fp)) != SB_OK)
		snprintf(st->bad, sizeof(st->bad), "tls/key.pem");
	if (rc == SB_OK)
		rc = copy_conf(backup, datadir, st);
	return rc;
}
