/*
 * Adaptive polling for everything a bake waits on (an instance running, an
 * image available, a lock, a console): the first look comes 0.2 s after the
 * start, each pause doubles up to 5 s, and an overall deadline bounds the
 * whole wait. A stop flag (set by a signal handler) ends a pause at once, so
 * Ctrl-C never waits out a long sleep.
 */
#ifndef KILN_BAKE_POLL_H
#define KILN_BAKE_POLL_H

#define KILN_POLL_FIRST 0.2
#define KILN_POLL_MAX   5.0

struct kiln_poll {
	double delay;    /* the next pause; 0 before the first */
	double deadline; /* kiln_time_mono() value */
	double timeout;  /* for messages */
	volatile int *stop;
};

/* Start a wait of at most `timeout` seconds. `stop` may be NULL. */
void kiln_poll_start(struct kiln_poll *p, double timeout, volatile int *stop);

/* The pause after `prev` (0 for the first): 0.2, 0.4, 0.8, ... capped at 5. */
double kiln_poll_next_delay(double prev);

/*
 * Pause before the next look. KILN_ETIMEOUT once the deadline has passed
 * ("timed out after N s waiting for `what`"), KILN_EINTR when *stop is set.
 * The last pause is cut short so that the deadline is never overshot.
 */
int kiln_poll_wait(struct kiln_poll *p, const char *what);

#endif
