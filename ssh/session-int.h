/*
 * What ssh/session.c and ssh/exec.c share about a session; not for other
 * modules.
 */
#ifndef KILN_SSH_SESSION_INT_H
#define KILN_SSH_SESSION_INT_H

#include <libssh2.h>

#include "ssh/session.h"

struct kiln_ssh_session {
	int fd;
	LIBSSH2_SESSION *ssh;
	char *where; /* "host:port", for messages */
	char *fingerprint;
	const char *hostkey_type;
	double io_timeout;
	int keepalive_interval;
	int handshaken; /* a disconnect message is due at the end */
	int lost;       /* the connection broke: no further call is tried */
	/* After login, for ssh(1) uploads (openssh.c). */
	char *host, *user;
	int port;
	char *private_pem; /* secret: wiped on free */
	char *hostkey_b64; /* the verified host key blob, base64 */
};

/*
 * ssh(1) costs a process and a second SSH handshake (about a quarter of a
 * second to a local builder, more across the internet), while libssh2 1.10
 * moves bytes at about three quarters of its speed: below this size the
 * session already open is faster, above it ssh(1) is.
 */
#define KILN_SSH_OPENSSH_MIN ((uint64_t)64 << 20)

/* Can ssh(1) carry an upload for this session (installed, not disabled)? */
int kiln_ssh__openssh_usable(const struct kiln_ssh_session *s);
/*
 * Should it carry the upload of `local_path`: usable, and the file (else
 * `size_hint`, for a pipe) is at least KILN_SSH_OPENSSH_MIN bytes or of
 * unknown size. KILN_SSH_TRANSPORT=openssh or =libssh2 decides instead.
 */
int kiln_ssh__openssh_wanted(const struct kiln_ssh_session *s, const char *local_path,
                             uint64_t size_hint);
/* kiln_ssh_upload() through ssh(1); same contract. */
int kiln_ssh__upload_openssh(int *exit_status, struct kiln_ssh_session *s, const char *local_path,
                             const char *remote_cmd, const struct kiln_ssh_exec_opts *o);

/* Set a kiln error from libssh2's last error: "what: libssh2's message". */
int kiln_ssh__error(struct kiln_ssh_session *s, int code, const char *what);

/*
 * Wait until the socket is ready in the directions libssh2 is blocked on,
 * sending keepalives; at most until `deadline` (kiln_time_mono(), 0: none).
 * KILN_ETIMEOUT past the deadline.
 */
int kiln_ssh__wait_socket(struct kiln_ssh_session *s, double deadline);

#endif
