#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include "core/proc.h"
#include "profiles/profile.h"
#include "profiles/schema.h"

static char tmpdir[] = "/tmp/kiln-profiles-XXXXXX";

static void setup_dir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_dir(void)
{
	kiln_rm_rf(tmpdir);
	strcpy(tmpdir, "/tmp/kiln-profiles-XXXXXX");
}

static char *write_profile(const char *name, const char *text)
{
	char *path = kiln_xasprintf("%s/%s", tmpdir, name);

	ck_assert_int_eq(kiln_file_write_atomic(path, text, strlen(text), 0644), 0);
	return path;
}

/*
 * Each bad profile holds exactly one problem, reported at the exact line and
 * column of the offending key or value. Reviewed by hand, one by one.
 */
struct bad_case {
	const char *name;
	const char *text;
	const char *expect; /* "LINE:COL: message" after the file name */
};

static const struct bad_case bad_cases[] = {
    {"syntax_trailing_comma", "{\n \"name\": \"web\",\n}\n",
     "3:1: string or '}' expected near '}'"},
    {"syntax_unclosed", "{\n \"name\": \"web\",\n \"layers\": {\n",
     "4:1: string or '}' expected near end of file"},
    {"syntax_duplicate_key",
     "{\n \"name\": \"web\",\n \"name\": \"x\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": "
     "\"v1\"}}\n}\n",
     "3:7: duplicate object key near '\"name\"'"},
    {"not_object", "[1, 2]\n", "1:1: profile: expected object, got array"},
    {"missing_name", "{\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}}\n}\n",
     "1:1: profile: missing required key 'name'"},
    {"missing_layers", "{\n \"name\": \"web\"\n}\n", "1:1: profile: missing required key 'layers'"},
    {"empty_layers", "{\n \"name\": \"web\",\n \"layers\": {}\n}\n",
     "3:12: layers: must have at least 1 entry"},
    {"name_type",
     "{\n \"name\": 7,\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}}\n}\n",
     "2:10: name: expected string, got integer"},
    {"name_uppercase",
     "{\n \"name\": \"Web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}}\n}\n",
     "2:10: name: must be 1 to 32 lowercase letters, digits or '-', starting with a letter or "
     "digit"},
    {"name_too_long",
     "{\n \"name\": \"a123456789012345678901234567890123\",\n \"layers\": {\"os\": {\"repo\": "
     "\"r\", \"ref\": \"v1\"}}\n}\n",
     "2:10: name: must be 1 to 32 lowercase letters, digits or '-', starting with a letter or "
     "digit"},
    {"unknown_top_hint",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"layres\": {}\n}\n",
     "4:2: profile: unknown key 'layres'; did you mean 'layers'?"},
    {"unknown_top_nohint",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"colour\": \"red\"\n}\n",
     "4:2: profile: unknown key 'colour'"},
    {"target_enum",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"target\": \"gcp\"\n}\n",
     "4:12: target: must be one of 'local', 'aws', got 'gcp'"},
    {"target_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"target\": true\n}\n",
     "4:12: target: expected string, got boolean"},
    {"region_empty",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"region\": \"\"\n}\n",
     "4:12: region: must not be empty"},
    {"layer_missing_repo", "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"ref\": \"v1\"}}\n}\n",
     "3:19: layers.os: missing required key 'repo'"},
    {"layer_missing_ref", "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\"}}\n}\n",
     "3:19: layers.os: missing required key 'ref'"},
    {"layer_not_object", "{\n \"name\": \"web\",\n \"layers\": {\"os\": \"repo\"}\n}\n",
     "3:19: layers.os: expected object, got string"},
    {"layer_bad_name",
     "{\n \"name\": \"web\",\n \"layers\": {\"OS Layer\": {\"repo\": \"r\", \"ref\": \"v1\"}}\n}\n",
     "3:13: layers: invalid name 'OS Layer': use lowercase letters, digits, '-' or '_'"},
    {"layer_ref_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": 1}}\n}\n",
     "3:40: layers.os.ref: expected string, got integer"},
    {"layer_ref_space",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v 1\"}}\n}\n",
     "3:40: layers.os.ref: 'v 1' is not a valid git ref name"},
    {"layer_ref_dash",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"-x\"}}\n}\n",
     "3:40: layers.os.ref: must be a tag or a full 40-hex commit id"},
    {"layer_unknown_key",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\", "
     "\"provison\": []}}\n}\n",
     "3:46: layers.os: unknown key 'provison'; did you mean 'provision'?"},
    {"layer_path_abs",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\", \"path\": "
     "\"/etc\"}}\n}\n",
     "3:54: layers.os.path: must be a relative path inside the repository, got '/etc'"},
    {"layer_path_dotdot",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\", \"path\": "
     "\"a/../../b\"}}\n}\n",
     "3:54: layers.os.path: '..' is not allowed in 'a/../../b'"},
    {"layer_provision_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\", "
     "\"provision\": \"p.sh\"}}\n}\n",
     "3:59: layers.os.provision: expected array, got string"},
    {"layer_provision_item",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\", "
     "\"provision\": [\"ok.sh\", 3]}}\n}\n",
     "3:69: layers.os.provision[1]: expected string, got integer"},
    {"bake_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"bake\": []\n}\n",
     "4:10: bake: expected object, got array"},
    {"bake_unknown",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"bake\": {\"instance_typ\": \"t3.small\"}\n}\n",
     "4:11: bake: unknown key 'instance_typ'; did you mean 'instance_type'?"},
    {"source_image_bad_id",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"bake\": {\"source_image\": \"debian-12\"}\n}\n",
     "4:27: bake.source_image: an image id starts with 'ami-'; use an object {\"name\": ...} to "
     "select by name"},
    {"source_image_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"bake\": {\"source_image\": 12}\n}\n",
     "4:27: bake.source_image: expected string or object, got integer"},
    {"source_image_no_selector",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"bake\": {\"source_image\": {\"owners\": [\"self\"]}}\n}\n",
     "4:27: bake.source_image: needs 'name' or 'tags' to select an image"},
    {"source_image_owners_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"bake\": {\"source_image\": {\"name\": \"d*\", \"owners\": \"self\"}}\n}\n",
     "4:52: bake.source_image.owners: expected array, got string"},
    {"host_key_check_enum",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"bake\": {\"ssh\": {\"host_key_check\": \"no\"}}\n}\n",
     "4:37: bake.ssh.host_key_check: must be one of 'strict', 'accept-new', got 'no'"},
    {"ssh_port_range",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"bake\": {\"ssh\": {\"port\": 0}}\n}\n",
     "4:27: bake.ssh.port: must be at least 1, got 0"},
    {"timeout_range",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"bake\": {\"timeout_s\": 100000}\n}\n",
     "4:24: bake.timeout_s: must be at most 86400, got 100000"},
    {"encrypted_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"bake\": {\"encrypted\": \"yes\"}\n}\n",
     "4:24: bake.encrypted: expected boolean, got string"},
    {"variable_bad_name",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"bake\": {\"variables\": {\"1X\": \"v\"}}\n}\n",
     "4:25: bake.variables: invalid name '1X': use letters, digits and '_', not starting with a "
     "digit"},
    {"variable_missing_value",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"bake\": {\"variables\": {\"TOKEN\": {\"secret\": true}}}\n}\n",
     "4:34: bake.variables.TOKEN: missing required key 'value'"},
    {"variable_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"bake\": {\"variables\": {\"X\": 1}}\n}\n",
     "4:30: bake.variables.X: expected string or object, got integer"},
    {"layer_dir_relative",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"bake\": {\"layer_dir\": \"opt/kiln\"}\n}\n",
     "4:24: bake.layer_dir: must start with '/', got 'opt/kiln'"},
    {"checks_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"validate\": {\"checks\": {}}\n}\n",
     "4:25: validate.checks: expected array, got object"},
    {"check_no_kind",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"validate\": {\"checks\": [{\"contains\": \"x\"}]}\n}\n",
     "4:26: validate.checks[0]: needs one of 'file', 'package', 'service', 'port', 'command', "
     "'user', 'group'"},
    {"check_two_kinds",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"validate\": {\"checks\": [{\"file\": \"/a\", \"service\": \"web\"}]}\n}\n",
     "4:26: validate.checks[0]: has both 'file' and 'service'; use one kind per check"},
    {"check_bad_modifier",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"validate\": {\"checks\": [{\"port\": 80, \"runing\": true}]}\n}\n",
     "4:39: validate.checks[0]: unknown key 'runing'"},
    {"check_file_relative",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"validate\": {\"checks\": [{\"file\": \"etc/x\"}]}\n}\n",
     "4:35: validate.checks[0].file: must start with '/', got 'etc/x'"},
    {"check_mode",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"validate\": {\"checks\": [{\"file\": \"/x\", \"mode\": \"rw-r--r--\"}]}\n}\n",
     "4:49: validate.checks[0].mode: must be an octal mode such as \"0644\""},
    {"check_sha256",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"validate\": {\"checks\": [{\"file\": \"/x\", \"sha256\": \"abc\"}]}\n}\n",
     "4:51: validate.checks[0].sha256: must be 64 lowercase hex digits"},
    {"check_exit_code",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"validate\": {\"checks\": [{\"command\": \"true\", \"exit_code\": 300}]}\n}\n",
     "4:59: validate.checks[0].exit_code: must be at most 255, got 300"},
    {"deploy_port_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"port\": \"80\"}\n}\n",
     "4:21: deploy.port: expected integer, got string"},
    {"deploy_port_range",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"test_port\": 70000}\n}\n",
     "4:26: deploy.test_port: must be at most 65535, got 70000"},
    {"health_path",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"health_check\": {\"path\": \"health\"}}\n}\n",
     "4:38: deploy.health_check.path: must start with '/', got 'health'"},
    {"threshold_range",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"health_check\": {\"healthy_threshold\": 0}}\n}\n",
     "4:51: deploy.health_check.healthy_threshold: must be at least 2, got 0"},
    {"health_interval_range",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"health_check\": {\"interval_s\": 400}}\n}\n",
     "4:44: deploy.health_check.interval_s: must be at most 300, got 400"},
    {"health_timeout_not_below_interval",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"health_check\": {\"interval_s\": 5, \"timeout_s\": 5}}\n}\n",
     "4:60: deploy.health_check: timeout_s (5) must be less than interval_s (5)"},
    {"health_matcher",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"health_check\": {\"matcher\": \"200-600\"}}\n}\n",
     "4:41: deploy.health_check.matcher: must be HTTP codes 200 to 499 such as \"200\", "
     "\"200,302\" or \"200-299\", got '200-600'"},
    {"allowed_sources_cidr",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"allowed_sources\": [\"10.0.0.0/8\", \"10.1.2.3\"]}\n}\n",
     "4:47: deploy.allowed_sources[1]: must be an IPv4 CIDR block such as \"10.0.0.0/16\", got "
     "'10.1.2.3'"},
    {"deregistration_delay_range",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"deregistration_delay_s\": 3601}\n}\n",
     "4:39: deploy.deregistration_delay_s: must be at most 3600, got 3601"},
    {"capacity_negative",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"capacity\": {\"min\": -1}}\n}\n",
     "4:33: deploy.capacity.min: must be at least 0, got -1"},
    {"capacity_order",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"capacity\": {\"min\": 3, \"desired\": 2, \"max\": 6}}\n}\n",
     "4:33: deploy.capacity: needs min <= desired <= max, got min 3, desired 2, max 6"},
    {"capacity_min_over_max",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"capacity\": {\"min\": 5, \"desired\": 5, \"max\": 4}}\n}\n",
     "4:33: deploy.capacity: needs min <= desired <= max, got min 5, desired 5, max 4"},
    {"ports_equal",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"port\": 8080, \"test_port\": 8080}\n}\n",
     "4:40: deploy: test_port must differ from port (8080)"},
    {"smoke_missing_path",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"smoke\": [{\"status\": 200}]}\n}\n",
     "4:23: deploy.smoke[0]: missing required key 'path'"},
    {"smoke_status_range",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"smoke\": [{\"path\": \"/\", \"status\": 99}]}\n}\n",
     "4:47: deploy.smoke[0].status: must be at least 100, got 99"},
    {"hooks_unknown",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"hooks\": {\"post_bak\": []}\n}\n",
     "4:12: hooks: unknown key 'post_bak'; did you mean 'post_bake'?"},
    {"hooks_item_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"hooks\": {\"post_bake\": [1]}\n}\n",
     "4:26: hooks.post_bake[0]: expected a command or an object, got integer"},
    {"hooks_webhook_url",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"hooks\": {\"pre_swap\": [{\"url\": \"ftp://x\"}]}\n}\n",
     "4:33: hooks.pre_swap[0].url: must be an http:// or https:// URL"},
    {"hooks_secret_env",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"hooks\": {\"audit\": {\"url\": \"http://x/\", \"secret_env\": \"1X\"}}\n}\n",
     "4:56: hooks.audit.secret_env: must be an environment variable name (letters, digits, "
     "'_', not starting with a digit)"},
    {"policy_unknown",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"policy\": {\"allow_ssh\": true}\n}\n",
     "4:13: policy: unknown key 'allow_ssh'"},
    {"tags_value_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"tags\": {\"team\": 1}\n}\n",
     "4:19: tags.team: expected string, got integer"},
    {"tags_reserved",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"tags\": {\"aws:x\": \"y\"}\n}\n",
     "4:11: tags: tag key 'aws:x' uses a reserved prefix ('kiln:', 'aws:')"},
    {"env_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"environments\": {\"prod\": 1}\n}\n",
     "4:27: environments.prod: expected object, got integer"},
    {"env_bad_name",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"environments\": {\"Prod\": {}}\n}\n",
     "4:19: environments: invalid name 'Prod': use lowercase letters, digits or '-'"},
    {"env_sets_name",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"environments\": {\"prod\": {\"name\": \"x\"}}\n}\n",
     "4:28: environments.prod: 'name' cannot be set per environment"},
    {"env_unknown_key",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"environments\": {\"prod\": {\"deploy\": {\"capcity\": {}}}}\n}\n",
     "4:39: environments.prod.deploy: unknown key 'capcity'; did you mean 'capacity'?"},
    {"env_bad_value",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"environments\": {\"prod\": {\"deploy\": {\"capacity\": {\"max\": \"12\"}}}}\n}\n",
     "4:59: environments.prod.deploy.capacity.max: expected integer, got string"},
    {"http_missing_path",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"validate\": {\"http\": [{\"status\": 200}]}\n}\n",
     "4:24: validate.http[0]: missing required key 'path'"},
    {"http_port_range",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"validate\": {\"http\": [{\"path\": \"/\", \"port\": 70000}]}\n}\n",
     "4:46: validate.http[0].port: must be at most 65535, got 70000"},
    {"http_header_name",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"validate\": {\"http\": [{\"path\": \"/\", \"header\": {\"X Bad\": \"1\"}}]}\n}\n",
     "4:49: validate.http[0].header: invalid name 'X Bad': use letters, digits and "
     "!#$%&'*+-.^_`|~"},
    {"http_unknown",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"validate\": {\"http\": [{\"path\": \"/\", \"contain\": \"x\"}]}\n}\n",
     "4:38: validate.http[0]: unknown key 'contain'; did you mean 'contains'?"},
    {"smoke_retries_range",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"smoke\": [{\"path\": \"/\", \"retries\": -1}]}\n}\n",
     "4:48: deploy.smoke[0].retries: must be at least 0, got -1"},
    {"smoke_host_bad",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"smoke\": [{\"path\": \"/\", \"host\": \"a b/c\"}]}\n}\n",
     "4:45: deploy.smoke[0].host: must be a host name such as \"www.example.com\" (letters, "
     "digits, '-', '.', an optional ':port')"},
    {"smoke_redirects_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"smoke\": [{\"path\": \"/\", \"follow_redirects\": \"yes\"}]}\n}\n",
     "4:57: deploy.smoke[0].follow_redirects: expected boolean, got string"},
    {"smoke_timeout_range",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"deploy\": {\"smoke\": [{\"path\": \"/\", \"timeout_s\": 0}]}\n}\n",
     "4:50: deploy.smoke[0].timeout_s: must be at least 1, got 0"},
    {"policy_release_refs_env",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"policy\": {\"release_refs\": {\"Prod\": \"v*\"}}\n}\n",
     "4:30: policy.release_refs: invalid name 'Prod': use an environment's name (lowercase "
     "letters, digits or '-') or '*'"},
    {"policy_release_refs_pattern",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"policy\": {\"release_refs\": {\"prod\": [\"v *\"]}}\n}\n",
     "4:39: policy.release_refs.prod[0]: a ref pattern has no spaces or control characters"},
    {"policy_release_refs_empty",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"policy\": {\"release_refs\": {\"*\": []}}\n}\n",
     "4:35: policy.release_refs.*: expected a pattern or a non-empty array of patterns, got an "
     "empty array"},
    {"policy_signed_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"policy\": {\"require_signed_tags\": \"yes\"}\n}\n",
     "4:36: policy.require_signed_tags: expected boolean, got string"},
    {"policy_signers_empty",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"policy\": {\"allowed_signers\": \"\"}\n}\n",
     "4:32: policy.allowed_signers: must not be empty"},
    {"policy_repos_item",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"policy\": {\"allowed_repos\": [\"\", \"x\"]}\n}\n",
     "4:31: policy.allowed_repos[0]: must not be empty"},
    {"policy_owners_type",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"policy\": {\"allowed_image_owners\": \"self\"}\n}\n",
     "4:37: policy.allowed_image_owners: expected array, got string"},
    {"policy_key_hint",
     "{\n \"name\": \"web\",\n \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n "
     "\"policy\": {\"allowed_region\": []}\n}\n",
     "4:13: policy: unknown key 'allowed_region'; did you mean 'allowed_regions'?"},
};

START_TEST(bad_profile_reports_exact_position)
{
	const struct bad_case *c = &bad_cases[_i];
	struct kiln_profile *p = NULL;
	char *path = write_profile("p.json", c->text);
	char *expect = kiln_xasprintf("%s:%s", path, c->expect);

	ck_assert_msg(kiln_profile_load(&p, path, NULL) == KILN_EINVAL, "case %s loaded", c->name);
	ck_assert_ptr_null(p);
	ck_assert_msg(strcmp(kiln_error_last(), expect) == 0, "case %s:\n got  '%s'\n want '%s'",
	              c->name, kiln_error_last(), expect);
	free(expect);
	free(path);
}
END_TEST

static const char good[] =
    "{\n"
    "  \"name\": \"web\",\n"
    "  \"layers\": {\n"
    "    \"os\": {\"repo\": \"../os-base\", \"ref\": \"os-1.0.0\", \"provision\": [\"p.sh\"]},\n"
    "    \"app\": {\"repo\": \"git@example.com:acme/web.git\", \"ref\": \"v1.4.2\", \"path\": "
    "\"site\"},\n"
    "    \"extra\": {\"repo\": \"https://example.com/x.git\", \"ref\": "
    "\"0123456789abcdef0123456789abcdef01234567\"}\n"
    "  },\n"
    "  \"deploy\": {\"capacity\": {\"min\": 2, \"desired\": 2, \"max\": 6}, \"smoke\": [{\"path\": "
    "\"/\"}]},\n"
    "  \"tags\": {\"team\": \"data\"},\n"
    "  \"environments\": {\n"
    "    \"prod\": {\"target\": \"aws\", \"deploy\": {\"capacity\": {\"min\": 3, \"desired\": 3, "
    "\"max\": 12},\n"
    "                                     \"smoke\": [{\"path\": \"/health\"}, {\"path\": "
    "\"/\"}]}},\n"
    "    \"staging\": {\"layers\": {\"app\": {\"repo\": \"git@example.com:acme/web.git\", "
    "\"ref\": \"v1.5.0-rc1\"}}}\n"
    "  }\n"
    "}\n";

START_TEST(good_profile_loads_with_defaults)
{
	struct kiln_profile *p = NULL;
	char *path = write_profile("web.json", good);
	const json_t *j;
	char real[PATH_MAX];

	ck_assert_int_eq(kiln_profile_load(&p, path, NULL), 0);
	ck_assert_str_eq(p->name, "web");
	ck_assert_str_eq(p->target, "local");
	ck_assert_ptr_null(p->env);
	ck_assert_uint_eq(p->nlayers, 3);
	/* Layers come in file order. */
	ck_assert_str_eq(p->layers[0].name, "os");
	ck_assert_str_eq(p->layers[1].name, "app");
	ck_assert_str_eq(p->layers[2].name, "extra");
	ck_assert_uint_eq(p->layers[0].nprovision, 1);
	ck_assert_str_eq(p->layers[0].provision[0], "p.sh");
	ck_assert_uint_eq(p->layers[1].nprovision, 0);
	ck_assert_str_eq(p->layers[1].path, "site");
	ck_assert_ptr_null(p->layers[0].path);
	/* A relative repo resolves against the profile's directory; URLs stay. */
	ck_assert_ptr_nonnull(realpath(tmpdir, real));
	ck_assert_ptr_nonnull(strstr(p->layers[0].repo_url, "/os-base"));
	ck_assert(p->layers[0].repo_url[0] == '/');
	ck_assert_str_eq(p->layers[0].repo, "../os-base");
	ck_assert_str_eq(p->layers[1].repo_url, "git@example.com:acme/web.git");
	ck_assert_str_eq(p->layers[2].repo_url, "https://example.com/x.git");
	ck_assert_ptr_nonnull(kiln_profile_layer(p, "app"));
	ck_assert_ptr_null(kiln_profile_layer(p, "nope"));
	/* Defaults are filled in. */
	j = p->json;
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "bake"), "ssh_user")),
	                 "root");
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_object_get(json_object_get(j, "bake"), "ssh"), "host_key_check")),
	                 "strict");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "deploy"), "port")),
	                 80);
	ck_assert_int_eq(json_integer_value(json_object_get(
	                     json_object_get(json_object_get(j, "deploy"), "health_check"),
	                     "healthy_threshold")),
	                 2);
	ck_assert_ptr_null(json_object_get(j, "environments"));
	kiln_profile_free(p);
	free(path);
}
END_TEST

START_TEST(environment_overrides_merge_deeply)
{
	struct kiln_profile *p = NULL;
	char *path = write_profile("web.json", good);
	const json_t *deploy, *cap;

	ck_assert_int_eq(kiln_profile_load(&p, path, "prod"), 0);
	ck_assert_str_eq(p->env, "prod");
	ck_assert_str_eq(p->target, "aws");
	deploy = json_object_get(p->json, "deploy");
	cap = json_object_get(deploy, "capacity");
	ck_assert_int_eq(json_integer_value(json_object_get(cap, "min")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(cap, "max")), 12);
	/* Arrays are replaced, not appended to. */
	ck_assert_uint_eq(json_array_size(json_object_get(deploy, "smoke")), 2);
	/* Untouched sections keep the base's values. */
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(p->json, "tags"), "team")), "data");
	kiln_profile_free(p);

	ck_assert_int_eq(kiln_profile_load(&p, path, "staging"), 0);
	ck_assert_str_eq(kiln_profile_layer(p, "app")->ref, "v1.5.0-rc1");
	/* A deep merge keeps the base's keys that the override does not name. */
	ck_assert_str_eq(kiln_profile_layer(p, "app")->path, "site");
	ck_assert_str_eq(kiln_profile_layer(p, "os")->ref, "os-1.0.0");
	kiln_profile_free(p);
	free(path);
}
END_TEST

START_TEST(unknown_environment_names_the_known_ones)
{
	struct kiln_profile *p = NULL;
	char *path = write_profile("web.json", good);
	char *expect =
	    kiln_xasprintf("%s: unknown environment 'qa' (known: 'prod', 'staging')", path);

	ck_assert_int_eq(kiln_profile_load(&p, path, "qa"), KILN_EINVAL);
	ck_assert_str_eq(kiln_error_last(), expect);
	free(expect);
	free(path);
}
END_TEST

START_TEST(override_breaking_a_cross_field_rule_points_at_the_override)
{
	static const char text[] =
	    "{\n"
	    " \"name\": \"web\",\n"
	    " \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n"
	    " \"deploy\": {\"capacity\": {\"min\": 1, \"desired\": 2, \"max\": 4}},\n"
	    " \"environments\": {\"prod\": {\"deploy\": {\"capacity\": {\"max\": 1}}}}\n"
	    "}\n";
	struct kiln_profile *p = NULL;
	char *path = write_profile("p.json", text);
	char *expect = kiln_xasprintf(
	    "%s:5:59: deploy.capacity: needs min <= desired <= max, got min 1, desired 2, max 1",
	    path);

	ck_assert_int_eq(kiln_profile_load(&p, path, NULL), 0);
	kiln_profile_free(p);
	ck_assert_int_eq(kiln_profile_load(&p, path, "prod"), KILN_EINVAL);
	ck_assert_str_eq(kiln_error_last(), expect);
	free(expect);
	free(path);
}
END_TEST

START_TEST(every_problem_is_reported)
{
	static const char text[] =
	    "{\n"
	    " \"name\": \"Web\",\n"
	    " \"layres\": {},\n"
	    " \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": 1}, \"app\": {\"repo\": \"y\"}},\n"
	    " \"deploy\": {\"port\": \"80\"}\n"
	    "}\n";
	struct kiln_profile *p = NULL;
	char *path = write_profile("p.json", text);
	const char *msg;
	size_t lines = 1;

	ck_assert_int_eq(kiln_profile_load(&p, path, NULL), KILN_EINVAL);
	msg = kiln_error_last();
	for (const char *c = msg; *c; c++)
		lines += *c == '\n';
	ck_assert_uint_eq(lines, 5);
	ck_assert_ptr_nonnull(strstr(msg, "p.json:2:10: name: must be"));
	ck_assert_ptr_nonnull(strstr(msg, "p.json:3:2: profile: unknown key 'layres'; did you mean "
	                                  "'layers'?"));
	ck_assert_ptr_nonnull(strstr(msg, "p.json:4:40: layers.os.ref: expected string"));
	ck_assert_ptr_nonnull(strstr(msg, "p.json:4:51: layers.app: missing required key 'ref'"));
	ck_assert_ptr_nonnull(
	    strstr(msg, "p.json:5:21: deploy.port: expected integer, got string"));
	free(path);
}
END_TEST

START_TEST(utf8_columns_count_characters)
{
	/* "é" is two bytes but one column. */
	static const char text[] = "{\"name\": \"web\", \"tags\": {\"équipe\": 1},\n"
	                           " \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}}}\n";
	struct kiln_profile *p = NULL;
	char *path = write_profile("p.json", text);
	char *expect = kiln_xasprintf("%s:1:36: tags.équipe: expected string, got integer", path);

	ck_assert_int_eq(kiln_profile_load(&p, path, NULL), KILN_EINVAL);
	ck_assert_str_eq(kiln_error_last(), expect);
	free(expect);
	free(path);
}
END_TEST

START_TEST(missing_file_is_bad_input)
{
	struct kiln_profile *p = NULL;

	ck_assert_int_eq(kiln_profile_load(&p, "/nonexistent/web.json", NULL), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "cannot open '/nonexistent/web.json'"));
}
END_TEST

START_TEST(examples_are_valid)
{
	const char *src = getenv("KILN_SOURCE_DIR");
	const char *names[] = {"web.json"};
	size_t i;

	ck_assert_ptr_nonnull(src);
	for (i = 0; i < KILN_ARRAY_SIZE(names); i++) {
		struct kiln_profile *p = NULL;
		char *path = kiln_xasprintf("%s/profiles/examples/%s", src, names[i]);
		ck_assert_msg(kiln_profile_load(&p, path, NULL) == 0, "%s", kiln_error_last());
		kiln_profile_free(p);
		ck_assert_msg(kiln_profile_load(&p, path, "prod") == 0, "%s", kiln_error_last());
		kiln_profile_free(p);
		free(path);
	}
}
END_TEST

/* The HTTP checks, smoke checks, deploy and policy specs, and where values are. */
static const char typed_http[] =
    "{\n"
    "  \"name\": \"web\",\n"
    "  \"layers\": {\"app\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n"
    "  \"validate\": {\"http\": [{\"path\": \"/health\"},\n"
    "                         {\"path\": \"/\", \"port\": 9000, \"status\": 302, \"header\": "
    "{\"Location\": \"/x\"}}]},\n"
    "  \"deploy\": {\"instance_port\": 8081, \"internet_facing\": true,\n"
    "             \"smoke\": [{\"path\": \"/\", \"retries\": 3, \"host\": \"a.example\",\n"
    "                        \"max_latency_ms\": 500, \"follow_redirects\": true}]},\n"
    "  \"policy\": {\"max_capacity\": 9, \"allowed_signers\": \"keys/allowed\",\n"
    "             \"release_refs\": {\"prod\": \"v*\", \"*\": [\"v*\", \"rc-*\"]}},\n"
    "  \"environments\": {\"prod\": {\"deploy\": {\"capacity\": {\"max\": 8}}}}\n"
    "}\n";

START_TEST(http_smoke_deploy_policy_are_typed)
{
	struct kiln_profile *p = NULL;
	char *path = write_profile("typed-http.json", typed_http), *at, *want;
	const struct kiln_http_check_spec *h;

	ck_assert_msg(kiln_profile_load(&p, path, "prod") == 0, "%s", kiln_error_last());
	ck_assert_uint_eq(p->validate.nhttp, 2);
	h = &p->validate.http[0];
	/* The instance port when the check names none; 200 and 10 s by default. */
	ck_assert_int_eq(h->port, 8081);
	ck_assert_int_eq(h->status, 200);
	ck_assert_int_eq(h->timeout_s, 10);
	ck_assert_int_eq(h->max_latency_ms, KILN_UNSET);
	h = &p->validate.http[1];
	ck_assert_int_eq(h->port, 9000);
	ck_assert_int_eq(h->status, 302);
	ck_assert_uint_eq(h->nheader, 1);
	ck_assert_str_eq(h->header[0].key, "Location");
	ck_assert_int_eq(p->deploy.internet_facing, 1);
	ck_assert_int_eq(p->deploy.capacity_max, 8);
	ck_assert_str_eq(p->deploy.instance_type, "t3.small");
	ck_assert_uint_eq(p->deploy.nsmoke, 1);
	h = &p->deploy.smoke[0];
	ck_assert_int_eq(h->retries, 3);
	ck_assert_str_eq(h->host, "a.example");
	ck_assert_int_eq(h->max_latency_ms, 500);
	ck_assert_int_eq(h->follow_redirects, 1);
	ck_assert_int_eq(p->policy.max_capacity, 9);
	ck_assert_int_eq(p->policy.allow_internet_facing, 0);
	ck_assert_int_eq(p->policy.require_signed_tags, 0);
	/* allowed_signers is relative to the profile. */
	want = kiln_xasprintf("%s/keys/allowed", tmpdir);
	ck_assert_str_eq(p->policy.allowed_signers, want);
	free(want);
	ck_assert_uint_eq(p->policy.nrelease_refs, 2);
	ck_assert_str_eq(p->policy.release_refs[0].env, "prod");
	ck_assert_uint_eq(p->policy.release_refs[0].npatterns, 1);
	ck_assert_uint_eq(p->policy.release_refs[1].npatterns, 2);
	ck_assert_str_eq(p->policy.release_refs[1].patterns[1], "rc-*");
	/* Where values are: the override's, the base's, a default's nearest parent. */
	at = kiln_profile_where(p, "/deploy/capacity/max", 0);
	want = kiln_xasprintf("%s:11:60", path);
	ck_assert_str_eq(at, want);
	free(at);
	free(want);
	at = kiln_profile_where(p, "/deploy/smoke/0/retries", 0);
	want = kiln_xasprintf("%s:7:49", path);
	ck_assert_str_eq(at, want);
	free(at);
	free(want);
	at = kiln_profile_where(p, "/bake/encrypted", 0);
	want = kiln_xasprintf("%s:1:1", path);
	ck_assert_str_eq(at, want);
	free(at);
	free(want);
	at = kiln_profile_where(p, "/policy/max_capacity", 1);
	want = kiln_xasprintf("%s:9:14", path);
	ck_assert_str_eq(at, want);
	free(at);
	free(want);
	kiln_profile_free(p);
	free(path);
}
END_TEST

/* Stages read typed specs: every value of bake and validate, defaults included. */
static const char typed[] =
    "{\n"
    "  \"name\": \"web\",\n"
    "  \"region\": \"eu-west-1\",\n"
    "  \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\",\n"
    "                      \"provision\": [\"a.sh\", \"deploy/b.sh\"]}},\n"
    "  \"bake\": {\"source_image\": {\"name\": \"debian-12-*\", \"owners\": [\"self\", "
    "\"amazon\"],\n"
    "                             \"tags\": {\"os\": \"debian\"}},\n"
    "           \"ssh\": {\"host_key_check\": \"accept-new\", \"port\": 2222},\n"
    "           \"encrypted\": true, \"kms_key_id\": \"alias/kiln\",\n"
    "           \"variables\": {\"ZED\": \"last\", \"TOKEN\": {\"value\": \"s3cret\", \"secret\": "
    "true},\n"
    "                         \"PLAIN\": {\"value\": \"p\"}}},\n"
    "  \"validate\": {\"checks\": [\n"
    "    {\"file\": \"/opt/x\", \"group\": \"adm\", \"mode\": \"0644\", \"exists\": true},\n"
    "    {\"group\": \"adm\", \"exists\": false},\n"
    "    {\"port\": 8080},\n"
    "    {\"command\": \"true\", \"exit_code\": 0, \"stdout\": \"ok\", \"name\": \"works\"},\n"
    "    {\"service\": \"web\", \"enabled\": true}]},\n"
    "  \"tags\": {\"team\": \"data\", \"cost\": \"42\"},\n"
    "  \"environments\": {\"prod\": {\"bake\": {\"instance_type\": \"m5.large\"},\n"
    "    \"layers\": {\"os\": {\"provision\": [\"prod.sh\"]}},\n"
    "    \"validate\": {\"checks\": [{\"user\": \"web\"}]}}}\n"
    "}\n";

START_TEST(bake_and_validate_are_typed)
{
	struct kiln_profile *p = NULL;
	char *path = write_profile("typed.json", typed), *at;
	const struct kiln_bake_spec *b;
	const struct kiln_check_spec *c;

	ck_assert_msg(kiln_profile_load(&p, path, NULL) == 0, "%s", kiln_error_last());
	b = &p->bake;
	ck_assert_str_eq(p->region, "eu-west-1");
	ck_assert_ptr_null(b->source_image.id);
	ck_assert_str_eq(b->source_image.name, "debian-12-*");
	ck_assert_uint_eq(b->source_image.nowners, 2);
	ck_assert_str_eq(b->source_image.owners[1], "amazon");
	ck_assert_uint_eq(b->source_image.ntags, 1);
	ck_assert_str_eq(b->source_image.tags[0].value, "debian");
	/* Defaults, where the profile says nothing. */
	ck_assert_str_eq(b->instance_type, "t3.small");
	ck_assert_str_eq(b->ssh_user, "root");
	ck_assert_str_eq(b->layer_dir, "/opt/kiln/layers");
	ck_assert_int_eq(b->timeout_s, 3600);
	ck_assert_int_eq(b->provision_timeout_s, 1800);
	ck_assert_int_eq(b->ssh_timeout_s, 300);
	/* Set values, an object merged over its defaults. */
	ck_assert_int_eq(b->ssh_port, 2222);
	ck_assert_int_eq(b->host_key_check, KILN_HOST_KEY_ACCEPT_NEW);
	ck_assert_int_eq(b->encrypted, 1);
	ck_assert_str_eq(b->kms_key_id, "alias/kiln");
	/* Variables in file order, both forms. */
	ck_assert_uint_eq(b->nvariables, 3);
	ck_assert_str_eq(b->variables[0].name, "ZED");
	ck_assert_str_eq(b->variables[0].value, "last");
	ck_assert_int_eq(b->variables[0].secret, 0);
	ck_assert_str_eq(b->variables[1].name, "TOKEN");
	ck_assert_int_eq(b->variables[1].secret, 1);
	ck_assert_str_eq(b->variables[2].value, "p");
	ck_assert_int_eq(b->variables[2].secret, 0);
	ck_assert_uint_eq(p->ntags, 2);
	ck_assert_str_eq(p->tags[1].key, "cost");

	ck_assert_uint_eq(p->validate.nchecks, 5);
	c = &p->validate.checks[0];
	/* "group" beside "file" is the file's group, not a group check. */
	ck_assert_int_eq(c->kind, KILN_CHECK_FILE);
	ck_assert_str_eq(c->subject, "/opt/x");
	ck_assert_str_eq(c->group, "adm");
	ck_assert_str_eq(c->mode, "0644");
	ck_assert_int_eq(c->exists, 1);
	ck_assert_int_eq(c->running, KILN_UNSET);
	c = &p->validate.checks[1];
	ck_assert_int_eq(c->kind, KILN_CHECK_GROUP);
	ck_assert_str_eq(c->subject, "adm");
	ck_assert_ptr_null(c->group);
	ck_assert_int_eq(c->exists, 0);
	c = &p->validate.checks[2];
	ck_assert_int_eq(c->kind, KILN_CHECK_PORT);
	ck_assert_int_eq(c->port, 8080);
	ck_assert_ptr_null(c->subject);
	ck_assert_int_eq(c->listening, KILN_UNSET);
	c = &p->validate.checks[3];
	ck_assert_int_eq(c->kind, KILN_CHECK_COMMAND);
	ck_assert_int_eq(c->exit_code, 0);
	ck_assert_int_eq(c->timeout_s, KILN_UNSET);
	ck_assert_str_eq(c->stdout_contains, "ok");
	ck_assert_str_eq(c->name, "works");
	ck_assert_int_eq(p->validate.checks[4].kind, KILN_CHECK_SERVICE);
	ck_assert_int_eq(p->validate.checks[4].enabled, 1);

	/* Where each provisioner is written, for messages about it. */
	at = kiln_xasprintf("%s:5:45", path);
	ck_assert_str_eq(p->layers[0].provision_at[1], at);
	free(at);
	kiln_profile_free(p);

	/* An environment's values, and positions in its override. */
	ck_assert_msg(kiln_profile_load(&p, path, "prod") == 0, "%s", kiln_error_last());
	ck_assert_str_eq(p->bake.instance_type, "m5.large");
	ck_assert_int_eq(p->bake.ssh_port, 2222);
	ck_assert_uint_eq(p->validate.nchecks, 1);
	ck_assert_int_eq(p->validate.checks[0].kind, KILN_CHECK_USER);
	ck_assert_str_eq(p->layers[0].provision[0], "prod.sh");
	at = kiln_xasprintf("%s:20:37", path);
	ck_assert_str_eq(p->layers[0].provision_at[0], at);
	free(at);
	kiln_profile_free(p);
	free(path);
}
END_TEST

START_TEST(source_image_by_id)
{
	struct kiln_profile *p = NULL;
	char *path = write_profile(
	    "id.json",
	    "{\"name\": \"web\", \"layers\": {\"os\": {\"repo\": \"r\", \"ref\": \"v1\"}},\n"
	    " \"bake\": {\"source_image\": \"ami-0123456789abcdef0\"}}\n");

	ck_assert_msg(kiln_profile_load(&p, path, NULL) == 0, "%s", kiln_error_last());
	ck_assert_str_eq(p->bake.source_image.id, "ami-0123456789abcdef0");
	ck_assert_ptr_null(p->bake.source_image.name);
	ck_assert_uint_eq(p->bake.source_image.nowners, 0);
	ck_assert_uint_eq(p->validate.nchecks, 0);
	ck_assert_ptr_null(p->region);
	kiln_profile_free(p);
	free(path);
}
END_TEST

START_TEST(distance_for_hints)
{
	ck_assert_uint_eq(kiln_schema_distance("layres", "layers"), 2);
	ck_assert_uint_eq(kiln_schema_distance("target", "target"), 0);
	ck_assert_uint_eq(kiln_schema_distance("", "abc"), 3);
	ck_assert_uint_eq(kiln_schema_distance("provison", "provision"), 1);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("profiles");
	TCase *tc = tcase_create("profiles");

	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_add_loop_test(tc, bad_profile_reports_exact_position, 0,
	                    (int)KILN_ARRAY_SIZE(bad_cases));
	tcase_add_test(tc, good_profile_loads_with_defaults);
	tcase_add_test(tc, http_smoke_deploy_policy_are_typed);
	tcase_add_test(tc, environment_overrides_merge_deeply);
	tcase_add_test(tc, unknown_environment_names_the_known_ones);
	tcase_add_test(tc, override_breaking_a_cross_field_rule_points_at_the_override);
	tcase_add_test(tc, every_problem_is_reported);
	tcase_add_test(tc, utf8_columns_count_characters);
	tcase_add_test(tc, missing_file_is_bad_input);
	tcase_add_test(tc, examples_are_valid);
	tcase_add_test(tc, distance_for_hints);
	tcase_add_test(tc, bake_and_validate_are_typed);
	tcase_add_test(tc, source_image_by_id);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
