/*
 * The schema of a profile's `hooks` section, beside profiles/schema.c and
 * walked by the same checker.
 */
#include "profiles/checker.h"
#include "core/common.h"

#include <string.h>

static const struct schema s_nonempty = {.type = S_STRING, .ranged = 1, .min = 1};
static const struct schema s_seconds = {.type = S_INT, .ranged = 1, .min = 1, .max = 86400};
#define CHECKED(c)                                                                                 \
	{                                                                                          \
		.type = S_STRING, .ranged = 1, .min = 1, .check = (c)                              \
	}
#define ARR(i)                                                                                     \
	{                                                                                          \
		.type = S_ARRAY, .item = (i)                                                       \
	}

/*
 * The profile's `hooks` section (profiles/README.md): each stage a list of entries, each a command
 * (a path relative to the profile, or a command line) or an object: {"command": ..., "timeout_s"}
 * or a webhook {"url": "http(s)://...", "secret_env": NAME, "timeout_s"}.
 * `audit` is one webhook that receives every audit line.
 */
static void check_hook_url(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                           const char *disp)
{
	const char *s = json_string_value(v);

	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
		kiln_schema_problem(ctx, ptr, 0, "%s: must be an http:// or https:// URL", disp);
	else if (strcspn(s, " \t\r\n") != strlen(s))
		kiln_schema_problem(ctx, ptr, 0, "%s: a URL has no spaces or line breaks", disp);
}
static const struct schema s_hook_url = CHECKED(check_hook_url);

static void check_env_name(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                           const char *disp)
{
	if (!kiln_schema_ident_ok(json_string_value(v)))
		kiln_schema_problem(ctx, ptr, 0,
		                    "%s: must be an environment variable name (letters, digits, "
		                    "'_', not starting with a digit)",
		                    disp);
}
static const struct schema s_env_name = CHECKED(check_env_name);

static const struct field webhook_fields[] = {
    {"url", &s_hook_url, 1},
    {"secret_env", &s_env_name, 0},
    {"timeout_s", &s_seconds, 0},
    {NULL, NULL, 0},
};
static const struct schema s_webhook = {.type = S_OBJECT, .fields = webhook_fields};
static const struct field command_hook_fields[] = {
    {"command", &s_nonempty, 1},
    {"timeout_s", &s_seconds, 0},
    {NULL, NULL, 0},
};
static const struct schema s_command_hook = {.type = S_OBJECT, .fields = command_hook_fields};

static void check_hook(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                       const char *disp)
{
	int partial = ctx->partial;

	if (json_is_string(v)) {
		kiln_checker_value(ctx, &s_nonempty, v, ptr, disp);
		return;
	}
	if (!json_is_object(v)) {
		kiln_schema_problem(ctx, ptr, 0, "%s: expected a command or an object, got %s",
		                    disp, kiln_checker_type_name(v));
		return;
	}
	/* A hook object is whole even inside an override. */
	ctx->partial = 0;
	kiln_checker_value(ctx, json_object_get(v, "url") != NULL ? &s_webhook : &s_command_hook, v,
	                   ptr, disp);
	ctx->partial = partial;
}
static const struct schema s_hook = {.type = S_CUSTOM, .check = check_hook};
static const struct schema s_hook_list = ARR(&s_hook);

static void check_audit_hook(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                             const char *disp)
{
	int partial = ctx->partial;

	if (!json_is_object(v)) {
		kiln_schema_problem(ctx, ptr, 0, "%s: expected a webhook object, got %s", disp,
		                    kiln_checker_type_name(v));
		return;
	}
	ctx->partial = 0;
	kiln_checker_value(ctx, &s_webhook, v, ptr, disp);
	ctx->partial = partial;
}
static const struct schema s_audit_hook = {.type = S_CUSTOM, .check = check_audit_hook};

static const struct field hooks_fields[] = {
    {"pre_bake", &s_hook_list, 0},      {"post_bake", &s_hook_list, 0},
    {"pre_deploy", &s_hook_list, 0},    {"pre_swap", &s_hook_list, 0},
    {"post_swap", &s_hook_list, 0},     {"post_deploy", &s_hook_list, 0},
    {"post_rollback", &s_hook_list, 0}, {"on_failure", &s_hook_list, 0},
    {"audit", &s_audit_hook, 0},        {NULL, NULL, 0},
};

static const struct schema s_hooks = {.type = S_OBJECT, .fields = hooks_fields};

void kiln_schema_check_hooks(struct kiln_schema_ctx *ctx, const json_t *v, const char *ptr,
                             const char *disp)
{
	kiln_checker_value(ctx, &s_hooks, v, ptr, disp);
}
