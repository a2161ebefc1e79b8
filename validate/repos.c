/*
 * Layer repositories against allowed sources (policy.allowed_repos). A
 * source is a host ("git.example.com"), a host and a path prefix
 * ("github.com/acme/"), a URL ("https://github.com/acme", "ssh://host/srv"),
 * or a local path prefix ("/srv/git"); a repository is what a profile's
 * `repo` resolves to: a URL, "git@host:path", or an absolute local path.
 * Hosts compare without case and without a port or user; paths compare by
 * whole segments (".git" at the end ignored), and a path with a ".." segment
 * is never within anything.
 */
#include "core/common.h"
#include "validate/policy.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

struct place {
	char *host; /* lowercase, no user or port; "" for a local path */
	char *path; /* starts with '/' (or is "" for a host alone) */
};

static void place_release(struct place *pl)
{
	free(pl->host);
	free(pl->path);
}

static char *host_of(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	char *h;
	size_t i;

	if (at != NULL) {
		n -= (size_t)(at + 1 - s);
		s = at + 1;
	}
	/* A port, unless the host is a bracketed IPv6 address. */
	if (n > 0 && s[0] != '[') {
		const char *colon = memchr(s, ':', n);
		if (colon != NULL)
			n = (size_t)(colon - s);
	}
	h = kiln_xstrndup(s, n);
	for (i = 0; h[i] != '\0'; i++)
		h[i] = (char)tolower((unsigned char)h[i]);
	return h;
}

static char *path_of(const char *s)
{
	size_t n = strlen(s);

	/* "/acme/web.git" and "/acme/web/" are "/acme/web". */
	while (n > 1 && s[n - 1] == '/')
		n--;
	if (n > 4 && strncmp(s + n - 4, ".git", 4) == 0)
		n -= 4;
	if (s[0] == '/')
		return kiln_xstrndup(s, n);
	return kiln_xasprintf("/%.*s", (int)n, s);
}

/* Split a URL, an scp-like address or a path. Entries without a scheme are "host/path". */
static void parse(struct place *out, const char *s, int is_entry)
{
	const char *scheme = strstr(s, "://");
	const char *colon = strchr(s, ':'), *slash = strchr(s, '/');

	if (strncmp(s, "file://", 7) == 0) {
		out->host = kiln_xstrdup("");
		out->path = path_of(s + 7);
	} else if (scheme != NULL) {
		const char *h = scheme + 3, *p = strchr(h, '/');
		out->host = host_of(h, p != NULL ? (size_t)(p - h) : strlen(h));
		out->path = p != NULL ? path_of(p) : kiln_xstrdup("");
	} else if (s[0] == '/') {
		out->host = kiln_xstrdup("");
		out->path = path_of(s);
	} else if (!is_entry && colon != NULL && (slash == NULL || colon < slash)) {
		/* git@host:acme/web.git */
		out->host = host_of(s, (size_t)(colon - s));
		out->path = path_of(colon + 1);
	} else {
		const char *p = strchr(s, '/');
		out->host = host_of(s, p != NULL ? (size_t)(p - s) : strlen(s));
		out->path = p != NULL ? path_of(p) : kiln_xstrdup("");
	}
}

static int has_dotdot(const char *path)
{
	const char *p = path;

	while (*p != '\0') {
		size_t n;
		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		p += n;
	}
	return 0;
}

/* `inner` lies within `outer`: the same host, and outer's path a whole-segment prefix. */
static int within(const struct place *inner, const struct place *outer)
{
	size_t n = strlen(outer->path);

	if (strcasecmp(inner->host, outer->host) != 0 || has_dotdot(inner->path))
		return 0;
	if (n == 0 || (n == 1 && outer->path[0] == '/'))
		return 1;
	return strncmp(inner->path, outer->path, n) == 0 &&
	       (inner->path[n] == '\0' || inner->path[n] == '/');
}

int kiln_repo_allowed(const char *url, const char *entry)
{
	struct place r = {0}, e = {0};
	int ok;

	parse(&r, url, 0);
	parse(&e, entry, 1);
	ok = within(&r, &e);
	place_release(&r);
	place_release(&e);
	return ok;
}

int kiln_repo_entry_within(const char *inner, const char *outer)
{
	struct place i = {0}, o = {0};
	int ok;

	parse(&i, inner, 1);
	parse(&o, outer, 1);
	ok = within(&i, &o);
	place_release(&i);
	place_release(&o);
	return ok;
}
