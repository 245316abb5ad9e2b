"""Where PyTorch's time goes in the LD-ZNet pipeline, by kind of op: the reference for
`zflow-bench pipeline --op-times` (docs/benchmarks.md, "Where the time goes").

    tools/.venv/bin/python tools/bench/op_times_torch.py [--config full|tiny] [--image P] [--prompt T] [--runs N]

Runs `tools/ldznet_pipeline.py --time-only`'s pipeline (the same seeded models built in memory,
the SD UNet stopped after tap 10) and times every module with forward hooks. A module's time
goes to its kind ("conv 3x3", "linear", "group norm", "attention", ...) minus the time of the
modules inside it, so the kinds add up and never overlap: an attention module's own time is
its products and softmax without its q/k/v/out projections, as ZFlow's `attention` op is. The
own time of container modules (ResNet blocks, transformer blocks: their additions, reshapes,
time embedding) is listed by class; the stage's time outside every module last. Prints, per
stage, the median seconds per run of each kind over --runs runs after a warm-up, as JSON.
Hooks cost some microseconds per module call: the stage totals run a little above
ldznet_pipeline.py --time-only's.

    tools/.venv/bin/python tools/bench/op_times_torch.py --compare TORCH.json ZFLOW.txt

prints the two side by side as a Markdown table per stage, in the groups of GROUPS (ZFLOW.txt:
the output of `zflow-bench pipeline --op-times` on the same weights and image).
"""
import argparse
import collections
import json
import pathlib
import statistics
import sys
import time

import torch

TOOLS = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))
import ldznet_pipeline as pipeline  # noqa: E402

# ZFlow's node names for the pipeline's stages (pools and ZNet are one module in PyTorch).
STAGES = {"vae_encode": "z", "clip_text": "text", "sd_unet": "sd_taps", "znet": "pooled + logits"}
ACTIVATIONS = ("SiLU", "GELU", "GEGLU", "QuickGELUActivation", "GELUActivation", "Mish")
ATTENTIONS = ("Attention", "CrossAttention", "CLIPAttention", "CLIPSdpaAttention", "MemoryEfficientCrossAttention")


def kind(module):
    """The op kind a module's own time counts as, in ZFlow's labels where one matches."""
    name = type(module).__name__
    if isinstance(module, torch.nn.Conv2d):
        (kh, kw), (stride, _) = module.kernel_size, module.stride
        return f"conv {kh}x{kw}" + (f" stride {stride}" if stride > 1 else "")
    if isinstance(module, torch.nn.ConvTranspose2d):
        return "conv-transpose"
    if isinstance(module, torch.nn.Linear) or (isinstance(module, torch.nn.Conv1d) and module.kernel_size == (1,)):
        return "linear"  # the attention pools' 1x1 Conv1d projections are linears in ZFlow
    if isinstance(module, torch.nn.GroupNorm):
        return "group norm"
    if isinstance(module, torch.nn.LayerNorm):
        return "layer norm"
    if isinstance(module, torch.nn.Embedding):
        return "embedding"
    if name in ACTIVATIONS:
        return "activation"
    if name in ATTENTIONS:
        return "attention"
    return f"own time of {name}"


class ModuleClock:
    """Forward hooks on every module of the models: each call's time minus its children's."""

    def __init__(self, roots):
        self.totals = collections.defaultdict(float)
        self.stack = []  # [start, children's seconds]
        for root in roots:
            for module in root.modules():
                module.register_forward_pre_hook(self.enter)
                module.register_forward_hook(self.leave)
        self.roots = set(map(id, roots))

    def enter(self, module, _inputs):
        if id(module) in self.roots:
            # A root starts a model's forward: entries left by a forward that raised (the SD UNet is
            # stopped after tap 10 by an exception) are dropped.
            self.stack = []
        self.stack.append([time.perf_counter(), 0.0])

    def leave(self, module, _inputs, _output):
        start, children = self.stack.pop()
        elapsed = time.perf_counter() - start
        self.totals[kind(module)] += elapsed - children
        if self.stack:
            self.stack[-1][1] += elapsed

    def take(self):
        totals, self.totals = dict(self.totals), collections.defaultdict(float)
        return totals


# Op kinds grouped for the comparison: ZFlow fuses GroupNorm with the SiLU after it, so norms and
# activations are one group; whatever is neither a product nor a norm is "the rest".
GROUPS = {
    "conv 3x3": ["conv 3x3"],
    "other convolutions": ["conv 1x1", "conv 3x3 stride 2", "conv-transpose"],
    "linear and matmul": ["linear", "matmul"],
    "attention (products and softmax)": ["attention", "softmax"],
    "norms and activations": ["group norm", "group norm + SiLU", "layer norm", "activation"],
}


def group_of(label):
    return next((group for group, labels in GROUPS.items() if label in labels), "the rest")


def read_zflow(path):
    """`zflow-bench pipeline --op-times` output -> {node: {label: seconds}} (fixed columns)."""
    stages, inside = collections.defaultdict(dict), False
    for line in pathlib.Path(path).read_text().splitlines():
        if line.startswith("op times"):
            inside = True
        elif inside and line.startswith("  "):
            node, label, seconds = line[2:28].strip(), line[28:50].strip(), float(line[50:].split()[0])
            stages[node][label] = seconds
        elif inside:
            inside = False
    return stages


def compare(torch_path, zflow_path):
    torch_stages = json.loads(pathlib.Path(torch_path).read_text())["stages"]
    zflow = read_zflow(zflow_path)
    zflow["pooled + logits"] = collections.Counter(zflow.get("pooled", {})) + collections.Counter(zflow.get("logits", {}))
    for node, reference in torch_stages.items():
        groups = list(GROUPS) + ["the rest"]
        ours = collections.Counter()
        for label, seconds in zflow.get(node, {}).items():
            ours[group_of(label)] += seconds
        theirs = collections.Counter()
        for label, seconds in reference["ops"].items():
            theirs[group_of(label)] += seconds
        print(f"\n{node} (PyTorch {reference['seconds']:.3f} s, ZFlow {sum(ours.values()):.3f} s)\n")
        print("| op group | PyTorch s | ZFlow s | ZFlow / PyTorch |")
        print("|---|---|---|---|")
        for group in groups:
            ratio = f"{ours[group] / theirs[group]:.2f}" if theirs[group] > 0.005 else "-"
            print(f"| {group} | {theirs[group]:.3f} | {ours[group]:.3f} | {ratio} |")


def one_run(models, config, photo, params, clock):
    """Seconds per stage (ZFlow's node names) and, within each, per op kind."""
    ops_by_stage = {}

    def around_stage(stage, fn):
        clock.take()
        value = fn()
        ops_by_stage[stage] = clock.take()
        return value

    _, timings = pipeline.timed_pipeline(models, config, photo, params, stop_after_last_tap=True,
                                         around_stage=around_stage)
    result = {}
    for stage, node in STAGES.items():
        ops = ops_by_stage[stage]
        # A forward stopped by an exception (the SD UNet after tap 10) leaves the modules then in
        # flight uncounted: their own time shows as outside modules.
        ops["outside modules"] = timings[stage] - sum(ops.values())
        result[node] = {"seconds": timings[stage], "ops": ops}
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=["full", "tiny"], default="full")
    parser.add_argument("--image", type=pathlib.Path, default=None,
                        help="photo (default examples/images/chelsea.png: 448x256; a square one gives 384x384)")
    parser.add_argument("--prompt", default=pipeline.PIPELINE["prompt"])
    parser.add_argument("--runs", type=int, default=3, help="timed runs after a warm-up (medians reported)")
    parser.add_argument("--compare", nargs=2, metavar=("TORCH_JSON", "ZFLOW_TXT"),
                        help="print an earlier run of this script beside `zflow-bench pipeline --op-times`'s output")
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    torch.set_grad_enabled(False)
    config = pipeline.FULL if args.config == "full" else __import__("make_tiny_models").TINY
    params = {**pipeline.PIPELINE, "prompt": args.prompt}
    photo = args.image or pipeline.bundled_photo()
    models = pipeline.build_models(config)
    clock = ModuleClock(list(models.values()))
    one_run(models, config, photo, params, clock)  # warm-up
    runs = [one_run(models, config, photo, params, clock) for _ in range(args.runs)]
    report = {"cpu": pipeline.cpu_model(), "threads": torch.get_num_threads(), "runs": args.runs, "stages": {}}
    for node in STAGES.values():
        kinds = sorted({k for run in runs for k in run[node]["ops"]})
        ops = {k: statistics.median(run[node]["ops"].get(k, 0.0) for run in runs) for k in kinds}
        report["stages"][node] = {"seconds": statistics.median(run[node]["seconds"] for run in runs),
                                  "ops": dict(sorted(ops.items(), key=lambda item: -item[1]))}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
