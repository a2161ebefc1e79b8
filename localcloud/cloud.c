/*
 * The cloud of one state directory: configuration, directories, state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "localcloud/cloud-int.h"
#include "localcloud/cloud.h"
#include "localcloud/ec2-int.h"
#include "localcloud/elbv2-int.h"
#include "localcloud/firewall-int.h"

int lc_cloud_open(struct lc_cloud *c, const struct kiln_cloud_opts *o, const char *state_dir)
{
	memset(c, 0, sizeof(*c));
	c->state_dir = kiln_xstrdup(state_dir);
	c->layers_dir = kiln_path_join(state_dir, "layers");
	c->instances_dir = kiln_path_join(state_dir, "instances");
	c->port = o->port ? o->port : KILN_CLOUD_DEFAULT_PORT;
	snprintf(c->cidr, sizeof(c->cidr), "%s", o->cidr ? o->cidr : KILN_CLOUD_DEFAULT_CIDR);
	snprintf(c->region, sizeof(c->region), "%s", KILN_CLOUD_REGION);
	snprintf(c->account, sizeof(c->account), "%s", KILN_CLOUD_ACCOUNT);
	snprintf(c->access_key, sizeof(c->access_key), "%s", KILN_CLOUD_ACCESS_KEY);
	snprintf(c->secret_key, sizeof(c->secret_key), "%s", KILN_CLOUD_SECRET_KEY);
	c->terminated_ttl = o->terminated_ttl > 0 ? o->terminated_ttl : 3600;
	c->init_exe = o->init_exe ? kiln_xstrdup(o->init_exe) : NULL;
	c->machines = &lc_machines_linux;
	c->reqlog_fd = -1;
	c->started = kiln_time_now();
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->lbs_mu, NULL);
	c->lb_health = json_object();
	lc_fw_init(c);
	pthread_cond_init(&c->cond, NULL);
	if (kiln_mkdir_p(c->layers_dir, 0700) < 0 || kiln_mkdir_p(c->instances_dir, 0700) < 0)
		return -1;
	if (lc_state_load(c) < 0 || lc_vpc_setup(c) < 0)
		return -1;
	return 0;
}

void lc_cloud_close(struct lc_cloud *c)
{
	lc_lbs_release(c);
	lc_fw_release(c);
	json_decref(c->lb_health);
	pthread_mutex_destroy(&c->lbs_mu);
	json_decref(c->st);
	free(c->state_dir);
	free(c->layers_dir);
	free(c->instances_dir);
	free(c->init_exe);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cond);
	memset(c, 0, sizeof(*c));
}
