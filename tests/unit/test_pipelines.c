/*
 * The pipelines' parts that need no cloud: the dependency graph of
 * rebuild-world (order, duplicate and missing names, cycles with their
 * positions, what a failure stops) and the loading of a world from a
 * directory of profiles. The rebuild itself is tested end to end
 * (tests/integration/world_local.py).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/util.h"
#include "kiln/world.h"
#include "pipelines/graph.h"

/* A graph from "name:after,after" specs; positions are "NAME.json:1:1" and "NAME.json:2:K". */
struct fixture {
	struct kiln_graph g;
	char *where[16];
	const char *after[16][8];
	char *after_at[16][8];
	char names[16][16];
	char afters[16][8][16];
};

static struct fixture *make(const char *const *specs, size_t n)
{
	struct fixture *f = kiln_xcalloc(1, sizeof(*f));

	f->g.n = n;
	f->g.v = kiln_xcalloc(n, sizeof(*f->g.v));
	for (size_t i = 0; i < n; i++) {
		const char *colon = strchr(specs[i], ':');
		size_t k = 0;

		snprintf(f->names[i], sizeof(f->names[i]), "%.*s",
		         (int)(colon ? colon - specs[i] : (long)strlen(specs[i])), specs[i]);
		f->where[i] = kiln_xasprintf("%s.json:1:1", f->names[i]);
		for (const char *p = colon ? colon + 1 : ""; *p != '\0'; k++) {
			size_t len = strcspn(p, ",");

			snprintf(f->afters[i][k], 16, "%.*s", (int)len, p);
			f->after[i][k] = f->afters[i][k];
			f->after_at[i][k] =
			    kiln_xasprintf("%s.json:2:%zu", f->names[i], 10 * (k + 1));
			p += len + (p[len] == ',');
		}
		f->g.v[i].name = f->names[i];
		f->g.v[i].where = f->where[i];
		f->g.v[i].after = f->after[i];
		f->g.v[i].after_at = (const char *const *)f->after_at[i];
		f->g.v[i].nafter = k;
	}
	return f;
}

static void unmake(struct fixture *f)
{
	for (size_t i = 0; i < f->g.n; i++) {
		free(f->where[i]);
		for (size_t k = 0; k < f->g.v[i].nafter; k++)
			free(f->after_at[i][k]);
	}
	kiln_graph_release(&f->g);
	free(f->g.v);
	free(f);
}

static size_t pos(const struct kiln_graph *g, const char *name)
{
	size_t i = kiln_graph_find(g, name);

	for (size_t k = 0; k < g->n; k++)
		if (g->order[k] == i)
			return k;
	ck_abort_msg("'%s' not in the order", name);
	return 0;
}

START_TEST(order_puts_each_after_its_deps)
{
	static const char *const specs[] = {"web:api,auth", "api:db", "db", "auth:db", "cdn"};
	struct fixture *f = make(specs, 5);

	ck_assert_int_eq(kiln_graph_link(&f->g), 0);
	ck_assert_uint_lt(pos(&f->g, "db"), pos(&f->g, "api"));
	ck_assert_uint_lt(pos(&f->g, "db"), pos(&f->g, "auth"));
	ck_assert_uint_lt(pos(&f->g, "api"), pos(&f->g, "web"));
	ck_assert_uint_lt(pos(&f->g, "auth"), pos(&f->g, "web"));
	ck_assert_uint_eq(f->g.v[kiln_graph_find(&f->g, "web")].ndeps, 2);
	unmake(f);
}
END_TEST

START_TEST(a_name_given_twice_in_after_is_one_dep)
{
	static const char *const specs[] = {"web:db,db", "db"};
	struct fixture *f = make(specs, 2);

	ck_assert_int_eq(kiln_graph_link(&f->g), 0);
	ck_assert_uint_eq(f->g.v[0].ndeps, 1);
	unmake(f);
}
END_TEST

START_TEST(a_cycle_is_refused_at_each_edge)
{
	static const char *const specs[] = {"a:b", "b:c", "c:a", "d"};
	struct fixture *f = make(specs, 4);
	const char *msg;

	ck_assert_int_eq(kiln_graph_link(&f->g), KILN_EINVAL);
	msg = kiln_error_last();
	ck_assert_ptr_nonnull(strstr(msg, "a.json:2:10: after: cycle a -> b -> c -> a ('a' after "
	                                  "'b' here)"));
	ck_assert_ptr_nonnull(strstr(msg, "b.json:2:10: after: cycle a -> b -> c -> a"));
	ck_assert_ptr_nonnull(strstr(msg, "c.json:2:10: after: cycle a -> b -> c -> a ('c' after "
	                                  "'a' here)"));
	ck_assert_ptr_null(strstr(msg, "d.json"));
	unmake(f);
}
END_TEST

START_TEST(a_cycle_inside_a_longer_path_names_only_its_members)
{
	static const char *const specs[] = {"top:x", "x:y", "y:z", "z:y"};
	struct fixture *f = make(specs, 4);
	const char *msg;

	ck_assert_int_eq(kiln_graph_link(&f->g), KILN_EINVAL);
	msg = kiln_error_last();
	ck_assert_ptr_nonnull(strstr(msg, "cycle y -> z -> y"));
	ck_assert_ptr_null(strstr(msg, "top"));
	ck_assert_ptr_null(strstr(msg, "x.json"));
	unmake(f);
}
END_TEST

START_TEST(self_and_missing_names_are_refused_with_positions)
{
	static const char *const specs[] = {"a:a", "b:c,nope"};
	struct fixture *f = make(specs, 2);
	const char *msg;

	ck_assert_int_eq(kiln_graph_link(&f->g), KILN_EINVAL);
	msg = kiln_error_last();
	ck_assert_ptr_nonnull(strstr(msg, "a.json:2:10: after: 'a' cannot come after itself"));
	ck_assert_ptr_nonnull(strstr(msg, "b.json:2:10: after: no profile of this world is "
	                                  "called 'c'"));
	ck_assert_ptr_nonnull(strstr(msg, "b.json:2:20: after: no profile of this world is "
	                                  "called 'nope'"));
	unmake(f);
}
END_TEST

START_TEST(a_duplicate_name_is_refused)
{
	static const char *const specs[] = {"web", "web"};
	struct fixture *f = make(specs, 2);

	ck_assert_int_eq(kiln_graph_link(&f->g), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "profile name 'web' is also the name of"));
	unmake(f);
}
END_TEST

START_TEST(a_failure_stops_only_its_dependants)
{
	/* db <- api <- web, db <- auth; cache alone; cdn after cache. */
	static const char *const specs[] = {"db",      "api:db", "web:api,cache",
	                                    "auth:db", "cache",  "cdn:cache"};
	struct fixture *f = make(specs, 6);
	unsigned char failed[6] = {0};
	size_t why[6];

	ck_assert_int_eq(kiln_graph_link(&f->g), 0);
	ck_assert_uint_eq(kiln_graph_propagate(&f->g, failed, why), 0);
	for (size_t i = 0; i < 6; i++)
		ck_assert_uint_eq(why[i], KILN_GRAPH_NONE);
	failed[kiln_graph_find(&f->g, "api")] = 1;
	ck_assert_uint_eq(kiln_graph_propagate(&f->g, failed, why), 1);
	ck_assert_uint_eq(why[kiln_graph_find(&f->g, "web")], kiln_graph_find(&f->g, "api"));
	ck_assert_uint_eq(why[kiln_graph_find(&f->g, "api")], KILN_GRAPH_NONE);
	ck_assert_uint_eq(why[kiln_graph_find(&f->g, "auth")], KILN_GRAPH_NONE);
	ck_assert_uint_eq(why[kiln_graph_find(&f->g, "cdn")], KILN_GRAPH_NONE);
	/* Transitively: db stops api, auth and, through api, web. */
	memset(failed, 0, sizeof(failed));
	failed[kiln_graph_find(&f->g, "db")] = 1;
	ck_assert_uint_eq(kiln_graph_propagate(&f->g, failed, why), 3);
	ck_assert_uint_eq(why[kiln_graph_find(&f->g, "web")], kiln_graph_find(&f->g, "api"));
	ck_assert_uint_eq(why[kiln_graph_find(&f->g, "api")], kiln_graph_find(&f->g, "db"));
	ck_assert_uint_eq(why[kiln_graph_find(&f->g, "cache")], KILN_GRAPH_NONE);
	unmake(f);
}
END_TEST

START_TEST(the_longest_chains_start_first)
{
	/* db <- api <- web; cache <- cdn; alone. */
	static const char *const specs[] = {"alone",  "web:api", "cdn:cache",
	                                    "api:db", "cache",   "db"};
	struct fixture *f = make(specs, 6);
	size_t *by;

	ck_assert_int_eq(kiln_graph_link(&f->g), 0);
	by = kiln_graph_by_height(&f->g);
	ck_assert_str_eq(f->g.v[by[0]].name, "db");
	ck_assert_str_eq(f->g.v[by[1]].name, "api");
	ck_assert_str_eq(f->g.v[by[2]].name, "cache");
	/* Then the leaves, in the graph's order. */
	for (size_t k = 3; k < 6; k++)
		ck_assert(strcmp(f->g.v[by[k]].name, "alone") == 0 ||
		          strcmp(f->g.v[by[k]].name, "web") == 0 ||
		          strcmp(f->g.v[by[k]].name, "cdn") == 0);
	free(by);
	unmake(f);
}
END_TEST

/* A world from files: the positions are the files' own. */
static char *world_dir(void)
{
	char *dir = kiln_xstrdup("/tmp/kiln-test-world-XXXXXX");

	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static void put(const char *dir, const char *name, const char *text)
{
	char *path = kiln_xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

#define PROFILE(name, after)                                                                       \
	"{\n  \"name\": \"" name "\",\n  \"after\": " after                                        \
	",\n  \"layers\": {\"app\": {\"repo\": \"/r\", \"ref\": \"v1\"}}\n}\n"

START_TEST(a_world_loads_in_order)
{
	char *dir = world_dir();
	struct kiln_world *w = NULL;

	put(dir, "a.json", PROFILE("web", "[\"db\"]"));
	put(dir, "b.json", PROFILE("db", "[]"));
	put(dir, "notes.txt", "not a profile");
	ck_assert_int_eq(kiln_world_load(&w, dir, NULL), 0);
	ck_assert_uint_eq(kiln_world_count(w), 2);
	ck_assert_str_eq(kiln_world_name(w, 0), "db");
	ck_assert_str_eq(kiln_world_name(w, 1), "web");
	ck_assert_str_eq(kiln_world_result(w, 0), "pending");
	kiln_world_free(w);
	kiln_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(a_world_with_a_cycle_names_files_and_positions)
{
	char *dir = world_dir();
	struct kiln_world *w = NULL;
	char *want;

	put(dir, "a.json", PROFILE("web", "[\"db\"]"));
	put(dir, "b.json", PROFILE("db", "[\"web\"]"));
	put(dir, "c.json", PROFILE("ok", "[\"nowhere\"]"));
	ck_assert_int_eq(kiln_world_load(&w, dir, NULL), KILN_EINVAL);
	ck_assert_ptr_null(w);
	want = kiln_xasprintf("%s/a.json:3:13: after: cycle web -> db -> web", dir);
	ck_assert_msg(strstr(kiln_error_last(), want) != NULL, "%s", kiln_error_last());
	free(want);
	want = kiln_xasprintf("%s/b.json:3:13: after: cycle web -> db -> web", dir);
	ck_assert_msg(strstr(kiln_error_last(), want) != NULL, "%s", kiln_error_last());
	free(want);
	want = kiln_xasprintf("%s/c.json:3:13: after: no profile of this world is called "
	                      "'nowhere'",
	                      dir);
	ck_assert_msg(strstr(kiln_error_last(), want) != NULL, "%s", kiln_error_last());
	free(want);
	kiln_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(after_is_checked_and_not_set_per_environment)
{
	char *dir = world_dir();
	struct kiln_world *w = NULL;

	put(dir, "a.json",
	    "{\"name\": \"web\", \"after\": [\"Bad Name\"],\n"
	    " \"layers\": {\"app\": {\"repo\": \"/r\", \"ref\": \"v1\"}},\n"
	    " \"environments\": {\"prod\": {\"after\": []}}}\n");
	ck_assert_int_eq(kiln_world_load(&w, dir, NULL), KILN_EINVAL);
	ck_assert_msg(strstr(kiln_error_last(), "a.json:1:27: after[0]: must be") != NULL, "%s",
	              kiln_error_last());
	ck_assert_msg(strstr(kiln_error_last(), "'after' cannot be set per environment") != NULL,
	              "%s", kiln_error_last());
	kiln_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(an_empty_directory_is_no_world)
{
	char *dir = world_dir();
	struct kiln_world *w = NULL;

	ck_assert_int_eq(kiln_world_load(&w, dir, NULL), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "no profile (*.json)"));
	ck_assert_int_eq(kiln_world_load(&w, "/nonexistent/kiln", NULL), KILN_EINVAL);
	kiln_rm_rf(dir);
	free(dir);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("pipelines");
	TCase *tc = tcase_create("world");

	tcase_add_test(tc, order_puts_each_after_its_deps);
	tcase_add_test(tc, a_name_given_twice_in_after_is_one_dep);
	tcase_add_test(tc, a_cycle_is_refused_at_each_edge);
	tcase_add_test(tc, a_cycle_inside_a_longer_path_names_only_its_members);
	tcase_add_test(tc, self_and_missing_names_are_refused_with_positions);
	tcase_add_test(tc, a_duplicate_name_is_refused);
	tcase_add_test(tc, a_failure_stops_only_its_dependants);
	tcase_add_test(tc, the_longest_chains_start_first);
	tcase_add_test(tc, a_world_loads_in_order);
	tcase_add_test(tc, a_world_with_a_cycle_names_files_and_positions);
	tcase_add_test(tc, after_is_checked_and_not_set_per_environment);
	tcase_add_test(tc, an_empty_directory_is_no_world);
	suite_add_tcase(s, tc);
	return s;
}

#include "tests/unit/check_main.h"
