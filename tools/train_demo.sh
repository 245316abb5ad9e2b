#!/usr/bin/env bash
# The attempt at a demo model (NOT good enough yet, so not bundled: docs/training.md, "The bundled
# demo model"). Trains models/tiny/ldznet-demo.safetensors: the tiny LD-ZNet
# (models/tiny/ldznet-tiny.safetensors as the starting point, cross-attention fusion) on synthetic
# scenes, with the bundled tiny SD (random weights) as its frozen trunk and text encoder; then
# scores it on 200 scenes of another seed. Deterministic for a given machine's kernels.
#
#   tools/train_demo.sh              # WORK=demo-work ZFLOW=.build/release/zflow STEPS=9000
#
# Writes: models/tiny/ldznet-demo.safetensors (+ .json sidecar; the training copy and the EMA,
# no optimizer state), models/tiny/ldznet-demo.log.jsonl (the training log),
# models/tiny/ldznet-demo.eval.json (eval summary on the held-out scenes); the run folder and
# the datasets stay in $WORK.
set -euo pipefail
cd "$(dirname "$0")/.."
ZFLOW=${ZFLOW:-.build/release/zflow}
WORK=${WORK:-demo-work}
STEPS=${STEPS:-9000}
[ -x "$ZFLOW" ] || { echo "train_demo.sh: no zflow binary at $ZFLOW (swift build -c release, or set ZFLOW)" >&2; exit 2; }

"$ZFLOW" dataset synth --count 400 --size 64 --seed 1 -o "$WORK/train" --overwrite --quiet
"$ZFLOW" dataset synth --count 200 --size 64 --seed 2 -o "$WORK/val" --overwrite --quiet

start=$(date +%s)
"$ZFLOW" train graphs/ldznet.zflow --set area=192 --set ldznet=models/tiny/ldznet-tiny.safetensors \
    --dataset "$WORK/train/manifest.jsonl" -o "$WORK/run" --steps "$STEPS" \
    --optimizer adamw --lr 2e-3 --weight-decay 0.01 --pos-weight 2 --ema-decay 0.999 \
    --checkpoint-every 1000 --memory-only --overwrite
echo "train_demo.sh: trained $STEPS steps in $(( $(date +%s) - start )) s on $(lscpu | sed -n 's/^Model name: *//p')" >&2

"$ZFLOW" convert "$WORK/run/last.safetensors" models/tiny/ldznet-demo.safetensors \
    --only 'model.diffusion_model.**' --only 'model_ema.**'
cp "$WORK/run/last.json" models/tiny/ldznet-demo.json
cp "$WORK/run/log.jsonl" models/tiny/ldznet-demo.log.jsonl

"$ZFLOW" eval graphs/ldznet.zflow --set area=192 --set ldznet=models/tiny/ldznet-demo.safetensors \
    --dataset "$WORK/val/manifest.jsonl" -o "$WORK/eval" --memory-only --overwrite --quiet
cp "$WORK/eval/summary.json" models/tiny/ldznet-demo.eval.json
