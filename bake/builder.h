/*
 * A builder: a temporary machine that kiln launches, reaches over SSH and
 * removes. The bake provisions one into an image; an image test (kiln
 * validate --image) launches one from the image to check it. Both go
 * through this one API, so both are made, tagged, reached and cleaned the
 * same way:
 *
 * - a fresh ed25519 key pair (imported), a security group that lets SSH in
 *   from this host only, and the instance (RunInstances with the run id as
 *   ClientToken, InstanceInitiatedShutdownBehavior=terminate), each tagged
 *   kiln:run-id, kiln:role=builder, kiln:profile, kiln:expires (after the
 *   stage's own deadline, with a margin) and kiln:managed, so that `kiln gc`
 *   finds what a crash leaves;
 * - each recorded in the run journal (when one is given) before its create
 *   and after;
 * - SSH only once the host key the machine offers is one whose fingerprint
 *   it printed on its console (GetConsoleOutput), unless the profile says
 *   accept-new;
 * - removed by kiln_builder_cleanup() in reverse order, whatever happened,
 *   a stop request included; it keeps the caller's error.
 *
 * Progress goes to `events` as the stage's progress lines; nothing is
 * printed. A struct kiln_builder is used by one thread.
 */
#ifndef KILN_BAKE_BUILDER_H
#define KILN_BAKE_BUILDER_H

#include "aws/client.h"
#include "aws/shapes.h"
#include "core/event.h"
#include "core/journal.h"
#include "profiles/profile.h"
#include "ssh/session.h"

struct kiln_builder_opts {
	struct kiln_aws *aws;
	const struct kiln_profile *profile; /* tags, env, bake.instance_type and bake.ssh */
	const char *run_id;                 /* names the key pair and group, tags everything */
	const char *what;                   /* "builder", "image test": for messages */
	const char *image_id;               /* what to launch */
	const char
	    *ssh_cidr; /* the range SSH may come from; NULL: $KILN_BAKE_SSH_CIDR, else this host */
	double deadline; /* of the stage, kiln_time_mono(): bounds waits, sets kiln:expires */
	struct kiln_journal *journal;      /* may be NULL */
	const struct kiln_emitter *events; /* progress lines */
	volatile int *stop;
};

struct kiln_builder {
	struct kiln_builder_opts o;
	struct kiln_aws_tags temp_tags; /* on every temporary */
	struct kiln_ssh_key *sshkey;
	char *key_name; /* named before the create: cleanup deletes by name */
	char *group_id;
	char *instance_id;
	char *host;
	struct kiln_ssh_session *ssh;
};

/* Set the options (copied; the pointers they hold are borrowed). */
void kiln_builder_init(struct kiln_builder *b, const struct kiln_builder_opts *o);
/* The key pair, the security group, then the instance. */
int kiln_builder_launch(struct kiln_builder *b);
/* Until the instance runs and has an address. */
int kiln_builder_wait_running(struct kiln_builder *b);
/* Open SSH from this host, wait for it and the console's fingerprints, connect. */
int kiln_builder_connect(struct kiln_builder *b);
/* Seconds left before the deadline (at least 1). */
double kiln_builder_left(const struct kiln_builder *b);
/*
 * After a command failed: when the connection broke under it, the error
 * says so, naming the machine, `what` ran and the last line of `tail`;
 * otherwise `error` as it is.
 */
int kiln_builder_lost_while(const struct kiln_builder *b, int error, const char *what,
                            const struct kiln_buf *tail);
/* Close the session, then terminate the instance and delete the key pair and group. */
void kiln_builder_cleanup(struct kiln_builder *b);
/* Whether anything was made that cleanup would remove. */
int kiln_builder_made(const struct kiln_builder *b);
/* Free what the struct holds (after cleanup, or to leave the temporaries). */
void kiln_builder_release(struct kiln_builder *b);
/* The last `n` lines of a console, escaped, for messages ("(console empty)"). */
void kiln_builder_console_tail(struct kiln_buf *out, const char *text, int n);

#endif
