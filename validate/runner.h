/*
 * The profile's checks on a machine over SSH (DESIGN.md §7): the builder of
 * a bake, or the throwaway instance of an image test. Every SSH command
 * costs the machine a session (tens of milliseconds: sshd forks, a shell
 * starts), so one shell runs each check's script in turn (validate.checks,
 * then validate.http), each under its own time limit, and ends each with
 * the line "<nonce> <index> <status>". The nonce is new for every run: a
 * check's output that happens to look like an end line is not taken for
 * one. A check's time is measured here, from one end line to the next.
 */
#ifndef KILN_VALIDATE_RUNNER_H
#define KILN_VALIDATE_RUNNER_H

#include "bake/builder.h"
#include "core/event.h"
#include "kiln/report.h"
#include "profiles/spec.h"
#include "ssh/session.h"

struct kiln_checks_opts {
	const struct kiln_ssh_env *env; /* the checks' environment (no secrets) */
	size_t nenv;
	/* "check ok: ..." lines and the checks' output (OUTPUT events, label "check"). */
	const struct kiln_emitter *events;
	struct kiln_report *report; /* results of stages "checks" and "http"; may be NULL */
	const char *where;          /* "on the builder": for the error */
	volatile int *stop;
};

/*
 * Run `v`'s checks on `machine` (its ssh session, connected). 0 when all
 * held; KILN_ERROR "N of M checks failed <where>:" with each failure and the
 * last lines it printed; the loss of the connection named as
 * kiln_builder_lost_while() names it.
 */
int kiln_checks_run(struct kiln_builder *machine, const struct kiln_validate_spec *v,
                    const struct kiln_checks_opts *opts);

#endif
