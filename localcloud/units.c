/*
 * Unit files: the file syntax (sections, comments, continuation lines) and
 * the settings the local cloud's init honours, one row of a table each.
 * See units-int.h for what a unit guarantees and README.md for the list.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "localcloud/units-int.h"

#define WHITESPACE " \t\n\r"

/* systemd's defaults (DefaultTimeoutStartSec=, DefaultStartLimitBurst=, ...). */
#define DEFAULT_RESTART_USEC     100000ULL
#define DEFAULT_TIMEOUT_USEC     90000000ULL
#define DEFAULT_START_LIMIT_USEC 10000000ULL
#define DEFAULT_START_LIMIT      5
#define MAX_COMMANDS             64

struct parse {
	struct lc_unit *u;
	const struct lc_unit_ctx *ctx;
	const char *file;
	unsigned line;
};

static int bad(const struct parse *ps, const char *key, const char *value, const char *why)
{
	char *k = kiln_escape(key), *v = kiln_escape(value), *f = kiln_escape(ps->file);
	int error = kiln_error_set(KILN_EINVAL, "%s:%u: %s=%s: %s", f, ps->line, k, v, why);

	free(k);
	free(v);
	free(f);
	return error;
}

static int resolve(const struct parse *ps, char **out, const char *key, const char *value)
{
	if (lc_specifiers(out, value, ps->u, ps->ctx) == 0)
		return 0;
	return bad(ps, key, value, kiln_error_last());
}

/* A path an honoured setting may name: absolute, printable, no "..". */
static int path_ok(const char *p)
{
	size_t len = strlen(p);

	return p[0] == '/' && len < PATH_MAX && lc_text_clean(p, len, 0) &&
	       strstr(p, "/../") == NULL && (len < 3 || strcmp(p + len - 3, "/..") != 0);
}

void lc_unit_init(struct lc_unit *u, const char *name)
{
	memset(u, 0, sizeof(*u));
	u->name = kiln_xstrdup(name);
	u->runtime_mode = 0755;
	u->restart_usec = DEFAULT_RESTART_USEC;
	u->timeout_start_usec = DEFAULT_TIMEOUT_USEC;
	u->timeout_stop_usec = DEFAULT_TIMEOUT_USEC;
	u->start_limit_interval_usec = DEFAULT_START_LIMIT_USEC;
	u->start_limit_burst = DEFAULT_START_LIMIT;
}

static void exec_list_release(struct lc_exec_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		lc_strv_release(&l->v[i].argv);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void env_files_release(struct lc_unit *u)
{
	for (size_t i = 0; i < u->nenv_files; i++)
		free(u->env_files[i].path);
	free(u->env_files);
	u->env_files = NULL;
	u->nenv_files = 0;
}

void lc_unit_release(struct lc_unit *u)
{
	if (u == NULL)
		return;
	free(u->name);
	free(u->path);
	free(u->type_raw);
	exec_list_release(&u->start_pre);
	exec_list_release(&u->start);
	exec_list_release(&u->start_post);
	lc_strv_release(&u->env);
	env_files_release(u);
	free(u->workdir);
	free(u->user);
	free(u->group);
	free(u->pidfile);
	lc_strv_release(&u->runtime_dirs);
	memset(u, 0, sizeof(*u));
}

void lc_unit_free(struct lc_unit *u)
{
	lc_unit_release(u);
	free(u);
}

int lc_unit_name_valid(const char *name)
{
	static const char ok[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\";
	size_t len = strlen(name), prefix = strspn(name, ok), suffix = strlen(".service");
	const char *at = strchr(name, '@');

	if (len > 255 || len <= suffix || strcmp(name + len - suffix, ".service") != 0)
		return 0;
	if (at == NULL)
		return prefix == len && name[0] != '.';
	/* "prefix@instance.service": one '@', a prefix, an instance that may be empty. */
	return at > name && prefix == (size_t)(at - name) &&
	       strspn(at + 1, ok) == len - (size_t)(at + 1 - name);
}

/* Settings that take one value: an empty assignment resets them. */

static int set_type(struct parse *ps, const char *key, const char *value)
{
	static const struct {
		const char *name;
		enum lc_unit_type type;
	} types[] = {{"simple", LC_UNIT_SIMPLE},
	             {"exec", LC_UNIT_EXEC},
	             {"forking", LC_UNIT_FORKING},
	             {"oneshot", LC_UNIT_UNSUPPORTED},
	             {"dbus", LC_UNIT_UNSUPPORTED},
	             {"notify", LC_UNIT_UNSUPPORTED},
	             {"notify-reload", LC_UNIT_UNSUPPORTED},
	             {"idle", LC_UNIT_UNSUPPORTED}};

	free(ps->u->type_raw);
	ps->u->type_raw = NULL;
	ps->u->type = LC_UNIT_SIMPLE;
	if (*value == '\0')
		return 0;
	for (size_t i = 0; i < KILN_ARRAY_SIZE(types); i++) {
		if (strcmp(value, types[i].name) == 0) {
			ps->u->type = types[i].type;
			ps->u->type_raw = kiln_xstrdup(value);
			return 0;
		}
	}
	return bad(ps, key, value, "unknown type");
}

/* A setting that names one of `names` (the first one for an empty assignment). */
static int set_choice(struct parse *ps, const char *key, const char *value,
                      const char *const *names, size_t n, int *out, const char *why)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(value, names[i]) == 0 || (*value == '\0' && i == 0)) {
			*out = (int)i;
			return 0;
		}
	}
	return bad(ps, key, value, why);
}

static int set_restart(struct parse *ps, const char *key, const char *value)
{
	static const char *const names[] = {
	    [LC_RESTART_NO] = "no",
	    [LC_RESTART_ALWAYS] = "always",
	    [LC_RESTART_ON_SUCCESS] = "on-success",
	    [LC_RESTART_ON_FAILURE] = "on-failure",
	    [LC_RESTART_ON_ABNORMAL] = "on-abnormal",
	    [LC_RESTART_ON_ABORT] = "on-abort",
	    [LC_RESTART_ON_WATCHDOG] = "on-watchdog",
	};
	int v = 0, error;

	error =
	    set_choice(ps, key, value, names, KILN_ARRAY_SIZE(names), &v, "unknown restart policy");
	ps->u->restart = (enum lc_unit_restart)v;
	return error;
}

static int set_kill_mode(struct parse *ps, const char *key, const char *value)
{
	static const char *const names[] = {
	    [LC_KILL_CONTROL_GROUP] = "control-group",
	    [LC_KILL_MIXED] = "mixed",
	    [LC_KILL_PROCESS] = "process",
	    [LC_KILL_NONE] = "none",
	};
	int v = 0, error;

	error = set_choice(ps, key, value, names, KILN_ARRAY_SIZE(names), &v, "unknown kill mode");
	ps->u->kill_mode = (enum lc_unit_kill_mode)v;
	return error;
}

static int set_timespan(struct parse *ps, const char *key, const char *value, uint64_t *out,
                        uint64_t dflt, int infinity_ok)
{
	uint64_t v;

	if (*value == '\0') {
		*out = dflt;
		return 0;
	}
	if (lc_timespan_parse(&v, value) < 0 || (v == LC_USEC_INFINITY && !infinity_ok))
		return bad(ps, key, value, "not a time span");
	/* systemd: a timeout of 0 means none. */
	*out = infinity_ok && v == 0 ? LC_USEC_INFINITY : v;
	return 0;
}

static int set_restart_sec(struct parse *ps, const char *key, const char *value)
{
	return set_timespan(ps, key, value, &ps->u->restart_usec, DEFAULT_RESTART_USEC, 0);
}

static int set_timeout_start(struct parse *ps, const char *key, const char *value)
{
	return set_timespan(ps, key, value, &ps->u->timeout_start_usec, DEFAULT_TIMEOUT_USEC, 1);
}

static int set_timeout_stop(struct parse *ps, const char *key, const char *value)
{
	return set_timespan(ps, key, value, &ps->u->timeout_stop_usec, DEFAULT_TIMEOUT_USEC, 1);
}

static int set_timeout(struct parse *ps, const char *key, const char *value)
{
	int error = set_timeout_start(ps, key, value);

	return error < 0 ? error : set_timeout_stop(ps, key, value);
}

static int set_start_limit_interval(struct parse *ps, const char *key, const char *value)
{
	int error = set_timespan(ps, key, value, &ps->u->start_limit_interval_usec,
	                         DEFAULT_START_LIMIT_USEC, 1);

	/* 0 (here: none) turns rate limiting off. */
	if (error == 0 && ps->u->start_limit_interval_usec == LC_USEC_INFINITY)
		ps->u->start_limit_interval_usec = 0;
	return error;
}

static int set_start_limit_burst(struct parse *ps, const char *key, const char *value)
{
	char *end;
	unsigned long v;

	if (*value == '\0') {
		ps->u->start_limit_burst = DEFAULT_START_LIMIT;
		return 0;
	}
	errno = 0;
	v = strtoul(value, &end, 10);
	if (!isdigit((unsigned char)*value) || *end != '\0' || errno != 0 || v > 100000)
		return bad(ps, key, value, "not a count");
	ps->u->start_limit_burst = (unsigned)v;
	return 0;
}

static int set_runtime_mode(struct parse *ps, const char *key, const char *value)
{
	char *end;
	unsigned long v;

	if (*value == '\0') {
		ps->u->runtime_mode = 0755;
		return 0;
	}
	v = strtoul(value, &end, 8);
	if (!isdigit((unsigned char)*value) || *end != '\0' || v > 07777)
		return bad(ps, key, value, "not an octal mode");
	ps->u->runtime_mode = (mode_t)v;
	return 0;
}

/* A path setting; '-' first makes it optional where `optional` is given. */
static int set_path(struct parse *ps, const char *key, const char *value, char **out, int *optional,
                    int home_ok)
{
	char *path = NULL;
	int error;

	free(*out);
	*out = NULL;
	if (optional != NULL)
		*optional = 0;
	if (*value == '\0')
		return 0;
	if (optional != NULL && *value == '-') {
		*optional = 1;
		value++;
	}
	if (home_ok && strcmp(value, "~") == 0) {
		*out = kiln_xstrdup("~");
		return 0;
	}
	error = resolve(ps, &path, key, value);
	if (error < 0)
		return error;
	if (!path_ok(path)) {
		error = bad(ps, key, value, "not an absolute path");
		free(path);
		return error;
	}
	*out = path;
	return 0;
}

static int set_workdir(struct parse *ps, const char *key, const char *value)
{
	return set_path(ps, key, value, &ps->u->workdir, &ps->u->workdir_optional, 1);
}

static int set_pidfile(struct parse *ps, const char *key, const char *value)
{
	/* A relative PID file is under /run, as in systemd. */
	char *abs = *value != '\0' && *value != '/' ? kiln_xasprintf("/run/%s", value) : NULL;
	int error = set_path(ps, key, abs ? abs : value, &ps->u->pidfile, NULL, 0);

	free(abs);
	return error;
}

/* A user or group: a name as useradd accepts it, or a number. */
static int set_account(struct parse *ps, const char *key, const char *value, char **out)
{
	char *name = NULL;
	size_t len;
	int error;

	free(*out);
	*out = NULL;
	if (*value == '\0')
		return 0;
	error = resolve(ps, &name, key, value);
	if (error < 0)
		return error;
	len = strlen(name);
	if (len == 0 || len > 32 || name[0] == '-' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
	        len) {
		free(name);
		return bad(ps, key, value, "not a valid user or group name");
	}
	*out = name;
	return 0;
}

static int set_user(struct parse *ps, const char *key, const char *value)
{
	return set_account(ps, key, value, &ps->u->user);
}

static int set_group(struct parse *ps, const char *key, const char *value)
{
	return set_account(ps, key, value, &ps->u->group);
}

/* List settings: each assignment adds, an empty one empties the list. */

static int add_environment(struct parse *ps, const char *key, const char *value)
{
	const char *p = value;
	char *word = NULL, *a = NULL;
	int r, error = 0;

	if (*value == '\0') {
		lc_strv_release(&ps->u->env);
		return 0;
	}
	while (error == 0 && (r = lc_word_next(&word, &p, LC_WORD_CUNESCAPE)) > 0) {
		const char *eq;
		error = resolve(ps, &a, key, word);
		eq = a ? strchr(a, '=') : NULL;
		if (error == 0 && (eq == NULL || !lc_env_name_valid(a, (size_t)(eq - a)) ||
		                   !lc_text_clean(eq + 1, strlen(eq + 1), 1)))
			error = bad(ps, key, word, "not a valid NAME=value assignment");
		if (error == 0)
			lc_env_set(&ps->u->env, a);
		free(word);
		free(a);
		word = a = NULL;
	}
	if (error == 0 && r < 0)
		error = bad(ps, key, value, kiln_error_last());
	return error;
}

static int add_environment_file(struct parse *ps, const char *key, const char *value)
{
	struct lc_env_file f = {NULL, 0};
	struct lc_unit *u = ps->u;
	int error;

	if (*value == '\0') {
		env_files_release(u);
		return 0;
	}
	error = set_path(ps, key, value, &f.path, &f.optional, 0);
	if (error < 0)
		return error;
	u->env_files = kiln_xrealloc(u->env_files, (u->nenv_files + 1) * sizeof(*u->env_files));
	u->env_files[u->nenv_files++] = f;
	return 0;
}

static int add_runtime_directory(struct parse *ps, const char *key, const char *value)
{
	const char *p = value;
	char *word = NULL, *dir = NULL;
	int r, error = 0;

	if (*value == '\0') {
		lc_strv_release(&ps->u->runtime_dirs);
		return 0;
	}
	while (error == 0 && (r = lc_word_next(&word, &p, 0)) > 0) {
		char *abs;
		error = resolve(ps, &dir, key, word);
		abs = error == 0 ? kiln_xasprintf("/%s", dir) : NULL;
		if (error == 0 && (dir[0] == '/' || !path_ok(abs) || strncmp(dir, "../", 3) == 0 ||
		                   strcmp(dir, "..") == 0))
			error = bad(ps, key, word, "not a relative path");
		if (error == 0)
			lc_strv_push(&ps->u->runtime_dirs, dir);
		else
			free(dir);
		free(abs);
		free(word);
		word = dir = NULL;
	}
	if (error == 0 && r < 0)
		error = bad(ps, key, value, kiln_error_last());
	return error;
}

/* The prefixes of a command line's first word: "-", ":", "+", "@" in any order. */
static int exec_prefixes(const char **word, unsigned *flags)
{
	for (;; (*word)++) {
		switch (**word) {
		case '-':
			*flags |= LC_EXEC_IGNORE_FAILURE;
			break;
		case ':':
			*flags |= LC_EXEC_NO_ENV;
			break;
		case '+':
			*flags |= LC_EXEC_PRIVILEGED;
			break;
		case '@':
			*flags |= LC_EXEC_ARGV0;
			break;
		case '!':
			return kiln_error_set(KILN_EINVAL, "the '!' prefix is not supported");
		default:
			return 0;
		}
	}
}

/* One command of an Exec*= line, up to a lone ";" or the end. */
static int parse_command(struct parse *ps, struct lc_exec *e, const char **p, const char *key,
                         const char *value)
{
	char *word = NULL, *arg = NULL;
	const char *first;
	int r, error;

	r = lc_word_next(&word, p, LC_WORD_CUNESCAPE);
	if (r <= 0)
		return r < 0 ? bad(ps, key, value, kiln_error_last()) : 0;
	first = word;
	error = exec_prefixes(&first, &e->flags);
	if (error == 0)
		error = lc_specifiers(&e->path, first, ps->u, ps->ctx);
	if (error < 0) {
		free(word);
		return bad(ps, key, value, kiln_error_last());
	}
	free(word);
	if (!(e->path[0] == '/' ? path_ok(e->path)
	                        : e->path[0] != '\0' && strchr(e->path, '/') == NULL &&
	                              lc_text_clean(e->path, strlen(e->path), 0)))
		return bad(ps, key, value, "the command is not an absolute path or a plain name");
	if (!(e->flags & LC_EXEC_ARGV0))
		lc_strv_push(&e->argv, kiln_xstrdup(e->path));
	for (;;) {
		*p += strspn(*p, WHITESPACE);
		if ((*p)[0] == ';' && ((*p)[1] == '\0' || strchr(WHITESPACE, (*p)[1]) != NULL)) {
			(*p)++;
			break;
		}
		r = lc_word_next(&word, p, LC_WORD_CUNESCAPE);
		if (r < 0)
			return bad(ps, key, value, kiln_error_last());
		if (r == 0)
			break;
		/* "\;" is a literal semicolon (kept as written by the unescaping). */
		if (strcmp(word, "\\;") == 0)
			word[0] = ';', word[1] = '\0';
		error = resolve(ps, &arg, key, word);
		free(word);
		if (error < 0)
			return error;
		lc_strv_push(&e->argv, arg);
	}
	if (e->argv.n == 0)
		return bad(ps, key, value, "'@' needs the argv[0] after the command");
	return 1;
}

static int add_exec(struct parse *ps, const char *key, const char *value, struct lc_exec_list *list)
{
	const char *p = value;
	int r;

	if (*value == '\0') {
		exec_list_release(list);
		return 0;
	}
	for (;;) {
		struct lc_exec e = {NULL, {NULL, 0}, 0};
		r = parse_command(ps, &e, &p, key, value);
		if (r <= 0 || list->n == MAX_COMMANDS) {
			free(e.path);
			lc_strv_release(&e.argv);
			if (r > 0)
				return bad(ps, key, value, "too many commands");
			return r;
		}
		list->v = kiln_xrealloc(list->v, (list->n + 1) * sizeof(*list->v));
		list->v[list->n++] = e;
	}
}

static int add_exec_start(struct parse *ps, const char *key, const char *value)
{
	return add_exec(ps, key, value, &ps->u->start);
}

static int add_exec_start_pre(struct parse *ps, const char *key, const char *value)
{
	return add_exec(ps, key, value, &ps->u->start_pre);
}

static int add_exec_start_post(struct parse *ps, const char *key, const char *value)
{
	return add_exec(ps, key, value, &ps->u->start_post);
}

/* The settings honoured; every other one is ignored, as systemd ignores what it does not know. */
static const struct setting {
	const char *section, *key;
	int (*set)(struct parse *ps, const char *key, const char *value);
} settings[] = {
    {"Unit", "StartLimitIntervalSec", set_start_limit_interval},
    {"Unit", "StartLimitBurst", set_start_limit_burst},
    {"Service", "Type", set_type},
    {"Service", "ExecStart", add_exec_start},
    {"Service", "ExecStartPre", add_exec_start_pre},
    {"Service", "ExecStartPost", add_exec_start_post},
    {"Service", "Environment", add_environment},
    {"Service", "EnvironmentFile", add_environment_file},
    {"Service", "WorkingDirectory", set_workdir},
    {"Service", "User", set_user},
    {"Service", "Group", set_group},
    {"Service", "PIDFile", set_pidfile},
    {"Service", "Restart", set_restart},
    {"Service", "RestartSec", set_restart_sec},
    {"Service", "TimeoutStartSec", set_timeout_start},
    {"Service", "TimeoutStopSec", set_timeout_stop},
    {"Service", "TimeoutSec", set_timeout},
    {"Service", "KillMode", set_kill_mode},
    {"Service", "RuntimeDirectory", add_runtime_directory},
    {"Service", "RuntimeDirectoryMode", set_runtime_mode},
    /* Older names, still read by systemd. */
    {"Service", "StartLimitInterval", set_start_limit_interval},
    {"Service", "StartLimitIntervalSec", set_start_limit_interval},
    {"Service", "StartLimitBurst", set_start_limit_burst},
};

static int assign(struct parse *ps, const char *section, char *line)
{
	char *eq = strchr(line, '='), *key = line, *value;
	size_t klen;

	if (eq == NULL) {
		char *l = kiln_escape(line), *f = kiln_escape(ps->file);
		int error = kiln_error_set(KILN_EINVAL, "%s:%u: '%s': missing '='", f, ps->line, l);
		free(l);
		free(f);
		return error;
	}
	*eq = '\0';
	value = eq + 1 + strspn(eq + 1, WHITESPACE);
	klen = strlen(key);
	while (klen > 0 && strchr(WHITESPACE, key[klen - 1]) != NULL)
		key[--klen] = '\0';
	for (size_t i = 0; section != NULL && i < KILN_ARRAY_SIZE(settings); i++) {
		if (strcmp(settings[i].section, section) == 0 &&
		    strcmp(settings[i].key, key) == 0) {
			/* What an honoured setting holds must be text, not control bytes. */
			if (!lc_text_clean(value, strlen(value), 0))
				return bad(ps, key, value, "control bytes or invalid UTF-8");
			return settings[i].set(ps, key, value);
		}
	}
	return 0;
}

static int section_header(struct parse *ps, char **section, const char *line, size_t len)
{
	if (len < 2 || line[len - 1] != ']' || memchr(line + 1, ']', len - 2) != NULL) {
		char *l = kiln_escape(line), *f = kiln_escape(ps->file);
		int error = kiln_error_set(KILN_EINVAL, "%s:%u: '%s': not a section header", f,
		                           ps->line, l);
		free(l);
		free(f);
		return error;
	}
	free(*section);
	*section = kiln_xstrndup(line + 1, len - 2);
	return 0;
}

/* Does the line end with a backslash that is not itself escaped? */
static int continued(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && s[len - 1 - n] == '\\')
		n++;
	return n % 2 == 1;
}

static int logical_line(struct parse *ps, char **section, struct kiln_buf *logical)
{
	char *l = logical->ptr + strspn(logical->ptr, WHITESPACE);

	kiln_buf_rtrim(logical);
	if (*l == '\0')
		return 0;
	if (*l == '[')
		return section_header(ps, section, l, strlen(l));
	return assign(ps, *section, l);
}

/*
 * The file, line by line: "\n", "\r\n" and "\r" end lines; lines whose first
 * non-blank is '#' or ';' are comments, also inside a continuation; a line
 * ending with a backslash goes on on the next, the backslash replaced by a
 * space. A NUL byte refuses the file.
 */
int lc_unit_parse(struct lc_unit *u, const char *file, const char *text, size_t len,
                  const struct lc_unit_ctx *ctx)
{
	struct parse ps = {u, ctx, file, 0};
	struct kiln_buf logical = KILN_BUF_INIT;
	char *section = NULL;
	size_t i = 0;
	int error = 0;

	if (memchr(text, '\0', len) != NULL) {
		char *f = kiln_escape(file);
		error = kiln_error_set(KILN_EINVAL, "%s: NUL byte in a unit file", f);
		free(f);
		return error;
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && error == 0) {
		size_t end = i, blank;

		while (end < len && text[end] != '\n' && text[end] != '\r')
			end++;
		ps.line++;
		for (blank = i; blank < end && (text[blank] == ' ' || text[blank] == '\t');)
			blank++;
		if (blank < end && (text[blank] == '#' || text[blank] == ';')) {
			/* A comment, also in the middle of a continuation. */
		} else {
			kiln_buf_put(&logical, text + i, end - i);
			if (continued(logical.ptr, logical.size) && end < len) {
				logical.ptr[logical.size - 1] = ' ';
			} else {
				error = logical_line(&ps, &section, &logical);
				kiln_buf_clear(&logical);
			}
		}
		i = end + (end + 1 < len && text[end] == '\r' && text[end + 1] == '\n' ? 2 : 1);
	}
	/* A continuation at the very end of the file. */
	if (error == 0 && logical.size > 0)
		error = logical_line(&ps, &section, &logical);
	kiln_buf_release(&logical);
	free(section);
	return error;
}

int lc_unit_check(const struct lc_unit *u)
{
	if (u->type == LC_UNIT_UNSUPPORTED) {
		char *t = kiln_escape(u->type_raw ? u->type_raw : "?");
		int error = kiln_error_set(KILN_EINVAL, "Type=%s is not supported", t);
		free(t);
		return error;
	}
	if (u->start.n == 0)
		return kiln_error_set(KILN_EINVAL, "no ExecStart=");
	if (u->start.n > 1)
		return kiln_error_set(KILN_EINVAL, "more than one ExecStart= command");
	if (strstr(u->name, "@.service") != NULL)
		return kiln_error_set(KILN_EINVAL, "a template without an instance");
	return 0;
}
