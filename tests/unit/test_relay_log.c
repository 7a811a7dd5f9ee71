/*
 * test_relay_log.c - the relay's event lines (relay/log.c) in both forms:
 * fields cut by the format only, arguments escaped (control bytes,
 * quotes, backslashes, non-ASCII, invalid UTF-8), integers as JSON
 * numbers, the detail after ": ", and every conversion the call sites use.
 */
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
#include "common/wire.h"
#include "relay/relay.h"

static char line[4096];

static const char *
render(int json, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *
render(int json, const char *fmt, ...)
{
	struct sb_buf b = SB_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	assert_int_equal(relay_log_render(json, "2026-12-04T10:00:00Z", fmt, ap, &b), SB_OK);
	va_end(ap);
	assert_true(b.len > 0 && b.len < sizeof(line));
	assert_int_equal(b.d[b.len - 1], '\n');
	memcpy(line, b.d, b.len - 1);
	line[b.len - 1] = '\0';
	sb_buf_free(&b);
	return line;
}

static void
test_relay_log_text(void **state)
{
	(void)state;
	assert_string_equal(render(0, "close conn=%llu peer=%s device=%llu reason=%s",
	    7ull, "127.0.0.1:5000", 3ull, "tls: unsupported protocol"),
	    "2026-12-04T10:00:00Z sealbox-relay: close conn=7 peer=127.0.0.1:5000 device=3"
	    " reason=tls: unsupported protocol");
	/* A hostile name: quote, backslash, newline, an RLO (U+202E), an
	 * invalid byte.  One line, nothing a terminal would act on. */
	assert_string_equal(render(0, "register conn=%llu address=%s name=\"%s\" suite=%u",
	    1ull, "a\nb@example.com", "x\" \\y\n\xe2\x80\xae\xff", 2u),
	    "2026-12-04T10:00:00Z sealbox-relay: register conn=1 address=a\\x0ab@example.com"
	    " name=\"x\\\" \\\\y\\x0a\\xe2\\x80\\xae\\xff\" suite=2");
	assert_string_equal(render(0, "%s refused conn=%llu peer=%s: %s", "auth", 2ull, "p",
	    "bad\tsig"), "2026-12-04T10:00:00Z sealbox-relay: auth refused conn=2 peer=p:"
	    " bad\\x09sig");
	assert_string_equal(render(0, "blob expired %.*s...", 4, "abcdefgh"),
	    "2026-12-04T10:00:00Z sealbox-relay: blob expired abcd...");
	assert_string_equal(render(0, "x n=%zu m=%d p=%5.1f%% q=%c", (size_t)5, -3, 2.0, 'z'),
	    "2026-12-04T10:00:00Z sealbox-relay: x n=5 m=-3 p=  2.0% q=z");
}

static void
test_relay_log_json(void **state)
{
	(void)state;
	assert_string_equal(render(1, "close conn=%llu peer=%s device=%llu reason=%s",
	    7ull, "127.0.0.1:5000", 3ull, "tls: unsupported protocol"),
	    "{\"time\":\"2026-12-04T10:00:00Z\",\"event\":\"close\",\"conn\":7,"
	    "\"peer\":\"127.0.0.1:5000\",\"device\":3,\"reason\":\"tls: unsupported protocol\"}");
	/* Escapes: quote, backslash, newline, tab, U+00E9, U+202E, U+1F600
	 * (a surrogate pair), an invalid byte, an overlong form. */
	assert_string_equal(render(1, "register conn=%llu name=\"%s\"", 1ull,
	    "\" \\ \n\t\xc3\xa9\xe2\x80\xae\xf0\x9f\x98\x80\xff\xc0\xaf"),
	    "{\"time\":\"2026-12-04T10:00:00Z\",\"event\":\"register\",\"conn\":1,"
	    "\"name\":\"\\\" \\\\ \\n\\t\\u00e9\\u202e\\ud83d\\ude00\\\\xff\\\\xc0\\\\xaf\"}");
	/* An argument cannot make a field: " evil=1" stays inside peer. */
	assert_string_equal(render(1, "connect conn=%llu peer=%s", 1ull, "x evil=1: y"),
	    "{\"time\":\"2026-12-04T10:00:00Z\",\"event\":\"connect\",\"conn\":1,"
	    "\"peer\":\"x evil=1: y\"}");
	/* The detail, and numbers only where the value is one integer. */
	assert_string_equal(render(1, "send refused conn=%llu msg=%s: payload %zu > limit %u",
	    2ull, "00ff", (size_t)4097, 4096u),
	    "{\"time\":\"2026-12-04T10:00:00Z\",\"event\":\"send refused\",\"conn\":2,"
	    "\"msg\":\"00ff\",\"detail\":\"payload 4097 > limit 4096\"}");
	assert_string_equal(render(1, "listening on %s:%u inline_limit=%u x=%u%s", "127.0.0.1",
	    7443u, 4096u, 1u, " TEST"),
	    "{\"time\":\"2026-12-04T10:00:00Z\",\"event\":\"listening on 127.0.0.1:7443\","
	    "\"inline_limit\":4096,\"x\":\"1 TEST\"}");
	assert_string_equal(render(1, "reload"),
	    "{\"time\":\"2026-12-04T10:00:00Z\",\"event\":\"reload\"}");
	assert_string_equal(render(1, "expire failed: %s", "disk"),
	    "{\"time\":\"2026-12-04T10:00:00Z\",\"event\":\"expire failed\",\"detail\":\"disk\"}");
}

static int held_calls;

static void
count_held(void *arg)
{
	(void)arg;
	held_calls++;
}

/* How many lines the file under stderr holds now. */
static int
lines_in(FILE *f)
{
	int c, n = 0;

	fflush(stderr);
	rewind(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	return n;
}

/* serve's hold: lines wait in memory (first() once per empty -> not
 * empty) until relay_log_flush writes them, in order; unheld, each line
 * is written at once again. */
static void
test_relay_log_hold(void **state)
{
	FILE *f = tmpfile();
	int saved = dup(fileno(stderr));

	(void)state;
	assert_non_null(f);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(f), fileno(stderr)) >= 0);
	relay_log_hold(count_held, NULL);
	relay_log("send accepted conn=%d", 1);
	relay_log("push conn=%d", 1);
	assert_int_equal(held_calls, 1);
	assert_int_equal(lines_in(f), 0);
	relay_log_flush();
	assert_int_equal(lines_in(f), 2);
	relay_log("ack conn=%d: deleted", 1);
	assert_int_equal(held_calls, 2);
	relay_log_hold(NULL, NULL);          /* flushes */
	assert_int_equal(lines_in(f), 3);
	relay_log("close conn=%d", 1);       /* unheld: at once */
	assert_int_equal(lines_in(f), 4);
	assert_int_equal(held_calls, 2);
	fflush(stderr);
	dup2(saved, fileno(stderr));
	close(saved);
	fclose(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_log_text),
		cmocka_unit_test(test_relay_log_json),
		cmocka_unit_test(test_relay_log_hold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
