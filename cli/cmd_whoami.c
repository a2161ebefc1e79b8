#include "cli/cli.h"

#include <string.h>

#include "aws/client.h"
#include "aws/sts.h"

static const char usage[] =
    "usage: kiln whoami [--json] [--profile NAME] [--region REGION] [--endpoint-url URL]\n"
    "\n"
    "Show who kiln acts as in AWS: the account, ARN and user id from STS\n"
    "GetCallerIdentity, the region, the STS endpoint, and where the credentials\n"
    "came from (environment, profile, role, web identity, container, instance\n"
    "metadata). Secrets are never printed.\n"
    "\n"
    "  --json              one JSON object: account, arn, user_id, region, endpoint, source\n"
    "  --profile NAME      the AWS profile (default: AWS_PROFILE, else 'default')\n"
    "  --region REGION     the region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile)\n"
    "  --endpoint-url URL  send AWS calls to URL (default: AWS_ENDPOINT_URL[_STS], the\n"
    "                      profile's endpoint_url, the regional AWS endpoint)\n";

static int option_value(const char **out, int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') {
		*out = argv[*i] + n + 1;
		return 1;
	}
	if (strcmp(argv[*i], name) != 0)
		return 0;
	if (*i + 1 >= argc) {
		cli_usage_error("option '%s' needs a value", name);
		return -1;
	}
	*out = argv[++*i];
	return 1;
}

int cmd_whoami(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_aws_config cfg = {0};
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	struct kiln_aws *aws = NULL;
	const char *source = NULL;
	json_t *j = NULL;
	int i, r, error, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if ((r = option_value(&cfg.profile, argc, argv, &i, "--profile")) != 0 ||
		    (r = option_value(&cfg.region, argc, argv, &i, "--region")) != 0 ||
		    (r = option_value(&cfg.endpoint_url, argc, argv, &i, "--endpoint-url")) != 0) {
			if (r < 0)
				return 2;
			continue;
		}
		r = cli_global_option(cli, argc, argv, &i);
		if (r < 0)
			return 2;
		if (r == 0)
			return cli_usage_error("unknown option '%s' for 'kiln whoami'", argv[i]);
	}
	error = kiln_aws_new(&aws, &cfg);
	if (error < 0)
		goto done;
	error = kiln_aws_credential_source(&source, aws);
	if (error < 0)
		goto done;
	error = kiln_sts_get_caller_identity(&id, aws);
	if (error < 0)
		goto done;
	if (cli->json) {
		j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "account", id.account, "arn",
		              id.arn, "user_id", id.user_id, "region", kiln_aws_region(aws),
		              "endpoint", kiln_aws_endpoint(aws, KILN_AWS_STS), "source", source);
		if (j == NULL)
			kiln_die("out of memory");
		error = kiln_json_print(stdout, j);
	} else {
		printf("account   %s\n"
		       "arn       %s\n"
		       "user id   %s\n"
		       "region    %s\n"
		       "endpoint  %s\n"
		       "source    %s\n",
		       id.account, id.arn, id.user_id, kiln_aws_region(aws),
		       kiln_aws_endpoint(aws, KILN_AWS_STS), source);
	}
done:
	rc = cli_fail(error);
	json_decref(j);
	kiln_sts_identity_release(&id);
	kiln_aws_free(aws);
	return rc;
}
