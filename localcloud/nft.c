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
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/common.h"
#include "core/util.h"
#include "localcloud/firewall-int.h"

static pthread_mutex_t nft_mu = PTHREAD_MUTEX_INITIALIZER;

struct nft_job {
	int netns_fd;
	const char *script;   /* NULL: only the generation */
	struct kiln_buf *out; /* the script's output (a listing), or NULL */
	uint32_t *gen;        /* the namespace's ruleset generation afterwards, or NULL */
	int ok;
	char *error;
};

/*
 * The ruleset generation of the current network namespace: nftables counts
 * every transaction committed there, so a table changed by anyone else
 * shows as a generation other than the one its last replacement left.
 * libnftables does not expose it: one NFT_MSG_GETGEN on a netlink socket.
 */
static int generation(uint32_t *out)
{
	struct {
		struct nlmsghdr nh;
		struct nfgenmsg g;
	} req;
	union {
		struct nlmsghdr nh;
		char bytes[4096];
	} rsp;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER), found = 0;
	ssize_t n = -1;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.g.nfgen_family = AF_UNSPEC;
	req.g.version = NFNETLINK_V0;
	if (fd >= 0 && send(fd, &req, sizeof(req), 0) == (ssize_t)sizeof(req))
		n = recv(fd, &rsp, sizeof(rsp), 0);
	if (fd >= 0)
		close(fd);
	if (n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nfgenmsg)) && NLMSG_OK(&rsp.nh, (size_t)n) &&
	    rsp.nh.nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) {
		size_t off = NLMSG_LENGTH(sizeof(struct nfgenmsg));
		/* attributes: {len, type, value}, each padded to 4 bytes */
		while (!found && off + NLA_HDRLEN <= rsp.nh.nlmsg_len) {
			struct nlattr a;
			memcpy(&a, rsp.bytes + off, sizeof(a));
			if (a.nla_len < NLA_HDRLEN || off + a.nla_len > rsp.nh.nlmsg_len)
				break;
			if ((a.nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID &&
			    a.nla_len >= NLA_HDRLEN + sizeof(uint32_t)) {
				uint32_t be;
				memcpy(&be, rsp.bytes + off + NLA_HDRLEN, sizeof(be));
				*out = ntohl(be);
				found = 1;
			}
			off += NLA_ALIGN(a.nla_len);
		}
	}
	return found ? 0 : -1;
}

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
	if (j->script == NULL) {
		j->ok = generation(j->gen) == 0;
		if (!j->ok)
			j->error = kiln_xasprintf("cannot read the ruleset generation: %s",
			                          strerror(errno));
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
		j->ok = j->gen == NULL || generation(j->gen) == 0;
		if (!j->ok)
			j->error = kiln_xstrdup("cannot read the ruleset generation");
		if (j->out != NULL)
			kiln_buf_puts(j->out, nft_ctx_get_output_buffer(ctx));
	} else {
		j->error = first_line(nft_ctx_get_error_buffer(ctx));
	}
	nft_ctx_free(ctx);
	return NULL;
}

/*
 * Run `script` in the namespace of `netns_fd`, its output into `out` and
 * the generation it leaves into `gen` when not NULL; a NULL script only
 * reads the generation.
 */
KILN_STATIC int nft_run(int netns_fd, const char *script, struct kiln_buf *out, uint32_t *gen)
{
	struct nft_job j = {.netns_fd = netns_fd, .script = script, .out = out, .gen = gen};
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

int lc_nft_apply(int netns_fd, const char *script, uint32_t *gen)
{
	KILN_ASSERT_ARG(netns_fd >= 0 && (script != NULL || gen != NULL));
	return nft_run(netns_fd, script, NULL, gen);
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
	error = lc_nft_apply(fd, script, NULL);
	close(fd);
	return error;
}
