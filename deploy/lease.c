#include "deploy/lease.h"
#include "aws/ssm.h"
#include "core/json.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/util.h"
#include "deploy/names.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

void kiln_lease_holder_release(struct kiln_lease_holder *h)
{
	if (h == NULL)
		return;
	free(h->run_id);
	free(h->caller);
	free(h->host);
	memset(h, 0, sizeof(*h));
}

int kiln_lease_parse(struct kiln_lease_holder *out, const char *value)
{
	json_t *j = json_loads(value, 0, NULL);
	const json_t *exp;
	int error = 0;

	memset(out, 0, sizeof(*out));
	exp = json_object_get(j, "expires");
	if (!json_is_object(j) || kiln_json_str(j, "run_id") == NULL || !json_is_number(exp)) {
		error = kiln_error_set(KILN_EINVAL, "not a deploy lease");
		goto done;
	}
	out->run_id = kiln_xstrdup(kiln_json_str(j, "run_id"));
	out->caller = kiln_xstrdup(kiln_json_str(j, "caller") ? kiln_json_str(j, "caller") : "");
	out->host = kiln_xstrdup(kiln_json_str(j, "host") ? kiln_json_str(j, "host") : "");
	out->pid = (long)kiln_json_int(j, "pid", 0);
	out->expires = json_number_value(exp);
	out->started = json_number_value(json_object_get(j, "started"));
done:
	json_decref(j);
	return error;
}

char *kiln_lease_holder_describe(const struct kiln_lease_holder *h)
{
	char until[32];
	char *run = kiln_escape(h->run_id), *caller = kiln_escape(h->caller);
	char *host = kiln_escape(h->host), *s;

	kiln_time_iso8601(until, h->expires, 0);
	s = kiln_xasprintf("run %s (%s on %s, pid %ld) until %s", run, caller[0] ? caller : "?",
	                   host[0] ? host : "?", h->pid, until);
	free(run);
	free(caller);
	free(host);
	return s;
}

int kiln_lease_read(struct kiln_lease_holder *out, struct kiln_aws *aws, const char *name)
{
	struct kiln_ssm_parameter *p = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	error = kiln_ssm_get_parameter(&p, aws, name, 0);
	if (error < 0)
		return error;
	error = kiln_lease_parse(out, p->value);
	if (error < 0)
		kiln_error_prefix(KILN_ERROR, "parameter '%s'", name);
	kiln_ssm_parameter_free(p);
	return error < 0 ? KILN_ERROR : 0;
}

static char *lease_value(const struct kiln_deploy_lease *l, double started)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:f, s:f}", "run_id", l->run_id, "caller",
	                      l->caller, "host", l->host, "pid", (int)getpid(), "started", started,
	                      "expires", l->expires);
	char *text;

	if (j == NULL)
		kiln_die("out of memory");
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (text == NULL)
		kiln_die("out of memory");
	return text;
}

static int put(struct kiln_deploy_lease *l, int overwrite)
{
	struct kiln_ssm_put_parameter p = {0};
	char *value;
	int error;

	l->expires = kiln_time_now() + KILN_LEASE_TTL;
	value = lease_value(l, kiln_time_now());
	p.name = l->name;
	p.value = value;
	p.description = "kiln deploy lease";
	p.overwrite = overwrite;
	error = kiln_ssm_put_parameter(NULL, l->aws, &p);
	free(value);
	if (error >= 0)
		l->renew_at = kiln_time_mono() + KILN_LEASE_RENEW;
	return error;
}

/* 1 when the parameter names our run now. */
static int ours(struct kiln_deploy_lease *l, int *error)
{
	struct kiln_lease_holder h;
	int mine;

	*error = kiln_lease_read(&h, l->aws, l->name);
	if (*error == KILN_ENOTFOUND) {
		kiln_error_clear();
		*error = 0;
		return 0;
	}
	if (*error < 0)
		return 0;
	mine = strcmp(h.run_id, l->run_id) == 0;
	kiln_lease_holder_release(&h);
	return mine;
}

static int pid_alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/*
 * Whether `h` may be broken: expired, or taken on this host by a process
 * that is gone (we hold the local lock, so no live deploy of ours has it).
 */
static const char *breakable(const struct kiln_deploy_lease *l, const struct kiln_lease_holder *h)
{
	if (h->expires < kiln_time_now())
		return "it expired";
	if (strcmp(h->host, l->host) == 0 && !pid_alive(h->pid))
		return "its process on this host is gone";
	return NULL;
}

static int local_lock(struct kiln_deploy_lease *l, const struct kiln_lease_request *req,
                      double deadline)
{
	char *dir = NULL, *path = NULL, *file;
	int error;

	error = kiln_paths_state(&dir, req->state_dir);
	if (error < 0)
		return error;
	file = kiln_deploy_name(req->profile, req->env, NULL, 255);
	path = kiln_xasprintf("%s/locks/deploy-%s.lock", dir, file);
	free(file);
	error = kiln_lock_acquire(&l->local, path, 0, req->stop);
	if (error == KILN_ETIMEOUT && deadline > kiln_time_mono()) {
		kiln_error_clear();
		error = kiln_lock_acquire(&l->local, path, deadline - kiln_time_mono(), req->stop);
	}
	free(path);
	free(dir);
	return error;
}

/* The lease held by a live run: wait for it, or fail naming it. */
static int held_by_other(const struct kiln_deploy_lease *l, const struct kiln_lease_holder *h,
                         double deadline, double *pause, volatile int *stop)
{
	char *who;
	int error;

	if (kiln_time_mono() + *pause > deadline) {
		who = kiln_lease_holder_describe(h);
		error = kiln_error_set(KILN_ERROR, "another deploy holds the lease %s: %s", l->name,
		                       who);
		free(who);
		return error;
	}
	error = kiln_sleep(*pause, stop);
	*pause = *pause < 4 ? *pause * 2 : 5;
	return error;
}

/* Name the holder when the local lock is busy: another kiln of this machine deploys. */
static int local_busy(struct kiln_deploy_lease *l)
{
	struct kiln_lease_holder h;
	char *who;
	int error;

	kiln_error_clear();
	if (kiln_lease_read(&h, l->aws, l->name) < 0) {
		kiln_error_clear();
		return kiln_error_set(KILN_ERROR,
		                      "another deploy of this profile and environment runs on "
		                      "this machine (lock held)");
	}
	who = kiln_lease_holder_describe(&h);
	error = kiln_error_set(KILN_ERROR, "another deploy holds the lease %s: %s", l->name, who);
	free(who);
	kiln_lease_holder_release(&h);
	return error;
}

static int acquire_loop(struct kiln_deploy_lease *l, const struct kiln_lease_request *req,
                        const struct kiln_emitter *ev, double deadline)
{
	double pause = 0.2;
	int error, i;

	for (i = 0; i < 10000; i++) {
		struct kiln_lease_holder h;
		const char *why;
		char *who;

		error = put(l, 0);
		if (error >= 0) {
			/* Read back: a concurrent breaker may have deleted ours and put its own. */
			if (ours(l, &error))
				return 0;
			if (error < 0)
				return error;
			continue;
		}
		if (error != KILN_EEXISTS)
			return error;
		kiln_error_clear();
		error = kiln_lease_read(&h, l->aws, l->name);
		if (error == KILN_ENOTFOUND) {
			kiln_error_clear();
			continue;
		}
		if (error < 0)
			return error;
		why = breakable(l, &h);
		if (why != NULL) {
			who = kiln_lease_holder_describe(&h);
			kiln_emit(ev, KILN_EVENT_WARNING, "lease",
			          "breaking the deploy lease of %s: %s", who, why);
			free(who);
			error = kiln_ssm_delete_parameter(l->aws, l->name);
			if (error == KILN_ENOTFOUND) {
				kiln_error_clear();
				error = 0;
			}
			kiln_emit_change(ev, "lease broken", l->name, error);
		} else {
			error = held_by_other(l, &h, deadline, &pause, req->stop);
		}
		kiln_lease_holder_release(&h);
		if (error < 0)
			return error;
	}
	return kiln_error_set(KILN_ERROR, "cannot take the deploy lease %s", l->name);
}

int kiln_lease_acquire(struct kiln_deploy_lease *l, struct kiln_aws *aws,
                       const struct kiln_lease_request *req, const struct kiln_emitter *ev)
{
	double deadline = kiln_time_mono() + req->wait;
	char host[256];
	int error;

	KILN_ASSERT_ARG(l != NULL && aws != NULL && req != NULL && req->run_id != NULL);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	l->aws = aws;
	l->name = kiln_deploy_lease_name(req->profile, req->env);
	l->run_id = kiln_xstrdup(req->run_id);
	l->caller = kiln_xstrdup(req->caller != NULL ? req->caller : "");
	l->host = kiln_xstrdup(host);
	error = local_lock(l, req, deadline);
	if (error == KILN_ETIMEOUT)
		return local_busy(l);
	if (error < 0)
		return error;
	error = acquire_loop(l, req, ev, deadline);
	if (error < 0) {
		kiln_lock_release(&l->local);
		return error;
	}
	l->held = 1;
	return 0;
}

int kiln_lease_renew(struct kiln_deploy_lease *l)
{
	int error;

	if (l == NULL || !l->held || kiln_time_mono() < l->renew_at)
		return 0;
	if (!ours(l, &error)) {
		l->held = 0;
		if (error < 0)
			return kiln_error_prefix(error, "checking the deploy lease");
		return kiln_error_set(KILN_ERROR, "lost the deploy lease %s to another run",
		                      l->name);
	}
	error = put(l, 1);
	return error < 0 ? kiln_error_prefix(error, "renewing the deploy lease") : 0;
}

void kiln_lease_release(struct kiln_deploy_lease *l)
{
	/* Giving the lease back must not replace the message of a failed deploy. */
	int code = kiln_error_last_code(), error;
	char *saved = kiln_xstrdup(kiln_error_last());

	if (l == NULL) {
		free(saved);
		return;
	}
	if (l->held && ours(l, &error)) {
		if (kiln_ssm_delete_parameter(l->aws, l->name) < 0)
			kiln_log_warn("%s", kiln_error_last());
	}
	if (code != KILN_OK)
		kiln_error_set(code, "%s", saved);
	else
		kiln_error_clear();
	free(saved);
	l->held = 0;
	kiln_lock_release(&l->local);
	free(l->name);
	free(l->run_id);
	free(l->caller);
	free(l->host);
	l->name = l->run_id = l->caller = l->host = NULL;
}
