/*
 * The credential chain: each source alone, their order, role assumption
 * with its settings, credential_process, web identity, container and IMDSv2
 * endpoints served by the loopback fixture, and refresh before expiry.
 * Files and environment are set by each test; instance metadata is
 * disabled unless a test points it at the fixture.
 */
#include <check.h>
#include <string.h>
#include <sys/stat.h>

#include "aws/client.h"
#include "aws/creds.h"
#include "aws/metadata.h"
#include "aws/sts.h"
#include "core/common.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include "core/proc.h"

#include "aws_fixture.h"

#define SRC_AKID   "AKIDSOURCEPROFILE"
#define SRC_SECRET "source-profile-secret-8e7d6c"

static struct fixture F;
static char dir[64];
static int fixture_on;

static void setup(void)
{
	aws_env_clean();
	snprintf(dir, sizeof(dir), "/tmp/kiln-test-creds-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	fixture_on = 0;
}

static void teardown(void)
{
	if (fixture_on)
		fixture_stop(&F);
	kiln_rm_rf(dir);
}

static void start(const char *const *args)
{
	fixture_start(&F, args);
	fixture_on = 1;
}

static char *write_file(const char *name, const char *text, mode_t mode)
{
	char *path = kiln_path_join(dir, name);

	ck_assert_int_eq(kiln_file_write_atomic(path, text, strlen(text), mode), 0);
	return path;
}

static void set_file_env(const char *var, const char *name, const char *text)
{
	char *path = write_file(name, text, 0600);

	setenv(var, path, 1);
	free(path);
}

/* A chain provider as a client would build it. */
static struct kiln_creds_provider *chain(void)
{
	struct kiln_aws_config cfg = {0};
	struct kiln_creds_provider *p = NULL;

	cfg.region = "us-east-1";
	cfg.endpoint_url = fixture_on ? F.url : NULL;
	ck_assert_int_eq(kiln_creds_chain_new(&p, &cfg), 0);
	return p;
}

static void expect(struct kiln_creds_provider *p, const char *source, const char *akid)
{
	const struct kiln_creds *c = NULL;
	const char *src = NULL;

	ck_assert_msg(kiln_creds_get(&c, p) == 0, "%s", kiln_error_last());
	ck_assert_int_eq(kiln_creds_source(&src, p), 0);
	ck_assert_str_eq(src, source);
	if (akid != NULL)
		ck_assert_str_eq(c->access_key_id, akid);
}

START_TEST(environment_alone)
{
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-secret-1234", 1);
	setenv("AWS_SESSION_TOKEN", "env-token-5678", 1);
	p = chain();
	expect(p, "environment", "AKIDENV");
	ck_assert_int_eq(kiln_creds_get(&c, p), 0);
	ck_assert_str_eq(c->secret_access_key, "env-secret-1234");
	ck_assert_str_eq(c->session_token, "env-token-5678");
	ck_assert(c->expiration == 0);
	kiln_creds_provider_free(p);
	/* The logger now redacts both. */
	{
		char *r = kiln_log_redact("x env-secret-1234 env-token-5678 AKIDENV");
		ck_assert_str_eq(r, "x *** *** AKIDENV");
		free(r);
	}
}
END_TEST

/* The local cloud's keys are public: "test" in a message stays "test". */
START_TEST(public_static_keys_are_not_redacted)
{
	struct kiln_creds_provider *p = NULL, *q = NULL;
	char *r;

	ck_assert_int_eq(
	    kiln_creds_static_new(&p, "pubkey", "public-test-secret", NULL, KILN_CREDS_PUBLIC), 0);
	r = kiln_log_redact("the public-test-secret listener");
	ck_assert_str_eq(r, "the public-test-secret listener");
	free(r);
	ck_assert_int_eq(kiln_creds_static_new(&q, "key", "private-secret-77", NULL, "static"), 0);
	r = kiln_log_redact("the private-secret-77 listener");
	ck_assert_str_eq(r, "the *** listener");
	free(r);
	kiln_creds_provider_free(p);
	kiln_creds_provider_free(q);
}
END_TEST

START_TEST(environment_partial_is_bad_input)
{
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	p = chain();
	ck_assert_int_eq(kiln_creds_get(&c, p), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "AWS_SECRET_ACCESS_KEY"));
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(profile_static_keys)
{
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;

	set_file_env("AWS_SHARED_CREDENTIALS_FILE", "credentials",
	             "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\n"
	             "aws_secret_access_key = default-secret\n\n"
	             "[dev]\naws_access_key_id=AKIDDEV\naws_secret_access_key=dev-secret\n"
	             "aws_session_token = dev-token\n");
	set_file_env("AWS_CONFIG_FILE", "config",
	             "[profile dev]\nregion = eu-central-1\naws_access_key_id = AKIDFROMCONFIG\n"
	             "s3 =\n  aws_access_key_id = AKIDNESTED\n");
	p = chain();
	expect(p, "profile:default", "AKIDDEFAULT");
	kiln_creds_provider_free(p);
	/* AWS_PROFILE picks the profile; the credentials file wins over config. */
	setenv("AWS_PROFILE", "dev", 1);
	p = chain();
	expect(p, "profile:dev", "AKIDDEV");
	ck_assert_int_eq(kiln_creds_get(&c, p), 0);
	ck_assert_str_eq(c->secret_access_key, "dev-secret");
	ck_assert_str_eq(c->session_token, "dev-token");
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(config_file_keys_and_profile_prefix)
{
	struct kiln_creds_provider *p;

	set_file_env("AWS_CONFIG_FILE", "config",
	             "[default]\nregion=us-east-2\n[profile ops]\naws_access_key_id = AKIDOPS\n"
	             "aws_secret_access_key = ops-secret\n[ops]\naws_access_key_id = WRONG\n");
	setenv("AWS_PROFILE", "ops", 1);
	p = chain();
	expect(p, "profile:ops", "AKIDOPS");
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(missing_named_profile_is_bad_input)
{
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;

	setenv("AWS_PROFILE", "nosuch", 1);
	p = chain();
	ck_assert_int_eq(kiln_creds_get(&c, p), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "profile 'nosuch' not found"));
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(nothing_configured)
{
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;

	p = chain();
	ck_assert_int_eq(kiln_creds_get(&c, p), KILN_EAUTH);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "no AWS credentials"));
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(assume_role_with_source_profile)
{
	const char *args[] = {"--access-key", SRC_AKID, "--secret", SRC_SECRET, NULL};
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;
	json_t *st;

	start(args);
	set_file_env("AWS_SHARED_CREDENTIALS_FILE", "credentials",
	             "[base]\naws_access_key_id = " SRC_AKID "\naws_secret_access_key = " SRC_SECRET
	             "\n");
	set_file_env("AWS_CONFIG_FILE", "config",
	             "[profile deployer]\nrole_arn = arn:aws:iam::123456789012:role/deployer\n"
	             "source_profile = base\nexternal_id = ext-42\nrole_session_name = kiln-ci\n"
	             "duration_seconds = 1800\n");
	setenv("AWS_PROFILE", "deployer", 1);
	p = chain();
	expect(p, "assume-role:profile:deployer", "ASIAFIX000001");
	ck_assert_int_eq(kiln_creds_get(&c, p), 0);
	ck_assert_str_eq(c->secret_access_key, "issued-secret-for-ASIAFIX000001");
	ck_assert_str_eq(c->session_token, "issued-token-000001-9d8c7b");
	ck_assert(c->expiration > kiln_time_now() + 3000);
	st = fixture_stats(&F);
	/* The fixture verified the AssumeRole signature made with the source keys. */
	ck_assert_int_eq(kiln_json_int(st, "assume_role", 0), 1);
	ck_assert_str_eq(kiln_json_str(st, "last_external_id"), "ext-42");
	ck_assert_str_eq(kiln_json_str(st, "last_session_name"), "kiln-ci");
	ck_assert_str_eq(kiln_json_str(st, "last_duration"), "1800");
	json_decref(st);
	/* Still fresh: no second call. */
	ck_assert_int_eq(kiln_creds_get(&c, p), 0);
	ck_assert_int_eq(fixture_stat(&F, "assume_role"), 1);
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(assume_role_chained_and_refreshed)
{
	const char *args[] = {"--access-key", SRC_AKID, "--secret", SRC_SECRET,
	                      "--expiry",     "120",    NULL};
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;

	start(args);
	set_file_env("AWS_CONFIG_FILE", "config",
	             "[profile base]\naws_access_key_id = " SRC_AKID
	             "\naws_secret_access_key = " SRC_SECRET
	             "\n[profile middle]\nrole_arn = arn:aws:iam::123456789012:role/m\n"
	             "source_profile = base\n[profile top]\nrole_arn = arn:aws:iam::1:role/t\n"
	             "source_profile = middle\n");
	setenv("AWS_PROFILE", "top", 1);
	p = chain();
	/* middle's role is assumed first (#1), then top's with #1's keys (#2). */
	expect(p, "assume-role:profile:top", "ASIAFIX000002");
	ck_assert_int_eq(fixture_stat(&F, "assume_role"), 2);
	/* Expiring within the 5 min margin: the next use fetches again. */
	ck_assert_int_eq(kiln_creds_get(&c, p), 0);
	ck_assert_str_ne(c->access_key_id, "ASIAFIX000002");
	ck_assert_int_ge(fixture_stat(&F, "assume_role"), 3);
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(bad_duration_is_bad_input)
{
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;

	set_file_env("AWS_CONFIG_FILE", "config",
	             "[default]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n"
	             "aws_access_key_id = A\naws_secret_access_key = B\nduration_seconds = 1h\n");
	p = chain();
	ck_assert_int_eq(kiln_creds_get(&c, p), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "duration_seconds '1h'"));
	kiln_creds_provider_free(p);
}
END_TEST

/* A profile named by the caller wins over the environment, as in botocore. */
START_TEST(explicit_profile_over_environment)
{
	struct kiln_aws_config cfg = {0};
	struct kiln_creds_provider *p = NULL;

	set_file_env(
	    "AWS_CONFIG_FILE", "config",
	    "[profile named]\naws_access_key_id = AKIDNAMED\naws_secret_access_key = n-s\n");
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
	cfg.region = "us-east-1";
	cfg.profile = "named";
	ck_assert_int_eq(kiln_creds_chain_new(&p, &cfg), 0);
	expect(p, "profile:named", "AKIDNAMED");
	kiln_creds_provider_free(p);
	/* AWS_PROFILE does not: the environment's keys come first. */
	setenv("AWS_PROFILE", "named", 1);
	p = chain();
	expect(p, "environment", "AKIDENV");
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(container_hosts)
{
	ck_assert_int_eq(kiln_creds_container_url_allowed("http://127.0.0.1:8080/creds"), 1);
	ck_assert_int_eq(kiln_creds_container_url_allowed("http://127.3.4.5/creds"), 1);
	ck_assert_int_eq(kiln_creds_container_url_allowed("http://169.254.170.2/v2/creds"), 1);
	ck_assert_int_eq(kiln_creds_container_url_allowed("http://169.254.170.23/v1/creds"), 1);
	ck_assert_int_eq(kiln_creds_container_url_allowed("http://[fd00:ec2::23]/creds"), 1);
	ck_assert_int_eq(kiln_creds_container_url_allowed("http://localhost:9/creds"), 1);
	ck_assert_int_eq(kiln_creds_container_url_allowed("http://[::1]:9/creds"), 1);
	ck_assert_int_eq(kiln_creds_container_url_allowed("https://creds.example.com/x"), 1);
	ck_assert_int_eq(kiln_creds_container_url_allowed("http://127.evil.example/creds"), 0);
	ck_assert_int_eq(kiln_creds_container_url_allowed("http://localhost.evil.example/"), 0);
	ck_assert_int_eq(kiln_creds_container_url_allowed("http://169.254.170.22/"), 0);
	ck_assert_int_eq(kiln_creds_container_url_allowed("http://10.0.0.1/creds"), 0);
	ck_assert_int_eq(kiln_creds_container_url_allowed("ftp://127.0.0.1/creds"), 0);
}
END_TEST

START_TEST(role_without_source_is_bad_input)
{
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;

	set_file_env("AWS_CONFIG_FILE", "config", "[default]\nrole_arn = arn:aws:iam::1:role/x\n");
	p = chain();
	ck_assert_int_eq(kiln_creds_get(&c, p), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "no source_profile"));
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(credential_process)
{
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;
	char *script, *conf;

	script =
	    write_file("creds helper.sh",
	               "#!/bin/sh\n[ \"$1\" = \"--arg with space\" ] || exit 3\n"
	               "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", "
	               "\"SecretAccessKey\": \"proc-secret\", \"SessionToken\": \"proc-token\", "
	               "\"Expiration\": \"2099-01-01T00:00:00Z\"}'\n",
	               0700);
	conf =
	    kiln_xasprintf("[default]\ncredential_process = \"%s\" '--arg with space'\n", script);
	set_file_env("AWS_CONFIG_FILE", "config", conf);
	p = chain();
	expect(p, "process:profile:default", "AKIDPROC");
	ck_assert_int_eq(kiln_creds_get(&c, p), 0);
	ck_assert_str_eq(c->session_token, "proc-token");
	ck_assert(c->expiration > 4000000000.0);
	kiln_creds_provider_free(p);
	free(script);
	free(conf);
}
END_TEST

START_TEST(credential_process_failure)
{
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;
	char *script, *conf;

	script = write_file("bad.sh",
	                    "#!/bin/sh\necho '{\"SecretAccessKey\": \"leaked-secret\"}'\n"
	                    "echo 'sso session expired' >&2\nexit 4\n",
	                    0700);
	conf = kiln_xasprintf("[default]\ncredential_process = %s\n", script);
	set_file_env("AWS_CONFIG_FILE", "config", conf);
	p = chain();
	ck_assert_int_eq(kiln_creds_get(&c, p), KILN_ERROR);
	ck_assert_ptr_nonnull(
	    strstr(kiln_error_last(), "exited with status 4: sso session expired"));
	ck_assert_ptr_null(strstr(kiln_error_last(), "leaked-secret"));
	kiln_creds_provider_free(p);
	free(script);
	free(conf);
}
END_TEST

START_TEST(web_identity)
{
	const char *args[] = {"--web-token", "eyJ.web.identity.token", NULL};
	struct kiln_creds_provider *p;
	json_t *st;

	start(args);
	set_file_env("AWS_WEB_IDENTITY_TOKEN_FILE", "token", "eyJ.web.identity.token\n");
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web", 1);
	setenv("AWS_ROLE_SESSION_NAME", "pod-7", 1);
	p = chain();
	expect(p, "web-identity", "ASIAFIX000001");
	st = fixture_stats(&F);
	ck_assert_int_eq(kiln_json_int(st, "web_identity", 0), 1);
	/* AssumeRoleWithWebIdentity is not signed: the token is the proof. */
	ck_assert_int_eq(kiln_json_int(st, "unsigned", 0), 1);
	ck_assert_str_eq(kiln_json_str(st, "last_session_name"), "pod-7");
	json_decref(st);
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(container_full_uri_with_token)
{
	const char *args[] = {"--container-token", "Bearer c0ntainer", NULL};
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;
	char url[128];

	start(args);
	snprintf(url, sizeof(url), "%s/container/creds", F.url);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer wrong", 1);
	p = chain();
	ck_assert_int_eq(kiln_creds_get(&c, p), KILN_ERROR);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "http 401"));
	kiln_creds_provider_free(p);
	/* The token file wins over the variable. */
	set_file_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "ctoken", "Bearer c0ntainer\n");
	p = chain();
	expect(p, "container", "ASIAFIX000001");
	ck_assert_int_eq(fixture_stat(&F, "container"), 1);
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(container_relative_uri)
{
	const char *args[] = {NULL};
	struct kiln_creds_provider *p;

	start(args);
	kiln_creds_container_host = F.url;
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/container/v2/creds", 1);
	p = chain();
	expect(p, "container", "ASIAFIX000001");
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(container_remote_http_refused)
{
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;

	/* Refused before any connection: plain http only to loopback or the agent. */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.10/creds", 1);
	p = chain();
	ck_assert_int_eq(kiln_creds_get(&c, p), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "must be https"));
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(imds_v2)
{
	const char *args[] = {NULL};
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;
	json_t *st;

	start(args);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", F.url, 1);
	p = chain();
	expect(p, "imds", "ASIAFIX000001");
	ck_assert_int_eq(kiln_creds_get(&c, p), 0);
	ck_assert_str_eq(c->session_token, "issued-token-000001-9d8c7b");
	st = fixture_stats(&F);
	ck_assert_int_eq(kiln_json_int(st, "imds_token", 0), 1);
	ck_assert_int_eq(kiln_json_int(st, "imds_role", 0), 1);
	ck_assert_int_eq(kiln_json_int(st, "imds_creds", 0), 1);
	json_decref(st);
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(imds_refresh_before_expiry)
{
	const char *args[] = {"--expiry", "200", NULL};
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;

	start(args);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", F.url, 1);
	p = chain();
	expect(p, "imds", "ASIAFIX000001");
	/* 200 s left is inside the 5 min margin: fetched again on each use. */
	ck_assert_int_eq(kiln_creds_get(&c, p), 0);
	ck_assert_str_eq(c->access_key_id, "ASIAFIX000002");
	ck_assert_int_eq(fixture_stat(&F, "imds_creds"), 2);
	kiln_creds_provider_free(p);
}
END_TEST

START_TEST(imds_down_is_an_error)
{
	const char *args[] = {NULL};
	struct kiln_creds_provider *p;
	const struct kiln_creds *c;
	char url[64];

	start(args);
	snprintf(url, sizeof(url), "%s", F.url);
	fixture_stop(&F);
	fixture_on = 0;
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	p = chain();
	ck_assert_int_lt(kiln_creds_get(&c, p), 0);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "instance metadata"));
	kiln_creds_provider_free(p);
}
END_TEST

/* Each source set at once; removing the winner each round shows the order. */
START_TEST(chain_order)
{
	const char *args[] = {NULL};
	struct kiln_creds_provider *p;
	char url[128];

	start(args);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", F.url, 1);
	snprintf(url, sizeof(url), "%s/container/creds", F.url);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	set_file_env("AWS_WEB_IDENTITY_TOKEN_FILE", "token", "tok-abcdef");
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web", 1);
	set_file_env(
	    "AWS_SHARED_CREDENTIALS_FILE", "credentials",
	    "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = p-secret\n");
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);

	p = chain();
	expect(p, "environment", "AKIDENV");
	kiln_creds_provider_free(p);
	unsetenv("AWS_ACCESS_KEY_ID");
	p = chain();
	expect(p, "profile:default", "AKIDPROFILE");
	kiln_creds_provider_free(p);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/kiln-test/credentials", 1);
	p = chain();
	expect(p, "web-identity", NULL);
	kiln_creds_provider_free(p);
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	p = chain();
	expect(p, "container", NULL);
	kiln_creds_provider_free(p);
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	p = chain();
	expect(p, "imds", NULL);
	kiln_creds_provider_free(p);
	ck_assert_int_eq(fixture_stat(&F, "web_identity"), 1);
	ck_assert_int_eq(fixture_stat(&F, "container"), 1);
	ck_assert_int_eq(fixture_stat(&F, "imds_creds"), 1);
}
END_TEST

/* End to end: IMDS credentials sign a call the fixture verifies. */
START_TEST(client_uses_chain_credentials)
{
	const char *args[] = {"--access-key", "unused", "--secret", "unused", NULL};
	struct kiln_aws_config cfg = {0};
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	struct kiln_aws *aws = NULL;
	const char *src;

	start(args);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", F.url, 1);
	setenv("AWS_REGION", "eu-north-1", 1);
	setenv("AWS_ENDPOINT_URL_STS", F.url, 1);
	ck_assert_int_eq(kiln_aws_new(&aws, &cfg), 0);
	ck_assert_int_eq(kiln_aws_credential_source(&src, aws), 0);
	ck_assert_str_eq(src, "imds");
	ck_assert_msg(kiln_sts_get_caller_identity(&id, aws) == 0, "%s", kiln_error_last());
	ck_assert_str_eq(id.user_id, "ASIAFIX000001");
	kiln_sts_identity_release(&id);
	kiln_aws_free(aws);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("aws_creds");
	TCase *tc = tcase_create("chain");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, environment_alone);
	tcase_add_test(tc, environment_partial_is_bad_input);
	tcase_add_test(tc, public_static_keys_are_not_redacted);
	tcase_add_test(tc, profile_static_keys);
	tcase_add_test(tc, config_file_keys_and_profile_prefix);
	tcase_add_test(tc, missing_named_profile_is_bad_input);
	tcase_add_test(tc, nothing_configured);
	tcase_add_test(tc, assume_role_with_source_profile);
	tcase_add_test(tc, assume_role_chained_and_refreshed);
	tcase_add_test(tc, role_without_source_is_bad_input);
	tcase_add_test(tc, bad_duration_is_bad_input);
	tcase_add_test(tc, explicit_profile_over_environment);
	tcase_add_test(tc, container_hosts);
	tcase_add_test(tc, credential_process);
	tcase_add_test(tc, credential_process_failure);
	tcase_add_test(tc, web_identity);
	tcase_add_test(tc, container_full_uri_with_token);
	tcase_add_test(tc, container_relative_uri);
	tcase_add_test(tc, container_remote_http_refused);
	tcase_add_test(tc, imds_v2);
	tcase_add_test(tc, imds_refresh_before_expiry);
	tcase_add_test(tc, imds_down_is_an_error);
	tcase_add_test(tc, chain_order);
	tcase_add_test(tc, client_uses_chain_credentials);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
