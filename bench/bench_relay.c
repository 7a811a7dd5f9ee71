/*
 * bench_relay - the relay's routing rate and its memory per idle device
 * (`make bench`, docs/BENCHMARKS.md).
 *
 * Enrolls N devices (one address each, codes from `sealbox-relay invite`
 * read from a file) as N real clients of the client library in this one
 * process, every one on its own persistent TLS 1.3 connection.  --relay
 * may list several nodes of a relay cluster (H1:P1,H2:P2): device i then
 * uses node i mod n only, so each message (to device i + 1) crosses from
 * one node to another.  Then:
 *   --mode rate   each device sends 1 KiB payloads to the next one; a
 *                 window of --window messages (default 256) is in flight at
 *                 once, one sender thread each (so the relay's capacity is
 *                 measured, not one round trip's latency); the figure is
 *                 messages pushed to (and acknowledged by) their recipients
 *                 per second - every one sent, pushed and acked durably;
 *   --mode idle   the devices stay connected and idle; the figure is the
 *                 relay's peak RSS (VmHWM of --relay-pid).
 * Prints `KEY RUN1 RUN2 ...` lines for bench/report.py (--key names the
 * rate's line; default relay.rate).  Payloads are
 * random bytes: the relay never looks inside them, so nothing is sealed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../client/client.h"
#include "../common/sberr.h"
#include "../crypto/crypto.h"

#define PAYLOAD_LEN 1024
#define REG_THREADS 4
#define MAX_WINDOW 1024

struct dev {
	char address[SB_MAX_ADDRESS + 1];
	char code[64];
	struct crypto_key *sign, *enc;
	struct client *c;
	uint64_t id;
};

static struct dev *devs;
static size_t n_devs;
static const char *relay, *fp_hex, *rate_key = "relay.rate";
/* The nodes named by --relay; device i uses node[i % n_nodes]. */
#define MAX_NODES 8
static char node[MAX_NODES][64];
static size_t n_nodes;
static atomic_long received, accepted, failures;
static atomic_int stop;
static atomic_size_t next_reg;
/* Messages in flight at once: one sender thread each, every one blocked
 * in client_send_batch on a different device (the client library matches
 * answers by request id, so a device's connection carries several). */
static size_t window = 256;

static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench_relay: %s: %s\n", what, rc ? sb_strerror(rc) : strerror(errno));
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* On the device's I/O thread: count the delivery, acknowledge it so the
 * relay deletes it (the full routing round). */
static void
on_push(void *arg, const struct client_push *p)
{
	struct dev *d = arg;

	if (p->payload_len == PAYLOAD_LEN)
		atomic_fetch_add(&received, 1);
	client_ack_async(d->c, p->item_id);
}

static int
enroll(struct dev *d)
{
	struct client_config cfg;
	struct crypto_identity *id = NULL;
	const uint8_t *der;
	size_t der_len;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	if ((rc = client_parse_fingerprint(fp_hex, cfg.fingerprint)) != SB_OK ||
	    (rc = crypto_key_generate_sign(&d->sign)) != SB_OK ||
	    (rc = crypto_key_generate_encrypt(CRYPTO_SUITE_EC, 0, &d->enc)) != SB_OK ||
	    (rc = crypto_identity_from_keys(d->sign, d->enc, &id)) != SB_OK)
		return rc;
	cfg.relay = node[(size_t)(d - devs) % n_nodes];
	cfg.sign_key = d->sign;
	cfg.address = d->address;
	cfg.on_push = on_push;
	cfg.arg = d;
	cfg.request_timeout_ms = 60000;
	crypto_identity_der(id, &der, &der_len);
	if ((rc = client_new(&cfg, &d->c)) == SB_OK &&
	    (rc = client_wait_ready(d->c, 60000)) == SB_OK)
		rc = client_register(d->c, d->address, d->code, der, der_len,
		    CRYPTO_SUITE_EC, "bench", &d->id);
	crypto_identity_free(id);
	return rc;
}

static void *
enroll_thread(void *arg)
{
	size_t i;
	int rc;

	(void)arg;
	while ((i = atomic_fetch_add(&next_reg, 1)) < n_devs)
		if ((rc = enroll(&devs[i])) != SB_OK)
			die("enroll", rc);
	return NULL;
}

/* Sender thread t drives devices t, t + window, ... in turn. */
static void *
send_thread(void *arg)
{
	size_t t = (size_t)arg, i;
	uint8_t payload[PAYLOAD_LEN], msgid[PROTO_MSGID_LEN];
	struct client_item item;
	const char *to[1];
	int rc;

	if (crypto_random(payload, sizeof(payload)) != SB_OK)
		die("random", SB_ERR_CRYPTO);
	while (!atomic_load(&stop)) {
		for (i = t % n_devs; i < n_devs && !atomic_load(&stop); i += window) {
			struct dev *r = &devs[(i + 1) % n_devs];

			to[0] = r->address;
			item.device_id = r->id;
			item.payload = payload;
			item.payload_len = sizeof(payload);
			if (crypto_random(msgid, sizeof(msgid)) != SB_OK)
				die("random", SB_ERR_CRYPTO);
			rc = client_send_batch(devs[i].c, msgid, to, 1, &item, 1, NULL, NULL);
			if (rc == SB_OK)
				atomic_fetch_add(&accepted, 1);
			else
				atomic_fetch_add(&failures, 1);
		}
	}
	return NULL;
}

static long
vmhwm_kb(long pid, const char *field)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			kb = strtol(line + strlen(field), NULL, 10);
	fclose(f);
	return kb;
}

static void
load_codes(const char *path)
{
	FILE *f = fopen(path, "r");
	char a[SB_MAX_ADDRESS + 1], c[64];
	size_t cap = 0;

	if (f == NULL)
		die(path, 0);
	while (fscanf(f, "%256s %63s", a, c) == 2) {
		if (n_devs == cap) {
			cap = cap ? cap * 2 : 64;
			if ((devs = realloc(devs, cap * sizeof(*devs))) == NULL)
				die("realloc", 0);
		}
		memset(&devs[n_devs], 0, sizeof(*devs));
		snprintf(devs[n_devs].address, sizeof(devs->address), "%s", a);
		snprintf(devs[n_devs].code, sizeof(devs->code), "%s", c);
		n_devs++;
	}
	fclose(f);
	if (n_devs < 2)
		die("fewer than 2 codes", SB_ERR_INVALID_ARG);
}

static void
run_rate(int runs, double secs)
{
	pthread_t th[MAX_WINDOW];
	double rate[16], t0;
	long r0;
	size_t i;
	int run;

	for (i = 0; i < window; i++)
		if (pthread_create(&th[i], NULL, send_thread, (void *)i) != 0)
			die("pthread_create", 0);
	sleep(1);       /* warm-up: connections busy, caches filled */
	for (run = 0; run < runs && run < 16; run++) {
		r0 = atomic_load(&received);
		t0 = now_s();
		usleep((useconds_t)(secs * 1e6));
		rate[run] = (double)(atomic_load(&received) - r0) / (now_s() - t0);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < window; i++)
		pthread_join(th[i], NULL);
	if (atomic_load(&failures) > 0)
		die("sends failed", SB_ERR_NET);
	printf("%s", rate_key);
	for (run = 0; run < runs && run < 16; run++)
		printf(" %.1f", rate[run]);
	printf("\n");
}

int
main(int argc, char **argv)
{
	const char *codes = NULL, *mode = "rate";
	long relay_pid = 0;
	int runs = 3, i;
	double secs = 3;
	pthread_t th[REG_THREADS];
	struct rlimit rl;
	size_t k;
	double t0;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--relay") == 0) relay = argv[i + 1];
		else if (strcmp(argv[i], "--fp") == 0) fp_hex = argv[i + 1];
		else if (strcmp(argv[i], "--codes") == 0) codes = argv[i + 1];
		else if (strcmp(argv[i], "--mode") == 0) mode = argv[i + 1];
		else if (strcmp(argv[i], "--runs") == 0) runs = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--secs") == 0) secs = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--relay-pid") == 0) relay_pid = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--key") == 0) rate_key = argv[i + 1];
		else if (strcmp(argv[i], "--window") == 0) window = (size_t)atol(argv[i + 1]);
		else die(argv[i], SB_ERR_INVALID_ARG);
	}
	if (relay == NULL || fp_hex == NULL || codes == NULL)
		die("usage: --relay H:P[,H:P...] --fp HEX --codes FILE [--mode rate|idle] [--key K]"
		    " [--window N]", SB_ERR_INVALID_ARG);
	if (window < 1 || window > MAX_WINDOW)
		die("--window: 1..1024", SB_ERR_INVALID_ARG);
	for (const char *p = relay; n_nodes < MAX_NODES; n_nodes++) {
		size_t l = strcspn(p, ",");

		if (l == 0 || l >= sizeof(node[0]))
			die("--relay", SB_ERR_INVALID_ARG);
		memcpy(node[n_nodes], p, l);
		node[n_nodes][l] = '\0';
		if (p[l] == '\0') {
			n_nodes++;
			break;
		}
		p += l + 1;
	}
	/* One socket per device, plus the library's own descriptors. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	load_codes(codes);
	t0 = now_s();
	for (i = 0; i < REG_THREADS; i++)
		if (pthread_create(&th[i], NULL, enroll_thread, NULL) != 0)
			die("pthread_create", 0);
	for (i = 0; i < REG_THREADS; i++)
		pthread_join(th[i], NULL);
	fprintf(stderr, "bench_relay: %zu devices enrolled and connected in %.1f s\n",
	    n_devs, now_s() - t0);
	if (strcmp(mode, "rate") == 0) {
		run_rate(runs, secs);
	} else {
		sleep(2);       /* let the relay settle with every session open */
		if (relay_pid <= 0 || vmhwm_kb(relay_pid, "VmHWM:") < 0)
			die("--relay-pid", SB_ERR_INVALID_ARG);
		printf("relay.idle.hwm_kb %ld\n", vmhwm_kb(relay_pid, "VmHWM:"));
		printf("relay.idle.rss_kb %ld\n", vmhwm_kb(relay_pid, "VmRSS:"));
	}
	fflush(stdout);
	for (k = 0; k < n_devs; k++) {
		client_free(devs[k].c);
		crypto_key_free(devs[k].sign);
		crypto_key_free(devs[k].enc);
	}
	free(devs);
	return 0;
}
