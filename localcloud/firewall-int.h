/*
 * Internal to the local cloud: security groups that filter.
 *
 * Every instance's ingress is filtered inside its own network namespace by
 * one nftables table, "inet kiln", rendered from the security groups of the
 * instance (firewall.c) and applied with libnftables (nft.c). The table
 * drops whatever no ingress rule of the instance's groups allows; replies
 * to what the instance sent (conntrack's established and related) and its
 * loopback pass; egress is open. A rule's source is a CIDR block or a
 * security group, which stands for the current private addresses of the
 * group's members: the live instances and the load balancers that carry it.
 *
 * Who sends what on the bridge: this host uses the gateway address (the
 * network's first address, the bridge's own); a load balancer connects to
 * its targets (traffic and health checks) from its own address. So a rule
 * for "this host" names the gateway's /32 and a rule for a load balancer
 * names its security group.
 *
 * When rules apply: a machine boots with its table already in place (set
 * before its init runs); afterwards every change (rules authorized or
 * revoked, instances launched or gone, load balancers created, deleted or
 * regrouped) is applied by lc_fw_sync(), which renders every running
 * instance's table and replaces those that changed, each atomically (one
 * nftables transaction: never a moment without a filter). The API calls
 * that change rules or membership sync before they reply; the daemon's
 * watcher syncs whenever the state changed and every few seconds anyway,
 * and after a restart re-applies every table (the tables themselves live
 * on in the namespaces through a crash of the daemon, and die with them).
 * The periodic sync also compares each namespace's ruleset generation
 * with the one its last replacement left: a table changed from inside the
 * instance (its root has CAP_NET_ADMIN: `nft flush ruleset` in a service of
 * the image) is replaced again.
 */
#ifndef KILN_LOCALCLOUD_FIREWALL_INT_H
#define KILN_LOCALCLOUD_FIREWALL_INT_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

struct lc_cloud;
struct lc_req;

/* The nftables table of an instance's security groups. */
#define LC_FW_TABLE "inet kiln"

/*
 * The ruleset that replaces the table, for an instance in `groups` (an
 * array of security group objects as the state keeps them: "id", "rules"),
 * where `members` maps a group id to the array of its members' addresses.
 * Everything taken from the state is checked and rewritten (protocols,
 * ports, addresses as numbers): a rule that does not check out is left out,
 * never copied into the script.
 */
void lc_fw_ruleset(struct kiln_buf *out, json_t *groups, json_t *members);

/* The ruleset of instance `inst` from the state (cloud->mu held). */
void lc_fw_render(struct lc_cloud *c, json_t *inst, struct kiln_buf *out);

/*
 * Make every running machine's table match the state (lock not held; takes
 * cloud->mu to render). Cheap when nothing changed since the last sync
 * unless `force`. Returns 0, or -1 when a table could not be applied (the
 * next sync tries again).
 */
int lc_fw_sync(struct lc_cloud *c, int force);
/* An instance booted again (a new namespace): its table is applied anew at the next sync. */
void lc_fw_forget(struct lc_cloud *c, const char *instance_id);
/* The `after` step of the EC2 actions that change rules or membership. */
int lc_fw_sync_after(struct lc_req *r);
/* The firewall's share of the cloud: set up at open, released at close. */
void lc_fw_init(struct lc_cloud *c);
/*
 * How a sync applies a script to the machine of an instance directory:
 * lc_machine_firewall() (runtime-int.h), or a stand-in in tests. It
 * returns 0, KILN_ENOTFOUND when no machine runs there, or an error; *gen
 * is the namespace's ruleset generation afterwards. A NULL script only
 * reads the generation.
 */
typedef int (*lc_fw_apply_fn)(const char *dir, const char *script, uint32_t *gen);
void lc_fw_set_apply(struct lc_cloud *c, lc_fw_apply_fn apply);
void lc_fw_release(struct lc_cloud *c);

/*
 * nft.c: run an nftables script in the network namespace `netns_fd` refers
 * to (one transaction: all or nothing), with nftables' own message on
 * failure; the namespace's ruleset generation afterwards into *gen when
 * not NULL (a NULL script only reads it). Runs on a thread of its own, so
 * that no thread of the daemon ever changes namespace; one at a time.
 */
int lc_nft_apply(int netns_fd, const char *script, uint32_t *gen);
/* A script in the network namespace of process `pid`. */
int lc_nft_apply_pid(pid_t pid, const char *script);

#endif
