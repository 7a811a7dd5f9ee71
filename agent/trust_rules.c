/*
 * trust_rules.c - the pure half of trust.h: what a change of the
 * directory's answer is, how an alert, a folder's trust and a held send
 * read, and the verification code's comparison.  No I/O, no clock, no
 * globals: unit-tested on their own (tests/unit/test_trust.c).
 */
#include "trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/sberr.h"
#include "../common/wire.h"
#include "names.h"

static const struct {
	enum trust_event ev;
	const char *name;
} event_names[] = {
	{ TRUST_EV_CHANGED, "changed" },
	{ TRUST_EV_ADDED, "added" },
	{ TRUST_EV_REMOVED, "removed" },
	{ TRUST_EV_UNAPPROVED, "added without this device's approval" },
	{ TRUST_EV_UNSIGNED, "not approved by any device of its account: refused" },
	{ TRUST_EV_OPERATOR_REMOVED, "removed by the relay, not by its account" },
	{ TRUST_EV_FORK, "forked" },
	{ TRUST_EV_PROOF, "proof failed: directory answer not used" },
	{ TRUST_EV_INTEGRITY, "failed its integrity check" },
};

const char *
trust_event_name(enum trust_event ev)
{
	for (size_t i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++)
		if (event_names[i].ev == ev)
			return event_names[i].name;
	return NULL;
}

enum trust_event
trust_event_parse(const char *s)
{
	for (size_t i = 0; s != NULL && i < sizeof(event_names) / sizeof(event_names[0]); i++)
		if (strcmp(event_names[i].name, s) == 0)
			return event_names[i].ev;
	return 0;
}

void
trust_fingerprint(const uint8_t *hash, char out[TRUST_FP_BUF])
{
	if (hash == NULL)
		snprintf(out, TRUST_FP_BUF, "-");
	else
		sb_hex(hash, TRUST_FP_LEN, out);
}

static int
dev_cmp(const void *a, const void *b)
{
	const struct trust_dev *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* A sorted copy of devs in out; SB_ERR_INVALID_ARG for a repeated id. */
static int
sorted(const struct trust_dev *devs, size_t n, struct trust_dev *out)
{
	if (n > 0)
		memcpy(out, devs, n * sizeof(*devs));
	qsort(out, n, sizeof(*out), dev_cmp);
	for (size_t i = 1; i < n; i++)
		if (out[i].id == out[i - 1].id)
			return SB_ERR_INVALID_ARG;
	return SB_OK;
}

static int
add_change(struct trust_change *out, size_t max, size_t *n, enum trust_event ev,
    uint64_t id, const uint8_t *old_hash, const uint8_t *new_hash)
{
	struct trust_change *c;

	if (*n == max)
		return SB_ERR_TOO_BIG;
	c = &out[(*n)++];
	memset(c, 0, sizeof(*c));
	c->event = ev;
	c->device_id = id;
	if ((c->has_old = old_hash != NULL))
		memcpy(c->old_hash, old_hash, CRYPTO_HASH_LEN);
	if ((c->has_new = new_hash != NULL))
		memcpy(c->new_hash, new_hash, CRYPTO_HASH_LEN);
	return SB_OK;
}

int
trust_diff(const struct trust_dev *pinned, size_t np, const struct trust_dev *now,
    size_t nn, struct trust_change *out, size_t max, size_t *n)
{
	struct trust_dev p[TRUST_MAX_DEVICES], q[TRUST_MAX_DEVICES];
	size_t i = 0, j = 0;
	int rc;

	*n = 0;
	if (np > TRUST_MAX_DEVICES || nn > TRUST_MAX_DEVICES)
		return SB_ERR_TOO_BIG;
	if ((rc = sorted(pinned, np, p)) != SB_OK || (rc = sorted(now, nn, q)) != SB_OK)
		return rc;
	/* A merge of two id-sorted lists. */
	while (rc == SB_OK && (i < np || j < nn)) {
		if (j == nn || (i < np && p[i].id < q[j].id)) {
			rc = add_change(out, max, n, TRUST_EV_REMOVED, p[i].id, p[i].hash, NULL);
			i++;
		} else if (i == np || q[j].id < p[i].id) {
			rc = add_change(out, max, n, TRUST_EV_ADDED, q[j].id, NULL, q[j].hash);
			j++;
		} else {
			/* Public values: an ordinary compare is fine here. */
			if (memcmp(p[i].hash, q[j].hash, CRYPTO_HASH_LEN) != 0)
				rc = add_change(out, max, n, TRUST_EV_CHANGED, p[i].id,
				    p[i].hash, q[j].hash);
			i++;
			j++;
		}
	}
	if (rc != SB_OK)
		*n = 0;
	return rc;
}

static int
hash_cmp(const void *a, const void *b)
{
	return memcmp(a, b, CRYPTO_HASH_LEN);
}

size_t
trust_set_normalize(uint8_t (*hashes)[CRYPTO_HASH_LEN], size_t n)
{
	size_t i, k = 0;

	if (n == 0)
		return 0;
	qsort(hashes, n, CRYPTO_HASH_LEN, hash_cmp);
	for (i = 1; i < n; i++)
		if (memcmp(hashes[k], hashes[i], CRYPTO_HASH_LEN) != 0)
			memmove(hashes[++k], hashes[i], CRYPTO_HASH_LEN);
	return k + 1;
}

int
trust_set_equal(const void *a, size_t a_len, const void *b, size_t b_len)
{
	return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

int
trust_alert_line(const struct trust_alert *al, int with_time, char *out, size_t size)
{
	char t[NAMES_UTC_BUF] = "", o[TRUST_FP_BUF], nw[TRUST_FP_BUF], what[96];
	const char *name = trust_event_name(al->event);
	int len;

	if (size > 0)
		out[0] = '\0';
	if (name == NULL || al->address == NULL)
		return SB_ERR_INVALID_ARG;
	if (al->event == TRUST_EV_FORK)
		snprintf(what, sizeof(what), "log %s at size %llu", name,
		    (unsigned long long)al->n);
	else if (al->event == TRUST_EV_PROOF)
		snprintf(what, sizeof(what), "log %s", name);
	else if (al->event == TRUST_EV_INTEGRITY)
		snprintf(what, sizeof(what), "trust record %s", name);
	else
		snprintf(what, sizeof(what), "device %llu %s", (unsigned long long)al->n, name);
	trust_fingerprint(al->old_hash, o);
	trust_fingerprint(al->new_hash, nw);
	if (with_time)
		names_utc_text(al->time, t);
	len = snprintf(out, size, "%s%s%s %s %s -> %s", t, with_time ? " " : "",
	    al->address, what, o, nw);
	if (len < 0 || (size_t)len >= size) {
		if (size > 0)
			out[0] = '\0';
		return SB_ERR_LENGTH;
	}
	return SB_OK;
}

void
trust_folder_text(const struct trust_addr_state *st, size_t n, char *out, size_t size)
{
	const char *newest = NULL;
	size_t open = 0, verified = 0;

	for (size_t i = 0; i < n; i++) {
		open += st[i].open;
		verified += st[i].verified != 0;
		/* The states come newest-last per address; across addresses
		 * the caller passes them in the order their newest alerts
		 * were made, so the last one seen is the newest. */
		if (st[i].open > 0 && st[i].newest != NULL)
			newest = st[i].newest;
	}
	if (open > 0 && newest != NULL) {
		if (open > 1)
			snprintf(out, size, "changed: %s (+%zu more)", newest, open - 1);
		else
			snprintf(out, size, "changed: %s", newest);
	} else if (n > 0 && verified == n) {
		snprintf(out, size, "verified");
	} else {
		snprintf(out, size, "unverified");
	}
}

void
trust_held_text(const char *addr, char *out, size_t size)
{
	snprintf(out, size, "held: %s's devices changed; compare codes again", addr);
}

/* The digits of a code as people write it: any of " \t\r\n-" between
 * digits.  SB_ERR_FORMAT for anything else or a count other than 60. */
static int
code_digits(const char *s, char out[TRUST_CODE_DIGITS])
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9') {
			if (n == TRUST_CODE_DIGITS)
				return SB_ERR_FORMAT;
			out[n++] = *s;
		} else if (strchr(" \t\r\n-", *s) == NULL) {
			return SB_ERR_FORMAT;
		}
	}
	return n == TRUST_CODE_DIGITS ? SB_OK : SB_ERR_FORMAT;
}

int
trust_code_check(const char *given, const char *expected)
{
	char g[TRUST_CODE_DIGITS], e[TRUST_CODE_DIGITS];
	int rc;

	if (given == NULL || expected == NULL)
		return SB_ERR_INVALID_ARG;
	if ((rc = code_digits(given, g)) != SB_OK)
		return rc;
	if ((rc = code_digits(expected, e)) != SB_OK)
		return SB_ERR_INVALID_ARG;
	rc = crypto_ct_equal(g, e, TRUST_CODE_DIGITS) ? SB_OK : SB_ERR_TAG;
	crypto_wipe(g, sizeof(g));
	crypto_wipe(e, sizeof(e));
	return rc;
}

int
trust_code_shape(const char *given)
{
	char g[TRUST_CODE_DIGITS];
	int rc = given == NULL ? SB_ERR_FORMAT : code_digits(given, g);

	crypto_wipe(g, sizeof(g));
	return rc;
}
