#include "core/json.h"

#include <string.h>

int kiln_json_load_file(json_t **out, const char *path)
{
	json_error_t err;
	json_t *j;

	KILN_ASSERT_ARG(out != NULL && path != NULL);
	*out = NULL;
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL) {
		if (err.line < 0)
			return kiln_error_set(KILN_EINVAL, "cannot read '%s': %s", path, err.text);
		return kiln_error_set(KILN_EINVAL, "%s:%d:%d: %s", path, err.line,
		                      err.column < 1 ? 1 : err.column, err.text);
	}
	*out = j;
	return 0;
}

int kiln_json_load_string(json_t **out, const char *text, const char *name)
{
	json_error_t err;
	json_t *j;

	*out = NULL;
	j = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL)
		return kiln_error_set(KILN_EINVAL, "%s:%d:%d: %s", name, err.line,
		                      err.column < 1 ? 1 : err.column, err.text);
	*out = j;
	return 0;
}

int kiln_json_load_buf(json_t **out, const char *text, size_t len, const char *name)
{
	json_error_t err;
	json_t *j;

	*out = NULL;
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL)
		return kiln_error_set(KILN_EINVAL, "%s:%d:%d: %s", name,
		                      err.line < 1 ? 1 : err.line, err.column < 1 ? 1 : err.column,
		                      err.text);
	*out = j;
	return 0;
}

const char *kiln_json_str(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

long long kiln_json_int(const json_t *obj, const char *key, long long def)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

int kiln_json_bool(const json_t *obj, const char *key, int def)
{
	json_t *v = json_object_get(obj, key);

	return json_is_boolean(v) ? json_is_true(v) : def;
}

static int dump_cb(const char *data, size_t size, void *arg)
{
	return kiln_buf_put(arg, data, size) < 0 ? -1 : 0;
}

int kiln_json_dump(struct kiln_buf *buf, const json_t *j, int indent)
{
	size_t flags = JSON_PRESERVE_ORDER | JSON_ENCODE_ANY;

	flags |= indent > 0 ? JSON_INDENT(indent) : JSON_COMPACT;
	if (json_dump_callback(j, dump_cb, buf, flags) < 0)
		return kiln_error_set(KILN_ERROR, "cannot encode JSON");
	return 0;
}

int kiln_json_print(FILE *fp, const json_t *j)
{
	if (json_dumpf(j, fp, JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | JSON_INDENT(2)) < 0 ||
	    fputc('\n', fp) == EOF)
		return kiln_error_set(KILN_ERROR, "cannot write JSON");
	return 0;
}
