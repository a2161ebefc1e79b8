/*
 * Reports: what a stage checked and what it found, for people and for CI.
 * A report collects results by stage: "policy" (one per rule the policy
 * gate judged), "checks" and "http" (on a machine over SSH), "smoke" (HTTP
 * from this host). kiln_validate() fills one; kiln_bake() appends its policy
 * and its checks on the builder to the one its options name; deploy will
 * append its smoke checks the same way.
 *
 * It renders as JSON and as JUnit XML, the format GitHub Actions, GitLab
 * and Jenkins read: <testsuites>, one <testsuite> per stage, one <testcase>
 * per result with its time, and a <failure> saying what was found.
 * Strings from outside (a machine's output, a server's body) are escaped
 * for a terminal before they are stored; nothing in a report is a secret.
 */
#ifndef KILN_REPORT_H
#define KILN_REPORT_H

#include <stddef.h>

struct kiln_report;

/* One result, borrowed from its report. */
struct kiln_result {
	const char *stage;   /* "policy", "checks", "http", "smoke" */
	const char *name;    /* the check's label, or the policy rule's name */
	const char *kind;    /* "file", "port", ... "http", "smoke", "policy" */
	int passed;          /* 1 or 0 */
	double duration_s;   /* how long it took (the last attempt's, for a retried smoke check) */
	const char *message; /* what was found, when it failed; "" when it passed */
	const char *where;   /* "policy": "FILE:LINE:COL" of the value that breaks it; else NULL */
};

/* An empty report (it passes). */
int kiln_report_new(struct kiln_report **out);
void kiln_report_free(struct kiln_report *report);

/* The profile and environment the report is about (NULL until a stage says). */
const char *kiln_report_profile(const struct kiln_report *report);
const char *kiln_report_env(const struct kiln_report *report);

size_t kiln_report_count(const struct kiln_report *report);
/* The i-th result (i < count), in the order they were made. */
const struct kiln_result *kiln_report_result(const struct kiln_report *report, size_t i);
/* 1 when every result passed. */
int kiln_report_passed(const struct kiln_report *report);

/*
 * The report as one JSON object with exactly the keys profile, env, passed,
 * policy (the violations: at, rule, message), checks (the "checks" and
 * "http" results) and smoke, each result with name, kind, passed,
 * duration_s and message. free() the text.
 */
int kiln_report_to_json(char **out, const struct kiln_report *report);
/* The report as JUnit XML; free() the text. */
int kiln_report_to_junit(char **out, const struct kiln_report *report);
/* Write that XML to `path`, atomically. */
int kiln_report_write_junit(const struct kiln_report *report, const char *path);

#endif
