#!/usr/bin/env bash
# kafka-committed.sh BOOTSTRAP TOPIC [PROGRESS-TOPIC]
#
# Prints the values of the records of TOPIC, written by an exactly-once
# `sink: kafka`, that a read_committed consumer of a real Kafka broker
# would see, one per line, in topic order (partition by partition).
# PROGRESS-TOPIC is the sink's progress-topic (default TOPIC-progress).
#
# Why: `mpiflow kafka-mock` (librdkafka's mock cluster) accepts
# transactions but writes no commit or abort markers, so read_committed
# consumers there see the records of aborted transactions too. The sink
# tags every record with the headers mpiflow.txn (the transaction's token)
# and mpiflow.attempt (the producer instance), and writes a progress record
# `mpiflow-progress 1 token=T attempt=A ...` in the same transaction. A
# record is kept when its (token, attempt) has a progress record. A token
# with progress records of several attempts (one transaction published
# twice) is counted on standard error; its records are all kept, so such a
# duplicate shows.
# What this cannot tell apart: a transaction whose progress record was
# written but whose commit was cut short looks committed here (a real
# broker aborts it, and the restored job republishes it).
#
# On standard error: "committed=N hidden=M transactions=T twice=D", where
# hidden counts the records of transactions that never committed and twice
# the tokens published by more than one attempt (0 when all is well).
# Needs kcat. Against a real broker this gives the same answer as
# `kcat -C -X isolation.level=read_committed -e`.
set -euo pipefail
[ $# -ge 2 ] && [ $# -le 3 ] || {
  echo "usage: $0 BOOTSTRAP TOPIC [PROGRESS-TOPIC]" >&2
  exit 2
}
bs=$1 topic=$2 progress=${3:-$2-progress}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
read_topic() { # read_topic TOPIC [kcat options]: everything there now
  local t=$1
  shift
  kcat -C -b "$bs" -t "$t" -X isolation.level=read_committed -e -q "$@"
}
# "token attempt" of every progress record
read_topic "$progress" |
  awk '$1 == "mpiflow-progress" {
         t = ""; a = ""
         for (i = 3; i <= NF; i++) {
           if ($i ~ /^token=/) t = substr($i, 7)
           else if ($i ~ /^attempt=/) a = substr($i, 9)
         }
         if (t != "" && !((t " " a) in seen)) { seen[t " " a] = 1; print t, a }
       }' >"$tmp"
# headers (kcat prints them as name=value,name=value) TAB value
read_topic "$topic" -f '%h\t%s\n' |
  awk -F'\t' -v prog="$tmp" '
    BEGIN {
      while ((getline line < prog) > 0) {
        ok[line] = 1; txns++
        split(line, f, " "); if (++per[f[1]] == 2) twice++
      }
    }
    {
      t = ""; a = ""
      nh = split($1, h, ",")
      for (i = 1; i <= nh; i++) {
        if (h[i] ~ /^mpiflow\.txn=/) t = substr(h[i], 13)
        else if (h[i] ~ /^mpiflow\.attempt=/) a = substr(h[i], 17)
      }
      v = substr($0, length($1) + 2)
      if (t != "" && ((t " " a) in ok)) { print v; kept++ } else hidden++
    }
    END { printf "committed=%d hidden=%d transactions=%d twice=%d\n", kept, hidden, txns, twice > "/dev/stderr" }'
