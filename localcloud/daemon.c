/*
 * The local cloud daemon: HTTP on 127.0.0.1 (libmicrohttpd, thread pool),
 * SigV4 verification, the request log, dispatch to the service handlers, the
 * default VPC, and the life cycle (up, recovery after a crash, down).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aws/sigv4.h"
#include "aws/xml.h"
#include "core/paths.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include "localcloud/cloud-int.h"
#include "localcloud/cloud.h"

#define LC_MAX_BODY (16u << 20)
#define LC_THREADS  8

/* ---- the request log ---------------------------------------------------- */

static void request_log(struct lc_cloud *c, const char *service, const char *action, int status,
                        const char *code, double seconds)
{
	char now[32];
	json_t *line;
	char *text;
	size_t len;

	if (c->reqlog_fd < 0)
		return;
	kiln_time_iso8601(now, kiln_time_now(), 1);
	line = json_pack("{s:s, s:s, s:s, s:i, s:s?, s:f}", "time", now, "service",
	                 service ? service : "", "action", action ? action : "", "status", status,
	                 "error", code && code[0] ? code : NULL, "duration", seconds);
	text = json_dumps(line, JSON_COMPACT);
	len = strlen(text);
	text = kiln_xrealloc(text, len + 2);
	text[len] = '\n';
	/* one write() with O_APPEND: lines never interleave */
	if (write(c->reqlog_fd, text, len + 1) < 0)
		kiln_log_warn("request log: %s", strerror(errno));
	free(text);
	json_decref(line);
}

/* ---- replies ------------------------------------------------------------ */

struct lc_conn {
	char *uri;
	struct kiln_buf body;
	int started;
	int too_big;
	double t0;
};

static const char *lookup_secret(void *arg, const char *access_key_id)
{
	struct lc_cloud *c = arg;
	return strcmp(access_key_id, c->access_key) == 0 ? c->secret_key : NULL;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, int status, const char *request_id,
                                  struct kiln_buf *body)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = body->size;
	char *data = kiln_buf_detach(body);

	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "text/xml;charset=UTF-8");
	MHD_add_response_header(resp, "x-amzn-RequestId", request_id);
	ret = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void error_body(struct kiln_buf *b, const char *service, const char *code,
                       const char *message, const char *request_id)
{
	kiln_buf_clear(b);
	kiln_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	if (strcmp(service, "ec2") == 0) {
		kiln_buf_puts(b, "<Response><Errors><Error>");
		lc_xt(b, "Code", code);
		lc_xt(b, "Message", message);
		kiln_buf_puts(b, "</Error></Errors>");
		lc_xt(b, "RequestID", request_id);
		kiln_buf_puts(b, "</Response>");
		return;
	}
	kiln_buf_puts(b, "<ErrorResponse><Error><Type>Sender</Type>");
	lc_xt(b, "Code", code);
	lc_xt(b, "Message", message);
	kiln_buf_puts(b, "</Error>");
	lc_xt(b, "RequestId", request_id);
	kiln_buf_puts(b, "</ErrorResponse>");
}

struct header_list {
	char **lines;
	size_t n;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
	struct header_list *h = cls;
	(void)kind;
	if (h->n < 128) {
		h->lines = kiln_xrealloc(h->lines, (h->n + 2) * sizeof(*h->lines));
		h->lines[h->n++] = kiln_xasprintf("%s: %s", key, value ? value : "");
		h->lines[h->n] = NULL;
	}
	return MHD_YES;
}

/* STS: enough for `kiln whoami` and the CLI's get-caller-identity. */
static int sts_handle(struct lc_req *r, const char *action)
{
	if (strcmp(action, "GetCallerIdentity") != 0)
		return lc_err(r, 400, "InvalidAction",
		              "The action %s is not valid for this web service", action);
	kiln_buf_puts(r->out, "<GetCallerIdentityResult>");
	lc_xtf(r->out, "Arn", "arn:aws:iam::%s:root", r->c->account);
	lc_xt(r->out, "UserId", r->c->account);
	lc_xt(r->out, "Account", r->c->account);
	kiln_buf_puts(r->out, "</GetCallerIdentityResult>");
	return 0;
}

static void ec2_wrap(struct kiln_buf *reply, const char *action, const char *request_id,
                     const struct kiln_buf *members)
{
	kiln_buf_printf(reply,
	                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%sResponse xmlns=\"%s\">",
	                action, LC_EC2_XMLNS);
	lc_xt(reply, "requestId", request_id);
	kiln_buf_put(reply, members->ptr ? members->ptr : "", members->size);
	kiln_buf_printf(reply, "</%sResponse>", action);
}

static void query_wrap(struct kiln_buf *reply, const char *action, const char *xmlns,
                       const char *request_id, const struct kiln_buf *members)
{
	kiln_buf_printf(reply,
	                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%sResponse xmlns=\"%s\">",
	                action, xmlns);
	kiln_buf_put(reply, members->ptr ? members->ptr : "", members->size);
	kiln_buf_puts(reply, "<ResponseMetadata>");
	lc_xt(reply, "RequestId", request_id);
	kiln_buf_printf(reply, "</ResponseMetadata></%sResponse>", action);
}

static enum MHD_Result answer(struct lc_cloud *c, struct MHD_Connection *conn, const char *method,
                              const char *url, struct lc_conn *lc)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_buf members = KILN_BUF_INIT, reply = KILN_BUF_INIT;
	struct kiln_sigv4_identity id;
	struct kiln_sigv4_request sreq;
	struct header_list h = {NULL, 0};
	struct lc_req r;
	const char *query, *action = NULL, *service = "ec2";
	char *path;
	enum MHD_Result ret;
	lc_handler_fn fn = NULL;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.q = &q;
	r.out = &members;
	{
		char *rid = kiln_id_random("", 32);
		snprintf(r.request_id, sizeof(r.request_id), "%.8s-%.4s-%.4s-%.4s-%.12s", rid,
		         rid + 8, rid + 12, rid + 16, rid + 20);
		free(rid);
	}
	path = kiln_xstrdup(lc->uri ? lc->uri : url);
	{
		char *qm = strchr(path, '?');
		query = NULL;
		if (qm) {
			*qm = '\0';
			query = qm + 1;
		}
	}
	memset(&id, 0, sizeof(id));
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &h);
	if (h.lines == NULL) {
		h.lines = kiln_xcalloc(1, sizeof(*h.lines));
	}
	memset(&sreq, 0, sizeof(sreq));
	sreq.method = method;
	sreq.path = path;
	sreq.query = query;
	sreq.headers = (const char *const *)h.lines;
	sreq.body = lc->body.ptr ? lc->body.ptr : "";
	sreq.body_len = lc->body.size;

	if (lc->too_big) {
		lc_err(&r, 413, "RequestEntityTooLarge", "The request body exceeds %u bytes",
		       LC_MAX_BODY);
		goto reply;
	}
	if (kiln_sigv4_verify(&id, &sreq, lookup_secret, c, time(NULL), 900) < 0) {
		const char *code = id.error_code[0] ? id.error_code : "AuthFailure";
		int status = strcmp(code, "SignatureDoesNotMatch") == 0 ? 403
		             : strcmp(code, "AuthFailure") == 0         ? 401
		                                                        : 400;
		if (id.service[0])
			service = id.service;
		const char *msg = kiln_error_last();
		if (strncmp(msg, code, strlen(code)) == 0 &&
		    strncmp(msg + strlen(code), ": ", 2) == 0)
			msg += strlen(code) + 2;
		lc_err(&r, status, code, "%s", msg);
		goto reply;
	}
	service = id.service;
	if ((query && kiln_query_parse(&q, query, strlen(query)) < 0) ||
	    (lc->body.size && kiln_query_parse(&q, lc->body.ptr, lc->body.size) < 0)) {
		lc_err(&r, 400, "MalformedQueryString", "%s", kiln_error_last());
		goto reply;
	}
	action = kiln_query_get(&q, "Action");
	if (action == NULL || action[0] == '\0') {
		lc_err(&r, 400, "MissingAction", "The request must contain the parameter Action");
		goto reply;
	}
	if (strcmp(service, "ec2") == 0) {
		fn = lc_ec2_handler(action);
		if (fn == NULL)
			fn = lc_ec2_instances_handler(action);
		if (fn == NULL) {
			lc_err(&r, 400, "InvalidAction",
			       "The action %s is not valid for this web service.", action);
			goto reply;
		}
		if (kiln_query_get(&q, "DryRun") &&
		    strcmp(kiln_query_get(&q, "DryRun"), "true") == 0) {
			lc_err(&r, 412, "DryRunOperation",
			       "Request would have succeeded, but DryRun flag is set.");
			goto reply;
		}
		pthread_mutex_lock(&c->mu);
		if (fn(&r) == 0 && r.dirty && lc_state_save(c) < 0)
			lc_err(&r, 500, "InternalError", "saving the state failed: %s",
			       kiln_error_last());
		pthread_mutex_unlock(&c->mu);
		pthread_cond_broadcast(&c->cond);
	} else if (strcmp(service, "sts") == 0) {
		sts_handle(&r, action);
	} else {
		lc_err(&r, 400, "InvalidAction",
		       "The service '%s' is not available in the local cloud yet", service);
	}
reply:
	if (r.code[0]) {
		error_body(&reply, service, r.code, r.message, r.request_id);
		if (r.status >= 500)
			kiln_log_error("%s %s: %s: %s", service, action ? action : "-", r.code,
			               r.message);
		else
			kiln_log_debug("%s %s: %s: %s", service, action ? action : "-", r.code,
			               r.message);
	} else {
		r.status = 200;
		if (strcmp(service, "ec2") == 0)
			ec2_wrap(&reply, action, r.request_id, &members);
		else
			query_wrap(&reply, action, "https://sts.amazonaws.com/doc/2011-06-15/",
			           r.request_id, &members);
	}
	request_log(c, service, action, r.status, r.code, kiln_time_mono() - lc->t0);
	ret = send_reply(conn, r.status, r.request_id, &reply);
	for (size_t i = 0; i < h.n; i++)
		free(h.lines[i]);
	free(h.lines);
	free(path);
	kiln_query_release(&q);
	kiln_buf_release(&members);
	kiln_buf_release(&reply);
	return ret;
}

static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct lc_conn *lc = kiln_xcalloc(1, sizeof(*lc));
	(void)cls;
	(void)conn;
	lc->uri = kiln_xstrdup(uri);
	kiln_buf_init(&lc->body, LC_MAX_BODY);
	lc->t0 = kiln_time_mono();
	return lc;
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct lc_conn *lc = *con_cls;
	(void)cls;
	(void)conn;
	(void)toe;
	if (lc == NULL)
		return;
	free(lc->uri);
	kiln_buf_release(&lc->body);
	free(lc);
	*con_cls = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct lc_cloud *c = cls;
	struct lc_conn *lc = *con_cls;
	(void)version;

	if (lc == NULL) {
		lc = uri_logger(NULL, url, conn);
		*con_cls = lc;
	}
	if (*upload_data_size) {
		/* the body may come with the first call already */
		if (lc->body.size + *upload_data_size > LC_MAX_BODY)
			lc->too_big = 1;
		else
			kiln_buf_put(&lc->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		lc->started = 1;
		return MHD_YES;
	}
	if (!lc->started) {
		lc->started = 1;
		return MHD_YES;
	}
	return answer(c, conn, method, url, lc);
}

/* ---- the default VPC ---------------------------------------------------- */

static int parse_cidr(uint32_t *net, int *prefix, const char *cidr)
{
	char addr[32];
	const char *slash = strchr(cidr, '/');
	char *end;
	long p;

	if (slash == NULL || (size_t)(slash - cidr) >= sizeof(addr))
		return -1;
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	p = strtol(slash + 1, &end, 10);
	if (*end != '\0' || p < 8 || p > 26 || lc_ip_parse(net, addr) < 0)
		return -1;
	*prefix = (int)p;
	if (*net & ((1u << (32 - p)) - 1))
		return -1;
	return 0;
}

/* parse_cidr() with the error an operator sees for a bad --cidr. */
static int parse_cidr_checked(uint32_t *net, int *prefix, const char *cidr)
{
	if (parse_cidr(net, prefix, cidr) < 0)
		return kiln_error_set(KILN_EINVAL,
		                      "--cidr %s: expected an IPv4 network from /8 to /26, e.g. "
		                      "172.31.0.0/16",
		                      cidr);
	return 0;
}

/*
 * One default VPC on the bridge's network and one default subnet per zone:
 * /20s on a /16 as AWS does, quarters of smaller networks.
 */
static int setup_vpc(struct lc_cloud *c)
{
	static const char *const zones[LC_NZONES] = {"us-east-1a", "us-east-1b", "us-east-1c"};
	json_t *vpcs = lc_table(c, "vpcs"), *subnets = lc_table(c, "subnets");
	const char *vpc_id = NULL, *k;
	json_t *v;
	uint32_t net;
	int prefix;

	if (parse_cidr_checked(&net, &prefix, c->cidr) < 0)
		return -1;
	c->subnet_prefix = prefix <= 16 ? 20 : prefix + 2;
	for (int i = 0; i < LC_NZONES; i++)
		c->subnet_base[i] = net + ((uint32_t)i << (32 - c->subnet_prefix));
	json_object_foreach(vpcs, k, v)
	{
		if (strcmp(lc_str(v, "cidr") ? lc_str(v, "cidr") : "", c->cidr) == 0)
			vpc_id = k;
	}
	if (vpc_id != NULL && json_object_size(vpcs) == 1)
		return 0;
	/* a new state directory, or one moved to another network: start the VPC over */
	json_object_clear(vpcs);
	json_object_clear(subnets);
	{
		char *id = lc_new_id("vpc-");
		json_object_set_new(
		    vpcs, id, json_pack("{s:s, s:s, s:{}}", "id", id, "cidr", c->cidr, "tags"));
		for (int i = 0; i < LC_NZONES; i++) {
			char *sid = lc_new_id("subnet-"), base[16];
			lc_ip_format(base, c->subnet_base[i]);
			json_object_set_new(subnets, sid,
			                    json_pack("{s:s, s:s, s:s, s:s, s:i, s:{}}", "id", sid,
			                              "vpc", id, "zone", zones[i], "cidr_base",
			                              base, "prefix", c->subnet_prefix, "tags"));
			free(sid);
		}
		free(id);
	}
	return lc_state_save(c);
}

/* ---- life cycle --------------------------------------------------------- */

static char *state_file(const char *state_dir, const char *name)
{
	return kiln_path_join(state_dir, name);
}

static void bridge_name(char out[16], const char *state_dir)
{
	char hex[65];
	kiln_sha256_hex(hex, state_dir, strlen(state_dir));
	snprintf(out, 16, "kc%.8s", hex);
}

static void *reaper_main(void *arg)
{
	struct lc_cloud *c = arg;

	while (!c->stopping) {
		lc_instances_expire(c);
		kiln_sleep(1.0, &c->stopping);
	}
	return NULL;
}

static volatile int ready_fd = -1;

static void tell_parent(const char *fmt, ...) KILN_PRINTF(1, 2);
static void tell_parent(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (ready_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0 && write(ready_fd, line, strlen(line)) < 0)
		(void)0;
	close(ready_fd);
	ready_fd = -1;
}

static int run_daemon(const struct kiln_cloud_opts *o, const char *state_dir)
{
	struct lc_cloud c;
	struct MHD_Daemon *mhd = NULL;
	struct sockaddr_in sa;
	sigset_t sigs;
	char bridge[16], *p;
	int rc = -1, sig;

	memset(&c, 0, sizeof(c));
	c.state_dir = kiln_xstrdup(state_dir);
	c.layers_dir = state_file(state_dir, "layers");
	c.instances_dir = state_file(state_dir, "instances");
	c.port = o->port ? o->port : KILN_CLOUD_DEFAULT_PORT;
	snprintf(c.cidr, sizeof(c.cidr), "%s", o->cidr ? o->cidr : KILN_CLOUD_DEFAULT_CIDR);
	snprintf(c.region, sizeof(c.region), "%s", KILN_CLOUD_REGION);
	snprintf(c.account, sizeof(c.account), "%s", KILN_CLOUD_ACCOUNT);
	snprintf(c.access_key, sizeof(c.access_key), "%s", KILN_CLOUD_ACCESS_KEY);
	snprintf(c.secret_key, sizeof(c.secret_key), "%s", KILN_CLOUD_SECRET_KEY);
	c.terminated_ttl = 3600;
	if ((p = getenv("KILN_CLOUD_TERMINATED_TTL")) != NULL && atof(p) > 0)
		c.terminated_ttl = atof(p);
	c.reqlog_fd = -1;
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cond, NULL);
	c.started = kiln_time_now();
	/* the daemon's log says what it does: info unless asked for more */
	if (!kiln_log_enabled(KILN_LOG_INFO))
		kiln_log_setup(1, 0, KILN_COLOR_NEVER);

	/* every thread started from here on inherits the blocked signals */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (kiln_mkdir_p(c.layers_dir, 0700) < 0 || kiln_mkdir_p(c.instances_dir, 0700) < 0)
		goto out;
	{
		char *cache = NULL;
		if (kiln_paths_cache(&cache) == 0)
			c.cache_dir = cache;
	}
	c.self_exe = realpath("/proc/self/exe", NULL);
	p = state_file(state_dir, "requests.jsonl");
	c.reqlog_fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	free(p);
	if (lc_state_load(&c) < 0 || setup_vpc(&c) < 0)
		goto out;
	bridge_name(bridge, state_dir);
	if (lc_net_up(&c.net, bridge, c.cidr) < 0) {
		kiln_error_prefix(KILN_ERROR, "network %s on bridge %s", c.cidr, bridge);
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)c.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	mhd = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    on_request, &c, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)LC_THREADS, MHD_OPTION_URI_LOG_CALLBACK, uri_logger, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)120, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
	if (mhd == NULL) {
		kiln_error_set(KILN_ERROR, "cannot listen on 127.0.0.1:%d (is the port in use?)",
		               c.port);
		goto out_net;
	}
	pthread_mutex_lock(&c.mu);
	rc = lc_instances_resume(&c);
	pthread_mutex_unlock(&c.mu);
	if (rc < 0)
		goto out_mhd;
	if (pthread_create(&c.reaper, NULL, reaper_main, &c) == 0)
		c.reaper_started = 1;
	{
		char pid[32], *endpoint = kiln_xasprintf("http://127.0.0.1:%d\n", c.port);
		char *pidf = state_file(state_dir, "cloud.pid");
		char *epf = state_file(state_dir, "endpoint");
		snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
		if (kiln_file_write_atomic(pidf, pid, strlen(pid), 0644) < 0 ||
		    kiln_file_write_atomic(epf, endpoint, strlen(endpoint), 0644) < 0)
			rc = -1;
		free(pidf);
		free(epf);
		if (rc == 0) {
			kiln_log_info("local cloud up: %.*s, state %s, network %s on %s",
			              (int)strlen(endpoint) - 1, endpoint, state_dir, c.cidr,
			              bridge);
			tell_parent("ok %s", endpoint);
		}
		free(endpoint);
	}
	while (rc == 0) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			continue;
		kiln_log_info("signal %d: shutting down", sig);
		break;
	}
	c.stopping = 1;
out_mhd:
	MHD_stop_daemon(mhd);
	if (c.reaper_started)
		pthread_join(c.reaper, NULL);
	lc_instances_shutdown(&c);
	pthread_mutex_lock(&c.mu);
	lc_state_save(&c);
	pthread_mutex_unlock(&c.mu);
out_net:
	lc_net_down(&c.net);
out:
	if (rc < 0) {
		kiln_log_error("%s", kiln_error_last());
		tell_parent("error %s\n", kiln_error_last());
	}
	{
		char *pidf = state_file(state_dir, "cloud.pid");
		char *epf = state_file(state_dir, "endpoint");
		unlink(pidf);
		unlink(epf);
		free(pidf);
		free(epf);
	}
	if (c.reqlog_fd >= 0)
		close(c.reqlog_fd);
	json_decref(c.st);
	free(c.state_dir);
	free(c.layers_dir);
	free(c.instances_dir);
	free(c.cache_dir);
	free(c.self_exe);
	kiln_log_info("local cloud down");
	return rc < 0 ? -1 : 0;
}

static int read_pid(const char *state_dir)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char *pidf = state_file(state_dir, "cloud.pid");
	int pid = 0;

	if (kiln_file_read(&b, pidf) == 0)
		pid = atoi(b.ptr);
	else
		kiln_error_clear();
	kiln_buf_release(&b);
	free(pidf);
	return pid;
}

/* Is a daemon holding the state directory's lock? */
static int daemon_running(const char *state_dir)
{
	char *lockf = state_file(state_dir, "cloud.lock");
	int fd = open(lockf, O_RDONLY | O_CLOEXEC), held = 0;

	free(lockf);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
		held = 1;
	close(fd);
	return held;
}

/*
 * The bridge must not take over a network this machine already routes (on
 * EC2 itself, the default VPC is 172.31.0.0/16 too): refuse overlaps with
 * any route but the default one and our own bridge's.
 */
static int check_overlap(const char *cidr, const char *bridge)
{
	FILE *f = fopen("/proc/net/route", "re");
	char line[512], iface[64];
	unsigned dest, gw, flags, refcnt, use, metric, mask;
	uint32_t net;
	int prefix, rc = 0;

	if (f == NULL || parse_cidr(&net, &prefix, cidr) < 0) {
		if (f)
			fclose(f);
		return 0;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		uint32_t d, m, ours, common;
		if (sscanf(line, "%63s %x %x %x %u %u %u %x", iface, &dest, &gw, &flags, &refcnt,
		           &use, &metric, &mask) != 8 ||
		    mask == 0 || strcmp(iface, bridge) == 0)
			continue;
		d = ntohl(dest);
		m = ntohl(mask);
		ours = prefix ? ~0u << (32 - prefix) : 0;
		common = m & ours;
		if ((d & common) == (net & common)) {
			char a[16];
			int bits = __builtin_popcount(m);
			lc_ip_format(a, d);
			rc = kiln_error_set(
			    KILN_EINVAL,
			    "--cidr %s overlaps %s/%d, routed on %s on this machine; "
			    "choose another network with --cidr",
			    cidr, a, bits, iface);
		}
	}
	fclose(f);
	return rc;
}

int kiln_cloud_up(const struct kiln_cloud_opts *o, char **endpoint)
{
	const char *state_dir = kiln_paths_cloud_state(o->state_dir);
	char *abs, *lockf, *logf;
	int lock_fd, pipefd[2], existed;
	pid_t pid;
	FILE *log;

	*endpoint = NULL;
	if (geteuid() != 0)
		return kiln_error_set(KILN_EINVAL,
		                      "the local cloud needs root (namespaces, mounts, a bridge)");
	if (o->cidr) {
		uint32_t net;
		int prefix;
		if (parse_cidr_checked(&net, &prefix, o->cidr) < 0)
			return KILN_EINVAL;
	}
	existed = access(state_dir, F_OK) == 0;
	if (kiln_mkdir_p(state_dir, 0700) < 0)
		return -1;
	abs = realpath(state_dir, NULL);
	if (abs == NULL)
		return kiln_error_set(KILN_ERROR, "%s: %s", state_dir, strerror(errno));
	{
		char bridge[16];
		int rc;
		bridge_name(bridge, abs);
		rc = check_overlap(o->cidr ? o->cidr : KILN_CLOUD_DEFAULT_CIDR, bridge);
		if (rc < 0) {
			if (!existed)
				rmdir(abs); /* nothing half-created */
			free(abs);
			return rc;
		}
	}
	lockf = state_file(abs, "cloud.lock");
	lock_fd = open(lockf, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lockf);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int pid_running = read_pid(abs);
		if (lock_fd >= 0)
			close(lock_fd);
		kiln_error_set(KILN_EEXISTS, "a local cloud already runs on %s (pid %d)", abs,
		               pid_running);
		free(abs);
		return KILN_EEXISTS;
	}
	logf = state_file(abs, "cloud.log");
	log = fopen(logf, "ae");
	free(logf);
	if (log == NULL) {
		close(lock_fd);
		free(abs);
		return kiln_error_set(KILN_ERROR, "cloud.log: %s", strerror(errno));
	}
	setvbuf(log, NULL, _IOLBF, 0);

	if (o->foreground) {
		int rc;
		kiln_log_set_stream(log, 1);
		fprintf(stderr, "kiln cloud: http://127.0.0.1:%d, state %s (log in %s/cloud.log)\n",
		        o->port ? o->port : KILN_CLOUD_DEFAULT_PORT, abs, abs);
		rc = run_daemon(o, abs);
		fclose(log);
		close(lock_fd);
		free(abs);
		return rc;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		fclose(log);
		close(lock_fd);
		free(abs);
		return kiln_error_set(KILN_ERROR, "pipe: %s", strerror(errno));
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		fclose(log);
		close(lock_fd);
		free(abs);
		return kiln_error_set(KILN_ERROR, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		close(pipefd[0]);
		setsid();
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(fileno(log), 2);
			if (devnull > 2)
				close(devnull);
		}
		if (chdir("/") < 0)
			_exit(1);
		ready_fd = pipefd[1];
		kiln_log_set_stream(log, 1);
		_exit(run_daemon(o, abs) < 0 ? 1 : 0);
	}
	close(pipefd[1]);
	close(lock_fd);
	fclose(log);
	{
		struct kiln_buf b = KILN_BUF_INIT;
		char chunk[512];
		ssize_t n;
		int rc;

		while ((n = read(pipefd[0], chunk, sizeof(chunk))) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				break;
			kiln_buf_put(&b, chunk, (size_t)n);
		}
		close(pipefd[0]);
		kiln_buf_rtrim(&b);
		if (b.ptr && strncmp(b.ptr, "ok ", 3) == 0) {
			*endpoint = kiln_xstrdup(b.ptr + 3);
			rc = 0;
		} else if (b.ptr && strncmp(b.ptr, "error ", 6) == 0) {
			rc = kiln_error_set(KILN_ERROR, "%s", b.ptr + 6);
		} else {
			rc = kiln_error_set(
			    KILN_ERROR, "the local cloud exited while starting; see %s/cloud.log",
			    abs);
		}
		if (rc < 0)
			waitpid(pid, NULL, WNOHANG);
		kiln_buf_release(&b);
		free(abs);
		return rc;
	}
}

int kiln_cloud_endpoint(char **out, const char *state_dir)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char *epf;
	int rc;

	*out = NULL;
	state_dir = kiln_paths_cloud_state(state_dir);
	if (!daemon_running(state_dir))
		return kiln_error_set(KILN_ENOTFOUND,
		                      "no local cloud runs on %s; start one with `kiln cloud up`",
		                      state_dir);
	epf = state_file(state_dir, "endpoint");
	rc = kiln_file_read(&b, epf);
	free(epf);
	if (rc < 0) {
		kiln_buf_release(&b);
		return kiln_error_set(KILN_ENOTFOUND, "the local cloud on %s is still starting",
		                      state_dir);
	}
	kiln_buf_rtrim(&b);
	*out = kiln_buf_detach(&b);
	return 0;
}

/*
 * No daemon, but a crashed one may have left machines and its bridge: stop
 * and unmount them, remove the bridge. The state stays; the next `up`
 * starts the instances that were running. Returns 1 when something was left.
 */
static int clean_after_crash(const char *state_dir)
{
	char *abs = realpath(state_dir, NULL), *idir, bridge[16], *sys;
	struct dirent *e;
	DIR *d;
	int found = 0;

	if (abs == NULL)
		return 0;
	idir = kiln_path_join(abs, "instances");
	d = opendir(idir);
	while (d && (e = readdir(d)) != NULL) {
		char *dir;
		if (e->d_name[0] == '.')
			continue;
		dir = kiln_path_join(idir, e->d_name);
		/* kills what is left of a machine and unmounts it; nothing if none */
		if (lc_machine_reap(dir) < 0)
			kiln_log_warn("%s", kiln_error_last());
		kiln_error_clear();
		free(dir);
	}
	if (d)
		closedir(d);
	bridge_name(bridge, abs);
	sys = kiln_xasprintf("/sys/class/net/%s", bridge);
	if (access(sys, F_OK) == 0) {
		struct lc_net net;
		memset(&net, 0, sizeof(net));
		snprintf(net.bridge, sizeof(net.bridge), "%s", bridge);
		found = 1;
		if (lc_net_down(&net) < 0)
			kiln_log_warn("%s", kiln_error_last());
	}
	free(sys);
	free(idir);
	free(abs);
	return found;
}

int kiln_cloud_down(const char *state_dir, double timeout)
{
	double t0 = kiln_time_mono();
	int pid;

	state_dir = kiln_paths_cloud_state(state_dir);
	if (!daemon_running(state_dir)) {
		int cleaned = clean_after_crash(state_dir);
		return kiln_error_set(
		    KILN_ENOTFOUND, "no local cloud runs on %s%s", state_dir,
		    cleaned ? "; removed what a crashed one left (machines, bridge)" : "");
	}
	pid = read_pid(state_dir);
	if (pid <= 1)
		return kiln_error_set(KILN_ERROR,
		                      "the local cloud on %s holds its lock but has no pid file",
		                      state_dir);
	if (kill(pid, SIGTERM) < 0)
		return kiln_error_set(KILN_ERROR, "stopping pid %d: %s", pid, strerror(errno));
	while (daemon_running(state_dir)) {
		if (kiln_time_mono() - t0 > timeout)
			return kiln_error_set(KILN_ETIMEOUT,
			                      "the local cloud (pid %d) did not stop within %.0f s",
			                      pid, timeout);
		kiln_sleep(0.05, NULL);
	}
	return 0;
}

int kiln_cloud_status(json_t **out, const char *state_dir)
{
	json_t *st = NULL, *counts, *inst, *v;
	char *path, *endpoint = NULL;
	const char *k;
	struct stat sb;
	int running;

	state_dir = kiln_paths_cloud_state(state_dir);
	running = daemon_running(state_dir);
	*out = json_pack("{s:b, s:s}", "running", running, "state_dir", state_dir);
	if (running) {
		char *pidf = state_file(state_dir, "cloud.pid");
		json_object_set_new(*out, "pid", json_integer(read_pid(state_dir)));
		if (stat(pidf, &sb) == 0)
			json_object_set_new(*out, "uptime_seconds",
			                    json_integer((json_int_t)(time(NULL) - sb.st_mtime)));
		free(pidf);
		if (kiln_cloud_endpoint(&endpoint, state_dir) == 0)
			json_object_set_new(*out, "endpoint", json_string(endpoint));
		free(endpoint);
	}
	path = state_file(state_dir, "state.json");
	if (access(path, F_OK) == 0 && kiln_json_load_file(&st, path) == 0) {
		counts = json_object();
		json_object_set_new(
		    counts, "images",
		    json_integer((json_int_t)json_object_size(json_object_get(st, "images"))));
		json_object_set_new(
		    counts, "key_pairs",
		    json_integer((json_int_t)json_object_size(json_object_get(st, "key_pairs"))));
		json_object_set_new(counts, "security_groups",
		                    json_integer((json_int_t)json_object_size(
		                        json_object_get(st, "security_groups"))));
		json_object_set_new(counts, "launch_templates",
		                    json_integer((json_int_t)json_object_size(
		                        json_object_get(st, "launch_templates"))));
		inst = json_object();
		json_object_foreach(json_object_get(st, "instances"), k, v)
		{
			const char *s = lc_str(v, "state");
			json_int_t n = json_integer_value(json_object_get(inst, s ? s : "unknown"));
			json_object_set_new(inst, s ? s : "unknown", json_integer(n + 1));
		}
		json_object_set_new(counts, "instances", inst);
		json_object_set_new(*out, "counts", counts);
	}
	kiln_error_clear();
	json_decref(st);
	free(path);
	return 0;
}
