#include <check.h>
#include <string.h>

#include "aws/xml.h"

static const char describe_images[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DescribeImagesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
    "  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>\n"
    "  <imagesSet>\n"
    "    <item><imageId>ami-1</imageId><name>web &amp; api</name>\n"
    "      <tagSet><item><key>kiln:layer</key><value>base</value></item></tagSet></item>\n"
    "    <item><imageId>ami-2</imageId><name><![CDATA[a<b]]></name><tagSet/></item>\n"
    "    <item><imageId>ami-3</imageId><name>split <!-- c --> text</name>"
    "<tagSet><item><key>k</key><value/></item></tagSet></item>\n"
    "  </imagesSet>\n"
    "</DescribeImagesResponse>\n";

START_TEST(find_text_and_iterate)
{
	struct kiln_xml *x = NULL;
	xmlNodePtr root, item;
	const char *ids[3];
	size_t n = 0;

	ck_assert_int_eq(kiln_xml_parse(&x, describe_images, strlen(describe_images)), 0);
	root = kiln_xml_root(x);
	ck_assert_str_eq((const char *)root->name, "DescribeImagesResponse");
	ck_assert_str_eq(kiln_xml_text(x, root, "requestId"),
	                 "59dbff89-35bd-4eac-99ed-be587EXAMPLE");
	ck_assert_ptr_null(kiln_xml_text(x, root, "nope"));
	ck_assert_ptr_null(kiln_xml_find(root, "imagesSet/item/missing"));
	/* The path search backtracks: the first item has no empty value, the third has. */
	ck_assert_str_eq(kiln_xml_text(x, root, "imagesSet/item/tagSet/item/value"), "base");
	ck_assert_str_eq(kiln_xml_text(x, root, "imagesSet/item/tagSet/item/key"), "kiln:layer");

	for (item = kiln_xml_first_child(root, "imagesSet"); item; item = kiln_xml_next(item)) {
		ck_assert_uint_lt(n, 3);
		ids[n++] = kiln_xml_text(x, item, "imageId");
	}
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(ids[0], "ami-1");
	ck_assert_str_eq(ids[1], "ami-2");
	ck_assert_str_eq(ids[2], "ami-3");

	item = kiln_xml_first_child(root, "imagesSet");
	ck_assert_str_eq(kiln_xml_text(x, item, "name"), "web & api");
	item = kiln_xml_next(item);
	ck_assert_str_eq(kiln_xml_text(x, item, "name"), "a<b");
	ck_assert_ptr_null(kiln_xml_first_child(item, "tagSet"));
	item = kiln_xml_next(item);
	ck_assert_str_eq(kiln_xml_text(x, item, "name"), "split  text");
	ck_assert_str_eq(kiln_xml_text(x, item, "tagSet/item/value"), "");
	ck_assert_ptr_null(kiln_xml_next(item));
	kiln_xml_free(x);
	kiln_xml_free(NULL);
}
END_TEST

START_TEST(namespaces_are_ignored)
{
	const char *doc = "<a:R xmlns:a=\"urn:a\" xmlns:b=\"urn:b\"><b:X><Y>1</Y></b:X></a:R>";
	struct kiln_xml *x = NULL;

	ck_assert_int_eq(kiln_xml_parse(&x, doc, strlen(doc)), 0);
	ck_assert_str_eq(kiln_xml_text(x, kiln_xml_root(x), "X/Y"), "1");
	ck_assert_str_eq(kiln_xml_text(x, kiln_xml_root(x), ""), "");
	kiln_xml_free(x);
}
END_TEST

START_TEST(error_ec2)
{
	const char *body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                   "<Response><Errors><Error><Code>InvalidAMIID.NotFound</Code>"
	                   "<Message>The image id '[ami-1]' does not exist</Message></Error>"
	                   "</Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID>"
	                   "</Response>";
	struct kiln_aws_error e;

	ck_assert_int_eq(kiln_aws_error_parse(&e, body, strlen(body), 400), 0);
	ck_assert_str_eq(e.code, "InvalidAMIID.NotFound");
	ck_assert_str_eq(e.message, "The image id '[ami-1]' does not exist");
	ck_assert_str_eq(e.request_id, "ea966190-f9aa-478e-9ede-example");
	ck_assert_int_eq(e.http_status, 400);
}
END_TEST

START_TEST(error_query_services)
{
	const char *body =
	    "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">\n"
	    "  <Error>\n    <Type>Sender</Type>\n    <Code>LoadBalancerNotFound</Code>\n"
	    "    <Message>One or more load balancers not found</Message>\n  </Error>\n"
	    "  <RequestId>7f6f8e2a-example</RequestId>\n</ErrorResponse>\n";
	struct kiln_aws_error e;

	ck_assert_int_eq(kiln_aws_error_parse(&e, body, strlen(body), 400), 0);
	ck_assert_str_eq(e.code, "LoadBalancerNotFound");
	ck_assert_str_eq(e.message, "One or more load balancers not found");
	ck_assert_str_eq(e.request_id, "7f6f8e2a-example");
}
END_TEST

START_TEST(error_json)
{
	const char *body =
	    " {\"__type\":\"com.amazonaws.ssm#ParameterNotFound\",\"message\":\"nope\"}";
	const char *body2 = "{\"__type\":\"ThrottlingException\",\"Message\":\"Rate exceeded\"}";
	const char *plain = "{\"Parameter\":{\"Name\":\"x\"}}";
	struct kiln_aws_error e;

	ck_assert_int_eq(kiln_aws_error_parse(&e, body, strlen(body), 400), 0);
	ck_assert_str_eq(e.code, "ParameterNotFound");
	ck_assert_str_eq(e.message, "nope");
	ck_assert_str_eq(e.request_id, "");
	ck_assert_int_eq(kiln_aws_error_parse(&e, body2, strlen(body2), 400), 0);
	ck_assert_str_eq(e.code, "ThrottlingException");
	ck_assert_str_eq(e.message, "Rate exceeded");
	ck_assert_int_eq(kiln_aws_error_parse(&e, plain, strlen(plain), 200), KILN_ENOTFOUND);
	ck_assert_str_eq(e.code, "");
}
END_TEST

START_TEST(error_not_found_for_other_bodies)
{
	static const char *const bodies[] = {
	    "",
	    "   ",
	    "<html><body>502 Bad Gateway</body></html>",
	    "<DescribeImagesResponse><imagesSet/></DescribeImagesResponse>",
	    "<Response><Errors><Error><Message>no code</Message></Error></Errors></Response>",
	    "<Response><Errors><Error><Code>",
	    "{\"__type\": ",
	    "\x01\x02garbage\xff",
	};
	struct kiln_aws_error e;
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(bodies); i++) {
		ck_assert_int_eq(kiln_aws_error_parse(&e, bodies[i], strlen(bodies[i]), 502),
		                 KILN_ENOTFOUND);
		ck_assert_int_eq(e.http_status, 502);
	}
}
END_TEST

START_TEST(long_fields_are_truncated)
{
	struct kiln_buf b = KILN_BUF_INIT;
	struct kiln_aws_error e;
	int i;

	kiln_buf_puts(&b, "<ErrorResponse><Error><Code>");
	for (i = 0; i < 300; i++)
		kiln_buf_putc(&b, 'C');
	kiln_buf_puts(&b, "</Code><Message>");
	for (i = 0; i < 3000; i++)
		kiln_buf_putc(&b, 'm');
	kiln_buf_puts(&b, "</Message></Error></ErrorResponse>");
	ck_assert_int_eq(kiln_aws_error_parse(&e, b.ptr, b.size, 400), 0);
	ck_assert_uint_eq(strlen(e.code), sizeof(e.code) - 1);
	ck_assert_uint_eq(strlen(e.message), sizeof(e.message) - 1);
	kiln_buf_release(&b);
}
END_TEST

START_TEST(entities_and_dtds_refused)
{
	static const char *const docs[] = {
	    /* External entity (XXE). */
	    "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
	    "<r><v>&x;</v></r>",
	    /* Network DTD. */
	    "<?xml version=\"1.0\"?><!DOCTYPE r SYSTEM \"http://127.0.0.1:9/evil.dtd\"><r/>",
	    /* Entity expansion bomb. */
	    "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\">"
	    "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c "
	    "\"&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
	    "<r>&c;</r>",
	};
	struct kiln_xml *x = NULL;
	struct kiln_aws_error e;
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(docs); i++) {
		ck_assert_int_eq(kiln_xml_parse(&x, docs[i], strlen(docs[i])), KILN_EINVAL);
		ck_assert_ptr_null(x);
		/* Refused for its DTD, or earlier by libxml2's own entity checks. */
		ck_assert_msg(strstr(kiln_error_last(), "document type declaration") ||
		                  strstr(kiln_error_last(), "entity"),
		              "doc %zu: %s", i, kiln_error_last());
	}
	/* An error reply with an entity is no error reply: the entity is never expanded. */
	{
		const char *body = "<?xml version=\"1.0\"?><!DOCTYPE Response "
		                   "[<!ENTITY x SYSTEM \"file:///etc/hostname\">]>"
		                   "<Response><Errors><Error><Code>&x;</Code></Error></Errors>"
		                   "</Response>";

		ck_assert_int_eq(kiln_aws_error_parse(&e, body, strlen(body), 400), KILN_ENOTFOUND);
	}
	/* An undeclared entity is a well-formedness error. */
	ck_assert_int_eq(kiln_xml_parse(&x, "<r>&x;</r>", 10), KILN_EINVAL);
	ck_assert_ptr_null(x);
}
END_TEST

START_TEST(garbage_and_oversized)
{
	struct kiln_xml *x = NULL;
	struct kiln_buf deep = KILN_BUF_INIT;
	char *big;
	size_t big_len = ((size_t)32 << 20) + 1;
	int i;

	ck_assert_int_eq(kiln_xml_parse(&x, "", 0), KILN_EINVAL);
	ck_assert_int_eq(kiln_xml_parse(&x, "not xml at all", 14), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "malformed xml reply"));
	ck_assert_int_eq(kiln_xml_parse(&x, "<a><b></a>", 10), KILN_EINVAL);
	ck_assert_int_eq(kiln_xml_parse(&x, "<a>\0</a>", 8), KILN_EINVAL);
	ck_assert_ptr_null(x);

	/* Nesting beyond libxml2's default depth limit is refused, not recursed into. */
	for (i = 0; i < 5000; i++)
		kiln_buf_puts(&deep, "<d>");
	ck_assert_int_eq(kiln_xml_parse(&x, deep.ptr, deep.size), KILN_EINVAL);
	kiln_buf_release(&deep);

	big = kiln_xcalloc(1, big_len);
	memset(big, ' ', big_len);
	ck_assert_int_eq(kiln_xml_parse(&x, big, big_len), KILN_ETOOBIG);
	ck_assert_ptr_null(x);
	free(big);
}
END_TEST

START_TEST(escape)
{
	struct kiln_buf b = KILN_BUF_INIT;

	ck_assert_int_eq(kiln_xml_escape(&b, "a<b>&\"c'\r\n\td\x01\xc3\xa9"), 0);
	ck_assert_str_eq(b.ptr, "a&lt;b&gt;&amp;&quot;c&apos;&#xD;\n\td\xef\xbf\xbd\xc3\xa9");
	kiln_buf_clear(&b);
	ck_assert_int_eq(kiln_xml_escape(&b, ""), 0);
	ck_assert_str_eq(b.ptr, "");
	kiln_buf_release(&b);
}
END_TEST

START_TEST(escape_round_trips_through_parser)
{
	const char *s = "x & y <z> \"q\" 'a' \r end";
	struct kiln_buf b = KILN_BUF_INIT;
	struct kiln_xml *x = NULL;

	kiln_buf_puts(&b, "<r><v>");
	ck_assert_int_eq(kiln_xml_escape(&b, s), 0);
	kiln_buf_puts(&b, "</v></r>");
	ck_assert_int_eq(kiln_xml_parse(&x, b.ptr, b.size), 0);
	ck_assert_str_eq(kiln_xml_text(x, kiln_xml_root(x), "v"), s);
	kiln_xml_free(x);
	kiln_buf_release(&b);
}
END_TEST

/* Bytes that are not UTF-8 (or that XML cannot hold) become U+FFFD: the document still parses. */
START_TEST(escape_replaces_what_xml_cannot_hold)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd"},
	    {"a\xc3", "a\xef\xbf\xbd"},                               /* truncated sequence */
	    {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong '/' */
	    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
	    {"\xef\xbf\xbe", "\xef\xbf\xbd"},                         /* U+FFFE */
	    {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	    {"\xf0\x9f\x94\xa5 ok", "\xf0\x9f\x94\xa5 ok"}, /* 4 bytes, valid */
	    {"\x1b]0;x\x07", "\xef\xbf\xbd]0;x\xef\xbf\xbd"},
	};
	struct kiln_buf b = KILN_BUF_INIT;
	struct kiln_xml *x = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kiln_buf_clear(&b);
		ck_assert_int_eq(kiln_xml_escape(&b, cases[i].in), 0);
		ck_assert_msg(strcmp(b.ptr, cases[i].out) == 0, "case %zu", i);
		kiln_buf_clear(&b);
		kiln_buf_puts(&b, "<r><v>");
		kiln_xml_escape(&b, cases[i].in);
		kiln_buf_puts(&b, "</v></r>");
		ck_assert_msg(kiln_xml_parse(&x, b.ptr, b.size) == 0, "case %zu: %s", i,
		              kiln_error_last());
		kiln_xml_free(x);
		x = NULL;
	}
	kiln_buf_release(&b);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("aws_xml");
	TCase *tc = tcase_create("xml");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, find_text_and_iterate);
	tcase_add_test(tc, namespaces_are_ignored);
	tcase_add_test(tc, error_ec2);
	tcase_add_test(tc, error_query_services);
	tcase_add_test(tc, error_json);
	tcase_add_test(tc, error_not_found_for_other_bodies);
	tcase_add_test(tc, long_fields_are_truncated);
	tcase_add_test(tc, entities_and_dtds_refused);
	tcase_add_test(tc, garbage_and_oversized);
	tcase_add_test(tc, escape);
	tcase_add_test(tc, escape_round_trips_through_parser);
	tcase_add_test(tc, escape_replaces_what_xml_cannot_hold);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
