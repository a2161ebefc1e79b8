/*
 * The local cloud's SSM Parameter Store (ssm-int.h): what kiln's deploy
 * lease needs, in SSM's JSON 1.1 protocol. Parameters live in the state's
 * "ssm_parameters" table, keyed by name, saved like every other change.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/shapes.h"
#include "core/json.h"
#include "core/utf8.h"
#include "core/util.h"
#include "localcloud/cloud-int.h"
#include "localcloud/ssm-int.h"

#define TABLE         "ssm_parameters"
#define NAME_MAX_LEN  2048
#define VALUE_MAX_LEN 4096
#define PAGE_MAX      10

struct ssm_req {
	struct lc_cloud *c;
	json_t *in;
	json_t *out;
	int status;
	char code[64];
	char message[512];
	int dirty;
};

static int fail(struct ssm_req *r, const char *code, const char *fmt, ...) KILN_PRINTF(3, 4);

static int fail(struct ssm_req *r, const char *code, const char *fmt, ...)
{
	va_list ap;

	r->status = strcmp(code, "InternalServerError") == 0 ? 500 : 400;
	snprintf(r->code, sizeof(r->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* A string member: required or not, at most `max` bytes, never empty. */
static int member_str(const char **out, struct ssm_req *r, const char *key, int required,
                      size_t max)
{
	json_t *v = json_object_get(r->in, key);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return fail(r, "ValidationException",
			            "1 validation error detected: Value null at '%c%s' failed to "
			            "satisfy constraint: Member must not be null",
			            tolower((unsigned char)key[0]), key + 1);
		return 0;
	}
	if (!json_is_string(v))
		return fail(r, "SerializationException", "%s must be a string", key);
	if (json_string_length(v) == 0 || json_string_length(v) > max)
		return fail(r, "ValidationException",
		            "1 validation error detected: Value at '%c%s' failed to satisfy "
		            "constraint: Member must have length between 1 and %zu",
		            tolower((unsigned char)key[0]), key + 1, max);
	*out = json_string_value(v);
	return 0;
}

static int member_bool(int *out, struct ssm_req *r, const char *key)
{
	json_t *v = json_object_get(r->in, key);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return fail(r, "SerializationException", "%s must be a boolean", key);
	*out = json_is_true(v);
	return 0;
}

/* AWS's rules for names: a hierarchy starts with '/', no reserved prefix, sane characters. */
static int name_ok(struct ssm_req *r, const char *name)
{
	const char *base = name[0] == '/' ? name + 1 : name;

	if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/") !=
	    strlen(name))
		return fail(r, "ValidationException",
		            "Parameter name: can't be prefixed with \"aws\" or \"ssm\" "
		            "(case-insensitive) and must only contain a-zA-Z0-9_.-/");
	if (strncasecmp(base, "aws", 3) == 0 || strncasecmp(base, "ssm", 3) == 0)
		return fail(r, "ValidationException",
		            "Parameter name: can't be prefixed with \"aws\" or \"ssm\" "
		            "(case-insensitive).");
	if (strchr(name, '/') != NULL && name[0] != '/')
		return fail(r, "ValidationException",
		            "Parameter name must be a fully qualified name: it starts with '/'.");
	if (strstr(name, "//") != NULL || (strlen(name) > 1 && name[strlen(name) - 1] == '/'))
		return fail(r, "ValidationException", "Parameter name is not valid: '%s'", name);
	return 0;
}

static json_t *param_json(const json_t *p, int decrypt)
{
	const char *type = lc_str((json_t *)p, "type"), *value = lc_str((json_t *)p, "value");
	char *shown = NULL, *arn;
	json_t *j;

	/* Without decryption a SecureString shows as what it is not: its plain text. */
	if (strcmp(type, "SecureString") == 0 && !decrypt)
		shown = kiln_aws_base64_encode(value, strlen(value));
	arn = kiln_xasprintf("arn:aws:ssm:us-east-1:000000000000:parameter%s%s",
	                     lc_str((json_t *)p, "name")[0] == '/' ? "" : "/",
	                     lc_str((json_t *)p, "name"));
	j = json_pack("{s:s, s:s, s:s, s:I, s:f, s:s, s:s}", "Name", lc_str((json_t *)p, "name"),
	              "Type", type, "Value", shown ? shown : value, "Version",
	              (json_int_t)json_integer_value(json_object_get(p, "version")),
	              "LastModifiedDate", json_real_value(json_object_get(p, "modified")), "ARN",
	              arn, "DataType", "text");
	free(shown);
	free(arn);
	if (j == NULL)
		kiln_die("out of memory");
	return j;
}

static int put_parameter(struct ssm_req *r)
{
	static const char *const types[] = {"String", "StringList", "SecureString"};
	const char *name, *value, *type, *desc;
	json_t *table = lc_table(r->c, TABLE), *p, *tags = json_object_get(r->in, "Tags");
	int overwrite, known = 0;
	size_t i;

	if (member_str(&name, r, "Name", 1, NAME_MAX_LEN) < 0 || name_ok(r, name) < 0 ||
	    member_str(&value, r, "Value", 1, VALUE_MAX_LEN) < 0 ||
	    member_str(&type, r, "Type", 0, 32) < 0 ||
	    member_str(&desc, r, "Description", 0, 1024) < 0 ||
	    member_bool(&overwrite, r, "Overwrite") < 0)
		return -1;
	for (i = 0; type != NULL && i < KILN_ARRAY_SIZE(types); i++)
		known |= strcmp(type, types[i]) == 0;
	if (type != NULL && !known)
		return fail(r, "ValidationException",
		            "1 validation error detected: Value '%s' at 'type' failed to satisfy "
		            "constraint: Member must satisfy enum value set: [SecureString, "
		            "StringList, String]",
		            type);
	if (tags != NULL && overwrite)
		return fail(
		    r, "ValidationException",
		    "Invalid request: tags and overwrite can't be used together. To create a "
		    "parameter with tags, please remove overwrite flag. To update tags for an "
		    "existing parameter, please use AddTagsToResource or "
		    "RemoveTagsFromResource.");
	if (tags != NULL && !json_is_array(tags))
		return fail(r, "SerializationException", "Tags must be a list");
	p = json_object_get(table, name);
	if (p != NULL && !overwrite)
		return fail(
		    r, "ParameterAlreadyExists",
		    "The parameter already exists. To overwrite this value, set the overwrite "
		    "option in the request to true.");
	if (p == NULL && type == NULL)
		return fail(r, "ValidationException",
		            "A parameter type is required when you create a parameter.");
	if (p == NULL) {
		p = json_pack("{s:s, s:I}", "name", name, "version", (json_int_t)0);
		json_object_set_new(table, name, p);
	}
	json_object_set_new(p, "type", json_string(type ? type : lc_str(p, "type")));
	json_object_set_new(p, "value", json_string(value));
	if (desc != NULL)
		json_object_set_new(p, "description", json_string(desc));
	if (tags != NULL)
		json_object_set(p, "tags", tags);
	json_object_set_new(p, "version",
	                    json_integer(json_integer_value(json_object_get(p, "version")) + 1));
	json_object_set_new(p, "modified", json_real(kiln_time_now()));
	r->dirty = 1;
	r->out = json_pack("{s:I, s:s}", "Version",
	                   (json_int_t)json_integer_value(json_object_get(p, "version")), "Tier",
	                   "Standard");
	return 0;
}

static int get_parameter(struct ssm_req *r)
{
	const char *name;
	json_t *p;
	int decrypt;

	if (member_str(&name, r, "Name", 1, NAME_MAX_LEN) < 0 ||
	    member_bool(&decrypt, r, "WithDecryption") < 0)
		return -1;
	p = json_object_get(lc_table(r->c, TABLE), name);
	if (p == NULL)
		return fail(r, "ParameterNotFound", "Parameter %s not found.", name);
	r->out = json_pack("{s:o}", "Parameter", param_json(p, decrypt));
	return 0;
}

static int get_parameters(struct ssm_req *r)
{
	json_t *names = json_object_get(r->in, "Names"), *found = json_array(), *bad = json_array();
	size_t i;
	int decrypt;

	if (member_bool(&decrypt, r, "WithDecryption") < 0)
		goto fail;
	if (!json_is_array(names) || json_array_size(names) == 0 || json_array_size(names) > 10) {
		fail(r, "ValidationException",
		     "1 validation error detected: Value at 'names' failed to satisfy constraint: "
		     "Member must have length between 1 and 10");
		goto fail;
	}
	for (i = 0; i < json_array_size(names); i++) {
		json_t *n = json_array_get(names, i);
		json_t *p = json_is_string(n)
		                ? json_object_get(lc_table(r->c, TABLE), json_string_value(n))
		                : NULL;
		if (!json_is_string(n)) {
			fail(r, "SerializationException", "Names must hold strings");
			goto fail;
		}
		if (p != NULL)
			json_array_append_new(found, param_json(p, decrypt));
		else
			json_array_append(bad, n);
	}
	r->out = json_pack("{s:o, s:o}", "Parameters", found, "InvalidParameters", bad);
	return 0;
fail:
	json_decref(found);
	json_decref(bad);
	return -1;
}

/* `name` under `path` ("/a/b"): any depth when recursive, else one level. */
static int under(const char *name, const char *path, int recursive)
{
	size_t n = strlen(path);
	const char *rest;

	if (strcmp(path, "/") == 0)
		rest = name[0] == '/' ? name + 1 : NULL;
	else if (strncmp(name, path, n) == 0 && name[n] == '/')
		rest = name + n + 1;
	else
		return 0;
	return rest != NULL && rest[0] != '\0' && (recursive || strchr(rest, '/') == NULL);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int get_parameters_by_path(struct ssm_req *r)
{
	json_t *table = lc_table(r->c, TABLE), *p, *list,
	       *max = json_object_get(r->in, "MaxResults");
	const char *path, *token, *key, **names;
	char *trimmed, *next = NULL;
	size_t i, n = 0, start = 0, page = PAGE_MAX;
	int recursive, decrypt;

	if (member_str(&path, r, "Path", 1, NAME_MAX_LEN) < 0 ||
	    member_str(&token, r, "NextToken", 0, 64) < 0 ||
	    member_bool(&recursive, r, "Recursive") < 0 ||
	    member_bool(&decrypt, r, "WithDecryption") < 0)
		return -1;
	if (path[0] != '/')
		return fail(
		    r, "ValidationException",
		    "The parameter doesn't meet the parameter name requirements. The parameter "
		    "name must begin with a forward slash \"/\".");
	if (max != NULL && (!json_is_integer(max) || json_integer_value(max) < 1 ||
	                    json_integer_value(max) > PAGE_MAX))
		return fail(r, "ValidationException",
		            "1 validation error detected: Value at 'maxResults' failed to satisfy "
		            "constraint: Member must have value between 1 and 10");
	if (max != NULL)
		page = (size_t)json_integer_value(max);
	if (token != NULL) {
		char *end;
		unsigned long v = strtoul(token, &end, 10);
		if (*end != '\0' || token[0] == '0' || v > 1000000)
			return fail(r, "ValidationException", "The token is not valid.");
		start = v;
	}
	trimmed = kiln_xstrdup(path);
	while (strlen(trimmed) > 1 && trimmed[strlen(trimmed) - 1] == '/')
		trimmed[strlen(trimmed) - 1] = '\0';
	names = kiln_xcalloc(json_object_size(table) + 1, sizeof(*names));
	json_object_foreach(table, key, p) if (under(key, trimmed, recursive)) names[n++] = key;
	qsort(names, n, sizeof(*names), by_name);
	list = json_array();
	for (i = start; i < n && i < start + page; i++)
		json_array_append_new(list, param_json(json_object_get(table, names[i]), decrypt));
	if (start + page < n)
		next = kiln_xasprintf("%zu", start + page);
	r->out = json_pack("{s:o}", "Parameters", list);
	if (next != NULL)
		json_object_set_new(r->out, "NextToken", json_string(next));
	free(next);
	free(names);
	free(trimmed);
	return 0;
}

static int delete_parameter(struct ssm_req *r)
{
	const char *name;

	if (member_str(&name, r, "Name", 1, NAME_MAX_LEN) < 0)
		return -1;
	if (json_object_get(lc_table(r->c, TABLE), name) == NULL)
		return fail(r, "ParameterNotFound", "Parameter %s not found.", name);
	json_object_del(lc_table(r->c, TABLE), name);
	r->dirty = 1;
	r->out = json_object();
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct ssm_req *r);
} operations[] = {
    {"PutParameter", put_parameter},       {"GetParameter", get_parameter},
    {"GetParameters", get_parameters},     {"GetParametersByPath", get_parameters_by_path},
    {"DeleteParameter", delete_parameter},
};

const char *lc_ssm_handle(struct lc_cloud *c, const char *target, const char *body, size_t len,
                          struct lc_ssm_reply *out)
{
	struct ssm_req r = {.c = c, .status = 200};
	const char *op = NULL;
	json_error_t jerr;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (target == NULL || strncmp(target, "AmazonSSM.", 10) != 0) {
		fail(&r, "UnknownOperationException",
		     "The X-Amz-Target header must name an "
		     "AmazonSSM operation");
		goto reply;
	}
	op = target + 10;
	for (i = 0; i < KILN_ARRAY_SIZE(operations); i++)
		if (strcmp(operations[i].name, op) == 0)
			break;
	if (i == KILN_ARRAY_SIZE(operations)) {
		fail(&r, "UnknownOperationException",
		     "The operation is not available in the local "
		     "cloud");
		goto reply;
	}
	op = operations[i].name;
	r.in = len > 0 ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : json_object();
	if (!json_is_object(r.in)) {
		fail(&r, "SerializationException", "The request body is not a JSON object");
		goto reply;
	}
	pthread_mutex_lock(&c->mu);
	if (operations[i].fn(&r) == 0 && r.dirty && lc_state_save(c) < 0)
		fail(&r, "InternalServerError", "saving the state failed");
	pthread_mutex_unlock(&c->mu);
reply:
	kiln_buf_init(&out->body, 1 << 20);
	out->status = r.code[0] ? r.status : 200;
	if (r.code[0]) {
		json_t *e = json_pack("{s:s, s:s}", "__type", r.code, "message", r.message);
		json_decref(r.out);
		r.out = e;
		snprintf(out->code, sizeof(out->code), "%s", r.code);
	}
	kiln_json_dump(&out->body, r.out ? r.out : json_object(), 0);
	json_decref(r.out);
	json_decref(r.in);
	return op;
}
