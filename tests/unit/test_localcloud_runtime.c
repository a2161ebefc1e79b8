/*
 * The local cloud's runtime below the API: CIDR parsing, the bridge, layer
 * import (directories and archives, hostile archives refused) and capture
 * (whiteouts, opaque directories, owners, modes, xattrs, links), and real
 * machines booted from a tiny busybox root made from the host's busybox:
 * hostname, mounts, user data once, power-off from inside, stop and reap
 * leaving nothing behind. The full Debian image with sshd is exercised by
 * tests/integration/lc_runtime_*.sh. Runs as root (CI does).
 *
 * The machines' init is "/proc/self/exe cloud __init": this test binary. A
 * constructor hands such a run to kiln_cloud_init_main() before Check starts.
 */
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/proc.h"
#include "core/util.h"
#include "localcloud/cloud.h"
#include "localcloud/runtime-int.h"
#include "localcloud/net-int.h"

__attribute__((constructor)) static void maybe_init(int argc, char **argv, char **envp)
{
	(void)envp;
	if (argc >= 3 && strcmp(argv[1], "cloud") == 0 && strcmp(argv[2], "__init") == 0)
		exit(kiln_cloud_init_main(argc, argv));
}

/* Unique per test process: the suite's own bridge and address range. */
#define TEST_CIDR "10.213.1.0/24"

/*
 * Strings for one test, freed by the fixture's teardown: assertions read
 * better with paths built inline, and LeakSanitizer checks every test.
 */
static char *pool[512];
static size_t npool;

static const char *S(const char *fmt, ...) KILN_PRINTF(1, 2);
static const char *S(const char *fmt, ...)
{
	struct kiln_buf b = KILN_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	kiln_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	ck_assert_uint_lt(npool, KILN_ARRAY_SIZE(pool));
	pool[npool++] = kiln_buf_detach(&b);
	return pool[npool - 1];
}

static const char *keep(char *s)
{
	ck_assert_uint_lt(npool, KILN_ARRAY_SIZE(pool));
	pool[npool++] = s;
	return s;
}

static void pool_free(void)
{
	while (npool > 0)
		free(pool[--npool]);
}

/*
 * One directory and one bridge per suite run, set up and torn down by the
 * suite's process: a failed test exits its forked process early, and the
 * teardown in the parent still reaps its machines and removes its bridge.
 */
static char suite_base[64], suite_bridge[16];

static int net_lock = -1;

static void suite_setup(void)
{
	/* Other checkouts of kiln run this suite too: one at a time on this address range. */
	if (net_lock < 0) {
		net_lock =
		    open("/tmp/kiln-test-net-10.213.1.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		ck_assert_int_ge(net_lock, 0);
		ck_assert_int_eq(flock(net_lock, LOCK_EX), 0);
	}
	snprintf(suite_base, sizeof(suite_base), "/tmp/kiln-lcrt-%d", (int)getpid());
	snprintf(suite_bridge, sizeof(suite_bridge), "ku%d", (int)getpid());
	ck_assert_int_eq(mkdir(suite_base, 0700), 0);
}

static void suite_teardown(void)
{
	char *pattern = kiln_xasprintf("%s/*/i-*", suite_base);
	struct lc_net net;
	glob_t g;

	if (glob(pattern, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			if (lc_machine_reap(g.gl_pathv[i]) < 0)
				fprintf(stderr, "%s\n", kiln_error_last());
		globfree(&g);
	}
	memset(&net, 0, sizeof(net));
	snprintf(net.bridge, sizeof(net.bridge), "%s", suite_bridge);
	if (lc_net_down(&net) < 0 || kiln_rm_rf(suite_base) < 0)
		fprintf(stderr, "%s\n", kiln_error_last());
	free(pattern);
}

static const char *tmpdir(void)
{
	char *tmpl = kiln_xasprintf("%s/t-XXXXXX", suite_base);
	const char *d = keep(tmpl);

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	return d;
}

static int run(const char *cmd)
{
	char *const argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
	struct kiln_buf out = KILN_BUF_INIT;
	int status = -1;

	ck_assert_int_eq(kiln_proc_run(&status, &out, NULL, argv), 0);
	kiln_buf_release(&out);
	return status;
}

static const char *slurp(const char *path)
{
	struct kiln_buf b = KILN_BUF_INIT;

	if (kiln_file_read(&b, path) < 0)
		kiln_error_clear();
	return keep(kiln_buf_detach(&b));
}

START_TEST(cidr_parses_and_refuses)
{
	static const struct {
		const char *cidr;
		uint32_t network;
		int prefix;
	} good[] = {{"172.31.0.0/16", 0xac1f0000, 16},
	            {"10.0.0.0/8", 0x0a000000, 8},
	            {"10.213.1.0/24", 0x0ad50100, 24},
	            {"192.168.0.64/26", 0xc0a80040, 26}};
	/* One rule for the cloud's --cidr and the runtime's bridges: /8 to /26, host bits zero. */
	static const char *const bad[] = {"",
	                                  "10.0.0.0",
	                                  "10.0.0.0/",
	                                  "10.0.0.0/7",
	                                  "10.0.0.0/27",
	                                  "10.0.0.0/31",
	                                  "10.0.0/24",
	                                  "x/24",
	                                  "10.0.0.0/24x",
	                                  "10.0.0.256/24",
	                                  "10.0.0.0/-1",
	                                  "10.213.1.7/24",
	                                  "172.31.0.0/+16",
	                                  "10.0.0.0/ 8",
	                                  "10.0.0.0/016x"};
	uint32_t net;
	int prefix;

	for (size_t i = 0; i < KILN_ARRAY_SIZE(good); i++) {
		ck_assert_int_eq(lc_cidr_parse(&net, &prefix, good[i].cidr), 0);
		ck_assert_uint_eq(net, good[i].network);
		ck_assert_int_eq(prefix, good[i].prefix);
	}
	for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++)
		ck_assert_msg(lc_cidr_parse(&net, &prefix, bad[i]) == KILN_EINVAL, "accepted '%s'",
		              bad[i]);
}
END_TEST

START_TEST(bridge_up_is_idempotent_and_never_forwards)
{
	struct lc_net net, again;
	char bridge[16], *addrs;
	const char *forward_before = slurp("/proc/sys/net/ipv4/ip_forward");
	struct kiln_buf out = KILN_BUF_INIT;
	int status;

	snprintf(bridge, sizeof(bridge), "%s", suite_bridge);
	ck_assert_int_eq(lc_net_up(&net, bridge, TEST_CIDR), 0);
	ck_assert_int_eq(lc_net_up(&again, bridge, TEST_CIDR), 0);
	ck_assert_str_eq(net.bridge, bridge);
	ck_assert_uint_eq(net.network, 0x0ad50100);
	ck_assert_uint_eq(net.gateway, 0x0ad50101);
	ck_assert_int_eq(net.prefix, 24);
	{
		char *const argv[] = {"ip", "-o", "-4", "addr", "show", "dev", bridge, NULL};
		ck_assert_int_eq(kiln_proc_run(&status, &out, NULL, argv), 0);
	}
	addrs = out.ptr;
	ck_assert_ptr_nonnull(strstr(addrs, "10.213.1.1/24"));
	/* Adopted, not duplicated: the gateway address appears once. */
	ck_assert_ptr_null(strstr(strstr(addrs, "10.213.1.1/24") + 1, "10.213.1.1/24"));
	kiln_buf_release(&out);
	ck_assert_int_eq(lc_net_down(&net), 0);
	ck_assert_int_ne(access(S("/sys/class/net/%s", bridge), F_OK), 0);
	{
		const char *forward_after = slurp("/proc/sys/net/ipv4/ip_forward");
		ck_assert_str_eq(forward_after, forward_before);
	}
	ck_assert_int_eq(lc_net_up(&net, bridge, "10.0.0.0/33"), KILN_EINVAL);
	ck_assert_int_eq(lc_net_up(&net, "bad name", TEST_CIDR), KILN_EINVAL);
	ck_assert_int_eq(lc_net_up(&net, "much-too-long-name", TEST_CIDR), KILN_EINVAL);
}
END_TEST

/* An overlay upper directory as the kernel leaves it, built by hand. */
static void make_upper(const char *upper)
{
	const char *p;

	ck_assert_int_eq(
	    run(S("set -e; cd %s; mkdir -p etc/ssh var/lib/kiln-init/instances/i-1 opaque "
	          "keep/sub; echo data > keep/file; chmod 0640 keep/file; "
	          "chown 1234:2345 keep/file; ln keep/file keep/hardlink; "
	          "ln -s ../keep/file keep/sub/link; echo secret > etc/ssh/ssh_host_ed25519_key; "
	          "echo conf > etc/ssh/sshd_config; echo x > opaque/new; "
	          "touch var/lib/kiln-init/instances/i-1/boot; chmod 4755 keep/sub; "
	          "mkfifo keep/fifo",
	          upper)),
	    0);
	p = S("%s/gone", upper);
	ck_assert_int_eq(mknod(p, S_IFCHR | 0, makedev(0, 0)), 0);
	p = S("%s/opaque", upper);
	ck_assert_int_eq(setxattr(p, "trusted.overlay.opaque", "y", 1, 0), 0);
	ck_assert_int_eq(setxattr(p, "trusted.overlay.origin", "zzzz", 4, 0), 0);
	ck_assert_int_eq(setxattr(p, "user.kept", "v", 1, 0), 0);
}

START_TEST(capture_keeps_whiteouts_opaque_dirs_and_metadata)
{
	const char *d = tmpdir(), *upper = S("%s/upper", d);
	const char *layer = S("%s/layers/cap", d), *p;
	char value[16];
	struct stat st, st2;

	ck_assert_int_eq(mkdir(upper, 0755), 0);
	make_upper(upper);
	ck_assert_int_eq(lc_layer_capture(layer, upper), 0);

	p = S("%s/gone", layer);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	p = S("%s/opaque", layer);
	ck_assert_int_eq(lgetxattr(p, "trusted.overlay.opaque", value, sizeof(value)), 1);
	ck_assert_int_eq(value[0], 'y');
	ck_assert_int_eq(lgetxattr(p, "user.kept", value, sizeof(value)), 1);
	/* origin points into the old lower layers: it must not travel. */
	ck_assert_int_lt(lgetxattr(p, "trusted.overlay.origin", value, sizeof(value)), 0);
	p = S("%s/keep/file", layer);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(st.st_uid, 1234);
	ck_assert_int_eq(st.st_gid, 2345);
	ck_assert_int_eq(st.st_nlink, 2);
	p = S("%s/keep/hardlink", layer);
	ck_assert_int_eq(lstat(p, &st2), 0);
	ck_assert(st.st_ino == st2.st_ino);
	p = S("%s/keep/sub", layer);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 04755);
	p = S("%s/keep/sub/link", layer);
	ck_assert_int_eq(readlink(p, value, sizeof(value)), 12);
	ck_assert(memcmp(value, "../keep/file", 12) == 0);
	p = S("%s/keep/fifo", layer);
	ck_assert(lstat(p, &st) == 0 && S_ISFIFO(st.st_mode));
	/* A builder's host keys and kiln-init's state stay out; configuration stays in. */
	ck_assert_int_ne(access(S("%s/etc/ssh/ssh_host_ed25519_key", layer), F_OK), 0);
	ck_assert_int_eq(access(S("%s/etc/ssh/sshd_config", layer), F_OK), 0);
	ck_assert_int_ne(access(S("%s/var/lib/kiln-init", layer), F_OK), 0);
	ck_assert_int_eq(access(S("%s/var/lib", layer), F_OK), 0);
	/* No temporary directory is left next to the layer, and a layer is never overwritten. */
	ck_assert_int_eq(run(S("test $(ls %s/layers | wc -l) = 1", d)), 0);
	ck_assert_int_eq(lc_layer_capture(layer, upper), KILN_EEXISTS);
	ck_assert_int_eq(kiln_rm_rf(d), 0);
}
END_TEST

START_TEST(import_copies_a_directory_exactly)
{
	const char *d = tmpdir(), *src = S("%s/src", d), *layer = S("%s/l", d);

	ck_assert_int_eq(mkdir(src, 0755), 0);
	make_upper(src);
	ck_assert_int_eq(lc_layer_import(layer, src), 0);
	/* An import keeps everything, host keys included: it is the user's root filesystem. */
	ck_assert_int_eq(run(S("cd %s && l() { (cd $1 && find . -printf '%%p %%y %%m %%U %%G %%n "
	                       "%%s %%l %%T@\\n' | sort && find . -type f -exec md5sum {} + | "
	                       "sort); } && test \"$(l src)\" = \"$(l l)\" && test -n \"$(l src)\"",
	                       d)),
	                 0);
	ck_assert_int_eq(lc_layer_import(S("%s/m", d), "/nonexistent/rootfs"), KILN_ENOTFOUND);
	ck_assert_int_eq(kiln_rm_rf(d), 0);
}
END_TEST

/* A tar archive with the given entries: name, type ('f' file, 'l' symlink to `target`). */
static void make_tar(const char *path, const char *const *names, const char *types,
                     const char *const *targets)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e;

	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_gzip(a);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; names[i] != NULL; i++) {
		e = archive_entry_new();
		archive_entry_set_pathname(e, names[i]);
		archive_entry_set_uid(e, 42);
		archive_entry_set_gid(e, 43);
		if (types[i] == 'd') {
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
		} else if (types[i] == 'l') {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, targets[i]);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0600);
			archive_entry_set_size(e, 3);
		}
		ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
		if (types[i] == 'f')
			ck_assert_int_eq(archive_write_data(a, "hi\n", 3), 3);
		archive_entry_free(e);
	}
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

START_TEST(import_extracts_archives_securely)
{
	static const char *const good[] = {"./etc", "./etc/hostname", "./bin", "./bin/sh", NULL};
	static const char *const good_t[] = {NULL, NULL, NULL, "busybox", NULL};
	static const char *const dotdot[] = {"etc", "etc/../../escaped", NULL};
	static const char *const absolute[] = {"/tmp/kiln-lcrt-absolute-escape", NULL};
	static const char *const through[] = {"evil", "evil/escaped", NULL};
	static const char *const through_t[] = {"/tmp", NULL};
	const char *d = tmpdir(), *tar = S("%s/x.tar.gz", d);
	struct stat st;

	make_tar(tar, good, "dfdl", good_t);
	ck_assert_int_eq(lc_layer_import(S("%s/good", d), tar), 0);
	ck_assert_int_eq(stat(S("%s/good/etc/hostname", d), &st), 0);
	ck_assert_int_eq(st.st_uid, 42);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(lstat(S("%s/good/bin/sh", d), &st), 0);
	ck_assert(S_ISLNK(st.st_mode));

	make_tar(tar, dotdot, "df", good_t);
	ck_assert_int_eq(lc_layer_import(S("%s/dotdot", d), tar), KILN_EINVAL);
	ck_assert_int_ne(access(S("%s/escaped", d), F_OK), 0);
	ck_assert_msg(strstr(kiln_error_last(), "cannot extract") != NULL, "%s", kiln_error_last());

	make_tar(tar, absolute, "f", good_t);
	ck_assert_int_eq(lc_layer_import(S("%s/abs", d), tar), KILN_EINVAL);
	ck_assert_int_ne(access("/tmp/kiln-lcrt-absolute-escape", F_OK), 0);

	make_tar(tar, through, "lf", through_t);
	ck_assert_int_eq(lc_layer_import(S("%s/through", d), tar), KILN_EINVAL);
	ck_assert_int_ne(access("/tmp/escaped", F_OK), 0);
	/* Failed imports leave no layer and no temporary directory. */
	ck_assert_int_eq(run(S("test \"$(ls %s)\" = \"$(printf 'good\\nx.tar.gz')\"", d)), 0);
	ck_assert_int_eq(kiln_rm_rf(d), 0);
}
END_TEST

START_TEST(debootstrap_refuses_a_bad_suite)
{
	const char *d = tmpdir();

	ck_assert_int_eq(lc_layer_debootstrap(S("%s/l", d), "../etc", d), KILN_EINVAL);
	ck_assert_int_eq(lc_layer_debootstrap(S("%s/l", d), "", d), KILN_EINVAL);
	ck_assert_int_eq(kiln_rm_rf(d), 0);
}
END_TEST

/*
 * A debootstrap stand-in: records its suite, takes half a second (so two
 * callers overlap), fails for suite "broken" after mounting a tmpfs inside
 * its target (as debootstrap mounts /proc), else leaves a tiny tree with the
 * files kiln must trim.
 */
static const char fake_debootstrap[] =
    "#!/bin/sh\n"
    "n=0\n"
    "for a in \"$@\"; do case \"$a\" in --*) ;; *) n=$((n+1)); eval \"p$n=\\$a\" ;; esac; done\n"
    "echo \"$p1\" >> \"$FAKE_DEBOOTSTRAP_LOG\"\n"
    "mkdir -p \"$p2/etc/ssh\" \"$p2/var/cache/apt/archives\" \"$p2/bin\" \"$p2/proc\"\n"
    "sleep 0.5\n"
    "if [ \"$p1\" = broken ]; then mount -t tmpfs none \"$p2/proc\"; "
    "echo \"E: Couldn't download packages: broken\"; exit 1; fi\n"
    "echo key > \"$p2/etc/ssh/ssh_host_rsa_key\"; echo conf > \"$p2/etc/ssh/sshd_config\"\n"
    "echo deb > \"$p2/var/cache/apt/archives/x.deb\"; echo sh > \"$p2/bin/sh\"\n";

START_TEST(debootstrap_builds_once_for_concurrent_callers)
{
	const char *d = tmpdir(), *bin = S("%s/bin", d), *cache = S("%s/cache", d);
	const char *log = S("%s/calls", d);
	struct stat a, b;
	pid_t kids[2];
	int st;

	ck_assert_int_eq(mkdir(bin, 0755), 0);
	ck_assert_int_eq(kiln_file_write_atomic(S("%s/debootstrap", bin), fake_debootstrap,
	                                        strlen(fake_debootstrap), 0755),
	                 0);
	setenv("PATH", S("%s:%s", bin, getenv("PATH")), 1);
	setenv("FAKE_DEBOOTSTRAP_LOG", log, 1);
	for (int i = 0; i < 2; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0)
			_exit(lc_layer_debootstrap(S("%s/layer%d", d, i), "testsuite", cache) == 0
			          ? 0
			          : 1);
	}
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	/* One build for both callers, trimmed, and layers of hard links to it. */
	ck_assert_str_eq(slurp(log), "testsuite\n");
	ck_assert_int_eq(stat(S("%s/localcloud/debian-testsuite-minbase/bin/sh", cache), &a), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(stat(S("%s/layer%d/bin/sh", d, i), &b), 0);
		ck_assert(a.st_ino == b.st_ino);
		ck_assert_int_eq(access(S("%s/layer%d/etc/ssh/sshd_config", d, i), F_OK), 0);
		ck_assert_int_ne(access(S("%s/layer%d/etc/ssh/ssh_host_rsa_key", d, i), F_OK), 0);
		ck_assert_int_ne(access(S("%s/layer%d/var/cache/apt/archives/x.deb", d, i), F_OK),
		                 0);
	}
	/* Cached: a third layer does not run debootstrap again. */
	ck_assert_int_eq(lc_layer_debootstrap(S("%s/layer2", d), "testsuite", cache), 0);
	ck_assert_str_eq(slurp(log), "testsuite\n");

	/* A failed build says why, and leaves no mount and no half-built tree. */
	ck_assert_int_eq(lc_layer_debootstrap(S("%s/layer3", d), "broken", cache), KILN_ERROR);
	ck_assert_msg(strstr(kiln_error_last(), "Couldn't download packages: broken") != NULL, "%s",
	              kiln_error_last());
	ck_assert_ptr_null(strstr(slurp("/proc/mounts"), d));
	ck_assert_int_ne(access(S("%s/localcloud/debian-broken-minbase.tmp", cache), F_OK), 0);
	ck_assert_int_ne(access(S("%s/localcloud/debian-broken-minbase", cache), F_OK), 0);
	ck_assert_int_ne(access(S("%s/layer3", d), F_OK), 0);
	ck_assert_int_eq(kiln_rm_rf(d), 0);
}
END_TEST

/* A root filesystem with the host's busybox and the libraries it needs. */
static const char *busybox_layer(const char *d)
{
	const char *layer = S("%s/busybox", d);

	ck_assert_int_eq(
	    run(S(
	        "set -e; r=%s; mkdir -p $r/bin $r/etc $r/root $r/proc $r/sys $r/dev $r/run $r/tmp; "
	        "cp /usr/bin/busybox $r/bin/; for l in $(ldd /usr/bin/busybox | grep -o '/[^ ]*'); "
	        "do mkdir -p $r$(dirname $l); cp -L $l $r$l; done; "
	        "for c in sh cat echo sleep hostname mount kill poweroff halt reboot ls; do "
	        "ln -s busybox $r/bin/$c; done; echo 'root:x:0:0:root:/root:/bin/sh' > "
	        "$r/etc/passwd",
	        layer)),
	    0);
	return layer;
}

struct box {
	const char *d, *layer, *dir;
	char bridge[16];
	struct lc_net net;
	struct lc_machine *m;
};

static void box_start(struct box *b, const char *user_data)
{
	const char *layers[1];
	struct lc_machine_spec spec;

	memset(&spec, 0, sizeof(spec));
	layers[0] = b->layer;
	spec.id = "i-0123456789abcdef0";
	spec.dir = b->dir;
	spec.layers = layers;
	spec.nlayers = 1;
	spec.net = &b->net;
	spec.ip = b->net.network + 7;
	spec.hostname = "ip-10-213-1-7";
	spec.login_user = "root";
	spec.authorized_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheTest test@kiln";
	spec.user_data = user_data;
	spec.user_data_len = user_data ? strlen(user_data) : 0;
	ck_assert_msg(lc_machine_start(&b->m, &spec) == 0, "%s", kiln_error_last());
}

static void box_setup(struct box *b)
{
	memset(b, 0, sizeof(*b));
	b->d = tmpdir();
	b->layer = busybox_layer(b->d);
	b->dir = S("%s/i-1", b->d);
	snprintf(b->bridge, sizeof(b->bridge), "%s", suite_bridge);
	ck_assert_int_eq(lc_net_up(&b->net, b->bridge, TEST_CIDR), 0);
}

/* Wait for `needle` on the console, up to 10 s. */
static int console_has(struct box *b, const char *needle)
{
	for (int i = 0; i < 500; i++) {
		const char *c = slurp(b->m->console);
		int found = strstr(c, needle) != NULL;
		if (found)
			return 1;
		kiln_sleep(0.02, NULL);
	}
	return 0;
}

/* Nothing of the machine is left: no process, no veth, no mount of its directory. */
static void assert_clean(struct box *b, pid_t pid)
{
	const char *mounts = slurp("/proc/mounts");

	ck_assert_ptr_null(strstr(mounts, b->d));
	ck_assert_int_ne(kill(pid, 0), 0);
	ck_assert_int_eq(run(S("ip -o link show master %s | grep -q .", b->bridge)), 1);
	ck_assert_int_ne(access(S("%s/init.pid", b->dir), F_OK), 0);
}

/* Zombie children of `parent`, from the host's /proc. */
static int zombies_of(pid_t parent)
{
	glob_t g;
	int n = 0;

	if (glob("/proc/[0-9]*/stat", 0, NULL, &g) != 0)
		return 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct kiln_buf st = KILN_BUF_INIT;
		const char *p;
		int ppid = 0;
		char state = 0;
		if (kiln_file_read(&st, g.gl_pathv[i]) == 0 && (p = strrchr(st.ptr, ')')) != NULL &&
		    sscanf(p + 2, "%c %d", &state, &ppid) == 2 && state == 'Z' && ppid == parent)
			n++;
		kiln_error_clear();
		kiln_buf_release(&st);
	}
	globfree(&g);
	return n;
}

static void box_teardown(struct box *b)
{
	lc_machine_free(b->m);
	ck_assert_int_eq(lc_net_down(&b->net), 0);
	ck_assert_int_eq(kiln_rm_rf(b->d), 0);
}

START_TEST(machine_boots_runs_user_data_once_and_stops_clean)
{
	/* The subshell's child is orphaned to init, which must reap it. */
	static const char ud[] = "#!/bin/sh\necho ran >> /root/ud-count\necho user data says hi\n"
	                         "(sleep 0.1 &)\n";
	struct box b;
	const char *count, *console;
	pid_t pid;

	box_setup(&b);
	box_start(&b, ud);
	pid = b.m->pid;
	ck_assert(console_has(&b, "user data exited with 0"));
	console = slurp(b.m->console);
	ck_assert_ptr_nonnull(strstr(console, "user data says hi"));
	ck_assert_ptr_nonnull(strstr(console, "no /usr/sbin/sshd in the image"));
	ck_assert_ptr_nonnull(strstr(console, "no /usr/bin/ssh-keygen in the image"));
	/* From the host: the instance answers on its address through the bridge. */
	ck_assert_int_eq(run("busybox ping -c 1 -W 2 10.213.1.7 >/dev/null"), 0);
	/* Its namespaces: its own hostname, its own PID 1. */
	ck_assert_int_eq(run(S("test \"$(nsenter -t %d -u hostname)\" = ip-10-213-1-7", (int)pid)),
	                 0);
	kiln_sleep(0.3, NULL);
	ck_assert_int_eq(zombies_of(pid), 0);
	ck_assert_int_eq(lc_machine_exited(b.m, NULL), 0);
	ck_assert_int_eq(lc_machine_stop(b.m, 5), 0);
	ck_assert_int_eq(b.m->status, 0);
	assert_clean(&b, pid);
	count = slurp(S("%s/upper/root/ud-count", b.dir));
	ck_assert_str_eq(count, "ran\n");
	ck_assert_str_eq(slurp(S("%s/upper/root/.ssh/authorized_keys", b.dir)),
	                 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheTest test@kiln\n");

	/* Second boot: the upper directory is kept and the user data does not run again. */
	lc_machine_free(b.m);
	box_start(&b, ud);
	ck_assert(console_has(&b, "is up in"));
	ck_assert_int_eq(lc_machine_stop(b.m, 5), 0);
	count = slurp(S("%s/upper/root/ud-count", b.dir));
	ck_assert_str_eq(count, "ran\n");
	ck_assert_str_eq(slurp(S("%s/upper/root/.ssh/authorized_keys", b.dir)),
	                 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheTest test@kiln\n");
	box_teardown(&b);
}
END_TEST

/* Every way to power off from inside ends init, and the host sees it. */
START_TEST(machine_power_off_from_inside_is_detected)
{
	static const char *const ways[] = {"poweroff", "halt", "kill 1", "reboot", "poweroff -f"};
	struct box b;
	int status = -1;

	box_setup(&b);
	for (size_t i = 0; i < KILN_ARRAY_SIZE(ways); i++) {
		const char *ud = S("#!/bin/sh\nsleep 0.2\n%s\n", ways[i]);
		pid_t pid;
		kiln_rm_rf(b.dir);
		box_start(&b, ud);
		pid = b.m->pid;
		for (int t = 0; t < 500 && !lc_machine_exited(b.m, &status); t++)
			kiln_sleep(0.02, NULL);
		ck_assert_msg(lc_machine_exited(b.m, &status) == 1, "'%s' did not power off",
		              ways[i]);
		ck_assert_int_eq(lc_machine_stop(b.m, 5), 0);
		assert_clean(&b, pid);
		lc_machine_free(b.m);
		b.m = NULL;
	}
	box_teardown(&b);
}
END_TEST

START_TEST(machine_reap_cleans_up_after_a_crash)
{
	struct box b;
	pid_t pid;

	box_setup(&b);
	box_start(&b, NULL);
	pid = b.m->pid;
	ck_assert(console_has(&b, "is up in"));
	/* The daemon "crashed": only the directory is left to go on. */
	ck_assert_int_eq(lc_machine_reap(b.dir), 0);
	assert_clean(&b, pid);
	/* Reaping twice, or a directory that never ran a machine, is fine. */
	ck_assert_int_eq(lc_machine_reap(b.dir), 0);
	ck_assert_int_eq(lc_machine_reap(S("%s/never", b.d)), 0);
	b.m->reaped = 1;
	box_teardown(&b);
}
END_TEST

START_TEST(machine_refuses_bad_layers)
{
	struct box b;
	const char *layers[] = {"relative/layer"};
	struct lc_machine_spec spec;

	box_setup(&b);
	memset(&spec, 0, sizeof(spec));
	spec.id = "i-1";
	spec.dir = b.dir;
	spec.layers = layers;
	spec.nlayers = 1;
	spec.net = &b.net;
	spec.ip = b.net.network + 7;
	ck_assert_int_eq(lc_machine_start(&b.m, &spec), KILN_EINVAL);
	layers[0] = "/a:b";
	ck_assert_int_eq(lc_machine_start(&b.m, &spec), KILN_EINVAL);
	layers[0] = b.layer;
	spec.ip = b.net.gateway;
	ck_assert_int_eq(lc_machine_start(&b.m, &spec), KILN_EINVAL);
	ck_assert_ptr_null(b.m);
	ck_assert_int_eq(run(S("ip -o link show master %s | grep -q .", b.bridge)), 1);
	box_teardown(&b);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("localcloud_runtime");
	TCase *net = tcase_create("net"), *layer = tcase_create("layer");
	TCase *machine = tcase_create("machine");

	tcase_add_test(net, cidr_parses_and_refuses);
	tcase_add_test(net, bridge_up_is_idempotent_and_never_forwards);
	tcase_add_test(layer, capture_keeps_whiteouts_opaque_dirs_and_metadata);
	tcase_add_test(layer, import_copies_a_directory_exactly);
	tcase_add_test(layer, import_extracts_archives_securely);
	tcase_add_test(layer, debootstrap_refuses_a_bad_suite);
	tcase_add_test(layer, debootstrap_builds_once_for_concurrent_callers);
	tcase_set_timeout(machine, 120);
	tcase_add_test(machine, machine_boots_runs_user_data_once_and_stops_clean);
	tcase_add_test(machine, machine_power_off_from_inside_is_detected);
	tcase_add_test(machine, machine_reap_cleans_up_after_a_crash);
	tcase_add_test(machine, machine_refuses_bad_layers);
	tcase_add_unchecked_fixture(net, suite_setup, suite_teardown);
	tcase_add_unchecked_fixture(layer, suite_setup, suite_teardown);
	tcase_add_unchecked_fixture(machine, suite_setup, suite_teardown);
	tcase_add_checked_fixture(net, NULL, pool_free);
	tcase_add_checked_fixture(layer, NULL, pool_free);
	tcase_add_checked_fixture(machine, NULL, pool_free);
	suite_add_tcase(s, net);
	suite_add_tcase(s, layer);
	suite_add_tcase(s, machine);
	return s;
}

#include "check_main.h"
