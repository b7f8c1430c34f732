# Shared helpers for mpiflow's end-to-end tests (sourced by each test).
# Environment from ctest: MPIFLOW (the binary), GEN_CORPUS, SRC (source dir).
set -euo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
: "${MPIFLOW:?}" "${SRC:?}"
WORK=${KEEP_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/mpiflow-test.XXXXXX")}
export MPIFLOW_RUN_DIR=$WORK
[ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# mpf_run NP ARGS...: run mpiflow under mpirun; stdout -> $WORK/out,
# stderr -> $WORK/err; returns mpirun's exit code.
mpf_run() {
  local np=$1; shift
  local rc=0
  timeout 120 mpirun -np "$np" --oversubscribe --mca mpi_yield_when_idle 1 \
    "$MPIFLOW" run "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  return $rc
}

# Independent word count: runs of ASCII letters, lower-cased -> "word,count".
ref_wordcount() {
  LC_ALL=C tr -cs 'A-Za-z' '\n' | LC_ALL=C tr 'A-Z' 'a-z' | grep -v '^$' |
    LC_ALL=C sort | LC_ALL=C uniq -c | awk '{print $2","$1}' | LC_ALL=C sort
}

expect_err() { # expect_err PATTERN: stderr must contain it
  grep -qE -- "$1" "$WORK/err" || { cat "$WORK/err" >&2; fail "stderr lacks /$1/"; }
}
