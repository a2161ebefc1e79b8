/*
 * Logging for people: detail (-v, -vv), warnings and errors; results go
 * elsewhere. The sink is nothing until the program sets one
 * (kiln_log_set_stream(), kiln_log_set_callback() in kiln/log.h): the
 * command line sends lines to stderr, the local cloud's daemon to its log
 * file, and a library user gets nothing unless they ask.
 *
 * Quiet by default: warnings and errors always show (unless --quiet), info
 * with -v, debug with -vv, and KILN_TRACE=aws,ssh,http,... turns on
 * per-area detail. Stream lines carry a UTC timestamp when the stream is
 * not a terminal.
 *
 * Every value registered with kiln_log_add_secret() is replaced by "***" in
 * every line, whatever the level: a secret that slips into a format string
 * still never reaches the log.
 *
 * A stage that reports through events installs a hook on its thread
 * (kiln_log_hook_swap()): warnings and errors logged on that thread while
 * it runs, deep in aws/ or ssh/ as well, reach the hook instead of the sink,
 * and the stage turns them into events for its caller.
 */
#ifndef KILN_CORE_LOG_H
#define KILN_CORE_LOG_H

#include "core/common.h"
#include "kiln/log.h"

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

/*
 * Where this thread's warnings and errors go instead of the sink (`fn` NULL:
 * the sink). The line is redacted and borrowed for the call. While a hook
 * runs, lines it logs itself go to the sink, so a hook may log.
 */
struct kiln_log_hook {
	kiln_log_cb fn;
	void *payload;
};
/* Install `hook` on the calling thread; returns the one it replaces. */
struct kiln_log_hook kiln_log_hook_swap(struct kiln_log_hook hook);

#endif
