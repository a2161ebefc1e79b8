/*
 * The report: results in the order stages made them, and its JSON form.
 * Its JUnit form is validate/junit.c.
 */
#include "validate/report.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/json.h"
#include "core/util.h"
#include "validate/report-int.h"

#include <string.h>

/* A message longer than this is cut: a report is read by people and CI, not archived. */
#define MESSAGE_MAX 4096

int kiln_report_new(struct kiln_report **out)
{
	KILN_ASSERT_ARG(out != NULL);
	*out = kiln_xcalloc(1, sizeof(**out));
	return 0;
}

void kiln_report_free(struct kiln_report *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		free((char *)r->v[i].stage);
		free((char *)r->v[i].name);
		free((char *)r->v[i].kind);
		free((char *)r->v[i].message);
		free((char *)r->v[i].where);
	}
	free(r->v);
	free(r->profile);
	free(r->env);
	free(r);
}

void kiln_report_subject(struct kiln_report *r, const char *profile, const char *env)
{
	KILN_ASSERT_ARG(r != NULL);
	if (r->profile == NULL && profile != NULL)
		r->profile = kiln_xstrdup(profile);
	if (r->env == NULL && env != NULL)
		r->env = kiln_xstrdup(env);
}

static char *clean(const char *s)
{
	struct kiln_buf b;
	size_t len = s != NULL ? strlen(s) : 0;

	kiln_buf_init(&b, MESSAGE_MAX * 4 + 64);
	if (len > MESSAGE_MAX) {
		kiln_buf_put_escaped(&b, s, MESSAGE_MAX, KILN_ESCAPE_LINES);
		kiln_buf_printf(&b, "... (%zu bytes cut)", len - MESSAGE_MAX);
	} else if (len > 0) {
		kiln_buf_put_escaped(&b, s, len, KILN_ESCAPE_LINES);
	}
	return kiln_buf_detach(&b);
}

void kiln_report_add(struct kiln_report *r, const char *stage, const char *name, const char *kind,
                     int passed, double duration_s, const char *message, const char *where)
{
	struct kiln_result *res;

	KILN_ASSERT_ARG(r != NULL && stage != NULL && name != NULL && kind != NULL);
	if (r->n == r->alloc) {
		r->alloc = r->alloc ? r->alloc * 2 : 16;
		r->v = kiln_xrealloc(r->v, r->alloc * sizeof(*r->v));
	}
	res = &r->v[r->n++];
	res->stage = kiln_xstrdup(stage);
	res->name = clean(name);
	res->kind = kiln_xstrdup(kind);
	res->passed = passed ? 1 : 0;
	res->duration_s = duration_s < 0 ? 0 : duration_s;
	res->message = clean(passed ? NULL : message);
	res->where = where != NULL ? kiln_xstrdup(where) : NULL;
}

const char *kiln_report_profile(const struct kiln_report *r)
{
	return r->profile;
}

const char *kiln_report_env(const struct kiln_report *r)
{
	return r->env;
}

size_t kiln_report_count(const struct kiln_report *r)
{
	return r->n;
}

const struct kiln_result *kiln_report_result(const struct kiln_report *r, size_t i)
{
	KILN_ASSERT_ARG(r != NULL && i < r->n);
	return &r->v[i];
}

int kiln_report_passed(const struct kiln_report *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (!r->v[i].passed)
			return 0;
	return 1;
}

static json_t *result_json(const struct kiln_result *res)
{
	json_t *j = json_pack("{s:s, s:s, s:b, s:f, s:s}", "name", res->name, "kind", res->kind,
	                      "passed", res->passed, "duration_s",
	                      (double)(long long)(res->duration_s * 1000 + 0.5) / 1000, "message",
	                      res->message);

	if (j == NULL)
		kiln_die("cannot encode a result");
	return j;
}

int kiln_report_to_json(char **out, const struct kiln_report *r)
{
	json_t *doc, *policy = json_array(), *checks = json_array(), *smoke = json_array();
	struct kiln_buf b = KILN_BUF_INIT;
	size_t i;
	int error;

	KILN_ASSERT_ARG(out != NULL && r != NULL);
	*out = NULL;
	for (i = 0; i < r->n; i++) {
		const struct kiln_result *res = &r->v[i];

		if (strcmp(res->stage, "policy") == 0) {
			if (!res->passed)
				json_array_append_new(
				    policy, json_pack("{s:s?, s:s, s:s}", "at", res->where, "rule",
				                      res->name, "message", res->message));
		} else if (strcmp(res->stage, "smoke") == 0) {
			json_array_append_new(smoke, result_json(res));
		} else {
			json_array_append_new(checks, result_json(res));
		}
	}
	doc = json_pack("{s:s?, s:s?, s:b, s:o, s:o, s:o}", "profile", r->profile, "env", r->env,
	                "passed", kiln_report_passed(r), "policy", policy, "checks", checks,
	                "smoke", smoke);
	if (doc == NULL)
		kiln_die("cannot encode the report");
	error = kiln_json_dump(&b, doc, 2);
	if (error >= 0)
		error = kiln_buf_putc(&b, '\n');
	json_decref(doc);
	if (error < 0) {
		kiln_buf_release(&b);
		return error;
	}
	*out = kiln_buf_detach(&b);
	return 0;
}
