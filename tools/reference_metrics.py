"""Matches CLIPSeg's `FixedIntervalMetrics` (timojl/clipseg `metrics.py`, `add` and `value`),
ported from torch to numpy, for the per-sample-class (PhraseCut-style) evaluation.

Deliberate differences, both documented in docs/parity/eval.md:
- CLIPSeg orders the de-duplicated (recall, precision) pairs with
  `sorted(set(pairs), key=lambda x: x[0])`: pairs with equal recall (equal tp, which is
  common once recall saturates) keep the arbitrary iteration order of a Python set, and
  Simpson's rule depends on that order. We sort by (recall, precision), the order CLIPSeg
  itself reports as `precision_recall_curve`. `clipseg_set_order_ap` keeps the literal
  code so the difference can be measured.
- With no positive prediction at any threshold CLIPSeg asserts; we return AP = None.

Predictions are float32 probabilities; the thresholds are float64 `linspace(0, 1, 51)[1:-1]`
compared as float32, as `torch_tensor > numpy_float64_scalar` does in CLIPSeg.
"""
import numpy as np
from scipy.integrate import simpson

THRESHOLDS = np.linspace(0, 1, 51)[1:-1]


def sample_counts(probabilities, mask):
    """tp, fp, fn, tn (int arrays over THRESHOLDS) of one sample, as `FixedIntervalMetrics.add`."""
    p = np.asarray(probabilities, dtype=np.float32).ravel()
    g = (np.asarray(mask).ravel() != 0).astype(np.int64)
    order = np.argsort(p, kind="stable")
    p, g = p[order], g[order]
    tps, fps, fns, tns = [], [], [], []
    for thresh in THRESHOLDS:
        valid = np.nonzero(p > np.float32(thresh))[0]
        n = int(valid[0]) if len(valid) > 0 else len(g)
        fn = int(g[:n].sum())
        tp = int(g[n:].sum())
        fns.append(fn)
        tns.append(n - fn)
        tps.append(tp)
        fps.append(len(g) - n - tp)
    return {"tp": np.array(tps), "fp": np.array(fps), "fn": np.array(fns), "tn": np.array(tns)}


def _iou(tp, fp, fn):
    return tp / (1 + tp + fp + fn)


def _pairs(summed):
    tp, fp, fn = summed["tp"], summed["fp"], summed["fn"]
    made = [j for j in range(len(THRESHOLDS)) if tp[j] + fp[j] > 0]
    recalls = [tp[j] / (1 + tp[j] + fn[j]) for j in made]
    precisions = [tp[j] / (1 + tp[j] + fp[j]) for j in made]
    return list(zip(recalls, precisions))


def summarize(samples):
    """`FixedIntervalMetrics.value` for a list of per-sample counts, each sample its own class."""
    summed = {k: np.sum([s[k] for s in samples], axis=0) for k in ("tp", "fp", "fn", "tn")}
    fgiou = [_iou(summed["tp"][j], summed["fp"][j], summed["fn"][j]) for j in range(len(THRESHOLDS))]
    miou = [float(np.mean([_iou(s["tp"][j], s["fp"][j], s["fn"][j]) for s in samples]))
            for j in range(len(THRESHOLDS))]
    curve = sorted(set(_pairs(summed)))
    ap = float(simpson([c[1] for c in curve], x=[c[0] for c in curve])) if curve else None
    index = {round(float(t), 2): i for i, t in enumerate(THRESHOLDS)}
    return {
        "ap": ap,
        "fgiou": [float(v) for v in fgiou],
        "miou": miou,
        "fgiou_0.3": float(fgiou[index[0.3]]), "fgiou_0.5": float(fgiou[index[0.5]]),
        "miou_0.3": miou[index[0.3]], "miou_0.5": miou[index[0.5]],
        "fgiou_best": float(max(fgiou)), "fgiou_best_t": float(THRESHOLDS[int(np.argmax(fgiou))]),
        "miou_best": max(miou), "miou_best_t": float(THRESHOLDS[int(np.argmax(miou))]),
        "pr_recall": [float(c[0]) for c in curve],
        "pr_precision": [float(c[1]) for c in curve],
        "summed": {k: [int(x) for x in v] for k, v in summed.items()},
    }


def clipseg_set_order_ap(samples):
    """AP with CLIPSeg's literal ordering: `sorted(set(pairs), key=recall)` (ties in set order)."""
    summed = {k: np.sum([s[k] for s in samples], axis=0) for k in ("tp", "fp", "fn")}
    pairs = _pairs(summed)
    if not pairs:
        return None
    recalls, precisions = zip(*sorted(list(set(pairs)), key=lambda x: x[0]))
    return float(simpson(precisions, x=recalls))
