/*
 * trust_alert.c - records one trust alert in a home's store.db the way the
 * agent does (trust_alert_add through trust_store_open, sealed under the
 * home's storage key from the keyring), for the integration cases that
 * need alerts without staging the events behind them (umount_status.sh).
 *
 *   TRUST_ALERT_ADDR=A trust_alert HOME ADDRESS DEVICE_ID TIME EVENT N OLD|- NEW|- CLOSED
 *
 * A is the address the alert is about; ADDRESS and DEVICE_ID name the
 * home's own device (its keyring item); EVENT is an enum trust_event
 * value; OLD and NEW are 64 hex digits or "-"; CLOSED is 0 for an open
 * alert, else when it was settled.  Exits 0, or 1 after one line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/store.h"
#include "agent/trust.h"
#include "common/sberr.h"

static int
hex32(const char *s, uint8_t out[CRYPTO_HASH_LEN])
{
	if (strlen(s) != 2 * CRYPTO_HASH_LEN)
		return 0;
	for (size_t i = 0; i < CRYPTO_HASH_LEN; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return 0;
		out[i] = (uint8_t)v;
	}
	return 1;
}

int
main(int argc, char **argv)
{
	uint8_t o[CRYPTO_HASH_LEN], n[CRYPTO_HASH_LEN];
	const char *who = getenv("TRUST_ALERT_ADDR");
	struct trust_alert al;
	sqlite3 *db = NULL;
	int rc;

	if (argc != 10 || who == NULL) {
		fprintf(stderr, "usage: TRUST_ALERT_ADDR=A trust_alert HOME ADDRESS DEVICE_ID"
		    " TIME EVENT N OLD|- NEW|- CLOSED\n");
		return 1;
	}
	memset(&al, 0, sizeof(al));
	al.address = who;
	al.time = strtoll(argv[4], NULL, 10);
	al.event = (enum trust_event)atoi(argv[5]);
	al.n = strtoull(argv[6], NULL, 10);
	if (strcmp(argv[7], "-") != 0 && hex32(argv[7], o))
		al.old_hash = o;
	if (strcmp(argv[8], "-") != 0 && hex32(argv[8], n))
		al.new_hash = n;
	rc = trust_store_open(argv[1], argv[2], strtoull(argv[3], NULL, 10), &db);
	if (rc == SB_OK)
		rc = trust_alert_add(db, &al, strtoll(argv[9], NULL, 10), NULL);
	store_close(db);
	if (rc != SB_OK)
		fprintf(stderr, "trust_alert: %s\n", sb_strerror(rc));
	return rc == SB_OK ? 0 : 1;
}
