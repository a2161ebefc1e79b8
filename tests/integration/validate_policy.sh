#!/bin/bash
# The policy gate in front of the cloud, on a local cloud this test starts on
# its own port, state directory and address range (stopped in a trap):
# - each rule violated alone, and several at once, by `kiln bake` and by
#   `kiln validate --image`: exit 2, every violation one line at its place,
#   and not one request in the cloud's request log;
# - an organisation file stricter than the profile, and a profile asking for
#   more than the organisation allows (both files named), through --policy
#   and $KILN_POLICY;
# - signed tags (keys made here with ssh-keygen, tags signed by git): a bake
#   of signed tags goes ahead and bakes; an unsigned tag and a tag signed by
#   a key the allowed signers do not hold are refused before any request.
# Skips (77) unless root, and, outside CI, without git, debootstrap or
# ssh-keygen; in CI (CI set) a missing tool fails it.
set -u
. "$(dirname "$0")/../fixtures/missing.sh"
[ "$(id -u)" = 0 ] || missing "needs root"
KILN="${KILN_BIN:?}"
SRC="${KILN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
for tool in git debootstrap ssh-keygen python3; do
	command -v "$tool" >/dev/null || missing "no $tool"
done

# shellcheck source=../fixtures/results.sh
. "$(dirname "$0")/../fixtures/results.sh"
# shellcheck source=../fixtures/testcloud.sh
. "$(dirname "$0")/../fixtures/testcloud.sh"
test_cloud 4631 21 validate-policy

cleanup() {
	local rc=$?
	"$KILN" cloud down --state-dir "$STATE" >/dev/null 2>&1
	finish "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$STATE"
watch_cloud "$STATE"
"$KILN" cloud up --port "$PORT" --state-dir "$STATE" --cidr "$CIDR" >/dev/null ||
	{ fail "kiln cloud up"; exit 1; }
base=$("$KILN" cloud image debootstrap debian-12-minbase --state-dir "$STATE") ||
	{ fail "kiln cloud image debootstrap"; exit 1; }
"$SRC/demo/make-repos" "$tmp/repos" >/dev/null || { fail "make-repos"; exit 1; }

# Keys and signed tags: alice is an allowed signer, mallory is not.
ssh-keygen -q -t ed25519 -N '' -C alice -f "$tmp/alice" || { fail "ssh-keygen"; exit 1; }
ssh-keygen -q -t ed25519 -N '' -C mallory -f "$tmp/mallory" || { fail "ssh-keygen"; exit 1; }
echo "alice@example.com $(cat "$tmp/alice.pub")" >"$tmp/allowed_signers"
for repo in os-base web; do
	(
		cd "$tmp/repos/$repo" || exit 1
		sign() {
			git -c user.name="$1" -c user.email="$1@example.com" -c gpg.format=ssh \
				-c user.signingkey="$tmp/$1" tag -s "$2" -m "$2" "$3^{commit}"
		}
		if [ "$repo" = web ]; then
			sign alice v1.0.0-s v1.0.0 && sign mallory v1.0.0-m v1.0.0
		else
			sign alice os-1.0.0-s os-1.0.0
		fi
	) || { fail "signing tags"; exit 1; }
done

# Profiles: the demo's, one violation each, several at once.
python3 - "$SRC/profiles/examples/web.json" "$tmp" <<'PY'
import json, sys
src, tmp = sys.argv[1:]
base = json.load(open(src))
base["layers"]["os"]["repo"] = tmp + "/repos/os-base"
base["layers"]["app"]["repo"] = tmp + "/repos/web"
base["bake"]["timeout_s"] = 900
json.dump(base, open(tmp + "/web.json", "w"), indent=1)
def variant(name, policy=None, **sections):
    p = json.loads(json.dumps(base))
    for sec, vals in sections.items():
        p.setdefault(sec, {}).update(vals)
    if policy is not None:
        p["policy"] = policy
    json.dump(p, open("%s/rule-%s.json" % (tmp, name), "w"), indent=1)
variant("internet-facing", deploy={"internet_facing": True})
variant("encrypted", {"require_encrypted": True}, bake={"encrypted": False})
variant("instance-types", {"allowed_instance_types": ["c5.*"]})
variant("capacity", {"max_capacity": 4})
variant("tags", {"required_tags": ["cost-center"]})
variant("owners", {"allowed_image_owners": ["amazon"]})
variant("regions", {"allowed_regions": ["eu-west-1"]})
variant("repos", {"allowed_repos": ["git.example.com/acme"]})
variant("refs", {"release_refs": {"*": ["release-*"]}})
variant("signed-none", {"require_signed_tags": True})
variant("several", {"max_capacity": 4, "required_tags": ["cost-center"],
                    "allowed_instance_types": ["c5.*"]})
signed = json.loads(json.dumps(base))
signed["layers"]["os"]["ref"] = "os-1.0.0-s"
signed["layers"]["app"]["ref"] = "v1.0.0-s"
signed["validate"]["checks"] = [c for c in signed["validate"]["checks"] if "command" not in c
                                or "VERSION" not in c["command"]]
signed["policy"] = {"require_signed_tags": True, "allowed_signers": "allowed_signers"}
json.dump(signed, open(tmp + "/signed.json", "w"), indent=1)
for name, os_ref, app_ref in (("unsigned", "os-1.0.0-s", "v1.0.0"),
                              ("mallory", "os-1.0.0-s", "v1.0.0-m")):
    p = json.loads(json.dumps(signed))
    p["layers"]["os"]["ref"] = os_ref
    p["layers"]["app"]["ref"] = app_ref
    json.dump(p, open("%s/signed-%s.json" % (tmp, name), "w"), indent=1)
json.dump({"max_capacity": 4, "required_tags": ["team", "cost-center"]},
          open(tmp + "/org-strict.json", "w"), indent=1)
json.dump({"allow_internet_facing": False}, open(tmp + "/org-no-public.json", "w"), indent=1)
p = json.loads(json.dumps(base))
p["policy"] = {"allow_internet_facing": True}
json.dump(p, open(tmp + "/asks-more.json", "w"), indent=1)
PY

# refused NAME EXPECTED_LINES PATTERN COMMAND...: exit 2, that many lines
# "FILE:L:C: policy: ..." (PATTERN among them), no request to the cloud.
refused() {
	local name=$1 n=$2 pattern=$3 before after rc lines
	shift 3
	before=$(requests)
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	after=$(requests)
	lines=$(grep -c -E '^[^ ]+\.json:[0-9]+:[0-9]+: policy: ' "$tmp/err")
	if [ "$rc" = 2 ] && [ "$lines" = "$n" ] && grep -q -E "$pattern" "$tmp/err" && [ "$before" = "$after" ]; then
		ok "$name: exit 2, $n line(s) at their places, no request ($before before and after)"
	else
		fail "$name: rc $rc, $lines lines, requests $before -> $after: $(cat "$tmp/err")"
	fi
}

f="$tmp/rule"
refused "bake: internet-facing" 1 "rule-internet-facing.json:[0-9]+:[0-9]+: policy: deploy.internet_facing is true" \
	"$KILN" bake "$f-internet-facing.json"
refused "bake: encryption" 1 "policy: bake.encrypted is false, but images must be encrypted" \
	"$KILN" bake "$f-encrypted.json"
refused "bake: instance types" 2 "policy: bake.instance_type 't3.small' is not an allowed instance type" \
	"$KILN" bake "$f-instance-types.json"
refused "bake: capacity" 1 "policy: deploy.capacity.max is 6, above the ceiling of 4" \
	"$KILN" bake "$f-capacity.json"
refused "bake: required tags" 1 "policy: tags: missing the required tag 'cost-center'" \
	"$KILN" bake "$f-tags.json"
refused "bake: image owners" 1 "policy: bake.source_image.owners\[0\] 'self' is not an allowed image owner" \
	"$KILN" bake "$f-owners.json"
refused "bake: regions" 1 "policy: the local cloud's region 'us-east-1' is not an allowed region" \
	"$KILN" bake "$f-regions.json"
refused "bake: repositories" 2 "policy: layers.app.repo '.*' is not an allowed repository source" \
	"$KILN" bake "$f-repos.json"
refused "bake: release refs" 1 "policy: layers.app.ref 'v1.0.0' is not a release allowed anywhere" \
	"$KILN" bake "$f-refs.json"
refused "bake: signed tags without signers" 1 "no allowed_signers file says whose signatures count" \
	"$KILN" bake "$f-signed-none.json"
refused "bake: several at once" 4 "above the ceiling of 4" "$KILN" bake "$f-several.json"
refused "validate --image: several at once" 4 "missing the required tag 'cost-center'" \
	"$KILN" validate "$f-several.json" --image "$base"
refused "bake --app-ref against release refs" 1 "policy: --app-ref 'v1.1.0' is not a release allowed" \
	"$KILN" bake "$f-refs.json" --app-ref v1.1.0

# The organisation's file: stricter than the profile; a profile asking for more.
refused "organisation stricter (--policy)" 2 "above the ceiling of 4 \(.*org-strict.json:2:[0-9]+: organisation policy max_capacity\)" \
	"$KILN" bake "$tmp/web.json" --policy "$tmp/org-strict.json"
KILN_POLICY="$tmp/org-no-public.json" refused "a profile asking for more (\$KILN_POLICY)" 1 \
	"asks-more.json:[0-9]+:[0-9]+: policy: policy.allow_internet_facing is true, but the organisation does not allow internet-facing load balancers \(.*org-no-public.json:2:2: organisation policy allow_internet_facing\)" \
	"$KILN" bake "$tmp/asks-more.json"
before=$(requests)
echo '{"max_capacity": "four"}' >"$tmp/org-bad.json"
"$KILN" bake "$tmp/web.json" --policy "$tmp/org-bad.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 2 ] && grep -q "org-bad.json:1:18: policy.max_capacity: expected integer, got string" "$tmp/err" &&
	[ "$before" = "$(requests)" ] && ok "a bad organisation file: exit 2 at its place, no request" ||
	fail "bad org file: rc $rc: $(cat "$tmp/err")"

# Signed tags: refused before any request when unsigned or signed by a stranger.
refused "an unsigned tag" 1 "signed.json|signed-unsigned.json:[0-9]+:[0-9]+: policy: layers.app.ref: tag 'v1.0.0' is not signed" \
	"$KILN" bake "$tmp/signed-unsigned.json"
refused "a tag signed by a key not in allowed_signers" 1 "tag 'v1.0.0-m' is signed with key SHA256:[^ ]+, which no principal of the allowed signers holds" \
	"$KILN" bake "$tmp/signed-mallory.json"
# ...and accepted, then baked, when signed by alice.
if "$KILN" bake "$tmp/signed.json" --junit "$tmp/signed.xml" >"$tmp/s.out" 2>"$tmp/s.err"; then
	grep -q "tag v1.0.0-s of layer app is signed by alice@example.com" "$tmp/s.err" &&
		grep -q "tag os-1.0.0-s of layer os is signed by alice@example.com" "$tmp/s.err" &&
		ok "signed tags accepted, then baked: $(cat "$tmp/s.out")" ||
		fail "signed bake: no signer named: $(cat "$tmp/s.err")"
	python3 - "$tmp/signed.xml" <<'PY' && ok "kiln bake --junit: the policy's rules and the builder's checks" || fail "bake --junit: $(cat "$tmp/signed.xml")"
import sys
import xml.etree.ElementTree as ET
x = ET.parse(sys.argv[1]).getroot()
s = {e.get("name"): e for e in x}
assert list(s) == ["policy", "checks"], list(s)
assert s["policy"].get("tests") == "11" and s["policy"].get("failures") == "0"
assert s["checks"].get("tests") == "4" and s["checks"].get("failures") == "0"
PY
else
	fail "bake of signed tags: $(tail -n 20 "$tmp/s.err")"
fi

exit $failed
