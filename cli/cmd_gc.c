/*
 * kiln gc: delete the temporaries of bakes that crashed or were left with
 * --on-error abort, found by their tags alone.
 */
#include "cli/cli.h"

#include <string.h>

#include "core/json.h"
#include "kiln.h"

static const char usage[] =
    "usage: kiln gc [--dry-run] [--run-id ID] [--json] [--target local|aws]\n"
    "\n"
    "Find every instance, key pair and security group tagged kiln:role=builder\n"
    "whose kiln:expires has passed, or that belongs to run ID, and delete them:\n"
    "instances first (waiting until terminated), then key pairs, then security\n"
    "groups. Works from the cloud's tags alone, whatever happened to the journal.\n"
    "Without --run-id it also removes previous Auto Scaling groups of deploys\n"
    "whose kiln:retire-at has passed (never a live one) and expired deploy leases.\n"
    "\n"
    "options:\n"
    "  --dry-run        list what would be deleted, delete nothing\n"
    "  --run-id ID      also delete the resources of run ID, expired or not\n"
    "  --target T       aws (the normal credential chain and region) or local (the\n"
    "                   local cloud at $KILN_LOCAL_ENDPOINT); default: the target\n"
    "                   run ID's journal records, else aws\n"
    "  --json           print a JSON array of {kind, id, name, run_id, reason, deleted}\n";

static void print_items(const struct kiln_gc_report *r, int dry_run)
{
	size_t i, n = kiln_gc_report_count(r);

	for (i = 0; i < n; i++) {
		const struct kiln_gc_item *it = kiln_gc_report_item(r, i);
		printf("%s %s %s%s%s (run %s, %s)\n",
		       dry_run       ? "would delete"
		       : it->deleted ? "deleted"
		                     : "failed to delete",
		       it->kind, it->id, it->name ? " " : "", it->name ? it->name : "",
		       it->run_id ? it->run_id : "?", it->reason);
	}
	if (n == 0)
		fputs("kiln: nothing to collect\n", stderr);
}

static int print_json(const struct kiln_gc_report *r)
{
	json_t *items = json_array();
	size_t i;
	int error;

	for (i = 0; i < kiln_gc_report_count(r); i++) {
		const struct kiln_gc_item *it = kiln_gc_report_item(r, i);
		json_array_append_new(items, json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:b}", "kind",
		                                       it->kind, "id", it->id, "name", it->name,
		                                       "run_id", it->run_id, "reason", it->reason,
		                                       "deleted", it->deleted));
	}
	error = kiln_json_print(stdout, items);
	json_decref(items);
	return error;
}

int cmd_gc(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_gc_options o = KILN_GC_OPTIONS_INIT;
	const struct cli_opt options[] = {
	    {"--dry-run", NULL, CLI_FLAG, &o.dry_run, NULL},
	    {"--run-id", NULL, CLI_VALUE, &o.run_id, NULL},
	    {"--target", NULL, CLI_VALUE, &o.target, "aws|local"},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"gc", usage, options, NULL, 0, NULL};
	struct kiln_gc_report *report = NULL;
	struct kiln_hooks *hooks = NULL;
	size_t n;
	int r, error;

	r = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (r != 0)
		return r == 1 ? 0 : r;
	error = cli_hooks(&hooks, cli, NULL, NULL);
	if (error < 0)
		return cli_fail(error);
	o.on_event = kiln_hooks_on_event;
	o.payload = hooks;
	error = kiln_gc(&report, &o);
	kiln_hooks_free(hooks);
	if (report != NULL) {
		if (!cli->json)
			print_items(report, o.dry_run);
		else if (print_json(report) < 0 && error >= 0)
			error = KILN_ERROR;
	}
	kiln_gc_report_free(report);
	return error < 0 ? cli_fail(error) : 0;
}
