/*
 * The local cloud's bridge keeps one MAC address whatever ports come and
 * go (localcloud/net.c). A bridge left to itself takes the lowest MAC of
 * its ports: removing an instance's veth could change it, and every other
 * instance then sent this host's (and the load balancers') packets to an
 * address nobody had until its neighbour entry expired. Root only (skips
 * otherwise); on 10.214.20.0/24, under that range's lock.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/proc.h"
#include "core/util.h"
#include "localcloud/net-int.h"
#include "localcloud/runtime-int.h"

#define TEST_CIDR "10.214.20.0/24"

static char bridge[16], port[16], peer[16];
static int net_lock = -1;

/* "ip" with the words of `args` (the test's own: no quoting needed). */
static void ip(const char *args)
{
	char *copy = kiln_xstrdup(args), *argv[16], *save = NULL;
	int n = 0, status = -1;

	argv[n++] = "ip";
	for (char *w = strtok_r(copy, " ", &save); w && n < 15; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	ck_assert_int_eq(kiln_proc_run(&status, NULL, NULL, argv), 0);
	ck_assert_msg(status == 0, "ip %s: exit %d", args, status);
	free(copy);
}

static char *mac_of(const char *dev)
{
	struct kiln_buf b = KILN_BUF_INIT;
	char *path = kiln_xasprintf("/sys/class/net/%s/address", dev);

	ck_assert_int_eq(kiln_file_read(&b, path), 0);
	kiln_buf_rtrim(&b);
	free(path);
	return kiln_buf_detach(&b);
}

static void suite_setup(void)
{
	if (geteuid() != 0)
		return;
	net_lock = open("/tmp/kiln-test-net-10.214.20.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(net_lock, 0);
	ck_assert_int_eq(flock(net_lock, LOCK_EX), 0);
	snprintf(bridge, sizeof(bridge), "ksg%d", (int)getpid());
	snprintf(port, sizeof(port), "ksp%d", (int)getpid());
	snprintf(peer, sizeof(peer), "ksq%d", (int)getpid());
}

/* In the parent: whatever a failed test left goes. */
static void suite_teardown(void)
{
	struct lc_net net;

	if (geteuid() != 0)
		return;
	lc_net_link_del(port);
	memset(&net, 0, sizeof(net));
	snprintf(net.bridge, sizeof(net.bridge), "%s", bridge);
	if (lc_net_down(&net) < 0)
		fprintf(stderr, "%s\n", kiln_error_last());
	close(net_lock);
}

START_TEST(bridge_mac_stays_when_ports_come_and_go)
{
	struct lc_net net, again;
	char *before, *now, *cmd;

	if (geteuid() != 0)
		return;
	ck_assert_msg(lc_net_up(&net, bridge, TEST_CIDR) == 0, "%s", kiln_error_last());
	before = mac_of(bridge);
	/* a port with a MAC lower than any a bridge would pick joins, then leaves */
	cmd = kiln_xasprintf("link add %s address 00:00:00:00:00:01 type veth peer name %s", port,
	                     peer);
	ip(cmd);
	free(cmd);
	cmd = kiln_xasprintf("link set %s master %s up", port, bridge);
	ip(cmd);
	free(cmd);
	now = mac_of(bridge);
	ck_assert_str_eq(now, before);
	free(now);
	ck_assert_int_eq(lc_net_link_del(port), 0);
	now = mac_of(bridge);
	ck_assert_str_eq(now, before);
	free(now);
	/* adopted by a daemon started again: the same address */
	ck_assert_int_eq(lc_net_up(&again, bridge, TEST_CIDR), 0);
	now = mac_of(bridge);
	ck_assert_str_eq(now, before);
	free(now);
	/* locally administered and unicast: 02:... */
	ck_assert_msg(strncmp(before, "02:", 3) == 0, "%s", before);
	free(before);
	ck_assert_int_eq(lc_net_down(&net), 0);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("localcloud_bridge");
	TCase *t = tcase_create("bridge");
	tcase_add_unchecked_fixture(t, suite_setup, suite_teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, bridge_mac_stays_when_ports_come_and_go);
	suite_add_tcase(s, t);
	return s;
}

#include "check_main.h"
