/*
 * clock.h - the one place that turns "in N ms" into a struct timespec
 * deadline (for pthread_cond_timedwait, on whichever clock the condition
 * variable was made with) and reads a monotonic millisecond count.
 */
#ifndef SB_CLOCK_H
#define SB_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC (for schedules and elapsed times). */
int64_t sb_mono_ms(void);

/* *ts = now on clock + ms (ms >= 0), tv_nsec normalised. */
void sb_deadline(clockid_t clock, int64_t ms, struct timespec *ts);

#endif
