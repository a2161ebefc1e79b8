#!/bin/bash
# kiln validate --image end to end on a local cloud this test starts on its
# own port, state directory and address range, and stops in a trap:
# - a good image passes: a throwaway instance of it is reached over SSH with
#   its host key checked against its console, runs validate.checks and
#   validate.http (on the instance itself), every result with its time, in
#   JSON and in JUnit XML; nothing is left behind;
# - an image missing a file (and an HTTP check that gets a 404) fails with
#   exit 1 and what was found;
# - kill -9 of kiln during the test leaves an instance, a key pair and a
#   security group that `kiln gc --run-id` (no --target: the run's journal
#   names the cloud) removes; SIGINT removes them itself;
# - a policy violation stops it with exit 2 before any request reaches the
#   cloud (its request log does not grow).
# Skips (77) unless root, and, outside CI, without botocore, git or
# debootstrap; in CI (CI set) a missing tool fails it.
set -u
. "$(dirname "$0")/../fixtures/missing.sh"
[ "$(id -u)" = 0 ] || missing "needs root"
KILN="${KILN_BIN:?}"
SRC="${KILN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
python3 -c 'import botocore' 2>/dev/null || missing "no botocore"
for tool in git debootstrap; do
	command -v "$tool" >/dev/null || missing "no $tool"
done

# shellcheck source=../fixtures/results.sh
. "$(dirname "$0")/../fixtures/results.sh"
# shellcheck source=../fixtures/testcloud.sh
. "$(dirname "$0")/../fixtures/testcloud.sh"
test_cloud 4632 22 validate-image
bg=()

cleanup() {
	local rc=$? pid
	for pid in "${bg[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	"$KILN" cloud down --state-dir "$STATE" >/dev/null 2>&1
	finish "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

leftovers() {
	python3 "$(dirname "$0")/../fixtures/builder_leftovers.py"
}
no_leftovers() {
	local left
	left=$(leftovers)
	if [ -n "$left" ]; then
		fail "$1: left behind: $left"
	else
		ok "$1: nothing left behind"
	fi
}
mkdir -p "$STATE"
watch_cloud "$STATE"
"$KILN" cloud up --port "$PORT" --state-dir "$STATE" --cidr "$CIDR" ||
	{ fail "kiln cloud up"; exit 1; }
"$KILN" cloud image debootstrap debian-12-minbase --state-dir "$STATE" >/dev/null ||
	{ fail "kiln cloud image debootstrap"; exit 1; }
"$SRC/demo/make-repos" "$tmp/repos" >/dev/null || { fail "make-repos"; exit 1; }

python3 - "$SRC/profiles/examples/web.json" "$tmp" <<'PY'
import json, sys
src, tmp = sys.argv[1:]
p = json.load(open(src))
p["layers"]["os"]["repo"] = tmp + "/repos/os-base"
p["layers"]["app"]["repo"] = tmp + "/repos/web"
p["bake"]["timeout_s"] = 900
p["validate"]["http"] = [
    {"path": "/", "contains": "Hello from web v1.0.0"},
    {"name": "health page", "path": "/health", "status": 200},
    {"path": "/VERSION", "contains": "v1.0.0", "header": {"accept-ranges": "bytes"}}]
json.dump(p, open(tmp + "/web.json", "w"), indent=1)
# The same image, checked for a file it lacks and a page it does not serve.
bad = json.loads(json.dumps(p))
bad["validate"]["checks"].append({"file": "/opt/web/missing.txt"})
bad["validate"]["http"].append({"path": "/nope", "status": 200})
json.dump(bad, open(tmp + "/web-bad.json", "w"), indent=1)
# A check that takes its time, for kill -9.
slow = json.loads(json.dumps(p))
slow["validate"]["checks"].insert(0, {"name": "slow", "command": "sleep 120", "timeout_s": 300})
json.dump(slow, open(tmp + "/web-slow.json", "w"), indent=1)
# A policy violation: a capacity above the profile's own ceiling.
pol = json.loads(json.dumps(p))
pol["policy"] = {"max_capacity": 3}
json.dump(pol, open(tmp + "/web-policy.json", "w"), indent=1)
PY

# The image under test: the demo's v1.0.0.
if ! image=$("$KILN" bake "$tmp/web.json" 2>"$tmp/bake.err"); then
	fail "bake: $(tail -n 20 "$tmp/bake.err")"
	exit 1
fi
ok "baked $image"
no_leftovers "bake"

# 1. A good image passes.
start=$(date +%s.%N)
"$KILN" validate "$tmp/web.json" --image "$image" --json --junit "$tmp/good.xml" \
	>"$tmp/good.json" 2>"$tmp/good.err"
rc=$?
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
if [ "$rc" = 0 ]; then
	ok "validate --image of a good image: exit 0 in $secs s"
else
	fail "validate --image good: rc $rc: $(tail -n 20 "$tmp/good.err")"
fi
grep -q "connected to [0-9.]*:22 as root (host key SHA256:" "$tmp/good.err" &&
	ok "the instance's host key was checked against its console" ||
	fail "no host-key-checked connection: $(cat "$tmp/good.err")"
python3 - "$tmp/good.json" "$tmp/good.xml" <<'PY' && ok "the report: every check and HTTP check passed, with times; JUnit counts agree" || fail "good report"
import json, sys
import xml.etree.ElementTree as ET
r = json.load(open(sys.argv[1]))
assert set(r) == {"profile", "env", "passed", "policy", "checks", "smoke"}, r.keys()
assert r["passed"] is True and r["profile"] == "web" and r["policy"] == [], r
kinds = [c["kind"] for c in r["checks"]]
assert kinds.count("http") == 3 and len(kinds) == 8, kinds
for c in r["checks"]:
    assert set(c) == {"name", "kind", "passed", "duration_s", "message"}, c
    assert c["passed"] is True and c["message"] == "" and c["duration_s"] >= 0, c
x = ET.parse(sys.argv[2]).getroot()
assert x.tag == "testsuites" and x.get("failures") == "0", x.attrib
suites = {s.get("name"): s for s in x}
assert list(suites) == ["policy", "checks", "http"], list(suites)
assert suites["checks"].get("tests") == "5" and suites["http"].get("tests") == "3"
PY
no_leftovers "good image"

# 2. A missing file and a missing page: exit 1, with what was found.
"$KILN" validate "$tmp/web-bad.json" --image "$image" >"$tmp/bad.out" 2>"$tmp/bad.err"
rc=$?
if [ "$rc" = 1 ] && grep -q "FAIL  checks  file /opt/web/missing.txt" "$tmp/bad.out" &&
	grep -q "/opt/web/missing.txt does not exist" "$tmp/bad.out" &&
	grep -q "FAIL  http .*/nope" "$tmp/bad.out" && grep -q "status 404, expected 200" "$tmp/bad.out" &&
	grep -q "^ok    checks  the app's VERSION is the release baked" "$tmp/bad.out" &&
	grep -q "2 of 10 checks failed on the image" "$tmp/bad.err"; then
	ok "an image missing a file fails (exit 1) saying what was found"
else
	fail "bad image: rc $rc: $(cat "$tmp/bad.out" "$tmp/bad.err" | tail -n 30)"
fi
no_leftovers "failing image test"

# 3. kill -9 during the test: gc removes what it leaves, from the cloud's tags.
"$KILN" -v validate "$tmp/web-slow.json" --image "$image" >"$tmp/k.out" 2>"$tmp/k.err" &
pid=$!
bg=("$pid")
for _ in $(seq 1 1200); do
	grep -q "connected to" "$tmp/k.err" && break
	sleep 0.1
done
sleep 1
kill -KILL "$pid"
wait "$pid" 2>/dev/null
bg=()
run=$(grep -o 'run validate-[0-9a-f]*' "$tmp/k.err" | head -n 1 | cut -d' ' -f2)
left=$(leftovers)
if [ -n "$run" ] && echo "$left" | grep -q "^instance" && echo "$left" | grep -q "^key-pair kiln-$run" &&
	echo "$left" | grep -q "security-group .* kiln-$run"; then
	ok "kill -9 during the image test leaves its instance, key pair and group ($run)"
else
	fail "kill -9: run '$run', left: $left; $(tail -n 5 "$tmp/k.err")"
fi
AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_MAX_ATTEMPTS=1 \
	"$KILN" gc --run-id "$run" >"$tmp/gc.out" 2>"$tmp/gc.err" || fail "kiln gc --run-id: $(cat "$tmp/gc.err")"
grep -q "^deleted instance" "$tmp/gc.out" && grep -q "^deleted key-pair" "$tmp/gc.out" &&
	grep -q "^deleted security-group" "$tmp/gc.out" &&
	ok "kiln gc --run-id $run removed them: $(tr '\n' ';' <"$tmp/gc.out" | cut -c1-160)" ||
	fail "gc after kill -9: $(cat "$tmp/gc.out" "$tmp/gc.err")"
no_leftovers "kill -9 then kiln gc"

# 3b. Ctrl-C during the test: the instance, key pair and group go at once.
"$KILN" -v validate "$tmp/web-slow.json" --image "$image" >"$tmp/i.out" 2>"$tmp/i.err" &
pid=$!
bg=("$pid")
for _ in $(seq 1 1200); do
	grep -q "connected to" "$tmp/i.err" && break
	sleep 0.1
done
sleep 1
kill -INT "$pid"
wait "$pid"
rc=$?
bg=()
[ "$rc" = 1 ] && grep -q "interrupted" "$tmp/i.err" &&
	grep -q "removing the throwaway instance, its key pair and its security group" "$tmp/i.err" &&
	ok "SIGINT during the image test: exit 1, cleaned up" ||
	fail "SIGINT: rc $rc: $(tail -n 5 "$tmp/i.err")"
no_leftovers "SIGINT during the image test"

# 4. A policy violation: exit 2, and the cloud never hears of it.
before=$(requests)
"$KILN" validate "$tmp/web-policy.json" --image "$image" >"$tmp/p.out" 2>"$tmp/p.err"
rc=$?
after=$(requests)
if [ "$rc" = 2 ] && grep -q "web-policy.json:[0-9]*:[0-9]*: policy: deploy.capacity.max is 6, above the ceiling of 3" "$tmp/p.err" &&
	[ "$before" = "$after" ]; then
	ok "a policy violation: exit 2 at its place, no request to the cloud ($before before and after)"
else
	fail "policy with --image: rc $rc, requests $before -> $after: $(cat "$tmp/p.err")"
fi

exit $failed
