/*
 * The audit log: one JSON line per change (a stage that was not a dry run
 * ending, or a KILN_EVENT_CHANGE on its way), in every file given, each
 * line written with one write(2) on a descriptor opened with O_APPEND, so
 * that lines of concurrent kiln processes never interleave; and sent to
 * the profile's audit webhook when it has one. A write that fails is a
 * warning: the audit never turns a stage's success into a failure.
 */
#include "hooks/hooks-int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/json.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/util.h"

/* An audit line above this is cut (its message first): lines stay one write each. */
#define AUDIT_MESSAGE_MAX 1024
#define AUDIT_LINE_MAX    ((size_t)64 << 10)

struct kiln_audit {
	char *files[2];
	size_t nfiles;
	const struct kiln_hook *hook; /* borrowed from the hooks */
};

/* The stages whose end is an action in the log: those that change something. */
static const char *const changing_stages[] = {"bake",    "deploy",  "rollback",
                                              "promote", "destroy", "gc"};

static int changing(const char *stage)
{
	size_t i;

	for (i = 0; stage != NULL && i < KILN_ARRAY_SIZE(changing_stages); i++)
		if (strcmp(stage, changing_stages[i]) == 0)
			return 1;
	return 0;
}

static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

char *kiln_audit_line(const struct kiln_event *ev, const char *host)
{
	char when[32];
	json_t *j;
	char *text;
	int end = ev->kind == KILN_EVENT_STAGE_END;

	if (!(end && changing(ev->stage) && !ev->dry_run) && ev->kind != KILN_EVENT_CHANGE)
		return NULL;
	kiln_time_iso8601(when, kiln_time_now(), 1);
	j = json_object();
	json_object_set_new(j, "time", json_string(when));
	json_object_set_new(j, "caller", str_or_null(ev->caller));
	json_object_set_new(j, "host", str_or_null(host));
	json_object_set_new(j, "profile", str_or_null(ev->profile));
	json_object_set_new(j, "env", str_or_null(ev->env));
	json_object_set_new(j, "action", json_string(end ? ev->stage : ev->step));
	json_object_set_new(j, "stage", str_or_null(ev->stage));
	if (!end)
		json_object_set_new(j, "target", str_or_null(ev->label));
	json_object_set_new(j, "release", str_or_null(ev->release));
	json_object_set_new(j, "commits", kiln_hook_commits(ev->commits));
	json_object_set_new(j, "image", str_or_null(ev->image_id));
	json_object_set_new(j, "run_id", str_or_null(ev->run_id));
	json_object_set_new(j, "result", json_string(ev->result < 0 ? "failed" : "ok"));
	if (end && ev->result < 0 && ev->message != NULL)
		json_object_set_new(
		    j, "error", json_stringn(ev->message, strnlen(ev->message, AUDIT_MESSAGE_MAX)));
	if (end)
		json_object_set_new(j, "duration_s",
		                    json_real((double)(long)(ev->seconds * 1000) / 1000.0));
	text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(j);
	if (text == NULL)
		kiln_die("out of memory");
	return text;
}

int kiln_audit_open(struct kiln_audit **out, const char *state_dir, const char *extra,
                    const struct kiln_hook *hook)
{
	struct kiln_audit *a = kiln_xcalloc(1, sizeof(*a));
	char *dir = NULL;
	int error;

	*out = NULL;
	error = kiln_paths_state(&dir, state_dir);
	if (error < 0) {
		free(a);
		return error;
	}
	a->files[a->nfiles++] = kiln_path_join(dir, "audit.jsonl");
	if (extra == NULL || extra[0] == '\0')
		extra = getenv("KILN_AUDIT");
	if (extra != NULL && extra[0] != '\0')
		a->files[a->nfiles++] = kiln_xstrdup(extra);
	a->hook = hook;
	free(dir);
	*out = a;
	return 0;
}

void kiln_audit_close(struct kiln_audit *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->nfiles; i++)
		free(a->files[i]);
	free(a);
}

static int append_file(const char *file, const char *data, size_t len)
{
	char *dir = kiln_path_dirname(file);
	ssize_t w;
	int fd, err;

	kiln_mkdir_p(dir, 0700);
	free(dir);
	fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return kiln_error_set(KILN_ERROR, "cannot open the audit log '%s': %s", file,
		                      strerror(errno));
	/* One write: O_APPEND places it whole at the end, whoever else appends. */
	do
		w = write(fd, data, len);
	while (w < 0 && errno == EINTR);
	err = errno;
	close(fd);
	if (w < 0 || (size_t)w != len)
		return kiln_error_set(KILN_ERROR, "cannot append to the audit log '%s': %s", file,
		                      w < 0 ? strerror(err) : "short write");
	return 0;
}

int kiln_audit_append(struct kiln_audit *a, const char *line, volatile int *stop)
{
	size_t len = strlen(line), i;
	char *data;
	int error = 0, e;

	if (len + 1 > AUDIT_LINE_MAX)
		return kiln_error_set(KILN_ETOOBIG, "audit line of %zu bytes", len);
	data = kiln_xasprintf("%s\n", line);
	for (i = 0; i < a->nfiles; i++) {
		e = append_file(a->files[i], data, len + 1);
		if (e < 0 && error == 0)
			error = e;
		if (e < 0)
			kiln_log_warn("%s", kiln_error_last());
	}
	if (a->hook != NULL) {
		e = kiln_hook_webhook_send(a->hook, line, "audit", stop);
		if (e < 0)
			kiln_log_warn("audit webhook: %s", kiln_error_last());
		if (e < 0 && error == 0)
			error = e;
	}
	free(data);
	return error;
}

/* --since and the line's time, both seconds since the epoch. */
static int keep(const json_t *o, const struct kiln_audit_filter *f)
{
	const char *p = kiln_json_str(o, "profile"), *e = kiln_json_str(o, "env");
	const char *t = kiln_json_str(o, "time");
	double when = 0;

	if (f == NULL)
		return 1;
	if (f->profile != NULL && (p == NULL || strcmp(p, f->profile) != 0))
		return 0;
	if (f->env != NULL && (e == NULL || strcmp(e, f->env) != 0))
		return 0;
	if (f->since > 0 && (t == NULL || kiln_time_parse_iso8601(&when, t) < 0 || when < f->since))
		return 0;
	return 1;
}

int kiln_audit_read(char **out, size_t *skipped, const char *file,
                    const struct kiln_audit_filter *filter)
{
	struct kiln_buf text = KILN_BUF_INIT;
	char *dir = NULL, *path = NULL;
	json_t *list = json_array();
	const char *p;
	size_t bad = 0;
	int error = 0;

	KILN_ASSERT_ARG(out != NULL);
	*out = NULL;
	if (file == NULL) {
		error = kiln_paths_state(&dir, NULL);
		if (error < 0)
			goto done;
		path = kiln_path_join(dir, "audit.jsonl");
		file = path;
	}
	error = kiln_file_read(&text, file);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		error = 0;
	}
	if (error < 0)
		goto done;
	for (p = text.ptr; *p != '\0';) {
		size_t n = strcspn(p, "\n");
		json_t *o = json_loadb(p, n, 0, NULL);

		if (o != NULL && json_is_object(o) && keep(o, filter))
			json_array_append(list, o);
		else if ((o == NULL || !json_is_object(o)) && n > 0)
			bad++;
		json_decref(o);
		p += n;
		if (*p == '\n')
			p++;
	}
	/* the file may have been edited: nothing but ASCII reaches the terminal */
	*out = json_dumps(list, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	if (*out == NULL)
		kiln_die("out of memory");
done:
	if (skipped != NULL)
		*skipped = bad;
	json_decref(list);
	kiln_buf_release(&text);
	free(path);
	free(dir);
	return error;
}
