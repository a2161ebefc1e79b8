/*
 * AWS Signature Version 4, the server's side: an Authorization header
 * checked against the signature the caller's secret gives for the same
 * canonical request (aws/sigv4.c builds it). Every failure names the AWS
 * error code a client expects (IncompleteSignature, SignatureDoesNotMatch,
 * RequestExpired, AuthFailure); nothing about the secret or the expected
 * signature reaches a message.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "aws/sigv4-int.h"
#include "aws/sigv4.h"
#include "core/log.h"
#include "core/util.h"

static int fail(struct kiln_sigv4_identity *out, const char *code, const char *msg)
{
	snprintf(out->error_code, sizeof(out->error_code), "%s", code);
	return kiln_error_set(KILN_EAUTH, "%s: %s", code, msg);
}

/* Copy `len` bytes into a fixed field; 0 when it fits. */
static int copy_field(char *dst, size_t dst_size, const char *s, size_t len)
{
	if (len == 0 || len >= dst_size)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* Parse "timestamp" as YYYYMMDDTHHMMSSZ into seconds since the epoch. */
static int parse_amz_date(time_t *out, const char *s)
{
	struct tm tm;
	size_t i;

	if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
		return -1;
	for (i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)s[i]))
			return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year =
	    (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') - 1900;
	tm.tm_mon = (s[4] - '0') * 10 + (s[5] - '0') - 1;
	tm.tm_mday = (s[6] - '0') * 10 + (s[7] - '0');
	tm.tm_hour = (s[9] - '0') * 10 + (s[10] - '0');
	tm.tm_min = (s[11] - '0') * 10 + (s[12] - '0');
	tm.tm_sec = (s[13] - '0') * 10 + (s[14] - '0');
	if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	*out = timegm(&tm);
	return 0;
}

/*
 * A signed X-Amz-Content-SHA256 replaces the body in the signature, so the
 * body must match it; "UNSIGNED-PAYLOAD" (and the streaming forms) leave the
 * body unchecked, as AWS does.
 */
static int check_payload_header(struct kiln_sigv4_identity *out,
                                const struct kiln_sigv4_request *req)
{
	char *v = kiln_sigv4__header_value(req->headers, "x-amz-content-sha256");
	char actual[65];
	size_t i;
	int error = 0, is_hash = v && strlen(v) == 64;

	for (i = 0; is_hash && i < 64; i++)
		if (!isxdigit((unsigned char)v[i]))
			is_hash = 0;
	if (is_hash) {
		if (req->payload_hash)
			snprintf(actual, sizeof(actual), "%s", req->payload_hash);
		else
			kiln_sha256_hex(actual, req->body ? req->body : "",
			                req->body ? req->body_len : 0);
		if (strcasecmp(actual, v) != 0)
			error = fail(out, "SignatureDoesNotMatch",
			             "the body does not match the signed X-Amz-Content-SHA256");
	}
	free(v);
	return error;
}

/* The three parts of an Authorization header; owned. */
struct auth_parts {
	char *cred, *signed_headers, *signature;
};

static void auth_parts_release(struct auth_parts *a)
{
	free(a->cred);
	free(a->signed_headers);
	free(a->signature);
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." in any order. */
static int parse_authorization(struct kiln_sigv4_identity *out, const char *auth,
                               struct auth_parts *a)
{
	const char *p;

	if (strncmp(auth, KILN_SIGV4_ALGORITHM " ", strlen(KILN_SIGV4_ALGORITHM) + 1) != 0)
		return fail(out, "IncompleteSignature", "unsupported signing algorithm");
	p = auth + strlen(KILN_SIGV4_ALGORITHM) + 1;
	while (*p) {
		const char *end, *eq;
		size_t len;

		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		len = (size_t)(end - p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		eq = memchr(p, '=', len);
		if (!eq)
			return fail(out, "IncompleteSignature", "malformed Authorization header");
		if ((size_t)(eq - p) == 10 && strncmp(p, "Credential", 10) == 0 && !a->cred)
			a->cred = kiln_xstrndup(eq + 1, len - 11);
		else if ((size_t)(eq - p) == 13 && strncmp(p, "SignedHeaders", 13) == 0 &&
		         !a->signed_headers)
			a->signed_headers = kiln_xstrndup(eq + 1, len - 14);
		else if ((size_t)(eq - p) == 9 && strncmp(p, "Signature", 9) == 0 && !a->signature)
			a->signature = kiln_xstrndup(eq + 1, len - 10);
		p = end;
	}
	if (!a->cred || !a->signed_headers || !a->signature || !*a->signed_headers)
		return fail(
		    out, "IncompleteSignature",
		    "the Authorization header lacks Credential, SignedHeaders or Signature");
	if (!kiln_sigv4__list_has(a->signed_headers, "host"))
		return fail(out, "IncompleteSignature", "the Host header must be signed");
	return 0;
}

/* AKID/YYYYMMDD/region/service/aws4_request; the key id has no '/'. */
static int parse_scope(struct kiln_sigv4_identity *out, const char *cred, char date8[9])
{
	const char *f[5], *p = cred;
	size_t flen[5];

	for (int k = 0; k < 5; k++) {
		const char *slash = strchr(p, '/');

		f[k] = p;
		flen[k] = slash ? (size_t)(slash - p) : strlen(p);
		if ((k < 4 && !slash) || (k == 4 && slash))
			return fail(out, "IncompleteSignature", "malformed credential scope");
		p = slash ? slash + 1 : p + flen[k];
	}
	if (copy_field(out->access_key_id, sizeof(out->access_key_id), f[0], flen[0]) < 0 ||
	    copy_field(date8, 9, f[1], flen[1]) < 0 || flen[1] != 8 ||
	    copy_field(out->region, sizeof(out->region), f[2], flen[2]) < 0 ||
	    copy_field(out->service, sizeof(out->service), f[3], flen[3]) < 0 || flen[4] != 12 ||
	    strncmp(f[4], "aws4_request", 12) != 0)
		return fail(out, "IncompleteSignature", "malformed credential scope");
	return 0;
}

/* X-Amz-Date, well formed and within `max_skew` of `now`; *amz_date owned. */
static int check_date(struct kiln_sigv4_identity *out, const struct kiln_sigv4_request *req,
                      time_t now, int max_skew, char **amz_date)
{
	time_t when;

	*amz_date = kiln_sigv4__header_value(req->headers, "x-amz-date");
	if (!*amz_date || parse_amz_date(&when, *amz_date) < 0)
		return fail(out, "IncompleteSignature",
		            "the request needs a valid 'X-Amz-Date' header (YYYYMMDDTHHMMSSZ)");
	if ((when > now && when - now > max_skew) || (now > when && now - when > max_skew))
		return fail(out, "RequestExpired", "the request is outside the allowed clock skew");
	return 0;
}

/* The signature the secret gives for this request, compared in constant time. */
static int check_signature(struct kiln_sigv4_identity *out, const struct kiln_sigv4_request *req,
                           const struct auth_parts *a, const char *secret, const char *date8,
                           const char *amz_date)
{
	struct kiln_buf canon = KILN_BUF_INIT, sts = KILN_BUF_INIT;
	char expected[65] = "";
	int error = kiln_sigv4_canonical_request(&canon, req, a->signed_headers);

	if (error == KILN_EINVAL) {
		/* the slot holds why; fail() formats into that same slot, so copy it first */
		char *why = kiln_xstrdup(kiln_error_last());
		error = fail(out, "SignatureDoesNotMatch", why);
		free(why);
		goto done;
	}
	if (error == 0)
		error = kiln_sigv4__string_to_sign(&sts, amz_date, date8, out->region, out->service,
		                                   canon.ptr);
	if (error == 0)
		error = kiln_sigv4__signature_hex(expected, secret, date8, out->region,
		                                  out->service, sts.ptr);
	if (error < 0)
		goto done;
	if (strlen(a->signature) != 64 || CRYPTO_memcmp(a->signature, expected, 64) != 0 ||
	    strncmp(date8, amz_date, 8) != 0) {
		kiln_log_trace("sigv4", "signature mismatch; canonical request:\n%s", canon.ptr);
		error = fail(out, "SignatureDoesNotMatch",
		             "the request signature does not match the one calculated");
		goto done;
	}
	if (kiln_sigv4__list_has(a->signed_headers, "x-amz-content-sha256"))
		error = check_payload_header(out, req);
done:
	OPENSSL_cleanse(expected, sizeof(expected));
	kiln_buf_release(&canon);
	kiln_buf_release(&sts);
	return error;
}

int kiln_sigv4_verify(struct kiln_sigv4_identity *out, const struct kiln_sigv4_request *req,
                      kiln_sigv4_lookup_fn lookup, void *arg, time_t now, int max_skew)
{
	struct auth_parts a = {NULL, NULL, NULL};
	char *auth = NULL, *amz_date = NULL, date8[9];
	const char *secret;
	int error;

	KILN_ASSERT_ARG(out && req && lookup);
	memset(out, 0, sizeof(*out));
	auth = kiln_sigv4__header_value(req->headers, "authorization");
	if (!auth) {
		error = fail(out, "IncompleteSignature", "the request has no Authorization header");
		goto done;
	}
	error = parse_authorization(out, auth, &a);
	if (error == 0)
		error = parse_scope(out, a.cred, date8);
	if (error == 0)
		error = check_date(out, req, now, max_skew, &amz_date);
	if (error < 0)
		goto done;
	secret = lookup(arg, out->access_key_id);
	if (!secret) {
		error = fail(out, "AuthFailure", "the access key id is not known");
		goto done;
	}
	error = check_signature(out, req, &a, secret, date8, amz_date);
done:
	free(auth);
	free(amz_date);
	auth_parts_release(&a);
	return error;
}
