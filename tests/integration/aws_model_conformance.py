#!/usr/bin/env python3
"""Model conformance of kiln's typed AWS calls, checked with botocore's own
service models (an independent reference).

A loopback stub (in this script) stands in for EC2, ELBv2, Auto Scaling and
SSM. The driver (tests/fixtures/aws_call options) makes every typed call
once with every optional field kiln can send; kiln's request hook records
each parameter name, and the stub records what arrived on the wire. Then:

- every operation kiln implements was sent, and exists in the model;
- every Query parameter name exists in that operation's input shape,
  flattened the way each protocol serializes it (EC2: queryName, else
  locationName with a capital first letter, every list as Name.N; query:
  locationName or the member name, lists as Name.member.N unless flattened,
  maps as Name.entry.N.key / .value);
- every required top-level member was sent;
- what the hook saw is what the stub received;
- SSM (JSON 1.1) bodies carry only members of the input shape, with the
  model's types.

A second run ("pages") has the stub answer each list call in three pages;
the driver checks that every page was followed, and the stub checks that
each next-page request repeated the first one's parameters plus the token.

Exits 77 (skipped) when botocore is not importable.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import aws_operations  # noqa: E402

try:
    import botocore.loaders
except ImportError:
    print("skipped: botocore is not importable")
    sys.exit(77)

BUILD = os.environ.get("KILN_BUILD_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
DRIVER = os.path.join(BUILD, "aws_call")

MODELS = {
    "ec2": ("ec2", "2016-11-15"),
    "elbv2": ("elbv2", "2015-12-01"),
    "autoscaling": ("autoscaling", "2011-01-01"),
    "ssm": ("ssm", "2014-11-06"),
}
VERSION_TO_SVC = {"2016-11-15": "ec2", "2015-12-01": "elbv2", "2011-01-01": "autoscaling"}

IMPLEMENTED = aws_operations.IMPLEMENTED

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


# --- botocore's models, flattened as each protocol serializes them ---

def flatten(model, shape_name, prefix, ec2, out, depth=0):
    shapes = model["shapes"]
    shape = shapes[shape_name]
    kind = shape["type"]
    if depth > 12:
        return
    if kind == "structure":
        for name, member in shape.get("members", {}).items():
            if ec2:
                if "queryName" in member:
                    key = member["queryName"]
                elif "locationName" in member:
                    key = member["locationName"][:1].upper() + member["locationName"][1:]
                else:
                    key = name
            else:
                key = member.get("locationName", name)
            flatten(model, member["shape"], prefix + "." + key if prefix else key, ec2, out,
                    depth + 1)
    elif kind == "list":
        member = shape["member"]
        if ec2 or shape.get("flattened"):
            flatten(model, member["shape"], prefix + ".N", ec2, out, depth + 1)
        else:
            flatten(model, member["shape"],
                    prefix + "." + member.get("locationName", "member") + ".N", ec2, out,
                    depth + 1)
    elif kind == "map":
        out.add(prefix + ".entry.N.key")
        flatten(model, shape["value"]["shape"], prefix + ".entry.N.value", ec2, out, depth + 1)
    else:
        out.add(prefix)


def load_models():
    loader = botocore.loaders.create_loader()
    return {svc: loader.load_service_model(name, "service-2", version)
            for svc, (name, version) in MODELS.items()}


def allowed_names(model, svc, op):
    out = set()
    shape = model["operations"][op].get("input", {}).get("shape")
    if shape:
        flatten(model, shape, "", svc == "ec2", out)
    return out


def required_names(model, svc, op):
    shape = model["operations"][op].get("input", {}).get("shape")
    if not shape:
        return set()
    s = model["shapes"][shape]
    names = set()
    for name in s.get("required", []):
        m = s["members"][name]
        if svc == "ec2":
            key = m.get("queryName") or (m["locationName"][:1].upper() + m["locationName"][1:]
                                         if "locationName" in m else name)
        else:
            key = m.get("locationName", name)
        names.add(key)
    return names


def pattern(name):
    return re.sub(r"\.\d+(?=\.|$)", ".N", name)


# --- the stub ---

class Stub:
    def __init__(self, mode):
        self.mode = mode
        self.query = {}  # (svc, action) -> set of names received
        self.json = {}   # operation -> list of bodies
        self.first_page = {}
        self.problems = []
        self.lock = threading.Lock()


def ec2_page(action, page, nxt):
    def items(tag, inner):
        return "<%s>%s</%s>" % (tag, "".join("<item>%s</item>" % inner(i) for i in range(2)),
                                tag)
    uid = lambda i: "%d-%d" % (page, i)  # noqa: E731
    body = {
        "DescribeImages": lambda: items("imagesSet", lambda i: "<imageId>ami-%s</imageId>"
                                        % uid(i)),
        "DescribeInstances": lambda: items(
            "reservationSet", lambda i: "<reservationId>r-%s</reservationId><instancesSet><item>"
            "<instanceId>i-%s</instanceId><instanceState><code>16</code><name>running</name>"
            "</instanceState></item></instancesSet>" % (uid(i), uid(i))),
        "DescribeSnapshots": lambda: items("snapshotSet", lambda i: "<snapshotId>snap-%s"
                                           "</snapshotId>" % uid(i)),
        "DescribeSecurityGroups": lambda: items("securityGroupInfo", lambda i: "<groupId>sg-%s"
                                                "</groupId>" % uid(i)),
        "DescribeTags": lambda: items("tagSet", lambda i: "<resourceId>i-%s</resourceId>"
                                      "<key>k</key><value>v</value>" % uid(i)),
        "DescribeLaunchTemplates": lambda: items("launchTemplates", lambda i: "<launchTemplateId>"
                                                 "lt-%s</launchTemplateId>" % uid(i)),
    }.get(action)
    if body is None:
        return None
    token = "<nextToken>tok-%d</nextToken>" % nxt if nxt else ""
    return body() + token


def query_page(action, page, nxt, marker):
    def members(tag, inner):
        return "<%s>%s</%s>" % (tag, "".join("<member>%s</member>" % inner("%d-%d" % (page, i))
                                             for i in range(2)), tag)
    body = {
        "DescribeTargetGroups": lambda: members("TargetGroups", lambda u: "<TargetGroupArn>"
                                                "arn:tg/%s</TargetGroupArn>" % u),
        "DescribeLoadBalancers": lambda: members("LoadBalancers", lambda u: "<LoadBalancerArn>"
                                                 "arn:lb/%s</LoadBalancerArn>" % u),
        "DescribeListeners": lambda: members("Listeners", lambda u: "<ListenerArn>arn:li/%s"
                                             "</ListenerArn>" % u),
        "DescribeAutoScalingGroups": lambda: members("AutoScalingGroups", lambda u:
                                                     "<AutoScalingGroupName>g-%s"
                                                     "</AutoScalingGroupName>" % u),
        "DescribeAutoScalingInstances": lambda: members(
            "AutoScalingInstances", lambda u: "<InstanceId>i-%s</InstanceId>"
            "<LifecycleState>InService</LifecycleState>" % u),
        "DescribeScalingActivities": lambda: members("Activities", lambda u: "<ActivityId>a-%s"
                                                     "</ActivityId><StatusCode>Successful"
                                                     "</StatusCode>" % u),
    }.get(action)
    if body is None:
        return None
    token = "<%s>tok-%d</%s>" % (marker, nxt, marker) if nxt else ""
    return body() + token


def make_handler(stub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, ctype, body):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(n).decode()
            target = self.headers.get("X-Amz-Target")
            if target:
                op = target.split(".", 1)[1]
                with stub.lock:
                    stub.json.setdefault(op, []).append(json.loads(raw))
                body = {"GetParameter": {"Parameter": {"Name": "/p", "Type": "String",
                                                       "Value": "v", "Version": 1}},
                        "GetParameters": {"Parameters": [], "InvalidParameters": []}}.get(op, {})
                self.reply(200, "application/x-amz-json-1.1", json.dumps(body))
                return
            params = urllib.parse.parse_qsl(raw, keep_blank_values=True)
            d = dict(params)
            action, version = d.get("Action"), d.get("Version")
            svc = VERSION_TO_SVC.get(version)
            if svc is None:
                self.reply(400, "text/xml", "<ErrorResponse><Error><Code>InvalidAction</Code>"
                           "<Message>unknown version</Message></Error></ErrorResponse>")
                return
            names = {k for k, _ in params if k not in ("Action", "Version")}
            with stub.lock:
                stub.query.setdefault((svc, action), set()).update(names)
            inner = ""
            if stub.mode == "pages":
                inner = self.page(svc, action, params)
                if inner is None:
                    return
            if svc == "ec2":
                body = ("<%sResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
                        "<requestId>r-1</requestId>%s</%sResponse>" % (action, inner, action))
            else:
                body = ("<%sResponse><%sResult>%s</%sResult><ResponseMetadata><RequestId>r-1"
                        "</RequestId></ResponseMetadata></%sResponse>"
                        % (action, action, inner, action, action))
            self.reply(200, "text/xml", body)

        def page(self, svc, action, params):
            token_name = "Marker" if svc == "elbv2" else "NextToken"
            rest = sorted((k, v) for k, v in params if k != token_name)
            token = dict(params).get(token_name)
            page = 1 if token is None else int(token.split("-")[1])
            with stub.lock:
                if page == 1:
                    stub.first_page[action] = rest
                elif stub.first_page.get(action) != rest:
                    stub.problems.append("%s page %d changed its parameters" % (action, page))
            nxt = page + 1 if page < 3 else 0
            if svc == "ec2":
                inner = ec2_page(action, page, nxt)
            else:
                inner = query_page(action, page, nxt,
                                   "NextMarker" if svc == "elbv2" else "NextToken")
            if inner is None:
                self.reply(400, "text/xml", "<ErrorResponse><Error><Code>InvalidAction</Code>"
                           "<Message>%s has no pages here</Message></Error></ErrorResponse>"
                           % action)
            return inner
    return Handler


def run(mode, args, record=None):
    stub = Stub(mode)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(stub))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = "http://127.0.0.1:%d" % server.server_address[1]
    tmp = tempfile.mkdtemp(prefix="kiln-conformance-")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tmp,
        "AWS_CONFIG_FILE": os.path.join(tmp, "config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmp, "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "conformance-secret-key-0123456789",
        # Replies the stub cannot give are errors; do not retry them.
        "AWS_MAX_ATTEMPTS": "1",
    }
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    try:
        cmd = [DRIVER] + (["--record", record] if record else []) + args
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
        os.rmdir(tmp) if os.path.isdir(tmp) and not os.listdir(tmp) else None
    return p, stub


def check_options(models, tmpdir):
    record = os.path.join(tmpdir, "record.tsv")
    p, stub = run("options", ["options"], record)
    check(p.returncode == 0 and "options done" in p.stdout,
          "driver options: exit %d %s" % (p.returncode, p.stderr[-2000:]))
    hooked = {}
    with open(record) as f:
        for line in f:
            svc, action, name = line.rstrip("\n").split("\t")
            hooked.setdefault((svc, action), set())
            if name:
                hooked[(svc, action)].add(name)
    nnames = 0
    for svc in ("ec2", "elbv2", "autoscaling"):
        model = models[svc]
        for op in IMPLEMENTED[svc]:
            check(op in model["operations"], "%s %s is in the model" % (svc, op))
            check((svc, op) in hooked, "%s %s was sent" % (svc, op))
            if op not in model["operations"] or (svc, op) not in hooked:
                continue
            allowed = allowed_names(model, svc, op)
            sent = hooked[(svc, op)]
            for name in sorted(sent):
                nnames += 1
                check(pattern(name) in allowed,
                      "%s %s: '%s' is not in the input shape" % (svc, op, name))
            tops = {n.split(".", 1)[0] for n in sent}
            missing = required_names(model, svc, op) - tops
            check(not missing, "%s %s: required %s never sent" % (svc, op, sorted(missing)))
            check(stub.query.get((svc, op), set()) == sent,
                  "%s %s: the hook saw what went on the wire" % (svc, op))
    for (svc, op) in hooked:
        check(op in IMPLEMENTED.get(svc, []), "%s %s is listed as implemented" % (svc, op))
    # SSM: JSON 1.1 bodies.
    model = models["ssm"]
    types = {"string": str, "boolean": bool, "list": list, "integer": int}
    for op in IMPLEMENTED["ssm"]:
        bodies = stub.json.get(op, [])
        check(bodies, "ssm %s was sent" % op)
        shape = model["shapes"][model["operations"][op]["input"]["shape"]]
        for body in bodies:
            for key, value in body.items():
                nnames += 1
                member = shape["members"].get(key)
                check(member is not None, "ssm %s: '%s' is not in the input shape" % (op, key))
                if member:
                    kind = model["shapes"][member["shape"]]["type"]
                    check(isinstance(value, types.get(kind, object)),
                          "ssm %s: '%s' is a %s" % (op, key, kind))
            missing = set(shape.get("required", [])) - set(body)
            check(not missing, "ssm %s: required %s never sent" % (op, sorted(missing)))
    print("checked %d parameter names of %d operations against botocore's models"
          % (nnames, sum(len(v) for v in IMPLEMENTED.values())))


def check_pages():
    p, stub = run("pages", ["pages"])
    sys.stdout.write(p.stdout)
    check(p.returncode == 0 and "all ok" in p.stdout,
          "driver pages: exit %d %s" % (p.returncode, p.stderr[-2000:]))
    for problem in stub.problems:
        check(False, problem)
    check(len(stub.first_page) == 12, "twelve list calls were paged (%d)" % len(stub.first_page))


def main():
    if not os.access(DRIVER, os.X_OK):
        print("FAIL: %s is not built" % DRIVER)
        return 1
    models = load_models()
    tmpdir = tempfile.mkdtemp(prefix="kiln-conformance-")
    try:
        check_options(models, tmpdir)
        check_pages()
    finally:
        for f in os.listdir(tmpdir):
            os.unlink(os.path.join(tmpdir, f))
        os.rmdir(tmpdir)
    print("%d failure(s)" % len(failures) if failures else "passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
