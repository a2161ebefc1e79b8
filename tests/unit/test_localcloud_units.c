/*
 * systemd units in the local cloud's init: the unit file syntax and the
 * settings honoured (tables of units, words, specifiers, time spans,
 * environment files and $VAR expansion, each against what systemd does),
 * hostile units (control bytes, NUL, unbalanced quotes, FIFOs, symlinks out
 * of the root, random bytes) refused with escaped messages and never a
 * crash, finding enabled units and their drop-ins in an image's root, the
 * image's accounts and systemd's Restart= table. Running services is
 * tested by test_localcloud_services.c.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/util.h"
#include "localcloud/init-int.h"
#include "localcloud/units-int.h"

static char dir[] = "/tmp/kiln-units-XXXXXX";
static const struct lc_unit_ctx ctx = {"ip-10-0-0-5.ec2.internal"};

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	kiln_rm_rf(dir);
	strcpy(dir, "/tmp/kiln-units-XXXXXX");
}

/* Write `text` at dir/`rel`, creating directories. */
static void put(const char *rel, const char *text)
{
	char *path = kiln_xasprintf("%s/%s", dir, rel), *parent = kiln_path_dirname(path);

	ck_assert_int_eq(kiln_mkdir_p(parent, 0755), 0);
	ck_assert_int_eq(kiln_file_write_atomic(path, text, strlen(text), 0644), 0);
	free(path);
	free(parent);
}

static void link_at(const char *target, const char *rel)
{
	char *path = kiln_xasprintf("%s/%s", dir, rel), *parent = kiln_path_dirname(path);

	ck_assert_int_eq(kiln_mkdir_p(parent, 0755), 0);
	ck_assert_int_eq(symlink(target, path), 0);
	free(path);
	free(parent);
}

static int parse(struct lc_unit *u, const char *text)
{
	lc_unit_init(u, "web.service");
	return lc_unit_parse(u, "/etc/systemd/system/web.service", text, strlen(text), &ctx);
}

/* No raw control byte (a tab excepted) may reach a message: they go to the console. */
static void assert_printable(const char *msg)
{
	for (const char *p = msg; *p; p++)
		ck_assert_msg(((unsigned char)*p >= 0x20 || *p == '\t') && *p != 0x7f,
		              "raw byte 0x%02x in '%s'", (unsigned char)*p, msg);
}

static char *joined(const struct lc_strv *sv)
{
	struct kiln_buf b = KILN_BUF_INIT;

	for (size_t i = 0; i < sv->n; i++)
		kiln_buf_printf(&b, "%s%s", i ? "|" : "", sv->v[i]);
	return kiln_buf_detach(&b);
}

/* Units that parse, with the fields they set. */
START_TEST(unit_settings)
{
	struct lc_unit u;
	char *s;

	ck_assert_int_eq(parse(&u,
	                       "# comment\n; another\n[Unit]\nDescription=Web\n"
	                       "StartLimitIntervalSec=30s\nStartLimitBurst=3\n"
	                       "[Service]\nType=forking\n"
	                       "ExecStart=/usr/bin/web --title \"a b\" 'c d' e\\x41 %n %i %H\n"
	                       "ExecStartPre=-/bin/true ; /bin/echo \\; x\n"
	                       "Environment=A=1 \"B=two words\"\nEnvironment=C=%N\n"
	                       "EnvironmentFile=-/etc/default/web\nEnvironmentFile=/etc/web.env\n"
	                       "WorkingDirectory=~\nUser=www-data\nGroup=1000\n"
	                       "PIDFile=web.pid\nRestart=on-failure\nRestartSec=2\n"
	                       "TimeoutSec=5min\nKillMode=process\n"
	                       "RuntimeDirectory=web web/sub\nRuntimeDirectoryMode=0750\n"
	                       "[Install]\nWantedBy=multi-user.target\n"),
	                 0);
	ck_assert_int_eq(lc_unit_check(&u), 0);
	ck_assert_int_eq(u.type, LC_UNIT_FORKING);
	ck_assert_uint_eq(u.start.n, 1);
	ck_assert_str_eq(u.start.v[0].path, "/usr/bin/web");
	s = joined(&u.start.v[0].argv);
	ck_assert_str_eq(s,
	                 "/usr/bin/web|--title|a b|c d|eA|web.service||ip-10-0-0-5.ec2.internal");
	free(s);
	ck_assert_uint_eq(u.start_pre.n, 2);
	ck_assert_uint_eq(u.start_pre.v[0].flags, LC_EXEC_IGNORE_FAILURE);
	s = joined(&u.start_pre.v[1].argv);
	ck_assert_str_eq(s, "/bin/echo|;|x");
	free(s);
	s = joined(&u.env);
	ck_assert_str_eq(s, "A=1|B=two words|C=web");
	free(s);
	ck_assert_uint_eq(u.nenv_files, 2);
	ck_assert(u.env_files[0].optional && !u.env_files[1].optional);
	ck_assert_str_eq(u.env_files[0].path, "/etc/default/web");
	ck_assert_str_eq(u.workdir, "~");
	ck_assert_str_eq(u.user, "www-data");
	ck_assert_str_eq(u.group, "1000");
	ck_assert_str_eq(u.pidfile, "/run/web.pid");
	ck_assert_int_eq(u.restart, LC_RESTART_ON_FAILURE);
	ck_assert_uint_eq(u.restart_usec, 2000000);
	ck_assert_uint_eq(u.timeout_start_usec, 300000000);
	ck_assert_uint_eq(u.timeout_stop_usec, 300000000);
	ck_assert_uint_eq(u.start_limit_interval_usec, 30000000);
	ck_assert_uint_eq(u.start_limit_burst, 3);
	ck_assert_int_eq(u.kill_mode, LC_KILL_PROCESS);
	s = joined(&u.runtime_dirs);
	ck_assert_str_eq(s, "web|web/sub");
	free(s);
	ck_assert_uint_eq(u.runtime_mode, 0750);
	lc_unit_release(&u);
}
END_TEST

/* systemd's defaults, continuation lines, CRLF, resets by empty assignments, drop-in order. */
START_TEST(unit_syntax)
{
	struct lc_unit u;
	char *s;

	ck_assert_int_eq(parse(&u, "\xef\xbb\xbf[Service]\r\nExecStart=/bin/sh -c \\\r\n"
	                           "# a comment inside the continuation\r\n"
	                           "  \"echo one; \\\n"
	                           "echo two\"\r\nEnvironment=A=1\nEnvironment=\nEnvironment=B=2\n"
	                           "X-Custom=ignored\n[X-Section]\nExecStart=/ignored\n"
	                           "[Unknown]\nExecStart=/also/ignored\n"),
	                 0);
	ck_assert_int_eq(lc_unit_check(&u), 0);
	ck_assert_int_eq(u.type, LC_UNIT_SIMPLE);
	s = joined(&u.start.v[0].argv);
	ck_assert_str_eq(s, "/bin/sh|-c|echo one;  echo two");
	free(s);
	s = joined(&u.env);
	ck_assert_str_eq(s, "B=2");
	free(s);
	ck_assert_int_eq(u.restart, LC_RESTART_NO);
	ck_assert_uint_eq(u.restart_usec, 100000);
	ck_assert_uint_eq(u.timeout_start_usec, 90000000);
	ck_assert_uint_eq(u.start_limit_interval_usec, 10000000);
	ck_assert_uint_eq(u.start_limit_burst, 5);
	ck_assert_ptr_null(u.user);
	/* A drop-in: ExecStart= empties the list before the new command; Type=exec. */
	{
		static const char drop_in[] =
		    "[Service]\nType=exec\nExecStart=\nExecStart=/bin/b\nUser=nobody\n";
		ck_assert_int_eq(
		    lc_unit_parse(&u, "drop-in.conf", drop_in, sizeof(drop_in) - 1, &ctx), 0);
	}
	ck_assert_uint_eq(u.start.n, 1);
	ck_assert_str_eq(u.start.v[0].path, "/bin/b");
	ck_assert_str_eq(u.user, "nobody");
	ck_assert_int_eq(u.type, LC_UNIT_EXEC);
	lc_unit_release(&u);
}
END_TEST

struct refusal {
	const char *text;
	const char *why; /* part of the message */
	int at_check;    /* parses, then lc_unit_check() refuses */
};

static const struct refusal refusals[] = {
    {"[Service]\nExecStart=/bin/x \"unbalanced\n", "unbalanced quotes", 0},
    {"[Service]\nExecStart=relative/path\n", "not an absolute path", 0},
    {"[Service]\nExecStart=/bin/x %Z\n", "specifier '%Z' is not supported", 0},
    {"[Service]\nExecStart=/bin/x %\n", "specifier '%' is not supported", 0},
    {"[Service]\nExecStart=/bin/x\x1b]0;pwned\x07\n", "control bytes", 0},
    {"[Service]\nExecStart=/bin/x \xff\xfe\n", "control bytes or invalid UTF-8", 0},
    {"[Service]\nExecStart=!/bin/x\n", "'!' prefix", 0},
    {"[Service]\nExecStart=@/bin/x\n", "'@' needs the argv[0]", 0},
    {"[Service]\nEnvironment=1A=x\n", "not a valid NAME=value", 0},
    {"[Service]\nEnvironment=NOEQUALS\n", "not a valid NAME=value", 0},
    {"[Service]\nEnvironmentFile=etc/relative\n", "not an absolute path", 0},
    {"[Service]\nWorkingDirectory=/a/../../etc\n", "not an absolute path", 0},
    {"[Service]\nUser=root;rm\n", "not a valid user", 0},
    {"[Service]\nUser=-x\n", "not a valid user", 0},
    {"[Service]\nType=weird\n", "unknown type", 0},
    {"[Service]\nRestart=sometimes\n", "unknown restart policy", 0},
    {"[Service]\nRestartSec=soon\n", "not a time span", 0},
    {"[Service]\nRestartSec=5 parsecs\n", "not a time span", 0},
    {"[Service]\nRestartSec=99999999999999999999\n", "not a time span", 0},
    {"[Service]\nStartLimitBurst=-1\n", "not a count", 0},
    {"[Service]\nKillMode=all\n", "unknown kill mode", 0},
    {"[Service]\nRuntimeDirectory=../etc\n", "not a relative path", 0},
    {"[Service]\nRuntimeDirectory=/abs\n", "not a relative path", 0},
    {"[Service]\nRuntimeDirectoryMode=rwx\n", "not an octal mode", 0},
    {"[Service\nExecStart=/bin/x\n", "not a section header", 0},
    {"[Service]\nExecStart /bin/x\n", "missing '='", 0},
    {"[Service]\nExecStart=/bin/x\n\0[Service]\n", "NUL byte", 0},
    {"[Service]\nType=oneshot\nExecStart=/bin/x\n", "Type=oneshot is not supported", 1},
    {"[Service]\nType=notify\nExecStart=/bin/x\n", "Type=notify is not supported", 1},
    {"[Service]\nUser=nobody\n", "no ExecStart=", 1},
    {"[Service]\nExecStart=/bin/a ; /bin/b\n", "more than one ExecStart=", 1},
};

START_TEST(hostile_units_are_refused)
{
	const struct refusal *r = &refusals[_i];
	size_t len = strlen(r->text);
	struct lc_unit u;
	int error;

	/* The NUL case: its text goes on past the NUL. */
	if (strstr(r->why, "NUL") != NULL)
		len += 1 + strlen(r->text + len + 1);
	lc_unit_init(&u, "web.service");
	error = lc_unit_parse(&u, "/etc/systemd/system/web\x1b.service", r->text, len, &ctx);
	if (r->at_check) {
		ck_assert_msg(error == 0, "%s", kiln_error_last());
		error = lc_unit_check(&u);
	}
	ck_assert_int_eq(error, KILN_EINVAL);
	ck_assert_msg(strstr(kiln_error_last(), r->why) != NULL, "'%s', want '%s'",
	              kiln_error_last(), r->why);
	assert_printable(kiln_error_last());
	lc_unit_release(&u);
}
END_TEST

/* Random bytes and mutated units: refused or accepted, never a crash, never a raw byte out. */
START_TEST(random_units_never_crash)
{
	static const char base[] = "[Unit]\nStartLimitBurst=3\n[Service]\nType=forking\n"
	                           "ExecStart=/bin/sh -c \"echo ${A} $B\" 'x' \\x41 %n\n"
	                           "Environment=A=1 B=2\nEnvironmentFile=-/etc/x\nUser=nobody\n"
	                           "RestartSec=1min 5s\nRuntimeDirectory=a b\n";
	unsigned seed = 12345;
	char buf[512];

	for (int round = 0; round < 3000; round++) {
		size_t len = sizeof(base) - 1;
		struct lc_unit u;
		memcpy(buf, base, len);
		for (int m = 0; m < 1 + round % 8; m++) {
			seed = seed * 1103515245u + 12345u;
			buf[(seed >> 8) % len] = (char)(seed >> 16);
		}
		if (round % 3 == 0) {
			len = (seed >> 4) % sizeof(buf);
			for (size_t i = 0; i < len; i++) {
				seed = seed * 1103515245u + 12345u;
				buf[i] = (char)(seed >> 16);
			}
		}
		lc_unit_init(&u, "fuzz.service");
		if (lc_unit_parse(&u, "fuzz", buf, len, &ctx) < 0 || lc_unit_check(&u) < 0)
			assert_printable(kiln_error_last());
		lc_unit_release(&u);
		kiln_error_clear();
	}
}
END_TEST

struct words_case {
	const char *in;
	unsigned flags;
	const char *out; /* words joined by '|', NULL for an error */
};

static const struct words_case words_cases[] = {
    {"a b  c", LC_WORD_CUNESCAPE, "a|b|c"},
    {"  'single quoted' \"double quoted\"", LC_WORD_CUNESCAPE, "single quoted|double quoted"},
    {"mid\"dle quo\"tes", LC_WORD_CUNESCAPE, "middle quotes"},
    {"\"esc \\\" q\" 'it\\'s'", LC_WORD_CUNESCAPE, "esc \" q|it's"},
    {"\\x41\\102\\u00e9\\t.", LC_WORD_CUNESCAPE, "AB\xc3\xa9\t."},
    {"\\x00 \\q \\", LC_WORD_CUNESCAPE, "\\x00|\\q|\\"},
    {"a\\ b", LC_WORD_CUNESCAPE, "a\\ b"},
    {"\"open", LC_WORD_CUNESCAPE, NULL},
    {"'open", LC_WORD_RELAX, "open"},
    {"a\\nb", 0, "anb"},
    {"", LC_WORD_CUNESCAPE, ""},
};

START_TEST(words)
{
	const struct words_case *c = &words_cases[_i];
	struct lc_strv got = {NULL, 0};
	const char *p = c->in;
	char *w, *s;
	int r;

	while ((r = lc_word_next(&w, &p, c->flags)) > 0)
		lc_strv_push(&got, w);
	if (c->out == NULL) {
		ck_assert_int_eq(r, KILN_EINVAL);
	} else {
		ck_assert_int_eq(r, 0);
		s = joined(&got);
		ck_assert_str_eq(s, c->out);
		free(s);
	}
	lc_strv_release(&got);
}
END_TEST

START_TEST(specifiers)
{
	static const struct {
		const char *name, *in, *out;
	} cases[] = {
	    {"web.service", "%n %N %p %i %%", "web.service web web  %"},
	    {"getty@tty1.service", "%n %N %p %i", "getty@tty1.service getty@tty1 getty tty1"},
	    {"web.service", "%H %l", "ip-10-0-0-5.ec2.internal ip-10-0-0-5"},
	    {"web.service", "%h %u %U %g %G", "/root root 0 root 0"},
	    {"web.service", "%t %S %C %L %E %T %V",
	     "/run /var/lib /var/cache /var/log /etc /tmp /var/tmp"},
	};
	for (size_t i = 0; i < KILN_ARRAY_SIZE(cases); i++) {
		struct lc_unit u;
		char *out = NULL;
		lc_unit_init(&u, cases[i].name);
		ck_assert_int_eq(lc_specifiers(&out, cases[i].in, &u, &ctx), 0);
		ck_assert_str_eq(out, cases[i].out);
		free(out);
		lc_unit_release(&u);
	}
}
END_TEST

START_TEST(timespans)
{
	static const struct {
		const char *in;
		uint64_t usec; /* 0 with bad: refused */
		int bad;
	} cases[] = {
	    {"90", 90000000, 0},
	    {"5s", 5000000, 0},
	    {"100ms", 100000, 0},
	    {"1min 30s", 90000000, 0},
	    {"1h5min", 3900000000, 0},
	    {"1.5s", 1500000, 0},
	    {"0", 0, 0},
	    {"2 weeks", 1209600000000, 0},
	    {"infinity", UINT64_MAX, 0},
	    {"", 0, 1},
	    {"s", 0, 1},
	    {"5 parsecs", 0, 1},
	    {"-5", 0, 1},
	    {"1e9", 0, 1},
	    {"99999999999999w", 0, 1},
	};
	for (size_t i = 0; i < KILN_ARRAY_SIZE(cases); i++) {
		uint64_t v = 0;
		int r = lc_timespan_parse(&v, cases[i].in);
		ck_assert_msg((r < 0) == cases[i].bad, "'%s': %d", cases[i].in, r);
		if (!cases[i].bad)
			ck_assert_msg(v == cases[i].usec, "'%s': %llu", cases[i].in,
			              (unsigned long long)v);
	}
}
END_TEST

struct env_case {
	const char *text;
	const char *env; /* joined by '|', NULL: refused */
};

static const struct env_case env_cases[] = {
    {"A=1\nB = two \n# C=3\n; D=4\n", "A=1|B=two"},
    {"A='single $x \\n'\nB=\"dq \\\" \\$ \\n\"\n", "A=single $x \\n|B=dq \" $ \\n"},
    {"A=a\\\nb\nB=x\\ y  \n", "A=ab|B=x y"},
    {"A=\"multi\nline\"\n", "A=multi\nline"},
    {"A=1\nA=2\n", "A=2"},
    {"export A=1\n1B=2\nC-D=3\nE=ok\n", "E=ok"},
    {"A=\x1b[2J\nB=fine\n", "B=fine"},
    {"A=1\r\nB=2\r\n", "A=1|B=2"},
    {"A=a \"b\"\n", "A=a \"b\""},
    {"NOVALUE\nE=\n", "E="},
    {"A=\xff\n", NULL},
    {"A=1\n\0B=2\n", NULL},
};

START_TEST(environment_files)
{
	const struct env_case *c = &env_cases[_i];
	struct lc_strv env = {NULL, 0};
	size_t len = strlen(c->text);
	int r;

	if (c->env == NULL && strstr(c->text, "A=1\n") == c->text)
		len += 1 + strlen(c->text + len + 1);
	r = lc_env_file_parse(&env, "/etc/default/web", c->text, len);
	if (c->env == NULL) {
		ck_assert_int_eq(r, KILN_EINVAL);
		assert_printable(kiln_error_last());
	} else {
		char *s;
		ck_assert_msg(r == 0, "%s", kiln_error_last());
		s = joined(&env);
		ck_assert_str_eq(s, c->env);
		free(s);
	}
	lc_strv_release(&env);
}
END_TEST

START_TEST(expansion)
{
	static const struct {
		const char *line;
		const char *out;
	} cases[] = {
	    {"/bin/x $OPTS", "/bin/x|-a|b c|-d"},
	    {"/bin/x ${OPTS}", "/bin/x|-a 'b c' -d"},
	    {"/bin/x $UNSET end", "/bin/x|end"},
	    {"/bin/x pre${ONE}post $$ONE", "/bin/x|pre1post|$ONE"},
	    {"/bin/x ${UNSET:-dflt} ${ONE:-dflt} ${ONE:+alt} ${UNSET:+alt}", "/bin/x|dflt|1|alt|"},
	    {"/bin/x ${OPEN", "/bin/x|${OPEN"},
	    {":/bin/x $ONE ${ONE}", "/bin/x|$ONE|${ONE}"},
	    {"@/bin/x argv0 $ONE", "argv0|1"},
	};
	struct lc_strv env = {NULL, 0};

	lc_env_set(&env, "OPTS=-a 'b c' -d");
	lc_env_set(&env, "ONE=1");
	for (size_t i = 0; i < KILN_ARRAY_SIZE(cases); i++) {
		struct lc_unit u;
		struct lc_strv out = {NULL, 0};
		char *text = kiln_xasprintf("[Service]\nExecStart=%s\n", cases[i].line), *s;
		ck_assert_int_eq(parse(&u, text), 0);
		ck_assert_int_eq(lc_exec_expand(&out, &u.start.v[0], &env, 4096), 0);
		s = joined(&out);
		ck_assert_msg(strcmp(s, cases[i].out) == 0, "%s: got '%s'", cases[i].line, s);
		free(s);
		free(text);
		lc_strv_release(&out);
		lc_unit_release(&u);
	}
	/* A value that multiplies past the cap is refused. */
	{
		struct lc_unit u;
		struct lc_strv out = {NULL, 0};
		ck_assert_int_eq(parse(&u, "[Service]\nExecStart=/bin/x $OPTS $OPTS $OPTS\n"), 0);
		ck_assert_int_eq(lc_exec_expand(&out, &u.start.v[0], &env, 20), KILN_ETOOBIG);
		lc_strv_release(&out);
		lc_unit_release(&u);
	}
	lc_strv_release(&env);
}
END_TEST

START_TEST(unit_names)
{
	static const char *const good[] = {"web.service", "a-b_c.d:e\\x2d.service",
	                                   "getty@tty1.service", "t@.service"};
	static const char *const bad[] = {"web",         "web.timer",    ".service",
	                                  "a/b.service", "@x.service",   "a@b@c.service",
	                                  "a b.service", "\x1b.service", ""};

	for (size_t i = 0; i < KILN_ARRAY_SIZE(good); i++)
		ck_assert_msg(lc_unit_name_valid(good[i]), "%s", good[i]);
	for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++)
		ck_assert_msg(!lc_unit_name_valid(bad[i]), "%s", bad[i]);
}
END_TEST

static const char web_unit[] = "[Service]\nExecStart=/bin/web\nUser=www\n";

/* An image root as systemctl enable leaves it: links with absolute targets. */
START_TEST(enabled_units_in_a_root)
{
	struct lc_strv names = {NULL, 0}, skipped = {NULL, 0};
	struct lc_unit *u = NULL;
	char *s;

	put("lib/systemd/system/web.service", web_unit);
	put("usr/lib/systemd/system/worker@.service", "[Service]\nExecStart=/bin/worker %i\n");
	put("etc/systemd/system/local.service", "[Service]\nExecStart=/bin/local\n");
	put("lib/systemd/system/masked.service", web_unit);
	put("lib/systemd/system/empty.service", "");
	link_at("/lib/systemd/system/web.service",
	        "etc/systemd/system/multi-user.target.wants/web.service");
	link_at("/usr/lib/systemd/system/worker@.service",
	        "etc/systemd/system/multi-user.target.wants/worker@2.service");
	link_at("../local.service", "etc/systemd/system/default.target.wants/local.service");
	link_at("/lib/systemd/system/web.service",
	        "etc/systemd/system/graphical.target.wants/web.service");
	link_at("/dev/null", "etc/systemd/system/masked.service");
	link_at("/lib/systemd/system/masked.service",
	        "etc/systemd/system/multi-user.target.wants/masked.service");
	link_at("/lib/systemd/system/empty.service",
	        "etc/systemd/system/multi-user.target.wants/empty.service");
	link_at("/lib/systemd/system/x.timer", "etc/systemd/system/timers.target.wants/x.timer");
	link_at("/x", "etc/systemd/system/multi-user.target.wants/bad\x1bname.service");
	link_at("/x", "etc/systemd/system/multi-user.target.wants/t@.service");
	link_at("/x", "etc/systemd/system/not-a-target.wants/ignored.service");
	/* A drop-in in /etc overrides the vendor one of the same name; both are read in name order.
	 */
	put("lib/systemd/system/web.service.d/10-env.conf",
	    "[Service]\nEnvironment=A=vendor B=vendor\n");
	put("etc/systemd/system/web.service.d/10-env.conf", "[Service]\nEnvironment=A=admin\n");
	put("lib/systemd/system/web.service.d/20-user.conf", "[Service]\nUser=nobody\n");
	put("etc/systemd/system/web.service.d/ignored.txt", "[Service]\nUser=ignored\n");

	ck_assert_int_eq(lc_units_enabled(&names, &skipped, dir), 0);
	s = joined(&names);
	ck_assert_str_eq(s,
	                 "empty.service|local.service|masked.service|web.service|worker@2.service");
	free(s);
	s = joined(&skipped);
	ck_assert_str_eq(s, "bad\\x1bname.service|t@.service|x.timer");
	free(s);

	ck_assert_int_eq(lc_unit_load(&u, dir, "web.service", &ctx), 0);
	ck_assert_str_eq(u->path, "/lib/systemd/system/web.service");
	s = joined(&u->env);
	ck_assert_str_eq(s, "A=admin");
	free(s);
	ck_assert_str_eq(u->user, "nobody");
	lc_unit_free(u);
	ck_assert_int_eq(lc_unit_load(&u, dir, "worker@2.service", &ctx), 0);
	s = joined(&u->start.v[0].argv);
	ck_assert_str_eq(s, "/bin/worker|2");
	free(s);
	lc_unit_free(u);
	ck_assert_int_eq(lc_unit_load(&u, dir, "local.service", &ctx), 0);
	lc_unit_free(u);
	ck_assert_int_eq(lc_unit_load(&u, dir, "masked.service", &ctx), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "masked"));
	ck_assert_int_eq(lc_unit_load(&u, dir, "empty.service", &ctx), KILN_EINVAL);
	ck_assert_int_eq(lc_unit_load(&u, dir, "missing.service", &ctx), KILN_ENOTFOUND);
	ck_assert_ptr_null(u);
	lc_strv_release(&names);
	lc_strv_release(&skipped);
}
END_TEST

/* FIFOs, devices and links out of the root: refused at once, never followed outside. */
START_TEST(hostile_files_in_a_root)
{
	struct kiln_buf b = KILN_BUF_INIT;
	struct lc_unit *u = NULL;
	char *fifo = kiln_xasprintf("%s/etc/systemd/system/fifo.service", dir);
	char *outside = kiln_xasprintf("%s-outside.service", dir);
	int fd;

	put("etc/systemd/system/README", "x");
	ck_assert_int_eq(mkfifo(fifo, 0644), 0);
	alarm(10); /* a FIFO opened for reading would block: the test would time out */
	ck_assert_int_eq(lc_unit_load(&u, dir, "fifo.service", &ctx), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "not a regular file"));
	alarm(0);
	/* A file outside the root, reached by ".." and by an absolute link: not found. */
	fd = open(outside, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, web_unit, strlen(web_unit)), (ssize_t)strlen(web_unit));
	close(fd);
	link_at("../../../../../../../../../../../../../../../../tmp", "etc/systemd/system/up");
	link_at(outside, "etc/systemd/system/abs.service");
	{
		char *via = kiln_xasprintf("/etc/systemd/system/up/%s", strrchr(outside, '/') + 1);
		ck_assert_int_eq(lc_root_read(&b, "/", outside, 1024),
		                 0); /* it is there, outside */
		kiln_buf_clear(&b);
		ck_assert_int_eq(lc_root_read(&b, dir, via, 1024), KILN_ENOTFOUND);
		free(via);
	}
	ck_assert_int_eq(lc_unit_load(&u, dir, "abs.service", &ctx), KILN_ENOTFOUND);
	ck_assert_int_eq(lc_root_read(&b, "/", "/dev/zero", 1024), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "not a regular file"));
	/* Larger than the cap: refused, not truncated. */
	put("etc/big", "0123456789");
	ck_assert_int_eq(lc_root_read(&b, dir, "/etc/big", 9), KILN_ETOOBIG);
	/* A unit and its drop-ins share one budget (512 KiB). */
	{
		struct kiln_buf text = KILN_BUF_INIT;
		kiln_buf_puts(&text, "[Service]\nExecStart=/bin/x\n");
		while (text.size < 200 << 10)
			kiln_buf_puts(&text, "# padding padding padding padding padding padding\n");
		put("etc/systemd/system/fat.service", text.ptr);
		memcpy(text.ptr, "[Service]\nUser=nobody\n#####", 27);
		put("etc/systemd/system/fat.service.d/a.conf", text.ptr);
		ck_assert_int_eq(lc_unit_load(&u, dir, "fat.service", &ctx), 0);
		lc_unit_free(u);
		u = NULL;
		put("etc/systemd/system/fat.service.d/b.conf", text.ptr);
		ck_assert_int_eq(lc_unit_load(&u, dir, "fat.service", &ctx), KILN_ETOOBIG);
		kiln_buf_release(&text);
	}
	/* At most 1,024 wants entries are taken. */
	{
		struct lc_strv names = {NULL, 0}, skipped = {NULL, 0};
		for (int i = 0; i < 1100; i++) {
			char *rel = kiln_xasprintf(
			    "etc/systemd/system/multi-user.target.wants/u%d.service", i);
			link_at("/x", rel);
			free(rel);
		}
		ck_assert_int_eq(lc_units_enabled(&names, &skipped, dir), 0);
		ck_assert_uint_eq(names.n + skipped.n, 1024);
		lc_strv_release(&names);
		lc_strv_release(&skipped);
	}
	ck_assert_ptr_null(u);
	unlink(outside);
	kiln_buf_release(&b);
	free(fifo);
	free(outside);
}
END_TEST

START_TEST(accounts)
{
	struct lc_account a;
	gid_t gid = 0;

	put("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
	                  "short:x:5\n"
	                  "bad:x:abc:1:bad:/:/bin/sh\n"
	                  "www:x:33:33:www:/var/www:/usr/sbin/nologin\n"
	                  "nohome:x:40:40::relative:\n");
	put("etc/group",
	    "root:x:0:\nwww:x:33:\nlogs:x:4:www,other\nadm:x:5:other\nweird:x:q:www\n");
	ck_assert_int_eq(lc_account_lookup(&a, dir, "www"), 0);
	ck_assert_uint_eq(a.uid, 33);
	ck_assert_uint_eq(a.gid, 33);
	ck_assert_str_eq(a.home, "/var/www");
	ck_assert_str_eq(a.shell, "/usr/sbin/nologin");
	ck_assert_uint_eq(a.ngroups, 2);
	ck_assert_uint_eq(a.groups[0], 33);
	ck_assert_uint_eq(a.groups[1], 4);
	lc_account_release(&a);
	ck_assert_int_eq(lc_account_lookup(&a, dir, "33"), 0);
	ck_assert_str_eq(a.name, "www");
	lc_account_release(&a);
	ck_assert_int_eq(lc_account_lookup(&a, dir, "nohome"), 0);
	ck_assert_str_eq(a.home, "/");
	ck_assert_str_eq(a.shell, "/bin/sh");
	lc_account_release(&a);
	/* A number /etc/passwd does not know runs as that uid and gid. */
	ck_assert_int_eq(lc_account_lookup(&a, dir, "4242"), 0);
	ck_assert_uint_eq(a.uid, 4242);
	ck_assert_uint_eq(a.gid, 4242);
	lc_account_release(&a);
	ck_assert_int_eq(lc_account_lookup(&a, dir, "bad"), KILN_ENOTFOUND);
	ck_assert_int_eq(lc_account_lookup(&a, dir, "short"), KILN_ENOTFOUND);
	ck_assert_int_eq(lc_account_lookup(&a, dir, "nobody\x1b"), KILN_ENOTFOUND);
	assert_printable(kiln_error_last());
	ck_assert_int_eq(lc_group_lookup(&gid, dir, "logs"), 0);
	ck_assert_uint_eq(gid, 4);
	ck_assert_int_eq(lc_group_lookup(&gid, dir, "77"), 0);
	ck_assert_uint_eq(gid, 77);
	ck_assert_int_eq(lc_group_lookup(&gid, dir, "weird"), KILN_ENOTFOUND);
}
END_TEST

START_TEST(restart_table)
{
	/* systemd.service(5): rows are how it ended, columns the Restart= values. */
	static const int table[4][7] = {
	    /* no always on-success on-failure on-abnormal on-abort on-watchdog */
	    {0, 1, 1, 0, 0, 0, 0}, /* clean exit code or signal */
	    {0, 1, 0, 1, 0, 0, 0}, /* unclean exit code */
	    {0, 1, 0, 1, 1, 1, 0}, /* unclean signal */
	    {0, 1, 0, 1, 1, 0, 0}, /* timeout */
	};
	for (int r = 0; r < 4; r++)
		for (int p = 0; p < 7; p++)
			ck_assert_msg(lc_service_should_restart((enum lc_unit_restart)p,
			                                        (enum lc_service_result)r) ==
			                  table[r][p],
			              "result %d, policy %d", r, p);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("localcloud_units");
	TCase *tc = tcase_create("units");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unit_settings);
	tcase_add_test(tc, unit_syntax);
	tcase_add_loop_test(tc, hostile_units_are_refused, 0, (int)KILN_ARRAY_SIZE(refusals));
	tcase_add_test(tc, random_units_never_crash);
	tcase_add_loop_test(tc, words, 0, (int)KILN_ARRAY_SIZE(words_cases));
	tcase_add_test(tc, specifiers);
	tcase_add_test(tc, timespans);
	tcase_add_loop_test(tc, environment_files, 0, (int)KILN_ARRAY_SIZE(env_cases));
	tcase_add_test(tc, expansion);
	tcase_add_test(tc, unit_names);
	tcase_add_test(tc, enabled_units_in_a_root);
	tcase_add_test(tc, hostile_files_in_a_root);
	tcase_add_test(tc, accounts);
	tcase_add_test(tc, restart_table);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
