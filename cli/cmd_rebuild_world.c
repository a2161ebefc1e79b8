/*
 * kiln rebuild-world DIR: every profile of DIR baked and deployed, in the
 * order their "after" lists give, independent ones in parallel; with
 * --drill into a local cloud of its own, removed at the end.
 */
#include "cli/cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "kiln.h"
#include "kiln/world.h"

static const char usage[] =
    "usage: kiln rebuild-world DIR [--env E] [--parallel N] [--drill] [--drill-port PORT]\n"
    "                          [--drill-cidr CIDR] [--drill-dir DIR] [--policy FILE]\n"
    "                          [--report FILE] [--json]\n"
    "\n"
    "Rebuild every profile of DIR (each *.json) from git and the profiles alone:\n"
    "bake up to N at a time (an image whose bake key exists is reused; each\n"
    "repository is fetched once), and deploy each profile blue-green once it is\n"
    "baked and every profile its \"after\" list names is live. A profile that fails\n"
    "stops only the profiles that come after it; the others go on. Run again on an\n"
    "unchanged world, it finds every image and release in place and changes nothing.\n"
    "\n"
    "options:\n"
    "  --env E            apply each profile's environment E\n"
    "  --parallel N       bakes (and deploys) at a time, 1 to 64 (default 4)\n"
    "  --drill            a DR rehearsal: start a local cloud of its own, rebuild the\n"
    "                     world into it, run each profile's smoke checks against its\n"
    "                     URL, print the recovery times, and remove that cloud\n"
    "  --drill-port PORT  the drill cloud's port (default: $KILN_DRILL_PORT, else 4576)\n"
    "  --drill-cidr CIDR  its network (default: $KILN_DRILL_CIDR, else 172.30.0.0/16)\n"
    "  --drill-dir DIR    its state, cache and cloud under DIR, removed at the end\n"
    "                     (default: a new directory under $TMPDIR)\n"
    "  --policy FILE      the organisation's policy, checked for each profile\n"
    "  --report FILE      write the report (JSON, as --json prints it) to FILE\n"
    "  --json             print the report as JSON: per profile name, image_id,\n"
    "                     bake_s, deploy_s, url, result (live, failed, skipped),\n"
    "                     reason; and totals\n"
    "\n"
    "Exit codes: 0 every profile live, 1 one failed or was skipped, 2 bad input\n"
    "(a profile, a name in \"after\" that is no profile of DIR, a cycle).\n";

/* The library's events, each line saying whose profile it is about. */
/* The events as every command prints them, a profile's own lines named "[profile]". */
static int on_event(const struct kiln_event *ev, void *payload)
{
	struct kiln_event named = *ev;
	char *line = NULL;

	if (ev->profile != NULL && ev->message != NULL &&
	    (ev->stage == NULL || strcmp(ev->stage, "world") != 0)) {
		line = kiln_xasprintf("[%s] %s", ev->profile, ev->message);
		named.message = line;
	}
	cli_on_event(&named, payload);
	free(line);
	return 0;
}

/* One line per profile for people; reasons escaped (they quote clouds and servers). */
static void print_summary(const struct kiln_world *w, const char *json_text, int drill)
{
	size_t n = kiln_world_count(w);

	(void)json_text;
	for (size_t i = 0; i < n; i++) {
		const char *reason = kiln_world_reason(w, i);
		char *shown = reason != NULL ? kiln_escape(reason) : NULL;

		printf("%-20s %-8s", kiln_world_name(w, i), kiln_world_result(w, i));
		if (strcmp(kiln_world_result(w, i), "live") == 0)
			printf(" %s %.1f s", drill ? "recovered in" : "live after",
			       kiln_world_live_s(w, i));
		if (shown != NULL)
			printf(" (%s)", shown);
		putchar('\n');
		free(shown);
	}
	printf("%s %.1f s\n",
	       drill ? "recovery time (start to all live):" : "total:", kiln_world_total_s(w));
}

static int write_report(const char *path, const char *text)
{
	int error = kiln_file_write_atomic(path, text, strlen(text), 0644);

	return error < 0 ? kiln_error_prefix(error, "--report") : 0;
}

int cmd_rebuild_world(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_world_options o = KILN_WORLD_OPTIONS_INIT;
	const char *dir = NULL, *env = NULL, *parallel = NULL, *port = NULL, *report = NULL;
	int drill = 0, n = 4, p = 0;
	const struct cli_opt options[] = {
	    {"--env", NULL, CLI_VALUE, &env, NULL},
	    {"--parallel", NULL, CLI_VALUE, &parallel, NULL},
	    {"--drill", NULL, CLI_FLAG, &drill, NULL},
	    {"--drill-port", NULL, CLI_VALUE, &port, NULL},
	    {"--drill-cidr", NULL, CLI_VALUE, &o.drill_cidr, NULL},
	    {"--drill-dir", NULL, CLI_VALUE, &o.drill_dir, NULL},
	    {"--policy", NULL, CLI_VALUE, &o.policy_file, NULL},
	    {"--report", NULL, CLI_VALUE, &report, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"rebuild-world", usage, options, &dir, 1, "one directory"};
	struct kiln_world *w = NULL;
	char *json_text = NULL;
	size_t nop;
	int rc, error;

	rc = cli_parse(cli, &spec, argc, argv, 1, &nop);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	if (dir == NULL)
		return cli_usage_error("'kiln rebuild-world' needs a directory of profiles; see "
		                       "'kiln rebuild-world --help'");
	if (parallel != NULL && cli_int(&n, "--parallel", parallel, 1, 64) != 0)
		return 2;
	if (port != NULL && cli_int(&p, "--drill-port", port, 1, 65535) != 0)
		return 2;
	if (!drill && (port != NULL || o.drill_cidr != NULL || o.drill_dir != NULL))
		return cli_usage_error(
		    "--drill-port, --drill-cidr and --drill-dir go with --drill");
	error = kiln_world_load(&w, dir, env);
	if (error < 0)
		goto done;
	o.parallel = (unsigned int)n;
	o.drill = drill;
	o.drill_port = p;
	o.stop = cli_stop_on_signals();
	o.on_event = on_event;
	o.audit_file = cli->audit;
	error = kiln_world_rebuild(w, &o);
	rc = kiln_world_to_json(&json_text, w);
	if (rc >= 0 && report != NULL)
		rc = write_report(report, json_text);
	if (rc < 0) {
		error = rc;
		goto done;
	}
	if (cli->json)
		printf("%s\n", json_text);
	else
		print_summary(w, json_text, drill);
done:
	free(json_text);
	kiln_world_free(w);
	return error < 0 ? cli_fail(error) : 0;
}
