#!/usr/bin/env python3
"""`kiln whoami` against the loopback fixture (tests/fixtures/aws_fixture_server),
which checks SigV4 signatures with kiln's verifier.

- the right secret: exit 0, the JSON keys exactly as documented;
- a wrong secret: exit 1 and one line on stderr with SignatureDoesNotMatch;
- an unknown key: exit 1 with InvalidClientTokenId;
- bad usage and a missing region: exit 2;
- secrets: with -vvv and KILN_TRACE=aws,http, through retries, role
  assumption and instance metadata, no secret key, session token or IMDS
  token appears in stdout or stderr.

Only loopback addresses are used; instance metadata is disabled or pointed at
the fixture in every run.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ.get("KILN_BUILD_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
KILN = os.environ.get("KILN_BIN") or os.path.join(BUILD, "kiln")
FIXTURE = os.path.join(BUILD, "aws_fixture_server")

AKID = "AKIDWHOAMIFIXTURE"
SECRET = "whoami-right-secret-Kq8/zP2+rT"
TOKEN = "whoami-session-token-FwoGZXIvYXdzEJr//////////"

procs = []
tmp = tempfile.mkdtemp(prefix="kiln-whoami-")


def start_fixture(*args):
    p = subprocess.Popen([FIXTURE, "--lifetime", "120", "--access-key", AKID, "--secret", SECRET,
                          *args], stdout=subprocess.PIPE)
    procs.append(p)
    port = int(p.stdout.readline())
    return "http://127.0.0.1:%d" % port


def base_env(**extra):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tmp,
        "AWS_CONFIG_FILE": os.path.join(tmp, "config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmp, "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "eu-west-1",
        "AWS_RETRY_MODE": "standard",
    }
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(extra)
    return env


def kiln(env, *args):
    r = subprocess.run([KILN, *args], env=env, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def no_secrets(out, err, secrets, what):
    for s in secrets:
        check(s not in out and s not in err, "%s: a secret leaked (%s...)" % (what, s[:6]))


def main():
    url = start_fixture()

    # The right secret: the identity, as JSON with exactly the documented keys.
    env = base_env(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
                   AWS_ENDPOINT_URL_STS=url)
    rc, out, err = kiln(env, "whoami", "--json")
    check(rc == 0, "whoami with the right secret exits 0 (got %d: %s)" % (rc, err))
    if rc == 0:
        j = json.loads(out)
        check(sorted(j) == ["account", "arn", "endpoint", "region", "source", "user_id"],
              "json keys: %s" % sorted(j))
        check(j["account"] == "123456789012", "account")
        check(j["user_id"] == AKID, "user_id")
        check(j["arn"] == "arn:aws:iam::123456789012:user/" + AKID, "arn")
        check(j["region"] == "eu-west-1", "region")
        check(j["endpoint"] == url, "endpoint")
        check(j["source"] == "environment", "source")
    rc, out, err = kiln(env, "whoami")
    check(rc == 0 and "123456789012" in out and "environment" in out, "text output")

    # A wrong secret: one line naming SignatureDoesNotMatch, exit 1.
    env = base_env(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY="not-the-secret-at-all",
                   AWS_ENDPOINT_URL_STS=url)
    rc, out, err = kiln(env, "whoami")
    lines = err.strip().splitlines()
    check(rc == 1, "wrong secret exits 1 (got %d)" % rc)
    check(len(lines) == 1 and "SignatureDoesNotMatch" in lines[0],
          "wrong secret: one line with SignatureDoesNotMatch: %r" % err)
    check(out == "", "wrong secret: nothing on stdout")
    no_secrets(out, err, ["not-the-secret-at-all"], "wrong secret")

    # An unknown access key.
    env = base_env(AWS_ACCESS_KEY_ID="AKIDUNKNOWN", AWS_SECRET_ACCESS_KEY="whatever-secret",
                   AWS_ENDPOINT_URL_STS=url)
    rc, out, err = kiln(env, "whoami", "--json")
    check(rc == 1 and "InvalidClientTokenId" in err and len(err.strip().splitlines()) == 1,
          "unknown key: exit 1 with InvalidClientTokenId: %r" % err)

    # Bad input exits 2.
    rc, out, err = kiln(env, "whoami", "--bogus")
    check(rc == 2 and len(err.strip().splitlines()) == 1, "unknown option exits 2")
    env = base_env(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET)
    del env["AWS_REGION"]
    rc, out, err = kiln(env, "whoami")
    check(rc == 2 and "no AWS region" in err, "no region exits 2: %r" % err)

    # Secrets at every verbosity: env keys with a session token, through retries.
    url_t = start_fixture("--fail", "Throttling:400:2")
    env = base_env(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
                   AWS_SESSION_TOKEN=TOKEN, AWS_ENDPOINT_URL_STS=url_t,
                   KILN_TRACE="aws,http")
    rc, out, err = kiln(env, "-vvv", "whoami", "--json")
    check(rc == 0, "traced whoami through throttling exits 0: %s" % err)
    check("retrying" in err and "trace http" in err and "Authorization" in err,
          "the trace shows the retries and the request headers")
    no_secrets(out, err, [SECRET, TOKEN], "env credentials traced")

    # Role assumption from a profile: source keys and issued keys stay hidden.
    with open(os.path.join(tmp, "credentials"), "w") as f:
        f.write("[base]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (AKID, SECRET))
    with open(os.path.join(tmp, "config"), "w") as f:
        f.write("[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\n"
                "source_profile = base\nexternal_id = ext-1\n")
    env = base_env(AWS_PROFILE="deploy", AWS_ENDPOINT_URL=url, KILN_TRACE="aws,http")
    rc, out, err = kiln(env, "-vvv", "whoami", "--json")
    check(rc == 0, "assume-role whoami exits 0: %s" % err)
    if rc == 0:
        j = json.loads(out)
        check(j["source"] == "assume-role:profile:deploy", "assume-role source")
        check(j["user_id"].startswith("ASIAFIX"), "whoami acts as the assumed role")
        issued = j["user_id"]
        no_secrets(out, err, [SECRET, "issued-secret-for-" + issued], "assume-role traced")
        check("issued-token-" not in out + err, "assume-role: session token leaked")
    os.unlink(os.path.join(tmp, "config"))
    os.unlink(os.path.join(tmp, "credentials"))

    # Instance metadata (served by the fixture): the IMDS token and issued keys stay hidden.
    url_i = start_fixture()
    env = base_env(AWS_ENDPOINT_URL_STS=url_i, AWS_EC2_METADATA_SERVICE_ENDPOINT=url_i,
                   KILN_TRACE="aws,http")
    del env["AWS_EC2_METADATA_DISABLED"]
    rc, out, err = kiln(env, "-vvv", "whoami", "--json")
    check(rc == 0, "imds whoami exits 0: %s" % err)
    if rc == 0:
        j = json.loads(out)
        check(j["source"] == "imds" and j["user_id"] == "ASIAFIX000001", "imds identity")
    no_secrets(out, err, ["issued-secret-for-ASIAFIX000001", "issued-token-000001",
                          "imds-token-5f2b9c0e7a1d"], "imds traced")

    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    if not os.path.exists(FIXTURE):
        print("FAIL: %s not built" % FIXTURE)
        sys.exit(1)
    try:
        rc = main()
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(rc)
