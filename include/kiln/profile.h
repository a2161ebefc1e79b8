/*
 * Profiles: one JSON file per application (its layers, how to bake,
 * validate and deploy it). Loading checks the whole file before anything
 * else happens: syntax, types, required and unknown keys, values; then it
 * applies an environment's overrides and fills defaults.
 */
#ifndef KILN_PROFILE_H
#define KILN_PROFILE_H

struct kiln_profile;

/*
 * Load and check `path`, with `environments.<env>` applied when `env` is
 * not NULL. Bad input is KILN_EINVAL with every problem in the message, one
 * "FILE:LINE:COL: message" per line.
 */
int kiln_profile_load(struct kiln_profile **out, const char *path, const char *env);
void kiln_profile_free(struct kiln_profile *profile);

/* The profile's "name". */
const char *kiln_profile_name(const struct kiln_profile *profile);
/* Where it bakes and deploys: "local" (kiln's local cloud) or "aws". */
const char *kiln_profile_target(const struct kiln_profile *profile);
/* The environment applied, or NULL. */
const char *kiln_profile_env(const struct kiln_profile *profile);

#endif
