/*
 * cmd_link.c - managing this account's devices from one of them (issue
 * 14, points 4 and 5):
 *   sealbox devices approve CODE countersigns the new device waiting with
 *                                that link code (sealbox init --link), so
 *                                it joins the account (PROTOCOL.md 14.4)
 *   sealbox devices remove ID    the relay drops device ID of this account
 *                                at once (queue, connection), by a removal
 *                                this device signs; this device records
 *                                that it did so, the others alert
 *
 * One line on stderr per failure, "sealbox: devices: REASON".
 */
#include <errno.h>
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
#include "../tlog/tlog.h"
#include "cli.h"

#define EXIT_USAGE 2
#define READY_TIMEOUT_MS 5000

static void
usage(void)
{
	printf("usage: sealbox devices approve CODE [--home DIR]\n"
	    "       sealbox devices remove ID [--home DIR]\n"
	    "\n"
	    "approve: the device waiting to join this account with link code CODE\n"
	    "(what its sealbox init --link printed; any case, dashes optional) is\n"
	    "countersigned by this device and joins.  Compare the code with the one\n"
	    "the new device shows: it names that device's keys.\n"
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

/*
 * After a LINK_APPROVE lost on the wire: SB_OK with *id and *which filled
 * when the account now has a device with the offered identity, else the
 * approval is sent again (the offer is still there).
 */
static int
added_since(struct device_ctx *d, const struct client_link_offer *o, uint64_t *id,
    struct client_link_offer *which)
{
	const char *addrs[1] = { d->cfg.address };
	int tries = 0, rc;

	for (;;) {
		struct client_lookup *l = NULL;

		while ((rc = client_lookup(d->c, addrs, 1, &l)) != SB_OK && cli_lost(rc, &tries))
			;
		if (rc != SB_OK)
			return rc;
		for (size_t i = 0; i < l->n; i++) {
			struct crypto_identity *x = NULL;

			if (crypto_identity_parse(l->devices[i].identity, l->devices[i].identity_len,
			    &x) == SB_OK && memcmp(crypto_identity_hash(x), o->hash,
			    CRYPTO_HASH_LEN) == 0) {
				*id = l->devices[i].id;
				*which = *o;
				rc = 1;
			}
			crypto_identity_free(x);
		}
		client_lookup_free(l);
		if (rc == 1)
			return SB_OK;
		rc = client_link_approve(d->c, o->code, id, which);
		if (!cli_lost(rc, &tries))
			return rc;
	}
}

static int
devices_approve(const char *code, const char *home_arg)
{
	static const uint8_t none[CRYPTO_HASH_LEN];
	struct client_link_offer *offers = NULL, which;
	struct device_ctx d;
	const struct client_link_offer *o = NULL;
	sqlite3 *db = NULL;
	uint64_t id = 0;
	size_t n = 0;
	int rc, status = 1, tries = 0;

	/* The shape first, before anything connects (usage, exit 2). */
	if (tlog_link_code_match(code, none) == SB_ERR_FORMAT) {
		cli_fail("devices", "'%s' is not a link code (four groups of four letters and"
		    " digits, as sealbox init --link prints it)", code);
		return EXIT_USAGE;
	}
	if (device_ctx_open("devices", home_arg, READY_TIMEOUT_MS, &d) != 0)
		return 1;
	while ((rc = client_link_list(d.c, &offers, &n)) != SB_OK && cli_lost(rc, &tries))
		;
	if (rc != SB_OK) {
		cli_fail("devices", "devices waiting for approval: %s", sb_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < n && o == NULL; i++)
		if (tlog_link_code_match(code, offers[i].hash) == SB_OK)
			o = &offers[i];
	if (o == NULL) {
		cli_fail("devices", "no device waiting for approval has the code %s (%zu"
		    " waiting for %s)", code, n, d.cfg.address);
		goto out;
	}
	/* Recorded before the relay adds it, so that this device's own
	 * monitoring never reads the addition as someone else's. */
	if ((rc = trust_store_open(d.home, d.cfg.address, d.cfg.device_id, &db)) == SB_OK)
		rc = trust_approve(db, d.cfg.address, 0, o->hash, (int64_t)time(NULL));
	if (rc != SB_OK) {
		cli_fail("devices", "%s/store.db: %s", d.home, sb_strerror(rc));
		goto out;
	}
	rc = client_link_approve(d.c, code, &id, &which);
	/* Lost on the wire: it may have gone through (the offer is then
	 * gone); the account's devices say. */
	if (rc == SB_ERR_CLOSED || rc == SB_ERR_NET)
		rc = added_since(&d, o, &id, &which);
	if (rc != SB_OK) {
		(void)trust_unapprove(db, d.cfg.address, o->hash);
		cli_fail("devices", "approving %s: %s", code, sb_strerror(rc));
		goto out;
	}
	(void)trust_approve(db, d.cfg.address, id, which.hash, (int64_t)time(NULL));
	{
		char name[NAMES_ESCAPE_BUF(SB_MAX_DEVICE_NAME)];

		(void)names_escape_display(which.name, strnlen(which.name, sizeof(which.name)),
		    name, sizeof(name));
		printf("approved device %llu (%s) of %s\n", (unsigned long long)id, name,
		    d.cfg.address);
	}
	status = 0;
out:
	store_close(db);
	free(offers);
	device_ctx_free(&d);
	return status;
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
	int rc, status = 1, tries = 0;

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
	while ((rc = client_remove(d.c, id)) != SB_OK && (rc == SB_ERR_CLOSED ||
	    rc == SB_ERR_NET) && cli_lost(rc, &tries)) {
		/* Lost on the wire: done if the device is gone already. */
		struct client_lookup *now = NULL;
		int still = 0;

		if (client_lookup(d.c, (const char *const[]){ d.cfg.address }, 1, &now) != SB_OK)
			continue;
		for (size_t i = 0; i < now->n; i++)
			still |= now->devices[i].id == id;
		client_lookup_free(now);
		if (!still) {
			rc = SB_OK;
			break;
		}
	}
	if (rc != SB_OK) {
		cli_fail("devices", "removing device %llu at the relay: %s", id, sb_strerror(rc));
		goto out;
	}
	/* Recorded as this device's doing, so that its own mount does not
	 * alert about it; the relay has already dropped the device. */
	if ((rc = trust_store_open(d.home, d.cfg.address, d.cfg.device_id, &db)) == SB_OK)
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
		cli_fail("devices", strcmp(args[0], "approve") == 0 ?
		    "which code? (sealbox devices approve CODE)" :
		    "which device? (sealbox devices remove ID)");
		return EXIT_USAGE;
	}
	if (strcmp(args[0], "approve") == 0)
		return devices_approve(arg, home);
	return devices_remove(arg, home);
}
