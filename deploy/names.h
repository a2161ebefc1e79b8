/*
 * Names of what a deploy makes for one profile and environment. Everything
 * is found again by these names and by tags, never from local files alone,
 * so each name is a pure function of the profile's name and environment
 * (and, for a group, of its colour, release and run). Names fit AWS's
 * limits: load balancers and target groups at most 32 characters of
 * letters, digits and '-', not starting or ending with '-'. A name that
 * would be longer keeps its start and ends in six hex digits of the sha256
 * of the whole, so that two environments never share one.
 */
#ifndef KILN_DEPLOY_NAMES_H
#define KILN_DEPLOY_NAMES_H

#include <stddef.h>

/* The two colours of a blue-green deploy. */
enum kiln_deploy_color { KILN_BLUE = 0, KILN_GREEN = 1 };

/* "blue" or "green". */
const char *kiln_color_name(int color);
/* KILN_BLUE, KILN_GREEN, or -1 for anything else (NULL included). */
int kiln_color_parse(const char *name);

/* The environment a profile deploys to: its own, else "default". */
const char *kiln_deploy_env_name(const char *env);

/*
 * "kiln-<profile>-<env>-<suffix>" (without "-<suffix>" when `suffix` is NULL)
 * fitted into `limit` characters as said above. free() the result.
 */
char *kiln_deploy_name(const char *profile, const char *env, const char *suffix, size_t limit);

/*
 * A group's name: "kiln-<profile>-<env>-<colour>-<release>-<run>", the
 * release reduced to letters, digits, '.', '-' and '_', at most 255
 * characters. free() the result.
 */
char *kiln_deploy_group_name(const char *profile, const char *env, int color, const char *release,
                             const char *run_id);

/* The SSM parameter of the deploy lease: "/kiln/lease/<profile>/<env>". free() it. */
char *kiln_deploy_lease_name(const char *profile, const char *env);

/* Where leases live, for listing: "/kiln/lease". */
#define KILN_DEPLOY_LEASE_PATH "/kiln/lease"

#endif
