#include "bake/gc.h"
#include "deploy/retention.h"
#include "aws/ec2.h"
#include "bake/poll.h"
#include "bake/target.h"
#include "core/event.h"
#include "core/common.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"

#include <string.h>

enum kiln_gc_reason kiln_gc_select(const struct kiln_aws_tags *tags, double now, const char *run_id)
{
	const char *role = kiln_aws_tags_get(tags, "kiln:role");
	const char *run = kiln_aws_tags_get(tags, "kiln:run-id");
	const char *expires = kiln_aws_tags_get(tags, "kiln:expires");
	double t;

	if (role == NULL || strcmp(role, "builder") != 0)
		return KILN_GC_KEEP;
	if (run_id != NULL && run != NULL && strcmp(run, run_id) == 0)
		return KILN_GC_RUN;
	if (expires == NULL || kiln_time_parse_iso8601(&t, expires) < 0) {
		kiln_error_clear();
		return KILN_GC_KEEP;
	}
	return t < now ? KILN_GC_EXPIRED : KILN_GC_KEEP;
}

static int instances_gone(int *gone, struct kiln_aws *aws, const char *const *ids, size_t n)
{
	struct kiln_ec2_instance_list *l = NULL;
	struct kiln_ec2_describe d = {.ids = ids, .n_ids = n};
	size_t i;
	int error;

	error = kiln_ec2_describe_instances(&l, aws, &d);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		*gone = 1;
		return 0;
	}
	if (error < 0)
		return error;
	*gone = 1;
	for (i = 0; i < l->n; i++)
		if (l->v[i].state == NULL || strcmp(l->v[i].state, "terminated") != 0)
			*gone = 0;
	kiln_ec2_instance_list_free(l);
	return 0;
}

int kiln_gc_terminate_instances(struct kiln_aws *aws, const char *const *ids, size_t n,
                                double timeout)
{
	struct kiln_poll poll;
	int gone = 0, error;

	if (n == 0)
		return 0;
	error = kiln_ec2_terminate_instances(NULL, aws, ids, n);
	if (error == KILN_ENOTFOUND) {
		kiln_error_clear();
		return 0;
	}
	if (error < 0)
		return error;
	kiln_poll_start(&poll, timeout, NULL);
	for (;;) {
		error = instances_gone(&gone, aws, ids, n);
		if (error < 0 || gone)
			return error;
		error = kiln_poll_wait(&poll, "instances to terminate");
		if (error < 0)
			return error;
	}
}

int kiln_gc_delete_security_group(struct kiln_aws *aws, const char *group_id, double timeout)
{
	struct kiln_poll poll;
	int error;

	kiln_poll_start(&poll, timeout, NULL);
	for (;;) {
		error = kiln_ec2_delete_security_group(aws, group_id);
		if (error == KILN_ENOTFOUND) {
			kiln_error_clear();
			return 0;
		}
		/* AWS keeps a terminated instance's interface for a while. */
		if (error == 0 || strcmp(kiln_aws_last_error()->code, "DependencyViolation") != 0)
			return error;
		if (kiln_poll_wait(&poll, "the security group to be free") < 0)
			return kiln_error_set(
			    KILN_ERROR, "cannot delete security group %s: still in use", group_id);
	}
}

static const char *reason_name(enum kiln_gc_reason r)
{
	return r == KILN_GC_RUN ? "run" : "expired";
}

static void add_item(json_t *items, const char *kind, const char *id, const char *name,
                     const struct kiln_aws_tags *tags, enum kiln_gc_reason r)
{
	json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:b}", "kind", kind, "id", id, "name",
	                      name, "run_id", kiln_aws_tags_get(tags, "kiln:run-id"), "reason",
	                      reason_name(r), "deleted", 0);
	json_array_append_new(items, o);
}

/* Every builder instance, key pair and security group selected, in deletion order. */
static int find(json_t *items, struct kiln_aws *aws, const struct kiln_gc_opts *o, double now)
{
	static const char *const live[] = {"pending", "running", "stopping", "stopped",
	                                   "shutting-down"};
	struct kiln_aws_filters f = KILN_AWS_LIST_INIT;
	struct kiln_ec2_describe d = {0};
	struct kiln_ec2_instance_list *il = NULL;
	struct kiln_ec2_key_pair_list *kl = NULL;
	struct kiln_ec2_security_group_list *sl = NULL;
	enum kiln_gc_reason r;
	size_t i;
	int error;

	kiln_aws_filters_add(&f, "tag:kiln:role", "builder");
	for (i = 0; i < KILN_ARRAY_SIZE(live); i++)
		kiln_aws_filters_add(&f, "instance-state-name", live[i]);
	d.filters = &f;
	error = kiln_ec2_describe_instances(&il, aws, &d);
	if (error < 0)
		goto done;
	for (i = 0; i < il->n; i++)
		if ((r = kiln_gc_select(&il->v[i].tags, now, o->run_id)) != KILN_GC_KEEP)
			add_item(items, "instance", il->v[i].instance_id, NULL, &il->v[i].tags, r);
	/* Tag filters on key pairs and groups differ between clouds: select here. */
	memset(&d, 0, sizeof(d));
	error = kiln_ec2_describe_key_pairs(&kl, aws, &d, 0);
	if (error < 0)
		goto done;
	for (i = 0; i < kl->n; i++)
		if ((r = kiln_gc_select(&kl->v[i].tags, now, o->run_id)) != KILN_GC_KEEP)
			add_item(items, "key-pair",
			         kl->v[i].key_pair_id ? kl->v[i].key_pair_id : kl->v[i].key_name,
			         kl->v[i].key_name, &kl->v[i].tags, r);
	error = kiln_ec2_describe_security_groups(&sl, aws, &d);
	if (error < 0)
		goto done;
	for (i = 0; i < sl->n; i++)
		if ((r = kiln_gc_select(&sl->v[i].tags, now, o->run_id)) != KILN_GC_KEEP)
			add_item(items, "security-group", sl->v[i].group_id, sl->v[i].group_name,
			         &sl->v[i].tags, r);
done:
	kiln_aws_filters_release(&f);
	kiln_ec2_instance_list_free(il);
	kiln_ec2_key_pair_list_free(kl);
	kiln_ec2_security_group_list_free(sl);
	return error;
}

static void say_failed(const char *kind, const char *id)
{
	char *msg = kiln_log_redact(kiln_error_last());

	kiln_log_error("cannot delete %s %s: %s", kind, id, msg);
	free(msg);
}

int kiln_gc_run(json_t **out, struct kiln_aws *aws, const struct kiln_gc_opts *o)
{
	json_t *items = json_array(), *it;
	const char **ids = NULL;
	double now = o->now > 0 ? o->now : kiln_time_now();
	double timeout = o->wait_timeout > 0 ? o->wait_timeout : 300;
	size_t i, n = 0;
	int error, failed = 0;

	error = find(items, aws, o, now);
	if (error < 0 || o->dry_run)
		goto done;
	ids = kiln_xcalloc(json_array_size(items) + 1, sizeof(*ids));
	json_array_foreach(items, i, it)
	{
		if (strcmp(kiln_json_str(it, "kind"), "instance") == 0)
			ids[n++] = kiln_json_str(it, "id");
	}
	if (n > 0) {
		error = kiln_gc_terminate_instances(aws, ids, n, timeout);
		if (error < 0) {
			say_failed("instances", ids[0]);
			failed = 1;
		}
	}
	json_array_foreach(items, i, it)
	{
		const char *kind = kiln_json_str(it, "kind"), *id = kiln_json_str(it, "id");
		if (strcmp(kind, "instance") == 0) {
			error = failed ? -1 : 0;
		} else if (strcmp(kind, "key-pair") == 0) {
			const char *name = kiln_json_str(it, "name");
			/* By name: unique in a region, and what every cloud accepts. */
			error = name != NULL ? kiln_ec2_delete_key_pair(aws, name, NULL)
			                     : kiln_ec2_delete_key_pair(aws, NULL, id);
			if (error == KILN_ENOTFOUND)
				error = 0;
		} else {
			error = kiln_gc_delete_security_group(aws, id, timeout);
		}
		if (error < 0) {
			if (strcmp(kind, "instance") != 0)
				say_failed(kind, id);
			failed = 1;
			continue;
		}
		json_object_set_new(it, "deleted", json_true());
	}
	error = failed ? kiln_error_set(KILN_ERROR, "some resources could not be deleted") : 0;
done:
	free(ids);
	if (out != NULL && (error >= 0 || json_array_size(items) > 0))
		*out = json_incref(items);
	json_decref(items);
	return error;
}

struct kiln_gc_report {
	char *target;
	json_t *items; /* owns the strings of `v` */
	struct kiln_gc_item *v;
	size_t n;
};

static struct kiln_gc_report *report_new(const char *target, json_t *items)
{
	struct kiln_gc_report *r = kiln_xcalloc(1, sizeof(*r));
	const json_t *it;
	size_t i;

	r->target = kiln_xstrdup(target);
	r->items = items != NULL ? json_incref(items) : json_array();
	r->v = kiln_xcalloc(json_array_size(r->items) + 1, sizeof(*r->v));
	json_array_foreach(r->items, i, it)
	{
		struct kiln_gc_item *v = &r->v[r->n++];
		v->kind = kiln_json_str(it, "kind");
		v->id = kiln_json_str(it, "id");
		v->name = kiln_json_str(it, "name");
		v->run_id = kiln_json_str(it, "run_id");
		v->reason = kiln_json_str(it, "reason");
		v->deleted = kiln_json_bool(it, "deleted", 0);
	}
	return r;
}

/* The target named, else the run's from its journal, else "aws"; says which. */
static int gc_client(struct kiln_aws **out, char **target, const struct kiln_gc_options *o,
                     const struct kiln_emitter *ev)
{
	struct kiln_run_target run = {0};
	struct kiln_target t = {.name = o->target, .region = o->region};
	char *endpoint = NULL, *why = NULL;
	int error = 0;

	t.local_endpoint = o->local_endpoint;
	if (t.name == NULL && o->run_id != NULL) {
		error = kiln_run_target_read(&run, o->state_dir, o->run_id);
		if (error == KILN_ENOTFOUND) {
			kiln_error_clear();
			error = 0;
		}
		if (error < 0)
			return error;
		if (run.name != NULL) {
			t.name = run.name;
			t.region = o->region ? o->region : run.region;
			t.local_endpoint = o->local_endpoint ? o->local_endpoint : run.endpoint;
			why = kiln_xasprintf(", where run %s baked (from its journal)", o->run_id);
		}
	}
	if (t.name == NULL)
		t.name = "aws";
	error = kiln_target_client(out, &endpoint, &t, ev);
	if (error >= 0) {
		if (endpoint != NULL)
			kiln_emit(ev, KILN_EVENT_PROGRESS, NULL, "cleaning the local cloud at %s%s",
			          endpoint, why ? why : "");
		else
			kiln_emit(ev, KILN_EVENT_PROGRESS, NULL, "cleaning AWS in %s%s",
			          kiln_aws_region(*out), why ? why : "");
		*target = kiln_xstrdup(t.name);
	}
	free(why);
	free(endpoint);
	kiln_run_target_release(&run);
	return error;
}

/* One KILN_EVENT_CHANGE per resource deleted, for the audit log. */
static void audit_deletions(const struct kiln_emitter *ev, const json_t *items)
{
	size_t i;
	json_t *it;

	json_array_foreach(items, i, it)
	{
		char *label;

		if (!kiln_json_bool(it, "deleted", 0))
			continue;
		label = kiln_xasprintf(
		    "%s %s", kiln_json_str(it, "kind") ? kiln_json_str(it, "kind") : "resource",
		    kiln_json_str(it, "id") ? kiln_json_str(it, "id") : "?");
		kiln_emit_change(ev, "deleted", label, 0);
		free(label);
	}
}

int kiln_gc(struct kiln_gc_report **out, const struct kiln_gc_options *opts)
{
	static const struct kiln_gc_options defaults = KILN_GC_OPTIONS_INIT;
	struct kiln_emitter ev = {0};
	struct kiln_gc_opts o = {0};
	struct kiln_aws *aws = NULL;
	json_t *items = NULL;
	char *target = NULL;
	int error;

	KILN_ASSERT_ARG(out != NULL);
	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	KILN_ASSERT_ARG(opts->version >= 1 && opts->version <= KILN_GC_OPTIONS_VERSION);
	ev.cb = opts->on_event;
	ev.payload = opts->payload;
	ev.base.stage = "gc";
	ev.base.run_id = opts->run_id;
	ev.base.dry_run = opts->dry_run;
	error = kiln_emitter_begin(&ev);
	if (error < 0)
		goto done;
	error = gc_client(&aws, &target, opts, &ev);
	if (error < 0)
		goto done;
	o.run_id = opts->run_id;
	o.dry_run = opts->dry_run;
	error = kiln_gc_run(&items, aws, &o);
	/* A whole sweep also retires what deploys kept past its time, and dead leases. */
	if (opts->run_id == NULL && items != NULL) {
		int e = kiln_deploy_gc_run(items, aws, 0, opts->dry_run);
		if (error >= 0)
			error = e;
	}
	if (items != NULL && !opts->dry_run)
		audit_deletions(&ev, items);
	if (items != NULL)
		*out = report_new(target, items);
done:
	kiln_emitter_end(&ev, error);
	json_decref(items);
	free(target);
	kiln_aws_free(aws);
	return error;
}

const char *kiln_gc_report_target(const struct kiln_gc_report *r)
{
	return r->target;
}

size_t kiln_gc_report_count(const struct kiln_gc_report *r)
{
	return r->n;
}

const struct kiln_gc_item *kiln_gc_report_item(const struct kiln_gc_report *r, size_t i)
{
	KILN_ASSERT_ARG(i < r->n);
	return &r->v[i];
}

void kiln_gc_report_free(struct kiln_gc_report *r)
{
	if (r == NULL)
		return;
	json_decref(r->items);
	free(r->v);
	free(r->target);
	free(r);
}
