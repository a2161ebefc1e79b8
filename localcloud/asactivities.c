/*
 * Scaling activities: every launch and termination of a group's instance is
 * one, with AWS's status codes (PreInService, MidLifecycleAction,
 * WaitingForELBConnectionDraining, Successful, Failed, Cancelled...), its
 * progress and a human cause ("At 2024-05-01T10:00:00Z a user request
 * explicitly set group desired capacity changing the desired capacity from
 * 3 to 5."). Activities outlive their group (IncludeDeletedGroups); each
 * group keeps its newest LC_AS_ACTIVITIES.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/autoscaling-int.h"
#include "localcloud/xml-int.h"

/* Activity ids are UUIDs, as AWS's. */
static char *new_uuid(void)
{
	char *hex = kiln_id_random("", 32);
	char *id = kiln_xasprintf("%.8s-%.4s-4%.3s-a%.3s-%.12s", hex, hex + 8, hex + 13, hex + 17,
	                          hex + 20);

	free(hex);
	return id;
}

static json_int_t next_seq(struct lc_cloud *c)
{
	json_t *meta = lc_table(c, "autoscaling_meta");
	json_int_t seq = json_integer_value(json_object_get(meta, "seq")) + 1;

	json_object_set_new(meta, "seq", json_integer(seq));
	return seq;
}

/* Keep a group's newest activities: the oldest ended ones go past the cap. */
static void trim(struct lc_cloud *c, const char *group)
{
	json_t *acts = lc_activities(c), *a, *oldest = NULL;
	const char *k, *oldest_id = NULL;
	size_t n = 0;

	json_object_foreach(acts, k, a)
	{
		if (strcmp(lc_str(a, "group"), group) != 0)
			continue;
		n++;
		if (json_object_get(a, "end") != NULL &&
		    (oldest == NULL || json_integer_value(json_object_get(a, "seq")) <
		                           json_integer_value(json_object_get(oldest, "seq")))) {
			oldest = a;
			oldest_id = k;
		}
	}
	if (n > LC_AS_ACTIVITIES && oldest_id != NULL)
		json_object_del(acts, oldest_id);
}

json_t *lc_activity_new(struct lc_cloud *c, json_t *g, const char *description, const char *cause)
{
	char *id = new_uuid();
	json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:i, s:I}", "id", id, "group",
	                      lc_str(g, "name"), "arn", lc_str(g, "arn"), "description",
	                      description, "cause", cause, "start", kiln_time_now(), "status",
	                      "InProgress", "progress", 0, "seq", next_seq(c));

	json_object_set_new(lc_activities(c), id, a);
	free(id);
	trim(c, lc_str(g, "name"));
	return a;
}

void lc_activity_set(json_t *a, const char *status, int progress, const char *message)
{
	json_object_set_new(a, "status", json_string(status));
	json_object_set_new(a, "progress", json_integer(progress));
	if (message != NULL)
		json_object_set_new(a, "message", json_string(message));
}

void lc_activity_end(struct lc_cloud *c, json_t *a, const char *status, const char *message)
{
	json_t *g;

	if (a == NULL)
		return;
	lc_activity_set(a, status, 100, message);
	json_object_set_new(a, "end", json_real(kiln_time_now()));
	/* the cooldown runs from the end of the group's last activity */
	g = json_object_get(lc_asgs(c), lc_str(a, "group"));
	if (g != NULL)
		json_object_set_new(g, "last_end", json_real(kiln_time_now()));
}

int lc_asg_busy(struct lc_cloud *c, const char *group)
{
	const char *k;
	json_t *a;

	json_object_foreach(lc_activities(c), k, a)
	{
		if (strcmp(lc_str(a, "group"), group) == 0 && json_object_get(a, "end") == NULL &&
		    !json_is_true(json_object_get(a, "deleted")))
			return 1;
	}
	return 0;
}

void lc_activities_group_deleted(struct lc_cloud *c, const char *group)
{
	const char *k;
	json_t *a;

	json_object_foreach(lc_activities(c), k, a)
	{
		if (strcmp(lc_str(a, "group"), group) != 0 ||
		    json_is_true(json_object_get(a, "deleted")))
			continue;
		json_object_set_new(a, "deleted", json_true());
		if (json_object_get(a, "end") == NULL) {
			lc_activity_set(a, "Cancelled", 100, "The group was deleted");
			json_object_set_new(a, "end", json_real(kiln_time_now()));
		}
	}
}

void lc_asg_cause(json_t *g, const char *fmt, ...)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char now[32];
	va_list ap;

	kiln_time_iso8601(now, kiln_time_now(), 0);
	kiln_buf_printf(&b, "At %s ", now);
	va_start(ap, fmt);
	kiln_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	json_object_set_new(g, "cause", json_string(b.ptr));
	kiln_buf_release(&b);
}

void lc_activity_xml(struct lc_req *r, json_t *a)
{
	char t[32];

	lc_xt(r->out, "ActivityId", lc_str(a, "id"));
	lc_xt(r->out, "AutoScalingGroupName", lc_str(a, "group"));
	lc_xt(r->out, "Description", lc_str(a, "description"));
	lc_xt(r->out, "Cause", lc_str(a, "cause"));
	lc_as_time(t, json_number_value(json_object_get(a, "start")));
	lc_xt(r->out, "StartTime", t);
	if (json_object_get(a, "end") != NULL) {
		lc_as_time(t, json_number_value(json_object_get(a, "end")));
		lc_xt(r->out, "EndTime", t);
	}
	lc_xt(r->out, "StatusCode", lc_str(a, "status"));
	lc_xt(r->out, "StatusMessage", lc_str(a, "message"));
	lc_xtf(r->out, "Progress", "%lld",
	       (long long)json_integer_value(json_object_get(a, "progress")));
	lc_xt(r->out, "Details", lc_str(a, "details") ? lc_str(a, "details") : "{}");
	if (json_is_true(json_object_get(a, "deleted")))
		lc_xt(r->out, "AutoScalingGroupState", "Deleted");
	lc_xt(r->out, "AutoScalingGroupARN", lc_str(a, "arn"));
}

static int newest_first(const void *x, const void *y)
{
	json_int_t a = json_integer_value(json_object_get(*(json_t *const *)x, "seq"));
	json_int_t b = json_integer_value(json_object_get(*(json_t *const *)y, "seq"));

	return (a < b) - (a > b);
}

struct activity_query {
	const char *group;
	const char **ids;
	size_t nids;
	int deleted;
	json_t *filters;
};

static int activity_matches(const struct activity_query *q, json_t *a)
{
	size_t i, j;
	json_t *f, *v;
	int found = q->nids == 0;

	if (q->group && strcmp(lc_str(a, "group"), q->group) != 0)
		return 0;
	if (json_is_true(json_object_get(a, "deleted")) && !q->deleted)
		return 0;
	for (size_t k = 0; k < q->nids && !found; k++)
		found = strcmp(q->ids[k], lc_str(a, "id")) == 0;
	if (!found)
		return 0;
	json_array_foreach(q->filters, i, f)
	{
		int any = 0;
		json_array_foreach(json_object_get(f, "values"), j, v) any |=
		    strcmp(json_string_value(v), lc_str(a, "status")) == 0;
		if (!any)
			return 0;
	}
	return 1;
}

int lc_as_describe_activities(struct lc_req *r)
{
	static const char *const filter_names[] = {"Status"};
	struct activity_query q = {NULL, NULL, 0, 0, NULL};
	json_t **list = NULL, *a;
	const char *k;
	size_t n = 0, first, count;
	int rc = -1;

	if (lc_as_str(r, "AutoScalingGroupName", 255, &q.group) < 0 ||
	    lc_as_bool(r, "IncludeDeletedGroups", 0, &q.deleted) < 0 ||
	    lc_as_members(r, "ActivityIds", 255, 50, &q.ids, &q.nids) < 0)
		return -1;
	if (lc_as_filters(r, filter_names, 1, &q.filters) < 0)
		goto done;
	list = kiln_xcalloc(json_object_size(lc_activities(r->c)) + 1, sizeof(*list));
	json_object_foreach(lc_activities(r->c), k, a)
	{
		if (activity_matches(&q, a))
			list[n++] = a;
	}
	qsort(list, n, sizeof(*list), newest_first);
	if (lc_as_page(r, n, 100, 100, &first, &count) < 0)
		goto done;
	lc_xo(r->out, "Activities");
	for (size_t i = first; i < first + count; i++) {
		lc_xo(r->out, "member");
		lc_activity_xml(r, list[i]);
		lc_xc(r->out, "member");
	}
	lc_xc(r->out, "Activities");
	lc_as_next_token(r, first, count, n);
	rc = 0;
done:
	free(list);
	free(q.ids);
	json_decref(q.filters);
	return rc;
}
