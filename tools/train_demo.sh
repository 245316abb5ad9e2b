#!/usr/bin/env bash
# Trains the bundled demo model (models/demo/, docs/training.md "The bundled demo model"):
#   1. only with TRUNK=train: the trunk, the bundled tiny SD (models/tiny/sd-v1-tiny.safetensors)
#      with its VAE encoder trained as an autoencoder on synthetic scenes and its CLIP text encoder
#      trained contrastively on their phrases, in two processes at once (tools/make_demo_trunk.py
#      and tools/make_demo_text_encoder.py, PyTorch: SD's autoencoder and CLIP were trained before
#      SD, and LD-ZNet trains on a frozen SD; its random UNet stays as it is). By default the
#      script keeps models/demo's trunk, which this step made (the same bytes when retrained);
#   2. the tiny LD-ZNet (models/tiny/ldznet-tiny.safetensors' architecture with 2 attention heads
#      instead of 8, cross-attention fusion), trained by `zflow train` in two stages on that frozen
#      trunk at area 192, batches of 4 in a seeded shuffled order (the manifest lists a scene's
#      phrases one after another) in which relational phrases come three times as often, each
#      batch as two shares of two computed at once (--workers 2: this small model's ops gain
#      nothing from being split over the cores):
#      a. BCE from PyTorch's default initialisation with the head started as an upsampler
#         (--head-init upsampler), 6,000 steps: the relations are learned here;
#      b. from the first stage's EMA, BCE + Dice (--dice-weight 1) with fresh AdamW state, 4,000
#         steps: sharper masks once the relations are learned (Dice from the start marks both
#         twins of a left/right phrase). FIRST=PATH skips stage a and starts b from PATH's EMA;
#   3. `zflow eval` on 200 scenes of another seed.
# Deterministic for a given machine's kernels (the trunk: for a given torch build).
#
#   tools/train_demo.sh                  # WORK=demo-work ZFLOW=.build/release/zflow PYTHON=tools/.venv/bin/python
#   TRUNK=train tools/train_demo.sh      # retrain the trunk first
#   FIRST=first.safetensors tools/train_demo.sh   # only the second stage, from that first stage
#
# Writes models/demo/: ldznet-synth.safetensors (+ .json; training copy and EMA, no optimizer
# state), the stages' training logs ldznet-synth.first.log.jsonl (not with FIRST) and
# ldznet-synth.log.jsonl, and ldznet-synth.eval.json (the eval summary); with TRUNK=train also
# sd-v1-tiny-synth.safetensors (+ .json) and its training log trunk.log.
# Datasets and the run folders stay in $WORK.
set -euo pipefail
cd "$(dirname "$0")/.."
ZFLOW=${ZFLOW:-.build/release/zflow}
PYTHON=${PYTHON:-tools/.venv/bin/python}
WORK=${WORK:-demo-work}
FIRST=${FIRST:-train}
TRUNK=${TRUNK:-reuse}
OUT=models/demo
[ -x "$ZFLOW" ] || { echo "train_demo.sh: no zflow binary at $ZFLOW (swift build -c release, or set ZFLOW)" >&2; exit 2; }
[ -x "$PYTHON" ] || { echo "train_demo.sh: no Python at $PYTHON (bash tools/setup-venv.sh, or set PYTHON)" >&2; exit 2; }
[ "$FIRST" = train ] || [ -f "$FIRST" ] || { echo "train_demo.sh: FIRST must be train or a first-stage checkpoint, and there is no file $FIRST" >&2; exit 2; }
mkdir -p "$OUT"
cpu=$(lscpu | sed -n 's/^Model name: *//p')

"$ZFLOW" dataset synth --count 2000 --size 192 --seed 1 -o "$WORK/train" --overwrite --quiet
"$ZFLOW" dataset synth --count 200 --size 192 --seed 2 -o "$WORK/val" --overwrite --quiet
# The training order: every sample, and each relational phrase ("the largest ring", "the star on the
# left": more than two words) twice more under ids ending -r1 and -r2, shuffled by random.Random(0).
"$PYTHON" -c 'import json, random, sys
samples = []
for line in open(sys.argv[1]).read().splitlines():
    sample = json.loads(line)
    samples.append(json.dumps(sample))
    if len(sample["phrase"].split()) > 2:
        samples += [json.dumps({**sample, "id": sample["id"] + f"-r{k}"}) for k in (1, 2)]
random.Random(0).shuffle(samples)
open(sys.argv[2], "w").write("\n".join(samples) + "\n")' "$WORK/train/manifest.jsonl" "$WORK/train/training-order.jsonl"

start=$(date +%s)
case "$TRUNK" in
    reuse)
        [ -f "$OUT/sd-v1-tiny-synth.safetensors" ] || { echo "train_demo.sh: no trunk at $OUT/sd-v1-tiny-synth.safetensors (TRUNK=train makes it)" >&2; exit 2; }
        echo "train_demo.sh: keeping the trunk $OUT/sd-v1-tiny-synth.safetensors (trunk.log has its training; TRUNK=train retrains it)" >&2 ;;
    train)
        "$PYTHON" -u tools/make_demo_trunk.py "$WORK/train" "$OUT/sd-v1-tiny-synth.safetensors" \
            --area 192 --crop 64 --batch 8 --steps 8000 --schedule cosine --lr 1e-3 --kl-weight 1e-3 --text-steps 1500 --seed 0 \
            2> >(tee "$OUT/trunk.log" >&2) ;;
    *) echo "train_demo.sh: TRUNK must be reuse or train, not '$TRUNK'" >&2; exit 2 ;;
esac
trunk_seconds=$(( $(date +%s) - start ))

# The architecture: models/tiny's with 2 attention heads (of 8 and 16 channels) instead of 8 heads of 2 and 4.
cp models/tiny/ldznet-tiny.safetensors "$WORK/ldznet-start.safetensors"
sed 's/"attention_head_dim": 8,/"attention_head_dim": 2,/' models/tiny/ldznet-tiny.json > "$WORK/ldznet-start.json"
grep -q '"attention_head_dim": 2,' "$WORK/ldznet-start.json" || { echo "train_demo.sh: models/tiny/ldznet-tiny.json has no attention_head_dim 8 to change" >&2; exit 1; }

# Both stages: the same graph, frozen trunk, training order, batches and optimizer family.
train() {
    "$ZFLOW" train graphs/ldznet.zflow --set area=192 --set sd="$OUT/sd-v1-tiny-synth.safetensors" \
        --set ldznet="$WORK/ldznet-start.safetensors" \
        --dataset "$WORK/train/training-order.jsonl" --batch 4 --workers 2 --seed 0 --optimizer adamw \
        --schedule cosine --weight-decay 0.01 --checkpoint-every 500 --memory-only --overwrite "$@"
}
start=$(date +%s)
if [ "$FIRST" = train ]; then
    train -o "$WORK/first" --steps 6000 --init random --head-init upsampler --lr 2e-3 --warmup 200 --ema-decay 0.999 --pos-weight 2
    cp "$WORK/first/log.jsonl" "$OUT/ldznet-synth.first.log.jsonl"
    FIRST="$WORK/first/last.safetensors"
fi
first_seconds=$(( $(date +%s) - start ))
start=$(date +%s)
train -o "$WORK/run" --steps 4000 --init "$FIRST" --init-copy ema --dice-weight 1 --pos-weight 2 --lr 1e-3 --warmup 100 --ema-decay 0.998
second_seconds=$(( $(date +%s) - start ))
trunk_time=$([ "$TRUNK" = train ] && echo "${trunk_seconds} s" || echo "kept")
echo "train_demo.sh: trunk ${trunk_time}, LD-ZNet first stage ${first_seconds} s, second ${second_seconds} s on ${cpu}" >&2

"$ZFLOW" convert "$WORK/run/last.safetensors" "$OUT/ldznet-synth.safetensors" \
    --only 'model.diffusion_model.**' --only 'model_ema.**'
"$PYTHON" -c 'import json, sys; config = json.load(open(sys.argv[1]))
config["note"] = "the demo LD-ZNet trained by zflow train on synthetic scenes (tools/train_demo.sh, models/demo/README.md)"
open(sys.argv[2], "w").write(json.dumps(config, indent=2) + "\n")' "$WORK/run/last.json" "$OUT/ldznet-synth.json"
cp "$WORK/run/log.jsonl" "$OUT/ldznet-synth.log.jsonl"

"$ZFLOW" eval graphs/ldznet.zflow --set sd="$OUT/sd-v1-tiny-synth.safetensors" \
    --set ldznet="$OUT/ldznet-synth.safetensors" --set area=192 \
    --dataset "$WORK/val/manifest.jsonl" -o "$WORK/eval" --memory-only --overwrite --quiet
cp "$WORK/eval/summary.json" "$OUT/ldznet-synth.eval.json"
