/*
 * keyring.c - device private keys in the Secret Service, through libsecret.
 *
 * Uses only the non-prompting parts of libsecret: it opens its own
 * SecretService per operation (no cached proxy that could go stale when the
 * daemon restarts or a collection is locked behind our back), searches
 * without SECRET_SEARCH_UNLOCK, creates items with secret_item_create (which,
 * unlike secret_password_store, never tries to unlock or create a collection
 * with a prompt) and reports a locked collection as SB_ERR_KEYRING_LOCKED.
 *
 * Never writes key bytes anywhere but the Secret Service, never logs them.
 * See docs/KEYRING.md for what sits in locked memory and what does not.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libsecret/secret.h>
#include <openssl/crypto.h>

#include "../common/sberr.h"
#include "../common/wire.h"
#include "keyring.h"

#define SCHEMA_NAME   "org.sealbox.DeviceKey"
#define APPLICATION   "sealbox"
#define CONTENT_TYPE  "application/pkcs8"
#define STORAGE_CONTENT_TYPE "application/octet-stream"
#define DETAIL_MAX    320
/* The arena's smallest block; a power of two as CRYPTO_secure_malloc_init
 * requires, small enough that BIGNUM limbs do not waste much. */
#define SECURE_HEAP_MINSIZE 32

static const SecretSchema device_key_schema = {
	SCHEMA_NAME, SECRET_SCHEMA_NONE,
	{
		{ "application", SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "address",     SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "device-id",   SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ "purpose",     SECRET_SCHEMA_ATTRIBUTE_STRING },
		{ NULL, 0 },
	},
	0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result = SB_ERR_INTERNAL;
static int heap_locked;
static _Thread_local char detail[DETAIL_MAX];

/* ---- setup and error reporting ----------------------------------------- */

static void
do_init(void)
{
	int r;

	if (CRYPTO_secure_malloc_initialized()) {
		/* The program set up its own heap; it owns that choice. */
		heap_locked = 1;
		init_result = SB_OK;
		return;
	}
	/* 1 = locked; 2 = usable but mlock() failed (RLIMIT_MEMLOCK). */
	r = CRYPTO_secure_malloc_init(KEYRING_SECURE_HEAP, SECURE_HEAP_MINSIZE);
	heap_locked = (r == 1);
	init_result = r == 0 ? SB_ERR_ALLOC : SB_OK;
}

int
keyring_init(void)
{
	if (pthread_once(&init_once, do_init) != 0)
		return SB_ERR_INTERNAL;
	return init_result;
}

int
keyring_memory_locked(void)
{
	return keyring_init() == SB_OK && heap_locked;
}

const char *
keyring_error_detail(void)
{
	return detail;
}

static void
set_detail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
}

/*
 * Maps a GError from libsecret / GDBus to an SB_ERR_* and records its text.
 * Which real conditions produce which error is pinned by
 * tests/unit/test_keyring.c and tests/integration/keyring_no_service.sh.
 */
static int
classify(GError *err)
{
	int r = SB_ERR_INTERNAL;

	if (err == NULL) {
		set_detail("libsecret failed without saying why");
		return SB_ERR_INTERNAL;
	}
	set_detail("%s (%s %d)", err->message, g_quark_to_string(err->domain), err->code);
	if (err->domain == SECRET_ERROR) {
		switch (err->code) {
		case SECRET_ERROR_IS_LOCKED:      r = SB_ERR_KEYRING_LOCKED; break;
		case SECRET_ERROR_NO_SUCH_OBJECT: r = SB_ERR_KEY_MISSING; break;
		/* The service answered nonsense: not a usable Secret Service. */
		case SECRET_ERROR_PROTOCOL:       r = SB_ERR_NO_KEYRING; break;
		default:                          r = SB_ERR_INTERNAL; break;
		}
	} else if (err->domain == G_IO_ERROR) {
		/* No bus address, no socket, connection refused, autolaunch
		 * impossible, a timeout: the session bus itself is unusable. */
		r = SB_ERR_NO_KEYRING;
	} else if (err->domain == G_DBUS_ERROR) {
		/* ServiceUnknown (nothing owns or activates
		 * org.freedesktop.secrets), Spawn.* (activation failed), NoReply,
		 * Disconnected, UnknownMethod (not a Secret Service) ...: any
		 * D-Bus level failure means there is no working service. */
		r = SB_ERR_NO_KEYRING;
	}
	g_error_free(err);
	return r;
}

/* ---- attributes --------------------------------------------------------- */

const char *
keyring_purpose_name(enum keyring_purpose purpose)
{
	switch (purpose) {
	case KEYRING_PURPOSE_SIGN:    return "sign";
	case KEYRING_PURPOSE_ENCRYPT: return "encrypt";
	case KEYRING_PURPOSE_STORAGE: return "storage";
	}
	return NULL;
}

/* An attribute value: 1..max bytes of UTF-8 (D-Bus strings must be UTF-8)
 * without control characters (they end up in the item's label). */
static int
valid_attr(const char *s, size_t max)
{
	size_t n;
	const unsigned char *p;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > max || !g_utf8_validate(s, (gssize)n, NULL))
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* Builds the item's attribute table; NULL (and detail set) if an argument
 * is unusable.  Caller unrefs. */
static GHashTable *
attrs_new(const char *address, const char *device_id, enum keyring_purpose purpose)
{
	const char *pname = keyring_purpose_name(purpose);

	if (!valid_attr(address, KEYRING_MAX_ADDRESS) ||
	    !valid_attr(device_id, KEYRING_MAX_DEVICE_ID) || pname == NULL) {
		set_detail("invalid address, device id or purpose");
		return NULL;
	}
	return secret_attributes_build(&device_key_schema,
	    "application", APPLICATION, "address", address,
	    "device-id", device_id, "purpose", pname, NULL);
}

/* ---- the PKCS#8 algorithm check ----------------------------------------- */

enum key_kind { KIND_UNKNOWN, KIND_P256, KIND_RSA };

static const uint8_t oid_ec_public_key[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const uint8_t oid_prime256v1[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_rsa_encryption[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };

static int
bytes_are(const uint8_t *p, size_t n, const uint8_t *want, size_t want_n)
{
	/* Public OIDs, but lint bans memcmp here and a constant-time compare
	 * costs nothing at this size. */
	return n == want_n && crypto_ct_equal(p, want, n);
}

/*
 * Reads the AlgorithmIdentifier of a PKCS#8 PrivateKeyInfo (RFC 5208:
 * SEQUENCE { INTEGER version, SEQUENCE { OID, params }, OCTET STRING ... })
 * and says which key it announces.  Only the header is looked at; the key
 * itself is decoded by crypto_key_from_pkcs8_der.
 */
static enum key_kind
pkcs8_kind(const uint8_t *der, size_t len)
{
	struct sb_reader r, seq, alg;
	const uint8_t *p, *oid, *param;
	size_t n, oid_n, param_n;

	sb_reader_init(&r, der, len);
	if (sb_get_der_tlv_direct(&r, 0x30, &p, &n) != SB_OK)
		return KIND_UNKNOWN;
	sb_reader_init(&seq, p, n);
	if (sb_get_der_tlv_direct(&seq, 0x02, &p, &n) != SB_OK ||
	    sb_get_der_tlv_direct(&seq, 0x30, &p, &n) != SB_OK)
		return KIND_UNKNOWN;
	sb_reader_init(&alg, p, n);
	if (sb_get_der_tlv_direct(&alg, 0x06, &oid, &oid_n) != SB_OK)
		return KIND_UNKNOWN;
	if (bytes_are(oid, oid_n, oid_rsa_encryption, sizeof(oid_rsa_encryption)))
		return KIND_RSA;
	if (bytes_are(oid, oid_n, oid_ec_public_key, sizeof(oid_ec_public_key)) &&
	    sb_get_der_tlv_direct(&alg, 0x06, &param, &param_n) == SB_OK &&
	    bytes_are(param, param_n, oid_prime256v1, sizeof(oid_prime256v1)))
		return KIND_P256;
	return KIND_UNKNOWN;
}

static int
kind_fits(enum key_kind kind, enum keyring_purpose purpose)
{
	switch (purpose) {
	case KEYRING_PURPOSE_SIGN:    return kind == KIND_P256;
	case KEYRING_PURPOSE_ENCRYPT: return kind == KIND_P256 || kind == KIND_RSA;
	case KEYRING_PURPOSE_STORAGE: return 0;
	}
	return 0;
}

/* ---- service and collection --------------------------------------------- */

/*
 * Opens a fresh connection to the Secret Service with an encrypted
 * transfer session.  Caller unrefs *out.
 */
static int
service_open(SecretService **out)
{
	GError *err = NULL;
	GDBusConnection *bus;
	int r;

	*out = NULL;
	detail[0] = '\0';
	if ((r = keyring_init()) != SB_OK) {
		set_detail("cannot create the OpenSSL secure heap");
		return r;
	}
	/* The shared session connection would raise SIGTERM in this process
	 * when the bus goes away; a dead bus must be an error, not a kill. */
	bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, &err);
	if (bus == NULL)
		return classify(err);
	g_dbus_connection_set_exit_on_close(bus, FALSE);
	g_object_unref(bus);
	*out = secret_service_open_sync(SECRET_TYPE_SERVICE, NULL,
	    SECRET_SERVICE_OPEN_SESSION, NULL, &err);
	if (*out == NULL)
		return classify(err);
	return SB_OK;
}

/* The collection behind the "default" alias, which must exist and be
 * unlocked.  Caller unrefs *out. */
static int
default_collection(SecretService *svc, SecretCollection **out)
{
	GError *err = NULL;

	*out = secret_collection_for_alias_sync(svc, SECRET_COLLECTION_DEFAULT,
	    SECRET_COLLECTION_NONE, NULL, &err);
	if (*out == NULL) {
		if (err != NULL)
			return classify(err);
		/* Creating one would need a password prompt. */
		set_detail("the Secret Service has no default collection");
		return SB_ERR_NO_KEYRING;
	}
	if (secret_collection_get_locked(*out)) {
		set_detail("collection %s is locked",
		    g_dbus_proxy_get_object_path(G_DBUS_PROXY(*out)));
		g_object_unref(*out);
		*out = NULL;
		return SB_ERR_KEYRING_LOCKED;
	}
	return SB_OK;
}

/* Every item of the schema matching attrs, locked or not (nothing is
 * unlocked, nothing prompts).  Caller frees with free_items. */
static int
search(SecretService *svc, GHashTable *attrs, GList **out)
{
	GError *err = NULL;

	*out = secret_service_search_sync(svc, &device_key_schema, attrs,
	    SECRET_SEARCH_ALL, NULL, &err);
	if (err != NULL) {
		g_list_free_full(*out, g_object_unref);
		*out = NULL;
		return classify(err);
	}
	return SB_OK;
}

static void
free_items(GList *items)
{
	g_list_free_full(items, g_object_unref);
}

/*
 * Wipes a SecretValue's bytes.  libsecret hands them out as const, but the
 * buffer is the value's own decrypted copy (egg secure memory) that nothing
 * reads after us; cleansing it before the last unref makes the wipe
 * independent of how libsecret frees it.
 */
static void
value_wipe(SecretValue *v)
{
	gsize n = 0;
	const gchar *p = secret_value_get(v, &n);

	if (p != NULL && n > 0)
		OPENSSL_cleanse((void *)(uintptr_t)p, n);
}

/* ---- operations --------------------------------------------------------- */

int
keyring_probe(void)
{
	SecretService *svc;
	SecretCollection *coll;
	int r;

	if ((r = service_open(&svc)) != SB_OK)
		return r;
	if ((r = default_collection(svc, &coll)) == SB_OK)
		g_object_unref(coll);
	g_object_unref(svc);
	return r;
}

/* "sealbox signing key for alice@example.com (device X)" */
static char *
label_new(const char *address, const char *device_id, enum keyring_purpose purpose)
{
	const char *what = purpose == KEYRING_PURPOSE_SIGN ? "signing" :
	    purpose == KEYRING_PURPOSE_ENCRYPT ? "encryption" : "storage";

	return g_strdup_printf("sealbox %s key for %s (device %s)", what, address, device_id);
}

/*
 * Stores value as the item (address, device_id, purpose) in the default
 * collection, replacing one with the same attributes.  Does not consume
 * value.
 */
static int
store_value(const char *address, const char *device_id, enum keyring_purpose purpose,
    SecretValue *value)
{
	GHashTable *attrs;
	SecretService *svc = NULL;
	SecretCollection *coll = NULL;
	SecretItem *item;
	GError *err = NULL;
	char *label = NULL;
	int r;

	if ((attrs = attrs_new(address, device_id, purpose)) == NULL)
		return SB_ERR_INVALID_ARG;
	if ((r = service_open(&svc)) != SB_OK ||
	    (r = default_collection(svc, &coll)) != SB_OK)
		goto out;
	label = label_new(address, device_id, purpose);
	item = secret_item_create_sync(coll, &device_key_schema, attrs, label, value,
	    SECRET_ITEM_CREATE_REPLACE, NULL, &err);
	if (item == NULL) {
		r = classify(err);
		goto out;
	}
	g_object_unref(item);
	r = SB_OK;
out:
	g_free(label);
	if (coll != NULL)
		g_object_unref(coll);
	if (svc != NULL)
		g_object_unref(svc);
	g_hash_table_unref(attrs);
	return r;
}

/* Wipes and releases a value made or fetched here (NULL accepted). */
static void
value_free(SecretValue *value)
{
	if (value != NULL) {
		value_wipe(value);
		secret_value_unref(value);
	}
}

int
keyring_store(const char *address, const char *device_id,
    enum keyring_purpose purpose, const struct crypto_key *key)
{
	struct sb_buf der = SB_BUF_INIT;
	SecretValue *value;
	int r;

	detail[0] = '\0';
	if (key == NULL || purpose == KEYRING_PURPOSE_STORAGE ||
	    keyring_purpose_name(purpose) == NULL) {
		set_detail("keyring_store takes a signing or encryption key");
		return SB_ERR_INVALID_ARG;
	}
	if ((r = keyring_init()) != SB_OK)
		return r;
	if ((r = crypto_key_to_pkcs8_der(key, &der)) != SB_OK) {
		set_detail("cannot encode the key as PKCS#8");
		return r;
	}
	if (!kind_fits(pkcs8_kind(der.d, der.len), purpose)) {
		set_detail("a %s key must be P-256%s", keyring_purpose_name(purpose),
		    purpose == KEYRING_PURPOSE_ENCRYPT ? " or RSA" : "");
		sb_buf_free(&der);
		return SB_ERR_KEY_TYPE;
	}
	/* Into libsecret's non-pageable memory; the sb_buf copy is cleansed
	 * at once. */
	value = secret_value_new((const gchar *)der.d, (gssize)der.len, CONTENT_TYPE);
	sb_buf_free(&der);
	r = store_value(address, device_id, purpose, value);
	value_free(value);
	return r;
}

int
keyring_store_storage_key(const char *address, const char *device_id,
    const uint8_t key[KEYRING_STORAGE_KEY_LEN])
{
	SecretValue *value;
	int r;

	detail[0] = '\0';
	if (key == NULL)
		return SB_ERR_INVALID_ARG;
	if ((r = keyring_init()) != SB_OK)
		return r;
	value = secret_value_new((const gchar *)key, KEYRING_STORAGE_KEY_LEN,
	    STORAGE_CONTENT_TYPE);
	r = store_value(address, device_id, KEYRING_PURPOSE_STORAGE, value);
	value_free(value);
	return r;
}

/*
 * Why a search found nothing.  A missing or locked default collection is the
 * better answer: the item cannot be there yet, or a service other than GNOME
 * Keyring may hide the items of a locked collection from searches.
 */
static int
none_found(SecretService *svc)
{
	SecretCollection *coll;
	int r;

	if ((r = default_collection(svc, &coll)) != SB_OK)
		return r;
	g_object_unref(coll);
	set_detail("no " SCHEMA_NAME " item with these attributes");
	return SB_ERR_KEY_MISSING;
}

/* Picks the first unlocked item of a search: SB_ERR_KEY_MISSING (or why)
 * for none at all, SB_ERR_KEYRING_LOCKED if every match is locked.
 * Borrowed. */
static int
first_unlocked(SecretService *svc, GList *items, SecretItem **out)
{
	GList *l;

	*out = NULL;
	if (items == NULL)
		return none_found(svc);
	for (l = items; l != NULL; l = l->next) {
		if (!secret_item_get_locked(l->data)) {
			*out = l->data;
			return SB_OK;
		}
	}
	set_detail("the item is in a locked collection");
	return SB_ERR_KEYRING_LOCKED;
}

/*
 * Fetches the secret of the item (address, device_id, purpose) into *out
 * (libsecret's non-pageable memory; the caller releases it with value_free).
 */
static int
load_value(const char *address, const char *device_id, enum keyring_purpose purpose,
    SecretValue **out)
{
	GHashTable *attrs;
	SecretService *svc = NULL;
	SecretItem *item;
	GList *items = NULL;
	GError *err = NULL;
	int r;

	*out = NULL;
	if ((attrs = attrs_new(address, device_id, purpose)) == NULL)
		return SB_ERR_INVALID_ARG;
	if ((r = service_open(&svc)) != SB_OK ||
	    (r = search(svc, attrs, &items)) != SB_OK ||
	    (r = first_unlocked(svc, items, &item)) != SB_OK)
		goto out;
	if (!secret_item_load_secret_sync(item, NULL, &err)) {
		r = classify(err);
		goto out;
	}
	if ((*out = secret_item_get_secret(item)) == NULL) {
		set_detail("the item has no secret");
		r = SB_ERR_KEY_CORRUPT;
	}
out:
	free_items(items);
	if (svc != NULL)
		g_object_unref(svc);
	g_hash_table_unref(attrs);
	return r;
}

/* Decodes the item's DER in place (in the SecretValue's locked memory) as
 * a key of `purpose`. */
static int
decode_value(SecretValue *value, enum keyring_purpose purpose, struct crypto_key **out)
{
	gsize n = 0;
	const gchar *p = secret_value_get(value, &n);
	int r;

	if (p == NULL || n == 0 || !kind_fits(pkcs8_kind((const uint8_t *)p, n), purpose)) {
		set_detail("the item is not a PKCS#8 %s key", keyring_purpose_name(purpose));
		return SB_ERR_KEY_CORRUPT;
	}
	r = crypto_key_from_pkcs8_der((const uint8_t *)p, n, out);
	if (r == SB_ERR_ALLOC)
		return r;
	if (r != SB_OK) {
		set_detail("the item does not decode as a key: %s", sb_strerror(r));
		return SB_ERR_KEY_CORRUPT;
	}
	return SB_OK;
}

int
keyring_load(const char *address, const char *device_id,
    enum keyring_purpose purpose, struct crypto_key **out)
{
	SecretValue *value = NULL;
	int r;

	detail[0] = '\0';
	if (out == NULL)
		return SB_ERR_INVALID_ARG;
	*out = NULL;
	if (purpose == KEYRING_PURPOSE_STORAGE) {
		set_detail("keyring_load loads signing or encryption keys");
		return SB_ERR_INVALID_ARG;
	}
	if ((r = load_value(address, device_id, purpose, &value)) == SB_OK)
		r = decode_value(value, purpose, out);
	value_free(value);
	return r;
}

int
keyring_load_storage_key(const char *address, const char *device_id,
    uint8_t key[KEYRING_STORAGE_KEY_LEN])
{
	SecretValue *value = NULL;
	const gchar *p;
	gsize n = 0;
	int r;

	detail[0] = '\0';
	if (key == NULL)
		return SB_ERR_INVALID_ARG;
	if ((r = load_value(address, device_id, KEYRING_PURPOSE_STORAGE, &value)) == SB_OK) {
		p = secret_value_get(value, &n);
		if (p != NULL && n == KEYRING_STORAGE_KEY_LEN) {
			memcpy(key, p, KEYRING_STORAGE_KEY_LEN);
		} else {
			set_detail("the storage key item holds %zu bytes, not %d",
			    (size_t)n, KEYRING_STORAGE_KEY_LEN);
			r = SB_ERR_KEY_CORRUPT;
		}
	}
	value_free(value);
	return r;
}

int
keyring_delete(const char *address, const char *device_id, enum keyring_purpose purpose)
{
	GHashTable *attrs;
	SecretService *svc = NULL;
	GList *items = NULL, *l;
	GError *err = NULL;
	int r;

	if ((attrs = attrs_new(address, device_id, purpose)) == NULL)
		return SB_ERR_INVALID_ARG;
	if ((r = service_open(&svc)) != SB_OK || (r = search(svc, attrs, &items)) != SB_OK)
		goto out;
	if (items == NULL) {
		r = none_found(svc);
		goto out;
	}
	/* All or nothing: a copy left behind in a locked collection would
	 * come back once it is unlocked. */
	for (l = items; l != NULL; l = l->next) {
		if (secret_item_get_locked(l->data)) {
			set_detail("an item is in a locked collection");
			r = SB_ERR_KEYRING_LOCKED;
			goto out;
		}
	}
	for (l = items; l != NULL; l = l->next) {
		if (!secret_item_delete_sync(l->data, NULL, &err)) {
			r = classify(err);
			goto out;
		}
	}
	r = SB_OK;
out:
	free_items(items);
	if (svc != NULL)
		g_object_unref(svc);
	g_hash_table_unref(attrs);
	return r;
}
