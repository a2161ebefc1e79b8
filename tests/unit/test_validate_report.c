/*
 * Reports: JSON with exactly its keys, and JUnit XML that is well-formed,
 * valid against the schema Jenkins validates against (tests/fixtures/
 * junit-10.xsd, checked with libxml2's XML Schema validator), with the
 * right counts and failures, whatever bytes the results hold.
 */
#include <check.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/buf.h"
#include "core/util.h"
#include "validate/report.h"

static xmlSchemaPtr schema;

static void load_schema(void)
{
	const char *src = getenv("KILN_SOURCE_DIR");
	char *path = kiln_xasprintf("%s/tests/fixtures/junit-10.xsd", src ? src : ".");
	xmlSchemaParserCtxtPtr ctx = xmlSchemaNewParserCtxt(path);

	ck_assert_ptr_nonnull(ctx);
	schema = xmlSchemaParse(ctx);
	ck_assert_msg(schema != NULL, "cannot parse %s", path);
	xmlSchemaFreeParserCtxt(ctx);
	free(path);
}

static void free_schema(void)
{
	xmlSchemaFree(schema);
	schema = NULL;
}

/* Parse `xml` and validate it: the document, for XPath questions. */
static xmlDocPtr valid_junit(const char *xml)
{
	xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "junit.xml", "UTF-8", XML_PARSE_NONET);
	xmlSchemaValidCtxtPtr v;

	ck_assert_msg(doc != NULL, "not well-formed XML:\n%s", xml);
	v = xmlSchemaNewValidCtxt(schema);
	ck_assert_msg(xmlSchemaValidateDoc(v, doc) == 0, "not valid against junit-10.xsd:\n%s",
	              xml);
	xmlSchemaFreeValidCtxt(v);
	return doc;
}

static char *xpath_str(xmlDocPtr doc, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	xmlChar *s = xmlXPathCastToString(o);
	char *out = kiln_xstrdup((const char *)s);

	xmlFree(s);
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	return out;
}

static void expect(xmlDocPtr doc, const char *expr, const char *want)
{
	char *got = xpath_str(doc, expr);

	ck_assert_msg(strcmp(got, want) == 0, "%s: '%s', expected '%s'", expr, got, want);
	free(got);
}

static struct kiln_report *sample(void)
{
	struct kiln_report *r = NULL;

	kiln_report_new(&r);
	kiln_report_subject(r, "web", "prod");
	kiln_report_add(r, "policy", "max_capacity", "policy", 0, 0.0001,
	                "web.json:12:5: policy: deploy.capacity.max is 6, above the ceiling of 4 "
	                "(org.json:2:3: organisation policy max_capacity)",
	                "web.json:12:5");
	kiln_report_add(r, "policy", "allow_fleet_ssh", "policy", 1, 0, NULL, NULL);
	kiln_report_add(r, "checks", "file /opt/web/VERSION contains 'v1'", "file", 1, 0.0125, NULL,
	                NULL);
	/* What a machine printed: a terminal's escape, a NUL, markup, a noncharacter. */
	kiln_report_add(
	    r, "checks", "port 8080 listening", "port", 0, 1.5,
	    "nothing listens on port 8080\n\x1b]0;pwned\x07 <b>&amp;</b> \"q\"\xef\xbf\xbe", NULL);
	kiln_report_add(r, "http", "http GET :8080/health status 200", "http", 1, 0.2, NULL, NULL);
	kiln_report_add(r, "smoke", "GET /", "smoke", 0, 0.03,
	                "status 503, expected 200; body: 'down'", NULL);
	return r;
}

START_TEST(junit_valid_with_counts)
{
	struct kiln_report *r = sample();
	char *xml = NULL;
	xmlDocPtr doc;

	ck_assert_int_eq(kiln_report_to_junit(&xml, r), 0);
	doc = valid_junit(xml);
	expect(doc, "string(/testsuites/@tests)", "6");
	expect(doc, "string(/testsuites/@failures)", "3");
	expect(doc, "count(/testsuites/testsuite)", "4");
	expect(doc, "string(/testsuites/testsuite[1]/@name)", "policy");
	expect(doc, "string(/testsuites/testsuite[2]/@name)", "checks");
	expect(doc, "string(/testsuites/testsuite[3]/@name)", "http");
	expect(doc, "string(/testsuites/testsuite[4]/@name)", "smoke");
	expect(doc, "string(/testsuites/testsuite[@name='checks']/@tests)", "2");
	expect(doc, "string(/testsuites/testsuite[@name='checks']/@failures)", "1");
	expect(doc, "string(/testsuites/testsuite[@name='checks']/@time)", "1.512");
	expect(doc, "count(//testcase[failure])", "3");
	expect(doc, "string(//testcase[@name='port 8080 listening']/@time)", "1.500");
	expect(doc, "string(//testcase[@name='port 8080 listening']/@classname)",
	       "kiln.web.checks");
	expect(doc, "string(//testcase[@name='port 8080 listening']/failure/@message)",
	       "nothing listens on port 8080");
	/* The text carries what was found, escaped for a terminal; markup stays text. */
	expect(
	    doc, "string(//testcase[@name='port 8080 listening']/failure)",
	    "nothing listens on port 8080\n\\x1b]0;pwned\\x07 <b>&amp;</b> \"q\"\\xef\\xbf\\xbe");
	expect(doc, "string(//testcase[@name='max_capacity']/failure/@type)", "policy");
	ck_assert_ptr_nonnull(strstr(xml, "web.json:12:5: policy: deploy.capacity.max"));
	xmlFreeDoc(doc);
	free(xml);
	kiln_report_free(r);
}
END_TEST

START_TEST(junit_empty_and_written)
{
	struct kiln_report *r = NULL;
	char *xml = NULL, *path = kiln_xasprintf("/tmp/kiln-junit-%d.xml", (int)getpid());
	struct kiln_buf b = KILN_BUF_INIT;
	xmlDocPtr doc;

	kiln_report_new(&r);
	ck_assert_int_eq(kiln_report_passed(r), 1);
	ck_assert_int_eq(kiln_report_to_junit(&xml, r), 0);
	doc = valid_junit(xml);
	expect(doc, "string(/testsuites/@tests)", "0");
	xmlFreeDoc(doc);
	free(xml);
	kiln_report_free(r);
	r = sample();
	ck_assert_int_eq(kiln_report_write_junit(r, path), 0);
	ck_assert_int_eq(kiln_file_read(&b, path), 0);
	doc = valid_junit(b.ptr);
	xmlFreeDoc(doc);
	unlink(path);
	kiln_buf_release(&b);
	kiln_report_free(r);
	free(path);
}
END_TEST

START_TEST(json_has_its_keys)
{
	struct kiln_report *r = sample();
	json_t *j, *c;
	char *text = NULL;
	const char *key;
	json_t *v;
	size_t n = 0;

	ck_assert_int_eq(kiln_report_passed(r), 0);
	ck_assert_int_eq(kiln_report_to_json(&text, r), 0);
	j = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(j);
	json_object_foreach(j, key, v)
	{
		(void)v;
		n++;
	}
	ck_assert_uint_eq(n, 6);
	ck_assert_str_eq(json_string_value(json_object_get(j, "profile")), "web");
	ck_assert_str_eq(json_string_value(json_object_get(j, "env")), "prod");
	ck_assert(json_is_false(json_object_get(j, "passed")));
	/* policy: the violations alone. */
	ck_assert_uint_eq(json_array_size(json_object_get(j, "policy")), 1);
	c = json_array_get(json_object_get(j, "policy"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(c, "at")), "web.json:12:5");
	ck_assert_str_eq(json_string_value(json_object_get(c, "rule")), "max_capacity");
	/* checks: the machine's checks and HTTP checks; smoke apart. */
	ck_assert_uint_eq(json_array_size(json_object_get(j, "checks")), 3);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "smoke")), 1);
	c = json_array_get(json_object_get(j, "checks"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(c, "kind")), "port");
	ck_assert(json_is_false(json_object_get(c, "passed")));
	ck_assert(json_real_value(json_object_get(c, "duration_s")) == 1.5);
	ck_assert_ptr_nonnull(
	    strstr(json_string_value(json_object_get(c, "message")), "\\x1b]0;pwned\\x07"));
	n = 0;
	json_object_foreach(c, key, v)
	{
		(void)v;
		n++;
	}
	ck_assert_uint_eq(n, 5);
	json_decref(j);
	free(text);
	kiln_report_free(r);
}
END_TEST

/* A message is bounded: a machine that prints megabytes does not fill a report. */
START_TEST(long_message_cut)
{
	struct kiln_report *r = NULL;
	char *big = kiln_xmalloc(100001);

	memset(big, 'x', 100000);
	big[100000] = '\0';
	kiln_report_new(&r);
	kiln_report_add(r, "checks", "big", "command", 0, 0, big, NULL);
	ck_assert_uint_lt(strlen(kiln_report_result(r, 0)->message), 5000);
	ck_assert_ptr_nonnull(strstr(kiln_report_result(r, 0)->message, "bytes cut"));
	kiln_report_free(r);
	free(big);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("validate_report");
	TCase *tc = tcase_create("report");

	tcase_add_checked_fixture(tc, load_schema, free_schema);
	tcase_add_test(tc, junit_valid_with_counts);
	tcase_add_test(tc, junit_empty_and_written);
	tcase_add_test(tc, json_has_its_keys);
	tcase_add_test(tc, long_message_cut);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
