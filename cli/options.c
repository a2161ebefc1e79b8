/*
 * The command line's one option parser: each command describes its options
 * in a table (struct cli_opt) and cli_parse() reads argv against it, the
 * global options and the command's operands, printing one line and
 * returning 2 for anything wrong, as git's parse-options and tmux's
 * args_parse do.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

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

/* "a|b|c" as "a, b or c" into out. */
static void say_choices(char *out, size_t size, const char *choices)
{
	const char *last = strrchr(choices, '|');
	size_t n = 0;

	out[0] = '\0';
	for (const char *p = choices; *p != '\0' && n + 5 < size; p++) {
		if (*p != '|') {
			out[n++] = *p;
		} else if (p == last) {
			memcpy(out + n, " or ", 4);
			n += 4;
		} else {
			memcpy(out + n, ", ", 2);
			n += 2;
		}
	}
	out[n] = '\0';
}

static int is_choice(const char *choices, const char *v)
{
	size_t n = strlen(v);

	for (const char *p = choices; *p != '\0';) {
		size_t len = strcspn(p, "|");
		if (len == n && strncmp(p, v, n) == 0)
			return 1;
		p += len;
		if (*p == '|')
			p++;
	}
	return 0;
}

/* How argv[*i] spells `o`: 1 as "--name" (or its alias), 2 as "--name=VALUE", 0 not at all. */
static int spelled(const struct cli_opt *o, const char *a)
{
	size_t n = strlen(o->name);

	if (strcmp(a, o->name) == 0 || (o->alias != NULL && strcmp(a, o->alias) == 0))
		return 1;
	if (strncmp(a, o->name, n) == 0 && a[n] == '=')
		return 2;
	/* -vvv: a counted short option, repeated. */
	if (o->kind == CLI_COUNT && o->alias != NULL && o->alias[0] == '-' &&
	    strlen(o->alias) == 2 && a[0] == '-' && a[1] == o->alias[1] &&
	    strspn(a + 1, o->alias + 1) == strlen(a + 1))
		return 3;
	return 0;
}

static int take_value(const struct cli_opt *o, int how, int argc, char **argv, int *i)
{
	const char *v = NULL;
	char list[128];

	if (how == 2)
		v = argv[*i] + strlen(o->name) + 1;
	else if (*i + 1 < argc)
		v = argv[++*i];
	if (v == NULL || v[0] == '\0') {
		if (o->choices == NULL)
			return kiln_error_set(KILN_EINVAL, "option '%s' needs a value", o->name);
		say_choices(list, sizeof(list), o->choices);
		return kiln_error_set(KILN_EINVAL, "option '%s' needs a value: %s", o->name, list);
	}
	if (o->choices != NULL && !is_choice(o->choices, v)) {
		say_choices(list, sizeof(list), o->choices);
		return kiln_error_set(KILN_EINVAL, "invalid value '%s' for '%s': use %s", v,
		                      o->name, list);
	}
	*(const char **)o->out = v;
	return 0;
}

int cli_match(const struct cli_opt *opts, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	const struct cli_opt *o;
	int how = 0;

	for (o = opts; o->name != NULL; o++)
		if ((how = spelled(o, a)) != 0)
			break;
	if (o->name == NULL)
		return 0;
	if (o->kind == CLI_VALUE)
		return take_value(o, how, argc, argv, i) < 0 ? KILN_EINVAL : 1;
	if (how == 2)
		return kiln_error_set(KILN_EINVAL, "option '%s' takes no value", o->name);
	if (o->kind == CLI_COUNT)
		*(int *)o->out += how == 3 ? (int)strlen(a) - 1 : 1;
	else
		*(int *)o->out = 1;
	return 1;
}

static int global_match(struct kiln_cli *cli, int argc, char **argv, int *i)
{
	const char *color = NULL;
	const struct cli_opt globals[] = {
	    {"--verbose", "-v", CLI_COUNT, &cli->verbose, NULL},
	    {"--quiet", "-q", CLI_FLAG, &cli->quiet, NULL},
	    {"--json", NULL, CLI_FLAG, &cli->json, NULL},
	    {"--color", NULL, CLI_VALUE, &color, "auto|never|always"},
	    {"--audit", NULL, CLI_VALUE, &cli->audit, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	int r = cli_match(globals, argc, argv, i);

	if (color != NULL)
		cli->color = strcmp(color, "always") == 0  ? KILN_COLOR_ALWAYS
		             : strcmp(color, "never") == 0 ? KILN_COLOR_NEVER
		                                           : KILN_COLOR_AUTO;
	/* Logging follows the options wherever they appear on the line. */
	if (r > 0)
		kiln_log_setup(cli->verbose, cli->quiet, cli->color);
	return r;
}

int cli_global_option(struct kiln_cli *cli, int argc, char **argv, int *i)
{
	int r = global_match(cli, argc, argv, i);

	if (r < 0)
		cli_usage_error("%s", kiln_error_last());
	return r < 0 ? -1 : r;
}

int cli_args_parse(struct kiln_cli *cli, const struct cli_spec *spec, int argc, char **argv,
                   int first, size_t *noperands)
{
	static const struct cli_opt none[] = {{NULL, NULL, 0, NULL, NULL}};
	const struct cli_opt *opts = spec->opts != NULL ? spec->opts : none;
	int i, r, dashdash = 0;

	*noperands = 0;
	for (i = first; i < argc; i++) {
		const char *a = argv[i];
		if (!dashdash && a[0] == '-' && a[1] != '\0') {
			if (strcmp(a, "--") == 0) {
				dashdash = 1;
				continue;
			}
			if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
				return 1;
			r = cli_match(opts, argc, argv, &i);
			if (r == 0)
				r = global_match(cli, argc, argv, &i);
			if (r < 0)
				return r;
			if (r == 0)
				return kiln_error_set(KILN_EINVAL,
				                      "unknown option '%s' for 'kiln %s'", a,
				                      spec->command);
			continue;
		}
		if (*noperands == spec->max_operands) {
			if (spec->operands_what != NULL)
				return kiln_error_set(KILN_EINVAL, "'kiln %s' takes %s, not '%s'",
				                      spec->command, spec->operands_what, a);
			return kiln_error_set(
			    KILN_EINVAL,
			    "unexpected argument '%s' for 'kiln %s'; see 'kiln %s "
			    "--help'",
			    a, spec->command, spec->command);
		}
		spec->operands[(*noperands)++] = a;
	}
	return 0;
}

int cli_parse(struct kiln_cli *cli, const struct cli_spec *spec, int argc, char **argv, int first,
              size_t *noperands)
{
	int r = cli_args_parse(cli, spec, argc, argv, first, noperands);

	if (r == 1)
		fputs(spec->usage, stdout);
	if (r < 0)
		return cli_usage_error("%s", kiln_error_last());
	return r;
}

int cli_int(int *out, const char *option, const char *value, int min, int max)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(value, &end, 10);
	if (end == value || *end != '\0' || errno != 0 || n < min || n > max) {
		cli_usage_error("%s: expected a number from %d to %d, got '%s'", option, min, max,
		                value);
		return -1;
	}
	*out = (int)n;
	return 0;
}

int cli_seconds(double *out, const char *option, const char *value)
{
	char *end;

	*out = strtod(value, &end);
	if (end == value || *end != '\0' || !(*out >= 0 && *out <= 86400)) {
		cli_usage_error("%s: seconds from 0 to 86400, got '%s'", option, value);
		return -1;
	}
	return 0;
}
