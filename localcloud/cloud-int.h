/*
 * Internal to the local cloud's daemon: the cloud every handler shares and
 * its state.
 *
 * The state is one JSON document in memory ("tables" of resources keyed by
 * id: instances, images, security_groups, ...), saved atomically to
 * STATE/state.json before a reply leaves whenever a handler changed it.
 *
 * Concurrency: the HTTP server (http.c) answers on a pool of workers. A request is
 * received, verified and its parameters sorted without any lock; the
 * handler then runs with `cloud->mu` held. Slow work never runs under the
 * lock: booting and stopping machines (runner.c), capturing layers
 * (images.c), creating keys (keypairs.c) and removing directories happen
 * outside it, and take the lock only to read their orders and record the
 * outcome.
 */
#ifndef KILN_LOCALCLOUD_CLOUD_INT_H
#define KILN_LOCALCLOUD_CLOUD_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "localcloud/runtime-int.h"

#define LC_NZONES 3

struct lc_runner;
struct lc_lb_runtime;
struct lc_fw;

struct lc_cloud {
	char *state_dir;
	char *layers_dir;    /* STATE/layers/<layer id>/ */
	char *instances_dir; /* STATE/instances/<instance id>/ */
	char *init_exe;      /* the program instances' init runs */
	int port;
	char cidr[32];
	char region[32];
	char account[16];
	char access_key[64];
	char secret_key[128];

	const struct lc_machines *machines; /* lc_machines_linux but in tests */
	struct lc_net net;
	uint32_t subnet_base[LC_NZONES];
	int subnet_prefix;

	pthread_mutex_t mu;
	pthread_cond_t cond; /* signalled when an instance's orders or state change */
	json_t *st;          /* the state, saved to STATE/state.json */
	struct lc_runner *runners;
	int workers; /* image captures in flight (never saved) */
	pthread_t reaper;
	int reaper_started;
	volatile int stopping;
	double started;
	int reqlog_fd;
	/* load balancers: what each HAProxy was last given, and their targets' health */
	pthread_mutex_t lbs_mu;
	struct lc_lb_runtime *lbs_rt;
	json_t *lb_health;      /* "tg_<id>/t_<target>" -> what HAProxy said last (cloud->mu) */
	double terminated_ttl;  /* seconds a terminated instance stays visible */
	unsigned long long gen; /* bumped by every save of the state (cloud->mu) */
	struct lc_fw *fw;       /* what each machine's security groups table is (firewall.c) */
};

struct kiln_cloud_opts;
/*
 * The cloud of a state directory, from the options (or their defaults):
 * its configuration, its directories and its state loaded, the default VPC
 * set up. No network, server or thread: lc_daemon_run() adds those, tests
 * use the cloud as it is.
 */
int lc_cloud_open(struct lc_cloud *c, const struct kiln_cloud_opts *o, const char *state_dir);
void lc_cloud_close(struct lc_cloud *c);

/* The table `name` of the state, created when missing (cloud->mu held). */
json_t *lc_table(struct lc_cloud *c, const char *name);
int lc_state_save(struct lc_cloud *c);
int lc_state_load(struct lc_cloud *c);
/* "PREFIX" + 17 random hex digits, as EC2's ids. */
char *lc_new_id(const char *prefix);
void lc_now_iso(char out[32]);
/* A string member, or NULL. */
const char *lc_str(json_t *obj, const char *key);
/* The resource of any kind with this id (for tags), its table name in *kind. */
json_t *lc_find_any(struct lc_cloud *c, const char *id, const char **kind);

#endif
