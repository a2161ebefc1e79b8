/*
 * The local cloud's machinery below the API: the bridge network, real
 * instances (Linux namespaces over an overlay root) and image layers on disk.
 * The API layer (the EC2 handlers in the daemon) keeps the state and calls
 * these; nothing here knows about the wire protocol.
 *
 * An instance's init is kiln itself: the runtime starts "/proc/self/exe cloud
 * __init ARGS" inside the new namespaces, which calls kiln_cloud_init_main().
 * Everything a machine creates (mounts, the veth pair, the network namespace,
 * processes) is removed by lc_machine_stop() or, after a crash of the
 * daemon, by lc_machine_reap() from the instance directory alone.
 */
#ifndef KILN_LOCALCLOUD_RUNTIME_INT_H
#define KILN_LOCALCLOUD_RUNTIME_INT_H

#include <stdint.h>
#include <sys/types.h>

/* The default VPC's bridge: the host side holds the gateway address. */
struct lc_net {
	char bridge[16];  /* interface name, e.g. "kiln0" or "kiln<hash>" */
	uint32_t network; /* host byte order */
	int prefix;       /* 16 for 172.31.0.0/16 */
	uint32_t gateway; /* first address of the network, on the bridge */
};

/* Create (or adopt) the bridge for `cidr`; idempotent. */
int lc_net_up(struct lc_net *net, const char *bridge, const char *cidr);
/* Remove the bridge (machines must be stopped first). */
int lc_net_down(struct lc_net *net);

struct lc_machine_spec {
	const char *id;            /* "i-0123456789abcdef0" */
	const char *dir;           /* instance directory: upper/, work/, root/, console.log, ... */
	const char *const *layers; /* image layer directories, lowest first */
	size_t nlayers;
	const struct lc_net *net;
	uint32_t ip;                /* host byte order, inside net */
	const char *hostname;       /* "ip-172-31-0-5" */
	const char *login_user;     /* "root" on the debootstrap base image */
	const char *authorized_key; /* OpenSSH public key line, or NULL */
	const void *user_data;      /* decoded user data, or NULL; runs once per instance */
	size_t user_data_len;
	/*
	 * The program run as the instance's init with "cloud __init ...": NULL
	 * for this very program (/proc/self/exe), which must then hand that
	 * command to kiln_cloud_init_main(), as kiln does.
	 */
	const char *init_exe;
	/*
	 * An nftables script (the instance's security groups) run in its network
	 * namespace before its init starts, so that nothing of the machine is
	 * ever reachable unfiltered; NULL for none. A script that fails fails
	 * the boot.
	 */
	const char *firewall;
};

struct lc_machine {
	pid_t pid; /* the instance's init as seen from the host */
	char *dir;
	char *id;
	char *console; /* path of the console log (appended across boots) */
	int reaped;    /* init has exited and was waited for; `status` holds how */
	int status;    /* exit code, or 128+signal, as kiln_proc */
	/* adopted from a daemon that died: not our child, watched through /proc */
	int adopted;
	unsigned long long start; /* its start time (a recycled pid is not it) */
};

/*
 * Boot an instance: mount the overlay (upper/work under spec->dir, created
 * when missing, kept across stop/start), create the namespaces and the veth
 * pair, start init. Returns once init is running; sshd comes up shortly after.
 */
int lc_machine_start(struct lc_machine **out, const struct lc_machine_spec *spec);
/*
 * Has init exited (the machine powered itself off)? 1 yes, 0 no; *status as
 * kiln_proc. Init exits 0 after a clean shutdown, whatever asked for it:
 * SIGTERM, "kill 1", busybox halt/poweroff/reboot, reboot(2) ("poweroff -f");
 * 1 when the boot failed (the reason is on the console). Only the process
 * that started the machine can tell (it is init's parent).
 */
int lc_machine_exited(struct lc_machine *m, int *status);
/* SIGTERM to init, wait up to `timeout` s, then SIGKILL; unmount, remove veth and netns. */
int lc_machine_stop(struct lc_machine *m, double timeout);
void lc_machine_free(struct lc_machine *m);
/* After a daemon crash: kill what is left of the machine in `dir` and unmount it. */
int lc_machine_reap(const char *dir);
/*
 * After a daemon crash: take over the machine still running in `dir` (its
 * init survived the daemon and serves on), so that the restarted daemon
 * watches and stops it without a reboot. 1 when adopted, 0 when nothing
 * runs there.
 */
int lc_machine_adopt(struct lc_machine **out, const char *dir, const char *id);
/*
 * Run an nftables script in the network namespace of the machine running
 * in `dir` (booted or adopted); KILN_ENOTFOUND when none runs there. *gen
 * gets the namespace's ruleset generation afterwards; a NULL script only
 * reads it.
 */
int lc_machine_firewall(const char *dir, const char *script, uint32_t *gen);

/*
 * The operations above as the cloud's runners call them: Linux machines
 * (lc_machines_linux), or a stand-in that tests give the cloud to exercise
 * the API and the runners without root.
 */
struct lc_machines {
	int (*start)(struct lc_machine **out, const struct lc_machine_spec *spec);
	int (*exited)(struct lc_machine *m, int *status);
	int (*stop)(struct lc_machine *m, double timeout);
	void (*free)(struct lc_machine *m);
	int (*reap)(const char *dir);
	int (*adopt)(struct lc_machine **out, const char *dir, const char *id);
};
extern const struct lc_machines lc_machines_linux;

/* Image layers: directories of files, stacked as overlay lower dirs. */
int lc_layer_import(const char *layer_dir, const char *rootfs_dir_or_tarball);
/* Debian minbase + openssh-server, busybox, ca-certificates; cached under cache_dir. */
int lc_layer_debootstrap(const char *layer_dir, const char *suite, const char *cache_dir);
/* Copy an instance's upper directory into a new layer, whiteouts and opaque dirs kept. */
int lc_layer_capture(const char *layer_dir, const char *upper_dir);

/* Lazily unmount every host mount at or below `dir`, deepest first. */
void lc_unmount_below(const char *dir);

#endif
