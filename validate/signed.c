/*
 * policy.require_signed_tags: every layer's ref is a tag signed by a key of
 * the allowed signers (the organisation's file and the profile's, each that
 * is set: a profile adds signers files, it cannot replace the
 * organisation's). The layers are fetched into the cache as a bake fetches
 * them; the signatures are checked by validate/tagsig.c.
 */
#include "bake/layer.h"
#include "core/common.h"
#include "validate/policy.h"
#include "validate/tagsig.h"

#include <string.h>

/* The layer's spec with the stage's ref, when it replaces the profile's. */
static struct kiln_layer_spec with_ref(const struct kiln_gate *g, const struct kiln_layer_spec *l)
{
	struct kiln_layer_spec s = *l;

	if (strcmp(l->name, "app") == 0 && g->opts->app_ref != NULL)
		s.ref = (char *)g->opts->app_ref;
	else if (strcmp(l->name, "os") == 0 && g->opts->os_ref != NULL)
		s.ref = (char *)g->opts->os_ref;
	return s;
}

/* The signers files to verify against, and where the rule that names each is. */
struct signers {
	const char *file[2];
	char *at[2];
	size_t n;
};

static void layer_check(struct kiln_gate *g, const struct signers *s,
                        const struct kiln_layer *layer, const char *ptr)
{
	struct kiln_buf obj = KILN_BUF_INIT;
	size_t i;
	int error;

	error = kiln_layer_tag_object(&obj, layer);
	if (error == KILN_ENOTFOUND) {
		kiln_gate_violation(g, ptr, kiln_xstrdup(s->at[0]),
		                    "layers.%s.ref: %s; signed tags are required", layer->name,
		                    kiln_error_last());
		goto done;
	}
	if (error < 0) {
		kiln_gate_violation(g, ptr, kiln_xstrdup(s->at[0]), "layers.%s.ref: %s",
		                    layer->name, kiln_error_last());
		goto done;
	}
	for (i = 0; i < s->n; i++) {
		char *principal = NULL;

		error = kiln_tagsig_verify(&principal, obj.ptr, obj.size, layer->ref, layer->commit,
		                           s->file[i]);
		if (error >= 0) {
			char *who = kiln_escape(principal);
			kiln_emit(&g->events, KILN_EVENT_PROGRESS, NULL,
			          "policy: tag %s of layer %s is signed by %s (%s)", layer->ref,
			          layer->name, who, s->file[i]);
			free(who);
		} else {
			kiln_gate_violation(g, ptr, kiln_xstrdup(s->at[i]), "layers.%s.ref: %s",
			                    layer->name, kiln_error_last());
		}
		kiln_error_clear();
		free(principal);
	}
done:
	kiln_error_clear();
	kiln_buf_release(&obj);
}

static int check_layers(struct kiln_gate *g, const struct signers *s)
{
	size_t i;
	int error = 0;

	for (i = 0; i < g->p->nlayers && error >= 0; i++) {
		struct kiln_layer_spec spec = with_ref(g, &g->p->layers[i]);
		struct kiln_layer *layer = NULL;
		char *lptr = kiln_json_ptr_child("/layers", spec.name);
		char *ptr = kiln_json_ptr_child(lptr, "ref");

		error = kiln_layer_resolve(&layer, &spec, g->opts->cache_dir);
		if (error == KILN_EINVAL) {
			/* A ref that is no tag at all (a branch, a missing tag) breaks the rule
			 * too. */
			kiln_gate_violation(g, ptr, kiln_xstrdup(s->at[0]), "%s",
			                    kiln_error_last());
			kiln_error_clear();
			error = 0;
		} else if (error >= 0) {
			layer_check(g, s, layer, ptr);
		}
		kiln_layer_free(layer);
		free(lptr);
		free(ptr);
	}
	return error < 0 ? kiln_error_prefix(error, "policy: checking signed tags") : 0;
}

int kiln_gate_signed_tags(struct kiln_gate *g)
{
	const struct kiln_policy_spec *org = g->org != NULL ? &g->org->spec : NULL;
	int by_org = org != NULL && org->require_signed_tags == 1;
	struct signers s = {{NULL, NULL}, {NULL, NULL}, 0};
	int error = 0;
	size_t i;

	if (!by_org && g->mine->require_signed_tags != 1)
		return 0;
	if (org != NULL && org->allowed_signers != NULL) {
		s.file[s.n] = org->allowed_signers;
		s.at[s.n++] = kiln_gate_org_at(g, "/allowed_signers");
	}
	if (g->mine->allowed_signers != NULL) {
		s.file[s.n] = g->mine->allowed_signers;
		s.at[s.n++] = kiln_gate_mine_at(g, "allowed_signers");
	}
	if (s.n == 0)
		kiln_gate_violation(
		    g, by_org ? "/policy" : "/policy/require_signed_tags",
		    by_org ? kiln_gate_org_at(g, "/require_signed_tags")
		           : kiln_gate_mine_at(g, "require_signed_tags"),
		    "signed tags are required, but no allowed_signers file says whose "
		    "signatures count");
	else
		error = check_layers(g, &s);
	for (i = 0; i < s.n; i++)
		free(s.at[i]);
	return error;
}
