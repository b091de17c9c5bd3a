#!/usr/bin/env bash
# The project's example command: `bash examples/demo.sh` from anywhere in a checkout.
# Installs the Debian packages (skipped when present), builds only the text-encoder example
# (Release, in build-demo/) and prints the cosine-similarity matrix of two sentences.
#
# The model is the bundled test fixture tests/data/bert: a real BERT architecture and
# WordPiece vocabulary, but with RANDOM weights (it exists to check eigenformer against
# HuggingFace's numbers), so the similarity values carry no meaning. Point --model at a
# downloaded sentence-transformers folder (config.json, model.safetensors, vocab.txt or
# tokenizer.json), e.g. all-MiniLM-L6-v2, for meaningful embeddings.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash cmake/install-debian-deps.sh
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DEIGENFORMER_BUILD_TESTS=OFF \
  -DEIGENFORMER_BUILD_BENCHMARKS=OFF -DEIGENFORMER_BUILD_EXAMPLES=ON
cmake --build build-demo -j "${JOBS:-2}" --target text-encoder

echo
echo "Cosine similarity of two sentences (bundled random-weight fixture model):"
build-demo/examples/text-encoder --model tests/data/bert --similarity \
  "The quick brown fox jumps over the lazy dog." \
  "A fast brown fox leaps over a sleepy dog."
