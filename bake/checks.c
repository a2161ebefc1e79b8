/*
 * The profile's checks on the builder (DESIGN.md section 7), all in one
 * remote command. Every SSH command costs the builder a session (tens of
 * milliseconds: sshd forks, a shell starts), so one shell runs each check's
 * script in turn, each under its own time limit, and ends each with the line
 * "<nonce> <index> <status>". The nonce is new for every bake: a check's
 * output that happens to look like an end line is not taken for one.
 */
#include "bake/pipeline-int.h"
#include "core/log.h"
#include "core/shell.h"
#include "core/util.h"
#include "validate/checks.h"

#include <string.h>

#define CHECK_TIMEOUT 60 /* seconds, when the check sets none */
#define KILL_GRACE    5  /* seconds between TERM and KILL for a check past its time */
#define TAIL_LINES    5  /* of a failed check's output, in the error */

struct result {
	int status; /* -1 until its end line */
	char *tail[TAIL_LINES];
	size_t ntail, next;
};

struct run {
	struct kiln_bake_line who; /* the checks' output goes out as the bake's events */
	char *nonce;
	struct result *r;
	size_t n, current; /* the check whose output is coming */
};

static void keep_line(struct run *run, enum kiln_ssh_stream stream, const char *line, size_t len)
{
	struct result *r = &run->r[run->current];
	struct kiln_buf esc = KILN_BUF_INIT;

	kiln_bake__on_line(&run->who, stream, line, len);
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
			run->r[i].status = (int)status;
			run->current++;
		}
		free(text);
	}
}

/* Every check's script under its own limit; *limit is the whole command's. */
static int build(struct kiln_buf *cmd, double *limit, const struct kiln_validate_spec *v,
                 const char *nonce)
{
	struct kiln_buf script = KILN_BUF_INIT;
	size_t i;
	int error = 0;

	*limit = 10;
	for (i = 0; i < v->nchecks && error >= 0; i++) {
		const struct kiln_check_spec *c = &v->checks[i];
		int t = c->timeout_s != KILN_UNSET ? c->timeout_s : CHECK_TIMEOUT;

		kiln_buf_clear(&script);
		error = kiln_check_script(&script, c);
		if (error < 0)
			break;
		/* Its own time limit: a check that hangs fails alone (status 124). */
		kiln_buf_printf(cmd, "timeout -k %d %d sh -c ", KILL_GRACE, t + 5);
		kiln_sh_quote(cmd, script.ptr);
		error = kiln_buf_printf(cmd, " </dev/null 2>&1; echo \"%s %zu $?\"\n", nonce, i);
		*limit += t + 5 + KILL_GRACE;
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

/* Say which checks held; the error lists those that did not, with their output. */
static int report(const struct run *run, const struct kiln_validate_spec *v)
{
	struct kiln_buf failures = KILN_BUF_INIT;
	size_t i, nfailed = 0;
	int error = 0;

	for (i = 0; i < v->nchecks; i++) {
		char *label = kiln_check_label(&v->checks[i]);
		char *tail = tail_of(&run->r[i], "\n    ");

		if (run->r[i].status == 0) {
			kiln_bake__say(run->who.b, "check ok: %s", label);
		} else {
			kiln_buf_printf(&failures, "\n  %s: %s", label,
			                tail                   ? tail
			                : run->r[i].status < 0 ? "did not finish"
			                                       : "failed");
			nfailed++;
		}
		free(label);
		free(tail);
	}
	if (nfailed > 0)
		error = kiln_error_set(KILN_ERROR, "%zu of %zu checks failed on the builder:%s",
		                       nfailed, v->nchecks, failures.ptr);
	kiln_buf_release(&failures);
	return error;
}

int kiln_bake__checks(struct bake *b)
{
	const struct kiln_validate_spec *v = &b->profile->validate;
	/* What a check may compare with: the release being baked (no secrets). */
	const struct kiln_ssh_env env[] = {
	    {"KILN_PROFILE", b->profile->name, 0},
	    {"KILN_APP_REF", b->app_ref ? b->app_ref : "", 0},
	    {"KILN_OS_REF", b->os_ref ? b->os_ref : "", 0},
	};
	struct run run = {0};
	struct kiln_buf cmd = KILN_BUF_INIT, last = KILN_BUF_INIT;
	struct kiln_ssh_exec_opts o = {.label = "check",
	                               .on_line = on_line,
	                               .payload = &run,
	                               .env = env,
	                               .nenv = KILN_ARRAY_SIZE(env),
	                               .stop = b->stop};
	size_t i, k;
	int status = 0, error;

	if (v->nchecks == 0)
		return 0;
	run.who = (struct kiln_bake_line){b, "check"};
	run.nonce = kiln_id_random("kiln-check-", 16);
	run.n = v->nchecks;
	run.r = kiln_xcalloc(v->nchecks, sizeof(*run.r));
	for (i = 0; i < v->nchecks; i++)
		run.r[i].status = -1;
	error = build(&cmd, &o.timeout, v, run.nonce);
	if (error >= 0)
		error = kiln_ssh_exec(&status, b->ssh, cmd.ptr, &o);
	if (error < 0 && run.current < run.n) {
		char *tail = tail_of(&run.r[run.current], "\n");
		char *label = kiln_check_label(&v->checks[run.current]);
		char *what = kiln_xasprintf("check '%s'", label);
		kiln_buf_puts(&last, tail ? tail : "");
		error = kiln_bake__lost_while(b, error, what, &last);
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
