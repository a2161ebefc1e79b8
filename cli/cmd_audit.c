/*
 * kiln audit: the audit log (kiln/hooks.h), oldest first, filtered by
 * profile, environment and time; one line per action, or JSON.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/util.h"
#include "kiln.h"

static const char usage[] =
    "usage: kiln audit [--profile P] [--env E] [--since TIME] [--audit FILE] [--json]\n"
    "\n"
    "Show who changed what: every bake, deploy, swap, rollback, promote,\n"
    "destroy, gc deletion and broken lease, as recorded in\n"
    "$KILN_STATE_DIR/audit.jsonl (or FILE), oldest first.\n"
    "\n"
    "options:\n"
    "  --profile P    only profile P\n"
    "  --env E        only environment E\n"
    "  --since TIME   only since TIME: an ISO 8601 time (2026-01-31T12:00:00Z)\n"
    "                 or an age (90s, 30m, 12h, 7d)\n"
    "  --audit FILE   read FILE instead of the state directory's log\n"
    "  --json         print the lines as a JSON array\n";

/* "30m" ago or an ISO 8601 time, as seconds since the epoch. */
static int parse_since(double *out, const char *s)
{
	char *end = NULL;
	double n = strtod(s, &end);
	static const struct {
		char unit;
		double seconds;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	size_t i;

	if (end != s && end != NULL && n >= 0 && strlen(end) == 1)
		for (i = 0; i < KILN_ARRAY_SIZE(units); i++)
			if (*end == units[i].unit) {
				*out = kiln_time_now() - n * units[i].seconds;
				return 0;
			}
	if (kiln_time_parse_iso8601(out, s) >= 0)
		return 0;
	kiln_error_clear();
	return -1;
}

static const char *field(const json_t *o, const char *key)
{
	const char *s = kiln_json_str(o, key);

	return s != NULL && s[0] != '\0' ? s : "-";
}

static void print_line(const json_t *o)
{
	struct kiln_buf line = KILN_BUF_INIT;
	const json_t *d = json_object_get(o, "duration_s");
	char *shown;

	kiln_buf_printf(&line, "%s %s %s/%s %s", field(o, "time"), field(o, "action"),
	                field(o, "profile"), field(o, "env"), field(o, "result"));
	if (kiln_json_str(o, "target") != NULL)
		kiln_buf_printf(&line, " %s", field(o, "target"));
	if (kiln_json_str(o, "release") != NULL)
		kiln_buf_printf(&line, " release %s", field(o, "release"));
	if (kiln_json_str(o, "image") != NULL)
		kiln_buf_printf(&line, " %s", field(o, "image"));
	if (json_is_number(d))
		kiln_buf_printf(&line, " %.1fs", json_number_value(d));
	kiln_buf_printf(&line, " by %s on %s run %s", field(o, "caller"), field(o, "host"),
	                field(o, "run_id"));
	if (kiln_json_str(o, "error") != NULL)
		kiln_buf_printf(&line, ": %s", field(o, "error"));
	/* Everything in the log came through a file anyone with access could edit. */
	shown = kiln_escape(line.ptr);
	printf("%s\n", shown);
	free(shown);
	kiln_buf_release(&line);
}

int cmd_audit(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_audit_filter filter = {0};
	const char *since = NULL;
	const struct cli_opt options[] = {
	    {"--profile", NULL, CLI_VALUE, &filter.profile, NULL},
	    {"--env", NULL, CLI_VALUE, &filter.env, NULL},
	    {"--since", NULL, CLI_VALUE, &since, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"audit", usage, options, NULL, 0, NULL};
	char *text = NULL;
	json_t *list = NULL, *it;
	size_t n, i, skipped = 0;
	int r, error;

	r = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (r != 0)
		return r == 1 ? 0 : r;
	if (since != NULL && parse_since(&filter.since, since) < 0)
		return cli_usage_error("--since: expected an ISO 8601 time or an age such as "
		                       "30m, 12h or 7d, got '%s'",
		                       since);
	error = kiln_audit_read(&text, &skipped, cli->audit, &filter);
	if (error < 0)
		return cli_fail(error);
	if (skipped > 0)
		fprintf(stderr, "kiln: %zu line%s of the audit log %s not JSON: skipped\n", skipped,
		        skipped == 1 ? "" : "s", skipped == 1 ? "is" : "are");
	if (cli->json) {
		printf("%s\n", text);
	} else {
		list = json_loads(text, 0, NULL);
		json_array_foreach(list, i, it) print_line(it);
	}
	json_decref(list);
	free(text);
	return 0;
}
