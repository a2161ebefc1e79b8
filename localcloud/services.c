/*
 * The systemd services of an instance, as its init sees them: the units the
 * image enables, loaded once at boot (there is no daemon-reload), started in
 * name order, each run by a keeper (service.c), and started again per
 * Restart= after RestartSec=, within StartLimitBurst= starts per
 * StartLimitIntervalSec= (systemd's defaults: 5 in 10 s), after which the
 * service stays down, as systemd's start limit leaves it. See init-int.h.
 */
#include <string.h>
#include <sys/wait.h>

#include "core/util.h"
#include "localcloud/init-int.h"

#define MAX_SERVICES 256

struct service {
	struct lc_unit *unit;
	char *name; /* escaped, for the console */
	pid_t keeper;
	double restart_at; /* > 0: start again at this time (monotonic) */
	double *starts;    /* times of the last start_limit_burst starts, oldest first */
	size_t nstarts;
};

struct lc_services {
	struct service *v;
	size_t n;
};

/* sshd is init's own (it starts the image's sshd before anything else). */
static int started_by_init(const char *name)
{
	return strcmp(name, "ssh.service") == 0 || strcmp(name, "sshd.service") == 0;
}

static void start(struct service *s, double now)
{
	const struct lc_unit *u = s->unit;
	double window = (double)u->start_limit_interval_usec / 1e6;
	size_t burst = u->start_limit_burst;

	/* Forget the starts that left the window; refuse past the burst. */
	while (s->nstarts > 0 && (window <= 0 || s->starts[0] < now - window)) {
		memmove(s->starts, s->starts + 1, (s->nstarts - 1) * sizeof(*s->starts));
		s->nstarts--;
	}
	if (window > 0 && burst > 0 && s->nstarts >= burst) {
		lc_init_say("%s: started %zu times within %.0f s: not started again "
		            "(StartLimitBurst=, StartLimitIntervalSec=)",
		            s->name, s->nstarts, window);
		return;
	}
	if (window > 0 && burst > 0)
		s->starts[s->nstarts++] = now;
	s->keeper = lc_service_spawn(u);
	if (s->keeper < 0) {
		lc_init_say("%s: cannot start: %s", s->name, kiln_error_last());
		s->keeper = 0;
	}
}

static void load(struct lc_services *s, const char *root, const char *name,
                 const struct lc_unit_ctx *ctx)
{
	struct lc_unit *u = NULL;
	struct service *svc;
	char *esc = kiln_escape(name);

	if (started_by_init(name)) {
		lc_init_say("%s: not started (kiln-init runs the image's sshd itself)", esc);
	} else if (s->n == MAX_SERVICES) {
		lc_init_say("%s: not started (more than %d services)", esc, MAX_SERVICES);
	} else if (lc_unit_load(&u, root, name, ctx) < 0) {
		lc_init_say("%s: not started: %s", esc, kiln_error_last());
	} else {
		svc = &s->v[s->n++];
		memset(svc, 0, sizeof(*svc));
		svc->unit = u;
		svc->name = esc;
		svc->starts = kiln_xcalloc(u->start_limit_burst + 1, sizeof(*svc->starts));
		return;
	}
	kiln_error_clear();
	free(esc);
}

struct lc_services *lc_services_start(const char *root, const char *hostname)
{
	struct lc_services *s = kiln_xcalloc(1, sizeof(*s));
	struct lc_strv names = {NULL, 0}, skipped = {NULL, 0};
	struct lc_unit_ctx ctx = {hostname};
	double now = kiln_time_mono();

	if (lc_units_enabled(&names, &skipped, root) < 0) {
		lc_init_say("cannot list the enabled units: %s", kiln_error_last());
		kiln_error_clear();
	}
	if (skipped.n > 0) {
		struct kiln_buf list = KILN_BUF_INIT;
		for (size_t i = 0; i < skipped.n; i++)
			kiln_buf_printf(&list, "%s%s", i ? ", " : "", skipped.v[i]);
		lc_init_say("enabled but not started (not services): %s", list.ptr);
		kiln_buf_release(&list);
	}
	s->v = kiln_xcalloc(names.n > MAX_SERVICES ? MAX_SERVICES : names.n + 1, sizeof(*s->v));
	for (size_t i = 0; i < names.n; i++)
		load(s, root, names.v[i], &ctx);
	for (size_t i = 0; i < s->n; i++) {
		lc_init_say("starting %s", s->v[i].name);
		start(&s->v[i], now);
	}
	lc_strv_release(&names);
	lc_strv_release(&skipped);
	return s;
}

int lc_services_reaped(struct lc_services *s, pid_t pid, int status)
{
	static const char *const policies[] = {
	    "no", "always", "on-success", "on-failure", "on-abnormal", "on-abort", "on-watchdog"};
	enum lc_service_result result;

	for (size_t i = 0; s != NULL && i < s->n; i++) {
		struct service *svc = &s->v[i];
		const struct lc_unit *u = svc->unit;
		if (svc->keeper != pid || pid <= 0)
			continue;
		svc->keeper = 0;
		result = WIFEXITED(status) && WEXITSTATUS(status) <= LC_SERVICE_TIMEOUT
		             ? (enum lc_service_result)WEXITSTATUS(status)
		             : LC_SERVICE_SIGNAL;
		if (!lc_service_should_restart(u->restart, result)) {
			lc_init_say("%s: stopped (Restart=%s)", svc->name, policies[u->restart]);
			return 1;
		}
		svc->restart_at = kiln_time_mono() + (double)u->restart_usec / 1e6;
		lc_init_say("%s: restarting in %.1f s (Restart=%s)", svc->name,
		            (double)u->restart_usec / 1e6, policies[u->restart]);
		return 1;
	}
	return 0;
}

double lc_services_next(const struct lc_services *s, double now)
{
	double next = -1;

	for (size_t i = 0; s != NULL && i < s->n; i++) {
		double at = s->v[i].restart_at;
		if (at > 0 && (next < 0 || at - now < next))
			next = at - now > 0 ? at - now : 0;
	}
	return next;
}

void lc_services_tick(struct lc_services *s, double now)
{
	for (size_t i = 0; s != NULL && i < s->n; i++) {
		struct service *svc = &s->v[i];
		if (svc->restart_at > 0 && svc->restart_at <= now) {
			svc->restart_at = 0;
			start(svc, now);
		}
	}
}

void lc_services_free(struct lc_services *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		lc_unit_free(s->v[i].unit);
		free(s->v[i].name);
		free(s->v[i].starts);
	}
	free(s->v);
	free(s);
}
