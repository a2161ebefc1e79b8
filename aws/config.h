/*
 * The AWS shared config and credentials files (AWS_CONFIG_FILE, default
 * ~/.aws/config, with "[profile NAME]" sections; AWS_SHARED_CREDENTIALS_FILE,
 * default ~/.aws/credentials, with "[NAME]" sections), read as the SDKs read
 * them: one profile's settings merged, the credentials file winning, nested
 * "service =" blocks skipped. The values can be secrets: they are wiped
 * when the profile is released.
 */
#ifndef KILN_AWS_CONFIG_H
#define KILN_AWS_CONFIG_H

#include "core/common.h"

/* The merged settings of one profile (config file first, credentials file over it). */
struct kiln_aws_profile {
	char *name;
	char **keys;
	char **values;
	size_t count;
	int found; /* whether either file has the profile */
};

/*
 * Load profile `name` (NULL: AWS_PROFILE, else "default") from the shared
 * files. A missing file is no error; a profile absent from both leaves
 * found = 0.
 */
int kiln_aws_profile_load(struct kiln_aws_profile *out, const char *name);
void kiln_aws_profile_release(struct kiln_aws_profile *p);
/* A setting of the profile, or NULL. Values from the credentials file win. */
const char *kiln_aws_profile_get(const struct kiln_aws_profile *p, const char *key);
/* The profile name the chain uses: `name`, else AWS_PROFILE, else "default". */
const char *kiln_aws_profile_name(const char *name);

#endif
