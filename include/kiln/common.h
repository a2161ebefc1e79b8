/*
 * libkiln's conventions, error codes and version.
 *
 * Every function that can fail returns 0 or a negative KILN_E* code and
 * leaves one message for people in a per-thread slot, which
 * kiln_error_last() reads until the next failure on the same thread.
 * Messages never hold a secret; a profile's problems are one
 * "FILE:LINE:COL: message" per line.
 *
 * Out-parameters come first and are named `out`. What a call returns through
 * `**out` belongs to the caller and has a matching _free(), which accepts
 * NULL. A returned `const char *` is borrowed from the object it came from.
 *
 * Options structs begin with `unsigned int version`: start from their
 * _INIT macro so that fields added in later versions keep their defaults.
 *
 * The library prints nothing and runs no program of kiln's own: progress
 * and messages reach the caller through the event callback of each call's
 * options (kiln/event.h), and log lines only where kiln_log_set_stream() or
 * kiln_log_set_callback() send them (kiln/log.h).
 */
#ifndef KILN_COMMON_H
#define KILN_COMMON_H

#include <stdarg.h>

#if defined(__GNUC__)
#define KILN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define KILN_PRINTF(f, a)
#endif

enum kiln_error_code {
	KILN_OK = 0,
	KILN_ERROR = -1,  /* failure outside kiln: cloud, remote, machine */
	KILN_EINVAL = -2, /* bad input: profile, option, repository, reply */
	KILN_ENOTFOUND = -3,
	KILN_ETIMEOUT = -4,
	KILN_EAUTH = -5,
	KILN_EINTR = -6, /* stopped through an options struct's `stop` flag */
	KILN_EEXISTS = -7,
	KILN_ETOOBIG = -8, /* a size cap was hit */
};

/* The last error message of the calling thread, "" when none; borrowed. */
const char *kiln_error_last(void);
/* The code stored with that message (KILN_OK when none). */
int kiln_error_last_code(void);
/* Set the calling thread's message (an event callback refusing a stage); returns `code`. */
int kiln_error_set(int code, const char *fmt, ...) KILN_PRINTF(2, 3);
void kiln_error_clear(void);

/* The library's version, "X.Y.Z". */
const char *kiln_version(void);

#endif
