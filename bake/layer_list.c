/*
 * The public face of layers (kiln/layer.h): all the layers of a profile,
 * resolved then packed, and read access to each.
 */
#include "bake/layer.h"
#include "core/common.h"

int kiln_layer_list_resolve(struct kiln_layer_list **out, const struct kiln_profile *profile,
                            const char *cache_dir)
{
	struct kiln_layer_list *list;
	int error = 0;

	KILN_ASSERT_ARG(out != NULL && profile != NULL);
	*out = NULL;
	list = kiln_xcalloc(1, sizeof(*list));
	list->v = kiln_xcalloc(profile->nlayers + 1, sizeof(*list->v));
	for (list->n = 0; list->n < profile->nlayers; list->n++) {
		error = kiln_layer_resolve(&list->v[list->n], &profile->layers[list->n], cache_dir);
		if (error < 0)
			goto done;
	}
	*out = list;
	list = NULL;
done:
	kiln_layer_list_free(list);
	return error;
}

int kiln_layer_list_pack(struct kiln_layer_list *list, const char *out_dir)
{
	size_t i;
	int error;

	KILN_ASSERT_ARG(list != NULL);
	for (i = 0; i < list->n; i++) {
		error = kiln_layer_pack(list->v[i], out_dir);
		if (error < 0)
			return error;
	}
	return 0;
}

size_t kiln_layer_list_count(const struct kiln_layer_list *list)
{
	return list->n;
}

const struct kiln_layer *kiln_layer_list_get(const struct kiln_layer_list *list, size_t i)
{
	KILN_ASSERT_ARG(i < list->n);
	return list->v[i];
}

void kiln_layer_list_free(struct kiln_layer_list *list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < list->n; i++)
		kiln_layer_free(list->v[i]);
	free(list->v);
	free(list);
}

const char *kiln_layer_name(const struct kiln_layer *layer)
{
	return layer->name;
}

const char *kiln_layer_repo(const struct kiln_layer *layer)
{
	return layer->repo;
}

const char *kiln_layer_ref(const struct kiln_layer *layer)
{
	return layer->ref;
}

const char *kiln_layer_commit(const struct kiln_layer *layer)
{
	return layer->commit;
}

const char *kiln_layer_archive(const struct kiln_layer *layer)
{
	return layer->archive;
}

uint64_t kiln_layer_size(const struct kiln_layer *layer)
{
	return layer->size;
}

const char *kiln_layer_sha256(const struct kiln_layer *layer)
{
	return layer->sha256;
}
