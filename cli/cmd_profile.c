#include "cli/cli.h"
#include "profiles/profile.h"

#include <string.h>

static const char usage[] =
    "usage: kiln profile check FILE [--env ENV]\n"
    "       kiln profile show FILE [--env ENV]\n"
    "\n"
    "check  check a profile: exit 0 when valid, otherwise every problem as\n"
    "       FILE:LINE:COL: message on stderr and exit 2\n"
    "show   print the effective profile as JSON: the environment's overrides\n"
    "       applied and every default filled in\n"
    "\n"
    "options:\n"
    "  --env ENV   apply the overrides of environments.ENV\n";

int cmd_profile(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_profile *profile = NULL;
	const char *sub = NULL, *file = NULL, *env = NULL;
	int i, error;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		r = cli_option_value(&env, "--env", argc, argv, &i);
		if (r < 0)
			return cli_usage_error("option '--env' needs a value");
		if (r > 0)
			continue;
		r = cli_global_option(cli, argc, argv, &i);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		if (a[0] == '-' && a[1] != '\0')
			return cli_usage_error("unknown option '%s' for 'kiln profile'", a);
		if (sub == NULL)
			sub = a;
		else if (file == NULL)
			file = a;
		else
			return cli_usage_error(
			    "unexpected argument '%s'; see 'kiln profile --help'", a);
	}
	if (sub == NULL)
		return cli_usage_error(
		    "missing subcommand: check or show; see 'kiln profile --help'");
	if (strcmp(sub, "check") != 0 && strcmp(sub, "show") != 0)
		return cli_usage_error("unknown subcommand 'profile %s'; use check or show", sub);
	if (file == NULL)
		return cli_usage_error("'kiln profile %s' needs a profile file", sub);

	error = kiln_profile_load(&profile, file, env);
	if (error < 0)
		return cli_fail(error);
	if (strcmp(sub, "show") == 0) {
		error = kiln_json_print(stdout, profile->json);
	} else if (cli->json) {
		json_t *res =
		    json_pack("{s:b, s:s, s:s}", "valid", 1, "file", file, "name", profile->name);
		error = kiln_json_print(stdout, res);
		json_decref(res);
	} else if (!cli->quiet) {
		fprintf(stderr, "%s: valid profile '%s'%s%s\n", file, profile->name,
		        env ? " for environment " : "", env ? env : "");
	}
	kiln_profile_free(profile);
	return cli_fail(error);
}
