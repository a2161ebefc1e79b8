/*
 * Typed specs of the profile's sections that stages read: `bake` (how the
 * image is made) and `validate` (the checks), plus the profile's tags. They
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

struct kiln_validate_spec {
	struct kiln_check_spec *checks;
	size_t nchecks;
};

/* The name of a kind as profiles write it ("file", "port", ...). */
const char *kiln_check_kind_name(enum kiln_check_kind kind);

/*
 * The check as the profile wrote it (the keys it set, with their values): the
 * bake key hashes it, reports print it. A new reference.
 */
json_t *kiln_check_spec_json(const struct kiln_check_spec *check);

/* Filling from the effective, checked profile (profiles/profile.c). */
void kiln_bake_spec_fill(struct kiln_bake_spec *out, const json_t *bake);
void kiln_validate_spec_fill(struct kiln_validate_spec *out, const json_t *validate);
void kiln_tag_specs_fill(struct kiln_tag_spec **out, size_t *n, const json_t *tags);
void kiln_bake_spec_release(struct kiln_bake_spec *spec);
void kiln_validate_spec_release(struct kiln_validate_spec *spec);
void kiln_tag_specs_free(struct kiln_tag_spec *tags, size_t n);

#endif
