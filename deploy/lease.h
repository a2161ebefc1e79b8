/*
 * The deploy lease: one deploy at a time per profile and environment,
 * across machines and CI runners. It is an SSM parameter
 * (/kiln/lease/<profile>/<env>) created only if absent (PutParameter
 * without Overwrite) whose value says who holds it: run id, caller identity
 * (from STS), host, process and expiry. Besides it, a local lock under the
 * state directory serialises the deploys of one machine.
 *
 * A lease is broken only when it has expired, or when it was taken on this
 * host by a process that no longer exists (kill -9): holding the local
 * lock proves no live deploy of this machine holds it. After creating the
 * parameter the holder reads it back, so that two runs breaking one expired
 * lease at once cannot both believe they won. While the deploy runs it
 * renews the lease (kiln_lease_renew() in every wait), checking it still
 * holds it; a run that lost its lease stops before it changes traffic.
 * Expired leases that nobody released are removed by `kiln gc`.
 */
#ifndef KILN_DEPLOY_LEASE_H
#define KILN_DEPLOY_LEASE_H

#include "aws/client.h"
#include "core/event.h"
#include "core/lock.h"

/* How long a lease holds without renewal, and when it is renewed. */
#define KILN_LEASE_TTL   300.0
#define KILN_LEASE_RENEW 60.0

/* Who holds a lease, as its parameter says. */
struct kiln_lease_holder {
	char *run_id;
	char *caller; /* an ARN */
	char *host;
	long pid;
	double started; /* seconds since the epoch */
	double expires;
};

struct kiln_deploy_lease {
	struct kiln_aws *aws; /* borrowed */
	char *name;           /* the parameter */
	char *run_id;
	char *caller;
	char *host;
	double expires;  /* of our hold, seconds since the epoch */
	double renew_at; /* kiln_time_mono() */
	struct kiln_lock local;
	int held;
};

#define KILN_DEPLOY_LEASE_INIT                                                                     \
	{                                                                                          \
		.local = KILN_LOCK_INIT                                                            \
	}

struct kiln_lease_request {
	const char *profile;
	const char *env;
	const char *run_id;
	const char *caller;    /* who we are (STS), for the holder's record */
	const char *state_dir; /* NULL: the default */
	double wait;           /* seconds to wait for a holder to finish; 0: fail at once */
	volatile int *stop;
};

/*
 * Take the lease. When a live holder has it beyond `wait`, KILN_ERROR
 * naming the holder (run, caller, host, process, expiry). Breaking a dead
 * or expired holder's lease is said as a warning on `ev`.
 */
int kiln_lease_acquire(struct kiln_deploy_lease *l, struct kiln_aws *aws,
                       const struct kiln_lease_request *req, const struct kiln_emitter *ev);
/* Renew when due (cheap otherwise); KILN_ERROR when another run holds it now. */
int kiln_lease_renew(struct kiln_deploy_lease *l);
/* Give it back (the parameter deleted if it is still ours) and free `l`'s contents. */
void kiln_lease_release(struct kiln_deploy_lease *l);

/* The holder of lease `name`; KILN_ENOTFOUND when nobody holds it. */
int kiln_lease_read(struct kiln_lease_holder *out, struct kiln_aws *aws, const char *name);
/* Parse a lease's value; KILN_EINVAL when it is not one. */
int kiln_lease_parse(struct kiln_lease_holder *out, const char *value);
void kiln_lease_holder_release(struct kiln_lease_holder *h);
/* "run R (CALLER on HOST, pid N) until TIME", for messages; free() it. */
char *kiln_lease_holder_describe(const struct kiln_lease_holder *h);

#endif
