/*
 * setup.c - the relay's on-disk setup: relay.conf, the TLS key and
 * self-signed certificate, `init` and `invite` (docs/RELAY.md).
 *
 * The store is SQLite in DIR/relay.db unless relay.conf names a
 * PostgreSQL URI (store = postgresql://...; a cluster's shared store).
 * The TLS private key is written once, with O_EXCL and mode 0600, and read
 * back only by the TLS context; nothing else of it is ever stored.
 * Enrollment codes are stored as SHA-256 hashes, never in clear.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <libpq-fe.h>

#include "../common/durable.h"
#include "../common/sberr.h"
#include "../proto/proto.h"
#include "relay.h"
#include "store.h"

static char why_buf[320];

const char *
relay_why(void)
{
	return why_buf;
}

void
relay_config_defaults(struct relay_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	relay_parse_hostport(RELAY_DEFAULT_LISTEN, cfg->host, &cfg->port);
	cfg->inline_limit = RELAY_DEFAULT_INLINE;
	cfg->retention_days = RELAY_DEFAULT_RETENTION;
	cfg->blob_max = RELAY_DEFAULT_BLOB_MAX;
	cfg->quota_queue_bytes = RELAY_DEFAULT_Q_BYTES;
	cfg->quota_queue_items = RELAY_DEFAULT_Q_ITEMS;
	cfg->quota_blob_bytes = RELAY_DEFAULT_BLOB_QUOTA;
	cfg->device_queue_items = RELAY_DEFAULT_DEV_ITEMS;
	cfg->send_rate = RELAY_DEFAULT_SEND_RATE;
	cfg->send_burst = RELAY_DEFAULT_SEND_BURST;
	cfg->lookup_rate = RELAY_DEFAULT_LOOKUP_RATE;
	cfg->lookup_burst = RELAY_DEFAULT_LOOKUP_BURST;
	cfg->max_unauth = RELAY_DEFAULT_MAX_UNAUTH;
	cfg->max_unauth_per_ip = RELAY_DEFAULT_UNAUTH_PER_IP;
}

static int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (s == NULL || *s < '0' || *s > '9')
		return SB_ERR_INVALID_ARG;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || x < min || x > max)
		return SB_ERR_INVALID_ARG;
	*v = x;
	return SB_OK;
}

int
relay_parse_hostport(const char *s, char host[RELAY_MAX_HOST + 1], uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	uint64_t p;
	size_t hl;

	host[0] = '\0';
	*port = 0;
	if (colon == NULL || colon == s)
		return SB_ERR_INVALID_ARG;
	hl = (size_t)(colon - s);
	if (hl > RELAY_MAX_HOST || parse_u64(colon + 1, 1, 65535, &p) != SB_OK)
		return SB_ERR_INVALID_ARG;
	memcpy(host, s, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return SB_OK;
}

static int
path_join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? SB_ERR_INVALID_ARG : SB_OK;
}

/* The quota and rate keys: byte and item counts up to 2^62 (sums of them
 * never overflow a u64), rates and connection caps 1..1000000. */
static int
limit_line(struct relay_config *cfg, const char *k, const char *v)
{
	struct { const char *key; uint64_t *u64; unsigned *u; } t[] = {
		{ "quota_queue_bytes", &cfg->quota_queue_bytes, NULL },
		{ "quota_queue_items", &cfg->quota_queue_items, NULL },
		{ "quota_blob_bytes", &cfg->quota_blob_bytes, NULL },
		{ "device_queue_items", &cfg->device_queue_items, NULL },
		{ "send_rate", NULL, &cfg->send_rate },
		{ "send_burst", NULL, &cfg->send_burst },
		{ "lookup_rate", NULL, &cfg->lookup_rate },
		{ "lookup_burst", NULL, &cfg->lookup_burst },
		{ "max_unauth", NULL, &cfg->max_unauth },
		{ "max_unauth_per_ip", NULL, &cfg->max_unauth_per_ip },
	};
	uint64_t x;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(k, t[i].key) != 0)
			continue;
		if (parse_u64(v, 1, t[i].u64 ? (1ull << 62) : 1000000u, &x) != SB_OK)
			return SB_ERR_CONFIG;
		if (t[i].u64)
			*t[i].u64 = x;
		else
			*t[i].u = (unsigned)x;
		return SB_OK;
	}
	return SB_ERR_CONFIG;
}

static int
config_line(struct relay_config *cfg, char *line)
{
	char *eq = strchr(line, '='), *k = line, *v, *e;
	uint64_t x;

	if (eq == NULL)
		return SB_ERR_CONFIG;
	*eq = '\0';
	v = eq + 1;
	while (*k == ' ' || *k == '\t') k++;
	for (e = eq; e > k && (e[-1] == ' ' || e[-1] == '\t'); e--) e[-1] = '\0';
	while (*v == ' ' || *v == '\t') v++;
	for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	    e[-1] == '\r'); e--) e[-1] = '\0';
	if (strcmp(k, "listen") == 0)
		return relay_parse_hostport(v, cfg->host, &cfg->port) == SB_OK ? SB_OK : SB_ERR_CONFIG;
	if (strcmp(k, "inline_limit") == 0) {
		if (parse_u64(v, 0, 1u << 20, &x) != SB_OK || (x != 4096 && x != 16384))
			return SB_ERR_CONFIG;
		cfg->inline_limit = (unsigned)x;
		return SB_OK;
	}
	if (strcmp(k, "retention_days") == 0) {
		if (parse_u64(v, 1, 3650, &x) != SB_OK)
			return SB_ERR_CONFIG;
		cfg->retention_days = (unsigned)x;
		return SB_OK;
	}
	if (strcmp(k, "blob_max") == 0)
		return parse_u64(v, 1, UINT64_MAX >> 1, &cfg->blob_max) == SB_OK ? SB_OK : SB_ERR_CONFIG;
	if (strcmp(k, "store") == 0) {
		if (relay_store_valid(v) != SB_OK)
			return SB_ERR_CONFIG;
		memcpy(cfg->store, v, strlen(v) + 1);   /* length checked */
		return SB_OK;
	}
	return limit_line(cfg, k, v);
}

int
relay_config_load(const char *datadir, struct relay_config *cfg)
{
	char path[PATH_MAX], line[RELAY_MAX_STORE + 64];
	FILE *f;
	int rc = SB_OK;

	relay_config_defaults(cfg);
	if (path_join(path, sizeof(path), datadir, "relay.conf") != SB_OK)
		return SB_ERR_CONFIG;
	if ((f = fopen(path, "re")) == NULL)
		return SB_ERR_CONFIG;
	while (rc == SB_OK && fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		rc = config_line(cfg, line);
	}
	fclose(f);
	return rc;
}

int
relay_config_save(const char *datadir, const struct relay_config *cfg)
{
	char path[PATH_MAX];
	FILE *f;
	int fd, rc;

	if (path_join(path, sizeof(path), datadir, "relay.conf") != SB_OK)
		return SB_ERR_INVALID_ARG;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? SB_ERR_EXISTS : SB_ERR_SYSTEM;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return SB_ERR_SYSTEM;
	}
	fprintf(f, "# sealbox-relay configuration, written by `sealbox-relay init`.\n"
	    "listen = %s:%u\ninline_limit = %u\nretention_days = %u\nblob_max = %llu\n",
	    cfg->host, cfg->port, cfg->inline_limit, cfg->retention_days,
	    (unsigned long long)cfg->blob_max);
	fprintf(f, "# Per sending account: what it queued or uploaded, not yet acked or expired.\n"
	    "quota_queue_bytes = %llu\nquota_queue_items = %llu\nquota_blob_bytes = %llu\n"
	    "# Per recipient device: its queue, whoever sent.\ndevice_queue_items = %llu\n"
	    "# Token buckets per device: SENDs, and looked-up addresses, per second.\n"
	    "send_rate = %u\nsend_burst = %u\nlookup_rate = %u\nlookup_burst = %u\n"
	    "# Connections that have not authenticated yet, overall and per source address.\n"
	    "max_unauth = %u\nmax_unauth_per_ip = %u\n",
	    (unsigned long long)cfg->quota_queue_bytes, (unsigned long long)cfg->quota_queue_items,
	    (unsigned long long)cfg->quota_blob_bytes, (unsigned long long)cfg->device_queue_items,
	    cfg->send_rate, cfg->send_burst, cfg->lookup_rate, cfg->lookup_burst,
	    cfg->max_unauth, cfg->max_unauth_per_ip);
	if (cfg->store[0] != '\0')
		fprintf(f, "# The PostgreSQL store this node shares with the other nodes of its\n"
		    "# cluster (docs/RELAY.md); this file is 0600 as the URI may hold a password.\n"
		    "store = %s\n", cfg->store);
	rc = fflush(f) == 0 && fsync(fd) == 0 ? SB_OK : SB_ERR_SYSTEM;
	fclose(f);
	return rc;
}

int
relay_store_valid(const char *store)
{
	PQconninfoOption *o;
	const char *c;
	char *err = NULL;

	if (strlen(store) > RELAY_MAX_STORE ||
	    (strncmp(store, "postgresql://", 13) != 0 && strncmp(store, "postgres://", 11) != 0))
		return SB_ERR_INVALID_ARG;
	for (c = store; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return SB_ERR_INVALID_ARG;
	if ((o = PQconninfoParse(store, &err)) == NULL) {
		PQfreemem(err);
		return SB_ERR_INVALID_ARG;
	}
	PQconninfoFree(o);
	return SB_OK;
}

/* ---- TLS key and certificate --------------------------------------------- */

static int
write_pem_key(const char *path, EVP_PKEY *pk)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	BIO *b;
	int ok;

	if (fd < 0)
		return errno == EEXIST ? SB_ERR_EXISTS : SB_ERR_SYSTEM;
	if ((b = BIO_new_fd(fd, BIO_NOCLOSE)) == NULL) {
		close(fd);
		return SB_ERR_CRYPTO;
	}
	ok = PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) == 1 &&
	    BIO_flush(b) == 1;
	BIO_free(b);
	if (ok && fsync(fd) != 0)
		ok = 0;
	close(fd);
	return ok ? SB_OK : SB_ERR_CRYPTO;
}

static int
write_pem_cert(const char *path, X509 *x)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	BIO *b;
	int ok;

	if (fd < 0)
		return errno == EEXIST ? SB_ERR_EXISTS : SB_ERR_SYSTEM;
	if ((b = BIO_new_fd(fd, BIO_NOCLOSE)) == NULL) {
		close(fd);
		return SB_ERR_CRYPTO;
	}
	ok = PEM_write_bio_X509(b, x) == 1 && BIO_flush(b) == 1;
	BIO_free(b);
	if (ok && fsync(fd) != 0)
		ok = 0;
	close(fd);
	return ok ? SB_OK : SB_ERR_CRYPTO;
}

static X509 *
make_cert(EVP_PKEY *pk)
{
	X509 *x = X509_new();
	X509_NAME *name;
	uint64_t serial;

	if (x == NULL)
		return NULL;
	if (RAND_bytes((unsigned char *)&serial, sizeof(serial)) != 1)
		goto fail;
	serial >>= 1;   /* a positive INTEGER */
	name = X509_get_subject_name(x);
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial | 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	        (const unsigned char *)"sealbox-relay", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_set_pubkey(x, pk) != 1 ||
	    X509_sign(x, pk, EVP_sha256()) <= 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

static int
cert_fp(X509 *x, uint8_t fp[RELAY_FP_LEN])
{
	unsigned int n = 0;

	if (X509_digest(x, EVP_sha256(), fp, &n) != 1 || n != RELAY_FP_LEN)
		return SB_ERR_CRYPTO;
	return SB_OK;
}

/* A fresh P-256 key and its self-signed certificate into DIR/tls/KEY and
 * DIR/tls/CERT (both O_EXCL; the key 0600), the certificate last. */
static int
tls_make(const char *datadir, const char *key, const char *cert, uint8_t fp[RELAY_FP_LEN])
{
	char dir[PATH_MAX], path[PATH_MAX];
	EVP_PKEY *pk;
	X509 *x = NULL;
	int rc;

	if (path_join(dir, sizeof(dir), datadir, "tls") != SB_OK)
		return SB_ERR_INVALID_ARG;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return SB_ERR_SYSTEM;
	if ((pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		return SB_ERR_CRYPTO;
	rc = (x = make_cert(pk)) == NULL ? SB_ERR_CRYPTO : SB_OK;
	if (rc == SB_OK)
		rc = path_join(path, sizeof(path), dir, key);
	if (rc == SB_OK)
		rc = write_pem_key(path, pk);
	if (rc == SB_OK)
		rc = path_join(path, sizeof(path), dir, cert);
	if (rc == SB_OK)
		rc = write_pem_cert(path, x);
	if (rc == SB_OK && (rc = sb_fsync_dir(dir)) != SB_OK)
		rc = SB_ERR_SYSTEM;
	if (rc == SB_OK)
		rc = cert_fp(x, fp);
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

int
relay_tls_create(const char *datadir, uint8_t fp[RELAY_FP_LEN])
{
	return tls_make(datadir, "key.pem", "cert.pem", fp);
}

/* The fingerprint of DIR/NAME, a certificate: SB_ERR_NOT_FOUND when
 * there is no such file, SB_ERR_CONFIG when it does not read. */
static int
file_fp(const char *datadir, const char *name, uint8_t fp[RELAY_FP_LEN])
{
	char path[PATH_MAX];
	FILE *f;
	X509 *x;
	int rc;

	if (path_join(path, sizeof(path), datadir, name) != SB_OK)
		return SB_ERR_INVALID_ARG;
	if ((f = fopen(path, "re")) == NULL)
		return errno == ENOENT ? SB_ERR_NOT_FOUND : SB_ERR_CONFIG;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return SB_ERR_CONFIG;
	rc = cert_fp(x, fp);
	X509_free(x);
	return rc;
}

int
relay_tls_fingerprint(const char *datadir, uint8_t fp[RELAY_FP_LEN])
{
	int rc = file_fp(datadir, "tls/cert.pem", fp);

	return rc == SB_ERR_NOT_FOUND ? SB_ERR_CONFIG : rc;
}

int
relay_tls_next_fingerprint(const char *datadir, uint8_t fp[RELAY_FP_LEN])
{
	return file_fp(datadir, "tls/" RELAY_NEXT_CERT, fp);
}

/* SB_OK (and the fingerprint) when DIR/KEY is the key of DIR/CERT. */
static int
pair_check(const char *datadir, const char *key, const char *cert, uint8_t fp[RELAY_FP_LEN])
{
	char path[PATH_MAX];
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	FILE *f;
	int rc;

	if (path_join(path, sizeof(path), datadir, cert) != SB_OK)
		return SB_ERR_INVALID_ARG;
	if ((f = fopen(path, "re")) != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (path_join(path, sizeof(path), datadir, key) != SB_OK) {
		X509_free(x);
		return SB_ERR_INVALID_ARG;
	}
	if ((f = fopen(path, "re")) != NULL) {
		pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (x == NULL || pk == NULL)
		rc = SB_ERR_CONFIG;
	else if (X509_check_private_key(x, pk) != 1)
		rc = SB_ERR_TLS;
	else
		rc = cert_fp(x, fp);
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

int
relay_tls_check(const char *datadir, uint8_t fp[RELAY_FP_LEN])
{
	return pair_check(datadir, "tls/key.pem", "tls/cert.pem", fp);
}

int
relay_tls_rotate(const char *datadir, uint8_t fp[RELAY_FP_LEN])
{
	char path[PATH_MAX];
	struct relay_config cfg;
	int rc;

	if ((rc = relay_config_load(datadir, &cfg)) != SB_OK)
		return rc;
	if ((rc = file_fp(datadir, "tls/" RELAY_NEXT_CERT, fp)) != SB_ERR_NOT_FOUND)
		return rc == SB_OK ? SB_ERR_EXISTS : rc;
	/* A key without its certificate is what a crash between the two
	 * writes leaves: never announced, so it may go. */
	if (path_join(path, sizeof(path), datadir, "tls/" RELAY_NEXT_KEY) != SB_OK)
		return SB_ERR_INVALID_ARG;
	if (unlink(path) != 0 && errno != ENOENT)
		return SB_ERR_SYSTEM;
	return tls_make(datadir, RELAY_NEXT_KEY, RELAY_NEXT_CERT, fp);
}

/* Renames DIR/tls/FROM over DIR/tls/TO; a missing FROM is done already. */
static int
tls_promote(const char *datadir, const char *from, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX];

	if (path_join(a, sizeof(a), datadir, from) != SB_OK ||
	    path_join(b, sizeof(b), datadir, to) != SB_OK)
		return SB_ERR_INVALID_ARG;
	return rename(a, b) == 0 || errno == ENOENT ? SB_OK : SB_ERR_SYSTEM;
}

int
relay_tls_switch(const char *datadir, uint8_t fp[RELAY_FP_LEN])
{
	char dir[PATH_MAX];
	struct relay_config cfg;
	int rc;

	if ((rc = relay_config_load(datadir, &cfg)) != SB_OK)
		return rc;
	rc = pair_check(datadir, "tls/" RELAY_NEXT_KEY, "tls/" RELAY_NEXT_CERT, fp);
	if (rc == SB_ERR_CONFIG) {
		/* No pair: nothing pending, or a switch interrupted after the
		 * key's rename (finish it: the new key is key.pem already). */
		if ((rc = file_fp(datadir, "tls/" RELAY_NEXT_CERT, fp)) != SB_OK)
			return rc;
	} else if (rc != SB_OK) {
		return rc;
	}
	/* Key first: an interrupted switch leaves the new key with the old
	 * certificate, which serve refuses to start with and the next
	 * --switch completes; never the reverse (a certificate served
	 * without its key). */
	if ((rc = tls_promote(datadir, "tls/" RELAY_NEXT_KEY, "tls/key.pem")) != SB_OK ||
	    (rc = tls_promote(datadir, "tls/" RELAY_NEXT_CERT, "tls/cert.pem")) != SB_OK)
		return rc;
	if (path_join(dir, sizeof(dir), datadir, "tls") != SB_OK || sb_fsync_dir(dir) != SB_OK)
		return SB_ERR_SYSTEM;
	return relay_tls_check(datadir, fp);
}

/* ---- init and invite ----------------------------------------------------- */

int
relay_store_open_config(const char *datadir, const struct relay_config *cfg,
    struct relay_store **s)
{
	char path[PATH_MAX], why[256];
	int rc;

	why_buf[0] = '\0';
	if (cfg->store[0] != '\0') {
		if ((rc = relay_store_open_pg(cfg->store, s, why, sizeof(why))) != SB_OK)
			snprintf(why_buf, sizeof(why_buf), "PostgreSQL store: %s",
			    why[0] ? why : sb_strerror(rc));
		return rc;
	}
	if (path_join(path, sizeof(path), datadir, "relay.db") != SB_OK)
		return SB_ERR_INVALID_ARG;
	return relay_store_open_sqlite(path, s);
}

/* The store DIR's relay.conf names; SQLite in DIR/relay.db where it names
 * none or is not there yet (restore opens the copied database first). */
int
relay_store_open_dir(const char *datadir, struct relay_store **s)
{
	struct relay_config cfg;

	if (relay_config_load(datadir, &cfg) != SB_OK)
		cfg.store[0] = '\0';
	return relay_store_open_config(datadir, &cfg, s);
}

int
relay_init(const char *datadir, const struct relay_config *cfg, uint8_t fp[RELAY_FP_LEN])
{
	char path[PATH_MAX];
	struct relay_store *s;
	uint8_t log_fp[RELAY_FP_LEN];
	struct stat st;
	int rc;

	if (mkdir(datadir, 0700) != 0 && errno != EEXIST)
		return SB_ERR_SYSTEM;
	if (path_join(path, sizeof(path), datadir, "relay.conf") != SB_OK)
		return SB_ERR_INVALID_ARG;
	if (stat(path, &st) == 0)
		return SB_ERR_EXISTS;
	if (path_join(path, sizeof(path), datadir, "blobs") != SB_OK ||
	    (mkdir(path, 0700) != 0 && errno != EEXIST))
		return SB_ERR_SYSTEM;
	if (path_join(path, sizeof(path), datadir, "blobs/tmp") != SB_OK ||
	    (mkdir(path, 0700) != 0 && errno != EEXIST))
		return SB_ERR_SYSTEM;
	/* The store before the key: a database that cannot be reached
	 * leaves nothing that would stop `init` from being run again. */
	if ((rc = relay_store_open_config(datadir, cfg, &s)) != SB_OK)
		return rc;
	relay_store_close(s);
	if ((rc = relay_tls_create(datadir, fp)) != SB_OK)
		return rc;
	if ((rc = relay_dirlog_key_create(datadir, log_fp)) != SB_OK)
		return rc;
	/* The config goes last: its presence means "initialised". */
	return relay_config_save(datadir, cfg);
}

int
relay_invite(const char *datadir, const char *address, char code[RELAY_CODE_MAX])
{
	static const char hex[] = "0123456789abcdef";
	struct relay_config cfg;
	struct relay_store *s;
	uint8_t rnd[10], hash[RELAY_CODE_HASH_LEN];
	size_t i, o = 0;
	int rc;

	code[0] = '\0';
	if (proto_address_valid((const uint8_t *)address, strlen(address)) != SB_OK)
		return SB_ERR_INVALID_ARG;
	if ((rc = relay_config_load(datadir, &cfg)) != SB_OK)
		return rc;
	/* 80 random bits, shown as 5 groups of 4 hex digits.  Single use and
	 * tried at most a few times per connection, so 80 bits is ample. */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return SB_ERR_CRYPTO;
	for (i = 0; i < sizeof(rnd); i++) {
		if (i > 0 && i % 2 == 0)
			code[o++] = '-';
		code[o++] = hex[rnd[i] >> 4];
		code[o++] = hex[rnd[i] & 15];
	}
	code[o] = '\0';
	OPENSSL_cleanse(rnd, sizeof(rnd));
	if (EVP_Digest(code, o, hash, NULL, EVP_sha256(), NULL) != 1)
		return SB_ERR_CRYPTO;
	if ((rc = relay_store_open_config(datadir, &cfg, &s)) != SB_OK)
		return rc;
	rc = s->ops->invite_add(s, address, hash, (uint64_t)time(NULL));
	relay_store_close(s);
	if (rc != SB_OK)
		code[0] = '\0';
	return rc;
}
