/*
 * The world: every profile of a directory and the graph of their "after"
 * lists; after a rebuild, what became of each (rebuild.c runs it, drill.c
 * gives it a cloud of its own).
 */
#include "pipelines/world-int.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/utf8.h"
#include "core/util.h"

/* Past this many profiles a directory is not a world but a mistake. */
#define WORLD_MAX_PROFILES 1000

static const char *const state_names[] = {
    [W_PENDING] = "pending",   [W_BAKING] = "pending", [W_BAKED] = "pending",
    [W_DEPLOYING] = "pending", [W_LIVE] = "live",      [W_FAILED] = "failed",
    [W_SKIPPED] = "skipped",
};

static int is_profile_file(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return de->d_name[0] != '.' && n > 5 && strcmp(de->d_name + n - 5, ".json") == 0;
}

static void node_release(struct world_node *n)
{
	kiln_profile_free(n->profile);
	free(n->where);
	for (size_t k = 0; k < n->nafter; k++) {
		free(n->after[k]);
		free(n->after_at[k]);
	}
	free(n->after);
	free(n->after_at);
	free(n->image_id);
	free(n->url);
	free(n->reason);
	free(n->action);
}

/* The node's name position and "after" list (checked by the schema: names). */
static void node_read(struct world_node *n)
{
	const json_t *after = json_object_get(n->profile->json, "after");
	size_t k;

	n->where = kiln_profile_where(n->profile, "/name", 0);
	n->nafter = json_array_size(after);
	n->after = kiln_xcalloc(n->nafter + 1, sizeof(*n->after));
	n->after_at = kiln_xcalloc(n->nafter + 1, sizeof(*n->after_at));
	for (k = 0; k < n->nafter; k++) {
		char ptr[48];

		snprintf(ptr, sizeof(ptr), "/after/%zu", k);
		n->after[k] = kiln_xstrdup(json_string_value(json_array_get(after, k)));
		n->after_at[k] = kiln_profile_where(n->profile, ptr, 0);
	}
}

static int link_graph(struct kiln_world *w)
{
	w->graph.n = w->n;
	w->graph.v = kiln_xcalloc(w->n + 1, sizeof(*w->graph.v));
	for (size_t i = 0; i < w->n; i++) {
		struct kiln_graph_node *g = &w->graph.v[i];

		g->name = w->nodes[i].profile->name;
		g->where = w->nodes[i].where;
		g->after = (const char *const *)w->nodes[i].after;
		g->after_at = (const char *const *)w->nodes[i].after_at;
		g->nafter = w->nodes[i].nafter;
	}
	return kiln_graph_link(&w->graph);
}

/* Every profile of the list, each checked; every problem of every file kept. */
static int load_all(struct kiln_world *w, struct dirent **list, int count, const char *env)
{
	struct kiln_buf problems = KILN_BUF_INIT;
	int error = 0;

	w->nodes = kiln_xcalloc((size_t)count + 1, sizeof(*w->nodes));
	for (int i = 0; i < count; i++) {
		char *path = kiln_path_join(w->dir, list[i]->d_name);
		struct kiln_profile *p = NULL;

		if (kiln_profile_load(&p, path, env) < 0) {
			kiln_buf_printf(&problems, "%s%s", problems.size ? "\n" : "",
			                kiln_error_last());
		} else {
			w->nodes[w->n].profile = p;
			node_read(&w->nodes[w->n++]);
		}
		free(path);
	}
	if (problems.size > 0)
		error = kiln_error_set(KILN_EINVAL, "%s", problems.ptr);
	kiln_buf_release(&problems);
	return error;
}

int kiln_world_load(struct kiln_world **out, const char *dir, const char *env)
{
	struct kiln_world *w = kiln_xcalloc(1, sizeof(*w));
	struct dirent **list = NULL;
	int count, error;

	KILN_ASSERT_ARG(out != NULL && dir != NULL);
	*out = NULL;
	w->dir = kiln_xstrdup(dir);
	count = scandir(dir, &list, is_profile_file, alphasort);
	if (count < 0) {
		char *shown = kiln_escape(dir);
		error = kiln_error_set(KILN_EINVAL, "cannot read the directory '%s': %s", shown,
		                       strerror(errno));
		free(shown);
		goto done;
	}
	if (count == 0 || count > WORLD_MAX_PROFILES) {
		char *shown = kiln_escape(dir);
		error = kiln_error_set(KILN_EINVAL, "'%s': %s", shown,
		                       count == 0 ? "no profile (*.json) in the directory"
		                                  : "more than 1000 profiles");
		free(shown);
		goto done;
	}
	error = load_all(w, list, count, env);
	if (error >= 0)
		error = link_graph(w);
done:
	for (int i = 0; i < count; i++)
		free(list[i]);
	free(list);
	if (error < 0)
		kiln_world_free(w);
	else
		*out = w;
	return error;
}

size_t kiln_world_count(const struct kiln_world *w)
{
	return w->n;
}

/* Public indices follow the graph's order: each profile after those it names. */
static const struct world_node *at(const struct kiln_world *w, size_t i)
{
	KILN_ASSERT_ARG(i < w->n);
	return &w->nodes[w->graph.order[i]];
}

const char *kiln_world_name(const struct kiln_world *w, size_t i)
{
	return at(w, i)->profile->name;
}

const char *kiln_world_result(const struct kiln_world *w, size_t i)
{
	return state_names[at(w, i)->state];
}

const char *kiln_world_reason(const struct kiln_world *w, size_t i)
{
	return at(w, i)->reason;
}

double kiln_world_live_s(const struct kiln_world *w, size_t i)
{
	return at(w, i)->live_s;
}

double kiln_world_total_s(const struct kiln_world *w)
{
	return w->total_s;
}

static json_t *seconds(double s)
{
	return json_real((double)(long long)(s * 1000 + 0.5) / 1000);
}

/* A JSON string of text that may quote a server or a repository: valid, printable UTF-8. */
static json_t *text(const char *s)
{
	struct kiln_buf b = KILN_BUF_INIT;
	json_t *j;

	if (s == NULL)
		return json_null();
	kiln_utf8_escape(&b, s, strlen(s));
	j = json_string(b.ptr);
	kiln_buf_release(&b);
	return j != NULL ? j : json_string("(unprintable)");
}

static json_t *node_json(const struct world_node *n)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(n->profile->name));
	json_object_set_new(o, "image_id", text(n->image_id));
	json_object_set_new(o, "bake_s", seconds(n->bake_s));
	json_object_set_new(o, "deploy_s", seconds(n->deploy_s));
	json_object_set_new(o, "url", text(n->url));
	json_object_set_new(o, "result", json_string(state_names[n->state]));
	json_object_set_new(o, "reason", text(n->reason));
	json_object_set_new(o, "cache_hit", json_boolean(n->cache_hit));
	json_object_set_new(o, "action", text(n->action));
	json_object_set_new(o, "live_s", n->state == W_LIVE ? seconds(n->live_s) : json_null());
	return o;
}

int kiln_world_to_json(char **out, const struct kiln_world *w)
{
	json_t *doc = json_object(), *list = json_array(), *totals = json_object();
	size_t count[W_SKIPPED + 1] = {0}, hits = 0, baked = 0, deployed = 0, unchanged = 0;
	struct kiln_buf buf = KILN_BUF_INIT;
	int error;

	KILN_ASSERT_ARG(out != NULL && w != NULL);
	for (size_t i = 0; i < w->n; i++) {
		const struct world_node *n = at(w, i);

		json_array_append_new(list, node_json(n));
		count[n->state]++;
		hits += n->cache_hit;
		baked += n->baked && !n->cache_hit;
		deployed += n->action != NULL && strcmp(n->action, "unchanged") != 0;
		unchanged += n->action != NULL && strcmp(n->action, "unchanged") == 0;
	}
	json_object_set_new(totals, "profiles", json_integer((json_int_t)w->n));
	json_object_set_new(totals, "live", json_integer((json_int_t)count[W_LIVE]));
	json_object_set_new(totals, "failed", json_integer((json_int_t)count[W_FAILED]));
	json_object_set_new(totals, "skipped", json_integer((json_int_t)count[W_SKIPPED]));
	json_object_set_new(totals, "baked", json_integer((json_int_t)baked));
	json_object_set_new(totals, "cache_hits", json_integer((json_int_t)hits));
	json_object_set_new(totals, "deployed", json_integer((json_int_t)deployed));
	json_object_set_new(totals, "unchanged", json_integer((json_int_t)unchanged));
	json_object_set_new(totals, "seconds", seconds(w->total_s));
	json_object_set_new(totals, "drill", json_boolean(w->drill));
	json_object_set_new(doc, "profiles", list);
	json_object_set_new(doc, "totals", totals);
	error = kiln_json_dump(&buf, doc, 2);
	json_decref(doc);
	if (error < 0) {
		kiln_buf_release(&buf);
		return error;
	}
	*out = kiln_buf_detach(&buf);
	return 0;
}

void kiln_world_free(struct kiln_world *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->n; i++)
		node_release(&w->nodes[i]);
	kiln_graph_release(&w->graph);
	free(w->graph.v);
	free(w->nodes);
	free(w->dir);
	free(w);
}
