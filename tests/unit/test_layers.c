/*
 * Layers: fixture repositories made with the git CLI in a temporary
 * directory, resolved and packed by bake/layer.c, and the archives read back
 * with libarchive.
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

#include "core/common.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include "core/proc.h"
#include "bake/layer.h"
#include "core/paths.h"
#include "git_fixture.h"

static char root[256];
static char tmp[300];

/*
 * One directory for the whole suite, removed by the parent even when a test
 * fails (a failing test exits before its own teardown).
 */
static void suite_setup(void)
{
	snprintf(root, sizeof(root), "/tmp/kiln-test-layers-XXXXXX");
	if (mkdtemp(root) == NULL)
		kiln_die("mkdtemp: %s", strerror(errno));
}

static void suite_teardown(void)
{
	kiln_rm_rf(root);
}

static void setup(void)
{
	char *home;

	snprintf(tmp, sizeof(tmp), "%s/XXXXXX", root);
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	/* Fixture commits must not depend on the user's git configuration. */
	home = kiln_path_join(tmp, "home");
	ck_assert_int_eq(kiln_mkdir_p(home, 0700), 0);
	setenv("HOME", home, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "kiln test", 1);
	setenv("GIT_AUTHOR_EMAIL", "test@kiln.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "kiln test", 1);
	setenv("GIT_COMMITTER_EMAIL", "test@kiln.invalid", 1);
	setenv("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z", 1);
	setenv("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z", 1);
	unsetenv("KILN_CACHE");
	free(home);
}

static void teardown(void)
{
	kiln_rm_rf(tmp);
}

static char *path(const char *rel)
{
	return kiln_path_join(tmp, rel);
}

static void write_file(const char *dir, const char *rel, const char *content, mode_t mode)
{
	char *file = kiln_path_join(dir, rel);
	char *parent = kiln_path_dirname(file);

	ck_assert_int_eq(kiln_mkdir_p(parent, 0755), 0);
	ck_assert_int_eq(kiln_file_write_atomic(file, content, strlen(content), mode), 0);
	free(parent);
	free(file);
}

/* A repository with files, an executable, a symlink, spaces and UTF-8. */
static char *make_repo(const char *name)
{
	char *dir = path(name), *link;

	ck_assert_int_eq(kiln_mkdir_p(dir, 0755), 0);
	free(git(dir, "init", "-q", NULL));
	write_file(dir, "README", "hello\n", 0644);
	write_file(dir, "bin/run.sh", "#!/bin/sh\necho run\n", 0755);
	write_file(dir, "etc/app.conf", "port=8080\n", 0644);
	write_file(dir, "etc/sub dir/ünïcødé ✓.txt", "utf8\n", 0644);
	write_file(dir, "a-b", "dash\n", 0644);
	write_file(dir, "a.txt", "dot\n", 0644);
	link = kiln_path_join(dir, "link");
	ck_assert_int_eq(symlink("etc/app.conf", link), 0);
	free(link);
	free(git(dir, "add", "-A", NULL));
	free(git(dir, "commit", "-q", "-m", "first", NULL));
	free(git(dir, "tag", "-a", "-m", "release v1", "v1", NULL));
	free(git(dir, "tag", "v1-light", NULL));
	return dir;
}

static struct kiln_layer_spec spec_for(const char *name, const char *url, const char *ref)
{
	struct kiln_layer_spec s;

	memset(&s, 0, sizeof(s));
	s.name = (char *)name;
	s.repo = (char *)url;
	s.repo_url = (char *)url;
	s.ref = (char *)ref;
	return s;
}

static int resolve_pack(struct kiln_layer **out, const char *name, const char *url, const char *ref,
                        const char *subdir, const char *cache, const char *outdir)
{
	struct kiln_layer_spec s = spec_for(name, url, ref);
	int error;

	s.path = (char *)subdir;
	error = kiln_layer_resolve(out, &s, cache);
	if (error < 0)
		return error;
	error = kiln_layer_pack(*out, outdir);
	if (error < 0) {
		kiln_layer_free(*out);
		*out = NULL;
	}
	return error;
}

struct seen {
	char path[256];
	int type, perm;
	la_int64_t size, uid, gid;
	time_t mtime;
	char link[256];
	char uname[32];
	char data[64];
};

/* Read every entry of an archive (at most `max`); returns the count. */
static int read_archive(const char *file, struct seen *v, int max)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int n = 0, r;
	/* Names are UTF-8; the reader converts them through the locale. */
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	locale_t old = uselocale(utf8);

	ck_assert_ptr_nonnull(utf8);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_filename(a, file, 65536), ARCHIVE_OK);
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		ck_assert_int_lt(n, max);
		memset(&v[n], 0, sizeof(v[n]));
		snprintf(v[n].path, sizeof(v[n].path), "%s", archive_entry_pathname(e));
		v[n].type = (int)archive_entry_filetype(e);
		v[n].perm = (int)archive_entry_perm(e);
		v[n].size = archive_entry_size(e);
		v[n].uid = archive_entry_uid(e);
		v[n].gid = archive_entry_gid(e);
		v[n].mtime = archive_entry_mtime(e);
		if (archive_entry_symlink(e))
			snprintf(v[n].link, sizeof(v[n].link), "%s", archive_entry_symlink(e));
		snprintf(v[n].uname, sizeof(v[n].uname), "%s",
		         archive_entry_uname(e) ? archive_entry_uname(e) : "");
		if (v[n].type == AE_IFREG)
			archive_read_data(a, v[n].data, sizeof(v[n].data) - 1);
		n++;
	}
	ck_assert_int_eq(r, ARCHIVE_EOF);
	ck_assert_int_eq(archive_read_free(a), ARCHIVE_OK);
	uselocale(old);
	freelocale(utf8);
	return n;
}

static const struct seen *find(const struct seen *v, int n, const char *p)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].path, p) == 0)
			return &v[i];
	ck_abort_msg("'%s' is not in the archive", p);
	return NULL;
}

START_TEST(annotated_and_lightweight_tags)
{
	char *repo = make_repo("repo"), *cache = path("cache"), *out = path("out");
	char *head = git(repo, "rev-parse", "HEAD", NULL);
	struct kiln_layer *a = NULL, *b = NULL;
	size_t i;

	ck_assert_int_eq(resolve_pack(&a, "app", repo, "v1", NULL, cache, out), 0);
	ck_assert_str_eq(a->commit, head);
	ck_assert_int_eq(a->commit_time, 1767323045);
	ck_assert_int_eq(resolve_pack(&b, "app2", repo, "v1-light", NULL, cache, out), 0);
	ck_assert_str_eq(b->commit, head);
	ck_assert_str_eq(a->sha256, b->sha256);
	ck_assert_uint_eq(a->size, b->size);
	ck_assert_uint_gt(a->size, 0);
	ck_assert_ptr_nonnull(strstr(a->archive, "/out/app-"));
	ck_assert_int_eq(strlen(strstr(a->archive, "app-")), strlen("app-") + 12 + 8);
	kiln_layer_free(a);
	/* A full commit id is pinned too, and needs no fetch once cached. */
	ck_assert_int_eq(resolve_pack(&a, "app3", repo, head, NULL, cache, out), 0);
	ck_assert_str_eq(a->sha256, b->sha256);
	kiln_layer_free(a);
	/* In capitals too, as git takes it. */
	for (i = 0; head[i] != '\0'; i++)
		head[i] = (char)toupper((unsigned char)head[i]);
	ck_assert_int_eq(resolve_pack(&a, "app4", repo, head, NULL, cache, out), 0);
	ck_assert_str_eq(a->commit, b->commit);
	kiln_layer_free(a);
	kiln_layer_free(b);
	free(head);
	free(repo);
	free(cache);
	free(out);
}
END_TEST

START_TEST(branch_is_refused)
{
	char *repo = make_repo("repo"), *cache = path("cache");
	struct kiln_layer_spec s = spec_for("app", repo, "main");
	struct kiln_layer *l = NULL;

	ck_assert_int_eq(kiln_layer_resolve(&l, &s, cache), KILN_EINVAL);
	ck_assert_ptr_null(l);
	ck_assert_str_eq(kiln_error_last(),
	                 "layer 'app': 'main' is a branch; pin layers to a tag or commit");
	s.ref = "refs/heads/main";
	ck_assert_int_eq(kiln_layer_resolve(&l, &s, cache), KILN_EINVAL);
	ck_assert_str_eq(kiln_error_last(), "layer 'app': 'refs/heads/main' is a branch; pin "
	                                    "layers to a tag or commit");
	free(repo);
	free(cache);
}
END_TEST

START_TEST(missing_tag_is_clear)
{
	char *repo = make_repo("repo"), *cache = path("cache");
	struct kiln_layer_spec s = spec_for("app", repo, "v9");
	struct kiln_layer *l = NULL;
	char *want = kiln_xasprintf("layer 'app': tag 'v9' not found in '%s'", repo);

	ck_assert_int_eq(kiln_layer_resolve(&l, &s, cache), KILN_EINVAL);
	ck_assert_str_eq(kiln_error_last(), want);
	/* An abbreviated commit id is not a pin either. */
	s.ref = "0123456";
	ck_assert_int_eq(kiln_layer_resolve(&l, &s, cache), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "tag '0123456' not found"));
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "must have all 40 hex digits"));
	s.ref = "0123456789012345678901234567890123456789";
	ck_assert_int_eq(kiln_layer_resolve(&l, &s, cache), KILN_EINVAL);
	ck_assert_ptr_nonnull(
	    strstr(kiln_error_last(), "commit 0123456789012345678901234567890123456789 not found"));
	s.ref = "bad..name";
	ck_assert_int_eq(kiln_layer_resolve(&l, &s, cache), KILN_EINVAL);
	ck_assert_str_eq(kiln_error_last(), "layer 'app': 'bad..name' is not a valid tag name");
	s.repo = s.repo_url = "no/such/repo";
	s.ref = "v1";
	ck_assert_int_eq(kiln_layer_resolve(&l, &s, cache), KILN_EINVAL);
	ck_assert_str_eq(
	    kiln_error_last(),
	    "layer 'app': repository 'no/such/repo' not found: No such file or directory");
	/* A relative path is taken from the current directory, and cached as absolute. */
	ck_assert_int_eq(chdir(tmp), 0);
	s.repo = s.repo_url = "./repo";
	ck_assert_int_eq(kiln_layer_resolve(&l, &s, cache), 0);
	ck_assert_str_eq(l->url, repo);
	kiln_layer_free(l);
	l = NULL;
	s.repo = s.repo_url = want; /* not a repository at all */
	s.ref = "v1";
	ck_assert_int_eq(kiln_layer_resolve(&l, &s, cache), KILN_ERROR);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "layer 'app': cannot clone"));
	free(want);
	free(repo);
	free(cache);
}
END_TEST

static void file_bytes(struct kiln_buf *b, const char *file)
{
	kiln_buf_init(b, (size_t)1 << 30);
	ck_assert_int_eq(kiln_file_read(b, file), 0);
}

START_TEST(clones_and_runs_give_the_same_bytes)
{
	char *repo = make_repo("repo"), *other = path("other"), *url = NULL;
	char *c1 = path("c1"), *c2 = path("c2"), *c3 = path("c3");
	char *o1 = path("o1"), *o2 = path("o2"), *o3 = path("o3");
	struct kiln_layer *a = NULL, *b = NULL, *c = NULL;
	struct kiln_buf ba, bb;
	struct utimbuf ut = {1000, 1000};
	char *f;

	/* A real (packed, --no-local) clone, and the original over file://. */
	free(git(tmp, "clone", "-q", "--no-local", repo, other, NULL));
	free(git(other, "fetch", "-q", "--tags", NULL));
	url = kiln_xasprintf("file://%s", repo);
	ck_assert_int_eq(resolve_pack(&a, "app", repo, "v1", NULL, c1, o1), 0);
	ck_assert_int_eq(resolve_pack(&b, "app", other, "v1", NULL, c2, o2), 0);
	/* The working tree is irrelevant: mtimes and uncommitted edits. */
	f = kiln_path_join(repo, "README");
	ck_assert_int_eq(utime(f, &ut), 0);
	write_file(repo, "bin/run.sh", "changed\n", 0644);
	ck_assert_int_eq(resolve_pack(&c, "app", url, "v1", NULL, c3, o3), 0);
	ck_assert_str_eq(a->commit, b->commit);
	ck_assert_str_eq(a->sha256, b->sha256);
	ck_assert_str_eq(a->sha256, c->sha256);
	file_bytes(&ba, a->archive);
	file_bytes(&bb, c->archive);
	ck_assert_uint_eq(ba.size, a->size);
	ck_assert_uint_eq(ba.size, bb.size);
	ck_assert_int_eq(memcmp(ba.ptr, bb.ptr, ba.size), 0);
	/* The recorded digest is the file's. */
	{
		char hex[65];
		kiln_sha256_hex(hex, ba.ptr, ba.size);
		ck_assert_str_eq(hex, a->sha256);
	}
	/* And again from the existing cache: the fetch path. */
	kiln_layer_free(c);
	ck_assert_int_eq(resolve_pack(&c, "app", repo, "v1", NULL, c1, o1), 0);
	ck_assert_str_eq(a->sha256, c->sha256);
	kiln_buf_release(&ba);
	kiln_buf_release(&bb);
	kiln_layer_free(a);
	kiln_layer_free(b);
	kiln_layer_free(c);
	free(f);
	free(url);
	free(repo);
	free(other);
	free(c1);
	free(c2);
	free(c3);
	free(o1);
	free(o2);
	free(o3);
}
END_TEST

START_TEST(modes_symlinks_names_and_order)
{
	char *repo = make_repo("repo"), *cache = path("cache"), *out = path("out");
	struct kiln_layer *l = NULL;
	struct seen v[32];
	const struct seen *s;
	int n, i;

	ck_assert_int_eq(resolve_pack(&l, "os", repo, "v1", NULL, cache, out), 0);
	n = read_archive(l->archive, v, 32);
	ck_assert_int_eq(n, 10);
	/* Sorted by path, bytewise, directories with their slash. */
	ck_assert_str_eq(v[0].path, "README");
	ck_assert_str_eq(v[1].path, "a-b");
	ck_assert_str_eq(v[2].path, "a.txt");
	ck_assert_str_eq(v[3].path, "bin/");
	ck_assert_str_eq(v[4].path, "bin/run.sh");
	ck_assert_str_eq(v[5].path, "etc/");
	ck_assert_str_eq(v[6].path, "etc/app.conf");
	ck_assert_str_eq(v[7].path, "etc/sub dir/");
	ck_assert_str_eq(v[8].path, "etc/sub dir/ünïcødé ✓.txt");
	ck_assert_str_eq(v[9].path, "link");
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(v[i].uid, 0);
		ck_assert_int_eq(v[i].gid, 0);
		ck_assert_str_eq(v[i].uname, "root");
		ck_assert_int_eq(v[i].mtime, l->commit_time);
	}
	s = find(v, n, "bin/run.sh");
	ck_assert_int_eq(s->type, AE_IFREG);
	ck_assert_int_eq(s->perm, 0755);
	ck_assert_str_eq(s->data, "#!/bin/sh\necho run\n");
	s = find(v, n, "README");
	ck_assert_int_eq(s->perm, 0644);
	ck_assert_int_eq(s->size, 6);
	ck_assert_str_eq(s->data, "hello\n");
	s = find(v, n, "etc/");
	ck_assert_int_eq(s->type, AE_IFDIR);
	ck_assert_int_eq(s->perm, 0755);
	s = find(v, n, "link");
	ck_assert_int_eq(s->type, AE_IFLNK);
	ck_assert_str_eq(s->link, "etc/app.conf");
	s = find(v, n, "etc/sub dir/ünïcødé ✓.txt");
	ck_assert_str_eq(s->data, "utf8\n");
	kiln_layer_free(l);
	free(repo);
	free(cache);
	free(out);
}
END_TEST

START_TEST(extracted_tree_keeps_modes_and_links)
{
	char *repo = make_repo("repo"), *cache = path("cache"), *out = path("out");
	char *dest = path("dest"), *f;
	struct kiln_layer *l = NULL;
	struct kiln_buf o = KILN_BUF_INIT, e = KILN_BUF_INIT;
	struct stat st;
	char target[64];
	ssize_t len;
	int status = -1;

	ck_assert_int_eq(resolve_pack(&l, "os", repo, "v1", NULL, cache, out), 0);
	ck_assert_int_eq(kiln_mkdir_p(dest, 0755), 0);
	{
		char *argv[] = {"tar", "--zstd", "-xf", l->archive, "-C", dest, NULL};
		ck_assert_int_eq(kiln_proc_run(&status, &o, &e, argv), 0);
		ck_assert_msg(status == 0, "tar: %s", e.ptr);
	}
	f = kiln_path_join(dest, "bin/run.sh");
	ck_assert_int_eq(stat(f, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0755);
	ck_assert_int_eq(st.st_mtime, l->commit_time);
	free(f);
	f = kiln_path_join(dest, "README");
	ck_assert_int_eq(stat(f, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0644);
	free(f);
	f = kiln_path_join(dest, "link");
	ck_assert_int_eq(lstat(f, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	len = readlink(f, target, sizeof(target) - 1);
	ck_assert_int_eq(len, 12);
	target[len] = '\0';
	ck_assert_str_eq(target, "etc/app.conf");
	free(f);
	f = kiln_path_join(dest, "etc/sub dir/ünïcødé ✓.txt");
	ck_assert_int_eq(stat(f, &st), 0);
	free(f);
	kiln_buf_release(&o);
	kiln_buf_release(&e);
	kiln_layer_free(l);
	free(dest);
	free(repo);
	free(cache);
	free(out);
}
END_TEST

START_TEST(locale_does_not_change_the_bytes)
{
	char *repo = make_repo("repo"), *cache = path("cache");
	char *o1 = path("o1"), *o2 = path("o2");
	struct kiln_layer *a = NULL, *b = NULL;

	setlocale(LC_ALL, "C");
	ck_assert_int_eq(resolve_pack(&a, "app", repo, "v1", NULL, cache, o1), 0);
	if (setlocale(LC_ALL, "C.UTF-8") == NULL)
		ck_abort_msg("no C.UTF-8 locale");
	ck_assert_int_eq(resolve_pack(&b, "app", repo, "v1", NULL, cache, o2), 0);
	setlocale(LC_ALL, "C");
	ck_assert_str_eq(a->sha256, b->sha256);
	kiln_layer_free(a);
	kiln_layer_free(b);
	free(repo);
	free(cache);
	free(o1);
	free(o2);
}
END_TEST

START_TEST(subtree_path)
{
	char *repo = make_repo("repo"), *cache = path("cache"), *out = path("out");
	struct kiln_layer *l = NULL;
	struct seen v[8];
	int n;

	ck_assert_int_eq(resolve_pack(&l, "etc", repo, "v1", "etc/", cache, out), 0);
	n = read_archive(l->archive, v, 8);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(v[0].path, "app.conf");
	ck_assert_str_eq(v[1].path, "sub dir/");
	ck_assert_str_eq(v[2].path, "sub dir/ünïcødé ✓.txt");
	kiln_layer_free(l);
	ck_assert_int_eq(resolve_pack(&l, "etc", repo, "v1", "nope", cache, out), KILN_EINVAL);
	ck_assert_ptr_nonnull(
	    strstr(kiln_error_last(), "layer 'etc': path 'nope' is not a directory"));
	ck_assert_int_eq(resolve_pack(&l, "etc", repo, "v1", "README", cache, out), KILN_EINVAL);
	free(repo);
	free(cache);
	free(out);
}
END_TEST

START_TEST(gitlink_is_an_error)
{
	char *repo = make_repo("repo"), *cache = path("cache"), *out = path("out");
	char *head = git(repo, "rev-parse", "HEAD", NULL);
	char *info = kiln_xasprintf("160000,%s,vendor/lib", head);
	struct kiln_layer *l = NULL;

	free(git(repo, "update-index", "--add", "--cacheinfo", info, NULL));
	free(git(repo, "commit", "-q", "-m", "submodule", NULL));
	free(git(repo, "tag", "v2", NULL));
	ck_assert_int_eq(resolve_pack(&l, "app", repo, "v2", NULL, cache, out), KILN_EINVAL);
	ck_assert_str_eq(kiln_error_last(), "layer 'app': 'vendor/lib' is a submodule: layers do "
	                                    "not follow submodules");
	free(info);
	free(head);
	free(repo);
	free(cache);
	free(out);
}
END_TEST

START_TEST(moved_tag_warns_with_both_commits)
{
	char *repo = make_repo("repo"), *cache = path("cache"), *log = path("log");
	char *first = git(repo, "rev-parse", "HEAD", NULL), *second;
	struct kiln_layer_spec s = spec_for("app", repo, "v1");
	struct kiln_layer *l = NULL;
	struct kiln_buf text = KILN_BUF_INIT;
	FILE *fp;

	ck_assert_int_eq(kiln_layer_resolve(&l, &s, cache), 0);
	kiln_layer_free(l);
	write_file(repo, "README", "moved\n", 0644);
	free(git(repo, "commit", "-q", "-am", "second", NULL));
	free(git(repo, "tag", "-f", "-a", "-m", "moved", "v1", NULL));
	second = git(repo, "rev-parse", "HEAD", NULL);
	fp = fopen(log, "w");
	ck_assert_ptr_nonnull(fp);
	kiln_log_set_stream(fp, 0);
	ck_assert_int_eq(kiln_layer_resolve(&l, &s, cache), 0);
	kiln_log_set_stream(stderr, 0);
	fclose(fp);
	ck_assert_str_eq(l->commit, second);
	ck_assert_int_eq(kiln_file_read(&text, log), 0);
	ck_assert_msg(strstr(text.ptr, first) && strstr(text.ptr, second) &&
	                  strstr(text.ptr, "tag 'v1'"),
	              "no warning naming both commits in: %s", text.ptr);
	kiln_layer_free(l);
	/* A deleted tag is gone from the cache too. */
	free(git(repo, "tag", "-d", "v1", NULL));
	ck_assert_int_eq(kiln_layer_resolve(&l, &s, cache), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "tag 'v1' not found"));
	kiln_buf_release(&text);
	free(first);
	free(second);
	free(repo);
	free(cache);
	free(log);
}
END_TEST

#define BIG_SIZE  ((size_t)200 << 20)
#define RSS_LIMIT (64L << 10) /* KiB, as ru_maxrss */

/* Pseudo-random bytes: zlib and zstd cannot shrink them, the worst case. */
static void make_big_file(const char *file)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	static uint64_t block[8192];
	size_t done = 0, i;

	ck_assert_int_ge(fd, 0);
	while (done < BIG_SIZE) {
		for (i = 0; i < KILN_ARRAY_SIZE(block); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			block[i] = x;
		}
		ck_assert_int_eq(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
		done += sizeof(block);
	}
	ck_assert_int_eq(close(fd), 0);
}

/* Resolve and pack in a child; returns its peak RSS in KiB. */
static long pack_in_child(const char *repo, const char *cache, const char *out, int *ok)
{
	struct rusage ru;
	int status;
	pid_t pid;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct kiln_layer *l = NULL;
		int rc = resolve_pack(&l, "big", repo, "big", NULL, cache, out);
		if (rc < 0)
			fprintf(stderr, "pack: %s\n", kiln_error_last());
		_exit(rc < 0 ? 1 : 0);
	}
	ck_assert_int_eq(wait4(pid, &status, 0, &ru), pid);
	*ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	fprintf(stderr, "big file: peak RSS %ld KiB\n", ru.ru_maxrss);
	return ru.ru_maxrss;
}

START_TEST(big_file_streams_in_bounded_memory)
{
	char *repo = path("big"), *file = path("big/data.bin");
	char *c1 = path("c1"), *c2 = path("c2"), *out = path("out"), *archive;
	struct archive *a;
	struct archive_entry *e;
	struct kiln_layer *l = NULL;
	char *buf = kiln_xmalloc(1 << 20);
	la_ssize_t n;
	uint64_t total = 0;
	long peak;
	int ok = 0;

	ck_assert_int_eq(kiln_mkdir_p(repo, 0755), 0);
	free(git(repo, "init", "-q", NULL));
	make_big_file(file);
	write_file(repo, "small", "small\n", 0644);
	/* Level 0: fast fixtures, and an object as large as the file. */
	free(git(repo, "-c", "core.compression=0", "add", "-A", NULL));
	free(git(repo, "commit", "-q", "-m", "big", NULL));
	free(git(repo, "tag", "big", NULL));
	unlink(file);

	/* Loose objects, then the same repository packed. */
	peak = pack_in_child(repo, c1, out, &ok);
	ck_assert_msg(ok, "packing the loose big file failed");
	ck_assert_msg(peak < RSS_LIMIT, "peak RSS %ld KiB packing a loose 200 MiB blob", peak);
	free(git(repo, "-c", "pack.compression=0", "repack", "-a", "-d", "-q", NULL));
	peak = pack_in_child(repo, c2, out, &ok);
	ck_assert_msg(ok, "packing the packed big file failed");
	ck_assert_msg(peak < RSS_LIMIT, "peak RSS %ld KiB packing a packed 200 MiB blob", peak);

	/* The archive holds the whole file. */
	ck_assert_int_eq(resolve_pack(&l, "big", repo, "big", NULL, c2, out), 0);
	archive = l->archive;
	a = archive_read_new();
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_filename(a, archive, 65536), ARCHIVE_OK);
	ck_assert_int_eq(archive_read_next_header(a, &e), ARCHIVE_OK);
	ck_assert_str_eq(archive_entry_pathname(e), "data.bin");
	ck_assert_int_eq(archive_entry_size(e), (la_int64_t)BIG_SIZE);
	{
		uint64_t x = 0x9e3779b97f4a7c15ull, want[8192];
		size_t i, k = sizeof(want);
		while ((n = archive_read_data(a, buf, 1 << 16)) > 0) {
			la_ssize_t j;
			for (j = 0; j < n; j++, k++) {
				if (k == sizeof(want)) {
					for (i = 0; i < 8192; i++) {
						x ^= x << 13;
						x ^= x >> 7;
						x ^= x << 17;
						want[i] = x;
					}
					k = 0;
				}
				if (buf[j] != ((char *)want)[k])
					ck_abort_msg("byte %llu differs",
					             (unsigned long long)(total + (uint64_t)j));
			}
			total += (uint64_t)n;
		}
	}
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(total, BIG_SIZE);
	ck_assert_int_eq(archive_read_next_header(a, &e), ARCHIVE_OK);
	ck_assert_str_eq(archive_entry_pathname(e), "small");
	archive_read_free(a);
	kiln_layer_free(l);
	free(buf);
	free(repo);
	free(file);
	free(c1);
	free(c2);
	free(out);
}
END_TEST

/* The whole content of `name` in an archive. */
static void archive_file(struct kiln_buf *out, const char *file, const char *name)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char buf[65536];
	la_ssize_t n;
	int found = 0;

	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_filename(a, file, 65536), ARCHIVE_OK);
	while (!found && archive_read_next_header(a, &e) == ARCHIVE_OK) {
		if (strcmp(archive_entry_pathname(e), name) != 0)
			continue;
		found = 1;
		while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
			ck_assert_int_eq(kiln_buf_put(out, buf, (size_t)n), 0);
		ck_assert_int_eq(n, 0);
	}
	ck_assert_msg(found, "'%s' is not in '%s'", name, file);
	archive_read_free(a);
}

/* Deltified blobs in a pack go through libgit2, with the same result. */
START_TEST(deltified_blobs_are_read_whole)
{
	char *repo = path("repo"), *cache = path("cache"), *o1 = path("o1"), *o2 = path("o2");
	struct kiln_buf v1 = KILN_BUF_INIT, v2 = KILN_BUF_INIT, got = KILN_BUF_INIT;
	struct kiln_layer *a = NULL, *b = NULL;
	char *packs, *verify;
	int i;

	ck_assert_int_eq(kiln_mkdir_p(repo, 0755), 0);
	free(git(repo, "init", "-q", NULL));
	for (i = 0; i < 4000; i++)
		kiln_buf_printf(&v1, "line %d of a file that will change a little\n", i);
	write_file(repo, "data.txt", v1.ptr, 0644);
	free(git(repo, "add", "-A", NULL));
	free(git(repo, "commit", "-q", "-m", "one", NULL));
	free(git(repo, "tag", "one", NULL));
	kiln_buf_put(&v2, v1.ptr, v1.size);
	memcpy(v2.ptr + v2.size / 2, "CHANGED", 7);
	write_file(repo, "data.txt", v2.ptr, 0644);
	free(git(repo, "commit", "-q", "-am", "two", NULL));
	free(git(repo, "tag", "two", NULL));
	free(git(repo, "repack", "-a", "-d", "-f", "-q", NULL));
	/* The test means something only if git did store one as a delta. */
	packs = git(repo, "rev-parse", "--git-path", "objects/pack", NULL);
	{
		char *idx = NULL;
		DIR *d;
		struct dirent *de;
		char *abs = kiln_path_join(repo, packs);
		d = opendir(abs);
		ck_assert_ptr_nonnull(d);
		while ((de = readdir(d)) != NULL)
			if (strstr(de->d_name, ".idx") != NULL)
				idx = kiln_path_join(abs, de->d_name);
		closedir(d);
		ck_assert_ptr_nonnull(idx);
		verify = git(repo, "verify-pack", "-v", idx, NULL);
		ck_assert_msg(strstr(verify, "chain length = 1"), "no delta in the pack: %s",
		              verify);
		free(idx);
		free(abs);
		free(verify);
	}
	ck_assert_int_eq(resolve_pack(&a, "app", repo, "one", NULL, cache, o1), 0);
	ck_assert_int_eq(resolve_pack(&b, "app", repo, "two", NULL, cache, o2), 0);
	archive_file(&got, a->archive, "data.txt");
	ck_assert_uint_eq(got.size, v1.size);
	ck_assert_int_eq(memcmp(got.ptr, v1.ptr, v1.size), 0);
	kiln_buf_clear(&got);
	archive_file(&got, b->archive, "data.txt");
	ck_assert_uint_eq(got.size, v2.size);
	ck_assert_int_eq(memcmp(got.ptr, v2.ptr, v2.size), 0);
	kiln_layer_free(a);
	kiln_layer_free(b);
	kiln_buf_release(&v1);
	kiln_buf_release(&v2);
	kiln_buf_release(&got);
	free(packs);
	free(repo);
	free(cache);
	free(o1);
	free(o2);
}
END_TEST

/* A damaged object is an error, never a silently different archive. */
START_TEST(corrupt_blob_is_an_error)
{
	char *repo = make_repo("repo"), *cache = path("cache"), *out = path("out");
	char *id = git(repo, "rev-parse", "v1:etc/app.conf", NULL), *obj;
	struct kiln_layer *l = NULL;
	struct kiln_buf b = KILN_BUF_INIT;
	int fd;

	obj = kiln_xasprintf("%s/.git/objects/%.2s/%s", repo, id, id + 2);
	ck_assert_int_eq(kiln_file_read(&b, obj), 0);
	ck_assert_uint_gt(b.size, 4);
	/* The zlib stream's last byte is part of its adler32. */
	b.ptr[b.size - 1] ^= 0x55;
	ck_assert_int_eq(chmod(obj, 0644), 0);
	fd = open(obj, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, b.ptr, b.size), (ssize_t)b.size);
	close(fd);
	ck_assert_int_eq(resolve_pack(&l, "app", repo, "v1", NULL, cache, out), KILN_ERROR);
	ck_assert_msg(strstr(kiln_error_last(), "object 'etc/app.conf' is corrupt"), "%s",
	              kiln_error_last());
	kiln_buf_release(&b);
	free(obj);
	free(id);
	free(repo);
	free(cache);
	free(out);
}
END_TEST

/* Paths past ustar's 100/255 bytes go into pax headers, exactly. */
START_TEST(long_paths_survive)
{
	char *repo = path("repo"), *cache = path("cache"), *out = path("out");
	struct kiln_layer *l = NULL;
	struct kiln_buf name = KILN_BUF_INIT, got = KILN_BUF_INIT;
	int i;

	ck_assert_int_eq(kiln_mkdir_p(repo, 0755), 0);
	free(git(repo, "init", "-q", NULL));
	for (i = 0; i < 6; i++)
		kiln_buf_printf(&name, "directory-with-a-rather-long-name-number-%d/", i);
	kiln_buf_puts(&name, "and-a-file-whose-name-alone-is-longer-than-one-hundred-bytes-"
	                     "which-ustar-cannot-hold-in-its-name-field.txt");
	ck_assert_uint_gt(name.size, 300);
	write_file(repo, name.ptr, "deep\n", 0644);
	free(git(repo, "add", "-A", NULL));
	free(git(repo, "commit", "-q", "-m", "long", NULL));
	free(git(repo, "tag", "long", NULL));
	ck_assert_int_eq(resolve_pack(&l, "app", repo, "long", NULL, cache, out), 0);
	archive_file(&got, l->archive, name.ptr);
	ck_assert_str_eq(got.ptr, "deep\n");
	kiln_layer_free(l);
	kiln_buf_release(&name);
	kiln_buf_release(&got);
	free(repo);
	free(cache);
	free(out);
}
END_TEST

/* A name that is not UTF-8 is kept as its bytes (pax hdrcharset=BINARY). */
START_TEST(non_utf8_names_are_kept_as_bytes)
{
	char *repo = path("repo"), *cache = path("cache"), *o1 = path("o1"), *o2 = path("o2");
	struct kiln_layer *a = NULL, *b = NULL;
	struct kiln_buf got = KILN_BUF_INIT;

	ck_assert_int_eq(kiln_mkdir_p(repo, 0755), 0);
	free(git(repo, "init", "-q", NULL));
	write_file(repo, "n\xff\xfe.bin", "raw\n", 0644);
	free(git(repo, "add", "-A", NULL));
	free(git(repo, "commit", "-q", "-m", "raw", NULL));
	free(git(repo, "tag", "raw", NULL));
	setlocale(LC_ALL, "C");
	ck_assert_int_eq(resolve_pack(&a, "app", repo, "raw", NULL, cache, o1), 0);
	ck_assert_ptr_nonnull(setlocale(LC_ALL, "C.UTF-8"));
	ck_assert_int_eq(resolve_pack(&b, "app", repo, "raw", NULL, cache, o2), 0);
	setlocale(LC_ALL, "C");
	ck_assert_str_eq(a->sha256, b->sha256);
	archive_file(&got, a->archive, "n\xff\xfe.bin");
	ck_assert_str_eq(got.ptr, "raw\n");
	kiln_buf_release(&got);
	kiln_layer_free(a);
	kiln_layer_free(b);
	free(repo);
	free(cache);
	free(o1);
	free(o2);
}
END_TEST

/*
 * A write that fails midway (a file size limit, in a child) stops every
 * thread, leaves no temporary file, and reports the system's error. The
 * child exits normally, so LeakSanitizer checks this path too.
 */
START_TEST(write_failure_stops_cleanly)
{
	char *repo = path("big"), *cache = path("cache"), *out = path("out");
	struct kiln_buf data = KILN_BUF_INIT;
	DIR *d;
	struct dirent *de;
	pid_t pid;
	int st = 0, i, files = 0;

	ck_assert_int_eq(kiln_mkdir_p(repo, 0755), 0);
	free(git(repo, "init", "-q", NULL));
	for (i = 0; i < 400000; i++)
		kiln_buf_printf(&data, "%08x\n", (unsigned)(i * 2654435761u));
	write_file(repo, "data.txt", data.ptr, 0644);
	write_file(repo, "zz.txt", "last\n", 0644);
	free(git(repo, "add", "-A", NULL));
	free(git(repo, "commit", "-q", "-m", "data", NULL));
	free(git(repo, "tag", "v1", NULL));
	ck_assert_int_eq(kiln_mkdir_p(out, 0755), 0);
	pid = fork();
	if (pid == 0) {
		struct rlimit rl = {64 * 1024, 64 * 1024};
		struct kiln_layer *l = NULL;
		int rc;
		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		rc = resolve_pack(&l, "app", repo, "v1", NULL, cache, out);
		fprintf(stderr, "with a 64 KiB file limit: %s\n", kiln_error_last());
		exit(rc == KILN_ERROR && strstr(kiln_error_last(), "File too large") ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
	d = opendir(out);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			files++;
	closedir(d);
	ck_assert_int_eq(files, 0);
	kiln_buf_release(&data);
	free(repo);
	free(cache);
	free(out);
}
END_TEST

static void run_ok(char *const argv[])
{
	struct kiln_buf o = KILN_BUF_INIT, e = KILN_BUF_INIT;
	int status = -1;

	ck_assert_int_eq(kiln_proc_run(&status, &o, &e, argv), 0);
	ck_assert_msg(status == 0, "%s failed: %s", argv[0], e.ptr);
	kiln_buf_release(&o);
	kiln_buf_release(&e);
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int wait_port(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int i;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	for (i = 0; i < 100; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return 0;
		usleep(50000);
	}
	return -1;
}

/* Resolve and pack in a child; 0 when it returned `want`. */
static int ssh_child(const char *url, const char *cache, const char *out, int want)
{
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		struct kiln_layer *l = NULL;
		int rc = resolve_pack(&l, "app", url, "v1", NULL, cache, out);
		if (rc < 0)
			fprintf(stderr, "over ssh: %s\n", kiln_error_last());
		_exit(rc == want ? 0 : 1);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0
	                                                                                       : -1;
}

/*
 * An sshd of our own on 127.0.0.1 (killed by pid, and by `timeout` should
 * this test die first): the key file is found in ~/.ssh, and the host key
 * is checked against ~/.ssh/known_hosts, never accepted blindly.
 */
START_TEST(ssh_remote_with_key_file_and_known_hosts)
{
	char *repo = make_repo("repo"), *out = path("out"), *o2 = path("o2");
	char *key = path("home/.ssh/id_ed25519"), *hostkey = path("hostkey");
	char *cfg = path("sshd_config"), *auth = path("authorized_keys");
	char *known = path("home/.ssh/known_hosts"), *c1 = path("c1"), *c2 = path("c2");
	char *text, *url, *archive, hex[65];
	char *hostpub = kiln_xasprintf("%s.pub", hostkey), *userpub = kiln_xasprintf("%s.pub", key);
	struct kiln_buf b = KILN_BUF_INIT;
	struct kiln_proc sshd = KILN_PROC_INIT;
	struct kiln_proc_opts opts = {
	    .in = KILN_PROC_NULL, .out = KILN_PROC_NULL, .err = KILN_PROC_NULL};
	struct kiln_layer *l = NULL;
	struct passwd *pw = getpwuid(getuid());
	int port = free_port(), status;

	if (access("/usr/sbin/sshd", X_OK) != 0 || access("/usr/bin/ssh-keygen", X_OK) != 0)
		ck_abort_msg("openssh-server is not installed (scripts/setup installs it)");
	/* sshd refuses to start without its privilege separation directory. */
	if (access("/run/sshd", F_OK) != 0)
		ck_assert_int_eq(kiln_mkdir_p("/run/sshd", 0755), 0);
	text = path("home/.ssh");
	ck_assert_int_eq(kiln_mkdir_p(text, 0700), 0);
	free(text);
	{
		char *a1[] = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key, NULL};
		char *a2[] = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostkey, NULL};
		run_ok(a1);
		run_ok(a2);
	}
	ck_assert_int_eq(kiln_file_read(&b, userpub), 0);
	ck_assert_int_eq(kiln_file_write_atomic(auth, b.ptr, b.size, 0600), 0);
	kiln_buf_clear(&b);
	ck_assert_int_eq(kiln_file_read(&b, hostpub), 0);
	text = kiln_xasprintf("[127.0.0.1]:%d %s", port, b.ptr);
	ck_assert_int_eq(kiln_file_write_atomic(known, text, strlen(text), 0600), 0);
	free(text);
	kiln_buf_release(&b);
	text =
	    kiln_xasprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\n"
	                   "PidFile none\nUsePAM no\nStrictModes no\nPasswordAuthentication no\n"
	                   "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
	                   "LogLevel ERROR\n",
	                   port, hostkey, auth);
	ck_assert_int_eq(kiln_file_write_atomic(cfg, text, strlen(text), 0600), 0);
	free(text);
	{
		char *argv[] = {"timeout", "120", "/usr/sbin/sshd", "-D", "-e", "-f", cfg, NULL};
		ck_assert_int_eq(kiln_proc_start(&sshd, argv, &opts), 0);
	}
	if (wait_port(port) < 0) {
		kiln_proc_kill(&sshd, SIGTERM);
		kiln_proc_finish(&sshd, &status);
		ck_abort_msg("sshd did not start on port %d", port);
	}
	unsetenv("SSH_AUTH_SOCK");
	url = kiln_xasprintf("ssh://%s@127.0.0.1:%d%s", pw->pw_name, port, repo);
	status = ssh_child(url, c1, out, 0);
	/* A host key we do not know is refused. */
	unlink(known);
	if (status == 0)
		status = ssh_child(url, c2, o2, KILN_EAUTH) == 0 ? 0 : -2;
	kiln_proc_kill(&sshd, SIGTERM);
	kiln_proc_finish(&sshd, &port);
	ck_assert_int_eq(status, 0);
	/* What came over ssh is what a local clone packs, byte for byte. */
	ck_assert_int_eq(resolve_pack(&l, "app", repo, "v1", NULL, c2, o2), 0);
	archive = kiln_xasprintf("%s/app-%.12s.tar.zst", out, l->commit);
	file_bytes(&b, archive);
	kiln_sha256_hex(hex, b.ptr, b.size);
	ck_assert_str_eq(hex, l->sha256);
	kiln_buf_release(&b);
	kiln_layer_free(l);
	free(archive);
	free(url);
	free(repo);
	free(out);
	free(o2);
	free(key);
	free(hostkey);
	free(cfg);
	free(auth);
	free(known);
	free(c1);
	free(c2);
	free(hostpub);
	free(userpub);
}
END_TEST

static const char tls_server[] =
    "import http.server, ssl, sys\n"
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n"
    "srv = http.server.HTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)\n"
    "srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n"
    "print(srv.server_address[1], flush=True)\n"
    "srv.serve_forever()\n";

/* Resolve `url` in a child, with SSL_CERT_FILE as given; 0 when the result matches. */
static int https_child(const char *url, const char *cache, const char *cert, int want,
                       const char *msg)
{
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		struct kiln_layer_spec s = spec_for("app", url, "v1");
		struct kiln_layer *l = NULL;
		int rc;
		if (cert != NULL)
			setenv("SSL_CERT_FILE", cert, 1);
		else
			unsetenv("SSL_CERT_FILE");
		rc = kiln_layer_resolve(&l, &s, cache);
		fprintf(stderr, "https (%s): %d %s\n", cert ? "our CA" : "system CAs", rc,
		        kiln_error_last());
		_exit(rc == want && strstr(kiln_error_last(), msg) != NULL ? 0 : 1);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0
	                                                                                       : -1;
}

/*
 * https against a TLS server of our own on loopback (it answers 404 to
 * everything): its self-signed certificate is refused with the system CA
 * store, and accepted once SSL_CERT_FILE names it, which shows the store
 * is configured and used (the failure is then git's, not TLS's).
 */
START_TEST(https_checks_certificates)
{
	char *cert = path("cert.pem"), *key = path("key.pem"), *www = path("www");
	char *c1 = path("c1"), *c2 = path("c2"), *url;
	char *gen[] = {"openssl",
	               "req",
	               "-x509",
	               "-newkey",
	               "ec",
	               "-pkeyopt",
	               "ec_paramgen_curve:prime256v1",
	               "-nodes",
	               "-keyout",
	               key,
	               "-out",
	               cert,
	               "-days",
	               "1",
	               "-subj",
	               "/CN=localhost",
	               "-addext",
	               "subjectAltName=DNS:localhost",
	               NULL};
	char *srv[] = {"timeout", "120", "python3", "-c", (char *)tls_server, cert, key, NULL};
	struct kiln_proc proc = KILN_PROC_INIT;
	struct kiln_proc_opts opts = {
	    .in = KILN_PROC_NULL, .out = KILN_PROC_PIPE, .err = KILN_PROC_NULL};
	char line[32] = "";
	ssize_t n;
	int port, status, rc;

	run_ok(gen);
	ck_assert_int_eq(kiln_mkdir_p(www, 0755), 0);
	opts.cwd = www;
	ck_assert_int_eq(kiln_proc_start(&proc, srv, &opts), 0);
	n = read(proc.out_fd, line, sizeof(line) - 1);
	port = n > 0 ? atoi(line) : 0;
	url = kiln_xasprintf("https://localhost:%d/repo.git", port);
	rc = port > 0 ? 0 : -1;
	if (rc == 0)
		rc = https_child(url, c1, NULL, KILN_EAUTH, "certificate");
	if (rc == 0)
		rc = https_child(url, c2, cert, KILN_ERROR, "404") == 0 ? 0 : -2;
	kiln_proc_kill(&proc, SIGTERM);
	kiln_proc_finish(&proc, &status);
	ck_assert_msg(rc == 0, "https: step %d failed (port %d)", rc, port);
	free(url);
	free(cert);
	free(key);
	free(www);
	free(c1);
	free(c2);
}
END_TEST

/* ---- hostile trees --------------------------------------------------------- */

/*
 * Trees that `git add` would never make, written with `git mktree` (which
 * checks nothing): in a listing, %B is a blob, %L a symlink's target, %T a
 * tree holding one file, %S the tree of the case's `sub` listing, %N a name
 * of 256 bytes and %M one of 255.
 */
static const struct {
	const char *root, *sub;
	const char *refused; /* NULL: packed */
} crafted[] = {
    {"040000 tree %T\t.git\n100644 blob %B\tREADME\n", NULL,
     "'.git' is a git directory ('.git'), which git itself refuses to check out"},
    {"040000 tree %S\tsub\n", "100644 blob %B\t.GIT\n", "'sub/.GIT' is a git directory"},
    {"040000 tree %T\t.Git \n", NULL, "'.Git ' is a git directory"},
    {"040000 tree %T\t.git..\n", NULL, "'.git..' is a git directory"},
    {"040000 tree %T\tGIT~1\n", NULL, "'GIT~1' is a git directory"},
    {"100644 blob %B\t.git::$INDEX_ALLOCATION\n", NULL, "is a git directory"},
    {"040000 tree %T\t.g\xe2\x80\x8cit\n", NULL, "'.g\xe2\x80\x8cit' is a git directory"},
    {"040000 tree %S\tevil\x1b]0;pwned\a\n", "040000 tree %T\t.git\n",
     "'evil\\x1b]0;pwned\\x07/.git' is a git directory"},
    /* one name twice: file and directory, symlink and directory, two files */
    {"100644 blob %B\ta\n100644 blob %B\ta-b\n040000 tree %T\ta\n", NULL,
     "'a' is both a file and a directory in the tree: it would be ambiguous"},
    {"120000 blob %L\tetc\n040000 tree %T\tetc\n", NULL,
     "'etc' is both a symlink and a directory in the tree"},
    {"040000 tree %S\tdir\n", "100644 blob %B\tx\n100755 blob %B\tx\n",
     "'dir/x' is in the tree twice"},
    {"100644 blob %B\t%N\n", NULL,
     "has a name longer than 255 bytes, which no Linux file system takes"},
    /* close to .git, but not it */
    {"040000 tree %T\t.github\n100644 blob %B\t.gitignore\n100644 blob %B\t.git-x\n"
     "100644 blob %B\tgit~2\n100644 blob %B\tx.git\n100644 blob %B\t%M\n",
     NULL, NULL},
};

static char *mktree(const char *repo, const char *listing, const char *blob, const char *link,
                    const char *tree, const char *sub)
{
	struct kiln_buf text = KILN_BUF_INIT, out = KILN_BUF_INIT;
	char *file = path("listing"), *cmd;
	char *argv[] = {"sh", "-c", NULL, NULL};
	const char *p;
	int status = -1;

	for (p = listing; *p != '\0'; p++) {
		if (*p != '%') {
			kiln_buf_putc(&text, *p);
			continue;
		}
		p++;
		if (*p == 'B')
			kiln_buf_puts(&text, blob);
		else if (*p == 'L')
			kiln_buf_puts(&text, link);
		else if (*p == 'T')
			kiln_buf_puts(&text, tree);
		else if (*p == 'S')
			kiln_buf_puts(&text, sub);
		else
			for (int i = 0; i < (*p == 'N' ? 256 : 255); i++)
				kiln_buf_putc(&text, 'n');
	}
	ck_assert_int_eq(kiln_file_write_atomic(file, text.ptr, text.size, 0644), 0);
	cmd = kiln_xasprintf("git -C '%s' mktree < '%s'", repo, file);
	argv[2] = cmd;
	ck_assert_int_eq(kiln_proc_run(&status, &out, NULL, argv), 0);
	ck_assert_int_eq(status, 0);
	kiln_buf_rtrim(&out);
	kiln_buf_release(&text);
	free(cmd);
	free(file);
	return kiln_buf_detach(&out);
}

START_TEST(hostile_trees_are_refused_at_pack_time)
{
	char *repo = make_repo("repo"), *cache = path("cache"), *out = path("out");
	char *blob = git(repo, "rev-parse", "HEAD:README", NULL);
	char *link = git(repo, "rev-parse", "HEAD:link", NULL);
	char *tree = git(repo, "rev-parse", "HEAD:etc", NULL);
	char *sub = NULL, *top, *commit;
	struct kiln_layer *l = NULL;
	int error;

	if (crafted[_i].sub != NULL)
		sub = mktree(repo, crafted[_i].sub, blob, link, tree, "");
	top = mktree(repo, crafted[_i].root, blob, link, tree, sub ? sub : "");
	commit = git(repo, "commit-tree", top, "-m", "crafted", NULL);
	free(git(repo, "tag", "crafted", commit, NULL));
	error = resolve_pack(&l, "app", repo, "crafted", NULL, cache, out);
	if (crafted[_i].refused == NULL) {
		ck_assert_msg(error == 0, "%s", kiln_error_last());
		kiln_layer_free(l);
	} else {
		/* Bad input: exit code 2, one line naming the path, escaped. */
		ck_assert_int_eq(error, KILN_EINVAL);
		ck_assert_int_eq(kiln_exit_code(error), 2);
		ck_assert_msg(strstr(kiln_error_last(), crafted[_i].refused) != NULL, "case %d: %s",
		              _i, kiln_error_last());
		ck_assert_msg(strncmp(kiln_error_last(), "layer 'app': '", 14) == 0, "%s",
		              kiln_error_last());
		ck_assert_ptr_null(strchr(kiln_error_last(), '\033'));
		ck_assert_ptr_null(strchr(kiln_error_last(), '\n'));
	}
	free(blob);
	free(link);
	free(tree);
	free(sub);
	free(top);
	free(commit);
	free(repo);
	free(cache);
	free(out);
}
END_TEST

/*
 * A provisioner is looked up in the tree when the layer is packed, not found
 * missing on a launched builder: the error points at the profile.
 */
static const struct {
	const char *subdir, *provision, *problem; /* problem NULL: packs */
} provisioners[] = {
    {NULL, "bin/run.sh", NULL},
    {NULL, "README", NULL},
    {NULL, "./bin//run.sh", NULL},
    {"etc", "app.conf", NULL},
    {NULL, "missing.sh", "'missing.sh' is not in the layer (v1 at "},
    {NULL, "etc", "'etc' is a directory, not a file"},
    {NULL, "link", "'link' is a symlink, not a file"},
    {NULL, "README/x.sh", "'README/x.sh' is not in the layer: 'README' is a file"},
    {NULL, "link/app.conf", "is not in the layer: 'link' is a symlink"},
    {NULL, "etc/sub dir/nope.sh", "'etc/sub dir/nope.sh' is not in the layer"},
    {"etc", "README", "'README' is not in the layer"},
    {NULL, "./", "is the layer's own directory, not a file"},
};

START_TEST(provisioners_are_checked_against_the_tree)
{
	char *repo = make_repo("repo"), *cache = path("cache"), *out = path("out");
	struct kiln_layer_spec s = spec_for("app", repo, "v1");
	char *prov[] = {(char *)"README", (char *)provisioners[_i].provision, NULL};
	char *at[] = {(char *)"web.json:3:20", (char *)"web.json:4:7", NULL};
	struct kiln_layer *l = NULL;
	int error;

	s.path = (char *)provisioners[_i].subdir;
	s.provision = prov;
	s.nprovision = 2;
	s.provision_at = at;
	if (provisioners[_i].subdir != NULL) {
		prov[0] = prov[1];
		s.nprovision = 1;
		at[0] = at[1];
	}
	ck_assert_msg(kiln_layer_resolve(&l, &s, cache) == 0, "%s", kiln_error_last());
	error = kiln_layer_pack(l, out);
	if (provisioners[_i].problem == NULL) {
		ck_assert_msg(error == 0, "%s", kiln_error_last());
	} else {
		struct kiln_buf want = KILN_BUF_INIT;

		ck_assert_int_eq(error, KILN_EINVAL);
		kiln_buf_printf(&want, "web.json:4:7: layers.app.provision[%d]: ",
		                provisioners[_i].subdir ? 0 : 1);
		ck_assert_msg(strncmp(kiln_error_last(), want.ptr, want.size) == 0, "%s",
		              kiln_error_last());
		ck_assert_msg(strstr(kiln_error_last(), provisioners[_i].problem) != NULL, "%s",
		              kiln_error_last());
		/* Found before anything was written. */
		ck_assert_int_ne(access(out, F_OK), 0);
		kiln_buf_release(&want);
	}
	kiln_layer_free(l);
	free(repo);
	free(cache);
	free(out);
}
END_TEST

START_TEST(cache_dir_follows_the_environment)
{
	char *d = NULL;

	setenv("KILN_CACHE", "/x/kiln", 1);
	ck_assert_int_eq(kiln_paths_cache(&d), 0);
	ck_assert_str_eq(d, "/x/kiln");
	free(d);
	unsetenv("KILN_CACHE");
	setenv("XDG_CACHE_HOME", "/xdg", 1);
	ck_assert_int_eq(kiln_paths_cache(&d), 0);
	ck_assert_str_eq(d, "/xdg/kiln");
	free(d);
	unsetenv("XDG_CACHE_HOME");
	setenv("HOME", "/home/u", 1);
	ck_assert_int_eq(kiln_paths_cache(&d), 0);
	ck_assert_str_eq(d, "/home/u/.cache/kiln");
	free(d);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("layers");
	TCase *tc = tcase_create("layers");

	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, cache_dir_follows_the_environment);
	tcase_add_loop_test(tc, provisioners_are_checked_against_the_tree, 0,
	                    (int)KILN_ARRAY_SIZE(provisioners));
	tcase_add_loop_test(tc, hostile_trees_are_refused_at_pack_time, 0,
	                    (int)KILN_ARRAY_SIZE(crafted));
	tcase_add_test(tc, annotated_and_lightweight_tags);
	tcase_add_test(tc, branch_is_refused);
	tcase_add_test(tc, missing_tag_is_clear);
	tcase_add_test(tc, clones_and_runs_give_the_same_bytes);
	tcase_add_test(tc, modes_symlinks_names_and_order);
	tcase_add_test(tc, extracted_tree_keeps_modes_and_links);
	tcase_add_test(tc, locale_does_not_change_the_bytes);
	tcase_add_test(tc, subtree_path);
	tcase_add_test(tc, gitlink_is_an_error);
	tcase_add_test(tc, moved_tag_warns_with_both_commits);
	tcase_add_test(tc, long_paths_survive);
	tcase_add_test(tc, non_utf8_names_are_kept_as_bytes);
	tcase_add_test(tc, deltified_blobs_are_read_whole);
	tcase_add_test(tc, corrupt_blob_is_an_error);
	tcase_add_test(tc, write_failure_stops_cleanly);
	tcase_add_test(tc, big_file_streams_in_bounded_memory);
	tcase_add_test(tc, ssh_remote_with_key_file_and_known_hosts);
	tcase_add_test(tc, https_checks_certificates);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
