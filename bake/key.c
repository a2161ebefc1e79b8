#include "bake/key.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/json.h"
#include "core/util.h"

#include <string.h>

static json_t *variables_for_key(const json_t *vars)
{
	json_t *out = json_object();
	const char *name;
	json_t *v;

	json_object_foreach((json_t *)vars, name, v)
	{
		if (json_is_string(v))
			json_object_set_new(out, name, json_string(json_string_value(v)));
		else if (kiln_json_bool(v, "secret", 0))
			json_object_set_new(out, name, json_string("(secret)"));
		else
			json_object_set_new(out, name, json_string(kiln_json_str(v, "value")));
	}
	return out;
}

json_t *kiln_bake_key_inputs(const struct kiln_profile *profile, const char *source_image_id,
                             const char *const commits[])
{
	const json_t *bake = json_object_get(profile->json, "bake");
	const json_t *validate = json_object_get(profile->json, "validate");
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
	json_object_set_new(doc, "ssh_user", json_string(kiln_json_str(bake, "ssh_user")));
	json_object_set_new(doc, "layer_dir", json_string(kiln_json_str(bake, "layer_dir")));
	json_object_set_new(doc, "variables",
	                    variables_for_key(json_object_get(bake, "variables")));
	json_object_set_new(doc, "checks", json_deep_copy(json_object_get(validate, "checks")));
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
