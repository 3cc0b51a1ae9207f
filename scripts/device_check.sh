#!/usr/bin/env bash
# The GPU checks, in one call on the device machine (see scripts/device_pack.sh). Writes logs and JSON under
# $OUT and prints a short table last.
#   bench: shift info --self-test; shift bench train (eager and fast: steps/s, full epoch, time to 0.75);
#          bench/reference_dann.py --mode speed x3; dann_peer.py speed (fused-SGD eager, whole step in a CUDA
#          graph; with PyTorch's default cuDNN setting and with benchmarking, shift's) and time-to 0.75.
#   dann:  shift experiment dann, paper schedule, DANN first (the acceptance number; each finished run's
#          result.json is under $OUT even if the call times out), then source-only and target-only, seeds 0,1,2,
#          fast step (train on MNIST-M rebuilt from BSDS500, test on the released MNIST-M test set).
#   finetune: shift experiment finetune, default table (5 policies x k in 1,5,10,50,100,all), seeds 0,1,2,
#          pretraining and fine-tuning with the fast step. Not part of `all` (one call holds at most 10 minutes).
#   dirt-t: shift experiment dann --backbone vada-cnn-in --methods dirt-t: VADA, then DIRT-T, on VADA's small CNN
#          (instance-normalised input), seed 0, 30 epochs of 1,000 steps (15,000 VADA + 15,000 DIRT-T steps; the
#          paper ran 80,000 + 80,000), with the paper's optimiser, Adam at a constant 1e-3, batch 64 + 64, eager
#          step (dirt-t and Adam refuse the fast step). Not part of `all`;
#          a call that times out keeps its checkpoint under $OUT/dirt-t, and the same stage with --resume goes on.
# DEV=cpu QUICK=1 bash scripts/device_check.sh all   is the dry run of the same script on a CPU (tiny settings).
set -uo pipefail
what="${1:-all}"
OUT="${OUT:-/tmp/out}"
DEV="${DEV:-cuda}"
adam=(--set train.optimiser=adam --set train.lr.kind=constant --set train.lr.lr=0.001)
if [ -n "${QUICK:-}" ]; then
  steps=20; accuracy=(); dann=(--quick --seeds 0 --epochs 1 --steps-per-epoch 50); time_to=0
  finetune=(--quick --seeds 0 --labels-per-class 1,10 --pretrain-epochs 1 --finetune-steps 40)
  dirtt=(--quick --seeds 0 --epochs 2 --steps-per-epoch 10 "${adam[@]}")
else
  steps=500; accuracy=(--to-accuracy 0.75); dann=(--seeds 0,1,2 --methods dann,source-only,target-only); time_to=1
  finetune=(--seeds 0,1,2)
  dirtt=(--seeds 0 --epochs 30 --steps-per-epoch 1000 "${adam[@]}")
fi
mkdir -p "$OUT"
TL=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')/lib
export LD_LIBRARY_PATH="$TL:${LD_LIBRARY_PATH:-}"
S=./.device/shift
if missing=$(ldd "$S" | grep "not found"); then
  echo "device_check: $S cannot load its libraries (LD_LIBRARY_PATH=$TL):"; echo "$missing"; exit 1
fi
D="${SHIFT_DEVICE_DATA:-/tmp/shift-data}"
if [ ! -f "$D/mnist_m/.complete" ]; then
  rm -rf "$D" && mkdir -p "$D" && cp -r .device/data/mnist .device/data/bsds500 "$D/"
  $S data rebuild-mnist-m --data "$D" 2>&1 | tee "$OUT/rebuild.log" | tail -1
  # Test on the released MNIST-M test images (same labels and count as the rebuilt test split).
  rm -rf "$D/mnist_m/mnist_m_test" "$D/mnist_m/mnist_m_test_labels.txt"
  cp -r .device/data/mnist_m_test/* "$D/mnist_m/"
fi
$S info --self-test 2>&1 | tee "$OUT/info.txt"
if [ "$what" = bench ] || [ "$what" = all ]; then
  $S bench train --device "$DEV" --steps "$steps" --data "$D" "${accuracy[@]}" --json "$OUT/shift_bench.json" \
    2>&1 | tee "$OUT/shift_bench.txt"
  for i in 1 2 3; do
    python3 .device/reference_dann.py --mode speed --steps "$steps" --device "$DEV" 2>&1 | tee -a "$OUT/reference_speed.txt"
  done
  python3 .device/dann_peer.py --reference .device/reference_dann.py --mode speed --steps "$steps" --device "$DEV" \
    2>&1 | tee "$OUT/peer_speed.json"
  # The peer with cuDNN benchmarking too (shift's setting without --deterministic).
  python3 .device/dann_peer.py --reference .device/reference_dann.py --mode speed --steps "$steps" --device "$DEV" \
    --cudnn-benchmark 2>&1 | tee "$OUT/peer_speed_benchmark.json"
  if [ "$time_to" = 1 ]; then
    python3 .device/dann_peer.py --reference .device/reference_dann.py --mode time-to --target 0.75 --device "$DEV" \
      --mnist "$D/mnist" --mnistm "$D/mnist_m" 2>&1 | tee "$OUT/peer_time_to.json"
  fi
fi
if [ "$what" = dann ] || [ "$what" = all ]; then
  $S experiment dann --device "$DEV" "${dann[@]}" --step fast --data "$D" --out "$OUT/dann" 2>&1 \
    | grep -v '^\s*$' | tail -30 > "$OUT/dann.txt"
fi
if [ "$what" = finetune ]; then
  $S experiment finetune --device "$DEV" "${finetune[@]}" --step fast --data "$D" --out "$OUT/finetune" 2>&1 \
    | grep -v '^\s*$' | tail -30 > "$OUT/finetune.txt"
fi
if [ "$what" = dirt-t ]; then
  $S experiment dann --device "$DEV" --backbone vada-cnn-in --methods dirt-t "${dirtt[@]}" --data "$D" \
    --out "$OUT/dirt-t" --resume 2>&1 | grep -v '^\s*$' | tail -30 > "$OUT/dirt-t.txt"
fi
echo "==== summary ($(grep -m1 -i "nvidia\|cpu" "$OUT/info.txt" 2>/dev/null))"
grep "fast step (CUDA graph)" "$OUT/info.txt" 2>/dev/null
grep -E "^\| " "$OUT/shift_bench.txt" 2>/dev/null
grep "steps/s" "$OUT/reference_speed.txt" 2>/dev/null
cat "$OUT/peer_speed.json" "$OUT/peer_speed_benchmark.json" "$OUT/peer_time_to.json" 2>/dev/null | grep '^{'
cat "$OUT/dann/results.md" "$OUT/finetune/results.md" "$OUT/dirt-t/results.md" 2>/dev/null
grep -i "capture\|differs from the eager" "$OUT"/*.txt 2>/dev/null | sort -u | head -5
