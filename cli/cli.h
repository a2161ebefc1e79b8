/*
 * The kiln command line: one cmd_<verb>.c per command, dispatched from the
 * table in main.c. Each command parses its own options (after the global
 * ones), prints its own --help, and returns a process exit code: 0 success,
 * 1 failure outside kiln (cloud, remote, machine), 2 usage or bad input.
 */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include "kiln.h"

struct kiln_cli {
	int verbose; /* number of -v */
	int quiet;
	int json; /* --json: the result as JSON on stdout */
	enum kiln_color color;
	const char *argv0;
};

struct kiln_cmd {
	const char *name;
	int (*exec)(struct kiln_cli *cli, int argc, char **argv);
	const char *summary;
};

/* Print "kiln: <msg>" for a usage error and return 2. */
int cli_usage_error(const char *fmt, ...) KILN_PRINTF(1, 2);
/* Print the current error (kiln_error_last()) and map `error` to an exit code. */
int cli_fail(int error);
/*
 * Parse the options shared by every command (-v, -q, --json, --color) when
 * they appear after the command name. Returns 1 when argv[*i] was consumed,
 * 0 when it is not a global option, -1 on a bad value (message printed).
 */
int cli_global_option(struct kiln_cli *cli, int argc, char **argv, int *i);

/*
 * Take the value of option `opt` ("--env VALUE" or "--env=VALUE") at
 * argv[*i]: 1 when taken (*i moves past it), 0 when argv[*i] is another
 * argument, -1 when the value is missing or empty.
 */
int cli_option_value(const char **out, const char *opt, int argc, char **argv, int *i);

int cmd_version(struct kiln_cli *cli, int argc, char **argv);
int cmd_profile(struct kiln_cli *cli, int argc, char **argv);
int cmd_help(struct kiln_cli *cli, int argc, char **argv);
int cmd_layers(struct kiln_cli *cli, int argc, char **argv);
int cmd_whoami(struct kiln_cli *cli, int argc, char **argv);
int cmd_cloud(struct kiln_cli *cli, int argc, char **argv);

#endif
