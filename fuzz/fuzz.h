/*
 * fuzz.h - shared by the fuzz harnesses in fuzz/ (docs/SECURITY.md section 5).
 *
 * Each fuzz/fuzz_<target>.c defines LLVMFuzzerTestOneInput for one parser of
 * untrusted bytes.  The same source links two ways: with clang's libFuzzer
 * (`make fuzz`, build-fuzz/fuzz/fuzz_<target>) and with gcc against
 * fuzz/replay.c ($(BUILD)/fuzz/replay_<target>), which `make check` runs over
 * the checked-in corpus and every past crash.
 *
 * A harness aborts (FUZZ_ASSERT) when a property the parser promises does
 * not hold, so the fuzzer and the replay report it like a memory error.
 * Fixed keys come from tests/vectors/keys (FUZZ_KEYS, an absolute path set by
 * the Makefile; the environment variable SB_FUZZ_KEYS overrides it).  A
 * harness that cannot load them aborts: it never runs silently on nothing.
 *
 * Harnesses are test code: they may include crypto/internal.h, as the unit
 * tests do, to re-sign a mutated body.  They never write files.
 */
#ifndef SB_FUZZ_H
#define SB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sberr.h"
#include "crypto/crypto.h"

#ifndef FUZZ_KEYS
#define FUZZ_KEYS "tests/vectors/keys"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise is a finding: report where, then crash on purpose. */
#define FUZZ_ASSERT(cond) do {                                              \
	if (!(cond)) {                                                      \
		fprintf(stderr, "fuzz: %s:%d: property failed: %s\n",       \
		    __FILE__, __LINE__, #cond);                             \
		abort();                                                    \
	}                                                                   \
} while (0)

/* Setup failures are not findings but must not pass silently either. */
_Noreturn static inline void
fuzz_die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz: cannot set up: %s: %s\n", what, detail);
	abort();
}

/* Reads FUZZ_KEYS/<who>/<file> whole; the caller frees. */
static inline uint8_t *
fuzz_read_key_file(const char *who, const char *file, size_t *len)
{
	const char *dir = getenv("SB_FUZZ_KEYS");
	char path[4096];
	uint8_t *buf;
	FILE *f;
	long n;

	if (dir == NULL || dir[0] == '\0')
		dir = FUZZ_KEYS;
	if (snprintf(path, sizeof(path), "%s/%s/%s", dir, who, file) >= (int)sizeof(path))
		fuzz_die("path too long", who);
	if ((f = fopen(path, "rb")) == NULL)
		fuzz_die("open", path);
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0)
		fuzz_die("size", path);
	if ((buf = malloc((size_t)n)) == NULL)
		fuzz_die("malloc", path);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		fuzz_die("read", path);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Private key `file` (sign.pem or encrypt.pem) of test person `who`. */
static inline struct crypto_key *
fuzz_load_key(const char *who, const char *file)
{
	struct crypto_key *k = NULL;
	size_t len;
	uint8_t *pem = fuzz_read_key_file(who, file, &len);

	if (crypto_key_from_pkcs8_pem(pem, len, &k) != SB_OK)
		fuzz_die("parse key", who);
	crypto_wipe(pem, len);
	free(pem);
	return k;
}

/* Public identity of test person `who`. */
static inline struct crypto_identity *
fuzz_load_identity(const char *who)
{
	struct crypto_identity *id = NULL;
	size_t len;
	uint8_t *der = fuzz_read_key_file(who, "identity.der", &len);

	if (crypto_identity_parse(der, len, &id) != SB_OK)
		fuzz_die("parse identity", who);
	free(der);
	return id;
}

#endif
