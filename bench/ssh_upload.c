/*
 * Upload throughput: kiln_ssh_upload() into `cat > FILE` against
 * OpenSSH scp(1) of the same file to a file beside it, to the same private sshd on
 * loopback, alternating runs. Usage: ssh_upload [MiB (1024)] [runs (3)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include "core/proc.h"
#include "ssh/hostkey.h"
#include "ssh/key.h"
#include "ssh/session.h"
#include "tests/fixtures/ssh_server.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int make_file(const char *path, size_t mib)
{
	FILE *fp = fopen(path, "w");
	unsigned char *chunk = kiln_xmalloc(1 << 20);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i, j;

	if (fp == NULL)
		return -1;
	/* Incompressible, like a .tar.zst layer. */
	for (i = 0; i < mib; i++) {
		for (j = 0; j < (1 << 20); j += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(chunk + j, &x, 8);
		}
		fwrite(chunk, 1, 1 << 20, fp);
	}
	free(chunk);
	return fclose(fp);
}

int main(int argc, char **argv)
{
	struct ssh_server srv;
	struct kiln_ssh_fingerprints fps = KILN_SSH_FINGERPRINTS_INIT;
	struct kiln_ssh_connect_opts o;
	struct kiln_ssh_session *s = NULL;
	size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 1024;
	int runs = argc > 2 ? atoi(argv[2]) : 3, i, status, rc = 1;
	double *tk, *ts, t0, mk, ms;
	char *file = NULL, *dest = NULL, *port = NULL, *remote = NULL;

	/* libkiln logs nowhere unless told: this program shows it on stderr. */
	kiln_log_set_stream(stderr, -1);
	if (mib == 0 || runs < 1 || runs > 20) {
		fprintf(stderr, "usage: ssh_upload [MiB] [runs]\n");
		return 2;
	}
	tk = kiln_xcalloc((size_t)runs, sizeof(double));
	ts = kiln_xcalloc((size_t)runs, sizeof(double));
	if (ssh_server_start(&srv, NULL) < 0)
		goto done;
	file = kiln_xasprintf("%s/layer.bin", srv.dir);
	if (make_file(file, mib) < 0) {
		fprintf(stderr, "cannot write %s\n", file);
		goto done;
	}
	kiln_ssh_fingerprints_add(&fps, srv.host_key->fingerprint, "ED25519");
	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.port = srv.port;
	o.user = "root";
	o.key = srv.client_key;
	o.fingerprints = &fps;
	o.wait_timeout = 5;
	if (kiln_ssh_connect(&s, &o) < 0) {
		fprintf(stderr, "connect: %s\n", kiln_error_last());
		goto done;
	}
	port = kiln_xasprintf("%d", srv.port);
	dest = kiln_xasprintf("root@127.0.0.1:%s/scp.bin", srv.dir);
	remote = kiln_xasprintf("cat > %s/kiln.bin", srv.dir);
	for (i = 0; i < runs; i++) {
		char *scp[] = {"scp", "-q",
		               "-P",  port,
		               "-i",  srv.client_key_path,
		               "-o",  "StrictHostKeyChecking=no",
		               "-o",  "UserKnownHostsFile=/dev/null",
		               "-o",  "BatchMode=yes",
		               file,  dest,
		               NULL};

		t0 = kiln_time_mono();
		if (kiln_ssh_upload(&status, s, file, remote, NULL) < 0 || status != 0) {
			fprintf(stderr, "kiln upload: %s (exit %d)\n", kiln_error_last(), status);
			goto done;
		}
		tk[i] = kiln_time_mono() - t0;

		t0 = kiln_time_mono();
		if (kiln_proc_run(&status, NULL, NULL, scp) < 0 || status != 0) {
			fprintf(stderr, "scp failed (exit %d)\n", status);
			goto done;
		}
		ts[i] = kiln_time_mono() - t0;
		printf("run %d: kiln %.2f s (%.0f MiB/s), scp %.2f s (%.0f MiB/s)\n", i + 1, tk[i],
		       (double)mib / tk[i], ts[i], (double)mib / ts[i]);
	}
	qsort(tk, (size_t)runs, sizeof(double), cmp_double);
	qsort(ts, (size_t)runs, sizeof(double), cmp_double);
	mk = (double)mib / tk[runs / 2];
	ms = (double)mib / ts[runs / 2];
	printf("median: kiln %.0f MiB/s, scp %.0f MiB/s, ratio kiln/scp %.2f (%zu MiB, %d runs)\n",
	       mk, ms, mk / ms, mib, runs);
	rc = 0;

done:
	kiln_ssh_session_free(s);
	kiln_ssh_fingerprints_release(&fps);
	ssh_server_stop(&srv);
	free(file);
	free(dest);
	free(remote);
	free(port);
	free(tk);
	free(ts);
	return rc;
}
