#!/usr/bin/env python3
"""Blue-green deploys on the local cloud (issue 13): real instances serving
the demo's web app through a real HAProxy load balancer, Auto Scaling
groups kept by the cloud's reconciler, the lease in its SSM. A bounded load
loop (keep-alive HTTP GETs of the production URL from this host) runs
through every scenario, and every scenario asserts that no request failed:

- first deploy of v1.0.0; `kiln release` of v1.1.0 (bake cache hit, deploy,
  one manifest with both);
- `kiln rollback` within the retention: one swap (timed);
- rollback after the retention: the previous group retired by `kiln gc`,
  then `kiln rollback` redeploys its image;
- green never healthy (a release without its health page): exit 1 with
  the target health reasons, its group removed, the live release still
  live;
- two deploys at once: the second exits 1 naming the first's run;
- kill -9 of kiln at five points (lease taken, group created, group
  healthy, between the two ModifyListener of the swap, after the swap),
  then a re-run that converges: the release live, one group behind the
  production listener, the previous one kept;
- promote dev -> prod without a bake (no image made), and refused (exit
  2) for an environment whose bake inputs differ;
- no security group of a fleet allows port 22;
- destroy leaves nothing: no group, load balancer, target group, launch
  template or security group of the profile in the cloud's listings,
  scripts/leftovers shows no instance, mount or HAProxy of the cloud but
  its daemon, and `kiln cloud down` leaves nothing;
- smoke checks failing through the test listener (a page that is not the
  expected one): exit 1 naming the check, status and body, the group
  removed, live untouched;
- smoke checks passing through the test listener but failing through
  production (a readiness page that answers only the test listener's host
  name): the automatic swap back, exit 1, the group removed, the release
  live before live again.

Every deploy runs the profile's smoke checks (GET / contains "Hello from
web", Content-Type text/html) through the test listener and production.

Only loopback and the cloud's own addresses are used; every loop is bounded.
Exit 1 on any failure, 77 to skip (not root, no botocore).
"""
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
try:
    import lctest
    import deploytest
except ImportError:
    print("skipped: no botocore")
    sys.exit(77)

PORT = 4634
CIDR = "10.214.24.0/24"
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("KILN_SOURCE_DIR") or os.path.join(HERE, "..", "..")
R = lctest.Results()


class Load:
    """GETs of `url` on one kept-alive connection (reopened when closed) until stopped."""

    def __init__(self, url, limit_s=1800):
        rest = url.split("://", 1)[1].rstrip("/")
        host, _, port = rest.partition(":")
        self.host, self.port = host, int(port or 80)
        self.limit_s = limit_s
        self.n = self.failed = 0
        self.bodies = {}
        self.errors = []
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        conn = None
        t0 = time.monotonic()
        while not self.stop_ev.is_set() and time.monotonic() - t0 < self.limit_s:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                conn.request("GET", "/")
                r = conn.getresponse()
                body = r.read().decode(errors="replace")
                self.n += 1
                if r.status != 200 or "Hello from web" not in body:
                    self.failed += 1
                    self.errors.append("%d %s" % (r.status, body[:80]))
                else:
                    v = body.split("Hello from web ")[1].split("<")[0]
                    self.bodies[v] = self.bodies.get(v, 0) + 1
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                self.n += 1
                self.failed += 1
                self.errors.append(repr(e))
                if conn is not None:
                    conn.close()
                conn = None
            time.sleep(0.01)

    def start(self):
        self.thread.start()
        return self

    def mark(self):
        return (self.n, self.failed)

    def since(self, mark, name):
        n, failed = self.n - mark[0], self.failed - mark[1]
        R.check("%s: %d requests through production, 0 failed" % (name, n),
                failed == 0 and n > 0, "%d of %d failed: %s" % (failed, n, self.errors[-3:]))

    def stop(self):
        self.stop_ev.set()
        self.thread.join(30)


World = deploytest.World
make_profile = deploytest.make_profile
result = deploytest.result
group_names = deploytest.group_names


def make_repos(w):
    repos = deploytest.make_demo_repos(w)
    web = os.path.join(repos, "web")
    g = ["git", "-C", web, "-c", "user.name=t", "-c", "user.email=t@example.com"]
    # v1.2.0: a release whose health page is gone (its group is never healthy).
    with open(os.path.join(web, "deploy", "install.sh"), "a") as f:
        f.write("rm -f /opt/web/www/health\n")
    with open(os.path.join(web, "site", "index.html"), "w") as f:
        f.write("<h1>Hello from web v1.2.0</h1>\n")
    subprocess.run(g + ["commit", "-qam", "v1.2.0 without a health page"], check=True)
    subprocess.run(g + ["tag", "v1.2.0"], check=True)
    # v1.3.0: healthy, serves its page, but its readiness page answers only the
    # host names it was configured for: the test listener's, not production's
    # (an allowed-hosts setting that forgot the production name).
    with open(os.path.join(web, "deploy", "install.sh")) as f:
        install = f.read().replace("rm -f /opt/web/www/health\n", "")
    with open(os.path.join(web, "deploy", "install.sh"), "w") as f:
        f.write(install)
    with open(os.path.join(web, "site", "index.html"), "w") as f:
        f.write("<h1>Hello from web v1.3.0</h1>\n")
    os.makedirs(os.path.join(web, "site", "cgi-bin"))
    ready = os.path.join(web, "site", "cgi-bin", "ready")
    with open(ready, "w") as f:
        f.write("#!/bin/sh\n"
                "case \"$HTTP_HOST\" in\n"
                "*:8080) printf 'Content-Type: text/plain\\r\\n\\r\\nready\\n' ;;\n"
                "*) printf 'Status: 421 Misdirected Request\\r\\nContent-Type: text/plain"
                "\\r\\n\\r\\nunknown host %s\\n' \"$HTTP_HOST\" ;;\n"
                "esac\n")
    os.chmod(ready, 0o755)
    subprocess.run(g + ["add", "-A"], check=True)
    subprocess.run(g + ["commit", "-qm", "v1.3.0 ready only for the test host"], check=True)
    subprocess.run(g + ["tag", "v1.3.0"], check=True)
    return repos


def bake(w, profile, ref, env="dev"):
    return deploytest.bake(R, w, profile, ref, env)


def deploy(w, profile, ref, *extra, env="dev"):
    return w.kiln("deploy", profile, "--env", env, "--app-ref", ref, "--json", *extra)


def prod_groups(w, env="dev"):
    """Groups whose instances are registered behind the production listener."""
    elb, asg = w.cloud.client("elbv2"), w.cloud.client("autoscaling")
    lb = elb.describe_load_balancers(Names=["kiln-web-" + env])["LoadBalancers"][0]
    lis = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    prod = [li for li in lis if li["Port"] == 80][0]
    tg = prod["DefaultActions"][0]["TargetGroupArn"]
    ids = {t["Target"]["Id"] for t in elb.describe_target_health(
        TargetGroupArn=tg)["TargetHealthDescriptions"] if t["TargetHealth"]["State"] != "draining"}
    owners = set()
    for i in asg.describe_auto_scaling_instances()["AutoScalingInstances"]:
        if i["InstanceId"] in ids:
            owners.add(i["AutoScalingGroupName"])
    return owners


def live_release(w, env="dev"):
    return deploytest.live_release(w, env)


def scenario_first_and_release(w, profile, load_holder):
    r = deploy(w, profile, "v1.0.0")
    res = result(r)
    if not R.check("first deploy of v1.0.0", r.returncode == 0 and res.get("release") == "v1.0.0",
                   r.stderr[-3000:]):
        return None
    load = Load(res["url"]).start()
    load_holder.append(load)
    time.sleep(1)
    m = load.mark()
    # What a release-tag trigger runs: the bake (a cache hit: v1.1.0 was baked) and the deploy.
    manifest = os.path.join(w.tmp, "release-v1.1.0.json")
    r = w.kiln("release", profile, "--env", "dev", "--app-ref", "v1.1.0", "--json",
               "--manifest", manifest)
    both = result(r)
    res = both.get("deploy") or {}
    R.check("kiln release v1.1.0", r.returncode == 0 and res.get("release") == "v1.1.0" and
            res.get("previous_group"), r.stderr[-2000:])
    try:
        with open(manifest) as f:
            written = json.load(f)
    except (OSError, ValueError):
        written = {}
    R.check("the release's manifest holds the bake and the deploy of the same image",
            written == both and (both.get("bake") or {}).get("image_id") and
            both["bake"]["image_id"] == res.get("image_id") and
            both["bake"].get("cache_hit") is True, both)
    time.sleep(0.5)
    load.since(m, "release v1.0.0 -> v1.1.0")
    R.check("production serves v1.1.0 after the release",
            load.bodies.get("v1.1.0", 0) > 0, load.bodies)
    R.check("one group behind production", len(prod_groups(w)) == 1, prod_groups(w))
    return load


def scenario_never_healthy(w, repos, load):
    broken = make_profile(w, repos, "base", timeout_s=25, name="web-broken.json")
    bake(w, broken, "v1.2.0")
    m = load.mark()
    r = deploy(w, broken, "v1.2.0")
    R.check("green never healthy: exit 1", r.returncode == 1, "%d %s" % (r.returncode,
                                                                       r.stderr[-1500:]))
    err = [line for line in r.stderr.splitlines() if "error:" in line]
    R.check("the error says why: each instance's target state and reason, the last activity",
            err and "healthy after 25 s" in err[-1] and "target " in err[-1] and
            ("(Target." in err[-1] or "(Elb." in err[-1]) and "last scaling activity" in err[-1],
            err[-1:] if err else r.stderr[-800:])
    rel, st = live_release(w)
    R.check("live is still v1.1.0 (the rollback's redeploy)", rel == "v1.1.0", rel)
    asg = w.cloud.client("autoscaling")
    names = [g["AutoScalingGroupName"] for g in asg.describe_auto_scaling_groups()[
        "AutoScalingGroups"] if "v1.2.0" in g["AutoScalingGroupName"] and
        g.get("Status") != "Delete in progress"]
    R.check("the failed group is removed", names == [], names)
    load.since(m, "a release that never becomes healthy")


def scenario_smoke_fails_on_test(w, repos, load):
    """v1.3.0 is healthy but its page is not the one the smoke check expects."""
    smoke = [{"path": "/", "status": 200, "contains": "Hello from web v2"}]
    prof = make_profile(w, repos, "base", name="web-smoke-test.json", smoke=smoke)
    bake(w, prof, "v1.3.0")
    before = live_release(w)[0]
    m = load.mark()
    junit = os.path.join(w.tmp, "smoke-test.xml")
    r = deploy(w, prof, "v1.3.0", "--junit", junit)
    err = [line for line in r.stderr.splitlines() if "error:" in line]
    R.check("smoke failure on the test listener: exit 1", r.returncode == 1,
            "%d %s" % (r.returncode, r.stderr[-1500:]))
    R.check("the error names the check, the listener, what was found and the body",
            err and "smoke checks failed through the test listener" in err[-1] and
            "GET /: the body does not contain 'Hello from web v2'" in err[-1] and
            "Hello from web v1.3.0" in err[-1] and "rolled back" not in err[-1],
            err[-1:] if err else r.stderr[-800:])
    try:
        xml = open(junit).read()
        suites = [s for s in ET.fromstring(xml) if s.get("name") == "smoke"]
    except (OSError, ET.ParseError) as e:
        xml, suites = str(e), []
    R.check("--junit: the smoke testsuite with the check's failure, written on failure",
            len(suites) == 1 and suites[0].get("failures") == "1" and
            "Hello from web v2" in xml, xml[-800:])
    R.check("live untouched (%s)" % before, live_release(w)[0] == before)
    R.check("the group that failed its smoke checks is removed",
            group_names(w, "v1.3.0") == [], group_names(w, "v1.3.0"))
    R.check("one group behind production", len(prod_groups(w)) == 1, prod_groups(w))
    time.sleep(0.5)
    load.since(m, "a release failing its smoke checks on the test listener")


def scenario_smoke_fails_after_swap(w, repos, load):
    """v1.3.0's readiness page passes through the test listener, fails through production."""
    smoke = [{"path": "/cgi-bin/ready", "status": 200, "contains": "ready"}]
    prof = make_profile(w, repos, "base", name="web-smoke-prod.json", smoke=smoke)
    bake(w, prof, "v1.3.0")
    before, st = live_release(w)
    m = load.mark()
    r = deploy(w, prof, "v1.3.0")
    err = [line for line in r.stderr.splitlines() if "error:" in line]
    R.check("smoke failure after the swap: exit 1", r.returncode == 1,
            "%d %s" % (r.returncode, r.stderr[-1500:]))
    R.check("the test listener's smoke checks passed, then production was live on v1.3.0",
            "smoke ok: GET /cgi-bin/ready" in r.stderr and
            "production now forwards to" in r.stderr, r.stderr[-2000:])
    R.check("the error names the failure through production and the automatic rollback",
            err and "through production" in err[-1] and "status 421, expected 200" in err[-1]
            and "unknown host" in err[-1] and "rolled back automatically" in err[-1],
            err[-1:] if err else r.stderr[-800:])
    rel, st2 = live_release(w)
    R.check("the release live before (%s) is live again" % before, rel == before, rel)
    R.check("the same group as before is live",
            (st2.get("live") or {}).get("group") == (st.get("live") or {}).get("group"),
            "%s %s" % (st2.get("live"), st.get("live")))
    R.check("the group that failed after the swap is removed",
            group_names(w, "v1.3.0") == [], group_names(w, "v1.3.0"))
    R.check("one group behind production", len(prod_groups(w)) == 1, prod_groups(w))
    time.sleep(0.5)
    load.since(m, "a release failing its smoke checks after the swap (rolled back)")


def scenario_rollback(w, profile, load):
    m = load.mark()
    t0 = time.monotonic()
    r = w.kiln("rollback", profile, "--env", "dev", "--json")
    took = time.monotonic() - t0
    res = result(r)
    R.check("kiln rollback within the retention: one swap back to v1.0.0",
            r.returncode == 0 and res.get("action") == "rolled back" and
            res.get("release") == "v1.0.0", r.stderr[-1500:])
    R.check("the rollback took %.2f s (bounded at 5 s here; bench/deploy measures it)" % took,
            took < 5, took)
    time.sleep(0.5)
    load.since(m, "rollback")
    R.check("production serves v1.0.0 after the rollback", live_release(w)[0] == "v1.0.0")


def scenario_rollback_after_retention(w, profile, load):
    rel, st = live_release(w)
    prev = (st.get("previous") or {}).get("group")
    if not R.check("a previous group (v1.1.0) is kept", prev and
                   st["previous"]["release"] == "v1.1.0", st.get("previous")):
        return
    asg = w.cloud.client("autoscaling")
    asg.create_or_update_tags(Tags=[{"ResourceId": prev, "ResourceType": "auto-scaling-group",
                                     "Key": "kiln:retire-at", "Value": "2020-01-01T00:00:00Z",
                                     "PropagateAtLaunch": False}])
    m = load.mark()
    r = w.kiln("gc", "--target", "local", "--json")
    items = result(r) if r.returncode == 0 else []
    R.check("kiln gc retires the previous group past its time",
            r.returncode == 0 and any(i["kind"] == "auto-scaling-group" and i["id"] == prev and
                                      i["deleted"] for i in items), r.stdout + r.stderr[-800:])
    r = w.kiln("rollback", profile, "--env", "dev", "--json")
    res = result(r)
    R.check("rollback after the retention redeploys the previous image",
            r.returncode == 0 and res.get("action") == "redeployed" and
            res.get("release") == "v1.1.0" and "redeploying" in r.stderr, r.stderr[-2000:])
    time.sleep(0.5)
    load.since(m, "gc and a rollback by redeploy")


def converged(w, want, name):
    rel, st = live_release(w)
    groups = prod_groups(w)
    R.check("%s: %s live, one group behind production" % (name, want),
            rel == want and len(groups) == 1, "%s %s" % (rel, groups))
    R.check("%s: no lease left" % name, st.get("lease") is None, st.get("lease"))


def wait_for(w, text, proc, seconds=180):
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds and proc.poll() is None:
        if text in w.log():
            return True
        time.sleep(0.2)
    return False


def scenario_crashes(w, profile, load):
    """kill -9 at five points, each followed by a re-run; two deploys at once at one."""
    release = "v1.0.0"
    for point in ("lease", "group", "healthy", "swapping", "swapped"):
        m = load.mark()
        p = w.start_kiln("deploy", profile, "--env", "dev", "--app-ref", release, pause=point)
        reached = wait_for(w, "pausing at " + point, p)
        R.check("kill -9 at '%s': the deploy reached it" % point, reached, w.log()[-1500:])
        if point == "group":
            r = deploy(w, profile, release)
            run = [line.split("run ", 1)[1].split(")", 1)[0]
                   for line in w.log().splitlines() if "(run " in line]
            R.check("two deploys at once: the second exits 1 naming the holder",
                    r.returncode == 1 and "another deploy holds the lease" in r.stderr and
                    "pid %d" % p.pid in r.stderr, r.stderr[-800:])
        os.kill(p.pid, signal.SIGKILL)
        p.wait(30)
        r = deploy(w, profile, release)
        res = result(r)
        R.check("re-run after kill -9 at '%s' converges" % point, r.returncode == 0,
                r.stderr[-2000:])
        if point == "lease":
            R.check("the dead run's lease is broken", "breaking the deploy lease" in r.stderr,
                    r.stderr[-800:])
        if point in ("group", "healthy"):
            R.check("the dead run's group is taken over, not duplicated",
                    "taken over" in r.stderr, r.stderr[-1500:])
        if point in ("swapping", "swapped"):
            R.check("the release the dead run put live is unchanged",
                    res.get("action") == "unchanged", res.get("action"))
        time.sleep(0.5)
        load.since(m, "kill -9 at '%s' and a re-run" % point)
        converged(w, release, "after kill -9 at '%s'" % point)
        release = "v1.1.0" if release == "v1.0.0" else "v1.0.0"


def scenario_promote(w, profile):
    ec2 = w.cloud.client("ec2")
    images = len(ec2.describe_images(Owners=["self"])["Images"])
    r = w.kiln("promote", profile, "--from", "dev", "--to", "prod", "--json")
    res = result(r)
    dev_rel = live_release(w)[0]
    R.check("promote dev -> prod", r.returncode == 0 and res.get("env") == "prod" and
            res.get("release") == dev_rel, r.stderr[-2000:])
    R.check("promote made no image (no bake)",
            len(ec2.describe_images(Owners=["self"])["Images"]) == images)
    if res.get("url"):
        c = http.client.HTTPConnection(res["url"].split("//")[1].rstrip("/"), timeout=10)
        c.request("GET", "/")
        R.check("prod serves the promoted release",
                ("Hello from web " + dev_rel) in c.getresponse().read().decode())
    r = w.kiln("promote", profile, "--from", "dev", "--to", "qa")
    R.check("promote to an environment whose bake inputs differ: exit 2",
            r.returncode == 2 and "bake key" in r.stderr, r.stderr[-800:])
    elb = w.cloud.client("elbv2")
    names = [lb["LoadBalancerName"] for lb in elb.describe_load_balancers()["LoadBalancers"]]
    R.check("nothing was made for qa", "kiln-web-qa" not in names, names)


def scenario_no_ssh(w):
    ec2 = w.cloud.client("ec2")
    for g in ec2.describe_security_groups()["SecurityGroups"]:
        if g["GroupName"].endswith("-fleet"):
            R.check("fleet group %s allows no port 22" % g["GroupName"],
                    not any(p.get("FromPort", 0) <= 22 <= p.get("ToPort", 65535) or
                            p.get("IpProtocol") == "-1" for p in g["IpPermissions"]),
                    g["IpPermissions"])


def scenario_destroy(w, profile):
    for env in ("dev", "prod"):
        r = w.kiln("destroy", profile, "--env", env, "--yes")
        R.check("destroy --env %s" % env, r.returncode == 0, r.stderr[-1500:])
    ec2, elb = w.cloud.client("ec2"), w.cloud.client("elbv2")
    asg = w.cloud.client("autoscaling")
    R.check("no Auto Scaling group left",
            asg.describe_auto_scaling_groups()["AutoScalingGroups"] == [])
    R.check("no load balancer left", elb.describe_load_balancers()["LoadBalancers"] == [])
    R.check("no target group left", elb.describe_target_groups()["TargetGroups"] == [])
    R.check("no launch template left",
            ec2.describe_launch_templates()["LaunchTemplates"] == [])
    sgs = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]
           if g["GroupName"].startswith("kiln-web")]
    R.check("no security group of the deploy left", sgs == [], sgs)
    running = [i["InstanceId"] for res in ec2.describe_instances()["Reservations"]
               for i in res["Instances"] if i["State"]["Name"] != "terminated"]
    R.check("no instance left running", running == [], running)
    # scripts/leftovers, this cloud's lines: once its instances and load balancers are
    # gone only the daemon itself may remain (no instance init, HAProxy or mount).
    left = []
    for _ in range(120):
        out = subprocess.run([os.path.join(SOURCE, "scripts", "leftovers")], capture_output=True,
                             text=True, timeout=60).stdout
        left = [line for line in out.splitlines()
                if w.tmp in line and " cloud up " not in line]
        if not left:
            break
        time.sleep(0.5)
    R.check("scripts/leftovers: nothing of the deploy left on the machine", left == [], left[:5])


def body(cloud):
    t0 = time.monotonic()
    if not cloud.up():
        return
    image = cloud.base_image()
    if image is None:
        return
    w = World(cloud)
    repos = make_repos(w)
    profile = make_profile(w, repos, "base")
    bake(w, profile, "v1.0.0")
    bake(w, profile, "v1.1.0")
    holder = []
    try:
        load = scenario_first_and_release(w, profile, holder)
        if load is not None:
            scenario_rollback(w, profile, load)
            scenario_rollback_after_retention(w, profile, load)
            scenario_never_healthy(w, repos, load)
            scenario_smoke_fails_on_test(w, repos, load)
            scenario_smoke_fails_after_swap(w, repos, load)
            scenario_crashes(w, profile, load)
            load.stop()
            R.check("the load loop saw %d requests, %d failed" % (load.n, load.failed),
                    load.failed == 0, load.errors[-5:])
            scenario_promote(w, profile)
            scenario_no_ssh(w)
    finally:
        for load in holder:
            load.stop()
        scenario_destroy(w, profile)
    print("deploy_local: %.0f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(lctest.run_test(R, PORT, CIDR, body))
