/*
 * Bulk uploads through the OpenSSH client. libssh2 1.10 (Debian 12) encrypts
 * one cipher block per call into libcrypto, which caps an upload at about
 * three quarters of scp's speed; OpenSSH's ssh(1) does not. So when ssh(1)
 * is installed, kiln_ssh_upload() runs it for the bytes of big files (small
 * ones are faster over the session already open than through a second
 * handshake), while everything else (the host key check, commands, their
 * output) stays on libssh2.
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
#include "ssh/lines.h"
#include "ssh/session-int.h"

#define PUMP_CHUNK (256 * 1024)

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

int kiln_ssh__openssh_wanted(const struct kiln_ssh_session *s, const char *local_path,
                             uint64_t size_hint)
{
	const char *t = getenv("KILN_SSH_TRANSPORT");
	struct stat st;
	uint64_t size = size_hint;

	if (!kiln_ssh__openssh_usable(s))
		return 0;
	if (t != NULL && strcmp(t, "openssh") == 0)
		return 1;
	if (stat(local_path, &st) == 0 && S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	/* A pipe of unknown length may carry anything: bulk, as a big file. */
	return size == 0 || size >= KILN_SSH_OPENSSH_MIN;
}

/* One upload through ssh(1): what it needs, and what it has done so far. */
struct upload {
	struct kiln_ssh_session *s;
	const struct kiln_ssh_exec_opts *o;
	struct kiln_ssh_lines lines;
	struct kiln_proc proc;
	int in;                      /* the file; ssh(1) reads it through its stdin */
	uint64_t sent, total;        /* total: 0 when not a regular file */
	char tmpl[32];               /* the private directory for the key and known_hosts */
	char *dir;                   /* tmpl once created */
	char *idopt, *khopt, *ctopt; /* -o values */
};

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

/* The input file, and the key and known_hosts files that pin ssh(1) to this session. */
static int prepare(struct upload *u, const char *local_path)
{
	char *key_path = NULL, *known_hosts = NULL;
	struct stat st;
	int error;

	u->in = open(local_path, O_RDONLY | O_CLOEXEC);
	if (u->in < 0)
		return kiln_error_set(errno == ENOENT ? KILN_ENOTFOUND : KILN_ERROR,
		                      "cannot open '%s': %s", local_path, strerror(errno));
	if (fstat(u->in, &st) == 0 && S_ISREG(st.st_mode))
		u->total = (uint64_t)st.st_size;
	snprintf(u->tmpl, sizeof(u->tmpl), "/tmp/kiln-ssh-XXXXXX");
	u->dir = mkdtemp(u->tmpl);
	if (u->dir == NULL)
		return kiln_error_set(KILN_ERROR, "cannot create a directory for ssh: %s",
		                      strerror(errno));
	error = write_files(u->s, u->dir, &key_path, &known_hosts);
	if (error == 0) {
		u->idopt = kiln_xasprintf("IdentityFile=%s", key_path);
		u->khopt = kiln_xasprintf("UserKnownHostsFile=%s", known_hosts);
		u->ctopt = kiln_xasprintf("ConnectTimeout=%.0f",
		                          u->s->io_timeout > 0 ? u->s->io_timeout : 10);
	}
	free(key_path);
	free(known_hosts);
	return error;
}

/* ssh(1) with no configuration of the user's, pinned to the verified host key. */
static int start(struct upload *u, const char *remote_cmd)
{
	struct kiln_proc_opts po = {.in = KILN_PROC_FD,
	                            .out = KILN_PROC_PIPE,
	                            .err = KILN_PROC_PIPE,
	                            .new_session = 1,
	                            /* ssh(1) reads the file itself: no copy through kiln */
	                            .in_fd = u->in};
	char port[16];
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
	                u->idopt,
	                "-o",
	                u->khopt,
	                "-o",
	                "GlobalKnownHostsFile=/dev/null",
	                "-o",
	                "StrictHostKeyChecking=yes",
	                "-o",
	                "HostKeyAlias=kiln-pinned",
	                "-o",
	                "CheckHostIP=no",
	                "-o",
	                u->ctopt,
	                "-o",
	                "ServerAliveInterval=15",
	                "-o",
	                "ServerAliveCountMax=4",
	                "-o",
	                "LogLevel=ERROR",
	                "-p",
	                port,
	                "-l",
	                u->s->user,
	                "--",
	                u->s->host,
	                (char *)remote_cmd,
	                NULL};

	snprintf(port, sizeof(port), "%d", u->s->port);
	kiln_log_debug("upload to %s through OpenSSH (%s)", u->s->where, ssh_binary());
	return kiln_proc_start(&u->proc, argv, &po);
}

static int check_limits(struct upload *u, double deadline)
{
	if (u->o->stop != NULL && *u->o->stop) {
		kiln_proc_kill(&u->proc, SIGTERM);
		return kiln_error_set(KILN_EINTR, "upload to '%s' interrupted", u->s->where);
	}
	if (deadline > 0 && kiln_time_mono() >= deadline) {
		kiln_proc_kill(&u->proc, SIGTERM);
		return kiln_error_set(KILN_ETIMEOUT, "upload to '%s' timed out after %.0f s",
		                      u->s->where, u->o->timeout);
	}
	return 0;
}

/* ssh(1) shares the file's offset with us: that is the progress. */
static void report_progress(struct upload *u)
{
	off_t at = u->total ? lseek(u->in, 0, SEEK_CUR) : -1;

	if (at < 0 || (uint64_t)at == u->sent)
		return;
	u->sent = (uint64_t)at;
	if (u->o->on_progress)
		u->o->on_progress(u->o->payload, u->sent, u->total);
}

/* Read ssh(1)'s stdout and stderr into lines until both close. */
static int pump(struct upload *u)
{
	double deadline = u->o->timeout > 0 ? kiln_time_mono() + u->o->timeout : 0;
	int fds_of[2] = {u->proc.out_fd, u->proc.err_fd};
	int open_fds[2] = {u->proc.out_fd >= 0, u->proc.err_fd >= 0};
	char *chunk = kiln_xmalloc(PUMP_CHUNK);
	int error = 0;

	while ((open_fds[0] || open_fds[1]) && error == 0) {
		struct pollfd fds[2];
		int nfds = 0, ri[2] = {-1, -1}, rc, k;

		error = check_limits(u, deadline);
		if (error < 0)
			break;
		for (k = 0; k < 2; k++) {
			if (!open_fds[k])
				continue;
			fds[nfds] = (struct pollfd){.fd = fds_of[k], .events = POLLIN};
			ri[k] = nfds++;
		}
		rc = poll(fds, (nfds_t)nfds, 100);
		if (rc < 0 && errno != EINTR)
			error = kiln_error_set(KILN_ERROR, "poll: %s", strerror(errno));
		report_progress(u);
		for (k = 0; k < 2 && rc > 0; k++) {
			ssize_t n;

			if (ri[k] < 0 || fds[ri[k]].revents == 0)
				continue;
			n = read(fds_of[k], chunk, PUMP_CHUNK);
			if (n > 0)
				kiln_ssh_lines_feed(&u->lines, (enum kiln_ssh_stream)k, chunk,
				                    (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				open_fds[k] = 0;
		}
	}
	free(chunk);
	return error;
}

/* ssh(1)'s own failures exit 255; anything else is the remote command's status. */
static int result(struct upload *u, int status, int *exit_status)
{
	if (status == 255) {
		struct kiln_buf t = KILN_BUF_INIT;
		int error;

		kiln_ssh_lines_tail(&u->lines, &t, "; ");
		error = kiln_error_set(KILN_ERROR, "ssh to '%s' failed%s%s", u->s->where,
		                       t.size ? ": " : "", t.ptr);
		kiln_buf_release(&t);
		return error;
	}
	*exit_status = status;
	if (u->total && (uint64_t)lseek(u->in, 0, SEEK_CUR) < u->total && status == 0)
		return kiln_error_set(
		    KILN_ERROR, "the command on '%s' exited before reading its input", u->s->where);
	return 0;
}

int kiln_ssh__upload_openssh(int *exit_status, struct kiln_ssh_session *s, const char *local_path,
                             const char *remote_cmd, const struct kiln_ssh_exec_opts *o)
{
	struct upload u = {.s = s, .o = o, .proc = KILN_PROC_INIT, .in = -1};
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
	int error, status = -1;

	/* A command that stops reading must not kill kiln with SIGPIPE. */
	sigaction(SIGPIPE, &ign, &old_pipe);
	*exit_status = -1;
	kiln_ssh_lines_init(&u.lines, o);
	error = prepare(&u, local_path);
	if (error == 0)
		error = start(&u, remote_cmd);
	if (error == 0)
		error = pump(&u);
	kiln_ssh_lines_finish(&u.lines);
	/* Given up on (stopped, timed out): do not wait for the rest of the upload. */
	if (error < 0)
		kiln_proc_kill(&u.proc, SIGKILL);
	if (u.proc.pid > 0)
		kiln_proc_finish(&u.proc, &status);
	if (error == 0)
		error = result(&u, status, exit_status);
	if (u.in >= 0)
		close(u.in);
	if (u.dir != NULL)
		kiln_rm_rf(u.dir);
	kiln_ssh_lines_release(&u.lines);
	free(u.idopt);
	free(u.khopt);
	free(u.ctopt);
	sigaction(SIGPIPE, &old_pipe, NULL);
	return error;
}
