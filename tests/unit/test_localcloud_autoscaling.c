/*
 * The Auto Scaling reconciler in process, without root: handlers are called
 * through lc_as_call() (the path the reconciler itself uses into EC2) over a
 * cloud on a temporary state directory whose machines are stand-ins that
 * "boot" at once. Rounds of lc_asgs_reconcile() are run by hand, so that
 * each step of a group's life is checked deterministically: launches and
 * their idempotency after a crash, the life cycle, scale-in, ForceDelete,
 * the state surviving a reopen.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "localcloud/autoscaling-int.h"
#include "localcloud/cloud.h"
#include "localcloud/ec2-int.h"
#include "localcloud/elbv2-int.h"
#include "localcloud/lb-int.h"

/* Machines that run at once and never exit. */
static int m_start(struct lc_machine **out, const struct lc_machine_spec *spec)
{
	*out = kiln_xcalloc(1, sizeof(**out));
	(*out)->pid = 1;
	(*out)->id = kiln_xstrdup(spec->id);
	return 0;
}
static int m_exited(struct lc_machine *m, int *status)
{
	return (void)m, (void)status, 0;
}
static int m_stop(struct lc_machine *m, double timeout)
{
	return (void)m, (void)timeout, 0;
}
static void m_free(struct lc_machine *m)
{
	if (m != NULL)
		free(m->id), free(m);
}
static int m_reap(const char *dir)
{
	return (void)dir, 0;
}
static int m_adopt(struct lc_machine **out, const char *dir, const char *id)
{
	return (void)dir, (void)id, *out = NULL, 0;
}
static const struct lc_machines machines = {m_start, m_exited, m_stop, m_free, m_reap, m_adopt};

static struct lc_cloud cloud;
static char dir[64];
static char lt_id[64];

static void open_cloud(void)
{
	struct kiln_cloud_opts o = {.cidr = "10.214.99.0/24"};

	ck_assert_msg(lc_cloud_open(&cloud, &o, dir) == 0, "%s", kiln_error_last());
	cloud.machines = &machines;
}

/* Call `fn` as action `action` with "Key=Value" pairs (NULL-terminated); its return code. */
static int as(lc_handler_fn fn, const char *action, ...)
{
	struct kiln_query q = KILN_QUERY_INIT;
	char code[96], msg[512];
	const char *kv;
	va_list ap;
	int rc;

	kiln_query_add(&q, "Action", action);
	va_start(ap, action);
	while ((kv = va_arg(ap, const char *)) != NULL) {
		char *k = kiln_xstrndup(kv, (size_t)(strchr(kv, '=') - kv));
		kiln_query_add(&q, k, strchr(kv, '=') + 1);
		free(k);
	}
	va_end(ap);
	pthread_mutex_lock(&cloud.mu);
	rc = lc_as_call(&cloud, fn, &q, code, msg);
	pthread_mutex_unlock(&cloud.mu);
	if (rc < 0)
		fprintf(stderr, "%s: %s: %s\n", action, code, msg);
	kiln_query_release(&q);
	return rc;
}

static void setup(void)
{
	json_t *img;
	char *arg;
	const char *k;
	json_t *t;

	snprintf(dir, sizeof(dir), "/tmp/kiln-lcasg-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	open_cloud();
	pthread_mutex_lock(&cloud.mu);
	lc_ensure_default_group(&cloud);
	img = json_pack("{s:s, s:s, s:[]}", "id", "ami-0123456789abcdef0", "state", "available",
	                "layers");
	json_object_set_new(lc_table(&cloud, "images"), "ami-0123456789abcdef0", img);
	pthread_mutex_unlock(&cloud.mu);
	arg = kiln_xasprintf("LaunchTemplateData.ImageId=%s", "ami-0123456789abcdef0");
	ck_assert_int_eq(as(lc_ec2_create_launch_template, "CreateLaunchTemplate",
	                    "LaunchTemplateName=tpl", arg, NULL),
	                 0);
	free(arg);
	json_object_foreach(lc_table(&cloud, "launch_templates"), k, t)
	    snprintf(lt_id, sizeof(lt_id), "%s", k);
}

static void teardown(void)
{
	lc_instances_shutdown(&cloud);
	lc_cloud_close(&cloud);
	kiln_rm_rf(dir);
}

static json_t *group(const char *name)
{
	return json_object_get(lc_asgs(&cloud), name);
}

/* Rounds of the reconciler, with time for the stand-in runners to act between them. */
static void rounds(int n)
{
	for (int i = 0; i < n; i++) {
		lc_asgs_reconcile(&cloud);
		usleep(100 * 1000);
	}
}

/* How many EC2 instances are not terminated (nor on their way). */
static int live_ec2(void)
{
	const char *k;
	json_t *v;
	int n = 0;

	pthread_mutex_lock(&cloud.mu);
	json_object_foreach(lc_instances(&cloud), k, v) n +=
	    strcmp(lc_str(v, "state"), "terminated") != 0 &&
	    strcmp(lc_str(v, "state"), "shutting-down") != 0;
	pthread_mutex_unlock(&cloud.mu);
	return n;
}

static int count_state(const char *name, const char *state)
{
	const char *k;
	json_t *v;
	int n = 0;

	json_object_foreach(json_object_get(group(name), "instances"), k, v) n +=
	    strcmp(lc_str(v, "state"), state) == 0;
	return n;
}

static void create(const char *name, const char *desired)
{
	char *lt = kiln_xasprintf("LaunchTemplate.LaunchTemplateId=%s", lt_id);
	char *nm = kiln_xasprintf("AutoScalingGroupName=%s", name);

	ck_assert_int_eq(as(lc_as_create_group, "CreateAutoScalingGroup", nm, lt, "MinSize=0",
	                    "MaxSize=5", desired, "AvailabilityZones.member.1=us-east-1a",
	                    "AvailabilityZones.member.2=us-east-1b", "Tags.member.1.Key=team",
	                    "Tags.member.1.Value=a", "Tags.member.1.PropagateAtLaunch=true", NULL),
	                 0);
	free(lt);
	free(nm);
}

START_TEST(launches_to_desired_and_tags)
{
	const char *k;
	json_t *v;

	create("g", "DesiredCapacity=2");
	rounds(5);
	ck_assert_int_eq(count_state("g", "InService"), 2);
	ck_assert_int_eq(live_ec2(), 2);
	json_object_foreach(lc_instances(&cloud), k, v)
	{
		json_t *tags = json_object_get(v, "tags");
		ck_assert_str_eq(lc_str(tags, "aws:autoscaling:groupName"), "g");
		ck_assert_str_eq(lc_str(tags, "team"), "a");
	}
	/* one per zone, and the client tokens that made them are spent */
	{
		const char *zones[2] = {"", ""};
		int n = 0;
		json_object_foreach(json_object_get(group("g"), "instances"), k, v) zones[n++ & 1] =
		    lc_str(v, "zone");
		ck_assert_str_ne(zones[0], zones[1]);
	}
	ck_assert_int_eq(json_object_size(lc_table(&cloud, "client_tokens")), 0);
}
END_TEST

/*
 * A daemon killed between RunInstances (which saved the state, token and
 * instance) and the group recording the instance: the next round adopts the
 * instance the token made instead of launching another.
 */
START_TEST(launch_after_crash_is_not_repeated)
{
	json_t *g, *a;
	char *token, *tok_arg, *lt, *sn;
	const char *subnet;

	create("g", "DesiredCapacity=0");
	pthread_mutex_lock(&cloud.mu);
	g = group("g");
	json_object_set_new(g, "desired", json_integer(1));
	a = lc_activity_new(&cloud, g, "Launching a new EC2 instance", "At now a test.");
	subnet = json_string_value(json_array_get(json_object_get(g, "subnets"), 0));
	json_object_set_new(a, "subnet", json_string(subnet));
	json_object_set_new(a, "zone", json_string("us-east-1a"));
	json_object_set_new(g, "launching", json_pack("{s:b}", lc_str(a, "id"), 1));
	token = kiln_xstrdup(lc_str(a, "id"));
	sn = kiln_xasprintf("SubnetId=%s", subnet);
	pthread_mutex_unlock(&cloud.mu);
	tok_arg = kiln_xasprintf("ClientToken=%s", token);
	lt = kiln_xasprintf("LaunchTemplate.LaunchTemplateId=%s", lt_id);
	ck_assert_int_eq(as(lc_ec2_run_instances, "RunInstances", lt, sn, "MinCount=1",
	                    "MaxCount=1", tok_arg, NULL),
	                 0);
	ck_assert_int_eq(live_ec2(), 1);
	rounds(4);
	ck_assert_int_eq(live_ec2(), 1);
	ck_assert_int_eq(json_object_size(json_object_get(group("g"), "instances")), 1);
	ck_assert_int_eq(count_state("g", "InService"), 1);
	ck_assert_int_eq(json_object_size(json_object_get(group("g"), "launching")), 0);
	free(token);
	free(tok_arg);
	free(lt);
	free(sn);
}
END_TEST

START_TEST(scale_in_force_delete_and_reopen)
{
	create("g", "DesiredCapacity=3");
	create("h", "DesiredCapacity=1");
	rounds(5);
	ck_assert_int_eq(count_state("g", "InService"), 3);
	ck_assert_int_eq(as(lc_as_set_desired_capacity, "SetDesiredCapacity",
	                    "AutoScalingGroupName=g", "DesiredCapacity=1", NULL),
	                 0);
	rounds(8);
	ck_assert_int_eq(json_object_size(json_object_get(group("g"), "instances")), 1);
	ck_assert_int_eq(live_ec2(), 2);
	/* without ForceDelete a group with instances stays */
	ck_assert_int_eq(
	    as(lc_as_delete_group, "DeleteAutoScalingGroup", "AutoScalingGroupName=g", NULL), -1);
	ck_assert_int_eq(as(lc_as_delete_group, "DeleteAutoScalingGroup", "AutoScalingGroupName=g",
	                    "ForceDelete=true", NULL),
	                 0);
	ck_assert_str_eq(lc_str(group("g"), "status"), "Delete in progress");
	rounds(8);
	ck_assert_ptr_null(group("g"));
	ck_assert_int_eq(live_ec2(), 1);
	/* what is left survives a restart, and the reconciler does nothing more */
	lc_instances_shutdown(&cloud);
	lc_cloud_close(&cloud);
	open_cloud();
	pthread_mutex_lock(&cloud.mu);
	ck_assert_int_eq(lc_instances_resume(&cloud), 0);
	pthread_mutex_unlock(&cloud.mu);
	ck_assert_ptr_nonnull(group("h"));
	rounds(5);
	ck_assert_int_eq(json_object_size(json_object_get(group("h"), "instances")), 1);
	ck_assert_int_eq(count_state("h", "InService"), 1);
	ck_assert_int_eq(live_ec2(), 1);
}
END_TEST

START_TEST(validation_is_all_or_nothing)
{
	create("g", "DesiredCapacity=1");
	/* desired outside the new bounds: nothing changes */
	ck_assert_int_eq(as(lc_as_update_group, "UpdateAutoScalingGroup", "AutoScalingGroupName=g",
	                    "MaxSize=2", "DesiredCapacity=3", NULL),
	                 -1);
	ck_assert_int_eq(json_integer_value(json_object_get(group("g"), "max")), 5);
	/* min raised above desired: desired follows, as on AWS */
	ck_assert_int_eq(as(lc_as_update_group, "UpdateAutoScalingGroup", "AutoScalingGroupName=g",
	                    "MinSize=2", NULL),
	                 0);
	ck_assert_int_eq(json_integer_value(json_object_get(group("g"), "desired")), 2);
	ck_assert_int_eq(as(lc_as_create_group, "CreateAutoScalingGroup", "AutoScalingGroupName=x",
	                    "MinSize=0", "MaxSize=1", "AvailabilityZones.member.1=us-east-1a",
	                    "LaunchConfigurationName=old", NULL),
	                 -1);
	ck_assert_ptr_null(group("x"));
}
END_TEST

/*
 * Targets a group registers while the load balancer's structure changes
 * (their reload) are not in the reload's configuration: the render must
 * say so, or the sync never adds them at run time and they stay "initial".
 */
START_TEST(new_targets_are_added_after_a_reload)
{
	const char *k, *lb_arn = NULL, *tg_arn = NULL;
	char *tg_arg, *lb_arg, *lt, *act;
	json_t *v, *known = json_object();
	struct lb_desired d;
	int checked = 0;

	char *vpc = kiln_xasprintf("VpcId=%s", lc_default_vpc(&cloud));

	ck_assert_int_eq(as(lc_elbv2_create_target_group, "CreateTargetGroup", "Name=tg",
	                    "Protocol=HTTP", "Port=8080", vpc, NULL),
	                 0);
	free(vpc);
	json_object_foreach(lc_tgs(&cloud), k, v) tg_arn = k;
	{
		char *sn[2] = {NULL, NULL};
		int n = 0;
		json_object_foreach(lc_table(&cloud, "subnets"), k, v)
		{
			if (n < 2) {
				sn[n] = kiln_xasprintf("Subnets.member.%d=%s", n + 1, k);
				n++;
			}
		}
		ck_assert_int_eq(as(lc_elbv2_create_load_balancer, "CreateLoadBalancer", "Name=lb",
		                    sn[0], sn[1], NULL),
		                 0);
		free(sn[0]);
		free(sn[1]);
	}
	json_object_foreach(lc_lbs(&cloud), k, v) lb_arn = k;
	lb_arg = kiln_xasprintf("LoadBalancerArn=%s", lb_arn);
	tg_arg = kiln_xasprintf("TargetGroupARNs.member.1=%s", tg_arn);
	act = kiln_xasprintf("DefaultActions.member.1.TargetGroupArn=%s", tg_arn);
	ck_assert_int_eq(as(lc_elbv2_create_listener, "CreateListener", lb_arg, "Protocol=HTTP",
	                    "Port=80", "DefaultActions.member.1.Type=forward", act, NULL),
	                 0);
	lt = kiln_xasprintf("LaunchTemplate.LaunchTemplateId=%s", lt_id);
	ck_assert_int_eq(as(lc_as_create_group, "CreateAutoScalingGroup", "AutoScalingGroupName=g",
	                    lt, "MinSize=2", "MaxSize=2", "AvailabilityZones.member.1=us-east-1a",
	                    tg_arg, NULL),
	                 0);
	rounds(5);
	ck_assert_int_eq(
	    json_object_size(json_object_get(json_object_get(lc_tgs(&cloud), tg_arn), "targets")),
	    2);
	pthread_mutex_lock(&cloud.mu);
	ck_assert_int_eq(lc_lb_render(&d, &cloud, lb_arn, known), 0);
	pthread_mutex_unlock(&cloud.mu);
	json_object_foreach(d.servers, k, v)
	{
		if (!json_is_true(json_object_get(v, "checked")))
			continue;
		checked++;
		ck_assert_msg(!json_is_true(json_object_get(v, "in_reload")),
		              "%s is said to come with the reload", k);
		ck_assert_ptr_null(strstr(d.reload.ptr, strchr(k, '/') + 1));
	}
	ck_assert_int_eq(checked, 2);
	lc_lb_desired_release(&d);
	json_decref(known);
	free(lb_arg);
	free(tg_arg);
	free(act);
	free(lt);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("localcloud_autoscaling");
	TCase *tc = tcase_create("reconciler");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, launches_to_desired_and_tags);
	tcase_add_test(tc, launch_after_crash_is_not_repeated);
	tcase_add_test(tc, scale_in_force_delete_and_reopen);
	tcase_add_test(tc, validation_is_all_or_nothing);
	tcase_add_test(tc, new_targets_are_added_after_a_reload);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
