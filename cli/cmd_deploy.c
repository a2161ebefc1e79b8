/*
 * kiln deploy PROFILE: roll the profile's baked image out blue-green, and
 * print where it is live (or the result as JSON).
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/util.h"
#include "kiln.h"

static const char usage[] =
    "usage: kiln deploy PROFILE [--env E] [--image AMI] [--app-ref TAG] [--os-ref TAG]\n"
    "                   [--manifest FILE] [--policy FILE] [--junit FILE] [--wait SECONDS]\n"
    "                   [--no-smoke] [--json]\n"
    "\n"
    "Check the profile's policy first (see 'kiln validate'). Then deploy the image\n"
    "kiln bake made for the profile's inputs (found by its bake key), or --image,\n"
    "blue-green: a new Auto Scaling group on the idle colour, gated on every\n"
    "instance healthy behind the load balancer and on the smoke checks through\n"
    "the test listener, then one ModifyListener puts it live. A smoke failure\n"
    "through production swaps back at once. The previous group stays behind the\n"
    "test listener for deploy.termination_wait_s (rollback).\n"
    "\n"
    "options:\n"
    "  --env E            apply the profile's environment E\n"
    "  --image AMI        deploy this image instead of the bake key's\n"
    "  --app-ref TAG      the \"app\" layer's ref, to find its image (and the release)\n"
    "  --os-ref TAG       the \"os\" layer's ref, to find its image\n"
    "  --manifest FILE    write the result (JSON) to FILE\n"
    "  --policy FILE      the organisation's policy, checked first (default:\n"
    "                     $KILN_POLICY, else /etc/kiln/policy.json when present)\n"
    "  --junit FILE       write the smoke checks' results as JUnit XML to FILE (for\n"
    "                     CI), whatever the outcome\n"
    "  --wait SECONDS     wait this long for another deploy of the profile and\n"
    "                     environment to finish (default: fail at once, naming it)\n"
    "  --no-smoke         do not run deploy.smoke\n"
    "  --json             print the result as JSON\n"
    "\n"
    "Exit codes: 0 live; 1 failed in the cloud, live untouched; 2 bad input.\n";

int cli_deploy_result(const struct kiln_cli *cli, const struct kiln_deploy_result *r,
                      const char *manifest, const char *bake_json)
{
	char *text = NULL;
	json_t *j = NULL, *bake = NULL;
	int error;

	error = kiln_deploy_result_to_json(&text, r);
	if (error < 0)
		return error;
	if (manifest != NULL || (cli->json && bake_json != NULL)) {
		j = json_loads(text, JSON_DECODE_ANY, NULL);
		bake = bake_json != NULL ? json_loads(bake_json, 0, NULL) : NULL;
		if (j == NULL)
			kiln_die("cannot read back a deploy result");
		if (bake != NULL) {
			json_t *both = json_pack("{s:o, s:o}", "bake", bake, "deploy", j);
			j = both;
		}
		free(text);
		text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	}
	if (manifest != NULL)
		error = kiln_file_write_atomic(manifest, text, strlen(text), 0644);
	if (error >= 0 && cli->json)
		printf("%s\n", text);
	else if (error >= 0)
		printf("%s %s (%s, %s, %s) at %s\n", kiln_deploy_result_action(r),
		       kiln_deploy_result_release(r) ? kiln_deploy_result_release(r) : "?",
		       kiln_deploy_result_image_id(r) ? kiln_deploy_result_image_id(r) : "?",
		       kiln_deploy_result_color(r) ? kiln_deploy_result_color(r) : "?",
		       kiln_deploy_result_group(r) ? kiln_deploy_result_group(r) : "?",
		       kiln_deploy_result_url(r) ? kiln_deploy_result_url(r) : "?");
	json_decref(j);
	free(text);
	return error;
}

int cmd_deploy(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_deploy_options opts = KILN_DEPLOY_OPTIONS_INIT;
	const char *file = NULL, *env = NULL, *manifest = NULL, *wait = NULL, *junit = NULL;
	const struct cli_opt options[] = {
	    {"--env", NULL, CLI_VALUE, &env, NULL},
	    {"--image", NULL, CLI_VALUE, &opts.image_id, NULL},
	    {"--app-ref", NULL, CLI_VALUE, &opts.app_ref, NULL},
	    {"--os-ref", NULL, CLI_VALUE, &opts.os_ref, NULL},
	    {"--manifest", NULL, CLI_VALUE, &manifest, NULL},
	    {"--policy", NULL, CLI_VALUE, &opts.policy_file, NULL},
	    {"--junit", NULL, CLI_VALUE, &junit, NULL},
	    {"--wait", NULL, CLI_VALUE, &wait, NULL},
	    {"--no-smoke", NULL, CLI_FLAG, &opts.skip_smoke, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"deploy", usage, options, &file, 1, "one profile"};
	struct kiln_profile *profile = NULL;
	struct kiln_deploy_result *r = NULL;
	struct kiln_report *report = NULL;
	struct kiln_hooks *hooks = NULL;
	size_t n;
	int rc, error;

	rc = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	if (file == NULL)
		return cli_usage_error("'kiln deploy' needs a profile; see 'kiln deploy --help'");
	if (opts.image_id != NULL && strncmp(opts.image_id, "ami-", 4) != 0)
		return cli_usage_error("--image: an image id starts with 'ami-', got '%s'",
		                       opts.image_id);
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
	if (junit != NULL) {
		error = kiln_report_new(&report);
		if (error < 0)
			goto done;
		opts.report = report;
	}
	error = kiln_deploy(&r, profile, &opts);
	if (junit != NULL) {
		/* Written on failure too: CI wants the evidence of a failed smoke check. */
		int werror = kiln_report_write_junit(report, junit);
		if (werror < 0 && error >= 0)
			error = werror;
	}
	if (error >= 0)
		error = cli_deploy_result(cli, r, manifest, NULL);
done:
	kiln_report_free(report);
	kiln_hooks_free(hooks);
	kiln_deploy_result_free(r);
	kiln_profile_free(profile);
	return error < 0 ? cli_fail(error) : 0;
}
