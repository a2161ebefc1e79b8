/*
 * nftables scripts run inside a machine's network namespace (firewall-int.h).
 *
 * libnftables rather than "nsenter nft -f -": the library runs a script in
 * about a millisecond where a fork and exec of nsenter and nft from the
 * daemon (large, many threads) takes tens, and a change of one security
 * group may touch every instance. The library works in the network
 * namespace of the thread that creates its context, so each script runs on
 * a short-lived thread that enters the machine's namespace first: no
 * thread of the daemon changes namespace, and none keeps a namespace alive
 * after its machine is gone. One script at a time (libnftables keeps some
 * global state of its own).
 */
#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/util.h"
#include "localcloud/firewall-int.h"

static pthread_mutex_t nft_mu = PTHREAD_MUTEX_INITIALIZER;

struct nft_job {
	int netns_fd;
	const char *script;
	struct kiln_buf *out; /* the script's output (a listing), or NULL */
	int ok;
	char *error;
};

/* The first line of nftables' message, which names what it did not take. */
static char *first_line(const char *msg)
{
	size_t n = strcspn(msg ? msg : "", "\n");

	return n ? kiln_xasprintf("%.*s", (int)n, msg) : kiln_xstrdup("no reason given");
}

static void *nft_job_main(void *arg)
{
	struct nft_job *j = arg;
	struct nft_ctx *ctx;

	if (setns(j->netns_fd, CLONE_NEWNET) < 0) {
		j->error =
		    kiln_xasprintf("cannot enter the network namespace: %s", strerror(errno));
		return NULL;
	}
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (ctx == NULL) {
		j->error = kiln_xstrdup("cannot create an nftables context");
		return NULL;
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (nft_run_cmd_from_buffer(ctx, j->script) == 0) {
		j->ok = 1;
		if (j->out != NULL)
			kiln_buf_puts(j->out, nft_ctx_get_output_buffer(ctx));
	} else {
		j->error = first_line(nft_ctx_get_error_buffer(ctx));
	}
	nft_ctx_free(ctx);
	return NULL;
}

/* Run `script` in the namespace of `netns_fd`, its output into `out` when not NULL. */
KILN_STATIC int nft_run(int netns_fd, const char *script, struct kiln_buf *out)
{
	struct nft_job j = {.netns_fd = netns_fd, .script = script, .out = out};
	pthread_t t;
	int error = 0;

	pthread_mutex_lock(&nft_mu);
	if (pthread_create(&t, NULL, nft_job_main, &j) != 0) {
		pthread_mutex_unlock(&nft_mu);
		return kiln_error_set(KILN_ERROR, "nftables: cannot start a thread");
	}
	pthread_join(t, NULL);
	pthread_mutex_unlock(&nft_mu);
	if (!j.ok) {
		char *msg = kiln_escape(j.error ? j.error : "failed");
		error = kiln_error_set(KILN_ERROR, "nftables: %s", msg);
		free(msg);
	}
	free(j.error);
	return error;
}

int lc_nft_apply(int netns_fd, const char *script)
{
	KILN_ASSERT_ARG(netns_fd >= 0 && script != NULL);
	return nft_run(netns_fd, script, NULL);
}

int lc_nft_apply_pid(pid_t pid, const char *script)
{
	char path[64];
	int fd, error;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kiln_error_set(errno == ENOENT ? KILN_ENOTFOUND : KILN_ERROR,
		                      "cannot open '%s': %s", path, strerror(errno));
	error = lc_nft_apply(fd, script);
	close(fd);
	return error;
}
