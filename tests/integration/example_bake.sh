#!/bin/bash
# examples/bake.c against an installed libkiln, on the local cloud:
# - `cmake --install --prefix TMP` installs kiln, libkiln, kiln.h with the
#   public headers and kiln.pc; the example builds with nothing but
#   `pkg-config --cflags --libs kiln` (PKG_CONFIG_PATH into TMP);
# - with the local cloud started by `kiln cloud up` (an instance's init is
#   the program that started the daemon: kiln, not the example), the example
#   bakes the demo profile: the image is available with kiln's tags, every
#   line on stderr is the example's own (the library printed nothing), and
#   the run left no builder, key pair or security group;
# - a second run is a cache hit with the same image.
# Own port, state directory and range (4619, 10.214.9.0/24), stopped in a trap.
# Skips (77) unless root, and, outside CI, without cmake, pkg-config, a C
# compiler, git, debootstrap or botocore; in CI (CI set) a missing tool fails it.
set -u
. "$(dirname "$0")/../fixtures/missing.sh"
[ "$(id -u)" = 0 ] || missing "needs root"
KILN="${KILN_BIN:?}"
BUILD="${KILN_BUILD_DIR:?}"
SRC="${KILN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
CC=${CC:-cc}
for tool in cmake pkg-config "$CC" git debootstrap; do
	command -v "$tool" >/dev/null || missing "no $tool"
done
python3 -c 'import botocore' 2>/dev/null || missing "no botocore"

PORT=4619
CIDR=10.214.9.0/24
# One test at a time on this address range and port, across checkouts.
exec 9>/tmp/kiln-test-net-10.214.9.lock
flock -w 1800 9 || { echo "FAIL: 10.214.9.0/24 stayed busy" >&2; exit 1; }

tmp=$(mktemp -d /tmp/kiln-example-bake-XXXXXX)
STATE="$tmp/cloud"
export KILN_CLOUD_STATE_DIR="$STATE"
export KILN_LOCAL_ENDPOINT="http://127.0.0.1:$PORT"
export KILN_STATE_DIR="$tmp/kiln-state"
# The example's stderr is checked line by line: no list of suppressions at exit.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}print_suppressions=0"
# shellcheck source=../fixtures/results.sh
. "$(dirname "$0")/../fixtures/results.sh"

cleanup() {
	local rc=$?
	"$KILN" cloud down --state-dir "$STATE" >/dev/null 2>&1
	finish "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# 1. Install, then build the example against the installed copy alone.
cmake --install "$BUILD" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 ||
	{ fail "cmake --install: $(tail -n 5 "$tmp/install.log")"; exit 1; }
pc=$(find "$tmp/prefix" -name kiln.pc | head -n 1)
[ -n "$pc" ] || { fail "no kiln.pc installed"; exit 1; }
for f in bin/kiln include/kiln.h include/kiln/bake.h include/kiln/cloud.h; do
	[ -e "$tmp/prefix/$f" ] || fail "not installed: $f"
done
# Internal headers stay internal: only kiln.h and kiln/*.h.
extra=$(cd "$tmp/prefix/include" && find . -name '*.h' ! -path './kiln.h' ! -path './kiln/*')
[ -z "$extra" ] || fail "internal headers installed: $extra"
export PKG_CONFIG_PATH="$(dirname "$pc")"
flags=$(pkg-config --cflags --libs kiln) || { fail "pkg-config kiln"; exit 1; }
libdir=$(pkg-config --variable=libdir kiln)
# shellcheck disable=SC2086
"$CC" -std=c11 -Wall -Wextra -Werror -o "$tmp/bake" "$SRC/examples/bake.c" $flags \
	-Wl,-rpath,"$libdir" 2>"$tmp/cc.err" ||
	{ fail "building the example: $(cat "$tmp/cc.err")"; exit 1; }
ok "examples/bake.c builds against the installed libkiln ($flags)"

# 2. The local cloud, started by kiln, and its base image.
"$KILN" cloud up --port "$PORT" --state-dir "$STATE" --cidr "$CIDR" >/dev/null ||
	{ fail "kiln cloud up"; exit 1; }
base=$("$KILN" cloud image debootstrap debian-12-minbase --state-dir "$STATE") ||
	{ fail "kiln cloud image debootstrap"; exit 1; }
ok "local cloud on port $PORT, base image $base"

# 3. The demo profile, as scripts/demo makes it.
"$SRC/demo/make-repos" "$tmp/repos" >/dev/null || { fail "make-repos"; exit 1; }
sed -e "s|\"../../demo/repos/|\"$tmp/repos/|" "$SRC/profiles/examples/web.json" >"$tmp/web.json"

if "$tmp/bake" "$tmp/web.json" >"$tmp/b1.out" 2>"$tmp/b1.err"; then
	image=$(cat "$tmp/b1.out")
	ok "the example baked $image"
else
	fail "the example's bake: $(tail -n 20 "$tmp/b1.err")"
	exit 1
fi
# Anything but the example's own lines is the library talking (or a sanitizer's report).
if grep -v -e '^bake: ' "$tmp/b1.err" | grep -q .; then
	fail "lines on stderr that the example did not print: $(grep -v '^bake: ' "$tmp/b1.err" | head -n 5)"
else
	ok "every line on stderr is the example's: the library printed nothing"
fi
grep -q '^bake: step upload done' "$tmp/b1.err" && grep -q "^bake: profile web is image $image" "$tmp/b1.err" &&
	ok "the example saw the steps and the end of the stage as events" ||
	fail "events: $(cat "$tmp/b1.err")"

python3 - "$image" <<'PY' || fail "the image and its tags"
import os, sys
import botocore.session
ec2 = botocore.session.get_session().create_client(
    "ec2", region_name="us-east-1", endpoint_url=os.environ["KILN_LOCAL_ENDPOINT"],
    aws_access_key_id="test", aws_secret_access_key="test")
im = ec2.describe_images(ImageIds=[sys.argv[1]])["Images"][0]
tags = {t["Key"]: t["Value"] for t in im.get("Tags", [])}
assert im["State"] == "available", im
assert im["Name"].startswith("kiln/web/v1.0.0/"), im["Name"]
for k, v in {"kiln:profile": "web", "kiln:app-ref": "v1.0.0", "kiln:os-ref": "os-1.0.0",
             "kiln:managed": "true", "team": "web"}.items():
    assert tags.get(k) == v, (k, tags.get(k), v)
assert len(tags.get("kiln:bake-key", "")) == 64, tags
assert len(tags.get("kiln:app-commit", "")) == 40, tags
left = [i["InstanceId"] for r in ec2.describe_instances(
            Filters=[{"Name": "tag:kiln:role", "Values": ["builder"]}])["Reservations"]
        for i in r["Instances"] if i["State"]["Name"] != "terminated"]
left += [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"] if k["KeyName"].startswith("kiln-")]
left += [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]
         if g["GroupName"].startswith("kiln-")]
assert not left, left
PY
[ "$failed" = 0 ] && ok "image $image is available with kiln's tags; nothing left behind"

# 4. Again: the same image, from the cache.
if "$tmp/bake" "$tmp/web.json" >"$tmp/b2.out" 2>"$tmp/b2.err"; then
	[ "$(cat "$tmp/b2.out")" = "$image" ] && grep -q "cache hit" "$tmp/b2.err" &&
		ok "a second run is a cache hit with the same image" ||
		fail "second run: $(cat "$tmp/b2.out" "$tmp/b2.err")"
else
	fail "second run: $(tail -n 10 "$tmp/b2.err")"
fi

exit $failed
