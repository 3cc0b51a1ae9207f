#!/usr/bin/env bash
# One background chain of the catalogue's full-schedule runs (README, "The whole catalogue, again"): each
# METHOD:SEED in turn, as the README's experiment command at one thread, resumed from its checkpoint when the
# run folder already has one. Two chains side by side use the 2 cores best (docs/performance.md).
#
#   scripts/catalogue_chain.sh SHIFT_BINARY DATA_DIR OUT_DIR mcc:1,mcc:2,cdan-e:1 >> chain.log 2>&1 &
#
# SHIFT_BINARY is a copy of target/release/shift, so that a rebuild does not swap the binary under a chain.
# DATA_DIR holds mnist/, bsds500/ and the rebuilt mnist_m/ (`shift data rebuild-mnist-m`) with the released
# test split in place of the rebuilt one (what scripts/device_check.sh does).
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: $0 SHIFT_BINARY DATA_DIR OUT_DIR METHOD:SEED[,METHOD:SEED...]" >&2
  exit 2
fi
shift_bin=$1 data=$2 out=$3 runs=$4
[ -x "$shift_bin" ] || { echo "$0: $shift_bin is not an executable" >&2; exit 2; }
[ -f "$data/mnist_m/.complete" ] || { echo "$0: $data/mnist_m is not an installed MNIST-M" >&2; exit 2; }
IFS=',' read -r -a pairs <<<"$runs"
for pair in "${pairs[@]}"; do
  method=${pair%%:*} seed=${pair##*:}
  if [ -z "$method" ] || ! [[ "$seed" =~ ^[0-9]+$ ]] || [ "$method" = "$pair" ]; then
    echo "$0: '$pair' is not METHOD:SEED" >&2
    exit 2
  fi
  echo "chain: $(date -u +%FT%TZ) $method seed $seed"
  SHIFT_THREADS=1 "$shift_bin" experiment dann --device cpu --data "$data" --out "$out" --resume \
    --methods "$method" --seeds "$seed"
done
echo "chain: $(date -u +%FT%TZ) done"
