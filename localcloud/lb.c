/*
 * A load balancer as HAProxy configuration (lb-int.h).
 *
 * One frontend per listener binds the load balancer's address and port and
 * picks a backend per request from a map of 1,000 buckets
 * (rand(1000) -> backend): a forward to one target group fills every
 * bucket with it, weighted target groups share the buckets in proportion,
 * a fixed response points at a backend that answers it; changing the map
 * (prepare/commit, atomic) moves traffic with no reload. One backend per
 * target group a listener uses, with HAProxy's own health checks from the
 * group's settings and two servers per target: "t_", checked, and "b_", its
 * backup, unchecked, used only when every checked server is down: the
 * group fails open over all its targets, as an ALB does. A group with no
 * target answers 503.
 *
 * Connections to targets leave from the load balancer's own address, so
 * that security groups see the load balancer. The load balancer's own
 * security groups decide which sources its listeners accept.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/ec2-int.h"
#include "localcloud/elbv2-int.h"
#include "localcloud/lb-int.h"
#include "localcloud/net-int.h"

#define BUCKETS 1000

char *lc_lb_dir(struct lc_cloud *c, const char *lb_id)
{
	return kiln_xasprintf("%s/lbs/%s", c->state_dir, lb_id);
}

void lc_lb_server_name(char out[64], char kind, const char *target_key)
{
	/* "i-0123:8080" -> "t_i-0123_8080": a server name has no ':' */
	snprintf(out, 64, "%c_%s", kind, target_key);
	for (char *p = out; *p; p++)
		if (*p == ':')
			*p = '_';
}

void lc_lb_desired_release(struct lb_desired *d)
{
	free(d->arn);
	free(d->dir);
	free(d->ip);
	kiln_buf_release(&d->structure);
	kiln_buf_release(&d->full);
	kiln_buf_release(&d->reload);
	json_decref(d->servers);
	json_decref(d->files);
	memset(d, 0, sizeof(*d));
}

static void both(struct lb_desired *d, const char *fmt, ...) KILN_PRINTF(2, 3);
static void both(struct lb_desired *d, const char *fmt, ...)
{
	struct kiln_buf line = KILN_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	kiln_buf_vprintf(&line, fmt, ap);
	va_end(ap);
	kiln_buf_put(&d->structure, line.ptr, line.size);
	kiln_buf_put(&d->full, line.ptr, line.size);
	kiln_buf_put(&d->reload, line.ptr, line.size);
	kiln_buf_release(&line);
}

static void global_section(struct lb_desired *d, json_t *lb)
{
	const char *idle = json_string_value(
	    json_object_get(json_object_get(lb, "attributes"), "idle_timeout.timeout_seconds"));

	both(d,
	     "# %s (written by the local cloud; changed at run time through admin.sock)\n"
	     "global\n"
	     "    stats socket %s/admin.sock mode 600 level admin expose-fd listeners\n"
	     /*
	      * A listening address is this HAProxy's alone (reloads hand the sockets
	      * over): a stray HAProxy still bound to the address, from a cloud that
	      * died on the same range, makes the start fail instead of silently
	      * taking half the connections.
	      */
	     "    noreuseport\n"
	     "    server-state-file %s/servers.state\n"
	     /* a worker a reload replaced finishes its requests, within the idle timeout */
	     "    hard-stop-after %ss\n"
	     "defaults\n"
	     "    mode http\n"
	     /* on a reload, idle keep-alive connections get one more answer, then close */
	     "    option idle-close-on-response\n"
	     "    option forwardfor\n"
	     "    option redispatch\n"
	     "    retries 2\n"
	     "    timeout connect 5s\n"
	     "    timeout client %ss\n"
	     "    timeout server %ss\n"
	     "    timeout http-keep-alive %ss\n"
	     "    timeout http-request 60s\n"
	     "    load-server-state-from-file global\n"
	     "backend be_503\n"
	     "    http-request return status 503 content-type text/plain string \"503 Service "
	     "Temporarily Unavailable\"\n",
	     lc_str(lb, "arn"), d->dir, d->dir, idle ? idle : "60", idle ? idle : "60",
	     idle ? idle : "60", idle ? idle : "60");
}

/* Buckets of a forward action: each group's share of the 1,000, in proportion to its weight. */
static void forward_map(struct kiln_buf *map, json_t *groups, json_t *tgs)
{
	long long total = 0, done = 0, acc = 0;
	size_t i;
	json_t *g;

	json_array_foreach(groups, i, g) total += json_integer_value(json_object_get(g, "weight"));
	json_array_foreach(groups, i, g)
	{
		json_t *tg = json_object_get(tgs, lc_str(g, "arn"));
		long long upto;
		acc += json_integer_value(json_object_get(g, "weight"));
		upto = total ? acc * BUCKETS / total : 0;
		for (; done < upto; done++)
			kiln_buf_printf(map, "%lld tg_%s\n", done, tg ? lc_str(tg, "id") : "none");
	}
	/* all weights zero: nothing to send to */
	for (; done < BUCKETS; done++)
		kiln_buf_printf(map, "%lld be_503\n", done);
}

/*
 * The sources the load balancer's security groups let in on `port`: NULL
 * when any address may connect, else one CIDR block or address a line.
 */
static char *allowed_sources(struct lc_cloud *c, json_t *lb, long long port)
{
	struct kiln_buf acl = KILN_BUF_INIT;
	json_t *groups = lc_table(c, "security_groups"), *sg, *rule;
	size_t i, j;

	json_array_foreach(json_object_get(lb, "groups"), i, sg)
	{
		json_t *g = json_object_get(groups, json_string_value(sg));
		json_array_foreach(json_object_get(g, "rules"), j, rule)
		{
			const char *proto = lc_str(rule, "proto"), *cidr = lc_str(rule, "cidr");
			long long from = json_integer_value(json_object_get(rule, "from"));
			long long to = json_integer_value(json_object_get(rule, "to"));
			if (json_is_true(json_object_get(rule, "egress")))
				continue;
			if (strcmp(proto, "-1") != 0 &&
			    (strcmp(proto, "tcp") != 0 || port < from || port > to))
				continue;
			if (cidr && strcmp(cidr, "0.0.0.0/0") == 0) {
				kiln_buf_release(&acl);
				return NULL;
			}
			if (cidr)
				kiln_buf_printf(&acl, "%s\n", cidr);
			else if (lc_str(rule, "group"))
				lc_group_members(c, lc_str(rule, "group"), &acl);
		}
	}
	/* nothing allowed: an address no one has */
	if (acl.size == 0)
		kiln_buf_puts(&acl, "255.255.255.255\n");
	return kiln_buf_detach(&acl);
}

static void listener_section(struct lb_desired *d, struct lc_cloud *c, json_t *lb, json_t *l)
{
	const char *id = lc_str(l, "id");
	json_t *action = json_array_get(json_object_get(l, "actions"), 0);
	struct kiln_buf map = KILN_BUF_INIT;
	char *acl = allowed_sources(c, lb, json_integer_value(json_object_get(l, "port"))), *name;

	both(d, "frontend l_%s\n    bind %s:%lld\n", id, d->ip,
	     (long long)json_integer_value(json_object_get(l, "port")));
	if (acl != NULL) {
		both(d, "    tcp-request connection reject unless { src -f %s/l_%s.acl }\n", d->dir,
		     id);
		name = kiln_xasprintf("l_%s.acl", id);
		json_object_set_new(d->files, name, json_string(acl));
		free(name);
		free(acl);
	}
	both(d, "    use_backend %%[rand(%d),map_int(%s/l_%s.map,be_503)]\n", BUCKETS, d->dir, id);
	if (action && strcmp(lc_str(action, "type"), "fixed-response") == 0) {
		char hex[65];
		kiln_sha256_hex(hex, lc_str(action, "body"), strlen(lc_str(action, "body")));
		/* the body is read when HAProxy starts: a new one is a reload (its hash says so) */
		both(d,
		     "backend fr_%s\n    # body %s\n    http-request return status %s content-type "
		     "%s "
		     "file %s/fr_%s.body\n",
		     id, hex, lc_str(action, "status"), lc_str(action, "content_type"), d->dir, id);
		name = kiln_xasprintf("fr_%s.body", id);
		json_object_set_new(d->files, name, json_string(lc_str(action, "body")));
		free(name);
		for (int i = 0; i < BUCKETS; i++)
			kiln_buf_printf(&map, "%d fr_%s\n", i, id);
	} else if (action) {
		forward_map(&map, json_object_get(action, "groups"), lc_tgs(c));
	}
	name = kiln_xasprintf("l_%s.map", id);
	json_object_set_new(d->files, name, json_string(map.ptr));
	free(name);
	kiln_buf_release(&map);
}

/* The admin state a target's checked server should have, and its backup's. */
static void target_admin(struct lc_cloud *c, json_t *t, const char **checked, const char **backup)
{
	json_t *inst = json_object_get(lc_instances(c), lc_str(t, "id"));
	int running = inst && strcmp(lc_str(inst, "state"), "running") == 0;

	if (strcmp(lc_str(t, "state"), "draining") == 0) {
		/* no new requests, those in flight finish */
		*checked = running ? "drain" : "maint";
		*backup = "maint";
	} else {
		*checked = running ? "ready" : "maint";
		*backup = *checked;
	}
}

/* A server's parameters, the same in the configuration and in "add server". */
static char *server_params(json_t *tg, const char *ip, long long port, int checked, const char *src)
{
	json_t *hc = json_object_get(tg, "hc");
	long long slow = atoll(lc_tg_attribute(tg, "slow_start.duration_seconds"));
	struct kiln_buf b = KILN_BUF_INIT;

	kiln_buf_printf(&b, "%s:%lld source %s", ip, port, src);
	if (!checked) {
		kiln_buf_puts(&b, " backup");
		return kiln_buf_detach(&b);
	}
	kiln_buf_printf(&b, " check inter %llds rise %lld fall %lld",
	                (long long)json_integer_value(json_object_get(hc, "interval")),
	                (long long)json_integer_value(json_object_get(hc, "healthy")),
	                (long long)json_integer_value(json_object_get(hc, "unhealthy")));
	if (strcmp(lc_str(hc, "port"), "traffic-port") != 0)
		kiln_buf_printf(&b, " port %s", lc_str(hc, "port"));
	if (slow > 0)
		kiln_buf_printf(&b, " slowstart %llds", slow);
	return kiln_buf_detach(&b);
}

/* One server of a target: checked ("t_") or its fail-open backup ("b_"). */
static void target_server(struct lb_desired *d, json_t *tg, const char *key, json_t *t,
                          const char *ip, int checked, const char *admin, int sticky, json_t *known)
{
	long long port = json_integer_value(json_object_get(t, "port"));
	char name[64], *params = server_params(tg, ip, port, checked, d->ip), *full;
	int in_reload = 1;

	lc_lb_server_name(name, checked ? 't' : 'b', key);
	full = kiln_xasprintf("tg_%s/%s", lc_str(tg, "id"), name);
	if (sticky) {
		/* cookies cannot be set on servers added at run time: sticky groups reload */
		both(d, "    server %s %s%s%s\n", name, params, checked ? " cookie " : "",
		     checked ? name : "");
	} else {
		kiln_buf_printf(&d->full, "    server %s %s\n", name, params);
		/*
		 * Checked servers the running HAProxy lacks are added at run time, starting
		 * down; their unchecked backups are there from the reload on, so that a
		 * group whose targets are all new fails open, as on AWS, instead of 503.
		 */
		in_reload = json_object_get(known, full) != NULL ||
		            (!checked && strcmp(admin, "maint") != 0);
		if (in_reload)
			kiln_buf_printf(&d->reload, "    server %s %s\n", name, params);
	}
	json_object_set_new(d->servers, full,
	                    json_pack("{s:s, s:s, s:b, s:f, s:b}", "line", params, "admin", admin,
	                              "checked", checked, "since",
	                              json_real_value(json_object_get(t, "since")), "in_reload",
	                              in_reload));
	free(params);
	free(full);
}

static void target_servers(struct lb_desired *d, struct lc_cloud *c, json_t *tg, int sticky,
                           json_t *known)
{
	const char *key;
	json_t *t;

	json_object_foreach(json_object_get(tg, "targets"), key, t)
	{
		json_t *inst = json_object_get(lc_instances(c), lc_str(t, "id"));
		const char *admin[2];

		if (inst == NULL || lc_str(inst, "ip") == NULL)
			continue;
		target_admin(c, t, &admin[0], &admin[1]);
		target_server(d, tg, key, t, lc_str(inst, "ip"), 1, admin[0], sticky, known);
		target_server(d, tg, key, t, lc_str(inst, "ip"), 0, admin[1], sticky, known);
	}
}

static void target_group_section(struct lb_desired *d, struct lc_cloud *c, json_t *tg,
                                 json_t *known)
{
	json_t *hc = json_object_get(tg, "hc");
	const char *algo = lc_tg_attribute(tg, "load_balancing.algorithm.type");
	int sticky = strcmp(lc_tg_attribute(tg, "stickiness.enabled"), "true") == 0;

	both(d,
	     "backend tg_%s\n"
	     "    balance %s\n"
	     "    option httpchk\n"
	     "    http-check send meth GET uri %s\n"
	     "    http-check expect status %s\n"
	     "    timeout check %llds\n"
	     "    option allbackups\n",
	     lc_str(tg, "id"), strcmp(algo, "round_robin") == 0 ? "roundrobin" : "leastconn",
	     lc_str(hc, "path"), lc_str(hc, "matcher"),
	     (long long)json_integer_value(json_object_get(hc, "timeout")));
	if (sticky)
		both(d, "    cookie AWSALB insert indirect nocache maxlife %ss\n",
		     lc_tg_attribute(tg, "stickiness.lb_cookie.duration_seconds"));
	target_servers(d, c, tg, sticky, known);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int lc_lb_render(struct lb_desired *out, struct lc_cloud *c, const char *arn, json_t *known)
{
	json_t *lb = json_object_get(lc_lbs(c), arn), *l, *used = json_object(), *tg, *yes;
	const char *k;

	memset(out, 0, sizeof(*out));
	if (lb == NULL) {
		json_decref(used);
		return -1;
	}
	out->arn = kiln_xstrdup(arn);
	out->dir = lc_lb_dir(c, lc_str(lb, "id"));
	out->ip = kiln_xstrdup(lc_str(lb, "ip"));
	out->active = 1;
	kiln_buf_init(&out->structure, 16 << 20);
	kiln_buf_init(&out->full, 16 << 20);
	kiln_buf_init(&out->reload, 16 << 20);
	out->servers = json_object();
	out->files = json_object();
	global_section(out, lb);
	json_object_foreach(lc_listeners(c), k, l)
	{
		json_t *arns;
		size_t i;
		json_t *v;
		if (strcmp(lc_str(l, "lb"), arn) != 0)
			continue;
		listener_section(out, c, lb, l);
		arns = lc_listener_target_groups(l);
		json_array_foreach(arns, i, v)
		    json_object_set(used, json_string_value(v), json_true());
		json_decref(arns);
	}
	/* groups a listener left less than a minute ago stay (see listeners.c) */
	json_object_foreach(json_object_get(lb, "recent_groups"), k, yes)
	{
		if (json_real_value(yes) > kiln_time_now())
			json_object_set(used, k, json_true());
	}
	/* in a fixed order: the same groups must give the same configuration */
	{
		size_t n = 0;
		const char **arns = kiln_xcalloc(json_object_size(used) + 1, sizeof(*arns));
		json_object_foreach(used, k, yes) arns[n++] = k;
		qsort(arns, n, sizeof(*arns), cmp_str);
		for (size_t i = 0; i < n; i++) {
			tg = json_object_get(lc_tgs(c), arns[i]);
			if (tg != NULL)
				target_group_section(out, c, tg, known);
		}
		free(arns);
	}
	json_decref(used);
	return 0;
}
