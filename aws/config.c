#include "aws/config.h"

#include <ctype.h>
#include <string.h>

#include "core/util.h"

#define MAX_FILE_SIZE ((size_t)1 << 20)

const char *kiln_aws_profile_name(const char *name)
{
	const char *env = getenv("AWS_PROFILE");

	if (name != NULL && *name != '\0')
		return name;
	if (env != NULL && *env != '\0')
		return env;
	return "default";
}

static char *shared_file_path(const char *env, const char *leaf)
{
	const char *v = getenv(env), *home = getenv("HOME");

	if (v != NULL && *v != '\0') {
		if (v[0] == '~' && v[1] == '/' && home != NULL)
			return kiln_xasprintf("%s%s", home, v + 1);
		return kiln_xstrdup(v);
	}
	if (home == NULL || *home == '\0')
		return NULL;
	return kiln_xasprintf("%s/.aws/%s", home, leaf);
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void profile_set(struct kiln_aws_profile *p, const char *key, const char *value)
{
	p->keys = kiln_xrealloc(p->keys, (p->count + 1) * sizeof(char *));
	p->values = kiln_xrealloc(p->values, (p->count + 1) * sizeof(char *));
	p->keys[p->count] = kiln_xstrdup(key);
	p->values[p->count] = kiln_xstrdup(value);
	p->count++;
}

/*
 * Add the settings of section `want` of an INI file to `p`. Indented lines
 * under an empty value are nested settings ("ec2 =" then "  endpoint_url =
 * ...") and are added as "ec2.endpoint_url".
 */
static int profile_read(struct kiln_aws_profile *p, const char *path, const char *want)
{
	struct kiln_buf buf;
	char *line, *save = NULL, *parent = NULL;
	int in = 0, error;

	kiln_buf_init(&buf, MAX_FILE_SIZE);
	error = kiln_file_read(&buf, path);
	if (error == KILN_ENOTFOUND) {
		error = 0;
		goto done;
	}
	if (error < 0)
		goto done;
	for (line = strtok_r(buf.ptr, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		int indented = line[0] == ' ' || line[0] == '\t';
		char *s = trim(line), *eq;
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (end == NULL)
				continue;
			*end = '\0';
			in = strcmp(trim(s + 1), want) == 0;
			if (in)
				p->found = 1;
			free(parent);
			parent = NULL;
			continue;
		}
		eq = strchr(s, '=');
		if (!in || eq == NULL)
			continue;
		*eq = '\0';
		if (indented && parent != NULL) {
			char *key = kiln_xasprintf("%s.%s", parent, trim(s));
			profile_set(p, key, trim(eq + 1));
			free(key);
			continue;
		}
		free(parent);
		parent = NULL;
		if (*trim(eq + 1) == '\0')
			parent = kiln_xstrdup(trim(s));
		else
			profile_set(p, trim(s), trim(eq + 1));
	}
done:
	/* The files hold secret keys. */
	kiln_buf_wipe(&buf);
	free(parent);
	if (error < 0)
		kiln_error_prefix(error, "cannot read '%s'", path);
	return error;
}

/*
 * A profile's "services = NAME" points at a "[services NAME]" section of
 * per-service settings; they are added as "services.ec2.endpoint_url".
 */
static int services_read(struct kiln_aws_profile *p, const char *config)
{
	struct kiln_aws_profile sv = {0};
	const char *name = kiln_aws_profile_get(p, "services");
	char *section;
	size_t i;
	int error;

	if (name == NULL || *name == '\0')
		return 0;
	section = kiln_xasprintf("services %s", name);
	error = profile_read(&sv, config, section);
	if (error == 0 && !sv.found)
		error = kiln_error_set(KILN_EINVAL, "profile '%s': no section [%s] in '%s'",
		                       p->name, section, config);
	for (i = 0; error == 0 && i < sv.count; i++) {
		char *key = kiln_xasprintf("services.%s", sv.keys[i]);
		profile_set(p, key, sv.values[i]);
		free(key);
	}
	kiln_aws_profile_release(&sv);
	free(section);
	return error;
}

int kiln_aws_profile_load(struct kiln_aws_profile *out, const char *name)
{
	char *config = shared_file_path("AWS_CONFIG_FILE", "config");
	char *creds = shared_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	char *section = NULL;
	int error = 0;

	KILN_ASSERT_ARG(out != NULL);
	memset(out, 0, sizeof(*out));
	out->name = kiln_xstrdup(kiln_aws_profile_name(name));
	/* The config file names profiles "[profile x]", except "[default]". */
	if (config != NULL) {
		if (strcmp(out->name, "default") == 0) {
			error = profile_read(out, config, "default");
			if (error == 0 && !out->found)
				error = profile_read(out, config, "profile default");
		} else {
			section = kiln_xasprintf("profile %s", out->name);
			error = profile_read(out, config, section);
		}
	}
	if (error == 0 && config != NULL)
		error = services_read(out, config);
	if (error == 0 && creds != NULL)
		error = profile_read(out, creds, out->name);
	free(config);
	free(creds);
	free(section);
	if (error < 0)
		kiln_aws_profile_release(out);
	return error;
}

void kiln_aws_profile_release(struct kiln_aws_profile *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->count; i++) {
		free(p->keys[i]);
		kiln_free_secret(p->values[i]);
	}
	free(p->keys);
	free(p->values);
	free(p->name);
	memset(p, 0, sizeof(*p));
}

const char *kiln_aws_profile_get(const struct kiln_aws_profile *p, const char *key)
{
	size_t i;

	if (p == NULL)
		return NULL;
	/* The credentials file was read last, so its value wins. */
	for (i = p->count; i > 0; i--)
		if (strcmp(p->keys[i - 1], key) == 0)
			return p->values[i - 1];
	return NULL;
}
