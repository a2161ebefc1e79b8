/*
 * The command line's option parser (cli/options.c), through the table of
 * `kiln bake`'s options: values in both spellings, flags, choices, operands,
 * the global options wherever they appear, and one clear message for each
 * kind of bad input.
 */
#include <check.h>
#include <string.h>

#include "cli/cli.h"
#include "core/common.h"

struct bake_args {
	const char *profile, *env, *app_ref, *os_ref, *manifest, *on_error;
	int force;
};

struct args_case {
	const char *argv[8];
	int ok; /* 1: parsed; 0: KILN_EINVAL */
	struct bake_args want;
	const char *error; /* a substring of the message */
};

static const struct args_case args_cases[] = {
    {{"web.json"}, 1, {.profile = "web.json"}, NULL},
    {{"web.json", "--env", "prod", "--app-ref=v1.4.2", "--os-ref", "os-2"},
     1,
     {.profile = "web.json", .env = "prod", .app_ref = "v1.4.2", .os_ref = "os-2"},
     NULL},
    {{"--force", "--manifest", "m.json", "web.json"},
     1,
     {.profile = "web.json", .manifest = "m.json", .force = 1},
     NULL},
    {{"web.json", "--on-error", "abort"}, 1, {.profile = "web.json", .on_error = "abort"}, NULL},
    {{"web.json", "--on-error=abort", "--on-error=cleanup"},
     1,
     {.profile = "web.json", .on_error = "cleanup"},
     NULL},
    {{"--", "-odd.json"}, 1, {.profile = "-odd.json"}, NULL},
    {{"web.json", "--on-error", "ignore"},
     0,
     {0},
     "invalid value 'ignore' for '--on-error': use cleanup or abort"},
    {{"web.json", "--app-ref"}, 0, {0}, "option '--app-ref' needs a value"},
    {{"web.json", "--env="}, 0, {0}, "option '--env' needs a value"},
    {{"web.json", "--force=yes"}, 0, {0}, "option '--force' takes no value"},
    {{"a.json", "b.json"}, 0, {0}, "'kiln bake' takes one profile, not 'b.json'"},
    {{"web.json", "--frobnicate"}, 0, {0}, "unknown option '--frobnicate' for 'kiln bake'"},
    {{"web.json", "--color", "sometimes"},
     0,
     {0},
     "invalid value 'sometimes' for '--color': use auto, never or always"},
    {{"web.json", "--color"}, 0, {0}, "option '--color' needs a value: auto, never or always"},
};

static int parse(struct kiln_cli *cli, struct bake_args *a, size_t *n, const char *const *args)
{
	const struct cli_opt options[] = {
	    {"--env", NULL, CLI_VALUE, &a->env, NULL},
	    {"--app-ref", NULL, CLI_VALUE, &a->app_ref, NULL},
	    {"--os-ref", NULL, CLI_VALUE, &a->os_ref, NULL},
	    {"--force", NULL, CLI_FLAG, &a->force, NULL},
	    {"--manifest", NULL, CLI_VALUE, &a->manifest, NULL},
	    {"--on-error", NULL, CLI_VALUE, &a->on_error, "cleanup|abort"},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"bake", "usage", options, &a->profile, 1, "one profile"};
	char *argv[10] = {"bake"};
	int argc = 1;

	while (args[argc - 1] != NULL)
		argv[argc] = (char *)args[argc - 1], argc++;
	return cli_args_parse(cli, &spec, argc, argv, 1, n);
}

START_TEST(bake_arguments)
{
	const struct args_case *c = &args_cases[_i];
	struct kiln_cli cli = {0};
	struct bake_args a = {0};
	size_t n = 0;
	int r;

	kiln_error_clear();
	r = parse(&cli, &a, &n, c->argv);
	if (!c->ok) {
		ck_assert_int_eq(r, KILN_EINVAL);
		ck_assert_msg(strstr(kiln_error_last(), c->error) != NULL, "'%s' lacks '%s'",
		              kiln_error_last(), c->error);
		ck_assert_ptr_null(strchr(kiln_error_last(), '\n'));
		return;
	}
	ck_assert_msg(r == 0, "%s", kiln_error_last());
	ck_assert_uint_eq(n, 1);
#define EQ(field) ck_assert_pstr_eq(a.field, c->want.field)
	EQ(profile);
	EQ(env);
	EQ(app_ref);
	EQ(os_ref);
	EQ(manifest);
	EQ(on_error);
#undef EQ
	ck_assert_int_eq(a.force, c->want.force);
}
END_TEST

START_TEST(global_options_anywhere)
{
	static const char *const args[] = {"-vv",           "web.json", "--json", "-v",
	                                   "--color=never", "--quiet",  NULL};
	struct kiln_cli cli = {0};
	struct bake_args a = {0};
	size_t n = 0;

	ck_assert_int_eq(parse(&cli, &a, &n, args), 0);
	ck_assert_int_eq(cli.verbose, 3);
	ck_assert_int_eq(cli.json, 1);
	ck_assert_int_eq(cli.quiet, 1);
	ck_assert_int_eq(cli.color, KILN_COLOR_NEVER);
	ck_assert_str_eq(a.profile, "web.json");
	kiln_log_setup(0, 0, KILN_COLOR_NEVER);
}
END_TEST

START_TEST(help_wins)
{
	static const char *const args[] = {"web.json", "--help", "--frobnicate", NULL};
	struct kiln_cli cli = {0};
	struct bake_args a = {0};
	size_t n = 0;

	ck_assert_int_eq(parse(&cli, &a, &n, args), 1);
}
END_TEST

START_TEST(no_operands_for_commands_without)
{
	const struct cli_spec spec = {"gc", "usage", NULL, NULL, 0, NULL};
	char *argv[] = {"gc", "stray", NULL};
	struct kiln_cli cli = {0};
	size_t n = 0;

	ck_assert_int_eq(cli_args_parse(&cli, &spec, 2, argv, 1, &n), KILN_EINVAL);
	ck_assert_str_eq(kiln_error_last(),
	                 "unexpected argument 'stray' for 'kiln gc'; see 'kiln gc --help'");
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("options");

	tcase_add_loop_test(tc, bake_arguments, 0, (int)KILN_ARRAY_SIZE(args_cases));
	tcase_add_test(tc, global_options_anywhere);
	tcase_add_test(tc, help_wins);
	tcase_add_test(tc, no_operands_for_commands_without);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
