/*
 * keyring_tool.c - a tiny front end to keyring/ for the integration cases
 * (tests/integration/keyring_*.sh), which run it on buses set up by hand.
 *
 *   keyring_tool probe
 *   keyring_tool store ADDRESS DEVICE    fresh P-256 signing key; prints the
 *                                        stored key's fingerprint
 *   keyring_tool load ADDRESS DEVICE     prints the loaded key's fingerprint
 *   keyring_tool delete ADDRESS DEVICE
 *
 * The fingerprint is SHA-256 of the PKCS#8 DER, hex: lets a case compare a
 * stored and a loaded key without any key bytes on a pipe.  On failure it
 * prints one line "keyring_tool: <sb_strerror> [<detail>]" and exits with
 * -SB_ERR_* (30 no keyring, 31 locked, 32 missing, 33 corrupt).
 * Never prints or writes key material.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/sberr.h"
#include "common/wire.h"
#include "crypto/crypto.h"
#include "keyring/keyring.h"

static int
fail(int r)
{
	fprintf(stderr, "keyring_tool: %s [%s]\n", sb_strerror(r), keyring_error_detail());
	return r < 0 ? -r : 1;
}

static int
print_fingerprint(const struct crypto_key *k)
{
	struct sb_buf der = SB_BUF_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	int r;

	if ((r = crypto_key_to_pkcs8_der(k, &der)) != SB_OK)
		return fail(r);
	if (EVP_Digest(der.d, der.len, md, &n, EVP_sha256(), NULL) != 1) {
		sb_buf_free(&der);
		return fail(SB_ERR_CRYPTO);
	}
	sb_buf_free(&der);
	for (i = 0; i < n; i++)
		printf("%02x", md[i]);
	printf("\n");
	return 0;
}

int
main(int argc, char **argv)
{
	struct crypto_key *k = NULL;
	int r, rc;

	if (keyring_init() != SB_OK)
		return fail(SB_ERR_ALLOC);
	if (argc == 2 && strcmp(argv[1], "probe") == 0) {
		r = keyring_probe();
		return r == SB_OK ? 0 : fail(r);
	}
	if (argc != 4) {
		fprintf(stderr, "usage: keyring_tool probe | store|load|delete ADDRESS DEVICE\n");
		return 2;
	}
	if (strcmp(argv[1], "store") == 0) {
		if ((r = crypto_key_generate_sign(&k)) != SB_OK ||
		    (r = keyring_store(argv[2], argv[3], KEYRING_PURPOSE_SIGN, k)) != SB_OK) {
			crypto_key_free(k);
			return fail(r);
		}
	} else if (strcmp(argv[1], "load") == 0) {
		if ((r = keyring_load(argv[2], argv[3], KEYRING_PURPOSE_SIGN, &k)) != SB_OK)
			return fail(r);
	} else if (strcmp(argv[1], "delete") == 0) {
		r = keyring_delete(argv[2], argv[3], KEYRING_PURPOSE_SIGN);
		return r == SB_OK ? 0 : fail(r);
	} else {
		fprintf(stderr, "keyring_tool: unknown command %s\n", argv[1]);
		return 2;
	}
	rc = print_fingerprint(k);
	crypto_key_free(k);
	return rc;
}
