/*
 * admin.c - the operator's commands that change or read a relay's
 * directory from outside `serve`: the serve lock, `devices`,
 * `remove-device`, `remove-address` (docs/RELAY.md "Operating a relay").
 *
 * They work on the store through its ops table, as `serve` does, so a
 * removal here is the same store operation (device_remove) as a device's
 * own REMOVE, and whatever hooks that operation sees both.  A running
 * `serve` learns of a removal by SIGHUP (relay_notify_serve) and closes
 * the removed devices' connections; nothing here talks to it otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/pidlock.h"
#include "../common/sberr.h"
#include "../proto/proto.h"
#include "relay.h"
#include "store.h"

#define URI_PREFIX "sbblob:"
#define URI_HEX    64

static int
lock_path(const char *datadir, char out[PATH_MAX])
{
	int n = snprintf(out, PATH_MAX, "%s/" RELAY_LOCK_FILE, datadir);

	return n < 0 || n >= PATH_MAX ? SB_ERR_INVALID_ARG : SB_OK;
}

/* The pid a lock file names, 0 if it names none. */
static long
lock_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;
	char *end;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	return end != buf && (*end == '\n' || *end == '\0') && pid > 0 ? pid : 0;
}

int
relay_lock_take(const char *datadir, int *fd, long *holder)
{
	char path[PATH_MAX];
	int rc = lock_path(datadir, path);

	*fd = -1;
	*holder = 0;
	if (rc != SB_OK)
		return rc;
	rc = sb_lock_take(path, "", fd);
	if (rc == SB_ERR_EXISTS) {
		*holder = lock_pid(*fd);
		close(*fd);
		*fd = -1;
	}
	return rc;
}

int
relay_lock_holder(const char *datadir, long *pid)
{
	char path[PATH_MAX];
	int fd, rc = lock_path(datadir, path);

	*pid = 0;
	if (rc != SB_OK || (rc = sb_lock_held(path, &fd)) != SB_OK)
		return rc;
	if ((*pid = lock_pid(fd)) == 0)
		rc = SB_ERR_NOT_FOUND;   /* between its flock and its write */
	close(fd);
	return rc;
}

int
relay_notify_serve(const char *datadir, long *pid)
{
	int rc = relay_lock_holder(datadir, pid);

	if (rc == SB_ERR_NOT_FOUND) {
		*pid = 0;
		return SB_OK;
	}
	if (rc != SB_OK)
		return rc;
	/* serve ignores SIGHUP from before it takes the lock (relay_serve),
	 * so the signal never kills it, whenever it arrives. */
	return kill((pid_t)*pid, SIGHUP) == 0 ? SB_OK : SB_ERR_SYSTEM;
}

/* An initialised relay's store: SB_ERR_CONFIG where there is none (and
 * no empty database is left behind in a wrong folder). */
static int
open_relay(const char *datadir, struct relay_store **s)
{
	struct relay_config cfg;
	int rc;

	*s = NULL;
	if ((rc = relay_config_load(datadir, &cfg)) != SB_OK)
		return rc;
	return relay_store_open_dir(datadir, s);
}

/* ---- devices --------------------------------------------------------------- */

static void
utc(uint64_t t, char out[24])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(out, 24, "never");
	else
		strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A name between double quotes, '"' and '\\' escaped and every byte
 * outside printable ASCII as \xNN: what a terminal shows is what is
 * stored (a name from before names were checked may hold anything). */
static void
print_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

int
relay_devices_print(const char *datadir, const char *address, FILE *out)
{
	struct relay_store *s;
	struct relay_device *d = NULL;
	char enrolled[24], seen[24];
	size_t i, n = 0;
	uint64_t q;
	int rc;

	if (proto_address_valid((const uint8_t *)address, strlen(address)) != SB_OK)
		return SB_ERR_INVALID_ARG;
	if ((rc = open_relay(datadir, &s)) != SB_OK)
		return rc;
	rc = s->ops->devices_of(s, address, &d, &n);
	if (rc == SB_OK && n == 0)
		rc = SB_ERR_NOT_FOUND;
	if (rc == SB_OK)
		fprintf(out, "%-8s %-20s %-20s %8s  %s\n", "ID", "ENROLLED", "LAST SEEN",
		    "QUEUED", "NAME");
	for (i = 0; rc == SB_OK && i < n; i++) {
		if ((rc = s->ops->queue_count(s, d[i].id, &q)) != SB_OK)
			break;
		utc(d[i].created, enrolled);
		utc(d[i].last_seen, seen);
		fprintf(out, "%-8llu %-20s %-20s %8llu  ", (unsigned long long)d[i].id,
		    enrolled, seen, (unsigned long long)q);
		print_quoted(out, d[i].name);
		fputc('\n', out);
	}
	free(d);
	relay_store_close(s);
	return rc;
}

/* ---- removal --------------------------------------------------------------- */

struct drop {
	const char *datadir;
};

int
relay_blob_path(const char *datadir, const char *uri, char out[PATH_MAX])
{
	size_t pl = strlen(URI_PREFIX), i;
	int n;

	out[0] = '\0';
	if (uri == NULL || strlen(uri) != pl + URI_HEX || strncmp(uri, URI_PREFIX, pl) != 0)
		return SB_ERR_FORMAT;
	for (i = pl; i < pl + URI_HEX; i++)
		if (!((uri[i] >= '0' && uri[i] <= '9') || (uri[i] >= 'a' && uri[i] <= 'f')))
			return SB_ERR_FORMAT;
	n = snprintf(out, PATH_MAX, "%s/blobs/%s", datadir, uri + pl);
	return n > 0 && n < PATH_MAX ? SB_OK : SB_ERR_INVALID_ARG;
}

/* Unlinks the file of a blob record about to be deleted. */
static void
blob_unlink(void *arg, const char *uri)
{
	const struct drop *d = arg;
	char path[PATH_MAX];

	if (relay_blob_path(d->datadir, uri, path) == SB_OK)
		unlink(path);
}

static int
remove_one(struct relay_store *s, const char *datadir, uint64_t id, struct relay_removal *r)
{
	struct relay_device dev;
	struct drop d = { datadir };
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = s->ops->device_get(s, id, &dev)) != SB_OK)
		return rc;
	r->device = id;
	memcpy(r->address, dev.address, sizeof(r->address));
	if ((rc = s->ops->queue_count(s, id, &r->items)) != SB_OK)
		return rc;
	/* The operator's word, not the account's: an unsigned remove entry,
	 * which the account's devices alert on (PROTOCOL 14.7). */
	if ((rc = s->ops->device_remove(s, id, NULL, (uint64_t)time(NULL))) != SB_OK)
		return rc;
	/* A cluster: every node, not only this directory's serve, closes
	 * the removed device's connection (store.h, announce). */
	if (s->ops->announce != NULL)
		(void)s->ops->announce(s, RELAY_EV_REMOVED, id, 0);
	/* After the device is gone: a blob it uploads meanwhile fails on the
	 * session's next request (serve closes it on our SIGHUP) and its
	 * upload's temporary file goes with the session. */
	return s->ops->blob_drop_owner(s, id, blob_unlink, &d, &r->blobs, &r->blob_bytes);
}

int
relay_remove_device(const char *datadir, uint64_t id, struct relay_removal *r)
{
	struct relay_store *s;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = open_relay(datadir, &s)) != SB_OK)
		return rc;
	rc = remove_one(s, datadir, id, r);
	relay_store_close(s);
	return rc;
}

int
relay_remove_address(const char *datadir, const char *address,
    void (*each)(void *arg, const struct relay_removal *r), void *arg, uint64_t *invites)
{
	struct relay_store *s;
	struct relay_device *d = NULL;
	struct relay_removal r;
	size_t i, n = 0;
	int rc;

	*invites = 0;
	if (proto_address_valid((const uint8_t *)address, strlen(address)) != SB_OK)
		return SB_ERR_INVALID_ARG;
	if ((rc = open_relay(datadir, &s)) != SB_OK)
		return rc;
	/* Invites first: nobody enrolls into the account while it goes. */
	rc = s->ops->invite_void(s, address, invites);
	if (rc == SB_OK)
		rc = s->ops->devices_of(s, address, &d, &n);
	/* One device at a time, each its own transaction: an interrupted run
	 * leaves whole devices, and running it again finishes the job. */
	for (i = 0; rc == SB_OK && i < n; i++) {
		rc = remove_one(s, datadir, d[i].id, &r);
		if (rc == SB_OK && each != NULL)
			each(arg, &r);
	}
	if (rc == SB_OK && n == 0 && *invites == 0)
		rc = SB_ERR_NOT_FOUND;
	free(d);
	relay_store_close(s);
	return rc;
}
