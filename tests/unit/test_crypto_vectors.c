/*
 * test_crypto_vectors.c - known-answer tests against tests/vectors/, which
 * tests/vectors/gen.py writes from an independent implementation (Python
 * `cryptography`).  Every vector listed in tests/vectors/INDEX is checked;
 * a missing or unreadable vector fails the test.  Runs with cwd = repo top.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/sberr.h"
#include "crypto/crypto.h"
#include "crypto/internal.h"

#include "vecfile.h"

static int
expect_code(struct vec *v)
{
	static const struct { const char *n; int rc; } map[] = {
		{ "ok", SB_OK }, { "truncated", SB_ERR_TRUNCATED },
		{ "trailing", SB_ERR_TRAILING }, { "length", SB_ERR_LENGTH },
		{ "format", SB_ERR_FORMAT }, { "signature", SB_ERR_SIGNATURE },
		{ "unwrap", SB_ERR_UNWRAP }, { "tag", SB_ERR_TAG },
		{ "key_type", SB_ERR_KEY_TYPE }, { "key_invalid", SB_ERR_KEY_INVALID },
	};
	const char *e = need(v, "expect");
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].n, e) == 0)
			return map[i].rc;
	fail_msg("%s: unknown expect '%s'", v->name, e);
	return 0;
}

/* Checks that field k's hex equals (p, n). */
static void
hex_equal(struct vec *v, const char *k, const uint8_t *p, size_t n)
{
	struct sb_buf b = SB_BUF_INIT;

	need_unhex(v, k, &b);
	if (b.len != n || (n > 0 && memcmp(b.d, p, n) != 0))
		fail_msg("%s: %s differs", v->name, k);
	sb_buf_free(&b);
}

static struct crypto_key *
load_key(const char *dev, const char *file)
{
	struct crypto_key *k;
	char path[256];
	size_t len;
	char *pem;

	snprintf(path, sizeof(path), VEC_DIR "keys/%s/%s", dev, file);
	pem = slurp(path, &len);
	assert_int_equal(crypto_key_from_pkcs8_pem((uint8_t *)pem, len, &k), SB_OK);
	free(pem);
	return k;
}

static struct crypto_identity *
load_identity(const char *dev)
{
	struct crypto_identity *id;
	char path[256];
	size_t len;
	char *der;

	snprintf(path, sizeof(path), VEC_DIR "keys/%s/identity.der", dev);
	der = slurp(path, &len);
	assert_int_equal(crypto_identity_parse((uint8_t *)der, len, &id), SB_OK);
	free(der);
	return id;
}

/* Calls fn for each INDEX entry starting with prefix; returns the count. */
static size_t
for_each(const char *prefix, void (*fn)(struct vec *))
{
	size_t len, n = 0;
	char *index = slurp(VEC_DIR "INDEX", &len), *line, *save = NULL;

	for (line = strtok_r(index, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		struct vec v;

		if (strncmp(line, prefix, strlen(prefix)) != 0)
			continue;
		vec_load(&v, line);
		fn(&v);
		vec_free(&v);
		n++;
	}
	free(index);
	return n;
}

/* ---- identities --------------------------------------------------------- */

static void
check_identity(struct vec *v)
{
	struct crypto_identity *id = NULL, *mine = NULL;
	struct crypto_key *sk, *ek;
	const char *keys = field(v, "keys");
	const uint8_t *der;
	size_t der_len;
	int rc = crypto_identity_parse(v->blob.d, v->blob.len, &id);

	if (rc != expect_code(v))
		fail_msg("%s: parse gave %d (%s), expected %s", v->name, rc,
		    sb_strerror(rc), need(v, "expect"));
	if (rc != SB_OK) {
		assert_null(id);
		return;
	}
	hex_equal(v, "hash", crypto_identity_hash(id), CRYPTO_HASH_LEN);
	assert_int_equal(crypto_identity_suite(id),
	    strcmp(need(v, "suite"), "ec") == 0 ? CRYPTO_SUITE_EC : CRYPTO_SUITE_PAIR);
	if (keys != NULL) {
		/* Our encoder, from the PKCS#8 keys, must give the same bytes. */
		sk = load_key(keys, "sign.pem");
		ek = load_key(keys, "encrypt.pem");
		assert_int_equal(crypto_identity_from_keys(sk, ek, &mine), SB_OK);
		crypto_identity_der(mine, &der, &der_len);
		assert_int_equal(der_len, v->blob.len);
		assert_memory_equal(der, v->blob.d, der_len);
		assert_true(crypto_identity_matches(id, sk, ek));
		crypto_identity_free(mine);
		crypto_key_free(sk);
		crypto_key_free(ek);
	}
	crypto_identity_free(id);
}

static void
test_crypto_vectors_identity(void **state)
{
	(void)state;
	assert_true(for_each("identity-", check_identity) >= 20);
}

/* ---- payloads ----------------------------------------------------------- */

/* With the vector's seed (and ephemeral key), our seal must reproduce K, C
 * and, for suite ec, the exact body; and what we seal must open. */
static void
check_seeded(struct vec *v, const struct crypto_key *ssign,
    const struct crypto_identity *s, const struct crypto_key *renc,
    const struct crypto_identity *r, const struct sb_buf *m)
{
	struct sb_buf seed = SB_BUF_INIT, p = SB_BUF_INIT, back = SB_BUF_INIT;
	struct crypto_key *eph = NULL;
	uint8_t k[CRYPTO_MSG_KEY_LEN];
	uint8_t *c = malloc(m->len + 1);
	const char *ephname = field(v, "eph");

	assert_non_null(c);
	need_unhex(v, "seed", &seed);
	assert_int_equal(seed.len, CRYPTO_SEED_LEN);
	assert_int_equal(crypto_msg_key(seed.d, m->d, m->len, crypto_identity_hash(s),
	    crypto_identity_hash(r), k), SB_OK);
	hex_equal(v, "K", k, sizeof(k));
	assert_int_equal(crypto_ctr128(k, m->d, c, m->len), SB_OK);
	hex_equal(v, "C", c, m->len);
	if (ephname != NULL)
		eph = load_key(ephname, "encrypt.pem");
	assert_int_equal(crypto_seal_with_seed(ssign, s, r, m->d, m->len, seed.d, eph, &p),
	    SB_OK);
	if (eph != NULL) {
		size_t body_len = ((size_t)p.d[1] << 8) | p.d[2];

		hex_equal(v, "body", p.d + 3, body_len);
		/* The vector's own payload carries the same body. */
		assert_memory_equal(v->blob.d, p.d, 3 + body_len);
	}
	assert_int_equal(crypto_open(renc, r, s, p.d, p.len, &back), SB_OK);
	assert_int_equal(back.len, m->len);
	crypto_key_free(eph);
	free(c);
	sb_buf_free(&seed);
	sb_buf_free(&p);
	sb_buf_free(&back);
}

static void
check_payload(struct vec *v)
{
	const char *sname = need(v, "sender"), *rname = need(v, "recipient");
	struct crypto_identity *s = load_identity(sname), *r = load_identity(rname);
	struct crypto_key *renc = load_key(rname, "encrypt.pem");
	struct crypto_key *ssign = load_key(sname, "sign.pem");
	struct sb_buf plain = SB_BUF_INIT, m = SB_BUF_INIT;
	int rc, want = expect_code(v);

	assert_int_equal(sb_put_bytes(&plain, "pre", 3), SB_OK);
	rc = crypto_open(renc, r, s, v->blob.d, v->blob.len, &plain);
	if (rc != want)
		fail_msg("%s: open gave %d (%s), expected %s", v->name, rc,
		    sb_strerror(rc), need(v, "expect"));
	if (field(v, "message") != NULL)
		need_unhex(v, "message", &m);
	if (rc != SB_OK) {
		assert_int_equal(plain.len, 3);     /* nothing appended */
	} else {
		assert_int_equal(plain.len, 3 + m.len);
		assert_memory_equal(plain.d + 3, m.d, m.len);
	}
	if (field(v, "seed") != NULL)
		check_seeded(v, ssign, s, renc, r, &m);
	sb_buf_free(&plain);
	sb_buf_free(&m);
	crypto_key_free(renc);
	crypto_key_free(ssign);
	crypto_identity_free(s);
	crypto_identity_free(r);
}

static void
test_crypto_vectors_payload(void **state)
{
	(void)state;
	assert_true(for_each("payload-", check_payload) >= 30);
}

/* ---- attachments -------------------------------------------------------- */

static void
check_attach(struct vec *v)
{
	struct sb_buf key = SB_BUF_INIT, pt = SB_BUF_INIT;
	struct crypto_hasher *h;
	uint8_t sha1[CRYPTO_SHA1_LEN], sha256[CRYPTO_SHA256_LEN];
	uint64_t offset = strtoull(need(v, "offset"), NULL, 10);
	uint8_t *out;

	need_unhex(v, "key", &key);
	need_unhex(v, "plaintext", &pt);
	assert_int_equal(key.len, CRYPTO_ATTACH_KEY_LEN);
	assert_int_equal(pt.len, v->blob.len);
	out = malloc(pt.len);
	assert_non_null(out);
	assert_int_equal(crypto_attach_xor(key.d, offset, pt.d, out, pt.len), SB_OK);
	assert_memory_equal(out, v->blob.d, pt.len);
	/* Decrypting is the same operation, in place. */
	assert_int_equal(crypto_attach_xor(key.d, offset, out, out, pt.len), SB_OK);
	assert_memory_equal(out, pt.d, pt.len);
	assert_int_equal(crypto_hasher_new(&h), SB_OK);
	assert_int_equal(crypto_hasher_update(h, v->blob.d, v->blob.len), SB_OK);
	assert_int_equal(crypto_hasher_final(h, sha1, sha256), SB_OK);
	crypto_hasher_free(h);
	hex_equal(v, "sha1", sha1, sizeof(sha1));
	hex_equal(v, "sha256", sha256, sizeof(sha256));
	free(out);
	sb_buf_free(&key);
	sb_buf_free(&pt);
}

static void
test_crypto_vectors_attach(void **state)
{
	(void)state;
	assert_true(for_each("attach-", check_attach) >= 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crypto_vectors_identity),
		cmocka_unit_test(test_crypto_vectors_payload),
		cmocka_unit_test(test_crypto_vectors_attach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
