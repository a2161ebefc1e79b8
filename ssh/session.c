#include "ssh/session.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/log.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A line longer than this is passed on in pieces: output never grows unbounded. */
#define LINE_MAX_BYTES 65536

struct kiln_ssh {
	int fd;
	LIBSSH2_SESSION *session;
	char fingerprint[52];
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result;

static void init_libssh2(void)
{
	init_result = libssh2_init(0);
}

static int ssh_error(int code, struct kiln_ssh *s, const char *what)
{
	char *msg = NULL;

	libssh2_session_last_error(s->session, &msg, NULL, 0);
	return kiln_error_set(code, "%s: %s", what, msg != NULL && msg[0] ? msg : "failed");
}

/* A TCP connection to host:port within `timeout` seconds, or -1 with the error set. */
static int tcp_connect(const char *host, int port, double timeout)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct pollfd pfd;
	int fd, err = 0;
	socklen_t len = sizeof(err);

	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		kiln_error_set(KILN_EINVAL, "'%s' is not an IPv4 address", host);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		kiln_error_set(KILN_ERROR, "cannot create socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			goto fail;
		}
		pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
		if (poll(&pfd, 1, (int)(timeout * 1000)) <= 0) {
			close(fd);
			kiln_error_set(KILN_ETIMEOUT, "cannot connect to %s:%d: timed out", host,
			               port);
			return -1;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0)
			goto fail;
	}
	return fd;
fail:
	close(fd);
	kiln_error_set(KILN_ERROR, "cannot connect to %s:%d: %s", host, port, strerror(err));
	return -1;
}

/* Read what the server says first, within `timeout`; 1 when it is an SSH banner. */
static int has_banner(int fd, double timeout)
{
	char buf[64];
	size_t got = 0;
	double end = kiln_time_mono() + timeout;

	while (got < 4) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		double left = end - kiln_time_mono();
		ssize_t n;
		if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			return 0;
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n <= 0)
			return 0;
		got += (size_t)n;
	}
	return strncmp(buf, "SSH-", 4) == 0;
}

int kiln_ssh_wait_banner(const char *host, int port, double timeout, volatile int *stop)
{
	double end = kiln_time_mono() + timeout, pause = 0.2;

	for (;;) {
		double left = end - kiln_time_mono();
		int fd = tcp_connect(host, port, left < 1 ? (left > 0.05 ? left : 0.05) : 1);
		if (fd >= 0) {
			int ok = has_banner(fd, left < 2 ? (left > 0.05 ? left : 0.05) : 2);
			close(fd);
			if (ok)
				return 0;
		} else if (kiln_error_last_code() == KILN_EINVAL) {
			return KILN_EINVAL;
		}
		if (kiln_time_mono() + pause > end)
			return kiln_error_set(KILN_ETIMEOUT,
			                      "no SSH banner from %s:%d within %.0f s", host, port,
			                      timeout);
		if (kiln_sleep(pause, stop) < 0)
			return KILN_EINTR;
		pause = pause * 2 > 2 ? 2 : pause * 2;
	}
}

static int check_host_key(struct kiln_ssh *s, const struct kiln_ssh_opts *o)
{
	size_t len = 0;
	int type = 0;
	const char *key = libssh2_session_hostkey(s->session, &len, &type);

	if (key == NULL)
		return ssh_error(KILN_ERROR, s, "cannot read the server's host key");
	kiln_fingerprint_of_blob(s->fingerprint, key, len);
	if (o->expected != NULL && kiln_fingerprints_match(o->expected, s->fingerprint))
		return 0;
	if (o->policy == KILN_HOSTKEY_ACCEPT_NEW) {
		kiln_log_warn("accepting host key %s of %s without a matching console fingerprint "
		              "(host_key_check is accept-new)",
		              s->fingerprint, o->host);
		return 0;
	}
	if (o->expected == NULL || o->expected->count == 0)
		return kiln_error_set(KILN_EAUTH,
		                      "refusing %s: no console fingerprints to check its host key "
		                      "%s against",
		                      o->host, s->fingerprint);
	return kiln_error_set(KILN_EAUTH,
	                      "refusing %s: its host key %s matches none of the %zu fingerprints "
	                      "on its console (first: %s)",
	                      o->host, s->fingerprint, o->expected->count, o->expected->items[0]);
}

int kiln_ssh_connect(struct kiln_ssh **out, const struct kiln_ssh_opts *o)
{
	struct kiln_ssh *s = NULL;
	int port = o->port ? o->port : 22, error = 0, flags;

	KILN_ASSERT_ARG(out != NULL && o != NULL && o->host && o->user && o->private_key);
	*out = NULL;
	pthread_once(&init_once, init_libssh2);
	if (init_result != 0)
		return kiln_error_set(KILN_ERROR, "cannot initialise libssh2");
	s = kiln_xcalloc(1, sizeof(*s));
	s->fd = tcp_connect(o->host, port, o->timeout > 0 ? o->timeout : 30);
	if (s->fd < 0) {
		error = kiln_error_last_code();
		goto done;
	}
	/* libssh2 does its own waiting: the socket goes back to blocking. */
	flags = fcntl(s->fd, F_GETFL);
	fcntl(s->fd, F_SETFL, flags & ~O_NONBLOCK);
	s->session = libssh2_session_init();
	if (s->session == NULL) {
		error = kiln_error_set(KILN_ERROR, "cannot create an SSH session");
		goto done;
	}
	libssh2_session_set_timeout(s->session, (long)((o->timeout > 0 ? o->timeout : 30) * 1000));
	if (libssh2_session_handshake(s->session, s->fd) != 0) {
		error = ssh_error(KILN_ERROR, s, "SSH handshake failed");
		goto done;
	}
	error = check_host_key(s, o);
	if (error < 0)
		goto done;
	if (libssh2_userauth_publickey_fromfile(s->session, o->user, o->public_key, o->private_key,
	                                        NULL) != 0) {
		error = ssh_error(KILN_EAUTH, s, "SSH authentication failed");
		kiln_error_prefix(KILN_EAUTH, "%s@%s", o->user, o->host);
		goto done;
	}
	libssh2_keepalive_config(s->session, 1, 15);
	*out = s;
	s = NULL;
done:
	kiln_ssh_close(s);
	return error;
}

void kiln_ssh_close(struct kiln_ssh *s)
{
	if (s == NULL)
		return;
	if (s->session != NULL) {
		libssh2_session_set_blocking(s->session, 1);
		libssh2_session_set_timeout(s->session, 2000);
		libssh2_session_disconnect(s->session, "kiln done");
		libssh2_session_free(s->session);
	}
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

const char *kiln_ssh_fingerprint(const struct kiln_ssh *s)
{
	return s->fingerprint;
}

/* Pass on every complete line in `pending`, keeping the rest. */
static void flush_lines(struct kiln_buf *pending, int is_err, kiln_ssh_line_fn fn, void *arg,
                        int final)
{
	char *start = pending->ptr, *nl;
	size_t used;

	while ((nl = memchr(start, '\n', pending->size - (size_t)(start - pending->ptr))) != NULL) {
		*nl = '\0';
		if (fn != NULL)
			fn(arg, is_err, start);
		start = nl + 1;
	}
	used = (size_t)(start - pending->ptr);
	if ((final || pending->size - used >= LINE_MAX_BYTES) && pending->size > used) {
		if (fn != NULL)
			fn(arg, is_err, start);
		used = pending->size;
	}
	memmove(pending->ptr, pending->ptr + used, pending->size - used);
	kiln_buf_truncate(pending, pending->size - used);
}

int kiln_ssh_exec(int *exit_status, struct kiln_ssh *s, const char *command, kiln_ssh_line_fn fn,
                  void *arg, double timeout)
{
	struct kiln_buf out = KILN_BUF_INIT, err = KILN_BUF_INIT;
	LIBSSH2_CHANNEL *ch = NULL;
	double end = kiln_time_mono() + timeout;
	char chunk[32768];
	int error = 0, rc;

	KILN_ASSERT_ARG(exit_status != NULL && s != NULL && command != NULL);
	*exit_status = -1;
	kiln_buf_init(&out, 2 * LINE_MAX_BYTES);
	kiln_buf_init(&err, 2 * LINE_MAX_BYTES);
	ch = libssh2_channel_open_session(s->session);
	if (ch == NULL)
		return ssh_error(KILN_ERROR, s, "cannot open an SSH channel");
	if (libssh2_channel_exec(ch, command) != 0) {
		error = ssh_error(KILN_ERROR, s, "cannot start the command");
		goto done;
	}
	libssh2_session_set_blocking(s->session, 0);
	for (;;) {
		int progressed = 0;
		ssize_t n;

		while ((n = libssh2_channel_read(ch, chunk, sizeof(chunk))) > 0) {
			kiln_buf_put(&out, chunk, (size_t)n);
			flush_lines(&out, 0, fn, arg, 0);
			progressed = 1;
		}
		if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
			error = ssh_error(KILN_ERROR, s, "lost the SSH connection");
			goto done;
		}
		while ((n = libssh2_channel_read_stderr(ch, chunk, sizeof(chunk))) > 0) {
			kiln_buf_put(&err, chunk, (size_t)n);
			flush_lines(&err, 1, fn, arg, 0);
			progressed = 1;
		}
		if (libssh2_channel_eof(ch))
			break;
		if (kiln_time_mono() > end) {
			error = kiln_error_set(KILN_ETIMEOUT,
			                       "the command did not finish within %.0f s", timeout);
			goto done;
		}
		if (!progressed) {
			struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
			poll(&pfd, 1, 100);
		}
	}
	flush_lines(&out, 0, fn, arg, 1);
	flush_lines(&err, 1, fn, arg, 1);
	libssh2_session_set_blocking(s->session, 1);
	rc = libssh2_channel_close(ch);
	if (rc == 0)
		rc = libssh2_channel_wait_closed(ch);
	if (rc != 0) {
		error = ssh_error(KILN_ERROR, s, "cannot close the SSH channel");
		goto done;
	}
	*exit_status = libssh2_channel_get_exit_status(ch);
done:
	libssh2_session_set_blocking(s->session, 1);
	if (ch != NULL) {
		/* On a timeout, closing the channel ends the remote session's command. */
		libssh2_session_set_timeout(s->session, 2000);
		libssh2_channel_free(ch);
	}
	kiln_buf_release(&out);
	kiln_buf_release(&err);
	return error;
}
