/*
 * The typed AWS calls' request flattening and reply parsing, on canned
 * replies in the shapes AWS documents for each operation (EC2's
 * item lists and lower-case names, the Query services' member lists).
 */
#include <check.h>
#include <string.h>

#include "aws/autoscaling-int.h"
#include "aws/autoscaling.h"
#include "aws/ec2-int.h"
#include "aws/ec2.h"
#include "aws/elbv2-int.h"
#include "aws/elbv2.h"
#include "aws/ssm-int.h"
#include "aws/ssm.h"
#include "core/log.h"

#define EC2NS "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\""

/* Parse `xml` and hand `result_path` (below the root) to `fn`. */
static int parse(kiln_aws_page_fn fn, void *arg, const char *xml, const char *result_path)
{
	struct kiln_xml *x = NULL;
	xmlNodePtr result;
	int error;

	ck_assert_int_eq(kiln_xml_parse(&x, xml, strlen(xml)), 0);
	result = kiln_xml_find(kiln_xml_root(x), result_path);
	ck_assert_ptr_nonnull(result);
	error = fn(arg, x, result);
	kiln_xml_free(x);
	return error;
}

static const char describe_images[] =
    "<DescribeImagesResponse " EC2NS ">"
    "<requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>"
    "<imagesSet><item>"
    "<imageId>ami-0abcdef1234567890</imageId>"
    "<imageLocation>123456789012/kiln-web-1</imageLocation>"
    "<imageState>available</imageState><imageOwnerId>123456789012</imageOwnerId>"
    "<creationDate>2026-11-20T09:30:00.000Z</creationDate><isPublic>false</isPublic>"
    "<architecture>x86_64</architecture><imageType>machine</imageType>"
    "<name>kiln-web-1</name><description>web &amp; api</description>"
    "<rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/xvda</rootDeviceName>"
    "<blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs>"
    "<snapshotId>snap-1234567890abcdef0</snapshotId><volumeSize>12</volumeSize>"
    "<deleteOnTermination>true</deleteOnTermination><volumeType>gp3</volumeType>"
    "<encrypted>true</encrypted></ebs></item>"
    "<item><deviceName>/dev/sdb</deviceName><virtualName>ephemeral0</virtualName></item>"
    "</blockDeviceMapping>"
    "<virtualizationType>hvm</virtualizationType>"
    "<tagSet><item><key>kiln:bake-key</key><value>9f86d08</value></item>"
    "<item><key>kiln:profile</key><value>web</value></item></tagSet>"
    "</item><item><imageId>ami-2</imageId><imageState>pending</imageState><tagSet/></item>"
    "</imagesSet></DescribeImagesResponse>";

START_TEST(ec2_images)
{
	struct kiln_ec2_image_list *l = kiln_xcalloc(1, sizeof(*l));

	ck_assert_int_eq(parse(ec2_parse_images, l, describe_images, ""), 0);
	ck_assert_uint_eq(l->n, 2);
	ck_assert_str_eq(l->v[0].image_id, "ami-0abcdef1234567890");
	ck_assert_str_eq(l->v[0].name, "kiln-web-1");
	ck_assert_str_eq(l->v[0].description, "web & api");
	ck_assert_str_eq(l->v[0].state, "available");
	ck_assert_str_eq(l->v[0].owner_id, "123456789012");
	ck_assert_str_eq(l->v[0].root_device_name, "/dev/xvda");
	ck_assert_uint_eq(l->v[0].n_devices, 2);
	ck_assert_str_eq(l->v[0].devices[0].snapshot_id, "snap-1234567890abcdef0");
	ck_assert_int_eq(l->v[0].devices[0].volume_size_gib, 12);
	ck_assert_int_eq(l->v[0].devices[0].encrypted, 1);
	ck_assert_ptr_null(l->v[0].devices[1].snapshot_id);
	ck_assert_uint_eq(l->v[0].tags.n, 2);
	ck_assert_str_eq(kiln_aws_tags_get(&l->v[0].tags, "kiln:profile"), "web");
	ck_assert_str_eq(l->v[1].state, "pending");
	ck_assert_ptr_null(l->v[1].name);
	ck_assert_uint_eq(l->v[1].tags.n, 0);
	kiln_ec2_image_list_free(l);
}
END_TEST

START_TEST(ec2_image_without_id_is_refused)
{
	static const char bad[] = "<DescribeImagesResponse><imagesSet><item><name>x</name></item>"
	                          "</imagesSet></DescribeImagesResponse>";
	struct kiln_ec2_image_list *l = kiln_xcalloc(1, sizeof(*l));

	ck_assert_int_eq(parse(ec2_parse_images, l, bad, ""), KILN_ERROR);
	ck_assert_ptr_nonnull(strstr(kiln_error_last(), "imageId"));
	kiln_ec2_image_list_free(l);
}
END_TEST

static const char instance_item[] =
    "<instanceId>i-%s</instanceId><imageId>ami-1</imageId>"
    "<instanceState><code>16</code><name>running</name></instanceState>"
    "<privateDnsName>ip-10-0-0-%s.ec2.internal</privateDnsName><dnsName/>"
    "<keyName>kiln-builder</keyName><instanceType>t3.micro</instanceType>"
    "<launchTime>2026-11-20T09:30:00.000Z</launchTime>"
    "<placement><availabilityZone>eu-west-1a</availabilityZone><tenancy>default</tenancy>"
    "</placement><subnetId>subnet-1</subnetId><vpcId>vpc-1</vpcId>"
    "<privateIpAddress>10.0.0.%s</privateIpAddress>"
    "<groupSet><item><groupId>sg-1</groupId><groupName>kiln</groupName></item></groupSet>"
    "<networkInterfaceSet><item><groupSet><item><groupId>sg-nested</groupId></item>"
    "</groupSet><tagSet><item><key>nested</key><value>no</value></item></tagSet></item>"
    "</networkInterfaceSet>"
    "<clientToken>kiln-run-1</clientToken>"
    "<tagSet><item><key>kiln:role</key><value>builder</value></item></tagSet>";

static char *instances_reply(const char *root, int reservations)
{
	struct kiln_buf b = KILN_BUF_INIT;
	int r;

	kiln_buf_printf(&b, "<%s " EC2NS "><requestId>r</requestId>", root);
	if (reservations) {
		kiln_buf_puts(&b, "<reservationSet>");
		for (r = 0; r < 2; r++) {
			kiln_buf_printf(
			    &b, "<item><reservationId>r-%d</reservationId><instancesSet>", r);
			kiln_buf_puts(&b, "<item>");
			kiln_buf_printf(&b, instance_item, r ? "b" : "a", r ? "2" : "1",
			                r ? "2" : "1");
			kiln_buf_puts(&b, "</item></instancesSet></item>");
		}
		kiln_buf_puts(&b, "</reservationSet>");
	} else {
		kiln_buf_puts(&b, "<reservationId>r-9</reservationId><instancesSet><item>");
		kiln_buf_printf(&b, instance_item, "c", "3", "3");
		kiln_buf_puts(&b, "</item></instancesSet>");
	}
	kiln_buf_printf(&b, "</%s>", root);
	return kiln_buf_detach(&b);
}

START_TEST(ec2_instances)
{
	struct kiln_ec2_instance_list *l = kiln_xcalloc(1, sizeof(*l));
	char *xml = instances_reply("DescribeInstancesResponse", 1);

	ck_assert_int_eq(parse(ec2_parse_instances, l, xml, ""), 0);
	ck_assert_uint_eq(l->n, 2);
	ck_assert_str_eq(l->v[0].instance_id, "i-a");
	ck_assert_str_eq(l->v[1].instance_id, "i-b");
	ck_assert_str_eq(l->v[1].state, "running");
	ck_assert_int_eq(l->v[1].state_code, 16);
	ck_assert_str_eq(l->v[1].private_ip, "10.0.0.2");
	ck_assert_str_eq(l->v[1].public_dns, "");
	ck_assert_ptr_null(l->v[1].public_ip);
	ck_assert_str_eq(l->v[1].availability_zone, "eu-west-1a");
	ck_assert_str_eq(l->v[1].client_token, "kiln-run-1");
	/* The instance's own groups and tags, not its network interfaces'. */
	ck_assert_uint_eq(l->v[1].security_group_ids.n, 1);
	ck_assert_str_eq(l->v[1].security_group_ids.v[0], "sg-1");
	ck_assert_uint_eq(l->v[1].tags.n, 1);
	ck_assert_str_eq(kiln_aws_tags_get(&l->v[1].tags, "kiln:role"), "builder");
	kiln_ec2_instance_list_free(l);
	free(xml);

	/* RunInstances answers with one reservation at the top. */
	l = kiln_xcalloc(1, sizeof(*l));
	xml = instances_reply("RunInstancesResponse", 0);
	ck_assert_int_eq(parse(ec2_parse_instances, l, xml, ""), 0);
	ck_assert_uint_eq(l->n, 1);
	ck_assert_str_eq(l->v[0].instance_id, "i-c");
	ck_assert_str_eq(l->v[0].key_name, "kiln-builder");
	kiln_ec2_instance_list_free(l);
	free(xml);
}
END_TEST

START_TEST(ec2_status_and_state_changes)
{
	static const char status[] =
	    "<DescribeInstanceStatusResponse " EC2NS "><instanceStatusSet><item>"
	    "<instanceId>i-1</instanceId><availabilityZone>eu-west-1a</availabilityZone>"
	    "<instanceState><code>16</code><name>running</name></instanceState>"
	    "<systemStatus><status>ok</status><details><item><name>reachability</name>"
	    "<status>passed</status></item></details></systemStatus>"
	    "<instanceStatus><status>initializing</status></instanceStatus>"
	    "</item></instanceStatusSet></DescribeInstanceStatusResponse>";
	static const char stop[] =
	    "<StopInstancesResponse " EC2NS "><instancesSet><item><instanceId>i-1</instanceId>"
	    "<currentState><code>64</code><name>stopping</name></currentState>"
	    "<previousState><code>16</code><name>running</name></previousState>"
	    "</item></instancesSet></StopInstancesResponse>";
	struct kiln_ec2_instance_status_list *s = kiln_xcalloc(1, sizeof(*s));
	struct kiln_ec2_state_change_list *c = kiln_xcalloc(1, sizeof(*c));

	ck_assert_int_eq(parse(ec2_parse_instance_status, s, status, ""), 0);
	ck_assert_uint_eq(s->n, 1);
	ck_assert_str_eq(s->v[0].state, "running");
	ck_assert_str_eq(s->v[0].system_status, "ok");
	ck_assert_str_eq(s->v[0].instance_status, "initializing");
	kiln_ec2_instance_status_list_free(s);
	ck_assert_int_eq(parse(ec2_parse_state_changes, c, stop, ""), 0);
	ck_assert_uint_eq(c->n, 1);
	ck_assert_str_eq(c->v[0].current_state, "stopping");
	ck_assert_str_eq(c->v[0].previous_state, "running");
	kiln_ec2_state_change_list_free(c);
}
END_TEST

START_TEST(ec2_console_is_decoded)
{
	/* "SSH host keys:\nssh-ed25519 AAAA\n" in base64, wrapped as AWS sometimes does. */
	static const char reply[] =
	    "<GetConsoleOutputResponse " EC2NS "><instanceId>i-1</instanceId>"
	    "<timestamp>2026-11-20T09:30:00.000Z</timestamp>"
	    "<output>U1NIIGhvc3Qga2V5czoKc3No\nLWVkMjU1MTkgQUFBQQo=</output>"
	    "</GetConsoleOutputResponse>";
	static const char empty[] = "<GetConsoleOutputResponse " EC2NS "><instanceId>i-1"
	                            "</instanceId></GetConsoleOutputResponse>";
	static const char bad[] = "<GetConsoleOutputResponse><output>@@@@</output>"
	                          "</GetConsoleOutputResponse>";
	struct kiln_buf b = KILN_BUF_INIT;

	ck_assert_int_eq(parse(ec2_parse_console, &b, reply, ""), 0);
	ck_assert_str_eq(b.ptr, "SSH host keys:\nssh-ed25519 AAAA\n");
	kiln_buf_clear(&b);
	ck_assert_int_eq(parse(ec2_parse_console, &b, empty, ""), 0);
	ck_assert_uint_eq(b.size, 0);
	ck_assert_int_eq(parse(ec2_parse_console, &b, bad, ""), KILN_EINVAL);
	kiln_buf_release(&b);
}
END_TEST

START_TEST(ec2_key_material_is_secret)
{
	static const char reply[] =
	    "<CreateKeyPairResponse " EC2NS "><requestId>r</requestId>"
	    "<keyName>kiln-builder-1</keyName><keyFingerprint>SHA256:abc</keyFingerprint>"
	    "<keyMaterial>-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
	    "-----END OPENSSH PRIVATE KEY-----</keyMaterial>"
	    "<keyPairId>key-0123</keyPairId></CreateKeyPairResponse>";
	struct kiln_ec2_key_pair *k = kiln_xcalloc(1, sizeof(*k));
	char *line;

	ck_assert_int_eq(parse(ec2_parse_created_key, k, reply, ""), 0);
	ck_assert_str_eq(k->key_name, "kiln-builder-1");
	ck_assert_str_eq(k->key_pair_id, "key-0123");
	ck_assert_ptr_nonnull(strstr(k->key_material, "b3BlbnNzaC1rZXktdjEAAAAA"));
	line = kiln_log_redact(k->key_material);
	ck_assert_str_eq(line, "***");
	free(line);
	kiln_ec2_key_pair_free(k);
	kiln_log_clear_secrets();
}
END_TEST

START_TEST(ec2_security_groups_subnets_tags)
{
	static const char groups[] =
	    "<DescribeSecurityGroupsResponse " EC2NS "><securityGroupInfo><item>"
	    "<ownerId>123456789012</ownerId><groupId>sg-1</groupId><groupName>kiln</groupName>"
	    "<groupDescription>kiln builder</groupDescription><vpcId>vpc-1</vpcId>"
	    "<ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>22</fromPort>"
	    "<toPort>22</toPort><groups><item><userId>1</userId><groupId>sg-2</groupId></item>"
	    "</groups><ipRanges><item><cidrIp>10.0.0.0/16</cidrIp><description>ci</description>"
	    "</item><item><cidrIp>10.1.0.0/16</cidrIp></item></ipRanges><ipv6Ranges/>"
	    "</item><item><ipProtocol>-1</ipProtocol><groups/><ipRanges/></item></ipPermissions>"
	    "<ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><ipRanges><item>"
	    "<cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item></ipPermissionsEgress>"
	    "</item></securityGroupInfo></DescribeSecurityGroupsResponse>";
	static const char subnets[] =
	    "<DescribeSubnetsResponse " EC2NS "><subnetSet><item><subnetId>subnet-1</subnetId>"
	    "<state>available</state><vpcId>vpc-1</vpcId><cidrBlock>10.0.1.0/24</cidrBlock>"
	    "<availableIpAddressCount>251</availableIpAddressCount>"
	    "<availabilityZone>eu-west-1b</availabilityZone><defaultForAz>true</defaultForAz>"
	    "<mapPublicIpOnLaunch>false</mapPublicIpOnLaunch></item></subnetSet>"
	    "</DescribeSubnetsResponse>";
	static const char tags[] =
	    "<DescribeTagsResponse " EC2NS "><tagSet><item><resourceId>i-1</resourceId>"
	    "<resourceType>instance</resourceType><key>Name</key><value/></item></tagSet>"
	    "</DescribeTagsResponse>";
	struct kiln_ec2_security_group_list *g = kiln_xcalloc(1, sizeof(*g));
	struct kiln_ec2_subnet_list *s = kiln_xcalloc(1, sizeof(*s));
	struct kiln_ec2_tag_description_list *t = kiln_xcalloc(1, sizeof(*t));

	ck_assert_int_eq(parse(ec2_parse_security_groups, g, groups, ""), 0);
	ck_assert_uint_eq(g->n, 1);
	ck_assert_str_eq(g->v[0].description, "kiln builder");
	/* Ingress only: the egress rule is not an ingress rule. */
	ck_assert_uint_eq(g->v[0].n_ingress, 2);
	ck_assert_int_eq(g->v[0].ingress[0].from_port, 22);
	ck_assert_uint_eq(g->v[0].ingress[0].cidrs.n, 2);
	ck_assert_str_eq(g->v[0].ingress[0].cidrs.v[1], "10.1.0.0/16");
	ck_assert_str_eq(g->v[0].ingress[0].group_ids.v[0], "sg-2");
	ck_assert_str_eq(g->v[0].ingress[1].ip_protocol, "-1");
	ck_assert_int_eq(g->v[0].ingress[1].from_port, -1);
	kiln_ec2_security_group_list_free(g);
	ck_assert_int_eq(parse(ec2_parse_subnets, s, subnets, ""), 0);
	ck_assert_int_eq(s->v[0].available_ips, 251);
	ck_assert_int_eq(s->v[0].default_for_az, 1);
	ck_assert_int_eq(s->v[0].map_public_ip_on_launch, 0);
	ck_assert_str_eq(s->v[0].availability_zone, "eu-west-1b");
	kiln_ec2_subnet_list_free(s);
	ck_assert_int_eq(parse(ec2_parse_tag_descriptions, t, tags, ""), 0);
	ck_assert_str_eq(t->v[0].value, "");
	ck_assert_str_eq(t->v[0].resource_type, "instance");
	kiln_ec2_tag_description_list_free(t);
}
END_TEST

START_TEST(ec2_launch_template_versions)
{
	static const char reply[] =
	    "<DescribeLaunchTemplateVersionsResponse " EC2NS "><launchTemplateVersionSet><item>"
	    "<createTime>2026-11-20T09:30:00.000Z</createTime>"
	    "<defaultVersion>true</defaultVersion><launchTemplateData>"
	    "<imageId>ami-2</imageId><instanceType>t3.small</instanceType>"
	    "<securityGroupIdSet><item>sg-1</item><item>sg-2</item></securityGroupIdSet>"
	    "<userData>I2Nsb3VkLWNvbmZpZwo=</userData></launchTemplateData>"
	    "<launchTemplateId>lt-1</launchTemplateId><launchTemplateName>web</launchTemplateName>"
	    "<versionDescription>release 2</versionDescription><versionNumber>2</versionNumber>"
	    "</item></launchTemplateVersionSet></DescribeLaunchTemplateVersionsResponse>";
	struct kiln_ec2_launch_template_version_list *l = kiln_xcalloc(1, sizeof(*l));

	ck_assert_int_eq(parse(ec2_parse_launch_template_versions, l, reply, ""), 0);
	ck_assert_uint_eq(l->n, 1);
	ck_assert_int_eq(l->v[0].version_number, 2);
	ck_assert_int_eq(l->v[0].default_version, 1);
	ck_assert_str_eq(l->v[0].image_id, "ami-2");
	ck_assert_str_eq(l->v[0].user_data, "#cloud-config\n");
	ck_assert_uint_eq(l->v[0].security_group_ids.n, 2);
	ck_assert_str_eq(l->v[0].security_group_ids.v[1], "sg-2");
	kiln_ec2_launch_template_version_list_free(l);
}
END_TEST

START_TEST(elbv2_replies)
{
	static const char lbs[] =
	    "<DescribeLoadBalancersResponse "
	    "xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">"
	    "<DescribeLoadBalancersResult><LoadBalancers><member>"
	    "<LoadBalancerArn>arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/web/50"
	    "</LoadBalancerArn><Scheme>internet-facing</Scheme><LoadBalancerName>web"
	    "</LoadBalancerName><VpcId>vpc-1</VpcId><CanonicalHostedZoneId>Z2P70J7EXAMPLE"
	    "</CanonicalHostedZoneId><CreatedTime>2026-11-20T09:30:00.000Z</CreatedTime>"
	    "<AvailabilityZones><member><SubnetId>subnet-1</SubnetId><ZoneName>eu-west-1a"
	    "</ZoneName></member><member><SubnetId>subnet-2</SubnetId><ZoneName>eu-west-1b"
	    "</ZoneName></member></AvailabilityZones><SecurityGroups><member>sg-1</member>"
	    "</SecurityGroups><DNSName>web-1.eu-west-1.elb.amazonaws.com</DNSName>"
	    "<State><Code>provisioning</Code></State><Type>application</Type></member>"
	    "</LoadBalancers><NextMarker>m-2</NextMarker></DescribeLoadBalancersResult>"
	    "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
	    "</DescribeLoadBalancersResponse>";
	static const char tgs[] =
	    "<DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups><member>"
	    "<TargetGroupArn>arn:tg/web-blue</TargetGroupArn><TargetGroupName>web-blue"
	    "</TargetGroupName><Protocol>HTTP</Protocol><Port>8080</Port><VpcId>vpc-1</VpcId>"
	    "<HealthCheckProtocol>HTTP</HealthCheckProtocol><HealthCheckPort>traffic-port"
	    "</HealthCheckPort><HealthCheckEnabled>true</HealthCheckEnabled>"
	    "<HealthCheckIntervalSeconds>10</HealthCheckIntervalSeconds>"
	    "<HealthCheckTimeoutSeconds>5</HealthCheckTimeoutSeconds><HealthyThresholdCount>2"
	    "</HealthyThresholdCount><UnhealthyThresholdCount>3</UnhealthyThresholdCount>"
	    "<HealthCheckPath>/healthz</HealthCheckPath><Matcher><HttpCode>200-299</HttpCode>"
	    "</Matcher><LoadBalancerArns><member>arn:lb/web</member></LoadBalancerArns>"
	    "<TargetType>instance</TargetType></member></TargetGroups>"
	    "</DescribeTargetGroupsResult></DescribeTargetGroupsResponse>";
	static const char listeners[] =
	    "<DescribeListenersResponse><DescribeListenersResult><Listeners><member>"
	    "<ListenerArn>arn:li/1</ListenerArn><LoadBalancerArn>arn:lb/web</LoadBalancerArn>"
	    "<Port>80</Port><Protocol>HTTP</Protocol><DefaultActions><member><Type>forward</Type>"
	    "<ForwardConfig><TargetGroups><member><TargetGroupArn>arn:tg/web-green"
	    "</TargetGroupArn><Weight>1</Weight></member></TargetGroups></ForwardConfig>"
	    "</member></DefaultActions></member></Listeners></DescribeListenersResult>"
	    "</DescribeListenersResponse>";
	static const char health[] =
	    "<DescribeTargetHealthResponse><DescribeTargetHealthResult><TargetHealthDescriptions>"
	    "<member><HealthCheckPort>8080</HealthCheckPort><Target><Id>i-1</Id><Port>8080</Port>"
	    "</Target><TargetHealth><State>unhealthy</State><Reason>Target.FailedHealthChecks"
	    "</Reason><Description>Health checks failed</Description></TargetHealth></member>"
	    "</TargetHealthDescriptions></DescribeTargetHealthResult>"
	    "</DescribeTargetHealthResponse>";
	static const char tags[] =
	    "<DescribeTagsResponse><DescribeTagsResult><TagDescriptions><member>"
	    "<ResourceArn>arn:lb/web</ResourceArn><Tags><member><Key>kiln:env</Key>"
	    "<Value>prod</Value></member></Tags></member></TagDescriptions>"
	    "</DescribeTagsResult></DescribeTagsResponse>";
	struct kiln_elbv2_load_balancer_list *lb = kiln_xcalloc(1, sizeof(*lb));
	struct kiln_elbv2_target_group_list *tg = kiln_xcalloc(1, sizeof(*tg));
	struct kiln_elbv2_listener_list *li = kiln_xcalloc(1, sizeof(*li));
	struct kiln_elbv2_target_health_list *h = kiln_xcalloc(1, sizeof(*h));
	struct kiln_elbv2_tag_description_list *t = kiln_xcalloc(1, sizeof(*t));

	ck_assert_int_eq(parse(elbv2_parse_load_balancers, lb, lbs, "DescribeLoadBalancersResult"),
	                 0);
	ck_assert_uint_eq(lb->n, 1);
	ck_assert_str_eq(lb->v[0].name, "web");
	ck_assert_str_eq(lb->v[0].dns_name, "web-1.eu-west-1.elb.amazonaws.com");
	ck_assert_str_eq(lb->v[0].state, "provisioning");
	ck_assert_uint_eq(lb->v[0].subnet_ids.n, 2);
	ck_assert_str_eq(lb->v[0].zones.v[1], "eu-west-1b");
	ck_assert_str_eq(lb->v[0].security_groups.v[0], "sg-1");
	kiln_elbv2_load_balancer_list_free(lb);
	ck_assert_int_eq(parse(elbv2_parse_target_groups, tg, tgs, "DescribeTargetGroupsResult"),
	                 0);
	ck_assert_int_eq(tg->v[0].port, 8080);
	ck_assert_int_eq(tg->v[0].health_check_enabled, 1);
	ck_assert_int_eq(tg->v[0].unhealthy_threshold, 3);
	ck_assert_str_eq(tg->v[0].matcher_http_code, "200-299");
	ck_assert_str_eq(tg->v[0].load_balancer_arns.v[0], "arn:lb/web");
	kiln_elbv2_target_group_list_free(tg);
	/* A forward given only as a ForwardConfig still names its group. */
	ck_assert_int_eq(parse(elbv2_parse_listeners, li, listeners, "DescribeListenersResult"), 0);
	ck_assert_str_eq(li->v[0].action_types.v[0], "forward");
	ck_assert_str_eq(li->v[0].target_group_arns.v[0], "arn:tg/web-green");
	kiln_elbv2_listener_list_free(li);
	ck_assert_int_eq(parse(elbv2_parse_target_health, h, health, "DescribeTargetHealthResult"),
	                 0);
	ck_assert_str_eq(h->v[0].state, "unhealthy");
	ck_assert_str_eq(h->v[0].reason, "Target.FailedHealthChecks");
	ck_assert_int_eq(h->v[0].port, 8080);
	kiln_elbv2_target_health_list_free(h);
	ck_assert_int_eq(parse(elbv2_parse_tag_descriptions, t, tags, "DescribeTagsResult"), 0);
	ck_assert_str_eq(kiln_aws_tags_get(&t->v[0].tags, "kiln:env"), "prod");
	kiln_elbv2_tag_description_list_free(t);
}
END_TEST

START_TEST(asg_replies)
{
	static const char groups[] =
	    "<DescribeAutoScalingGroupsResponse "
	    "xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
	    "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member>"
	    "<AutoScalingGroupName>web-r7</AutoScalingGroupName>"
	    "<AutoScalingGroupARN>arn:asg/web-r7</AutoScalingGroupARN>"
	    "<LaunchTemplate><LaunchTemplateId>lt-1</LaunchTemplateId><LaunchTemplateName>web"
	    "</LaunchTemplateName><Version>7</Version></LaunchTemplate>"
	    "<MinSize>2</MinSize><MaxSize>4</MaxSize><DesiredCapacity>2</DesiredCapacity>"
	    "<DefaultCooldown>300</DefaultCooldown><AvailabilityZones><member>eu-west-1a</member>"
	    "</AvailabilityZones><LoadBalancerNames/><TargetGroupARNs><member>arn:tg/web-green"
	    "</member></TargetGroupARNs><HealthCheckType>ELB</HealthCheckType>"
	    "<HealthCheckGracePeriod>60</HealthCheckGracePeriod><Instances><member>"
	    "<InstanceId>i-1</InstanceId><InstanceType>t3.micro</InstanceType>"
	    "<AvailabilityZone>eu-west-1a</AvailabilityZone><LifecycleState>InService"
	    "</LifecycleState><HealthStatus>Healthy</HealthStatus><LaunchTemplate>"
	    "<LaunchTemplateId>lt-1</LaunchTemplateId><Version>7</Version></LaunchTemplate>"
	    "<ProtectedFromScaleIn>false</ProtectedFromScaleIn></member><member>"
	    "<InstanceId>i-2</InstanceId><LifecycleState>Pending</LifecycleState>"
	    "<HealthStatus>Healthy</HealthStatus></member></Instances>"
	    "<CreatedTime>2026-11-20T09:30:00.000Z</CreatedTime>"
	    "<VPCZoneIdentifier>subnet-1,subnet-2</VPCZoneIdentifier><Tags><member>"
	    "<ResourceId>web-r7</ResourceId><ResourceType>auto-scaling-group</ResourceType>"
	    "<Key>kiln:release</Key><Value>r7</Value><PropagateAtLaunch>true</PropagateAtLaunch>"
	    "</member></Tags></member></AutoScalingGroups><NextToken>t-2</NextToken>"
	    "</DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>";
	static const char activities[] =
	    "<DescribeScalingActivitiesResponse><DescribeScalingActivitiesResult><Activities>"
	    "<member><ActivityId>f9f2d65b</ActivityId><AutoScalingGroupName>web-r7"
	    "</AutoScalingGroupName><Description>Launching a new EC2 instance: i-1</Description>"
	    "<Cause>At 2026-11-20T09:30:00Z a user request created an AutoScalingGroup</Cause>"
	    "<StartTime>2026-11-20T09:30:01Z</StartTime><EndTime>2026-11-20T09:31:02Z</EndTime>"
	    "<StatusCode>Successful</StatusCode><Progress>100</Progress></member></Activities>"
	    "</DescribeScalingActivitiesResult></DescribeScalingActivitiesResponse>";
	struct kiln_asg_group_list *g = kiln_xcalloc(1, sizeof(*g));
	struct kiln_asg_activity_list *a = kiln_xcalloc(1, sizeof(*a));

	ck_assert_int_eq(parse(asg_parse_groups, g, groups, "DescribeAutoScalingGroupsResult"), 0);
	ck_assert_uint_eq(g->n, 1);
	ck_assert_str_eq(g->v[0].launch_template_version, "7");
	ck_assert_int_eq(g->v[0].desired_capacity, 2);
	ck_assert_int_eq(g->v[0].health_check_grace_period_s, 60);
	ck_assert_str_eq(g->v[0].target_group_arns.v[0], "arn:tg/web-green");
	ck_assert_uint_eq(g->v[0].n_instances, 2);
	ck_assert_str_eq(g->v[0].instances[0].lifecycle_state, "InService");
	ck_assert_str_eq(g->v[0].instances[0].launch_template_version, "7");
	ck_assert_str_eq(g->v[0].instances[1].lifecycle_state, "Pending");
	ck_assert_str_eq(g->v[0].vpc_zone_identifier, "subnet-1,subnet-2");
	ck_assert_str_eq(kiln_aws_tags_get(&g->v[0].tags, "kiln:release"), "r7");
	kiln_asg_group_list_free(g);
	ck_assert_int_eq(
	    parse(asg_parse_activities, a, activities, "DescribeScalingActivitiesResult"), 0);
	ck_assert_str_eq(a->v[0].status_code, "Successful");
	ck_assert_int_eq(a->v[0].progress, 100);
	ck_assert_str_eq(a->v[0].end_time, "2026-11-20T09:31:02Z");
	kiln_asg_activity_list_free(a);
}
END_TEST

START_TEST(ssm_secure_values_are_secret)
{
	static const char reply[] =
	    "{\"Parameters\":[{\"Name\":\"/web/db\",\"Type\":\"SecureString\","
	    "\"Value\":\"hunter2-long-secret\",\"Version\":3,\"ARN\":\"arn:ssm:/web/db\","
	    "\"DataType\":\"text\"},{\"Name\":\"/web/port\",\"Type\":\"String\",\"Value\":"
	    "\"8080\",\"Version\":1}],\"InvalidParameters\":[\"/web/nope\"]}";
	struct kiln_ssm_parameter_list *l = kiln_xcalloc(1, sizeof(*l));
	json_t *j = json_loads(reply, 0, NULL);
	char *line;

	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(ssm_parse_parameters(l, j), 0);
	ck_assert_uint_eq(l->n, 2);
	ck_assert_int_eq(l->v[0].secure, 1);
	ck_assert_int_eq(l->v[0].version, 3);
	ck_assert_str_eq(l->v[0].value, "hunter2-long-secret");
	ck_assert_int_eq(l->v[1].secure, 0);
	ck_assert_str_eq(l->invalid.v[0], "/web/nope");
	line = kiln_log_redact("password=hunter2-long-secret port=8080");
	ck_assert_str_eq(line, "password=*** port=8080");
	free(line);
	kiln_ssm_parameter_list_free(l);
	json_decref(j);
	kiln_log_clear_secrets();
}
END_TEST

/* The parameter list as "k=v&k=v", for exact comparisons. */
static char *flat(const struct kiln_query *q)
{
	struct kiln_buf b = KILN_BUF_INIT;
	size_t i;

	for (i = 0; i < q->count; i++)
		kiln_buf_printf(&b, "%s%s=%s", i ? "&" : "", q->params[i].key, q->params[i].value);
	return kiln_buf_detach(&b);
}

START_TEST(query_flattening)
{
	struct kiln_query q = KILN_QUERY_INIT;
	struct kiln_aws_tags tags = KILN_AWS_LIST_INIT;
	struct kiln_aws_filters f = KILN_AWS_LIST_INIT;
	struct kiln_ec2_tag_spec spec = {"instance", &tags};
	struct kiln_ec2_block_device bd = {"/dev/xvda", NULL, NULL, NULL,      8,
	                                   NULL,        0,    1,    "alias/k", -1};
	char *s;

	kiln_aws_tags_add(&tags, "a", "1");
	kiln_aws_tags_add(&tags, "b", NULL);
	kiln_aws_filters_add(&f, "tag:a", "1");
	kiln_aws_filters_add(&f, "state", "running");
	kiln_aws_filters_add(&f, "tag:a", "2");
	kiln_aws_query_filters(&q, KILN_QUERY_EC2, &f);
	s = flat(&q);
	ck_assert_str_eq(s, "Filter.1.Name=tag:a&Filter.1.Value.1=1&Filter.1.Value.2=2&"
	                    "Filter.2.Name=state&Filter.2.Value.1=running");
	free(s);
	kiln_query_release(&q);
	kiln_aws_query_filters(&q, KILN_QUERY_MEMBER, &f);
	s = flat(&q);
	ck_assert_str_eq(s, "Filters.member.1.Name=tag:a&Filters.member.1.Values.member.1=1&"
	                    "Filters.member.1.Values.member.2=2&Filters.member.2.Name=state&"
	                    "Filters.member.2.Values.member.1=running");
	free(s);
	kiln_query_release(&q);
	kiln_aws_query_tags(&q, KILN_QUERY_MEMBER, "Tags", &tags);
	s = flat(&q);
	ck_assert_str_eq(s, "Tags.member.1.Key=a&Tags.member.1.Value=1&Tags.member.2.Key=b");
	free(s);
	kiln_query_release(&q);
	kiln_ec2_query_tag_specs(&q, "LaunchTemplateData.", &spec, 1);
	kiln_ec2_query_block_devices(&q, "", "Ebs", &bd, 1);
	s = flat(&q);
	ck_assert_str_eq(s, "LaunchTemplateData.TagSpecification.1.ResourceType=instance&"
	                    "LaunchTemplateData.TagSpecification.1.Tag.1.Key=a&"
	                    "LaunchTemplateData.TagSpecification.1.Tag.1.Value=1&"
	                    "LaunchTemplateData.TagSpecification.1.Tag.2.Key=b&"
	                    "BlockDeviceMapping.1.DeviceName=/dev/xvda&"
	                    "BlockDeviceMapping.1.Ebs.VolumeSize=8&"
	                    "BlockDeviceMapping.1.Ebs.Encrypted=true&"
	                    "BlockDeviceMapping.1.Ebs.KmsKeyId=alias/k");
	free(s);
	kiln_query_release(&q);
	kiln_aws_tags_release(&tags);
	kiln_aws_filters_release(&f);
}
END_TEST

START_TEST(describe_page_size_only_without_ids)
{
	struct kiln_query q = KILN_QUERY_INIT;
	const char *ids[] = {"i-1", "i-2"};
	struct kiln_ec2_describe d = {ids, 2, NULL, 0, NULL, 0, NULL, 5};
	char *s;

	kiln_ec2_query_describe(&q, &d, "InstanceId", NULL);
	s = flat(&q);
	ck_assert_str_eq(s, "InstanceId.1=i-1&InstanceId.2=i-2");
	free(s);
	kiln_query_release(&q);
	d.n_ids = 0;
	kiln_ec2_query_describe(&q, &d, "InstanceId", NULL);
	s = flat(&q);
	ck_assert_str_eq(s, "MaxResults=5");
	free(s);
	kiln_query_release(&q);
}
END_TEST

START_TEST(base64_round_trip)
{
	static const char *const samples[] = {
	    "", "f", "fo", "foo", "foob", "fooba", "foobar", "#!/bin/sh\necho \xc3\xa9t\xc3\xa9\n"};
	struct kiln_buf b = KILN_BUF_INIT;
	size_t i;
	char *e;

	e = kiln_aws_base64_encode("foobar", 6);
	ck_assert_str_eq(e, "Zm9vYmFy");
	free(e);
	for (i = 0; i < KILN_ARRAY_SIZE(samples); i++) {
		e = kiln_aws_base64_encode(samples[i], strlen(samples[i]));
		kiln_buf_clear(&b);
		ck_assert_int_eq(kiln_aws_base64_decode(&b, e), 0);
		ck_assert_str_eq(b.ptr, samples[i]);
		free(e);
	}
	kiln_buf_clear(&b);
	ck_assert_int_eq(kiln_aws_base64_decode(&b, "Zm9v\r\nYmE="), 0);
	ck_assert_str_eq(b.ptr, "fooba");
	ck_assert_int_eq(kiln_aws_base64_decode(&b, "Zm=9v"), KILN_EINVAL);
	ck_assert_int_eq(kiln_aws_base64_decode(&b, "Z"), KILN_EINVAL);
	ck_assert_int_eq(kiln_aws_base64_decode(&b, "Zm9v*"), KILN_EINVAL);
	kiln_buf_release(&b);
}
END_TEST

Suite *kiln_test_suite(void)
{
	Suite *s = suite_create("aws_services");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, ec2_images);
	tcase_add_test(tc, ec2_image_without_id_is_refused);
	tcase_add_test(tc, ec2_instances);
	tcase_add_test(tc, ec2_status_and_state_changes);
	tcase_add_test(tc, ec2_console_is_decoded);
	tcase_add_test(tc, ec2_key_material_is_secret);
	tcase_add_test(tc, ec2_security_groups_subnets_tags);
	tcase_add_test(tc, ec2_launch_template_versions);
	tcase_add_test(tc, elbv2_replies);
	tcase_add_test(tc, asg_replies);
	tcase_add_test(tc, ssm_secure_values_are_secret);
	tcase_add_test(tc, query_flattening);
	tcase_add_test(tc, describe_page_size_only_without_ids);
	tcase_add_test(tc, base64_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
