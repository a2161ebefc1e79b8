/*
 * The policy gate: what an organisation allows, checked before any cloud
 * call. `kiln bake`, `kiln validate` (and deploy, release and promote) run
 * it first; a violation stops them before they reach a cloud.
 *
 * Rules come from the profile's `policy` section and from an organisation
 * policy file (opts->policy_file, else $KILN_POLICY, else
 * /etc/kiln/policy.json when it exists) that a profile cannot loosen: where
 * both set a rule the stricter one applies, and a profile whose own policy
 * asks for more than the organisation allows is itself a violation, naming
 * both files. The rules: internet-facing load balancers, encrypted images,
 * fleet SSH, allowed instance types (bake and deploy), a capacity ceiling,
 * required tag keys, allowed source image owners, allowed regions, allowed
 * layer repositories (hosts, host/path prefixes, local path prefixes),
 * release refs per environment, and signed tags (every layer's tag signed
 * by a key of an OpenSSH allowed_signers file, verified as `git verify-tag`
 * does; this one fetches the layers' repositories, which is no cloud call).
 *
 * Every violation is one line "FILE:LINE:COL: policy: message (WHERE:
 * rule)", FILE:LINE:COL being the profile value that breaks the rule and
 * WHERE the rule's own place (the profile's policy section or the
 * organisation's file); all of them are reported.
 */
#ifndef KILN_POLICY_H
#define KILN_POLICY_H

#include "kiln/event.h"
#include "kiln/profile.h"
#include "kiln/report.h"

#define KILN_POLICY_OPTIONS_VERSION 1

struct kiln_policy_options {
	unsigned int version;    /* KILN_POLICY_OPTIONS_VERSION */
	const char *policy_file; /* NULL: $KILN_POLICY, else /etc/kiln/policy.json if present */
	/* The refs the stage will use instead of the profile's (kiln_bake_options'). */
	const char *app_ref;
	const char *os_ref;
	const char *cache_dir; /* where layers are fetched for signed tags; NULL: the default */
	/* Each rule judged is appended as a result of stage "policy"; may be NULL. */
	struct kiln_report *report;
	kiln_event_cb on_event; /* stage "policy" */
	void *payload;
};

#define KILN_POLICY_OPTIONS_INIT                                                                   \
	{                                                                                          \
		.version = KILN_POLICY_OPTIONS_VERSION                                             \
	}

/*
 * Judge `profile` (with its environment applied) against its policy and the
 * organisation's. 0 when it complies. KILN_EINVAL (bad input: exit 2) with
 * every violation in the message, one line each, or with the problems of a
 * policy file that does not load; KILN_ERROR when a layer's repository
 * cannot be fetched or ssh-keygen cannot run. `opts` may be NULL.
 */
int kiln_policy_check(const struct kiln_profile *profile, const struct kiln_policy_options *opts);

#endif
