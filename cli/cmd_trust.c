/*
 * cmd_trust.c - what this device believes about other devices' keys
 * (issue 14, agent/trust.h):
 *   sealbox trust [list]         every known address: its state and pins
 *   sealbox trust accept ADDR    take ADDR's devices as the directory lists
 *                                them now (closes its alerts, releases held
 *                                sends; the address is no longer verified)
 *
 * Reads and writes the home's store.db beside a live mount (SQLite WAL);
 * the mount's sender looks at it again at least every 2 s.  One line on
 * stderr per failure, "sealbox: trust: REASON".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../agent/store.h"
#include "../agent/trust.h"
#include "../client/client.h"
#include "../common/sberr.h"
#include "../common/wire.h"
#include "cli.h"

#define EXIT_USAGE 2
#define READY_TIMEOUT_MS 5000

static void
usage(void)
{
	printf("usage: sealbox trust [list] [--home DIR]\n"
	    "       sealbox trust accept ADDRESS [--home DIR]\n"
	    "\n"
	    "list: every address this device has pinned keys for, with its state\n"
	    "(verified, unverified, or changed: the newest open alert) and each\n"
	    "pinned device's id and key fingerprint.  Reads the home only.\n"
	    "accept: takes the devices the relay lists for ADDRESS now as its keys:\n"
	    "closes ADDRESS's alerts and releases sends held for it; ADDRESS is\n"
	    "then unverified until a code is confirmed again (sealbox verify\n"
	    "ADDRESS --confirm CODE).\n"
	    "\n"
	    "  ADDRESS      an e-mail address or +E.164 number, any case\n"
	    "  --home DIR   the device's home: config, store.db, contacts.vcf\n"
	    "               (default $SEALBOX_HOME, else $XDG_DATA_HOME/sealbox)\n"
	    "  -h, --help   this help\n"
	    "\n"
	    "$SEALBOX_CONNECT_TIMEOUT (seconds) overrides the 5 s connect timeout.\n"
	    "Exit status: 0 ok, 1 failure, 2 usage.\n");
}

static int
trust_list(const char *home_arg)
{
	struct sb_buf out = SB_BUF_INIT;
	struct agent_config cfg;
	char *home = NULL, *path = NULL, err[200];
	sqlite3 *db = NULL;
	int rc;

	if (config_home(home_arg, &home) != SB_OK)
		return cli_fail("trust", "no home: give --home or set SEALBOX_HOME or HOME");
	if (config_load(home, &cfg, err, sizeof(err)) != SB_OK) {
		free(home);
		return cli_fail("trust", "%s", err[0] ? err : "cannot read the config");
	}
	/* A home that never mounted has nothing pinned: no store to make. */
	if (asprintf(&path, "%s/store.db", home) < 0 || access(path, F_OK) != 0) {
		free(path);
		free(home);
		return 0;
	}
	free(path);
	if ((rc = trust_store_open(home, cfg.address, cfg.device_id, &db)) == SB_OK)
		rc = trust_list_text(db, &out);
	store_close(db);
	if (rc == SB_OK) {
		/* Addresses come from the relay, in the end: printable only. */
		for (size_t i = 0; i < out.len; i++)
			if ((out.d[i] < 0x20 && out.d[i] != '\n') || out.d[i] == 0x7f)
				out.d[i] = '?';
		if (out.len > 0)
			fwrite(out.d, 1, out.len, stdout);
	} else {
		cli_fail("trust", "%s/store.db: %s", home, sb_strerror(rc));
	}
	sb_buf_free(&out);
	free(home);
	return rc == SB_OK ? 0 : 1;
}

static int
trust_accept(const char *addr_arg, const char *home_arg)
{
	char addr[NAMES_ADDR_BUF];
	struct client_lookup *l = NULL;
	struct device_ctx d;
	sqlite3 *db = NULL;
	int rc, status = 1;

	if ((rc = cli_canonical_arg("trust", addr_arg, addr)) != 0)
		return rc;
	if (device_ctx_open("trust", home_arg, READY_TIMEOUT_MS, &d) != 0)
		return 1;
	if (strcmp(addr, d.cfg.address) == 0) {
		cli_fail("trust", "%s is this account: its devices are approved with"
		    " sealbox devices, not accepted", addr);
		goto out;
	}
	if (cli_lookup("trust", &d, addr, &l) != 0)
		goto out;
	if ((rc = trust_store_open(d.home, d.cfg.address, d.cfg.device_id, &db)) == SB_OK)
		rc = trust_observe_lookup(db, addr, l, TRUST_ACCEPT,
		    (int64_t)time(NULL), NULL, NULL);
	store_close(db);
	if (rc != SB_OK) {
		cli_fail("trust", "%s/store.db: %s", d.home, sb_strerror(rc));
		goto out;
	}
	printf("%s: %zu device%s accepted as listed now; unverified until a code is"
	    " confirmed (sealbox verify %s --confirm CODE)\n", addr, l->n,
	    l->n == 1 ? "" : "s", addr);
	status = 0;
out:
	client_lookup_free(l);
	device_ctx_free(&d);
	return status;
}

int
cli_parse_home(const char *cmd, int argc, char **argv, void (*usage_fn)(void),
    const char **home, int *next)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*home = NULL;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'H') {
			*home = optarg;
		} else if (c == 'h') {
			usage_fn();
			return 0;
		} else {
			cli_fail(cmd, "unknown option '%s' (try --help)", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	*next = optind;
	return -1;
}

int
cmd_trust(int argc, char **argv)
{
	const char *home = NULL, *sub = "list", *addr = NULL;
	int i, rc;

	if ((rc = cli_parse_home("trust", argc, argv, usage, &home, &i)) >= 0)
		return rc;
	if (i < argc)
		sub = argv[i++];
	if (strcmp(sub, "accept") == 0 && i < argc)
		addr = argv[i++];
	if (i != argc) {
		cli_fail("trust", "unexpected argument '%s'", argv[i]);
		return EXIT_USAGE;
	}
	if (strcmp(sub, "list") == 0)
		return trust_list(home);
	if (strcmp(sub, "accept") == 0) {
		if (addr == NULL) {
			cli_fail("trust", "which address? (sealbox trust accept ADDRESS)");
			return EXIT_USAGE;
		}
		return trust_accept(addr, home);
	}
	cli_fail("trust", "unknown subcommand '%s' (list or accept)", sub);
	return EXIT_USAGE;
}
