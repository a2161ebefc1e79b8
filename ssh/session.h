/*
 * SSH sessions to machines kiln creates (builders), over libssh2. A session
 * checks the server's host key against fingerprints from the instance's
 * console before it authenticates, and never accepts a key blindly unless the
 * caller asks for accept-new (logged as a warning). Commands stream their
 * output line by line and run under a time limit.
 *
 * A struct kiln_ssh owns its socket and libssh2 session; kiln_ssh_close()
 * releases both.
 */
#ifndef KILN_SSH_SESSION_H
#define KILN_SSH_SESSION_H

#include "ssh/hostkey.h"

enum kiln_hostkey_policy {
	KILN_HOSTKEY_STRICT,     /* the key must match a console fingerprint */
	KILN_HOSTKEY_ACCEPT_NEW, /* a mismatch (or no fingerprints) is a warning */
};

struct kiln_ssh_opts {
	const char *host; /* an address: "172.31.0.5", "127.0.0.1" */
	int port;         /* 22 when 0 */
	const char *user;
	const char *private_key; /* path of an OpenSSH private key file */
	const char *public_key;  /* its .pub, or NULL */
	const struct kiln_fingerprints *expected;
	enum kiln_hostkey_policy policy;
	double timeout; /* connect, handshake and auth, seconds */
};

struct kiln_ssh;

/*
 * Wait until host:port answers with an SSH banner ("SSH-2.0-..."), polling
 * from 0.2 s doubling to 2 s, for at most `timeout` seconds (KILN_ETIMEOUT).
 */
int kiln_ssh_wait_banner(const char *host, int port, double timeout, volatile int *stop);

/* Connect, check the host key, authenticate. KILN_EAUTH on a key mismatch. */
int kiln_ssh_connect(struct kiln_ssh **out, const struct kiln_ssh_opts *opts);
void kiln_ssh_close(struct kiln_ssh *ssh);
/* The server's fingerprint ("SHA256:..."), borrowed. */
const char *kiln_ssh_fingerprint(const struct kiln_ssh *ssh);

/* Called with each line of output (without its newline); stderr lines have is_err set. */
typedef void (*kiln_ssh_line_fn)(void *arg, int is_err, const char *line);

/*
 * Run `command` and wait for it, at most `timeout` seconds (KILN_ETIMEOUT;
 * the channel is closed). *exit_status is the command's exit code.
 */
int kiln_ssh_exec(int *exit_status, struct kiln_ssh *ssh, const char *command, kiln_ssh_line_fn fn,
                  void *arg, double timeout);

#endif
