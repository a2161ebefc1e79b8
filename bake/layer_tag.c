/*
 * The annotated tag object behind a layer's ref, as its raw bytes: what a
 * tag's signature covers (validate/tagsig.c verifies it).
 */
#include "bake/layer-int.h"
#include "bake/layer.h"
#include "core/buf.h"
#include "core/util.h"

#include <string.h>

/* A tag object is a few headers and a message: anything larger is not one kiln reads. */
#define TAG_OBJECT_MAX (1 << 20)

int kiln_layer_tag_object(struct kiln_buf *out, const struct kiln_layer *layer)
{
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	char *name = NULL;
	int gerr, error = 0;

	KILN_ASSERT_ARG(out != NULL && layer != NULL && layer->mirror != NULL);
	kiln_layer__git_setup();
	gerr = git_repository_open_bare(&repo, layer->mirror);
	if (gerr < 0) {
		error =
		    kiln_layer__git_fail(gerr, "layer '%s': cannot open its mirror", layer->name);
		goto done;
	}
	name = strncmp(layer->ref, "refs/tags/", 10) == 0
	           ? kiln_xstrdup(layer->ref)
	           : kiln_xasprintf("refs/tags/%s", layer->ref);
	gerr = git_reference_lookup(&ref, repo, name);
	if (gerr == GIT_ENOTFOUND || gerr == GIT_EINVALIDSPEC) {
		error = kiln_error_set(KILN_ENOTFOUND, "'%s' is not a tag", layer->ref);
		goto done;
	}
	if (gerr >= 0 && git_reference_type(ref) != GIT_REFERENCE_DIRECT)
		gerr = git_reference_resolve(&ref, ref);
	if (gerr >= 0)
		gerr = git_repository_odb(&odb, repo);
	if (gerr >= 0)
		gerr = git_odb_read(&obj, odb, git_reference_target(ref));
	if (gerr < 0) {
		error = kiln_layer__git_fail(gerr, "layer '%s': cannot read tag '%s'", layer->name,
		                             layer->ref);
		goto done;
	}
	if (git_odb_object_type(obj) != GIT_OBJECT_TAG) {
		error = kiln_error_set(KILN_ENOTFOUND,
		                       "'%s' is a lightweight tag, which carries no signature",
		                       layer->ref);
		goto done;
	}
	kiln_buf_clear(out);
	if (git_odb_object_size(obj) > TAG_OBJECT_MAX ||
	    kiln_buf_put(out, git_odb_object_data(obj), git_odb_object_size(obj)) < 0)
		error = kiln_error_set(KILN_ETOOBIG, "tag '%s' is larger than %d bytes", layer->ref,
		                       TAG_OBJECT_MAX);
done:
	git_odb_object_free(obj);
	git_odb_free(odb);
	git_reference_free(ref);
	git_repository_free(repo);
	free(name);
	return error;
}
