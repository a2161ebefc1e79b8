/*
 * Registering and deregistering targets, and their health. A target is an
 * instance and a port ("i-...:8080" in the group's "targets"). A target
 * deregistered from a group in use drains: new requests stop at once, it
 * stays "draining" for the group's deregistration delay, then goes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/ec2-int.h"
#include "localcloud/elbv2-int.h"
#include "localcloud/xml-int.h"

#define LC_TARGETS_MAX 1000

struct target_ref {
	const char *id;
	long long port;
	char key[64];
};

/* Targets.member.N.Id / Port, each an instance of the group's VPC; ports default to the group's. */
static int request_targets(struct lc_req *r, json_t *tg, struct target_ref **out, size_t *n)
{
	int *idx;
	size_t m = lc_q_indexes(r, "Targets.member", &idx);
	struct target_ref *t = kiln_xcalloc(m + 1, sizeof(*t));
	int rc = 0;

	for (size_t i = 0; i < m && rc == 0; i++) {
		char key[64];
		json_t *inst;
		t[i].id = lc_qf(r, "Targets.member.%d.Id", idx[i]);
		snprintf(key, sizeof(key), "Targets.member.%d.Port", idx[i]);
		if (t[i].id == NULL) {
			snprintf(key, sizeof(key), "Targets.member.%d.Id", idx[i]);
			rc = lc_elb_missing(r, key);
		} else if (lc_elb_q_int(r, key, json_integer_value(json_object_get(tg, "port")), 1,
		                        65535, &t[i].port) < 0)
			rc = -1;
		else if ((inst = json_object_get(lc_instances(r->c), t[i].id)) == NULL ||
		         strcmp(lc_str(inst, "vpc"), lc_str(tg, "vpc")) != 0)
			rc = lc_err(
			    r, 400, "InvalidTarget",
			    "The following targets are not in the target group's VPC or do not "
			    "exist: '%s'",
			    t[i].id);
		else
			snprintf(t[i].key, sizeof(t[i].key), "%s:%lld", t[i].id, t[i].port);
	}
	free(idx);
	if (rc == 0 && m == 0)
		rc = lc_elb_missing(r, "Targets");
	if (rc < 0) {
		free(t);
		return -1;
	}
	*out = t;
	*n = m;
	return 0;
}

int lc_elbv2_register_targets(struct lc_req *r)
{
	json_t *tg = lc_tg_get(r, lc_q(r, "TargetGroupArn")), *targets;
	struct target_ref *t;
	size_t n, added = 0;

	if (tg == NULL || request_targets(r, tg, &t, &n) < 0)
		return -1;
	targets = json_object_get(tg, "targets");
	for (size_t i = 0; i < n; i++) {
		json_t *inst = json_object_get(lc_instances(r->c), t[i].id);
		if (strcmp(lc_str(inst, "state"), "running") != 0) {
			lc_err(r, 400, "InvalidTarget",
			       "The following targets are not in a running state and cannot be "
			       "registered: '%s'",
			       t[i].id);
			free(t);
			return -1;
		}
		added += json_object_get(targets, t[i].key) == NULL;
	}
	if (json_object_size(targets) + added > LC_TARGETS_MAX) {
		free(t);
		return lc_err(r, 400, "TooManyTargets", "A target group has at most %d targets",
		              LC_TARGETS_MAX);
	}
	for (size_t i = 0; i < n; i++) {
		json_t *have = json_object_get(targets, t[i].key);
		/* a draining target registered again is a new registration */
		if (have == NULL || strcmp(lc_str(have, "state"), "draining") == 0)
			json_object_set_new(targets, t[i].key,
			                    json_pack("{s:s, s:I, s:s, s:f}", "id", t[i].id, "port",
			                              (json_int_t)t[i].port, "state", "registered",
			                              "since", kiln_time_now()));
	}
	free(t);
	r->dirty = 1;
	lc_elbv2_sync_later(r, lc_tg_load_balancer(r->c, lc_str(tg, "arn")));
	return 0;
}

int lc_elbv2_deregister_targets(struct lc_req *r)
{
	json_t *tg = lc_tg_get(r, lc_q(r, "TargetGroupArn")), *targets;
	const char *lb;
	struct target_ref *t;
	size_t n;
	double delay;

	if (tg == NULL || request_targets(r, tg, &t, &n) < 0)
		return -1;
	targets = json_object_get(tg, "targets");
	lb = lc_tg_load_balancer(r->c, lc_str(tg, "arn"));
	delay = atof(lc_tg_attribute(tg, "deregistration_delay.timeout_seconds"));
	for (size_t i = 0; i < n; i++) {
		json_t *have = json_object_get(targets, t[i].key);
		if (have == NULL || strcmp(lc_str(have, "state"), "draining") == 0)
			continue;
		/* a group no listener uses carries no traffic: nothing to drain */
		if (lb == NULL || delay <= 0) {
			json_object_del(targets, t[i].key);
			continue;
		}
		json_object_set_new(have, "state", json_string("draining"));
		json_object_set_new(have, "until", json_real(kiln_time_now() + delay));
	}
	free(t);
	r->dirty = 1;
	lc_elbv2_sync_later(r, lb);
	return 0;
}

static void health_xml(struct lc_req *r, json_t *tg, const char *id, long long port, json_t *target)
{
	const char *state, *reason;
	char desc[128];
	json_t *hc = json_object_get(tg, "hc");
	char key[64];

	snprintf(key, sizeof(key), "%s:%lld", id, port);
	lc_target_health(r->c, tg, key, target, &state, &reason, desc);
	lc_xo(r->out, "member");
	lc_xo(r->out, "Target");
	lc_xt(r->out, "Id", id);
	lc_xtf(r->out, "Port", "%lld", port);
	lc_xc(r->out, "Target");
	if (strcmp(lc_str(hc, "port"), "traffic-port") == 0)
		lc_xtf(r->out, "HealthCheckPort", "%lld", port);
	else
		lc_xt(r->out, "HealthCheckPort", lc_str(hc, "port"));
	lc_xo(r->out, "TargetHealth");
	lc_xt(r->out, "State", state);
	lc_xt(r->out, "Reason", reason);
	lc_xt(r->out, "Description", desc[0] ? desc : NULL);
	lc_xc(r->out, "TargetHealth");
	lc_xc(r->out, "member");
}

int lc_elbv2_describe_target_health(struct lc_req *r)
{
	json_t *tg = lc_tg_get(r, lc_q(r, "TargetGroupArn")), *targets, *t;
	struct target_ref *asked = NULL;
	const char *k;
	size_t n = 0;

	if (tg == NULL)
		return -1;
	targets = json_object_get(tg, "targets");
	if (lc_q_has_prefix(r, "Targets.member") && request_targets(r, tg, &asked, &n) < 0)
		return -1;
	lc_xo(r->out, "TargetHealthDescriptions");
	if (asked) {
		for (size_t i = 0; i < n; i++)
			health_xml(r, tg, asked[i].id, asked[i].port,
			           json_object_get(targets, asked[i].key));
	} else {
		json_object_foreach(targets, k, t) health_xml(
		    r, tg, lc_str(t, "id"), json_integer_value(json_object_get(t, "port")), t);
	}
	lc_xc(r->out, "TargetHealthDescriptions");
	free(asked);
	return 0;
}
