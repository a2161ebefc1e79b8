/*
 * SSH sessions to machines kiln launched (builders), over libssh2: connect
 * with timeouts once the machine answers with an SSH banner, verify its host
 * key against the fingerprints from its console before authenticating, log in
 * with a key, run commands with their output streamed line by line, and
 * stream files into a remote command's standard input.
 *
 * A session is used by one thread at a time. Every call has a time limit;
 * nothing waits forever on a silent machine. Command lines are logged only
 * with KILN_TRACE=ssh, and values of environment variables marked secret are
 * never logged (they are also registered with kiln_log_add_secret()).
 */
#ifndef KILN_SSH_SESSION_H
#define KILN_SSH_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "ssh/hostkey.h"
#include "ssh/key.h"

struct kiln_ssh_session;

struct kiln_ssh_connect_opts {
	const char *host; /* an address or a name */
	int port;         /* 0: 22 */
	const char *user;
	const struct kiln_ssh_key *key; /* borrowed for the call */

	/* Host key check: see ssh/hostkey.h. */
	const struct kiln_ssh_fingerprints *fingerprints;
	enum kiln_ssh_hostkey_policy hostkey_policy;

	/* Keep retrying (TCP and banner) this long for a booting machine;
	 * 0: one attempt, for a machine known to be up. */
	double wait_timeout;
	/* One TCP connect, banner, or SSH exchange; 0: 10 s. */
	double io_timeout;
	/* Seconds between keepalives while waiting on a command; 0: 15 s. */
	int keepalive_interval;
	/* When it becomes non-zero (a signal handler), give up: KILN_EINTR. */
	volatile int *stop;
};

/*
 * Wait until `host:port` accepts a TCP connection and sends an SSH banner,
 * retrying with a backoff from 0.2 s doubling to 2 s, for at most `timeout`
 * seconds (at least one attempt). KILN_ETIMEOUT names the last failure.
 * Used by kiln_ssh_connect(); exposed for callers that only want to wait.
 */
int kiln_ssh_wait(const char *host, int port, double timeout, double io_timeout);

/* Connect, check the host key, then authenticate with the key. */
int kiln_ssh_connect(struct kiln_ssh_session **out, const struct kiln_ssh_connect_opts *opts);

/* The offered host key's fingerprint ("SHA256:...") and type ("ssh-ed25519"). */
const char *kiln_ssh_session_fingerprint(const struct kiln_ssh_session *s);
const char *kiln_ssh_session_hostkey_type(const struct kiln_ssh_session *s);

/*
 * Whether the connection broke under a call (the peer closed it, a reset, a
 * timeout on the socket): then every later call fails at once, and the error
 * of the call that saw it says "the SSH connection to 'host:port' was lost".
 */
int kiln_ssh_session_lost(const struct kiln_ssh_session *s);

/* Disconnect and free; NULL is a no-op. */
void kiln_ssh_session_free(struct kiln_ssh_session *s);

/* A variable for the remote command, passed as `env NAME='value' cmd`. */
struct kiln_ssh_env {
	const char *name; /* [A-Za-z_][A-Za-z0-9_]* */
	const char *value;
	int secret; /* never logged, registered with kiln_log_add_secret() */
};

enum kiln_ssh_stream { KILN_SSH_STDOUT = 0, KILN_SSH_STDERR = 1 };

/*
 * One line of output, without its newline (a last line may lack one), as the
 * bytes came: it may hold NUL and control bytes, so escape it
 * (kiln_buf_put_escaped) before it goes anywhere a person reads.
 */
typedef void (*kiln_ssh_line_cb)(void *payload, enum kiln_ssh_stream stream, const char *line,
                                 size_t len);
/* Bytes of standard input sent so far, of `total`. */
typedef void (*kiln_ssh_progress_cb)(void *payload, uint64_t sent, uint64_t total);

struct kiln_ssh_exec_opts {
	/* Output lines go to on_line, or else to kiln's log at info level as
	 * "[label] line", escaped (stderr lines too: scripts chat on stderr). */
	kiln_ssh_line_cb on_line;
	void *payload;
	const char *label; /* NULL: "remote" */

	const struct kiln_ssh_env *env;
	size_t nenv;

	/* Seconds for the whole command; 0: no limit. On expiry the channel is
	 * closed, the remote command is killed (it runs under timeout(1)), and
	 * the call fails with KILN_ETIMEOUT. */
	double timeout;

	/* Keep the last `tail_lines` lines (default 20) of output in `tail`,
	 * escaped, for error messages; NULL: not kept. */
	struct kiln_buf *tail;
	size_t tail_lines;

	/* Stream this local file into the command's standard input. */
	const char *stdin_path;
	/* When stdin_path is not a regular file (a pipe), about how many bytes
	 * it carries, for the choice of transport (kiln_ssh_upload); 0: unknown. */
	uint64_t size_hint;
	kiln_ssh_progress_cb on_progress;

	/* When it becomes non-zero (a signal handler), the command is stopped
	 * as on a timeout and the call fails with KILN_EINTR. */
	volatile int *stop;
};

/*
 * Run `cmd` with the remote user's shell and wait for it. *exit_status is its
 * exit code, or 128 + the signal number if it was killed. A non-zero exit is
 * not an error here: the caller decides. Errors are transport failures,
 * KILN_ETIMEOUT and KILN_EINVAL (a bad variable name).
 */
int kiln_ssh_exec(int *exit_status, struct kiln_ssh_session *s, const char *cmd,
                  const struct kiln_ssh_exec_opts *opts);

/*
 * Stream `local_path` into the standard input of `remote_cmd` (for example
 * "mkdir -p /opt/kiln/stage && tar --zstd -x -C /opt/kiln/stage"), with
 * bounded memory and progress through opts->on_progress; as kiln_ssh_exec().
 * Files of 64 MiB and more (and pipes) go through OpenSSH's ssh(1) when it is
 * installed, pinned to this session's host key (ssh/openssh.c); smaller ones
 * through this session. KILN_SSH_TRANSPORT=libssh2 or =openssh picks one.
 */
int kiln_ssh_upload(int *exit_status, struct kiln_ssh_session *s, const char *local_path,
                    const char *remote_cmd, const struct kiln_ssh_exec_opts *opts);

#endif
