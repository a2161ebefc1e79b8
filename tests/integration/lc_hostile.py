#!/usr/bin/env python3
"""Hostile requests against `kiln cloud`: what an attacker on the same machine
can send to its port, generated case by case (malformed and tampered SigV4,
invalid UTF-8 and NUL in every kind of parameter, path-like ids, huge counts
and the limits around them, conflicting and malformed HTTP, idle, slow and
silent connections, the quadratic request), between a few successful calls
that build a state the cases then attack.

Every case is one request with its expected status and AWS error code; every
reply must parse with botocore's own parsers for the service (an error with
its code, a success with the operation's output shape). Afterwards: the
daemon is alive, the state is exactly what the successful calls made (every
Describe* compared with a model kept by this script; no layer, instance or
temporary directory on disk that the state does not name), every line of
the request log is JSON, and `kiln cloud down` then `up` gives the same
state back.

Runs as root on 127.0.0.1:4617 and 10.214.7.0/24 only (serialised with flock
on /tmp/kiln-test-net-10.214.7.lock); exits 77 otherwise. Bounded: a fixed
list of cases, each with a timeout, and the whole run with a deadline.
"""
import base64
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET



def skip(why):
    print("skipped: " + why)
    sys.exit(77)


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
if os.geteuid() != 0:
    skip("the local cloud needs root")
try:
    import lctest
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import botocore.parsers
    import botocore.session
except ImportError:
    skip("no botocore")

PORT = 4617
CIDR = "10.214.7.0/24"
HOST = "127.0.0.1:%d" % PORT
DEADLINE = time.monotonic() + 600  # the cases, once the cloud is up

R = lctest.Results()
cloud = lctest.Cloud(R, PORT, CIDR)
state = cloud.state
ran = 0
session = botocore.session.get_session()
ELB = "elasticloadbalancing"
AS = "autoscaling"
MODELS = {"ec2": session.get_service_model("ec2"), "sts": session.get_service_model("sts"),
          ELB: session.get_service_model("elbv2"), AS: session.get_service_model("autoscaling")}
PARSERS = {"ec2": botocore.parsers.create_parser("ec2"), "sts": botocore.parsers.create_parser("query"),
           ELB: botocore.parsers.create_parser("query"), AS: botocore.parsers.create_parser("query")}
VERSIONS = {"ec2": "2016-11-15", "sts": "2011-06-15", ELB: "2015-12-01", AS: "2011-01-01"}


def check(cond, what):
    """A check of one case: only its failure is printed (there are hundreds)."""
    if not cond:
        R.bad(what, "")
    return cond


# ---- the wire --------------------------------------------------------------

class Reply:
    def __init__(self):
        self.status = 0
        self.headers = {}
        self.body = b""
        self.seconds = 0.0
        self.closed = False  # the server closed without a reply
        self.head_only = False  # a reply to HEAD has no body


def read_reply(sock, timeout, head_only=False):
    """One HTTP reply off `sock`; status 0 when none came within `timeout`."""
    r = Reply()
    r.head_only = head_only
    t0 = time.monotonic()
    data = b""
    want = None
    hlen = 0
    while True:
        if want is None and b"\r\n\r\n" in data:
            head, _, rest = data.partition(b"\r\n\r\n")
            hlen = len(head) + 4
            lines = head.split(b"\r\n")
            m = re.match(rb"HTTP/1\.[01] (\d{3}) ", lines[0] + b" ")
            if not m:
                break
            r.status = int(m.group(1))
            for line in lines[1:]:
                k, _, v = line.partition(b":")
                r.headers[k.strip().decode("latin-1").lower()] = v.strip().decode("latin-1")
            if r.status == 100:
                data = rest
                r = Reply()
                continue
            want = hlen + int(r.headers.get("content-length", "0"))
            if r.head_only:
                want = hlen
        if want is not None and len(data) >= want:
            r.body = data[hlen:want]
            break
        left = timeout - (time.monotonic() - t0)
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            r.closed = True
            break
        if not chunk:
            r.closed = True
            break
        data += chunk
    r.seconds = time.monotonic() - t0
    if want is None:
        r.status = 0
    return r


def exchange(data, timeout=15.0, pieces=None):
    """Send `data` (bytes) on a new connection, optionally in `pieces` with pauses; read the reply."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    try:
        t0 = time.monotonic()
        try:
            if pieces:
                for p, pause in pieces:
                    s.sendall(p)
                    time.sleep(pause)
            else:
                s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a refusal may come before the whole request is sent
        r = read_reply(s, timeout, head_only=bool(data and data.startswith(b"HEAD ")))
        r.seconds = time.monotonic() - t0
        return r
    finally:
        s.close()


def encode_params(params):
    """Form encoding of (key, value) pairs; str or bytes, bytes sent as they are."""
    out = []
    for k, v in params:
        k = k.encode() if isinstance(k, str) else k
        v = v.encode() if isinstance(v, str) else v
        out.append(urllib.parse.quote_from_bytes(k, safe="-_.~") + "=" +
                   urllib.parse.quote_from_bytes(v, safe="-_.~"))
    return "&".join(out).encode()


def sign(service, body, key="test", secret="test", extra=None, region="us-east-1"):
    """Headers botocore's signer gives a POST of `body` (plus `extra`, signed too)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Host": HOST}
    headers.update(extra or {})
    req = botocore.awsrequest.AWSRequest(method="POST", url="http://%s/" % HOST, data=body,
                                         headers=headers)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), service,
                            region).add_auth(req)
    return [(k, v if isinstance(v, bytes) else v.encode()) for k, v in req.headers.items()]


def http_bytes(headers, body, method=b"POST", target=b"/", length=True):
    head = method + b" " + target + b" HTTP/1.1\r\n"
    names = {k.lower() if isinstance(k, str) else k.decode().lower() for k, _ in headers}
    for k, v in headers:
        head += (k.encode() if isinstance(k, str) else k) + b": " + v + b"\r\n"
    if length and "content-length" not in names:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


# ---- checking one reply ------------------------------------------------------

def parsed_error(service, reply, action):
    """Parse with botocore; returns (parsed dict or None, problem or None)."""
    model = MODELS[service]
    try:
        op = model.operation_model(action) if action else None
    except Exception:  # noqa: BLE001 -- kiln's own actions have no model
        op = None
    try:
        ET.fromstring(reply.body)
    except ET.ParseError as e:
        return None, "not XML (%s): %r" % (e, reply.body[:300])
    try:
        parsed = PARSERS[service].parse(
            {"status_code": reply.status, "headers": reply.headers, "body": reply.body},
            op.output_shape if op else None)
    except Exception as e:  # noqa: BLE001
        return None, "botocore cannot parse it (%s): %r" % (e, reply.body[:300])
    if reply.status >= 300 and not (parsed.get("Error") or {}).get("Code"):
        return None, "an error without a code: %r" % reply.body[:300]
    return parsed, None


def run_case(name, data, service="ec2", action=None, status=None, codes=None, timeout=15.0,
             pieces=None, max_seconds=None):
    """Send one case; check its reply against the expectation. Returns (reply, parsed)."""
    global ran
    ran += 1
    if time.monotonic() > DEADLINE:
        check(False, "%s: the run's deadline passed" % name)
        return None, None
    r = exchange(data, timeout=timeout, pieces=pieces)
    if not check(r.status != 0, "%s: no reply (closed=%s) after %.1f s" % (name, r.closed, r.seconds)):
        return r, None
    if r.head_only:
        parsed, problem = {"Error": {"Code": None}}, None
        check(r.body == b"" and int(r.headers.get("content-length", "0")) > 0,
              "%s: a reply to HEAD has a length and no body" % name)
    else:
        parsed, problem = parsed_error(service, r, action)
    check(problem is None, "%s: %s" % (name, problem))
    code = (parsed or {}).get("Error", {}).get("Code") if r.status >= 300 else None
    if status is not None:
        ok = r.status in status if isinstance(status, (tuple, set, list)) else r.status == status
        check(ok, "%s: status %d (%s), want %s" % (name, r.status, code, status))
    if codes is not None:
        check(code in codes, "%s: code %s, want one of %s: %r" % (name, code, sorted(codes), r.body[:200]))
    if max_seconds is not None:
        check(r.seconds <= max_seconds, "%s: took %.2f s (at most %.1f)" % (name, r.seconds, max_seconds))
    return r, parsed


def api(action, params=(), service="ec2", status=200, codes=None, name=None, version=True,
        tamper=None, extra=None, **kw):
    """A signed API call; `tamper(headers, body)` may change it after signing."""
    items = [("Action", action)] + ([("Version", VERSIONS[service])] if version else []) + list(params)
    body = encode_params(items)
    headers = sign(service, body, extra=extra)
    if tamper:
        headers, body = tamper(headers, body)
    return run_case(name or action, http_bytes(headers, body), service=service, action=action,
                    status=status, codes=codes, **kw)


# ---- the model: what the successful calls made --------------------------------

model = {"groups": {}, "keys": set(), "templates": set(), "images": set(), "instances": set(),
         "group_tags": {}, "rules": {}, "target_groups": set(), "asgs": set()}


def ec2_ok(action, params=(), **kw):
    r, parsed = api(action, params, status=200, **kw)
    return parsed if r is not None and r.status == 200 else None


def describe_state():
    """What the cloud reports, in a form to compare with the model (and across a restart)."""
    out = {}
    p = ec2_ok("DescribeSecurityGroups", name="state: DescribeSecurityGroups")
    out["groups"] = sorted((g["GroupName"], g["Description"]) for g in (p or {}).get("SecurityGroups", []))
    out["rules"] = sorted((g["GroupName"], sum(max(1, len(p.get("IpRanges", []))) for p in g.get("IpPermissions", [])))
                          for g in (p or {}).get("SecurityGroups", []))
    out["group_tags"] = sorted((g["GroupName"], t["Key"], t["Value"]) for g in (p or {}).get("SecurityGroups", [])
                               for t in g.get("Tags", []))
    p = ec2_ok("DescribeKeyPairs", name="state: DescribeKeyPairs")
    out["keys"] = sorted(k["KeyName"] for k in (p or {}).get("KeyPairs", []))
    p = ec2_ok("DescribeLaunchTemplates", name="state: DescribeLaunchTemplates")
    out["templates"] = sorted(t["LaunchTemplateName"] for t in (p or {}).get("LaunchTemplates", []))
    p = ec2_ok("DescribeImages", name="state: DescribeImages")
    out["images"] = sorted(i["ImageId"] for i in (p or {}).get("Images", []))
    p = ec2_ok("DescribeSnapshots", name="state: DescribeSnapshots")
    out["snapshots"] = len((p or {}).get("Snapshots", []))
    p = ec2_ok("DescribeInstances", name="state: DescribeInstances")
    out["instances"] = sorted(i["InstanceId"] for r in (p or {}).get("Reservations", [])
                              for i in r["Instances"] if i["State"]["Name"] != "terminated")
    r, p = api("DescribeTargetGroups", service=ELB, name="state: DescribeTargetGroups")
    out["target_groups"] = sorted(t["TargetGroupName"] for t in (p or {}).get("TargetGroups", []))
    r, p = api("DescribeAutoScalingGroups", service=AS, name="state: DescribeAutoScalingGroups")
    out["asgs"] = sorted(g["AutoScalingGroupName"] for g in (p or {}).get("AutoScalingGroups", []))
    return out


def expected_state():
    # the replies carry U+FFFE as U+FFFD (XML cannot carry it); the state keeps it
    return {
        "groups": sorted([("default", "default VPC security group")] +
                         [(k, v.replace("\ufffe", "\ufffd")) for k, v in model["groups"].items()]),
        "rules": sorted(model["rules"].items()),
        "group_tags": sorted((g, k, v) for g, tags in model["group_tags"].items() for k, v in tags.items()),
        "keys": sorted(model["keys"]),
        "templates": sorted(model["templates"]),
        "images": sorted(model["images"]),
        "snapshots": len(model["images"]),
        "instances": sorted(model["instances"]),
        "target_groups": sorted(model["target_groups"]),
        "asgs": sorted(model["asgs"]),
    }


def disk_orphans():
    """Layers, instance directories and temporary files that the saved state does not name."""
    with open(os.path.join(state, "state.json")) as f:
        st = json.load(f)
    named = set()
    for img in st.get("images", {}).values():
        named.update(img.get("layers", []))
    for snap in st.get("snapshots", {}).values():
        if snap.get("layer"):
            named.add(snap["layer"])
    for inst in st.get("instances", {}).values():
        named.update(inst.get("layers", []))
    out = []
    layers = os.path.join(state, "layers")
    for d in sorted(os.listdir(layers)) if os.path.isdir(layers) else []:
        if d not in named:
            out.append("layers/" + d)
    insts = os.path.join(state, "instances")
    for d in sorted(os.listdir(insts)) if os.path.isdir(insts) else []:
        if d not in st.get("instances", {}):
            out.append("instances/" + d)
    t = os.path.join(state, "tmp")
    for d in sorted(os.listdir(t)) if os.path.isdir(t) else []:
        out.append("tmp/" + d)
    return out


# ---- the cases ---------------------------------------------------------------

BAD_BYTES = [
    ("0xFF 0xFE", b"\xff\xfe"),
    ("overlong NUL", b"a\xc0\x80"),
    ("surrogate", b"\xed\xa0\x80"),
    ("truncated", b"abc\xe2\x82"),
    ("past U+10FFFF", b"\xf4\x90\x80\x80"),
    ("NUL inside", b"a\x00b"),
    ("NUL alone", b"\x00"),
]

# (action, valid parameters, the parameter to poison): every kind of parameter
TARGETS = [
    ("CreateSecurityGroup", [("GroupName", "u8-a"), ("GroupDescription", "d")], "GroupName"),
    ("CreateSecurityGroup", [("GroupName", "u8-b"), ("GroupDescription", "d")], "GroupDescription"),
    ("CreateSecurityGroup", [("GroupName", "u8-c"), ("GroupDescription", "d")], "VpcId"),
    ("CreateSecurityGroup", [("GroupName", "u8-d"), ("GroupDescription", "d"),
                             ("TagSpecification.1.ResourceType", "security-group"),
                             ("TagSpecification.1.Tag.1.Key", "k")], "TagSpecification.1.Tag.1.Value"),
    ("CreateSecurityGroup", [("GroupName", "u8-e"), ("GroupDescription", "d"),
                             ("TagSpecification.1.ResourceType", "security-group"),
                             ("TagSpecification.1.Tag.1.Value", "v")], "TagSpecification.1.Tag.1.Key"),
    ("DeleteSecurityGroup", [], "GroupId"),
    ("DeleteSecurityGroup", [], "GroupName"),
    ("AuthorizeSecurityGroupIngress", [("GroupName", "hostile-a"), ("IpPermissions.1.IpProtocol", "tcp"),
                                       ("IpPermissions.1.FromPort", "22"), ("IpPermissions.1.ToPort", "22")],
     "IpPermissions.1.IpRanges.1.CidrIp"),
    ("AuthorizeSecurityGroupIngress", [("GroupName", "hostile-a"), ("IpPermissions.1.FromPort", "22"),
                                       ("IpPermissions.1.ToPort", "22"),
                                       ("IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/8")],
     "IpPermissions.1.IpProtocol"),
    ("CreateKeyPair", [], "KeyName"),
    ("CreateKeyPair", [("KeyName", "u8-key")], "KeyType"),
    ("CreateKeyPair", [("KeyName", "u8-key2"), ("TagSpecification.1.ResourceType", "key-pair"),
                       ("TagSpecification.1.Tag.1.Key", "k")], "TagSpecification.1.Tag.1.Value"),
    ("ImportKeyPair", [("KeyName", "u8-imp")], "PublicKeyMaterial"),
    ("DeleteKeyPair", [], "KeyName"),
    ("CreateTags", [("Tag.1.Key", "k"), ("Tag.1.Value", "v")], "ResourceId.1"),
    ("CreateTags", [("ResourceId.1", "@group"), ("Tag.1.Value", "v")], "Tag.1.Key"),
    ("CreateTags", [("ResourceId.1", "@group"), ("Tag.1.Key", "k")], "Tag.1.Value"),
    ("DeleteTags", [("ResourceId.1", "@group")], "Tag.1.Key"),
    ("DescribeInstances", [], "InstanceId.1"),
    ("DescribeInstances", [("Filter.1.Value.1", "x")], "Filter.1.Name"),
    ("DescribeInstances", [("Filter.1.Name", "instance-id")], "Filter.1.Value.1"),
    ("DescribeInstances", [], "NextToken"),
    ("DescribeInstances", [], "MaxResults"),
    ("DescribeImages", [], "ImageId.1"),
    ("DescribeImages", [], "Owner.1"),
    ("DescribeImages", [("Filter.1.Name", "name")], "Filter.1.Value.1"),
    ("DescribeSecurityGroups", [], "GroupName.1"),
    ("DescribeSecurityGroups", [], "GroupId.1"),
    ("DescribeSecurityGroups", [], "NextToken"),
    ("DescribeKeyPairs", [], "KeyName.1"),
    ("DescribeTags", [("Filter.1.Name", "key")], "Filter.1.Value.1"),
    ("DescribeSubnets", [], "SubnetId.1"),
    ("DescribeVpcs", [], "VpcId.1"),
    ("CreateLaunchTemplate", [("LaunchTemplateData.InstanceType", "t3.micro")], "LaunchTemplateName"),
    ("CreateLaunchTemplate", [("LaunchTemplateName", "u8-lt1"), ("LaunchTemplateData.InstanceType", "t3.micro")],
     "VersionDescription"),
    ("CreateLaunchTemplate", [("LaunchTemplateName", "u8-lt2")], "LaunchTemplateData.ImageId"),
    ("CreateLaunchTemplate", [("LaunchTemplateName", "u8-lt3")], "LaunchTemplateData.UserData"),
    ("RunInstances", [("ImageId", "@image"), ("MinCount", "1"), ("MaxCount", "1")], "InstanceType"),
    ("RunInstances", [("ImageId", "@image"), ("MinCount", "1"), ("MaxCount", "1")], "KeyName"),
    ("RunInstances", [("ImageId", "@image"), ("MinCount", "1"), ("MaxCount", "1")], "SubnetId"),
    ("RunInstances", [("ImageId", "@image"), ("MinCount", "1"), ("MaxCount", "1")], "UserData"),
    ("RunInstances", [("ImageId", "@image"), ("MinCount", "1"), ("MaxCount", "1")], "ClientToken"),
    ("RunInstances", [("ImageId", "@image"), ("MinCount", "1"), ("MaxCount", "1")], "PrivateIpAddress"),
    ("RunInstances", [("ImageId", "@image"), ("MinCount", "1"), ("MaxCount", "1"),
                      ("TagSpecification.1.ResourceType", "instance"), ("TagSpecification.1.Tag.1.Key", "k")],
     "TagSpecification.1.Tag.1.Value"),
    ("RunInstances", [("MinCount", "1"), ("MaxCount", "1")], "ImageId"),
    ("CreateImage", [("Name", "u8-img")], "InstanceId"),
    ("CreateImage", [("InstanceId", "@instance")], "Name"),
    ("CreateImage", [("InstanceId", "@instance"), ("Name", "u8-img2"), ("NoReboot", "true")], "Description"),
    ("DeregisterImage", [], "ImageId"),
    ("KilnRegisterLayerImage", [("Name", "u8-base")], "LayerId"),
    ("KilnRegisterLayerImage", [("LayerId", "@layer")], "Name"),
    ("GetConsoleOutput", [], "InstanceId"),
    ("TerminateInstances", [], "InstanceId.1"),
    ("StopInstances", [], "InstanceId.1"),
    ("DescribeRegions", [], "DryRun"),
    ("DescribeRegions", [], "RegionName.1"),
]


# the same for Elastic Load Balancing v2 (its lists are Name.member.N)
ELB_TARGETS = [
    ("CreateTargetGroup", [("Protocol", "HTTP"), ("Port", "80"), ("VpcId", "@vpc")], "Name"),
    ("CreateTargetGroup", [("Name", "u8-tg1"), ("Port", "80"), ("VpcId", "@vpc")], "Protocol"),
    ("CreateTargetGroup", [("Name", "u8-tg2"), ("Protocol", "HTTP"), ("VpcId", "@vpc")], "Port"),
    ("CreateTargetGroup", [("Name", "u8-tg3"), ("Protocol", "HTTP"), ("Port", "80")], "VpcId"),
    ("CreateTargetGroup", [("Name", "u8-tg4"), ("Protocol", "HTTP"), ("Port", "80"), ("VpcId", "@vpc")],
     "HealthCheckPath"),
    ("CreateTargetGroup", [("Name", "u8-tg5"), ("Protocol", "HTTP"), ("Port", "80"), ("VpcId", "@vpc"),
                           ("Tags.member.1.Key", "k")], "Tags.member.1.Value"),
    ("AddTags", [("ResourceArns.member.1", "@tg"), ("Tags.member.1.Value", "v")], "Tags.member.1.Key"),
    ("AddTags", [("Tags.member.1.Key", "k"), ("Tags.member.1.Value", "v")], "ResourceArns.member.1"),
    ("RemoveTags", [("ResourceArns.member.1", "@tg")], "TagKeys.member.1"),
    ("DescribeTargetGroups", [], "Names.member.1"),
    ("DescribeTargetGroups", [], "TargetGroupArns.member.1"),
    ("DescribeTargetGroups", [], "Marker"),
    ("DescribeTargetGroups", [], "PageSize"),
    ("DescribeLoadBalancers", [], "Names.member.1"),
    ("DescribeLoadBalancers", [], "LoadBalancerArns.member.1"),
    ("CreateLoadBalancer", [("Subnets.member.1", "@subnet")], "Name"),
    ("CreateLoadBalancer", [("Name", "u8-lb")], "Subnets.member.1"),
    ("CreateLoadBalancer", [("Name", "u8-lb2"), ("Subnets.member.1", "@subnet")], "Scheme"),
    ("DescribeTargetHealth", [], "TargetGroupArn"),
    ("ModifyTargetGroupAttributes", [("TargetGroupArn", "@tg"),
                                     ("Attributes.member.1.Key", "deregistration_delay.timeout_seconds")],
     "Attributes.member.1.Value"),
    ("RegisterTargets", [("TargetGroupArn", "@tg")], "Targets.member.1.Id"),
    ("DeleteTargetGroup", [], "TargetGroupArn"),
    ("DescribeListeners", [], "LoadBalancerArn"),
]


# and for Auto Scaling
AS_TARGETS = [
    ("CreateAutoScalingGroup", [("LaunchTemplate.LaunchTemplateName", "hostile-lt"), ("MinSize", "0"),
                                ("MaxSize", "1"), ("AvailabilityZones.member.1", "us-east-1a")],
     "AutoScalingGroupName"),
    ("CreateAutoScalingGroup", [("AutoScalingGroupName", "u8-asg1"), ("MinSize", "0"), ("MaxSize", "1"),
                                ("AvailabilityZones.member.1", "us-east-1a")], "LaunchTemplate.LaunchTemplateName"),
    ("CreateAutoScalingGroup", [("AutoScalingGroupName", "u8-asg2"), ("LaunchTemplate.LaunchTemplateName",
                                                                      "hostile-lt"), ("MaxSize", "1"),
                                ("AvailabilityZones.member.1", "us-east-1a")], "MinSize"),
    ("CreateAutoScalingGroup", [("AutoScalingGroupName", "u8-asg3"), ("LaunchTemplate.LaunchTemplateName",
                                                                      "hostile-lt"), ("MinSize", "0"),
                                ("MaxSize", "1")], "AvailabilityZones.member.1"),
    ("CreateAutoScalingGroup", [("AutoScalingGroupName", "u8-asg4"), ("LaunchTemplate.LaunchTemplateName",
                                                                      "hostile-lt"), ("MinSize", "0"),
                                ("MaxSize", "1")], "VPCZoneIdentifier"),
    ("CreateAutoScalingGroup", [("AutoScalingGroupName", "u8-asg5"), ("LaunchTemplate.LaunchTemplateName",
                                                                      "hostile-lt"), ("MinSize", "0"),
                                ("MaxSize", "1"), ("AvailabilityZones.member.1", "us-east-1a"),
                                ("Tags.member.1.Key", "k")], "Tags.member.1.Value"),
    ("UpdateAutoScalingGroup", [("AutoScalingGroupName", "hostile-asg")], "HealthCheckType"),
    ("UpdateAutoScalingGroup", [("AutoScalingGroupName", "hostile-asg")], "TerminationPolicies.member.1"),
    ("SetDesiredCapacity", [("AutoScalingGroupName", "hostile-asg")], "DesiredCapacity"),
    ("SetDesiredCapacity", [("DesiredCapacity", "0")], "AutoScalingGroupName"),
    ("DescribeAutoScalingGroups", [], "AutoScalingGroupNames.member.1"),
    ("DescribeAutoScalingGroups", [], "NextToken"),
    ("DescribeAutoScalingGroups", [], "MaxRecords"),
    ("CreateOrUpdateTags", [("Tags.member.1.ResourceId", "hostile-asg"),
                            ("Tags.member.1.ResourceType", "auto-scaling-group"),
                            ("Tags.member.1.Value", "v")], "Tags.member.1.Key"),
    ("AttachLoadBalancerTargetGroups", [("AutoScalingGroupName", "hostile-asg")], "TargetGroupARNs.member.1"),
    ("SuspendProcesses", [("AutoScalingGroupName", "hostile-asg")], "ScalingProcesses.member.1"),
    ("SetInstanceHealth", [("HealthStatus", "Unhealthy")], "InstanceId"),
    ("DeleteAutoScalingGroup", [], "AutoScalingGroupName"),
]


def resolve(params, refs):
    return [(k, refs.get(v, v) if isinstance(v, str) else v) for k, v in params]


def utf8_cases(refs):
    """Invalid UTF-8 and NUL in every kind of parameter, percent-encoded and raw."""
    for action, params, poisoned in TARGETS:
        for label, bad in BAD_BYTES:
            items = [("Action", action), ("Version", "2016-11-15")] + resolve(params, refs) + [(poisoned, bad)]
            body = encode_params(items)
            api_case("%s %s=%s" % (action, poisoned, label), body, action,
                     codes={"InvalidParameterValue", "MalformedQueryString"})
    for action, params, poisoned in ELB_TARGETS:
        for label, bad in BAD_BYTES:
            items = [("Action", action), ("Version", VERSIONS[ELB])] + resolve(params, refs) + [(poisoned, bad)]
            api_case("elbv2 %s %s=%s" % (action, poisoned, label), encode_params(items), action, service=ELB,
                     codes={"InvalidParameterValue", "MalformedQueryString"})
    for action, params, poisoned in AS_TARGETS:
        for label, bad in BAD_BYTES:
            items = [("Action", action), ("Version", VERSIONS[AS])] + resolve(params, refs) + [(poisoned, bad)]
            api_case("autoscaling %s %s=%s" % (action, poisoned, label), encode_params(items), action,
                     service=AS, codes={"InvalidParameterValue", "MalformedQueryString"})
    # the bytes as they are, not percent-encoded, and in parameter names, Action and Version
    for label, bad in BAD_BYTES[:3]:
        api_case("raw bytes in a value (%s)" % label,
                 b"Action=CreateSecurityGroup&Version=2016-11-15&GroupName=raw&GroupDescription=" + bad,
                 "CreateSecurityGroup", codes={"InvalidParameterValue", "MalformedQueryString"})
        api_case("invalid UTF-8 in a parameter name (%s)" % label,
                 b"Action=DescribeRegions&Version=2016-11-15&" + urllib.parse.quote_from_bytes(bad).encode() + b"=1",
                 "DescribeRegions", codes={"MalformedQueryString"})
        api_case("invalid UTF-8 in Action (%s)" % label,
                 b"Action=" + urllib.parse.quote_from_bytes(bad).encode() + b"&Version=2016-11-15",
                 None, codes={"InvalidParameterValue", "MalformedQueryString"})
        api_case("invalid UTF-8 in Version (%s)" % label,
                 b"Action=DescribeRegions&Version=" + urllib.parse.quote_from_bytes(bad).encode(),
                 "DescribeRegions", codes={"InvalidParameterValue", "MalformedQueryString"})


def api_case(name, body, action, service="ec2", status=400, codes=None, **kw):
    headers = sign(service, body)
    return run_case(name, http_bytes(headers, body), service=service, action=action, status=status,
                    codes=codes, **kw)


def sigv4_cases():
    body = encode_params([("Action", "CreateSecurityGroup"), ("Version", "2016-11-15"),
                          ("GroupName", "sig-evil"), ("GroupDescription", "d")])
    good = sign("ec2", body)
    now = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())

    def with_header(name, value, drop=()):
        hs = [(k, v) for k, v in good if k.lower() not in drop and k.lower() != name.lower()]
        return hs + ([(name, value)] if value is not None else [])

    def auth(cred, signed=b"host;x-amz-date", sig=b"0" * 64):
        return b"AWS4-HMAC-SHA256 Credential=" + cred + b", SignedHeaders=" + signed + b", Signature=" + sig

    scope = b"test/" + now[:8].encode() + b"/us-east-1/ec2/aws4_request"
    refusals = {"IncompleteSignature", "AuthFailure", "SignatureDoesNotMatch", "RequestExpired",
                "InvalidAction", "MissingAuthenticationToken", "MalformedHttpRequestException",
                "InvalidRequest"}
    cases = [
        ("no Authorization", with_header("Authorization", None)),
        ("empty Authorization", with_header("Authorization", b"")),
        ("Basic Authorization", with_header("Authorization", b"Basic dGVzdDp0ZXN0")),
        ("SigV2-style algorithm", with_header("Authorization", b"AWS test:c2lnbmF0dXJl")),
        ("HMAC-SHA1 algorithm", with_header("Authorization", auth(scope).replace(b"SHA256", b"SHA1"))),
        ("no Credential", with_header("Authorization", b"AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00")),
        ("no SignedHeaders", with_header("Authorization", b"AWS4-HMAC-SHA256 Credential=" + scope + b", Signature=00")),
        ("no Signature", with_header("Authorization", b"AWS4-HMAC-SHA256 Credential=" + scope + b", SignedHeaders=host")),
        ("scope of four parts", with_header("Authorization", auth(b"test/" + now[:8].encode() + b"/us-east-1/aws4_request"))),
        ("scope of six parts", with_header("Authorization", auth(scope + b"/x"))),
        ("scope not ending aws4_request", with_header("Authorization", auth(scope.replace(b"aws4_request", b"aws5_request")))),
        ("unknown access key", with_header("Authorization", auth(scope.replace(b"test/", b"AKIDEXAMPLE/")))),
        ("wrong signature", with_header("Authorization", auth(scope))),
        ("short signature", with_header("Authorization", auth(scope, sig=b"0" * 63))),
        ("non-hex signature", with_header("Authorization", auth(scope, sig=b"z" * 64))),
        ("host not signed", with_header("Authorization", auth(scope, signed=b"x-amz-date"))),
        ("signed header missing", with_header("Authorization", auth(scope, signed=b"host;x-amz-date;x-missing"))),
        ("10,000 signed headers", with_header("Authorization", auth(scope, signed=b";".join([b"host"] * 10000)))),
        ("60 KiB Authorization", with_header("Authorization", auth(scope + b"x" * 60000))),
        ("no X-Amz-Date", with_header("X-Amz-Date", None)),
        ("garbage X-Amz-Date", with_header("X-Amz-Date", b"yesterday")),
        ("X-Amz-Date in 2001", with_header("X-Amz-Date", b"20010101T000000Z")),
        ("X-Amz-Date tomorrow", with_header("X-Amz-Date", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + 86400)).encode())),
        ("X-Amz-Date month 13", with_header("X-Amz-Date", b"20261301T000000Z")),
        ("two X-Amz-Date", good + [("X-Amz-Date", b"20010101T000000Z")]),
        ("two Authorization", good + [("Authorization", b"AWS4-HMAC-SHA256 x")]),
        ("Content-Type changed after signing", with_header("Content-Type", b"text/plain")),
        ("Host changed after signing", with_header("Host", b"evil.example")),
    ]
    for label, bad in BAD_BYTES[:5]:
        for i, part in enumerate([b"test", now[:8].encode(), b"us-east-1", b"ec2", b"aws4_request"]):
            fields = [b"test", now[:8].encode(), b"us-east-1", b"ec2", b"aws4_request"]
            fields[i] = part + bad
            cases.append(("invalid UTF-8 (%s) in scope field %d" % (label, i),
                          with_header("Authorization", auth(b"/".join(fields)))))
    for name, headers in cases:
        run_case("sigv4: " + name, http_bytes(headers, body), status=(400, 401, 403), codes=refusals)
    # a body changed after signing, with and without an unsigned payload
    changed = body.replace(b"sig-evil", b"sig-evi2")
    run_case("sigv4: body changed after signing", http_bytes(good, changed), status=403,
             codes={"SignatureDoesNotMatch"})
    for form in (b"UNSIGNED-PAYLOAD", b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                 b"STREAMING-UNSIGNED-PAYLOAD-TRAILER", b"0" * 64):
        hs = sign("ec2", body, extra={"X-Amz-Content-Sha256": form.decode()})
        run_case("sigv4: X-Amz-Content-Sha256 %s and a changed body" % form[:24].decode(),
                 http_bytes(hs, changed), status=(400, 403),
                 codes={"IncompleteSignature", "SignatureDoesNotMatch"})
    # the signing name picks the service: unknown ones, and EC2's request signed for STS
    for svc in ("s3", "iam", "", "EC2"):
        hs = sign(svc or "x", body) if svc else [(k, v.replace(b"/ec2/", b"//")) for k, v in good]
        run_case("sigv4: signed for service %r" % svc, http_bytes(hs, body), status=(400, 403),
                 codes={"InvalidAction", "SignatureDoesNotMatch", "IncompleteSignature"})
    hs = sign("sts", body)
    run_case("sigv4: an EC2 action signed for STS", http_bytes(hs, body), service="sts", status=400,
             codes={"InvalidAction", "NoSuchVersion"})
    # the query string's own signature is not a way in
    q = b"/?Action=CreateSecurityGroup&Version=2016-11-15&GroupName=sig-evil&GroupDescription=d" \
        b"&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20260101%2Fus-east-1%2Fec2%2Faws4_request" \
        b"&X-Amz-Date=20260101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=" + b"0" * 64
    run_case("sigv4: presigned query string", http_bytes([("Host", HOST.encode())], b"", method=b"GET", target=q),
             status=(400, 403), codes=refusals)


def version_and_boolean_cases():
    api("DescribeRegions", name="no Version", version=False, status=400, codes={"MissingParameter"})
    for v in ("2014-10-01", "latest", "2016-11-15 ", "2016-11-1"):
        api("DescribeRegions", name="Version %r" % v, version=False, params=[("Version", v)],
            status=400, codes={"NoSuchVersion"})
    api("GetCallerIdentity", service="sts", name="STS with EC2's Version", version=False,
        params=[("Version", "2016-11-15")], status=400, codes={"NoSuchVersion"})
    for v in ("TRUE", "True", "1", "0", "yes", "on", "t", "false ", "nope"):
        api("DescribeRegions", [("DryRun", v)], name="DryRun=%r" % v, status=400, codes={"InvalidParameterValue"})
        api("CreateImage", [("InstanceId", refs["@instance"]), ("Name", "bool-img"), ("NoReboot", v)],
            name="NoReboot=%r" % v, status=400, codes={"InvalidParameterValue"})
    api("DescribeRegions", [("DryRun", "true")], name="DryRun=true", status=412, codes={"DryRunOperation"})
    api("GetCallerIdentity", service="sts", name="STS GetCallerIdentity")
    api("NoSuchAction", name="unknown action", status=400, codes={"InvalidAction"})
    api("", name="empty Action", status=400, codes={"MissingAction"})


def path_cases():
    for lid in (".", "..", "layer-", "../instances", "/etc", "layer-0123456789abcdef0/../../x",
                "layer-0123456789ABCDEF0", "layer-0123456789abcdef", "layer-0123456789abcdef0 ",
                "layers", "layer-0123456789abcdef0/", "~root"):
        api("KilnRegisterLayerImage", [("Name", "evil-base"), ("LayerId", lid)],
            name="LayerId %r" % lid, status=400, codes={"InvalidParameterValue"})
    api("KilnRegisterLayerImage", [("Name", "evil-base"), ("LayerId", "")], name="LayerId empty",
        status=400, codes={"MissingParameter"})
    api("KilnRegisterLayerImage", [("Name", "evil-base"), ("LayerId", "layer-0123456789abcdef0")],
        name="LayerId of no layer", status=400, codes={"InvalidParameterValue"})
    for iid in ("i-../../etc", "../../etc/passwd", "i-", "i-0123456789abcdef0/..", "i-0123456789ABCDEF0"):
        api("GetConsoleOutput", [("InstanceId", iid)], name="GetConsoleOutput %r" % iid, status=400,
            codes={"InvalidInstanceID.Malformed", "InvalidInstanceID.NotFound"})
        api("CreateImage", [("InstanceId", iid), ("Name", "path-img")], name="CreateImage %r" % iid,
            status=400, codes={"InvalidInstanceID.Malformed", "InvalidInstanceID.NotFound"})
        api("TerminateInstances", [("InstanceId.1", iid)], name="TerminateInstances %r" % iid, status=400,
            codes={"InvalidInstanceID.Malformed", "InvalidInstanceID.NotFound"})
    for aid in ("ami-../../x", "../", "ami-"):
        api("DeregisterImage", [("ImageId", aid)], name="DeregisterImage %r" % aid, status=400,
            codes={"InvalidAMIID.Malformed", "InvalidAMIID.NotFound"})
        api("RunInstances", [("ImageId", aid), ("MinCount", "1"), ("MaxCount", "1")],
            name="RunInstances image %r" % aid, status=400, codes={"InvalidAMIID.Malformed", "InvalidAMIID.NotFound"})
    # names that look like paths are only names: stored, never used as paths
    parsed = ec2_ok("CreateKeyPair", [("KeyName", "../../../etc/kiln-hostile")], name="key named like a path")
    if parsed:
        model["keys"].add("../../../etc/kiln-hostile")
    check(not os.path.exists("/etc/kiln-hostile"), "a key name became a file")
    api("CreateLaunchTemplate", [("LaunchTemplateName", "../x"), ("LaunchTemplateData.InstanceType", "t3.micro")],
        name="template named like a path", status=200)
    model["templates"].add("../x")


def limit_cases():
    base = [("Action", "DescribeImages"), ("Version", "2016-11-15")]
    filters = base + [("Filter.%d.Name" % i, "name") for i in range(1, 52)] + \
        [("Filter.%d.Value.1" % i, "x") for i in range(1, 52)]
    api_case("51 filters", encode_params(filters), "DescribeImages", codes={"FilterLimitExceeded"})
    values = base + [("Filter.1.Name", "name")] + [("Filter.1.Value.%d" % i, "v") for i in range(1, 202)]
    api_case("201 filter values", encode_params(values), "DescribeImages", codes={"FilterLimitExceeded"})
    ids = [("Action", "DescribeInstances"), ("Version", "2016-11-15")] + \
        [("InstanceId.%d" % i, "i-%017x" % i) for i in range(1, 1002)]
    api_case("1,001 instance ids", encode_params(ids), "DescribeInstances", codes={"InvalidParameterValue"})
    many = [("Action", "DescribeRegions"), ("Version", "2016-11-15")] + [("X.%d" % i, "y") for i in range(10001)]
    api_case("10,001 parameters", encode_params(many), "DescribeRegions", codes={"MalformedQueryString"})
    api_case("8 MiB of one-byte parameters", b"Action=DescribeRegions&Version=2016-11-15&" + b"a&" * (4 << 20),
             "DescribeRegions", codes={"MalformedQueryString"}, max_seconds=10)
    tags = [("Action", "CreateTags"), ("Version", "2016-11-15"), ("ResourceId.1", refs["@group"])] + \
        [p for i in range(1, 52) for p in (("Tag.%d.Key" % i, "k%d" % i), ("Tag.%d.Value" % i, "v"))]
    api_case("51 tags", encode_params(tags), "CreateTags", codes={"TagLimitExceeded"})
    api("CreateTags", [("ResourceId.1", refs["@group"]), ("Tag.1.Key", "k" * 129), ("Tag.1.Value", "v")],
        name="tag key of 129", status=400, codes={"InvalidParameterValue"})
    api("CreateTags", [("ResourceId.1", refs["@group"]), ("Tag.1.Key", "k"), ("Tag.1.Value", "v" * 257)],
        name="tag value of 257", status=400, codes={"InvalidParameterValue"})
    api("CreateTags", [("ResourceId.1", refs["@group"]), ("Tag.1.Key", "aws:x"), ("Tag.1.Value", "v")],
        name="tag key aws:", status=400, codes={"InvalidParameterValue"})
    for v in ("0", "4", "1001", "-1", "abc", "99999999999999999999", "5x", " 5"):
        api("DescribeInstances", [("MaxResults", v)], name="MaxResults=%r" % v, status=400,
            codes={"InvalidParameterValue"})
    for k in ("Filter.01.Name", "Filter.-1.Name", "Filter.1e3.Name", "Filter.99999999999.Name", "Filter..Name"):
        api("DescribeImages", [(k, "name")], name="odd index %s" % k, status=(200, 400))
    api("DescribeImages", [("Filter.1.Name", "no-such-filter"), ("Filter.1.Value.1", "x")],
        name="unknown filter", status=400, codes={"InvalidParameterValue"})
    for t in ("garbage", "eyJ4IjoxfQ==", "0" * 1000, "-1", "99999999999"):
        for action in ("DescribeInstances", "DescribeSecurityGroups", "DescribeLaunchTemplates", "DescribeImages"):
            api(action, [("NextToken", t)], name="%s NextToken %r" % (action, t[:20]), status=400,
                codes={"InvalidParameterValue"})
    for cidr in ("999.1.1.1/99", "10.0.0.0/33", "10.0.0.0", "10.0.0.0/-1", "::/0x", "10.0.0.0/8 "):
        api("AuthorizeSecurityGroupIngress", [("GroupId", refs["@group"]), ("IpProtocol", "tcp"),
                                              ("FromPort", "1"), ("ToPort", "2"), ("CidrIp", cidr)],
            name="CidrIp %r" % cidr, status=400, codes={"InvalidParameterValue"})
    for ip in ("10.214.7.1", "10.0.0.5", "10.214.7.0", "300.1.1.1", "10.214.7.63"):
        api("RunInstances", [("ImageId", refs["@image"]), ("MinCount", "1"), ("MaxCount", "1"),
                             ("SubnetId", refs["@subnet"]), ("PrivateIpAddress", ip)],
            name="PrivateIpAddress %s" % ip, status=400, codes={"InvalidParameterValue"})
    for ud in ("!!!not base64!!!", base64.b64encode(b"x" * 17000).decode()):
        api("RunInstances", [("ImageId", refs["@image"]), ("MinCount", "1"), ("MaxCount", "1"), ("UserData", ud)],
            name="RunInstances UserData %s" % ud[:10], status=400,
            codes={"InvalidUserData.Malformed", "InvalidParameterValue"})
        api("CreateLaunchTemplate", [("LaunchTemplateName", "ud-lt"), ("LaunchTemplateData.UserData", ud)],
            name="template UserData %s" % ud[:10], status=400,
            codes={"InvalidUserData.Malformed", "InvalidParameterValue"})
    for count in ("0", "-1", "100000", "x"):
        api("RunInstances", [("ImageId", refs["@image"]), ("MinCount", count), ("MaxCount", count)],
            name="RunInstances count %r" % count, status=400,
            codes={"InvalidParameterValue", "InstanceLimitExceeded"})
    api("CreateSecurityGroup", [("GroupName", "g" * 256), ("GroupDescription", "d")], name="group name of 256",
        status=400, codes={"InvalidParameterValue"})
    api("CreateSecurityGroup", [("GroupName", "hostile-a"), ("GroupDescription", "d")], name="duplicate group",
        status=400, codes={"InvalidGroup.Duplicate"})
    api("CreateKeyPair", [("KeyName", "k" * 256)], name="key name of 256", status=400,
        codes={"InvalidParameterValue"})
    # 60 rules per group and direction: the 61st is refused and the group keeps 60
    rules = [("GroupId", refs["@group"])]
    for i in range(60):
        rules += [("IpPermissions.%d.IpProtocol" % (i + 1), "tcp"), ("IpPermissions.%d.FromPort" % (i + 1), str(i + 1)),
                  ("IpPermissions.%d.ToPort" % (i + 1), str(i + 1)),
                  ("IpPermissions.%d.IpRanges.1.CidrIp" % (i + 1), "10.0.0.0/8")]
    if api("AuthorizeSecurityGroupIngress", rules, name="60 rules")[0].status == 200:
        model["rules"]["hostile-a"] = 60
    api("AuthorizeSecurityGroupIngress", [("GroupId", refs["@group"]), ("IpProtocol", "tcp"), ("FromPort", "100"),
                                          ("ToPort", "100"), ("CidrIp", "10.0.0.0/8")],
        name="the 61st rule", status=400, codes={"RulesPerSecurityGroupLimitExceeded"})


def http_cases():
    sig = sign("ec2", b"Action=DescribeRegions&Version=2016-11-15")
    cases = [
        ("PUT", http_bytes(sig, b"", method=b"PUT"), 405, "MethodNotAllowed"),
        ("DELETE", http_bytes(sig, b"", method=b"DELETE"), 405, "MethodNotAllowed"),
        ("HEAD", http_bytes(sig, b"", method=b"HEAD"), 405, None),
        ("OPTIONS", http_bytes(sig, b"", method=b"OPTIONS"), 405, "MethodNotAllowed"),
        ("PATCH", http_bytes(sig, b"", method=b"PATCH"), 405, "MethodNotAllowed"),
        ("lower-case get", http_bytes(sig, b"", method=b"get"), 405, "MethodNotAllowed"),
        ("TLS hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(32), 400, None),
        ("SSH banner", b"SSH-2.0-OpenSSH_9.2p1\r\n", 400, None),
        ("binary noise", b"\x00\x01\x02\xff" * 64, 400, None),
        ("garbage line", b"GARBAGE\r\n\r\n", 400, None),
        ("no version", b"GET /\r\n\r\n", 400, None),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, None),
        ("HTTP/9.9", b"GET / HTTP/9.9\r\n\r\n", 505, None),
        ("URL past 64 KiB", b"GET /?" + b"a" * (65 << 10) + b" HTTP/1.1\r\n\r\n", 414, None),
        ("headers past 64 KiB", b"GET / HTTP/1.1\r\nX: " + b"a" * (65 << 10) + b"\r\n\r\n", 431, None),
        ("257 header lines", b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(257)) + b"\r\n", 431, None),
        ("body past 16 MiB declared", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 16777217\r\n\r\n", 413, None),
        ("body past 16 MiB sent", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 16777217\r\n\r\n" + b"a" * (16 << 20), 413, None),
        ("chunked past 16 MiB", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1000001\r\n", 413, None),
        ("conflicting Content-Length", b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, None),
        ("Content-Length and Transfer-Encoding", b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, None),
        ("Transfer-Encoding gzip", b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, None),
        ("folded header", b"POST / HTTP/1.1\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n", 400, None),
        ("space before colon", b"POST / HTTP/1.1\r\nHost : h\r\n\r\n", 400, None),
        ("NUL in a header", b"POST / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n", 400, None),
        ("bare CR in a header", b"POST / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 400, None),
        ("malformed chunk", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, None),
        ("negative Content-Length", b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, None),
        ("raw UTF-8 in the URL", b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400, None),
        ("two Authorization", http_bytes(sig + [("Authorization", b"AWS4-HMAC-SHA256 x")],
                                         b"Action=DescribeRegions&Version=2016-11-15"), 400, "InvalidRequest"),
    ]
    for name, data, status, code in cases:
        run_case("http: " + name, data, status=status, codes={code} if code else None, max_seconds=5)
    # the same request in pieces of one byte still gets the same answer
    body = b"Action=DescribeRegions&Version=2016-11-15"
    whole = http_bytes(sign("ec2", body), body)
    run_case("http: a request a few bytes at a time", None, status=200, action="DescribeRegions",
             pieces=[(whole[i:i + 64], 0.001) for i in range(0, len(whole), 64)])
    # a query string request (GET) is as good as a body
    q = b"/?Action=DescribeRegions&Version=2016-11-15"
    req = botocore.awsrequest.AWSRequest(method="GET", url="http://%s%s" % (HOST, q.decode()), headers={"Host": HOST})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "ec2", "us-east-1").add_auth(req)
    hs = [(k, v.encode()) for k, v in req.headers.items()]
    run_case("http: signed GET", http_bytes(hs, b"", method=b"GET", target=q, length=False), status=200,
             action="DescribeRegions")


def elbv2_cases():
    api("DescribeTargetGroups", service=ELB, name="elbv2: no Version", version=False, status=400,
        codes={"MissingParameter"})
    api("DescribeTargetGroups", [("Version", "2012-06-01")], service=ELB, version=False,
        name="elbv2: the ELB v1 Version", status=400, codes={"NoSuchVersion"})
    for name in ("../x", "a" * 33, "-x", "x-", "a/b", "a b", "tg_1"):
        api("CreateTargetGroup", [("Name", name), ("Protocol", "HTTP"), ("Port", "80"), ("VpcId", refs["@vpc"])],
            service=ELB, name="elbv2: target group named %r" % name, status=400, codes={"ValidationError"})
        api("CreateLoadBalancer", [("Name", name), ("Subnets.member.1", refs["@subnet"])], service=ELB,
            name="elbv2: load balancer named %r" % name, status=400, codes={"ValidationError"})
    for port in ("0", "65536", "-1", "http", " 80"):
        api("CreateTargetGroup", [("Name", "port-tg"), ("Protocol", "HTTP"), ("Port", port),
                                  ("VpcId", refs["@vpc"])], service=ELB, name="elbv2: Port %r" % port,
            status=400, codes={"ValidationError", "InvalidParameterValue"})
    for marker in ("0", "00", "garbage", "99999999999", "-1"):
        api("DescribeTargetGroups", [("Marker", marker)], service=ELB, name="elbv2: Marker %r" % marker,
            status=400, codes={"ValidationError"})
    for size in ("0", "401", "x", " 5"):
        api("DescribeTargetGroups", [("PageSize", size)], service=ELB, name="elbv2: PageSize %r" % size,
            status=400, codes={"ValidationError", "InvalidParameterValue"})
    arns = [("ResourceArns.member.%d" % i, refs["@tg"]) for i in range(1, 22)]
    api("AddTags", arns + [("Tags.member.1.Key", "k"), ("Tags.member.1.Value", "v")], service=ELB,
        name="elbv2: 21 resources to tag", status=400, codes={"ValidationError"})
    api("DescribeTargetHealth", [("TargetGroupArn", "arn:aws:elasticloadbalancing:us-east-1:000000000000:"
                                                    "targetgroup/../../etc")], service=ELB,
        name="elbv2: a target group ARN like a path", status=400,
        codes={"TargetGroupNotFound", "ValidationError"})
    api("RegisterTargets", [("TargetGroupArn", refs["@tg"]), ("Targets.member.1.Id", "i-../../etc")],
        service=ELB, name="elbv2: a target id like a path", status=400,
        codes={"InvalidTarget", "ValidationError"})


def autoscaling_cases():
    api("DescribeAutoScalingGroups", service=AS, name="autoscaling: no Version", version=False,
        status=400, codes={"MissingParameter"})
    api("DescribeAutoScalingGroups", [("Version", "2010-08-01")], service=AS, version=False,
        name="autoscaling: an old Version", status=400, codes={"NoSuchVersion"})
    create = [("LaunchTemplate.LaunchTemplateName", "hostile-lt"), ("AvailabilityZones.member.1", "us-east-1a")]
    for name in ("", "a" * 256, "x\x01y", "a" * 255 + "é"):
        api("CreateAutoScalingGroup", [("AutoScalingGroupName", name), ("MinSize", "0"), ("MaxSize", "1")] + create,
            service=AS, name="autoscaling: group named %r" % name[:20], status=400,
            codes={"ValidationError", "MissingParameter"})
    for mn, mx, want in (("2", "1", None), ("-1", "1", None), ("0", "100000", None), ("0", " 1", None),
                         ("0", "+1", None), ("0x1", "1", None)):
        api("CreateAutoScalingGroup", [("AutoScalingGroupName", "size-asg"), ("MinSize", mn), ("MaxSize", mx)]
            + create, service=AS, name="autoscaling: sizes %r..%r" % (mn, mx), status=400,
            codes={"ValidationError"})
    for v in ("TRUE", "1", "yes"):
        api("SetDesiredCapacity", [("AutoScalingGroupName", "hostile-asg"), ("DesiredCapacity", "0"),
                                   ("HonorCooldown", v)], service=AS, name="autoscaling: HonorCooldown=%r" % v,
            status=400, codes={"ValidationError"})
    for t in ("kiln-0", "kiln-007", "garbage", "kiln-99999999999"):
        api("DescribeAutoScalingGroups", [("NextToken", t)], service=AS, name="autoscaling: NextToken %r" % t,
            status=400, codes={"InvalidNextToken"})
    api("SetDesiredCapacity", [("AutoScalingGroupName", "hostile-asg"), ("DesiredCapacity", "2")], service=AS,
        name="autoscaling: desired over max", status=400, codes={"ValidationError"})
    api("CreateAutoScalingGroup", [("AutoScalingGroupName", "hostile-asg"), ("MinSize", "0"), ("MaxSize", "1")]
        + create, service=AS, name="autoscaling: the same name again", status=400, codes={"AlreadyExists"})
    api("SetDesiredCapacity", [("AutoScalingGroupName", "../../etc"), ("DesiredCapacity", "0")], service=AS,
        name="autoscaling: a group named like a path", status=400, codes={"ValidationError"})


# ---- connections: idle, slow, silent, and the quadratic request ---------------

def signed_regions():
    body = b"Action=DescribeRegions&Version=2016-11-15"
    return http_bytes(sign("ec2", body), body)


def connection_cases():
    global ran
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    idle = []
    try:
        for _ in range(2000):
            idle.append(socket.create_connection(("127.0.0.1", PORT), timeout=5))
        ran += 1
        r = exchange(signed_regions(), timeout=10)
        check(r.status == 200 and r.seconds < 1.0,
              "2,000 idle connections: a signed request took %.2f s (status %d)" % (r.seconds, r.status))
        # slowloris: a head trickling in while others are answered
        slow = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        slow.sendall(b"POST / HTTP/1.1\r\nHost: h\r\n")
        worst = 0.0
        for i in range(6):
            slow.sendall(b"X-%d: v\r\n" % i)
            r = exchange(signed_regions(), timeout=10)
            worst = max(worst, r.seconds)
            time.sleep(0.2)
        ran += 1
        check(worst < 1.0, "a slow client delayed others: %.2f s" % worst)
        slow.close()
    finally:
        for s in idle:
            s.close()
    # a client that sends requests and never reads the replies
    silent = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    try:
        silent.setblocking(False)
        data = signed_regions() * 200
        try:
            silent.send(data)
        except BlockingIOError:
            pass
        r = exchange(signed_regions(), timeout=10)
        ran += 1
        check(r.status == 200 and r.seconds < 1.0, "a client that does not read delayed others: %.2f s" % r.seconds)
    finally:
        silent.close()
    # a request cut off in the middle, then the connection closed: nothing happens
    for cut in (10, 60, 200):
        s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        s.sendall(signed_regions()[:cut])
        s.close()
        ran += 1


def quadratic_case():
    """DescribeImages with 20,000 filter values: refused fast, and DescribeRegions not delayed."""
    items = [("Action", "DescribeImages"), ("Version", "2016-11-15"), ("Filter.1.Name", "name")] + \
        [("Filter.1.Value.%d" % i, "value-%d" % i) for i in range(1, 20001)]
    body = encode_params(items)
    big = http_bytes(sign("ec2", body), body)
    result = {}

    def send_big():
        result["big"] = exchange(big, timeout=60)

    t = threading.Thread(target=send_big)
    t.start()
    time.sleep(0.05)
    small = exchange(signed_regions(), timeout=30)
    t.join(90)
    global ran
    ran += 2
    b = result.get("big")
    # over EC2's 200 values, and over the 10,000 parameters of a request: either refusal
    check(b is not None and b.status == 400 and
          (b"FilterLimitExceeded" in b.body or b"MalformedQueryString" in b.body),
          "20,000 filter values: %s" % (b.body[:300] if b else "no reply"))
    check(b is not None and b.seconds < 3.0, "20,000 filter values took %.2f s" % (b.seconds if b else -1))
    check(small.status == 200 and small.seconds < 1.0,
          "DescribeRegions beside it took %.2f s (status %d)" % (small.seconds, small.status))


# ---- the state the cases attack ------------------------------------------------

refs = {}


def wait_image(image_id, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = ec2_ok("DescribeImages", [("ImageId.1", image_id)], name="wait for " + image_id)
        imgs = (p or {}).get("Images", [])
        if imgs and imgs[0]["State"] in ("available", "failed"):
            return imgs[0]["State"]
        time.sleep(0.5)
    return None


def build_state():
    base = cloud.base_image()
    if base is None:
        return False
    model["images"].add(base)
    refs["@image"] = base
    # the default group's own rules, whatever they are, are the model's start
    model["rules"]["default"] = dict(describe_state()["rules"]).get("default", 0)
    refs["@layer"] = os.listdir(os.path.join(state, "layers"))[0]
    for name, desc in (("hostile-a", "first"), ("hostile-b", "with U+FFFE \ufffe and <xml> & 'quotes'"),
                       ("hostile-c", "third")):
        p = ec2_ok("CreateSecurityGroup", [("GroupName", name), ("GroupDescription", desc)],
                   name="create group " + name)
        if p:
            model["groups"][name] = desc
            model["rules"][name] = 0
            refs.setdefault("@group", p["GroupId"])
    ec2_ok("CreateTags", [("ResourceId.1", refs["@group"]), ("Tag.1.Key", "team"), ("Tag.1.Value", "red"),
                          ("Tag.2.Key", "empty"), ("Tag.2.Value", "")], name="tag group")
    model["group_tags"]["hostile-a"] = {"team": "red", "empty": ""}
    if ec2_ok("CreateKeyPair", [("KeyName", "hostile-key")], name="create key"):
        model["keys"].add("hostile-key")
    if ec2_ok("CreateLaunchTemplate", [("LaunchTemplateName", "hostile-lt"),
                                       ("LaunchTemplateData.InstanceType", "t3.micro"),
                                       ("LaunchTemplateData.ImageId", base)], name="create template"):
        model["templates"].add("hostile-lt")
    p = ec2_ok("DescribeSubnets", name="subnets")
    refs["@subnet"] = p["Subnets"][0]["SubnetId"] if p else "subnet-x"
    refs["@vpc"] = p["Subnets"][0]["VpcId"] if p else "vpc-x"
    r, p = api("CreateTargetGroup", [("Name", "hostile-tg"), ("Protocol", "HTTP"), ("Port", "8080"),
                                     ("VpcId", refs["@vpc"]), ("Tags.member.1.Key", "team"),
                                     ("Tags.member.1.Value", "red")], service=ELB, name="create target group")
    if p:
        refs["@tg"] = p["TargetGroups"][0]["TargetGroupArn"]
        model["target_groups"].add("hostile-tg")
    # a group of no instances: the reconciler has nothing to launch
    r, p = api("CreateAutoScalingGroup", [("AutoScalingGroupName", "hostile-asg"),
                                          ("LaunchTemplate.LaunchTemplateName", "hostile-lt"),
                                          ("MinSize", "0"), ("MaxSize", "1"), ("DesiredCapacity", "0"),
                                          ("AvailabilityZones.member.1", "us-east-1a")],
               service=AS, name="create auto scaling group")
    if r is not None and r.status == 200:
        model["asgs"].add("hostile-asg")
    p = ec2_ok("RunInstances", [("ImageId", base), ("MinCount", "1"), ("MaxCount", "1"),
                                ("InstanceType", "t3.micro"), ("KeyName", "hostile-key"),
                                ("TagSpecification.1.ResourceType", "instance"),
                                ("TagSpecification.1.Tag.1.Key", "Name"),
                                ("TagSpecification.1.Tag.1.Value", "hostile")], name="run instance")
    if not p:
        return False
    refs["@instance"] = p["Instances"][0]["InstanceId"]
    model["instances"].add(refs["@instance"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        p = ec2_ok("DescribeInstances", [("InstanceId.1", refs["@instance"])], name="wait for running")
        if p and p["Reservations"][0]["Instances"][0]["State"]["Name"] == "running":
            break
        time.sleep(0.3)
    p = ec2_ok("CreateImage", [("InstanceId", refs["@instance"]), ("Name", "hostile-image"), ("NoReboot", "true")],
               name="create image")
    if p:
        model["images"].add(p["ImageId"])
        check(wait_image(p["ImageId"]) == "available", "the created image became available")
    return True


def main():
    t0 = time.monotonic()
    if not cloud.up() or not build_state():
        return
    R.ok("a state to attack, built in %.1f s" % (time.monotonic() - t0))
    # opened now, checked at the end: an idle connection is closed, a partial request refused
    idle = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    partial = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    partial.sendall(b"POST / HTTP/1.1\r\nHost: h\r\n")
    opened = time.monotonic()

    sections = [("sigv4", sigv4_cases), ("utf-8 and NUL", lambda: utf8_cases(refs)),
                ("version and booleans", version_and_boolean_cases), ("paths", path_cases),
                ("limits", limit_cases), ("elbv2", elbv2_cases),
                ("autoscaling", autoscaling_cases), ("http", http_cases), ("connections", connection_cases),
                ("quadratic", quadratic_case)]
    for name, fn in sections:
        before, failed, t = ran, len(R.failures), time.monotonic()
        fn()
        if len(R.failures) == failed:
            R.ok("%s: %d cases in %.1f s" % (name, ran - before, time.monotonic() - t))

    # the daemon is alive and the state is what the successful calls made
    with open(os.path.join(state, "cloud.pid")) as f:
        pid = int(f.read().strip())
    R.check("the daemon is alive after %d cases" % ran, os.path.exists("/proc/%d" % pid))
    got = describe_state()
    want = expected_state()
    for k in want:
        R.check("the state's %s are what the successful calls made" % k, got.get(k) == want[k],
                "got %r, want %r" % (got.get(k), want[k]))
    time.sleep(1.5)  # the reaper deletes layers set aside once a second
    orphans = disk_orphans()
    R.check("nothing on disk the state does not name (layers/, instances/, tmp/)", not orphans, orphans)
    with open(os.path.join(state, "requests.jsonl"), "rb") as f:
        lines = f.read().splitlines()
    bad = [l[:200] for l in lines if not _is_json(l)]
    R.check("every request log line is JSON", not bad, bad[:3])
    R.check("the request log has a line per request", len(lines) >= ran * 0.9,
            "%d lines, %d cases" % (len(lines), ran))

    # the timeouts: the idle connection was closed, the partial request refused in XML
    wait = max(0.0, 17.0 - (time.monotonic() - opened))
    time.sleep(wait)
    idle.settimeout(2)
    try:
        closed = idle.recv(1) == b""
    except socket.timeout:
        closed = False
    except ConnectionResetError:
        closed = True
    R.check("an idle connection is closed after its timeout", closed)
    r = read_reply(partial, 2)
    R.check("a request that never completes gets 408 in XML",
            r.status == 408 and b"RequestTimeoutException" in r.body, "got %d" % r.status)
    idle.close()
    partial.close()

    # down and up: the same state
    down = cloud.kiln_run("cloud", "down", "--state-dir", state)
    R.check("kiln cloud down", down.returncode == 0, down.stderr[-300:])
    # started with a descriptor open (as a test's range lock is), the daemon does not keep it
    marker = os.path.join(cloud.tmp, "inherited")
    with open(marker, "w") as held:
        up = subprocess.run([cloud.kiln, "cloud", "up", "--port", str(PORT), "--state-dir", state,
                             "--cidr", CIDR], capture_output=True, text=True, timeout=120,
                            pass_fds=(held.fileno(),))
    if R.check("kiln cloud up again", up.returncode == 0, up.stdout + up.stderr):
        again = describe_state()
        R.check("down and up restore the state", again == got, "%r != %r" % (again, got))
        with open(os.path.join(state, "cloud.pid")) as f:
            fds = "/proc/%s/fd" % f.read().strip()
        links = [os.readlink(os.path.join(fds, n)) for n in os.listdir(fds)]
        R.check("the daemon keeps no descriptor its starter had open", marker not in links, links)


def _is_json(line):
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


def sanitizer_reports():
    """What the sanitizer build wrote into the daemon's log (leaks when it exits)."""
    path = os.path.join(state, "cloud.log")
    if not os.path.exists(path):
        return []
    with open(path, errors="replace") as f:
        log = f.read()
    return re.findall(r"(ERROR: \w+Sanitizer[^\n]*|runtime error:[^\n]*|SUMMARY: \w+Sanitizer[^\n]*)", log)


def run():
    if not cloud.take_range():
        print("FAIL: %s stayed busy" % CIDR)
        return 1
    global DEADLINE
    DEADLINE = time.monotonic() + 600
    t0 = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    try:
        main()
    except Exception as e:  # noqa: BLE001 -- any exception is a finding, and the cloud must still go down
        import traceback
        traceback.print_exc()
        R.bad("unexpected exception", "%s: %s" % (type(e).__name__, e))
    finally:
        cloud.kiln_run("cloud", "down", "--state-dir", state, timeout=300)
        found = sanitizer_reports()
        R.check("the daemon's log has no sanitizer report", not found, found[:5])
        cloud.down_and_check()
    print("%d hostile cases in %.1f s" % (ran, time.monotonic() - t0))
    return R.finish()


if __name__ == "__main__":
    sys.exit(run())
