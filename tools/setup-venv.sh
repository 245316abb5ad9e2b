#!/usr/bin/env bash
# Creates tools/.venv with the reference libraries used to generate parity fixtures.
# torch comes from the local CPU wheel (pip's configured find-links) and is pinned,
# so installing diffusers cannot pull a CUDA build. Not needed to build or test ZFlow.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
# The CPU wheel comes from pip's configured find-links folder, installed first and pinned so that
# nothing later pulls a CUDA build.
links=$("$py" -m pip config get global.find-links 2>/dev/null || true)
torch_wheel=$(ls "${links:-/nonexistent}"/torch-*+cpu-*.whl 2>/dev/null | head -1 || true)
if [ -z "$torch_wheel" ]; then
  echo "no torch CPU wheel in pip's find-links folder (${links:-not set}); put one there and rerun" >&2
  exit 1
fi
"$py" -m pip install -q "$torch_wheel"
torch_version=$("$py" -c 'import torch; print(torch.__version__)')
echo "torch==$torch_version" > "$venv/constraints.txt"
"$py" -m pip install -q -c "$venv/constraints.txt" \
  numpy Pillow safetensors diffusers transformers open_clip_torch scipy scikit-image einops
echo "reference venv ready: $venv (torch $torch_version)"
