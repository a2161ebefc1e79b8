#!/bin/bash
# tests/fixtures/testcloud.sh's watch_cloud: a test script that starts a
# local cloud and is killed with SIGKILL (as ctest's timeout kills it, its
# process group included) leaves nothing running: the watcher brings the
# cloud down within seconds.
# Skips (77) unless root.
set -u
. "$(dirname "$0")/../fixtures/missing.sh"
[ "$(id -u)" = 0 ] || missing "needs root"
KILN="${KILN_BIN:?}"
FIXTURES="$(cd "$(dirname "$0")/../fixtures" && pwd)"
# shellcheck source=../fixtures/results.sh
. "$FIXTURES/results.sh"
# shellcheck source=../fixtures/testcloud.sh
. "$FIXTURES/testcloud.sh"
test_cloud 4631 21 testcloud-watchdog
: "${tmp:?}" "${STATE:?}" "${PORT:?}" "${CIDR:?}"
victim_pid=

cleanup() {
	local rc=$?
	[ -n "$victim_pid" ] && kill -KILL -- "-$victim_pid" 2>/dev/null
	"$KILN" cloud down --state-dir "$STATE" >/dev/null 2>&1
	finish "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

running() {
	"$KILN" cloud status --state-dir "$STATE" --json 2>/dev/null | grep -q '"running": true'
}

# The victim: a script of the usual shape, in a process group of its own,
# that starts the cloud under its watcher and waits to be killed. It
# inherits this script's range lock.
cat >"$tmp/victim.sh" <<EOF
#!/bin/bash
. "$FIXTURES/testcloud.sh"
KILN="$KILN"
STATE="$STATE"
mkdir -p "\$STATE"
watch_cloud "\$STATE"
"\$KILN" cloud up --port $PORT --state-dir "\$STATE" --cidr $CIDR >/dev/null || exit 1
touch "$tmp/up"
sleep 600
EOF
chmod +x "$tmp/victim.sh"
setsid "$tmp/victim.sh" </dev/null >"$tmp/victim.log" 2>&1 &
victim_pid=$!

for _ in $(seq 1 120); do
	[ -e "$tmp/up" ] && break
	kill -0 "$victim_pid" 2>/dev/null || break
	sleep 0.5
done
if [ -e "$tmp/up" ] && running; then
	ok "the victim started its cloud"
else
	fail "the victim did not start its cloud: $(tr '\n' ' ' <"$tmp/victim.log")"
	exit 1
fi

kill -KILL -- "-$victim_pid"
wait "$victim_pid" 2>/dev/null
victim_pid=
# The watcher polls each second, then runs kiln cloud down.
for _ in $(seq 1 60); do
	running || break
	sleep 1
done
if running; then
	fail "the cloud still runs 60 s after its script was killed"
else
	ok "SIGKILL of the script and its group: its cloud was brought down"
fi
if pgrep -f -- "--state-dir $STATE" >/dev/null; then
	fail "processes of the cloud remain: $(pgrep -af -- "--state-dir $STATE" | tr '\n' ' ')"
else
	ok "no process of the cloud remains"
fi
