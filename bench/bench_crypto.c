/*
 * bench_crypto - per-device seal/open timings beside the OpenSSL floor
 * (`make bench`, docs/BENCHMARKS.md).
 *
 * Times crypto_seal/crypto_open for suites pair (RSA-2048) and ec, for 100 B
 * and 4 KiB messages, and the "floor": the same primitives made by the same
 * EVP calls the crypto core uses, with nothing around them (no payload
 * framing, no identity hashing, no buffer management).  Prints one line per
 * figure on stdout, `KEY RUN1 RUN2 ...` in µs per operation, for
 * bench/report.py.  Never writes a key or plaintext anywhere.
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/sberr.h"
#include "../crypto/crypto.h"

#define RUNS 5

static void
die(const char *what)
{
	fprintf(stderr, "bench_crypto: %s failed\n", what);
	exit(1);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ---- the floor: the primitives alone, by the core's own EVP calls -------- */

struct floor_keys {
	EVP_PKEY *rsa;          /* recipient's RSA-2048 key (pair) */
	EVP_PKEY *ecenc;        /* recipient's P-256 encryption key (ec) */
	EVP_PKEY *sign;         /* sender's P-256 signing key */
	uint8_t hs[32], hr[32]; /* stand-ins for H(sender), H(recipient) */
};

static EVP_PKEY *
keygen(const char *alg, const char *arg)
{
	EVP_PKEY *k = strcmp(alg, "RSA") == 0 ?
	    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048) :
	    EVP_PKEY_Q_keygen(NULL, NULL, "EC", arg);

	if (k == NULL)
		die("keygen");
	return k;
}

static void
f_hmac(const uint8_t seed[11], const uint8_t *m, size_t n, const struct floor_keys *fk,
    uint8_t tag[5])
{
	static const uint8_t v2 = 0x02;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	uint8_t full[32];
	size_t full_len;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;

	if (ctx == NULL || EVP_MAC_init(ctx, seed, 11, params) != 1 ||
	    EVP_MAC_update(ctx, m, n) != 1 || EVP_MAC_update(ctx, &v2, 1) != 1 ||
	    EVP_MAC_update(ctx, fk->hs, 32) != 1 || EVP_MAC_update(ctx, fk->hr, 32) != 1 ||
	    EVP_MAC_final(ctx, full, &full_len, sizeof(full)) != 1)
		die("hmac");
	memcpy(tag, full, 5);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
}

static void
f_ctr(const uint8_t k[16], const uint8_t *in, uint8_t *out, size_t n)
{
	static const uint8_t iv[16] = { [15] = 1 };
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl;

	if (ctx == NULL || EVP_EncryptInit_ex2(ctx, EVP_aes_128_ctr(), k, iv, NULL) != 1 ||
	    EVP_EncryptUpdate(ctx, out, &outl, in, (int)n) != 1)
		die("ctr");
	EVP_CIPHER_CTX_free(ctx);
}

static EVP_PKEY_CTX *
f_oaep_ctx(EVP_PKEY *k, int decrypt)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE,
		    (char *)OSSL_PKEY_RSA_PAD_MODE_OAEP, 0),
		OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, (char *)"SHA1", 0),
		OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, (char *)"SHA1", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);

	if (ctx == NULL || (decrypt ? EVP_PKEY_decrypt_init_ex(ctx, params) :
	    EVP_PKEY_encrypt_init_ex(ctx, params)) != 1)
		die("oaep init");
	return ctx;
}

static size_t
f_sign(EVP_PKEY *k, const uint8_t *msg, size_t n, uint8_t sig[80])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t slen = 80;

	if (ctx == NULL || EVP_DigestSignInit_ex(ctx, NULL, "SHA1", NULL, NULL, k, NULL) != 1 ||
	    EVP_DigestSign(ctx, sig, &slen, msg, n) != 1)
		die("sign");
	EVP_MD_CTX_free(ctx);
	return slen;
}

static void
f_verify(EVP_PKEY *k, const uint8_t *msg, size_t n, const uint8_t *sig, size_t slen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL || EVP_DigestVerifyInit_ex(ctx, NULL, "SHA1", NULL, NULL, k, NULL) != 1 ||
	    EVP_DigestVerify(ctx, sig, slen, msg, n) != 1)
		die("verify");
	EVP_MD_CTX_free(ctx);
}

/* ECDH(priv, peer) -> HKDF-SHA256 -> 32-byte wrap key. */
static void
f_ecdh_hkdf(EVP_PKEY *priv, EVP_PKEY *peer, const struct floor_keys *fk,
    const uint8_t point[65], uint8_t wk[32])
{
	uint8_t z[32], salt[64], info[16 + 65];
	size_t zlen = sizeof(z);
	EVP_PKEY_CTX *d = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx;
	OSSL_PARAM params[5], *p = params;

	if (d == NULL || EVP_PKEY_derive_init(d) != 1 || EVP_PKEY_derive_set_peer(d, peer) != 1 ||
	    EVP_PKEY_derive(d, z, &zlen) != 1)
		die("ecdh");
	EVP_PKEY_CTX_free(d);
	memcpy(salt, fk->hs, 32);
	memcpy(salt + 32, fk->hr, 32);
	memcpy(info, "sealbox-ecies-v1", 16);
	memcpy(info + 16, point, 65);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z, zlen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof(salt));
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info));
	*p = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL || EVP_KDF_derive(kctx, wk, 32, params) != 1)
		die("hkdf");
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	OPENSSL_cleanse(z, sizeof(z));
}

static void
f_gcm(int enc, const uint8_t wk[32], const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[16])
{
	static const uint8_t nonce[12];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	OSSL_PARAM params[2] = { OSSL_PARAM_END, OSSL_PARAM_END };
	uint8_t last[16];
	int outl;

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, 16);
	if (ctx == NULL || EVP_CipherInit_ex2(ctx, EVP_aes_256_gcm(), wk, nonce, enc, NULL) != 1 ||
	    EVP_CipherUpdate(ctx, out, &outl, in, (int)n) != 1 ||
	    (!enc && EVP_CIPHER_CTX_set_params(ctx, params) != 1) ||
	    EVP_CipherFinal_ex(ctx, last, &outl) != 1 ||
	    (enc && EVP_CIPHER_CTX_get_params(ctx, params) != 1))
		die("gcm");
	EVP_CIPHER_CTX_free(ctx);
}

static void
point_of(EVP_PKEY *k, uint8_t point[65])
{
	size_t len = 0;

	if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
	    point, 65, &len) != 1 || len != 65)
		die("point");
}

static EVP_PKEY *
from_point(const uint8_t point[65])
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, 65),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;

	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		die("fromdata");
	EVP_PKEY_CTX_free(ctx);
	return k;
}

/* One floor message: what seal does, reduced to its primitives.  The
 * outputs land in st for the matching open. */
struct floor_msg {
	uint8_t k[16];          /* seed || tag */
	uint8_t body[4096 + 512];
	size_t body_len;
	uint8_t sig[80];
	size_t sig_len;
};

/* noinline: the profiler collects inside this function by name. */
static __attribute__((noinline)) void
floor_seal(const struct floor_keys *fk, int ec, const uint8_t *m, size_t n,
    struct floor_msg *st)
{
	uint8_t c[4096], kc[16 + 100];
	size_t n0 = n < 100 ? n : 100, wrapped, outlen;

	if (RAND_priv_bytes(st->k, 11) != 1)
		die("rand");
	f_hmac(st->k, m, n, fk, st->k + 11);
	f_ctr(st->k, m, c, n);
	memcpy(kc, st->k, 16);
	memcpy(kc + 16, c, n0);
	if (!ec) {
		EVP_PKEY_CTX *ctx = f_oaep_ctx(fk->rsa, 0);

		outlen = 256;
		if (EVP_PKEY_encrypt(ctx, st->body, &outlen, kc, 16 + n0) != 1)
			die("oaep encrypt");
		EVP_PKEY_CTX_free(ctx);
		wrapped = outlen;
	} else {
		EVP_PKEY *eph = keygen("EC", "P-256");
		uint8_t wk[32];

		point_of(eph, st->body);
		f_ecdh_hkdf(eph, fk->ecenc, fk, st->body, wk);
		f_gcm(1, wk, kc, 16 + n0, st->body + 65, st->body + 65 + 16 + n0);
		EVP_PKEY_free(eph);
		OPENSSL_cleanse(wk, sizeof(wk));
		wrapped = 65 + 16 + n0 + 16;
	}
	memcpy(st->body + wrapped, c + n0, n - n0);
	st->body_len = wrapped + n - n0;
	st->sig_len = f_sign(fk->sign, st->body, st->body_len, st->sig);
}

static void
floor_open(const struct floor_keys *fk, int ec, size_t n, const struct floor_msg *st)
{
	uint8_t kc[256], c[4096], m[4096], tag[5];
	size_t n0 = n < 100 ? n : 100, wrapped, outlen = sizeof(kc);

	f_verify(fk->sign, st->body, st->body_len, st->sig, st->sig_len);
	if (!ec) {
		EVP_PKEY_CTX *ctx = f_oaep_ctx(fk->rsa, 1);

		if (EVP_PKEY_decrypt(ctx, kc, &outlen, st->body, 256) != 1 || outlen != 16 + n0)
			die("oaep decrypt");
		EVP_PKEY_CTX_free(ctx);
		wrapped = 256;
	} else {
		EVP_PKEY *eph = from_point(st->body);
		uint8_t wk[32], gtag[16];

		f_ecdh_hkdf(fk->ecenc, eph, fk, st->body, wk);
		memcpy(gtag, st->body + 65 + 16 + n0, 16);
		f_gcm(0, wk, st->body + 65, 16 + n0, kc, gtag);
		EVP_PKEY_free(eph);
		OPENSSL_cleanse(wk, sizeof(wk));
		wrapped = 65 + 16 + n0 + 16;
	}
	memcpy(c, kc + 16, n0);
	memcpy(c + n0, st->body + wrapped, n - n0);
	f_ctr(kc, c, m, n);
	f_hmac(kc, m, n, fk, tag);
	if (CRYPTO_memcmp(tag, kc + 11, 5) != 0)
		die("floor tag");
	OPENSSL_cleanse(m, n);
	OPENSSL_cleanse(kc, sizeof(kc));
}

/* ---- the product's own seal/open ---------------------------------------- */

struct dev {
	struct crypto_key *sign, *enc;
	struct crypto_identity *id;
};

static void
dev_make(enum crypto_suite suite, struct dev *d)
{
	if (crypto_key_generate_sign(&d->sign) != SB_OK ||
	    crypto_key_generate_encrypt(suite, CRYPTO_RSA_BITS_DEFAULT, &d->enc) != SB_OK ||
	    crypto_identity_from_keys(d->sign, d->enc, &d->id) != SB_OK)
		die("device keys");
}

static void
dev_free(struct dev *d)
{
	crypto_identity_free(d->id);
	crypto_key_free(d->sign);
	crypto_key_free(d->enc);
}

/* ---- timing ------------------------------------------------------------- */

/* Ops per run, so a run of the slowest operation stays near 0.1 s. */
static int ops_div = 1;         /* --quick: a tenth of the work */

static int
ops_for(int ec, int open)
{
	if (!ec)
		return (open ? 150 : 1000) / ops_div;
	return (open ? 400 : 600) / ops_div;
}

static void
print_runs(const char *key, const double *v)
{
	int i;

	printf("%s", key);
	for (i = 0; i < RUNS; i++)
		printf(" %.2f", v[i]);
	printf("\n");
	fflush(stdout);
}

static void
bench_suite(int ec, size_t n, const struct floor_keys *fk)
{
	const char *sname = ec ? "ec" : "pair";
	struct dev s, r;
	uint8_t m[4096];
	struct sb_buf payload = SB_BUF_INIT, plain = SB_BUF_INIT;
	struct floor_msg fm;
	double seal[RUNS], open[RUNS], fseal[RUNS], fopen[RUNS], t;
	char key[64];
	int run, i, ops_s = ops_for(ec, 0), ops_o = ops_for(ec, 1);

	dev_make(CRYPTO_SUITE_EC, &s);
	dev_make(ec ? CRYPTO_SUITE_EC : CRYPTO_SUITE_PAIR, &r);
	if (RAND_bytes(m, (int)n) != 1)
		die("rand");
	/* Interleave product and floor runs so drift in machine load hits
	 * both alike. */
	for (run = 0; run < RUNS; run++) {
		t = now_us();
		for (i = 0; i < ops_s; i++) {
			sb_buf_truncate(&payload, 0);
			if (crypto_seal(s.sign, s.id, r.id, m, n, &payload) != SB_OK)
				die("crypto_seal");
		}
		seal[run] = (now_us() - t) / ops_s;
		t = now_us();
		for (i = 0; i < ops_o; i++) {
			sb_buf_truncate(&plain, 0);
			if (crypto_open(r.enc, r.id, s.id, payload.d, payload.len, &plain) != SB_OK ||
			    plain.len != n)
				die("crypto_open");
		}
		open[run] = (now_us() - t) / ops_o;
		t = now_us();
		for (i = 0; i < ops_s; i++)
			floor_seal(fk, ec, m, n, &fm);
		fseal[run] = (now_us() - t) / ops_s;
		t = now_us();
		for (i = 0; i < ops_o; i++)
			floor_open(fk, ec, n, &fm);
		fopen[run] = (now_us() - t) / ops_o;
	}
	snprintf(key, sizeof(key), "seal.%s.%zu", sname, n);
	print_runs(key, seal);
	snprintf(key, sizeof(key), "floor.seal.%s.%zu", sname, n);
	print_runs(key, fseal);
	snprintf(key, sizeof(key), "open.%s.%zu", sname, n);
	print_runs(key, open);
	snprintf(key, sizeof(key), "floor.open.%s.%zu", sname, n);
	print_runs(key, fopen);
	sb_buf_free(&payload);
	sb_buf_free(&plain);
	dev_free(&s);
	dev_free(&r);
}

int
main(int argc, char **argv)
{
	struct floor_keys fk;
	/* --quick pair|ec SIZE: that one case with a tenth of the operations,
	 * the profiler's reduced run. */
	int quick = argc > 3 && strcmp(argv[1], "--quick") == 0;

	if (quick)
		ops_div = 10;

	fk.rsa = keygen("RSA", NULL);
	fk.ecenc = keygen("EC", "P-256");
	fk.sign = keygen("EC", "P-256");
	if (RAND_bytes(fk.hs, 32) != 1 || RAND_bytes(fk.hr, 32) != 1)
		die("rand");
	if (quick) {
		bench_suite(strcmp(argv[2], "ec") == 0, strtoul(argv[3], NULL, 10) > 100 ? 4096 : 100, &fk);
	} else {
		bench_suite(0, 100, &fk);
		bench_suite(0, 4096, &fk);
		bench_suite(1, 100, &fk);
		bench_suite(1, 4096, &fk);
	}
	EVP_PKEY_free(fk.rsa);
	EVP_PKEY_free(fk.ecenc);
	EVP_PKEY_free(fk.sign);
	return 0;
}
