#include "ssh/session-int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/common.h"
#include "core/log.h"
#include "core/util.h"

#define DEFAULT_IO_TIMEOUT 10.0
#define DEFAULT_KEEPALIVE  15
#define BACKOFF_FIRST      0.2
#define BACKOFF_MAX        2.0
#define BANNER_PEEK        4096 /* servers may send lines before the banner */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result;

static void init_libssh2(void)
{
	init_result = libssh2_init(0);
}

/* libssh2's ways of saying that the socket under the session is gone. */
static int connection_broke(int rc)
{
	return rc == LIBSSH2_ERROR_SOCKET_RECV || rc == LIBSSH2_ERROR_SOCKET_SEND ||
	       rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
	       rc == LIBSSH2_ERROR_BAD_SOCKET;
}

int kiln_ssh__error(struct kiln_ssh_session *s, int code, const char *what)
{
	char *msg = NULL;
	int rc = libssh2_session_last_error(s->ssh, &msg, NULL, 0);

	/*
	 * libssh2 says "transport read": what the operator needs to hear is
	 * that the machine's end went away (sshd stopped, the machine rebooted).
	 */
	if (s->handshaken && connection_broke(rc)) {
		s->lost = 1;
		return kiln_error_set(KILN_ERROR, "the SSH connection to '%s' was lost (%s: %s)",
		                      s->where, what, msg && *msg ? msg : "socket closed");
	}
	return kiln_error_set(code, "%s on '%s': %s", what, s->where,
	                      msg && *msg ? msg
	                      : rc        ? "libssh2 error"
	                                  : "unknown error");
}

static int poll_ms(double deadline)
{
	double left = deadline - kiln_time_mono();

	if (left <= 0)
		return 0;
	return left > 1e6 ? 1000000000 : (int)(left * 1000) + 1;
}

int kiln_ssh__wait_socket(struct kiln_ssh_session *s, double deadline)
{
	struct pollfd pfd = {s->fd, POLLIN, 0};
	int dir, next = 0, ms = 1000, rc;

	if (deadline > 0 && kiln_time_mono() >= deadline)
		return KILN_ETIMEOUT;
	/* keepalive_send tells when the next one is due: sleep no longer. */
	if (libssh2_keepalive_send(s->ssh, &next) == 0 && next > 0)
		ms = next * 1000;
	if (deadline > 0 && poll_ms(deadline) < ms)
		ms = poll_ms(deadline);
	dir = libssh2_session_block_directions(s->ssh);
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd.events |= POLLOUT;
	rc = poll(&pfd, 1, ms);
	if (rc < 0 && errno != EINTR)
		return kiln_error_set(KILN_ERROR, "cannot wait on '%s': %s", s->where,
		                      strerror(errno));
	return 0;
}

/* Connect one socket to `ai` before `deadline`; -1 with errno on failure. */
static int tcp_connect_addr(const struct addrinfo *ai, double deadline)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, err = 0, rc;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		err = errno;
		goto fail;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do {
		pfd.revents = 0;
		rc = poll(&pfd, 1, poll_ms(deadline));
	} while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		err = ETIMEDOUT;
		goto fail;
	}
	if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
		err = errno;
		goto fail;
	}
	if (err == 0)
		return fd;
fail:
	close(fd);
	errno = err;
	return -1;
}

static int tcp_connect(int *out, const char *host, int port, double deadline)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16];
	int fd = -1, rc, err = 0, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0)
		return kiln_error_set(KILN_ERROR, "cannot resolve '%s': %s", host,
		                      gai_strerror(rc));
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = tcp_connect_addr(ai, deadline);
		if (fd < 0)
			err = errno;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return kiln_error_set(KILN_ERROR, "cannot connect to '%s:%d': %s", host, port,
		                      err == ETIMEDOUT ? "timed out" : strerror(err));
	/* SSH packets are written whole; let them go at once. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*out = fd;
	return 0;
}

/* Whether `p` (n bytes) holds a line that starts an SSH-2 banner. */
static int has_banner(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i == 0 || p[i - 1] == '\n') {
			if (n - i >= 8 && strncmp(p + i, "SSH-2.0-", 8) == 0)
				return 1;
			if (n - i >= 9 && strncmp(p + i, "SSH-1.99-", 9) == 0)
				return 1;
		}
	}
	return 0;
}

/*
 * Peek at what the server sends first, leaving it in the socket for libssh2
 * to read: a TCP listener that never speaks SSH (a booting machine's port
 * forwarder, a wrong service) is told apart from a ready sshd.
 */
static int peek_banner(int fd, const char *where, double deadline)
{
	char buf[BANNER_PEEK];
	struct pollfd pfd = {fd, POLLIN, 0};
	ssize_t n;
	int rc;

	for (;;) {
		rc = poll(&pfd, 1, poll_ms(deadline));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0)
			return kiln_error_set(KILN_ERROR, "no SSH banner from '%s'", where);
		n = recv(fd, buf, sizeof(buf), MSG_PEEK);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return kiln_error_set(KILN_ERROR, "cannot read from '%s': %s", where,
			                      strerror(errno));
		if (n == 0)
			return kiln_error_set(
			    KILN_ERROR, "'%s' closed the connection before its SSH banner", where);
		if (has_banner(buf, (size_t)n))
			return 0;
		if ((size_t)n == sizeof(buf))
			return kiln_error_set(KILN_ERROR, "'%s' does not speak SSH", where);
		/* A partial line stays readable: poll would not wait, so pause. */
		if (kiln_time_mono() >= deadline)
			return kiln_error_set(KILN_ERROR, "no SSH banner from '%s'", where);
		kiln_sleep(0.02, NULL);
	}
}

/* One attempt: TCP connect and banner, each within io_timeout. */
static int attempt(int *out, const char *host, int port, const char *where, double deadline)
{
	int fd = -1, error;

	error = tcp_connect(&fd, host, port, deadline);
	if (error < 0)
		return error;
	error = peek_banner(fd, where, deadline);
	if (error < 0) {
		close(fd);
		return error;
	}
	*out = fd;
	return 0;
}

static int wait_connect(int *out, const char *host, int port, double timeout, double io_timeout,
                        volatile int *stop)
{
	double start = kiln_time_mono(), end = start + timeout, delay = BACKOFF_FIRST, now, dl;
	char *where = kiln_xasprintf("%s:%d", host, port);
	int error, tries = 0;

	for (;;) {
		now = kiln_time_mono();
		dl = now + io_timeout;
		/* Retries stop at the overall limit; a single attempt gets io_timeout. */
		if (timeout > 0 && dl > end)
			dl = end;
		tries++;
		error = attempt(out, host, port, where, dl);
		if (error == 0)
			break;
		now = kiln_time_mono();
		if (timeout <= 0)
			break;
		if (now + delay >= end) {
			error = kiln_error_prefix(KILN_ETIMEOUT,
			                          "no SSH on '%s' after %.1f s (%d attempts)",
			                          where, now - start, tries);
			break;
		}
		kiln_log_trace("ssh", "waiting for ssh on '%s': %s", where, kiln_error_last());
		error = kiln_sleep(delay, stop);
		if (error < 0)
			break;
		delay = delay * 2 > BACKOFF_MAX ? BACKOFF_MAX : delay * 2;
	}
	free(where);
	return error;
}

int kiln_ssh_wait(const char *host, int port, double timeout, double io_timeout)
{
	int fd = -1, error;

	KILN_ASSERT_ARG(host != NULL && port > 0 && port < 65536 && timeout >= 0);
	error = wait_connect(&fd, host, port, timeout,
	                     io_timeout > 0 ? io_timeout : DEFAULT_IO_TIMEOUT, NULL);
	if (fd >= 0)
		close(fd);
	return error;
}

static const char *hostkey_type_name(int type)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		return "ssh-rsa";
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		return "ssh-dss";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		return "ecdsa-sha2-nistp256";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		return "ecdsa-sha2-nistp384";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		return "ecdsa-sha2-nistp521";
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		return "ssh-ed25519";
	default:
		return "unknown";
	}
}

static int check_hostkey(struct kiln_ssh_session *s, const struct kiln_ssh_connect_opts *opts)
{
	const char *blob;
	size_t len = 0;
	int type = 0;

	blob = libssh2_session_hostkey(s->ssh, &len, &type);
	if (blob == NULL || len == 0)
		return kiln_ssh__error(s, KILN_ERROR, "no host key");
	s->fingerprint = kiln_ssh_fingerprint((const unsigned char *)blob, len);
	s->hostkey_type = hostkey_type_name(type);
	s->hostkey_b64 = kiln_xmalloc(len / 3 * 4 + 8);
	EVP_EncodeBlock((unsigned char *)s->hostkey_b64, (const unsigned char *)blob, (int)len);
	return kiln_ssh_hostkey_check(opts->fingerprints, opts->hostkey_policy, s->where,
	                              s->fingerprint, s->hostkey_type);
}

int kiln_ssh_connect(struct kiln_ssh_session **out, const struct kiln_ssh_connect_opts *opts)
{
	struct kiln_ssh_session *s = NULL;
	int port, error, rc;

	KILN_ASSERT_ARG(out != NULL && opts != NULL && opts->host != NULL);
	KILN_ASSERT_ARG(opts->user != NULL && opts->key != NULL && opts->wait_timeout >= 0);
	*out = NULL;
	pthread_once(&init_once, init_libssh2);
	if (init_result != 0)
		return kiln_error_set(KILN_ERROR, "cannot initialise libssh2");

	port = opts->port > 0 ? opts->port : 22;
	s = kiln_xcalloc(1, sizeof(*s));
	s->fd = -1;
	s->where = kiln_xasprintf("%s:%d", opts->host, port);
	s->io_timeout = opts->io_timeout > 0 ? opts->io_timeout : DEFAULT_IO_TIMEOUT;
	s->keepalive_interval =
	    opts->keepalive_interval > 0 ? opts->keepalive_interval : DEFAULT_KEEPALIVE;

	error =
	    wait_connect(&s->fd, opts->host, port, opts->wait_timeout, s->io_timeout, opts->stop);
	if (error < 0)
		goto done;

	s->ssh = libssh2_session_init();
	if (s->ssh == NULL) {
		error = kiln_error_set(KILN_ERROR, "cannot create an ssh session");
		goto done;
	}
	libssh2_session_set_blocking(s->ssh, 1);
	/* In blocking mode every libssh2 call gives up after this long. */
	libssh2_session_set_timeout(s->ssh, (long)(s->io_timeout * 1000));
	rc = libssh2_session_handshake(s->ssh, s->fd);
	if (rc != 0) {
		error = kiln_ssh__error(s, rc == LIBSSH2_ERROR_TIMEOUT ? KILN_ETIMEOUT : KILN_ERROR,
		                        "ssh handshake failed");
		goto done;
	}
	s->handshaken = 1;

	/* Before any credential leaves this machine: is it the right server? */
	error = check_hostkey(s, opts);
	if (error < 0)
		goto done;

	rc = libssh2_userauth_publickey_frommemory(s->ssh, opts->user, strlen(opts->user), NULL, 0,
	                                           opts->key->private_pem, opts->key->private_len,
	                                           NULL);
	if (rc != 0) {
		char *what = kiln_xasprintf("cannot log in as '%s' with key %s", opts->user,
		                            opts->key->fingerprint);
		error = kiln_ssh__error(s, rc == LIBSSH2_ERROR_TIMEOUT ? KILN_ETIMEOUT : KILN_EAUTH,
		                        what);
		free(what);
		goto done;
	}
	libssh2_keepalive_config(s->ssh, 1, (unsigned)s->keepalive_interval);
	/* What ssh(1) needs for bulk uploads (ssh/openssh.c), pinned to this host key. */
	s->host = kiln_xstrdup(opts->host);
	s->port = port;
	s->user = kiln_xstrdup(opts->user);
	s->private_pem = kiln_xstrndup(opts->key->private_pem, opts->key->private_len);
	kiln_log_debug("ssh: logged in to '%s' as '%s' (host key %s %s)", s->where, opts->user,
	               s->hostkey_type, s->fingerprint);
	*out = s;
	s = NULL;

done:
	kiln_ssh_session_free(s);
	return error;
}

const char *kiln_ssh_session_fingerprint(const struct kiln_ssh_session *s)
{
	return s->fingerprint;
}

int kiln_ssh_session_lost(const struct kiln_ssh_session *s)
{
	return s->lost;
}

const char *kiln_ssh_session_hostkey_type(const struct kiln_ssh_session *s)
{
	return s->hostkey_type;
}

void kiln_ssh_session_free(struct kiln_ssh_session *s)
{
	if (s == NULL)
		return;
	if (s->ssh != NULL) {
		/* A dead peer must not hold up the cleanup: a short blocking goodbye. */
		libssh2_session_set_blocking(s->ssh, 1);
		libssh2_session_set_timeout(s->ssh, 2000);
		if (s->handshaken)
			libssh2_session_disconnect(s->ssh, "kiln: done");
		libssh2_session_free(s->ssh);
	}
	if (s->fd >= 0)
		close(s->fd);
	free(s->where);
	free(s->fingerprint);
	free(s->hostkey_b64);
	free(s->host);
	free(s->user);
	kiln_free_secret(s->private_pem);
	free(s);
}
