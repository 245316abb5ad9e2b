"""One full-size LD-ZNet training step on the OFFICIAL module, timed (issue 12): PyTorch's side of
`zflow-bench train-step`, run by tools/bench/alternate_train_step.py (docs/benchmarks.md, "Training
step, full size, 384x384").

    tools/.venv/bin/python tools/bench/train_step_torch.py --repo LD-ZNET-CHECKOUT   # or $LDZNET_REPO
        [--trainable all|fusion] [--checkpoint] [--steps 3] [--threads N] [--seed 0] [--weights FILE] [--json]
    tools/.venv/bin/python tools/bench/train_step_torch.py --repo ... --write-shapes tools/bench/ldznet-v1-shapes.json

The model is `ldm_seg.modules.diffusionmodules.ldznet_UNet.UNetModel` built with the `unet_config` of
the checkout's configs/ldznet/phrasecut.yaml (the SD v1 UNet: 320/640/1280, 8 heads, context 768;
its constructor's pool grids, 12/6/12/12/12 at taps 6-10), with the constructor's own seeded random
initialisation, or with --weights: ZNet's training copy `model.diffusion_model.*` in a safetensors
file (tools/parity/ldznet_grads_full.py's ldznet-full-weights.safetensors), as zflow-bench reads it.

Inputs, seeded: z [1, 4, 48, 48] (a 384x384 image), the text context [77, 768], the five SD taps at
latent 48 (random values: the frozen SD UNet that makes them runs before the step, not in it) and
a random 0/1 mask [1, 1, 384, 384]; t = 0 as `LatentSeg.forward`. A step: zero_grad(set_to_none),
forward, BCE-with-logits (mean), backward, `torch.optim.AdamW(lr=1e-5, weight_decay=0.01)` over the
--trainable parameters, selected by the same patterns (ZFlow's `KeyPattern` rule) as zflow-bench:
  all     every ZNet and pool parameter
  fusion  attn3, norm_sd, the attention pools and the head (out.*, final.*)
The first step is a warm-up, reported apart; the median is over the others.

--checkpoint is the official config's `use_checkpoint: True` (ZFlow's counterpart: --recompute): every
ResBlock and every transformer block (attn1, attn2, attn3, ff) recomputes its forward in backward.
Without it nothing does: the official transformer blocks checkpoint whatever `use_checkpoint` says
(their `checkpoint=True` default), so the script turns that flag off too. One adaptation: the
official `checkpoint` asks autograd for the gradient of every parameter of the block, which raises
for frozen ones ("One of the differentiated Tensors does not require grad": `fusion --checkpoint`
cannot train as released); the script passes it the trainable parameters only, which changes
nothing when all train.

stdout: a summary, or with --json one JSON object {side, cpu, setting, recompute, threads,
warmup_step_s, steps, median_step_s, losses, peak_rss_gb, trainable_parameters, trainable_tensors,
parameters, official_commit}; progress on stderr. --write-shapes writes the official module's
parameter shapes (keys as ZNet's training copy), the shapes zflow-bench draws its random weights for.
"""
import argparse
import fnmatch
import json
import os
import pathlib
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import yaml

TOOLS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOOLS / "fixtures"))
import official_code  # noqa: E402
from pipeline_shared import cpu_model  # noqa: E402

TRAINING = "model.diffusion_model."
LATENT = 48
# The SD v1 taps LD-ZNet fuses, at latent 48: (channels, side). Tap 6 is input_blocks.8 (level 2),
# tap 7 the middle block, taps 8-10 output_blocks.3-5 (level 2 again).
TAPS = {6: (1280, 12), 7: (1280, 6), 8: (1280, 12), 9: (1280, 12), 10: (1280, 12)}
# The same patterns as ZFlow's ZNetTrainableSet (Sources/ZFlowTraining/ZNetTrainingStep.swift).
TRAINABLE = {
    "all": [TRAINING + "**"],
    "fusion": [TRAINING + "**.attn3.**", TRAINING + "**.norm_sd.**", TRAINING + "**.attentionpool2D.**",
               TRAINING + "out.**", TRAINING + "final.**"],
}
START = time.perf_counter()


def progress(message):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"[{time.perf_counter() - START:7.1f} s, peak RSS {rss:.2f} GB] {message}", file=sys.stderr, flush=True)


def matches(pattern, key):
    """ZFlow's `KeyPattern` (Sources/ZFlowTrain/KeyPattern.swift): dot-separated segments; `**` is any
    number of whole segments, `*` any run of characters inside one segment."""
    def match(parts, segments):
        if not parts:
            return not segments
        if parts[0] == "**":
            return any(match(parts[1:], segments[index:]) for index in range(len(segments) + 1))
        return bool(segments) and fnmatch.fnmatchcase(segments[0], parts[0]) and match(parts[1:], segments[1:])
    return match(pattern.split("."), key.split("."))


def full_model(official, repo, checkpointing):
    """The official UNetModel with phrasecut.yaml's unet_config, recomputing blocks or not."""
    config = yaml.safe_load((repo / "configs" / "ldznet" / "phrasecut.yaml").read_text())
    params = dict(config["model"]["params"]["unet_config"]["params"], use_checkpoint=checkpointing)
    model = official.unet.UNetModel(**params)
    for module in model.modules():
        if isinstance(module, (official.attention.BasicTransformerBlock, official.ldznet_attention.BasicTransformerBlock)):
            module.checkpoint = checkpointing
    return model


def checkpoint_trainable_only(official):
    """The official `checkpoint`, given only the parameters that require a gradient (the docstring)."""
    released = official.util.checkpoint

    def checkpoint(func, inputs, params, flag):
        return released(func, inputs, [param for param in params if param.requires_grad], flag)

    for module in (official.unet, official.attention, official.ldznet_attention):
        module.checkpoint = checkpoint


def inputs(seed):
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(1, 4, LATENT, LATENT, generator=generator)
    context = torch.randn(1, 77, 768, generator=generator)
    taps = {tap: torch.randn(1, channels, side, side, generator=generator) for tap, (channels, side) in TAPS.items()}
    mask = (torch.rand(1, 1, 8 * LATENT, 8 * LATENT, generator=generator) > 0.5).float()
    return z, context, taps, mask


def write_shapes(official, repo, path):
    with torch.device("meta"):
        model = full_model(official, repo, checkpointing=True)
    lines = [f'    "{TRAINING}{name}": {list(param.shape)}' for name, param in sorted(model.named_parameters())]
    path.write_text('{\n  "official_commit": "' + official.commit + '",\n  "config": "configs/ldznet/phrasecut.yaml",\n'
                    '  "shapes": {\n' + ",\n".join(lines) + "\n  }\n}\n")
    progress(f"{len(lines)} parameter shapes -> {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=os.environ.get("LDZNET_REPO"), help="LD-ZNet checkout (default $LDZNET_REPO)")
    parser.add_argument("--trainable", choices=sorted(TRAINABLE), default="all")
    parser.add_argument("--checkpoint", action="store_true", help="the official use_checkpoint: True (see the docstring)")
    parser.add_argument("--steps", type=int, default=3, help="steps, the first a warm-up (default 3)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch threads (default: cores)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the inputs and the random initialisation")
    parser.add_argument("--weights", type=pathlib.Path, help="safetensors with ZNet's training copy model.diffusion_model.*")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--write-shapes", type=pathlib.Path, metavar="FILE", help="write the parameter shapes and stop")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.weights and not args.weights.is_file():
        parser.error(f"--weights {args.weights}: no such file")
    repo = official_code.official_repo([args.repo] if args.repo else [])
    official = official_code.Official(repo)
    if args.write_shapes:
        write_shapes(official, repo, args.write_shapes)
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.checkpoint:
        checkpoint_trainable_only(official)
    model = full_model(official, repo, args.checkpoint)
    if args.weights:
        from safetensors.torch import load_file
        stored = load_file(args.weights)
        missing = sorted(key for key in stored if not key.startswith(TRAINING))
        if missing:
            raise SystemExit(f"--weights {args.weights}: {len(missing)} key(s) outside {TRAINING}*, e.g. {missing[0]}")
        model.load_state_dict({key[len(TRAINING):]: value for key, value in stored.items()}, strict=True)
        del stored
    patterns = TRAINABLE[args.trainable]
    trainable = []
    for name, param in model.named_parameters():
        param.requires_grad_(any(matches(pattern, TRAINING + name) for pattern in patterns))
        if param.requires_grad:
            trainable.append(param)
    counts = {"trainable_parameters": sum(p.numel() for p in trainable), "trainable_tensors": len(trainable),
              "parameters": sum(p.numel() for p in model.parameters())}
    progress(f"official UNetModel at {official.commit}: {counts['parameters']:,} parameters; --trainable "
             f"{args.trainable} ({' '.join(patterns)}): {counts['trainable_tensors']} tensors, "
             f"{counts['trainable_parameters']:,} values; checkpointing {'on' if args.checkpoint else 'off'}; "
             f"{args.threads} threads")
    optimizer = torch.optim.AdamW(trainable, lr=1e-5, weight_decay=0.01)
    z, context, taps, mask = inputs(args.seed)

    seconds, losses = [], []
    for step in range(1, args.steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(official.logits(model, z, context, taps), mask)
        loss.backward()
        optimizer.step()
        seconds.append(time.perf_counter() - start)
        losses.append(loss.item())
        progress(f"step {step}{' (warm-up)' if step == 1 else ''}: {seconds[-1]:.3f} s, loss {losses[-1]:.6f}")

    timed = seconds[1:]
    result = {"side": "pytorch", "cpu": cpu_model(), "setting": args.trainable, "recompute": args.checkpoint,
              "threads": args.threads, "warmup_step_s": seconds[0], "steps": timed,
              "median_step_s": statistics.median(timed) if timed else None, "losses": losses,
              "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, **counts,
              "official_commit": official.commit}
    if args.json:
        print(json.dumps(result))
    else:
        median = f"{result['median_step_s']:.3f} s" if timed else "none (--steps 1: the warm-up only)"
        print(f"PyTorch {torch.__version__}, official LD-ZNet, --trainable {args.trainable}, checkpointing "
              f"{'on' if args.checkpoint else 'off'}, {args.threads} threads, {result['cpu']}\n"
              f"warm-up step {seconds[0]:.3f} s; timed steps {', '.join(f'{s:.3f}' for s in timed) or 'none'}; "
              f"median {median}\npeak RSS {result['peak_rss_gb']:.2f} GB; trainable {counts['trainable_parameters']:,} "
              f"values in {counts['trainable_tensors']} tensors of {counts['parameters']:,}")


if __name__ == "__main__":
    main()
