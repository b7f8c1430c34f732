#!/usr/bin/env bash
# The generated sources and the socket source under mpirun, checked by
# independent scripts: Nexmark's 1:3:46 interleaving per 50 events, ids and
# references, and equal output at two parallelisms; the behaviour source's
# mix, Zipf skew and bounded lag; the generator's event-time field; the
# socket source against a local server, with a reconnect and the
# parallelism check.
. "$(dirname "$0")/lib.sh"

# AWK_MS: an awk function ms("YYYY-MM-DD HH:MM:SS.mmm") -> ms since the
# epoch (UTC), by days-from-civil, so plain POSIX awk will do.
AWK_MS='function ms(s,  a, y, m, d, era, yoe, doy, doe) {
  split(s, a, /[- :.]/); y = a[1] - (a[2] <= 2); m = a[2] + 0; d = a[3] + 0
  era = int(y / 400); yoe = y - era * 400
  doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
  return (((era * 146097 + doe - 719468) * 24 + a[4]) * 60 + a[5]) * 60000 + a[6] * 1000 + a[7]
}
'

# ---------------------------------------------------------------- nexmark
# first-event-rate 1000: event e has date_time base + e ms, so every row
# names its event number.
cat >"$WORK/nexmark.yaml" <<YAML
name: nexmark
operators:
  - {uid: person, source: nexmark, stream: person, events: 20000, first-event-rate: 1000, seed: 4}
  - {uid: auction, source: nexmark, stream: auction, events: 20000, first-event-rate: 1000, seed: 4}
  - {uid: bid, source: nexmark, stream: bid, events: 20000, first-event-rate: 1000, seed: 4}
  - {uid: p-out, sink: file, path: "\${out}/person", inputs: [person]}
  - {uid: a-out, sink: file, path: "\${out}/auction", inputs: [auction]}
  - {uid: b-out, sink: file, path: "\${out}/bid", inputs: [bid]}
parameters:
  out: {description: output directory}
YAML
for np in 3 4; do
  mpf_run "$np" "$WORK/nexmark.yaml" --out "$WORK/nx$np" || { cat "$WORK/err"; fail "nexmark np=$np"; }
  for t in person auction bid; do cat "$WORK/nx$np/$t"/part-* | LC_ALL=C sort >"$WORK/nx$np-$t.csv"; done
done
for t in person auction bid; do
  cmp "$WORK/nx3-$t.csv" "$WORK/nx4-$t.csv" || fail "nexmark $t differs between -np 3 and -np 4"
done
# records in = events walked: 20000 for each of the three operators.
grep -qE "bid +[0-9]+ +20000 +18400" "$WORK/err" || { cat "$WORK/err"; fail "bid counters"; }
python3 - "$WORK" <<'PY' || fail "nexmark checks"
import csv, datetime, sys
from collections import Counter
w = sys.argv[1]
base = datetime.datetime(2015, 7, 15, tzinfo=datetime.timezone.utc)
def ev(s):  # "YYYY-MM-DD HH:MM:SS.mmm" -> event number
    t = datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    return round((t - base).total_seconds() * 1000)
rows = {t: list(csv.reader(open(f"{w}/nx3-{t}.csv"))) for t in ("person", "auction", "bid")}
kind = {}
for t, col in (("person", 6), ("auction", 5), ("bid", 5)):
    for r in rows[t]:
        e = ev(r[col])
        assert e not in kind, f"event {e} twice"
        kind[e] = t
assert sorted(kind) == list(range(20000)), "events missing"
per_block = Counter((e // 50, t) for e, t in kind.items())
for b in range(400):
    got = (per_block[b, "person"], per_block[b, "auction"], per_block[b, "bid"])
    assert got == (1, 3, 46), f"block {b}: {got}"
# Ids grow with the sequence and never repeat.
persons = sorted((ev(r[6]), int(r[0])) for r in rows["person"])
auctions = sorted((ev(r[5]), int(r[0])) for r in rows["auction"])
assert [i for _, i in persons] == list(range(1000, 1400)), "person ids"
assert [i for _, i in auctions] == list(range(1000, 2200)), "auction ids"
import bisect
def last_created(created, e):  # largest id created at or before event e
    k = bisect.bisect_right([c for c, _ in created], e)
    return created[k - 1][1] if k else 999
pe = [c for c, _ in persons]; ae = [c for c, _ in auctions]
ahead = 0
for r in rows["bid"]:
    e, auc, bidder, price = ev(r[5]), int(r[0]), int(r[1]), int(r[2])
    la = auctions[bisect.bisect_right(ae, e) - 1][1]
    lp = persons[bisect.bisect_right(pe, e) - 1][1]
    # Nexmark lets a reference run up to 10 ids ahead of the last created.
    assert 1000 <= auc <= la + 10, f"bid at {e}: auction {auc}, last {la}"
    assert 1000 <= bidder <= lp + 10, f"bid at {e}: bidder {bidder}, last {lp}"
    assert 100 <= price <= 100000000
    ahead += auc > la or bidder > lp
# Leads happen only for the non-hot picks: about 10/111 of half the
# auctions once 100 exist, plus a few people; ~8% over this short run.
assert 0.03 < ahead / len(rows["bid"]) < 0.12, f"{ahead} bids reference the future"
for r in rows["auction"]:
    e, seller = ev(r[5]), int(r[7])
    assert seller <= persons[bisect.bisect_right(pe, e) - 1][1] + 10
    assert ev(r[6]) > e and int(r[4]) > int(r[3]) and 10 <= int(r[8]) <= 14
hot = Counter(int(r[0]) for r in rows["bid"]).most_common(1)[0][1]
# The hot auction changes every 100 auctions (~1530 bids) and gets half
# of them; an average auction gets ~15.
assert hot > 600, f"no hot auction ({hot})"
print("nexmark ok: %d events, %d bids ahead" % (len(kind), ahead))
PY

# --------------------------------------------------------------- behavior
cat >"$WORK/behavior.yaml" <<YAML
name: behavior
operators:
  - {uid: ub, source: behavior, events: 100000, items: 1000, users: 300, seed: 9,
     start: "2017-11-25 00:00:00", interval: 5ms, out-of-orderness: 1s}
  - {uid: out, sink: file, path: "\${out}", partition: forward}
parameters:
  out: {description: output directory}
YAML
for np in 2 4; do
  mpf_run "$np" "$WORK/behavior.yaml" --out "$WORK/ub$np" || { cat "$WORK/err"; fail "behavior np=$np"; }
done
cat "$WORK"/ub2/part-* | LC_ALL=C sort >"$WORK/ub2.csv"
cat "$WORK"/ub4/part-* | LC_ALL=C sort >"$WORK/ub4.csv"
cmp "$WORK/ub2.csv" "$WORK/ub4.csv" || fail "behavior differs between -np 2 and -np 4"
awk -F, '{n++; b[$4]++; it[$2]++}
  END {
    if (n != 100000) { print "rows " n; exit 1 }
    pv = b["pv"] / n; cart = b["cart"] / n; fav = b["fav"] / n; buy = b["buy"] / n
    if (pv < .885 || pv > .895 || cart < .052 || cart > .058 || fav < .027 || fav > .033 ||
        buy < .022 || buy > .028) { print "mix", pv, cart, fav, buy; exit 1 }
    # Zipf(1000, 1): item 1 has 1/H(1000) = 13.4% of the events.
    if (it[1] / n < .125 || it[1] / n > .142) { print "top item share " it[1] / n; exit 1 }
    if (it[2] / n < .062 || it[2] / n > .072) { print "second item share " it[2] / n; exit 1 }
  }' "$WORK/ub2.csv" || fail "behavior mix or skew"
# Each part file is one subtask's rows in order (forward to the sink):
# no record lags the largest earlier ts by more than the bound.
for f in "$WORK"/ub4/part-*; do
  awk -F, "$AWK_MS"'{ t = ms($5); if (NR > 1 && max - t > lag) lag = max - t; if (NR == 1 || t > max) max = t }
    END { if (lag > 1000 || lag < 900) { print FILENAME ": max lag " lag; exit 1 } }' "$f" ||
    fail "behavior out-of-orderness"
done

# -------------------------------------------------- generator event time
cat >"$WORK/gen.yaml" <<YAML
name: gen-evtime
operators:
  - uid: gen
    source: generator
    number-of-rows: 30000
    fields:
      - {name: id, type: i64, kind: sequence}
      - {name: ts, type: timestamp, kind: event-time, start: "2024-03-01 12:00:00",
         interval: 20ms, out-of-orderness: 750ms}
  - {uid: out, sink: file, path: "$WORK/gen"}
YAML
mpf_run 3 "$WORK/gen.yaml" || { cat "$WORK/err"; fail "generator run"; }
cat "$WORK"/gen/part-* | sort -t, -k1,1n | awk -F, "$AWK_MS"'
  { t = ms($2); pos = ms("2024-03-01 12:00:00.000") + $1 * 20
    if (t > pos || pos - t > 750) { print "row " $1 ": lag " pos - t; bad = 1 }
    if (NR > 1 && max - t > lag) lag = max - t; if (NR == 1 || t > max) max = t; n++ }
  END { if (bad || n != 30000 || lag > 750 || lag < 700) { print n, lag; exit 1 } }' ||
  fail "generator event-time lag"

# ----------------------------------------------------------------- socket
# serve.py PORTFILE FILE...: listen on a free port, write it to PORTFILE,
# then serve each FILE to one connection and close it.
cat >"$WORK/serve.py" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(4)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.settimeout(60)
for name in sys.argv[2:]:
    c, _ = s.accept()
    data = open(name, "rb").read()
    for i in range(0, len(data), 7919):  # in pieces, to split lines
        c.sendall(data[i:i + 7919])
    c.close()
s.close()
PY
wait_port() {
  for _ in $(seq 100); do [ -s "$1" ] && { cat "$1"; return; }; sleep 0.1; done
  fail "server did not start"
}
"$GEN_CORPUS" --bytes 200000 --seed 5 "$WORK/a.txt" >/dev/null
"$GEN_CORPUS" --bytes 150000 --seed 6 "$WORK/b.txt" >/dev/null
python3 "$WORK/serve.py" "$WORK/port1" "$WORK/a.txt" "$WORK/b.txt" &
server=$!
port=$(wait_port "$WORK/port1")
cat >"$WORK/socket.yaml" <<YAML
name: socket-wordcount
operators:
  - {uid: lines, source: socket, host: localhost, port: $port, parallelism: 1,
     max-retry: 1, reconnect-interval: 200ms}
  - {uid: words, type: tokenize, field: line, as: word}
  - {uid: counts, type: reduce, key-by: word, function: count}
  - {uid: out, sink: file, path: "$WORK/sock"}
YAML
mpf_run 3 "$WORK/socket.yaml" || { cat "$WORK/err"; fail "socket job"; }
wait "$server" || fail "server failed"
# Streaming mode: reduce emits every update; the last (largest) count of a
# word is its total.
cat "$WORK"/sock/part-* | awk -F, '$2 > c[$1] {c[$1] = $2} END {for (w in c) print w "," c[w]}' |
  LC_ALL=C sort >"$WORK/sock-got.txt"
{ cat "$WORK/a.txt"; echo; cat "$WORK/b.txt"; } | ref_wordcount >"$WORK/sock-ref.txt"
cmp "$WORK/sock-got.txt" "$WORK/sock-ref.txt" || fail "socket word counts (two connections) differ"
n=$(( $(awk 'END {print NR}' "$WORK/a.txt") + $(awk 'END {print NR}' "$WORK/b.txt") ))
grep -qE "lines +1 +0 +$n\$" "$WORK/err" || { cat "$WORK/err"; fail "socket source lines != $n"; }

# Lines arrive unchanged (max-retry 0: the peer closing ends the job).
printf 'first line\r\nsecond, with a comma\n\nlast without newline' >"$WORK/c.txt"
python3 "$WORK/serve.py" "$WORK/port2" "$WORK/c.txt" &
server=$!
port=$(wait_port "$WORK/port2")
cat >"$WORK/lines.yaml" <<YAML
name: socket-lines
operators:
  - {uid: lines, source: socket, port: $port, parallelism: 1}
  - {uid: out, sink: file, path: "$WORK/lines", delimiter: "|", parallelism: 1}
YAML
mpf_run 2 "$WORK/lines.yaml" || { cat "$WORK/err"; fail "socket lines job"; }
wait "$server" || true
printf 'first line\nsecond, with a comma\n\nlast without newline\n' | cmp - "$WORK"/lines/part-0-0 ||
  fail "socket lines differ"

# Nothing listens: the job fails naming the operator and address.
cat >"$WORK/refused.yaml" <<YAML
name: refused
operators:
  - {uid: nobody, source: socket, host: 127.0.0.1, port: $port, parallelism: 1,
     max-retry: 2, reconnect-interval: 50ms}
  - {uid: out, sink: blackhole}
YAML
mpf_run 2 "$WORK/refused.yaml" && fail "refused connection accepted"
expect_err "operator 'nobody': cannot connect to 127.0.0.1:$port: Connection refused \(after 2 retries\)"

# Parallelism other than 1 is a plan error naming the uid.
printf 'name: x\noperators:\n  - {uid: sock, source: socket, port: 9, parallelism: 2}\n  - {uid: o, sink: stdout}\n' \
  >"$WORK/par.yaml"
"$MPIFLOW" validate "$WORK/par.yaml" --taskmanagers 2 2>"$WORK/err" && fail "parallelism 2 accepted"
expect_err "par.yaml:3:5: operator 'sock': source socket always runs with one subtask and needs parallelism 1, got 2"
# ------------------------------------------------ relative input paths
# A relative path written in the job file (here a parameter's default) is
# found next to the job file, from any working directory; one given on the
# command line is relative to the working directory; a job written against
# the working directory (no such file next to it) still works (issue 9).
mkdir -p "$WORK/jobdir/data" "$WORK/elsewhere/data"
printf 'next to the job\nthe job the job\n' >"$WORK/jobdir/data/in.txt"
printf 'in the working directory\n' >"$WORK/elsewhere/data/in.txt"
cat >"$WORK/jobdir/rel.yaml" <<YAML
name: rel
parameters:
  input: {default: data/in.txt}
  output: {default: "-"}
operators:
  - {uid: lines, source: file, path: "\${input}"}
  - {uid: words, type: tokenize, field: line, as: word}
  - {uid: counts, type: reduce, key-by: word, function: count}
  - {uid: out, sink: file, path: "\${output}"}
YAML
(cd "$WORK/elsewhere" && mpf_run 3 ../jobdir/rel.yaml --output "$WORK/rel-out") ||
  { cat "$WORK/err"; fail "job-relative default path from another directory"; }
cat "$WORK/rel-out"/part-* | LC_ALL=C sort >"$WORK/rel-got"
ref_wordcount <"$WORK/jobdir/data/in.txt" >"$WORK/rel-want"
diff "$WORK/rel-want" "$WORK/rel-got" || fail "job-relative input: wrong counts"
(cd "$WORK/elsewhere" && "$MPIFLOW" validate ../jobdir/rel.yaml --input data/in.txt) >"$WORK/v" ||
  fail "validate with a relative --input"
grep -q "lines from data/in.txt\$" "$WORK/v" || { cat "$WORK/v"; fail "--input not cwd-relative"; }
(cd "$WORK/elsewhere" && "$MPIFLOW" validate "$WORK/jobdir/rel.yaml") >"$WORK/v"
grep -q "lines from $WORK/jobdir/data/in.txt\$" "$WORK/v" || { cat "$WORK/v"; fail "default not job-relative"; }
sed 's|data/in.txt}|jobdir/data/in.txt}|' "$WORK/jobdir/rel.yaml" >"$WORK/jobdir/old.yaml"
(cd "$WORK" && "$MPIFLOW" validate jobdir/old.yaml) >"$WORK/v" || fail "cwd-relative default"
grep -q "lines from jobdir/data/in.txt\$" "$WORK/v" || { cat "$WORK/v"; fail "no fallback to the cwd"; }

echo "PASS sources"
