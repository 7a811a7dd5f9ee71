/*
 * test_watch.c - what a watcher and the hook are told of an arrival
 * (watch/event.c): the text line, the JSON object (escaping included) and
 * the hook's environment.  watch_events.sh and watch_hook.sh check them on
 * a real mount.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/sberr.h"
#include "watch/watch.h"

static const uint8_t ID[WATCH_MSGID_LEN] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
};

static void
event_init(struct watch_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->mount = "/home/bob/mail";
	ev->folder = "Alice Smith";
	ev->name = "20231114T221320Z-01234567-note.txt";
	ev->sender = "alice@example.com";
	ev->device = UINT64_C(0x75bcd15);
	ev->msgid = ID;
	ev->size = 6;
	ev->sent = UINT64_C(1700000000);
	ev->arrived.tv_sec = 1700000005;
	ev->arrived.tv_nsec = 123456789;
}

static char *
str_of(struct sb_buf *b)
{
	sb_put_u8(b, '\0');
	assert_int_equal(b->err, SB_OK);
	return (char *)b->d;
}

static void
test_watch_format_text(void **state)
{
	struct sb_buf b = SB_BUF_INIT;
	struct watch_event ev;

	(void)state;
	event_init(&ev);
	assert_int_equal(watch_format_text(&ev, &b), SB_OK);
	assert_string_equal(str_of(&b), "/home/bob/mail/inbox/Alice Smith/"
	    "20231114T221320Z-01234567-note.txt\talice@example.com\t6\tverified\n");
	sb_buf_free(&b);
	/* a control character anywhere stays inside its one line */
	ev.mount = "/tmp/a\nb\tc";
	assert_int_equal(watch_format_text(&ev, &b), SB_OK);
	assert_string_equal(str_of(&b), "/tmp/a?b\tc/inbox/Alice Smith/"
	    "20231114T221320Z-01234567-note.txt\talice@example.com\t6\tverified\n");
	sb_buf_free(&b);
}

static void
test_watch_format_json(void **state)
{
	struct sb_buf b = SB_BUF_INIT;
	struct watch_event ev;

	(void)state;
	event_init(&ev);
	assert_int_equal(watch_format_json(&ev, &b), SB_OK);
	assert_string_equal(str_of(&b),
	    "{\"path\":\"/home/bob/mail/inbox/Alice Smith/20231114T221320Z-01234567-note.txt\","
	    "\"folder\":\"Alice Smith\",\"name\":\"20231114T221320Z-01234567-note.txt\","
	    "\"sender\":\"alice@example.com\",\"device\":\"00000000075bcd15\","
	    "\"id\":\"0123456789abcdeffedcba9876543210\",\"size\":6,"
	    "\"sent\":\"2023-11-14T22:13:20Z\",\"arrived\":\"2023-11-14T22:13:25.123456789Z\","
	    "\"verified\":true}\n");
	sb_buf_free(&b);
	/* quotes, backslashes, controls, UTF-8 kept, invalid bytes as U+FFFD */
	ev.mount = "/m";
	ev.folder = "\"q\"\\";
	ev.name = "a\x01\xc3\xa9\xff";
	assert_int_equal(watch_format_json(&ev, &b), SB_OK);
	assert_non_null(strstr(str_of(&b), "\"folder\":\"\\\"q\\\"\\\\\","
	    "\"name\":\"a\\u0001\xc3\xa9\xef\xbf\xbd\","));
	sb_buf_free(&b);
}

static void
test_watch_hook_env(void **state)
{
	char *base[] = { "PATH=/usr/bin", "SEALBOX_HOME=/old", "SEALBOX_PATH=/x", "LANG=C", NULL };
	static const char *const want[] = {
		"PATH=/usr/bin",
		"LANG=C",
		"SEALBOX_EVENT=receive",
		"SEALBOX_PATH=/home/bob/mail/inbox/Alice Smith/20231114T221320Z-01234567-note.txt",
		"SEALBOX_MOUNT=/home/bob/mail",
		"SEALBOX_HOME=/home/bob/.local/share/sealbox",
		"SEALBOX_FOLDER=Alice Smith",
		"SEALBOX_NAME=20231114T221320Z-01234567-note.txt",
		"SEALBOX_SENDER=alice@example.com",
		"SEALBOX_DEVICE=00000000075bcd15",
		"SEALBOX_ID=0123456789abcdeffedcba9876543210",
		"SEALBOX_SIZE=6",
		"SEALBOX_SENT=2023-11-14T22:13:20Z",
		"SEALBOX_ARRIVED=2023-11-14T22:13:25.123456789Z",
		"SEALBOX_VERIFIED=yes",
	};
	struct watch_event ev;
	char **env = NULL;
	size_t i;

	(void)state;
	event_init(&ev);
	assert_int_equal(watch_hook_env(&ev, "/home/bob/.local/share/sealbox", base, &env), SB_OK);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_non_null(env[i]);
		assert_string_equal(env[i], want[i]);
	}
	assert_null(env[i]);
	watch_env_free(env);
	/* no base environment at all */
	assert_int_equal(watch_hook_env(&ev, "/h", NULL, &env), SB_OK);
	assert_string_equal(env[0], "SEALBOX_EVENT=receive");
	watch_env_free(env);
	watch_env_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_format_text),
		cmocka_unit_test(test_watch_format_json),
		cmocka_unit_test(test_watch_hook_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
