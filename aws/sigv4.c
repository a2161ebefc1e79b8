/*
 * AWS Signature Version 4, header-based. The canonical request is built the
 * way botocore's SigV4Auth builds it for non-S3 services, because botocore is
 * the reference the tests compare against byte for byte:
 *
 *   - the path has its dot segments and empty segments removed and is then
 *     percent-encoded again (so "%20" on the wire becomes "%2520"), keeping
 *     '/' and the RFC 3986 unreserved set;
 *   - query pairs are decoded, re-encoded over the unreserved set and sorted
 *     by key then value, repeated keys and empty values kept;
 *   - header names are lower-cased and sorted, repeated headers joined with
 *     ',', values trimmed with inner whitespace runs folded to one space;
 *   - hop-by-hop headers and User-Agent, Expect, X-Amzn-Trace-Id are not
 *     signed (botocore's SIGNED_HEADERS_BLACKLIST);
 *   - an X-Amz-Content-SHA256 header, when present, is the payload hash.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "aws/sigv4-int.h"
#include "aws/sigv4.h"
#include "core/log.h"
#include "core/util.h"

/* botocore's SIGNED_HEADERS_BLACKLIST. */
static const char *const unsigned_headers[] = {
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
};

/* One header split out of a "Name: value" line. */
struct header {
	char *name; /* lower-cased */
	const char *value;
	size_t value_len;
};

static int is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

int kiln_uri_encode(struct kiln_buf *out, const char *s, size_t len, int encode_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	int error = 0;

	KILN_ASSERT_ARG(out && (s || len == 0));
	for (i = 0; i < len && error == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[3];

		if (is_unreserved(c) || (c == '/' && !encode_slash)) {
			error = kiln_buf_putc(out, (char)c);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		error = kiln_buf_put(out, esc, 3);
	}
	return error;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int kiln_uri_decode(struct kiln_buf *out, const char *s, size_t len)
{
	size_t i;
	int error = 0;

	KILN_ASSERT_ARG(out && (s || len == 0));
	for (i = 0; i < len && error == 0; i++) {
		int hi, lo;

		if (s[i] != '%') {
			error = kiln_buf_putc(out, s[i]);
			continue;
		}
		hi = i + 1 < len ? hexval(s[i + 1]) : -1;
		lo = i + 2 < len ? hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0)
			return kiln_error_set(KILN_EINVAL, "malformed percent-escape at offset %zu",
			                      i);
		error = kiln_buf_putc(out, (char)(hi << 4 | lo));
		i += 2;
	}
	return error;
}

/* Python's str.split() whitespace, restricted to ASCII (what botocore folds). */
static int is_fold_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static void header_list_free(struct header *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(h[i].name);
	free(h);
}

/* Split "Name: value" lines; names lower-cased. */
static int header_list_parse(struct header **out, size_t *out_n, const char *const *lines)
{
	struct header *h = NULL;
	size_t n = 0, count = 0, i;
	int error = 0;

	for (i = 0; lines && lines[i]; i++)
		count++;
	h = kiln_xcalloc(count + 1, sizeof(*h));
	for (i = 0; i < count; i++) {
		const char *colon = strchr(lines[i], ':');
		const char *name_end;
		size_t j;

		if (!colon || colon == lines[i]) {
			error = kiln_error_set(KILN_EINVAL, "malformed header line (no name)");
			goto done;
		}
		name_end = colon;
		while (name_end > lines[i] && is_fold_space((unsigned char)name_end[-1]))
			name_end--;
		h[n].name = kiln_xstrndup(lines[i], (size_t)(name_end - lines[i]));
		for (j = 0; h[n].name[j]; j++)
			h[n].name[j] = (char)tolower((unsigned char)h[n].name[j]);
		h[n].value = colon + 1;
		h[n].value_len = strlen(colon + 1);
		n++;
	}
done:
	if (error < 0) {
		header_list_free(h, n);
		return error;
	}
	*out = h;
	*out_n = n;
	return 0;
}

static const struct header *header_find(const struct header *h, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(h[i].name, name) == 0)
			return &h[i];
	return NULL;
}

/*
 * The length of the whitespace character at v[0..len), 0 if none. botocore
 * folds with Python's str.split(), which also splits on Unicode spaces, so
 * their UTF-8 forms count too: U+0085, U+00A0, U+1680, U+2000..U+200A,
 * U+2028, U+2029, U+202F, U+205F, U+3000.
 */
static size_t space_len(const unsigned char *v, size_t len)
{
	if (len >= 1 && is_fold_space(v[0]))
		return 1;
	if (len >= 2 && v[0] == 0xc2 && (v[1] == 0x85 || v[1] == 0xa0))
		return 2;
	if (len < 3)
		return 0;
	if (v[0] == 0xe1 && v[1] == 0x9a && v[2] == 0x80)
		return 3;
	if (v[0] == 0xe2 && v[1] == 0x80 &&
	    (v[2] <= 0x8a || v[2] == 0xa8 || v[2] == 0xa9 || v[2] == 0xaf) && v[2] >= 0x80)
		return 3;
	if (v[0] == 0xe2 && v[1] == 0x81 && v[2] == 0x9f)
		return 3;
	if (v[0] == 0xe3 && v[1] == 0x80 && v[2] == 0x80)
		return 3;
	return 0;
}

/* Append `v` trimmed, with each inner run of whitespace folded to one space. */
static int put_folded(struct kiln_buf *out, const char *v, size_t len)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t i = 0, n;
	int first = 1, error = 0;

	while (i < len && error == 0) {
		size_t start;

		while (i < len && (n = space_len(u + i, len - i)) > 0)
			i += n;
		if (i == len)
			break;
		start = i;
		while (i < len && space_len(u + i, len - i) == 0)
			i++;
		if (!first)
			error = kiln_buf_putc(out, ' ');
		if (error == 0)
			error = kiln_buf_put(out, v + start, i - start);
		first = 0;
	}
	return error;
}

/* botocore's remove_dot_segments(), consecutive slashes dropped too. */
static int normalize_path(struct kiln_buf *out, const char *path)
{
	size_t len = path ? strlen(path) : 0;
	size_t *marks = NULL, nmarks = 0;
	const char *p, *end;
	int error = 0;

	if (len == 0)
		return kiln_buf_putc(out, '/');
	marks = kiln_xcalloc(len + 1, sizeof(*marks));
	if (path[0] == '/')
		error = kiln_buf_putc(out, '/');
	p = path;
	end = path + len;
	while (p < end && error == 0) {
		const char *seg_end = memchr(p, '/', (size_t)(end - p));
		size_t seg_len;

		if (!seg_end)
			seg_end = end;
		seg_len = (size_t)(seg_end - p);
		if (seg_len == 0 || (seg_len == 1 && p[0] == '.')) {
			/* skipped */
		} else if (seg_len == 2 && p[0] == '.' && p[1] == '.') {
			if (nmarks > 0)
				kiln_buf_truncate(out, marks[--nmarks]);
		} else {
			marks[nmarks++] = out->size;
			if (out->size > 0 && out->ptr[out->size - 1] != '/')
				error = kiln_buf_putc(out, '/');
			if (error == 0)
				error = kiln_buf_put(out, p, seg_len);
		}
		p = seg_end + 1;
	}
	if (error == 0 && path[len - 1] == '/' && nmarks > 0)
		error = kiln_buf_putc(out, '/');
	free(marks);
	return error;
}

struct qpair {
	char *key;
	char *value;
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->value, y->value);
}

/* Decode, re-encode over the unreserved set, sort by key then value. */
static int canonical_query(struct kiln_buf *out, const char *query)
{
	struct qpair *pairs = NULL;
	struct kiln_buf raw = KILN_BUF_INIT, enc = KILN_BUF_INIT;
	size_t n = 0, alloc = 0, i;
	const char *p, *end;
	int error = 0;

	if (!query || !*query)
		return 0;
	p = query;
	end = query + strlen(query);
	while (p <= end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *eq;
		size_t pair_len;

		if (!amp)
			amp = end;
		pair_len = (size_t)(amp - p);
		if (pair_len > 0) {
			if (n == alloc) {
				alloc = alloc ? alloc * 2 : 16;
				pairs = kiln_xrealloc(pairs, alloc * sizeof(*pairs));
			}
			eq = memchr(p, '=', pair_len);
			kiln_buf_clear(&raw);
			kiln_buf_clear(&enc);
			error = kiln_uri_decode(&raw, p, eq ? (size_t)(eq - p) : pair_len);
			if (error == 0)
				error = kiln_uri_encode(&enc, raw.ptr, raw.size, 1);
			if (error < 0)
				goto done;
			pairs[n].key = kiln_xstrdup(enc.ptr);
			pairs[n].value = NULL;
			n++;
			kiln_buf_clear(&raw);
			kiln_buf_clear(&enc);
			if (eq) {
				error = kiln_uri_decode(&raw, eq + 1, (size_t)(amp - eq - 1));
				if (error == 0)
					error = kiln_uri_encode(&enc, raw.ptr, raw.size, 1);
				if (error < 0)
					goto done;
			}
			pairs[n - 1].value = kiln_xstrdup(enc.ptr);
		}
		p = amp + 1;
	}
	qsort(pairs, n, sizeof(*pairs), qpair_cmp);
	for (i = 0; i < n && error == 0; i++)
		error = kiln_buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].key, pairs[i].value);
done:
	if (error < 0)
		kiln_error_prefix(error, "invalid query string");
	for (i = 0; i < n; i++) {
		free(pairs[i].key);
		free(pairs[i].value);
	}
	free(pairs);
	kiln_buf_release(&raw);
	kiln_buf_release(&enc);
	return error;
}

/* Whether the ';'-separated `list` holds `name`. */
int kiln_sigv4__list_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (p && *p) {
		const char *semi = strchr(p, ';');
		size_t len = semi ? (size_t)(semi - p) : strlen(p);

		if (len == n && memcmp(p, name, n) == 0)
			return 1;
		p = semi ? semi + 1 : NULL;
	}
	return 0;
}

int kiln_sigv4_canonical_request(struct kiln_buf *out, const struct kiln_sigv4_request *req,
                                 const char *signed_headers)
{
	struct kiln_buf path = KILN_BUF_INIT;
	struct header *h = NULL;
	size_t nh = 0, i;
	const char *p;
	const struct header *sha;
	char hash[65];
	int error;

	KILN_ASSERT_ARG(out && req && req->method && signed_headers);
	error = kiln_buf_printf(out, "%s\n", req->method);
	if (error == 0)
		error = normalize_path(&path, req->path);
	if (error == 0)
		error = kiln_uri_encode(out, path.ptr, path.size, 0);
	if (error == 0)
		error = kiln_buf_putc(out, '\n');
	if (error == 0)
		error = canonical_query(out, req->query);
	if (error == 0)
		error = kiln_buf_putc(out, '\n');
	if (error == 0)
		error = header_list_parse(&h, &nh, req->headers);
	if (error < 0)
		goto done;

	/* One line per signed header, in the order given (already sorted). */
	p = signed_headers;
	while (*p) {
		const char *semi = strchr(p, ';');
		size_t name_len = semi ? (size_t)(semi - p) : strlen(p);
		int found = 0;

		error = kiln_buf_put(out, p, name_len);
		if (error == 0)
			error = kiln_buf_putc(out, ':');
		for (i = 0; i < nh && error == 0; i++) {
			if (strlen(h[i].name) != name_len || memcmp(h[i].name, p, name_len) != 0)
				continue;
			if (found)
				error = kiln_buf_putc(out, ',');
			if (error == 0)
				error = put_folded(out, h[i].value, h[i].value_len);
			found = 1;
		}
		if (error == 0)
			error = kiln_buf_putc(out, '\n');
		if (error < 0)
			goto done;
		if (!found) {
			error = kiln_error_set(KILN_EINVAL, "signed header '%.*s' is missing",
			                       (int)name_len, p);
			goto done;
		}
		p += name_len;
		if (*p == ';')
			p++;
	}
	error = kiln_buf_printf(out, "\n%s\n", signed_headers);
	if (error < 0)
		goto done;

	/*
	 * The header stands for the payload only when it is signed itself;
	 * otherwise anyone could pair a new body with the old body's hash.
	 */
	sha = header_find(h, nh, "x-amz-content-sha256");
	if (sha && kiln_sigv4__list_has(signed_headers, "x-amz-content-sha256")) {
		struct kiln_buf v = KILN_BUF_INIT;

		error = put_folded(&v, sha->value, sha->value_len);
		if (error == 0)
			error = kiln_buf_puts(out, v.ptr);
		kiln_buf_release(&v);
	} else if (req->payload_hash) {
		error = kiln_buf_puts(out, req->payload_hash);
	} else {
		kiln_sha256_hex(hash, req->body ? req->body : "", req->body ? req->body_len : 0);
		error = kiln_buf_puts(out, hash);
	}
done:
	header_list_free(h, nh);
	kiln_buf_release(&path);
	return error;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted, de-duplicated, lower-cased names botocore signs. */
static int signed_header_names(struct kiln_buf *out, const char *const *lines)
{
	struct header *h = NULL;
	char **names = NULL;
	size_t nh = 0, nn = 0, i, j;
	int error, have_host = 0;

	error = header_list_parse(&h, &nh, lines);
	if (error < 0)
		return error;
	names = kiln_xcalloc(nh + 1, sizeof(*names));
	for (i = 0; i < nh; i++) {
		int skip = 0;

		for (j = 0; j < KILN_ARRAY_SIZE(unsigned_headers); j++)
			if (strcmp(h[i].name, unsigned_headers[j]) == 0)
				skip = 1;
		if (!skip)
			names[nn++] = h[i].name;
		if (strcmp(h[i].name, "host") == 0)
			have_host = 1;
	}
	if (!have_host) {
		error = kiln_error_set(KILN_EINVAL, "request has no 'Host' header");
		goto done;
	}
	qsort(names, nn, sizeof(*names), name_cmp);
	for (i = 0; i < nn && error == 0; i++) {
		if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
			continue;
		if (out->size > 0)
			error = kiln_buf_putc(out, ';');
		if (error == 0)
			error = kiln_buf_puts(out, names[i]);
	}
done:
	free(names);
	header_list_free(h, nh);
	return error;
}

static int hmac_sha256(unsigned char out[32], const void *key, size_t key_len, const void *msg,
                       size_t msg_len)
{
	unsigned int len = 32;

	if (!HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &len))
		return kiln_error_set(KILN_ERROR, "hmac-sha256 failed");
	return 0;
}

/* The signature (hex) of `string_to_sign`; the derived keys are wiped. */
int kiln_sigv4__signature_hex(char out[65], const char *secret, const char *date8,
                              const char *region, const char *service, const char *string_to_sign)
{
	struct kiln_buf k = KILN_BUF_INIT;
	unsigned char k1[32], k2[32];
	int error;

	error = kiln_buf_printf(&k, "AWS4%s", secret);
	if (error == 0)
		error = hmac_sha256(k1, k.ptr, k.size, date8, strlen(date8));
	if (error == 0)
		error = hmac_sha256(k2, k1, 32, region, strlen(region));
	if (error == 0)
		error = hmac_sha256(k1, k2, 32, service, strlen(service));
	if (error == 0)
		error = hmac_sha256(k2, k1, 32, "aws4_request", 12);
	if (error == 0)
		error = hmac_sha256(k1, k2, 32, string_to_sign, strlen(string_to_sign));
	if (error == 0)
		kiln_hex(out, k1, 32);
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	kiln_buf_wipe(&k);
	return error;
}

int kiln_sigv4__string_to_sign(struct kiln_buf *out, const char *amz_date, const char *date8,
                               const char *region, const char *service, const char *canonical)
{
	char hash[65];

	kiln_sha256_hex(hash, canonical, strlen(canonical));
	return kiln_buf_printf(out, KILN_SIGV4_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s",
	                       amz_date, date8, region, service, hash);
}

static int is_header(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(line, name, n) == 0 && (line[n] == ':' || line[n] == ' ');
}

int kiln_sigv4_sign(struct kiln_sigv4_signed *out, const struct kiln_sigv4_request *req,
                    const struct kiln_sigv4_key *key, time_t now)
{
	struct kiln_sigv4_request r;
	const char **lines = NULL;
	struct kiln_buf names = KILN_BUF_INIT, canon = KILN_BUF_INIT, sts = KILN_BUF_INIT;
	char amz_date[17], date8[9], sig[65];
	struct tm tm;
	size_t n = 0, i;
	int error = 0;

	KILN_ASSERT_ARG(out && req && key && key->access_key_id && key->secret_access_key &&
	                key->region && key->service);
	memset(out, 0, sizeof(*out));
	if (!gmtime_r(&now, &tm) ||
	    strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm) != 16)
		return kiln_error_set(KILN_EINVAL, "cannot format the signing time");
	memcpy(date8, amz_date, 8);
	date8[8] = '\0';

	out->amz_date = kiln_xasprintf("X-Amz-Date: %s", amz_date);
	if (key->session_token && *key->session_token)
		out->security_token =
		    kiln_xasprintf("X-Amz-Security-Token: %s", key->session_token);

	/* Like botocore, replace whatever the caller had in these headers. */
	for (i = 0; req->headers && req->headers[i]; i++)
		n++;
	lines = kiln_xcalloc(n + 3, sizeof(*lines));
	n = 0;
	for (i = 0; req->headers && req->headers[i]; i++) {
		const char *l = req->headers[i];

		if (is_header(l, "authorization") || is_header(l, "x-amz-date") ||
		    (out->security_token && is_header(l, "x-amz-security-token")))
			continue;
		lines[n++] = l;
	}
	lines[n++] = out->amz_date;
	if (out->security_token)
		lines[n++] = out->security_token;
	r = *req;
	r.headers = lines;

	error = signed_header_names(&names, lines);
	if (error == 0)
		error = kiln_sigv4_canonical_request(&canon, &r, names.ptr);
	if (error == 0)
		error = kiln_sigv4__string_to_sign(&sts, amz_date, date8, key->region, key->service,
		                                   canon.ptr);
	if (error == 0)
		error = kiln_sigv4__signature_hex(sig, key->secret_access_key, date8, key->region,
		                                  key->service, sts.ptr);
	if (error < 0)
		goto done;
	out->authorization =
	    kiln_xasprintf("Authorization: " KILN_SIGV4_ALGORITHM
	                   " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
	                   "Signature=%s",
	                   key->access_key_id, date8, key->region, key->service, names.ptr, sig);
done:
	if (error < 0) {
		kiln_error_prefix(error, "cannot sign the request");
		kiln_sigv4_signed_release(out);
	}
	free(lines);
	kiln_buf_release(&names);
	kiln_buf_release(&canon);
	kiln_buf_release(&sts);
	return error;
}

void kiln_sigv4_signed_release(struct kiln_sigv4_signed *s)
{
	if (!s)
		return;
	free(s->amz_date);
	kiln_free_secret(s->security_token);
	free(s->authorization);
	memset(s, 0, sizeof(*s));
}

/* The value of the first header `name` (lower-case), trimmed; NULL if absent. */
char *kiln_sigv4__header_value(const char *const *lines, const char *name)
{
	size_t i;

	for (i = 0; lines && lines[i]; i++) {
		const char *v;
		size_t len;

		if (!is_header(lines[i], name))
			continue;
		v = strchr(lines[i], ':');
		if (!v)
			continue;
		v++;
		while (is_fold_space((unsigned char)*v))
			v++;
		len = strlen(v);
		while (len > 0 && is_fold_space((unsigned char)v[len - 1]))
			len--;
		return kiln_xstrndup(v, len);
	}
	return NULL;
}
