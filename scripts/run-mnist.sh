#!/usr/bin/env bash
# Trains the reference model on MNIST, downloading it first (checksums verified) when it is not in data/mnist.
# Where MNIST cannot be had (no internet), says so and trains on Fashion-MNIST from Debian's
# dataset-fashion-mnist package instead, so the run always ends with a log, figures and a model in out/.
# Extra arguments go to the app, e.g. `bash scripts/run-mnist.sh --epochs 10`.
set -euo pipefail
cd "$(dirname "$0")/.."
app=build/apps/mnist/mnist
[ -x "$app" ] || { echo "run-mnist: $app is not built; run: cmake -S . -B build && cmake --build build -j" >&2; exit 1; }

if cmake -DDATASET=mnist -DDEST=data -P cmake/fetch_data.cmake; then
  exec "$app" train --dataset mnist --data data/mnist --out out "$@"
fi
echo "run-mnist: MNIST could not be downloaded; training on Fashion-MNIST from /usr/share/datasets/fashion-mnist instead." >&2
exec "$app" train --dataset fashion --out out "$@"
