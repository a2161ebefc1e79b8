/*
 * The deploy's parts that need no cloud: names within AWS's limits and
 * unique per environment, colours, the lease's record, the smoke checks
 * against a loopback server. The flow itself is tested end to end
 * (tests/integration/deploy_moto.py and deploy_local.py).
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/common.h"
#include "deploy/deploy-int.h"
#include "deploy/lease.h"
#include "deploy/names.h"

static int aws_name_ok(const char *s, size_t limit)
{
	size_t n = strlen(s);

	return n > 0 && n <= limit && s[0] != '-' && s[n - 1] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

START_TEST(names_are_plain_when_short)
{
	char *n = kiln_deploy_name("web", "prod", "blue", 32);

	ck_assert_str_eq(n, "kiln-web-prod-blue");
	free(n);
	n = kiln_deploy_name("web", NULL, NULL, 32);
	ck_assert_str_eq(n, "kiln-web-default");
	free(n);
}
END_TEST

/* The longest profile and environment names still give valid, distinct names. */
START_TEST(names_fit_32_and_stay_distinct)
{
	const char *p = "abcdefghijklmnopqrstuvwxyz012345"; /* 32: the profile limit */
	const char *envs[] = {"production-eu-west-1-primary-aa", "production-eu-west-1-primary-ab"};
	const char *suffixes[] = {NULL, "blue", "green"};
	char *all[6];
	size_t i, k, n = 0;

	for (i = 0; i < 2; i++)
		for (k = 0; k < 3; k++) {
			all[n] = kiln_deploy_name(p, envs[i], suffixes[k], 32);
			ck_assert_msg(aws_name_ok(all[n], 32), "'%s'", all[n]);
			n++;
		}
	for (i = 0; i < n; i++)
		for (k = i + 1; k < n; k++)
			ck_assert_str_ne(all[i], all[k]);
	/* The same inputs give the same name: found again by it. */
	{
		char *again = kiln_deploy_name(p, envs[1], "green", 32);
		ck_assert_str_eq(again, all[5]);
		free(again);
	}
	for (i = 0; i < n; i++)
		free(all[i]);
}
END_TEST

START_TEST(group_names_keep_the_release_readable)
{
	char *n = kiln_deploy_group_name("web", "dev", KILN_GREEN, "v1.1.0", "3fa2c1d0");
	char *odd = kiln_deploy_group_name("web", "dev", KILN_BLUE, "rel/2026 11:x*", "00000000");

	ck_assert_str_eq(n, "kiln-web-dev-green-v1.1.0-3fa2c1d0");
	ck_assert_str_eq(odd, "kiln-web-dev-blue-rel-2026-11-x--00000000");
	free(n);
	free(odd);
}
END_TEST

START_TEST(colors)
{
	ck_assert_str_eq(kiln_color_name(KILN_BLUE), "blue");
	ck_assert_str_eq(kiln_color_name(KILN_GREEN), "green");
	ck_assert_int_eq(kiln_color_parse("green"), KILN_GREEN);
	ck_assert_int_eq(kiln_color_parse("blue"), KILN_BLUE);
	ck_assert_int_eq(kiln_color_parse("Blue"), -1);
	ck_assert_int_eq(kiln_color_parse(NULL), -1);
}
END_TEST

START_TEST(lease_names)
{
	char *n = kiln_deploy_lease_name("web", "prod");

	ck_assert_str_eq(n, "/kiln/lease/web/prod");
	free(n);
	n = kiln_deploy_lease_name("web", NULL);
	ck_assert_str_eq(n, "/kiln/lease/web/default");
	free(n);
}
END_TEST

START_TEST(lease_record)
{
	struct kiln_lease_holder h;
	char *s;

	ck_assert_int_eq(kiln_lease_parse(&h, "{\"run_id\": \"deploy-1\", \"caller\": "
	                                      "\"arn:aws:iam::1:user/ci\", \"host\": \"ci-7\", "
	                                      "\"pid\": 42, \"started\": 1, \"expires\": "
	                                      "1800000000}"),
	                 0);
	ck_assert_str_eq(h.run_id, "deploy-1");
	ck_assert_str_eq(h.host, "ci-7");
	ck_assert_int_eq(h.pid, 42);
	ck_assert(h.expires == 1800000000.0);
	s = kiln_lease_holder_describe(&h);
	ck_assert_str_eq(s, "run deploy-1 (arn:aws:iam::1:user/ci on ci-7, pid 42) until "
	                    "2027-01-15T08:00:00Z");
	free(s);
	kiln_lease_holder_release(&h);
}
END_TEST

/* A parameter that is not a lease is refused, and a hostile one is escaped in messages. */
START_TEST(lease_record_hostile)
{
	struct kiln_lease_holder h;
	char *s;

	ck_assert_int_eq(kiln_lease_parse(&h, "not json"), KILN_EINVAL);
	ck_assert_int_eq(kiln_lease_parse(&h, "{\"run_id\": \"x\"}"), KILN_EINVAL);
	ck_assert_int_eq(kiln_lease_parse(&h, "{\"expires\": 1}"), KILN_EINVAL);
	ck_assert_int_eq(kiln_lease_parse(&h, "[1, 2]"), KILN_EINVAL);
	ck_assert_int_eq(
	    kiln_lease_parse(
	        &h, "{\"run_id\": \"a\\u001b[31mb\", \"host\": \"h\\nx\", \"expires\": 0}"),
	    0);
	s = kiln_lease_holder_describe(&h);
	ck_assert_ptr_null(strchr(s, '\033'));
	ck_assert_ptr_null(strchr(s, '\n'));
	free(s);
	kiln_lease_holder_release(&h);
}
END_TEST

/* A loopback HTTP server giving every connection the same reply, counting them. */
struct replier {
	int fd, port, served;
	const char *reply;
	size_t reply_len;
	pthread_t thread;
};

static void *replier_run(void *arg)
{
	struct replier *r = arg;

	for (int i = 0; i < 8; i++) {
		struct pollfd p = {r->fd, POLLIN, 0};
		char req[4096];
		size_t got = 0;
		int c;

		if (poll(&p, 1, 10000) != 1)
			break;
		c = accept(r->fd, NULL, NULL);
		if (c < 0)
			break;
		while (got < sizeof req - 1) {
			ssize_t n = read(c, req + got, sizeof req - 1 - got);
			if (n <= 0)
				break;
			got += (size_t)n;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL)
				break;
		}
		r->served++;
		if (write(c, r->reply, r->reply_len) < 0)
			i = 8;
		close(c);
	}
	return NULL;
}

static void replier_start(struct replier *r, const char *reply, size_t len)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;

	r->reply = reply;
	r->reply_len = len;
	r->served = 0;
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(r->fd, 0);
	ck_assert_int_eq(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(r->fd, 8), 0);
	ck_assert_int_eq(getsockname(r->fd, (struct sockaddr *)&a, &alen), 0);
	r->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&r->thread, NULL, replier_run, r), 0);
}

static void replier_stop(struct replier *r)
{
	shutdown(r->fd, SHUT_RDWR);
	close(r->fd);
	pthread_join(r->thread, NULL);
}

/* kiln_deploy__smoke of `checks` (JSON) against the server, into `report` (or none); its return. */
static int smoke_against(const struct replier *r, struct kiln_report *report, const char *checks)
{
	struct kiln_profile profile = {0};
	struct kiln_deploy_options opts = KILN_DEPLOY_OPTIONS_INIT;
	struct deploy d = {0};
	char url[64], json[512];
	int error;

	snprintf(json, sizeof json,
	         "{\"deploy\": {\"instance_type\": \"t3.micro\", \"health_check\": "
	         "{\"path\": \"/\", \"matcher\": \"200\"}, \"smoke\": %s}}",
	         checks);
	profile.target = "local";
	profile.json = json_loads(json, 0, NULL);
	ck_assert_ptr_nonnull(profile.json);
	kiln_deploy_spec_fill(&profile.deploy, json_object_get(profile.json, "deploy"));
	d.profile = &profile;
	opts.report = report;
	d.opts = &opts;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", r->port);
	error = kiln_deploy__smoke(&d, url, "the test listener");
	kiln_deploy_spec_release(&profile.deploy);
	json_decref(profile.json);
	return error;
}

static const char page_ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 19\r\nX-App: web\r\n"
                              "Connection: close\r\n\r\nHello from web v1.0";

START_TEST(smoke_passes)
{
	struct replier r;

	/* A proxy in the environment is not used for the local cloud (nothing listens on 9). */
	setenv("http_proxy", "http://127.0.0.1:9", 1);
	replier_start(&r, page_ok, sizeof page_ok - 1);
	ck_assert_int_eq(smoke_against(&r, NULL,
	                               "[{\"path\": \"/\", \"contains\": \"Hello from web\"}, "
	                               "{\"path\": \"/health\", \"status\": 200}]"),
	                 0);
	replier_stop(&r);
	unsetenv("http_proxy");
	ck_assert_int_eq(r.served, 2);
}
END_TEST

/* A failing check is tried three times; the error says what was found, escaped. */
START_TEST(smoke_failure_names_what_was_found_escaped)
{
	static const char hostile[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 17\r\n"
	                              "Connection: close\r\n\r\n\x1b[31mdown\x07\r\nnow!!";
	struct replier r;
	const char *msg;

	replier_start(&r, hostile, sizeof hostile - 1);
	ck_assert_int_eq(smoke_against(&r, NULL, "[{\"path\": \"/ready\"}]"), KILN_ERROR);
	replier_stop(&r);
	ck_assert_int_eq(r.served, 3);
	msg = kiln_error_last();
	ck_assert_ptr_nonnull(strstr(msg, "1 of 1 smoke checks failed through the test listener"));
	ck_assert_ptr_nonnull(strstr(msg, "GET /ready: status 503, expected 200"));
	ck_assert_ptr_nonnull(strstr(msg, "body: '\\x1b[31mdown\\x07\\x0d\\x0anow!!'"));
	ck_assert_ptr_null(strchr(msg, '\x1b'));
	ck_assert_ptr_null(strchr(msg, '\n'));
}
END_TEST

START_TEST(smoke_body_and_latency)
{
	struct replier r;

	replier_start(&r, page_ok, sizeof page_ok - 1);
	ck_assert_int_eq(smoke_against(&r, NULL, "[{\"path\": \"/\", \"contains\": \"v2.0\"}]"),
	                 KILN_ERROR);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "GET /: the body does not contain 'v2.0'; "
	                                                "it begins: 'Hello from web v1.0'"));
	replier_stop(&r);
	replier_start(&r, page_ok, sizeof page_ok - 1);
	/* Nothing answers in 0 ms. */
	ck_assert_int_eq(smoke_against(&r, NULL, "[{\"path\": \"/\", \"max_latency_ms\": 0}]"),
	                 KILN_ERROR);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "more than max_latency_ms 0"));
	replier_stop(&r);
}
END_TEST

/* Headers by name in any case, values exactly; a missing one is named. */
START_TEST(smoke_headers)
{
	struct replier r;

	replier_start(&r, page_ok, sizeof page_ok - 1);
	ck_assert_int_eq(
	    smoke_against(&r, NULL, "[{\"path\": \"/\", \"header\": {\"x-app\": \"web\"}}]"), 0);
	replier_stop(&r);
	replier_start(&r, page_ok, sizeof page_ok - 1);
	ck_assert_int_eq(smoke_against(&r, NULL,
	                               "[{\"path\": \"/\", \"header\": {\"X-App\": \"api\"}}, "
	                               "{\"path\": \"/v\", \"header\": {\"X-Version\": \"1\"}}]"),
	                 KILN_ERROR);
	replier_stop(&r);
	ck_assert_int_eq(r.served, 6);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "2 of 2 smoke checks failed"));
	ck_assert_ptr_nonnull(
	    strstr(kiln_error_last(), "GET /: header X-App is 'web', expected 'api'"));
	ck_assert_ptr_nonnull(
	    strstr(kiln_error_last(), "GET /v: no header X-Version (expected '1')"));
}
END_TEST

/* kiln deploy --junit: each check's result goes into the caller's report, the failure's with what
 * was found. */
START_TEST(smoke_results_go_into_the_report)
{
	struct kiln_report *report = NULL;
	const struct kiln_result *res;
	struct replier r;

	ck_assert_int_eq(kiln_report_new(&report), 0);
	replier_start(&r, page_ok, sizeof page_ok - 1);
	ck_assert_int_eq(
	    smoke_against(&r, report,
	                  "[{\"path\": \"/\"}, {\"path\": \"/v\", \"contains\": \"v2.0\"}]"),
	    KILN_ERROR);
	replier_stop(&r);
	ck_assert_uint_eq(kiln_report_count(report), 2);
	res = kiln_report_result(report, 0);
	ck_assert_str_eq(res->stage, "smoke");
	ck_assert_str_eq(res->name, "GET /");
	ck_assert_int_eq(res->passed, 1);
	res = kiln_report_result(report, 1);
	ck_assert_int_eq(res->passed, 0);
	ck_assert_ptr_nonnull(strstr(res->message, "does not contain 'v2.0'"));
	kiln_report_free(report);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("deploy");
	TCase *tc = tcase_create("names");

	tcase_add_test(tc, names_are_plain_when_short);
	tcase_add_test(tc, names_fit_32_and_stay_distinct);
	tcase_add_test(tc, group_names_keep_the_release_readable);
	tcase_add_test(tc, colors);
	tcase_add_test(tc, lease_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("lease");
	tcase_add_test(tc, lease_record);
	tcase_add_test(tc, lease_record_hostile);
	suite_add_tcase(s, tc);
	tc = tcase_create("smoke");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, smoke_passes);
	tcase_add_test(tc, smoke_failure_names_what_was_found_escaped);
	tcase_add_test(tc, smoke_body_and_latency);
	tcase_add_test(tc, smoke_headers);
	tcase_add_test(tc, smoke_results_go_into_the_report);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
