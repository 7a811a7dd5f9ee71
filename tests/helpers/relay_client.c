/*
 * relay_client.c - TEST HELPER: a small command-line device driving the
 * client library (client/client.h) against a real sealbox-relay, for
 * tests/integration/relay_*.sh.  Not installed, not for users.
 *
 * Keys live in a test directory as unencrypted PKCS#8 DER (sign.der) next
 * to the public identity (identity.der), the device id and the address:
 * acceptable only because these are throwaway test keys (the real agent
 * keeps keys in the keyring).  Payloads are opaque test strings: the relay
 * never looks inside them.
 *
 * The transparency log (docs/PROTOCOL.md 14): like the agent, a device
 * keeps the log key it pinned and the newest tree head it accepted, here
 * as KEYS/log-key and KEYS/log-head (raw bytes), written whenever the
 * client reports them (on_log_state), so successive commands of one test
 * device check each answer against what it saw before.  A refused answer
 * prints the client's reason (client_log_fault) before the error line:
 *   relay_client: log: bob@example.com: device 4: served but not in the log
 * and a fork both heads in hex ("relay_client: log: ours HEX" / "theirs").
 *
 * Exit status: 0 ok; on an SB_ERR_* failure, its absolute value (e.g. 50 =
 * SB_ERR_ENROLL_CODE, 46 = SB_ERR_STALE_DEVICES, 64 = SB_ERR_LOG_PROOF,
 * 65 = SB_ERR_LOG_FORK); 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "client/client.h"
#include "common/sberr.h"
#include "crypto/crypto.h"
#include "proto/proto.h"

static const char *prog = "relay_client";
static const char *cmd = "";

struct opts {
	const char *relay, *fp, *keys, *address, *code, *name, *to, *msgid, *text,
	    *devices, *ready_file, *suite, *device, *hook;
	long count, timeout, size, ping;
	int ack, stall, print_acks, until_idle;
};

static long stall_s;   /* recv --stall: the push callback blocks this long */
static int print_got;  /* recv --print-acks: each push as it arrives, too */

static int
fail(int rc, const char *what)
{
	fprintf(stderr, "%s: %s: %s%s%s\n", prog, cmd, what ? what : "",
	    what ? ": " : "", sb_strerror(rc));
	return rc < 0 && rc > -256 ? -rc : 1;
}

static int
usage(void)
{
	fprintf(stderr, "usage: %s keygen|register|lookup|send|send-raw|recv|ack|status|"
	    "remove|blob-put|blob-get|auth-as|garbage|send-many|stress|log-key|log-head|"
	    "check-head|events|link-offer|link-list|link-approve|flood [options]\n", prog);
	return 2;
}

/* ---- files ---------------------------------------------------------------- */

static int
read_file(const char *dir, const char *name, struct sb_buf *out)
{
	char path[PATH_MAX];
	uint8_t buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return SB_ERR_SYSTEM;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sb_put_bytes(out, buf, (size_t)n);
	close(fd);
	return n < 0 ? SB_ERR_SYSTEM : out->err;
}

static int
write_file(const char *dir, const char *name, const void *p, size_t n, int mode)
{
	char path[PATH_MAX];
	int fd, rc = SB_OK;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0)
		return SB_ERR_SYSTEM;
	if (write(fd, p, n) != (ssize_t)n)
		rc = SB_ERR_SYSTEM;
	close(fd);
	return rc;
}

static int
read_text(const char *dir, const char *name, char *out, size_t cap)
{
	struct sb_buf b = SB_BUF_INIT;
	int rc = read_file(dir, name, &b);

	out[0] = '\0';
	if (rc == SB_OK) {
		size_t n = b.len < cap - 1 ? b.len : cap - 1;

		memcpy(out, b.d, n);
		out[n] = '\0';
		out[strcspn(out, "\n")] = '\0';
	}
	sb_buf_free(&b);
	return rc;
}

static long
vmhwm_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int
parse_msgid(const char *hex, uint8_t id[PROTO_MSGID_LEN])
{
	size_t i;

	if (hex == NULL || strlen(hex) != 2 * PROTO_MSGID_LEN)
		return SB_ERR_INVALID_ARG;
	for (i = 0; i < PROTO_MSGID_LEN; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return SB_ERR_INVALID_ARG;
		id[i] = (uint8_t)v;
	}
	return SB_OK;
}

static void
print_hex(FILE *f, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

/* ---- the device ----------------------------------------------------------- */

struct device {
	struct crypto_key *sign;
	char address[SB_MAX_ADDRESS + 1];
	uint64_t id;
	struct client *c;
};

/* Pushes arrive on the I/O thread; main() consumes them from this list. */
struct pushq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct qitem { struct client_push p; char sender[SB_MAX_ADDRESS + 1];
	    uint8_t *payload; struct qitem *next; } *head, **tail;
	long n;
};

static struct pushq pq = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
    NULL, &pq.head, 0 };

static void
on_push(void *arg, const struct client_push *p)
{
	struct qitem *q = calloc(1, sizeof(*q));

	(void)arg;
	if (stall_s > 0) {
		/* a device that stops reading: the I/O thread is stuck here */
		fprintf(stderr, "%s: recv: stalling on the first push\n", prog);
		sleep((unsigned)stall_s);
		_exit(0);
	}
	if (q == NULL || (q->payload = malloc(p->payload_len + 1)) == NULL) {
		free(q);
		return;
	}
	/* On arrival (the I/O thread), not when main() gets to it: a push
	 * that arrives after an ack's answer shows after its "acked" line. */
	if (print_got)
		printf("got item=%llu\n", (unsigned long long)p->item_id);
	q->p = *p;
	snprintf(q->sender, sizeof(q->sender), "%s", p->sender);
	memcpy(q->payload, p->payload, p->payload_len);
	q->payload[p->payload_len] = '\0';
	pthread_mutex_lock(&pq.lock);
	*pq.tail = q;
	pq.tail = &q->next;
	pq.n++;
	pthread_cond_broadcast(&pq.cond);
	pthread_mutex_unlock(&pq.lock);
}

static struct qitem *
next_push(long timeout_s)
{
	struct timespec dl;
	struct qitem *q;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_s;
	pthread_mutex_lock(&pq.lock);
	while (pq.head == NULL)
		if (pthread_cond_timedwait(&pq.cond, &pq.lock, &dl) == ETIMEDOUT)
			break;
	q = pq.head;
	if (q != NULL) {
		pq.head = q->next;
		if (pq.head == NULL)
			pq.tail = &pq.head;
	}
	pthread_mutex_unlock(&pq.lock);
	return q;
}

static int
device_load(const struct opts *o, struct device *d, int need_id)
{
	struct sb_buf der = SB_BUF_INIT;
	char idtext[32];
	int rc;

	memset(d, 0, sizeof(*d));
	if (o->keys == NULL)
		return SB_ERR_INVALID_ARG;
	rc = read_file(o->keys, "sign.der", &der);
	if (rc == SB_OK)
		rc = crypto_key_from_pkcs8_der(der.d, der.len, &d->sign);
	sb_buf_free(&der);
	if (rc != SB_OK)
		return rc;
	if (read_text(o->keys, "address", d->address, sizeof(d->address)) != SB_OK &&
	    o->address != NULL)
		snprintf(d->address, sizeof(d->address), "%s", o->address);
	if (read_text(o->keys, "device_id", idtext, sizeof(idtext)) == SB_OK)
		d->id = strtoull(idtext, NULL, 10);
	if (o->device != NULL)
		d->id = strtoull(o->device, NULL, 10);
	if (need_id && d->id == 0)
		return SB_ERR_CONFIG;
	return SB_OK;
}

/* The device's memory of the log: KEYS/log-key, KEYS/log-head. */
static const char *log_dir;

static void
on_log_state(void *arg, const uint8_t key[TLOG_KEY_LEN], const uint8_t *head,
    size_t head_len)
{
	(void)arg;
	if (log_dir == NULL)
		return;
	write_file(log_dir, "log-key", key, TLOG_KEY_LEN, 0644);
	if (head != NULL)
		write_file(log_dir, "log-head", head, head_len, 0644);
}

/* After a refusal: why, and for a fork the two heads. */
static void
print_log_fault(struct client *c)
{
	struct client_log_fault f;

	if (c == NULL || client_log_fault(c, &f) != SB_OK)
		return;
	fprintf(stderr, "%s: log: %s\n", prog, f.why);
	if (f.ours_len > 0) {
		fprintf(stderr, "%s: log: ours ", prog);
		print_hex(stderr, f.ours, f.ours_len);
		fprintf(stderr, "\n%s: log: theirs ", prog);
		print_hex(stderr, f.theirs, f.theirs_len);
		fprintf(stderr, "\n");
	}
}

static int
device_connect(const struct opts *o, struct device *d)
{
	static struct sb_buf key, head;
	struct client_config cfg;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	log_dir = o->keys;
	sb_buf_truncate(&key, 0);
	sb_buf_truncate(&head, 0);
	if (read_file(o->keys, "log-key", &key) == SB_OK && key.len == TLOG_KEY_LEN)
		cfg.log_key = key.d;
	if (read_file(o->keys, "log-head", &head) == SB_OK && head.len > 0) {
		cfg.log_head = head.d;
		cfg.log_head_len = head.len;
	}
	cfg.on_log_state = on_log_state;
	if (o->relay == NULL || o->fp == NULL ||
	    client_parse_fingerprint(o->fp, cfg.fingerprint) != SB_OK)
		return SB_ERR_INVALID_ARG;
	cfg.relay = o->relay;
	cfg.sign_key = d->sign;
	cfg.address = d->address[0] ? d->address : NULL;
	cfg.device_id = d->id;
	cfg.on_push = on_push;
	cfg.backoff_min_ms = 100;
	cfg.backoff_max_ms = 1000;
	cfg.ping_interval_s = o->ping > 0 ? (unsigned)o->ping : 0;
	cfg.request_timeout_ms = (unsigned)(o->timeout > 0 ? o->timeout : 20) * 1000;
	if ((rc = client_new(&cfg, &d->c)) != SB_OK)
		return rc;
	return client_wait_ready(d->c, 10000);
}

static void
device_free(struct device *d)
{
	client_free(d->c);
	crypto_key_free(d->sign);
}

/* ---- commands ------------------------------------------------------------- */

static int
c_keygen(const struct opts *o)
{
	struct crypto_key *s = NULL, *e = NULL;
	struct crypto_identity *id = NULL;
	struct sb_buf der = SB_BUF_INIT;
	enum crypto_suite suite = o->suite && strcmp(o->suite, "pair") == 0 ?
	    CRYPTO_SUITE_PAIR : CRYPTO_SUITE_EC;
	const uint8_t *idd;
	size_t idl;
	int rc;

	if (o->keys == NULL)
		return usage();
	mkdir(o->keys, 0700);
	rc = crypto_key_generate_sign(&s);
	if (rc == SB_OK)
		rc = crypto_key_generate_encrypt(suite, CRYPTO_RSA_BITS_DEFAULT, &e);
	if (rc == SB_OK)
		rc = crypto_identity_from_keys(s, e, &id);
	if (rc == SB_OK)
		rc = crypto_key_to_pkcs8_der(s, &der);
	if (rc == SB_OK)
		rc = write_file(o->keys, "sign.der", der.d, der.len, 0600);
	if (rc == SB_OK) {
		crypto_identity_der(id, &idd, &idl);
		rc = write_file(o->keys, "identity.der", idd, idl, 0644);
	}
	if (rc == SB_OK)
		rc = write_file(o->keys, "suite", suite == CRYPTO_SUITE_PAIR ? "1" : "2", 1, 0644);
	sb_buf_free(&der);
	crypto_identity_free(id);
	crypto_key_free(s);
	crypto_key_free(e);
	return rc == SB_OK ? 0 : fail(rc, NULL);
}

/* KEYS/device_id and KEYS/address of an enrolled device. */
static int
save_device(const struct opts *o, uint64_t id)
{
	char idtext[32];
	int rc;

	snprintf(idtext, sizeof(idtext), "%llu\n", (unsigned long long)id);
	rc = write_file(o->keys, "device_id", idtext, strlen(idtext), 0644);
	if (rc == SB_OK)
		rc = write_file(o->keys, "address", o->address, strlen(o->address), 0644);
	return rc;
}

static int
c_register(const struct opts *o)
{
	struct device d;
	struct sb_buf idb = SB_BUF_INIT;
	char suite[8];
	uint64_t id = 0;
	int rc;

	if (o->address == NULL || o->code == NULL)
		return usage();
	if ((rc = device_load(o, &d, 0)) != SB_OK)
		return fail(rc, "keys");
	d.id = 0;
	snprintf(d.address, sizeof(d.address), "%s", o->address);
	rc = read_file(o->keys, "identity.der", &idb);
	if (rc == SB_OK)
		rc = read_text(o->keys, "suite", suite, sizeof(suite));
	if (rc == SB_OK)
		rc = device_connect(o, &d);
	if (rc == SB_OK)
		rc = client_register(d.c, o->address, o->code, idb.d, idb.len,
		    suite[0] == '1' ? CRYPTO_SUITE_PAIR : CRYPTO_SUITE_EC,
		    o->name ? o->name : "test device", &id);
	if (rc == SB_OK)
		rc = save_device(o, id);
	sb_buf_free(&idb);
	device_free(&d);
	if (rc != SB_OK)
		return fail(rc, NULL);
	printf("%llu\n", (unsigned long long)id);
	return 0;
}

static int
c_lookup(const struct opts *o, int argc, char **argv)
{
	struct device d;
	struct client_lookup *l = NULL;
	long k;
	size_t i;
	int rc;

	if (argc < 1)
		return usage();
	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	/* --count N: N lookups on one connection (rate limits); the last
	 * answer is printed, and on a refusal how many passed before it. */
	for (k = 0; rc == SB_OK && k < (o->count > 0 ? o->count : 1); k++) {
		client_lookup_free(l);
		l = NULL;
		if ((rc = client_lookup(d.c, (const char *const *)argv, (size_t)argc, &l)) != SB_OK)
			fprintf(stderr, "%s: lookup: %ld passed before the refusal\n", prog, k);
	}
	/* The log's verdict after the usual columns: who approved it. */
	for (i = 0; rc == SB_OK && i < l->n; i++)
		printf("%s %llu %s %zu%s\n", l->devices[i].address,
		    (unsigned long long)l->devices[i].id, l->devices[i].name,
		    l->devices[i].identity_len, l->devices[i].unapproved ? " unapproved" :
		    l->devices[i].approver ? " approved" : "");
	if (rc != SB_OK)
		print_log_fault(d.c);
	client_lookup_free(l);
	device_free(&d);
	return rc == SB_OK ? 0 : fail(rc, NULL);
}

/* events ADDRESS: the address's history as the log proves it. */
static int
c_events(const struct opts *o, int argc, char **argv)
{
	static const char *const kinds[] = { "?", "add", "change", "remove" };
	struct client_lookup *l = NULL;
	struct device d;
	size_t i;
	int rc;

	if (argc != 1)
		return usage();
	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	if (rc == SB_OK && (rc = client_lookup(d.c, (const char *const *)argv, 1, &l)) != SB_OK)
		print_log_fault(d.c);
	for (i = 0; rc == SB_OK && i < l->n_events; i++) {
		const struct client_log_event *e = &l->events[i];

		printf("%llu %s device=%llu signer=%llu\n", (unsigned long long)e->seq,
		    kinds[e->kind <= 3 ? e->kind : 0], (unsigned long long)e->device,
		    (unsigned long long)e->signer);
	}
	client_lookup_free(l);
	device_free(&d);
	return rc == SB_OK ? 0 : fail(rc, NULL);
}

/* log-key: the log key's fingerprint (pinned, or fetched and pinned). */
static int
c_log_key(const struct opts *o)
{
	uint8_t key[TLOG_KEY_LEN], fp[TLOG_HASH_LEN];
	struct device d;
	int rc;

	if ((rc = device_load(o, &d, 0)) == SB_OK)
		rc = device_connect(o, &d);
	if (rc == SB_OK)
		rc = client_log_key(d.c, key);
	if (rc == SB_OK)
		rc = tlog_key_fingerprint(key, fp);
	if (rc == SB_OK) {
		print_hex(stdout, fp, sizeof(fp));
		printf("\n");
	}
	device_free(&d);
	return rc == SB_OK ? 0 : fail(rc, NULL);
}

/* log-head: the newest head this device accepted, in hex (none: exit 44). */
static int
c_log_head(const struct opts *o)
{
	struct sb_buf head = SB_BUF_INIT;
	int rc = read_file(o->keys, "log-head", &head);

	if (rc == SB_ERR_SYSTEM && errno == ENOENT)
		rc = SB_ERR_NOT_FOUND;
	if (rc == SB_OK) {
		print_hex(stdout, head.d, head.len);
		printf("\n");
	}
	sb_buf_free(&head);
	return rc == SB_OK ? 0 : fail(rc, NULL);
}

/* check-head HEX: a head another device gossiped (PROTOCOL 14.9). */
static int
c_check_head(const struct opts *o, int argc, char **argv)
{
	uint8_t head[CLIENT_MAX_HEAD];
	struct device d;
	size_t n = 0;
	unsigned v;
	int rc;

	if (argc != 1 || strlen(argv[0]) % 2 != 0 || strlen(argv[0]) / 2 > sizeof(head))
		return usage();
	for (n = 0; n < strlen(argv[0]) / 2; n++) {
		if (sscanf(argv[0] + 2 * n, "%2x", &v) != 1)
			return usage();
		head[n] = (uint8_t)v;
	}
	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	if (rc == SB_OK && (rc = client_log_check_head(d.c, head, n)) != SB_OK)
		print_log_fault(d.c);
	device_free(&d);
	if (rc != SB_OK)
		return fail(rc, NULL);
	printf("consistent\n");
	return 0;
}

/*
 * link-offer --address A [--name N] [--timeout S]: the new device asks to
 * be approved, printing "code: CODE" once, then again every second until
 * an existing device approves it ("linked as device N", KEYS/device_id
 * written) or the timeout passes (exit 48).
 */
static int
c_link_offer(const struct opts *o)
{
	struct crypto_identity *id = NULL;
	struct sb_buf idb = SB_BUF_INIT;
	char suite[8], code[TLOG_LINK_CODE_BUF];
	struct device d;
	uint64_t dev = 0;
	long waited = 0, limit = o->timeout > 0 ? o->timeout : 20;
	int rc;

	if (o->address == NULL)
		return usage();
	if ((rc = device_load(o, &d, 0)) != SB_OK)
		return fail(rc, "keys");
	d.id = 0;
	snprintf(d.address, sizeof(d.address), "%s", o->address);
	rc = read_file(o->keys, "identity.der", &idb);
	if (rc == SB_OK)
		rc = read_text(o->keys, "suite", suite, sizeof(suite));
	if (rc == SB_OK)
		rc = crypto_identity_parse(idb.d, idb.len, &id);
	if (rc == SB_OK)
		rc = tlog_link_code(crypto_identity_hash(id), code);
	if (rc == SB_OK) {
		printf("code: %s\n", code);
		rc = device_connect(o, &d);
	}
	while (rc == SB_OK) {
		rc = client_link_offer(d.c, o->address, idb.d, idb.len,
		    suite[0] == '1' ? CRYPTO_SUITE_PAIR : CRYPTO_SUITE_EC,
		    o->name ? o->name : "linked device", &dev);
		if (rc != SB_OK || dev != 0)
			break;
		if (++waited > limit) {
			rc = SB_ERR_EXPIRED;
			break;
		}
		sleep(1);
		/* A fresh challenge per offer: the relay closes an
		 * unauthenticated connection after its auth timeout anyway. */
		client_resync(d.c);
		rc = client_wait_ready(d.c, 10000);
	}
	if (rc == SB_OK)
		rc = save_device(o, dev);
	crypto_identity_free(id);
	sb_buf_free(&idb);
	device_free(&d);
	if (rc != SB_OK)
		return fail(rc, NULL);
	printf("linked as device %llu\n", (unsigned long long)dev);
	return 0;
}

/* link-list: "CODE NAME" per device waiting for this account. */
static int
c_link_list(const struct opts *o)
{
	struct client_link_offer *v = NULL;
	struct device d;
	size_t n = 0, i;
	int rc;

	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	if (rc == SB_OK)
		rc = client_link_list(d.c, &v, &n);
	for (i = 0; rc == SB_OK && i < n; i++)
		printf("%s %s\n", v[i].code, v[i].name);
	free(v);
	device_free(&d);
	return rc == SB_OK ? 0 : fail(rc, NULL);
}

/* link-approve CODE: countersign the device waiting with that code. */
static int
c_link_approve(const struct opts *o, int argc, char **argv)
{
	struct device d;
	uint64_t dev = 0;
	int rc;

	if (argc != 1)
		return usage();
	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	if (rc == SB_OK)
		rc = client_link_approve(d.c, argv[0], &dev, NULL);
	device_free(&d);
	if (rc != SB_OK)
		return fail(rc, NULL);
	printf("approved device %llu\n", (unsigned long long)dev);
	return 0;
}

struct reseal_arg {
	const char *text;
	long size;
	int rounds;
	const char *first_hook;   /* run once, while sealing round 1 */
};

/* Opaque test payloads: "<text> for <device id>", padded with '.' to size. */
static int
reseal(void *arg, const struct client_device *devs, size_t n, struct sb_buf *payloads)
{
	struct reseal_arg *a = arg;
	char head[256];
	size_t i;
	long k;

	a->rounds++;
	/* Lets a test change the directory between the lookup and the send,
	 * the race that makes a device set stale. */
	if (a->rounds == 1 && a->first_hook != NULL && system(a->first_hook) != 0)
		return SB_ERR_INTERNAL;
	for (i = 0; i < n; i++) {
		int hl = snprintf(head, sizeof(head), "%s for %llu", a->text,
		    (unsigned long long)devs[i].id);

		sb_put_bytes(&payloads[i], head, (size_t)hl);
		for (k = hl; k < a->size; k++)
			sb_put_u8(&payloads[i], '.');
	}
	return SB_OK;
}

static size_t
split_list(char *s, const char **v, size_t max)
{
	size_t n = 0;
	char *save = NULL, *t;

	for (t = strtok_r(s, ",", &save); t != NULL && n < max; t = strtok_r(NULL, ",", &save))
		v[n++] = t;
	return n;
}

static int
c_send(const struct opts *o)
{
	struct device d;
	struct reseal_arg ra = { o->text ? o->text : "hello", o->size, 0, o->hook };
	const char *to[SB_MAX_LOOKUP_ADDRS];
	uint8_t msgid[PROTO_MSGID_LEN];
	char tobuf[4096];
	uint64_t ts = 0;
	size_t n_to;
	int rc;

	if (o->to == NULL || parse_msgid(o->msgid, msgid) != SB_OK)
		return usage();
	snprintf(tobuf, sizeof(tobuf), "%s", o->to);
	n_to = split_list(tobuf, to, SB_MAX_LOOKUP_ADDRS);
	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	if (rc == SB_OK && (rc = client_send(d.c, msgid, to, n_to, reseal, &ra, &ts)) != SB_OK)
		print_log_fault(d.c);
	device_free(&d);
	if (rc != SB_OK)
		return fail(rc, NULL);
	printf("accepted ts=%llu rounds=%d\n", (unsigned long long)ts, ra.rounds);
	return 0;
}

/* send-many --count N: N messages over one connection (queue filling). */
static int
c_send_many(const struct opts *o)
{
	struct device d;
	struct reseal_arg ra = { o->text ? o->text : "bulk", o->size, 0, NULL };
	const char *to[SB_MAX_LOOKUP_ADDRS];
	uint8_t msgid[PROTO_MSGID_LEN];
	char tobuf[4096];
	size_t n_to;
	long i;
	int rc;

	if (o->to == NULL || o->count <= 0)
		return usage();
	snprintf(tobuf, sizeof(tobuf), "%s", o->to);
	n_to = split_list(tobuf, to, SB_MAX_LOOKUP_ADDRS);
	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	for (i = 0; rc == SB_OK && i < o->count; i++) {
		if ((rc = crypto_random(msgid, sizeof(msgid))) == SB_OK)
			rc = client_send(d.c, msgid, to, n_to, reseal, &ra, NULL);
		if (rc != SB_OK)
			printf("sent %ld\n", i);   /* how many passed before the refusal */
	}
	device_free(&d);
	if (rc != SB_OK)
		return fail(rc, NULL);
	printf("sent %ld\n", o->count);
	return 0;
}

/* stress --count N --threads-to ADDR: 8 threads share ONE client and each
 * does N rounds of lookup + send + status, concurrently with the pushes
 * the client receives (the agent's multi-threaded use). */
struct stress_arg {
	struct client *c;
	const char *to;
	long rounds;
	int rc;
	long sent;
	long timeout_s;      /* flood: how long one message may keep failing */
};

static void *
stress_thread(void *p)
{
	struct stress_arg *a = p;
	struct reseal_arg ra = { "stress", 0, 0, NULL };
	const char *to[1] = { a->to };
	struct client_lookup *l = NULL;
	struct proto_status_entry *st = NULL;
	uint8_t msgid[PROTO_MSGID_LEN];
	size_t n;
	long i;

	for (i = 0; a->rc == SB_OK && i < a->rounds; i++) {
		if ((a->rc = client_lookup(a->c, to, 1, &l)) != SB_OK)
			break;
		client_lookup_free(l);
		l = NULL;
		if ((a->rc = crypto_random(msgid, sizeof(msgid))) != SB_OK ||
		    (a->rc = client_send(a->c, msgid, to, 1, reseal, &ra, NULL)) != SB_OK)
			break;
		a->sent++;
		if ((a->rc = client_status(a->c, msgid, &st, &n)) != SB_OK)
			break;
		free(st);
		st = NULL;
	}
	return NULL;
}

static int
c_stress(const struct opts *o)
{
	enum { THREADS = 8 };
	struct stress_arg a[THREADS];
	pthread_t t[THREADS];
	struct device d;
	long sent = 0;
	int i, rc;

	if (o->to == NULL || o->count <= 0)
		return usage();
	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	for (i = 0; rc == SB_OK && i < THREADS; i++) {
		a[i] = (struct stress_arg){ d.c, o->to, o->count, SB_OK, 0, 0 };
		if (pthread_create(&t[i], NULL, stress_thread, &a[i]) != 0)
			return fail(SB_ERR_SYSTEM, "pthread_create");
	}
	for (i = 0; rc == SB_OK && i < THREADS; i++) {
		pthread_join(t[i], NULL);
		sent += a[i].sent;
		if (a[i].rc != SB_OK)
			rc = a[i].rc;
	}
	device_free(&d);
	if (rc != SB_OK)
		return fail(rc, NULL);
	printf("sent %ld\n", sent);
	return 0;
}

static int
c_send_raw(const struct opts *o)
{
	struct device d;
	struct client_item items[SB_MAX_BATCH_DEVICES];
	struct client_stale st;
	const char *to[SB_MAX_LOOKUP_ADDRS], *dv[SB_MAX_BATCH_DEVICES];
	uint8_t msgid[PROTO_MSGID_LEN];
	char tobuf[4096], dbuf[4096];
	const char *text = o->text ? o->text : "raw";
	size_t n_to, n_dev, i;
	int rc;

	if (o->to == NULL || o->devices == NULL || parse_msgid(o->msgid, msgid) != SB_OK)
		return usage();
	snprintf(tobuf, sizeof(tobuf), "%s", o->to);
	snprintf(dbuf, sizeof(dbuf), "%s", o->devices);
	n_to = split_list(tobuf, to, SB_MAX_LOOKUP_ADDRS);
	n_dev = split_list(dbuf, dv, SB_MAX_BATCH_DEVICES);
	for (i = 0; i < n_dev; i++) {
		items[i].device_id = strtoull(dv[i], NULL, 10);
		items[i].payload = (const uint8_t *)text;
		items[i].payload_len = strlen(text);
	}
	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	if (rc == SB_OK)
		rc = client_send_batch(d.c, msgid, to, n_to, items, n_dev, NULL, &st);
	if (rc == SB_ERR_STALE_DEVICES) {
		printf("stale missing=");
		for (i = 0; i < st.n_missing; i++)
			printf("%s%llu", i ? "," : "", (unsigned long long)st.missing[i]);
		printf(" extra=");
		for (i = 0; i < st.n_extra; i++)
			printf("%s%llu", i ? "," : "", (unsigned long long)st.extra[i]);
		printf("\n");
		client_stale_clear(&st);
	} else if (rc == SB_OK) {
		printf("accepted\n");
	}
	device_free(&d);
	return rc == SB_OK ? 0 : fail(rc, NULL);
}

/*
 * flood --to ADDR --count N: 8 threads share ONE client (several SENDs in
 * flight on one connection) and send N messages each, riding out relay
 * restarts: a send that fails is sent again with the same message id
 * until the relay answers it (for --timeout seconds).  Prints
 * "accepted MSGID" once per message the relay accepted; "exists" marks
 * one whose earlier attempt had been committed, its answer lost.
 */
static pthread_mutex_t flood_out = PTHREAD_MUTEX_INITIALIZER;

static void *
flood_thread(void *p)
{
	struct stress_arg *a = p;
	struct reseal_arg ra = { "flood", 0, 0, NULL };
	const char *to[1] = { a->to };
	uint8_t msgid[PROTO_MSGID_LEN];
	struct timespec t0, now;
	long i;
	int rc;

	for (i = 0; a->rc == SB_OK && i < a->rounds; i++) {
		if ((a->rc = crypto_random(msgid, sizeof(msgid))) != SB_OK)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while ((rc = client_send(a->c, msgid, to, 1, reseal, &ra, NULL)) != SB_OK &&
		    rc != SB_ERR_EXISTS) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec > a->timeout_s) {
				a->rc = rc;
				break;
			}
			usleep(50000);
		}
		if (a->rc != SB_OK)
			break;
		pthread_mutex_lock(&flood_out);
		printf("accepted ");
		print_hex(stdout, msgid, sizeof(msgid));
		printf("%s\n", rc == SB_ERR_EXISTS ? " exists" : "");
		pthread_mutex_unlock(&flood_out);
		a->sent++;
	}
	return NULL;
}

static int
c_flood(const struct opts *o)
{
	enum { THREADS = 8 };
	struct stress_arg a[THREADS];
	pthread_t t[THREADS];
	struct device d;
	int i, n = 0, rc;

	if (o->to == NULL || o->count <= 0)
		return usage();
	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	for (i = 0; rc == SB_OK && i < THREADS; i++, n++) {
		a[i] = (struct stress_arg){ d.c, o->to, o->count, SB_OK, 0,
		    o->timeout > 0 ? o->timeout : 60 };
		if (pthread_create(&t[i], NULL, flood_thread, &a[i]) != 0)
			return fail(SB_ERR_SYSTEM, "pthread_create");
	}
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		if (a[i].rc != SB_OK)
			rc = a[i].rc;
	}
	device_free(&d);
	return rc == SB_OK ? 0 : fail(rc, NULL);
}

static int
c_recv(const struct opts *o)
{
	struct device d;
	struct qitem *q;
	long got = 0, want = o->until_idle ? LONG_MAX : o->count > 0 ? o->count : 1;
	long tmo = o->timeout > 0 ? o->timeout : 10;
	int rc;

	if (o->stall)
		stall_s = tmo;
	print_got = o->print_acks;
	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	if (rc != SB_OK) {
		device_free(&d);
		return fail(rc, NULL);
	}
	if (o->ready_file != NULL)
		write_file(o->ready_file[0] == '/' ? "" : ".", o->ready_file, "ready\n", 6, 0644);
	fprintf(stderr, "%s: recv: connected as device %llu\n", prog, (unsigned long long)d.id);
	while (got < want && (q = next_push(tmo)) != NULL) {
		flockfile(stdout);   /* one line, whatever on_push prints meanwhile */
		printf("push item=%llu msg=", (unsigned long long)q->p.item_id);
		print_hex(stdout, q->p.msgid, PROTO_MSGID_LEN);
		printf(" from=%s dev=%llu ts=%llu len=%zu payload=%.60s\n", q->sender,
		    (unsigned long long)q->p.sender_device, (unsigned long long)q->p.timestamp,
		    q->p.payload_len, (const char *)q->payload);
		fflush(stdout);
		funlockfile(stdout);
		/* In the agent: store durably first, then acknowledge. */
		rc = o->ack ? client_ack(d.c, q->p.item_id) : SB_OK;
		/* --until-idle rides out relay restarts: an ack lost with the
		 * connection is not an error, the item comes back. */
		if (rc != SB_OK && !o->until_idle) {
			free(q->payload);
			free(q);
			device_free(&d);
			return fail(rc, "ack");
		}
		/* --print-acks: the relay answered the ack, so it has deleted
		 * the item durably; it must never be pushed again. */
		if (o->ack && o->print_acks && rc == SB_OK)
			printf("acked item=%llu\n", (unsigned long long)q->p.item_id);
		free(q->payload);
		free(q);
		got++;
	}
	device_free(&d);
	if (o->until_idle)
		return 0;                    /* quiet for --timeout: done */
	if (o->count == 0)
		return got == 0 ? 0 : 1;     /* --count 0: expect nothing */
	if (got < want) {
		fprintf(stderr, "%s: recv: got %ld of %ld pushes\n", prog, got, want);
		return 1;
	}
	return 0;
}

/* ack ITEM / remove DEVICE: one authenticated request with a u64. */
static int
c_u64_request(const struct opts *o, int argc, char **argv,
    int (*request)(struct client *, uint64_t))
{
	struct device d;
	int rc;

	if (argc != 1)
		return usage();
	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	if (rc == SB_OK && (rc = request(d.c, strtoull(argv[0], NULL, 10))) != SB_OK)
		print_log_fault(d.c);
	device_free(&d);
	return rc == SB_OK ? 0 : fail(rc, NULL);
}

static int
c_status(const struct opts *o)
{
	struct device d;
	struct proto_status_entry *st = NULL;
	uint8_t msgid[PROTO_MSGID_LEN];
	size_t n = 0, i;
	int rc;

	if (parse_msgid(o->msgid, msgid) != SB_OK)
		return usage();
	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	if (rc == SB_OK)
		rc = client_status(d.c, msgid, &st, &n);
	for (i = 0; rc == SB_OK && i < n; i++)
		printf("%llu %s\n", (unsigned long long)st[i].device_id,
		    proto_state_name(st[i].state));
	free(st);
	device_free(&d);
	return rc == SB_OK ? 0 : fail(rc, NULL);
}

static int
c_blob_put(const struct opts *o, int argc, char **argv)
{
	struct device d;
	char uri[SB_MAX_URI + 1];
	struct stat st;
	int fd, rc;

	if (argc != 1)
		return usage();
	if ((fd = open(argv[0], O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0)
		return fail(SB_ERR_SYSTEM, argv[0]);
	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	if (rc == SB_OK)
		rc = client_blob_upload(d.c, fd, o->size > 0 ? (uint64_t)o->size :
		    (uint64_t)st.st_size, uri);
	close(fd);
	device_free(&d);
	fprintf(stderr, "%s: blob-put: VmHWM %ld kB\n", prog, vmhwm_kb());
	if (rc != SB_OK)
		return fail(rc, NULL);
	printf("%s\n", uri);
	return 0;
}

static int
c_blob_get(const struct opts *o, int argc, char **argv)
{
	struct device d;
	uint64_t size = 0;
	int fd, rc;

	if (argc != 2)
		return usage();
	if ((fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return fail(SB_ERR_SYSTEM, argv[1]);
	if ((rc = device_load(o, &d, 1)) == SB_OK)
		rc = device_connect(o, &d);
	if (rc == SB_OK)
		rc = client_blob_download(d.c, argv[0], fd, UINT64_MAX, &size);
	close(fd);
	device_free(&d);
	fprintf(stderr, "%s: blob-get: VmHWM %ld kB\n", prog, vmhwm_kb());
	if (rc != SB_OK)
		return fail(rc, NULL);
	printf("%llu\n", (unsigned long long)size);
	return 0;
}

/* ---- raw TLS: misbehaving peers (no client library) ------------------------ */

static SSL *
raw_connect(const struct opts *o, SSL_CTX **ctxp, int *fdp)
{
	char host[256], *colon;
	struct addrinfo hints, *ai = NULL;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;

	snprintf(host, sizeof(host), "%s", o->relay);
	if ((colon = strrchr(host, ':')) == NULL)
		return NULL;
	*colon = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return NULL;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		freeaddrinfo(ai);
		return NULL;
	}
	freeaddrinfo(ai);
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		SSL_CTX_free(ctx);
		close(fd);
		return NULL;
	}
	*ctxp = ctx;
	*fdp = fd;
	return ssl;
}

/*
 * garbage --kind random|oversize|badtype|truncated|trailing: sends one bad
 * input after the HELLO and reports whether the relay closed the
 * connection within --timeout seconds (exit 0) or not (exit 1).
 */
static int
c_garbage(const struct opts *o)
{
	const char *kind = o->text ? o->text : "random";
	uint8_t buf[4096];
	struct timeval tv = { o->timeout > 0 ? o->timeout : 5, 0 };
	SSL_CTX *ctx = NULL;
	SSL *ssl;
	size_t n = 0;
	int fd = -1, r;

	if ((ssl = raw_connect(o, &ctx, &fd)) == NULL)
		return fail(SB_ERR_NET, "connect");
	/* HELLO is 4+1+4+1+32 bytes */
	if (SSL_read(ssl, buf, 42) <= 0)
		return fail(SB_ERR_PROTOCOL, "no hello");
	memset(buf, 0, sizeof(buf));
	if (strcmp(kind, "random") == 0) {
		FILE *f = fopen("/dev/urandom", "re");

		n = fread(buf, 1, 256, f);
		fclose(f);
		buf[0] = 0xff;   /* make it unmistakably oversized or malformed */
	} else if (strcmp(kind, "oversize") == 0) {
		sb_store_u32be(buf, SB_MAX_FRAME + 1);
		buf[4] = PROTO_PING;
		n = 9;
	} else if (strcmp(kind, "badtype") == 0) {
		sb_store_u32be(buf, 5);
		buf[4] = 0x7e;
		n = 9;
	} else if (strcmp(kind, "trailing") == 0) {
		sb_store_u32be(buf, 6);
		buf[4] = PROTO_PING;
		n = 10;
	} else if (strcmp(kind, "truncated") == 0) {
		/* an AUTH whose signature string claims more than the frame holds */
		sb_store_u32be(buf, 5 + 8 + 1);
		buf[4] = PROTO_AUTH;
		buf[9 + 8] = 70;
		n = 4 + 5 + 8 + 1;
	} else {
		return usage();
	}
	if (SSL_write(ssl, buf, (int)n) <= 0)
		return fail(SB_ERR_NET, "write");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r = SSL_read(ssl, buf, sizeof(buf));
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	if (r > 0) {
		fprintf(stderr, "%s: garbage: relay answered instead of closing\n", prog);
		return 1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		fprintf(stderr, "%s: garbage: relay did not close the connection\n", prog);
		return 1;
	}
	printf("closed\n");
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "relay", required_argument, NULL, 'r' },
		{ "fp", required_argument, NULL, 'f' },
		{ "keys", required_argument, NULL, 'k' },
		{ "address", required_argument, NULL, 'a' },
		{ "code", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "to", required_argument, NULL, 't' },
		{ "msgid", required_argument, NULL, 'm' },
		{ "text", required_argument, NULL, 'x' },
		{ "kind", required_argument, NULL, 'x' },
		{ "devices", required_argument, NULL, 'd' },
		{ "device", required_argument, NULL, 'D' },
		{ "ready-file", required_argument, NULL, 'R' },
		{ "suite", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'C' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "size", required_argument, NULL, 'S' },
		{ "ack", no_argument, NULL, 'A' },
		{ "on-first-seal", required_argument, NULL, 'H' },
		{ "ping", required_argument, NULL, 'P' },
		{ "stall", no_argument, NULL, 'W' },
		{ "print-acks", no_argument, NULL, 'K' },
		{ "until-idle", no_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o;
	int c;

	memset(&o, 0, sizeof(o));
	o.count = -1;
	if (argc < 2)
		return usage();
	cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r': o.relay = optarg; break;
		case 'f': o.fp = optarg; break;
		case 'k': o.keys = optarg; break;
		case 'a': o.address = optarg; break;
		case 'c': o.code = optarg; break;
		case 'n': o.name = optarg; break;
		case 't': o.to = optarg; break;
		case 'm': o.msgid = optarg; break;
		case 'x': o.text = optarg; break;
		case 'd': o.devices = optarg; break;
		case 'D': o.device = optarg; break;
		case 'R': o.ready_file = optarg; break;
		case 's': o.suite = optarg; break;
		case 'C': o.count = atol(optarg); break;
		case 'T': o.timeout = atol(optarg); break;
		case 'S': o.size = atol(optarg); break;
		case 'A': o.ack = 1; break;
		case 'H': o.hook = optarg; break;
		case 'P': o.ping = atol(optarg); break;
		case 'W': o.stall = 1; break;
		case 'K': o.print_acks = 1; break;
		case 'I': o.until_idle = 1; break;
		default: return usage();
		}
	}
	argc -= optind;
	argv += optind;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "keygen") == 0) return c_keygen(&o);
	if (strcmp(cmd, "register") == 0) return c_register(&o);
	if (strcmp(cmd, "lookup") == 0) return c_lookup(&o, argc, argv);
	if (strcmp(cmd, "send") == 0) return c_send(&o);
	if (strcmp(cmd, "send-raw") == 0) return c_send_raw(&o);
	if (strcmp(cmd, "send-many") == 0) return c_send_many(&o);
	if (strcmp(cmd, "stress") == 0) return c_stress(&o);
	if (strcmp(cmd, "flood") == 0) return c_flood(&o);
	if (strcmp(cmd, "recv") == 0) return c_recv(&o);
	if (strcmp(cmd, "ack") == 0) return c_u64_request(&o, argc, argv, client_ack);
	if (strcmp(cmd, "status") == 0) return c_status(&o);
	if (strcmp(cmd, "remove") == 0) return c_u64_request(&o, argc, argv, client_remove);
	if (strcmp(cmd, "blob-put") == 0) return c_blob_put(&o, argc, argv);
	if (strcmp(cmd, "blob-get") == 0) return c_blob_get(&o, argc, argv);
	if (strcmp(cmd, "auth-as") == 0) {
		struct device d;
		int rc;

		if (o.device == NULL)
			return usage();
		if ((rc = device_load(&o, &d, 1)) == SB_OK)
			rc = device_connect(&o, &d);
		device_free(&d);
		return rc == SB_OK ? 0 : fail(rc, NULL);
	}
	if (strcmp(cmd, "garbage") == 0) return c_garbage(&o);
	if (strcmp(cmd, "events") == 0) return c_events(&o, argc, argv);
	if (strcmp(cmd, "log-key") == 0) return c_log_key(&o);
	if (strcmp(cmd, "log-head") == 0) return c_log_head(&o);
	if (strcmp(cmd, "check-head") == 0) return c_check_head(&o, argc, argv);
	if (strcmp(cmd, "link-offer") == 0) return c_link_offer(&o);
	if (strcmp(cmd, "link-list") == 0) return c_link_list(&o);
	if (strcmp(cmd, "link-approve") == 0) return c_link_approve(&o, argc, argv);
	return usage();
}
