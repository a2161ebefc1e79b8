#!/usr/bin/env python3
"""The `kiln cloud` daemon: life cycle, authentication, EC2 error codes on
malformed and missing parameters (raw signed requests through botocore's
signer, so the CLI's own validation does not hide them), ten real instances
at once, the request log, `kill -9` of the daemon and recovery, and a clean
`kiln cloud down` that leaves no bridge, mount or process behind.

Runs as root on 127.0.0.1:4610 and 10.214.0.0/24 only; exits 77 otherwise.
"""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

if os.geteuid() != 0:
    print("SKIP: the local cloud needs root")
    sys.exit(77)
try:
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
except ImportError:
    print("SKIP: botocore is not importable")
    sys.exit(77)

BUILD = os.environ.get("KILN_BUILD_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
KILN = os.environ.get("KILN_BIN") or os.path.join(BUILD, "kiln")
PORT = 4610
CIDR = "10.214.0.0/24"
ENDPOINT = "http://127.0.0.1:%d" % PORT

failures = []
tmp = tempfile.mkdtemp(prefix="kiln-lc-daemon-")
state = os.path.join(tmp, "state")


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def kiln(*args, timeout=300):
    env = dict(os.environ, KILN_CLOUD_TERMINATED_TTL="5")
    return subprocess.run([KILN, *args], capture_output=True, text=True, timeout=timeout, env=env)


def call(action, params=None, key="test", secret="test", raw_body=None):
    """One signed EC2 Query request; returns (status, body text)."""
    body = raw_body
    if body is None:
        items = [("Action", action), ("Version", "2016-11-15")] + list((params or {}).items())
        body = "&".join("%s=%s" % (urllib.parse.quote(k, safe=""), urllib.parse.quote(str(v), safe=""))
                        for k, v in items)
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=ENDPOINT + "/", data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    creds = botocore.credentials.Credentials(key, secret)
    botocore.auth.SigV4Auth(creds, "ec2", "us-east-1").add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=prepared.body, method="POST",
                               headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def code_of(body):
    m = re.search(r"<Code>([^<]+)</Code>", body)
    return m.group(1) if m else None


def text_of(body, tag):
    return re.findall(r"<%s>([^<]*)</%s>" % (tag, tag), body)


def leftovers():
    """Bridges, mounts and init processes that belong to this test's state dir."""
    out = []
    with open("/proc/mounts") as f:
        out += [l.split()[1] for l in f if tmp in l]
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if tmp in cmd:
            out.append("pid %s: %s" % (pid, cmd[:80]))
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    bridge = bridge_name()
    out += [l.split(":")[1].strip() for l in links.splitlines() if bridge in l]
    return out


def bridge_name():
    import hashlib
    real = os.path.realpath(state)
    return "kc" + hashlib.sha256(real.encode()).hexdigest()[:8]


def ssh_banner(ip, deadline):
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((ip, 22), timeout=1) as s:
                s.settimeout(2)
                if s.recv(64).startswith(b"SSH-2.0-"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_states(ids, want, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        params = {"InstanceId.%d" % (i + 1): v for i, v in enumerate(ids)}
        _, body = call("DescribeInstances", params)
        names = re.findall(r"<instanceState><code>\d+</code><name>([a-z-]+)</name>", body)
        if len(names) == len(ids) and all(n == want for n in names):
            return True
        time.sleep(0.1)
    return False


def main():
    r = kiln("cloud", "up", "--port", str(PORT), "--state-dir", state, "--cidr", CIDR)
    if not check(r.returncode == 0 and r.stdout.strip() == ENDPOINT, "up prints the endpoint"):
        print(r.stdout, r.stderr)
        return
    r = kiln("cloud", "up", "--port", str(PORT), "--state-dir", state, "--cidr", CIDR)
    check(r.returncode == 1 and "already runs on" in r.stderr and r.stderr.count("\n") == 1,
          "a second up on the same state dir is refused in one line, exit 1")
    r = kiln("cloud", "status", "--state-dir", state, "--json")
    st = json.loads(r.stdout)
    check(st["running"] and st["endpoint"] == ENDPOINT and st["counts"]["security_groups"] == 1,
          "status --json: running, endpoint, counts")
    r = kiln("cloud", "up", "--cidr", "10.0.0.0/33", "--state-dir", os.path.join(tmp, "x"))
    check(r.returncode == 2 and "--cidr" in r.stderr, "a bad --cidr is exit 2")

    # authentication
    status, body = call("DescribeRegions", secret="wrong")
    check(status == 403 and code_of(body) == "SignatureDoesNotMatch", "a bad signature: 403 SignatureDoesNotMatch")
    status, body = call("DescribeRegions", key="AKIDUNKNOWN")
    check(status == 401 and code_of(body) == "AuthFailure", "an unknown key: 401 AuthFailure")
    r = urllib.request.Request(ENDPOINT + "/", data=b"Action=DescribeRegions&Version=2016-11-15", method="POST")
    try:
        urllib.request.urlopen(r, timeout=10)
        check(False, "an unsigned request is refused")
    except urllib.error.HTTPError as e:
        check(e.code in (400, 401) and code_of(e.read().decode()) in ("AuthFailure", "IncompleteSignature", "MissingAuthenticationToken"),
              "an unsigned request is refused")
    status, body = call("DescribeRegions")
    check(status == 200 and "<requestId>" in body and 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"' in body,
          "replies carry the EC2 namespace and a requestId")

    # error codes
    cases = [
        ("RunInstances", {"MinCount": 1, "MaxCount": 1}, "MissingParameter"),
        ("RunInstances", {"ImageId": "ami-12345678", "MinCount": "x", "MaxCount": 1}, "InvalidParameterValue"),
        ("RunInstances", {"ImageId": "ami-0123456789abcdef0", "MinCount": 1, "MaxCount": 1}, "InvalidAMIID.NotFound"),
        ("RunInstances", {"ImageId": "img-1", "MinCount": 1, "MaxCount": 1}, "InvalidAMIID.Malformed"),
        ("DescribeInstances", {"InstanceId.1": "i-0123456789abcdef0"}, "InvalidInstanceID.NotFound"),
        ("DescribeInstances", {"InstanceId.1": "bogus"}, "InvalidInstanceID.Malformed"),
        ("StopInstances", {}, "MissingParameter"),
        ("DescribeImages", {"ImageId.1": "ami-0123456789abcdef0"}, "InvalidAMIID.NotFound"),
        ("CreateSecurityGroup", {"GroupName": "g"}, "MissingParameter"),
        ("DeleteSecurityGroup", {"GroupId": "sg-0123456789abcdef0"}, "InvalidGroup.NotFound"),
        ("CreateKeyPair", {"KeyName": "k", "KeyType": "dsa"}, "InvalidParameterValue"),
        ("DescribeKeyPairs", {"KeyName.1": "nope"}, "InvalidKeyPair.NotFound"),
        ("DescribeInstances", {"Filter.1.Name": "no-such-filter", "Filter.1.Value.1": "x"}, "InvalidParameterValue"),
        ("CreateTags", {"ResourceId.1": "i-0123456789abcdef0", "Tag.1.Key": "a", "Tag.1.Value": "b"}, "InvalidInstanceID.NotFound"),
        ("NoSuchAction", {}, "InvalidAction"),
        ("DescribeLaunchTemplateVersions", {"LaunchTemplateId": "lt-0123456789abcdef0"}, "InvalidLaunchTemplateId.NotFound"),
    ]
    for action, params, want in cases:
        status, body = call(action, params)
        check(status == 400 and code_of(body) == want and "<RequestID>" in body,
              "%s %s -> %s (got %s %s)" % (action, sorted(params), want, status, code_of(body)))
    status, body = call(None, raw_body="Action=DescribeRegions&Version=2016-11-15&Bad=%zz")
    check(status == 400 and code_of(body) == "MalformedQueryString", "a malformed query string -> MalformedQueryString")

    # a base image from a tiny root filesystem is enough for these checks? no: sshd is needed
    r = kiln("cloud", "image", "debootstrap", "base", "--state-dir", state, timeout=900)
    image = r.stdout.strip()
    if not check(r.returncode == 0 and image.startswith("ami-"), "image debootstrap registers an image"):
        print(r.stderr)
        return
    r = kiln("cloud", "image", "debootstrap", "base", "--state-dir", state, timeout=900)
    check(r.returncode == 1 and "InvalidAMIName.Duplicate" in r.stderr, "a second image of the same name is refused")

    # ten instances at once; security groups filter, so their group lets this host
    # (the bridge's first address) reach SSH
    status, _ = call("AuthorizeSecurityGroupIngress", {
        "GroupName": "default", "IpPermissions.1.IpProtocol": "tcp", "IpPermissions.1.FromPort": 22,
        "IpPermissions.1.ToPort": 22, "IpPermissions.1.IpRanges.1.CidrIp": "10.214.0.1/32"})
    check(status == 200, "SSH from this host allowed in the default group")
    _, body = call("ImportKeyPair", {"KeyName": "k", "PublicKeyMaterial": base64.b64encode(
        open(os.path.join(tmp, "id.pub"), "rb").read()).decode()})
    check(text_of(body, "keyName") == ["k"], "ImportKeyPair")
    t0 = time.monotonic()
    status, body = call("RunInstances", {"ImageId": image, "MinCount": 10, "MaxCount": 10, "KeyName": "k",
                                         "TagSpecification.1.ResourceType": "instance",
                                         "TagSpecification.1.Tag.1.Key": "batch",
                                         "TagSpecification.1.Tag.1.Value": "ten"})
    ids = text_of(body, "instanceId")
    ips = text_of(body, "privateIpAddress")
    check(status == 200 and len(set(ids)) == 10, "RunInstances MinCount=10 gives ten instances")
    check(wait_states(ids, "running"), "all ten reach running")
    _, body = call("DescribeInstances", {"Filter.1.Name": "tag:batch", "Filter.1.Value.1": "ten"})
    ips = sorted(set(text_of(body, "privateIpAddress")))
    deadline = time.monotonic() + 60
    up = [ip for ip in ips if ssh_banner(ip, deadline)]
    check(len(ips) == 10 and len(up) == 10, "ten distinct addresses, each with an SSH banner (%.1f s)" % (time.monotonic() - t0))

    # the request log
    with open(os.path.join(state, "requests.jsonl")) as f:
        lines = [json.loads(l) for l in f]
    keys_ok = all(set(l) >= {"time", "service", "action", "status", "error", "duration"} for l in lines)
    check(keys_ok and sum(1 for l in lines if l["action"] == "RunInstances") >= 5,
          "requests.jsonl holds one line per request with time, service, action, status, error, duration")
    check(any(l["error"] == "SignatureDoesNotMatch" and l["status"] == 403 for l in lines),
          "rejected requests are logged with their error code")

    # state that must survive kill -9
    call("CreateSecurityGroup", {"GroupName": "keep", "GroupDescription": "d"})
    call("CreateLaunchTemplate", {"LaunchTemplateName": "keep-lt", "LaunchTemplateData.ImageId": image})
    call("CreateTags", {"ResourceId.1": image, "Tag.1.Key": "keep", "Tag.1.Value": "yes"})
    pid = int(open(os.path.join(state, "cloud.pid")).read())
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)
    r = kiln("cloud", "status", "--state-dir", state, "--json")
    check(json.loads(r.stdout)["running"] is False, "after kill -9 the cloud is not running")
    r = kiln("cloud", "up", "--port", str(PORT), "--state-dir", state, "--cidr", CIDR)
    check(r.returncode == 0, "up again after kill -9")
    _, body = call("DescribeSecurityGroups", {"GroupName.1": "keep"})
    check("<groupName>keep</groupName>" in body, "security group kept")
    _, body = call("DescribeLaunchTemplates", {})
    check("keep-lt" in body, "launch template kept")
    _, body = call("DescribeImages", {"Filter.1.Name": "tag:keep", "Filter.1.Value.1": "yes"})
    check(image in body, "image and its tag kept")
    _, body = call("DescribeKeyPairs", {})
    check("<keyName>k</keyName>" in body, "key pair kept")
    check(wait_states(ids, "running"), "the ten instances are running again")
    deadline = time.monotonic() + 60
    check(all(ssh_banner(ip, deadline) for ip in ips), "and answer SSH again")

    # terminate, then down leaves nothing
    params = {"InstanceId.%d" % (i + 1): v for i, v in enumerate(ids)}
    status, body = call("TerminateInstances", params)
    check(status == 200 and body.count("<name>shutting-down</name>") == 10, "TerminateInstances: shutting-down")
    check(wait_states(ids, "terminated"), "all ten terminated")
    status, body = call("StartInstances", {"InstanceId.1": ids[0]})
    check(code_of(body) == "IncorrectInstanceState", "starting a terminated instance: IncorrectInstanceState")
    # terminated instances stay visible for a while (KILN_CLOUD_TERMINATED_TTL, 5 s here), then go
    _, body = call("DescribeInstances", {"Filter.1.Name": "tag:batch", "Filter.1.Value.1": "ten"})
    check(body.count("<name>terminated</name>") == 10, "terminated instances are still listed")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        _, body = call("DescribeInstances", {"Filter.1.Name": "tag:batch", "Filter.1.Value.1": "ten"})
        if "<instanceId>" not in body:
            break
        time.sleep(0.5)
    check("<instanceId>" not in body, "then they disappear")
    status, body = call("DescribeInstances", {"InstanceId.1": ids[0]})
    check(code_of(body) == "InvalidInstanceID.NotFound", "and their ids are unknown")
    r = kiln("cloud", "down", "--state-dir", state)
    check(r.returncode == 0, "down")
    left = leftovers()
    check(not left, "nothing left after down: %s" % left)
    r = kiln("cloud", "down", "--state-dir", state)
    check(r.returncode == 1 and "no local cloud runs" in r.stderr, "down when none runs: one line, exit 1")


try:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(tmp, "id")], check=True)
    main()
finally:
    if os.path.exists(os.path.join(state, "cloud.pid")):
        kiln("cloud", "down", "--state-dir", state)
    left = leftovers()
    if left:
        failures.append("left behind: %s" % left)
        print("FAIL left behind: %s" % left)
    shutil.rmtree(tmp, ignore_errors=True)

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("all passed")
