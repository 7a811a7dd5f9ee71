/* watch_int.h - what watch/'s own files share (not for other modules). */
#ifndef SB_WATCH_INT_H
#define SB_WATCH_INT_H

#include "watch.h"

struct watch_hook;

/* The hook runner of home (hook.c): a thread that runs HOME/hooks/on-receive
 * once per queued arrival, one at a time, killing it after timeout_s. */
int  watch_hook_start(const char *home, unsigned timeout_s, struct watch_hook **out);
/* Copies ev into the queue and returns at once (a full queue: logged,
 * not run).  h NULL: nothing. */
void watch_hook_queue(struct watch_hook *h, const struct watch_event *ev);
/* Lets a running hook finish (it is killed at its timeout), drops what is
 * queued (logged) and frees.  NULL accepted. */
void watch_hook_stop(struct watch_hook *h);

#endif
