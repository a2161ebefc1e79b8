/*
 * kiln's log: detail for people debugging (what SSH to the builder allows,
 * the AWS calls with KILN_TRACE=aws), warnings and errors. It goes nowhere
 * until the program says where: the kiln command line sends it to stderr, a
 * library user may hand it to a callback or a stream. Progress of a stage
 * is not log: it arrives as events (kiln/event.h).
 *
 * Quiet by default: errors and warnings, info with verbose 1, debug with 2.
 * Every value kiln knows to be secret is replaced by "***" in every line.
 */
#ifndef KILN_LOG_H
#define KILN_LOG_H

#include <stdio.h>

enum kiln_log_level {
	KILN_LOG_ERROR = 0,
	KILN_LOG_WARN = 1,
	KILN_LOG_INFO = 2,
	KILN_LOG_DEBUG = 3,
};

enum kiln_color { KILN_COLOR_AUTO, KILN_COLOR_NEVER, KILN_COLOR_ALWAYS };

/* One line, without "kiln: " or a newline, secrets redacted; borrowed for the call. */
typedef void (*kiln_log_cb)(enum kiln_log_level level, const char *line, void *payload);

/* verbose: how many -v (1 info, 2 debug); quiet hides warnings too (errors still show). */
void kiln_log_setup(int verbose, int quiet, enum kiln_color color);
/*
 * Write lines to `fp` as "kiln: warning: ..." (NULL: nowhere, the default),
 * with a UTC timestamp when `timestamps` is 1, or when it is -1 and `fp` is
 * not a terminal.
 */
void kiln_log_set_stream(FILE *fp, int timestamps);
/* Hand lines to `cb` instead of a stream (NULL: nowhere). */
void kiln_log_set_callback(kiln_log_cb cb, void *payload);

#endif
