/*
 * kiln layers PROFILE: resolve every layer of a profile to a commit and pack
 * it into a reproducible archive, printing what was made.
 */
#include "cli/cli.h"

#include <string.h>

#include "bake/layer.h"
#include "profiles/profile.h"

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

/* "--opt VALUE" or "--opt=VALUE"; returns 1 when argv[*i] was it. */
static json_t *layer_json(const struct kiln_layer *l)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "name", l->name, "repo", l->repo,
	                 "ref", l->ref, "commit", l->commit, "path", l->archive, "size",
	                 (json_int_t)l->size, "sha256", l->sha256);
}

static void layer_print(const struct kiln_layer *l)
{
	printf("%s\n  repo    %s\n  ref     %s\n  commit  %s\n  path    %s\n  size   "
	       " %llu\n"
	       "  sha256  %s\n",
	       l->name, l->repo, l->ref, l->commit, l->archive, (unsigned long long)l->size,
	       l->sha256);
}

int cmd_layers(struct kiln_cli *cli, int argc, char **argv)
{
	const char *file = NULL, *env = NULL, *out_dir = NULL;
	struct kiln_profile *profile = NULL;
	struct kiln_layer **layers = NULL;
	json_t *list = NULL;
	size_t n;
	int i, r, error = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if ((r = cli_option_value(&env, "--env", argc, argv, &i)) != 0 ||
		    (r = cli_option_value(&out_dir, "--out", argc, argv, &i)) != 0) {
			if (r < 0)
				return cli_usage_error("option '%s' needs a value", argv[i]);
			continue;
		}
		r = cli_global_option(cli, argc, argv, &i);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		if (argv[i][0] == '-' && argv[i][1] != '\0')
			return cli_usage_error("unknown option '%s' for 'kiln layers'", argv[i]);
		if (file != NULL)
			return cli_usage_error("'kiln layers' takes one profile, not '%s'",
			                       argv[i]);
		file = argv[i];
	}
	if (file == NULL)
		return cli_usage_error("'kiln layers' needs a profile; see 'kiln layers --help'");

	error = kiln_profile_load(&profile, file, env);
	if (error < 0)
		goto done;
	/*
	 * Resolve every layer before packing any: a bad ref anywhere fails the
	 * command before it writes or prints anything.
	 */
	layers = kiln_xcalloc(profile->nlayers, sizeof(*layers));
	for (n = 0; n < profile->nlayers; n++) {
		error = kiln_layer_resolve(&layers[n], &profile->layers[n], NULL);
		if (error < 0)
			goto done;
	}
	for (n = 0; n < profile->nlayers; n++) {
		error = kiln_layer_pack(layers[n], out_dir);
		if (error < 0)
			goto done;
	}
	list = json_array();
	for (n = 0; n < profile->nlayers; n++) {
		if (cli->json)
			json_array_append_new(list, layer_json(layers[n]));
		else
			layer_print(layers[n]);
	}
	if (cli->json)
		error = kiln_json_print(stdout, list);
done:
	for (n = 0; layers != NULL && n < profile->nlayers; n++)
		kiln_layer_free(layers[n]);
	free(layers);
	json_decref(list);
	kiln_profile_free(profile);
	return error < 0 ? cli_fail(error) : 0;
}
