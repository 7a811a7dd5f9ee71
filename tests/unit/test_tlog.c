/*
 * test_tlog.c - tlog/ beyond the vectors: the parsers against every
 * truncation and every single bit flip, the tree against a naive Merkle
 * Tree Hash for every size, proofs against tampering, and the whole answer
 * check (docs/PROTOCOL.md 14.8) against each lie a relay can tell: a key
 * not in the log, a device hidden or added, an entry dropped, a bad
 * countersignature, a head of another key, a forked head.
 *
 * Keys come from tests/vectors/keys (no key generation in the loop);
 * nothing here reads a clock.  Runs with cwd = repo top.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "common/sberr.h"
#include "common/wire.h"
#include "crypto/crypto.h"
#include "tlog/tlog.h"

#include "vecfile.h"

#define KEYS "tests/vectors/keys/"
#define T0   1796000000ull
#define MAXE 16

static void
read_file(const char *path, struct sb_buf *out)
{
	size_t len;
	char *text = slurp(path, &len);

	assert_int_equal(sb_put_bytes(out, text, len), SB_OK);
	free(text);
}

/* A device of the vectors: signing key, identity DER, parsed identity. */
struct dev {
	struct crypto_key *sign;
	struct sb_buf der;
	struct crypto_identity *id;
};

static void
dev_load(struct dev *d, const char *name)
{
	struct sb_buf pem = SB_BUF_INIT;
	char path[128];

	memset(d, 0, sizeof(*d));
	snprintf(path, sizeof(path), KEYS "%s/sign.pem", name);
	read_file(path, &pem);
	assert_int_equal(crypto_key_from_pkcs8_pem(pem.d, pem.len, &d->sign), SB_OK);
	sb_buf_free(&pem);
	snprintf(path, sizeof(path), KEYS "%s/identity.der", name);
	if (strcmp(name, "log") != 0) {
		read_file(path, &d->der);
		assert_int_equal(crypto_identity_parse(d->der.d, d->der.len, &d->id), SB_OK);
	}
}

static void
dev_free(struct dev *d)
{
	crypto_key_free(d->sign);
	crypto_identity_free(d->id);
	sb_buf_free(&d->der);
}

/* ---- parsers: truncation and bit flips --------------------------------- */

static void
entry_bytes(const struct dev *d, uint8_t kind, uint64_t signer, const uint8_t *sig,
    size_t sig_len, struct sb_buf *out)
{
	struct tlog_entry e;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	assert_int_equal(tlog_addr_hash("a@example.com", 13, e.addr), SB_OK);
	e.seq = 3;
	e.device = 7;
	e.time = T0;
	e.identity = d->der.d;
	e.identity_len = d->der.len;
	e.signer = signer;
	e.sig = sig;
	e.sig_len = sig_len;
	assert_int_equal(tlog_entry_encode(&e, out), SB_OK);
}

static void
test_tlog_entry_truncate_flip(void **state)
{
	struct dev alice;
	struct sb_buf b = SB_BUF_INIT, re = SB_BUF_INIT;
	static const uint8_t sig[70] = { 0x30, 0x44 };
	struct tlog_entry e;
	size_t i, bit;
	int rc;

	(void)state;
	dev_load(&alice, "alice");
	entry_bytes(&alice, TLOG_ADD, 1, sig, sizeof(sig), &b);
	assert_int_equal(tlog_entry_parse(b.d, b.len, &e), SB_OK);
	for (i = 0; i < b.len; i++) {
		assert_int_equal(tlog_entry_parse(b.d, i, &e), SB_ERR_TRUNCATED);
		assert_int_equal(e.kind, 0);
		assert_null(e.identity);
	}
	for (i = 0; i < b.len; i++)
		for (bit = 0; bit < 8; bit++) {
			b.d[i] ^= (uint8_t)(1u << bit);
			rc = tlog_entry_parse(b.d, b.len, &e);
			if (rc == SB_OK) {
				/* Whatever still parses re-encodes to itself. */
				sb_buf_truncate(&re, 0);
				assert_int_equal(tlog_entry_encode(&e, &re), SB_OK);
				assert_int_equal(re.len, b.len);
				assert_memory_equal(re.d, b.d, b.len);
			} else {
				assert_true(rc == SB_ERR_FORMAT || rc == SB_ERR_LENGTH ||
				    rc == SB_ERR_TRUNCATED || rc == SB_ERR_TRAILING);
				assert_int_equal(e.device, 0);
			}
			b.d[i] ^= (uint8_t)(1u << bit);
		}
	/* The encoder refuses what the parser refuses. */
	sb_buf_truncate(&re, 0);
	e.kind = TLOG_CHANGE;
	assert_int_equal(tlog_entry_encode(&e, &re), SB_ERR_INVALID_ARG);
	e.kind = TLOG_ADD;
	e.sig_len = 0;
	assert_int_equal(tlog_entry_encode(&e, &re), SB_ERR_INVALID_ARG);
	e.identity_len = 0;
	assert_int_equal(tlog_entry_encode(&e, &re), SB_ERR_LENGTH);
	assert_int_equal(re.len, 0);
	sb_buf_free(&b);
	sb_buf_free(&re);
	dev_free(&alice);
}

static void
test_tlog_sth_truncate_flip(void **state)
{
	struct dev log;
	struct tlog_sth s, p;
	struct sb_buf b = SB_BUF_INIT;
	uint8_t key[TLOG_KEY_LEN];
	size_t i, bit;
	int rc;

	(void)state;
	dev_load(&log, "log");
	assert_int_equal(crypto_key_public_point(log.sign, key), SB_OK);
	memset(&s, 0, sizeof(s));
	s.size = 5;
	s.time = T0;
	memset(s.root, 0xab, sizeof(s.root));
	assert_int_equal(tlog_sth_sign(log.sign, &s), SB_OK);
	assert_int_equal(tlog_sth_encode(&s, &b), SB_OK);
	assert_int_equal(tlog_sth_open(key, b.d, b.len, &p), SB_OK);
	assert_int_equal(p.size, 5);
	assert_true(b.len <= TLOG_MAX_STH);
	for (i = 0; i < b.len; i++)
		assert_int_equal(tlog_sth_open(key, b.d, i, &p), SB_ERR_TRUNCATED);
	/* Every single bit flip is refused: the signature covers the rest. */
	for (i = 0; i < b.len; i++)
		for (bit = 0; bit < 8; bit++) {
			b.d[i] ^= (uint8_t)(1u << bit);
			rc = tlog_sth_open(key, b.d, b.len, &p);
			assert_int_not_equal(rc, SB_OK);
			assert_int_equal(p.size, 0);
			b.d[i] ^= (uint8_t)(1u << bit);
		}
	/* A flipped key verifies nothing. */
	key[10] ^= 1;
	assert_int_not_equal(tlog_sth_open(key, b.d, b.len, &p), SB_OK);
	sb_buf_free(&b);
	dev_free(&log);
}

/* ---- the tree ----------------------------------------------------------- */

static void
naive_mth(const uint8_t (*leaf)[TLOG_HASH_LEN], size_t n, uint8_t out[TLOG_HASH_LEN])
{
	uint8_t l[TLOG_HASH_LEN], r[TLOG_HASH_LEN];
	size_t k = 1;

	if (n == 0) {
		assert_int_equal(EVP_Digest("", 0, out, NULL, EVP_sha256(), NULL), 1);
		return;
	}
	if (n == 1) {
		memcpy(out, leaf[0], TLOG_HASH_LEN);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	naive_mth(leaf, k, l);
	naive_mth(leaf + k, n - k, r);
	assert_int_equal(tlog_node_hash(l, r, out), SB_OK);
}

#define TN 70

static void
test_tlog_tree_all_sizes(void **state)
{
	struct tlog_tree *t = NULL;
	uint8_t leaf[TN][TLOG_HASH_LEN], a[TLOG_HASH_LEN], b[TLOG_HASH_LEN];
	uint8_t rm[TLOG_HASH_LEN], p[TLOG_MAX_PROOF][TLOG_HASH_LEN];
	uint8_t x[TLOG_MAX_PROOF + 1][TLOG_HASH_LEN];
	size_t n, i, m, len, j;
	uint32_t v;

	(void)state;
	assert_int_equal(tlog_tree_new(&t), SB_OK);
	for (i = 0; i < TN; i++) {
		v = (uint32_t)i;
		assert_int_equal(tlog_leaf_hash((const uint8_t *)&v, sizeof(v), leaf[i]), SB_OK);
		assert_int_equal(tlog_tree_append(t, leaf[i]), SB_OK);
	}
	assert_int_equal(tlog_tree_size(t), TN);
	for (n = 0; n <= TN; n++) {
		naive_mth((const uint8_t (*)[TLOG_HASH_LEN])leaf, n, a);
		assert_int_equal(tlog_tree_root(t, n, b), SB_OK);
		assert_memory_equal(a, b, TLOG_HASH_LEN);
	}
	for (n = 1; n <= 40; n++) {
		assert_int_equal(tlog_tree_root(t, n, a), SB_OK);
		for (i = 0; i < n; i++) {
			assert_int_equal(tlog_tree_inclusion(t, i, n, p, &len), SB_OK);
			assert_int_equal(tlog_verify_inclusion(i, n, leaf[i],
			    (const uint8_t (*)[TLOG_HASH_LEN])p, len, a), SB_OK);
			/* Another index, an index past the size, a node
			 * flipped, one hash short or long: all refused.  (The
			 * same path may fit a root of ANOTHER size: the size
			 * is bound by the head's signature, not by the path.) */
			if (n > 1)
				assert_int_equal(tlog_verify_inclusion((i + 1) % n, n, leaf[i],
				    (const uint8_t (*)[TLOG_HASH_LEN])p, len, a), SB_ERR_LOG_PROOF);
			assert_int_equal(tlog_verify_inclusion(n, n, leaf[i],
			    (const uint8_t (*)[TLOG_HASH_LEN])p, len, a), SB_ERR_LOG_PROOF);
			for (j = 0; j < len; j++) {
				p[j][j % TLOG_HASH_LEN] ^= 0x80;
				assert_int_equal(tlog_verify_inclusion(i, n, leaf[i],
				    (const uint8_t (*)[TLOG_HASH_LEN])p, len, a), SB_ERR_LOG_PROOF);
				p[j][j % TLOG_HASH_LEN] ^= 0x80;
			}
			if (len > 0)
				assert_int_equal(tlog_verify_inclusion(i, n, leaf[i],
				    (const uint8_t (*)[TLOG_HASH_LEN])p, len - 1, a),
				    SB_ERR_LOG_PROOF);
			memcpy(x, p, len * TLOG_HASH_LEN);
			memcpy(x[len], a, TLOG_HASH_LEN);
			assert_int_equal(tlog_verify_inclusion(i, n, leaf[i],
			    (const uint8_t (*)[TLOG_HASH_LEN])x, len + 1, a), SB_ERR_LOG_PROOF);
		}
		for (m = 0; m <= n; m++) {
			assert_int_equal(tlog_tree_root(t, m, rm), SB_OK);
			assert_int_equal(tlog_tree_consistency(t, m, n, p, &len), SB_OK);
			assert_int_equal(tlog_verify_consistency(m, n, rm, a,
			    (const uint8_t (*)[TLOG_HASH_LEN])p, len), SB_OK);
			if (m == 0)
				continue;
			for (j = 0; j < len; j++) {
				p[j][0] ^= 1;
				assert_int_equal(tlog_verify_consistency(m, n, rm, a,
				    (const uint8_t (*)[TLOG_HASH_LEN])p, len), SB_ERR_LOG_FORK);
				p[j][0] ^= 1;
			}
			/* A root of another tree of the same sizes. */
			rm[5] ^= 4;
			assert_int_equal(tlog_verify_consistency(m, n, rm, a,
			    (const uint8_t (*)[TLOG_HASH_LEN])p, len), SB_ERR_LOG_FORK);
			rm[5] ^= 4;
			if (len > 0)
				assert_int_equal(tlog_verify_consistency(m, n, rm, a,
				    (const uint8_t (*)[TLOG_HASH_LEN])p, len - 1), SB_ERR_LOG_FORK);
		}
	}
	assert_int_equal(tlog_verify_consistency(3, 2, a, a, NULL, 0), SB_ERR_INVALID_ARG);
	assert_int_equal(tlog_tree_inclusion(t, TN, TN, p, &len), SB_ERR_INVALID_ARG);
	assert_int_equal(tlog_tree_consistency(t, 2, TN + 1, p, &len), SB_ERR_INVALID_ARG);
	tlog_tree_free(t);
}

/* ---- link codes ---------------------------------------------------------- */

static void
test_tlog_link_code(void **state)
{
	uint8_t h[CRYPTO_HASH_LEN];
	char code[TLOG_LINK_CODE_BUF], typed[64];
	size_t i, o;

	(void)state;
	memset(h, 0x5a, sizeof(h));
	assert_int_equal(tlog_link_code(h, code), SB_OK);
	assert_int_equal(strlen(code), 19);
	assert_int_equal(tlog_link_code_match(code, h), SB_OK);
	/* Upper case, spaces instead of dashes, 0/1 typed as O/I/L. */
	for (i = 0, o = 0; code[i]; i++) {
		char c = code[i];

		if (c == '-')
			c = ' ';
		else if (c == '0')
			c = 'O';
		else if (c == '1')
			c = (i % 2) ? 'l' : 'I';
		else if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		typed[o++] = c;
	}
	typed[o] = '\0';
	assert_int_equal(tlog_link_code_match(typed, h), SB_OK);
	h[0] ^= 1;
	assert_int_equal(tlog_link_code_match(code, h), SB_ERR_TAG);
	assert_int_equal(tlog_link_code_match("abcd-efgh-jkmn-pqr", h), SB_ERR_FORMAT);
	assert_int_equal(tlog_link_code_match("abcd-efgh-jkmn-pqrst", h), SB_ERR_FORMAT);
	assert_int_equal(tlog_link_code_match("abcd-efgh-jkmn-pqru", h), SB_ERR_FORMAT);
	assert_int_equal(tlog_link_code_match("", h), SB_ERR_FORMAT);
}

/* ---- the answer check ---------------------------------------------------- */

/* A small log: entries, the tree, and the answer for one address. */
struct fix {
	struct dev log, alice, erin, carol, bob;
	uint8_t key[TLOG_KEY_LEN];
	struct tlog_tree *tree;
	struct sb_buf e[MAXE];
	size_t n;
	uint32_t seq_a, seq_b;
	/* the answer for A */
	struct sb_buf head;
	struct tlog_sth sth;
	struct tlog_proven pe[MAXE];
	uint8_t path[MAXE][TLOG_MAX_PROOF][TLOG_HASH_LEN];
	struct tlog_served sv[MAXE];
	struct tlog_device dv[MAXE];
	struct tlog_event ev[MAXE];
	struct tlog_answer a;
};

#define A "alice@example.com"
#define B "bob@example.com"

static void
fix_append(struct fix *f, const char *addr, uint8_t kind, uint64_t device,
    const struct dev *d, uint64_t signer, const struct dev *by)
{
	struct tlog_entry e;
	struct sb_buf text = SB_BUF_INIT, sig = SB_BUF_INIT;
	uint8_t leaf[TLOG_HASH_LEN];

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	assert_int_equal(tlog_addr_hash(addr, strlen(addr), e.addr), SB_OK);
	e.seq = strcmp(addr, A) == 0 ? f->seq_a++ : f->seq_b++;
	e.device = device;
	e.time = T0 + f->n;
	e.identity = d->der.d;
	e.identity_len = d->der.len;
	e.signer = signer;
	if (by != NULL) {
		if (kind == TLOG_ADD)
			tlog_approve_text(e.addr, crypto_identity_hash(d->id), &text);
		else
			tlog_remove_text(e.addr, device, crypto_identity_hash(d->id), &text);
		assert_int_equal(crypto_sign(by->sign, text.d, text.len, &sig), SB_OK);
		e.sig = sig.d;
		e.sig_len = sig.len;
	}
	assert_true(f->n < MAXE);
	assert_int_equal(tlog_entry_encode(&e, &f->e[f->n]), SB_OK);
	assert_int_equal(tlog_leaf_hash(f->e[f->n].d, f->e[f->n].len, leaf), SB_OK);
	assert_int_equal(tlog_tree_append(f->tree, leaf), SB_OK);
	f->n++;
	sb_buf_free(&text);
	sb_buf_free(&sig);
}

/* Signs a head of the current tree and builds the answer for A. */
static void
fix_answer(struct fix *f, const struct tlog_sth *known)
{
	struct tlog_entry e;
	uint8_t a_hash[TLOG_HASH_LEN];
	size_t i, k = 0;

	memset(&f->sth, 0, sizeof(f->sth));
	f->sth.size = tlog_tree_size(f->tree);
	f->sth.time = T0 + 100;
	assert_int_equal(tlog_tree_root(f->tree, f->sth.size, f->sth.root), SB_OK);
	assert_int_equal(tlog_sth_sign(f->log.sign, &f->sth), SB_OK);
	sb_buf_truncate(&f->head, 0);
	assert_int_equal(tlog_sth_encode(&f->sth, &f->head), SB_OK);
	assert_int_equal(tlog_addr_hash(A, strlen(A), a_hash), SB_OK);
	for (i = 0; i < f->n; i++) {
		assert_int_equal(tlog_entry_parse(f->e[i].d, f->e[i].len, &e), SB_OK);
		if (memcmp(e.addr, a_hash, TLOG_HASH_LEN) != 0)
			continue;
		f->pe[k].index = i;
		f->pe[k].entry = f->e[i].d;
		f->pe[k].entry_len = f->e[i].len;
		assert_int_equal(tlog_tree_inclusion(f->tree, i, f->sth.size, f->path[k],
		    &f->pe[k].path_len), SB_OK);
		f->pe[k].path = (const uint8_t (*)[TLOG_HASH_LEN])f->path[k];
		k++;
	}
	memset(&f->a, 0, sizeof(f->a));
	f->a.key = f->key;
	f->a.known = known;
	f->a.address = A;
	f->a.head = f->head.d;
	f->a.head_len = f->head.len;
	f->a.entries = f->pe;
	f->a.n_entries = k;
	f->a.served = f->sv;
	f->a.devices = f->dv;
	f->a.events = f->ev;
}

static void
serve(struct fix *f, size_t i, uint64_t id, const struct dev *d)
{
	f->sv[i].id = id;
	f->sv[i].identity = d->der.d;
	f->sv[i].identity_len = d->der.len;
	if (f->a.n_served < i + 1)
		f->a.n_served = i + 1;
}

static int
fix_setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	dev_load(&f->log, "log");
	dev_load(&f->alice, "alice");
	dev_load(&f->erin, "erin");
	dev_load(&f->carol, "carol");
	dev_load(&f->bob, "bob");
	assert_int_equal(crypto_key_public_point(f->log.sign, f->key), SB_OK);
	assert_int_equal(tlog_tree_new(&f->tree), SB_OK);
	/* alice: device 1 (first), bob: device 2, alice: device 3 approved by
	 * 1, alice: device 4 unapproved, removed by 1. */
	fix_append(f, A, TLOG_ADD, 1, &f->alice, 0, NULL);
	fix_append(f, B, TLOG_ADD, 2, &f->bob, 0, NULL);
	fix_append(f, A, TLOG_ADD, 3, &f->erin, 1, &f->alice);
	fix_append(f, A, TLOG_ADD, 4, &f->carol, 0, NULL);
	fix_append(f, A, TLOG_REMOVE, 4, &f->carol, 1, &f->alice);
	*state = f;
	return 0;
}

static int
fix_teardown(void **state)
{
	struct fix *f = *state;
	size_t i;

	for (i = 0; i < MAXE; i++)
		sb_buf_free(&f->e[i]);
	sb_buf_free(&f->head);
	tlog_tree_free(f->tree);
	dev_free(&f->log);
	dev_free(&f->alice);
	dev_free(&f->erin);
	dev_free(&f->carol);
	dev_free(&f->bob);
	free(f);
	return 0;
}

/* A refusal leaves no head to adopt, except a fork's: the new head,
 * signed and verified, is the evidence against the known one. */
static void
expect_refused(struct fix *f, int rc, const char *why)
{
	assert_int_equal(tlog_check_answer(&f->a), rc);
	assert_string_equal(f->a.why, why);
	if (rc == SB_ERR_LOG_FORK)
		assert_int_equal(f->a.sth.size, f->sth.size);
	else
		assert_int_equal(f->a.sth.size, 0);
}

static void
test_tlog_answer_honest(void **state)
{
	struct fix *f = *state;

	fix_answer(f, NULL);
	serve(f, 0, 1, &f->alice);
	serve(f, 1, 3, &f->erin);
	assert_int_equal(tlog_check_answer(&f->a), SB_OK);
	assert_int_equal(f->a.sth.size, 5);
	assert_int_equal(f->dv[0].approver, 0);
	assert_int_equal(f->dv[0].unapproved, 0);
	assert_int_equal(f->dv[1].approver, 1);
	assert_memory_equal(f->dv[1].hash, crypto_identity_hash(f->erin.id), CRYPTO_HASH_LEN);
	assert_int_equal(f->ev[2].kind, TLOG_ADD);
	assert_int_equal(f->ev[2].device, 4);
	assert_int_equal(f->ev[3].kind, TLOG_REMOVE);
	assert_int_equal(f->ev[3].signer, 1);
	/* The served order is kept. */
	serve(f, 0, 3, &f->erin);
	serve(f, 1, 1, &f->alice);
	assert_int_equal(tlog_check_answer(&f->a), SB_OK);
	assert_int_equal(f->dv[0].id, 3);
}

static void
test_tlog_answer_key_not_logged(void **state)
{
	struct fix *f = *state;

	fix_answer(f, NULL);
	serve(f, 0, 1, &f->bob);   /* bob's keys as alice's device 1 */
	serve(f, 1, 3, &f->erin);
	expect_refused(f, SB_ERR_LOG_PROOF, "device 1: served identity is not the logged one");
	serve(f, 0, 1, &f->alice);
	serve(f, 2, 9, &f->bob);   /* a device the log never had */
	expect_refused(f, SB_ERR_LOG_PROOF, "device 9: served but not in the log");
	serve(f, 2, 4, &f->carol); /* a device the log removed */
	expect_refused(f, SB_ERR_LOG_PROOF, "device 4: served but not in the log");
	f->a.n_served = 1;         /* a logged device hidden */
	expect_refused(f, SB_ERR_LOG_PROOF, "device 3: in the log but not served");
	f->a.n_served = 2;
	serve(f, 1, 1, &f->alice);
	expect_refused(f, SB_ERR_LOG_PROOF, "device 1: served twice");
}

static void
test_tlog_answer_entries_tampered(void **state)
{
	struct fix *f = *state;
	struct tlog_proven keep;
	uint8_t *copy;

	fix_answer(f, NULL);
	serve(f, 0, 1, &f->alice);
	serve(f, 1, 3, &f->erin);
	/* An entry dropped from the middle of the answer. */
	keep = f->pe[1];
	f->pe[1] = f->pe[2];
	f->pe[2] = f->pe[3];
	f->a.n_entries = 3;
	expect_refused(f, SB_ERR_LOG_PROOF, "entries of the address skip from seq 1 to 2");
	f->pe[3] = f->pe[2];
	f->pe[2] = f->pe[1];
	f->pe[1] = keep;
	f->a.n_entries = 4;
	assert_int_equal(tlog_check_answer(&f->a), SB_OK);
	/* A path node flipped. */
	f->path[2][0][3] ^= 1;
	expect_refused(f, SB_ERR_LOG_PROOF, "entry at index 3 (device 4): inclusion proof"
	    " does not verify");
	f->path[2][0][3] ^= 1;
	/* An entry's byte changed (a different device id): its leaf moves. */
	copy = malloc(f->pe[0].entry_len);
	memcpy(copy, f->pe[0].entry, f->pe[0].entry_len);
	copy[50] ^= 1;   /* in the time field */
	f->pe[0].entry = copy;
	expect_refused(f, SB_ERR_LOG_PROOF, "entry at index 0 (device 1): inclusion proof"
	    " does not verify");
	f->pe[0].entry = f->e[0].d;
	free(copy);
	/* bob's entry passed off as alice's. */
	f->pe[0].index = 1;
	f->pe[0].entry = f->e[1].d;
	f->pe[0].entry_len = f->e[1].len;
	assert_int_equal(tlog_tree_inclusion(f->tree, 1, 5, f->path[0], &f->pe[0].path_len),
	    SB_OK);
	expect_refused(f, SB_ERR_LOG_PROOF, "entry at index 1 is of another address");
	/* Out of order, past the head. */
	fix_answer(f, NULL);
	f->pe[1].index = 0;
	expect_refused(f, SB_ERR_LOG_PROOF, "entry at index 0: out of order or past the tree"
	    " head (size 5)");
	fix_answer(f, NULL);
	f->pe[3].index = 5;
	expect_refused(f, SB_ERR_LOG_PROOF, "entry at index 5: out of order or past the tree"
	    " head (size 5)");
}

static void
test_tlog_answer_signatures(void **state)
{
	struct fix *f = *state;
	struct tlog_sth s;
	struct sb_buf h = SB_BUF_INIT;

	/* A countersignature by a device of the account that is not the
	 * signer named: erin (device 3) signs as device 1. */
	fix_append(f, A, TLOG_ADD, 5, &f->bob, 1, &f->erin);
	fix_answer(f, NULL);
	serve(f, 0, 1, &f->alice);
	serve(f, 1, 3, &f->erin);
	serve(f, 2, 5, &f->bob);
	expect_refused(f, SB_ERR_LOG_PROOF, "device 5: countersignature by device 1 does not"
	    " verify");
	/* The head signed by a device key instead of the log key. */
	fix_teardown(state);
	fix_setup(state);
	f = *state;
	fix_answer(f, NULL);
	serve(f, 0, 1, &f->alice);
	serve(f, 1, 3, &f->erin);
	s = f->sth;
	assert_int_equal(tlog_sth_sign(f->alice.sign, &s), SB_OK);
	assert_int_equal(tlog_sth_encode(&s, &h), SB_OK);
	f->a.head = h.d;
	f->a.head_len = h.len;
	expect_refused(f, SB_ERR_LOG_PROOF, "tree head: signature does not verify");
	sb_buf_free(&h);
}

static void
test_tlog_answer_unapproved_and_twice(void **state)
{
	struct fix *f = *state;

	fix_append(f, A, TLOG_ADD, 6, &f->bob, 0, NULL);
	fix_answer(f, NULL);
	serve(f, 0, 1, &f->alice);
	serve(f, 1, 3, &f->erin);
	serve(f, 2, 6, &f->bob);
	assert_int_equal(tlog_check_answer(&f->a), SB_OK);
	assert_int_equal(f->dv[2].unapproved, 1);
	assert_int_equal(f->dv[2].approver, 0);
	/* Device 4 came back: ids are never reused. */
	fix_append(f, A, TLOG_ADD, 4, &f->carol, 1, &f->alice);
	fix_answer(f, NULL);
	serve(f, 3, 4, &f->carol);
	expect_refused(f, SB_ERR_LOG_PROOF, "device 4: added twice");
}

static void
test_tlog_answer_fork_and_age(void **state)
{
	struct fix *f = *state;
	struct tlog_sth known;
	uint8_t p[TLOG_MAX_PROOF][TLOG_HASH_LEN];
	size_t len;

	fix_answer(f, NULL);
	known = f->sth;                         /* the device saw size 5 */
	fix_append(f, B, TLOG_REMOVE, 2, &f->bob, 0, NULL);
	fix_answer(f, &known);
	serve(f, 0, 1, &f->alice);
	serve(f, 1, 3, &f->erin);
	/* No proof: size 6 cannot be shown to extend size 5. */
	expect_refused(f, SB_ERR_LOG_FORK, "tree head of size 6 is not consistent with the"
	    " newest seen (size 5)");
	assert_int_equal(tlog_tree_consistency(f->tree, 5, 6, p, &len), SB_OK);
	f->a.consistency = (const uint8_t (*)[TLOG_HASH_LEN])p;
	f->a.consistency_len = len;
	assert_int_equal(tlog_check_answer(&f->a), SB_OK);
	assert_int_equal(f->a.sth.size, 6);
	/* A head of the same size with another root: the split view. */
	known.root[0] ^= 1;
	f->a.known = &known;
	f->a.consistency_len = 0;
	known.size = 6;
	expect_refused(f, SB_ERR_LOG_FORK, "tree head of size 6 is not consistent with the"
	    " newest seen (size 6)");
	/* An older head than the device has seen. */
	known.size = 7;
	expect_refused(f, SB_ERR_LOG_PROOF, "tree head of size 6 is older than the newest"
	    " seen (size 7)");
	/* No known head but a proof anyway. */
	f->a.known = NULL;
	f->a.consistency_len = len;
	expect_refused(f, SB_ERR_LOG_PROOF, "a consistency proof came with no known tree head");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tlog_entry_truncate_flip),
		cmocka_unit_test(test_tlog_sth_truncate_flip),
		cmocka_unit_test(test_tlog_tree_all_sizes),
		cmocka_unit_test(test_tlog_link_code),
		cmocka_unit_test_setup_teardown(test_tlog_answer_honest, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(test_tlog_answer_key_not_logged, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_tlog_answer_entries_tampered, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_tlog_answer_signatures, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_tlog_answer_unapproved_and_twice, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(test_tlog_answer_fork_and_age, fix_setup,
		    fix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
