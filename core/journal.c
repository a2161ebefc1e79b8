#include "core/journal.h"
#include "core/common.h"
#include "core/json.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

struct kiln_journal {
	int fd;
	char *path;
	char *run_id;
};

int kiln_journal_open(struct kiln_journal **out, const char *dir, const char *run_id)
{
	struct kiln_journal *j = NULL;
	int error;

	KILN_ASSERT_ARG(out != NULL && dir != NULL && run_id != NULL);
	*out = NULL;
	error = kiln_mkdir_p(dir, 0700);
	if (error < 0)
		return error;
	j = kiln_xcalloc(1, sizeof(*j));
	j->path = kiln_xasprintf("%s/%s.jsonl", dir, run_id);
	j->run_id = kiln_xstrdup(run_id);
	j->fd = open(j->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		error = kiln_error_set(KILN_ERROR, "cannot open journal '%s': %s", j->path,
		                       strerror(errno));
		kiln_journal_close(j);
		return error;
	}
	*out = j;
	return 0;
}

void kiln_journal_close(struct kiln_journal *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->path);
	free(j->run_id);
	free(j);
}

const char *kiln_journal_path(const struct kiln_journal *j)
{
	return j->path;
}

int kiln_journal_append(struct kiln_journal *j, const char *event, const char *kind,
                        const char *token, const char *id, json_t *details)
{
	struct kiln_buf line = KILN_BUF_INIT;
	json_t *obj = json_object();
	char stamp[32];
	int error = 0;

	KILN_ASSERT_ARG(j != NULL && event != NULL);
	kiln_time_iso8601(stamp, kiln_time_now(), 1);
	json_object_set_new(obj, "time", json_string(stamp));
	json_object_set_new(obj, "run_id", json_string(j->run_id));
	json_object_set_new(obj, "event", json_string(event));
	if (kind != NULL)
		json_object_set_new(obj, "kind", json_string(kind));
	if (token != NULL)
		json_object_set_new(obj, "token", json_string(token));
	if (id != NULL)
		json_object_set_new(obj, "id", json_string(id));
	if (details != NULL)
		json_object_update_missing(obj, details);
	error = kiln_json_dump(&line, obj, 0);
	if (error < 0)
		goto done;
	error = kiln_buf_putc(&line, '\n');
	if (error < 0)
		goto done;
	/* One write() per line: O_APPEND keeps concurrent writers' lines whole. */
	if (write(j->fd, line.ptr, line.size) != (ssize_t)line.size || fdatasync(j->fd) < 0) {
		error = kiln_error_set(KILN_ERROR, "cannot write journal '%s': %s", j->path,
		                       strerror(errno));
		goto done;
	}
done:
	json_decref(obj);
	kiln_buf_release(&line);
	return error;
}

int kiln_journal_read(json_t **out, const char *path)
{
	struct kiln_buf text = KILN_BUF_INIT;
	json_t *arr = NULL;
	char *p, *nl;
	int error;

	*out = NULL;
	error = kiln_file_read(&text, path);
	if (error < 0)
		goto done;
	arr = json_array();
	for (p = text.ptr; *p != '\0'; p = nl + 1) {
		json_t *ev;
		nl = strchr(p, '\n');
		if (nl == NULL)
			break; /* a torn last line from a crash mid-write */
		*nl = '\0';
		ev = json_loads(p, 0, NULL);
		if (json_is_object(ev))
			json_array_append_new(arr, ev);
		else
			json_decref(ev);
	}
	*out = arr;
	arr = NULL;
done:
	json_decref(arr);
	kiln_buf_release(&text);
	return error;
}
