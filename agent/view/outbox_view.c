/*
 * outbox_view.c - outbox/ as the user sees it: our own spool (send/,
 * outbox.h) merged with the copies our other devices sent, which recv/
 * stored as records of the store and inbox_view.c shows with box
 * AGENT_BOX_OUT.  Our own row wins a name both have; a folder exists when
 * either side has it; a synced copy may be read, renamed nowhere, written
 * never (SB_ERR_PERMISSION), removed locally.
 *
 * The merge lived inside outbox.c, which made the send side call the
 * receive side's namespace; here it sits above both, so send/ knows
 * nothing of what was received.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/send/outbox.h"
#include "agent/view/view.h"
#include "common/sberr.h"

/* ---- listing each name once ---------------------------------------------- */

struct seen {
	char **names;
	size_t n, cap;
	agent_fill_fn fill;
	void *ctx;
	int stopped;
};

static int
seen_add(struct seen *s, const char *name)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		char **p = realloc(s->names, cap * sizeof(*p));
		if (p == NULL)
			return SB_ERR_ALLOC;
		s->names = p;
		s->cap = cap;
	}
	if ((s->names[s->n] = strdup(name)) == NULL)
		return SB_ERR_ALLOC;
	s->n++;
	return SB_OK;
}

static int
seen_has(const struct seen *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return 1;
	return 0;
}

static void
seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
}

static int
seen_fill(void *ctx, const char *name, const struct agent_attr *attr)
{
	struct seen *s = ctx;

	if (s->stopped || seen_has(s, name))
		return s->stopped;
	seen_add(s, name);
	if (s->fill(s->ctx, name, attr)) {
		s->stopped = 1;
		return 1;
	}
	return 0;
}

/* A folder either side knows. */
static int
folder_known(struct agent *a, const char *folder)
{
	struct agent_attr at;

	return outbox_folder_known(a, folder) ||
	    inbox_folder_attr(a, AGENT_BOX_OUT, folder, &at) == SB_OK;
}

static int
synced(struct agent *a, const char *folder, const char *name)
{
	struct agent_attr at;

	return inbox_file_attr(a, AGENT_BOX_OUT, folder, name, &at) == SB_OK;
}

/* ---- folders --------------------------------------------------------------- */

int
outview_list_folders(struct agent *a, agent_fill_fn fill, void *ctx)
{
	struct seen s = { .fill = fill, .ctx = ctx };
	int rc = outbox_list_folders(a, seen_fill, &s);

	if (rc == SB_OK && !s.stopped)
		inbox_list_folders(a, AGENT_BOX_OUT, seen_fill, &s);
	seen_free(&s);
	return rc;
}

int
outview_folder_attr(struct agent *a, const char *folder, struct agent_attr *out)
{
	int rc = outbox_folder_attr(a, folder, out);

	if (rc != SB_ERR_NOT_FOUND)
		return rc;
	rc = inbox_folder_attr(a, AGENT_BOX_OUT, folder, out);
	if (rc == SB_OK) {
		out->mode = 0755;
		out->is_dir = 1;
	}
	return rc;
}

int
outview_folder_create(struct agent *a, const char *folder)
{
	if (folder_known(a, folder))
		return SB_ERR_EXISTS;
	return outbox_folder_create(a, folder);
}

int
outview_folder_remove(struct agent *a, const char *folder)
{
	struct agent_attr at;

	/* Synced copies count as content too. */
	if (inbox_folder_attr(a, AGENT_BOX_OUT, folder, &at) == SB_OK)
		return SB_ERR_EXISTS;
	return outbox_folder_remove(a, folder);
}

/* ---- files -------------------------------------------------------------------- */

int
outview_list_files(struct agent *a, const char *folder, const char *dir,
    agent_fill_fn fill, void *ctx)
{
	struct seen s = { .fill = fill, .ctx = ctx };
	int rc;

	if (!folder_known(a, folder))
		return SB_ERR_NOT_FOUND;
	rc = outbox_list_files(a, folder, dir, seen_fill, &s);
	if (rc == SB_OK && !s.stopped) {
		int r2 = inbox_list_files(a, AGENT_BOX_OUT, folder, dir, seen_fill, &s);
		if (r2 != SB_OK && r2 != SB_ERR_NOT_FOUND)
			rc = r2;
	}
	seen_free(&s);
	return rc;
}

int
outview_dir_create(struct agent *a, const char *folder, const char *path)
{
	struct agent_attr at;

	if (!folder_known(a, folder))
		return SB_ERR_NOT_FOUND;
	/* A synced copy's folder of that path exists already. */
	if (inbox_file_attr(a, AGENT_BOX_OUT, folder, path, &at) == SB_OK)
		return SB_ERR_EXISTS;
	return outbox_dir_create(a, folder, path);
}

static int
count_one(void *ctx, const char *name, const struct agent_attr *at)
{
	(void)name;
	(void)at;
	++*(int *)ctx;
	return 1;
}

int
outview_dir_remove(struct agent *a, const char *folder, const char *path)
{
	struct agent_attr at;
	int synced = 0;

	/* Not empty while a synced copy sits in it; a folder that only
	 * synced copies make is theirs (read-only). */
	inbox_list_files(a, AGENT_BOX_OUT, folder, path, count_one, &synced);
	if (synced)
		return outbox_file_attr(a, folder, path, &at) == SB_OK ? SB_ERR_EXISTS :
		    SB_ERR_PERMISSION;
	return outbox_dir_remove(a, folder, path);
}

int
outview_file_attr(struct agent *a, const char *folder, const char *name,
    struct agent_attr *out)
{
	int rc = outbox_file_attr(a, folder, name, out);

	if (rc != SB_ERR_NOT_FOUND)
		return rc;
	rc = inbox_file_attr(a, AGENT_BOX_OUT, folder, name, out);
	if (rc == SB_OK)
		out->mode = 0644;
	return rc;
}

int
outview_file_open(struct agent *a, const char *folder, const char *name,
    int flags, struct agent_file **out)
{
	int write = (flags & (AGENT_OPEN_WRITE | AGENT_OPEN_TRUNC | AGENT_OPEN_CREATE)) != 0;
	int rc;

	*out = NULL;
	if (!folder_known(a, folder))
		return SB_ERR_NOT_FOUND;
	if ((flags & AGENT_OPEN_CREATE) && (flags & AGENT_OPEN_EXCL)) {
		/* The keyring's answer first, as for any open for writing. */
		if ((rc = agent_keys_acquire(a)) != SB_OK)
			return rc;
		if (synced(a, folder, name))
			return SB_ERR_EXISTS;
	}
	rc = outbox_file_open(a, folder, name, flags, out);
	if (rc != SB_ERR_NOT_FOUND || (flags & AGENT_OPEN_CREATE))
		return rc;
	if (!synced(a, folder, name))
		return SB_ERR_NOT_FOUND;
	if (write)
		return SB_ERR_PERMISSION;
	return inbox_file_open(a, AGENT_BOX_OUT, folder, name, out);
}

int
outview_truncate(struct agent *a, const char *folder, const char *name, uint64_t size)
{
	int rc = outbox_truncate(a, folder, name, size);

	if (rc == SB_ERR_NOT_FOUND && synced(a, folder, name))
		rc = SB_ERR_PERMISSION;
	return rc;
}

int
outview_set_times(struct agent *a, const char *folder, const char *name,
    const struct timespec *atime, const struct timespec *mtime)
{
	struct agent_attr at;
	int rc = outbox_set_times(a, folder, name, atime, mtime);

	/* A synced copy keeps its sender's time; accept the call. */
	if (rc == SB_ERR_NOT_FOUND)
		rc = inbox_file_attr(a, AGENT_BOX_OUT, folder, name, &at);
	return rc;
}

int
outview_unlink(struct agent *a, const char *folder, const char *name)
{
	int rc = outbox_unlink(a, folder, name);

	if (rc == SB_ERR_NOT_FOUND)
		rc = inbox_unlink(a, AGENT_BOX_OUT, folder, name);
	return rc;
}

int
outview_rename(struct agent *a, const char *from_folder, const char *from_name,
    const char *to_folder, const char *to_name)
{
	int rc;

	if (strcmp(from_folder, to_folder) == 0 && strcmp(from_name, to_name) == 0)
		return SB_OK;
	if (!folder_known(a, to_folder))
		return SB_ERR_NOT_FOUND;
	rc = outbox_rename(a, from_folder, from_name, to_folder, to_name);
	if (rc == SB_ERR_NOT_FOUND && synced(a, from_folder, from_name))
		rc = SB_ERR_PERMISSION;
	return rc;
}

/* ---- xattrs -------------------------------------------------------------------- */

int
outview_xattr_get(struct agent *a, const char *folder, const char *name,
    const char *attr, struct sb_buf *out)
{
	struct agent_attr at;

	/* Our own row answers (SB_ERR_NOT_FOUND for an attribute it does
	 * not have); only a name we have no row for is a synced copy's. */
	if (outbox_file_attr(a, folder, name, &at) == SB_ERR_NOT_FOUND)
		return inbox_xattr_get(a, AGENT_BOX_OUT, folder, name, attr, out);
	return outbox_xattr_get(a, folder, name, attr, out);
}

int
outview_xattr_list(struct agent *a, const char *folder, const char *name,
    struct sb_buf *out)
{
	int rc = outbox_xattr_list(a, folder, name, out);

	if (rc == SB_ERR_NOT_FOUND)
		rc = inbox_xattr_list(a, AGENT_BOX_OUT, folder, name, out);
	return rc;
}
