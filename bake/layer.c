#include "bake/layer.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include "bake/layer-int.h"
#include "core/paths.h"
#include "core/lock.h"

/* Another kiln fetching the same repository: wait for it, up to this long. */
#define MIRROR_LOCK_WAIT 900.0

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

void kiln_layer__git_setup(void)
{
	pthread_once(&git_once, git_setup);
}

/* Convert libgit2's error into ours, keeping its message. */
int kiln_layer__git_fail(int gerr, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	char *ctx, *msg;
	va_list ap;
	int code = KILN_ERROR;

	if (gerr == GIT_EAUTH || gerr == GIT_ECERTIFICATE)
		code = KILN_EAUTH;
	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		kiln_die("out of memory");
	va_end(ap);
	/* libgit2's message may quote a remote server (ERR packets, HTTP bodies). */
	msg = kiln_escape(e != NULL && e->message != NULL ? e->message : "unknown libgit2 error");
	kiln_error_set(code, "%s: %s", ctx, msg);
	free(ctx);
	free(msg);
	return code;
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
	for (size_t i = 0; i < layer->nprovision; i++) {
		free(layer->provision[i]);
		free(layer->provision_at[i]);
	}
	free(layer->provision);
	free(layer->provision_at);
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
		error = kiln_layer__git_fail(error, "cannot clone '%s'", url);
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
		error = kiln_layer__git_fail(error, "cannot open '%s'", mirror);
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
		error = kiln_layer__git_fail(error, "broken cache for '%s'", url);
		goto done;
	}
	kiln_log_info("fetching '%s'", url);
	error = git_remote_fetch(remote, NULL, &fo, "kiln fetch");
	if (error < 0)
		error = kiln_layer__git_fail(error, "cannot fetch '%s'", url);
done:
	git_remote_free(remote);
	return error;
}

static int is_commit_id(const char *s)
{
	return strlen(s) == 40 && strspn(s, "0123456789abcdefABCDEF") == 40;
}

static int ref_exists(git_repository *repo, const char *name);

/* The mirror has `tag` (a caller that fetched it just now trusts it as it is). */
static int has_tag(git_repository *repo, const char *tag)
{
	char *name;
	int found;

	if (strncmp(tag, "refs/tags/", 10) == 0)
		tag += 10;
	name = kiln_xasprintf("refs/tags/%s", tag);
	found = ref_exists(repo, name);
	free(name);
	return found;
}

/*
 * Open (cloning or fetching as needed) the cache's mirror of `url`. With
 * `reuse_tag`, a mirror that has that tag already is used without a fetch.
 */
static int mirror_open(git_repository **out, const char *mirror, const char *url,
                       const char *commit, const char *reuse_tag)
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
		return kiln_layer__git_fail(error, "cannot open the cache '%s'", mirror);
	/* A commit never changes: when we have it, there is nothing to fetch. */
	if (reuse_tag != NULL && has_tag(*out, reuse_tag))
		return 0;
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
		else if (strlen(tag) >= 4 && strlen(tag) < 40 &&
		         strspn(tag, "0123456789abcdefABCDEF") == strlen(tag))
			error =
			    kiln_error_set(KILN_EINVAL,
			                   "layer '%s': tag '%s' not found in '%s' (a commit id "
			                   "must have all 40 hex digits)",
			                   layer->name, layer->ref, layer->repo);
		else
			error =
			    kiln_error_set(KILN_EINVAL, "layer '%s': tag '%s' not found in '%s'",
			                   layer->name, layer->ref, layer->repo);
		goto done;
	}
	if (error < 0) {
		error = kiln_layer__git_fail(error, "layer '%s': cannot read tag '%s'", layer->name,
		                             tag);
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

	/* Tracking: the ref is the newest matching tag, found once the mirror is fetched. */
	if (ref == NULL && spec->track != NULL)
		return 0;
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
	return kiln_layer_resolve_in(out, spec, cache_dir, 0);
}

/* The layer's copy of what its spec says (its URL, mirror and commit come later). */
static struct kiln_layer *layer_from_spec(const struct kiln_layer_spec *spec)
{
	struct kiln_layer *layer = kiln_xcalloc(1, sizeof(*layer));

	layer->name = kiln_xstrdup(spec->name);
	layer->repo = kiln_xstrdup(spec->repo);
	layer->ref = spec->ref != NULL ? kiln_xstrdup(spec->ref) : NULL;
	layer->subdir = spec->path != NULL ? kiln_xstrdup(spec->path) : NULL;
	layer->nprovision = spec->nprovision;
	layer->provision = kiln_xcalloc(spec->nprovision + 1, sizeof(char *));
	layer->provision_at = kiln_xcalloc(spec->nprovision + 1, sizeof(char *));
	for (size_t i = 0; i < spec->nprovision; i++) {
		layer->provision[i] = kiln_xstrdup(spec->provision[i]);
		if (spec->provision_at != NULL && spec->provision_at[i] != NULL)
			layer->provision_at[i] = kiln_xstrdup(spec->provision_at[i]);
	}
	return layer;
}

int kiln_layer_resolve_in(struct kiln_layer **out, const struct kiln_layer_spec *spec,
                          const char *cache_dir, int reuse_mirror)
{
	struct kiln_layer *layer = NULL;
	git_repository *repo = NULL;
	char *cache = NULL, *repos = NULL, *lockfile = NULL;
	struct kiln_lock lock = KILN_LOCK_INIT;
	char hash[65];
	int error;

	KILN_ASSERT_ARG(out != NULL && spec != NULL && spec->name != NULL && spec->repo != NULL);
	*out = NULL;
	kiln_layer__git_setup();
	error = check_ref(spec);
	if (error < 0)
		goto done;
	layer = layer_from_spec(spec);
	error = local_url(&layer->url, spec->name,
	                  spec->repo_url != NULL ? spec->repo_url : spec->repo);
	if (error < 0)
		goto done;
	if (layer->url == NULL)
		layer->url = kiln_xstrdup(spec->repo_url != NULL ? spec->repo_url : spec->repo);
	if (cache_dir == NULL) {
		error = kiln_paths_cache(&cache);
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
	lockfile = kiln_xasprintf("%s.lock", layer->mirror);
	error = kiln_lock_acquire(&lock, lockfile, MIRROR_LOCK_WAIT, NULL);
	if (error < 0) {
		kiln_error_prefix(error, "layer '%s'", layer->name);
		goto done;
	}
	/* a tracking layer (no ref yet) fetches: its newest tag may be new */
	error = mirror_open(
	    &repo, layer->mirror, layer->url,
	    layer->ref != NULL && is_commit_id(layer->ref) ? layer->ref : NULL,
	    reuse_mirror && layer->ref != NULL && !is_commit_id(layer->ref) ? layer->ref : NULL);
	if (error < 0) {
		kiln_error_prefix(error, "layer '%s'", layer->name);
		goto done;
	}
	if (layer->ref == NULL) {
		error = kiln_layer__newest_tag(&layer->ref, repo, spec->track, layer->name);
		if (error < 0)
			goto done;
	}
	error = resolve_ref(layer, repo);
	if (error < 0)
		goto done;
	kiln_log_debug("layer '%s': %s is commit %s", layer->name, layer->ref, layer->commit);
	*out = layer;
	layer = NULL;
done:
	kiln_lock_release(&lock);
	git_repository_free(repo);
	kiln_layer_free(layer);
	free(lockfile);
	free(repos);
	free(cache);
	return error;
}

/* ---- provisioners, checked against the tree ---- */

/* `path` without empty and "." components, which name the same place for the shell. */
static char *normalise(const char *path)
{
	struct kiln_buf out = KILN_BUF_INIT;
	const char *p = path;

	while (*p != '\0') {
		size_t n = strcspn(p, "/");
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (out.size > 0)
				kiln_buf_putc(&out, '/');
			kiln_buf_put(&out, p, n);
		}
		p += n;
		if (*p == '/')
			p++;
	}
	return kiln_buf_detach(&out);
}

/*
 * Why `path` is not a file of `root` that the builder can run, or NULL. Each
 * component is looked up in turn, so that the message names the one that is
 * wrong.
 */
static char *provision_problem(git_repository *repo, const git_tree *root, const char *path)
{
	char *norm = normalise(path), *name = norm, *slash, *why = NULL;
	const git_tree *cur = root;
	git_tree *owned = NULL;

	if (norm[0] == '\0')
		why = kiln_xasprintf("is the layer's own directory, not a file");
	while (why == NULL) {
		const git_tree_entry *te;
		git_filemode_t mode;
		git_tree *sub = NULL;

		slash = strchr(name, '/');
		if (slash != NULL)
			*slash = '\0';
		te = git_tree_entry_byname(cur, name);
		mode = te != NULL ? git_tree_entry_filemode(te) : GIT_FILEMODE_UNREADABLE;
		if (te == NULL)
			why = kiln_xasprintf("is not in the layer");
		else if (slash == NULL && mode != GIT_FILEMODE_BLOB &&
		         mode != GIT_FILEMODE_BLOB_EXECUTABLE)
			why = kiln_xasprintf("is %s, not a file", kiln_layer__kind(mode));
		else if (slash != NULL && mode != GIT_FILEMODE_TREE)
			why = kiln_xasprintf("is not in the layer: '%s' is %s", norm,
			                     kiln_layer__kind(mode));
		else if (slash != NULL && git_tree_lookup(&sub, repo, git_tree_entry_id(te)) < 0)
			why = kiln_xasprintf("cannot be read: %s", git_error_last()->message);
		if (why != NULL || slash == NULL)
			break;
		git_tree_free(owned);
		owned = sub;
		cur = sub;
		*slash = '/';
		name = slash + 1;
	}
	git_tree_free(owned);
	free(norm);
	return why;
}

/* Every provisioner is a file in the layer's tree: found now, not on a builder. */
static int check_provisioners(const struct kiln_layer *layer)
{
	git_repository *repo = NULL;
	git_tree *tree = NULL;
	int64_t mtime;
	size_t i;
	int error;

	if (layer->nprovision == 0)
		return 0;
	error = git_repository_open_bare(&repo, layer->mirror);
	if (error < 0)
		return kiln_layer__git_fail(error, "layer '%s': cannot open '%s'", layer->name,
		                            layer->mirror);
	error = kiln_layer__open_tree(&tree, &mtime, repo, layer->commit, layer->subdir);
	if (error < 0) {
		kiln_error_prefix(error, "layer '%s'", layer->name);
		goto done;
	}
	for (i = 0; i < layer->nprovision && error == 0; i++) {
		char *why = provision_problem(repo, tree, layer->provision[i]);
		char *shown;

		if (why == NULL)
			continue;
		shown = kiln_escape(layer->provision[i]);
		if (layer->provision_at[i] != NULL)
			error = kiln_error_set(
			    KILN_EINVAL, "%s: layers.%s.provision[%zu]: '%s' %s (%s at %.12s)",
			    layer->provision_at[i], layer->name, i, shown, why, layer->ref,
			    layer->commit);
		else
			error = kiln_error_set(KILN_EINVAL,
			                       "layer '%s': provisioner '%s' %s (%s at %.12s)",
			                       layer->name, shown, why, layer->ref, layer->commit);
		free(shown);
		free(why);
	}
done:
	git_tree_free(tree);
	git_repository_free(repo);
	return error;
}

int kiln_layer_pack(struct kiln_layer *layer, const char *out_dir)
{
	char *cache = NULL, *dir = NULL, *file = NULL;
	int error;

	KILN_ASSERT_ARG(layer != NULL && layer->mirror != NULL && layer->commit[0] != '\0');
	error = check_provisioners(layer);
	if (error < 0)
		return error;
	if (out_dir == NULL) {
		error = kiln_paths_cache(&cache);
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
