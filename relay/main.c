/*
 * main.c - sealbox-relay command line: init, serve, invite (docs/RELAY.md).
 * Parses options and prints one line on error; the work is in the other relay/ files.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sberr.h"
#include "relay.h"

#ifndef SB_VERSION
#error "SB_VERSION is defined by the Makefile (VERSION)"
#endif

static const char usage[] =
	"usage: sealbox-relay init   --data DIR [--listen HOST:PORT] [--inline-limit 4096|16384]\n"
	"                            [--retention-days N] [--blob-max BYTES]\n"
	"       sealbox-relay serve  --data DIR [--listen HOST:PORT] [--idle-timeout S]\n"
	"                            [--auth-timeout S] [--write-timeout S] [--sweep-interval S]\n"
	"       sealbox-relay invite --data DIR ADDRESS\n"
	"       sealbox-relay --version\n"
	"\n"
	"Run 'sealbox-relay COMMAND --help' for a command's options.\n"
	"Exit status: 0 ok, 1 failure, 2 usage.\n";

/* One help per subcommand, one line per option.  --test-clock-file is
 * left out on purpose: it is for the test suite only (docs/RELAY.md). */
static const char usage_init[] =
	"usage: sealbox-relay init --data DIR [--listen HOST:PORT] [--inline-limit 4096|16384]\n"
	"                          [--retention-days N] [--blob-max BYTES]\n"
	"\n"
	"Creates a relay in DIR (TLS key and certificate, database, relay.conf) and\n"
	"prints the certificate's SHA-256 fingerprint, which devices pin at init.\n"
	"\n"
	"  --data DIR            the relay's directory (created; refused if initialised)\n"
	"  --listen HOST:PORT    where serve listens (default 127.0.0.1:7443)\n"
	"  --inline-limit N      largest payload queued inline, 4096 (default) or 16384;\n"
	"                        larger content goes by attachment\n"
	"  --retention-days N    queued items and blobs expire after N days (default 30)\n"
	"  --blob-max BYTES      largest attachment blob (default 4 GiB)\n"
	"  -h, --help            this help\n"
	"\n"
	"Exit status: 0 ok, 1 failure, 2 usage.\n";
static const char usage_serve[] =
	"usage: sealbox-relay serve --data DIR [--listen HOST:PORT] [--idle-timeout S]\n"
	"                           [--auth-timeout S] [--write-timeout S] [--sweep-interval S]\n"
	"\n"
	"Runs the directory, the push queues and the blob store of DIR until\n"
	"SIGTERM or SIGINT; logs to stderr (docs/RELAY.md).\n"
	"\n"
	"  --data DIR            the relay's directory (sealbox-relay init)\n"
	"  --listen HOST:PORT    override relay.conf's listen address\n"
	"  --idle-timeout S      close a connection silent this long (default 300)\n"
	"  --auth-timeout S      time to finish TLS and authenticate (default 10)\n"
	"  --write-timeout S     close a client that reads nothing this long (default 60)\n"
	"  --sweep-interval S    seconds between expiry sweeps (default 60)\n"
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

enum { O_DATA = 256, O_LISTEN, O_INLINE, O_RETENTION, O_BLOBMAX, O_IDLE, O_AUTHTO,
       O_WRITETO, O_SWEEP, O_TESTCLOCK, O_HELP };

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
	{ "help",            no_argument,       NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
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

static int
number(const char *s, unsigned long long min, unsigned long long max,
    unsigned long long *v)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	*v = strtoull(s, &end, 10);
	return *end == '\0' && *v >= min && *v <= max ? 0 : -1;
}

static void
print_fp(const uint8_t fp[RELAY_FP_LEN])
{
	int i;

	for (i = 0; i < RELAY_FP_LEN; i++)
		printf("%02x", fp[i]);
	printf("\n");
}

int
main(int argc, char **argv)
{
	struct relay_config cfg;
	struct relay_serve_opts so;
	const char *cmd, *data = NULL;
	unsigned long long v;
	uint8_t fp[RELAY_FP_LEN];
	char code[RELAY_CODE_MAX];
	int c, rc;

	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("sealbox-relay %s\n", SB_VERSION);
		return 0;
	}
	if (strcmp(cmd, "init") != 0 && strcmp(cmd, "serve") != 0 && strcmp(cmd, "invite") != 0)
		return usage_die(cmd, "unknown command (try --help)");
	relay_config_defaults(&cfg);
	relay_serve_defaults(&so);
	optind = 2;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_DATA: data = optarg; break;
		case O_LISTEN:
			if (relay_parse_hostport(optarg, cfg.host, &cfg.port) != SB_OK)
				return usage_die(cmd, "--listen wants HOST:PORT");
			so.listen = optarg;
			break;
		case O_INLINE:
			if (number(optarg, 0, 1 << 20, &v) != 0 || (v != 4096 && v != 16384))
				return usage_die(cmd, "--inline-limit must be 4096 or 16384");
			cfg.inline_limit = (unsigned)v;
			break;
		case O_RETENTION:
			if (number(optarg, 1, 3650, &v) != 0)
				return usage_die(cmd, "--retention-days must be 1..3650");
			cfg.retention_days = (unsigned)v;
			break;
		case O_BLOBMAX:
			if (number(optarg, 1, UINT64_MAX >> 1, &v) != 0)
				return usage_die(cmd, "--blob-max wants a byte count");
			cfg.blob_max = v;
			break;
		case O_IDLE: case O_AUTHTO: case O_WRITETO: case O_SWEEP:
			if (number(optarg, 1, 86400, &v) != 0)
				return usage_die(cmd, "timeouts and intervals are 1..86400 seconds");
			if (c == O_IDLE) so.idle_timeout = (unsigned)v;
			else if (c == O_AUTHTO) so.auth_timeout = (unsigned)v;
			else if (c == O_WRITETO) so.write_timeout = (unsigned)v;
			else so.sweep_interval = (unsigned)v;
			break;
		case O_TESTCLOCK: so.test_clock_file = optarg; break;
		case O_HELP: case 'h':
			fputs(strcmp(cmd, "init") == 0 ? usage_init :
			    strcmp(cmd, "serve") == 0 ? usage_serve : usage_invite, stdout);
			return 0;
		default: return usage_die(cmd, "unknown option or missing argument (try --help)");
		}
	}
	if (data == NULL)
		return usage_die(cmd, "--data DIR is required");
	if (strcmp(cmd, "init") == 0) {
		if (optind != argc)
			return usage_die(cmd, "unexpected argument");
		if ((rc = relay_init(data, &cfg, fp)) != SB_OK)
			return die(cmd, rc == SB_ERR_EXISTS ? "already initialised" : sb_strerror(rc));
		print_fp(fp);
		return 0;
	}
	if (strcmp(cmd, "invite") == 0) {
		if (optind + 1 != argc)
			return usage_die(cmd, "exactly one ADDRESS (e-mail or +E.164)");
		if ((rc = relay_invite(data, argv[optind], code)) != SB_OK)
			return die(cmd, rc == SB_ERR_INVALID_ARG ?
			    "address must be an e-mail address or an E.164 number (+15551234567)" :
			    rc == SB_ERR_CONFIG ? "no relay here (run sealbox-relay init)" :
			    sb_strerror(rc));
		printf("%s\n", code);
		return 0;
	}
	if (optind != argc)
		return usage_die(cmd, "unexpected argument");
	rc = relay_serve(data, &so);
	if (rc != SB_OK)
		return die(cmd, rc == SB_ERR_CONFIG ? "no relay here (run sealbox-relay init)" :
		    sb_strerror(rc));
	return 0;
}
