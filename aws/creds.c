#include "aws/creds.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "aws/client.h"
#include "aws/metadata.h"
#include "aws/sts.h"
#include "core/json.h"
#include "core/log.h"
#include "core/proc.h"
#include "core/util.h"

/* Fetch temporary credentials again this long before they expire. */
#define REFRESH_MARGIN_S 300
#define MAX_ROLE_DEPTH   5
#define MAX_META_SIZE    ((size_t)64 << 10) /* process output, token files */

int kiln_aws_new_with_provider(struct kiln_aws **out, const struct kiln_aws_config *cfg,
                               struct kiln_creds_provider *creds);

void kiln_creds_release(struct kiln_creds *c)
{
	if (c == NULL)
		return;
	kiln_free_secret(c->access_key_id);
	kiln_free_secret(c->secret_access_key);
	kiln_free_secret(c->session_token);
	memset(c, 0, sizeof(*c));
}

void kiln_creds_copy(struct kiln_creds *out, const struct kiln_creds *c)
{
	kiln_creds_release(out);
	out->access_key_id = c->access_key_id ? kiln_xstrdup(c->access_key_id) : NULL;
	out->secret_access_key = c->secret_access_key ? kiln_xstrdup(c->secret_access_key) : NULL;
	out->session_token = c->session_token ? kiln_xstrdup(c->session_token) : NULL;
	out->expiration = c->expiration;
}

void kiln_creds_hide(const struct kiln_creds *c)
{
	kiln_log_add_secret(c->secret_access_key);
	kiln_log_add_secret(c->session_token);
}

/* ---- providers --------------------------------------------------------- */

enum kind {
	P_STATIC,
	P_CHAIN,
	P_ROLE,
	P_PROCESS,
	P_WEB,
	P_CONTAINER,
	P_IMDS,
};

struct kiln_creds_provider {
	enum kind kind;
	char *source;
	struct kiln_creds creds;
	int fetched;
	/* Where role assumption sends its STS calls. */
	char *region, *profile, *endpoint_url;
	/* Role, web identity and process settings. */
	char *role_arn, *external_id, *session_name, *token_file, *command;
	int duration;
	struct kiln_creds_provider *inner; /* the chain's choice */
	struct kiln_aws *sts;              /* owns the source credentials of a role */
};

static struct kiln_creds_provider *provider_new(enum kind kind, const char *source,
                                                const struct kiln_aws_config *cfg)
{
	struct kiln_creds_provider *p = kiln_xcalloc(1, sizeof(*p));

	p->kind = kind;
	p->source = kiln_xstrdup(source);
	if (cfg != NULL) {
		p->region = cfg->region ? kiln_xstrdup(cfg->region) : NULL;
		p->profile = cfg->profile ? kiln_xstrdup(cfg->profile) : NULL;
		p->endpoint_url = cfg->endpoint_url ? kiln_xstrdup(cfg->endpoint_url) : NULL;
	}
	return p;
}

void kiln_creds_provider_free(struct kiln_creds_provider *p)
{
	if (p == NULL)
		return;
	kiln_creds_release(&p->creds);
	kiln_creds_provider_free(p->inner);
	kiln_aws_free(p->sts);
	free(p->source);
	free(p->region);
	free(p->profile);
	free(p->endpoint_url);
	free(p->role_arn);
	free(p->external_id);
	free(p->session_name);
	free(p->token_file);
	free(p->command);
	free(p);
}

int kiln_creds_static_new(struct kiln_creds_provider **out, const char *access_key_id,
                          const char *secret_access_key, const char *session_token,
                          const char *source)
{
	struct kiln_creds_provider *p;

	KILN_ASSERT_ARG(out != NULL && access_key_id != NULL && secret_access_key != NULL);
	p = provider_new(P_STATIC, source != NULL ? source : "static", NULL);
	p->creds.access_key_id = kiln_xstrdup(access_key_id);
	p->creds.secret_access_key = kiln_xstrdup(secret_access_key);
	if (session_token != NULL && *session_token != '\0')
		p->creds.session_token = kiln_xstrdup(session_token);
	p->fetched = 1;
	if (source == NULL || strcmp(source, KILN_CREDS_PUBLIC) != 0)
		kiln_creds_hide(&p->creds);
	*out = p;
	return 0;
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static int env_provider(struct kiln_creds_provider **out)
{
	const char *akid = env_nonempty("AWS_ACCESS_KEY_ID");
	const char *secret = env_nonempty("AWS_SECRET_ACCESS_KEY");

	if (akid == NULL)
		return KILN_ENOTFOUND;
	if (secret == NULL)
		return kiln_error_set(KILN_EINVAL,
		                      "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
	return kiln_creds_static_new(out, akid, secret, env_nonempty("AWS_SESSION_TOKEN"),
	                             "environment");
}

static int container_provider(struct kiln_creds_provider **out, const struct kiln_aws_config *cfg)
{
	if (env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") == NULL &&
	    env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI") == NULL)
		return KILN_ENOTFOUND;
	*out = provider_new(P_CONTAINER, "container", cfg);
	return 0;
}

static int imds_provider(struct kiln_creds_provider **out, const struct kiln_aws_config *cfg)
{
	const char *v = getenv("AWS_EC2_METADATA_DISABLED");

	if (v != NULL && strcasecmp(v, "true") == 0)
		return KILN_ENOTFOUND;
	*out = provider_new(P_IMDS, "imds", cfg);
	return 0;
}

static void role_settings(struct kiln_creds_provider *p, const struct kiln_aws_profile *prof,
                          const char *role_arn)
{
	const char *v;

	p->role_arn = kiln_xstrdup(role_arn);
	if ((v = kiln_aws_profile_get(prof, "external_id")) != NULL)
		p->external_id = kiln_xstrdup(v);
	if ((v = kiln_aws_profile_get(prof, "role_session_name")) != NULL)
		p->session_name = kiln_xstrdup(v);
	if ((v = kiln_aws_profile_get(prof, "duration_seconds")) != NULL)
		p->duration = atoi(v);
}

/* STS takes 900 s to 12 h; catch a typo before any call. */
static int check_duration(const struct kiln_aws_profile *prof)
{
	const char *v = kiln_aws_profile_get(prof, "duration_seconds");
	char *end;
	long n;

	if (v == NULL)
		return 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < 900 || n > 43200)
		return kiln_error_set(KILN_EINVAL,
		                      "profile '%s': duration_seconds '%s' is not a number of "
		                      "seconds from 900 to 43200",
		                      prof->name, v);
	return 0;
}

/* A client for the STS calls of role assumption; takes `source` (NULL: unsigned). */
static int sts_client(struct kiln_creds_provider *p, struct kiln_creds_provider *source)
{
	struct kiln_aws_config c = {0};

	c.region = p->region;
	c.profile = p->profile;
	c.endpoint_url = p->endpoint_url;
	return kiln_aws_new_with_provider(&p->sts, &c, source);
}

static int profile_provider(struct kiln_creds_provider **out, const struct kiln_aws_config *cfg,
                            const struct kiln_aws_profile *prof, int depth);

static int role_source(struct kiln_creds_provider **out, const struct kiln_aws_config *cfg,
                       const struct kiln_aws_profile *prof, int depth)
{
	const char *src = kiln_aws_profile_get(prof, "source_profile");
	const char *csrc = kiln_aws_profile_get(prof, "credential_source");
	struct kiln_aws_profile sp = {0};
	int error;

	if (src != NULL && csrc != NULL)
		return kiln_error_set(KILN_EINVAL,
		                      "profile '%s' has both source_profile and credential_source",
		                      prof->name);
	if (csrc != NULL) {
		if (strcmp(csrc, "Environment") == 0)
			error = env_provider(out);
		else if (strcmp(csrc, "EcsContainer") == 0)
			error = container_provider(out, cfg);
		else if (strcmp(csrc, "Ec2InstanceMetadata") == 0)
			error = imds_provider(out, cfg);
		else
			return kiln_error_set(KILN_EINVAL,
			                      "profile '%s': unknown credential_source '%s'",
			                      prof->name, csrc);
		if (error == KILN_ENOTFOUND)
			error = kiln_error_set(
			    KILN_EINVAL, "profile '%s': credential_source '%s' has no credentials",
			    prof->name, csrc);
		return error;
	}
	if (src == NULL)
		return kiln_error_set(
		    KILN_EINVAL,
		    "profile '%s' has role_arn but no source_profile or credential_source",
		    prof->name);
	if (strcmp(src, prof->name) == 0) {
		/* A profile may be its own source: its static keys assume the role. */
		const char *akid = kiln_aws_profile_get(prof, "aws_access_key_id");
		const char *secret = kiln_aws_profile_get(prof, "aws_secret_access_key");
		if (akid == NULL || secret == NULL)
			return kiln_error_set(
			    KILN_EINVAL, "profile '%s' is its own source_profile but has no keys",
			    prof->name);
		return kiln_creds_static_new(
		    out, akid, secret, kiln_aws_profile_get(prof, "aws_session_token"), prof->name);
	}
	error = kiln_aws_profile_load(&sp, src);
	if (error == 0 && !sp.found)
		error = kiln_error_set(KILN_EINVAL, "source_profile '%s' of profile '%s' not found",
		                       src, prof->name);
	if (error == 0)
		error = profile_provider(out, cfg, &sp, depth + 1);
	if (error == KILN_ENOTFOUND)
		error = kiln_error_set(KILN_EINVAL, "source_profile '%s' has no credentials", src);
	kiln_aws_profile_release(&sp);
	return error;
}

/*
 * The credentials a profile describes, in botocore's order within a profile:
 * a role (with a web identity, a source profile or a credential source),
 * static keys, credential_process. KILN_ENOTFOUND when it has none.
 */
static int profile_provider(struct kiln_creds_provider **out, const struct kiln_aws_config *cfg,
                            const struct kiln_aws_profile *prof, int depth)
{
	const char *role = kiln_aws_profile_get(prof, "role_arn");
	const char *akid = kiln_aws_profile_get(prof, "aws_access_key_id");
	const char *process = kiln_aws_profile_get(prof, "credential_process");
	const char *token_file = kiln_aws_profile_get(prof, "web_identity_token_file");
	struct kiln_creds_provider *p = NULL, *src = NULL;
	char *source = NULL;
	int error = 0;

	*out = NULL;
	if (depth > MAX_ROLE_DEPTH)
		return kiln_error_set(KILN_EINVAL, "profile '%s': source_profile chain too long",
		                      prof->name);
	if (role != NULL) {
		error = check_duration(prof);
		if (error < 0)
			return error;
	}
	if (role != NULL && token_file != NULL) {
		p = provider_new(P_WEB, "web-identity", cfg);
		role_settings(p, prof, role);
		p->token_file = kiln_xstrdup(token_file);
		error = sts_client(p, NULL);
	} else if (role != NULL) {
		error = role_source(&src, cfg, prof, depth);
		if (error < 0)
			goto done;
		source = kiln_xasprintf("assume-role:profile:%s", prof->name);
		p = provider_new(P_ROLE, source, cfg);
		role_settings(p, prof, role);
		error = sts_client(p, src);
		src = NULL;
	} else if (akid != NULL) {
		const char *secret = kiln_aws_profile_get(prof, "aws_secret_access_key");
		if (secret == NULL) {
			error = kiln_error_set(KILN_EINVAL,
			                       "profile '%s' has aws_access_key_id but no "
			                       "aws_secret_access_key",
			                       prof->name);
			goto done;
		}
		source = kiln_xasprintf("profile:%s", prof->name);
		error = kiln_creds_static_new(
		    &p, akid, secret, kiln_aws_profile_get(prof, "aws_session_token"), source);
	} else if (process != NULL) {
		source = kiln_xasprintf("process:profile:%s", prof->name);
		p = provider_new(P_PROCESS, source, cfg);
		p->command = kiln_xstrdup(process);
	} else {
		error = KILN_ENOTFOUND;
	}
done:
	if (error == 0) {
		*out = p;
		p = NULL;
	}
	kiln_creds_provider_free(p);
	kiln_creds_provider_free(src);
	free(source);
	return error;
}

int kiln_creds_chain_new(struct kiln_creds_provider **out, const struct kiln_aws_config *cfg)
{
	KILN_ASSERT_ARG(out != NULL);
	*out = provider_new(P_CHAIN, "chain", cfg);
	return 0;
}

static int chain_resolve(struct kiln_creds_provider *p)
{
	struct kiln_aws_config cfg = {p->region, p->profile, p->endpoint_url, NULL, NULL, 0};
	struct kiln_aws_profile prof = {0};
	const char *explicit_profile = p->profile ? p->profile : env_nonempty("AWS_PROFILE");
	int error;

	/* As botocore: a profile named by the caller (not AWS_PROFILE) overrides the environment.
	 */
	error = p->profile != NULL ? KILN_ENOTFOUND : env_provider(&p->inner);
	if (error != KILN_ENOTFOUND)
		goto done;
	error = kiln_aws_profile_load(&prof, p->profile);
	if (error < 0)
		goto done;
	if (!prof.found && explicit_profile != NULL) {
		error = kiln_error_set(
		    KILN_EINVAL, "profile '%s' not found in the AWS config or credentials file",
		    prof.name);
		goto done;
	}
	error = prof.found ? profile_provider(&p->inner, &cfg, &prof, 0) : KILN_ENOTFOUND;
	if (error != KILN_ENOTFOUND)
		goto done;
	if (env_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE") && env_nonempty("AWS_ROLE_ARN")) {
		p->inner = provider_new(P_WEB, "web-identity", &cfg);
		p->inner->role_arn = kiln_xstrdup(getenv("AWS_ROLE_ARN"));
		p->inner->token_file = kiln_xstrdup(getenv("AWS_WEB_IDENTITY_TOKEN_FILE"));
		if (env_nonempty("AWS_ROLE_SESSION_NAME"))
			p->inner->session_name = kiln_xstrdup(getenv("AWS_ROLE_SESSION_NAME"));
		error = sts_client(p->inner, NULL);
		goto done;
	}
	error = container_provider(&p->inner, &cfg);
	if (error != KILN_ENOTFOUND)
		goto done;
	error = imds_provider(&p->inner, &cfg);
	if (error == KILN_ENOTFOUND)
		error = kiln_error_set(KILN_EAUTH,
		                       "no AWS credentials: none in the environment, profile '%s', "
		                       "web identity or container settings, and instance metadata "
		                       "is disabled",
		                       prof.name);
done:
	if (error == 0) {
		free(p->source);
		p->source = kiln_xstrdup(p->inner->source);
		kiln_log_debug("aws credentials from %s", p->source);
	}
	kiln_aws_profile_release(&prof);
	return error;
}

/* ---- fetching ---------------------------------------------------------- */

/* Split a credential_process command line as a POSIX shell would, without running one. */
KILN_STATIC int split_command(char ***out, const char *cmd)
{
	struct kiln_buf word = KILN_BUF_INIT;
	char **argv = NULL;
	size_t argc = 0;
	const char *s = cmd;
	int in_word = 0, error = 0;

	*out = NULL;
	for (;;) {
		char c = *s;
		if (c == '\0' || isspace((unsigned char)c)) {
			if (in_word) {
				argv = kiln_xrealloc(argv, (argc + 2) * sizeof(char *));
				argv[argc++] = kiln_buf_detach(&word);
				argv[argc] = NULL;
				in_word = 0;
			}
			if (c == '\0')
				break;
			s++;
			continue;
		}
		in_word = 1;
		if (c == '\'') {
			const char *end = strchr(s + 1, '\'');
			if (end == NULL)
				goto unbalanced;
			kiln_buf_put(&word, s + 1, (size_t)(end - s - 1));
			s = end + 1;
		} else if (c == '"') {
			for (s++; *s != '"'; s++) {
				if (*s == '\0')
					goto unbalanced;
				if (*s == '\\' &&
				    (s[1] == '"' || s[1] == '\\' || s[1] == '$' || s[1] == '`'))
					s++;
				kiln_buf_putc(&word, *s);
			}
			s++;
		} else if (c == '\\' && s[1] != '\0') {
			kiln_buf_putc(&word, s[1]);
			s += 2;
		} else {
			kiln_buf_putc(&word, c);
			s++;
		}
	}
	if (argc == 0) {
		error = kiln_error_set(KILN_EINVAL, "credential_process is empty");
		goto done;
	}
	*out = argv;
	argv = NULL;
	goto done;
unbalanced:
	error = kiln_error_set(KILN_EINVAL, "credential_process has an unbalanced quote");
done:
	for (argc = 0; argv != NULL && argv[argc] != NULL; argc++)
		free(argv[argc]);
	free(argv);
	kiln_buf_release(&word);
	return error;
}

static int fetch_process(struct kiln_creds_provider *p, struct kiln_creds *out)
{
	struct kiln_buf so, se;
	char **argv = NULL;
	json_t *j = NULL;
	int status = 0, error;
	size_t i;

	kiln_buf_init(&so, MAX_META_SIZE);
	kiln_buf_init(&se, MAX_META_SIZE);
	error = split_command(&argv, p->command);
	if (error < 0)
		goto done;
	error = kiln_proc_run(&status, &so, &se, argv);
	if (error < 0)
		goto done;
	if (status != 0) {
		kiln_buf_rtrim(&se);
		error = kiln_error_set(
		    KILN_ERROR, "credential_process '%s' exited with status %d%s%.*s", argv[0],
		    status, se.size ? ": " : "", (int)strcspn(se.ptr, "\n"), se.ptr);
		goto done;
	}
	j = json_loadb(so.ptr, so.size, 0, NULL);
	if (j == NULL || kiln_json_int(j, "Version", 0) != 1) {
		error = kiln_error_set(
		    KILN_ERROR, "credential_process '%s' did not print a Version 1 JSON object",
		    argv[0]);
		goto done;
	}
	error = kiln_creds_parse_json(out, so.ptr, so.size, "SessionToken", "credential_process");
done:
	json_decref(j);
	for (i = 0; argv != NULL && argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
	kiln_buf_wipe(&so);
	kiln_buf_wipe(&se);
	return error;
}

static int fetch_web(struct kiln_creds_provider *p, struct kiln_creds *out)
{
	struct kiln_sts_role role = {p->role_arn, p->session_name, NULL, p->duration};
	struct kiln_buf token;
	int error;

	kiln_buf_init(&token, MAX_META_SIZE);
	error = kiln_file_read(&token, p->token_file);
	if (error < 0) {
		kiln_error_prefix(error, "web identity token file");
		goto done;
	}
	kiln_buf_rtrim(&token);
	error = kiln_sts_assume_role_with_web_identity(out, p->sts, &role, token.ptr);
done:
	kiln_buf_wipe(&token);
	return error;
}

static int fetch(struct kiln_creds_provider *p, struct kiln_creds *out)
{
	struct kiln_sts_role role;

	switch (p->kind) {
	case P_ROLE:
		role.role_arn = p->role_arn;
		role.session_name = p->session_name;
		role.external_id = p->external_id;
		role.duration_s = p->duration;
		return kiln_sts_assume_role(out, p->sts, &role);
	case P_PROCESS:
		return fetch_process(p, out);
	case P_WEB:
		return fetch_web(p, out);
	case P_CONTAINER:
		return kiln_creds_from_container(out);
	case P_IMDS:
		return kiln_creds_from_imds(out);
	case P_STATIC:
	case P_CHAIN:
		break;
	}
	return kiln_error_set(KILN_ERROR, "credentials from '%s' cannot be fetched", p->source);
}

int kiln_creds_get(const struct kiln_creds **out, struct kiln_creds_provider *p)
{
	struct kiln_creds fresh = KILN_CREDS_INIT;
	double now = kiln_time_now();
	int error;

	KILN_ASSERT_ARG(out != NULL && p != NULL);
	*out = NULL;
	if (p->kind == P_CHAIN) {
		if (p->inner == NULL) {
			error = chain_resolve(p);
			if (error < 0)
				return error;
		}
		return kiln_creds_get(out, p->inner);
	}
	if (p->fetched &&
	    (p->creds.expiration == 0 || now < p->creds.expiration - REFRESH_MARGIN_S)) {
		*out = &p->creds;
		return 0;
	}
	error = fetch(p, &fresh);
	if (error < 0) {
		/* Still valid: keep using them and try again on the next call. */
		if (p->fetched && now < p->creds.expiration - 10) {
			kiln_log_warn("cannot refresh aws credentials from %s: %s", p->source,
			              kiln_error_last());
			*out = &p->creds;
			return 0;
		}
		return kiln_error_prefix(error, "aws credentials from %s", p->source);
	}
	if (p->fetched)
		kiln_log_debug("aws credentials from %s refreshed", p->source);
	kiln_creds_release(&p->creds);
	p->creds = fresh;
	p->fetched = 1;
	*out = &p->creds;
	return 0;
}

int kiln_creds_source(const char **out, struct kiln_creds_provider *p)
{
	int error;

	KILN_ASSERT_ARG(out != NULL && p != NULL);
	if (p->kind == P_CHAIN && p->inner == NULL) {
		error = chain_resolve(p);
		if (error < 0)
			return error;
	}
	*out = p->source;
	return 0;
}
