/*
 * Every directory kiln resolves, in one place. Each resolver follows the
 * same order: an explicit value (a flag or an option), then kiln's own
 * environment variable, then the XDG variable, then a path under $HOME
 * (or, for the local cloud, a system path). Results belong to the caller.
 *
 *   cache        KILN_CACHE, $XDG_CACHE_HOME/kiln, ~/.cache/kiln
 *                (layer mirrors and archives; the local cloud's base images)
 *   state        KILN_STATE_DIR, $XDG_STATE_HOME/kiln, ~/.local/state/kiln
 *                (run journals, locks)
 *   cloud state  KILN_CLOUD_STATE_DIR, /var/lib/kiln/cloud
 *                (the local cloud's daemon: state.json, layers, instances)
 */
#ifndef KILN_CORE_PATHS_H
#define KILN_CORE_PATHS_H

#define KILN_CLOUD_DEFAULT_STATE_DIR "/var/lib/kiln/cloud"

/* The cache directory; KILN_EINVAL when neither the variables nor HOME are set. */
int kiln_paths_cache(char **out);
/* The state directory: `given` when not NULL or empty, else as above. */
int kiln_paths_state(char **out, const char *given);
/*
 * The local cloud's state directory: `given` when not NULL or empty, else as
 * above. Borrowed: `given`, the environment's value or a literal.
 */
const char *kiln_paths_cloud_state(const char *given);
/* A subdirectory of the cache ("localcloud", "layers"), not created. */
int kiln_paths_cache_sub(char **out, const char *sub);

#endif
