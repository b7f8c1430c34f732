#!/usr/bin/env bash
# C plugins (type: plugin): the example plugins of jobs/plugins run their
# shipped jobs under mpirun -np 3 and match an independent Python
# computation on the same input; bad plugins are refused at plan time
# with file:line:col and the uid; a plugin bug fails the job with a
# message; and a plugin built outside the source tree with the CMake
# snippet of docs/PLUGINS.md runs.
# Usage: plugins.sh PLUGIN_DIR CMAKE CC
. "$(dirname "$0")/lib.sh"
PLUGIN_DIR=${1:?plugin directory}
CMAKE=${2:-cmake}
CC=${3:-cc}
REF="python3 $(dirname "$0")/plugins_ref.py"
J="$SRC/jobs"
P=(--plugins "$PLUGIN_DIR")
$REF gen "$WORK"

# check NAME DIR [DATA]: the part files in DIR must equal the reference
# NAME computed from the inputs in DATA (default $WORK).
check() {
  local data=${3:-$WORK}
  cat "$2"/part-* >"$WORK/got-$1.txt" 2>/dev/null || fail "$1: no output in $2"
  $REF ref "$1" "$data" >"$WORK/want-$1.txt"
  [ -s "$WORK/want-$1.txt" ] || fail "$1: the reference is empty (test data too small?)"
  $REF same "$WORK/got-$1.txt" "$WORK/want-$1.txt" || fail "$1 differs from the reference"
  echo "ok $1 ($(wc -l <"$WORK/want-$1.txt") lines)"
}
run() { mpf_run 3 "$@" || { cat "$WORK/err" >&2; fail "job $1 failed"; }; }

# --- the examples against Python ---
# map + filter (no output: on the filter: the input's schema passes through)
run "$J/plugin-currency.yaml" "${P[@]}" --input "$WORK/payments.csv" --output "$WORK/o-cur"
check currency "$WORK/o-cur"
# flat-map, then a built-in keyed reduce
run "$J/plugin-split.yaml" "${P[@]}" --input "$WORK/orders.csv" --output "$WORK/o-split"
check split "$WORK/o-split"
# keyed process: value state, event-time timers, side output
run "$J/plugin-fraud.yaml" "${P[@]}" --input "$WORK/tx.csv" --alerts "$WORK/o-alerts" \
  --expired "$WORK/o-expired"
check alerts "$WORK/o-alerts"
check expired "$WORK/o-expired"
# keyed process: value, list, map and reducing state
run "$J/plugin-sessions.yaml" "${P[@]}" --input "$WORK/tx.csv" --output "$WORK/o-sess"
check sessions "$WORK/o-sess"
# two inputs, shared keyed state, side output
run "$J/plugin-control.yaml" "${P[@]}" --events "$WORK/events.csv" --control "$WORK/control.csv" \
  --output "$WORK/o-pass" --blocked "$WORK/o-blocked"
check passed "$WORK/o-pass"
check blocked "$WORK/o-blocked"
# The same with a watermark after every record, so timers fire between
# records rather than mostly at the end of input: same results (on a
# shorter input, as per-record watermarks cost a batch each).
mkdir -p "$WORK/pr"
head -1500 "$WORK/tx.csv" >"$WORK/pr/tx.csv"
head -2500 "$WORK/events.csv" >"$WORK/pr/events.csv"
cp "$WORK/control.csv" "$WORK/pr/control.csv"
for j in fraud sessions control; do
  sed 's/strategy: monotonous}/strategy: monotonous, emit: per-record}/' "$J/plugin-$j.yaml" \
    >"$WORK/pr/plugin-$j.yaml"
  grep -q "emit: per-record" "$WORK/pr/plugin-$j.yaml" || fail "no watermark to change in plugin-$j.yaml"
done
run "$WORK/pr/plugin-fraud.yaml" "${P[@]}" --input "$WORK/pr/tx.csv" --alerts "$WORK/pr/o-alerts" \
  --expired "$WORK/pr/o-expired"
check alerts "$WORK/pr/o-alerts" "$WORK/pr"
check expired "$WORK/pr/o-expired" "$WORK/pr"
run "$WORK/pr/plugin-sessions.yaml" "${P[@]}" --input "$WORK/pr/tx.csv" --output "$WORK/pr/o-sess"
check sessions "$WORK/pr/o-sess" "$WORK/pr"
run "$WORK/pr/plugin-control.yaml" "${P[@]}" --events "$WORK/pr/events.csv" \
  --control "$WORK/pr/control.csv" --output "$WORK/pr/o-pass" --blocked "$WORK/pr/o-blocked"
check passed "$WORK/pr/o-pass" "$WORK/pr"
check blocked "$WORK/pr/o-blocked" "$WORK/pr"

# processing-time timers: every user's timer fires while the rate-limited
# generator still runs (1.5 s at 2000 rows/s; timers 200 ms after the
# first click), so each user is reported once, with a plausible count.
run "$J/plugin-first-seen.yaml" "${P[@]}" --output "$WORK/o-seen"
cat "$WORK"/o-seen/part-* | awk -F, '
  { n++; users[$1]++; if ($2 < 1 || $2 > 3000) bad = bad " " $0 }
  END { if (n != 10 || length(users) != 10 || bad != "") { print "first-seen: " n " lines" bad; exit 1 } }' ||
  fail "first-seen output wrong: $(cat "$WORK"/o-seen/part-*)"
echo "ok first-seen"

# --- the mpiflow binary exports nothing: plugins get function pointers ---
exported=$(nm -D --defined-only "$MPIFLOW" |
  awk '$3 ~ /^(mpf|ks|op|plugin|timers|schema|rec|recbuf|batch|job|plan)_/' | head -3)
[ -z "$exported" ] || fail "mpiflow exports its internals: $exported"

# --- bad plugins are refused at plan time, with position and uid ---
# rejects WHAT PATTERN JOB: `mpiflow validate JOB` fails (exit 1) with PATTERN.
rejects() {
  local what=$1 pattern=$2 rc=0; shift 2
  "$MPIFLOW" validate "$@" >/dev/null 2>"$WORK/err" || rc=$?
  [ $rc = 1 ] || { cat "$WORK/err" >&2; fail "$what: exit code $rc, expected 1"; }
  expect_err "$pattern"
  echo "ok rejects $what"
}
# job FILE OPS...: a job reading a CSV (k string, v i64, ts timestamp),
# then the given operator lines.
job() {
  local f=$1; shift
  { printf 'name: bad\noperators:\n'
    printf '  - {uid: src, source: file, path: %s, format: csv,\n' "$WORK/dedupe.csv"
    printf '     fields: [{name: k, type: string}, {name: v, type: i64}]}\n'
    printf '%s\n' "$@"; } >"$WORK/$f"
}
job missing.yaml "  - {uid: fn, type: plugin, plugin: nope/missing.so, function: f}"
rejects "missing library" \
  "missing.yaml:5:[0-9]+: operator 'fn': plugin 'nope/missing.so' not found \(looked for .*nope/missing.so\)" \
  "$WORK/missing.yaml"

mkdir -p "$WORK/bad"
printf 'int not_a_plugin(void);\nint not_a_plugin(void) { return 1; }\n' >"$WORK/bad/nosym.c"
# ABI 2.0: a future major version.
cat >"$WORK/bad/abi.c" <<'C'
#include <mpiflow/plugin.h>
static const mpf_function f = {.name = "f", .kind = MPF_MAP};
static const mpf_function *const fns[] = {&f, NULL};
static const mpf_plugin desc = {2u << 16, "future", "9", fns};
MPF_PLUGIN_EXPORT const mpf_plugin *mpf_plugin_descriptor(void);
const mpf_plugin *mpf_plugin_descriptor(void) { return &desc; }
C
# Calls into mpiflow's internals, which the binary does not export.
cat >"$WORK/bad/internal.c" <<'C'
#include <mpiflow/plugin.h>
void *ks_put(void);
static int m(mpf_ctx *ctx, const mpf_rec *in) { return ks_put() != 0; }
static const mpf_function f = {.name = "f", .kind = MPF_MAP, .map = m};
MPF_PLUGIN("internal", "1", &f)
C
# A plugin bug at run time: a string into an i64 field.
cat >"$WORK/bad/misuse.c" <<'C'
#include <mpiflow/plugin.h>
static int fm(mpf_ctx *ctx, const mpf_rec *in)
{
    mpf_out_begin(ctx, MPF_MAIN);
    mpf_set_cstr(ctx, 1, "oops"); /* field 1 (v) is i64 */
    return mpf_emit(ctx);
}
static const mpf_function f = {.name = "f", .kind = MPF_FLAT_MAP, .flat_map = fm};
MPF_PLUGIN("misuse", "1", &f)
C
for b in nosym abi internal misuse; do
  "$CC" -shared -fPIC -std=c11 -I"$SRC/include" -o "$WORK/bad/$b.so" "$WORK/bad/$b.c" ||
    fail "cannot build bad plugin $b"
done
job nosym.yaml "  - {uid: fn, type: plugin, plugin: bad/nosym.so, function: f}"
rejects "missing symbol" \
  "nosym.yaml:5:[0-9]+: operator 'fn': plugin '.*bad/nosym.so' does not export mpf_plugin_descriptor" \
  "$WORK/nosym.yaml"
job abi.yaml "  - {uid: fn, type: plugin, plugin: bad/abi.so, function: f}"
rejects "ABI mismatch" \
  "abi.yaml:5:[0-9]+: operator 'fn': plugin '.*abi.so' was built for plugin ABI 2.0 but this mpiflow provides 1.0" \
  "$WORK/abi.yaml"
job internal.yaml "  - {uid: fn, type: plugin, plugin: bad/internal.so, function: f}"
rejects "undefined symbol" \
  "internal.yaml:5:[0-9]+: operator 'fn': cannot load plugin '.*internal.so': .*undefined symbol: ks_put" \
  "$WORK/internal.yaml"
job fname.yaml "  - {uid: fn, type: plugin, plugin: $PLUGIN_DIR/currency.so, function: to-euro}"
rejects "unknown function" \
  "fname.yaml:5:[0-9]+: operator 'fn': plugin '.*currency.so' has no function 'to-euro' \(did you mean 'to-eur'\?\); it has: to-eur, above" \
  "$WORK/fname.yaml"
job keyed.yaml "  - {uid: fn, type: plugin, plugin: $PLUGIN_DIR/fraud.so, function: fraud-detector}"
rejects "keyed process without key-by" \
  "keyed.yaml:5:[0-9]+: operator 'fn': function 'fraud-detector' is a keyed process function and needs key-by" \
  "$WORK/keyed.yaml"
job two.yaml "  - {uid: src2, source: file, path: $WORK/dedupe.csv, format: csv, fields: [{name: k, type: string}, {name: v, type: i64}]}" \
  "  - {uid: fn, type: plugin, inputs: [src, src2], plugin: $PLUGIN_DIR/split.so, function: split}"
rejects "two inputs, one-input function" \
  "two.yaml:6:[0-9]+: operator 'fn' has two inputs but function 'split' is a flat-map function; two inputs need a co-process function" \
  "$WORK/two.yaml"
job co.yaml "  - {uid: fn, type: plugin, key-by: k, plugin: $PLUGIN_DIR/control.so, function: control}"
rejects "co-process with one input" \
  "co.yaml:5:[0-9]+: operator 'fn': function 'control' is a co-process function and needs two inputs" \
  "$WORK/co.yaml"
job args.yaml "  - {uid: fn, type: plugin, plugin: $PLUGIN_DIR/currency.so, function: above, args: {feild: v}}"
rejects "unknown arg" "args.yaml:5:[0-9]+: unknown key 'feild' in operator 'fn' args .*did you mean 'field'" \
  "$WORK/args.yaml"
job conf.yaml "  - {uid: fn, type: plugin, plugin: $PLUGIN_DIR/currency.so, function: above, args: {field: w}}"
rejects "plugin configure error" \
  "conf.yaml:5:[0-9]+: operator 'fn': function 'above': field 'w' is not in input 1 \(k:string, v:i64\)" \
  "$WORK/conf.yaml"
job out.yaml "  - {uid: fn, type: plugin, plugin: $PLUGIN_DIR/currency.so, function: above, output: [{name: v, type: i64}]}"
rejects "output on a filter" "out.yaml:5:[0-9]+: operator 'fn': a filter keeps its input's fields" \
  "$WORK/out.yaml"

# A plugin error at run time fails the job on every rank, naming the
# operator, the function and the call.
job misuse.yaml "  - {uid: fn, type: plugin, plugin: bad/misuse.so, function: f}" \
  "  - {uid: out, sink: file, path: $WORK/o-misuse}"
mpf_run 3 "$WORK/misuse.yaml" && fail "misusing plugin accepted"
expect_err "operator 'fn' subtask [0-9]/2: plugin function 'f' flat_map: set_str\(\): output field 'v' is i64"
[ -z "$(ls -A "$WORK/o-misuse" 2>/dev/null)" ] || fail "failed plugin job left output"
echo "ok run-time plugin error"
# ... and so does an error the function reports itself.
printf '1,XYZ,10\n' >"$WORK/xyz.csv"
mpf_run 3 "$J/plugin-currency.yaml" "${P[@]}" --input "$WORK/xyz.csv" --output "$WORK/o-xyz" &&
  fail "unknown currency accepted"
expect_err "operator 'in-eur' subtask [0-9]/2: plugin function 'to-eur' map: no rate for currency 'XYZ'"
echo "ok plugin-reported error"

# --- a plugin built outside the source tree (docs/PLUGINS.md snippet) ---
OOT="$WORK/oot"
mkdir -p "$OOT"
cat >"$OOT/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(dedupe C)
# mpiflow's public headers: -DMPIFLOW_INCLUDE_DIR=<mpiflow>/include
find_path(MPIFLOW_INCLUDE_DIR mpiflow/plugin.h)
if(NOT MPIFLOW_INCLUDE_DIR)
  message(FATAL_ERROR "set MPIFLOW_INCLUDE_DIR to the directory holding mpiflow/plugin.h")
endif()
add_library(dedupe MODULE dedupe.c)
set_target_properties(dedupe PROPERTIES PREFIX "" C_STANDARD 11 C_VISIBILITY_PRESET hidden)
target_include_directories(dedupe PRIVATE ${MPIFLOW_INCLUDE_DIR})
CMAKE
cat >"$OOT/dedupe.c" <<'C'
/* First record per key to the main output, repeats to side output "dups". */
#include <stdlib.h>
#include <mpiflow/plugin.h>

typedef struct dd {
    int seen; /* value state */
    int dups; /* side output port */
} dd;

static int open_fn(mpf_ctx *ctx)
{
    dd *d = malloc(sizeof *d);
    if (!d)
        return mpf_error(ctx, "out of memory");
    ctx->user = d;
    d->seen = mpf_state(ctx, "seen", MPF_VALUE_STATE, 0, NULL);
    d->dups = mpf_side_output(ctx, "dups");
    return d->seen < 0 || d->dups < 0 ? MPF_PLUGIN_ERROR : 0;
}

static void close_fn(mpf_ctx *ctx) { free(ctx->user); }

static int process(mpf_ctx *ctx, const mpf_rec *in)
{
    const dd *d = ctx->user;
    if (mpf_value_get(ctx, d->seen, NULL))
        return mpf_forward(ctx, d->dups, in);
    if (mpf_value_set(ctx, d->seen, "", 0))
        return MPF_PLUGIN_ERROR;
    return mpf_forward(ctx, MPF_MAIN, in);
}

static const char *const sides[] = {"dups", NULL};
static const mpf_function dedupe = {
    .name = "dedupe",
    .kind = MPF_KEYED_PROCESS,
    .summary = "first record per key; repeats to side output dups",
    .side_outputs = sides,
    .open = open_fn,
    .close = close_fn,
    .process = process,
};
MPF_PLUGIN("dedupe", "1.0", &dedupe)
C
"$CMAKE" -S "$OOT" -B "$OOT/build" -DMPIFLOW_INCLUDE_DIR="$SRC/include" >"$WORK/oot.log" 2>&1 &&
  "$CMAKE" --build "$OOT/build" >>"$WORK/oot.log" 2>&1 || { cat "$WORK/oot.log"; fail "out-of-tree plugin build"; }
[ -f "$OOT/build/dedupe.so" ] || fail "out-of-tree build made no dedupe.so"
cp "$OOT/build/dedupe.so" "$WORK/dedupe.so"
# A relative plugin path resolves against the job file's directory.
cat >"$WORK/dedupe.yaml" <<YAML
name: dedupe
operators:
  - {uid: src, source: file, path: "$WORK/dedupe.csv", format: csv, parallelism: 1,
     fields: [{name: u, type: string}, {name: i, type: i64}]}
  - {uid: dd, type: plugin, plugin: dedupe.so, function: dedupe, key-by: u}
  - {uid: first, sink: file, path: "$WORK/o-first"}
  - {uid: dups, sink: file, inputs: [dd.dups], path: "$WORK/o-dups"}
YAML
(cd / && mpf_run 3 "$WORK/dedupe.yaml") || { cat "$WORK/err" >&2; fail "out-of-tree plugin job failed"; }
check first "$WORK/o-first"
check dups "$WORK/o-dups"
echo "PASS plugins"

# The example jobs' default inputs are found beside the job file, from any
# working directory (USER-GUIDE "Job files"): the fraud job from $WORK
# without --input alerts on the bundled transactions like with it.
(cd "$WORK" && run "$J/plugin-fraud.yaml" "${P[@]}" --alerts "$WORK/o-default") ||
  fail "plugin-fraud.yaml with its default input, run outside the repository"
run "$J/plugin-fraud.yaml" "${P[@]}" --input "$J/data/transactions.csv" --alerts "$WORK/o-explicit"
diff <(cat "$WORK/o-default"/part-* | sort) <(cat "$WORK/o-explicit"/part-* | sort) >/dev/null ||
  fail "the default input is not jobs/data/transactions.csv"
[ -n "$(cat "$WORK/o-default"/part-*)" ] || fail "no alerts from the default input"
echo "ok: example job defaults resolve beside the job file"
