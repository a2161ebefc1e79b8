/*
 * A command hook: a program beside the profile or a command line for
 * /bin/sh, run in the profile's directory in a session of its own, the
 * event JSON on its stdin (a memory file, so a hook that never reads it
 * cannot block kiln, nor kill it with SIGPIPE), KILN_* variables added to
 * the environment. Its stdout and stderr come back line by line, escaped,
 * as KILN_EVENT_OUTPUT events labelled "hook". Past its time limit, or when
 * the stage is stopped, its whole process group is killed.
 */
#include "hooks/hooks-int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/common.h"
#include "core/log.h"
#include "core/proc.h"
#include "core/util.h"

extern char **environ;

/* A line longer than this is passed on in pieces. */
#define LINE_MAX_BYTES 4096
/* After the hook exits, how long a child it left may hold its output open. */
#define DRAIN_AFTER_EXIT 1.0

struct stream {
	int fd;
	enum kiln_event_stream which;
	struct kiln_buf line;
};

static void emit_line(const struct kiln_hook_sink *sink, enum kiln_event_stream which,
                      const char *data, size_t len)
{
	struct kiln_event ev = *sink->ev;
	struct kiln_buf shown = KILN_BUF_INIT;
	char *clean;

	if (sink->cb == NULL)
		return;
	kiln_buf_put_escaped(&shown, data, len, 0);
	/* a hook that echoes its environment (set -x, env) must not print a secret */
	clean = kiln_log_redact(shown.ptr);
	ev.kind = KILN_EVENT_OUTPUT;
	ev.label = "hook";
	ev.stream = which;
	ev.message = clean;
	ev.step = NULL;
	sink->cb(&ev, sink->payload);
	free(clean);
	kiln_buf_release(&shown);
}

/* Pass on every whole line in the stream's buffer (all of it at the end). */
static void flush_lines(const struct kiln_hook_sink *sink, struct stream *s, int all)
{
	for (;;) {
		char *nl = memchr(s->line.ptr, '\n', s->line.size);
		size_t n;

		if (nl == NULL && s->line.size < LINE_MAX_BYTES && !(all && s->line.size > 0))
			return;
		n = nl != NULL ? (size_t)(nl - s->line.ptr) : s->line.size;
		if (n > LINE_MAX_BYTES)
			n = LINE_MAX_BYTES;
		emit_line(sink, s->which, s->line.ptr,
		          n > 0 && s->line.ptr[n - 1] == '\r' ? n - 1 : n);
		if (nl != NULL && (size_t)(nl - s->line.ptr) == n)
			n++;
		memmove(s->line.ptr, s->line.ptr + n, s->line.size - n);
		kiln_buf_truncate(&s->line, s->line.size - n);
		if (s->line.size == 0)
			return;
	}
}

/* Read what is there; close the stream at its end. */
static void pump(const struct kiln_hook_sink *sink, struct stream *s)
{
	char chunk[4096];
	ssize_t r = read(s->fd, chunk, sizeof(chunk));

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		flush_lines(sink, s, 1);
		close(s->fd);
		s->fd = -1;
		return;
	}
	kiln_buf_put(&s->line, chunk, (size_t)r);
	flush_lines(sink, s, 0);
}

/* The environment: ours without the KILN_* names the hook gets, then those. */
static char **hook_environ(char *const *add)
{
	size_t n = 0, m = 0, i, j;
	char **env;

	while (environ[n] != NULL)
		n++;
	while (add[m] != NULL)
		m++;
	env = kiln_xcalloc(n + m + 1, sizeof(*env));
	for (i = 0, j = 0; i < n; i++) {
		size_t k, len = strcspn(environ[i], "=");
		int replaced = 0;

		for (k = 0; k < m && !replaced; k++)
			replaced = strncmp(add[k], environ[i], len) == 0 && add[k][len] == '=';
		if (!replaced)
			env[j++] = environ[i];
	}
	for (i = 0; i < m; i++)
		env[j++] = add[i];
	return env;
}

static int stdin_file(const char *body)
{
	int fd = memfd_create("kiln-hook-event", MFD_CLOEXEC);
	size_t len = strlen(body), off = 0;

	if (fd < 0)
		return kiln_error_set(KILN_ERROR, "cannot make the hook's input: %s",
		                      strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, body + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			close(fd);
			return kiln_error_set(KILN_ERROR, "cannot write the hook's input: %s",
			                      strerror(errno));
		}
		off += (size_t)w;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Stream the output until the hook is done, outlives `deadline`, or the stage stops. */
static int watch(struct kiln_proc *proc, struct stream *s, const struct kiln_hook_sink *sink,
                 double deadline)
{
	double exited_at = 0;

	for (;;) {
		struct pollfd pfd[2];
		nfds_t n = 0, i;
		double now = kiln_time_mono();

		if (sink->stop != NULL && *sink->stop)
			return KILN_EINTR;
		if (now >= deadline)
			return KILN_ETIMEOUT;
		if (exited_at == 0 && kiln_proc_exited(proc))
			exited_at = now;
		if (exited_at > 0 && (s[0].fd < 0 && s[1].fd < 0))
			return 0;
		if (exited_at > 0 && now - exited_at > DRAIN_AFTER_EXIT)
			return 0;
		for (i = 0; i < 2; i++)
			if (s[i].fd >= 0)
				pfd[n++] = (struct pollfd){.fd = s[i].fd, .events = POLLIN};
		if (poll(pfd, n, 100) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			struct stream *st = pfd[i].fd == s[0].fd ? &s[0] : &s[1];
			if (pfd[i].revents != 0)
				pump(sink, st);
		}
	}
}

int kiln_hook_command_run(const struct kiln_hook *hook, const struct kiln_hook_sink *sink,
                          const char *body, char *const *env)
{
	struct kiln_proc proc = KILN_PROC_INIT;
	struct kiln_proc_opts po = {0};
	struct stream s[2] = {{-1, KILN_EVENT_STDOUT, KILN_BUF_INIT},
	                      {-1, KILN_EVENT_STDERR, KILN_BUF_INIT}};
	char *sh[] = {"/bin/sh", "-c", hook->command, NULL};
	char *direct[] = {hook->path, NULL};
	const char *what = hook->path != NULL ? hook->path : hook->command;
	char **full_env = hook_environ(env);
	double limit = hook->timeout_s > 0 ? hook->timeout_s : KILN_HOOK_COMMAND_TIMEOUT;
	int in, status = 0, error, i;

	in = stdin_file(body);
	if (in < 0) {
		free(full_env);
		return in;
	}
	po.in = KILN_PROC_FD;
	po.in_fd = in;
	po.out = po.err = KILN_PROC_PIPE;
	po.env = full_env;
	po.cwd = sink->dir;
	po.new_session = 1;
	error = kiln_proc_start(&proc, hook->path != NULL ? direct : sh, &po);
	close(in);
	free(full_env);
	if (error < 0)
		return kiln_error_prefix(error, "hook '%s'", what);
	s[0].fd = proc.out_fd;
	s[1].fd = proc.err_fd;
	/* kiln_proc_finish() must not close what watch() closed. */
	proc.out_fd = proc.err_fd = -1;
	error = watch(&proc, s, sink, kiln_time_mono() + limit);
	/*
	 * Whatever the hook left in its group goes with it, also after a clean
	 * exit (a background child holding its output, or one that closed it):
	 * the unreaped hook keeps its group id from being reused until here.
	 */
	kiln_proc_kill_group(&proc, SIGKILL);
	for (i = 0; i < 2; i++) {
		flush_lines(sink, &s[i], 1);
		if (s[i].fd >= 0)
			close(s[i].fd);
		kiln_buf_release(&s[i].line);
	}
	kiln_proc_finish(&proc, &status);
	if (error == KILN_ETIMEOUT)
		return kiln_error_set(
		    KILN_ETIMEOUT, "hook '%s' ran past its limit of %.0f s: killed", what, limit);
	if (error == KILN_EINTR)
		return kiln_error_set(KILN_EINTR, "hook '%s' stopped", what);
	if (status != 0)
		return kiln_error_set(KILN_ERROR, "hook '%s' failed (exit %d)", what, status);
	return 0;
}
