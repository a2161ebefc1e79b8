#!/usr/bin/env python3
"""Conformance of the local cloud's Auto Scaling with the real AWS CLI v2 (the
first `aws` on PATH whose --version says aws-cli/2), with --endpoint-url:
every operation of issue 12 driven through the CLI, its JSON output checked,
error codes read from the CLI's own "An error occurred (CODE)", the CLI's
pagination (--page-size, --max-items, NextToken) followed. AWS CLI v2 has no
`aws autoscaling wait`: its equivalent, a bounded poll of
describe-auto-scaling-groups with --query, is shown and checked here.

Then kiln's own client (aws/autoscaling.c, through tests/fixtures/lc_asg_call)
makes every call it has against the same cloud.

Exit 1 on any failure, 77 to skip (not root, no CLI v2, no botocore).
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
try:
    import lctest
except ImportError:
    print("skipped: no botocore")
    sys.exit(77)

PORT = 4627
CIDR = "10.214.17.0/24"
R = lctest.Results()


def find_cli():
    for d in os.environ.get("PATH", "").split(os.pathsep):
        path = os.path.join(d, "aws")
        if os.access(path, os.X_OK):
            v = subprocess.run([path, "--version"], capture_output=True, text=True)
            if (v.stdout + v.stderr).startswith("aws-cli/2"):
                return path
    return None


class Cli:
    def __init__(self, path, endpoint, tmp):
        self.path, self.endpoint = path, endpoint
        self.env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                        AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_MAX_ATTEMPTS="1",
                        AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=os.path.join(tmp, "aws-config"),
                        AWS_SHARED_CREDENTIALS_FILE=os.path.join(tmp, "aws-credentials"))
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_DEFAULT_OUTPUT"):
            self.env.pop(k, None)
        open(self.env["AWS_CONFIG_FILE"], "w").close()

    def run(self, service, op, *args):
        p = subprocess.run([self.path, service, op, "--endpoint-url", self.endpoint, "--output", "json"]
                           + list(args), capture_output=True, text=True, env=self.env, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def __call__(self, name, op, *args, service="autoscaling"):
        """Run `aws SERVICE OP ARGS`; its JSON (or {}), or None with a failure recorded."""
        rc, out, err = self.run(service, op, *args)
        if rc != 0:
            R.bad(name, "aws %s %s: %s" % (service, op, err.strip()[:500]))
            return None
        R.ok(name)
        return json.loads(out) if out.strip() else {}

    def err(self, name, code, op, *args):
        rc, out, err = self.run("autoscaling", op, *args)
        R.check(name, rc != 0 and "An error occurred (%s)" % code in err, (rc, err.strip()[:300]))


def wait_group(cli, name, query, want, seconds=120):
    """The polling equivalent of a waiter: describe-auto-scaling-groups --query until it says `want`."""
    t0 = time.time()
    got = None
    while time.time() - t0 < seconds:
        rc, out, _ = cli.run("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", name,
                             "--query", query)
        got = json.loads(out) if rc == 0 and out.strip() else None
        if got == want:
            return time.time() - t0
        time.sleep(1)
    R.bad("wait for %s: %s == %s" % (name, query, want), "last: %s" % got)
    return None


def setup(cli, image):
    subnets = [s["SubnetId"] for s in cli("describe-subnets", "describe-subnets", service="ec2")["Subnets"]]
    vpc = cli("describe-vpcs", "describe-vpcs", service="ec2")["Vpcs"][0]["VpcId"]
    lt = cli("create-launch-template", "create-launch-template", "--launch-template-name", "cli",
             "--launch-template-data", json.dumps({"ImageId": image, "InstanceType": "t3.micro"}),
             service="ec2")["LaunchTemplate"]
    tgs = [cli("create-target-group", "create-target-group", "--name", "cli%d" % i, "--protocol", "HTTP",
               "--port", "8080", "--vpc-id", vpc, service="elbv2")["TargetGroups"][0]["TargetGroupArn"]
           for i in range(2)]
    return subnets, lt, tgs


def group_ops(cli, subnets, lt, tgs):
    cli("create-auto-scaling-group", "create-auto-scaling-group", "--auto-scaling-group-name", "cli",
        "--launch-template", "LaunchTemplateName=cli,Version=$Latest", "--min-size", "1", "--max-size", "4",
        "--desired-capacity", "2", "--vpc-zone-identifier", ",".join(subnets), "--target-group-arns", tgs[0],
        "--health-check-type", "ELB", "--health-check-grace-period", "30", "--default-instance-warmup", "10",
        "--tags", "Key=team,Value=cli,PropagateAtLaunch=true")
    took = wait_group(cli, "cli", "AutoScalingGroups[0].Instances[?LifecycleState=='InService'] | length(@)", 2)
    R.check("waiting the CLI way (poll describe-auto-scaling-groups --query): 2 InService (%.0f s)" % (took or -1),
            took is not None)
    g = cli("describe-auto-scaling-groups", "describe-auto-scaling-groups", "--auto-scaling-group-names", "cli")
    g = g["AutoScalingGroups"][0] if g else {}
    R.check("the group as described", g.get("LaunchTemplate", {}).get("LaunchTemplateName") == "cli" and
            g.get("HealthCheckType") == "ELB" and g.get("HealthCheckGracePeriod") == 30 and
            g.get("DefaultInstanceWarmup") == 10 and g.get("TargetGroupARNs") == [tgs[0]] and
            g.get("Tags", [{}])[0].get("PropagateAtLaunch") is True and len(g.get("AvailabilityZones", [])) == 3, g)
    cli("update-auto-scaling-group", "update-auto-scaling-group", "--auto-scaling-group-name", "cli",
        "--max-size", "5", "--health-check-grace-period", "0", "--termination-policies", "OldestInstance")
    cli("set-desired-capacity", "set-desired-capacity", "--auto-scaling-group-name", "cli", "--desired-capacity", "3")
    took = wait_group(cli, "cli", "AutoScalingGroups[0].Instances[?LifecycleState=='InService'] | length(@)", 3)
    R.check("update + set-desired-capacity 3: 3 InService", took is not None)
    cli.err("set-desired-capacity --honor-cooldown in the cooldown: ScalingActivityInProgress",
            "ScalingActivityInProgress", "set-desired-capacity", "--auto-scaling-group-name", "cli",
            "--desired-capacity", "2", "--honor-cooldown")
    cli.err("set-desired-capacity above max: ValidationError", "ValidationError", "set-desired-capacity",
            "--auto-scaling-group-name", "cli", "--desired-capacity", "9")
    cli.err("create again: AlreadyExists", "AlreadyExists", "create-auto-scaling-group",
            "--auto-scaling-group-name", "cli", "--launch-template", "LaunchTemplateName=cli", "--min-size", "0",
            "--max-size", "1", "--vpc-zone-identifier", subnets[0])
    cli.err("delete with instances: ResourceInUse", "ResourceInUse", "delete-auto-scaling-group",
            "--auto-scaling-group-name", "cli")


def instance_ops(cli, tgs):
    ids = cli("describe-auto-scaling-instances", "describe-auto-scaling-instances")
    ids = sorted(i["InstanceId"] for i in (ids or {}).get("AutoScalingInstances", []))
    R.check("describe-auto-scaling-instances: 3", len(ids) == 3, ids)
    pages = cli("describe-auto-scaling-instances (--page-size 1 --max-items 2)", "describe-auto-scaling-instances",
                "--page-size", "1", "--max-items", "2")
    R.check("the CLI pages: 2 items and a NextToken", pages and len(pages["AutoScalingInstances"]) == 2
            and pages.get("NextToken"), pages)
    cli("set-instance-health", "set-instance-health", "--instance-id", ids[0], "--health-status", "Unhealthy",
        "--no-should-respect-grace-period")
    a = cli("terminate-instance-in-auto-scaling-group", "terminate-instance-in-auto-scaling-group",
            "--instance-id", ids[1], "--should-decrement-desired-capacity")
    R.check("... returns its activity", a and a["Activity"]["Description"] == "Terminating EC2 instance: " + ids[1], a)
    took = wait_group(cli, "cli", "AutoScalingGroups[0].[DesiredCapacity, length(Instances[?LifecycleState=="
                      "'InService' && HealthStatus=='Healthy'])]", [2, 2])
    R.check("the unhealthy one replaced, the terminated one not: 2 healthy InService", took is not None)
    acts = cli("describe-scaling-activities", "describe-scaling-activities", "--auto-scaling-group-name", "cli")
    acts = (acts or {}).get("Activities", [])
    R.check("activities: launches and terminations, Successful, with causes",
            len(acts) >= 6 and all(a["StatusCode"] == "Successful" and a["Cause"].startswith("At ") for a in acts),
            [(a["Description"], a["StatusCode"]) for a in acts])
    cli("attach-load-balancer-target-groups", "attach-load-balancer-target-groups", "--auto-scaling-group-name",
        "cli", "--target-group-arns", tgs[1])
    got = cli("describe-load-balancer-target-groups", "describe-load-balancer-target-groups",
              "--auto-scaling-group-name", "cli")
    R.check("both target groups attached", got and sorted(t["LoadBalancerTargetGroupARN"] for t in
                                                          got["LoadBalancerTargetGroups"]) == sorted(tgs), got)
    cli("detach-load-balancer-target-groups", "detach-load-balancer-target-groups", "--auto-scaling-group-name",
        "cli", "--target-group-arns", tgs[1])
    cli("attach-traffic-sources", "attach-traffic-sources", "--auto-scaling-group-name", "cli",
        "--traffic-sources", "Identifier=%s" % tgs[1])
    # Debian's CLI 2.9 knows TrafficSources without their Type, and asks for one when describing
    got = cli("describe-traffic-sources", "describe-traffic-sources", "--auto-scaling-group-name", "cli",
              "--traffic-source-type", "elbv2")
    R.check("traffic sources: both", got and len(got["TrafficSources"]) == 2, got)
    cli("detach-traffic-sources", "detach-traffic-sources", "--auto-scaling-group-name", "cli",
        "--traffic-sources", "Identifier=%s" % tgs[1])


def other_ops(cli):
    cli("suspend-processes", "suspend-processes", "--auto-scaling-group-name", "cli", "--scaling-processes",
        "Launch", "Terminate")
    cli("set-desired-capacity (Launch suspended)", "set-desired-capacity", "--auto-scaling-group-name", "cli",
        "--desired-capacity", "3")
    time.sleep(2)
    g = cli("describe-auto-scaling-groups", "describe-auto-scaling-groups", "--auto-scaling-group-names", "cli")
    R.check("suspended: Launch and Terminate listed, no launch", g and sorted(
        p["ProcessName"] for p in g["AutoScalingGroups"][0]["SuspendedProcesses"]) == ["Launch", "Terminate"]
        and len(g["AutoScalingGroups"][0]["Instances"]) == 2, g)
    cli("resume-processes", "resume-processes", "--auto-scaling-group-name", "cli")
    R.check("resumed: the third launched", wait_group(
        cli, "cli", "AutoScalingGroups[0].Instances[?LifecycleState=='InService'] | length(@)", 3) is not None)
    types = cli("describe-scaling-process-types", "describe-scaling-process-types")
    R.check("process types include the nine", types and len(types["Processes"]) == 9, types)
    cli("create-or-update-tags", "create-or-update-tags", "--tags",
        "ResourceId=cli,ResourceType=auto-scaling-group,Key=env,Value=test,PropagateAtLaunch=false",
        "ResourceId=cli,ResourceType=auto-scaling-group,Key=team,Value=cli2,PropagateAtLaunch=true")
    tags = cli("describe-tags", "describe-tags", "--filters", "Name=auto-scaling-group,Values=cli")
    R.check("describe-tags: env and team", tags and {t["Key"]: t["Value"] for t in tags["Tags"]} ==
            {"env": "test", "team": "cli2"}, tags)
    cli("delete-tags", "delete-tags", "--tags", "ResourceId=cli,ResourceType=auto-scaling-group,Key=env")
    tags = cli("describe-tags (after delete-tags)", "describe-tags", "--filters", "Name=key,Values=env")
    R.check("env gone", tags is not None and tags["Tags"] == [], tags)
    cli("put-lifecycle-hook", "put-lifecycle-hook", "--lifecycle-hook-name", "gate", "--auto-scaling-group-name",
        "cli", "--lifecycle-transition", "autoscaling:EC2_INSTANCE_LAUNCHING", "--heartbeat-timeout", "60")
    hooks = cli("describe-lifecycle-hooks", "describe-lifecycle-hooks", "--auto-scaling-group-name", "cli")
    R.check("the hook described", hooks and hooks["LifecycleHooks"][0]["HeartbeatTimeout"] == 60 and
            hooks["LifecycleHooks"][0]["DefaultResult"] == "ABANDON", hooks)
    types = cli("describe-lifecycle-hook-types", "describe-lifecycle-hook-types")
    R.check("hook types", types and len(types["LifecycleHookTypes"]) == 2, types)
    cli("set-desired-capacity 4 (hooked)", "set-desired-capacity", "--auto-scaling-group-name", "cli",
        "--desired-capacity", "4")
    took = wait_group(cli, "cli", "AutoScalingGroups[0].Instances[?LifecycleState=='Pending:Wait'] | length(@)", 1)
    rc, out, _ = cli.run("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", "cli",
                         "--query", "AutoScalingGroups[0].Instances[?LifecycleState=='Pending:Wait'].InstanceId")
    waiting = json.loads(out) if rc == 0 else []
    if took is not None and waiting:
        cli("record-lifecycle-action-heartbeat", "record-lifecycle-action-heartbeat", "--lifecycle-hook-name",
            "gate", "--auto-scaling-group-name", "cli", "--instance-id", waiting[0])
        cli("complete-lifecycle-action", "complete-lifecycle-action", "--lifecycle-hook-name", "gate",
            "--auto-scaling-group-name", "cli", "--lifecycle-action-result", "CONTINUE", "--instance-id", waiting[0])
        R.check("CONTINUE: 4 InService", wait_group(
            cli, "cli", "AutoScalingGroups[0].Instances[?LifecycleState=='InService'] | length(@)", 4) is not None)
    cli("delete-lifecycle-hook", "delete-lifecycle-hook", "--lifecycle-hook-name", "gate",
        "--auto-scaling-group-name", "cli")
    cli("delete-auto-scaling-group --force-delete", "delete-auto-scaling-group", "--auto-scaling-group-name", "cli",
        "--force-delete")
    t0 = time.time()
    while time.time() - t0 < 60:
        rc, out, _ = cli.run("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", "cli")
        if rc == 0 and json.loads(out)["AutoScalingGroups"] == []:
            break
        time.sleep(1)
    R.check("the polling equivalent of group-not-exists: gone (%.0f s)" % (time.time() - t0), time.time() - t0 < 60)


def kiln_client(cloud, subnets, lt, tgs):
    driver = os.path.join(os.environ.get("KILN_BUILD_DIR", os.path.dirname(cloud.kiln)), "lc_asg_call")
    if not os.access(driver, os.X_OK):
        R.bad("kiln's aws/autoscaling.c round trip", "no driver at " + driver)
        return
    env = dict(os.environ, AWS_ENDPOINT_URL=cloud.endpoint, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_REGION="us-east-1")
    env.pop("AWS_PROFILE", None)
    p = subprocess.run([driver, lt["LaunchTemplateId"], ",".join(subnets), tgs[0], tgs[1]], capture_output=True,
                       text=True, env=env, timeout=300)
    for line in p.stdout.splitlines():
        print("     kiln client: " + line)
    R.check("kiln's aws/autoscaling.c round-trips every call it has", p.returncode == 0 and "all ok" in p.stdout,
            p.stdout[-600:] + p.stderr[-600:])


def main(cloud, cli):
    if not cloud.up():
        return
    image = cloud.base_image()
    if image is None:
        return
    subnets, lt, tgs = setup(cli, image)
    group_ops(cli, subnets, lt, tgs)
    instance_ops(cli, tgs)
    other_ops(cli)
    kiln_client(cloud, subnets, lt, tgs)


def run():
    path = find_cli()
    if path is None:
        print("%s: no AWS CLI v2 on PATH" % ("FAIL" if os.environ.get("CI") else "skipped"))
        return 1 if os.environ.get("CI") else 77
    return lctest.run_test(R, PORT, CIDR, lambda cloud: main(cloud, Cli(path, cloud.endpoint, cloud.tmp)))


if __name__ == "__main__":
    sys.exit(run())
