# Helpers for the Kafka tests (sourced after lib.sh). The broker is
# `mpiflow kafka-mock` (librdkafka's mock cluster); kcat is the independent
# producer and consumer.
#
# kafka_mock_start [--brokers N] --topic NAME:P ...: start the mock cluster,
#   set KAFKA_BS (bootstrap servers); the mock stops when the test exits.
# kafka_mock_cmd "down 1" | "up 1" | "topic NAME P": steer the running mock.
command -v kcat >/dev/null || fail "kcat is not installed (Debian package kcat)"

kafka_mock_start() {
  rm -f "$WORK/kafka.bs" "$WORK/kafka.ctl"
  mkfifo "$WORK/kafka.ctl"
  "$MPIFLOW" kafka-mock "$@" --bootstrap-file "$WORK/kafka.bs" \
    <"$WORK/kafka.ctl" >"$WORK/kafka.log" 2>&1 &
  KAFKA_PID=$!
  exec 9>"$WORK/kafka.ctl" # hold the fifo open: commands go in through fd 9
  local i
  for i in $(seq 1 100); do
    [ -s "$WORK/kafka.bs" ] && break
    kill -0 "$KAFKA_PID" 2>/dev/null || { cat "$WORK/kafka.log" >&2; fail "kafka-mock died"; }
    sleep 0.1
  done
  [ -s "$WORK/kafka.bs" ] || fail "kafka-mock did not start"
  KAFKA_BS=$(cat "$WORK/kafka.bs")
  trap 'kafka_mock_stop; rm -rf "$WORK"' EXIT
  [ -z "${KEEP_WORK:-}" ] || trap 'kafka_mock_stop' EXIT
}

kafka_mock_cmd() {
  echo "$*" >&9
  local want="ok $*" i
  for i in $(seq 1 50); do
    grep -qxF -- "$want" "$WORK/kafka.log" && return 0
    sleep 0.1
  done
  cat "$WORK/kafka.log" >&2
  fail "kafka-mock did not do: $*"
}

kafka_mock_stop() {
  [ -n "${KAFKA_PID:-}" ] || return 0
  echo quit >&9 2>/dev/null || true
  exec 9>&-
  local i
  for i in $(seq 1 30); do kill -0 "$KAFKA_PID" 2>/dev/null || break; sleep 0.1; done
  kill "$KAFKA_PID" 2>/dev/null || true
  wait "$KAFKA_PID" 2>/dev/null || true
  KAFKA_PID=
}

# kafka_produce TOPIC [kcat options...] < lines: one record per line.
kafka_produce() {
  local t=$1; shift
  kcat -P -b "$KAFKA_BS" -t "$t" "$@" || fail "kcat could not produce to $t"
}

# kafka_consume TOPIC [kcat options...]: every record now in TOPIC, one per
# line (the value, unless a -f format is given), then exit.
kafka_consume() {
  local t=$1; shift
  kcat -C -b "$KAFKA_BS" -t "$t" -e -q "$@" || fail "kcat could not consume $t"
}
