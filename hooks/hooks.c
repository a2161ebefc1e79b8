/*
 * The hooks' event callback (kiln/hooks.h): each event goes on to the
 * caller's callback, then sets off the hooks of its stage and, when it
 * records a change, the audit line.
 *
 * Which hook stage an event is:
 *   STAGE_START of a bake                 pre_bake (a refusal stops the bake)
 *   STAGE_END of a bake that succeeded    post_bake
 *   HOOK ("pre_deploy", "pre_swap", ...)  that stage
 *   STAGE_END of a bake, deploy, rollback, promote or destroy that failed
 *                                         on_failure
 */
#include "hooks/hooks-int.h"

#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include "profiles/profile.h"

static const char *const stage_names[] = {"pre_bake",      "post_bake", "pre_deploy",
                                          "pre_swap",      "post_swap", "post_deploy",
                                          "post_rollback", "on_failure"};
#define NSTAGES KILN_ARRAY_SIZE(stage_names)

struct hook_list {
	struct kiln_hook *v;
	size_t n;
};

struct kiln_hooks {
	struct hook_list stages[NSTAGES];
	struct kiln_hook *audit_hook; /* hooks.audit, or NULL */
	struct kiln_audit *audit;
	kiln_event_cb next;
	void *next_payload;
	volatile int *stop;
	char *dir; /* the profile's directory, or NULL */
	char host[256];
};

static void hook_release(struct kiln_hook *h)
{
	free(h->command);
	free(h->path);
	free(h->url);
	free(h->secret_env);
}

/*
 * One entry as the schema checked it. A single word naming a file beside
 * the profile is that program; anything else is a command line for sh.
 */
static void hook_from_json(struct kiln_hook *h, const json_t *v, const char *dir)
{
	const char *cmd = json_is_string(v) ? json_string_value(v) : kiln_json_str(v, "command");

	memset(h, 0, sizeof(*h));
	h->timeout_s = json_is_object(v) ? (double)kiln_json_int(v, "timeout_s", 0) : 0;
	if (json_is_object(v) && kiln_json_str(v, "url") != NULL) {
		h->url = kiln_xstrdup(kiln_json_str(v, "url"));
		kiln_hook_url_secrets(h->url);
		if (kiln_json_str(v, "secret_env") != NULL)
			h->secret_env = kiln_xstrdup(kiln_json_str(v, "secret_env"));
		return;
	}
	if (cmd == NULL)
		return;
	if (dir != NULL && cmd[0] != '/' && strcspn(cmd, " \t;|&<>()$`'\"\\*?") == strlen(cmd)) {
		char *p = kiln_path_join(dir, cmd);
		if (access(p, X_OK) == 0) {
			h->path = p;
			return;
		}
		free(p);
	}
	h->command = kiln_xstrdup(cmd);
}

static void lists_from_profile(struct kiln_hooks *hk, const json_t *hooks)
{
	size_t i, j;

	for (i = 0; i < NSTAGES; i++) {
		const json_t *list = json_object_get(hooks, stage_names[i]);
		json_t *v;

		if (!json_is_array(list) || json_array_size(list) == 0)
			continue;
		hk->stages[i].v = kiln_xcalloc(json_array_size(list), sizeof(struct kiln_hook));
		json_array_foreach(list, j, v)
		    hook_from_json(&hk->stages[i].v[hk->stages[i].n++], v, hk->dir);
	}
	if (json_is_object(json_object_get(hooks, "audit"))) {
		hk->audit_hook = kiln_xcalloc(1, sizeof(*hk->audit_hook));
		hook_from_json(hk->audit_hook, json_object_get(hooks, "audit"), NULL);
	}
}

int kiln_hooks_new(struct kiln_hooks **out, const struct kiln_profile *profile,
                   const struct kiln_hooks_options *opts)
{
	static const struct kiln_hooks_options defaults = KILN_HOOKS_OPTIONS_INIT;
	struct kiln_hooks *hk;
	int error;

	KILN_ASSERT_ARG(out != NULL);
	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	KILN_ASSERT_ARG(opts->version >= 1 && opts->version <= KILN_HOOKS_OPTIONS_VERSION);
	hk = kiln_xcalloc(1, sizeof(*hk));
	hk->next = opts->next;
	hk->next_payload = opts->next_payload;
	hk->stop = opts->stop;
	if (gethostname(hk->host, sizeof(hk->host) - 1) < 0)
		snprintf(hk->host, sizeof(hk->host), "unknown");
	if (profile != NULL) {
		hk->dir = kiln_xstrdup(profile->dir);
		lists_from_profile(hk, json_object_get(profile->json, "hooks"));
	}
	error = kiln_audit_open(&hk->audit, opts->state_dir, opts->audit_file, hk->audit_hook);
	if (error < 0) {
		kiln_hooks_free(hk);
		return error;
	}
	*out = hk;
	return 0;
}

void kiln_hooks_free(struct kiln_hooks *hk)
{
	size_t i, j;

	if (hk == NULL)
		return;
	for (i = 0; i < NSTAGES; i++) {
		for (j = 0; j < hk->stages[i].n; j++)
			hook_release(&hk->stages[i].v[j]);
		free(hk->stages[i].v);
	}
	if (hk->audit_hook != NULL)
		hook_release(hk->audit_hook);
	free(hk->audit_hook);
	kiln_audit_close(hk->audit);
	free(hk->dir);
	free(hk);
}

static int is_stage(const char *s, const char *a, const char *b)
{
	return s != NULL && (strcmp(s, a) == 0 || (b != NULL && strcmp(s, b) == 0));
}

/* The hook stage `ev` is, or -1. */
static int hook_stage(const struct kiln_event *ev)
{
	const char *name = NULL;
	size_t i;

	if (ev->kind == KILN_EVENT_STAGE_START && is_stage(ev->stage, "bake", NULL))
		name = "pre_bake";
	else if (ev->kind == KILN_EVENT_STAGE_END && ev->result >= 0 && !ev->dry_run &&
	         is_stage(ev->stage, "bake", NULL))
		name = "post_bake";
	else if (ev->kind == KILN_EVENT_HOOK)
		name = ev->step;
	else if (ev->kind == KILN_EVENT_STAGE_END && ev->result < 0 &&
	         (is_stage(ev->stage, "bake", "deploy") ||
	          is_stage(ev->stage, "rollback", "promote") ||
	          is_stage(ev->stage, "destroy", NULL)))
		name = "on_failure";
	for (i = 0; name != NULL && i < NSTAGES; i++)
		if (strcmp(name, stage_names[i]) == 0)
			return (int)i;
	return -1;
}

static void warn(const struct kiln_hooks *hk, const struct kiln_event *about, const char *msg)
{
	struct kiln_event ev = *about;
	char *clean = kiln_log_redact(msg);

	ev.kind = KILN_EVENT_WARNING;
	ev.step = NULL;
	ev.message = clean;
	if (hk->next != NULL)
		hk->next(&ev, hk->next_payload);
	else
		kiln_log_warn("%s", clean);
	free(clean);
}

static int run_one(struct kiln_hooks *hk, const struct kiln_hook *h, const struct kiln_event *ev,
                   const char *stage, const char *body, char *const *env)
{
	struct kiln_hook_sink sink = {hk->next, hk->next_payload, ev, hk->stop, hk->dir};

	if (h->url != NULL)
		return kiln_hook_webhook_send(h, body, stage, hk->stop);
	if (h->command == NULL && h->path == NULL)
		return 0;
	return kiln_hook_command_run(h, &sink, body, env);
}

/* Run the stage's hooks in order; a pre_ stage stops at the first failure. */
static int run_stage(struct kiln_hooks *hk, int idx, const struct kiln_event *ev)
{
	const char *stage = stage_names[idx];
	int pre = strncmp(stage, "pre_", 4) == 0;
	json_t *payload;
	char *body, **env;
	size_t i;
	int error = 0;

	if (hk->stages[idx].n == 0)
		return 0;
	payload = kiln_hook_payload(ev, stage);
	body = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
	env = kiln_hook_env(payload);
	if (body == NULL)
		kiln_die("out of memory");
	for (i = 0; i < hk->stages[idx].n && error >= 0; i++) {
		int e = run_one(hk, &hk->stages[idx].v[i], ev, stage, body, env);
		if (e >= 0)
			continue;
		if (pre) {
			error = kiln_error_prefix(e, "%s hook", stage);
		} else {
			char *msg = kiln_xasprintf("%s hook: %s", stage, kiln_error_last());
			warn(hk, ev, msg);
			free(msg);
			kiln_error_clear();
		}
	}
	kiln_hook_env_free(env);
	free(body);
	json_decref(payload);
	return error;
}

int kiln_hooks_on_event(const struct kiln_event *ev, void *payload)
{
	struct kiln_hooks *hk = payload;
	int idx, rc = 0;
	char *line;

	if (hk->next != NULL)
		rc = hk->next(ev, hk->next_payload);
	if (rc < 0)
		return rc;
	idx = hook_stage(ev);
	if (idx >= 0)
		rc = run_stage(hk, idx, ev);
	line = kiln_audit_line(ev, hk->host);
	if (line != NULL && kiln_audit_append(hk->audit, line, hk->stop) < 0)
		kiln_error_clear();
	free(line);
	return rc;
}
