#include "aws/metadata.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <string.h>
#include <strings.h>

#include "aws/http.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"

#define MAX_META_SIZE ((size_t)64 << 10)

const char *kiln_creds_container_host = "http://169.254.170.2";

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* Parse the JSON credential documents of IMDS, containers and credential_process. */
int kiln_creds_parse_json(struct kiln_creds *out, const char *body, size_t len,
                          const char *token_key, const char *what)
{
	json_error_t jerr;
	json_t *j = json_loadb(body, len, 0, &jerr);
	const char *akid, *secret, *token, *exp;
	int error = 0;

	if (j == NULL || !json_is_object(j)) {
		error = kiln_error_set(KILN_ERROR, "%s: credentials are not a JSON object", what);
		goto done;
	}
	akid = kiln_json_str(j, "AccessKeyId");
	secret = kiln_json_str(j, "SecretAccessKey");
	token = kiln_json_str(j, token_key);
	exp = kiln_json_str(j, "Expiration");
	if (akid == NULL || secret == NULL || *akid == '\0' || *secret == '\0') {
		error = kiln_error_set(KILN_ERROR, "%s: no AccessKeyId or SecretAccessKey", what);
		goto done;
	}
	kiln_creds_release(out);
	out->access_key_id = kiln_xstrdup(akid);
	out->secret_access_key = kiln_xstrdup(secret);
	out->session_token = token != NULL && *token != '\0' ? kiln_xstrdup(token) : NULL;
	if (exp != NULL && kiln_time_parse_iso8601(&out->expiration, exp) < 0) {
		error = kiln_error_set(KILN_ERROR, "%s: bad Expiration '%s'", what, exp);
		kiln_creds_release(out);
		goto done;
	}
	kiln_creds_hide(out);
done:
	if (j != NULL) {
		/* Wipe the secret strings jansson holds before they are freed. */
		const char *keys[] = {"SecretAccessKey", "Token", "SessionToken"};
		size_t i;
		for (i = 0; i < KILN_ARRAY_SIZE(keys); i++) {
			json_t *v = json_object_get(j, keys[i]);
			if (json_is_string(v))
				explicit_bzero((char *)json_string_value(v), json_string_length(v));
		}
		json_decref(j);
	}
	return error;
}

/* One GET or PUT to a metadata service; `status` is the HTTP status. */
static int meta_request(struct kiln_buf *out, long *status, struct kiln_http *h, const char *method,
                        const char *url, const char *const *headers)
{
	struct kiln_http_response r = KILN_HTTP_RESPONSE_INIT;
	struct kiln_http_request req = {method, url, headers, NULL, 0};
	int error;

	error = kiln_http_send(&r, h, &req);
	*status = r.status;
	if (error == 0) {
		kiln_buf_wipe(out);
		kiln_buf_init(out, MAX_META_SIZE);
		error = kiln_buf_put(out, r.body.ptr, r.body.size);
	}
	kiln_buf_wipe(&r.body);
	return error;
}

static double env_double(const char *name, double def)
{
	const char *v = env_nonempty(name);
	char *end;
	double d;

	if (v == NULL)
		return def;
	d = strtod(v, &end);
	return *end == '\0' && d > 0 ? d : def;
}

static char *strip_slash(const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		n--;
	return kiln_xstrndup(s, n);
}

int kiln_creds_from_imds(struct kiln_creds *out)
{
	struct kiln_http_opts o = {0};
	struct kiln_http *h = NULL;
	struct kiln_buf token, body;
	const char *ep = env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	char *base = NULL, *url = NULL, *hdr = NULL, *role = NULL;
	const char *put_headers[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
	const char *get_headers[] = {NULL, NULL};
	int attempts = (int)env_double("AWS_METADATA_SERVICE_NUM_ATTEMPTS", 1), i, error = 0;
	long status = 0;

	kiln_buf_init(&token, MAX_META_SIZE);
	kiln_buf_init(&body, MAX_META_SIZE);
	if (ep != NULL)
		base = strip_slash(ep);
	else if (mode != NULL && strcasecmp(mode, "IPv6") == 0)
		base = kiln_xstrdup("http://[fd00:ec2::254]");
	else
		base = kiln_xstrdup("http://169.254.169.254");
	o.connect_timeout_ms = o.timeout_ms =
	    (long)(env_double("AWS_METADATA_SERVICE_TIMEOUT", 1) * 1000);
	o.max_body = MAX_META_SIZE;
	o.no_proxy = 1;
	error = kiln_http_new(&h, &o);
	if (error < 0)
		goto done;
	url = kiln_xasprintf("%s/latest/api/token", base);
	for (i = 0; i < attempts; i++) {
		error = meta_request(&token, &status, h, "PUT", url, put_headers);
		if (error == 0 && status < 500)
			break;
	}
	if (error == 0 && status != 200)
		error = kiln_error_set(KILN_ERROR, "http %ld for an IMDSv2 token", status);
	if (error < 0)
		goto done;
	kiln_buf_rtrim(&token);
	kiln_log_add_secret(token.ptr);
	hdr = kiln_xasprintf("X-aws-ec2-metadata-token: %s", token.ptr);
	get_headers[0] = hdr;
	free(url);
	url = kiln_xasprintf("%s/latest/meta-data/iam/security-credentials/", base);
	error = meta_request(&body, &status, h, "GET", url, get_headers);
	if (error == 0 && status != 200)
		error = kiln_error_set(KILN_ERROR, "http %ld for the instance's role", status);
	if (error < 0)
		goto done;
	role = kiln_xstrndup(body.ptr, strcspn(body.ptr, "\r\n"));
	if (*role == '\0' || strchr(role, '/') != NULL) {
		error = kiln_error_set(KILN_ERROR, "the instance has no usable IAM role");
		goto done;
	}
	free(url);
	url = kiln_xasprintf("%s/latest/meta-data/iam/security-credentials/%s", base, role);
	error = meta_request(&body, &status, h, "GET", url, get_headers);
	if (error == 0 && status != 200)
		error = kiln_error_set(KILN_ERROR, "http %ld for role '%s'", status, role);
	if (error == 0)
		error =
		    kiln_creds_parse_json(out, body.ptr, body.size, "Token", "instance metadata");
done:
	if (error < 0)
		kiln_error_prefix(error, "instance metadata at '%s'", base);
	kiln_http_free(h);
	kiln_free_secret(hdr);
	kiln_buf_wipe(&token);
	kiln_buf_wipe(&body);
	free(base);
	free(url);
	free(role);
	return error;
}

/*
 * The SDKs accept plain http only to the container agent or a loopback
 * address; the host is compared as parsed, so "127.evil.example" is no
 * loopback.
 */
int kiln_creds_container_url_allowed(const char *url)
{
	static const char *const agents[] = {"169.254.170.2", "169.254.170.23", "[fd00:ec2::23]",
	                                     "localhost", "[::1]"};
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	struct in_addr a4;
	size_t i;
	int ok = 0;

	if (u == NULL)
		kiln_die("out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto done;
	if (strcasecmp(scheme, "https") == 0) {
		ok = 1;
		goto done;
	}
	if (strcasecmp(scheme, "http") != 0)
		goto done;
	for (i = 0; i < KILN_ARRAY_SIZE(agents); i++)
		if (strcasecmp(host, agents[i]) == 0)
			ok = 1;
	if (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127)
		ok = 1;
done:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

int kiln_creds_from_container(struct kiln_creds *out)
{
	struct kiln_http_opts o = {0};
	struct kiln_http *h = NULL;
	struct kiln_buf body, auth;
	const char *rel = env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tok_file = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tok = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	const char *headers[] = {NULL, NULL};
	char *url = NULL, *hdr = NULL;
	long status = 0;
	int i, error = 0;

	kiln_buf_init(&body, MAX_META_SIZE);
	kiln_buf_init(&auth, MAX_META_SIZE);
	if (rel != NULL) {
		url = kiln_xasprintf("%s%s%s", kiln_creds_container_host, rel[0] == '/' ? "" : "/",
		                     rel);
	} else if (full != NULL) {
		url = kiln_xstrdup(full);
		if (!kiln_creds_container_url_allowed(url)) {
			error =
			    kiln_error_set(KILN_EINVAL,
			                   "AWS_CONTAINER_CREDENTIALS_FULL_URI '%s' must be https "
			                   "or a loopback or container-agent address",
			                   url);
			goto done;
		}
	} else {
		error = kiln_error_set(KILN_EINVAL, "container credentials are not configured");
		goto done;
	}
	if (tok_file != NULL) {
		error = kiln_file_read(&auth, tok_file);
		if (error < 0) {
			kiln_error_prefix(error, "container authorization token file");
			goto done;
		}
		kiln_buf_rtrim(&auth);
	} else if (tok != NULL) {
		kiln_buf_puts(&auth, tok);
	}
	if (auth.size > 0) {
		if (strpbrk(auth.ptr, "\r\n") != NULL) {
			error = kiln_error_set(KILN_EINVAL,
			                       "container authorization token has a line break");
			goto done;
		}
		kiln_log_add_secret(auth.ptr);
		hdr = kiln_xasprintf("Authorization: %s", auth.ptr);
		headers[0] = hdr;
	}
	o.connect_timeout_ms = o.timeout_ms = 2000;
	o.max_body = MAX_META_SIZE;
	o.no_proxy = 1;
	error = kiln_http_new(&h, &o);
	if (error < 0)
		goto done;
	/* As botocore: a few quick tries, the agent may be starting. */
	for (i = 0; i < 3; i++) {
		error = meta_request(&body, &status, h, "GET", url, headers);
		if (error == 0 && status < 500)
			break;
		if (i < 2)
			kiln_sleep(0.1 * (i + 1), NULL);
	}
	if (error == 0 && status != 200)
		error = kiln_error_set(KILN_ERROR, "http %ld", status);
	if (error == 0)
		error = kiln_creds_parse_json(out, body.ptr, body.size, "Token",
		                              "container credentials");
done:
	if (error < 0 && url != NULL)
		kiln_error_prefix(error, "container credentials from '%s'", url);
	kiln_http_free(h);
	kiln_free_secret(hdr);
	kiln_buf_wipe(&body);
	kiln_buf_wipe(&auth);
	free(url);
	return error;
}
