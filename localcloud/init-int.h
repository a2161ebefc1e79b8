/*
 * The pieces of an instance's init (kiln_cloud_init_main() in init.c, PID 1
 * inside the instance): its console, the image's accounts, and the systemd
 * services it starts and restarts (services.c), each run by a keeper process
 * (service.c). Everything here runs inside the instance, after init pivoted
 * into its root; what it reads from the image is hostile.
 */
#ifndef KILN_LOCALCLOUD_INIT_INT_H
#define KILN_LOCALCLOUD_INIT_INT_H

#include <sys/types.h>

#include "core/common.h"
#include "localcloud/units-int.h"

/*
 * One line on the instance's console, "kiln-init: " first. The whole line is
 * escaped (control bytes as \xNN): names and values from the image may be
 * quoted in it as they are.
 */
void lc_init_say(const char *fmt, ...) KILN_PRINTF(1, 2);

/* A user of the image (its /etc/passwd and /etc/group; the host's NSS is not used). */
struct lc_account {
	uid_t uid;
	gid_t gid;
	char *name, *home, *shell;
	gid_t *groups; /* supplementary groups, the primary one included */
	size_t ngroups;
};

/*
 * Look up `user` (a name, or a number) in `root`/etc/passwd, with the groups
 * of /etc/group that list it. KILN_ENOTFOUND when there is no such user.
 */
int lc_account_lookup(struct lc_account *out, const char *root, const char *user);
/* The gid of `group` (a name, or a number) in `root`/etc/group. */
int lc_group_lookup(gid_t *out, const char *root, const char *group);
void lc_account_release(struct lc_account *a);

/*
 * How a service's run ended, as its keeper's exit code: the classes of
 * systemd's Restart= table. A keeper killed by a signal counts as
 * LC_SERVICE_SIGNAL.
 */
enum lc_service_result {
	LC_SERVICE_CLEAN = 0,     /* exit 0, or SIGHUP, SIGINT, SIGTERM, SIGPIPE */
	LC_SERVICE_EXIT_CODE = 1, /* another exit code, or it could not start */
	LC_SERVICE_SIGNAL = 2,    /* another signal */
	LC_SERVICE_TIMEOUT = 3,   /* the start took longer than TimeoutStartSec= */
};

/* Would Restart=`policy` start a service again after `result`? */
int lc_service_should_restart(enum lc_unit_restart policy, enum lc_service_result result);
/*
 * Fork the keeper of one run of `u`: it runs the service and exits with an
 * enum lc_service_result. Returns its pid, or -1 (the reason in the error slot).
 */
pid_t lc_service_spawn(const struct lc_unit *u);

/* The enabled services of the image, loaded, started, and restarted per their units. */
struct lc_services;
/*
 * Load the services enabled in the image at `root` and start them in name
 * order; what cannot be started is said on the console. Never fails: an
 * image with no units, or only bad ones, just starts nothing.
 */
struct lc_services *lc_services_start(const char *root, const char *hostname);
/* Was `pid` a keeper? Then its service's restart is decided; `status` as from waitpid(). */
int lc_services_reaped(struct lc_services *s, pid_t pid, int status);
/* Seconds until a restart is due (0: now), or -1 when none is pending. */
double lc_services_next(const struct lc_services *s, double now);
/* Start the services whose restart is due. */
void lc_services_tick(struct lc_services *s, double now);
void lc_services_free(struct lc_services *s);

#endif
