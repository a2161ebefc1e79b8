/*
 * Making each load balancer's HAProxy match the state (lb-int.h), and the
 * watcher that keeps it so: target health read from HAProxy, drains ended
 * when their delay has passed, targets of instances that went away
 * drained, HAProxy processes that died started again.
 *
 * One sync at a time per load balancer (its own mutex), taking the cloud's
 * lock only to render: whichever sync runs last applies the latest state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "localcloud/ec2-int.h"
#include "localcloud/elbv2-int.h"
#include "localcloud/firewall-int.h"
#include "localcloud/haproxy-int.h"
#include "localcloud/lb-int.h"
#include "localcloud/net-int.h"

/* What the daemon last applied to one load balancer's HAProxy. */
struct lc_lb_runtime {
	struct lc_lb_runtime *next;
	char *arn;
	pthread_mutex_t mu;
	char *structure; /* NULL: nothing applied by this daemon yet */
	json_t *servers;
	json_t *files;
	char *failing; /* the last sync's error, said once until it changes or clears */
};

static struct lc_lb_runtime *runtime_of(struct lc_cloud *c, const char *arn)
{
	struct lc_lb_runtime *rt;

	pthread_mutex_lock(&c->lbs_mu);
	for (rt = c->lbs_rt; rt != NULL; rt = rt->next)
		if (strcmp(rt->arn, arn) == 0)
			break;
	if (rt == NULL) {
		rt = kiln_xcalloc(1, sizeof(*rt));
		rt->arn = kiln_xstrdup(arn);
		pthread_mutex_init(&rt->mu, NULL);
		rt->servers = json_object();
		rt->files = json_object();
		rt->next = c->lbs_rt;
		c->lbs_rt = rt;
	}
	pthread_mutex_unlock(&c->lbs_mu);
	return rt;
}

static void write_files(const char *dir, json_t *files)
{
	const char *name;
	json_t *content;

	json_object_foreach(files, name, content)
	{
		char *path = kiln_path_join(dir, name);
		const char *text = json_string_value(content);
		if (kiln_file_write_atomic(path, text, strlen(text), 0600) < 0)
			kiln_log_warn("%s", kiln_error_last());
		free(path);
	}
}

/* Lines of a payload per "add" command: HAProxy reads a command within its buffer (16 KiB). */
#define PAYLOAD_MAX 8192

/*
 * One command adding the lines of `p` up to at most PAYLOAD_MAX bytes to
 * version `ver`; *end is where the next command starts. A map takes its
 * lines as one payload; "add acl" takes no payload in HAProxy 2.6, so an
 * ACL gets one "add acl" a pattern, the commands joined with ';' (patterns
 * are addresses and CIDR blocks: no ';', no space).
 */
KILN_STATIC void lc_lb_add_command(struct kiln_buf *cmd, const char *kind, long ver,
                                   const char *path, const char *p, const char **end)
{
	const char *e = p;

	if (strcmp(kind, "acl") == 0) {
		/* patterns until the command line would pass PAYLOAD_MAX */
		while (*e) {
			size_t len = strcspn(e, "\n"), before = cmd->size;
			if (len > 0)
				kiln_buf_printf(cmd, "%sadd acl @%ld %s %.*s", cmd->size ? ";" : "",
				                ver, path, (int)len, e);
			if (before > 0 && cmd->size > PAYLOAD_MAX) {
				kiln_buf_truncate(cmd, before);
				break;
			}
			e += len + (e[len] == '\n');
		}
		*end = e;
		return;
	}
	/* whole lines, as many as fit */
	while (*e && (size_t)(e - p) < PAYLOAD_MAX) {
		const char *nl = strchr(e, '\n');
		const char *next = nl ? nl + 1 : e + strlen(e);
		if (e != p && (size_t)(next - p) > PAYLOAD_MAX)
			break;
		e = next;
	}
	*end = e;
	kiln_buf_printf(cmd, "add %s @%ld %s <<\n%.*s%s\n", kind, ver, path, (int)(e - p), p,
	                e[-1] == '\n' ? "" : "\n");
}

/* Add `content`'s lines to version `ver` of a map or ACL, a command of at most PAYLOAD_MAX at a
 * time. */
static int add_lines(const char *dir, const char *kind, long ver, const char *path,
                     const char *content)
{
	struct kiln_buf cmd = KILN_BUF_INIT, out = KILN_BUF_INIT;
	const char *p = content, *end;
	int error = 0;

	while (*p && error == 0) {
		kiln_buf_clear(&cmd);
		kiln_buf_clear(&out);
		lc_lb_add_command(&cmd, kind, ver, path, p, &end);
		p = end;
		if (cmd.size == 0)
			continue;
		error = lc_haproxy_cmd(dir, cmd.ptr, &out);
		kiln_buf_rtrim(&out);
		/* success is silence (an empty line a command) */
		if (error == 0 && out.size)
			error = kiln_error_set(KILN_ERROR, "HAProxy: add %s %s: %s", kind, path,
			                       out.ptr);
	}
	kiln_buf_release(&cmd);
	kiln_buf_release(&out);
	return error;
}

/* A map or ACL replaced at run time, atomically (prepare, add, commit). */
static int replace_list(const char *dir, const char *kind, const char *name, const char *content)
{
	struct kiln_buf out = KILN_BUF_INIT, cmd = KILN_BUF_INIT;
	char *path = kiln_path_join(dir, name);
	const char *v;
	long ver = 0;
	int error;

	kiln_buf_printf(&cmd, "prepare %s %s", kind, path);
	error = lc_haproxy_cmd(dir, cmd.ptr, &out);
	v = strstr(out.ptr, "version created: ");
	if (error == 0 && v == NULL)
		error = kiln_error_set(KILN_ERROR, "prepare %s %s: %s", kind, name, out.ptr);
	if (error == 0) {
		ver = atol(v + strlen("version created: "));
		error = add_lines(dir, kind, ver, path, content);
	}
	if (error == 0) {
		kiln_buf_clear(&cmd);
		kiln_buf_clear(&out);
		kiln_buf_printf(&cmd, "commit %s @%ld %s", kind, ver, path);
		error = lc_haproxy_cmd(dir, cmd.ptr, &out);
		kiln_buf_rtrim(&out);
		if (error == 0 && out.size)
			error = kiln_error_set(KILN_ERROR, "HAProxy: commit %s %s: %s", kind, path,
			                       out.ptr);
	}
	kiln_buf_release(&out);
	kiln_buf_release(&cmd);
	free(path);
	return error;
}

static int apply_files(const char *dir, json_t *want, json_t *have)
{
	const char *name;
	json_t *content;
	int error = 0;

	json_object_foreach(want, name, content)
	{
		json_t *old = json_object_get(have, name);
		const char *kind = strstr(name, ".map")   ? "map"
		                   : strstr(name, ".acl") ? "acl"
		                                          : NULL;
		if (old && strcmp(json_string_value(old), json_string_value(content)) == 0)
			continue;
		/* bodies are part of the structure: a new one reloaded already */
		if (kind != NULL && error == 0)
			error = replace_list(dir, kind, name, json_string_value(content));
	}
	return error;
}

/* "PREFIX SERVER SUFFIX" ("set server", "add server"...), one at a time so that a failure says
 * which. */
static int server_cmd(const char *dir, const char *prefix, const char *server, const char *suffix)
{
	struct kiln_buf cmd = KILN_BUF_INIT, out = KILN_BUF_INIT;
	int error;

	kiln_buf_printf(&cmd, "%s %s%s%s", prefix, server, suffix ? " " : "", suffix ? suffix : "");
	error = lc_haproxy_cmd(dir, cmd.ptr, &out);
	kiln_buf_rtrim(&out);
	/*
	 * The runtime API answers in words: nothing, or "New server registered.",
	 * "Server deleted." and the like on success; a server already gone is
	 * what a removal wants.
	 */
	if (error == 0 && out.size && strstr(out.ptr, "registered") == NULL &&
	    strstr(out.ptr, "deleted") == NULL && strstr(out.ptr, "Done") == NULL &&
	    !(strncmp(prefix, "set server", 10) != 0 && strncmp(prefix, "add", 3) != 0 &&
	      strstr(out.ptr, "No such server") != NULL))
		error = kiln_error_set(KILN_ERROR, "HAProxy: %s: %s", cmd.ptr, out.ptr);
	kiln_buf_release(&cmd);
	kiln_buf_release(&out);
	return error;
}

static int server_cmd_state(const char *dir, const char *server, const char *admin)
{
	char *suffix = kiln_xasprintf("state %s", admin);
	int error = server_cmd(dir, "set server", server, suffix);

	free(suffix);
	return error;
}

/* A checked server starts down and needs `rise` good checks, as a new ALB target does. */
static int server_from_scratch(const char *dir, const char *name, json_t *s)
{
	const char *admin = json_string_value(json_object_get(s, "admin"));
	int error = 0;

	if (json_is_true(json_object_get(s, "checked"))) {
		error = server_cmd(dir, "enable health", name, NULL);
		if (error == 0)
			error = server_cmd(dir, "set server", name, "state drain");
		if (error == 0)
			error = server_cmd(dir, "set server", name, "health down");
	}
	if (error == 0)
		error = server_cmd_state(dir, name, admin);
	return error;
}

static int apply_servers(const char *dir, json_t *want, json_t *have)
{
	const char *name;
	json_t *s;
	int error = 0;

	json_object_foreach(have, name, s)
	{
		if (json_object_get(want, name) != NULL || error < 0)
			continue;
		/* gone: its drain is over (or its group left the load balancer) */
		error = server_cmd(dir, "set server", name, "state maint");
		if (error == 0)
			error = server_cmd(dir, "shutdown sessions server", name, NULL);
		if (error == 0)
			error = server_cmd(dir, "del server", name, NULL);
	}
	json_object_foreach(want, name, s)
	{
		json_t *old = json_object_get(have, name);
		const char *admin = json_string_value(json_object_get(s, "admin"));
		const char *was = old ? json_string_value(json_object_get(old, "admin")) : NULL;
		if (error < 0)
			break;
		if (old == NULL) {
			error = server_cmd(dir, "add server", name,
			                   json_string_value(json_object_get(s, "line")));
			if (error == 0)
				error = server_from_scratch(dir, name, s);
		} else if (strcmp(was, admin) != 0) {
			/* back from maintenance (its instance started again): initial again */
			error = strcmp(was, "maint") == 0 ? server_from_scratch(dir, name, s)
			                                  : server_cmd_state(dir, name, admin);
		}
	}
	return error;
}

/* A started HAProxy has every server up: the admin states its configuration cannot say. */
static int settle_servers(const char *dir, json_t *servers)
{
	const char *name;
	json_t *s;
	int error = 0;

	json_object_foreach(servers, name, s)
	{
		const char *admin = json_string_value(json_object_get(s, "admin"));
		if (error == 0 && strcmp(admin, "ready") != 0)
			error = server_cmd_state(dir, name, admin);
	}
	return error;
}

static void remember(struct lc_lb_runtime *rt, struct lb_desired *d)
{
	char *path = kiln_path_join(d->dir, "structure.cfg");

	/* for a daemon that restarts while this HAProxy serves on: see adopt() */
	if (kiln_file_write_atomic(path, d->structure.ptr, d->structure.size, 0600) < 0)
		kiln_log_warn("%s", kiln_error_last());
	free(path);
	free(rt->structure);
	rt->structure = kiln_xstrdup(d->structure.ptr);
	json_decref(rt->servers);
	rt->servers = json_deep_copy(d->servers);
	json_decref(rt->files);
	rt->files = json_deep_copy(d->files);
}

/* srv_admin_state of "show servers state" as an admin state ("ready", "drain", "maint"). */
static const char *admin_of(unsigned bits)
{
	/* FMAINT, IMAINT, CMAINT, RMAINT and HMAINT are the maintenance bits; FDRAIN and IDRAIN
	 * drain */
	if (bits & (0x01 | 0x02 | 0x04 | 0x20 | 0x40))
		return "maint";
	if (bits & (0x08 | 0x10))
		return "drain";
	return "ready";
}

/*
 * What a running HAProxy that this daemon did not start holds (it kept
 * serving while the daemon was away): its servers and their admin states
 * from "show servers state", its structure and lists from the files the
 * last sync wrote. Traffic goes on; the next apply changes only what
 * differs.
 */
static void adopt(struct lc_lb_runtime *rt, const char *dir)
{
	struct kiln_buf out = KILN_BUF_INIT, text = KILN_BUF_INIT;
	char *path = kiln_path_join(dir, "structure.cfg"), *line, *save = NULL;

	kiln_buf_init(&out, 8 << 20);
	kiln_buf_init(&text, 16 << 20);
	free(rt->structure);
	rt->structure =
	    kiln_file_read(&text, path) == 0 ? kiln_buf_detach(&text) : kiln_xstrdup("");
	kiln_error_clear();
	json_object_clear(rt->servers);
	json_object_clear(rt->files);
	if (lc_haproxy_cmd(dir, "show servers state", &out) < 0)
		kiln_error_clear();
	for (line = strtok_r(out.ptr, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char be[128], srv[128];
		unsigned op, admin;
		/* be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ... */
		if (sscanf(line, "%*d %127s %*d %127s %*s %u %u", be, srv, &op, &admin) != 4)
			continue;
		char *name = kiln_xasprintf("%s/%s", be, srv);
		json_object_set_new(
		    rt->servers, name,
		    json_pack("{s:s, s:b}", "admin", admin_of(admin), "checked", srv[0] == 't'));
		free(name);
	}
	kiln_buf_release(&out);
	kiln_buf_release(&text);
	free(path);
}

/* Start, reload or update at run time; the lock of `rt` held. */
/* 0 when this host lets a new socket listen on ip:port (nothing else holds it). */
static int port_free(const char *ip, long port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), error = 0, one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (fd < 0 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		error = kiln_error_set(KILN_ERROR, "cannot check %s:%ld: %s", ip, port,
		                       strerror(errno));
	/* as HAProxy binds: connections of an earlier listener in TIME_WAIT do not count */
	else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
	         bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == EADDRINUSE)
		error = kiln_error_set(KILN_ERROR,
		                       "%s:%ld is taken by another process (a HAProxy left by a "
		                       "cloud that died on this address range?)",
		                       ip, port);
	if (fd >= 0)
		close(fd);
	return error;
}

/*
 * The listeners' addresses in `structure` that `held` (what the running
 * HAProxy was given; NULL when none runs) does not bind, checked free: a
 * HAProxy cannot share them (noreuseport) and would fail with less to say.
 */
static int binds_free(const char *structure, const char *held)
{
	const char *p = structure;
	int error = 0;

	if (held != NULL && *held == '\0')
		return 0; /* what the running HAProxy binds is not known: it may hold them all */
	while (error == 0 && (p = strstr(p, "\n    bind ")) != NULL) {
		char line[96];
		const char *colon;
		size_t len = strcspn(p + 1, "\n");

		snprintf(line, sizeof(line), "%.*s\n", (int)len, p + 1);
		p += 1 + len;
		colon = strrchr(line, ':');
		if (colon == NULL || (held != NULL && strstr(held, line) != NULL))
			continue;
		char ip[64];
		snprintf(ip, sizeof(ip), "%.*s", (int)(colon - (line + 9)), line + 9);
		error = port_free(ip, atol(colon + 1));
	}
	return error;
}

static int apply(struct lc_cloud *c, struct lc_lb_runtime *rt, struct lb_desired *d)
{
	int running = lc_haproxy_pid(d->dir) != 0, error = 0;
	json_t *known = json_copy(rt->servers);

	if (!running) {
		write_files(d->dir, d->files);
		error = lc_net_addr_add(&c->net, d->ip);
		if (error == 0)
			error = binds_free(d->structure.ptr, NULL);
		if (error == 0)
			error = lc_haproxy_check(d->dir, d->full.ptr);
		if (error == 0)
			error = lc_haproxy_start(d->dir, d->full.ptr);
		if (error == 0)
			error = settle_servers(d->dir, d->servers);
	} else if (rt->structure != NULL && strcmp(rt->structure, d->structure.ptr) != 0) {
		write_files(d->dir, d->files);
		error = binds_free(d->structure.ptr, rt->structure);
		if (error == 0)
			error = lc_haproxy_check(d->dir, d->reload.ptr);
		if (error == 0)
			error = lc_haproxy_reload(d->dir, d->reload.ptr);
		if (error == 0)
			kiln_log_info("load balancer %s: HAProxy reloaded (its listeners or target "
			              "groups changed)",
			              d->arn);
		/*
		 * The reload kept the servers HAProxy had and still wants, and brought
		 * the new targets' backups: the rest at run time.
		 */
		if (error == 0) {
			const char *name;
			json_t *s, *kept = json_object();
			json_object_foreach(d->servers, name, s)
			{
				json_t *had = json_object_get(known, name);
				if (had != NULL)
					json_object_set(kept, name, had);
				else if (json_is_true(json_object_get(s, "in_reload")))
					json_object_set(kept, name, s);
			}
			error = apply_servers(d->dir, d->servers, kept);
			json_decref(kept);
		}
	} else {
		error = apply_files(d->dir, d->files, rt->files);
		if (error == 0)
			write_files(d->dir, d->files);
		if (error == 0)
			error = apply_servers(d->dir, d->servers, rt->servers);
	}
	json_decref(known);
	if (error == 0) {
		remember(rt, d);
	} else if (running) {
		/* what HAProxy holds is unknown now: the next sync asks it (adopt()) */
		free(rt->structure);
		rt->structure = NULL;
	}
	return error;
}

/* The load balancer's state after a sync: active, or failed with why. */
static void record_outcome(struct lc_cloud *c, const char *arn, int error)
{
	json_t *lb;
	const char *want = error < 0 ? "failed" : "active";

	pthread_mutex_lock(&c->mu);
	lb = json_object_get(lc_lbs(c), arn);
	if (lb && strcmp(lc_str(lb, "state"), want) != 0 &&
	    (error == 0 || strcmp(lc_str(lb, "state"), "provisioning") == 0)) {
		json_object_set_new(lb, "state", json_string(want));
		if (error < 0)
			json_object_set_new(lb, "state_reason", json_string(kiln_error_last()));
		else
			json_object_del(lb, "state_reason");
		lc_state_save(c);
	}
	pthread_mutex_unlock(&c->mu);
}

/*
 * A failing sync is tried again every watcher round: its error reaches the
 * log once, and again only when it changes, and its end is said too.
 */
static void tell_outcome(struct lc_lb_runtime *rt, int error)
{
	if (error < 0 && (rt->failing == NULL || strcmp(rt->failing, kiln_error_last()) != 0)) {
		kiln_log_warn("%s (tried again until it works)", kiln_error_last());
		free(rt->failing);
		rt->failing = kiln_xstrdup(kiln_error_last());
	} else if (error == 0 && rt->failing != NULL) {
		kiln_log_info("load balancer %s: in sync again", rt->arn);
		free(rt->failing);
		rt->failing = NULL;
	}
}

int lc_lb_sync(struct lc_cloud *c, const char *arn)
{
	struct lc_lb_runtime *rt = runtime_of(c, arn);
	struct lb_desired d;
	int error, gone;

	/* a new or regrouped load balancer reaches its targets before its checks start */
	lc_fw_sync(c, 0);
	pthread_mutex_lock(&rt->mu);
	if (rt->structure == NULL) {
		/* first sync of this daemon: a HAProxy serving already is adopted as it is */
		const char *id = strrchr(arn, '/');
		char *dir = lc_lb_dir(c, id ? id + 1 : arn);
		if (lc_haproxy_pid(dir) != 0)
			adopt(rt, dir);
		free(dir);
	}
	pthread_mutex_lock(&c->mu);
	gone = lc_lb_render(&d, c, arn, rt->servers) < 0;
	pthread_mutex_unlock(&c->mu);
	if (gone) {
		pthread_mutex_unlock(&rt->mu);
		return 0;
	}
	kiln_mkdir_p(d.dir, 0700);
	error = apply(c, rt, &d);
	if (error < 0)
		kiln_error_prefix(error, "load balancer %s", arn);
	tell_outcome(rt, error);
	pthread_mutex_unlock(&rt->mu);
	record_outcome(c, arn, error);
	lc_lb_desired_release(&d);
	return error;
}

void lc_lb_remove(struct lc_cloud *c, const char *arn, const char *ip)
{
	/* the runtime record stays (a sync may be waiting for it), emptied */
	struct lc_lb_runtime *rt = runtime_of(c, arn);
	const char *id = strrchr(arn, '/');
	char *dir = lc_lb_dir(c, id ? id + 1 : arn);

	pthread_mutex_lock(&rt->mu);
	if (lc_haproxy_stop(dir, 2) < 0)
		kiln_log_warn("%s", kiln_error_last());
	if (ip)
		lc_net_addr_del(&c->net, ip);
	kiln_rm_rf(dir);
	free(rt->structure);
	rt->structure = NULL;
	json_object_clear(rt->servers);
	json_object_clear(rt->files);
	pthread_mutex_unlock(&rt->mu);
	free(dir);
}

void lc_lbs_release(struct lc_cloud *c)
{
	struct lc_lb_runtime *rt, *next;

	for (rt = c->lbs_rt; rt != NULL; rt = next) {
		next = rt->next;
		free(rt->structure);
		json_decref(rt->servers);
		json_decref(rt->files);
		free(rt->failing);
		pthread_mutex_destroy(&rt->mu);
		free(rt->arn);
		free(rt);
	}
	c->lbs_rt = NULL;
}
