#!/usr/bin/env python3
"""`kiln refresh` on the local cloud (issue 15): tracked tags and moved base
images become a rebake, an image test and (with --deploy) a blue-green
deploy; an unchanged world only looks.

Three profiles over the demo's repositories (demo/make-repos):
- web: os tracks "os-*", app tracks "v*" (a v1.2.0-rc1 tag is there and must
  not be chosen), source image "base*"; deployed by its first refresh;
- api: the same inputs pinned (os-1.0.0, v1.1.0) and source "base": its
  bake key is web's first image's, so it is up to date without a bake;
- broken: an app layer whose provisioner fails (added for the last run).

Scenarios:
- first refresh of web --deploy: nothing baked -> bake, test, deploy;
- an unchanged world (--dir, --deploy): both "up to date", exit 0, and the
  cloud's request log shows only lookups (no RunInstances, nothing made);
- a new OS tag and a new release: --dry-run says "os os-1.0.0 -> os-1.1.0"
  and "app v1.1.0 -> v1.2.0" (so v1.2.0-rc1 was never chosen) and changes
  nothing; then a rebake and a deploy while a bounded load loop
  (lctest.LoadLoop) sees no failed request;
- a new base image and the failing profile among three (--dir, no deploy):
  exit 1, broken failed, api up to date, web (after broken) rebaked and
  tested for "base image ami-... -> ami-...", not deployed;
- a bad profile among good ones: exit 2 before any cloud call;
- `kiln release --manifest --junit`, as contrib/github/kiln-release.yml runs it.

Only loopback and the cloud's own addresses are used; every loop is bounded.
Exit 1 on any failure, 77 to skip (not root, no botocore).
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

PORT = 4641
CIDR = "10.214.31.0/24"
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("KILN_SOURCE_DIR") or os.path.join(HERE, "..", "..")
R = lctest.Results()
LOOKUP = ("Describe", "Get", "List")


class World:
    def __init__(self, cloud):
        self.cloud = cloud
        self.tmp = cloud.tmp
        self.profiles = os.path.join(self.tmp, "profiles")
        os.makedirs(self.profiles)
        self.env = dict(os.environ, KILN_CLOUD_STATE_DIR=cloud.state,
                        KILN_STATE_DIR=os.path.join(self.tmp, "kstate"),
                        KILN_LOCAL_ENDPOINT=cloud.endpoint)

    def kiln(self, *args, timeout=600):
        return subprocess.run([self.cloud.kiln] + list(args), env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def requests(self):
        """The cloud's request log (state dir/requests.jsonl), one dict per call."""
        with open(os.path.join(self.cloud.state, "requests.jsonl")) as f:
            return [json.loads(line) for line in f if line.strip()]


def git(repo, *args):
    subprocess.run(["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com"] +
                   list(args), check=True, capture_output=True)


def make_repos(w):
    repos = os.path.join(w.tmp, "repos")
    subprocess.run([os.path.join(SOURCE, "demo", "make-repos"), repos], check=True,
                   capture_output=True)
    web = os.path.join(repos, "web")
    with open(os.path.join(web, "VERSION"), "w") as f:
        f.write("v1.2.0-rc1\n")
    git(web, "commit", "-qam", "v1.2.0-rc1")
    git(web, "tag", "v1.2.0-rc1")
    broken = os.path.join(repos, "broken")
    os.makedirs(broken)
    git(broken, "init", "-q")
    with open(os.path.join(broken, "install.sh"), "w") as f:
        f.write("#!/bin/sh\necho 'broken: this release cannot install' >&2\nexit 3\n")
    os.chmod(os.path.join(broken, "install.sh"), 0o755)
    git(broken, "add", "-A")
    git(broken, "commit", "-qm", "broken")
    git(broken, "tag", "v1.0.0")
    return repos


def profile(w, repos, name, os_layer, app_repo, app_layer, source):
    p = {
        "name": name, "target": "local",
        "layers": {
            "os": dict({"repo": os.path.join(repos, "os-base"), "ref": "os-1.0.0",
                        "provision": ["provision.sh"]}, **os_layer),
            "app": dict({"repo": os.path.join(repos, app_repo), "ref": "v1.0.0"}, **app_layer),
        },
        "bake": {"source_image": {"name": source, "owners": ["self"]}},
        "validate": {"checks": [{"port": 8080, "listening": True}]},
        "deploy": {
            "port": 80, "test_port": 8080, "instance_port": 8080,
            "health_check": {"path": "/health", "interval_s": 5, "timeout_s": 2,
                             "healthy_threshold": 2, "unhealthy_threshold": 2},
            "capacity": {"min": 1, "desired": 1, "max": 2},
            "deregistration_delay_s": 1, "timeout_s": 180,
            "smoke": [{"path": "/", "status": 200, "contains": "Hello from web"}],
        },
    }
    path = os.path.join(w.profiles, name + ".json")
    with open(path, "w") as f:
        json.dump(p, f, indent=1)
    return path


def results(r):
    try:
        return {x["profile"]: x for x in json.loads(r.stdout)}
    except (ValueError, KeyError, TypeError):
        return {}


def changes(calls):
    return ["%s %s" % (c["service"], c["action"]) for c in calls
            if not c["action"].startswith(LOOKUP)]


def live_image(w, profile_path):
    r = w.kiln("status", profile_path, "--json")
    try:
        st = json.loads(r.stdout)
        return (st.get("live") or {}).get("image_id"), st.get("url")
    except ValueError:
        return None, None


def scenario_first(w, web):
    r = w.kiln("refresh", web, "--deploy", "--json")
    res = results(r).get("web", {})
    R.check("first refresh of web: nothing baked -> baked, tested, deployed",
            r.returncode == 0 and res.get("status") == "refreshed" and
            res.get("reasons") == ["nothing baked yet"] and res.get("tested") and
            res.get("deployed"), r.stdout[-1500:] + r.stderr[-2500:])
    return res


def scenario_unchanged(w):
    before = len(w.requests())
    t0 = time.monotonic()
    r = w.kiln("refresh", "--dir", w.profiles, "--deploy", "--json")
    took = time.monotonic() - t0
    res = results(r)
    calls = w.requests()[before:]
    R.check("unchanged world: exit 0, web and api up to date (%.1f s)" % took,
            r.returncode == 0 and [res.get(p, {}).get("status") for p in ("api", "web")] ==
            ["up to date", "up to date"], r.stdout[-1500:] + r.stderr[-1500:])
    R.check("web's reference is its live image", res.get("web", {}).get("live") is True,
            res.get("web"))
    R.check("api shares web's first image (same bake key): no bake of its own",
            res.get("api", {}).get("old_image") == res.get("web", {}).get("old_image"),
            res.get("api"))
    R.check("unchanged world: no RunInstances in the request log",
            calls and not any(c["action"] == "RunInstances" for c in calls),
            [c["action"] for c in calls])
    R.check("unchanged world: only lookups (%d calls)" % len(calls), changes(calls) == [],
            changes(calls))


def scenario_os_tag(w, repos, web):
    os_base = os.path.join(repos, "os-base")
    with open(os.path.join(os_base, "provision.sh"), "a") as f:
        f.write("echo os-1.1.0 > /etc/kiln-os-release\n")
    git(os_base, "commit", "-qam", "os-1.1.0: a security fix")
    git(os_base, "tag", "-a", "-m", "os 1.1.0", "os-1.1.0")
    app = os.path.join(repos, "web")
    with open(os.path.join(app, "VERSION"), "w") as f:
        f.write("v1.2.0\n")
    git(app, "commit", "-qam", "v1.2.0")
    git(app, "tag", "v1.2.0")
    before_image, url = live_image(w, web)
    before = len(w.requests())
    r = w.kiln("refresh", web, "--deploy", "--dry-run")
    calls = w.requests()[before:]
    R.check("--dry-run: says what moved and what it would do, exit 0",
            r.returncode == 0 and
            "web: would refresh: os os-1.0.0 -> os-1.1.0; app v1.1.0 -> v1.2.0" in r.stdout and
            "would bake" in r.stderr, r.stdout + r.stderr[-1500:])
    R.check("--dry-run changes nothing", changes(calls) == [] and
            live_image(w, web)[0] == before_image, changes(calls))
    host = (url or "http://none/").split("//", 1)[1].split("/", 1)[0].split(":")[0]
    with lctest.LoadLoop(host, clients=2, seconds=240) as load:
        time.sleep(1)
        r = w.kiln("refresh", web, "--deploy", "--json")
        time.sleep(1)
    res = results(r).get("web", {})
    R.check("new OS tag and release: rebaked, tested and deployed for both",
            r.returncode == 0 and res.get("status") == "refreshed" and
            res.get("reasons") == ["os os-1.0.0 -> os-1.1.0", "app v1.1.0 -> v1.2.0"] and
            res.get("tested") and
            res.get("deployed") and not res.get("cache_hit"), r.stdout[-1500:] + r.stderr[-2500:])
    after_image = live_image(w, web)[0]
    R.check("the new image is live", after_image == res.get("image_id") and
            after_image != before_image, "%s %s" % (before_image, after_image))
    R.check("load loop during the refresh: %d answered, 0 failed" % load.ok,
            load.failed == 0 and load.ok > 0, load.errors[-3:])
    try:
        with open(os.path.join(w.env["KILN_STATE_DIR"], "audit.jsonl")) as f:
            audit = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        audit = [{"error": str(e)}]
    done = {(a.get("action"), a.get("image")) for a in audit if a.get("profile") == "web"}
    R.check("the audit log holds the refresh's bake and deploy of the new image",
            ("bake", res.get("image_id")) in done and ("deploy", res.get("image_id")) in done,
            audit[-4:])
    decisions = [a.get("target") for a in audit
                 if a.get("profile") == "web" and a.get("action") == "refresh decision"]
    R.check("the audit log holds the refresh's decision and why",
            decisions[-1:] == ["os os-1.0.0 -> os-1.1.0; app v1.1.0 -> v1.2.0"], decisions)


def scenario_base_and_failure(w, repos):
    ec2 = w.cloud.client("ec2")
    old = [i["ImageId"] for i in ec2.describe_images(Owners=["self"], Filters=[
        {"Name": "name", "Values": ["base"]}])["Images"]]
    r = w.kiln("cloud", "image", "debootstrap", "base-2", "--state-dir", w.cloud.state)
    new = r.stdout.strip().split()[-1] if r.stdout.strip() else ""
    if not R.check("a new base image base-2", r.returncode == 0 and new.startswith("ami-"),
                   r.stderr[-800:]):
        return
    profile(w, repos, "broken", {"track": "os-*"}, "broken",
            {"provision": ["install.sh"]}, "base")
    r = w.kiln("refresh", "--dir", w.profiles, "--json")
    res = results(r)
    R.check("one failing profile among three: exit 1", r.returncode == 1,
            "%d %s" % (r.returncode, r.stderr[-2000:]))
    b = res.get("broken", {})
    R.check("broken failed, its error says why",
            b.get("status") == "failed" and "broken" in r.stderr and
            "install.sh" in (b.get("error") or ""), "%s %s" % (b, r.stderr[-1500:]))
    R.check("api, before it, is up to date", res.get("api", {}).get("status") == "up to date",
            res.get("api"))
    web = res.get("web", {})
    R.check("web, after it, rebaked and tested for the new base image, not deployed",
            web.get("status") == "refreshed" and
            web.get("reasons") == ["base image %s -> %s" % (old[0] if old else "?", new)] and
            web.get("tested") and not web.get("deployed"), "%s %s" % (web, r.stderr[-1500:]))


def scenario_bad_input(w, web):
    bad = os.path.join(w.tmp, "bad.json")
    with open(web) as f:
        p = json.load(f)
    p["layers"]["app"]["track"] = "v *"
    with open(bad, "w") as f:
        json.dump(p, f, indent=1)
    before = len(w.requests())
    r = w.kiln("refresh", web, bad, "--deploy")
    R.check("a bad profile among good ones: exit 2, its place named, nothing done",
            r.returncode == 2 and "bad.json:" in r.stderr and "layers.app.track" in r.stderr and
            r.stdout == "" and len(w.requests()) == before, "%d %s" % (r.returncode, r.stderr))


def scenario_release_junit(w, web):
    """What contrib/github/kiln-release.yml runs: the manifest and the JUnit report."""
    import xml.etree.ElementTree as ET
    manifest, junit = os.path.join(w.tmp, "m.json"), os.path.join(w.tmp, "r.xml")
    r = w.kiln("release", web, "--app-ref", "v1.1.0", "--manifest", manifest, "--junit", junit)
    try:
        suites = {s.get("name"): s for s in ET.parse(junit).getroot()}
        with open(manifest) as f:
            m = json.load(f)
    except (OSError, ValueError, ET.ParseError) as e:
        suites, m = {}, {"error": str(e)}
    R.check("kiln release --manifest --junit: the bake and deploy in the manifest, the "
            "policy, checks and smoke checks in the report",
            r.returncode == 0 and (m.get("bake") or {}).get("image_id") and
            (m.get("deploy") or {}).get("release") == "v1.1.0" and
            {"policy", "smoke"} <= set(suites) and len(suites) >= 3 and
            all(s.get("failures") == "0" for s in suites.values()),
            "%s %s %s" % (sorted(suites), m, r.stderr[-1500:]))


def body(cloud):
    t0 = time.monotonic()
    if not cloud.up() or cloud.base_image() is None:
        return
    w = World(cloud)
    repos = make_repos(w)
    web = profile(w, repos, "web", {"track": "os-*"}, "web",
                  {"track": "v*", "provision": ["deploy/install.sh"]}, "base*")
    api = profile(w, repos, "api", {}, "web", {"ref": "v1.1.0", "provision": ["deploy/install.sh"]},
                  "base")
    try:
        first = scenario_first(w, web)
        if first.get("deployed"):
            scenario_unchanged(w)
            scenario_os_tag(w, repos, web)
            scenario_base_and_failure(w, repos)
            scenario_bad_input(w, web)
            scenario_release_junit(w, web)
    finally:
        for p in (web, api):
            w.kiln("destroy", p, "--yes")
    print("refresh_local: %.0f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(lctest.run_test(R, PORT, CIDR, body))
