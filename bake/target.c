#include "bake/target.h"
#include "core/journal.h"
#include "core/json.h"
#include "core/paths.h"
#include "localcloud/cloud.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int known(const char *name)
{
	return strcmp(name, "local") == 0 || strcmp(name, "aws") == 0;
}

int kiln_target_check(const char *name)
{
	if (known(name))
		return 0;
	return kiln_error_set(KILN_EINVAL, "invalid target '%s': use aws or local", name);
}

/* "http://host:port/..." into host and port (80 when absent). */
static int endpoint_parts(char **host, int *port, const char *url)
{
	const char *p = strstr(url, "://"), *end;
	const char *colon;

	p = p != NULL ? p + 3 : url;
	end = p + strcspn(p, "/");
	colon = memchr(p, ':', (size_t)(end - p));
	if (colon == NULL) {
		*host = kiln_xstrndup(p, (size_t)(end - p));
		*port = strncmp(url, "https", 5) == 0 ? 443 : 80;
	} else {
		*host = kiln_xstrndup(p, (size_t)(colon - p));
		*port = atoi(colon + 1);
	}
	if ((*host)[0] == '\0' || *port <= 0 || *port > 65535) {
		free(*host);
		*host = NULL;
		return kiln_error_set(KILN_EINVAL, "malformed endpoint '%s'", url);
	}
	return 0;
}

static int tcp_answers(const char *host, int port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char service[16];
	int fd, ok = 0;

	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(host, service, &hints, &res) != 0)
		return 0;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		ok = connect(fd, res->ai_addr, res->ai_addrlen) == 0;
		close(fd);
	}
	freeaddrinfo(res);
	return ok;
}

static const char *env_or(const char *given, const char *var)
{
	const char *v = getenv(var);

	if (given != NULL && given[0] != '\0')
		return given;
	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* The local cloud's endpoint, started on its port when nothing answers there. */
static int local_endpoint(char **out, const struct kiln_target *t, const struct kiln_emitter *ev)
{
	const char *url = env_or(t->local_endpoint, "KILN_LOCAL_ENDPOINT");
	struct kiln_cloud_opts o = {0};
	char *host = NULL, *started = NULL, *dflt = NULL;
	int port = 0, error;

	if (url == NULL)
		url = dflt = kiln_xasprintf("http://127.0.0.1:%d", KILN_CLOUD_DEFAULT_PORT);
	error = endpoint_parts(&host, &port, url);
	if (error < 0)
		goto done;
	if (!tcp_answers(host, port)) {
		if (!t->start_local) {
			error = kiln_error_set(KILN_ERROR, "no local cloud answers at %s", url);
			goto done;
		}
		kiln_emit(ev, KILN_EVENT_PROGRESS, NULL,
		          "the local cloud is not running at %s; starting it", url);
		o.port = port;
		o.cidr = env_or(t->local_cidr, "KILN_LOCAL_CIDR");
		o.init_exe = t->local_init_exe;
		error = kiln_cloud_up(&started, &o);
		if (error < 0) {
			kiln_error_prefix(error, "starting the local cloud");
			goto done;
		}
	}
	*out = kiln_xstrdup(url);
done:
	free(started);
	free(dflt);
	free(host);
	return error;
}

int kiln_target_client(struct kiln_aws **out, char **endpoint, const struct kiln_target *t,
                       const struct kiln_emitter *events)
{
	struct kiln_aws_config cfg = {0};
	char *url = NULL;
	int error;

	KILN_ASSERT_ARG(out != NULL && t != NULL && t->name != NULL && events != NULL);
	*out = NULL;
	error = kiln_target_check(t->name);
	if (error < 0)
		return error;
	if (strcmp(t->name, "local") == 0) {
		error = local_endpoint(&url, t, events);
		if (error < 0)
			return error;
		cfg.endpoint_url = url;
		cfg.region = KILN_CLOUD_REGION;
		cfg.access_key_id = KILN_CLOUD_ACCESS_KEY;
		cfg.secret_access_key = KILN_CLOUD_SECRET_KEY;
		cfg.public_credentials = 1;
	} else {
		cfg.region = t->region;
	}
	error = kiln_aws_new(out, &cfg);
	if (endpoint != NULL && error >= 0) {
		*endpoint = url;
		url = NULL;
	}
	free(url);
	return error;
}

/* Run ids name files: only letters, digits, '-' and '_' (bake-<hex> in practice). */
static int run_id_ok(const char *id)
{
	return id[0] != '\0' && strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                   "0123456789-_") == strlen(id);
}

int kiln_run_target_read(struct kiln_run_target *out, const char *state_dir, const char *run_id)
{
	char *dir = NULL, *path = NULL;
	json_t *lines = NULL, *ev;
	size_t i;
	int error;

	memset(out, 0, sizeof(*out));
	if (!run_id_ok(run_id))
		return kiln_error_set(KILN_ENOTFOUND, "no journal for run '%s'", run_id);
	error = kiln_paths_state(&dir, state_dir);
	if (error < 0)
		return error;
	path = kiln_xasprintf("%s/runs/%s.jsonl", dir, run_id);
	if (access(path, F_OK) != 0) {
		error = kiln_error_set(KILN_ENOTFOUND, "no journal for run '%s'", run_id);
		goto done;
	}
	error = kiln_journal_read(&lines, path);
	if (error < 0)
		goto done;
	error = kiln_error_set(KILN_ENOTFOUND, "the journal of run '%s' names no target", run_id);
	json_array_foreach(lines, i, ev)
	{
		const char *event = kiln_json_str(ev, "event"),
		           *target = kiln_json_str(ev, "target");
		if (event == NULL || strcmp(event, "note") != 0)
			continue;
		/* The first note is the run's; a target it names must be one kiln knows. */
		if (target == NULL || !known(target))
			break;
		kiln_error_clear();
		error = 0;
		out->name = kiln_xstrdup(target);
		if (kiln_json_str(ev, "region") != NULL)
			out->region = kiln_xstrdup(kiln_json_str(ev, "region"));
		if (kiln_json_str(ev, "endpoint") != NULL)
			out->endpoint = kiln_xstrdup(kiln_json_str(ev, "endpoint"));
		break;
	}
done:
	json_decref(lines);
	free(path);
	free(dir);
	return error;
}

void kiln_run_target_release(struct kiln_run_target *t)
{
	free(t->name);
	free(t->region);
	free(t->endpoint);
	memset(t, 0, sizeof(*t));
}
