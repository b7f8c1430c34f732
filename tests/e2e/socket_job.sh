#!/usr/bin/env bash
# jobs/socket-window-wordcount.yaml against a local server that sends a
# text and keeps the connection open; the job runs until stopped (SIGTERM
# to rank 0). Word counts summed over the 5 s windows must equal an
# independent count of the text.
. "$(dirname "$0")/lib.sh"
python3 - "$WORK/port" "$WORK/text" <<'PY' &
import random, socket, sys, time
words = ["alpha", "beta", "gamma", "delta", "Epsilon", "zeta"]
rng = random.Random(5)
lines = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) for _ in range(3000)]
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
open(sys.argv[1] + ".tmp", "w").write(str(srv.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
conn, _ = srv.accept()
for i in range(0, len(lines), 100):  # in pieces, over about 1.5 s
    conn.sendall(("\n".join(lines[i:i + 100]) + "\n").encode())
    time.sleep(0.05)
open(sys.argv[2] + ".sent", "w").close()
time.sleep(60)  # keep the connection open; the job is stopped by a signal
PY
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")
mpirun -np 3 --oversubscribe --mca mpi_yield_when_idle 1 "$MPIFLOW" run \
  "$SRC/jobs/socket-window-wordcount.yaml" --host 127.0.0.1 --port "$PORT" \
  --output "$WORK/result" >"$WORK/out" 2>"$WORK/err" &
JOB=$!
# all of the text sent (a loaded or sanitizer build starts slowly), then
# time for the source to read what is in the socket
for _ in $(seq 600); do [ -e "$WORK/text.sent" ] && break; sleep 0.1; done
[ -e "$WORK/text.sent" ] || { cat "$WORK/err"; fail "the job never read the text"; }
sleep 2
kill -TERM "$(pgrep -f "^$MPIFLOW run $SRC/jobs/socket-window-wordcount.yaml" | sort -n | head -1)"
rc=0; wait "$JOB" || rc=$?
[ "$rc" -eq 4 ] || { cat "$WORK/err"; fail "the job did not stop cleanly (exit $rc, not 4: stopped)"; }
cat "$WORK/result"/part-* | awk -F, '{c[$1] += $NF} END {for (w in c) print w "," c[w]}' |
  LC_ALL=C sort >"$WORK/got"
ref_wordcount <"$WORK/text" >"$WORK/want"
diff "$WORK/want" "$WORK/got" || fail "socket word counts differ"
echo "ok: $(wc -l <"$WORK/got") words, $(cat "$WORK/result"/part-* | wc -l) window results"

# While the source cannot connect (max-retry -1), each failed attempt is
# logged at debug level, the first one (and then one every 10 s) as a
# warning with the address and the reason; a later connection says how many
# attempts failed (issue 9).
PORT2=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mpirun -np 2 --oversubscribe --mca mpi_yield_when_idle 1 "$MPIFLOW" run \
  "$SRC/jobs/socket-window-wordcount.yaml" --host 127.0.0.1 --port "$PORT2" -D log.level=debug \
  --output "$WORK/result2" >"$WORK/out" 2>"$WORK/err" &
JOB=$!
sleep 2.5
python3 - "$PORT2" <<'PY'
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(1)
srv.settimeout(10)
conn, _ = srv.accept()
conn.sendall(b"late server\n")
conn.close()
PY
sleep 1
kill -TERM "$(pgrep -f "^$MPIFLOW run $SRC/jobs/socket-window-wordcount.yaml --host 127.0.0.1 --port $PORT2" | sort -n | head -1)"
wait "$JOB" || true
addr="127.0.0.1:$PORT2"
[ "$(grep -c "WARN .*operator 'lines': cannot connect to $addr: Connection refused" "$WORK/err")" = 1 ] ||
  { cat "$WORK/err"; fail "not exactly one warning while the server was down"; }
[ "$(grep -c "DEBUG .*connecting to $addr failed: Connection refused (attempt" "$WORK/err")" -ge 3 ] ||
  { cat "$WORK/err"; fail "failed attempts not logged at debug level"; }
expect_err "INFO .*operator 'lines': connected to $addr after [0-9]+ failed attempt"
expect_err "WARN .*operator 'lines': connection to $addr lost: connection closed by peer; reconnecting"
echo "ok: failed connection attempts are logged"
