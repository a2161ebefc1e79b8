#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln.h"
#include "ssh/session.h"

/* A private sshd on loopback, started once for the suite and stopped by pid. */
static char dir[] = "/tmp/kiln-sshd-XXXXXX";
static struct kiln_proc sshd = KILN_PROC_INIT;
static int port;
static char *client_key, *host_fp;

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &len);
	p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

static void keygen(const char *path)
{
	char *argv[] = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (char *)path, NULL};
	int status = -1;

	ck_assert_int_eq(kiln_proc_run(&status, NULL, NULL, argv), 0);
	ck_assert_int_eq(status, 0);
}

static char *fingerprint_of(const char *pubpath)
{
	struct kiln_buf pub = KILN_BUF_INIT;
	const char *b;
	size_t n;
	unsigned char blob[512];
	char fp[52];
	int len;

	ck_assert_int_eq(kiln_file_read(&pub, pubpath), 0);
	b = strchr(pub.ptr, ' ') + 1;
	n = strcspn(b, " \n");
	len = EVP_DecodeBlock(blob, (const unsigned char *)b, (int)n);
	len -= (b[n - 1] == '=') + (b[n - 2] == '=');
	kiln_fingerprint_of_blob(fp, blob, (size_t)len);
	kiln_buf_release(&pub);
	return kiln_xstrdup(fp);
}

static void start_sshd(void)
{
	struct kiln_buf cfg = KILN_BUF_INIT;
	char *hostkey, *cfgpath, *authkeys, *pub;
	struct kiln_buf text = KILN_BUF_INIT;
	char *argv[] = {"/usr/sbin/sshd", "-D", "-e", "-f", NULL, NULL};
	struct kiln_proc_opts opts = {
	    .in = KILN_PROC_NULL, .out = KILN_PROC_NULL, .err = KILN_PROC_NULL};

	if (access("/usr/sbin/sshd", X_OK) != 0)
		return;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	hostkey = kiln_xasprintf("%s/host", dir);
	client_key = kiln_xasprintf("%s/client", dir);
	keygen(hostkey);
	keygen(client_key);
	pub = kiln_xasprintf("%s.pub", hostkey);
	host_fp = fingerprint_of(pub);
	free(pub);
	pub = kiln_xasprintf("%s.pub", client_key);
	authkeys = kiln_xasprintf("%s/authorized_keys", dir);
	ck_assert_int_eq(kiln_file_read(&text, pub), 0);
	ck_assert_int_eq(kiln_file_write_atomic(authkeys, text.ptr, text.size, 0600), 0);
	port = free_port();
	kiln_buf_printf(
	    &cfg,
	    "Port %d\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\n"
	    "PermitRootLogin yes\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
	    "PidFile %s/sshd.pid\n",
	    port, hostkey, authkeys, dir);
	cfgpath = kiln_xasprintf("%s/sshd_config", dir);
	ck_assert_int_eq(kiln_file_write_atomic(cfgpath, cfg.ptr, cfg.size, 0600), 0);
	mkdir("/run/sshd", 0755);
	argv[4] = cfgpath;
	ck_assert_int_eq(kiln_proc_start(&sshd, argv, &opts), 0);
	ck_assert_int_eq(kiln_ssh_wait_banner("127.0.0.1", port, 10, NULL), 0);
	free(hostkey);
	free(cfgpath);
	free(authkeys);
	free(pub);
	kiln_buf_release(&cfg);
	kiln_buf_release(&text);
}

static void stop_sshd(void)
{
	int status;

	if (sshd.pid > 0) {
		kiln_proc_kill(&sshd, SIGTERM);
		kiln_proc_finish(&sshd, &status);
	}
	kiln_rm_rf(dir);
	free(client_key);
	free(host_fp);
}

static struct kiln_ssh *connect_with(const char *fp, enum kiln_hostkey_policy policy, int *error)
{
	char *items[1] = {(char *)fp};
	struct kiln_fingerprints fps = {items, fp ? 1 : 0};
	struct kiln_ssh_opts o = {.host = "127.0.0.1",
	                          .port = port,
	                          .user = "root",
	                          .private_key = client_key,
	                          .expected = &fps,
	                          .policy = policy,
	                          .timeout = 10};
	struct kiln_ssh *s = NULL;

	*error = kiln_ssh_connect(&s, &o);
	return s;
}

#define NEED_SSHD()                                                                                \
	do {                                                                                       \
		/* scripts/setup installs openssh-server: its absence is a failure. */             \
		if (sshd.pid <= 0)                                                                 \
			ck_abort_msg("/usr/sbin/sshd is not installed; run scripts/setup");        \
	} while (0)

struct lines {
	struct kiln_buf out, err;
	int count;
};

static void collect(void *arg, int is_err, const char *line)
{
	struct lines *l = arg;

	kiln_buf_printf(is_err ? &l->err : &l->out, "%s|", line);
	l->count++;
}

START_TEST(matching_key_connects_and_runs)
{
	struct lines l = {KILN_BUF_INIT, KILN_BUF_INIT, 0};
	struct kiln_ssh *s;
	int error, status = -1;

	NEED_SSHD();
	s = connect_with(host_fp, KILN_HOSTKEY_STRICT, &error);
	ck_assert_msg(error == 0, "%s", kiln_error_last());
	ck_assert_str_eq(kiln_ssh_fingerprint(s), host_fp);
	ck_assert_int_eq(kiln_ssh_exec(&status, s,
	                               "echo one; echo two >&2; printf 'partial'; exit 3", collect,
	                               &l, 10),
	                 0);
	ck_assert_int_eq(status, 3);
	ck_assert_str_eq(l.out.ptr, "one|partial|");
	ck_assert_str_eq(l.err.ptr, "two|");
	/* A second command on the same session. */
	kiln_buf_clear(&l.out);
	ck_assert_int_eq(kiln_ssh_exec(&status, s, "seq 1 2000", collect, &l, 10), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_uint_eq(l.out.size, strlen("1|") * 9 + strlen("10|") * 90 + strlen("100|") * 900 +
	                                  strlen("1000|") * 1001);
	kiln_ssh_close(s);
	kiln_buf_release(&l.out);
	kiln_buf_release(&l.err);
}
END_TEST

START_TEST(mismatched_key_is_refused_before_auth)
{
	struct kiln_ssh *s;
	int error;

	NEED_SSHD();
	s = connect_with("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", KILN_HOSTKEY_STRICT,
	                 &error);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(error, KILN_EAUTH);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), host_fp));
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "matches none"));
	s = connect_with(NULL, KILN_HOSTKEY_STRICT, &error);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(error, KILN_EAUTH);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "no console fingerprints"));
}
END_TEST

START_TEST(accept_new_connects_with_a_warning)
{
	struct kiln_ssh *s;
	int error, status = -1;

	NEED_SSHD();
	s = connect_with(NULL, KILN_HOSTKEY_ACCEPT_NEW, &error);
	ck_assert_msg(error == 0, "%s", kiln_error_last());
	ck_assert_int_eq(kiln_ssh_exec(&status, s, "true", NULL, NULL, 10), 0);
	ck_assert_int_eq(status, 0);
	kiln_ssh_close(s);
}
END_TEST

START_TEST(time_limit_stops_a_command)
{
	struct kiln_ssh *s;
	int error, status = -1;
	double t0;

	NEED_SSHD();
	s = connect_with(host_fp, KILN_HOSTKEY_STRICT, &error);
	ck_assert_int_eq(error, 0);
	t0 = kiln_time_mono();
	ck_assert_int_eq(kiln_ssh_exec(&status, s, "sleep 30", NULL, NULL, 1), KILN_ETIMEOUT);
	ck_assert(kiln_time_mono() - t0 < 5);
	kiln_ssh_close(s);
}
END_TEST

START_TEST(nothing_listening_times_out_cleanly)
{
	double t0 = kiln_time_mono();

	ck_assert_int_eq(kiln_ssh_wait_banner("127.0.0.1", free_port(), 1, NULL), KILN_ETIMEOUT);
	ck_assert(kiln_time_mono() - t0 < 3);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "no SSH banner"));
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("ssh_session");
	TCase *tc = tcase_create("session");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, start_sshd, stop_sshd);
	tcase_add_test(tc, matching_key_connects_and_runs);
	tcase_add_test(tc, mismatched_key_is_refused_before_auth);
	tcase_add_test(tc, accept_new_connects_with_a_warning);
	tcase_add_test(tc, time_limit_stops_a_command);
	tcase_add_test(tc, nothing_listening_times_out_cleanly);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
