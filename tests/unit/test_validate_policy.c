/*
 * The policy gate: each rule alone, several at once, at their places in the
 * profile and in the organisation's file; an organisation stricter than the
 * profile, a profile asking for more than the organisation allows; policy
 * files that do not load; allowed repository sources; signed tags with keys
 * made here by ssh-keygen and tags signed by git.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/proc.h"
#include "core/util.h"
#include "kiln/policy.h"
#include "kiln/report.h"
#include "profiles/profile.h"
#include "validate/policy.h"
#include "validate/tagsig.h"

extern const char *kiln_policy__system_file;

static char tmpdir[] = "/tmp/kiln-policy-XXXXXX";

static void setup_dir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	unsetenv("KILN_POLICY");
	kiln_policy__system_file = "/nonexistent/kiln/policy.json";
}

static void teardown_dir(void)
{
	kiln_rm_rf(tmpdir);
	strcpy(tmpdir, "/tmp/kiln-policy-XXXXXX");
}

static char *write_file(const char *name, const char *text)
{
	char *path = kiln_xasprintf("%s/%s", tmpdir, name);

	ck_assert_int_eq(kiln_file_write_atomic(path, text, strlen(text), 0644), 0);
	return path;
}

/* "LINE:COL" of the first `needle` in `text`, plus `skip` characters. */
static char *pos_of(const char *text, const char *needle, size_t skip)
{
	const char *at = strstr(text, needle), *p;
	int line = 1, col = 1;

	ck_assert_msg(at != NULL, "no '%s' in the test's text", needle);
	for (p = text; p < at + skip; p++) {
		if (*p == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	return kiln_xasprintf("%d:%d", line, col);
}

/* The base profile; "%s" marks where each case adds its own keys. */
static const char base[] =
    "{\n"
    "  \"name\": \"web\",\n"
    "  \"layers\": {\"app\": {\"repo\": \"/srv/git/web\", \"ref\": "
    "\"v1.0.0\"}},\n"
    "  \"bake\": {\"instance_type\": \"t3.small\"},\n"
    "  \"deploy\": {\"capacity\": {\"min\": 1, \"desired\": 2, \"max\": 6}%s},\n"
    "  \"tags\": {\"team\": \"web\"}%s\n"
    "}\n";

struct gate_run {
	char *text, *path, *org_path;
	int error;
	char *message;
	struct kiln_report *report;
};

/* Load `extra` into the base profile and run the gate, with `org` as the organisation's file. */
static void gate(struct gate_run *r, const char *extra, const char *org, const char *env,
                 const char *app_ref)
{
	struct kiln_policy_options o = KILN_POLICY_OPTIONS_INIT;
	struct kiln_profile *p = NULL;

	memset(r, 0, sizeof(*r));
	r->text =
	    extra[0] == '@' ? kiln_xasprintf(base, extra + 1, "") : kiln_xasprintf(base, "", extra);
	r->path = write_file("web.json", r->text);
	if (org != NULL)
		r->org_path = write_file("org.json", org);
	ck_assert_msg(kiln_profile_load(&p, r->path, env) == 0, "%s", kiln_error_last());
	kiln_report_new(&r->report);
	o.policy_file = r->org_path;
	o.app_ref = app_ref;
	o.report = r->report;
	r->error = kiln_policy_check(p, &o);
	r->message = kiln_xstrdup(kiln_error_last());
	kiln_profile_free(p);
}

static void gate_end(struct gate_run *r)
{
	free(r->text);
	free(r->path);
	free(r->org_path);
	free(r->message);
	kiln_report_free(r->report);
}

static size_t lines(const char *s)
{
	size_t n = s[0] != '\0';

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/*
 * A line "FILE:L:C: policy: ..." at `needle`+`skip` of `text` (the profile,
 * or the org file when `in_org`), containing `part`.
 */
static void has_line(const struct gate_run *r, const char *needle, size_t skip, const char *part)
{
	char *pos = pos_of(r->text, needle, skip);
	char *start = kiln_xasprintf("%s:%s: policy: ", r->path, pos);
	const char *p = r->message;
	int found = 0;

	while (*p != '\0' && !found) {
		size_t len = strcspn(p, "\n");
		char *line = kiln_xstrndup(p, len);
		found = strncmp(line, start, strlen(start)) == 0 && strstr(line, part) != NULL;
		free(line);
		p += len;
		if (*p == '\n')
			p++;
	}
	ck_assert_msg(found, "no line '%s...%s' in:\n%s", start, part, r->message);
	free(pos);
	free(start);
}

START_TEST(complying_profile_passes)
{
	struct gate_run r;
	size_t i;

	gate(&r, "", NULL, NULL, NULL);
	ck_assert_msg(r.error == 0, "%s", r.message);
	/* Every rule judged and reported, all passed. */
	ck_assert_uint_eq(kiln_report_count(r.report), 11);
	for (i = 0; i < kiln_report_count(r.report); i++) {
		const struct kiln_result *res = kiln_report_result(r.report, i);
		ck_assert_str_eq(res->stage, "policy");
		ck_assert_int_eq(res->passed, 1);
	}
	gate_end(&r);
}
END_TEST

/* Each rule broken alone, by the profile's own policy: one line at the value. */
struct rule_case {
	const char *extra;
	const char *needle; /* in the profile: where the line points */
	size_t skip;
	const char *part;
	const char *rule; /* the report's failed rule */
};

static const struct rule_case rule_cases[] = {
    {"@, \"internet_facing\": true", "\"internet_facing\": true", 19,
     "deploy.internet_facing is true, but internet-facing load balancers are not allowed "
     "(policy.allow_internet_facing, by default)",
     "allow_internet_facing"},
    {",\n  \"policy\": {\"require_encrypted\": true}", "\"bake\"", 8,
     "bake.encrypted is false, but images must be encrypted", "require_encrypted"},
    {"@, \"instance_type\": \"c5.large\"},\n  \"policy\": {\"allowed_instance_types\": "
     "[\"t3.small\", \"m5.*\"]",
     "\"c5.large\"", 0,
     "deploy.instance_type 'c5.large' is not an allowed instance type ('t3.small', 'm5.*')",
     "allowed_instance_types"},
    {",\n  \"policy\": {\"max_capacity\": 4}", "\"max\": 6", 7,
     "deploy.capacity.max is 6, above the ceiling of 4", "max_capacity"},
    {",\n  \"policy\": {\"required_tags\": [\"team\", \"cost-center\"]}", "{\"team\"", 0,
     "tags: missing the required tag 'cost-center'", "required_tags"},
    {",\n  \"policy\": {\"allowed_image_owners\": [\"amazon\"]}", "\"bake\"", 8,
     "bake.source_image.owners[0] 'self' is not an allowed image owner ('amazon')",
     "allowed_image_owners"},
    {",\n  \"policy\": {\"allowed_regions\": [\"eu-*\"]}", "{", 0,
     "the local cloud's region 'us-east-1' is not an allowed region ('eu-*')", "allowed_regions"},
    {",\n  \"policy\": {\"allowed_repos\": [\"github.com/acme\", \"/srv/git/other\"]}",
     "\"/srv/git/web\"", 0, "layers.app.repo '/srv/git/web' is not an allowed repository source",
     "allowed_repos"},
    {",\n  \"policy\": {\"release_refs\": {\"*\": [\"release-*\"]}}", "\"v1.0.0\"", 0,
     "layers.app.ref 'v1.0.0' is not a release allowed anywhere ('release-*')", "release_refs"},
    {",\n  \"policy\": {\"require_signed_tags\": true}", "\"require_signed_tags\": true", 23,
     "signed tags are required, but no allowed_signers file says whose signatures count",
     "require_signed_tags"},
};

START_TEST(each_rule_alone)
{
	const struct rule_case *c = &rule_cases[_i];
	struct gate_run r;
	size_t i, failed = 0;

	gate(&r, c->extra, NULL, NULL, NULL);
	ck_assert_int_eq(r.error, KILN_EINVAL);
	ck_assert_msg(lines(r.message) == 1, "one violation expected:\n%s", r.message);
	has_line(&r, c->needle, c->skip, c->part);
	for (i = 0; i < kiln_report_count(r.report); i++) {
		const struct kiln_result *res = kiln_report_result(r.report, i);
		if (!res->passed) {
			ck_assert_str_eq(res->name, c->rule);
			ck_assert_ptr_nonnull(strstr(res->message, c->part));
			failed++;
		}
	}
	ck_assert_uint_eq(failed, 1);
	gate_end(&r);
}
END_TEST

/* Several at once: all reported, each at its place, in the rules' order. */
START_TEST(several_at_once)
{
	static const char extra[] =
	    ",\n  \"policy\": {\"max_capacity\": 4, \"require_encrypted\": true,\n"
	    "             \"required_tags\": [\"owner\"], \"allowed_instance_types\": [\"c5.*\"]}";
	struct gate_run r;

	gate(&r, extra, NULL, NULL, NULL);
	ck_assert_int_eq(r.error, KILN_EINVAL);
	ck_assert_uint_eq(lines(r.message), 5);
	has_line(&r, "\"bake\"", 8, "bake.encrypted is false");
	has_line(&r, "\"t3.small\"", 0, "bake.instance_type 't3.small'");
	/* deploy.instance_type is the default: reported at the deploy object. */
	has_line(&r, "\"deploy\"", 10, "deploy.instance_type 't3.small'");
	has_line(&r, "\"max\": 6", 7, "deploy.capacity.max is 6");
	has_line(&r, "{\"team\"", 0, "missing the required tag 'owner'");
	ck_assert_ptr_nonnull(strstr(r.message, "policy.max_capacity"));
	gate_end(&r);
}
END_TEST

/* The organisation's file is stricter than the profile: its rules apply, named at their place. */
START_TEST(organisation_stricter)
{
	static const char org[] = "{\n"
	                          "  \"max_capacity\": 4,\n"
	                          "  \"required_tags\": [\"team\", \"cost-center\"],\n"
	                          "  \"allowed_repos\": [\"/srv/git\"]\n"
	                          "}\n";
	struct gate_run r;
	char *at;

	gate(&r, ",\n  \"policy\": {\"max_capacity\": 8}", org, NULL, NULL);
	ck_assert_int_eq(r.error, KILN_EINVAL);
	ck_assert_uint_eq(lines(r.message), 3);
	/* The profile's ceiling is above the organisation's: both files named. */
	has_line(&r, "\"max_capacity\": 8", 16,
	         "policy.max_capacity is 8, above the organisation's "
	         "ceiling of 4");
	has_line(&r, "\"max\": 6", 7, "deploy.capacity.max is 6, above the ceiling of 4");
	at = kiln_xasprintf("(%s:2:3: organisation policy max_capacity)", r.org_path);
	ck_assert_msg(strstr(r.message, at) != NULL, "%s", r.message);
	free(at);
	at = kiln_xasprintf("(%s:3:29: organisation policy required_tags[1])", r.org_path);
	ck_assert_msg(strstr(r.message, at) != NULL, "%s", r.message);
	free(at);
	gate_end(&r);
}
END_TEST

/* A profile that asks for more than the organisation allows is refused, naming both files. */
START_TEST(profile_cannot_loosen)
{
	static const char org[] = "{\"allow_internet_facing\": false, \"allow_fleet_ssh\": false,\n"
	                          " \"allowed_instance_types\": [\"t3.*\"]}\n";
	static const char extra[] =
	    ",\n  \"policy\": {\"allow_internet_facing\": true, "
	    "\"allow_fleet_ssh\": true,\n"
	    "             \"allowed_instance_types\": [\"t3.*\", \"m5.*\"]}";
	struct gate_run r;
	char *at;

	gate(&r, extra, org, NULL, NULL);
	ck_assert_int_eq(r.error, KILN_EINVAL);
	ck_assert_uint_eq(lines(r.message), 3);
	has_line(&r, "\"allow_internet_facing\": true", 25,
	         "policy.allow_internet_facing is true, but the organisation does not allow");
	has_line(&r, "\"allow_fleet_ssh\": true", 19,
	         "policy.allow_fleet_ssh is true, but the organisation does not allow SSH");
	has_line(&r, "\"m5.*\"", 0,
	         "policy.allowed_instance_types allows 'm5.*', which the organisation does not");
	at = kiln_xasprintf("(%s:1:2: organisation policy allow_internet_facing)", r.org_path);
	ck_assert_msg(strstr(r.message, at) != NULL, "%s", r.message);
	free(at);
	gate_end(&r);
}
END_TEST

/* What the organisation does not set, the profile decides; a narrower profile list is fine. */
START_TEST(organisation_silent_profile_decides)
{
	static const char org[] =
	    "{\"allowed_instance_types\": [\"t3.*\"], \"max_capacity\": 10}\n";
	static const char extra[] =
	    ",\n  \"policy\": {\"allow_internet_facing\": true, "
	    "\"allowed_instance_types\": [\"t3.small\"], \"max_capacity\": 6},\n"
	    "  \"environments\": {\"x\": {\"deploy\": {\"internet_facing\": true}}}";
	struct gate_run r;

	gate(&r, extra, org, "x", NULL);
	ck_assert_msg(r.error == 0, "%s", r.message);
	gate_end(&r);
}
END_TEST

/* Release refs per environment: only v* tags go to prod; --app-ref is judged, not the file's. */
START_TEST(release_refs_per_environment)
{
	static const char org[] = "{\"release_refs\": {\"prod\": \"v*\"}}\n";
	static const char extra[] = ",\n  \"environments\": {\"prod\": {}, \"dev\": {}}";
	struct gate_run r;

	gate(&r, extra, org, "prod", NULL);
	ck_assert_msg(r.error == 0, "%s", r.message);
	gate_end(&r);
	gate(&r, extra, org, "prod", "nightly-42");
	ck_assert_int_eq(r.error, KILN_EINVAL);
	has_line(&r, "\"v1.0.0\"", 0,
	         "--app-ref 'nightly-42' is not a release allowed in prod ('v*')");
	gate_end(&r);
	gate(&r, extra, org, "dev", "nightly-42");
	ck_assert_msg(r.error == 0, "%s", r.message);
	gate_end(&r);
}
END_TEST

/* An environment's override is where the line points when it sets the value. */
START_TEST(override_positions)
{
	static const char extra[] = ",\n  \"policy\": {\"max_capacity\": 8},\n"
	                            "  \"environments\": {\"prod\": {\"deploy\": {\"capacity\": "
	                            "{\"max\": 12}}}}";
	struct gate_run r;

	gate(&r, extra, NULL, "prod", NULL);
	ck_assert_int_eq(r.error, KILN_EINVAL);
	has_line(&r, "{\"max\": 12}", 8, "deploy.capacity.max is 12, above the ceiling of 8");
	gate_end(&r);
}
END_TEST

/* A policy file that does not load: its own place, exit 2, nothing judged. */
struct file_case {
	const char *text;
	const char *expect; /* after "org.json:" */
};

static const struct file_case file_cases[] = {
    {"{\"max_capacity\": \"ten\"}", "1:18: policy.max_capacity: expected integer, got string"},
    {"{\n \"max_capacty\": 4\n}", "2:2: policy: unknown key 'max_capacty'; did you mean "
                                  "'max_capacity'?"},
    {"{\"release_refs\": {\"Prod!\": \"v*\"}}", "1:19: policy.release_refs: invalid name "
                                                "'Prod!'"},
    {"{\"release_refs\": {\"prod\": []}}", "1:27: policy.release_refs.prod: expected a pattern "
                                           "or a non-empty array of patterns, got an empty array"},
    {"[1]", "1:1: policy: expected object, got array"},
    {"{\"a\": 1,}", "1:9: string or '}' expected near '}'"},
    {"{\"max_capacity\": 1, \"max_capacity\": 2}", "1:34: duplicate object key"},
    {"{\"allowed_repos\": [\"\"]}", "1:20: policy.allowed_repos[0]: must not be empty"},
};

START_TEST(bad_policy_files)
{
	struct gate_run r;
	char *want;

	gate(&r, "", file_cases[_i].text, NULL, NULL);
	ck_assert_int_eq(r.error, KILN_EINVAL);
	want = kiln_xasprintf("%s:%s", r.org_path, file_cases[_i].expect);
	ck_assert_msg(strncmp(r.message, want, strlen(want)) == 0, "want '%s', got '%s'", want,
	              r.message);
	ck_assert_uint_eq(lines(r.message), 1);
	free(want);
	gate_end(&r);
}
END_TEST

/* $KILN_POLICY, then the system file when present; --policy first. */
START_TEST(policy_file_lookup)
{
	struct gate_run r;
	char *sys = write_file("system.json", "{\"max_capacity\": 2}");
	char *envf = write_file("env.json", "{\"max_capacity\": 3}");

	kiln_policy__system_file = sys;
	gate(&r, "", NULL, NULL, NULL);
	ck_assert_ptr_nonnull(strstr(r.message, "above the ceiling of 2"));
	gate_end(&r);
	setenv("KILN_POLICY", envf, 1);
	gate(&r, "", NULL, NULL, NULL);
	ck_assert_ptr_nonnull(strstr(r.message, "above the ceiling of 3"));
	gate_end(&r);
	gate(&r, "", "{\"max_capacity\": 5}", NULL, NULL);
	ck_assert_ptr_nonnull(strstr(r.message, "above the ceiling of 5"));
	gate_end(&r);
	unsetenv("KILN_POLICY");
	free(sys);
	free(envf);
}
END_TEST

struct repo_case {
	const char *url, *entry;
	int allowed;
};

static const struct repo_case repo_cases[] = {
    {"https://github.com/acme/web.git", "github.com/acme", 1},
    {"https://github.com/acme/web.git", "github.com/acme/web", 1},
    {"https://github.com/acme/web.git", "github.com/ac", 0},
    {"https://github.com/acmeevil/web", "github.com/acme", 0},
    {"https://GitHub.com/acme/web", "github.com", 1},
    {"https://github.com:443/acme/web", "https://github.com/acme/", 1},
    {"git@github.com:acme/web.git", "github.com/acme", 1},
    {"ssh://git@git.example.com:2222/srv/web", "git.example.com/srv", 1},
    {"ssh://git@git.example.com/srv/web", "other.example.com", 0},
    {"/srv/git/web", "/srv/git", 1},
    {"/srv/gitx/web", "/srv/git", 0},
    {"file:///srv/git/web", "/srv/git", 1},
    {"/srv/git/web", "file:///srv/git/", 1},
    {"https://github.com/acme/../evil/web", "github.com/acme", 0},
    {"/srv/git/web", "github.com", 0},
    {"https://evil.example/srv/git/web", "/srv/git", 0},
};

START_TEST(repository_sources)
{
	const struct repo_case *c = &repo_cases[_i];

	ck_assert_msg(kiln_repo_allowed(c->url, c->entry) == c->allowed, "'%s' within '%s': %d",
	              c->url, c->entry, !c->allowed);
}
END_TEST

START_TEST(repository_entries_within)
{
	ck_assert_int_eq(kiln_repo_entry_within("github.com/acme/web", "github.com/acme"), 1);
	ck_assert_int_eq(kiln_repo_entry_within("github.com/acme", "github.com/acme/web"), 0);
	ck_assert_int_eq(kiln_repo_entry_within("github.com", "github.com/acme"), 0);
	ck_assert_int_eq(kiln_repo_entry_within("/srv/git/a", "/srv/git"), 1);
	ck_assert_int_eq(kiln_repo_entry_within("/srv", "/srv/git"), 0);
}
END_TEST

/* Signed tags: real keys, real git tags, ssh-keygen as git runs it. */

static void run_ok(char *const argv[], const char *cwd)
{
	struct kiln_proc p = KILN_PROC_INIT;
	struct kiln_proc_opts o = {
	    .in = KILN_PROC_NULL, .out = KILN_PROC_NULL, .err = KILN_PROC_NULL, .cwd = cwd};
	int status = -1;

	ck_assert_int_eq(kiln_proc_start(&p, argv, &o), 0);
	ck_assert_int_eq(kiln_proc_finish(&p, &status), 0);
	ck_assert_msg(status == 0, "%s %s %s exited %d", argv[0], argv[1], argv[2] ? argv[2] : "",
	              status);
}

static void keygen(const char *name)
{
	char *path = kiln_xasprintf("%s/%s", tmpdir, name);
	char *argv[] = {"ssh-keygen", "-q",         "-t", "ed25519", "-N", "",
	                "-C",         (char *)name, "-f", path,      NULL};

	run_ok(argv, NULL);
	free(path);
}

/* A repository with commit tags: v1 signed by alice, v2 by mallory, v3 annotated unsigned, v4
 * lightweight. */
static char *signed_repo(void)
{
	char *repo = kiln_xasprintf("%s/repo", tmpdir);
	char *alice = kiln_xasprintf("%s/alice", tmpdir),
	     *mallory = kiln_xasprintf("%s/mallory", tmpdir);
	char *init[] = {"git", "init", "-q", repo, NULL};
	char *commit[] = {"git",    "-c", "user.name=t",   "-c", "user.email=t@t",
	                  "commit", "-q", "--allow-empty", "-m", "one",
	                  NULL};
	char *k1 = kiln_xasprintf("user.signingkey=%s", alice);
	char *k2 = kiln_xasprintf("user.signingkey=%s", mallory);
	char *tag1[] = {"git",
	                "-c",
	                "user.name=alice",
	                "-c",
	                "user.email=alice@example.com",
	                "-c",
	                "gpg.format=ssh",
	                "-c",
	                k1,
	                "tag",
	                "-s",
	                "v1",
	                "-m",
	                "v1",
	                NULL};
	char *tag2[] = {"git",
	                "-c",
	                "user.name=m",
	                "-c",
	                "user.email=m@example.com",
	                "-c",
	                "gpg.format=ssh",
	                "-c",
	                k2,
	                "tag",
	                "-s",
	                "v2",
	                "-m",
	                "v2",
	                NULL};
	char *tag3[] = {"git", "-c", "user.name=t", "-c", "user.email=t@t", "tag", "-a",
	                "v3",  "-m", "v3",          NULL};
	char *tag4[] = {"git", "tag", "v4", NULL};
	char *signers = kiln_xasprintf("%s/alice.pub", tmpdir), *line;
	struct kiln_buf pub = KILN_BUF_INIT;

	keygen("alice");
	keygen("mallory");
	run_ok(init, NULL);
	run_ok(commit, repo);
	run_ok(tag1, repo);
	run_ok(tag2, repo);
	run_ok(tag3, repo);
	run_ok(tag4, repo);
	/* allowed_signers: "alice@example.com <alice's public key>". */
	ck_assert_int_eq(kiln_file_read(&pub, signers), 0);
	line = kiln_xasprintf("alice@example.com namespaces=\"git\" %s", pub.ptr);
	free(write_file("allowed_signers", line));
	free(line);
	kiln_buf_release(&pub);
	free(signers);
	free(k1);
	free(k2);
	free(alice);
	free(mallory);
	return repo;
}

START_TEST(signed_tags)
{
	static const char tmpl[] = "{\n"
	                           "  \"name\": \"web\",\n"
	                           "  \"layers\": {\"app\": {\"repo\": \"%s\", \"ref\": \"%s\"}},\n"
	                           "  \"policy\": {\"require_signed_tags\": true, "
	                           "\"allowed_signers\": \"allowed_signers\"}\n"
	                           "}\n";
	static const struct {
		const char *ref, *part;
	} cases[] = {
	    {"v1", NULL},
	    {"v2", "tag 'v2' is signed with key SHA256:"},
	    {"v3", "tag 'v3' is not signed"},
	    {"v4", "'v4' is a lightweight tag, which carries no signature"},
	    {"v9", "v9"},
	};
	char *repo = signed_repo(), *cache = kiln_xasprintf("%s/cache", tmpdir);
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(cases); i++) {
		struct kiln_policy_options o = KILN_POLICY_OPTIONS_INIT;
		struct kiln_profile *p = NULL;
		char *text = kiln_xasprintf(tmpl, repo, cases[i].ref);
		char *path = write_file("signed.json", text);
		int error;

		o.cache_dir = cache;
		ck_assert_msg(kiln_profile_load(&p, path, NULL) == 0, "%s", kiln_error_last());
		error = kiln_policy_check(p, &o);
		if (cases[i].part == NULL) {
			ck_assert_msg(error == 0, "%s: %s", cases[i].ref, kiln_error_last());
		} else {
			char *at = kiln_xasprintf("%s:3:", path);
			ck_assert_int_eq(error, KILN_EINVAL);
			ck_assert_msg(strncmp(kiln_error_last(), at, strlen(at)) == 0 &&
			                  strstr(kiln_error_last(), cases[i].part) != NULL,
			              "%s: %s", cases[i].ref, kiln_error_last());
			ck_assert_uint_eq(lines(kiln_error_last()), 1);
			free(at);
		}
		kiln_profile_free(p);
		free(text);
		free(path);
	}
	free(repo);
	free(cache);
}
END_TEST

/* A signed tag is valid under its own name and for its own commit only. */
START_TEST(signed_tag_object_checks)
{
	static const char obj[] =
	    "object 0123456789012345678901234567890123456789\n"
	    "type commit\n"
	    "tag v1\n"
	    "tagger a <a@b> 1700000000 +0000\n\n"
	    "v1\n"
	    "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n";
	char *principal = NULL;

	ck_assert_int_eq(kiln_tagsig_verify(&principal, obj, strlen(obj), "v2",
	                                    "0123456789012345678901234567890123456789",
	                                    "/dev/null"),
	                 KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "was signed as tag 'v1'"));
	ck_assert_int_eq(kiln_tagsig_verify(&principal, obj, strlen(obj), "v1",
	                                    "9999999999999999999999999999999999999999",
	                                    "/dev/null"),
	                 KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "not at commit 9999"));
	/* A PGP signature is not an SSH one. */
	{
		struct kiln_buf b = KILN_BUF_INIT;
		kiln_buf_put(&b, obj, strlen(obj));
		memcpy(strstr(b.ptr, "SSH SIGNATURE"), "PGP SIGNATURE", 13);
		ck_assert_int_eq(kiln_tagsig_verify(&principal, b.ptr, b.size, "v1",
		                                    "0123456789012345678901234567890123456789",
		                                    "/dev/null"),
		                 KILN_EINVAL);
		ck_assert_ptr_nonnull(strstr(kiln_error_last(), "signed with OpenPGP"));
		kiln_buf_release(&b);
	}
	ck_assert_ptr_null(principal);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("validate_policy");
	TCase *tc = tcase_create("policy");

	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, complying_profile_passes);
	tcase_add_loop_test(tc, each_rule_alone, 0, KILN_ARRAY_SIZE(rule_cases));
	tcase_add_test(tc, several_at_once);
	tcase_add_test(tc, organisation_stricter);
	tcase_add_test(tc, profile_cannot_loosen);
	tcase_add_test(tc, organisation_silent_profile_decides);
	tcase_add_test(tc, release_refs_per_environment);
	tcase_add_test(tc, override_positions);
	tcase_add_loop_test(tc, bad_policy_files, 0, KILN_ARRAY_SIZE(file_cases));
	tcase_add_test(tc, policy_file_lookup);
	tcase_add_loop_test(tc, repository_sources, 0, KILN_ARRAY_SIZE(repo_cases));
	tcase_add_test(tc, repository_entries_within);
	tcase_add_test(tc, signed_tags);
	tcase_add_test(tc, signed_tag_object_checks);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
