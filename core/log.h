/*
 * Logging to stderr for people; results go to stdout elsewhere. Quiet by
 * default: warnings and errors always show (unless --quiet), info with -v,
 * debug with -vv, and KILN_TRACE=aws,ssh,http,... turns on per-area detail.
 * Lines carry a UTC timestamp when stderr is not a terminal.
 *
 * Every value registered with kiln_log_add_secret() is replaced by "***" in
 * every line, whatever the level: a secret that slips into a format string
 * still never reaches the log.
 */
#ifndef KILN_CORE_LOG_H
#define KILN_CORE_LOG_H

#include "core/common.h"

enum kiln_log_level {
	KILN_LOG_ERROR = 0,
	KILN_LOG_WARN = 1,
	KILN_LOG_INFO = 2,
	KILN_LOG_DEBUG = 3,
};

enum kiln_color { KILN_COLOR_AUTO, KILN_COLOR_NEVER, KILN_COLOR_ALWAYS };

/* verbose: number of -v; quiet hides warnings too (errors still show). */
void kiln_log_setup(int verbose, int quiet, enum kiln_color color);
/* Send lines to `fp` instead of stderr (the local cloud logs to a file). */
void kiln_log_set_stream(FILE *fp, int timestamps);
int kiln_log_enabled(enum kiln_log_level level);
/* Whether KILN_TRACE names `area` (or "all"). */
int kiln_log_trace_enabled(const char *area);

void kiln_log(enum kiln_log_level level, const char *fmt, ...) KILN_PRINTF(2, 3);
void kiln_log_error(const char *fmt, ...) KILN_PRINTF(1, 2);
void kiln_log_warn(const char *fmt, ...) KILN_PRINTF(1, 2);
void kiln_log_info(const char *fmt, ...) KILN_PRINTF(1, 2);
void kiln_log_debug(const char *fmt, ...) KILN_PRINTF(1, 2);
/* A line shown only when KILN_TRACE names `area`. */
void kiln_log_trace(const char *area, const char *fmt, ...) KILN_PRINTF(2, 3);

/* Redact `value` (copied; at least 4 bytes long) from every later line. */
void kiln_log_add_secret(const char *value);
void kiln_log_clear_secrets(void);
/* Replace every registered secret in `s` with "***"; returns a new string. */
char *kiln_log_redact(const char *s);

#endif
