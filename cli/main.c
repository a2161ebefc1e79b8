#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"

static const struct kiln_cmd commands[] = {
    {"profile", cmd_profile, "check a profile, or show it with overrides and defaults"},
    {"layers", cmd_layers, "fetch a profile's layers and pack reproducible archives"},
    {"bake", cmd_bake, "bake a profile's image, or find it in the cache"},
    {"deploy", cmd_deploy, "deploy a baked image blue-green behind a load balancer"},
    {"release", cmd_release, "bake a release tag (or find its image) and deploy it"},
    {"refresh", cmd_refresh, "rebake, test and redeploy profiles whose base image or tags moved"},
    {"rebuild-world", cmd_rebuild_world, "bake and deploy every profile of a directory, in order"},
    {"rollback", cmd_rollback, "put the previous release back live"},
    {"promote", cmd_promote, "deploy the image live in one environment to another"},
    {"status", cmd_status, "show what is live, the previous release, a deploy running"},
    {"destroy", cmd_destroy, "remove everything a deploy made for a profile and environment"},
    {"validate", cmd_validate, "check a profile's policy, test an image, smoke-test a URL"},
    {"audit", cmd_audit, "show the audit log: who changed what, when, with which result"},
    {"gc", cmd_gc, "delete what crashed bakes left and retire what deploys kept, by tags"},
    {"version", cmd_version, "print the version"},
    {"cloud", cmd_cloud, "run the local cloud: an AWS-compatible EC2 with real instances"},
    {"whoami", cmd_whoami, "show the AWS account, identity and region kiln acts as"},
    {"help", cmd_help, "show the commands, or one command's help"},
};

/* "FILE:LINE:COL: message" lines stand on their own, as compilers print them. */
static int has_position(const char *msg)
{
	const char *p = strchr(msg, ':');
	size_t n;

	if (p == NULL || p == msg)
		return 0;
	n = strspn(p + 1, "0123456789");
	if (n == 0 || p[1 + n] != ':')
		return 0;
	p += 1 + n;
	n = strspn(p + 1, "0123456789");
	return n > 0 && p[1 + n] == ':';
}

int cli_fail(int error)
{
	const char *msg = kiln_error_last();

	if (error >= 0)
		return 0;
	if (msg[0] != '\0') {
		char *clean = kiln_log_redact(msg);
		struct kiln_buf safe = KILN_BUF_INIT;

		/* The message may quote a server or a repository: no raw control bytes. */
		kiln_buf_put_escaped(&safe, clean, strlen(clean), KILN_ESCAPE_LINES);
		fprintf(stderr, "%s%s\n", has_position(safe.ptr) ? "" : "kiln: error: ", safe.ptr);
		kiln_buf_release(&safe);
		free(clean);
	} else {
		fputs("kiln: error: unknown failure\n", stderr);
	}
	return kiln_exit_code(error);
}

static void print_help(FILE *fp)
{
	size_t i;

	fputs("usage: kiln [-v|--verbose]... [-q|--quiet] [--json] [--color auto|never|always]\n"
	      "            [--audit FILE] COMMAND [ARGS]\n\n"
	      "kiln bakes immutable machine images from tagged git layers and rolls them out\n"
	      "blue-green.\n\ncommands:\n",
	      fp);
	for (i = 0; i < KILN_ARRAY_SIZE(commands); i++)
		fprintf(fp, "  %-13s %s\n", commands[i].name, commands[i].summary);
	fputs("\nRun 'kiln COMMAND --help' for the options of one command.\n"
	      "Exit codes: 0 success, 1 failure in the cloud or on a machine, 2 bad input.\n",
	      fp);
}

static const struct kiln_cmd *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int cmd_help(struct kiln_cli *cli, int argc, char **argv)
{
	const struct kiln_cmd *cmd;
	char *sub[] = {NULL, "--help", NULL};

	if (argc < 2) {
		print_help(stdout);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (cmd == NULL)
		return cli_usage_error("unknown command '%s'; see 'kiln --help'", argv[1]);
	sub[0] = argv[1];
	return cmd->exec(cli, 2, sub);
}

int cmd_version(struct kiln_cli *cli, int argc, char **argv)
{
	const struct cli_spec spec = {
	    .command = "version",
	    .usage = "usage: kiln version [--json]\n\nPrint the version of kiln.\n"};
	size_t n;
	int r;

	r = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (r != 0)
		return r == 1 ? 0 : r;
	if (cli->json)
		printf("{\"version\": \"%s\"}\n", kiln_version());
	else
		printf("kiln %s\n", kiln_version());
	return 0;
}

int main(int argc, char **argv)
{
	struct kiln_cli cli = {.color = KILN_COLOR_AUTO, .argv0 = argv[0]};
	const struct kiln_cmd *cmd;
	int i, rc;

	/* The library logs nowhere unless told: the command line shows it on stderr. */
	kiln_log_set_stream(stderr, -1);

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		int r;
		if (strcmp(argv[i], "--version") == 0) {
			printf("kiln %s\n", kiln_version());
			goto flush;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			print_help(stdout);
			goto flush;
		}
		r = cli_global_option(&cli, argc, argv, &i);
		if (r < 0)
			return 2;
		if (r == 0)
			return cli_usage_error("unknown option '%s'; see 'kiln --help'", argv[i]);
	}
	if (i == argc) {
		print_help(stderr);
		return 2;
	}
	cmd = find_command(argv[i]);
	if (cmd == NULL)
		return cli_usage_error("unknown command '%s'; see 'kiln --help'", argv[i]);
	kiln_log_setup(cli.verbose, cli.quiet, cli.color);
	rc = cmd->exec(&cli, argc - i, argv + i);
	goto done;
flush:
	rc = 0;
done:
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "kiln: error: cannot write to standard output\n");
		return rc ? rc : 1;
	}
	return rc;
}
