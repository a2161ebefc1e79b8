/*
 * The local cloud's runtime, measured below the API:
 *
 *   cloud_runtime [RUNS]        (root; Debian layer from $KILN_CACHE)
 *
 * - machine start to a readable SSH banner, first boot (host keys made),
 *   median/min/max of RUNS (default 20), and a second boot of the same
 *   instance;
 * - stop (SIGTERM to init until everything is gone);
 * - ten instances started at once until every banner is readable;
 * - capture of an upper directory holding a 100 MiB change.
 *
 * The goal of the issue is an SSH banner within 1.5 s of the start.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/paths.h"
#include "core/common.h"
#include "core/util.h"
#include "localcloud/cloud.h"
#include "localcloud/runtime-int.h"

#define CIDR "10.213.2.0/24"

/* One attempt: connect and read "SSH-2.0" within `timeout` s. */
static int banner_once(uint32_t ip, double timeout)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(22)};
	struct pollfd p;
	char buf[8];
	size_t got = 0;
	double deadline = kiln_time_mono() + timeout;
	int fd, ok = 0;

	sa.sin_addr.s_addr = htonl(ip);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		goto done;
	while (got < 7) {
		int left = (int)((deadline - kiln_time_mono()) * 1000);
		ssize_t n;
		if (left <= 0)
			goto done;
		p.fd = fd;
		p.events = POLLIN;
		if (poll(&p, 1, left) <= 0)
			goto done;
		n = read(fd, buf + got, 7 - got);
		if (n <= 0)
			goto done;
		got += (size_t)n;
	}
	ok = memcmp(buf, "SSH-2.0", 7) == 0;
done:
	close(fd);
	return ok;
}

/* Seconds from `t0` until the banner is readable, or -1 after 10 s. */
static double wait_banner(uint32_t ip, double t0)
{
	while (kiln_time_mono() - t0 < 10) {
		if (banner_once(ip, 0.2))
			return kiln_time_mono() - t0;
		kiln_sleep(0.005, NULL);
	}
	return -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	printf("%-44s median %7.3f s  min %7.3f s  max %7.3f s  (n=%d)\n", what, v[n / 2], v[0],
	       v[n - 1], n);
}

struct bench {
	char *base, *layer;
	struct lc_net net;
	char key[256];
};

static int boot(struct lc_machine **m, struct bench *b, const char *name, int host,
                const char *const *layers, size_t nlayers)
{
	struct lc_machine_spec spec;
	char *dir = kiln_xasprintf("%s/%s", b->base, name);
	int error;

	memset(&spec, 0, sizeof(spec));
	spec.id = name;
	spec.dir = dir;
	spec.layers = layers;
	spec.nlayers = nlayers;
	spec.net = &b->net;
	spec.ip = b->net.network + (uint32_t)host;
	spec.hostname = name;
	spec.login_user = "root";
	spec.authorized_key = b->key;
	error = lc_machine_start(m, &spec);
	if (error < 0)
		fprintf(stderr, "cloud_runtime: %s\n", kiln_error_last());
	free(dir);
	return error;
}

static int run(struct bench *b, int runs)
{
	const char *layers[] = {b->layer};
	struct lc_machine *m = NULL, *many[10] = {NULL};
	double *first = kiln_xcalloc((size_t)runs, sizeof(double));
	double *second = kiln_xcalloc((size_t)runs, sizeof(double));
	double *stop = kiln_xcalloc((size_t)runs, sizeof(double));
	double t0, t;
	int error = 0;

	for (int i = 0; i < runs && error == 0; i++) {
		char *name = kiln_xasprintf("i-%d", i);
		for (int pass = 0; pass < 2 && error == 0; pass++) {
			t0 = kiln_time_mono();
			error = boot(&m, b, name, 10, layers, 1);
			if (error < 0)
				break;
			t = wait_banner(b->net.network + 10, t0);
			(pass == 0 ? first : second)[i] = t;
			if (t < 0) {
				fprintf(stderr, "cloud_runtime: no banner from %s\n", name);
				error = -1;
			}
			t0 = kiln_time_mono();
			if (lc_machine_stop(m, 10) < 0)
				error = -1;
			stop[i] = kiln_time_mono() - t0;
			lc_machine_free(m);
			m = NULL;
		}
		free(name);
	}
	if (error == 0) {
		report("start to SSH banner, first boot", first, runs);
		report("start to SSH banner, second boot", second, runs);
		report("stop (SIGTERM until all is gone)", stop, runs);
	}

	t0 = kiln_time_mono();
	for (int i = 0; i < 10 && error == 0; i++) {
		char *name = kiln_xasprintf("many-%d", i);
		error = boot(&many[i], b, name, 100 + i, layers, 1);
		free(name);
	}
	for (int i = 0; i < 10 && error == 0; i++)
		if (wait_banner(b->net.network + 100 + (uint32_t)i, t0) < 0)
			error = -1;
	if (error == 0)
		printf("%-44s %7.3f s\n", "10 instances at once, every banner",
		       kiln_time_mono() - t0);
	for (int i = 0; i < 10; i++) {
		if (many[i] != NULL && lc_machine_stop(many[i], 10) < 0)
			error = -1;
		lc_machine_free(many[i]);
	}
	free(first);
	free(second);
	free(stop);
	return error;
}

/* A 100 MiB file in a stopped instance's upper directory, captured as a layer. */
static int capture(struct bench *b)
{
	char *upper = kiln_xasprintf("%s/i-0/upper/root/big", b->base);
	char *layer = kiln_xasprintf("%s/captured", b->base);
	char *dir = kiln_xasprintf("%s/i-0/upper", b->base);
	char *chunk = kiln_xmalloc(1 << 20);
	double t0;
	int fd, error = 0;

	kiln_random_bytes(chunk, 1 << 20);
	fd = open(upper, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	for (int i = 0; fd >= 0 && i < 100; i++)
		if (write(fd, chunk, 1 << 20) != 1 << 20)
			error = -1;
	if (fd < 0 || fsync(fd) < 0 || close(fd) < 0 || error < 0) {
		fprintf(stderr, "cloud_runtime: cannot write '%s'\n", upper);
		error = -1;
		goto done;
	}
	t0 = kiln_time_mono();
	error = lc_layer_capture(layer, dir);
	if (error < 0)
		fprintf(stderr, "cloud_runtime: %s\n", kiln_error_last());
	else
		printf("%-44s %7.3f s\n", "capture of a 100 MiB change", kiln_time_mono() - t0);
done:
	free(upper);
	free(layer);
	free(dir);
	free(chunk);
	return error;
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/kiln-bench-lc-XXXXXX", bridge[16], *cache;
	struct bench b;
	int runs = 20, error, lock;
	double t0;

	/* libkiln logs nowhere unless told: this program shows it on stderr. */
	kiln_log_set_stream(stderr, -1);
	if (argc >= 3 && strcmp(argv[1], "cloud") == 0 && strcmp(argv[2], "__init") == 0)
		return kiln_cloud_init_main(argc, argv);
	if (argc > 1)
		runs = atoi(argv[1]);
	if (runs < 1 || geteuid() != 0) {
		fprintf(stderr, "usage: cloud_runtime [RUNS] (as root)\n");
		return 2;
	}
	memset(&b, 0, sizeof(b));
	if (kiln_paths_cache(&cache) < 0) {
		fprintf(stderr, "cloud_runtime: %s\n", kiln_error_last());
		return 2;
	}
	b.base = kiln_xstrdup(mkdtemp(tmpl));
	b.layer = kiln_xasprintf("%s/base", b.base);
	snprintf(
	    b.key, sizeof(b.key),
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKeyNotUsedForLoginXXXXXXXXXXXXXXXXXX b");
	snprintf(bridge, sizeof(bridge), "kb%d", (int)getpid());
	/* Another checkout's run of this benchmark would share the address range. */
	lock = open("/tmp/kiln-test-net-10.213.2.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) < 0) {
		fprintf(stderr, "cloud_runtime: cannot lock the address range\n");
		return 1;
	}
	t0 = kiln_time_mono();
	error = lc_layer_debootstrap(b.layer, "bookworm", cache);
	if (error == 0) {
		printf("%-44s %7.3f s\n", "Debian layer (cached base, hard links)",
		       kiln_time_mono() - t0);
		error = lc_net_up(&b.net, bridge, CIDR);
	}
	if (error < 0)
		fprintf(stderr, "cloud_runtime: %s\n", kiln_error_last());
	if (error == 0)
		error = run(&b, runs);
	if (error == 0)
		error = capture(&b);
	lc_net_down(&b.net);
	kiln_rm_rf(b.base);
	free(b.base);
	free(b.layer);
	free(cache);
	return error < 0 ? 1 : 0;
}
