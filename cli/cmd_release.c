/*
 * kiln release PROFILE --app-ref TAG: what a release-tag trigger runs. The
 * bake (a cache hit when nothing changed), then the deploy of that image;
 * one manifest holds both.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "kiln.h"

static const char usage[] =
    "usage: kiln release PROFILE --app-ref TAG [--env E] [--os-ref TAG]\n"
    "                    [--manifest FILE] [--policy FILE] [--wait SECONDS] [--no-smoke]\n"
    "                    [--json]\n"
    "\n"
    "Bake the profile with the \"app\" layer at TAG (reusing the image when its bake\n"
    "key exists already), then deploy that image blue-green as 'kiln deploy' does.\n"
    "The manifest (--manifest, --json) holds the bake's manifest under \"bake\" and\n"
    "the deploy's result under \"deploy\".\n"
    "\n"
    "options:\n"
    "  --app-ref TAG      the release: the \"app\" layer's tag (required)\n"
    "  --env E            apply the profile's environment E\n"
    "  --os-ref TAG       the \"os\" layer's ref instead of the profile's\n"
    "  --manifest FILE    write the manifest (JSON) to FILE\n"
    "  --policy FILE      the organisation's policy, checked first (default:\n"
    "                     $KILN_POLICY, else /etc/kiln/policy.json when present)\n"
    "  --wait SECONDS     wait this long for another deploy to finish\n"
    "  --no-smoke         do not run deploy.smoke\n"
    "  --json             print the manifest as JSON\n";

int cmd_release(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_bake_options bo = KILN_BAKE_OPTIONS_INIT;
	struct kiln_deploy_options opts = KILN_DEPLOY_OPTIONS_INIT;
	const char *file = NULL, *env = NULL, *manifest = NULL, *wait = NULL;
	const struct cli_opt options[] = {
	    {"--env", NULL, CLI_VALUE, &env, NULL},
	    {"--app-ref", NULL, CLI_VALUE, &opts.app_ref, NULL},
	    {"--os-ref", NULL, CLI_VALUE, &opts.os_ref, NULL},
	    {"--manifest", NULL, CLI_VALUE, &manifest, NULL},
	    {"--policy", NULL, CLI_VALUE, &opts.policy_file, NULL},
	    {"--wait", NULL, CLI_VALUE, &wait, NULL},
	    {"--no-smoke", NULL, CLI_FLAG, &opts.skip_smoke, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"release", usage, options, &file, 1, "one profile"};
	struct kiln_profile *profile = NULL;
	struct kiln_manifest *m = NULL;
	struct kiln_deploy_result *r = NULL;
	char *bake_json = NULL;
	struct kiln_hooks *hooks = NULL;
	size_t n;
	int rc, error;

	rc = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	if (file == NULL)
		return cli_usage_error("'kiln release' needs a profile; see 'kiln release --help'");
	if (opts.app_ref == NULL)
		return cli_usage_error("'kiln release' needs --app-ref TAG (the release)");
	if (wait != NULL && cli_seconds(&opts.lease_wait, "--wait", wait) < 0)
		return 2;
	error = kiln_profile_load(&profile, file, env);
	if (error < 0)
		goto done;
	bo.app_ref = opts.app_ref;
	bo.os_ref = opts.os_ref;
	bo.policy_file = opts.policy_file;
	bo.stop = opts.stop = cli_stop_on_signals();
	error = cli_hooks(&hooks, cli, profile, opts.stop);
	if (error < 0)
		goto done;
	bo.on_event = opts.on_event = kiln_hooks_on_event;
	bo.payload = opts.payload = hooks;
	error = kiln_bake(&m, profile, &bo);
	if (error < 0)
		goto done;
	error = kiln_manifest_to_json(&bake_json, m);
	if (error < 0)
		goto done;
	opts.image_id = kiln_manifest_image_id(m);
	error = kiln_deploy(&r, profile, &opts);
	if (error >= 0)
		error = cli_deploy_result(cli, r, manifest, bake_json);
done:
	free(bake_json);
	kiln_hooks_free(hooks);
	kiln_manifest_free(m);
	kiln_deploy_result_free(r);
	kiln_profile_free(profile);
	return error < 0 ? cli_fail(error) : 0;
}
