#!/usr/bin/env bash
# `mpiflow inspect` on a checkpoint written through ckpt_write_tm and
# ckpt_write_metadata by tests/helpers/ckpt_sample.c (its header describes
# the contents). Expected figures are computed here from that description;
# h5dump must read every file; damaged checkpoints exit 1 with a message
# naming the file; usage errors exit 2.
. "$(dirname "$0")/lib.sh"
SAMPLE=${1:?usage: inspect.sh CKPT_SAMPLE}
CHK=$WORK/checkpoints/wc/chk-3
"$SAMPLE" "$CHK" || fail "ckpt_sample"

"$MPIFLOW" inspect "$CHK" >"$WORK/out" || fail "inspect of a good checkpoint"
# keyed bytes: key groups 0..6 hold (k+1)*100 bytes, key group 7 none
keyed=$(awk 'BEGIN { for (k = 0; k < 7; k++) s += (k + 1) * 100; print s }')
expect() { grep -qF -- "$1" "$WORK/out" || { cat "$WORK/out" >&2; fail "output lacks '$1'"; }; }
expect "checkpoint 3 of job 'wc'"
expect "taken at:         2025-11-21 19:47:33.123 UTC"
expect "max-parallelism:  8"
expect "taskmanagers:     2"
expect "operator 'counts/local'"
expect "schema:           word:string, count:i64"
expect "($keyed bytes) in 7 key groups (8 blobs)"
expect "operator 'lines'"
expect "bytes per subtask: 16 24"
expect "state $((keyed + 16 + 24)) bytes"
total=$(cat "$CHK"/*.h5 | wc -c)
expect "($total bytes) in 3 files"

# standard HDF5 tools read the layout documented in docs/CHECKPOINTS.md
if command -v h5dump >/dev/null; then
  for f in "$CHK"/*.h5; do h5dump -H "$f" >/dev/null || fail "h5dump -H $f"; done
  h5dump -a /format_version "$CHK/tm-1.h5" | grep "(0): 1" >/dev/null || fail "format_version"
  h5dump -a /operators/counts%2Flocal/uid "$CHK/tm-2.h5" | grep '"counts/local"' >/dev/null ||
    fail "uid attribute"
  h5dump -d /taskmanager_files "$CHK/_metadata.h5" | grep '"tm-2.h5"' >/dev/null || fail "file list"
  # key group 4 (subtask 1, first blob on tm-2) has 500 bytes at offset 0
  h5dump -d /operators/counts%2Flocal/keyed_index "$CHK/tm-2.h5" >"$WORK/idx"
  tr -d ' \n' <"$WORK/idx" | grep -q '{4,1,0,500,' || { cat "$WORK/idx" >&2; fail "keyed_index"; }
fi

# damaged copies: exit 1, a message naming the file and the problem
damaged() { # damaged NAME: fresh copy in $WORK/NAME
  rm -rf "$WORK/$1"; cp -r "$CHK" "$WORK/$1"
}
inspect_fails() { # inspect_fails DIR PATTERN
  local rc=0
  "$MPIFLOW" inspect "$1" >/dev/null 2>"$WORK/err" || rc=$?
  [ $rc -eq 1 ] || fail "inspect $1: exit $rc, wanted 1"
  expect_err "$2"
}
damaged nometa; rm "$WORK/nometa/_metadata.h5"
inspect_fails "$WORK/nometa" "nometa: not a completed checkpoint \(no _metadata.h5\)"
damaged trunc; truncate -s 4000 "$WORK/trunc/tm-2.h5"
inspect_fails "$WORK/trunc" "trunc/tm-2.h5: truncated or damaged HDF5 file"
damaged text; echo "hello" >"$WORK/text/tm-1.h5"
inspect_fails "$WORK/text" "text/tm-1.h5: not an HDF5 file"
damaged missing; rm "$WORK/missing/tm-2.h5"
inspect_fails "$WORK/missing" "missing/tm-2.h5: missing"
if command -v h5dump >/dev/null; then
  # flip one byte in the middle of tm-1's keyed_data (found with h5dump -p)
  damaged flip
  off=$(h5dump -p -d /operators/counts%2Flocal/keyed_data "$CHK/tm-1.h5" |
        awk '/OFFSET/ && !o { o = $2 } END { print o }')
  [ -n "$off" ] || fail "no keyed_data offset"
  printf '\xff' | dd of="$WORK/flip/tm-1.h5" bs=1 seek=$((off + 500)) conv=notrunc status=none
  inspect_fails "$WORK/flip" "flip/tm-1.h5: keyed blob [0-9]+ \(key group [0-9]+, subtask 0\) of operator 'counts/local' fails its checksum"
fi
inspect_fails "$WORK/nonexistent" "nonexistent"

rc=0; "$MPIFLOW" inspect 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "inspect without a path: exit $rc, wanted 2"
echo "PASS inspect"
