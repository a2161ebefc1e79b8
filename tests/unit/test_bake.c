#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bake/key.h"
#include "bake/manifest.h"
#include "kiln.h"

/* Derived independently: sha256 of json.dumps(doc, sort_keys=True, separators=(",", ":")). */
#define PINNED_KEY "0f88cf89103172809a22587f9b544d85779ce15757ae222849834f7a74d33e60"

static char tmpdir[] = "/tmp/kiln-bake-XXXXXX";

static void setup_dir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_dir(void)
{
	kiln_rm_rf(tmpdir);
	strcpy(tmpdir, "/tmp/kiln-bake-XXXXXX");
}

static const char base[] =
    "{\"name\": \"web\",\n"
    " \"layers\": {\"os\": {\"repo\": \"os\", \"ref\": \"os-1\", \"provision\": [\"a.sh\", "
    "\"b.sh\"]},\n"
    "            \"app\": {\"repo\": \"app\", \"ref\": \"v1\", \"provision\": [\"i.sh\"]}},\n"
    " \"bake\": {\"variables\": {\"MODE\": \"prod\", \"TOKEN\": {\"value\": \"s3cret\", "
    "\"secret\": true}}},\n"
    " \"validate\": {\"checks\": [{\"port\": 8080, \"listening\": true}]},\n"
    " \"deploy\": {\"capacity\": {\"min\": 1, \"desired\": 1, \"max\": 2}},\n"
    " \"tags\": {\"team\": \"web\"}}\n";

static const char *const commits[] = {"1111111111111111111111111111111111111111",
                                      "2222222222222222222222222222222222222222"};

/* The key of `text` (a profile) after replacing `from` with `to`. */
static void key_of(char out[65], const char *from, const char *to, const char *image)
{
	struct kiln_buf text = KILN_BUF_INIT;
	struct kiln_profile *p = NULL;
	const char *at = from ? strstr(base, from) : NULL;
	char *path = kiln_xasprintf("%s/web.json", tmpdir);

	if (from != NULL)
		ck_assert_msg(at != NULL, "'%s' not in the base profile", from);
	if (at != NULL) {
		kiln_buf_put(&text, base, (size_t)(at - base));
		kiln_buf_puts(&text, to);
		kiln_buf_puts(&text, at + strlen(from));
	} else {
		kiln_buf_puts(&text, base);
	}
	ck_assert_int_eq(kiln_file_write_atomic(path, text.ptr, text.size, 0644), 0);
	ck_assert_msg(kiln_profile_load(&p, path, NULL) == 0, "%s", kiln_error_last());
	kiln_bake_key(out, p, image ? image : "ami-0123456789abcdef0", commits);
	kiln_profile_free(p);
	kiln_buf_release(&text);
	free(path);
}

START_TEST(key_is_stable_and_pinned)
{
	char a[65], b[65];

	key_of(a, NULL, NULL, NULL);
	key_of(b, NULL, NULL, NULL);
	ck_assert_str_eq(a, b);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 64);
	/*
	 * Pinned: if this changes, images already baked stop being found.
	 * Change it only together with KILN_BAKE_FORMAT.
	 */
	ck_assert_str_eq(a, PINNED_KEY);
}
END_TEST

struct change {
	const char *what, *from, *to, *image;
	int same; /* the key must not change */
};

static const struct change changes[] = {
    {"source image", NULL, NULL, "ami-0fffffffffffffff0", 0},
    {"provisioner order", "[\"a.sh\", \"b.sh\"]", "[\"b.sh\", \"a.sh\"]", NULL, 0},
    {"a provisioner", "\"i.sh\"", "\"install.sh\"", NULL, 0},
    {"a check", "\"port\": 8080", "\"port\": 8081", NULL, 0},
    {"a variable", "\"prod\"", "\"staging\"", NULL, 0},
    {"the login user", "\"bake\": {", "\"bake\": {\"ssh_user\": \"admin\", ", NULL, 0},
    {"a layer subtree", "\"ref\": \"v1\",", "\"ref\": \"v1\", \"path\": \"site\",", NULL, 0},
    {"a secret's value", "\"s3cret\"", "\"rotated\"", NULL, 1},
    {"the capacity", "\"max\": 2", "\"max\": 9", NULL, 1},
    {"the tags", "\"team\": \"web\"", "\"team\": \"data\"", NULL, 1},
    {"the ref name of the same commit", "\"ref\": \"v1\"", "\"ref\": \"v1-again\"", NULL, 1},
    {"key order in the file", "\"repo\": \"os\", \"ref\": \"os-1\"",
     "\"ref\": \"os-1\", \"repo\": \"os\"", NULL, 1},
};

START_TEST(key_follows_what_decides_the_image)
{
	const struct change *c = &changes[_i];
	char before[65], after[65];

	key_of(before, NULL, NULL, NULL);
	key_of(after, c->from, c->to, c->image);
	if (c->same)
		ck_assert_msg(strcmp(before, after) == 0, "%s changed the key", c->what);
	else
		ck_assert_msg(strcmp(before, after) != 0, "%s did not change the key", c->what);
}
END_TEST

START_TEST(commits_change_the_key)
{
	struct kiln_profile *p = NULL;
	char *path = kiln_xasprintf("%s/web.json", tmpdir);
	const char *other[] = {commits[0], "3333333333333333333333333333333333333333"};
	char a[65], b[65];

	ck_assert_int_eq(kiln_file_write_atomic(path, base, strlen(base), 0644), 0);
	ck_assert_int_eq(kiln_profile_load(&p, path, NULL), 0);
	kiln_bake_key(a, p, "ami-0123456789abcdef0", commits);
	kiln_bake_key(b, p, "ami-0123456789abcdef0", other);
	ck_assert_str_ne(a, b);
	kiln_profile_free(p);
	free(path);
}
END_TEST

START_TEST(secret_values_never_enter_the_inputs)
{
	struct kiln_profile *p = NULL;
	char *path = kiln_xasprintf("%s/web.json", tmpdir);
	json_t *doc;
	char *text;

	ck_assert_int_eq(kiln_file_write_atomic(path, base, strlen(base), 0644), 0);
	ck_assert_int_eq(kiln_profile_load(&p, path, NULL), 0);
	doc = kiln_bake_key_inputs(p, "ami-0123456789abcdef0", commits);
	text = json_dumps(doc, JSON_COMPACT);
	ck_assert_ptr_null(strstr(text, "s3cret"));
	ck_assert_ptr_nonnull(strstr(text, "\"TOKEN\":\"(secret)\""));
	ck_assert_ptr_nonnull(strstr(text, "\"MODE\":\"prod\""));
	free(text);
	json_decref(doc);
	kiln_profile_free(p);
	free(path);
}
END_TEST

START_TEST(manifest_has_exactly_the_documented_keys)
{
	static const char *const keys[] = {"image_id",  "image_name", "region", "bake_key",
	                                   "cache_hit", "run_id",     "layers", "timings"};
	struct kiln_manifest m;
	struct kiln_buf text = KILN_BUF_INIT;
	char *path = kiln_xasprintf("%s/manifest.json", tmpdir);
	json_t *j = NULL, *layer, *timings;
	size_t i;

	kiln_manifest_init(&m);
	m.image_id = kiln_xstrdup("ami-0123456789abcdef0");
	m.image_name = kiln_bake_image_name("web", "v1.0.0", PINNED_KEY);
	m.region = kiln_xstrdup("us-east-1");
	snprintf(m.bake_key, sizeof(m.bake_key), "%s", PINNED_KEY);
	m.run_id = kiln_xstrdup("run-1");
	kiln_manifest_add_layer(&m, "os", "../os", "os-1", commits[0], PINNED_KEY);
	kiln_manifest_add_step(&m, "layers", 0.25);
	kiln_manifest_add_step(&m, "provision", 1.5);
	kiln_manifest_add_step(&m, "layers", 0.25);
	ck_assert_int_eq(kiln_manifest_write(&m, path, 4.0), 0);
	ck_assert_int_eq(kiln_file_read(&text, path), 0);
	ck_assert_int_eq(kiln_json_load_string(&j, text.ptr, path), 0);
	ck_assert_uint_eq(json_object_size(j), KILN_ARRAY_SIZE(keys));
	for (i = 0; i < KILN_ARRAY_SIZE(keys); i++)
		ck_assert_msg(json_object_get(j, keys[i]) != NULL, "no key %s", keys[i]);
	ck_assert(json_is_false(json_object_get(j, "cache_hit")));
	ck_assert_str_eq(kiln_json_str(j, "image_name"), "kiln/web/v1.0.0/0f88cf891031");
	layer = json_array_get(json_object_get(j, "layers"), 0);
	ck_assert_uint_eq(json_object_size(layer), 5);
	ck_assert_str_eq(kiln_json_str(layer, "commit"), commits[0]);
	timings = json_object_get(j, "timings");
	/* Steps keep their order, repeated steps add up, and the total comes last. */
	ck_assert_str_eq(json_object_iter_key(json_object_iter(timings)), "layers");
	ck_assert(json_real_value(json_object_get(timings, "layers")) == 0.5);
	ck_assert(json_real_value(json_object_get(timings, "total")) == 4.0);
	json_decref(j);
	kiln_buf_release(&text);
	kiln_manifest_release(&m);
	free(path);
}
END_TEST

START_TEST(image_names_follow_ec2_rules)
{
	char *n = kiln_bake_image_name("web", "v1.4.2+build:7", PINNED_KEY);
	char longref[200];

	ck_assert_str_eq(n, "kiln/web/v1.4.2-build-7/0f88cf891031");
	free(n);
	memset(longref, 'r', sizeof(longref) - 1);
	longref[sizeof(longref) - 1] = '\0';
	n = kiln_bake_image_name("web", longref, PINNED_KEY);
	ck_assert_uint_eq(strlen(n), 128);
	ck_assert_str_eq(n + 128 - 13, "/0f88cf891031");
	free(n);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("bake");
	TCase *tc = tcase_create("key");

	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_add_test(tc, key_is_stable_and_pinned);
	tcase_add_loop_test(tc, key_follows_what_decides_the_image, 0,
	                    (int)KILN_ARRAY_SIZE(changes));
	tcase_add_test(tc, commits_change_the_key);
	tcase_add_test(tc, secret_values_never_enter_the_inputs);
	tcase_add_test(tc, manifest_has_exactly_the_documented_keys);
	tcase_add_test(tc, image_names_follow_ec2_rules);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
