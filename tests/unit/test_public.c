/*
 * libkiln as a program of someone else's sees it: through kiln.h alone.
 * The conventions (errors, _free(NULL), options versions), profiles, a
 * stage that its event callback refuses before it touches any cloud, the
 * smoke checks a deploy runs (against a loopback server made here), and
 * the public header's struct kiln_cloud_opts laid out as the library's.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kiln.h"
#include "tests/unit/public_layout.h"

START_TEST(version_and_errors)
{
	const char *v = kiln_version();

	ck_assert_uint_eq(strspn(v, "0123456789."), strlen(v));
	ck_assert_int_eq(kiln_error_set(KILN_ENOTFOUND, "no '%s'", "x"), KILN_ENOTFOUND);
	ck_assert_str_eq(kiln_error_last(), "no 'x'");
	ck_assert_int_eq(kiln_error_last_code(), KILN_ENOTFOUND);
	kiln_error_clear();
	ck_assert_str_eq(kiln_error_last(), "");
	ck_assert_int_eq(kiln_error_last_code(), KILN_OK);
}
END_TEST

START_TEST(free_null_is_a_no_op)
{
	kiln_profile_free(NULL);
	kiln_layer_list_free(NULL);
	kiln_manifest_free(NULL);
	kiln_gc_report_free(NULL);
	kiln_deploy_result_free(NULL);
	kiln_report_free(NULL);
}
END_TEST

static char *example(void)
{
	const char *src = getenv("KILN_SOURCE_DIR");
	size_t n = strlen(src ? src : ".") + 64;
	char *path = malloc(n);

	ck_assert_ptr_nonnull(path);
	snprintf(path, n, "%s/profiles/examples/web.json", src ? src : ".");
	return path;
}

START_TEST(profiles_load_and_tell)
{
	struct kiln_profile *p = NULL;
	char *path = example();

	ck_assert_int_eq(kiln_profile_load(&p, "/nonexistent/web.json", NULL), KILN_EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "/nonexistent/web.json"));
	ck_assert_msg(kiln_profile_load(&p, path, "prod") == 0, "%s", kiln_error_last());
	ck_assert_str_eq(kiln_profile_name(p), "web");
	ck_assert_str_eq(kiln_profile_target(p), "local");
	ck_assert_str_eq(kiln_profile_env(p), "prod");
	kiln_profile_free(p);
	free(path);
}
END_TEST

struct seen {
	int starts, ends, others, end_result;
};

/* A pre_* hook that says no. */
static int refuse(const struct kiln_event *ev, void *payload)
{
	struct seen *s = payload;

	if (ev->kind == KILN_EVENT_STAGE_START) {
		s->starts++;
		return kiln_error_set(KILN_EAUTH, "%s of %s refused by policy", ev->stage,
		                      ev->profile ? ev->profile : "nothing");
	}
	if (ev->kind == KILN_EVENT_STAGE_END) {
		s->ends++;
		s->end_result = ev->result;
	} else {
		s->others++;
	}
	return 0;
}

START_TEST(a_refused_stage_does_nothing)
{
	struct kiln_bake_options bo = KILN_BAKE_OPTIONS_INIT;
	struct kiln_gc_options go = KILN_GC_OPTIONS_INIT;
	struct kiln_manifest *m = NULL;
	struct kiln_gc_report *r = NULL;
	struct kiln_profile *p = NULL;
	struct seen s = {0};
	char *path = example();

	ck_assert_int_eq(kiln_profile_load(&p, path, NULL), 0);
	bo.on_event = refuse;
	bo.payload = &s;
	/* Nothing answers here: a bake that went on would fail differently. */
	bo.local_endpoint = "http://127.0.0.1:1";
	ck_assert_int_eq(kiln_bake(&m, p, &bo), KILN_EAUTH);
	ck_assert_str_eq(kiln_error_last(), "bake of web refused by policy");
	ck_assert_ptr_null(m);
	go.on_event = refuse;
	go.payload = &s;
	go.target = "local";
	go.local_endpoint = "http://127.0.0.1:1";
	ck_assert_int_eq(kiln_gc(&r, &go), KILN_EAUTH);
	ck_assert_str_eq(kiln_error_last(), "gc of nothing refused by policy");
	ck_assert_ptr_null(r);
	ck_assert_int_eq(s.starts, 2);
	ck_assert_int_eq(s.ends, 2);
	ck_assert_int_eq(s.end_result, KILN_EAUTH);
	ck_assert_int_eq(s.others, 0);
	kiln_profile_free(p);
	free(path);
}
END_TEST

/* Every deploy stage asks its callback first, before any cloud is reached. */
START_TEST(a_refused_deploy_does_nothing)
{
	struct kiln_deploy_options o = KILN_DEPLOY_OPTIONS_INIT;
	struct kiln_deploy_result *r = NULL;
	struct kiln_profile *p = NULL, *q = NULL;
	struct seen s = {0};
	char *path = example(), *text = NULL;

	ck_assert_int_eq(kiln_profile_load(&p, path, NULL), 0);
	ck_assert_int_eq(kiln_profile_load(&q, path, "prod"), 0);
	o.on_event = refuse;
	o.payload = &s;
	o.local_endpoint = "http://127.0.0.1:1";
	ck_assert_int_eq(kiln_deploy(&r, p, &o), KILN_EAUTH);
	ck_assert_str_eq(kiln_error_last(), "deploy of web refused by policy");
	ck_assert_ptr_null(r);
	ck_assert_int_eq(kiln_rollback(&r, p, &o), KILN_EAUTH);
	ck_assert_int_eq(kiln_promote(&r, p, q, &o), KILN_EAUTH);
	ck_assert_int_eq(kiln_deploy_status(&text, p, &o), KILN_EAUTH);
	ck_assert_int_eq(kiln_destroy(&text, p, 0, &o), KILN_EAUTH);
	ck_assert_str_eq(kiln_error_last(), "destroy of web refused by policy");
	ck_assert_ptr_null(r);
	ck_assert_ptr_null(text);
	ck_assert_int_eq(s.starts, 5);
	ck_assert_int_eq(s.ends, 5);
	ck_assert_int_eq(s.others, 0);
	kiln_profile_free(p);
	kiln_profile_free(q);
	free(path);
}
END_TEST

/*
 * The policy gate and validate through kiln.h: an organisation's file the
 * example profile breaks, the violations in the error and in a report, and
 * nothing else run (the local endpoint is a dead port: a stage that went on
 * would fail otherwise).
 */
START_TEST(policy_gate_and_report)
{
	struct kiln_policy_options po = KILN_POLICY_OPTIONS_INIT;
	struct kiln_validate_options vo = KILN_VALIDATE_OPTIONS_INIT;
	struct kiln_report *report = NULL;
	struct kiln_profile *p = NULL;
	char org[] = "/tmp/kiln-public-policy-XXXXXX";
	char *path = example(), *json = NULL, *xml = NULL;
	int fd = mkstemp(org);
	size_t i, failed = 0;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_gt(write(fd, "{\"max_capacity\": 3}", 19), 0);
	close(fd);
	ck_assert_int_eq(kiln_profile_load(&p, path, NULL), 0);
	po.policy_file = org;
	ck_assert_int_eq(kiln_policy_check(p, &po), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), ": policy: deploy.capacity.max is 6, above "
	                                                "the ceiling of 3"));
	ck_assert_int_eq(kiln_report_new(&report), 0);
	vo.policy_file = org;
	vo.image_id = "ami-0123456789abcdef0";
	vo.local_endpoint = "http://127.0.0.1:1";
	ck_assert_int_eq(kiln_validate(report, p, &vo), KILN_EINVAL);
	ck_assert_str_eq(kiln_report_profile(report), "web");
	ck_assert_int_eq(kiln_report_passed(report), 0);
	for (i = 0; i < kiln_report_count(report); i++) {
		const struct kiln_result *r = kiln_report_result(report, i);
		ck_assert_str_eq(r->stage, "policy");
		failed += !r->passed;
	}
	ck_assert_uint_eq(failed, 1);
	ck_assert_int_eq(kiln_report_to_json(&json, report), 0);
	ck_assert_ptr_nonnull(strstr(json, "\"rule\": \"max_capacity\""));
	ck_assert_int_eq(kiln_report_to_junit(&xml, report), 0);
	ck_assert_ptr_nonnull(
	    strstr(xml, "<testsuite name=\"policy\" tests=\"11\" failures=\"1\""));
	free(json);
	free(xml);
	kiln_report_free(report);
	kiln_profile_free(p);
	unlink(org);
	free(path);
}
END_TEST

/* A loopback HTTP server answering every request with `body`, until shut down. */
struct page {
	int fd, port;
	int served; /* requests answered */
	const char *body;
	pthread_t thread;
};

static void *serve(void *arg)
{
	struct page *pg = arg;
	char req[4096], reply[512];
	int c;

	while ((c = accept(pg->fd, NULL, NULL)) >= 0) {
		size_t got = 0;
		ssize_t n;
		while (got < sizeof(req) - 1 &&
		       (n = read(c, req + got, sizeof(req) - 1 - got)) > 0) {
			got += (size_t)n;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL)
				break;
		}
		n = snprintf(
		    reply, sizeof(reply),
		    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
		    strlen(pg->body), pg->body);
		if (write(c, reply, (size_t)n) != n)
			break;
		pg->served++;
		close(c);
	}
	return NULL;
}

static void page_start(struct page *pg, const char *body)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pg->body = body;
	pg->served = 0;
	pg->fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(pg->fd, 0);
	ck_assert_int_eq(bind(pg->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(pg->fd, 8), 0);
	ck_assert_int_eq(getsockname(pg->fd, (struct sockaddr *)&a, &len), 0);
	pg->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&pg->thread, NULL, serve, pg), 0);
}

static void page_stop(struct page *pg)
{
	shutdown(pg->fd, SHUT_RDWR); /* accept() returns: the thread ends */
	pthread_join(pg->thread, NULL);
	close(pg->fd);
}

struct progress {
	int lines;
	char stage[32];
};

static int count_progress(const struct kiln_event *ev, void *payload)
{
	struct progress *pr = payload;

	if (ev->kind == KILN_EVENT_PROGRESS) {
		pr->lines++;
		snprintf(pr->stage, sizeof(pr->stage), "%s", ev->stage);
	}
	return 0;
}

/* What a deploy runs after a swap: deploy.smoke of the example profile ("/" says Hello from web).
 */
static int smoke_against(const char *body, struct kiln_report *report, struct progress *pr)
{
	struct kiln_smoke_options so = KILN_SMOKE_OPTIONS_INIT;
	struct kiln_profile *p = NULL;
	struct page pg;
	char url[64];
	char *path = example();
	int error;

	ck_assert_int_eq(kiln_profile_load(&p, path, NULL), 0);
	page_start(&pg, body);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", pg.port);
	so.event_stage = "deploy";
	so.on_event = count_progress;
	so.payload = pr;
	error = kiln_validate_smoke(report, p, url, &so);
	page_stop(&pg);
	kiln_profile_free(p);
	free(path);
	return error;
}

START_TEST(smoke_checks_for_a_deploy)
{
	struct kiln_report *report = NULL;
	struct kiln_profile *p = NULL;
	struct progress pr = {0};
	const struct kiln_result *r;
	char *path = example();

	ck_assert_int_eq(kiln_report_new(&report), 0);
	ck_assert_msg(smoke_against("<h1>Hello from web</h1>", report, &pr) == 0, "%s",
	              kiln_error_last());
	ck_assert_uint_eq(kiln_report_count(report), 1);
	r = kiln_report_result(report, 0);
	ck_assert_str_eq(r->stage, "smoke");
	ck_assert_int_eq(r->passed, 1);
	ck_assert_str_eq(kiln_report_profile(report), "web");
	ck_assert_int_eq(pr.lines, 1);
	ck_assert_str_eq(pr.stage, "deploy");

	/* A page without the text: the check fails saying what it found, into the same report. */
	ck_assert_int_eq(smoke_against("Goodbye", report, &pr), KILN_ERROR);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "Goodbye"));
	ck_assert_uint_eq(kiln_report_count(report), 2);
	r = kiln_report_result(report, 1);
	ck_assert_int_eq(r->passed, 0);
	ck_assert_ptr_nonnull(strstr(r->message, "Goodbye"));
	ck_assert_int_eq(kiln_report_passed(report), 0);

	/* Not an http(s) URL: bad input, nothing runs; the report may be NULL. */
	ck_assert_int_eq(kiln_profile_load(&p, path, NULL), 0);
	ck_assert_int_eq(kiln_validate_smoke(report, p, "ftp://127.0.0.1/", NULL), KILN_EINVAL);
	ck_assert_int_eq(kiln_validate_smoke(NULL, p, "file:///etc/passwd", NULL), KILN_EINVAL);
	ck_assert_uint_eq(kiln_report_count(report), 2);
	kiln_profile_free(p);
	kiln_report_free(report);
	free(path);
}
END_TEST

START_TEST(cloud_opts_as_the_library_lays_them_out)
{
	size_t lib[CLOUD_OPTS_LAYOUT_N];
	const size_t pub[CLOUD_OPTS_LAYOUT_N] = {
	    sizeof(struct kiln_cloud_opts),
	    offsetof(struct kiln_cloud_opts, state_dir),
	    offsetof(struct kiln_cloud_opts, port),
	    offsetof(struct kiln_cloud_opts, cidr),
	    offsetof(struct kiln_cloud_opts, foreground),
	    offsetof(struct kiln_cloud_opts, init_exe),
	    offsetof(struct kiln_cloud_opts, terminated_ttl),
	};
	size_t i;

	cloud_opts_layout(lib);
	for (i = 0; i < CLOUD_OPTS_LAYOUT_N; i++)
		ck_assert_msg(lib[i] == pub[i], "layout item %zu: library %zu, kiln/cloud.h %zu", i,
		              lib[i], pub[i]);
}
END_TEST

/*
 * deploy, rollback and promote run the policy gate first: an organisation's
 * file the example profile breaks stops each with KILN_EINVAL (exit 2) and
 * the local cloud's endpoint, a loopback server counting what it is asked,
 * gets no request.
 */
START_TEST(a_policy_violation_stops_deploy_before_the_cloud)
{
	struct kiln_deploy_options o = KILN_DEPLOY_OPTIONS_INIT;
	struct kiln_deploy_result *r = NULL;
	struct kiln_profile *p = NULL, *q = NULL;
	struct page cloud;
	char org[] = "/tmp/kiln-public-policy-XXXXXX", endpoint[64];
	char *path = example();
	int fd = mkstemp(org);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_gt(write(fd, "{\"max_capacity\": 3}", 19), 0);
	close(fd);
	ck_assert_int_eq(kiln_profile_load(&p, path, NULL), 0);
	ck_assert_int_eq(kiln_profile_load(&q, path, "prod"), 0);
	page_start(&cloud, "{}");
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", cloud.port);
	o.local_endpoint = endpoint;
	o.policy_file = org;
	o.skip_smoke = 1;
	o.image_id = "ami-0123456789abcdef0"; /* no bake key: the deploy goes to the cloud */
	/* Each of them, without the gate, asks the endpoint for the image or the network. */
	ck_assert_int_eq(kiln_deploy(&r, p, &o), KILN_EINVAL);
	ck_assert_int_eq(cloud.served, 0);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), ": policy: deploy.capacity.max is 6"));
	ck_assert_ptr_null(r);
	ck_assert_int_eq(kiln_rollback(&r, p, &o), KILN_EINVAL);
	ck_assert_int_eq(cloud.served, 0);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(kiln_promote(&r, p, q, &o), KILN_EINVAL);
	ck_assert_ptr_null(r);
	page_stop(&cloud);
	ck_assert_int_eq(cloud.served, 0);
	kiln_profile_free(p);
	kiln_profile_free(q);
	unlink(org);
	free(path);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("public");
	TCase *tc = tcase_create("api");

	tcase_add_test(tc, version_and_errors);
	tcase_add_test(tc, free_null_is_a_no_op);
	tcase_add_test(tc, profiles_load_and_tell);
	tcase_add_test(tc, a_refused_stage_does_nothing);
	tcase_add_test(tc, a_refused_deploy_does_nothing);
	tcase_add_test(tc, policy_gate_and_report);
	tcase_add_test(tc, smoke_checks_for_a_deploy);
	tcase_add_test(tc, a_policy_violation_stops_deploy_before_the_cloud);
	tcase_add_test(tc, cloud_opts_as_the_library_lays_them_out);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
