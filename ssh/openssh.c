/*
 * Bulk uploads through the OpenSSH client. libssh2 1.10 (Debian 12) encrypts
 * one cipher block per call into libcrypto, which caps an upload at about
 * three quarters of scp's speed; OpenSSH's ssh(1) does not. So when ssh(1)
 * is installed, kiln_ssh_upload() runs it for the bytes, while everything
 * else (the host key check, commands, their output) stays on libssh2.
 *
 * ssh(1) is pinned to exactly what this session verified: the host key the
 * libssh2 session accepted (against the instance's console fingerprints) is
 * the only line of a private known_hosts file, StrictHostKeyChecking is on,
 * and no user configuration, agent or other identity is consulted. The
 * private key goes to a 0600 file in a 0700 directory for the length of the
 * upload only.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/log.h"
#include "core/proc.h"
#include "core/util.h"
#include "ssh/session-int.h"
#include "ssh/session.h"

#define PUMP_CHUNK   (256 * 1024)
#define LINE_MAX_LEN 4096

static const char *ssh_binary(void)
{
	static const char *const paths[] = {"/usr/bin/ssh", "/bin/ssh", "/usr/local/bin/ssh"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

int kiln_ssh__openssh_usable(const struct kiln_ssh_session *s)
{
	const char *t = getenv("KILN_SSH_TRANSPORT");

	if (t != NULL && strcmp(t, "libssh2") == 0)
		return 0;
	return s->private_pem != NULL && s->hostkey_b64 != NULL && s->user != NULL &&
	       ssh_binary() != NULL;
}

struct pump {
	const struct kiln_ssh_exec_opts *o;
	const char *label;
	struct kiln_buf line[2];
	char **tail;
	size_t tail_max, tail_count, tail_next;
};

static void emit(struct pump *p, int stream)
{
	struct kiln_buf *b = &p->line[stream];
	size_t len = b->size;

	if (len > 0 && b->ptr[len - 1] == '\r')
		len--;
	if (p->o->on_line)
		p->o->on_line(p->o->payload, (enum kiln_ssh_stream)stream, b->ptr, len);
	else
		kiln_log_info("[%s] %.*s", p->label, (int)len, b->ptr);
	if (p->tail_max) {
		if (p->tail_count == p->tail_max)
			free(p->tail[p->tail_next]);
		else
			p->tail_count++;
		p->tail[p->tail_next] = kiln_xstrndup(b->ptr, len);
		p->tail_next = (p->tail_next + 1) % p->tail_max;
	}
	kiln_buf_clear(b);
}

static void feed(struct pump *p, int stream, const char *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (d[i] == '\n' || p->line[stream].size >= LINE_MAX_LEN) {
			emit(p, stream);
			if (d[i] == '\n')
				continue;
		}
		kiln_buf_putc(&p->line[stream], d[i]);
	}
}

static void join_tail(struct pump *p)
{
	if (p->o->tail == NULL)
		return;
	kiln_buf_clear(p->o->tail);
	for (size_t i = 0; i < p->tail_count; i++) {
		size_t at = (p->tail_next + p->tail_max - p->tail_count + i) % p->tail_max;
		kiln_buf_printf(p->o->tail, "%s%s", i ? "\n" : "", p->tail[at]);
	}
}

static int write_files(const struct kiln_ssh_session *s, const char *dir, char **key_path,
                       char **known_hosts)
{
	struct kiln_ssh_key key = {0};
	char *line;
	int error;

	*key_path = kiln_path_join(dir, "id");
	*known_hosts = kiln_path_join(dir, "known_hosts");
	key.private_pem = s->private_pem;
	key.private_len = strlen(s->private_pem);
	error = kiln_ssh_key_write_private(&key, *key_path);
	if (error < 0)
		return error;
	line = kiln_xasprintf("kiln-pinned %s %s\n", s->hostkey_type, s->hostkey_b64);
	error = kiln_file_write_atomic(*known_hosts, line, strlen(line), 0600);
	free(line);
	return error;
}

int kiln_ssh__upload_openssh(int *exit_status, struct kiln_ssh_session *s, const char *local_path,
                             const char *remote_cmd, const struct kiln_ssh_exec_opts *o)
{
	char tmpl[] = "/tmp/kiln-ssh-XXXXXX", port[16], timeout[32];
	char *dir = NULL, *key_path = NULL, *known_hosts = NULL, *idopt = NULL, *khopt = NULL;
	char *ctopt = NULL, *chunk = NULL;
	struct kiln_proc proc = KILN_PROC_INIT;
	struct kiln_proc_opts po = {
	    .in = KILN_PROC_FD, .out = KILN_PROC_PIPE, .err = KILN_PROC_PIPE, .new_session = 1};
	struct pump p = {.o = o, .label = o->label ? o->label : "remote"};
	struct stat st;
	uint64_t sent = 0, total = 0;
	int in = -1, error = 0, status = -1, open_fds[2] = {1, 1};
	double deadline = o->timeout > 0 ? kiln_time_mono() + o->timeout : 0;

	struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;

	/* a command that stops reading must not kill kiln with SIGPIPE */
	sigaction(SIGPIPE, &ign, &old_pipe);
	*exit_status = -1;
	kiln_buf_init(&p.line[0], LINE_MAX_LEN + 16);
	kiln_buf_init(&p.line[1], LINE_MAX_LEN + 16);
	p.tail_max = o->tail ? (o->tail_lines ? o->tail_lines : 20) : 0;
	p.tail = p.tail_max ? kiln_xcalloc(p.tail_max, sizeof(*p.tail)) : NULL;
	in = open(local_path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		error = kiln_error_set(errno == ENOENT ? KILN_ENOTFOUND : KILN_ERROR,
		                       "cannot open '%s': %s", local_path, strerror(errno));
		goto done;
	}
	if (fstat(in, &st) == 0 && S_ISREG(st.st_mode))
		total = (uint64_t)st.st_size;
	dir = mkdtemp(tmpl);
	if (dir == NULL) {
		error = kiln_error_set(KILN_ERROR, "cannot create a directory for ssh: %s",
		                       strerror(errno));
		goto done;
	}
	error = write_files(s, dir, &key_path, &known_hosts);
	if (error < 0)
		goto done;
	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(timeout, sizeof(timeout), "ConnectTimeout=%.0f",
	         s->io_timeout > 0 ? s->io_timeout : 10);
	idopt = kiln_xasprintf("IdentityFile=%s", key_path);
	khopt = kiln_xasprintf("UserKnownHostsFile=%s", known_hosts);
	ctopt = kiln_xstrdup(timeout);
	{
		char *argv[] = {(char *)ssh_binary(),
		                "-F",
		                "/dev/null",
		                "-T",
		                "-x",
		                "-a",
		                "-o",
		                "BatchMode=yes",
		                "-o",
		                "IdentitiesOnly=yes",
		                "-o",
		                idopt,
		                "-o",
		                khopt,
		                "-o",
		                "GlobalKnownHostsFile=/dev/null",
		                "-o",
		                "StrictHostKeyChecking=yes",
		                "-o",
		                "HostKeyAlias=kiln-pinned",
		                "-o",
		                "CheckHostIP=no",
		                "-o",
		                ctopt,
		                "-o",
		                "ServerAliveInterval=15",
		                "-o",
		                "ServerAliveCountMax=4",
		                "-o",
		                "LogLevel=ERROR",
		                "-p",
		                port,
		                "-l",
		                s->user,
		                "--",
		                s->host,
		                (char *)remote_cmd,
		                NULL};
		/* ssh(1) reads the file itself: no copy through kiln */
		po.in_fd = in;
		error = kiln_proc_start(&proc, argv, &po);
		if (error < 0)
			goto done;
	}
	open_fds[0] = proc.out_fd >= 0;
	open_fds[1] = proc.err_fd >= 0;
	chunk = kiln_xmalloc(PUMP_CHUNK);
	kiln_log_debug("upload to %s through OpenSSH (%s)", s->where, ssh_binary());
	while (open_fds[0] || open_fds[1]) {
		struct pollfd fds[2];
		int nfds = 0, ri[2] = {-1, -1}, rc;
		off_t at;

		if ((o->stop && *o->stop) || (deadline > 0 && kiln_time_mono() >= deadline)) {
			kiln_proc_kill(&proc, SIGTERM);
			error =
			    o->stop && *o->stop
			        ? kiln_error_set(KILN_EINTR, "upload to '%s' interrupted", s->where)
			        : kiln_error_set(KILN_ETIMEOUT,
			                         "upload to '%s' timed out after %.0f s", s->where,
			                         o->timeout);
			break;
		}
		for (int k = 0; k < 2; k++) {
			if (!open_fds[k])
				continue;
			fds[nfds].fd = k == 0 ? proc.out_fd : proc.err_fd;
			fds[nfds].events = POLLIN;
			ri[k] = nfds++;
		}
		rc = poll(fds, (nfds_t)nfds, 100);
		if (rc < 0 && errno != EINTR) {
			error = kiln_error_set(KILN_ERROR, "poll: %s", strerror(errno));
			break;
		}
		/* ssh(1) shares the file's offset with us: that is the progress */
		at = total ? lseek(in, 0, SEEK_CUR) : -1;
		if (at >= 0 && (uint64_t)at != sent) {
			sent = (uint64_t)at;
			if (o->on_progress)
				o->on_progress(o->payload, sent, total);
		}
		if (rc <= 0)
			continue;
		for (int k = 0; k < 2; k++) {
			if (ri[k] >= 0 && fds[ri[k]].revents) {
				ssize_t n = read(fds[ri[k]].fd, chunk, PUMP_CHUNK);
				if (n > 0)
					feed(&p, k, chunk, (size_t)n);
				else if (n == 0 || (errno != EINTR && errno != EAGAIN))
					open_fds[k] = 0;
			}
		}
	}
	for (int k = 0; k < 2; k++)
		if (p.line[k].size)
			emit(&p, k);
	kiln_proc_finish(&proc, &status);
	if (error < 0)
		goto done;
	if (status == 255) {
		struct kiln_buf t = KILN_BUF_INIT;
		for (size_t i = 0; i < p.tail_count; i++) {
			size_t at = (p.tail_next + p.tail_max - p.tail_count + i) % p.tail_max;
			kiln_buf_printf(&t, "%s%s", i ? "; " : "", p.tail[at]);
		}
		error = kiln_error_set(KILN_ERROR, "ssh to '%s' failed%s%s", s->where,
		                       t.size ? ": " : "", t.ptr);
		kiln_buf_release(&t);
		goto done;
	}
	*exit_status = status;
	if (total && (uint64_t)lseek(in, 0, SEEK_CUR) < total && status == 0)
		error = kiln_error_set(
		    KILN_ERROR, "the command on '%s' exited before reading its input", s->where);
done:
	join_tail(&p);
	if (proc.pid > 0) {
		kiln_proc_kill(&proc, SIGKILL);
		kiln_proc_finish(&proc, &status);
	}
	if (in >= 0)
		close(in);
	if (dir)
		kiln_rm_rf(dir);
	for (size_t i = 0; i < p.tail_count; i++)
		free(p.tail[i]);
	free(p.tail);
	kiln_buf_release(&p.line[0]);
	kiln_buf_release(&p.line[1]);
	free(chunk);
	free(key_path);
	free(known_hosts);
	free(idopt);
	free(khopt);
	free(ctopt);
	sigaction(SIGPIPE, &old_pipe, NULL);
	return error;
}
