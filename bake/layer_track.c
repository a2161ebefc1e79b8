/*
 * A tracking layer's ref: the newest tag of its mirror that matches the
 * layer's `track` pattern, in the order of bake/tag_order.h.
 */
#include "bake/layer-int.h"
#include "bake/tag_order.h"
#include "core/util.h"

#include <string.h>

int kiln_layer__newest_tag(char **out, git_repository *repo, const char *pattern,
                           const char *layer_name)
{
	git_strarray tags = {0};
	const char *best;
	char *shown;
	int gerr, error = 0;

	*out = NULL;
	gerr = git_tag_list(&tags, repo);
	if (gerr < 0)
		return kiln_layer__git_fail(gerr, "layer '%s': cannot list its tags", layer_name);
	best = kiln_tag_order_newest(pattern, (const char *const *)tags.strings, tags.count);
	if (best != NULL) {
		*out = kiln_xstrdup(best);
	} else {
		shown = kiln_escape(pattern);
		error =
		    kiln_error_set(KILN_EINVAL, "layer '%s': no tag matches track '%s' (%zu tags)",
		                   layer_name, shown, tags.count);
		free(shown);
	}
	git_strarray_dispose(&tags);
	return error;
}
