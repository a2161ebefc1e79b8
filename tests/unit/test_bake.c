#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bake/gc.h"
#include "bake/key.h"
#include "bake/manifest.h"
#include "bake/pipeline.h"
#include "bake/poll.h"
#include "core/paths.h"
#include "bake/pipeline-int.h"
#include "core/common.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include "core/proc.h"
#include "tests/fixtures/ssh_server.h"

#include "aws_fixture.h"
#include "bake/target.h"

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
    {"an HTTP check", "\"listening\": true}]",
     "\"listening\": true}], \"http\": [{\"path\": \"/\"}]", NULL, 0},
    {"the smoke checks", "\"max\": 2}", "\"max\": 2}, \"smoke\": [{\"path\": \"/\"}]", NULL, 1},
    {"the policy", "\"team\": \"web\"}", "\"team\": \"web\"}, \"policy\": {\"max_capacity\": 5}",
     NULL, 1},
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
	m.total = 4.0;
	ck_assert_int_eq(kiln_manifest_write(&m, path), 0);
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

/* Polling. */

START_TEST(poll_backoff_doubles_from_20ms_to_5s)
{
	static const double want[] = {0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.0, 5.0};
	double d = 0;
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(want); i++) {
		d = kiln_poll_next_delay(d);
		ck_assert_msg(d > want[i] - 1e-9 && d < want[i] + 1e-9, "pause %zu: %g, not %g", i,
		              d, want[i]);
	}
}
END_TEST

START_TEST(poll_never_overshoots_its_deadline)
{
	struct kiln_poll p;
	double t0 = kiln_time_mono(), t;
	int n = 0, error;

	kiln_poll_start(&p, 0.5, NULL);
	while ((error = kiln_poll_wait(&p, "a test")) == 0)
		n++;
	t = kiln_time_mono() - t0;
	ck_assert_int_eq(error, KILN_ETIMEOUT);
	/* 0.02 + 0.04 + 0.08 + 0.16 + 0.2 (cut short): five looks, then the timeout. */
	ck_assert_int_eq(n, 5);
	ck_assert_msg(t >= 0.49 && t < 0.7, "waited %g s", t);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "waiting for a test"));
}
END_TEST

START_TEST(poll_stops_at_once_on_the_stop_flag)
{
	struct kiln_poll p;
	volatile int stop = 1;
	double t0 = kiln_time_mono();

	kiln_poll_start(&p, 60, &stop);
	ck_assert_int_eq(kiln_poll_wait(&p, "x"), KILN_EINTR);
	ck_assert(kiln_time_mono() - t0 < 0.1);
}
END_TEST

/* gc selection from tags alone. */

struct gc_case {
	const char *role, *run, *expires, *ask_run;
	enum kiln_gc_reason want;
};

static const struct gc_case gc_cases[] = {
    {"builder", "bake-1", "2026-11-23T10:00:00Z", NULL, KILN_GC_EXPIRED},
    {"builder", "bake-1", "2026-11-23T14:00:00Z", NULL, KILN_GC_KEEP},
    {"builder", "bake-1", "2026-11-23T14:00:00Z", "bake-1", KILN_GC_RUN},
    {"builder", "bake-1", "2026-11-23T14:00:00Z", "bake-2", KILN_GC_KEEP},
    {"builder", "bake-1", "2026-11-23T10:00:00Z", "bake-2", KILN_GC_EXPIRED},
    {"builder", "bake-1", "2026-11-23T10:00:00.500Z", NULL, KILN_GC_EXPIRED},
    {"fleet", "bake-1", "2026-11-23T10:00:00Z", "bake-1", KILN_GC_KEEP},
    {NULL, "bake-1", "2026-11-23T10:00:00Z", "bake-1", KILN_GC_KEEP},
    {"builder", NULL, "2026-11-23T14:00:00Z", "bake-1", KILN_GC_KEEP},
    {"builder", "bake-1", NULL, NULL, KILN_GC_KEEP},
    {"builder", "bake-1", "yesterday", NULL, KILN_GC_KEEP},
    {"Builder", "bake-1", "2026-11-23T10:00:00Z", NULL, KILN_GC_KEEP},
};

START_TEST(gc_selects_from_tags)
{
	const struct gc_case *c = &gc_cases[_i];
	struct kiln_aws_tags t = KILN_AWS_LIST_INIT;
	double now;

	ck_assert_int_eq(kiln_time_parse_iso8601(&now, "2026-11-23T12:00:00Z"), 0);
	kiln_aws_tags_add(&t, "kiln:profile", "web");
	if (c->role)
		kiln_aws_tags_add(&t, "kiln:role", c->role);
	if (c->run)
		kiln_aws_tags_add(&t, "kiln:run-id", c->run);
	if (c->expires)
		kiln_aws_tags_add(&t, "kiln:expires", c->expires);
	ck_assert_int_eq(kiln_gc_select(&t, now, c->ask_run), c->want);
	kiln_aws_tags_release(&t);
}
END_TEST

/* The state directory. */

/* Bug 5: `kiln gc --run-id` cleans the cloud the run baked in, as its journal says. */

static void write_journal(const char *run_id, const char *note)
{
	char *dir = kiln_xasprintf("%s/runs", tmpdir);
	char *path = kiln_xasprintf("%s/%s.jsonl", dir, run_id);
	char *text = kiln_xasprintf("{\"time\": \"2026-11-23T05:21:50Z\", \"run_id\": \"%s\", "
	                            "\"event\": \"note\", \"kind\": \"bake\", %s}\n"
	                            "{\"event\": \"note\", \"target\": \"aws\"}\n",
	                            run_id, note);

	ck_assert_int_eq(kiln_mkdir_p(dir, 0700), 0);
	ck_assert_int_eq(kiln_file_write_atomic(path, text, strlen(text), 0600), 0);
	free(text);
	free(path);
	free(dir);
}

START_TEST(run_target_from_the_journal)
{
	struct kiln_run_target t = {0};

	write_journal("bake-0123456789ab",
	              "\"target\": \"local\", \"region\": \"us-east-1\", "
	              "\"endpoint\": \"http://127.0.0.1:4612\", \"profile\": \"web\"");
	ck_assert_int_eq(kiln_run_target_read(&t, tmpdir, "bake-0123456789ab"), 0);
	ck_assert_str_eq(t.name, "local");
	ck_assert_str_eq(t.region, "us-east-1");
	ck_assert_str_eq(t.endpoint, "http://127.0.0.1:4612");
	kiln_run_target_release(&t);
	/* Journals of older kilns have no target; unknown runs and odd ids have no journal. */
	write_journal("bake-old", "\"profile\": \"web\"");
	ck_assert_int_eq(kiln_run_target_read(&t, tmpdir, "bake-old"), KILN_ENOTFOUND);
	ck_assert_ptr_null(t.name);
	ck_assert_int_eq(kiln_run_target_read(&t, tmpdir, "bake-none"), KILN_ENOTFOUND);
	ck_assert_int_eq(kiln_run_target_read(&t, tmpdir, "../runs/bake-0123456789ab"),
	                 KILN_ENOTFOUND);
	write_journal("bake-odd", "\"target\": \"moon\"");
	ck_assert_int_eq(kiln_run_target_read(&t, tmpdir, "bake-odd"), KILN_ENOTFOUND);
}
END_TEST

static int collect_progress(const struct kiln_event *ev, void *payload)
{
	if (ev->kind == KILN_EVENT_PROGRESS)
		kiln_buf_printf(payload, "%s\n", ev->message);
	return 0;
}

/*
 * gc against the AWS fixture, which answers DescribeInstances with
 * InvalidAction: reaching it at all shows which cloud gc chose.
 */
static void gc_at(struct fixture *f, struct kiln_buf *said, const char *run_id, const char *target,
                  const char *local_endpoint)
{
	struct kiln_gc_options o = KILN_GC_OPTIONS_INIT;
	struct kiln_gc_report *r = NULL;
	json_t *stats;
	int rc;

	o.run_id = run_id;
	o.target = target;
	o.local_endpoint = local_endpoint;
	o.state_dir = tmpdir;
	o.on_event = collect_progress;
	o.payload = said;
	kiln_buf_clear(said);
	rc = kiln_gc(&r, &o);
	ck_assert_int_eq(rc, KILN_ERROR);
	ck_assert_msg(strstr(kiln_error_last(), "InvalidAction") != NULL, "%s", kiln_error_last());
	ck_assert_ptr_null(r);
	stats = fixture_stats(f);
	ck_assert_str_eq(kiln_json_str(stats, "last_action"), "DescribeInstances");
	json_decref(stats);
	ck_assert_int_eq(fixture_stat(f, "unsigned"), 0);
}

START_TEST(gc_cleans_the_cloud_of_the_run)
{
	struct kiln_buf said = KILN_BUF_INIT;
	struct fixture f;
	char *note, *want;

	aws_env_clean();
	setenv("AWS_MAX_ATTEMPTS", "1", 1);
	fixture_start(&f, NULL);
	/* A run of a "target": "local" profile: the local cloud, where it was. */
	note = kiln_xasprintf("\"target\": \"local\", \"endpoint\": \"%s\"", f.url);
	write_journal("bake-0123456789ab", note);
	gc_at(&f, &said, "bake-0123456789ab", NULL, NULL);
	want = kiln_xasprintf("cleaning the local cloud at %s, where run bake-0123456789ab baked "
	                      "(from its journal)\n",
	                      f.url);
	ck_assert_str_eq(said.ptr, want);
	free(want);
	/* An AWS run: AWS, in the run's region (the endpoint is the fixture's). */
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
	setenv("AWS_ENDPOINT_URL", f.url, 1);
	write_journal("bake-aws", "\"target\": \"aws\", \"region\": \"eu-west-3\"");
	gc_at(&f, &said, "bake-aws", NULL, NULL);
	ck_assert_str_eq(
	    said.ptr, "cleaning AWS in eu-west-3, where run bake-aws baked (from its journal)\n");
	/* --target wins over the journal. */
	gc_at(&f, &said, "bake-aws", "local", f.url);
	want = kiln_xasprintf("cleaning the local cloud at %s\n", f.url);
	ck_assert_str_eq(said.ptr, want);
	free(want);
	fixture_stop(&f);
	free(note);
	kiln_buf_release(&said);
	aws_env_clean();
}
END_TEST

START_TEST(state_dir_follows_the_environment)
{
	char *d = NULL;

	setenv("KILN_STATE_DIR", "/srv/kiln-state", 1);
	setenv("XDG_STATE_HOME", "/xdg", 1);
	setenv("HOME", "/home/u", 1);
	ck_assert_int_eq(kiln_paths_state(&d, NULL), 0);
	ck_assert_str_eq(d, "/srv/kiln-state");
	free(d);
	unsetenv("KILN_STATE_DIR");
	ck_assert_int_eq(kiln_paths_state(&d, NULL), 0);
	ck_assert_str_eq(d, "/xdg/kiln");
	free(d);
	unsetenv("XDG_STATE_HOME");
	ck_assert_int_eq(kiln_paths_state(&d, NULL), 0);
	ck_assert_str_eq(d, "/home/u/.local/state/kiln");
	free(d);
}
END_TEST

/* A console is the machine's output: its lines reach messages escaped. */
START_TEST(console_tail_is_escaped)
{
	struct kiln_buf b = KILN_BUF_INIT;

	kiln_builder_console_tail(&b, "one\r\ntwo\r\n\x1b]0;pwned\a three\r\n\x1b[2Jfour\r\n\r\n",
	                          3);
	ck_assert_str_eq(b.ptr, "two\n\\x1b]0;pwned\\x07 three\n\\x1b[2Jfour");
	kiln_buf_clear(&b);
	kiln_builder_console_tail(&b, "", 3);
	ck_assert_str_eq(b.ptr, "(console empty)");
	kiln_buf_release(&b);
}
END_TEST

START_TEST(cache_hit_manifest_and_timings)
{
	struct kiln_manifest m;
	json_t *j, *timings;
	const char *k;
	json_t *v;
	int i = 0;
	static const char *const order[] = {"layers", "source", "cache", "total"};

	kiln_manifest_init(&m);
	m.image_id = kiln_xstrdup("ami-0123456789abcdef0");
	m.image_name = kiln_xstrdup("kiln/web/v1.0.0/0f88cf891031");
	m.region = kiln_xstrdup("us-east-1");
	m.run_id = kiln_xstrdup("bake-0123456789ab");
	m.cache_hit = 1;
	kiln_manifest_add_step(&m, "layers", 0.5);
	kiln_manifest_add_step(&m, "source", 0.125);
	kiln_manifest_add_step(&m, "cache", 0.0625);
	m.total = 0.75;
	j = kiln_manifest_json(&m);
	ck_assert(json_is_true(json_object_get(j, "cache_hit")));
	timings = json_object_get(j, "timings");
	json_object_foreach(timings, k, v)
	{
		ck_assert_str_eq(k, order[i++]);
		ck_assert(json_is_number(v));
	}
	ck_assert_int_eq(i, 4);
	json_decref(j);
	kiln_manifest_release(&m);
}
END_TEST

/*
 * The builder's side of a bake (upload, provisioners, checks) against a
 * private sshd on loopback: the remote commands kiln sends really work in a
 * POSIX shell with GNU tar.
 */

static struct ssh_server srv;
static int srv_ok;
static char rdir[] = "/tmp/kiln-bake-remote-XXXXXX";

static void remote_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(rdir));
	/* sshd's privilege separation directory, as its service unit makes it. */
	if (access("/run/sshd", F_OK) != 0)
		ck_assert_int_eq(kiln_mkdir_p("/run/sshd", 0755), 0);
	srv_ok = ssh_server_start(&srv, NULL) == 0;
}

static void remote_teardown(void)
{
	ssh_server_stop(&srv);
	kiln_rm_rf(rdir);
	strcpy(rdir, "/tmp/kiln-bake-remote-XXXXXX");
}

#define REMOTE_PROFILE                                                                             \
	"{\"name\": \"web\", \"target\": \"aws\",\n"                                               \
	" \"layers\": {\"os\": {\"repo\": \"os\", \"ref\": \"os-1\", \"provision\": "              \
	"[\"p.sh\"]},\n"                                                                           \
	"            \"app\": {\"repo\": \"app\", \"ref\": \"v1\", \"provision\": "                \
	"[\"bin/%s\"]}},\n"                                                                        \
	" \"bake\": {\"layer_dir\": \"%s/layers\", \"provision_timeout_s\": 20,\n"                 \
	"          \"variables\": {\"MODE\": \"prod\", \"TOKEN\": {\"value\": \"t0ken-s3cret\", "  \
	"\"secret\": true}}},\n"                                                                   \
	" \"validate\": {\"checks\": [{\"file\": \"%s/out-app\", \"contains\": \"%s\"},\n"         \
	"                           {\"command\": \"test -d %s/layers/os\"}]}}\n"

/* A layer archive NAME.tar.zst holding `files` (path, content, executable). */
static struct kiln_layer *make_layer(const char *name, const char *const files[][2])
{
	struct kiln_layer *l = kiln_xcalloc(1, sizeof(*l));
	char *src = kiln_xasprintf("%s/src-%s", rdir, name);
	int status = -1;
	size_t i;

	l->name = kiln_xstrdup(name);
	l->archive = kiln_xasprintf("%s/%s.tar.zst", rdir, name);
	for (i = 0; files[i][0] != NULL; i++) {
		char *path = kiln_xasprintf("%s/%s", src, files[i][0]);
		char *dir = kiln_path_dirname(path);
		ck_assert_int_eq(kiln_mkdir_p(dir, 0755), 0);
		ck_assert_int_eq(
		    kiln_file_write_atomic(path, files[i][1], strlen(files[i][1]), 0755), 0);
		free(dir);
		free(path);
	}
	{
		char *argv[] = {"tar", "--zstd", "-cf", l->archive, "-C", src, ".", NULL};
		ck_assert_int_eq(kiln_proc_run(&status, NULL, NULL, argv), 0);
		ck_assert_int_eq(status, 0);
	}
	free(src);
	return l;
}

struct remote {
	struct kiln_profile *profile;
	struct kiln_bake_options opts;
	struct bake b;
};

static void remote_start(struct remote *r, const char *app_script, const char *want)
{
	static const char *const os_files[][2] = {
	    {"p.sh",
	     "#!/bin/sh\nset -e\necho \"os: $KILN_LAYER in $KILN_LAYER_DIR\"\n"
	     "echo \"$KILN_PROFILE $KILN_OS_REF $MODE\" > \"$KILN_LAYER_DIR/../../out-os\"\n"},
	    {"etc/motd", "hello\n"},
	    {NULL, NULL}};
	static const char *const app_files[][2] = {
	    {"bin/ok.sh", "#!/bin/sh\necho \"$KILN_APP_REF $MODE $TOKEN $(pwd)\" > "
	                  "\"$KILN_LAYER_DIR/../../out-app\"\n"},
	    {"bin/fail.sh", "#!/bin/sh\necho line one\necho the reason >&2\nexit 3\n"},
	    /* Kills the sshd process of its own session, as "systemctl restart ssh" might. */
	    {"bin/killssh.sh",
	     "#!/bin/sh\necho stopping sshd\np=$$\n"
	     "while [ \"$p\" -gt 1 ]; do p=$(awk '{print $4}' /proc/$p/stat)\n"
	     "  [ \"$(cat /proc/$p/comm)\" = sshd ] && break; done\nkill -KILL \"$p\"\nsleep 5\n"},
	    {NULL, NULL}};
	char *path = kiln_xasprintf("%s/web.json", rdir);
	char *text = kiln_xasprintf(REMOTE_PROFILE, app_script, rdir, rdir, want, rdir);
	struct kiln_ssh_fingerprints fps = KILN_SSH_FINGERPRINTS_INIT;
	struct kiln_ssh_connect_opts o = {0};
	char *console = ssh_server_console(&srv);

	ck_assert_msg(srv_ok, "sshd did not start");
	ck_assert_int_eq(kiln_file_write_atomic(path, text, strlen(text), 0644), 0);
	ck_assert_msg(kiln_profile_load(&r->profile, path, NULL) == 0, "%s", kiln_error_last());
	memset(&r->b, 0, sizeof(r->b));
	memset(&r->opts, 0, sizeof(r->opts));
	r->opts.version = KILN_BAKE_OPTIONS_VERSION;
	r->b.profile = r->profile;
	r->b.opts = &r->opts;
	r->b.bake = &r->profile->bake;
	r->b.deadline = kiln_time_mono() + 60;
	r->b.os_ref = "os-1";
	r->b.app_ref = "v1";
	r->b.layers = kiln_xcalloc(2, sizeof(*r->b.layers));
	r->b.layers[0] = make_layer("os", os_files);
	r->b.layers[1] = make_layer("app", app_files);
	kiln_log_add_secret("t0ken-s3cret");
	ck_assert_int_eq(kiln_ssh_fingerprints_parse(&fps, console), 0);
	o.host = "127.0.0.1";
	o.port = srv.port;
	o.user = "root";
	o.key = srv.client_key;
	o.fingerprints = &fps;
	o.wait_timeout = 5;
	ck_assert_msg(kiln_ssh_connect(&r->b.builder.ssh, &o) == 0, "%s", kiln_error_last());
	kiln_ssh_fingerprints_release(&fps);
	free(console);
	free(text);
	free(path);
}

static void remote_end(struct remote *r)
{
	size_t i;

	kiln_ssh_session_free(r->b.builder.ssh);
	for (i = 0; i < 2; i++)
		kiln_layer_free(r->b.layers[i]);
	free(r->b.layers);
	kiln_profile_free(r->profile);
}

/* The contents of RDIR/REL, trailing whitespace removed. */
static char *slurp(const char *rel)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char *path = kiln_xasprintf("%s/%s", rdir, rel);

	ck_assert_msg(kiln_file_read(&b, path) == 0, "%s", kiln_error_last());
	free(path);
	kiln_buf_rtrim(&b);
	return kiln_buf_detach(&b);
}

START_TEST(builder_upload_provision_checks)
{
	struct remote r;
	char *s, *want;

	remote_start(&r, "ok.sh", "prod t0ken-s3cret");
	ck_assert_msg(kiln_bake__upload(&r.b) == 0, "%s", kiln_error_last());
	s = slurp("layers/os/etc/motd");
	ck_assert_str_eq(s, "hello");
	free(s);
	/* Staging directories are gone once the layer is in place. */
	s = kiln_xasprintf("%s/layers/os.kiln-stage", rdir);
	ck_assert_int_ne(access(s, F_OK), 0);
	free(s);
	/* A second upload replaces the layer whole. */
	ck_assert_msg(kiln_bake__upload(&r.b) == 0, "%s", kiln_error_last());

	ck_assert_msg(kiln_bake__provision(&r.b) == 0, "%s", kiln_error_last());
	s = slurp("out-os");
	ck_assert_str_eq(s, "web os-1 prod");
	free(s);
	s = slurp("out-app");
	want = kiln_xasprintf("v1 prod t0ken-s3cret %s/layers/app", rdir);
	ck_assert_str_eq(s, want);
	free(want);
	free(s);
	ck_assert_msg(kiln_bake__checks(&r.b) == 0, "%s", kiln_error_last());
	remote_end(&r);
}
END_TEST

START_TEST(builder_failures_carry_their_output)
{
	struct remote r;

	remote_start(&r, "fail.sh", "never there");
	ck_assert_int_eq(kiln_bake__upload(&r.b), 0);
	ck_assert_int_eq(kiln_bake__provision(&r.b), KILN_ERROR);
	ck_assert_msg(
	    strstr(kiln_error_last(), "provisioner app/bin/fail.sh exited with status 3") != NULL,
	    "%s", kiln_error_last());
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "line one"));
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "the reason"));
	/* out-app was never written: the file check fails, the command check holds. */
	ck_assert_int_eq(kiln_bake__checks(&r.b), KILN_ERROR);
	ck_assert_msg(strstr(kiln_error_last(), "1 of 2 checks failed") != NULL, "%s",
	              kiln_error_last());
	remote_end(&r);
}
END_TEST

/* A provisioner that takes sshd down: the error says so, and what ran last. */
START_TEST(builder_lost_connection_names_the_provisioner)
{
	struct remote r;

	remote_start(&r, "killssh.sh", "x");
	ck_assert_int_eq(kiln_bake__upload(&r.b), 0);
	ck_assert_int_eq(kiln_bake__provision(&r.b), KILN_ERROR);
	ck_assert_msg(strstr(kiln_error_last(), "while provisioner app/bin/killssh.sh ran") != NULL,
	              "%s", kiln_error_last());
	ck_assert_msg(strstr(kiln_error_last(), "the SSH connection to '127.0.0.1:") != NULL, "%s",
	              kiln_error_last());
	ck_assert_msg(strstr(kiln_error_last(), "its last output line: stopping sshd") != NULL,
	              "%s", kiln_error_last());
	ck_assert_ptr_null(strstr(kiln_error_last(), "transport read\n"));
	/* What comes next does not try the dead connection. */
	ck_assert_int_eq(kiln_bake__checks(&r.b), KILN_ERROR);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "was lost earlier"));
	remote_end(&r);
}
END_TEST

static int collect_events(const struct kiln_event *ev, void *payload)
{
	if (ev->kind == KILN_EVENT_PROGRESS)
		kiln_buf_printf(payload, "%s\n", ev->message);
	else if (ev->kind == KILN_EVENT_OUTPUT)
		kiln_buf_printf(payload, "[%s] %s\n", ev->label, ev->message);
	return 0;
}

/*
 * Every check runs in one remote command (one SSH session on the builder, not
 * one per check); each fails alone, with its own lines, escaped; a line that
 * looks like the end of a check does not end it.
 */
START_TEST(builder_checks_run_in_one_command)
{
	static const char checks[] =
	    "{\"checks\": ["
	    "{\"file\": \"/nonexistent\\nkiln-check-0123456789abcdef 0 0\", \"name\": \"forger\"},"
	    "{\"command\": \"sleep 30\", \"timeout_s\": 1, \"name\": \"sleeper\"},"
	    "{\"file\": \"/nonexistent/\\u001b]0;pwned\\u0007\", \"name\": \"hostile\"},"
	    "{\"command\": \"test \\\"$KILN_APP_REF\\\" = v1\", \"name\": \"fine\"}]}";
	struct remote r;
	struct kiln_validate_spec saved;
	struct kiln_buf log = KILN_BUF_INIT, said = KILN_BUF_INIT;
	char logname[] = "/tmp/kiln-bake-checks-XXXXXX";
	FILE *fp = fdopen(mkstemp(logname), "w");
	json_t *v = NULL;
	const char *p;
	double t0;
	int execs = 0;

	remote_start(&r, "ok.sh", "x");
	ck_assert_int_eq(kiln_json_load_string(&v, checks, "checks"), 0);
	saved = r.profile->validate;
	kiln_validate_spec_fill(&r.profile->validate, v);
	setenv("KILN_TRACE", "ssh", 1);
	kiln_log_setup(1, 0, KILN_COLOR_NEVER);
	kiln_log_set_stream(fp, 0);
	r.b.events.cb = collect_events;
	r.b.events.payload = &said;
	t0 = kiln_time_mono();
	ck_assert_int_eq(kiln_bake__checks(&r.b), KILN_ERROR);
	ck_assert_double_lt(kiln_time_mono() - t0, 5.0);
	ck_assert_msg(strstr(kiln_error_last(), "3 of 4 checks failed on the builder") != NULL,
	              "%s", kiln_error_last());
	ck_assert_msg(strstr(kiln_error_last(),
	                     "forger: /nonexistent\n    kiln-check-0123456789abcdef"
	                     " 0 0 does not exist") != NULL,
	              "%s", kiln_error_last());
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "sleeper: exited with 124, expected 0"));
	ck_assert_ptr_nonnull(
	    strstr(kiln_error_last(), "hostile: /nonexistent/\\x1b]0;pwned\\x07"));
	ck_assert_ptr_null(strchr(kiln_error_last(), '\033'));
	ck_assert_ptr_null(strstr(kiln_error_last(), "fine"));
	fflush(fp);
	ck_assert_int_eq(kiln_file_read(&log, logname), 0);
	for (p = log.ptr; (p = strstr(p, "trace ssh: exec on")) != NULL; p++)
		execs++;
	ck_assert_int_eq(execs, 1);
	/* Its output and its verdicts go out as the bake's events, escaped. */
	ck_assert_msg(strstr(said.ptr, "[check] /nonexistent/\\x1b]0;pwned\\x07") != NULL, "%s",
	              said.ptr);
	ck_assert_ptr_nonnull(strstr(said.ptr, "check ok: fine\n"));
	ck_assert_ptr_null(strchr(said.ptr, '\033'));
	unsetenv("KILN_TRACE");
	kiln_log_set_stream(NULL, -1);
	kiln_log_setup(0, 0, KILN_COLOR_NEVER);
	fclose(fp);
	unlink(logname);
	kiln_buf_release(&log);
	kiln_buf_release(&said);
	kiln_validate_spec_release(&r.profile->validate);
	r.profile->validate = saved;
	json_decref(v);
	remote_end(&r);
}
END_TEST

/* bake/provision.c, for builders without zstd. */
START_TEST(layers_decompress_for_builders_without_zstd)
{
	static const char *const files[][2] = {{"a/b.txt", "bee\n"}, {NULL, NULL}};
	struct kiln_layer *l;
	struct kiln_buf out = KILN_BUF_INIT;
	char *plain = kiln_xasprintf("%s/plain.tar", rdir);
	char *argv[] = {"tar", "-xOf", plain, "./a/b.txt", NULL};
	int status = -1, fd;

	l = make_layer("x", files);
	fd = open(plain, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_msg(unzstd_fd(l->archive, fd, plain) == 0, "%s", kiln_error_last());
	close(fd);
	ck_assert_int_eq(kiln_proc_run(&status, &out, NULL, argv), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_str_eq(out.ptr, "bee\n");
	/* Not zstd at all: a clear error. */
	fd = open(plain, O_RDONLY);
	ck_assert_int_eq(unzstd_fd(plain, fd, "x"), KILN_ERROR);
	close(fd);
	kiln_buf_release(&out);
	kiln_layer_free(l);
	free(plain);
}
END_TEST

START_TEST(builder_stop_flag_interrupts_a_provisioner)
{
	struct remote r;
	volatile int stop = 1;

	remote_start(&r, "ok.sh", "x");
	ck_assert_int_eq(kiln_bake__upload(&r.b), 0);
	r.b.stop = &stop;
	ck_assert_int_eq(kiln_bake__provision(&r.b), KILN_EINTR);
	remote_end(&r);
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

	tc = tcase_create("gc");
	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_add_test(tc, run_target_from_the_journal);
	tcase_add_test(tc, gc_cleans_the_cloud_of_the_run);
	suite_add_tcase(s, tc);

	tc = tcase_create("pipeline");
	tcase_add_test(tc, poll_backoff_doubles_from_20ms_to_5s);
	tcase_add_test(tc, poll_never_overshoots_its_deadline);
	tcase_add_test(tc, poll_stops_at_once_on_the_stop_flag);
	tcase_add_loop_test(tc, gc_selects_from_tags, 0, (int)KILN_ARRAY_SIZE(gc_cases));
	tcase_add_test(tc, state_dir_follows_the_environment);
	tcase_add_test(tc, cache_hit_manifest_and_timings);
	tcase_add_test(tc, console_tail_is_escaped);
	suite_add_tcase(s, tc);

	tc = tcase_create("remote");
	tcase_add_checked_fixture(tc, remote_setup, remote_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, builder_upload_provision_checks);
	tcase_add_test(tc, builder_failures_carry_their_output);
	tcase_add_test(tc, builder_lost_connection_names_the_provisioner);
	tcase_add_test(tc, builder_checks_run_in_one_command);
	tcase_add_test(tc, builder_stop_flag_interrupts_a_provisioner);
	tcase_add_test(tc, layers_decompress_for_builders_without_zstd);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
