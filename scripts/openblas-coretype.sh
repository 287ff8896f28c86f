#!/bin/sh
# Prints the OpenBLAS kernel name to use on this CPU, for OPENBLAS_CORETYPE.
# Debian's OpenBLAS 0.3.21 does not recognise recent CPUs and falls back to a slow generic
# kernel (64-69 instead of ~300 GFLOP/s measured on an AVX-512 machine). The variable is read
# when the library loads, so it must be set before the process starts.
# - Respect a value that is already set (some machines set it on purpose).
# - Intel with AVX-512 (F, BW, VL): SkylakeX. Other x86 with AVX2 + FMA (incl. AMD Zen): Haswell.
# - Anything else: print nothing and let OpenBLAS decide.
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then echo "$OPENBLAS_CORETYPE"; exit 0; fi
[ -r /proc/cpuinfo ] || exit 0
flags=$(grep -m1 '^flags' /proc/cpuinfo)
vendor=$(grep -m1 '^vendor_id' /proc/cpuinfo | awk '{print $3}')
has() { echo "$flags" | grep -qw "$1"; }
if [ "$vendor" = "GenuineIntel" ] && has avx512f && has avx512bw && has avx512vl; then
  echo SkylakeX
elif has avx2 && has fma; then
  echo Haswell
fi
