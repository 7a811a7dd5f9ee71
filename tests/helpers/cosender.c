/*
 * cosender.c - TEST HELPER: another registered user's device that sends
 * real, correctly sealed and signed messages, with the choices an attacker
 * has and the agent never makes: a message id of its own choosing (one it
 * saw in a group message, say) and attachment descriptors whose blob does
 * not match.  For the co-recipient and flood cases of
 * tests/integration/attack_*.sh.  Not installed, not for users.
 *
 *   cosender --relay H:P --fp FP --keys DIR --to ADDR[,ADDR...]
 *            [--msgid HEX32] [--count N] [--name NAME] [--path C1,C2,...]
 *            [--text TEXT | --bad-blob BYTES | --blob FILE] [--direct]
 *
 * DIR is a key directory made by `relay_client keygen` + `register`
 * (sign.der, identity.der, device_id, address).  Each message is sealed for
 * every device of the recipients (the directory's answer) and its message
 * id is printed, one hex line per message.  --bad-blob uploads one random
 * blob of BYTES and sends attachment descriptors naming it with hashes
 * that do not match; --blob encrypts FILE once (one key, one upload) and
 * names that one blob, correctly, in every message.  --path puts the file
 * in folders (the path extension, docs/PROTOCOL.md 11.1), the components
 * given with ',' between them and written as they are - "..", "a/b",
 * anything - which no sealbox sender can put there: the receiver's checks
 * are what this is for.  --direct looks up the recipients only and
 * submits the batch itself (client_send_batch): what whoever runs the
 * relay can do with a key of their own under a real device id, whose
 * account's log no longer backs it (PROTOCOL.md 14.8: a client_send would
 * refuse its own account's answer).  The sender's account must have no
 * other device.
 *
 * Exit status: 0 ok; the absolute SB_ERR_* on failure; 2 usage.
 */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/message.h"
#include "client/client.h"
#include "common/sberr.h"
#include "crypto/crypto.h"
#include "proto/proto.h"

struct opts {
	const char *relay, *fp, *keys, *to, *msgid, *name, *text, *blob, *path;
	long count, bad_blob;
	int direct;
};

struct seal_arg {
	const struct crypto_key *sign;
	const struct crypto_identity *self;
	const struct sb_buf *plain;
};

/* --path: placeholders of the components' lengths ('Z's) for the encoder. */
static int
path_placeholders(const char *path, struct message *m)
{
	static char zs[256];
	const char *s = path;

	memset(zs, 'Z', sizeof(zs));
	m->depth = 0;
	for (;;) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n == 0 || n > 255 || m->depth == MESSAGE_MAX_DEPTH)
			return SB_ERR_INVALID_ARG;
		m->path[m->depth].p = zs;
		m->path[m->depth++].len = n;
		if (e == NULL)
			return SB_OK;
		s = e + 1;
	}
}

/* Overwrites the placeholders at the end of the encoding with the real
 * component bytes. */
static int
path_patch(const char *path, struct sb_buf *plain)
{
	size_t tail = 0, at;
	const char *s;

	for (s = path; ; s++) {
		const char *e = strchr(s, ',');
		tail += 1 + (e ? (size_t)(e - s) : strlen(s));
		if (e == NULL)
			break;
		s = e;
	}
	if (tail > plain->len)
		return SB_ERR_INTERNAL;
	at = plain->len - tail;
	for (s = path; ; ) {
		const char *e = strchr(s, ',');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		memcpy(plain->d + at + 1, s, n);
		at += 1 + n;
		if (e == NULL)
			return SB_OK;
		s = e + 1;
	}
}

static int
fail(int rc, const char *what)
{
	fprintf(stderr, "cosender: %s: %s\n", what, sb_strerror(rc));
	return rc < 0 && rc > -256 ? -rc : 1;
}

static int
read_all(const char *dir, const char *name, struct sb_buf *out)
{
	char path[PATH_MAX], buf[4096];
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

/* A one-line text file without its newline, NUL-terminated in out. */
static int
read_line(const char *dir, const char *name, char *out, size_t size)
{
	struct sb_buf b = SB_BUF_INIT;
	int rc = read_all(dir, name, &b);

	if (rc == SB_OK && (b.len == 0 || b.len >= size))
		rc = SB_ERR_CONFIG;
	if (rc == SB_OK) {
		memcpy(out, b.d, b.len);
		out[b.len] = '\0';
		out[strcspn(out, "\n")] = '\0';
	}
	sb_buf_free(&b);
	return rc;
}

static int
reseal(void *arg, const struct client_device *devs, size_t n, struct sb_buf *payloads)
{
	const struct seal_arg *s = arg;
	struct crypto_identity *rid = NULL;
	size_t i;
	int rc = SB_OK;

	for (i = 0; rc == SB_OK && i < n; i++) {
		rc = crypto_identity_parse(devs[i].identity, devs[i].identity_len, &rid);
		if (rc == SB_OK)
			rc = crypto_seal(s->sign, s->self, rid, s->plain->d, s->plain->len,
			    &payloads[i]);
		crypto_identity_free(rid);
		rid = NULL;
	}
	return rc;
}

/* --direct: the recipients' devices only, sealed and submitted as one batch. */
static int
send_direct(struct client *c, const uint8_t id[MESSAGE_ID_LEN], const char *const *to,
    size_t n_to, const struct seal_arg *sa)
{
	struct client_lookup *l = NULL;
	struct client_item items[SB_MAX_BATCH_DEVICES];
	struct sb_buf payloads[SB_MAX_BATCH_DEVICES];
	size_t i;
	int rc = client_lookup(c, to, n_to, &l);

	if (rc != SB_OK)
		return rc;
	if (l->n > SB_MAX_BATCH_DEVICES) {
		client_lookup_free(l);
		return SB_ERR_TOO_BIG;
	}
	for (i = 0; i < l->n; i++)
		payloads[i] = (struct sb_buf)SB_BUF_INIT;
	rc = reseal((void *)sa, l->devices, l->n, payloads);
	for (i = 0; rc == SB_OK && i < l->n; i++)
		items[i] = (struct client_item){ .device_id = l->devices[i].id,
		    .payload = payloads[i].d, .payload_len = payloads[i].len };
	if (rc == SB_OK)
		rc = client_send_batch(c, id, to, n_to, items, l->n, NULL, NULL);
	for (i = 0; i < l->n; i++)
		sb_buf_free(&payloads[i]);
	client_lookup_free(l);
	return rc;
}

static int
hex_id(const char *hex, uint8_t id[MESSAGE_ID_LEN])
{
	unsigned v;
	size_t i;

	if (strlen(hex) != 2 * MESSAGE_ID_LEN)
		return SB_ERR_INVALID_ARG;
	for (i = 0; i < MESSAGE_ID_LEN; i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return SB_ERR_INVALID_ARG;
		id[i] = (uint8_t)v;
	}
	return SB_OK;
}

/* Uploads BYTES random bytes; uri receives the blob's URI. */
static int
upload_random(struct client *c, long bytes, char uri[SB_MAX_URI + 1])
{
	char path[] = "/tmp/cosender.XXXXXX";
	uint8_t buf[65536];
	long left = bytes;
	int fd = mkstemp(path), rc = SB_OK;

	if (fd < 0)
		return SB_ERR_SYSTEM;
	unlink(path);
	while (rc == SB_OK && left > 0) {
		size_t k = left < (long)sizeof(buf) ? (size_t)left : sizeof(buf);
		rc = crypto_random(buf, k);
		if (rc == SB_OK && write(fd, buf, k) != (ssize_t)k)
			rc = SB_ERR_SYSTEM;
		left -= (long)k;
	}
	if (rc == SB_OK && lseek(fd, 0, SEEK_SET) != 0)
		rc = SB_ERR_SYSTEM;
	if (rc == SB_OK)
		rc = client_blob_upload(c, fd, (uint64_t)bytes, uri);
	close(fd);
	return rc;
}

/* Encrypts FILE under a fresh key into an unnamed file, uploads it and
 * fills the descriptor (key, hashes, size; uri is the caller's buffer). */
static int
upload_file(struct client *c, const char *file, struct message_attachment *att,
    char uri[SB_MAX_URI + 1])
{
	char path[] = "/tmp/cosender.XXXXXX";
	struct crypto_hasher *h = NULL;
	uint8_t buf[65536];
	uint64_t off = 0;
	ssize_t n;
	int in = open(file, O_RDONLY | O_CLOEXEC), fd = mkstemp(path), rc;

	if (in < 0 || fd < 0)
		return SB_ERR_SYSTEM;
	unlink(path);
	rc = crypto_attach_key_generate(att->key);
	if (rc == SB_OK)
		rc = crypto_hasher_new(&h);
	while (rc == SB_OK && (n = read(in, buf, sizeof(buf))) > 0) {
		rc = crypto_attach_xor(att->key, off, buf, buf, (size_t)n);
		if (rc == SB_OK)
			rc = crypto_hasher_update(h, buf, (size_t)n);
		if (rc == SB_OK && write(fd, buf, (size_t)n) != n)
			rc = SB_ERR_SYSTEM;
		off += (uint64_t)n;
	}
	if (rc == SB_OK)
		rc = crypto_hasher_final(h, att->sha1, att->sha256);
	if (rc == SB_OK && lseek(fd, 0, SEEK_SET) != 0)
		rc = SB_ERR_SYSTEM;
	if (rc == SB_OK)
		rc = client_blob_upload(c, fd, off, uri);
	att->size = off;
	att->uri.p = uri;
	att->uri.len = strlen(uri);
	crypto_hasher_free(h);
	close(in);
	close(fd);
	return rc;
}

static int
run(const struct opts *o)
{
	struct crypto_key *sign = NULL;
	struct crypto_identity *self = NULL;
	struct client *c = NULL;
	struct client_config cfg;
	struct sb_buf der = SB_BUF_INIT, plain = SB_BUF_INIT;
	struct message m;
	struct message_attachment att;
	struct seal_arg sa;
	char address[SB_MAX_ADDRESS + 1], idtext[32], uri[SB_MAX_URI + 1] = "";
	char tobuf[1024], *save = NULL, *to[SB_MAX_LOOKUP_ADDRS];
	char hex[2 * MESSAGE_ID_LEN + 1];
	uint8_t id[MESSAGE_ID_LEN];
	size_t n_to = 0;
	long k;
	int rc;

	rc = read_all(o->keys, "sign.der", &der);
	if (rc == SB_OK)
		rc = crypto_key_from_pkcs8_der(der.d, der.len, &sign);
	sb_buf_free(&der);
	if (rc == SB_OK)
		rc = read_all(o->keys, "identity.der", &der);
	if (rc == SB_OK)
		rc = crypto_identity_parse(der.d, der.len, &self);
	sb_buf_free(&der);
	if (rc == SB_OK)
		rc = read_line(o->keys, "address", address, sizeof(address));
	if (rc == SB_OK)
		rc = read_line(o->keys, "device_id", idtext, sizeof(idtext));
	if (rc != SB_OK)
		return fail(rc, "keys");

	memset(&cfg, 0, sizeof(cfg));
	if (client_parse_fingerprint(o->fp, cfg.fingerprint) != SB_OK)
		return fail(SB_ERR_INVALID_ARG, "--fp");
	cfg.relay = o->relay;
	cfg.sign_key = sign;
	cfg.address = address;
	cfg.device_id = strtoull(idtext, NULL, 10);
	cfg.backoff_min_ms = 100;
	cfg.backoff_max_ms = 1000;
	if ((rc = client_new(&cfg, &c)) == SB_OK)
		rc = client_wait_ready(c, 10000);
	if (rc != SB_OK)
		return fail(rc, "connect");

	snprintf(tobuf, sizeof(tobuf), "%s", o->to);
	for (char *t = strtok_r(tobuf, ",", &save); t && n_to < SB_MAX_LOOKUP_ADDRS - 1;
	    t = strtok_r(NULL, ",", &save))
		to[n_to++] = t;
	if (o->bad_blob > 0 && (rc = upload_random(c, o->bad_blob, uri)) != SB_OK)
		return fail(rc, "blob upload");
	memset(&att, 0, sizeof(att));
	if (o->blob != NULL && (rc = upload_file(c, o->blob, &att, uri)) != SB_OK)
		return fail(rc, "blob upload");

	sa.sign = sign;
	sa.self = self;
	sa.plain = &plain;
	for (k = 0; rc == SB_OK && k < o->count; k++) {
		memset(&m, 0, sizeof(m));
		rc = o->msgid ? hex_id(o->msgid, id) : crypto_random(id, sizeof(id));
		if (rc != SB_OK)
			break;
		memcpy(m.id, id, sizeof(id));
		m.timestamp = (uint64_t)time(NULL);
		m.sender.p = address;
		m.sender.len = strlen(address);
		m.n_recipients = n_to;
		for (size_t i = 0; i < n_to; i++) {
			m.recipients[i].p = to[i];
			m.recipients[i].len = strlen(to[i]);
		}
		message_sort_recipients(&m);
		m.folder.p = o->to;
		m.folder.len = strlen(o->to);
		m.name.p = o->name;
		m.name.len = strlen(o->name);
		m.mtime_sec = m.timestamp;
		if (o->blob != NULL) {
			m.kind = MESSAGE_ATTACHMENT;
			m.att = att;
		} else if (o->bad_blob > 0) {
			m.kind = MESSAGE_ATTACHMENT;
			rc = crypto_attach_key_generate(m.att.key);
			m.att.uri.p = uri;
			m.att.uri.len = strlen(uri);
			memset(m.att.sha1, 0x5a, sizeof(m.att.sha1));     /* never the blob's */
			memset(m.att.sha256, 0x5a, sizeof(m.att.sha256));
			m.att.size = (uint64_t)o->bad_blob;
		} else {
			m.kind = MESSAGE_INLINE;
			m.content = (const uint8_t *)o->text;
			m.content_len = strlen(o->text);
		}
		sb_buf_truncate(&plain, 0);
		if (rc == SB_OK && o->path != NULL)
			rc = path_placeholders(o->path, &m);
		if (rc == SB_OK)
			rc = message_encode(&m, &plain);
		/* The encoder takes only good names: the placeholders it wrote
		 * (the path extension is the last field) become the real ones. */
		if (rc == SB_OK && o->path != NULL)
			rc = path_patch(o->path, &plain);
		if (rc == SB_OK && o->direct)
			rc = send_direct(c, id, (const char *const *)to, n_to, &sa);
		else if (rc == SB_OK)
			rc = client_send(c, id, (const char *const *)to, n_to, reseal, &sa, NULL);
		if (rc == SB_OK) {
			sb_hex(id, sizeof(id), hex);
			printf("%s\n", hex);
		}
	}
	fflush(stdout);
	sb_buf_free(&plain);
	client_free(c);
	crypto_identity_free(self);
	crypto_key_free(sign);
	return rc == SB_OK ? 0 : fail(rc, "send");
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "relay", required_argument, NULL, 'r' },
		{ "fp", required_argument, NULL, 'f' },
		{ "keys", required_argument, NULL, 'k' },
		{ "to", required_argument, NULL, 't' },
		{ "msgid", required_argument, NULL, 'm' },
		{ "count", required_argument, NULL, 'n' },
		{ "name", required_argument, NULL, 'N' },
		{ "text", required_argument, NULL, 'x' },
		{ "bad-blob", required_argument, NULL, 'b' },
		{ "blob", required_argument, NULL, 'B' },
		{ "path", required_argument, NULL, 'P' },
		{ "direct", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { .count = 1, .name = "note.txt", .text = "hello" };
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'r': o.relay = optarg; break;
		case 'f': o.fp = optarg; break;
		case 'k': o.keys = optarg; break;
		case 't': o.to = optarg; break;
		case 'm': o.msgid = optarg; break;
		case 'n': o.count = strtol(optarg, NULL, 10); break;
		case 'N': o.name = optarg; break;
		case 'x': o.text = optarg; break;
		case 'b': o.bad_blob = strtol(optarg, NULL, 10); break;
		case 'B': o.blob = optarg; break;
		case 'P': o.path = optarg; break;
		case 'D': o.direct = 1; break;
		default: return 2;
		}
	}
	if (o.relay == NULL || o.fp == NULL || o.keys == NULL || o.to == NULL ||
	    o.count < 1 || o.bad_blob < 0) {
		fprintf(stderr, "usage: cosender --relay H:P --fp FP --keys DIR --to ADDR[,ADDR]"
		    " [--msgid HEX] [--count N] [--name NAME] [--path C1,C2,...]"
		    " [--text T | --bad-blob BYTES | --blob FILE] [--direct]\n");
		return 2;
	}
	return run(&o);
}
