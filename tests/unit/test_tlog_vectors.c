/*
 * test_tlog_vectors.c - known-answer tests of tlog/ against
 * tests/vectors/tlog-*, which tests/vectors/gen_tlog.py writes from
 * docs/PROTOCOL.md section 14 and RFC 9162 with Python's hashlib and
 * `cryptography` (its tree code checked against Certificate
 * Transparency's published root), never from tlog/.
 *
 * Entries and tree heads are parsed, compared field by field, re-encoded
 * to the same bytes; every negative vector is refused with the class it
 * names.  Trees: every root, every inclusion path and every consistency
 * proof the generator lists is produced identically by tlog_tree_* and
 * accepted by tlog_verify_*.  Signatures made in Python verify in C.  The
 * counts are asserted, so a vector missing from INDEX fails.
 */
#include "vecfile.h"

#include "crypto/crypto.h"
#include "tlog/tlog.h"

#define N_TLOG 43

static const char *
expect_name(int rc)
{
	switch (rc) {
	case SB_OK:            return "ok";
	case SB_ERR_TRUNCATED: return "truncated";
	case SB_ERR_TRAILING:  return "trailing";
	case SB_ERR_LENGTH:    return "length";
	case SB_ERR_FORMAT:    return "format";
	case SB_ERR_SIGNATURE: return "signature";
	}
	return "other";
}

/* Hex field k (exactly n bytes) into out. */
static void
need_hex(struct vec *v, const char *k, uint8_t *out, size_t n)
{
	struct sb_buf b = SB_BUF_INIT;
	const char *s = need(v, k);

	unhex(s, strlen(s), &b);
	if (b.len != n)
		fail_msg("%s: %s is %zu bytes, not %zu", v->name, k, b.len, n);
	memcpy(out, b.d, n);
	sb_buf_free(&b);
}

/* Hex field k, "-" for empty, appended to out. */
static void
need_bytes(struct vec *v, const char *k, struct sb_buf *out)
{
	const char *s = need(v, k);

	if (strcmp(s, "-") != 0)
		unhex(s, strlen(s), out);
}

/* A file of tests/vectors/keys/NAME/ into out. */
static void
key_file(const char *name, const char *file, struct sb_buf *out)
{
	char path[256], *text;
	size_t len;

	snprintf(path, sizeof(path), VEC_DIR "keys/%s/%s", name, file);
	text = slurp(path, &len);
	assert_int_equal(sb_put_bytes(out, text, len), SB_OK);
	free(text);
}

static struct crypto_identity *
identity_of(const char *name, struct sb_buf *der)
{
	struct crypto_identity *id = NULL;

	key_file(name, "identity.der", der);
	assert_int_equal(crypto_identity_parse(der->d, der->len, &id), SB_OK);
	return id;
}

static struct crypto_key *
sign_key_of(const char *name)
{
	struct sb_buf pem = SB_BUF_INIT;
	struct crypto_key *k = NULL;

	key_file(name, "sign.pem", &pem);
	assert_int_equal(crypto_key_from_pkcs8_pem(pem.d, pem.len, &k), SB_OK);
	sb_buf_free(&pem);
	return k;
}

/* A list of hashes "h,h,..." or "-" into proof; returns the count. */
static size_t
need_hashes(struct vec *v, const char *k, uint8_t proof[][TLOG_HASH_LEN])
{
	const char *s = need(v, k), *e;
	struct sb_buf b = SB_BUF_INIT;
	size_t i, n = 0, len;

	if (strcmp(s, "-") == 0)
		return 0;
	for (i = 0;; i++) {
		e = nth(v, s, 0, &len);
		assert_true(i < TLOG_MAX_PROOF);
		unhex(e, len, &b);
		assert_int_equal(b.len, TLOG_HASH_LEN);
		memcpy(proof[n++], b.d, TLOG_HASH_LEN);
		sb_buf_truncate(&b, 0);
		if (s[len] != ',')
			break;
		s += len + 1;
	}
	sb_buf_free(&b);
	return n;
}

static void
check_expect(struct vec *v, int rc)
{
	const char *want = need(v, "expect");

	if (strcmp(want, expect_name(rc)) != 0)
		fail_msg("%s: expected %s, got %s (%d)", v->name, want, expect_name(rc), rc);
}

static void
case_addr(struct vec *v)
{
	uint8_t want[TLOG_HASH_LEN], got[TLOG_HASH_LEN];
	const char *a = need(v, "address");

	need_hex(v, "hash", want, sizeof(want));
	assert_int_equal(tlog_addr_hash(a, strlen(a), got), SB_OK);
	assert_memory_equal(got, want, sizeof(want));
	check_expect(v, SB_OK);
}

static void
case_entry(struct vec *v)
{
	struct tlog_entry e;
	struct sb_buf der = SB_BUF_INIT, sig = SB_BUF_INIT, re = SB_BUF_INIT;
	uint8_t addr[TLOG_HASH_LEN], leaf[TLOG_HASH_LEN], got[TLOG_HASH_LEN];
	int rc = tlog_entry_parse(v->blob.d, v->blob.len, &e);

	check_expect(v, rc);
	if (rc != SB_OK) {
		/* A refused entry leaves nothing behind. */
		assert_int_equal(e.kind, 0);
		assert_null(e.identity);
		return;
	}
	assert_int_equal(e.kind, need_u64(v, "entry.kind"));
	need_hex(v, "entry.addr", addr, sizeof(addr));
	assert_memory_equal(e.addr, addr, sizeof(addr));
	assert_int_equal(e.seq, need_u64(v, "entry.seq"));
	assert_int_equal(e.device, need_u64(v, "entry.device"));
	assert_int_equal(e.time, need_u64(v, "entry.time"));
	key_file(need(v, "entry.identity"), "identity.der", &der);
	assert_int_equal(e.identity_len, der.len);
	assert_memory_equal(e.identity, der.d, der.len);
	assert_int_equal(e.signer, need_u64(v, "entry.signer"));
	need_bytes(v, "entry.sig", &sig);
	assert_int_equal(e.sig_len, sig.len);
	if (sig.len)
		assert_memory_equal(e.sig, sig.d, sig.len);
	assert_int_equal(tlog_entry_encode(&e, &re), SB_OK);
	assert_int_equal(re.len, v->blob.len);
	assert_memory_equal(re.d, v->blob.d, re.len);
	need_hex(v, "leaf", leaf, sizeof(leaf));
	assert_int_equal(tlog_leaf_hash(v->blob.d, v->blob.len, got), SB_OK);
	assert_memory_equal(got, leaf, sizeof(leaf));
	sb_buf_free(&der);
	sb_buf_free(&sig);
	sb_buf_free(&re);
}

static void
case_tree(struct vec *v)
{
	struct tlog_tree *t = NULL;
	struct sb_buf d = SB_BUF_INIT;
	uint8_t want[TLOG_HASH_LEN], got[TLOG_HASH_LEN], leaf[TLOG_HASH_LEN];
	uint8_t root_m[TLOG_HASH_LEN], root_n[TLOG_HASH_LEN];
	uint8_t wp[TLOG_MAX_PROOF][TLOG_HASH_LEN], gp[TLOG_MAX_PROOF][TLOG_HASH_LEN];
	size_t count = need_u64(v, "leaves.count"), n, i, m, wl, gl;
	char k[64];

	check_expect(v, SB_OK);
	assert_int_equal(tlog_tree_new(&t), SB_OK);
	for (i = 0; i < count; i++) {
		snprintf(k, sizeof(k), "leaf.%zu", i);
		sb_buf_truncate(&d, 0);
		need_bytes(v, k, &d);
		assert_int_equal(tlog_leaf_hash(d.d, d.len, leaf), SB_OK);
		assert_int_equal(tlog_tree_append(t, leaf), SB_OK);
	}
	for (n = 0; n <= count; n++) {
		snprintf(k, sizeof(k), "root.%zu", n);
		need_hex(v, k, want, sizeof(want));
		assert_int_equal(tlog_tree_root(t, n, got), SB_OK);
		if (memcmp(got, want, sizeof(want)) != 0)
			fail_msg("%s: root of size %zu differs", v->name, n);
	}
	for (n = 1; n <= count; n++) {
		assert_int_equal(tlog_tree_root(t, n, root_n), SB_OK);
		for (i = 0; i < n; i++) {
			snprintf(k, sizeof(k), "inclusion.%zu.%zu", n, i);
			wl = need_hashes(v, k, wp);
			assert_int_equal(tlog_tree_inclusion(t, i, n, gp, &gl), SB_OK);
			if (gl != wl || (gl && memcmp(gp, wp, gl * TLOG_HASH_LEN) != 0))
				fail_msg("%s: %s differs", v->name, k);
			assert_int_equal(tlog_tree_leaf(t, i, leaf), SB_OK);
			assert_int_equal(tlog_verify_inclusion(i, n, leaf, wp, wl, root_n), SB_OK);
		}
		for (m = 1; m <= n; m++) {
			snprintf(k, sizeof(k), "consistency.%zu.%zu", m, n);
			wl = need_hashes(v, k, wp);
			assert_int_equal(tlog_tree_consistency(t, m, n, gp, &gl), SB_OK);
			if (gl != wl || (gl && memcmp(gp, wp, gl * TLOG_HASH_LEN) != 0))
				fail_msg("%s: %s differs", v->name, k);
			assert_int_equal(tlog_tree_root(t, m, root_m), SB_OK);
			assert_int_equal(tlog_verify_consistency(m, n, root_m, root_n, wp, wl),
			    SB_OK);
		}
	}
	tlog_tree_free(t);
	sb_buf_free(&d);
}

/* The log key's public point, from keys/NAME/sign.pem. */
static void
log_point(const char *name, uint8_t key[TLOG_KEY_LEN])
{
	struct crypto_key *k = sign_key_of(name);

	assert_int_equal(crypto_key_public_point(k, key), SB_OK);
	crypto_key_free(k);
}

static void
case_sth(struct vec *v)
{
	struct tlog_sth s;
	struct sb_buf re = SB_BUF_INIT;
	uint8_t key[TLOG_KEY_LEN], id[TLOG_HASH_LEN], want[TLOG_HASH_LEN];
	int rc;

	log_point(need(v, "key"), key);
	assert_int_equal(tlog_key_fingerprint(key, id), SB_OK);
	need_hex(v, "log_id", want, sizeof(want));
	assert_memory_equal(id, want, sizeof(want));
	rc = tlog_sth_open(key, v->blob.d, v->blob.len, &s);
	check_expect(v, rc);
	need_hex(v, "root", want, sizeof(want));
	if (rc == SB_ERR_SIGNATURE || (rc == SB_ERR_FORMAT &&
	    tlog_sth_parse(v->blob.d, v->blob.len, &s) == SB_OK)) {
		/* It parsed: the fields are as named, only the proof is wrong. */
		assert_int_equal(tlog_sth_parse(v->blob.d, v->blob.len, &s), SB_OK);
		assert_int_equal(s.size, need_u64(v, "size"));
		assert_int_equal(s.time, need_u64(v, "time"));
		return;
	}
	(void)need_u64(v, "size");
	(void)need_u64(v, "time");
	if (rc != SB_OK)
		return;
	assert_int_equal(s.size, need_u64(v, "size"));
	assert_int_equal(s.time, need_u64(v, "time"));
	assert_memory_equal(s.root, want, sizeof(want));
	assert_int_equal(tlog_sth_encode(&s, &re), SB_OK);
	assert_int_equal(re.len, v->blob.len);
	assert_memory_equal(re.d, v->blob.d, re.len);
	sb_buf_free(&re);
}

/* approve and remove: our text is theirs, their signature verifies. */
static void
case_signed(struct vec *v, int remove)
{
	struct sb_buf der = SB_BUF_INIT, sder = SB_BUF_INIT, text = SB_BUF_INIT;
	struct sb_buf want = SB_BUF_INIT, sig = SB_BUF_INIT;
	struct crypto_identity *id, *signer;
	uint8_t addr[TLOG_HASH_LEN];
	const char *a = need(v, "address");

	check_expect(v, SB_OK);
	id = identity_of(need(v, "identity"), &der);
	signer = identity_of(need(v, "signer"), &sder);
	assert_int_equal(tlog_addr_hash(a, strlen(a), addr), SB_OK);
	if (remove)
		assert_int_equal(tlog_remove_text(addr, need_u64(v, "device"),
		    crypto_identity_hash(id), &text), SB_OK);
	else
		assert_int_equal(tlog_approve_text(addr, crypto_identity_hash(id), &text),
		    SB_OK);
	need_bytes(v, "text", &want);
	assert_int_equal(text.len, want.len);
	assert_memory_equal(text.d, want.d, want.len);
	need_bytes(v, "sig", &sig);
	assert_int_equal(crypto_verify(signer, text.d, text.len, sig.d, sig.len), SB_OK);
	/* ...and not under the identity it names. */
	assert_int_equal(crypto_verify(id, text.d, text.len, sig.d, sig.len),
	    SB_ERR_SIGNATURE);
	crypto_identity_free(id);
	crypto_identity_free(signer);
	sb_buf_free(&der);
	sb_buf_free(&sder);
	sb_buf_free(&text);
	sb_buf_free(&want);
	sb_buf_free(&sig);
}

static void
case_link(struct vec *v)
{
	struct sb_buf der = SB_BUF_INIT;
	struct crypto_identity *id = identity_of(need(v, "identity"), &der);
	uint8_t h[CRYPTO_HASH_LEN];
	char code[TLOG_LINK_CODE_BUF];

	check_expect(v, SB_OK);
	need_hex(v, "hash", h, sizeof(h));
	assert_memory_equal(crypto_identity_hash(id), h, sizeof(h));
	assert_int_equal(tlog_link_code(h, code), SB_OK);
	assert_string_equal(code, need(v, "code"));
	assert_int_equal(tlog_link_code_match(code, h), SB_OK);
	crypto_identity_free(id);
	sb_buf_free(&der);
}

static void
case_answer(struct vec *v)
{
	struct tlog_answer a;
	struct tlog_proven pe[8];
	struct tlog_served sv[8];
	struct tlog_device dv[8];
	struct sb_buf head = SB_BUF_INIT, ent[8], der[8];
	uint8_t paths[8][TLOG_MAX_PROOF][TLOG_HASH_LEN], key[TLOG_KEY_LEN];
	size_t ne = need_u64(v, "entries.count"), ns = need_u64(v, "served.count"), i;
	char k[64];

	check_expect(v, SB_OK);
	assert_true(ne <= 8 && ns <= 8);
	log_point(need(v, "key"), key);
	memset(&a, 0, sizeof(a));
	need_bytes(v, "head", &head);
	for (i = 0; i < ne; i++) {
		memset(&ent[i], 0, sizeof(ent[i]));
		snprintf(k, sizeof(k), "entry.%zu", i);
		need_bytes(v, k, &ent[i]);
		snprintf(k, sizeof(k), "index.%zu", i);
		pe[i].index = need_u64(v, k);
		pe[i].entry = ent[i].d;
		pe[i].entry_len = ent[i].len;
		snprintf(k, sizeof(k), "path.%zu", i);
		pe[i].path_len = need_hashes(v, k, paths[i]);
		pe[i].path = (const uint8_t (*)[TLOG_HASH_LEN])paths[i];
	}
	for (i = 0; i < ns; i++) {
		const char *s;

		snprintf(k, sizeof(k), "served.%zu", i);
		s = need(v, k);
		memset(&der[i], 0, sizeof(der[i]));
		sv[i].id = strtoull(s, NULL, 10);
		key_file(strchr(s, ':') + 1, "identity.der", &der[i]);
		sv[i].identity = der[i].d;
		sv[i].identity_len = der[i].len;
	}
	a.key = key;
	a.address = need(v, "address");
	a.head = head.d;
	a.head_len = head.len;
	a.entries = pe;
	a.n_entries = ne;
	a.served = sv;
	a.n_served = ns;
	a.devices = dv;
	if (tlog_check_answer(&a) != SB_OK)
		fail_msg("%s: refused: %s", v->name, a.why);
	for (i = 0; i < ns; i++) {
		assert_int_equal(dv[i].id, sv[i].id);
		snprintf(k, sizeof(k), "device.%zu.approver", i);
		assert_int_equal(dv[i].approver, need_u64(v, k));
		snprintf(k, sizeof(k), "device.%zu.unapproved", i);
		assert_int_equal(dv[i].unapproved, need_u64(v, k));
	}
	for (i = 0; i < ne; i++)
		sb_buf_free(&ent[i]);
	for (i = 0; i < ns; i++)
		sb_buf_free(&der[i]);
	sb_buf_free(&head);
}

static void
run_one(const char *name)
{
	struct vec v;
	const char *c;

	vec_load(&v, name);
	assert_string_equal(need(&v, "kind"), "tlog");
	(void)field(&v, "comment");
	c = need(&v, "case");
	if (strcmp(c, "addr") == 0)
		case_addr(&v);
	else if (strcmp(c, "entry") == 0)
		case_entry(&v);
	else if (strcmp(c, "tree") == 0)
		case_tree(&v);
	else if (strcmp(c, "sth") == 0)
		case_sth(&v);
	else if (strcmp(c, "approve") == 0)
		case_signed(&v, 0);
	else if (strcmp(c, "remove") == 0)
		case_signed(&v, 1);
	else if (strcmp(c, "link") == 0)
		case_link(&v);
	else if (strcmp(c, "answer") == 0)
		case_answer(&v);
	else
		fail_msg("%s: unknown case %s", name, c);
	all_used(&v);
	vec_free(&v);
}

static void
test_tlog_vectors_all(void **state)
{
	char *index = slurp(VEC_DIR "INDEX", NULL), *line, *save = NULL;
	size_t n = 0;

	(void)state;
	for (line = strtok_r(index, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "tlog-", 5) != 0)
			continue;
		run_one(line);
		n++;
	}
	free(index);
	assert_int_equal(n, N_TLOG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tlog_vectors_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
