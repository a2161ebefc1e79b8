/*
 * Typed specs of the profile's sections that stages read: `bake` (how the
 * image is made), `validate` (the checks), `deploy` (the rollout and its
 * smoke checks), `policy`, plus the profile's tags. They
 * are filled by kiln_profile_load() from the effective profile after
 * profiles/schema.c, the only validator, has accepted it: every value has the
 * type and range the schema gives and every default is filled in (see
 * profiles/README.md), so stages neither look keys up by string nor check
 * them again. Everything here belongs to the profile and lives as long as it.
 */
#ifndef KILN_PROFILES_SPEC_H
#define KILN_PROFILES_SPEC_H

#include <jansson.h>
#include <stddef.h>

/* A boolean, integer or optional modifier the profile does not set. */
#define KILN_UNSET (-1)

struct kiln_tag_spec {
	char *key;
	char *value;
};

/* An environment variable for provisioners; a secret never reaches a log. */
struct kiln_variable_spec {
	char *name;
	char *value;
	int secret;
};

/* The source image: an id, or a filter whose newest available match is used. */
struct kiln_source_image_spec {
	char *id;   /* "ami-...", or NULL for a filter */
	char *name; /* name filter (wildcards), or NULL */
	char **owners;
	size_t nowners;
	struct kiln_tag_spec *tags;
	size_t ntags;
};

enum kiln_host_key_check { KILN_HOST_KEY_STRICT, KILN_HOST_KEY_ACCEPT_NEW };

struct kiln_bake_spec {
	struct kiln_source_image_spec source_image;
	char *instance_type;
	char *ssh_user;
	int encrypted;
	char *kms_key_id; /* or NULL: the account's default key */
	enum kiln_host_key_check host_key_check;
	int ssh_timeout_s;
	int ssh_port;
	int timeout_s;                        /* the whole bake */
	int provision_timeout_s;              /* each provisioner */
	char *layer_dir;                      /* absolute, on the builder */
	struct kiln_variable_spec *variables; /* in file order */
	size_t nvariables;
};

enum kiln_check_kind {
	KILN_CHECK_FILE,
	KILN_CHECK_PACKAGE,
	KILN_CHECK_SERVICE,
	KILN_CHECK_PORT,
	KILN_CHECK_COMMAND,
	KILN_CHECK_USER,
	KILN_CHECK_GROUP,
};

/* One check; what the profile does not set is NULL or KILN_UNSET. */
struct kiln_check_spec {
	enum kiln_check_kind kind;
	char *subject; /* the path, package, service, command, user or group; NULL for a port */
	int port;      /* KILN_CHECK_PORT */
	char *name;    /* the check's own label */
	/* Booleans. */
	int exists, installed, running, enabled, listening;
	/* file */
	char *mode, *owner, *group, *contains, *sha256;
	/* command */
	int exit_code;
	char *stdout_contains; /* "stdout" in the profile */
	int timeout_s;
};

/*
 * An HTTP check: validate.http[] runs it on the machine itself (against
 * 127.0.0.1:port there), deploy.smoke[] from this host against a base URL.
 * The smoke-only fields are KILN_UNSET, NULL or 0 in validate.http.
 */
struct kiln_http_check_spec {
	char *name;     /* the check's own label, or NULL */
	char *path;     /* starts with '/' */
	int port;       /* validate.http: filled with deploy.instance_port when unset */
	int status;     /* the expected status: 200 unless set */
	char *contains; /* a substring of the body, or NULL */
	struct kiln_tag_spec *header; /* header name -> expected value, in file order */
	size_t nheader;
	int timeout_s; /* each attempt: 10 unless set */
	/* deploy.smoke only */
	int max_latency_ms;   /* KILN_UNSET: no bound */
	int retries;          /* further attempts after a failure: 0 unless set */
	char *host;           /* a Host header (name-based routing), or NULL */
	int follow_redirects; /* 0 unless set */
};

struct kiln_validate_spec {
	struct kiln_check_spec *checks;
	size_t nchecks;
	struct kiln_http_check_spec *http;
	size_t nhttp;
};

/* release_refs: the patterns a release ref must match in an environment ("*": any). */
struct kiln_ref_rule {
	char *env;
	char **patterns;
	size_t npatterns;
};

/*
 * Governance rules: a profile's `policy` section or an organisation's
 * policy file (validate/policy.h combines them). In a profile every rule has
 * its default; in a policy file a boolean the file does not set is
 * KILN_UNSET, and an empty list or a max_capacity of 0 sets nothing.
 */
struct kiln_policy_spec {
	int allow_internet_facing, require_encrypted, allow_fleet_ssh, require_signed_tags;
	char **allowed_instance_types;
	size_t nallowed_instance_types;
	int max_capacity; /* 0: no ceiling */
	char **required_tags;
	size_t nrequired_tags;
	char **allowed_image_owners;
	size_t nallowed_image_owners;
	char **allowed_regions;
	size_t nallowed_regions;
	char **allowed_repos; /* hosts, host/path prefixes or local path prefixes */
	size_t nallowed_repos;
	struct kiln_ref_rule *release_refs;
	size_t nrelease_refs;
	char *allowed_signers; /* an OpenSSH allowed_signers file, absolute; or NULL */
};

/* The target group's health check and the group's grace period. */
struct kiln_health_check_spec {
	char *path;
	int interval_s, timeout_s, healthy_threshold, unhealthy_threshold;
	char *matcher;      /* HTTP codes: "200", "200-299" */
	int grace_period_s; /* the Auto Scaling group's */
};

/*
 * `deploy`: the blue-green rollout (deploy/). Capacity is min <= desired <=
 * max and the ports distinct (schema.c checked both).
 */
struct kiln_deploy_spec {
	int port, test_port, instance_port;
	char *instance_type;
	int internet_facing;
	struct kiln_health_check_spec health;
	int capacity_min, capacity_desired, capacity_max;
	struct kiln_http_check_spec *smoke; /* after the swap, through each listener */
	size_t nsmoke;
	int keep_previous;
	int termination_wait_s; /* the previous group kept for an instant rollback */
	int timeout_s;          /* the new group's wait for healthy instances */
	int deregistration_delay_s;
	char **allowed_sources; /* CIDR blocks allowed to the listeners */
	size_t nallowed_sources;
	struct kiln_tag_spec *subnet_tags; /* none: the default VPC's default subnets */
	size_t nsubnet_tags;
	char *instance_profile; /* an IAM instance profile's name, or NULL */
	char *certificate_arn;  /* HTTPS on the production listener, or NULL */
};

/* The name of a kind as profiles write it ("file", "port", ...). */
const char *kiln_check_kind_name(enum kiln_check_kind kind);

/*
 * The check as the profile wrote it (the keys it set, with their values): the
 * bake key hashes it, reports print it. A new reference.
 */
json_t *kiln_check_spec_json(const struct kiln_check_spec *check);

/* The HTTP check as the profile wrote it, like kiln_check_spec_json(). */
json_t *kiln_http_check_spec_json(const struct kiln_http_check_spec *check);

/* Filling from the effective, checked profile (profiles/profile.c). */
void kiln_bake_spec_fill(struct kiln_bake_spec *out, const json_t *bake);
void kiln_validate_spec_fill(struct kiln_validate_spec *out, const json_t *validate);
void kiln_tag_specs_fill(struct kiln_tag_spec **out, size_t *n, const json_t *tags);
void kiln_deploy_spec_fill(struct kiln_deploy_spec *out, const json_t *deploy);
/*
 * `policy` as checked by the schema; allowed_signers is made absolute
 * against `dir`. With `defaults` (a profile) missing booleans are 0,
 * otherwise (a policy file) KILN_UNSET.
 */
void kiln_policy_spec_fill(struct kiln_policy_spec *out, const json_t *policy, const char *dir,
                           int defaults);
void kiln_bake_spec_release(struct kiln_bake_spec *spec);
void kiln_deploy_spec_release(struct kiln_deploy_spec *spec);
void kiln_policy_spec_release(struct kiln_policy_spec *spec);
void kiln_validate_spec_release(struct kiln_validate_spec *spec);
void kiln_tag_specs_free(struct kiln_tag_spec *tags, size_t n);

#endif
