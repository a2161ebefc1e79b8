#!/bin/bash
# Ten instances at once on a small machine: all boot from the same Debian
# layer, each answers SSH with its own host key (checked against its own
# console) and its own hostname; all stop together and leave nothing behind.
set -u
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
for tool in ssh ssh-keygen ssh-keyscan debootstrap ip; do
	command -v "$tool" >/dev/null || { echo "skipped: no $tool"; exit 77; }
done
. "$(dirname "$0")/../fixtures/runtime.sh"
n=10

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
