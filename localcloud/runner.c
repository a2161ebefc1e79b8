/*
 * One runner thread per live instance makes its state real. Handlers only
 * change an instance's "state" (pending, stopping, shutting-down) or set
 * "reboot"; the runner sees the change, boots or stops the machine outside
 * the lock, and records the outcome (running, stopped, terminated). A
 * machine that powers itself off is noticed by its runner: it becomes
 * stopped, or terminated when it was launched with
 * InstanceInitiatedShutdownBehavior=terminate.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "localcloud/ec2-int.h"
#include "localcloud/firewall-int.h"
#include "localcloud/net-int.h"

struct lc_runner {
	struct lc_runner *next;
	struct lc_cloud *c;
	char id[32];
	pthread_t thread;
	int finished;
	struct lc_machine *m; /* the running machine, or NULL */
};

/* What booting needs, copied out of the state so that it runs without the lock. */
struct boot_spec {
	char *dir, *hostname, *user, *key, *firewall;
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
	free(b->firewall);
	free(b->user_data);
	memset(b, 0, sizeof(*b));
}

static void boot_spec_from(struct boot_spec *b, struct lc_cloud *c, json_t *inst)
{
	json_t *layers = json_object_get(inst, "layers"), *l;
	struct kiln_buf fw = KILN_BUF_INIT;
	size_t i;

	memset(b, 0, sizeof(*b));
	lc_fw_render(c, inst, &fw);
	b->firewall = kiln_buf_detach(&fw);
	b->dir = lc_instance_dir(c, lc_str(inst, "id"));
	b->hostname = kiln_xstrdup(lc_str(inst, "hostname"));
	b->user = kiln_xstrdup(lc_str(inst, "login_user") ? lc_str(inst, "login_user") : "root");
	b->key = lc_str(inst, "public_key") ? kiln_xstrdup(lc_str(inst, "public_key")) : NULL;
	b->nlayers = json_array_size(layers);
	b->layers = kiln_xcalloc(b->nlayers + 1, sizeof(*b->layers));
	json_array_foreach(layers, i, l) b->layers[i] =
	    kiln_path_join(c->layers_dir, json_string_value(l));
	if (lc_str(inst, "user_data"))
		lc_base64_decode(&b->user_data, &b->user_data_len, lc_str(inst, "user_data"));
	lc_ip_parse(&b->ip, lc_str(inst, "ip"));
}

/* Stop the runner's machine, if any (lock not held). */
static void machine_stop(struct lc_runner *run, double timeout)
{
	if (run->m == NULL)
		return;
	run->c->machines->stop(run->m, timeout);
	run->c->machines->free(run->m);
	run->m = NULL;
}

/*
 * (Re)boot the instance from its state: copy what booting needs, release
 * the lock, stop what runs, boot, take the lock again. Returns the boot's
 * result; the instance may have gone meanwhile.
 */
static int machine_boot(struct lc_runner *run, json_t *inst)
{
	struct lc_cloud *c = run->c;
	struct lc_machine_spec spec;
	struct boot_spec b;
	int rc;

	boot_spec_from(&b, c, inst);
	pthread_mutex_unlock(&c->mu);
	machine_stop(run, 10);
	memset(&spec, 0, sizeof(spec));
	spec.id = run->id;
	spec.dir = b.dir;
	spec.layers = (const char *const *)b.layers;
	spec.nlayers = b.nlayers;
	spec.net = &c->net;
	spec.ip = b.ip;
	spec.hostname = b.hostname;
	spec.login_user = b.user;
	spec.authorized_key = b.key;
	spec.user_data = b.user_data;
	spec.user_data_len = b.user_data_len;
	spec.init_exe = c->init_exe;
	spec.firewall = b.firewall;
	rc = c->machines->start(&run->m, &spec);
	boot_spec_release(&b);
	/* a new namespace: the next sync gives it the table the state has by then */
	lc_fw_forget(c, run->id);
	pthread_mutex_lock(&c->mu);
	return rc;
}

static void boot_failed(json_t *inst)
{
	lc_instance_set_state(inst, "stopped", "Server.InternalError");
	lc_instance_state_reason(inst, "Server.InternalError", kiln_error_last());
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

static void on_pending(struct lc_runner *run, json_t *inst)
{
	struct lc_cloud *c = run->c;
	int rc = machine_boot(run, inst);
	char now[32];

	inst = json_object_get(lc_instances(c), run->id);
	if (inst == NULL)
		return;
	if (rc < 0) {
		kiln_log_error("%s: boot failed: %s", run->id, kiln_error_last());
		boot_failed(inst);
	} else if (strcmp(lc_str(inst, "state"), "pending") == 0) {
		lc_now_iso(now);
		lc_instance_set_state(inst, "running", "");
		json_object_del(inst, "state_reason");
		json_object_set_new(inst, "launched", json_string(now));
		kiln_log_info("%s: running at %s (pid %d)", run->id, lc_str(inst, "ip"),
		              (int)run->m->pid);
	}
	lc_state_save(c);
	pthread_cond_broadcast(&c->cond);
}

/* Running: a reboot asked for, or a machine that powered itself off. */
static void on_running(struct lc_runner *run, json_t *inst)
{
	int status = 0, terminate;

	if (run->m == NULL) {
		lc_instance_set_state(inst, "pending", NULL);
		return;
	}
	if (json_is_true(json_object_get(inst, "reboot"))) {
		json_object_del(inst, "reboot");
		if (machine_boot(run, inst) < 0 &&
		    (inst = json_object_get(lc_instances(run->c), run->id)) != NULL) {
			boot_failed(inst);
			lc_state_save(run->c);
		}
		return;
	}
	if (!run->c->machines->exited(run->m, &status))
		return;
	terminate =
	    strcmp(lc_str(inst, "shutdown_behavior") ? lc_str(inst, "shutdown_behavior") : "stop",
	           "terminate") == 0;
	kiln_log_info("%s: powered off (status %d)", run->id, status);
	lc_instance_set_state(inst, terminate ? "shutting-down" : "stopping",
	                      "User initiated shutdown");
	lc_instance_state_reason(inst, "Client.InstanceInitiatedShutdown",
	                         "Client.InstanceInitiatedShutdown: Instance initiated shutdown");
	lc_state_save(run->c);
}

/* Stopping or shutting down: stop the machine; 1 when the runner is done. */
static int on_stopping(struct lc_runner *run, const char *state)
{
	struct lc_cloud *c = run->c;
	int terminate = strcmp(state, "shutting-down") == 0;
	char *dir = lc_instance_dir(c, run->id);
	json_t *inst;

	pthread_mutex_unlock(&c->mu);
	machine_stop(run, 20);
	if (terminate)
		discard_instance_dir(dir);
	free(dir);
	pthread_mutex_lock(&c->mu);
	inst = json_object_get(lc_instances(c), run->id);
	if (inst == NULL)
		return 1;
	if (terminate) {
		lc_instance_set_state(inst, "terminated", NULL);
		json_object_set_new(inst, "terminated_at", json_real(kiln_time_now()));
	} else if (strcmp(lc_str(inst, "state"), "stopping") == 0) {
		lc_instance_set_state(inst, "stopped", NULL);
	}
	lc_state_save(c);
	pthread_cond_broadcast(&c->cond);
	return terminate;
}

/*
 * Orders come with a broadcast on the cloud's condition; the timeout is how
 * soon a machine that powered off by itself is noticed (a running one: a
 * quarter second, so that 50 idle instances do not wake the daemon 1,000
 * times a second).
 */
static void wait_orders(struct lc_cloud *c, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&c->cond, &c->mu, &ts);
}

static void *runner_main(void *arg)
{
	struct lc_runner *run = arg;
	struct lc_cloud *c = run->c;

	pthread_mutex_lock(&c->mu);
	while (!c->stopping) {
		json_t *inst = json_object_get(lc_instances(c), run->id);
		const char *state = inst ? lc_str(inst, "state") : "terminated";

		if (strcmp(state, "pending") == 0) {
			on_pending(run, inst);
			continue;
		}
		if (strcmp(state, "running") == 0)
			on_running(run, inst);
		else if (strcmp(state, "stopping") == 0 || strcmp(state, "shutting-down") == 0) {
			if (on_stopping(run, state))
				break;
			continue;
		} else if (strcmp(state, "terminated") == 0)
			break;
		wait_orders(c, strcmp(state, "running") == 0 ? 250 : 50);
	}
	run->finished = 1;
	pthread_mutex_unlock(&c->mu);
	/* the daemon is going down: the instance stays "running" in the state */
	machine_stop(run, 10);
	return NULL;
}

/* A runner for `id`, watching `m` when its machine runs already (adopted). */
static int runner_start_with(struct lc_cloud *c, const char *id, struct lc_machine *m)
{
	struct lc_runner *run = kiln_xcalloc(1, sizeof(*run));

	run->c = c;
	run->m = m;
	snprintf(run->id, sizeof(run->id), "%s", id);
	if (pthread_create(&run->thread, NULL, runner_main, run) != 0) {
		free(run);
		if (m)
			c->machines->free(m);
		return kiln_error_set(KILN_ERROR, "cannot start a thread for %s", id);
	}
	run->next = c->runners;
	c->runners = run;
	return 0;
}

int lc_runner_start(struct lc_cloud *c, const char *id)
{
	return runner_start_with(c, id, NULL);
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

/* An instance's state as a restarted daemon finds it; its machine was reaped. */
static void resume_one(struct lc_cloud *c, const char *id, json_t *v)
{
	const char *s = lc_str(v, "state");

	if (strcmp(s, "running") == 0 || strcmp(s, "pending") == 0) {
		lc_instance_set_state(v, "pending", NULL);
	} else if (strcmp(s, "stopping") == 0) {
		lc_instance_set_state(v, "stopped", NULL);
	} else if (strcmp(s, "shutting-down") == 0) {
		char *d = lc_instance_dir(c, id);
		discard_instance_dir(d);
		free(d);
		lc_instance_set_state(v, "terminated", NULL);
		json_object_set_new(v, "terminated_at", json_real(kiln_time_now()));
	}
}

int lc_instances_resume(struct lc_cloud *c)
{
	const char *k;
	json_t *v;

	lc_ensure_default_group(c);
	json_object_foreach(lc_instances(c), k, v)
	{
		char *dir = lc_instance_dir(c, k);
		struct lc_machine *m = NULL;

		/*
		 * A machine that ran through the daemon's crash serves on: adopt it,
		 * no reboot. Whatever else a crashed daemon left of one goes first.
		 */
		if (strcmp(lc_str(v, "state"), "running") == 0 && access(dir, F_OK) == 0 &&
		    c->machines->adopt(&m, dir, k) < 0)
			kiln_log_warn("%s: %s", k, kiln_error_last());
		if (m == NULL && access(dir, F_OK) == 0 && c->machines->reap(dir) < 0)
			kiln_log_warn("%s: %s", k, kiln_error_last());
		free(dir);
		if (m == NULL)
			resume_one(c, k, v);
		if (strcmp(lc_str(v, "state"), "terminated") != 0 && runner_start_with(c, k, m) < 0)
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
	/* image workers see `stopping` and finish; wait for them */
	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < 600 && c->workers > 0; i++) {
		pthread_mutex_unlock(&c->mu);
		kiln_sleep(0.05, NULL);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
}

void lc_instances_expire(struct lc_cloud *c)
{
	const char *k;
	json_t *v, *gone = json_array();
	double now = kiln_time_now();
	size_t i;

	pthread_mutex_lock(&c->mu);
	runners_prune(c);
	json_object_foreach(lc_instances(c), k, v)
	{
		double at = json_real_value(json_object_get(v, "terminated_at"));
		if (strcmp(lc_str(v, "state"), "terminated") == 0 && at > 0 &&
		    now - at > c->terminated_ttl)
			json_array_append_new(gone, json_string(k));
	}
	json_array_foreach(gone, i, v) json_object_del(lc_instances(c), json_string_value(v));
	if (json_array_size(gone)) {
		lc_layers_collect(c);
		lc_state_save(c);
	}
	pthread_mutex_unlock(&c->mu);
	/* the directories of forgotten instances go without the lock */
	json_array_foreach(gone, i, v)
	{
		char *dir = lc_instance_dir(c, json_string_value(v));
		kiln_rm_rf(dir);
		free(dir);
	}
	lc_layers_sweep(c);
	json_decref(gone);
}
