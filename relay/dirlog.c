/*
 * dirlog.c - the relay's side of the transparency log (docs/PROTOCOL.md
 * section 14): the log key (DIR/tls/log-key.pem, its own P-256 key, never
 * the TLS one), and an in-memory Merkle tree over the store's leaf hashes
 * from which serve signs tree heads and answers proofs.
 *
 * The store is the truth: its log table is appended to by the directory
 * changes themselves (store.h), from serve and from the operator's
 * commands alike, so before every answer the tree catches up with the
 * store's size (new leaves only; entries never change).  A store smaller
 * than the tree (a restore from an older backup) is read again whole; the
 * devices will then refuse the relay's heads, as they should.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/sberr.h"
#include "../crypto/crypto.h"
#include "../tlog/tlog.h"
#include "relay.h"
#include "store.h"

/* Leaves read from the store per query while catching up. */
#define CATCH_UP_BATCH 4096u

struct relay_dirlog {
	struct crypto_key *key;
	uint8_t point[TLOG_KEY_LEN];
	int rebuild;                   /* TEST ONLY: no cache, re-read every time */
	struct tlog_tree *tree;
	struct tlog_sth sth;           /* the newest head signed, for sth.size */
	int have_sth;
	uint8_t head[TLOG_MAX_STH];
	size_t head_len;
};

static int
key_path(const char *datadir, char out[PATH_MAX])
{
	int n = snprintf(out, PATH_MAX, "%s/" RELAY_LOG_KEY_FILE, datadir);

	return n < 0 || n >= PATH_MAX ? SB_ERR_INVALID_ARG : SB_OK;
}

int
relay_dirlog_key_create(const char *datadir, uint8_t fp[RELAY_FP_LEN])
{
	struct crypto_key *k = NULL;
	struct sb_buf pem = SB_BUF_INIT;
	uint8_t point[TLOG_KEY_LEN];
	char path[PATH_MAX];
	ssize_t w = -1;
	int fd, rc;

	if ((rc = key_path(datadir, path)) != SB_OK)
		return rc;
	if ((rc = crypto_key_generate_sign(&k)) != SB_OK ||
	    (rc = crypto_key_to_pkcs8_pem(k, &pem)) != SB_OK ||
	    (rc = crypto_key_public_point(k, point)) != SB_OK ||
	    (rc = tlog_key_fingerprint(point, fp)) != SB_OK)
		goto out;
	/* O_EXCL: a log key is never replaced; every device has pinned it. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		rc = errno == EEXIST ? SB_ERR_EXISTS : SB_ERR_SYSTEM;
		goto out;
	}
	w = write(fd, pem.d, pem.len);
	rc = w == (ssize_t)pem.len && fsync(fd) == 0 ? SB_OK : SB_ERR_SYSTEM;
	close(fd);
	if (rc != SB_OK)
		unlink(path);
out:
	sb_buf_free(&pem);
	crypto_key_free(k);
	return rc;
}

int
relay_dirlog_key_load(const char *datadir, struct crypto_key **out)
{
	struct sb_buf pem = SB_BUF_INIT;
	char path[PATH_MAX], buf[4096];
	size_t n;
	FILE *f;
	int rc;

	*out = NULL;
	if ((rc = key_path(datadir, path)) != SB_OK)
		return rc;
	if ((f = fopen(path, "re")) == NULL)
		return errno == ENOENT ? SB_ERR_NOT_FOUND : SB_ERR_SYSTEM;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_put_bytes(&pem, buf, n);
	rc = ferror(f) ? SB_ERR_SYSTEM : pem.err;
	fclose(f);
	if (rc == SB_OK && crypto_key_from_pkcs8_pem(pem.d, pem.len, out) != SB_OK)
		rc = SB_ERR_CONFIG;
	sb_buf_free(&pem);
	return rc;
}

int
relay_dirlog_fingerprint(const char *datadir, uint8_t fp[RELAY_FP_LEN])
{
	struct crypto_key *k;
	uint8_t point[TLOG_KEY_LEN];
	int rc;

	if ((rc = relay_dirlog_key_load(datadir, &k)) != SB_OK)
		return rc;
	if ((rc = crypto_key_public_point(k, point)) == SB_OK)
		rc = tlog_key_fingerprint(point, fp);
	crypto_key_free(k);
	return rc;
}

int
relay_dirlog_new(const char *datadir, int rebuild, struct relay_dirlog **out)
{
	struct relay_dirlog *l;
	uint8_t fp[RELAY_FP_LEN];
	int rc;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SB_ERR_ALLOC;
	l->rebuild = rebuild;
	rc = relay_dirlog_key_load(datadir, &l->key);
	if (rc == SB_ERR_NOT_FOUND) {
		/* A relay made before the log: its key is made on first serve. */
		if ((rc = relay_dirlog_key_create(datadir, fp)) == SB_OK) {
			relay_log("made the log key %s", RELAY_LOG_KEY_FILE);
			rc = relay_dirlog_key_load(datadir, &l->key);
		}
	}
	if (rc == SB_OK)
		rc = crypto_key_public_point(l->key, l->point);
	if (rc == SB_OK)
		rc = tlog_tree_new(&l->tree);
	if (rc != SB_OK) {
		relay_dirlog_free(l);
		return rc;
	}
	*out = l;
	return SB_OK;
}

void
relay_dirlog_free(struct relay_dirlog *l)
{
	if (l == NULL)
		return;
	crypto_key_free(l->key);
	tlog_tree_free(l->tree);
	free(l);
}

void
relay_dirlog_key(const struct relay_dirlog *l, uint8_t key[TLOG_KEY_LEN])
{
	memcpy(key, l->point, TLOG_KEY_LEN);
}

/* Brings the tree up to the store's size. */
static int
catch_up(struct relay_dirlog *l, struct relay_store *s)
{
	uint8_t (*leaves)[32] = NULL;
	uint64_t size, have, n, i;
	int rc;

	if ((rc = s->ops->log_size(s, &size)) != SB_OK)
		return rc;
	if (l->rebuild || size < tlog_tree_size(l->tree)) {
		tlog_tree_free(l->tree);
		l->tree = NULL;
		l->have_sth = 0;
		if ((rc = tlog_tree_new(&l->tree)) != SB_OK)
			return rc;
	}
	if ((leaves = malloc(CATCH_UP_BATCH * sizeof(*leaves))) == NULL)
		return SB_ERR_ALLOC;
	while (rc == SB_OK && (have = tlog_tree_size(l->tree)) < size) {
		n = size - have < CATCH_UP_BATCH ? size - have : CATCH_UP_BATCH;
		rc = s->ops->log_leaves(s, have, n, leaves);
		for (i = 0; rc == SB_OK && i < n; i++)
			rc = tlog_tree_append(l->tree, leaves[i]);
	}
	free(leaves);
	return rc;
}

int
relay_dirlog_head(struct relay_dirlog *l, struct relay_store *s, uint64_t now,
    struct tlog_sth *sth, const uint8_t **head, size_t *head_len)
{
	struct sb_buf b = SB_BUF_INIT;
	int rc;

	if ((rc = catch_up(l, s)) != SB_OK)
		return rc;
	/* One signature per size: a head is only re-signed when the log grew. */
	if (!l->have_sth || l->sth.size != tlog_tree_size(l->tree)) {
		memset(&l->sth, 0, sizeof(l->sth));
		l->sth.size = tlog_tree_size(l->tree);
		l->sth.time = now;
		if ((rc = tlog_tree_root(l->tree, l->sth.size, l->sth.root)) != SB_OK ||
		    (rc = tlog_sth_sign(l->key, &l->sth)) != SB_OK ||
		    (rc = tlog_sth_encode(&l->sth, &b)) != SB_OK) {
			sb_buf_free(&b);
			l->have_sth = 0;
			return rc;
		}
		memcpy(l->head, b.d, b.len);
		l->head_len = b.len;
		l->have_sth = 1;
		sb_buf_free(&b);
	}
	*sth = l->sth;
	*head = l->head;
	*head_len = l->head_len;
	return SB_OK;
}

int
relay_dirlog_inclusion(struct relay_dirlog *l, uint64_t index, uint64_t n,
    uint8_t proof[][32], size_t *len)
{
	return tlog_tree_inclusion(l->tree, index, n, proof, len);
}

int
relay_dirlog_consistency(struct relay_dirlog *l, uint64_t m, uint64_t n,
    uint8_t proof[][32], size_t *len)
{
	return tlog_tree_consistency(l->tree, m, n, proof, len);
}
