/*
 * Test helpers for the AWS transport and credential suites: start and stop
 * tests/fixtures/aws_fixture_server on a free loopback port, read its
 * counters, and give each test a clean AWS environment that can never reach
 * a real metadata address (AWS_EC2_METADATA_DISABLED unless a test points
 * AWS_EC2_METADATA_SERVICE_ENDPOINT at the fixture).
 */
#ifndef KILN_TEST_AWS_FIXTURE_H
#define KILN_TEST_AWS_FIXTURE_H

#include <check.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "aws/http.h"
#include "core/common.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include "core/proc.h"

struct fixture {
	struct kiln_proc proc;
	int port;
	char url[64];
};

static void fixture_start(struct fixture *f, const char *const *args)
{
	const char *dir = getenv("KILN_BUILD_DIR");
	struct kiln_proc_opts o = {.in = KILN_PROC_NULL, .out = KILN_PROC_PIPE};
	char *argv[32], line[32];
	char *path = kiln_xasprintf("%s/aws_fixture_server", dir ? dir : ".");
	struct pollfd pfd;
	size_t n = 0, i;
	ssize_t r;

	argv[n++] = path;
	argv[n++] = "--lifetime";
	argv[n++] = "60";
	for (i = 0; args != NULL && args[i] != NULL && n < 30; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	memset(f, 0, sizeof(*f));
	f->proc = (struct kiln_proc)KILN_PROC_INIT;
	ck_assert_int_eq(kiln_proc_start(&f->proc, argv, &o), 0);
	pfd.fd = f->proc.out_fd;
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
	r = read(f->proc.out_fd, line, sizeof(line) - 1);
	ck_assert_int_gt(r, 0);
	line[r] = '\0';
	f->port = atoi(line);
	ck_assert_int_gt(f->port, 0);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
	free(path);
}

static void fixture_stop(struct fixture *f)
{
	int status;

	kiln_proc_kill(&f->proc, SIGTERM);
	kiln_proc_finish(&f->proc, &status);
}

/* The fixture's counters (a new reference). */
static json_t *fixture_stats(struct fixture *f)
{
	struct kiln_http *h = NULL;
	struct kiln_http_response r = KILN_HTTP_RESPONSE_INIT;
	struct kiln_http_request req = {0};
	char *url = kiln_xasprintf("%s/__stats", f->url);
	json_t *j;

	ck_assert_int_eq(kiln_http_new(&h, NULL), 0);
	req.method = "GET";
	req.url = url;
	ck_assert_int_eq(kiln_http_send(&r, h, &req), 0);
	ck_assert_int_eq(r.status, 200);
	j = json_loadb(r.body.ptr, r.body.size, 0, NULL);
	ck_assert_ptr_nonnull(j);
	kiln_http_response_release(&r);
	kiln_http_free(h);
	free(url);
	return j;
}

static long long fixture_stat(struct fixture *f, const char *key)
{
	json_t *j = fixture_stats(f);
	long long v = kiln_json_int(j, key, -1);

	json_decref(j);
	return v;
}

static void aws_env_clean(void)
{
	static const char *const vars[] = {
	    "AWS_ACCESS_KEY_ID",
	    "AWS_SECRET_ACCESS_KEY",
	    "AWS_SESSION_TOKEN",
	    "AWS_PROFILE",
	    "AWS_DEFAULT_PROFILE",
	    "AWS_REGION",
	    "AWS_DEFAULT_REGION",
	    "AWS_ENDPOINT_URL",
	    "AWS_ENDPOINT_URL_EC2",
	    "AWS_ENDPOINT_URL_STS",
	    "AWS_ENDPOINT_URL_SSM",
	    "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
	    "AWS_ENDPOINT_URL_AUTO_SCALING",
	    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	    "AWS_WEB_IDENTITY_TOKEN_FILE",
	    "AWS_ROLE_ARN",
	    "AWS_ROLE_SESSION_NAME",
	    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
	    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
	    "AWS_MAX_ATTEMPTS",
	    "AWS_RETRY_MODE",
	    "http_proxy",
	    "https_proxy",
	    "HTTP_PROXY",
	    "HTTPS_PROXY",
	    "ALL_PROXY",
	    "all_proxy",
	};
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(vars); i++)
		unsetenv(vars[i]);
	/* Never the real instance metadata address from a test. */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/kiln-test/config", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/kiln-test/credentials", 1);
	setenv("HOME", "/nonexistent/kiln-test", 1);
}

#endif
