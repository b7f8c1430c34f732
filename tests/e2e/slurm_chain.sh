#!/usr/bin/env bash
# Slurm: slurm/checkpointed-chain.sbatch under a real single-node Slurm
# (munged, slurmctld and slurmd started here with a private configuration,
# private ports and a private munge socket). The first job of the chain gets
# SIGTERM in its job step, as `#SBATCH --signal=TERM@120` delivers it before
# the wall-time limit (here from `scancel --signal=TERM`), stops with a
# savepoint and resubmits itself; the second job resumes from the savepoint
# and finishes. The committed output -- a rolling per-key sum, one line per
# input row -- must equal an independent computation over the generated rows.
# While the first job runs, its log names the node and port of the dashboard
# with an `ssh -L` line, and that address answers; both runs end up in the
# archive under the submit directory.
# Skipped (exit 77) unless run as root with Slurm and munge installed.
. "$(dirname "$0")/lib.sh"
for t in munged slurmctld slurmd sbatch srun squeue sinfo scancel scontrol; do
  command -v "$t" >/dev/null || { echo "SKIP: $t is not installed (slurmctld slurmd slurm-client munge)"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: starting slurmd needs root"; exit 77; }

# --- A private single-node Slurm -------------------------------------------
PIDS=() # munged, slurmctld, slurmd: ended by pid at exit, also on failure
cleanup() {
  local rc=$?
  if [ -n "${SLURM_CONF:-}" ] && [ ${#PIDS[@]} -gt 1 ]; then
    scancel --user=root >/dev/null 2>&1 || true
    for _ in $(seq 50); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  if [ $rc -ne 0 ]; then
    for f in "$WORK"/slurmctld.log "$WORK"/slurmd.log "$WORK"/mpiflow-chain-*.log; do
      [ -f "$f" ] && { echo "--- $f (tail)"; tail -n 25 "$f"; } >&2
    done
  fi
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

chmod 755 "$WORK" # munged wants its socket's directory searchable by all
mkdir -p "$WORK/munge" "$WORK/state" "$WORK/spool" "$WORK/tmp"
chmod 755 "$WORK/munge"
head -c 1024 /dev/urandom >"$WORK/munge/munge.key"
chmod 400 "$WORK/munge/munge.key"
munged --key-file="$WORK/munge/munge.key" --socket="$WORK/munge/munge.sock" \
  --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/munge/munged.log" \
  --seed-file="$WORK/munge/munged.seed" || { cat "$WORK/munge/munged.log"; fail "munged did not start"; }
PIDS+=("$(cat "$WORK/munge/munged.pid")")

read -r CTLD_PORT SLURMD_PORT < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
NODE=$(hostname -s)
CPUS=$(slurmd -C | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' | head -1)
export SLURM_CONF="$WORK/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=mpiflowtest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$WORK/munge/munge.sock
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
TmpFS=$WORK/tmp
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
KillWait=5
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=${CPUS:-2} RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D >"$WORK/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D >"$WORK/slurmd.out" 2>&1 &
PIDS+=($!)
state=""
for _ in $(seq 150); do
  state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || fail "Slurm node $NODE is '$state', not idle"
echo "ok: Slurm up: slurmctld :$CTLD_PORT, slurmd :$SLURMD_PORT, node $NODE idle"

# --- The job and its reference ----------------------------------------------
job() { # job NAME OUTDIR RATE [SINK-PARALLELISM]: 160k keyed rows -> rolling sum -> files
  cat <<YAML
name: $1
operators:
  - uid: gen
    source: generator
    parallelism: 1
    number-of-rows: 160000
    rows-per-second: $3
    seed: 17
    fields:
      - {name: k, type: string, kind: random, cardinality: 40, prefix: key}
      - {name: v, type: i64, kind: random, min: 1, max: 1000}
YAML
  [ -z "${4:-}" ] || { echo "  - {uid: out, sink: file, path: \"$2\", parallelism: $4}"; return; }
  cat <<YAML
  - {uid: sum, type: reduce, key-by: k, function: sum, field: v}
  - {uid: out, sink: file, path: "$2"}
YAML
}
# The rows themselves (no rate limit, one part file in generation order),
# and the rolling sums computed from them with awk.
job raw "$WORK/raw" 0 1 >"$WORK/raw.yaml"
mpf_run 2 "$WORK/raw.yaml" || { cat "$WORK/err"; fail "raw rows"; }
[ "$(wc -l <"$WORK/raw/part-0-0")" -eq 160000 ] || fail "raw rows: not 160000"
awk -F, '{ s[$1] += $2; print $1 "," s[$1] }' "$WORK/raw/part-0-0" | LC_ALL=C sort >"$WORK/want"

# 20,000 rows/s: about 8 s of work without interruption.
job chain "$WORK/result" 20000 >"$WORK/chain.yaml"

# --- The chain ---------------------------------------------------------------
jobstate() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
waitjob() { # waitjob ID SECONDS: until the job has ended; prints its final state
  local s=""
  for _ in $(seq $(($2 * 5))); do
    s=$(jobstate "$1")
    case "$s" in PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|"") sleep 0.2 ;; *) break ;; esac
  done
  echo "$s"
}
cd "$WORK" || fail "cd $WORK"
JOB1=$(MPF_JOB="$WORK/chain.yaml" MPF_BIN="$MPIFLOW" MPF_NP=3 MPF_CHK_DIR="$WORK/chk" \
  MPF_SP_DIR="$WORK/sp" MPF_INTERVAL=500ms MPF_CHAIN_MAX=4 \
  sbatch --parsable --ntasks=3 --overcommit --time=10 "$SRC/slurm/checkpointed-chain.sbatch") ||
  fail "sbatch"
JOB1=${JOB1%%;*}
LOG1="$WORK/mpiflow-chain-$JOB1.log"
# Running, with a checkpoint completed: then the "wall-time" signal.
for _ in $(seq 150); do grep -qs "checkpoint [0-9]* completed" "$LOG1" && break; sleep 0.2; done
grep -qs "checkpoint [0-9]* completed" "$LOG1" || fail "job $JOB1: no checkpoint completed ($(jobstate "$JOB1"))"
grep -E "ssh -L 8081:$NODE:[0-9]+ " "$LOG1" || fail "job $JOB1: no 'ssh -L 8081:$NODE:PORT' line"
port=$(sed -n "s/.*ssh -L 8081:$NODE:\([0-9]*\) .*/\1/p" "$LOG1" | head -1)
curl -sf "http://127.0.0.1:$port/jobs/overview" | grep -q '"name":"chain"' ||
  fail "the dashboard address in the log of job $JOB1 does not answer"
echo "ok: job $JOB1 printed its dashboard's address (port $port), which answers"
sleep 2
scancel --signal=TERM "$JOB1" || fail "scancel --signal=TERM $JOB1"
s=$(waitjob "$JOB1" 30)
[ "$s" = COMPLETED ] || fail "job $JOB1 ended $s, not COMPLETED"
grep -q "stopped with savepoint" "$LOG1" || fail "job $JOB1 did not stop with a savepoint"
grep -qE "gen +1 +0 +160000" "$LOG1" && fail "job $JOB1 read all rows before SIGTERM: test too fast"
JOB2=$(sed -n 's/.*link 2 is Slurm job \([0-9]*\).*/\1/p' "$LOG1")
[ -n "$JOB2" ] || fail "job $JOB1 did not resubmit itself"
echo "ok: job $JOB1 stopped with a savepoint on SIGTERM and submitted job $JOB2"

s=$(waitjob "$JOB2" 60)
[ "$s" = COMPLETED ] || fail "job $JOB2 ended $s, not COMPLETED"
LOG2="$WORK/mpiflow-chain-$JOB2.log"
grep -q "restoring job 'chain' from savepoint" "$LOG2" || fail "job $JOB2 did not resume from the savepoint"
grep -q "job 'chain' finished (link 2 of the chain)" "$LOG2" || fail "job $JOB2 did not finish the job"
[ -f "$WORK/chk/chain/_finished" ] || fail "no $WORK/chk/chain/_finished"
[ -z "$(squeue -h)" ] || fail "jobs left in the queue: $(squeue -h)"
n2=$(grep -oE 'gen +1 +0 +[0-9]+' "$LOG2" | awk '{print $4}')
[ -n "$n2" ] && [ "$n2" -gt 0 ] && [ "$n2" -lt 160000 ] ||
  fail "job $JOB2 read '${n2}' rows, not the rest of the 160000"
echo "ok: job $JOB2 resumed from the savepoint, read the last $n2 rows and finished the job"
"$MPIFLOW" list --archived "$WORK/archive" >"$WORK/archived" || fail "list --archived"
[ "$(grep -c ': chain (FINISHED)' "$WORK/archived")" -eq 2 ] ||
  { cat "$WORK/archived"; fail "expected both runs of the chain in $WORK/archive"; }

# --- Exactly once --------------------------------------------------------------
! ls -a "$WORK/result" | grep -qE '\.(pending|inprogress)$' || fail "leftover staged files"
cat "$WORK/result"/part-* | LC_ALL=C sort >"$WORK/got"
diff "$WORK/want" "$WORK/got" >"$WORK/diff" || { head "$WORK/diff"; fail "output differs from the reference"; }
echo "ok: Slurm chain of 2 jobs: $(wc -l <"$WORK/got") rolling sums, exactly once"
