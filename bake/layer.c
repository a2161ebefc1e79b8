#include "bake/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <git2.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "kiln.h"

/* Bump when the archive layout changes: it is part of the bake key. */
#define ZSTD_LEVEL     3
#define CHUNK          (64 * 1024)
#define MAX_TREE_DEPTH 512
#define MAX_LINK       4096

static pthread_once_t git_once = PTHREAD_ONCE_INIT;

static void git_setup(void)
{
	const char *file = getenv("SSL_CERT_FILE");
	const char *dir = getenv("SSL_CERT_DIR");

	git_libgit2_init();
	/* Debian's libgit2 uses mbedTLS, which knows no CA store of its own. */
	if (file == NULL && access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0)
		file = "/etc/ssl/certs/ca-certificates.crt";
	if (dir == NULL && access("/etc/ssl/certs", R_OK) == 0)
		dir = "/etc/ssl/certs";
	if (file != NULL || dir != NULL)
		git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file, dir);
}

/* Convert libgit2's error into ours, keeping its message. */
static int git_fail(int gerr, const char *fmt, ...) KILN_PRINTF(2, 3);
static int git_fail(int gerr, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	char *ctx;
	va_list ap;
	int code = KILN_ERROR;

	if (gerr == GIT_EAUTH || gerr == GIT_ECERTIFICATE)
		code = KILN_EAUTH;
	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		kiln_die("out of memory");
	va_end(ap);
	kiln_error_set(code, "%s: %s", ctx,
	               e != NULL && e->message != NULL ? e->message : "unknown libgit2 error");
	free(ctx);
	return code;
}

int kiln_layer_cache_dir(char **out)
{
	const char *env = getenv("KILN_CACHE");

	KILN_ASSERT_ARG(out != NULL);
	*out = NULL;
	if (env != NULL && env[0] != '\0') {
		*out = kiln_xstrdup(env);
		return 0;
	}
	env = getenv("XDG_CACHE_HOME");
	if (env != NULL && env[0] == '/') {
		*out = kiln_path_join(env, "kiln");
		return 0;
	}
	env = getenv("HOME");
	if (env == NULL || env[0] == '\0')
		return kiln_error_set(KILN_EINVAL,
		                      "cannot find a cache directory: set KILN_CACHE or HOME");
	*out = kiln_xasprintf("%s/.cache/kiln", env);
	return 0;
}

void kiln_layer_free(struct kiln_layer *layer)
{
	if (layer == NULL)
		return;
	free(layer->name);
	free(layer->repo);
	free(layer->url);
	free(layer->ref);
	free(layer->subdir);
	free(layer->mirror);
	free(layer->archive);
	free(layer);
}

/* ---- fetching into the cache ---- */

struct fetch_state {
	int attempt; /* ssh credentials tried so far */
	const char *url;
};

/*
 * ssh: the agent first, then the usual key files. libgit2 calls back after
 * each refusal, so every call moves on to the next candidate.
 */
static int credentials(git_credential **out, const char *url, const char *user_from_url,
                       unsigned int allowed, void *payload)
{
	struct fetch_state *st = payload;
	const char *user = user_from_url != NULL ? user_from_url : "git";
	const char *home = getenv("HOME");
	static const char *const keys[] = {"id_ed25519", "id_rsa"};

	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user);
	if (!(allowed & GIT_CREDENTIAL_SSH_KEY))
		return GIT_PASSTHROUGH;
	while (st->attempt < 1 + (int)KILN_ARRAY_SIZE(keys)) {
		int i = st->attempt++;
		char *priv, *pub;
		int error;

		if (i == 0) {
			if (getenv("SSH_AUTH_SOCK") == NULL)
				continue;
			return git_credential_ssh_key_from_agent(out, user);
		}
		if (home == NULL)
			break;
		priv = kiln_xasprintf("%s/.ssh/%s", home, keys[i - 1]);
		pub = kiln_xasprintf("%s.pub", priv);
		if (access(priv, R_OK) != 0) {
			free(priv);
			free(pub);
			continue;
		}
		error = git_credential_ssh_key_new(out, user, access(pub, R_OK) == 0 ? pub : NULL,
		                                   priv, NULL);
		free(priv);
		free(pub);
		return error;
	}
	git_error_set_str(GIT_ERROR_SSH, "no ssh credential accepted (tried ssh-agent, "
	                                 "~/.ssh/id_ed25519, ~/.ssh/id_rsa)");
	return GIT_EAUTH;
}

static void fetch_options(git_fetch_options *fo, struct fetch_state *st)
{
	git_fetch_options_init(fo, GIT_FETCH_OPTIONS_VERSION);
	fo->callbacks.credentials = credentials;
	fo->callbacks.payload = st;
	/* Deleted tags must disappear: a layer pinned to one must fail. */
	fo->prune = GIT_FETCH_PRUNE;
	fo->download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
}

/* A mirror of heads and tags: heads only to tell a branch from a tag. */
static int create_remote(git_remote **out, git_repository *repo, const char *name, const char *url,
                         void *payload)
{
	int error =
	    git_remote_create_with_fetchspec(out, repo, name, url, "+refs/heads/*:refs/heads/*");

	if (error < 0)
		return error;
	git_remote_free(*out);
	*out = NULL;
	error = git_remote_add_fetch(repo, name, "+refs/tags/*:refs/tags/*");
	if (error < 0)
		return error;
	return git_remote_lookup(out, repo, name);
}

static int mirror_clone(git_repository **out, const char *url, const char *mirror)
{
	git_clone_options co;
	struct fetch_state st = {0, url};
	char *suffix = kiln_id_random(".tmp-", 8);
	char *tmp = kiln_xasprintf("%s%s", mirror, suffix);
	int error;

	git_clone_options_init(&co, GIT_CLONE_OPTIONS_VERSION);
	co.bare = 1;
	co.remote_cb = create_remote;
	fetch_options(&co.fetch_opts, &st);
	kiln_log_info("cloning '%s'", url);
	error = git_clone(out, url, tmp, &co);
	if (error < 0) {
		error = git_fail(error, "cannot clone '%s'", url);
		kiln_rm_rf(tmp);
		goto done;
	}
	/* A clone cut short must never look like a mirror: rename at the end. */
	git_repository_free(*out);
	*out = NULL;
	if (rename(tmp, mirror) != 0) {
		error = kiln_error_set(KILN_ERROR, "cannot rename '%s': %s", tmp, strerror(errno));
		kiln_rm_rf(tmp);
		goto done;
	}
	error = git_repository_open_bare(out, mirror);
	if (error < 0)
		error = git_fail(error, "cannot open '%s'", mirror);
done:
	free(suffix);
	free(tmp);
	return error;
}

static int mirror_fetch(git_repository *repo, const char *url)
{
	git_remote *remote = NULL;
	git_fetch_options fo;
	struct fetch_state st = {0, url};
	int error;

	fetch_options(&fo, &st);
	error = git_remote_lookup(&remote, repo, "origin");
	if (error < 0) {
		error = git_fail(error, "broken cache for '%s'", url);
		goto done;
	}
	kiln_log_info("fetching '%s'", url);
	error = git_remote_fetch(remote, NULL, &fo, "kiln fetch");
	if (error < 0)
		error = git_fail(error, "cannot fetch '%s'", url);
done:
	git_remote_free(remote);
	return error;
}

static int is_commit_id(const char *s)
{
	return strlen(s) == 40 && strspn(s, "0123456789abcdef") == 40;
}

/* Open (cloning or fetching as needed) the cache's mirror of `url`. */
static int mirror_open(git_repository **out, const char *mirror, const char *url,
                       const char *commit)
{
	struct stat st;
	git_oid oid;
	git_odb *odb = NULL;
	int error;

	*out = NULL;
	if (stat(mirror, &st) != 0)
		return mirror_clone(out, url, mirror);
	error = git_repository_open_bare(out, mirror);
	if (error < 0)
		return git_fail(error, "cannot open the cache '%s'", mirror);
	/* A commit never changes: when we have it, there is nothing to fetch. */
	if (commit != NULL && git_oid_fromstr(&oid, commit) == 0 &&
	    git_repository_odb(&odb, *out) == 0 && git_odb_exists(odb, &oid)) {
		git_odb_free(odb);
		return 0;
	}
	git_odb_free(odb);
	return mirror_fetch(*out, url);
}

/*
 * The record of which commit each tag had when kiln last used it, so that a
 * moved tag is noticed even when another layer's fetch moved it.
 */
static void pin_check(const struct kiln_layer *layer, const char *tag)
{
	char *file = kiln_path_join(layer->mirror, "kiln-pins.json");
	json_t *pins = NULL;
	const char *old;
	struct kiln_buf buf = KILN_BUF_INIT;

	if (access(file, F_OK) != 0 || kiln_json_load_file(&pins, file) < 0 ||
	    !json_is_object(pins)) {
		json_decref(pins);
		pins = json_object();
	}
	old = kiln_json_str(pins, tag);
	if (old != NULL && strcmp(old, layer->commit) == 0)
		goto done;
	if (old != NULL)
		kiln_log_warn("layer '%s': tag '%s' of '%s' now points at %s, not %s as when "
		              "last fetched",
		              layer->name, tag, layer->repo, layer->commit, old);
	json_object_set_new(pins, tag, json_string(layer->commit));
	if (kiln_json_dump(&buf, pins, 2) < 0 || kiln_buf_putc(&buf, '\n') < 0 ||
	    kiln_file_write_atomic(file, buf.ptr, buf.size, 0644) < 0)
		kiln_log_warn("cannot record tag '%s' in '%s': %s", tag, file, kiln_error_last());
done:
	kiln_buf_release(&buf);
	json_decref(pins);
	free(file);
}

static int ref_exists(git_repository *repo, const char *name)
{
	git_reference *ref = NULL;
	int found = git_reference_lookup(&ref, repo, name) == 0;

	git_reference_free(ref);
	return found;
}

static int resolve_ref(struct kiln_layer *layer, git_repository *repo)
{
	git_reference *ref = NULL;
	git_object *obj = NULL;
	git_commit *commit = NULL;
	git_oid oid;
	const char *tag = layer->ref;
	char *name = NULL;
	int error;

	if (is_commit_id(layer->ref)) {
		git_oid_fromstr(&oid, layer->ref);
		error = git_commit_lookup(&commit, repo, &oid);
		if (error < 0) {
			error =
			    kiln_error_set(KILN_EINVAL, "layer '%s': commit %s not found in '%s'",
			                   layer->name, layer->ref, layer->repo);
			goto done;
		}
		goto found;
	}
	if (strncmp(tag, "refs/tags/", 10) == 0)
		tag += 10;
	name = kiln_xasprintf("refs/tags/%s", tag);
	error = git_reference_lookup(&ref, repo, name);
	if (error == GIT_ENOTFOUND) {
		char *head = kiln_xasprintf("refs/heads/%s", tag);
		int branch = ref_exists(repo, head);

		free(head);
		if (branch)
			error = kiln_error_set(KILN_EINVAL,
			                       "layer '%s': '%s' is a branch; pin layers to a tag "
			                       "or commit",
			                       layer->name, layer->ref);
		else
			error =
			    kiln_error_set(KILN_EINVAL, "layer '%s': tag '%s' not found in '%s'",
			                   layer->name, layer->ref, layer->repo);
		goto done;
	}
	if (error < 0) {
		error = git_fail(error, "layer '%s': cannot read tag '%s'", layer->name, tag);
		goto done;
	}
	error = git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT);
	if (error < 0) {
		error =
		    kiln_error_set(KILN_EINVAL, "layer '%s': tag '%s' does not point at a commit",
		                   layer->name, layer->ref);
		goto done;
	}
	commit = (git_commit *)obj;
	obj = NULL;
found:
	git_oid_tostr(layer->commit, sizeof(layer->commit), git_commit_id(commit));
	layer->commit_time = git_commit_time(commit);
	if (!is_commit_id(layer->ref))
		pin_check(layer, tag);
	error = 0;
done:
	git_commit_free(commit);
	git_object_free(obj);
	git_reference_free(ref);
	free(name);
	return error;
}

/*
 * A local path (neither "scheme://" nor scp-like "host:path") is made
 * absolute, so that libgit2 sees a path and the cache key does not depend
 * on the current directory.
 */
static int local_url(char **out, const char *name, const char *url)
{
	const char *colon = strchr(url, ':'), *slash = strchr(url, '/');
	char *abs;

	*out = NULL;
	if (strstr(url, "://") != NULL || (colon != NULL && (slash == NULL || colon < slash)))
		return 0;
	abs = realpath(url, NULL);
	if (abs == NULL)
		return kiln_error_set(KILN_EINVAL, "layer '%s': repository '%s' not found: %s",
		                      name, url, strerror(errno));
	*out = abs;
	return 0;
}

static int check_ref(const struct kiln_layer_spec *spec)
{
	const char *ref = spec->ref;
	char *full;
	int valid = 0;

	if (ref == NULL || ref[0] == '\0')
		return kiln_error_set(KILN_EINVAL, "layer '%s': no ref: pin it to a tag or commit",
		                      spec->name);
	if (strncmp(ref, "refs/heads/", 11) == 0)
		return kiln_error_set(KILN_EINVAL,
		                      "layer '%s': '%s' is a branch; pin layers to a tag or commit",
		                      spec->name, ref);
	if (is_commit_id(ref))
		return 0;
	full = strncmp(ref, "refs/tags/", 10) == 0 ? kiln_xstrdup(ref)
	                                           : kiln_xasprintf("refs/tags/%s", ref);
	if (git_reference_name_is_valid(&valid, full) < 0 || !valid)
		valid = 0;
	free(full);
	if (!valid)
		return kiln_error_set(KILN_EINVAL, "layer '%s': '%s' is not a valid tag name",
		                      spec->name, ref);
	return 0;
}

int kiln_layer_resolve(struct kiln_layer **out, const struct kiln_layer_spec *spec,
                       const char *cache_dir)
{
	struct kiln_layer *layer = NULL;
	git_repository *repo = NULL;
	char *cache = NULL, *repos = NULL, *lock = NULL;
	char hash[65];
	int lock_fd = -1, error;

	KILN_ASSERT_ARG(out != NULL && spec != NULL && spec->name != NULL && spec->repo != NULL);
	*out = NULL;
	pthread_once(&git_once, git_setup);
	error = check_ref(spec);
	if (error < 0)
		goto done;
	layer = kiln_xcalloc(1, sizeof(*layer));
	layer->name = kiln_xstrdup(spec->name);
	layer->repo = kiln_xstrdup(spec->repo);
	error = local_url(&layer->url, spec->name,
	                  spec->repo_url != NULL ? spec->repo_url : spec->repo);
	if (error < 0)
		goto done;
	if (layer->url == NULL)
		layer->url = kiln_xstrdup(spec->repo_url != NULL ? spec->repo_url : spec->repo);
	layer->ref = kiln_xstrdup(spec->ref);
	layer->subdir = spec->path != NULL ? kiln_xstrdup(spec->path) : NULL;

	if (cache_dir == NULL) {
		error = kiln_layer_cache_dir(&cache);
		if (error < 0)
			goto done;
		cache_dir = cache;
	}
	repos = kiln_path_join(cache_dir, "repos");
	error = kiln_mkdir_p(repos, 0755);
	if (error < 0)
		goto done;
	kiln_sha256_hex(hash, layer->url, strlen(layer->url));
	layer->mirror = kiln_xasprintf("%s/%s", repos, hash);
	/* Two kilns sharing a cache take turns on each mirror. */
	lock = kiln_xasprintf("%s.lock", layer->mirror);
	lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
		error = kiln_error_set(KILN_ERROR, "cannot lock '%s': %s", lock, strerror(errno));
		goto done;
	}
	error = mirror_open(&repo, layer->mirror, layer->url,
	                    is_commit_id(spec->ref) ? spec->ref : NULL);
	if (error < 0) {
		kiln_error_prefix(error, "layer '%s'", layer->name);
		goto done;
	}
	error = resolve_ref(layer, repo);
	if (error < 0)
		goto done;
	kiln_log_debug("layer '%s': %s is commit %s", layer->name, layer->ref, layer->commit);
	*out = layer;
	layer = NULL;
done:
	if (lock_fd >= 0)
		close(lock_fd);
	git_repository_free(repo);
	kiln_layer_free(layer);
	free(lock);
	free(repos);
	free(cache);
	return error;
}

/* ---- reading blobs in chunks ---- */

/*
 * libgit2 reads a packed object whole into memory, and its loose-object
 * stream maps the whole file; for a 200 MiB blob either would be 200 MiB of
 * resident memory. So blobs are read here, straight from the loose file or
 * from the pack at the offset its .idx gives, inflated CHUNK by CHUNK with
 * pread. Only deltified packed blobs (and objects in alternates) go through
 * libgit2; git does not deltify blobs over core.bigFileThreshold anyway.
 * zlib checks each object's adler32 at the end of its stream.
 */
struct pack {
	int fd;
	const unsigned char *idx; /* the .idx, mapped */
	size_t idx_len;
	uint32_t n;
};

struct odb_reader {
	char *objdir;
	git_odb *odb;
	struct pack *packs;
	size_t npacks;
	unsigned char *in;
	/* The open object. */
	int fd, own_fd;
	off_t pos;
	size_t want;
	z_stream z;
	int zinit, zend;
	uint64_t left;
	git_odb_object *whole; /* fallback: libgit2 read it */
	const unsigned char *data;
	const char *path; /* for messages */
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void pack_add(struct odb_reader *r, const char *dir, const char *name)
{
	char *idx = kiln_xasprintf("%s/%s", dir, name);
	char *pack = kiln_xasprintf("%.*s.pack", (int)(strlen(idx) - 4), idx);
	int ifd = open(idx, O_RDONLY | O_CLOEXEC);
	int pfd = open(pack, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *map = MAP_FAILED;

	/* Anything unexpected (a v1 index, a race with gc) falls back to libgit2. */
	if (ifd < 0 || pfd < 0 || fstat(ifd, &st) != 0 || st.st_size < 8 + 1024 + 40)
		goto skip;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, ifd, 0);
	if (map == MAP_FAILED || memcmp(map, "\377tOc\0\0\0\2", 8) != 0)
		goto skip;
	r->packs = kiln_xrealloc(r->packs, (r->npacks + 1) * sizeof(*r->packs));
	r->packs[r->npacks].fd = pfd;
	r->packs[r->npacks].idx = map;
	r->packs[r->npacks].idx_len = (size_t)st.st_size;
	r->packs[r->npacks].n = be32((const unsigned char *)map + 8 + 255 * 4);
	if ((uint64_t)r->packs[r->npacks].n * 28 + 8 + 1024 > (uint64_t)st.st_size)
		goto skip;
	r->npacks++;
	map = MAP_FAILED;
	pfd = -1;
skip:
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	if (ifd >= 0)
		close(ifd);
	if (pfd >= 0)
		close(pfd);
	free(idx);
	free(pack);
}

static int reader_init(struct odb_reader *r, git_repository *repo)
{
	char *packdir;
	DIR *d;
	struct dirent *de;
	int error;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->objdir = kiln_xasprintf("%sobjects", git_repository_path(repo));
	r->in = kiln_xmalloc(CHUNK);
	error = git_repository_odb(&r->odb, repo);
	if (error < 0)
		return git_fail(error, "cannot open the object database");
	packdir = kiln_xasprintf("%s/pack", r->objdir);
	d = opendir(packdir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len > 4 && strcmp(de->d_name + len - 4, ".idx") == 0)
			pack_add(r, packdir, de->d_name);
	}
	if (d != NULL)
		closedir(d);
	free(packdir);
	return 0;
}

static void blob_close(struct odb_reader *r)
{
	if (r->own_fd && r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->own_fd = 0;
	git_odb_object_free(r->whole);
	r->whole = NULL;
	r->data = NULL;
}

static void reader_release(struct odb_reader *r)
{
	size_t i;

	blob_close(r);
	if (r->zinit)
		inflateEnd(&r->z);
	r->zinit = 0;
	for (i = 0; i < r->npacks; i++) {
		munmap((void *)r->packs[i].idx, r->packs[i].idx_len);
		close(r->packs[i].fd);
	}
	free(r->packs);
	free(r->in);
	free(r->objdir);
	git_odb_free(r->odb);
}

/* The offset of `oid` in a pack, or -1. */
static int pack_find(struct odb_reader *r, const git_oid *oid, struct pack **pack, off_t *off)
{
	size_t i;

	for (i = 0; i < r->npacks; i++) {
		struct pack *p = &r->packs[i];
		const unsigned char *fan = p->idx + 8, *names = fan + 1024;
		uint32_t lo = oid->id[0] ? be32(fan + 4 * (oid->id[0] - 1)) : 0;
		uint32_t hi = be32(fan + 4 * oid->id[0]);

		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			int c = memcmp(names + (size_t)mid * 20, oid->id, 20);
			if (c == 0) {
				const unsigned char *offs = names + (size_t)p->n * 24;
				uint32_t o = be32(offs + (size_t)mid * 4);
				if (o & 0x80000000u) {
					const unsigned char *big =
					    offs + (size_t)p->n * 4 + (size_t)(o & 0x7fffffffu) * 8;
					if (big + 8 > p->idx + p->idx_len)
						return -1;
					*off = (off_t)((uint64_t)be32(big) << 32 | be32(big + 4));
				} else {
					*off = (off_t)o;
				}
				*pack = p;
				return 0;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return -1;
}

static int inflate_some(struct odb_reader *r, unsigned char *out, size_t len, size_t *got)
{
	r->z.next_out = out;
	r->z.avail_out = (uInt)len;
	while (r->z.avail_out > 0 && !r->zend) {
		int zr;
		if (r->z.avail_in == 0) {
			ssize_t n = pread(r->fd, r->in, r->want, r->pos);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return kiln_error_set(KILN_ERROR, "cannot read object '%s': %s",
				                      r->path,
				                      n < 0 ? strerror(errno) : "truncated");
			r->pos += n;
			r->z.next_in = r->in;
			r->z.avail_in = (uInt)n;
			r->want = CHUNK;
		}
		zr = inflate(&r->z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			r->zend = 1;
		else if (zr != Z_OK)
			return kiln_error_set(KILN_ERROR, "object '%s' is corrupt: %s", r->path,
			                      r->z.msg != NULL ? r->z.msg : "inflate failed");
	}
	*got = len - r->z.avail_out;
	return 0;
}

static int loose_open(struct odb_reader *r, const char *hex, uint64_t *size)
{
	char *file = kiln_xasprintf("%s/%.2s/%s", r->objdir, hex, hex + 2);
	char hdr[64];
	size_t n = 0, got;
	int error = 0;

	r->fd = open(file, O_RDONLY | O_CLOEXEC);
	free(file);
	if (r->fd < 0)
		return KILN_ENOTFOUND;
	r->own_fd = 1;
	/* "blob <size>\0", inflated a byte at a time so no content is consumed. */
	while (n < sizeof(hdr)) {
		error = inflate_some(r, (unsigned char *)hdr + n, 1, &got);
		if (error < 0)
			return error;
		if (got == 0)
			break;
		if (hdr[n++] == '\0')
			break;
	}
	if (n == 0 || hdr[n - 1] != '\0' || strncmp(hdr, "blob ", 5) != 0)
		return kiln_error_set(KILN_ERROR, "object '%s' is not a blob", r->path);
	*size = strtoull(hdr + 5, NULL, 10);
	return 0;
}

/* Open blob `oid` for reading; *size is its length. */
static int blob_open(struct odb_reader *r, const git_oid *oid, const char *path, uint64_t *size)
{
	char hex[GIT_OID_HEXSZ + 1];
	struct pack *pack;
	off_t off;
	unsigned char hdr[32];
	ssize_t n;
	int error, i, type;
	unsigned shift;

	r->path = path;
	r->zend = 0;
	r->left = 0;
	/* One inflate state for all blobs: reset, not reallocated, per blob. */
	if (!r->zinit) {
		memset(&r->z, 0, sizeof(r->z));
		if (inflateInit(&r->z) != Z_OK)
			kiln_die("out of memory");
		r->zinit = 1;
	} else if (inflateReset(&r->z) != Z_OK) {
		kiln_die("inflateReset failed");
	}
	r->z.avail_in = 0;
	r->want = CHUNK;
	r->pos = 0;
	git_oid_tostr(hex, sizeof(hex), oid);
	if (pack_find(r, oid, &pack, &off) == 0) {
		n = pread(pack->fd, hdr, sizeof(hdr), off);
		if (n <= 0)
			goto whole;
		type = (hdr[0] >> 4) & 7;
		*size = hdr[0] & 15;
		for (i = 1, shift = 4; hdr[i - 1] & 0x80; i++, shift += 7) {
			if (i >= n || shift > 57)
				goto whole;
			*size |= (uint64_t)(hdr[i] & 0x7f) << shift;
		}
		if (type != GIT_OBJECT_BLOB)
			goto whole; /* a delta: libgit2 resolves it */
		r->fd = pack->fd;
		r->pos = off + i;
		/* Small objects: read about their size, not a whole CHUNK. */
		r->want = *size + (*size >> 8) + 64 < CHUNK ? *size + (*size >> 8) + 64 : CHUNK;
		r->left = *size;
		return 0;
	}
	error = loose_open(r, hex, size);
	if (error == 0)
		r->left = *size;
	if (error != KILN_ENOTFOUND)
		return error;
whole:
	blob_close(r);
	error = git_odb_read(&r->whole, r->odb, oid);
	if (error < 0)
		return git_fail(error, "cannot read '%s'", path);
	if (git_odb_object_type(r->whole) != GIT_OBJECT_BLOB)
		return kiln_error_set(KILN_ERROR, "object '%s' is not a blob", path);
	r->data = git_odb_object_data(r->whole);
	*size = r->left = git_odb_object_size(r->whole);
	return 0;
}

/* Up to `len` bytes of the open blob; 0 at its end, after checking it ends there. */
static int blob_read(struct odb_reader *r, unsigned char *out, size_t len, size_t *got)
{
	unsigned char extra;
	size_t n;
	int error;

	*got = 0;
	if (len > r->left)
		len = (size_t)r->left;
	if (r->data != NULL) {
		memcpy(out, r->data, len);
		r->data += len;
		r->left -= len;
		*got = len;
		return 0;
	}
	if (len > 0) {
		error = inflate_some(r, out, len, got);
		if (error < 0)
			return error;
		if (*got == 0)
			return kiln_error_set(KILN_ERROR, "object '%s' is shorter than its header",
			                      r->path);
		r->left -= *got;
		return 0;
	}
	/* Drive zlib to the end of the stream, which verifies its checksum. */
	while (!r->zend) {
		error = inflate_some(r, &extra, 1, &n);
		if (error < 0)
			return error;
		if (n != 0)
			return kiln_error_set(KILN_ERROR, "object '%s' is longer than its header",
			                      r->path);
	}
	return 0;
}

/* ---- the tree ---- */

struct entry {
	const char *path; /* directories end in '/', as in the archive */
	git_filemode_t mode;
	git_oid oid;
};

/* ---- compressing and writing: threads behind the producer ---- */

/*
 * Compressing is the slowest step, so the tar stream is cut into frames of
 * FRAME bytes, each compressed on its own as one zstd frame (a .zst file may
 * hold any number of them). The cut points and the level are fixed, so the
 * output depends only on the input, never on the number of threads or their
 * timing. Two compressor threads take frames in turn while the caller's
 * thread inflates blobs and formats the tar, and a writer thread writes the
 * frames in order and hashes them. Frames cost little in ratio at this size
 * (level 3 looks back 2 MiB at most); memory stays bounded by NSLOT frames.
 */
#define FRAME (2 * 1024 * 1024)
#define NSLOT 4
#define NCOMP 2

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_BUSY, SLOT_DONE };

struct slot {
	unsigned char *in, *out;
	size_t in_len, out_len;
	uint64_t frame;
	enum slot_state state;
};

struct zpipe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t comp[NCOMP], writer;
	struct slot slot[NSLOT];
	size_t out_cap;
	struct slot *cur;    /* the producer's */
	uint64_t next_fill;  /* the frame being filled */
	uint64_t next_comp;  /* the next frame for a compressor */
	uint64_t next_write; /* the next frame to write */
	uint64_t nframes;    /* known at the end; UINT64_MAX until then */
	int abort, failed;
	char errmsg[256];
	int fd;
	uint64_t size;
	EVP_MD_CTX *sha;
};

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int zpipe_stopping(const struct zpipe *p)
{
	return p->abort || p->failed;
}

static void zpipe_fail(struct zpipe *p, const char *msg)
{
	pthread_mutex_lock(&p->mu);
	if (!p->failed)
		snprintf(p->errmsg, sizeof(p->errmsg), "%s", msg);
	p->failed = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Hand the producer's frame over; take the next slot unless at the end. */
static int zpipe_submit(struct zpipe *p, int eof)
{
	struct slot *s;
	int stop;

	pthread_mutex_lock(&p->mu);
	if (p->cur->in_len > 0) {
		p->cur->state = SLOT_READY;
		p->next_fill++;
	} else {
		p->cur->state = SLOT_FREE;
	}
	if (eof)
		p->nframes = p->next_fill;
	pthread_cond_broadcast(&p->cv);
	s = &p->slot[p->next_fill % NSLOT];
	while (!eof && s->state != SLOT_FREE && !zpipe_stopping(p))
		pthread_cond_wait(&p->cv, &p->mu);
	stop = zpipe_stopping(p);
	if (!eof && !stop) {
		s->state = SLOT_FILLING;
		s->frame = p->next_fill;
		s->in_len = 0;
		p->cur = s;
	}
	pthread_mutex_unlock(&p->mu);
	return stop ? -1 : 0;
}

static void *zpipe_compress(void *arg)
{
	struct zpipe *p = arg;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();

	if (cctx == NULL)
		kiln_die("out of memory");
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	for (;;) {
		struct slot *s;
		size_t r;

		pthread_mutex_lock(&p->mu);
		while (!zpipe_stopping(p) && p->next_comp >= p->next_fill &&
		       p->next_comp < p->nframes)
			pthread_cond_wait(&p->cv, &p->mu);
		if (zpipe_stopping(p) || p->next_comp >= p->nframes) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		s = &p->slot[p->next_comp % NSLOT];
		p->next_comp++;
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&p->mu);

		r = ZSTD_compress2(cctx, s->out, p->out_cap, s->in, s->in_len);
		if (ZSTD_isError(r)) {
			zpipe_fail(p, ZSTD_getErrorName(r));
			break;
		}
		pthread_mutex_lock(&p->mu);
		s->out_len = r;
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	ZSTD_freeCCtx(cctx);
	return NULL;
}

static void *zpipe_write(void *arg)
{
	struct zpipe *p = arg;

	for (;;) {
		struct slot *s;

		pthread_mutex_lock(&p->mu);
		s = &p->slot[p->next_write % NSLOT];
		while (!zpipe_stopping(p) && p->next_write < p->nframes &&
		       !(s->state == SLOT_DONE && s->frame == p->next_write))
			pthread_cond_wait(&p->cv, &p->mu);
		if (zpipe_stopping(p) || p->next_write >= p->nframes) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		pthread_mutex_unlock(&p->mu);

		if (write_all(p->fd, s->out, s->out_len) < 0) {
			zpipe_fail(p, strerror(errno));
			break;
		}
		EVP_DigestUpdate(p->sha, s->out, s->out_len);
		p->size += s->out_len;

		pthread_mutex_lock(&p->mu);
		s->state = SLOT_FREE;
		p->next_write++;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

/* libarchive's output: into the producer's frame. */
static la_ssize_t zpipe_archive_write(struct archive *a, void *arg, const void *buf, size_t len)
{
	struct zpipe *p = arg;
	const unsigned char *c = buf;
	size_t left = len;

	while (left > 0) {
		struct slot *s = p->cur;
		size_t n = FRAME - s->in_len < left ? FRAME - s->in_len : left;

		memcpy(s->in + s->in_len, c, n);
		s->in_len += n;
		c += n;
		left -= n;
		if (s->in_len == FRAME && zpipe_submit(p, 0) < 0) {
			archive_set_error(a, EIO, "%s", p->errmsg);
			return -1;
		}
	}
	return (la_ssize_t)len;
}

static void zpipe_init(struct zpipe *p)
{
	int i;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->nframes = UINT64_MAX;
	p->out_cap = ZSTD_compressBound(FRAME);
	for (i = 0; i < NSLOT; i++) {
		p->slot[i].in = kiln_xmalloc(FRAME);
		p->slot[i].out = kiln_xmalloc(p->out_cap);
	}
	p->cur = &p->slot[0];
	p->cur->state = SLOT_FILLING;
	p->sha = EVP_MD_CTX_new();
	if (p->sha == NULL || EVP_DigestInit_ex(p->sha, EVP_sha256(), NULL) != 1)
		kiln_die("out of memory");
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
}

static void zpipe_start(struct zpipe *p)
{
	int i;

	for (i = 0; i < NCOMP; i++)
		if (pthread_create(&p->comp[i], NULL, zpipe_compress, p) != 0)
			kiln_die("cannot start a thread");
	if (pthread_create(&p->writer, NULL, zpipe_write, p) != 0)
		kiln_die("cannot start a thread");
}

/* Wait for the threads: after the last frame, or at once with `abort`. */
static void zpipe_join(struct zpipe *p, int abort)
{
	int i;

	if (abort) {
		pthread_mutex_lock(&p->mu);
		p->abort = 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	for (i = 0; i < NCOMP; i++)
		pthread_join(p->comp[i], NULL);
	pthread_join(p->writer, NULL);
}

static void zpipe_release(struct zpipe *p)
{
	int i;

	for (i = 0; i < NSLOT; i++) {
		free(p->slot[i].in);
		free(p->slot[i].out);
	}
	EVP_MD_CTX_free(p->sha);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	if (p->fd >= 0)
		close(p->fd);
}

/* ---- writing the archive ---- */

static int write_entry(struct archive *a, struct archive_entry *ae, struct odb_reader *r,
                       const struct entry *e, int64_t mtime, unsigned char *buf)
{
	uint64_t size = 0;
	size_t got;
	int error;

	archive_entry_clear(ae);
	archive_entry_set_pathname(ae, e->path);
	archive_entry_set_uid(ae, 0);
	archive_entry_set_gid(ae, 0);
	archive_entry_set_uname(ae, "root");
	archive_entry_set_gname(ae, "root");
	archive_entry_set_mtime(ae, (time_t)mtime, 0);
	switch (e->mode) {
	case GIT_FILEMODE_TREE:
		archive_entry_set_filetype(ae, AE_IFDIR);
		archive_entry_set_perm(ae, 0755);
		break;
	case GIT_FILEMODE_LINK: {
		char target[MAX_LINK + 1];
		size_t len = 0;
		error = blob_open(r, &e->oid, e->path, &size);
		if (error < 0)
			return error;
		if (size > MAX_LINK) {
			blob_close(r);
			return kiln_error_set(KILN_EINVAL, "symlink '%s' has a target too long",
			                      e->path);
		}
		while (len < size) {
			error =
			    blob_read(r, (unsigned char *)target + len, (size_t)size - len, &got);
			if (error < 0)
				return error;
			len += got;
		}
		error = blob_read(r, (unsigned char *)target, 0, &got);
		blob_close(r);
		if (error < 0)
			return error;
		target[len] = '\0';
		if (strlen(target) != len)
			return kiln_error_set(KILN_EINVAL, "symlink '%s' has a NUL in its target",
			                      e->path);
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_set_perm(ae, 0777);
		archive_entry_set_symlink(ae, target);
		size = 0;
		break;
	}
	default:
		error = blob_open(r, &e->oid, e->path, &size);
		if (error < 0)
			return error;
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, e->mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644);
		archive_entry_set_size(ae, (la_int64_t)size);
		break;
	}
	if (archive_write_header(a, ae) != ARCHIVE_OK)
		return kiln_error_set(KILN_ERROR, "cannot archive '%s': %s", e->path,
		                      archive_error_string(a));
	if (archive_entry_filetype(ae) != AE_IFREG)
		return 0;
	for (;;) {
		error = blob_read(r, buf, CHUNK, &got);
		if (error < 0)
			return error;
		if (got == 0)
			break;
		if (archive_write_data(a, buf, got) != (la_ssize_t)got)
			return kiln_error_set(KILN_ERROR, "cannot archive '%s': %s", e->path,
			                      archive_error_string(a));
	}
	blob_close(r);
	return 0;
}

static int open_tree(git_tree **out, int64_t *mtime, git_repository *repo, const char *commit_hex,
                     const char *subdir)
{
	git_oid oid;
	git_commit *commit = NULL;
	git_tree *root = NULL;
	git_tree_entry *te = NULL;
	char *sub = NULL;
	int error;

	*out = NULL;
	if (git_oid_fromstr(&oid, commit_hex) < 0)
		return kiln_error_set(KILN_EINVAL, "'%s' is not a commit id", commit_hex);
	error = git_commit_lookup(&commit, repo, &oid);
	if (error < 0)
		return git_fail(error, "cannot read commit %s", commit_hex);
	*mtime = git_commit_time(commit);
	error = git_commit_tree(&root, commit);
	if (error < 0) {
		error = git_fail(error, "cannot read the tree of %s", commit_hex);
		goto done;
	}
	if (subdir == NULL) {
		*out = root;
		root = NULL;
		goto done;
	}
	/* "./etc/" and "etc" name the same subtree. */
	while (strncmp(subdir, "./", 2) == 0)
		subdir += 2;
	sub = kiln_xstrdup(subdir);
	while (strlen(sub) > 0 && sub[strlen(sub) - 1] == '/')
		sub[strlen(sub) - 1] = '\0';
	if (sub[0] == '\0' || strcmp(sub, ".") == 0) {
		*out = root;
		root = NULL;
		goto done;
	}
	error = git_tree_entry_bypath(&te, root, sub);
	if (error < 0 || git_tree_entry_type(te) != GIT_OBJECT_TREE) {
		error = kiln_error_set(KILN_EINVAL, "path '%s' is not a directory at commit %s",
		                       subdir, commit_hex);
		goto done;
	}
	error = git_tree_lookup(out, repo, git_tree_entry_id(te));
	if (error < 0)
		error = git_fail(error, "cannot read '%s'", subdir);
done:
	git_tree_entry_free(te);
	git_tree_free(root);
	git_commit_free(commit);
	free(sub);
	return error;
}

/*
 * Git sorts a tree's entries by name, a directory as if its name ended in
 * '/', so a depth-first walk visits paths in bytewise order of the archive
 * paths: the archive streams out while the tree is read. Each path is still
 * checked against the one before, so a malformed tree cannot change the
 * order silently.
 */
struct walk {
	struct archive *a;
	struct archive_entry *ae;
	struct odb_reader r;
	git_repository *repo;
	unsigned char *buf;
	int64_t mtime;
	struct kiln_buf prev;
	struct kiln_buf path;
};

static int walk_tree(struct walk *w, const git_tree *tree, int depth)
{
	size_t i, count = git_tree_entrycount(tree), base = w->path.size;
	int error = 0;

	if (depth > MAX_TREE_DEPTH)
		return kiln_error_set(KILN_EINVAL, "directory '%s' is nested too deeply",
		                      w->path.ptr);
	for (i = 0; i < count && error == 0; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(te);
		struct entry e = {NULL, git_tree_entry_filemode(te), *git_tree_entry_id(te)};

		kiln_buf_truncate(&w->path, base);
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/') ||
		    name[0] == '\0')
			return kiln_error_set(KILN_EINVAL, "bad name '%s' in directory '%s'", name,
			                      w->path.ptr);
		if (kiln_buf_puts(&w->path, name) < 0 ||
		    (e.mode == GIT_FILEMODE_TREE && kiln_buf_putc(&w->path, '/') < 0))
			return KILN_ETOOBIG;
		if (e.mode == GIT_FILEMODE_COMMIT)
			return kiln_error_set(
			    KILN_EINVAL, "'%s' is a submodule: layers do not follow submodules",
			    w->path.ptr);
		if (w->prev.size > 0 && strcmp(w->prev.ptr, w->path.ptr) >= 0)
			return kiln_error_set(KILN_EINVAL, "tree is not sorted at '%s'",
			                      w->path.ptr);
		kiln_buf_clear(&w->prev);
		kiln_buf_put(&w->prev, w->path.ptr, w->path.size);
		e.path = w->path.ptr;
		error = write_entry(w->a, w->ae, &w->r, &e, w->mtime, w->buf);
		if (error == 0 && e.mode == GIT_FILEMODE_TREE) {
			git_tree *sub = NULL;
			error = git_tree_lookup(&sub, w->repo, &e.oid);
			if (error < 0)
				error = git_fail(error, "cannot read directory '%s'", w->path.ptr);
			else
				error = walk_tree(w, sub, depth + 1);
			git_tree_free(sub);
		}
	}
	kiln_buf_truncate(&w->path, base);
	return error;
}

static int write_archive(struct zpipe *p, git_repository *repo, const git_tree *tree, int64_t mtime)
{
	struct walk w;
	/*
	 * libarchive converts names through the thread's locale: pin it, so
	 * that paths are written as the UTF-8 bytes git holds whatever the
	 * caller's locale (names that are not UTF-8 get hdrcharset=BINARY).
	 */
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0), old = (locale_t)0;
	int error;

	memset(&w, 0, sizeof(w));
	w.a = archive_write_new();
	w.ae = archive_entry_new();
	w.repo = repo;
	w.buf = kiln_xmalloc(CHUNK);
	w.mtime = mtime;
	w.r.fd = -1;
	kiln_buf_init(&w.prev, 1 << 20);
	kiln_buf_init(&w.path, 1 << 20);
	if (w.a == NULL || w.ae == NULL)
		kiln_die("out of memory");
	if (utf8 == (locale_t)0) {
		error = kiln_error_set(KILN_ERROR, "the C.UTF-8 locale is missing");
		goto done;
	}
	old = uselocale(utf8);
	error = reader_init(&w.r, repo);
	if (error < 0)
		goto done;
	/*
	 * pax: plain ustar headers, plus an extended header only where ustar
	 * falls short (long or non-ASCII paths, big files), whose content
	 * depends on the entry alone; GNU tar and busybox read it.
	 */
	/* No 10240-byte blocking: frames are our blocks, tar needs only 512. */
	if (archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w.a, 0) != ARCHIVE_OK ||
	    archive_write_open(w.a, p, NULL, zpipe_archive_write, NULL) != ARCHIVE_OK) {
		error = kiln_error_set(KILN_ERROR, "cannot start the archive: %s",
		                       archive_error_string(w.a));
		goto done;
	}
	error = walk_tree(&w, tree, 0);
	if (error < 0)
		goto done;
	if (archive_write_close(w.a) != ARCHIVE_OK) {
		error = kiln_error_set(KILN_ERROR, "cannot finish the archive: %s",
		                       archive_error_string(w.a));
		goto done;
	}
	error = 0;
done:
	reader_release(&w.r);
	archive_entry_free(w.ae);
	archive_write_free(w.a);
	if (utf8 != (locale_t)0) {
		uselocale(old);
		freelocale(utf8);
	}
	kiln_buf_release(&w.prev);
	kiln_buf_release(&w.path);
	free(w.buf);
	return error;
}

static int fsync_dir(const char *file)
{
	char *dir = kiln_path_dirname(file);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), error = 0;

	if (fd < 0 || fsync(fd) != 0)
		error = -1;
	if (fd >= 0)
		close(fd);
	free(dir);
	return error;
}

int kiln_layer_pack_commit(uint64_t *size_out, char sha256_out[65], const char *repo_path,
                           const char *commit, const char *subdir, const char *archive_path)
{
	git_repository *repo = NULL;
	git_tree *tree = NULL;
	struct zpipe p;
	char *tmp = NULL;
	unsigned char md[32];
	int64_t mtime = 0;
	int error;

	KILN_ASSERT_ARG(size_out != NULL && sha256_out != NULL && repo_path != NULL &&
	                commit != NULL && archive_path != NULL);
	pthread_once(&git_once, git_setup);
	zpipe_init(&p);
	error = git_repository_open(&repo, repo_path);
	if (error < 0) {
		error = git_fail(error, "cannot open '%s'", repo_path);
		goto done;
	}
	error = open_tree(&tree, &mtime, repo, commit, subdir);
	if (error < 0)
		goto done;
	tmp = kiln_xasprintf("%s.tmp-XXXXXX", archive_path);
	p.fd = mkostemp(tmp, O_CLOEXEC);
	if (p.fd < 0 || fchmod(p.fd, 0644) != 0) {
		error = kiln_error_set(KILN_ERROR, "cannot create '%s': %s", tmp, strerror(errno));
		goto done;
	}
	zpipe_start(&p);
	error = write_archive(&p, repo, tree, mtime);
	if (error == 0)
		zpipe_submit(&p, 1);
	zpipe_join(&p, error < 0);
	if (error == 0 && p.failed)
		error = kiln_error_set(KILN_ERROR, "cannot write '%s': %s", archive_path, p.errmsg);
	if (error < 0)
		goto done;
	if (fsync(p.fd) != 0 || close(p.fd) != 0) {
		p.fd = -1;
		error = kiln_error_set(KILN_ERROR, "cannot write '%s': %s", tmp, strerror(errno));
		goto done;
	}
	p.fd = -1;
	if (rename(tmp, archive_path) != 0) {
		error = kiln_error_set(KILN_ERROR, "cannot rename '%s': %s", tmp, strerror(errno));
		goto done;
	}
	fsync_dir(archive_path);
	free(tmp);
	tmp = NULL;
	EVP_DigestFinal_ex(p.sha, md, NULL);
	kiln_hex(sha256_out, md, sizeof(md));
	*size_out = p.size;
done:
	zpipe_release(&p);
	if (tmp != NULL)
		unlink(tmp);
	git_tree_free(tree);
	git_repository_free(repo);
	free(tmp);
	return error;
}

int kiln_layer_pack(struct kiln_layer *layer, const char *out_dir)
{
	char *cache = NULL, *dir = NULL, *file = NULL;
	int error;

	KILN_ASSERT_ARG(layer != NULL && layer->mirror != NULL && layer->commit[0] != '\0');
	if (out_dir == NULL) {
		error = kiln_layer_cache_dir(&cache);
		if (error < 0)
			goto done;
		dir = kiln_path_join(cache, "layers");
	} else {
		dir = kiln_xstrdup(out_dir);
	}
	error = kiln_mkdir_p(dir, 0755);
	if (error < 0)
		goto done;
	file = kiln_xasprintf("%s/%s-%.12s.tar.zst", dir, layer->name, layer->commit);
	error = kiln_layer_pack_commit(&layer->size, layer->sha256, layer->mirror, layer->commit,
	                               layer->subdir, file);
	if (error < 0) {
		kiln_error_prefix(error, "layer '%s'", layer->name);
		goto done;
	}
	free(layer->archive);
	layer->archive = file;
	file = NULL;
	kiln_log_debug("layer '%s': %s (%llu bytes, sha256 %s)", layer->name, layer->archive,
	               (unsigned long long)layer->size, layer->sha256);
done:
	free(file);
	free(dir);
	free(cache);
	return error;
}

#if defined(__SANITIZE_ADDRESS__)
/*
 * libgit2 1.5 leaks PCRE2 match data whenever a config regex does not match
 * (remote lookups hit it); not ours to free. (Its ssh transport also leaks
 * a few bytes per connection, which only a full unwind could single out.)
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libpcre2-8.so\n";
}
#endif
