/*
 * kiln bake PROFILE: bake (or find in the cache) the profile's image and
 * print its id, or the manifest with --json.
 */
#include "cli/cli.h"

#include <signal.h>
#include <string.h>

#include "bake/manifest.h"
#include "bake/pipeline.h"
#include "profiles/profile.h"

static const char usage[] =
    "usage: kiln bake PROFILE [--env E] [--app-ref TAG] [--os-ref TAG] [--force]\n"
    "                 [--manifest FILE] [--on-error cleanup|abort] [--json]\n"
    "\n"
    "Resolve and pack the profile's layers, find its source image and compute the\n"
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
    "  --json               print the manifest on stdout instead of the image id\n"
    "\n"
    "Journals and locks live in $KILN_STATE_DIR (default ~/.local/state/kiln).\n";

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* No SA_RESTART: blocking calls return early and see the flag. */
static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int cmd_bake(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_bake_args a = {0};
	struct kiln_bake_opts opts = {0};
	struct kiln_profile *profile = NULL;
	struct kiln_aws *aws = NULL;
	struct kiln_manifest m;
	json_t *j = NULL;
	int i, r, error = 0;

	kiln_manifest_init(&m);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		r = cli_global_option(cli, argc, argv, &i);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		r = kiln_bake_args_parse(&a, argc, argv, &i);
		if (r < 0)
			return cli_usage_error("%s", kiln_error_last());
		if (r == 0)
			return cli_usage_error("unknown option '%s' for 'kiln bake'", argv[i]);
	}
	if (a.profile == NULL)
		return cli_usage_error("'kiln bake' needs a profile; see 'kiln bake --help'");

	error = kiln_profile_load(&profile, a.profile, a.env);
	if (error < 0)
		goto done;
	catch_signals();
	error = kiln_bake_client(&aws, profile);
	if (error < 0)
		goto done;
	opts.app_ref = a.app_ref;
	opts.os_ref = a.os_ref;
	opts.force = a.force;
	opts.keep_on_error = a.keep_on_error;
	opts.stop = &stop_flag;
	error = kiln_bake_run(&m, aws, profile, &opts);
	if (error < 0)
		goto done;
	if (a.manifest != NULL) {
		error = kiln_manifest_write(&m, a.manifest, kiln_time_mono() - m.started);
		if (error < 0)
			goto done;
	}
	if (cli->json) {
		j = kiln_manifest_json(&m, kiln_time_mono() - m.started);
		error = kiln_json_print(stdout, j);
	} else {
		printf("%s\n", m.image_id);
	}
done:
	json_decref(j);
	kiln_manifest_release(&m);
	kiln_aws_free(aws);
	kiln_profile_free(profile);
	return error < 0 ? cli_fail(error) : 0;
}
