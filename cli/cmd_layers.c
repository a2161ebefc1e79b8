/*
 * kiln layers PROFILE: resolve every layer of a profile to a commit and pack
 * it into a reproducible archive, printing what was made.
 */
#include "cli/cli.h"

#include <string.h>

#include "core/json.h"
#include "kiln.h"

static const char usage[] =
    "usage: kiln layers PROFILE [--env E] [--out DIR] [--json]\n"
    "\n"
    "Fetch each layer's repository into the cache, resolve its ref (a tag or "
    "a\n"
    "full commit id; branches are refused) and write its tree as a "
    "reproducible\n"
    "archive NAME-COMMIT12.tar.zst. Prints, for each layer, its name, repo, "
    "ref,\n"
    "commit, archive path, size and sha256.\n"
    "\n"
    "options:\n"
    "  --env E     apply the profile's environment E\n"
    "  --out DIR   write the archives into DIR (default: $KILN_CACHE/layers)\n"
    "  --json      print a JSON array of {name, repo, ref, commit, path, size, "
    "sha256}\n"
    "\n"
    "The cache is $KILN_CACHE, else $XDG_CACHE_HOME/kiln, else "
    "~/.cache/kiln.\n";

static json_t *layer_json(const struct kiln_layer *l)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "name", kiln_layer_name(l), "repo",
	                 kiln_layer_repo(l), "ref", kiln_layer_ref(l), "commit",
	                 kiln_layer_commit(l), "path", kiln_layer_archive(l), "size",
	                 (json_int_t)kiln_layer_size(l), "sha256", kiln_layer_sha256(l));
}

static void layer_print(const struct kiln_layer *l)
{
	printf("%s\n  repo    %s\n  ref     %s\n  commit  %s\n  path    %s\n  size   "
	       " %llu\n"
	       "  sha256  %s\n",
	       kiln_layer_name(l), kiln_layer_repo(l), kiln_layer_ref(l), kiln_layer_commit(l),
	       kiln_layer_archive(l), (unsigned long long)kiln_layer_size(l), kiln_layer_sha256(l));
}

int cmd_layers(struct kiln_cli *cli, int argc, char **argv)
{
	const char *file = NULL, *env = NULL, *out_dir = NULL;
	const struct cli_opt options[] = {
	    {"--env", NULL, CLI_VALUE, &env, NULL},
	    {"--out", NULL, CLI_VALUE, &out_dir, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"layers", usage, options, &file, 1, "one profile"};
	struct kiln_profile *profile = NULL;
	struct kiln_layer_list *layers = NULL;
	json_t *list = NULL;
	size_t i, n;
	int r, error = 0;

	r = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (r != 0)
		return r == 1 ? 0 : r;
	if (file == NULL)
		return cli_usage_error("'kiln layers' needs a profile; see 'kiln layers --help'");

	error = kiln_profile_load(&profile, file, env);
	if (error < 0)
		goto done;
	/*
	 * Every layer is resolved before any is packed: a bad ref anywhere fails
	 * the command before it writes or prints anything.
	 */
	error = kiln_layer_list_resolve(&layers, profile, NULL);
	if (error < 0)
		goto done;
	error = kiln_layer_list_pack(layers, out_dir);
	if (error < 0)
		goto done;
	list = json_array();
	for (i = 0; i < kiln_layer_list_count(layers); i++) {
		if (cli->json)
			json_array_append_new(list, layer_json(kiln_layer_list_get(layers, i)));
		else
			layer_print(kiln_layer_list_get(layers, i));
	}
	if (cli->json)
		error = kiln_json_print(stdout, list);
done:
	kiln_layer_list_free(layers);
	json_decref(list);
	kiln_profile_free(profile);
	return error < 0 ? cli_fail(error) : 0;
}
