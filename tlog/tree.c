/*
 * tree.c - RFC 9162 section 2.1 over leaf hashes: the Merkle Tree Hash of
 * any prefix, inclusion and consistency proofs (2.1.3.1, 2.1.4.1) and
 * their verification (2.1.3.2, 2.1.4.2).  No I/O.
 *
 * The tree keeps, per level k, the hash of every complete subtree of 2^k
 * leaves that starts at a multiple of 2^k.  The RFC's recursion only ever
 * asks for MTH(D[a..a+n)) where the left part is such an aligned complete
 * subtree, so every root and proof costs O(log n) hashes, for any size up
 * to the current one: a relay signs heads and proves against older sizes
 * without keeping old trees.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "../common/sberr.h"
#include "tlog.h"

#define LEVELS 63   /* 2^62 leaves at most: levels 0..62 */

struct tlog_tree {
	uint8_t (*level[LEVELS])[TLOG_HASH_LEN];
	uint64_t count[LEVELS];
	uint64_t cap[LEVELS];
};

int
tlog_tree_new(struct tlog_tree **out)
{
	if (out == NULL)
		return SB_ERR_INVALID_ARG;
	*out = calloc(1, sizeof(**out));
	return *out == NULL ? SB_ERR_ALLOC : SB_OK;
}

void
tlog_tree_free(struct tlog_tree *t)
{
	size_t k;

	if (t == NULL)
		return;
	for (k = 0; k < LEVELS; k++)
		free(t->level[k]);
	free(t);
}

uint64_t
tlog_tree_size(const struct tlog_tree *t)
{
	return t == NULL ? 0 : t->count[0];
}

static int
level_push(struct tlog_tree *t, size_t k, const uint8_t h[TLOG_HASH_LEN])
{
	if (t->count[k] == t->cap[k]) {
		uint64_t cap = t->cap[k] ? t->cap[k] * 2 : 64;
		void *p;

		/* Overflow guard: cap * 32 must fit a size_t. */
		if (cap > SIZE_MAX / TLOG_HASH_LEN)
			return SB_ERR_ALLOC;
		if ((p = realloc(t->level[k], (size_t)cap * TLOG_HASH_LEN)) == NULL)
			return SB_ERR_ALLOC;
		t->level[k] = p;
		t->cap[k] = cap;
	}
	memcpy(t->level[k][t->count[k]++], h, TLOG_HASH_LEN);
	return SB_OK;
}

int
tlog_tree_append(struct tlog_tree *t, const uint8_t leaf[TLOG_HASH_LEN])
{
	uint8_t h[TLOG_HASH_LEN];
	size_t k;
	int rc;

	if (t == NULL || leaf == NULL)
		return SB_ERR_INVALID_ARG;
	if (t->count[0] >= TLOG_MAX_SIZE)
		return SB_ERR_TOO_BIG;
	if ((rc = level_push(t, 0, leaf)) != SB_OK)
		return rc;
	/* Each level whose count just became even completed a pair. */
	for (k = 0; k + 1 < LEVELS && t->count[k] % 2 == 0; k++) {
		if ((rc = tlog_node_hash(t->level[k][t->count[k] - 2],
		    t->level[k][t->count[k] - 1], h)) != SB_OK ||
		    (rc = level_push(t, k + 1, h)) != SB_OK) {
			/* Undo down to the leaf so the tree stays whole. */
			while (k > 0)
				t->count[k--]--;
			t->count[0]--;
			return rc;
		}
	}
	return SB_OK;
}

int
tlog_tree_leaf(const struct tlog_tree *t, uint64_t index, uint8_t out[TLOG_HASH_LEN])
{
	if (t == NULL || out == NULL || index >= t->count[0])
		return SB_ERR_INVALID_ARG;
	memcpy(out, t->level[0][index], TLOG_HASH_LEN);
	return SB_OK;
}

/* The largest power of two smaller than n (n >= 2). */
static uint64_t
split_point(uint64_t n)
{
	uint64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

/* MTH(D[a..a+n)), n >= 1, a + n <= size. */
static int
mth(const struct tlog_tree *t, uint64_t a, uint64_t n, uint8_t out[TLOG_HASH_LEN])
{
	uint8_t l[TLOG_HASH_LEN], r[TLOG_HASH_LEN];
	uint64_t k;
	size_t lv;
	int rc;

	if ((n & (n - 1)) == 0 && a % n == 0) {
		for (lv = 0; ((uint64_t)1 << lv) < n; lv++)
			;
		memcpy(out, t->level[lv][a >> lv], TLOG_HASH_LEN);
		return SB_OK;
	}
	k = split_point(n);
	if ((rc = mth(t, a, k, l)) != SB_OK || (rc = mth(t, a + k, n - k, r)) != SB_OK)
		return rc;
	return tlog_node_hash(l, r, out);
}

static int
empty_root(uint8_t out[TLOG_HASH_LEN])
{
	return EVP_Digest("", 0, out, NULL, EVP_sha256(), NULL) == 1 ? SB_OK : SB_ERR_CRYPTO;
}

int
tlog_tree_root(const struct tlog_tree *t, uint64_t n, uint8_t out[TLOG_HASH_LEN])
{
	if (t == NULL || out == NULL || n > t->count[0])
		return SB_ERR_INVALID_ARG;
	return n == 0 ? empty_root(out) : mth(t, 0, n, out);
}

/* Appends one node to a proof being built (depth is bounded by LEVELS,
 * so TLOG_MAX_PROOF is never reached by a valid call). */
static int
proof_push(uint8_t proof[][TLOG_HASH_LEN], size_t *len, const uint8_t h[TLOG_HASH_LEN])
{
	if (*len >= TLOG_MAX_PROOF)
		return SB_ERR_INTERNAL;
	memcpy(proof[(*len)++], h, TLOG_HASH_LEN);
	return SB_OK;
}

/* PATH(m, D[a..a+n)) of 2.1.3.1. */
static int
path(const struct tlog_tree *t, uint64_t m, uint64_t a, uint64_t n,
    uint8_t proof[][TLOG_HASH_LEN], size_t *len)
{
	uint8_t h[TLOG_HASH_LEN];
	uint64_t k;
	int rc;

	if (n == 1)
		return SB_OK;
	k = split_point(n);
	if (m < k) {
		if ((rc = path(t, m, a, k, proof, len)) != SB_OK ||
		    (rc = mth(t, a + k, n - k, h)) != SB_OK)
			return rc;
	} else {
		if ((rc = path(t, m - k, a + k, n - k, proof, len)) != SB_OK ||
		    (rc = mth(t, a, k, h)) != SB_OK)
			return rc;
	}
	return proof_push(proof, len, h);
}

int
tlog_tree_inclusion(const struct tlog_tree *t, uint64_t index, uint64_t n,
    uint8_t proof[][TLOG_HASH_LEN], size_t *len)
{
	if (t == NULL || proof == NULL || len == NULL || index >= n || n > t->count[0])
		return SB_ERR_INVALID_ARG;
	*len = 0;
	return path(t, index, 0, n, proof, len);
}

/* SUBPROOF(m, D[a..a+n), b) of 2.1.4.1. */
static int
subproof(const struct tlog_tree *t, uint64_t m, uint64_t a, uint64_t n, int b,
    uint8_t proof[][TLOG_HASH_LEN], size_t *len)
{
	uint8_t h[TLOG_HASH_LEN];
	uint64_t k;
	int rc;

	if (m == n) {
		if (b)
			return SB_OK;
		if ((rc = mth(t, a, n, h)) != SB_OK)
			return rc;
		return proof_push(proof, len, h);
	}
	k = split_point(n);
	if (m <= k) {
		if ((rc = subproof(t, m, a, k, b, proof, len)) != SB_OK ||
		    (rc = mth(t, a + k, n - k, h)) != SB_OK)
			return rc;
	} else {
		if ((rc = subproof(t, m - k, a + k, n - k, 0, proof, len)) != SB_OK ||
		    (rc = mth(t, a, k, h)) != SB_OK)
			return rc;
	}
	return proof_push(proof, len, h);
}

int
tlog_tree_consistency(const struct tlog_tree *t, uint64_t m, uint64_t n,
    uint8_t proof[][TLOG_HASH_LEN], size_t *len)
{
	if (t == NULL || proof == NULL || len == NULL || m > n || n > t->count[0])
		return SB_ERR_INVALID_ARG;
	*len = 0;
	if (m == 0 || m == n)
		return SB_OK;
	return subproof(t, m, 0, n, 1, proof, len);
}

int
tlog_verify_inclusion(uint64_t index, uint64_t n, const uint8_t leaf[TLOG_HASH_LEN],
    const uint8_t proof[][TLOG_HASH_LEN], size_t len, const uint8_t root[TLOG_HASH_LEN])
{
	uint8_t r[TLOG_HASH_LEN];
	uint64_t fn, sn;
	size_t i;

	if (leaf == NULL || root == NULL || (proof == NULL && len > 0))
		return SB_ERR_LOG_PROOF;
	if (index >= n || len > TLOG_MAX_PROOF)
		return SB_ERR_LOG_PROOF;
	fn = index;
	sn = n - 1;
	memcpy(r, leaf, TLOG_HASH_LEN);
	for (i = 0; i < len; i++) {
		if (sn == 0)
			return SB_ERR_LOG_PROOF;
		if ((fn & 1) || fn == sn) {
			if (tlog_node_hash(proof[i], r, r) != SB_OK)
				return SB_ERR_CRYPTO;
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else if (tlog_node_hash(r, proof[i], r) != SB_OK) {
			return SB_ERR_CRYPTO;
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && CRYPTO_memcmp(r, root, TLOG_HASH_LEN) == 0 ?
	    SB_OK : SB_ERR_LOG_PROOF;
}

int
tlog_verify_consistency(uint64_t m, uint64_t n, const uint8_t root_m[TLOG_HASH_LEN],
    const uint8_t root_n[TLOG_HASH_LEN], const uint8_t proof[][TLOG_HASH_LEN], size_t len)
{
	uint8_t fr[TLOG_HASH_LEN], sr[TLOG_HASH_LEN];
	const uint8_t *first;
	uint64_t fn, sn;
	size_t i;

	if (root_m == NULL || root_n == NULL || (proof == NULL && len > 0))
		return SB_ERR_LOG_FORK;
	if (m > n)
		return SB_ERR_INVALID_ARG;
	if (m == 0)
		return len == 0 ? SB_OK : SB_ERR_LOG_FORK;
	if (m == n)
		return len == 0 && CRYPTO_memcmp(root_m, root_n, TLOG_HASH_LEN) == 0 ?
		    SB_OK : SB_ERR_LOG_FORK;
	if (len == 0 || len > TLOG_MAX_PROOF)
		return SB_ERR_LOG_FORK;
	/* A first tree that is a complete subtree is its own root: the RFC
	 * prepends first_hash instead of sending it. */
	i = 0;
	if ((m & (m - 1)) == 0)
		first = root_m;
	else
		first = proof[i++];
	fn = m - 1;
	sn = n - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	memcpy(fr, first, TLOG_HASH_LEN);
	memcpy(sr, first, TLOG_HASH_LEN);
	for (; i < len; i++) {
		if (sn == 0)
			return SB_ERR_LOG_FORK;
		if ((fn & 1) || fn == sn) {
			if (tlog_node_hash(proof[i], fr, fr) != SB_OK ||
			    tlog_node_hash(proof[i], sr, sr) != SB_OK)
				return SB_ERR_CRYPTO;
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else if (tlog_node_hash(sr, proof[i], sr) != SB_OK) {
			return SB_ERR_CRYPTO;
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && CRYPTO_memcmp(fr, root_m, TLOG_HASH_LEN) == 0 &&
	    CRYPTO_memcmp(sr, root_n, TLOG_HASH_LEN) == 0 ? SB_OK : SB_ERR_LOG_FORK;
}
