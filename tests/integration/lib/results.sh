# Sourced by the integration scripts (bash): their results, and the work
# directory $tmp, removed when everything passed and kept for a look when
# anything failed.
failed=0

fail() {
	echo "FAIL: $*" >&2
	failed=1
}

ok() {
	echo "ok   $*"
}

# finish RC: the end of a script's EXIT trap.
finish() {
	local rc=$1
	if [ "$failed" = 0 ] && [ "$rc" = 0 ]; then
		rm -rf "$tmp"
	else
		echo "kept $tmp" >&2
		[ "$rc" = 0 ] && rc=1
	fi
	exit "$rc"
}
