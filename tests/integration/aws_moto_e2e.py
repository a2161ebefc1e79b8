#!/usr/bin/env python3
"""kiln's typed EC2, ELBv2, Auto Scaling and SSM calls end to end against
moto_server (an AWS emulator written by others), started on a free loopback
port by this test and stopped by pid at the end.

The driver (tests/fixtures/aws_call e2e) makes every call and checks what
comes back; this script prepares what kiln cannot make itself (a snapshot,
SSM parameters) with botocore, checks that every implemented operation was
sent and answered, that pages were followed (load balancers by Marker, Auto
Scaling groups by NextToken), that the error codes came back parsed, that no
secret reached the log at full verbosity, and, through botocore, that the
cleanup really happened.

Exits 77 (skipped) when moto or botocore is not importable.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import aws_operations  # noqa: E402
import motoserver  # noqa: E402

try:
    import botocore.session
    import moto  # noqa: F401
except ImportError:
    print("skipped: moto or botocore is not importable")
    sys.exit(77)

BUILD = os.environ.get("KILN_BUILD_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
DRIVER = os.path.join(BUILD, "aws_call")

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "moto-svc-secret-wJalrXUtnFEMI/K7MDENG"
REGION = "eu-west-1"
SSM_SECRET = "s3cr3t-db-password-7f1e9a"
PUBKEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAufKrrgbysKfAWDeAbbIMerDQuJkSNzo+fL0EzPnaR9 "
          "kiln-test")

# Every operation kiln implements for these services (STS is tested elsewhere).
OPERATIONS = {k: v for k, v in aws_operations.IMPLEMENTED.items() if k != "ssm"}

failures = []
tmp = tempfile.mkdtemp(prefix="kiln-aws-moto-")
MOTO = motoserver.Moto(tmp)


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def start_moto():
    return MOTO.start()


def stop_moto():
    MOTO.stop()


def client(url, name):
    s = botocore.session.get_session()
    return s.create_client(name, region_name=REGION, endpoint_url=url, aws_access_key_id=AKID,
                           aws_secret_access_key=SECRET)


def prepare(url):
    """What kiln does not create itself: a snapshot and SSM parameters."""
    ec2 = client(url, "ec2")
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    vol = ec2.create_volume(AvailabilityZone=zone, Size=8)
    snap = ec2.create_snapshot(VolumeId=vol["VolumeId"], TagSpecifications=[
        {"ResourceType": "snapshot", "Tags": [{"Key": "kiln:test", "Value": "yes"}]}])
    ssm = client(url, "ssm")
    ssm.put_parameter(Name="/kiln/plain", Value="plain-value", Type="String")
    ssm.put_parameter(Name="/kiln/secret", Value=SSM_SECRET, Type="SecureString")
    for i in range(11):
        ssm.put_parameter(Name="/kiln/p%d" % i, Value="value-%d" % i, Type="String")
    return snap["SnapshotId"]


def run_driver(url, snapshot):
    env = motoserver.client_env(
        tmp, REGION,
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID=AKID,
        AWS_SECRET_ACCESS_KEY=SECRET,
        KILN_TRACE="aws,http",
        KILN_TEST_SNAPSHOT=snapshot,
        KILN_TEST_SECRET=SSM_SECRET,
        KILN_TEST_PUBKEY=PUBKEY,
    )
    record = os.path.join(tmp, "record.tsv")
    p = subprocess.run([DRIVER, "--record", record, "-v", "e2e"], env=env,
                       capture_output=True, text=True, timeout=300)
    sent = {}
    with open(record) as f:
        for line in f:
            svc, action, _ = line.rstrip("\n").split("\t")
            sent.setdefault(svc, set()).add(action)
    return p, sent


def verify_cleanup(url):
    ec2 = client(url, "ec2")
    res = ec2.describe_instances(Filters=[{"Name": "tag:kiln:role", "Values": ["builder"]}])
    states = [i["State"]["Name"] for r in res["Reservations"] for i in r["Instances"]]
    check(len(states) == 7, "botocore sees kiln's 7 builder instances (saw %d)" % len(states))
    check(all(s in ("shutting-down", "terminated") for s in states),
          "kiln terminated its instances: %s" % states)
    names = [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]]
    check(not any(n.startswith("kiln-") for n in names), "kiln deleted its key pairs: %s" % names)
    lts = ec2.describe_launch_templates()["LaunchTemplates"]
    check(not lts, "kiln deleted its launch template")
    groups = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    check("kiln-builder" not in groups, "kiln deleted its security group")
    elb = client(url, "elbv2")
    check(not elb.describe_load_balancers()["LoadBalancers"], "kiln deleted its load balancers")
    check(not elb.describe_target_groups()["TargetGroups"], "kiln deleted its target groups")
    asg = client(url, "autoscaling")
    check(not asg.describe_auto_scaling_groups()["AutoScalingGroups"],
          "kiln deleted its Auto Scaling groups")


def main():
    if not os.access(DRIVER, os.X_OK):
        print("FAIL: %s is not built" % DRIVER)
        return 1
    url = start_moto()
    snapshot = prepare(url)
    p, sent = run_driver(url, snapshot)
    sys.stdout.write(p.stdout)
    check(p.returncode == 0, "driver exit %d: %s" % (p.returncode, p.stderr[-3000:]))
    check("all ok" in p.stdout, "the driver finished the scenario")
    for svc, ops in OPERATIONS.items():
        missing = sorted(set(ops) - sent.get(svc, set()))
        check(not missing, "%s operations never sent: %s" % (svc, missing))
    for what in ("DescribeLoadBalancers pages (Marker)",
                 "DescribeAutoScalingGroups pages (NextToken)",
                 "InvalidAMIID.NotFound parsed", "LoadBalancerNotFound parsed",
                 "ValidationError parsed", "ParameterNotFound parsed", "GetConsoleOutput decoded"):
        check("ok " + what in p.stdout, "checked: " + what)
    # Full verbosity with tracing: secrets never reach a line.
    check("GetParameter" in p.stderr or "ssm" in p.stderr, "the trace shows the calls")
    for name, secret in (("SSM SecureString value", SSM_SECRET), ("secret key", SECRET)):
        check(secret not in p.stderr and secret not in p.stdout, "%s not logged" % name)
    check("PRIVATE KEY" not in p.stderr, "the private key is not logged")
    check("key material: ***" in p.stderr, "the private key is redacted where it was logged")
    check("parameter value: ***" in p.stderr, "the SecureString is redacted where it was logged")
    if p.returncode == 0:
        verify_cleanup(url)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        rc = main()
    except Exception as e:  # noqa: BLE001 - report and clean up
        print("FAIL:", e)
        rc = 1
    finally:
        stop_moto()
        if os.environ.get("KILN_KEEP_TMP"):
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % len(failures) if failures or rc else "passed")
    sys.exit(rc)
