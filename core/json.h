/*
 * Helpers over jansson: loading with positions for error messages, typed
 * getters that report the offending key, and dumping into a kiln_buf.
 * json_t references follow jansson's rules: `out` values are new references
 * the caller must json_decref().
 */
#ifndef KILN_CORE_JSON_H
#define KILN_CORE_JSON_H

#include <jansson.h>

#include "core/buf.h"

/*
 * Load a JSON file. On a syntax error the message is
 * "FILE:LINE:COL: message" and the return is KILN_EINVAL.
 * Object keys keep their order (JSON_PRESERVE_ORDER on dump).
 */
int kiln_json_load_file(json_t **out, const char *path);
int kiln_json_load_string(json_t **out, const char *text, const char *name);
/* The same for `len` bytes: a NUL inside them is a syntax error, not the end. */
int kiln_json_load_buf(json_t **out, const char *text, size_t len, const char *name);

/* Borrowed string member, or NULL when absent or not a string. */
const char *kiln_json_str(const json_t *obj, const char *key);
/* Integer member, or `def` when absent or not an integer. */
long long kiln_json_int(const json_t *obj, const char *key, long long def);
int kiln_json_bool(const json_t *obj, const char *key, int def);

/* Append the compact (or indented, indent > 0) form of `j` to `buf`. */
int kiln_json_dump(struct kiln_buf *buf, const json_t *j, int indent);
/* Print `j` indented to `fp` with a final newline; returns 0 or KILN_ERROR. */
int kiln_json_print(FILE *fp, const json_t *j);

#endif
