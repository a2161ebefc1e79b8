/*
 * Remote commands over a session: one channel per command, driven without
 * blocking so that output is read while input is written (a command that
 * prints a lot while reading its input cannot deadlock us), and so that time
 * limits, keepalives and interrupts are honoured between packets.
 */
#include "ssh/session-int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "core/shell.h"
#include "core/log.h"
#include "core/util.h"
#include "ssh/lines.h"

#define READ_CHUNK   (64 * 1024)
#define UPLOAD_CHUNK (256 * 1024) /* the only buffer an upload needs */
#define KILL_GRACE   5            /* seconds between TERM and KILL on the remote side */
#define CLOSE_GRACE  2.0          /* seconds to close a channel we give up on */

struct exec_state {
	struct kiln_ssh_session *s;
	const struct kiln_ssh_exec_opts *opts;
	LIBSSH2_CHANNEL *ch;
	struct kiln_ssh_lines lines;
	double deadline; /* kiln_time_mono(); 0: none */

	int in_fd;
	char *chunk;
	size_t chunk_len, chunk_off;
	int in_done, eof_sent;
	uint64_t sent, total;
	double last_progress;
};

static int valid_name(const char *name)
{
	const char *p;

	if (name == NULL || !(isalpha((unsigned char)name[0]) || name[0] == '_'))
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return 0;
	return 1;
}

/*
 * sshd refuses most variables sent with "env" requests (AcceptEnv), so
 * variables travel on the command line, quoted: `env 'A=v' sh -c 'cmd'`.
 * `shown` is the same line with secret values masked, for the trace log.
 */
static int build_command(struct kiln_buf *cmd, struct kiln_buf *shown,
                         const struct kiln_ssh_exec_opts *opts, const char *user_cmd)
{
	char *pair;
	size_t i, need = 4 * strlen(user_cmd) + 64;
	int wrap = opts->nenv > 0 || opts->timeout > 0, error = 0;

	/* Quoting at most quadruples a string: check the cap once, up front. */
	for (i = 0; i < opts->nenv; i++)
		if (opts->env[i].name != NULL && opts->env[i].value != NULL)
			need += 4 * (strlen(opts->env[i].name) + strlen(opts->env[i].value)) + 8;
	if (need > cmd->cap)
		return kiln_error_set(KILN_ETOOBIG, "command line too long (%zu bytes)", need);

	for (i = 0; i < opts->nenv; i++) {
		const struct kiln_ssh_env *e = &opts->env[i];

		if (!valid_name(e->name) || e->value == NULL)
			return kiln_error_set(KILN_EINVAL, "invalid environment variable name '%s'",
			                      e->name ? e->name : "");
		if (i == 0) {
			kiln_buf_puts(cmd, "env");
			kiln_buf_puts(shown, "env");
		}
		pair = kiln_xasprintf("%s=%s", e->name, e->value);
		kiln_buf_putc(cmd, ' ');
		kiln_sh_quote(cmd, pair);
		kiln_buf_putc(shown, ' ');
		if (e->secret) {
			kiln_log_add_secret(e->value);
			kiln_buf_printf(shown, "%s=***", e->name);
		} else {
			kiln_sh_quote(shown, pair);
		}
		kiln_free_secret(pair);
	}
	if (opts->timeout > 0) {
		/*
		 * Closing the channel does not stop a remote command (sshd has
		 * no pty to hang up), and libssh2 1.10 cannot send signals:
		 * timeout(1) kills the command's whole process group a second
		 * after we give up, and kills it hard KILL_GRACE seconds later.
		 */
		kiln_buf_printf(cmd, "%stimeout -k %d %.0f", opts->nenv ? " " : "", KILL_GRACE,
		                ceil(opts->timeout) + 1);
		kiln_buf_printf(shown, "%stimeout -k %d %.0f", opts->nenv ? " " : "", KILL_GRACE,
		                ceil(opts->timeout) + 1);
	}
	if (wrap) {
		kiln_buf_puts(cmd, " sh -c ");
		kiln_buf_puts(shown, " sh -c ");
		kiln_sh_quote(cmd, user_cmd);
		error = kiln_sh_quote(shown, user_cmd);
	} else {
		kiln_buf_puts(cmd, user_cmd);
		error = kiln_buf_puts(shown, user_cmd);
	}
	return error;
}

/* Read what is there on both streams; *progress is set when bytes came. */
static int drain(struct exec_state *st, int *progress)
{
	char buf[READ_CHUNK];
	ssize_t n;
	int stream, rounds;

	for (stream = 0; stream < 2; stream++) {
		/* Bounded, so that a chatty command cannot starve our writes. */
		for (rounds = 0; rounds < 16; rounds++) {
			n = libssh2_channel_read_ex(st->ch, stream, buf, sizeof(buf));
			if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
				break;
			if (n < 0)
				return kiln_ssh__error(st->s, KILN_ERROR,
				                       "cannot read command output");
			kiln_ssh_lines_feed(&st->lines, (enum kiln_ssh_stream)stream, buf,
			                    (size_t)n);
			*progress = 1;
		}
	}
	return 0;
}

static void report_progress(struct exec_state *st, int force)
{
	double now;

	if (st->opts->on_progress == NULL)
		return;
	now = kiln_time_mono();
	if (!force && now - st->last_progress < 0.1)
		return;
	st->last_progress = now;
	st->opts->on_progress(st->opts->payload, st->sent, st->total);
}

/* Send as much of the input as the channel window takes now. */
static int pump_input(struct exec_state *st, int *progress)
{
	ssize_t n;
	int rc;

	while (!st->eof_sent) {
		if (st->chunk_off == st->chunk_len && !st->in_done) {
			n = read(st->in_fd, st->chunk, UPLOAD_CHUNK);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return kiln_error_set(KILN_ERROR, "cannot read '%s': %s",
				                      st->opts->stdin_path, strerror(errno));
			st->chunk_off = 0;
			st->chunk_len = (size_t)n;
			st->in_done = n == 0;
		}
		if (st->chunk_off < st->chunk_len) {
			n = libssh2_channel_write_ex(st->ch, 0, st->chunk + st->chunk_off,
			                             st->chunk_len - st->chunk_off);
			if (n == LIBSSH2_ERROR_EAGAIN)
				return 0;
			if (n < 0 && libssh2_channel_eof(st->ch)) {
				/* The command stopped reading; its exit status says why. */
				st->eof_sent = 1;
				return 0;
			}
			if (n < 0)
				return kiln_ssh__error(st->s, KILN_ERROR, "cannot send input");
			st->chunk_off += (size_t)n;
			st->sent += (uint64_t)n;
			*progress = 1;
			report_progress(st, 0);
			continue;
		}
		rc = libssh2_channel_send_eof(st->ch);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return 0;
		if (rc < 0)
			return kiln_ssh__error(st->s, KILN_ERROR, "cannot end input");
		st->eof_sent = 1;
		report_progress(st, 1);
		*progress = 1;
	}
	return 0;
}

static int check_limits(struct exec_state *st)
{
	if (st->opts->stop != NULL && *st->opts->stop)
		return kiln_error_set(KILN_EINTR, "command on '%s' interrupted", st->s->where);
	if (st->deadline > 0 && kiln_time_mono() >= st->deadline)
		return kiln_error_set(KILN_ETIMEOUT, "command on '%s' timed out after %.0f s",
		                      st->s->where, st->opts->timeout);
	return 0;
}

/* Wait for the socket, until the earlier of the command's and `io_deadline`. */
static int wait_io(struct exec_state *st, double io_deadline, const char *what)
{
	double dl = io_deadline;
	int error;

	if (st->deadline > 0 && (dl == 0 || st->deadline < dl))
		dl = st->deadline;
	error = kiln_ssh__wait_socket(st->s, dl);
	if (error == KILN_ETIMEOUT) {
		error = check_limits(st);
		if (error == 0)
			error = kiln_error_set(KILN_ETIMEOUT, "%s on '%s' timed out", what,
			                       st->s->where);
	}
	return error;
}

/* Call a libssh2 step until it stops asking to be called again. */
#define RETRY_STEP(rc, call, st, io_deadline, what)                                                \
	for (;;) {                                                                                 \
		rc = (call);                                                                       \
		if (rc != LIBSSH2_ERROR_EAGAIN)                                                    \
			break;                                                                     \
		error = wait_io(st, io_deadline, what);                                            \
		if (error < 0)                                                                     \
			return error;                                                              \
	}

static int start_command(struct exec_state *st, const char *cmd)
{
	double io_deadline = kiln_time_mono() + st->s->io_timeout;
	int rc, error;

	for (;;) {
		st->ch = libssh2_channel_open_session(st->s->ssh);
		if (st->ch != NULL)
			break;
		if (libssh2_session_last_errno(st->s->ssh) != LIBSSH2_ERROR_EAGAIN)
			return kiln_ssh__error(st->s, KILN_ERROR, "cannot open a channel");
		error = wait_io(st, io_deadline, "opening a channel");
		if (error < 0)
			return error;
	}
	RETRY_STEP(rc, libssh2_channel_exec(st->ch, cmd), st, io_deadline, "starting a command");
	if (rc < 0)
		return kiln_ssh__error(st->s, KILN_ERROR, "cannot start the command");
	return 0;
}

static const struct {
	const char *name;
	int num;
} signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"ABRT", SIGABRT},
    {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"SEGV", SIGSEGV}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
};

static int exit_status_of(struct exec_state *st)
{
	char *sig = NULL;
	size_t len = 0, i;
	int status = libssh2_channel_get_exit_status(st->ch);

	if (libssh2_channel_get_exit_signal(st->ch, &sig, &len, NULL, NULL, NULL, NULL) == 0 &&
	    sig != NULL) {
		status = 128 + SIGTERM;
		for (i = 0; i < KILN_ARRAY_SIZE(signals); i++)
			if (strlen(signals[i].name) == len &&
			    memcmp(sig, signals[i].name, len) == 0)
				status = 128 + signals[i].num;
		kiln_log_debug("ssh: command on '%s' killed by SIG%.*s", st->s->where, (int)len,
		               sig);
		libssh2_free(st->s->ssh, sig);
	}
	return status;
}

/* After the remote end's EOF: close, and wait for the exit status. */
static int finish_command(struct exec_state *st, int *exit_status)
{
	double io_deadline = kiln_time_mono() + st->s->io_timeout;
	int rc, error;

	RETRY_STEP(rc, libssh2_channel_close(st->ch), st, io_deadline, "closing the channel");
	if (rc < 0)
		return kiln_ssh__error(st->s, KILN_ERROR, "cannot close the channel");
	RETRY_STEP(rc, libssh2_channel_wait_closed(st->ch), st, io_deadline, "closing the channel");
	if (rc < 0)
		return kiln_ssh__error(st->s, KILN_ERROR, "cannot close the channel");
	*exit_status = exit_status_of(st);
	return 0;
}

static int run(struct exec_state *st, int *exit_status)
{
	int error, progress;

	for (;;) {
		error = check_limits(st);
		if (error < 0)
			return error;
		progress = 0;
		error = drain(st, &progress);
		if (error < 0)
			return error;
		if (st->in_fd >= 0) {
			error = pump_input(st, &progress);
			if (error < 0)
				return error;
		}
		if (libssh2_channel_eof(st->ch)) {
			/* EOF is reported once no data is queued: read what is left. */
			error = drain(st, &progress);
			if (error < 0)
				return error;
			if (!progress)
				break;
			continue;
		}
		if (!progress) {
			error = wait_io(st, 0, "command");
			if (error < 0)
				return error;
		}
	}
	return finish_command(st, exit_status);
}

/*
 * Close (if still open) and free the channel. A command given up on is not
 * waited for long: a dead peer must not hold up the error.
 */
static void release_channel(struct exec_state *st)
{
	double end = kiln_time_mono() + CLOSE_GRACE;
	int rc;

	if (st->ch == NULL)
		return;
	for (;;) {
		rc = libssh2_channel_close(st->ch);
		if (rc != LIBSSH2_ERROR_EAGAIN || kiln_time_mono() >= end)
			break;
		kiln_ssh__wait_socket(st->s, end);
	}
	for (;;) {
		rc = libssh2_channel_free(st->ch);
		if (rc != LIBSSH2_ERROR_EAGAIN || kiln_time_mono() >= end)
			break;
		kiln_ssh__wait_socket(st->s, end);
	}
	/* If the peer is gone, libssh2_session_free() reclaims the channel. */
	st->ch = NULL;
}

static int open_input(struct exec_state *st)
{
	struct stat sb;

	st->in_fd = open(st->opts->stdin_path, O_RDONLY | O_CLOEXEC);
	if (st->in_fd < 0)
		return kiln_error_set(KILN_ERROR, "cannot open '%s': %s", st->opts->stdin_path,
		                      strerror(errno));
	if (fstat(st->in_fd, &sb) == 0 && S_ISREG(sb.st_mode))
		st->total = (uint64_t)sb.st_size;
	posix_fadvise(st->in_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	st->chunk = kiln_xmalloc(UPLOAD_CHUNK);
	return 0;
}

/* A session whose connection broke is not tried again. */
static int lost_earlier(const struct kiln_ssh_session *s)
{
	return kiln_error_set(KILN_ERROR, "the SSH connection to '%s' was lost earlier", s->where);
}

int kiln_ssh_exec(int *exit_status, struct kiln_ssh_session *s, const char *cmd,
                  const struct kiln_ssh_exec_opts *opts)
{
	static const struct kiln_ssh_exec_opts defaults;
	struct kiln_buf line = KILN_BUF_INIT, shown = KILN_BUF_INIT;
	struct exec_state st;
	double started;
	int error, status = -1;

	KILN_ASSERT_ARG(exit_status != NULL && s != NULL && cmd != NULL);
	if (opts == NULL)
		opts = &defaults;
	KILN_ASSERT_ARG(opts->timeout >= 0 && (opts->nenv == 0 || opts->env != NULL));
	*exit_status = -1;
	if (s->lost)
		return lost_earlier(s);

	memset(&st, 0, sizeof(st));
	st.s = s;
	st.opts = opts;
	st.in_fd = -1;
	kiln_ssh_lines_init(&st.lines, opts);

	error = build_command(&line, &shown, opts, cmd);
	if (error < 0)
		goto done;
	if (opts->stdin_path != NULL) {
		error = open_input(&st);
		if (error < 0)
			goto done;
	}
	kiln_log_trace("ssh", "exec on '%s': %s", s->where, shown.ptr);

	started = kiln_time_mono();
	if (opts->timeout > 0)
		st.deadline = started + opts->timeout;
	libssh2_session_set_blocking(s->ssh, 0);
	error = start_command(&st, line.ptr);
	if (error == 0)
		error = run(&st, &status);
	if (error == 0 && st.in_fd >= 0 && st.sent < st.total && status == 0)
		error = kiln_error_set(
		    KILN_ERROR,
		    "the command on '%s' exited before reading its input (%llu of "
		    "%llu bytes)",
		    s->where, (unsigned long long)st.sent, (unsigned long long)st.total);
	if (error == 0) {
		*exit_status = status;
		kiln_log_trace("ssh", "exit %d on '%s' after %.2f s", status, s->where,
		               kiln_time_mono() - started);
	}

done:
	release_channel(&st);
	if (s->ssh != NULL)
		libssh2_session_set_blocking(s->ssh, 1);
	kiln_ssh_lines_finish(&st.lines);
	kiln_ssh_lines_release(&st.lines);
	free(st.chunk);
	if (st.in_fd >= 0)
		close(st.in_fd);
	kiln_buf_wipe(&line);
	kiln_buf_release(&shown);
	return error;
}

int kiln_ssh_upload(int *exit_status, struct kiln_ssh_session *s, const char *local_path,
                    const char *remote_cmd, const struct kiln_ssh_exec_opts *opts)
{
	struct kiln_ssh_exec_opts o;

	KILN_ASSERT_ARG(local_path != NULL && remote_cmd != NULL);
	if (opts != NULL)
		o = *opts;
	else
		memset(&o, 0, sizeof(o));
	o.stdin_path = local_path;
	if (s->lost)
		return lost_earlier(s);
	if (kiln_ssh__openssh_wanted(s, local_path, o.size_hint)) {
		struct kiln_buf cmd = KILN_BUF_INIT, shown = KILN_BUF_INIT;
		int error = build_command(&cmd, &shown, &o, remote_cmd);
		if (error == 0)
			error = kiln_ssh__upload_openssh(exit_status, s, local_path, cmd.ptr, &o);
		kiln_buf_wipe(&cmd);
		kiln_buf_release(&cmd);
		kiln_buf_release(&shown);
		return error;
	}
	return kiln_ssh_exec(exit_status, s, remote_cmd, &o);
}
