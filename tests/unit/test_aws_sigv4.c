#include <check.h>
#include <string.h>

#include "aws/sigv4.h"

#define AKID   "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
/* 2015-08-30T12:36:00Z, the time of the AWS SigV4 test suite. */
#define SUITE_TIME ((time_t)1440938160)

static const struct kiln_sigv4_key suite_key = {AKID, SECRET, NULL, "us-east-1", "service"};

START_TEST(uri_encode_table)
{
	static const struct {
		const char *in;
		int slash;
		const char *out;
	} cases[] = {
	    {"AZaz09-_.~", 1, "AZaz09-_.~"},
	    {"a b", 1, "a%20b"},
	    {"/a/b", 0, "/a/b"},
	    {"/a/b", 1, "%2Fa%2Fb"},
	    {"!*'();:@&=+$,?#[]", 1, "%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%3F%23%5B%5D"},
	    {"%", 1, "%25"},
	    {"\xc3\xa9", 1, "%C3%A9"},
	    {"\xf0\x9f\x98\x80", 0, "%F0%9F%98%80"},
	    {"", 1, ""},
	};
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(cases); i++) {
		struct kiln_buf b = KILN_BUF_INIT;

		ck_assert_int_eq(
		    kiln_uri_encode(&b, cases[i].in, strlen(cases[i].in), cases[i].slash), 0);
		ck_assert_str_eq(b.ptr, cases[i].out);
		kiln_buf_release(&b);
	}
}
END_TEST

START_TEST(uri_decode_table)
{
	struct kiln_buf b = KILN_BUF_INIT;

	ck_assert_int_eq(kiln_uri_decode(&b, "a%20b+c%c3%A9", 13), 0);
	ck_assert_str_eq(b.ptr, "a b+c\xc3\xa9");
	kiln_buf_clear(&b);
	ck_assert_int_eq(kiln_uri_decode(&b, "bad%2", 5), KILN_EINVAL);
	kiln_buf_clear(&b);
	ck_assert_int_eq(kiln_uri_decode(&b, "bad%zz", 6), KILN_EINVAL);
	kiln_buf_release(&b);
}
END_TEST

static void sign_ok(struct kiln_sigv4_signed *s, const char *method, const char *path,
                    const char *query, const char *const *headers, const char *body)
{
	struct kiln_sigv4_request req = {
	    method, path, query, headers, body, body ? strlen(body) : 0, NULL};

	ck_assert_int_eq(kiln_sigv4_sign(s, &req, &suite_key, SUITE_TIME), 0);
}

/* Vectors from the AWS SigV4 test suite (also reproduced by botocore). */
START_TEST(suite_get_vanilla)
{
	const char *headers[] = {"Host:example.amazonaws.com", NULL};
	struct kiln_sigv4_signed s;

	sign_ok(&s, "GET", "/", NULL, headers, NULL);
	ck_assert_str_eq(s.amz_date, "X-Amz-Date: 20150830T123600Z");
	ck_assert_ptr_null(s.security_token);
	ck_assert_str_eq(
	    s.authorization,
	    "Authorization: AWS4-HMAC-SHA256 "
	    "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	    "SignedHeaders=host;x-amz-date, "
	    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	kiln_sigv4_signed_release(&s);
}
END_TEST

START_TEST(suite_get_vanilla_query_order)
{
	const char *headers[] = {"Host:example.amazonaws.com", NULL};
	struct kiln_sigv4_signed s;

	sign_ok(&s, "GET", "/", "Param2=value2&Param1=value1", headers, NULL);
	ck_assert_ptr_nonnull(
	    strstr(s.authorization,
	           "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"));
	kiln_sigv4_signed_release(&s);
}
END_TEST

START_TEST(canonical_request_rules)
{
	const char *headers[] = {"Host: h.example", "X-B:  two   words\t ", "x-a: 1",
	                         "X-A:\tsecond ",   "User-Agent: unsigned", NULL};
	struct kiln_sigv4_request req = {
	    "POST", "/a/./b/../c//d%20e/", "b=2&a=&a=1&c&%7e=x%2B+", headers, "", 0, NULL};
	struct kiln_buf b = KILN_BUF_INIT;

	ck_assert_int_eq(kiln_sigv4_canonical_request(&b, &req, "host;x-a;x-b"), 0);
	ck_assert_str_eq(b.ptr, "POST\n"
	                        "/a/c/d%2520e/\n"
	                        "a=&a=1&b=2&c=&~=x%2B%2B\n"
	                        "host:h.example\n"
	                        "x-a:1,second\n"
	                        "x-b:two words\n"
	                        "\n"
	                        "host;x-a;x-b\n"
	                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	kiln_buf_clear(&b);
	/* A signed header the request lacks cannot be canonicalized. */
	ck_assert_int_eq(kiln_sigv4_canonical_request(&b, &req, "host;x-missing"), KILN_EINVAL);
	kiln_buf_release(&b);
}
END_TEST

static const char *lookup(void *arg, const char *akid)
{
	return strcmp(akid, AKID) == 0 ? SECRET : NULL;
}

START_TEST(sign_then_verify_and_tamper)
{
	const char *base[] = {"Host: ec2.us-east-1.amazonaws.com",
	                      "Content-Type: application/x-www-form-urlencoded", NULL};
	const char *body = "Action=DescribeImages&Version=2016-11-15";
	struct kiln_sigv4_key key = {AKID, SECRET, "TOKEN/x+y=", "us-east-1", "ec2"};
	struct kiln_sigv4_request req = {"POST", "/", NULL, base, body, strlen(body), NULL};
	struct kiln_sigv4_signed s;
	struct kiln_sigv4_identity id;
	const char *headers[6];

	ck_assert_int_eq(kiln_sigv4_sign(&s, &req, &key, SUITE_TIME), 0);
	ck_assert_str_eq(s.security_token, "X-Amz-Security-Token: TOKEN/x+y=");
	ck_assert_ptr_nonnull(strstr(s.authorization, "SignedHeaders=content-type;host;x-amz-date;"
	                                              "x-amz-security-token, "));
	headers[0] = base[0];
	headers[1] = base[1];
	headers[2] = s.amz_date;
	headers[3] = s.security_token;
	headers[4] = s.authorization;
	headers[5] = NULL;
	req.headers = headers;

	ck_assert_int_eq(kiln_sigv4_verify(&id, &req, lookup, NULL, SUITE_TIME + 10, 300), 0);
	ck_assert_str_eq(id.access_key_id, AKID);
	ck_assert_str_eq(id.region, "us-east-1");
	ck_assert_str_eq(id.service, "ec2");

	req.body_len--;
	ck_assert_int_eq(kiln_sigv4_verify(&id, &req, lookup, NULL, SUITE_TIME, 300), KILN_EAUTH);
	ck_assert_str_eq(id.error_code, "SignatureDoesNotMatch");
	req.body_len++;

	ck_assert_int_eq(kiln_sigv4_verify(&id, &req, lookup, NULL, SUITE_TIME + 301, 300),
	                 KILN_EAUTH);
	ck_assert_str_eq(id.error_code, "RequestExpired");

	headers[3] = "X-Amz-Security-Token: other";
	ck_assert_int_eq(kiln_sigv4_verify(&id, &req, lookup, NULL, SUITE_TIME, 300), KILN_EAUTH);
	ck_assert_str_eq(id.error_code, "SignatureDoesNotMatch");
	/* The message names the code and never the secret or the token. */
	ck_assert_ptr_null(strstr(kiln_error_last(), SECRET));
	ck_assert_ptr_null(strstr(kiln_error_last(), "TOKEN"));
	headers[3] = s.security_token;

	headers[4] = "Authorization: AWS4-HMAC-SHA256 Credential=AKIDOTHER/20150830/us-east-1/ec2/"
	             "aws4_request, SignedHeaders=host;x-amz-date, Signature=00";
	ck_assert_int_eq(kiln_sigv4_verify(&id, &req, lookup, NULL, SUITE_TIME, 300), KILN_EAUTH);
	ck_assert_str_eq(id.error_code, "AuthFailure");

	headers[4] = "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1";
	ck_assert_int_eq(kiln_sigv4_verify(&id, &req, lookup, NULL, SUITE_TIME, 300), KILN_EAUTH);
	ck_assert_str_eq(id.error_code, "IncompleteSignature");

	headers[4] =
	    "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/"
	    "aws4_request, SignedHeaders=x-amz-date, Signature=00";
	ck_assert_int_eq(kiln_sigv4_verify(&id, &req, lookup, NULL, SUITE_TIME, 300), KILN_EAUTH);
	ck_assert_str_eq(id.error_code, "IncompleteSignature");

	headers[4] = NULL;
	ck_assert_int_eq(kiln_sigv4_verify(&id, &req, lookup, NULL, SUITE_TIME, 300), KILN_EAUTH);
	ck_assert_str_eq(id.error_code, "IncompleteSignature");
	kiln_sigv4_signed_release(&s);
}
END_TEST

START_TEST(payload_hash_header_only_when_signed)
{
	const char *headers[] = {"Host: h", "X-Amz-Content-SHA256: UNSIGNED-PAYLOAD", NULL};
	struct kiln_sigv4_request req = {"PUT", "/", NULL, headers, "body", 4, NULL};
	struct kiln_buf b = KILN_BUF_INIT;
	struct kiln_sigv4_signed s;
	struct kiln_sigv4_identity id;
	const char *signed_req[6];
	char forged[100];

	ck_assert_int_eq(kiln_sigv4_canonical_request(&b, &req, "host;x-amz-content-sha256"), 0);
	ck_assert_ptr_nonnull(strstr(b.ptr, "\nhost;x-amz-content-sha256\nUNSIGNED-PAYLOAD"));
	kiln_buf_clear(&b);
	/* Not signed: the body's own hash is used (sha256 of "body"). */
	ck_assert_int_eq(kiln_sigv4_canonical_request(&b, &req, "host"), 0);
	ck_assert_ptr_nonnull(strstr(
	    b.ptr, "\nhost\n230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5"));
	kiln_buf_release(&b);

	/* A hash header added after signing cannot vouch for a replaced body. */
	headers[1] = NULL;
	ck_assert_int_eq(kiln_sigv4_sign(&s, &req, &suite_key, SUITE_TIME), 0);
	snprintf(forged, sizeof(forged), "X-Amz-Content-SHA256: %s",
	         "230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5");
	signed_req[0] = "Host: h";
	signed_req[1] = s.amz_date;
	signed_req[2] = s.authorization;
	signed_req[3] = forged;
	signed_req[4] = NULL;
	req.headers = signed_req;
	ck_assert_int_eq(kiln_sigv4_verify(&id, &req, lookup, NULL, SUITE_TIME, 300), 0);
	req.body = "evil";
	ck_assert_int_eq(kiln_sigv4_verify(&id, &req, lookup, NULL, SUITE_TIME, 300), KILN_EAUTH);
	ck_assert_str_eq(id.error_code, "SignatureDoesNotMatch");
	kiln_sigv4_signed_release(&s);
}
END_TEST

START_TEST(sign_replaces_callers_date_and_needs_host)
{
	const char *with_date[] = {"Host: h", "X-Amz-Date: 19990101T000000Z",
	                           "Authorization: stale", NULL};
	const char *no_host[] = {"X-Foo: bar", NULL};
	struct kiln_sigv4_request req = {"GET", "/", NULL, with_date, NULL, 0, NULL};
	struct kiln_sigv4_signed s;

	ck_assert_int_eq(kiln_sigv4_sign(&s, &req, &suite_key, SUITE_TIME), 0);
	ck_assert_str_eq(s.amz_date, "X-Amz-Date: 20150830T123600Z");
	ck_assert_ptr_nonnull(strstr(s.authorization, "SignedHeaders=host;x-amz-date,"));
	kiln_sigv4_signed_release(&s);

	req.headers = no_host;
	ck_assert_int_eq(kiln_sigv4_sign(&s, &req, &suite_key, SUITE_TIME), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "'Host'"));
	ck_assert_ptr_null(s.authorization);
}
END_TEST

/*
 * The AWS SigV4 test suite read the other way round: each vector's request
 * with its published Authorization header verifies, and any one changed
 * byte of the signature does not.
 */
START_TEST(suite_vectors_verify)
{
	static const struct {
		const char *name, *method, *query, *h1, *h2, *body, *signed_headers, *signature;
	} v[] = {
	    {"get-vanilla", "GET", NULL, NULL, NULL, NULL, "host;x-amz-date",
	     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	    {"get-vanilla-query-order-key-case", "GET", "Param2=value2&Param1=value1", NULL, NULL,
	     NULL, "host;x-amz-date",
	     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	    {"post-vanilla", "POST", NULL, NULL, NULL, NULL, "host;x-amz-date",
	     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	    {"post-vanilla-query", "POST", "Param1=value1", NULL, NULL, NULL, "host;x-amz-date",
	     "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
	    {"post-header-key-case", "POST", NULL, "MY-HEADER1:value1", NULL, NULL,
	     "host;my-header1;x-amz-date",
	     "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
	    {"post-header-value-case", "POST", NULL, "My-Header1:VALUE1", NULL, NULL,
	     "host;my-header1;x-amz-date",
	     "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
	    {"get-header-value-trim", "GET", NULL, "My-Header1: value1",
	     "My-Header2: \"a   b   c\"", NULL, "host;my-header1;my-header2;x-amz-date",
	     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
	    {"post-x-www-form-urlencoded", "POST", NULL,
	     "Content-Type:application/x-www-form-urlencoded", NULL, "Param1=value1",
	     "content-type;host;x-amz-date",
	     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
	};
	struct kiln_sigv4_identity id;

	for (size_t i = 0; i < KILN_ARRAY_SIZE(v); i++) {
		char auth[512];
		const char *headers[6] = {"Host:example.amazonaws.com",
		                          "X-Amz-Date:20150830T123600Z",
		                          auth,
		                          NULL,
		                          NULL,
		                          NULL};
		struct kiln_sigv4_request req = {v[i].method, "/",
		                                 v[i].query,  headers,
		                                 v[i].body,   v[i].body ? strlen(v[i].body) : 0,
		                                 NULL};
		headers[3] = v[i].h1;
		headers[4] = v[i].h1 ? v[i].h2 : NULL;
		snprintf(auth, sizeof(auth),
		         "Authorization: AWS4-HMAC-SHA256 "
		         "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		         "SignedHeaders=%s, Signature=%s",
		         v[i].signed_headers, v[i].signature);
		ck_assert_msg(kiln_sigv4_verify(&id, &req, lookup, NULL, SUITE_TIME, 300) == 0,
		              "%s: %s", v[i].name, kiln_error_last());
		ck_assert_str_eq(id.service, "service");
		/* the last hex digit of the signature, changed */
		auth[strlen(auth) - 1] = auth[strlen(auth) - 1] == '0' ? '1' : '0';
		ck_assert_msg(kiln_sigv4_verify(&id, &req, lookup, NULL, SUITE_TIME, 300) ==
		                  KILN_EAUTH,
		              "%s: a changed signature verified", v[i].name);
		ck_assert_str_eq(id.error_code, "SignatureDoesNotMatch");
	}
}
END_TEST

/* Why a request cannot be canonicalized reaches the message intact (it was formatted over itself).
 */
START_TEST(verify_keeps_the_canonical_requests_reason)
{
	const char *headers[] = {"Host:example.amazonaws.com", "X-Amz-Date:20150830T123600Z",
	                         "Authorization: AWS4-HMAC-SHA256 "
	                         "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	                         "SignedHeaders=host;x-amz-date;x-missing, Signature=00",
	                         NULL};
	struct kiln_sigv4_request req = {"GET", "/", NULL, headers, NULL, 0, NULL};
	struct kiln_sigv4_identity id;

	ck_assert_int_eq(kiln_sigv4_verify(&id, &req, lookup, NULL, SUITE_TIME, 300), KILN_EAUTH);
	ck_assert_str_eq(id.error_code, "SignatureDoesNotMatch");
	ck_assert_str_eq(kiln_error_last(),
	                 "SignatureDoesNotMatch: signed header 'x-missing' is missing");
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("aws_sigv4");
	TCase *tc = tcase_create("sigv4");

	tcase_add_test(tc, uri_encode_table);
	tcase_add_test(tc, uri_decode_table);
	tcase_add_test(tc, suite_get_vanilla);
	tcase_add_test(tc, suite_get_vanilla_query_order);
	tcase_add_test(tc, canonical_request_rules);
	tcase_add_test(tc, suite_vectors_verify);
	tcase_add_test(tc, verify_keeps_the_canonical_requests_reason);
	tcase_add_test(tc, sign_then_verify_and_tamper);
	tcase_add_test(tc, payload_hash_header_only_when_signed);
	tcase_add_test(tc, sign_replaces_callers_date_and_needs_host);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
