/*
 * A report as JUnit XML: <testsuites> with one <testsuite> per stage (in
 * the order stages ran: policy, checks, http, smoke) and one <testcase> per
 * result, a <failure> holding what was found. The attributes are those of
 * the schema Jenkins validates JUnit files against (its xunit plugin's
 * junit-10.xsd, tests/fixtures/junit-10.xsd), which GitLab and GitHub
 * Actions' reporters read as well: name, tests, failures, errors, skipped,
 * time (seconds with a dot), timestamp, hostname; testcase name, classname,
 * time.
 *
 * XML 1.0 cannot carry control characters even as references: the results'
 * strings are already escaped for a terminal (validate/report.c), and the
 * two noncharacters that valid UTF-8 can still hold are escaped here. A
 * policy failure's text is its violations, each with its place.
 */
#include "core/buf.h"
#include "core/common.h"
#include "core/util.h"
#include "validate/report-int.h"
#include "validate/report.h"

#include <string.h>
#include <unistd.h>

static const char *const stages[] = {"policy", "checks", "http", "smoke"};

/* `s` as XML character data; in an attribute, line ends as references. */
static void xml_put(struct kiln_buf *b, const char *s, int attr)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (*p == '&')
			kiln_buf_puts(b, "&amp;");
		else if (*p == '<')
			kiln_buf_puts(b, "&lt;");
		else if (*p == '>')
			kiln_buf_puts(b, "&gt;");
		else if (*p == '"')
			kiln_buf_puts(b, "&quot;");
		else if (attr && *p == '\n')
			kiln_buf_puts(b, "&#10;");
		else if (attr && *p == '\t')
			kiln_buf_puts(b, "&#9;");
		else if (*p < 0x20 && *p != '\n' && *p != '\t')
			kiln_buf_printf(b, "\\x%02x", *p);
		else if (p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF)) {
			/* U+FFFE and U+FFFF are not XML characters. */
			kiln_buf_printf(b, "\\x%02x\\x%02x\\x%02x", p[0], p[1], p[2]);
			p += 2;
		} else
			kiln_buf_putc(b, (char)*p);
	}
}

static void attr(struct kiln_buf *b, const char *name, const char *value)
{
	kiln_buf_printf(b, " %s=\"", name);
	xml_put(b, value, 1);
	kiln_buf_putc(b, '"');
}

struct totals {
	size_t tests, failures;
	double time;
};

static struct totals count(const struct kiln_report *r, const char *stage)
{
	struct totals t = {0, 0, 0};
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (stage != NULL && strcmp(r->v[i].stage, stage) != 0)
			continue;
		t.tests++;
		t.failures += !r->v[i].passed;
		t.time += r->v[i].duration_s;
	}
	return t;
}

static void testcase(struct kiln_buf *b, const struct kiln_result *res, const char *classname)
{
	char time[32];

	snprintf(time, sizeof(time), "%.3f", res->duration_s);
	kiln_buf_puts(b, "    <testcase");
	attr(b, "name", res->name);
	attr(b, "classname", classname);
	attr(b, "time", time);
	if (res->passed) {
		kiln_buf_puts(b, "/>\n");
		return;
	}
	kiln_buf_puts(b, ">\n      <failure");
	{
		/* The first line as the message; all of it, with where, as the text. */
		size_t n = strcspn(res->message, "\n");
		char *first = kiln_xstrndup(res->message, n);
		attr(b, "message", first[0] != '\0' ? first : "failed");
		free(first);
	}
	attr(b, "type", res->kind);
	kiln_buf_putc(b, '>');
	xml_put(b, res->message, 0);
	kiln_buf_puts(b, "</failure>\n    </testcase>\n");
}

static void suite(struct kiln_buf *b, const struct kiln_report *r, const char *stage,
                  const char *stamp, const char *host)
{
	struct totals t = count(r, stage);
	char num[32], *classname;
	size_t i;

	if (t.tests == 0)
		return;
	classname = kiln_xasprintf("kiln.%s.%s", r->profile ? r->profile : "profile", stage);
	kiln_buf_puts(b, "  <testsuite");
	attr(b, "name", stage);
	snprintf(num, sizeof(num), "%zu", t.tests);
	attr(b, "tests", num);
	snprintf(num, sizeof(num), "%zu", t.failures);
	attr(b, "failures", num);
	attr(b, "errors", "0");
	attr(b, "skipped", "0");
	snprintf(num, sizeof(num), "%.3f", t.time);
	attr(b, "time", num);
	attr(b, "timestamp", stamp);
	attr(b, "hostname", host);
	kiln_buf_puts(b, ">\n");
	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].stage, stage) == 0)
			testcase(b, &r->v[i], classname);
	kiln_buf_puts(b, "  </testsuite>\n");
	free(classname);
}

int kiln_report_to_junit(char **out, const struct kiln_report *r)
{
	struct kiln_buf b = KILN_BUF_INIT;
	struct totals t;
	char stamp[32], host[256], num[32], *name;
	size_t i;

	KILN_ASSERT_ARG(out != NULL && r != NULL);
	t = count(r, NULL);
	kiln_time_iso8601(stamp, kiln_time_now(), 0);
	/* JUnit's timestamp has no zone designator. */
	if (strlen(stamp) > 0 && stamp[strlen(stamp) - 1] == 'Z')
		stamp[strlen(stamp) - 1] = '\0';
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	name = kiln_xasprintf("kiln %s%s%s", r->profile ? r->profile : "profile", r->env ? " " : "",
	                      r->env ? r->env : "");
	kiln_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
	attr(&b, "name", name);
	snprintf(num, sizeof(num), "%zu", t.tests);
	attr(&b, "tests", num);
	snprintf(num, sizeof(num), "%zu", t.failures);
	attr(&b, "failures", num);
	attr(&b, "errors", "0");
	snprintf(num, sizeof(num), "%.3f", t.time);
	attr(&b, "time", num);
	kiln_buf_puts(&b, ">\n");
	for (i = 0; i < KILN_ARRAY_SIZE(stages); i++)
		suite(&b, r, stages[i], stamp, host);
	kiln_buf_puts(&b, "</testsuites>\n");
	free(name);
	*out = kiln_buf_detach(&b);
	return 0;
}

int kiln_report_write_junit(const struct kiln_report *r, const char *path)
{
	char *xml = NULL;
	int error;

	KILN_ASSERT_ARG(r != NULL && path != NULL);
	error = kiln_report_to_junit(&xml, r);
	if (error >= 0)
		error = kiln_file_write_atomic(path, xml, strlen(xml), 0644);
	free(xml);
	return error < 0 ? kiln_error_prefix(error, "writing the JUnit report") : 0;
}
