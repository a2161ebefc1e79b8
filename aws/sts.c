#include "aws/sts.h"

#include <string.h>

#include "core/log.h"
#include "core/util.h"

void kiln_sts_identity_release(struct kiln_sts_identity *id)
{
	if (id == NULL)
		return;
	free(id->account);
	free(id->arn);
	free(id->user_id);
	memset(id, 0, sizeof(*id));
}

int kiln_sts_get_caller_identity(struct kiln_sts_identity *out, struct kiln_aws *aws)
{
	struct kiln_xml *x = NULL;
	xmlNodePtr res;
	const char *account, *arn, *user;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	memset(out, 0, sizeof(*out));
	error = kiln_aws_query(&x, aws, KILN_AWS_STS, "GetCallerIdentity", NULL);
	if (error < 0)
		goto done;
	res = kiln_xml_find(kiln_xml_root(x), "GetCallerIdentityResult");
	account = kiln_xml_text(x, res, "Account");
	arn = kiln_xml_text(x, res, "Arn");
	user = kiln_xml_text(x, res, "UserId");
	if (res == NULL || account == NULL || arn == NULL || user == NULL) {
		error = kiln_error_set(KILN_ERROR,
		                       "sts GetCallerIdentity reply lacks Account, Arn or UserId");
		goto done;
	}
	out->account = kiln_xstrdup(account);
	out->arn = kiln_xstrdup(arn);
	out->user_id = kiln_xstrdup(user);
done:
	kiln_xml_free(x);
	return error;
}

static void add_role_params(struct kiln_query *q, const struct kiln_sts_role *role, char **session)
{
	char dur[16];

	*session = role->session_name != NULL && *role->session_name != '\0'
	               ? kiln_xstrdup(role->session_name)
	               : kiln_xasprintf("kiln-%lld", (long long)kiln_time_now());
	kiln_query_add(q, "RoleArn", role->role_arn);
	kiln_query_add(q, "RoleSessionName", *session);
	if (role->duration_s > 0) {
		snprintf(dur, sizeof(dur), "%d", role->duration_s);
		kiln_query_add(q, "DurationSeconds", dur);
	}
}

/* Credentials from an AssumeRole* reply, under <Action>Result/Credentials. */
static int parse_credentials(struct kiln_creds *out, const struct kiln_xml *x, const char *action)
{
	char path[96];
	xmlNodePtr c;
	const char *akid, *secret, *token, *exp;
	double t = 0;

	snprintf(path, sizeof(path), "%sResult/Credentials", action);
	c = kiln_xml_find(kiln_xml_root(x), path);
	akid = kiln_xml_text(x, c, "AccessKeyId");
	secret = kiln_xml_text(x, c, "SecretAccessKey");
	token = kiln_xml_text(x, c, "SessionToken");
	exp = kiln_xml_text(x, c, "Expiration");
	if (c == NULL || akid == NULL || secret == NULL || token == NULL || exp == NULL)
		return kiln_error_set(KILN_ERROR, "sts %s reply lacks credentials", action);
	if (kiln_time_parse_iso8601(&t, exp) < 0)
		return kiln_error_set(KILN_ERROR, "sts %s reply has a bad Expiration '%s'", action,
		                      exp);
	kiln_creds_release(out);
	out->access_key_id = kiln_xstrdup(akid);
	out->secret_access_key = kiln_xstrdup(secret);
	out->session_token = kiln_xstrdup(token);
	out->expiration = t;
	kiln_creds_hide(out);
	return 0;
}

int kiln_sts_assume_role(struct kiln_creds *out, struct kiln_aws *aws,
                         const struct kiln_sts_role *role)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_xml *x = NULL;
	char *session = NULL;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && role != NULL && role->role_arn != NULL);
	add_role_params(&q, role, &session);
	if (role->external_id != NULL && *role->external_id != '\0')
		kiln_query_add(&q, "ExternalId", role->external_id);
	error = kiln_aws_query(&x, aws, KILN_AWS_STS, "AssumeRole", &q);
	if (error == 0)
		error = parse_credentials(out, x, "AssumeRole");
	if (error < 0)
		kiln_error_prefix(error, "cannot assume role '%s'", role->role_arn);
	kiln_xml_free(x);
	kiln_query_release(&q);
	free(session);
	return error;
}

int kiln_sts_assume_role_with_web_identity(struct kiln_creds *out, struct kiln_aws *aws,
                                           const struct kiln_sts_role *role, const char *token)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_xml *x = NULL;
	char *session = NULL;
	size_t i;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && role != NULL && role->role_arn != NULL &&
	                token != NULL);
	kiln_log_add_secret(token);
	add_role_params(&q, role, &session);
	kiln_query_add(&q, "WebIdentityToken", token);
	error = kiln_aws_query(&x, aws, KILN_AWS_STS, "AssumeRoleWithWebIdentity", &q);
	if (error == 0)
		error = parse_credentials(out, x, "AssumeRoleWithWebIdentity");
	if (error < 0)
		kiln_error_prefix(error, "cannot assume role '%s' with a web identity",
		                  role->role_arn);
	kiln_xml_free(x);
	/* The token is a credential: wipe our copy in the parameter list. */
	for (i = 0; i < q.count; i++)
		if (strcmp(q.params[i].key, "WebIdentityToken") == 0)
			explicit_bzero(q.params[i].value, strlen(q.params[i].value));
	kiln_query_release(&q);
	free(session);
	return error;
}
