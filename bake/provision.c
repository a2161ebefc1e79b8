/*
 * The bake's work on the builder over SSH: open the door (security group
 * rule for this host), check the host key against the console, upload the
 * layers, run the provisioners and the checks, and take kiln's key off the
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

#define CONSOLE_TAIL_LINES 20
/* With accept-new, how long to wait for fingerprints once SSH answers. */
#define ACCEPT_NEW_GRACE 10

/* The address this host uses towards `host`, as a /32 (no packet is sent). */
static int route_source(char **out, const char *host)
{
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(22)}, src;
	socklen_t len = sizeof(src);
	char text[INET_ADDRSTRLEN];
	int fd, error = 0;

	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1)
		return kiln_error_set(KILN_EINVAL, "builder address '%s' is not IPv4", host);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&src, &len) < 0)
		error =
		    kiln_error_set(KILN_ERROR, "no route to builder %s: %s", host, strerror(errno));
	else if (inet_ntop(AF_INET, &src.sin_addr, text, sizeof(text)) != NULL)
		*out = kiln_xasprintf("%s/32", text);
	if (fd >= 0)
		close(fd);
	return error;
}

/* This host's address as the internet sees it (behind NAT), from AWS's checkip. */
static int public_source(char **out)
{
	struct kiln_http *h = NULL;
	struct kiln_http_response r = KILN_HTTP_RESPONSE_INIT;
	struct kiln_http_request req = {.method = "GET", .url = "https://checkip.amazonaws.com/"};
	struct kiln_http_opts o = {.timeout_ms = 10000, .max_body = 256};
	struct in_addr a;
	int error;

	error = kiln_http_new(&h, &o);
	if (error >= 0)
		error = kiln_http_send(&r, h, &req);
	if (error >= 0) {
		kiln_buf_rtrim(&r.body);
		if (r.status != 200 || inet_pton(AF_INET, r.body.ptr, &a) != 1)
			error = kiln_error_set(KILN_ERROR, "checkip.amazonaws.com gave no address");
		else
			*out = kiln_xasprintf("%s/32", r.body.ptr);
	}
	kiln_http_response_release(&r);
	kiln_http_free(h);
	return error < 0 ? kiln_error_prefix(error, "finding this host's public address") : 0;
}

static int is_private(const char *ip)
{
	return strncmp(ip, "10.", 3) == 0 || strncmp(ip, "192.168.", 8) == 0 ||
	       (strncmp(ip, "172.", 4) == 0 && atoi(ip + 4) >= 16 && atoi(ip + 4) <= 31) ||
	       strncmp(ip, "127.", 4) == 0;
}

/* Allow SSH to the builder from this host only. */
static int open_ssh(struct bake *b, int port)
{
	const char *env = b->opts->ssh_cidr ? b->opts->ssh_cidr : getenv("KILN_BAKE_SSH_CIDR");
	char *cidr = NULL;
	int error = 0;

	if (env != NULL && env[0] != '\0')
		cidr = kiln_xstrdup(env);
	else if (is_private(b->host))
		error = route_source(&cidr, b->host);
	else
		error = public_source(&cidr);
	if (cidr == NULL)
		return error;
	{
		const char *cidrs[] = {cidr};
		struct kiln_ec2_ip_permission perm = {.ip_protocol = "tcp",
		                                      .from_port = port,
		                                      .to_port = port,
		                                      .cidrs = cidrs,
		                                      .n_cidrs = 1,
		                                      .description = "kiln bake"};
		error = kiln_ec2_authorize_ingress(b->aws, b->group_id, &perm, 1);
	}
	kiln_log_info("SSH to the builder allowed from %s", cidr);
	free(cidr);
	return error;
}

struct wait_ssh {
	int banner;                       /* SSH answered */
	double banner_at;                 /* when */
	char *console;                    /* the last console text */
	struct kiln_ssh_fingerprints fps; /* from the console */
	char *last_error;                 /* of the last banner probe */
};

static int look(struct wait_ssh *w, struct bake *b, int port)
{
	char *console = NULL;
	int error;

	if (!w->banner) {
		if (kiln_ssh_wait(b->host, port, 0, 2) == 0) {
			w->banner = 1;
			w->banner_at = kiln_time_mono();
		} else {
			free(w->last_error);
			w->last_error = kiln_xstrdup(kiln_error_last());
			kiln_log_debug("SSH on %s: %s", b->host, w->last_error);
		}
	}
	kiln_error_clear();
	if (w->fps.count > 0)
		return 0;
	error = kiln_ec2_get_console_output(&console, b->aws, b->instance_id, 1);
	if (error < 0)
		return error;
	free(w->console);
	w->console = console;
	if (kiln_ssh_fingerprints_parse(&w->fps, console) < 0)
		kiln_error_clear();
	return 0;
}

/*
 * The last `n` lines of a console, escaped: it is the machine's output, and
 * may hold anything a booting system or an image's scripts print.
 */
void kiln_bake__console_tail(struct kiln_buf *out, const char *text, int n)
{
	const char *p = text + strlen(text);

	while (p > text && (p[-1] == '\n' || p[-1] == '\r'))
		p--;
	while (p > text && n > 0) {
		p--;
		if (*p == '\n')
			n--;
	}
	if (p != text)
		p++;
	kiln_buf_put_escaped(out, p, strlen(p), KILN_ESCAPE_LINES);
	kiln_buf_rtrim(out);
	if (out->size == 0)
		kiln_buf_puts(out, "(console empty)");
}

/*
 * SSH never answered, or answered without its fingerprints on the console.
 * The console is read once more: what the machine printed last is the best
 * clue, and the copy kept may be older (it is not read again once it holds
 * fingerprints).
 */
static int ssh_wait_failed(struct bake *b, struct wait_ssh *w, const char *where, double timeout)
{
	struct kiln_buf console = KILN_BUF_INIT;
	char *latest = NULL;
	int error;

	if (kiln_ec2_get_console_output(&latest, b->aws, b->instance_id, 1) == 0) {
		free(w->console);
		w->console = latest;
	}
	kiln_error_clear();
	kiln_bake__console_tail(&console, w->console ? w->console : "", CONSOLE_TAIL_LINES);
	if (!w->banner)
		error = kiln_error_set(KILN_ETIMEOUT,
		                       "SSH on %s did not answer within %.0f s; last console "
		                       "lines:\n%s",
		                       where, timeout, console.ptr);
	else
		error =
		    kiln_error_set(KILN_EAUTH,
		                   "refusing builder %s: no host key fingerprints on its console "
		                   "within %.0f s (set bake.ssh.host_key_check to \"accept-new\" "
		                   "to trust the first key); last console lines:\n%s",
		                   where, timeout, console.ptr);
	kiln_buf_release(&console);
	return error;
}

int kiln_bake__ssh_connect(struct bake *b)
{
	int accept_new = b->bake->host_key_check == KILN_HOST_KEY_ACCEPT_NEW;
	int port = b->bake->ssh_port;
	double timeout = (double)b->bake->ssh_timeout_s;
	struct wait_ssh w = {0, 0, NULL, KILN_SSH_FINGERPRINTS_INIT, NULL};
	struct kiln_ssh_connect_opts o = {0};
	struct kiln_poll poll;
	char *where = kiln_xasprintf("%s:%d", b->host, port);
	int error;

	error = open_ssh(b, port);
	if (error < 0)
		goto done;
	kiln_bake__say(b, "waiting for SSH on %s and the host key on the console", where);
	kiln_poll_start(&poll, timeout < kiln_bake__left(b) ? timeout : kiln_bake__left(b),
	                b->stop);
	for (;;) {
		error = look(&w, b, port);
		if (error < 0)
			goto done;
		if (w.banner && w.fps.count > 0)
			break;
		if (w.banner && accept_new && kiln_time_mono() - w.banner_at > ACCEPT_NEW_GRACE)
			break;
		error = kiln_poll_wait(&poll, "SSH");
		if (error == KILN_EINTR)
			goto done;
		if (error < 0) {
			error = ssh_wait_failed(b, &w, where, poll.timeout);
			goto done;
		}
	}
	if (w.fps.count == 0)
		kiln_log_warn("no host key fingerprints on the console of %s: accepting its key "
		              "(bake.ssh.host_key_check is accept-new)",
		              b->instance_id);
	o.host = b->host;
	o.port = port;
	o.user = b->bake->ssh_user;
	o.key = b->sshkey;
	o.fingerprints = &w.fps;
	o.hostkey_policy = accept_new ? KILN_SSH_HOSTKEY_ACCEPT_NEW : KILN_SSH_HOSTKEY_STRICT;
	o.wait_timeout = 30;
	o.stop = b->stop;
	error = kiln_ssh_connect(&b->ssh, &o);
	if (error >= 0)
		kiln_bake__say(b, "connected to %s as %s (host key %s)", where, o.user,
		               kiln_ssh_session_fingerprint(b->ssh));
done:
	free(where);
	free(w.console);
	free(w.last_error);
	kiln_ssh_fingerprints_release(&w.fps);
	return error;
}

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

/* libssh2 says "transport read": the operator needs the builder, what ran, its last line. */
int kiln_bake__lost_while(struct bake *b, int error, const char *what, const struct kiln_buf *tail)
{
	const char *last = tail != NULL ? strrchr(tail->ptr, '\n') : NULL;
	char *why;

	if (error >= 0 || b->ssh == NULL || !kiln_ssh_session_lost(b->ssh))
		return error;
	last = last != NULL ? last + 1 : tail != NULL ? tail->ptr : "";
	/* Copied first: the new message is formatted into the same slot. */
	why = kiln_xstrdup(kiln_error_last());
	error = kiln_error_set(KILN_ERROR,
	                       "lost the builder%s%s while %s ran: %s; its last output line: %s",
	                       b->instance_id ? " " : "", b->instance_id ? b->instance_id : "",
	                       what, why, last[0] != '\0' ? last : "(none)");
	free(why);
	return error;
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
	error = kiln_ssh_upload(&status, b->ssh, o.stdin_path, cmd.ptr, &o);
	if (error < 0) {
		char *what = kiln_xasprintf("the upload of layer %s", l->name);
		error = kiln_bake__lost_while(b, error, what, &tail);
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

	error = kiln_ssh_exec(&status, b->ssh, "command -v zstd >/dev/null 2>&1", &o);
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
	error = kiln_ssh_exec(&status, b->ssh, cmd.ptr, &o);
	if (error == KILN_ETIMEOUT)
		error = kiln_error_set(KILN_ETIMEOUT, "%s ran past %.0f s; last lines:\n%s", what,
		                       o.timeout, tail.ptr);
	else if (error >= 0 && status != 0)
		error = kiln_error_set(KILN_ERROR, "%s exited with status %d; last lines:\n%s",
		                       what, status, tail.ptr);
	else
		error = kiln_bake__lost_while(b, error, what, &tail);
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
	error = kiln_ssh_exec(&status, b->ssh, cmd.ptr, &o);
	if (error >= 0 && status != 0)
		error = kiln_error_set(KILN_ERROR,
		                       "removing kiln's key from the builder failed "
		                       "(exit %d)",
		                       status);
	kiln_ssh_session_free(b->ssh);
	b->ssh = NULL;
	free(comment);
	kiln_buf_release(&cmd);
	return error;
}
