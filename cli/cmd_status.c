/*
 * kiln status PROFILE: what is live for a profile and environment, read
 * from the cloud; people get a few lines, --json the whole record.
 */
#include "cli/cli.h"

#include <stdlib.h>

#include "core/buf.h"
#include "core/json.h"
#include "kiln.h"

static const char usage[] =
    "usage: kiln status PROFILE [--env E] [--json]\n"
    "\n"
    "Show the production and test URLs, the live colour, group, release, image\n"
    "and commit with each instance's health, the previous group and when it\n"
    "retires, and a deploy in progress (its lease). Changes nothing.\n"
    "\n"
    "options:\n"
    "  --env E     apply the profile's environment E\n"
    "  --json      print {profile, env, url, test_url, load_balancer, live,\n"
    "              previous, lease}; live and previous with color, group, release,\n"
    "              image_id, app_commit, desired, retire_at and instances (id,\n"
    "              state, health, reason)\n";

/* Strings from the cloud are escaped before they reach a terminal. */
static const char *s(const json_t *o, const char *key, char **hold)
{
	const char *v = kiln_json_str(o, key);

	free(*hold);
	*hold = kiln_escape(v != NULL ? v : "-");
	return *hold;
}

static void print_group(const char *what, const json_t *g)
{
	char *h[6] = {NULL};
	const json_t *in;
	size_t i;

	if (!json_is_object(g)) {
		printf("%-9s none\n", what);
		return;
	}
	printf("%-9s %s %s: release %s, image %s, commit %.12s, %lld desired\n", what,
	       s(g, "color", &h[0]), s(g, "group", &h[1]), s(g, "release", &h[2]),
	       s(g, "image_id", &h[3]), s(g, "app_commit", &h[4]),
	       (long long)kiln_json_int(g, "desired", 0));
	if (kiln_json_str(g, "retire_at") != NULL)
		printf("          retires at %s\n", s(g, "retire_at", &h[5]));
	json_array_foreach(json_object_get(g, "instances"), i, in)
	{
		printf("          %s %s, %s%s%s%s\n", s(in, "id", &h[0]), s(in, "state", &h[1]),
		       s(in, "health", &h[2]), kiln_json_str(in, "reason") ? " (" : "",
		       kiln_json_str(in, "reason") ? s(in, "reason", &h[3]) : "",
		       kiln_json_str(in, "reason") ? ")" : "");
	}
	for (i = 0; i < KILN_ARRAY_SIZE(h); i++)
		free(h[i]);
}

static void print_status(const json_t *j)
{
	const json_t *lease = json_object_get(j, "lease");
	char *h[4] = {NULL};
	size_t i;

	printf("%s/%s\n", s(j, "profile", &h[0]), s(j, "env", &h[1]));
	if (kiln_json_str(j, "load_balancer") == NULL) {
		printf("not deployed\n");
	} else {
		printf("url       %s\n", s(j, "url", &h[0]));
		printf("test url  %s\n", s(j, "test_url", &h[1]));
		print_group("live", json_object_get(j, "live"));
		print_group("previous", json_object_get(j, "previous"));
	}
	if (json_is_object(lease))
		printf("deploying run %s by %s on %s (lease until %s%s)\n",
		       s(lease, "run_id", &h[0]), s(lease, "caller", &h[1]),
		       s(lease, "host", &h[2]), s(lease, "expires", &h[3]),
		       kiln_json_bool(lease, "expired", 0) ? ", expired" : "");
	for (i = 0; i < KILN_ARRAY_SIZE(h); i++)
		free(h[i]);
}

int cmd_status(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_deploy_options opts = KILN_DEPLOY_OPTIONS_INIT;
	const char *file = NULL, *env = NULL;
	const struct cli_opt options[] = {
	    {"--env", NULL, CLI_VALUE, &env, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"status", usage, options, &file, 1, "one profile"};
	struct kiln_profile *profile = NULL;
	char *text = NULL;
	json_t *j = NULL;
	size_t n;
	int rc, error;

	rc = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	if (file == NULL)
		return cli_usage_error("'kiln status' needs a profile; see 'kiln status --help'");
	error = kiln_profile_load(&profile, file, env);
	if (error < 0)
		goto done;
	opts.on_event = cli_on_event;
	error = kiln_deploy_status(&text, profile, &opts);
	if (error < 0)
		goto done;
	if (cli->json) {
		printf("%s\n", text);
	} else {
		j = json_loads(text, 0, NULL);
		if (j == NULL)
			kiln_die("cannot read back the status");
		print_status(j);
	}
done:
	json_decref(j);
	free(text);
	kiln_profile_free(profile);
	return error < 0 ? cli_fail(error) : 0;
}
