#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/shell.h"
#include "core/common.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include "core/proc.h"
#include "validate/checks.h"

static char tmpdir[] = "/tmp/kiln-validate-XXXXXX";
static char *file;

static void setup_dir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	file = kiln_xasprintf("%s/VERSION", tmpdir);
	ck_assert_int_eq(kiln_file_write_atomic(file, "v1.0.0\n", 7, 0640), 0);
}

static void teardown_dir(void)
{
	free(file);
	kiln_rm_rf(tmpdir);
	strcpy(tmpdir, "/tmp/kiln-validate-XXXXXX");
}

/* Run the check's script with /bin/sh: 0 when it holds; its one line in `msg`. */
static int run_check(const char *json, struct kiln_buf *msg)
{
	struct kiln_buf script = KILN_BUF_INIT, text = KILN_BUF_INIT;
	struct kiln_validate_spec spec;
	json_t *check = NULL, *validate;
	char *argv[] = {"sh", "-c", NULL, NULL};
	int status = -1;

	/* "@F" stands for the test's file. */
	for (const char *p = json; *p; p++) {
		if (p[0] == '@' && p[1] == 'F') {
			kiln_buf_puts(&text, file);
			p++;
		} else {
			kiln_buf_putc(&text, *p);
		}
	}
	ck_assert_msg(kiln_json_load_string(&check, text.ptr, "check") == 0, "%s",
	              kiln_error_last());
	validate = json_pack("{s:[O]}", "checks", check);
	kiln_validate_spec_fill(&spec, validate);
	ck_assert_int_eq(kiln_check_script(&script, &spec.checks[0]), 0);
	kiln_validate_spec_release(&spec);
	json_decref(validate);
	argv[2] = script.ptr;
	kiln_buf_clear(msg);
	ck_assert_int_eq(kiln_proc_run(&status, msg, NULL, argv), 0);
	kiln_buf_rtrim(msg);
	json_decref(check);
	kiln_buf_release(&script);
	kiln_buf_release(&text);
	return status;
}

struct case_ {
	const char *check;
	int holds;
	const char *message; /* part of the line printed when it does not hold */
};

static const struct case_ cases[] = {
    {"{\"file\": \"@F\"}", 1, ""},
    {"{\"file\": \"@F\", \"exists\": true}", 1, ""},
    {"{\"file\": \"@F.missing\"}", 0, "does not exist"},
    {"{\"file\": \"@F.missing\", \"exists\": false}", 1, ""},
    {"{\"file\": \"@F\", \"exists\": false}", 0, "exists"},
    {"{\"file\": \"@F\", \"mode\": \"0640\"}", 1, ""},
    {"{\"file\": \"@F\", \"mode\": \"0644\"}", 0, "has mode 640, expected 0644"},
    {"{\"file\": \"@F\", \"owner\": \"root\", \"group\": \"root\"}", 1, ""},
    {"{\"file\": \"@F\", \"owner\": \"nobody\"}", 0, "is owned by root, expected nobody"},
    {"{\"file\": \"@F\", \"contains\": \"v1.0.0\"}", 1, ""},
    {"{\"file\": \"@F\", \"contains\": \"v1.1.0\"}", 0, "does not contain v1.1.0"},
    {"{\"file\": \"@F\", \"contains\": \"v1.0\"}", 1, ""},
    {"{\"file\": \"@F\", \"contains\": \"v1.0.\\u002a\"}", 0, "does not contain"},
    {"{\"file\": \"@F\", \"sha256\": "
     "\"f1a1c8f4c7f4f7d5f1b39d6c1ad0e5d2df1a8a0a0c5d2b1c9e0d5f8b1e3a7c2d\"}",
     0, "has sha256"},
    {"{\"command\": \"true\"}", 1, ""},
    {"{\"command\": \"exit 3\"}", 0, "exited with 3, expected 0"},
    {"{\"command\": \"exit 3\", \"exit_code\": 3}", 1, ""},
    {"{\"command\": \"echo hello world\", \"stdout\": \"lo wo\"}", 1, ""},
    {"{\"command\": \"echo hello\", \"stdout\": \"bye\"}", 0, "output does not contain bye"},
    {"{\"command\": \"sleep 5\", \"timeout_s\": 1}", 0, "exited with 124"},
    {"{\"user\": \"root\"}", 1, ""},
    {"{\"user\": \"no-such-user-kiln\"}", 0, "user no-such-user-kiln does not exist"},
    {"{\"user\": \"no-such-user-kiln\", \"exists\": false}", 1, ""},
    {"{\"group\": \"root\"}", 1, ""},
    {"{\"group\": \"no-such-group-kiln\"}", 0, "group no-such-group-kiln does not exist"},
    {"{\"package\": \"dpkg\", \"installed\": true}", 1, ""},
    {"{\"package\": \"no-such-package-kiln\"}", 0, "is not installed"},
    {"{\"package\": \"no-such-package-kiln\", \"installed\": false}", 1, ""},
    {"{\"service\": \"no-such-daemon-kiln\", \"running\": false}", 1, ""},
    {"{\"service\": \"no-such-daemon-kiln\"}", 0, "is not running"},
    {"{\"service\": \"no-such-daemon-kiln\", \"enabled\": false}", 1, ""},
    {"{\"service\": \"no-such-daemon-kiln\", \"enabled\": true}", 0, "is not enabled"},
    {"{\"service\": \"no-such-daemon-kiln\", \"enabled\": false, \"running\": true}", 0,
     "is not running"},
};

START_TEST(check_scripts_hold_or_say_why)
{
	const struct case_ *c = &cases[_i];
	struct kiln_buf msg = KILN_BUF_INIT;
	int status = run_check(c->check, &msg);

	if (c->holds) {
		ck_assert_msg(status == 0, "%s: exit %d: %s", c->check, status, msg.ptr);
	} else {
		ck_assert_msg(status == 1, "%s: exit %d, want 1", c->check, status);
		ck_assert_msg(strstr(msg.ptr, c->message) != NULL, "%s: said '%s', want '%s'",
		              c->check, msg.ptr, c->message);
		ck_assert_msg(strchr(msg.ptr, '\n') == NULL, "%s: more than one line", c->check);
	}
	kiln_buf_release(&msg);
}
END_TEST

START_TEST(sha256_of_the_file_holds)
{
	struct kiln_buf msg = KILN_BUF_INIT;
	char hex[65], *json;

	kiln_sha256_hex(hex, "v1.0.0\n", 7);
	json = kiln_xasprintf("{\"file\": \"@F\", \"sha256\": \"%s\"}", hex);
	ck_assert_int_eq(run_check(json, &msg), 0);
	free(json);
	kiln_buf_release(&msg);
}
END_TEST

START_TEST(port_listening_follows_a_real_socket)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	struct kiln_buf msg = KILN_BUF_INIT;
	char *yes, *no;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	yes = kiln_xasprintf("{\"port\": %d, \"listening\": true}", ntohs(sa.sin_port));
	no = kiln_xasprintf("{\"port\": %d, \"listening\": false}", ntohs(sa.sin_port));
	/* Bound but not listening yet. */
	ck_assert_int_eq(run_check(yes, &msg), 1);
	ck_assert_ptr_nonnull(strstr(msg.ptr, "nothing listens on port"));
	ck_assert_int_eq(run_check(no, &msg), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(run_check(yes, &msg), 0);
	ck_assert_int_eq(run_check(no, &msg), 1);
	close(fd);
	free(yes);
	free(no);
	kiln_buf_release(&msg);
}
END_TEST

START_TEST(profile_values_are_never_expanded)
{
	struct kiln_buf msg = KILN_BUF_INIT;
	/* Expanded, this name would point elsewhere and the check could not hold. */
	char *evil = kiln_xasprintf("%s/it's $(echo no) `echo no` $HOME", tmpdir);
	char *pwned = kiln_xasprintf("%s/it's no no %s", tmpdir, getenv("HOME"));
	char *json = NULL;
	json_t *j = json_pack("{s:s, s:s}", "file", evil, "contains", "a'b $HOME");
	struct stat st;

	ck_assert_int_eq(kiln_file_write_atomic(evil, "a'b $HOME\n", 10, 0644), 0);
	json = json_dumps(j, 0);
	ck_assert_int_eq(run_check(json, &msg), 0);
	ck_assert_int_eq(stat(pwned, &st), -1);
	free(json);
	json_decref(j);
	free(evil);
	free(pwned);
	kiln_buf_release(&msg);
}
END_TEST

START_TEST(shell_quote)
{
	struct kiln_buf b = KILN_BUF_INIT;

	kiln_sh_quote(&b, "it's");
	ck_assert_str_eq(b.ptr, "'it'\\''s'");
	kiln_buf_clear(&b);
	kiln_sh_quote(&b, "");
	ck_assert_str_eq(b.ptr, "''");
	kiln_buf_release(&b);
}
END_TEST

/* The label of the one check in `json`. */
static char *label_of(const char *json)
{
	struct kiln_validate_spec spec;
	json_t *check = NULL, *validate;
	char *label;

	ck_assert_int_eq(kiln_json_load_string(&check, json, "check"), 0);
	validate = json_pack("{s:[o]}", "checks", check);
	kiln_validate_spec_fill(&spec, validate);
	label = kiln_check_label(&spec.checks[0]);
	kiln_validate_spec_release(&spec);
	json_decref(validate);
	return label;
}

START_TEST(labels)
{
	static const char *const labelled[][2] = {
	    {"{\"file\": \"/opt/web/VERSION\", \"contains\": \"v1.0.0\"}",
	     "file /opt/web/VERSION contains 'v1.0.0'"},
	    {"{\"port\": 8080, \"listening\": true}", "port 8080 listening"},
	    {"{\"name\": \"web answers\", \"command\": \"curl -s localhost\"}", "web answers"},
	    {"{\"file\": \"/etc/x\", \"group\": \"adm\", \"exists\": true}",
	     "file /etc/x exists group 'adm'"},
	    {"{\"group\": \"adm\", \"exists\": false}", "group adm not exists"},
	    {"{\"command\": \"true\", \"exit_code\": 0, \"timeout_s\": 5}",
	     "command true exit_code 0 timeout_s 5"},
	};

	for (size_t i = 0; i < KILN_ARRAY_SIZE(labelled); i++) {
		char *l = label_of(labelled[i][0]);
		ck_assert_str_eq(l, labelled[i][1]);
		free(l);
	}
}
END_TEST

/* A typed check turns back into what the profile wrote, key for key (the bake key hashes it). */
START_TEST(check_specs_round_trip)
{
	for (size_t i = 0; i < KILN_ARRAY_SIZE(cases); i++) {
		struct kiln_validate_spec spec;
		json_t *check = NULL, *validate, *back;

		ck_assert_int_eq(kiln_json_load_string(&check, cases[i].check, "check"), 0);
		validate = json_pack("{s:[O]}", "checks", check);
		kiln_validate_spec_fill(&spec, validate);
		back = kiln_check_spec_json(&spec.checks[0]);
		ck_assert_msg(json_equal(back, check), "%s", cases[i].check);
		json_decref(back);
		kiln_validate_spec_release(&spec);
		json_decref(validate);
		json_decref(check);
	}
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("validate");
	TCase *tc = tcase_create("checks");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_add_loop_test(tc, check_scripts_hold_or_say_why, 0, (int)KILN_ARRAY_SIZE(cases));
	tcase_add_test(tc, sha256_of_the_file_holds);
	tcase_add_test(tc, port_listening_follows_a_real_socket);
	tcase_add_test(tc, profile_values_are_never_expanded);
	tcase_add_test(tc, shell_quote);
	tcase_add_test(tc, labels);
	tcase_add_test(tc, check_specs_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
