#!/usr/bin/env python3
"""Load balancers of the local cloud carrying real traffic (issue 11): three
instances serve HTTP (busybox httpd), two target groups, a load balancer
with a production listener. Checked, through the load balancer's address:

- new targets are `initial`, then `healthy`; a group no listener uses reports
  `unused`/`Target.NotInUse`; an unregistered target `Target.NotRegistered`;
- a target whose service stops turns `unhealthy` within unhealthy threshold x
  interval + timeout (and a few seconds of slack), and `healthy` again after
  the service returns; requests keep succeeding meanwhile;
- every target failing its health check: the group fails open (requests are
  still served);
- a slow request in flight to a deregistered target completes, new requests
  go to the others, the target is `draining` for the deregistration delay
  and then gone;
- weights 0/100 send nothing to the 0 group, 50/50 splits within 35-65 %;
- deleting a group a listener uses is refused (ResourceInUse);
- zero failed requests during 10 ModifyListener swaps under load, and every
  request after a swap's reply reaches the new group;
- a process already listening on a new listener's address is reported in the
  cloud's log, never shared (HAProxy binds without SO_REUSEPORT), and the
  listener serves once the address is free;
- zero failed requests while the daemon is killed (kill -9) and restarted
  under load; the restarted daemon answers for the load balancer;
- `kiln cloud down` leaves no HAProxy, machine or bridge behind.

Only loopback and the cloud's own addresses are used; every loop is bounded.
Exit 1 on any failure, 77 to skip (not root, no botocore).
"""
import http.client
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
try:
    from botocore.exceptions import ClientError
    import lctest
except ImportError:
    print("skipped: no botocore")
    sys.exit(77)

PORT = 4622
CIDR = "10.214.12.0/24"
R = lctest.Results()

# The web service: busybox httpd on 8080 (index = hostname, /health, a slow CGI),
# and a control service on 8081 whose CGIs stop, start, sicken and cure it.
USER_DATA = r"""#!/bin/sh
mkdir -p /www/cgi-bin /ctl/cgi-bin /etc/kiln/boot.d
hostname > /www/index.html
echo ok > /www/health
cat > /www/cgi-bin/slow <<'EOF'
#!/bin/sh
touch /run/slow.$$
sleep 3
rm -f /run/slow.$$
printf 'Content-Type: text/plain\r\n\r\n'
hostname
EOF
cat > /usr/local/bin/web <<'EOF'
#!/bin/sh
case "$1" in
start) busybox httpd -f -p 8080 -h /www & echo $! > /run/web.pid ;;
stop) kill "$(cat /run/web.pid)" ;;
esac
EOF
for verb in start stop; do
printf '#!/bin/sh\n/usr/local/bin/web %s >/dev/null 2>&1\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n"\n' $verb $verb > /ctl/cgi-bin/$verb
done
printf '#!/bin/sh\nrm -f /www/health\nprintf "Content-Type: text/plain\\r\\n\\r\\nsick\\n"\n' > /ctl/cgi-bin/sick
printf '#!/bin/sh\necho ok > /www/health\nprintf "Content-Type: text/plain\\r\\n\\r\\ncured\\n"\n' > /ctl/cgi-bin/cure
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nls /run | grep -c "^slow\\."\n' > /ctl/cgi-bin/inflight
chmod +x /www/cgi-bin/* /ctl/cgi-bin/* /usr/local/bin/web
printf '#!/bin/sh\n/usr/local/bin/web start\nbusybox httpd -p 8081 -h /ctl\n' > /etc/kiln/boot.d/50-web
chmod +x /etc/kiln/boot.d/50-web
/etc/kiln/boot.d/50-web
"""


get = lctest.http_get


def control(ip, verb):
    try:
        return get(ip, 8081, "/cgi-bin/" + verb)[0] == 200
    except OSError:
        return False


def inflight(ip):
    """How many slow requests the instance is serving now (-1: no answer)."""
    try:
        status, body = get(ip, 8081, "/cgi-bin/inflight")
        return int(body) if status == 200 else -1
    except (OSError, ValueError):
        return -1


def health(elb, tg, ids=None):
    kw = {"TargetGroupArn": tg}
    if ids:
        kw["Targets"] = [{"Id": i} for i in ids]
    return {d["Target"]["Id"]: (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"))
            for d in elb.describe_target_health(**kw)["TargetHealthDescriptions"]}


def wait_health(elb, tg, want, ids, seconds):
    t0 = time.time()
    while time.time() - t0 < seconds:
        h = health(elb, tg)
        if all(h.get(i, ("", ""))[0] == want for i in ids):
            return time.time() - t0
        time.sleep(0.25)
    return None


def expect_error(name, code, fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        return R.check(name, got == code, "got %s, want %s" % (got, code))
    return R.check(name, False, "succeeded, want " + code)


def setup(cloud, ec2, elb, image):
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]]
    sg = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    # the listener takes requests from anywhere (here: this host); the load balancer
    # reaches the instances' port 8080 as a member of their group (the default group
    # lets its members in); this host (the bridge's first address) reaches their
    # control service on 8081
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 8081, "ToPort": 8081,
         "IpRanges": [{"CidrIp": CIDR.rsplit(".", 1)[0] + ".1/32"}]}])
    ids = [i["InstanceId"] for i in ec2.run_instances(
        ImageId=image, MinCount=3, MaxCount=3, InstanceType="t3.micro", SecurityGroupIds=[sg],
        UserData=USER_DATA)["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    inst = {i["InstanceId"]: i for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
            for i in r["Instances"]}
    ips = {i: inst[i]["PrivateIpAddress"] for i in ids}
    hc = dict(HealthCheckPath="/health", HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
              HealthyThresholdCount=2, UnhealthyThresholdCount=2)
    tgs = {}
    for name in ("blue", "green", "spare"):
        tgs[name] = elb.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=vpc,
                                            **hc)["TargetGroups"][0]["TargetGroupArn"]
        elb.modify_target_group_attributes(TargetGroupArn=tgs[name], Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
    lb = elb.create_load_balancer(Name="traffic", Subnets=subnets[:2], SecurityGroups=[sg])["LoadBalancers"][0]
    elb.get_waiter("load_balancer_available").wait(LoadBalancerArns=[lb["LoadBalancerArn"]],
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    listener = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs["blue"]}])
    # the test listener: the idle group behind it is health-checked, as kiln's deploy does
    test = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8000,
                               DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs["green"]}])
    return ids, ips, tgs, lb, listener["Listeners"][0]["ListenerArn"], test["Listeners"][0]["ListenerArn"]


def forward(elb, listener, weights):
    actions = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": arn, "Weight": w} for arn, w in weights]}}]
    elb.modify_listener(ListenerArn=listener, DefaultActions=actions)


def hosts(lb_ip, n):
    out = []
    for _ in range(n):
        try:
            out.append(get(lb_ip, 80)[1])
        except OSError as e:
            out.append("error " + str(e))
    return out


def health_checks(elb, tgs, ids, ips, lb_ip):
    a, b, c = ids
    elb.register_targets(TargetGroupArn=tgs["blue"], Targets=[{"Id": a}, {"Id": b}])
    elb.register_targets(TargetGroupArn=tgs["green"], Targets=[{"Id": c}])
    elb.register_targets(TargetGroupArn=tgs["spare"], Targets=[{"Id": a}])
    h = health(elb, tgs["blue"])
    R.check("new targets are initial", all(s == "initial" for s, _ in h.values()) and len(h) == 2, h)
    took = wait_health(elb, tgs["blue"], "healthy", [a, b], 30)
    R.check("initial -> healthy (%.1f s; interval 5 s, threshold 2)" % (took or -1), took is not None,
            health(elb, tgs["blue"]))
    R.check("a group no listener uses: unused / Target.NotInUse",
            health(elb, tgs["spare"]).get(a) == ("unused", "Target.NotInUse"), health(elb, tgs["spare"]))
    R.check("an unregistered target: unused / Target.NotRegistered",
            health(elb, tgs["blue"], [c]).get(c) == ("unused", "Target.NotRegistered"))
    served = set(hosts(lb_ip, 12))
    want = {"ip-" + ips[a].replace(".", "-"), "ip-" + ips[b].replace(".", "-")}
    R.check("requests reach both targets", served == want, served)

    # a service stops: unhealthy within threshold x interval + timeout; requests go on
    with lctest.LoadLoop(lb_ip, clients=4, seconds=60) as load:
        t0 = time.time()
        R.check("stop the service of one target", control(ips[b], "stop"))
        took = wait_health(elb, tgs["blue"], "unhealthy", [b], 30)
        R.check("healthy -> unhealthy after the service stops (%.1f s, bound 12 s + 3 s)" % (took or -1),
                took is not None and took <= 15, health(elb, tgs["blue"]))
        R.check("reason: Target.FailedHealthChecks or Target.Timeout",
                health(elb, tgs["blue"])[b][1] in ("Target.FailedHealthChecks", "Target.Timeout"),
                health(elb, tgs["blue"]))
        R.check("start it again", control(ips[b], "start"))
        took = wait_health(elb, tgs["blue"], "healthy", [b], 30)
        R.check("unhealthy -> healthy after it returns (%.1f s)" % (took or -1), took is not None)
        time.sleep(1)
    # in the window between the service dying and HAProxy's checks noticing,
    # requests to it are retried elsewhere (option redispatch, retries)
    R.check("no failed request while a target went away and came back (%d ok, %d failed, %d retried)"
            % (load.ok, load.failed, load.retried), load.failed == 0 and load.ok > 100, load.errors[:5])

    # every target fails its health check: the group fails open
    for i in (a, b):
        control(ips[i], "sick")
    took = wait_health(elb, tgs["blue"], "unhealthy", [a, b], 30)
    R.check("both targets unhealthy (Target.ResponseCodeMismatch)",
            took is not None and all(r == "Target.ResponseCodeMismatch" for _, r in health(elb, tgs["blue"]).values()),
            health(elb, tgs["blue"]))
    statuses = [get(lb_ip, 80)[0] for _ in range(10)]
    R.check("all unhealthy: the group fails open (requests still served)", statuses == [200] * 10, statuses)
    for i in (a, b):
        control(ips[i], "cure")
    R.check("cured", wait_health(elb, tgs["blue"], "healthy", [a, b], 30) is not None)


def drain_checks(elb, tgs, ids, ips, lb_ip):
    a, b, _ = ids
    name_a = "ip-" + ips[a].replace(".", "-")
    results = []

    def slow():
        try:
            results.append(get(lb_ip, 80, "/cgi-bin/slow", timeout=20))
        except OSError as e:
            results.append((0, str(e)))

    # six slow requests started 0.1 s apart: round robin gives the target some;
    # it is deregistered once one of them runs on it (its CGI says so)
    threads = [threading.Thread(target=slow) for _ in range(6)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    t0, running = time.time(), inflight(ips[a])
    while running < 1 and time.time() - t0 < 2:
        time.sleep(0.05)
        running = inflight(ips[a])
    R.check("a slow request runs on the target before its deregistration (%d)" % running,
            running >= 1)
    elb.deregister_targets(TargetGroupArn=tgs["blue"], Targets=[{"Id": a}])
    after = hosts(lb_ip, 10)
    R.check("after deregistration new requests go elsewhere", name_a not in after, after)
    R.check("the deregistered target is draining",
            health(elb, tgs["blue"], [a]).get(a) == ("draining", "Target.DeregistrationInProgress"),
            health(elb, tgs["blue"], [a]))
    for t in threads:
        t.join(30)
    R.check("slow requests in flight to it completed (6 x 200, %d on it)"
            % sum(1 for s, body in results if body == name_a),
            sorted(s for s, _ in results) == [200] * 6 and any(body == name_a for _, body in results), results)
    time.sleep(6)
    R.check("after the deregistration delay it is gone",
            health(elb, tgs["blue"], [a]).get(a) == ("unused", "Target.NotRegistered"),
            health(elb, tgs["blue"], [a]))
    elb.register_targets(TargetGroupArn=tgs["blue"], Targets=[{"Id": a}])
    wait_health(elb, tgs["blue"], "healthy", [a], 30)


def weight_checks(elb, tgs, ids, ips, lb_ip, listener):
    c = ids[2]
    green = "ip-" + ips[c].replace(".", "-")
    R.check("green healthy", wait_health(elb, tgs["green"], "healthy", [c], 30) is not None)
    forward(elb, listener, [(tgs["blue"], 0), (tgs["green"], 100)])
    got = hosts(lb_ip, 60)
    R.check("weights 0/100: everything to green", all(h == green for h in got), set(got))
    forward(elb, listener, [(tgs["blue"], 50), (tgs["green"], 50)])
    got = hosts(lb_ip, 400)
    share = sum(1 for h in got if h == green) / len(got)
    R.check("weights 50/50: green gets %.0f %% (35-65 %%)" % (share * 100), 0.35 <= share <= 0.65)
    expect_error("deleting a group a listener uses -> ResourceInUse", "ResourceInUse",
                 elb.delete_target_group, TargetGroupArn=tgs["green"])


def swap_checks(elb, tgs, ids, ips, lb_ip, listener, test_listener):
    blue = {"ip-" + ips[i].replace(".", "-") for i in ids[:2]}
    green = {"ip-" + ips[ids[2]].replace(".", "-")}
    late = 0
    with lctest.LoadLoop(lb_ip, clients=8, seconds=90) as load:
        time.sleep(1)
        for n in range(10):
            to, idle = ("green", "blue") if n % 2 == 0 else ("blue", "green")
            # a blue-green swap: production to the new group, the test listener to the old
            elb.modify_listener(ListenerArn=listener,
                                DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs[to]}])
            replied = time.time()
            elb.modify_listener(ListenerArn=test_listener,
                                DefaultActions=[{"Type": "forward", "TargetGroupArn": tgs[idle]}])
            time.sleep(0.5)
            want = green if to == "green" else blue
            with load.mu:
                late += sum(1 for t, h in load.seen if t > replied + 0.05 and h not in want)
        # a change of configuration (a new health check path) is a reload: seamless too
        elb.modify_target_group(TargetGroupArn=tgs["blue"], HealthCheckPath="/index.html")
        time.sleep(1)
        elb.modify_target_group(TargetGroupArn=tgs["blue"], HealthCheckPath="/health")
        time.sleep(1)
    R.check("10 swaps and 2 reloads under load: %d requests, %d failed, %d retried"
            % (load.ok + load.failed, load.failed, load.retried),
            load.failed == 0 and load.ok > 500, load.errors[:5])
    R.check("after each swap's reply, requests reach the new group (%d stray)" % late, late == 0)


def squatter_checks(cloud, ec2, elb, tgs):
    """A process already listening on a new listener's address (a HAProxy left by a cloud
    that died on this range, say) is reported, never shared; the listener serves once it
    is gone."""
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]]
    sg = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    lb = elb.create_load_balancer(Name="squatted", Subnets=subnets[:2], SecurityGroups=[sg])["LoadBalancers"][0]
    elb.get_waiter("load_balancer_available").wait(LoadBalancerArns=[lb["LoadBalancerArn"]],
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind((lb["DNSName"], 80))
    squatter.listen(1)
    try:
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {
                                "StatusCode": "200", "ContentType": "text/plain", "MessageBody": "ok"}}])
        time.sleep(1)
        R.check("a listener address another process holds is reported in the cloud's log",
                "%s:80 is taken by another process" % lb["DNSName"] in cloud.log_tail(200),
                cloud.log_tail(5))
    finally:
        squatter.close()
    status = None
    for _ in range(40):
        try:
            status = get(lb["DNSName"], 80, timeout=2)[0]
            break
        except OSError:
            time.sleep(0.25)
    R.check("once the address is free the listener serves (within 10 s)", status == 200, status)
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])


def crash_checks(cloud, elb, tgs, lb_ip):
    with lctest.LoadLoop(lb_ip, clients=4, seconds=60) as load:
        time.sleep(1)
        with open(os.path.join(cloud.state, "cloud.pid")) as f:
            os.kill(int(f.read()), signal.SIGKILL)
        time.sleep(2)
        R.check("kiln cloud up after kill -9", cloud.kiln_run("cloud", "up", "--port", str(PORT), "--state-dir",
                                                             cloud.state, "--cidr", CIDR, timeout=120).returncode == 0)
        time.sleep(2)
    R.check("kill -9 of the daemon under load: %d requests, %d failed, %d retried"
            % (load.ok + load.failed, load.failed, load.retried),
            load.failed == 0 and load.ok > 100, load.errors[:5])
    h = health(elb, tgs["blue"])
    R.check("the restarted daemon answers for the load balancer", len(h) == 2, h)


def main(cloud):
    if not cloud.up():
        return
    image = cloud.base_image()
    if image is None:
        return
    ec2, elb = cloud.client("ec2"), cloud.client("elbv2")
    ids, ips, tgs, lb, listener, test_listener = setup(cloud, ec2, elb, image)
    lb_ip = lb["DNSName"]
    R.check("the load balancer's DNSName is its address on the bridge", lb_ip.startswith(CIDR.rsplit(".", 1)[0] + "."), lb_ip)
    health_checks(elb, tgs, ids, ips, lb_ip)
    drain_checks(elb, tgs, ids, ips, lb_ip)
    weight_checks(elb, tgs, ids, ips, lb_ip, listener)
    swap_checks(elb, tgs, ids, ips, lb_ip, listener, test_listener)
    squatter_checks(cloud, ec2, elb, tgs)
    crash_checks(cloud, elb, tgs, lb_ip)


def run():
    if os.geteuid() != 0:
        print("skipped: needs root")
        return 77
    cloud = lctest.Cloud(R, PORT, CIDR)
    if not cloud.take_range():
        R.bad("lock", "%s stayed busy" % CIDR)
        return R.finish()
    try:
        main(cloud)
    except Exception as e:  # noqa: BLE001 -- any failure is a finding
        R.bad("unexpected exception", "%s: %s" % (type(e).__name__, e))
    finally:
        cloud.down_and_check()
        left = os.popen("pgrep -af '[h]aproxy .*%s'" % cloud.tmp).read()
        R.check("no HAProxy left after kiln cloud down", left.strip() == "", left)
    return R.finish()


if __name__ == "__main__":
    sys.exit(run())
