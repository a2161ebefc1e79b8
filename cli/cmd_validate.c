/*
 * kiln validate PROFILE: the policy gate, an image test (--image), smoke
 * checks against a URL (--url); one line per check on stdout, or the report
 * as JSON (--json), and JUnit XML for CI (--junit FILE).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"

static const char usage[] =
    "usage: kiln validate PROFILE [--env E] [--policy FILE] [--image AMI] [--url URL]\n"
    "                     [--app-ref TAG] [--os-ref TAG] [--json] [--junit FILE]\n"
    "\n"
    "Check the profile and its policy (the profile's policy section and the\n"
    "organisation's policy file, which a profile cannot loosen); on a violation,\n"
    "print each at its place and exit 2 before any cloud call. Then:\n"
    "  --image AMI   launch a throwaway instance of the image (temporary key pair\n"
    "                and security group, found by 'kiln gc' if kiln dies), check\n"
    "                its host key against its console, run validate.checks and\n"
    "                validate.http on it, and remove it\n"
    "  --url URL     run deploy.smoke against the base URL URL (read-only)\n"
    "\n"
    "options:\n"
    "  --env E          apply the profile's environment E\n"
    "  --policy FILE    the organisation's policy (default: $KILN_POLICY, else\n"
    "                   /etc/kiln/policy.json when present)\n"
    "  --app-ref TAG    the release being validated (the \"app\" layer's ref)\n"
    "  --os-ref TAG     the \"os\" layer's ref\n"
    "  --json           print the report as JSON instead of one line per check\n"
    "  --junit FILE     write the report as JUnit XML to FILE (for CI)\n"
    "\n"
    "Exit status: 0 every check passed; 1 a check failed, or the cloud did;\n"
    "2 bad input or a policy violation.\n";

/* One line per check; the policy as one line unless a rule is broken. */
static void print_human(const struct kiln_report *r)
{
	size_t i, n = kiln_report_count(r), rules = 0, broken = 0;

	for (i = 0; i < n; i++) {
		const struct kiln_result *res = kiln_report_result(r, i);

		if (strcmp(res->stage, "policy") == 0) {
			rules++;
			if (!res->passed) {
				printf("FAIL  policy  %s\n", res->name);
				broken++;
			}
			continue;
		}
		printf("%s  %-6s  %s (%.2f s)%s", res->passed ? "ok  " : "FAIL", res->stage,
		       res->name, res->duration_s, res->passed ? "\n" : ":\n");
		if (!res->passed) {
			/* What was found, indented under the check. */
			const char *p = res->message;
			while (*p != '\0') {
				size_t len = strcspn(p, "\n");
				printf("        %.*s\n", (int)len, p);
				p += len;
				if (*p == '\n')
					p++;
			}
		}
	}
	if (rules > 0 && broken == 0)
		printf("ok    policy  %zu rules\n", rules);
}

int cmd_validate(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_validate_options opts = KILN_VALIDATE_OPTIONS_INIT;
	const char *file = NULL, *env = NULL, *junit = NULL;
	const struct cli_opt options[] = {
	    {"--env", NULL, CLI_VALUE, &env, NULL},
	    {"--policy", NULL, CLI_VALUE, &opts.policy_file, NULL},
	    {"--image", NULL, CLI_VALUE, &opts.image_id, NULL},
	    {"--url", NULL, CLI_VALUE, &opts.url, NULL},
	    {"--app-ref", NULL, CLI_VALUE, &opts.app_ref, NULL},
	    {"--os-ref", NULL, CLI_VALUE, &opts.os_ref, NULL},
	    {"--junit", NULL, CLI_VALUE, &junit, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"validate", usage, options, &file, 1, "one profile"};
	struct kiln_profile *profile = NULL;
	struct kiln_report *report = NULL;
	char *json = NULL;
	size_t n;
	int r, error;

	r = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (r != 0)
		return r == 1 ? 0 : r;
	if (file == NULL)
		return cli_usage_error(
		    "'kiln validate' needs a profile; see 'kiln validate --help'");
	if (opts.image_id != NULL && strncmp(opts.image_id, "ami-", 4) != 0)
		return cli_usage_error("--image: '%s' is not an image id (ami-...)", opts.image_id);
	error = kiln_profile_load(&profile, file, env);
	if (error < 0)
		return cli_fail(error);
	kiln_report_new(&report);
	opts.stop = cli_stop_on_signals();
	opts.on_event = cli_on_event;
	error = kiln_validate(report, profile, &opts);
	/* The report is written whatever happened: CI wants the evidence of a failure most. */
	if (junit != NULL) {
		int werror = kiln_report_write_junit(report, junit);
		if (werror < 0 && error >= 0)
			error = werror;
		else if (werror < 0)
			fprintf(stderr, "kiln: error: %s\n", kiln_error_last());
	}
	if (cli->json) {
		if (kiln_report_to_json(&json, report) >= 0)
			fputs(json, stdout);
	} else {
		print_human(report);
	}
	free(json);
	kiln_report_free(report);
	kiln_profile_free(profile);
	return error < 0 ? cli_fail(error) : 0;
}
