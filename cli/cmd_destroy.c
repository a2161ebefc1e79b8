/*
 * kiln destroy PROFILE --yes: remove everything a deploy made for a
 * profile and environment; without --yes, list it and exit 2.
 */
#include "cli/cli.h"

#include <stdlib.h>

#include "core/buf.h"
#include "core/json.h"
#include "kiln.h"

static const char usage[] =
    "usage: kiln destroy PROFILE [--env E] --yes [--json]\n"
    "\n"
    "Remove what deploys made for the profile and environment: the Auto Scaling\n"
    "groups and their instances, the load balancer and its listeners, the target\n"
    "groups, the launch template, the security groups and the lease. Images stay\n"
    "(kiln gc and keep_previous handle them). Without --yes it only lists them\n"
    "and exits 2.\n"
    "\n"
    "options:\n"
    "  --env E     apply the profile's environment E\n"
    "  --yes       really remove them\n"
    "  --json      print a JSON array of {kind, id, deleted}\n";

int cmd_destroy(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_deploy_options opts = KILN_DEPLOY_OPTIONS_INIT;
	const char *file = NULL, *env = NULL;
	int yes = 0;
	const struct cli_opt options[] = {
	    {"--env", NULL, CLI_VALUE, &env, NULL},
	    {"--yes", NULL, CLI_FLAG, &yes, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"destroy", usage, options, &file, 1, "one profile"};
	struct kiln_profile *profile = NULL;
	char *text = NULL;
	struct kiln_hooks *hooks = NULL;
	json_t *j = NULL, *it;
	size_t n, i;
	int rc, error;

	rc = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	if (file == NULL)
		return cli_usage_error("'kiln destroy' needs a profile; see 'kiln destroy --help'");
	error = kiln_profile_load(&profile, file, env);
	if (error < 0)
		goto done;
	opts.stop = cli_stop_on_signals();
	error = cli_hooks(&hooks, cli, profile, opts.stop);
	if (error < 0)
		goto done;
	opts.on_event = kiln_hooks_on_event;
	opts.payload = hooks;
	error = kiln_destroy(&text, profile, !yes, &opts);
	if (error < 0)
		goto done;
	j = json_loads(text, 0, NULL);
	if (cli->json) {
		printf("%s\n", text);
	} else {
		json_array_foreach(j, i, it)
		{
			char *id = kiln_escape(kiln_json_str(it, "id"));
			printf("%s %s %s\n",
			       !yes                               ? "would remove"
			       : kiln_json_bool(it, "deleted", 0) ? "removed"
			                                          : "not removed",
			       kiln_json_str(it, "kind"), id);
			free(id);
		}
		if (json_array_size(j) == 0)
			fputs("kiln: nothing deployed for this profile and environment\n", stderr);
	}
	if (!yes && json_array_size(j) > 0) {
		fputs("kiln: nothing removed: run again with --yes to remove the above\n", stderr);
		rc = 2;
	} else if (!yes) {
		rc = 0;
	}
done:
	json_decref(j);
	kiln_hooks_free(hooks);
	free(text);
	kiln_profile_free(profile);
	return error < 0 ? cli_fail(error) : rc;
}
