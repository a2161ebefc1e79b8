/*
 * The bake's work on the builder over SSH (reached through bake/builder.h):
 * upload the layers, run the provisioners, and take kiln's key off the
 * machine before it becomes an image.
 */
#include "aws/ec2.h"
#include "aws/http.h"
#include "bake/pipeline-int.h"
#include "bake/poll.h"
#include "core/log.h"
#include "core/shell.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zstd.h>

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Decompress the .tar.zst `from` into `fo` (named `to` in messages). */
KILN_STATIC int unzstd_fd(const char *from, int fo, const char *to)
{
	ZSTD_DStream *z = ZSTD_createDStream();
	size_t inlen = ZSTD_DStreamInSize(), outlen = ZSTD_DStreamOutSize();
	char *in = kiln_xmalloc(inlen), *outb = kiln_xmalloc(outlen);
	int fi = open(from, O_RDONLY | O_CLOEXEC);
	int error = 0;
	ssize_t n;

	if (z == NULL)
		kiln_die("out of memory");
	if (fi < 0) {
		error = kiln_error_set(KILN_ERROR, "cannot open '%s': %s", from, strerror(errno));
		goto done;
	}
	ZSTD_initDStream(z);
	while ((n = read(fi, in, inlen)) != 0) {
		ZSTD_inBuffer ib = {in, (size_t)n, 0};
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		while (ib.pos < ib.size) {
			ZSTD_outBuffer ob = {outb, outlen, 0};
			size_t r = ZSTD_decompressStream(z, &ob, &ib);
			if (ZSTD_isError(r)) {
				error = kiln_error_set(KILN_ERROR, "'%s': %s", from,
				                       ZSTD_getErrorName(r));
				goto done;
			}
			if (write_all(fo, outb, ob.pos) < 0) {
				error = kiln_error_set(KILN_ERROR, "cannot write '%s': %s", to,
				                       strerror(errno));
				goto done;
			}
		}
	}
	if (n < 0)
		error = kiln_error_set(KILN_ERROR, "cannot read '%s': %s", from, strerror(errno));
done:
	if (fi >= 0)
		close(fi);
	free(in);
	free(outb);
	ZSTD_freeDStream(z);
	return error;
}

/*
 * For builders without zstd, the plain tar is streamed through a pipe that a
 * thread fills while the upload reads it: no temporary file, and
 * decompression overlaps the transfer.
 */
struct unzstd_job {
	const char *from;
	int fd; /* the pipe's write end, closed by the thread */
	pthread_t thread;
	int error;
	char *message;
};

static void *unzstd_thread(void *arg)
{
	struct unzstd_job *job = arg;
	sigset_t set;

	/* A reader that stops early gives EPIPE here, not a signal for the process. */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	job->error = unzstd_fd(job->from, job->fd, "the upload pipe");
	if (job->error < 0)
		job->message = kiln_xstrdup(kiln_error_last());
	close(job->fd);
	return NULL;
}

static void progress(void *payload, uint64_t sent, uint64_t total)
{
	const struct kiln_bake_line *l = payload;
	struct kiln_event ev = {.kind = KILN_EVENT_TRANSFER, .step = "upload", .label = l->label};

	ev.done = sent;
	ev.total = total;
	kiln_emit_event(&l->b->events, &ev);
}

static char *layer_dir(const struct bake *b, const char *name)
{
	return kiln_xasprintf("%s/%s", b->bake->layer_dir, name);
}

static int upload_one(struct bake *b, const struct kiln_layer *l, int have_zstd)
{
	struct kiln_buf cmd = KILN_BUF_INIT, tail = KILN_BUF_INIT;
	struct kiln_bake_line who = {b, l->name};
	struct kiln_ssh_exec_opts o = {
	    .label = l->name, .on_line = kiln_bake__on_line, .tail = &tail, .stop = b->stop};
	char *dir = layer_dir(b, l->name), *stage, *plain = NULL;
	struct unzstd_job job = {0};
	int status = 0, error, readfd = -1, started = 0;

	/* Extract beside the target, then move: a layer is there whole or not at all. */
	stage = kiln_xasprintf("%s.kiln-stage", dir);
	kiln_buf_puts(&cmd, "set -e; umask 022; d=");
	kiln_sh_quote(&cmd, dir);
	kiln_buf_puts(&cmd, "; s=");
	kiln_sh_quote(&cmd, stage);
	kiln_buf_printf(&cmd,
	                "; rm -rf \"$s\"; mkdir -p \"$s\"; %s tar -x -f - -C \"$s\"; "
	                "rm -rf \"$d\"; mv \"$s\" \"$d\"",
	                have_zstd ? "zstd -dcq |" : "");
	if (!have_zstd) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			kiln_die("pipe: %s", strerror(errno));
		job.from = l->archive;
		job.fd = p[1];
		readfd = p[0];
		if (pthread_create(&job.thread, NULL, unzstd_thread, &job) != 0)
			kiln_die("cannot start a thread");
		started = 1;
		plain = kiln_xasprintf("/proc/self/fd/%d", readfd);
	}
	o.stdin_path = plain ? plain : l->archive;
	/* The plain tar is bigger than the archive; near enough to pick a transport. */
	o.size_hint = l->size;
	o.on_progress = progress;
	o.payload = &who;
	o.timeout = kiln_bake__left(b);
	kiln_bake__say(b, "uploading layer %s to %s", l->name, dir);
	error = kiln_ssh_upload(&status, b->builder.ssh, o.stdin_path, cmd.ptr, &o);
	if (error < 0) {
		char *what = kiln_xasprintf("the upload of layer %s", l->name);
		error = kiln_builder_lost_while(&b->builder, error, what, &tail);
		free(what);
	}
	if (started) {
		/* Closing our end unblocks the thread if the upload stopped reading. */
		close(readfd);
		pthread_join(job.thread, NULL);
		if (error >= 0 && job.error < 0)
			error = kiln_error_set(job.error, "%s", job.message);
		free(job.message);
	}
	if (error >= 0 && status != 0)
		error = kiln_error_set(KILN_ERROR,
		                       "extracting layer %s on the builder failed (exit "
		                       "%d):\n%s",
		                       l->name, status, tail.ptr);
	free(plain);
	free(stage);
	free(dir);
	kiln_buf_release(&cmd);
	kiln_buf_release(&tail);
	return error;
}

int kiln_bake__upload(struct bake *b)
{
	struct kiln_ssh_exec_opts o = {.label = "probe", .timeout = 30, .stop = b->stop};
	int status = 1, error;
	size_t i;

	error = kiln_ssh_exec(&status, b->builder.ssh, "command -v zstd >/dev/null 2>&1", &o);
	if (error < 0)
		return error;
	for (i = 0; i < b->profile->nlayers; i++) {
		error = upload_one(b, b->layers[i], status == 0);
		if (error < 0)
			return error;
	}
	return 0;
}

/* The variables every provisioner sees, then the profile's. */
static void provision_env(struct kiln_ssh_env **out, size_t *n, const struct bake *b,
                          const char *layer, const char *dir)
{
	struct kiln_ssh_env *env = kiln_xcalloc(5 + b->bake->nvariables, sizeof(*env));
	size_t i, k = 0;

	env[k++] = (struct kiln_ssh_env){"KILN_LAYER", layer, 0};
	env[k++] = (struct kiln_ssh_env){"KILN_LAYER_DIR", dir, 0};
	env[k++] = (struct kiln_ssh_env){"KILN_PROFILE", b->profile->name, 0};
	env[k++] = (struct kiln_ssh_env){"KILN_APP_REF", b->app_ref ? b->app_ref : "", 0};
	env[k++] = (struct kiln_ssh_env){"KILN_OS_REF", b->os_ref ? b->os_ref : "", 0};
	for (i = 0; i < b->bake->nvariables; i++) {
		const struct kiln_variable_spec *v = &b->bake->variables[i];
		env[k++] = (struct kiln_ssh_env){v->name, v->value, v->secret};
	}
	*out = env;
	*n = k;
}

static int run_provisioner(struct bake *b, const struct kiln_layer_spec *spec, size_t k,
                           const struct kiln_ssh_env *env, size_t nenv, const char *dir)
{
	struct kiln_buf cmd = KILN_BUF_INIT, tail = KILN_BUF_INIT, script = KILN_BUF_INIT;
	struct kiln_bake_line who = {b, spec->name};
	struct kiln_ssh_exec_opts o = {.label = spec->name,
	                               .on_line = kiln_bake__on_line,
	                               .payload = &who,
	                               .env = env,
	                               .nenv = nenv,
	                               .tail = &tail,
	                               .tail_lines = 20,
	                               .stop = b->stop};
	double limit = (double)b->bake->provision_timeout_s, left = kiln_bake__left(b);
	char *what = kiln_xasprintf("provisioner %s/%s", spec->name, spec->provision[k]);
	int status = 0, error;

	o.timeout = limit < left ? limit : left;
	kiln_buf_puts(&script, "./");
	kiln_buf_puts(&script, spec->provision[k]);
	kiln_buf_puts(&cmd, "cd ");
	kiln_sh_quote(&cmd, dir);
	kiln_buf_puts(&cmd, " && if [ -x ");
	kiln_sh_quote(&cmd, script.ptr);
	kiln_buf_puts(&cmd, " ]; then exec ");
	kiln_sh_quote(&cmd, script.ptr);
	kiln_buf_puts(&cmd, "; else exec sh ");
	kiln_sh_quote(&cmd, script.ptr);
	kiln_buf_puts(&cmd, "; fi");
	kiln_bake__say(b, "provisioning: %s/%s", spec->name, spec->provision[k]);
	error = kiln_ssh_exec(&status, b->builder.ssh, cmd.ptr, &o);
	if (error == KILN_ETIMEOUT)
		error = kiln_error_set(KILN_ETIMEOUT, "%s ran past %.0f s; last lines:\n%s", what,
		                       o.timeout, tail.ptr);
	else if (error >= 0 && status != 0)
		error = kiln_error_set(KILN_ERROR, "%s exited with status %d; last lines:\n%s",
		                       what, status, tail.ptr);
	else
		error = kiln_builder_lost_while(&b->builder, error, what, &tail);
	free(what);
	kiln_buf_release(&cmd);
	kiln_buf_release(&script);
	kiln_buf_release(&tail);
	return error;
}

int kiln_bake__provision(struct bake *b)
{
	size_t i, k;
	int error = 0;

	for (i = 0; i < b->profile->nlayers && error >= 0; i++) {
		const struct kiln_layer_spec *spec = &b->profile->layers[i];
		char *dir = layer_dir(b, spec->name);
		struct kiln_ssh_env *env = NULL;
		size_t nenv = 0;

		provision_env(&env, &nenv, b, spec->name, dir);
		for (k = 0; k < spec->nprovision && error >= 0; k++)
			error = run_provisioner(b, spec, k, env, nenv, dir);
		free(env);
		free(dir);
	}
	return error;
}

int kiln_bake__ssh_finish(struct bake *b)
{
	struct kiln_buf cmd = KILN_BUF_INIT;
	struct kiln_ssh_exec_opts o = {.label = "cleanup", .timeout = 30, .stop = b->stop};
	char *comment = kiln_xasprintf("kiln-builder-%s", b->run_id);
	int status = 0, error;

	/* The image must not let kiln's (deleted) key in: remove its line. */
	kiln_buf_puts(&cmd, "f=\"$HOME/.ssh/authorized_keys\"; if [ -f \"$f\" ]; then "
	                    "grep -v -F -e ");
	kiln_sh_quote(&cmd, comment);
	kiln_buf_puts(&cmd, " \"$f\" > \"$f.kiln\" || true; cat \"$f.kiln\" > \"$f\"; "
	                    "rm -f \"$f.kiln\"; fi; sync");
	error = kiln_ssh_exec(&status, b->builder.ssh, cmd.ptr, &o);
	if (error >= 0 && status != 0)
		error = kiln_error_set(KILN_ERROR,
		                       "removing kiln's key from the builder failed "
		                       "(exit %d)",
		                       status);
	kiln_ssh_session_free(b->builder.ssh);
	b->builder.ssh = NULL;
	free(comment);
	kiln_buf_release(&cmd);
	return error;
}
