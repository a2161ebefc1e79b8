/*
 * Child processes (HAProxy, debootstrap, sshd, git, test tools) go through
 * this one API, never system(). A started process is owned by its struct
 * kiln_proc until kiln_proc_finish() reaps it; kiln_proc_kill() signals only
 * that pid, and only while it has not been reaped, so a recycled pid is never
 * hit.
 */
#ifndef KILN_CORE_PROC_H
#define KILN_CORE_PROC_H

#include <sys/types.h>

#include "core/buf.h"

enum kiln_proc_io {
	KILN_PROC_INHERIT = 0, /* share the parent's descriptor */
	KILN_PROC_NULL,        /* /dev/null */
	KILN_PROC_PIPE,        /* a pipe; the parent's end is in in_fd/out_fd/err_fd */
	KILN_PROC_FD,          /* a descriptor given in the options */
};

struct kiln_proc_opts {
	enum kiln_proc_io in, out, err;
	int in_fd, out_fd, err_fd; /* for KILN_PROC_FD */
	char *const *env;          /* NULL: inherit the environment */
	const char *cwd;
	int new_session; /* setsid(): its own process group */
};

struct kiln_proc {
	pid_t pid; /* 0 when not running */
	int in_fd; /* parent's ends of the pipes, or -1 */
	int out_fd;
	int err_fd;
};

#define KILN_PROC_INIT                                                                             \
	{                                                                                          \
		0, -1, -1, -1                                                                      \
	}

/* Start argv[0] (searched in PATH); an exec failure shows as exit 127. */
int kiln_proc_start(struct kiln_proc *proc, char *const argv[], const struct kiln_proc_opts *opts);
/* Close our pipe ends and wait; *status is the exit code, or 128+signal. */
int kiln_proc_finish(struct kiln_proc *proc, int *status);
/* Send `sig` to the process (its group with new_session). */
int kiln_proc_kill(struct kiln_proc *proc, int sig);
/*
 * Send `sig` to the process group of a process started with new_session,
 * while the process is not reaped (its id cannot be reused until then).
 */
int kiln_proc_kill_group(struct kiln_proc *proc, int sig);
/* 1 when the process has exited (it stays to be reaped by kiln_proc_finish()), else 0. */
int kiln_proc_exited(struct kiln_proc *proc);

/*
 * Run a command to completion with stdin from /dev/null, capturing stdout
 * (and stderr when `err` is non-NULL) into bounded buffers.
 */
int kiln_proc_run(int *status, struct kiln_buf *out, struct kiln_buf *err, char *const argv[]);
/* The same with stdin from `in_fd` (the caller keeps and closes it); -1: /dev/null. */
int kiln_proc_run_fd(int *status, struct kiln_buf *out, struct kiln_buf *err, char *const argv[],
                     int in_fd);

#endif
