#!/usr/bin/env python3
"""Hostile input for `kiln validate`: generated bad profiles and bad
organisation policy files (wrong types at every field, huge numbers, deep
nesting, invalid UTF-8, NUL bytes, duplicate keys, control characters in
keys and values, truncated and empty files). Each must give exit 2 and one
clear line on stderr ("FILE:LINE:COL: message", or "kiln: error: ..." for a
file that cannot be read), with no raw control byte, and never a crash.
Run by both builds: under the sanitizer build a leak, an overflow or
undefined behaviour fails it (the sanitizers' reports are extra lines, and
their exit codes are not 2)."""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from lctest import Results  # noqa: E402

KILN = os.environ["KILN_BIN"]

BASE = {
    "name": "web",
    "layers": {"os": {"repo": "/srv/git/os", "ref": "os-1.0.0", "provision": ["p.sh"]},
               "app": {"repo": "/srv/git/web", "ref": "v1.0.0"}},
    "bake": {"instance_type": "t3.small", "ssh": {"port": 22, "timeout_s": 30}},
    "validate": {"checks": [{"file": "/opt/web/VERSION", "contains": "v1"},
                            {"port": 8080}],
                 "http": [{"path": "/health", "status": 200}]},
    "deploy": {"port": 80, "test_port": 8080, "capacity": {"min": 1, "desired": 2, "max": 4},
               "smoke": [{"path": "/", "status": 200, "retries": 2, "host": "example.com"}]},
    "tags": {"team": "web"},
    "policy": {"max_capacity": 8, "allowed_repos": ["/srv/git"],
               "release_refs": {"*": "v*"}},
}

POLICY = {"allow_internet_facing": False, "max_capacity": 10, "required_tags": ["team"],
          "allowed_instance_types": ["t3.*"], "release_refs": {"prod": ["v*"]},
          "allowed_repos": ["/srv/git"]}

# Typed fields and a wrong value of each other kind.
WRONG = [5, "five", True, None, [], {}, 1.5]


def paths(doc, prefix=()):
    """Every (path, value) in doc."""
    yield prefix, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from paths(v, prefix + (i,))


def set_at(doc, path, value):
    doc = json.loads(json.dumps(doc))
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return doc


def same_kind(a, b):
    kinds = (bool, int, float, str, list, dict, type(None))
    for k in kinds:
        if isinstance(a, k):
            return isinstance(b, k) and not (k is int and isinstance(b, bool)) and \
                not (k is int and isinstance(a, bool))
    return False


def wrong_types(base):
    """bytes per case: each field given values of other JSON types."""
    out = []
    for path, v in paths(base):
        if not path:
            continue
        for w in WRONG:
            if same_kind(v, w) or (isinstance(v, str) and isinstance(w, str)):
                continue
            # A release_refs entry may be one pattern or a list of them.
            if len(path) >= 2 and path[-2] == "release_refs" and isinstance(w, str):
                continue
            # Where any string is fine, a string is no defect; skip those pairs.
            out.append(json.dumps(set_at(base, path, w), indent=1).encode())
            if len(out) % 3 == 0:
                break
    return out


def numbers(base, where):
    out = []
    for path in where:
        for n in ["99999999999999999999999999", "-9223372036854775809", "1e400", "-1",
                  "9223372036854775807", "-0.5e-400"]:
            text = json.dumps(set_at(base, path, "@@N@@"), indent=1).replace('"@@N@@"', n)
            out.append(text.encode())
    return out


def nesting(base, at):
    out = []
    for depth in (65, 200, 3000, 100000):
        for opener, closer in (("[", "]"), ('{"a":', "}")):
            deep = opener * depth + "1" + closer * depth
            text = json.dumps(set_at(base, at, "@@D@@"), indent=1).replace('"@@D@@"', deep)
            out.append(text.encode())
    out.append(b"[" * 100000)
    out.append(b'{"a":' * 50000)
    return out


def raw_bytes(base, values, key, ref, tail):
    """Bad bytes inside `values` (strings of base), escapes in `ref`, controls in key `key`."""
    text = json.dumps(base).encode()
    out = []
    bad = [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80", b"\x00",
           b"\x1b[2J", b"\x07", b"\x7f\x00\x01"]
    for b in bad:
        for v in values:
            out.append(text.replace(v, v[:2] + b + v[2:], 1))
    out.append(text + b"\x00")
    out.append(b"\x00" + text)
    out.append(text[: len(text) // 2] + b"\x00" + text[len(text) // 2:])
    out.append(b"\xef\xbb\xbf" + text)
    for esc in ("\\u0000", "\\ud800", "\\udc00x", "\\u001b]0;pwned\\u0007"):
        out.append(text.replace(ref, ref[:2] + esc.encode() + ref[2:], 1))
    # Control characters inside keys: reported escaped, on one line.
    for esc in ("\\n", "\\u001b[31m", "\\r", "\\u2028", "\\u202e"):
        out.append(text.replace(key, key[:3] + esc.encode() + key[3:], 1))
        out.append(text.replace(tail, tail[:-1] + (', "x' + esc + '": 1').encode() + tail[-1:], 1))
    return out


def duplicates(base):
    text = json.dumps(base, indent=1)
    out = []
    for key in ('"name"', '"team"', '"port"', '"max_capacity"', '"repo"', '"status"', '"path"'):
        i = text.find(key)
        j = text.find(",", i)
        out.append((text[:j] + ", " + text[i:j] + text[j:]).encode())
    return out


def shapes():
    return [b"", b" \n\t", b"{", b"}", b"[]", b"null", b"42", b'"web"', b'{"name": "web"}', b'{"name": }',
            b'{"name": "web",}', b"{'name': 'web'}", b"/* c */ {}", b'{"name": "web"} {}',
            b'{"name": "web" "layers": {}}', b"\xff\xfe{\x00}\x00"]


def truncated(base):
    text = json.dumps(base, indent=1).encode()
    return [text[:n] for n in range(1, len(text), max(1, len(text) // 12))]


def check_run(r, name, args, path):
    p = subprocess.run([KILN, "validate"] + args, capture_output=True, timeout=120)
    err = p.stderr
    lines = err.rstrip(b"\n").split(b"\n") if err.strip() else []
    problems = []
    if p.returncode != 2:
        problems.append("exit %d" % p.returncode)
    if len(lines) != 1:
        problems.append("%d lines" % len(lines))
    if re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", err):
        problems.append("a raw control byte")
    if lines and not (lines[0].startswith(path.encode() + b":") or lines[0].startswith(b"kiln: ")):
        problems.append("not a positioned line")
    if lines and re.match(re.escape(path.encode()) + rb":\d+:\d+: ", lines[0]) is None and \
            not lines[0].startswith(b"kiln: "):
        problems.append("no LINE:COL")
    if b"Sanitizer" in err or b"runtime error" in err:
        problems.append("sanitizer report")
    if problems:
        r.bad(name, "%s: %r" % (", ".join(problems), err[:600]))
        return False
    return True


def main():
    r = Results()
    tmp = tempfile.mkdtemp(prefix="kiln-hostile-")
    os.environ.pop("KILN_POLICY", None)
    good_profile = os.path.join(tmp, "good.json")
    with open(good_profile, "w") as f:
        json.dump(BASE, f)
    good_policy = os.path.join(tmp, "good-policy.json")
    with open(good_policy, "w") as f:
        json.dump(POLICY, f)
    p = subprocess.run([KILN, "validate", good_profile, "--policy", good_policy],
                       capture_output=True, timeout=60)
    r.check("the base profile and policy are valid", p.returncode == 0, p.stderr[:400])

    profiles = (wrong_types(BASE) +
                numbers(BASE, [("deploy", "port"), ("deploy", "capacity", "max"),
                               ("bake", "ssh", "timeout_s"), ("policy", "max_capacity"),
                               ("deploy", "smoke", 0, "retries"), ("validate", "http", 0, "status")]) +
                nesting(BASE, ("tags",)) +
                raw_bytes(BASE, [b'"web"', b'"team"', b'"/health"'], b'"tags"', b'"v1.0.0"',
                          b'"port": 8080}') +
                duplicates(BASE) + shapes() + truncated(BASE))
    policies = (wrong_types(POLICY) + numbers(POLICY, [("max_capacity",)]) +
                nesting(POLICY, ("required_tags",)) +
                raw_bytes(POLICY, [b'"team"', b'"t3.*"', b'"/srv/git"'], b'"max_capacity"',
                          b'"v*"', b'["team"]') +
                duplicates(POLICY) + shapes() + truncated(POLICY))
    passed = {"profile": 0, "policy": 0}
    for i, body in enumerate(profiles):
        path = os.path.join(tmp, "p%03d.json" % i)
        with open(path, "wb") as f:
            f.write(body)
        if check_run(r, "profile %d" % i, [path, "--policy", good_policy], path):
            passed["profile"] += 1
    for i, body in enumerate(policies):
        path = os.path.join(tmp, "o%03d.json" % i)
        with open(path, "wb") as f:
            f.write(body)
        if check_run(r, "policy file %d" % i, [good_profile, "--policy", path], path):
            passed["policy"] += 1
    # A policy file that is a directory, and one that does not exist: one line each too.
    for i, path in enumerate([tmp, os.path.join(tmp, "missing.json")]):
        check_run(r, "unreadable policy file %d" % i, [good_profile, "--policy", path], path)
    r.check("%d bad profiles: each one line and exit 2" % len(profiles),
            passed["profile"] == len(profiles), "%d of %d" % (passed["profile"], len(profiles)))
    r.check("%d bad policy files: each one line and exit 2" % len(policies),
            passed["policy"] == len(policies), "%d of %d" % (passed["policy"], len(policies)))
    r.check("at least 200 cases in all", len(profiles) + len(policies) >= 200,
            str(len(profiles) + len(policies)))
    subprocess.run(["rm", "-rf", tmp])
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
