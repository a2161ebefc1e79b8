/*
 * The init of an instance: PID 1 in the instance's namespaces, started by
 * lc_machine_start() as "kiln cloud __init --dir D --id I --hostname H
 * --user U --lower L...". It builds the root (overlay, /proc, /sys, /dev,
 * /run, /tmp), pivots into it, sets the hostname, installs the login key,
 * makes SSH host keys on the instance's first boot and prints their
 * fingerprints, starts the image's sshd, its boot services (the executables
 * in /etc/kiln/boot.d, in name order) and the systemd services it enables
 * (services.c), runs the user data once, then reaps children and restarts
 * services until it is told to stop.
 *
 * Power-off from inside: busybox "halt"/"poweroff"/"reboot" signal PID 1 with
 * SIGUSR1/SIGUSR2/SIGTERM, "kill 1" sends SIGTERM, and reboot(2) (busybox
 * "poweroff -f") makes the kernel send SIGINT (power off, halt) or SIGHUP
 * (restart) to a PID namespace's init. Each of these shuts the instance down
 * and init exits 0, which lc_machine_exited() reports; a reboot is a
 * power-off here, the API layer decides whether to start the instance again.
 *
 * Per-instance state lives in the image at /var/lib/kiln-init/instances/ID:
 * keyed by instance id, so an image captured from a builder does not make a
 * new instance skip its first boot (host keys, user data).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/proc.h"
#include "core/util.h"
#include "localcloud/cloud.h"
#include "localcloud/init-int.h"
#include "localcloud/runtime-int.h"

#define STATE_DIR  "/var/lib/kiln-init/instances"
#define MAX_LAYERS 64
#define BOOT_DIR   "/etc/kiln/boot.d"

struct init_opts {
	const char *dir, *id, *hostname, *user;
	const char *lower[MAX_LAYERS];
	size_t nlower;
};

struct init_state {
	struct init_opts opts;
	struct kiln_buf key, user_data;
	pid_t sshd, user_script;
	struct lc_services *services;
	double t0;
};

void lc_init_say(const char *fmt, ...)
{
	struct kiln_buf text = KILN_BUF_INIT, line = KILN_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	kiln_buf_vprintf(&text, fmt, ap);
	va_end(ap);
	kiln_buf_puts(&line, "kiln-init: ");
	kiln_buf_put_escaped(&line, text.ptr, text.size, 0);
	kiln_buf_putc(&line, '\n');
	if (write(1, line.ptr, line.size) < 0) {
		/* Nowhere left to report to. */
	}
	kiln_buf_release(&text);
	kiln_buf_release(&line);
}

static int parse_opts(struct init_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"dir", required_argument, NULL, 'd'},      {"id", required_argument, NULL, 'i'},
	    {"hostname", required_argument, NULL, 'h'}, {"user", required_argument, NULL, 'u'},
	    {"lower", required_argument, NULL, 'l'},    {NULL, 0, NULL, 0}};
	int c, start = 0;

	/* Accept the whole command line or the part from "__init" on. */
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "__init") == 0)
			start = i;
	argc -= start;
	argv += start;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->dir = optarg;
			break;
		case 'i':
			o->id = optarg;
			break;
		case 'h':
			o->hostname = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'l':
			if (o->nlower == MAX_LAYERS)
				return kiln_error_set(KILN_EINVAL, "too many layers");
			o->lower[o->nlower++] = optarg;
			break;
		default:
			return kiln_error_set(KILN_EINVAL, "bad arguments");
		}
	}
	if (o->dir == NULL || o->id == NULL || o->hostname == NULL || o->user == NULL ||
	    o->nlower == 0 || strchr(o->id, '/') != NULL || o->id[0] == '.')
		return kiln_error_set(KILN_EINVAL, "missing or invalid arguments");
	return 0;
}

static int sys_fail(const char *what, const char *path)
{
	return kiln_error_set(KILN_ERROR, "cannot %s '%s': %s", what, path, strerror(errno));
}

static int mount_at(const char *src, const char *root, const char *target, const char *type,
                    unsigned long flags, const char *data)
{
	char *path = kiln_xasprintf("%s%s", root, target);
	int error = 0;

	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		error = sys_fail("create", path);
	else if (mount(src, path, type, flags, data) < 0)
		error = sys_fail("mount", path);
	free(path);
	return error;
}

static int mount_overlay(const struct init_opts *o, const char *root)
{
	struct kiln_buf data = KILN_BUF_INIT;
	size_t base;
	int error = 0;

	/* overlay lists the top layer first; the spec lists the lowest first. */
	kiln_buf_puts(&data, "lowerdir=");
	for (size_t i = o->nlower; i-- > 0;)
		kiln_buf_printf(&data, "%s%s", o->lower[i], i > 0 ? ":" : "");
	kiln_buf_printf(&data, ",upperdir=%s/upper,workdir=%s/work", o->dir, o->dir);
	base = data.size;
	/*
	 * Keep the upper directory plain (no redirects, no metadata-only
	 * copies, no index): it becomes an image layer. Kernels without these
	 * options have them off anyway.
	 */
	kiln_buf_puts(&data, ",redirect_dir=off,metacopy=off,index=off");
	if (mount("overlay", root, "overlay", 0, data.ptr) < 0) {
		kiln_buf_truncate(&data, base);
		if (mount("overlay", root, "overlay", 0, data.ptr) < 0)
			error = sys_fail("mount the overlay on", root);
	}
	kiln_buf_release(&data);
	return error;
}

static int make_dev(const char *root)
{
	static const struct {
		const char *name;
		unsigned maj, min;
	} nodes[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
	             {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
	static const struct {
		const char *target, *name;
	} links[] = {{"pts/ptmx", "ptmx"},
	             {"/proc/self/fd", "fd"},
	             {"/proc/self/fd/0", "stdin"},
	             {"/proc/self/fd/1", "stdout"},
	             {"/proc/self/fd/2", "stderr"}};
	char *dev = kiln_xasprintf("%s/dev", root);
	int error;

	error =
	    mount_at("tmpfs", root, "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k");
	for (size_t i = 0; error == 0 && i < KILN_ARRAY_SIZE(nodes); i++) {
		char *p = kiln_xasprintf("%s/%s", dev, nodes[i].name);
		if (mknod(p, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0 ||
		    chmod(p, 0666) < 0)
			error = sys_fail("create", p);
		free(p);
	}
	for (size_t i = 0; error == 0 && i < KILN_ARRAY_SIZE(links); i++) {
		char *p = kiln_xasprintf("%s/%s", dev, links[i].name);
		if (symlink(links[i].target, p) < 0)
			error = sys_fail("create", p);
		free(p);
	}
	if (error == 0)
		error = mount_at("devpts", root, "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		                 "newinstance,ptmxmode=0666,mode=0620,gid=5");
	if (error == 0)
		error = mount_at("shm", root, "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
		                 "mode=1777,size=64m");
	free(dev);
	return error;
}

/*
 * Most of /proc/sys is global to the host (kernel.core_pattern, vm.*): the
 * instance reads it but cannot write it, as in Docker. Nor can it remount it,
 * without CAP_SYS_ADMIN (see drop_capabilities()).
 */
static int read_only_proc(const char *root)
{
	static const char *const paths[] = {"/proc/sys", "/proc/sysrq-trigger"};

	for (size_t i = 0; i < KILN_ARRAY_SIZE(paths); i++) {
		char *p = kiln_xasprintf("%s%s", root, paths[i]);
		int error = 0;
		/* Kernels without magic SysRq have no trigger file. */
		if (access(p, F_OK) != 0 && errno == ENOENT) {
			free(p);
			continue;
		}
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
			error = sys_fail("make read-only", p);
		free(p);
		if (error < 0)
			return error;
	}
	return 0;
}

/*
 * The instance shares the host's kernel and, without a user namespace, its
 * root is the host's root. Its processes lose the capabilities that reach
 * past the namespaces: loading modules, raw I/O and device nodes (the host's
 * disks), mounting (remounting /sys or /proc/sys), open_by_handle_at (files
 * outside the root), the clock, BPF and perf. What a provisioner needs
 * (chown, setuid, chroot, binding port 80, its own network) stays.
 */
static void drop_capabilities(void)
{
	static const int caps[] = {CAP_SYS_MODULE, CAP_SYS_RAWIO,       CAP_MKNOD,
	                           CAP_SYS_ADMIN,  CAP_DAC_READ_SEARCH, CAP_SYS_TIME,
	                           CAP_SYSLOG,     CAP_MAC_ADMIN,       CAP_MAC_OVERRIDE,
	                           CAP_SYS_PACCT,  CAP_WAKE_ALARM,      CAP_BLOCK_SUSPEND,
	                           CAP_BPF,        CAP_PERFMON,         CAP_CHECKPOINT_RESTORE};

	for (size_t i = 0; i < KILN_ARRAY_SIZE(caps); i++)
		if (prctl(PR_CAPBSET_DROP, caps[i], 0, 0, 0) < 0 && errno != EINVAL)
			lc_init_say("cannot drop capability %d: %s", caps[i], strerror(errno));
}

static int build_root(const struct init_opts *o, char **root_out)
{
	char *root = kiln_xasprintf("%s/root", o->dir);
	int error;

	/* Nothing mounted here may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		error = sys_fail("make private", "/");
		goto done;
	}
	error = mount_overlay(o, root);
	if (error == 0)
		error =
		    mount_at("proc", root, "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	if (error == 0)
		error = mount_at("sysfs", root, "/sys", "sysfs",
		                 MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	if (error == 0)
		error = make_dev(root);
	if (error == 0)
		error = mount_at("tmpfs", root, "/run", "tmpfs", MS_NOSUID | MS_NODEV,
		                 "mode=0755,size=64m");
	if (error == 0)
		error = mount_at("tmpfs", root, "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
		                 "mode=1777,size=256m");
	if (error == 0)
		error = read_only_proc(root);
done:
	if (error == 0)
		*root_out = root;
	else
		free(root);
	return error;
}

static int enter_root(const char *root)
{
	/* pivot_root(".", ".") stacks the old root on the new one; detach it at once. */
	if (chdir(root) < 0)
		return sys_fail("enter", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return sys_fail("pivot into", root);
	if (umount2(".", MNT_DETACH) < 0)
		return sys_fail("detach the old root from", root);
	if (chdir("/") < 0)
		return sys_fail("enter", "/");
	return 0;
}

/* Run a tool of the image to completion; output goes to `out` when not NULL, else the console. */
static int run_tool(struct kiln_buf *out, char *const argv[])
{
	struct kiln_buf err = KILN_BUF_INIT;
	int status = 0, error;

	kiln_buf_init(&err, 1 << 16);
	if (out != NULL) {
		error = kiln_proc_run(&status, out, &err, argv);
	} else {
		struct kiln_proc p = KILN_PROC_INIT;
		struct kiln_proc_opts po = {.in = KILN_PROC_NULL};
		error = kiln_proc_start(&p, argv, &po);
		if (error == 0)
			error = kiln_proc_finish(&p, &status);
	}
	if (error == 0 && status != 0) {
		kiln_buf_rtrim(&err);
		error = kiln_error_set(KILN_ERROR, "%s exited with %d%s%s", argv[0], status,
		                       err.size ? ": " : "", err.ptr);
	}
	kiln_buf_release(&err);
	return error;
}

static int first_boot(const struct init_opts *o, int *first)
{
	char *marker = kiln_xasprintf("%s/%s/boot", STATE_DIR, o->id);
	char *dir = kiln_path_dirname(marker);
	glob_t g;
	int error;

	*first = access(marker, F_OK) != 0;
	if (!*first) {
		error = 0;
		goto done;
	}
	/* Host keys in the image belong to whoever made it (a builder, debootstrap). */
	if (glob("/etc/ssh/ssh_host_*", 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			unlink(g.gl_pathv[i]);
		globfree(&g);
	}
	error = kiln_mkdir_p(dir, 0700);
	if (error == 0)
		error = kiln_file_write_atomic(marker, "", 0, 0600);
done:
	free(marker);
	free(dir);
	return error;
}

static void host_keys(const struct init_opts *o, int first)
{
	static const char *const types[] = {"ed25519", "ecdsa", "rsa"};
	struct kiln_buf fps = KILN_BUF_INIT, out = KILN_BUF_INIT;
	char *comment = kiln_xasprintf("root@%s", o->hostname);

	if (access("/usr/bin/ssh-keygen", X_OK) != 0) {
		lc_init_say("no /usr/bin/ssh-keygen in the image: no SSH host keys");
		goto done;
	}
	/* RSA keys take half a second each: only the fast types are made. */
	for (size_t i = 0; first && i < 2; i++) {
		char *path = kiln_xasprintf("/etc/ssh/ssh_host_%s_key", types[i]);
		char *const argv[] = {"/usr/bin/ssh-keygen",
		                      "-q",
		                      "-t",
		                      (char *)types[i],
		                      "-N",
		                      "",
		                      "-C",
		                      comment,
		                      "-f",
		                      path,
		                      NULL};
		if (access(path, F_OK) != 0 && run_tool(&out, argv) < 0)
			lc_init_say("cannot make the %s host key: %s", types[i], kiln_error_last());
		kiln_buf_clear(&out);
		free(path);
	}
	for (size_t i = 0; i < KILN_ARRAY_SIZE(types); i++) {
		char *path = kiln_xasprintf("/etc/ssh/ssh_host_%s_key.pub", types[i]);
		char *const argv[] = {"/usr/bin/ssh-keygen", "-l", "-f", path, NULL};
		if (access(path, F_OK) == 0 && run_tool(&out, argv) == 0)
			kiln_buf_puts(&fps, out.ptr);
		kiln_buf_clear(&out);
		free(path);
	}
	dprintf(1,
	        "-----BEGIN SSH HOST KEY FINGERPRINTS-----\n%s"
	        "-----END SSH HOST KEY FINGERPRINTS-----\n",
	        fps.ptr);
done:
	kiln_error_clear();
	kiln_buf_release(&fps);
	kiln_buf_release(&out);
	free(comment);
}

/* Add the key pair's line to the user's authorized_keys, as cloud-init does. */
static int install_key(const struct init_state *s)
{
	struct kiln_buf keys = KILN_BUF_INIT, key = KILN_BUF_INIT;
	struct lc_account acct = {0};
	char *sshdir = NULL, *path = NULL;
	int error;

	if (s->key.size == 0)
		return 0;
	kiln_buf_puts(&key, s->key.ptr);
	kiln_buf_rtrim(&key);
	error = lc_account_lookup(&acct, "/", s->opts.user);
	if (error < 0)
		goto done;
	sshdir = kiln_xasprintf("%s/.ssh", acct.home);
	path = kiln_xasprintf("%s/authorized_keys", sshdir);
	if (mkdir(sshdir, 0700) < 0 && errno != EEXIST) {
		error = sys_fail("create", sshdir);
		goto done;
	}
	if (lchown(sshdir, acct.uid, acct.gid) < 0 || chmod(sshdir, 0700) < 0) {
		error = sys_fail("set the owner of", sshdir);
		goto done;
	}
	error = kiln_file_read(&keys, path);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		error = 0;
	} else if (error < 0) {
		goto done;
	}
	for (char *line = keys.ptr; line != NULL;) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len == key.size && memcmp(line, key.ptr, len) == 0)
			goto done; /* already there */
		line = nl ? nl + 1 : NULL;
	}
	if (keys.size > 0 && keys.ptr[keys.size - 1] != '\n')
		kiln_buf_putc(&keys, '\n');
	kiln_buf_printf(&keys, "%s\n", key.ptr);
	error = kiln_file_write_atomic(path, keys.ptr, keys.size, 0600);
	if (error == 0 && lchown(path, acct.uid, acct.gid) < 0)
		error = sys_fail("set the owner of", path);
done:
	if (error < 0)
		kiln_error_prefix(error, "cannot install the key for '%s'", s->opts.user);
	kiln_buf_release(&keys);
	kiln_buf_release(&key);
	lc_account_release(&acct);
	free(sshdir);
	free(path);
	return error;
}

static pid_t start_child(char *const argv[])
{
	struct kiln_proc p = KILN_PROC_INIT;
	struct kiln_proc_opts po = {.in = KILN_PROC_NULL, .cwd = "/"};

	if (kiln_proc_start(&p, argv, &po) < 0)
		return -1;
	return p.pid;
}

static void start_sshd(struct init_state *s)
{
	static const char *const keys[] = {"/etc/ssh/ssh_host_ed25519_key",
	                                   "/etc/ssh/ssh_host_ecdsa_key",
	                                   "/etc/ssh/ssh_host_rsa_key"};
	char *argv[4 + 2 * KILN_ARRAY_SIZE(keys)];
	size_t n = 0;

	if (access("/usr/sbin/sshd", X_OK) != 0) {
		lc_init_say("no /usr/sbin/sshd in the image: no SSH");
		return;
	}
	if (mkdir("/run/sshd", 0755) < 0 && errno != EEXIST)
		lc_init_say("cannot create /run/sshd: %s", strerror(errno));
	argv[n++] = "/usr/sbin/sshd";
	argv[n++] = "-D";
	argv[n++] = "-e";
	/* Name the keys that exist, so sshd does not complain about the others. */
	for (size_t i = 0; i < KILN_ARRAY_SIZE(keys); i++) {
		if (access(keys[i], R_OK) == 0) {
			argv[n++] = "-h";
			argv[n++] = (char *)keys[i];
		}
	}
	argv[n] = NULL;
	s->sshd = start_child(argv);
	if (s->sshd < 0)
		lc_init_say("cannot start sshd: %s", kiln_error_last());
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/*
 * The image's boot services: every executable in /etc/kiln/boot.d, in name
 * order, started at each boot after sshd (the local cloud's stand-in for an
 * init system's enabled units). Their output goes to the console.
 */
static void start_boot_services(void)
{
	struct dirent **names = NULL;
	int n = scandir(BOOT_DIR, &names, NULL, name_cmp);

	for (int i = 0; i < n; i++) {
		char *path = kiln_xasprintf("%s/%s", BOOT_DIR, names[i]->d_name);
		char *const argv[] = {path, NULL};
		struct stat st;

		if (names[i]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(path, X_OK) == 0) {
			lc_init_say("starting %s", path);
			if (start_child(argv) < 0)
				lc_init_say("cannot start %s: %s", path, kiln_error_last());
		}
		free(path);
		free(names[i]);
	}
	free(names);
	kiln_error_clear();
}

/* User data runs once per instance, like cloud-init's scripts-user: marked before it runs. */
static void run_user_data(struct init_state *s)
{
	char *dir = kiln_xasprintf("%s/%s", STATE_DIR, s->opts.id);
	char *script = kiln_xasprintf("%s/user-data", dir);
	char *marker = kiln_xasprintf("%s/user-data.done", dir);
	char *const argv[] = {script, NULL};

	if (s->user_data.size == 0 || access(marker, F_OK) == 0)
		goto done;
	if (kiln_file_write_atomic(marker, "", 0, 0600) < 0 ||
	    kiln_file_write_atomic(script, s->user_data.ptr, s->user_data.size, 0700) < 0) {
		lc_init_say("cannot store the user data: %s", kiln_error_last());
		goto done;
	}
	if (s->user_data.size < 2 || memcmp(s->user_data.ptr, "#!", 2) != 0) {
		lc_init_say("user data is not a script (no #!): not run");
		goto done;
	}
	lc_init_say("running user data");
	s->user_script = start_child(argv);
	if (s->user_script < 0)
		lc_init_say("cannot run the user data: %s", kiln_error_last());
done:
	kiln_error_clear();
	free(dir);
	free(script);
	free(marker);
}

static void reap_children(struct init_state *s)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (lc_services_reaped(s->services, pid, st)) {
			/* A service's keeper: its restart is decided. */
		} else if (pid == s->sshd) {
			lc_init_say("sshd exited with %d", code);
			s->sshd = 0;
		} else if (pid == s->user_script) {
			lc_init_say("user data exited with %d", code);
			s->user_script = 0;
		}
	}
}

static KILN_NORETURN void shut_down(struct init_state *s, int sig)
{
	double deadline = kiln_time_mono() + 5;
	int st;

	lc_init_say("%s: shutting down", strsignal(sig));
	/* kill(-1) in a PID namespace reaches every process in it but init. */
	kill(-1, SIGTERM);
	while (kiln_time_mono() < deadline) {
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid < 0 && errno == ECHILD)
			break;
		if (pid <= 0)
			kiln_sleep(0.02, NULL);
	}
	kill(-1, SIGKILL);
	while (waitpid(-1, &st, 0) > 0 || errno == EINTR)
		;
	sync();
	lc_init_say("powered off");
	kiln_buf_wipe(&s->key);
	kiln_buf_release(&s->user_data);
	lc_services_free(s->services);
	exit(0);
}

static int read_inputs(struct init_state *s)
{
	char *key = kiln_xasprintf("%s/authorized_key", s->opts.dir);
	char *ud = kiln_xasprintf("%s/user-data", s->opts.dir);
	int error;

	kiln_buf_init(&s->key, 64 << 10);
	kiln_buf_init(&s->user_data, 16 << 20);
	error = kiln_file_read(&s->key, key);
	if (error == KILN_ENOTFOUND)
		error = 0;
	if (error == 0)
		error = kiln_file_read(&s->user_data, ud);
	if (error == KILN_ENOTFOUND)
		error = 0;
	if (error == 0)
		kiln_error_clear();
	free(key);
	free(ud);
	return error;
}

static int boot(struct init_state *s)
{
	char *root = NULL;
	int error, first = 0;

	error = read_inputs(s);
	if (error == 0)
		error = build_root(&s->opts, &root);
	if (error == 0)
		error = enter_root(root);
	if (error == 0 && sethostname(s->opts.hostname, strlen(s->opts.hostname)) < 0)
		error = sys_fail("set the hostname", s->opts.hostname);
	if (error == 0)
		error = first_boot(&s->opts, &first);
	free(root);
	if (error < 0)
		return error;
	host_keys(&s->opts, first);
	/* Only init keeps them: what it starts from now on runs without. */
	drop_capabilities();
	if (install_key(s) < 0)
		lc_init_say("%s", kiln_error_last());
	start_sshd(s);
	lc_init_say("%s is up in %.0f ms%s", s->opts.hostname, (kiln_time_mono() - s->t0) * 1000,
	            first ? " (first boot)" : "");
	start_boot_services();
	s->services = lc_services_start("/", s->opts.hostname);
	run_user_data(s);
	return 0;
}

int kiln_cloud_init_main(int argc, char **argv)
{
	static const int stops[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGPWR};
	struct init_state s;
	sigset_t wait_set;
	int sig;

	memset(&s, 0, sizeof(s));
	s.t0 = kiln_time_mono();
	/* Nothing of the daemon reaches the instance: no descriptors, no environment. */
	syscall(SYS_close_range, 3U, ~0U, 0U);
	clearenv();
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	setenv("HOME", "/root", 1);
	setenv("LANG", "C.UTF-8", 1);
	umask(022);
	sigemptyset(&wait_set);
	sigaddset(&wait_set, SIGCHLD);
	for (size_t i = 0; i < KILN_ARRAY_SIZE(stops); i++)
		sigaddset(&wait_set, stops[i]);
	sigprocmask(SIG_SETMASK, &wait_set, NULL);
	if (getpid() != 1) {
		dprintf(2, "kiln cloud __init: must run as PID 1 of an instance\n");
		return 2;
	}
	if (parse_opts(&s.opts, argc, argv) < 0 || boot(&s) < 0) {
		lc_init_say("boot failed: %s", kiln_error_last());
		return 1;
	}
	for (;;) {
		double next = lc_services_next(s.services, kiln_time_mono());
		struct timespec ts = {next < 0 ? 3600 : (time_t)next,
		                      next < 0 ? 0 : (long)((next - (double)(time_t)next) * 1e9)};
		sig = sigtimedwait(&wait_set, NULL, &ts);
		if (sig == SIGCHLD)
			reap_children(&s);
		else if (sig > 0)
			shut_down(&s, sig);
		lc_services_tick(s.services, kiln_time_mono());
	}
}
