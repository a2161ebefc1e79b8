/*
 * Internal to the local cloud: the daemon's life (daemon.c) as control.c
 * starts it, and the names both derive from a state directory.
 */
#ifndef KILN_LOCALCLOUD_DAEMON_INT_H
#define KILN_LOCALCLOUD_DAEMON_INT_H

struct kiln_cloud_opts;

/*
 * Run the cloud of `state_dir` (absolute, locked by the caller) in this
 * process until SIGTERM or SIGINT. Once it answers, or when it cannot
 * start, one line goes to `ready_fd` (when >= 0): "ok ENDPOINT" or
 * "error MESSAGE".
 */
int lc_daemon_run(const struct kiln_cloud_opts *o, const char *state_dir, int ready_fd);
/* The bridge of a state directory: "kc" and 8 hex digits of its path's hash. */
void lc_bridge_name(char out[16], const char *state_dir);

#endif
