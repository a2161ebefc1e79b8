/*
 * The image's users and groups, read from its /etc/passwd and /etc/group:
 * the host's NSS modules have no business inside an instance, and the files
 * are the image's (hostile) bytes, read bounded. See init-int.h.
 */
#include <errno.h>
#include <string.h>

#include "core/buf.h"
#include "core/common.h"
#include "localcloud/init-int.h"

#define ACCOUNTS_MAX ((size_t)4 << 20)
#define MAX_GROUPS   64

/* A number as /etc/passwd holds it: decimal digits only, below 2^31. */
static int parse_id(unsigned long *out, const char *s)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 10)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > 0x7fffffffUL)
		return -1;
	*out = v;
	return 0;
}

/*
 * Call `match` for each line of `root`/`file` split at ':' into `nf` fields
 * (lines with fewer are skipped) until it returns non-zero.
 */
static int each_entry(const char *root, const char *file, size_t nf,
                      int (*match)(char **f, void *arg), void *arg)
{
	struct kiln_buf text = KILN_BUF_INIT;
	char *save = NULL, *f[8];
	int error, hit = 0;

	error = lc_root_read(&text, root, file, ACCOUNTS_MAX);
	if (error < 0) {
		kiln_buf_release(&text);
		return error;
	}
	for (char *line = strtok_r(text.ptr, "\n", &save); line != NULL && hit == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		char *p = line;
		size_t n = 0;
		for (; n < nf && p != NULL; n++)
			f[n] = strsep(&p, ":");
		if (n == nf)
			hit = match(f, arg);
	}
	kiln_buf_release(&text);
	return hit;
}

struct passwd_query {
	const char *user;
	unsigned long id;
	int by_id;
	struct lc_account *a;
};

static int passwd_match(char **f, void *arg)
{
	struct passwd_query *q = arg;
	unsigned long uid, gid;

	if (parse_id(&uid, f[2]) < 0 || parse_id(&gid, f[3]) < 0)
		return 0;
	if (q->by_id ? uid != q->id : strcmp(f[0], q->user) != 0)
		return 0;
	q->a->uid = (uid_t)uid;
	q->a->gid = (gid_t)gid;
	q->a->name = kiln_xstrdup(f[0]);
	q->a->home = kiln_xstrdup(f[5][0] == '/' ? f[5] : "/");
	q->a->shell = kiln_xstrdup(f[6][0] == '/' ? f[6] : "/bin/sh");
	return 1;
}

struct group_query {
	const char *name;
	unsigned long id;
	int by_id;
	gid_t gid;
	struct lc_account *member; /* collecting the groups that list this user */
};

static int group_match(char **f, void *arg)
{
	struct group_query *q = arg;
	struct lc_account *a = q->member;
	unsigned long gid;
	char *save = NULL;

	if (parse_id(&gid, f[2]) < 0)
		return 0;
	if (a == NULL) {
		if (q->by_id ? gid != q->id : strcmp(f[0], q->name) != 0)
			return 0;
		q->gid = (gid_t)gid;
		return 1;
	}
	for (char *m = strtok_r(f[3], ",", &save); m != NULL; m = strtok_r(NULL, ",", &save)) {
		if (strcmp(m, a->name) == 0 && (gid_t)gid != a->gid && a->ngroups < MAX_GROUPS) {
			a->groups[a->ngroups++] = (gid_t)gid;
			break;
		}
	}
	return 0;
}

int lc_account_lookup(struct lc_account *out, const char *root, const char *user)
{
	struct passwd_query q = {user, 0, 0, out};
	struct group_query g = {NULL, 0, 0, 0, out};
	char *esc = kiln_escape(user);
	int r;

	memset(out, 0, sizeof(*out));
	q.by_id = parse_id(&q.id, user) == 0;
	r = each_entry(root, "/etc/passwd", 7, passwd_match, &q);
	if (r == KILN_ENOTFOUND) {
		kiln_error_clear();
		r = 0;
	}
	if (r == 0 && q.by_id) {
		/* A number that /etc/passwd does not know runs as that uid and gid, as in systemd.
		 */
		out->uid = (uid_t)q.id;
		out->gid = (gid_t)q.id;
		out->name = kiln_xstrdup(user);
		out->home = kiln_xstrdup("/");
		out->shell = kiln_xstrdup("/bin/sh");
		r = 1;
	}
	if (r == 0)
		r = kiln_error_set(KILN_ENOTFOUND, "no user '%s' in /etc/passwd", esc);
	free(esc);
	if (r < 0) {
		lc_account_release(out);
		return r;
	}
	out->groups = kiln_xcalloc(MAX_GROUPS, sizeof(*out->groups));
	out->groups[out->ngroups++] = out->gid;
	r = each_entry(root, "/etc/group", 4, group_match, &g);
	if (r == KILN_ENOTFOUND) {
		/* No /etc/group: the primary group alone. */
		kiln_error_clear();
		r = 0;
	}
	if (r < 0)
		lc_account_release(out);
	return r < 0 ? r : 0;
}

int lc_group_lookup(gid_t *out, const char *root, const char *group)
{
	struct group_query q = {group, 0, 0, 0, NULL};
	char *esc;
	int r;

	q.by_id = parse_id(&q.id, group) == 0;
	r = each_entry(root, "/etc/group", 4, group_match, &q);
	if (r == KILN_ENOTFOUND) {
		kiln_error_clear();
		r = 0;
	}
	if (r < 0)
		return r;
	if (r == 1 || q.by_id) {
		*out = r == 1 ? q.gid : (gid_t)q.id;
		return 0;
	}
	esc = kiln_escape(group);
	r = kiln_error_set(KILN_ENOTFOUND, "no group '%s' in /etc/group", esc);
	free(esc);
	return r;
}

void lc_account_release(struct lc_account *a)
{
	free(a->name);
	free(a->home);
	free(a->shell);
	free(a->groups);
	memset(a, 0, sizeof(*a));
}
