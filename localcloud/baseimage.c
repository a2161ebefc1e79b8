/*
 * `kiln cloud image debootstrap|import`: build a layer under the state
 * directory, then ask the running daemon to register it as an image (the
 * daemon owns the state; this process only prepares files).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/client.h"
#include "core/paths.h"
#include "core/log.h"
#include "core/util.h"
#include "localcloud/cloud.h"
#include "localcloud/runtime-int.h"

static int register_layer(char **image_id, const char *endpoint, const char *name,
                          const char *layer_id, const char *login_user)
{
	struct kiln_aws_config cfg = {.region = KILN_CLOUD_REGION,
	                              .endpoint_url = endpoint,
	                              .access_key_id = KILN_CLOUD_ACCESS_KEY,
	                              .secret_access_key = KILN_CLOUD_SECRET_KEY};
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_aws *aws = NULL;
	struct kiln_xml *x = NULL;
	const char *id;
	int rc;

	rc = kiln_aws_new(&aws, &cfg);
	if (rc < 0)
		return rc;
	kiln_query_add(&q, "Name", name);
	kiln_query_add(&q, "LayerId", layer_id);
	kiln_query_add(&q, "LoginUser", login_user);
	rc = kiln_aws_query(&x, aws, KILN_AWS_EC2, "KilnRegisterLayerImage", &q);
	if (rc == 0) {
		id = kiln_xml_text(x, kiln_xml_root(x), "imageId");
		if (id == NULL || *id == '\0')
			rc = kiln_error_set(KILN_EINVAL, "the local cloud returned no image id");
		else
			*image_id = kiln_xstrdup(id);
	}
	kiln_xml_free(x);
	kiln_query_release(&q);
	kiln_aws_free(aws);
	return rc;
}

typedef int (*build_fn)(const char *layer_dir, const char *arg, const char *cache);

static int build_debootstrap(const char *layer_dir, const char *suite, const char *cache)
{
	return lc_layer_debootstrap(layer_dir, suite, cache);
}

static int build_import(const char *layer_dir, const char *source, const char *cache)
{
	(void)cache;
	return lc_layer_import(layer_dir, source);
}

static int make_image(char **image_id, const char *state_dir, const char *name, build_fn build,
                      const char *arg)
{
	char *endpoint = NULL, *cache = NULL, *layers = NULL, *layer_dir = NULL, *layer_id = NULL;
	int rc;

	*image_id = NULL;
	state_dir = kiln_paths_cloud_state(state_dir);
	/* fail before minutes of work when nobody will take the image */
	rc = kiln_cloud_endpoint(&endpoint, state_dir);
	if (rc < 0)
		return rc;
	rc = kiln_paths_cache(&cache);
	if (rc < 0)
		goto out;
	layers = kiln_path_join(state_dir, "layers");
	layer_id = kiln_id_random("layer-", 17);
	layer_dir = kiln_path_join(layers, layer_id);
	rc = build(layer_dir, arg, cache);
	if (rc < 0)
		goto out;
	rc = register_layer(image_id, endpoint, name, layer_id, "root");
	if (rc < 0) {
		int code = kiln_error_last_code();
		char *msg = kiln_xstrdup(kiln_error_last());
		kiln_rm_rf(layer_dir);
		kiln_error_set(code, "%s", msg);
		free(msg);
	}
out:
	free(endpoint);
	free(cache);
	free(layers);
	free(layer_dir);
	free(layer_id);
	return rc;
}

int kiln_cloud_image_debootstrap(char **image_id, const char *state_dir, const char *name,
                                 const char *suite)
{
	return make_image(image_id, state_dir, name, build_debootstrap, suite ? suite : "bookworm");
}

int kiln_cloud_image_import(char **image_id, const char *state_dir, const char *name,
                            const char *source)
{
	return make_image(image_id, state_dir, name, build_import, source);
}
