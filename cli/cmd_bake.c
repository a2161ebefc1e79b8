/*
 * kiln bake PROFILE: bake (or find in the cache) the profile's image and
 * print its id, or the manifest with --json.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "kiln.h"

static const char usage[] =
    "usage: kiln bake PROFILE [--env E] [--app-ref TAG] [--os-ref TAG] [--force]\n"
    "                 [--manifest FILE] [--on-error cleanup|abort] [--policy FILE]\n"
    "                 [--junit FILE] [--json]\n"
    "\n"
    "Check the profile's policy first (see 'kiln validate'). Then resolve and pack\n"
    "the profile's layers, find its source image and compute the\n"
    "bake key. If an image tagged with that key exists, print it (no instance is\n"
    "launched). Otherwise launch a temporary builder, upload the layers over SSH,\n"
    "run the provisioners and checks, and make the image. The builder, its key\n"
    "pair and its security group are removed on every path, Ctrl-C included.\n"
    "\n"
    "options:\n"
    "  --env E              apply the profile's environment E\n"
    "  --app-ref TAG        bake this ref of the \"app\" layer instead of the profile's\n"
    "  --os-ref TAG         bake this ref of the \"os\" layer instead of the profile's\n"
    "  --force              bake even if an image with the same bake key exists\n"
    "  --manifest FILE      write the manifest (JSON) to FILE\n"
    "  --on-error MODE      cleanup (default) removes the builder on failure; abort\n"
    "                       leaves it for debugging and prints 'kiln gc --run-id ID'\n"
    "  --policy FILE        the organisation's policy (default: $KILN_POLICY, else\n"
    "                       /etc/kiln/policy.json when present)\n"
    "  --junit FILE         write the policy's rules and the builder's checks as\n"
    "                       JUnit XML to FILE (for CI), whatever the outcome\n"
    "  --json               print the manifest on stdout instead of the image id\n"
    "\n"
    "Journals and locks live in $KILN_STATE_DIR (default ~/.local/state/kiln).\n";

int cmd_bake(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_bake_options opts = KILN_BAKE_OPTIONS_INIT;
	const char *file = NULL, *env = NULL, *manifest = NULL, *on_error = NULL, *junit = NULL;
	const struct cli_opt options[] = {
	    {"--env", NULL, CLI_VALUE, &env, NULL},
	    {"--app-ref", NULL, CLI_VALUE, &opts.app_ref, NULL},
	    {"--os-ref", NULL, CLI_VALUE, &opts.os_ref, NULL},
	    {"--force", NULL, CLI_FLAG, &opts.force, NULL},
	    {"--manifest", NULL, CLI_VALUE, &manifest, NULL},
	    {"--on-error", NULL, CLI_VALUE, &on_error, "cleanup|abort"},
	    {"--policy", NULL, CLI_VALUE, &opts.policy_file, NULL},
	    {"--junit", NULL, CLI_VALUE, &junit, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"bake", usage, options, &file, 1, "one profile"};
	struct kiln_profile *profile = NULL;
	struct kiln_manifest *m = NULL;
	struct kiln_report *report = NULL;
	struct kiln_hooks *hooks = NULL;
	char *json = NULL;
	size_t n;
	int r, error = 0;

	r = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (r != 0)
		return r == 1 ? 0 : r;
	if (file == NULL)
		return cli_usage_error("'kiln bake' needs a profile; see 'kiln bake --help'");
	opts.keep_on_error = on_error != NULL && strcmp(on_error, "abort") == 0;

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
		kiln_report_new(&report);
		opts.report = report;
	}
	error = kiln_bake(&m, profile, &opts);
	if (junit != NULL) {
		/* Written on failure too: CI wants the evidence of a failed bake. */
		int werror = kiln_report_write_junit(report, junit);
		if (werror < 0 && error >= 0)
			error = werror;
	}
	if (error < 0)
		goto done;
	if (manifest != NULL) {
		error = kiln_manifest_write(m, manifest);
		if (error < 0)
			goto done;
	}
	if (cli->json) {
		error = kiln_manifest_to_json(&json, m);
		if (error >= 0)
			fputs(json, stdout);
	} else {
		printf("%s\n", kiln_manifest_image_id(m));
	}
done:
	free(json);
	kiln_hooks_free(hooks);
	kiln_manifest_free(m);
	kiln_report_free(report);
	kiln_profile_free(profile);
	return error < 0 ? cli_fail(error) : 0;
}
