/*
 * Internals shared by the steps of the bake (pipeline.c, image.c,
 * provision.c, checks.c): one struct bake per run.
 */
#ifndef KILN_BAKE_PIPELINE_INT_H
#define KILN_BAKE_PIPELINE_INT_H

#include "aws/shapes.h"
#include "bake/builder.h"
#include "bake/layer.h"
#include "bake/pipeline.h"
#include "core/event.h"
#include "core/journal.h"
#include "kiln/report.h"
#include "ssh/session.h"

struct bake {
	struct kiln_aws *aws;
	struct kiln_profile *profile;
	const struct kiln_bake_options *opts;
	struct kiln_emitter events; /* stage "bake": the caller's callback */
	struct kiln_manifest *m;
	const struct kiln_bake_spec *bake; /* the profile's, borrowed */
	volatile int *stop;
	double deadline; /* of the whole bake, kiln_time_mono() */
	double step_start;

	struct kiln_layer **layers;
	char *source_image_id;
	char *root_device;
	char key[65];
	char *run_id;
	char *commits; /* the events' "LAYER=COMMIT ..." once the layers are resolved */
	char *caller;  /* the events' STS identity, once asked */
	const char *app_ref, *os_ref; /* borrowed from the profile's layers */
	const char *endpoint;         /* of the local cloud, NULL for AWS */
	int lookup_only;              /* kiln_bake_lookup_run(): never build a base image */

	struct kiln_journal *journal;
	struct kiln_builder builder; /* the temporary machine (bake/builder.h) */
	char *image_id;              /* created, not yet known to be available */
	struct kiln_report *report;  /* the caller's, or NULL */
};

/* One line of progress for people: a KILN_EVENT_PROGRESS event. */
void kiln_bake__say(const struct bake *b, const char *fmt, ...) KILN_PRINTF(2, 3);

/* What kiln_bake__on_line() needs: the bake, and whose output it is. */
struct kiln_bake_line {
	const struct bake *b;
	const char *label;
};
/* An exec's on_line: each line of a remote command as a KILN_EVENT_OUTPUT event. */
void kiln_bake__on_line(void *payload, enum kiln_ssh_stream stream, const char *line, size_t len);
/* Seconds left of the whole bake (at least 1). */
double kiln_bake__left(const struct bake *b);
/* Journal an event; a journal that cannot be written fails the bake. */
int kiln_bake__journal(struct bake *b, const char *event, const char *kind, const char *token,
                       const char *id);

/* image.c */
int kiln_bake__image_create(struct bake *b);
/* Remove the temporaries (and an image that never became available). */
void kiln_bake__cleanup(struct bake *b, int failed);

/* provision.c */
int kiln_bake__upload(struct bake *b);
int kiln_bake__provision(struct bake *b);

/* checks.c: the profile's checks on the builder, in one command. */
int kiln_bake__checks(struct bake *b);
/* Take the temporary key off the builder and close the session. */
int kiln_bake__ssh_finish(struct bake *b);

#ifdef KILN_UNITTEST
/* Decompress the .tar.zst `from` into `fo` (named `to` in messages). */
int unzstd_fd(const char *from, int fo, const char *to);
#endif

#endif
