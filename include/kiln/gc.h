/*
 * Garbage collection of what bakes left behind. Every temporary a bake
 * makes (builder instance, key pair, security group) is tagged
 * kiln:role=builder, kiln:run-id and kiln:expires, so gc works from the
 * cloud's tags alone: a lost journal or a killed kiln make no difference.
 * Instances go first (waited for until terminated), then key pairs, then
 * security groups.
 *
 * A sweep without a run id also collects what deploys leave for later
 * (kiln/deploy.h): previous Auto Scaling groups whose kiln:retire-at has
 * passed (never the live one), and deploy leases that expired.
 */
#ifndef KILN_GC_H
#define KILN_GC_H

#include <stddef.h>

#include "kiln/event.h"

#define KILN_GC_OPTIONS_VERSION 1

struct kiln_gc_options {
	unsigned int version; /* KILN_GC_OPTIONS_VERSION */
	/* Also collect the temporaries of this run, expired or not; NULL: expired only. */
	const char *run_id;
	/* "local" or "aws". NULL: the target the run's journal records (its
	 * first note), else "aws". */
	const char *target;
	const char *region; /* "aws": NULL for the run's, else the credential chain's */
	const char
	    *local_endpoint;    /* "local": NULL for the run's, $KILN_LOCAL_ENDPOINT, the default */
	const char *state_dir;  /* where run journals are; NULL: the default */
	int dry_run;            /* find and report, delete nothing */
	kiln_event_cb on_event; /* stage "gc" */
	void *payload;
};

#define KILN_GC_OPTIONS_INIT                                                                       \
	{                                                                                          \
		.version = KILN_GC_OPTIONS_VERSION                                                 \
	}

/* One resource found. */
struct kiln_gc_item {
	/* "instance", "key-pair", "security-group", "auto-scaling-group", "lease" */
	const char *kind;
	const char *id;
	const char *name;   /* key pairs and groups, else NULL */
	const char *run_id; /* its kiln:run-id, or NULL */
	const char *reason; /* "expired", "run" or "retired" */
	int deleted;
};

/* What gc found and did, and in which cloud. */
struct kiln_gc_report;

/*
 * Find the temporaries and (unless dry_run) delete them. A resource that
 * cannot be deleted does not stop the others; the call then fails with
 * KILN_ERROR and *out still holds the report. `opts` may be NULL.
 */
int kiln_gc(struct kiln_gc_report **out, const struct kiln_gc_options *opts);
/* The cloud gc worked in: "local" or "aws". */
const char *kiln_gc_report_target(const struct kiln_gc_report *report);
size_t kiln_gc_report_count(const struct kiln_gc_report *report);
/* The i-th resource (i < count) in deletion order, borrowed from the report. */
const struct kiln_gc_item *kiln_gc_report_item(const struct kiln_gc_report *report, size_t i);
void kiln_gc_report_free(struct kiln_gc_report *report);

#endif
