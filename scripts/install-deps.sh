#!/bin/sh
# Installs the Debian packages PEFTKit builds against, only when one is missing.
# Works as root or through sudo. Safe to run repeatedly.
set -e
PKGS="pkg-config libopenblas-dev libsndfile1-dev libpng-dev libturbojpeg0-dev wordnet-base espeak-ng libespeak-ng-dev asterisk-core-sounds-en-wav asterisk-core-sounds-en pocketsphinx-testdata dataset-fashion-mnist libopenmpi-dev openmpi-bin opencv-doc"
missing=""
for p in $PKGS; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing:$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
