/*
 * The dependency graph of a world of profiles (kiln rebuild-world): each
 * node is a profile, each edge an "after" entry naming a profile that must
 * be live first. Linking resolves the names, refuses a duplicate name, a
 * missing name and a cycle (every problem one "FILE:LINE:COL: message"
 * line, KILN_EINVAL), and gives a topological order; propagation says which
 * nodes a set of failures stops, and why.
 *
 * The graph borrows every string it is given; kiln_graph_release() frees
 * only what linking made (deps and order).
 */
#ifndef KILN_PIPELINES_GRAPH_H
#define KILN_PIPELINES_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#define KILN_GRAPH_NONE SIZE_MAX

struct kiln_graph_node {
	const char *name;            /* unique in the graph */
	const char *where;           /* "FILE:LINE:COL" of the name, for messages */
	const char *const *after;    /* names of the nodes that come first */
	const char *const *after_at; /* "FILE:LINE:COL" of each, for messages */
	size_t nafter;
	/* Filled by kiln_graph_link(): the indices of `after`, duplicates removed. */
	size_t *deps;
	size_t ndeps;
};

struct kiln_graph {
	struct kiln_graph_node *v;
	size_t n;
	/* Filled by kiln_graph_link(): every index once, each after its deps. */
	size_t *order;
};

/*
 * Resolve `after` names into deps and compute `order`. KILN_EINVAL with one
 * line per problem: a name given twice, an "after" naming no node or the
 * node itself, and each cycle (at each of its edges, the cycle spelled out:
 * "a -> b -> a").
 */
int kiln_graph_link(struct kiln_graph *g);
/* The index of the node called `name`, or KILN_GRAPH_NONE. */
size_t kiln_graph_find(const struct kiln_graph *g, const char *name);

/*
 * Which nodes cannot go on: with failed[i] non-zero for each node that
 * failed, why[j] becomes, for each node j that depends (directly or not) on
 * a failed node, the index of its first dep that failed or was stopped,
 * and KILN_GRAPH_NONE for every other node. Returns the number stopped.
 * `g` must be linked.
 */
size_t kiln_graph_propagate(const struct kiln_graph *g, const unsigned char *failed, size_t *why);

/*
 * Every index once, the nodes with the longest chains of dependants first
 * (they hold the most back), then in `order`; free() it. `g` must be linked.
 */
size_t *kiln_graph_by_height(const struct kiln_graph *g);

void kiln_graph_release(struct kiln_graph *g);

#endif
