#!/usr/bin/env python3
"""Differential error parsing: kiln_aws_error_parse() against botocore's parsers.

Generates error replies in the three shapes kiln meets (EC2's
Response/Errors/Error, the Query services' ErrorResponse/Error, JSON 1.1
{"__type": ...}), with escaped and UTF-8 text, CDATA, namespaces, pretty
printing and reordered elements, parses each with botocore (ec2, query and
json parsers) and with kiln (tests/fixtures/sigv4_tool.c, op "error"), and
requires the same code, message and request id. Bodies that are no error
(success replies, HTML, garbage) must be reported as not found by kiln.

Exits 77 (skipped) when botocore cannot be imported.
"""
import json
import os
import random
import sys
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import sigv4tool  # noqa: E402

try:
    from botocore import parsers
except ImportError:
    print("SKIP: botocore is not importable")
    sys.exit(77)

N_BODIES = 240
CODES = [
    "InvalidAMIID.NotFound",
    "InvalidInstanceID.Malformed",
    "LoadBalancerNotFound",
    "ValidationError",
    "Throttling",
    "RequestLimitExceeded",
    "AccessDenied",
    "ParameterNotFound",
    "SignatureDoesNotMatch",
]
TEXT = "abc XYZ 019 &<>\"' []:/.-_\u00e9\u65e5\u672c\U0001f600"


def rand_text(rng, lo, hi):
    return "".join(rng.choice(TEXT) for _ in range(rng.randint(lo, hi))).strip()


def xml_text(rng, s):
    if s and rng.random() < 0.2 and "]]>" not in s:
        return "<![CDATA[" + s + "]]>"
    return escape(s, {'"': "&quot;", "'": "&apos;"} if rng.random() < 0.5 else {})


def join(rng, parts):
    sep = rng.choice(["", "\n", "\n  "])
    return sep.join(parts)


def gen_ec2(rng, code, msg, rid):
    err = ["<Code>%s</Code>" % code, "<Message>%s</Message>" % xml_text(rng, msg)]
    rng.shuffle(err)
    parts = ["<Errors><Error>" + join(rng, err) + "</Error></Errors>", "<RequestID>%s</RequestID>" % rid]
    rng.shuffle(parts)
    decl = '<?xml version="1.0" encoding="UTF-8"?>\n' if rng.random() < 0.7 else ""
    return decl + "<Response>" + join(rng, parts) + "</Response>"


def gen_query(rng, code, msg, rid):
    err = ["<Type>%s</Type>" % rng.choice(["Sender", "Receiver"]), "<Code>%s</Code>" % code,
           "<Message>%s</Message>" % xml_text(rng, msg)]
    rng.shuffle(err)
    ns = rng.choice(["", ' xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"',
                     ' xmlns="https://sts.amazonaws.com/doc/2011-06-15/"'])
    parts = ["<Error>" + join(rng, err) + "</Error>", "<RequestId>%s</RequestId>" % rid]
    rng.shuffle(parts)
    return "<ErrorResponse%s>" % ns + join(rng, parts) + "</ErrorResponse>"


def gen_json(rng, code, msg):
    prefix = rng.choice(["", "com.amazonaws.ssm#", "com.amazon.coral.service#"])
    obj = {"__type": prefix + code, rng.choice(["message", "Message"]): msg}
    return json.dumps(obj, ensure_ascii=rng.random() < 0.5)


def main():
    rng = random.Random(1123)
    cases = []
    for i in range(N_BODIES):
        code = rng.choice(CODES)
        msg = rand_text(rng, 0, 60)
        rid = "%08x-%04x-4%03x-example" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12))
        kind = ["ec2", "query", "json"][i % 3]
        if kind == "ec2":
            body = gen_ec2(rng, code, msg, rid)
        elif kind == "query":
            body = gen_query(rng, code, msg, rid)
        else:
            body = gen_json(rng, code, msg)
        status = rng.choice([400, 403, 404, 500, 503])
        cases.append((kind, body.encode("utf-8"), status))
    not_errors = [
        b"<DescribeImagesResponse><imagesSet/></DescribeImagesResponse>",
        b"<html><body>Bad Gateway</body></html>",
        b'{"Parameter": {"Name": "x", "Value": "y"}}',
        b"",
        b"\x00\xffgarbage",
        b"<Response><Errors><Error><Code>",
    ]

    lines = [json.dumps({"op": "error", "body_hex": b.hex(), "status": st}) for _, b, st in cases]
    lines += [json.dumps({"op": "error", "body_hex": b.hex(), "status": 502}) for b in not_errors]
    results = sigv4tool.run(lines)

    failures = 0
    for (kind, body, status), got in zip(cases, results):
        ref = parsers.create_parser(kind).parse({"body": body, "headers": {}, "status_code": status}, None)
        # botocore says None for an empty element; kiln's fixed fields say "".
        want = (True, ref["Error"].get("Code") or "", ref["Error"].get("Message") or "",
                ref["ResponseMetadata"].get("RequestId") or "", status)
        have = (got["found"], got["code"], got["message"], got["request_id"], got["status"])
        if want != have:
            failures += 1
            if failures <= 5:
                print("MISMATCH %s body=%r\n  botocore: %r\n  kiln:     %r" % (kind, body, want, have))
    for body, got in zip(not_errors, results[len(cases):]):
        if got["found"] or got["status"] != 502:
            failures += 1
            print("NOT AN ERROR but kiln found one: body=%r got=%r" % (body, got))
    if failures:
        print("%d error bodies parsed differently from botocore" % failures, file=sys.stderr)
        return 1
    print("errors: %d bodies parsed as botocore parses them, %d non-errors refused" % (len(cases), len(not_errors)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
