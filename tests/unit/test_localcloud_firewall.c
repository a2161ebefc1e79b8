/*
 * Security groups as nftables tables (localcloud/firewall.c, nft.c): the
 * rendering from groups to a script, with what API clients can put in the
 * state at its most hostile; the sync, over a cloud whose machines are
 * stand-ins recording what they are given; and, as root, the scripts run by
 * nftables itself in a network namespace of the test's own.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/util.h"
#include "localcloud/cloud-int.h"
#include "localcloud/cloud.h"
#include "localcloud/ec2-int.h"
#include "localcloud/firewall-int.h"

int nft_run(int netns_fd, const char *script, struct kiln_buf *out, uint32_t *gen);

/* ---- rendering ---------------------------------------------------------- */

static char *render(const char *groups_json, const char *members_json)
{
	json_error_t e;
	json_t *groups = json_loads(groups_json, 0, &e);
	json_t *members = json_loads(members_json ? members_json : "{}", 0, &e);
	struct kiln_buf out = KILN_BUF_INIT;

	ck_assert_msg(groups != NULL && members != NULL, "bad test JSON: %s", e.text);
	lc_fw_ruleset(&out, groups, members);
	json_decref(groups);
	json_decref(members);
	return kiln_buf_detach(&out);
}

/* The rule lines of a script: those after the fixed head of the chain. */
static int rule_lines(const char *script)
{
	const char *p = strstr(script, "nd-neighbor-advert } accept\n");
	int n = 0;

	ck_assert_ptr_nonnull(p);
	for (p = strchr(p, '\n') + 1; *p && strncmp(p, "\t}", 2) != 0; p = strchr(p, '\n') + 1)
		n++;
	return n;
}

#define ONE_RULE(rule) "[{\"id\": \"sg-1\", \"rules\": [" rule "]}]"

static const struct {
	const char *rule, *want;
} rendered[] = {
    {"{\"id\": \"sgr-1\", \"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"cidr\": \"10.0.0.0/8\"}",
     "\t\tip saddr 10.0.0.0/8 tcp dport 22 accept comment \"sg-1 sgr-1\"\n"},
    {"{\"proto\": \"tcp\", \"from\": 1000, \"to\": 2000, \"cidr\": \"192.168.1.7/32\"}",
     "\t\tip saddr 192.168.1.7/32 tcp dport 1000-2000 accept\n"},
    {"{\"proto\": \"6\", \"from\": 0, \"to\": 65535, \"cidr\": \"0.0.0.0/0\"}",
     "\t\tmeta nfproto ipv4 meta l4proto tcp accept\n"},
    {"{\"proto\": \"udp\", \"from\": 53, \"to\": 53, \"cidr\": \"10.9.8.7/16\"}",
     "\t\tip saddr 10.9.0.0/16 udp dport 53 accept\n"},
    {"{\"proto\": \"icmp\", \"from\": 8, \"to\": -1, \"cidr\": \"0.0.0.0/0\"}",
     "\t\tmeta nfproto ipv4 icmp type 8 accept\n"},
    {"{\"proto\": \"icmp\", \"from\": 3, \"to\": 4, \"cidr\": \"0.0.0.0/0\"}",
     "\t\tmeta nfproto ipv4 icmp type 3 icmp code 4 accept\n"},
    {"{\"proto\": \"icmp\", \"from\": -1, \"to\": -1, \"cidr\": \"10.0.0.0/8\"}",
     "\t\tip saddr 10.0.0.0/8 meta l4proto icmp accept\n"},
    {"{\"proto\": \"-1\", \"from\": -1, \"to\": -1, \"cidr\": \"0.0.0.0/0\"}",
     "\t\tmeta nfproto ipv4 accept\n"},
    {"{\"proto\": \"47\", \"from\": -1, \"to\": -1, \"cidr\": \"10.1.0.0/16\"}",
     "\t\tip saddr 10.1.0.0/16 meta l4proto 47 accept\n"},
    {"{\"proto\": \"tcp\", \"from\": 80, \"to\": 80, \"group\": \"sg-lb\"}",
     "\t\tip saddr { 10.0.0.4, 10.0.0.9 } tcp dport 80 accept\n"},
};

START_TEST(renders_each_kind_of_rule)
{
	char groups[512];
	char *s;

	snprintf(groups, sizeof(groups), ONE_RULE("%s"), rendered[_i].rule);
	s = render(groups, "{\"sg-lb\": [\"10.0.0.9\", \"10.0.0.4\", \"10.0.0.9\", \"bad\"]}");
	ck_assert_msg(strstr(s, rendered[_i].want) != NULL, "want\n%s\nin\n%s", rendered[_i].want,
	              s);
	ck_assert_int_eq(rule_lines(s), 1);
	free(s);
}
END_TEST

START_TEST(head_drops_by_default_and_replaces_the_table)
{
	char *s = render("[]", NULL);

	ck_assert_ptr_nonnull(
	    strstr(s, "table inet kiln\ndelete table inet kiln\ntable inet kiln {"));
	ck_assert_ptr_nonnull(strstr(s, "hook input priority filter; policy drop;"));
	ck_assert_ptr_nonnull(strstr(s, "ct state established,related accept"));
	ck_assert_ptr_nonnull(strstr(s, "iif \"lo\" accept"));
	ck_assert_int_eq(rule_lines(s), 0);
	free(s);
}
END_TEST

START_TEST(egress_rules_and_empty_groups_allow_nothing)
{
	char *s = render(ONE_RULE("{\"egress\": true, \"proto\": \"-1\", \"from\": -1, \"to\": -1, "
	                          "\"cidr\": \"0.0.0.0/0\"},"
	                          "{\"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"group\": "
	                          "\"sg-empty\"},"
	                          "{\"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"group\": "
	                          "\"sg-unknown\"}"),
	                 "{\"sg-empty\": []}");

	ck_assert_int_eq(rule_lines(s), 0);
	free(s);
}
END_TEST

/* Values an API client could get into the state: none may reach the script. */
static const char *const hostile_rules[] = {
    "{\"proto\": \"tcp; flush ruleset\", \"from\": 22, \"to\": 22, \"cidr\": \"0.0.0.0/0\"}",
    "{\"proto\": \"TCP\", \"from\": 22, \"to\": 22, \"cidr\": \"0.0.0.0/0\"}",
    "{\"proto\": \"\", \"from\": 22, \"to\": 22, \"cidr\": \"0.0.0.0/0\"}",
    "{\"proto\": \"256\", \"from\": 22, \"to\": 22, \"cidr\": \"0.0.0.0/0\"}",
    "{\"proto\": \"0047\", \"from\": 22, \"to\": 22, \"cidr\": \"0.0.0.0/0\"}",
    "{\"proto\": 6, \"from\": 22, \"to\": 22, \"cidr\": \"0.0.0.0/0\"}",
    "{\"from\": 22, \"to\": 22, \"cidr\": \"0.0.0.0/0\"}",
    "{\"proto\": \"tcp\", \"from\": \"22\", \"to\": 22, \"cidr\": \"0.0.0.0/0\"}",
    "{\"proto\": \"tcp\", \"from\": 22.5, \"to\": 23, \"cidr\": \"0.0.0.0/0\"}",
    "{\"proto\": \"tcp\", \"from\": 30, \"to\": 22, \"cidr\": \"0.0.0.0/0\"}",
    "{\"proto\": \"tcp\", \"from\": -1, \"to\": 22, \"cidr\": \"0.0.0.0/0\"}",
    "{\"proto\": \"udp\", \"from\": 1, \"to\": 65536, \"cidr\": \"0.0.0.0/0\"}",
    "{\"proto\": \"tcp\", \"from\": 1, \"to\": 9223372036854775807, \"cidr\": \"0.0.0.0/0\"}",
    "{\"proto\": \"icmp\", \"from\": 256, \"to\": -1, \"cidr\": \"0.0.0.0/0\"}",
    "{\"proto\": \"icmp\", \"from\": 8, \"to\": -2, \"cidr\": \"0.0.0.0/0\"}",
    "{\"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"cidr\": \"10.0.0.0/8 } accept\"}",
    "{\"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"cidr\": \"10.0.0.0/33\"}",
    "{\"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"cidr\": \"10.0.0.0/\"}",
    "{\"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"cidr\": \"10.0.0.0\"}",
    "{\"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"cidr\": \"10.0.0.0/-1\"}",
    "{\"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"cidr\": \"10.0.0.0/8\\n\"}",
    "{\"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"cidr\": \"300.0.0.0/8\"}",
    "{\"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"cidr\": \"::/0\"}",
    "{\"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"cidr\": \"10.0.0.0.0/8\"}",
    "{\"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"cidr\": 167772160}",
    "{\"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"group\": \"sg-evil\"}",
    "{\"proto\": \"tcp\", \"from\": 22, \"to\": 22}",
};

START_TEST(hostile_rules_are_left_out)
{
	char groups[512];
	char *s;

	snprintf(groups, sizeof(groups), ONE_RULE("%s"), hostile_rules[_i]);
	s = render(groups, "{\"sg-evil\": [\"1.2.3.4; flush ruleset\", \"1.2.3.4\\n\", 5, null, "
	                   "\"1.2.3.4/8\", \"01.2.3.4\", \" 1.2.3.4\"]}");
	ck_assert_msg(rule_lines(s) == 0, "%s\nrendered\n%s", hostile_rules[_i], s);
	ck_assert_ptr_null(strstr(s, "flush"));
	free(s);
}
END_TEST

START_TEST(hostile_ids_stay_out_of_comments)
{
	char *s =
	    render("[{\"id\": \"sg-1\\\" ; flush ruleset ; #\", \"rules\": [{\"id\": \"sgr-1\", "
	           "\"proto\": \"tcp\", \"from\": 22, \"to\": 22, \"cidr\": \"10.0.0.0/8\"}]},"
	           "{\"id\": \"sg-2\", \"rules\": [{\"id\": \"sgr-\\n2\", \"proto\": \"tcp\", "
	           "\"from\": 23, \"to\": 23, \"cidr\": \"10.0.0.0/8\"}]},"
	           "{\"id\": 7, \"rules\": 9}, {\"rules\": [7, null, \"x\"]}, 5]",
	           NULL);

	ck_assert_int_eq(rule_lines(s), 2);
	ck_assert_ptr_null(strstr(s, "comment"));
	ck_assert_ptr_null(strstr(s, "flush"));
	ck_assert_ptr_nonnull(strstr(s, "ip saddr 10.0.0.0/8 tcp dport 22 accept\n"));
	ck_assert_ptr_nonnull(strstr(s, "ip saddr 10.0.0.0/8 tcp dport 23 accept\n"));
	free(s);
}
END_TEST

/* ---- the sync, over a cloud of stand-ins -------------------------------- */

static struct lc_cloud cloud;
static char state_dir[64];
static json_t *applied_log; /* [{dir, script}] */
static json_t *generations; /* dir -> the stand-in namespace's ruleset generation */
static int apply_result;

static int record_apply(const char *dir, const char *script, uint32_t *gen)
{
	json_int_t g = json_integer_value(json_object_get(generations, dir));

	if (apply_result < 0)
		return kiln_error_set(apply_result, "stand-in: %d", apply_result);
	if (script != NULL) {
		json_array_append_new(applied_log,
		                      json_pack("{s:s, s:s}", "dir", dir, "script", script));
		json_object_set_new(generations, dir, json_integer(++g));
	}
	*gen = (uint32_t)g;
	return 0;
}

/* Something inside instance `id` changed its ruleset. */
static void tamper(const char *id)
{
	const char *dir;
	json_t *g;

	json_object_foreach(generations, dir, g)
	{
		const char *slash = strrchr(dir, '/');
		if (slash && strcmp(slash + 1, id) == 0)
			json_object_set_new(generations, dir,
			                    json_integer(json_integer_value(g) + 1));
	}
}

static void setup(void)
{
	struct kiln_cloud_opts o = {.cidr = "10.214.99.0/24"};

	snprintf(state_dir, sizeof(state_dir), "/tmp/kiln-lcfw-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state_dir));
	ck_assert_msg(lc_cloud_open(&cloud, &o, state_dir) == 0, "%s", kiln_error_last());
	lc_fw_set_apply(&cloud, record_apply);
	applied_log = json_array();
	generations = json_object();
	apply_result = 0;
}

static void teardown(void)
{
	lc_cloud_close(&cloud);
	kiln_rm_rf(state_dir);
	json_decref(applied_log);
	json_decref(generations);
}

static void put(const char *table, const char *id, const char *json)
{
	json_error_t e;
	json_t *v = json_loads(json, 0, &e);

	ck_assert_msg(v != NULL, "bad test JSON: %s", e.text);
	pthread_mutex_lock(&cloud.mu);
	json_object_set_new(lc_table(&cloud, table), id, v);
	lc_state_save(&cloud);
	pthread_mutex_unlock(&cloud.mu);
}

static void set_state(const char *id, const char *state)
{
	pthread_mutex_lock(&cloud.mu);
	json_object_set_new(json_object_get(lc_instances(&cloud), id), "state", json_string(state));
	lc_state_save(&cloud);
	pthread_mutex_unlock(&cloud.mu);
}

/* The script last applied to instance `id` (borrowed), or NULL. */
static const char *last_script(const char *id)
{
	const char *found = NULL;
	json_t *a;
	size_t i;

	json_array_foreach(applied_log, i, a)
	{
		const char *slash = strrchr(lc_str(a, "dir"), '/');
		if (slash && strcmp(slash + 1, id) == 0)
			found = lc_str(a, "script");
	}
	return found;
}

/* web admits tcp 8080 from the load balancers' group and SSH from app's members. */
static void two_tiers(void)
{
	put("security_groups", "sg-web",
	    "{\"id\": \"sg-web\", \"rules\": [{\"id\": \"sgr-w1\", \"proto\": \"tcp\", \"from\": "
	    "8080, \"to\": 8080, \"group\": \"sg-lb\"}, {\"id\": \"sgr-w2\", \"proto\": \"tcp\", "
	    "\"from\": 22, \"to\": 22, \"group\": \"sg-app\"}]}");
	put("security_groups", "sg-app", "{\"id\": \"sg-app\", \"rules\": []}");
	put("security_groups", "sg-lb", "{\"id\": \"sg-lb\", \"rules\": []}");
	put("instances", "i-web",
	    "{\"id\": \"i-web\", \"state\": \"running\", \"ip\": \"10.214.99.5\", \"groups\": "
	    "[\"sg-web\"]}");
	put("instances", "i-app1",
	    "{\"id\": \"i-app1\", \"state\": \"running\", \"ip\": \"10.214.99.6\", \"groups\": "
	    "[\"sg-app\"]}");
	put("instances", "i-other",
	    "{\"id\": \"i-other\", \"state\": \"running\", \"ip\": \"10.214.99.7\", \"groups\": "
	    "[\"sg-lb-not\"]}");
	put("load_balancers", "arn:lb",
	    "{\"id\": \"lb1\", \"state\": \"active\", \"ip\": \"10.214.99.200\", \"groups\": "
	    "[\"sg-lb\"]}");
}

START_TEST(source_groups_resolve_to_members)
{
	two_tiers();
	ck_assert_int_eq(lc_fw_sync(&cloud, 0), 0);
	ck_assert_int_eq(json_array_size(applied_log), 3);
	ck_assert_ptr_nonnull(
	    strstr(last_script("i-web"), "ip saddr 10.214.99.200 tcp dport 8080 accept"));
	ck_assert_ptr_nonnull(strstr(last_script("i-web"), "ip saddr 10.214.99.6 tcp dport 22"));
	ck_assert_ptr_null(strstr(last_script("i-web"), "10.214.99.7"));
	ck_assert_int_eq(rule_lines(last_script("i-app1")), 0);

	/* a new member of app is let in at the next sync; a terminated one is out */
	put("instances", "i-app2",
	    "{\"id\": \"i-app2\", \"state\": \"pending\", \"ip\": \"10.214.99.8\", \"groups\": "
	    "[\"sg-app\"]}");
	ck_assert_int_eq(lc_fw_sync(&cloud, 0), 0);
	ck_assert_ptr_nonnull(
	    strstr(last_script("i-web"), "ip saddr { 10.214.99.6, 10.214.99.8 } tcp dport 22"));
	set_state("i-app1", "terminated");
	ck_assert_int_eq(lc_fw_sync(&cloud, 0), 0);
	ck_assert_ptr_nonnull(strstr(last_script("i-web"), "ip saddr 10.214.99.8 tcp dport 22"));
	ck_assert_ptr_null(strstr(last_script("i-web"), "10.214.99.6"));
}
END_TEST

START_TEST(only_changed_tables_are_applied)
{
	two_tiers();
	ck_assert_int_eq(lc_fw_sync(&cloud, 0), 0);
	ck_assert_int_eq(json_array_size(applied_log), 3);
	/* nothing changed: nothing rendered, nothing applied, even when forced */
	ck_assert_int_eq(lc_fw_sync(&cloud, 0), 0);
	ck_assert_int_eq(lc_fw_sync(&cloud, 1), 0);
	ck_assert_int_eq(json_array_size(applied_log), 3);
	/* a rule of app's changes app's members' tables only */
	put("security_groups", "sg-app",
	    "{\"id\": \"sg-app\", \"rules\": [{\"proto\": \"tcp\", \"from\": 443, \"to\": 443, "
	    "\"cidr\": \"0.0.0.0/0\"}]}");
	ck_assert_int_eq(lc_fw_sync(&cloud, 0), 0);
	ck_assert_int_eq(json_array_size(applied_log), 4);
	ck_assert_ptr_nonnull(strstr(last_script("i-app1"), "tcp dport 443 accept"));
	/* a machine that booted again gets its table again */
	lc_fw_forget(&cloud, "i-web");
	ck_assert_int_eq(lc_fw_sync(&cloud, 0), 0);
	ck_assert_int_eq(json_array_size(applied_log), 5);
	/* stopped machines have no table to keep */
	set_state("i-web", "stopped");
	set_state("i-app1", "stopping");
	put("security_groups", "sg-lb",
	    "{\"id\": \"sg-lb\", \"rules\": [{\"proto\": \"-1\", \"cidr\": \"0.0.0.0/0\"}]}");
	ck_assert_int_eq(lc_fw_sync(&cloud, 0), 0);
	ck_assert_int_eq(json_array_size(applied_log), 5);
}
END_TEST

START_TEST(tables_changed_inside_are_replaced)
{
	two_tiers();
	ck_assert_int_eq(lc_fw_sync(&cloud, 0), 0);
	ck_assert_int_eq(json_array_size(applied_log), 3);
	tamper("i-web");
	/* an ordinary sync does not look; the periodic (forced) one does */
	ck_assert_int_eq(lc_fw_sync(&cloud, 0), 0);
	ck_assert_int_eq(json_array_size(applied_log), 3);
	ck_assert_int_eq(lc_fw_sync(&cloud, 1), 0);
	ck_assert_int_eq(json_array_size(applied_log), 4);
	ck_assert_ptr_nonnull(strstr(lc_str(json_array_get(applied_log, 3), "dir"), "/i-web"));
	ck_assert_int_eq(lc_fw_sync(&cloud, 1), 0);
	ck_assert_int_eq(json_array_size(applied_log), 4);
}
END_TEST

START_TEST(failures_are_tried_again)
{
	two_tiers();
	apply_result = KILN_ERROR;
	ck_assert_int_eq(lc_fw_sync(&cloud, 0), -1);
	apply_result = 0;
	/* the state did not change since, but the tables are not there yet */
	ck_assert_int_eq(lc_fw_sync(&cloud, 0), 0);
	ck_assert_int_eq(json_array_size(applied_log), 3);
	/* no machine yet (booting): not an error, applied once it runs */
	put("instances", "i-new",
	    "{\"id\": \"i-new\", \"state\": \"pending\", \"ip\": \"10.214.99.9\", \"groups\": "
	    "[\"sg-app\"]}");
	apply_result = KILN_ENOTFOUND;
	ck_assert_int_eq(lc_fw_sync(&cloud, 0), 0);
	apply_result = 0;
	ck_assert_int_eq(lc_fw_sync(&cloud, 1), 0);
	ck_assert_ptr_nonnull(last_script("i-new"));
}
END_TEST

START_TEST(render_one_instance_as_booting)
{
	struct kiln_buf b = KILN_BUF_INIT;

	two_tiers();
	pthread_mutex_lock(&cloud.mu);
	lc_fw_render(&cloud, json_object_get(lc_instances(&cloud), "i-web"), &b);
	pthread_mutex_unlock(&cloud.mu);
	ck_assert_ptr_nonnull(strstr(b.ptr, "ip saddr 10.214.99.200 tcp dport 8080 accept"));
	ck_assert_int_eq(rule_lines(b.ptr), 2);
	kiln_buf_release(&b);
}
END_TEST

/* ---- nftables itself (root) --------------------------------------------- */

static int count(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
		n++;
	return n;
}

/* A child in a network namespace of its own, waiting to be killed; 0 when not possible. */
static pid_t netns_child(void)
{
	int p[2];
	char c = 0;
	pid_t pid;

	if (geteuid() != 0 || pipe(p) < 0)
		return 0;
	pid = fork();
	if (pid == 0) {
		c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1 || c != 'y') {
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		pid = 0;
	}
	close(p[0]);
	return pid;
}

static void netns_end(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

START_TEST(nftables_takes_every_script)
{
	pid_t pid = netns_child();
	struct kiln_buf listing = KILN_BUF_INIT;
	char path[64], groups[512];
	uint32_t gen = 0, again = 0;
	char *s;
	int fd;

	if (pid == 0)
		return; /* not root, or no network namespaces: the rendering tests stand */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	/* each kind of rule, twice: the table is replaced, not added to */
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < KILN_ARRAY_SIZE(rendered); i++) {
			snprintf(groups, sizeof(groups), ONE_RULE("%s"), rendered[i].rule);
			s = render(groups, "{\"sg-lb\": [\"10.0.0.9\", \"10.0.0.4\"]}");
			ck_assert_msg(lc_nft_apply(fd, s, NULL) == 0, "%s: %s", kiln_error_last(),
			              s);
			free(s);
		}
	}
	ck_assert_int_eq(nft_run(fd, "list ruleset", &listing, NULL), 0);
	ck_assert_ptr_nonnull(strstr(listing.ptr, "table inet kiln {"));
	ck_assert_ptr_nonnull(strstr(listing.ptr, "ip saddr { 10.0.0.4, 10.0.0.9 } tcp dport 80"));
	/* only the last script's rule is there */
	ck_assert_ptr_null(strstr(listing.ptr, "dport 22"));
	ck_assert_int_eq(count(listing.ptr, "table "), 1);
	kiln_buf_release(&listing);
	/* a script nftables refuses changes nothing and says why in one line */
	ck_assert_int_lt(
	    lc_nft_apply(fd, "delete table inet kiln\nadd rule inet kiln nope x\n", NULL), 0);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "nftables: "));
	ck_assert_ptr_null(strchr(kiln_error_last(), '\n'));
	ck_assert_int_eq(nft_run(fd, "list tables", &listing, NULL), 0);
	ck_assert_ptr_nonnull(strstr(listing.ptr, "table inet kiln"));
	kiln_buf_release(&listing);
	/* the generation moves with every transaction, whoever commits it */
	s = render("[]", NULL);
	ck_assert_int_eq(lc_nft_apply(fd, s, &gen), 0);
	ck_assert_int_eq(lc_nft_apply(fd, NULL, &again), 0);
	ck_assert_uint_eq(gen, again);
	ck_assert_int_eq(nft_run(fd, "add table ip other", NULL, NULL), 0);
	ck_assert_int_eq(lc_nft_apply(fd, NULL, &again), 0);
	ck_assert_uint_ne(gen, again);
	free(s);
	close(fd);
	netns_end(pid);
	/* the namespace went with its process: so does the table */
	ck_assert_int_eq(lc_nft_apply_pid(pid, "list ruleset"), KILN_ENOTFOUND);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("localcloud_firewall");
	TCase *t = tcase_create("render");
	tcase_add_loop_test(t, renders_each_kind_of_rule, 0, KILN_ARRAY_SIZE(rendered));
	tcase_add_test(t, head_drops_by_default_and_replaces_the_table);
	tcase_add_test(t, egress_rules_and_empty_groups_allow_nothing);
	tcase_add_loop_test(t, hostile_rules_are_left_out, 0, KILN_ARRAY_SIZE(hostile_rules));
	tcase_add_test(t, hostile_ids_stay_out_of_comments);
	suite_add_tcase(s, t);
	t = tcase_create("sync");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, source_groups_resolve_to_members);
	tcase_add_test(t, only_changed_tables_are_applied);
	tcase_add_test(t, tables_changed_inside_are_replaced);
	tcase_add_test(t, failures_are_tried_again);
	tcase_add_test(t, render_one_instance_as_booting);
	suite_add_tcase(s, t);
	t = tcase_create("nftables");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, nftables_takes_every_script);
	suite_add_tcase(s, t);
	return s;
}

#include "check_main.h"
