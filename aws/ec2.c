/* EC2 images, snapshots, instances and console output, and the flattening they share. */
#include "aws/ec2.h"
#include "aws/ec2-int.h"

#include <string.h>

#include "core/log.h"

#define EC2 KILN_AWS_EC2

void kiln_ec2_query_tag_specs(struct kiln_query *q, const char *prefix,
                              const struct kiln_ec2_tag_spec *specs, size_t n)
{
	char *p;
	size_t i;

	for (i = 0; specs != NULL && i < n; i++) {
		KILN_ASSERT_ARG(specs[i].resource_type != NULL);
		kiln_query_addf(q, specs[i].resource_type, "%sTagSpecification.%zu.ResourceType",
		                prefix, i + 1);
		p = kiln_xasprintf("%sTagSpecification.%zu.Tag", prefix, i + 1);
		kiln_aws_query_tags(q, KILN_QUERY_EC2, p, specs[i].tags);
		free(p);
	}
}

static void add_tristate(struct kiln_query *q, const char *key, int v)
{
	if (v >= 0)
		kiln_aws_query_bool(q, key, v);
}

void kiln_ec2_query_block_devices(struct kiln_query *q, const char *prefix, const char *ebs,
                                  const struct kiln_ec2_block_device *d, size_t n)
{
	char key[160];
	size_t i;

	for (i = 0; d != NULL && i < n; i++) {
#define KEY(field)                                                                                 \
	(snprintf(key, sizeof(key), "%sBlockDeviceMapping.%zu.%s", prefix, i + 1, field), key)
#define EBS(field)                                                                                 \
	(snprintf(key, sizeof(key), "%sBlockDeviceMapping.%zu.%s.%s", prefix, i + 1, ebs, field),  \
	 key)
		if (d[i].device_name != NULL)
			kiln_query_add(q, KEY("DeviceName"), d[i].device_name);
		if (d[i].virtual_name != NULL)
			kiln_query_add(q, KEY("VirtualName"), d[i].virtual_name);
		if (d[i].no_device != NULL)
			kiln_query_add(q, KEY("NoDevice"), d[i].no_device);
		if (d[i].snapshot_id != NULL)
			kiln_query_add(q, EBS("SnapshotId"), d[i].snapshot_id);
		if (d[i].volume_size_gib > 0)
			kiln_aws_query_int(q, EBS("VolumeSize"), d[i].volume_size_gib);
		if (d[i].volume_type != NULL)
			kiln_query_add(q, EBS("VolumeType"), d[i].volume_type);
		if (d[i].iops > 0)
			kiln_aws_query_int(q, EBS("Iops"), d[i].iops);
		add_tristate(q, EBS("Encrypted"), d[i].encrypted);
		if (d[i].kms_key_id != NULL)
			kiln_query_add(q, EBS("KmsKeyId"), d[i].kms_key_id);
		add_tristate(q, EBS("DeleteOnTermination"), d[i].delete_on_termination);
#undef KEY
#undef EBS
	}
}

void kiln_ec2_query_describe(struct kiln_query *q, const struct kiln_ec2_describe *d,
                             const char *id_name, const char *name_name)
{
	if (d == NULL)
		return;
	if (id_name != NULL)
		kiln_aws_query_strings(q, KILN_QUERY_EC2, id_name, d->ids, d->n_ids);
	if (name_name != NULL)
		kiln_aws_query_strings(q, KILN_QUERY_EC2, name_name, d->names, d->n_names);
	kiln_aws_query_filters(q, KILN_QUERY_EC2, d->filters);
	/* EC2 refuses a page size together with explicit ids. */
	if (d->max_results > 0 && d->n_ids == 0 && d->n_names == 0)
		kiln_aws_query_int(q, "MaxResults", d->max_results);
}

/* Images. */

static void image_release(struct kiln_ec2_image *im)
{
	size_t i;

	free(im->image_id);
	free(im->name);
	free(im->description);
	free(im->state);
	free(im->owner_id);
	free(im->creation_date);
	free(im->architecture);
	free(im->root_device_name);
	free(im->root_device_type);
	for (i = 0; i < im->n_devices; i++) {
		free(im->devices[i].device_name);
		free(im->devices[i].snapshot_id);
	}
	free(im->devices);
	kiln_aws_tags_release(&im->tags);
}

void kiln_ec2_image_list_free(struct kiln_ec2_image_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		image_release(&l->v[i]);
	free(l->v);
	free(l);
}

KILN_STATIC int ec2_parse_images(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_ec2_image_list *l = arg;
	xmlNodePtr it, dev;
	size_t alloc = 0;

	for (it = kiln_xml_first_child(result, "imagesSet"); it; it = kiln_xml_next(it)) {
		struct kiln_ec2_image *im = kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*im));

		im->image_id = kiln_aws_xml_dup(x, it, "imageId");
		im->name = kiln_aws_xml_dup(x, it, "name");
		im->description = kiln_aws_xml_dup(x, it, "description");
		im->state = kiln_aws_xml_dup(x, it, "imageState");
		im->owner_id = kiln_aws_xml_dup(x, it, "imageOwnerId");
		im->creation_date = kiln_aws_xml_dup(x, it, "creationDate");
		im->architecture = kiln_aws_xml_dup(x, it, "architecture");
		im->root_device_name = kiln_aws_xml_dup(x, it, "rootDeviceName");
		im->root_device_type = kiln_aws_xml_dup(x, it, "rootDeviceType");
		alloc = 0;
		for (dev = kiln_xml_first_child(it, "blockDeviceMapping"); dev;
		     dev = kiln_xml_next(dev)) {
			struct kiln_ec2_image_device *d =
			    kiln_aws_vec_push(&im->devices, &im->n_devices, &alloc, sizeof(*d));

			d->device_name = kiln_aws_xml_dup(x, dev, "deviceName");
			d->snapshot_id = kiln_aws_xml_dup(x, dev, "ebs/snapshotId");
			d->volume_size_gib = (int)kiln_aws_xml_int(x, dev, "ebs/volumeSize", 0);
			d->encrypted = kiln_aws_xml_bool(x, dev, "ebs/encrypted");
		}
		kiln_aws_xml_tags(&im->tags, x, it, "tagSet", "key", "value");
		if (im->image_id == NULL)
			return kiln_error_set(KILN_ERROR, "DescribeImages reply lacks imageId");
	}
	return 0;
}

int kiln_ec2_describe_images(struct kiln_ec2_image_list **out, struct kiln_aws *aws,
                             const struct kiln_ec2_describe *d)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_image_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	kiln_ec2_query_describe(&q, d, "ImageId", NULL);
	if (d != NULL)
		kiln_aws_query_strings(&q, KILN_QUERY_EC2, "Owner", d->owners, d->n_owners);
	error = kiln_aws_paginate(aws, EC2, "DescribeImages", &q, "NextToken", "", "nextToken",
	                          ec2_parse_images, l);
	if (error < 0)
		kiln_ec2_image_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

static int parse_image_id(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	char **out = arg;

	*out = kiln_aws_xml_dup(x, result, "imageId");
	if (*out == NULL || **out == '\0')
		return kiln_error_set(KILN_ERROR, "CreateImage reply lacks imageId");
	return 0;
}

int kiln_ec2_create_image(char **out, struct kiln_aws *aws, const struct kiln_ec2_create_image *o)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && o != NULL && o->instance_id != NULL &&
	                o->name != NULL);
	*out = NULL;
	kiln_query_add(&q, "InstanceId", o->instance_id);
	kiln_query_add(&q, "Name", o->name);
	if (o->description != NULL)
		kiln_query_add(&q, "Description", o->description);
	add_tristate(&q, "NoReboot", o->no_reboot);
	kiln_ec2_query_block_devices(&q, "", "Ebs", o->devices, o->n_devices);
	kiln_ec2_query_tag_specs(&q, "", o->tag_specs, o->n_tag_specs);
	error = kiln_aws_call(aws, EC2, "CreateImage", &q, "", parse_image_id, out);
	if (error < 0) {
		free(*out);
		*out = NULL;
	}
	kiln_query_release(&q);
	return error;
}

static int call_one(struct kiln_aws *aws, const char *action, const char *key, const char *value)
{
	struct kiln_query q = KILN_QUERY_INIT;
	int error;

	kiln_query_add(&q, key, value);
	error = kiln_aws_call(aws, EC2, action, &q, NULL, NULL, NULL);
	kiln_query_release(&q);
	return error;
}

int kiln_ec2_deregister_image(struct kiln_aws *aws, const char *image_id)
{
	KILN_ASSERT_ARG(aws != NULL && image_id != NULL);
	return call_one(aws, "DeregisterImage", "ImageId", image_id);
}

/* Snapshots. */

void kiln_ec2_snapshot_list_free(struct kiln_ec2_snapshot_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		struct kiln_ec2_snapshot *s = &l->v[i];

		free(s->snapshot_id);
		free(s->volume_id);
		free(s->state);
		free(s->owner_id);
		free(s->description);
		free(s->start_time);
		kiln_aws_tags_release(&s->tags);
	}
	free(l->v);
	free(l);
}

KILN_STATIC int ec2_parse_snapshots(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_ec2_snapshot_list *l = arg;
	xmlNodePtr it;

	for (it = kiln_xml_first_child(result, "snapshotSet"); it; it = kiln_xml_next(it)) {
		struct kiln_ec2_snapshot *s =
		    kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*s));

		s->snapshot_id = kiln_aws_xml_dup(x, it, "snapshotId");
		s->volume_id = kiln_aws_xml_dup(x, it, "volumeId");
		s->state = kiln_aws_xml_dup(x, it, "status");
		s->owner_id = kiln_aws_xml_dup(x, it, "ownerId");
		s->description = kiln_aws_xml_dup(x, it, "description");
		s->start_time = kiln_aws_xml_dup(x, it, "startTime");
		s->volume_size_gib = (int)kiln_aws_xml_int(x, it, "volumeSize", 0);
		s->encrypted = kiln_aws_xml_bool(x, it, "encrypted");
		kiln_aws_xml_tags(&s->tags, x, it, "tagSet", "key", "value");
		if (s->snapshot_id == NULL)
			return kiln_error_set(KILN_ERROR,
			                      "DescribeSnapshots reply lacks snapshotId");
	}
	return 0;
}

int kiln_ec2_describe_snapshots(struct kiln_ec2_snapshot_list **out, struct kiln_aws *aws,
                                const struct kiln_ec2_describe *d)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_snapshot_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	kiln_ec2_query_describe(&q, d, "SnapshotId", NULL);
	if (d != NULL)
		kiln_aws_query_strings(&q, KILN_QUERY_EC2, "Owner", d->owners, d->n_owners);
	error = kiln_aws_paginate(aws, EC2, "DescribeSnapshots", &q, "NextToken", "", "nextToken",
	                          ec2_parse_snapshots, l);
	if (error < 0)
		kiln_ec2_snapshot_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

int kiln_ec2_delete_snapshot(struct kiln_aws *aws, const char *snapshot_id)
{
	KILN_ASSERT_ARG(aws != NULL && snapshot_id != NULL);
	return call_one(aws, "DeleteSnapshot", "SnapshotId", snapshot_id);
}

/* Instances. */

void kiln_ec2_instance_list_free(struct kiln_ec2_instance_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		struct kiln_ec2_instance *in = &l->v[i];

		free(in->instance_id);
		free(in->image_id);
		free(in->instance_type);
		free(in->key_name);
		free(in->state);
		free(in->private_ip);
		free(in->public_ip);
		free(in->private_dns);
		free(in->public_dns);
		free(in->subnet_id);
		free(in->vpc_id);
		free(in->availability_zone);
		free(in->launch_time);
		free(in->state_reason);
		free(in->client_token);
		kiln_aws_strings_release(&in->security_group_ids);
		kiln_aws_tags_release(&in->tags);
	}
	free(l->v);
	free(l);
}

static int parse_instance(struct kiln_ec2_instance *in, const struct kiln_xml *x, xmlNodePtr it)
{
	in->instance_id = kiln_aws_xml_dup(x, it, "instanceId");
	in->image_id = kiln_aws_xml_dup(x, it, "imageId");
	in->instance_type = kiln_aws_xml_dup(x, it, "instanceType");
	in->key_name = kiln_aws_xml_dup(x, it, "keyName");
	in->state = kiln_aws_xml_dup(x, it, "instanceState/name");
	in->state_code = (int)kiln_aws_xml_int(x, it, "instanceState/code", -1);
	in->private_ip = kiln_aws_xml_dup(x, it, "privateIpAddress");
	in->public_ip = kiln_aws_xml_dup(x, it, "ipAddress");
	in->private_dns = kiln_aws_xml_dup(x, it, "privateDnsName");
	in->public_dns = kiln_aws_xml_dup(x, it, "dnsName");
	in->subnet_id = kiln_aws_xml_dup(x, it, "subnetId");
	in->vpc_id = kiln_aws_xml_dup(x, it, "vpcId");
	in->availability_zone = kiln_aws_xml_dup(x, it, "placement/availabilityZone");
	in->launch_time = kiln_aws_xml_dup(x, it, "launchTime");
	in->state_reason = kiln_aws_xml_dup(x, it, "stateReason/message");
	in->client_token = kiln_aws_xml_dup(x, it, "clientToken");
	kiln_aws_xml_strings(&in->security_group_ids, x, it, "groupSet", "groupId");
	kiln_aws_xml_tags(&in->tags, x, it, "tagSet", "key", "value");
	if (in->instance_id == NULL || in->state == NULL)
		return kiln_error_set(KILN_ERROR, "instance in reply lacks instanceId or state");
	return 0;
}

/* Reservations (DescribeInstances) or one reservation's instancesSet (RunInstances). */
KILN_STATIC int ec2_parse_instances(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_ec2_instance_list *l = arg;
	xmlNodePtr res, it, first;
	int error;

	first = kiln_xml_find(result, "reservationSet") != NULL
	            ? kiln_xml_first_child(result, "reservationSet")
	            : result;
	for (res = first; res; res = res == result ? NULL : kiln_xml_next(res)) {
		for (it = kiln_xml_first_child(res, "instancesSet"); it; it = kiln_xml_next(it)) {
			struct kiln_ec2_instance *in =
			    kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*in));

			error = parse_instance(in, x, it);
			if (error < 0)
				return error;
		}
	}
	return 0;
}

int kiln_ec2_run_instances(struct kiln_ec2_instance_list **out, struct kiln_aws *aws,
                           const struct kiln_ec2_run_instances *o)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_instance_list *l = kiln_xcalloc(1, sizeof(*l));
	char *b64 = NULL;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && o != NULL);
	KILN_ASSERT_ARG(o->image_id != NULL || o->launch_template_id != NULL ||
	                o->launch_template_name != NULL);
	*out = NULL;
	if (o->image_id != NULL)
		kiln_query_add(&q, "ImageId", o->image_id);
	if (o->instance_type != NULL)
		kiln_query_add(&q, "InstanceType", o->instance_type);
	kiln_aws_query_int(&q, "MinCount", o->min_count > 0 ? o->min_count : 1);
	kiln_aws_query_int(&q, "MaxCount", o->max_count > 0 ? o->max_count : 1);
	if (o->key_name != NULL)
		kiln_query_add(&q, "KeyName", o->key_name);
	kiln_aws_query_strings(&q, KILN_QUERY_EC2, "SecurityGroupId", o->security_group_ids,
	                       o->n_security_group_ids);
	if (o->subnet_id != NULL)
		kiln_query_add(&q, "SubnetId", o->subnet_id);
	if (o->user_data != NULL) {
		b64 = kiln_aws_base64_encode(o->user_data, strlen(o->user_data));
		kiln_query_add(&q, "UserData", b64);
	}
	kiln_ec2_query_tag_specs(&q, "", o->tag_specs, o->n_tag_specs);
	if (o->client_token != NULL)
		kiln_query_add(&q, "ClientToken", o->client_token);
	if (o->shutdown_behavior != NULL)
		kiln_query_add(&q, "InstanceInitiatedShutdownBehavior", o->shutdown_behavior);
	if (o->launch_template_id != NULL)
		kiln_query_add(&q, "LaunchTemplate.LaunchTemplateId", o->launch_template_id);
	if (o->launch_template_name != NULL)
		kiln_query_add(&q, "LaunchTemplate.LaunchTemplateName", o->launch_template_name);
	if (o->launch_template_version != NULL)
		kiln_query_add(&q, "LaunchTemplate.Version", o->launch_template_version);
	kiln_ec2_query_block_devices(&q, "", "Ebs", o->devices, o->n_devices);
	error = kiln_aws_call(aws, EC2, "RunInstances", &q, "", ec2_parse_instances, l);
	if (error == 0 && l->n == 0)
		error = kiln_error_set(KILN_ERROR, "RunInstances reply lists no instance");
	if (error < 0)
		kiln_ec2_instance_list_free(l);
	else
		*out = l;
	free(b64);
	kiln_query_release(&q);
	return error;
}

int kiln_ec2_describe_instances(struct kiln_ec2_instance_list **out, struct kiln_aws *aws,
                                const struct kiln_ec2_describe *d)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_instance_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	kiln_ec2_query_describe(&q, d, "InstanceId", NULL);
	error = kiln_aws_paginate(aws, EC2, "DescribeInstances", &q, "NextToken", "", "nextToken",
	                          ec2_parse_instances, l);
	if (error < 0)
		kiln_ec2_instance_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

void kiln_ec2_instance_status_list_free(struct kiln_ec2_instance_status_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].instance_id);
		free(l->v[i].availability_zone);
		free(l->v[i].state);
		free(l->v[i].system_status);
		free(l->v[i].instance_status);
	}
	free(l->v);
	free(l);
}

KILN_STATIC int ec2_parse_instance_status(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_ec2_instance_status_list *l = arg;
	xmlNodePtr it;

	for (it = kiln_xml_first_child(result, "instanceStatusSet"); it; it = kiln_xml_next(it)) {
		struct kiln_ec2_instance_status *s =
		    kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*s));

		s->instance_id = kiln_aws_xml_dup(x, it, "instanceId");
		s->availability_zone = kiln_aws_xml_dup(x, it, "availabilityZone");
		s->state = kiln_aws_xml_dup(x, it, "instanceState/name");
		s->system_status = kiln_aws_xml_dup(x, it, "systemStatus/status");
		s->instance_status = kiln_aws_xml_dup(x, it, "instanceStatus/status");
		if (s->instance_id == NULL)
			return kiln_error_set(KILN_ERROR,
			                      "DescribeInstanceStatus reply lacks instanceId");
	}
	return 0;
}

int kiln_ec2_describe_instance_status(struct kiln_ec2_instance_status_list **out,
                                      struct kiln_aws *aws, const struct kiln_ec2_describe *d,
                                      int include_all)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_instance_status_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL);
	*out = NULL;
	kiln_ec2_query_describe(&q, d, "InstanceId", NULL);
	if (include_all)
		kiln_aws_query_bool(&q, "IncludeAllInstances", 1);
	error = kiln_aws_paginate(aws, EC2, "DescribeInstanceStatus", &q, "NextToken", "",
	                          "nextToken", ec2_parse_instance_status, l);
	if (error < 0)
		kiln_ec2_instance_status_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

void kiln_ec2_state_change_list_free(struct kiln_ec2_state_change_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].instance_id);
		free(l->v[i].previous_state);
		free(l->v[i].current_state);
	}
	free(l->v);
	free(l);
}

KILN_STATIC int ec2_parse_state_changes(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_ec2_state_change_list *l = arg;
	xmlNodePtr it;

	for (it = kiln_xml_first_child(result, "instancesSet"); it; it = kiln_xml_next(it)) {
		struct kiln_ec2_state_change *c =
		    kiln_aws_vec_push(&l->v, &l->n, &l->alloc, sizeof(*c));

		c->instance_id = kiln_aws_xml_dup(x, it, "instanceId");
		c->previous_state = kiln_aws_xml_dup(x, it, "previousState/name");
		c->current_state = kiln_aws_xml_dup(x, it, "currentState/name");
		if (c->instance_id == NULL || c->current_state == NULL)
			return kiln_error_set(KILN_ERROR, "state change lacks instanceId or state");
	}
	return 0;
}

static int change_state(struct kiln_ec2_state_change_list **out, struct kiln_aws *aws,
                        const char *action, const char *const *ids, size_t n, int force)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_ec2_state_change_list *l = kiln_xcalloc(1, sizeof(*l));
	int error;

	KILN_ASSERT_ARG(aws != NULL && ids != NULL && n > 0);
	if (out != NULL)
		*out = NULL;
	kiln_aws_query_strings(&q, KILN_QUERY_EC2, "InstanceId", ids, n);
	if (force)
		kiln_aws_query_bool(&q, "Force", 1);
	error = kiln_aws_call(aws, EC2, action, &q, "", ec2_parse_state_changes, l);
	if (error < 0 || out == NULL)
		kiln_ec2_state_change_list_free(l);
	else
		*out = l;
	kiln_query_release(&q);
	return error;
}

int kiln_ec2_start_instances(struct kiln_ec2_state_change_list **out, struct kiln_aws *aws,
                             const char *const *ids, size_t n)
{
	return change_state(out, aws, "StartInstances", ids, n, 0);
}

int kiln_ec2_stop_instances(struct kiln_ec2_state_change_list **out, struct kiln_aws *aws,
                            const char *const *ids, size_t n, int force)
{
	return change_state(out, aws, "StopInstances", ids, n, force);
}

int kiln_ec2_terminate_instances(struct kiln_ec2_state_change_list **out, struct kiln_aws *aws,
                                 const char *const *ids, size_t n)
{
	return change_state(out, aws, "TerminateInstances", ids, n, 0);
}

KILN_STATIC int ec2_parse_console(void *arg, const struct kiln_xml *x, xmlNodePtr result)
{
	struct kiln_buf *b = arg;
	const char *s = kiln_xml_text(x, result, "output");
	int error;

	/* No <output> yet: the console has not printed anything. */
	if (s == NULL || *s == '\0')
		return 0;
	error = kiln_aws_base64_decode(b, s);
	if (error < 0)
		kiln_error_prefix(error, "GetConsoleOutput reply");
	return error;
}

int kiln_ec2_get_console_output(char **out, struct kiln_aws *aws, const char *instance_id,
                                int latest)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_buf b = KILN_BUF_INIT;
	int error;

	KILN_ASSERT_ARG(out != NULL && aws != NULL && instance_id != NULL);
	*out = NULL;
	kiln_query_add(&q, "InstanceId", instance_id);
	if (latest)
		kiln_aws_query_bool(&q, "Latest", 1);
	error = kiln_aws_call(aws, EC2, "GetConsoleOutput", &q, "", ec2_parse_console, &b);
	if (error == 0)
		*out = kiln_buf_detach(&b);
	kiln_buf_release(&b);
	kiln_query_release(&q);
	return error;
}
