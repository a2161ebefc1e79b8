#include "aws/client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "aws/config.h"
#include "aws/creds.h"
#include "aws/http.h"
#include "aws/sigv4.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"

struct service_info {
	const char *env;     /* AWS_ENDPOINT_URL_<env>; lower case in [services] */
	const char *signing; /* SigV4 service name and endpoint prefix */
	const char *version; /* Query API version; NULL for JSON */
	const char *target;  /* JSON 1.1 X-Amz-Target prefix */
};

static const struct service_info services[KILN_AWS_NSERVICES] = {
    [KILN_AWS_EC2] = {"EC2", "ec2", "2016-11-15", NULL},
    [KILN_AWS_ELBV2] = {"ELASTIC_LOAD_BALANCING_V2", "elasticloadbalancing", "2015-12-01", NULL},
    [KILN_AWS_AUTOSCALING] = {"AUTO_SCALING", "autoscaling", "2011-01-01", NULL},
    [KILN_AWS_STS] = {"STS", "sts", "2011-06-15", NULL},
    [KILN_AWS_SSM] = {"SSM", "ssm", NULL, "AmazonSSM"},
};

struct kiln_aws {
	char *region;
	char *endpoints[KILN_AWS_NSERVICES];
	struct kiln_http *http[KILN_AWS_NSERVICES];
	struct kiln_http_opts http_opts;
	struct kiln_retry retry;
	struct kiln_creds_provider *creds; /* NULL: unsigned calls */
	kiln_aws_request_hook hook;
	void *hook_arg;
	double clock_offset; /* server time minus ours, learnt from a skew error */
};

static _Thread_local struct kiln_aws_error last_error;

const struct kiln_aws_error *kiln_aws_last_error(void)
{
	return &last_error;
}

static int env_true(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && strcasecmp(v, "true") == 0;
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/*
 * The SDKs' order: explicit, per-service variable, global variable, the
 * profile's [services] section, the profile's endpoint_url, then AWS's own.
 */
static char *resolve_endpoint(const struct kiln_aws_config *cfg,
                              const struct kiln_aws_profile *profile, const char *region,
                              enum kiln_aws_service svc)
{
	const struct service_info *s = &services[svc];
	const char *v;
	char name[96];
	size_t i;
	int n;

	if (cfg != NULL && cfg->endpoint_url != NULL && *cfg->endpoint_url != '\0')
		return kiln_xstrdup(cfg->endpoint_url);
	if (!env_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
		n = snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_%s", s->env);
		if (n > 0 && (size_t)n < sizeof(name) && (v = env_nonempty(name)) != NULL)
			return kiln_xstrdup(v);
		if ((v = env_nonempty("AWS_ENDPOINT_URL")) != NULL)
			return kiln_xstrdup(v);
		/* "[services x]" keys are the variable's suffix in lower case: "auto_scaling". */
		n = snprintf(name, sizeof(name), "services.%s.endpoint_url", s->env);
		for (i = 9; n > 0 && (size_t)n < sizeof(name) && name[i] != '.'; i++)
			name[i] = (char)tolower((unsigned char)name[i]);
		if (n > 0 && (size_t)n < sizeof(name) &&
		    (v = kiln_aws_profile_get(profile, name)) != NULL && *v != '\0')
			return kiln_xstrdup(v);
		if ((v = kiln_aws_profile_get(profile, "endpoint_url")) != NULL && *v != '\0')
			return kiln_xstrdup(v);
	}
	return kiln_xasprintf("https://%s.%s.amazonaws.com%s", s->signing, region,
	                      strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
}

int kiln_aws_new_with_provider(struct kiln_aws **out, const struct kiln_aws_config *cfg,
                               struct kiln_creds_provider *creds);

int kiln_aws_new(struct kiln_aws **out, const struct kiln_aws_config *cfg)
{
	struct kiln_creds_provider *creds = NULL;
	struct kiln_aws *aws = NULL;
	struct kiln_aws_config c = {0};
	int error;

	KILN_ASSERT_ARG(out != NULL);
	*out = NULL;
	if (cfg != NULL)
		c = *cfg;
	error = kiln_aws_new_with_provider(&aws, &c, NULL);
	if (error < 0)
		goto done;
	c.region = aws->region;
	if (c.access_key_id != NULL) {
		if (c.secret_access_key == NULL) {
			error = kiln_error_set(KILN_EINVAL, "an access key id needs a secret key");
			goto done;
		}
		error = kiln_creds_static_new(&creds, c.access_key_id, c.secret_access_key, NULL,
		                              c.public_credentials ? KILN_CREDS_PUBLIC : "static");
	} else {
		error = kiln_creds_chain_new(&creds, &c);
	}
	if (error < 0)
		goto done;
	aws->creds = creds;
	creds = NULL;
	*out = aws;
	aws = NULL;
done:
	kiln_creds_provider_free(creds);
	kiln_aws_free(aws);
	return error;
}

/*
 * A client whose credentials come from `creds` (owned; NULL: calls are not
 * signed, as AssumeRoleWithWebIdentity is not). Used by the credential chain
 * for its STS calls.
 */
int kiln_aws_new_with_provider(struct kiln_aws **out, const struct kiln_aws_config *cfg,
                               struct kiln_creds_provider *creds)
{
	struct kiln_aws_profile profile = {0};
	struct kiln_aws *aws = NULL;
	const char *region;
	int i, error;

	KILN_ASSERT_ARG(out != NULL && cfg != NULL);
	*out = NULL;
	error = kiln_aws_profile_load(&profile, cfg->profile);
	if (error < 0)
		goto done;
	region = cfg->region;
	if (region == NULL || *region == '\0')
		region = env_nonempty("AWS_REGION");
	if (region == NULL)
		region = env_nonempty("AWS_DEFAULT_REGION");
	if (region == NULL)
		region = kiln_aws_profile_get(&profile, "region");
	if (region == NULL || *region == '\0') {
		error = kiln_error_set(KILN_EINVAL,
		                       "no AWS region: set AWS_REGION or 'region' in profile '%s'",
		                       profile.name);
		goto done;
	}
	aws = kiln_xcalloc(1, sizeof(*aws));
	aws->region = kiln_xstrdup(region);
	for (i = 0; i < KILN_AWS_NSERVICES; i++)
		aws->endpoints[i] = resolve_endpoint(cfg, &profile, region, i);
	kiln_retry_init(&aws->retry);
	aws->creds = creds;
	creds = NULL;
	*out = aws;
	aws = NULL;
done:
	kiln_creds_provider_free(creds);
	kiln_aws_profile_release(&profile);
	kiln_aws_free(aws);
	return error;
}

void kiln_aws_free(struct kiln_aws *aws)
{
	int i;

	if (aws == NULL)
		return;
	for (i = 0; i < KILN_AWS_NSERVICES; i++) {
		free(aws->endpoints[i]);
		kiln_http_free(aws->http[i]);
	}
	kiln_creds_provider_free(aws->creds);
	free(aws->region);
	free(aws);
}

const char *kiln_aws_region(const struct kiln_aws *aws)
{
	KILN_ASSERT_ARG(aws != NULL);
	return aws->region;
}

const char *kiln_aws_endpoint(const struct kiln_aws *aws, enum kiln_aws_service svc)
{
	KILN_ASSERT_ARG(aws != NULL && svc >= 0 && svc < KILN_AWS_NSERVICES);
	return aws->endpoints[svc];
}

int kiln_aws_credential_source(const char **out, struct kiln_aws *aws)
{
	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	if (aws->creds == NULL) {
		*out = "anonymous";
		return 0;
	}
	return kiln_creds_source(out, aws->creds);
}

void kiln_aws_set_request_hook(struct kiln_aws *aws, kiln_aws_request_hook fn, void *arg)
{
	KILN_ASSERT_ARG(aws != NULL);
	aws->hook = fn;
	aws->hook_arg = arg;
}

/* Tests and tuning: the transport options and retry policy of a client. */
struct kiln_http_opts *kiln_aws_http_opts(struct kiln_aws *aws)
{
	return &aws->http_opts;
}

struct kiln_retry *kiln_aws_retry_policy(struct kiln_aws *aws)
{
	return &aws->retry;
}

/* Host header and path of an endpoint URL, as they go on the wire. */
static int split_endpoint(char **host, char **path, const char *url)
{
	CURLU *u = curl_url();
	char *h = NULL, *port = NULL, *p = NULL;
	int error = 0;

	if (u == NULL)
		kiln_die("out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK) {
		error = kiln_error_set(KILN_EINVAL, "invalid endpoint URL '%s'", url);
		goto done;
	}
	/* Only an explicit port is part of Host; curl omits the scheme's default. */
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	if (curl_url_get(u, CURLUPART_PATH, &p, 0) != CURLUE_OK || p == NULL || *p == '\0') {
		curl_free(p);
		p = NULL;
	}
	*host = port != NULL ? kiln_xasprintf("%s:%s", h, port) : kiln_xstrdup(h);
	*path = kiln_xstrdup(p != NULL ? p : "/");
done:
	curl_free(h);
	curl_free(port);
	curl_free(p);
	curl_url_cleanup(u);
	return error;
}

static int error_code_is_auth(const char *code)
{
	static const char *const auth[] = {
	    "AuthFailure",
	    "SignatureDoesNotMatch",
	    "IncompleteSignature",
	    "InvalidClientTokenId",
	    "UnrecognizedClientException",
	    "InvalidAccessKeyId",
	    "MissingAuthenticationToken",
	    "MissingAuthenticationTokenException",
	    "ExpiredToken",
	    "ExpiredTokenException",
	    "RequestExpired",
	    "InvalidToken",
	    "InvalidIdentityToken",
	};
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(auth); i++)
		if (strcmp(code, auth[i]) == 0)
			return 1;
	return 0;
}

static int error_code_is_notfound(const char *code)
{
	size_t n = strlen(code);

	return n >= 8 && strcmp(code + n - 8, "NotFound") == 0;
}

struct call {
	enum kiln_aws_service svc;
	const char *op;
	const char *content_type;
	const char *target; /* X-Amz-Target or NULL */
	const char *body;
	size_t body_len;
};

static int sign_headers(char ***out, struct kiln_aws *aws, const struct call *c, const char *host,
                        const char *path, struct kiln_sigv4_signed *sig)
{
	const struct kiln_creds *creds = NULL;
	struct kiln_sigv4_request req = {0};
	struct kiln_sigv4_key key = {0};
	char **h = kiln_xcalloc(8, sizeof(char *));
	size_t n = 0;
	int error = 0;

	h[n++] = kiln_xasprintf("Host: %s", host);
	h[n++] = kiln_xasprintf("Content-Type: %s", c->content_type);
	if (c->target != NULL)
		h[n++] = kiln_xasprintf("X-Amz-Target: %s", c->target);
	*out = h;
	if (aws->creds == NULL)
		return 0;
	error = kiln_creds_get(&creds, aws->creds);
	if (error < 0)
		return error;
	req.method = "POST";
	req.path = path;
	req.query = "";
	req.headers = (const char *const *)h;
	req.body = c->body;
	req.body_len = c->body_len;
	key.access_key_id = creds->access_key_id;
	key.secret_access_key = creds->secret_access_key;
	key.session_token = creds->session_token;
	key.region = aws->region;
	key.service = services[c->svc].signing;
	error = kiln_sigv4_sign(sig, &req, &key, (time_t)(kiln_time_now() + aws->clock_offset));
	if (error < 0)
		return error;
	h[n++] = kiln_xstrdup(sig->amz_date);
	if (sig->security_token != NULL)
		h[n++] = kiln_xstrdup(sig->security_token);
	h[n++] = kiln_xstrdup(sig->authorization);
	return 0;
}

static void free_headers(char **h)
{
	size_t i;

	for (i = 0; h != NULL && h[i] != NULL; i++) {
		/* Authorization and the session token are credentials. */
		kiln_free_secret(h[i]);
	}
	free(h);
}

/* Set the thread's last AWS error and the error slot from a rejected reply. */
static int reject(const struct call *c, const struct kiln_http_response *r)
{
	struct kiln_aws_error *e = &last_error;
	char *code, *msg;
	int error;

	if (kiln_aws_error_parse(e, r->body.ptr, r->body.size, (int)r->status) < 0) {
		memset(e, 0, sizeof(*e));
		e->http_status = (int)r->status;
		snprintf(e->code, sizeof(e->code), "%ld", r->status);
		snprintf(e->message, sizeof(e->message), "http status %ld with no aws error",
		         r->status);
	}
	kiln_error_clear();
	/* The server's words, escaped: an error message is printed to a terminal. */
	code = kiln_escape(e->code);
	msg = kiln_escape(e->message);
	if (error_code_is_auth(e->code))
		error = kiln_error_set(KILN_EAUTH, "%s: %s", code, msg);
	else if (error_code_is_notfound(e->code))
		error = kiln_error_set(KILN_ENOTFOUND, "%s: %s", code, msg);
	else
		error = kiln_error_set(KILN_ERROR, "%s: %s", code, msg);
	free(code);
	free(msg);
	return error;
}

/*
 * As the Java SDK: when a signature is refused and the server's clock is more
 * than four minutes from ours, sign with the server's time from now on.
 * Returns 1 when the offset changed (the call is worth one more attempt).
 */
static int fix_clock_skew(struct kiln_aws *aws, const struct kiln_http_response *r)
{
	static const char *const codes[] = {
	    "RequestTimeTooSkewed",      "RequestExpired",        "RequestInTheFuture",
	    "InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure",
	};
	double now = kiln_time_now(), skew;
	size_t i;

	if (r->server_date <= 0)
		return 0;
	skew = r->server_date - now;
	if (fabs(skew - aws->clock_offset) < 240)
		return 0;
	for (i = 0; i < KILN_ARRAY_SIZE(codes); i++) {
		if (strcmp(last_error.code, codes[i]) == 0) {
			kiln_log_warn("the local clock is %.0f s %s the AWS endpoint's: signing "
			              "with the endpoint's time",
			              fabs(skew), skew > 0 ? "behind" : "ahead of");
			aws->clock_offset = skew;
			return 1;
		}
	}
	return 0;
}

/* One attempt of a signed call, and what kind of retry its outcome calls for. */
static enum kiln_retry_kind send_once(int *error, struct kiln_http_response *resp,
                                      struct kiln_aws *aws, const struct call *c, char **headers)
{
	struct kiln_http_request req = {.method = "POST",
	                                .url = aws->endpoints[c->svc],
	                                .headers = (const char *const *)headers,
	                                .body = c->body,
	                                .body_len = c->body_len};

	*error = kiln_http_send(resp, aws->http[c->svc], &req);
	if (*error == 0 && (resp->status < 200 || resp->status >= 300)) {
		/* An AWS rejection: the code decides, not the transport. */
		*error = reject(c, resp);
		return kiln_retry_classify(0, resp->status, last_error.code);
	}
	if (*error == 0)
		memset(&last_error, 0, sizeof(last_error));
	return kiln_retry_classify(*error, resp->status, "");
}

/* Send one call with retries; on success `out` holds the 2xx reply body. */
static int aws_call(struct kiln_buf *out, struct kiln_aws *aws, const struct call *c)
{
	struct kiln_http_response resp = KILN_HTTP_RESPONSE_INIT;
	const char *url = aws->endpoints[c->svc];
	char *host = NULL, *path = NULL;
	int attempt, error, skew_fixed = 0;
	double t0 = kiln_time_mono();

	memset(&last_error, 0, sizeof(last_error));
	error = split_endpoint(&host, &path, url);
	if (error < 0)
		goto done;
	if (aws->http[c->svc] == NULL) {
		error = kiln_http_new(&aws->http[c->svc], &aws->http_opts);
		if (error < 0)
			goto done;
	}
	for (attempt = 1;; attempt++) {
		int skew_retry = 0;
		struct kiln_sigv4_signed sig = {0};
		enum kiln_retry_kind kind;
		char **headers = NULL;
		double delay;

		error = kiln_retry_before_send(&aws->retry);
		if (error < 0)
			goto done;
		error = sign_headers(&headers, aws, c, host, path, &sig);
		kiln_sigv4_signed_release(&sig);
		if (error < 0) {
			free_headers(headers);
			goto done;
		}
		kind = send_once(&error, &resp, aws, c, headers);
		free_headers(headers);
		kiln_retry_after_reply(&aws->retry, kind, attempt);
		kiln_log_trace(
		    "aws", "%s %s attempt %d/%d: %s%s%s", services[c->svc].signing, c->op, attempt,
		    aws->retry.max_attempts, error == 0 ? "ok" : kiln_error_last(),
		    last_error.request_id[0] ? " request id " : "", last_error.request_id);
		if (error < 0 && resp.status != 0 && !skew_fixed && fix_clock_skew(aws, &resp)) {
			/* Once per call, at once: the next signature carries the right time. */
			skew_fixed = skew_retry = 1;
			delay = 0;
		}
		if (error == 0 ||
		    (!skew_retry && !kiln_retry_next(&delay, &aws->retry, kind, attempt)))
			break;
		kiln_log_debug("%s %s: %s; retrying in %.2f s (attempt %d of %d)",
		               services[c->svc].signing, c->op, kiln_error_last(), delay,
		               attempt + 1, aws->retry.max_attempts);
		error = kiln_sleep(delay, NULL);
		if (error < 0)
			goto done;
	}
	if (error < 0) {
		if (attempt > 1)
			kiln_error_prefix(error, "%s %s (after %d attempts)",
			                  services[c->svc].signing, c->op, attempt);
		else
			kiln_error_prefix(error, "%s %s", services[c->svc].signing, c->op);
		goto done;
	}
	kiln_log_debug("%s %s: %ld in %.3f s", services[c->svc].signing, c->op, resp.status,
	               kiln_time_mono() - t0);
	/* Hand over the reply without copying it. */
	kiln_buf_release(out);
	*out = resp.body;
	kiln_buf_init(&resp.body, 0);
done:
	kiln_http_response_release(&resp);
	free(host);
	free(path);
	return error;
}

int kiln_aws_query(struct kiln_xml **out, struct kiln_aws *aws, enum kiln_aws_service svc,
                   const char *action, struct kiln_query *params)
{
	struct kiln_query head = KILN_QUERY_INIT;
	struct kiln_buf body = KILN_BUF_INIT, reply = KILN_BUF_INIT;
	struct call c = {0};
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && action != NULL);
	KILN_ASSERT_ARG(svc >= 0 && svc < KILN_AWS_NSERVICES && services[svc].version != NULL);
	*out = NULL;
	if (aws->hook != NULL) {
		struct kiln_query empty = KILN_QUERY_INIT;
		aws->hook(aws->hook_arg, svc, action, params != NULL ? params : &empty);
	}
	/* Action and Version go first, as the SDKs send them. */
	kiln_query_add(&head, "Action", action);
	kiln_query_add(&head, "Version", services[svc].version);
	error = kiln_query_encode(&body, &head);
	if (error == 0 && params != NULL && params->count > 0) {
		error = kiln_buf_putc(&body, '&');
		if (error == 0)
			error = kiln_query_encode(&body, params);
	}
	if (error < 0)
		goto done;
	c.svc = svc;
	c.op = action;
	c.content_type = "application/x-www-form-urlencoded; charset=utf-8";
	c.body = body.ptr;
	c.body_len = body.size;
	error = aws_call(&reply, aws, &c);
	if (error < 0)
		goto done;
	error = kiln_xml_parse(out, reply.ptr, reply.size);
	if (error < 0)
		kiln_error_prefix(error, "%s %s reply", services[svc].signing, action);
done:
	/* Query bodies can carry tokens (AssumeRoleWithWebIdentity) and replies keys. */
	kiln_buf_wipe(&body);
	kiln_buf_wipe(&reply);
	kiln_query_release(&head);
	return error;
}

int kiln_aws_json(json_t **out, struct kiln_aws *aws, enum kiln_aws_service svc,
                  const char *operation, json_t *body)
{
	struct kiln_buf req = KILN_BUF_INIT, reply = KILN_BUF_INIT;
	struct call c = {0};
	char *target = NULL;
	json_error_t jerr;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && operation != NULL);
	KILN_ASSERT_ARG(svc >= 0 && svc < KILN_AWS_NSERVICES && services[svc].target != NULL);
	*out = NULL;
	if (body != NULL)
		error = kiln_json_dump(&req, body, 0);
	else
		error = kiln_buf_puts(&req, "{}");
	if (error < 0)
		goto done;
	target = kiln_xasprintf("%s.%s", services[svc].target, operation);
	c.svc = svc;
	c.op = operation;
	c.content_type = "application/x-amz-json-1.1";
	c.target = target;
	c.body = req.ptr;
	c.body_len = req.size;
	error = aws_call(&reply, aws, &c);
	if (error < 0)
		goto done;
	*out = json_loadb(reply.size > 0 ? reply.ptr : "{}", reply.size > 0 ? reply.size : 2, 0,
	                  &jerr);
	if (*out == NULL)
		error = kiln_error_set(KILN_ERROR, "%s %s reply is not JSON: %s",
		                       services[svc].signing, operation, jerr.text);
done:
	kiln_buf_wipe(&req);
	kiln_buf_wipe(&reply);
	free(target);
	return error;
}
