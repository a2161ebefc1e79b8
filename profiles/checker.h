/*
 * The driver behind profiles/schema.c, the one validator of profiles; not for
 * other modules. A schema is a declarative row: a JSON type, and for objects
 * their fields, for maps and arrays their items, with ranges, choices, key
 * rules and an optional rule of its own. The checker walks a value against
 * its row and records every problem as "FILE:LINE:COL: message", with a
 * "did you mean" hint for misspelt keys.
 */
#ifndef KILN_PROFILES_CHECKER_H
#define KILN_PROFILES_CHECKER_H

#include <stdarg.h>

#include "profiles/schema.h"

enum stype { S_STRING, S_INT, S_NUMBER, S_BOOL, S_OBJECT, S_MAP, S_ARRAY, S_CUSTOM };

struct schema;
typedef void (*check_fn)(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                         const char *disp);

struct field {
	const char *name;
	const struct schema *schema;
	int required;
};

struct schema {
	enum stype type;
	const struct field *fields; /* S_OBJECT */
	const struct schema *item;  /* S_MAP values, S_ARRAY items */
	check_fn check;             /* extra rules once the type is right; S_CUSTOM: all rules */
	int ranged;                 /* S_INT: min..max; S_STRING: non-empty when min > 0 */
	long long min, max;
	const char *const *choices; /* S_STRING */
	size_t min_items;           /* S_MAP, S_ARRAY (not enforced for overrides) */
	int (*key_ok)(const char *key);
	const char *key_rule;
};

/* Check `v` (at JSON pointer `ptr`, shown as `disp`) against `s`. */
void kiln_checker_value(struct kiln_schema_ctx *ctx, const struct schema *s, const json_t *v,
                        const char *ptr, const char *disp);
/* The keys of object `v` against `fields` (unknown, missing, each value). */
void kiln_checker_object(struct kiln_schema_ctx *ctx, const struct field *fields, const json_t *v,
                         const char *ptr, const char *disp);
/* An identifier: a letter or '_', then letters, digits or '_', at most 64 (schema.c). */
int kiln_schema_ident_ok(const char *s);
/* The `hooks` section (schema_hooks.c). */
void kiln_schema_check_hooks(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                             const char *disp);
/* "object", "string", ... for messages. */
const char *kiln_checker_type_name(const json_t *v);
/* Record a problem at `full_ptr`, a pointer from the file's root. */
void kiln_checker_vproblem(struct kiln_schema_ctx *ctx, const char *full_ptr, int at_key,
                           const char *fmt, va_list ap) KILN_PRINTF(4, 0);

#endif
