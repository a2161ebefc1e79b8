/*
 * One API request from its bytes to its reply (api-int.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "aws/query.h"
#include "aws/sigv4.h"
#include "core/log.h"
#include "core/utf8.h"
#include "core/util.h"
#include "localcloud/api-int.h"
#include "localcloud/autoscaling-int.h"
#include "localcloud/cloud-int.h"
#include "localcloud/ec2-int.h"
#include "localcloud/elbv2-int.h"
#include "localcloud/request-int.h"
#include "localcloud/ssm-int.h"
#include "localcloud/sts-int.h"
#include "localcloud/xml-int.h"

/* How far a request's X-Amz-Date may be from the cloud's clock, as AWS allows. */
#define LC_MAX_SKEW 900

/*
 * A service the local cloud answers: its signing name, API version and XML
 * namespace, and the name AWS gives it in a NoSuchVersion error (the signing
 * name when NULL).
 */
struct lc_service {
	const char *name;
	const char *version;
	const char *xmlns;
	const struct lc_action *(*action)(const char *name);
	int ec2_shape; /* EC2's own reply and error shapes */
	const char *title;
};

static const struct lc_service services[] = {
    {"ec2", "2016-11-15", LC_EC2_XMLNS, lc_ec2_action, 1, "AmazonEC2"},
    {"sts", "2011-06-15", "https://sts.amazonaws.com/doc/2011-06-15/", lc_sts_action, 0,
     "AWSSecurityTokenService"},
    {"elasticloadbalancing", "2015-12-01", LC_ELBV2_XMLNS, lc_elbv2_action, 0, NULL},
    {"autoscaling", "2011-01-01", LC_AUTOSCALING_XMLNS, lc_autoscaling_action, 0, NULL},
};

static const struct lc_service *service_named(const char *name)
{
	for (size_t i = 0; i < KILN_ARRAY_SIZE(services); i++)
		if (strcmp(services[i].name, name) == 0)
			return &services[i];
	return NULL;
}

/* ---- the request log ---------------------------------------------------- */

/* A JSON string of bytes from a client: invalid UTF-8 escaped, never a failure. */
static json_t *client_string(const char *s)
{
	struct kiln_buf b = KILN_BUF_INIT;
	json_t *j;

	kiln_utf8_escape(&b, s ? s : "", s ? strlen(s) : 0);
	j = json_stringn(b.ptr, b.size);
	kiln_buf_release(&b);
	return j ? j : json_string("");
}

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
	line =
	    json_pack("{s:s, s:o, s:o, s:i, s:f}", "time", now, "service", client_string(service),
	              "action", client_string(action), "status", status, "duration", seconds);
	json_object_set_new(line, "error", code && code[0] ? client_string(code) : json_null());
	text = json_dumps(line, JSON_COMPACT);
	json_decref(line);
	if (text == NULL)
		return;
	len = strlen(text);
	text = kiln_xrealloc(text, len + 2);
	text[len] = '\n';
	/* one write() with O_APPEND: lines never interleave */
	if (write(c->reqlog_fd, text, len + 1) < 0)
		kiln_log_warn("request log: %s", strerror(errno));
	free(text);
}

/* ---- replies ------------------------------------------------------------ */

static void new_request_id(char out[40])
{
	char *rid = kiln_id_random("", 32);

	snprintf(out, 40, "%.8s-%.4s-%.4s-%.4s-%.12s", rid, rid + 8, rid + 12, rid + 16, rid + 20);
	free(rid);
}

static void error_body(struct kiln_buf *b, int ec2_shape, const char *code, const char *message,
                       const char *request_id)
{
	kiln_buf_clear(b);
	kiln_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	if (ec2_shape) {
		kiln_buf_puts(b, "<Response><Errors><Error>");
		lc_xt(b, "Code", code);
		lc_xt(b, "Message", message);
		kiln_buf_puts(b, "</Error></Errors>");
		lc_xt(b, "RequestID", request_id);
		kiln_buf_puts(b, "</Response>");
		return;
	}
	kiln_buf_puts(b, "<ErrorResponse><Error>");
	lc_xt(b, "Type", "Sender");
	lc_xt(b, "Code", code);
	lc_xt(b, "Message", message);
	kiln_buf_puts(b, "</Error>");
	lc_xt(b, "RequestId", request_id);
	kiln_buf_puts(b, "</ErrorResponse>");
}

/* <ActionResponse xmlns=...> around the members, in the service's shape. */
static void success_body(struct kiln_buf *b, const struct lc_service *svc, const char *action,
                         const char *request_id, const struct kiln_buf *members)
{
	kiln_buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%sResponse xmlns=\"%s\">",
	                action, svc->xmlns);
	if (svc->ec2_shape)
		lc_xt(b, "requestId", request_id);
	else
		kiln_buf_printf(b, "<%sResult>", action);
	kiln_buf_put(b, members->ptr, members->size);
	if (!svc->ec2_shape) {
		kiln_buf_printf(b, "</%sResult>", action);
		kiln_buf_puts(b, "<ResponseMetadata>");
		lc_xt(b, "RequestId", request_id);
		kiln_buf_puts(b, "</ResponseMetadata>");
	}
	kiln_buf_printf(b, "</%sResponse>", action);
}

void lc_api_refuse(struct lc_cloud *c, int status, const char *code, const char *message,
                   double started, struct lc_http_reply *out)
{
	out->content_type = NULL;
	out->status = status;
	new_request_id(out->request_id);
	kiln_buf_init(&out->body, KILN_BUF_DEFAULT_CAP);
	error_body(&out->body, 0, code, message, out->request_id);
	request_log(c, "", "", status, code, kiln_time_mono() - started);
	kiln_log_debug("refused: %s: %s", code, message);
}

/* ---- one request -------------------------------------------------------- */

static const char *lookup_secret(void *arg, const char *access_key_id)
{
	struct lc_cloud *c = arg;

	return strcmp(access_key_id, c->access_key) == 0 ? c->secret_key : NULL;
}

/* The value of header `name` (case-insensitive), or NULL. */
static const char *header_value(const struct lc_http_request *in, const char *name)
{
	size_t len = strlen(name);

	for (const char *const *h = in->headers; *h; h++)
		if (strncasecmp(*h, name, len) == 0 && (*h)[len] == ':')
			return *h + len + 1 + strspn(*h + len + 1, " \t");
	return NULL;
}

/*
 * The Query API signs the body: an X-Amz-Content-SHA256 that is not the
 * body's hash ("UNSIGNED-PAYLOAD", the "STREAMING-" forms of S3) would let a
 * body changed after signing through.
 */
static int payload_signed(struct lc_req *r, const struct lc_http_request *in)
{
	const char *v = header_value(in, "x-amz-content-sha256");

	if (v == NULL || (strlen(v) == 64 && strspn(v, "0123456789abcdefABCDEF") == 64))
		return 0;
	return lc_err(r, 400, "IncompleteSignature",
	              "X-Amz-Content-SHA256 must be the SHA-256 of the body: this API signs "
	              "the payload");
}

/* The signature; the service it names in *service (borrowed from `id`). */
static int verify(struct lc_req *r, const struct lc_http_request *in,
                  struct kiln_sigv4_identity *id)
{
	struct kiln_sigv4_request sreq = {.method = in->method,
	                                  .path = in->path,
	                                  .query = in->query,
	                                  .headers = in->headers,
	                                  .body = in->body,
	                                  .body_len = in->body_len};
	const char *code, *msg;
	int status;

	if (kiln_sigv4_verify(id, &sreq, lookup_secret, r->c, time(NULL), LC_MAX_SKEW) == 0)
		return payload_signed(r, in);
	code = id->error_code[0] ? id->error_code : "AuthFailure";
	status = strcmp(code, "SignatureDoesNotMatch") == 0 ? 403
	         : strcmp(code, "AuthFailure") == 0         ? 401
	                                                    : 400;
	msg = kiln_error_last();
	if (strncmp(msg, code, strlen(code)) == 0 && strncmp(msg + strlen(code), ": ", 2) == 0)
		msg += strlen(code) + 2;
	return lc_err(r, status, code, "%s", msg);
}

/* How many parameters s[0..len) holds at most: one more than its '&'. */
static size_t params_in(const char *s, size_t len)
{
	size_t n = 1;

	if (len == 0)
		return 0;
	for (const char *p = s; (p = memchr(p, '&', len - (size_t)(p - s))) != NULL; p++)
		n++;
	return n;
}

/* Parameters from the query string and the body; every one valid UTF-8, and not too many. */
static int parse_params(struct lc_req *r, const struct lc_http_request *in, struct kiln_query *q)
{
	size_t qlen = in->query ? strlen(in->query) : 0;
	size_t n = params_in(in->query, qlen) + params_in(in->body, in->body_len);

	/* counted before parsing: a 16 MiB body of "&" would be millions of allocations */
	if (n > LC_PARAMS_MAX)
		return lc_err(r, 400, "MalformedQueryString",
		              "The request has %zu parameters; at most %d are accepted", n,
		              LC_PARAMS_MAX);
	if ((qlen && kiln_query_parse(q, in->query, qlen) < 0) ||
	    (in->body_len && kiln_query_parse(q, in->body, in->body_len) < 0))
		return lc_err(r, 400, "MalformedQueryString", "%s", kiln_error_last());
	for (size_t i = 0; i < q->count; i++) {
		const struct kiln_query_param *p = &q->params[i];
		if (!kiln_utf8_valid(p->key, strlen(p->key)))
			return lc_err(r, 400, "MalformedQueryString",
			              "A parameter name is not valid UTF-8: %s", p->key);
		if (!kiln_utf8_valid(p->value, strlen(p->value)))
			return lc_err(r, 400, "InvalidParameterValue",
			              "The value of parameter %s is not valid UTF-8", p->key);
	}
	return 0;
}

/* The action's prepare step without the lock, its handler with it, the state saved. */
static void run_action(struct lc_req *r, const struct lc_action *a)
{
	struct lc_cloud *c = r->c;

	if (a->prepare && a->prepare(r) < 0)
		return;
	pthread_mutex_lock(&c->mu);
	if (a->fn(r) == 0 && r->dirty && lc_state_save(c) < 0)
		lc_err(r, 500, "InternalError", "saving the state failed: %s", kiln_error_last());
	pthread_mutex_unlock(&c->mu);
	pthread_cond_broadcast(&c->cond);
	if (a->after && !r->code[0])
		a->after(r);
}

/* The Version parameter is required, and names the one API version each service speaks. */
static int version_known(struct lc_req *r, const struct lc_service *svc)
{
	const char *version = lc_q(r, "Version");

	if (version == NULL)
		return lc_missing(r, "Version");
	if (strcmp(version, svc->version) != 0)
		return lc_err(r, 400, "NoSuchVersion",
		              "The requested version (%s) of service %s does not exist", version,
		              svc->title ? svc->title : svc->name);
	return 0;
}

static void dispatch(struct lc_req *r, const struct lc_service *svc)
{
	const char *action = lc_q(r, "Action");
	const struct lc_action *a;
	int dry_run;

	if (action == NULL) {
		lc_err(r, 400, "MissingAction", "The request must contain the parameter Action");
		return;
	}
	r->action = action;
	a = svc->action(action);
	if (a == NULL) {
		lc_err(r, 400, "InvalidAction", "The action %s is not valid for this web service.",
		       action);
		return;
	}
	if (version_known(r, svc) < 0)
		return;
	if (svc->ec2_shape) {
		if (lc_q_bool(r, "DryRun", 0, &dry_run) < 0)
			return;
		if (dry_run) {
			lc_err(r, 412, "DryRunOperation",
			       "Request would have succeeded, but DryRun flag is set.");
			return;
		}
	}
	run_action(r, a);
}

/* The value of header `name` (case-insensitive), or NULL. */
static const char *header(const struct lc_http_request *in, const char *name)
{
	size_t len = strlen(name);

	for (const char *const *h = in->headers; *h; h++)
		if (strncasecmp(*h, name, len) == 0 && (*h)[len] == ':')
			return *h + len + 1 + strspn(*h + len + 1, " \t");
	return NULL;
}

/* SSM speaks JSON 1.1 (ssm-int.h), not the Query protocol. */
static void ssm_api(struct lc_cloud *c, const struct lc_http_request *in, const char *request_id,
                    struct lc_http_reply *out)
{
	struct lc_ssm_reply r;
	const char *op = lc_ssm_handle(c, header(in, "x-amz-target"), in->body, in->body_len, &r);

	out->status = r.status;
	memcpy(out->request_id, request_id, sizeof(out->request_id));
	out->body = r.body;
	out->content_type = LC_SSM_CONTENT_TYPE;
	request_log(c, "ssm", op ? op : "", out->status, r.code, kiln_time_mono() - in->started);
}

void lc_api_handle(struct lc_cloud *c, const struct lc_http_request *in, struct lc_http_reply *out)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct lc_params params = {NULL, 0};
	struct kiln_buf members = KILN_BUF_INIT;
	struct kiln_sigv4_identity id;
	const struct lc_service *svc = &services[0];
	struct lc_req r;

	memset(&r, 0, sizeof(r));
	memset(&id, 0, sizeof(id));
	r.c = c;
	r.p = &params;
	r.out = &members;
	new_request_id(r.request_id);
	out->content_type = NULL;
	if (verify(&r, in, &id) < 0)
		goto reply;
	if (strcmp(id.service, "ssm") == 0) {
		ssm_api(c, in, r.request_id, out);
		goto done;
	}
	svc = service_named(id.service);
	if (svc == NULL) {
		svc = &services[0];
		lc_err(&r, 400, "InvalidAction",
		       "The service '%s' is not available in the local cloud", id.service);
		goto reply;
	}
	if (parse_params(&r, in, &q) < 0)
		goto reply;
	lc_params_init(&params, &q);
	dispatch(&r, svc);
reply:
	out->status = r.code[0] ? r.status : 200;
	memcpy(out->request_id, r.request_id, sizeof(out->request_id));
	kiln_buf_init(&out->body, KILN_BUF_DEFAULT_CAP);
	if (r.code[0]) {
		error_body(&out->body, svc->ec2_shape, r.code, r.message, r.request_id);
		if (r.status >= 500)
			kiln_log_error("%s %s: %s: %s", svc->name, r.action ? r.action : "-",
			               r.code, r.message);
	} else {
		success_body(&out->body, svc, r.action, r.request_id, &members);
	}
	request_log(c, id.service, r.action, out->status, r.code, kiln_time_mono() - in->started);
done:
	if (r.prep_free)
		r.prep_free(r.prep);
	lc_params_release(&params);
	kiln_query_release(&q);
	kiln_buf_release(&members);
}
