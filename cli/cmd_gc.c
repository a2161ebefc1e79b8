/*
 * kiln gc: delete the temporaries of bakes that crashed or were left with
 * --on-error abort, found by their tags alone.
 */
#include "cli/cli.h"

#include <string.h>

#include "bake/gc.h"
#include "bake/pipeline.h"

static const char usage[] =
    "usage: kiln gc [--dry-run] [--run-id ID] [--json] [--target local|aws]\n"
    "\n"
    "Find every instance, key pair and security group tagged kiln:role=builder\n"
    "whose kiln:expires has passed, or that belongs to run ID, and delete them:\n"
    "instances first (waiting until terminated), then key pairs, then security\n"
    "groups. Works from the cloud's tags alone, whatever happened to the journal.\n"
    "\n"
    "options:\n"
    "  --dry-run        list what would be deleted, delete nothing\n"
    "  --run-id ID      also delete the resources of run ID, expired or not\n"
    "  --target T       aws (default: the normal credential chain and region) or\n"
    "                   local (the local cloud at $KILN_LOCAL_ENDPOINT)\n"
    "  --json           print a JSON array of {kind, id, name, run_id, reason, deleted}\n";

static void print_items(const json_t *items, int dry_run)
{
	const json_t *it;
	size_t i;

	json_array_foreach(items, i, it)
	{
		const char *name = kiln_json_str(it, "name");
		int deleted = kiln_json_bool(it, "deleted", 0);
		printf("%s %s %s%s%s (run %s, %s)\n",
		       dry_run   ? "would delete"
		       : deleted ? "deleted"
		                 : "failed to delete",
		       kiln_json_str(it, "kind"), kiln_json_str(it, "id"), name ? " " : "",
		       name ? name : "",
		       kiln_json_str(it, "run_id") ? kiln_json_str(it, "run_id") : "?",
		       kiln_json_str(it, "reason"));
	}
	if (json_array_size(items) == 0)
		fputs("kiln: nothing to collect\n", stderr);
}

int cmd_gc(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_gc_opts o = {0};
	const char *target = "aws";
	struct kiln_aws *aws = NULL;
	json_t *items = NULL;
	int i, r, error;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--dry-run") == 0) {
			o.dry_run = 1;
			continue;
		}
		if ((r = cli_option_value(&o.run_id, "--run-id", argc, argv, &i)) != 0 ||
		    (r = cli_option_value(&target, "--target", argc, argv, &i)) != 0) {
			if (r < 0)
				return cli_usage_error("option '%s' needs a value", argv[i]);
			continue;
		}
		r = cli_global_option(cli, argc, argv, &i);
		if (r < 0)
			return 2;
		if (r == 0)
			return cli_usage_error("unknown argument '%s' for 'kiln gc'", argv[i]);
	}
	if (strcmp(target, "aws") != 0 && strcmp(target, "local") != 0)
		return cli_usage_error("invalid value '%s' for '--target': use aws or local",
		                       target);
	error = kiln_target_client(&aws, target, NULL);
	if (error < 0)
		goto done;
	error = kiln_gc_run(&items, aws, &o);
	if (items != NULL) {
		if (cli->json) {
			if (kiln_json_print(stdout, items) < 0 && error >= 0)
				error = KILN_ERROR;
		} else {
			print_items(items, o.dry_run);
		}
	}
done:
	json_decref(items);
	kiln_aws_free(aws);
	return error < 0 ? cli_fail(error) : 0;
}
