/*
 * `kiln cloud up|down|status` from outside the daemon: one daemon per state
 * directory (a flock on STATE/cloud.lock for its whole life), started in
 * the background with its outcome reported through a pipe, stopped by
 * SIGTERM to the pid it wrote, and cleaned up after when it crashed.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/util.h"
#include "localcloud/cloud-int.h"
#include "localcloud/cloud.h"
#include "localcloud/daemon-int.h"
#include "localcloud/haproxy-int.h"
#include "localcloud/net-int.h"

static int read_pid(const char *state_dir)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char *pidf = kiln_path_join(state_dir, "cloud.pid");
	int pid = 0;

	if (kiln_file_read(&b, pidf) == 0)
		pid = atoi(b.ptr);
	else
		kiln_error_clear();
	kiln_buf_release(&b);
	free(pidf);
	return pid;
}

/* Is a daemon holding the state directory's lock? */
static int daemon_running(const char *state_dir)
{
	char *lockf = kiln_path_join(state_dir, "cloud.lock");
	int fd = open(lockf, O_RDONLY | O_CLOEXEC), held = 0;

	free(lockf);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
		held = 1;
	close(fd);
	return held;
}

/*
 * The bridge must not take over a network this machine already routes (on
 * EC2 itself, the default VPC is 172.31.0.0/16 too): refuse overlaps with
 * any route but the default one and our own bridge's.
 */
static int check_overlap(const char *cidr, const char *bridge)
{
	FILE *f = fopen("/proc/net/route", "re");
	char line[512], iface[64];
	unsigned dest, gw, flags, refcnt, use, metric, mask;
	uint32_t net;
	int prefix, rc = 0;

	if (f == NULL || lc_cidr_parse(&net, &prefix, cidr) < 0) {
		if (f)
			fclose(f);
		kiln_error_clear();
		return 0;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		uint32_t d, m, ours, common;
		if (sscanf(line, "%63s %x %x %x %u %u %u %x", iface, &dest, &gw, &flags, &refcnt,
		           &use, &metric, &mask) != 8 ||
		    mask == 0 || strcmp(iface, bridge) == 0)
			continue;
		d = ntohl(dest);
		m = ntohl(mask);
		ours = prefix ? ~0u << (32 - prefix) : 0;
		common = m & ours;
		if ((d & common) == (net & common)) {
			char a[16];
			int bits = __builtin_popcount(m);
			lc_ip_format(a, d);
			rc = kiln_error_set(
			    KILN_EINVAL,
			    "--cidr %s overlaps %s/%d, routed on %s on this machine; "
			    "choose another network with --cidr",
			    cidr, a, bits, iface);
		}
	}
	fclose(f);
	return rc;
}

/* The state directory, created when missing, as an absolute path; its network checked. */
static int state_dir_ready(char **abs, const struct kiln_cloud_opts *o)
{
	const char *state_dir = kiln_paths_cloud_state(o->state_dir);
	uint32_t net;
	char bridge[16];
	int prefix, existed, rc;

	*abs = NULL;
	if (geteuid() != 0)
		return kiln_error_set(KILN_EINVAL,
		                      "the local cloud needs root (namespaces, mounts, a bridge)");
	if (o->cidr && lc_cidr_parse(&net, &prefix, o->cidr) < 0)
		return kiln_error_prefix(KILN_EINVAL, "--cidr");
	existed = access(state_dir, F_OK) == 0;
	if (kiln_mkdir_p(state_dir, 0700) < 0)
		return -1;
	*abs = realpath(state_dir, NULL);
	if (*abs == NULL)
		return kiln_error_set(KILN_ERROR, "%s: %s", state_dir, strerror(errno));
	lc_bridge_name(bridge, *abs);
	rc = check_overlap(o->cidr ? o->cidr : KILN_CLOUD_DEFAULT_CIDR, bridge);
	if (rc < 0) {
		if (!existed)
			rmdir(*abs); /* nothing half-created */
		free(*abs);
		*abs = NULL;
	}
	return rc;
}

/* STATE/cloud.lock, held by the daemon for its whole life; KILN_EEXISTS when taken. */
static int take_lock(int *fd, const char *abs)
{
	char *lockf = kiln_path_join(abs, "cloud.lock");

	*fd = open(lockf, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lockf);
	if (*fd >= 0 && flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return kiln_error_set(KILN_EEXISTS, "a local cloud already runs on %s (pid %d)", abs,
	                      read_pid(abs));
}

/* The daemon's first line on the pipe: "ok ENDPOINT" or "error MESSAGE". */
static int wait_ready(char **endpoint, int fd, pid_t pid, const char *abs)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char chunk[512];
	ssize_t n;
	int rc;

	kiln_buf_init(&b, 1 << 16);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || kiln_buf_put(&b, chunk, (size_t)n) < 0)
			break;
	}
	kiln_buf_rtrim(&b);
	if (strncmp(b.ptr, "ok ", 3) == 0) {
		*endpoint = kiln_xstrdup(b.ptr + 3);
		rc = 0;
	} else if (strncmp(b.ptr, "error ", 6) == 0) {
		rc = kiln_error_set(KILN_ERROR, "%s", b.ptr + 6);
	} else {
		rc = kiln_error_set(KILN_ERROR,
		                    "the local cloud exited while starting; see %s/cloud.log", abs);
	}
	if (rc < 0)
		waitpid(pid, NULL, WNOHANG);
	kiln_buf_release(&b);
	return rc;
}

/*
 * In the daemon: close every descriptor but stdin, stdout, stderr and those in
 * keep[0..n). It outlives whoever started it, and must not hold what they
 * opened (a test's lock file held by a daemon left behind blocks every later
 * run that waits for that lock).
 */
static void close_inherited(const int *keep, size_t n)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int self = d ? dirfd(d) : -1;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name), kept = fd < 3 || fd == self || e->d_name[0] == '.';
		for (size_t i = 0; i < n && !kept; i++)
			kept = fd == keep[i];
		if (!kept)
			close(fd);
	}
	closedir(d);
}

/* Fork the daemon into its own session; it keeps the lock and the log. */
static int start_background(char **endpoint, const struct kiln_cloud_opts *o, const char *abs,
                            FILE *log, int lock_fd)
{
	int pipefd[2], rc;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return kiln_error_set(KILN_ERROR, "pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return kiln_error_set(KILN_ERROR, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		close(pipefd[0]);
		setsid();
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(fileno(log), 2);
			if (devnull > 2)
				close(devnull);
		}
		if (chdir("/") < 0)
			_exit(1);
		{
			int keep[] = {fileno(log), pipefd[1], lock_fd};
			close_inherited(keep, KILN_ARRAY_SIZE(keep));
		}
		kiln_log_set_stream(log, 1);
		_exit(lc_daemon_run(o, abs, pipefd[1]) < 0 ? 1 : 0);
	}
	close(pipefd[1]);
	rc = wait_ready(endpoint, pipefd[0], pid, abs);
	close(pipefd[0]);
	return rc;
}

int kiln_cloud_up(char **out, const struct kiln_cloud_opts *o)
{
	char *abs = NULL, *logf;
	int lock_fd = -1, rc;
	FILE *log = NULL;

	*out = NULL;
	rc = state_dir_ready(&abs, o);
	if (rc < 0)
		return rc;
	rc = take_lock(&lock_fd, abs);
	if (rc < 0)
		goto done;
	logf = kiln_path_join(abs, "cloud.log");
	log = fopen(logf, "ae");
	free(logf);
	if (log == NULL) {
		rc = kiln_error_set(KILN_ERROR, "cloud.log: %s", strerror(errno));
		goto done;
	}
	setvbuf(log, NULL, _IOLBF, 0);
	if (o->foreground) {
		kiln_log_set_stream(log, 1);
		rc = lc_daemon_run(o, abs, -1);
	} else {
		rc = start_background(out, o, abs, log, lock_fd);
	}
done:
	if (log)
		fclose(log);
	if (lock_fd >= 0)
		close(lock_fd);
	free(abs);
	return rc;
}

int kiln_cloud_endpoint(char **out, const char *state_dir)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char *epf;
	int rc;

	*out = NULL;
	state_dir = kiln_paths_cloud_state(state_dir);
	if (!daemon_running(state_dir))
		return kiln_error_set(KILN_ENOTFOUND,
		                      "no local cloud runs on %s; start one with `kiln cloud up`",
		                      state_dir);
	epf = kiln_path_join(state_dir, "endpoint");
	rc = kiln_file_read(&b, epf);
	free(epf);
	if (rc < 0) {
		kiln_buf_release(&b);
		return kiln_error_set(KILN_ENOTFOUND, "the local cloud on %s is still starting",
		                      state_dir);
	}
	kiln_buf_rtrim(&b);
	*out = kiln_buf_detach(&b);
	return 0;
}

/*
 * No daemon, but a crashed one may have left machines and its bridge: stop
 * and unmount them, remove the bridge. The state stays; the next `up`
 * starts the instances that were running. Returns 1 when something was left.
 */
/* Apply `fn` to each directory below STATE/`sub` (instances, load balancers). */
static int each_dir(const char *abs, const char *sub, int (*fn)(const char *dir))
{
	char *parent = kiln_path_join(abs, sub);
	DIR *d = opendir(parent);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)) != NULL) {
		char *dir;
		if (e->d_name[0] == '.')
			continue;
		dir = kiln_path_join(parent, e->d_name);
		if (fn(dir) < 0)
			kiln_log_warn("%s", kiln_error_last());
		kiln_error_clear();
		free(dir);
		n++;
	}
	if (d)
		closedir(d);
	free(parent);
	return n;
}

static int stop_haproxy(const char *dir)
{
	return lc_haproxy_stop(dir, 1);
}

/*
 * No daemon, but a crashed one may have left machines, load balancers (their
 * HAProxy serves on) and its bridge: stop and unmount the machines, stop
 * every HAProxy, remove the bridge. The state stays; the next `up` starts
 * what was running. Returns 1 when something was left.
 */
static int clean_after_crash(const char *state_dir)
{
	char *abs = realpath(state_dir, NULL), bridge[16], *sys;
	int found = 0;

	if (abs == NULL)
		return 0;
	/* kills what is left of a machine and unmounts it; nothing if none */
	each_dir(abs, "instances", lc_machine_reap);
	each_dir(abs, "lbs", stop_haproxy);
	lc_bridge_name(bridge, abs);
	sys = kiln_xasprintf("/sys/class/net/%s", bridge);
	if (access(sys, F_OK) == 0) {
		struct lc_net net;
		memset(&net, 0, sizeof(net));
		snprintf(net.bridge, sizeof(net.bridge), "%s", bridge);
		found = 1;
		if (lc_net_down(&net) < 0)
			kiln_log_warn("%s", kiln_error_last());
	}
	free(sys);
	free(abs);
	return found;
}

int kiln_cloud_down(const char *state_dir, double timeout)
{
	double t0 = kiln_time_mono();
	int pid;

	state_dir = kiln_paths_cloud_state(state_dir);
	if (!daemon_running(state_dir)) {
		int cleaned = clean_after_crash(state_dir);
		return kiln_error_set(
		    KILN_ENOTFOUND, "no local cloud runs on %s%s", state_dir,
		    cleaned ? "; removed what a crashed one left (machines, bridge)" : "");
	}
	pid = read_pid(state_dir);
	if (pid <= 1)
		return kiln_error_set(KILN_ERROR,
		                      "the local cloud on %s holds its lock but has no pid file",
		                      state_dir);
	if (kill(pid, SIGTERM) < 0)
		return kiln_error_set(KILN_ERROR, "stopping pid %d: %s", pid, strerror(errno));
	while (daemon_running(state_dir)) {
		if (kiln_time_mono() - t0 > timeout)
			return kiln_error_set(KILN_ETIMEOUT,
			                      "the local cloud (pid %d) did not stop within %.0f s",
			                      pid, timeout);
		kiln_sleep(0.05, NULL);
	}
	return 0;
}

int kiln_cloud_status(json_t **out, const char *state_dir)
{
	json_t *st = NULL, *counts, *inst, *v;
	char *path, *endpoint = NULL;
	const char *k;
	struct stat sb;
	int running;

	state_dir = kiln_paths_cloud_state(state_dir);
	running = daemon_running(state_dir);
	*out = json_pack("{s:b, s:s}", "running", running, "state_dir", state_dir);
	if (running) {
		char *pidf = kiln_path_join(state_dir, "cloud.pid");
		json_object_set_new(*out, "pid", json_integer(read_pid(state_dir)));
		if (stat(pidf, &sb) == 0)
			json_object_set_new(*out, "uptime_seconds",
			                    json_integer((json_int_t)(time(NULL) - sb.st_mtime)));
		free(pidf);
		if (kiln_cloud_endpoint(&endpoint, state_dir) == 0)
			json_object_set_new(*out, "endpoint", json_string(endpoint));
		free(endpoint);
	}
	path = kiln_path_join(state_dir, "state.json");
	if (access(path, F_OK) == 0 && kiln_json_load_file(&st, path) == 0) {
		counts = json_object();
		json_object_set_new(
		    counts, "images",
		    json_integer((json_int_t)json_object_size(json_object_get(st, "images"))));
		json_object_set_new(
		    counts, "key_pairs",
		    json_integer((json_int_t)json_object_size(json_object_get(st, "key_pairs"))));
		json_object_set_new(counts, "security_groups",
		                    json_integer((json_int_t)json_object_size(
		                        json_object_get(st, "security_groups"))));
		json_object_set_new(counts, "launch_templates",
		                    json_integer((json_int_t)json_object_size(
		                        json_object_get(st, "launch_templates"))));
		inst = json_object();
		json_object_foreach(json_object_get(st, "instances"), k, v)
		{
			const char *s = lc_str(v, "state");
			json_int_t n = json_integer_value(json_object_get(inst, s ? s : "unknown"));
			json_object_set_new(inst, s ? s : "unknown", json_integer(n + 1));
		}
		json_object_set_new(counts, "instances", inst);
		json_object_set_new(*out, "counts", counts);
	}
	kiln_error_clear();
	json_decref(st);
	free(path);
	return 0;
}
