/*
 * ssh/: keys, console fingerprints, and sessions against a real OpenSSH
 * server started by the suite on a loopback port (tests/fixtures/ssh_server.h).
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/shell.h"
#include "ssh/session-int.h"
#include "core/common.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include "core/proc.h"
#include "ssh/hostkey.h"
#include "ssh/key.h"
#include "ssh/session.h"
#include "tests/fixtures/ssh_server.h"

static struct ssh_server srv;
static int srv_ok;

static void server_setup(void)
{
	srv_ok = ssh_server_start(&srv, NULL) == 0;
}

static void server_teardown(void)
{
	ssh_server_stop(&srv);
}

/* ---- console fingerprints ---------------------------------------------- */

#define FP_A "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
#define FP_B "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
#define FP_C "SHA256:9B0ozVnW4ujr+oWs5ipHXpVdY+LUaW/dbBe6pfrw4wM"

START_TEST(fingerprints_plain_block)
{
	struct kiln_ssh_fingerprints fps = KILN_SSH_FINGERPRINTS_INIT;
	const char *console = "[    0.000000] Linux version 6.1.0\r\n"
	                      "-----BEGIN SSH HOST KEY FINGERPRINTS-----\r\n"
	                      "256 " FP_A " root@builder (ECDSA)\r\n"
	                      "256 " FP_B " root@builder (ED25519)\n"
	                      "3072 " FP_C " root@builder (RSA)\n"
	                      "-----END SSH HOST KEY FINGERPRINTS-----\n"
	                      "builder login:";

	ck_assert_int_eq(kiln_ssh_fingerprints_parse(&fps, console), 0);
	ck_assert_uint_eq(fps.count, 3);
	ck_assert_str_eq(fps.items[0].sha256, FP_A);
	ck_assert_str_eq(fps.items[0].type, "ECDSA");
	ck_assert_str_eq(fps.items[1].sha256, FP_B);
	ck_assert_str_eq(fps.items[1].type, "ED25519");
	ck_assert_int_eq(fps.items[2].bits, 3072);
	ck_assert_str_eq(fps.items[2].type, "RSA");
	ck_assert(kiln_ssh_fingerprints_contains(&fps, FP_B));
	ck_assert(!kiln_ssh_fingerprints_contains(&fps, "SHA256:nope"));
	kiln_ssh_fingerprints_release(&fps);
}
END_TEST

START_TEST(fingerprints_cloud_init_ec2)
{
	struct kiln_ssh_fingerprints fps = KILN_SSH_FINGERPRINTS_INIT;
	const char *console =
	    "ci-info: no authorized SSH keys fingerprints found for user debian.\n"
	    "<14>Nov 23 06:00:01 ec2: \n"
	    "<14>Nov 23 06:00:01 ec2: #############################################\n"
	    "<14>Nov 23 06:00:01 ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----\n"
	    "<14>Nov 23 06:00:01 ec2: 256 " FP_A " root@ip-10-0-0-5 (ECDSA)\n"
	    "[   12.5] audit: type=1400 apparmor=\"STATUS\"\n"
	    "<14>Nov 23 06:00:01 ec2: 256 " FP_B " root@ip-10-0-0-5 (ED25519)\n"
	    "<14>Nov 23 06:00:01 ec2: -----END SSH HOST KEY FINGERPRINTS-----\n"
	    "ec2: 256 " FP_C " outside the block (ED25519)\n";

	ck_assert_int_eq(kiln_ssh_fingerprints_parse(&fps, console), 0);
	ck_assert_uint_eq(fps.count, 2);
	ck_assert_str_eq(fps.items[0].sha256, FP_A);
	ck_assert_str_eq(fps.items[1].sha256, FP_B);
	ck_assert_str_eq(fps.items[1].type, "ED25519");
	ck_assert(!kiln_ssh_fingerprints_contains(&fps, FP_C));
	kiln_ssh_fingerprints_release(&fps);

	/* The simplest ec2 form, without a syslog prefix. */
	ck_assert_int_eq(
	    kiln_ssh_fingerprints_parse(&fps, "ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----\n"
	                                      "ec2: 256 " FP_C " (ED25519)\n"
	                                      "ec2: -----END SSH HOST KEY FINGERPRINTS-----\n"),
	    0);
	ck_assert_uint_eq(fps.count, 1);
	ck_assert_str_eq(fps.items[0].sha256, FP_C);
	kiln_ssh_fingerprints_release(&fps);
}
END_TEST

START_TEST(fingerprints_last_block_wins)
{
	struct kiln_ssh_fingerprints fps = KILN_SSH_FINGERPRINTS_INIT;
	const char *console = "-----BEGIN SSH HOST KEY FINGERPRINTS-----\n"
	                      "256 " FP_A " first boot (ED25519)\n"
	                      "-----END SSH HOST KEY FINGERPRINTS-----\n"
	                      "-----BEGIN SSH HOST KEY FINGERPRINTS-----\n"
	                      "256 " FP_B " second boot (ED25519)\n"
	                      "-----END SSH HOST KEY FINGERPRINTS-----\n"
	                      "-----BEGIN SSH HOST KEY FINGERPRINTS-----\n"
	                      "256 " FP_C " cut short (ED25519)\n";

	ck_assert_int_eq(kiln_ssh_fingerprints_parse(&fps, console), 0);
	ck_assert_uint_eq(fps.count, 1);
	ck_assert_str_eq(fps.items[0].sha256, FP_B);
	kiln_ssh_fingerprints_release(&fps);
}
END_TEST

static const char *bad_consoles[] = {
    "",
    "no block here at all\n",
    /* no end marker */
    "-----BEGIN SSH HOST KEY FINGERPRINTS-----\n256 " FP_A " x (ED25519)\n",
    /* an end without a beginning */
    "256 " FP_A " x (ED25519)\n-----END SSH HOST KEY FINGERPRINTS-----\n",
    /* garbage only: truncated hash, no bits, bad characters, md5 */
    "-----BEGIN SSH HOST KEY FINGERPRINTS-----\n"
    "256 SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF (ED25519)\n"
    "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU no bits\n"
    "256 SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu!U (ED25519)\n"
    "256 SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUU (ED25519)\n"
    "256 MD5:3f:1a:aa:00:11:22:33:44:55:66:77:88:99:aa:bb:cc (ED25519)\n"
    "x256 " FP_A " glued (ED25519)\n"
    "\x01\x02\xff garbage\n"
    "-----END SSH HOST KEY FINGERPRINTS-----\n",
};

START_TEST(fingerprints_missing_or_garbage)
{
	struct kiln_ssh_fingerprints fps = KILN_SSH_FINGERPRINTS_INIT;

	ck_assert_int_eq(kiln_ssh_fingerprints_parse(&fps, bad_consoles[_i]), KILN_ENOTFOUND);
	ck_assert_uint_eq(fps.count, 0);
	ck_assert_ptr_null(fps.items);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "fingerprint"));
}
END_TEST

START_TEST(hostkey_policy)
{
	struct kiln_ssh_fingerprints fps = KILN_SSH_FINGERPRINTS_INIT;
	char logname[] = "/tmp/kiln-ssh-log-XXXXXX";
	struct kiln_buf log = KILN_BUF_INIT;
	int fd = mkstemp(logname);
	FILE *fp = fdopen(fd, "w");

	kiln_log_set_stream(fp, 0);
	ck_assert_int_eq(
	    kiln_ssh_hostkey_check(&fps, KILN_SSH_HOSTKEY_STRICT, "h:22", FP_A, "ssh-ed25519"),
	    KILN_EAUTH);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), FP_A));
	ck_assert_int_eq(
	    kiln_ssh_hostkey_check(NULL, KILN_SSH_HOSTKEY_ACCEPT_NEW, "h:22", FP_A, "ssh-ed25519"),
	    0);
	fflush(fp);
	ck_assert_int_eq(kiln_file_read(&log, logname), 0);
	ck_assert_ptr_nonnull(strstr(log.ptr, "accepting the unverified"));
	ck_assert_ptr_nonnull(strstr(log.ptr, FP_A));

	/* accept-new never overrides known fingerprints that do not match. */
	ck_assert_int_eq(kiln_ssh_fingerprints_add(&fps, FP_B, "ED25519"), 0);
	ck_assert_int_eq(kiln_ssh_fingerprints_add(&fps, "SHA256:short", NULL), KILN_EINVAL);
	ck_assert_int_eq(
	    kiln_ssh_hostkey_check(&fps, KILN_SSH_HOSTKEY_ACCEPT_NEW, "h:22", FP_A, "ssh-ed25519"),
	    KILN_EAUTH);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "offered " FP_A));
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "expected " FP_B " (ED25519)"));
	ck_assert_int_eq(
	    kiln_ssh_hostkey_check(&fps, KILN_SSH_HOSTKEY_STRICT, "h:22", FP_B, "ssh-ed25519"), 0);
	kiln_ssh_fingerprints_release(&fps);
	kiln_buf_release(&log);
	fclose(fp);
	unlink(logname);
}
END_TEST

/* ---- keys and quoting ---------------------------------------------------- */

START_TEST(keygen_matches_ssh_keygen)
{
	struct kiln_ssh_key *key = NULL;
	struct kiln_buf out = KILN_BUF_INIT;
	char dir[] = "/tmp/kiln-key-XXXXXX";
	char *path, *pubpath, *argv_y[] = {"ssh-keygen", "-y", "-f", NULL, NULL};
	char *argv_l[] = {"ssh-keygen", "-l", "-E", "sha256", "-f", NULL, NULL};
	struct stat sb;
	int status;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(kiln_ssh_keygen_ed25519(&key, "kiln-run-1"), 0);
	ck_assert(strncmp(key->public_line, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 37) == 0);
	ck_assert(strstr(key->public_line, " kiln-run-1") != NULL);
	ck_assert_ptr_nonnull(strstr(key->private_pem, "-----BEGIN OPENSSH PRIVATE KEY-----\n"));

	path = kiln_xasprintf("%s/id", dir);
	ck_assert_int_eq(kiln_ssh_key_write_private(key, path), 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	/* Never over an existing file (or through a planted symlink). */
	ck_assert_int_lt(kiln_ssh_key_write_private(key, path), 0);

	/* OpenSSH derives the same public key from our private key file. */
	argv_y[3] = path;
	ck_assert_int_eq(kiln_proc_run(&status, &out, NULL, argv_y), 0);
	ck_assert_int_eq(status, 0);
	kiln_buf_rtrim(&out);
	ck_assert(strncmp(out.ptr, key->public_line, strlen("ssh-ed25519 ") + 68) == 0);

	pubpath = kiln_xasprintf("%s/id.pub", dir);
	ck_assert_int_eq(
	    kiln_file_write_atomic(pubpath, key->public_line, strlen(key->public_line), 0644), 0);
	kiln_buf_clear(&out);
	argv_l[5] = pubpath;
	ck_assert_int_eq(kiln_proc_run(&status, &out, NULL, argv_l), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_ptr_nonnull(strstr(out.ptr, key->fingerprint));

	kiln_ssh_key_free(key);
	kiln_ssh_key_free(NULL);
	kiln_buf_release(&out);
	kiln_rm_rf(dir);
	free(path);
	free(pubpath);
}
END_TEST

START_TEST(shell_quote_table)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", "''"},
	    {"plain", "'plain'"},
	    {"it's", "'it'\\''s'"},
	    {"$HOME `id` $(id) \\ \" *", "'$HOME `id` $(id) \\ \" *'"},
	    {"a\nb", "'a\nb'"},
	    {"''", "''\\'''\\'''"},
	};
	struct kiln_buf b = KILN_BUF_INIT;
	size_t i;

	for (i = 0; i < KILN_ARRAY_SIZE(cases); i++) {
		kiln_buf_clear(&b);
		ck_assert_int_eq(kiln_sh_quote(&b, cases[i].in), 0);
		ck_assert_str_eq(b.ptr, cases[i].out);
	}
	kiln_buf_release(&b);
}
END_TEST

/* ---- sessions against the private sshd ----------------------------------- */

static struct kiln_ssh_connect_opts base_opts(const struct kiln_ssh_fingerprints *fps)
{
	struct kiln_ssh_connect_opts o;

	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.port = srv.port;
	o.user = "root";
	o.key = srv.client_key;
	o.fingerprints = fps;
	o.wait_timeout = 5;
	o.io_timeout = 5;
	return o;
}

static struct kiln_ssh_session *connect_ok(void)
{
	struct kiln_ssh_fingerprints fps = KILN_SSH_FINGERPRINTS_INIT;
	struct kiln_ssh_connect_opts o = base_opts(&fps);
	struct kiln_ssh_session *s = NULL;
	char *console;

	ck_assert_msg(srv_ok, "sshd did not start");
	console = ssh_server_console(&srv);
	ck_assert_int_eq(kiln_ssh_fingerprints_parse(&fps, console), 0);
	ck_assert_msg(kiln_ssh_connect(&s, &o) == 0, "%s", kiln_error_last());
	kiln_ssh_fingerprints_release(&fps);
	free(console);
	return s;
}

START_TEST(connect_verified_host_key)
{
	struct kiln_ssh_session *s = connect_ok();
	struct kiln_buf out = KILN_BUF_INIT;
	char *path = kiln_xasprintf("%s/host_ed25519", srv.dir);
	char *argv[] = {"ssh-keygen", "-l", "-E", "sha256", "-f", path, NULL};
	int status;

	ck_assert_str_eq(kiln_ssh_session_fingerprint(s), srv.host_key->fingerprint);
	ck_assert_str_eq(kiln_ssh_session_hostkey_type(s), "ssh-ed25519");
	/* And that is what OpenSSH itself says of the server's key file. */
	ck_assert_int_eq(kiln_proc_run(&status, &out, NULL, argv), 0);
	ck_assert_ptr_nonnull(strstr(out.ptr, kiln_ssh_session_fingerprint(s)));
	kiln_ssh_session_free(s);
	kiln_ssh_session_free(NULL);
	kiln_buf_release(&out);
	free(path);
}
END_TEST

START_TEST(connect_host_key_mismatch_refused)
{
	struct kiln_ssh_fingerprints fps = KILN_SSH_FINGERPRINTS_INIT;
	struct kiln_ssh_connect_opts o = base_opts(&fps);
	struct kiln_ssh_session *s = NULL;
	struct kiln_buf log = KILN_BUF_INIT;
	size_t before;
	int i;

	ck_assert(srv_ok);
	ck_assert_int_eq(kiln_file_read(&log, srv.log_path), 0);
	before = log.size;
	kiln_buf_clear(&log);
	ck_assert_int_eq(kiln_ssh_fingerprints_add(&fps, FP_A, "ED25519"), 0);
	for (i = 0; i < 2; i++) {
		o.hostkey_policy = i ? KILN_SSH_HOSTKEY_ACCEPT_NEW : KILN_SSH_HOSTKEY_STRICT;
		ck_assert_int_eq(kiln_ssh_connect(&s, &o), KILN_EAUTH);
		ck_assert_ptr_null(s);
		ck_assert_ptr_nonnull(strstr(kiln_error_last(), "host key mismatch"));
		ck_assert_ptr_nonnull(strstr(kiln_error_last(), srv.host_key->fingerprint));
		ck_assert_ptr_nonnull(strstr(kiln_error_last(), FP_A));
	}
	/* Refused before authenticating: the server never saw our key. */
	kiln_sleep(0.2, NULL);
	ck_assert_int_eq(kiln_file_read(&log, srv.log_path), 0);
	ck_assert_uint_ge(log.size, before);
	ck_assert_ptr_null(strstr(log.ptr + before, srv.client_key->fingerprint));
	kiln_ssh_fingerprints_release(&fps);
	kiln_buf_release(&log);
}
END_TEST

START_TEST(connect_without_fingerprints)
{
	struct kiln_ssh_connect_opts o = base_opts(NULL);
	struct kiln_ssh_session *s = NULL;
	char logname[] = "/tmp/kiln-ssh-log-XXXXXX";
	struct kiln_buf log = KILN_BUF_INIT;
	FILE *fp = fdopen(mkstemp(logname), "w");

	ck_assert(srv_ok);
	kiln_log_set_stream(fp, 0);
	ck_assert_int_eq(kiln_ssh_connect(&s, &o), KILN_EAUTH);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "no fingerprints"));
	o.hostkey_policy = KILN_SSH_HOSTKEY_ACCEPT_NEW;
	ck_assert_msg(kiln_ssh_connect(&s, &o) == 0, "%s", kiln_error_last());
	fflush(fp);
	ck_assert_int_eq(kiln_file_read(&log, logname), 0);
	ck_assert_ptr_nonnull(strstr(log.ptr, srv.host_key->fingerprint));
	kiln_ssh_session_free(s);
	kiln_buf_release(&log);
	fclose(fp);
	unlink(logname);
}
END_TEST

START_TEST(connect_wrong_key_refused)
{
	struct kiln_ssh_fingerprints fps = KILN_SSH_FINGERPRINTS_INIT;
	struct kiln_ssh_connect_opts o = base_opts(&fps);
	struct kiln_ssh_session *s = NULL;
	struct kiln_ssh_key *other = NULL;

	ck_assert(srv_ok);
	ck_assert_int_eq(kiln_ssh_fingerprints_add(&fps, srv.host_key->fingerprint, NULL), 0);
	ck_assert_int_eq(kiln_ssh_keygen_ed25519(&other, "stranger"), 0);
	o.key = other;
	ck_assert_int_eq(kiln_ssh_connect(&s, &o), KILN_EAUTH);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "cannot log in as 'root'"));
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), other->fingerprint));
	ck_assert_ptr_null(strstr(kiln_error_last(), "PRIVATE"));
	kiln_ssh_key_free(other);
	kiln_ssh_fingerprints_release(&fps);
}
END_TEST

/* Output collected by the tests' line callback. */
struct lines {
	struct kiln_buf out, err;
	int nout, nerr;
	size_t longest;
};

static void collect(void *payload, enum kiln_ssh_stream stream, const char *line, size_t len)
{
	struct lines *l = payload;
	struct kiln_buf *b = stream == KILN_SSH_STDOUT ? &l->out : &l->err;

	kiln_buf_put(b, line, len);
	kiln_buf_putc(b, '|');
	if (stream == KILN_SSH_STDOUT)
		l->nout++;
	else
		l->nerr++;
	if (len > l->longest)
		l->longest = len;
}

static void lines_release(struct lines *l)
{
	kiln_buf_release(&l->out);
	kiln_buf_release(&l->err);
}

START_TEST(exec_exit_status)
{
	struct kiln_ssh_session *s = connect_ok();
	int status;

	ck_assert_int_eq(kiln_ssh_exec(&status, s, "true", NULL), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(kiln_ssh_exec(&status, s, "exit 3", NULL), 0);
	ck_assert_int_eq(status, 3);
	ck_assert_int_eq(kiln_ssh_exec(&status, s, "no-such-command-kiln", NULL), 0);
	ck_assert_int_eq(status, 127);
	ck_assert_int_eq(kiln_ssh_exec(&status, s, "kill -KILL $$", NULL), 0);
	ck_assert_int_eq(status, 128 + SIGKILL);
	kiln_ssh_session_free(s);
}
END_TEST

START_TEST(exec_streams_lines)
{
	struct kiln_ssh_session *s = connect_ok();
	struct kiln_ssh_exec_opts eo;
	struct lines l = {KILN_BUF_INIT, KILN_BUF_INIT, 0, 0, 0};
	struct kiln_buf tail = KILN_BUF_INIT;
	int status;

	memset(&eo, 0, sizeof(eo));
	eo.on_line = collect;
	eo.payload = &l;
	eo.tail = &tail;
	ck_assert_int_eq(kiln_ssh_exec(&status, s,
	                               "printf 'one\\ntwo\\r\\n'; echo oops >&2; sleep 0.2; "
	                               "printf 'par'; sleep 0.2; printf 'tial\\n\\nlast'; "
	                               "printf 'no newline' >&2; exit 4",
	                               &eo),
	                 0);
	ck_assert_int_eq(status, 4);
	ck_assert_str_eq(l.out.ptr, "one|two|partial||last|");
	ck_assert_str_eq(l.err.ptr, "oops|no newline|");
	ck_assert_ptr_nonnull(strstr(tail.ptr, "partial\n"));
	lines_release(&l);
	memset(&l, 0, sizeof(l));
	l.out = (struct kiln_buf)KILN_BUF_INIT;
	l.err = (struct kiln_buf)KILN_BUF_INIT;

	/* A 200 000-byte line arrives whole, in pieces of at most 64 KiB. */
	ck_assert_int_eq(
	    kiln_ssh_exec(&status, s, "head -c 200000 /dev/zero | tr '\\0' x; echo", &eo), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_uint_eq(l.out.size, 200000 + (size_t)l.nout);
	ck_assert_int_eq(l.nout, 4);
	ck_assert_uint_eq(l.longest, 64 * 1024);
	lines_release(&l);
	memset(&l, 0, sizeof(l));
	l.out = (struct kiln_buf)KILN_BUF_INIT;
	l.err = (struct kiln_buf)KILN_BUF_INIT;

	/* Many lines on both streams; the tail keeps the last 20. */
	ck_assert_int_eq(kiln_ssh_exec(&status, s,
	                               "i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo out$i; "
	                               "echo err$i >&2; done",
	                               &eo),
	                 0);
	ck_assert_int_eq(l.nout, 3000);
	ck_assert_int_eq(l.nerr, 3000);
	/* stdout and stderr are separate pipes: their order is not kept. */
	{
		const char *p;
		int n = 1;

		for (p = tail.ptr; *p != '\0'; p++)
			n += *p == '\n';
		ck_assert_int_eq(n, 20);
		ck_assert(strstr(tail.ptr, "out3000") != NULL ||
		          strstr(tail.ptr, "err3000") != NULL);
	}
	ck_assert_int_eq(kiln_ssh_exec(&status, s, "seq 1 30", &eo), 0);
	ck_assert_str_eq(
	    tail.ptr,
	    "11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n21\n22\n23\n24\n25\n26\n27\n28\n29\n30");
	lines_release(&l);
	kiln_buf_release(&tail);
	kiln_ssh_session_free(s);
}
END_TEST

START_TEST(exec_time_limit_kills_remote)
{
	struct kiln_ssh_session *s = connect_ok();
	struct kiln_ssh_exec_opts eo;
	struct kiln_buf pid = KILN_BUF_INIT;
	char *cmd, *pidfile = kiln_xasprintf("%s/sleeper.pid", srv.dir), *proc;
	double t0;
	int status, i, gone = 0;

	memset(&eo, 0, sizeof(eo));
	eo.timeout = 1;
	cmd = kiln_xasprintf("echo $$ > %s; exec sleep 60", pidfile);
	t0 = kiln_time_mono();
	ck_assert_int_eq(kiln_ssh_exec(&status, s, cmd, &eo), KILN_ETIMEOUT);
	ck_assert_double_lt(kiln_time_mono() - t0, 4.0);
	ck_assert_double_ge(kiln_time_mono() - t0, 1.0);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "timed out after 1 s"));

	/* The server is this machine: the remote sleep must go away soon. */
	ck_assert_int_eq(kiln_file_read(&pid, pidfile), 0);
	kiln_buf_rtrim(&pid);
	proc = kiln_xasprintf("/proc/%s", pid.ptr);
	for (i = 0; i < 50 && !gone; i++) {
		gone = access(proc, F_OK) != 0;
		if (!gone)
			kiln_sleep(0.1, NULL);
	}
	ck_assert_msg(gone, "remote command %s still running", pid.ptr);

	/* The session is still good for the next command. */
	eo.timeout = 5;
	ck_assert_int_eq(kiln_ssh_exec(&status, s, "exit 7", &eo), 0);
	ck_assert_int_eq(status, 7);
	kiln_ssh_session_free(s);
	kiln_buf_release(&pid);
	free(cmd);
	free(pidfile);
	free(proc);
}
END_TEST

static void sha256_of(char out[65], const void *data, size_t len)
{
	kiln_sha256_hex(out, data, len);
}

START_TEST(exec_env_quoting)
{
	static const char *values[] = {
	    "plain",
	    "$HOME and ${PATH}",
	    "it's 'quoted'",
	    "line1\nline2\n",
	    "`id` $(id)",
	    "back\\slash",
	    "",
	    " lead and trail ",
	    "*",
	    "-n",
	};
	struct kiln_ssh_session *s = connect_ok();
	struct kiln_ssh_exec_opts eo;
	struct kiln_ssh_env env[2];
	struct lines l = {KILN_BUF_INIT, KILN_BUF_INIT, 0, 0, 0};
	char want[65];
	size_t i;
	int status;

	memset(&eo, 0, sizeof(eo));
	eo.on_line = collect;
	eo.payload = &l;
	eo.env = env;
	eo.nenv = 2;
	for (i = 0; i < KILN_ARRAY_SIZE(values); i++) {
		env[0] = (struct kiln_ssh_env){"KILN_V", values[i], 0};
		env[1] = (struct kiln_ssh_env){"OTHER_1", "x'y", 0};
		kiln_buf_clear(&l.out);
		ck_assert_int_eq(kiln_ssh_exec(&status, s,
		                               "printf '%s' \"$KILN_V\" | sha256sum | cut -c1-64; "
		                               "[ \"$OTHER_1\" = \"x'y\" ]",
		                               &eo),
		                 0);
		ck_assert_int_eq(status, 0);
		sha256_of(want, values[i], strlen(values[i]));
		ck_assert_uint_eq(l.out.size, 65);
		ck_assert_msg(strncmp(l.out.ptr, want, 64) == 0, "value %zu", i);
	}
	env[0] = (struct kiln_ssh_env){"BAD-NAME", "x", 0};
	ck_assert_int_eq(kiln_ssh_exec(&status, s, "true", &eo), KILN_EINVAL);
	env[0] = (struct kiln_ssh_env){"1X", "x", 0};
	ck_assert_int_eq(kiln_ssh_exec(&status, s, "true", &eo), KILN_EINVAL);
	lines_release(&l);
	kiln_ssh_session_free(s);
}
END_TEST

START_TEST(exec_secret_never_logged)
{
	static const char secret[] = "s3cr3t-Value-9f8e7d";
	struct kiln_ssh_session *s;
	struct kiln_ssh_exec_opts eo;
	struct kiln_ssh_env env[2] = {{"API_TOKEN", secret, 1}, {"PUBLIC_X", "visible-v", 0}};
	struct kiln_buf log = KILN_BUF_INIT, tail = KILN_BUF_INIT;
	char logname[] = "/tmp/kiln-ssh-log-XXXXXX";
	FILE *fp = fdopen(mkstemp(logname), "w");
	int status;

	setenv("KILN_TRACE", "ssh", 1);
	kiln_log_setup(2, 0, KILN_COLOR_NEVER);
	kiln_log_set_stream(fp, 0);
	s = connect_ok();
	memset(&eo, 0, sizeof(eo));
	eo.env = env;
	eo.nenv = 2;
	eo.label = "app";
	eo.tail = &tail;
	ck_assert_int_eq(kiln_ssh_exec(&status, s,
	                               "echo \"token=$API_TOKEN\"; echo \"$API_TOKEN\" >&2; "
	                               "echo \"$PUBLIC_X\"",
	                               &eo),
	                 0);
	ck_assert_int_eq(status, 0);
	fflush(fp);
	ck_assert_int_eq(kiln_file_read(&log, logname), 0);
	/* The command line, the variables and the output are all there... */
	ck_assert_ptr_nonnull(strstr(log.ptr, "API_TOKEN=***"));
	ck_assert_ptr_nonnull(strstr(log.ptr, "PUBLIC_X=visible-v"));
	ck_assert_ptr_nonnull(strstr(log.ptr, "[app] token=***"));
	ck_assert_ptr_nonnull(strstr(log.ptr, "[app] visible-v"));
	/* ...but never the secret itself. */
	ck_assert_ptr_null(strstr(log.ptr, secret));
	ck_assert_ptr_null(strstr(log.ptr, "s3cr3t"));
	kiln_ssh_session_free(s);
	kiln_buf_release(&log);
	kiln_buf_release(&tail);
	fclose(fp);
	unlink(logname);
}
END_TEST

struct progress {
	uint64_t last, total;
	int calls, backwards;
};

static void on_progress(void *payload, uint64_t sent, uint64_t total)
{
	struct progress *p = payload;

	if (sent < p->last)
		p->backwards = 1;
	p->last = sent;
	p->total = total;
	p->calls++;
}

/* A file of `size` pseudo-random bytes; its sha256 in `hex`. */
static char *make_file(const char *dir, size_t size, char hex[65])
{
	char *path = kiln_xasprintf("%s/upload.bin", dir);
	unsigned char *data = kiln_xmalloc(size);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i;

	for (i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (unsigned char)(x >> 24);
	}
	ck_assert_int_eq(kiln_file_write_atomic(path, data, size, 0644), 0);
	kiln_sha256_hex(hex, data, size);
	free(data);
	return path;
}

START_TEST(upload_checksum_verified_remotely)
{
	struct kiln_ssh_session *s = connect_ok();
	struct kiln_ssh_exec_opts eo;
	struct lines l = {KILN_BUF_INIT, KILN_BUF_INIT, 0, 0, 0};
	char hex[65], *path = make_file(srv.dir, 50 << 20, hex);
	char *cmd =
	    kiln_xasprintf("mkdir -p %s/stage && tee %s/stage/copy | sha256sum", srv.dir, srv.dir);
	struct stat sb;
	int status;

	memset(&eo, 0, sizeof(eo));
	eo.on_line = collect;
	eo.payload = &l;
	eo.timeout = 60;
	ck_assert_int_eq(kiln_ssh_upload(&status, s, path, cmd, &eo), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_msg(strncmp(l.out.ptr, hex, 64) == 0, "remote %s, local %s", l.out.ptr, hex);
	free(cmd);
	cmd = kiln_xasprintf("%s/stage/copy", srv.dir);
	ck_assert_int_eq(stat(cmd, &sb), 0);
	ck_assert_int_eq(sb.st_size, 50 << 20);
	lines_release(&l);
	kiln_ssh_session_free(s);
	free(path);
	free(cmd);
}
END_TEST

static void progress_only(void *payload, enum kiln_ssh_stream stream, const char *line, size_t len)
{
}

/*
 * Big uploads go through ssh(1) when it is installed, small ones through
 * libssh2 (KILN_SSH_TRANSPORT forces either): both give the same bytes.
 */
START_TEST(upload_both_transports_same_bytes)
{
	struct kiln_ssh_session *s = connect_ok();
	struct kiln_ssh_exec_opts eo;
	char hex[65], *path = make_file(srv.dir, 4 << 20, hex);

	ck_assert(kiln_ssh__openssh_usable(s));
	for (int pass = 0; pass < 2; pass++) {
		struct lines l = {KILN_BUF_INIT, KILN_BUF_INIT, 0, 0, 0};
		int status = -1;
		setenv("KILN_SSH_TRANSPORT", pass == 0 ? "openssh" : "libssh2", 1);
		ck_assert_int_eq(kiln_ssh__openssh_usable(s), pass == 0);
		memset(&eo, 0, sizeof(eo));
		eo.on_line = collect;
		eo.payload = &l;
		eo.timeout = 60;
		ck_assert_int_eq(
		    kiln_ssh_upload(&status, s, path, "sha256sum; echo to-stderr >&2", &eo), 0);
		ck_assert_int_eq(status, 0);
		ck_assert_msg(strncmp(l.out.ptr, hex, 64) == 0, "pass %d: remote %s, local %s",
		              pass, l.out.ptr, hex);
		ck_assert_ptr_nonnull(strstr(l.err.ptr, "to-stderr"));
		lines_release(&l);
	}
	unsetenv("KILN_SSH_TRANSPORT");
	kiln_ssh_session_free(s);
	free(path);
}
END_TEST

/* ssh(1) trusts only the host key the session verified: another key is refused. */
START_TEST(upload_openssh_pinned_to_verified_host_key)
{
	struct kiln_ssh_session *s = connect_ok();
	struct kiln_ssh_exec_opts eo;
	struct kiln_ssh_key *other = NULL;
	char hex[65], *path = make_file(srv.dir, 1 << 20, hex), *sp;
	int status = -1;

	ck_assert_int_eq(kiln_ssh_keygen_ed25519(&other, "impostor"), 0);
	/* "ssh-ed25519 AAAA... impostor": the blob of a key the server does not hold */
	sp = strchr(other->public_line, ' ');
	free(s->hostkey_b64);
	s->hostkey_b64 = kiln_xstrndup(sp + 1, strcspn(sp + 1, " "));
	s->hostkey_type = "ssh-ed25519";
	memset(&eo, 0, sizeof(eo));
	eo.timeout = 30;
	setenv("KILN_SSH_TRANSPORT", "openssh", 1);
	ck_assert_int_eq(kiln_ssh_upload(&status, s, path, "cat > /dev/null", &eo), KILN_ERROR);
	ck_assert_msg(strstr(kiln_error_last(), "failed") != NULL, "%s", kiln_error_last());
	ck_assert_ptr_null(strstr(kiln_error_last(), "PRIVATE KEY"));
	/*
	 * Left to choose, a file under 64 MiB goes through the session already
	 * open (no second handshake, so the bogus pin is never consulted).
	 */
	unsetenv("KILN_SSH_TRANSPORT");
	ck_assert_msg(kiln_ssh_upload(&status, s, path, "cat > /dev/null", &eo) == 0, "%s",
	              kiln_error_last());
	ck_assert_int_eq(status, 0);
	kiln_ssh_key_free(other);
	kiln_ssh_session_free(s);
	free(path);
}
END_TEST

START_TEST(upload_progress_and_early_exit)
{
	struct kiln_ssh_session *s = connect_ok();
	struct kiln_ssh_exec_opts eo;
	struct progress p = {0, 0, 0, 0};
	char hex[65], *path = make_file(srv.dir, 8 << 20, hex);
	int status;

	memset(&eo, 0, sizeof(eo));
	eo.on_line = progress_only;
	eo.on_progress = on_progress;
	eo.payload = &p;
	ck_assert_int_eq(kiln_ssh_upload(&status, s, path, "cat > /dev/null", &eo), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_uint_eq(p.last, 8 << 20);
	ck_assert_uint_eq(p.total, 8 << 20);
	ck_assert_int_eq(p.backwards, 0);
	ck_assert_int_ge(p.calls, 1);

	/* A command that stops reading and fails: its status comes back. */
	ck_assert_int_eq(kiln_ssh_upload(&status, s, path, "head -c 100 >/dev/null; exit 9", &eo),
	                 0);
	ck_assert_int_eq(status, 9);
	/* One that stops reading and succeeds: the upload did not happen. */
	ck_assert_int_eq(kiln_ssh_upload(&status, s, path, "head -c 100 >/dev/null", &eo),
	                 KILN_ERROR);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "exited before reading its input"));
	ck_assert_int_lt(kiln_ssh_upload(&status, s, "/nonexistent/file", "cat", &eo), 0);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "cannot open '/nonexistent/file'"));
	ck_assert_int_eq(kiln_ssh_exec(&status, s, "echo still here", &eo), 0);
	ck_assert_int_eq(status, 0);
	kiln_ssh_session_free(s);
	free(path);
}
END_TEST

/*
 * What a remote command prints reaches the log and error excerpts escaped,
 * through either transport: terminal control sequences never come out raw,
 * and a NUL no longer cuts the rest of its line. Lines are cut the same way
 * by both (one splitter, pieces of 64 KiB).
 */
START_TEST(output_is_escaped_on_both_transports)
{
	struct kiln_ssh_session *s = connect_ok();
	struct kiln_ssh_exec_opts eo;
	struct kiln_buf log = KILN_BUF_INIT, tail = KILN_BUF_INIT;
	char logname[] = "/tmp/kiln-ssh-esc-XXXXXX";
	FILE *fp = fdopen(mkstemp(logname), "w");
	char hex[65], *path = make_file(srv.dir, 1 << 16, hex);
	const char *cmd = "cat >/dev/null; printf '\\033]0;pwned\\007 title\\n'; "
	                  "printf 'before\\000after\\n' >&2; printf '\\033[2Jcleared'; exit 3";

	kiln_log_setup(1, 0, KILN_COLOR_NEVER);
	kiln_log_set_stream(fp, 0);
	for (int pass = 0; pass < 2; pass++) {
		int status = -1;

		memset(&eo, 0, sizeof(eo));
		eo.label = pass == 0 ? "ssh1" : "lib";
		eo.tail = &tail;
		eo.timeout = 30;
		setenv("KILN_SSH_TRANSPORT", pass == 0 ? "openssh" : "libssh2", 1);
		ck_assert_int_eq(kiln_ssh_upload(&status, s, path, cmd, &eo), 0);
		ck_assert_int_eq(status, 3);
		ck_assert_ptr_nonnull(strstr(tail.ptr, "\\x1b]0;pwned\\x07 title"));
		ck_assert_ptr_nonnull(strstr(tail.ptr, "before\\x00after"));
		ck_assert_ptr_nonnull(strstr(tail.ptr, "\\x1b[2Jcleared"));
		ck_assert_ptr_null(strchr(tail.ptr, '\033'));
	}
	unsetenv("KILN_SSH_TRANSPORT");
	fflush(fp);
	ck_assert_int_eq(kiln_file_read(&log, logname), 0);
	ck_assert_msg(strstr(log.ptr, "[ssh1] \\x1b]0;pwned\\x07 title\n") != NULL, "%s", log.ptr);
	ck_assert_msg(strstr(log.ptr, "[lib] before\\x00after\n") != NULL, "%s", log.ptr);
	ck_assert_msg(strstr(log.ptr, "[ssh1] before\\x00after\n") != NULL, "%s", log.ptr);
	ck_assert_ptr_nonnull(strstr(log.ptr, "[lib] \\x1b[2Jcleared\n"));
	ck_assert_ptr_null(strchr(log.ptr, '\033'));
	ck_assert_ptr_null(strchr(log.ptr, '\a'));

	/* A long line comes in the same pieces through ssh(1) as through libssh2. */
	for (int pass = 0; pass < 2; pass++) {
		struct lines l = {KILN_BUF_INIT, KILN_BUF_INIT, 0, 0, 0};
		int status = -1;

		memset(&eo, 0, sizeof(eo));
		eo.on_line = collect;
		eo.payload = &l;
		eo.timeout = 30;
		setenv("KILN_SSH_TRANSPORT", pass == 0 ? "openssh" : "libssh2", 1);
		ck_assert_int_eq(kiln_ssh_upload(&status, s, path,
		                                 "cat >/dev/null; head -c 100000 /dev/zero | "
		                                 "tr '\\0' x; echo",
		                                 &eo),
		                 0);
		ck_assert_int_eq(l.nout, 2);
		ck_assert_uint_eq(l.longest, 64 * 1024);
		lines_release(&l);
	}
	unsetenv("KILN_SSH_TRANSPORT");
	kiln_log_set_stream(NULL, -1);
	kiln_log_setup(0, 0, KILN_COLOR_NEVER);
	fclose(fp);
	unlink(logname);
	kiln_buf_release(&log);
	kiln_buf_release(&tail);
	kiln_ssh_session_free(s);
	free(path);
}
END_TEST

/*
 * A command that takes sshd down with it (a provisioner that restarts or kills
 * sshd): the error says the connection was lost, not libssh2's words.
 */
START_TEST(lost_connection_is_named)
{
	struct kiln_ssh_session *s = connect_ok();
	struct kiln_ssh_exec_opts eo;
	struct kiln_buf tail = KILN_BUF_INIT;
	int status = -1;

	memset(&eo, 0, sizeof(eo));
	eo.tail = &tail;
	/* Without a time limit (no timeout(1) in between), the command's parent is
	 * the session's own sshd process. */
	ck_assert_int_eq(kiln_ssh_exec(&status, s,
	                               "echo stopping sshd; sleep 0.2; kill -KILL $PPID; sleep 5",
	                               &eo),
	                 KILN_ERROR);
	ck_assert_msg(strstr(kiln_error_last(), "the SSH connection to '127.0.0.1:") != NULL, "%s",
	              kiln_error_last());
	ck_assert_msg(strstr(kiln_error_last(), "was lost") != NULL, "%s", kiln_error_last());
	ck_assert(kiln_ssh_session_lost(s));
	ck_assert_str_eq(tail.ptr, "stopping sshd");
	/* The session is not used again: later calls fail at once, saying why. */
	ck_assert_int_eq(kiln_ssh_exec(&status, s, "true", &eo), KILN_ERROR);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "was lost"));
	kiln_buf_release(&tail);
	kiln_ssh_session_free(s);
}
END_TEST

/* ---- no server ------------------------------------------------------------ */

START_TEST(wait_nothing_listening_times_out)
{
	int port = ssh_free_port();
	double t0 = kiln_time_mono(), dt;

	ck_assert_int_eq(kiln_ssh_wait("127.0.0.1", port, 1.5, 1), KILN_ETIMEOUT);
	dt = kiln_time_mono() - t0;
	ck_assert_double_ge(dt, 1.0);
	ck_assert_double_lt(dt, 3.0);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "no SSH on '127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "refused"));
}
END_TEST

START_TEST(wait_silent_listener_times_out)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	double t0 = kiln_time_mono(), dt;

	/* Accepted by the kernel's backlog, but nothing is ever said. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	ck_assert_int_eq(kiln_ssh_wait("127.0.0.1", ntohs(sin.sin_port), 1.5, 0.5), KILN_ETIMEOUT);
	dt = kiln_time_mono() - t0;
	ck_assert_double_lt(dt, 3.0);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "no SSH banner"));
	close(fd);
}
END_TEST

START_TEST(connect_refused_at_once)
{
	struct kiln_ssh_connect_opts o;
	struct kiln_ssh_session *s = NULL;
	struct kiln_ssh_key *key = NULL;
	double t0 = kiln_time_mono();

	ck_assert_int_eq(kiln_ssh_keygen_ed25519(&key, ""), 0);
	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.port = ssh_free_port();
	o.user = "root";
	o.key = key;
	ck_assert_int_eq(kiln_ssh_connect(&s, &o), KILN_ERROR);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "Connection refused"));
	ck_assert_double_lt(kiln_time_mono() - t0, 1.0);
	kiln_ssh_key_free(key);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("ssh");
	TCase *tc = tcase_create("offline"), *live = tcase_create("sshd");

	tcase_add_test(tc, fingerprints_plain_block);
	tcase_add_test(tc, fingerprints_cloud_init_ec2);
	tcase_add_test(tc, fingerprints_last_block_wins);
	tcase_add_loop_test(tc, fingerprints_missing_or_garbage, 0,
	                    (int)KILN_ARRAY_SIZE(bad_consoles));
	tcase_add_test(tc, hostkey_policy);
	tcase_add_test(tc, keygen_matches_ssh_keygen);
	tcase_add_test(tc, shell_quote_table);
	tcase_add_test(tc, wait_nothing_listening_times_out);
	tcase_add_test(tc, wait_silent_listener_times_out);
	tcase_add_test(tc, connect_refused_at_once);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(live, server_setup, server_teardown);
	tcase_add_test(live, connect_verified_host_key);
	tcase_add_test(live, connect_host_key_mismatch_refused);
	tcase_add_test(live, connect_without_fingerprints);
	tcase_add_test(live, connect_wrong_key_refused);
	tcase_add_test(live, exec_exit_status);
	tcase_add_test(live, exec_streams_lines);
	tcase_add_test(live, exec_time_limit_kills_remote);
	tcase_add_test(live, exec_env_quoting);
	tcase_add_test(live, exec_secret_never_logged);
	tcase_add_test(live, upload_checksum_verified_remotely);
	tcase_add_test(live, upload_progress_and_early_exit);
	tcase_add_test(live, upload_both_transports_same_bytes);
	tcase_add_test(live, upload_openssh_pinned_to_verified_host_key);
	tcase_add_test(live, output_is_escaped_on_both_transports);
	tcase_add_test(live, lost_connection_is_named);
	tcase_set_timeout(live, 120);
	suite_add_tcase(s, live);
	return s;
}

#include "check_main.h"
