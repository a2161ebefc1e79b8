#!/bin/sh
# kiln layers: packs every layer of a profile; --json has exactly the documented
# keys, the digests are the files', a re-run gives the same bytes, a branch is
# refused with exit 2.
set -u
: "${KILN_BIN:?KILN_BIN is not set}"
tmp=$(mktemp -d /tmp/kiln-layers-cli-XXXXXX)
# A local cloud that a regression might start is stopped before the directory goes.
trap '"$KILN_BIN" cloud down --state-dir "$tmp/nocloud" >/dev/null 2>&1; rm -rf "$tmp"' EXIT INT TERM
export KILN_CACHE="$tmp/cache" HOME="$tmp" GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@kiln.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@kiln.invalid
fail() { echo "layers_cli: $*" >&2; exit 1; }

mkrepo() {
	git -c init.defaultBranch=main init -q "$tmp/$1" && mkdir -p "$tmp/$1/bin" &&
		printf '#!/bin/sh\necho %s\n' "$1" >"$tmp/$1/bin/run" && chmod 755 "$tmp/$1/bin/run" &&
		git -C "$tmp/$1" add -A && git -C "$tmp/$1" commit -qm one &&
		git -C "$tmp/$1" tag -a -m "$2" "$2" || fail "cannot make $1"
}
mkrepo os-base os-1
mkrepo app v1.0

write_profile() {
	cat >"$tmp/web.json" <<JSON
{
  "name": "web",
  "target": "local",
  "layers": {
    "os": {"repo": "os-base", "ref": "os-1", "provision": ["bin/run"]},
    "app": {"repo": "./app", "ref": "$1", "provision": ["bin/run"]}
  }
}
JSON
}
write_profile v1.0

"$KILN_BIN" layers "$tmp/web.json" --json --out "$tmp/out" >"$tmp/a.json" || fail "kiln layers failed"
"$KILN_BIN" layers "$tmp/web.json" --json --out "$tmp/out2" >"$tmp/b.json" || fail "second run failed"
python3 - "$tmp/a.json" "$tmp/b.json" <<'PY' || fail "bad --json output"
import hashlib, json, os, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
assert isinstance(a, list) and [l["name"] for l in a] == ["os", "app"], a
for l, m in zip(a, b):
    assert set(l) == {"name", "repo", "ref", "commit", "path", "size", "sha256"}, l
    data = open(l["path"], "rb").read()
    assert hashlib.sha256(data).hexdigest() == l["sha256"] and len(data) == l["size"], l
    assert len(l["commit"]) == 40 and os.path.basename(l["path"]) == "%s-%s.tar.zst" % (l["name"], l["commit"][:12])
    assert m["sha256"] == l["sha256"], (l, m)
PY

"$KILN_BIN" layers "$tmp/web.json" >"$tmp/human.txt" || fail "human output failed"
grep -q "sha256" "$tmp/human.txt" || fail "human output lacks sha256"

write_profile main
"$KILN_BIN" layers "$tmp/web.json" --out "$tmp/refused" >"$tmp/refused.out" 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] || fail "a branch gave exit $rc, not 2"
# Every ref is resolved before anything is packed or printed.
[ ! -s "$tmp/refused.out" ] || fail "a refused profile printed: $(cat "$tmp/refused.out")"
[ ! -e "$tmp/refused" ] || [ -z "$(ls "$tmp/refused")" ] || fail "a refused profile wrote archives"
grep -qx "kiln: error: layer 'app': 'main' is a branch; pin layers to a tag or commit" "$tmp/err" ||
	fail "unexpected message: $(cat "$tmp/err")"

write_profile v9
"$KILN_BIN" layers "$tmp/web.json" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] || fail "a missing tag gave exit $rc, not 2"

# The shipped example, against the demo's repositories (laid out as in the tree).
: "${KILN_SOURCE_DIR:?KILN_SOURCE_DIR is not set}"
mkdir -p "$tmp/ex/profiles/examples" "$tmp/ex/demo"
cp "$KILN_SOURCE_DIR/profiles/examples/web.json" "$tmp/ex/profiles/examples/"
"$KILN_SOURCE_DIR/demo/make-repos" "$tmp/ex/demo/repos" >/dev/null || fail "make-repos failed"
"$KILN_BIN" layers "$tmp/ex/profiles/examples/web.json" --env prod --json --out "$tmp/ex/out" \
	>"$tmp/ex.json" || fail "kiln layers on the example failed"
os=$(git -C "$tmp/ex/demo/repos/os-base" rev-parse 'os-1.0.0^{commit}')
web=$(git -C "$tmp/ex/demo/repos/web" rev-parse 'v1.0.0^{commit}')
python3 - "$tmp/ex.json" "$os" "$web" <<'PY' || fail "example: wrong commits"
import json, sys
l = json.load(open(sys.argv[1]))
assert [x["commit"] for x in l] == sys.argv[2:4], l
PY
mkdir -p "$tmp/ex/x"
tar --zstd -xf "$tmp/ex/out/app-$(echo "$web" | cut -c1-12).tar.zst" -C "$tmp/ex/x" ||
	fail "cannot extract the app layer"
[ "$(cat "$tmp/ex/x/VERSION")" = v1.0.0 ] || fail "app layer: wrong VERSION"
[ -x "$tmp/ex/x/deploy/install.sh" ] || fail "app layer: install.sh lost its x bit"

# A provisioner missing from the tree: exit 2 at its place in the profile.
write_profile v1.0
sed -e 's|"ref": "v1.0", "provision": \["bin/run"\]|"ref": "v1.0", "provision": ["bin/run", "bin"]|' \
	"$tmp/web.json" >"$tmp/noprov.json"
"$KILN_BIN" layers "$tmp/noprov.json" --out "$tmp/noprov" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] || fail "a directory as provisioner gave exit $rc, not 2"
grep -q "^$tmp/noprov.json:6:70: layers.app.provision\[1\]: 'bin' is a directory, not a file" "$tmp/err" ||
	fail "provisioner message: $(cat "$tmp/err")"

# kiln bake finds it too, before it reaches a cloud: none is started.
KILN_LOCAL_ENDPOINT=http://127.0.0.1:9 KILN_CLOUD_STATE_DIR="$tmp/nocloud" KILN_STATE_DIR="$tmp/state" \
	"$KILN_BIN" bake "$tmp/noprov.json" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] || fail "kiln bake with a directory as provisioner gave exit $rc, not 2"
grep -q "^$tmp/noprov.json:6:70: layers.app.provision\[1\]: 'bin' is a directory" "$tmp/err" ||
	fail "kiln bake's provisioner message: $(cat "$tmp/err")"
[ ! -e "$tmp/nocloud" ] || fail "kiln bake started a local cloud for a profile it refuses"

# A crafted tree (git mktree checks nothing): '.git' under a name holding an
# escape sequence. Refused with exit 2; the terminal never sees the ESC.
blob=$(git -C "$tmp/app" rev-parse HEAD:bin/run)
hooks=$(printf '100755 blob %s\tpost-checkout\n' "$blob" | git -C "$tmp/app" mktree)
dotgit=$(printf '040000 tree %s\thooks\n' "$hooks" | git -C "$tmp/app" mktree)
evil=$(printf '040000 tree %s\t.GIT\n' "$dotgit" | git -C "$tmp/app" mktree)
bin=$(git -C "$tmp/app" rev-parse HEAD:bin)
top=$(printf '040000 tree %s\tbin\n040000 tree %s\tx\033]0;pwned\007\n' "$bin" "$evil" |
	git -C "$tmp/app" mktree)
git -C "$tmp/app" tag evil "$(git -C "$tmp/app" commit-tree "$top" -m evil)"
write_profile evil
"$KILN_BIN" layers "$tmp/web.json" --out "$tmp/evil" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] || fail "a tree with .GIT gave exit $rc, not 2"
grep -qF "kiln: error: layer 'app': 'x\x1b]0;pwned\x07/.GIT' is a git directory" "$tmp/err" ||
	fail "crafted tree message: $(cat -v "$tmp/err")"
if grep -q "$(printf '\033')" "$tmp/err"; then fail "a raw ESC reached stderr"; fi

"$KILN_BIN" layers "$tmp/web.json" --bogus >/dev/null 2>&1
[ $? -eq 2 ] || fail "an unknown option is not exit 2"
"$KILN_BIN" layers --help | grep -q "usage: kiln layers" || fail "no --help"
echo "layers_cli: ok"
