/*
 * Instances: an init in new mount, pid, network, UTS and IPC namespaces.
 *
 * The host keeps nothing mounted for an instance: the init mounts the overlay
 * root inside its own (private) mount namespace, so every mount goes away
 * with the namespace when the init dies, even after a crash of the daemon.
 * The network namespace has no name for the same reason; only the host end of
 * the veth pair lives on the host, and the kernel removes it too once the
 * namespace is gone (we delete it explicitly so that stop returns clean).
 *
 * The instance directory records the init's pid with its start time (so a
 * recycled pid is never killed) for lc_machine_reap().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/log.h"
#include "core/util.h"
#include "localcloud/firewall-int.h"
#include "localcloud/net-int.h"
#include "localcloud/runtime-int.h"

#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC)

/* Interface names derived from the instance directory: stable across a daemon restart. */
static void veth_names(char host_if[16], char peer_if[16], const char *dir)
{
	char hex[65];

	kiln_sha256_hex(hex, dir, strlen(dir));
	snprintf(host_if, 16, "kv%.11s", hex);
	snprintf(peer_if, 16, "kp%.11s", hex);
}

/* Field 22 of /proc/PID/stat: the start time in clock ticks since boot, 0 when gone. */
static unsigned long long proc_starttime(pid_t pid, char *state)
{
	struct kiln_buf buf = KILN_BUF_INIT;
	char *path = kiln_xasprintf("/proc/%d/stat", (int)pid);
	unsigned long long start = 0;
	const char *p;

	if (kiln_file_read(&buf, path) < 0) {
		kiln_error_clear();
		goto done;
	}
	/* The command name may hold spaces and parentheses: skip past the last ')'. */
	p = strrchr(buf.ptr, ')');
	if (p == NULL)
		goto done;
	if (state != NULL)
		*state = p[2];
	if (sscanf(p + 2,
	           "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
	           "%*d %*d %llu",
	           &start) != 1)
		start = 0;
done:
	kiln_buf_release(&buf);
	free(path);
	return start;
}

static int write_private_file(const char *dir, const char *name, const void *data, size_t len)
{
	char *path = kiln_xasprintf("%s/%s", dir, name);
	int error = 0;

	if (data != NULL)
		error = kiln_file_write_atomic(path, data, len, 0600);
	else if (unlink(path) < 0 && errno != ENOENT)
		error = kiln_error_set(KILN_ERROR, "cannot remove '%s': %s", path, strerror(errno));
	free(path);
	return error;
}

static int prepare_dir(char **absdir, const struct lc_machine_spec *spec)
{
	static const char *const subdirs[] = {"upper", "work", "root"};
	char resolved[PATH_MAX];
	int error;

	error = kiln_mkdir_p(spec->dir, 0700);
	if (error < 0)
		return error;
	if (realpath(spec->dir, resolved) == NULL)
		return kiln_error_set(KILN_ERROR, "cannot resolve '%s': %s", spec->dir,
		                      strerror(errno));
	for (size_t i = 0; i < KILN_ARRAY_SIZE(subdirs); i++) {
		char *sub = kiln_xasprintf("%s/%s", resolved, subdirs[i]);
		if (mkdir(sub, 0755) < 0 && errno != EEXIST)
			error = kiln_error_set(KILN_ERROR, "cannot create directory '%s': %s", sub,
			                       strerror(errno));
		free(sub);
		if (error < 0)
			return error;
	}
	error = write_private_file(resolved, "authorized_key", spec->authorized_key,
	                           spec->authorized_key ? strlen(spec->authorized_key) : 0);
	if (error == 0)
		error =
		    write_private_file(resolved, "user-data", spec->user_data, spec->user_data_len);
	if (error == 0)
		*absdir = kiln_xstrdup(resolved);
	return error;
}

/* The argument vector of "kiln cloud __init"; layers are checked for overlay's separators. */
static int init_argv(char ***out, const char *dir, const struct lc_machine_spec *spec)
{
	size_t n = 0, max = 12 + 2 * spec->nlayers;
	char **argv = kiln_xcalloc(max, sizeof(*argv));

	for (size_t i = 0; i < spec->nlayers; i++) {
		if (spec->layers[i][0] != '/' || strpbrk(spec->layers[i], ":,\\\n") != NULL) {
			free(argv);
			return kiln_error_set(
			    KILN_EINVAL, "layer path '%s' must be absolute, without ':' or ','",
			    spec->layers[i]);
		}
	}
	argv[n++] = "kiln";
	argv[n++] = "cloud";
	argv[n++] = "__init";
	argv[n++] = "--dir";
	argv[n++] = (char *)dir;
	argv[n++] = "--id";
	argv[n++] = (char *)spec->id;
	argv[n++] = "--hostname";
	argv[n++] = (char *)(spec->hostname ? spec->hostname : spec->id);
	argv[n++] = "--user";
	argv[n++] = (char *)(spec->login_user ? spec->login_user : "root");
	for (size_t i = 0; i < spec->nlayers; i++) {
		argv[n++] = "--lower";
		argv[n++] = (char *)spec->layers[i];
	}
	argv[n] = NULL;
	*out = argv;
	return 0;
}

/*
 * clone() into the new namespaces. The child is the instance's PID 1; it
 * waits on `sync_fd` until the host has wired its network, then execs kiln's
 * init. Between clone and exec it only calls async-signal-safe functions: the
 * daemon has threads.
 */
static pid_t spawn_init(const char *exe, char **argv, int console_fd, int null_fd, int sync_fd,
                        int sync_wr)
{
	sigset_t all, old;
	pid_t pid;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid =
	    (pid_t)syscall(SYS_clone, (unsigned long)(NS_FLAGS | SIGCHLD), NULL, NULL, NULL, NULL);
	if (pid == 0) {
		struct sigaction dfl;
		char go;

		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				sigaction(sig, &dfl, NULL);
		close(sync_wr);
		dup2(null_fd, 0);
		dup2(console_fd, 1);
		dup2(console_fd, 2);
		if (read(sync_fd, &go, 1) != 1 || go != 'g')
			_exit(111);
		/* The init sets its own signal mask; signals stay blocked until then. */
		execv(exe, argv);
		_exit(127);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return pid;
}

static int write_pidfile(const char *dir, pid_t pid)
{
	char *path = kiln_xasprintf("%s/init.pid", dir);
	char *text = kiln_xasprintf("%d %llu\n", (int)pid, proc_starttime(pid, NULL));
	int error = kiln_file_write_atomic(path, text, strlen(text), 0600);

	free(path);
	free(text);
	return error;
}

static int wait_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int lc_machine_start(struct lc_machine **out, const struct lc_machine_spec *spec)
{
	struct lc_machine *m = NULL;
	char host_if[16], peer_if[16], *dir = NULL, *console = NULL, **argv = NULL;
	int console_fd = -1, null_fd = -1, sync[2] = {-1, -1}, error, st;
	pid_t pid = -1;

	KILN_ASSERT_ARG(out != NULL && spec != NULL && spec->id != NULL && spec->dir != NULL);
	KILN_ASSERT_ARG(spec->net != NULL && spec->nlayers > 0 && spec->layers != NULL);
	*out = NULL;
	/* A machine left over from a crash in this directory goes first. */
	error = lc_machine_reap(spec->dir);
	if (error < 0)
		goto done;
	error = prepare_dir(&dir, spec);
	if (error < 0)
		goto done;
	error = init_argv(&argv, dir, spec);
	if (error < 0)
		goto done;
	veth_names(host_if, peer_if, dir);
	console = kiln_xasprintf("%s/console.log", dir);
	console_fd = open(console, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (console_fd < 0 || null_fd < 0 || pipe2(sync, O_CLOEXEC) < 0) {
		error = kiln_error_set(KILN_ERROR, "cannot open the console '%s': %s", console,
		                       strerror(errno));
		goto done;
	}
	pid = spawn_init(spec->init_exe ? spec->init_exe : "/proc/self/exe", argv, console_fd,
	                 null_fd, sync[0], sync[1]);
	if (pid < 0) {
		error = kiln_error_set(KILN_ERROR, "cannot create the namespaces of '%s': %s",
		                       spec->id, strerror(errno));
		goto done;
	}
	close(sync[0]);
	sync[0] = -1;
	error = lc_net_attach(spec->net, host_if, peer_if, pid, spec->ip, dir);
	if (error < 0)
		goto done;
	/* filtered before anything in it runs (and before the pid file shows it to a sync) */
	if (spec->firewall != NULL) {
		error = lc_nft_apply_pid(pid, spec->firewall);
		if (error < 0) {
			kiln_error_prefix(error, "security groups");
			goto done;
		}
	}
	error = write_pidfile(dir, pid);
	if (error < 0)
		goto done;
	if (write(sync[1], "g", 1) != 1) {
		error = kiln_error_set(KILN_ERROR, "cannot start the init of '%s': %s", spec->id,
		                       strerror(errno));
		goto done;
	}
	m = kiln_xcalloc(1, sizeof(*m));
	m->pid = pid;
	m->dir = dir;
	m->id = kiln_xstrdup(spec->id);
	m->console = console;
	dir = console = NULL;
	*out = m;
	kiln_log_debug("instance '%s' started, init pid %d", spec->id, (int)pid);
done:
	if (error < 0 && pid > 0) {
		/* Closing the pipe unwritten makes the child exit; SIGKILL in case it did not. */
		close(sync[1]);
		sync[1] = -1;
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		lc_net_link_del(host_if);
	}
	if (error < 0)
		kiln_error_prefix(error, "instance '%s'", spec->id);
	for (int i = 0; i < 2; i++)
		if (sync[i] >= 0)
			close(sync[i]);
	if (console_fd >= 0)
		close(console_fd);
	if (null_fd >= 0)
		close(null_fd);
	free(argv);
	free(dir);
	free(console);
	return error;
}

int lc_machine_exited(struct lc_machine *m, int *status)
{
	int st;
	pid_t r;

	KILN_ASSERT_ARG(m != NULL);
	if (!m->reaped && m->adopted) {
		char state = 0;
		/* not our child: gone (or a zombie of its new parent) is exited, how is unknown */
		if (proc_starttime(m->pid, &state) == m->start && state != 'Z')
			return 0;
		m->reaped = 1;
		m->status = 0;
	}
	if (!m->reaped) {
		do
			r = waitpid(m->pid, &st, WNOHANG);
		while (r < 0 && errno == EINTR);
		if (r == 0)
			return 0;
		m->reaped = 1;
		/* Someone else waited for it (ECHILD): it is gone, how is unknown. */
		m->status = r == m->pid ? wait_status(st) : 255;
	}
	if (status != NULL)
		*status = m->status;
	return 1;
}

static int wait_gone(pid_t pid, unsigned long long start, double timeout);

static void remove_pidfile(const char *dir)
{
	char *path = kiln_xasprintf("%s/init.pid", dir);

	unlink(path);
	free(path);
}

int lc_machine_stop(struct lc_machine *m, double timeout)
{
	char host_if[16], peer_if[16];
	double deadline = kiln_time_mono() + timeout;
	int st, error;

	KILN_ASSERT_ARG(m != NULL);
	if (!lc_machine_exited(m, NULL)) {
		kill(m->pid, SIGTERM);
		while (!lc_machine_exited(m, NULL) && kiln_time_mono() < deadline)
			kiln_sleep(0.01, NULL);
		if (!m->reaped) {
			kiln_log_warn("instance '%s' did not stop within %.1f s; killing it", m->id,
			              timeout);
			kill(m->pid, SIGKILL);
			if (m->adopted)
				wait_gone(m->pid, m->start, 10);
			else
				while (waitpid(m->pid, &st, 0) < 0 && errno == EINTR)
					;
			m->reaped = 1;
			m->status = 128 + SIGKILL;
		}
	}
	veth_names(host_if, peer_if, m->dir);
	error = lc_net_link_del(host_if);
	remove_pidfile(m->dir);
	if (error < 0)
		kiln_error_prefix(error, "instance '%s'", m->id);
	return error;
}

void lc_machine_free(struct lc_machine *m)
{
	if (m == NULL)
		return;
	free(m->dir);
	free(m->id);
	free(m->console);
	free(m);
}

/* Wait until `pid` is gone or a zombie (its namespaces are torn down by then). */
static int wait_gone(pid_t pid, unsigned long long start, double timeout)
{
	double deadline = kiln_time_mono() + timeout;
	char state = 0;
	int st;

	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return 0;
		if (proc_starttime(pid, &state) != start || state == 'Z')
			return 0;
		if (kiln_time_mono() > deadline)
			return kiln_error_set(KILN_ETIMEOUT, "process %d did not exit", (int)pid);
		kiln_sleep(0.01, NULL);
	}
}

/*
 * Host mounts below `dir` should not exist; a crash of an older kiln or of
 * debootstrap could leave some. Reads /proc/self/mounts directly so that the
 * caller's error message is left alone.
 */
void lc_unmount_below(const char *dir)
{
	size_t n = strlen(dir);

	/* Later lines are deeper mounts: unmount the last match, then look again. */
	for (int rounds = 0; rounds < 1000; rounds++) {
		char line[8192], mp[4096], last[4096] = "";
		FILE *fp = fopen("/proc/self/mounts", "re");
		if (fp == NULL)
			return;
		while (fgets(line, sizeof(line), fp) != NULL)
			if (sscanf(line, "%*s %4095s", mp) == 1 && strncmp(mp, dir, n) == 0 &&
			    (mp[n] == '/' || mp[n] == '\0'))
				memcpy(last, mp, sizeof(last));
		fclose(fp);
		if (last[0] == '\0' || umount2(last, MNT_DETACH) < 0)
			return;
	}
}

int lc_machine_reap(const char *dir)
{
	struct kiln_buf pidfile = KILN_BUF_INIT;
	char resolved[PATH_MAX], host_if[16], peer_if[16], *path = NULL;
	unsigned long long start = 0;
	int pid = 0, error = 0;

	KILN_ASSERT_ARG(dir != NULL);
	if (realpath(dir, resolved) == NULL)
		return errno == ENOENT ? 0
		                       : kiln_error_set(KILN_ERROR, "cannot resolve '%s': %s", dir,
		                                        strerror(errno));
	path = kiln_xasprintf("%s/init.pid", resolved);
	error = kiln_file_read(&pidfile, path);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		error = 0;
	} else if (error < 0) {
		goto done;
	} else if (sscanf(pidfile.ptr, "%d %llu", &pid, &start) == 2 && pid > 1 &&
	           proc_starttime(pid, NULL) == start) {
		kill(pid, SIGKILL);
		error = wait_gone(pid, start, 10);
		if (error < 0)
			goto done;
	}
	veth_names(host_if, peer_if, resolved);
	error = lc_net_link_del(host_if);
	if (error < 0)
		goto done;
	lc_unmount_below(resolved);
	unlink(path);
done:
	if (error < 0)
		kiln_error_prefix(error, "cannot reap the machine in '%s'", dir);
	kiln_buf_release(&pidfile);
	free(path);
	return error;
}

int lc_machine_adopt(struct lc_machine **out, const char *dir, const char *id)
{
	struct kiln_buf pidfile = KILN_BUF_INIT;
	char resolved[PATH_MAX], state = 0, *path;
	unsigned long long start = 0;
	struct lc_machine *m;
	int pid = 0, found;

	*out = NULL;
	if (realpath(dir, resolved) == NULL)
		return 0;
	path = kiln_xasprintf("%s/init.pid", resolved);
	found = kiln_file_read(&pidfile, path) == 0 &&
	        sscanf(pidfile.ptr, "%d %llu", &pid, &start) == 2 && pid > 1 &&
	        proc_starttime(pid, &state) == start && state != 'Z';
	kiln_error_clear();
	kiln_buf_release(&pidfile);
	free(path);
	if (!found)
		return 0;
	m = kiln_xcalloc(1, sizeof(*m));
	m->pid = pid;
	m->start = start;
	m->adopted = 1;
	m->dir = kiln_xstrdup(resolved);
	m->id = kiln_xstrdup(id);
	m->console = kiln_xasprintf("%s/console.log", resolved);
	*out = m;
	kiln_log_info("instance '%s' adopted: its init (pid %d) kept running", id, pid);
	return 1;
}

int lc_machine_firewall(const char *dir, const char *script, uint32_t *gen)
{
	struct kiln_buf pidfile = KILN_BUF_INIT;
	char resolved[PATH_MAX], *path, state = 0, nspath[64];
	unsigned long long start = 0;
	int pid = 0, fd = -1, error;

	KILN_ASSERT_ARG(dir != NULL && gen != NULL);
	if (realpath(dir, resolved) == NULL)
		return kiln_error_set(KILN_ENOTFOUND, "no machine in '%s'", dir);
	path = kiln_xasprintf("%s/init.pid", resolved);
	if (kiln_file_read(&pidfile, path) == 0 &&
	    sscanf(pidfile.ptr, "%d %llu", &pid, &start) == 2 && pid > 1 &&
	    proc_starttime(pid, &state) == start && state != 'Z') {
		snprintf(nspath, sizeof(nspath), "/proc/%d/ns/net", pid);
		fd = open(nspath, O_RDONLY | O_CLOEXEC);
	}
	kiln_buf_release(&pidfile);
	free(path);
	/* still the same process once its namespace is open: the pid was not recycled */
	if (fd < 0 || proc_starttime(pid, NULL) != start) {
		if (fd >= 0)
			close(fd);
		return kiln_error_set(KILN_ENOTFOUND, "no machine runs in '%s'", dir);
	}
	error = lc_nft_apply(fd, script, gen);
	close(fd);
	return error;
}

const struct lc_machines lc_machines_linux = {lc_machine_start, lc_machine_exited,
                                              lc_machine_stop,  lc_machine_free,
                                              lc_machine_reap,  lc_machine_adopt};
