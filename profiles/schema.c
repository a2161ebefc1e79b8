#include "profiles/schema.h"
#include "core/common.h"

#include <ctype.h>
#include <string.h>

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

static void vproblem(struct kiln_schema_ctx *ctx, const char *full_ptr, int at_key, const char *fmt,
                     va_list ap)
{
	const struct kiln_json_pos *pos = locate(ctx, full_ptr);
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
	kiln_buf_vprintf(&ctx->problems, fmt, ap);
	ctx->count++;
}

void kiln_schema_problem(struct kiln_schema_ctx *ctx, const char *ptr, int at_key, const char *fmt,
                         ...)
{
	char *full = kiln_xasprintf("%s%s", ctx->base_ptr, ptr);
	va_list ap;

	va_start(ap, fmt);
	vproblem(ctx, full, at_key, fmt, ap);
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

static const char *type_name(const json_t *v)
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

static void check_value(struct kiln_schema_ctx *ctx, const struct schema *s, const json_t *v,
                        const char *ptr, const char *disp);

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

static void check_object(struct kiln_schema_ctx *ctx, const struct field *fields, const json_t *v,
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
			check_value(ctx, f->schema, child, cptr, cdisp);
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

static void check_value(struct kiln_schema_ctx *ctx, const struct schema *s, const json_t *v,
                        const char *ptr, const char *disp)
{
	static const char *const want[] = {"string", "integer", "number", "boolean",
	                                   "object", "object",  "array"};
	int ok = 1;

	switch (s->type) {
	case S_STRING:
		ok = json_is_string(v);
		break;
	case S_INT:
		ok = json_is_integer(v);
		break;
	case S_NUMBER:
		ok = json_is_number(v);
		break;
	case S_BOOL:
		ok = json_is_boolean(v);
		break;
	case S_OBJECT:
	case S_MAP:
		ok = json_is_object(v);
		break;
	case S_ARRAY:
		ok = json_is_array(v);
		break;
	case S_CUSTOM:
		s->check(ctx, v, ptr, disp);
		return;
	}
	if (!ok) {
		kiln_schema_problem(ctx, ptr, 0, "%s: expected %s, got %s", disp, want[s->type],
		                    type_name(v));
		return;
	}
	if (s->type == S_STRING) {
		const char *str = json_string_value(v);
		if (s->ranged && s->min > 0 && str[0] == '\0') {
			kiln_schema_problem(ctx, ptr, 0, "%s: must not be empty", disp);
			return;
		}
		if (s->choices != NULL) {
			const char *const *c;
			struct kiln_buf list = KILN_BUF_INIT;
			for (c = s->choices; *c != NULL; c++)
				if (strcmp(*c, str) == 0)
					break;
			if (*c == NULL) {
				for (c = s->choices; *c != NULL; c++)
					kiln_buf_printf(&list, "%s'%s'",
					                c == s->choices ? "" : ", ", *c);
				kiln_schema_problem(ctx, ptr, 0, "%s: must be one of %s, got '%s'",
				                    disp, list.ptr, str);
				kiln_buf_release(&list);
				return;
			}
		}
	} else if (s->type == S_INT && s->ranged) {
		long long n = (long long)json_integer_value(v);
		if (n < s->min) {
			kiln_schema_problem(ctx, ptr, 0, "%s: must be at least %lld, got %lld",
			                    disp, s->min, n);
			return;
		}
		if (n > s->max) {
			kiln_schema_problem(ctx, ptr, 0, "%s: must be at most %lld, got %lld", disp,
			                    s->max, n);
			return;
		}
	} else if (s->type == S_OBJECT) {
		check_object(ctx, s->fields, v, ptr, disp);
	} else if (s->type == S_MAP) {
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
				kiln_schema_problem(ctx, cptr, 1, "%s: invalid name '%s': %s", disp,
				                    key, s->key_rule);
			else if (s->item != NULL)
				check_value(ctx, s->item, child, cptr, cdisp);
			free(cptr);
			free(cdisp);
		}
	} else if (s->type == S_ARRAY) {
		size_t i;
		if (!ctx->partial && json_array_size(v) < s->min_items)
			kiln_schema_problem(ctx, ptr, 0, "%s: must have at least %zu item%s", disp,
			                    s->min_items, s->min_items == 1 ? "" : "s");
		for (i = 0; i < json_array_size(v); i++) {
			char idx[32], *cptr, *cdisp;
			snprintf(idx, sizeof(idx), "%zu", i);
			cptr = kiln_json_ptr_child(ptr, idx);
			cdisp = kiln_xasprintf("%s[%zu]", disp, i);
			check_value(ctx, s->item, json_array_get(v, i), cptr, cdisp);
			free(cptr);
			free(cdisp);
		}
	}
	if (s->check != NULL)
		s->check(ctx, v, ptr, disp);
}

/* Value rules. */

static int name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static int ident_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int layer_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 32 && isalnum((unsigned char)s[0]) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static void check_name(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                       const char *disp)
{
	if (!name_ok(json_string_value(v)))
		kiln_schema_problem(ctx, ptr, 0,
		                    "%s: must be 1 to 32 lowercase letters, digits or '-', "
		                    "starting with a letter or digit",
		                    disp);
}

static void check_ref(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                      const char *disp)
{
	const char *s = json_string_value(v), *p;

	if (s[0] == '\0' || s[0] == '-') {
		kiln_schema_problem(ctx, ptr, 0, "%s: must be a tag or a full 40-hex commit id",
		                    disp);
		return;
	}
	for (p = s; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || strchr("~^:?*[\\", *p) != NULL) {
			kiln_schema_problem(ctx, ptr, 0, "%s: '%s' is not a valid git ref name",
			                    disp, s);
			return;
		}
	}
}

static void check_relpath(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                          const char *disp)
{
	const char *s = json_string_value(v);
	const char *p = s;

	if (s[0] == '\0' || s[0] == '/') {
		kiln_schema_problem(ctx, ptr, 0,
		                    "%s: must be a relative path inside the repository, got '%s'",
		                    disp, s);
		return;
	}
	while (*p != '\0') {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			kiln_schema_problem(ctx, ptr, 0, "%s: '..' is not allowed in '%s'", disp,
			                    s);
			return;
		}
		p += n;
		if (*p == '/')
			p++;
	}
}

static void check_url_path(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                           const char *disp)
{
	if (json_string_value(v)[0] != '/')
		kiln_schema_problem(ctx, ptr, 0, "%s: must start with '/', got '%s'", disp,
		                    json_string_value(v));
}

static void check_mode(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                       const char *disp)
{
	const char *s = json_string_value(v);
	size_t n = strlen(s);

	if (n < 3 || n > 4 || strspn(s, "01234567") != n)
		kiln_schema_problem(ctx, ptr, 0, "%s: must be an octal mode such as \"0644\"",
		                    disp);
}

static void check_sha256(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                         const char *disp)
{
	const char *s = json_string_value(v);

	if (strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64)
		kiln_schema_problem(ctx, ptr, 0, "%s: must be 64 lowercase hex digits", disp);
}

static void check_tag_key(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                          const char *disp)
{
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)v, key, val)
	{
		char *cptr = kiln_json_ptr_child(ptr, key);
		if (key[0] == '\0' || strlen(key) > 128)
			kiln_schema_problem(ctx, cptr, 1,
			                    "%s: tag keys must be 1 to 128 characters", disp);
		else if (strncmp(key, "kiln:", 5) == 0 || strncmp(key, "aws:", 4) == 0)
			kiln_schema_problem(
			    ctx, cptr, 1,
			    "%s: tag key '%s' uses a reserved prefix ('kiln:', 'aws:')", disp, key);
		else if (json_is_string(val) && strlen(json_string_value(val)) > 256)
			kiln_schema_problem(ctx, cptr, 0,
			                    "%s.%s: tag values are at most 256 characters", disp,
			                    key);
		free(cptr);
	}
}

/* The schema itself. */

#define STR                                                                                        \
	{                                                                                          \
		.type = S_STRING                                                                   \
	}
#define NONEMPTY                                                                                   \
	{                                                                                          \
		.type = S_STRING, .ranged = 1, .min = 1                                            \
	}
#define BOOL                                                                                       \
	{                                                                                          \
		.type = S_BOOL                                                                     \
	}
#define INT(a, b)                                                                                  \
	{                                                                                          \
		.type = S_INT, .ranged = 1, .min = (a), .max = (b)                                 \
	}
#define OBJ(f)                                                                                     \
	{                                                                                          \
		.type = S_OBJECT, .fields = (f)                                                    \
	}
#define ARR(i)                                                                                     \
	{                                                                                          \
		.type = S_ARRAY, .item = (i)                                                       \
	}
#define CHECKED(c)                                                                                 \
	{                                                                                          \
		.type = S_STRING, .ranged = 1, .min = 1, .check = (c)                              \
	}

static const struct schema s_str = STR, s_nonempty = NONEMPTY, s_bool = BOOL;
static const struct schema s_port = INT(1, 65535);
static const struct schema s_seconds = INT(1, 86400);
static const struct schema s_count = INT(0, 10000);
static const struct schema s_str_list = ARR(&s_nonempty);
static const struct schema s_str_map = {.type = S_MAP, .item = &s_str};
static const struct schema s_tags = {.type = S_MAP, .item = &s_str, .check = check_tag_key};
static const struct schema s_name = CHECKED(check_name);
static const struct schema s_ref = {.type = S_STRING, .check = check_ref};
static const struct schema s_relpath = {.type = S_STRING, .check = check_relpath};
static const struct schema s_relpath_list = ARR(&s_relpath);
static const struct schema s_url_path = {.type = S_STRING, .check = check_url_path};
static const struct schema s_mode = {.type = S_STRING, .check = check_mode};
static const struct schema s_sha256 = {.type = S_STRING, .check = check_sha256};

static const char *const targets[] = {"local", "aws", NULL};
static const struct schema s_target = {.type = S_STRING, .choices = targets};
static const char *const host_key_checks[] = {"strict", "accept-new", NULL};
static const struct schema s_host_key_check = {.type = S_STRING, .choices = host_key_checks};

static const struct field layer_fields[] = {
    {"repo", &s_nonempty, 1},          {"ref", &s_ref, 1}, {"path", &s_relpath, 0},
    {"provision", &s_relpath_list, 0}, {NULL, NULL, 0},
};
static const struct schema s_layer = OBJ(layer_fields);
static const struct schema s_layers = {.type = S_MAP,
                                       .item = &s_layer,
                                       .min_items = 1,
                                       .key_ok = layer_name_ok,
                                       .key_rule = "use lowercase letters, digits, '-' or '_'"};

static const struct field image_filter_fields[] = {
    {"name", &s_nonempty, 0},
    {"owners", &s_str_list, 0},
    {"tags", &s_str_map, 0},
    {NULL, NULL, 0},
};
static const struct schema s_image_filter = OBJ(image_filter_fields);

static void check_source_image(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                               const char *disp)
{
	if (json_is_string(v)) {
		if (strncmp(json_string_value(v), "ami-", 4) != 0)
			kiln_schema_problem(ctx, ptr, 0,
			                    "%s: an image id starts with 'ami-'; use an object "
			                    "{\"name\": ...} to select by name",
			                    disp);
		return;
	}
	if (!json_is_object(v)) {
		kiln_schema_problem(ctx, ptr, 0, "%s: expected string or object, got %s", disp,
		                    type_name(v));
		return;
	}
	check_value(ctx, &s_image_filter, v, ptr, disp);
	if (!ctx->partial && json_object_get(v, "name") == NULL &&
	    json_object_get(v, "tags") == NULL)
		kiln_schema_problem(ctx, ptr, 0, "%s: needs 'name' or 'tags' to select an image",
		                    disp);
}
static const struct schema s_source_image = {.type = S_CUSTOM, .check = check_source_image};

static const struct field variable_fields[] = {
    {"value", &s_str, 1},
    {"secret", &s_bool, 0},
    {NULL, NULL, 0},
};
static const struct schema s_variable_obj = OBJ(variable_fields);

static void check_variable(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                           const char *disp)
{
	if (json_is_string(v))
		return;
	if (!json_is_object(v)) {
		kiln_schema_problem(ctx, ptr, 0, "%s: expected string or object, got %s", disp,
		                    type_name(v));
		return;
	}
	/* A variable object is whole even inside an override. */
	int partial = ctx->partial;
	ctx->partial = 0;
	check_value(ctx, &s_variable_obj, v, ptr, disp);
	ctx->partial = partial;
}
static const struct schema s_variable = {.type = S_CUSTOM, .check = check_variable};
static const struct schema s_variables = {.type = S_MAP,
                                          .item = &s_variable,
                                          .key_ok = ident_ok,
                                          .key_rule = "use letters, digits and '_', not starting "
                                                      "with a digit"};

static const struct field ssh_fields[] = {
    {"host_key_check", &s_host_key_check, 0},
    {"timeout_s", &s_seconds, 0},
    {"port", &s_port, 0},
    {NULL, NULL, 0},
};
static const struct schema s_ssh = OBJ(ssh_fields);

static const struct field bake_fields[] = {
    {"source_image", &s_source_image, 0},
    {"instance_type", &s_nonempty, 0},
    {"ssh_user", &s_nonempty, 0},
    {"encrypted", &s_bool, 0},
    {"kms_key_id", &s_nonempty, 0},
    {"ssh", &s_ssh, 0},
    {"timeout_s", &s_seconds, 0},
    {"provision_timeout_s", &s_seconds, 0},
    {"layer_dir", &s_url_path, 0},
    {"variables", &s_variables, 0},
    {NULL, NULL, 0},
};
static const struct schema s_bake = OBJ(bake_fields);

/* Checks: one kind per check, each kind with its own modifiers. */
struct check_kind {
	const char *kind;
	const struct schema *subject;
	const struct field *mods;
};

static const struct schema s_exit_code = INT(0, 255);
static const struct field file_mods[] = {
    {"exists", &s_bool, 0},    {"mode", &s_mode, 0},    {"owner", &s_nonempty, 0},
    {"group", &s_nonempty, 0}, {"contains", &s_str, 0}, {"sha256", &s_sha256, 0},
    {NULL, NULL, 0},
};
static const struct field package_mods[] = {{"installed", &s_bool, 0}, {NULL, NULL, 0}};
static const struct field service_mods[] = {
    {"running", &s_bool, 0}, {"enabled", &s_bool, 0}, {NULL, NULL, 0}};
static const struct field port_mods[] = {{"listening", &s_bool, 0}, {NULL, NULL, 0}};
static const struct field command_mods[] = {
    {"exit_code", &s_exit_code, 0},
    {"stdout", &s_str, 0},
    {"timeout_s", &s_seconds, 0},
    {NULL, NULL, 0},
};
static const struct field exists_mods[] = {{"exists", &s_bool, 0}, {NULL, NULL, 0}};

static const struct check_kind check_kinds[] = {
    {"file", &s_url_path, file_mods},       {"package", &s_nonempty, package_mods},
    {"service", &s_nonempty, service_mods}, {"port", &s_port, port_mods},
    {"command", &s_nonempty, command_mods}, {"user", &s_nonempty, exists_mods},
    {"group", &s_nonempty, exists_mods},
};

static void check_check(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                        const char *disp)
{
	const struct check_kind *kind = NULL;
	struct field allowed[16];
	size_t i, n = 0;

	if (!json_is_object(v)) {
		kiln_schema_problem(ctx, ptr, 0, "%s: expected object, got %s", disp, type_name(v));
		return;
	}
	for (i = 0; i < KILN_ARRAY_SIZE(check_kinds); i++) {
		/* "group" is also a file modifier: it names the kind only without "file". */
		if (strcmp(check_kinds[i].kind, "group") == 0 && json_object_get(v, "file"))
			continue;
		if (json_object_get(v, check_kinds[i].kind) != NULL) {
			if (kind != NULL) {
				kiln_schema_problem(
				    ctx, ptr, 0,
				    "%s: has both '%s' and '%s'; use one kind per check", disp,
				    kind->kind, check_kinds[i].kind);
				return;
			}
			kind = &check_kinds[i];
		}
	}
	if (kind == NULL) {
		kiln_schema_problem(ctx, ptr, 0,
		                    "%s: needs one of 'file', 'package', 'service', 'port', "
		                    "'command', 'user', 'group'",
		                    disp);
		return;
	}
	allowed[n++] = (struct field){kind->kind, kind->subject, 1};
	allowed[n++] = (struct field){"name", &s_nonempty, 0};
	for (i = 0; kind->mods[i].name != NULL; i++)
		allowed[n++] = kind->mods[i];
	allowed[n] = (struct field){NULL, NULL, 0};
	int partial = ctx->partial;
	ctx->partial = 0;
	check_object(ctx, allowed, v, ptr, disp);
	ctx->partial = partial;
}
static const struct schema s_check = {.type = S_CUSTOM, .check = check_check};
static const struct schema s_checks = ARR(&s_check);

static const struct field validate_fields[] = {
    {"checks", &s_checks, 0},
    {NULL, NULL, 0},
};
static const struct schema s_validate = OBJ(validate_fields);

static const struct schema s_threshold = INT(1, 10);
static const struct field health_fields[] = {
    {"path", &s_url_path, 0},
    {"interval_s", &s_seconds, 0},
    {"timeout_s", &s_seconds, 0},
    {"healthy_threshold", &s_threshold, 0},
    {"unhealthy_threshold", &s_threshold, 0},
    {NULL, NULL, 0},
};
static const struct schema s_health = OBJ(health_fields);

static const struct field capacity_fields[] = {
    {"min", &s_count, 0},
    {"desired", &s_count, 0},
    {"max", &s_count, 0},
    {NULL, NULL, 0},
};
static const struct schema s_capacity = OBJ(capacity_fields);

static const struct schema s_status = INT(100, 599);
static const struct schema s_latency = INT(1, 600000);
static const struct field smoke_fields[] = {
    {"name", &s_nonempty, 0}, {"path", &s_url_path, 1},  {"status", &s_status, 0},
    {"contains", &s_str, 0},  {"header", &s_str_map, 0}, {"max_latency_ms", &s_latency, 0},
    {NULL, NULL, 0},
};
static const struct schema s_smoke_item = OBJ(smoke_fields);
static const struct schema s_smoke = ARR(&s_smoke_item);

static const struct field deploy_fields[] = {
    {"port", &s_port, 0},
    {"test_port", &s_port, 0},
    {"instance_port", &s_port, 0},
    {"instance_type", &s_nonempty, 0},
    {"internet_facing", &s_bool, 0},
    {"health_check", &s_health, 0},
    {"capacity", &s_capacity, 0},
    {"smoke", &s_smoke, 0},
    {"keep_previous", &s_count, 0},
    {"termination_wait_s", &s_seconds, 0},
    {NULL, NULL, 0},
};
static const struct schema s_deploy = OBJ(deploy_fields);

static const struct field hooks_fields[] = {
    {"pre_bake", &s_str_list, 0},   {"post_bake", &s_str_list, 0},
    {"pre_deploy", &s_str_list, 0}, {"pre_swap", &s_str_list, 0},
    {"post_swap", &s_str_list, 0},  {"post_deploy", &s_str_list, 0},
    {"on_failure", &s_str_list, 0}, {NULL, NULL, 0},
};
static const struct schema s_hooks = OBJ(hooks_fields);

static const struct field policy_fields[] = {
    {"allow_internet_facing", &s_bool, 0},
    {"require_encrypted", &s_bool, 0},
    {"allow_fleet_ssh", &s_bool, 0},
    {"allowed_instance_types", &s_str_list, 0},
    {"max_capacity", &s_count, 0},
    {"required_tags", &s_str_list, 0},
    {NULL, NULL, 0},
};
static const struct schema s_policy = OBJ(policy_fields);

static void check_environment(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                              const char *disp)
{
	static const char *const fixed[] = {"name", "environments"};
	size_t i;

	if (!json_is_object(v)) {
		kiln_schema_problem(ctx, ptr, 0, "%s: expected object, got %s", disp, type_name(v));
		return;
	}
	/* The rest of an override is checked on its own, as a partial profile. */
	for (i = 0; i < KILN_ARRAY_SIZE(fixed); i++) {
		if (json_object_get(v, fixed[i]) != NULL) {
			char *cptr = kiln_json_ptr_child(ptr, fixed[i]);
			kiln_schema_problem(ctx, cptr, 1, "%s: '%s' cannot be set per environment",
			                    disp, fixed[i]);
			free(cptr);
		}
	}
}
static const struct schema s_environment = {.type = S_CUSTOM, .check = check_environment};
static const struct schema s_environments = {.type = S_MAP,
                                             .item = &s_environment,
                                             .key_ok = name_ok,
                                             .key_rule = "use lowercase letters, digits or '-'"};

static const struct field profile_fields[] = {
    {"name", &s_name, 1},
    {"target", &s_target, 0},
    {"region", &s_nonempty, 0},
    {"layers", &s_layers, 1},
    {"bake", &s_bake, 0},
    {"validate", &s_validate, 0},
    {"deploy", &s_deploy, 0},
    {"hooks", &s_hooks, 0},
    {"policy", &s_policy, 0},
    {"tags", &s_tags, 0},
    {"environments", &s_environments, 0},
    {NULL, NULL, 0},
};

void kiln_schema_check_profile(struct kiln_schema_ctx *ctx, const json_t *profile)
{
	if (!json_is_object(profile)) {
		kiln_schema_problem(ctx, "", 0, "%s: expected object, got %s",
		                    ctx->base_disp[0] ? ctx->base_disp : "profile",
		                    type_name(profile));
		return;
	}
	check_object(ctx, profile_fields, profile, "", ctx->base_disp);
}

/*
 * Report a rule that involves several fields at the first of `ptrs` that the
 * environment sets (the override broke it), else at the first in the base.
 */
static void effective_problem(struct kiln_schema_ctx *ctx, const char *env, const char *const *ptrs,
                              size_t n, const char *fmt, ...) KILN_PRINTF(5, 6);

static void effective_problem(struct kiln_schema_ctx *ctx, const char *env, const char *const *ptrs,
                              size_t n, const char *fmt, ...)
{
	char *full = NULL;
	size_t i;
	va_list ap;

	for (i = 0; env != NULL && full == NULL && i < n; i++) {
		char *envptr = kiln_json_ptr_child("/environments", env);
		full = kiln_xasprintf("%s%s", envptr, ptrs[i]);
		free(envptr);
		if (kiln_json_posmap_get(ctx->pos, full) == NULL) {
			free(full);
			full = NULL;
		}
	}
	for (i = 0; full == NULL && i < n; i++)
		if (kiln_json_posmap_get(ctx->pos, ptrs[i]) != NULL)
			full = kiln_xstrdup(ptrs[i]);
	if (full == NULL)
		full = kiln_xstrdup(ptrs[0]);
	va_start(ap, fmt);
	vproblem(ctx, full, 0, fmt, ap);
	va_end(ap);
	free(full);
}

void kiln_schema_check_effective(struct kiln_schema_ctx *ctx, const json_t *profile,
                                 const char *env)
{
	static const char *const cap_ptrs[] = {"/deploy/capacity/min", "/deploy/capacity/desired",
	                                       "/deploy/capacity/max"};
	static const char *const port_ptrs[] = {"/deploy/test_port", "/deploy/port"};
	const json_t *deploy = json_object_get(profile, "deploy");
	const json_t *cap = json_object_get(deploy, "capacity");
	long long min = json_integer_value(json_object_get(cap, "min"));
	long long desired = json_integer_value(json_object_get(cap, "desired"));
	long long max = json_integer_value(json_object_get(cap, "max"));
	long long port = json_integer_value(json_object_get(deploy, "port"));

	if (min > desired || desired > max)
		effective_problem(ctx, env, cap_ptrs, 3,
		                  "deploy.capacity: needs min <= desired <= max, got min %lld, "
		                  "desired %lld, max %lld",
		                  min, desired, max);
	if (port == json_integer_value(json_object_get(deploy, "test_port")))
		effective_problem(ctx, env, port_ptrs, 2,
		                  "deploy: test_port must differ from port (%lld)", port);
}
