/*
 * The local cloud's ELBv2 API in process, without root: requests signed for
 * elasticloadbalancing go straight into lc_api_handle() over a cloud opened
 * on a temporary state directory (tests/fixtures/lc_cloud_fixture.h). Only
 * what needs no HAProxy: target groups, and requests refused before any
 * load balancer is touched. Errors are ELBv2's: ValidationError naming the
 * member as AWS's messages do, the kind's NotFound only for an ARN of its
 * kind, integers and Markers spelt as the SDKs spell them.
 */
#include <check.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/cloud-int.h"
#include "tests/fixtures/lc_api_call.h"
#include "tests/fixtures/lc_cloud_fixture.h"

static struct lc_cloud cloud;
static char state_dir[64];
static char vpc[64];

static void setup(void)
{
	const char *k;
	json_t *v;

	ck_assert_msg(lc_fixture_open(&cloud, state_dir, sizeof(state_dir)) == 0, "%s",
	              kiln_error_last());
	vpc[0] = '\0';
	pthread_mutex_lock(&cloud.mu);
	json_object_foreach(lc_table(&cloud, "vpcs"), k, v)
	{
		snprintf(vpc, sizeof(vpc), "%s", k);
		break;
	}
	pthread_mutex_unlock(&cloud.mu);
	ck_assert_msg(vpc[0] != '\0', "the fixture's cloud has no VPC");
}

static void teardown(void)
{
	lc_fixture_close(&cloud, state_dir);
}

/* An ELBv2 action and "Key=Value" pairs (values encoded here), NULL-terminated. */
static struct reply call(const char *action, ...)
{
	struct reply r;
	va_list ap;

	va_start(ap, action);
	r = lc_call_query(&cloud, "elasticloadbalancing", "2015-12-01", action, ap);
	va_end(ap);
	return r;
}

/* The request is refused with `code`, and its message holds `needle` (or NULL). */
static void refused(struct reply r, const char *code, const char *needle)
{
	ck_assert_msg(r.status == 400, "HTTP %d: %s", r.status, r.body);
	ck_assert_msg(strcmp(text(&r, "Error/Code"), code) == 0, "want %s: %s", code, r.body);
	ck_assert_msg(strcmp(text(&r, "Error/Type"), "Sender") == 0, "%s", r.body);
	if (needle)
		ck_assert_msg(strstr(text(&r, "Error/Message"), needle) != NULL, "want '%s' in %s",
		              needle, r.body);
	reply_free(&r);
}

/* A target group on `port` (the request's spelling), its reply. */
static struct reply create_group(const char *name, const char *port)
{
	char *n = kiln_xasprintf("Name=%s", name), *p = kiln_xasprintf("Port=%s", port),
	     *v = kiln_xasprintf("VpcId=%s", vpc);
	struct reply r = call("CreateTargetGroup", n, "Protocol=HTTP", p, v, NULL);

	free(n);
	free(p);
	free(v);
	return r;
}

static size_t groups_stored(void)
{
	size_t n;

	pthread_mutex_lock(&cloud.mu);
	n = json_object_size(lc_table(&cloud, "target_groups"));
	pthread_mutex_unlock(&cloud.mu);
	return n;
}

/*
 * Integers are digits as the SDKs write them: " 80", "+80", "80 " and
 * "0x50" are refused as ELBv2 refuses a value (ValidationError), and
 * nothing is stored; the member is named in AWS's words.
 */
START_TEST(integers_are_spelt_as_the_sdks_spell_them)
{
	static const char *const bad[] = {" 80", "+80", "80 ", "0x50", "8O", "-80"};
	struct reply r;

	for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++)
		refused(create_group("tg-int", bad[i]), "ValidationError", "'port'");
	ck_assert_uint_eq(groups_stored(), 0);
	refused(call("DescribeTargetGroups", "PageSize= 5", NULL), "ValidationError", "'pageSize'");
	refused(call("DescribeTargetGroups", "PageSize=+5", NULL), "ValidationError", "'pageSize'");
	refused(
	    call("DescribeTargetGroups", "PageSize=401", NULL), "ValidationError",
	    "Value '401' at 'pageSize' failed to satisfy constraint: Member must have value less "
	    "than or equal to 400");
	r = create_group("tg-int", "80");
	ck_assert_msg(r.status == 200, "%s", r.body);
	ck_assert_str_eq(text(&r, "CreateTargetGroupResult/TargetGroups/member/Port"), "80");
	reply_free(&r);
	ck_assert_uint_eq(groups_stored(), 1);
}
END_TEST

/*
 * Values that reach HAProxy's configuration (health check port, matcher,
 * attributes) are spelt strictly too: " 80", "+200" and " 5" would be
 * stored as sent and written into haproxy.cfg.
 */
START_TEST(values_for_haproxy_are_spelt_strictly)
{
	static const char *const ports[] = {" 80", "+80", "80 ", "0x50"};
	static const char *const matchers[] = {" 200", "+200", "200- 299", "200-+299", "200, 202"};
	static const char *const delays[] = {" 5", "+5", "5 ", "0x5"};
	struct reply r = create_group("tg-strict", "80");
	char *arn, *g, *q;

	ck_assert_msg(r.status == 200, "%s", r.body);
	arn = kiln_xstrdup(text(&r, "CreateTargetGroupResult/TargetGroups/member/TargetGroupArn"));
	reply_free(&r);
	g = kiln_xasprintf("TargetGroupArn=%s", arn);
	for (size_t i = 0; i < KILN_ARRAY_SIZE(ports); i++) {
		q = kiln_xasprintf("HealthCheckPort=%s", ports[i]);
		refused(call("ModifyTargetGroup", g, q, NULL), "ValidationError",
		        "HealthCheckPort");
		free(q);
	}
	for (size_t i = 0; i < KILN_ARRAY_SIZE(matchers); i++) {
		q = kiln_xasprintf("Matcher.HttpCode=%s", matchers[i]);
		refused(call("ModifyTargetGroup", g, q, NULL), "ValidationError", NULL);
		free(q);
	}
	for (size_t i = 0; i < KILN_ARRAY_SIZE(delays); i++) {
		q = kiln_xasprintf("Attributes.member.1.Value=%s", delays[i]);
		refused(call("ModifyTargetGroupAttributes", g,
		             "Attributes.member.1.Key=deregistration_delay.timeout_seconds", q,
		             NULL),
		        "ValidationError", "deregistration_delay.timeout_seconds");
		free(q);
	}
	r = call("ModifyTargetGroup", g, "HealthCheckPort=8080", "Matcher.HttpCode=200-299,302",
	         NULL);
	ck_assert_msg(r.status == 200, "%s", r.body);
	ck_assert_str_eq(text(&r, "ModifyTargetGroupResult/TargetGroups/member/HealthCheckPort"),
	                 "8080");
	ck_assert_str_eq(text(&r, "ModifyTargetGroupResult/TargetGroups/member/Matcher/HttpCode"),
	                 "200-299,302");
	reply_free(&r);
	r = call("DescribeTargetGroupAttributes", g, NULL);
	ck_assert_msg(r.status == 200, "%s", r.body);
	ck_assert_msg(
	    strstr(r.body, "<Key>deregistration_delay.timeout_seconds</Key><Value>300</Value>") !=
	        NULL,
	    "the delay changed: %s", r.body);
	reply_free(&r);
	free(g);
	free(arn);
}
END_TEST

/* A missing member is ValidationError "Value null at 'member'", not EC2's MissingParameter. */
START_TEST(missing_members_are_validation_errors)
{
	char *v = kiln_xasprintf("VpcId=%s", vpc);

	refused(call("CreateTargetGroup", "Protocol=HTTP", "Port=80", v, NULL), "ValidationError",
	        "Value null at 'name' failed to satisfy constraint: Member must not be null");
	refused(call("DescribeTargetHealth", NULL), "ValidationError",
	        "Value null at 'targetGroupArn'");
	refused(call("DescribeTags", NULL), "ValidationError", "Value null at 'resourceArns'");
	refused(
	    call("CreateTargetGroup", "Name=tg-hc", "Protocol=HTTP", "Port=80", v,
	         "HealthCheckIntervalSeconds=301", NULL),
	    "ValidationError",
	    "Value '301' at 'healthCheckIntervalSeconds' failed to satisfy constraint: Member must "
	    "have value less than or equal to 300");
	ck_assert_uint_eq(groups_stored(), 0);
	free(v);
}
END_TEST

/*
 * An ARN of another kind, or no ARN, is a ValidationError naming the kind
 * wanted; an ARN of the right kind that names nothing is the kind's NotFound.
 */
START_TEST(arns_of_another_kind_are_validation_errors)
{
	struct reply r = create_group("tg-arn", "80");
	char *arn, *lb_arn, *q, *unknown;

	ck_assert_msg(r.status == 200, "%s", r.body);
	arn = kiln_xstrdup(text(&r, "CreateTargetGroupResult/TargetGroups/member/TargetGroupArn"));
	reply_free(&r);
	ck_assert_ptr_nonnull(strstr(arn, ":targetgroup/tg-arn/"));
	lb_arn = kiln_xasprintf("%.*s:loadbalancer/app/elb/0123456789abcdef",
	                        (int)(strstr(arn, ":targetgroup/") - arn), arn);
	unknown = kiln_xasprintf("%.*s/0123456789abcdef", (int)(strrchr(arn, '/') - arn), arn);

	q = kiln_xasprintf("TargetGroupArns.member.1=%s", lb_arn);
	refused(call("DescribeTargetGroups", q, NULL), "ValidationError",
	        "is not a valid target group ARN");
	free(q);
	q = kiln_xasprintf("LoadBalancerArns.member.1=%s", arn);
	refused(call("DescribeLoadBalancers", q, NULL), "ValidationError",
	        "is not a valid load balancer ARN");
	free(q);
	refused(call("DescribeListeners", "ListenerArns.member.1=listener-80", NULL),
	        "ValidationError", "is not a valid listener ARN");
	refused(call("DescribeTags", "ResourceArns.member.1=tg-arn", NULL), "ValidationError",
	        "is not a valid Elastic Load Balancing resource ARN");
	q = kiln_xasprintf("TargetGroupArns.member.1=%s", unknown);
	refused(call("DescribeTargetGroups", q, NULL), "TargetGroupNotFound", unknown);
	free(q);
	q = kiln_xasprintf("LoadBalancerArn=%s", lb_arn);
	refused(call("DescribeLoadBalancerAttributes", q, NULL), "LoadBalancerNotFound", lb_arn);
	free(q);
	q = kiln_xasprintf("TargetGroupArns.member.1=%s", arn);
	r = call("DescribeTargetGroups", q, NULL);
	ck_assert_msg(r.status == 200, "%s", r.body);
	ck_assert_str_eq(text(&r, "DescribeTargetGroupsResult/TargetGroups/member/TargetGroupName"),
	                 "tg-arn");
	reply_free(&r);
	free(q);
	free(unknown);
	free(lb_arn);
	free(arn);
}
END_TEST

/* Markers are offsets this cloud handed out: the walk sees each group once; others are refused. */
START_TEST(markers_are_the_clouds_own)
{
	static const char *const bad[] = {"0", "00", "-1", "+1", " 1", "garbage", "99999999999"};
	struct reply r;
	char *marker, *q;

	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "tg-page-%d", i);
		r = create_group(name, "80");
		ck_assert_msg(r.status == 200, "%s", r.body);
		reply_free(&r);
	}
	r = call("DescribeTargetGroups", "PageSize=2", NULL);
	ck_assert_msg(r.status == 200, "%s", r.body);
	marker = kiln_xstrdup(text(&r, "DescribeTargetGroupsResult/NextMarker"));
	reply_free(&r);
	ck_assert_msg(marker[0] != '\0', "no NextMarker after 2 of 3");
	q = kiln_xasprintf("Marker=%s", marker);
	r = call("DescribeTargetGroups", "PageSize=2", q, NULL);
	ck_assert_msg(r.status == 200, "%s", r.body);
	ck_assert_str_eq(text(&r, "DescribeTargetGroupsResult/NextMarker"), "");
	ck_assert_str_eq(text(&r, "DescribeTargetGroupsResult/TargetGroups/member/TargetGroupName"),
	                 "tg-page-2");
	reply_free(&r);
	free(q);
	free(marker);
	for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
		q = kiln_xasprintf("Marker=%s", bad[i]);
		refused(call("DescribeTargetGroups", q, NULL), "ValidationError", "Marker");
		free(q);
	}
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("localcloud_elbv2");
	TCase *tc = tcase_create("api");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, integers_are_spelt_as_the_sdks_spell_them);
	tcase_add_test(tc, values_for_haproxy_are_spelt_strictly);
	tcase_add_test(tc, missing_members_are_validation_errors);
	tcase_add_test(tc, arns_of_another_kind_are_validation_errors);
	tcase_add_test(tc, markers_are_the_clouds_own);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
