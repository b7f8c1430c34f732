#!/usr/bin/env bash
# The Nexmark jobs in jobs/nexmark/ on 4 ranks, each compared with a
# Python computation of the same query over the raw generated events
# (written by a separate parallelism-1 job).
. "$(dirname "$0")/lib.sh"
N=300000
REF="python3 $SRC/tests/e2e/nexmark_ref.py"
for stream in bid person auction; do
  cat >"$WORK/raw-$stream.yaml" <<YAML
name: raw-$stream
operators:
  - {uid: src, source: nexmark, stream: $stream, events: $N}
  - {uid: out, sink: file, parallelism: 1, path: "$WORK/raw-$stream"}
YAML
  mpf_run 3 "$WORK/raw-$stream.yaml" || { cat "$WORK/err"; fail "raw $stream"; }
done

# run_query Q: the job with its blackhole sink swapped for a file sink.
run_query() {
  local q=$1
  sed "s|{uid: out, sink: blackhole}.*|{uid: out, sink: file, path: \"$WORK/$q-out\"}|" \
    "$SRC/jobs/nexmark/$q.yaml" >"$WORK/$q.yaml"
  mpf_run 4 "$WORK/$q.yaml" --events $N || { cat "$WORK/err"; fail "$q failed"; }
  cat "$WORK/$q-out"/part-* | LC_ALL=C sort >"$WORK/$q.got"
  $REF "$q" "$WORK" | LC_ALL=C sort >"$WORK/$q.want"
  [ -s "$WORK/$q.want" ] || fail "$q: empty reference"
  diff "$WORK/$q.want" "$WORK/$q.got" >"$WORK/$q.diff" ||
    { head -5 "$WORK/$q.diff"; fail "$q differs from the reference"; }
  echo "ok: $q ($(wc -l <"$WORK/$q.got") rows)"
}
for q in ${NEXMARK_QUERIES:-q0 q1 q2 q3 q5 q7 q8}; do
  run_query "$q"
done
