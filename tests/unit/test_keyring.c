/*
 * test_keyring.c - keyring/ against a real gnome-keyring-daemon.
 *
 * Must run under scripts/with-keyring (scripts/run-tests.sh does that): the
 * program refuses to touch a session bus that with-keyring did not create,
 * so it can never write into, lock or re-alias a desktop user's keyring,
 * and it fails (never skips) when there is no Secret Service.
 *
 * The "no Secret Service" cases re-execute this binary with a broken bus
 * environment (libsecret and GDBus cache their connection, so only a fresh
 * process sees a different bus).  The locked-collection case creates its
 * own collection with a known password through gnome-keyring's
 * InternalUnsupportedGuiltRiddenInterface, makes it the default, locks it
 * with the standard Lock call and unlocks it with the password (the
 * standard Unlock would need a prompt).
 */
#define SECRET_API_SUBJECT_TO_CHANGE 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <libsecret/secret.h>
#include <openssl/crypto.h>

#include "common/sberr.h"
#include "common/wire.h"
#include "crypto/crypto.h"
#include "keyring/keyring.h"

extern char **environ;

#define CHILD_FLAG  "--no-service-child"
#define TEST_PW     "sealbox-test-collection-password"
#define GKR_IFACE   "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"
#define LOGIN_PATH  "/org/freedesktop/secrets/collection/login"

/* The same schema as keyring.c, for planting items behind its back. */
static const SecretSchema schema = {
	"org.sealbox.DeviceKey", SECRET_SCHEMA_NONE,
	{
		{ "application", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "address",     SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "device-id",   SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "purpose",     SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ NULL, 0 },
	},
	0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

/* ---- helpers ------------------------------------------------------------ */

static struct crypto_key *
new_sign_key(void)
{
	struct crypto_key *k = NULL;

	assert_int_equal(crypto_key_generate_sign(&k), SB_OK);
	return k;
}

static struct crypto_key *
new_enc_key(enum crypto_suite suite)
{
	struct crypto_key *k = NULL;

	assert_int_equal(crypto_key_generate_encrypt(suite, CRYPTO_RSA_BITS_DEFAULT, &k), SB_OK);
	return k;
}

/* Asserts a and b encode to the same PKCS#8 DER. */
static void
assert_same_key(const struct crypto_key *a, const struct crypto_key *b)
{
	struct sb_buf da = SB_BUF_INIT, db = SB_BUF_INIT;

	assert_int_equal(crypto_key_to_pkcs8_der(a, &da), SB_OK);
	assert_int_equal(crypto_key_to_pkcs8_der(b, &db), SB_OK);
	assert_int_equal(da.len, db.len);
	assert_memory_equal(da.d, db.d, da.len);
	sb_buf_free(&da);
	sb_buf_free(&db);
}

static void
assert_different_key(const struct crypto_key *a, const struct crypto_key *b)
{
	struct sb_buf da = SB_BUF_INIT, db = SB_BUF_INIT;

	assert_int_equal(crypto_key_to_pkcs8_der(a, &da), SB_OK);
	assert_int_equal(crypto_key_to_pkcs8_der(b, &db), SB_OK);
	assert_false(da.len == db.len && memcmp(da.d, db.d, da.len) == 0);
	sb_buf_free(&da);
	sb_buf_free(&db);
}

static struct crypto_key *
load_ok(const char *addr, const char *dev, enum keyring_purpose p)
{
	struct crypto_key *k = NULL;
	int r = keyring_load(addr, dev, p, &k);

	if (r != SB_OK)
		fprintf(stderr, "keyring_load(%s, %s): %s [%s]\n", addr, dev,
		    sb_strerror(r), keyring_error_detail());
	assert_int_equal(r, SB_OK);
	assert_non_null(k);
	return k;
}

static void
store_ok(const char *addr, const char *dev, enum keyring_purpose p, const struct crypto_key *k)
{
	int r = keyring_store(addr, dev, p, k);

	if (r != SB_OK)
		fprintf(stderr, "keyring_store(%s, %s): %s [%s]\n", addr, dev,
		    sb_strerror(r), keyring_error_detail());
	assert_int_equal(r, SB_OK);
}

/* Number of items of our schema with these attributes, locked or not. */
static unsigned
count_items(const char *addr, const char *dev, const char *purpose)
{
	GError *err = NULL;
	SecretService *svc = secret_service_get_sync(SECRET_SERVICE_NONE, NULL, &err);
	GHashTable *attrs = secret_attributes_build(&schema, "application", "sealbox",
	    "address", addr, "device-id", dev, "purpose", purpose, NULL);
	GList *items;
	unsigned n;

	assert_non_null(svc);
	items = secret_service_search_sync(svc, &schema, attrs, SECRET_SEARCH_ALL, NULL, &err);
	assert_null(err);
	n = g_list_length(items);
	g_list_free_full(items, g_object_unref);
	g_hash_table_unref(attrs);
	g_object_unref(svc);
	return n;
}

/* Seals "hello" from sender to recipient and opens it again with the other
 * side's key: the keys work together exactly as the originals did. */
static void
assert_seal_open(const struct crypto_key *seal_sign, const struct crypto_key *open_enc,
    const struct crypto_identity *id)
{
	static const uint8_t m[] = "keys from the keyring work";
	struct sb_buf payload = SB_BUF_INIT, plain = SB_BUF_INIT;

	assert_int_equal(crypto_seal(seal_sign, id, id, m, sizeof(m), &payload), SB_OK);
	assert_int_equal(crypto_open(open_enc, id, id, payload.d, payload.len, &plain), SB_OK);
	assert_int_equal(plain.len, sizeof(m));
	assert_memory_equal(plain.d, m, sizeof(m));
	sb_buf_free(&payload);
	sb_buf_free(&plain);
}

static void
assert_sign_verify(const struct crypto_key *sign, const struct crypto_identity *id)
{
	static const uint8_t challenge[] = "relay challenge 0123456789";
	struct sb_buf sig = SB_BUF_INIT;

	assert_int_equal(crypto_sign(sign, challenge, sizeof(challenge), &sig), SB_OK);
	assert_int_equal(crypto_verify(id, challenge, sizeof(challenge), sig.d, sig.len), SB_OK);
	/* and it is a real check */
	assert_int_equal(crypto_verify(id, challenge, sizeof(challenge) - 1, sig.d, sig.len),
	    SB_ERR_SIGNATURE);
	sb_buf_free(&sig);
}

/* ---- setup ---------------------------------------------------------------- */

static int
group_setup(void **state)
{
	(void)state;
	/* Before any key exists, so private BIGNUMs land in the secure heap. */
	return keyring_init() == SB_OK ? 0 : -1;
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_keyring_private_bus(void **state)
{
	const char *bus = getenv("DBUS_SESSION_BUS_ADDRESS");
	const char *marker = getenv("SEALBOX_WITH_KEYRING_BUS");
	SecretService *svc;

	(void)state;
	assert_non_null(bus);
	assert_non_null(marker);
	assert_string_equal(bus, marker);
	assert_int_equal(keyring_probe(), SB_OK);
	assert_string_equal(keyring_error_detail(), "");
	/* Secrets cross the bus encrypted (docs/KEYRING.md, locked memory). */
	svc = secret_service_get_sync(SECRET_SERVICE_OPEN_SESSION, NULL, NULL);
	assert_non_null(svc);
	assert_string_equal(secret_service_get_session_algorithms(svc),
	    "dh-ietf1024-sha256-aes128-cbc-pkcs7");
	g_object_unref(svc);
}

static void
test_keyring_secure_heap(void **state)
{
	struct crypto_key *k = new_sign_key();
	size_t before;

	(void)state;
	assert_true(CRYPTO_secure_malloc_initialized());
	assert_int_equal(keyring_memory_locked(), 1);
	store_ok("heap@example.com", "dev", KEYRING_PURPOSE_SIGN, k);
	crypto_key_free(k);
	before = CRYPTO_secure_used();
	k = load_ok("heap@example.com", "dev", KEYRING_PURPOSE_SIGN);
	/* The loaded private scalar lives in the locked heap ... */
	assert_true(CRYPTO_secure_used() > before);
	crypto_key_free(k);
	/* ... and leaves it when the key is freed. */
	assert_true(CRYPTO_secure_used() == before);
	assert_int_equal(keyring_delete("heap@example.com", "dev", KEYRING_PURPOSE_SIGN), SB_OK);
}

static void
roundtrip(enum crypto_suite suite, const char *addr)
{
	struct crypto_key *sign = new_sign_key(), *enc = new_enc_key(suite);
	struct crypto_key *lsign, *lenc;
	struct crypto_identity *id = NULL, *lid = NULL;
	const uint8_t *d1, *d2;
	size_t n1, n2;

	store_ok(addr, "phone", KEYRING_PURPOSE_SIGN, sign);
	store_ok(addr, "phone", KEYRING_PURPOSE_ENCRYPT, enc);
	lsign = load_ok(addr, "phone", KEYRING_PURPOSE_SIGN);
	lenc = load_ok(addr, "phone", KEYRING_PURPOSE_ENCRYPT);
	assert_same_key(sign, lsign);
	assert_same_key(enc, lenc);

	assert_int_equal(crypto_identity_from_keys(sign, enc, &id), SB_OK);
	assert_int_equal(crypto_identity_from_keys(lsign, lenc, &lid), SB_OK);
	crypto_identity_der(id, &d1, &n1);
	crypto_identity_der(lid, &d2, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(d1, d2, n1);
	assert_true(crypto_identity_matches(id, lsign, lenc));

	/* original signer -> loaded decryptor, and the other way round */
	assert_seal_open(sign, lenc, id);
	assert_seal_open(lsign, enc, id);
	assert_sign_verify(lsign, id);

	assert_int_equal(keyring_delete(addr, "phone", KEYRING_PURPOSE_SIGN), SB_OK);
	assert_int_equal(keyring_delete(addr, "phone", KEYRING_PURPOSE_ENCRYPT), SB_OK);
	crypto_identity_free(id);
	crypto_identity_free(lid);
	crypto_key_free(sign);
	crypto_key_free(enc);
	crypto_key_free(lsign);
	crypto_key_free(lenc);
}

static void
test_keyring_roundtrip_pair(void **state)
{
	(void)state;
	roundtrip(CRYPTO_SUITE_PAIR, "pair@example.com");
}

static void
test_keyring_roundtrip_ec(void **state)
{
	(void)state;
	roundtrip(CRYPTO_SUITE_EC, "ec@example.com");
}

static void
test_keyring_overwrite(void **state)
{
	struct crypto_key *a = new_sign_key(), *b = new_sign_key(), *l;

	(void)state;
	store_ok("over@example.com", "d1", KEYRING_PURPOSE_SIGN, a);
	store_ok("over@example.com", "d1", KEYRING_PURPOSE_SIGN, b);
	assert_int_equal(count_items("over@example.com", "d1", "sign"), 1);
	l = load_ok("over@example.com", "d1", KEYRING_PURPOSE_SIGN);
	assert_same_key(l, b);
	assert_different_key(l, a);
	assert_int_equal(keyring_delete("over@example.com", "d1", KEYRING_PURPOSE_SIGN), SB_OK);
	crypto_key_free(a);
	crypto_key_free(b);
	crypto_key_free(l);
}

static void
test_keyring_delete(void **state)
{
	struct crypto_key *k = new_sign_key(), *l = (struct crypto_key *)&l;

	(void)state;
	store_ok("del@example.com", "d1", KEYRING_PURPOSE_SIGN, k);
	assert_int_equal(count_items("del@example.com", "d1", "sign"), 1);
	assert_int_equal(keyring_delete("del@example.com", "d1", KEYRING_PURPOSE_SIGN), SB_OK);
	assert_int_equal(count_items("del@example.com", "d1", "sign"), 0);
	assert_int_equal(keyring_load("del@example.com", "d1", KEYRING_PURPOSE_SIGN, &l),
	    SB_ERR_KEY_MISSING);
	assert_null(l);
	assert_int_equal(keyring_delete("del@example.com", "d1", KEYRING_PURPOSE_SIGN),
	    SB_ERR_KEY_MISSING);
	crypto_key_free(k);
}

static void
test_keyring_missing(void **state)
{
	struct crypto_key *l = NULL;

	(void)state;
	assert_int_equal(keyring_load("nobody@example.com", "d1", KEYRING_PURPOSE_ENCRYPT, &l),
	    SB_ERR_KEY_MISSING);
	assert_null(l);
	assert_non_null(strstr(keyring_error_detail(), "no org.sealbox.DeviceKey item"));
}

/* alice and bob, two devices each, with the same device ids: every one of
 * the eight items comes back as its own key, and deleting one touches no
 * other. */
static void
test_keyring_two_addresses_two_devices(void **state)
{
	static const char *addrs[2] = { "alice@example.com", "bob@example.com" };
	static const char *devs[2] = { "dev-1", "dev-2" };
	struct crypto_key *sign[2][2], *enc[2][2], *l;
	int a, d;

	(void)state;
	for (a = 0; a < 2; a++)
		for (d = 0; d < 2; d++) {
			sign[a][d] = new_sign_key();
			enc[a][d] = new_enc_key(CRYPTO_SUITE_EC);
			store_ok(addrs[a], devs[d], KEYRING_PURPOSE_SIGN, sign[a][d]);
			store_ok(addrs[a], devs[d], KEYRING_PURPOSE_ENCRYPT, enc[a][d]);
		}
	for (a = 0; a < 2; a++)
		for (d = 0; d < 2; d++) {
			l = load_ok(addrs[a], devs[d], KEYRING_PURPOSE_SIGN);
			assert_same_key(l, sign[a][d]);
			assert_different_key(l, sign[!a][d]);
			assert_different_key(l, sign[a][!d]);
			crypto_key_free(l);
			l = load_ok(addrs[a], devs[d], KEYRING_PURPOSE_ENCRYPT);
			assert_same_key(l, enc[a][d]);
			crypto_key_free(l);
		}
	assert_int_equal(keyring_delete(addrs[0], devs[0], KEYRING_PURPOSE_SIGN), SB_OK);
	l = load_ok(addrs[1], devs[0], KEYRING_PURPOSE_SIGN);
	assert_same_key(l, sign[1][0]);
	crypto_key_free(l);
	l = load_ok(addrs[0], devs[0], KEYRING_PURPOSE_ENCRYPT);
	assert_same_key(l, enc[0][0]);
	crypto_key_free(l);
	assert_int_equal(keyring_delete(addrs[0], devs[0], KEYRING_PURPOSE_ENCRYPT), SB_OK);
	for (a = 0; a < 2; a++)
		for (d = 0; d < 2; d++) {
			if (a != 0 || d != 0) {
				assert_int_equal(keyring_delete(addrs[a], devs[d],
				    KEYRING_PURPOSE_SIGN), SB_OK);
				assert_int_equal(keyring_delete(addrs[a], devs[d],
				    KEYRING_PURPOSE_ENCRYPT), SB_OK);
			}
			crypto_key_free(sign[a][d]);
			crypto_key_free(enc[a][d]);
		}
}

/* Plants bytes under our schema with plain libsecret calls. */
static void
plant(const char *addr, const char *purpose, const void *bytes, size_t n)
{
	GError *err = NULL;
	SecretValue *v = secret_value_new(bytes, (gssize)n, "application/octet-stream");
	gboolean ok = secret_password_store_binary_sync(&schema, SECRET_COLLECTION_DEFAULT,
	    "planted", v, NULL, &err, "application", "sealbox", "address", addr,
	    "device-id", "d1", "purpose", purpose, NULL);

	if (!ok)
		fprintf(stderr, "plant: %s\n", err ? err->message : "?");
	assert_true(ok);
	secret_value_unref(v);
}

static void
expect_corrupt(const char *addr, enum keyring_purpose p)
{
	struct crypto_key *l = (struct crypto_key *)&l;

	assert_int_equal(keyring_load(addr, "d1", p, &l), SB_ERR_KEY_CORRUPT);
	assert_null(l);
	assert_int_equal(keyring_delete(addr, "d1", p), SB_OK);
}

static void
test_keyring_corrupt(void **state)
{
	struct crypto_key *rsa = new_enc_key(CRYPTO_SUITE_PAIR), *ec = new_sign_key();
	struct sb_buf der = SB_BUF_INIT;

	(void)state;
	/* A text password where a key should be. */
	assert_true(secret_password_store_sync(&schema, SECRET_COLLECTION_DEFAULT, "planted",
	    "not a key at all", NULL, NULL, "application", "sealbox",
	    "address", "text@example.com", "device-id", "d1", "purpose", "sign", NULL));
	expect_corrupt("text@example.com", KEYRING_PURPOSE_SIGN);

	/* An RSA key filed as the signing key: decodes, wrong type. */
	assert_int_equal(crypto_key_to_pkcs8_der(rsa, &der), SB_OK);
	plant("rsa-as-sign@example.com", "sign", der.d, der.len);
	expect_corrupt("rsa-as-sign@example.com", KEYRING_PURPOSE_SIGN);
	/* The same bytes are fine as an encryption key. */
	plant("rsa-as-enc@example.com", "encrypt", der.d, der.len);
	crypto_key_free(load_ok("rsa-as-enc@example.com", "d1", KEYRING_PURPOSE_ENCRYPT));
	assert_int_equal(keyring_delete("rsa-as-enc@example.com", "d1",
	    KEYRING_PURPOSE_ENCRYPT), SB_OK);
	sb_buf_free(&der);

	/* A P-256 key cut short, and one with a flipped byte inside. */
	assert_int_equal(crypto_key_to_pkcs8_der(ec, &der), SB_OK);
	plant("cut@example.com", "sign", der.d, der.len - 7);
	expect_corrupt("cut@example.com", KEYRING_PURPOSE_SIGN);
	der.d[der.len / 2] ^= 0x5a;
	plant("flip@example.com", "sign", der.d, der.len);
	expect_corrupt("flip@example.com", KEYRING_PURPOSE_SIGN);
	/* Empty value. */
	plant("empty@example.com", "encrypt", "", 0);
	expect_corrupt("empty@example.com", KEYRING_PURPOSE_ENCRYPT);
	sb_buf_free(&der);
	crypto_key_free(rsa);
	crypto_key_free(ec);
}

static void
test_keyring_invalid_args(void **state)
{
	struct crypto_key *rsa = new_enc_key(CRYPTO_SUITE_PAIR), *l = NULL;
	char long_addr[KEYRING_MAX_ADDRESS + 2];

	(void)state;
	memset(long_addr, 'a', sizeof(long_addr) - 1);
	long_addr[sizeof(long_addr) - 1] = '\0';
	assert_int_equal(keyring_load("", "d1", KEYRING_PURPOSE_SIGN, &l), SB_ERR_INVALID_ARG);
	assert_int_equal(keyring_load(NULL, "d1", KEYRING_PURPOSE_SIGN, &l), SB_ERR_INVALID_ARG);
	assert_int_equal(keyring_load("a@b", "", KEYRING_PURPOSE_SIGN, &l), SB_ERR_INVALID_ARG);
	assert_int_equal(keyring_load("a\xff@b", "d1", KEYRING_PURPOSE_SIGN, &l), SB_ERR_INVALID_ARG);
	assert_int_equal(keyring_load("a@b", "d\n1", KEYRING_PURPOSE_SIGN, &l), SB_ERR_INVALID_ARG);
	assert_int_equal(keyring_load(long_addr, "d1", KEYRING_PURPOSE_SIGN, &l), SB_ERR_INVALID_ARG);
	assert_int_equal(keyring_load("a@b", "d1", (enum keyring_purpose)7, &l), SB_ERR_INVALID_ARG);
	assert_int_equal(keyring_store("a@b", "d1", KEYRING_PURPOSE_SIGN, NULL), SB_ERR_INVALID_ARG);
	assert_null(l);
	/* an RSA key is never a signing key */
	assert_int_equal(keyring_store("a@b", "d1", KEYRING_PURPOSE_SIGN, rsa), SB_ERR_KEY_TYPE);
	assert_int_equal(count_items("a@b", "d1", "sign"), 0);
	assert_string_equal(keyring_purpose_name(KEYRING_PURPOSE_SIGN), "sign");
	assert_string_equal(keyring_purpose_name(KEYRING_PURPOSE_ENCRYPT), "encrypt");
	assert_string_equal(keyring_purpose_name(KEYRING_PURPOSE_STORAGE), "storage");
	assert_null(keyring_purpose_name((enum keyring_purpose)0));
	crypto_key_free(rsa);
}

/* The home's storage key: 32 raw bytes, its own purpose, never crossing
 * with the device keys of the same address and device. */
static void
test_keyring_storage_key(void **state)
{
	uint8_t *k1 = CRYPTO_secure_malloc(KEYRING_STORAGE_KEY_LEN, __FILE__, __LINE__);
	uint8_t *k2 = CRYPTO_secure_malloc(KEYRING_STORAGE_KEY_LEN, __FILE__, __LINE__);
	uint8_t *got = CRYPTO_secure_malloc(KEYRING_STORAGE_KEY_LEN, __FILE__, __LINE__);
	struct crypto_key *sign = new_sign_key(), *l = NULL;

	(void)state;
	assert_non_null(k1);
	assert_non_null(k2);
	assert_non_null(got);
	assert_true(CRYPTO_secure_allocated(got));
	assert_int_equal(crypto_random(k1, KEYRING_STORAGE_KEY_LEN), SB_OK);
	assert_int_equal(crypto_random(k2, KEYRING_STORAGE_KEY_LEN), SB_OK);
	assert_int_equal(keyring_load_storage_key("store@example.com", "d1", got),
	    SB_ERR_KEY_MISSING);

	assert_int_equal(keyring_store_storage_key("store@example.com", "d1", k1), SB_OK);
	store_ok("store@example.com", "d1", KEYRING_PURPOSE_SIGN, sign);
	assert_int_equal(keyring_load_storage_key("store@example.com", "d1", got), SB_OK);
	assert_memory_equal(got, k1, KEYRING_STORAGE_KEY_LEN);
	/* overwrite */
	assert_int_equal(keyring_store_storage_key("store@example.com", "d1", k2), SB_OK);
	assert_int_equal(count_items("store@example.com", "d1", "storage"), 1);
	assert_int_equal(keyring_load_storage_key("store@example.com", "d1", got), SB_OK);
	assert_memory_equal(got, k2, KEYRING_STORAGE_KEY_LEN);
	/* the signing key beside it is untouched */
	l = load_ok("store@example.com", "d1", KEYRING_PURPOSE_SIGN);
	assert_same_key(l, sign);
	crypto_key_free(l);
	l = NULL;
	/* wrong entry points for the purpose */
	assert_int_equal(keyring_load("store@example.com", "d1", KEYRING_PURPOSE_STORAGE, &l),
	    SB_ERR_INVALID_ARG);
	assert_int_equal(keyring_store("store@example.com", "d1", KEYRING_PURPOSE_STORAGE, sign),
	    SB_ERR_INVALID_ARG);
	assert_int_equal(keyring_delete("store@example.com", "d1", KEYRING_PURPOSE_STORAGE), SB_OK);
	assert_int_equal(keyring_load_storage_key("store@example.com", "d1", got),
	    SB_ERR_KEY_MISSING);
	assert_int_equal(keyring_delete("store@example.com", "d1", KEYRING_PURPOSE_SIGN), SB_OK);
	/* a storage item of the wrong length */
	plant("short@example.com", "storage", k1, KEYRING_STORAGE_KEY_LEN - 1);
	assert_int_equal(keyring_load_storage_key("short@example.com", "d1", got),
	    SB_ERR_KEY_CORRUPT);
	assert_int_equal(keyring_delete("short@example.com", "d1", KEYRING_PURPOSE_STORAGE), SB_OK);
	crypto_key_free(sign);
	CRYPTO_secure_clear_free(k1, KEYRING_STORAGE_KEY_LEN, __FILE__, __LINE__);
	CRYPTO_secure_clear_free(k2, KEYRING_STORAGE_KEY_LEN, __FILE__, __LINE__);
	CRYPTO_secure_clear_free(got, KEYRING_STORAGE_KEY_LEN, __FILE__, __LINE__);
}

/* Several threads loading and storing at once (the agent's FUSE threads
 * may): each thread's answers are its own. */
#define THREADS 4
#define ROUNDS  5

struct thread_arg {
	char dev[16];
	struct crypto_key *key;
	int failures;
};

static void *
load_loop(void *p)
{
	struct thread_arg *a = p;
	struct crypto_key *l;
	struct sb_buf d1 = SB_BUF_INIT, d2 = SB_BUF_INIT;
	int i;

	if (crypto_key_to_pkcs8_der(a->key, &d1) != SB_OK)
		a->failures++;
	for (i = 0; i < ROUNDS; i++) {
		if (keyring_store("threads@example.com", a->dev, KEYRING_PURPOSE_SIGN,
		    a->key) != SB_OK) {
			a->failures++;
			continue;
		}
		l = NULL;
		if (keyring_load("threads@example.com", a->dev, KEYRING_PURPOSE_SIGN, &l) != SB_OK ||
		    crypto_key_to_pkcs8_der(l, &d2) != SB_OK || d1.len != d2.len ||
		    memcmp(d1.d, d2.d, d1.len) != 0)
			a->failures++;
		sb_buf_free(&d2);
		crypto_key_free(l);
	}
	if (keyring_delete("threads@example.com", a->dev, KEYRING_PURPOSE_SIGN) != SB_OK)
		a->failures++;
	sb_buf_free(&d1);
	return NULL;
}

static void
test_keyring_threads(void **state)
{
	pthread_t t[THREADS];
	struct thread_arg a[THREADS];
	int i;

	(void)state;
	for (i = 0; i < THREADS; i++) {
		snprintf(a[i].dev, sizeof(a[i].dev), "dev-%d", i);
		a[i].key = new_sign_key();
		a[i].failures = 0;
	}
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, load_loop, &a[i]), 0);
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(a[i].failures, 0);
		crypto_key_free(a[i].key);
	}
}

/* ---- the locked collection ------------------------------------------------ */

static SecretService *
shared_service(void)
{
	GError *err = NULL;
	SecretService *svc = secret_service_get_sync(SECRET_SERVICE_OPEN_SESSION, NULL, &err);

	assert_null(err);
	assert_non_null(svc);
	return svc;
}

/* Calls method on the Secret Service object; returns the reply (unref). */
static GVariant *
svc_call(SecretService *svc, const char *path, const char *iface, const char *method,
    GVariant *args, const char *reply_type)
{
	GError *err = NULL;
	GVariant *ret = g_dbus_connection_call_sync(g_dbus_proxy_get_connection(G_DBUS_PROXY(svc)),
	    "org.freedesktop.secrets", path, iface, method, args,
	    reply_type ? G_VARIANT_TYPE(reply_type) : NULL, G_DBUS_CALL_FLAGS_NONE, 10000,
	    NULL, &err);

	if (ret == NULL)
		fprintf(stderr, "%s.%s: %s\n", iface, method, err ? err->message : "?");
	assert_non_null(ret);
	return ret;
}

static GVariant *
master_secret(SecretService *svc)
{
	SecretValue *pw = secret_value_new(TEST_PW, -1, "text/plain");
	GVariant *v = secret_service_encode_dbus_secret(svc, pw);

	secret_value_unref(pw);
	return v;
}

static void
set_default_alias(SecretService *svc, const char *path)
{
	g_variant_unref(svc_call(svc, "/org/freedesktop/secrets", "org.freedesktop.Secret.Service",
	    "SetAlias", g_variant_new("(so)", "default", path), NULL));
}

static void
set_locked(SecretService *svc, const char *path, int lock)
{
	GError *err = NULL;
	const gchar *paths[] = { path, NULL };
	gchar **locked = NULL;

	if (lock) {
		assert_int_equal(secret_service_lock_dbus_paths_sync(svc, paths, NULL, &locked,
		    &err), 1);
		assert_non_null(locked);
		assert_string_equal(locked[0], path);
		g_strfreev(locked);
	} else {
		g_variant_unref(svc_call(svc, "/org/freedesktop/secrets", GKR_IFACE,
		    "UnlockWithMasterPassword",
		    g_variant_new("(o@(oayays))", path, master_secret(svc)), NULL));
	}
	assert_null(err);
}

/* The test collection, so the teardown can undo the test even after a
 * failed assertion (later suites share this keyring daemon). */
static char *lock_test_coll;

static int
locked_teardown(void **state)
{
	SecretService *svc;

	(void)state;
	if (lock_test_coll == NULL)
		return 0;
	svc = shared_service();
	set_default_alias(svc, LOGIN_PATH);
	g_variant_unref(svc_call(svc, lock_test_coll, "org.freedesktop.Secret.Collection",
	    "Delete", NULL, "(o)"));
	g_free(lock_test_coll);
	lock_test_coll = NULL;
	g_object_unref(svc);
	return keyring_probe() == SB_OK ? 0 : -1;
}

static void
test_keyring_locked(void **state)
{
	SecretService *svc = shared_service();
	GVariantBuilder props;
	GVariant *ret;
	char *coll;
	struct crypto_key *k = new_sign_key(), *l = NULL;

	(void)state;
	g_variant_builder_init(&props, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&props, "{sv}", "org.freedesktop.Secret.Collection.Label",
	    g_variant_new_string("sealbox-lock-test"));
	ret = svc_call(svc, "/org/freedesktop/secrets", GKR_IFACE, "CreateWithMasterPassword",
	    g_variant_new("(a{sv}@(oayays))", &props, master_secret(svc)), "(o)");
	g_variant_get(ret, "(o)", &coll);
	g_variant_unref(ret);
	lock_test_coll = coll;
	set_default_alias(svc, coll);

	store_ok("locked@example.com", "d1", KEYRING_PURPOSE_SIGN, k);
	set_locked(svc, coll, 1);

	assert_int_equal(keyring_probe(), SB_ERR_KEYRING_LOCKED);
	assert_int_equal(keyring_load("locked@example.com", "d1", KEYRING_PURPOSE_SIGN, &l),
	    SB_ERR_KEYRING_LOCKED);
	assert_null(l);
	/* No such item, but it might be hiding behind the lock: say locked. */
	assert_int_equal(keyring_load("never@example.com", "d1", KEYRING_PURPOSE_SIGN, &l),
	    SB_ERR_KEYRING_LOCKED);
	assert_int_equal(keyring_store("other@example.com", "d1", KEYRING_PURPOSE_SIGN, k),
	    SB_ERR_KEYRING_LOCKED);
	assert_int_equal(keyring_delete("locked@example.com", "d1", KEYRING_PURPOSE_SIGN),
	    SB_ERR_KEYRING_LOCKED);
	/* Nothing was deleted or prompted for: unlocking brings the key back. */
	set_locked(svc, coll, 0);
	assert_int_equal(keyring_probe(), SB_OK);
	l = load_ok("locked@example.com", "d1", KEYRING_PURPOSE_SIGN);
	assert_same_key(l, k);
	crypto_key_free(l);
	assert_int_equal(keyring_delete("locked@example.com", "d1", KEYRING_PURPOSE_SIGN), SB_OK);
	g_object_unref(svc);
	crypto_key_free(k);
}

/* ---- no Secret Service ---------------------------------------------------- */

/*
 * Runs this binary as CHILD_FLAG with DBUS_SESSION_BUS_ADDRESS set to bus
 * (or unset when NULL) and no X11 (so GDBus cannot autolaunch a bus).
 * Returns the child's exit status.
 */
static int
run_child(const char *bus)
{
	char **envp;
	char *argv[] = { "/proc/self/exe", CHILD_FLAG, NULL };
	char *busvar = NULL;
	size_t n = 0, i, j = 0;
	pid_t pid;
	int st;

	while (environ[n] != NULL)
		n++;
	envp = calloc(n + 3, sizeof(*envp));
	assert_non_null(envp);
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "DBUS_SESSION_BUS_ADDRESS=", 25) != 0 &&
		    strncmp(environ[i], "DISPLAY=", 8) != 0 &&
		    strncmp(environ[i], "XDG_RUNTIME_DIR=", 16) != 0)
			envp[j++] = environ[i];
	envp[j++] = "XDG_RUNTIME_DIR=/nonexistent-sealbox-runtime";
	if (bus != NULL) {
		assert_true(asprintf(&busvar, "DBUS_SESSION_BUS_ADDRESS=%s", bus) > 0);
		envp[j++] = busvar;
	}
	assert_int_equal(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, envp), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	free(busvar);
	free(envp);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* The child: every operation must report SB_ERR_NO_KEYRING. */
static int
no_service_child(void)
{
	struct crypto_key *k = NULL, *l = NULL;
	int r[4], i, bad = 0;

	if (keyring_init() != SB_OK || crypto_key_generate_sign(&k) != SB_OK)
		return 2;
	r[0] = keyring_probe();
	r[1] = keyring_load("a@example.com", "d1", KEYRING_PURPOSE_SIGN, &l);
	r[2] = keyring_store("a@example.com", "d1", KEYRING_PURPOSE_SIGN, k);
	r[3] = keyring_delete("a@example.com", "d1", KEYRING_PURPOSE_SIGN);
	for (i = 0; i < 4; i++)
		bad |= r[i] != SB_ERR_NO_KEYRING;
	fprintf(stderr, "no-service child: probe %d load %d store %d delete %d: %s [%s]\n",
	    r[0], r[1], r[2], r[3], sb_strerror(r[3]), keyring_error_detail());
	/* GDBus says why in G_IO_ERROR terms; the detail carries it. */
	bad |= strstr(keyring_error_detail(), "g-io-error-quark") == NULL;
	crypto_key_free(k);
	return bad || l != NULL;
}

static void
test_keyring_no_service_bad_socket(void **state)
{
	(void)state;
	assert_int_equal(run_child("unix:path=/nonexistent-sealbox/bus"), 0);
}

static void
test_keyring_no_service_no_bus(void **state)
{
	(void)state;
	assert_int_equal(run_child(NULL), 0);
}

int
main(int argc, char **argv)
{
	const char *bus = getenv("DBUS_SESSION_BUS_ADDRESS");
	const char *marker = getenv("SEALBOX_WITH_KEYRING_BUS");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyring_private_bus),
		cmocka_unit_test(test_keyring_secure_heap),
		cmocka_unit_test(test_keyring_roundtrip_pair),
		cmocka_unit_test(test_keyring_roundtrip_ec),
		cmocka_unit_test(test_keyring_overwrite),
		cmocka_unit_test(test_keyring_delete),
		cmocka_unit_test(test_keyring_missing),
		cmocka_unit_test(test_keyring_two_addresses_two_devices),
		cmocka_unit_test(test_keyring_corrupt),
		cmocka_unit_test(test_keyring_invalid_args),
		cmocka_unit_test(test_keyring_storage_key),
		cmocka_unit_test(test_keyring_threads),
		cmocka_unit_test_teardown(test_keyring_locked, locked_teardown),
		cmocka_unit_test(test_keyring_no_service_bad_socket),
		cmocka_unit_test(test_keyring_no_service_no_bus),
	};

	if (argc == 2 && strcmp(argv[1], CHILD_FLAG) == 0)
		return no_service_child();
	/* Never on a bus that scripts/with-keyring did not make: the locked
	 * test re-aliases and locks collections. */
	if (bus == NULL || marker == NULL || strcmp(bus, marker) != 0) {
		fprintf(stderr, "test_keyring: FAIL: not on a private scripts/with-keyring "
		    "session bus (run it as: scripts/with-keyring %s)\n", argv[0]);
		return 1;
	}
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
