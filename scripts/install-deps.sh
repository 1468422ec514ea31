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
echo "install-deps: done"
