/*
 * main.c - sealbox-relay command line (docs/RELAY.md): one table of
 * commands, each with the options it takes and its own help.  Parses
 * options and prints one line on error; the work is in the other relay/
 * files.
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "../common/sberr.h"
#include "relay.h"

#ifndef SB_VERSION
#error "SB_VERSION is defined by the Makefile (VERSION)"
#endif

static const char usage[] =
	"usage: sealbox-relay init   --data DIR [--listen HOST:PORT] [--inline-limit 4096|16384]\n"
	"                            [--retention-days N] [--blob-max BYTES] [--store URI]\n"
	"       sealbox-relay serve  --data DIR [--listen HOST:PORT] [--idle-timeout S]\n"
	"                            [--auth-timeout S] [--write-timeout S] [--sweep-interval S]\n"
	"                            [--metrics 127.0.0.1:PORT] [--log-format text|json]\n"
	"       sealbox-relay invite --data DIR ADDRESS\n"
	"       sealbox-relay devices --data DIR ADDRESS\n"
	"       sealbox-relay remove-device --data DIR ID\n"
	"       sealbox-relay remove-address --data DIR ADDRESS\n"
	"       sealbox-relay backup --data DIR OUT\n"
	"       sealbox-relay restore BACKUP --data DIR\n"
	"       sealbox-relay rotate-cert --data DIR [--switch]\n"
	"       sealbox-relay --version\n"
	"\n"
	"Run 'sealbox-relay COMMAND --help' for a command's options.\n"
	"Exit status: 0 ok, 1 failure, 2 usage.\n";

/* One help per command, one line per option.  --test-clock-file is left
 * out on purpose: it is for the test suite only (docs/RELAY.md). */
static const char usage_init[] =
	"usage: sealbox-relay init --data DIR [--listen HOST:PORT] [--inline-limit 4096|16384]\n"
	"                          [--retention-days N] [--blob-max BYTES] [--store URI]\n"
	"\n"
	"Creates a relay in DIR (TLS key and certificate, database, relay.conf) and\n"
	"prints the certificate's SHA-256 fingerprint, which devices pin at init,\n"
	"and on stderr \"log key fingerprint: HEX\", the transparency log key's\n"
	"(devices fetch that key at init and may check it against this).\n"
	"\n"
	"  --data DIR            the relay's directory (created; refused if initialised)\n"
	"  --listen HOST:PORT    where serve listens (default 127.0.0.1:7443)\n"
	"  --inline-limit N      largest payload queued inline, 4096 (default) or 16384;\n"
	"                        larger content goes by attachment\n"
	"  --retention-days N    queued items and blobs expire after N days (default 30)\n"
	"  --blob-max BYTES      largest attachment blob (default 4 GiB)\n"
	"  --store URI           a PostgreSQL store (postgresql://...) that several\n"
	"                        nodes share; default: SQLite in DIR (one node)\n"
	"  -h, --help            this help\n"
	"\n"
	"Exit status: 0 ok, 1 failure, 2 usage.\n";
static const char usage_serve[] =
	"usage: sealbox-relay serve --data DIR [--listen HOST:PORT] [--idle-timeout S]\n"
	"                           [--auth-timeout S] [--write-timeout S] [--sweep-interval S]\n"
	"                           [--metrics 127.0.0.1:PORT] [--log-format text|json]\n"
	"\n"
	"Runs the directory, the push queues and the blob store of DIR until\n"
	"SIGTERM or SIGINT; logs to stderr (docs/RELAY.md).  One serve per DIR.\n"
	"\n"
	"  --data DIR            the relay's directory (sealbox-relay init)\n"
	"  --listen HOST:PORT    override relay.conf's listen address\n"
	"  --idle-timeout S      close a connection silent this long (default 300)\n"
	"  --auth-timeout S      time to finish TLS and authenticate (default 10)\n"
	"  --write-timeout S     close a client that reads nothing this long (default 60)\n"
	"  --sweep-interval S    seconds between expiry sweeps (default 60)\n"
	"  --metrics 127.0.0.1:PORT  serve Prometheus metrics at http://.../metrics;\n"
	"                        loopback addresses only (no authentication)\n"
	"  --log-format text|json  one line per event (default), or one JSON object\n"
	"  -h, --help            this help\n"
	"\n"
	"Exit status: 0 stopped cleanly, 1 failure, 2 usage.\n";
static const char usage_invite[] =
	"usage: sealbox-relay invite --data DIR ADDRESS\n"
	"\n"
	"Prints a one-time enrollment code for ADDRESS (it stands in for an SMS or\n"
	"e-mail proof); give it to `sealbox init` on the device, never in argv.\n"
	"\n"
	"  --data DIR            the relay's directory\n"
	"  ADDRESS               an e-mail address or +E.164 number\n"
	"  -h, --help            this help\n"
	"\n"
	"Exit status: 0 ok, 1 failure, 2 usage.\n";
static const char usage_devices[] =
	"usage: sealbox-relay devices --data DIR ADDRESS\n"
	"\n"
	"Lists the devices of ADDRESS: id, enrollment time, when last seen (its\n"
	"last authentication or disconnection, UTC), items queued for it, name.\n"
	"May run while serve runs.\n"
	"\n"
	"  --data DIR            the relay's directory\n"
	"  ADDRESS               an e-mail address or +E.164 number\n"
	"  -h, --help            this help\n"
	"\n"
	"Exit status: 0 ok, 1 failure (no such address), 2 usage.\n";
static const char usage_remove_device[] =
	"usage: sealbox-relay remove-device --data DIR ID\n"
	"\n"
	"Removes device ID from the directory: its queue and the blobs it uploaded\n"
	"are deleted, its connection is closed, the account's other devices and\n"
	"its contacts see the change at their next lookup.  May run while serve runs.\n"
	"\n"
	"  --data DIR            the relay's directory\n"
	"  ID                    a device id (sealbox-relay devices)\n"
	"  -h, --help            this help\n"
	"\n"
	"Exit status: 0 ok, 1 failure (no such device), 2 usage.\n";
static const char usage_remove_address[] =
	"usage: sealbox-relay remove-address --data DIR ADDRESS\n"
	"\n"
	"Removes every device of ADDRESS as remove-device does, and its unused\n"
	"enrollment codes.  May run while serve runs.\n"
	"\n"
	"  --data DIR            the relay's directory\n"
	"  ADDRESS               an e-mail address or +E.164 number\n"
	"  -h, --help            this help\n"
	"\n"
	"Exit status: 0 ok, 1 failure (nothing enrolled for it), 2 usage.\n";

static const char usage_backup[] =
	"usage: sealbox-relay backup --data DIR OUT\n"
	"\n"
	"Copies the relay in DIR into OUT (a new directory) while serve runs: a\n"
	"consistent snapshot of the database (SQLite's online backup), the blob files\n"
	"it records, relay.conf and tls/ (the private key too: keep OUT secret).\n"
	"OUT is itself a relay directory.  A PostgreSQL store is backed up with\n"
	"pg_dump instead (docs/RELAY.md).\n"
	"\n"
	"  --data DIR            the relay's directory\n"
	"  OUT                   where the copy goes (must not exist, or be empty)\n"
	"  -h, --help            this help\n"
	"\n"
	"Exit status: 0 ok, 1 failure, 2 usage.\n";
static const char usage_restore[] =
	"usage: sealbox-relay restore BACKUP --data DIR\n"
	"\n"
	"Copies a backup into DIR (a new directory), checking it on the way: the\n"
	"database opens, every blob it records is there with its size, the key is\n"
	"the certificate's.  Prints the certificate's fingerprint (devices' pin).\n"
	"Then run serve on DIR.\n"
	"\n"
	"  BACKUP                a directory made by sealbox-relay backup\n"
	"  --data DIR            the new relay directory (must not exist, or be empty)\n"
	"  -h, --help            this help\n"
	"\n"
	"Exit status: 0 ok, 1 failure, 2 usage.\n";

static const char usage_rotate[] =
	"usage: sealbox-relay rotate-cert --data DIR [--switch]\n"
	"\n"
	"Certificate rotation without re-pinning the devices.  Without --switch:\n"
	"makes the next TLS key and certificate (tls/next-*.pem) and prints the next\n"
	"fingerprint; the relay keeps serving the current certificate and tells every\n"
	"device that connects (or is connected) the next one, which they accept from\n"
	"then on.  With --switch: the next certificate becomes the one served and\n"
	"the old key is deleted; prints the fingerprint served now.  A device offline\n"
	"from the rotation to the switch must be re-pinned (docs/RELAY.md).\n"
	"May run while serve runs.\n"
	"\n"
	"  --data DIR            the relay's directory\n"
	"  --switch              serve the next certificate from now on\n"
	"  -h, --help            this help\n"
	"\n"
	"Exit status: 0 ok, 1 failure, 2 usage.\n";

enum { O_DATA = 256, O_LISTEN, O_INLINE, O_RETENTION, O_BLOBMAX, O_IDLE, O_AUTHTO,
       O_WRITETO, O_SWEEP, O_TESTCLOCK, O_SWITCH, O_METRICS, O_LOGFORMAT, O_STORE,
       O_HELP };  /* O_HELP last */
#define BIT(o) (1u << ((o) - O_DATA))

static const struct option longopts[] = {
	{ "data",            required_argument, NULL, O_DATA },
	{ "listen",          required_argument, NULL, O_LISTEN },
	{ "inline-limit",    required_argument, NULL, O_INLINE },
	{ "retention-days",  required_argument, NULL, O_RETENTION },
	{ "blob-max",        required_argument, NULL, O_BLOBMAX },
	{ "idle-timeout",    required_argument, NULL, O_IDLE },
	{ "auth-timeout",    required_argument, NULL, O_AUTHTO },
	{ "write-timeout",   required_argument, NULL, O_WRITETO },
	{ "sweep-interval",  required_argument, NULL, O_SWEEP },
	{ "test-clock-file", required_argument, NULL, O_TESTCLOCK },
	{ "switch",          no_argument,       NULL, O_SWITCH },
	{ "metrics",         required_argument, NULL, O_METRICS },
	{ "log-format",      required_argument, NULL, O_LOGFORMAT },
	{ "store",           required_argument, NULL, O_STORE },
	{ "help",            no_argument,       NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

struct args {
	const char *cmd, *data;
	struct relay_config cfg;
	struct relay_serve_opts so;
	int do_switch;
	char **pos;                   /* positional arguments */
	int npos;
};

struct command {
	const char *name;
	const char *help;
	unsigned opts;                /* BIT(O_...) of the options it takes */
	int npos;                     /* positional arguments it wants */
	const char *pos_usage;        /* the line when npos is not met */
	int (*run)(struct args *a);
};

static int
die(const char *cmd, const char *what)
{
	fprintf(stderr, "sealbox-relay: %s: %s\n", cmd, what);
	return 1;
}

/* A bad command line: the same one line, exit status 2 (as sealbox). */
static int
usage_die(const char *cmd, const char *what)
{
	die(cmd, what);
	return 2;
}

/* The one line for a failure most commands share; a reason the relay
 * gave (an unreachable database) comes first. */
static int
die_rc(const char *cmd, int rc)
{
	return die(cmd, *relay_why() ? relay_why() :
	    rc == SB_ERR_CONFIG ? "no relay here (run sealbox-relay init)" :
	    rc == SB_ERR_INVALID_ARG ?
	    "address must be an e-mail address or an E.164 number (+15551234567)" :
	    rc == SB_ERR_SYSTEM ? strerror(errno) : sb_strerror(rc));
}

static int
number(const char *s, unsigned long long min, unsigned long long max,
    unsigned long long *v)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' && *v >= min && *v <= max ? 0 : -1;
}

static void
print_fp(const uint8_t fp[RELAY_FP_LEN])
{
	int i;

	for (i = 0; i < RELAY_FP_LEN; i++)
		printf("%02x", fp[i]);
	printf("\n");
}

/* After a change to the directory: the running serve must hear of it
 * (it closes removed devices' connections).  0, or 1 with one line. */
static int
tell_serve(const char *cmd, const char *data)
{
	char why[96];
	long pid = 0;

	if (relay_notify_serve(data, &pid) == SB_OK)
		return 0;
	snprintf(why, sizeof(why), "done, but the relay (pid %ld) was not told: %s",
	    pid, strerror(errno));
	return die(cmd, why);
}

static void
print_log_fp(const uint8_t fp[RELAY_FP_LEN])
{
	int i;

	fprintf(stderr, "log key fingerprint: ");
	for (i = 0; i < RELAY_FP_LEN; i++)
		fprintf(stderr, "%02x", fp[i]);
	fprintf(stderr, "\n");
}

static int
run_init(struct args *a)
{
	uint8_t fp[RELAY_FP_LEN];
	int rc;

	if ((rc = relay_init(a->data, &a->cfg, fp)) != SB_OK)
		return die(a->cmd, rc == SB_ERR_EXISTS ? "already initialised" :
		    *relay_why() ? relay_why() : sb_strerror(rc));
	print_fp(fp);
	/* stdout stays the one TLS fingerprint scripts capture; the log key's
	 * (which devices fetch and pin over that pinned connection, and may
	 * check against this) goes beside it on stderr. */
	if (relay_dirlog_fingerprint(a->data, fp) == SB_OK)
		print_log_fp(fp);
	return 0;
}

static int
run_serve(struct args *a)
{
	struct relay_config cfg;
	long holder = 0;
	char why[64];
	int fd, rc;

	/* From here on a SIGHUP (a remove-device telling us) must not kill
	 * us; the event loop handles it once it runs. */
	signal(SIGHUP, SIG_IGN);
	if ((rc = relay_config_load(a->data, &cfg)) != SB_OK)
		return die_rc(a->cmd, rc);
	/* Two serves on one DIR would both push the same queues and sweep
	 * the same blobs; the flock dies with the process, however it ends. */
	rc = relay_lock_take(a->data, &fd, &holder);
	if (rc == SB_ERR_EXISTS) {
		snprintf(why, sizeof(why), "already served by pid %ld", holder);
		return die(a->cmd, why);
	}
	if (rc != SB_OK)
		return die_rc(a->cmd, rc);
	rc = relay_serve(a->data, &a->so);
	close(fd);
	return rc == SB_OK ? 0 : die_rc(a->cmd, rc);
}

static int
run_invite(struct args *a)
{
	char code[RELAY_CODE_MAX];
	int rc;

	if ((rc = relay_invite(a->data, a->pos[0], code)) != SB_OK)
		return die_rc(a->cmd, rc);
	printf("%s\n", code);
	return 0;
}

static int
run_devices(struct args *a)
{
	int rc = relay_devices_print(a->data, a->pos[0], stdout);

	if (rc == SB_ERR_NOT_FOUND)
		return die(a->cmd, "no device is enrolled for this address");
	return rc == SB_OK ? 0 : die_rc(a->cmd, rc);
}

static void
print_removal(void *arg, const struct relay_removal *r)
{
	(void)arg;
	printf("removed device %llu of %s: %llu queued item%s and %llu blob%s (%llu bytes)"
	    " dropped\n", (unsigned long long)r->device, r->address,
	    (unsigned long long)r->items, r->items == 1 ? "" : "s",
	    (unsigned long long)r->blobs, r->blobs == 1 ? "" : "s",
	    (unsigned long long)r->blob_bytes);
}

static int
run_remove_device(struct args *a)
{
	struct relay_removal r;
	unsigned long long id;
	int rc;

	if (number(a->pos[0], 1, INT64_MAX, &id) != 0)
		return usage_die(a->cmd, "ID must be a device id (a positive number)");
	rc = relay_remove_device(a->data, id, &r);
	if (rc == SB_ERR_NOT_FOUND)
		return die(a->cmd, "no such device");
	if (rc != SB_OK)
		return die_rc(a->cmd, rc);
	print_removal(NULL, &r);
	fflush(stdout);
	return tell_serve(a->cmd, a->data);
}

static int
run_remove_address(struct args *a)
{
	uint64_t invites = 0;
	int rc = relay_remove_address(a->data, a->pos[0], print_removal, NULL, &invites);

	if (rc == SB_ERR_NOT_FOUND)
		return die(a->cmd, "no device and no invite for this address");
	if (rc != SB_OK)
		return die_rc(a->cmd, rc);
	printf("removed %s: %llu unused invite%s voided\n", a->pos[0],
	    (unsigned long long)invites, invites == 1 ? "" : "s");
	fflush(stdout);
	return tell_serve(a->cmd, a->data);
}

/* One line for a failed backup or restore: the file at fault and why. */
static int
copy_failed(const char *cmd, int rc, const struct relay_copy_stats *st, const char *dir)
{
	char why[PATH_MAX + 160];
	int e = errno;

	if (rc == SB_ERR_EXISTS)
		snprintf(why, sizeof(why), "%s exists and is not empty", dir);
	else if (rc == SB_ERR_CONFIG && strcmp(cmd, "restore") == 0)
		snprintf(why, sizeof(why), "no relay.conf in the backup: not a backup");
	else if (st->bad[0] != '\0')
		snprintf(why, sizeof(why), "%s: %s", st->bad, rc == SB_ERR_NOT_FOUND ?
		    "missing" : rc == SB_ERR_LENGTH ? "not the size its record says" :
		    rc == SB_ERR_TLS ? "not the key of tls/cert.pem" :
		    rc == SB_ERR_STORAGE ? "does not open as a relay database" :
		    rc == SB_ERR_SYSTEM ? strerror(e) : sb_strerror(rc));
	else if (rc == SB_ERR_NOT_FOUND)
		snprintf(why, sizeof(why), "this store has no backup of its own: back its"
		    " database up with its tools (PostgreSQL: pg_dump)");
	else if (rc == SB_ERR_SYSTEM)
		snprintf(why, sizeof(why), "%s", strerror(e));
	else
		return die_rc(cmd, rc);
	return die(cmd, why);
}

static int
run_backup(struct args *a)
{
	struct relay_copy_stats st;
	int rc = relay_backup(a->data, a->pos[0], &st);

	if (rc != SB_OK)
		return copy_failed(a->cmd, rc, &st, a->pos[0]);
	printf("backup in %s: database %llu bytes, %llu blob%s (%llu bytes)", a->pos[0],
	    (unsigned long long)st.db_bytes, (unsigned long long)st.blobs,
	    st.blobs == 1 ? "" : "s", (unsigned long long)st.blob_bytes);
	if (st.blobs_missing > 0)
		printf(", %llu deleted since the snapshot left out",
		    (unsigned long long)st.blobs_missing);
	printf("\n");
	return 0;
}

static int
run_restore(struct args *a)
{
	struct relay_copy_stats st;
	uint8_t fp[RELAY_FP_LEN];
	int rc = relay_restore(a->pos[0], a->data, &st, fp);

	if (rc != SB_OK)
		return copy_failed(a->cmd, rc, &st, a->data);
	printf("restored into %s: database %llu bytes, %llu blob%s (%llu bytes); fingerprint ",
	    a->data, (unsigned long long)st.db_bytes, (unsigned long long)st.blobs,
	    st.blobs == 1 ? "" : "s", (unsigned long long)st.blob_bytes);
	print_fp(fp);
	if (relay_dirlog_fingerprint(a->data, fp) == SB_OK)
		print_log_fp(fp);
	return 0;
}

static int
run_rotate(struct args *a)
{
	uint8_t fp[RELAY_FP_LEN];
	int rc = a->do_switch ? relay_tls_switch(a->data, fp) : relay_tls_rotate(a->data, fp);

	if (rc == SB_ERR_EXISTS)
		return die(a->cmd, "a next certificate is pending already (rotate-cert --switch"
		    " serves it)");
	if (rc == SB_ERR_NOT_FOUND)
		return die(a->cmd, "no next certificate is pending (run rotate-cert first)");
	if (rc == SB_ERR_TLS)
		return die(a->cmd, "tls/next-key.pem is not the key of tls/next-cert.pem");
	if (rc != SB_OK)
		return die_rc(a->cmd, rc);
	print_fp(fp);
	fflush(stdout);
	return tell_serve(a->cmd, a->data);
}

static const struct command commands[] = {
	{ "init", usage_init, BIT(O_DATA) | BIT(O_LISTEN) | BIT(O_INLINE) |
	  BIT(O_RETENTION) | BIT(O_BLOBMAX) | BIT(O_STORE), 0, NULL, run_init },
	{ "serve", usage_serve, BIT(O_DATA) | BIT(O_LISTEN) | BIT(O_IDLE) | BIT(O_AUTHTO) |
	  BIT(O_WRITETO) | BIT(O_SWEEP) | BIT(O_TESTCLOCK) | BIT(O_METRICS) | BIT(O_LOGFORMAT),
	  0, NULL, run_serve },
	{ "invite", usage_invite, BIT(O_DATA), 1,
	  "exactly one ADDRESS (e-mail or +E.164)", run_invite },
	{ "devices", usage_devices, BIT(O_DATA), 1,
	  "exactly one ADDRESS (e-mail or +E.164)", run_devices },
	{ "remove-device", usage_remove_device, BIT(O_DATA), 1,
	  "exactly one device ID", run_remove_device },
	{ "remove-address", usage_remove_address, BIT(O_DATA), 1,
	  "exactly one ADDRESS (e-mail or +E.164)", run_remove_address },
	{ "backup", usage_backup, BIT(O_DATA), 1, "exactly one OUT directory", run_backup },
	{ "restore", usage_restore, BIT(O_DATA), 1, "exactly one BACKUP directory", run_restore },
	{ "rotate-cert", usage_rotate, BIT(O_DATA) | BIT(O_SWITCH), 0, NULL, run_rotate },
};

/* Applies one option of a's command; 0, or the exit status of a usage error. */
static int
option(struct args *a, int c)
{
	char host[RELAY_MAX_HOST + 1];
	struct in_addr in;
	unsigned long long v;
	uint16_t port;

	switch (c) {
	case O_DATA: a->data = optarg; break;
	case O_LISTEN:
		if (relay_parse_hostport(optarg, a->cfg.host, &a->cfg.port) != SB_OK)
			return usage_die(a->cmd, "--listen wants HOST:PORT");
		a->so.listen = optarg;
		break;
	case O_INLINE:
		if (number(optarg, 0, 1 << 20, &v) != 0 || (v != 4096 && v != 16384))
			return usage_die(a->cmd, "--inline-limit must be 4096 or 16384");
		a->cfg.inline_limit = (unsigned)v;
		break;
	case O_RETENTION:
		if (number(optarg, 1, 3650, &v) != 0)
			return usage_die(a->cmd, "--retention-days must be 1..3650");
		a->cfg.retention_days = (unsigned)v;
		break;
	case O_BLOBMAX:
		if (number(optarg, 1, UINT64_MAX >> 1, &v) != 0)
			return usage_die(a->cmd, "--blob-max wants a byte count");
		a->cfg.blob_max = v;
		break;
	case O_IDLE: case O_AUTHTO: case O_WRITETO: case O_SWEEP:
		if (number(optarg, 1, 86400, &v) != 0)
			return usage_die(a->cmd, "timeouts and intervals are 1..86400 seconds");
		if (c == O_IDLE) a->so.idle_timeout = (unsigned)v;
		else if (c == O_AUTHTO) a->so.auth_timeout = (unsigned)v;
		else if (c == O_WRITETO) a->so.write_timeout = (unsigned)v;
		else a->so.sweep_interval = (unsigned)v;
		break;
	case O_TESTCLOCK: a->so.test_clock_file = optarg; break;
	case O_SWITCH: a->do_switch = 1; break;
	case O_METRICS:
		/* The endpoint answers anyone who reaches it: loopback only (a
		 * reverse proxy or an SSH tunnel for anything further). */
		if (relay_parse_hostport(optarg, host, &port) != SB_OK ||
		    (strcmp(host, "localhost") != 0 &&
		     (inet_pton(AF_INET, host, &in) != 1 || (ntohl(in.s_addr) >> 24) != 127)))
			return usage_die(a->cmd, "--metrics wants a loopback HOST:PORT"
			    " (127.0.0.1:PORT): the endpoint has no access control");
		a->so.metrics = optarg;
		break;
	case O_LOGFORMAT:
		if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0)
			return usage_die(a->cmd, "--log-format must be text or json");
		relay_log_set_json(strcmp(optarg, "json") == 0);
		break;
	case O_STORE:
		if (relay_store_valid(optarg) != SB_OK)
			return usage_die(a->cmd, "--store wants a postgresql:// URI (libpq)");
		memcpy(a->cfg.store, optarg, strlen(optarg) + 1);   /* length checked */
		break;
	default: return usage_die(a->cmd, "unknown option or missing argument (try --help)");
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const struct command *k = NULL;
	struct args a;
	size_t i;
	int c, rc;

	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	memset(&a, 0, sizeof(a));
	a.cmd = argv[1];
	if (strcmp(a.cmd, "--help") == 0 || strcmp(a.cmd, "-h") == 0 ||
	    strcmp(a.cmd, "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(a.cmd, "--version") == 0) {
		printf("sealbox-relay %s\n", SB_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(a.cmd, commands[i].name) == 0)
			k = &commands[i];
	if (k == NULL)
		return usage_die(a.cmd, "unknown command (try --help)");
	relay_config_defaults(&a.cfg);
	relay_serve_defaults(&a.so);
	optind = 2;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == O_HELP || c == 'h') {
			fputs(k->help, stdout);
			return 0;
		}
		/* Another command's option is as unknown here as a typo. */
		if (c < O_DATA || c >= O_HELP || !(k->opts & BIT(c)))
			c = '?';
		if ((rc = option(&a, c)) != 0)
			return rc;
	}
	if (a.data == NULL)
		return usage_die(a.cmd, "--data DIR is required");
	a.pos = argv + optind;
	a.npos = argc - optind;
	if (a.npos != k->npos)
		return usage_die(a.cmd, k->pos_usage != NULL ? k->pos_usage : "unexpected argument");
	return k->run(&a);
}
