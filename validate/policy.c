/*
 * The policy gate's driver: find the organisation's file, judge each rule
 * (validate/rules.c, validate/signed.c), and report every violation as one
 * line at the profile value that breaks it.
 */
#include "validate/policy.h"
#include "core/common.h"
#include "core/util.h"
#include "validate/report.h"

#include <string.h>
#include <unistd.h>

/* The system-wide organisation policy; a variable so that tests can point elsewhere. */
KILN_STATIC const char *kiln_policy__system_file = "/etc/kiln/policy.json";

int kiln_policy_org_load(struct kiln_policy_file **out, const char *given)
{
	const char *path = given;

	*out = NULL;
	if (path == NULL || path[0] == '\0')
		path = getenv("KILN_POLICY");
	if (path == NULL || path[0] == '\0') {
		if (access(kiln_policy__system_file, F_OK) < 0)
			return 0;
		path = kiln_policy__system_file;
	}
	return kiln_policy_file_load(out, path);
}

void kiln_policy_effective(struct kiln_policy_effective *out, const struct kiln_policy_spec *mine,
                           const struct kiln_policy_spec *org)
{
	int o_max = org != NULL ? org->max_capacity : 0;

	/* Allowances need both sides; requirements either; the lower ceiling wins. */
	out->allow_internet_facing =
	    mine->allow_internet_facing == 1 && (org == NULL || org->allow_internet_facing != 0);
	out->allow_fleet_ssh =
	    mine->allow_fleet_ssh == 1 && (org == NULL || org->allow_fleet_ssh != 0);
	out->require_encrypted =
	    mine->require_encrypted == 1 || (org != NULL && org->require_encrypted == 1);
	out->require_signed_tags =
	    mine->require_signed_tags == 1 || (org != NULL && org->require_signed_tags == 1);
	out->max_capacity = mine->max_capacity;
	if (o_max > 0 && (out->max_capacity == 0 || o_max < out->max_capacity))
		out->max_capacity = o_max;
}

void kiln_gate_violation(struct kiln_gate *g, const char *ptr, char *rule_at, const char *fmt, ...)
{
	struct kiln_buf msg = KILN_BUF_INIT, line = KILN_BUF_INIT;
	char *at = kiln_profile_where(g->p, ptr, 0);
	va_list ap;

	va_start(ap, fmt);
	kiln_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	/* One line each, whatever the profile's values hold. */
	kiln_buf_printf(&line, "%s: policy: ", at);
	kiln_buf_put_escaped(&line, msg.ptr, msg.size, 0);
	if (rule_at != NULL) {
		kiln_buf_puts(&line, " (");
		kiln_buf_put_escaped(&line, rule_at, strlen(rule_at), 0);
		kiln_buf_putc(&line, ')');
	}
	kiln_buf_printf(&g->lines, "%s%s", g->count ? "\n" : "", line.ptr);
	kiln_buf_printf(&g->rule_lines, "%s%s", g->rule_count ? "\n" : "", line.ptr);
	if (g->rule_first_at == NULL)
		g->rule_first_at = kiln_xstrdup(at);
	g->count++;
	g->rule_count++;
	free(at);
	free(rule_at);
	kiln_buf_release(&msg);
	kiln_buf_release(&line);
}

char *kiln_gate_mine_at(const struct kiln_gate *g, const char *key)
{
	char *ptr = kiln_json_ptr_child("/policy", key), *envptr = NULL, *full = NULL, *at;
	int written = kiln_json_posmap_get(&g->p->pos, ptr) != NULL;

	if (!written && g->p->env != NULL) {
		envptr = kiln_json_ptr_child("/environments", g->p->env);
		full = kiln_xasprintf("%s%s", envptr, ptr);
		written = kiln_json_posmap_get(&g->p->pos, full) != NULL;
	}
	if (written) {
		char *where = kiln_profile_where(g->p, ptr, 1);
		at = kiln_xasprintf("%s: policy.%s", where, key);
		free(where);
	} else {
		at = kiln_xasprintf("policy.%s, by default", key);
	}
	free(ptr);
	free(envptr);
	free(full);
	return at;
}

/* "/release_refs/prod" as "release_refs.prod", "/required_tags/1" as "required_tags[1]". */
static char *ptr_display(const char *ptr)
{
	struct kiln_buf b = KILN_BUF_INIT;
	const char *p = ptr;

	while (*p == '/') {
		size_t n = strcspn(p + 1, "/");
		if (n > 0 && strspn(p + 1, "0123456789") == n)
			kiln_buf_printf(&b, "[%.*s]", (int)n, p + 1);
		else
			kiln_buf_printf(&b, "%s%.*s", b.size ? "." : "", (int)n, p + 1);
		p += n + 1;
	}
	return kiln_buf_detach(&b);
}

char *kiln_gate_org_at(const struct kiln_gate *g, const char *ptr)
{
	char *where = kiln_policy_file_where(g->org, ptr), *shown = ptr_display(ptr);
	char *at = kiln_xasprintf("%s: organisation policy %s", where, shown);

	free(where);
	free(shown);
	return at;
}

/* The results of the rule just judged, into the report. */
static void rule_done(struct kiln_gate *g, const char *name, double started)
{
	if (g->opts->report != NULL)
		kiln_report_add(g->opts->report, "policy", name, "policy", g->rule_count == 0,
		                kiln_time_mono() - started, g->rule_lines.ptr, g->rule_first_at);
	kiln_buf_clear(&g->rule_lines);
	free(g->rule_first_at);
	g->rule_first_at = NULL;
	g->rule_count = 0;
}

static int judge(struct kiln_gate *g)
{
	size_t i;
	double t;
	int error;

	for (i = 0; i < kiln_gate_nrules; i++) {
		t = kiln_time_mono();
		kiln_gate_rules[i].judge(g);
		rule_done(g, kiln_gate_rules[i].name, t);
	}
	t = kiln_time_mono();
	error = kiln_gate_signed_tags(g);
	rule_done(g, "require_signed_tags", t);
	return error;
}

static const struct kiln_policy_options default_options = KILN_POLICY_OPTIONS_INIT;

int kiln_policy_check(const struct kiln_profile *profile, const struct kiln_policy_options *opts)
{
	struct kiln_policy_file *org = NULL;
	struct kiln_gate g;
	int error;

	KILN_ASSERT_ARG(profile != NULL);
	if (opts == NULL)
		opts = &default_options;
	KILN_ASSERT_ARG(opts->version >= 1 && opts->version <= KILN_POLICY_OPTIONS_VERSION);
	memset(&g, 0, sizeof(g));
	g.p = profile;
	g.mine = &profile->policy;
	g.opts = opts;
	g.events.cb = opts->on_event;
	g.events.payload = opts->payload;
	g.events.base.stage = "policy";
	g.events.base.profile = profile->name;
	g.events.base.env = profile->env;
	kiln_buf_init(&g.lines, 1 << 20);
	kiln_buf_init(&g.rule_lines, 1 << 20);
	if (opts->report != NULL)
		kiln_report_subject(opts->report, profile->name, profile->env);
	error = kiln_emitter_begin(&g.events);
	if (error >= 0)
		error = kiln_policy_org_load(&org, opts->policy_file);
	if (error < 0)
		goto done;
	g.org = org;
	if (org != NULL)
		kiln_emit(&g.events, KILN_EVENT_PROGRESS, NULL,
		          "policy: %s and the organisation's %s", profile->file, org->file);
	error = judge(&g);
	if (error < 0 && g.count > 0) {
		/* The violations found so far, then why the rest could not be judged. */
		char *why = kiln_xstrdup(kiln_error_last());
		error = kiln_error_set(error, "%s\n%s", g.lines.ptr, why);
		free(why);
	} else if (error >= 0 && g.count > 0) {
		error = kiln_error_set(KILN_EINVAL, "%s", g.lines.ptr);
	}
done:
	kiln_emitter_end(&g.events, error);
	kiln_policy_file_free(org);
	free(g.rule_first_at);
	kiln_buf_release(&g.lines);
	kiln_buf_release(&g.rule_lines);
	return error;
}
