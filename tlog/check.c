/*
 * check.c - docs/PROTOCOL.md 14.8: one directory answer checked whole
 * against the log before any of its keys is used.  No I/O: the caller
 * hands in the answer's parts and the device's pinned key and newest
 * head; the result is the verified devices and the address's history, or
 * one line saying what failed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sberr.h"
#include "tlog.h"

/* One device while the history is replayed. */
struct live {
	uint64_t id;
	const uint8_t *identity;     /* borrowed from its newest entry */
	size_t identity_len;
	struct crypto_identity *parsed;
	uint64_t approver;
	int unapproved, changed;
};

struct replay {
	struct live *dev;            /* the current set */
	size_t n;
	uint64_t *ever;              /* every id ever added (never reused) */
	size_t n_ever;
};

static int
fail(struct tlog_answer *a, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct tlog_answer *a, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
	return rc;
}

static struct live *
live_find(struct replay *rp, uint64_t id)
{
	size_t i;

	for (i = 0; i < rp->n; i++)
		if (rp->dev[i].id == id)
			return &rp->dev[i];
	return NULL;
}

static void
replay_free(struct replay *rp)
{
	size_t i;

	for (i = 0; i < rp->n; i++)
		crypto_identity_free(rp->dev[i].parsed);
	free(rp->dev);
	free(rp->ever);
}

/* Verifies sig of the signer (a device of the set) over text. */
static int
signer_verifies(struct replay *rp, uint64_t signer, const struct sb_buf *text,
    const struct tlog_entry *e)
{
	struct live *s = live_find(rp, signer);

	if (s == NULL || text->err != SB_OK)
		return 0;
	return crypto_verify(s->parsed, text->d, text->len, e->sig, e->sig_len) == SB_OK;
}

/* 14.8 step 6 for one entry. */
static int
replay_one(struct tlog_answer *a, struct replay *rp, const struct tlog_entry *e,
    const uint8_t addr[TLOG_HASH_LEN], uint8_t hash[CRYPTO_HASH_LEN])
{
	struct crypto_identity *id = NULL;
	struct sb_buf text = SB_BUF_INIT;
	unsigned long long dev = (unsigned long long)e->device;
	struct live *l = live_find(rp, e->device);
	const char *bad = NULL;
	size_t i;

	if (crypto_identity_parse(e->identity, e->identity_len, &id) != SB_OK)
		return fail(a, SB_ERR_LOG_PROOF, "device %llu: logged identity does not parse", dev);
	memcpy(hash, crypto_identity_hash(id), CRYPTO_HASH_LEN);
	switch (e->kind) {
	case TLOG_ADD:
		for (i = 0; i < rp->n_ever && bad == NULL; i++)
			if (rp->ever[i] == e->device)
				bad = "added twice";
		tlog_approve_text(addr, hash, &text);
		break;
	case TLOG_CHANGE:
		if (l == NULL)
			bad = "changed but not in the log";
		break;
	default:   /* TLOG_REMOVE */
		if (l == NULL || l->identity_len != e->identity_len ||
		    memcmp(l->identity, e->identity, e->identity_len) != 0)
			bad = "removal names a device or identity the log does not have";
		tlog_remove_text(addr, e->device, hash, &text);
	}
	/* A signer must be a device of the account at this point of its
	 * history (the removed device may sign its own removal). */
	if (bad == NULL && e->signer != 0 && !signer_verifies(rp, e->signer, &text, e))
		bad = e->kind == TLOG_ADD ? "countersignature by device %llu does not verify" :
		    "removal signed by device %llu does not verify";
	sb_buf_free(&text);
	if (bad != NULL) {
		char what[96];

		crypto_identity_free(id);
		snprintf(what, sizeof(what), bad, (unsigned long long)e->signer);
		return fail(a, SB_ERR_LOG_PROOF, "device %llu: %s", dev, what);
	}
	if (e->kind == TLOG_REMOVE) {
		crypto_identity_free(id);
		crypto_identity_free(l->parsed);
		*l = rp->dev[--rp->n];
		return SB_OK;
	}
	if (e->kind == TLOG_ADD) {
		l = &rp->dev[rp->n++];
		memset(l, 0, sizeof(*l));
		l->id = e->device;
		l->approver = e->signer;
		/* The account's first device has no one to approve it. */
		l->unapproved = e->signer == 0 && rp->n > 1;
		rp->ever[rp->n_ever++] = e->device;
	} else {
		crypto_identity_free(l->parsed);
		l->changed = 1;
	}
	l->parsed = id;
	l->identity = e->identity;
	l->identity_len = e->identity_len;
	return SB_OK;
}

/* Steps 1-3: the head, its age, its consistency with the known one. */
static int
check_head(struct tlog_answer *a)
{
	unsigned long long n;
	int rc;

	if ((rc = tlog_sth_open(a->key, a->head, a->head_len, &a->sth)) != SB_OK)
		return fail(a, SB_ERR_LOG_PROOF, "tree head: %s", sb_strerror(rc));
	n = (unsigned long long)a->sth.size;
	if (a->known == NULL)
		return a->consistency_len == 0 ? SB_OK : fail(a, SB_ERR_LOG_PROOF,
		    "a consistency proof came with no known tree head");
	if (a->sth.size < a->known->size)
		return fail(a, SB_ERR_LOG_PROOF, "tree head of size %llu is older than the"
		    " newest seen (size %llu)", n, (unsigned long long)a->known->size);
	if (tlog_verify_consistency(a->known->size, a->sth.size, a->known->root,
	    a->sth.root, a->consistency, a->consistency_len) != SB_OK)
		return fail(a, SB_ERR_LOG_FORK, "tree head of size %llu is not consistent"
		    " with the newest seen (size %llu)", n, (unsigned long long)a->known->size);
	return SB_OK;
}

/* Steps 4-6 for every entry. */
static int
check_entries(struct tlog_answer *a, struct replay *rp, const uint8_t addr[TLOG_HASH_LEN])
{
	struct tlog_entry e;
	uint8_t leaf[TLOG_HASH_LEN], hash[CRYPTO_HASH_LEN];
	size_t i;
	int rc;

	for (i = 0; i < a->n_entries; i++) {
		const struct tlog_proven *p = &a->entries[i];
		unsigned long long ix = (unsigned long long)p->index;

		if ((rc = tlog_entry_parse(p->entry, p->entry_len, &e)) != SB_OK)
			return fail(a, SB_ERR_LOG_PROOF, "entry at index %llu: %s", ix,
			    sb_strerror(rc));
		if (p->index >= a->sth.size || (i > 0 && p->index <= a->entries[i - 1].index))
			return fail(a, SB_ERR_LOG_PROOF, "entry at index %llu: out of order or"
			    " past the tree head (size %llu)", ix,
			    (unsigned long long)a->sth.size);
		if ((rc = tlog_leaf_hash(p->entry, p->entry_len, leaf)) != SB_OK)
			return rc;
		if (tlog_verify_inclusion(p->index, a->sth.size, leaf, p->path, p->path_len,
		    a->sth.root) != SB_OK)
			return fail(a, SB_ERR_LOG_PROOF, "entry at index %llu (device %llu):"
			    " inclusion proof does not verify", ix, (unsigned long long)e.device);
		if (memcmp(e.addr, addr, TLOG_HASH_LEN) != 0)
			return fail(a, SB_ERR_LOG_PROOF, "entry at index %llu is of another"
			    " address", ix);
		if (e.seq != i)
			return fail(a, SB_ERR_LOG_PROOF, "entries of the address skip from seq"
			    " %zu to %lu", i, (unsigned long)e.seq);
		if ((rc = replay_one(a, rp, &e, addr, hash)) != SB_OK)
			return rc;
		if (a->events != NULL) {
			struct tlog_event *ev = &a->events[i];

			ev->index = p->index;
			ev->kind = e.kind;
			ev->seq = e.seq;
			ev->device = e.device;
			ev->time = e.time;
			ev->signer = e.signer;
			memcpy(ev->hash, hash, CRYPTO_HASH_LEN);
		}
	}
	return SB_OK;
}

/* Step 7: the served devices are exactly the replayed set. */
static int
check_served(struct tlog_answer *a, struct replay *rp)
{
	size_t i, j;

	for (i = 0; i < a->n_served; i++) {
		const struct tlog_served *s = &a->served[i];
		unsigned long long id = (unsigned long long)s->id;
		struct live *l = live_find(rp, s->id);

		for (j = 0; j < i; j++)
			if (a->served[j].id == s->id)
				return fail(a, SB_ERR_LOG_PROOF, "device %llu: served twice", id);
		if (l == NULL)
			return fail(a, SB_ERR_LOG_PROOF, "device %llu: served but not in the"
			    " log", id);
		if (l->identity_len != s->identity_len ||
		    memcmp(l->identity, s->identity, s->identity_len) != 0)
			return fail(a, SB_ERR_LOG_PROOF, "device %llu: served identity is not"
			    " the logged one", id);
		a->devices[i].id = l->id;
		a->devices[i].approver = l->approver;
		a->devices[i].unapproved = l->unapproved;
		a->devices[i].changed = l->changed;
		memcpy(a->devices[i].hash, crypto_identity_hash(l->parsed), CRYPTO_HASH_LEN);
	}
	/* Every served id is distinct and live, so equal counts mean equal sets. */
	if (a->n_served != rp->n) {
		for (i = 0; i < rp->n; i++) {
			for (j = 0; j < a->n_served && a->served[j].id != rp->dev[i].id; j++)
				;
			if (j == a->n_served)
				return fail(a, SB_ERR_LOG_PROOF, "device %llu: in the log but not"
				    " served", (unsigned long long)rp->dev[i].id);
		}
	}
	return SB_OK;
}

int
tlog_check_answer(struct tlog_answer *a)
{
	struct replay rp;
	uint8_t addr[TLOG_HASH_LEN];
	int rc;

	if (a == NULL || a->key == NULL || a->address == NULL ||
	    (a->n_served > 0 && (a->served == NULL || a->devices == NULL)) ||
	    (a->n_entries > 0 && a->entries == NULL))
		return SB_ERR_INVALID_ARG;
	a->why[0] = '\0';
	memset(&a->sth, 0, sizeof(a->sth));
	if (a->n_entries > TLOG_MAX_ADDR_ENTRIES)
		return fail(a, SB_ERR_LOG_PROOF, "more than %d entries for one address",
		    TLOG_MAX_ADDR_ENTRIES);
	if ((rc = check_head(a)) != SB_OK) {
		if (rc != SB_ERR_LOG_FORK)
			memset(&a->sth, 0, sizeof(a->sth));
		return rc;
	}
	if ((rc = tlog_addr_hash(a->address, strlen(a->address), addr)) != SB_OK)
		return rc;
	memset(&rp, 0, sizeof(rp));
	if (a->n_entries > 0) {
		rp.dev = calloc(a->n_entries, sizeof(*rp.dev));
		rp.ever = calloc(a->n_entries, sizeof(*rp.ever));
		if (rp.dev == NULL || rp.ever == NULL) {
			replay_free(&rp);
			return SB_ERR_ALLOC;
		}
	}
	rc = check_entries(a, &rp, addr);
	if (rc == SB_OK)
		rc = check_served(a, &rp);
	replay_free(&rp);
	if (rc != SB_OK)
		memset(&a->sth, 0, sizeof(a->sth));
	return rc;
}
