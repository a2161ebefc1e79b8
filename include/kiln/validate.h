/*
 * Validate: a profile's policy, an image's tests, and smoke checks against
 * a server, with a report CI can read (kiln/report.h).
 *
 * The policy gate (kiln/policy.h) always runs first; on a violation nothing
 * else happens and no cloud is called. With `image_id`, an image test: a
 * throwaway instance of the image (a temporary key pair and security group,
 * tagged as a bake's builder is, so that `kiln gc` finds whatever a crash
 * leaves) is reached over SSH with its host key checked against its
 * console, runs the profile's validate.checks and validate.http, and is
 * removed on every path. With `url`, the profile's deploy.smoke checks run
 * from this host against that base URL (read-only). A check never runs on
 * a fleet instance: fleet instances have no SSH.
 */
#ifndef KILN_VALIDATE_H
#define KILN_VALIDATE_H

#include "kiln/event.h"
#include "kiln/profile.h"
#include "kiln/report.h"

#define KILN_VALIDATE_OPTIONS_VERSION 1

struct kiln_validate_options {
	unsigned int version;    /* KILN_VALIDATE_OPTIONS_VERSION */
	const char *policy_file; /* as kiln_policy_options' */
	const char *app_ref;     /* the release being validated ("app" layer), or NULL */
	const char *os_ref;      /* the "os" layer's, or NULL */
	const char *image_id;    /* run the image test on this image ("ami-..."), or NULL */
	const char *url;         /* run deploy.smoke against this base URL, or NULL */
	const char *state_dir;   /* run journals; NULL: $KILN_STATE_DIR or the default */
	const char *cache_dir;   /* layer mirrors (signed tags); NULL: the default */
	/* "target": "local", as kiln_bake_options' fields of the same names. */
	const char *local_endpoint;
	const char *local_cidr;
	const char *local_init_exe;
	const char *ssh_cidr; /* the source range allowed into the instance; as the bake's */
	/* When it becomes non-zero (a signal handler), the test stops, cleans up
	 * and fails with KILN_EINTR. */
	volatile int *stop;
	kiln_event_cb on_event; /* stage "validate" (and "policy") */
	void *payload;
};

#define KILN_VALIDATE_OPTIONS_INIT                                                                 \
	{                                                                                          \
		.version = KILN_VALIDATE_OPTIONS_VERSION                                           \
	}

/*
 * Validate `profile`. `report` (made with kiln_report_new()) receives every
 * result, whatever the outcome. 0 when everything passed; KILN_EINVAL for a
 * policy violation or bad input (nothing else ran); KILN_ERROR when a check
 * failed or the cloud did (the message says which); KILN_EINTR when stopped.
 */
int kiln_validate(struct kiln_report *report, struct kiln_profile *profile,
                  const struct kiln_validate_options *opts);

#define KILN_SMOKE_OPTIONS_VERSION 1

struct kiln_smoke_options {
	unsigned int version; /* KILN_SMOKE_OPTIONS_VERSION */
	/* The events' stage (a deploy's: "deploy"); NULL: "smoke". Their step is "smoke". */
	const char *event_stage;
	/* When it becomes non-zero (a signal handler), the checks stop: KILN_EINTR. */
	volatile int *stop;
	kiln_event_cb on_event; /* a PROGRESS line per check; no STAGE_START/END */
	void *payload;
};

#define KILN_SMOKE_OPTIONS_INIT                                                                    \
	{                                                                                          \
		.version = KILN_SMOKE_OPTIONS_VERSION                                              \
	}

/*
 * Run `profile`'s deploy.smoke checks against `base_url` ("http://host:port"
 * with an optional path prefix: a listener, any server), from this host,
 * read-only, each retried as the check says. No policy, no cloud call: the
 * caller (a deploy after its swap) ran the gate already. Each result goes
 * into `report` (stage "smoke"; may be NULL). 0 when all passed, or when
 * the profile has none; KILN_ERROR naming each failure with what was found;
 * KILN_EINVAL when `base_url` is not an http(s) URL (nothing ran);
 * KILN_EINTR when stopped. `opts` may be NULL. This signature is stable.
 */
int kiln_validate_smoke(struct kiln_report *report, const struct kiln_profile *profile,
                        const char *base_url, const struct kiln_smoke_options *opts);

#endif
