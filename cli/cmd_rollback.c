/*
 * kiln rollback PROFILE: the previous release back live, by one
 * ModifyListener while its group is kept, else by deploying its image.
 */
#include "cli/cli.h"

#include <stdlib.h>

#include "kiln.h"

static const char usage[] =
    "usage: kiln rollback PROFILE [--env E] [--policy FILE] [--wait SECONDS] [--no-smoke]\n"
    "                     [--json]\n"
    "\n"
    "Put the previous release back live. While its group is still there and\n"
    "healthy (deploy.termination_wait_s after the last deploy), one ModifyListener\n"
    "does it; otherwise its image is deployed again, as a new group, saying so.\n"
    "\n"
    "options:\n"
    "  --env E            apply the profile's environment E\n"
    "  --policy FILE      the organisation's policy, checked first (default:\n"
    "                     $KILN_POLICY, else /etc/kiln/policy.json when present)\n"
    "  --wait SECONDS     wait this long for a deploy of the same profile to finish\n"
    "  --no-smoke         do not run deploy.smoke when redeploying\n"
    "  --json             print the result as JSON\n";

int cmd_rollback(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_deploy_options opts = KILN_DEPLOY_OPTIONS_INIT;
	const char *file = NULL, *env = NULL, *wait = NULL;
	const struct cli_opt options[] = {
	    {"--env", NULL, CLI_VALUE, &env, NULL},
	    {"--policy", NULL, CLI_VALUE, &opts.policy_file, NULL},
	    {"--wait", NULL, CLI_VALUE, &wait, NULL},
	    {"--no-smoke", NULL, CLI_FLAG, &opts.skip_smoke, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"rollback", usage, options, &file, 1, "one profile"};
	struct kiln_profile *profile = NULL;
	struct kiln_deploy_result *r = NULL;
	struct kiln_hooks *hooks = NULL;
	size_t n;
	int rc, error;

	rc = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	if (file == NULL)
		return cli_usage_error(
		    "'kiln rollback' needs a profile; see 'kiln rollback --help'");
	if (wait != NULL && cli_seconds(&opts.lease_wait, "--wait", wait) < 0)
		return 2;
	error = kiln_profile_load(&profile, file, env);
	if (error < 0)
		goto done;
	opts.stop = cli_stop_on_signals();
	error = cli_hooks(&hooks, cli, profile, opts.stop);
	if (error < 0)
		goto done;
	opts.on_event = kiln_hooks_on_event;
	opts.payload = hooks;
	error = kiln_rollback(&r, profile, &opts);
	if (error >= 0)
		error = cli_deploy_result(cli, r, NULL, NULL);
done:
	kiln_deploy_result_free(r);
	kiln_hooks_free(hooks);
	kiln_profile_free(profile);
	return error < 0 ? cli_fail(error) : 0;
}
