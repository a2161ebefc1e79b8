/*
 * The builder's temporaries (key pair, security group, instance), the way
 * in over SSH, and their removal (bake/builder.h).
 */
#include "bake/builder.h"
#include "aws/ec2.h"
#include "aws/http.h"
#include "bake/gc.h"
#include "bake/poll.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/log.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Kept after the stage's own deadline so that gc never races a live stage. */
#define EXPIRY_MARGIN      900
#define CLEANUP_TIMEOUT    300
#define CONSOLE_TAIL_LINES 20
/* With accept-new, how long to wait for fingerprints once SSH answers. */
#define ACCEPT_NEW_GRACE 10

static void say(const struct kiln_builder *b, const char *fmt, ...) KILN_PRINTF(2, 3);

static void say(const struct kiln_builder *b, const char *fmt, ...)
{
	va_list ap;

	if (b->o.events == NULL)
		return;
	va_start(ap, fmt);
	kiln_emit_v(b->o.events, KILN_EVENT_PROGRESS, NULL, fmt, ap);
	va_end(ap);
}

static int journal(const struct kiln_builder *b, const char *event, const char *kind,
                   const char *token, const char *id)
{
	int error;

	if (b->o.journal == NULL)
		return 0;
	error = kiln_journal_append(b->o.journal, event, kind, token, id, NULL);
	return error < 0 ? kiln_error_prefix(error, "run journal") : 0;
}

void kiln_builder_init(struct kiln_builder *b, const struct kiln_builder_opts *o)
{
	KILN_ASSERT_ARG(b != NULL && o != NULL && o->profile != NULL && o->run_id != NULL);
	memset(b, 0, sizeof(*b));
	b->o = *o;
	if (b->o.what == NULL)
		b->o.what = "builder";
}

double kiln_builder_left(const struct kiln_builder *b)
{
	double left = b->o.deadline - kiln_time_mono();

	return left < 1 ? 1 : left;
}

static void temp_tags(struct kiln_builder *b)
{
	const struct kiln_profile *p = b->o.profile;
	char expires[32];
	size_t i;

	kiln_time_iso8601(expires, kiln_time_now() + kiln_builder_left(b) + EXPIRY_MARGIN, 0);
	for (i = 0; i < p->ntags; i++)
		kiln_aws_tags_add(&b->temp_tags, p->tags[i].key, p->tags[i].value);
	kiln_aws_tags_add(&b->temp_tags, "kiln:run-id", b->o.run_id);
	kiln_aws_tags_add(&b->temp_tags, "kiln:role", "builder");
	kiln_aws_tags_add(&b->temp_tags, "kiln:profile", p->name);
	kiln_aws_tags_add(&b->temp_tags, "kiln:expires", expires);
	kiln_aws_tags_add(&b->temp_tags, "kiln:managed", "true");
	if (p->env != NULL)
		kiln_aws_tags_add(&b->temp_tags, "kiln:env", p->env);
}

static int create_key_pair(struct kiln_builder *b)
{
	struct kiln_ec2_tag_spec spec = {"key-pair", &b->temp_tags};
	char *name = kiln_xasprintf("kiln-%s", b->o.run_id), *comment;
	int error;

	comment = kiln_xasprintf("kiln-builder-%s", b->o.run_id);
	error = kiln_ssh_keygen_ed25519(&b->sshkey, comment);
	free(comment);
	if (error < 0)
		goto done;
	error = journal(b, "intent", "key-pair", name, NULL);
	if (error < 0)
		goto done;
	/* Named before the call: cleanup deletes by name even if the reply was lost. */
	b->key_name = name;
	name = NULL;
	error =
	    kiln_ec2_import_key_pair(NULL, b->o.aws, b->key_name, b->sshkey->public_line, &spec, 1);
	if (error < 0)
		goto done;
	error = journal(b, "created", "key-pair", b->key_name, b->key_name);
done:
	free(name);
	return error;
}

static int create_security_group(struct kiln_builder *b)
{
	struct kiln_ec2_tag_spec spec = {"security-group", &b->temp_tags};
	char *name = kiln_xasprintf("kiln-%s", b->o.run_id);
	char *desc =
	    kiln_xasprintf("kiln %s for %s, run %s", b->o.what, b->o.profile->name, b->o.run_id);
	int error;

	error = journal(b, "intent", "security-group", name, NULL);
	if (error < 0)
		goto done;
	error = kiln_ec2_create_security_group(&b->group_id, b->o.aws, name, desc, NULL, &spec, 1);
	if (error < 0)
		goto done;
	error = journal(b, "created", "security-group", name, b->group_id);
done:
	free(name);
	free(desc);
	return error;
}

static int run_instance(struct kiln_builder *b)
{
	struct kiln_ec2_tag_spec specs[] = {{"instance", &b->temp_tags}, {"volume", &b->temp_tags}};
	const char *groups[] = {b->group_id};
	struct kiln_ec2_run_instances o = {
	    .image_id = b->o.image_id,
	    .instance_type = b->o.profile->bake.instance_type,
	    .key_name = b->key_name,
	    .security_group_ids = groups,
	    .n_security_group_ids = 1,
	    .tag_specs = specs,
	    .n_tag_specs = KILN_ARRAY_SIZE(specs),
	    /* The run id: a retried or re-run call returns the same instance. */
	    .client_token = b->o.run_id,
	    .shutdown_behavior = "terminate",
	};
	struct kiln_ec2_instance_list *l = NULL;
	int error;

	error = journal(b, "intent", "instance", b->o.run_id, NULL);
	if (error < 0)
		return error;
	error = kiln_ec2_run_instances(&l, b->o.aws, &o);
	if (error < 0)
		return error;
	if (l->n == 0 || l->v[0].instance_id == NULL) {
		kiln_ec2_instance_list_free(l);
		return kiln_error_set(KILN_ERROR, "RunInstances returned no instance");
	}
	b->instance_id = kiln_xstrdup(l->v[0].instance_id);
	kiln_ec2_instance_list_free(l);
	say(b, "%s %s launched from %s", b->o.what, b->instance_id, b->o.image_id);
	return journal(b, "created", "instance", b->o.run_id, b->instance_id);
}

int kiln_builder_launch(struct kiln_builder *b)
{
	int error;

	temp_tags(b);
	error = create_key_pair(b);
	if (error >= 0)
		error = create_security_group(b);
	if (error >= 0 && b->o.stop != NULL && *b->o.stop)
		error = kiln_error_set(KILN_EINTR, "interrupted");
	if (error >= 0)
		error = run_instance(b);
	return error;
}

int kiln_builder_wait_running(struct kiln_builder *b)
{
	const char *ids[] = {b->instance_id};
	struct kiln_ec2_describe d = {.ids = ids, .n_ids = 1};
	struct kiln_poll poll;
	int error;

	kiln_poll_start(&poll, kiln_builder_left(b), b->o.stop);
	for (;;) {
		struct kiln_ec2_instance_list *l = NULL;
		const struct kiln_ec2_instance *in;
		error = kiln_ec2_describe_instances(&l, b->o.aws, &d);
		/* A new instance may not be visible at once (eventual consistency). */
		if (error == KILN_ENOTFOUND) {
			kiln_error_clear();
			error = 0;
		}
		if (error < 0)
			return error;
		in = l->n > 0 ? &l->v[0] : NULL;
		if (in != NULL && in->state != NULL && strcmp(in->state, "running") == 0) {
			const char *ip = in->public_ip ? in->public_ip : in->private_ip;
			if (ip != NULL)
				b->host = kiln_xstrdup(ip);
			kiln_ec2_instance_list_free(l);
			if (b->host == NULL)
				return kiln_error_set(KILN_ERROR, "%s %s has no address", b->o.what,
				                      b->instance_id);
			say(b, "%s %s running at %s", b->o.what, b->instance_id, b->host);
			return 0;
		}
		if (in != NULL && in->state != NULL && strcmp(in->state, "pending") != 0) {
			error =
			    kiln_error_set(KILN_ERROR, "%s %s is %s: %s", b->o.what, b->instance_id,
			                   in->state, in->state_reason ? in->state_reason : "");
			kiln_ec2_instance_list_free(l);
			return error;
		}
		kiln_ec2_instance_list_free(l);
		error = kiln_poll_wait(&poll, "the instance to run");
		if (error < 0)
			return error;
	}
}

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
static int open_ssh(struct kiln_builder *b, int port)
{
	const char *env = b->o.ssh_cidr ? b->o.ssh_cidr : getenv("KILN_BAKE_SSH_CIDR");
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
		                                      .description = "kiln"};
		error = kiln_ec2_authorize_ingress(b->o.aws, b->group_id, &perm, 1);
	}
	kiln_log_info("SSH to the %s allowed from %s", b->o.what, cidr);
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

static int look(struct wait_ssh *w, struct kiln_builder *b, int port)
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
	error = kiln_ec2_get_console_output(&console, b->o.aws, b->instance_id, 1);
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
void kiln_builder_console_tail(struct kiln_buf *out, const char *text, int n)
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
static int ssh_wait_failed(struct kiln_builder *b, struct wait_ssh *w, const char *where,
                           double timeout)
{
	struct kiln_buf console = KILN_BUF_INIT;
	char *latest = NULL;
	int error;

	if (kiln_ec2_get_console_output(&latest, b->o.aws, b->instance_id, 1) == 0) {
		free(w->console);
		w->console = latest;
	}
	kiln_error_clear();
	kiln_builder_console_tail(&console, w->console ? w->console : "", CONSOLE_TAIL_LINES);
	if (!w->banner)
		error = kiln_error_set(KILN_ETIMEOUT,
		                       "SSH on %s did not answer within %.0f s; last console "
		                       "lines:\n%s",
		                       where, timeout, console.ptr);
	else
		error =
		    kiln_error_set(KILN_EAUTH,
		                   "refusing %s %s: no host key fingerprints on its console "
		                   "within %.0f s (set bake.ssh.host_key_check to \"accept-new\" "
		                   "to trust the first key); last console lines:\n%s",
		                   b->o.what, where, timeout, console.ptr);
	kiln_buf_release(&console);
	return error;
}

int kiln_builder_connect(struct kiln_builder *b)
{
	int accept_new = b->o.profile->bake.host_key_check == KILN_HOST_KEY_ACCEPT_NEW;
	int port = b->o.profile->bake.ssh_port;
	double timeout = (double)b->o.profile->bake.ssh_timeout_s;
	struct wait_ssh w = {0, 0, NULL, KILN_SSH_FINGERPRINTS_INIT, NULL};
	struct kiln_ssh_connect_opts o = {0};
	struct kiln_poll poll;
	char *where = kiln_xasprintf("%s:%d", b->host, port);
	int error;

	error = open_ssh(b, port);
	if (error < 0)
		goto done;
	say(b, "waiting for SSH on %s and the host key on the console", where);
	kiln_poll_start(&poll, timeout < kiln_builder_left(b) ? timeout : kiln_builder_left(b),
	                b->o.stop);
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
	o.user = b->o.profile->bake.ssh_user;
	o.key = b->sshkey;
	o.fingerprints = &w.fps;
	o.hostkey_policy = accept_new ? KILN_SSH_HOSTKEY_ACCEPT_NEW : KILN_SSH_HOSTKEY_STRICT;
	o.wait_timeout = 30;
	o.stop = b->o.stop;
	error = kiln_ssh_connect(&b->ssh, &o);
	if (error >= 0)
		say(b, "connected to %s as %s (host key %s)", where, o.user,
		    kiln_ssh_session_fingerprint(b->ssh));
done:
	free(where);
	free(w.console);
	free(w.last_error);
	kiln_ssh_fingerprints_release(&w.fps);
	return error;
}

/* libssh2 says "transport read": the operator needs the builder, what ran, its last line. */
int kiln_builder_lost_while(const struct kiln_builder *b, int error, const char *what,
                            const struct kiln_buf *tail)
{
	const char *last = tail != NULL ? strrchr(tail->ptr, '\n') : NULL;
	char *why;

	if (error >= 0 || b->ssh == NULL || !kiln_ssh_session_lost(b->ssh))
		return error;
	last = last != NULL ? last + 1 : tail != NULL ? tail->ptr : "";
	/* Copied first: the new message is formatted into the same slot. */
	why = kiln_xstrdup(kiln_error_last());
	error = kiln_error_set(
	    KILN_ERROR, "lost the %s%s%s while %s ran: %s; its last output line: %s", b->o.what,
	    b->instance_id ? " " : "", b->instance_id ? b->instance_id : "", what, why,
	    last[0] != '\0' ? last : "(none)");
	free(why);
	return error;
}

int kiln_builder_made(const struct kiln_builder *b)
{
	return b->instance_id != NULL || b->group_id != NULL || b->key_name != NULL;
}

static void cleanup_failed(const char *what, const char *id)
{
	char *msg = kiln_log_redact(kiln_error_last());

	kiln_log_error("cleanup: cannot delete %s %s: %s", what, id, msg);
	free(msg);
}

void kiln_builder_cleanup(struct kiln_builder *b)
{
	char *saved = kiln_xstrdup(kiln_error_last());
	int saved_code = kiln_error_last_code();

	kiln_ssh_session_free(b->ssh);
	b->ssh = NULL;
	/*
	 * Nothing waits for the instance to be terminated: a key pair can go at
	 * once, and the security group's deletion is retried for as long as the
	 * terminating instance still holds it (DependencyViolation), which is
	 * the only thing that needs the instance gone.
	 */
	if (b->instance_id != NULL) {
		const char *ids[] = {b->instance_id};
		int error = kiln_ec2_terminate_instances(NULL, b->o.aws, ids, 1);
		if (error < 0 && error != KILN_ENOTFOUND)
			cleanup_failed("instance", b->instance_id);
		else
			journal(b, "deleted", "instance", NULL, b->instance_id);
	}
	if (b->key_name != NULL) {
		int error = kiln_ec2_delete_key_pair(b->o.aws, b->key_name, NULL);
		if (error < 0 && error != KILN_ENOTFOUND)
			cleanup_failed("key pair", b->key_name);
		else
			journal(b, "deleted", "key-pair", NULL, b->key_name);
	}
	if (b->group_id != NULL) {
		if (kiln_gc_delete_security_group(b->o.aws, b->group_id, CLEANUP_TIMEOUT) < 0)
			cleanup_failed("security group", b->group_id);
		else
			journal(b, "deleted", "security-group", NULL, b->group_id);
	}
	/* The caller's error is what it reports. */
	if (saved_code < 0)
		kiln_error_set(saved_code, "%s", saved);
	else
		kiln_error_clear();
	free(saved);
}

void kiln_builder_release(struct kiln_builder *b)
{
	kiln_aws_tags_release(&b->temp_tags);
	kiln_ssh_key_free(b->sshkey);
	kiln_ssh_session_free(b->ssh);
	free(b->key_name);
	free(b->group_id);
	free(b->instance_id);
	free(b->host);
	b->sshkey = NULL;
	b->ssh = NULL;
	b->key_name = b->group_id = b->instance_id = b->host = NULL;
}
