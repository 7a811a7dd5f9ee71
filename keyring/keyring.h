/*
 * keyring.h - a device's private keys in the system keyring (DESIGN.md
 * section 7, docs/KEYRING.md).
 *
 * Stores, loads and deletes the signing and encryption keys of one device in
 * the Secret Service (GNOME Keyring, KeePassXC, ...) through libsecret, as
 * PKCS#8 DER under the schema "org.sealbox.DeviceKey" with the attributes
 * application="sealbox", address, device-id and purpose ("sign" |
 * "encrypt"), and the home's at-rest storage key (purpose "storage", 32 raw
 * bytes).  Items go to the collection behind the "default" alias.
 *
 * Never writes a key anywhere but the Secret Service, never prompts (a
 * locked keyring is an error, not a dialog: prompting is impossible
 * headless) and never unlocks anything.  Key bytes fetched from the service
 * live only in locked memory and are wiped; keyring_init() sets up the
 * OpenSSL secure heap that holds the decoded private numbers.
 *
 * All functions are thread-safe and return SB_OK or a negative SB_ERR_*:
 *   SB_ERR_NO_KEYRING      no (working) Secret Service on the session bus
 *   SB_ERR_KEYRING_LOCKED  the item or the default collection is locked
 *   SB_ERR_KEY_MISSING     no such item
 *   SB_ERR_KEY_CORRUPT     the item does not decode as a key of its purpose
 *   SB_ERR_INVALID_ARG     empty / non-UTF-8 / over-long address or device id,
 *                          or a purpose the function does not take
 *   SB_ERR_KEY_TYPE        keyring_store given a key that does not fit purpose
 * keyring_error_detail() then tells the underlying reason, for logs.
 */
#ifndef SB_KEYRING_H
#define SB_KEYRING_H

#include "../crypto/crypto.h"

enum keyring_purpose {
	KEYRING_PURPOSE_SIGN    = 1,  /* the P-256 signing key */
	KEYRING_PURPOSE_ENCRYPT = 2,  /* the RSA (suite pair) or P-256 (suite ec) key */
	KEYRING_PURPOSE_STORAGE = 3,  /* the home's 256-bit at-rest key (raw bytes) */
};

#define KEYRING_STORAGE_KEY_LEN 32

/* Bounds on the attribute strings (bytes, without the NUL). */
#define KEYRING_MAX_ADDRESS    320
#define KEYRING_MAX_DEVICE_ID  128

/*
 * One-time, process-wide setup: initialises OpenSSL's secure heap
 * (KEYRING_SECURE_HEAP bytes, mlock()ed) unless the program already did,
 * and stops the shared session-bus connection from killing the process if
 * the bus goes away.  Call it early in main(), before any private key is
 * generated or loaded, so OpenSSL keeps their private numbers in the secure
 * heap.  Idempotent; every keyring_* function calls it too.
 * Returns SB_OK, or SB_ERR_ALLOC when the heap cannot be created.
 */
#define KEYRING_SECURE_HEAP  (1u << 20)
int keyring_init(void);

/* 1 if the secure heap exists and is locked in RAM, 0 if it could not be
 * mlock()ed (RLIMIT_MEMLOCK too small: keys then work but may be swapped). */
int keyring_memory_locked(void);

/*
 * Checks that a Secret Service answers and that its default collection
 * exists and is unlocked, without touching any item.  For `sealbox init`
 * (before generating keys) and `sealbox status`.
 */
int keyring_probe(void);

/*
 * Stores key as the (address, device_id, purpose) item in the default
 * collection, replacing an existing one.  The key is not consumed.  purpose
 * is sign or encrypt.
 */
int keyring_store(const char *address, const char *device_id,
        enum keyring_purpose purpose, const struct crypto_key *key);

/*
 * Loads the (address, device_id, purpose) item into *out (a new key the
 * caller frees with crypto_key_free; NULL on failure).  SB_ERR_KEY_CORRUPT
 * when the item's bytes are not a PKCS#8 key of that purpose (a P-256 key
 * for sign; RSA or P-256 for encrypt).
 */
int keyring_load(const char *address, const char *device_id,
        enum keyring_purpose purpose, struct crypto_key **out);

/*
 * The home's storage key (ARCHITECTURE.md "At rest"): KEYRING_STORAGE_KEY_LEN
 * raw bytes as the (address, device_id, "storage") item.  Load copies it
 * into the caller's buffer, which should itself be locked memory
 * (CRYPTO_secure_malloc after keyring_init) and be wiped by the caller;
 * SB_ERR_KEY_CORRUPT when the item is not exactly that long.
 */
int keyring_store_storage_key(const char *address, const char *device_id,
        const uint8_t key[KEYRING_STORAGE_KEY_LEN]);
int keyring_load_storage_key(const char *address, const char *device_id,
        uint8_t key[KEYRING_STORAGE_KEY_LEN]);

/* Deletes the (address, device_id, purpose) item (every copy of it, in any
 * collection).  SB_ERR_KEY_MISSING if there is none. */
int keyring_delete(const char *address, const char *device_id,
        enum keyring_purpose purpose);

/* "sign" / "encrypt" / "storage" (the purpose attribute); NULL if invalid. */
const char *keyring_purpose_name(enum keyring_purpose purpose);

/*
 * The reason behind this thread's last keyring failure (the D-Bus or
 * libsecret message, e.g. "The name org.freedesktop.secrets was not provided
 * by any .service files"), or "" after a success.  Static, thread-local;
 * valid until the thread's next keyring_* call.
 */
const char *keyring_error_detail(void);

#endif
