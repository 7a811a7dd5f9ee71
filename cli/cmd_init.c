/*
 * cmd_init.c - the device's account commands (DESIGN.md 2):
 *   sealbox init     keys into the keyring, device registered, config written
 *   sealbox devices  an address's devices with key fingerprints
 *   sealbox verify   a verification code two people compare out of band
 *   sealbox status   this home's device, relay, keyring and outbox state
 *
 * Private keys exist only in memory (OpenSSL's secure heap) and the keyring;
 * the config is public data.  `init` is all or nothing: on any failure it
 * removes what it already did (keyring items, the relay registration, the
 * home directory it created) and writes no config.  Every failure is one
 * line on stderr, "sealbox: CMD: reason".
 *
 * The enrollment code never comes from argv (cli/code.c says where it does
 * come from), and names the relay serves are printed escaped
 * (names_escape_display): both from issue 12.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "../agent/config.h"
#include "../agent/names.h"
#include "../agent/send/outbox.h"
#include "../agent/store.h"
#include "../agent/trust.h"
#include "../client/client.h"
#include "../common/sberr.h"
#include "../common/wire.h"
#include "../crypto/crypto.h"
#include "../keyring/keyring.h"
#include "../tlog/tlog.h"
#include "cli.h"

#define EXIT_USAGE        2
#define READY_TIMEOUT_MS   5000   /* connect: see connect_timeout_ms */
#define STATUS_TIMEOUT_MS  5000
#define REQUEST_TIMEOUT_MS 15000
#define usage_fail(...)   (cli_fail(__VA_ARGS__), EXIT_USAGE)

/* One line explaining a keyring failure and how to fix it. */
static int
keyring_fail(const char *cmd, int rc)
{
	const char *detail = keyring_error_detail();
	const char *hint = rc == SB_ERR_NO_KEYRING ?
	    "; start a Secret Service (gnome-keyring-daemon, KeePassXC) or run under scripts/with-keyring" :
	    rc == SB_ERR_KEYRING_LOCKED ? "; unlock the default collection" : "";

	if (detail != NULL && *detail != '\0')
		return cli_fail(cmd, "keyring: %s (%s)%s", sb_strerror(rc), detail, hint);
	return cli_fail(cmd, "keyring: %s%s", sb_strerror(rc), hint);
}

/* ---- init -------------------------------------------------------------------- */

struct init_opts {
	const char *address, *relay, *fingerprint, *code_file, *suite, *name, *home;
	const char *log_fingerprint;
	unsigned bits;
	int link;
};

/* How long init --link waits for an existing device's approval: as long
 * as the relay keeps the offer (PROTOCOL.md 14.7). */
#define LINK_WAIT_S   (15 * 60)
#define LINK_RETRY_MS 1000

/* Issue 12, finding 3: a code in argv is a code for every local user. */
#define CODE_IN_ARGV_REFUSED \
	"--code is refused: a code on the command line can be read by every local " \
	"user (/proc/PID/cmdline) and used to enroll first; give it on standard " \
	"input, at the prompt, or with --code-file FILE (mode 0600)"

static int
init_parse(int argc, char **argv, struct init_opts *o)
{
	static const struct option longopts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "relay", required_argument, NULL, 'r' },
		{ "fingerprint", required_argument, NULL, 'f' },
		{ "code", required_argument, NULL, 'c' },   /* only to refuse it */
		{ "code-file", required_argument, NULL, 'C' },
		{ "suite", required_argument, NULL, 's' },
		{ "bits", required_argument, NULL, 'b' },
		{ "device-name", required_argument, NULL, 'n' },
		{ "home", required_argument, NULL, 'H' },
		{ "link", no_argument, NULL, 'L' },
		{ "log-fingerprint", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->bits = CRYPTO_RSA_BITS_DEFAULT;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': o->address = optarg; break;
		case 'r': o->relay = optarg; break;
		case 'f': o->fingerprint = optarg; break;
		case 'c': return usage_fail("init", CODE_IN_ARGV_REFUSED);
		case 'C': o->code_file = optarg; break;
		case 's': o->suite = optarg; break;
		case 'n': o->name = optarg; break;
		case 'H': o->home = optarg; break;
		case 'L': o->link = 1; break;
		case 'F': o->log_fingerprint = optarg; break;
		case 'b':
			errno = 0;
			o->bits = (unsigned)strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || o->bits < CRYPTO_RSA_BITS_MIN ||
			    o->bits > CRYPTO_RSA_BITS_MAX)
				return usage_fail("init", "--bits must be %d..%d",
				    CRYPTO_RSA_BITS_MIN, CRYPTO_RSA_BITS_MAX);
			break;
		case 'h':
			printf("usage: sealbox init --address A --relay HOST:PORT[,...] --fingerprint SHA256\n"
			    "                    [--code-file FILE|- | --link] [--log-fingerprint SHA256]\n"
			    "                    [--suite pair|ec] [--bits N] [--device-name NAME]\n"
			    "                    [--home DIR]\n"
			    "\n"
			    "Creates this device: keys into the keyring, the device registered at the\n"
			    "relay with the enrollment code (an account's first device) or approved\n"
			    "by one of the account's devices (--link), the config written into the home.\n"
			    "\n"
			    "  --address A          this account's e-mail address or +E.164 number\n"
			    "  --relay HOST:PORT[,HOST:PORT...]\n"
			    "                       the relay (sealbox-relay init --listen), or the\n"
			    "                       nodes of a relay cluster, tried in turn (at most 8)\n"
			    "  --fingerprint SHA256 the relay certificate's SHA-256 that sealbox-relay\n"
			    "                       init printed (64 hex digits): the only cert trusted\n"
			    "  --code-file FILE|-   the enrollment code from FILE (mode 0600) or stdin;\n"
			    "                       default: stdin (a prompt without echo on a terminal)\n"
			    "  --link               join an account that has devices: prints a short\n"
			    "                       code to approve on one of them (sealbox devices\n"
			    "                       approve CODE) and waits up to 15 minutes for it;\n"
			    "                       no enrollment code\n"
			    "  --log-fingerprint SHA256  the SHA-256 of the relay's log key that\n"
			    "                       sealbox-relay init printed: checked before the key is\n"
			    "                       pinned (without it, the key the relay gives is pinned)\n"
			    "  --suite pair|ec      how messages to this device are encrypted: ec (default)\n"
			    "                       P-256 ECIES; pair RSA-OAEP as iMessage devices do\n"
			    "  --bits N             RSA modulus size for --suite pair, %d..%d (default %d)\n"
			    "  --device-name NAME   the name your other devices see (default: host name)\n"
			    "  --home DIR           this device's home, created: config, store.db,\n"
			    "                       contacts.vcf (default $SEALBOX_HOME, else\n"
			    "                       $XDG_DATA_HOME/sealbox); refused if initialised\n"
			    "  -h, --help           this help\n"
			    "\n"
			    "The code is never taken from the command line (--code is refused).\n"
			    "Exit status: 0 registered (or approved), 1 failure, 2 usage.\n",
			    CRYPTO_RSA_BITS_MIN, CRYPTO_RSA_BITS_MAX, CRYPTO_RSA_BITS_DEFAULT);
			exit(0);
		default:
			if (optopt == 'c')   /* "--code" with its value missing */
				return usage_fail("init", CODE_IN_ARGV_REFUSED);
			return usage_fail("init", "unknown option '%s' (try --help)",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return usage_fail("init", "unexpected argument '%s'", argv[optind]);
	if (o->address == NULL || o->relay == NULL || o->fingerprint == NULL)
		return usage_fail("init", "--address, --relay and --fingerprint are required");
	if (o->link && o->code_file != NULL)
		return usage_fail("init", "--link takes no enrollment code (--code-file): an"
		    " existing device approves it");
	if (o->log_fingerprint != NULL &&
	    client_parse_fingerprint(o->log_fingerprint, (uint8_t[CLIENT_FP_LEN]){ 0 }) != SB_OK)
		return usage_fail("init", "--log-fingerprint must be 64 hex digits (SHA-256)");
	return 0;
}

/*
 * The relay's log key (PROTOCOL.md 14.1), fetched over the pinned TLS
 * connection and compared with --log-fingerprint when the user gave it:
 * pinned into cfg, written with the config.
 */
static int
pin_log_key(struct client *c, const struct init_opts *o, struct agent_config *cfg)
{
	uint8_t key[TLOG_KEY_LEN], fp[TLOG_HASH_LEN], want[CLIENT_FP_LEN];
	char got[2 * TLOG_HASH_LEN + 1];
	int rc;

	if ((rc = client_log_key(c, key)) != SB_OK)
		return cli_fail("init", "the relay's log key: %s", sb_strerror(rc));
	if ((rc = tlog_key_fingerprint(key, fp)) != SB_OK)
		return cli_fail("init", "the relay's log key: %s", sb_strerror(rc));
	if (o->log_fingerprint != NULL) {
		(void)client_parse_fingerprint(o->log_fingerprint, want);
		if (!crypto_ct_equal(want, fp, sizeof(fp))) {
			sb_hex(fp, sizeof(fp), got);
			return cli_fail("init", "log key fingerprint mismatch: expected %s, got %s",
			    o->log_fingerprint, got);
		}
	}
	memcpy(cfg->log_key, key, TLOG_KEY_LEN);
	cfg->has_log_key = 1;
	return 0;
}

/*
 * init --link: offers this device's identity to the account and waits
 * for one of its devices to approve it (PROTOCOL.md 14.4, 14.7), asking
 * again on a fresh connection every second (each offer signs a fresh
 * challenge).  Prints the link code once.  On approval cfg->device_id is
 * set and the client is authenticated as the new device.
 */
static int
link_wait(struct client *c, struct agent_config *cfg, const struct crypto_identity *id,
    unsigned ready_ms)
{
	char code[TLOG_LINK_CODE_BUF];
	const uint8_t *der;
	size_t len;
	time_t deadline = time(NULL) + LINK_WAIT_S;
	uint64_t dev = 0;
	int rc, shown = 0;

	crypto_identity_der(id, &der, &len);
	if ((rc = tlog_link_code(crypto_identity_hash(id), code)) != SB_OK)
		return cli_fail("init", "link code: %s", sb_strerror(rc));
	for (;;) {
		rc = client_link_offer(c, cfg->address, der, len, cfg->suite, cfg->device_name,
		    &dev);
		if (rc == SB_ERR_NOT_FOUND)
			return cli_fail("init", "%s has no device to approve this one: an"
			    " account's first device joins with an enrollment code (without"
			    " --link)", cfg->address);
		if (rc != SB_OK)
			return cli_fail("init", "offering this device to %s: %s", cfg->address,
			    sb_strerror(rc));
		if (dev != 0)
			break;
		if (!shown) {
			printf("link code: %s\n"
			    "approve it on a device of %s: sealbox devices approve %s\n"
			    "(waiting up to %d minutes)\n", code, cfg->address, code,
			    LINK_WAIT_S / 60);
			fflush(stdout);
			shown = 1;
		}
		if (time(NULL) >= deadline)
			return cli_fail("init", "not approved within %d minutes; nothing kept",
			    LINK_WAIT_S / 60);
		usleep(LINK_RETRY_MS * 1000);
		client_resync(c);
		if ((rc = client_wait_ready(c, ready_ms)) != SB_OK && rc != SB_ERR_NET)
			return cli_fail("init", "relay %s: %s", cfg->relay, sb_strerror(rc));
	}
	cfg->device_id = dev;
	return 0;
}

/*
 * Issue 12, finding 8: a device name is shown to every sender and on every
 * device list, so one that could disguise itself (a bidi override, an
 * invisible or control character, bytes that are not UTF-8) is refused
 * before anything is registered.
 */
static int
device_name_check(const char *name)
{
	uint32_t bad;
	size_t off;

	if (names_display_check(name, strlen(name), &bad, &off) == SB_OK)
		return 0;
	if (bad & NAMES_BAD_BYTE)
		return usage_fail("init", "--device-name is not UTF-8 (byte 0x%02X at offset %zu)",
		    (unsigned)(bad & 0xff), off);
	return usage_fail("init", "--device-name holds U+%04X at offset %zu: control and "
	    "invisible format characters could disguise the name", (unsigned)bad, off);
}

/* Fills cfg from the options (everything but the device id). */
static int
init_config(const struct init_opts *o, struct agent_config *cfg)
{
	char host[256], err[200];
	size_t n;

	memset(cfg, 0, sizeof(*cfg));
	if (names_address_canonical(o->address, strlen(o->address), cfg->address,
	    sizeof(cfg->address), NULL) != SB_OK)
		return usage_fail("init", "'%s' is not an e-mail address or an E.164 phone number (+...)",
		    o->address);
	if (client_parse_fingerprint(o->fingerprint, cfg->fingerprint) != SB_OK)
		return usage_fail("init", "--fingerprint must be the relay's SHA-256 (64 hex digits)");
	if (strlen(o->relay) > CONFIG_MAX_RELAY)
		return usage_fail("init", "--relay is too long (at most %d HOST:PORT)",
		    CONFIG_MAX_RELAYS);
	snprintf(cfg->relay, sizeof(cfg->relay), "%s", o->relay);
	cfg->suite = CRYPTO_SUITE_EC;
	if (o->suite != NULL && config_suite_parse(o->suite, &cfg->suite) != SB_OK)
		return usage_fail("init", "--suite must be pair or ec");
	if (o->name != NULL) {
		n = strlen(o->name);
		if (n == 0 || n > CONFIG_MAX_DEVICE_NAME)
			return usage_fail("init", "--device-name must be 1..%d bytes",
			    CONFIG_MAX_DEVICE_NAME);
		if (device_name_check(o->name) != 0)
			return EXIT_USAGE;
		memcpy(cfg->device_name, o->name, n + 1);
	} else {
		if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "device");
		host[sizeof(host) - 1] = '\0';
		snprintf(cfg->device_name, sizeof(cfg->device_name), "%.*s",
		    CONFIG_MAX_DEVICE_NAME, host);
		/* The cut may split a character; a host name nobody can show
		 * is no name. */
		if (names_display_check(cfg->device_name, strlen(cfg->device_name),
		    NULL, NULL) != SB_OK)
			snprintf(cfg->device_name, sizeof(cfg->device_name), "device");
	}
	cfg->inline_limit = CONFIG_INLINE_LIMIT_DEFAULT;
	cfg->device_id = 1;   /* placeholder so the check covers the rest */
	if (config_check(cfg, err, sizeof(err)) != SB_OK)
		return usage_fail("init", "%s", err);
	cfg->device_id = 0;
	return 0;
}

struct init_keys {
	struct crypto_key *sign, *enc;
	struct crypto_identity *id;
	uint8_t *storage;    /* KEYRING_STORAGE_KEY_LEN, secure heap */
};

static void
init_keys_free(struct init_keys *k)
{
	crypto_key_free(k->sign);
	crypto_key_free(k->enc);
	crypto_identity_free(k->id);
	if (k->storage != NULL)
		OPENSSL_secure_clear_free(k->storage, KEYRING_STORAGE_KEY_LEN);
	memset(k, 0, sizeof(*k));
}

static int
init_keys_generate(enum crypto_suite suite, unsigned bits, struct init_keys *k)
{
	int rc;

	memset(k, 0, sizeof(*k));
	if ((k->storage = OPENSSL_secure_malloc(KEYRING_STORAGE_KEY_LEN)) == NULL)
		return SB_ERR_ALLOC;
	if ((rc = crypto_key_generate_sign(&k->sign)) != SB_OK ||
	    (rc = crypto_key_generate_encrypt(suite, bits, &k->enc)) != SB_OK ||
	    (rc = crypto_identity_from_keys(k->sign, k->enc, &k->id)) != SB_OK ||
	    (rc = crypto_random(k->storage, KEYRING_STORAGE_KEY_LEN)) != SB_OK)
		init_keys_free(k);
	return rc;
}

/* Removes whichever of the three keyring items exist. */
static void
keyring_forget(const char *address, const char *devid)
{
	(void)keyring_delete(address, devid, KEYRING_PURPOSE_SIGN);
	(void)keyring_delete(address, devid, KEYRING_PURPOSE_ENCRYPT);
	(void)keyring_delete(address, devid, KEYRING_PURPOSE_STORAGE);
}

static int
keyring_put(const char *address, const char *devid, const struct init_keys *k)
{
	int rc;

	if ((rc = keyring_store(address, devid, KEYRING_PURPOSE_SIGN, k->sign)) != SB_OK ||
	    (rc = keyring_store(address, devid, KEYRING_PURPOSE_ENCRYPT, k->enc)) != SB_OK ||
	    (rc = keyring_store_storage_key(address, devid, k->storage)) != SB_OK)
		return rc;
	return SB_OK;
}

/*
 * How long a command waits for the relay's session: a few seconds, so a
 * relay that accepts and never answers is reported, not waited on for the
 * request timeout.  $SEALBOX_CONNECT_TIMEOUT (seconds, 1..600) overrides
 * it: the client retries a refused connection with backoff until then.
 */
static unsigned
connect_timeout_ms(unsigned dflt)
{
	const char *env = getenv("SEALBOX_CONNECT_TIMEOUT");

	if (env != NULL && atoi(env) >= 1 && atoi(env) <= 600)
		return (unsigned)atoi(env) * 1000u;
	return dflt;
}

/*
 * Connects (unregistered when device_id is 0) and waits for the session.
 * On failure why (why_size bytes) says which failure, as precisely as the
 * client knows (client_last_error): "connection refused", "certificate
 * fingerprint mismatch: expected X, got Y", "TLS handshake failed: R", or
 * "timed out after N s" when no attempt ended in time.
 */
/*
 * The client pinned the log key or accepted a newer tree head: the key
 * into the config (saved when there is a home with one), the head into
 * store.db, as the mount does (agent.c log_state_cb).
 */
static void
cli_log_state(void *arg, const uint8_t key[TLOG_KEY_LEN], const uint8_t *head,
    size_t head_len)
{
	struct cli_log *lg = arg;
	struct tlog_sth sth;
	sqlite3 *db = NULL;

	if (!lg->cfg->has_log_key) {
		memcpy(lg->cfg->log_key, key, TLOG_KEY_LEN);
		lg->cfg->has_log_key = 1;
		if (lg->home != NULL)
			(void)config_save(lg->home, lg->cfg, 0);
	}
	if (lg->home == NULL || head == NULL || tlog_sth_parse(head, head_len, &sth) != SB_OK)
		return;
	if (trust_store_open(lg->home, lg->cfg->address, lg->cfg->device_id, &db) == SB_OK)
		(void)trust_log_head_put(db, head, head_len, sth.size, (int64_t)time(NULL));
	store_close(db);
}

static int
connect_relay(const struct agent_config *cfg, const struct crypto_key *sign,
    uint64_t device_id, unsigned timeout_ms, struct client **out, char *why,
    size_t why_size, struct cli_log *lg)
{
	struct sb_buf head = SB_BUF_INIT;
	struct client_config cc;
	int rc;

	timeout_ms = connect_timeout_ms(timeout_ms);
	memset(&cc, 0, sizeof(cc));
	cc.relay = cfg->relay;
	memcpy(cc.fingerprint, cfg->fingerprint, CLIENT_FP_LEN);
	/* During a rotation either pin passes (PROTOCOL.md 13.10); the mount
	 * keeps the config's pins up to date, these one-shot commands do not. */
	memcpy(cc.next_fingerprint, cfg->next_fingerprint, CLIENT_FP_LEN);
	cc.has_next = cfg->has_next;
	cc.sign_key = sign;
	cc.address = cfg->address;
	cc.device_id = device_id;
	/* Requests (register, lookup) once connected are answered at once by
	 * a live relay; a slow build (sanitizers) still needs more than the
	 * connect timeout. */
	cc.request_timeout_ms = timeout_ms > REQUEST_TIMEOUT_MS ? timeout_ms : REQUEST_TIMEOUT_MS;
	cc.backoff_max_ms = 1000;
	if (lg != NULL) {
		sqlite3 *db = NULL;
		char path[4096];

		cc.on_log_state = cli_log_state;
		cc.arg = lg;
		if (cfg->has_log_key)
			cc.log_key = cfg->log_key;
		/* The newest head this home accepted: a command's lookups are
		 * checked for consistency with it like the mount's. */
		snprintf(path, sizeof(path), "%s/store.db", lg->home ? lg->home : "");
		if (lg->home != NULL && access(path, F_OK) == 0 &&
		    trust_store_open(lg->home, lg->cfg->address, lg->cfg->device_id, &db) == SB_OK &&
		    trust_log_head_get(db, &head) == SB_OK) {
			cc.log_head = head.d;
			cc.log_head_len = head.len;
		}
		store_close(db);
	}
	snprintf(why, why_size, "%s", sb_strerror(SB_ERR_NET));
	rc = client_new(&cc, out);
	sb_buf_free(&head);
	if (rc != SB_OK) {
		snprintf(why, why_size, "%s", sb_strerror(rc));
		return rc;
	}
	if ((rc = client_wait_ready(*out, timeout_ms)) != SB_OK) {
		if (client_last_error(*out, why, why_size) == SB_OK)
			;       /* the precise reason */
		else if (rc == SB_ERR_NET)
			snprintf(why, why_size, "timed out after %u s", (timeout_ms + 999) / 1000);
		else
			snprintf(why, why_size, "%s", sb_strerror(rc));
		client_free(*out);
		*out = NULL;
	}
	return rc;
}

/* 1 if dir is missing or holds nothing but . and .. */
static int
dir_empty(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int empty = 1;

	if (d == NULL)
		return errno == ENOENT;
	while (empty && (de = readdir(d)) != NULL)
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/*
 * The account's devices as they are when this one joins are its first
 * pins (they were there before it; trust on first use), this device is
 * marked as ours: any device added later without this one's approval is
 * an alert on this device (agent/trust.h).
 */
static int
pin_account(struct client *c, const char *home, const struct agent_config *cfg,
    int *others)
{
	const char *addrs[1] = { cfg->address };
	struct client_lookup *l = NULL;
	struct sb_buf head = SB_BUF_INIT;
	struct tlog_sth sth;
	sqlite3 *db = NULL;
	int rc = client_lookup(c, addrs, 1, &l);

	*others = 0;
	if (rc == SB_OK)
		rc = trust_store_open(home, cfg->address, cfg->device_id, &db);
	if (rc == SB_OK)
		rc = trust_observe_lookup(db, cfg->address, l, TRUST_ACCEPT,
		    (int64_t)time(NULL), NULL, NULL);
	if (rc == SB_OK)
		rc = trust_self_set(db, cfg->address, cfg->device_id);
	/* The log as this lookup proved it: the mount goes on from there. */
	if (rc == SB_OK && client_log_head(c, &head) == SB_OK &&
	    tlog_sth_parse(head.d, head.len, &sth) == SB_OK)
		rc = trust_log_head_put(db, head.d, head.len, sth.size, (int64_t)time(NULL));
	for (size_t i = 0; rc == SB_OK && i < l->n; i++)
		*others += l->devices[i].id != cfg->device_id;
	sb_buf_free(&head);
	store_close(db);
	client_lookup_free(l);
	return rc;
}

static void
unlink_store(const char *home)
{
	static const char *const names[] = { "store.db", "store.db-wal", "store.db-shm" };
	char path[4096];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", home, names[i]);
		(void)unlink(path);
	}
}

int
cmd_init(int argc, char **argv)
{
	struct init_opts o;
	struct agent_config cfg;
	struct init_keys k = { 0 };
	struct client *c = NULL;
	char *home = NULL, devid[24], code[CLI_CODE_MAX + 1] = { 0 }, why[256];
	const uint8_t *idder;
	size_t idlen;
	int rc, status = 1, made_home = 0, stored = 0, registered = 0, made_store = 0;
	int others = 0;
	struct cli_log ilog;
	struct stat st;

	if ((rc = init_parse(argc, argv, &o)) != 0)
		return rc;
	if ((rc = init_config(&o, &cfg)) != 0)
		return rc;
	if (config_home(o.home, &home) != SB_OK)
		return cli_fail("init", "no home: give --home or set SEALBOX_HOME or HOME");
	/* Issue 17: init never registers a second device by accident.  An
	 * initialised home is refused whatever named it; the default home
	 * (no --home) also when it holds anything at all, such as the store
	 * of a home whose config was lost: a new device there would inherit
	 * another device's mailbox. */
	if (config_exists(home)) {
		cli_fail("init", "%s is already initialised (%s/config exists): init would "
		    "register a second device; for another device give --home DIR", home, home);
		goto out;
	}
	if (o.home == NULL && !dir_empty(home)) {
		cli_fail("init", "the default home %s already exists and is not empty; "
		    "for a new device give --home DIR", home);
		goto out;
	}
	if ((rc = keyring_init()) != SB_OK || (rc = keyring_probe()) != SB_OK) {
		keyring_fail("init", rc);
		goto out;
	}
	/* After the checks that need no code, so nobody types it in vain. */
	if (!o.link && (rc = cli_code_read(o.code_file, cfg.address, code)) != 0) {
		status = rc;
		goto out;
	}
	made_home = stat(home, &st) != 0;
	if (config_mkdir_home(home) != SB_OK) {
		cli_fail("init", "%s: %s", home, strerror(errno));
		made_home = 0;
		goto out;
	}
	if ((rc = init_keys_generate(cfg.suite, o.bits, &k)) != SB_OK) {
		cli_fail("init", "key generation: %s", sb_strerror(rc));
		goto out;
	}
	ilog.home = NULL;
	ilog.cfg = &cfg;
	if ((rc = connect_relay(&cfg, k.sign, 0, READY_TIMEOUT_MS, &c, why,
	    sizeof(why), &ilog)) != SB_OK) {
		cli_fail("init", "relay %s: %s", cfg.relay, why);
		goto out;
	}
	if (pin_log_key(c, &o, &cfg) != 0)
		goto out;
	if (o.link) {
		if (link_wait(c, &cfg, k.id, connect_timeout_ms(READY_TIMEOUT_MS)) != 0)
			goto out;
	} else {
		crypto_identity_der(k.id, &idder, &idlen);
		rc = client_register(c, cfg.address, code, idder, idlen, cfg.suite,
		    cfg.device_name, &cfg.device_id);
		OPENSSL_cleanse(code, sizeof(code));   /* one use, right or wrong */
		if (rc != SB_OK) {
			cli_fail("init", "registering %s at %s: %s", cfg.address, cfg.relay,
			    rc == SB_ERR_ENROLL_CODE ? "enrollment code wrong, used or for"
			    " another address" : sb_strerror(rc));
			goto out;
		}
	}
	registered = 1;
	snprintf(devid, sizeof(devid), "%llu", (unsigned long long)cfg.device_id);
	stored = 1;
	if ((rc = keyring_put(cfg.address, devid, &k)) != SB_OK) {
		keyring_fail("init", rc);
		goto out;
	}
	made_store = 1;
	if ((rc = pin_account(c, home, &cfg, &others)) != SB_OK) {
		cli_fail("init", "%s/store.db: pinning %s's devices: %s", home, cfg.address,
		    sb_strerror(rc));
		goto out;
	}
	if ((rc = config_save(home, &cfg, 1)) != SB_OK) {
		cli_fail("init", "%s/config: %s", home,
		    rc == SB_ERR_SYSTEM ? strerror(errno) : sb_strerror(rc));
		goto out;
	}
	printf("%s: device %llu (%s, suite %s) %s at %s; home %s\n", cfg.address,
	    (unsigned long long)cfg.device_id, cfg.device_name,
	    config_suite_name(cfg.suite), o.link ? "approved" : "registered", cfg.relay, home);
	if (!o.link && others > 0)
		printf("note: %s had %d device%s already, and none approved this one: they"
		    " and every sender refuse it; a device joins an account with sealbox"
		    " init --link\n", cfg.address, others, others == 1 ? "" : "s");
	status = 0;
out:
	if (status != 0) {
		/* All or nothing: undo in reverse order. */
		if (stored)
			keyring_forget(cfg.address, devid);
		if (registered && client_remove(c, cfg.device_id) != SB_OK)
			fprintf(stderr, "sealbox: init: note: device %llu stays registered at "
			    "the relay (could not remove it)\n",
			    (unsigned long long)cfg.device_id);
		if (made_store)
			unlink_store(home);
		if (made_home)
			(void)rmdir(home);
	}
	OPENSSL_cleanse(code, sizeof(code));
	client_free(c);
	init_keys_free(&k);
	free(home);
	return status;
}

/* ---- the home's device, for devices / verify / status ------------------------ */

void
device_ctx_free(struct device_ctx *d)
{
	client_free(d->c);
	crypto_key_free(d->sign);
	free(d->home);
	memset(d, 0, sizeof(*d));
}

int
device_ctx_open(const char *cmd, const char *home_arg, unsigned timeout_ms,
    struct device_ctx *d)
{
	char err[200], devid[24], why[256];
	int rc;

	memset(d, 0, sizeof(*d));
	if (config_home(home_arg, &d->home) != SB_OK)
		return cli_fail(cmd, "no home: give --home or set SEALBOX_HOME or HOME");
	if (config_load(d->home, &d->cfg, err, sizeof(err)) != SB_OK) {
		cli_fail(cmd, "%s", err[0] ? err : "cannot read the config");
		device_ctx_free(d);
		return 1;
	}
	snprintf(devid, sizeof(devid), "%llu", (unsigned long long)d->cfg.device_id);
	if ((rc = keyring_init()) != SB_OK ||
	    (rc = keyring_load(d->cfg.address, devid, KEYRING_PURPOSE_SIGN, &d->sign)) != SB_OK) {
		keyring_fail(cmd, rc);
		device_ctx_free(d);
		return 1;
	}
	if (timeout_ms == 0)
		return 0;
	d->log.home = d->home;
	d->log.cfg = &d->cfg;
	if (connect_relay(&d->cfg, d->sign, d->cfg.device_id, timeout_ms, &d->c, why,
	    sizeof(why), &d->log) != SB_OK) {
		cli_fail(cmd, "relay %s: %s", d->cfg.relay, why);
		device_ctx_free(d);
		return 1;
	}
	return 0;
}

/* --help of devices, verify and status: what the command says, one line
 * per option, the exit statuses. */
static void
addr_home_usage(const char *cmd, int need_addr)
{
	const char *what =
	    strcmp(cmd, "devices") == 0 ?
	    "Lists the devices of ADDRESS (default: this account) at the relay: id,\n"
	    "name (\"-\" when the relay does not reveal another account's names),\n"
	    "suite and key fingerprint (the first 16 bytes of its identity hash).\n"
	    "sealbox devices approve CODE lets a new device join this account,\n"
	    "sealbox devices remove ID removes one (sealbox devices remove --help).\n" :
	    strcmp(cmd, "verify") == 0 ?
	    "Prints the verification code of this account and ADDRESS: compare it\n"
	    "with theirs in person; it changes whenever either side's devices do.\n"
	    "With --confirm, records that ADDRESS's devices are verified when CODE\n"
	    "(as they read theirs out) matches: sends to ADDRESS are then held if\n"
	    "its devices change, until a new code is confirmed or the change is\n"
	    "accepted (sealbox trust accept).\n" :
	    "Shows this device, whether and where its home is mounted, the keyring,\n"
	    "the relay (checked live), the last contact with it, the outbox queue,\n"
	    "key-change alerts and attachments waiting for disk space.\n";

	int verify = strcmp(cmd, "verify") == 0;

	printf("usage: sealbox %s%s%s [--home DIR]\n\n%s\n", cmd,
	    need_addr > 0 ? " ADDRESS" : need_addr == 0 ? " [ADDRESS]" : "",
	    verify ? " [--confirm CODE]" : "", what);
	if (need_addr >= 0)
		printf("  ADDRESS      an e-mail address or +E.164 number, any case\n");
	if (verify)
		printf("  --confirm CODE  the other side's 60 digits (spaces, dashes and\n"
		    "               newlines between them are ignored); a mismatch\n"
		    "               records nothing and exits 1\n");
	printf("  --home DIR   the device's home: config, store.db, contacts.vcf\n"
	    "               (default $SEALBOX_HOME, else $XDG_DATA_HOME/sealbox)\n"
	    "  -h, --help   this help\n"
	    "\n"
	    "$SEALBOX_CONNECT_TIMEOUT (seconds) overrides the 5 s connect timeout.\n"
	    "Exit status: 0 ok, 1 failure%s, 2 usage.\n",
	    need_addr < 0 ? " (relay unreachable or keyring unusable)" : "");
}

/* Parses [ADDRESS] [--home DIR] (and --confirm CODE when confirm is not
 * NULL); *addr stays NULL when absent. */
static int
parse_addr_home(const char *cmd, int argc, char **argv, int need_addr,
    const char **addr, const char **home, const char **confirm)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "confirm", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	if (confirm != NULL)
		*confirm = NULL;

	*addr = NULL;
	*home = NULL;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'H') {
			*home = optarg;
		} else if (c == 'c' && confirm != NULL) {
			*confirm = optarg;
		} else if (c == 'h') {
			addr_home_usage(cmd, need_addr);
			exit(0);
		} else {
			return usage_fail(cmd, "unknown option '%s' (try --help)", argv[optind - 1]);
		}
	}
	if (optind < argc && need_addr >= 0)
		*addr = argv[optind++];
	if (optind != argc)
		return usage_fail(cmd, "unexpected argument '%s'", argv[optind]);
	if (need_addr > 0 && *addr == NULL)
		return usage_fail(cmd, "which address? (sealbox %s ADDRESS)", cmd);
	return 0;
}

/* First 16 bytes of H(identity) as 8 groups of 4 hex digits. */
static void
key_fingerprint(const uint8_t *hash, char out[8 * 5])
{
	int i;

	for (i = 0; i < 8; i++)
		snprintf(out + i * 5, 6, "%02x%02x%s", hash[2 * i], hash[2 * i + 1],
		    i < 7 ? " " : "");
}

int
cli_lost(int rc, int *tries)
{
	if ((rc != SB_ERR_CLOSED && rc != SB_ERR_NET) || ++*tries > CLI_RETRIES)
		return 0;
	usleep(CLI_RETRY_MS * 1000u);
	return 1;
}

int
cli_lookup(const char *cmd, struct device_ctx *d, const char *address, struct client_lookup **l)
{
	const char *addrs[1] = { address };
	int rc, tries = 0;

	while ((rc = client_lookup(d->c, addrs, 1, l)) != SB_OK && cli_lost(rc, &tries))
		;
	if (rc != SB_OK)
		return cli_fail(cmd, "lookup %s: %s", address, sb_strerror(rc));
	if ((*l)->n == 0) {
		client_lookup_free(*l);
		*l = NULL;
		return cli_fail(cmd, "%s has no devices", address);
	}
	return 0;
}

int
cli_canonical_arg(const char *cmd, const char *in, char out[NAMES_ADDR_BUF])
{
	if (names_address_canonical(in, strlen(in), out, NAMES_ADDR_BUF, NULL) != SB_OK)
		return usage_fail(cmd, "'%s' is not an e-mail address or an E.164 phone number", in);
	return 0;
}

/* The index of the first argument that is no option (nor --home's
 * value) when it is sub, else 0. */
static int
subcommand(int argc, char **argv, const char *sub)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--home") == 0) {
			i++;
			continue;
		}
		if (argv[i][0] == '-')
			continue;
		return strcmp(argv[i], sub) == 0 ? i : 0;
	}
	return 0;
}

int
cmd_devices(int argc, char **argv)
{
	const char *addr_arg, *home_arg;
	char addr[NAMES_ADDR_BUF], fp[8 * 5], name[NAMES_ESCAPE_BUF(SB_MAX_DEVICE_NAME)];
	struct device_ctx d;
	struct client_lookup *l = NULL;
	size_t i;
	int rc, status = 1;

	if ((rc = subcommand(argc, argv, "remove")) > 0 ||
	    (rc = subcommand(argc, argv, "approve")) > 0)
		return cli_devices_manage(argc - rc, argv + rc, argv + 1, rc - 1);
	if ((rc = parse_addr_home("devices", argc, argv, 0, &addr_arg, &home_arg, NULL)) != 0)
		return rc;
	if (addr_arg != NULL && (rc = cli_canonical_arg("devices", addr_arg, addr)) != 0)
		return rc;
	if (device_ctx_open("devices", home_arg, READY_TIMEOUT_MS, &d) != 0)
		return 1;
	if (addr_arg == NULL)
		snprintf(addr, sizeof(addr), "%s", d.cfg.address);
	if (cli_lookup("devices", &d, addr, &l) != 0)
		goto out;
	for (i = 0; i < l->n; i++) {
		struct crypto_identity *id = NULL;
		const struct client_device *dev = &l->devices[i];

		/* The relay's bytes: shown escaped, never as terminal input. */
		(void)names_escape_display(dev->name, strnlen(dev->name, sizeof(dev->name)),
		    name, sizeof(name));
		/* The relay tells names to the account's own devices only. */
		if (name[0] == '\0')
			snprintf(name, sizeof(name), "-");
		if (crypto_identity_parse(dev->identity, dev->identity_len, &id) != SB_OK) {
			printf("%-20llu %-24s %-5s (identity does not parse)\n",
			    (unsigned long long)dev->id, name, "?");
			continue;
		}
		key_fingerprint(crypto_identity_hash(id), fp);
		printf("%-20llu %-24s %-5s %s%s\n", (unsigned long long)dev->id, name,
		    config_suite_name(crypto_identity_suite(id)), fp,
		    strcmp(dev->address, d.cfg.address) == 0 && dev->id == d.cfg.device_id ?
		    "  (this device)" : "");
		crypto_identity_free(id);
	}
	status = 0;
out:
	client_lookup_free(l);
	device_ctx_free(&d);
	return status;
}

/* ---- verify ------------------------------------------------------------------ */

/* Collects the identity hashes of a lookup into hashes[*n ...]. */
static int
add_hashes(const char *cmd, const struct client_lookup *l, uint8_t (*hashes)[CRYPTO_HASH_LEN],
    size_t max, size_t *n)
{
	size_t i, j;

	for (i = 0; i < l->n; i++) {
		struct crypto_identity *id = NULL;
		int dup = 0;

		if (crypto_identity_parse(l->devices[i].identity, l->devices[i].identity_len,
		    &id) != SB_OK)
			return cli_fail(cmd, "device %llu of %s: identity does not parse",
			    (unsigned long long)l->devices[i].id, l->devices[i].address);
		for (j = 0; j < *n; j++)
			dup |= memcmp(hashes[j], crypto_identity_hash(id), CRYPTO_HASH_LEN) == 0;
		if (!dup && *n < max)
			memcpy(hashes[(*n)++], crypto_identity_hash(id), CRYPTO_HASH_LEN);
		crypto_identity_free(id);
	}
	return 0;
}

static int
cmp_hash(const void *a, const void *b)
{
	return memcmp(a, b, CRYPTO_HASH_LEN);
}

/*
 * The verification code (docs/PROTOCOL.md "Verification code"): the sorted,
 * distinct identity hashes H of both parties' devices;
 *   D = SHA-256(0x00 || "sealbox-verify-v1" || H...) ||
 *       SHA-256(0x01 || "sealbox-verify-v1" || H...)
 * then 12 groups: group i = u40be(D[5i .. 5i+5)) mod 100000, 5 digits.
 * Both parties compute the same code; any device key changing changes it.
 */
static int
verification_code(uint8_t (*hashes)[CRYPTO_HASH_LEN], size_t n, char out[12 * 6])
{
	static const char label[] = "sealbox-verify-v1";
	uint8_t d[64];
	unsigned char ctr;
	unsigned len;
	size_t i;

	qsort(hashes, n, CRYPTO_HASH_LEN, cmp_hash);
	for (ctr = 0; ctr < 2; ctr++) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		int ok = md != NULL &&
		    EVP_DigestInit_ex2(md, EVP_sha256(), NULL) == 1 &&
		    EVP_DigestUpdate(md, &ctr, 1) == 1 &&
		    EVP_DigestUpdate(md, label, sizeof(label) - 1) == 1 &&
		    EVP_DigestUpdate(md, hashes, n * CRYPTO_HASH_LEN) == 1 &&
		    EVP_DigestFinal_ex(md, d + 32 * ctr, &len) == 1;

		EVP_MD_CTX_free(md);
		if (!ok)
			return SB_ERR_CRYPTO;
	}
	for (i = 0; i < 12; i++) {
		uint64_t v = 0;
		int j;

		for (j = 0; j < 5; j++)
			v = v << 8 | d[5 * i + (size_t)j];
		snprintf(out + 6 * i, 7, "%05llu%s", (unsigned long long)(v % 100000),
		    i == 11 ? "" : (i % 4 == 3 ? "\n" : " "));
	}
	return SB_OK;
}

/*
 * verify --confirm: CODE against the code of the devices the directory
 * lists now, in constant time (trust_code_check); on a match, those of
 * ADDR become its pinned and verified key set (trust_observe,
 * TRUST_CONFIRM: its open alerts closed, held sends released).
 */
static int
confirm_code(struct device_ctx *d, const char *addr, const char *given,
    const char *code, const struct client_lookup *theirs)
{
	sqlite3 *db = NULL;
	int rc = trust_code_check(given, code);

	if (rc == SB_ERR_TAG)
		return cli_fail("verify", "the code does not match: the devices of %s or"
		    " yours are not the ones they see; nothing recorded", addr);
	if (rc != SB_OK)
		return cli_fail("verify", "cannot compare the code: %s", sb_strerror(rc));
	if ((rc = trust_store_open(d->home, d->cfg.address, d->cfg.device_id, &db)) == SB_OK)
		rc = trust_observe_lookup(db, addr, theirs, TRUST_CONFIRM,
		    (int64_t)time(NULL), NULL, NULL);
	store_close(db);
	if (rc != SB_OK)
		return cli_fail("verify", "%s/store.db: %s", d->home, sb_strerror(rc));
	printf("%s verified: the code matches; %zu device%s pinned\n", addr, theirs->n,
	    theirs->n == 1 ? "" : "s");
	return 0;
}

int
cmd_verify(int argc, char **argv)
{
	enum { MAXH = 2 * 64 };
	const char *addr_arg, *home_arg, *confirm;
	char addr[NAMES_ADDR_BUF], code[12 * 6 + 1];
	uint8_t hashes[MAXH][CRYPTO_HASH_LEN];
	struct device_ctx d;
	struct client_lookup *mine = NULL, *theirs = NULL;
	size_t n = 0;
	int rc, status = 1;

	if ((rc = parse_addr_home("verify", argc, argv, 1, &addr_arg, &home_arg,
	    &confirm)) != 0)
		return rc;
	/* The shape is checked before anything connects (usage, exit 2). */
	if (confirm != NULL && trust_code_shape(confirm) != SB_OK)
		return usage_fail("verify", "--confirm: CODE must be 60 digits (12 groups of 5,"
		    " as sealbox verify prints them)");
	if ((rc = cli_canonical_arg("verify", addr_arg, addr)) != 0)
		return rc;
	if (device_ctx_open("verify", home_arg, READY_TIMEOUT_MS, &d) != 0)
		return 1;
	if (cli_lookup("verify", &d, d.cfg.address, &mine) != 0 ||
	    cli_lookup("verify", &d, addr, &theirs) != 0 ||
	    add_hashes("verify", mine, hashes, MAXH, &n) != 0 ||
	    add_hashes("verify", theirs, hashes, MAXH, &n) != 0)
		goto out;
	if (verification_code(hashes, n, code) != SB_OK) {
		cli_fail("verify", "hashing failed");
		goto out;
	}
	if (confirm != NULL) {
		status = confirm_code(&d, addr, confirm, code, theirs);
		goto out;
	}
	printf("verification code for %s and %s (%zu + %zu devices):\n%s\n",
	    d.cfg.address, addr, mine->n, theirs->n, code);
	printf("compare it with %s in person or by a call; it changes whenever a device "
	    "is added or its keys change\n", addr);
	status = 0;
out:
	client_lookup_free(mine);
	client_lookup_free(theirs);
	device_ctx_free(&d);
	return status;
}

/* ---- status ------------------------------------------------------------------ */

/* UTC, second precision: "2026-12-04T17:03:01Z"; "?" for nonsense. */
static void
utc_text(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "?");
}

/* An address or event read from store.db, printed without control bytes
 * (the store's content came, in the end, from the relay and peers). */
static void
db_text(sqlite3_stmt *st, int col, char *out, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	(void)names_escape_display(t ? (const char *)t : "?", t ? strlen((const char *)t) : 1,
	    out, size);
}

#define MIB (1024 * 1024)

static unsigned long long
mib_up(int64_t bytes)
{
	return bytes > 0 ? (unsigned long long)(bytes / MIB + (bytes % MIB != 0)) : 0;
}

/*
 * The lines that come from store.db, read-only beside a live mount (WAL):
 * last contact with the relay (the newest time the relay stamped on a
 * message it accepted from us or delivered to us: the agent keeps no other
 * record of contact), the outbox counts, the open trust alerts
 * (trust_alerts, oldest first), sends held for a code comparison and
 * attachments waiting for local space
 * (inbox_waiting).  Tables a store has not created yet count as empty.
 * Returns 0, or -1 when store.db exists and cannot be read.
 */
static int
status_store(const char *home, const struct agent_config *cfg)
{
	char path[4096], t[32], addr[NAMES_ESCAPE_BUF(SB_MAX_ADDRESS)];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t queued = 0, failed = 0, last = 0;
	int ok = 0;

	snprintf(path, sizeof(path), "%s/store.db", home);
	if (access(path, F_OK) != 0) {
		printf("last contact: never (no messages yet)\n");
		printf("outbox:   0 queued, 0 failed\n");
		return 0;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(db, 2000);
	/* Closed (spooled, not yet accepted) and queued both wait for the relay. */
	if (sqlite3_prepare_v2(db, "SELECT COALESCE(SUM(state IN (?1, ?2)), 0),"
	    " COALESCE(SUM(state = ?3), 0), COALESCE(MAX(sent_ts), 0) FROM out_msg",
	    -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int(st, 1, OB_CLOSED);
		sqlite3_bind_int(st, 2, OB_QUEUED);
		sqlite3_bind_int(st, 3, OB_FAILED);
		if (sqlite3_step(st) != SQLITE_ROW)
			goto out;
		queued = sqlite3_column_int64(st, 0);
		failed = sqlite3_column_int64(st, 1);
		last = sqlite3_column_int64(st, 2);
		sqlite3_finalize(st);
		st = NULL;
	}
	if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(received), 0) FROM inbox_messages",
	    -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_int64(st, 0) > last)
		last = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	utc_text(last, t);
	printf("last contact: %s\n", last > 0 ? t : "never (no message sent or received yet)");
	printf("outbox:   %lld queued, %lld failed\n", (long long)queued, (long long)failed);

	/* Open alerts (agent/trust.h), oldest first, as MNT/alerts words
	 * them; a store made before issue 14 has none yet.  They are sealed
	 * under the storage key: read through a connection that has it. */
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM trust_alerts", -1, &st, NULL) == SQLITE_OK) {
		struct sb_buf al = SB_BUF_INIT;
		sqlite3 *tdb = NULL;
		int trc;

		sqlite3_finalize(st);
		st = NULL;
		if ((trc = trust_store_open(home, cfg->address, cfg->device_id, &tdb)) == SB_OK)
			trc = trust_alerts_text(tdb, 1, "alert: ", &al);
		store_close(tdb);
		if (trc == SB_OK) {
			for (size_t i = 0; i < al.len; i++)
				if ((al.d[i] < 0x20 && al.d[i] != '\n') || al.d[i] == 0x7f)
					al.d[i] = '?';
			if (al.len > 0)
				fwrite(al.d, 1, al.len, stdout);
		} else {
			printf("alerts:   unavailable (%s)\n", sb_strerror(trc));
		}
		sb_buf_free(&al);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM out_msg WHERE held IS NOT NULL"
	    " AND state = ? AND deleted = 0", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int(st, 1, OB_QUEUED);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
			printf("held:     %lld send%s waiting for codes to be compared again"
			    " (sealbox verify ADDRESS --confirm CODE, or sealbox trust accept"
			    " ADDRESS)\n", (long long)sqlite3_column_int64(st, 0),
			    sqlite3_column_int64(st, 0) == 1 ? "" : "s");
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT size, sender, need, avail FROM inbox_waiting"
	    " ORDER BY since, item_id", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			db_text(st, 1, addr, sizeof(addr));
			/* Sizes round up, free space down: never promise room. */
			printf("waiting: %llu-MiB attachment from %s needs %llu MiB free,"
			    " %llu MiB free\n", mib_up(sqlite3_column_int64(st, 0)), addr,
			    mib_up(sqlite3_column_int64(st, 2)),
			    (unsigned long long)(sqlite3_column_int64(st, 3) > 0 ?
			    sqlite3_column_int64(st, 3) / MIB : 0));
		}
	}
	ok = 1;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (!ok) {
		printf("outbox:   unknown (store.db unreadable)\n");
		return -1;
	}
	return 0;
}

int
cmd_status(int argc, char **argv)
{
	const char *addr_arg, *home_arg;
	char *home = NULL, err[200], devid[24], why[256], mnt[4096];
	char name[NAMES_ESCAPE_BUF(CONFIG_MAX_DEVICE_NAME)];
	struct agent_config cfg;
	struct crypto_key *sign = NULL;
	struct client *c = NULL;
	long pid;
	int rc = SB_ERR_NET, krc, lrc;

	if ((rc = parse_addr_home("status", argc, argv, -1, &addr_arg, &home_arg, NULL)) != 0)
		return rc;
	if (config_home(home_arg, &home) != SB_OK)
		return cli_fail("status", "no home: give --home or set SEALBOX_HOME or HOME");
	if (config_load(home, &cfg, err, sizeof(err)) != SB_OK) {
		free(home);
		return cli_fail("status", "%s", err[0] ? err : "cannot read the config");
	}
	printf("home:     %s\n", home);
	printf("address:  %s\n", cfg.address);
	/* A config written before init checked names may hold any bytes. */
	(void)names_escape_display(cfg.device_name, strlen(cfg.device_name), name,
	    sizeof(name));
	printf("device:   %llu (%s, suite %s)\n", (unsigned long long)cfg.device_id,
	    name, config_suite_name(cfg.suite));
	/* The mount lock says who serves this home now (config.h). */
	if ((lrc = config_lock_holder(home, &pid, mnt, sizeof(mnt))) == SB_OK)
		printf("mounted:  at %s by pid %ld\n", mnt[0] ? mnt : "?", pid);
	else if (lrc == SB_ERR_NOT_FOUND)
		printf("mounted:  no\n");
	else
		printf("mounted:  unknown (%s/mount.lock: %s)\n", home, strerror(errno));
	snprintf(devid, sizeof(devid), "%llu", (unsigned long long)cfg.device_id);
	if ((krc = keyring_init()) == SB_OK && (krc = keyring_probe()) == SB_OK)
		krc = keyring_load(cfg.address, devid, KEYRING_PURPOSE_SIGN, &sign);
	if (krc == SB_OK)
		printf("keyring:  ok (device keys present)\n");
	else
		printf("keyring:  %s%s%s\n", sb_strerror(krc),
		    *keyring_error_detail() ? ": " : "", keyring_error_detail());
	if (sign == NULL)
		printf("relay:    %s (not checked: no signing key)\n", cfg.relay);
	else if ((rc = connect_relay(&cfg, sign, cfg.device_id, STATUS_TIMEOUT_MS, &c, why,
	    sizeof(why), NULL)) == SB_OK)
		printf("relay:    %s reachable, authenticated\n", cfg.relay);
	else
		printf("relay:    %s unreachable: %s\n", cfg.relay, why);
	(void)status_store(home, &cfg);
	client_free(c);
	crypto_key_free(sign);
	free(home);
	return krc == SB_OK && rc == SB_OK ? 0 : 1;
}
