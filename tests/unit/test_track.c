/*
 * Tracked tags: the order of versions (bake/tag_order.c) as tables, and a
 * tracking layer resolved against a small repository made with git here.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "bake/layer.h"
#include "bake/tag_order.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/proc.h"
#include "core/util.h"
#include "git_fixture.h"

/* Pairs in order: `older` comes strictly before `newer` under `pattern`. */
static const struct {
	const char *pattern, *older, *newer;
} order[] = {
    {"v*", "v1.9.2", "v1.10.0"},
    {"v*", "v1.2.0", "v1.10.0"},
    {"v*", "v0.9", "v1"},
    {"v*", "v2.0.0", "v10.0.0"},
    {"v*", "v1.2.3", "v1.2.10"},
    {"v*", "v1.2.0-rc1", "v1.2.0"},
    {"v*", "v1.2.0-rc2", "v1.2.0-rc10"},
    {"v*", "v1.2.0-alpha", "v1.2.0-beta"},
    {"v*", "v1.2.0-beta", "v1.2.0-rc1"},
    {"v*", "v1.2.0-rc.1", "v1.2.0-rc.1.1"},
    {"v*", "v1.2.0-1", "v1.2.0-rc"},
    {"v*", "v1.1.9", "v1.2.0-rc1"},
    {"v*", "v1.2", "v1.2.0"},         /* equal versions: by name */
    {"v*", "v1.2.0+b1", "v1.2.0+b2"}, /* build metadata: by name */
    {"v*", "v01.2", "v1.2"},          /* leading zeros: equal, by name */
    {"v*", "v99999999999999999999998", "v99999999999999999999999"},
    {"v*", "vlatest", "v0.0.1"}, /* not a version: below every version */
    {"v*", "v1.2.3a", "v0.1"},
    {"v*", "v1..2", "v0.1"},
    {"v*", "v-beta", "vnext"}, /* two non-versions: by name */
    {"os-*", "os-1.0.0", "os-1.1.0"},
    {"os-*", "os-2026.9.1", "os-2026.11.1"},
    {"os-*", "os-base", "os-1"},
    {"*", "1.9", "v1.10"}, /* a leading 'v' is skipped */
    {"release-2026.*", "release-2026.9", "release-2026.10"},
    {"v1.*", "v1.9", "v1.10"},
    {"v2.0.0-*", "v2.0.0-beta.2", "v2.0.0-beta.10"},
    {"v2.0.0-*", "v2.0.0-rc1", "v2.0.0"},
};

START_TEST(test_order_table)
{
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(order); i++) {
		const char *p = order[i].pattern, *a = order[i].older, *b = order[i].newer;
		ck_assert_msg(kiln_tag_order_cmp(p, a, b) < 0, "%s: %s before %s", p, a, b);
		ck_assert_msg(kiln_tag_order_cmp(p, b, a) > 0, "%s: %s after %s", p, b, a);
		ck_assert_msg(kiln_tag_order_cmp(p, a, a) == 0, "%s: %s equals itself", p, a);
	}
}
END_TEST

static const struct {
	const char *pattern, *tag;
	int candidate;
} candidates[] = {
    {"v*", "v1.0.0", 1},
    {"v*", "v1.0.0-rc1", 0}, /* a pre-release the pattern does not ask for */
    {"v*", "v1.0.0+build5", 1},
    {"v*", "vnext", 1}, /* not a version: a candidate, ranked below versions */
    {"v*", "os-1.0.0", 0},
    {"v*-rc*", "v1.0.0-rc1", 1},
    {"v*-rc*", "v1.0.0", 0},
    {"v2.0.0-*", "v2.0.0-beta.1", 1},
    {"os-*", "os-1.1.0", 1},
    {"os-*", "os-1.1.0-rc1", 0}, /* the prefix's '-' does not ask */
    {"os-*-*", "os-1.1.0-rc1", 1},
    {"v1.*", "v1.9.0", 1},
    {"v1.*", "v10.0", 0},
};

START_TEST(test_candidates)
{
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(candidates); i++)
		ck_assert_msg(kiln_tag_order_candidate(candidates[i].pattern, candidates[i].tag) ==
		                  candidates[i].candidate,
		              "%s under %s", candidates[i].tag, candidates[i].pattern);
}
END_TEST

START_TEST(test_newest)
{
	const char *tags[] = {"v1.9.2",  "v1.10.0",     "v1.10.1-rc1", "v1.2.0",
	                      "vlatest", "os-9.0.0",    "v1.10.0a",    "v1.9.10",
	                      "v0.1",    "v1.10.0-rc3", "v1.11.0-rc1"};
	const char *words[] = {"vnext", "vbeta", "os-1"};

	ck_assert_str_eq(kiln_tag_order_newest("v*", tags, KILN_ARRAY_SIZE(tags)), "v1.10.0");
	ck_assert_str_eq(kiln_tag_order_newest("v*-rc*", tags, KILN_ARRAY_SIZE(tags)),
	                 "v1.11.0-rc1");
	ck_assert_str_eq(kiln_tag_order_newest("os-*", tags, KILN_ARRAY_SIZE(tags)), "os-9.0.0");
	ck_assert_ptr_null(kiln_tag_order_newest("app-*", tags, KILN_ARRAY_SIZE(tags)));
	/* Only non-versions: the last by name. */
	ck_assert_str_eq(kiln_tag_order_newest("v*", words, KILN_ARRAY_SIZE(words)), "vnext");
	ck_assert_ptr_null(kiln_tag_order_newest("v*", words, 0));
}
END_TEST

/* ---- a tracking layer against a repository made here ---- */

static char root[] = "/tmp/kiln-test-track-XXXXXX";

static void commit_and_tag(const char *repo, const char *content, const char *tag)
{
	char *file = kiln_path_join(repo, "VERSION");

	ck_assert_int_eq(kiln_file_write_atomic(file, content, strlen(content), 0644), 0);
	free(git(repo, "add", "-A", NULL));
	free(git(repo, "commit", "-q", "-m", content, NULL));
	free(git(repo, "tag", "-a", "-m", tag, tag, NULL));
	free(file);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(root));
	setenv("HOME", root, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "kiln test", 1);
	setenv("GIT_AUTHOR_EMAIL", "test@kiln.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "kiln test", 1);
	setenv("GIT_COMMITTER_EMAIL", "test@kiln.invalid", 1);
}

static void teardown(void)
{
	kiln_rm_rf(root);
}

static int resolve(struct kiln_layer **out, const char *repo, const char *track, const char *cache)
{
	struct kiln_layer_spec s;

	memset(&s, 0, sizeof(s));
	s.name = "app";
	s.repo = s.repo_url = (char *)repo;
	s.track = (char *)track;
	return kiln_layer_resolve(out, &s, cache);
}

START_TEST(test_track_resolves_newest)
{
	char *repo = kiln_path_join(root, "app"), *cache = kiln_path_join(root, "cache");
	struct kiln_layer *l = NULL;
	char v192[41];

	ck_assert_int_eq(kiln_mkdir_p(repo, 0755), 0);
	free(git(repo, "init", "-q", NULL));
	commit_and_tag(repo, "1.2.0\n", "v1.2.0");
	commit_and_tag(repo, "1.9.2\n", "v1.9.2");
	ck_assert_int_eq(resolve(&l, repo, "v*", cache), 0);
	ck_assert_str_eq(kiln_layer_ref(l), "v1.9.2");
	memcpy(v192, kiln_layer_commit(l), sizeof(v192));
	kiln_layer_free(l);

	/* A newer release, a pre-release and a word: the fetch sees them, the order picks. */
	commit_and_tag(repo, "1.10.0\n", "v1.10.0");
	commit_and_tag(repo, "1.11.0-rc1\n", "v1.11.0-rc1");
	commit_and_tag(repo, "latest\n", "vlatest");
	ck_assert_int_eq(resolve(&l, repo, "v*", cache), 0);
	ck_assert_str_eq(kiln_layer_ref(l), "v1.10.0");
	ck_assert_str_ne(kiln_layer_commit(l), v192);
	kiln_layer_free(l);
	ck_assert_int_eq(resolve(&l, repo, "v*-rc*", cache), 0);
	ck_assert_str_eq(kiln_layer_ref(l), "v1.11.0-rc1");
	kiln_layer_free(l);

	/* Nothing matches: bad input naming the layer and the pattern. */
	ck_assert_int_eq(resolve(&l, repo, "release-*", cache), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "no tag matches track 'release-*'"));
	ck_assert_ptr_null(l);
	free(repo);
	free(cache);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("track");
	TCase *tc = tcase_create("order");
	TCase *tr = tcase_create("resolve");

	tcase_add_test(tc, test_order_table);
	tcase_add_test(tc, test_candidates);
	tcase_add_test(tc, test_newest);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_set_timeout(tr, 60);
	tcase_add_test(tr, test_track_resolves_newest);
	suite_add_tcase(s, tr);
	return s;
}

#include "check_main.h"
