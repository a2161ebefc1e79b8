/*
 * The kiln command line: one cmd_<verb>.c per command, dispatched from the
 * table in main.c. Each command describes its options in a table and
 * parses them with cli_parse() (after the global ones), prints its own
 * --help, and returns a process exit code: 0 success, 1 failure outside
 * kiln (cloud, remote, machine), 2 usage or bad input.
 *
 * The library reports and the command line speaks: cli_on_event() renders
 * the library's events as the lines people read on stderr, and main() sends
 * the library's log to stderr.
 */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <stddef.h>

#include "kiln/common.h"
#include "kiln/event.h"
#include "kiln/log.h"

struct kiln_cli {
	int verbose; /* number of -v */
	int quiet;
	int json; /* --json: the result as JSON on stdout */
	enum kiln_color color;
	const char *argv0;
	const char *audit; /* --audit FILE: another audit log (kiln/hooks.h) */
};

struct kiln_cmd {
	const char *name;
	int (*exec)(struct kiln_cli *cli, int argc, char **argv);
	const char *summary;
};

/* Print the current error (kiln_error_last()) and map `error` to an exit code. */
int cli_fail(int error);

/* Options (options.c). */
/* Print "kiln: <msg>" for a usage error and return 2. */
int cli_usage_error(const char *fmt, ...) KILN_PRINTF(1, 2);
enum cli_opt_kind {
	CLI_FLAG,  /* sets an int to 1 */
	CLI_COUNT, /* adds 1 to an int each time; "-vvv" adds 3 */
	CLI_VALUE, /* "--name VALUE" or "--name=VALUE" into a const char *; never empty */
};

struct cli_opt {
	const char *name;  /* "--env" */
	const char *alias; /* another spelling ("-v"), or NULL */
	enum cli_opt_kind kind;
	void *out;           /* int * (FLAG, COUNT) or const char ** (VALUE) */
	const char *choices; /* VALUE: "cleanup|abort", or NULL for any value */
};

/* A command's arguments: its options, ending with a NULL name, and operands. */
struct cli_spec {
	const char *command; /* "bake", "cloud up": for messages */
	const char *usage;   /* printed by --help on stdout */
	const struct cli_opt *opts;
	const char **operands; /* filled in order */
	size_t max_operands;
	const char *operands_what; /* "one profile": "'kiln bake' takes one profile, not 'x'" */
};

/*
 * Read argv[first..] against the spec and the global options. Returns 0
 * with *noperands operands stored, 1 after printing the usage for --help,
 * and 2 after printing a one-line usage error.
 */
int cli_parse(struct kiln_cli *cli, const struct cli_spec *spec, int argc, char **argv, int first,
              size_t *noperands);
/* cli_parse() without printing: 1 for --help, KILN_EINVAL with the message in kiln_error_last(). */
int cli_args_parse(struct kiln_cli *cli, const struct cli_spec *spec, int argc, char **argv,
                   int first, size_t *noperands);
/*
 * Match argv[*i] against `opts`: 1 when taken (*i moves past a value), 0
 * when it is none of them, KILN_EINVAL with the message set.
 */
int cli_match(const struct cli_opt *opts, int argc, char **argv, int *i);
/*
 * The options every command takes (-v, -q, --json, --color), which also set
 * up the log: 1 when argv[*i] is one, 0 when not, -1 after printing a usage error.
 */
int cli_global_option(struct kiln_cli *cli, int argc, char **argv, int *i);

/* Events (events.c): the library's progress as today's "kiln: ..." lines on stderr. */
int cli_on_event(const struct kiln_event *event, void *payload);
struct kiln_hooks;
struct kiln_profile;
/*
 * The profile's hooks (may be NULL: only the audit log) in front of
 * cli_on_event(): pass kiln_hooks_on_event and *out as a stage's callback
 * (hooks.c).
 */
int cli_hooks(struct kiln_hooks **out, const struct kiln_cli *cli,
              const struct kiln_profile *profile, volatile int *stop);
/* Catch SIGINT and SIGTERM into a flag a stage's `stop` option watches. */
volatile int *cli_stop_on_signals(void);

/* An integer option from min to max, or a usage error (-1). */
int cli_int(int *out, const char *option, const char *value, int min, int max);
/* "--wait SECONDS": 0 to 86400 into *out; -1 after printing a usage error (options.c). */
int cli_seconds(double *out, const char *option, const char *value);

struct kiln_deploy_result;
/*
 * A deploy's result (cmd_deploy.c): one line for people, or its JSON with
 * --json; written to `manifest` when not NULL, with the bake's manifest
 * (JSON text, may be NULL) under "bake".
 */
int cli_deploy_result(const struct kiln_cli *cli, const struct kiln_deploy_result *r,
                      const char *manifest, const char *bake_json);

int cmd_version(struct kiln_cli *cli, int argc, char **argv);
int cmd_profile(struct kiln_cli *cli, int argc, char **argv);
int cmd_help(struct kiln_cli *cli, int argc, char **argv);
int cmd_layers(struct kiln_cli *cli, int argc, char **argv);
int cmd_bake(struct kiln_cli *cli, int argc, char **argv);
int cmd_validate(struct kiln_cli *cli, int argc, char **argv);
int cmd_gc(struct kiln_cli *cli, int argc, char **argv);
int cmd_whoami(struct kiln_cli *cli, int argc, char **argv);
int cmd_cloud(struct kiln_cli *cli, int argc, char **argv);
int cmd_deploy(struct kiln_cli *cli, int argc, char **argv);
int cmd_release(struct kiln_cli *cli, int argc, char **argv);
int cmd_refresh(struct kiln_cli *cli, int argc, char **argv);
int cmd_rollback(struct kiln_cli *cli, int argc, char **argv);
int cmd_promote(struct kiln_cli *cli, int argc, char **argv);
int cmd_status(struct kiln_cli *cli, int argc, char **argv);
int cmd_destroy(struct kiln_cli *cli, int argc, char **argv);
int cmd_rebuild_world(struct kiln_cli *cli, int argc, char **argv);
int cmd_audit(struct kiln_cli *cli, int argc, char **argv);

#endif
