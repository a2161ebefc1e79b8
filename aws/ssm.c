#include "aws/ssm.h"
#include "aws/ssm-int.h"

#include <string.h>

#include "core/log.h"

/* The service's limit of names per GetParameters call. */
#define NAMES_PER_CALL 10

static void parameter_release(struct kiln_ssm_parameter *p)
{
	free(p->name);
	free(p->type);
	if (p->value != NULL)
		kiln_free_secret(p->value);
	free(p->arn);
	free(p->data_type);
	free(p->selector);
}

void kiln_ssm_parameter_free(struct kiln_ssm_parameter *p)
{
	if (p == NULL)
		return;
	parameter_release(p);
	free(p);
}

void kiln_ssm_parameter_list_free(struct kiln_ssm_parameter_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		parameter_release(&l->v[i]);
	free(l->v);
	kiln_aws_strings_release(&l->invalid);
	free(l);
}

static char *dup_string(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? kiln_xstrdup(s) : NULL;
}

KILN_STATIC int ssm_parse_parameter(struct kiln_ssm_parameter *p, json_t *obj)
{
	const char *value = json_string_value(json_object_get(obj, "Value"));

	p->name = dup_string(obj, "Name");
	p->type = dup_string(obj, "Type");
	p->arn = dup_string(obj, "ARN");
	p->data_type = dup_string(obj, "DataType");
	p->selector = dup_string(obj, "Selector");
	p->version = json_integer_value(json_object_get(obj, "Version"));
	p->secure = p->type != NULL && strcmp(p->type, "SecureString") == 0;
	if (p->name == NULL || value == NULL)
		return kiln_error_set(KILN_ERROR, "ssm parameter in reply lacks Name or Value");
	/* Before anything can log it. */
	if (p->secure)
		kiln_log_add_secret(value);
	p->value = kiln_xstrdup(value);
	return 0;
}

/* jansson frees without wiping: overwrite secure values in the reply first. */
static void wipe_reply(json_t *reply)
{
	json_t *list, *one, *p, *v;
	size_t i;

	if (reply == NULL)
		return;
	list = json_object_get(reply, "Parameters");
	one = json_object_get(reply, "Parameter");
	for (i = 0; i <= json_array_size(list); i++) {
		p = i < json_array_size(list) ? json_array_get(list, i) : one;
		v = json_object_get(p, "Value");
		/* The string is the reply's own heap copy; nothing else shares it. */
		if (json_is_string(v))
			explicit_bzero((char *)json_string_value(v), json_string_length(v));
	}
	json_decref(reply);
}

int kiln_ssm_get_parameter(struct kiln_ssm_parameter **out, struct kiln_aws *aws, const char *name,
                           int with_decryption)
{
	json_t *body = NULL, *reply = NULL, *p;
	struct kiln_ssm_parameter *param = kiln_xcalloc(1, sizeof(*param));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && name != NULL);
	*out = NULL;
	body = json_pack("{s:s, s:b}", "Name", name, "WithDecryption", with_decryption != 0);
	if (body == NULL)
		kiln_die("out of memory");
	error = kiln_aws_json(&reply, aws, KILN_AWS_SSM, "GetParameter", body);
	if (error < 0)
		goto done;
	p = json_object_get(reply, "Parameter");
	if (!json_is_object(p)) {
		error = kiln_error_set(KILN_ERROR, "ssm GetParameter reply lacks Parameter");
		goto done;
	}
	error = ssm_parse_parameter(param, p);
done:
	if (error < 0) {
		kiln_error_prefix(error, "cannot get parameter '%s'", name);
		kiln_ssm_parameter_free(param);
	} else {
		*out = param;
	}
	json_decref(body);
	wipe_reply(reply);
	return error;
}

int kiln_ssm_put_parameter(long long *version, struct kiln_aws *aws,
                           const struct kiln_ssm_put_parameter *p)
{
	json_t *body, *reply = NULL, *tags;
	size_t i;
	int error;

	KILN_ASSERT_ARG(aws != NULL && p != NULL && p->name != NULL && p->value != NULL);
	KILN_ASSERT_ARG(p->tags == NULL || !p->overwrite);
	body = json_pack("{s:s, s:s, s:s, s:b}", "Name", p->name, "Value", p->value, "Type",
	                 p->type != NULL ? p->type : "String", "Overwrite", p->overwrite != 0);
	if (body == NULL)
		kiln_die("out of memory");
	if (p->description != NULL)
		json_object_set_new(body, "Description", json_string(p->description));
	if (p->tags != NULL && p->tags->n > 0) {
		tags = json_array();
		for (i = 0; i < p->tags->n; i++)
			json_array_append_new(tags,
			                      json_pack("{s:s, s:s}", "Key", p->tags->v[i].key,
			                                "Value", p->tags->v[i].value));
		json_object_set_new(body, "Tags", tags);
	}
	error = kiln_aws_json(&reply, aws, KILN_AWS_SSM, "PutParameter", body);
	if (error < 0 && strcmp(kiln_aws_last_error()->code, "ParameterAlreadyExists") == 0)
		error = kiln_error_set(KILN_EEXISTS, "%s", kiln_error_last());
	if (error < 0)
		kiln_error_prefix(error, "cannot put parameter '%s'", p->name);
	else if (version != NULL)
		*version = json_integer_value(json_object_get(reply, "Version"));
	/* The value may be secret: the request body is wiped like a reply. */
	if (p->type != NULL && strcmp(p->type, "SecureString") == 0) {
		json_t *v = json_object_get(body, "Value");
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
	}
	json_decref(body);
	json_decref(reply);
	return error;
}

int kiln_ssm_delete_parameter(struct kiln_aws *aws, const char *name)
{
	json_t *body, *reply = NULL;
	int error;

	KILN_ASSERT_ARG(aws != NULL && name != NULL);
	body = json_pack("{s:s}", "Name", name);
	if (body == NULL)
		kiln_die("out of memory");
	error = kiln_aws_json(&reply, aws, KILN_AWS_SSM, "DeleteParameter", body);
	if (error < 0)
		kiln_error_prefix(error, "cannot delete parameter '%s'", name);
	json_decref(body);
	json_decref(reply);
	return error;
}

KILN_STATIC int ssm_parse_parameters(struct kiln_ssm_parameter_list *l, json_t *reply)
{
	json_t *list = json_object_get(reply, "Parameters"), *inv;
	size_t i;
	int error;

	if (!json_is_array(list))
		return kiln_error_set(KILN_ERROR, "ssm GetParameters reply lacks Parameters");
	for (i = 0; i < json_array_size(list); i++) {
		error =
		    ssm_parse_parameter(kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*l->v)),
		                        json_array_get(list, i));
		if (error < 0)
			return error;
	}
	inv = json_object_get(reply, "InvalidParameters");
	for (i = 0; i < json_array_size(inv); i++)
		if (json_is_string(json_array_get(inv, i)))
			kiln_aws_strings_add(&l->invalid,
			                     json_string_value(json_array_get(inv, i)));
	return 0;
}

int kiln_ssm_get_parameters(struct kiln_ssm_parameter_list **out, struct kiln_aws *aws,
                            const char *const *names, size_t n, int with_decryption)
{
	struct kiln_ssm_parameter_list *l = kiln_xcalloc(1, sizeof(*l));
	json_t *body = NULL, *list, *reply = NULL;
	size_t off, i, chunk;
	int error = 0;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && names != NULL && n > 0);
	*out = NULL;
	for (off = 0; off < n && error == 0; off += chunk) {
		chunk = n - off < NAMES_PER_CALL ? n - off : NAMES_PER_CALL;
		list = json_array();
		for (i = 0; i < chunk; i++)
			json_array_append_new(list, json_string(names[off + i]));
		json_decref(body);
		body =
		    json_pack("{s:o, s:b}", "Names", list, "WithDecryption", with_decryption != 0);
		if (body == NULL)
			kiln_die("out of memory");
		wipe_reply(reply);
		reply = NULL;
		error = kiln_aws_json(&reply, aws, KILN_AWS_SSM, "GetParameters", body);
		if (error == 0)
			error = ssm_parse_parameters(l, reply);
	}
	if (error < 0) {
		kiln_error_prefix(error, "cannot get parameters");
		kiln_ssm_parameter_list_free(l);
	} else {
		*out = l;
	}
	json_decref(body);
	wipe_reply(reply);
	return error;
}

int kiln_ssm_get_parameters_by_path(struct kiln_ssm_parameter_list **out, struct kiln_aws *aws,
                                    const char *path, int recursive, int with_decryption)
{
	struct kiln_ssm_parameter_list *l = kiln_xcalloc(1, sizeof(*l));
	json_t *body = NULL, *reply = NULL;
	char *token = NULL;
	int error = 0, pages = 0;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && path != NULL);
	*out = NULL;
	do {
		json_decref(body);
		body = json_pack("{s:s, s:b, s:b}", "Path", path, "Recursive", recursive != 0,
		                 "WithDecryption", with_decryption != 0);
		if (body == NULL)
			kiln_die("out of memory");
		if (token != NULL)
			json_object_set_new(body, "NextToken", json_string(token));
		wipe_reply(reply);
		reply = NULL;
		error = kiln_aws_json(&reply, aws, KILN_AWS_SSM, "GetParametersByPath", body);
		if (error == 0)
			error = ssm_parse_parameters(l, reply);
		free(token);
		token = NULL;
		if (error == 0 && json_is_string(json_object_get(reply, "NextToken")) &&
		    json_string_length(json_object_get(reply, "NextToken")) > 0)
			token =
			    kiln_xstrdup(json_string_value(json_object_get(reply, "NextToken")));
		/* A service that hands back tokens forever must not hold kiln. */
		if (++pages > 1000 && token != NULL)
			error =
			    kiln_error_set(KILN_ERROR, "GetParametersByPath: more than 1000 pages");
	} while (error == 0 && token != NULL);
	if (error < 0) {
		kiln_error_prefix(error, "cannot list parameters under '%s'", path);
		kiln_ssm_parameter_list_free(l);
	} else {
		*out = l;
	}
	free(token);
	json_decref(body);
	wipe_reply(reply);
	return error;
}
