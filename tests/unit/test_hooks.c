/*
 * hooks/: command hooks (their input, variables, output, time limit, and a
 * pre_ hook stopping its stage), webhooks against a loopback server
 * started here (the HMAC checked with the secret, retries after 503s, the
 * secret in no output, log or error), and the audit log (each action's
 * line, filters, and concurrent writers whose lines never interleave).
 * The hooks in a real deploy: tests/integration/deploy_hooks.py.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/event.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include "hooks/hooks-int.h"
#include "kiln/hooks.h"
#include "kiln/profile.h"

#define SECRET "s3cr3t-hook-key-7b1f"

/* What the next callback saw: every message, joined. */
struct seen {
	struct kiln_buf output;   /* [hook] lines */
	struct kiln_buf warnings; /* warnings */
	struct kiln_buf all;      /* every message */
};

static int next_cb(const struct kiln_event *ev, void *payload)
{
	struct seen *s = payload;

	if (ev->kind == KILN_EVENT_OUTPUT && strcmp(ev->label, "hook") == 0)
		kiln_buf_printf(&s->output, "%s\n", ev->message);
	if (ev->kind == KILN_EVENT_WARNING)
		kiln_buf_printf(&s->warnings, "%s\n", ev->message);
	if (ev->message != NULL)
		kiln_buf_printf(&s->all, "%s\n", ev->message);
	return 0;
}

static struct kiln_buf logged = KILN_BUF_INIT;

static void log_cb(enum kiln_log_level level, const char *line, void *payload)
{
	(void)level;
	(void)payload;
	kiln_buf_printf(&logged, "%s\n", line);
}

/* One directory per run, made and removed by the parent process whatever the tests do. */
static char root[64], dir[96];

static void root_make(void)
{
	snprintf(root, sizeof(root), "/tmp/kiln-hooks-XXXXXX");
	if (mkdtemp(root) == NULL)
		abort();
}

static void root_remove(void)
{
	kiln_rm_rf(root);
}

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "%s/t-XXXXXX", root);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("KILN_STATE_DIR", dir, 1);
	unsetenv("KILN_AUDIT");
}

static void rm_tmp(void)
{
	kiln_rm_rf(dir);
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	char *p = kiln_path_join(dir, name);

	ck_assert_int_eq(kiln_file_write_atomic(p, text, strlen(text), mode), 0);
	free(p);
}

static char *read_file(const char *name)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char *p = kiln_path_join(dir, name);

	if (kiln_file_read(&b, p) < 0)
		kiln_error_clear();
	free(p);
	return kiln_buf_detach(&b);
}

/* A profile in `dir` with `hooks` (a JSON object) and hooks over it. */
static struct kiln_profile *profile_with(const char *hooks)
{
	struct kiln_profile *p = NULL;
	char *text = kiln_xasprintf("{\"name\": \"web\", \"layers\": {\"os\": {\"repo\": \"r\", "
	                            "\"ref\": \"v1\"}}, \"hooks\": %s}",
	                            hooks);
	char *path = kiln_path_join(dir, "web.json");

	write_file("web.json", text, 0644);
	ck_assert_msg(kiln_profile_load(&p, path, NULL) == 0, "%s", kiln_error_last());
	free(text);
	free(path);
	return p;
}

static struct kiln_hooks *hooks_for(struct kiln_profile *p, struct seen *s)
{
	struct kiln_hooks_options o = KILN_HOOKS_OPTIONS_INIT;
	struct kiln_hooks *h = NULL;

	o.next = next_cb;
	o.next_payload = s;
	ck_assert_int_eq(kiln_hooks_new(&h, p, &o), 0);
	return h;
}

static struct kiln_event deploy_event(enum kiln_event_kind kind, const char *step)
{
	struct kiln_event ev = {.kind = kind, .step = step, .stage = "deploy", .message = ""};

	ev.profile = "web";
	ev.env = "prod";
	ev.run_id = "deploy-0123456789ab";
	ev.image_id = "ami-0abc";
	ev.release = "v1.2.0";
	ev.commits = "app=1f2e3d os=9a8b7c";
	ev.url = "http://lb.local:8080/";
	ev.caller = "arn:aws:iam::000000000000:user/ops";
	return ev;
}

static void seen_release(struct seen *s)
{
	kiln_buf_release(&s->output);
	kiln_buf_release(&s->warnings);
	kiln_buf_release(&s->all);
}

START_TEST(command_hook_gets_json_variables_and_prefixed_output)
{
	struct seen s = {KILN_BUF_INIT, KILN_BUF_INIT, KILN_BUF_INIT};
	struct kiln_profile *p;
	struct kiln_hooks *h;
	struct kiln_event ev;
	json_t *j;
	char *got, *env;

	mkdir_tmp();
	write_file("notify.sh",
	           "#!/bin/sh\ncat > got.json\nenv | grep '^KILN_' | sort > env.txt\n"
	           "printf 'deploying %s\\033[31m red\\n' \"$KILN_RELEASE\"\necho oops >&2\n",
	           0755);
	p = profile_with("{\"pre_deploy\": [\"notify.sh\"]}");
	h = hooks_for(p, &s);
	ev = deploy_event(KILN_EVENT_HOOK, "pre_deploy");
	ck_assert_int_eq(kiln_hooks_on_event(&ev, h), 0);

	got = read_file("got.json");
	j = json_loads(got, 0, NULL);
	ck_assert_msg(j != NULL, "stdin was '%s'", got);
	ck_assert_str_eq(kiln_json_str(j, "stage"), "pre_deploy");
	ck_assert_str_eq(kiln_json_str(j, "action"), "deploy");
	ck_assert_str_eq(kiln_json_str(j, "profile"), "web");
	ck_assert_str_eq(kiln_json_str(j, "env"), "prod");
	ck_assert_str_eq(kiln_json_str(j, "release"), "v1.2.0");
	ck_assert_str_eq(kiln_json_str(j, "image"), "ami-0abc");
	ck_assert_str_eq(kiln_json_str(json_object_get(j, "commits"), "app"), "1f2e3d");
	ck_assert_str_eq(kiln_json_str(json_object_get(j, "commits"), "os"), "9a8b7c");
	ck_assert_str_eq(kiln_json_str(j, "url"), "http://lb.local:8080/");
	ck_assert_str_eq(kiln_json_str(j, "run_id"), "deploy-0123456789ab");
	ck_assert_str_eq(kiln_json_str(j, "caller"), "arn:aws:iam::000000000000:user/ops");

	env = read_file("env.txt");
	ck_assert_ptr_nonnull(strstr(env, "KILN_STAGE=pre_deploy\n"));
	ck_assert_ptr_nonnull(strstr(env, "KILN_PROFILE=web\n"));
	ck_assert_ptr_nonnull(strstr(env, "KILN_ENV=prod\n"));
	ck_assert_ptr_nonnull(strstr(env, "KILN_RELEASE=v1.2.0\n"));
	ck_assert_ptr_nonnull(strstr(env, "KILN_IMAGE=ami-0abc\n"));
	ck_assert_ptr_nonnull(strstr(env, "KILN_COMMITS=app=1f2e3d os=9a8b7c\n"));
	ck_assert_ptr_nonnull(strstr(env, "KILN_URL=http://lb.local:8080/\n"));
	ck_assert_ptr_nonnull(strstr(env, "KILN_RUN_ID=deploy-0123456789ab\n"));
	ck_assert_ptr_nonnull(strstr(env, "KILN_CALLER=arn:aws:iam::000000000000:user/ops\n"));

	/* Both streams, line by line, the escape byte shown, not sent to the terminal. */
	ck_assert_msg(strstr(s.output.ptr, "deploying v1.2.0\\x1b[31m red\n") != NULL, "'%s'",
	              s.output.ptr);
	ck_assert_ptr_nonnull(strstr(s.output.ptr, "oops\n"));
	ck_assert_ptr_null(strchr(s.output.ptr, 0x1b));
	json_decref(j);
	free(got);
	free(env);
	kiln_hooks_free(h);
	kiln_profile_free(p);
	seen_release(&s);
	rm_tmp();
}
END_TEST

static int alive(pid_t pid)
{
	char path[64], state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%*d %*s %c", &state) != 1)
		state = 0;
	fclose(f);
	return state != 0 && state != 'Z';
}

START_TEST(time_limit_kills_the_hooks_process_group)
{
	struct seen s = {KILN_BUF_INIT, KILN_BUF_INIT, KILN_BUF_INIT};
	struct kiln_profile *p;
	struct kiln_hooks *h;
	struct kiln_event ev;
	double t0;
	char *pidtext;
	pid_t child;
	int rc, i;

	mkdir_tmp();
	p = profile_with("{\"pre_swap\": [{\"command\": \"sleep 60 & echo $! > child.pid; "
	                 "echo started; wait\", \"timeout_s\": 1}]}");
	h = hooks_for(p, &s);
	ev = deploy_event(KILN_EVENT_HOOK, "pre_swap");
	t0 = kiln_time_mono();
	rc = kiln_hooks_on_event(&ev, h);
	ck_assert_int_eq(rc, KILN_ETIMEOUT);
	ck_assert_double_lt(kiln_time_mono() - t0, 5.0);
	ck_assert_msg(strstr(kiln_error_last(), "pre_swap hook") != NULL &&
	                  strstr(kiln_error_last(), "limit of 1 s") != NULL,
	              "'%s'", kiln_error_last());
	ck_assert_ptr_nonnull(strstr(s.output.ptr, "started"));
	pidtext = read_file("child.pid");
	child = (pid_t)atoi(pidtext);
	ck_assert_int_gt(child, 1);
	/* The hook's own child went with it (killed as a group), reaped by whoever adopted it. */
	for (i = 0; i < 50 && alive(child); i++)
		usleep(20000);
	ck_assert_msg(!alive(child), "the hook's child %d outlived the time limit", (int)child);
	free(pidtext);
	kiln_hooks_free(h);
	kiln_profile_free(p);
	seen_release(&s);
	rm_tmp();
}
END_TEST

/* A hook that exits 0 leaves nothing running, and what it echoes is redacted. */
START_TEST(clean_hook_takes_its_group_and_prints_no_secret)
{
	struct seen s = {KILN_BUF_INIT, KILN_BUF_INIT, KILN_BUF_INIT};
	struct kiln_profile *p;
	struct kiln_hooks *h;
	struct kiln_event ev;
	char *pidtext;
	pid_t child;
	int i;

	mkdir_tmp();
	kiln_log_add_secret("echoed-secret-91c2");
	p = profile_with("{\"post_swap\": [\"sleep 60 >/dev/null 2>&1 & echo $! > child.pid; "
	                 "echo key=echoed-secret-91c2\"]}");
	h = hooks_for(p, &s);
	ev = deploy_event(KILN_EVENT_HOOK, "post_swap");
	ck_assert_int_eq(kiln_hooks_on_event(&ev, h), 0);
	ck_assert_msg(strstr(s.output.ptr, "key=***") != NULL, "'%s'", s.output.ptr);
	ck_assert_ptr_null(strstr(s.all.ptr, "echoed-secret"));
	pidtext = read_file("child.pid");
	child = (pid_t)atoi(pidtext);
	ck_assert_int_gt(child, 1);
	for (i = 0; i < 50 && alive(child); i++)
		usleep(20000);
	ck_assert_msg(!alive(child), "the hook's background child %d outlived it", (int)child);
	free(pidtext);
	kiln_hooks_free(h);
	kiln_profile_free(p);
	seen_release(&s);
	rm_tmp();
}
END_TEST

/* A webhook URL's user information and query never reach a warning or the log. */
START_TEST(webhook_url_credentials_never_reach_a_message)
{
	struct seen s = {KILN_BUF_INIT, KILN_BUF_INIT, KILN_BUF_INIT};
	struct kiln_profile *p;
	struct kiln_hooks *h;
	struct kiln_event ev;

	mkdir_tmp();
	kiln_buf_clear(&logged);
	kiln_log_set_callback(log_cb, NULL);
	p = profile_with("{\"post_deploy\": [{\"url\": "
	                 "\"http://kiln:pa55word-91@127.0.0.1:9/x?token=t0ken-abc\", "
	                 "\"timeout_s\": 1}]}");
	h = hooks_for(p, &s);
	ev = deploy_event(KILN_EVENT_HOOK, "post_deploy");
	ck_assert_int_eq(kiln_hooks_on_event(&ev, h), 0);
	kiln_log_set_callback(NULL, NULL);
	ck_assert_msg(s.warnings.size > 0, "the failed webhook was not reported");
	ck_assert_msg(strstr(s.all.ptr, "pa55word") == NULL && strstr(s.all.ptr, "t0ken") == NULL,
	              "'%s'", s.all.ptr);
	ck_assert_msg(logged.ptr == NULL || (strstr(logged.ptr, "pa55word") == NULL &&
	                                     strstr(logged.ptr, "t0ken") == NULL),
	              "'%s'", logged.ptr);
	kiln_hooks_free(h);
	kiln_profile_free(p);
	seen_release(&s);
	rm_tmp();
}
END_TEST

START_TEST(failing_pre_hook_stops_its_stage_post_hook_only_warns)
{
	struct seen s = {KILN_BUF_INIT, KILN_BUF_INIT, KILN_BUF_INIT};
	struct kiln_profile *p;
	struct kiln_hooks *h;
	struct kiln_emitter e = {0};
	int rc;

	mkdir_tmp();
	p = profile_with("{\"pre_bake\": [\"echo checked > pre1.txt\", \"exit 3\", "
	                 "\"echo ran > pre3.txt\"], \"post_swap\": [\"exit 4\"], "
	                 "\"pre_swap\": [\"exit 5\"]}");
	h = hooks_for(p, &s);
	e.cb = kiln_hooks_on_event;
	e.payload = h;
	e.base.stage = "bake";
	e.base.profile = "web";
	/* The bake's start is pre_bake: its refusal stops the stage with the hook's message. */
	rc = kiln_emitter_begin(&e);
	ck_assert_int_lt(rc, 0);
	ck_assert_msg(strstr(kiln_error_last(), "pre_bake hook: hook 'exit 3' failed (exit 3)") !=
	                  NULL,
	              "'%s'", kiln_error_last());
	kiln_emitter_end(&e, rc);
	free(read_file("pre1.txt"));
	{
		char *one = read_file("pre1.txt"), *three = read_file("pre3.txt");
		ck_assert_str_eq(one, "checked\n");
		ck_assert_str_eq(three, ""); /* hooks after the failing one do not run */
		free(one);
		free(three);
	}
	/* A deploy's pre_swap refuses; its post_swap only warns. */
	e.base.stage = "deploy";
	rc = kiln_emit_hook(&e, "pre_swap");
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "pre_swap hook: hook 'exit 5'"));
	rc = kiln_emit_hook(&e, "post_swap");
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(strstr(s.warnings.ptr, "post_swap hook: hook 'exit 4' failed (exit 4)") !=
	                  NULL,
	              "'%s'", s.warnings.ptr);
	kiln_hooks_free(h);
	kiln_profile_free(p);
	seen_release(&s);
	rm_tmp();
}
END_TEST

/* A loopback HTTP server: replies `fail` 503s, then 200; keeps what it was sent. */
struct server {
	int fd, port, fail, requests;
	char signature[128];
	struct kiln_buf body;
	struct kiln_buf raw; /* every byte received */
	pthread_t thread;
};

static void serve_one(struct server *sv, int c)
{
	char buf[8192];
	struct kiln_buf req = KILN_BUF_INIT;
	size_t want = 0;
	char *hdr_end = NULL;
	const char *reply;

	for (;;) {
		ssize_t r = read(c, buf, sizeof(buf));
		if (r <= 0)
			break;
		kiln_buf_put(&req, buf, (size_t)r);
		hdr_end = strstr(req.ptr, "\r\n\r\n");
		if (hdr_end != NULL) {
			const char *cl = strcasestr(req.ptr, "Content-Length:");
			want =
			    (size_t)(hdr_end - req.ptr) + 4 + (cl ? strtoul(cl + 15, NULL, 10) : 0);
			if (req.size >= want)
				break;
		}
	}
	kiln_buf_put(&sv->raw, req.ptr, req.size);
	if (hdr_end != NULL) {
		const char *sig = strcasestr(req.ptr, "X-Kiln-Signature-256: ");
		kiln_buf_clear(&sv->body);
		kiln_buf_put(&sv->body, hdr_end + 4, req.size - (size_t)(hdr_end + 4 - req.ptr));
		sv->signature[0] = '\0';
		if (sig != NULL)
			snprintf(sv->signature, sizeof(sv->signature), "%.*s",
			         (int)strcspn(sig + 22, "\r\n"), sig + 22);
	}
	sv->requests++;
	reply = sv->requests <= sv->fail
	            ? "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: "
	              "close\r\n\r\nbusy"
	            : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
	if (write(c, reply, strlen(reply)) < 0)
		(void)0;
	kiln_buf_release(&req);
}

static void *serve(void *arg)
{
	struct server *sv = arg;
	int c;

	while ((c = accept(sv->fd, NULL, NULL)) >= 0) {
		serve_one(sv, c);
		close(c);
	}
	return NULL;
}

static void server_start(struct server *sv, int fail)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	memset(sv, 0, sizeof(*sv));
	kiln_buf_init(&sv->body, KILN_BUF_DEFAULT_CAP);
	kiln_buf_init(&sv->raw, KILN_BUF_DEFAULT_CAP);
	sv->fail = fail;
	sv->fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(sv->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(sv->fd, 8), 0);
	getsockname(sv->fd, (struct sockaddr *)&a, &len);
	sv->port = ntohs(a.sin_port);
	pthread_create(&sv->thread, NULL, serve, sv);
}

static void server_stop(struct server *sv)
{
	shutdown(sv->fd, SHUT_RDWR);
	close(sv->fd);
	pthread_join(sv->thread, NULL);
	kiln_buf_release(&sv->body);
	kiln_buf_release(&sv->raw);
}

START_TEST(webhook_is_signed_retried_and_keeps_its_secret)
{
	struct seen s = {KILN_BUF_INIT, KILN_BUF_INIT, KILN_BUF_INIT};
	struct server sv;
	struct kiln_profile *p;
	struct kiln_hooks *h;
	struct kiln_event ev;
	char *hooks, want[72], *audit;
	json_t *j;

	mkdir_tmp();
	setenv("KILN_TEST_WEBHOOK_SECRET", SECRET, 1);
	setenv("KILN_TRACE", "http", 1);
	kiln_log_setup(2, 0, KILN_COLOR_NEVER);
	kiln_log_set_callback(log_cb, NULL);
	server_start(&sv, 2);
	hooks = kiln_xasprintf("{\"post_deploy\": [{\"url\": \"http://127.0.0.1:%d/hook\", "
	                       "\"secret_env\": \"KILN_TEST_WEBHOOK_SECRET\", \"timeout_s\": 10}]}",
	                       sv.port);
	p = profile_with(hooks);
	h = hooks_for(p, &s);
	ev = deploy_event(KILN_EVENT_HOOK, "post_deploy");
	ck_assert_int_eq(kiln_hooks_on_event(&ev, h), 0);
	/* Two 503s, then the delivery. */
	ck_assert_int_eq(sv.requests, 3);
	ck_assert_msg(s.warnings.size == 0, "'%s'", s.warnings.ptr);
	j = json_loads(sv.body.ptr, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(kiln_json_str(j, "stage"), "post_deploy");
	ck_assert_str_eq(kiln_json_str(j, "release"), "v1.2.0");
	kiln_hook_signature(want, SECRET, strlen(SECRET), sv.body.ptr, sv.body.size);
	ck_assert_str_eq(sv.signature, want);
	json_decref(j);

	/* A server that never recovers: a warning for a post_ hook, bounded attempts. */
	server_stop(&sv);
	server_start(&sv, 1000);
	kiln_hooks_free(h);
	kiln_profile_free(p);
	free(hooks);
	hooks = kiln_xasprintf("{\"post_deploy\": [{\"url\": \"http://127.0.0.1:%d/hook\", "
	                       "\"secret_env\": \"KILN_TEST_WEBHOOK_SECRET\", \"timeout_s\": 5}], "
	                       "\"pre_swap\": [{\"url\": \"http://127.0.0.1:%d/hook\", "
	                       "\"secret_env\": \"KILN_TEST_WEBHOOK_SECRET\", \"timeout_s\": 5}]}",
	                       sv.port, sv.port);
	p = profile_with(hooks);
	h = hooks_for(p, &s);
	ck_assert_int_eq(kiln_hooks_on_event(&ev, h), 0);
	ck_assert_int_eq(sv.requests, 4);
	ck_assert_msg(strstr(s.warnings.ptr, "HTTP 503 after 4 attempts") != NULL, "'%s'",
	              s.warnings.ptr);
	ev = deploy_event(KILN_EVENT_HOOK, "pre_swap");
	ck_assert_int_lt(kiln_hooks_on_event(&ev, h), 0);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "HTTP 503"));
	ck_assert_ptr_null(strstr(kiln_error_last(), SECRET));

	/* The secret is in nothing kiln said, logged (traces on) or wrote. */
	audit = read_file("audit.jsonl");
	ck_assert_ptr_null(strstr(s.all.ptr, SECRET));
	ck_assert_ptr_null(strstr(logged.ptr, SECRET));
	ck_assert_ptr_null(strstr(sv.raw.ptr, SECRET));
	ck_assert_ptr_null(strstr(audit, SECRET));
	ck_assert_ptr_nonnull(strstr(logged.ptr, "POST http://127.0.0.1")); /* traces were on */
	free(audit);
	kiln_log_set_callback(NULL, NULL);
	unsetenv("KILN_TRACE");
	server_stop(&sv);
	kiln_hooks_free(h);
	kiln_profile_free(p);
	free(hooks);
	seen_release(&s);
	kiln_buf_release(&logged);
	rm_tmp();
}
END_TEST

START_TEST(webhook_without_its_secret_fails_naming_the_variable)
{
	struct kiln_hook hook = {0};
	int rc;

	unsetenv("KILN_TEST_NO_SUCH_SECRET");
	hook.url = "http://127.0.0.1:9/";
	hook.secret_env = "KILN_TEST_NO_SUCH_SECRET";
	hook.timeout_s = 1;
	rc = kiln_hook_webhook_send(&hook, "{}", "post_deploy", NULL);
	ck_assert_int_eq(rc, KILN_EINVAL);
	ck_assert_str_eq(kiln_error_last(),
	                 "webhook secret variable KILN_TEST_NO_SUCH_SECRET is not set");
}
END_TEST

START_TEST(webhook_url_shown_without_credentials_or_query)
{
	char *s = kiln_hook_url_shown("https://user:pw@hooks.example.com:8443/x/y?token=abc#f");

	ck_assert_str_eq(s, "https://hooks.example.com:8443/x/y");
	free(s);
}
END_TEST

/* RFC 4231 test case 2: HMAC-SHA-256 with key "Jefe". */
START_TEST(signature_matches_rfc4231)
{
	char sig[72];
	const char *data = "what do ya want for nothing?";

	kiln_hook_signature(sig, "Jefe", 4, data, strlen(data));
	ck_assert_str_eq(sig,
	                 "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
END_TEST

static json_t *audit_lines(const struct kiln_audit_filter *f)
{
	char *text = NULL;
	size_t skipped = 0;
	json_t *j;

	ck_assert_int_eq(kiln_audit_read(&text, &skipped, NULL, f), 0);
	j = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(j);
	free(text);
	return j;
}

START_TEST(every_action_writes_its_audit_line)
{
	static const char *const stages[] = {"bake",    "deploy",  "rollback",
	                                     "promote", "destroy", "gc"};
	static const char *const changes[] = {"swap", "lease broken", "image deregistered",
	                                      "deleted"};
	struct seen s = {KILN_BUF_INIT, KILN_BUF_INIT, KILN_BUF_INIT};
	struct kiln_audit_filter f = {0};
	struct kiln_hooks *h;
	struct kiln_event ev;
	json_t *all, *o;
	size_t i;
	char *extra;

	mkdir_tmp();
	extra = kiln_path_join(dir, "more/extra.jsonl");
	{
		struct kiln_hooks_options o2 = KILN_HOOKS_OPTIONS_INIT;
		o2.next = next_cb;
		o2.next_payload = &s;
		o2.audit_file = extra;
		ck_assert_int_eq(kiln_hooks_new(&h, NULL, &o2), 0);
	}
	for (i = 0; i < KILN_ARRAY_SIZE(stages); i++) {
		ev = deploy_event(KILN_EVENT_STAGE_END, NULL);
		ev.stage = stages[i];
		ev.seconds = 1.25;
		ev.result = i == 1 ? KILN_ERROR : 0;
		ev.message = i == 1 ? "the gate failed" : "";
		kiln_hooks_on_event(&ev, h);
	}
	for (i = 0; i < KILN_ARRAY_SIZE(changes); i++) {
		ev = deploy_event(KILN_EVENT_CHANGE, changes[i]);
		ev.label = "kiln-web-prod-blue";
		kiln_hooks_on_event(&ev, h);
	}
	/* No line: a dry run, a stage that only reads, progress. */
	ev = deploy_event(KILN_EVENT_STAGE_END, NULL);
	ev.stage = "destroy";
	ev.dry_run = 1;
	kiln_hooks_on_event(&ev, h);
	ev = deploy_event(KILN_EVENT_STAGE_END, NULL);
	ev.stage = "status";
	kiln_hooks_on_event(&ev, h);
	ev = deploy_event(KILN_EVENT_PROGRESS, NULL);
	kiln_hooks_on_event(&ev, h);

	all = audit_lines(NULL);
	ck_assert_int_eq(json_array_size(all), KILN_ARRAY_SIZE(stages) + KILN_ARRAY_SIZE(changes));
	for (i = 0; i < json_array_size(all); i++) {
		o = json_array_get(all, i);
		ck_assert_str_eq(
		    kiln_json_str(o, "action"),
		    i < KILN_ARRAY_SIZE(stages) ? stages[i] : changes[i - KILN_ARRAY_SIZE(stages)]);
		ck_assert_str_eq(kiln_json_str(o, "profile"), "web");
		ck_assert_str_eq(kiln_json_str(o, "env"), "prod");
		ck_assert_str_eq(kiln_json_str(o, "caller"), "arn:aws:iam::000000000000:user/ops");
		ck_assert_str_eq(kiln_json_str(o, "release"), "v1.2.0");
		ck_assert_str_eq(kiln_json_str(o, "image"), "ami-0abc");
		ck_assert_str_eq(kiln_json_str(o, "run_id"), "deploy-0123456789ab");
		ck_assert_str_eq(kiln_json_str(json_object_get(o, "commits"), "app"), "1f2e3d");
		ck_assert_ptr_nonnull(kiln_json_str(o, "host"));
		ck_assert_ptr_nonnull(kiln_json_str(o, "time"));
		ck_assert_str_eq(kiln_json_str(o, "result"), i == 1 ? "failed" : "ok");
	}
	o = json_array_get(all, 1);
	ck_assert_str_eq(kiln_json_str(o, "error"), "the gate failed");
	ck_assert_double_eq_tol(json_number_value(json_object_get(o, "duration_s")), 1.25, 0.001);
	ck_assert_str_eq(kiln_json_str(json_array_get(all, 6), "target"), "kiln-web-prod-blue");
	json_decref(all);

	/* The extra file has the same lines. */
	{
		char *a = read_file("audit.jsonl"), *b = read_file("more/extra.jsonl");
		ck_assert_int_gt(strlen(a), 0);
		ck_assert_int_eq(strlen(a), strlen(b));
		free(a);
		free(b);
	}
	/* Filters: profile, env, since. */
	f.profile = "api";
	all = audit_lines(&f);
	ck_assert_int_eq(json_array_size(all), 0);
	json_decref(all);
	f.profile = "web";
	f.env = "prod";
	f.since = kiln_time_now() - 60;
	all = audit_lines(&f);
	ck_assert_int_eq(json_array_size(all), 10);
	json_decref(all);
	f.since = kiln_time_now() + 60;
	all = audit_lines(&f);
	ck_assert_int_eq(json_array_size(all), 0);
	json_decref(all);
	free(extra);
	kiln_hooks_free(h);
	seen_release(&s);
	rm_tmp();
}
END_TEST

#define WRITERS    4
#define PER_WRITER 400

/* Lines of very different sizes (up to ~9 KB), each naming its writer and number. */
static void write_lines(struct kiln_audit *a, int writer)
{
	int i;

	for (i = 0; i < PER_WRITER; i++) {
		size_t pad = (size_t)((i * 7919 + writer * 104729) % 9000);
		char *fill = kiln_xmalloc(pad + 1), *line;

		memset(fill, 'a' + writer, pad);
		fill[pad] = '\0';
		line = kiln_xasprintf("{\"writer\": %d, \"n\": %d, \"fill\": \"%s\"}", writer, i,
		                      fill);
		kiln_audit_append(a, line, NULL);
		free(line);
		free(fill);
	}
}

static void *thread_writer(void *arg)
{
	struct kiln_audit *a = NULL;

	kiln_audit_open(&a, dir, NULL, NULL);
	write_lines(a, (int)(intptr_t)arg);
	kiln_audit_close(a);
	return NULL;
}

START_TEST(concurrent_writers_never_interleave)
{
	pid_t pids[WRITERS];
	pthread_t threads[2];
	int seen[WRITERS + 2][PER_WRITER];
	char *text, *p;
	size_t lines = 0;
	int i, status;

	mkdir_tmp();
	memset(seen, 0, sizeof(seen));
	/* Processes and threads at once, all on the same file. */
	for (i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			struct kiln_audit *a = NULL;
			kiln_audit_open(&a, dir, NULL, NULL);
			write_lines(a, i);
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++)
		pthread_create(&threads[i], NULL, thread_writer, (void *)(intptr_t)(WRITERS + i));
	for (i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);
	for (i = 0; i < WRITERS; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_int_eq(status, 0);
	}
	text = read_file("audit.jsonl");
	for (p = text; *p != '\0'; lines++) {
		size_t n = strcspn(p, "\n");
		json_t *o = json_loadb(p, n, 0, NULL);
		const char *fill;
		int w, k;
		size_t j;

		ck_assert_msg(o != NULL, "line %zu is not whole JSON: '%.80s'", lines + 1, p);
		w = (int)kiln_json_int(o, "writer", -1);
		k = (int)kiln_json_int(o, "n", -1);
		ck_assert(w >= 0 && w < WRITERS + 2 && k >= 0 && k < PER_WRITER);
		fill = kiln_json_str(o, "fill");
		/* One assertion per line: Check reports every one through a pipe. */
		for (j = 0; fill[j] == 'a' + w; j++)
			;
		ck_assert_msg(fill[j] == '\0', "line %zu mixes writers", lines + 1);
		seen[w][k]++;
		json_decref(o);
		p += n;
		ck_assert_int_eq(*p, '\n');
		p++;
	}
	ck_assert_int_eq(lines, (WRITERS + 2) * PER_WRITER);
	for (i = 0; i < WRITERS + 2; i++)
		for (status = 0; status < PER_WRITER; status++)
			if (seen[i][status] != 1)
				ck_abort_msg("line %d of writer %d seen %d times", status, i,
				             seen[i][status]);
	free(text);
	rm_tmp();
}
END_TEST

START_TEST(payload_commits_parse_hostile_lists)
{
	json_t *c = kiln_hook_commits("  app=1  =x os= noeq app2=a=b ");

	ck_assert_str_eq(kiln_json_str(c, "app"), "1");
	ck_assert_str_eq(kiln_json_str(c, "os"), "");
	ck_assert_str_eq(kiln_json_str(c, "app2"), "a=b");
	ck_assert_int_eq(json_object_size(c), 3);
	json_decref(c);
	c = kiln_hook_commits(NULL);
	ck_assert_int_eq(json_object_size(c), 0);
	json_decref(c);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("hooks");
	TCase *tc = tcase_create("hooks");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, root_make, root_remove);
	tcase_add_test(tc, command_hook_gets_json_variables_and_prefixed_output);
	tcase_add_test(tc, time_limit_kills_the_hooks_process_group);
	tcase_add_test(tc, failing_pre_hook_stops_its_stage_post_hook_only_warns);
	tcase_add_test(tc, clean_hook_takes_its_group_and_prints_no_secret);
	tcase_add_test(tc, webhook_url_credentials_never_reach_a_message);
	tcase_add_test(tc, webhook_is_signed_retried_and_keeps_its_secret);
	tcase_add_test(tc, webhook_without_its_secret_fails_naming_the_variable);
	tcase_add_test(tc, webhook_url_shown_without_credentials_or_query);
	tcase_add_test(tc, signature_matches_rfc4231);
	tcase_add_test(tc, every_action_writes_its_audit_line);
	tcase_add_test(tc, concurrent_writers_never_interleave);
	tcase_add_test(tc, payload_commits_parse_hostile_lists);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
