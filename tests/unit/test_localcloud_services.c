/*
 * Services of the local cloud's init, run for real (as root, on this host,
 * with the host's /bin/sh and sleep): a keeper per run with the unit's user,
 * environment and directory; its result as Restart= sees it (clean exit,
 * exit code, signal, timeout, start failures); Type=forking with and without
 * a PID file; what the service leaves behind stopped (or kept with
 * KillMode=process); and init's restarts per Restart= within the start
 * limit. The instance-level path (an image's units in a real instance) is
 * tests/integration/lc_units.py.
 */
#include <check.h>
#include <errno.h>
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

static char dir[] = "/tmp/kiln-services-XXXXXX";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* Services running as nobody write here too. */
	ck_assert_int_eq(chmod(dir, 0777), 0);
}

static void teardown(void)
{
	kiln_rm_rf(dir);
	strcpy(dir, "/tmp/kiln-services-XXXXXX");
}

/* The text with every "@D" replaced by the test's directory. */
static char *with_dir(const char *text)
{
	struct kiln_buf b = KILN_BUF_INIT;

	for (const char *p = text; *p; p++) {
		if (p[0] == '@' && p[1] == 'D') {
			kiln_buf_puts(&b, dir);
			p++;
		} else {
			kiln_buf_putc(&b, *p);
		}
	}
	return kiln_buf_detach(&b);
}

static void put(const char *rel, const char *text)
{
	char *path = kiln_xasprintf("%s/%s", dir, rel), *parent = kiln_path_dirname(path);
	char *body = with_dir(text);

	ck_assert_int_eq(kiln_mkdir_p(parent, 0755), 0);
	ck_assert_int_eq(kiln_file_write_atomic(path, body, strlen(body), 0644), 0);
	free(path);
	free(parent);
	free(body);
}

static char *get(const char *rel)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char *path = kiln_xasprintf("%s/%s", dir, rel);

	if (kiln_file_read(&b, path) < 0)
		kiln_error_clear();
	free(path);
	kiln_buf_rtrim(&b);
	return kiln_buf_detach(&b);
}

static int root_or_skip(void)
{
	if (geteuid() == 0)
		return 1;
	fprintf(stderr, "skipped: services run as other users only for root\n");
	return 0;
}

/* Wait for `pid` (bounded); its exit code, or 128 + signal. */
static int wait_exit(pid_t pid, double seconds)
{
	double deadline = kiln_time_mono() + seconds;
	int st;

	while (kiln_time_mono() < deadline) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		ck_assert_int_eq(w, 0);
		kiln_sleep(0.02, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	ck_abort_msg("keeper %d did not exit within %.0f s", (int)pid, seconds);
	return -1;
}

/* Run the unit once through its keeper; the keeper's exit code (an enum lc_service_result). */
static int run_unit(const char *text, double seconds)
{
	struct lc_unit u;
	char *body = with_dir(text);
	pid_t keeper;
	int code;

	lc_unit_init(&u, "test.service");
	ck_assert_msg(lc_unit_parse(&u, "test.service", body, strlen(body), NULL) == 0, "%s",
	              kiln_error_last());
	ck_assert_msg(lc_unit_check(&u) == 0, "%s", kiln_error_last());
	keeper = lc_service_spawn(&u);
	ck_assert_int_gt(keeper, 0);
	code = wait_exit(keeper, seconds);
	lc_unit_release(&u);
	free(body);
	return code;
}

static int alive(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0;
}

START_TEST(user_environment_and_directory)
{
	struct lc_account nobody;
	char *out, *want;

	if (!root_or_skip())
		return;
	ck_assert_int_eq(lc_account_lookup(&nobody, "/", "nobody"), 0);
	put("env", "FROMFILE=\"from the file\"\n# comment\nGREETING=overridden by nothing\n");
	put("work/.keep", "");
	ck_assert_int_eq(
	    run_unit("[Service]\n"
	             "ExecStart=/bin/sh -c 'echo \"$(id -u):$(id -g):$(pwd):$GREETING:$FROMFILE:"
	             "$HOME:$USER:$1:$2\" > @D/out' argv0 \"first arg\" ${GREETING}\n"
	             "Environment=GREETING=hello \"FROMFILE=from the unit\"\n"
	             "EnvironmentFile=@D/env\nEnvironmentFile=-@D/missing\n"
	             "WorkingDirectory=@D/work\nUser=nobody\nGroup=nogroup\n"
	             "ExecStartPre=+/bin/sh -c 'echo $(id -u):$(id -g) > @D/pre'\n",
	             20),
	    LC_SERVICE_CLEAN);
	/* '+': as root, whatever User= and Group= say. */
	out = get("pre");
	ck_assert_str_eq(out, "0:0");
	free(out);
	out = get("out");
	/* EnvironmentFile= overrides Environment=: GREETING comes from the file. */
	want = kiln_xasprintf("65534:65534:%s/work:overridden by nothing:from the file:%s:nobody:"
	                      "first arg:overridden by nothing",
	                      dir, nobody.home);
	ck_assert_str_eq(out, want);
	free(out);
	free(want);
	lc_account_release(&nobody);
}
END_TEST

static const struct {
	const char *unit;
	int result;
	const char *marker; /* a file the run must not have written, or NULL */
} results[] = {
    {"[Service]\nExecStart=/bin/sh -c 'exit 0'\n", LC_SERVICE_CLEAN, NULL},
    {"[Service]\nExecStart=/bin/sh -c 'exit 3'\n", LC_SERVICE_EXIT_CODE, NULL},
    {"[Service]\nExecStart=-/bin/sh -c 'exit 3'\n", LC_SERVICE_CLEAN, NULL},
    {"[Service]\nExecStart=/bin/sh -c 'kill -KILL $$$$'\n", LC_SERVICE_SIGNAL, NULL},
    {"[Service]\nExecStart=/bin/sh -c 'kill -USR1 $$$$'\n", LC_SERVICE_SIGNAL, NULL},
    {"[Service]\nExecStart=/bin/sh -c 'kill -TERM $$$$'\n", LC_SERVICE_CLEAN, NULL},
    {"[Service]\nExecStart=sh -c 'exit 0'\n", LC_SERVICE_CLEAN, NULL},
    {"[Service]\nExecStart=/no/such/command\n", LC_SERVICE_EXIT_CODE, NULL},
    {"[Service]\nExecStart=no-such-command-kiln\n", LC_SERVICE_EXIT_CODE, NULL},
    {"[Service]\nExecStart=/bin/sh -c 'touch @D/ran'\nUser=no-such-user-kiln\n",
     LC_SERVICE_EXIT_CODE, "ran"},
    {"[Service]\nExecStart=/bin/sh -c 'touch @D/ran'\nGroup=no-such-group-kiln\n",
     LC_SERVICE_EXIT_CODE, "ran"},
    {"[Service]\nExecStart=/bin/sh -c 'touch @D/ran'\nWorkingDirectory=@D/none\n",
     LC_SERVICE_EXIT_CODE, "ran"},
    {"[Service]\nExecStart=/bin/sh -c 'exit 0'\nWorkingDirectory=-@D/none\n", LC_SERVICE_CLEAN,
     NULL},
    {"[Service]\nExecStart=/bin/sh -c 'touch @D/ran'\nEnvironmentFile=@D/none\n",
     LC_SERVICE_EXIT_CODE, "ran"},
    {"[Service]\nExecStartPre=/bin/sh -c 'exit 1'\nExecStart=/bin/sh -c 'touch @D/ran'\n",
     LC_SERVICE_EXIT_CODE, "ran"},
    {"[Service]\nExecStartPre=-/bin/sh -c 'exit 1'\nExecStart=/bin/sh -c 'exit 0'\n",
     LC_SERVICE_CLEAN, NULL},
    {"[Service]\nExecStart=/bin/sh -c 'exit 0'\nExecStartPost=/bin/sh -c 'exit 2'\n",
     LC_SERVICE_EXIT_CODE, NULL},
    {"[Service]\nType=forking\nExecStart=/bin/sh -c 'exit 4'\n", LC_SERVICE_EXIT_CODE, NULL},
    {"[Service]\nType=forking\nExecStart=/bin/sleep 30\nTimeoutStartSec=1\n", LC_SERVICE_TIMEOUT,
     NULL},
    {"[Service]\nExecStartPre=/bin/sleep 30\nExecStart=/bin/sh -c 'touch @D/ran'\n"
     "TimeoutStartSec=500ms\n",
     LC_SERVICE_TIMEOUT, "ran"},
};

START_TEST(results_as_restart_sees_them)
{
	double t0 = kiln_time_mono();
	char *path;

	if (!root_or_skip())
		return;
	ck_assert_int_eq(run_unit(results[_i].unit, 20), results[_i].result);
	/* A start that fails, or times out, fails at once: no waiting out the default 90 s. */
	ck_assert_double_lt(kiln_time_mono() - t0, 10);
	if (results[_i].marker != NULL) {
		path = kiln_xasprintf("%s/%s", dir, results[_i].marker);
		ck_assert_msg(access(path, F_OK) != 0, "%s: the main command ran",
		              results[_i].unit);
		free(path);
	}
}
END_TEST

/* Start a keeper in the background; the caller waits for it. */
static pid_t start_unit(struct lc_unit *u, const char *text)
{
	char *body = with_dir(text);
	pid_t keeper;

	lc_unit_init(u, "test.service");
	ck_assert_msg(lc_unit_parse(u, "test.service", body, strlen(body), NULL) == 0, "%s",
	              kiln_error_last());
	keeper = lc_service_spawn(u);
	ck_assert_int_gt(keeper, 0);
	free(body);
	return keeper;
}

/* The pid a service wrote into `rel`, waited for (bounded). */
static pid_t pid_in(const char *rel)
{
	for (int i = 0; i < 500; i++) {
		char *s = get(rel);
		long pid = strtol(s, NULL, 10);
		free(s);
		if (pid > 0)
			return (pid_t)pid;
		kiln_sleep(0.02, NULL);
	}
	ck_abort_msg("no pid in %s", rel);
	return -1;
}

/* The daemon a forking start leaves is the main process: its death ends the run. */
START_TEST(forking_follows_the_daemon)
{
	static const char *const units[] = {
	    "[Service]\nType=forking\nPIDFile=@D/pid\n"
	    "ExecStart=/bin/sh -c 'sleep 60 & echo $! > @D/pid; sleep 60 & echo $! > @D/other'\n",
	    "[Service]\nType=forking\nExecStart=/bin/sh -c 'sleep 60 & echo $! > @D/pid'\n",
	};
	for (size_t i = 0; i < KILN_ARRAY_SIZE(units); i++) {
		struct lc_unit u;
		pid_t keeper, daemon, other = 0;
		char *path = kiln_xasprintf("%s/pid", dir),
		     *opath = kiln_xasprintf("%s/other", dir);

		if (!root_or_skip())
			return;
		unlink(path);
		unlink(opath);
		keeper = start_unit(&u, units[i]);
		daemon = pid_in("pid");
		if (i == 0)
			other = pid_in("other");
		/* Still running a moment later: the start command's exit did not end it. */
		kiln_sleep(0.5, NULL);
		ck_assert_int_eq(waitpid(keeper, NULL, WNOHANG), 0);
		ck_assert(alive(daemon));
		ck_assert_int_eq(kill(daemon, i == 0 ? SIGKILL : SIGTERM), 0);
		ck_assert_int_eq(wait_exit(keeper, 20),
		                 i == 0 ? LC_SERVICE_SIGNAL : LC_SERVICE_CLEAN);
		/* The rest of the service went with it. */
		ck_assert(!alive(other));
		lc_unit_release(&u);
		free(path);
		free(opath);
	}
}
END_TEST

/* What a service leaves behind is stopped with it, unless KillMode=process. */
START_TEST(leftovers_are_stopped)
{
	struct lc_unit u;
	pid_t keeper, left;

	if (!root_or_skip())
		return;
	keeper = start_unit(&u, "[Service]\nExecStart=/bin/sh -c 'sleep 60 & echo $! > @D/pid'\n");
	left = pid_in("pid");
	ck_assert_int_eq(wait_exit(keeper, 20), LC_SERVICE_CLEAN);
	ck_assert(!alive(left));
	lc_unit_release(&u);

	/* A child that ignores SIGTERM gets SIGKILL after TimeoutStopSec=. */
	put("pid", "");
	put("stubborn", "#!/bin/sh\ntrap '' TERM\necho $$ > @D/pid\nwhile :; do sleep 0.1; done\n");
	keeper = start_unit(&u, "[Service]\nTimeoutStopSec=1\n"
	                        "ExecStart=/bin/sh -c '/bin/sh @D/stubborn & sleep 0.5'\n");
	left = pid_in("pid");
	ck_assert_int_eq(wait_exit(keeper, 20), LC_SERVICE_CLEAN);
	ck_assert(!alive(left));
	lc_unit_release(&u);

	put("pid", "");
	keeper = start_unit(&u, "[Service]\nKillMode=process\n"
	                        "ExecStart=/bin/sh -c 'sleep 60 & echo $! > @D/pid'\n");
	left = pid_in("pid");
	ck_assert_int_eq(wait_exit(keeper, 20), LC_SERVICE_CLEAN);
	ck_assert(alive(left));
	kill(left, SIGKILL);
	lc_unit_release(&u);
}
END_TEST

/* Init's loop, in small: reap keepers, restart what is due; until nothing is left to do. */
static void run_services(struct lc_services *s, double seconds)
{
	double deadline = kiln_time_mono() + seconds;

	while (kiln_time_mono() < deadline) {
		int st;
		pid_t w;
		while ((w = waitpid(-1, &st, WNOHANG)) > 0)
			ck_assert(lc_services_reaped(s, w, st));
		if (w < 0 && errno == ECHILD && lc_services_next(s, kiln_time_mono()) < 0)
			return;
		lc_services_tick(s, kiln_time_mono());
		kiln_sleep(0.01, NULL);
	}
	ck_abort_msg("services still running after %.0f s", seconds);
}

static int lines(const char *rel)
{
	char *s = get(rel);
	int n = 0;

	for (char *p = s; *p; p++)
		n += *p == '\n';
	n += *s != '\0';
	free(s);
	return n;
}

START_TEST(restarts_per_restart_policy)
{
	static const struct {
		const char *name, *unit;
		int runs;
	} units[] = {
	    /* fails twice, then exits 0: on-failure starts it three times */
	    {"flaky",
	     "Restart=on-failure\nRestartSec=50ms\n"
	     "ExecStart=/bin/sh -c 'echo x >> @D/flaky; [ $(wc -l < @D/flaky) -ge 3 ]'\n",
	     3},
	    {"clean", "Restart=on-failure\nExecStart=/bin/sh -c 'echo x >> @D/clean'\n", 1},
	    {"success",
	     "Restart=on-success\nRestartSec=10ms\nStartLimitBurst=4\n"
	     "ExecStart=/bin/sh -c 'echo x >> @D/success'\n",
	     4},
	    /* always failing: stopped by the start limit */
	    {"crash",
	     "Restart=always\nRestartSec=10ms\nStartLimitBurst=3\n"
	     "StartLimitIntervalSec=60\nExecStart=/bin/sh -c 'echo x >> @D/crash; exit 1'\n",
	     3},
	    {"killed",
	     "Restart=on-abort\nRestartSec=10ms\n"
	     "ExecStart=/bin/sh -c 'echo x >> @D/killed; "
	     "[ $(wc -l < @D/killed) -ge 2 ] || kill -KILL $$$$'\n",
	     2},
	    {"no", "ExecStart=/bin/sh -c 'echo x >> @D/no; exit 1'\n", 1},
	    {"ssh", "Restart=always\nExecStart=/bin/sh -c 'echo x >> @D/ssh'\n", 0},
	};
	struct lc_services *s;

	if (!root_or_skip())
		return;
	for (size_t i = 0; i < KILN_ARRAY_SIZE(units); i++) {
		char *unit = kiln_xasprintf("lib/systemd/system/%s.service", units[i].name);
		char *link = kiln_xasprintf(
		    "%s/etc/systemd/system/multi-user.target.wants/%s.service", dir, units[i].name);
		char *text = kiln_xasprintf("[Service]\n%s", units[i].unit);
		char *parent = kiln_path_dirname(link);
		put(unit, text);
		ck_assert_int_eq(kiln_mkdir_p(parent, 0755), 0);
		/* As systemctl enable links it: an absolute target, resolved inside the root. */
		free(parent);
		parent = kiln_xasprintf("/%s", unit);
		ck_assert_int_eq(symlink(parent, link), 0);
		free(unit);
		free(link);
		free(text);
		free(parent);
	}
	s = lc_services_start(dir, "ip-10-0-0-5");
	run_services(s, 60);
	for (size_t i = 0; i < KILN_ARRAY_SIZE(units); i++)
		ck_assert_msg(lines(units[i].name) == units[i].runs, "%s ran %d times, want %d",
		              units[i].name, lines(units[i].name), units[i].runs);
	lc_services_free(s);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("localcloud_services");
	TCase *tc = tcase_create("services");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, user_environment_and_directory);
	tcase_add_loop_test(tc, results_as_restart_sees_them, 0, (int)KILN_ARRAY_SIZE(results));
	tcase_add_test(tc, forking_follows_the_daemon);
	tcase_add_test(tc, leftovers_are_stopped);
	tcase_add_test(tc, restarts_per_restart_policy);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
