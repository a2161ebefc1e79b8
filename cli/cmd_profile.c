#include "cli/cli.h"

#include <string.h>

#include "core/json.h"
#include "profiles/profile.h"

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
	const char *operands[2] = {NULL, NULL}, *env = NULL;
	const struct cli_opt options[] = {
	    {"--env", NULL, CLI_VALUE, &env, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"profile", usage, options, operands, 2, NULL};
	const char *sub, *file;
	struct kiln_profile *profile = NULL;
	size_t n;
	int r, error;

	r = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (r != 0)
		return r == 1 ? 0 : r;
	sub = operands[0];
	file = operands[1];
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
