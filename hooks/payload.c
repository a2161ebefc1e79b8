/*
 * What a hook receives: the event as one JSON object, and the same fields
 * as KILN_* environment variables for scripts that do not parse JSON.
 */
#include "hooks/hooks-int.h"

#include <ctype.h>
#include <string.h>

#include "core/common.h"
#include "core/util.h"

json_t *kiln_hook_commits(const char *commits)
{
	json_t *o = json_object();
	const char *p = commits;

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, " ");
		const char *eq = memchr(p, '=', n);

		if (eq != NULL && eq > p) {
			char *name = kiln_xstrndup(p, (size_t)(eq - p));
			json_object_set_new(o, name,
			                    json_stringn(eq + 1, n - (size_t)(eq - p) - 1));
			free(name);
		}
		p += n;
		p += strspn(p, " ");
	}
	return o;
}

static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *kiln_hook_payload(const struct kiln_event *ev, const char *stage)
{
	char when[32];
	json_t *j = json_object();

	kiln_time_iso8601(when, kiln_time_now(), 1);
	json_object_set_new(j, "stage", json_string(stage));
	json_object_set_new(j, "action", str_or_null(ev->stage));
	json_object_set_new(j, "profile", str_or_null(ev->profile));
	json_object_set_new(j, "env", str_or_null(ev->env));
	json_object_set_new(j, "release", str_or_null(ev->release));
	json_object_set_new(j, "image", str_or_null(ev->image_id));
	json_object_set_new(j, "commits", kiln_hook_commits(ev->commits));
	json_object_set_new(j, "url", str_or_null(ev->url));
	json_object_set_new(j, "run_id", str_or_null(ev->run_id));
	json_object_set_new(j, "caller", str_or_null(ev->caller));
	json_object_set_new(j, "time", json_string(when));
	if (ev->kind == KILN_EVENT_STAGE_END) {
		json_object_set_new(j, "result", json_string(ev->result < 0 ? "failed" : "ok"));
		if (ev->result < 0)
			json_object_set_new(j, "error", str_or_null(ev->message));
	}
	return j;
}

/* "run_id" -> "KILN_RUN_ID". */
static char *var_name(const char *key)
{
	char *name = kiln_xasprintf("KILN_%s", key), *p;

	for (p = name; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	return name;
}

char **kiln_hook_env(const json_t *payload)
{
	char **env = kiln_xcalloc(json_object_size(payload) + 1, sizeof(*env));
	const char *key;
	json_t *v;
	size_t n = 0;

	json_object_foreach((json_t *)payload, key, v)
	{
		char *name = var_name(key);

		if (json_is_string(v)) {
			env[n++] = kiln_xasprintf("%s=%s", name, json_string_value(v));
		} else if (json_is_object(v)) {
			/* Commits: "app=1f2e os=9a8b", as the layers are named. */
			const char *layer;
			json_t *c;
			char *list = kiln_xstrdup("");

			json_object_foreach(v, layer, c)
			{
				char *more = kiln_xasprintf("%s%s%s=%s", list, list[0] ? " " : "",
				                            layer, json_string_value(c));
				free(list);
				list = more;
			}
			env[n++] = kiln_xasprintf("%s=%s", name, list);
			free(list);
		} else {
			env[n++] = kiln_xasprintf("%s=", name);
		}
		free(name);
	}
	return env;
}

void kiln_hook_env_free(char **env)
{
	size_t i;

	for (i = 0; env != NULL && env[i] != NULL; i++)
		free(env[i]);
	free(env);
}
