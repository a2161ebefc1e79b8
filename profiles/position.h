/*
 * Source positions of a JSON document. jansson reports positions only for
 * syntax errors, so a second pass over the (already valid) text records,
 * for every value, the line and column of its key and of the value itself,
 * keyed by JSON pointer ("/layers/app/ref"). Profile errors use them to
 * point at the offending key or value.
 *
 * Lines and columns start at 1; columns count characters (UTF-8 code
 * points), as editors do.
 */
#ifndef KILN_PROFILES_POSITION_H
#define KILN_PROFILES_POSITION_H

#include <stddef.h>

struct kiln_json_pos {
	char *ptr;    /* JSON pointer, "" for the root */
	int key_line; /* 0 when the value has no key (root, array items) */
	int key_col;
	int line; /* where the value starts */
	int col;
	size_t order; /* document order */
};

struct kiln_json_posmap {
	struct kiln_json_pos *items;
	size_t count;
	size_t alloc;
};

#define KILN_JSON_POSMAP_INIT                                                                      \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* Scan `text` (valid JSON) and record every value's position. */
int kiln_json_posmap_build(struct kiln_json_posmap *map, const char *text, size_t len);
void kiln_json_posmap_release(struct kiln_json_posmap *map);
/* The entry for `ptr`, or NULL. */
const struct kiln_json_pos *kiln_json_posmap_get(const struct kiln_json_posmap *map,
                                                 const char *ptr);
/* The entry of `ptr` in the override of `env` ("/environments/ENV" + ptr) when set, else the
 * base's. */
const struct kiln_json_pos *kiln_json_posmap_get_env(const struct kiln_json_posmap *map,
                                                     const char *env, const char *ptr);
/*
 * "FILE:LINE:COL" of `ptr`: in an environment's override
 * ("/environments/ENV" + ptr) when `env` is set and the override writes it,
 * else in the base; a pointer the file does not hold is placed at its
 * nearest parent that it does (the override's first at each level). With
 * `at_key`, at the value's key when it has one. free() it.
 */
char *kiln_json_posmap_where(const struct kiln_json_posmap *map, const char *file, const char *env,
                             const char *ptr, int at_key);
/* Append `key` to `ptr` as one JSON pointer segment (~ and / escaped). */
char *kiln_json_ptr_child(const char *ptr, const char *key);

#endif
