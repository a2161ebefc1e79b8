#!/usr/bin/env python3
"""Differential SigV4 test: kiln's signer against botocore's.

Generates a few hundred requests (reserved, UTF-8 and repeated characters in
paths and queries, repeated keys, empty values, folded header whitespace,
repeated and unsigned headers, empty and large bodies, with and without a
session token), signs each with botocore.auth.SigV4Auth at a fixed time and
with kiln (tests/fixtures/sigv4_tool.c) and requires identical
Authorization, X-Amz-Date and X-Amz-Security-Token headers. Then kiln's
verifier must accept every botocore-signed request and reject each one altered
after signing (method, path, a query value, a signed header, the body) with
SignatureDoesNotMatch.

Exits 77 (skipped) when botocore cannot be imported.
"""
import datetime
import hashlib
import json
import os
import random
import sys
from unittest import mock
from urllib.parse import quote, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import sigv4tool  # noqa: E402

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    print("SKIP: botocore is not importable")
    sys.exit(77)

N_REQUESTS = 320
FIXED = datetime.datetime(2026, 11, 23, 5, 21, 50, tzinfo=datetime.timezone.utc)
FIXED_EPOCH = int(FIXED.timestamp())
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token=="
UNSIGNED = "UNSIGNED-PAYLOAD"

CHARS = (
    "abcXYZ019-_.~"  # unreserved
    "!*'();:@&=+$,"  # reserved
    " %"  # space and a bare percent
    "\u00e9\u65e5\u672c\U0001f600"  # UTF-8 of 2, 3 and 4 bytes
)


def rand_text(rng, lo, hi, pool=CHARS):
    return "".join(rng.choice(pool) for _ in range(rng.randint(lo, hi)))


def gen_path(rng):
    segs = []
    for _ in range(rng.randint(0, 5)):
        kind = rng.random()
        if kind < 0.15:
            segs.append(rng.choice([".", "..", ""]))
        elif kind < 0.55:
            # Already percent-encoded on the wire: botocore encodes it again.
            segs.append(quote(rand_text(rng, 1, 8), safe=rng.choice(["", "~", "!*'()"])))
        else:
            # Raw characters (no '?', '#' or controls, which end or break a URL path).
            segs.append(rand_text(rng, 1, 8).replace("%", "%25"))
    path = "/" + "/".join(segs)
    if rng.random() < 0.2:
        path += "/"
    if rng.random() < 0.1:
        path = path.replace("/", "//", 1)
    return path


def gen_params(rng):
    params = []
    keys = ["Action", "Version", "Filter.1.Name", "Filter.1.Value.1", "a", "A", "b~", "k_ey"]
    for _ in range(rng.randint(0, 6)):
        r = rng.random()
        if r < 0.4:
            k = rng.choice(keys)
        else:
            k = rand_text(rng, 1, 6)
        v = "" if rng.random() < 0.2 else rand_text(rng, 0, 10)
        params.append((k, v))
        if rng.random() < 0.25:  # repeated key, different value
            params.append((k, rand_text(rng, 0, 4)))
    return params


def gen_headers(rng, body):
    host = rng.choice(["ec2.us-east-1.amazonaws.com", "127.0.0.1:8443", "Example.COM"])
    headers = [("Host", host)]
    if rng.random() < 0.5:
        headers.append(("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"))
    for _ in range(rng.randint(0, 4)):
        name = rng.choice(["X-Amz-Meta-Foo", "x-custom", "X-CUSTOM-two", "My-Header", "Accept"])
        value = rng.choice(
            [
                "  leading and trailing  ",
                "inner   runs\t\tof  \t whitespace",
                "plain",
                "",
                "a,b, c",
                '"quoted   value"',
                rand_text(rng, 0, 12, "abc XYZ\t=;,:/"),
                # Python's str.split() folds Unicode spaces too (NBSP, U+2003, U+3000).
                " caf\u00e9\u00a0\u00a0au\u2003lait\u3000\u65e5 ",
            ]
        )
        headers.append((name, value))
    if rng.random() < 0.3:
        headers.append(("User-Agent", "kiln-test/1.0 (unsigned)"))
    if rng.random() < 0.15:
        headers.append(("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793"))
    if rng.random() < 0.1:
        headers.append(("Expect", "100-continue"))
    if rng.random() < 0.1:
        headers.append(("X-Amz-Content-SHA256", rng.choice([UNSIGNED, hashlib.sha256(body).hexdigest()])))
    return headers


def gen_body(rng):
    r = rng.random()
    if r < 0.35:
        return b""
    if r < 0.9:
        return rand_text(rng, 1, 200).encode("utf-8")
    return rng.randbytes(rng.randint(64 * 1024, 200 * 1024))


def botocore_sign(case):
    creds = Credentials(ACCESS_KEY, SECRET_KEY, case["token"])
    url = "https://" + case["host"] + case["path"]
    if case["url_query"] is not None:
        url += "?" + case["url_query"]
    req = AWSRequest(method=case["method"], url=url, data=case["body"])
    if case["params"] is not None:
        req.params = case["params"]
    for k, v in case["headers"]:
        req.headers[k] = v  # HTTPMessage appends, so repeated names are kept
    signer = botocore.auth.SigV4Auth(creds, case["service"], case["region"])
    with mock.patch("botocore.auth.get_current_datetime", return_value=FIXED.replace(tzinfo=None)):
        signer.add_auth(req)
    return req


def wire_query(case):
    if case["url_query"] is not None:
        return case["url_query"]
    if case["params"]:
        return "&".join(quote(k, safe="") + "=" + quote(str(v), safe="") for k, v in case["params"])
    return ""


def make_cases(rng):
    cases = []
    for i in range(N_REQUESTS):
        body = gen_body(rng)
        headers = gen_headers(rng, body)
        params = gen_params(rng)
        url_query = None
        if params and rng.random() < 0.3:
            # A query already in canonical form inside the URL: botocore then sorts
            # the raw pairs, kiln decodes and re-encodes; both must agree.
            pairs = [quote(k, safe="-_.~") + "=" + quote(v, safe="-_.~") for k, v in params]
            if rng.random() < 0.3:
                pairs.append("flag")  # a key without '='
            url_query = "&".join(pairs)
            params = None
        cases.append(
            {
                "method": rng.choice(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"]),
                "path": gen_path(rng),
                "params": params,
                "url_query": url_query,
                "headers": headers,
                "host": headers[0][1],
                "body": body,
                "token": TOKEN if rng.random() < 0.4 else None,
                "region": rng.choice(["us-east-1", "eu-west-3", "ap-southeast-2"]),
                "service": rng.choice(["ec2", "elasticloadbalancing", "autoscaling", "sts", "ssm"]),
            }
        )
    return cases


def tool_line(op, case, method, path, query, header_lines, body, secret=SECRET_KEY, when=FIXED_EPOCH):
    return json.dumps(
        {
            "op": op,
            "method": method,
            "path": path,
            "query": query,
            "headers": header_lines,
            "body_hex": body.hex(),
            "access_key": ACCESS_KEY,
            "secret_key": secret,
            "token": case["token"],
            "region": case["region"],
            "service": case["service"],
            "time": when,
        }
    )


def alter_query(query):
    pairs = query.split("&") if query else []
    for i, p in enumerate(pairs):
        if "=" in p:
            k, v = p.split("=", 1)
            pairs[i] = k + "=" + v + "X"
            return "&".join(pairs)
    return "&".join(pairs + ["Injected=1"])


def main():
    rng = random.Random(20261123)
    cases = make_cases(rng)

    # 1. kiln signs exactly as botocore does.
    sign_lines = []
    signed = []
    for case in cases:
        req = botocore_sign(case)
        signed.append(req)
        path = urlsplit(req.url).path
        hdr_lines = ["%s: %s" % (k, v) for k, v in case["headers"]]
        sign_lines.append(tool_line("sign", case, case["method"], path, wire_query(case), hdr_lines, case["body"]))
    results = sigv4tool.run(sign_lines)
    failures = 0
    for i, (case, req, res) in enumerate(zip(cases, signed, results)):
        want_auth = "Authorization: " + req.headers["Authorization"]
        want_date = "X-Amz-Date: " + req.headers["X-Amz-Date"]
        want_tok = "X-Amz-Security-Token: " + TOKEN if case["token"] else None
        if (
            res.get("authorization") != want_auth
            or res.get("x_amz_date") != want_date
            or res.get("security_token") != want_tok
        ):
            failures += 1
            if failures <= 5:
                print("MISMATCH case %d: path=%r query=%r headers=%r" % (i, case["path"], wire_query(case), case["headers"]))
                print("  botocore: %s" % want_auth)
                print("  kiln:     %s" % res.get("authorization", res.get("error")))
    if failures:
        print("%d of %d signatures differ from botocore" % (failures, len(cases)), file=sys.stderr)
        return 1
    print("signing: %d requests, all Authorization headers identical to botocore" % len(cases))

    # 2. kiln's verifier accepts botocore's requests and rejects altered ones.
    verify_lines = []
    expect = []
    for i, (case, req) in enumerate(zip(cases, signed)):
        path = urlsplit(req.url).path
        query = wire_query(case)
        hdrs = ["%s: %s" % (k, v) for k, v in req.headers.items()]
        body = case["body"]
        payload_hash_header = any(k.lower() == "x-amz-content-sha256" for k, _ in req.headers.items())

        def add(label, method=case["method"], p=path, q=query, h=hdrs, b=body, code=None, **kw):
            verify_lines.append(tool_line("verify", case, method, p, q, h, b, **kw))
            expect.append((i, label, code))

        add("as signed")
        add("method", method="OPTIONS" if case["method"] != "OPTIONS" else "GET", code="SignatureDoesNotMatch")
        add("path", p=path.rstrip("/") + "/x", code="SignatureDoesNotMatch")
        add("query value", q=alter_query(query), code="SignatureDoesNotMatch")
        altered = [("Host: evil.example" if l.lower().startswith("host:") else l) for l in hdrs]
        add("signed header Host", h=altered, code="SignatureDoesNotMatch")
        altered = [(l + "x" if l.lower().startswith("x-amz-date:") else l) for l in hdrs]
        add("signed header X-Amz-Date", h=altered, code="IncompleteSignature")
        if payload_hash_header:
            altered = [
                ("X-Amz-Content-SHA256: " + "0" * 64 if l.lower().startswith("x-amz-content-sha256:") else l)
                for l in hdrs
            ]
            add("payload hash header", h=altered, code="SignatureDoesNotMatch")
            unsigned = req.headers["X-Amz-Content-SHA256"] == UNSIGNED
            # UNSIGNED-PAYLOAD leaves the body out of the signature, as on AWS.
            add("body (hash header)", b=body + b"!", code=None if unsigned else "SignatureDoesNotMatch")
        else:
            add("body", b=body + b"!", code="SignatureDoesNotMatch")
            # An unsigned hash header must not stand in for a replaced body.
            forged = hdrs + ["X-Amz-Content-SHA256: " + hashlib.sha256(body).hexdigest()]
            add("body with forged hash header", h=forged, b=body + b"!", code="SignatureDoesNotMatch")
        add("unsigned header added", h=hdrs + ["User-Agent: changed/2.0"])
        add("wrong secret", secret=SECRET_KEY[:-1] + "Z", code="SignatureDoesNotMatch")
        add("clock skew", when=FIXED_EPOCH + 3600, code="RequestExpired")
        if i % 10 == 0:
            add("no authorization", h=[l for l in hdrs if not l.lower().startswith("authorization:")], code="IncompleteSignature")
    results = sigv4tool.run(verify_lines)
    failures = 0
    for (i, label, code), res in zip(expect, results):
        ok = res.get("ok") is True if code is None else (res.get("ok") is False and res.get("code") == code)
        if not ok:
            failures += 1
            if failures <= 10:
                print("VERIFY case %d (%s): want %s, got %r" % (i, label, code or "accept", res))
    if failures:
        print("%d of %d verifications wrong" % (failures, len(expect)), file=sys.stderr)
        return 1
    print("verification: %d checks (%d requests), all as expected" % (len(expect), len(cases)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
