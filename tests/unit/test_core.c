#include <check.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>

#include "core/common.h"
#include "core/event.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/utf8.h"
#include "core/util.h"
#include "core/proc.h"
#include "core/journal.h"
#include "core/lock.h"

#include <pthread.h>
#include <sys/wait.h>

START_TEST(buf_appends_and_stays_terminated)
{
	struct kiln_buf b = KILN_BUF_INIT;

	ck_assert_str_eq(b.ptr, "");
	ck_assert_int_eq(kiln_buf_puts(&b, "abc"), 0);
	ck_assert_int_eq(kiln_buf_printf(&b, "-%d-%s", 42, "x"), 0);
	ck_assert_str_eq(b.ptr, "abc-42-x");
	ck_assert_uint_eq(b.size, 8);
	kiln_buf_truncate(&b, 2);
	ck_assert_str_eq(b.ptr, "ab");
	kiln_buf_clear(&b);
	ck_assert_str_eq(b.ptr, "");
	kiln_buf_release(&b);
	ck_assert_str_eq(b.ptr, "");
}
END_TEST

START_TEST(buf_cap_refuses_and_keeps_contents)
{
	struct kiln_buf b;

	kiln_buf_init(&b, 8);
	ck_assert_int_eq(kiln_buf_puts(&b, "12345678"), 0);
	ck_assert_int_eq(kiln_buf_putc(&b, '9'), KILN_ETOOBIG);
	ck_assert_str_eq(b.ptr, "12345678");
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "limit of 8 bytes"));
	ck_assert_int_eq(kiln_buf_printf(&b, "%s", ""), 0);
	kiln_buf_release(&b);
}
END_TEST

START_TEST(buf_grows_large)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char *s;
	int i;

	for (i = 0; i < 100000; i++)
		ck_assert_int_eq(kiln_buf_putc(&b, (char)('a' + i % 26)), 0);
	ck_assert_uint_eq(b.size, 100000);
	ck_assert_int_eq(b.ptr[26], 'a');
	s = kiln_buf_detach(&b);
	ck_assert_uint_eq(strlen(s), 100000);
	ck_assert_str_eq(b.ptr, "");
	free(s);
}
END_TEST

START_TEST(buf_rtrim)
{
	struct kiln_buf b = KILN_BUF_INIT;

	kiln_buf_puts(&b, "line \n\t");
	kiln_buf_rtrim(&b);
	ck_assert_str_eq(b.ptr, "line");
	kiln_buf_release(&b);
}
END_TEST

/* What reaches a terminal from outside: the attacks of issue 9 and UTF-8's edges. */
static const struct {
	const char *in;
	size_t len; /* 0: strlen(in) */
	unsigned flags;
	const char *out;
} escapes[] = {
    {"plain text, tabs\tand \\backslashes\\", 0, 0, "plain text, tabs\tand \\backslashes\\"},
    {"\x1b]0;pwned\a title", 0, 0, "\\x1b]0;pwned\\x07 title"},
    {"\x1b[2J\x1b[H", 0, 0, "\\x1b[2J\\x1b[H"},
    {"a\0b", 3, 0, "a\\x00b"},
    {"over\rwrite", 0, 0, "over\\x0dwrite"},
    {"del\x7f", 0, 0, "del\\x7f"},
    {"two\nlines\r\n", 0, 0, "two\\x0alines\\x0d\\x0a"},
    {"two\nlines\r\nand\rcr", 0, KILN_ESCAPE_LINES, "two\nlines\nand\\x0dcr"},
    {"ünïcødé ✓ 日本 \xf0\x9f\x94\xa5", 0, 0, "ünïcødé ✓ 日本 \xf0\x9f\x94\xa5"},
    /* C1 CSI, and a right-to-left override */
    {"\xc2\x9b"
     "2J",
     0, 0, "\\xc2\\x9b2J"},
    {"abc\xe2\x80\xae"
     "txt.exe",
     0, 0, "abc\\xe2\\x80\\xaetxt.exe"},
    /* not UTF-8: a lone byte, an overlong '/', a surrogate, past U+10FFFF, cut short */
    {"n\xff\xfe", 0, 0, "n\\xff\\xfe"},
    {"\xc0\xaf", 0, 0, "\\xc0\\xaf"},
    {"\xed\xa0\x80", 0, 0, "\\xed\\xa0\\x80"},
    {"\xf4\x90\x80\x80", 0, 0, "\\xf4\\x90\\x80\\x80"},
    {"\xe2\x9c", 0, 0, "\\xe2\\x9c"},
    {"", 0, 0, ""},
    /* records that must read back: a backslash doubled, the rest as always */
    {"a\\x1b\x1b\xff", 0, KILN_ESCAPE_BACKSLASH, "a\\\\x1b\\x1b\\xff"},
};

START_TEST(buf_escapes_what_comes_from_outside)
{
	struct kiln_buf b = KILN_BUF_INIT, again = KILN_BUF_INIT;
	size_t len = escapes[_i].len ? escapes[_i].len : strlen(escapes[_i].in);
	char *copy;

	ck_assert_int_eq(kiln_buf_put_escaped(&b, escapes[_i].in, len, escapes[_i].flags), 0);
	ck_assert_uint_eq(b.size, strlen(escapes[_i].out));
	ck_assert_str_eq(b.ptr, escapes[_i].out);
	/* Escaped text is printable: escaping it again changes nothing (but doubled backslashes).
	 */
	if (!(escapes[_i].flags & KILN_ESCAPE_BACKSLASH)) {
		ck_assert_int_eq(kiln_buf_put_escaped(&again, b.ptr, b.size, escapes[_i].flags), 0);
		ck_assert_str_eq(again.ptr, b.ptr);
	}
	if (escapes[_i].flags == 0 && escapes[_i].len == 0) {
		copy = kiln_escape(escapes[_i].in);
		ck_assert_str_eq(copy, b.ptr);
		free(copy);
	}
	kiln_buf_release(&again);
	kiln_buf_release(&b);
}
END_TEST

START_TEST(buf_escape_respects_the_cap)
{
	struct kiln_buf b;

	kiln_buf_init(&b, 8);
	ck_assert_int_eq(kiln_buf_puts(&b, "ok:"), 0);
	ck_assert_int_eq(kiln_buf_put_escaped(&b, "\x1b\x1b", 2, 0), KILN_ETOOBIG);
	ck_assert_str_eq(b.ptr, "ok:");
	ck_assert_int_eq(kiln_buf_put_escaped(&b, "\x1b", 1, 0), 0);
	ck_assert_str_eq(b.ptr, "ok:\\x1b");
	kiln_buf_release(&b);
}
END_TEST

START_TEST(error_slot_set_prefix_clear)
{
	kiln_error_clear();
	ck_assert_str_eq(kiln_error_last(), "");
	ck_assert_int_eq(kiln_error_set(KILN_ENOTFOUND, "tag '%s' not found", "v1"),
	                 KILN_ENOTFOUND);
	ck_assert_int_eq(kiln_error_prefix(KILN_ERROR, "layer '%s'", "app"), KILN_ERROR);
	ck_assert_str_eq(kiln_error_last(), "layer 'app': tag 'v1' not found");
	/* The deeper code is kept: callers add context, never overwrite. */
	ck_assert_int_eq(kiln_error_last_code(), KILN_ENOTFOUND);
	kiln_error_clear();
	ck_assert_int_eq(kiln_error_last_code(), KILN_OK);
}
END_TEST

START_TEST(exit_codes)
{
	ck_assert_int_eq(kiln_exit_code(0), 0);
	ck_assert_int_eq(kiln_exit_code(KILN_EINVAL), 2);
	ck_assert_int_eq(kiln_exit_code(KILN_ERROR), 1);
	ck_assert_int_eq(kiln_exit_code(KILN_ETIMEOUT), 1);
	ck_assert_int_eq(kiln_exit_code(KILN_EAUTH), 1);
}
END_TEST

START_TEST(log_redacts_secrets)
{
	char *r;

	kiln_log_add_secret("wJalrXUtnFEMI/K7MDENG");
	r = kiln_log_redact("key=wJalrXUtnFEMI/K7MDENG and again wJalrXUtnFEMI/K7MDENG.");
	ck_assert_str_eq(r, "key=*** and again ***.");
	free(r);
	kiln_log_clear_secrets();
	r = kiln_log_redact("key=wJalrXUtnFEMI/K7MDENG");
	ck_assert_str_eq(r, "key=wJalrXUtnFEMI/K7MDENG");
	free(r);
}
END_TEST

/* Whatever a message holds, a log line reaches the terminal escaped. */
START_TEST(log_lines_are_escaped)
{
	struct kiln_buf log = KILN_BUF_INIT;
	char name[] = "/tmp/kiln-core-log-XXXXXX";
	FILE *fp = fdopen(mkstemp(name), "w");

	ck_assert_ptr_nonnull(fp);
	kiln_log_set_stream(fp, 0);
	kiln_log_warn("tag '%s' moved\nsecond line", "v1\x1b]0;pwned\a\x1b[2J");
	fflush(fp);
	ck_assert_int_eq(kiln_file_read(&log, name), 0);
	ck_assert_str_eq(log.ptr, "kiln: warning: tag 'v1\\x1b]0;pwned\\x07\\x1b[2J' moved\n"
	                          "second line\n");
	kiln_log_set_stream(NULL, -1);
	fclose(fp);
	unlink(name);
	kiln_buf_release(&log);
}
END_TEST

START_TEST(log_trace_areas)
{
	setenv("KILN_TRACE", "aws,http", 1);
	ck_assert(kiln_log_trace_enabled("aws"));
	ck_assert(kiln_log_trace_enabled("http"));
	ck_assert(!kiln_log_trace_enabled("ssh"));
	ck_assert(!kiln_log_trace_enabled("aw"));
	setenv("KILN_TRACE", "all", 1);
	ck_assert(kiln_log_trace_enabled("ssh"));
	unsetenv("KILN_TRACE");
	ck_assert(!kiln_log_trace_enabled("aws"));
}
END_TEST

START_TEST(log_levels_follow_verbosity)
{
	kiln_log_setup(0, 0, KILN_COLOR_NEVER);
	ck_assert(kiln_log_enabled(KILN_LOG_WARN));
	ck_assert(!kiln_log_enabled(KILN_LOG_INFO));
	kiln_log_setup(1, 0, KILN_COLOR_NEVER);
	ck_assert(kiln_log_enabled(KILN_LOG_INFO));
	ck_assert(!kiln_log_enabled(KILN_LOG_DEBUG));
	kiln_log_setup(2, 0, KILN_COLOR_NEVER);
	ck_assert(kiln_log_enabled(KILN_LOG_DEBUG));
	kiln_log_setup(3, 1, KILN_COLOR_NEVER);
	ck_assert(!kiln_log_enabled(KILN_LOG_WARN));
	ck_assert(kiln_log_enabled(KILN_LOG_ERROR));
	kiln_log_setup(0, 0, KILN_COLOR_NEVER);
}
END_TEST

/* The log's sink: nothing by default, a callback, and a stage's hook for warnings. */

struct lines {
	struct kiln_buf text;
};

static void to_lines(enum kiln_log_level level, const char *line, void *payload)
{
	struct lines *l = payload;

	kiln_buf_printf(&l->text, "%d %s\n", (int)level, line);
}

static void hook_logs_again(enum kiln_log_level level, const char *line, void *payload)
{
	to_lines(level, line, payload);
	/* A hook may log (the command line renders its events that way). */
	kiln_log_warn("again: %s", line);
}

START_TEST(log_sink_is_set_by_the_program)
{
	struct lines sink = {KILN_BUF_INIT}, hooked = {KILN_BUF_INIT};
	struct kiln_log_hook h = {hook_logs_again, &hooked}, old;

	kiln_log_setup(0, 0, KILN_COLOR_NEVER);
	kiln_log_set_stream(NULL, 0);
	kiln_log_warn("nobody hears this");
	kiln_log_set_callback(to_lines, &sink);
	kiln_log_add_secret("sink-s3cret");
	kiln_log_warn("a warning with sink-s3cret");
	kiln_log_info("info is off at verbosity 0");
	ck_assert_str_eq(sink.text.ptr, "1 a warning with ***\n");
	/* With a hook on this thread, warnings and errors go to it; other lines to the sink. */
	kiln_buf_clear(&sink.text);
	old = kiln_log_hook_swap(h);
	ck_assert_ptr_null(old.fn);
	kiln_log_error("failed");
	kiln_log_setup(1, 0, KILN_COLOR_NEVER);
	kiln_log_info("detail");
	ck_assert_str_eq(hooked.text.ptr, "0 failed\n");
	ck_assert_str_eq(sink.text.ptr, "1 again: failed\n2 detail\n");
	kiln_log_hook_swap(old);
	kiln_log_clear_secrets();
	kiln_log_setup(0, 0, KILN_COLOR_NEVER);
	kiln_log_set_stream(stderr, -1);
	kiln_buf_release(&sink.text);
	kiln_buf_release(&hooked.text);
}
END_TEST

/* Events: the run's fields on every event, secrets redacted, and a refused stage. */

static int record_event(const struct kiln_event *ev, void *payload)
{
	struct kiln_buf *b = payload;

	kiln_buf_printf(b, "%d %s %s %s %s|", (int)ev->kind, ev->stage, ev->profile,
	                ev->run_id ? ev->run_id : "-", ev->message);
	return ev->kind == KILN_EVENT_STAGE_START && strcmp(ev->profile, "no") == 0
	           ? kiln_error_set(KILN_EINVAL, "refused by a pre_bake hook")
	           : 0;
}

START_TEST(events_carry_the_run_and_can_refuse_a_stage)
{
	struct kiln_buf got = KILN_BUF_INIT;
	struct kiln_emitter e = {
	    .cb = record_event, .payload = &got, .base = {.stage = "bake", .profile = "web"}};

	kiln_log_add_secret("emit-s3cret");
	ck_assert_int_eq(kiln_emitter_begin(&e), 0);
	e.base.run_id = "bake-1";
	kiln_emit(&e, KILN_EVENT_PROGRESS, NULL, "token %s", "emit-s3cret");
	kiln_log_warn("from deep down");
	kiln_error_set(KILN_ERROR, "it broke");
	kiln_emitter_end(&e, KILN_ERROR);
	ck_assert_str_eq(got.ptr,
	                 "1 bake web - |3 bake web bake-1 token ***|7 bake web bake-1 from "
	                 "deep down|2 bake web bake-1 it broke|");
	/* The stage's error survives its end event. */
	ck_assert_str_eq(kiln_error_last(), "it broke");
	kiln_buf_clear(&got);
	e.base.profile = "no";
	ck_assert_int_eq(kiln_emitter_begin(&e), KILN_EINVAL);
	ck_assert_str_eq(kiln_error_last(), "refused by a pre_bake hook");
	kiln_emitter_end(&e, KILN_EINVAL);
	kiln_log_clear_secrets();
	kiln_buf_release(&got);
}
END_TEST

START_TEST(json_load_reports_position)
{
	json_t *j = NULL;

	ck_assert_int_eq(kiln_json_load_string(&j, "{\n  \"a\": 1,\n  \"b\": }\n", "p.json"),
	                 KILN_EINVAL);
	ck_assert_ptr_null(j);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "p.json:3:"));
	ck_assert_int_eq(kiln_json_load_string(&j, "{\"a\": 1, \"a\": 2}", "d.json"), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "duplicate"));
	ck_assert_int_eq(kiln_json_load_file(&j, "/nonexistent/x.json"), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "cannot read '/nonexistent/x.json'"));
}
END_TEST

START_TEST(json_getters_and_dump)
{
	json_t *j = NULL;
	struct kiln_buf b = KILN_BUF_INIT;

	ck_assert_int_eq(
	    kiln_json_load_string(&j, "{\"s\": \"x\", \"n\": 7, \"t\": true, \"z\": 1}", "t"), 0);
	ck_assert_str_eq(kiln_json_str(j, "s"), "x");
	ck_assert_ptr_null(kiln_json_str(j, "n"));
	ck_assert_int_eq(kiln_json_int(j, "n", -1), 7);
	ck_assert_int_eq(kiln_json_int(j, "s", -1), -1);
	ck_assert_int_eq(kiln_json_bool(j, "t", 0), 1);
	ck_assert_int_eq(kiln_json_bool(j, "missing", 1), 1);
	ck_assert_int_eq(kiln_json_dump(&b, j, 0), 0);
	ck_assert_str_eq(b.ptr, "{\"s\":\"x\",\"n\":7,\"t\":true,\"z\":1}");
	json_decref(j);
	kiln_buf_release(&b);
}
END_TEST

START_TEST(ids_and_time)
{
	char *a = kiln_id_random("i-", 17), *b = kiln_id_random("i-", 17);
	char ts[32], hex[65];
	double t;

	ck_assert_uint_eq(strlen(a), 19);
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq(strspn(a + 2, "0123456789abcdef"), 17);
	free(a);
	free(b);
	kiln_time_iso8601(ts, 1700000000.25, 0);
	ck_assert_str_eq(ts, "2023-11-14T22:13:20Z");
	kiln_time_iso8601(ts, 1700000000.25, 1);
	ck_assert_str_eq(ts, "2023-11-14T22:13:20.250Z");
	ck_assert_int_eq(kiln_time_parse_iso8601(&t, "2023-11-14T22:13:20Z"), 0);
	ck_assert(t == 1700000000.0);
	ck_assert_int_eq(kiln_time_parse_iso8601(&t, "yesterday"), KILN_EINVAL);
	kiln_sha256_hex(hex, "abc", 3);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(files_atomic_write_and_rm)
{
	char dir[] = "/tmp/kiln-core-XXXXXX";
	struct kiln_buf b = KILN_BUF_INIT;
	char *nested, *file;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	nested = kiln_xasprintf("%s/a/b/c", dir);
	ck_assert_int_eq(kiln_mkdir_p(nested, 0755), 0);
	file = kiln_xasprintf("%s/state.json", nested);
	ck_assert_int_eq(kiln_file_write_atomic(file, "{\"v\":1}", 7, 0600), 0);
	ck_assert_int_eq(kiln_file_write_atomic(file, "{\"v\":2}", 7, 0600), 0);
	ck_assert_int_eq(kiln_file_read(&b, file), 0);
	ck_assert_str_eq(b.ptr, "{\"v\":2}");
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(kiln_rm_rf(dir), 0);
	ck_assert_int_eq(stat(dir, &st), -1);
	ck_assert_int_eq(kiln_file_read(&b, file), KILN_ENOTFOUND);
	free(nested);
	free(file);
	kiln_buf_release(&b);
}
END_TEST

START_TEST(paths)
{
	char *d = kiln_path_dirname("profiles/examples/web.json"), *j;

	ck_assert_str_eq(d, "profiles/examples");
	j = kiln_path_join(d, "../os");
	ck_assert_str_eq(j, "profiles/examples/../os");
	free(j);
	j = kiln_path_join(d, "/abs");
	ck_assert_str_eq(j, "/abs");
	free(j);
	free(d);
	d = kiln_path_dirname("web.json");
	ck_assert_str_eq(d, ".");
	free(d);
}
END_TEST

START_TEST(proc_run_captures_and_reports_status)
{
	struct kiln_buf out = KILN_BUF_INIT, err = KILN_BUF_INIT;
	char *ok[] = {"sh", "-c", "echo hello; echo oops >&2; exit 3", NULL};
	char *missing[] = {"/nonexistent/tool", NULL};
	int status = -1;

	ck_assert_int_eq(kiln_proc_run(&status, &out, &err, ok), 0);
	ck_assert_int_eq(status, 3);
	ck_assert_str_eq(out.ptr, "hello\n");
	ck_assert_str_eq(err.ptr, "oops\n");
	ck_assert_int_eq(kiln_proc_run(&status, NULL, NULL, missing), 0);
	ck_assert_int_eq(status, 127);
	kiln_buf_release(&out);
	kiln_buf_release(&err);
}
END_TEST

START_TEST(proc_output_is_bounded)
{
	struct kiln_buf out;
	char *big[] = {"sh", "-c", "head -c 100000 /dev/zero", NULL};
	int status = -1;

	kiln_buf_init(&out, 1000);
	ck_assert_int_eq(kiln_proc_run(&status, &out, NULL, big), KILN_ETOOBIG);
	ck_assert_uint_le(out.size, 1000);
	kiln_buf_release(&out);
}
END_TEST

START_TEST(proc_kill_only_while_running)
{
	struct kiln_proc p = KILN_PROC_INIT;
	char *sleeper[] = {"sleep", "30", NULL};
	int status = 0;

	ck_assert_int_eq(kiln_proc_start(&p, sleeper, NULL), 0);
	ck_assert_int_gt(p.pid, 0);
	ck_assert_int_eq(kiln_proc_kill(&p, SIGTERM), 0);
	ck_assert_int_eq(kiln_proc_finish(&p, &status), 0);
	ck_assert_int_eq(status, 128 + SIGTERM);
	ck_assert_int_eq(p.pid, 0);
	/* After reaping, the pid is forgotten: nothing is signalled. */
	ck_assert_int_eq(kiln_proc_kill(&p, SIGKILL), 0);
}
END_TEST

START_TEST(utf8_decode_refuses_what_rfc3629_refuses)
{
	static const struct {
		const char *s;
		int len;
		uint32_t cp;
	} cases[] = {
	    {"A", 1, 0x41},
	    {"\xc3\xa9", 2, 0xe9},
	    {"\xe2\x82\xac", 3, 0x20ac},
	    {"\xf0\x9f\x94\xa5", 4, 0x1f525},
	    {"\xf4\x8f\xbf\xbf", 4, 0x10ffff},
	    {"\xc0\x80", -1, 0},         /* overlong NUL */
	    {"\xe0\x80\xaf", -1, 0},     /* overlong '/' */
	    {"\xed\xa0\x80", -1, 0},     /* surrogate */
	    {"\xf4\x90\x80\x80", -1, 0}, /* past U+10FFFF */
	    {"\xc3", -1, 0},             /* truncated */
	    {"\xc3(", -1, 0},            /* bad continuation */
	    {"\xff", -1, 0},
	    {"\x80", -1, 0},
	};
	uint32_t cp;

	for (size_t i = 0; i < KILN_ARRAY_SIZE(cases); i++) {
		int n = kiln_utf8_decode(&cp, cases[i].s, strlen(cases[i].s));
		ck_assert_msg(n == cases[i].len, "case %zu: %d", i, n);
		if (n > 0)
			ck_assert_uint_eq(cp, cases[i].cp);
	}
	ck_assert(kiln_utf8_valid("plain \xc3\xa9t\xc3\xa9", 12));
	ck_assert(!kiln_utf8_valid("\xff\xfe", 2));
	ck_assert(!kiln_utf8_valid("ok\xe2\x82", 4));
	ck_assert(kiln_utf8_valid("", 0));
}
END_TEST

START_TEST(journal_appends_and_reads_back)
{
	char dir[] = "/tmp/kiln-journal-XXXXXX";
	struct kiln_journal *j = NULL;
	json_t *events = NULL, *details = json_pack("{s:s}", "profile", "web");
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(kiln_journal_open(&j, dir, "run-1"), 0);
	ck_assert_int_eq(kiln_journal_append(j, "intent", "key-pair", "tok-1", NULL, details), 0);
	ck_assert_int_eq(kiln_journal_append(j, "created", "key-pair", "tok-1", "key-0abc", NULL),
	                 0);
	/* A crash in the middle of a write leaves a torn last line: it is skipped. */
	fp = fopen(kiln_journal_path(j), "a");
	fputs("{\"event\": \"cre", fp);
	fclose(fp);
	ck_assert_int_eq(kiln_journal_read(&events, kiln_journal_path(j)), 0);
	ck_assert_uint_eq(json_array_size(events), 2);
	ck_assert_str_eq(kiln_json_str(json_array_get(events, 0), "event"), "intent");
	ck_assert_str_eq(kiln_json_str(json_array_get(events, 0), "profile"), "web");
	ck_assert_str_eq(kiln_json_str(json_array_get(events, 0), "run_id"), "run-1");
	ck_assert_str_eq(kiln_json_str(json_array_get(events, 1), "id"), "key-0abc");
	ck_assert_str_eq(kiln_json_str(json_array_get(events, 1), "token"), "tok-1");
	json_decref(events);
	json_decref(details);
	kiln_journal_close(j);
	ck_assert_int_eq(kiln_rm_rf(dir), 0);
}
END_TEST

START_TEST(lock_excludes_other_processes)
{
	char dir[] = "/tmp/kiln-lock-XXXXXX";
	struct kiln_lock a = KILN_LOCK_INIT;
	char *path;
	pid_t pid;
	int st = 0;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	path = kiln_xasprintf("%s/locks/web-prod.lock", dir);
	ck_assert_int_eq(kiln_lock_acquire(&a, path, 0, NULL), 0);
	pid = fork();
	if (pid == 0) {
		struct kiln_lock b = KILN_LOCK_INIT;
		int r = kiln_lock_acquire(&b, path, 0.2, NULL);
		_exit(r == KILN_ETIMEOUT ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	kiln_lock_release(&a);
	pid = fork();
	if (pid == 0) {
		struct kiln_lock b = KILN_LOCK_INIT;
		int r = kiln_lock_acquire(&b, path, 1, NULL);
		_exit(r == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	free(path);
	ck_assert_int_eq(kiln_rm_rf(dir), 0);
}
END_TEST

START_TEST(lock_wait_is_interruptible)
{
	char dir[] = "/tmp/kiln-lock-XXXXXX";
	struct kiln_lock a = KILN_LOCK_INIT, b = KILN_LOCK_INIT;
	volatile int stop = 1;
	char *path;
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	path = kiln_xasprintf("%s/x.lock", dir);
	ck_assert_int_eq(kiln_lock_acquire(&a, path, 0, NULL), 0);
	/* flock locks belong to the open file: a second open conflicts even in one process. */
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(kiln_lock_acquire(&b, path, 30, &stop), KILN_EINTR);
	kiln_lock_release(&a);
	kiln_lock_release(&a);
	free(path);
	ck_assert_int_eq(kiln_rm_rf(dir), 0);
}
END_TEST

/* Threads of one process writing the same file at once (rebuild-world's bakes). */
struct atomic_writer {
	const char *path;
	char byte;
	int failures;
};

static void *write_often(void *arg)
{
	struct atomic_writer *a = arg;
	char data[4096];

	memset(data, a->byte, sizeof(data));
	for (int i = 0; i < 200; i++)
		a->failures += kiln_file_write_atomic(a->path, data, sizeof(data), 0600) < 0;
	return NULL;
}

START_TEST(write_atomic_from_threads_at_once)
{
	char dir[] = "/tmp/kiln-test-atomic-XXXXXX";
	struct atomic_writer a[2] = {{NULL, 'a', 0}, {NULL, 'b', 0}};
	pthread_t t[2];
	struct kiln_buf got = KILN_BUF_INIT;
	char *path;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	path = kiln_xasprintf("%s/pins.json", dir);
	for (int i = 0; i < 2; i++) {
		a[i].path = path;
		ck_assert_int_eq(pthread_create(&t[i], NULL, write_often, &a[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(a[0].failures + a[1].failures, 0);
	/* One writer's bytes, whole. */
	ck_assert_int_eq(kiln_file_read(&got, path), 0);
	ck_assert_uint_eq(got.size, 4096);
	for (size_t i = 1; i < got.size; i++)
		ck_assert_int_eq(got.ptr[i], got.ptr[0]);
	kiln_buf_release(&got);
	free(path);
	kiln_rm_rf(dir);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, buf_appends_and_stays_terminated);
	tcase_add_test(tc, buf_cap_refuses_and_keeps_contents);
	tcase_add_test(tc, buf_grows_large);
	tcase_add_test(tc, buf_rtrim);
	tcase_add_loop_test(tc, buf_escapes_what_comes_from_outside, 0,
	                    (int)KILN_ARRAY_SIZE(escapes));
	tcase_add_test(tc, buf_escape_respects_the_cap);
	tcase_add_test(tc, error_slot_set_prefix_clear);
	tcase_add_test(tc, exit_codes);
	tcase_add_test(tc, log_redacts_secrets);
	tcase_add_test(tc, log_lines_are_escaped);
	tcase_add_test(tc, log_trace_areas);
	tcase_add_test(tc, log_levels_follow_verbosity);
	tcase_add_test(tc, log_sink_is_set_by_the_program);
	tcase_add_test(tc, events_carry_the_run_and_can_refuse_a_stage);
	tcase_add_test(tc, json_load_reports_position);
	tcase_add_test(tc, json_getters_and_dump);
	tcase_add_test(tc, ids_and_time);
	tcase_add_test(tc, files_atomic_write_and_rm);
	tcase_add_test(tc, paths);
	tcase_add_test(tc, proc_run_captures_and_reports_status);
	tcase_add_test(tc, proc_output_is_bounded);
	tcase_add_test(tc, proc_kill_only_while_running);
	tcase_add_test(tc, utf8_decode_refuses_what_rfc3629_refuses);
	tcase_add_test(tc, journal_appends_and_reads_back);
	tcase_add_test(tc, lock_excludes_other_processes);
	tcase_add_test(tc, lock_wait_is_interruptible);
	tcase_add_test(tc, write_atomic_from_threads_at_once);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
