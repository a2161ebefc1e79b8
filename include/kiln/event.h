/*
 * Events: how a stage (bake, gc, deploy and its siblings; later validate
 * and the pipelines) tells its caller what it does, instead of printing.
 * Each call's options carry `on_event` and `payload`; the callback runs on
 * the calling thread, in order, and must not call back into the stage.
 *
 * Growth: the library makes events and callbacks only read them, so fields
 * are added at the end of struct kiln_event and kinds after the last one;
 * a callback ignores kinds it does not know. Hooks (command hooks, webhooks,
 * the audit log; kiln/hooks.h) are callbacks of this shape.
 */
#ifndef KILN_EVENT_H
#define KILN_EVENT_H

#include <stdint.h>

enum kiln_event_kind {
	/*
	 * A stage begins. A callback that returns a negative code stops the
	 * stage before it changes anything (a pre_* hook), with that code and
	 * the message it set with kiln_error_set().
	 */
	KILN_EVENT_STAGE_START = 1,
	/* The stage ended: `result` is 0 or its code, `message` its error, `seconds` its time. */
	KILN_EVENT_STAGE_END,
	/* One line for people about what the stage is doing. */
	KILN_EVENT_PROGRESS,
	/* Step `step` of the stage finished after `seconds`. */
	KILN_EVENT_STEP_DONE,
	/* `done` of `total` bytes of `label` sent (`total` 0 when unknown). */
	KILN_EVENT_TRANSFER,
	/* One line of a remote command's output: `label` says whose ("os", "check"). */
	KILN_EVENT_OUTPUT,
	/* Something the caller should know; the stage goes on. */
	KILN_EVENT_WARNING,
	/* A failure the stage went past (a temporary it could not delete). */
	KILN_EVENT_ERROR,
	/*
	 * The stage reached the hook point `step` ("pre_deploy", "pre_swap",
	 * "post_swap", "post_deploy", "post_rollback"), with release, image,
	 * commits and url known. A callback that returns a negative code at a
	 * "pre_" point stops the stage there, cleanly (at "pre_swap": the new
	 * group is removed, live untouched), with the message it set; at a
	 * "post_" point its return is ignored.
	 */
	KILN_EVENT_HOOK,
	/*
	 * The stage changed something on its way, for the audit log: `step`
	 * says what ("swap", "lease broken", "image deregistered", "deleted"),
	 * `label` the resource, `result` 0 or the failure's code.
	 */
	KILN_EVENT_CHANGE,
};

enum kiln_event_stream { KILN_EVENT_STDOUT = 1, KILN_EVENT_STDERR = 2 };

struct kiln_event {
	enum kiln_event_kind kind;
	/* "bake", "gc", "deploy", "rollback", "promote", "status", "destroy", "policy", ... */
	const char *stage;
	const char *step;    /* the stage's step ("layers", "upload"), or NULL */
	const char *message; /* for people, secrets redacted; "" when none */
	/* What the stage works on, NULL until known. */
	const char *profile;
	const char *env;
	const char *run_id;
	const char *image_id;
	const char *label;             /* OUTPUT, TRANSFER */
	enum kiln_event_stream stream; /* OUTPUT */
	double seconds;                /* STEP_DONE, STAGE_END */
	uint64_t done, total;          /* TRANSFER */
	int result;                    /* STAGE_END, CHANGE */
	/* What the run deploys or bakes, NULL until known. */
	const char *release; /* the release's name (the app's tag) */
	const char *commits; /* "LAYER=COMMIT" pairs, space-separated ("app=1f2e... os=9a8b...") */
	const char *url;     /* the production listener's, once the load balancer is known */
	const char *caller;  /* the cloud identity the stage acts as (an STS ARN) */
	int dry_run;         /* STAGE_START, STAGE_END: the stage changes nothing */
};

/* Strings in `event` are borrowed for the call. Return 0 (see KILN_EVENT_STAGE_START). */
typedef int (*kiln_event_cb)(const struct kiln_event *event, void *payload);

#endif
