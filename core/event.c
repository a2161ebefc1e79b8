#include "core/event.h"
#include "core/buf.h"
#include "core/util.h"

#include <string.h>

int kiln_emit_event(const struct kiln_emitter *e, struct kiln_event *ev)
{
	const struct kiln_event *b = &e->base;

	if (e->cb == NULL)
		return 0;
	ev->stage = ev->stage ? ev->stage : b->stage;
	ev->profile = ev->profile ? ev->profile : b->profile;
	ev->env = ev->env ? ev->env : b->env;
	ev->run_id = ev->run_id ? ev->run_id : b->run_id;
	ev->image_id = ev->image_id ? ev->image_id : b->image_id;
	ev->release = ev->release ? ev->release : b->release;
	ev->commits = ev->commits ? ev->commits : b->commits;
	ev->url = ev->url ? ev->url : b->url;
	ev->caller = ev->caller ? ev->caller : b->caller;
	ev->dry_run = ev->dry_run || b->dry_run;
	if (ev->message == NULL)
		ev->message = "";
	return e->cb(ev, e->payload);
}

int kiln_emit_v(const struct kiln_emitter *e, enum kiln_event_kind kind, const char *step,
                const char *fmt, va_list ap)
{
	struct kiln_event ev = {.kind = kind, .step = step};
	struct kiln_buf line = KILN_BUF_INIT;
	char *clean;
	int rc;

	if (e->cb == NULL)
		return 0;
	kiln_buf_vprintf(&line, fmt, ap);
	clean = kiln_log_redact(line.ptr);
	ev.message = clean;
	rc = kiln_emit_event(e, &ev);
	free(clean);
	kiln_buf_release(&line);
	return rc;
}

int kiln_emit(const struct kiln_emitter *e, enum kiln_event_kind kind, const char *step,
              const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = kiln_emit_v(e, kind, step, fmt, ap);
	va_end(ap);
	return rc;
}

int kiln_emit_hook(const struct kiln_emitter *e, const char *point)
{
	struct kiln_event ev = {.kind = KILN_EVENT_HOOK, .step = point};
	int rc;

	if (e->cb == NULL)
		return 0;
	kiln_error_clear();
	rc = kiln_emit_event(e, &ev);
	if (rc >= 0 || strncmp(point, "pre_", 4) != 0) {
		kiln_error_clear();
		return 0;
	}
	if (kiln_error_last()[0] == '\0')
		kiln_error_set(rc, "%s stopped by its %s hook", e->base.stage, point);
	return rc;
}

void kiln_emit_change(const struct kiln_emitter *e, const char *what, const char *label, int result)
{
	struct kiln_event ev = {.kind = KILN_EVENT_CHANGE, .step = what, .label = label};

	ev.result = result < 0 ? result : 0;
	kiln_emit_event(e, &ev);
}

/* A warning or an error logged on the stage's thread (already redacted). */
static void on_log(enum kiln_log_level level, const char *line, void *payload)
{
	const struct kiln_emitter *e = payload;
	struct kiln_event ev = {.kind =
	                            level == KILN_LOG_ERROR ? KILN_EVENT_ERROR : KILN_EVENT_WARNING,
	                        .message = line};

	kiln_emit_event(e, &ev);
}

int kiln_emitter_begin(struct kiln_emitter *e)
{
	struct kiln_event ev = {.kind = KILN_EVENT_STAGE_START};
	int rc;

	e->started = kiln_time_mono();
	kiln_error_clear();
	e->saved = kiln_log_hook_swap((struct kiln_log_hook){e->cb ? on_log : NULL, e});
	rc = kiln_emit_event(e, &ev);
	if (rc >= 0)
		return 0;
	/* The callback refused the stage (a pre_* hook): keep its message if it set one. */
	if (kiln_error_last()[0] == '\0')
		kiln_error_set(rc, "%s stopped by its event callback", e->base.stage);
	return rc;
}

void kiln_emitter_end(struct kiln_emitter *e, int result)
{
	struct kiln_event ev = {.kind = KILN_EVENT_STAGE_END, .result = result < 0 ? result : 0};
	char *msg = result < 0 ? kiln_xstrdup(kiln_error_last()) : NULL;
	char *clean = msg != NULL ? kiln_log_redact(msg) : NULL;

	ev.message = clean;
	ev.seconds = kiln_time_mono() - e->started;
	kiln_emit_event(e, &ev);
	kiln_log_hook_swap(e->saved);
	/* The caller reads the stage's error after this: a callback must not replace it. */
	if (result < 0)
		kiln_error_set(result, "%s", msg);
	free(clean);
	free(msg);
}
