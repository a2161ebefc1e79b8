/*
 * `kiln cloud`: the local cloud daemon and the commands that address it.
 *
 * One daemon per state directory: it holds STATE/cloud.lock (flock) for its
 * whole life, writes STATE/cloud.pid and STATE/endpoint once it answers, logs
 * to STATE/cloud.log and appends one JSON line per request to
 * STATE/requests.jsonl. Everything else under STATE is its state: state.json
 * (written atomically), layers/ and instances/.
 */
#ifndef KILN_LOCALCLOUD_CLOUD_H
#define KILN_LOCALCLOUD_CLOUD_H

#include <jansson.h>

#include "core/paths.h"

#define KILN_CLOUD_DEFAULT_PORT 4566
#define KILN_CLOUD_DEFAULT_CIDR "172.31.0.0/16"
#define KILN_CLOUD_ACCESS_KEY   "test"
#define KILN_CLOUD_SECRET_KEY   "test"
#define KILN_CLOUD_REGION       "us-east-1"
#define KILN_CLOUD_ACCOUNT      "000000000000"

struct kiln_cloud_opts {
	const char *state_dir; /* NULL: the default */
	int port;              /* 0: the default */
	const char *cidr;      /* NULL: the default */
	int foreground;        /* run in this process until SIGTERM/SIGINT */
	/*
	 * The program instances' init runs ("PROGRAM cloud __init ..."): NULL
	 * for this program, which must then pass that command to
	 * kiln_cloud_init_main() as kiln does; a program that only links
	 * libkiln names the kiln binary here.
	 */
	const char *init_exe;
	double terminated_ttl; /* seconds terminated instances stay listed; 0: an hour */
};

/*
 * Start the daemon. In the background (the default) it returns once the
 * daemon answers, with its endpoint in *endpoint; a daemon already running
 * on the state directory is KILN_EEXISTS. In the foreground it returns when
 * the daemon has stopped.
 */
int kiln_cloud_up(const struct kiln_cloud_opts *o, char **endpoint);
/* Stop the daemon of `state_dir` and its instances; KILN_ENOTFOUND when none runs. */
int kiln_cloud_down(const char *state_dir, double timeout);
/* {"running", "pid", "endpoint", "state_dir", "uptime_seconds", "counts": {...}} */
int kiln_cloud_status(json_t **out, const char *state_dir);
/* The endpoint of the running daemon; KILN_ENOTFOUND when none runs. */
int kiln_cloud_endpoint(char **out, const char *state_dir);
/* Register a base image built with debootstrap (cached) or imported; *image_id "ami-...". */
int kiln_cloud_image_debootstrap(char **image_id, const char *state_dir, const char *name,
                                 const char *suite);
int kiln_cloud_image_import(char **image_id, const char *state_dir, const char *name,
                            const char *source);

/*
 * The init inside an instance ("kiln cloud __init ..."): the command that
 * dispatches "cloud __init" calls it first thing, with its argv (whole, or
 * from "__init" on). Returns only when the boot fails; exit with its value.
 */
int kiln_cloud_init_main(int argc, char **argv);

#endif
