#!/usr/bin/env python3
"""Mean IoU by kind of phrase of a `zflow eval` run on a synthetic set (`zflow dataset synth`).

    tools/phrase_breakdown.py EVAL_DIR/samples.jsonl MANIFEST [--threshold 0.5]

Reads each sample's pixel counts at the threshold (samples.jsonl `counts`, one entry per threshold
of the protocol's 0.02 ... 0.98) and prints, per kind of phrase ("<colour> <shape>", "the largest
<shape>", "... on the left / right", "... above ..."), the number of samples, their mean IoU,
precision and recall, and how many fall in each IoU band; then the mean IoU per colour and per
shape of the "<colour> <shape>" phrases. The figures in docs/training.md ("The bundled demo
model") come from it. Standard library only.
"""
import argparse
import json
from collections import defaultdict

BANDS = [0, 0.1, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0001]


def kind(phrase):
    if len(phrase.split()) == 2:
        return "<colour> <shape>"
    if "largest" in phrase:
        return "the largest <shape>"
    if " on the left" in phrase or " on the right" in phrase:
        return "on the left / right"
    return "above / below"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", help="samples.jsonl of a zflow eval run")
    parser.add_argument("manifest", help="the manifest it evaluated (for the phrases' ids)")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    index = round(args.threshold / 0.02) - 1
    if not 0 <= index < 49 or abs((index + 1) * 0.02 - args.threshold) > 1e-9:
        parser.error(f"--threshold {args.threshold} is not one of the protocol's 0.02, 0.04, ..., 0.98")
    phrases = {json.loads(line)["id"]: json.loads(line)["phrase"] for line in open(args.manifest) if line.strip()}
    groups, words = defaultdict(list), defaultdict(list)
    for line in open(args.samples):
        record = json.loads(line)
        if record["id"] not in phrases:
            raise SystemExit(f"{args.samples}: sample '{record['id']}' is not in {args.manifest}")
        counts = record["counts"]
        tp, fp, fn = counts["tp"][index], counts["fp"][index], counts["fn"][index]
        iou = tp / max(tp + fp + fn, 1)
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        phrase = phrases[record["id"]]
        groups[kind(phrase)].append((iou, precision, recall))
        groups["all"].append((iou, precision, recall))
        if kind(phrase) == "<colour> <shape>":
            for word in phrase.split():
                words[word].append(iou)
    print(f"IoU at threshold {args.threshold}; bands: " + " ".join(f"{b:g}" for b in BANDS[:-1]))
    for name, rows in groups.items():
        mean = [sum(column) / len(rows) for column in zip(*rows)]
        bands = [sum(BANDS[i] <= row[0] < BANDS[i + 1] for row in rows) for i in range(len(BANDS) - 1)]
        print(f"{name:22} {len(rows):4} samples  IoU {mean[0]:.3f}  precision {mean[1]:.3f}  recall {mean[2]:.3f}  bands {bands}")
    print("  ".join(f"{word} {sum(v) / len(v):.3f} ({len(v)})" for word, v in sorted(words.items())))


if __name__ == "__main__":
    main()
