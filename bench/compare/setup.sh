#!/usr/bin/env bash
# Installs what the comparison needs; safe to run again (each step is skipped when done).
#   - Debian's python3-torch (+ numpy) for the system python /usr/bin/python3, which
#     builds the models and the ONNX export (PyPI is not reachable here, and the pyenv
#     `python3` on PATH does not see Debian's packages).
#   - onnxruntime-node from npm into bench/compare/node_modules. The CPU binary ships
#     inside the npm package; ONNXRUNTIME_NODE_INSTALL=skip stops its postinstall step
#     from downloading the optional CUDA provider.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
system_python=/usr/bin/python3

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

torch_version() { "$system_python" -c 'import torch; print(torch.__version__)'; }

if "$system_python" -c 'import torch, numpy' 2>/dev/null; then
  echo "setup: torch $(torch_version) already installed"
else
  echo "setup: installing python3-torch and python3-numpy with apt-get"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends python3-torch python3-numpy
fi

ort_version() { (cd "$here" && node -p 'require("onnxruntime-node/package.json").version'); }

if command -v node >/dev/null && (cd "$here" && node -e 'require("onnxruntime-node")') 2>/dev/null
then
  echo "setup: onnxruntime-node $(ort_version) already installed"
else
  command -v npm >/dev/null || sudo_if_needed apt-get install -y -qq nodejs npm
  echo "setup: installing onnxruntime-node with npm into $here/node_modules"
  (cd "$here" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund)
fi
echo "setup: done"
