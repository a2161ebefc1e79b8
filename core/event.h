/*
 * Emitting events (kiln/event.h) from a stage: one emitter per run of a
 * stage holds the caller's callback and what every event of the run
 * carries (stage, profile, env, run id, image id). Messages are formatted
 * and redacted here, so no secret leaves in an event.
 *
 * Between kiln_emitter_begin() and kiln_emitter_end() the warnings and
 * errors logged on the calling thread become KILN_EVENT_WARNING and
 * KILN_EVENT_ERROR events of the emitter (see kiln_log_hook_swap()).
 */
#ifndef KILN_CORE_EVENT_H
#define KILN_CORE_EVENT_H

#include "core/common.h"
#include "core/log.h"
#include "kiln/event.h"

struct kiln_emitter {
	kiln_event_cb cb; /* NULL: events go nowhere */
	void *payload;
	struct kiln_event
	    base; /* the run's fields; strings borrowed, updated as they become known */
	struct kiln_log_hook saved;
	double started;
};

/* Route this thread's warnings and errors to `e` and emit KILN_EVENT_STAGE_START. */
int kiln_emitter_begin(struct kiln_emitter *e);
/* Emit KILN_EVENT_STAGE_END with `result` and restore the thread's log hook. */
void kiln_emitter_end(struct kiln_emitter *e, int result);

/* Emit an event of `kind` with the run's fields and a formatted message. */
int kiln_emit(const struct kiln_emitter *e, enum kiln_event_kind kind, const char *step,
              const char *fmt, ...) KILN_PRINTF(4, 5);
int kiln_emit_v(const struct kiln_emitter *e, enum kiln_event_kind kind, const char *step,
                const char *fmt, va_list ap) KILN_PRINTF(4, 0);
/*
 * Emit KILN_EVENT_HOOK at `point` ("pre_swap"). At a "pre_" point a
 * callback's negative code comes back, with its message (or one naming the
 * hook); at a "post_" point it is ignored and 0 comes back.
 */
int kiln_emit_hook(const struct kiln_emitter *e, const char *point);
/* Emit KILN_EVENT_CHANGE: `what` changed ("swap"), on `label` (may be NULL), with `result`. */
void kiln_emit_change(const struct kiln_emitter *e, const char *what, const char *label,
                      int result);
/* Emit `ev` (message already redacted) after filling the run's fields it leaves NULL. */
int kiln_emit_event(const struct kiln_emitter *e, struct kiln_event *ev);

#endif
