#!/usr/bin/env bash
# Packs what the GPU machine needs (it has no cargo and no network) into .device/ (git-ignored), under the
# device tool's 64 MiB carry limit: the stripped release binary, MNIST, the 200 BSDS500 photos (MNIST-M train is
# rebuilt there from them) and the released MNIST-M test set. Then, with the device tool:
#   run: bash scripts/device_check.sh [bench|dann|all|finetune]   carry: [".device"]
set -euo pipefail
cd "$(dirname "$0")/.."
data="${SHIFT_DATA:-datasets}"
cargo build --release -p shift-cli
rm -rf .device && mkdir -p .device/data/mnist_m_test
cp target/release/shift .device/shift && strip .device/shift
cp -r "$data/mnist" "$data/bsds500" .device/data/
cp -r "$data/mnist_m/mnist_m_test" "$data/mnist_m/mnist_m_test_labels.txt" .device/data/mnist_m_test/
cp xtask/python/dann_peer.py .device/
cp ../shared/bench/reference_dann.py .device/
du -sh --apparent-size .device
