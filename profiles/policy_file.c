#include "profiles/policy_file.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/json.h"
#include "core/util.h"
#include "profiles/schema.h"

#include <string.h>

/* A policy file is a handful of rules: anything larger is not one. */
#define POLICY_FILE_MAX (1 << 20)

int kiln_policy_file_load(struct kiln_policy_file **out, const char *path)
{
	struct kiln_policy_file *pf = NULL;
	struct kiln_schema_ctx ctx = {0};
	struct kiln_buf text = KILN_BUF_INIT;
	json_t *root = NULL;
	char *dir = NULL;
	int error;

	KILN_ASSERT_ARG(out != NULL && path != NULL);
	*out = NULL;
	kiln_buf_init(&text, POLICY_FILE_MAX);
	kiln_buf_init(&ctx.problems, 1 << 20);
	pf = kiln_xcalloc(1, sizeof(*pf));
	pf->file = kiln_xstrdup(path);
	error = kiln_file_read(&text, path);
	if (error < 0) {
		char *why = kiln_xstrdup(kiln_error_last());
		if (error == KILN_ETOOBIG)
			kiln_error_set(KILN_EINVAL, "%s:1:1: policy file is larger than 1 MiB",
			               path);
		else
			kiln_error_set(KILN_EINVAL, "policy file: %s", why);
		free(why);
		error = KILN_EINVAL;
		goto done;
	}
	error = kiln_json_load_buf(&root, text.ptr, text.size, path);
	if (error < 0)
		goto done;
	error = kiln_json_posmap_build(&pf->pos, text.ptr, text.size);
	if (error < 0) {
		char *why = kiln_xstrdup(kiln_error_last());
		error = kiln_error_set(KILN_EINVAL, "%s:%s", path, why);
		free(why);
		goto done;
	}
	ctx.file = path;
	ctx.pos = &pf->pos;
	ctx.base_ptr = "";
	ctx.base_disp = "";
	kiln_schema_check_policy_file(&ctx, root);
	if (ctx.count > 0) {
		error = kiln_error_set(KILN_EINVAL, "%s", ctx.problems.ptr);
		goto done;
	}
	/* allowed_signers is relative to the policy file, as a profile's paths are to it. */
	dir = kiln_path_dirname(path);
	kiln_policy_spec_fill(&pf->spec, root, dir, 0);
	*out = pf;
	pf = NULL;
done:
	kiln_policy_file_free(pf);
	json_decref(root);
	free(dir);
	kiln_buf_release(&text);
	kiln_buf_release(&ctx.problems);
	return error;
}

void kiln_policy_file_free(struct kiln_policy_file *pf)
{
	if (pf == NULL)
		return;
	kiln_policy_spec_release(&pf->spec);
	kiln_json_posmap_release(&pf->pos);
	free(pf->file);
	free(pf);
}

char *kiln_policy_file_where(const struct kiln_policy_file *pf, const char *ptr)
{
	return kiln_json_posmap_where(&pf->pos, pf->file, NULL, ptr, 1);
}
