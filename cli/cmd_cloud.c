#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/util.h"
#include "localcloud/cloud.h"

static const char usage[] =
    "usage: kiln cloud up [--port 4566] [--state-dir DIR] [--cidr 172.31.0.0/16] [--foreground]\n"
    "       kiln cloud down [--state-dir DIR]\n"
    "       kiln cloud status [--state-dir DIR] [--json]\n"
    "       kiln cloud logs [--state-dir DIR]\n"
    "       kiln cloud image debootstrap NAME [--suite bookworm] [--state-dir DIR]\n"
    "       kiln cloud image import NAME ROOTFS_DIR|TARBALL [--state-dir DIR]\n"
    "\n"
    "The local cloud: an AWS-compatible EC2 endpoint on 127.0.0.1 whose instances\n"
    "are real (Linux namespaces over overlay filesystems, each with its own\n"
    "address on a bridge, running sshd) and whose images are real layers on disk.\n"
    "Point the AWS CLI or kiln at it with --endpoint-url http://127.0.0.1:PORT and\n"
    "the credentials test/test, region us-east-1. Needs root.\n"
    "\n"
    "  up         start the daemon (in the background unless --foreground) and print\n"
    "             its endpoint; one daemon per state directory\n"
    "  down       stop the daemon and its instances (they start again on the next up)\n"
    "  status     endpoint, state directory, uptime and counts\n"
    "  logs       print the daemon's log (DIR/cloud.log)\n"
    "  image      build a Debian base image with debootstrap (cached per machine) or\n"
    "             import a root filesystem; prints the new image id\n"
    "\n"
    "  --state-dir DIR  the daemon's state (default /var/lib/kiln/cloud, or\n"
    "                   KILN_CLOUD_STATE_DIR)\n";

struct cloud_args {
	const char *state_dir, *cidr, *port, *suite;
	int foreground;
	const char *pos[4];
	size_t npos;
};

/* -1 to go on; else the exit code, when parsing ended the command (--help, bad usage). */
static int parse(struct kiln_cli *cli, struct cloud_args *a, int argc, char **argv, int first)
{
	const struct cli_opt options[] = {
	    {"--state-dir", NULL, CLI_VALUE, &a->state_dir, NULL},
	    {"--cidr", NULL, CLI_VALUE, &a->cidr, NULL},
	    {"--port", NULL, CLI_VALUE, &a->port, NULL},
	    {"--suite", NULL, CLI_VALUE, &a->suite, NULL},
	    {"--foreground", NULL, CLI_FLAG, &a->foreground, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"cloud", usage, options, a->pos, KILN_ARRAY_SIZE(a->pos),
	                              NULL};
	int r;

	memset(a, 0, sizeof(*a));
	r = cli_parse(cli, &spec, argc, argv, first, &a->npos);
	return r == 1 ? 0 : r == 0 ? -1 : r;
}

static int cloud_up(struct cloud_args *a)
{
	struct kiln_cloud_opts o = {0};
	char *endpoint = NULL;
	int rc;

	if (a->npos != 0)
		return cli_usage_error("'kiln cloud up' takes no arguments");
	if (a->port && cli_int(&o.port, "--port", a->port, 1, 65535) < 0)
		return 2;
	o.state_dir = a->state_dir;
	o.cidr = a->cidr;
	o.foreground = a->foreground;
	/* how long terminated instances stay listed (an hour, as EC2 keeps them) */
	if (getenv("KILN_CLOUD_TERMINATED_TTL") != NULL)
		o.terminated_ttl = atof(getenv("KILN_CLOUD_TERMINATED_TTL"));
	if (a->foreground)
		fprintf(
		    stderr, "kiln cloud: http://127.0.0.1:%d, state %s (log in its cloud.log)\n",
		    o.port ? o.port : KILN_CLOUD_DEFAULT_PORT, kiln_paths_cloud_state(o.state_dir));
	rc = kiln_cloud_up(&endpoint, &o);
	if (rc < 0)
		return cli_fail(rc);
	if (!a->foreground)
		printf("%s\n", endpoint);
	free(endpoint);
	return 0;
}

static int cloud_status(struct kiln_cli *cli, struct cloud_args *a)
{
	json_t *st = NULL, *counts, *inst, *v;
	const char *k;

	kiln_cloud_status(&st, a->state_dir);
	if (cli->json) {
		kiln_json_print(stdout, st);
	} else if (!json_is_true(json_object_get(st, "running"))) {
		printf("not running (state %s)\n", kiln_json_str(st, "state_dir"));
	} else {
		printf("endpoint   %s\n", kiln_json_str(st, "endpoint")
		                              ? kiln_json_str(st, "endpoint")
		                              : "(starting)");
		printf("state dir  %s\n", kiln_json_str(st, "state_dir"));
		printf("pid        %lld\n", kiln_json_int(st, "pid", 0));
		printf("uptime     %lld s\n", kiln_json_int(st, "uptime_seconds", 0));
		counts = json_object_get(st, "counts");
		if (counts) {
			printf("images     %lld\n", kiln_json_int(counts, "images", 0));
			printf("key pairs  %lld\n", kiln_json_int(counts, "key_pairs", 0));
			printf("groups     %lld\n", kiln_json_int(counts, "security_groups", 0));
			printf("templates  %lld\n", kiln_json_int(counts, "launch_templates", 0));
			printf("instances ");
			inst = json_object_get(counts, "instances");
			if (json_object_size(inst) == 0)
				printf(" 0");
			json_object_foreach(inst, k, v)
			    printf(" %lld %s", (long long)json_integer_value(v), k);
			printf("\n");
		}
	}
	json_decref(st);
	return 0;
}

static int cloud_logs(struct cloud_args *a)
{
	const char *dir = kiln_paths_cloud_state(a->state_dir);
	char *path = kiln_path_join(dir, "cloud.log");
	struct kiln_buf b = KILN_BUF_INIT;
	int rc = kiln_file_read(&b, path);

	free(path);
	if (rc < 0) {
		kiln_buf_release(&b);
		return cli_fail(rc);
	}
	if (b.size)
		fwrite(b.ptr, 1, b.size, stdout);
	kiln_buf_release(&b);
	return 0;
}

static int cloud_image(struct cloud_args *a)
{
	char *id = NULL;
	int rc;

	if (a->npos >= 1 && strcmp(a->pos[0], "debootstrap") == 0) {
		if (a->npos != 2)
			return cli_usage_error(
			    "usage: kiln cloud image debootstrap NAME [--suite S]");
		fprintf(stderr,
		        "building the %s base image with debootstrap (cached after the "
		        "first time)...\n",
		        a->suite ? a->suite : "bookworm");
		rc = kiln_cloud_image_debootstrap(&id, a->state_dir, a->pos[1], a->suite);
	} else if (a->npos >= 1 && strcmp(a->pos[0], "import") == 0) {
		if (a->npos != 3)
			return cli_usage_error(
			    "usage: kiln cloud image import NAME ROOTFS_DIR|TARBALL");
		rc = kiln_cloud_image_import(&id, a->state_dir, a->pos[1], a->pos[2]);
	} else {
		return cli_usage_error("usage: kiln cloud image debootstrap|import ...");
	}
	if (rc < 0)
		return cli_fail(rc);
	printf("%s\n", id);
	free(id);
	return 0;
}

int cmd_cloud(struct kiln_cli *cli, int argc, char **argv)
{
	struct cloud_args a;
	const char *sub;
	int r;

	/* an instance's init: "kiln cloud __init ..." */
	if (argc >= 2 && strcmp(argv[1], "__init") == 0)
		return kiln_cloud_init_main(argc - 1, argv + 1);
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	r = parse(cli, &a, argc, argv, 2);
	if (r >= 0)
		return r;
	if (strcmp(sub, "up") == 0)
		return cloud_up(&a);
	if (a.cidr || a.port || a.foreground)
		return cli_usage_error("--cidr, --port and --foreground go with 'kiln cloud up'");
	if (strcmp(sub, "down") == 0) {
		if (a.npos)
			return cli_usage_error("'kiln cloud down' takes no arguments");
		r = kiln_cloud_down(a.state_dir, 120);
		return r < 0 ? cli_fail(r) : 0;
	}
	if (strcmp(sub, "status") == 0)
		return cloud_status(cli, &a);
	if (strcmp(sub, "logs") == 0)
		return cloud_logs(&a);
	if (strcmp(sub, "image") == 0)
		return cloud_image(&a);
	return cli_usage_error("unknown subcommand 'kiln cloud %s': use up, down, status, logs or "
	                       "image",
	                       sub);
}
