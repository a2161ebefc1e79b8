/*
 * bench/cloud: the local cloud's speed, through its EC2 API with kiln's own
 * client, against a daemon this benchmark starts and stops itself
 * (127.0.0.1:4614, 10.214.4.0/24, a temporary state directory):
 *
 *   1. RunInstances to a readable SSH banner, one instance at a time
 *      (median of N, default 20); the peer is EC2, whose instances take
 *      30-60 s to reach SSH (not measurable here: the figure is quoted);
 *   2. CreateImage of a stopped instance holding a 100 MiB change, to
 *      the image being available;
 *   3. ten instances launched in one RunInstances, to every SSH banner.
 *
 * usage: cloud [KILN_BIN] [RUNS]   (root; KILN_BIN defaults to ./kiln)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aws/client.h"
#include "aws/ec2.h"
#include "core/buf.h"
#include "core/proc.h"
#include "core/util.h"

#define PORT "4614"
#define CIDR "10.214.4.0/24"
#define HOST "10.214.4.1" /* this host on the cloud's bridge */
#define GOAL 1.5

static const char *kiln_bin = "./kiln";
static char state_dir[256];

static int run_kiln(struct kiln_buf *out, const char *a1, const char *a2, const char *a3,
                    const char *a4)
{
	char *argv[16];
	int n = 0, status = 0;
	struct kiln_buf err = KILN_BUF_INIT;

	argv[n++] = (char *)kiln_bin;
	argv[n++] = "cloud";
	argv[n++] = (char *)a1;
	if (a2)
		argv[n++] = (char *)a2;
	if (a3)
		argv[n++] = (char *)a3;
	if (a4)
		argv[n++] = (char *)a4;
	argv[n++] = "--state-dir";
	argv[n++] = state_dir;
	argv[n] = NULL;
	if (kiln_proc_run(&status, out, &err, argv) < 0 || status != 0) {
		fprintf(stderr, "cloud: kiln cloud %s failed: %s\n", a1, err.ptr);
		kiln_buf_release(&err);
		return -1;
	}
	kiln_buf_release(&err);
	return 0;
}

/*
 * Connect (100 ms at most: a SYN sent before the instance's address exists is
 * lost, and the kernel would only retry it after a second) and read
 * "SSH-2.0-": 1 when the banner came, 0 not yet.
 */
static int banner(const char *ip)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(22)};
	struct pollfd p;
	char buf[16];
	int fd, ok = 0, err = 0;
	socklen_t len = sizeof(err);

	inet_pton(AF_INET, ip, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return 0;
	p.fd = fd;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		p.events = POLLOUT;
		if (errno != EINPROGRESS || poll(&p, 1, 100) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			close(fd);
			return 0;
		}
	}
	p.events = POLLIN;
	if (poll(&p, 1, 2000) == 1 && read(fd, buf, sizeof(buf)) >= 8)
		ok = memcmp(buf, "SSH-2.0-", 8) == 0;
	close(fd);
	return ok;
}

static double wait_banner(const char *ip, double timeout)
{
	double t0 = kiln_time_mono();
	while (kiln_time_mono() - t0 < timeout) {
		if (banner(ip))
			return kiln_time_mono();
		kiln_sleep(0.005, NULL);
	}
	return -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int terminate_all(struct kiln_aws *aws, struct kiln_ec2_instance_list *l)
{
	const char **ids = kiln_xcalloc(l->n + 1, sizeof(*ids));
	int rc;
	for (size_t i = 0; i < l->n; i++)
		ids[i] = l->v[i].instance_id;
	rc = kiln_ec2_terminate_instances(NULL, aws, ids, l->n);
	free(ids);
	return rc;
}

static int wait_state(struct kiln_aws *aws, const char *id, const char *state, double timeout)
{
	double t0 = kiln_time_mono();
	const char *ids[] = {id};
	struct kiln_ec2_describe d = {.ids = ids, .n_ids = 1};

	while (kiln_time_mono() - t0 < timeout) {
		struct kiln_ec2_instance_list *l = NULL;
		int done = 0;
		if (kiln_ec2_describe_instances(&l, aws, &d) == 0 && l->n == 1)
			done = strcmp(l->v[0].state, state) == 0;
		kiln_ec2_instance_list_free(l);
		if (done)
			return 0;
		kiln_sleep(0.05, NULL);
	}
	return -1;
}

/* A group that lets this host (the bridge's first address) reach SSH: groups filter. */
static int ssh_group(char **out, struct kiln_aws *aws)
{
	const char *cidrs[] = {HOST "/32"};
	struct kiln_ec2_ip_permission ssh = {
	    .ip_protocol = "tcp", .from_port = 22, .to_port = 22, .cidrs = cidrs, .n_cidrs = 1};

	if (kiln_ec2_create_security_group(out, aws, "bench-ssh", "SSH from this host", NULL, NULL,
	                                   0) < 0 ||
	    kiln_ec2_authorize_ingress(aws, *out, &ssh, 1) < 0) {
		fprintf(stderr, "cloud: the SSH group: %s\n", kiln_error_last());
		return -1;
	}
	return 0;
}

static int bench(struct kiln_aws *aws, const char *image, int runs)
{
	struct kiln_ec2_run_instances ri = {.image_id = image, .instance_type = "t3.micro"};
	double *t = kiln_xcalloc((size_t)runs, sizeof(*t));
	char *group = NULL;
	const char *groups[1];
	int rc = -1;

	if (ssh_group(&group, aws) < 0)
		goto out;
	groups[0] = group;
	ri.security_group_ids = groups;
	ri.n_security_group_ids = 1;

	/* 1. RunInstances to SSH banner */
	for (int i = 0; i < runs; i++) {
		struct kiln_ec2_instance_list *l = NULL;
		double t0 = kiln_time_mono(), t1;
		if (kiln_ec2_run_instances(&l, aws, &ri) < 0) {
			fprintf(stderr, "cloud: RunInstances: %s\n", kiln_error_last());
			goto out;
		}
		t1 = wait_banner(l->v[0].private_ip, 30);
		terminate_all(aws, l);
		if (t1 < 0) {
			fprintf(stderr, "cloud: no SSH banner from %s\n", l->v[0].private_ip);
			kiln_ec2_instance_list_free(l);
			goto out;
		}
		t[i] = t1 - t0;
		kiln_ec2_instance_list_free(l);
	}
	qsort(t, (size_t)runs, sizeof(*t), cmp_double);
	printf("RunInstances -> SSH banner (%d runs): median %.3f s, min %.3f s, max %.3f s; "
	       "goal %.1f s; EC2 30-60 s (quoted, not measured here): %.0fx-%.0fx faster\n",
	       runs, t[runs / 2], t[0], t[runs - 1], GOAL, 30 / t[runs / 2], 60 / t[runs / 2]);

	/* 2. CreateImage of a 100 MiB change */
	{
		struct kiln_ec2_run_instances r2 = ri;
		struct kiln_ec2_instance_list *l = NULL;
		char *new_image = NULL;
		struct kiln_ec2_create_image ci = {.name = "bench-100mib", .no_reboot = -1};
		const char *ids[1];
		struct kiln_ec2_describe d = {.ids = ids, .n_ids = 1};
		double t0;
		int available = 0;

		r2.user_data = "#!/bin/sh\nhead -c 104857600 /dev/urandom > /root/blob\nsync\n"
		               "busybox poweroff\n";
		if (kiln_ec2_run_instances(&l, aws, &r2) < 0 ||
		    wait_state(aws, l->v[0].instance_id, "stopped", 120) < 0) {
			fprintf(stderr, "cloud: the 100 MiB instance did not stop: %s\n",
			        kiln_error_last());
			kiln_ec2_instance_list_free(l);
			goto out;
		}
		ci.instance_id = l->v[0].instance_id;
		t0 = kiln_time_mono();
		if (kiln_ec2_create_image(&new_image, aws, &ci) < 0) {
			fprintf(stderr, "cloud: CreateImage: %s\n", kiln_error_last());
			kiln_ec2_instance_list_free(l);
			goto out;
		}
		ids[0] = new_image;
		while (!available && kiln_time_mono() - t0 < 120) {
			struct kiln_ec2_image_list *il = NULL;
			if (kiln_ec2_describe_images(&il, aws, &d) == 0 && il->n == 1)
				available = strcmp(il->v[0].state, "available") == 0;
			kiln_ec2_image_list_free(il);
			if (!available)
				kiln_sleep(0.01, NULL);
		}
		printf("CreateImage of a 100 MiB change -> available: %.3f s\n",
		       kiln_time_mono() - t0);
		terminate_all(aws, l);
		kiln_ec2_instance_list_free(l);
		free(new_image);
		if (!available)
			goto out;
	}

	/* 3. ten at once */
	{
		struct kiln_ec2_run_instances r3 = ri;
		struct kiln_ec2_instance_list *l = NULL;
		double t0 = kiln_time_mono(), last = 0;
		r3.min_count = r3.max_count = 10;
		if (kiln_ec2_run_instances(&l, aws, &r3) < 0 || l->n != 10) {
			fprintf(stderr, "cloud: RunInstances x10: %s\n", kiln_error_last());
			kiln_ec2_instance_list_free(l);
			goto out;
		}
		for (size_t i = 0; i < l->n; i++) {
			double t1 = wait_banner(l->v[i].private_ip, 60);
			if (t1 < 0) {
				fprintf(stderr, "cloud: no banner from %s\n", l->v[i].private_ip);
				terminate_all(aws, l);
				kiln_ec2_instance_list_free(l);
				goto out;
			}
			if (t1 > last)
				last = t1;
		}
		printf("10 instances in one RunInstances -> every SSH banner: %.3f s\n", last - t0);
		terminate_all(aws, l);
		kiln_ec2_instance_list_free(l);
	}
	rc = 0;
out:
	free(group);
	free(t);
	return rc;
}

int main(int argc, char **argv)
{
	struct kiln_aws_config cfg = {.region = "us-east-1",
	                              .endpoint_url = "http://127.0.0.1:" PORT,
	                              .access_key_id = "test",
	                              .secret_access_key = "test"};
	struct kiln_buf out = KILN_BUF_INIT;
	struct kiln_aws *aws = NULL;
	char *image = NULL;
	int runs = 20, rc = 1;

	if (argc > 1)
		kiln_bin = argv[1];
	if (argc > 2)
		runs = atoi(argv[2]) > 0 ? atoi(argv[2]) : 20;
	if (geteuid() != 0) {
		fprintf(stderr, "cloud: needs root (the local cloud does)\n");
		return 77;
	}
	snprintf(state_dir, sizeof(state_dir), "/tmp/kiln-bench-cloud-%d", (int)getpid());
	{
		char *argv_up[] = {(char *)kiln_bin, "cloud", "up",          "--port",  PORT,
		                   "--cidr",         CIDR,    "--state-dir", state_dir, NULL};
		struct kiln_buf err = KILN_BUF_INIT;
		int status = 0;
		if (kiln_proc_run(&status, &out, &err, argv_up) < 0 || status != 0) {
			fprintf(stderr, "cloud: kiln cloud up failed: %s\n", err.ptr);
			kiln_buf_release(&err);
			goto done;
		}
		kiln_buf_release(&err);
	}
	kiln_buf_clear(&out);
	if (run_kiln(&out, "image", "debootstrap", "bench-base", NULL) < 0)
		goto down;
	kiln_buf_rtrim(&out);
	image = kiln_xstrdup(out.ptr);
	if (kiln_aws_new(&aws, &cfg) < 0) {
		fprintf(stderr, "cloud: %s\n", kiln_error_last());
		goto down;
	}
	printf("local cloud %s, image %s (debootstrap base)\n", cfg.endpoint_url, image);
	rc = bench(aws, image, runs) < 0 ? 1 : 0;
down:
	kiln_aws_free(aws);
	run_kiln(&out, "down", NULL, NULL, NULL);
done:
	kiln_rm_rf(state_dir);
	kiln_buf_release(&out);
	free(image);
	return rc;
}
