/*
 * Internal to the local cloud: what one load balancer's HAProxy should be,
 * rendered from the state (lb.c), and how the daemon makes it so (lbsync.c).
 *
 * The configuration is split in two: its structure (frontends, backends,
 * settings: a change is a seamless reload) and what the runtime API can
 * change without one (which servers each backend has and their admin
 * state, the routing maps, the allowed sources). A sync renders the
 * desired load balancer under the cloud's lock and applies the difference
 * without it.
 */
#ifndef KILN_LOCALCLOUD_LB_INT_H
#define KILN_LOCALCLOUD_LB_INT_H

#include <jansson.h>

#include "core/buf.h"

struct lc_cloud;

struct lb_desired {
	char *arn;
	char *dir;                 /* STATE/lbs/<id> */
	char *ip;                  /* its address on the bridge */
	int active;                /* not being deleted */
	struct kiln_buf structure; /* the configuration without the servers */
	struct kiln_buf full;      /* with them all: what a start reads */
	struct kiln_buf reload;    /* with those HAProxy has: what a reload reads */
	/*
	 * "backend/server" -> {"line": its parameters for "add server",
	 * "admin": "ready" | "drain" | "maint", "checked": health-checked (a
	 * new one starts down, "initial" as on AWS), "since": when its target
	 * was registered}
	 */
	json_t *servers;
	json_t *files; /* file name in dir -> content (maps, ACLs, fixed responses) */
};

/*
 * Render the load balancer `arn` as the state has it (cloud->mu held); -1
 * when it is gone. `known` names the servers the running HAProxy has: a
 * reload keeps those (their states carried over) and the others are added
 * at run time afterwards, so that they start down, as new targets do.
 */
int lc_lb_render(struct lb_desired *out, struct lc_cloud *c, const char *arn, json_t *known);
void lc_lb_desired_release(struct lb_desired *d);
/* The directory of a load balancer's HAProxy. */
char *lc_lb_dir(struct lc_cloud *c, const char *lb_id);
/* Server names: "t_<instance>_<port>" (health-checked) and "b_..." (its fail-open backup). */
void lc_lb_server_name(char out[64], char kind, const char *target_key);

#ifdef KILN_UNITTEST
/* lbsync.c: the next runtime command adding lines of `p` to a map or ACL (kind "map" or "acl"). */
void lc_lb_add_command(struct kiln_buf *cmd, const char *kind, long ver, const char *path,
                       const char *p, const char **end);
#endif

#endif
