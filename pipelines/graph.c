#include "pipelines/graph.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/util.h"

#include <string.h>

size_t kiln_graph_find(const struct kiln_graph *g, const char *name)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->v[i].name, name) == 0)
			return i;
	return KILN_GRAPH_NONE;
}

/* Where node `u` names node `d` in its "after". */
static const char *edge_at(const struct kiln_graph *g, size_t u, size_t d)
{
	const struct kiln_graph_node *n = &g->v[u];

	for (size_t k = 0; k < n->nafter; k++)
		if (strcmp(n->after[k], g->v[d].name) == 0)
			return n->after_at[k];
	return n->where;
}

static void link_names(struct kiln_graph *g, struct kiln_buf *problems)
{
	for (size_t i = 0; i < g->n; i++) {
		struct kiln_graph_node *n = &g->v[i];
		size_t j = kiln_graph_find(g, n->name);

		if (j < i)
			kiln_buf_printf(problems, "%s: profile name '%s' is also the name of %s\n",
			                n->where, n->name, g->v[j].where);
		n->deps = kiln_xcalloc(n->nafter + 1, sizeof(*n->deps));
		n->ndeps = 0;
		for (size_t k = 0; k < n->nafter; k++) {
			size_t d = kiln_graph_find(g, n->after[k]), m;

			if (d == KILN_GRAPH_NONE) {
				kiln_buf_printf(
				    problems,
				    "%s: after: no profile of this world is called '%s'\n",
				    n->after_at[k], n->after[k]);
				continue;
			}
			if (d == i) {
				kiln_buf_printf(problems,
				                "%s: after: '%s' cannot come after itself\n",
				                n->after_at[k], n->name);
				continue;
			}
			for (m = 0; m < n->ndeps && n->deps[m] != d; m++)
				;
			if (m == n->ndeps)
				n->deps[n->ndeps++] = d;
		}
	}
}

struct walk {
	struct kiln_graph *g;
	unsigned char *color; /* 0 not seen, 1 on the path, 2 done */
	size_t *path, depth;
	size_t norder;
	struct kiln_buf *problems;
};

/* The cycle closed by the edge from the path's last node to `k`, at each of its edges. */
static void report_cycle(struct walk *w, size_t k)
{
	struct kiln_buf spelled = KILN_BUF_INIT;
	size_t first = w->depth;

	while (first > 0 && w->path[first - 1] != k)
		first--;
	first = first > 0 ? first - 1 : 0;
	for (size_t i = first; i < w->depth; i++)
		kiln_buf_printf(&spelled, "%s -> ", w->g->v[w->path[i]].name);
	kiln_buf_puts(&spelled, w->g->v[k].name);
	for (size_t i = first; i < w->depth; i++) {
		size_t u = w->path[i], d = i + 1 < w->depth ? w->path[i + 1] : k;

		kiln_buf_printf(w->problems, "%s: after: cycle %s ('%s' after '%s' here)\n",
		                edge_at(w->g, u, d), spelled.ptr, w->g->v[u].name, w->g->v[d].name);
	}
	kiln_buf_release(&spelled);
}

/* Depth first, deps before the node; the path is at most n deep. */
static void visit(struct walk *w, size_t u)
{
	const struct kiln_graph_node *n = &w->g->v[u];

	w->color[u] = 1;
	w->path[w->depth++] = u;
	for (size_t k = 0; k < n->ndeps; k++) {
		size_t d = n->deps[k];

		if (w->color[d] == 1)
			report_cycle(w, d);
		else if (w->color[d] == 0)
			visit(w, d);
	}
	w->depth--;
	w->color[u] = 2;
	w->g->order[w->norder++] = u;
}

int kiln_graph_link(struct kiln_graph *g)
{
	struct kiln_buf problems = KILN_BUF_INIT;
	struct walk w = {.g = g};
	int error = 0;

	KILN_ASSERT_ARG(g != NULL && (g->n == 0 || g->v != NULL));
	free(g->order);
	g->order = kiln_xcalloc(g->n + 1, sizeof(*g->order));
	link_names(g, &problems);
	w.color = kiln_xcalloc(g->n + 1, 1);
	w.path = kiln_xcalloc(g->n + 1, sizeof(*w.path));
	w.problems = &problems;
	for (size_t i = 0; i < g->n; i++)
		if (w.color[i] == 0)
			visit(&w, i);
	if (problems.size > 0) {
		kiln_buf_rtrim(&problems);
		error = kiln_error_set(KILN_EINVAL, "%s", problems.ptr);
	}
	free(w.color);
	free(w.path);
	kiln_buf_release(&problems);
	return error;
}

size_t kiln_graph_propagate(const struct kiln_graph *g, const unsigned char *failed, size_t *why)
{
	size_t stopped = 0;

	KILN_ASSERT_ARG(g != NULL && g->order != NULL && failed != NULL && why != NULL);
	for (size_t i = 0; i < g->n; i++)
		why[i] = KILN_GRAPH_NONE;
	/* In order: every dep's fate is known before its dependants'. */
	for (size_t i = 0; i < g->n; i++) {
		size_t j = g->order[i];
		const struct kiln_graph_node *n = &g->v[j];

		if (failed[j])
			continue;
		for (size_t k = 0; k < n->ndeps; k++) {
			size_t d = n->deps[k];

			if (failed[d] || why[d] != KILN_GRAPH_NONE) {
				why[j] = d;
				stopped++;
				break;
			}
		}
	}
	return stopped;
}

size_t *kiln_graph_by_height(const struct kiln_graph *g)
{
	size_t *height = kiln_xcalloc(g->n + 1, sizeof(*height));
	size_t *out = kiln_xcalloc(g->n + 1, sizeof(*out)), nout = 0, top = 0;

	KILN_ASSERT_ARG(g->order != NULL);
	/* Backwards through the order: a node's dependants are all seen before it. */
	for (size_t k = g->n; k-- > 0;) {
		size_t u = g->order[k];
		const struct kiln_graph_node *n = &g->v[u];

		for (size_t d = 0; d < n->ndeps; d++)
			if (height[n->deps[d]] < height[u] + 1)
				height[n->deps[d]] = height[u] + 1;
		top = height[u] > top ? height[u] : top;
	}
	for (size_t h = top + 1; h-- > 0;)
		for (size_t k = 0; k < g->n; k++)
			if (height[g->order[k]] == h)
				out[nout++] = g->order[k];
	free(height);
	return out;
}

void kiln_graph_release(struct kiln_graph *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->n; i++) {
		free(g->v[i].deps);
		g->v[i].deps = NULL;
		g->v[i].ndeps = 0;
	}
	free(g->order);
	g->order = NULL;
}
