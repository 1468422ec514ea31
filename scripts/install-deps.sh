#!/usr/bin/env bash
# Installs what building, testing and running microtorch needs on Debian or Ubuntu.
set -euo pipefail
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
sudo_if_needed apt-get update -qq
sudo_if_needed apt-get install -y -qq --no-install-recommends \
  g++ make cmake pkg-config ca-certificates \
  libgtest-dev libbenchmark-dev zlib1g-dev libcairo2-dev fonts-dejavu-core \
  libopenmpi-dev openmpi-bin dataset-fashion-mnist >/dev/null
# --fuzz: clang and its libFuzzer runtime too, for the fuzz targets (fuzz/CMakeLists.txt).
if [ "${1:-}" = "--fuzz" ]; then
  sudo_if_needed apt-get install -y -qq --no-install-recommends clang libclang-rt-dev >/dev/null
fi
echo "install-deps: done"
