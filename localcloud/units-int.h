/*
 * systemd unit files as the local cloud's init reads them from an image, so
 * that an OS layer that enables its services the systemd way (a unit and a
 * link in /etc/systemd/system/multi-user.target.wants/) serves in the local
 * cloud as it does on EC2.
 *
 * Every byte of a unit comes from an image and is hostile: files are read
 * only if they are regular and small, paths are resolved inside the image's
 * root (absolute symlinks included), and a unit that does not parse, or uses
 * a value of an honoured setting that is not valid, is refused whole with one
 * message ("FILE:LINE: why", the bytes in it escaped) rather than started half
 * understood. Settings this parser does not honour are ignored, as systemd
 * ignores settings it does not know; README.md lists both sets.
 *
 * Nothing here starts a process: localcloud/service.c and services.c do, in
 * the instance's init. A struct lc_unit owns everything it points to.
 */
#ifndef KILN_LOCALCLOUD_UNITS_INT_H
#define KILN_LOCALCLOUD_UNITS_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

/* A NULL-terminated vector of strings it owns. */
struct lc_strv {
	char **v; /* NULL while empty */
	size_t n;
};

void lc_strv_push(struct lc_strv *sv, char *owned);
void lc_strv_release(struct lc_strv *sv);

enum lc_unit_type {
	LC_UNIT_SIMPLE = 0,
	LC_UNIT_EXEC,
	LC_UNIT_FORKING,
	LC_UNIT_UNSUPPORTED, /* oneshot, notify, dbus, idle...: parsed, never started */
};

enum lc_unit_restart {
	LC_RESTART_NO = 0,
	LC_RESTART_ALWAYS,
	LC_RESTART_ON_SUCCESS,
	LC_RESTART_ON_FAILURE,
	LC_RESTART_ON_ABNORMAL,
	LC_RESTART_ON_ABORT,
	LC_RESTART_ON_WATCHDOG,
};

enum lc_unit_kill_mode {
	LC_KILL_CONTROL_GROUP = 0, /* the whole service: its main process and what it started */
	LC_KILL_MIXED,
	LC_KILL_PROCESS, /* the main process alone */
	LC_KILL_NONE,
};

/* Prefixes of a command line: '-', ':', '+', '@'. */
#define LC_EXEC_IGNORE_FAILURE 1u
#define LC_EXEC_NO_ENV         2u
#define LC_EXEC_PRIVILEGED     4u
#define LC_EXEC_ARGV0          8u

/* One command line: unquoted and unescaped, specifiers resolved, variables not yet expanded. */
struct lc_exec {
	char *path;          /* absolute, or a plain name looked up in PATH at start */
	struct lc_strv argv; /* argv[0] first */
	unsigned flags;
};

struct lc_exec_list {
	struct lc_exec *v;
	size_t n;
};

struct lc_env_file {
	char *path;
	int optional; /* '-': a missing file is no error */
};

#define LC_USEC_INFINITY UINT64_MAX

struct lc_unit {
	char *name;     /* "web.service", "worker@1.service" */
	char *path;     /* the fragment it was loaded from, for messages */
	char *type_raw; /* Type= as written, for the message of an unsupported type */
	enum lc_unit_type type;
	struct lc_exec_list start_pre, start, start_post;
	struct lc_strv env; /* "NAME=value" from Environment=, in order */
	struct lc_env_file *env_files;
	size_t nenv_files;
	char *workdir; /* NULL: "/"; "~": the user's home */
	int workdir_optional;
	char *user, *group; /* NULL: root */
	char *pidfile;
	struct lc_strv runtime_dirs; /* relative to /run */
	mode_t runtime_mode;
	enum lc_unit_restart restart;
	enum lc_unit_kill_mode kill_mode;
	uint64_t restart_usec;
	uint64_t timeout_start_usec, timeout_stop_usec; /* LC_USEC_INFINITY: none */
	uint64_t start_limit_interval_usec;             /* 0: no limit */
	unsigned start_limit_burst;
};

/* What specifiers resolve to beyond the unit's own name. */
struct lc_unit_ctx {
	const char *hostname;
};

/* An empty unit named `name` with systemd's defaults. */
void lc_unit_init(struct lc_unit *u, const char *name);
void lc_unit_release(struct lc_unit *u);
void lc_unit_free(struct lc_unit *u);

/*
 * Parse one file of the unit (its fragment, then each drop-in) into `u`:
 * later assignments override or extend earlier ones as in systemd. `file`
 * names the file in messages.
 */
int lc_unit_parse(struct lc_unit *u, const char *file, const char *text, size_t len,
                  const struct lc_unit_ctx *ctx);
/* After every file: can this unit be started (ExecStart= given, one command, ...)? */
int lc_unit_check(const struct lc_unit *u);

/* Is `name` a valid service unit name ("a.service", "a@b.service", "a@.service")? */
int lc_unit_name_valid(const char *name);

/*
 * The services enabled in the image at `root` ("/" in the instance): every
 * "*.service" entry of /etc/systemd/system/<target>.target.wants/, by name,
 * sorted and without duplicates. Entries whose names are not valid unit names
 * are left out, each reported through `skipped` (escaped).
 */
int lc_units_enabled(struct lc_strv *out, struct lc_strv *skipped, const char *root);
/*
 * Load the unit `name` from the image's unit search path (/etc/systemd/system,
 * /run/systemd/system, /usr/local/lib/systemd/system, /usr/lib/systemd/system,
 * /lib/systemd/system; "a@b.service" from "a@.service" when it has no file of
 * its own) with its drop-ins (NAME.d/ *.conf). KILN_ENOTFOUND when it has no
 * file; KILN_EINVAL with the reason when it is masked, does not parse or
 * cannot be started (messages do not repeat the unit's name).
 */
int lc_unit_load(struct lc_unit **out, const char *root, const char *name,
                 const struct lc_unit_ctx *ctx);

/*
 * Read the regular file `path` inside `root`, at most `cap` bytes: FIFOs,
 * devices and directories are refused without blocking, symlinks are
 * followed inside `root`. KILN_ENOTFOUND when it does not exist.
 */
int lc_root_read(struct kiln_buf *out, const char *root, const char *path, size_t cap);

/* Set "NAME=value" in `env`, replacing an earlier NAME. */
void lc_env_set(struct lc_strv *env, const char *assignment);
/* The value of `name` in `env`, or NULL. */
const char *lc_env_get(const struct lc_strv *env, const char *name, size_t len);
/*
 * Parse an EnvironmentFile's text as systemd does (KEY=VALUE lines, '#' and
 * ';' comments, single and double quotes, backslash continuations) into
 * `env`. Assignments whose names are not valid, or whose values hold control
 * bytes or invalid UTF-8, are refused with a message naming the line.
 */
int lc_env_file_parse(struct lc_strv *env, const char *file, const char *text, size_t len);
/*
 * The argument vector of `e` for the environment `env`: "${NAME}" replaced
 * inside words, a word "$NAME" by the value split at whitespace, "$$" by "$"
 * (none of it with the ':' prefix). At most `cap` bytes in all.
 */
int lc_exec_expand(struct lc_strv *out, const struct lc_exec *e, const struct lc_strv *env,
                   size_t cap);

/* Shared by the parser's files (units.c, unitwords.c, unitload.c). */

#define LC_WORD_CUNESCAPE 1u /* decode C escapes (\n, \x41, \u00e9...), as in unit files */
#define LC_WORD_RELAX     2u /* an unbalanced quote ends the word instead of failing */
/*
 * The next whitespace-separated word of *p, quotes removed (anywhere in the
 * word), backslash escapes decoded, as systemd's extract_first_word(): 1 with
 * *out set, 0 at the end of the string, KILN_EINVAL on an unbalanced quote.
 */
int lc_word_next(char **out, const char **p, unsigned flags);
/* `s` with its % specifiers resolved for the unit `u`; KILN_EINVAL for one not supported. */
int lc_specifiers(char **out, const char *s, const struct lc_unit *u,
                  const struct lc_unit_ctx *ctx);
/* A systemd time span ("90", "5s", "1min 30s", "100ms", "infinity") in microseconds. */
int lc_timespan_parse(uint64_t *out, const char *s);
/* A valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)? */
int lc_env_name_valid(const char *s, size_t len);
/* Valid UTF-8 without control bytes, tab excepted (and newline with `newline`)? */
int lc_text_clean(const char *s, size_t len, int newline);

#endif
