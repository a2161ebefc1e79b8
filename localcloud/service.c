/*
 * One run of a service, as systemd would run it, by a keeper: a process
 * forked from init that makes itself the subreaper of everything the service
 * starts (PR_SET_CHILD_SUBREAPER), so that a daemon that forks away from its
 * start command is still its child, and what the service leaves behind is
 * still known when its main process ends. The keeper:
 *
 * 1. resolves User=/Group= in the image's accounts, builds the environment
 *    (PATH and LANG, HOME/USER/LOGNAME/SHELL with User=, then Environment=,
 *    then each EnvironmentFile=, read at every start), creates
 *    RuntimeDirectory=;
 * 2. runs ExecStartPre=, then ExecStart= (the main process; for
 *    Type=forking the start command must exit 0, and the main process is the
 *    PID file's, or the one process the start command left behind), then
 *    ExecStartPost=, all within TimeoutStartSec=;
 * 3. waits for the main process; then, with KillMode=control-group or mixed,
 *    sends SIGTERM to what is left of the service and SIGKILL after
 *    TimeoutStopSec=;
 * 4. exits with an enum lc_service_result; init decides on a restart.
 *
 * Each command runs in a session of its own, stdin from /dev/null, stdout and
 * stderr on the console, umask 022, in WorkingDirectory= (default "/").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/util.h"
#include "localcloud/init-int.h"

#define ENV_FILE_MAX ((size_t)1 << 20)
#define ARGV_MAX     ((size_t)1 << 20)
#define SEARCH_PATH  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct keeper {
	const struct lc_unit *u;
	char *name; /* escaped, for the console */
	struct lc_account acct;
	struct lc_strv env;
	pid_t main;
	int main_status; /* as waitpid() gives it, once main_done */
	int main_done;
	int stopping; /* init asked everything to stop (shutdown) */
};

/* Where a command's setup failed in the child, sent back through a pipe. */
struct spawn_report {
	int stage;
	int err;
};

static const char *const stages[] = {"set its groups", "set its group", "set its user",
                                     "enter its working directory", "execute"};

static double deadline_of(uint64_t usec)
{
	return usec == LC_USEC_INFINITY ? -1 : kiln_time_mono() + (double)usec / 1e6;
}

static int prepare_env(struct keeper *k)
{
	const struct lc_unit *u = k->u;
	struct kiln_buf text = KILN_BUF_INIT;
	int error = 0;

	lc_env_set(&k->env, "PATH=" SEARCH_PATH);
	lc_env_set(&k->env, "LANG=C.UTF-8");
	if (u->user != NULL) {
		char *v[] = {kiln_xasprintf("HOME=%s", k->acct.home),
		             kiln_xasprintf("USER=%s", k->acct.name),
		             kiln_xasprintf("LOGNAME=%s", k->acct.name),
		             kiln_xasprintf("SHELL=%s", k->acct.shell)};
		for (size_t i = 0; i < KILN_ARRAY_SIZE(v); i++) {
			lc_env_set(&k->env, v[i]);
			free(v[i]);
		}
	}
	for (size_t i = 0; i < u->env.n; i++)
		lc_env_set(&k->env, u->env.v[i]);
	for (size_t i = 0; error == 0 && i < u->nenv_files; i++) {
		const struct lc_env_file *f = &u->env_files[i];
		kiln_buf_clear(&text);
		error = lc_root_read(&text, "/", f->path, ENV_FILE_MAX);
		if (error == KILN_ENOTFOUND && f->optional) {
			kiln_error_clear();
			error = 0;
			continue;
		}
		if (error == 0)
			error = lc_env_file_parse(&k->env, f->path, text.ptr, text.size);
	}
	if (error < 0)
		kiln_error_prefix(error, "EnvironmentFile=");
	kiln_buf_release(&text);
	return error;
}

static int prepare(struct keeper *k)
{
	const struct lc_unit *u = k->u;
	int error = 0;

	if (u->user != NULL) {
		error = lc_account_lookup(&k->acct, "/", u->user);
	} else {
		k->acct.name = kiln_xstrdup("root");
		k->acct.home = kiln_xstrdup("/root");
		k->acct.shell = kiln_xstrdup("/bin/sh");
	}
	if (error == 0 && u->group != NULL)
		error = lc_group_lookup(&k->acct.gid, "/", u->group);
	if (error == 0)
		error = prepare_env(k);
	for (size_t i = 0; error == 0 && i < u->runtime_dirs.n; i++) {
		char *dir = kiln_xasprintf("/run/%s", u->runtime_dirs.v[i]);
		error = kiln_mkdir_p(dir, u->runtime_mode);
		if (error == 0 &&
		    (chmod(dir, u->runtime_mode) < 0 || lchown(dir, k->acct.uid, k->acct.gid) < 0))
			error = kiln_error_set(KILN_ERROR, "cannot set up '%s': %s", dir,
			                       strerror(errno));
		free(dir);
	}
	return error;
}

/* A plain command name, looked up in PATH as systemd does (in its fixed path). */
static char *find_command(const char *path)
{
	char *dirs = kiln_xstrdup(SEARCH_PATH), *save = NULL, *found = NULL;

	if (path[0] == '/') {
		free(dirs);
		return kiln_xstrdup(path);
	}
	for (char *d = strtok_r(dirs, ":", &save); d != NULL && found == NULL;
	     d = strtok_r(NULL, ":", &save)) {
		char *p = kiln_xasprintf("%s/%s", d, path);
		if (access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(dirs);
	return found;
}

static KILN_NORETURN void child_fail(int fd, int stage)
{
	struct spawn_report r = {stage, errno};

	if (write(fd, &r, sizeof(r)) < 0) {
		/* The keeper reads an exit status of 127 instead. */
	}
	_exit(127);
}

/* In the child: credentials, directory, then exec. Nothing here returns. */
static KILN_NORETURN void child_exec(const struct keeper *k, const struct lc_exec *e,
                                     const char *path, char *const *argv, int report)
{
	const char *dir = k->u->workdir ? k->u->workdir : "/";
	int privileged = (e->flags & LC_EXEC_PRIVILEGED) != 0;
	int as_user = k->u->user != NULL && !privileged;
	sigset_t none;
	int fd;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	umask(022);
	if (as_user || (k->u->group != NULL && !privileged)) {
		size_t n = as_user ? k->acct.ngroups : 0;
		if (setgroups(n, k->acct.groups) < 0)
			child_fail(report, 0);
		if (setgid(k->acct.gid) < 0)
			child_fail(report, 1);
	}
	if (as_user && setuid(k->acct.uid) < 0)
		child_fail(report, 2);
	if (strcmp(dir, "~") == 0)
		dir = k->acct.home;
	if (chdir(dir) < 0 && !k->u->workdir_optional)
		child_fail(report, 3);
	execve(path, argv, k->env.v);
	child_fail(report, 4);
}

/* Start one command of the unit; -1 when it could not be started (said on the console). */
static pid_t spawn(struct keeper *k, const struct lc_exec *e, const char *what)
{
	struct lc_strv argv = {NULL, 0};
	struct spawn_report r;
	char *path = find_command(e->path), *esc = kiln_escape(e->path);
	int fds[2] = {-1, -1};
	pid_t pid = -1;
	ssize_t n;

	if (path == NULL) {
		lc_init_say("%s: %s: '%s' not found in %s", k->name, what, esc, SEARCH_PATH);
		goto done;
	}
	if (lc_exec_expand(&argv, e, &k->env, ARGV_MAX) < 0 || argv.n == 0) {
		lc_init_say("%s: %s: %s", k->name, what,
		            argv.n == 0 ? "no arguments left" : kiln_error_last());
		goto done;
	}
	if (pipe2(fds, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		lc_init_say("%s: %s: cannot start: %s", k->name, what, strerror(errno));
		pid = -1;
		goto done;
	}
	if (pid == 0) {
		close(fds[0]);
		child_exec(k, e, path, argv.v, fds[1]);
	}
	close(fds[1]);
	fds[1] = -1;
	do
		n = read(fds[0], &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(r)) {
		lc_init_say("%s: %s: cannot %s ('%s'): %s", k->name, what,
		            stages[r.stage >= 0 && r.stage < 5 ? r.stage : 4], esc,
		            strerror(r.err));
		/* It has exited (or is about to): it is reaped as any other child. */
		pid = -1;
	}
done:
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	lc_strv_release(&argv);
	free(path);
	free(esc);
	return pid;
}

/* The parent pid of `pid` from /proc, or -1. */
static pid_t parent_of(pid_t pid)
{
	struct kiln_buf stat = KILN_BUF_INIT;
	char path[64], *p;
	long ppid = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	kiln_buf_init(&stat, 4096);
	if (kiln_file_read(&stat, path) == 0 && (p = strrchr(stat.ptr, ')')) != NULL)
		if (sscanf(p + 1, " %*c %ld", &ppid) != 1)
			ppid = -1;
	kiln_error_clear();
	kiln_buf_release(&stat);
	return (pid_t)ppid;
}

/* Every process below this keeper (with the subreaper: the whole service), at most `max`. */
static size_t descendants(pid_t *out, size_t max)
{
	pid_t *pids = NULL, *ppids = NULL, self = getpid();
	size_t n = 0, alloc = 0, found = 0;
	struct dirent *e;
	DIR *d = opendir("/proc");

	while (d != NULL && (e = readdir(d)) != NULL && n < 65536) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end != '\0' || pid <= 0 || (pid_t)pid == self)
			continue;
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 256;
			pids = kiln_xrealloc(pids, alloc * sizeof(*pids));
			ppids = kiln_xrealloc(ppids, alloc * sizeof(*ppids));
		}
		pids[n] = (pid_t)pid;
		ppids[n++] = parent_of((pid_t)pid);
	}
	if (d != NULL)
		closedir(d);
	/* Grow the set from the keeper down, one generation a pass. */
	for (int changed = 1; changed;) {
		changed = 0;
		for (size_t i = 0; i < n && found < max; i++) {
			int below = ppids[i] == self;
			for (size_t j = 0; !below && j < found; j++)
				below = ppids[i] == out[j];
			for (size_t j = 0; below && j < found; j++)
				below = out[j] != pids[i];
			if (below) {
				out[found++] = pids[i];
				changed = 1;
			}
		}
	}
	free(pids);
	free(ppids);
	return found;
}

/*
 * Reap what has exited; wait until `pid` has (its status in *status: as from
 * waitpid(), or -1 when it was not this keeper's child) or the deadline
 * passes (-1: none). 1 when it exited, 0 at the deadline.
 */
static int wait_for(struct keeper *k, pid_t pid, double deadline, int *status)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	for (;;) {
		struct timespec ts;
		double left;
		pid_t w;
		int st;

		while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
			if (w == k->main) {
				k->main_done = 1;
				k->main_status = st;
			}
			if (w == pid) {
				*status = st;
				return 1;
			}
		}
		/* A child of ours stays (a zombie) until reaped: gone means someone else's. */
		if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH) {
			*status = -1;
			return 1;
		}
		left = deadline < 0 ? 1 : deadline - kiln_time_mono();
		if (left <= 0)
			return 0;
		/* Look again every second: a main process not our child sends no SIGCHLD. */
		left = left > 1 ? 1 : left;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		if (sigtimedwait(&set, NULL, &ts) == SIGTERM)
			k->stopping = 1;
	}
}

/*
 * Stop what is left of the service (KillMode=control-group: SIGTERM, SIGKILL
 * after TimeoutStopSec=; mixed: SIGKILL at once, the main process being gone).
 */
static void stop_rest(struct keeper *k)
{
	double deadline = deadline_of(k->u->timeout_stop_usec);
	int sig = k->u->kill_mode == LC_KILL_MIXED ? SIGKILL : SIGTERM, st, sent = 0, kills = 0;
	pid_t pids[1024];

	if (k->u->kill_mode == LC_KILL_PROCESS || k->u->kill_mode == LC_KILL_NONE)
		return;
	for (;;) {
		size_t n = descendants(pids, KILN_ARRAY_SIZE(pids));
		if (n == 0)
			break;
		if (sig == SIGTERM && deadline >= 0 && kiln_time_mono() > deadline) {
			sig = SIGKILL;
			sent = 0;
		}
		if (!sent || sig == SIGKILL)
			for (size_t i = 0; i < n; i++)
				kill(pids[i], sig);
		sent = 1;
		/* A process SIGKILL does not end within 5 s is stuck in the kernel: leave it. */
		if (sig == SIGKILL && ++kills > 100)
			break;
		wait_for(k, 0, kiln_time_mono() + 0.05, &st);
	}
	while (waitpid(-1, &st, WNOHANG) > 0)
		;
}

/*
 * How a command ended, as Restart= sees it (the '-' prefix makes any end
 * clean), said on the console; a clean exit only for the main process.
 */
static enum lc_service_result classify(struct keeper *k, const char *what, int st, int ignore)
{
	const char *ignored = ignore ? " (ignored: '-')" : "";
	int sig;

	if (st == -1) {
		lc_init_say("%s: %s ended; not a child of the service, its status is unknown%s",
		            k->name, what, ignored);
		return ignore ? LC_SERVICE_CLEAN : LC_SERVICE_EXIT_CODE;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		if (strcmp(what, "the main process") == 0)
			lc_init_say("%s: %s exited with 0", k->name, what);
		return LC_SERVICE_CLEAN;
	}
	if (WIFEXITED(st)) {
		lc_init_say("%s: %s exited with %d%s", k->name, what, WEXITSTATUS(st), ignored);
		return ignore ? LC_SERVICE_CLEAN : LC_SERVICE_EXIT_CODE;
	}
	sig = WTERMSIG(st);
	lc_init_say("%s: %s killed by signal %d (%s)%s", k->name, what, sig, strsignal(sig),
	            ignored);
	/* systemd counts these as a clean end. */
	if (ignore || sig == SIGHUP || sig == SIGINT || sig == SIGTERM || sig == SIGPIPE)
		return LC_SERVICE_CLEAN;
	return LC_SERVICE_SIGNAL;
}

/* Run ExecStartPre= or ExecStartPost= commands one after the other. */
static enum lc_service_result run_list(struct keeper *k, const struct lc_exec_list *l,
                                       const char *what, double deadline)
{
	for (size_t i = 0; i < l->n; i++) {
		int ignore = (l->v[i].flags & LC_EXEC_IGNORE_FAILURE) != 0, st = 0;
		pid_t pid = spawn(k, &l->v[i], what);
		enum lc_service_result r;
		if (pid < 0) {
			if (ignore)
				continue;
			return LC_SERVICE_EXIT_CODE;
		}
		if (!wait_for(k, pid, deadline, &st)) {
			lc_init_say("%s: %s timed out", k->name, what);
			kill(pid, SIGKILL);
			return LC_SERVICE_TIMEOUT;
		}
		r = classify(k, what, st, ignore);
		if (r != LC_SERVICE_CLEAN)
			return r;
	}
	return LC_SERVICE_CLEAN;
}

/* Is `pid` this keeper's descendant? */
static int ours(pid_t pid)
{
	pid_t self = getpid();

	for (int i = 0; i < 64 && pid > 1; i++) {
		pid = parent_of(pid);
		if (pid == self)
			return 1;
	}
	return 0;
}

static pid_t read_pidfile(const char *path)
{
	struct kiln_buf text = KILN_BUF_INIT;
	char *end;
	long pid = 0;

	if (lc_root_read(&text, "/", path, 64) == 0) {
		kiln_buf_rtrim(&text);
		pid = strtol(text.ptr, &end, 10);
		if (*end != '\0' || pid <= 1 || !ours((pid_t)pid))
			pid = 0;
	}
	kiln_error_clear();
	kiln_buf_release(&text);
	return (pid_t)pid;
}

/*
 * Type=forking: the start command has exited 0. The main process is the PID
 * file's (waited for up to the start deadline), else the process the command
 * left (now this keeper's child); 0 when none is left, -1 on failure.
 */
static pid_t forking_main(struct keeper *k, double deadline)
{
	pid_t pids[256], best = 0;
	size_t n;
	int st;

	while (k->u->pidfile != NULL) {
		pid_t pid = read_pidfile(k->u->pidfile);
		if (pid > 0)
			return pid;
		if (descendants(pids, 1) == 0 || (deadline >= 0 && kiln_time_mono() > deadline)) {
			char *esc = kiln_escape(k->u->pidfile);
			lc_init_say("%s: no process of the service in PID file '%s'", k->name, esc);
			free(esc);
			return -1;
		}
		wait_for(k, 0, kiln_time_mono() + 0.05, &st);
	}
	/* systemd refuses to guess between several; the lowest pid (usually the first) is taken. */
	n = descendants(pids, KILN_ARRAY_SIZE(pids));
	for (size_t i = 0; i < n; i++)
		if (parent_of(pids[i]) == getpid() && (best == 0 || pids[i] < best))
			best = pids[i];
	return best;
}

static enum lc_service_result run(struct keeper *k)
{
	const struct lc_unit *u = k->u;
	double deadline = deadline_of(u->timeout_start_usec);
	int ignore = (u->start.v[0].flags & LC_EXEC_IGNORE_FAILURE) != 0, st = 0;
	enum lc_service_result r;
	pid_t start;

	if (prepare(k) < 0) {
		lc_init_say("%s: %s", k->name, kiln_error_last());
		return LC_SERVICE_EXIT_CODE;
	}
	r = run_list(k, &u->start_pre, "ExecStartPre", deadline);
	start = r == LC_SERVICE_CLEAN ? spawn(k, &u->start.v[0], "ExecStart") : -1;
	if (start < 0) {
		stop_rest(k);
		return r == LC_SERVICE_CLEAN ? LC_SERVICE_EXIT_CODE : r;
	}
	k->main = start;
	if (u->type == LC_UNIT_FORKING) {
		k->main = 0;
		if (!wait_for(k, start, deadline, &st)) {
			lc_init_say("%s: the start command timed out", k->name);
			kill(start, SIGKILL);
			stop_rest(k);
			return LC_SERVICE_TIMEOUT;
		}
		r = classify(k, "the start command", st, ignore);
		if (r == LC_SERVICE_CLEAN)
			k->main = forking_main(k, deadline);
		if (k->main < 0)
			r = LC_SERVICE_EXIT_CODE;
		if (r != LC_SERVICE_CLEAN || k->main <= 0) {
			stop_rest(k);
			return r;
		}
	}
	lc_init_say("%s: main process %d", k->name, (int)k->main);
	r = run_list(k, &u->start_post, "ExecStartPost", deadline);
	if (r == LC_SERVICE_CLEAN) {
		if (!k->main_done)
			wait_for(k, k->main, -1, &k->main_status);
		r = classify(k, "the main process", k->main_status, ignore);
	} else if (!k->main_done) {
		kill(k->main, SIGTERM);
	}
	stop_rest(k);
	return r;
}

pid_t lc_service_spawn(const struct lc_unit *u)
{
	struct keeper k;
	sigset_t set;
	pid_t pid = fork();

	if (pid < 0)
		kiln_error_set(KILN_ERROR, "cannot fork: %s", strerror(errno));
	if (pid != 0)
		return pid;
	/* The keeper: a copy of init, which blocks the signals it handles; these stay blocked. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	memset(&k, 0, sizeof(k));
	k.u = u;
	k.name = kiln_escape(u->name);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	prctl(PR_SET_NAME, "kiln-keeper", 0, 0, 0);
	_exit(run(&k));
}

int lc_service_should_restart(enum lc_unit_restart policy, enum lc_service_result result)
{
	/* systemd.service(5), the table under Restart=. */
	switch (policy) {
	case LC_RESTART_ALWAYS:
		return 1;
	case LC_RESTART_ON_SUCCESS:
		return result == LC_SERVICE_CLEAN;
	case LC_RESTART_ON_FAILURE:
		return result != LC_SERVICE_CLEAN;
	case LC_RESTART_ON_ABNORMAL:
		return result == LC_SERVICE_SIGNAL || result == LC_SERVICE_TIMEOUT;
	case LC_RESTART_ON_ABORT:
		return result == LC_SERVICE_SIGNAL;
	case LC_RESTART_NO:
	case LC_RESTART_ON_WATCHDOG:
	default:
		return 0;
	}
}
