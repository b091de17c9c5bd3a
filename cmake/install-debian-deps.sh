#!/usr/bin/env bash
# Installs what eigenformer's build, tests, benchmarks, examples, sanitizer and fuzzing
# stages need on Debian 12 (bookworm). Idempotent: when every package is already installed
# it does not touch apt at all, so it works offline and without root on a ready machine.
# Only Debian's own archive is needed (no other network access).
set -euo pipefail

packages=(
  cmake g++ make pkg-config          # toolchain (g++ brings libgomp, libasan, libtsan, libubsan)
  libeigen3-dev nlohmann-json3-dev   # core library
  libutf8proc-dev                    # tokenizer (eigenformer::text)
  libstb-dev libjpeg-dev             # image I/O (eigenformer::image)
  googletest libgtest-dev            # tests
  libbenchmark-dev                   # bench/
  clang libclang-rt-14-dev           # libFuzzer targets (tests/fuzz)
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-debian-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-debian-deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-debian-deps: run as root (or install sudo)" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
