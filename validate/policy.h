/*
 * The policy gate (kiln/policy.h) inside the library: the organisation's
 * file as the gate finds it, the rules both sides combine into, and the
 * matching of layer repositories against allowed sources. The rules
 * themselves are validate/rules.c; signed tags validate/tagsig.c.
 */
#ifndef KILN_VALIDATE_POLICY_H
#define KILN_VALIDATE_POLICY_H

#include "core/buf.h"
#include "core/event.h"
#include "kiln/policy.h"
#include "profiles/policy_file.h"
#include "profiles/profile.h"

/*
 * The organisation's policy file: `given`, else $KILN_POLICY, else the
 * system file when it exists. *out is NULL when there is none.
 */
int kiln_policy_org_load(struct kiln_policy_file **out, const char *given);

/* What applies once a profile's policy and the organisation's are combined (deploy reads it). */
struct kiln_policy_effective {
	int allow_internet_facing;
	int allow_fleet_ssh;
	int require_encrypted;
	int require_signed_tags;
	int max_capacity; /* 0: none */
};
void kiln_policy_effective(struct kiln_policy_effective *out, const struct kiln_policy_spec *mine,
                           const struct kiln_policy_spec *org);

/* One run of the gate: what the rules read, and the violations they find. */
struct kiln_gate {
	const struct kiln_profile *p;
	const struct kiln_policy_spec *mine; /* the profile's */
	const struct kiln_policy_file *org;  /* or NULL */
	const struct kiln_policy_options *opts;
	struct kiln_emitter events;
	struct kiln_buf lines; /* every violation, one per line */
	size_t count;
	/* The rule being judged: its violations, for the report. */
	struct kiln_buf rule_lines;
	char *rule_first_at;
	size_t rule_count;
};

/*
 * Record a violation of the current rule at the profile's value `ptr`;
 * `rule_at` says where the rule is ("FILE:LINE:COL: name"), taken over.
 */
void kiln_gate_violation(struct kiln_gate *g, const char *ptr, char *rule_at, const char *fmt, ...)
    KILN_PRINTF(4, 5);
/* Where rule `key` is in the profile's policy ("FILE:L:C: policy.KEY", or "the default ..."). */
char *kiln_gate_mine_at(const struct kiln_gate *g, const char *key);
/* Where rule `ptr` ("/key" or "/key/i") is in the organisation's file. */
char *kiln_gate_org_at(const struct kiln_gate *g, const char *ptr);

/* rules.c: the static rules, each one judged and reported under its name. */
struct kiln_gate_rule {
	const char *name;
	void (*judge)(struct kiln_gate *g);
};
extern const struct kiln_gate_rule kiln_gate_rules[];
extern const size_t kiln_gate_nrules;

/* signed.c: require_signed_tags, which fetches the layers. KILN_ERROR when one cannot be. */
int kiln_gate_signed_tags(struct kiln_gate *g);

/* repos.c: whether layer repository `url` is within allowed source `entry`. */
int kiln_repo_allowed(const char *url, const char *entry);
/* Whether allowed source `inner` lies within `outer` (a profile cannot widen the organisation's).
 */
int kiln_repo_entry_within(const char *inner, const char *outer);

#endif
