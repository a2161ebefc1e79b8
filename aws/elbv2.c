#include "aws/elbv2.h"
#include "aws/elbv2-int.h"

#include <string.h>

#define ELB    KILN_AWS_ELBV2
#define MEMBER KILN_QUERY_MEMBER

/* The service's limit of resource arns per DescribeTags call. */
#define TAGS_PER_CALL 20

/* Load balancers. */

static void lb_release(struct kiln_elbv2_load_balancer *lb)
{
	free(lb->arn);
	free(lb->name);
	free(lb->dns_name);
	free(lb->canonical_hosted_zone_id);
	free(lb->created_time);
	free(lb->scheme);
	free(lb->type);
	free(lb->state);
	free(lb->vpc_id);
	free(lb->ip_address_type);
	kiln_aws_strings_release(&lb->subnet_ids);
	kiln_aws_strings_release(&lb->zones);
	kiln_aws_strings_release(&lb->security_groups);
}

void kiln_elbv2_load_balancer_free(struct kiln_elbv2_load_balancer *lb)
{
	if (lb == NULL)
		return;
	lb_release(lb);
	free(lb);
}

void kiln_elbv2_load_balancer_list_free(struct kiln_elbv2_load_balancer_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		lb_release(&l->v[i]);
	free(l->v);
	free(l);
}

KILN_STATIC int elbv2_parse_load_balancers(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_elbv2_load_balancer_list *l = arg;
	xmlNodePtr it;

	for (it = kiln_xml_first_child(result, "LoadBalancers"); it; it = kiln_xml_next(it)) {
		struct kiln_elbv2_load_balancer *lb =
		    kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*lb));

		lb->arn = kiln_aws_xml_dup(x, it, "LoadBalancerArn");
		lb->name = kiln_aws_xml_dup(x, it, "LoadBalancerName");
		lb->dns_name = kiln_aws_xml_dup(x, it, "DNSName");
		lb->canonical_hosted_zone_id = kiln_aws_xml_dup(x, it, "CanonicalHostedZoneId");
		lb->created_time = kiln_aws_xml_dup(x, it, "CreatedTime");
		lb->scheme = kiln_aws_xml_dup(x, it, "Scheme");
		lb->type = kiln_aws_xml_dup(x, it, "Type");
		lb->state = kiln_aws_xml_dup(x, it, "State/Code");
		lb->vpc_id = kiln_aws_xml_dup(x, it, "VpcId");
		lb->ip_address_type = kiln_aws_xml_dup(x, it, "IpAddressType");
		kiln_aws_xml_strings(&lb->subnet_ids, x, it, "AvailabilityZones", "SubnetId");
		kiln_aws_xml_strings(&lb->zones, x, it, "AvailabilityZones", "ZoneName");
		kiln_aws_xml_strings(&lb->security_groups, x, it, "SecurityGroups", "");
		if (lb->arn == NULL)
			return kiln_error_set(KILN_ERROR, "load balancer in reply lacks its arn");
	}
	return 0;
}

int kiln_elbv2_create_load_balancer(struct kiln_elbv2_load_balancer **out, struct kiln_aws *aws,
                                    const struct kiln_elbv2_create_load_balancer *o)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_elbv2_load_balancer_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && o != NULL && o->name != NULL);
	*out = NULL;
	kiln_query_add(&q, "Name", o->name);
	kiln_aws_query_strings(&q, MEMBER, "Subnets", o->subnets, o->n_subnets);
	kiln_aws_query_strings(&q, MEMBER, "SecurityGroups", o->security_groups,
	                       o->n_security_groups);
	if (o->scheme != NULL)
		kiln_query_add(&q, "Scheme", o->scheme);
	if (o->type != NULL)
		kiln_query_add(&q, "Type", o->type);
	if (o->ip_address_type != NULL)
		kiln_query_add(&q, "IpAddressType", o->ip_address_type);
	kiln_aws_query_tags(&q, MEMBER, "Tags", o->tags);
	error = kiln_aws_call(aws, ELB, "CreateLoadBalancer", &q, "CreateLoadBalancerResult",
	                      elbv2_parse_load_balancers, l);
	if (error == 0 && l->n != 1)
		error = kiln_error_set(KILN_ERROR,
		                       "CreateLoadBalancer reply lists %zu load balancers", l->n);
	if (error == 0) {
		/* Hand over the one element without copying it. */
		*out = kiln_xmalloc(sizeof(**out));
		**out = l->v[0];
		l->n = 0;
	}
	kiln_elbv2_load_balancer_list_free(l);
	kiln_query_release(&q);
	return error;
}

static void query_describe(struct kiln_query *q, const struct kiln_elbv2_describe *d,
                           const char *arns, const char *names)
{
	if (d == NULL)
		return;
	if (d->load_balancer_arn != NULL)
		kiln_query_add(q, "LoadBalancerArn", d->load_balancer_arn);
	kiln_aws_query_strings(q, MEMBER, arns, d->arns, d->n_arns);
	if (names != NULL)
		kiln_aws_query_strings(q, MEMBER, names, d->names, d->n_names);
	if (d->page_size > 0)
		kiln_aws_query_int(q, "PageSize", d->page_size);
}

int kiln_elbv2_describe_load_balancers(struct kiln_elbv2_load_balancer_list **out,
                                       struct kiln_aws *aws, const struct kiln_elbv2_describe *d)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_elbv2_load_balancer_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	KILN_ASSERT_ARG(d == NULL || d->load_balancer_arn == NULL);
	*out = NULL;
	query_describe(&q, d, "LoadBalancerArns", "Names");
	error = kiln_aws_paginate(aws, ELB, "DescribeLoadBalancers", &q, "Marker",
	                          "DescribeLoadBalancersResult", "NextMarker",
	                          elbv2_parse_load_balancers, l);
	if (error < 0)
		kiln_elbv2_load_balancer_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

static int call_one(struct kiln_aws *aws, const char *action, const char *key, const char *value)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(aws != NULL && value != NULL);
	kiln_query_add(&q, key, value);
	error = kiln_aws_call(aws, ELB, action, &q, NULL, NULL, NULL);
	kiln_query_release(&q);
	return error;
}

int kiln_elbv2_delete_load_balancer(struct kiln_aws *aws, const char *arn)
{
	return call_one(aws, "DeleteLoadBalancer", "LoadBalancerArn", arn);
}

int kiln_elbv2_set_security_groups(struct kiln_aws *aws, const char *arn,
                                   const char *const *group_ids, size_t n)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(aws != NULL && arn != NULL && (group_ids != NULL || n == 0));
	kiln_query_add(&q, "LoadBalancerArn", arn);
	kiln_aws_query_strings(&q, MEMBER, "SecurityGroups", group_ids, n);
	error = kiln_aws_call(aws, ELB, "SetSecurityGroups", &q, NULL, NULL, NULL);
	kiln_query_release(&q);
	return error;
}

/* Target groups. */

static void tg_release(struct kiln_elbv2_target_group *tg)
{
	free(tg->arn);
	free(tg->name);
	free(tg->protocol);
	free(tg->vpc_id);
	free(tg->target_type);
	free(tg->health_check_protocol);
	free(tg->health_check_port);
	free(tg->health_check_path);
	free(tg->matcher_http_code);
	kiln_aws_strings_release(&tg->load_balancer_arns);
}

void kiln_elbv2_target_group_free(struct kiln_elbv2_target_group *tg)
{
	if (tg == NULL)
		return;
	tg_release(tg);
	free(tg);
}

void kiln_elbv2_target_group_list_free(struct kiln_elbv2_target_group_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		tg_release(&l->v[i]);
	free(l->v);
	free(l);
}

KILN_STATIC int elbv2_parse_target_groups(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_elbv2_target_group_list *l = arg;
	xmlNodePtr it;

	for (it = kiln_xml_first_child(result, "TargetGroups"); it; it = kiln_xml_next(it)) {
		struct kiln_elbv2_target_group *tg =
		    kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*tg));

		tg->arn = kiln_aws_xml_dup(x, it, "TargetGroupArn");
		tg->name = kiln_aws_xml_dup(x, it, "TargetGroupName");
		tg->protocol = kiln_aws_xml_dup(x, it, "Protocol");
		tg->port = (int)kiln_aws_xml_int(x, it, "Port", 0);
		tg->vpc_id = kiln_aws_xml_dup(x, it, "VpcId");
		tg->target_type = kiln_aws_xml_dup(x, it, "TargetType");
		tg->health_check_protocol = kiln_aws_xml_dup(x, it, "HealthCheckProtocol");
		tg->health_check_port = kiln_aws_xml_dup(x, it, "HealthCheckPort");
		tg->health_check_path = kiln_aws_xml_dup(x, it, "HealthCheckPath");
		tg->health_check_enabled = kiln_aws_xml_bool(x, it, "HealthCheckEnabled");
		tg->interval_s = (int)kiln_aws_xml_int(x, it, "HealthCheckIntervalSeconds", 0);
		tg->timeout_s = (int)kiln_aws_xml_int(x, it, "HealthCheckTimeoutSeconds", 0);
		tg->healthy_threshold = (int)kiln_aws_xml_int(x, it, "HealthyThresholdCount", 0);
		tg->unhealthy_threshold =
		    (int)kiln_aws_xml_int(x, it, "UnhealthyThresholdCount", 0);
		tg->matcher_http_code = kiln_aws_xml_dup(x, it, "Matcher/HttpCode");
		kiln_aws_xml_strings(&tg->load_balancer_arns, x, it, "LoadBalancerArns", "");
		if (tg->arn == NULL)
			return kiln_error_set(KILN_ERROR, "target group in reply lacks its arn");
	}
	return 0;
}

static void query_health(struct kiln_query *q, const struct kiln_elbv2_health_check *h)
{
	if (h->protocol != NULL)
		kiln_query_add(q, "HealthCheckProtocol", h->protocol);
	if (h->port != NULL)
		kiln_query_add(q, "HealthCheckPort", h->port);
	if (h->path != NULL)
		kiln_query_add(q, "HealthCheckPath", h->path);
	if (h->enabled >= 0)
		kiln_aws_query_bool(q, "HealthCheckEnabled", h->enabled);
	if (h->interval_s > 0)
		kiln_aws_query_int(q, "HealthCheckIntervalSeconds", h->interval_s);
	if (h->timeout_s > 0)
		kiln_aws_query_int(q, "HealthCheckTimeoutSeconds", h->timeout_s);
	if (h->healthy_threshold > 0)
		kiln_aws_query_int(q, "HealthyThresholdCount", h->healthy_threshold);
	if (h->unhealthy_threshold > 0)
		kiln_aws_query_int(q, "UnhealthyThresholdCount", h->unhealthy_threshold);
	if (h->matcher_http_code != NULL)
		kiln_query_add(q, "Matcher.HttpCode", h->matcher_http_code);
}

/* One target group from a Create/Modify reply. */
static int one_target_group(struct kiln_elbv2_target_group **out, struct kiln_aws *aws,
                            const char *action, const struct kiln_query *q)
{
	struct kiln_elbv2_target_group_list *l = kiln_xcalloc(1, sizeof(*l));
	char result[64];
	int error;

	snprintf(result, sizeof(result), "%sResult", action);
	error = kiln_aws_call(aws, ELB, action, q, result, elbv2_parse_target_groups, l);
	if (error == 0 && l->n != 1)
		error =
		    kiln_error_set(KILN_ERROR, "%s reply lists %zu target groups", action, l->n);
	if (error == 0 && out != NULL) {
		*out = kiln_xmalloc(sizeof(**out));
		**out = l->v[0];
		l->n = 0;
	}
	kiln_elbv2_target_group_list_free(l);
	return error;
}

int kiln_elbv2_create_target_group(struct kiln_elbv2_target_group **out, struct kiln_aws *aws,
                                   const struct kiln_elbv2_create_target_group *o)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && o != NULL && o->name != NULL);
	*out = NULL;
	kiln_query_add(&q, "Name", o->name);
	if (o->protocol != NULL)
		kiln_query_add(&q, "Protocol", o->protocol);
	if (o->port > 0)
		kiln_aws_query_int(&q, "Port", o->port);
	if (o->vpc_id != NULL)
		kiln_query_add(&q, "VpcId", o->vpc_id);
	if (o->target_type != NULL)
		kiln_query_add(&q, "TargetType", o->target_type);
	query_health(&q, &o->health);
	kiln_aws_query_tags(&q, MEMBER, "Tags", o->tags);
	error = one_target_group(out, aws, "CreateTargetGroup", &q);
	kiln_query_release(&q);
	return error;
}

int kiln_elbv2_describe_target_groups(struct kiln_elbv2_target_group_list **out,
                                      struct kiln_aws *aws, const struct kiln_elbv2_describe *d)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_elbv2_target_group_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	query_describe(&q, d, "TargetGroupArns", "Names");
	error = kiln_aws_paginate(aws, ELB, "DescribeTargetGroups", &q, "Marker",
	                          "DescribeTargetGroupsResult", "NextMarker",
	                          elbv2_parse_target_groups, l);
	if (error < 0)
		kiln_elbv2_target_group_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

int kiln_elbv2_modify_target_group(struct kiln_elbv2_target_group **out, struct kiln_aws *aws,
                                   const char *arn, const struct kiln_elbv2_health_check *h)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(aws != NULL && arn != NULL && h != NULL);
	if (out != NULL)
		*out = NULL;
	kiln_query_add(&q, "TargetGroupArn", arn);
	query_health(&q, h);
	error = one_target_group(out, aws, "ModifyTargetGroup", &q);
	kiln_query_release(&q);
	return error;
}

int kiln_elbv2_delete_target_group(struct kiln_aws *aws, const char *arn)
{
	return call_one(aws, "DeleteTargetGroup", "TargetGroupArn", arn);
}

int kiln_elbv2_modify_target_group_attributes(struct kiln_aws *aws, const char *arn,
                                              const char *const *keys, const char *const *values,
                                              size_t n)
{
	struct kiln_query q = KILN_QUERY_INIT;
	size_t i;
	int error;

	KILN_ASSERT_ARG(aws != NULL && arn != NULL && n > 0 && keys != NULL && values != NULL);
	kiln_query_add(&q, "TargetGroupArn", arn);
	for (i = 0; i < n; i++) {
		kiln_query_addf(&q, keys[i], "Attributes.member.%zu.Key", i + 1);
		kiln_query_addf(&q, values[i], "Attributes.member.%zu.Value", i + 1);
	}
	error = kiln_aws_call(aws, ELB, "ModifyTargetGroupAttributes", &q, NULL, NULL, NULL);
	kiln_query_release(&q);
	return error;
}

/* Listeners. */

static void listener_release(struct kiln_elbv2_listener *li)
{
	free(li->arn);
	free(li->load_balancer_arn);
	free(li->protocol);
	free(li->ssl_policy);
	kiln_aws_strings_release(&li->action_types);
	kiln_aws_strings_release(&li->target_group_arns);
}

void kiln_elbv2_listener_free(struct kiln_elbv2_listener *li)
{
	if (li == NULL)
		return;
	listener_release(li);
	free(li);
}

void kiln_elbv2_listener_list_free(struct kiln_elbv2_listener_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		listener_release(&l->v[i]);
	free(l->v);
	free(l);
}

KILN_STATIC int elbv2_parse_listeners(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_elbv2_listener_list *l = arg;
	xmlNodePtr it, a;

	for (it = kiln_xml_first_child(result, "Listeners"); it; it = kiln_xml_next(it)) {
		struct kiln_elbv2_listener *li =
		    kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*li));

		li->arn = kiln_aws_xml_dup(x, it, "ListenerArn");
		li->load_balancer_arn = kiln_aws_xml_dup(x, it, "LoadBalancerArn");
		li->protocol = kiln_aws_xml_dup(x, it, "Protocol");
		li->ssl_policy = kiln_aws_xml_dup(x, it, "SslPolicy");
		li->port = (int)kiln_aws_xml_int(x, it, "Port", 0);
		for (a = kiln_xml_first_child(it, "DefaultActions"); a; a = kiln_xml_next(a)) {
			const char *type = kiln_xml_text(x, a, "Type");
			const char *tg = kiln_xml_text(x, a, "TargetGroupArn");

			/* Newer replies may carry the group only inside ForwardConfig. */
			if (tg == NULL)
				tg = kiln_xml_text(x, a,
				                   "ForwardConfig/TargetGroups/member/"
				                   "TargetGroupArn");
			kiln_aws_strings_add(&li->action_types, type != NULL ? type : "");
			kiln_aws_strings_add(&li->target_group_arns, tg != NULL ? tg : "");
		}
		if (li->arn == NULL)
			return kiln_error_set(KILN_ERROR, "listener in reply lacks its arn");
	}
	return 0;
}

static void query_listener(struct kiln_query *q, const struct kiln_elbv2_listener_spec *s)
{
	size_t i;

	if (s->protocol != NULL)
		kiln_query_add(q, "Protocol", s->protocol);
	if (s->port > 0)
		kiln_aws_query_int(q, "Port", s->port);
	if (s->ssl_policy != NULL)
		kiln_query_add(q, "SslPolicy", s->ssl_policy);
	if (s->certificate_arn != NULL)
		kiln_query_add(q, "Certificates.member.1.CertificateArn", s->certificate_arn);
	for (i = 0; i < s->n_actions; i++) {
		const struct kiln_elbv2_action *a = &s->actions[i];
		char key[64];

		KILN_ASSERT_ARG(a->type != NULL);
		kiln_query_addf(q, a->type, "DefaultActions.member.%zu.Type", i + 1);
		if (a->target_group_arn != NULL)
			kiln_query_addf(q, a->target_group_arn,
			                "DefaultActions.member.%zu.TargetGroupArn", i + 1);
		if (a->order > 0) {
			snprintf(key, sizeof(key), "DefaultActions.member.%zu.Order", i + 1);
			kiln_aws_query_int(q, key, a->order);
		}
	}
}

static int one_listener(struct kiln_elbv2_listener **out, struct kiln_aws *aws, const char *action,
                        const struct kiln_query *q)
{
	struct kiln_elbv2_listener_list *l = kiln_xcalloc(1, sizeof(*l));
	char result[64];
	int error;

	snprintf(result, sizeof(result), "%sResult", action);
	error = kiln_aws_call(aws, ELB, action, q, result, elbv2_parse_listeners, l);
	if (error == 0 && l->n != 1)
		error = kiln_error_set(KILN_ERROR, "%s reply lists %zu listeners", action, l->n);
	if (error == 0 && out != NULL) {
		*out = kiln_xmalloc(sizeof(**out));
		**out = l->v[0];
		l->n = 0;
	}
	kiln_elbv2_listener_list_free(l);
	return error;
}

int kiln_elbv2_create_listener(struct kiln_elbv2_listener **out, struct kiln_aws *aws,
                               const char *load_balancer_arn,
                               const struct kiln_elbv2_listener_spec *s,
                               const struct kiln_aws_tags *tags)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && load_balancer_arn != NULL && s != NULL);
	*out = NULL;
	kiln_query_add(&q, "LoadBalancerArn", load_balancer_arn);
	query_listener(&q, s);
	kiln_aws_query_tags(&q, MEMBER, "Tags", tags);
	error = one_listener(out, aws, "CreateListener", &q);
	kiln_query_release(&q);
	return error;
}

int kiln_elbv2_describe_listeners(struct kiln_elbv2_listener_list **out, struct kiln_aws *aws,
                                  const struct kiln_elbv2_describe *d)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_elbv2_listener_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && d != NULL);
	*out = NULL;
	query_describe(&q, d, "ListenerArns", NULL);
	error =
	    kiln_aws_paginate(aws, ELB, "DescribeListeners", &q, "Marker",
	                      "DescribeListenersResult", "NextMarker", elbv2_parse_listeners, l);
	if (error < 0)
		kiln_elbv2_listener_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

int kiln_elbv2_modify_listener(struct kiln_elbv2_listener **out, struct kiln_aws *aws,
                               const char *arn, const struct kiln_elbv2_listener_spec *s)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(aws != NULL && arn != NULL && s != NULL);
	if (out != NULL)
		*out = NULL;
	kiln_query_add(&q, "ListenerArn", arn);
	query_listener(&q, s);
	error = one_listener(out, aws, "ModifyListener", &q);
	kiln_query_release(&q);
	return error;
}

int kiln_elbv2_delete_listener(struct kiln_aws *aws, const char *arn)
{
	return call_one(aws, "DeleteListener", "ListenerArn", arn);
}

/* Targets. */

static void query_targets(struct kiln_query *q, const struct kiln_elbv2_target *t, size_t n)
{
	char key[64];
	size_t i;

	for (i = 0; t != NULL && i < n; i++) {
		KILN_ASSERT_ARG(t[i].id != NULL);
		kiln_query_addf(q, t[i].id, "Targets.member.%zu.Id", i + 1);
		if (t[i].port > 0) {
			snprintf(key, sizeof(key), "Targets.member.%zu.Port", i + 1);
			kiln_aws_query_int(q, key, t[i].port);
		}
	}
}

static int targets_call(struct kiln_aws *aws, const char *action, const char *arn,
                        const struct kiln_elbv2_target *t, size_t n)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(aws != NULL && arn != NULL && t != NULL && n > 0);
	kiln_query_add(&q, "TargetGroupArn", arn);
	query_targets(&q, t, n);
	error = kiln_aws_call(aws, ELB, action, &q, NULL, NULL, NULL);
	kiln_query_release(&q);
	return error;
}

int kiln_elbv2_register_targets(struct kiln_aws *aws, const char *target_group_arn,
                                const struct kiln_elbv2_target *t, size_t n)
{
	return targets_call(aws, "RegisterTargets", target_group_arn, t, n);
}

int kiln_elbv2_deregister_targets(struct kiln_aws *aws, const char *target_group_arn,
                                  const struct kiln_elbv2_target *t, size_t n)
{
	return targets_call(aws, "DeregisterTargets", target_group_arn, t, n);
}

void kiln_elbv2_target_health_list_free(struct kiln_elbv2_target_health_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].id);
		free(l->v[i].health_check_port);
		free(l->v[i].state);
		free(l->v[i].reason);
		free(l->v[i].description);
	}
	free(l->v);
	free(l);
}

KILN_STATIC int elbv2_parse_target_health(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_elbv2_target_health_list *l = arg;
	xmlNodePtr it;

	for (it = kiln_xml_first_child(result, "TargetHealthDescriptions"); it;
	     it = kiln_xml_next(it)) {
		struct kiln_elbv2_target_health *h =
		    kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*h));

		h->id = kiln_aws_xml_dup(x, it, "Target/Id");
		h->port = (int)kiln_aws_xml_int(x, it, "Target/Port", 0);
		h->health_check_port = kiln_aws_xml_dup(x, it, "HealthCheckPort");
		h->state = kiln_aws_xml_dup(x, it, "TargetHealth/State");
		h->reason = kiln_aws_xml_dup(x, it, "TargetHealth/Reason");
		h->description = kiln_aws_xml_dup(x, it, "TargetHealth/Description");
		if (h->id == NULL || h->state == NULL)
			return kiln_error_set(KILN_ERROR,
			                      "DescribeTargetHealth reply lacks a target or state");
	}
	return 0;
}

int kiln_elbv2_describe_target_health(struct kiln_elbv2_target_health_list **out,
                                      struct kiln_aws *aws, const char *target_group_arn,
                                      const struct kiln_elbv2_target *t, size_t n)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_elbv2_target_health_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && target_group_arn != NULL);
	*out = NULL;
	kiln_query_add(&q, "TargetGroupArn", target_group_arn);
	query_targets(&q, t, n);
	error = kiln_aws_call(aws, ELB, "DescribeTargetHealth", &q, "DescribeTargetHealthResult",
	                      elbv2_parse_target_health, l);
	if (error < 0)
		kiln_elbv2_target_health_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

/* Tags. */

int kiln_elbv2_add_tags(struct kiln_aws *aws, const char *const *arns, size_t n,
                        const struct kiln_aws_tags *tags)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(aws != NULL && arns != NULL && n > 0 && tags != NULL && tags->n > 0);
	kiln_aws_query_strings(&q, MEMBER, "ResourceArns", arns, n);
	kiln_aws_query_tags(&q, MEMBER, "Tags", tags);
	error = kiln_aws_call(aws, ELB, "AddTags", &q, NULL, NULL, NULL);
	kiln_query_release(&q);
	return error;
}

int kiln_elbv2_remove_tags(struct kiln_aws *aws, const char *const *arns, size_t n,
                           const char *const *keys, size_t n_keys)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(aws != NULL && arns != NULL && n > 0 && keys != NULL && n_keys > 0);
	kiln_aws_query_strings(&q, MEMBER, "ResourceArns", arns, n);
	kiln_aws_query_strings(&q, MEMBER, "TagKeys", keys, n_keys);
	error = kiln_aws_call(aws, ELB, "RemoveTags", &q, NULL, NULL, NULL);
	kiln_query_release(&q);
	return error;
}

void kiln_elbv2_tag_description_list_free(struct kiln_elbv2_tag_description_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].resource_arn);
		kiln_aws_tags_release(&l->v[i].tags);
	}
	free(l->v);
	free(l);
}

KILN_STATIC int elbv2_parse_tag_descriptions(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_elbv2_tag_description_list *l = arg;
	xmlNodePtr it;

	for (it = kiln_xml_first_child(result, "TagDescriptions"); it; it = kiln_xml_next(it)) {
		struct kiln_elbv2_tag_description *t =
		    kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*t));

		t->resource_arn = kiln_aws_xml_dup(x, it, "ResourceArn");
		kiln_aws_xml_tags(&t->tags, x, it, "Tags", "Key", "Value");
		if (t->resource_arn == NULL)
			return kiln_error_set(KILN_ERROR, "DescribeTags reply lacks ResourceArn");
	}
	return 0;
}

int kiln_elbv2_describe_tags(struct kiln_elbv2_tag_description_list **out, struct kiln_aws *aws,
                             const char *const *arns, size_t n)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_elbv2_tag_description_list *l = kiln_xcalloc(1, sizeof(*l));
	size_t off, chunk;
	int error = 0;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && arns != NULL && n > 0);
	*out = NULL;
	for (off = 0; off < n && error == 0; off += chunk) {
		chunk = n - off < TAGS_PER_CALL ? n - off : TAGS_PER_CALL;
		kiln_query_release(&q);
		kiln_aws_query_strings(&q, MEMBER, "ResourceArns", arns + off, chunk);
		error = kiln_aws_call(aws, ELB, "DescribeTags", &q, "DescribeTagsResult",
		                      elbv2_parse_tag_descriptions, l);
	}
	if (error < 0)
		kiln_elbv2_tag_description_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}
