/*
 * kiln refresh PROFILE... | --dir DIR: what a timer runs. Every profile is
 * loaded first (a bad one: exit 2 before any work); then each is refreshed
 * in turn, a failure never stopping the others, and one line per profile
 * says what happened and why.
 */
#include "cli/cli.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "kiln.h"

#define MAX_PROFILES 1024

static const char usage[] =
    "usage: kiln refresh PROFILE... | --dir DIR [--env E] [--deploy] [--dry-run]\n"
    "                    [--policy FILE] [--json]\n"
    "\n"
    "For each profile, find its inputs now (the newest source image, each layer\n"
    "with \"track\" at its newest matching tag, the others at the release live)\n"
    "and compare their bake key with the live image's, or with nothing deployed\n"
    "the newest baked image's. When it differs: bake, run the image test and,\n"
    "with --deploy, deploy as 'kiln release' does. When nothing moved, only\n"
    "lookups are made (tags, images, what is live): safe to run every few minutes.\n"
    "\n"
    "options:\n"
    "  --dir DIR       every DIR/*.json, in name order, instead of PROFILE...\n"
    "  --env E         apply each profile's environment E\n"
    "  --deploy        deploy a new image (else bake and test it only)\n"
    "  --dry-run       say what moved and what would be done; change nothing\n"
    "  --policy FILE   the organisation's policy (default: $KILN_POLICY, else\n"
    "                  /etc/kiln/policy.json when present)\n"
    "  --json          print a JSON array, one object per profile (profile, env,\n"
    "                  status, reasons, live, old_image, old_bake_key, bake_key,\n"
    "                  image_id, cache_hit, tested, deployed, url, error)\n"
    "\n"
    "Exit status: 0 every profile ended up to date (or refreshed); 1 a profile\n"
    "failed in the cloud or on a machine (the others were still processed);\n"
    "2 bad input (a profile, an option, a repository, the policy).\n";

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The profiles (*.json) of `dir` in name order into files[] (strings to free). */
static int list_dir(char **files, size_t *n, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	*n = 0;
	if (d == NULL)
		return cli_usage_error("--dir: cannot read '%s'", dir);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		if (*n == MAX_PROFILES) {
			closedir(d);
			return cli_usage_error("--dir: more than %d profiles in '%s'", MAX_PROFILES,
			                       dir);
		}
		files[(*n)++] = kiln_xasprintf("%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (*n == 0)
		return cli_usage_error("--dir: no *.json profile in '%s'", dir);
	qsort(files, *n, sizeof(*files), by_name);
	return 0;
}

/* "web: refreshed: base image ami-1 -> ami-2; image ami-3 (tested, deployed)" */
static void print_line(const struct kiln_refresh_result *r, const char *name)
{
	struct kiln_buf line = KILN_BUF_INIT, safe = KILN_BUF_INIT;
	const char *status = kiln_refresh_result_status(r);
	size_t i, n = kiln_refresh_result_reason_count(r);

	kiln_buf_printf(&line, "%s: %s", name, status);
	for (i = 0; i < n; i++)
		kiln_buf_printf(&line, "%s%s", i ? "; " : ": ", kiln_refresh_result_reason(r, i));
	if (kiln_refresh_result_image_id(r) != NULL && strcmp(status, "failed") != 0)
		kiln_buf_printf(&line, "; image %s%s", kiln_refresh_result_image_id(r),
		                kiln_refresh_result_deployed(r) ? " (tested, deployed)"
		                : kiln_refresh_result_tested(r) ? " (tested, not deployed)"
		                                                : " (not deployed)");
	kiln_buf_put_escaped(&safe, line.ptr, line.size, 0);
	puts(safe.ptr);
	kiln_buf_release(&safe);
	kiln_buf_release(&line);
}

/* Every profile and its hooks, before any work: one that is wrong stops them all. */
static int load_all(struct kiln_profile **profiles, struct kiln_hooks **hooks,
                    const struct kiln_cli *cli, char **files, size_t n, const char *env,
                    volatile int *stop)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < n; i++) {
		int error = kiln_profile_load(&profiles[i], files[i], env);
		if (error >= 0)
			error = cli_hooks(&hooks[i], cli, profiles[i], stop);
		if (error < 0)
			rc = cli_fail(error);
	}
	return rc;
}

static int refresh_all(struct kiln_cli *cli, struct kiln_profile **profiles,
                       struct kiln_hooks **hooks, size_t n, const struct kiln_refresh_options *opts)
{
	struct kiln_buf json = KILN_BUF_INIT;
	size_t i;
	int rc = 0;

	kiln_buf_init(&json, (size_t)1 << 30);
	kiln_buf_puts(&json, "[");
	for (i = 0; i < n; i++) {
		struct kiln_refresh_options o = *opts;
		struct kiln_refresh_result *r = NULL;
		char *text = NULL;
		int error, code;

		/* The profile's hooks and the audit log see its bake and deploy. */
		o.on_event = kiln_hooks_on_event;
		o.payload = hooks[i];
		error = kiln_refresh(&r, profiles[i], &o);
		if (error < 0) {
			/* Each failure on its own line, the profile named; the others go on. */
			kiln_error_prefix(error, "%s", kiln_profile_name(profiles[i]));
			code = cli_fail(error);
			if (code > rc)
				rc = code;
		}
		if (cli->json) {
			kiln_refresh_result_to_json(&text, r);
			kiln_buf_printf(&json, "%s%s", i ? ",\n" : "\n", text);
			free(text);
		} else {
			print_line(r, kiln_profile_name(profiles[i]));
			fflush(stdout);
		}
		kiln_refresh_result_free(r);
	}
	if (cli->json)
		printf("%s\n]\n", json.ptr);
	kiln_buf_release(&json);
	return rc;
}

int cmd_refresh(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_refresh_options opts = KILN_REFRESH_OPTIONS_INIT;
	const char *operands[MAX_PROFILES], *dir = NULL, *env = NULL;
	const struct cli_opt options[] = {
	    {"--dir", NULL, CLI_VALUE, &dir, NULL},
	    {"--env", NULL, CLI_VALUE, &env, NULL},
	    {"--deploy", NULL, CLI_FLAG, &opts.deploy, NULL},
	    {"--dry-run", NULL, CLI_FLAG, &opts.dry_run, NULL},
	    {"--policy", NULL, CLI_VALUE, &opts.policy_file, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"refresh", usage,        options,
	                              operands,  MAX_PROFILES, "profiles"};
	struct kiln_profile **profiles = NULL;
	struct kiln_hooks **hooks = NULL;
	char **files = NULL;
	size_t n = 0, i;
	int rc;

	rc = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	if ((n == 0) == (dir == NULL))
		return cli_usage_error("'kiln refresh' needs profiles or --dir DIR, not both; see "
		                       "'kiln refresh --help'");
	files = kiln_xcalloc(MAX_PROFILES, sizeof(*files));
	if (dir != NULL) {
		rc = list_dir(files, &n, dir);
	} else {
		for (i = 0; i < n; i++)
			files[i] = kiln_xstrdup(operands[i]);
	}
	profiles = kiln_xcalloc(n + 1, sizeof(*profiles));
	hooks = kiln_xcalloc(n + 1, sizeof(*hooks));
	opts.stop = cli_stop_on_signals();
	if (rc == 0)
		rc = load_all(profiles, hooks, cli, files, n, env, opts.stop);
	if (rc == 0)
		rc = refresh_all(cli, profiles, hooks, n, &opts);
	for (i = 0; i < n; i++) {
		kiln_hooks_free(hooks[i]);
		kiln_profile_free(profiles[i]);
		free(files[i]);
	}
	free(hooks);
	free(profiles);
	free(files);
	return rc;
}
