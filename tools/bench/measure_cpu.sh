#!/bin/bash
# Issue 11's measurements on this machine, in one command, for a CPU not measured before:
#
#   tools/bench/measure_cpu.sh WEIGHTS OUT [--rounds N] [--config full|tiny] [--skip-tune]
#
# WEIGHTS holds sd-v1-random.safetensors and ldznet-random.ckpt (tools/ldznet_pipeline.py --out
# WEIGHTS). --config tiny, a two-minute trial of this script: a folder made with
# `tools/ldznet_pipeline.py --config tiny --out WEIGHTS`, plus models/tiny/sd-v1-tiny.json and
# ldznet-tiny.json copied in as sd-v1-random.json and ldznet-random.json (the tiny models' configs);
# give it ZFLOW_TUNING_FILE=/tmp/trial.json so that the machine's tuning file is left alone.
# In this order, each step's output in OUT:
#   machine.txt      lscpu, the commit, load average
#   tune-*.txt       `zflow tune --reset` on examples/images/chelsea.png, then astronaut.jpg
#                    (kernels tuned from an empty file, as every table of docs/benchmarks.md)
#   steady-448.md, steady-384.md, cold-448.md (and cold-448-dropped.md when run as root):
#                    tools/bench/alternate_pipeline.py, PyTorch and ZFlow in alternating rounds
#   ops.txt, splits.txt   `zflow-bench ops --runs 5`, `zflow-bench splits`
# The release build must exist (swift build -c release), and tools/.venv (tools/setup-venv.sh).
# Run it on an otherwise idle machine; its steps took about 25 minutes at full size with 3 rounds
# on a Zen 5, run one by one.
set -euo pipefail

usage() { echo "usage: $0 WEIGHTS OUT [--rounds N] [--config full|tiny] [--skip-tune]" >&2; exit 2; }
[ $# -ge 2 ] || usage
weights=$(realpath "$1"); out=$2; shift 2
rounds=3; config=full; tune=yes
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) [ $# -ge 2 ] || usage; rounds=$2; shift 2 ;;
        --config) [ $# -ge 2 ] || usage; config=$2; shift 2 ;;
        --skip-tune) tune=no; shift ;;
        *) usage ;;
    esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
python=tools/.venv/bin/python
for needed in .build/release/zflow .build/release/zflow-bench "$python" "$weights/sd-v1-random.safetensors" \
              "$weights/ldznet-random.ckpt"; do
    [ -e "$needed" ] || { echo "$0: $needed is missing (see the comment at the top of this script)" >&2; exit 1; }
done
mkdir -p "$out"
say() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

{ lscpu; echo; echo "commit: $(git rev-parse HEAD)$(git diff --quiet || echo ' (uncommitted changes)')"
  echo "load average: $(cat /proc/loadavg)"; } > "$out/machine.txt"
say "$(grep -m1 'Model name' "$out/machine.txt")"

if [ $tune = yes ]; then
    reset=--reset
    for pair in chelsea.png:cat astronaut.jpg:astronaut; do
        say "zflow tune on ${pair%%:*}"
        .build/release/zflow tune graphs/ldznet.zflow $reset --set area=384 \
            --set "sd=$weights/sd-v1-random.safetensors" --set "ldznet=$weights/ldznet-random.ckpt" \
            --set "image=examples/images/${pair%%:*}" --set "prompt=${pair##*:}" \
            > "$out/tune-${pair%%:*}.txt" 2> "$out/tune-${pair%%:*}.err" \
            || { say "zflow tune failed: $out/tune-${pair%%:*}.err"; exit 1; }
        reset=
    done
fi

alternate() {  # NAME, then the driver's options
    local name=$1; shift
    say "alternate_pipeline.py $name"
    "$python" tools/bench/alternate_pipeline.py --weights "$weights" --config "$config" --rounds "$rounds" \
        --raw "$out/raw-$name" "$@" > "$out/$name.md" 2> "$out/$name.err" \
        || say "$name: some rounds failed (see $out/$name.err)"
}
alternate steady-448 --runs 3
alternate steady-384 --runs 3 --image examples/images/astronaut.jpg --prompt astronaut
alternate cold-448 --cold
if [ "$(id -u)" = 0 ]; then alternate cold-448-dropped --cold --drop-caches; fi

say "zflow-bench ops"
.build/release/zflow-bench ops --runs 5 > "$out/ops.txt" 2> "$out/ops.err"
say "zflow-bench splits"
.build/release/zflow-bench splits > "$out/splits.txt" 2> "$out/splits.err"
say "done: $out"
