#!/bin/bash
# Ten instances at once on a small machine: all boot from the same Debian
# layer, each answers SSH with its own host key (checked against its own
# console) and its own hostname; all stop together and leave nothing behind.
set -u
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
for tool in ssh ssh-keygen ssh-keyscan debootstrap ip; do
	command -v "$tool" >/dev/null || { echo "skipped: no $tool"; exit 77; }
done
LC="${KILN_BUILD_DIR:?}/lc_machine"
cache="${KILN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln}"
cidr=10.213.0.0/24
br="kt$$"
n=10
# Other checkouts of kiln on this machine run this test too: one at a time on
# this address range, or their instances answer for ours.
exec 9>/tmp/kiln-test-net-10.213.0.lock
flock -w 900 9 || { echo "FAIL: 10.213.0.0/24 stayed busy" >&2; exit 1; }
tmp=$(mktemp -d /tmp/kiln-lcrun-XXXXXX)
drivers=()

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

cleanup() {
	local rc=$? pid d
	for pid in "${drivers[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${drivers[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for d in "$tmp"/i-*; do
		[ -d "$d" ] && "$LC" reap "$d"
	done
	"$LC" net-down "$br"
	rm -rf "$tmp"
	if grep -q "$tmp" /proc/mounts || ip link show "$br" >/dev/null 2>&1 ||
		pgrep -f "cloud __init --dir $tmp" >/dev/null; then
		echo "FAIL: left behind: mounts, bridge or processes of $tmp" >&2
		rc=1
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.3f\n", b - a}'; }

"$LC" debootstrap "$tmp/base" bookworm "$cache" || fail "debootstrap layer"
ssh-keygen -q -t ed25519 -N '' -C kiln-test -f "$tmp/key" || fail "ssh-keygen"

t0=$(now)
for i in $(seq 1 $n); do
	"$LC" run --bridge "$br" --cidr "$cidr" --dir "$tmp/i-$i" --id "i-$i" \
		--ip "10.213.0.$((100 + i))" --hostname "host-$i" --key "$tmp/key.pub" "$tmp/base" \
		>"$tmp/i-$i.out" 2>&1 &
	drivers+=($!)
done

# Every banner, bounded to 30 s in all.
deadline=$(($(date +%s) + 30))
for i in $(seq 1 $n); do
	until [ "$(timeout 1 bash -c "exec 3<>/dev/tcp/10.213.0.$((100 + i))/22 && head -c 7 <&3" 2>/dev/null)" = SSH-2.0 ]; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "i-$i: no SSH banner: $(cat "$tmp/i-$i.out")"
		sleep 0.05
	done
done
echo "$n instances: every SSH banner readable $(elapsed "$t0") s after launching them together"

for i in $(seq 1 $n); do
	ip="10.213.0.$((100 + i))"
	want=$(awk '/BEGIN SSH HOST KEY/ {f=1; next} /END SSH HOST KEY/ {f=0} f {print $2}' \
		"$tmp/i-$i/console.log")
	[ -n "$want" ] || fail "i-$i: no fingerprints on the console"
	ssh-keyscan -T 5 -t ed25519 "$ip" 2>/dev/null >"$tmp/known-$i"
	fp=$(ssh-keygen -lf "$tmp/known-$i" | awk '{print $2}')
	[ -n "$fp" ] && echo "$want" | grep -qxF "$fp" || fail "i-$i: host key $fp not on its console"
	echo "$fp" >>"$tmp/all-fps"
	got=$(timeout 60 ssh -i "$tmp/key" -o BatchMode=yes -o StrictHostKeyChecking=yes \
		-o UserKnownHostsFile="$tmp/known-$i" -o ConnectTimeout=5 -o LogLevel=ERROR \
		"root@$ip" hostname)
	[ "$got" = "host-$i" ] || fail "i-$i: hostname '$got'"
done
[ "$(sort -u "$tmp/all-fps" | wc -l)" = $n ] || fail "instances share host keys"

t0=$(now)
for pid in "${drivers[@]}"; do
	kill -TERM "$pid"
done
for i in $(seq 1 $n); do
	wait "${drivers[$((i - 1))]}"
	grep -qx "stopped 0" "$tmp/i-$i.out" || fail "i-$i: $(cat "$tmp/i-$i.out")"
done
drivers=()
echo "$n instances stopped in $(elapsed "$t0") s"
grep -q "$tmp" /proc/mounts && fail "mounts left after stop"
ip -o link show master "$br" | grep -q . && fail "veths left after stop"
echo "ok"
