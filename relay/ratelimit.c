/*
 * ratelimit.c - per-device token buckets for SEND and LOOKUP (issue 12,
 * findings 6 and 9; docs/RELAY.md "Quotas and rate limits").
 *
 * Kept by device id, not by connection: a device that reconnects keeps its
 * empty bucket, so reconnecting buys no extra requests.  An entry whose
 * buckets have refilled is the same as no entry, so the periodic prune
 * drops those and memory stays proportional to the devices active lately.
 * The clock is the caller's (monotonic seconds), so tests can drive it.
 */
#include <stdlib.h>

#include "../common/sberr.h"
#include "relay.h"

#define RATE_HASH 1024u

struct bucket {
	uint64_t device;
	double tokens[RELAY_RATE_KINDS];
	double last[RELAY_RATE_KINDS];
	struct bucket *next;
};

struct relay_rates {
	struct bucket *head[RATE_HASH];
};

int
relay_rates_new(struct relay_rates **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? SB_OK : SB_ERR_ALLOC;
}

void
relay_rates_free(struct relay_rates *r)
{
	struct bucket *b, *n;
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < RATE_HASH; i++)
		for (b = r->head[i]; b != NULL; b = n) {
			n = b->next;
			free(b);
		}
	free(r);
}

static struct bucket *
find(struct relay_rates *r, uint64_t device, double now)
{
	struct bucket **h = &r->head[device % RATE_HASH], *b;
	int k;

	for (b = *h; b != NULL; b = b->next)
		if (b->device == device)
			return b;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->device = device;
	for (k = 0; k < RELAY_RATE_KINDS; k++) {
		b->tokens[k] = -1;   /* filled on first use, with that kind's burst */
		b->last[k] = now;
	}
	b->next = *h;
	*h = b;
	return b;
}

int
relay_rate_take(struct relay_rates *r, uint64_t device, int kind, double cost,
    double rate, double burst, double now)
{
	struct bucket *b;
	double t;

	if (kind < 0 || kind >= RELAY_RATE_KINDS)
		return SB_ERR_INVALID_ARG;
	if ((b = find(r, device, now)) == NULL)
		return SB_ERR_ALLOC;
	if (b->tokens[kind] < 0)
		b->tokens[kind] = burst;
	t = b->tokens[kind] + (now > b->last[kind] ? now - b->last[kind] : 0) * rate;
	b->tokens[kind] = t > burst ? burst : t;
	b->last[kind] = now;
	/* A request bigger than the whole bucket (32 addresses against a
	 * burst of 10) costs the whole bucket rather than never passing. */
	if (cost > burst)
		cost = burst;
	if (b->tokens[kind] < cost)
		return SB_ERR_RATE_LIMIT;
	b->tokens[kind] -= cost;
	return SB_OK;
}

void
relay_rates_prune(struct relay_rates *r, double now, double refill)
{
	struct bucket **p, *b;
	size_t i;
	int k, idle;

	for (i = 0; i < RATE_HASH; i++) {
		p = &r->head[i];
		while ((b = *p) != NULL) {
			for (idle = 1, k = 0; k < RELAY_RATE_KINDS; k++)
				idle &= now - b->last[k] >= refill;
			if (idle) {
				*p = b->next;
				free(b);
			} else {
				p = &b->next;
			}
		}
	}
}
