/*
 * Adaptive polling for everything a bake waits on (an instance running, an
 * image available, a lock, a console): the first look comes 20 ms after the
 * start, each pause doubles up to 5 s, and an overall deadline bounds the
 * whole wait. The short start matters where state changes are quick (the
 * local cloud runs, stops and images a builder in tens of milliseconds);
 * against AWS, where they take seconds, it costs a few more calls in the
 * first second. A stop flag (set by a signal handler) ends a pause at once, so
 * Ctrl-C never waits out a long sleep.
 */
#ifndef KILN_BAKE_POLL_H
#define KILN_BAKE_POLL_H

#define KILN_POLL_FIRST 0.02
#define KILN_POLL_MAX   5.0

struct kiln_poll {
	double delay;    /* the next pause; 0 before the first */
	double deadline; /* kiln_time_mono() value */
	double timeout;  /* for messages */
	volatile int *stop;
};

/* Start a wait of at most `timeout` seconds. `stop` may be NULL. */
void kiln_poll_start(struct kiln_poll *p, double timeout, volatile int *stop);

/* The pause after `prev` (0 for the first): 0.02, 0.04, 0.08, ... capped at 5. */
double kiln_poll_next_delay(double prev);

/*
 * Pause before the next look. KILN_ETIMEOUT once the deadline has passed
 * ("timed out after N s waiting for `what`"), KILN_EINTR when *stop is set.
 * The last pause is cut short so that the deadline is never overshot.
 */
int kiln_poll_wait(struct kiln_poll *p, const char *what);

#endif
