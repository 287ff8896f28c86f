#!/usr/bin/env bash
# Builds and runs PEFTKit's libFuzzer targets (sources in Tests/Fuzz, see FUZZING.md).
#
#   scripts/fuzz.sh build                 build .build/fuzz/peftkit-fuzz (libraries with -sanitize=fuzzer,address)
#   scripts/fuzz.sh seeds                 (re)create the seed corpora in .build/fuzz/seeds/<target>
#   scripts/fuzz.sh run [TARGET...]       fuzz each target FUZZ_SECONDS (default 30) seconds; all targets when none given
#   scripts/fuzz.sh list                  the targets and what they read
#   scripts/fuzz.sh replay TARGET FILE... run the target once on each file (to reproduce a crash)
#   scripts/fuzz.sh table                 the latest result per target as a Markdown table (for FUZZING.md)
#   scripts/fuzz.sh soak [TARGET...]      every target in turn under nice -n 19, FUZZ_ROUNDS rounds (logs in .build/fuzz)
#   scripts/fuzz.sh totals                executions summed over all runs per target (and per CPU-second)
#   scripts/fuzz.sh clean                 remove scratch folders left in /dev/shm by fuzz processes that died
#
# Environment: FUZZ_SECONDS (per target), FUZZ_TIMEOUT (s per input, default 10; soak 60), FUZZ_MALLOC_MB (largest single allocation allowed,
# default 256: a lying header must be refused before it allocates), FUZZ_RSS_MB (default 2048),
# FUZZ_JOBS (parallel libFuzzer workers per target, default 1).
# Crashing inputs are stored in Tests/Fuzz/crashes/<target>/ (commit them with a regression
# test); the working corpus grows in .build/fuzz/corpus/<target>; per-target results are appended
# to .build/fuzz/results.tsv and printed as a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=$ROOT/.build/fuzz
BIN=$OUT/peftkit-fuzz
FIX=${PEFTKIT_FIXTURES:-$ROOT/../shared/fixtures}
[ -d "$FIX" ] || FIX=/work/shared/fixtures
export PEFTKIT_FIXTURES=$FIX   # the adapter-folder targets load the tiny DINOv2 fixture
MODELS=${PEFTKIT_MODELS:-$ROOT/models}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_MALLOC_MB=${FUZZ_MALLOC_MB:-256}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}
FUZZ_JOBS=${FUZZ_JOBS:-1}
# libFuzzer's timeout is wall-clock time: on a loaded machine under nice -n 19 a 0.3 s input can
# take 12 s, so the soak run allows 60 s (replay a timeout unloaded before calling it a hang).
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
# One worker for our parallel loops: a fuzz process should use one core, and a loop split over
# dispatch threads left allocations behind in the worker threads' caches, so libFuzzer re-ran
# 1 input in 6 of the audio corpus for its leak check (2.9 instead of 5.5 CPU-s for the same
# 598 inputs). The chunk bodies are the same code either way; PEFTKIT_THREADS=2 restores the split.
export PEFTKIT_THREADS=${PEFTKIT_THREADS:-1}
export SWIFT_BACKTRACE=enable=no   # libFuzzer reports the crash; Swift's backtracer would only slow it down
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/Tests/Fuzz/lsan.supp:print_suppressions=0}

build() {
    local flags=(-c release --build-path "$OUT" -Xswiftc -sanitize=fuzzer,address)
    for t in Vision Audio Graph; do
        swift build "${flags[@]}" --target "$t" 2>&1 | grep -E "error|warning: unre|Build of" || true
    done
    local rel=$OUT/release objs=()
    for m in Core Text Vision Audio Graph; do objs+=("$rel/$m.build"/*.o); done
    local maps=()
    for m in Sources/*/System/*/module.modulemap; do maps+=(-Xcc "-fmodule-map-file=$ROOT/$m"); done
    echo "linking $BIN"
    swiftc -O -parse-as-library -sanitize=fuzzer,address -module-name PeftkitFuzz \
        -I "$rel/Modules" "${maps[@]}" Tests/Fuzz/Harness/*.swift Tests/Fuzz/Targets/*.swift "${objs[@]}" \
        -o "$BIN" 2>&1 | grep -v "Cannot export local symbol" || true
    [ -x "$BIN" ] || { echo "fuzz build failed" >&2; exit 1; }
}

# Removes the scratch folders (/dev/shm/peftkit-fuzz-<pid>, or under $TMPDIR) of fuzz processes
# that no longer run: the harness removes its own at a normal exit, but a crash, timeout or
# kill ends libFuzzer with _exit. Live processes' folders (another soak's too) are kept.
clean_scratch() {
    local d pid
    for d in /dev/shm/peftkit-fuzz-* "${TMPDIR:-/tmp}"/peftkit-fuzz-*; do
        [ -d "$d" ] || continue
        pid=${d##*-}
        [[ "$pid" =~ ^[0-9]+$ ]] || continue
        [ -d "/proc/$pid" ] && continue
        rm -rf -- "$d"
    done
}

targets() { PEFTKIT_FUZZ_LIST=1 "$BIN" 2>/dev/null | cut -f1; }
# The target's -max_len (third column of the list; empty = libFuzzer's default).
max_len() { PEFTKIT_FUZZ_LIST=1 "$BIN" 2>/dev/null | awk -F'\t' -v t="$1" '$1 == t { print $3 }'; }

# Copies fixture files into a seed folder (files over 64 KB are skipped: mutation of big inputs is slow).
copy_small() { local dir=$1; shift; for f in "$@"; do [ -f "$f" ] && [ "$(stat -c %s "$f")" -le 65536 ] && cp "$f" "$dir/" || true; done; }

seeds() {
    local S=$OUT/seeds
    rm -rf "$S"; mkdir -p "$S"
    PEFTKIT_FUZZ_WRITE_SEEDS=$S "$BIN"
    for t in $(targets); do mkdir -p "$S/$t"; done
    local sep=$'\n#~#~#\n'
    copy_small "$S/safetensors" "$FIX"/tiny/*/io.safetensors "$FIX"/png/*.safetensors "$FIX"/minilm/*/adapter_model.safetensors
    copy_small "$S/json-config" "$FIX"/tiny/*/config.json "$FIX"/metrics/*.json "$FIX"/png/index.json
    local i=0; for f in "$FIX"/minilm/*/adapter_config.json "$FIX"/zoo/*/adapter_config.json; do cp "$f" "$S/adapter-config/$i.json"; i=$((i+1)); done
    cp "$FIX"/tiny/bert_tokencls/config.json "$S/bert-config/tiny.json"
    if [ -f "$MODELS/minilm/config.json" ]; then cp "$MODELS/minilm/config.json" "$S/bert-config/minilm.json"; fi
    cp "$FIX"/tiny/clip/config.json "$S/clip-config/tiny.json"
    cp "$FIX"/tiny/ast/config.json "$S/ast-config/tiny.json"
    cp "$FIX"/whisper/tiny_hf/config.json "$S/whisper-config/tiny.json"
    # Tokenizers: small hand-written files in the real layouts.
    cat > "$S/wordpiece-json/bert.json" <<'JSON'
{"version":"1.0","truncation":null,"padding":null,"added_tokens":[{"id":0,"content":"[PAD]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},{"id":1,"content":"[UNK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},{"id":2,"content":"[CLS]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},{"id":3,"content":"[SEP]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},{"id":4,"content":"[MASK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
"normalizer":{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true},
"pre_tokenizer":{"type":"BertPreTokenizer"},
"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}}],"pair":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}},{"Sequence":{"id":"B","type_id":1}},{"SpecialToken":{"id":"[SEP]","type_id":1}}],"special_tokens":{"[CLS]":{"id":"[CLS]","ids":[2],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[3],"tokens":["[SEP]"]}}},
"decoder":{"type":"WordPiece","prefix":"##","cleanup":true},
"model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":{"[PAD]":0,"[UNK]":1,"[CLS]":2,"[SEP]":3,"[MASK]":4,"hello":5,"world":6,"##s":7,",":8,"!":9,"cafe":10,"東":11,"京":12,"na":13,"##ive":14,"end":15,".":16}}}
JSON
    printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n,\n!\ncafe\nna\n##ive\n' > "$S/wordpiece-vocab/vocab.txt"
    if [ -f "$MODELS/minilm/vocab.txt" ]; then head -c 30000 "$MODELS/minilm/vocab.txt" > "$S/wordpiece-vocab/minilm-head.txt"; fi
    cat > "$S/bytebpe-json/gpt2.json" <<'JSON'
{"version":"1.0","added_tokens":[{"id":9,"content":"<|endoftext|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
"normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<|endoftext|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}],"special_tokens":{"<|endoftext|>":{"id":"<|endoftext|>","ids":[9],"tokens":["<|endoftext|>"]}}},
"decoder":{"type":"ByteLevel"},
"model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":"","end_of_word_suffix":"","fuse_unk":false,"byte_fallback":false,"vocab":{"h":0,"e":1,"l":2,"o":3,"Ġ":4,"he":5,"ll":6,"hell":7,"hello":8},"merges":["h e","l l","he ll",["hell","o"]]}}
JSON
    if [ -f "$FIX/text/bpe_simple_vocab_16e6.txt.gz" ]; then
        { zcat "$FIX/text/bpe_simple_vocab_16e6.txt.gz" || true; } | head -300 | gzip -9 > "$S/clip-merges/head300.txt.gz"
        cp "$S/clip-merges/head300.txt.gz" "$S/gzip/"
    fi
    gzip -9 -c "$FIX"/tiny/vit/config.json > "$S/gzip/config.json.gz"
    printf 'stored\n' | gzip -1 -c > "$S/gzip/small.gz"
    copy_small "$S/conll" "$FIX"/metrics/*.conll
    head -120 data/text/test.conll > "$S/conll/test-head.conll"
    if [ -f /usr/share/wordnet/data.noun ]; then { grep -v '^  ' /usr/share/wordnet/data.noun || true; } | head -40 > "$S/wordnet-ner/data.noun"; fi
    if [ -f /usr/share/wordnet/index.sense ]; then head -60 /usr/share/wordnet/index.sense > "$S/wordnet-ner/index.sense"; fi
    head -40 data/text/dapt.txt > "$S/dapt-text/dapt.txt"
    printf 'caf\xe9 na\xefve\n' > "$S/dapt-text/latin1.txt"
    for g in umls nations; do
        local d=data/graph/$g
        { head -60 "$d/train.txt"; printf '%s' "$sep"; head -10 "$d/valid.txt"; printf '%s' "$sep"; head -10 "$d/test.txt"; } > "$S/triples/$g.txt" 2>/dev/null || true
    done
    i=0
    for q in 'r(a)' 'r2(r1(a))' 'r1(a) & r2(b)' 'r3(r1(a) | r2(b))' 'r1(a) & !r2(b)' 'r^-1("New York")' 'hypernym(dog.n.01)' \
             '?y : r1(a, y)' '?y : exists x . r1(a, x) and r2(x, y)' '?y : r3(b, y) and not (exists x . r1(a, x) and r2(x, y))' \
             '?y : exists x . (r1(a, x) or r2(b, x)) and r3(x, y)' '?y . "part of"(e1, y) ∧ ¬ r(e2, y)'; do
        printf '%s' "$q" > "$S/kg-query/q$i"; i=$((i+1))
    done
    copy_small "$S/png" "$FIX"/png/*.png "$FIX"/png/corrupt/*.png
    copy_small "$S/jpeg" Tests/VisionTests/Resources/*.jpg
    copy_small "$S/pnm" Tests/VisionTests/Resources/*.p?m
    printf 'P2\n# comment\n3 2\n255\n0 128 255\n1 2 3\n' > "$S/pnm/ascii.pgm"
    printf 'P3\n1 1\n65535\n65535 0 32768\n' > "$S/pnm/ascii16.ppm"
    cp "$S"/png/rgb8.png "$S"/png/gray8.png "$S"/jpeg/gray.jpg "$S"/pnm/ascii.pgm "$S/image-sniff/" 2>/dev/null || true
    copy_small "$S/audio" "$FIX"/audio/allison_digit1_16k.flac   # real recordings are slow to mutate; the seed writer adds short clips
    printf 'path,label,fold\na.wav,yes,1\nsub/b.wav,no,2\n# comment\n' > "$S/audio-manifest/manifest.csv"
    printf 'a.wav\thello world\nb.flac\tsecond line\n' > "$S/speech-manifest/speech.tsv"
    # Formats that landed later: change-detect's TIFF, gec-cl's M2/TSV/JSONL, crosstune's HTTP and inputs.
    copy_small "$S/tiff" Tests/VisionTests/Resources/tiff/*.tif
    copy_small "$S/m2" "$FIX"/gec/*.m2
    printf 'She go .\tShe goes .\tShe went .\nOk .\tOk .\n' > "$S/gec-data/a.tsv"
    printf '{"source": "a b", "references": ["a c"], "category": "law"}\n{"source": "x", "references": ["x"]}\n' > "$S/gec-data/a.jsonl"
    printf 'POST /embed HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{"inputs":["hello world"]}\nGET /health HTTP/1.1\r\n\r\n' > "$S/http-request/post.txt"
    printf 'POST /embed_all HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{"inp\r\n10\r\nuts":["a","b"]}\n\r\n0\r\n\r\n' > "$S/http-request/chunked.txt"
    printf 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n[[0.5,-1.25,3e-2]]\n' > "$S/http-response/length.txt"
    printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n[[1,\r\n4\r\n2]]\n\r\n0\r\n\r\n' > "$S/http-response/chunked.txt"
    printf 'HTTP/1.0 413 Payload Too Large\r\n\r\n{"error":"too large"}' > "$S/http-response/close.txt"
    printf '[[0.5,-1.25,3e-2],[1,2,3]]' > "$S/tei-json/embed.json"
    printf '[[[0.5,1],[2,3]],[[4,5]]]' > "$S/tei-json/embed_all.json"
    printf 'text,label\n"hello, world",pos\n"say ""hi""\nthere",neg\n' > "$S/labelled-text/a.csv"
    printf 'text\tlabel\nhello\tpos\n' > "$S/labelled-text/a.tsv"
    printf '{"text": "hello", "label": "pos"}\n{"text": "bye", "label": "neg"}\n' > "$S/labelled-text/a.jsonl"
    for t in $(targets); do printf '%-16s %3d seeds\n' "$t" "$(ls "$S/$t" | wc -l)"; done
}

run_one() {
    local t=$1 corpus=$OUT/corpus/$t crashes=$ROOT/Tests/Fuzz/crashes/$t log=$OUT/logs/$t.log
    mkdir -p "$corpus" "$crashes" "$OUT/logs"
    local args=(-max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb="$FUZZ_RSS_MB" -malloc_limit_mb="$FUZZ_MALLOC_MB"
                -artifact_prefix="$crashes/" -print_final_stats=1 -detect_leaks=1)
    [ "$FUZZ_JOBS" -gt 1 ] && args+=(-fork="$FUZZ_JOBS" -ignore_crashes=1)
    local ml; ml=$(max_len "$t"); [ -n "$ml" ] && args+=(-max_len="$ml")
    local status=0 timing=$OUT/logs/$t.cpu
    # CPU seconds next to the wall-clock ones: on a shared machine under nice the fuzzer gets a
    # small share of a core, so executions per CPU-second is the rate that describes the target.
    rm -f "$timing"
    if [ -x /usr/bin/time ]; then
        PEFTKIT_FUZZ_TARGET=$t /usr/bin/time -f "%U %S" -o "$timing" "$BIN" "${args[@]}" "$corpus" "$OUT/seeds/$t" > "$log" 2>&1 || status=$?
    else
        PEFTKIT_FUZZ_TARGET=$t "$BIN" "${args[@]}" "$corpus" "$OUT/seeds/$t" > "$log" 2>&1 || status=$?
    fi
    local cpu=""
    [ -s "$timing" ] && cpu=$(tail -1 "$timing" | awk 'NF == 2 { printf "%.1f", $1 + $2 }')
    local execs cov files
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    files=$(ls "$corpus" | wc -l)
    local found
    found=$(ls "$crashes" 2>/dev/null | grep -cE '^(crash|leak|timeout|oom|slow-unit)-' || true)
    rmdir "$crashes" 2>/dev/null || true   # keep the folder only when it holds a crash
    clean_scratch
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$FUZZ_SECONDS" "${execs:-0}" "$files" "${cov:-?}" "$found" "$status" "$cpu" >> "$OUT/results.tsv"
    printf '| %-16s | %10s | %6s | %6s | %6s | %s |\n' "$t" "${execs:-0}" "${cpu:-?}" "$files" "${cov:-?}" "$([ "$status" = 0 ] && echo ok || echo "FAILED (exit $status, see $log)")"
}

cmd=${1:-run}; shift || true
case "$cmd" in
    build) build ;;
    seeds) [ -x "$BIN" ] || build; seeds ;;
    list) [ -x "$BIN" ] || build; PEFTKIT_FUZZ_LIST=1 "$BIN" ;;
    table)
        # The newest result of each target (results.tsv keeps every run), as FUZZING.md's table.
        echo "| target | seconds | CPU s | executions | corpus | edges | crash files | exit |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        tac "$OUT/results.tsv" | awk -F'\t' '!seen[$1]++' | tac | awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, ($8 == "" ? "?" : $8), $3, $4, $5, $6, $7}' ;;
    soak)
        # The long run: every target (or those given) in turn, FUZZ_SECONDS each, niced so other
        # work on the machine keeps its share, for FUZZ_ROUNDS rounds; the corpus carries over
        # between runs and rounds, so executions accumulate (`scripts/fuzz.sh totals`).
        [ -x "$BIN" ] || build
        [ -d "$OUT/seeds" ] || seeds
        list=("$@"); [ ${#list[@]} -gt 0 ] || list=($(targets))
        clean_scratch
        for round in $(seq 1 "${FUZZ_ROUNDS:-1}"); do
            for t in "${list[@]}"; do
                FUZZ_TIMEOUT=${FUZZ_TIMEOUT_SOAK:-60} nice -n 19 "$0" run "$t" >> "$OUT/soak.log" 2>&1 || echo "round $round: $t FAILED" >> "$OUT/soak.log"
            done
        done ;;
    totals)
        # Executions summed over every run in results.tsv, with the newest corpus/edges/crash count.
        # exec per CPU-s counts only the runs that recorded their CPU time (column 8).
        echo "| target | runs | seconds | executions | exec/s | exec per CPU-s | corpus | edges | crash files |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        awk -F'\t' '{ runs[$1]++; secs[$1] += $2; ex[$1] += $3; corpus[$1] = $4; cov[$1] = $5; cr[$1] = $6; if (!($1 in order)) { order[$1] = n++ }
                      if ($8 != "" && $8 > 0) { cpu[$1] += $8; cex[$1] += $3 } }
             END { for (t in order) idx[order[t]] = t
                   for (i = 0; i < n; i++) { t = idx[i]; printf "| %s | %d | %d | %d | %d | %s | %s | %s | %s |\n", t, runs[t], secs[t], ex[t], (secs[t] ? ex[t] / secs[t] : 0),
                                                   (cpu[t] ? sprintf("%d", cex[t] / cpu[t]) : "?"), corpus[t], cov[t], cr[t] } }' "$OUT/results.tsv" ;;
    replay)
        t=$1; shift
        for f in "$@"; do PEFTKIT_FUZZ_TARGET=$t "$BIN" -runs=1 "$f" || status=$?; done
        clean_scratch
        exit "${status:-0}" ;;
    clean) clean_scratch ;;
    run)
        [ -x "$BIN" ] || build
        [ -d "$OUT/seeds" ] || seeds
        list=("$@"); [ ${#list[@]} -gt 0 ] || list=($(targets))
        echo "| target           | executions |  CPU s | corpus |  edges | result |"
        echo "|------------------|-----------:|-------:|-------:|-------:|--------|"
        clean_scratch
        failed=0
        for t in "${list[@]}"; do run_one "$t" || failed=1; done
        exit $failed ;;
    *) echo "usage: scripts/fuzz.sh build|seeds|run [TARGET...]|soak [TARGET...]|totals|list|table|replay TARGET FILE...|clean" >&2; exit 2 ;;
esac
