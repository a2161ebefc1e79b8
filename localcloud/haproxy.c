/*
 * One load balancer's HAProxy (haproxy-int.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "core/proc.h"
#include "core/util.h"
#include "localcloud/haproxy-int.h"

#define CMD_TIMEOUT_MS 1000
#define ANSWER_MAX     (4u << 20)

static char *file_in(const char *dir, const char *name)
{
	return kiln_path_join(dir, name);
}

/* Is `pid` an HAProxy started for `dir` (its command line names dir's config)? */
static int is_ours(pid_t pid, const char *dir)
{
	struct kiln_buf cmdline = KILN_BUF_INIT;
	char *path = kiln_xasprintf("/proc/%d/cmdline", (int)pid),
	     *cfg = file_in(dir, "haproxy.cfg");
	int ours = 0;

	kiln_buf_init(&cmdline, 1 << 16);
	if (kiln_file_read(&cmdline, path) == 0) {
		/* arguments are NUL-separated: look at each */
		for (size_t i = 0; i < cmdline.size; i += strlen(cmdline.ptr + i) + 1)
			if (strcmp(cmdline.ptr + i, cfg) == 0)
				ours = 1;
	} else {
		kiln_error_clear();
	}
	kiln_buf_release(&cmdline);
	free(path);
	free(cfg);
	return ours;
}

pid_t lc_haproxy_pid(const char *dir)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char *pidf = file_in(dir, "haproxy.pid");
	pid_t pid = 0;

	if (kiln_file_read(&b, pidf) == 0)
		pid = (pid_t)atoi(b.ptr);
	else
		kiln_error_clear();
	kiln_buf_release(&b);
	free(pidf);
	if (pid > 1 && kill(pid, 0) == 0 && is_ours(pid, dir))
		return pid;
	return 0;
}

static int connect_admin(const char *dir)
{
	struct sockaddr_un sa;
	char *path = file_in(dir, "admin.sock");
	int fd = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		kiln_error_set(KILN_ERROR, "socket path too long: %s", path);
		goto done;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		kiln_error_set(KILN_ERROR, "HAProxy's runtime API (%s): %s", path, strerror(errno));
		close(fd);
		fd = -1;
	}
done:
	free(path);
	return fd;
}

static int wait_fd(int fd, short events, double deadline)
{
	struct pollfd p = {fd, events, 0};
	int left = (int)((deadline - kiln_time_mono()) * 1000);

	if (left <= 0)
		return 0;
	while (poll(&p, 1, left) < 0)
		if (errno != EINTR)
			return -1;
	return p.revents != 0;
}

static int send_all(int fd, const char *s, size_t len, double deadline)
{
	while (len > 0) {
		ssize_t n;
		if (wait_fd(fd, POLLOUT, deadline) <= 0)
			return kiln_error_set(KILN_ERROR, "HAProxy's runtime API does not read");
		n = send(fd, s, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kiln_error_set(KILN_ERROR, "HAProxy's runtime API: %s",
			                      strerror(errno));
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int lc_haproxy_cmd(const char *dir, const char *cmd, struct kiln_buf *out)
{
	double deadline = kiln_time_mono() + CMD_TIMEOUT_MS / 1000.0;
	struct kiln_buf answer = KILN_BUF_INIT;
	char chunk[8192];
	int fd = connect_admin(dir), error;

	if (fd < 0)
		return KILN_ERROR;
	kiln_buf_init(&answer, ANSWER_MAX);
	error = send_all(fd, cmd, strlen(cmd), deadline);
	if (error == 0 && cmd[strlen(cmd) - 1] != '\n')
		error = send_all(fd, "\n", 1, deadline);
	/* the answer ends when HAProxy closes the connection (non-interactive mode) */
	while (error == 0) {
		ssize_t n;
		if (wait_fd(fd, POLLIN, deadline) <= 0) {
			error = kiln_error_set(KILN_ERROR, "HAProxy did not answer '%.40s'", cmd);
			break;
		}
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (kiln_buf_put(&answer, chunk, (size_t)n) < 0)
			error = KILN_ETOOBIG;
	}
	close(fd);
	if (error == 0 && out != NULL)
		kiln_buf_put(out, answer.ptr, answer.size);
	kiln_buf_release(&answer);
	return error;
}

/* HAProxy's worker pid from "show info", or 0 while it does not answer. */
static long worker_pid(const char *dir)
{
	struct kiln_buf info = KILN_BUF_INIT;
	const char *p;
	long pid = 0;

	if (lc_haproxy_cmd(dir, "show info", &info) == 0 &&
	    (p = strstr(info.ptr, "\nPid: ")) != NULL)
		pid = atol(p + 6);
	kiln_error_clear();
	kiln_buf_release(&info);
	return pid;
}

/* Until the worker answers with a pid other than `old` (0: any), within 10 s. */
static int wait_worker(const char *dir, long old)
{
	double deadline = kiln_time_mono() + 10;

	for (double pause = 0.002; kiln_time_mono() < deadline; pause *= 1.5) {
		long pid = worker_pid(dir);
		if (pid > 0 && pid != old)
			return 0;
		kiln_sleep(pause > 0.1 ? 0.1 : pause, NULL);
	}
	return kiln_error_set(KILN_ETIMEOUT, "HAProxy in %s did not answer within 10 s", dir);
}

/* Run haproxy with `args` after the usual ones; its own message on failure. */
static int run_haproxy(const char *what, char *const argv[])
{
	struct kiln_buf out = KILN_BUF_INIT, err = KILN_BUF_INIT;
	int status = 0, error;

	kiln_buf_init(&out, 1 << 16);
	kiln_buf_init(&err, 1 << 16);
	error = kiln_proc_run(&status, &out, &err, argv);
	if (error == 0 && status != 0) {
		kiln_buf_rtrim(&err);
		kiln_buf_rtrim(&out);
		error = kiln_error_set(status == 1 ? KILN_EINVAL : KILN_ERROR, "%s (exit %d): %s",
		                       what, status, err.size ? err.ptr : out.ptr);
	}
	kiln_buf_release(&out);
	kiln_buf_release(&err);
	return error;
}

static int write_config(const char *dir, const char *name, const char *config)
{
	char *path = file_in(dir, name);
	int error = kiln_file_write_atomic(path, config, strlen(config), 0600);

	free(path);
	return error;
}

int lc_haproxy_check(const char *dir, const char *config)
{
	char *path = file_in(dir, "check.cfg");
	char *argv[] = {"haproxy", "-c", "-f", path, NULL};
	int error = write_config(dir, "check.cfg", config);

	if (error == 0)
		error = run_haproxy("HAProxy refused the configuration", argv);
	unlink(path);
	free(path);
	return error;
}

int lc_haproxy_start(const char *dir, const char *config)
{
	char *statef = file_in(dir, "servers.state");
	char *cfg = file_in(dir, "haproxy.cfg"), *pidf = file_in(dir, "haproxy.pid");
	char *master = file_in(dir, "master.sock");
	/* -W master-worker, -D detached in its own session: it outlives the daemon */
	char *argv[] = {"haproxy", "-W", "-D", "-S", master, "-p", pidf, "-f", cfg, NULL};
	int error = write_config(dir, "haproxy.cfg", config);

	/* a first start has no servers' states to carry over: an empty file says so */
	if (error == 0 && access(statef, F_OK) != 0)
		error = kiln_file_write_atomic(statef, "", 0, 0600);
	free(statef);
	if (error == 0)
		error = run_haproxy("cannot start HAProxy", argv);
	if (error == 0)
		error = wait_worker(dir, 0);
	free(cfg);
	free(pidf);
	free(master);
	return error;
}

int lc_haproxy_reload(const char *dir, const char *config)
{
	struct kiln_buf states = KILN_BUF_INIT;
	pid_t master = lc_haproxy_pid(dir);
	long old = worker_pid(dir);
	char *statef = file_in(dir, "servers.state");
	int error;

	if (master == 0)
		return lc_haproxy_start(dir, config);
	kiln_buf_init(&states, ANSWER_MAX);
	/* the new worker starts every server in the state the old one left it */
	error = lc_haproxy_cmd(dir, "show servers state", &states);
	if (error == 0)
		error = kiln_file_write_atomic(statef, states.ptr, states.size, 0600);
	if (error == 0)
		error = write_config(dir, "haproxy.cfg", config);
	if (error == 0 && kill(master, SIGUSR2) < 0)
		error = kiln_error_set(KILN_ERROR, "reloading HAProxy (pid %d): %s", (int)master,
		                       strerror(errno));
	if (error == 0)
		error = wait_worker(dir, old);
	kiln_buf_release(&states);
	free(statef);
	return error;
}

/*
 * Every process of this HAProxy: the master and its workers, old ones still
 * finishing connections after a reload included (their command lines name
 * its configuration).
 */
static void kill_all(const char *dir, int sig)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid > 1 && is_ours(pid, dir))
			kill(pid, sig);
	}
	if (d)
		closedir(d);
}

static int any_left(const char *dir)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int left = 0;

	while (d && (e = readdir(d)) != NULL && !left) {
		pid_t pid = (pid_t)atoi(e->d_name);
		char state = 0;
		if (pid > 1 && is_ours(pid, dir)) {
			char *path = kiln_xasprintf("/proc/%d/stat", (int)pid);
			FILE *f = fopen(path, "re");
			if (f && fscanf(f, "%*d %*s %c", &state) == 1 && state != 'Z')
				left = 1;
			if (f)
				fclose(f);
			free(path);
		}
	}
	if (d)
		closedir(d);
	return left;
}

int lc_haproxy_stop(const char *dir, double timeout)
{
	pid_t pid = lc_haproxy_pid(dir);
	double deadline = kiln_time_mono() + timeout;

	if (pid == 0) {
		/* no master: workers it left behind go all the same */
		if (any_left(dir))
			kill_all(dir, SIGKILL);
		return 0;
	}
	/* SIGUSR1: stop listening, finish the connections in flight */
	kill(pid, SIGUSR1);
	while (kill(pid, 0) == 0 && kiln_time_mono() < deadline)
		kiln_sleep(0.02, NULL);
	if (kill(pid, 0) == 0) {
		kill(pid, SIGTERM);
		for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
			kiln_sleep(0.02, NULL);
	}
	/* old workers still finishing connections, and anything the master left */
	if (any_left(dir)) {
		kill_all(dir, SIGKILL);
		for (int i = 0; i < 100 && any_left(dir); i++)
			kiln_sleep(0.02, NULL);
	}
	if (any_left(dir))
		return kiln_error_set(KILN_ERROR, "HAProxy (pid %d) did not stop", (int)pid);
	return 0;
}
