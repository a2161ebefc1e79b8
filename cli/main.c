#include "cli/cli.h"

#include <string.h>

static const struct kiln_cmd commands[] = {
    {"profile", cmd_profile, "check a profile, or show it with overrides and defaults"},
    {"layers", cmd_layers, "fetch a profile's layers and pack reproducible archives"},
    {"bake", cmd_bake, "bake a profile's image, or find it in the cache"},
    {"gc", cmd_gc, "delete temporaries that crashed bakes left behind, found by tags"},
    {"version", cmd_version, "print the version"},
    {"cloud", cmd_cloud, "run the local cloud: an AWS-compatible EC2 with real instances"},
    {"whoami", cmd_whoami, "show the AWS account, identity and region kiln acts as"},
    {"help", cmd_help, "show the commands, or one command's help"},
};

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("kiln: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

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

static int global_option(struct kiln_cli *cli, int argc, char **argv, int *i)
{
	const char *a = argv[*i];

	if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
		cli->verbose++;
		return 1;
	}
	if (a[0] == '-' && a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1)) {
		cli->verbose += (int)strlen(a + 1);
		return 1;
	}
	if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
		cli->quiet = 1;
		return 1;
	}
	if (strcmp(a, "--json") == 0) {
		cli->json = 1;
		return 1;
	}
	if (strcmp(a, "--color") == 0 || strncmp(a, "--color=", 8) == 0) {
		const char *v = a[7] == '=' ? a + 8 : (*i + 1 < argc ? argv[++*i] : NULL);
		if (v == NULL) {
			cli_usage_error("option '--color' needs a value: auto, never or always");
			return -1;
		}
		if (strcmp(v, "auto") == 0)
			cli->color = KILN_COLOR_AUTO;
		else if (strcmp(v, "never") == 0)
			cli->color = KILN_COLOR_NEVER;
		else if (strcmp(v, "always") == 0)
			cli->color = KILN_COLOR_ALWAYS;
		else {
			cli_usage_error(
			    "invalid value '%s' for '--color': use auto, never or always", v);
			return -1;
		}
		return 1;
	}
	return 0;
}

int cli_global_option(struct kiln_cli *cli, int argc, char **argv, int *i)
{
	int r = global_option(cli, argc, argv, i);

	/* Logging follows the options wherever they appear on the line. */
	if (r > 0)
		kiln_log_setup(cli->verbose, cli->quiet, cli->color);
	return r;
}

int cli_option_value(const char **out, const char *opt, int argc, char **argv, int *i)
{
	size_t len = strlen(opt);
	const char *a = argv[*i];

	if (strncmp(a, opt, len) != 0 || (a[len] != '\0' && a[len] != '='))
		return 0;
	if (a[len] == '=')
		*out = a + len + 1;
	else if (*i + 1 < argc)
		*out = argv[++*i];
	else
		return -1;
	return (*out)[0] != '\0' ? 1 : -1;
}

static void print_help(FILE *fp)
{
	size_t i;

	fputs("usage: kiln [-v|--verbose]... [-q|--quiet] [--json] [--color auto|never|always]\n"
	      "            COMMAND [ARGS]\n\n"
	      "kiln bakes immutable machine images from tagged git layers and rolls them out\n"
	      "blue-green.\n\ncommands:\n",
	      fp);
	for (i = 0; i < KILN_ARRAY_SIZE(commands); i++)
		fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
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
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			puts("usage: kiln version [--json]\n\nPrint the version of kiln.");
			return 0;
		}
		int r = cli_global_option(cli, argc, argv, &i);
		if (r < 0)
			return 2;
		if (r == 0)
			return cli_usage_error("unknown option '%s' for 'kiln version'", argv[i]);
	}
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
