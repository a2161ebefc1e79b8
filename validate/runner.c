#include "validate/runner.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/shell.h"
#include "core/util.h"
#include "validate/checks.h"
#include "validate/report.h"

#include <string.h>

#define CHECK_TIMEOUT 60 /* seconds, when the check sets none */
#define KILL_GRACE    5  /* seconds between TERM and KILL for a check past its time */
#define TAIL_LINES    5  /* of a failed check's output, in the error */

struct result {
	int status; /* -1 until its end line */
	double seconds;
	char *tail[TAIL_LINES];
	size_t ntail, next;
};

struct run {
	const struct kiln_checks_opts *o;
	char *nonce;
	struct result *r;
	size_t n, current; /* the check whose output is coming */
	double mark;       /* when the last check ended (or the command started) */
};

/* One of the checks' output lines, as an OUTPUT event: escaped and redacted. */
static void output(const struct run *run, enum kiln_ssh_stream stream, const char *line, size_t len)
{
	struct kiln_event ev = {.kind = KILN_EVENT_OUTPUT, .label = "check"};
	struct kiln_buf text = KILN_BUF_INIT;
	char *clean;

	if (run->o->events == NULL || run->o->events->cb == NULL)
		return;
	kiln_buf_put_escaped(&text, line, len, 0);
	clean = kiln_log_redact(text.ptr);
	ev.message = clean;
	ev.stream = stream == KILN_SSH_STDERR ? KILN_EVENT_STDERR : KILN_EVENT_STDOUT;
	kiln_emit_event(run->o->events, &ev);
	free(clean);
	kiln_buf_release(&text);
}

static void keep_line(struct run *run, enum kiln_ssh_stream stream, const char *line, size_t len)
{
	struct result *r = &run->r[run->current];
	struct kiln_buf esc = KILN_BUF_INIT;

	output(run, stream, line, len);
	kiln_buf_put_escaped(&esc, line, len, 0);
	if (r->ntail == TAIL_LINES)
		free(r->tail[r->next]);
	else
		r->ntail++;
	r->tail[r->next] = kiln_buf_detach(&esc);
	r->next = (r->next + 1) % TAIL_LINES;
}

/*
 * One line of the command's output: a check's own, or its end line (which
 * may follow output that did not end with a newline).
 */
static void on_line(void *payload, enum kiln_ssh_stream stream, const char *line, size_t len)
{
	struct run *run = payload;
	size_t nl = strlen(run->nonce), at;
	const char *mark = memmem(line, len, run->nonce, nl);
	char *end = NULL;
	unsigned long i;
	long status;

	if (run->current >= run->n)
		return;
	at = mark != NULL ? (size_t)(mark - line) : len;
	if (at > 0 || mark == NULL)
		keep_line(run, stream, line, at);
	if (mark == NULL || len - at > nl + 32)
		return;
	{
		char *text = kiln_xstrndup(mark + nl, len - at - nl);
		i = strtoul(text, &end, 10);
		status = *end == ' ' ? strtol(end + 1, &end, 10) : -1;
		if (*end == '\0' && i == run->current && status >= 0 && status < 256) {
			double now = kiln_time_mono();
			run->r[i].status = (int)status;
			run->r[i].seconds = now - run->mark;
			run->mark = now;
			run->current++;
		}
		free(text);
	}
}

/* One check's script under its own limit, ended by its line; *limit grows by its time. */
static int build_one(struct kiln_buf *cmd, double *limit, const struct kiln_buf *script, int t,
                     const char *nonce, size_t i)
{
	/* Its own time limit: a check that hangs fails alone (status 124). */
	kiln_buf_printf(cmd, "timeout -k %d %d sh -c ", KILL_GRACE, t + 5);
	kiln_sh_quote(cmd, script->ptr);
	*limit += t + 5 + KILL_GRACE;
	return kiln_buf_printf(cmd, " </dev/null 2>&1; echo \"%s %zu $?\"\n", nonce, i);
}

/* Every check, then every HTTP check; *limit is the whole command's. */
static int build(struct kiln_buf *cmd, double *limit, const struct kiln_validate_spec *v,
                 const char *nonce)
{
	struct kiln_buf script = KILN_BUF_INIT;
	size_t i;
	int error = 0;

	*limit = 10;
	for (i = 0; i < v->nchecks + v->nhttp && error >= 0; i++) {
		int t;

		kiln_buf_clear(&script);
		if (i < v->nchecks) {
			const struct kiln_check_spec *c = &v->checks[i];
			t = c->timeout_s != KILN_UNSET ? c->timeout_s : CHECK_TIMEOUT;
			error = kiln_check_script(&script, c);
		} else {
			const struct kiln_http_check_spec *h = &v->http[i - v->nchecks];
			t = h->timeout_s;
			error = kiln_http_check_script(&script, h);
		}
		if (error >= 0)
			error = build_one(cmd, limit, &script, t, nonce, i);
	}
	kiln_buf_release(&script);
	return error;
}

/* The last lines of check `r`, joined by `sep`, or NULL when it printed none. */
static char *tail_of(const struct result *r, const char *sep)
{
	struct kiln_buf b = KILN_BUF_INIT;
	size_t k;

	for (k = 0; k < r->ntail; k++)
		kiln_buf_printf(&b, "%s%s", k ? sep : "",
		                r->tail[(r->next + TAIL_LINES - r->ntail + k) % TAIL_LINES]);
	kiln_buf_rtrim(&b);
	if (b.size == 0) {
		kiln_buf_release(&b);
		return NULL;
	}
	return kiln_buf_detach(&b);
}

static char *label_of(const struct kiln_validate_spec *v, size_t i)
{
	return i < v->nchecks ? kiln_check_label(&v->checks[i])
	                      : kiln_http_check_label(&v->http[i - v->nchecks]);
}

/* Say which checks held, record each; the error lists those that did not, with their output. */
static int report(const struct run *run, const struct kiln_validate_spec *v)
{
	const struct kiln_checks_opts *o = run->o;
	struct kiln_buf failures = KILN_BUF_INIT;
	size_t i, nfailed = 0;
	int error = 0;

	for (i = 0; i < run->n; i++) {
		const struct result *r = &run->r[i];
		char *label = label_of(v, i);
		char *tail = tail_of(r, "\n");
		const char *what = r->status == 124 || r->status == 137 ? "ran past its time limit"
		                   : tail != NULL                       ? tail
		                   : r->status < 0                      ? "did not finish"
		                                                        : "failed";
		int http = i >= v->nchecks;

		if (o->report != NULL)
			kiln_report_add(o->report, http ? "http" : "checks", label,
			                http ? "http" : kiln_check_kind_name(v->checks[i].kind),
			                r->status == 0, r->seconds, what, NULL);
		if (r->status == 0) {
			if (o->events != NULL)
				kiln_emit(o->events, KILN_EVENT_PROGRESS, NULL, "check ok: %s",
				          label);
		} else {
			char *indented = tail_of(r, "\n    ");
			kiln_buf_printf(&failures, "\n  %s: %s", label,
			                indented != NULL && r->status != 124 && r->status != 137
			                    ? indented
			                    : what);
			free(indented);
			nfailed++;
		}
		free(label);
		free(tail);
	}
	if (nfailed > 0)
		error =
		    kiln_error_set(KILN_ERROR, "%zu of %zu checks failed %s:%s", nfailed, run->n,
		                   o->where != NULL ? o->where : "on the machine", failures.ptr);
	kiln_buf_release(&failures);
	return error;
}

int kiln_checks_run(struct kiln_builder *machine, const struct kiln_validate_spec *v,
                    const struct kiln_checks_opts *opts)
{
	struct run run = {0};
	struct kiln_buf cmd = KILN_BUF_INIT, last = KILN_BUF_INIT;
	struct kiln_ssh_exec_opts o = {.label = "check", .on_line = on_line, .payload = &run};
	size_t i, k;
	int status = 0, error;

	KILN_ASSERT_ARG(machine != NULL && v != NULL && opts != NULL);
	if (v->nchecks + v->nhttp == 0)
		return 0;
	o.env = opts->env;
	o.nenv = opts->nenv;
	o.stop = opts->stop;
	run.o = opts;
	run.nonce = kiln_id_random("kiln-check-", 16);
	run.n = v->nchecks + v->nhttp;
	run.r = kiln_xcalloc(run.n, sizeof(*run.r));
	for (i = 0; i < run.n; i++)
		run.r[i].status = -1;
	error = build(&cmd, &o.timeout, v, run.nonce);
	run.mark = kiln_time_mono();
	if (error >= 0)
		error = kiln_ssh_exec(&status, machine->ssh, cmd.ptr, &o);
	if (error < 0 && run.current < run.n) {
		char *tail = tail_of(&run.r[run.current], "\n");
		char *label = label_of(v, run.current);
		char *what = kiln_xasprintf("check '%s'", label);
		kiln_buf_puts(&last, tail ? tail : "");
		error = kiln_builder_lost_while(machine, error, what, &last);
		free(what);
		free(label);
		free(tail);
	}
	if (error >= 0)
		error = report(&run, v);
	for (i = 0; i < run.n; i++)
		for (k = 0; k < run.r[i].ntail; k++)
			free(run.r[i].tail[k]);
	free(run.r);
	free(run.nonce);
	kiln_buf_release(&cmd);
	kiln_buf_release(&last);
	return error;
}
