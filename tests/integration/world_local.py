#!/usr/bin/env python3
"""kiln rebuild-world on the local cloud (issue 15): a world of 8 profiles
sharing two repositories (the demo's OS and web layers; four bake keys, so
two profiles share each image), two of them after others (api after db; web
after api and cache), one instance each:

- a bad --parallel and a world with a cycle are refused: exit 2, for the
  cycle every edge's FILE:LINE:COL and the cycle spelled out, and no cloud
  call;
- `--parallel 4` into an empty cloud (its base image only): every profile
  live and serving, each deployed only once the profiles it comes after were
  live, each repository cloned once (kiln -v says so), the report (--json
  and --report) with every field; a profile's hooks run, and the audit log
  has every deploy;
- a second run fetches each repository once and changes nothing: every
  bake a cache hit, every deploy "unchanged", and the cloud's request log
  shows no RunInstances, CreateImage, CreateAutoScalingGroup,
  CreateLaunchTemplateVersion, CreateLoadBalancer, ModifyListener nor
  DeleteAutoScalingGroup;
- a failing profile (db at a tag that does not exist) skips only its
  dependants (api, and web through api), says why, and exits 1; the others
  end live;
- `--drill` into a cloud of its own (port 4643, 10.214.33.0/24) of three of
  the profiles: all live, smoke checks passed, recovery times printed, and
  nothing of the drill left (no process, mount, bridge address, directory);
  and the same after a SIGINT while its bakes run (exit 1).

Only loopback and the clouds' own addresses are used; every loop is bounded.
Exit 1 on any failure, 77 to skip (not root, no botocore).
"""
import http.client
import json
import os
import shutil
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

PORT = 4642
CIDR = "10.214.32.0/24"
DRILL_PORT = 4643
DRILL_CIDR = "10.214.33.0/24"
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("KILN_SOURCE_DIR") or os.path.join(HERE, "..", "..")
R = lctest.Results()

# name: (bake flavour, after). Profiles of one flavour share a bake key.
WORLD = {
    "db": ("a", []), "cache": ("a", []),
    "api": ("b", ["db"]), "auth": ("b", []),
    "web": ("c", ["api", "cache"]), "admin": ("c", []),
    "docs": ("d", []), "status": ("d", []),
}


def profile(repos, name, flavour, after, app_ref="v1.0.0"):
    p = {
        "name": name,
        "target": "local",
        "layers": {
            "os": {"repo": os.path.join(repos, "os-base"), "ref": "os-1.0.0",
                   "provision": ["provision.sh"]},
            "app": {"repo": os.path.join(repos, "web"), "ref": app_ref,
                    "provision": ["deploy/install.sh"]},
        },
        "bake": {"source_image": {"name": "base", "owners": ["self"]},
                 "variables": {"FLAVOUR": flavour}},
        "validate": {"checks": [{"port": 8080, "listening": True}]},
        "deploy": {
            "health_check": {"path": "/health", "interval_s": 5, "timeout_s": 2,
                             "healthy_threshold": 2, "unhealthy_threshold": 2},
            "capacity": {"min": 1, "desired": 1, "max": 1},
            "deregistration_delay_s": 1, "timeout_s": 240,
            "smoke": [{"path": "/", "status": 200, "contains": "Hello from web"}],
        },
    }
    if after:
        p["after"] = after
    if name == "docs":
        p["hooks"] = {"post_bake": ["record.sh"], "post_deploy": ["record.sh"]}
    return p


RECORD = """#!/bin/sh
# Appends "STAGE PROFILE" to $HOOK_LOG.
cat > /dev/null
printf '%s %s\\n' "$KILN_STAGE" "$KILN_PROFILE" >> "$HOOK_LOG"
"""


def write_world(path, profiles):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "record.sh"), "w") as f:
        f.write(RECORD)
    os.chmod(os.path.join(path, "record.sh"), 0o755)
    for name, p in profiles.items():
        with open(os.path.join(path, name + ".json"), "w") as f:
            json.dump(p, f, indent=1)
    return path


class Env:
    def __init__(self, cloud):
        self.cloud = cloud
        self.tmp = cloud.tmp
        self.env = dict(os.environ, KILN_CLOUD_STATE_DIR=cloud.state,
                        KILN_STATE_DIR=os.path.join(self.tmp, "kstate"),
                        KILN_LOCAL_ENDPOINT=cloud.endpoint,
                        HOOK_LOG=os.path.join(self.tmp, "hooks.log"))

    def kiln(self, *args, timeout=600):
        return subprocess.run([self.cloud.kiln] + list(args), env=self.env, capture_output=True,
                              text=True, timeout=timeout)


def report_of(r):
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {}


def by_name(rep):
    return {p["name"]: p for p in rep.get("profiles", [])}


def requests(cloud):
    path = os.path.join(cloud.state, "requests.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def get(url):
    rest = url.split("://", 1)[1].rstrip("/")
    host, _, port = rest.partition(":")
    c = http.client.HTTPConnection(host, int(port or 80), timeout=10)
    try:
        c.request("GET", "/")
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


def scenario_cycle(e, repos):
    profiles = {n: profile(repos, n, "a", []) for n in ("x", "y", "z")}
    profiles["x"]["after"] = ["y"]
    profiles["y"]["after"] = ["z"]
    profiles["z"]["after"] = ["x"]
    d = write_world(os.path.join(e.tmp, "cycle"), profiles)
    before = len(requests(e.cloud))
    r = e.kiln("rebuild-world", d, "--parallel", "0")
    R.check("--parallel 0: exit 2, one line", r.returncode == 2 and
            r.stderr.strip() == "kiln: --parallel: expected a number from 1 to 64, got '0'",
            r.stderr)
    r = e.kiln("rebuild-world", d, "--parallel", "4")
    lines = [line for line in r.stderr.splitlines() if "cycle x -> y -> z -> x" in line]
    R.check("a cycle: exit 2", r.returncode == 2, "%d %s" % (r.returncode, r.stderr[-800:]))
    R.check("a cycle: each edge at FILE:LINE:COL, the cycle spelled out",
            len(lines) == 3 and all(line.startswith(d + "/") and
                                    line.split(":")[1].isdigit() and
                                    line.split(":")[2].isdigit() for line in lines),
            r.stderr[-800:])
    R.check("a cycle: no cloud call", len(requests(e.cloud)) == before,
            requests(e.cloud)[before:][:3])


def check_order(rep):
    p = by_name(rep)
    for name, (_, after) in WORLD.items():
        for dep in after:
            if name in p and dep in p and p[name]["result"] == "live":
                started = p[name]["live_s"] - p[name]["deploy_s"]
                R.check("%s deployed after %s was live (%.1f s >= %.1f s)" %
                        (name, dep, started, p[dep]["live_s"]),
                        started + 0.05 >= p[dep]["live_s"], p)


def scenario_first(e, world):
    report = os.path.join(e.tmp, "report.json")
    t0 = time.monotonic()
    r = e.kiln("-v", "rebuild-world", world, "--parallel", "4", "--json", "--report", report)
    took = time.monotonic() - t0
    rep = report_of(r)
    p = by_name(rep)
    R.check("rebuild-world --parallel 4 into an empty cloud: exit 0 (%.0f s)" % took,
            r.returncode == 0, r.stderr[-3000:])
    R.check("all 8 profiles live", sorted(p) == sorted(WORLD) and
            all(x["result"] == "live" for x in p.values()), rep)
    keys = {"name", "image_id", "bake_s", "deploy_s", "url", "result", "reason"}
    R.check("the report has every field for each profile",
            all(keys <= set(x) for x in p.values()) and
            rep.get("totals", {}).get("live") == 8, rep)
    try:
        with open(report) as f:
            written = json.load(f)
    except (OSError, ValueError) as ex:
        written = str(ex)
    R.check("--report FILE holds the same report", written == rep, written)
    R.check("four images baked, four bakes found them (two profiles per bake key)",
            rep.get("totals", {}).get("baked") == 4 and
            rep.get("totals", {}).get("cache_hits") == 4 and
            len({x["image_id"] for x in p.values()}) == 4, rep.get("totals"))
    R.check("each repository fetched once for the 16 layers",
            "fetched 2 repositories for the 16 layers of 8 profiles" in r.stderr and
            fetches(r.stderr) == {"cloning": 2}, fetches(r.stderr))
    check_order(rep)
    try:
        with open(os.path.join(e.tmp, "hooks.log")) as f:
            hooks = f.read().split("\n")
    except OSError as ex:
        hooks = [str(ex)]
    R.check("docs's hooks ran: post_bake, then post_deploy",
            [h for h in hooks if h] == ["post_bake docs", "post_deploy docs"], hooks)
    try:
        with open(os.path.join(e.tmp, "kstate", "audit.jsonl")) as f:
            audit = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as ex:
        audit = [{"error": str(ex)}]
    deployed = sorted(a.get("profile") for a in audit
                      if a.get("action") == "deploy" and a.get("result") == "ok")
    R.check("the audit log has each profile's deploy", deployed == sorted(WORLD), audit[-3:])
    served = {}
    for name, x in p.items():
        try:
            served[name] = get(x["url"])
        except OSError as ex:
            served[name] = (0, str(ex))
    R.check("every profile's URL serves its page",
            all(s == 200 and "Hello from web v1.0.0" in b for s, b in served.values()), served)
    return rep


def fetches(stderr):
    """Clones and fetches of the cache's mirrors (kiln -v says each)."""
    out = {}
    for line in stderr.splitlines():
        for verb in ("cloning", "fetching"):
            if (" %s '" % verb) in line:
                out[verb] = out.get(verb, 0) + 1
    return out


def scenario_again(e, world, first):
    before = len(requests(e.cloud))
    r = e.kiln("-v", "rebuild-world", world, "--parallel", "4", "--json")
    R.check("a second run fetches each repository once", fetches(r.stderr) == {"fetching": 2},
            fetches(r.stderr))
    rep = report_of(r)
    t = rep.get("totals", {})
    R.check("a second run: exit 0, all live", r.returncode == 0 and t.get("live") == 8,
            r.stderr[-2000:])
    R.check("a second run: every bake a cache hit, every deploy unchanged",
            t.get("baked") == 0 and t.get("cache_hits") == 8 and t.get("deployed") == 0 and
            t.get("unchanged") == 8, t)
    R.check("a second run: the same images and URLs",
            {n: (x["image_id"], x["url"]) for n, x in by_name(rep).items()} ==
            {n: (x["image_id"], x["url"]) for n, x in by_name(first).items()})
    changes = [c["action"] for c in requests(e.cloud)[before:] if c["action"] in (
        "RunInstances", "CreateImage", "CreateAutoScalingGroup", "CreateLaunchTemplateVersion",
        "CreateLoadBalancer", "ModifyListener", "DeleteAutoScalingGroup")]
    R.check("a second run changes nothing in the cloud (%d requests, none that changes)" %
            (len(requests(e.cloud)) - before), changes == [], changes[:10])


def scenario_failure(e, repos):
    profiles = {n: profile(repos, n, fl, after) for n, (fl, after) in WORLD.items()}
    profiles["db"]["layers"]["app"]["ref"] = "v9.9.9"
    d = write_world(os.path.join(e.tmp, "failing"), profiles)
    r = e.kiln("rebuild-world", d, "--parallel", "4", "--json")
    p = by_name(report_of(r))
    R.check("a failing profile: exit 1", r.returncode == 1, "%d %s" % (r.returncode,
                                                                      r.stderr[-1500:]))
    R.check("db failed, saying why", p.get("db", {}).get("result") == "failed" and
            "v9.9.9" in (p["db"].get("reason") or ""), p.get("db"))
    R.check("api skipped: after db, which failed",
            p.get("api", {}).get("result") == "skipped" and
            p["api"].get("reason") == "after 'db', which failed", p.get("api"))
    R.check("web skipped: after api, which was skipped",
            p.get("web", {}).get("result") == "skipped" and
            p["web"].get("reason") == "after 'api', which was skipped", p.get("web"))
    others = [n for n in WORLD if n not in ("db", "api", "web")]
    R.check("the five others live", all(p.get(n, {}).get("result") == "live" for n in others),
            {n: p.get(n) for n in others})


def drill_leftovers(drill_dir):
    left = []
    if os.path.exists(drill_dir):
        left.append("the directory %s" % drill_dir)
    with open("/proc/mounts") as f:
        left += [line for line in f.read().splitlines() if drill_dir in line]
    procs = subprocess.run(["pgrep", "-af", drill_dir], capture_output=True, text=True).stdout
    left += [line for line in procs.splitlines() if line.strip()]
    addrs = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True).stdout
    if " 10.214.33.1/" in addrs:
        left.append("a bridge on %s" % DRILL_CIDR)
    return left


def scenario_drill(e, repos):
    names = ("db", "api", "cache")
    profiles = {n: profile(repos, n, WORLD[n][0], WORLD[n][1]) for n in names}
    d = write_world(os.path.join(e.tmp, "drill-world"), profiles)
    drill = lctest.Cloud(R, DRILL_PORT, DRILL_CIDR)
    shutil.rmtree(drill.tmp, ignore_errors=True)
    drill.tmp = os.path.join(e.tmp, "drill")
    drill.state = os.path.join(drill.tmp, "cloud")
    if not R.check("the drill's range is free", drill.take_range(wait=600)):
        return
    drill.watch()
    # the drill removes its directory at the end: one that holds something is refused
    kept = os.path.join(e.tmp, "not-empty")
    os.makedirs(kept, exist_ok=True)
    with open(os.path.join(kept, "keep"), "w") as f:
        f.write("mine\n")
    r = e.kiln("rebuild-world", d, "--drill", "--drill-port", str(DRILL_PORT), "--drill-cidr",
               DRILL_CIDR, "--drill-dir", kept)
    R.check("--drill-dir that is not empty: exit 2, one line, the directory untouched",
            r.returncode == 2 and "is not empty" in r.stderr and
            os.listdir(kept) == ["keep"], r.stderr[-1000:])
    env = dict(e.env, KILN_DRILL_PORT="45x")
    r = subprocess.run([e.cloud.kiln, "rebuild-world", d, "--drill", "--drill-cidr", DRILL_CIDR,
                        "--drill-dir", drill.tmp], env=env, capture_output=True, text=True,
                       timeout=60)
    R.check("KILN_DRILL_PORT that is no port: exit 2 before any cloud",
            r.returncode == 2 and "KILN_DRILL_PORT" in r.stderr and
            not os.path.exists(drill.tmp), r.stderr[-1000:])
    r = e.kiln("rebuild-world", d, "--drill", "--drill-port", str(DRILL_PORT), "--drill-cidr",
               DRILL_CIDR, "--drill-dir", drill.tmp, "--parallel", "4")
    R.check("--drill: exit 0", r.returncode == 0, r.stderr[-3000:])
    lines = r.stdout.splitlines()
    R.check("--drill: each profile recovered, with its time, and the total",
            all(any(line.startswith(n + " ") and "live" in line and "recovered in" in line
                    for line in lines) for n in names) and
            any(line.startswith("recovery time (start to all live):") for line in lines),
            r.stdout)
    R.check("--drill: smoke checks passed for each profile",
            all("%s: smoke checks passed" % n in r.stderr for n in names), r.stderr[-2000:])
    R.check("--drill: the drill's cloud is removed", "drill: its cloud is removed" in r.stderr,
            r.stderr[-500:])
    left = drill_leftovers(drill.tmp)
    R.check("--drill: nothing of the drill left (processes, mounts, bridge, directory)",
            left == [], left[:5])
    if left:
        subprocess.run([e.cloud.kiln, "cloud", "down", "--state-dir", drill.state],
                       capture_output=True, timeout=300)
        shutil.rmtree(drill.tmp, ignore_errors=True)
    scenario_drill_interrupted(e, d, drill)


def scenario_drill_interrupted(e, world, drill):
    """SIGINT while the drill's bakes run: it stops, and still leaves nothing."""
    log_path = os.path.join(e.tmp, "drill-int.log")
    with open(log_path, "w") as log:
        p = subprocess.Popen([e.cloud.kiln, "rebuild-world", world, "--drill", "--drill-port",
                              str(DRILL_PORT), "--drill-cidr", DRILL_CIDR, "--drill-dir",
                              drill.tmp], env=e.env, stdout=log, stderr=subprocess.STDOUT)
    reached, t0 = False, time.monotonic()
    while not reached and p.poll() is None and time.monotonic() - t0 < 120:
        time.sleep(0.2)
        with open(log_path) as f:
            reached = "] baking " in f.read()
    if R.check("--drill interrupted: a bake was running", reached):
        p.send_signal(signal.SIGINT)
    try:
        rc = p.wait(180)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait(30)
    with open(log_path) as f:
        out = f.read()
    R.check("--drill interrupted: exit 1, stopped", rc == 1 and "stopped" in out,
            "%d %s" % (rc, out[-1500:]))
    left = drill_leftovers(drill.tmp)
    R.check("--drill interrupted: nothing of the drill left", left == [], left[:5])
    if left:
        subprocess.run([e.cloud.kiln, "cloud", "down", "--state-dir", drill.state],
                       capture_output=True, timeout=300)
        shutil.rmtree(drill.tmp, ignore_errors=True)


def body(cloud):
    t0 = time.monotonic()
    if not cloud.up():
        return
    if cloud.base_image() is None:
        return
    e = Env(cloud)
    repos = os.path.join(e.tmp, "repos")
    subprocess.run([os.path.join(SOURCE, "demo", "make-repos"), repos], check=True,
                   capture_output=True)
    world = write_world(os.path.join(e.tmp, "world"),
                        {n: profile(repos, n, fl, after) for n, (fl, after) in WORLD.items()})
    scenario_cycle(e, repos)
    first = scenario_first(e, world)
    print("  first rebuild: %.0f s" % (time.monotonic() - t0), flush=True)
    scenario_again(e, world, first)
    scenario_failure(e, repos)
    print("  failure: %.0f s" % (time.monotonic() - t0), flush=True)
    scenario_drill(e, repos)
    print("world_local: %.0f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(lctest.run_test(R, PORT, CIDR, body))
