#include "bake/key.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/util.h"

#include <string.h>

static json_t *variables_for_key(const struct kiln_bake_spec *bake)
{
	json_t *out = json_object();
	size_t i;

	for (i = 0; i < bake->nvariables; i++) {
		const struct kiln_variable_spec *v = &bake->variables[i];
		json_object_set_new(out, v->name, json_string(v->secret ? "(secret)" : v->value));
	}
	return out;
}

static json_t *checks_for_key(const struct kiln_validate_spec *validate)
{
	json_t *out = json_array();
	size_t i;

	for (i = 0; i < validate->nchecks; i++)
		json_array_append_new(out, kiln_check_spec_json(&validate->checks[i]));
	return out;
}

json_t *kiln_bake_key_inputs(const struct kiln_profile *profile, const char *source_image_id,
                             const char *const commits[])
{
	json_t *doc = json_object(), *layers = json_array();
	size_t i, k;

	KILN_ASSERT_ARG(profile != NULL && source_image_id != NULL && commits != NULL);
	for (i = 0; i < profile->nlayers; i++) {
		const struct kiln_layer_spec *l = &profile->layers[i];
		json_t *prov = json_array();
		for (k = 0; k < l->nprovision; k++)
			json_array_append_new(prov, json_string(l->provision[k]));
		json_array_append_new(layers,
		                      json_pack("{s:s, s:s, s:s*, s:o}", "name", l->name, "commit",
		                                commits[i], "path", l->path, "provision", prov));
	}
	json_object_set_new(doc, "format", json_integer(KILN_BAKE_FORMAT));
	json_object_set_new(doc, "source_image", json_string(source_image_id));
	json_object_set_new(doc, "layers", layers);
	json_object_set_new(doc, "ssh_user", json_string(profile->bake.ssh_user));
	json_object_set_new(doc, "layer_dir", json_string(profile->bake.layer_dir));
	json_object_set_new(doc, "variables", variables_for_key(&profile->bake));
	json_object_set_new(doc, "checks", checks_for_key(&profile->validate));
	/*
	 * HTTP checks decide whether an image is made as much as the others do.
	 * Only when there are some: the keys of images baked before they existed
	 * stay what they were.
	 */
	if (profile->validate.nhttp > 0) {
		json_t *http = json_array();
		for (i = 0; i < profile->validate.nhttp; i++)
			json_array_append_new(
			    http, kiln_http_check_spec_json(&profile->validate.http[i]));
		json_object_set_new(doc, "http", http);
	}
	return doc;
}

void kiln_bake_key(char out[65], const struct kiln_profile *profile, const char *source_image_id,
                   const char *const commits[])
{
	json_t *doc = kiln_bake_key_inputs(profile, source_image_id, commits);
	char *text = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);

	if (text == NULL)
		kiln_die("cannot encode the bake key inputs");
	kiln_sha256_hex(out, text, strlen(text));
	free(text);
	json_decref(doc);
}
