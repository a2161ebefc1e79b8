#include "cli/cli.h"

#include <string.h>

#include "aws/client.h"
#include "aws/sts.h"
#include "core/json.h"

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

int cmd_whoami(struct kiln_cli *cli, int argc, char **argv)
{
	struct kiln_aws_config cfg = {0};
	const struct cli_opt options[] = {
	    {"--profile", NULL, CLI_VALUE, &cfg.profile, NULL},
	    {"--region", NULL, CLI_VALUE, &cfg.region, NULL},
	    {"--endpoint-url", NULL, CLI_VALUE, &cfg.endpoint_url, NULL},
	    {NULL, NULL, 0, NULL, NULL},
	};
	const struct cli_spec spec = {"whoami", usage, options, NULL, 0, NULL};
	struct kiln_sts_identity id = KILN_STS_IDENTITY_INIT;
	struct kiln_aws *aws = NULL;
	const char *source = NULL;
	json_t *j = NULL;
	size_t n;
	int r, error, rc;

	r = cli_parse(cli, &spec, argc, argv, 1, &n);
	if (r != 0)
		return r == 1 ? 0 : r;
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
