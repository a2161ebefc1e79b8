#include "core/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void child_io(enum kiln_proc_io mode, int pipefd[2], int fd, int target, int reading)
{
	int nullfd;

	switch (mode) {
	case KILN_PROC_INHERIT:
		break;
	case KILN_PROC_NULL:
		nullfd = open("/dev/null", reading ? O_RDONLY : O_WRONLY);
		if (nullfd >= 0) {
			dup2(nullfd, target);
			close(nullfd);
		}
		break;
	case KILN_PROC_PIPE:
		dup2(pipefd[reading ? 0 : 1], target);
		close(pipefd[0]);
		close(pipefd[1]);
		break;
	case KILN_PROC_FD:
		if (fd != target)
			dup2(fd, target);
		break;
	}
}

int kiln_proc_start(struct kiln_proc *proc, char *const argv[], const struct kiln_proc_opts *opts)
{
	static const struct kiln_proc_opts defaults;
	int p_in[2] = {-1, -1}, p_out[2] = {-1, -1}, p_err[2] = {-1, -1};
	sigset_t all, old;
	pid_t pid;

	KILN_ASSERT_ARG(proc != NULL && argv != NULL && argv[0] != NULL);
	if (opts == NULL)
		opts = &defaults;
	proc->pid = 0;
	proc->in_fd = proc->out_fd = proc->err_fd = -1;
	if ((opts->in == KILN_PROC_PIPE && pipe2(p_in, O_CLOEXEC) < 0) ||
	    (opts->out == KILN_PROC_PIPE && pipe2(p_out, O_CLOEXEC) < 0) ||
	    (opts->err == KILN_PROC_PIPE && pipe2(p_err, O_CLOEXEC) < 0)) {
		kiln_error_set(KILN_ERROR, "cannot create pipe: %s", strerror(errno));
		goto fail;
	}
	/*
	 * Block every signal across fork() and reset the handlers in the child
	 * before unblocking, as posix_spawn does: a signal that arrives before
	 * exec must not run the parent's handler in the child.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid < 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		kiln_error_set(KILN_ERROR, "cannot fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		sigset_t none;
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (opts->new_session)
			setsid();
		child_io(opts->in, p_in, opts->in_fd, 0, 1);
		child_io(opts->out, p_out, opts->out_fd, 1, 0);
		child_io(opts->err, p_err, opts->err_fd, 2, 0);
		if (opts->cwd != NULL && chdir(opts->cwd) < 0)
			_exit(127);
		execvpe(argv[0], argv, opts->env ? opts->env : environ);
		_exit(127);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	proc->pid = pid;
	if (p_in[0] >= 0) {
		close(p_in[0]);
		proc->in_fd = p_in[1];
	}
	if (p_out[1] >= 0) {
		close(p_out[1]);
		proc->out_fd = p_out[0];
	}
	if (p_err[1] >= 0) {
		close(p_err[1]);
		proc->err_fd = p_err[0];
	}
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (p_in[i] >= 0)
			close(p_in[i]);
		if (p_out[i] >= 0)
			close(p_out[i]);
		if (p_err[i] >= 0)
			close(p_err[i]);
	}
	return KILN_ERROR;
}

int kiln_proc_finish(struct kiln_proc *proc, int *status)
{
	int st = 0;

	if (proc->in_fd >= 0)
		close(proc->in_fd);
	if (proc->out_fd >= 0)
		close(proc->out_fd);
	if (proc->err_fd >= 0)
		close(proc->err_fd);
	proc->in_fd = proc->out_fd = proc->err_fd = -1;
	if (proc->pid <= 0)
		return kiln_error_set(KILN_ERROR, "no process to wait for");
	while (waitpid(proc->pid, &st, 0) < 0) {
		if (errno != EINTR) {
			proc->pid = 0;
			return kiln_error_set(KILN_ERROR, "cannot wait for process: %s",
			                      strerror(errno));
		}
	}
	proc->pid = 0;
	if (status != NULL)
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

int kiln_proc_kill(struct kiln_proc *proc, int sig)
{
	if (proc->pid <= 0)
		return 0;
	if (kill(proc->pid, sig) < 0 && errno != ESRCH)
		return kiln_error_set(KILN_ERROR, "cannot signal process %d: %s", (int)proc->pid,
		                      strerror(errno));
	return 0;
}

int kiln_proc_kill_group(struct kiln_proc *proc, int sig)
{
	if (proc->pid <= 0)
		return 0;
	if (kill(-proc->pid, sig) < 0 && errno != ESRCH)
		return kiln_error_set(KILN_ERROR, "cannot signal process group %d: %s",
		                      (int)proc->pid, strerror(errno));
	return 0;
}

int kiln_proc_exited(struct kiln_proc *proc)
{
	siginfo_t info;

	if (proc->pid <= 0)
		return 1;
	memset(&info, 0, sizeof(info));
	if (waitid(P_PID, (id_t)proc->pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD;
	return info.si_pid == proc->pid;
}

int kiln_proc_run(int *status, struct kiln_buf *out, struct kiln_buf *err, char *const argv[])
{
	return kiln_proc_run_fd(status, out, err, argv, -1);
}

int kiln_proc_run_fd(int *status, struct kiln_buf *out, struct kiln_buf *err, char *const argv[],
                     int in_fd)
{
	struct kiln_proc proc = KILN_PROC_INIT;
	struct kiln_proc_opts opts = {.in = KILN_PROC_NULL, .in_fd = in_fd};
	struct pollfd pfd[2];
	int error = 0;

	if (in_fd >= 0)
		opts.in = KILN_PROC_FD;
	opts.out = out ? KILN_PROC_PIPE : KILN_PROC_NULL;
	opts.err = err ? KILN_PROC_PIPE : KILN_PROC_INHERIT;
	error = kiln_proc_start(&proc, argv, &opts);
	if (error < 0)
		return error;
	for (;;) {
		nfds_t n = 0;
		if (proc.out_fd >= 0)
			pfd[n++] = (struct pollfd){.fd = proc.out_fd, .events = POLLIN};
		if (proc.err_fd >= 0)
			pfd[n++] = (struct pollfd){.fd = proc.err_fd, .events = POLLIN};
		if (n == 0)
			break;
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (nfds_t i = 0; i < n; i++) {
			char chunk[8192];
			ssize_t r;
			if (pfd[i].revents == 0)
				continue;
			r = read(pfd[i].fd, chunk, sizeof(chunk));
			if (r > 0) {
				struct kiln_buf *dst = pfd[i].fd == proc.out_fd ? out : err;
				if (kiln_buf_put(dst, chunk, (size_t)r) < 0 && error == 0)
					error = KILN_ETOOBIG;
				continue;
			}
			if (r < 0 && errno == EINTR)
				continue;
			close(pfd[i].fd);
			if (pfd[i].fd == proc.out_fd)
				proc.out_fd = -1;
			else
				proc.err_fd = -1;
		}
	}
	if (kiln_proc_finish(&proc, status) < 0)
		return KILN_ERROR;
	if (error < 0)
		return kiln_error_set(error, "output of '%s' exceeds its limit", argv[0]);
	return 0;
}
