/*
 * The profile schema and its checker. Checking never stops at the first
 * problem: every one found is appended to a list of "FILE:LINE:COL: message"
 * lines, pointing at the offending key (unknown or misspelt keys) or value
 * (wrong type, bad value, missing key: the enclosing object).
 */
#ifndef KILN_PROFILES_SCHEMA_H
#define KILN_PROFILES_SCHEMA_H

#include <jansson.h>

#include "core/buf.h"
#include "profiles/position.h"

struct kiln_schema_ctx {
	const char *file;
	const struct kiln_json_posmap *pos;
	const char
	    *base_ptr; /* where the checked value sits in the file ("" or "/environments/E") */
	const char *base_disp; /* the same, for messages ("" or "environments.E") */
	int partial;           /* an environment override: required keys may be absent */
	struct kiln_buf problems;
	size_t count;
};

/* Check a whole profile (or an override, with ctx->partial) against the schema. */
void kiln_schema_check_profile(struct kiln_schema_ctx *ctx, const json_t *profile);

/* Cross-field rules on the effective profile (capacity order, distinct ports). */
void kiln_schema_check_effective(struct kiln_schema_ctx *ctx, const json_t *profile,
                                 const char *env);

/*
 * Check an organisation's policy file: one object with the rules of a
 * profile's `policy` section (profiles/README.md), every one optional.
 */
void kiln_schema_check_policy_file(struct kiln_schema_ctx *ctx, const json_t *policy);

/* Record one problem at the key (at_key) or value of `ptr` (relative to base_ptr). */
void kiln_schema_problem(struct kiln_schema_ctx *ctx, const char *ptr, int at_key, const char *fmt,
                         ...) KILN_PRINTF(4, 5);

/* Edit distance, for "did you mean" hints. */
size_t kiln_schema_distance(const char *a, const char *b);

#endif
