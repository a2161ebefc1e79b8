#!/usr/bin/env python3
"""Conformance of `kiln cloud` with boto3: a subset of the EC2 operations
through boto3's client and resource APIs, its waiters (instance_running,
instance_stopped, image_available, instance_terminated) and its paginator for
DescribeInstances; ELBv2's errors, each parsed by botocore into its code,
message and modeled exception class, its paginators (DescribeLoadBalancers,
DescribeTargetGroups, DescribeListeners: Marker/NextMarker) and its load
balancer waiters. Whatever boto3 cannot parse is a bug in the cloud.

One line per check ("ok NAME" / "FAIL NAME: why"); exit 1 on any failure,
77 to skip. LC_API_ONLY=1 LC_ENDPOINT=http://127.0.0.1:5999 runs the API checks
against an already running endpoint (moto_server), for developing this script.
"""
import fcntl
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError, WaiterError
except ImportError:
    print("skipped: no boto3")
    sys.exit(77)

API_ONLY = os.environ.get("LC_API_ONLY") == "1"
PORT = 4613
CIDR = "10.214.3.0/24"

passed = 0
failures = []


def ok(name):
    global passed
    passed += 1
    print("ok " + name, flush=True)


def bad(name, why):
    failures.append(name)
    print("FAIL %s: %s" % (name, str(why)[:600]), flush=True)


def check(name, cond, why=""):
    if cond:
        ok(name)
    else:
        bad(name, why or "condition false")
    return bool(cond)


def attempt(name, fn, *args, **kwargs):
    """Call fn; on an exception, report it under name and return None."""
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 -- any failure of the client is a finding
        bad(name, "%s: %s" % (type(e).__name__, e))
        return None


def succeeded(name, fn, *args, **kwargs):
    """Call fn for its effect: True if it raised nothing (reported as a failure otherwise)."""
    before = len(failures)
    attempt(name, fn, *args, **kwargs)
    return len(failures) == before


def waiter(ec2, name, waiter_name, **kwargs):
    t0 = time.time()
    if succeeded("waiter " + name, ec2.get_waiter(waiter_name).wait, **kwargs):
        ok("waiter %s (%.1f s)" % (name, time.time() - t0))


# EC2's HTTP statuses for the error codes checked here.
STATUS = {"AuthFailure": 401, "SignatureDoesNotMatch": 403}


def expect_error(name, code, fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        got = e.response.get("Error", {}).get("Code")
        meta = e.response.get("ResponseMetadata", {})
        check(name, got == code, "got %s (%s), want %s" % (got, e, code))
        if got == code:
            want = STATUS.get(code, 400)
            check(name + ": HTTP %d and a RequestId" % want,
                  meta.get("HTTPStatusCode") == want and meta.get("RequestId"),
                  "HTTP %s, RequestId %r" % (meta.get("HTTPStatusCode"), meta.get("RequestId")))
        return
    except Exception as e:  # noqa: BLE001
        bad(name, "%s: %s, want ClientError %s" % (type(e).__name__, e, code))
        return
    bad(name, "succeeded, want " + code)


def tags(x):
    return {t["Key"]: t.get("Value", "") for t in x.get("Tags", [])}


def instances(reply):
    return [i for r in reply.get("Reservations", []) for i in r.get("Instances", [])]


def expect_elb_error(elb, name, code, fn, **kwargs):
    """An ELBv2 error: its code, a message, Type Sender, HTTP 400, a RequestId, the modeled class."""
    try:
        fn(**kwargs)
    except ClientError as e:
        err = e.response.get("Error", {})
        meta = e.response.get("ResponseMetadata", {})
        cls = getattr(elb.exceptions, code + "Exception", None)
        check(name, err.get("Code") == code, "got %s (%s), want %s" % (err.get("Code"), e, code))
        check(name + ": message, Type Sender, HTTP 400, RequestId",
              err.get("Message") and err.get("Type") == "Sender" and meta.get("HTTPStatusCode") == 400
              and meta.get("RequestId"), e.response)
        if cls is not None or code != "ValidationError":
            check(name + ": raised as " + code + "Exception", cls is not None and isinstance(e, cls),
                  type(e).__name__)
        return
    except Exception as e:  # noqa: BLE001
        bad(name, "%s: %s, want ClientError %s" % (type(e).__name__, e, code))
        return
    bad(name, "succeeded, want " + code)


def reply_problems(shape, elem, path, out):
    """What in an XML reply the model does not allow: unknown elements, wrong types, values off an enum."""
    if shape.type_name == "structure":
        by_name = {m.serialization.get("name", n): m for n, m in shape.members.items()}
        for child in elem:
            name = child.tag.split("}", 1)[-1]
            if name not in by_name:
                out.append("%s/%s: not in %s" % (path, name, shape.name))
            else:
                reply_problems(by_name[name], child, path + "/" + name, out)
    elif shape.type_name == "list":
        item = shape.member.serialization.get("name", "member")
        for child in elem:
            if child.tag.split("}", 1)[-1] != item:
                out.append("%s/%s: a list item is <%s>" % (path, child.tag.split("}", 1)[-1], item))
            else:
                reply_problems(shape.member, child, path + "/" + item, out)
    elif len(elem):
        out.append("%s: a %s with elements" % (path, shape.type_name))
    else:
        text = elem.text or ""
        try:
            if shape.type_name in ("integer", "long"):
                int(text)
            elif shape.type_name == "boolean" and text not in ("true", "false"):
                raise ValueError(text)
            elif shape.type_name == "timestamp":
                time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            out.append("%s: '%s' is no %s" % (path, text, shape.type_name))
        if getattr(shape, "enum", None) and text not in shape.enum:
            out.append("%s: '%s' is none of %s" % (path, text, shape.enum))


def strict_replies(client):
    """Check every successful reply of `client` against its model (botocore ignores what it does not know)."""
    seen = []

    def before_parse(operation_model, response_dict, **_):
        if response_dict.get("status_code") != 200:
            return
        problems = []
        try:
            root = ET.fromstring(response_dict["body"])
        except ET.ParseError as e:
            seen.append((operation_model.name, ["not XML: %s" % e]))
            return
        out = operation_model.output_shape
        wrapper = out.serialization.get("resultWrapper") if out is not None else None
        for child in root:
            name = child.tag.split("}", 1)[-1]
            if name == "ResponseMetadata":
                continue
            if name != wrapper:
                problems.append("%s: <%s> where the model has <%s>" % (root.tag.split("}", 1)[-1], name, wrapper))
            else:
                reply_problems(out, child, name, problems)
        seen.append((operation_model.name, problems))

    client.meta.events.register("before-parse", before_parse)
    return seen


def elbv2_checks(session, endpoint, cfg, vpc, subnets):
    """ELBv2: every error the local cloud answers, as botocore parses it; paginators and waiters."""
    elb = session.client("elbv2", endpoint_url=endpoint, config=cfg)
    replies = strict_replies(elb)
    loose = session.client("elbv2", endpoint_url=endpoint,
                           config=cfg.merge(Config(parameter_validation=False)))
    fast = {"Delay": 1, "MaxAttempts": 60}
    sub = [s["SubnetId"] for s in subnets]
    if len(sub) < 3 or not vpc:
        bad("ELBv2: three default subnets", subnets)
        return
    lbs, tgs = [], []
    for n in range(3):
        r = attempt("CreateLoadBalancer %d" % n, elb.create_load_balancer, Name="b3-lb-%d" % n,
                    Subnets=sub[:2], Scheme="internal", Tags=[{"Key": "suite", "Value": "boto"}])
        if not r:
            return
        lbs.append(r["LoadBalancers"][0]["LoadBalancerArn"])
    waiter(elb, "load_balancer_available", "load_balancer_available", LoadBalancerArns=lbs, WaiterConfig=fast)
    waiter(elb, "load_balancer_exists", "load_balancer_exists", Names=["b3-lb-0"], WaiterConfig=fast)
    for n in range(5):
        r = attempt("CreateTargetGroup %d" % n, elb.create_target_group, Name="b3-tg-%d" % n, Protocol="HTTP",
                    Port=8080 + n, VpcId=vpc, HealthCheckIntervalSeconds=10, HealthCheckTimeoutSeconds=5)
        if not r:
            return
        tgs.append(r["TargetGroups"][0]["TargetGroupArn"])
    listeners = []
    for port in (80, 81, 82):
        r = attempt("CreateListener %d" % port, elb.create_listener, LoadBalancerArn=lbs[0], Protocol="HTTP",
                    Port=port, DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs[port - 80]}])
        if r:
            listeners.append(r["Listeners"][0]["ListenerArn"])

    # Paginators: Marker in, NextMarker out, PageSize the limit.
    for op, key, kwargs, want in (
        ("describe_load_balancers", "LoadBalancers", {}, lbs),
        ("describe_target_groups", "TargetGroups", {}, tgs),
        ("describe_listeners", "Listeners", {"LoadBalancerArn": lbs[0]}, listeners),
    ):
        arn_key = {"LoadBalancers": "LoadBalancerArn", "TargetGroups": "TargetGroupArn",
                   "Listeners": "ListenerArn"}[key]
        pag = elb.get_paginator(op)
        pages = attempt("paginator " + op, lambda: list(pag.paginate(PaginationConfig={"PageSize": 2}, **kwargs)))
        if pages is not None:
            got = [x[arn_key] for p in pages for x in p[key]]
            check("paginator %s PageSize 2: all, once each, %d pages" % (op, (len(want) + 1) // 2),
                  sorted(got) == sorted(want) and len(pages) == (len(want) + 1) // 2
                  and all(p.get("NextMarker") for p in pages[:-1]) and not pages[-1].get("NextMarker"),
                  "%d pages: %s" % (len(pages), got))
        first = attempt("paginator %s MaxItems" % op, lambda: pag.paginate(
            PaginationConfig={"PageSize": 1, "MaxItems": 2}, **kwargs).build_full_result())
        if first:
            rest = attempt("paginator %s StartingToken" % op, lambda: pag.paginate(
                PaginationConfig={"PageSize": 1, "StartingToken": first.get("NextToken")}, **kwargs)
                .build_full_result())
            a = [x[arn_key] for x in first[key]]
            b = [x[arn_key] for x in (rest or {}).get(key, [])]
            check("paginator %s MaxItems 2 then StartingToken: the rest" % op,
                  len(a) == 2 and first.get("NextToken") and sorted(a + b) == sorted(want), (a, b))
    # Replies the strict check below reads too.
    attempt("DescribeLoadBalancerAttributes", elb.describe_load_balancer_attributes, LoadBalancerArn=lbs[0])
    attempt("DescribeTargetGroupAttributes", elb.describe_target_group_attributes, TargetGroupArn=tgs[0])
    attempt("ModifyTargetGroupAttributes", elb.modify_target_group_attributes, TargetGroupArn=tgs[0],
            Attributes=[{"Key": "stickiness.enabled", "Value": "true"}])
    attempt("ModifyTargetGroup", elb.modify_target_group, TargetGroupArn=tgs[0], HealthCheckPath="/ready")
    attempt("DescribeTargetHealth", elb.describe_target_health, TargetGroupArn=tgs[0])
    attempt("AddTags", elb.add_tags, ResourceArns=[lbs[0], tgs[0]] + listeners[:1],
            Tags=[{"Key": "env", "Value": "test"}])
    r = attempt("DescribeTags", elb.describe_tags, ResourceArns=[lbs[0], tgs[0]] + listeners[:1])
    if r:
        check("DescribeTags after AddTags", [t for d in r["TagDescriptions"] for t in d["Tags"]
                                             if t["Key"] == "env"] == [{"Key": "env", "Value": "test"}] * 3, r)
    attempt("RemoveTags", elb.remove_tags, ResourceArns=[lbs[0]], TagKeys=["env"])
    if listeners:
        attempt("ModifyListener weighted", elb.modify_listener, ListenerArn=listeners[0], DefaultActions=[
            {"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": tgs[0], "Weight": 1},
                                                                   {"TargetGroupArn": tgs[3], "Weight": 2}]}}])
        attempt("DeleteListener", elb.delete_listener, ListenerArn=listeners[2])
    expect_elb_error(elb, "DescribeLoadBalancers Marker nonsense -> ValidationError", "ValidationError",
                     elb.describe_load_balancers, Marker="nonsense")
    expect_elb_error(loose, "DescribeTargetGroups PageSize 401 -> ValidationError", "ValidationError",
                     loose.describe_target_groups, PageSize=401)

    # Every error code, as botocore parses it.
    bogus_lb = lbs[0].rsplit("/", 1)[0] + "/0123456789abcdef"
    bogus_tg = tgs[0].rsplit("/", 1)[0] + "/0123456789abcdef"
    bogus_l = (listeners or ["x/x"])[0].rsplit("/", 1)[0] + "/0123456789abcdef"
    for name, code, fn, kwargs in (
        ("unknown load balancer", "LoadBalancerNotFound", elb.describe_load_balancers, {"Names": ["nosuch"]}),
        ("unknown load balancer ARN", "LoadBalancerNotFound", elb.describe_load_balancer_attributes,
         {"LoadBalancerArn": bogus_lb}),
        ("unknown target group", "TargetGroupNotFound", elb.describe_target_groups, {"TargetGroupArns": [bogus_tg]}),
        ("unknown listener", "ListenerNotFound", elb.describe_listeners, {"ListenerArns": [bogus_l]}),
        ("a target group's ARN for a load balancer's", "ValidationError", elb.describe_load_balancers,
         {"LoadBalancerArns": [tgs[0]]}),
        ("load balancer name taken", "DuplicateLoadBalancerName", elb.create_load_balancer,
         {"Name": "b3-lb-0", "Subnets": sub[1:3]}),
        ("target group name taken", "DuplicateTargetGroupName", elb.create_target_group,
         {"Name": "b3-tg-0", "Protocol": "HTTP", "Port": 9999, "VpcId": vpc}),
        ("listener port taken", "DuplicateListener", elb.create_listener,
         {"LoadBalancerArn": lbs[0], "Protocol": "HTTP", "Port": 80,
          "DefaultActions": [{"Type": "forward", "TargetGroupArn": tgs[3]}]}),
        ("target group in use", "ResourceInUse", elb.delete_target_group, {"TargetGroupArn": tgs[0]}),
        ("target group of another load balancer", "TargetGroupAssociationLimit", elb.create_listener,
         {"LoadBalancerArn": lbs[1], "Protocol": "HTTP", "Port": 80,
          "DefaultActions": [{"Type": "forward", "TargetGroupArn": tgs[0]}]}),
        ("unknown instance", "InvalidTarget", elb.register_targets,
         {"TargetGroupArn": tgs[0], "Targets": [{"Id": "i-0123456789abcdef0"}]}),
        ("timeout not below the interval", "ValidationError", elb.create_target_group,
         {"Name": "b3-x", "Protocol": "HTTP", "Port": 80, "VpcId": vpc, "HealthCheckIntervalSeconds": 5}),
        ("missing Name", "ValidationError", loose.create_load_balancer, {"Subnets": sub[:2]}),
        ("health checks over HTTPS", "InvalidConfigurationRequest", elb.modify_target_group,
         {"TargetGroupArn": tgs[0], "HealthCheckProtocol": "HTTPS"}),
        ("unknown subnet", "SubnetNotFound", elb.create_load_balancer,
         {"Name": "b3-x", "Subnets": [sub[0], "subnet-0123456789abcdef0"]}),
        ("unknown security group", "InvalidSecurityGroup", elb.create_load_balancer,
         {"Name": "b3-x", "Subnets": sub[:2], "SecurityGroups": ["sg-0123456789abcdef0"]}),
        ("51 tags", "TooManyTags", elb.add_tags,
         {"ResourceArns": [tgs[4]], "Tags": [{"Key": "k%d" % i, "Value": "v"} for i in range(51)]}),
        ("a tag key twice", "DuplicateTagKeys", elb.add_tags,
         {"ResourceArns": [tgs[4]], "Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]}),
        ("attribute out of range", "ValidationError", elb.modify_target_group_attributes,
         {"TargetGroupArn": tgs[4], "Attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "3601"}]}),
        ("a listener over TCP", "UnsupportedProtocol", elb.create_listener,
         {"LoadBalancerArn": lbs[0], "Protocol": "TCP", "Port": 90,
          "DefaultActions": [{"Type": "forward", "TargetGroupArn": tgs[3]}]}),
        ("two default actions", "TooManyActions", elb.create_listener,
         {"LoadBalancerArn": lbs[0], "Protocol": "HTTP", "Port": 90,
          "DefaultActions": [{"Type": "forward", "TargetGroupArn": tgs[3]},
                             {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]}),
        ("a network load balancer", "InvalidConfigurationRequest", elb.create_load_balancer,
         {"Name": "b3-x", "Subnets": sub[:2], "Type": "network"}),
    ):
        expect_elb_error(elb, "ELBv2 %s -> %s" % (name, code), code, fn, **kwargs)
    if succeeded("ModifyLoadBalancerAttributes deletion protection", elb.modify_load_balancer_attributes,
                 LoadBalancerArn=lbs[2], Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]):
        expect_elb_error(elb, "ELBv2 deletion protection -> OperationNotPermitted", "OperationNotPermitted",
                         elb.delete_load_balancer, LoadBalancerArn=lbs[2])
        attempt("ModifyLoadBalancerAttributes deletion protection off", elb.modify_load_balancer_attributes,
                LoadBalancerArn=lbs[2], Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}])

    for arn in lbs:
        attempt("DeleteLoadBalancer", elb.delete_load_balancer, LoadBalancerArn=arn)
    waiter(elb, "load_balancers_deleted", "load_balancers_deleted", LoadBalancerArns=lbs, WaiterConfig=fast)
    for arn in tgs:
        attempt("DeleteTargetGroup", elb.delete_target_group, TargetGroupArn=arn)
    r = attempt("DescribeTargetGroups after deletes", elb.describe_target_groups)
    if r:
        check("ELBv2: nothing left", [g["TargetGroupName"] for g in r["TargetGroups"]] == [], r)
    ops = sorted({op for op, _ in replies})
    problems = ["%s: %s" % (op, p) for op, ps in replies for p in ps]
    check("ELBv2 replies of %d operations hold only the model's elements, types and values" % len(ops),
          len(ops) >= 10 and not problems, "; ".join(sorted(set(problems))[:8]))


def main(tmp):
    if API_ONLY:
        endpoint = os.environ.get("LC_ENDPOINT", "http://127.0.0.1:5999")
    else:
        endpoint = "http://127.0.0.1:%d" % PORT
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=120)
    ec2 = session.client("ec2", endpoint_url=endpoint, config=cfg)
    res = session.resource("ec2", endpoint_url=endpoint, config=cfg)
    fast = {"Delay": 1, "MaxAttempts": 180}

    # The base image.
    if API_ONLY:
        base = ec2.describe_images()["Images"][0]["ImageId"]
        print("(api only: base image %s from %s)" % (base, endpoint))
    else:
        kiln = os.environ["KILN_BIN"]
        state = os.path.join(tmp, "state")
        up = subprocess.run(
            [kiln, "cloud", "up", "--port", str(PORT), "--state-dir", state, "--cidr", CIDR],
            capture_output=True, text=True, timeout=120,
        )
        if up.returncode != 0:
            bad("kiln cloud up", up.stdout + up.stderr)
            return
        ok("kiln cloud up")
        img = subprocess.run(
            [kiln, "cloud", "image", "debootstrap", "base", "--state-dir", state],
            capture_output=True, text=True, timeout=800,
        )
        base = img.stdout.strip().splitlines()[-1].strip() if img.stdout.strip() else ""
        if img.returncode != 0 or not base.startswith("ami-"):
            bad("kiln cloud image debootstrap", img.stdout + img.stderr)
            return
        ok("base image " + base)

    # Auth.
    for name, key, secret, code in (
        ("bad secret -> SignatureDoesNotMatch", "test", "wrong", "SignatureDoesNotMatch"),
        ("unknown key -> AuthFailure", "AKIANOBODY000000000", "test", "AuthFailure"),
    ):
        other = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                      region_name="us-east-1").client("ec2", endpoint_url=endpoint, config=cfg)
        expect_error(name, code, other.describe_regions)

    # Describe basics.
    r = attempt("DescribeRegions", ec2.describe_regions)
    if r:
        meta = r["ResponseMetadata"]
        check("reply has HTTP 200, a RequestId, text/xml",
              meta["HTTPStatusCode"] == 200 and meta.get("RequestId")
              and meta["HTTPHeaders"].get("content-type", "").startswith("text/xml"), meta)
        check("DescribeRegions lists us-east-1", any(x["RegionName"] == "us-east-1" for x in r["Regions"]), r)
    r = attempt("DescribeAvailabilityZones", ec2.describe_availability_zones)
    if r:
        check("DescribeAvailabilityZones a/b/c",
              sorted(z["ZoneName"] for z in r["AvailabilityZones"]) == ["us-east-1a", "us-east-1b", "us-east-1c"],
              r["AvailabilityZones"])
    r = attempt("DescribeVpcs", ec2.describe_vpcs, Filters=[{"Name": "is-default", "Values": ["true"]}])
    vpc = None
    if r and check("DescribeVpcs is-default: one VPC", len(r["Vpcs"]) == 1, r):
        vpc = r["Vpcs"][0]["VpcId"]
        if not API_ONLY:
            check("default VPC on --cidr", r["Vpcs"][0]["CidrBlock"] == CIDR, r["Vpcs"][0])
    r = attempt("DescribeSubnets", ec2.describe_subnets, Filters=[{"Name": "vpc-id", "Values": [vpc or "vpc-x"]}])
    subnet = None
    if r:
        defaults = [s for s in r["Subnets"] if s.get("DefaultForAz")]
        check("DescribeSubnets: a default subnet per AZ",
              sorted(s["AvailabilityZone"] for s in defaults) == ["us-east-1a", "us-east-1b", "us-east-1c"], r)
        if not API_ONLY:
            net = ipaddress.ip_network(CIDR)
            check("subnets inside --cidr",
                  all(ipaddress.ip_network(s["CidrBlock"]).subnet_of(net) for s in r["Subnets"]), r)
        subnet = next((s["SubnetId"] for s in defaults if s["AvailabilityZone"] == "us-east-1b"), None)
        elbv2_checks(session, endpoint, cfg, vpc, sorted(defaults, key=lambda s: s["AvailabilityZone"]))

    # Key pair and security group.
    kp = attempt("CreateKeyPair", ec2.create_key_pair, KeyName="b3-key", KeyType="ed25519",
                 TagSpecifications=[{"ResourceType": "key-pair", "Tags": [{"Key": "suite", "Value": "boto"}]}])
    if kp:
        check("CreateKeyPair: OpenSSH ed25519 material, id",
              kp["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----") and kp["KeyPairId"].startswith("key-"), kp)
        keyfile = os.path.join(tmp, "b3-key")
        with open(keyfile, "w") as f:
            # OpenSSH needs the final newline, which EC2's KeyMaterial may lack.
            f.write(kp["KeyMaterial"].rstrip("\n") + "\n")
        os.chmod(keyfile, 0o600)
        pub = subprocess.run(["ssh-keygen", "-y", "-f", keyfile], capture_output=True, text=True)
        check("key material usable by ssh-keygen", pub.returncode == 0 and pub.stdout.startswith("ssh-ed25519 "), pub.stderr)
    expect_error("CreateKeyPair duplicate -> InvalidKeyPair.Duplicate", "InvalidKeyPair.Duplicate",
                 ec2.create_key_pair, KeyName="b3-key")
    r = attempt("DescribeKeyPairs", ec2.describe_key_pairs, Filters=[{"Name": "tag:suite", "Values": ["boto"]}])
    if r:
        check("DescribeKeyPairs tag filter", [k["KeyName"] for k in r["KeyPairs"]] == ["b3-key"], r)
    sg = attempt("CreateSecurityGroup", ec2.create_security_group, GroupName="b3-ssh",
                 Description="ssh from anywhere", VpcId=vpc or "vpc-x")
    sg = sg["GroupId"] if sg else "sg-missing"
    attempt("AuthorizeSecurityGroupIngress", ec2.authorize_security_group_ingress, GroupId=sg,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    r = attempt("DescribeSecurityGroups", ec2.describe_security_groups, GroupIds=[sg])
    if r:
        g = r["SecurityGroups"][0]
        check("security group rule stored",
              [(p["IpProtocol"], p["FromPort"], p["ToPort"]) for p in g["IpPermissions"]] == [("tcp", 22, 22)], g)
    expect_error("CreateSecurityGroup duplicate -> InvalidGroup.Duplicate", "InvalidGroup.Duplicate",
                 ec2.create_security_group, GroupName="b3-ssh", Description="again", VpcId=vpc or "vpc-x")

    # An instance.
    run = dict(ImageId=base, InstanceType="t3.micro", MinCount=1, MaxCount=1, KeyName="b3-key",
               SecurityGroupIds=[sg],
               TagSpecifications=[{"ResourceType": "instance",
                                   "Tags": [{"Key": "Name", "Value": "b3-one"}, {"Key": "suite", "Value": "boto"}]}])
    if subnet:
        run["SubnetId"] = subnet
    r = attempt("RunInstances", ec2.run_instances, **run)
    if not r:
        return
    i1 = r["Instances"][0]["InstanceId"]
    check("RunInstances: id, image, subnet, tags",
          i1.startswith("i-") and r["Instances"][0]["ImageId"] == base
          and (not subnet or r["Instances"][0]["SubnetId"] == subnet)
          and tags(r["Instances"][0]) == {"Name": "b3-one", "suite": "boto"}, r["Instances"][0])
    ip1 = r["Instances"][0].get("PrivateIpAddress", "")
    if not API_ONLY:
        check("private address in --cidr", ip1 and ipaddress.ip_address(ip1) in ipaddress.ip_network(CIDR), ip1)
    waiter(ec2, "instance_running", "instance_running", InstanceIds=[i1], WaiterConfig=fast)
    inst = res.Instance(i1)
    if succeeded("resource Instance.load", inst.load):
        check("resource API: state, key, tags", inst.state["Name"] == "running" and inst.key_name == "b3-key"
              and {t["Key"] for t in inst.tags} == {"Name", "suite"}, inst.state)
    for name, flt in (
        ("instance-state-name", {"Name": "instance-state-name", "Values": ["running"]}),
        ("tag:suite", {"Name": "tag:suite", "Values": ["boto"]}),
        ("tag-key", {"Name": "tag-key", "Values": ["suite"]}),
        ("image-id", {"Name": "image-id", "Values": [base]}),
        ("private-ip-address", {"Name": "private-ip-address", "Values": [ip1]}),
    ):
        r = attempt("DescribeInstances " + name, ec2.describe_instances, Filters=[flt])
        if r:
            check("DescribeInstances filter " + name, i1 in [i["InstanceId"] for i in instances(r)], r)
    r = attempt("DescribeInstanceStatus", ec2.describe_instance_status, InstanceIds=[i1])
    if r:
        check("DescribeInstanceStatus running",
              [s["InstanceState"]["Name"] for s in r["InstanceStatuses"]] == ["running"], r)
    if not API_ONLY:
        marker = "-----BEGIN SSH HOST KEY FINGERPRINTS-----"
        out = ""
        for _ in range(60):
            r = attempt("GetConsoleOutput", ec2.get_console_output, InstanceId=i1)
            out = (r or {}).get("Output") or ""
            if not r or marker in out:
                break
            time.sleep(1)
        check("GetConsoleOutput (decoded by botocore) shows the fingerprints", marker in out, out[-300:])

    # Tags.
    attempt("CreateTags", ec2.create_tags, Resources=[i1, sg], Tags=[{"Key": "env", "Value": "dev"}])
    r = attempt("DescribeTags", ec2.describe_tags, Filters=[{"Name": "resource-id", "Values": [i1]}])
    if r:
        check("DescribeTags resource-id",
              sorted((t["Key"], t["Value"], t["ResourceType"]) for t in r["Tags"])
              == [("Name", "b3-one", "instance"), ("env", "dev", "instance"), ("suite", "boto", "instance")], r)
    r = attempt("DescribeTags key", ec2.describe_tags, Filters=[{"Name": "key", "Values": ["env"]}])
    if r:
        check("DescribeTags key=env", sorted(t["ResourceId"] for t in r["Tags"]) == sorted([i1, sg]), r)
    attempt("DeleteTags", ec2.delete_tags, Resources=[sg], Tags=[{"Key": "env"}])
    r = attempt("DescribeTags after DeleteTags", ec2.describe_tags, Filters=[{"Name": "key", "Values": ["env"]}])
    if r:
        check("DeleteTags", [t["ResourceId"] for t in r["Tags"]] == [i1], r)
    r = attempt("DescribeInstances tag:env", ec2.describe_instances,
                Filters=[{"Name": "tag:env", "Values": ["dev"]}, {"Name": "tag:suite", "Values": ["boto"]}])
    if r:
        check("DescribeInstances tag filters after CreateTags", [i["InstanceId"] for i in instances(r)] == [i1], r)

    # Stop, image, waiters.
    attempt("StopInstances", ec2.stop_instances, InstanceIds=[i1])
    waiter(ec2, "instance_stopped", "instance_stopped", InstanceIds=[i1], WaiterConfig=fast)
    spec = [{"ResourceType": "image", "Tags": [{"Key": "suite", "Value": "boto"}]}]
    r = attempt("CreateImage", ec2.create_image, InstanceId=i1, Name="b3-image-1", TagSpecifications=spec)
    img = r["ImageId"] if r else "ami-missing"
    if r:
        waiter(ec2, "image_available", "image_available", ImageIds=[img], WaiterConfig=fast)
    r = attempt("DescribeImages", ec2.describe_images, Filters=[{"Name": "name", "Values": ["b3-image-?"]},
                                                           {"Name": "tag:suite", "Values": ["boto"]}])
    if r:
        check("DescribeImages name ? AND tag filter", [i["ImageId"] for i in r["Images"]] == [img], r)
    r = attempt("DescribeImages owners self", ec2.describe_images, Owners=["self"], ImageIds=[img])
    if r:
        check("DescribeImages Owners=self, available",
              [(i["ImageId"], i["State"]) for i in r["Images"]] == [(img, "available")], r)
    expect_error("DescribeImages unknown -> InvalidAMIID.NotFound", "InvalidAMIID.NotFound",
                 ec2.describe_images, ImageIds=["ami-0123456789abcdef0"])

    # Paginator.
    batch = []
    for n in range(6):
        r = attempt("RunInstances batch", ec2.run_instances, ImageId=img, InstanceType="t3.nano", MinCount=1, MaxCount=1,
                    TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "batch", "Value": "b3"}]}])
        if r:
            batch.append(r["Instances"][0]["InstanceId"])
    pag = ec2.get_paginator("describe_instances")
    flt = [{"Name": "tag:batch", "Values": ["b3"]}]
    pages = attempt("paginator describe_instances", lambda: list(pag.paginate(Filters=flt, PaginationConfig={"PageSize": 5})))
    if pages is not None:
        got = [i["InstanceId"] for p in pages for i in instances(p)]
        check("paginator: 6 instances over 2 pages, no repeats",
              sorted(got) == sorted(batch) and len(pages) == 2 and len(set(got)) == 6,
              "%d pages, %s" % (len(pages), got))
    first = attempt("paginator MaxItems", lambda: pag.paginate(Filters=flt, PaginationConfig={"MaxItems": 4, "PageSize": 5}).build_full_result())
    if first:
        rest = attempt("paginator StartingToken", lambda: pag.paginate(
            Filters=flt, PaginationConfig={"MaxItems": 4, "PageSize": 5, "StartingToken": first.get("NextToken")}).build_full_result())
        a = [i["InstanceId"] for i in instances(first)]
        b = [i["InstanceId"] for i in instances(rest or {})]
        check("paginator MaxItems 4 then StartingToken: the other 2",
              len(first["Reservations"]) == 4 and first.get("NextToken") and sorted(a + b) == sorted(batch), (a, b))

    # Terminate and clean up.
    r = attempt("TerminateInstances", ec2.terminate_instances, InstanceIds=[i1] + batch)
    if r:
        check("TerminateInstances: shutting-down/terminated",
              all(t["CurrentState"]["Name"] in ("shutting-down", "terminated") for t in r["TerminatingInstances"]), r)
    waiter(ec2, "instance_terminated", "instance_terminated", InstanceIds=[i1] + batch, WaiterConfig=fast)
    expect_error("StartInstances on terminated -> IncorrectInstanceState", "IncorrectInstanceState",
                 ec2.start_instances, InstanceIds=[i1])
    expect_error("DescribeInstances unknown -> InvalidInstanceID.NotFound", "InvalidInstanceID.NotFound",
                 ec2.describe_instances, InstanceIds=["i-0123456789abcdef0"])
    attempt("DeregisterImage", ec2.deregister_image, ImageId=img)
    attempt("DeleteSecurityGroup", ec2.delete_security_group, GroupId=sg)
    attempt("DeleteKeyPair", ec2.delete_key_pair, KeyName="b3-key")
    r = attempt("DescribeKeyPairs after delete", ec2.describe_key_pairs)
    if r:
        check("DeleteKeyPair removed it", "b3-key" not in [k["KeyName"] for k in r["KeyPairs"]], r)


def run():
    if not API_ONLY:
        if os.geteuid() != 0:
            print("skipped: needs root")
            return 77
        if not os.environ.get("KILN_BIN"):
            print("skipped: no KILN_BIN")
            return 77
        lock = open("/tmp/kiln-test-net-10.214.3.lock", "w")
        deadline = time.time() + 900
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.time() > deadline:
                    print("FAIL: 10.214.3.0/24 stayed busy")
                    return 1
                time.sleep(1)
    tmp = tempfile.mkdtemp(prefix="kiln-lcboto-")
    try:
        main(tmp)
    except Exception as e:  # noqa: BLE001
        bad("unexpected exception", "%s: %s" % (type(e).__name__, e))
    finally:
        if not API_ONLY:
            state = os.path.join(tmp, "state")
            subprocess.run([os.environ["KILN_BIN"], "cloud", "down", "--state-dir", state],
                           capture_output=True, timeout=300)
            if failures and os.path.exists(os.path.join(state, "cloud.log")):
                with open(os.path.join(state, "cloud.log"), errors="replace") as f:
                    print("--- tail of cloud.log\n" + "".join(f.readlines()[-30:]))
            with open("/proc/mounts") as f:
                if tmp in f.read():
                    bad("nothing left behind", "mounts of %s remain" % tmp)
            procs = subprocess.run(["pgrep", "-af", tmp], capture_output=True, text=True).stdout
            if procs.strip():
                bad("nothing left behind", "processes remain: " + procs[:300])
            addrs = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True).stdout
            gateway = " %s/" % next(ipaddress.ip_network(CIDR).hosts())
            if gateway in addrs:
                bad("nothing left behind", "a bridge on %s remains" % CIDR)
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, len(failures)))
    for f in failures:
        print("failed: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(run())
