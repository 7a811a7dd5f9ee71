/*
 * fuzz_tlog.c - tlog/'s parsers and proof checks on arbitrary bytes (an
 * entry and a tree head come from the relay: attacker-chosen).  Byte 0
 * picks the target, the rest is its input:
 *   0  tlog_entry_parse      1  tlog_sth_parse (and tlog_sth_open under the
 *                               vectors' log key)
 *   2  tlog_verify_inclusion / tlog_verify_consistency: u64 index, u64 size,
 *      then 32-byte proof nodes, against a fixed tree of 11 leaves
 *
 * Properties: a failed parse zeroes its output; a successful one re-encodes
 * to exactly the input (both codecs are canonical).  A verifier never
 * accepts a proof for the fixed tree unless it is the one the tree itself
 * produces for those arguments.
 */
#include "fuzz.h"
#include "tlog/tlog.h"

static uint8_t logkey[TLOG_KEY_LEN];
static struct tlog_tree *tree;

static void
setup(void)
{
	char path[512];
	uint8_t buf[4096], leaf[TLOG_HASH_LEN];
	struct crypto_key *k = NULL;
	const char *dir = getenv("SB_FUZZ_KEYS");
	uint32_t i;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/log/sign.pem", dir ? dir : FUZZ_KEYS);
	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "fuzz_tlog: cannot open %s\n", path);
		abort();
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	FUZZ_ASSERT(crypto_key_from_pkcs8_pem(buf, n, &k) == SB_OK);
	FUZZ_ASSERT(crypto_key_public_point(k, logkey) == SB_OK);
	crypto_key_free(k);
	FUZZ_ASSERT(tlog_tree_new(&tree) == SB_OK);
	for (i = 0; i < 11; i++) {
		FUZZ_ASSERT(tlog_leaf_hash((const uint8_t *)&i, sizeof(i), leaf) == SB_OK);
		FUZZ_ASSERT(tlog_tree_append(tree, leaf) == SB_OK);
	}
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
proofs(const uint8_t *d, size_t n)
{
	uint8_t want[TLOG_MAX_PROOF][TLOG_HASH_LEN], r1[TLOG_HASH_LEN], r2[TLOG_HASH_LEN];
	uint8_t leaf[TLOG_HASH_LEN];
	const uint8_t (*p)[TLOG_HASH_LEN];
	uint64_t a, b;
	size_t len, wl;
	int rc;

	if (n < 16)
		return;
	a = get64(d) % 12;
	b = get64(d + 8) % 12;
	p = (const uint8_t (*)[TLOG_HASH_LEN])(d + 16);
	len = (n - 16) / TLOG_HASH_LEN;
	if (len > TLOG_MAX_PROOF)
		len = TLOG_MAX_PROOF;
	if (a < b && b <= 11) {
		FUZZ_ASSERT(tlog_tree_root(tree, b, r2) == SB_OK);
		FUZZ_ASSERT(tlog_tree_leaf(tree, a, leaf) == SB_OK);
		rc = tlog_verify_inclusion(a, b, leaf, p, len, r2);
		FUZZ_ASSERT(tlog_tree_inclusion(tree, a, b, want, &wl) == SB_OK);
		if (rc == SB_OK)
			FUZZ_ASSERT(len == wl && memcmp(p, want, len * TLOG_HASH_LEN) == 0);
	}
	if (a <= b && b <= 11) {
		FUZZ_ASSERT(tlog_tree_root(tree, a, r1) == SB_OK);
		FUZZ_ASSERT(tlog_tree_root(tree, b, r2) == SB_OK);
		rc = tlog_verify_consistency(a, b, r1, r2, p, len);
		FUZZ_ASSERT(tlog_tree_consistency(tree, a, b, want, &wl) == SB_OK);
		if (rc == SB_OK)
			FUZZ_ASSERT(len == wl && memcmp(p, want, len * TLOG_HASH_LEN) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sb_buf b = SB_BUF_INIT;
	struct tlog_entry e;
	struct tlog_sth s;

	if (tree == NULL)
		setup();
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (tlog_entry_parse(data + 1, size - 1, &e) != SB_OK) {
			FUZZ_ASSERT(e.device == 0 && e.identity == NULL);
			break;
		}
		FUZZ_ASSERT(tlog_entry_encode(&e, &b) == SB_OK);
		FUZZ_ASSERT(b.len == size - 1 && memcmp(b.d, data + 1, b.len) == 0);
		break;
	case 1:
		if (tlog_sth_parse(data + 1, size - 1, &s) != SB_OK) {
			FUZZ_ASSERT(s.size == 0 && s.sig_len == 0);
			break;
		}
		FUZZ_ASSERT(tlog_sth_encode(&s, &b) == SB_OK);
		FUZZ_ASSERT(b.len == size - 1 && memcmp(b.d, data + 1, b.len) == 0);
		(void)tlog_sth_open(logkey, data + 1, size - 1, &s);
		break;
	default:
		proofs(data + 1, size - 1);
	}
	sb_buf_free(&b);
	return 0;
}
