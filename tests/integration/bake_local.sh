#!/bin/bash
# kiln bake end to end against the local cloud, which this test starts on its
# own port, state directory and address range, and stops in a trap:
# - the demo profile bakes; the image is available with kiln's tags; an
#   instance launched from it serves the app's page; no builder, key pair or
#   security group is left;
# - a second bake is a cache hit in under 1 s with no RunInstances in the
#   local cloud's request log; --force bakes anew;
# - failures leave nothing behind: a provisioner exits 1; a check fails;
#   SIGINT during provisioning; --on-error abort leaves the temporaries and
#   `kiln gc --run-id` removes them from the local cloud, the run's target
#   as its journal records it (no --target);
# - the secret variable never appears in output or logs, at any verbosity.
# Skips (77) unless root, and, outside CI, without botocore, git, debootstrap
# or curl; in CI (CI set) a missing tool fails it. A kiln whose `kiln cloud`
# is broken fails it everywhere.
set -u
. "$(dirname "$0")/../fixtures/missing.sh"
[ "$(id -u)" = 0 ] || missing "needs root"
KILN="${KILN_BIN:?}"
SRC="${KILN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
if ! out=$("$KILN" cloud --help 2>&1); then
	echo "FAIL: kiln cloud --help: $out" >&2
	exit 1
fi
python3 -c 'import botocore' 2>/dev/null || missing "no botocore"
for tool in git debootstrap curl; do
	command -v "$tool" >/dev/null || missing "no $tool"
done

PORT=4612
CIDR=10.214.2.0/24
SECRET=bake-local-secret-token-93c1
# One test at a time on this address range and port, across checkouts.
exec 9>/tmp/kiln-test-net-10.214.2.lock
flock -w 1800 9 || { echo "FAIL: 10.214.2.0/24 stayed busy" >&2; exit 1; }

tmp=$(mktemp -d /tmp/kiln-bake-local-XXXXXX)
STATE="$tmp/cloud"
# kiln bake may start the cloud or build the base image itself: same state.
export KILN_CLOUD_STATE_DIR="$STATE"
export KILN_LOCAL_ENDPOINT="http://127.0.0.1:$PORT"
export KILN_STATE_DIR="$tmp/kiln-state"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
# shellcheck source=../fixtures/results.sh
. "$(dirname "$0")/../fixtures/results.sh"
bg=()

cleanup() {
	local rc=$? pid
	for pid in "${bg[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	"$KILN" cloud down --state-dir "$STATE" >/dev/null 2>&1
	"$KILN" cloud down --state-dir "$tmp/cloud2" >/dev/null 2>&1
	finish "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# q COMMAND ARGS: questions to the local cloud through botocore.
cat >"$tmp/q.py" <<'PY'
import json, os, sys, time
import botocore.session
ec2 = botocore.session.get_session().create_client(
    "ec2", region_name="us-east-1", endpoint_url=os.environ["KILN_LOCAL_ENDPOINT"],
    aws_access_key_id="test", aws_secret_access_key="test")
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "leftovers":
    # Builder instances not terminated, kiln's key pairs and security groups.
    out = []
    for r in ec2.describe_instances(Filters=[{"Name": "tag:kiln:role", "Values": ["builder"]}])["Reservations"]:
        for i in r["Instances"]:
            if i["State"]["Name"] != "terminated":
                out.append("instance %s %s" % (i["InstanceId"], i["State"]["Name"]))
    for k in ec2.describe_key_pairs()["KeyPairs"]:
        if k["KeyName"].startswith("kiln-"):
            out.append("key-pair " + k["KeyName"])
    for g in ec2.describe_security_groups()["SecurityGroups"]:
        if g["GroupName"].startswith("kiln-"):
            out.append("security-group %s %s" % (g["GroupId"], g["GroupName"]))
    for im in ec2.describe_images(Owners=["self"])["Images"]:
        if im["State"] not in ("available",):
            out.append("image %s %s" % (im["ImageId"], im["State"]))
    print("\n".join(out))
elif cmd == "tags":
    im = ec2.describe_images(ImageIds=args[:1])["Images"][0]
    print(json.dumps({"state": im["State"], "name": im.get("Name"),
                      "tags": {t["Key"]: t["Value"] for t in im.get("Tags", [])}}))
elif cmd == "launch":
    # Security groups filter: the app's port is opened to this host (the bridge's
    # first address) in a group of the test's own.
    import ipaddress
    gw = str(next(ipaddress.ip_network(os.environ["CIDR"]).hosts()))
    found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["serve"]}])["SecurityGroups"]
    if found:
        sg = found[0]["GroupId"]
    else:
        sg = ec2.create_security_group(GroupName="serve", Description="the app from this host")["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": gw + "/32"}]}])
    i = ec2.run_instances(ImageId=args[0], MinCount=1, MaxCount=1, InstanceType="t3.small",
                          SecurityGroupIds=[sg])
    iid = i["Instances"][0]["InstanceId"]
    for _ in range(300):
        d = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        if d["State"]["Name"] == "running" and d.get("PrivateIpAddress"):
            print(iid, d["PrivateIpAddress"])
            break
        time.sleep(0.2)
elif cmd == "terminate":
    ec2.terminate_instances(InstanceIds=args)
PY
q() {
	CIDR=$CIDR python3 "$tmp/q.py" "$@"
}

no_leftovers() {
	local left
	left=$(q leftovers)
	if [ -n "$left" ]; then
		fail "$1: left behind: $left"
	else
		ok "$1: nothing left behind"
	fi
}

run_instances() {
	grep -c '"RunInstances"' "$STATE/requests.jsonl" 2>/dev/null || echo 0
}

elapsed() {
	awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.3f\n", b - a}'
}

mkdir -p "$STATE"
"$KILN" cloud up --port "$PORT" --state-dir "$STATE" --cidr "$CIDR" ||
	{ fail "kiln cloud up"; exit 1; }
ok "local cloud up on port $PORT"
base=$("$KILN" cloud image debootstrap debian-12-minbase --state-dir "$STATE") ||
	{ fail "kiln cloud image debootstrap"; exit 1; }
ok "base image $base"

# The demo's repositories, and failing variants of the app as further tags.
"$SRC/demo/make-repos" "$tmp/repos" >/dev/null || { fail "make-repos"; exit 1; }
(
	cd "$tmp/repos/web" || exit 1
	export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
	# Variants of v1.0.0, each with its tag in VERSION as the profile's check wants.
	git checkout -q v1.0.0
	cp deploy/install.sh install.good
	printf '#!/bin/sh\necho "about to fail"\nexit 1\n' >deploy/install.sh
	echo v-fail >VERSION
	git commit -qam "fails" && git tag v-fail
	printf '#!/bin/sh\necho "provisioning slowly"\nsleep 120\n' >deploy/install.sh
	echo v-slow >VERSION
	git commit -qam "slow" && git tag v-slow
	printf '#!/bin/sh\necho "token is $DEPLOY_TOKEN"\necho "title is $SITE_TITLE"\n' >deploy/install.sh
	# Output that would retitle and clear the operator's terminal, and a NUL.
	printf "printf '\\\\033]0;pwned\\\\007 hostile title\\\\n'\n" >>deploy/install.sh
	printf "printf 'before\\\\000after NUL\\\\n'; printf '\\\\033[2J'\n" >>deploy/install.sh
	cat install.good >>deploy/install.sh
	echo v-echo >VERSION
	git commit -qam "echo the secret" && git tag v-echo
	git checkout -q v1.0.0
	echo twin >site/twin.html
	echo v-twin >VERSION
	git add -A && git commit -qm "twin" && git tag v-twin
	git checkout -q v1.0.0
	printf '#!/bin/sh\nset -e\nhead -c 300000000 /dev/zero >/opt/big\n' >deploy/data.sh
	printf '#!/bin/sh\nset -e\nsh "$KILN_LAYER_DIR/deploy/data.sh"\n' >>deploy/install.sh
	echo v-big >VERSION
	git add -A && git commit -qm "big" && git tag v-big
) || { fail "extra tags"; exit 1; }

# Layers that break the image they are baked into, for the SSH failure cases.
(
	set -e
	mkdir -p "$tmp/repos/sabotage"
	cd "$tmp/repos/sabotage"
	export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
	git init -q
	printf '#!/bin/sh\nset -e\nrm -f /usr/sbin/sshd\n' >nosshd.sh
	# ...and its boot prints an escape sequence on the console kiln quotes.
	cat >>nosshd.sh <<'SH'
mkdir -p /etc/kiln/boot.d
printf '#!/bin/sh\nprintf "\\033]0;pwned\\007 console title\\n"\n' >/etc/kiln/boot.d/10-hostile
chmod 0755 /etc/kiln/boot.d/10-hostile
SH
	# A provisioner that takes sshd down (every sshd process, ours too).
	cat >killsshd.sh <<'SH'
#!/bin/sh
echo "stopping sshd"
for p in /proc/[0-9]*; do
	[ "$(cat "$p/comm" 2>/dev/null)" = sshd ] && kill -KILL "${p#/proc/}"
done
sleep 10
SH
	# ssh-keygen -l (what prints the console's fingerprints) lies; sshd's keys are real.
	cat >fakefp.sh <<'SH'
#!/bin/sh
set -e
mv /usr/bin/ssh-keygen /usr/bin/ssh-keygen.real
cat >/usr/bin/ssh-keygen <<'W'
#!/bin/sh
if [ "$1" = -l ]; then
	echo "256 SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA root@fake (ED25519)"
	exit 0
fi
exec /usr/bin/ssh-keygen.real "$@"
W
chmod 0755 /usr/bin/ssh-keygen
SH
	# ssh-keygen -l prints nothing: a console block without fingerprints.
	sed -e 's|echo "256 SHA256:.*|:|' fakefp.sh >nofp.sh
	chmod 0755 nosshd.sh fakefp.sh nofp.sh killsshd.sh
	git add -A && git commit -qm sabotage && git tag s-1
) || { fail "sabotage repo"; exit 1; }
python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
for what in ("nosshd", "fakefp", "nofp", "killsshd"):
    p = {"name": what, "target": "local",
         "layers": {"os": {"repo": tmp + "/repos/sabotage", "ref": "s-1",
                           "provision": [what + ".sh"]}}}
    json.dump(p, open("%s/%s.json" % (tmp, what), "w"))
PY

profile="$tmp/web.json"
python3 - "$SRC/profiles/examples/web.json" "$profile" "$tmp/repos" "$SECRET" <<'PY'
import json, sys
src, dst, repos, secret = sys.argv[1:]
p = json.load(open(src))
p["layers"]["os"]["repo"] = repos + "/os-base"
p["layers"]["app"]["repo"] = repos + "/web"
p["bake"]["variables"]["DEPLOY_TOKEN"]["value"] = secret
p["bake"]["timeout_s"] = 900
json.dump(p, open(dst, "w"), indent=1)
p["validate"]["checks"].append({"file": "/opt/web/VERSION", "contains": "v9.9.9"})
json.dump(p, open(dst.replace(".json", "-badcheck.json"), "w"), indent=1)
PY

# 1. A full bake.
start=$(date +%s.%N)
if "$KILN" bake "$profile" --json --manifest "$tmp/m1.json" >"$tmp/b1.out" 2>"$tmp/b1.err"; then
	ok "bake of v1.0.0 in $(elapsed "$start") s"
else
	fail "bake of v1.0.0: $(tail -n 30 "$tmp/b1.err")"
	exit 1
fi
image=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["image_id"])' "$tmp/m1.json")
q tags "$image" >"$tmp/tags.json"
python3 - "$tmp/tags.json" "$tmp/m1.json" "$base" <<'PY' || fail "image tags"
import json, sys
t = json.load(open(sys.argv[1])); m = json.load(open(sys.argv[2])); base = sys.argv[3]
tags = t["tags"]
assert t["state"] == "available", t
assert t["name"] == m["image_name"] and t["name"].startswith("kiln/web/v1.0.0/"), t
want = {"kiln:profile": "web", "kiln:bake-key": m["bake_key"], "kiln:app-ref": "v1.0.0",
        "kiln:os-ref": "os-1.0.0", "kiln:source-image": base, "kiln:managed": "true",
        "team": "web"}
for k, v in want.items():
    assert tags.get(k) == v, (k, tags.get(k), v)
for k in ("kiln:app-commit", "kiln:os-commit"):
    assert len(tags.get(k, "")) == 40, (k, tags)
assert tags.get("kiln:version"), tags
assert m["cache_hit"] is False
for step in ("layers", "source", "builder", "ssh", "upload", "provision", "checks", "image", "total"):
    assert step in m["timings"], (step, m["timings"])
PY
[ "$failed" = 0 ] && ok "image $image has kiln's tags and the manifest its timings"
no_leftovers "successful bake"
grep -q "$SECRET" "$tmp/b1.out" "$tmp/b1.err" "$KILN_STATE_DIR"/runs/* && fail "the secret leaked"

# An instance from the image serves the app.
read -r iid ip < <(q launch "$image")
if [ -n "${ip:-}" ]; then
	page=""
	for _ in $(seq 1 100); do
		page=$(curl -fsS --max-time 2 "http://$ip:8080/" 2>/dev/null) && break
		sleep 0.2
	done
	echo "$page" | grep -q "Hello from web" && ok "an instance of the image serves the page" ||
		fail "instance $iid at $ip: page '$page'"
	curl -fsS --max-time 2 "http://$ip:8080/VERSION" 2>/dev/null | grep -q v1.0.0 &&
		ok "it serves VERSION v1.0.0" || fail "VERSION is not v1.0.0"
	q terminate "$iid"
else
	fail "no instance from the image"
fi

# A release tag: v1.1.0 bakes (its check compares VERSION with the ref) and serves v1.1.0.
if image11=$("$KILN" bake "$profile" --app-ref v1.1.0 2>"$tmp/b11.err"); then
	read -r iid ip < <(q launch "$image11")
	page=""
	for _ in $(seq 1 100); do
		page=$(curl -fsS --max-time 2 "http://${ip:-0}:8080/" 2>/dev/null) && break
		sleep 0.2
	done
	echo "$page" | grep -q "Hello from web v1.1.0" && ok "--app-ref v1.1.0 bakes $image11, which serves v1.1.0" ||
		fail "v1.1.0 instance page: '$page'"
	[ -n "${iid:-}" ] && q terminate "$iid"
else
	fail "bake of v1.1.0: $(tail -n 10 "$tmp/b11.err")"
fi
no_leftovers "bake of v1.1.0"

# 2. Cache hit: under 1 s, no RunInstances.
before=$(run_instances)
start=$(date +%s.%N)
"$KILN" bake "$profile" --json >"$tmp/b2.out" 2>"$tmp/b2.err" || fail "cached bake: $(cat "$tmp/b2.err")"
t=$(elapsed "$start")
after=$(run_instances)
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["cache_hit"] and m["image_id"]==sys.argv[2]' \
	"$tmp/b2.out" "$image" && ok "second bake is a cache hit ($t s)" || fail "second bake not a cache hit"
awk -v t="$t" 'BEGIN {exit !(t < 1.0)}' || fail "cache hit took $t s (limit 1 s)"
[ "$before" = "$after" ] && ok "no RunInstances for the cache hit" ||
	fail "RunInstances went from $before to $after"

# 3. --force bakes anew.
if "$KILN" bake "$profile" --force >"$tmp/b3.out" 2>"$tmp/b3.err"; then
	image3=$(cat "$tmp/b3.out")
	[ -n "$image3" ] && [ "$image3" != "$image" ] && ok "--force bakes a new image $image3" ||
		fail "--force gave '$image3' (first: $image)"
else
	fail "--force bake: $(tail -n 20 "$tmp/b3.err")"
fi
no_leftovers "forced bake"

# A provisioner that echoes the secret, at full verbosity with every trace.
if KILN_TRACE=all "$KILN" -vv bake "$profile" --app-ref v-echo >"$tmp/b4.out" 2>"$tmp/b4.err"; then
	grep -q "title is kiln demo" "$tmp/b4.err" && ok "provisioner output is in the log at -vv" ||
		fail "no provisioner output at -vv"
	grep -q 'token is \*\*\*' "$tmp/b4.err" && ok "the echoed secret is redacted" ||
		fail "no redacted token line"
	grep -qF '[app] \x1b]0;pwned\x07 hostile title' "$tmp/b4.err" &&
		grep -qF '[app] before\x00after NUL' "$tmp/b4.err" && grep -qF '[app] \x1b[2J' "$tmp/b4.err" &&
		ok "provisioner output reaches the terminal escaped (ESC, BEL, NUL)" ||
		fail "provisioner output not escaped: $(grep -a 'hostile\|NUL' "$tmp/b4.err" | cat -v)"
	if grep -q "$(printf '\033')" "$tmp/b4.err"; then fail "a raw ESC reached stderr"; fi
	if grep -q "$SECRET" "$tmp/b4.out" "$tmp/b4.err" "$KILN_STATE_DIR"/runs/*; then
		fail "the secret appears at -vv with KILN_TRACE=all"
	else
		ok "the secret never appears in output, logs or journal"
	fi
else
	fail "secret-echo bake: $(tail -n 20 "$tmp/b4.err")"
fi
no_leftovers "secret-echo bake"

# 4. Failures leave nothing behind.
"$KILN" bake "$profile" --app-ref v-fail >"$tmp/f1.out" 2>"$tmp/f1.err"
rc=$?
[ "$rc" = 1 ] && grep -q "exited with status 1" "$tmp/f1.err" && grep -q "about to fail" "$tmp/f1.err" &&
	ok "a failing provisioner: exit 1 with its last lines" || fail "failing provisioner: rc $rc: $(tail -n 5 "$tmp/f1.err")"
no_leftovers "failing provisioner"

"$KILN" bake "$tmp/web-badcheck.json" >"$tmp/f2.out" 2>"$tmp/f2.err"
rc=$?
[ "$rc" = 1 ] && grep -q "checks failed" "$tmp/f2.err" && ok "a failing check: exit 1" ||
	fail "failing check: rc $rc: $(tail -n 5 "$tmp/f2.err")"
no_leftovers "failing check"

"$KILN" -v bake "$profile" --app-ref v-slow >"$tmp/f3.out" 2>"$tmp/f3.err" &
pid=$!
bg+=("$pid")
for _ in $(seq 1 1500); do
	grep -q "provisioning slowly" "$tmp/f3.err" && break
	sleep 0.2
done
kill -INT "$pid"
start=$(date +%s.%N)
wait "$pid"
rc=$?
bg=()
[ "$rc" != 0 ] && grep -q "interrupted" "$tmp/f3.err" &&
	ok "SIGINT during provisioning stops the bake (cleanup $(elapsed "$start") s)" ||
	fail "SIGINT: rc $rc: $(tail -n 5 "$tmp/f3.err")"
no_leftovers "SIGINT during provisioning"

"$KILN" bake "$profile" --app-ref v-fail --on-error abort >"$tmp/f4.out" 2>"$tmp/f4.err"
run=$(grep -o 'kiln gc --run-id [^ ]*' "$tmp/f4.err" | awk '{print $4}')
[ -n "$run" ] && [ -n "$(q leftovers)" ] && ok "--on-error abort leaves the builder and names $run" ||
	fail "--on-error abort: $(tail -n 5 "$tmp/f4.err")"
# The run's journal says it baked in the local cloud: gc needs no --target
# (AWS, were gc to go there, is a dead loopback port here).
AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_MAX_ATTEMPTS=1 \
	"$KILN" gc --run-id "$run" >"$tmp/gc.out" 2>"$tmp/gc.err" ||
	fail "kiln gc --run-id: $(cat "$tmp/gc.err")"
grep -q "^deleted instance" "$tmp/gc.out" &&
	grep -q "cleaning the local cloud at $KILN_LOCAL_ENDPOINT, where run $run baked" "$tmp/gc.err" &&
	ok "kiln gc --run-id cleaned the local cloud, where the run baked, saying so" ||
	fail "gc --run-id of a local bake: $(cat "$tmp/gc.out" "$tmp/gc.err")"
no_leftovers "gc after --on-error abort"

# 4b. SSH failures, from images broken on purpose.
nosshd=$("$KILN" bake "$tmp/nosshd.json" 2>"$tmp/s1.err") || fail "bake of the no-sshd image: $(tail -n 5 "$tmp/s1.err")"
fakefp=$("$KILN" bake "$tmp/fakefp.json" 2>"$tmp/s2.err") || fail "bake of the fake-fingerprint image: $(tail -n 5 "$tmp/s2.err")"
nofp=$("$KILN" bake "$tmp/nofp.json" 2>"$tmp/s5.err") || fail "bake of the no-fingerprint image: $(tail -n 5 "$tmp/s5.err")"
for what in nosshd fakefp nofp; do
	python3 - "$profile" "$tmp/web-$what.json" "${!what}" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["bake"]["source_image"] = sys.argv[3]
p["bake"]["ssh"] = {"timeout_s": 8}
json.dump(p, open(sys.argv[2], "w"))
PY
done
start=$(date +%s.%N)
"$KILN" bake "$tmp/web-nosshd.json" >"$tmp/s3.out" 2>"$tmp/s3.err"
rc=$?
if [ "$rc" = 1 ] && grep -q "did not answer within 8 s" "$tmp/s3.err" &&
	grep -q "no /usr/sbin/sshd in the image" "$tmp/s3.err"; then
	ok "SSH never comes up: timeout after $(elapsed "$start") s, with the console's last lines"
else
	fail "no sshd: rc $rc: $(tail -n 8 "$tmp/s3.err")"
fi
grep -qF '\x1b]0;pwned\x07 console title' "$tmp/s3.err" && ! grep -q "$(printf '\033')" "$tmp/s3.err" &&
	ok "the console's last lines are quoted escaped" ||
	fail "console lines not escaped: $(cat -v "$tmp/s3.err" | tail -n 5)"
no_leftovers "SSH timeout"

# A provisioner that kills sshd: the connection's loss is named, with what ran last.
"$KILN" bake "$tmp/killsshd.json" >"$tmp/s8.out" 2>"$tmp/s8.err"
rc=$?
if [ "$rc" = 1 ] && grep -q "while provisioner os/killsshd.sh ran: the SSH connection to '[0-9.]*:22' was lost" "$tmp/s8.err" &&
	grep -q "its last output line: stopping sshd" "$tmp/s8.err"; then
	ok "a provisioner that kills sshd: $(grep -o 'lost the builder.*' "$tmp/s8.err" | cut -c1-140)"
else
	fail "sshd killed: rc $rc: $(tail -n 5 "$tmp/s8.err")"
fi
no_leftovers "sshd killed by a provisioner"
"$KILN" bake "$tmp/web-fakefp.json" >"$tmp/s4.out" 2>"$tmp/s4.err"
rc=$?
if [ "$rc" = 1 ] && grep -q "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$tmp/s4.err" &&
	! grep -q "uploading" "$tmp/s4.err"; then
	ok "a host key that is not on the console is refused: $(grep 'error' "$tmp/s4.err" | head -n 1 | cut -c1-120)"
else
	fail "wrong host key: rc $rc: $(tail -n 8 "$tmp/s4.err")"
fi
no_leftovers "wrong host key"
"$KILN" bake "$tmp/web-nofp.json" >"$tmp/s6.out" 2>"$tmp/s6.err"
rc=$?
[ "$rc" = 1 ] && grep -q "no host key fingerprints on its console" "$tmp/s6.err" &&
	ok "no fingerprints on the console: refused (strict)" ||
	fail "no fingerprints, strict: rc $rc: $(tail -n 5 "$tmp/s6.err")"
no_leftovers "no fingerprints, strict"
python3 - "$tmp/web-nofp.json" "$tmp/web-nofp-accept.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["bake"]["ssh"]["host_key_check"] = "accept-new"
p["bake"]["ssh"]["timeout_s"] = 60
json.dump(p, open(sys.argv[2], "w"))
PY
"$KILN" bake "$tmp/web-nofp-accept.json" --force >"$tmp/s7.out" 2>"$tmp/s7.err"
rc=$?
[ "$rc" = 0 ] && grep -q "warning.*accepting its key" "$tmp/s7.err" &&
	ok "no fingerprints with accept-new: baked, with a warning" ||
	fail "no fingerprints, accept-new: rc $rc: $(tail -n 5 "$tmp/s7.err")"
no_leftovers "no fingerprints, accept-new"

# 4c. SIGTERM while waiting for CreateImage (a large layer of data widens the window).
"$KILN" -v bake "$profile" --app-ref v-big >"$tmp/st.out" 2>"$tmp/st.err" &
pid=$!
bg=("$pid")
for _ in $(seq 1 3000); do
	grep -q "creating image" "$tmp/st.err" && break
	sleep 0.01
done
kill -TERM "$pid"
wait "$pid"
rc=$?
bg=()
if [ "$rc" != 0 ]; then
	grep -q "interrupted" "$tmp/st.err" && ok "SIGTERM while waiting for the image stops the bake" ||
		fail "SIGTERM: rc $rc: $(tail -n 5 "$tmp/st.err")"
else
	ok "SIGTERM came after the image was ready (nothing to interrupt)"
fi
no_leftovers "SIGTERM during CreateImage"

# 5. Two bakes of one key at once make one image.
before=$(run_instances)
"$KILN" bake "$profile" --app-ref v-twin >"$tmp/t1.out" 2>"$tmp/t1.err" &
p1=$!
"$KILN" bake "$profile" --app-ref v-twin >"$tmp/t2.out" 2>"$tmp/t2.err" &
p2=$!
bg=("$p1" "$p2")
wait "$p1"
r1=$?
wait "$p2"
r2=$?
bg=()
after=$(run_instances)
if [ "$r1" = 0 ] && [ "$r2" = 0 ] && [ -s "$tmp/t1.out" ] && cmp -s "$tmp/t1.out" "$tmp/t2.out" &&
	[ $((after - before)) = 1 ]; then
	ok "two concurrent bakes of one key: one image $(cat "$tmp/t1.out"), one RunInstances"
else
	fail "concurrent bakes: rc $r1/$r2, images $(cat "$tmp/t1.out" "$tmp/t2.out" | tr '\n' ' '), RunInstances +$((after - before))"
fi
no_leftovers "concurrent bakes"

# 6. kill -9 at five points: gc finds the temporaries by tags alone (the
# journal deleted), and a re-run then bakes (the lock died with the process).
# kill9 NAME REF PATTERN: PATTERN is looked for in the journal and the log.
kill9() {
	local name=$1 ref=$2 pattern=$3 pid run j
	rm -rf "$KILN_STATE_DIR/runs"
	"$KILN" -v bake "$profile" --app-ref "$ref" --force >"$tmp/k-$name.out" 2>"$tmp/k-$name.err" &
	pid=$!
	bg=("$pid")
	for _ in $(seq 1 6000); do
		cat "$KILN_STATE_DIR"/runs/*.jsonl "$tmp/k-$name.err" 2>/dev/null | grep -q "$pattern" && break
		sleep 0.005
	done
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	bg=()
	j=$(ls "$KILN_STATE_DIR"/runs/ 2>/dev/null | head -n 1)
	run=${j%.jsonl}
	rm -rf "$KILN_STATE_DIR/runs"
	[ -n "$run" ] || { fail "kill -9 $name: no run started"; return; }
	"$KILN" gc --target local --run-id "$run" >"$tmp/gc-$name.out" 2>"$tmp/gc-$name.err" ||
		fail "gc after kill -9 $name: $(cat "$tmp/gc-$name.err")"
	# An image whose CreateImage was sent completes on its own: it is whole (made
	# after the checks passed) and a re-run finds it by its bake key.
	for _ in $(seq 1 300); do
		q leftovers | grep -q "^image .* pending" || break
		sleep 0.1
	done
	no_leftovers "kill -9 $name, then kiln gc --run-id $run ($(grep -c '^deleted' "$tmp/gc-$name.out") deleted)"
}
kill9 after-key-pair v1.0.0 '"created","kind":"key-pair"'
kill9 after-run-instances v1.0.0 '"created","kind":"instance"'
kill9 during-upload v-big 'uploading layer os'
kill9 during-provisioning v-slow 'provisioning slowly'
kill9 waiting-for-image v-big 'creating image'
"$KILN" bake "$profile" --force >"$tmp/k2.out" 2>"$tmp/k2.err" && ok "a re-run after the crashes bakes" ||
	fail "re-run after kill -9: $(tail -n 5 "$tmp/k2.err")"
no_leftovers "re-run after kill -9"

# 7. Nothing running at the endpoint: kiln bake starts the local cloud itself
# and, with no debian-12* image there, builds the base image first.
"$KILN" cloud down --state-dir "$STATE" >/dev/null 2>&1
if KILN_CLOUD_STATE_DIR="$tmp/cloud2" KILN_LOCAL_CIDR="$CIDR" \
	"$KILN" bake "$profile" >"$tmp/a.out" 2>"$tmp/a.err"; then
	grep -q "starting it" "$tmp/a.err" && grep -q "building 'debian-12-minbase'" "$tmp/a.err" &&
		ok "kiln bake started the local cloud and built the base image, saying so" ||
		fail "auto start: $(cat "$tmp/a.err")"
	[ -s "$tmp/cloud2/requests.jsonl" ] && ok "the bake ran against the cloud it started" ||
		fail "no request log in the started cloud"
else
	fail "bake with no cloud running: $(tail -n 10 "$tmp/a.err")"
fi
no_leftovers "bake on a cloud kiln started"

exit $failed
