/*
 * Internal to the local cloud: one load balancer's HAProxy, as a process
 * and a runtime API. Nothing here knows ELBv2; lb.c says what the
 * configuration is.
 *
 * Each load balancer has a directory (STATE/lbs/<id>/) holding its
 * haproxy.cfg, the files the configuration reads (maps, ACLs, fixed
 * responses), haproxy.pid, servers.state and two sockets: admin.sock (the
 * runtime API of the current worker) and master.sock. HAProxy runs in
 * master-worker mode, daemonized in its own session: it keeps serving when
 * the cloud's daemon dies, and a restarted daemon adopts it by its pid
 * file. A reload hands the listening sockets to the new worker (seamless:
 * no connection refused) and carries every server's state over through
 * servers.state.
 */
#ifndef KILN_LOCALCLOUD_HAPROXY_INT_H
#define KILN_LOCALCLOUD_HAPROXY_INT_H

#include <sys/types.h>

#include "core/buf.h"

/* The master's pid when HAProxy runs for `dir`, else 0. */
pid_t lc_haproxy_pid(const char *dir);
/* Check `config` with haproxy -c; KILN_EINVAL with HAProxy's own message. */
int lc_haproxy_check(const char *dir, const char *config);
/* Write `config` to dir/haproxy.cfg and start HAProxy; returns once it answers. */
int lc_haproxy_start(const char *dir, const char *config);
/*
 * Write `config` and reload: the servers' states are saved first, and the
 * call returns once the new worker answers (the old one finishes its
 * connections and exits by itself).
 */
int lc_haproxy_reload(const char *dir, const char *config);
/* Stop HAProxy: soft (finish connections) within `timeout`, then hard. */
int lc_haproxy_stop(const char *dir, double timeout);
/*
 * Commands on the runtime API, in one connection: "cmd1; cmd2" or one
 * command with a payload ("add map @1 f <<\nk v\n\n"). The answer in `out`
 * (bounded); KILN_ERROR when HAProxy does not answer within a second.
 */
int lc_haproxy_cmd(const char *dir, const char *cmd, struct kiln_buf *out);

#endif
