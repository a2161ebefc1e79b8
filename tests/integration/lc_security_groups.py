#!/usr/bin/env python3
"""Security groups that filter (issue 12), with real instances:

- an instance whose groups have no port 22 rule does not answer SSH from
  this host (the connection times out: dropped, as on AWS), answers right
  after authorize-security-group-ingress (a real login) and stops right
  after revoke-security-group-ingress;
- protocols: ICMP (an echo request by type), UDP port ranges and "-1" (all
  traffic) admit what they name and nothing else, from this host;
- CIDR rules and port ranges: this host (the bridge's gateway address) and
  instances inside or outside a rule's block;
- a source-group rule admits exactly that group's members: from an
  instance of the group yes, from one of another group no; an instance
  launched into the group is admitted as soon as it runs, a terminated one
  leaves the rule;
- a load balancer's traffic and health checks reach a target only once the
  target's group allows the load balancer's group;
- a table deleted from inside the instance is put back within seconds;
- kill -9 of the daemon: the filters stay (they live in the instances'
  namespaces); a table lost meanwhile is back once the daemon is up again;
- nothing is left behind: no process, namespace or nftables table.

Only loopback and the addresses of this test's own cloud are used; every
wait is bounded. Exit 1 on any failure, 77 to skip (not root, no botocore).
"""
import ipaddress
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
try:
    import lctest
except ImportError:
    print("skipped: no botocore")
    sys.exit(77)

PORT = 4626
CIDR = "10.214.16.0/24"
GATEWAY = "10.214.16.1"  # this host on the bridge
FAR = "10.214.16.128/25"  # holds subnet c, not the gateway nor subnet a
R = lctest.Results()

# busybox httpd on 7001-7005 (index = hostname, /health for the load balancer)
SERVER = """#!/bin/sh
mkdir -p /www
hostname > /www/index.html
echo ok > /www/health
for p in 7001 7002 7003 7004 7005; do busybox httpd -p $p -h /www; done
"""


def reach(ip, port, timeout=3.0):
    """From this host: 'open', 'refused' (a reset: nothing listens) or 'timeout' (dropped)."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return "error: %s" % e


ECHOES = [0]


def echo(ip, timeout=2.0):
    """An ICMP echo request from this host: 'answered' or 'timeout' (dropped). Each has an
    identifier of its own: a flow conntrack still holds (30 s) would pass the filter as an
    established one, as a tracked connection outlives a revoked rule on EC2."""
    ECHOES[0] += 1
    ident = (os.getpid() + ECHOES[0]) & 0xFFFF

    def packet(csum):
        return struct.pack("!BBHHH", 8, 0, csum, ident, 1) + b"kiln-sg"

    words = packet(0) + b"\0"
    total = sum((words[i] << 8) + words[i + 1] for i in range(0, len(words) - 1, 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        s.sendto(packet(~total & 0xFFFF), (ip, 0))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, addr = s.recvfrom(2048)
            except socket.timeout:
                break
            at = (data[0] & 0x0F) * 4
            if addr[0] == ip and data[at] == 0 and struct.unpack("!H", data[at + 4:at + 6])[0] == ident:
                return "answered"
    return "timeout"


def udp(ip, port, tries=3):
    """A datagram from this host to a port where nothing listens: 'reached' when the
    instance answers port unreachable, 'timeout' when its filter drops the datagram."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((ip, port))
        s.settimeout(1.0)
        for _ in range(tries):
            try:
                s.send(b"kiln-sg")
                s.recv(64)
            except ConnectionRefusedError:
                return "reached"
            except socket.timeout:
                continue
    return "timeout"


class Ssh:
    def __init__(self, tmp):
        self.key = os.path.join(tmp, "id")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key], check=True)
        self.known = os.path.join(tmp, "known_hosts")

    def pub(self):
        with open(self.key + ".pub", "rb") as f:
            return f.read()

    def run(self, ip, command, timeout=30):
        r = subprocess.run(["ssh", "-i", self.key, "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                            "-o", "StrictHostKeyChecking=accept-new", "-o",
                            "UserKnownHostsFile=" + self.known, "root@" + ip, command],
                           capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout.strip()

    def probe(self, src, dst, port):
        """From instance `src` to dst:port: 'open', 'refused', 'timeout', or why not."""
        rc, out = self.run(src, "timeout 3 bash -c 'exec 3<>/dev/tcp/%s/%d' 2>/dev/null; echo rc=$?"
                           % (dst, port))
        return {"rc=0": "open", "rc=1": "refused", "rc=124": "timeout"}.get(out, "ssh %d: %s" % (rc, out))


def wait(cond, seconds, step=0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def group(ec2, name, rules=()):
    gid = ec2.create_security_group(GroupName=name, Description="sg test " + name)["GroupId"]
    if rules:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=list(rules))
    return gid


def tcp(lo, hi=None, cidr=None, source=None):
    p = {"IpProtocol": "tcp", "FromPort": lo, "ToPort": hi or lo}
    if cidr:
        p["IpRanges"] = [{"CidrIp": cidr}]
    if source:
        p["UserIdGroupPairs"] = [{"GroupId": source}]
    return p


def launch(ec2, image, gid, subnet, user_data=None):
    kw = dict(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", KeyName="sg",
              SecurityGroupIds=[gid], SubnetId=subnet)
    if user_data:
        kw["UserData"] = user_data
    i = ec2.run_instances(**kw)["Instances"][0]
    return i["InstanceId"], i["PrivateIpAddress"]


def running(ec2, ids):
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 120})


def table_of(cloud, instance_id):
    """The nftables table in an instance's namespace, as nft lists it ('' when none)."""
    with open(os.path.join(cloud.state, "instances", instance_id, "init.pid")) as f:
        pid = f.read().split()[0]
    r = subprocess.run(["nsenter", "--net=/proc/%s/ns/net" % pid, "nft", "list", "ruleset"],
                       capture_output=True, text=True, timeout=30)
    return r.stdout


def ssh_checks(ec2, ssh, fleet, f_ip):
    R.check("no port 22 rule: SSH from this host is dropped (connect times out in 3 s)",
            reach(f_ip, 22) == "timeout")
    ec2.authorize_security_group_ingress(GroupId=fleet, IpPermissions=[tcp(22, cidr=GATEWAY + "/32")])
    R.check("right after authorize-security-group-ingress: SSH answers", reach(f_ip, 22) == "open")
    rc, out = ssh.run(f_ip, "hostname")
    R.check("... and a login works", rc == 0 and out.startswith("ip-"), out)
    ec2.revoke_security_group_ingress(GroupId=fleet, IpPermissions=[tcp(22, cidr=GATEWAY + "/32")])
    R.check("right after revoke-security-group-ingress: dropped again", reach(f_ip, 22) == "timeout")


def protocol_checks(ec2, fleet, f_ip):
    def seen():
        return {"echo": echo(f_ip), "udp 5005": udp(f_ip, 5005), "udp 5011": udp(f_ip, 5011),
                "tcp 22": reach(f_ip, 22)}

    dropped = {"echo": "timeout", "udp 5005": "timeout", "udp 5011": "timeout", "tcp 22": "timeout"}
    got = seen()
    R.check("no rule: an ICMP echo and UDP are dropped too", got == dropped, got)
    host = [{"CidrIp": GATEWAY + "/32"}]
    rules = [{"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": host},
             {"IpProtocol": "udp", "FromPort": 5000, "ToPort": 5010, "IpRanges": host}]
    ec2.authorize_security_group_ingress(GroupId=fleet, IpPermissions=rules)
    got = seen()
    R.check("an icmp rule for echo requests (type 8) and a udp rule for 5000-5010: the echo is "
            "answered and udp 5005 reaches the instance; udp 5011 and tcp 22 stay dropped",
            got == dict(dropped, **{"echo": "answered", "udp 5005": "reached"}), got)
    ec2.revoke_security_group_ingress(GroupId=fleet, IpPermissions=rules)
    every = [{"IpProtocol": "-1", "IpRanges": host}]
    ec2.authorize_security_group_ingress(GroupId=fleet, IpPermissions=every)
    got = seen()
    R.check("protocol -1 (all traffic) from this host: everything reaches the instance",
            got == {"echo": "answered", "udp 5005": "reached", "udp 5011": "reached", "tcp 22": "open"}, got)
    ec2.revoke_security_group_ingress(GroupId=fleet, IpPermissions=every)
    got = seen()
    R.check("revoked: everything dropped again", got == dropped, got)


def rule_checks(ssh, w_ip, a_ip, o_ip):
    got = {p: reach(w_ip, p) for p in (7001, 7002, 7003, 7004, 7006)}
    R.check("from this host: the port range 7002-7003 of its /32 opens, 7001 (a source group), "
            "7004 (a block without it) and 7006 (no rule) drop",
            got == {7001: "timeout", 7002: "open", 7003: "open", 7004: "timeout", 7006: "timeout"}, got)
    got = {p: ssh.probe(a_ip, w_ip, p) for p in (7001, 7002, 7004)}
    R.check("from a member of the source group: 7001 opens; 7002 (this host's /32) and 7004 "
            "(a block without it) drop", got == {7001: "open", 7002: "timeout", 7004: "timeout"}, got)
    got = {p: ssh.probe(o_ip, w_ip, p) for p in (7001, 7004)}
    R.check("from an instance of another group inside the block: 7001 drops, 7004 opens",
            got == {7001: "timeout", 7004: "open"}, got)


def membership_checks(cloud, ec2, ssh, image, app, subnet_b, w_id, w_ip, a_id, a_ip):
    a2, a2_ip = launch(ec2, image, app, subnet_b)
    running(ec2, [a2])
    R.check("a new member of the source group: SSH into it", wait(lambda: reach(a2_ip, 22, 1) == "open", 60))
    R.check("... and it reaches the rule's port as soon as it runs", ssh.probe(a2_ip, w_ip, 7001) == "open")
    ec2.terminate_instances(InstanceIds=[a_id])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[a_id], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    def sources():
        return set(re.findall(r"ip saddr ([0-9.]+) tcp dport 7001 ", table_of(cloud, w_id)))

    R.check("a terminated member leaves the rule's sources", wait(lambda: sources() == {a2_ip}, 5),
            table_of(cloud, w_id))
    return a2, a2_ip


def lb_checks(ec2, elb, lbsg, web, subnets, vpc, w_id, w_ip):
    tg = elb.create_target_group(Name="sg-web", Protocol="HTTP", Port=7005, VpcId=vpc,
                                 HealthCheckPath="/health", HealthCheckIntervalSeconds=5,
                                 HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
                                 UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    lb = elb.create_load_balancer(Name="sg-lb", Subnets=subnets[:2], SecurityGroups=[lbsg])["LoadBalancers"][0]
    elb.get_waiter("load_balancer_available").wait(LoadBalancerArns=[lb["LoadBalancerArn"]],
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": w_id}])

    def state():
        return elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"][0]["TargetHealth"]["State"]

    time.sleep(14)  # unhealthy threshold x interval + timeout, and slack
    got = state()
    R.check("without a rule for the load balancer's group its health checks do not reach the target",
            got in ("initial", "unhealthy"), got)
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[tcp(7005, source=lbsg)])
    R.check("with one, the target turns healthy", wait(lambda: state() == "healthy", 40, 1), state())
    try:
        body = urllib.request.urlopen("http://%s/" % lb["DNSName"], timeout=5).read().decode().strip()
    except OSError as e:
        body = str(e)
    R.check("requests through the load balancer reach it", body.startswith("ip-"), body)
    R.check("the target's port stays closed to this host itself", reach(w_ip, 7005) == "timeout")
    return lb["DNSName"]


def delete_table(cloud, instance_id):
    """What a root process inside could do (nft flush ruleset in a service of the image)."""
    with open(os.path.join(cloud.state, "instances", instance_id, "init.pid")) as f:
        pid = f.read().split()[0]
    subprocess.run(["nsenter", "--net=/proc/%s/ns/net" % pid, "nft", "delete", "table", "inet", "kiln"],
                   check=False, timeout=30)


def tamper_checks(cloud, w_id, w_ip):
    delete_table(cloud, w_id)
    R.check("(a table deleted inside the instance lets everything in)", reach(w_ip, 7001) == "open")
    R.check("the daemon puts it back within 10 s", wait(lambda: "table inet kiln" in table_of(cloud, w_id), 10, 0.5))
    R.check("... and it filters again", reach(w_ip, 7001) == "timeout")


def crash_checks(cloud, w_id, w_ip, lb_ip):
    with open(os.path.join(cloud.state, "cloud.pid")) as f:
        os.kill(int(f.read()), signal.SIGKILL)
    time.sleep(0.5)
    got = (reach(w_ip, 7001), reach(w_ip, 7002))
    R.check("daemon killed: the filter stays", got == ("timeout", "open"), got)
    # a table lost while the daemon is away
    delete_table(cloud, w_id)
    R.check("(the table deleted meanwhile lets everything in)", reach(w_ip, 7001) == "open")
    if not cloud.up():
        return
    got = (reach(w_ip, 7001), reach(w_ip, 7002))
    R.check("once the daemon is up again the table is back", got == ("timeout", "open"), got)
    try:
        body = urllib.request.urlopen("http://%s/" % lb_ip, timeout=5).read().decode().strip()
    except OSError as e:
        body = str(e)
    R.check("the load balancer still reaches its target", body.startswith("ip-"), body)


def main(cloud, ssh):
    if not cloud.up():
        return []
    image = cloud.base_image()
    if image is None:
        return []
    ec2, elb = cloud.client("ec2"), cloud.client("elbv2")
    ec2.import_key_pair(KeyName="sg", PublicKeyMaterial=ssh.pub())
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = sorted(ec2.describe_subnets()["Subnets"], key=lambda s: ipaddress.ip_network(s["CidrBlock"]))
    far = [s["SubnetId"] for s in subnets if ipaddress.ip_network(s["CidrBlock"]).subnet_of(ipaddress.ip_network(FAR))]
    near = [s["SubnetId"] for s in subnets if s["SubnetId"] not in far]
    ssh_in = tcp(22, cidr=GATEWAY + "/32")
    fleet = group(ec2, "fleet")
    app = group(ec2, "app", [ssh_in])
    other = group(ec2, "other", [ssh_in])
    lbsg = group(ec2, "lb", [tcp(80, cidr="0.0.0.0/0")])
    web = group(ec2, "web", [tcp(7001, source=app), tcp(7002, 7003, cidr=GATEWAY + "/32"), tcp(7004, cidr=FAR)])
    f_id, f_ip = launch(ec2, image, fleet, near[0])
    w_id, w_ip = launch(ec2, image, web, near[0], SERVER)
    a_id, a_ip = launch(ec2, image, app, near[0])
    o_id, o_ip = launch(ec2, image, other, far[0])
    ids = [f_id, w_id, a_id, o_id]
    running(ec2, ids)
    R.check("the instances boot with their tables in place",
            all("table inet kiln" in table_of(cloud, i) for i in ids))
    R.check("their services come up", wait(lambda: reach(a_ip, 22, 1) == "open" and reach(o_ip, 22, 1) == "open"
                                           and reach(w_ip, 7002, 1) == "open", 90))
    ssh_checks(ec2, ssh, fleet, f_ip)
    protocol_checks(ec2, fleet, f_ip)
    rule_checks(ssh, w_ip, a_ip, o_ip)
    a2, _ = membership_checks(cloud, ec2, ssh, image, app, near[1], w_id, w_ip, a_id, a_ip)
    lb_ip = lb_checks(ec2, elb, lbsg, web, [s["SubnetId"] for s in subnets], vpc, w_id, w_ip)
    tamper_checks(cloud, w_id, w_ip)
    crash_checks(cloud, w_id, w_ip, lb_ip)
    return [f_id, w_id, o_id, a2]


def pids_of(cloud, ids):
    pids = []
    for i in ids:
        try:
            with open(os.path.join(cloud.state, "instances", i, "init.pid")) as f:
                pids.append(int(f.read().split()[0]))
        except (OSError, ValueError, IndexError):
            pass
    return pids


def run():
    if os.geteuid() != 0:
        print("skipped: needs root")
        return 77
    cloud = lctest.Cloud(R, PORT, CIDR)
    if not cloud.take_range():
        R.bad("lock", "%s stayed busy" % CIDR)
        return R.finish()
    ssh = Ssh(cloud.tmp)
    pids = []
    try:
        ids = main(cloud, ssh)
        pids = pids_of(cloud, ids)
    except Exception as e:  # noqa: BLE001 -- any failure is a finding
        R.bad("unexpected exception", "%s: %s" % (type(e).__name__, e))
    finally:
        cloud.down_and_check()
        # the namespaces (and their tables) went with the instances' processes
        R.check("no instance process, so no namespace, is left", pids and not any(
            os.path.exists("/proc/%d/ns/net" % p) for p in pids), pids)
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        R.check("this host has no table of the cloud's", "kiln" not in tables, tables)
    return R.finish()


if __name__ == "__main__":
    sys.exit(run())
