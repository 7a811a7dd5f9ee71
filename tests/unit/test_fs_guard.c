/*
 * test_fs_guard.c - who may use the mount (fs/guard.c): the owner, root
 * only with -o allow_root, nobody else (issue 12, finding 4).  The
 * integration case attack_allow_other.sh drives other uids against a real
 * mount; a mount made by root cannot show root being refused, so that rule
 * is checked here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fs/fs_int.h"
#include "fs/ops.h"

static void
test_fs_guard_owner_only(void **state)
{
	struct fs_ctx user = { .owner_uid = 1000, .owner_gid = 1000 };
	struct fs_ctx rootmount = { .owner_uid = 0, .owner_gid = 0 };

	(void)state;
	assert_true(fs_caller_allowed(&user, 1000));
	assert_false(fs_caller_allowed(&user, 1001));
	assert_false(fs_caller_allowed(&user, 65534));
	assert_false(fs_caller_allowed(&user, 0));        /* root too */
	user.allow_root = 1;
	assert_true(fs_caller_allowed(&user, 0));
	assert_false(fs_caller_allowed(&user, 1001));     /* still nobody else */
	assert_true(fs_caller_allowed(&rootmount, 0));
	assert_false(fs_caller_allowed(&rootmount, 1000));
}

/* Every request-serving op is wrapped: none of the table's entries is the
 * unguarded op of fs_ops, except init (no request) and release (its
 * result is dropped and it only ends a guarded open). */
static void
test_fs_guard_table_wraps_every_op(void **state)
{
	struct fuse_operations g;
	const void *const *pg = (const void *const *)&g;
	const void *const *po = (const void *const *)&fs_ops;
	size_t i, n = sizeof(g) / sizeof(void *), wrapped = 0;

	(void)state;
	fs_guard_table(&fs_ops, &g);
	assert_ptr_equal(g.init, fs_ops.init);
	assert_ptr_equal(g.release, fs_ops.release);
	for (i = 0; i < n; i++) {
		if (po[i] == NULL) {
			assert_null(pg[i]);          /* nothing the table lacks appears */
			continue;
		}
		assert_non_null(pg[i]);          /* nothing the table has is lost */
		if (pg[i] != po[i])
			wrapped++;
	}
	assert_int_equal(wrapped, 25);       /* all but init and release */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fs_guard_owner_only),
		cmocka_unit_test(test_fs_guard_table_wraps_every_op),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
