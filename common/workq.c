/*
 * workq.c - one worker thread over a bounded FIFO (workq.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "sberr.h"
#include "workq.h"

struct node {
	struct node *next;
	void *item;
};

struct sb_workq {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct node *head, *tail;
	size_t n, max;
	int stop;
	sb_workq_fn run;
	void (*drop)(void *item);
	void *ctx;
};

static void *
worker(void *arg)
{
	struct sb_workq *q = arg;
	struct node *nd;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (q->head == NULL && !q->stop)
			pthread_cond_wait(&q->cond, &q->lock);
		if (q->stop)
			break;
		nd = q->head;
		q->head = nd->next;
		if (q->head == NULL)
			q->tail = NULL;
		q->n--;
		pthread_mutex_unlock(&q->lock);
		q->run(q->ctx, nd->item);
		free(nd);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int
sb_workq_start(size_t max, sb_workq_fn run, void (*drop)(void *item), void *ctx,
    struct sb_workq **out)
{
	struct sb_workq *q;
	int rc;

	*out = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return SB_ERR_ALLOC;
	q->max = max;
	q->run = run;
	q->drop = drop;
	q->ctx = ctx;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	if ((rc = pthread_create(&q->thread, NULL, worker, q)) != 0) {
		pthread_cond_destroy(&q->cond);
		pthread_mutex_destroy(&q->lock);
		free(q);
		errno = rc;
		return SB_ERR_SYSTEM;
	}
	*out = q;
	return SB_OK;
}

int
sb_workq_push(struct sb_workq *q, void *item, size_t *waiting)
{
	struct node *nd = malloc(sizeof(*nd));
	int rc = SB_OK;

	if (nd == NULL)
		return SB_ERR_ALLOC;
	nd->next = NULL;
	nd->item = item;
	pthread_mutex_lock(&q->lock);
	if (waiting != NULL)
		*waiting = q->n;
	if (q->n >= q->max || q->stop) {
		rc = SB_ERR_TOO_BIG;
	} else {
		if (q->tail)
			q->tail->next = nd;
		else
			q->head = nd;
		q->tail = nd;
		q->n++;
		pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	if (rc != SB_OK)
		free(nd);
	return rc;
}

size_t
sb_workq_stop(struct sb_workq *q)
{
	struct node *nd, *next;
	size_t dropped = 0;

	if (q == NULL)
		return 0;
	pthread_mutex_lock(&q->lock);
	q->stop = 1;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	for (nd = q->head; nd != NULL; nd = next) {
		next = nd->next;
		q->drop(nd->item);
		free(nd);
		dropped++;
	}
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
	return dropped;
}
