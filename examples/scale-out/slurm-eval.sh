#!/bin/bash
# Evaluate a graph over a dataset as a Slurm job array: 8 shards, one per array task.
# Every task writes its own samples.shard-I-of-8.jsonl into the shared output folder and
# reads/writes the content-addressed disk cache on the shared filesystem; a dependent job
# merges the shards. Submit with:
#   jobid=$(sbatch --parsable examples/scale-out/slurm-eval.sh)
#   sbatch --dependency=afterok:$jobid --wrap "zflow merge results/phrasecut-test && zflow report results/phrasecut-test -o report.html"
#SBATCH --job-name=zflow-eval
#SBATCH --array=0-7
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=04:00:00
#SBATCH --output=logs/zflow-eval-%A_%a.out
set -euo pipefail

SHARDS=8
zflow eval graphs/ldznet.zflow \
    --dataset data/phrasecut/test/manifest.jsonl \
    --set sd=models/sd-v1-4.ckpt --set ldznet=models/ldznet.ckpt \
    --output results/phrasecut-test \
    --cache-dir /shared/zflow-cache \
    --concurrency "$SLURM_CPUS_PER_TASK" \
    --shard "$SLURM_ARRAY_TASK_ID/$SHARDS"
