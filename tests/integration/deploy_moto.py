#!/usr/bin/env python3
"""`kiln deploy`, `status`, `rollback`, `promote`, `gc` and `destroy`
against moto_server (an AWS emulator written by others), started on a free
loopback port by this test and stopped by its pid.

moto's instances have addresses that are not on this machine and moto runs
no health checks (a running target is "healthy"), so this checks the
deploy's API calls and what they leave in the cloud, with smoke checks off
(--no-smoke): nothing connects to an instance or a load balancer. Covered:
- the first deploy makes two security groups (the fleet's admits only the
  load balancer's group on the instance port, nothing on 22), two target
  groups, a load balancer (internal), a production listener on the live
  colour and a test listener on the other, a launch template and a group
  (HealthCheckType ELB, in the colour's target group, tagged kiln:profile,
  kiln:env, kiln:managed, kiln:color, kiln:release, kiln:image,
  kiln:app-commit);
- the same release again is "unchanged"; a new one swaps colours and keeps
  the previous group tagged kiln:retire-at; `kiln status --json` keys;
- `kiln rollback` puts the previous group back with one swap;
- drift: an SSH rule added to the fleet's group is revoked by the next
  deploy, a listener moved to the wrong colour is put back;
- the lease: a live holder's lease makes a deploy exit 1 naming it; an
  expired one is broken (a warning) and the deploy goes on; no lease is
  left after a deploy;
- `kiln promote` refused (exit 2) when the target's bake inputs differ,
  done with --force;
- `kiln gc` retires a previous group past its time (never the live one)
  and removes an expired lease;
- `kiln destroy` without --yes lists and exits 2; with --yes leaves
  nothing (groups, load balancer, target groups, template, security
  groups, lease).

Exits 77 (skipped) when moto or botocore is not importable.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import motoserver  # noqa: E402

try:
    import botocore.session
    import moto  # noqa: F401
except ImportError:
    print("SKIP: moto or botocore is not importable")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("KILN_SOURCE_DIR") or os.path.join(HERE, "..", "..")
BUILD = os.environ.get("KILN_BUILD_DIR") or os.path.join(SOURCE, "build")
KILN = os.environ.get("KILN_BIN") or os.path.join(BUILD, "kiln")

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "moto-deploy-secret-wJalrXUtnFEMI/K7MDENG"
REGION = "eu-west-1"

failures = []
passed = 0
tmp = tempfile.mkdtemp(prefix="kiln-deploy-moto-")
MOTO = motoserver.Moto(tmp)


def check(cond, what):
    global passed
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if cond:
        passed += 1
    else:
        failures.append(what)
    return cond


def kiln(url, *args, timeout=180):
    env = motoserver.client_env(
        tmp, REGION,
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID=AKID,
        AWS_SECRET_ACCESS_KEY=SECRET,
        KILN_STATE_DIR=os.path.join(tmp, "state"),
        KILN_CACHE=os.path.join(tmp, "cache"),
    )
    return subprocess.run([KILN] + list(args), env=env, capture_output=True, text=True,
                          timeout=timeout)


def client(url, service):
    s = botocore.session.get_session()
    return s.create_client(service, region_name=REGION, endpoint_url=url,
                           aws_access_key_id=AKID, aws_secret_access_key=SECRET)


def git(repo, *args):
    subprocess.run(["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com"] +
                   list(args), check=True, capture_output=True)


def make_repo():
    """An app repository with the tags the profile's environments name."""
    repo = os.path.join(tmp, "app")
    os.makedirs(repo)
    git(repo, "init", "-q")
    for tag in ("v1.0.0", "v1.1.0"):
        with open(os.path.join(repo, "VERSION"), "w") as f:
            f.write(tag + "\n")
        git(repo, "add", "VERSION")
        git(repo, "commit", "-q", "-m", tag)
        git(repo, "tag", tag)
    return repo


def make_profile():
    repo = make_repo()
    p = {
        "name": "web",
        "target": "aws",
        "layers": {"app": {"repo": repo, "ref": "v1.0.0"}},
        "bake": {"source_image": {"name": "kiln-test-base*", "owners": ["self"]}},
        "deploy": {
            "port": 80, "test_port": 8080, "instance_port": 8080,
            "health_check": {"path": "/health", "interval_s": 5, "timeout_s": 2},
            "capacity": {"min": 2, "desired": 2, "max": 3},
            "deregistration_delay_s": 5, "termination_wait_s": 600, "timeout_s": 60,
            "smoke": [{"path": "/", "status": 200}],
        },
        "tags": {"team": "web"},
        "environments": {
            "dev": {},
            "prod": {"bake": {"variables": {"FLAVOUR": "prod"}}},
        },
    }
    path = os.path.join(tmp, "web.json")
    with open(path, "w") as f:
        json.dump(p, f, indent=1)
    return path


def make_image(ec2, name, release):
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    inst = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1,
                             InstanceType="t3.small")["Instances"][0]["InstanceId"]
    img = ec2.create_image(InstanceId=inst, Name=name)["ImageId"]
    ec2.create_tags(Resources=[img], Tags=[
        {"Key": "kiln:profile", "Value": "web"}, {"Key": "kiln:app-ref", "Value": release},
        {"Key": "kiln:app-commit", "Value": "c0ffee" + release},
        {"Key": "kiln:bake-key", "Value": "ab" * 32}])
    ec2.terminate_instances(InstanceIds=[inst])
    return img


def tags_of(resource):
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def groups(asg, env="dev"):
    out = []
    for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]:
        t = tags_of(g)
        if t.get("kiln:profile") == "web" and t.get("kiln:env") == env:
            out.append(g)
    return out


def listeners(elb, name="kiln-web-dev"):
    lb = elb.describe_load_balancers(Names=[name])["LoadBalancers"][0]
    tgs = {tg["TargetGroupArn"]: tg["TargetGroupName"]
           for tg in elb.describe_target_groups()["TargetGroups"]}
    out = {}
    for li in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
        out[li["Port"]] = tgs.get(li["DefaultActions"][0].get("TargetGroupArn"), "?")
    return lb, out


def deploy(url, profile, image, release, *extra):
    r = kiln(url, "deploy", profile, "--env", "dev", "--image", image, "--app-ref", release,
             "--no-smoke", "--json", *extra)
    res = None
    if r.returncode == 0:
        try:
            res = json.loads(r.stdout)
        except ValueError:
            pass
    return r, res


def test_first_deploy(url, profile, img1):
    ec2, elb, asg = client(url, "ec2"), client(url, "elbv2"), client(url, "autoscaling")
    r, res = deploy(url, profile, img1, "v1.0.0")
    if not check(r.returncode == 0 and res is not None,
                 "first deploy exits 0 (%d: %s)" % (r.returncode, r.stderr[-3000:])):
        return False
    check(res["action"] == "deployed" and res["release"] == "v1.0.0" and
          res["image_id"] == img1, "result: deployed v1.0.0 of the image")
    check(res["color"] == "green" and res["previous_group"] is None,
          "the first release goes to the test listener's colour (green), no previous")
    lb, li = listeners(elb)
    check(res["url"] == "http://%s/" % lb["DNSName"], "url is the load balancer's DNS name")
    check(li == {80: "kiln-web-dev-green", 8080: "kiln-web-dev-blue"},
          "production forwards to green, the test listener to blue (%s)" % li)
    check(lb["Scheme"] == "internal" and tags_of(elb.describe_tags(
        ResourceArns=[lb["LoadBalancerArn"]])["TagDescriptions"][0]).get("kiln:env") == "dev",
        "load balancer internal, tagged")
    tg = elb.describe_target_groups(Names=["kiln-web-dev-green"])["TargetGroups"][0]
    check(tg["Port"] == 8080 and tg["HealthCheckPath"] == "/health" and
          tg["HealthCheckIntervalSeconds"] == 5, "target group: instance port and health check")
    attrs = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(
        TargetGroupArn=tg["TargetGroupArn"])["Attributes"]}
    check(attrs.get("deregistration_delay.timeout_seconds") == "5", "deregistration delay set")
    sgs = {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    fleet, lbsg = sgs.get("kiln-web-dev-fleet"), sgs.get("kiln-web-dev-lb")
    check(fleet is not None and lbsg is not None, "two security groups")
    if fleet and lbsg:
        perms = fleet["IpPermissions"]
        check(len(perms) == 1 and perms[0]["FromPort"] == 8080 and
              [p["GroupId"] for p in perms[0]["UserIdGroupPairs"]] == [lbsg["GroupId"]] and
              not perms[0].get("IpRanges"),
              "fleet group: only the load balancer's group, on 8080 (%s)" % perms)
        check(not any(p.get("FromPort", 0) <= 22 <= p.get("ToPort", -1) for p in perms),
              "no rule of the fleet's group allows port 22")
        ports = sorted(p["FromPort"] for p in lbsg["IpPermissions"])
        check(ports == [80, 8080], "load balancer group: the listener ports (%s)" % ports)
    gs = groups(asg)
    check(len(gs) == 1, "one group")
    if gs:
        g, t = gs[0], tags_of(gs[0])
        check(g["HealthCheckType"] == "ELB" and g["DesiredCapacity"] == 2 and
              g["TargetGroupARNs"] == [tg["TargetGroupArn"]],
              "group: ELB health, desired 2, in green's target group")
        check(t.get("kiln:color") == "green" and t.get("kiln:release") == "v1.0.0" and
              t.get("kiln:image") == img1 and t.get("kiln:app-commit") == "c0ffeev1.0.0" and
              t.get("kiln:managed") == "true" and t.get("team") == "web",
              "group tags: colour, release, image, commit, managed, the profile's")
        check(g["LaunchTemplate"]["LaunchTemplateName"] == "kiln-web-dev",
              "group launched from the profile's launch template")
    ssm = client(url, "ssm")
    left = ssm.get_parameters_by_path(Path="/kiln/lease", Recursive=True)["Parameters"]
    check(left == [], "no lease is left after the deploy")
    return True


def test_second_release(url, profile, img1, img2):
    elb, asg = client(url, "elbv2"), client(url, "autoscaling")
    r, res = deploy(url, profile, img1, "v1.0.0")
    check(r.returncode == 0 and res and res["action"] == "unchanged",
          "the live release again is unchanged (%s)" % r.stderr[-1500:])
    r, res = deploy(url, profile, img2, "v1.1.0")
    check(r.returncode == 0 and res and res["color"] == "blue" and res["release"] == "v1.1.0",
          "v1.1.0 goes live on blue (%d: %s)" % (r.returncode, r.stderr[-2000:]))
    _, li = listeners(elb)
    check(li == {80: "kiln-web-dev-blue", 8080: "kiln-web-dev-green"}, "listeners swapped")
    gs = {tags_of(g)["kiln:release"]: g for g in groups(asg)}
    check(set(gs) == {"v1.0.0", "v1.1.0"}, "both groups are there")
    if "v1.0.0" in gs:
        t = tags_of(gs["v1.0.0"])
        check("kiln:retire-at" in t and gs["v1.0.0"]["DesiredCapacity"] == 2,
              "the previous group keeps its size and is tagged kiln:retire-at")
    r = kiln(url, "status", profile, "--env", "dev", "--json")
    try:
        st = json.loads(r.stdout)
    except ValueError:
        st = {}
    check(r.returncode == 0 and set(["profile", "env", "url", "test_url", "load_balancer",
                                     "live", "previous", "lease"]) <= set(st),
          "status --json has its keys (%s)" % r.stderr[-800:])
    if st:
        live, prev = st["live"], st["previous"]
        check(live["color"] == "blue" and live["release"] == "v1.1.0" and
              live["image_id"] == img2 and len(live["instances"]) == 2 and
              all(set(i) >= {"id", "state", "health"} for i in live["instances"]),
              "status: live blue v1.1.0 with its instances")
        check(prev is not None and prev["release"] == "v1.0.0" and prev["retire_at"],
              "status: previous v1.0.0 and when it retires")
        check(st["lease"] is None, "status: no deploy in progress")
    r = kiln(url, "status", profile, "--env", "dev")
    check(r.returncode == 0 and "v1.1.0" in r.stdout and "previous" in r.stdout,
          "status for people")


def test_rollback(url, profile, img1):
    elb = client(url, "elbv2")
    r = kiln(url, "rollback", profile, "--env", "dev", "--no-smoke", "--json")
    res = json.loads(r.stdout) if r.returncode == 0 else {}
    check(r.returncode == 0 and res.get("action") == "rolled back" and
          res.get("release") == "v1.0.0" and res.get("color") == "green",
          "rollback puts v1.0.0 (green) back (%s)" % r.stderr[-1500:])
    _, li = listeners(elb)
    check(li == {80: "kiln-web-dev-green", 8080: "kiln-web-dev-blue"},
          "rollback swapped the listeners")
    check("steps" in res and "swap" in res.get("steps", {}), "rollback reports its swap step")


def test_drift(url, profile, img1):
    ec2, elb = client(url, "ec2"), client(url, "elbv2")
    fleet = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["kiln-web-dev-fleet"]}])["SecurityGroups"][0]
    ec2.authorize_security_group_ingress(GroupId=fleet["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    lb, _ = listeners(elb)
    lis = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    test = [li for li in lis if li["Port"] == 8080][0]
    green = elb.describe_target_groups(Names=["kiln-web-dev-green"])["TargetGroups"][0]
    # The test listener on the live colour (as a crash between two swaps leaves it).
    elb.modify_listener(ListenerArn=test["ListenerArn"], DefaultActions=[
        {"Type": "forward", "TargetGroupArn": green["TargetGroupArn"]}])
    r, res = deploy(url, profile, img1, "v1.0.0")
    check(r.returncode == 0 and res and res["action"] == "unchanged",
          "a deploy of the live release corrects drift (%s)" % r.stderr[-1500:])
    fleet = ec2.describe_security_groups(GroupIds=[fleet["GroupId"]])["SecurityGroups"][0]
    check(not any(p.get("FromPort") == 22 for p in fleet["IpPermissions"]),
          "the SSH rule added by hand is revoked")
    _, li = listeners(elb)
    check(li == {80: "kiln-web-dev-green", 8080: "kiln-web-dev-blue"},
          "the test listener is back on the idle colour")


def put_lease(ssm, run, host, expires, env="dev"):
    ssm.put_parameter(Name="/kiln/lease/web/" + env, Type="String", Overwrite=True,
                      Value=json.dumps({"run_id": run, "caller": "arn:aws:iam::1:user/ci",
                                        "host": host, "pid": 1, "started": time.time(),
                                        "expires": expires}))


def test_lease(url, profile, img2):
    ssm = client(url, "ssm")
    put_lease(ssm, "deploy-othermachine1", "ci-runner-7", time.time() + 300)
    r, _ = deploy(url, profile, img2, "v1.1.0")
    check(r.returncode == 1 and "deploy-othermachine1" in r.stderr and "ci-runner-7" in r.stderr,
          "a live holder's lease: exit 1 naming the run and host (%d: %s)" %
          (r.returncode, r.stderr[-600:]))
    r = kiln(url, "status", profile, "--env", "dev", "--json")
    st = json.loads(r.stdout) if r.returncode == 0 else {}
    check(st.get("lease") and st["lease"]["run_id"] == "deploy-othermachine1",
          "status shows the deploy in progress")
    put_lease(ssm, "deploy-deadrun00001", "ci-runner-7", time.time() - 5)
    r, res = deploy(url, profile, img2, "v1.1.0")
    check(r.returncode == 0 and "breaking the deploy lease" in r.stderr and
          "deploy-deadrun00001" in r.stderr,
          "an expired lease is broken with a warning (%d: %s)" % (r.returncode, r.stderr[-800:]))
    left = ssm.get_parameters_by_path(Path="/kiln/lease", Recursive=True)["Parameters"]
    check(left == [], "and the deploy gave its own lease back")


def test_promote(url, profile):
    r = kiln(url, "promote", profile, "--from", "dev", "--to", "prod", "--no-smoke")
    check(r.returncode == 2 and "bake key" in r.stderr and "--force" in r.stderr,
          "promote refused when prod's bake inputs differ (%d: %s)" %
          (r.returncode, r.stderr[-800:]))
    elb = client(url, "elbv2")
    names = [lb["LoadBalancerName"] for lb in elb.describe_load_balancers()["LoadBalancers"]]
    check("kiln-web-prod" not in names, "nothing was made for prod")


def test_promote_force(url, profile):
    r = kiln(url, "promote", profile, "--from", "dev", "--to", "prod", "--force", "--no-smoke",
             "--json")
    res = json.loads(r.stdout) if r.returncode == 0 else {}
    dev = json.loads(kiln(url, "status", profile, "--env", "dev", "--json").stdout)
    check(r.returncode == 0 and res.get("env") == "prod" and
          res.get("image_id") == dev["live"]["image_id"] and
          res.get("release") == dev["live"]["release"],
          "promote --force deploys dev's live image to prod (%d: %s)" %
          (r.returncode, r.stderr[-1500:]))


def test_gc(url, profile):
    asg, ssm = client(url, "autoscaling"), client(url, "ssm")
    prev = [g for g in groups(asg) if "kiln:retire-at" in tags_of(g)]
    live = [g for g in groups(asg) if "kiln:retire-at" not in tags_of(g)]
    check(len(prev) == 1 and len(live) == 1, "one previous and one live group before gc")
    if not prev or not live:
        return
    for g in prev + live:
        # Both past their time: gc must still keep the live one.
        asg.create_or_update_tags(Tags=[{"ResourceId": g["AutoScalingGroupName"],
                                         "ResourceType": "auto-scaling-group",
                                         "Key": "kiln:retire-at",
                                         "Value": "2020-01-01T00:00:00Z", "PropagateAtLaunch": False}])
    put_lease(ssm, "deploy-expiredgc001", "elsewhere", time.time() - 60, env="other")
    r = kiln(url, "gc", "--target", "aws", "--dry-run", "--json")
    items = json.loads(r.stdout) if r.returncode == 0 else []
    check(r.returncode == 0 and {(i["kind"], i["id"]) for i in items} ==
          {("auto-scaling-group", prev[0]["AutoScalingGroupName"]),
           ("lease", "/kiln/lease/web/other")} and not any(i["deleted"] for i in items),
          "gc --dry-run lists the retired group and the expired lease (%s %s)" %
          (r.stdout[-800:], r.stderr[-800:]))
    r = kiln(url, "gc", "--target", "aws", "--json")
    items = json.loads(r.stdout) if r.returncode == 0 else []
    check(r.returncode == 0 and len(items) == 2 and all(i["deleted"] for i in items),
          "gc deletes them (%s)" % r.stderr[-800:])
    names = [g["AutoScalingGroupName"] for g in groups(asg)]
    check(names == [live[0]["AutoScalingGroupName"]], "the live group is kept (%s)" % names)
    left = ssm.get_parameters_by_path(Path="/kiln/lease", Recursive=True)["Parameters"]
    check(left == [], "the expired lease is gone")
    asg.delete_tags(Tags=[{"ResourceId": live[0]["AutoScalingGroupName"],
                           "ResourceType": "auto-scaling-group", "Key": "kiln:retire-at"}])


def test_destroy(url, profile):
    ec2, elb, asg = client(url, "ec2"), client(url, "elbv2"), client(url, "autoscaling")
    r = kiln(url, "destroy", profile, "--env", "dev")
    check(r.returncode == 2 and "would remove" in r.stdout and "--yes" in r.stderr,
          "destroy without --yes lists and exits 2 (%d)" % r.returncode)
    check(len(groups(asg)) >= 1, "and removes nothing")
    for env in ("dev", "prod"):
        r = kiln(url, "destroy", profile, "--env", env, "--yes", "--json", timeout=300)
        items = json.loads(r.stdout) if r.returncode == 0 else []
        check(r.returncode == 0 and items and all(i["deleted"] for i in items),
              "destroy --env %s --yes (%d: %s)" % (env, r.returncode, r.stderr[-1500:]))
    check(groups(asg, "dev") == [] and groups(asg, "prod") == [], "no group is left")
    lbs = [lb["LoadBalancerName"] for lb in elb.describe_load_balancers()["LoadBalancers"]]
    check(lbs == [], "no load balancer is left (%s)" % lbs)
    tgs = [tg["TargetGroupName"] for tg in elb.describe_target_groups()["TargetGroups"]]
    check(tgs == [], "no target group is left (%s)" % tgs)
    lts = [t["LaunchTemplateName"] for t in ec2.describe_launch_templates()["LaunchTemplates"]]
    check(lts == [], "no launch template is left (%s)" % lts)
    sgs = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]
           if g["GroupName"].startswith("kiln-")]
    check(sgs == [], "no security group is left (%s)" % sgs)
    left = client(url, "ssm").get_parameters_by_path(Path="/kiln", Recursive=True)["Parameters"]
    check(left == [], "no lease is left")


def test_bad_input(url, profile):
    r = kiln(url, "deploy", profile, "--image", "not-an-ami")
    check(r.returncode == 2, "a malformed --image is bad input (exit 2)")
    r = kiln(url, "deploy", profile, "--env", "staging", "--image", "ami-12345678")
    check(r.returncode == 2 and "unknown environment" in r.stderr, "an unknown env: exit 2")
    r = kiln(url, "deploy", profile, "--env", "dev", "--image", "ami-00000000", "--no-smoke")
    check(r.returncode == 1 and "ami-00000000" in r.stderr, "a missing image: exit 1")


def main():
    url = MOTO.start()
    try:
        ec2 = client(url, "ec2")
        profile = make_profile()
        make_image(ec2, "kiln-test-base-1", "base")
        img1 = make_image(ec2, "kiln/web/v1.0.0/aaaaaaaaaaaa", "v1.0.0")
        img2 = make_image(ec2, "kiln/web/v1.1.0/bbbbbbbbbbbb", "v1.1.0")
        test_bad_input(url, profile)
        if test_first_deploy(url, profile, img1):
            test_second_release(url, profile, img1, img2)
            test_rollback(url, profile, img1)
            test_drift(url, profile, img1)
            test_lease(url, profile, img2)
            test_promote(url, profile)
            test_promote_force(url, profile)
            test_gc(url, profile)
            test_destroy(url, profile)
    finally:
        MOTO.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, len(failures)))
    for f in failures:
        print("failed: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
