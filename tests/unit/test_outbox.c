/*
 * test_outbox.c - the outbox's pure rules (temporary names, the status
 * text, the end of a write session, which send errors are final) and the
 * store helpers (schema migration, WAL + synchronous=FULL on a real file).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/sberr.h"
#include "agent/send/outbox.h"
#include "agent/store.h"

static void
test_temp_names(void **state)
{
	static const char *temp[] = {
		".hidden", ".note.txt.swp", "#autosave#", "note.txt~", "x.swp", "x.swx",
		"x.tmp", "movie.mkv.part", ".rsync.AbC123", ".",
		/* SQLite's side files, anywhere */
		"db.sqlite-journal", "db.sqlite-wal", "db.sqlite-shm", "a/b/db-wal",
		/* editors inside folders: vim's swap (.swp down to .swa), Emacs */
		"d/.x.c.swo", "d/e/.x.c.swa", "d/#x.c#", "d/.#x.c", "d/x.c~",
	};
	static const char *visible[] = {
		"note.txt", "a", "swp", "tmp", "x.tmpl", "x.partial", "x~y", "a#b",
		"report.TMP",  /* case matters: only the lower-case suffixes */
		"4913",        /* vim's probe goes by how it is made (tentative) */
		/* a tree's dot-files are content */
		"proj/.gitignore", "proj/.git/HEAD", "proj/.git/objects/ab/cdef",
		"d/x.swf", "d/.x.swz", "journal", "x-walk",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(temp) / sizeof(temp[0]); i++)
		assert_int_equal(outbox_is_temp_name(temp[i]), 1);
	for (size_t i = 0; i < sizeof(visible) / sizeof(visible[0]); i++)
		assert_int_equal(outbox_is_temp_name(visible[i]), 0);
	assert_int_equal(outbox_is_temp_name(""), 0);
	assert_int_equal(outbox_is_temp_name(NULL), 0);
}

static void
test_status_text(void **state)
{
	char t[256];

	(void)state;
	outbox_status_text(OB_OPEN, 0, NULL, 0, 0, t, sizeof(t));
	assert_string_equal(t, "draft");
	outbox_status_text(OB_CLOSED, 0, NULL, 0, 0, t, sizeof(t));
	assert_string_equal(t, "draft");
	outbox_status_text(OB_QUEUED, 0, NULL, 0, 0, t, sizeof(t));
	assert_string_equal(t, "queued");
	outbox_status_text(OB_QUEUED, 0, "", 0, 0, t, sizeof(t));
	assert_string_equal(t, "queued");
	/* Why a queued file is not out yet, when the last attempt failed. */
	outbox_status_text(OB_QUEUED, 0, "relay out of disk space, retrying", 0, 0, t,
	    sizeof(t));
	assert_string_equal(t, "queued: relay out of disk space, retrying");
	/* A draft is a draft: no stale reason from the queue shows on it. */
	outbox_status_text(OB_CLOSED, 0, "relay unreachable, retrying", 0, 0, t, sizeof(t));
	assert_string_equal(t, "draft");
	/* A file open for writing is a draft whatever its last version did. */
	outbox_status_text(OB_SENT, 1, NULL, 1, 1, t, sizeof(t));
	assert_string_equal(t, "draft");
	outbox_status_text(OB_SENT, 0, NULL, 0, 0, t, sizeof(t));
	assert_string_equal(t, "sent");
	outbox_status_text(OB_SENT, 0, NULL, 0, 3, t, sizeof(t));
	assert_string_equal(t, "sent");
	outbox_status_text(OB_SENT, 0, NULL, 2, 3, t, sizeof(t));
	assert_string_equal(t, "delivered 2/3");
	outbox_status_text(OB_FAILED, 0, "unknown recipient", 0, 0, t, sizeof(t));
	assert_string_equal(t, "failed: unknown recipient");
	outbox_status_text(OB_FAILED, 0, NULL, 0, 0, t, sizeof(t));
	assert_string_equal(t, "failed: unknown error");
}

static void
test_session_end(void **state)
{
	(void)state;
	/* A new file: sent once its last writer leaves. */
#define END(mod, rep, del, big, tent, nm) \
	outbox_session_end(&(struct ob_session){ mod, rep, del, big, tent, nm })
	assert_int_equal(END(1, 0, 0, 0, 0, "a.txt"), OB_END_QUEUE);
	/* An empty new file (touch) is still a file the user made. */
	assert_int_equal(END(0, 0, 0, 0, 0, "a.txt"), OB_END_QUEUE);
	/* Reopened for writing, nothing changed: the sent version stays. */
	assert_int_equal(END(0, 1, 0, 0, 0, "a.txt"), OB_END_DISCARD);
	/* Rewritten: the new version goes out. */
	assert_int_equal(END(1, 1, 0, 0, 0, "a.txt"), OB_END_QUEUE);
	/* Temporary names wait for their rename; deleted files never go. */
	assert_int_equal(END(1, 0, 0, 0, 0, ".a.txt.XyZ"), OB_END_KEEP);
	assert_int_equal(END(1, 0, 0, 0, 0, "a.txt.swp"), OB_END_KEEP);
	assert_int_equal(END(1, 0, 1, 0, 0, "a.txt"), OB_END_KEEP);
	/* mkstemp's file waits for its rename (or the idle time). */
	assert_int_equal(END(1, 0, 0, 0, 1, "sedAbC123"), OB_END_KEEP);
	/* A write past the relay's cap: never sent, even when tentative. */
	assert_int_equal(END(1, 0, 0, 1, 0, "big.iso"), OB_END_FAIL);
	assert_int_equal(END(1, 0, 0, 1, 1, "tmpX1"), OB_END_FAIL);
	assert_int_equal(END(1, 0, 1, 1, 0, "big.iso"), OB_END_KEEP);
#undef END
}

static void
test_created_tentative(void **state)
{
	(void)state;
	/* mkstemp (O_EXCL|O_RDWR): always, whatever it holds */
	assert_int_equal(outbox_created_tentative(OB_CREATE_MKSTEMP, 0), 1);
	assert_int_equal(outbox_created_tentative(OB_CREATE_MKSTEMP, 5000), 1);
	/* O_EXCL write-only: cp, install, tar go at once; an empty one is a
	 * probe or a lock (vim's 4913) */
	assert_int_equal(outbox_created_tentative(OB_CREATE_EXCL, 7), 0);
	assert_int_equal(outbox_created_tentative(OB_CREATE_EXCL, 0), 1);
	/* plain creates (shell >, touch, editors writing in place) */
	assert_int_equal(outbox_created_tentative(OB_CREATE_PLAIN, 0), 0);
	assert_int_equal(outbox_created_tentative(OB_CREATE_PLAIN, 9), 0);
}

static void
test_err_permanent(void **state)
{
	(void)state;
	assert_true(outbox_err_permanent(SB_ERR_UNKNOWN_RECIPIENT));
	assert_true(outbox_err_permanent(SB_ERR_TOO_BIG));
	/* Relay down, keyring locked, disk trouble: retried, never dropped. */
	assert_false(outbox_err_permanent(SB_ERR_NET));
	assert_false(outbox_err_permanent(SB_ERR_CLOSED));
	assert_false(outbox_err_permanent(SB_ERR_TLS));
	assert_false(outbox_err_permanent(SB_ERR_STALE_DEVICES));
	assert_false(outbox_err_permanent(SB_ERR_KEYRING_LOCKED));
	assert_false(outbox_err_permanent(SB_ERR_NO_KEYRING));
	assert_false(outbox_err_permanent(SB_ERR_STORAGE));
	assert_false(outbox_err_permanent(SB_ERR_SYSTEM));
	assert_false(outbox_err_permanent(SB_ERR_ALLOC));
	/* Already accepted is success, handled before this question. */
	assert_false(outbox_err_permanent(SB_ERR_EXISTS));
	/* A full relay disk is waited out, never a failure. */
	assert_false(outbox_err_permanent(SB_ERR_NO_SPACE));
}

static void
test_retry_reason(void **state)
{
	char t[OB_RETRY_REASON_BUF];

	(void)state;
	outbox_retry_reason(SB_ERR_NO_SPACE, 0, t, sizeof(t));
	assert_string_equal(t, "relay out of disk space, retrying");
	outbox_retry_reason(SB_ERR_NET, 0, t, sizeof(t));
	assert_string_equal(t, "relay unreachable, retrying");
	outbox_retry_reason(SB_ERR_CLOSED, 0, t, sizeof(t));
	assert_string_equal(t, "relay unreachable, retrying");
	outbox_retry_reason(SB_ERR_KEYRING_LOCKED, 0, t, sizeof(t));
	assert_string_equal(t, "keyring locked, retrying");
	/* Our own disk: errno's words, not a relay's. */
	outbox_retry_reason(SB_ERR_SYSTEM, ENOSPC, t, sizeof(t));
	assert_string_equal(t, "No space left on device, retrying");
	/* No errno to tell (the relay's own system error): no made-up one. */
	outbox_retry_reason(SB_ERR_SYSTEM, 0, t, sizeof(t));
	assert_string_equal(t, "system error, retrying");
	outbox_retry_reason(SB_ERR_STORAGE, 0, t, sizeof(t));
	assert_string_equal(t, "storage failure, retrying");
	/* Bounded: a short buffer truncates, never overflows. */
	outbox_retry_reason(SB_ERR_NO_SPACE, 0, t, 8);
	assert_string_equal(t, "relay o");
}

static void
test_store_migrate(void **state)
{
	static const char *const v1[] = { "CREATE TABLE t(a INTEGER);" };
	static const char *const v2[] = { "CREATE TABLE t(a INTEGER);",
	    "ALTER TABLE t ADD COLUMN b TEXT; INSERT INTO t VALUES(1, 'x');" };
	static const char *const bad[] = { "CREATE TABLE t(a INTEGER);",
	    "ALTER TABLE t ADD COLUMN b TEXT;", "THIS IS NOT SQL;" };
	char dir[] = "/tmp/test_outbox.XXXXXX";
	char path[64];
	sqlite3 *db;
	int64_t v;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/store.db", dir);
	assert_int_equal(store_open(path, &db), SB_OK);
	assert_int_equal(store_query_int(db, "PRAGMA journal_mode", NULL, 0, &v), SB_OK);
	assert_int_equal(store_query_int(db, "PRAGMA synchronous", NULL, -1, &v), SB_OK);
	assert_int_equal(v, 2);  /* FULL */
	assert_int_equal(store_migrate(db, "x", v1, 1), SB_OK);
	assert_int_equal(store_migrate(db, "x", v1, 1), SB_OK);  /* idempotent */
	assert_int_equal(store_migrate(db, "x", v2, 2), SB_OK);
	assert_int_equal(store_query_int(db, "SELECT version FROM store_schema"
	    " WHERE component = ?", "x", 0, &v), SB_OK);
	assert_int_equal(v, 2);
	assert_int_equal(store_query_int(db, "SELECT count(*) FROM t", NULL, 0, &v), SB_OK);
	assert_int_equal(v, 1);
	/* A failing step rolls back and leaves the version where it was. */
	assert_int_equal(store_migrate(db, "x", bad, 3), SB_ERR_STORAGE);
	assert_int_equal(store_query_int(db, "SELECT version FROM store_schema"
	    " WHERE component = ?", "x", 0, &v), SB_OK);
	assert_int_equal(v, 2);
	/* A home made by a newer sealbox is refused, not downgraded. */
	assert_int_equal(store_migrate(db, "x", v1, 1), SB_ERR_STORAGE);
	/* Components are independent. */
	assert_int_equal(store_migrate(db, "y", v1, 0), SB_OK);
	store_close(db);

	/* Durable: a reopened database has what was committed. */
	assert_int_equal(store_open(path, &db), SB_OK);
	assert_int_equal(store_query_int(db, "SELECT count(*) FROM t", NULL, 0, &v), SB_OK);
	assert_int_equal(v, 1);
	assert_int_equal(store_query_int(db, "SELECT a FROM t WHERE b = ?", "nope", 42, &v),
	    SB_OK);
	assert_int_equal(v, 42);  /* no row: the default */
	store_close(db);
	store_close(NULL);

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_temp_names),
		cmocka_unit_test(test_status_text),
		cmocka_unit_test(test_session_end),
		cmocka_unit_test(test_created_tentative),
		cmocka_unit_test(test_err_permanent),
		cmocka_unit_test(test_retry_reason),
		cmocka_unit_test(test_store_migrate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
