#!/bin/sh
# Prints the OpenBLAS kernel name to use on this CPU, for OPENBLAS_CORETYPE.
# Debian's OpenBLAS 0.3.21 does not recognise recent CPUs and falls back to a slow generic
# kernel (64-69 instead of ~300 GFLOP/s measured on an AVX-512 machine). The variable is read
# when the library loads, so it must be set before the process starts.
# - Respect a value that is already set (some machines set it on purpose).
# - x86 with AVX-512 (F, BW, VL), Intel or AMD (Zen 4 and later): SkylakeX. Debian's OpenBLAS itself
#   picks Cooperlake (also 512-bit) on such an AMD EPYC; forcing Haswell there (this script's rule
#   until the ninth session) halved the GEMM width: Whisper transcription 1.20-1.34x slower than
#   CTranslate2 with Haswell, level with SkylakeX; GenD training 0.83x PyTorch vs 1.23-1.35x
#   (docs/speed.md). The whole test suite passes with SkylakeX on that machine.
# - Other x86 with AVX2 + FMA (incl. AMD Zen 1-3): Haswell.
# - Anything else: print nothing and let OpenBLAS decide.
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then echo "$OPENBLAS_CORETYPE"; exit 0; fi
[ -r /proc/cpuinfo ] || exit 0
flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { echo "$flags" | grep -qw "$1"; }
if has avx512f && has avx512bw && has avx512vl; then
  echo SkylakeX
elif has avx2 && has fma; then
  echo Haswell
fi
