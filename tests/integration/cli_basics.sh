#!/bin/sh
# The command line's contract: version, help, exit codes, one-line errors.
set -u
kiln=${KILN_BIN:?}
src=${KILN_SOURCE_DIR:?}
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # name expected-exit command...
	name=$1
	want=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -eq "$want" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $name: exit $got, want $want" >&2
		sed 's/^/  | /' "$tmp/err" >&2
	fi
}

expect_line() { # name file pattern: exactly one line, matching
	if [ "$(wc -l <"$2")" -eq 1 ] && grep -q -- "$3" "$2"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $1: want one line matching '$3', got:" >&2
		sed 's/^/  | /' "$2" >&2
	fi
}

check version 0 "$kiln" --version
grep -qx 'kiln [0-9]*\.[0-9]*\.[0-9]*' "$tmp/out" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL version format" >&2; }
check help 0 "$kiln" --help
grep -q '^  profile ' "$tmp/out" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL help lists profile" >&2; }
check no-command 2 "$kiln"
check unknown-command 2 "$kiln" frobnicate
expect_line unknown-command-line "$tmp/err" "unknown command 'frobnicate'"
check unknown-option 2 "$kiln" --frobnicate
expect_line unknown-option-line "$tmp/err" "unknown option '--frobnicate'"
check unknown-sub-option 2 "$kiln" profile check --nope x.json
expect_line unknown-sub-option-line "$tmp/err" "unknown option '--nope'"
check bad-color 2 "$kiln" --color sometimes version
expect_line bad-color-line "$tmp/err" "invalid value 'sometimes' for '--color'"
check cmd-help 0 "$kiln" profile --help
check help-cmd 0 "$kiln" help profile
check global-after-command 0 "$kiln" version -vv --color never --json
grep -q '"version"' "$tmp/out" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL version --json" >&2; }
check profile-valid 0 "$kiln" profile check "$src/profiles/examples/web.json"
check profile-missing 2 "$kiln" profile check "$tmp/none.json"
expect_line profile-missing-line "$tmp/err" "cannot open '$tmp/none.json'"
printf '{"name": "web",\n "layers": 3}\n' >"$tmp/bad.json"
check profile-bad 2 "$kiln" profile check "$tmp/bad.json"
expect_line profile-bad-line "$tmp/err" "^$tmp/bad.json:2:12: layers: expected object, got integer\$"
check profile-show-json 0 "$kiln" profile show "$src/profiles/examples/web.json"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL show is JSON" >&2; }
check refresh-nothing 2 "$kiln" refresh
expect_line refresh-nothing-line "$tmp/err" "needs profiles or --dir DIR"
check refresh-both 2 "$kiln" refresh "$tmp/bad.json" --dir "$tmp"
check refresh-empty-dir 2 "$kiln" refresh --dir "$src/cli"
expect_line refresh-empty-dir-line "$tmp/err" "no \*.json profile in"
check refresh-bad-profile 2 "$kiln" refresh --dir "$tmp" --dry-run
grep -q "^$tmp/bad.json:2:12: layers: expected object" "$tmp/err" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL refresh names the bad profile's place" >&2; }
# A result that cannot be written is a failure, not a silent success.
if [ -w /dev/full ]; then
	"$kiln" profile show "$src/profiles/examples/web.json" >/dev/full 2>/dev/null
	[ $? -eq 1 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL /dev/full exit" >&2; }
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
