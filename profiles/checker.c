/*
 * The checker: walks a value against a schema row (profiles/checker.h) and
 * records problems at their place in the file.
 */
#include "profiles/checker.h"
#include "core/common.h"

#include <ctype.h>
#include <string.h>

/* Where problems are reported, and how. */

static const struct kiln_json_pos *locate(const struct kiln_schema_ctx *ctx, const char *full)
{
	char *p = kiln_xstrdup(full);
	const struct kiln_json_pos *pos = NULL;

	/* A value that is absent (a missing key) is reported at its parent. */
	for (;;) {
		pos = kiln_json_posmap_get(ctx->pos, p);
		if (pos != NULL || p[0] == '\0')
			break;
		*strrchr(p, '/') = '\0';
	}
	free(p);
	return pos;
}

void kiln_checker_vproblem(struct kiln_schema_ctx *ctx, const char *full_ptr, int at_key,
                           const char *fmt, va_list ap)
{
	const struct kiln_json_pos *pos = locate(ctx, full_ptr);
	struct kiln_buf msg = KILN_BUF_INIT;
	int line = 1, col = 1;

	if (pos != NULL) {
		line = pos->line;
		col = pos->col;
		if (at_key && pos->key_line > 0) {
			line = pos->key_line;
			col = pos->key_col;
		}
	}
	if (ctx->count > 0)
		kiln_buf_putc(&ctx->problems, '\n');
	kiln_buf_printf(&ctx->problems, "%s:%d:%d: ", ctx->file, line, col);
	/*
	 * Messages quote the file's keys and values: one problem stays one line
	 * of text a terminal shows as it is (a key may hold "\n" or ESC).
	 */
	kiln_buf_vprintf(&msg, fmt, ap);
	kiln_buf_put_escaped(&ctx->problems, msg.ptr, msg.size, 0);
	kiln_buf_release(&msg);
	ctx->count++;
}

void kiln_schema_problem(struct kiln_schema_ctx *ctx, const char *ptr, int at_key, const char *fmt,
                         ...)
{
	char *full = kiln_xasprintf("%s%s", ctx->base_ptr, ptr);
	va_list ap;

	va_start(ap, fmt);
	kiln_checker_vproblem(ctx, full, at_key, fmt, ap);
	va_end(ap);
	free(full);
}

size_t kiln_schema_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[65], prev, tmp;

	if (la > 64 || lb > 64)
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			tmp = row[j];
			row[j] = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
			if (prev + cost < row[j])
				row[j] = prev + cost;
			prev = tmp;
		}
	}
	return row[lb];
}

const char *kiln_checker_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "null";
	}
}

static char *disp_child(const char *disp, const char *key)
{
	return disp[0] != '\0' ? kiln_xasprintf("%s.%s", disp, key) : kiln_xstrdup(key);
}

static const char *label(const char *disp)
{
	return disp[0] != '\0' ? disp : "profile";
}

static void unknown_key(struct kiln_schema_ctx *ctx, const struct field *fields, const char *key,
                        const char *ptr, const char *disp)
{
	const struct field *f, *best = NULL;
	size_t best_d = (size_t)-1;

	for (f = fields; f->name != NULL; f++) {
		size_t d = kiln_schema_distance(key, f->name);
		if (d < best_d) {
			best_d = d;
			best = f;
		}
	}
	/* Close enough to be a slip of the keyboard, not another word. */
	if (best != NULL && best_d <= 2 && best_d < strlen(key))
		kiln_schema_problem(ctx, ptr, 1, "%s: unknown key '%s'; did you mean '%s'?",
		                    label(disp), key, best->name);
	else
		kiln_schema_problem(ctx, ptr, 1, "%s: unknown key '%s'", label(disp), key);
}

void kiln_checker_object(struct kiln_schema_ctx *ctx, const struct field *fields, const json_t *v,
                         const char *ptr, const char *disp)
{
	const struct field *f;
	const char *key;
	json_t *child;

	json_object_foreach((json_t *)v, key, child)
	{
		char *cptr = kiln_json_ptr_child(ptr, key);
		char *cdisp = disp_child(disp, key);
		for (f = fields; f->name != NULL; f++)
			if (strcmp(f->name, key) == 0)
				break;
		if (f->name == NULL)
			unknown_key(ctx, fields, key, cptr, disp);
		else
			kiln_checker_value(ctx, f->schema, child, cptr, cdisp);
		free(cptr);
		free(cdisp);
	}
	if (ctx->partial)
		return;
	for (f = fields; f->name != NULL; f++)
		if (f->required && json_object_get(v, f->name) == NULL)
			kiln_schema_problem(ctx, ptr, 0, "%s: missing required key '%s'",
			                    label(disp), f->name);
}

/* Whether `v` has the JSON type `s` wants (S_CUSTOM checks its own). */
static int type_ok(const struct schema *s, const json_t *v)
{
	switch (s->type) {
	case S_STRING:
		return json_is_string(v);
	case S_INT:
		return json_is_integer(v);
	case S_NUMBER:
		return json_is_number(v);
	case S_BOOL:
		return json_is_boolean(v);
	case S_OBJECT:
	case S_MAP:
		return json_is_object(v);
	case S_ARRAY:
		return json_is_array(v);
	default:
		return 1;
	}
}

/* The range and choice rules of strings and integers; 0 when one is broken. */
static int check_scalar(struct kiln_schema_ctx *ctx, const struct schema *s, const json_t *v,
                        const char *ptr, const char *disp)
{
	const char *const *c;

	if (s->type == S_STRING) {
		const char *str = json_string_value(v);
		if (s->ranged && s->min > 0 && str[0] == '\0') {
			kiln_schema_problem(ctx, ptr, 0, "%s: must not be empty", disp);
			return 0;
		}
		for (c = s->choices; c != NULL && *c != NULL; c++)
			if (strcmp(*c, str) == 0)
				break;
		if (c != NULL && *c == NULL) {
			struct kiln_buf list = KILN_BUF_INIT;
			for (c = s->choices; *c != NULL; c++)
				kiln_buf_printf(&list, "%s'%s'", c == s->choices ? "" : ", ", *c);
			kiln_schema_problem(ctx, ptr, 0, "%s: must be one of %s, got '%s'", disp,
			                    list.ptr, str);
			kiln_buf_release(&list);
			return 0;
		}
	} else if (s->type == S_INT && s->ranged) {
		long long n = (long long)json_integer_value(v);
		if (n < s->min || n > s->max) {
			kiln_schema_problem(ctx, ptr, 0, "%s: must be at %s %lld, got %lld", disp,
			                    n < s->min ? "least" : "most",
			                    n < s->min ? s->min : s->max, n);
			return 0;
		}
	}
	return 1;
}

static void check_map(struct kiln_schema_ctx *ctx, const struct schema *s, const json_t *v,
                      const char *ptr, const char *disp)
{
	const char *key;
	json_t *child;

	if (!ctx->partial && json_object_size(v) < s->min_items)
		kiln_schema_problem(ctx, ptr, 0, "%s: must have at least %zu entr%s", disp,
		                    s->min_items, s->min_items == 1 ? "y" : "ies");
	json_object_foreach((json_t *)v, key, child)
	{
		char *cptr = kiln_json_ptr_child(ptr, key);
		char *cdisp = disp_child(disp, key);
		if (s->key_ok != NULL && !s->key_ok(key))
			kiln_schema_problem(ctx, cptr, 1, "%s: invalid name '%s': %s", disp, key,
			                    s->key_rule);
		else if (s->item != NULL)
			kiln_checker_value(ctx, s->item, child, cptr, cdisp);
		free(cptr);
		free(cdisp);
	}
}

static void check_array(struct kiln_schema_ctx *ctx, const struct schema *s, const json_t *v,
                        const char *ptr, const char *disp)
{
	size_t i;

	if (!ctx->partial && json_array_size(v) < s->min_items)
		kiln_schema_problem(ctx, ptr, 0, "%s: must have at least %zu item%s", disp,
		                    s->min_items, s->min_items == 1 ? "" : "s");
	for (i = 0; i < json_array_size(v); i++) {
		char idx[32], *cptr, *cdisp;
		snprintf(idx, sizeof(idx), "%zu", i);
		cptr = kiln_json_ptr_child(ptr, idx);
		cdisp = kiln_xasprintf("%s[%zu]", disp, i);
		kiln_checker_value(ctx, s->item, json_array_get(v, i), cptr, cdisp);
		free(cptr);
		free(cdisp);
	}
}

void kiln_checker_value(struct kiln_schema_ctx *ctx, const struct schema *s, const json_t *v,
                        const char *ptr, const char *disp)
{
	static const char *const want[] = {"string", "integer", "number", "boolean",
	                                   "object", "object",  "array"};

	if (s->type == S_CUSTOM) {
		s->check(ctx, v, ptr, disp);
		return;
	}
	if (!type_ok(s, v)) {
		kiln_schema_problem(ctx, ptr, 0, "%s: expected %s, got %s", disp, want[s->type],
		                    kiln_checker_type_name(v));
		return;
	}
	if (!check_scalar(ctx, s, v, ptr, disp))
		return;
	if (s->type == S_OBJECT)
		kiln_checker_object(ctx, s->fields, v, ptr, disp);
	else if (s->type == S_MAP)
		check_map(ctx, s, v, ptr, disp);
	else if (s->type == S_ARRAY)
		check_array(ctx, s, v, ptr, disp);
	if (s->check != NULL)
		s->check(ctx, v, ptr, disp);
}
