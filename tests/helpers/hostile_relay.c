/*
 * hostile_relay.c - TEST ONLY: the real sealbox-relay (relay/server.c,
 * linked from librelay.a) over a storage backend that lies.  It exists so
 * the integration cases tests/integration/hostile_*.sh can check the
 * end-to-end layer against the adversary it is built for (docs/SECURITY.md):
 * a relay that drops, duplicates, reorders, delays, truncates, bit-flips,
 * replays old payloads, swaps payloads between devices and serves a forged
 * identity for a known address.  It never runs in production: it is a
 * separate program under tests/helpers/, and sealbox-relay has no hostile
 * code path at all.
 *
 *   hostile_relay --data DIR --seed N [--forge ADDRESS] [--max-inject N]
 *                 [--log-attack MODE:ADDRESS[:FILE]]  (hostile_log.h)
 *
 * How: relay_serve() opens its store through relay_store_open_sqlite().  This
 * file compiles the SQLite backend in under another name and defines
 * relay_store_open_sqlite itself, returning a wrapper whose ops call the
 * genuine backend and then misbehave on a schedule drawn from a PRNG seeded
 * by --seed (the same seed and the same sequence of store calls give the
 * same misbehaviour).  Because this object defines every external symbol of
 * store_sqlite.o, the archive's copy is never linked in.
 *
 * What the wrapper does:
 *   queue_next   per call: deliver truthfully, drop (skip: the item stays
 *                queued and comes again on the next connection), delay
 *                (sleep up to 250 ms, then deliver), duplicate (deliver, then
 *                deliver again), reorder (hold an item back and deliver it
 *                later), or inject a false item before the real one: a
 *                bit-flipped or truncated payload, a payload queued for
 *                another device, an old payload replayed, or an envelope
 *                with a changed message id, sender, sender device or time.
 *   queue_ack    acknowledges nothing: every item stays queued, so an item
 *                the agent wrongly rejected is not lost for good; once the
 *                honest relay serves the same database it pushes everything
 *                again and the agent must keep exactly one copy of each.
 *   devices_of   for --forge ADDRESS: every device of ADDRESS is served with
 *                a freshly generated identity (same device id and suite).
 * Injected items carry item ids from 2^62 up, so the server's push cursor
 * (set to the last pushed id) is translated back to the real one here.
 *
 * Every injection that must be rejected is logged on stderr as
 *   "hostile: inject KIND device=D msg=<32 hex>"
 * and every other action as "hostile: ACTION device=D item=I"; the cases
 * compare that with the agents' "sealbox: rejected message" lines.
 */
#define relay_store_open_sqlite genuine_store_open_sqlite
#include "../../relay/store_sqlite.c"
#undef relay_store_open_sqlite

#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include "../../crypto/crypto.h"
#include "../../relay/relay.h"
#include "hostile_log.h"

#define FAKE_BASE     (1ull << 62)
#define POOL_MAX      512
#define HELD_MAX      64
#define DEV_MAX       64
#define FORGED_MAX    32

/* One payload the relay has seen (for replays and swaps). */
struct pooled {
	uint64_t device_id;
	struct relay_item it;
};

/* Per recipient device: where its real cursor is, what is held back. */
struct devstate {
	uint64_t device_id;
	uint64_t real_cursor;       /* last real item id passed over */
	uint64_t fake_cursor;       /* last fake id handed out (0: none) */
	struct relay_item held[HELD_MAX];
	size_t n_held;
	struct relay_item dup;      /* to deliver again next (dup.payload set) */
};

struct forged {
	uint64_t device_id;
	uint8_t identity[SB_MAX_IDENTITY];
	size_t len;
};

struct hostile {
	struct relay_store base;
	struct relay_store *real;
	uint64_t rng;
	uint64_t next_fake;
	unsigned injected, max_inject;
	const char *forge;
	struct pooled pool[POOL_MAX];
	size_t n_pool;
	struct devstate dev[DEV_MAX];
	size_t n_dev;
	struct forged forged[FORGED_MAX];
	size_t n_forged;
};

/* One hostile store per process (relay_serve opens exactly one). */
static struct hostile H;
static uint64_t opt_seed = 1;
static const char *opt_forge;
static unsigned opt_max_inject = 400;

/* xorshift64*: reproducible, good enough for a schedule. */
static uint64_t
rnd(void)
{
	H.rng ^= H.rng >> 12;
	H.rng ^= H.rng << 25;
	H.rng ^= H.rng >> 27;
	return H.rng * 2685821657736338717ull;
}

static unsigned
pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static void
hexid(const uint8_t *m, char out[2 * PROTO_MSGID_LEN + 1])
{
	size_t i;

	for (i = 0; i < PROTO_MSGID_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", m[i]);
}

static int
item_copy(const struct relay_item *src, struct relay_item *dst)
{
	*dst = *src;
	dst->payload = malloc(src->payload_len > 0 ? src->payload_len : 1);
	if (dst->payload == NULL)
		return SB_ERR_ALLOC;
	memcpy(dst->payload, src->payload, src->payload_len);
	return SB_OK;
}

static void
pool_add(uint64_t device_id, const struct relay_item *it)
{
	struct pooled *p;

	if (H.n_pool < POOL_MAX) {
		p = &H.pool[H.n_pool++];
	} else {
		p = &H.pool[pick(POOL_MAX)];
		relay_item_clear(&p->it);
	}
	p->device_id = device_id;
	if (item_copy(it, &p->it) != SB_OK)
		memset(&p->it, 0, sizeof(p->it));
}

static struct devstate *
dev_of(uint64_t device_id)
{
	size_t i;

	for (i = 0; i < H.n_dev; i++)
		if (H.dev[i].device_id == device_id)
			return &H.dev[i];
	if (H.n_dev == DEV_MAX)
		return NULL;
	memset(&H.dev[H.n_dev], 0, sizeof(H.dev[0]));
	H.dev[H.n_dev].device_id = device_id;
	return &H.dev[H.n_dev++];
}

static void
dev_reset(struct devstate *d)
{
	size_t i;

	for (i = 0; i < d->n_held; i++)
		relay_item_clear(&d->held[i]);
	d->n_held = 0;
	relay_item_clear(&d->dup);
	d->real_cursor = 0;
	d->fake_cursor = 0;
}

static void
note(const char *what, const struct relay_item *it)
{
	fprintf(stderr, "hostile: %s device=%llu item=%llu\n", what,
	    (unsigned long long)it->device_id, (unsigned long long)it->id);
}

static void
note_inject(const char *kind, const struct relay_item *it)
{
	char h[2 * PROTO_MSGID_LEN + 1];

	hexid(it->msgid, h);
	fprintf(stderr, "hostile: inject %s device=%llu msg=%s\n", kind,
	    (unsigned long long)it->device_id, h);
	H.injected++;
}

/* Hands out item (ownership moves to the caller) under a fake id. */
static int
hand_fake(struct devstate *d, struct relay_item *src, struct relay_item *out)
{
	*out = *src;
	memset(src, 0, sizeof(*src));
	out->id = H.next_fake++;
	d->fake_cursor = out->id;
	return SB_OK;
}

/*
 * A false item built from the real next item r (r itself is kept).
 * Returns SB_OK with *out set, or SB_ERR_NOT_FOUND when the chosen forgery
 * needs something the pool does not have yet.
 */
static int
forge_item(struct devstate *d, const struct relay_item *r, struct relay_item *out)
{
	struct relay_item f;
	const char *kind;
	size_t i, n, start;
	int rc;

	if ((rc = item_copy(r, &f)) != SB_OK)
		return rc;
	switch (pick(8)) {
	case 0:         /* one bit of the payload */
		kind = "bitflip";
		if (f.payload_len == 0)
			goto none;
		n = pick((unsigned)f.payload_len);
		f.payload[n] ^= (uint8_t)(1u << pick(8));
		break;
	case 1:         /* the payload cut short */
		kind = "truncate";
		f.payload_len = f.payload_len > 0 ? pick((unsigned)f.payload_len) : 0;
		break;
	case 2:         /* a payload sealed for another device, same envelope */
		kind = "swap";
		start = H.n_pool ? pick((unsigned)H.n_pool) : 0;
		for (i = 0; i < H.n_pool; i++) {
			struct pooled *p = &H.pool[(start + i) % H.n_pool];

			if (p->device_id != d->device_id && p->it.payload != NULL &&
			    memcmp(p->it.payload, r->payload, 1) == 0)
				break;
		}
		if (i == H.n_pool)
			goto none;
		{
			struct pooled *p = &H.pool[(start + i) % H.n_pool];
			uint8_t *q = malloc(p->it.payload_len > 0 ? p->it.payload_len : 1);

			if (q == NULL)
				goto none;
			memcpy(q, p->it.payload, p->it.payload_len);
			free(f.payload);
			f.payload = q;
			f.payload_len = p->it.payload_len;
		}
		break;
	case 3:         /* the genuine payload under a message id never sent */
		kind = "newid";
		crypto_random(f.msgid, sizeof(f.msgid));
		break;
	case 4:         /* claimed to come from someone else */
		kind = "sender";
		if (strcmp(f.sender, "mallory@example.com") == 0)
			goto none;
		snprintf(f.sender, sizeof(f.sender), "mallory@example.com");
		break;
	case 5:         /* claimed to come from another device */
		kind = "sender_device";
		f.sender_device ^= 1ull << (1 + pick(20));
		break;
	case 6:         /* a relay time far from the sender's */
		kind = "time";
		/* Outside the agent's window either way: an hour before the
		 * sender's clock, or older than the retention period. */
		if (pick(2))
			f.timestamp -= 3600;
		else
			f.timestamp += 40ull * 86400;
		break;
	default:        /* an old payload of this device, under a fresh id */
		kind = "replay_newid";
		start = H.n_pool ? pick((unsigned)H.n_pool) : 0;
		for (i = 0; i < H.n_pool; i++) {
			struct pooled *p = &H.pool[(start + i) % H.n_pool];

			if (p->device_id == d->device_id && p->it.payload != NULL)
				break;
		}
		if (i == H.n_pool)
			goto none;
		relay_item_clear(&f);
		if ((rc = item_copy(&H.pool[(start + i) % H.n_pool].it, &f)) != SB_OK)
			return rc;
		f.device_id = d->device_id;
		crypto_random(f.msgid, sizeof(f.msgid));
		break;
	}
	f.device_id = d->device_id;
	note_inject(kind, &f);
	return hand_fake(d, &f, out);
none:
	relay_item_clear(&f);
	return SB_ERR_NOT_FOUND;
}

static int
h_queue_next(struct relay_store *s, uint64_t device_id, uint64_t after,
    uint64_t not_before, struct relay_item *out)
{
	struct devstate *d = dev_of(device_id);
	struct relay_item r;
	int rc;

	(void)s;
	memset(out, 0, sizeof(*out));
	if (d == NULL)
		return H.real->ops->queue_next(H.real, device_id, after, not_before, out);
	/* The server's cursor is the last id it pushed: a real id, or one of
	 * ours.  A cursor of 0 is a new connection: start over. */
	if (after == 0)
		dev_reset(d);
	else if (after < FAKE_BASE)
		d->real_cursor = after;
	else if (after != d->fake_cursor)
		dev_reset(d);   /* cannot happen with one server; stay honest */

	if (d->dup.payload != NULL) {
		note("duplicate", &d->dup);
		return hand_fake(d, &d->dup, out);
	}
	for (;;) {
		rc = H.real->ops->queue_next(H.real, device_id, d->real_cursor,
		    not_before, &r);
		if (rc == SB_ERR_NOT_FOUND && d->n_held > 0) {
			/* Nothing newer: release what was held back. */
			d->n_held--;
			note("release-held", &d->held[d->n_held]);
			return hand_fake(d, &d->held[d->n_held], out);
		}
		if (rc != SB_OK)
			return rc;
		if (H.injected < H.max_inject && pick(100) < 45) {
			rc = forge_item(d, &r, out);
			if (rc == SB_OK) {
				relay_item_clear(&r);
				return SB_OK;
			}
		}
		switch (pick(10)) {
		case 0:         /* drop: skip it (it stays queued) */
			note("drop", &r);
			d->real_cursor = r.id;
			relay_item_clear(&r);
			continue;
		case 1:         /* reorder: hold it back, deliver later */
			if (d->n_held == HELD_MAX)
				break;
			note("hold", &r);
			d->real_cursor = r.id;
			d->held[d->n_held++] = r;
			continue;
		case 2: {       /* delay */
			struct timespec ts = { 0, (long)pick(250) * 1000000L };

			note("delay", &r);
			nanosleep(&ts, NULL);
			break;
		}
		case 3:         /* duplicate: now and again next time */
			if (item_copy(&r, &d->dup) != SB_OK)
				memset(&d->dup, 0, sizeof(d->dup));
			break;
		default:
			break;
		}
		pool_add(device_id, &r);
		note("deliver", &r);
		*out = r;
		d->real_cursor = r.id;
		d->fake_cursor = 0;
		return SB_OK;
	}
}

/* Acknowledges nothing (see the top of the file). */
static int
h_queue_ack(struct relay_store *s, uint64_t device_id, uint64_t item_id)
{
	(void)s;
	fprintf(stderr, "hostile: ack ignored device=%llu item=%llu\n",
	    (unsigned long long)device_id, (unsigned long long)item_id);
	return SB_OK;
}

static int
forged_identity(const struct relay_device *real, struct forged **out)
{
	struct crypto_key *sk = NULL, *ek = NULL;
	struct crypto_identity *id = NULL;
	const uint8_t *der;
	size_t i, len;
	int rc;

	for (i = 0; i < H.n_forged; i++)
		if (H.forged[i].device_id == real->id) {
			*out = &H.forged[i];
			return SB_OK;
		}
	if (H.n_forged == FORGED_MAX)
		return SB_ERR_TOO_BIG;
	rc = crypto_key_generate_sign(&sk);
	if (rc == SB_OK)
		rc = crypto_key_generate_encrypt((enum crypto_suite)real->suite,
		    CRYPTO_RSA_BITS_MIN, &ek);
	if (rc == SB_OK)
		rc = crypto_identity_from_keys(sk, ek, &id);
	if (rc == SB_OK) {
		crypto_identity_der(id, &der, &len);
		if (len > SB_MAX_IDENTITY)
			rc = SB_ERR_LENGTH;
	}
	if (rc == SB_OK) {
		*out = &H.forged[H.n_forged++];
		(*out)->device_id = real->id;
		memcpy((*out)->identity, der, len);
		(*out)->len = len;
	}
	crypto_identity_free(id);
	crypto_key_free(sk);
	crypto_key_free(ek);
	return rc;
}

static int
h_devices_of(struct relay_store *s, const char *address,
    struct relay_device **out, size_t *n)
{
	struct forged *f;
	size_t i;
	int rc;

	(void)s;
	rc = H.real->ops->devices_of(H.real, address, out, n);
	if (rc == SB_OK)
		rc = la_devices_of(address, out, n);
	if (rc != SB_OK || H.forge == NULL || strcmp(address, H.forge) != 0)
		return rc;
	for (i = 0; i < *n; i++) {
		if (forged_identity(&(*out)[i], &f) != SB_OK)
			continue;
		memcpy((*out)[i].identity, f->identity, f->len);
		(*out)[i].identity_len = f->len;
		fprintf(stderr, "hostile: forged identity address=%s device=%llu\n",
		    address, (unsigned long long)f->device_id);
	}
	return rc;
}

static int
h_batch_commit(struct relay_store *s, const uint8_t msgid[PROTO_MSGID_LEN],
    const char *sender, uint64_t sender_device, uint64_t now,
    const struct relay_batch_entry *e, size_t n)
{
	int rc;

	(void)s;
	rc = H.real->ops->batch_commit(H.real, msgid, sender, sender_device, now, e, n);
	/* Remember what was sealed for whom: material for swaps and replays. */
	for (size_t i = 0; rc == SB_OK && i < n; i++) {
		struct relay_item it;

		memset(&it, 0, sizeof(it));
		it.device_id = e[i].device_id;
		memcpy(it.msgid, msgid, PROTO_MSGID_LEN);
		snprintf(it.sender, sizeof(it.sender), "%s", sender);
		it.sender_device = sender_device;
		it.timestamp = now;
		it.payload = (uint8_t *)(uintptr_t)e[i].payload;
		it.payload_len = e[i].payload_len;
		pool_add(e[i].device_id, &it);   /* copies the payload */
	}
	return rc;
}

/* The rest is passed through unchanged. */
static void
h_close(struct relay_store *s)
{
	size_t i;

	(void)s;
	for (i = 0; i < H.n_pool; i++)
		relay_item_clear(&H.pool[i].it);
	for (i = 0; i < H.n_dev; i++)
		dev_reset(&H.dev[i]);
	H.real->ops->close(H.real);
}

static int
h_invite_add(struct relay_store *s, const char *a, const uint8_t h[RELAY_CODE_HASH_LEN],
    uint64_t now)
{
	(void)s;
	return H.real->ops->invite_add(H.real, a, h, now);
}

static int
h_enroll(struct relay_store *s, const char *address,
    const uint8_t code_hash[RELAY_CODE_HASH_LEN], uint64_t not_before,
    const char *name, uint8_t suite, const uint8_t *identity,
    size_t identity_len, uint64_t now, uint64_t *device_id)
{
	(void)s;
	return H.real->ops->enroll(H.real, address, code_hash, not_before, name,
	    suite, identity, identity_len, now, device_id);
}

static int
h_device_get(struct relay_store *s, uint64_t id, struct relay_device *out)
{
	(void)s;
	return H.real->ops->device_get(H.real, id, out);
}

static int
h_device_remove(struct relay_store *s, uint64_t id, const struct relay_log_signer *by,
    uint64_t now)
{
	(void)s;
	return H.real->ops->device_remove(H.real, id, by, now);
}

static int
h_link_offer_put(struct relay_store *s, const char *address, uint8_t suite,
    const uint8_t *identity, size_t identity_len, const char *name, uint64_t now,
    uint64_t not_before)
{
	(void)s;
	return H.real->ops->link_offer_put(H.real, address, suite, identity, identity_len,
	    name, now, not_before);
}

static int
h_link_offers_of(struct relay_store *s, const char *address, uint64_t not_before,
    struct relay_link_offer **out, size_t *n)
{
	(void)s;
	return H.real->ops->link_offers_of(H.real, address, not_before, out, n);
}

static int
h_link_approve(struct relay_store *s, const char *address, const uint8_t *identity,
    size_t identity_len, uint64_t not_before, const struct relay_log_signer *by,
    uint64_t now, uint64_t *device_id)
{
	(void)s;
	return H.real->ops->link_approve(H.real, address, identity, identity_len, not_before,
	    by, now, device_id);
}

static int
h_log_size(struct relay_store *s, uint64_t *n)
{
	(void)s;
	return la_log_size(H.real, n);
}

static int
h_log_leaves(struct relay_store *s, uint64_t from, uint64_t n, uint8_t (*out)[32])
{
	(void)s;
	return la_log_leaves(H.real, from, n, out);
}

static int
h_log_entries_of(struct relay_store *s, const uint8_t addr[32],
    struct relay_log_entry **out, size_t *n)
{
	(void)s;
	return la_log_entries_of(H.real, addr, out, n);
}

static int
h_status(struct relay_store *s, uint64_t sd, const uint8_t msgid[PROTO_MSGID_LEN],
    struct proto_status_entry **out, size_t *n)
{
	(void)s;
	return H.real->ops->status(H.real, sd, msgid, out, n);
}

static int
h_expire(struct relay_store *s, uint64_t ic, uint64_t sc, uint64_t *n)
{
	(void)s;
	return H.real->ops->expire(H.real, ic, sc, n);
}

static int
h_blob_add(struct relay_store *s, const char *uri, uint64_t size, uint64_t owner,
    uint64_t now)
{
	(void)s;
	return H.real->ops->blob_add(H.real, uri, size, owner, now);
}

static int
h_blob_get(struct relay_store *s, const char *uri, uint64_t nb, uint64_t *size)
{
	(void)s;
	return H.real->ops->blob_get(H.real, uri, nb, size);
}

static int
h_blob_delete(struct relay_store *s, const char *uri, uint64_t owner)
{
	(void)s;
	return H.real->ops->blob_delete(H.real, uri, owner);
}

static int
h_blob_expire(struct relay_store *s, uint64_t cutoff,
    void (*gone)(void *arg, const char *uri), void *arg)
{
	(void)s;
	return H.real->ops->blob_expire(H.real, cutoff, gone, arg);
}

static int
h_usage(struct relay_store *s, const char *address, uint64_t *items, uint64_t *bytes,
    uint64_t *blob_bytes)
{
	(void)s;
	return H.real->ops->usage(H.real, address, items, bytes, blob_bytes);
}

static int
h_queue_count(struct relay_store *s, uint64_t device_id, uint64_t *n)
{
	(void)s;
	return H.real->ops->queue_count(H.real, device_id, n);
}

static int
h_device_seen(struct relay_store *s, uint64_t id, uint64_t now)
{
	(void)s;
	return H.real->ops->device_seen(H.real, id, now);
}

static int
h_invite_void(struct relay_store *s, const char *address, uint64_t *n)
{
	(void)s;
	return H.real->ops->invite_void(H.real, address, n);
}

static int
h_blob_drop_owner(struct relay_store *s, uint64_t owner,
    void (*gone)(void *arg, const char *uri), void *arg, uint64_t *n, uint64_t *bytes)
{
	(void)s;
	return H.real->ops->blob_drop_owner(H.real, owner, gone, arg, n, bytes);
}

static int
h_totals(struct relay_store *s, struct relay_store_totals *out)
{
	(void)s;
	return H.real->ops->totals(H.real, out);
}

static int
h_blob_each(struct relay_store *s, int (*blob)(void *arg, const char *uri, uint64_t size),
    void *arg)
{
	(void)s;
	return H.real->ops->blob_each(H.real, blob, arg);
}

static const struct relay_store_ops hostile_ops = {
	.close = h_close,
	.invite_add = h_invite_add,
	.enroll = h_enroll,
	.device_get = h_device_get,
	.devices_of = h_devices_of,
	.device_remove = h_device_remove,
	.device_seen = h_device_seen,
	.invite_void = h_invite_void,
	.link_offer_put = h_link_offer_put,
	.link_offers_of = h_link_offers_of,
	.link_approve = h_link_approve,
	.log_size = h_log_size,
	.log_leaves = h_log_leaves,
	.log_entries_of = h_log_entries_of,
	.batch_commit = h_batch_commit,
	.queue_next = h_queue_next,
	.queue_ack = h_queue_ack,
	.status = h_status,
	.expire = h_expire,
	.blob_add = h_blob_add,
	.blob_get = h_blob_get,
	.blob_delete = h_blob_delete,
	.blob_expire = h_blob_expire,
	.blob_drop_owner = h_blob_drop_owner,
	.usage = h_usage,
	.queue_count = h_queue_count,
	.totals = h_totals,
	.blob_each = h_blob_each,
};

/* What relay_serve() calls: the genuine store, wrapped. */
int
relay_store_open_sqlite(const char *path, struct relay_store **out)
{
	int rc;

	*out = NULL;
	if (H.real != NULL)
		return SB_ERR_EXISTS;
	rc = genuine_store_open_sqlite(path, &H.real);
	if (rc == SB_OK && (rc = la_startup(H.real)) != SB_OK) {
		fprintf(stderr, "hostile: log-attack failed: %s\n", sb_strerror(rc));
		H.real->ops->close(H.real);
		H.real = NULL;
	}
	if (rc != SB_OK)
		return rc;
	H.base.ops = &hostile_ops;
	H.rng = opt_seed * 0x9e3779b97f4a7c15ull + 1;
	H.next_fake = FAKE_BASE + 1;
	H.forge = opt_forge;
	H.max_inject = opt_max_inject;
	*out = &H.base;
	fprintf(stderr, "hostile: store wrapped seed=%llu forge=%s\n",
	    (unsigned long long)opt_seed, opt_forge ? opt_forge : "-");
	return SB_OK;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 's' },
		{ "forge", required_argument, NULL, 'f' },
		{ "max-inject", required_argument, NULL, 'm' },
		{ "log-attack", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct relay_serve_opts so;
	const char *data = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 's': opt_seed = strtoull(optarg, NULL, 10); break;
		case 'f': opt_forge = optarg; break;
		case 'm': opt_max_inject = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'l':
			if (la_parse(optarg) != 0) {
				fprintf(stderr, "hostile_relay: --log-attack MODE:ADDRESS[:FILE]\n");
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: hostile_relay --data DIR --seed N "
			    "[--forge ADDRESS] [--max-inject N] [--log-attack MODE:ADDRESS[:FILE]]\n");
			return 2;
		}
	}
	if (data == NULL || optind != argc) {
		fprintf(stderr, "hostile_relay: --data DIR is required\n");
		return 2;
	}
	relay_serve_defaults(&so);
	/* Served as it lies: no tree cached across a rewritten history. */
	so.test_log_rebuild = 1;
	rc = relay_serve(data, &so);
	if (rc != SB_OK) {
		fprintf(stderr, "hostile_relay: %s\n", sb_strerror(rc));
		return 1;
	}
	return 0;
}
