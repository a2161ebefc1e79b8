#include "bake/manifest.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/json.h"
#include "core/util.h"

#include <ctype.h>
#include <string.h>

void kiln_manifest_init(struct kiln_manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->started = kiln_time_mono();
}

void kiln_manifest_release(struct kiln_manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nlayers; i++) {
		free(m->layers[i].name);
		free(m->layers[i].repo);
		free(m->layers[i].ref);
		free(m->layers[i].commit);
	}
	for (i = 0; i < m->nsteps; i++)
		free(m->steps[i].name);
	free(m->layers);
	free(m->steps);
	free(m->image_id);
	free(m->image_name);
	free(m->region);
	free(m->run_id);
	memset(m, 0, sizeof(*m));
}

void kiln_manifest_add_layer(struct kiln_manifest *m, const char *name, const char *repo,
                             const char *ref, const char *commit, const char *sha256)
{
	struct kiln_manifest_layer *l;

	m->layers = kiln_xrealloc(m->layers, (m->nlayers + 1) * sizeof(*m->layers));
	l = &m->layers[m->nlayers++];
	l->name = kiln_xstrdup(name);
	l->repo = kiln_xstrdup(repo);
	l->ref = kiln_xstrdup(ref);
	l->commit = kiln_xstrdup(commit);
	snprintf(l->sha256, sizeof(l->sha256), "%s", sha256);
}

void kiln_manifest_add_step(struct kiln_manifest *m, const char *name, double seconds)
{
	size_t i;

	for (i = 0; i < m->nsteps; i++) {
		if (strcmp(m->steps[i].name, name) == 0) {
			m->steps[i].seconds += seconds;
			return;
		}
	}
	m->steps = kiln_xrealloc(m->steps, (m->nsteps + 1) * sizeof(*m->steps));
	m->steps[m->nsteps].name = kiln_xstrdup(name);
	m->steps[m->nsteps].seconds = seconds;
	m->nsteps++;
}

/* Milliseconds are enough, and keep the JSON readable. */
static json_t *seconds(double s)
{
	return json_real((double)(long long)(s * 1000.0 + 0.5) / 1000.0);
}

json_t *kiln_manifest_json(const struct kiln_manifest *m)
{
	json_t *layers = json_array(), *timings = json_object();
	size_t i;

	for (i = 0; i < m->nlayers; i++) {
		const struct kiln_manifest_layer *l = &m->layers[i];
		json_array_append_new(layers, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name",
		                                        l->name, "repo", l->repo, "ref", l->ref,
		                                        "commit", l->commit, "sha256", l->sha256));
	}
	for (i = 0; i < m->nsteps; i++)
		json_object_set_new(timings, m->steps[i].name, seconds(m->steps[i].seconds));
	json_object_set_new(timings, "total", seconds(m->total));
	return json_pack("{s:s?, s:s?, s:s?, s:s, s:b, s:s?, s:o, s:o}", "image_id", m->image_id,
	                 "image_name", m->image_name, "region", m->region, "bake_key", m->bake_key,
	                 "cache_hit", m->cache_hit, "run_id", m->run_id, "layers", layers,
	                 "timings", timings);
}

int kiln_manifest_to_json(char **out, const struct kiln_manifest *m)
{
	struct kiln_buf text = KILN_BUF_INIT;
	json_t *j = kiln_manifest_json(m);
	int error;

	*out = NULL;
	error = kiln_json_dump(&text, j, 2);
	if (error == 0)
		error = kiln_buf_putc(&text, '\n');
	if (error == 0)
		*out = kiln_buf_detach(&text);
	json_decref(j);
	kiln_buf_release(&text);
	return error;
}

int kiln_manifest_write(const struct kiln_manifest *m, const char *path)
{
	char *text = NULL;
	int error;

	error = kiln_manifest_to_json(&text, m);
	if (error == 0)
		error = kiln_file_write_atomic(path, text, strlen(text), 0644);
	if (error < 0)
		kiln_error_prefix(error, "cannot write manifest '%s'", path);
	free(text);
	return error;
}

const char *kiln_manifest_image_id(const struct kiln_manifest *m)
{
	return m->image_id;
}

const char *kiln_manifest_image_name(const struct kiln_manifest *m)
{
	return m->image_name;
}

const char *kiln_manifest_bake_key(const struct kiln_manifest *m)
{
	return m->bake_key;
}

const char *kiln_manifest_run_id(const struct kiln_manifest *m)
{
	return m->run_id;
}

const char *kiln_manifest_region(const struct kiln_manifest *m)
{
	return m->region;
}

int kiln_manifest_cache_hit(const struct kiln_manifest *m)
{
	return m->cache_hit;
}

void kiln_manifest_free(struct kiln_manifest *m)
{
	kiln_manifest_release(m);
	free(m);
}

/* EC2 image names: letters, digits, ( ) [ ] space . / - ' @ _ (3 to 128 characters). */
static int image_name_char(unsigned char c)
{
	return isalnum(c) || strchr("()[] ./-'@_", c) != NULL;
}

char *kiln_bake_image_name(const char *profile, const char *app_ref, const char *bake_key)
{
	char *name =
	    kiln_xasprintf("kiln/%s/%s/%.12s", profile, app_ref ? app_ref : "none", bake_key);
	size_t i, len = strlen(name);

	for (i = 0; i < len; i++)
		if (!image_name_char((unsigned char)name[i]))
			name[i] = '-';
	if (len > 128) {
		/* Keep the key's prefix at the end: it is what makes the name unique. */
		memmove(name + 128 - 13, name + len - 13, 14);
	}
	return name;
}
