/*
 * Internal to the local cloud's runtime: the veth pair of one instance and
 * small network helpers shared by machine.c and the tests.
 */
#ifndef KILN_LOCALCLOUD_NET_INT_H
#define KILN_LOCALCLOUD_NET_INT_H

#include <stdint.h>
#include <sys/types.h>

struct lc_net;

/* "10.213.0.5" for a host-order address; out holds 16 bytes. */
void lc_net_format_ip(char out[16], uint32_t ip);
/* "ip -batch FILE", inside the network namespace of `netns_pid` when not NULL. */
int lc_net_run_batch(const char *what, const char *netns_pid, const char *batch_file);
/*
 * Create the veth pair `host_if` (on the bridge) / `peer_if`, move the peer
 * into the network namespace of `pid` as eth0 with `ip` and a default route
 * via the gateway, and bring loopback up. The batch files go into `dir`.
 */
int lc_net_attach(const struct lc_net *net, const char *host_if, const char *peer_if, pid_t pid,
                  uint32_t ip, const char *dir);
/* Remove interface `name` from the host when it exists. */
int lc_net_link_del(const char *name);

#endif
