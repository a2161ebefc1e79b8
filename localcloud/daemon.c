/*
 * The daemon's life: the cloud opened from its state directory, the bridge
 * up, the HTTP server listening, instances resumed; then signals until
 * SIGTERM or SIGINT, and everything stopped in reverse order.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "localcloud/autoscaling-int.h"
#include "localcloud/cloud-int.h"
#include "localcloud/cloud.h"
#include "localcloud/daemon-int.h"
#include "localcloud/ec2-int.h"
#include "localcloud/elbv2-int.h"
#include "localcloud/firewall-int.h"
#include "localcloud/http-int.h"

void lc_bridge_name(char out[16], const char *state_dir)
{
	char hex[65];

	kiln_sha256_hex(hex, state_dir, strlen(state_dir));
	snprintf(out, 16, "kc%.8s", hex);
}

/*
 * Four times a second: the load balancers' watcher (health, drains, dead
 * HAProxy processes) and the Auto Scaling reconciler; once a second: old terminated instances
 * forgotten, layers set aside deleted.
 */
static void *reaper_main(void *arg)
{
	struct lc_cloud *c = arg;

	for (unsigned round = 0; !c->stopping; round++) {
		/* the security groups' tables follow the state; every 5 s whatever it says */
		lc_fw_sync(c, round % 20 == 0);
		lc_lbs_watch(c);
		lc_asgs_reconcile(c);
		if (round % 4 == 0)
			lc_instances_expire(c);
		kiln_sleep(0.25, &c->stopping);
	}
	return NULL;
}

/* The one line the starting process waits for; the pipe is closed after it. */
static void tell(int *fd, const char *fmt, ...) KILN_PRINTF(2, 3);
static void tell(int *fd, const char *fmt, ...)
{
	struct kiln_buf line = KILN_BUF_INIT;
	va_list ap;

	if (*fd < 0)
		return;
	va_start(ap, fmt);
	kiln_buf_vprintf(&line, fmt, ap);
	va_end(ap);
	if (write(*fd, line.ptr, line.size) < 0)
		kiln_log_debug("the starting process is gone: %s", strerror(errno));
	kiln_buf_release(&line);
	close(*fd);
	*fd = -1;
}

/* SIGTERM, SIGINT and SIGHUP, blocked in every thread started from here on. */
static void block_signals(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int write_run_files(struct lc_cloud *c)
{
	char pid[32], *endpoint = kiln_xasprintf("http://127.0.0.1:%d\n", c->port);
	char *pidf = kiln_path_join(c->state_dir, "cloud.pid");
	char *epf = kiln_path_join(c->state_dir, "endpoint");
	int rc;

	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	rc = kiln_file_write_atomic(pidf, pid, strlen(pid), 0644);
	if (rc == 0)
		rc = kiln_file_write_atomic(epf, endpoint, strlen(endpoint), 0644);
	free(pidf);
	free(epf);
	free(endpoint);
	return rc;
}

static void remove_run_files(const char *state_dir)
{
	char *pidf = kiln_path_join(state_dir, "cloud.pid");
	char *epf = kiln_path_join(state_dir, "endpoint");

	unlink(pidf);
	unlink(epf);
	free(pidf);
	free(epf);
}

static void wait_for_stop(sigset_t *sigs)
{
	int sig;

	for (;;) {
		if (sigwait(sigs, &sig) != 0 || sig == SIGHUP)
			continue;
		kiln_log_info("signal %d: shutting down", sig);
		return;
	}
}

/* Everything the daemon runs on top of the opened cloud, and its orderly end. */
static int serve(struct lc_cloud *c, sigset_t *sigs, int *ready_fd)
{
	struct lc_http *http = NULL;
	char bridge[16];
	int rc;

	lc_bridge_name(bridge, c->state_dir);
	rc = lc_net_up(&c->net, bridge, c->cidr);
	if (rc < 0)
		return kiln_error_prefix(rc, "network %s on bridge %s", c->cidr, bridge);
	rc = lc_http_start(&http, c, c->port);
	if (rc == 0) {
		pthread_mutex_lock(&c->mu);
		rc = lc_instances_resume(c);
		pthread_mutex_unlock(&c->mu);
	}
	/* machines that ran through a crash get their tables again, as the state has them */
	if (rc == 0 && lc_fw_sync(c, 1) < 0)
		kiln_log_warn("security groups: %s", kiln_error_last());
	if (rc == 0)
		lc_lbs_resume(c);
	if (rc == 0 && pthread_create(&c->reaper, NULL, reaper_main, c) == 0)
		c->reaper_started = 1;
	if (rc == 0)
		rc = write_run_files(c);
	if (rc == 0) {
		kiln_log_info("local cloud up: http://127.0.0.1:%d, state %s, network %s on %s",
		              c->port, c->state_dir, c->cidr, bridge);
		tell(ready_fd, "ok http://127.0.0.1:%d\n", c->port);
		wait_for_stop(sigs);
	}
	c->stopping = 1;
	lc_http_stop(http);
	if (c->reaper_started)
		pthread_join(c->reaper, NULL);
	lc_lbs_shutdown(c);
	lc_instances_shutdown(c);
	pthread_mutex_lock(&c->mu);
	lc_state_save(c);
	pthread_mutex_unlock(&c->mu);
	lc_net_down(&c->net);
	return rc;
}

int lc_daemon_run(const struct kiln_cloud_opts *o, const char *state_dir, int ready_fd)
{
	struct lc_cloud c;
	sigset_t sigs;
	char *reqlog;
	int rc;

	/* the daemon's log says what it does: info unless asked for more */
	if (!kiln_log_enabled(KILN_LOG_INFO))
		kiln_log_setup(1, 0, KILN_COLOR_NEVER);
	block_signals(&sigs);
	rc = lc_cloud_open(&c, o, state_dir);
	if (rc == 0) {
		reqlog = kiln_path_join(state_dir, "requests.jsonl");
		c.reqlog_fd = open(reqlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		free(reqlog);
		rc = serve(&c, &sigs, &ready_fd);
	}
	if (rc < 0) {
		kiln_log_error("%s", kiln_error_last());
		tell(&ready_fd, "error %s\n", kiln_error_last());
	}
	remove_run_files(state_dir);
	if (c.reqlog_fd >= 0)
		close(c.reqlog_fd);
	lc_cloud_close(&c);
	kiln_log_info("local cloud down");
	return rc < 0 ? -1 : 0;
}
