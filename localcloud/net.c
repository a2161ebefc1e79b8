/*
 * Addresses and networks (CIDR blocks, the addresses a subnet lends), the
 * default VPC's bridge and each instance's veth pair. Configuration goes
 * through iproute2 ("ip -batch") run by kiln_proc: one process per step keeps
 * a boot at a few milliseconds without a netlink library.
 *
 * The host holds the gateway address on the bridge and so reaches every
 * instance directly. Nothing here enables forwarding or adds NAT: an
 * instance has no route beyond the bridge.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/proc.h"
#include "core/util.h"
#include "localcloud/net-int.h"
#include "localcloud/runtime-int.h"

int lc_cidr_parse(uint32_t *network, int *prefix, const char *cidr)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	struct in_addr in;
	char *end;
	long p;

	if (slash == NULL || (size_t)(slash - cidr) >= sizeof(addr) || slash[1] < '0' ||
	    slash[1] > '9')
		goto bad;
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	errno = 0;
	p = strtol(slash + 1, &end, 10);
	if (inet_pton(AF_INET, addr, &in) != 1 || *end != '\0' || errno != 0 ||
	    p < LC_CIDR_MIN_PREFIX || p > LC_CIDR_MAX_PREFIX)
		goto bad;
	*network = ntohl(in.s_addr);
	*prefix = (int)p;
	if (*network & ~lc_netmask((int)p))
		goto bad;
	return 0;
bad:
	return kiln_error_set(KILN_EINVAL,
	                      "'%s': expected an IPv4 network from /%d to /%d, e.g. 172.31.0.0/16",
	                      cidr ? cidr : "", LC_CIDR_MIN_PREFIX, LC_CIDR_MAX_PREFIX);
}

uint32_t lc_netmask(int prefix)
{
	return prefix <= 0 ? 0 : 0xffffffffu << (32 - prefix);
}

void lc_ip_format(char out[16], uint32_t ip)
{
	snprintf(out, 16, "%u.%u.%u.%u", (ip >> 24) & 255, (ip >> 16) & 255, (ip >> 8) & 255,
	         ip & 255);
}

int lc_ip_parse(uint32_t *out, const char *s)
{
	struct in_addr a;

	if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}

/*
 * EC2 keeps five addresses of every subnet: the network address, the VPC
 * router (+1), DNS (+2), one for later (+3) and the broadcast address.
 */
void lc_subnet_range(uint32_t base, int prefix, uint32_t *first, uint32_t *last)
{
	*first = base + 4;
	*last = base + (uint32_t)(~lc_netmask(prefix)) - 1;
}

long long lc_subnet_capacity(int prefix)
{
	return (1LL << (32 - prefix)) - 5;
}

KILN_STATIC int valid_ifname(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 15)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '-' || name[i] == '_'))
			return 0;
	return 1;
}

/* Run `ip` with `args`; the error carries ip's own message. */
static int ip_run(const char *what, char *const argv[], int *status_out)
{
	struct kiln_buf out = KILN_BUF_INIT, err = KILN_BUF_INIT;
	int status = 0, error;

	kiln_buf_init(&out, 1 << 20);
	kiln_buf_init(&err, 1 << 20);
	error = kiln_proc_run(&status, &out, &err, argv);
	if (error < 0)
		goto done;
	if (status_out != NULL) {
		*status_out = status;
	} else if (status != 0) {
		kiln_buf_rtrim(&err);
		error =
		    kiln_error_set(KILN_ERROR, "%s: ip exited with %d: %s", what, status, err.ptr);
	}
done:
	kiln_buf_release(&out);
	kiln_buf_release(&err);
	return error;
}

/* Whether interface `name` exists in the host's network namespace. */
static int link_exists(const char *name)
{
	char *path = kiln_xasprintf("/sys/class/net/%s", name);
	int exists = access(path, F_OK) == 0;

	free(path);
	return exists;
}

int lc_net_run_batch(const char *what, const char *netns_pid, const char *batch_file)
{
	char *const host[] = {"ip", "-batch", (char *)batch_file, NULL};
	char *nsarg = NULL;
	int error;

	if (netns_pid == NULL)
		return ip_run(what, host, NULL);
	nsarg = kiln_xasprintf("--net=/proc/%s/ns/net", netns_pid);
	{
		char *const ns[] = {"nsenter", nsarg, "ip", "-batch", (char *)batch_file, NULL};
		error = ip_run(what, ns, NULL);
	}
	free(nsarg);
	return error;
}

/* *has is 1 when `bridge` holds `addr` ("10.0.0.1/24"). */
static int has_addr(int *has, const char *bridge, const char *addr)
{
	char *const show[] = {"ip", "-o", "-4", "addr", "show", "dev", (char *)bridge, NULL};
	struct kiln_buf shown = KILN_BUF_INIT;
	size_t n = strlen(addr);
	int status = 0, error;
	const char *p;

	*has = 0;
	error = kiln_proc_run(&status, &shown, NULL, show);
	for (p = shown.ptr; error == 0 && (p = strstr(p, addr)) != NULL; p += n)
		if (p > shown.ptr && p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
			*has = 1;
	kiln_buf_release(&shown);
	return error;
}

/*
 * The bridge's own MAC address, fixed (locally administered, from its
 * name). A bridge left to choose takes the lowest of its ports' and
 * changes it when a port comes or goes: each instance would then keep
 * sending to a MAC address no longer the host's (this host's and the load
 * balancers' addresses stop answering it) until its neighbour entry
 * expires, seconds after any instance was terminated.
 */
static void bridge_mac(char out[18], const char *bridge)
{
	char hex[65];

	kiln_sha256_hex(hex, bridge, strlen(bridge));
	snprintf(out, 18, "02:%.2s:%.2s:%.2s:%.2s:%.2s", hex, hex + 2, hex + 4, hex + 6, hex + 8);
}

int lc_net_up(struct lc_net *net, const char *bridge, const char *cidr)
{
	char mac[18];
	char *const add_link[] = {"ip",      "link", "add",  "name",   (char *)bridge,
	                          "address", mac,    "type", "bridge", NULL};
	char *const set_mac[] = {"ip", "link", "set", "dev", (char *)bridge, "address", mac, NULL};
	char *const up[] = {"ip", "link", "set", "dev", (char *)bridge, "up", NULL};
	char gw[16], *addr = NULL;
	int error, status = 0, has = 0;

	KILN_ASSERT_ARG(net != NULL && bridge != NULL && cidr != NULL);
	memset(net, 0, sizeof(*net));
	if (!valid_ifname(bridge))
		return kiln_error_set(KILN_EINVAL, "invalid bridge name '%s'", bridge);
	error = lc_cidr_parse(&net->network, &net->prefix, cidr);
	if (error < 0)
		return error;
	snprintf(net->bridge, sizeof(net->bridge), "%s", bridge);
	bridge_mac(mac, bridge);
	net->gateway = net->network + 1;
	lc_ip_format(gw, net->gateway);
	addr = kiln_xasprintf("%s/%d", gw, net->prefix);

	if (!link_exists(bridge)) {
		error = ip_run("cannot create bridge", add_link, &status);
		if (error < 0)
			goto done;
		/* Another caller may have created it in between: adopt it. */
		if (status != 0 && !link_exists(bridge)) {
			error = kiln_error_set(KILN_ERROR, "cannot create bridge '%s'", bridge);
			goto done;
		}
	}
	error = has_addr(&has, bridge, addr);
	if (error == 0 && !has) {
		char *const add[] = {"ip", "addr", "add", addr, "dev", (char *)bridge, NULL};
		error = ip_run("cannot add the gateway address", add, NULL);
		/* Lost a race with another caller adding the same address: adopt it. */
		if (error < 0 && has_addr(&has, bridge, addr) == 0 && has) {
			kiln_error_clear();
			error = 0;
		}
	}
	/* a bridge an older kiln made (adopted) gets its fixed address too */
	if (error == 0)
		error = ip_run("cannot set the bridge's MAC address", set_mac, NULL);
	if (error == 0)
		error = ip_run("cannot bring the bridge up", up, NULL);
done:
	if (error < 0)
		kiln_error_prefix(error, "bridge '%s'", bridge);
	free(addr);
	return error;
}

int lc_net_down(struct lc_net *net)
{
	KILN_ASSERT_ARG(net != NULL);
	if (net->bridge[0] == '\0' || !link_exists(net->bridge))
		return 0;
	char *const del[] = {"ip", "link", "del", "dev", net->bridge, NULL};
	return ip_run("cannot remove the bridge", del, NULL);
}

int lc_net_link_del(const char *name)
{
	int status = 0, error;

	if (!valid_ifname(name))
		return kiln_error_set(KILN_EINVAL, "invalid interface name '%s'", name);
	if (!link_exists(name))
		return 0;
	char *const del[] = {"ip", "link", "del", "dev", (char *)name, NULL};
	error = ip_run("cannot remove interface", del, &status);
	/* The kernel removes a veth by itself when its namespace goes away. */
	if (error == 0 && status != 0 && link_exists(name))
		error = kiln_error_set(KILN_ERROR, "cannot remove interface '%s'", name);
	return error;
}

int lc_net_attach(const struct lc_net *net, const char *host_if, const char *peer_if, pid_t pid,
                  uint32_t ip, const char *dir)
{
	struct kiln_buf host = KILN_BUF_INIT, inside = KILN_BUF_INIT;
	char *host_file = kiln_xasprintf("%s/net-host.ip", dir);
	char *ns_file = kiln_xasprintf("%s/net-ns.ip", dir);
	char *pidstr = kiln_xasprintf("%d", (int)pid);
	char addr[16], gw[16];
	int error;

	KILN_ASSERT_ARG(valid_ifname(host_if) && valid_ifname(peer_if));
	lc_ip_format(addr, ip);
	lc_ip_format(gw, net->gateway);
	if (ip <= net->gateway || (ip & ~lc_netmask(net->prefix)) == ~lc_netmask(net->prefix) ||
	    (ip & lc_netmask(net->prefix)) != net->network) {
		error =
		    kiln_error_set(KILN_EINVAL, "address %s is not usable in the network of '%s'",
		                   addr, net->bridge);
		goto done;
	}
	/* A leftover from a crash with the same name would make "add" fail. */
	error = lc_net_link_del(host_if);
	if (error < 0)
		goto done;
	/*
	 * The address may have been another instance's a moment ago (a builder
	 * just terminated): the host's neighbour entry would still name that
	 * instance's MAC address, and this host's packets to the new one (SSH,
	 * HAProxy's health checks) would go nowhere until it expired, up to
	 * 45 s. Flushing an entry that is not there is no error.
	 */
	kiln_buf_printf(&host, "neigh flush to %s dev %s\n", addr, net->bridge);
	kiln_buf_printf(&host, "link add %s type veth peer name %s\n", host_if, peer_if);
	kiln_buf_printf(&host, "link set dev %s master %s up\n", host_if, net->bridge);
	kiln_buf_printf(&host, "link set dev %s netns %d\n", peer_if, (int)pid);
	kiln_buf_printf(&inside, "link set dev lo up\n");
	kiln_buf_printf(&inside, "link set dev %s name eth0\n", peer_if);
	kiln_buf_printf(&inside, "addr add %s/%d dev eth0\n", addr, net->prefix);
	kiln_buf_printf(&inside, "link set dev eth0 up\n");
	kiln_buf_printf(&inside, "route add default via %s dev eth0\n", gw);
	error = kiln_file_write_atomic(host_file, host.ptr, host.size, 0600);
	if (error < 0)
		goto done;
	error = kiln_file_write_atomic(ns_file, inside.ptr, inside.size, 0600);
	if (error < 0)
		goto done;
	error = lc_net_run_batch("cannot create the veth pair", NULL, host_file);
	if (error < 0)
		goto done;
	error = lc_net_run_batch("cannot configure the instance's network", pidstr, ns_file);
	if (error < 0)
		lc_net_link_del(host_if);
done:
	kiln_buf_release(&host);
	kiln_buf_release(&inside);
	free(host_file);
	free(ns_file);
	free(pidstr);
	return error;
}

/* "ip addr add|del IP/32 dev BRIDGE"; adding one that is there, or removing one that is not, is
 * fine. */
static int bridge_addr(const struct lc_net *net, const char *verb, const char *ip)
{
	char *addr = kiln_xasprintf("%s/32", ip);
	char *const argv[] = {"ip", "addr", (char *)verb, addr, "dev", (char *)net->bridge, NULL};
	int status = 0, error = ip_run("bridge address", argv, &status);

	free(addr);
	return error;
}

/*
 * The host connects to an address of its own from that address unless its
 * local route names another: the bridge's, so that a load balancer's security
 * groups see the host as the bridge's address (README), not as a member of
 * their own group.
 */
int lc_net_addr_add(const struct lc_net *net, const char *ip)
{
	char gateway[16];
	char *const argv[] = {
	    "ip",    "route", "replace", "local",  (char *)ip, "dev",  (char *)net->bridge,
	    "table", "local", "proto",   "kernel", "scope",    "host", "src",
	    gateway, NULL};
	int error = bridge_addr(net, "add", ip);

	lc_ip_format(gateway, net->gateway);
	if (error == 0)
		error = ip_run("the bridge address's route", argv, NULL);
	return error;
}

int lc_net_addr_del(const struct lc_net *net, const char *ip)
{
	return bridge_addr(net, "del", ip);
}
