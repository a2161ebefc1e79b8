#!/bin/bash
# Real machines from the local cloud's runtime, reached with OpenSSH:
# boot a Debian minbase instance (debootstrap, cached under $KILN_CACHE), check
# its host key against the console fingerprints, run commands, write a file,
# stop and start it (file kept, user data ran once, same host keys), capture
# its upper directory as a layer (a deleted file and a replaced directory
# included), boot a new instance from [base, captured] and find the changes
# with NEW host keys, then power it off from inside. Nothing may be left
# behind: no process, mount, veth or bridge, even when a step fails.
set -u
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
for tool in ssh ssh-keygen ssh-keyscan debootstrap ip nsenter; do
	command -v "$tool" >/dev/null || { echo "skipped: no $tool"; exit 77; }
done
. "$(dirname "$0")/../fixtures/runtime.sh"

elapsed() {
	awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.3f\n", b - a}'
}

# Base layer: built once per machine, cloned (hard links) into this test's layer.
start=$(date +%s.%N)
"$LC" debootstrap "$tmp/base" bookworm "$cache" || fail "debootstrap layer"
echo "base layer ready in $(elapsed "$start") s (cache: $cache)"

ssh-keygen -q -t ed25519 -N '' -C kiln-test -f "$tmp/key" || fail "ssh-keygen"
printf '#!/bin/sh\necho "user data on $(hostname)"\necho ran >> /root/ud-count\n' >"$tmp/ud"

# boot NAME IP LAYER...: start a driver in the background.
boot() {
	local name=$1 ip=$2
	shift 2
	"$LC" run --bridge "$br" --cidr "$cidr" --dir "$tmp/$name" --id "$name" --ip "$ip" \
		--hostname "ip-${ip//./-}" --key "$tmp/key.pub" --user-data "$tmp/ud" "$@" \
		>"$tmp/$name.out" 2>&1 &
	drivers+=($!)
	eval "driver_${name//-/_}=$!"
	# Measure from the moment the machine runs, not from the driver's start.
	for _ in $(seq 1 200); do
		grep -q '^started' "$tmp/$name.out" && return 0
		grep -q 'lc_machine:' "$tmp/$name.out" && fail "$name: $(cat "$tmp/$name.out")"
		sleep 0.01
	done
	fail "$name: did not start"
}

# wait_banner IP: seconds until "SSH-2.0" is readable, bounded to 15 s.
wait_banner() {
	local ip=$1 t0 i
	t0=$(date +%s.%N)
	for i in $(seq 1 300); do
		if [ "$(timeout 1 bash -c "exec 3<>/dev/tcp/$ip/22 && head -c 7 <&3" 2>/dev/null)" = SSH-2.0 ]; then
			elapsed "$t0"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# fingerprints NAME: the last block of host key fingerprints on the console.
fingerprints() {
	awk '/-----BEGIN SSH HOST KEY FINGERPRINTS-----/ {n++; b=""; next}
	     /-----END SSH HOST KEY FINGERPRINTS-----/ {last=b; next}
	     {b = b $2 "\n"} END {printf "%s", last}' "$tmp/$1/console.log" | sort
}

# known_hosts NAME IP: scanned keys, each checked against the console's fingerprints.
known_hosts() {
	local name=$1 ip=$2 want line fp n=0
	want=$(fingerprints "$name")
	[ -n "$want" ] || fail "$name: no fingerprints on the console"
	ssh-keyscan -T 5 "$ip" 2>/dev/null >"$tmp/$name.scan"
	: >"$tmp/$name.known"
	while read -r line; do
		fp=$(echo "$line" | ssh-keygen -lf - | awk '{print $2}')
		echo "$want" | grep -qxF "$fp" || fail "$name: host key $fp is not on the console"
		echo "$line" >>"$tmp/$name.known"
		n=$((n + 1))
	done <"$tmp/$name.scan"
	[ "$n" -gt 0 ] || fail "$name: ssh-keyscan found no key"
}

on() {
	local name=$1 ip=$2
	shift 2
	timeout 60 ssh -i "$tmp/key" -o BatchMode=yes -o StrictHostKeyChecking=yes \
		-o UserKnownHostsFile="$tmp/$name.known" -o ConnectTimeout=5 -o LogLevel=ERROR \
		"root@$ip" "$@"
}

ip1=10.213.0.11
ip2=10.213.0.12
boot i-one "$ip1" "$tmp/base"
t=$(wait_banner "$ip1") || fail "i-one: no SSH banner"
echo "i-one: SSH banner $t s after start (first boot, host keys made)"
known_hosts i-one "$ip1"
[ "$(on i-one "$ip1" hostname)" = ip-10-213-0-11 ] || fail "i-one: hostname"
on i-one "$ip1" 'tr "\0" " " </proc/1/cmdline' | grep -q "^kiln cloud __init " ||
	fail "i-one: PID 1 is not kiln's init"
on i-one "$ip1" 'echo kept > /root/file && rm /etc/motd &&
	rm -rf /usr/share/doc/busybox && mkdir /usr/share/doc/busybox &&
	echo only > /usr/share/doc/busybox/only' || fail "i-one: changes"
# Default route via the gateway 10.213.0.1 (little-endian hex in /proc/net/route).
on i-one "$ip1" 'cat /proc/net/route' | grep -q $'^eth0\t00000000\t0100D50A' ||
	fail "i-one: no default route via the gateway"
fp_one=$(fingerprints i-one)
# Root inside cannot reach the host's kernel settings, disks or mounts; it keeps what
# provisioning needs (chown, its own files).
got=$(on i-one "$ip1" 'echo x > /tmp/own && chown 65534:65534 /tmp/own && echo chown-ok
	echo "|/bin/false" > /proc/sys/kernel/core_pattern 2>/dev/null && echo core_pattern-written
	busybox mount -t tmpfs t /mnt 2>/dev/null && echo mounted
	busybox mount -o remount,rw /sys 2>/dev/null && echo sys-rw
	busybox mknod /tmp/disk b 254 0 2>/dev/null && echo mknod
	true')
[ "$got" = chown-ok ] || fail "i-one: confinement: $got"

# Stop, then start again from the same directory.
kill -TERM "$driver_i_one"
wait "$driver_i_one"
grep -qx "stopped 0" "$tmp/i-one.out" || fail "i-one: did not stop cleanly: $(cat "$tmp/i-one.out")"
grep -q "$tmp" /proc/mounts && fail "i-one: mounts left after stop"
ip -o link show master "$br" | grep -q . && fail "i-one: veth left after stop"
boot i-one "$ip1" "$tmp/base"
wait_banner "$ip1" >/dev/null || fail "i-one: no SSH banner after restart"
[ "$(on i-one "$ip1" cat /root/file)" = kept ] || fail "i-one: file lost across stop/start"
[ "$(on i-one "$ip1" cat /root/ud-count)" = ran ] || fail "i-one: user data did not run exactly once"
[ "$(grep -c 'user data on ip-10-213-0-11' "$tmp/i-one/console.log")" = 1 ] ||
	fail "i-one: user data output not on the console once"
[ "$(fingerprints i-one)" = "$fp_one" ] || fail "i-one: host keys changed across a restart"
kill -TERM "$driver_i_one"
wait "$driver_i_one"

# Capture and boot a new instance from [base, captured].
"$LC" capture "$tmp/captured" "$tmp/i-one/upper" || fail "capture"
ls "$tmp/captured/etc/ssh/" | grep -q ssh_host_ && fail "capture carried the host keys"
boot i-two "$ip2" "$tmp/base" "$tmp/captured"
t=$(wait_banner "$ip2") || fail "i-two: no SSH banner"
echo "i-two: SSH banner $t s after start"
known_hosts i-two "$ip2"
[ "$(on i-two "$ip2" cat /root/file)" = kept ] || fail "i-two: file missing from the image"
on i-two "$ip2" 'test ! -e /etc/motd' || fail "i-two: deleted file came back (whiteout lost)"
[ "$(on i-two "$ip2" ls /usr/share/doc/busybox)" = only ] ||
	fail "i-two: replaced directory merged (opaque lost)"
[ "$(on i-two "$ip2" cat /root/ud-count)" = "ran
ran" ] || fail "i-two: user data did not run on the new instance"
fp_two=$(fingerprints i-two)
[ -n "$fp_two" ] || fail "i-two: no fingerprints"
for fp in $fp_two; do
	echo "$fp_one" | grep -qxF "$fp" && fail "i-two: reuses a host key of i-one"
done

# Power off from inside: the driver sees init exit.
on i-two "$ip2" 'busybox poweroff' 2>/dev/null
for i in $(seq 1 100); do
	grep -q '^exited' "$tmp/i-two.out" && break
	sleep 0.05
done
grep -qx "exited 0" "$tmp/i-two.out" || fail "i-two: power-off not detected: $(cat "$tmp/i-two.out")"
wait "$driver_i_two"
echo "ok"
