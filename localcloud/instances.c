/*
 * EC2 instances as the API shows and changes them: describe, status, start,
 * stop, terminate, reboot, console output. A handler only changes an
 * instance's "state" (or sets "reboot"); its runner (runner.c) makes it so
 * outside the lock. RunInstances is in launch.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "aws/shapes.h"
#include "core/util.h"
#include "localcloud/describe-int.h"
#include "localcloud/ec2-int.h"
#include "localcloud/xml-int.h"

/* EC2 returns the most recent 64 KiB of a console. */
#define LC_CONSOLE_MAX (64 * 1024)

json_t *lc_instances(struct lc_cloud *c)
{
	return lc_table(c, "instances");
}

char *lc_instance_dir(struct lc_cloud *c, const char *id)
{
	return kiln_path_join(c->instances_dir, id);
}

void lc_instance_set_state(json_t *inst, const char *state, const char *reason)
{
	json_object_set_new(inst, "state", json_string(state));
	if (reason)
		json_object_set_new(inst, "reason", json_string(reason));
}

void lc_instance_state_reason(json_t *inst, const char *code, const char *message)
{
	json_object_set_new(inst, "state_reason",
	                    json_pack("{s:s, s:s}", "code", code, "message", message));
}

const char *lc_arch(void)
{
	struct utsname u;

	return uname(&u) == 0 && strcmp(u.machine, "aarch64") == 0 ? "arm64" : "x86_64";
}

int lc_base64_decode(unsigned char **out, size_t *len, const char *in)
{
	struct kiln_buf b = KILN_BUF_INIT;

	*out = NULL;
	*len = 0;
	if (kiln_aws_base64_decode(&b, in) < 0) {
		kiln_buf_release(&b);
		kiln_error_clear();
		return -1;
	}
	*len = b.size;
	if (b.size)
		*out = (unsigned char *)kiln_buf_detach(&b);
	kiln_buf_release(&b);
	return 0;
}

int lc_user_data_check(struct lc_req *r, const char *ud)
{
	unsigned char *bytes = NULL;
	size_t len = 0;
	int rc = 0;

	if (lc_base64_decode(&bytes, &len, ud) < 0)
		rc = lc_err(r, 400, "InvalidUserData.Malformed",
		            "Invalid BASE64 encoding of user data.");
	else if (len > LC_USER_DATA_MAX)
		rc = lc_err(r, 400, "InvalidParameterValue", "User data is limited to %d bytes",
		            LC_USER_DATA_MAX);
	free(bytes);
	return rc;
}

static int state_code(const char *s)
{
	static const struct {
		const char *name;
		int code;
	} codes[] = {{"pending", 0},     {"running", 16},  {"shutting-down", 32},
	             {"terminated", 48}, {"stopping", 64}, {"stopped", 80}};

	for (size_t i = 0; i < KILN_ARRAY_SIZE(codes); i++)
		if (strcmp(codes[i].name, s) == 0)
			return codes[i].code;
	return 0;
}

/* ---- XML ---------------------------------------------------------------- */

static void state_xml(struct kiln_buf *b, const char *name, const char *state)
{
	lc_xo(b, name);
	lc_xtf(b, "code", "%d", state_code(state));
	lc_xt(b, "name", state);
	lc_xc(b, name);
}

static void groups_xml(struct lc_req *r, json_t *inst)
{
	size_t i;
	json_t *g;

	lc_xo(r->out, "groupSet");
	json_array_foreach(json_object_get(inst, "groups"), i, g)
	{
		json_t *sg =
		    json_object_get(lc_table(r->c, "security_groups"), json_string_value(g));
		lc_xo(r->out, "item");
		lc_xt(r->out, "groupId", json_string_value(g));
		lc_xt(r->out, "groupName", sg ? lc_str(sg, "name") : "");
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, "groupSet");
}

static void block_devices_xml(struct lc_req *r, json_t *inst, int live)
{
	lc_xt(r->out, "rootDeviceType", "ebs");
	lc_xt(r->out, "rootDeviceName", "/dev/xvda");
	lc_xo(r->out, "blockDeviceMapping");
	if (live) {
		lc_xo(r->out, "item");
		lc_xt(r->out, "deviceName", "/dev/xvda");
		lc_xo(r->out, "ebs");
		lc_xtf(r->out, "volumeId", "vol-%s", lc_str(inst, "id") + 2);
		lc_xt(r->out, "status", "attached");
		lc_xt(r->out, "attachTime", lc_str(inst, "created"));
		lc_xbool(r->out, "deleteOnTermination", 1);
		lc_xc(r->out, "ebs");
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, "blockDeviceMapping");
}

static void interface_xml(struct lc_req *r, json_t *inst, json_t *sn, const char *dns)
{
	const char *id = lc_str(inst, "id");

	lc_xo(r->out, "item");
	lc_xtf(r->out, "networkInterfaceId", "eni-%s", id + 2);
	lc_xt(r->out, "subnetId", lc_str(inst, "subnet"));
	lc_xt(r->out, "vpcId", sn ? lc_str(sn, "vpc") : NULL);
	lc_xt(r->out, "description", "");
	lc_xt(r->out, "ownerId", r->c->account);
	lc_xt(r->out, "status", "in-use");
	lc_xt(r->out, "macAddress", lc_str(inst, "mac"));
	lc_xt(r->out, "privateIpAddress", lc_str(inst, "ip"));
	lc_xt(r->out, "privateDnsName", dns);
	lc_xbool(r->out, "sourceDestCheck", 1);
	groups_xml(r, inst);
	lc_xo(r->out, "attachment");
	lc_xtf(r->out, "attachmentId", "eni-attach-%s", id + 2);
	lc_xt(r->out, "deviceIndex", "0");
	lc_xt(r->out, "status", "attached");
	lc_xt(r->out, "attachTime", lc_str(inst, "created"));
	lc_xbool(r->out, "deleteOnTermination", 1);
	lc_xt(r->out, "networkCardIndex", "0");
	lc_xc(r->out, "attachment");
	lc_xo(r->out, "privateIpAddressesSet");
	lc_xo(r->out, "item");
	lc_xt(r->out, "privateIpAddress", lc_str(inst, "ip"));
	lc_xt(r->out, "privateDnsName", dns);
	lc_xbool(r->out, "primary", 1);
	lc_xc(r->out, "item");
	lc_xc(r->out, "privateIpAddressesSet");
	lc_xt(r->out, "interfaceType", "interface");
	lc_xc(r->out, "item");
}

static void state_reason_xml(struct lc_req *r, json_t *inst)
{
	json_t *reason = json_object_get(inst, "state_reason");

	if (reason == NULL)
		return;
	lc_xo(r->out, "stateReason");
	lc_xt(r->out, "code", lc_str(reason, "code"));
	lc_xt(r->out, "message", lc_str(reason, "message"));
	lc_xc(r->out, "stateReason");
}

void lc_instance_xml(struct lc_req *r, json_t *inst)
{
	const char *state = lc_str(inst, "state");
	json_t *sn = lc_subnet(r->c, lc_str(inst, "subnet"));
	int live = strcmp(state, "terminated") != 0;
	char *dns = kiln_xasprintf("%s.ec2.internal", lc_str(inst, "hostname"));

	lc_xo(r->out, "item");
	lc_xt(r->out, "instanceId", lc_str(inst, "id"));
	lc_xt(r->out, "imageId", lc_str(inst, "image"));
	state_xml(r->out, "instanceState", state);
	lc_xt(r->out, "privateDnsName", live ? dns : "");
	lc_xt(r->out, "dnsName", "");
	lc_xt(r->out, "reason", lc_str(inst, "reason") ? lc_str(inst, "reason") : "");
	lc_xt(r->out, "keyName", lc_str(inst, "key_name"));
	lc_xtf(r->out, "amiLaunchIndex", "%lld",
	       (long long)json_integer_value(json_object_get(inst, "launch_index")));
	kiln_buf_puts(r->out, "<productCodes/>");
	lc_xt(r->out, "instanceType", lc_str(inst, "type"));
	lc_xt(r->out, "launchTime", lc_str(inst, "launched"));
	lc_xo(r->out, "placement");
	lc_xt(r->out, "availabilityZone", lc_str(inst, "zone"));
	lc_xt(r->out, "groupName", "");
	lc_xt(r->out, "tenancy", "default");
	lc_xc(r->out, "placement");
	kiln_buf_puts(r->out, "<monitoring><state>disabled</state></monitoring>");
	if (live) {
		lc_xt(r->out, "subnetId", lc_str(inst, "subnet"));
		lc_xt(r->out, "vpcId", sn ? lc_str(sn, "vpc") : NULL);
		lc_xt(r->out, "privateIpAddress", lc_str(inst, "ip"));
	}
	lc_xbool(r->out, "sourceDestCheck", 1);
	groups_xml(r, inst);
	state_reason_xml(r, inst);
	lc_xt(r->out, "architecture", lc_arch());
	block_devices_xml(r, inst, live);
	lc_xt(r->out, "virtualizationType", "hvm");
	lc_xt(r->out, "clientToken",
	      lc_str(inst, "client_token") ? lc_str(inst, "client_token") : "");
	lc_xtags(r->out, "tagSet", json_object_get(inst, "tags"));
	lc_xt(r->out, "hypervisor", "xen");
	lc_xo(r->out, "networkInterfaceSet");
	if (live)
		interface_xml(r, inst, sn, dns);
	lc_xc(r->out, "networkInterfaceSet");
	lc_xbool(r->out, "ebsOptimized", 0);
	lc_xbool(r->out, "enaSupport", 1);
	lc_xo(r->out, "metadataOptions");
	lc_xt(r->out, "state", "applied");
	lc_xt(r->out, "httpTokens", "required");
	lc_xt(r->out, "httpPutResponseHopLimit", "2");
	lc_xt(r->out, "httpEndpoint", "disabled");
	lc_xc(r->out, "metadataOptions");
	lc_xc(r->out, "item");
	free(dns);
}

/* ---- describe ----------------------------------------------------------- */

void lc_field_arch(struct lc_cloud *c, json_t *res, struct lc_values *out)
{
	(void)c;
	(void)res;
	lc_values_add(out, lc_arch());
}

static void state_code_value(struct lc_cloud *c, json_t *res, struct lc_values *out)
{
	(void)c;
	snprintf(out->scratch[0], sizeof(out->scratch[0]), "%d", state_code(lc_str(res, "state")));
	lc_values_add(out, out->scratch[0]);
}

static void dns_name_value(struct lc_cloud *c, json_t *res, struct lc_values *out)
{
	(void)c;
	snprintf(out->scratch[0], sizeof(out->scratch[0]), "%s.ec2.internal",
	         lc_str(res, "hostname"));
	lc_values_add(out, out->scratch[0]);
}

static const struct lc_field instance_fields[] = {
    {"instance-state-name", .key = "state"},
    {"instance-state-code", .fn = state_code_value},
    {"image-id", .key = "image"},
    {"instance-id", .key = "id"},
    {"private-ip-address", .key = "ip"},
    {"network-interface.addresses.private-ip-address", .key = "ip"},
    {"instance-type", .key = "type"},
    {"key-name", .key = "key_name"},
    {"subnet-id", .key = "subnet"},
    {"vpc-id", .key = "vpc"},
    {"availability-zone", .key = "zone"},
    {"reservation-id", .key = "reservation"},
    {"client-token", .key = "client_token"},
    {"private-dns-name", .fn = dns_name_value},
    {"instance.group-id", .key = "groups"},
    {"group-id", .key = "groups"},
    {"owner-id", .fn = lc_field_account},
    {"architecture", .fn = lc_field_arch},
    {NULL}};

/* "i-" and 8 or 17 lowercase hex digits, as EC2's ids. */
int lc_valid_instance_id(const char *id)
{
	size_t n = strlen(id);

	return strncmp(id, "i-", 2) == 0 && (n == 10 || n == 19) &&
	       strspn(id + 2, "0123456789abcdef") == n - 2;
}

static int instance_check(struct lc_req *r, const char *id)
{
	if (!lc_valid_instance_id(id))
		return lc_err(r, 400, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id);
	if (json_object_get(lc_instances(r->c), id) == NULL)
		return lc_err(r, 400, "InvalidInstanceID.NotFound",
		              "The instance ID '%s' does not exist", id);
	return 0;
}

static const struct lc_describe instances_described = {
    .table = "instances",
    .by = {{"InstanceId", NULL, instance_check}},
    .fields = instance_fields,
};

/* Consecutive instances of one reservation go in one <item>, as EC2 groups them. */
static void reservations_xml(struct lc_req *r, json_t *list, const struct lc_page *pg)
{
	size_t i = pg->first, end = pg->first + pg->count;

	lc_xo(r->out, "reservationSet");
	while (i < end) {
		const char *res_id = lc_str(json_array_get(list, i), "reservation");
		lc_xo(r->out, "item");
		lc_xt(r->out, "reservationId", res_id);
		lc_xt(r->out, "ownerId", r->c->account);
		kiln_buf_puts(r->out, "<groupSet/>");
		lc_xo(r->out, "instancesSet");
		while (i < end &&
		       strcmp(lc_str(json_array_get(list, i), "reservation"), res_id) == 0)
			lc_instance_xml(r, json_array_get(list, i++));
		lc_xc(r->out, "instancesSet");
		lc_xc(r->out, "item");
	}
	lc_xc(r->out, "reservationSet");
}

int lc_ec2_describe_instances(struct lc_req *r)
{
	struct lc_page pg;
	json_t *list;

	/* parameters are checked before any id is looked up, as EC2 does */
	if (lc_q_has_prefix(r, "InstanceId") && lc_q(r, "MaxResults"))
		return lc_err(r, 400, "InvalidParameterCombination",
		              "The parameter instancesSet cannot be used with the parameter "
		              "maxResults");
	if (lc_describe_select(r, &instances_described, &list) < 0)
		return -1;
	if (lc_page_parse(r, json_array_size(list), 5, 1000, 1000, &pg) < 0) {
		json_decref(list);
		return -1;
	}
	reservations_xml(r, list, &pg);
	lc_page_token(r, &pg);
	json_decref(list);
	return 0;
}

static void status_xml(struct lc_req *r, json_t *inst)
{
	const char *state = lc_str(inst, "state");
	const char *status = strcmp(state, "running") == 0 ? "ok" : "not-applicable";

	lc_xo(r->out, "item");
	lc_xt(r->out, "instanceId", lc_str(inst, "id"));
	lc_xt(r->out, "availabilityZone", lc_str(inst, "zone"));
	state_xml(r->out, "instanceState", state);
	for (int s = 0; s < 2; s++) {
		lc_xo(r->out, s ? "instanceStatus" : "systemStatus");
		lc_xt(r->out, "status", status);
		lc_xo(r->out, "details");
		lc_xo(r->out, "item");
		lc_xt(r->out, "name", "reachability");
		lc_xt(r->out, "status", strcmp(status, "ok") == 0 ? "passed" : "not-applicable");
		lc_xc(r->out, "item");
		lc_xc(r->out, "details");
		lc_xc(r->out, s ? "instanceStatus" : "systemStatus");
	}
	kiln_buf_puts(r->out, "<eventsSet/>");
	lc_xc(r->out, "item");
}

/* Without IncludeAllInstances, only running instances have a status. */
static int status_keep(struct lc_req *r, json_t *inst)
{
	int all = 0;

	lc_q_bool(r, "IncludeAllInstances", 0, &all);
	return all || strcmp(lc_str(inst, "state"), "running") == 0;
}

int lc_ec2_describe_instance_status(struct lc_req *r)
{
	static const struct lc_describe d = {.table = "instances",
	                                     .by = {{"InstanceId", NULL, instance_check}},
	                                     .fields = instance_fields,
	                                     .keep = status_keep,
	                                     .paged = 1,
	                                     .page_min = 5,
	                                     .page_max = 1000,
	                                     .set = "instanceStatusSet",
	                                     .item = status_xml};
	int all;

	if (lc_q_bool(r, "IncludeAllInstances", 0, &all) < 0)
		return -1;
	return lc_describe(r, &d);
}

/* ---- state changes ------------------------------------------------------ */

/* InstanceId.N, each checked; the instances in *out (borrowed). */
static int request_instances(struct lc_req *r, json_t **out)
{
	const char **ids;
	size_t n = lc_q_list(r, "InstanceId", &ids);
	json_t *list = json_array();
	int rc = 0;

	if (n == 0)
		rc = lc_missing(r, "InstanceId");
	else if (n > LC_IDS_MAX)
		rc = lc_err(r, 400, "InvalidParameterValue", "Too many instance ids (at most %d)",
		            LC_IDS_MAX);
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = instance_check(r, ids[i]);
		if (rc == 0)
			json_array_append(list, json_object_get(lc_instances(r->c), ids[i]));
	}
	free(ids);
	if (rc < 0) {
		json_decref(list);
		return -1;
	}
	*out = list;
	return 0;
}

enum change { START, STOP, TERMINATE };

static int change_refused(enum change verb, const char *s)
{
	int gone = strcmp(s, "terminated") == 0 || strcmp(s, "shutting-down") == 0;

	if (verb == STOP)
		return gone;
	if (verb == START)
		return gone || strcmp(s, "stopping") == 0;
	return 0;
}

static void user_initiated(json_t *inst, const char *state)
{
	char when[32], *reason;

	lc_now_iso(when);
	reason = kiln_xasprintf("User initiated (%.19s GMT)", when);
	lc_instance_set_state(inst, state, reason);
	lc_instance_state_reason(inst, "Client.UserInitiatedShutdown",
	                         "Client.UserInitiatedShutdown: User initiated shutdown");
	free(reason);
}

static void change_one(enum change verb, json_t *inst, const char *prev)
{
	if (verb == STOP && (strcmp(prev, "running") == 0 || strcmp(prev, "pending") == 0)) {
		user_initiated(inst, "stopping");
	} else if (verb == START && strcmp(prev, "stopped") == 0) {
		lc_instance_set_state(inst, "pending", "");
		json_object_del(inst, "state_reason");
	} else if (verb == TERMINATE && strcmp(prev, "terminated") != 0 &&
	           strcmp(prev, "shutting-down") != 0) {
		user_initiated(inst, "shutting-down");
	}
}

static int change_states(struct lc_req *r, enum change verb)
{
	json_t *list, *inst;
	size_t i;

	if (request_instances(r, &list) < 0)
		return -1;
	/* all or nothing: check every instance before changing one */
	json_array_foreach(list, i, inst)
	{
		if (change_refused(verb, lc_str(inst, "state"))) {
			json_decref(list);
			return lc_err(
			    r, 400, "IncorrectInstanceState",
			    "This instance '%s' is not in a state from which it can be %s.",
			    lc_str(inst, "id"), verb == STOP ? "stopped" : "started");
		}
	}
	lc_xo(r->out, "instancesSet");
	json_array_foreach(list, i, inst)
	{
		char *prev = kiln_xstrdup(lc_str(inst, "state"));
		change_one(verb, inst, prev);
		lc_xo(r->out, "item");
		lc_xt(r->out, "instanceId", lc_str(inst, "id"));
		state_xml(r->out, "currentState", lc_str(inst, "state"));
		state_xml(r->out, "previousState", prev);
		lc_xc(r->out, "item");
		free(prev);
	}
	lc_xc(r->out, "instancesSet");
	json_decref(list);
	r->dirty = 1;
	return 0;
}

int lc_ec2_start_instances(struct lc_req *r)
{
	return change_states(r, START);
}

int lc_ec2_stop_instances(struct lc_req *r)
{
	return change_states(r, STOP);
}

int lc_ec2_terminate_instances(struct lc_req *r)
{
	return change_states(r, TERMINATE);
}

int lc_ec2_reboot_instances(struct lc_req *r)
{
	json_t *list, *inst;
	size_t i;

	if (request_instances(r, &list) < 0)
		return -1;
	json_array_foreach(list, i, inst)
	{
		if (strcmp(lc_str(inst, "state"), "terminated") == 0) {
			json_decref(list);
			return lc_err(r, 400, "IncorrectInstanceState",
			              "This instance '%s' is not in a state from which it can be "
			              "rebooted.",
			              lc_str(inst, "id"));
		}
	}
	json_array_foreach(list, i, inst)
	{
		if (strcmp(lc_str(inst, "state"), "running") == 0)
			json_object_set_new(inst, "reboot", json_true());
	}
	json_decref(list);
	r->dirty = 1;
	lc_xt(r->out, "return", "true");
	return 0;
}

/* ---- console ------------------------------------------------------------ */

/* The last LC_CONSOLE_MAX bytes of a console, read without the lock. */
static void console_tail(struct kiln_buf *out, const char *path)
{
	struct stat st;
	char *data;
	off_t from;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	from = st.st_size > LC_CONSOLE_MAX ? st.st_size - LC_CONSOLE_MAX : 0;
	data = kiln_xmalloc(LC_CONSOLE_MAX);
	do
		n = pread(fd, data, LC_CONSOLE_MAX, from);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		kiln_buf_put(out, data, (size_t)n);
	free(data);
	close(fd);
}

static void buf_free(void *p)
{
	kiln_buf_release(p);
	free(p);
}

int lc_ec2_get_console_output_prepare(struct lc_req *r)
{
	const char *id = lc_q(r, "InstanceId");
	struct kiln_buf *log;
	char *dir, *path;

	if (id == NULL)
		return lc_missing(r, "InstanceId");
	if (!lc_valid_instance_id(id))
		return lc_err(r, 400, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id);
	log = kiln_xcalloc(1, sizeof(*log));
	kiln_buf_init(log, LC_CONSOLE_MAX + 1);
	r->prep = log;
	r->prep_free = buf_free;
	dir = lc_instance_dir(r->c, id);
	path = kiln_path_join(dir, "console.log");
	console_tail(log, path);
	free(path);
	free(dir);
	return 0;
}

int lc_ec2_get_console_output(struct lc_req *r)
{
	const char *id = lc_q(r, "InstanceId");
	struct kiln_buf *log = r->prep;
	char now[32], *b64;

	if (json_object_get(lc_instances(r->c), id) == NULL)
		return lc_err(r, 400, "InvalidInstanceID.NotFound",
		              "The instance ID '%s' does not exist", id);
	b64 = kiln_aws_base64_encode(log->ptr, log->size);
	lc_now_iso(now);
	lc_xt(r->out, "instanceId", id);
	lc_xt(r->out, "timestamp", now);
	lc_xt(r->out, "output", b64);
	free(b64);
	return 0;
}
