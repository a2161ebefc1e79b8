/*
 * The schema of a profile, the one validator of profiles (profiles/README.md
 * is its prose): the rules of single values, a table for every section, and
 * the rules that involve several fields of the effective profile. The tables
 * are walked by profiles/checker.c.
 */
#include "profiles/checker.h"
#include "core/common.h"

#include <ctype.h>
#include <string.h>

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

int kiln_schema_ident_ok(const char *s)
{
	return ident_ok(s);
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

/* A tag glob ("v*", "os-*"): what a tag name may hold, plus the wildcards. */
static void check_track(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                        const char *disp)
{
	const char *s = json_string_value(v), *p;

	if (s[0] == '\0' || s[0] == '-' || strlen(s) > 128) {
		kiln_schema_problem(ctx, ptr, 0,
		                    "%s: must be a tag pattern of 1 to 128 characters such as "
		                    "\"v*\" or \"os-*\"",
		                    disp);
		return;
	}
	for (p = s; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f || strchr("~^:\\", *p)) {
			kiln_schema_problem(ctx, ptr, 0,
			                    "%s: '%s' is not a tag pattern (no spaces, control "
			                    "characters or any of ~^:\\)",
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

/* An IPv4 CIDR block such as "10.0.0.0/16" (a security group's source). */
static void check_cidr(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                       const char *disp)
{
	const char *s = json_string_value(v);
	unsigned a, b, c, d, bits;
	char end;

	if (sscanf(s, "%3u.%3u.%3u.%3u/%2u%c", &a, &b, &c, &d, &bits, &end) != 5 || a > 255 ||
	    b > 255 || c > 255 || d > 255 || bits > 32 || strspn(s, "0123456789./") != strlen(s))
		kiln_schema_problem(
		    ctx, ptr, 0, "%s: must be an IPv4 CIDR block such as \"10.0.0.0/16\", got '%s'",
		    disp, s);
}

/* A health check matcher: "200", "200,302" or "200-299", codes 200 to 499. */
static void check_matcher(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                          const char *disp)
{
	const char *s = json_string_value(v), *p = s;
	int ok = s[0] != '\0' && strspn(s, "0123456789,-") == strlen(s);

	while (ok && *p != '\0') {
		char *e;
		long code = strtol(p, &e, 10);
		ok = e != p && code >= 200 && code <= 499;
		p = e;
		if (*p == ',' || *p == '-')
			p++;
	}
	if (!ok)
		kiln_schema_problem(
		    ctx, ptr, 0,
		    "%s: must be HTTP codes 200 to 499 such as \"200\", \"200,302\" or "
		    "\"200-299\", got '%s'",
		    disp, s);
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

/* An HTTP header name: a token (RFC 9110), not a line of its own. */
#define HEADER_NAME_RULE "use letters, digits and !#$%&'*+-.^_`|~"
static int header_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 128 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	                 "!#$%&'*+-.^_`|~") == n;
}

/* A host name (with an optional port) for a Host header: no spaces, slashes or controls. */
static void check_host(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                       const char *disp)
{
	const char *s = json_string_value(v);
	size_t n = strlen(s);

	if (n > 255 ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.:[]_") != n)
		kiln_schema_problem(ctx, ptr, 0,
		                    "%s: must be a host name such as \"www.example.com\" (letters, "
		                    "digits, '-', '.', an optional ':port')",
		                    disp);
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
static const struct schema s_track = {.type = S_STRING, .check = check_track};
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
    {"repo", &s_nonempty, 1},
    {"ref", &s_ref, 1},
    {"track", &s_track, 0},
    {"path", &s_relpath, 0},
    {"provision", &s_relpath_list, 0},
    {NULL, NULL, 0},
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
		                    kiln_checker_type_name(v));
		return;
	}
	kiln_checker_value(ctx, &s_image_filter, v, ptr, disp);
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
		                    kiln_checker_type_name(v));
		return;
	}
	/* A variable object is whole even inside an override. */
	int partial = ctx->partial;
	ctx->partial = 0;
	kiln_checker_value(ctx, &s_variable_obj, v, ptr, disp);
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
		kiln_schema_problem(ctx, ptr, 0, "%s: expected object, got %s", disp,
		                    kiln_checker_type_name(v));
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
	kiln_checker_object(ctx, allowed, v, ptr, disp);
	ctx->partial = partial;
}
static const struct schema s_check = {.type = S_CUSTOM, .check = check_check};
static const struct schema s_checks = ARR(&s_check);

/* HTTP checks on the machine itself (validate.http[]) and smoke checks from this host. */
static const struct schema s_status = INT(100, 599);
static const struct schema s_latency = INT(1, 600000);
static const struct schema s_http_timeout = INT(1, 600);
static const struct schema s_retries = INT(0, 100);
static const struct schema s_header_map = {
    .type = S_MAP, .item = &s_str, .key_ok = header_name_ok, .key_rule = HEADER_NAME_RULE};
static const struct schema s_host = CHECKED(check_host);

static const struct field http_fields[] = {
    {"name", &s_nonempty, 0},          {"path", &s_url_path, 1}, {"port", &s_port, 0},
    {"status", &s_status, 0},          {"contains", &s_str, 0},  {"header", &s_header_map, 0},
    {"timeout_s", &s_http_timeout, 0}, {NULL, NULL, 0},
};
static const struct schema s_http_item = OBJ(http_fields);
static const struct schema s_http_checks = ARR(&s_http_item);

static const struct field validate_fields[] = {
    {"checks", &s_checks, 0},
    {"http", &s_http_checks, 0},
    {NULL, NULL, 0},
};
static const struct schema s_validate = OBJ(validate_fields);

/* The ranges an application load balancer accepts for instance targets. */
static const struct schema s_threshold = INT(2, 10);
static const struct schema s_hc_interval = INT(5, 300);
static const struct schema s_hc_timeout = INT(2, 120);
static const struct schema s_grace = INT(0, 7200);
static const struct schema s_matcher = CHECKED(check_matcher);
static const struct field health_fields[] = {
    {"path", &s_url_path, 0},
    {"interval_s", &s_hc_interval, 0},
    {"timeout_s", &s_hc_timeout, 0},
    {"healthy_threshold", &s_threshold, 0},
    {"unhealthy_threshold", &s_threshold, 0},
    {"matcher", &s_matcher, 0},
    {"grace_period_s", &s_grace, 0},
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

static const struct field smoke_fields[] = {
    {"name", &s_nonempty, 0},
    {"path", &s_url_path, 1},
    {"status", &s_status, 0},
    {"contains", &s_str, 0},
    {"header", &s_header_map, 0},
    {"max_latency_ms", &s_latency, 0},
    {"retries", &s_retries, 0},
    {"host", &s_host, 0},
    {"follow_redirects", &s_bool, 0},
    {"timeout_s", &s_http_timeout, 0},
    {NULL, NULL, 0},
};
static const struct schema s_smoke_item = OBJ(smoke_fields);
static const struct schema s_smoke = ARR(&s_smoke_item);

static const struct schema s_cidr = CHECKED(check_cidr);
static const struct schema s_cidr_list = ARR(&s_cidr);
static const struct schema s_drain = INT(0, 3600);
static const struct field subnets_fields[] = {
    {"tags", &s_str_map, 0},
    {NULL, NULL, 0},
};
static const struct schema s_subnets = OBJ(subnets_fields);

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
    {"timeout_s", &s_seconds, 0},
    {"deregistration_delay_s", &s_drain, 0},
    {"allowed_sources", &s_cidr_list, 0},
    {"subnets", &s_subnets, 0},
    {"instance_profile", &s_nonempty, 0},
    {"certificate_arn", &s_nonempty, 0},
    {NULL, NULL, 0},
};
static const struct schema s_deploy = OBJ(deploy_fields);

/* Hooks: profiles/schema_hooks.c. */
static const struct schema s_hooks = {.type = S_CUSTOM, .check = kiln_schema_check_hooks};

/*
 * Policy rules: the profile's `policy` section and the organisation's policy
 * file have the same rules (kiln_schema_check_policy_file()).
 */
static int env_or_any_ok(const char *s)
{
	return strcmp(s, "*") == 0 || name_ok(s);
}

/* A ref pattern: what a git ref name may hold, with wildcards (no controls, no spaces). */
static void check_pattern(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                          const char *disp)
{
	const unsigned char *p = (const unsigned char *)json_string_value(v);

	for (; *p != '\0'; p++) {
		if (*p <= ' ' || *p == 0x7f) {
			kiln_schema_problem(ctx, ptr, 0,
			                    "%s: a ref pattern has no spaces or control characters",
			                    disp);
			return;
		}
	}
}
static const struct schema s_pattern = CHECKED(check_pattern);

static void check_patterns(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                           const char *disp)
{
	size_t i;

	if (json_is_string(v)) {
		kiln_checker_value(ctx, &s_pattern, v, ptr, disp);
		return;
	}
	if (!json_is_array(v) || json_array_size(v) == 0) {
		kiln_schema_problem(
		    ctx, ptr, 0, "%s: expected a pattern or a non-empty array of patterns, got %s",
		    disp, json_is_array(v) ? "an empty array" : kiln_checker_type_name(v));
		return;
	}
	for (i = 0; i < json_array_size(v); i++) {
		char idx[32], *cptr, *cdisp;

		snprintf(idx, sizeof(idx), "%zu", i);
		cptr = kiln_json_ptr_child(ptr, idx);
		cdisp = kiln_xasprintf("%s[%zu]", disp, i);
		kiln_checker_value(ctx, &s_pattern, json_array_get(v, i), cptr, cdisp);
		free(cptr);
		free(cdisp);
	}
}
static const struct schema s_patterns = {.type = S_CUSTOM, .check = check_patterns};
static const struct schema s_release_refs = {
    .type = S_MAP,
    .item = &s_patterns,
    .key_ok = env_or_any_ok,
    .key_rule = "use an environment's name (lowercase letters, digits or '-') or '*'"};
static const struct schema s_str_set = {.type = S_ARRAY, .item = &s_nonempty};

static const struct field policy_fields[] = {
    {"allow_internet_facing", &s_bool, 0},
    {"require_encrypted", &s_bool, 0},
    {"allow_fleet_ssh", &s_bool, 0},
    {"allowed_instance_types", &s_str_set, 0},
    {"max_capacity", &s_count, 0},
    {"required_tags", &s_str_set, 0},
    {"allowed_image_owners", &s_str_set, 0},
    {"allowed_regions", &s_str_set, 0},
    {"allowed_repos", &s_str_set, 0},
    {"release_refs", &s_release_refs, 0},
    {"require_signed_tags", &s_bool, 0},
    {"allowed_signers", &s_nonempty, 0},
    {NULL, NULL, 0},
};
static const struct schema s_policy = OBJ(policy_fields);

static void check_environment(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                              const char *disp)
{
	static const char *const fixed[] = {"name", "after", "environments"};
	size_t i;

	if (!json_is_object(v)) {
		kiln_schema_problem(ctx, ptr, 0, "%s: expected object, got %s", disp,
		                    kiln_checker_type_name(v));
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

/* "after": the profiles (by name) that must be live first (kiln rebuild-world). */
static const struct schema s_after = ARR(&s_name);

static const struct field profile_fields[] = {
    {"name", &s_name, 1},
    {"after", &s_after, 0},
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
		                    kiln_checker_type_name(profile));
		return;
	}
	kiln_checker_object(ctx, profile_fields, profile, "", ctx->base_disp);
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
	kiln_checker_vproblem(ctx, full, 0, fmt, ap);
	va_end(ap);
	free(full);
}

/* A load balancer refuses a health check whose timeout is not below its interval. */
static void check_health_timing(struct kiln_schema_ctx *ctx, const json_t *deploy, const char *env)
{
	static const char *const ptrs[] = {"/deploy/health_check/timeout_s",
	                                   "/deploy/health_check/interval_s"};
	const json_t *hc = json_object_get(deploy, "health_check");
	long long timeout = json_integer_value(json_object_get(hc, "timeout_s"));
	long long interval = json_integer_value(json_object_get(hc, "interval_s"));

	if (timeout >= interval)
		effective_problem(ctx, env, ptrs, 2,
		                  "deploy.health_check: timeout_s (%lld) must be less than "
		                  "interval_s (%lld)",
		                  timeout, interval);
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
	check_health_timing(ctx, deploy, env);
}

void kiln_schema_check_policy_file(struct kiln_schema_ctx *ctx, const json_t *policy)
{
	if (!json_is_object(policy)) {
		kiln_schema_problem(ctx, "", 0, "policy: expected object, got %s",
		                    kiln_checker_type_name(policy));
		return;
	}
	kiln_checker_object(ctx, policy_fields, policy, "", "policy");
}
