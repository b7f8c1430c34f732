#!/usr/bin/env bash
# WordCount on NP ranks over a generated corpus (a single file and the same
# text split into a directory of files) and over the built-in sample,
# compared with an independent count by tr | sort | uniq -c.
np=${1:?usage: wordcount.sh NP}
. "$(dirname "$0")/lib.sh"
"$GEN_CORPUS" --bytes 3000000 --seed "$np" "$WORK/corpus.txt" >/dev/null
ref_wordcount <"$WORK/corpus.txt" >"$WORK/ref.txt"

mpf_run "$np" "$SRC/jobs/wordcount.yaml" --input "$WORK/corpus.txt" --output "$WORK/o1" ||
  { cat "$WORK/err"; fail "run failed"; }
ls "$WORK/o1" | grep -q inprogress && fail "in-progress files left behind"
[ "$(ls "$WORK/o1" | wc -l)" -eq $((np - 1)) ] || fail "expected $((np - 1)) part files"
cat "$WORK"/o1/part-* | LC_ALL=C sort >"$WORK/got.txt"
cmp "$WORK/got.txt" "$WORK/ref.txt" || fail "single file: counts differ from tr|sort|uniq"
expect_err "finished in"

# A directory of uneven files, cut mid-line, plus a hidden file to skip.
mkdir "$WORK/dir"
split -b 700001 "$WORK/corpus.txt" "$WORK/dir/chunk-"
echo "hidden words must not count" >"$WORK/dir/.hidden"
# Re-join split points: a cut line continues in the next file, so count the
# reference per file the same way mpiflow reads them (each file on its own).
cat "$WORK"/dir/chunk-* | cmp - "$WORK/corpus.txt" >/dev/null || fail "split broke the corpus"
for f in "$WORK"/dir/chunk-*; do cat "$f"; echo; done | ref_wordcount >"$WORK/ref-dir.txt"
mpf_run "$np" "$SRC/jobs/wordcount.yaml" --input "$WORK/dir" --output "$WORK/o2" ||
  { cat "$WORK/err"; fail "directory run failed"; }
cat "$WORK"/o2/part-* | LC_ALL=C sort >"$WORK/got-dir.txt"
cmp "$WORK/got-dir.txt" "$WORK/ref-dir.txt" || fail "directory: counts differ"

# Built-in sample text to stdout; the reference reads the C string literal.
mpf_run "$np" "$SRC/jobs/wordcount.yaml" || { cat "$WORK/err"; fail "builtin run failed"; }
LC_ALL=C sort "$WORK/out" >"$WORK/got-builtin.txt"
python3 - "$SRC/src/connectors/file/sample_text.c" <<'PY' | ref_wordcount >"$WORK/ref-builtin.txt"
import re, sys
src = open(sys.argv[1]).read()
body = src.split("mpf_sample_text[] =", 1)[1].split("const size_t", 1)[0]
sys.stdout.write("".join(bytes(s, "ascii").decode("unicode_escape") for s in re.findall(r'"((?:[^"\\]|\\.)*)"', body)))
PY
cmp "$WORK/got-builtin.txt" "$WORK/ref-builtin.txt" || fail "builtin sample: counts differ"
echo "PASS wordcount np=$np"
