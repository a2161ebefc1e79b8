/*
 * Hooks and the audit log: what a stage's events (kiln/event.h) set off.
 *
 * A struct kiln_hooks is an event callback (kiln_hooks_on_event(), with the
 * hooks as its payload) placed in front of the caller's own: every event is
 * passed on to `next` first, then
 *
 *   - the profile's hooks run at their stage: pre_bake and post_bake around
 *     a bake, pre_deploy, pre_swap, post_swap and post_deploy in a deploy
 *     (and promote), post_rollback after a rollback, on_failure when one of
 *     them fails. A command hook gets the event as JSON on its stdin and as
 *     KILN_* variables, its output comes back to `next` as
 *     KILN_EVENT_OUTPUT lines labelled "hook" (escaped), and it is killed
 *     with its process group after its time limit. A webhook is an HTTP
 *     POST of the same JSON signed with HMAC-SHA256 (X-Kiln-Signature-256:
 *     sha256=HEX) under the secret in the environment variable it names,
 *     retried with backoff on 5xx and connection errors, bounded in
 *     attempts and time. The secret is never logged nor put in a message.
 *     A failing pre_* hook stops its stage cleanly (the callback's negative
 *     code, see KILN_EVENT_STAGE_START and KILN_EVENT_HOOK); a failing
 *     post_* or on_failure hook is a warning and changes nothing.
 *
 *   - every action that changed something (the end of a bake, deploy,
 *     rollback, promote, destroy or gc that was not a dry run; a swap, a
 *     lease broken, an image deregistered, a resource gc deleted) appends
 *     one JSON line to $KILN_STATE_DIR/audit.jsonl, to the audit file given
 *     (or $KILN_AUDIT), each line with one write(2) on an O_APPEND
 *     descriptor so concurrent writers never interleave, and is sent to the
 *     profile's `hooks.audit` webhook when it names one.
 */
#ifndef KILN_HOOKS_H
#define KILN_HOOKS_H

#include <stddef.h>

#include "kiln/event.h"
#include "kiln/profile.h"

struct kiln_hooks;

#define KILN_HOOKS_OPTIONS_VERSION 1

struct kiln_hooks_options {
	unsigned int version; /* KILN_HOOKS_OPTIONS_VERSION */
	kiln_event_cb next;   /* every event goes on to it first; may be NULL */
	void *next_payload;
	const char *state_dir;  /* audit.jsonl's directory; NULL: $KILN_STATE_DIR or the default */
	const char *audit_file; /* another audit log; NULL: $KILN_AUDIT when set */
	volatile int *stop;     /* a running hook is killed when it becomes non-zero */
};

#define KILN_HOOKS_OPTIONS_INIT                                                                    \
	{                                                                                          \
		.version = KILN_HOOKS_OPTIONS_VERSION                                              \
	}

/*
 * The hooks of `profile` (NULL: none, only the audit log, as for `kiln
 * gc`). The profile must outlive the hooks.
 */
int kiln_hooks_new(struct kiln_hooks **out, const struct kiln_profile *profile,
                   const struct kiln_hooks_options *opts);
void kiln_hooks_free(struct kiln_hooks *hooks);
/* The event callback: pass `hooks` as the stage options' payload. */
int kiln_hooks_on_event(const struct kiln_event *event, void *hooks);

/* Which lines kiln_audit_read() keeps (NULL or 0: any). */
struct kiln_audit_filter {
	const char *profile;
	const char *env;
	double since; /* seconds since the epoch */
};

/*
 * The lines of audit log `file` (NULL: $KILN_STATE_DIR/audit.jsonl) that
 * pass `filter`, oldest first, as a JSON array in *out (free() it). Lines
 * that are not JSON objects are skipped and counted in *skipped (may be
 * NULL). A missing file is an empty log.
 */
int kiln_audit_read(char **out, size_t *skipped, const char *file,
                    const struct kiln_audit_filter *filter);

#endif
