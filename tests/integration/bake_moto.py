#!/usr/bin/env python3
"""`kiln bake` and `kiln gc` against moto_server (an AWS emulator written by
others), started on a free loopback port by this test and stopped by pid.

moto's instances have addresses that are not on this machine, so nothing here
lets kiln reach the SSH stage: the bakes tested are cache hits. Covered:
- the bake key, computed here independently from the effective profile
  (`kiln profile show`), the source image (resolved by a name filter, owner
  self) and the layers' commits;
- a cache hit: an image tagged kiln:bake-key=<key> is printed (text, --json,
  --manifest) and no RunInstances is sent;
- `kiln gc` from tags alone (no journal): --dry-run deletes nothing; then
  expired builder resources are deleted (instances before key pairs before
  security groups) and live or foreign ones are kept; --run-id takes a live
  run's resources;
- bad input exits 2 with one line; a source image that does not exist exits 1.

Exits 77 (skipped) when moto or botocore is not importable.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

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
SECRET = "moto-bake-secret-wJalrXUtnFEMI/K7MDENG"
REGION = "eu-west-1"
TOKEN = "moto-bake-token-7d1f"
NO_SUCH_TYPE = "kiln9.never"

failures = []
tmp = tempfile.mkdtemp(prefix="kiln-bake-moto-")
MOTO = motoserver.Moto(tmp, env=dict(os.environ, MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION="true"))


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def start_moto():
    return MOTO.start()


def stop_moto():
    MOTO.stop()


def ec2_client(url):
    s = botocore.session.get_session()
    return s.create_client("ec2", region_name=REGION, endpoint_url=url, aws_access_key_id=AKID,
                           aws_secret_access_key=SECRET)


def kiln(url, *args):
    env = motoserver.client_env(
        tmp, REGION,
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID=AKID,
        AWS_SECRET_ACCESS_KEY=SECRET,
        KILN_STATE_DIR=os.path.join(tmp, "state"),
        KILN_CACHE=os.path.join(tmp, "cache"),
        KILN_TRACE="aws",
    )
    return subprocess.run([KILN] + list(args), env=env, capture_output=True, text=True,
                          timeout=120)


def error_line(stderr):
    """kiln's error line (sanitizer builds print their summaries after it)."""
    lines = [l for l in stderr.splitlines() if l.startswith("kiln: error:")]
    return lines[-1] if lines else ""


def make_profile():
    repos = os.path.join(tmp, "repos")
    subprocess.run([os.path.join(SOURCE, "demo", "make-repos"), repos], check=True)
    with open(os.path.join(SOURCE, "profiles", "examples", "web.json")) as f:
        p = json.load(f)
    p["target"] = "aws"
    p["layers"]["os"]["repo"] = os.path.join(repos, "os-base")
    p["layers"]["app"]["repo"] = os.path.join(repos, "web")
    p["bake"]["source_image"] = {"name": "kiln-test-base*", "owners": ["self"]}
    # Not in the bake key; refused by moto (see start_moto).
    p["bake"]["instance_type"] = NO_SUCH_TYPE
    p["bake"]["variables"]["DEPLOY_TOKEN"]["value"] = TOKEN
    path = os.path.join(tmp, "web.json")
    with open(path, "w") as f:
        json.dump(p, f, indent=1)
    return path, repos


def commit_of(repo, ref):
    return subprocess.run(["git", "-C", repo, "rev-parse", ref + "^{commit}"], check=True,
                          capture_output=True, text=True).stdout.strip()


def bake_key(url, profile, source, commits):
    """bake/key.h, independently: sha256 of the canonical inputs document."""
    r = kiln(url, "profile", "show", profile)
    eff = json.loads(r.stdout)
    layers = []
    for name, layer in eff["layers"].items():
        entry = {"name": name, "commit": commits[name], "provision": layer.get("provision", [])}
        if layer.get("path") is not None:
            entry["path"] = layer["path"]
        layers.append(entry)
    variables = {}
    for k, v in eff["bake"]["variables"].items():
        if isinstance(v, str):
            variables[k] = v
        elif v.get("secret"):
            variables[k] = "(secret)"
        else:
            variables[k] = v["value"]
    doc = {"format": 1, "source_image": source, "layers": layers,
           "ssh_user": eff["bake"]["ssh_user"], "layer_dir": eff["bake"]["layer_dir"],
           "variables": variables, "checks": eff["validate"]["checks"]}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def any_ami(ec2):
    return ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


def make_image(ec2, name, tags):
    inst = ec2.run_instances(ImageId=any_ami(ec2), MinCount=1, MaxCount=1,
                             InstanceType="t3.small")["Instances"][0]["InstanceId"]
    img = ec2.create_image(InstanceId=inst, Name=name)["ImageId"]
    if tags:
        ec2.create_tags(Resources=[img], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    ec2.terminate_instances(InstanceIds=[inst])
    return img


def instance_count(ec2):
    return sum(len(r["Instances"]) for r in ec2.describe_instances()["Reservations"])


def test_cache_hit(url, ec2):
    profile, repos = make_profile()
    source = make_image(ec2, "kiln-test-base-1", {})
    commits = {"os": commit_of(os.path.join(repos, "os-base"), "os-1.0.0"),
               "app": commit_of(os.path.join(repos, "web"), "v1.0.0")}
    key = bake_key(url, profile, source, commits)
    cached = make_image(ec2, "kiln/web/v1.0.0/" + key[:12],
                        {"kiln:bake-key": key, "kiln:profile": "web", "kiln:managed": "true"})
    # An image for another key must not be taken.
    make_image(ec2, "kiln/web/v0.9.0/000000000000", {"kiln:bake-key": "0" * 64})
    before = instance_count(ec2)

    r = kiln(url, "bake", profile)
    check(r.returncode == 0, "cache-hit bake exits 0 (%d: %s)" % (r.returncode, r.stderr[-2000:]))
    check(r.stdout == cached + "\n", "prints the cached image id alone (%r)" % r.stdout)
    check("cache hit" in r.stderr, "says it is a cache hit")
    check("RunInstances" not in r.stderr and "CreateKeyPair" not in r.stderr and
          "ImportKeyPair" not in r.stderr, "no builder is created (trace has no create call)")
    check("DescribeImages" in r.stderr, "the trace shows the calls (DescribeImages)")
    check(TOKEN not in r.stdout + r.stderr, "the secret variable never appears")
    check(instance_count(ec2) == before, "no instance was launched")

    manifest = os.path.join(tmp, "manifest.json")
    r = kiln(url, "bake", profile, "--json", "--manifest", manifest)
    check(r.returncode == 0, "cache-hit bake --json exits 0")
    m = json.loads(r.stdout)
    check(m["image_id"] == cached and m["cache_hit"] is True, "manifest: image and cache_hit")
    check(m["bake_key"] == key, "kiln's bake key equals the independent one")
    check(m["region"] == REGION, "manifest: region")
    check(m["run_id"].startswith("bake-"), "manifest: run_id")
    check([l["name"] for l in m["layers"]] == ["os", "app"] and
          m["layers"][1]["commit"] == commits["app"] and len(m["layers"][1]["sha256"]) == 64,
          "manifest: layers with commits and digests")
    check("total" in m["timings"] and "layers" in m["timings"], "manifest: timings")
    with open(manifest) as f:
        check(json.load(f)["image_id"] == cached, "--manifest FILE is written")
    check(instance_count(ec2) == before, "still no instance launched")

    # A release tag: --app-ref v1.1.0 changes the key, so the cache does not answer;
    # the source filter is then changed so that the bake stops before any create.
    r = kiln(url, "bake", profile, "--app-ref", "no-such-tag")
    check(r.returncode == 2, "a missing tag is bad input: exit 2 (%d)" % r.returncode)
    check(len(r.stderr.strip().splitlines()[-1]) > 0 and "no-such-tag" in r.stderr,
          "the error names the tag")
    with open(profile) as f:
        p = json.load(f)
    p["bake"]["source_image"] = "ami-00000000000000000"
    bad = os.path.join(tmp, "bad-source.json")
    with open(bad, "w") as f:
        json.dump(p, f)
    r = kiln(url, "bake", bad)
    check(r.returncode == 1, "a source image that does not exist: exit 1 (%d)" % r.returncode)
    check("InvalidAMIID" in r.stderr or "no available source image" in r.stderr,
          "the remote error is shown: %s" % error_line(r.stderr))
    check(instance_count(ec2) == before, "nothing launched on failure")
    return profile


def kiln_key_pairs_and_groups(ec2):
    keys = [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]
            if k["KeyName"].startswith("kiln-bake-")]
    groups = [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]
              if g["GroupName"].startswith("kiln-bake-")]
    return keys, groups


def test_launch_failure(url, ec2, profile):
    """--force skips the cache; moto refuses the instance type, so the bake fails
    after the key pair and security group were made: both must go (or stay with
    --on-error abort, for kiln gc --run-id)."""
    before = instance_count(ec2)
    r = kiln(url, "bake", profile, "--force")
    check(r.returncode == 1, "a refused RunInstances fails the bake: exit 1 (%d)" % r.returncode)
    last = error_line(r.stderr)
    check("InvalidParameterValue" in last or NO_SUCH_TYPE in last,
          "the error carries the remote error: %r" % last)
    check("ImportKeyPair" in r.stderr and "CreateSecurityGroup" in r.stderr,
          "the temporaries were created first")
    check(kiln_key_pairs_and_groups(ec2) == ([], []),
          "the key pair and security group were removed: %s" %
          (kiln_key_pairs_and_groups(ec2),))
    check(instance_count(ec2) == before, "no instance")
    runs = os.path.join(tmp, "state", "runs")
    journal = [json.loads(l) for f in sorted(os.listdir(runs))
               for l in open(os.path.join(runs, f))]
    events = [(e["event"], e.get("kind")) for e in journal]
    check(events.index(("intent", "key-pair")) < events.index(("created", "key-pair")) <
          events.index(("intent", "security-group")) <
          events.index(("created", "security-group")) < events.index(("intent", "instance")),
          "the journal records each intent before its create")
    check(events.index(("deleted", "key-pair")) < events.index(("deleted", "security-group")),
          "the journal records the deletions, in reverse order of creation")
    check(TOKEN not in r.stdout + r.stderr and
          all(TOKEN not in json.dumps(e) for e in journal), "the secret is nowhere")

    r = kiln(url, "bake", profile, "--force", "--on-error", "abort")
    check(r.returncode == 1, "--on-error abort: still exit 1")
    keys, groups = kiln_key_pairs_and_groups(ec2)
    check(len(keys) == 1 and len(groups) == 1, "--on-error abort leaves the temporaries")
    hint = [l for l in r.stderr.splitlines() if "kiln gc --run-id" in l]
    check(len(hint) == 1, "and prints the command that removes them")
    if hint:
        run_id = hint[0].split("kiln gc --run-id ")[1].split()[0]
        r = kiln(url, "gc", "--run-id", run_id)
        check(r.returncode == 0, "kiln gc --run-id %s exits 0 (%s)" % (run_id, r.stderr[-500:]))
        check(kiln_key_pairs_and_groups(ec2) == ([], []), "gc --run-id removed them")


def builder_set(ec2, run_id, expires, role="builder", name=None):
    tags = [{"Key": "kiln:role", "Value": role}, {"Key": "kiln:run-id", "Value": run_id},
            {"Key": "kiln:expires", "Value": expires}, {"Key": "kiln:profile", "Value": "web"}]
    name = name or "kiln-" + run_id
    ec2.import_key_pair(KeyName=name, PublicKeyMaterial=(
        b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAufKrrgbysKfAWDeAbbIMerDQuJkSNzo+fL0EzPnaR9 t"),
        TagSpecifications=[{"ResourceType": "key-pair", "Tags": tags}])
    sg = ec2.create_security_group(GroupName=name, Description="test", TagSpecifications=[
        {"ResourceType": "security-group", "Tags": tags}])["GroupId"]
    inst = ec2.run_instances(ImageId=any_ami(ec2), MinCount=1, MaxCount=1, KeyName=name,
                             SecurityGroupIds=[sg], TagSpecifications=[
                                 {"ResourceType": "instance", "Tags": tags}])
    return {"instance": inst["Instances"][0]["InstanceId"], "key-pair": name,
            "security-group": sg}


def state_of(ec2, res):
    i = ec2.describe_instances(InstanceIds=[res["instance"]])
    st = i["Reservations"][0]["Instances"][0]["State"]["Name"]
    keys = [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]]
    groups = [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    return st, res["key-pair"] in keys, res["security-group"] in groups


def test_gc(url, ec2):
    shutil.rmtree(os.path.join(tmp, "state"), ignore_errors=True)  # no journal at all
    old = builder_set(ec2, "bake-old", "2020-01-01T00:00:00Z")
    live = builder_set(ec2, "bake-live", "2099-01-01T00:00:00Z")
    other = builder_set(ec2, "bake-other", "2020-01-01T00:00:00Z", role="fleet",
                        name="not-a-builder")

    r = kiln(url, "gc", "--dry-run", "--json")
    check(r.returncode == 0, "gc --dry-run exits 0 (%s)" % r.stderr[-1000:])
    items = json.loads(r.stdout)
    found = {(i["kind"], i["id"] if i["kind"] != "key-pair" else i["name"]) for i in items}
    want = {("instance", old["instance"]), ("key-pair", old["key-pair"]),
            ("security-group", old["security-group"])}
    check(found == want, "gc finds exactly the expired builder resources: %s" % sorted(found))
    check(all(not i["deleted"] and i["reason"] == "expired" for i in items),
          "dry run deletes nothing")
    check(state_of(ec2, old) == ("running", True, True), "dry run: all still there")

    r = kiln(url, "gc")
    check(r.returncode == 0, "gc exits 0 (%s)" % r.stderr[-1000:])
    lines = r.stdout.strip().splitlines()
    kinds = [l.split()[1] for l in lines]
    check(kinds == ["instance", "key-pair", "security-group"],
          "deleted in dependency order: %s" % lines)
    check(all(l.startswith("deleted ") for l in lines), "every line says deleted")
    check(state_of(ec2, old) == ("terminated", False, False), "expired resources are gone")
    check(state_of(ec2, live) == ("running", True, True), "a live bake's resources are kept")
    check(state_of(ec2, other) == ("running", True, True), "non-builder resources are kept")

    r = kiln(url, "gc", "--run-id", "bake-live", "--json")
    check(r.returncode == 0, "gc --run-id exits 0")
    items = json.loads(r.stdout)
    check(len(items) == 3 and all(i["reason"] == "run" and i["deleted"] for i in items),
          "gc --run-id deletes that run's three resources")
    check(state_of(ec2, live) == ("terminated", False, False), "the run's resources are gone")
    check(state_of(ec2, other) == ("running", True, True), "others still kept")

    r = kiln(url, "gc", "--run-id")
    check(r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1,
          "gc --run-id without a value: one line, exit 2")


def main():
    if not os.access(KILN, os.X_OK):
        print("FAIL: %s is not built" % KILN)
        return 1
    url = start_moto()
    ec2 = ec2_client(url)
    profile = test_cache_hit(url, ec2)
    test_launch_failure(url, ec2, profile)
    test_gc(url, ec2)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        stop_moto()
        if not failures:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)
    sys.exit(rc)
