/*
 * The local cloud's EC2 instances, images and snapshots: the API handlers
 * and the runners that make the state real.
 *
 * Each live instance has a runner thread. Handlers only change an instance's
 * "state" (pending, stopping, shutting-down) or set "reboot"; the runner sees
 * the change, boots or stops the machine outside the lock, and records the
 * outcome (running, stopped, terminated). A machine that powers itself off is
 * noticed by its runner: it becomes stopped, or terminated when the instance
 * was launched with InstanceInitiatedShutdownBehavior=terminate.
 */
#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "aws/shapes.h"
#include "core/log.h"
#include "core/util.h"
#include "localcloud/cloud-int.h"
#include "localcloud/ec2-int.h"

#define LC_CONSOLE_MAX   (64 * 1024)
#define LC_USER_DATA_MAX (16 * 1024)

struct lc_runner {
	struct lc_runner *next;
	struct lc_cloud *c;
	char id[32];
	pthread_t thread;
	int finished;
};

static int state_code(const char *s)
{
	static const struct {
		const char *name;
		int code;
	} codes[] = {{"pending", 0},     {"running", 16},  {"shutting-down", 32},
	             {"terminated", 48}, {"stopping", 64}, {"stopped", 80}};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i].name, s) == 0)
			return codes[i].code;
	return 0;
}

static const char *arch(void)
{
	struct utsname u;
	static char a[32];
	if (uname(&u) == 0 && strcmp(u.machine, "aarch64") == 0)
		return "arm64";
	snprintf(a, sizeof(a), "x86_64");
	return a;
}

static json_t *instances(struct lc_cloud *c)
{
	return lc_table(c, "instances");
}

static char *instance_dir(struct lc_cloud *c, const char *id)
{
	return kiln_path_join(c->instances_dir, id);
}

static void set_state(json_t *inst, const char *state, const char *reason)
{
	json_object_set_new(inst, "state", json_string(state));
	if (reason)
		json_object_set_new(inst, "reason", json_string(reason));
}

static void set_state_reason(json_t *inst, const char *code, const char *message)
{
	json_object_set_new(inst, "state_reason",
	                    json_pack("{s:s, s:s}", "code", code, "message", message));
}

long long lc_subnet_used(struct lc_cloud *c, const char *subnet_id)
{
	const char *k;
	json_t *v;
	long long n = 0;

	json_object_foreach(instances(c), k, v)
	{
		if (strcmp(lc_str(v, "state"), "terminated") != 0 &&
		    strcmp(lc_str(v, "subnet"), subnet_id) == 0)
			n++;
	}
	return n;
}

/* ---- runners ------------------------------------------------------------ */

struct boot_spec {
	char *dir, *hostname, *user, *key;
	char **layers;
	size_t nlayers;
	unsigned char *user_data;
	size_t user_data_len;
	uint32_t ip;
};

static void boot_spec_release(struct boot_spec *b)
{
	for (size_t i = 0; i < b->nlayers; i++)
		free(b->layers[i]);
	free(b->layers);
	free(b->dir);
	free(b->hostname);
	free(b->user);
	free(b->key);
	free(b->user_data);
	memset(b, 0, sizeof(*b));
}

/* Base64 text into a new buffer (NULL and 0 when empty); -1 when malformed. */
static int base64_decode(unsigned char **out, size_t *len, const char *in)
{
	struct kiln_buf b = KILN_BUF_INIT;

	*out = NULL;
	*len = 0;
	if (kiln_aws_base64_decode(&b, in) < 0) {
		kiln_buf_release(&b);
		kiln_error_clear();
		return -1;
	}
	*len = b.size;
	if (b.size)
		*out = (unsigned char *)kiln_buf_detach(&b);
	kiln_buf_release(&b);
	return 0;
}

/* What booting needs, copied out of the state (cloud->mu held). */
static void boot_spec_from(struct boot_spec *b, struct lc_cloud *c, json_t *inst)
{
	json_t *layers = json_object_get(inst, "layers"), *l;
	size_t i;

	memset(b, 0, sizeof(*b));
	b->dir = instance_dir(c, lc_str(inst, "id"));
	b->hostname = kiln_xstrdup(lc_str(inst, "hostname"));
	b->user = kiln_xstrdup(lc_str(inst, "login_user") ? lc_str(inst, "login_user") : "root");
	b->key = lc_str(inst, "public_key") ? kiln_xstrdup(lc_str(inst, "public_key")) : NULL;
	b->nlayers = json_array_size(layers);
	b->layers = kiln_xcalloc(b->nlayers + 1, sizeof(*b->layers));
	json_array_foreach(layers, i, l) b->layers[i] =
	    kiln_path_join(c->layers_dir, json_string_value(l));
	if (lc_str(inst, "user_data"))
		base64_decode(&b->user_data, &b->user_data_len, lc_str(inst, "user_data"));
	lc_ip_parse(&b->ip, lc_str(inst, "ip"));
}

static int boot(struct lc_cloud *c, const char *id, struct boot_spec *b, struct lc_machine **m)
{
	struct lc_machine_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.id = id;
	spec.dir = b->dir;
	spec.layers = (const char *const *)b->layers;
	spec.nlayers = b->nlayers;
	spec.net = &c->net;
	spec.ip = b->ip;
	spec.hostname = b->hostname;
	spec.login_user = b->user;
	spec.authorized_key = b->key;
	spec.user_data = b->user_data;
	spec.user_data_len = b->user_data_len;
	return lc_machine_start(m, &spec);
}

/* Remove what terminate removes: everything but the console. */
static void discard_instance_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *p;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, "console.log") == 0)
			continue;
		p = kiln_path_join(dir, e->d_name);
		if (kiln_rm_rf(p) < 0)
			kiln_log_warn("removing %s: %s", p, kiln_error_last());
		free(p);
	}
	closedir(d);
}

static void *runner_main(void *arg)
{
	struct lc_runner *run = arg;
	struct lc_cloud *c = run->c;
	struct lc_machine *m = NULL;
	char now[32];

	pthread_mutex_lock(&c->mu);
	while (!c->stopping) {
		json_t *inst = json_object_get(instances(c), run->id);
		const char *state = inst ? lc_str(inst, "state") : "terminated";
		struct timespec ts;

		if (strcmp(state, "pending") == 0) {
			struct boot_spec b;
			int rc;
			boot_spec_from(&b, c, inst);
			pthread_mutex_unlock(&c->mu);
			if (m) {
				lc_machine_stop(m, 10);
				lc_machine_free(m);
				m = NULL;
			}
			rc = boot(c, run->id, &b, &m);
			boot_spec_release(&b);
			pthread_mutex_lock(&c->mu);
			inst = json_object_get(instances(c), run->id);
			if (inst == NULL)
				break;
			if (rc < 0) {
				kiln_log_error("%s: boot failed: %s", run->id, kiln_error_last());
				set_state(inst, "stopped", "Server.InternalError");
				set_state_reason(inst, "Server.InternalError", kiln_error_last());
			} else if (strcmp(lc_str(inst, "state"), "pending") == 0) {
				lc_now_iso(now);
				set_state(inst, "running", "");
				json_object_del(inst, "state_reason");
				json_object_set_new(inst, "launched", json_string(now));
				kiln_log_info("%s: running at %s (pid %d)", run->id,
				              lc_str(inst, "ip"), (int)m->pid);
			}
			lc_state_save(c);
			pthread_cond_broadcast(&c->cond);
			continue;
		}
		if (strcmp(state, "running") == 0) {
			int status = 0;
			if (m == NULL) {
				set_state(inst, "pending", NULL);
				continue;
			}
			if (json_is_true(json_object_get(inst, "reboot"))) {
				struct boot_spec b;
				int rc;
				json_object_del(inst, "reboot");
				boot_spec_from(&b, c, inst);
				pthread_mutex_unlock(&c->mu);
				lc_machine_stop(m, 10);
				lc_machine_free(m);
				m = NULL;
				rc = boot(c, run->id, &b, &m);
				boot_spec_release(&b);
				pthread_mutex_lock(&c->mu);
				inst = json_object_get(instances(c), run->id);
				if (inst && rc < 0) {
					set_state(inst, "stopped", "Server.InternalError");
					set_state_reason(inst, "Server.InternalError",
					                 kiln_error_last());
					lc_state_save(c);
				}
				continue;
			}
			if (lc_machine_exited(m, &status)) {
				int terminate = strcmp(lc_str(inst, "shutdown_behavior")
				                           ? lc_str(inst, "shutdown_behavior")
				                           : "stop",
				                       "terminate") == 0;
				kiln_log_info("%s: powered off (status %d)", run->id, status);
				set_state(inst, terminate ? "shutting-down" : "stopping",
				          "User initiated shutdown");
				set_state_reason(
				    inst, "Client.InstanceInitiatedShutdown",
				    "Client.InstanceInitiatedShutdown: Instance initiated "
				    "shutdown");
				lc_state_save(c);
				continue;
			}
		}
		if (strcmp(state, "stopping") == 0 || strcmp(state, "shutting-down") == 0) {
			int terminate = strcmp(state, "shutting-down") == 0;
			char *dir = instance_dir(c, run->id);
			pthread_mutex_unlock(&c->mu);
			if (m) {
				lc_machine_stop(m, 20);
				lc_machine_free(m);
				m = NULL;
			}
			if (terminate)
				discard_instance_dir(dir);
			free(dir);
			pthread_mutex_lock(&c->mu);
			inst = json_object_get(instances(c), run->id);
			if (inst == NULL)
				break;
			if (terminate) {
				set_state(inst, "terminated", NULL);
				json_object_set_new(inst, "terminated_at",
				                    json_real(kiln_time_now()));
			} else if (strcmp(lc_str(inst, "state"), "stopping") == 0) {
				set_state(inst, "stopped", NULL);
			}
			lc_state_save(c);
			pthread_cond_broadcast(&c->cond);
			if (terminate)
				break;
			continue;
		}
		if (strcmp(state, "terminated") == 0)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->cond, &c->mu, &ts);
	}
	run->finished = 1;
	pthread_mutex_unlock(&c->mu);
	if (m) {
		/* the daemon is going down: the instance stays "running" in the state */
		lc_machine_stop(m, 10);
		lc_machine_free(m);
	}
	return NULL;
}

static int runner_start(struct lc_cloud *c, const char *id)
{
	struct lc_runner *run = kiln_xcalloc(1, sizeof(*run));

	run->c = c;
	snprintf(run->id, sizeof(run->id), "%s", id);
	if (pthread_create(&run->thread, NULL, runner_main, run) != 0) {
		free(run);
		return kiln_error_set(KILN_ERROR, "cannot start a thread for %s", id);
	}
	run->next = c->runners;
	c->runners = run;
	return 0;
}

/* Join runners that have finished (cloud->mu held; they do not take it after finishing). */
static void runners_prune(struct lc_cloud *c)
{
	struct lc_runner **p = &c->runners;

	while (*p) {
		struct lc_runner *run = *p;
		if (run->finished) {
			*p = run->next;
			pthread_join(run->thread, NULL);
			free(run);
		} else {
			p = &run->next;
		}
	}
}

int lc_instances_resume(struct lc_cloud *c)
{
	const char *k;
	json_t *v;

	lc_ensure_default_group(c);
	json_object_foreach(instances(c), k, v)
	{
		const char *s = lc_str(v, "state");
		char *dir = instance_dir(c, k);

		/* whatever a crashed daemon left of the machine goes first */
		if (access(dir, F_OK) == 0 && lc_machine_reap(dir) < 0)
			kiln_log_warn("%s: %s", k, kiln_error_last());
		free(dir);
		if (strcmp(s, "running") == 0 || strcmp(s, "pending") == 0) {
			set_state(v, "pending", NULL);
		} else if (strcmp(s, "stopping") == 0) {
			set_state(v, "stopped", NULL);
		} else if (strcmp(s, "shutting-down") == 0) {
			char *d = instance_dir(c, k);
			discard_instance_dir(d);
			free(d);
			set_state(v, "terminated", NULL);
			json_object_set_new(v, "terminated_at", json_real(kiln_time_now()));
		}
		if (strcmp(lc_str(v, "state"), "terminated") != 0 && runner_start(c, k) < 0)
			return -1;
	}
	/* images a crash left pending never finish: mark them failed */
	json_object_foreach(lc_table(c, "images"), k, v)
	{
		if (strcmp(lc_str(v, "state"), "pending") == 0) {
			json_object_set_new(v, "state", json_string("failed"));
			json_object_set_new(v, "state_reason",
			                    json_pack("{s:s, s:s}", "code", "Server.InternalError",
			                              "message",
			                              "the local cloud restarted while the "
			                              "image was being created"));
		}
	}
	return lc_state_save(c);
}

void lc_instances_shutdown(struct lc_cloud *c)
{
	struct lc_runner *run, *next;

	pthread_mutex_lock(&c->mu);
	c->stopping = 1;
	pthread_cond_broadcast(&c->cond);
	run = c->runners;
	c->runners = NULL;
	pthread_mutex_unlock(&c->mu);
	for (; run; run = next) {
		next = run->next;
		pthread_join(run->thread, NULL);
		free(run);
	}
	/* image workers hold a reference count in the state; wait for them */
	for (int i = 0; i < 600; i++) {
		long long busy;
		pthread_mutex_lock(&c->mu);
		busy = json_integer_value(json_object_get(c->st, "workers"));
		pthread_mutex_unlock(&c->mu);
		if (busy <= 0)
			break;
		kiln_sleep(0.05, NULL);
	}
}

void lc_instances_expire(struct lc_cloud *c)
{
	const char *k;
	json_t *v, *gone = json_array();
	double now = kiln_time_now();
	size_t i;

	pthread_mutex_lock(&c->mu);
	runners_prune(c);
	json_object_foreach(instances(c), k, v)
	{
		double at = json_real_value(json_object_get(v, "terminated_at"));
		if (strcmp(lc_str(v, "state"), "terminated") == 0 && at > 0 &&
		    now - at > c->terminated_ttl)
			json_array_append_new(gone, json_string(k));
	}
	json_array_foreach(gone, i, v)
	{
		char *dir = instance_dir(c, json_string_value(v));
		json_object_del(instances(c), json_string_value(v));
		kiln_rm_rf(dir);
		free(dir);
	}
	if (json_array_size(gone)) {
		lc_layers_collect(c);
		lc_state_save(c);
	}
	pthread_mutex_unlock(&c->mu);
	json_decref(gone);
}

static void mark_layer(json_t *used, json_t *layers)
{
	size_t i;
	json_t *l;
	json_array_foreach(layers, i, l)
	    json_object_set_new(used, json_string_value(l), json_true());
}

void lc_layers_collect(struct lc_cloud *c)
{
	json_t *used = json_object(), *v;
	const char *k;
	DIR *d;
	struct dirent *e;

	json_object_foreach(lc_table(c, "images"), k, v)
	    mark_layer(used, json_object_get(v, "layers"));
	json_object_foreach(instances(c), k, v)
	{
		if (strcmp(lc_str(v, "state"), "terminated") != 0)
			mark_layer(used, json_object_get(v, "layers"));
	}
	json_object_foreach(lc_table(c, "snapshots"), k, v)
	{
		if (lc_str(v, "layer"))
			json_object_set_new(used, lc_str(v, "layer"), json_true());
	}
	d = opendir(c->layers_dir);
	while (d && (e = readdir(d)) != NULL) {
		struct stat st;
		char *p;
		if (e->d_name[0] == '.' || strchr(e->d_name, '.') != NULL ||
		    json_object_get(used, e->d_name))
			continue;
		p = kiln_path_join(c->layers_dir, e->d_name);
		/* a layer being registered right now is young: leave it */
		if (stat(p, &st) == 0 && time(NULL) - st.st_mtime > 60) {
			kiln_log_info("removing unused layer %s", e->d_name);
			if (kiln_rm_rf(p) < 0)
				kiln_log_warn("%s", kiln_error_last());
		}
		free(p);
	}
	if (d)
		closedir(d);
	json_decref(used);
}

/* ---- XML ---------------------------------------------------------------- */

static void state_xml(struct kiln_buf *b, const char *name, const char *state)
{
	lc_xo(b, name);
	lc_xtf(b, "code", "%d", state_code(state));
	lc_xt(b, "name", state);
	lc_xc(b, name);
}

static void groups_xml(struct lc_req *r, json_t *inst)
{
	size_t i;
	json_t *g;

	lc_xo(r->out, "groupSet");
	json_array_foreach(json_object_get(inst, "groups"), i, g)
	{
		json_t *sg =
		    json_object_get(lc_table(r->c, "security_groups"), json_string_value(g));
		lc_xo(r->out, "item");
		lc_xt(r->out, "groupId", json_string_value(g));
		lc_xt(r->out, "groupName", sg ? lc_str(sg, "name") : "");
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, "groupSet");
}

static void instance_xml(struct lc_req *r, json_t *inst)
{
	const char *id = lc_str(inst, "id"), *state = lc_str(inst, "state");
	json_t *sn = lc_subnet(r->c, lc_str(inst, "subnet"));
	int live = strcmp(state, "terminated") != 0;
	char dns[96];

	snprintf(dns, sizeof(dns), "%s.ec2.internal", lc_str(inst, "hostname"));
	lc_xo(r->out, "item");
	lc_xt(r->out, "instanceId", id);
	lc_xt(r->out, "imageId", lc_str(inst, "image"));
	state_xml(r->out, "instanceState", state);
	lc_xt(r->out, "privateDnsName", live ? dns : "");
	lc_xt(r->out, "dnsName", "");
	lc_xt(r->out, "reason", lc_str(inst, "reason") ? lc_str(inst, "reason") : "");
	lc_xt(r->out, "keyName", lc_str(inst, "key_name"));
	lc_xtf(r->out, "amiLaunchIndex", "%lld",
	       json_integer_value(json_object_get(inst, "launch_index")));
	kiln_buf_puts(r->out, "<productCodes/>");
	lc_xt(r->out, "instanceType", lc_str(inst, "type"));
	lc_xt(r->out, "launchTime", lc_str(inst, "launched"));
	lc_xo(r->out, "placement");
	lc_xt(r->out, "availabilityZone", sn ? lc_str(sn, "zone") : "us-east-1a");
	lc_xt(r->out, "groupName", "");
	lc_xt(r->out, "tenancy", "default");
	lc_xc(r->out, "placement");
	kiln_buf_puts(r->out, "<monitoring><state>disabled</state></monitoring>");
	if (live) {
		lc_xt(r->out, "subnetId", lc_str(inst, "subnet"));
		lc_xt(r->out, "vpcId", sn ? lc_str(sn, "vpc") : NULL);
		lc_xt(r->out, "privateIpAddress", lc_str(inst, "ip"));
	}
	lc_xbool(r->out, "sourceDestCheck", 1);
	groups_xml(r, inst);
	if (json_object_get(inst, "state_reason")) {
		lc_xo(r->out, "stateReason");
		lc_xt(r->out, "code", lc_str(json_object_get(inst, "state_reason"), "code"));
		lc_xt(r->out, "message", lc_str(json_object_get(inst, "state_reason"), "message"));
		lc_xc(r->out, "stateReason");
	}
	lc_xt(r->out, "architecture", arch());
	lc_xt(r->out, "rootDeviceType", "ebs");
	lc_xt(r->out, "rootDeviceName", "/dev/xvda");
	lc_xo(r->out, "blockDeviceMapping");
	if (live) {
		lc_xo(r->out, "item");
		lc_xt(r->out, "deviceName", "/dev/xvda");
		lc_xo(r->out, "ebs");
		lc_xtf(r->out, "volumeId", "vol-%s", id + 2);
		lc_xt(r->out, "status", "attached");
		lc_xt(r->out, "attachTime", lc_str(inst, "created"));
		lc_xbool(r->out, "deleteOnTermination", 1);
		lc_xc(r->out, "ebs");
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, "blockDeviceMapping");
	lc_xt(r->out, "virtualizationType", "hvm");
	lc_xt(r->out, "clientToken",
	      lc_str(inst, "client_token") ? lc_str(inst, "client_token") : "");
	lc_xtags(r->out, "tagSet", json_object_get(inst, "tags"));
	lc_xt(r->out, "hypervisor", "xen");
	lc_xo(r->out, "networkInterfaceSet");
	if (live) {
		lc_xo(r->out, "item");
		lc_xtf(r->out, "networkInterfaceId", "eni-%s", id + 2);
		lc_xt(r->out, "subnetId", lc_str(inst, "subnet"));
		lc_xt(r->out, "vpcId", sn ? lc_str(sn, "vpc") : NULL);
		lc_xt(r->out, "description", "");
		lc_xt(r->out, "ownerId", r->c->account);
		lc_xt(r->out, "status", "in-use");
		lc_xt(r->out, "macAddress", lc_str(inst, "mac"));
		lc_xt(r->out, "privateIpAddress", lc_str(inst, "ip"));
		lc_xt(r->out, "privateDnsName", dns);
		lc_xbool(r->out, "sourceDestCheck", 1);
		groups_xml(r, inst);
		lc_xo(r->out, "attachment");
		lc_xtf(r->out, "attachmentId", "eni-attach-%s", id + 2);
		lc_xt(r->out, "deviceIndex", "0");
		lc_xt(r->out, "status", "attached");
		lc_xt(r->out, "attachTime", lc_str(inst, "created"));
		lc_xbool(r->out, "deleteOnTermination", 1);
		lc_xt(r->out, "networkCardIndex", "0");
		lc_xc(r->out, "attachment");
		lc_xo(r->out, "privateIpAddressesSet");
		lc_xo(r->out, "item");
		lc_xt(r->out, "privateIpAddress", lc_str(inst, "ip"));
		lc_xt(r->out, "privateDnsName", dns);
		lc_xbool(r->out, "primary", 1);
		lc_xc(r->out, "item");
		lc_xc(r->out, "privateIpAddressesSet");
		lc_xt(r->out, "interfaceType", "interface");
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, "networkInterfaceSet");
	lc_xbool(r->out, "ebsOptimized", 0);
	lc_xbool(r->out, "enaSupport", 1);
	lc_xo(r->out, "metadataOptions");
	lc_xt(r->out, "state", "applied");
	lc_xt(r->out, "httpTokens", "required");
	lc_xt(r->out, "httpPutResponseHopLimit", "2");
	lc_xt(r->out, "httpEndpoint", "disabled");
	lc_xc(r->out, "metadataOptions");
	lc_xc(r->out, "item");
}

/* ---- instances ---------------------------------------------------------- */

static int instance_values(json_t *res, const char *name, const char **vals, int max,
                           char scratch[][64])
{
	size_t i;
	json_t *g;
	int n = 0;

	if (strcmp(name, "instance-state-name") == 0)
		vals[n++] = lc_str(res, "state");
	else if (strcmp(name, "instance-state-code") == 0) {
		snprintf(scratch[0], 64, "%d", state_code(lc_str(res, "state")));
		vals[n++] = scratch[0];
	} else if (strcmp(name, "image-id") == 0)
		vals[n++] = lc_str(res, "image");
	else if (strcmp(name, "instance-id") == 0)
		vals[n++] = lc_str(res, "id");
	else if (strcmp(name, "private-ip-address") == 0 ||
	         strcmp(name, "network-interface.addresses.private-ip-address") == 0)
		vals[n++] = lc_str(res, "ip");
	else if (strcmp(name, "instance-type") == 0)
		vals[n++] = lc_str(res, "type");
	else if (strcmp(name, "key-name") == 0)
		vals[n++] = lc_str(res, "key_name");
	else if (strcmp(name, "subnet-id") == 0)
		vals[n++] = lc_str(res, "subnet");
	else if (strcmp(name, "vpc-id") == 0)
		vals[n++] = lc_str(res, "vpc");
	else if (strcmp(name, "availability-zone") == 0)
		vals[n++] = lc_str(res, "zone");
	else if (strcmp(name, "reservation-id") == 0)
		vals[n++] = lc_str(res, "reservation");
	else if (strcmp(name, "client-token") == 0)
		vals[n++] = lc_str(res, "client_token");
	else if (strcmp(name, "private-dns-name") == 0) {
		snprintf(scratch[0], 64, "%s.ec2.internal", lc_str(res, "hostname"));
		vals[n++] = scratch[0];
	} else if (strcmp(name, "instance.group-id") == 0 || strcmp(name, "group-id") == 0) {
		json_array_foreach(json_object_get(res, "groups"), i, g) if (n < max) vals[n++] =
		    json_string_value(g);
	} else
		return -1;
	return n;
}

static int valid_instance_id(const char *id)
{
	size_t n = strlen(id);
	return strncmp(id, "i-", 2) == 0 && (n == 10 || n == 19) &&
	       strspn(id + 2, "0123456789abcdef") == n - 2;
}

/* InstanceId.N: every id must exist; NULL with the EC2 error otherwise. */
static json_t *request_instances(struct lc_req *r, int required)
{
	const char **ids;
	size_t n = lc_q_list(r, "InstanceId", &ids);
	json_t *list = json_array();

	if (n == 0 && required) {
		free(ids);
		json_decref(list);
		lc_missing(r, "InstanceId");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *inst = json_object_get(instances(r->c), ids[i]);
		if (!valid_instance_id(ids[i])) {
			lc_err(r, 400, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", ids[i]);
			free(ids);
			json_decref(list);
			return NULL;
		}
		if (inst == NULL) {
			lc_err(r, 400, "InvalidInstanceID.NotFound",
			       "The instance ID '%s' does not exist", ids[i]);
			free(ids);
			json_decref(list);
			return NULL;
		}
		json_array_append(list, inst);
	}
	free(ids);
	return list;
}

static int describe_instances(struct lc_req *r)
{
	json_t *asked, *inst, *matched;
	struct lc_filters f;
	const char *k;
	size_t first, count, i;
	int *idx;
	size_t nidx = lc_q_indexes(r, "InstanceId", &idx);

	free(idx);
	/* parameters are checked before any id is looked up, as EC2 does */
	if (nidx > 0 && lc_q(r, "MaxResults")) {
		return lc_err(r, 400, "InvalidParameterCombination",
		              "The parameter instancesSet cannot be used with the parameter "
		              "maxResults");
	}
	asked = request_instances(r, 0);
	if (asked == NULL)
		return -1;
	if (lc_filters_parse(r, &f, instance_values) < 0) {
		json_decref(asked);
		return -1;
	}
	matched = json_array();
	if (json_array_size(asked) == 0) {
		json_decref(asked);
		asked = json_array();
		json_object_foreach(instances(r->c), k, inst) json_array_append(asked, inst);
	}
	json_array_foreach(asked, i, inst)
	{
		int m = lc_filters_match(r, &f, inst, instance_values);
		if (m < 0)
			goto fail;
		if (m)
			json_array_append(matched, inst);
	}
	if (lc_page(r, json_array_size(matched), &first, &count, 1000) < 0)
		goto fail;
	lc_xo(r->out, "reservationSet");
	for (i = first; i < first + count;) {
		json_t *head = json_array_get(matched, i);
		const char *res_id = lc_str(head, "reservation");
		lc_xo(r->out, "item");
		lc_xt(r->out, "reservationId", res_id);
		lc_xt(r->out, "ownerId", r->c->account);
		kiln_buf_puts(r->out, "<groupSet/>");
		lc_xo(r->out, "instancesSet");
		while (i < first + count &&
		       strcmp(lc_str(json_array_get(matched, i), "reservation"), res_id) == 0)
			instance_xml(r, json_array_get(matched, i++));
		lc_xc(r->out, "instancesSet");
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, "reservationSet");
	lc_next_token(r, first, count, json_array_size(matched));
	json_decref(asked);
	json_decref(matched);
	lc_filters_release(&f);
	return 0;
fail:
	json_decref(asked);
	json_decref(matched);
	lc_filters_release(&f);
	return -1;
}

static int describe_instance_status(struct lc_req *r)
{
	json_t *asked = request_instances(r, 0), *inst;
	const char *all = lc_q(r, "IncludeAllInstances"), *k;
	struct lc_filters f;
	size_t i;

	if (asked == NULL)
		return -1;
	if (lc_filters_parse(r, &f, instance_values) < 0) {
		json_decref(asked);
		return -1;
	}
	if (json_array_size(asked) == 0)
		json_object_foreach(instances(r->c), k, inst) json_array_append(asked, inst);
	lc_xo(r->out, "instanceStatusSet");
	json_array_foreach(asked, i, inst)
	{
		const char *state = lc_str(inst, "state");
		const char *status = strcmp(state, "running") == 0 ? "ok" : "not-applicable";
		int m;
		if (!(all && strcmp(all, "true") == 0) && strcmp(state, "running") != 0)
			continue;
		m = lc_filters_match(r, &f, inst, instance_values);
		if (m < 0) {
			json_decref(asked);
			lc_filters_release(&f);
			return -1;
		}
		if (!m)
			continue;
		lc_xo(r->out, "item");
		lc_xt(r->out, "instanceId", lc_str(inst, "id"));
		lc_xt(r->out, "availabilityZone", lc_str(inst, "zone"));
		state_xml(r->out, "instanceState", state);
		for (int s = 0; s < 2; s++) {
			lc_xo(r->out, s ? "instanceStatus" : "systemStatus");
			lc_xt(r->out, "status", status);
			lc_xo(r->out, "details");
			lc_xo(r->out, "item");
			lc_xt(r->out, "name", "reachability");
			lc_xt(r->out, "status",
			      strcmp(status, "ok") == 0 ? "passed" : "not-applicable");
			lc_xc(r->out, "item");
			lc_xc(r->out, "details");
			lc_xc(r->out, s ? "instanceStatus" : "systemStatus");
		}
		kiln_buf_puts(r->out, "<eventsSet/>");
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, "instanceStatusSet");
	json_decref(asked);
	lc_filters_release(&f);
	return 0;
}

static int allocate_ip(struct lc_cloud *c, json_t *subnet, uint32_t *out)
{
	uint32_t base, size = 1u << (32 - json_integer_value(json_object_get(subnet, "prefix")));
	const char *k;
	json_t *v;

	lc_ip_parse(&base, lc_str(subnet, "cidr_base"));
	for (uint32_t ip = base + 4; ip < base + size - 1; ip++) {
		char s[16];
		int used = 0;
		lc_ip_format(s, ip);
		json_object_foreach(instances(c), k, v)
		{
			if (strcmp(lc_str(v, "state"), "terminated") != 0 &&
			    strcmp(lc_str(v, "ip"), s) == 0) {
				used = 1;
				break;
			}
		}
		if (!used) {
			*out = ip;
			return 0;
		}
	}
	return -1;
}

struct launch {
	const char *image_id, *type, *key_name, *subnet_id, *user_data, *behavior;
	json_t *groups; /* sg ids */
	json_t *tags;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "t3.micro", "m5.2xlarge", "c6gn.metal": family.size as EC2 names them. */
static int valid_instance_type(const char *t)
{
	static const char *const sizes[] = {"nano",  "micro",  "small", "medium",
	                                    "large", "xlarge", "metal"};
	const char *dot = strchr(t, '.'), *size, *digit = strpbrk(t, "0123456789");
	size_t flen;

	if (dot == NULL || strchr(dot + 1, '.') != NULL)
		return 0;
	flen = (size_t)(dot - t);
	if (flen < 2 || flen > 16 || t[0] < 'a' || t[0] > 'z' ||
	    strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789-") != flen || digit == NULL ||
	    digit > dot)
		return 0;
	size = dot + 1 + strspn(dot + 1, "0123456789");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = strlen(sizes[i]);
		if (strncmp(size, sizes[i], n) == 0 &&
		    (size[n] == '\0' || (strcmp(sizes[i], "metal") == 0 && size[n] == '-')))
			return 1;
	}
	return 0;
}

/* The request's parameters but the token itself, for ClientToken idempotency. */
static char *request_fingerprint(struct lc_req *r)
{
	struct kiln_buf b = KILN_BUF_INIT;
	const char **keys = kiln_xcalloc(r->q->count + 1, sizeof(*keys));
	size_t n = 0;
	char hex[65];

	for (size_t i = 0; i < r->q->count; i++)
		if (strcmp(r->q->params[i].key, "ClientToken") != 0 &&
		    strcmp(r->q->params[i].key, "DryRun") != 0)
			keys[n++] = r->q->params[i].key;
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (size_t i = 0; i < n; i++)
		kiln_buf_printf(&b, "%s=%s&", keys[i], kiln_query_get(r->q, keys[i]));
	kiln_sha256_hex(hex, b.ptr, b.size);
	kiln_buf_release(&b);
	free(keys);
	return kiln_xstrdup(hex);
}

/* Fill `l` from the request, over the launch template's data when one is named. */
static int launch_params(struct lc_req *r, struct launch *l)
{
	json_t *data = NULL;
	const char **list;
	size_t n;
	int *idx;

	memset(l, 0, sizeof(*l));
	l->groups = json_array();
	l->tags = json_object();
	if (lc_q(r, "LaunchTemplate.LaunchTemplateId") ||
	    lc_q(r, "LaunchTemplate.LaunchTemplateName")) {
		json_t *t = lc_template(r, lc_q(r, "LaunchTemplate.LaunchTemplateId"),
		                        lc_q(r, "LaunchTemplate.LaunchTemplateName")),
		       *v;
		if (t == NULL)
			return -1;
		v = lc_template_version(r, t, lc_q(r, "LaunchTemplate.Version"));
		if (v == NULL)
			return -1;
		data = json_object_get(v, "data");
		l->image_id = lc_str(data, "ImageId");
		l->type = lc_str(data, "InstanceType");
		l->key_name = lc_str(data, "KeyName");
		l->user_data = lc_str(data, "UserData");
		l->behavior = lc_str(data, "InstanceInitiatedShutdownBehavior");
		l->subnet_id = lc_str(data, "SubnetId");
		if (json_object_get(data, "SecurityGroupIds"))
			json_array_extend(l->groups, json_object_get(data, "SecurityGroupIds"));
		{
			size_t i;
			json_t *spec;
			json_array_foreach(json_object_get(data, "TagSpecifications"), i, spec)
			{
				if (strcmp(lc_str(spec, "ResourceType"), "instance") == 0)
					json_object_update(l->tags, json_object_get(spec, "Tags"));
			}
		}
		if (json_object_get(data, "SecurityGroups")) {
			size_t i;
			json_t *name;
			json_array_foreach(json_object_get(data, "SecurityGroups"), i, name)
			{
				json_t *g = lc_group_by_name(r->c, json_string_value(name));
				if (g == NULL)
					return lc_err(r, 400, "InvalidGroup.NotFound",
					              "The security group '%s' does not exist",
					              json_string_value(name));
				json_array_append_new(l->groups, json_string(lc_str(g, "id")));
			}
		}
	}
	if (lc_q(r, "ImageId"))
		l->image_id = lc_q(r, "ImageId");
	if (lc_q(r, "InstanceType"))
		l->type = lc_q(r, "InstanceType");
	if (lc_q(r, "KeyName"))
		l->key_name = lc_q(r, "KeyName");
	if (lc_q(r, "UserData"))
		l->user_data = lc_q(r, "UserData");
	if (lc_q(r, "InstanceInitiatedShutdownBehavior"))
		l->behavior = lc_q(r, "InstanceInitiatedShutdownBehavior");
	if (lc_q(r, "SubnetId"))
		l->subnet_id = lc_q(r, "SubnetId");
	n = lc_q_indexes(r, "NetworkInterface", &idx);
	for (size_t i = 0; i < n; i++) {
		const char *s = lc_qf(r, "NetworkInterface.%d.SubnetId", idx[i]);
		const char **gl;
		char prefix[64];
		size_t ng;
		if (s)
			l->subnet_id = s;
		snprintf(prefix, sizeof(prefix), "NetworkInterface.%d.SecurityGroupId", idx[i]);
		ng = lc_q_list(r, prefix, &gl);
		for (size_t j = 0; j < ng; j++)
			json_array_append_new(l->groups, json_string(gl[j]));
		free(gl);
	}
	free(idx);
	n = lc_q_list(r, "SecurityGroupId", &list);
	if (n)
		json_array_clear(l->groups);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(l->groups, json_string(list[i]));
	free(list);
	n = lc_q_list(r, "SecurityGroup", &list);
	for (size_t i = 0; i < n; i++) {
		json_t *g = lc_group_by_name(r->c, list[i]);
		if (g == NULL) {
			lc_err(r, 400, "InvalidGroup.NotFound",
			       "The security group '%s' does not exist in default VPC '%s'",
			       list[i], lc_default_vpc(r->c));
			free(list);
			return -1;
		}
		json_array_append_new(l->groups, json_string(lc_str(g, "id")));
	}
	free(list);
	if (lc_q_tag_specs(r, "TagSpecification", "instance", l->tags) < 0)
		return -1;
	if (l->image_id == NULL)
		return lc_missing(r, "ImageId");
	if (l->type == NULL)
		l->type = "m1.small";
	if (!valid_instance_type(l->type))
		return lc_err(r, 400, "InvalidParameterValue",
		              "Invalid value '%s' for InstanceType.", l->type);
	if (l->behavior == NULL)
		l->behavior = "stop";
	if (strcmp(l->behavior, "stop") != 0 && strcmp(l->behavior, "terminate") != 0)
		return lc_err(
		    r, 400, "InvalidParameterValue",
		    "Value (%s) for parameter InstanceInitiatedShutdownBehavior is invalid. "
		    "Expected stop or terminate.",
		    l->behavior);
	return 0;
}

static void launch_release(struct launch *l)
{
	json_decref(l->groups);
	json_decref(l->tags);
}

static void reservation_xml(struct lc_req *r, const char *reservation, json_t *list)
{
	size_t i;
	json_t *inst;

	lc_xt(r->out, "reservationId", reservation);
	lc_xt(r->out, "ownerId", r->c->account);
	kiln_buf_puts(r->out, "<groupSet/>");
	lc_xo(r->out, "instancesSet");
	json_array_foreach(list, i, inst) instance_xml(r, inst);
	lc_xc(r->out, "instancesSet");
}

static int run_instances(struct lc_req *r)
{
	const char *token = lc_q(r, "ClientToken");
	json_t *image, *subnet = NULL, *key = NULL, *created, *v;
	struct launch l;
	long long min, max;
	unsigned char *ud = NULL;
	size_t ud_len = 0, i;
	char *reservation = NULL, now[32];
	int rc = -1;

	if (token && *token) {
		json_t *known = json_object_get(lc_table(r->c, "client_tokens"), token);
		if (known) {
			char *fp = request_fingerprint(r);
			int same = lc_str(known, "request") == NULL ||
			           strcmp(lc_str(known, "request"), fp) == 0;
			free(fp);
			if (!same)
				return lc_err(
				    r, 400, "IdempotentParameterMismatch",
				    "The client token %s was used with different parameters",
				    token);
			json_t *list = json_array();
			json_array_foreach(json_object_get(known, "instances"), i, v)
			{
				json_t *inst =
				    json_object_get(instances(r->c), json_string_value(v));
				if (inst)
					json_array_append(list, inst);
			}
			reservation_xml(r, lc_str(known, "reservation"), list);
			json_decref(list);
			return 0;
		}
		if (strlen(token) > 64)
			return lc_err(r, 400, "InvalidParameterValue",
			              "Value for parameter ClientToken is too long (at most 64)");
	}
	if (lc_q(r, "MinCount") == NULL)
		return lc_missing(r, "MinCount");
	if (lc_q(r, "MaxCount") == NULL)
		return lc_missing(r, "MaxCount");
	if (lc_q_int(r, "MinCount", 1, 1, 64, &min) < 0 ||
	    lc_q_int(r, "MaxCount", 1, 1, 64, &max) < 0)
		return -1;
	if (min > max)
		return lc_err(r, 400, "InvalidParameterValue",
		              "MinCount (%lld) must not be greater than MaxCount (%lld)", min, max);
	if (launch_params(r, &l) < 0) {
		launch_release(&l);
		return -1;
	}
	image = json_object_get(lc_table(r->c, "images"), l.image_id);
	if (strncmp(l.image_id, "ami-", 4) != 0) {
		lc_err(r, 400, "InvalidAMIID.Malformed",
		       "Invalid id: \"%s\" (expecting \"ami-...\")", l.image_id);
		goto out;
	}
	if (image == NULL) {
		lc_err(r, 400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist",
		       l.image_id);
		goto out;
	}
	if (strcmp(lc_str(image, "state"), "available") != 0) {
		lc_err(r, 400, "InvalidAMIID.Unavailable", "The image '%s' is %s, not available",
		       l.image_id, lc_str(image, "state"));
		goto out;
	}
	if (l.key_name && (key = lc_key_pair(r->c, l.key_name)) == NULL) {
		lc_err(r, 400, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist",
		       l.key_name);
		goto out;
	}
	json_array_foreach(l.groups, i, v)
	{
		if (json_object_get(lc_table(r->c, "security_groups"), json_string_value(v)) ==
		    NULL) {
			lc_err(r, 400, "InvalidGroup.NotFound",
			       "The security group '%s' does not exist", json_string_value(v));
			goto out;
		}
	}
	if (json_array_size(l.groups) == 0) {
		json_t *def = lc_group_by_name(r->c, "default");
		if (def)
			json_array_append_new(l.groups, json_string(lc_str(def, "id")));
	}
	if (l.subnet_id) {
		subnet = lc_subnet(r->c, l.subnet_id);
		if (subnet == NULL) {
			lc_err(r, 400, "InvalidSubnetID.NotFound",
			       "The subnet ID '%s' does not exist", l.subnet_id);
			goto out;
		}
	} else {
		const char *zone = lc_q(r, "Placement.AvailabilityZone"), *k;
		json_t *s;
		json_object_foreach(lc_table(r->c, "subnets"), k, s)
		{
			if (subnet == NULL &&
			    (zone == NULL || strcmp(zone, lc_str(s, "zone")) == 0))
				subnet = s;
		}
		if (subnet == NULL) {
			lc_err(r, 400, "InvalidParameterValue", "Invalid availability zone: [%s]",
			       zone ? zone : "");
			goto out;
		}
	}
	if (l.user_data) {
		if (base64_decode(&ud, &ud_len, l.user_data) < 0) {
			lc_err(r, 400, "InvalidParameterValue",
			       "Invalid BASE64 encoding of user data.");
			goto out;
		}
		if (ud_len > LC_USER_DATA_MAX) {
			lc_err(r, 400, "InvalidParameterValue",
			       "User data is limited to 16384 bytes");
			goto out;
		}
	}
	{
		long long free_ips =
		    (1LL << (32 - json_integer_value(json_object_get(subnet, "prefix")))) - 5 -
		    lc_subnet_used(r->c, lc_str(subnet, "id"));
		if (free_ips < min) {
			lc_err(
			    r, 500, "InsufficientInstanceCapacity",
			    "There are %lld free addresses in subnet %s; %lld instances asked for",
			    free_ips, lc_str(subnet, "id"), min);
			goto out;
		}
		if (max > free_ips)
			max = free_ips;
	}
	reservation = lc_new_id("r-");
	lc_now_iso(now);
	created = json_array();
	for (long long n = 0; n < max; n++) {
		uint32_t ip;
		char ips[16], host[64], mac[32], *id = lc_new_id("i-"), *dir;
		unsigned char rnd[3];
		json_t *inst;

		if (allocate_ip(r->c, subnet, &ip) < 0) {
			free(id);
			break;
		}
		lc_ip_format(ips, ip);
		snprintf(host, sizeof(host), "ip-%u-%u-%u-%u", ip >> 24, (ip >> 16) & 255,
		         (ip >> 8) & 255, ip & 255);
		kiln_random_bytes(rnd, sizeof(rnd));
		snprintf(mac, sizeof(mac), "0e:%02x:%02x:%02x:%02x:%02x", (ip >> 8) & 255, ip & 255,
		         rnd[0], rnd[1], rnd[2]);
		inst = json_pack(
		    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, "
		    "s:O, s:O, s:O, s:s, s:s, s:s}",
		    "id", id, "image", l.image_id, "type", l.type, "state", "pending", "reason", "",
		    "subnet", lc_str(subnet, "id"), "vpc", lc_str(subnet, "vpc"), "zone",
		    lc_str(subnet, "zone"), "ip", ips, "mac", mac, "hostname", host, "reservation",
		    reservation, "launch_index", (json_int_t)n, "groups", l.groups, "tags", l.tags,
		    "layers", json_object_get(image, "layers"), "shutdown_behavior", l.behavior,
		    "created", now, "launched", now);
		json_object_set_new(inst, "login_user",
		                    json_string(lc_str(image, "login_user")
		                                    ? lc_str(image, "login_user")
		                                    : "root"));
		if (key) {
			json_object_set_new(inst, "key_name", json_string(l.key_name));
			json_object_set_new(inst, "public_key",
			                    json_string(lc_str(key, "public_key")));
		}
		if (l.user_data)
			json_object_set_new(inst, "user_data", json_string(l.user_data));
		if (token && *token)
			json_object_set_new(inst, "client_token", json_string(token));
		dir = instance_dir(r->c, id);
		if (kiln_mkdir_p(dir, 0700) < 0) {
			free(dir);
			free(id);
			json_decref(inst);
			break;
		}
		free(dir);
		json_object_set_new(instances(r->c), id, inst);
		json_array_append(created, inst);
		free(id);
	}
	if (json_array_size(created) < (size_t)min) {
		json_array_foreach(created, i, v) json_object_del(instances(r->c), lc_str(v, "id"));
		json_decref(created);
		lc_err(r, 500, "InsufficientInstanceCapacity",
		       "could not create %lld instances: %s", min, kiln_error_last());
		goto out;
	}
	if (token && *token) {
		json_t *ids = json_array();
		json_array_foreach(created, i, v)
		    json_array_append_new(ids, json_string(lc_str(v, "id")));
		char *fp = request_fingerprint(r);
		json_object_set_new(lc_table(r->c, "client_tokens"), token,
		                    json_pack("{s:s, s:o, s:s}", "reservation", reservation,
		                              "instances", ids, "request", fp));
		free(fp);
	}
	/* saved before any runner boots: a crash now still knows every instance */
	if (lc_state_save(r->c) < 0) {
		lc_err(r, 500, "InternalError", "saving the state failed: %s", kiln_error_last());
		json_decref(created);
		goto out;
	}
	json_array_foreach(created, i, v)
	{
		if (runner_start(r->c, lc_str(v, "id")) < 0) {
			set_state(v, "terminated", "Server.InternalError");
			set_state_reason(v, "Server.InternalError", kiln_error_last());
		}
	}
	reservation_xml(r, reservation, created);
	json_decref(created);
	r->dirty = 1;
	rc = 0;
out:
	free(ud);
	free(reservation);
	launch_release(&l);
	return rc;
}

static int change_states(struct lc_req *r, const char *verb)
{
	json_t *list = request_instances(r, 1), *inst;
	size_t i;

	if (list == NULL)
		return -1;
	/* all or nothing: check every instance before changing one */
	json_array_foreach(list, i, inst)
	{
		const char *s = lc_str(inst, "state");
		int bad = 0;
		if (strcmp(verb, "stop") == 0)
			bad = strcmp(s, "terminated") == 0 || strcmp(s, "shutting-down") == 0;
		else if (strcmp(verb, "start") == 0)
			bad = strcmp(s, "terminated") == 0 || strcmp(s, "shutting-down") == 0 ||
			      strcmp(s, "stopping") == 0;
		if (bad) {
			json_decref(list);
			return lc_err(
			    r, 400, "IncorrectInstanceState",
			    "This instance '%s' is not in a state from which it can be %s.",
			    lc_str(inst, "id"), strcmp(verb, "stop") == 0 ? "stopped" : "started");
		}
	}
	lc_xo(r->out, "instancesSet");
	json_array_foreach(list, i, inst)
	{
		char *prev = kiln_xstrdup(lc_str(inst, "state"));
		if (strcmp(verb, "stop") == 0 &&
		    (strcmp(prev, "running") == 0 || strcmp(prev, "pending") == 0)) {
			char when[32], reason[96];
			lc_now_iso(when);
			snprintf(reason, sizeof(reason), "User initiated (%.19s GMT)", when);
			set_state(inst, "stopping", reason);
			set_state_reason(inst, "Client.UserInitiatedShutdown",
			                 "Client.UserInitiatedShutdown: User initiated shutdown");
		} else if (strcmp(verb, "start") == 0 && strcmp(prev, "stopped") == 0) {
			set_state(inst, "pending", "");
			json_object_del(inst, "state_reason");
		} else if (strcmp(verb, "terminate") == 0 && strcmp(prev, "terminated") != 0 &&
		           strcmp(prev, "shutting-down") != 0) {
			char when[32], reason[96];
			lc_now_iso(when);
			snprintf(reason, sizeof(reason), "User initiated (%.19s GMT)", when);
			set_state(inst, "shutting-down", reason);
			set_state_reason(inst, "Client.UserInitiatedShutdown",
			                 "Client.UserInitiatedShutdown: User initiated shutdown");
		}
		lc_xo(r->out, "item");
		lc_xt(r->out, "instanceId", lc_str(inst, "id"));
		state_xml(r->out, "currentState", lc_str(inst, "state"));
		state_xml(r->out, "previousState", prev);
		lc_xc(r->out, "item");
		free(prev);
	}
	lc_xc(r->out, "instancesSet");
	json_decref(list);
	r->dirty = 1;
	return 0;
}

static int start_instances(struct lc_req *r)
{
	return change_states(r, "start");
}

static int stop_instances(struct lc_req *r)
{
	return change_states(r, "stop");
}

static int terminate_instances(struct lc_req *r)
{
	return change_states(r, "terminate");
}

static int reboot_instances(struct lc_req *r)
{
	json_t *list = request_instances(r, 1), *inst;
	size_t i;

	if (list == NULL)
		return -1;
	json_array_foreach(list, i, inst)
	{
		if (strcmp(lc_str(inst, "state"), "terminated") == 0) {
			json_decref(list);
			return lc_err(r, 400, "IncorrectInstanceState",
			              "This instance '%s' is not in a state from which it can be "
			              "rebooted.",
			              lc_str(inst, "id"));
		}
	}
	json_array_foreach(list, i, inst)
	{
		if (strcmp(lc_str(inst, "state"), "running") == 0)
			json_object_set_new(inst, "reboot", json_true());
	}
	json_decref(list);
	r->dirty = 1;
	lc_xt(r->out, "return", "true");
	return 0;
}

static int get_console_output(struct lc_req *r)
{
	const char *id = lc_q(r, "InstanceId");
	json_t *inst;
	struct kiln_buf log = KILN_BUF_INIT;
	char *path, *dir, now[32];
	const char *start;
	size_t len;
	char *b64;

	if (id == NULL)
		return lc_missing(r, "InstanceId");
	inst = json_object_get(instances(r->c), id);
	if (inst == NULL)
		return lc_err(r, 400, "InvalidInstanceID.NotFound",
		              "The instance ID '%s' does not exist", id);
	dir = instance_dir(r->c, id);
	path = kiln_path_join(dir, "console.log");
	if (kiln_file_read(&log, path) < 0)
		kiln_error_clear();
	free(path);
	free(dir);
	start = log.ptr ? log.ptr : "";
	len = log.size;
	if (len > LC_CONSOLE_MAX) {
		start += len - LC_CONSOLE_MAX;
		len = LC_CONSOLE_MAX;
	}
	b64 = kiln_aws_base64_encode(start, len);
	lc_now_iso(now);
	lc_xt(r->out, "instanceId", id);
	lc_xt(r->out, "timestamp", now);
	lc_xt(r->out, "output", b64);
	free(b64);
	kiln_buf_release(&log);
	return 0;
}

/* ---- images and snapshots ----------------------------------------------- */

static json_t *images(struct lc_cloud *c)
{
	return lc_table(c, "images");
}

static int valid_image_name(const char *s)
{
	size_t n = strlen(s);
	if (n < 3 || n > 128)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789()[] "
	                 "./-'@_") == n;
}

static int image_name_taken(struct lc_cloud *c, const char *name)
{
	const char *k;
	json_t *v;
	json_object_foreach(images(c), k, v)
	{
		if (strcmp(lc_str(v, "name"), name) == 0)
			return 1;
	}
	return 0;
}

static _Thread_local long long du_bytes;

static int du_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)flag;
	(void)ftw;
	du_bytes += (long long)st->st_blocks * 512;
	return 0;
}

/* Size in GiB, rounded up, as EC2 reports volume sizes. */
static long long dir_size_gib(const char *dir)
{
	du_bytes = 0;
	nftw(dir, du_add, 32, FTW_PHYS);
	return du_bytes / (1024LL * 1024 * 1024) + 1;
}

static json_t *new_snapshot(struct lc_cloud *c, const char *layer, const char *image_id,
                            const char *description, json_t *tags, int encrypted, const char *kms)
{
	char *id = lc_new_id("snap-"), now[32];
	json_t *s;

	lc_now_iso(now);
	s = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:s?, s:O}", "id", id, "volume",
	              "vol-ffffffff", "state", "pending", "layer", layer, "created", now,
	              "description", description, "size", (json_int_t)1, "encrypted", encrypted,
	              "kms", kms, "tags", tags);
	json_object_set_new(s, "image", json_string(image_id));
	json_object_set_new(lc_table(c, "snapshots"), id, s);
	free(id);
	return s;
}

struct capture_job {
	struct lc_cloud *c;
	char *image_id, *instance_id, *layer_id, *snapshot_id;
	int reboot; /* a running instance imaged without NoReboot: stop, capture, start */
};

static void workers_add(struct lc_cloud *c, int d)
{
	json_object_set_new(
	    c->st, "workers",
	    json_integer(json_integer_value(json_object_get(c->st, "workers")) + d));
}

static void *capture_main(void *arg)
{
	struct capture_job *job = arg;
	struct lc_cloud *c = job->c;
	char *layer = kiln_path_join(c->layers_dir, job->layer_id);
	char *dir = instance_dir(c, job->instance_id), *upper = kiln_path_join(dir, "upper");
	json_t *img, *snap, *inst;
	long long gib;
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	if (job->reboot) {
		inst = json_object_get(instances(c), job->instance_id);
		if (inst && strcmp(lc_str(inst, "state"), "running") == 0) {
			set_state(inst, "stopping", "");
			pthread_cond_broadcast(&c->cond);
		}
		while (!c->stopping && (inst = json_object_get(instances(c), job->instance_id)) &&
		       strcmp(lc_str(inst, "state"), "stopping") == 0)
			pthread_cond_wait(&c->cond, &c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	if (c->stopping)
		rc = kiln_error_set(KILN_EINTR,
		                    "the local cloud stopped while the image was created");
	else
		rc = lc_layer_capture(layer, upper);
	gib = rc == 0 ? dir_size_gib(layer) : 0;
	pthread_mutex_lock(&c->mu);
	img = json_object_get(images(c), job->image_id);
	snap = json_object_get(lc_table(c, "snapshots"), job->snapshot_id);
	if (rc < 0) {
		kiln_log_error("CreateImage %s: %s", job->image_id, kiln_error_last());
		if (img) {
			json_object_set_new(img, "state", json_string("failed"));
			json_object_set_new(img, "state_reason",
			                    json_pack("{s:s, s:s}", "code", "Server.InternalError",
			                              "message", kiln_error_last()));
		}
		if (snap)
			json_object_set_new(snap, "state", json_string("error"));
	} else {
		if (img)
			json_object_set_new(img, "state", json_string("available"));
		if (snap) {
			json_object_set_new(snap, "state", json_string("completed"));
			json_object_set_new(snap, "size", json_integer(gib));
		}
		kiln_log_info("CreateImage %s: available (layer %s)", job->image_id, job->layer_id);
	}
	if (job->reboot) {
		inst = json_object_get(instances(c), job->instance_id);
		if (inst && strcmp(lc_str(inst, "state"), "stopped") == 0)
			set_state(inst, "pending", "");
	}
	workers_add(c, -1);
	lc_state_save(c);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	free(layer);
	free(dir);
	free(upper);
	free(job->image_id);
	free(job->instance_id);
	free(job->layer_id);
	free(job->snapshot_id);
	free(job);
	return NULL;
}

static int create_image(struct lc_req *r)
{
	const char *id = lc_q(r, "InstanceId"), *name = lc_q(r, "Name");
	const char *no_reboot = lc_q(r, "NoReboot"), *state, *kms = NULL;
	json_t *inst, *img, *tags = json_object(), *snap_tags = json_object(), *layers, *snap;
	char *image_id = NULL, *layer_id = NULL, now[32];
	struct capture_job *job;
	int encrypted = 0, reboot = 0;
	int *idx;
	size_t n;
	pthread_t th;

	if (id == NULL || name == NULL) {
		json_decref(tags);
		json_decref(snap_tags);
		return lc_missing(r, id == NULL ? "InstanceId" : "Name");
	}
	inst = json_object_get(instances(r->c), id);
	if (inst == NULL) {
		json_decref(tags);
		json_decref(snap_tags);
		return lc_err(r, 400, "InvalidInstanceID.NotFound",
		              "The instance ID '%s' does not exist", id);
	}
	if (!valid_image_name(name)) {
		json_decref(tags);
		json_decref(snap_tags);
		return lc_err(
		    r, 400, "InvalidAMIName.Malformed",
		    "AMI names must be between 3 and 128 characters long, and may contain "
		    "letters, numbers, '(', ')', '.', '-', '/', '_', '[', ']', ' ', '@' and "
		    "\"'\"");
	}
	if (image_name_taken(r->c, name)) {
		json_decref(tags);
		json_decref(snap_tags);
		return lc_err(r, 400, "InvalidAMIName.Duplicate",
		              "AMI name %s is already in use by another AMI", name);
	}
	state = lc_str(inst, "state");
	if (strcmp(state, "running") == 0 && !(no_reboot && strcmp(no_reboot, "true") == 0))
		reboot = 1;
	else if (strcmp(state, "stopped") != 0 && strcmp(state, "running") != 0) {
		json_decref(tags);
		json_decref(snap_tags);
		return lc_err(r, 400, "IncorrectInstanceState",
		              "The instance '%s' is not in a state from which it can be imaged "
		              "(%s).",
		              id, state);
	}
	if (lc_q_tag_specs(r, "TagSpecification", "image", tags) < 0 ||
	    lc_q_tag_specs(r, "TagSpecification", "snapshot", snap_tags) < 0) {
		json_decref(tags);
		json_decref(snap_tags);
		return -1;
	}
	n = lc_q_indexes(r, "BlockDeviceMapping", &idx);
	for (size_t i = 0; i < n; i++) {
		const char *e = lc_qf(r, "BlockDeviceMapping.%d.Ebs.Encrypted", idx[i]);
		const char *k = lc_qf(r, "BlockDeviceMapping.%d.Ebs.KmsKeyId", idx[i]);
		if (e && strcmp(e, "true") == 0)
			encrypted = 1;
		if (k)
			kms = k;
	}
	free(idx);
	image_id = lc_new_id("ami-");
	layer_id = lc_new_id("layer-");
	lc_now_iso(now);
	layers = json_deep_copy(json_object_get(inst, "layers"));
	json_array_append_new(layers, json_string(layer_id));
	{
		char desc[160];
		snprintf(desc, sizeof(desc), "Created by CreateImage(%s) for %s", id, image_id);
		snap = new_snapshot(r->c, layer_id, image_id, desc, snap_tags, encrypted, kms);
	}
	img = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:o, s:s, s:s, s:s, s:O, s:b, s:s?}", "id",
	                image_id, "name", name, "description", lc_q(r, "Description"), "state",
	                "pending", "created", now, "layers", layers, "snapshot", lc_str(snap, "id"),
	                "source_instance", id, "login_user",
	                lc_str(inst, "login_user") ? lc_str(inst, "login_user") : "root", "tags",
	                tags, "encrypted", encrypted, "kms", kms);
	json_object_set_new(images(r->c), image_id, img);
	job = kiln_xcalloc(1, sizeof(*job));
	job->c = r->c;
	job->image_id = kiln_xstrdup(image_id);
	job->instance_id = kiln_xstrdup(id);
	job->layer_id = kiln_xstrdup(layer_id);
	job->snapshot_id = kiln_xstrdup(lc_str(snap, "id"));
	job->reboot = reboot;
	workers_add(r->c, 1);
	if (pthread_create(&th, NULL, capture_main, job) != 0) {
		workers_add(r->c, -1);
		json_object_del(lc_table(r->c, "snapshots"), job->snapshot_id);
		json_object_del(images(r->c), image_id);
		free(job->image_id);
		free(job->instance_id);
		free(job->layer_id);
		free(job->snapshot_id);
		free(job);
		free(image_id);
		free(layer_id);
		json_decref(tags);
		json_decref(snap_tags);
		return lc_err(r, 500, "InternalError", "cannot start the image worker");
	}
	pthread_detach(th);
	r->dirty = 1;
	lc_xt(r->out, "imageId", image_id);
	free(image_id);
	free(layer_id);
	json_decref(tags);
	json_decref(snap_tags);
	return 0;
}

static int image_values(json_t *res, const char *name, const char **vals, int max,
                        char scratch[][64])
{
	(void)max;
	(void)scratch;
	if (strcmp(name, "name") == 0)
		vals[0] = lc_str(res, "name");
	else if (strcmp(name, "state") == 0)
		vals[0] = lc_str(res, "state");
	else if (strcmp(name, "image-id") == 0)
		vals[0] = lc_str(res, "id");
	else if (strcmp(name, "owner-id") == 0)
		vals[0] = "000000000000";
	else if (strcmp(name, "owner-alias") == 0)
		vals[0] = "self";
	else if (strcmp(name, "description") == 0)
		vals[0] = lc_str(res, "description");
	else if (strcmp(name, "is-public") == 0)
		vals[0] = "false";
	else if (strcmp(name, "architecture") == 0)
		vals[0] = arch();
	else if (strcmp(name, "image-type") == 0)
		vals[0] = "machine";
	else if (strcmp(name, "root-device-type") == 0)
		vals[0] = "ebs";
	else if (strcmp(name, "virtualization-type") == 0)
		vals[0] = "hvm";
	else if (strcmp(name, "block-device-mapping.snapshot-id") == 0)
		vals[0] = lc_str(res, "snapshot");
	else
		return -1;
	return vals[0] ? 1 : 0;
}

static void image_xml(struct lc_req *r, json_t *img)
{
	json_t *snap = json_object_get(lc_table(r->c, "snapshots"),
	                               lc_str(img, "snapshot") ? lc_str(img, "snapshot") : "");

	lc_xo(r->out, "item");
	lc_xt(r->out, "imageId", lc_str(img, "id"));
	lc_xtf(r->out, "imageLocation", "%s/%s", r->c->account, lc_str(img, "name"));
	lc_xt(r->out, "imageState", lc_str(img, "state"));
	lc_xt(r->out, "imageOwnerId", r->c->account);
	lc_xt(r->out, "creationDate", lc_str(img, "created"));
	lc_xbool(r->out, "isPublic", 0);
	lc_xt(r->out, "architecture", arch());
	lc_xt(r->out, "imageType", "machine");
	lc_xt(r->out, "name", lc_str(img, "name"));
	lc_xt(r->out, "description", lc_str(img, "description"));
	lc_xt(r->out, "rootDeviceType", "ebs");
	lc_xt(r->out, "rootDeviceName", "/dev/xvda");
	lc_xo(r->out, "blockDeviceMapping");
	lc_xo(r->out, "item");
	lc_xt(r->out, "deviceName", "/dev/xvda");
	lc_xo(r->out, "ebs");
	lc_xt(r->out, "snapshotId", lc_str(img, "snapshot"));
	lc_xtf(r->out, "volumeSize", "%lld",
	       snap ? json_integer_value(json_object_get(snap, "size")) : 1);
	lc_xbool(r->out, "deleteOnTermination", 1);
	lc_xt(r->out, "volumeType", "gp3");
	lc_xbool(r->out, "encrypted", json_is_true(json_object_get(img, "encrypted")));
	lc_xt(r->out, "kmsKeyId", lc_str(img, "kms"));
	lc_xc(r->out, "ebs");
	lc_xc(r->out, "item");
	lc_xc(r->out, "blockDeviceMapping");
	lc_xt(r->out, "virtualizationType", "hvm");
	lc_xtags(r->out, "tagSet", json_object_get(img, "tags"));
	lc_xt(r->out, "hypervisor", "xen");
	lc_xbool(r->out, "enaSupport", 1);
	lc_xt(r->out, "sriovNetSupport", "simple");
	lc_xt(r->out, "bootMode", "uefi-preferred");
	lc_xt(r->out, "sourceInstanceId", lc_str(img, "source_instance"));
	if (json_object_get(img, "state_reason")) {
		lc_xo(r->out, "stateReason");
		lc_xt(r->out, "code", lc_str(json_object_get(img, "state_reason"), "code"));
		lc_xt(r->out, "message", lc_str(json_object_get(img, "state_reason"), "message"));
		lc_xc(r->out, "stateReason");
	}
	lc_xc(r->out, "item");
}

static int describe_images(struct lc_req *r)
{
	const char **ids, **owners, *k;
	size_t nids = lc_q_list(r, "ImageId", &ids), nowners = lc_q_list(r, "Owner", &owners);
	struct lc_filters f;
	json_t *matched = json_array(), *v;
	size_t first, count;
	int rc = -1, mine = nowners == 0;

	for (size_t i = 0; i < nowners; i++)
		mine |= strcmp(owners[i], "self") == 0 || strcmp(owners[i], r->c->account) == 0;
	for (size_t i = 0; i < nids; i++) {
		if (strncmp(ids[i], "ami-", 4) != 0) {
			lc_err(r, 400, "InvalidAMIID.Malformed",
			       "Invalid id: \"%s\" (expecting \"ami-...\")", ids[i]);
			goto out_lists;
		}
		if (json_object_get(images(r->c), ids[i]) == NULL) {
			lc_err(r, 400, "InvalidAMIID.NotFound",
			       "The image id '[%s]' does not exist", ids[i]);
			goto out_lists;
		}
	}
	if (lc_filters_parse(r, &f, image_values) < 0)
		goto out_lists;
	json_object_foreach(images(r->c), k, v)
	{
		int m;
		if (!mine)
			break;
		if (nids) {
			int want = 0;
			for (size_t i = 0; i < nids && !want; i++)
				want = strcmp(ids[i], k) == 0;
			if (!want)
				continue;
		}
		m = lc_filters_match(r, &f, v, image_values);
		if (m < 0)
			goto out;
		if (m)
			json_array_append(matched, v);
	}
	if (lc_page(r, json_array_size(matched), &first, &count, 1000) < 0)
		goto out;
	lc_xo(r->out, "imagesSet");
	for (size_t i = first; i < first + count; i++)
		image_xml(r, json_array_get(matched, i));
	lc_xc(r->out, "imagesSet");
	lc_next_token(r, first, count, json_array_size(matched));
	rc = 0;
out:
	lc_filters_release(&f);
out_lists:
	json_decref(matched);
	free(ids);
	free(owners);
	return rc;
}

static int deregister_image(struct lc_req *r)
{
	const char *id = lc_q(r, "ImageId"), *del = lc_q(r, "DeleteAssociatedSnapshots");
	json_t *img;
	char *snap = NULL;

	if (id == NULL)
		return lc_missing(r, "ImageId");
	img = json_object_get(images(r->c), id);
	if (img == NULL)
		return lc_err(r, 400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist",
		              id);
	if (strcmp(lc_str(img, "state"), "pending") == 0)
		return lc_err(r, 400, "InvalidAMIID.Unavailable",
		              "The image %s is still being created", id);
	if (lc_str(img, "snapshot"))
		snap = kiln_xstrdup(lc_str(img, "snapshot"));
	json_object_del(images(r->c), id);
	lc_xt(r->out, "return", "true");
	if (snap && del && strcmp(del, "true") == 0) {
		json_object_del(lc_table(r->c, "snapshots"), snap);
		lc_xo(r->out, "deleteSnapshotResultSet");
		lc_xo(r->out, "item");
		lc_xt(r->out, "snapshotId", snap);
		lc_xc(r->out, "item");
		lc_xc(r->out, "deleteSnapshotResultSet");
	}
	free(snap);
	lc_layers_collect(r->c);
	r->dirty = 1;
	return 0;
}

static int snapshot_values(json_t *res, const char *name, const char **vals, int max,
                           char scratch[][64])
{
	(void)max;
	(void)scratch;
	if (strcmp(name, "snapshot-id") == 0)
		vals[0] = lc_str(res, "id");
	else if (strcmp(name, "status") == 0)
		vals[0] = lc_str(res, "state");
	else if (strcmp(name, "volume-id") == 0)
		vals[0] = lc_str(res, "volume");
	else if (strcmp(name, "description") == 0)
		vals[0] = lc_str(res, "description");
	else if (strcmp(name, "owner-id") == 0)
		vals[0] = "000000000000";
	else if (strcmp(name, "encrypted") == 0)
		vals[0] = json_is_true(json_object_get(res, "encrypted")) ? "true" : "false";
	else
		return -1;
	return vals[0] ? 1 : 0;
}

static int describe_snapshots(struct lc_req *r)
{
	const char **ids, *k;
	size_t nids = lc_q_list(r, "SnapshotId", &ids);
	json_t *snaps = lc_table(r->c, "snapshots"), *v, *matched = json_array();
	struct lc_filters f;
	size_t first, count;
	int rc = -1;

	if (lc_ids_exist(r, ids, nids, "snapshots", "InvalidSnapshot.NotFound", "snapshot") < 0 ||
	    lc_filters_parse(r, &f, snapshot_values) < 0) {
		free(ids);
		json_decref(matched);
		return -1;
	}
	json_object_foreach(snaps, k, v)
	{
		int m, want = nids == 0;
		for (size_t i = 0; i < nids && !want; i++)
			want = strcmp(ids[i], k) == 0;
		if (!want)
			continue;
		m = lc_filters_match(r, &f, v, snapshot_values);
		if (m < 0)
			goto out;
		if (m)
			json_array_append(matched, v);
	}
	if (lc_page(r, json_array_size(matched), &first, &count, 1000) < 0)
		goto out;
	lc_xo(r->out, "snapshotSet");
	for (size_t i = first; i < first + count; i++) {
		v = json_array_get(matched, i);
		lc_xo(r->out, "item");
		lc_xt(r->out, "snapshotId", lc_str(v, "id"));
		lc_xt(r->out, "volumeId", lc_str(v, "volume"));
		lc_xt(r->out, "status", lc_str(v, "state"));
		lc_xt(r->out, "startTime", lc_str(v, "created"));
		lc_xt(r->out, "progress",
		      strcmp(lc_str(v, "state"), "completed") == 0 ? "100%" : "0%");
		lc_xt(r->out, "ownerId", r->c->account);
		lc_xtf(r->out, "volumeSize", "%lld",
		       json_integer_value(json_object_get(v, "size")));
		lc_xt(r->out, "description", lc_str(v, "description"));
		lc_xbool(r->out, "encrypted", json_is_true(json_object_get(v, "encrypted")));
		lc_xt(r->out, "kmsKeyId", lc_str(v, "kms"));
		lc_xt(r->out, "storageTier", "standard");
		lc_xtags(r->out, "tagSet", json_object_get(v, "tags"));
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, "snapshotSet");
	lc_next_token(r, first, count, json_array_size(matched));
	rc = 0;
out:
	lc_filters_release(&f);
	free(ids);
	json_decref(matched);
	return rc;
}

static int delete_snapshot(struct lc_req *r)
{
	const char *id = lc_q(r, "SnapshotId"), *k;
	json_t *v;

	if (id == NULL)
		return lc_missing(r, "SnapshotId");
	if (json_object_get(lc_table(r->c, "snapshots"), id) == NULL)
		return lc_err(r, 400, "InvalidSnapshot.NotFound",
		              "The snapshot '%s' does not exist.", id);
	json_object_foreach(images(r->c), k, v)
	{
		if (lc_str(v, "snapshot") && strcmp(lc_str(v, "snapshot"), id) == 0)
			return lc_err(r, 400, "InvalidSnapshot.InUse",
			              "The snapshot %s is currently in use by %s", id, k);
	}
	json_object_del(lc_table(r->c, "snapshots"), id);
	lc_layers_collect(r->c);
	r->dirty = 1;
	lc_xt(r->out, "return", "true");
	return 0;
}

/*
 * kiln's own: register a layer that `kiln cloud image` built under
 * STATE/layers as a new base image (no source instance).
 */
static int register_layer_image(struct lc_req *r)
{
	const char *name = lc_q(r, "Name"), *layer = lc_q(r, "LayerId");
	const char *user = lc_q(r, "LoginUser");
	char *id, *path, now[32];
	json_t *snap, *tags = json_object();

	if (name == NULL || layer == NULL) {
		json_decref(tags);
		return lc_missing(r, name == NULL ? "Name" : "LayerId");
	}
	if (!valid_image_name(name)) {
		json_decref(tags);
		return lc_err(r, 400, "InvalidAMIName.Malformed", "Invalid image name '%s'", name);
	}
	if (image_name_taken(r->c, name)) {
		json_decref(tags);
		return lc_err(r, 400, "InvalidAMIName.Duplicate",
		              "AMI name %s is already in use by another AMI", name);
	}
	path = kiln_path_join(r->c->layers_dir, layer);
	if (strchr(layer, '/') || strchr(layer, '.') || access(path, F_OK) != 0) {
		free(path);
		json_decref(tags);
		return lc_err(r, 400, "InvalidParameterValue",
		              "No layer '%s' in the state directory", layer);
	}
	id = lc_new_id("ami-");
	lc_now_iso(now);
	snap = new_snapshot(r->c, layer, id, "base image layer", tags, 0, NULL);
	json_object_set_new(snap, "state", json_string("completed"));
	json_object_set_new(snap, "size", json_integer(dir_size_gib(path)));
	json_object_set_new(images(r->c), id,
	                    json_pack("{s:s, s:s, s:s?, s:s, s:s, s:[s], s:s, s:s, s:o}", "id", id,
	                              "name", name, "description", lc_q(r, "Description"), "state",
	                              "available", "created", now, "layers", layer, "snapshot",
	                              lc_str(snap, "id"), "login_user", user ? user : "root",
	                              "tags", tags));
	r->dirty = 1;
	lc_xt(r->out, "imageId", id);
	free(id);
	free(path);
	return 0;
}

static const struct {
	const char *action;
	lc_handler_fn fn;
} handlers[] = {
    {"RunInstances", run_instances},
    {"DescribeInstances", describe_instances},
    {"DescribeInstanceStatus", describe_instance_status},
    {"StartInstances", start_instances},
    {"StopInstances", stop_instances},
    {"RebootInstances", reboot_instances},
    {"TerminateInstances", terminate_instances},
    {"GetConsoleOutput", get_console_output},
    {"CreateImage", create_image},
    {"DescribeImages", describe_images},
    {"DeregisterImage", deregister_image},
    {"DescribeSnapshots", describe_snapshots},
    {"DeleteSnapshot", delete_snapshot},
    {"KilnRegisterLayerImage", register_layer_image},
};

lc_handler_fn lc_ec2_instances_handler(const char *action)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (strcmp(handlers[i].action, action) == 0)
			return handlers[i].fn;
	return NULL;
}
