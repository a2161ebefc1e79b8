#!/usr/bin/env python3
"""`kiln whoami` against moto_server (an AWS emulator written by others),
started on a free loopback port by this test, compared with botocore's own
GetCallerIdentity against the same server; then role assumption from a
profile (AssumeRole through moto), and the JSON and text outputs.

Exits 77 (skipped) when moto or botocore is not importable.
"""
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

BUILD = os.environ.get("KILN_BUILD_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
KILN = os.environ.get("KILN_BIN") or os.path.join(BUILD, "kiln")

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "moto-test-secret-wJalrXUtnFEMI/K7MDENG"
REGION = "eu-west-1"

failures = []
tmp = tempfile.mkdtemp(prefix="kiln-whoami-moto-")
MOTO = motoserver.Moto(tmp)


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def start_moto():
    return MOTO.start()


def stop_moto():
    MOTO.stop()


def env_for(url, **extra):
    return motoserver.client_env(tmp, REGION, AWS_ENDPOINT_URL_STS=url, **extra)


def kiln(env, *args):
    r = subprocess.run([KILN, *args], env=env, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def botocore_identity(url):
    s = botocore.session.Session()
    c = s.create_client("sts", region_name=REGION, endpoint_url=url, aws_access_key_id=AKID,
                        aws_secret_access_key=SECRET)
    r = c.get_caller_identity()
    return {"account": r["Account"], "arn": r["Arn"], "user_id": r["UserId"]}


def main():
    url = start_moto()
    ref = botocore_identity(url)

    env = env_for(url, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET)
    rc, out, err = kiln(env, "whoami", "--json")
    check(rc == 0, "whoami against moto exits 0 (got %d: %s)" % (rc, err))
    if rc == 0:
        j = json.loads(out)
        check(sorted(j) == ["account", "arn", "endpoint", "region", "source", "user_id"],
              "json keys: %s" % sorted(j))
        for k in ("account", "arn", "user_id"):
            check(j[k] == ref[k], "%s: kiln %r, botocore %r" % (k, j[k], ref[k]))
        check(j["region"] == REGION and j["endpoint"] == url and j["source"] == "environment",
              "region, endpoint and source: %r" % j)
        check(SECRET not in out + err, "the secret leaked")

    rc, out, err = kiln(env, "whoami")
    check(rc == 0 and ref["arn"] in out and "environment" in out, "text output: %r" % out)

    # A profile that assumes a role through moto's STS.
    with open(os.path.join(tmp, "credentials"), "w") as f:
        f.write("[base]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (AKID, SECRET))
    with open(os.path.join(tmp, "config"), "w") as f:
        f.write("[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/kiln-ops\n"
                "source_profile = base\nrole_session_name = kiln-moto\n"
                "duration_seconds = 900\nregion = %s\n" % REGION)
    env = env_for(url, AWS_PROFILE="ops", KILN_TRACE="aws,http")
    rc, out, err = kiln(env, "-vvv", "whoami", "--json")
    check(rc == 0, "assume-role whoami against moto exits 0: %s" % err)
    if rc == 0:
        j = json.loads(out)
        check(j["source"] == "assume-role:profile:ops", "source %r" % j["source"])
        check(":assumed-role/kiln-ops/kiln-moto" in j["arn"], "assumed-role arn %r" % j["arn"])
        check(SECRET not in out + err, "the source profile's secret leaked")
        check("AssumeRole" in err, "the trace names the AssumeRole call")

    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        stop_moto()
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(rc)
