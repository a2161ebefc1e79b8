/*
 * An organisation's policy file (issue 14): one JSON object with the rules
 * of a profile's `policy` section, each optional, which profiles cannot
 * loosen (validate/policy.h combines the two). It is checked as a profile
 * is, every problem reported as "FILE:LINE:COL: message", and keeps its
 * positions so that a violation can point at the rule it breaks.
 */
#ifndef KILN_PROFILES_POLICY_FILE_H
#define KILN_PROFILES_POLICY_FILE_H

#include "profiles/position.h"
#include "profiles/spec.h"

struct kiln_policy_file {
	char *file; /* as given */
	struct kiln_policy_spec spec;
	struct kiln_json_posmap pos;
};

/*
 * Load and check `path`. KILN_EINVAL with every problem in the message (one
 * "FILE:LINE:COL: message" per line), a file that cannot be read included.
 */
int kiln_policy_file_load(struct kiln_policy_file **out, const char *path);
void kiln_policy_file_free(struct kiln_policy_file *pf);

/* "FILE:LINE:COL" of the rule at `ptr` ("/max_capacity") or of the file; free() it. */
char *kiln_policy_file_where(const struct kiln_policy_file *pf, const char *ptr);

#endif
