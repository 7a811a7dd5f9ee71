/*
 * cmd_link.c - managing this account's devices from one of them (issue
 * 14, points 4 and 5):
 *   sealbox devices remove ID    the relay drops device ID of this account
 *                                at once (queue, connection); this device
 *                                records that it did so, the others alert
 *
 * One line on stderr per failure, "sealbox: devices: REASON".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "../agent/store.h"
#include "../agent/trust.h"
#include "../client/client.h"
#include "../common/sberr.h"
#include "cli.h"

#define EXIT_USAGE 2
#define READY_TIMEOUT_MS 5000

static void
usage(void)
{
	printf("usage: sealbox devices remove ID [--home DIR]\n"
	    "\n"
	    "remove: removes device ID (as sealbox devices lists it) from this\n"
	    "account at the relay: it stops receiving at once and can no longer\n"
	    "connect.  Not this device: remove it from another one.  This\n"
	    "account's other devices show the removal as an alert; this one\n"
	    "records it in its alerts file as done by itself.\n"
	    "\n"
	    "  --home DIR   the device's home: config, store.db, contacts.vcf\n"
	    "               (default $SEALBOX_HOME, else $XDG_DATA_HOME/sealbox)\n"
	    "  -h, --help   this help\n"
	    "\n"
	    "$SEALBOX_CONNECT_TIMEOUT (seconds) overrides the 5 s connect timeout.\n"
	    "Exit status: 0 ok, 1 failure, 2 usage.\n");
}

static int
devices_remove(const char *id_arg, const char *home_arg)
{
	struct client_lookup *l = NULL;
	struct device_ctx d;
	const struct client_device *dev = NULL;
	sqlite3 *db = NULL;
	unsigned long long id;
	char *end;
	int rc, status = 1;

	errno = 0;
	id = strtoull(id_arg, &end, 10);
	if (errno != 0 || *end != '\0' || id == 0 || id_arg[0] == '-') {
		cli_fail("devices", "'%s' is not a device id (sealbox devices lists them)", id_arg);
		return EXIT_USAGE;
	}
	if (device_ctx_open("devices", home_arg, READY_TIMEOUT_MS, &d) != 0)
		return 1;
	if (id == d.cfg.device_id) {
		cli_fail("devices", "%llu is this device: remove it from another device of %s",
		    id, d.cfg.address);
		goto out;
	}
	if (cli_lookup("devices", &d, d.cfg.address, &l) != 0)
		goto out;
	for (size_t i = 0; i < l->n; i++)
		if (l->devices[i].id == id)
			dev = &l->devices[i];
	if (dev == NULL) {
		cli_fail("devices", "%s has no device %llu", d.cfg.address, id);
		goto out;
	}
	if ((rc = client_remove(d.c, id)) != SB_OK) {
		cli_fail("devices", "removing device %llu at the relay: %s", id, sb_strerror(rc));
		goto out;
	}
	/* Recorded as this device's doing, so that its own mount does not
	 * alert about it; the relay has already dropped the device. */
	if ((rc = trust_store_open(d.home, &db)) == SB_OK)
		rc = trust_unpin(db, d.cfg.address, id, (int64_t)time(NULL));
	store_close(db);
	if (rc != SB_OK) {
		cli_fail("devices", "device %llu removed, but %s/store.db: %s", id, d.home,
		    sb_strerror(rc));
		goto out;
	}
	printf("device %llu of %s removed\n", id, d.cfg.address);
	status = 0;
out:
	client_lookup_free(l);
	device_ctx_free(&d);
	return status;
}

int
cli_devices_manage(int argc, char **argv, char **pre, int n_pre)
{
	const char *home = NULL, *arg = NULL;
	char *args[64];
	int i, n = 0, rc;

	/* Parsed as "SUB PRE... REST...", so options may stand either side. */
	if (argc + n_pre > (int)(sizeof(args) / sizeof(args[0])) - 1) {
		cli_fail("devices", "too many arguments");
		return EXIT_USAGE;
	}
	args[n++] = argv[0];
	for (i = 0; i < n_pre; i++)
		args[n++] = pre[i];
	for (i = 1; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	if ((rc = cli_parse_home("devices", n, args, usage, &home, &i)) >= 0)
		return rc;
	if (i < n)
		arg = args[i++];
	if (i != n) {
		cli_fail("devices", "unexpected argument '%s'", args[i]);
		return EXIT_USAGE;
	}
	if (arg == NULL) {
		cli_fail("devices", "which device? (sealbox devices %s ID)", args[0]);
		return EXIT_USAGE;
	}
	return devices_remove(arg, home);
}
