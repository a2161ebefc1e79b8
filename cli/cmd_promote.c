/*
 * kiln promote PROFILE --from ENV --to ENV: the image live in one
 * environment deployed to another, without a rebake.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "kiln.h"

static const char usage[] =
    "usage: kiln promote PROFILE --from ENV --to ENV [--force] [--wait SECONDS]\n"
    "                    [--policy FILE] [--no-smoke] [--json]\n"
    "\n"
    "Deploy to --to the image live in --from, without baking. Refused (exit 2)\n"
    "when --to's bake inputs (layers, source image, bake settings after its\n"
    "overrides) would give another bake key than the image's: that image is not\n"
    "what --to would bake. --force promotes anyway.\n"
    "\n"
    "options:\n"
    "  --from ENV         the environment whose live image is promoted\n"
    "  --to ENV           the environment it is deployed to\n"
    "  --force            even when the bake inputs differ\n"
    "  --policy FILE      the organisation's policy, checked first (default:\n"
    "                     $KILN_POLICY, else /etc/kiln/policy.json when present)\n"
    "  --wait SECONDS     wait this long for another deploy of --to to finish\n"
    "  --no-smoke         do not run deploy.smoke\n"
    "  --json             print the result as JSON\n";

int cmd_promote(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_deploy_options opts = KILN_DEPLOY_OPTIONS_INIT;
	const char *file = NULL, *from = NULL, *to = NULL, *wait = NULL;
	const struct cli_opt options[] = {
	    {"--from", NULL, CLI_VALUE, &from, NULL},
	    {"--to", NULL, CLI_VALUE, &to, NULL},
	    {"--force", NULL, CLI_FLAG, &opts.force, NULL},
	    {"--policy", NULL, CLI_VALUE, &opts.policy_file, NULL},
	    {"--wait", NULL, CLI_VALUE, &wait, NULL},
	    {"--no-smoke", NULL, CLI_FLAG, &opts.skip_smoke, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"promote", usage, options, &file, 1, "one profile"};
	struct kiln_profile *pfrom = NULL, *pto = NULL;
	struct kiln_deploy_result *r = NULL;
	struct kiln_hooks *hooks = NULL;
	size_t n;
	int rc, error;

	rc = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	if (file == NULL || from == NULL || to == NULL)
		return cli_usage_error("'kiln promote' needs a profile, --from ENV and --to ENV");
	if (strcmp(from, to) == 0)
		return cli_usage_error("--from and --to are both '%s'", from);
	if (wait != NULL && cli_seconds(&opts.lease_wait, "--wait", wait) < 0)
		return 2;
	error = kiln_profile_load(&pfrom, file, from);
	if (error >= 0)
		error = kiln_profile_load(&pto, file, to);
	if (error < 0)
		goto done;
	opts.stop = cli_stop_on_signals();
	error = cli_hooks(&hooks, cli, pto, opts.stop);
	if (error < 0)
		goto done;
	opts.on_event = kiln_hooks_on_event;
	opts.payload = hooks;
	error = kiln_promote(&r, pfrom, pto, &opts);
	if (error >= 0)
		error = cli_deploy_result(cli, r, NULL, NULL);
done:
	kiln_deploy_result_free(r);
	kiln_hooks_free(hooks);
	kiln_profile_free(pfrom);
	kiln_profile_free(pto);
	return error < 0 ? cli_fail(error) : 0;
}
