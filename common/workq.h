/*
 * workq.h - one worker thread running queued items in order, for work
 * that must never hold up the thread that queues it (an arrival's
 * announcement to the kernel, its hook).  Bounded: a full queue refuses.
 */
#ifndef SB_WORKQ_H
#define SB_WORKQ_H

#include <stddef.h>

struct sb_workq;

/* Runs on the worker, one item at a time, in queue order; owns item. */
typedef void (*sb_workq_fn)(void *ctx, void *item);

/*
 * Starts the worker: run(ctx, item) for each item pushed, at most max
 * waiting; drop(item) frees an item never run.  SB_OK, SB_ERR_ALLOC or
 * SB_ERR_SYSTEM (errno: pthread_create's).
 */
int  sb_workq_start(size_t max, sb_workq_fn run, void (*drop)(void *item), void *ctx,
         struct sb_workq **out);
/* Queues item (SB_OK) or refuses it when max are waiting (SB_ERR_TOO_BIG:
 * the caller still owns it); *waiting (may be NULL) how many wait. */
int  sb_workq_push(struct sb_workq *q, void *item, size_t *waiting);
/* Lets the item being run finish, drops the rest and frees; returns how
 * many were dropped.  NULL accepted. */
size_t sb_workq_stop(struct sb_workq *q);

#endif
