#!/usr/bin/env bash
# `sawmill segment verify` and `dump`: segment_cli_fixture writes a segment, this script
# corrupts and tears copies and checks exit codes and messages.
# Usage: segment_cli_test.sh SAWMILL SEGMENT_CLI_FIXTURE
set -u
bin="$1"
writer="$2"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
"$writer" "$dir/good.seg" || { echo "FAIL: could not write the fixture segment"; exit 1; }

expect() {  # expect <exit code> <text> <args...>
  local want_rc="$1" want_text="$2"
  shift 2
  local out rc
  out=$("$bin" "$@" 2>&1)
  rc=$?
  if [ "$rc" != "$want_rc" ]; then
    echo "FAIL: sawmill $* exited $rc, want $want_rc"; echo "$out"; fail=1
  elif ! grep -qF -- "$want_text" <<<"$out"; then
    echo "FAIL: sawmill $* did not print '$want_text'"; echo "$out"; fail=1
  else
    echo "ok: sawmill $*"
  fi
}

expect 0 "OK (" segment verify "$dir/good.seg"
expect 0 "format version 27" segment dump "$dir/good.seg"
expect 0 "message" segment dump --rows 3 "$dir/good.seg"
expect 0 "#2 ts=" segment dump --rows 3 "$dir/good.seg"
expect 0 "service" segment dump "$dir/good.seg"
expect 0 "numeric_range        version 1" segment dump "$dir/good.seg"

# Flip one byte in the middle of the message column block 1 (its offset comes from the dump).
line=$("$bin" segment dump "$dir/good.seg" | grep -m1 "^  message ")
[ -n "$line" ] || { echo "FAIL: dump lists no message column"; fail=1; }
cp "$dir/good.seg" "$dir/bad.seg"
offset=$("$writer" --offset-of message 1 "$dir/good.seg")
printf '\xff' | dd of="$dir/bad.seg" bs=1 seek="$((offset + 3))" conv=notrunc status=none
expect 1 "column 'message' block 1 at offset $offset" segment verify "$dir/good.seg" "$dir/bad.seg"
expect 1 "CORRUPT" segment verify "$dir/bad.seg"

# A torn file: the footer is gone.
head -c 1000 "$dir/good.seg" > "$dir/torn.seg"
expect 1 "offset" segment verify "$dir/torn.seg"
expect 1 "DataLoss" segment dump "$dir/torn.seg"
# The footer is gone but the header still says which segment the file is.
expect 1 "its header identity" segment dump "$dir/torn.seg"
expect 0 "identity in header and footer agree" segment dump "$dir/good.seg"
expect 1 "NotFound" segment verify "$dir/absent.seg"
expect 2 "required" segment verify
exit $fail
