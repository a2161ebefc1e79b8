#!/usr/bin/env python3
"""Differential Query-protocol encoding: kiln's aws/query.c against Python's.

botocore sends Query bodies through urllib's urlencode() (quote_plus: '+'
for space); the local cloud parses them with kiln_query_parse(), so every
generated parameter list encoded by Python must parse back identically in
kiln. The other way, kiln_query_encode() must produce exactly the RFC 3986
form (quote(safe='-_.~')) and parse back identically with parse_qsl().
Repeated keys, empty values, '+', '&', '=', '%', UTF-8 and EC2/member list
names are all generated.

Exits 77 (skipped) when botocore cannot be imported (it is the reason this
encoding matters; the comparison itself uses urllib).
"""
import json
import os
import random
import sys
from urllib.parse import parse_qsl, quote, urlencode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import sigv4tool  # noqa: E402

try:
    import botocore  # noqa: F401
except ImportError:
    print("SKIP: botocore is not importable")
    sys.exit(77)

N_LISTS = 300
TEXT = "abcXYZ019-_.~ +&=%#?/:;,@!$'()*[]\t\u00e9\u65e5\U0001f600"


def rand_text(rng, lo, hi):
    return "".join(rng.choice(TEXT) for _ in range(rng.randint(lo, hi)))


def gen_params(rng):
    params = [("Action", rng.choice(["DescribeImages", "RunInstances", "CreateTargetGroup"])),
              ("Version", rng.choice(["2016-11-15", "2015-12-01", "2011-01-01"]))]
    for _ in range(rng.randint(0, 8)):
        r = rng.random()
        if r < 0.3:
            k = "Filter.%d.Value.%d" % (rng.randint(1, 3), rng.randint(1, 3))
        elif r < 0.5:
            k = "Tags.member.%d.Key" % rng.randint(1, 4)
        else:
            k = rand_text(rng, 1, 8)
        v = "" if rng.random() < 0.2 else rand_text(rng, 0, 16)
        params.append((k, v))
        if rng.random() < 0.2:
            params.append((k, rand_text(rng, 0, 5)))
    return params


def main():
    rng = random.Random(2011)
    lists = [gen_params(rng) for _ in range(N_LISTS)]
    lines = [json.dumps({"op": "query_parse", "query": urlencode(p)}) for p in lists]
    lines += [json.dumps({"op": "query_encode", "params": p}) for p in lists]
    results = sigv4tool.run(lines)

    failures = 0
    for p, got in zip(lists, results[:N_LISTS]):
        if [tuple(x) for x in got.get("params", [])] != p:
            failures += 1
            if failures <= 5:
                print("PARSE MISMATCH %r\n  sent: %s\n  kiln: %r" % (p, urlencode(p), got))
    for p, got in zip(lists, results[N_LISTS:]):
        want = "&".join(quote(k, safe="-_.~") + "=" + quote(v, safe="-_.~") for k, v in p)
        enc = got.get("encoded")
        back = parse_qsl(enc or "", keep_blank_values=True, strict_parsing=False)
        if enc != want or back != p:
            failures += 1
            if failures <= 5:
                print("ENCODE MISMATCH %r\n  want: %s\n  kiln: %r" % (p, want, got))
    if failures:
        print("%d query lists differ" % failures, file=sys.stderr)
        return 1
    print("query: %d parameter lists parsed and encoded as Python does" % N_LISTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
