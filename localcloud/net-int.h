/*
 * Internal to the local cloud: the one place that knows IPv4 networks (the
 * CIDR blocks the cloud accepts, addresses, what a subnet can lend) and the
 * veth pair of one instance. Addresses are uint32_t in host byte order.
 */
#ifndef KILN_LOCALCLOUD_NET_INT_H
#define KILN_LOCALCLOUD_NET_INT_H

#include <stdint.h>
#include <sys/types.h>

struct lc_net;

/*
 * The cloud's network (--cidr) and the runtime's bridges: from /8 (room to
 * spare) to /26 (three default subnets of /28, eleven usable addresses each).
 */
#define LC_CIDR_MIN_PREFIX 8
#define LC_CIDR_MAX_PREFIX 26

/* "a.b.c.d/p" with the host bits zero and p within the limits above; else KILN_EINVAL. */
int lc_cidr_parse(uint32_t *network, int *prefix, const char *cidr);
/* The mask of a prefix length: 0xffffff00 for 24. */
uint32_t lc_netmask(int prefix);
/* "10.213.0.5" for a host-order address; out holds 16 bytes. */
void lc_ip_format(char out[16], uint32_t ip);
/* Parse a dotted quad; -1 when it is not one. */
int lc_ip_parse(uint32_t *out, const char *s);
/* How many addresses instances may use in a subnet, and which (EC2 keeps five). */
long long lc_subnet_capacity(int prefix);
void lc_subnet_range(uint32_t base, int prefix, uint32_t *first, uint32_t *last);
/* "ip -batch FILE", inside the network namespace of `netns_pid` when not NULL. */
int lc_net_run_batch(const char *what, const char *netns_pid, const char *batch_file);
/*
 * Create the veth pair `host_if` (on the bridge) / `peer_if`, move the peer
 * into the network namespace of `pid` as eth0 with `ip` and a default route
 * via the gateway, and bring loopback up. The batch files go into `dir`.
 */
int lc_net_attach(const struct lc_net *net, const char *host_if, const char *peer_if, pid_t pid,
                  uint32_t ip, const char *dir);
/* An address of the host's own on the bridge (a load balancer's), and its removal. */
int lc_net_addr_add(const struct lc_net *net, const char *ip);
int lc_net_addr_del(const struct lc_net *net, const char *ip);
/* Remove interface `name` from the host when it exists. */
int lc_net_link_del(const char *name);

#endif
