/*
 * spool.c - the outbox spool's group commit (outbox.h "durability"): the
 * close path writes its content file and commits its records without
 * waiting for the disk (store_lock_lazy: kill -9 safe), and one thread, the
 * syncer, makes everything closed in the last OB_SYNC_WINDOW_MS durable
 * against power loss with one round of syncs: each content file written
 * since the last round, data/ once, the WAL once.  fsync(2) on an outbox
 * file asks for a round at once and waits for it; every fsync that comes
 * while a round is being prepared shares it.
 *
 * Never holds sync_mu while taking db_lock or doing I/O; never takes
 * ob->lock (callers may hold it: order ob->lock, db_lock, sync_mu).
 *
 * Also the outbox's statement cache (spool_prepare): parsing SQL was 45%
 * of the sending mount's instructions (callgrind, 100 small files).
 */
#include "agent/send/outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/durable.h"
#include "common/sberr.h"
#include "agent/store.h"

/*
 * The statement cache: one prepared statement per call site (the SQL text's
 * address: every caller passes a literal), reset instead of finalized.  A
 * site whose statement is in use (a nested use) gets a fresh one.  Used
 * under db_lock only.
 */
int
spool_prepare(struct agent *a, const char *sql, sqlite3_stmt **out)
{
	struct outbox *ob = a->out;
	struct ob_stmt *free_slot = NULL;
	int rc;

	for (size_t i = 0; i < OB_STMT_CACHE; i++) {
		struct ob_stmt *c = &ob->stmts[i];

		if (c->sql == sql && c->st != NULL) {
			if (c->busy)
				return store_prepare(a->db, sql, out);
			c->busy = 1;
			*out = c->st;
			return SB_OK;
		}
		if (c->sql == NULL && free_slot == NULL)
			free_slot = c;
	}
	if ((rc = store_prepare(a->db, sql, out)) != SB_OK || free_slot == NULL)
		return rc;
	free_slot->sql = sql;
	free_slot->st = *out;
	free_slot->busy = 1;
	return SB_OK;
}

void
spool_finalize(struct agent *a, sqlite3_stmt *st)
{
	struct outbox *ob = a->out;

	if (st == NULL)
		return;
	for (size_t i = 0; i < OB_STMT_CACHE; i++)
		if (ob->stmts[i].st == st) {
			/* (reset also ends its read transaction) */
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			ob->stmts[i].busy = 0;
			return;
		}
	sqlite3_finalize(st);
}

void
spool_cache_free(struct agent *a)
{
	struct outbox *ob = a->out;

	if (ob == NULL)
		return;
	store_lock(a);
	for (size_t i = 0; i < OB_STMT_CACHE; i++) {
		sqlite3_finalize(ob->stmts[i].st);
		ob->stmts[i].st = NULL;
		ob->stmts[i].sql = NULL;
	}
	store_unlock(a);
}

void
spool_lock(struct agent *a)
{
	store_lock_lazy(a);
	a->out->db_changes = sqlite3_total_changes64(a->db);
}

/* Adds file (may be NULL) to the next round; caller holds sync_mu. */
static int
note_locked(struct outbox *ob, const char *file, int new_entry)
{
	if (!ob->sync_dirty)
		clock_gettime(CLOCK_MONOTONIC, &ob->sync_first);
	ob->sync_dirty = 1;
	ob->sync_dir |= new_entry;
	if (file == NULL || file[0] == '\0')
		return SB_OK;
	for (size_t i = 0; i < ob->n_sync; i++)
		if (strcmp(ob->sync_files[i].name, file) == 0)
			return SB_OK;
	if (ob->n_sync == ob->cap_sync) {
		size_t nc = ob->cap_sync ? ob->cap_sync * 2 : 64;
		void *p = realloc(ob->sync_files, nc * sizeof(*ob->sync_files));

		if (p == NULL)
			return SB_ERR_ALLOC;
		ob->sync_files = p;
		ob->cap_sync = nc;
	}
	snprintf(ob->sync_files[ob->n_sync++].name, OB_FILE_REF_BUF, "%s", file);
	return SB_OK;
}

void
spool_unlock(struct agent *a)
{
	struct outbox *ob = a->out;
	int changed = sqlite3_total_changes64(a->db) != ob->db_changes;

	store_unlock(a);
	if (!changed)
		return;
	pthread_mutex_lock(&ob->sync_mu);
	if (!ob->sync_dirty)
		pthread_cond_broadcast(&ob->sync_cond);
	(void)note_locked(ob, NULL, 0);
	pthread_mutex_unlock(&ob->sync_mu);
}

void
spool_note_file(struct agent *a, const char *file, int new_entry)
{
	struct outbox *ob = a->out;

	pthread_mutex_lock(&ob->sync_mu);
	if (!ob->sync_dirty)
		pthread_cond_broadcast(&ob->sync_cond);
	if (note_locked(ob, file, new_entry) != SB_OK)
		ob->sync_now = 1;       /* no room to remember it: sync at once */
	pthread_mutex_unlock(&ob->sync_mu);
}

/* fsync of one content file by name; a file removed meanwhile needs none. */
static int
sync_file(struct outbox *ob, const char *file)
{
	char path[4096];
	int fd, rc = SB_OK;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", ob->data_dir, file) >= sizeof(path))
		return SB_ERR_LENGTH;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? SB_OK : SB_ERR_SYSTEM;
	if (fsync(fd) != 0)
		rc = SB_ERR_SYSTEM;
	close(fd);
	return rc;
}

/* One round: the files, data/, the WAL.  Caller holds no lock. */
static int
round_run(struct agent *a, struct ob_sync_file *files, size_t n, int dir)
{
	int rc = SB_OK;

	for (size_t i = 0; i < n; i++) {
		int r = sync_file(a->out, files[i].name);

		if (rc == SB_OK)
			rc = r;
	}
	if (dir) {
		int r = sb_fsync_dir(a->out->data_dir);

		if (rc == SB_OK)
			rc = r;
	}
	if (rc == SB_OK)
		rc = store_sync(a);
	return rc;
}

static void *
syncer_main(void *arg)
{
	struct agent *a = arg;
	struct outbox *ob = a->out;

	pthread_mutex_lock(&ob->sync_mu);
	for (;;) {
		while (!ob->sync_dirty && !ob->sync_stop)
			pthread_cond_wait(&ob->sync_cond, &ob->sync_mu);
		if (!ob->sync_dirty && ob->sync_stop)
			break;
		/* The window: everything closed within it shares the round. */
		struct timespec dl = ob->sync_first;
		dl.tv_nsec += (long)OB_SYNC_WINDOW_MS * 1000000L;
		dl.tv_sec += dl.tv_nsec / 1000000000L;
		dl.tv_nsec %= 1000000000L;
		while (!ob->sync_now && !ob->sync_stop &&
		    pthread_cond_timedwait(&ob->sync_cond, &ob->sync_mu, &dl) == 0)
			;
		struct ob_sync_file *files = ob->sync_files;
		size_t n = ob->n_sync;
		int dir = ob->sync_dir;
		uint64_t round = ++ob->sync_started;

		ob->sync_files = NULL;
		ob->n_sync = ob->cap_sync = 0;
		ob->sync_dir = ob->sync_dirty = ob->sync_now = 0;
		pthread_mutex_unlock(&ob->sync_mu);
		int rc = round_run(a, files, n, dir);
		free(files);
		if (rc != SB_OK)
			fprintf(stderr, "sealbox: outbox: spool sync: %s%s%s\n", sb_strerror(rc),
			    rc == SB_ERR_SYSTEM ? ": " : "", rc == SB_ERR_SYSTEM ? strerror(errno) : "");
		pthread_mutex_lock(&ob->sync_mu);
		ob->sync_done = round;
		ob->sync_rc = rc;
		pthread_cond_broadcast(&ob->sync_cond);
	}
	pthread_mutex_unlock(&ob->sync_mu);
	return NULL;
}

int
spool_sync_wait(struct agent *a, const char *file, int new_entry)
{
	struct outbox *ob = a->out;
	uint64_t want;
	int rc;

	pthread_mutex_lock(&ob->sync_mu);
	if (!ob->sync_started_thread) {
		pthread_mutex_unlock(&ob->sync_mu);
		struct ob_sync_file one;
		snprintf(one.name, sizeof(one.name), "%s", file ? file : "");
		return round_run(a, &one, file && file[0] ? 1 : 0, new_entry);
	}
	rc = note_locked(ob, file, new_entry);
	/* The round after the ones already started takes what we noted. */
	want = ob->sync_started + 1;
	ob->sync_now = 1;
	pthread_cond_broadcast(&ob->sync_cond);
	while (rc == SB_OK && ob->sync_done < want)
		pthread_cond_wait(&ob->sync_cond, &ob->sync_mu);
	if (rc == SB_OK)
		rc = ob->sync_rc;
	pthread_mutex_unlock(&ob->sync_mu);
	return rc;
}

int
spool_start(struct agent *a)
{
	struct outbox *ob = a->out;

	pthread_condattr_t ca;

	pthread_mutex_init(&ob->sync_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);   /* the window's clock */
	pthread_cond_init(&ob->sync_cond, &ca);
	pthread_condattr_destroy(&ca);
	ob->sync_init = 1;
	if (pthread_create(&ob->syncer, NULL, syncer_main, a) != 0)
		return SB_ERR_SYSTEM;
	ob->sync_started_thread = 1;
	return SB_OK;
}

void
spool_stop(struct agent *a)
{
	struct outbox *ob = a->out;

	if (ob == NULL || !ob->sync_init)
		return;
	if (ob->sync_started_thread) {
		/* The last round runs at once: an unmount leaves the spool on disk. */
		pthread_mutex_lock(&ob->sync_mu);
		ob->sync_stop = 1;
		ob->sync_now = 1;
		pthread_cond_broadcast(&ob->sync_cond);
		pthread_mutex_unlock(&ob->sync_mu);
		pthread_join(ob->syncer, NULL);
		ob->sync_started_thread = 0;
	}
	free(ob->sync_files);
	ob->sync_files = NULL;
	pthread_mutex_destroy(&ob->sync_mu);
	pthread_cond_destroy(&ob->sync_cond);
	ob->sync_init = 0;
}
