/*
 * The AWS transport and client against a loopback fixture: retries on
 * throttling, 5xx and timeouts with the attempt counts the server saw, the
 * last AWS error after the attempts run out, timeouts, oversized replies,
 * error mapping, JSON 1.1 calls, endpoint and region resolution, and the
 * backoff and rate limiter arithmetic.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "aws/client.h"
#include "aws/creds.h"
#include "aws/http.h"
#include "aws/sts.h"
#include "core/common.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include "core/proc.h"

#include "aws_fixture.h"

#define AKID   "AKIDEXAMPLEFIXTURE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYFIXTURE"

static struct fixture F;

/* A client on the fixture with static keys and near-instant backoff. */
static struct kiln_aws *client(const char *secret, int adaptive)
{
	struct kiln_aws_config cfg = {0};
	struct kiln_aws *aws = NULL;
	struct kiln_retry *r;

	cfg.region = "us-east-1";
	cfg.endpoint_url = F.url;
	cfg.access_key_id = AKID;
	cfg.secret_access_key = secret;
	ck_assert_int_eq(kiln_aws_new(&aws, &cfg), 0);
	r = kiln_aws_retry_policy(aws);
	r->base_transient = r->base_throttle = 0.001;
	r->adaptive = adaptive;
	return aws;
}

static void start(const char *const *args)
{
	aws_env_clean();
	fixture_start(&F, args);
}

START_TEST(throttling_then_success)
{
	const char *args[] = {"--access-key",     AKID, "--secret", SECRET, "--fail",
	                      "Throttling:400:3", NULL};
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	struct kiln_aws *aws;

	start(args);
	aws = client(SECRET, 0);
	ck_assert_int_eq(kiln_sts_get_caller_identity(&id, aws), 0);
	ck_assert_str_eq(id.account, "123456789012");
	ck_assert_str_eq(id.user_id, AKID);
	ck_assert_str_eq(kiln_aws_last_error()->code, "");
	ck_assert_int_eq(fixture_stat(&F, "api"), 4);
	ck_assert_int_eq(fixture_stat(&F, "failed"), 3);
	kiln_sts_identity_release(&id);
	kiln_aws_free(aws);
	fixture_stop(&F);
}
END_TEST

static const char *const retried_codes[] = {
    "ThrottlingException:400:2",
    "RequestLimitExceeded:503:2",
    "RequestThrottled:400:2",
    "TooManyRequestsException:400:2",
    "SlowDown:503:2",
    "InternalError:500:2",
    "-:502:2",
    "-:503:2",
    "-:429:2",
};

START_TEST(retried_codes_then_success)
{
	const char *args[] = {"--access-key",    AKID, "--secret", SECRET, "--fail",
	                      retried_codes[_i], NULL};
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	struct kiln_aws *aws;

	start(args);
	aws = client(SECRET, 0);
	ck_assert_msg(kiln_sts_get_caller_identity(&id, aws) == 0, "%s: %s", retried_codes[_i],
	              kiln_error_last());
	ck_assert_int_eq(fixture_stat(&F, "api"), 3);
	kiln_sts_identity_release(&id);
	kiln_aws_free(aws);
	fixture_stop(&F);
}
END_TEST

START_TEST(attempts_exhausted_keeps_last_error)
{
	const char *args[] = {"--access-key",      AKID, "--secret", SECRET, "--fail",
	                      "Throttling:400:50", NULL};
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	struct kiln_aws *aws;
	int error;

	start(args);
	setenv("AWS_MAX_ATTEMPTS", "3", 1);
	aws = client(SECRET, 0);
	error = kiln_sts_get_caller_identity(&id, aws);
	ck_assert_int_eq(error, KILN_ERROR);
	ck_assert_str_eq(kiln_aws_last_error()->code, "Throttling");
	ck_assert_str_eq(kiln_aws_last_error()->message, "scripted failure");
	ck_assert_str_eq(kiln_aws_last_error()->request_id, "fixture-req-1");
	ck_assert_int_eq(kiln_aws_last_error()->http_status, 400);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "Throttling: scripted failure"));
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "after 3 attempts"));
	ck_assert_int_eq(fixture_stat(&F, "api"), 3);
	kiln_aws_free(aws);
	fixture_stop(&F);
}
END_TEST

START_TEST(default_max_attempts_is_five)
{
	const char *args[] = {"--fail", "-:500:50", NULL};
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	struct kiln_aws *aws;

	start(args);
	aws = client(SECRET, 0);
	ck_assert_int_eq(kiln_aws_retry_policy(aws)->max_attempts, 5);
	ck_assert_int_eq(kiln_sts_get_caller_identity(&id, aws), KILN_ERROR);
	ck_assert_str_eq(kiln_aws_last_error()->code, "500");
	ck_assert_int_eq(fixture_stat(&F, "api"), 5);
	kiln_aws_free(aws);
	fixture_stop(&F);
}
END_TEST

START_TEST(client_errors_are_not_retried)
{
	const char *args[] = {"--fail", "ValidationError:400:5", NULL};
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	struct kiln_aws *aws;

	start(args);
	aws = client(SECRET, 0);
	ck_assert_int_eq(kiln_sts_get_caller_identity(&id, aws), KILN_ERROR);
	ck_assert_str_eq(kiln_aws_last_error()->code, "ValidationError");
	ck_assert_int_eq(fixture_stat(&F, "api"), 1);
	kiln_aws_free(aws);
	fixture_stop(&F);
}
END_TEST

START_TEST(wrong_secret_is_eauth)
{
	const char *args[] = {"--access-key", AKID, "--secret", SECRET, NULL};
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	struct kiln_aws *aws;

	start(args);
	aws = client("not-the-right-secret-key", 0);
	ck_assert_int_eq(kiln_sts_get_caller_identity(&id, aws), KILN_EAUTH);
	ck_assert_str_eq(kiln_aws_last_error()->code, "SignatureDoesNotMatch");
	ck_assert_ptr_null(strstr(kiln_error_last(), "not-the-right"));
	ck_assert_int_eq(fixture_stat(&F, "api"), 1);
	kiln_aws_free(aws);
	fixture_stop(&F);
}
END_TEST

START_TEST(notfound_codes_map_to_enotfound)
{
	const char *args[] = {"--fail", "ParameterNotFound:400:1", NULL};
	struct kiln_aws *aws;
	json_t *out = NULL, *body = json_pack("{s:s}", "Name", "/missing");

	start(args);
	aws = client(SECRET, 0);
	ck_assert_int_eq(kiln_aws_json(&out, aws, KILN_AWS_SSM, "GetParameter", body),
	                 KILN_ENOTFOUND);
	ck_assert_str_eq(kiln_aws_last_error()->code, "ParameterNotFound");
	ck_assert_ptr_null(out);
	json_decref(body);
	kiln_aws_free(aws);
	fixture_stop(&F);
}
END_TEST

/* What a server says reaches the error slot escaped: no ESC sequence for the terminal. */
START_TEST(server_messages_are_escaped)
{
	const char *args[] = {"--fail", "Bad\\u001b]0;pwned\\u0007Code:400:1", NULL};
	struct kiln_aws *aws;
	json_t *out = NULL, *body = json_pack("{s:s}", "Name", "/x");

	start(args);
	aws = client(SECRET, 0);
	ck_assert_int_eq(kiln_aws_json(&out, aws, KILN_AWS_SSM, "GetParameter", body), KILN_ERROR);
	ck_assert_msg(strcmp(kiln_error_last(),
	                     "ssm GetParameter: Bad\\x1b]0;pwned\\x07Code: scripted failure") == 0,
	              "%s", kiln_error_last());
	json_decref(body);
	kiln_aws_free(aws);
	fixture_stop(&F);
}
END_TEST

START_TEST(json_call_is_signed_and_targeted)
{
	const char *args[] = {"--access-key", AKID, "--secret", SECRET, NULL};
	struct kiln_aws *aws;
	json_t *out = NULL,
	       *body = json_pack("{s:s, s:b}", "Name", "/kiln/test", "WithDecryption", 1);
	json_t *st;

	start(args);
	aws = client(SECRET, 0);
	ck_assert_msg(kiln_aws_json(&out, aws, KILN_AWS_SSM, "GetParameter", body) == 0, "%s",
	              kiln_error_last());
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(out, "Parameter"), "Value")),
	    "fixture-value");
	st = fixture_stats(&F);
	ck_assert_str_eq(kiln_json_str(st, "last_target"), "AmazonSSM.GetParameter");
	json_decref(st);
	json_decref(out);
	json_decref(body);
	kiln_aws_free(aws);
	fixture_stop(&F);
}
END_TEST

/* A client clock 15 minutes behind: the first signature is refused, the Date fixes it. */
START_TEST(clock_skew_is_corrected)
{
	const char *args[] = {"--access-key",   AKID,  "--secret", SECRET,
	                      "--clock-offset", "900", NULL};
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	struct kiln_aws *aws;

	start(args);
	setenv("AWS_MAX_ATTEMPTS", "1", 1);
	aws = client(SECRET, 0);
	ck_assert_msg(kiln_sts_get_caller_identity(&id, aws) == 0, "%s", kiln_error_last());
	ck_assert_int_eq(fixture_stat(&F, "api"), 2);
	kiln_sts_identity_release(&id);
	/* Learnt once: the next call is right the first time. */
	ck_assert_int_eq(kiln_sts_get_caller_identity(&id, aws), 0);
	ck_assert_int_eq(fixture_stat(&F, "api"), 3);
	kiln_sts_identity_release(&id);
	kiln_aws_free(aws);
	fixture_stop(&F);
}
END_TEST

START_TEST(slow_reply_times_out)
{
	const char *args[] = {"--slow", "3000", NULL};
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	struct kiln_aws *aws;
	double t0;

	start(args);
	setenv("AWS_MAX_ATTEMPTS", "2", 1);
	aws = client(SECRET, 0);
	kiln_aws_http_opts(aws)->timeout_ms = 300;
	t0 = kiln_time_mono();
	ck_assert_int_eq(kiln_sts_get_caller_identity(&id, aws), KILN_ETIMEOUT);
	ck_assert_double_lt(kiln_time_mono() - t0, 2.5);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "timed out"));
	ck_assert_int_eq(fixture_stat(&F, "api"), 2);
	kiln_aws_free(aws);
	fixture_stop(&F);
}
END_TEST

START_TEST(oversized_reply_refused)
{
	const char *args[] = {"--big", "3000000", "--chunked", _i ? "1" : "0", NULL};
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	struct kiln_aws *aws;

	start(args);
	aws = client(SECRET, 0);
	kiln_aws_http_opts(aws)->max_body = 1 << 20;
	ck_assert_int_eq(kiln_sts_get_caller_identity(&id, aws), KILN_ETOOBIG);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "larger than 1048576 bytes"));
	/* A cap is not a transient failure: one attempt only. */
	ck_assert_int_eq(fixture_stat(&F, "api"), 1);
	kiln_aws_free(aws);
	fixture_stop(&F);
}
END_TEST

START_TEST(adaptive_mode_slows_down_after_throttling)
{
	const char *args[] = {"--fail", "Throttling:400:2", NULL};
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	struct kiln_aws *aws;
	struct kiln_retry *r;

	start(args);
	aws = client(SECRET, 1);
	r = kiln_aws_retry_policy(aws);
	ck_assert_int_eq(kiln_sts_get_caller_identity(&id, aws), 0);
	ck_assert_int_eq(r->limiter_on, 1);
	/* The token bucket made the retries wait, beyond the backoff. */
	ck_assert_double_gt(r->slept, 0.5);
	ck_assert_double_lt(r->fill_rate, 2.0);
	kiln_sts_identity_release(&id);
	kiln_aws_free(aws);
	fixture_stop(&F);
}
END_TEST

struct hook_log {
	int calls;
	char action[64];
	size_t nparams;
	enum kiln_aws_service svc;
};

static void count_hook(void *arg, enum kiln_aws_service svc, const char *action,
                       const struct kiln_query *params)
{
	struct hook_log *h = arg;

	h->calls++;
	h->svc = svc;
	snprintf(h->action, sizeof(h->action), "%s", action);
	h->nparams = params->count;
}

START_TEST(request_hook_sees_each_query_call)
{
	const char *args[] = {"--fail", "Throttling:400:1", NULL};
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_xml *x = NULL;
	struct hook_log log = {0};
	struct kiln_aws *aws;

	start(args);
	aws = client(SECRET, 0);
	kiln_aws_set_request_hook(aws, count_hook, &log);
	kiln_query_add(&q, "RoleArn", "arn:aws:iam::123456789012:role/r");
	kiln_query_add(&q, "RoleSessionName", "s");
	ck_assert_int_eq(kiln_aws_query(&x, aws, KILN_AWS_STS, "AssumeRole", &q), 0);
	/* Once per call, not per attempt; the caller's parameters are left as they were. */
	ck_assert_int_eq(log.calls, 1);
	ck_assert_int_eq(log.svc, KILN_AWS_STS);
	ck_assert_str_eq(log.action, "AssumeRole");
	ck_assert_uint_eq(log.nparams, 2);
	ck_assert_uint_eq(q.count, 2);
	ck_assert_ptr_nonnull(kiln_xml_find(kiln_xml_root(x), "AssumeRoleResult/Credentials"));
	ck_assert_int_eq(fixture_stat(&F, "api"), 2);
	kiln_xml_free(x);
	kiln_query_release(&q);
	kiln_aws_free(aws);
	fixture_stop(&F);
}
END_TEST

/* One handle per endpoint keeps its connection between calls. */
START_TEST(connection_is_kept_alive)
{
	const char *args[] = {NULL};
	struct kiln_http *h = NULL;
	struct kiln_http_response r = KILN_HTTP_RESPONSE_INIT;
	struct kiln_http_request req = {0};
	char *url;
	int i;

	start(args);
	url = kiln_xasprintf("%s/__stats", F.url);
	req.method = "GET";
	req.url = url;
	ck_assert_int_eq(kiln_http_new(&h, NULL), 0);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(kiln_http_send(&r, h, &req), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_int_eq(r.connects, i == 0 ? 1 : 0);
	}
	kiln_http_response_release(&r);
	kiln_http_free(h);
	free(url);
	fixture_stop(&F);
}
END_TEST

START_TEST(backoff_is_full_jitter_and_capped)
{
	struct kiln_retry r;
	double d;
	int i, attempt;

	aws_env_clean();
	kiln_retry_init(&r);
	ck_assert_int_eq(r.max_attempts, 5);
	r.max_attempts = 30;
	for (attempt = 1; attempt < 30; attempt++) {
		double cap = fmin(20.0, 0.5 * ldexp(1.0, attempt - 1)), max = 0;
		for (i = 0; i < 20; i++) {
			r.quota = 500;
			ck_assert_int_eq(kiln_retry_next(&d, &r, KILN_RETRY_THROTTLE, attempt), 1);
			ck_assert(d >= 0 && d <= cap);
			max = fmax(max, d);
		}
		/* Full jitter spreads over the whole window, not just its top. */
		ck_assert_double_gt(max, cap * 0.3);
	}
	ck_assert_int_eq(kiln_retry_next(&d, &r, KILN_RETRY_THROTTLE, 30), 0);
	ck_assert_int_eq(kiln_retry_next(&d, &r, KILN_RETRY_NONE, 1), 0);
	/* The quota bounds retries when everything fails. */
	r.quota = 4;
	ck_assert_int_eq(kiln_retry_next(&d, &r, KILN_RETRY_TRANSIENT, 1), 0);
}
END_TEST

START_TEST(classification_table)
{
	ck_assert_int_eq(kiln_retry_classify(0, 200, ""), KILN_RETRY_NONE);
	ck_assert_int_eq(kiln_retry_classify(0, 400, "Throttling"), KILN_RETRY_THROTTLE);
	ck_assert_int_eq(kiln_retry_classify(0, 400, "ThrottlingException"), KILN_RETRY_THROTTLE);
	ck_assert_int_eq(kiln_retry_classify(0, 503, "RequestLimitExceeded"), KILN_RETRY_THROTTLE);
	ck_assert_int_eq(kiln_retry_classify(0, 400, "RequestThrottled"), KILN_RETRY_THROTTLE);
	ck_assert_int_eq(kiln_retry_classify(0, 400, "TooManyRequestsException"),
	                 KILN_RETRY_THROTTLE);
	ck_assert_int_eq(kiln_retry_classify(0, 503, "SlowDown"), KILN_RETRY_THROTTLE);
	ck_assert_int_eq(kiln_retry_classify(0, 429, "429"), KILN_RETRY_THROTTLE);
	ck_assert_int_eq(kiln_retry_classify(0, 500, "InternalError"), KILN_RETRY_TRANSIENT);
	ck_assert_int_eq(kiln_retry_classify(0, 504, "504"), KILN_RETRY_TRANSIENT);
	ck_assert_int_eq(kiln_retry_classify(0, 501, "NotImplemented"), KILN_RETRY_NONE);
	ck_assert_int_eq(kiln_retry_classify(0, 400, "ValidationError"), KILN_RETRY_NONE);
	ck_assert_int_eq(kiln_retry_classify(0, 403, "SignatureDoesNotMatch"), KILN_RETRY_NONE);
	ck_assert_int_eq(kiln_retry_classify(KILN_ETIMEOUT, 0, ""), KILN_RETRY_TIMEOUT);
	ck_assert_int_eq(kiln_retry_classify(KILN_ERROR, 0, ""), KILN_RETRY_TRANSIENT);
	ck_assert_int_eq(kiln_retry_classify(KILN_ETOOBIG, 200, ""), KILN_RETRY_NONE);
}
END_TEST

START_TEST(connection_refused_is_retried)
{
	struct kiln_aws_config cfg = {0};
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	struct kiln_aws *aws = NULL;
	const char *args[] = {NULL};
	char url[64];

	/* A port that was just free: start a fixture, stop it, reuse its port. */
	start(args);
	snprintf(url, sizeof(url), "%s", F.url);
	fixture_stop(&F);
	setenv("AWS_MAX_ATTEMPTS", "3", 1);
	cfg.region = "us-east-1";
	cfg.endpoint_url = url;
	cfg.access_key_id = AKID;
	cfg.secret_access_key = SECRET;
	ck_assert_int_eq(kiln_aws_new(&aws, &cfg), 0);
	kiln_aws_retry_policy(aws)->base_transient = 0.001;
	ck_assert_int_eq(kiln_sts_get_caller_identity(&id, aws), KILN_ERROR);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "after 3 attempts"));
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "cannot reach"));
	kiln_aws_free(aws);
}
END_TEST

START_TEST(endpoints_and_region_resolution)
{
	struct kiln_aws_config cfg = {0};
	struct kiln_aws *aws = NULL;
	char dir[] = "/tmp/kiln-test-ep-XXXXXX", *config;
	const char *conf =
	    "[profile ep]\nregion = eu-west-3\nendpoint_url = http://127.0.0.1:9/\n"
	    "services = local\n"
	    "[default]\nregion = ap-south-1\n"
	    "[services local]\nauto_scaling =\n  endpoint_url = http://127.0.0.1:8/as\n"
	    "elastic_load_balancing_v2 =\n  endpoint_url = http://127.0.0.1:7\n";

	aws_env_clean();
	ck_assert_ptr_nonnull(mkdtemp(dir));
	config = kiln_path_join(dir, "config");
	ck_assert_int_eq(kiln_file_write_atomic(config, conf, strlen(conf), 0600), 0);
	setenv("AWS_CONFIG_FILE", config, 1);
	cfg.access_key_id = AKID;
	cfg.secret_access_key = SECRET;

	/* Default profile: its region, AWS's regional endpoints. */
	ck_assert_int_eq(kiln_aws_new(&aws, &cfg), 0);
	ck_assert_str_eq(kiln_aws_region(aws), "ap-south-1");
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_EC2),
	                 "https://ec2.ap-south-1.amazonaws.com");
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_ELBV2),
	                 "https://elasticloadbalancing.ap-south-1.amazonaws.com");
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_AUTOSCALING),
	                 "https://autoscaling.ap-south-1.amazonaws.com");
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_STS),
	                 "https://sts.ap-south-1.amazonaws.com");
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_SSM),
	                 "https://ssm.ap-south-1.amazonaws.com");
	kiln_aws_free(aws);

	/* AWS_DEFAULT_REGION over the profile, AWS_REGION over both. */
	setenv("AWS_DEFAULT_REGION", "us-west-1", 1);
	ck_assert_int_eq(kiln_aws_new(&aws, &cfg), 0);
	ck_assert_str_eq(kiln_aws_region(aws), "us-west-1");
	kiln_aws_free(aws);
	setenv("AWS_REGION", "cn-north-1", 1);
	ck_assert_int_eq(kiln_aws_new(&aws, &cfg), 0);
	ck_assert_str_eq(kiln_aws_region(aws), "cn-north-1");
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_EC2),
	                 "https://ec2.cn-north-1.amazonaws.com.cn");
	kiln_aws_free(aws);
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");

	/* The profile's endpoint_url, then the global and per-service variables. */
	setenv("AWS_PROFILE", "ep", 1);
	ck_assert_int_eq(kiln_aws_new(&aws, &cfg), 0);
	ck_assert_str_eq(kiln_aws_region(aws), "eu-west-3");
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_STS), "http://127.0.0.1:9/");
	/* The profile's [services] section over its endpoint_url. */
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_AUTOSCALING), "http://127.0.0.1:8/as");
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_ELBV2), "http://127.0.0.1:7");
	kiln_aws_free(aws);
	/* The variables over the profile. */
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:10", 1);
	ck_assert_int_eq(kiln_aws_new(&aws, &cfg), 0);
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_AUTOSCALING), "http://127.0.0.1:10");
	kiln_aws_free(aws);
	/* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns all of it off. */
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	ck_assert_int_eq(kiln_aws_new(&aws, &cfg), 0);
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_AUTOSCALING),
	                 "https://autoscaling.eu-west-3.amazonaws.com");
	kiln_aws_free(aws);
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:10", 1);
	setenv("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "http://127.0.0.1:11", 1);
	setenv("AWS_ENDPOINT_URL_AUTO_SCALING", "http://127.0.0.1:12", 1);
	setenv("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:13", 1);
	setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:14", 1);
	setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:15", 1);
	ck_assert_int_eq(kiln_aws_new(&aws, &cfg), 0);
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_ELBV2), "http://127.0.0.1:11");
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_AUTOSCALING), "http://127.0.0.1:12");
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_SSM), "http://127.0.0.1:13");
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_STS), "http://127.0.0.1:14");
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_EC2), "http://127.0.0.1:15");
	kiln_aws_free(aws);
	unsetenv("AWS_ENDPOINT_URL_EC2");
	ck_assert_int_eq(kiln_aws_new(&aws, &cfg), 0);
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_EC2), "http://127.0.0.1:10");
	kiln_aws_free(aws);
	/* An explicit endpoint wins over everything. */
	cfg.endpoint_url = "http://127.0.0.1:16";
	ck_assert_int_eq(kiln_aws_new(&aws, &cfg), 0);
	ck_assert_str_eq(kiln_aws_endpoint(aws, KILN_AWS_STS), "http://127.0.0.1:16");
	kiln_aws_free(aws);
	cfg.endpoint_url = NULL;
	/* No region anywhere is bad input. */
	setenv("AWS_PROFILE", "nothing", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/kiln-test/config", 1);
	ck_assert_int_eq(kiln_aws_new(&aws, &cfg), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "no AWS region"));
	ck_assert_int_eq(kiln_rm_rf(dir), 0);
	free(config);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("aws_http");
	TCase *tc = tcase_create("transport");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, throttling_then_success);
	tcase_add_test(tc, server_messages_are_escaped);
	tcase_add_loop_test(tc, retried_codes_then_success, 0, KILN_ARRAY_SIZE(retried_codes));
	tcase_add_test(tc, attempts_exhausted_keeps_last_error);
	tcase_add_test(tc, default_max_attempts_is_five);
	tcase_add_test(tc, client_errors_are_not_retried);
	tcase_add_test(tc, wrong_secret_is_eauth);
	tcase_add_test(tc, notfound_codes_map_to_enotfound);
	tcase_add_test(tc, json_call_is_signed_and_targeted);
	tcase_add_test(tc, clock_skew_is_corrected);
	tcase_add_test(tc, slow_reply_times_out);
	tcase_add_loop_test(tc, oversized_reply_refused, 0, 2);
	tcase_add_test(tc, adaptive_mode_slows_down_after_throttling);
	tcase_add_test(tc, request_hook_sees_each_query_call);
	tcase_add_test(tc, connection_is_kept_alive);
	tcase_add_test(tc, backoff_is_full_jitter_and_capped);
	tcase_add_test(tc, classification_table);
	tcase_add_test(tc, connection_refused_is_retried);
	tcase_add_test(tc, endpoints_and_region_resolution);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
