/*
 * outbox_rules.c - the outbox's pure rules (outbox.h): which names are
 * temporary, what the status xattr says, what ends a write session, which
 * send errors are final and how a transient one reads in "queued: REASON".
 * No I/O, no state: unit-tested on their own.
 */
#include "agent/send/outbox.h"

#include <stdio.h>
#include <string.h>

#include "common/sberr.h"

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

int
outbox_is_temp_name(const char *path)
{
	const char *name, *slash;
	size_t n;

	if (path == NULL || path[0] == '\0')
		return 0;
	slash = strrchr(path, '/');
	name = slash ? slash + 1 : path;
	n = strlen(name);
	if (n == 0)
		return 0;
	/* Hidden at the top of a conversation: a draft (the GLib, rsync and
	 * editor habit).  Inside a folder a dot-file is content (.gitignore,
	 * .git/HEAD): a tree travels whole. */
	if (name[0] == '.' && slash == NULL)
		return 1;
	/* Emacs: #auto-save#, .#lock; vim: .name.swp, .swo, ... .swa. */
	if (name[0] == '#' || (name[0] == '.' && name[1] == '#'))
		return 1;
	if (name[0] == '.' && n > 4 && memcmp(name + n - 4, ".sw", 3) == 0 &&
	    name[n - 1] >= 'a' && name[n - 1] <= 'p')
		return 1;
	/* Backups (~), swap and partial downloads, SQLite's side files. */
	return ends_with(name, "~") || ends_with(name, ".swp") ||
	    ends_with(name, ".swx") || ends_with(name, ".tmp") ||
	    ends_with(name, ".part") || ends_with(name, "-journal") ||
	    ends_with(name, "-wal") || ends_with(name, "-shm");
}

int
outbox_created_tentative(int create, uint64_t size)
{
	return create == OB_CREATE_MKSTEMP || (create == OB_CREATE_EXCL && size == 0);
}

void
outbox_status_text(enum ob_state st, int writing, const char *reason,
    int64_t delivered, int64_t total, char *out, size_t out_size)
{
	if (writing || st == OB_OPEN || st == OB_CLOSED)
		snprintf(out, out_size, "draft");
	else if (st == OB_QUEUED && reason && reason[0])
		snprintf(out, out_size, "queued: %s", reason);
	else if (st == OB_QUEUED)
		snprintf(out, out_size, "queued");
	else if (st == OB_FAILED)
		snprintf(out, out_size, "failed: %s",
		    reason && reason[0] ? reason : "unknown error");
	else if (total > 0 && delivered > 0)
		snprintf(out, out_size, "delivered %lld/%lld", (long long)delivered,
		    (long long)total);
	else
		snprintf(out, out_size, "sent");
}

enum ob_end
outbox_session_end(const struct ob_session *s)
{
	if (!s->modified && s->replaces_row)
		return OB_END_DISCARD;
	if (s->deleted || outbox_is_temp_name(s->name))
		return OB_END_KEEP;
	if (s->too_big)
		return OB_END_FAIL;
	if (s->tentative)
		return OB_END_KEEP;
	return OB_END_QUEUE;
}

int
outbox_err_permanent(int err)
{
	switch (err) {
	case SB_ERR_UNKNOWN_RECIPIENT:
	case SB_ERR_TOO_BIG:
	case SB_ERR_INVALID_ARG:
	case SB_ERR_LENGTH:
	case SB_ERR_FORMAT:
	case SB_ERR_NOT_FOUND:
	case SB_ERR_PERMISSION:
	case SB_ERR_TAG:
	case SB_ERR_TRUNCATED:
	case SB_ERR_KEY_TYPE:
		return 1;
	default:
		return 0;
	}
}

void
outbox_retry_reason(int err, int sys_errno, char *out, size_t out_size)
{
	switch (err) {
	case SB_ERR_NO_SPACE:
		snprintf(out, out_size, "relay out of disk space, retrying");
		break;
	case SB_ERR_NET:
	case SB_ERR_CLOSED:
		snprintf(out, out_size, "relay unreachable, retrying");
		break;
	case SB_ERR_TLS:
		snprintf(out, out_size, "relay TLS handshake failed, retrying");
		break;
	case SB_ERR_LOG_PROOF:
		snprintf(out, out_size, "directory answer fails the log's proofs, retrying");
		break;
	case SB_ERR_LOG_FORK:
		snprintf(out, out_size, "the relay's log forked (see alerts), retrying");
		break;
	case SB_ERR_AUTH:
		/* The client stops reconnecting: only a new enrollment helps. */
		snprintf(out, out_size, "relay refused this device (enroll it again)");
		break;
	/* sb_strerror's keyring lines say how to fix it, too long here;
	 * `sealbox status` and the mount's log carry the long form. */
	case SB_ERR_NO_KEYRING:
		snprintf(out, out_size, "no keyring reachable, retrying");
		break;
	case SB_ERR_KEYRING_LOCKED:
		snprintf(out, out_size, "keyring locked, retrying");
		break;
	case SB_ERR_KEY_MISSING:
	case SB_ERR_KEY_CORRUPT:
		snprintf(out, out_size, "device key missing or corrupt in the keyring, retrying");
		break;
	case SB_ERR_SYSTEM:
		/* e.g. our own disk: the spool copy of an attachment did not fit */
		if (sys_errno != 0)
			snprintf(out, out_size, "%s, retrying", strerror(sys_errno));
		else
			snprintf(out, out_size, "system error, retrying");
		break;
	default:
		snprintf(out, out_size, "%s, retrying", sb_strerror(err));
		break;
	}
}
