#!/usr/bin/env python3
"""Hooks and the audit log in a real bake and deploy on the local cloud
(issue 15):

- every stage's command hook (a script beside the profile that appends the
  stage and the JSON it got on stdin to a file) fires in order: pre_bake,
  post_bake, pre_deploy, pre_swap, post_swap, post_deploy, each with the
  stage, profile, env, release, image, commits, URL (not at pre_deploy:
  it runs before the load balancer is looked up), run id and caller, the
  release also as KILN_RELEASE, its output on stderr as "[hook] ..." lines;
- after a deploy of v1.1.0, `kiln rollback` fires post_rollback with v1.0.0;
- a deploy whose pre_swap hook fails: exit 1 naming the hook, on_failure
  fired, no post_swap nor post_deploy, the new group removed, live (the old
  release) untouched and still serving through production;
- the audit log: bake, swap, deploy, the refused deploy, rollback each one line
  in $KILN_STATE_DIR/audit.jsonl (and in the --audit file), read back by
  `kiln audit` with its filters; destroy adds its line.

Only loopback and the cloud's own addresses are used; every wait is bounded.
Exit 1 on any failure, 77 to skip (not root, no botocore).
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
try:
    import lctest
    import deploytest
except ImportError:
    print("skipped: no botocore")
    sys.exit(77)

PORT = 4640
CIDR = "10.214.30.0/24"
R = lctest.Results()
STAGES = ["pre_bake", "post_bake", "pre_deploy", "pre_swap", "post_swap", "post_deploy",
          "post_rollback", "on_failure"]

RECORD = """#!/bin/sh
# Appends "STAGE KILN_RELEASE JSON" to $HOOK_LOG; says hello on stdout.
json=$(cat)
printf '%s %s %s\\n' "$KILN_STAGE" "${KILN_RELEASE:--}" "$json" >> "$HOOK_LOG"
echo "recorded $KILN_STAGE"
"""


def records(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                stage, release, text = line.rstrip("\n").split(" ", 2)
                try:
                    out.append((stage, release, json.loads(text)))
                except ValueError:
                    out.append((stage, release, {"unparsed": text}))
    except OSError:
        pass
    return out


def hooks_all(extra=None):
    h = {s: ["record.sh"] for s in STAGES}
    for k, v in (extra or {}).items():
        h[k] = h[k] + v
    return h


def check_event(name, j, stage, release, image):
    commits = j.get("commits") or {}
    R.check("%s: the JSON names its stage, profile, env, release, image, commits, URL, run "
            "id and caller" % name,
            j.get("stage") == stage and j.get("profile") == "web" and j.get("env") == "dev" and
            j.get("release") == release and j.get("image") == image and
            len(commits.get("app", "")) == 40 and len(commits.get("os", "")) == 40 and
            # pre_deploy runs before the load balancer is looked up (or made).
            ((j.get("url") or "").startswith("http://") or
             (stage == "pre_deploy" and j.get("url") is None)) and
            (j.get("run_id") or "").startswith("deploy-") and j.get("caller"), j)


def deploy_in_order(w, profile, image, log):
    r = w.kiln("deploy", profile, "--env", "dev", "--image", image, "--app-ref", "v1.0.0",
               "--json")
    res = deploytest.result(r)
    if not R.check("deploy v1.0.0 with a hook at every stage",
                   r.returncode == 0 and res.get("release") == "v1.0.0", r.stderr[-2500:]):
        return None
    got = records(log)
    stages = [s for s, _, _ in got]
    R.check("the stages fired in order: pre_bake, post_bake, pre_deploy, pre_swap, "
            "post_swap, post_deploy",
            stages == ["pre_bake", "post_bake", "pre_deploy", "pre_swap", "post_swap",
                       "post_deploy"], stages)
    R.check("KILN_RELEASE is set for each deploy stage",
            [rel for _, rel, _ in got[2:]] == ["v1.0.0"] * 4, [rel for _, rel, _ in got])
    for stage, _, j in got[2:]:
        check_event(stage, j, stage, "v1.0.0", image)
    bake_end = got[1][2] if len(got) > 1 else {}
    R.check("post_bake: the image, release, the layers' commits and the caller",
            bake_end.get("image") == image and bake_end.get("release") == "v1.0.0" and
            len((bake_end.get("commits") or {}).get("app", "")) == 40 and
            len((bake_end.get("commits") or {}).get("os", "")) == 40 and
            bake_end.get("caller"), bake_end)
    R.check("run ids: one per deploy stage, the same throughout the deploy",
            len({j.get("run_id") for _, _, j in got[2:]}) == 1, got[2:])
    R.check("the hooks' output is on stderr as [hook] lines",
            "[hook] recorded pre_swap" in r.stderr and
            "[hook] recorded post_deploy" in r.stderr, r.stderr[-1500:])
    return res


def refused_swap(w, repos, image, log, extra_audit):
    gate = deploytest.make_profile(w, repos, "base", name="web-gate.json",
                                   capacity={"min": 1, "desired": 1, "max": 2},
                                   hooks=hooks_all({"pre_swap": ["echo not today; exit 7"]}))
    before = len(records(log))
    r = w.kiln("deploy", gate, "--env", "dev", "--image", image, "--app-ref", "v1.1.0",
               "--audit", extra_audit)
    err = [line for line in r.stderr.splitlines() if "error:" in line]
    R.check("a failing pre_swap hook: exit 1 naming the hook and its exit status",
            r.returncode == 1 and err and "pre_swap hook" in err[-1] and "exit 7" in err[-1],
            "%d %s" % (r.returncode, r.stderr[-1500:]))
    R.check("the refusing hook's output is shown", "[hook] not today" in r.stderr,
            r.stderr[-1500:])
    stages = [s for s, _, _ in records(log)[before:]]
    R.check("pre_deploy, pre_swap, then on_failure: no post_swap nor post_deploy",
            stages == ["pre_deploy", "pre_swap", "on_failure"], stages)
    fail = records(log)[-1][2]
    R.check("on_failure gets the error", fail.get("result") == "failed" and
            "pre_swap hook" in (fail.get("error") or ""), fail)
    rel, st = deploytest.live_release(w)
    R.check("live is still v1.0.0", rel == "v1.0.0", st)
    R.check("the v1.1.0 group is removed", deploytest.group_names(w, "v1.1.0") == [],
            deploytest.group_names(w, "v1.1.0"))
    url = st.get("url") or ""
    host, _, port = url.split("://", 1)[-1].rstrip("/").partition(":")
    try:
        status, body = lctest.http_get(host, int(port or 80))
    except (OSError, ValueError) as e:
        status, body = 0, repr(e)
    R.check("production still serves the old release", status == 200 and
            "Hello from web v1.0.0" in body, "%s %s" % (status, body[:200]))


def rollback_fires(w, profile, image, log):
    r = w.kiln("deploy", profile, "--env", "dev", "--image", image, "--app-ref", "v1.1.0")
    if not R.check("deploy v1.1.0", r.returncode == 0, r.stderr[-1500:]):
        return
    before = len(records(log))
    r = w.kiln("rollback", profile, "--env", "dev", "--json")
    res = deploytest.result(r)
    R.check("kiln rollback to v1.0.0", r.returncode == 0 and res.get("release") == "v1.0.0",
            r.stderr[-1500:])
    got = records(log)[before:]
    R.check("the rollback fired post_rollback, with the release now live",
            [s for s, _, _ in got] == ["post_rollback"] and got[0][2].get("action") ==
            "rollback" and got[0][2].get("release") == "v1.0.0" and
            got[0][2].get("image") == image, got)


def audit(w, extra_audit, image):
    r = w.kiln("audit", "--json")
    try:
        lines = json.loads(r.stdout)
    except ValueError:
        lines = []
    acts = [(a.get("action"), a.get("release"), a.get("result")) for a in lines]
    R.check("kiln audit: bake, swap and deploy (the swap is part of it), the refused deploy, "
            "swap and deploy of v1.1.0, swap and rollback back to v1.0.0",
            r.returncode == 0 and acts == [("bake", "v1.0.0", "ok"), ("swap", "v1.0.0", "ok"),
                                           ("deploy", "v1.0.0", "ok"),
                                           ("deploy", "v1.1.0", "failed"),
                                           ("swap", "v1.1.0", "ok"), ("deploy", "v1.1.0", "ok"),
                                           ("swap", "v1.0.0", "ok"),
                                           ("rollback", "v1.0.0", "ok")], acts)
    R.check("the bake's line names its caller and image", lines and
            lines[0].get("caller") and lines[0].get("image") == image, lines[:1])
    dep = [a for a in lines if a.get("action") == "deploy"]
    R.check("each line has time, caller, host, profile, env, image, commits, run id and "
            "duration", dep and all(a.get("time") and a.get("caller") and a.get("host") and
                                    a.get("profile") == "web" and a.get("env") == "dev" and
                                    a.get("image") == image and a.get("run_id") and
                                    (a.get("commits") or {}).get("app") and
                                    a.get("duration_s") is not None for a in dep), dep)
    R.check("the refused deploy's line says why", len(dep) == 3 and
            "pre_swap hook" in (dep[1].get("error") or ""), dep[1:2])
    try:
        with open(extra_audit) as f:
            extra = [json.loads(line) for line in f]
    except (OSError, ValueError) as e:
        extra = [repr(e)]
    R.check("--audit FILE got the same run's line", len(extra) == 1 and
            extra[0].get("action") == "deploy" and extra[0].get("result") == "failed", extra)
    r = w.kiln("audit", "--profile", "web", "--env", "dev", "--since", "1h")
    R.check("kiln audit --profile --env --since: one line per action",
            r.returncode == 0 and len(r.stdout.splitlines()) == 8 and
            " swap web/dev ok" in r.stdout, r.stdout + r.stderr)
    r = w.kiln("audit", "--env", "prod", "--json")
    R.check("kiln audit --env prod: nothing", r.returncode == 0 and json.loads(r.stdout) == [],
            r.stdout)
    r = w.kiln("audit", "--since", "yesterday")
    R.check("kiln audit --since with a bad time: exit 2", r.returncode == 2, r.stderr)


def body(cloud):
    t0 = time.monotonic()
    if not cloud.up():
        return
    if cloud.base_image() is None:
        return
    w = deploytest.World(cloud)
    log = os.path.join(w.tmp, "hooks.log")
    w.env["HOOK_LOG"] = log
    record = os.path.join(w.tmp, "record.sh")
    with open(record, "w") as f:
        f.write(RECORD)
    os.chmod(record, 0o755)
    repos = deploytest.make_demo_repos(w)
    profile = deploytest.make_profile(w, repos, "base",
                                      capacity={"min": 1, "desired": 1, "max": 2},
                                      hooks=hooks_all())
    image = deploytest.bake(R, w, profile, "v1.0.0")
    extra_audit = os.path.join(w.tmp, "extra-audit.jsonl")
    try:
        if image and deploy_in_order(w, profile, image, log):
            refused_swap(w, repos, image, log, extra_audit)
            rollback_fires(w, profile, image, log)
            audit(w, extra_audit, image)
    finally:
        r = w.kiln("destroy", profile, "--env", "dev", "--yes")
        R.check("destroy", r.returncode == 0, r.stderr[-1500:])
    r = w.kiln("audit", "--json")
    last = (json.loads(r.stdout or "[]") or [{}])[-1]
    R.check("destroy wrote its audit line", last.get("action") == "destroy" and
            last.get("result") == "ok", last)
    print("deploy_hooks: %.0f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(lctest.run_test(R, PORT, CIDR, body))
