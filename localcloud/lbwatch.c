/*
 * The load balancers' watcher (a round a quarter second, on the reaper's
 * thread), and target health as ELBv2 reports it.
 *
 * Health is HAProxy's own: each round reads every load balancer's "show
 * stat" (status, last check, failed checks) into cloud->lb_health, and
 * DescribeTargetHealth maps that onto AWS's states and reason codes. A
 * target stays "initial" from its registration until it passes the healthy
 * threshold or fails the unhealthy one (checks in a row, one an interval).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "localcloud/ec2-int.h"
#include "localcloud/elbv2-int.h"
#include "localcloud/haproxy-int.h"
#include "localcloud/lb-int.h"
#include "localcloud/net-int.h"

/* The column of `name` in a "show stat" header, or -1. */
static int column(char **names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* Split a CSV line in place (HAProxy's stats quote nothing we read). */
static int split(char *line, char **fields, int max)
{
	int n = 0;

	fields[n++] = line;
	for (char *p = line; *p && n < max; p++) {
		if (*p == ',') {
			*p = '\0';
			fields[n++] = p + 1;
		}
	}
	return n;
}

/* One row of "show stat" for a server, as the health table keeps it. */
static json_t *server_row(char **f, int nf, const int col[6])
{
	for (int i = 0; i < 6; i++)
		if (col[i] < 0 || col[i] >= nf)
			return NULL;
	return json_pack("{s:s, s:s, s:s, s:I}", "status", f[col[2]], "check_status", f[col[3]],
	                 "check_code", f[col[4]], "chkfail", (json_int_t)atoll(f[col[5]]));
}

/* Every server's health in one load balancer's HAProxy: "tg_x/t_y" -> row. */
static json_t *read_stats(const char *dir)
{
	struct kiln_buf out = KILN_BUF_INIT;
	json_t *rows = json_object();
	char *names[128], *f[128], *line, *save = NULL;
	int nnames = 0, col[6];

	kiln_buf_init(&out, 8 << 20);
	if (lc_haproxy_cmd(dir, "show stat -1 4 -1", &out) < 0) {
		kiln_error_clear();
		kiln_buf_release(&out);
		json_decref(rows);
		return NULL;
	}
	for (line = strtok_r(out.ptr, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int nf;
		json_t *row;
		if (strncmp(line, "# ", 2) == 0) {
			static const char *const want[6] = {
			    "pxname", "svname", "status", "check_status", "check_code", "chkfail"};
			nnames = split(line + 2, names, 128);
			for (int i = 0; i < 6; i++)
				col[i] = column(names, nnames, want[i]);
			continue;
		}
		if (nnames == 0)
			continue;
		nf = split(line, f, 128);
		row = server_row(f, nf, col);
		if (row) {
			char *key = kiln_xasprintf("%s/%s", f[col[0]], f[col[1]]);
			json_object_set_new(rows, key, row);
			free(key);
		}
	}
	kiln_buf_release(&out);
	return rows;
}

/* Whether HAProxy's last check of a server failed ("* " marks one under way). */
static int check_failed(const char *status)
{
	static const char *const failures[] = {"TOUT", "CON", "RSP", "STS", "SOCKERR"};

	if (strncmp(status, "* ", 2) == 0)
		status += 2;
	for (size_t i = 0; i < sizeof(failures) / sizeof(*failures); i++)
		if (strstr(status, failures[i]) != NULL)
			return 1;
	return 0;
}

/*
 * Keep what HAProxy said, whether a target has been up since it was
 * registered, and since when a target that never was up fails its checks:
 * HAProxy counts failed checks (chkfail) only for a server that is up, so
 * those of a new target are counted here, one an interval from the first.
 */
static void store_health(struct lc_cloud *c, json_t *rows, json_t *servers, double now)
{
	const char *name;
	json_t *row;

	json_object_foreach(rows, name, row)
	{
		json_t *old = json_object_get(c->lb_health, name),
		       *s = json_object_get(servers, name);
		double since = s ? json_real_value(json_object_get(s, "since")) : 0;
		int up = strncmp(lc_str(row, "status"), "UP", 2) == 0;
		int same = old && json_real_value(json_object_get(old, "since")) == since;
		int seen = same && json_is_true(json_object_get(old, "up_seen"));
		json_object_set_new(row, "since", json_real(since));
		json_object_set_new(row, "up_seen", json_boolean(seen || up));
		if (!seen && !up && check_failed(lc_str(row, "check_status"))) {
			json_t *first = same ? json_object_get(old, "failing_since") : NULL;
			json_object_set_new(row, "failing_since",
			                    json_real(first ? json_real_value(first) : now));
		}
		json_object_set(c->lb_health, name, row);
	}
}

/* Failed checks in a row of a target that was never up (see store_health). */
static long long failed_in_row(json_t *h, json_t *hc)
{
	json_t *first = json_object_get(h, "failing_since");
	long long interval = json_integer_value(json_object_get(hc, "interval"));

	if (first == NULL || interval <= 0)
		return 0;
	return 1 + (long long)((kiln_time_now() - json_real_value(first)) / (double)interval);
}

void lc_target_health(struct lc_cloud *c, json_t *tg, const char *key, json_t *target,
                      const char **state, const char **reason, char description[128])
{
	json_t *inst, *h;
	char server[64], *name;

	*state = "unused";
	if (target == NULL) {
		*reason = "Target.NotRegistered";
		snprintf(description, 128, "%s", "Target is not registered to the target group");
		return;
	}
	if (strcmp(lc_str(target, "state"), "draining") == 0) {
		*state = "draining";
		*reason = "Target.DeregistrationInProgress";
		snprintf(description, 128, "%s", "Target deregistration is in progress");
		return;
	}
	if (lc_tg_load_balancer(c, lc_str(tg, "arn")) == NULL) {
		*reason = "Target.NotInUse";
		snprintf(description, 128, "%s",
		         "Target group is not configured to receive traffic from the load "
		         "balancer");
		return;
	}
	inst = json_object_get(lc_instances(c), lc_str(target, "id"));
	if (inst == NULL || strcmp(lc_str(inst, "state"), "running") != 0) {
		*reason = "Target.InvalidState";
		snprintf(description, 128, "%s", "Target is in the stopped state");
		return;
	}
	lc_lb_server_name(server, 't', key);
	name = kiln_xasprintf("tg_%s/%s", lc_str(tg, "id"), server);
	h = json_object_get(c->lb_health, name);
	free(name);
	if (h == NULL || json_real_value(json_object_get(h, "since")) !=
	                     json_real_value(json_object_get(target, "since"))) {
		*state = "initial";
		*reason = "Elb.RegistrationInProgress";
		snprintf(description, 128, "%s", "Target registration is in progress");
		return;
	}
	if (strncmp(lc_str(h, "status"), "UP", 2) == 0) {
		*state = "healthy";
		*reason = NULL;
		description[0] = '\0';
		return;
	}
	if (!json_is_true(json_object_get(h, "up_seen")) &&
	    failed_in_row(h, json_object_get(tg, "hc")) <
	        json_integer_value(json_object_get(json_object_get(tg, "hc"), "unhealthy"))) {
		*state = "initial";
		*reason = "Elb.InitialHealthChecking";
		snprintf(description, 128, "%s", "Initial health checks in progress");
		return;
	}
	*state = "unhealthy";
	/* HAProxy's check status: L7STS a wrong code, L4TOUT/L7TOUT no answer in time */
	if (strcmp(lc_str(h, "check_status"), "L7STS") == 0) {
		*reason = "Target.ResponseCodeMismatch";
		snprintf(description, 128, "Health checks failed with these codes: [%s]",
		         lc_str(h, "check_code"));
	} else if (strstr(lc_str(h, "check_status"), "TOUT") != NULL) {
		*reason = "Target.Timeout";
		snprintf(description, 128, "%s", "Request timed out");
	} else {
		*reason = "Target.FailedHealthChecks";
		snprintf(description, 128, "%s", "Health checks failed");
	}
}

/* Targets whose instance went away drain; drains past their delay end. Returns a change. */
static int age_targets(struct lc_cloud *c, json_t *tg, double now)
{
	json_t *targets = json_object_get(tg, "targets"), *t, *gone = json_array(), *v;
	double delay = atof(lc_tg_attribute(tg, "deregistration_delay.timeout_seconds"));
	const char *key;
	size_t i;
	int changed = 0;

	json_object_foreach(targets, key, t)
	{
		json_t *inst = json_object_get(lc_instances(c), lc_str(t, "id"));
		int draining = strcmp(lc_str(t, "state"), "draining") == 0;
		if (draining && json_real_value(json_object_get(t, "until")) <= now) {
			json_array_append_new(gone, json_string(key));
		} else if (!draining &&
		           (inst == NULL || strcmp(lc_str(inst, "state"), "terminated") == 0 ||
		            strcmp(lc_str(inst, "state"), "shutting-down") == 0)) {
			/* a terminated instance is deregistered by itself */
			json_object_set_new(t, "state", json_string("draining"));
			json_object_set_new(t, "until", json_real(now + delay));
			changed = 1;
		}
	}
	json_array_foreach(gone, i, v) json_object_del(targets, json_string_value(v));
	changed |= json_array_size(gone) > 0;
	json_decref(gone);
	return changed;
}

/* Under the lock: the load balancers to look at, target groups aged. */
static json_t *watch_list(struct lc_cloud *c)
{
	json_t *list = json_array(), *v;
	const char *k;
	double now = kiln_time_now();
	int changed = 0;

	pthread_mutex_lock(&c->mu);
	json_object_foreach(lc_tgs(c), k, v) changed |= age_targets(c, v, now);
	if (changed)
		lc_state_save(c);
	json_object_foreach(lc_lbs(c), k, v)
	    json_array_append_new(list, json_pack("{s:s, s:s}", "arn", k, "id", lc_str(v, "id")));
	pthread_mutex_unlock(&c->mu);
	return list;
}

void lc_lbs_watch(struct lc_cloud *c)
{
	json_t *list = watch_list(c), *lb;
	size_t i;

	json_array_foreach(list, i, lb)
	{
		char *dir = lc_lb_dir(c, lc_str(lb, "id"));
		json_t *rows;
		struct lb_desired d;
		/* a dead HAProxy is started again; any change the state asks for applied */
		lc_lb_sync(c, lc_str(lb, "arn")); /* a failure is logged by the sync */
		rows = read_stats(dir);
		pthread_mutex_lock(&c->mu);
		if (rows && lc_lb_render(&d, c, lc_str(lb, "arn"), NULL) == 0) {
			store_health(c, rows, d.servers, kiln_time_now());
			lc_lb_desired_release(&d);
		}
		pthread_mutex_unlock(&c->mu);
		json_decref(rows);
		free(dir);
	}
	json_decref(list);
}

void lc_lbs_resume(struct lc_cloud *c)
{
	json_t *list = watch_list(c), *lb;
	size_t i;

	/* a HAProxy that kept serving while the daemon was away is adopted, not restarted */
	json_array_foreach(list, i, lb)
	{
		lc_lb_sync(c, lc_str(lb, "arn")); /* a failure is logged by the sync */
	}
	json_decref(list);
}

void lc_lbs_shutdown(struct lc_cloud *c)
{
	json_t *list = watch_list(c), *lb;
	size_t i;

	json_array_foreach(list, i, lb)
	{
		char *dir = lc_lb_dir(c, lc_str(lb, "id"));
		if (lc_haproxy_stop(dir, 1) < 0)
			kiln_log_warn("%s", kiln_error_last());
		free(dir);
	}
	json_decref(list);
}
