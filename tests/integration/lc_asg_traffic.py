#!/usr/bin/env python3
"""Auto Scaling groups of the local cloud keeping real capacity behind a real
HAProxy load balancer (issue 12). Instances serve HTTP (busybox httpd on
8080, a control service on 8081); a target group health-checks them
(interval 5 s, thresholds 2, deregistration delay 5 s) behind a listener on
port 80. Checked, through the load balancer's address:

- a group of 3 with HealthCheckType=ELB reaches 3 InService instances, all
  healthy in its target group, tagged aws:autoscaling:groupName and with
  the group's propagated tags, spread over the subnets, each serving
  through the load balancer;
- stopping the web service inside one instance gets it marked Unhealthy,
  drained, terminated and replaced, with no failed request through the load
  balancer in a bounded load loop; its activity says why;
- an instance whose machine is killed from outside (its processes gone) is
  noticed and replaced;
- desired 5 then 1: every instance taken out is draining in the target
  group before its machine stops, no failed request meanwhile;
- kill -9 of the daemon mid-scale-out, then restart: exactly the desired
  count, no instance launched twice;
- ForceDelete returns at once, the group shows "Delete in progress", then
  nothing of it remains: instances, registrations, machines, processes.

Only loopback and the cloud's own addresses are used; every loop is bounded.
Exit 1 on any failure, 77 to skip (not root, no botocore).
"""
import base64
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
try:
    import lctest
except ImportError:
    print("skipped: no botocore")
    sys.exit(77)

PORT = 4628
CIDR = "10.214.18.0/24"
GROUP = "web"
R = lctest.Results()


def group(asg):
    found = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"]
    return found[0] if found else None


def in_service(asg):
    g = group(asg)
    return sorted(i["InstanceId"] for i in g["Instances"] if i["LifecycleState"] == "InService") if g else []


def health(elb, tg):
    return {d["Target"]["Id"]: d["TargetHealth"]["State"]
            for d in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}


def wait_serving(asg, elb, tg, n, seconds):
    """Until exactly n instances are InService and all of them healthy (and no other target)."""
    t0 = time.time()
    while time.time() - t0 < seconds:
        ids, h = in_service(asg), health(elb, tg)
        g = group(asg)
        if (len(ids) == n and len(g["Instances"]) == n and sorted(h) == ids
                and all(h[i] == "healthy" for i in ids)):
            return time.time() - t0
        time.sleep(0.5)
    return None


def addresses(ec2, ids):
    res = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i for r in res for i in r["Instances"]}


def host_name(ip):
    return "ip-" + ip.replace(".", "-")


def setup(cloud, ec2, elb, asg, image):
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]]
    sg = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    # security groups filter: the listener from anywhere, the instances' 8080 from the load
    # balancer (a member of the default group, which lets its members in), their web and
    # control services (8080-8081) from this host (the bridge's first address)
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8081,
         "IpRanges": [{"CidrIp": CIDR.rsplit(".", 1)[0] + ".1/32"}]}])
    lt = ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={
        "ImageId": image, "InstanceType": "t3.micro", "SecurityGroupIds": [sg],
        "UserData": base64.b64encode(lctest.WEB_USER_DATA.encode()).decode()})["LaunchTemplate"]
    tg = elb.create_target_group(Name="web", Protocol="HTTP", Port=8080, VpcId=vpc,
                                 HealthCheckPath="/health", HealthCheckIntervalSeconds=5,
                                 HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
                                 UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
    lb = elb.create_load_balancer(Name="web", Subnets=subnets[:2], SecurityGroups=[sg])["LoadBalancers"][0]
    elb.get_waiter("load_balancer_available").wait(LoadBalancerArns=[lb["LoadBalancerArn"]],
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    asg.create_auto_scaling_group(
        AutoScalingGroupName=GROUP, LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"], "Version": "$Latest"},
        MinSize=1, MaxSize=6, DesiredCapacity=3, VPCZoneIdentifier=",".join(subnets), TargetGroupARNs=[tg],
        HealthCheckType="ELB", HealthCheckGracePeriod=10,
        Tags=[{"Key": "team", "Value": "web", "PropagateAtLaunch": True},
              {"Key": "internal", "Value": "x", "PropagateAtLaunch": False}])
    return tg, lb["DNSName"]


def first_checks(ec2, elb, asg, tg, lb_ip):
    took = wait_serving(asg, elb, tg, 3, 120)
    R.check("a group of 3 (ELB health) reaches 3 InService, all healthy (%.1f s)" % (took or -1),
            took is not None, (group(asg), health(elb, tg)))
    ids = in_service(asg)
    inst = addresses(ec2, ids)
    tags = [{t["Key"]: t["Value"] for t in inst[i].get("Tags", [])} for i in ids]
    R.check("instances tagged aws:autoscaling:groupName and the propagated tags only",
            all(t.get("aws:autoscaling:groupName") == GROUP and t.get("team") == "web" and "internal" not in t
                for t in tags), tags)
    zones = {i["AvailabilityZone"] for i in group(asg)["Instances"]}
    R.check("spread over 3 zones", len(zones) == 3, zones)
    served = set()
    for _ in range(30):
        served.add(lctest.http_get(lb_ip, 80)[1])
    want = {host_name(inst[i]["PrivateIpAddress"]) for i in ids}
    R.check("all 3 serve through the load balancer", served == want, (served, want))
    acts = asg.describe_scaling_activities(AutoScalingGroupName=GROUP)["Activities"]
    R.check("3 launch activities, Successful, with a cause",
            len(acts) == 3 and all(a["StatusCode"] == "Successful" and a["Description"].startswith(
                "Launching a new EC2 instance: i-") and "increasing the capacity from 0 to 3" in a["Cause"]
                for a in acts), acts)


def wait_replaced(asg, elb, tg, victim, seconds):
    t0 = time.time()
    while time.time() - t0 < seconds:
        ids = in_service(asg)
        if victim not in ids and wait_serving(asg, elb, tg, 3, 0.1) is not None:
            return time.time() - t0
        time.sleep(0.5)
    return None


def replacement_checks(cloud, ec2, elb, asg, tg, lb_ip):
    ids = in_service(asg)
    victim = ids[0]
    ip = addresses(ec2, [victim])[victim]["PrivateIpAddress"]
    with lctest.LoadLoop(lb_ip, clients=4, seconds=240) as load:
        time.sleep(1)
        R.check("stop the web service inside one instance",
                lctest.http_get(ip, 8081, "/cgi-bin/stop")[0] == 200)
        took = wait_replaced(asg, elb, tg, victim, 150)
        time.sleep(1)
    R.check("the instance whose service stopped is replaced by a healthy one (%.1f s)" % (took or -1),
            took is not None, (group(asg), health(elb, tg)))
    R.check("no failed request through the load balancer meanwhile (%d ok, %d failed)"
            % (load.ok, load.failed), load.failed == 0 and load.ok > 100, load.errors[:5])
    acts = asg.describe_scaling_activities(AutoScalingGroupName=GROUP)["Activities"]
    term = [a for a in acts if a["Description"] == "Terminating EC2 instance: " + victim]
    R.check("its termination says why (ELB system health check failure), Successful",
            len(term) == 1 and "ELB system health check failure" in term[0]["Cause"]
            and term[0]["StatusCode"] == "Successful", term)
    R.check("its machine is terminated", ec2.describe_instances(InstanceIds=[victim])["Reservations"][0]
            ["Instances"][0]["State"]["Name"] == "terminated")

    # killed from outside: every process of its machine gone
    victim = in_service(asg)[0]
    pids = subprocess.run(["pgrep", "-f", "--", "--id %s" % victim], capture_output=True, text=True).stdout.split()
    R.check("the machine of one instance has processes", len(pids) > 0)
    for p in pids:
        try:
            os.kill(int(p), signal.SIGKILL)
        except ProcessLookupError:
            pass
    took = wait_replaced(asg, elb, tg, victim, 150)
    R.check("an instance killed from outside is noticed and replaced (%.1f s)" % (took or -1),
            took is not None, group(asg))
    acts = asg.describe_scaling_activities(AutoScalingGroupName=GROUP)["Activities"]
    term = [a for a in acts if a["Description"] == "Terminating EC2 instance: " + victim]
    R.check("... by the EC2 health check", len(term) == 1 and "EC2 health check" in term[0]["Cause"], term)


def scale_checks(ec2, elb, asg, tg, lb_ip):
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=5)
    took = wait_serving(asg, elb, tg, 5, 120)
    R.check("desired 5: 5 InService and healthy (%.1f s)" % (took or -1), took is not None)
    five = in_service(asg)
    seen = {i: {} for i in five}  # id -> {"draining": t, "stopped": t}
    with lctest.LoadLoop(lb_ip, clients=4, seconds=120) as load:
        time.sleep(1)
        asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
        t0 = time.time()
        while time.time() - t0 < 90:
            h = health(elb, tg)
            states = {i: x["State"]["Name"] for i, x in addresses(ec2, five).items()}
            now = time.time()
            for i in five:
                if h.get(i) == "draining":
                    seen[i].setdefault("draining", now)
                if states[i] != "running":
                    seen[i].setdefault("stopped", now)
            if len(group(asg)["Instances"]) == 1 and sum(1 for s in states.values() if s == "terminated") == 4:
                break
            time.sleep(0.2)
        time.sleep(1)
    gone = [i for i in five if "stopped" in seen[i]]
    R.check("desired 1: 4 instances terminated, 1 left", len(gone) == 4 and len(group(asg)["Instances"]) == 1,
            (seen, group(asg)))
    R.check("each drained (draining for the 5 s delay) before its machine stopped",
            all("draining" in seen[i] and seen[i]["stopped"] - seen[i]["draining"] >= 4 for i in gone), seen)
    R.check("no failed request while scaling in (%d ok, %d failed)" % (load.ok, load.failed),
            load.failed == 0 and load.ok > 100, load.errors[:5])
    acts = [a for a in asg.describe_scaling_activities(AutoScalingGroupName=GROUP)["Activities"]
            if "shrinking the capacity from 5 to 1" in a["Cause"]]
    R.check("4 scale-in activities, Successful", len(acts) == 4 and all(a["StatusCode"] == "Successful" for a in acts),
            acts)


def crash_checks(cloud, ec2, asg, elb, tg):
    before = {i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=4)
    t0 = time.time()
    while time.time() - t0 < 20:
        states = [i["LifecycleState"] for i in group(asg)["Instances"]]
        if any(s.startswith("Pending") for s in states):
            break
        time.sleep(0.02)
    with open(os.path.join(cloud.state, "cloud.pid")) as f:
        os.kill(int(f.read()), signal.SIGKILL)
    R.check("kill -9 of the daemon while instances are Pending", any(s.startswith("Pending") for s in states), states)
    time.sleep(1)
    r = cloud.kiln_run("cloud", "up", "--port", str(PORT), "--state-dir", cloud.state, "--cidr", CIDR, timeout=120)
    R.check("kiln cloud up again", r.returncode == 0, r.stderr)
    took = wait_serving(asg, elb, tg, 4, 120)
    time.sleep(3)
    R.check("after the restart: exactly 4 InService and healthy (%.1f s)" % (took or -1),
            took is not None and len(group(asg)["Instances"]) == 4, group(asg))
    after = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
             if i["InstanceId"] not in before]
    R.check("3 instances launched for the scale-out, none twice",
            len(after) == 3 and all(i["State"]["Name"] == "running" for i in after),
            [(i["InstanceId"], i["State"]["Name"]) for i in after])


def delete_checks(ec2, elb, asg, tg):
    ids = [i["InstanceId"] for i in group(asg)["Instances"]]
    t0 = time.time()
    asg.delete_auto_scaling_group(AutoScalingGroupName=GROUP, ForceDelete=True)
    R.check("ForceDelete returns at once (%.2f s)" % (time.time() - t0), time.time() - t0 < 2)
    g = group(asg)
    R.check("the group shows Delete in progress", g is not None and g.get("Status") == "Delete in progress", g)
    t0 = time.time()
    while time.time() - t0 < 60 and group(asg) is not None:
        time.sleep(0.5)
    R.check("the group is gone (%.1f s)" % (time.time() - t0), group(asg) is None)
    states = {i: x["State"]["Name"] for i, x in addresses(ec2, ids).items()}
    R.check("its instances are terminated", all(s == "terminated" for s in states.values()), states)
    R.check("no registration is left in the target group", health(elb, tg) == {}, health(elb, tg))
    procs = [i for i in ids if subprocess.run(["pgrep", "-f", "--", "--id %s" % i]).returncode == 0]
    R.check("no machine process is left", procs == [], procs)
    R.check("DescribeAutoScalingInstances knows none of them",
            asg.describe_auto_scaling_instances(InstanceIds=ids)["AutoScalingInstances"] == [])


def main(cloud):
    if not cloud.up():
        return
    image = cloud.base_image()
    if image is None:
        return
    ec2, elb, asg = cloud.client("ec2"), cloud.client("elbv2"), cloud.client("autoscaling")
    tg, lb_ip = setup(cloud, ec2, elb, asg, image)
    first_checks(ec2, elb, asg, tg, lb_ip)
    replacement_checks(cloud, ec2, elb, asg, tg, lb_ip)
    scale_checks(ec2, elb, asg, tg, lb_ip)
    crash_checks(cloud, ec2, asg, elb, tg)
    delete_checks(ec2, elb, asg, tg)


def run():
    return lctest.run_test(R, PORT, CIDR, main)


if __name__ == "__main__":
    sys.exit(run())
