#!/usr/bin/env bash
# The project's example command: `bash examples/demo.sh [CHECKPOINT.pt] [IMAGE]` from anywhere
# in a checkout. Installs the Debian packages (skipped when present), builds the two
# command-line tools (Release, in build-demo/), then
#   1. detects objects in IMAGE (default tests/data/ultralytics/bus.jpg) with an ultralytics
#      RT-DETR checkpoint, prints the detections and draws them into bus-detected.png: the C++
#      twin of `RTDETR("rtdetr-l.pt").predict("bus.jpg")[0].show()`;
#   2. embeds two sentences and prints their cosine similarity.
# Without CHECKPOINT the bundled test checkpoint tests/data/ultralytics/rtdetr-tiny.pt is used:
# rtdetr-l's architecture in small, with RANDOM weights (it exists to check eigenformer against
# ultralytics' numbers), so its boxes carry no meaning; pass rtdetr-l.pt or rtdetr-x.pt from
# ultralytics' release assets for real detections. The same holds for the bundled BERT.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
checkpoint="$(realpath "${1:-$root/tests/data/ultralytics/rtdetr-tiny.pt}")"
image="$(realpath "${2:-$root/tests/data/ultralytics/bus.jpg}")"
cd "$root"
bash cmake/install-debian-deps.sh
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DEIGENFORMER_BUILD_TESTS=OFF \
  -DEIGENFORMER_BUILD_BENCHMARKS=OFF -DEIGENFORMER_BUILD_EXAMPLES=ON
cmake --build build-demo -j "${JOBS:-2}" --target rtdetr-detect text-encoder

echo
echo "Detections in $(basename "$image") by $(basename "$checkpoint"):"
build-demo/examples/rtdetr-detect --model "$checkpoint" --out bus-detected.png "$image"
echo "Drawing: $root/bus-detected.png"

echo
echo "Cosine similarity of two sentences (bundled random-weight BERT):"
build-demo/examples/text-encoder --model tests/data/bert --similarity \
  "The quick brown fox jumps over the lazy dog." \
  "A fast brown fox leaps over a sleepy dog."
