/*
 * test_config.c - the home's config file: a good file parses, format and
 * parse round-trip, each malformed line is refused with a message naming
 * the line, save is atomic, 0600 and (excl) never replaces, and the home
 * resolves --home > $SEALBOX_HOME > $XDG_DATA_HOME > $HOME.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "common/sberr.h"

static const char good[] =
    "# a comment\n"
    "\n"
    "address = alice@example.com\n"
    "device_id=42\n"
    "  device_name =  Alice's laptop  \r\n"
    "relay = 127.0.0.1:7443\n"
    "fingerprint = AA:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:"
    "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99\n"
    "suite = ec";

static int
parse(const char *text, struct agent_config *cfg, char *err, size_t n)
{
	return config_parse((const uint8_t *)text, strlen(text), cfg, err, n);
}

static void
test_config_good_and_round_trip(void **state)
{
	struct agent_config cfg, back;
	struct sb_buf b = SB_BUF_INIT;
	char err[200];

	(void)state;
	assert_int_equal(parse(good, &cfg, err, sizeof(err)), SB_OK);
	assert_string_equal(cfg.address, "alice@example.com");
	assert_int_equal(cfg.device_id, 42);
	assert_string_equal(cfg.device_name, "Alice's laptop");
	assert_string_equal(cfg.relay, "127.0.0.1:7443");
	assert_int_equal(cfg.fingerprint[0], 0xaa);
	assert_int_equal(cfg.fingerprint[31], 0x99);
	assert_int_equal(cfg.suite, CRYPTO_SUITE_EC);
	assert_int_equal(cfg.inline_limit, CONFIG_INLINE_LIMIT_DEFAULT);
	cfg.inline_limit = 8192;
	cfg.device_id = UINT64_MAX;
	assert_int_equal(config_format(&cfg, &b), SB_OK);
	assert_int_equal(sb_put_u8(&b, 0), SB_OK);
	assert_int_equal(parse((const char *)b.d, &back, err, sizeof(err)), SB_OK);
	assert_memory_equal(&cfg, &back, sizeof(cfg));
	assert_int_equal(back.has_next, 0);
	assert_null(strstr((const char *)b.d, "next_fingerprint"));
	/* The relay's announced next certificate (PROTOCOL.md 13.10). */
	memset(cfg.next_fingerprint, 0x5c, sizeof(cfg.next_fingerprint));
	cfg.has_next = 1;
	sb_buf_truncate(&b, 0);
	assert_int_equal(config_format(&cfg, &b), SB_OK);
	assert_int_equal(sb_put_u8(&b, 0), SB_OK);
	assert_non_null(strstr((const char *)b.d, "\nnext_fingerprint = 5c5c5c"));
	assert_int_equal(parse((const char *)b.d, &back, err, sizeof(err)), SB_OK);
	assert_memory_equal(&cfg, &back, sizeof(cfg));
	/* The transparency log's key (PROTOCOL.md 14.1). */
	cfg.log_key[0] = 0x04;
	memset(cfg.log_key + 1, 0xa1, sizeof(cfg.log_key) - 1);
	cfg.has_log_key = 1;
	sb_buf_truncate(&b, 0);
	assert_int_equal(config_format(&cfg, &b), SB_OK);
	assert_int_equal(sb_put_u8(&b, 0), SB_OK);
	assert_non_null(strstr((const char *)b.d, "\nlog_key = 04a1a1a1"));
	assert_int_equal(parse((const char *)b.d, &back, err, sizeof(err)), SB_OK);
	assert_memory_equal(&cfg, &back, sizeof(cfg));
	sb_buf_free(&b);
}

static void
expect_err(const char *text, const char *needle)
{
	struct agent_config cfg;
	char err[200];

	assert_int_equal(parse(text, &cfg, err, sizeof(err)), SB_ERR_CONFIG);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' lacks '%s'", err, needle);
	assert_int_equal(cfg.device_id, 0);
}

static void
test_config_errors(void **state)
{
	static const char base[] =
	    "address = a@b.example\ndevice_id = 1\ndevice_name = x\n"
	    "relay = h:1\nsuite = pair\n"
	    "fingerprint = 0000000000000000000000000000000000000000000000000000000000000000\n";
	char text[1024];

	(void)state;
	snprintf(text, sizeof(text), "%scolour = blue\n", base);
	expect_err(text, "line 7: unknown key 'colour'");
	snprintf(text, sizeof(text), "%sdevice_id = 2\n", base);
	expect_err(text, "line 7: 'device_id' given twice");
	snprintf(text, sizeof(text), "%sjust words\n", base);
	expect_err(text, "line 7: expected key = value");
	expect_err("address = Alice@Example.com\n", "line 1: not a canonical address");
	expect_err("device_id = 0\n", "line 1: device_id");
	expect_err("device_id = 007\n", "line 1: device_id");
	expect_err("device_id = 18446744073709551616\n", "line 1: device_id");
	expect_err("device_id = -1\n", "line 1: device_id");
	expect_err("\n\nrelay = nohost\n", "line 3: relay");
	expect_err("relay = :80\n", "line 1: relay");
	expect_err("relay = h:65536\n", "line 1: relay");
	expect_err("fingerprint = abcd\n", "line 1: fingerprint");
	expect_err("next_fingerprint = abcd\n", "line 1: next_fingerprint must be 64 hex");
	snprintf(text, sizeof(text), "%snext_fingerprint = %064d\nnext_fingerprint = %064d\n",
	    base, 0, 1);
	expect_err(text, "line 8: 'next_fingerprint' given twice");
	expect_err("log_key = 04abcd\n", "line 1: log_key must be 130 hex digits");
	snprintf(text, sizeof(text), "log_key = 05%0128d\n", 0);
	expect_err(text, "line 1: log_key must be 130 hex digits (an uncompressed P-256 point)");
	snprintf(text, sizeof(text), "log_key = 04%0130d\n", 0);
	expect_err(text, "line 1: log_key must be 130 hex digits");
	expect_err("suite = rsa\n", "line 1: suite");
	expect_err("inline_limit = 100\n", "line 1: inline_limit");
	expect_err("inline_limit = 65537\n", "line 1: inline_limit");
	expect_err("device_name = a\001b\n", "line 1: control character");
	expect_err("device_name = a\rb\n", "line 1: control character in 'device_name'");
	expect_err("relay = h\tx:1\n", "line 1: control character in 'relay'");
	expect_err("address = a@b.example\n", "missing 'device_id'");
	expect_err("", "missing 'address'");
}

/* The nodes of a relay cluster: a list kept whole through a round trip;
 * an empty, malformed or ninth address refuses the whole list. */
static void
test_config_relay_list(void **state)
{
	struct agent_config cfg, back;
	struct sb_buf b = SB_BUF_INIT;
	char text[8192], list[4096], host[254], err[200];
	size_t o = 0;
	int i;

	(void)state;
	snprintf(text, sizeof(text), "%s\n", good);
	*strstr(text, "relay = 127.0.0.1:7443") = '#';
	snprintf(text + strlen(text), sizeof(text) - strlen(text),
	    "relay = 10.0.0.1:7443,relay2.example:8443,[::1]:7443\n");
	assert_int_equal(parse(text, &cfg, err, sizeof(err)), SB_OK);
	assert_string_equal(cfg.relay, "10.0.0.1:7443,relay2.example:8443,[::1]:7443");
	assert_int_equal(config_format(&cfg, &b), SB_OK);
	assert_int_equal(sb_put_u8(&b, 0), SB_OK);
	assert_int_equal(parse((const char *)b.d, &back, err, sizeof(err)), SB_OK);
	assert_memory_equal(&cfg, &back, sizeof(cfg));
	sb_buf_free(&b);

	/* eight of the longest addresses fit, a ninth does not */
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	for (i = 0; i < 8; i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s:65535", i ? "," : "", host);
	snprintf(text, sizeof(text), "%s\n", good);
	*strstr(text, "relay = 127.0.0.1:7443") = '#';
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "relay = %s\n", list);
	assert_int_equal(parse(text, &cfg, err, sizeof(err)), SB_OK);
	assert_true(strlen(cfg.relay) == 8 * 259 + 7 && strlen(cfg.relay) <= CONFIG_MAX_RELAY);
	b = (struct sb_buf)SB_BUF_INIT;
	assert_int_equal(config_format(&cfg, &b), SB_OK);
	sb_buf_free(&b);
	expect_err("relay = h:1,h:2,h:3,h:4,h:5,h:6,h:7,h:8,h:9\n",
	    "line 1: relay must be host:port[,host:port...] (at most 8)");
	expect_err("relay = h:1,,h:2\n", "line 1: relay");
	expect_err("relay = h:1,\n", "line 1: relay");
	expect_err("relay = ,h:1\n", "line 1: relay");
	expect_err("relay = h:1,h\n", "line 1: relay");
	expect_err("relay = h:1,h:0\n", "line 1: relay");
}

static void
test_config_save_load(void **state)
{
	char dir[] = "/tmp/test_config.XXXXXX", home[128], path[160], err[200];
	struct agent_config cfg, back;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(home, sizeof(home), "%s/a/b/home", dir);
	assert_int_equal(config_exists(home), 0);
	assert_int_equal(config_load(home, &back, err, sizeof(err)), SB_ERR_CONFIG);
	assert_non_null(strstr(err, "sealbox init"));
	assert_int_equal(config_mkdir_home(home), SB_OK);
	assert_int_equal(stat(home, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(parse(good, &cfg, err, sizeof(err)), SB_OK);
	assert_int_equal(config_save(home, &cfg, 1), SB_OK);
	assert_int_equal(config_exists(home), 1);
	snprintf(path, sizeof(path), "%s/config", home);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(config_load(home, &back, err, sizeof(err)), SB_OK);
	assert_memory_equal(&cfg, &back, sizeof(cfg));
	/* excl never replaces; non-excl does, atomically. */
	cfg.device_id = 7;
	assert_int_equal(config_save(home, &cfg, 1), SB_ERR_EXISTS);
	assert_int_equal(config_load(home, &back, err, sizeof(err)), SB_OK);
	assert_int_equal(back.device_id, 42);
	assert_int_equal(config_save(home, &cfg, 0), SB_OK);
	assert_int_equal(config_load(home, &back, err, sizeof(err)), SB_OK);
	assert_int_equal(back.device_id, 7);
	snprintf(path, sizeof(path), "%s/.config.tmp", home);
	assert_int_equal(access(path, F_OK), -1);
	/* An invalid config is never written. */
	cfg.suite = (enum crypto_suite)9;
	assert_int_equal(config_save(home, &cfg, 0), SB_ERR_INVALID_ARG);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

static void
test_config_home(void **state)
{
	char *h = NULL;

	(void)state;
	setenv("SEALBOX_HOME", "/s", 1);
	setenv("XDG_DATA_HOME", "/x", 1);
	setenv("HOME", "/h", 1);
	assert_int_equal(config_home("/arg", &h), SB_OK);
	assert_string_equal(h, "/arg");
	free(h);
	assert_int_equal(config_home(NULL, &h), SB_OK);
	assert_string_equal(h, "/s");
	free(h);
	unsetenv("SEALBOX_HOME");
	assert_int_equal(config_home(NULL, &h), SB_OK);
	assert_string_equal(h, "/x/sealbox");
	free(h);
	setenv("XDG_DATA_HOME", "relative", 1);
	assert_int_equal(config_home(NULL, &h), SB_OK);
	assert_string_equal(h, "/h/.local/share/sealbox");
	free(h);
	unsetenv("XDG_DATA_HOME");
	unsetenv("HOME");
	assert_int_equal(config_home(NULL, &h), SB_ERR_CONFIG);
	assert_null(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_good_and_round_trip),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_relay_list),
		cmocka_unit_test(test_config_save_load),
		cmocka_unit_test(test_config_home),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
