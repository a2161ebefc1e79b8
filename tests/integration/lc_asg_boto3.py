#!/usr/bin/env python3
"""Auto Scaling API of the local cloud through boto3's own client (issue 12):
error codes and shapes, paging with NextToken/MaxRecords (boto3's paginators),
filters, tags, lifecycle hooks gating launches and terminations, suspended
processes, SetInstanceHealth, TerminateInstanceInAutoScalingGroup, target
groups attached and detached, DeleteAutoScalingGroup refused while instances
remain. Real instances (no load balancer traffic: lc_asg_traffic does that).

Exit 1 on any failure, 77 to skip (not root, no botocore).
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
try:
    from botocore.exceptions import ClientError, ParamValidationError  # noqa: F401
    import lctest
except ImportError:
    print("skipped: no botocore")
    sys.exit(77)

PORT = 4627
CIDR = "10.214.17.0/24"
R = lctest.Results()


def expect_error(name, code, fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        err = e.response["Error"]
        return R.check(name, err["Code"] == code and err.get("Message") and
                       e.response["ResponseMetadata"]["HTTPStatusCode"] == 400,
                       "got %s (%s), want %s" % (err["Code"], err.get("Message"), code))
    return R.check(name, False, "succeeded, want " + code)


def wait(what, fn, seconds=60):
    t0 = time.time()
    while time.time() - t0 < seconds:
        v = fn()
        if v:
            return v
        time.sleep(0.25)
    R.bad(what, "not within %d s" % seconds)
    return None


def states(asg, name):
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return {i["InstanceId"]: i["LifecycleState"] for i in g[0]["Instances"]} if g else None


def base(cloud, image):
    ec2 = cloud.client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]]
    lt = ec2.create_launch_template(LaunchTemplateName="api", LaunchTemplateData={
        "ImageId": image, "InstanceType": "t3.micro"})["LaunchTemplate"]
    return ec2, subnets, lt


def error_checks(asg, elb, subnets, lt):
    spec = dict(LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"]}, MinSize=0, MaxSize=2,
                VPCZoneIdentifier=subnets[0])
    asg.create_auto_scaling_group(AutoScalingGroupName="e1", **spec)
    expect_error("a second create of the same name: AlreadyExists", "AlreadyExists",
                 asg.create_auto_scaling_group, AutoScalingGroupName="e1", **spec)
    expect_error("max below min: ValidationError", "ValidationError", asg.create_auto_scaling_group,
                 AutoScalingGroupName="e2", **dict(spec, MinSize=3))
    expect_error("desired above max: ValidationError", "ValidationError", asg.create_auto_scaling_group,
                 AutoScalingGroupName="e2", DesiredCapacity=5, **spec)
    expect_error("no launch template: ValidationError", "ValidationError", asg.create_auto_scaling_group,
                 AutoScalingGroupName="e2", MinSize=0, MaxSize=1, VPCZoneIdentifier=subnets[0])
    expect_error("a launch template that does not exist: ValidationError", "ValidationError",
                 asg.create_auto_scaling_group, AutoScalingGroupName="e2", MinSize=0, MaxSize=1,
                 LaunchTemplate={"LaunchTemplateId": "lt-0123456789abcdef0"}, VPCZoneIdentifier=subnets[0])
    expect_error("a version the template lacks: ValidationError", "ValidationError",
                 asg.create_auto_scaling_group, AutoScalingGroupName="e2", MinSize=0, MaxSize=1,
                 LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"], "Version": "7"},
                 VPCZoneIdentifier=subnets[0])
    expect_error("an unknown subnet: ValidationError", "ValidationError", asg.create_auto_scaling_group,
                 AutoScalingGroupName="e2", **dict(spec, VPCZoneIdentifier="subnet-0000000000000000a"))
    expect_error("no subnet nor zone: ValidationError", "ValidationError", asg.create_auto_scaling_group,
                 AutoScalingGroupName="e2", LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"]},
                 MinSize=0, MaxSize=1)
    expect_error("an unknown target group: ValidationError", "ValidationError", asg.create_auto_scaling_group,
                 AutoScalingGroupName="e2", TargetGroupARNs=[
                     "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/x/0123456789abcdef"], **spec)
    expect_error("HealthCheckType other than EC2/ELB: ValidationError", "ValidationError",
                 asg.create_auto_scaling_group, AutoScalingGroupName="e2", HealthCheckType="HTTP", **spec)
    expect_error("a reserved tag key: ValidationError", "ValidationError", asg.create_auto_scaling_group,
                 AutoScalingGroupName="e2", Tags=[{"Key": "aws:x", "Value": "y"}], **spec)
    expect_error("51 tags: LimitExceeded", "LimitExceeded", asg.create_auto_scaling_group,
                 AutoScalingGroupName="e2", Tags=[{"Key": "k%d" % i, "Value": "v"} for i in range(51)], **spec)
    expect_error("update of a group that does not exist: ValidationError", "ValidationError",
                 asg.update_auto_scaling_group, AutoScalingGroupName="nope", MaxSize=3)
    expect_error("SetDesiredCapacity above max: ValidationError", "ValidationError",
                 asg.set_desired_capacity, AutoScalingGroupName="e1", DesiredCapacity=9)
    expect_error("suspend an unknown process: ValidationError", "ValidationError",
                 asg.suspend_processes, AutoScalingGroupName="e1", ScalingProcesses=["Nope"])
    expect_error("DescribeTags with an unknown filter: ValidationError", "ValidationError",
                 asg.describe_tags, Filters=[{"Name": "colour", "Values": ["x"]}])
    expect_error("a NextToken from nowhere: InvalidNextToken", "InvalidNextToken",
                 asg.describe_auto_scaling_groups, NextToken="garbage")
    expect_error("MaxRecords 101: ValidationError", "ValidationError",
                 asg.describe_auto_scaling_groups, MaxRecords=101)
    expect_error("SetInstanceHealth of an instance no group has: ValidationError", "ValidationError",
                 asg.set_instance_health, InstanceId="i-0123456789abcdef0", HealthStatus="Unhealthy")
    expect_error("CompleteLifecycleAction without a hook: ValidationError", "ValidationError",
                 asg.complete_lifecycle_action, LifecycleHookName="h", AutoScalingGroupName="e1",
                 LifecycleActionResult="CONTINUE", InstanceId="i-0123456789abcdef0")
    expect_error("a hook with an invalid transition: ValidationError", "ValidationError",
                 asg.put_lifecycle_hook, LifecycleHookName="h", AutoScalingGroupName="e1",
                 LifecycleTransition="autoscaling:EC2_INSTANCE_EXPLODING")
    asg.delete_auto_scaling_group(AutoScalingGroupName="e1")
    R.check("a group with no instance deletes without ForceDelete",
            asg.describe_auto_scaling_groups(AutoScalingGroupNames=["e1"])["AutoScalingGroups"] == [])


def paging_checks(asg, subnets, lt):
    for i in range(7):
        asg.create_auto_scaling_group(AutoScalingGroupName="p%d" % i, MinSize=0, MaxSize=1,
                                      LaunchTemplate={"LaunchTemplateName": "api", "Version": "$Default"},
                                      VPCZoneIdentifier=subnets[i % len(subnets)],
                                      Tags=[{"Key": "parity", "Value": "odd" if i % 2 else "even",
                                             "PropagateAtLaunch": False}])
    pages = list(asg.get_paginator("describe_auto_scaling_groups").paginate(
        AutoScalingGroupNames=["p%d" % i for i in range(7)], PaginationConfig={"PageSize": 3}))
    names = [g["AutoScalingGroupName"] for p in pages for g in p["AutoScalingGroups"]]
    R.check("DescribeAutoScalingGroups pages of 3 (NextToken): 3 pages, 7 groups in order",
            len(pages) == 3 and names == ["p%d" % i for i in range(7)], names)
    odd = asg.describe_auto_scaling_groups(Filters=[{"Name": "tag:parity", "Values": ["odd"]}])
    R.check("filter tag:parity=odd", sorted(g["AutoScalingGroupName"] for g in odd["AutoScalingGroups"])
            == ["p1", "p3", "p5"], odd["AutoScalingGroups"])
    tags = list(asg.get_paginator("describe_tags").paginate(
        Filters=[{"Name": "key", "Values": ["parity"]}], PaginationConfig={"PageSize": 2}))
    R.check("DescribeTags pages of 2: 7 tags in 4 pages", len(tags) == 4 and
            sum(len(p["Tags"]) for p in tags) == 7, tags)
    even = asg.describe_tags(Filters=[{"Name": "value", "Values": ["even"]},
                                      {"Name": "auto-scaling-group", "Values": ["p0", "p1", "p2"]}])["Tags"]
    R.check("DescribeTags filters AND across names", sorted(t["ResourceId"] for t in even) == ["p0", "p2"], even)
    for i in range(7):
        asg.delete_auto_scaling_group(AutoScalingGroupName="p%d" % i)


def lifecycle_checks(ec2, asg, subnets, lt):
    asg.create_auto_scaling_group(
        AutoScalingGroupName="hooked", LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"]},
        MinSize=0, MaxSize=3, DesiredCapacity=0, VPCZoneIdentifier=",".join(subnets),
        LifecycleHookSpecificationList=[{"LifecycleHookName": "gate",
                                         "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
                                         "HeartbeatTimeout": 300, "DefaultResult": "ABANDON"}])
    asg.put_lifecycle_hook(LifecycleHookName="bye", AutoScalingGroupName="hooked",
                           LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING", HeartbeatTimeout=30,
                           DefaultResult="CONTINUE")
    hooks = {h["LifecycleHookName"]: h for h in
             asg.describe_lifecycle_hooks(AutoScalingGroupName="hooked")["LifecycleHooks"]}
    R.check("DescribeLifecycleHooks: both hooks, defaults and global timeout",
            set(hooks) == {"gate", "bye"} and hooks["bye"]["HeartbeatTimeout"] == 30 and
            hooks["gate"]["GlobalTimeout"] == 30000 and hooks["bye"]["DefaultResult"] == "CONTINUE", hooks)
    asg.set_desired_capacity(AutoScalingGroupName="hooked", DesiredCapacity=1)
    st = wait("a launching hook holds the instance in Pending:Wait",
              lambda: [i for i, s in states(asg, "hooked").items() if s == "Pending:Wait"])
    if not st:
        return
    iid = st[0]
    time.sleep(1.5)
    R.check("it stays in Pending:Wait until the action completes", states(asg, "hooked")[iid] == "Pending:Wait")
    act = asg.describe_scaling_activities(AutoScalingGroupName="hooked")["Activities"][0]
    R.check("its activity is MidLifecycleAction", act["StatusCode"] == "MidLifecycleAction", act)
    asg.record_lifecycle_action_heartbeat(LifecycleHookName="gate", AutoScalingGroupName="hooked", InstanceId=iid)
    asg.complete_lifecycle_action(LifecycleHookName="gate", AutoScalingGroupName="hooked",
                                  LifecycleActionResult="CONTINUE", InstanceId=iid)
    R.check("CONTINUE: InService", wait("InService", lambda: states(asg, "hooked").get(iid) == "InService"))
    expect_error("completing it again: ValidationError (no active action)", "ValidationError",
                 asg.complete_lifecycle_action, LifecycleHookName="gate", AutoScalingGroupName="hooked",
                 LifecycleActionResult="CONTINUE", InstanceId=iid)
    expect_error("deleting a group with instances, without ForceDelete: ResourceInUse", "ResourceInUse",
                 asg.delete_auto_scaling_group, AutoScalingGroupName="hooked")
    asg.set_desired_capacity(AutoScalingGroupName="hooked", DesiredCapacity=0)
    R.check("a terminating hook holds it in Terminating:Wait",
            wait("Terminating:Wait", lambda: states(asg, "hooked").get(iid) == "Terminating:Wait"))
    R.check("its machine still runs meanwhile", ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]
            ["Instances"][0]["State"]["Name"] == "running")
    asg.complete_lifecycle_action(LifecycleHookName="bye", AutoScalingGroupName="hooked",
                                  LifecycleActionResult="CONTINUE", InstanceId=iid)
    R.check("then it is terminated and leaves the group", wait("gone", lambda: states(asg, "hooked") == {}))
    # ABANDON on launch: the instance is terminated and the launch cancelled
    asg.set_desired_capacity(AutoScalingGroupName="hooked", DesiredCapacity=1)
    st = wait("Pending:Wait again", lambda: [i for i, s in states(asg, "hooked").items() if s == "Pending:Wait"])
    if st:
        asg.complete_lifecycle_action(LifecycleHookName="gate", AutoScalingGroupName="hooked",
                                      LifecycleActionResult="ABANDON", InstanceId=st[0])
        R.check("ABANDON: that instance leaves and a new one is launched",
                wait("replaced", lambda: st[0] not in states(asg, "hooked") and len(states(asg, "hooked")) == 1))
    asg.delete_lifecycle_hook(LifecycleHookName="gate", AutoScalingGroupName="hooked")
    asg.delete_auto_scaling_group(AutoScalingGroupName="hooked", ForceDelete=True)
    wait("hooked deleted", lambda: states(asg, "hooked") is None)


def process_checks(ec2, asg, subnets, lt):
    asg.create_auto_scaling_group(AutoScalingGroupName="proc", MinSize=1, MaxSize=4, DesiredCapacity=2,
                                  LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"]},
                                  VPCZoneIdentifier=",".join(subnets), DefaultCooldown=600)
    R.check("2 InService", wait("2 InService", lambda: list(states(asg, "proc").values()) == ["InService"] * 2))
    asg.suspend_processes(AutoScalingGroupName="proc", ScalingProcesses=["Launch"])
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["proc"])["AutoScalingGroups"][0]
    R.check("SuspendedProcesses shows Launch", [p["ProcessName"] for p in g["SuspendedProcesses"]] == ["Launch"], g)
    asg.set_desired_capacity(AutoScalingGroupName="proc", DesiredCapacity=3)
    time.sleep(1.5)
    R.check("Launch suspended: no launch", len(states(asg, "proc")) == 2)
    asg.resume_processes(AutoScalingGroupName="proc")
    R.check("resumed: the third comes", wait("3", lambda: list(states(asg, "proc").values()) == ["InService"] * 3))
    expect_error("HonorCooldown right after an activity: ScalingActivityInProgress", "ScalingActivityInProgress",
                 asg.set_desired_capacity, AutoScalingGroupName="proc", DesiredCapacity=2, HonorCooldown=True)
    ids = sorted(states(asg, "proc"))
    a = asg.terminate_instance_in_auto_scaling_group(InstanceId=ids[0], ShouldDecrementDesiredCapacity=True)
    R.check("TerminateInstanceInAutoScalingGroup returns its activity",
            a["Activity"]["Description"] == "Terminating EC2 instance: " + ids[0] and
            "shrinking the capacity from 3 to 2" in a["Activity"]["Cause"], a)
    R.check("... desired 2, and it leaves", wait("2 left", lambda: ids[0] not in states(asg, "proc")))
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["proc"])["AutoScalingGroups"][0]
    R.check("desired is 2 and no replacement came", g["DesiredCapacity"] == 2 and len(g["Instances"]) == 2, g)
    asg.set_instance_health(InstanceId=ids[1], HealthStatus="Unhealthy", ShouldRespectGracePeriod=False)
    R.check("SetInstanceHealth Unhealthy: replaced",
            wait("replaced", lambda: ids[1] not in states(asg, "proc") and
                 list(states(asg, "proc").values()) == ["InService"] * 2))
    ec2.stop_instances(InstanceIds=[ids[2]])
    R.check("an instance stopped through EC2 is replaced (EC2 health)",
            wait("replaced", lambda: ids[2] not in states(asg, "proc") and
                 list(states(asg, "proc").values()) == ["InService"] * 2))
    inst = asg.describe_auto_scaling_instances(InstanceIds=list(states(asg, "proc")))["AutoScalingInstances"]
    R.check("DescribeAutoScalingInstances: group, zone, health, template",
            len(inst) == 2 and all(i["AutoScalingGroupName"] == "proc" and i["HealthStatus"] == "Healthy" and
                                   i["LaunchTemplate"]["LaunchTemplateId"] == lt["LaunchTemplateId"] for i in inst), inst)
    acts = list(asg.get_paginator("describe_scaling_activities").paginate(
        AutoScalingGroupName="proc", PaginationConfig={"PageSize": 2}))
    flat = [a for p in acts for a in p["Activities"]]
    R.check("DescribeScalingActivities pages, newest first",
            len(acts) >= 3 and [a["StartTime"] for a in flat] == sorted((a["StartTime"] for a in flat), reverse=True),
            len(flat))
    asg.delete_auto_scaling_group(AutoScalingGroupName="proc", ForceDelete=True)
    wait("proc deleted", lambda: states(asg, "proc") is None)
    deleted = asg.describe_scaling_activities(AutoScalingGroupName="proc", IncludeDeletedGroups=True)["Activities"]
    R.check("activities of a deleted group with IncludeDeletedGroups", len(deleted) >= 6 and
            all(a.get("AutoScalingGroupState") == "Deleted" for a in deleted), len(deleted))
    R.check("... and not without", asg.describe_scaling_activities(AutoScalingGroupName="proc")["Activities"] == [])


def traffic_source_checks(ec2, elb, asg, subnets, lt):
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    tgs = [elb.create_target_group(Name="ts%d" % i, Protocol="HTTP", Port=8080, VpcId=vpc)["TargetGroups"][0]
           ["TargetGroupArn"] for i in range(2)]
    asg.create_auto_scaling_group(AutoScalingGroupName="ts", MinSize=1, MaxSize=1,
                                  LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"]},
                                  VPCZoneIdentifier=subnets[0], TargetGroupARNs=[tgs[0]])
    ids = wait("InService", lambda: [i for i, s in states(asg, "ts").items() if s == "InService"])
    if not ids:
        return
    targets = elb.describe_target_health(TargetGroupArn=tgs[0])["TargetHealthDescriptions"]
    R.check("an InService instance is registered in the group's target group",
            [t["Target"]["Id"] for t in targets] == ids, targets)
    asg.attach_traffic_sources(AutoScalingGroupName="ts", TrafficSources=[{"Identifier": tgs[1], "Type": "elbv2"}])
    src = asg.describe_traffic_sources(AutoScalingGroupName="ts")["TrafficSources"]
    R.check("AttachTrafficSources: both listed", sorted(s["Identifier"] for s in src) == sorted(tgs), src)
    R.check("... and the instance registered in the new one", [t["Target"]["Id"] for t in elb.describe_target_health(
        TargetGroupArn=tgs[1])["TargetHealthDescriptions"]] == ids)
    asg.detach_load_balancer_target_groups(AutoScalingGroupName="ts", TargetGroupARNs=[tgs[0]])
    got = asg.describe_load_balancer_target_groups(AutoScalingGroupName="ts")["LoadBalancerTargetGroups"]
    R.check("DetachLoadBalancerTargetGroups: one left", [t["LoadBalancerTargetGroupARN"] for t in got] == [tgs[1]], got)
    R.check("... and the instance deregistered from the detached one",
            elb.describe_target_health(TargetGroupArn=tgs[0])["TargetHealthDescriptions"] == [])
    asg.detach_traffic_sources(AutoScalingGroupName="ts", TrafficSources=[{"Identifier": tgs[1]}])
    asg.attach_load_balancer_target_groups(AutoScalingGroupName="ts", TargetGroupARNs=[tgs[0]])
    R.check("AttachLoadBalancerTargetGroups registers again", [t["Target"]["Id"] for t in elb.describe_target_health(
        TargetGroupArn=tgs[0])["TargetHealthDescriptions"]] == ids)
    asg.delete_auto_scaling_group(AutoScalingGroupName="ts", ForceDelete=True)
    wait("ts deleted", lambda: states(asg, "ts") is None)
    R.check("ForceDelete deregistered it", elb.describe_target_health(TargetGroupArn=tgs[0])
            ["TargetHealthDescriptions"] == [])


def main(cloud):
    if not cloud.up():
        return
    image = cloud.base_image()
    if image is None:
        return
    asg, elb = cloud.client("autoscaling"), cloud.client("elbv2")
    ec2, subnets, lt = base(cloud, image)
    error_checks(asg, elb, subnets, lt)
    paging_checks(asg, subnets, lt)
    lifecycle_checks(ec2, asg, subnets, lt)
    process_checks(ec2, asg, subnets, lt)
    traffic_source_checks(ec2, elb, asg, subnets, lt)


def run():
    return lctest.run_test(R, PORT, CIDR, main)


if __name__ == "__main__":
    sys.exit(run())
