/*
 * The local cloud's API in process, without root: signed requests go
 * straight into lc_api_handle() over a cloud opened on a temporary state
 * directory, whose machines are stand-ins (no namespaces, no network). The
 * replies are parsed as XML and the state is checked, so that a handler's
 * mistake shows here in milliseconds.
 */
#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws/query.h"
#include "aws/shapes.h"
#include "aws/sigv4.h"
#include "aws/xml.h"
#include "core/json.h"
#include "core/util.h"
#include "localcloud/api-int.h"
#include "localcloud/cloud-int.h"
#include "localcloud/cloud.h"
#include "localcloud/describe-int.h"
#include "localcloud/ec2-int.h"
#include "localcloud/net-int.h"
#include "tests/fixtures/lc_api_call.h"
#include "tests/fixtures/lc_cloud_fixture.h"

/* ---- the fixture -------------------------------------------------------- */

static struct lc_cloud cloud;
static char state_dir[64];

static void setup(void)
{
	ck_assert_msg(lc_fixture_open(&cloud, state_dir, sizeof(state_dir)) == 0, "%s",
	              kiln_error_last());
}

static void teardown(void)
{
	lc_fixture_close(&cloud, state_dir);
}

/* A request's reply, parsed. */
static struct reply answer(const struct lc_http_request *in)
{
	return lc_call_answer(&cloud, in);
}

static struct reply signed_call(const char *service, const char *const *extra,
                                const char *signed_body, const char *sent_body)
{
	return lc_call_signed(&cloud, service, extra, signed_body, sent_body);
}

/* One request with `body` (form-encoded), signed for `service`, answered in process. */
static struct reply raw_call(const char *service, const char *body)
{
	return signed_call(service, NULL, body, body);
}

/* An EC2 action and "Key=Value" pairs (values encoded here), NULL-terminated. */
static struct reply call(const char *action, ...)
{
	struct reply r;
	va_list ap;

	va_start(ap, action);
	r = lc_call_query(&cloud, "ec2", "2016-11-15", action, ap);
	va_end(ap);
	return r;
}

static const char *error_code(const struct reply *r)
{
	return text(r, "Errors/Error/Code");
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static char *base_image(void)
{
	struct reply r;
	char *layer = lc_new_id("layer-"), *dir = kiln_path_join(cloud.layers_dir, layer), *arg,
	     *id;

	ck_assert_int_eq(kiln_mkdir_p(dir, 0755), 0);
	arg = kiln_xasprintf("LayerId=%s", layer);
	r = call("KilnRegisterLayerImage", "Name=base", arg, NULL);
	ck_assert_msg(r.status == 200, "%s", r.body);
	id = kiln_xstrdup(text(&r, "imageId"));
	reply_free(&r);
	free(arg);
	free(dir);
	free(layer);
	return id;
}

/* ---- the bugs of issue 9 ------------------------------------------------ */

/* Instances of one RunInstances each have their own tags and groups. */
START_TEST(run_instances_tags_are_per_instance)
{
	char *image = base_image(), *arg = kiln_xasprintf("ImageId=%s", image), *res1;
	struct reply r, d;
	json_t *i1, *i2;

	r = call("RunInstances", arg, "MinCount=2", "MaxCount=2",
	         "TagSpecification.1.ResourceType=instance", "TagSpecification.1.Tag.1.Key=batch",
	         "TagSpecification.1.Tag.1.Value=two", NULL);
	ck_assert_msg(r.status == 200, "%s", r.body);
	ck_assert_int_eq(count(r.body, "<instanceId>"), 2);
	res1 = kiln_xasprintf("ResourceId.1=%s", text(&r, "instancesSet/item/instanceId"));
	d = call("CreateTags", res1, "Tag.1.Key=only", "Tag.1.Value=first", NULL);
	ck_assert_msg(d.status == 200, "%s", d.body);
	reply_free(&d);
	pthread_mutex_lock(&cloud.mu);
	{
		const char *k;
		json_t *v;
		i1 = i2 = NULL;
		json_object_foreach(lc_instances(&cloud), k, v)
		{
			if (i1 == NULL)
				i1 = v;
			else
				i2 = v;
		}
		ck_assert_ptr_ne(json_object_get(i1, "tags"), json_object_get(i2, "tags"));
		ck_assert_ptr_ne(json_object_get(i1, "groups"), json_object_get(i2, "groups"));
		ck_assert_int_eq(json_object_size(json_object_get(i1, "tags")) +
		                     json_object_size(json_object_get(i2, "tags")),
		                 3);
	}
	pthread_mutex_unlock(&cloud.mu);
	d = call("DescribeInstances", "Filter.1.Name=tag:only", "Filter.1.Value.1=first", NULL);
	ck_assert_int_eq(count(d.body, "<instanceId>"), 1);
	reply_free(&d);
	reply_free(&r);
	free(res1);
	free(arg);
	free(image);
}
END_TEST

/* The capture workers' count is the daemon's, not the state's: a crash leaves none behind. */
START_TEST(image_workers_are_not_saved)
{
	struct kiln_cloud_opts o = {.cidr = "10.214.99.0/24"};
	char *path = kiln_path_join(state_dir, "state.json");
	json_t *st;
	double t0;

	lc_instances_shutdown(&cloud);
	lc_cloud_close(&cloud);
	/* what a daemon that crashed during CreateImage saved before this fix */
	st = json_pack("{s:i, s:i}", "version", 1, "workers", 3);
	ck_assert_int_eq(json_dump_file(st, path, 0), 0);
	json_decref(st);
	ck_assert_int_eq(lc_cloud_open(&cloud, &o, state_dir), 0);
	cloud.machines = &fake_machines;
	t0 = kiln_time_mono();
	lc_instances_shutdown(&cloud);
	ck_assert_msg(kiln_time_mono() - t0 < 1.0, "shutdown waited for workers that do not exist");
	pthread_mutex_lock(&cloud.mu);
	ck_assert_int_eq(lc_state_save(&cloud), 0);
	pthread_mutex_unlock(&cloud.mu);
	ck_assert_int_eq(kiln_json_load_file(&st, path), 0);
	ck_assert_ptr_null(json_object_get(st, "workers"));
	json_decref(st);
	cloud.stopping = 0;
	free(path);
}
END_TEST

/* Empty values count as absent, as EC2 treats them. */
START_TEST(empty_parameters_are_absent)
{
	char *image = base_image(), *arg = kiln_xasprintf("ImageId=%s", image);
	struct reply r;

	r = call("CreateSecurityGroup", "GroupName=x", "GroupDescription=d", "VpcId=", NULL);
	ck_assert_msg(r.status == 200, "%s", r.body);
	ck_assert_int_eq(strncmp(text(&r, "groupId"), "sg-", 3), 0);
	reply_free(&r);
	r = call("RunInstances", arg, "MinCount=1", "MaxCount=1",
	         "SubnetId=", "KeyName=", "InstanceType=t3.micro", NULL);
	ck_assert_msg(r.status == 200, "%s", r.body);
	reply_free(&r);
	r = call("DescribeInstances", "NextToken=", "MaxResults=5", NULL);
	ck_assert_msg(r.status == 200, "%s", r.body);
	reply_free(&r);
	free(arg);
	free(image);
}
END_TEST

/* The most recent 64 KiB of a console, however large it grew. */
START_TEST(console_output_is_the_last_64k)
{
	char *image = base_image(), *arg = kiln_xasprintf("ImageId=%s", image), *id, *dir, *log;
	const char *tail = "the very last line\n";
	struct kiln_buf decoded = KILN_BUF_INIT;
	struct reply r;
	int fd;

	r = call("RunInstances", arg, "MinCount=1", "MaxCount=1", NULL);
	ck_assert_int_eq(r.status, 200);
	id = kiln_xasprintf("InstanceId=%s", text(&r, "instancesSet/item/instanceId"));
	dir = kiln_path_join(cloud.instances_dir, id + strlen("InstanceId="));
	log = kiln_path_join(dir, "console.log");
	reply_free(&r);
	/* 100 MiB of console (sparse), past any buffer that reads it whole */
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 100 << 20), 0);
	ck_assert_int_eq(pwrite(fd, tail, strlen(tail), 100 << 20), (ssize_t)strlen(tail));
	close(fd);
	r = call("GetConsoleOutput", id, NULL);
	ck_assert_msg(r.status == 200, "%s", r.body);
	ck_assert_int_eq(kiln_aws_base64_decode(&decoded, text(&r, "output")), 0);
	ck_assert_uint_eq(decoded.size, 64 * 1024);
	ck_assert(memcmp(decoded.ptr + decoded.size - strlen(tail), tail, strlen(tail)) == 0);
	kiln_buf_release(&decoded);
	reply_free(&r);
	r = call("GetConsoleOutput", "InstanceId=i-../../etc", NULL);
	ck_assert_str_eq(error_code(&r), "InvalidInstanceID.Malformed");
	reply_free(&r);
	free(log);
	free(dir);
	free(id);
	free(arg);
	free(image);
}
END_TEST

/* ---- describe: filters, wildcards, paging, limits ----------------------- */

START_TEST(wildcards_are_ec2s)
{
	ck_assert(lc_wildcard("web-*", "web-1"));
	ck_assert(lc_wildcard("*", ""));
	ck_assert(lc_wildcard("w?b", "web"));
	ck_assert(!lc_wildcard("w?b", "wb"));
	ck_assert(lc_wildcard("a\\*b", "a*b"));
	ck_assert(!lc_wildcard("a\\*b", "axb"));
	ck_assert(lc_wildcard("[ab]", "[ab]")); /* no bracket classes in EC2's filters */
	ck_assert(!lc_wildcard("[ab]", "a"));
	ck_assert(
	    lc_wildcard("*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"));
	ck_assert(!lc_wildcard("*a*a*a*a*a*a*a*a*a*a*c",
	                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"));
}
END_TEST

START_TEST(filters_are_checked_and_bounded)
{
	struct kiln_buf many = KILN_BUF_INIT;
	struct reply r;

	r = call("DescribeSecurityGroups", "Filter.1.Name=group-name", "Filter.1.Value.1=def*",
	         NULL);
	ck_assert_msg(r.status == 200, "%s", r.body);
	ck_assert_int_eq(count(r.body, "<groupName>default</groupName>"), 1);
	reply_free(&r);
	r = call("DescribeSecurityGroups", "Filter.1.Name=no-such-filter", "Filter.1.Value.1=x",
	         NULL);
	ck_assert_str_eq(error_code(&r), "InvalidParameterValue");
	reply_free(&r);
	kiln_buf_puts(&many, "Action=DescribeImages&Version=2016-11-15&Filter.1.Name=name");
	for (int i = 1; i <= 201; i++)
		kiln_buf_printf(&many, "&Filter.1.Value.%d=v%d", i, i);
	r = raw_call("ec2", many.ptr);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(error_code(&r), "FilterLimitExceeded");
	reply_free(&r);
	kiln_buf_release(&many);
}
END_TEST

START_TEST(garbage_next_tokens_are_refused_everywhere)
{
	static const char *const garbage[] = {"NextToken=garbage", "NextToken=0", "NextToken=00001",
	                                      "NextToken=99999999999"};
	static const char *const actions[] = {"DescribeInstances",      "DescribeImages",
	                                      "DescribeSecurityGroups", "DescribeLaunchTemplates",
	                                      "DescribeSnapshots",      "DescribeTags",
	                                      "DescribeSubnets",        "DescribeVpcs"};
	for (size_t i = 0; i < KILN_ARRAY_SIZE(actions); i++) {
		for (size_t j = 0; j < KILN_ARRAY_SIZE(garbage); j++) {
			struct reply r = call(actions[i], garbage[j], NULL);
			ck_assert_msg(r.status == 400, "%s accepted %s", actions[i], garbage[j]);
			ck_assert_str_eq(error_code(&r), "InvalidParameterValue");
			reply_free(&r);
		}
	}
	for (size_t j = 0; j < KILN_ARRAY_SIZE(garbage); j++) {
		char *body =
		    kiln_xasprintf("Action=DescribeTargetGroups&Version=2015-12-01&Marker=%s",
		                   strchr(garbage[j], '=') + 1);
		struct reply r = raw_call("elasticloadbalancing", body);
		ck_assert_msg(r.status == 400, "DescribeTargetGroups accepted %s", garbage[j]);
		ck_assert_str_eq(text(&r, "Error/Code"), "ValidationError");
		reply_free(&r);
		free(body);
	}
	for (size_t j = 0; j < 3; j++) {
		static const char *const ints[] = {"MaxResults= 5", "MaxResults=+5",
		                                   "MaxResults=5 "};
		struct reply r = call("DescribeInstances", ints[j], NULL);
		ck_assert_msg(r.status == 400, "%s accepted", ints[j]);
		ck_assert_str_eq(error_code(&r), "InvalidParameterValue");
		reply_free(&r);
	}
}
END_TEST

START_TEST(paging_walks_every_item_once)
{
	char *token = NULL;
	int seen = 0, pages = 0;

	for (int i = 0; i < 12; i++) {
		char *name = kiln_xasprintf("GroupName=g%02d", i);
		struct reply r = call("CreateSecurityGroup", name, "GroupDescription=d", NULL);
		ck_assert_int_eq(r.status, 200);
		reply_free(&r);
		free(name);
	}
	do {
		char *arg = token ? kiln_xasprintf("NextToken=%s", token) : kiln_xstrdup("X=1");
		struct reply r = call("DescribeSecurityGroups", "MaxResults=5", arg, NULL);
		ck_assert_msg(r.status == 200, "%s", r.body);
		seen += count(r.body, "<groupName>");
		free(token);
		token = text(&r, "nextToken")[0] ? kiln_xstrdup(text(&r, "nextToken")) : NULL;
		pages++;
		reply_free(&r);
		free(arg);
	} while (token != NULL && pages < 10);
	ck_assert_int_eq(seen, 13); /* and the default group */
	ck_assert_int_eq(pages, 3);
}
END_TEST

/* ---- parameters --------------------------------------------------------- */

/* Thousands of filter values parse in linear time, and are refused by EC2's limit. */
START_TEST(many_parameters_are_fast)
{
	struct kiln_buf many = KILN_BUF_INIT;
	struct reply r;
	double t0;

	kiln_buf_puts(&many, "Action=DescribeImages&Version=2016-11-15&Filter.1.Name=name");
	for (int i = 1; i <= 9990; i++)
		kiln_buf_printf(&many, "&Filter.1.Value.%d=v%d", i, i);
	t0 = kiln_time_mono();
	r = raw_call("ec2", many.ptr);
	ck_assert_msg(kiln_time_mono() - t0 < 1.0, "9,990 values took %.1f s",
	              kiln_time_mono() - t0);
	ck_assert_str_eq(error_code(&r), "FilterLimitExceeded");
	reply_free(&r);
	/* past any count a request needs: refused before any handler sees it */
	kiln_buf_puts(&many, "&Tag.1.Key=a");
	for (int i = 1; i <= 10000; i++)
		kiln_buf_printf(&many, "&X.%d=y", i);
	r = raw_call("ec2", many.ptr);
	ck_assert_str_eq(error_code(&r), "MalformedQueryString");
	reply_free(&r);
	kiln_buf_release(&many);
}
END_TEST

START_TEST(invalid_utf8_is_refused_and_nothing_stored)
{
	struct reply r;

	r = raw_call("ec2", "Action=CreateSecurityGroup&Version=2016-11-15&GroupName=u8&"
	                    "GroupDescription=%FF%FE");
	ck_assert_int_eq(r.status, 400);
	reply_free(&r);
	pthread_mutex_lock(&cloud.mu);
	ck_assert_ptr_null(lc_group_by_name(&cloud, "u8"));
	pthread_mutex_unlock(&cloud.mu);
	r = raw_call("ec2", "Action=%FF%FE&Version=2016-11-15");
	ck_assert_int_eq(r.status, 400);
	reply_free(&r);
}
END_TEST

START_TEST(params_lookup_and_lists)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct lc_params p;
	struct lc_req r;
	const char **vals;
	int *idx;
	size_t n;

	kiln_query_parse(&q, "B=2&A.10=x&A.2=y&A.1.Name=n&A.1=z&A=top&A.1=dup&Empty=&A.02=no", 58);
	lc_params_init(&p, &q);
	memset(&r, 0, sizeof(r));
	r.p = &p;
	ck_assert_str_eq(lc_q(&r, "B"), "2");
	ck_assert_str_eq(lc_q(&r, "A.1"), "z"); /* the first of repeated keys */
	ck_assert_ptr_null(lc_q(&r, "Empty"));
	ck_assert_str_eq(lc_q_raw(&r, "Empty"), "");
	ck_assert_ptr_null(lc_q(&r, "C"));
	n = lc_q_indexes(&r, "A", &idx);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(idx[0], 1);
	ck_assert_int_eq(idx[1], 2);
	ck_assert_int_eq(idx[2], 10);
	free(idx);
	n = lc_q_list(&r, "A", &vals);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(vals[0], "z");
	ck_assert_str_eq(vals[2], "x");
	free(vals);
	ck_assert(lc_q_has_prefix(&r, "A"));
	ck_assert(!lc_q_has_prefix(&r, "B"));
	lc_params_release(&p);
	kiln_query_release(&q);
}
END_TEST

/* ---- the network noun --------------------------------------------------- */

START_TEST(subnet_addresses)
{
	uint32_t base, first, last;
	char a[16];

	ck_assert_int_eq(lc_ip_parse(&base, "172.31.16.0"), 0);
	lc_subnet_range(base, 20, &first, &last);
	lc_ip_format(a, first);
	ck_assert_str_eq(a, "172.31.16.4");
	lc_ip_format(a, last);
	ck_assert_str_eq(a, "172.31.31.254");
	ck_assert_int_eq(lc_subnet_capacity(20), 4091);
	ck_assert_int_eq(lc_subnet_capacity(28), 11);
	ck_assert_int_lt(lc_ip_parse(&base, "300.1.1.1"), 0);
}
END_TEST

/* Layers nothing uses are moved aside under the lock and deleted outside it. */
START_TEST(unused_layers_are_collected_outside_the_lock)
{
	char *image = base_image(), *arg = kiln_xasprintf("ImageId=%s", image);
	char *layer, *dir;
	struct reply r;

	pthread_mutex_lock(&cloud.mu);
	layer = kiln_xstrdup(json_string_value(json_array_get(
	    json_object_get(json_object_get(lc_table(&cloud, "images"), image), "layers"), 0)));
	pthread_mutex_unlock(&cloud.mu);
	dir = kiln_path_join(cloud.layers_dir, layer);
	{
		/* old enough to collect (young layers may be being registered) */
		struct timespec old[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
		ck_assert_int_eq(utimensat(AT_FDCWD, dir, old, 0), 0);
	}
	r = call("DeregisterImage", arg, "DeleteAssociatedSnapshots=true", NULL);
	ck_assert_msg(r.status == 200, "%s", r.body);
	reply_free(&r);
	ck_assert_int_ne(access(dir, F_OK), 0);
	lc_layers_sweep(&cloud);
	{
		char *trash = kiln_xasprintf("%s/.trash-%s", cloud.layers_dir, layer);
		ck_assert_int_ne(access(trash, F_OK), 0);
		free(trash);
	}
	free(dir);
	free(layer);
	free(arg);
	free(image);
}
END_TEST

/* ---- ids become paths: they must be exact -------------------------------- */

START_TEST(layer_ids_are_exact)
{
	static const char *const bad[] = {"LayerId=.",
	                                  "LayerId=..",
	                                  "LayerId=layer-",
	                                  "LayerId=../instances",
	                                  "LayerId=layer-0123456789abcdef0/x",
	                                  "LayerId=layer-0123456789ABCDEF0"};
	for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
		struct reply r = call("KilnRegisterLayerImage", "Name=evil", bad[i], NULL);
		ck_assert_msg(r.status == 400, "%s accepted", bad[i]);
		reply_free(&r);
	}
	{
		/* the empty id is a missing one, never the whole layers directory */
		struct reply r = call("KilnRegisterLayerImage", "Name=evil", "LayerId=", NULL);
		ck_assert_str_eq(error_code(&r), "MissingParameter");
		reply_free(&r);
	}
}
END_TEST

/* ---- hostile requests (issue 10) ---------------------------------------- */

/* The request log's lines, each parsed as JSON (the test fails on one that is not). */
static size_t request_log_lines(const char *path, json_t **last)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	size_t n = 0;

	ck_assert_ptr_nonnull(f);
	*last = NULL;
	while (fgets(line, sizeof(line), f)) {
		json_error_t err;
		json_t *j = json_loads(line, 0, &err);
		ck_assert_msg(j != NULL, "request log line is not JSON: %s", line);
		json_decref(*last);
		*last = j;
		n++;
	}
	fclose(f);
	return n;
}

/* Invalid UTF-8 in the scope or the action: a reply, and a log line with the bytes escaped. */
START_TEST(invalid_utf8_from_anyone_is_logged_escaped)
{
	char *log = kiln_path_join(state_dir, "requests.jsonl");
	char amz_date[64], auth[512], now[32];
	time_t t = time(NULL);
	struct tm tm;
	json_t *last;
	struct reply r;

	cloud.reqlog_fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	ck_assert_int_ge(cloud.reqlog_fd, 0);
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(amz_date, sizeof(amz_date), "X-Amz-Date: %s", now);
	snprintf(auth, sizeof(auth),
	         "Authorization: AWS4-HMAC-SHA256 Credential=test/%.8s/us-east-1/\xff\xfe/"
	         "aws4_request, SignedHeaders=host;x-amz-date, Signature=%064d",
	         now, 0);
	{
		const char *headers[] = {"Host: 127.0.0.1:4566", amz_date, auth, NULL};
		const char *body = "Action=DescribeRegions&Version=2016-11-15";
		struct lc_http_request in = {
		    "POST", "/", NULL, headers, body, strlen(body), kiln_time_mono()};
		r = answer(&in);
	}
	ck_assert_int_ge(r.status, 400);
	reply_free(&r);
	ck_assert_uint_eq(request_log_lines(log, &last), 1);
	ck_assert_str_eq(json_string_value(json_object_get(last, "service")), "\\xff\\xfe");
	json_decref(last);
	r = raw_call("ec2", "Action=%FF%FE&Version=2016-11-15");
	ck_assert_int_eq(r.status, 400);
	reply_free(&r);
	r = raw_call("ec2", "Action=Describe%FFRegions&Version=2016-11-15&X=%C0%80");
	ck_assert_int_eq(r.status, 400);
	reply_free(&r);
	ck_assert_uint_eq(request_log_lines(log, &last), 3);
	json_decref(last);
	close(cloud.reqlog_fd);
	cloud.reqlog_fd = -1;
	free(log);
}
END_TEST

/* The Query API signs the body: an unsigned payload is refused and nothing is made. */
START_TEST(unsigned_payloads_are_refused)
{
	static const char *const unsigned_forms[] = {
	    "X-Amz-Content-Sha256: UNSIGNED-PAYLOAD",
	    "X-Amz-Content-Sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
	    "X-Amz-Content-Sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-content-sha256: "};
	const char *signed_body = "Action=DescribeRegions&Version=2016-11-15";
	const char *changed = "Action=CreateSecurityGroup&Version=2016-11-15&GroupName=evil&"
	                      "GroupDescription=d";

	for (size_t i = 0; i < KILN_ARRAY_SIZE(unsigned_forms); i++) {
		const char *extra[] = {unsigned_forms[i], NULL};
		struct reply r = signed_call("ec2", extra, signed_body, changed);
		ck_assert_msg(r.status == 400, "%s: %s", unsigned_forms[i], r.body);
		ck_assert_str_eq(error_code(&r), "IncompleteSignature");
		reply_free(&r);
	}
	pthread_mutex_lock(&cloud.mu);
	ck_assert_ptr_null(lc_group_by_name(&cloud, "evil"));
	pthread_mutex_unlock(&cloud.mu);
	{
		/* the body's own hash, signed, is what the SDKs send for S3 and is fine here */
		char hash[65], *line;
		struct reply r;
		kiln_sha256_hex(hash, signed_body, strlen(signed_body));
		line = kiln_xasprintf("X-Amz-Content-Sha256: %s", hash);
		r = signed_call("ec2", (const char *[]){line, NULL}, signed_body, signed_body);
		ck_assert_msg(r.status == 200, "%s", r.body);
		reply_free(&r);
		free(line);
	}
}
END_TEST

/* Version is required and must be the service's; EC2's NoSuchVersion otherwise. */
START_TEST(versions_are_checked)
{
	struct reply r;

	r = raw_call("ec2", "Action=DescribeRegions");
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(error_code(&r), "MissingParameter");
	reply_free(&r);
	r = raw_call("ec2", "Action=DescribeRegions&Version=2014-10-01");
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(error_code(&r), "NoSuchVersion");
	ck_assert_ptr_nonnull(strstr(r.body, "(2014-10-01) of service AmazonEC2"));
	reply_free(&r);
	r = raw_call("ec2", "Action=DescribeRegions&Version=");
	ck_assert_str_eq(error_code(&r), "MissingParameter");
	reply_free(&r);
	r = raw_call("sts", "Action=GetCallerIdentity&Version=2016-11-15");
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(text(&r, "Error/Code"), "NoSuchVersion");
	reply_free(&r);
	r = raw_call("sts", "Action=GetCallerIdentity&Version=2011-06-15");
	ck_assert_msg(r.status == 200, "%s", r.body);
	reply_free(&r);
}
END_TEST

/* Booleans are "true" or "false", as EC2 documents them. */
START_TEST(booleans_are_true_or_false)
{
	static const char *const bad[] = {"DryRun=TRUE", "DryRun=True",   "DryRun=1",
	                                  "DryRun=yes",  "DryRun=false ", "DryRun=tru"};
	struct reply r;

	for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
		r = call("DescribeRegions", bad[i], NULL);
		ck_assert_msg(r.status == 400, "%s accepted", bad[i]);
		ck_assert_str_eq(error_code(&r), "InvalidParameterValue");
		reply_free(&r);
	}
	r = call("DescribeRegions", "DryRun=true", NULL);
	ck_assert_str_eq(error_code(&r), "DryRunOperation");
	reply_free(&r);
	r = call("DescribeRegions", "DryRun=false", NULL);
	ck_assert_int_eq(r.status, 200);
	reply_free(&r);
}
END_TEST

/* Auto Scaling reads integers, booleans and tokens as strictly (ValidationError, InvalidNextToken).
 */
START_TEST(autoscaling_spellings_are_strict)
{
	static const char *const bad[] = {
	    "Action=DescribeAutoScalingGroups&Version=2011-01-01&MaxRecords=%205",
	    "Action=DescribeAutoScalingGroups&Version=2011-01-01&MaxRecords=%2B5",
	    "Action=DescribeAutoScalingGroups&Version=2011-01-01&NextToken=kiln-0",
	    "Action=DescribeAutoScalingGroups&Version=2011-01-01&NextToken=kiln-007",
	    "Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=g&"
	    "DesiredCapacity=0&HonorCooldown=TRUE",
	    "Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=g&"
	    "DesiredCapacity=%2B0",
	    "Action=DescribeAutoScalingGroups&Version=2011-01-02"};
	char *image = base_image(), *arg = kiln_xasprintf("LaunchTemplateData.ImageId=%s", image);
	char *body;
	struct reply r = call("CreateLaunchTemplate", "LaunchTemplateName=web", arg, NULL);

	ck_assert_msg(r.status == 200, "%s", r.body);
	body = kiln_xasprintf("Action=CreateAutoScalingGroup&Version=2011-01-01&"
	                      "AutoScalingGroupName=g&LaunchTemplate.LaunchTemplateId=%s&MinSize=0&"
	                      "MaxSize=1&DesiredCapacity=0&AvailabilityZones.member.1=us-east-1a",
	                      text(&r, "launchTemplate/launchTemplateId"));
	reply_free(&r);
	r = raw_call("autoscaling", body);
	ck_assert_msg(r.status == 200, "%s", r.body);
	reply_free(&r);
	for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
		r = raw_call("autoscaling", bad[i]);
		ck_assert_msg(r.status == 400, "accepted: %s", bad[i]);
		reply_free(&r);
	}
	r = raw_call("autoscaling", "Action=SetDesiredCapacity&Version=2011-01-01&"
	                            "AutoScalingGroupName=g&DesiredCapacity=0&HonorCooldown=false");
	ck_assert_msg(r.status == 200, "%s", r.body);
	reply_free(&r);
	free(body);
	free(arg);
	free(image);
}
END_TEST

/* Millions of one-byte parameters are refused by their count, before any parsing. */
START_TEST(parameter_counts_are_refused_before_parsing)
{
	size_t len = 8u << 20;
	char *body = kiln_xmalloc(len + 1);
	struct rusage before, after;
	struct reply r;

	for (size_t i = 0; i < len; i += 2)
		memcpy(body + i, "a&", 2);
	body[len] = '\0';
	ck_assert_int_eq(getrusage(RUSAGE_SELF, &before), 0);
	r = raw_call("ec2", body);
	ck_assert_int_eq(getrusage(RUSAGE_SELF, &after), 0);
	ck_assert_str_eq(error_code(&r), "MalformedQueryString");
	/* parsing them first took half a gigabyte (4 million keys and values) */
	ck_assert_msg(after.ru_maxrss - before.ru_maxrss < 100 * 1024, "grew by %ld KiB",
	              after.ru_maxrss - before.ru_maxrss);
	reply_free(&r);
	free(body);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("localcloud_api");
	TCase *tc = tcase_create("api");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, run_instances_tags_are_per_instance);
	tcase_add_test(tc, image_workers_are_not_saved);
	tcase_add_test(tc, empty_parameters_are_absent);
	tcase_add_test(tc, console_output_is_the_last_64k);
	tcase_add_test(tc, wildcards_are_ec2s);
	tcase_add_test(tc, filters_are_checked_and_bounded);
	tcase_add_test(tc, garbage_next_tokens_are_refused_everywhere);
	tcase_add_test(tc, paging_walks_every_item_once);
	tcase_add_test(tc, many_parameters_are_fast);
	tcase_add_test(tc, invalid_utf8_is_refused_and_nothing_stored);
	tcase_add_test(tc, params_lookup_and_lists);
	tcase_add_test(tc, subnet_addresses);
	tcase_add_test(tc, unused_layers_are_collected_outside_the_lock);
	tcase_add_test(tc, layer_ids_are_exact);
	tcase_add_test(tc, invalid_utf8_from_anyone_is_logged_escaped);
	tcase_add_test(tc, unsigned_payloads_are_refused);
	tcase_add_test(tc, versions_are_checked);
	tcase_add_test(tc, booleans_are_true_or_false);
	tcase_add_test(tc, autoscaling_spellings_are_strict);
	tcase_add_test(tc, parameter_counts_are_refused_before_parsing);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
