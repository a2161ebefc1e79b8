/*
 * kiln's local cloud: an AWS-compatible EC2 endpoint on 127.0.0.1 whose
 * instances are real (Linux namespaces over overlay filesystems, each with
 * its own address on a bridge, running sshd) and whose images are layers on
 * disk. Needs root. One daemon per state directory (NULL: the default,
 * $KILN_CLOUD_STATE_DIR or /var/lib/kiln/cloud).
 *
 * An instance's init is a program run as "PROGRAM cloud __init ...": the
 * one that started the daemon, unless `init_exe` names another (the kiln
 * binary, for a program that only links libkiln).
 *
 * Clients sign their requests with the credentials and region below.
 */
#ifndef KILN_CLOUD_H
#define KILN_CLOUD_H

#define KILN_CLOUD_DEFAULT_PORT 4566
#define KILN_CLOUD_DEFAULT_CIDR "172.31.0.0/16"
#define KILN_CLOUD_ACCESS_KEY   "test"
#define KILN_CLOUD_SECRET_KEY   "test"
#define KILN_CLOUD_REGION       "us-east-1"
#define KILN_CLOUD_ACCOUNT      "000000000000"

struct kiln_cloud_opts {
	const char *state_dir; /* NULL: the default */
	int port;              /* 0: KILN_CLOUD_DEFAULT_PORT */
	const char *cidr;      /* the default VPC; NULL: KILN_CLOUD_DEFAULT_CIDR */
	int foreground;        /* run in this process until SIGTERM/SIGINT */
	/*
	 * The program instances' init runs ("PROGRAM cloud __init ..."): NULL
	 * for this program, which must then hand that command to kiln's init as
	 * the kiln command does; a program that only links libkiln names the
	 * kiln binary here.
	 */
	const char *init_exe;
	double terminated_ttl; /* seconds terminated instances stay listed; 0: an hour */
};

/*
 * Start the daemon. In the background (the default) it returns once the
 * daemon answers, with its endpoint ("http://127.0.0.1:PORT") in *out; a
 * daemon already running on the state directory is KILN_EEXISTS. In the
 * foreground it returns when the daemon has stopped (*out stays NULL).
 *
 * The background daemon is a fork of the calling process that does not
 * exec: call this before the program starts threads of its own, or run
 * `kiln cloud up` instead.
 */
int kiln_cloud_up(char **out, const struct kiln_cloud_opts *o);
/* Stop the daemon of `state_dir` and its instances; KILN_ENOTFOUND when none runs. */
int kiln_cloud_down(const char *state_dir, double timeout);
/* The endpoint of the daemon running on `state_dir`; KILN_ENOTFOUND when none runs. */
int kiln_cloud_endpoint(char **out, const char *state_dir);
/*
 * Make a base image and register it with the running daemon: Debian
 * `suite` (NULL: bookworm) built with debootstrap (cached per machine), or
 * a root filesystem (a directory or a tarball) imported. *image_id is
 * "ami-...".
 */
int kiln_cloud_image_debootstrap(char **image_id, const char *state_dir, const char *name,
                                 const char *suite);
int kiln_cloud_image_import(char **image_id, const char *state_dir, const char *name,
                            const char *source);

#endif
