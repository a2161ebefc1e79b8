#!/usr/bin/env python3
"""SSM Parameter Store of the local cloud through botocore's own client
(SSM's JSON 1.1 protocol), what kiln's deploy lease relies on:

- PutParameter without Overwrite creates only if absent
  (ParameterAlreadyExists, HTTP 400, modeled exception), with Overwrite it
  bumps the version; tags and Overwrite together are refused;
- GetParameter, GetParameters (InvalidParameters), ParameterNotFound;
- a SecureString comes back as its text only WithDecryption;
- GetParametersByPath: one level or recursive, pages of MaxResults with
  NextToken (botocore's paginator), a path without '/' refused;
- DeleteParameter, then ParameterNotFound;
- names AWS refuses (reserved prefixes, a hierarchy without a leading '/');
- replies are application/x-amz-json-1.1 and the request log names the
  operations;
- parameters survive a kill -9 of the daemon and a restart.

Exit 1 on any failure, 77 to skip (not root, no botocore).
"""
import json
import os
import signal
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
try:
    from botocore.exceptions import ClientError
    import lctest
except ImportError:
    print("skipped: no botocore")
    sys.exit(77)

PORT = 4633
CIDR = "10.214.23.0/24"
R = lctest.Results()


def expect_error(name, code, fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        err = e.response["Error"]
        return R.check(name, err["Code"] == code and
                       e.response["ResponseMetadata"]["HTTPStatusCode"] == 400,
                       "got %s (%s), want %s" % (err["Code"], err.get("Message"), code))
    return R.check(name, False, "succeeded, want " + code)


def api(ssm):
    v = ssm.put_parameter(Name="/kiln/lease/web/dev", Value='{"run_id":"a"}', Type="String")
    R.check("PutParameter creates (version 1)", v["Version"] == 1, v)
    expect_error("PutParameter of an existing name without Overwrite", "ParameterAlreadyExists",
                 ssm.put_parameter, Name="/kiln/lease/web/dev", Value="b", Type="String")
    try:
        ssm.put_parameter(Name="/kiln/lease/web/dev", Value="b", Type="String")
    except ssm.exceptions.ParameterAlreadyExists:
        R.ok("botocore raises its modeled ParameterAlreadyExists")
    except ClientError as e:
        R.bad("botocore raises its modeled ParameterAlreadyExists", e)
    v = ssm.put_parameter(Name="/kiln/lease/web/dev", Value='{"run_id":"b"}', Overwrite=True)
    p = ssm.get_parameter(Name="/kiln/lease/web/dev")["Parameter"]
    R.check("Overwrite replaces the value, version 2",
            v["Version"] == 2 and p["Value"] == '{"run_id":"b"}' and p["Version"] == 2 and
            p["Type"] == "String" and p["ARN"].endswith(":parameter/kiln/lease/web/dev"), p)
    expect_error("Tags with Overwrite refused", "ValidationException", ssm.put_parameter,
                 Name="/kiln/x", Value="v", Type="String", Overwrite=True,
                 Tags=[{"Key": "k", "Value": "v"}])
    expect_error("a new parameter needs a type", "ValidationException", ssm.put_parameter,
                 Name="/kiln/untyped", Value="v")
    expect_error("GetParameter of a missing name", "ParameterNotFound", ssm.get_parameter,
                 Name="/kiln/nope")
    ssm.put_parameter(Name="/kiln/secret", Value="s3cr3t-value", Type="SecureString",
                      Tags=[{"Key": "kiln:managed", "Value": "true"}])
    enc = ssm.get_parameter(Name="/kiln/secret")["Parameter"]["Value"]
    dec = ssm.get_parameter(Name="/kiln/secret", WithDecryption=True)["Parameter"]["Value"]
    R.check("a SecureString is its text only WithDecryption",
            dec == "s3cr3t-value" and "s3cr3t" not in enc, (enc, dec))
    got = ssm.get_parameters(Names=["/kiln/secret", "/kiln/missing"], WithDecryption=True)
    R.check("GetParameters lists the unknown names",
            [p["Name"] for p in got["Parameters"]] == ["/kiln/secret"] and
            got["InvalidParameters"] == ["/kiln/missing"], got)

    for i in range(13):
        ssm.put_parameter(Name="/kiln/lease/many/e%02d" % i, Value="v%d" % i, Type="String")
    ssm.put_parameter(Name="/kiln/lease/many/deep/x", Value="deep", Type="String")
    one = ssm.get_parameters_by_path(Path="/kiln/lease/many", MaxResults=10)
    R.check("GetParametersByPath: a page of 10 and a NextToken",
            len(one["Parameters"]) == 10 and one.get("NextToken"), one.get("NextToken"))
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path="/kiln/lease/many",
                                                                  PaginationConfig={"PageSize": 4})
    names = [p["Name"] for page in pages for p in page["Parameters"]]
    R.check("one level: 13 names over pages, not the deeper one",
            len(names) == 13 and "/kiln/lease/many/deep/x" not in names, names)
    names = [p["Name"] for page in ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/kiln/lease/", Recursive=True) for p in page["Parameters"]]
    R.check("recursive: every name below, a trailing '/' allowed",
            len(names) == 15 and "/kiln/lease/many/deep/x" in names and
            "/kiln/lease/web/dev" in names and "/kiln/secret" not in names, names)
    expect_error("a path must start with '/'", "ValidationException",
                 ssm.get_parameters_by_path, Path="kiln")
    expect_error("a reserved prefix is refused", "ValidationException", ssm.put_parameter,
                 Name="/aws/x", Value="v", Type="String")
    expect_error("a hierarchy without a leading '/' is refused", "ValidationException",
                 ssm.put_parameter, Name="kiln/x", Value="v", Type="String")
    ssm.delete_parameter(Name="/kiln/lease/many/e00")
    expect_error("DeleteParameter twice: ParameterNotFound", "ParameterNotFound",
                 ssm.delete_parameter, Name="/kiln/lease/many/e00")


def wire(cloud):
    """The reply's content type, from a raw signed request made by botocore."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=cloud.endpoint + "/", data=json.dumps({"Name": "/kiln/secret"}),
        headers={"X-Amz-Target": "AmazonSSM.GetParameter",
                 "Content-Type": "application/x-amz-json-1.1"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "ssm",
                            "us-east-1").add_auth(req)
    r = urllib.request.urlopen(urllib.request.Request(
        req.url, data=req.body.encode() if isinstance(req.body, str) else req.body,
        headers=dict(req.headers.items()), method="POST"), timeout=10)
    R.check("replies are application/x-amz-json-1.1",
            r.headers.get("Content-Type") == "application/x-amz-json-1.1",
            r.headers.get("Content-Type"))
    with open(os.path.join(cloud.state, "requests.jsonl")) as f:
        ops = {json.loads(line)["action"] for line in f if '"ssm"' in line}
    R.check("the request log names the SSM operations",
            {"PutParameter", "GetParameter", "GetParametersByPath", "DeleteParameter"} <= ops,
            ops)


def restart(cloud, ssm):
    with open(os.path.join(cloud.state, "cloud.pid")) as f:
        pid = int(f.read().strip())
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        try:
            os.kill(pid, 0)
            time.sleep(0.05)
        except ProcessLookupError:
            break
    if not cloud.up():
        return
    p = cloud.client("ssm").get_parameter(Name="/kiln/lease/web/dev")["Parameter"]
    R.check("a parameter survives kill -9 and a restart", p["Version"] == 2, p)


def body(cloud):
    if not cloud.up():
        return
    ssm = cloud.client("ssm")
    api(ssm)
    wire(cloud)
    restart(cloud, ssm)


if __name__ == "__main__":
    sys.exit(lctest.run_test(R, PORT, CIDR, body))
