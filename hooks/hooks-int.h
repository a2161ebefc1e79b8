/*
 * Internals of hooks/ (kiln/hooks.h), one noun per file:
 *
 *   hooks.c    the callback: which hook stage an event is, the hooks run
 *   payload.c  an event as the hooks' JSON and KILN_* variables
 *   command.c  a command hook: stdin, output lines, time limit
 *   webhook.c  a webhook: signed POST, retries
 *   audit.c    the audit log: one line per change, and reading it back
 *
 * Everything a hook sends comes from the event (already redacted) and the
 * profile; the only secret is a webhook's, which stays in webhook.c.
 */
#ifndef KILN_HOOKS_HOOKS_INT_H
#define KILN_HOOKS_HOOKS_INT_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"
#include "kiln/hooks.h"

/* One entry of a stage's list: a command or a webhook. */
struct kiln_hook {
	char *command;    /* a command line (run by /bin/sh), or NULL */
	char *path;       /* a program beside the profile, run directly, or NULL */
	char *url;        /* a webhook, or NULL */
	char *secret_env; /* the variable holding the webhook's secret, or NULL */
	double timeout_s;
};

/* Where a hook's output and warnings go: the caller's next callback. */
struct kiln_hook_sink {
	kiln_event_cb cb;
	void *payload;
	const struct kiln_event *ev; /* the event that set the hook off */
	volatile int *stop;
	const char *dir; /* the profile's directory: a command hook's working directory */
};

/* Default time limits, seconds. */
#define KILN_HOOK_COMMAND_TIMEOUT 300.0
#define KILN_HOOK_WEBHOOK_TIMEOUT 30.0

/* payload.c */
/* The event as the hooks' JSON: stage (the hook stage), action, profile, env, ... */
json_t *kiln_hook_payload(const struct kiln_event *ev, const char *stage);
/* The same as "KILN_NAME=value" strings, NULL-terminated; free with kiln_hook_env_free(). */
char **kiln_hook_env(const json_t *payload);
void kiln_hook_env_free(char **env);
/* "app=1f2e os=9a8b" as {"app": "1f2e", "os": "9a8b"}; NULL -> {}. */
json_t *kiln_hook_commits(const char *commits);

/* command.c */
/*
 * Run a command hook with `body` on stdin and `env` added to the
 * environment; 0 when it exits 0, KILN_ERROR (message set) when it fails,
 * KILN_ETIMEOUT when it outlived its limit (its group killed).
 */
int kiln_hook_command_run(const struct kiln_hook *hook, const struct kiln_hook_sink *sink,
                          const char *body, char *const *env);

/* webhook.c */
/* POST `body` to the webhook, signed, with retries; 0 on a 2xx reply. */
int kiln_hook_webhook_send(const struct kiln_hook *hook, const char *body, const char *event,
                           volatile int *stop);
/* "sha256=" and the HMAC-SHA256 of body under key, in lowercase hex (72 bytes + NUL). */
void kiln_hook_signature(char out[72], const void *key, size_t keylen, const void *body,
                         size_t len);
/* The URL without user info, query or fragment, for messages. free() it. */
char *kiln_hook_url_shown(const char *url);
/*
 * The URL's user information and query registered as secrets (core/log.h):
 * the HTTP layer's errors and traces quote the whole URL.
 */
void kiln_hook_url_secrets(const char *url);

/* audit.c */
struct kiln_audit;
/* The sinks: $state_dir/audit.jsonl, `extra` (may be NULL) and `hook` (a webhook, may be NULL). */
int kiln_audit_open(struct kiln_audit **out, const char *state_dir, const char *extra,
                    const struct kiln_hook *hook);
void kiln_audit_close(struct kiln_audit *a);
/* The event's audit line (JSON, no newline) or NULL when it changed nothing. free() it. */
char *kiln_audit_line(const struct kiln_event *ev, const char *host);
/* Append `line` and a newline to each file with one write(2); send it to the webhook. */
int kiln_audit_append(struct kiln_audit *a, const char *line, volatile int *stop);

#endif
