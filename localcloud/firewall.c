/*
 * Security groups as each instance's nftables table (firewall-int.h): the
 * rendering, from the state to a script, and the sync that keeps every
 * running machine's table as the state says.
 *
 * The state comes from API clients: nothing of it reaches a script as it
 * is. Protocols are matched against a list, ports and ICMP types are
 * numbers within their ranges, addresses and prefixes are parsed and
 * printed again, and an id goes into a comment only when it is made of
 * letters, digits and dashes. A rule that fails any of this is left out
 * (it cannot be enforced, so it allows nothing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "localcloud/ec2-int.h"
#include "localcloud/firewall-int.h"
#include "localcloud/net-int.h"
#include "localcloud/runtime-int.h"

/* What the sync keeps: what each machine's table is, and what state it was rendered from. */
struct lc_fw {
	pthread_mutex_t mu;
	lc_fw_apply_fn apply; /* lc_machine_firewall but in tests */
	/* instance id -> {"hash": sha256 of the script its machine has, "gen": the ruleset
	 * generation that left in its namespace} */
	json_t *applied;
	unsigned long long gen; /* cloud->gen at the last sync */
	int synced;             /* the last sync applied everything it rendered */
};

/* ---- rendering ---------------------------------------------------------- */

enum proto { P_ALL, P_TCP, P_UDP, P_ICMP, P_NUMBER };

/* EC2's protocol names and numbers; -1 when it is neither. */
static int proto_of(const char *p, int *number)
{
	static const struct {
		const char *name;
		enum proto proto;
	} names[] = {{"-1", P_ALL},  {"all", P_ALL}, {"tcp", P_TCP},   {"6", P_TCP},
	             {"udp", P_UDP}, {"17", P_UDP},  {"icmp", P_ICMP}, {"1", P_ICMP}};
	size_t n = p ? strlen(p) : 0;

	for (size_t i = 0; i < KILN_ARRAY_SIZE(names); i++)
		if (p && strcmp(p, names[i].name) == 0)
			return (int)names[i].proto;
	if (n == 0 || n > 3 || strspn(p, "0123456789") != n || atoi(p) > 255)
		return -1;
	*number = atoi(p);
	return P_NUMBER;
}

/* A JSON integer within [min, max] into *out; 0 when it is not one. */
static int int_in(json_t *v, long long min, long long max, long long *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return 0;
	*out = json_integer_value(v);
	return 1;
}

/* What a rule lets in, as an nftables match ("tcp dport 22"); 0 when it does not check out. */
static int proto_match(struct kiln_buf *out, json_t *rule)
{
	long long from, to;
	int number = 0, p = proto_of(lc_str(rule, "proto"), &number);
	const char *name = p == P_TCP ? "tcp" : "udp";

	switch (p) {
	case P_ALL:
		return 1;
	case P_NUMBER:
		kiln_buf_printf(out, " meta l4proto %d", number);
		return 1;
	case P_TCP:
	case P_UDP:
		if (!int_in(json_object_get(rule, "from"), 0, 65535, &from) ||
		    !int_in(json_object_get(rule, "to"), from, 65535, &to))
			return 0;
		if (from == 0 && to == 65535)
			kiln_buf_printf(out, " meta l4proto %s", name);
		else if (from == to)
			kiln_buf_printf(out, " %s dport %lld", name, from);
		else
			kiln_buf_printf(out, " %s dport %lld-%lld", name, from, to);
		return 1;
	case P_ICMP:
		/* for ICMP, EC2's "ports" are the type and the code; -1 is any */
		if (!int_in(json_object_get(rule, "from"), -1, 255, &from) ||
		    !int_in(json_object_get(rule, "to"), -1, 255, &to))
			return 0;
		if (from < 0)
			kiln_buf_puts(out, " meta l4proto icmp");
		else
			kiln_buf_printf(out, " icmp type %lld", from);
		if (from >= 0 && to >= 0)
			kiln_buf_printf(out, " icmp code %lld", to);
		return 1;
	default:
		return 0;
	}
}

/* "a.b.c.d/p" as a network (host bits cleared) into out; 0 when it is not one. */
static int cidr4(char out[32], const char *s)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	char addr[16];
	uint32_t ip;
	size_t n;
	int prefix;

	if (slash == NULL || (n = (size_t)(slash - s)) >= sizeof(addr) || slash[1] == '\0' ||
	    strlen(slash + 1) > 2 || strspn(slash + 1, "0123456789") != strlen(slash + 1))
		return 0;
	prefix = atoi(slash + 1);
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (prefix > 32 || lc_ip_parse(&ip, addr) < 0)
		return 0;
	lc_ip_format(addr, ip & lc_netmask(prefix));
	snprintf(out, 32, "%s/%d", addr, prefix);
	return 1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* A group's members as an nftables source ("ip saddr { a, b }"); 0 when it has none. */
static int members_match(struct kiln_buf *out, json_t *addrs)
{
	size_t n = 0, i, distinct = 0;
	uint32_t *ips = kiln_xcalloc(json_array_size(addrs) + 1, sizeof(*ips));
	json_t *a;
	char text[16];

	json_array_foreach(addrs, i, a)
	{
		if (lc_ip_parse(&ips[n], json_string_value(a)) == 0)
			n++;
	}
	qsort(ips, n, sizeof(*ips), cmp_u32);
	for (i = 0; i < n; i++)
		if (i == 0 || ips[i] != ips[i - 1])
			ips[distinct++] = ips[i];
	for (i = 0; i < distinct; i++) {
		lc_ip_format(text, ips[i]);
		if (i == 0)
			kiln_buf_printf(out, distinct > 1 ? "ip saddr { %s" : "ip saddr %s", text);
		else
			kiln_buf_printf(out, ", %s", text);
	}
	if (distinct > 1)
		kiln_buf_puts(out, " }");
	free(ips);
	return distinct > 0;
}

/* Ids as EC2 makes them ("sg-0abc", "sgr-12"), fit for a comment. */
static int safe_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= 40 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

/* One ingress rule of group `gid` as a line of the chain, when it checks out. */
static void rule_line(struct kiln_buf *out, const char *gid, json_t *rule, json_t *members)
{
	struct kiln_buf line = KILN_BUF_INIT;
	const char *cidr = lc_str(rule, "cidr"), *src = lc_str(rule, "group");
	char net[32];
	int ok;

	kiln_buf_puts(&line, "\t\t");
	if (cidr != NULL) {
		ok = cidr4(net, cidr);
		if (ok && strcmp(net, "0.0.0.0/0") == 0)
			kiln_buf_puts(&line, "meta nfproto ipv4");
		else if (ok)
			kiln_buf_printf(&line, "ip saddr %s", net);
	} else {
		ok = src != NULL && members_match(&line, json_object_get(members, src));
	}
	if (ok && proto_match(&line, rule)) {
		kiln_buf_puts(&line, " accept");
		if (safe_id(gid) && safe_id(lc_str(rule, "id")))
			kiln_buf_printf(&line, " comment \"%s %s\"", gid, lc_str(rule, "id"));
		kiln_buf_printf(out, "%s\n", line.ptr);
	}
	kiln_buf_release(&line);
}

void lc_fw_ruleset(struct kiln_buf *out, json_t *groups, json_t *members)
{
	json_t *g, *rule;
	size_t i, j;

	kiln_buf_puts(out, "# the instance's security groups (written by the local cloud)\n"
	                   "table " LC_FW_TABLE "\n"
	                   "delete table " LC_FW_TABLE "\n"
	                   "table " LC_FW_TABLE " {\n"
	                   "\tchain ingress {\n"
	                   "\t\ttype filter hook input priority filter; policy drop;\n"
	                   "\t\tiif \"lo\" accept\n"
	                   "\t\tct state established,related accept\n"
	                   /* neighbour discovery is below security groups on EC2 too */
	                   "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n");
	json_array_foreach(groups, i, g)
	{
		json_array_foreach(json_object_get(g, "rules"), j, rule)
		{
			if (!json_is_true(json_object_get(rule, "egress")))
				rule_line(out, lc_str(g, "id"), rule, members);
		}
	}
	kiln_buf_puts(out, "\t}\n}\n");
}

/* group id -> addresses of its members: live instances and load balancers. */
static json_t *members_map(struct lc_cloud *c)
{
	static const char *const tables[] = {"instances", "load_balancers"};
	json_t *map = json_object(), *v, *g;
	const char *k;
	size_t i;

	for (size_t t = 0; t < KILN_ARRAY_SIZE(tables); t++) {
		json_object_foreach(lc_table(c, tables[t]), k, v)
		{
			const char *ip = lc_str(v, "ip"), *state = lc_str(v, "state");
			if (ip == NULL || (state && strcmp(state, "terminated") == 0))
				continue;
			json_array_foreach(json_object_get(v, "groups"), i, g)
			{
				const char *gid = json_string_value(g);
				json_t *list;
				if (gid == NULL)
					continue;
				list = json_object_get(map, gid);
				if (list == NULL) {
					list = json_array();
					json_object_set_new(map, gid, list);
				}
				json_array_append_new(list, json_string(ip));
			}
		}
	}
	return map;
}

static void render(struct lc_cloud *c, json_t *inst, json_t *members, struct kiln_buf *out)
{
	json_t *sgs = lc_table(c, "security_groups"), *groups = json_array(), *id, *g;
	size_t i;

	json_array_foreach(json_object_get(inst, "groups"), i, id)
	{
		g = json_string_value(id) ? json_object_get(sgs, json_string_value(id)) : NULL;
		if (g != NULL)
			json_array_append(groups, g);
	}
	lc_fw_ruleset(out, groups, members);
	json_decref(groups);
}

void lc_fw_render(struct lc_cloud *c, json_t *inst, struct kiln_buf *out)
{
	json_t *members = members_map(c);

	render(c, inst, members, out);
	json_decref(members);
}

/* ---- sync --------------------------------------------------------------- */

void lc_fw_init(struct lc_cloud *c)
{
	c->fw = kiln_xcalloc(1, sizeof(*c->fw));
	pthread_mutex_init(&c->fw->mu, NULL);
	c->fw->apply = lc_machine_firewall;
	c->fw->applied = json_object();
}

void lc_fw_set_apply(struct lc_cloud *c, lc_fw_apply_fn apply)
{
	c->fw->apply = apply;
}

void lc_fw_release(struct lc_cloud *c)
{
	if (c->fw == NULL)
		return;
	json_decref(c->fw->applied);
	pthread_mutex_destroy(&c->fw->mu);
	free(c->fw);
	c->fw = NULL;
}

/* Does the instance's machine run (or boot), so that it has a table to keep? */
static int has_machine(json_t *inst)
{
	const char *s = lc_str(inst, "state");

	return s && (strcmp(s, "running") == 0 || strcmp(s, "pending") == 0);
}

/* Under the lock: [{id, dir, script, hash}] for every machine that runs. */
static json_t *render_all(struct lc_cloud *c)
{
	json_t *members = members_map(c), *todo = json_array(), *inst;
	struct kiln_buf script = KILN_BUF_INIT;
	const char *id;
	char hash[65];

	json_object_foreach(lc_instances(c), id, inst)
	{
		char *dir;
		if (!has_machine(inst))
			continue;
		kiln_buf_clear(&script);
		render(c, inst, members, &script);
		kiln_sha256_hex(hash, script.ptr, script.size);
		dir = lc_instance_dir(c, id);
		json_array_append_new(todo, json_pack("{s:s, s:s, s:s, s:s}", "id", id, "dir", dir,
		                                      "script", script.ptr, "hash", hash));
		free(dir);
	}
	kiln_buf_release(&script);
	json_decref(members);
	return todo;
}

/*
 * Is the table `rec` records still in the machine's namespace? Only a
 * `verify`ing sync looks (a generation read); 0 also when the machine is
 * gone (KILN_ENOTFOUND in *error).
 */
static int still_there(struct lc_cloud *c, json_t *t, json_t *rec, int verify, int *error)
{
	uint32_t gen = 0;

	*error = 0;
	if (!verify)
		return 1;
	*error = c->fw->apply(lc_str(t, "dir"), NULL, &gen);
	if (*error == 0 && gen == (uint32_t)json_integer_value(json_object_get(rec, "gen")))
		return 1;
	if (*error == 0)
		kiln_log_info("%s: its security groups' table was changed inside the instance: "
		              "replaced",
		              lc_str(t, "id"));
	kiln_error_clear();
	return 0;
}

/* Apply what changed (fw->mu held, cloud->mu not); 0 when everything applied. */
static int apply_all(struct lc_cloud *c, json_t *todo, int verify)
{
	json_t *applied = c->fw->applied, *keep = json_object(), *t, *rec;
	int failed = 0, error;
	uint32_t gen;
	size_t i;

	json_array_foreach(todo, i, t)
	{
		const char *id = lc_str(t, "id"), *hash = lc_str(t, "hash");
		error = 0;
		rec = json_object_get(applied, id);
		if (rec != NULL &&
		    strcmp(lc_str(rec, "hash") ? lc_str(rec, "hash") : "", hash) == 0 &&
		    still_there(c, t, rec, verify, &error)) {
			json_object_set(keep, id, rec);
			continue;
		}
		if (error == KILN_ENOTFOUND)
			continue;
		error = c->fw->apply(lc_str(t, "dir"), lc_str(t, "script"), &gen);
		if (error == 0) {
			json_object_set_new(
			    keep, id,
			    json_pack("{s:s, s:I}", "hash", hash, "gen", (json_int_t)gen));
		} else if (error != KILN_ENOTFOUND) {
			/* the machine keeps the table it had; the next sync tries again */
			kiln_log_warn("%s: security groups not applied: %s", id, kiln_error_last());
			failed = 1;
		}
		kiln_error_clear();
	}
	/* machines that stopped or went away are forgotten with their tables */
	json_decref(c->fw->applied);
	c->fw->applied = keep;
	return failed ? -1 : 0;
}

int lc_fw_sync(struct lc_cloud *c, int force)
{
	struct lc_fw *fw = c->fw;
	unsigned long long gen;
	json_t *todo;
	int error;

	pthread_mutex_lock(&fw->mu);
	pthread_mutex_lock(&c->mu);
	gen = c->gen;
	if (!force && fw->synced && fw->gen == gen) {
		pthread_mutex_unlock(&c->mu);
		pthread_mutex_unlock(&fw->mu);
		return 0;
	}
	todo = render_all(c);
	pthread_mutex_unlock(&c->mu);
	/* a forced sync also finds tables changed behind its back */
	error = apply_all(c, todo, force);
	fw->gen = gen;
	fw->synced = error == 0;
	pthread_mutex_unlock(&fw->mu);
	json_decref(todo);
	return error;
}

void lc_fw_forget(struct lc_cloud *c, const char *instance_id)
{
	pthread_mutex_lock(&c->fw->mu);
	json_object_del(c->fw->applied, instance_id);
	c->fw->synced = 0;
	pthread_mutex_unlock(&c->fw->mu);
}

int lc_fw_sync_after(struct lc_req *r)
{
	if (lc_fw_sync(r->c, 0) < 0)
		kiln_log_warn("security groups: some instances keep their old rules until the "
		              "next try");
	return 0;
}
