"""Full-size whole-model gradient reference for LD-ZNet (by hand, not CI): one training step of
the OFFICIAL `ldm_seg.modules.diffusionmodules.ldznet_UNet.UNetModel` at the SD v1 size of
configs/ldznet/phrasecut.yaml (320/640/1280, 8 heads, context 768, `use_checkpoint: True`), against
which `FullSizeGradientParityTests` checks ZFlow's gradients (docs/parity.md "Full size, one step").

Run (from the repository root; ~12 GB RAM, ~6 GB disk, a few minutes on 2 cores):
    tools/.venv/bin/python tools/parity/ldznet_grads_full.py --repo LD-ZNET-CHECKOUT   # or $LDZNET_REPO
    ZFLOW_LDZNET_FULL_GRADS=$PWD/parity-work/ldznet-grads-full/reference.safetensors \\
        swift test --filter FullSizeGradientParityTests

The official module is built at full size as the constructor builds it (no adaptation needed:
SD v1's 32 GroupNorm groups and channel multiplier 4 are what the code hard-codes), with the
seeded random weights of tools/ldznet_pipeline.py (`ref.randomize_for_tests`, seed FULL znet,
f16-exact: the EMA copy of its ldznet-random.ckpt). Inputs, seeded: z [1, 4, 32, 32] (a 256x256
image), CLIP-like context randn [77, 768], the five SD taps of the full-size random SD UNet of
ldznet_pipeline.py (seed FULL unet) on z_t = add_noise(z, noise, t = 400), a random 0/1 mask
[1, 1, 256, 256]; loss = BCE-with-logits (mean), the ZNet at t = 0 as `LatentSeg.forward`.

Writes into --out (gitignored parity-work/ by default):
  ldznet-full-weights.safetensors   the ZNet as ZFlow's training copy `model.diffusion_model.*`, f16
  reference.safetensors             `input/<name>` (Float32; the mask U8), `loss`, and `grad/<key>`:
                                    the gradient of every parameter (Float64 autograd, stored Float32),
                                    with metadata: `weights` (the file above), `float32Errors` (JSON,
                                    max |g32 - g| / max |g| of PyTorch's own Float32 autograd per key),
                                    `float32Loss`, `settings`, `official_commit`, `peak_rss_gb`, `cpu`
The Float64 run takes the three adaptations of tools/fixtures/official_ldznet.py (`in_dtype`); the
pools' softmax stays Float32 as the official `QKVAttention` computes it. Each parameter's gradient
is taken by a post-accumulate hook as it arrives and the parameter's own .grad dropped, so that
the Float64 gradients never all live at once.
"""
import argparse
import json
import pathlib
import resource
import sys
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

TOOLS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOOLS))
sys.path.insert(0, str(TOOLS / "fixtures"))
import ldznet_layout as layout  # noqa: E402
import ldznet_pipeline as pipeline  # noqa: E402
import ldznet_reference as ref  # noqa: E402
import official_ldznet  # noqa: E402
from bench.pipeline_shared import cpu_model  # noqa: E402

FULL = pipeline.FULL
TRAINING = "model.diffusion_model."
SETTINGS = {"latent": [32, 32], "timestep": 400, "seed": 41, "loss": "bce_with_logits mean"}
WEIGHTS_FILE = "ldznet-full-weights.safetensors"
DEFAULT_OUT = TOOLS.parent / "parity-work" / "ldznet-grads-full"
START = time.perf_counter()


def progress(message):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"[{time.perf_counter() - START:7.1f} s, peak RSS {rss:.1f} GB] {message}", file=sys.stderr, flush=True)


def inputs():
    """z, context, mask and the SD taps on the noised latent (the frozen SD UNet, Float32)."""
    generator = torch.Generator().manual_seed(SETTINGS["seed"])
    h, w = SETTINGS["latent"]
    z = torch.randn(1, 4, h, w, generator=generator)
    context = torch.randn(77, FULL["unet"]["cross_attention_dim"], generator=generator)
    noise = torch.randn(1, 4, h, w, generator=generator)
    mask = (torch.rand(1, 1, 8 * h, 8 * w, generator=generator) > 0.5).float()
    unet = ref.randomize_for_tests(pipeline.sd_unet_module(FULL), FULL["seeds"]["unet"]).eval()
    z_t = pipeline.add_noise(z, noise, SETTINGS["timestep"])
    with torch.no_grad():
        taps, _ = ref.sd_taps(unet, z_t, SETTINGS["timestep"], context[None], stop_after_last_tap=True)
    values = {"z": z, "context": context, "mask": mask}
    values.update({f"tap{tap}": feature.contiguous() for tap, feature in taps.items()})
    return values


def official_full_model(official):
    """The official UNetModel with phrasecut.yaml's unet_config."""
    u = FULL["unet"]
    width = u["block_out_channels"][0]
    return official.unet.UNetModel(
        image_size=32, in_channels=4, out_channels=1, model_channels=width, attention_resolutions=[4, 2, 1],
        num_res_blocks=u["layers_per_block"], channel_mult=[c // width for c in u["block_out_channels"]],
        num_heads=u["attention_head_dim"], use_spatial_transformer=True, transformer_depth=1,
        context_dim=u["cross_attention_dim"], use_checkpoint=True, legacy=False).eval()


def random_weights():
    """ldznet_pipeline's seeded ZNet weights under their CompVis names (f16-exact Float32)."""
    port = ref.randomize_for_tests(pipeline.znet_module(FULL), FULL["seeds"]["znet"])
    return {layout.compvis_unet_key(k): v for k, v in port.diffusers_state_dict().items()}


def loaded(official, weights_file, dtype):
    """The official model with the weights of `weights_file` (read for each run: holding them
    beside a model would cost another 3.4 GB)."""
    model = official_full_model(official)
    stored = load_file(weights_file)
    model.load_state_dict({k[len(TRAINING):]: v for k, v in stored.items()}, strict=True)
    del stored
    return official.in_dtype(model, dtype)


def one_step(official, weights_file, values, dtype, on_gradient):
    """Forward + backward in `dtype`; `on_gradient(key, grad)` receives each parameter's gradient
    (by checkpoint key) as autograd accumulates it, and the parameter's .grad is dropped."""
    model = loaded(official, weights_file, dtype)
    seen = set()

    def hook_for(key):
        def hook(param):
            if key in seen:
                raise SystemExit(f"{key}: a second gradient arrived (a shared parameter?)")
            seen.add(key)
            on_gradient(key, param.grad)
            param.grad = None
        return hook

    for name, param in model.named_parameters():
        param.register_post_accumulate_grad_hook(hook_for(TRAINING + name))
    taps = {tap: values[f"tap{tap}"].to(dtype) for tap in ref.LDZNET_POSITIONS}
    logits = official.logits(model, values["z"].to(dtype), values["context"][None].to(dtype), taps)
    loss = F.binary_cross_entropy_with_logits(logits, values["mask"].to(dtype))
    progress(f"{dtype} forward: logits {list(logits.shape)}, max |logit| {logits.abs().max().item():.3g}, "
             f"loss {loss.item():.6f}")
    loss.backward()
    missing = [TRAINING + name for name, _ in model.named_parameters() if TRAINING + name not in seen]
    if missing:
        raise SystemExit(f"no gradient for {len(missing)} parameter(s): {missing[:8]}")
    progress(f"{dtype} backward: {len(seen)} gradients")
    return loss.detach()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", help="LD-ZNet checkout (default $LDZNET_REPO)")
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    torch.set_num_threads(2)
    official = official_ldznet.Official(official_ldznet.official_repo([args.repo] if args.repo else []))
    progress(f"official LD-ZNet at {official.commit}")
    args.out.mkdir(parents=True, exist_ok=True)

    values = inputs()
    progress("inputs: " + ", ".join(f"{k} {list(v.shape)}" for k, v in values.items()))
    weights_file = args.out / WEIGHTS_FILE
    weights = random_weights()
    save_file({TRAINING + k: v.half().contiguous() for k, v in weights.items()}, str(weights_file))
    progress(f"{len(weights)} tensors, {sum(v.numel() for v in weights.values()) / 1e6:.1f} M values -> {weights_file}")
    del weights

    reference = {}
    loss = one_step(official, weights_file, values, torch.float64,
                    lambda key, grad: reference.__setitem__(key, grad.float()))
    float32_errors = {}

    def float32_error(key, grad):
        exact = reference[key]
        peak = exact.abs().max().item()
        float32_errors[key] = (grad - exact).abs().max().item() / (peak or 1.0)

    float32_loss = one_step(official, weights_file, values, torch.float32, float32_error)

    tensors = {f"input/{k}": (v.to(torch.uint8) if k == "mask" else v.float()).contiguous() for k, v in values.items()}
    tensors["loss"] = loss.float().reshape(1)
    tensors.update({f"grad/{k}": v.contiguous() for k, v in reference.items()})
    metadata = {"weights": WEIGHTS_FILE, "float32Errors": json.dumps(float32_errors, sort_keys=True),
                "float32Loss": repr(float32_loss.item()), "settings": json.dumps(SETTINGS),
                "official_commit": official.commit, "cpu": cpu_model(),
                "peak_rss_gb": f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.1f}"}
    save_file(tensors, str(args.out / "reference.safetensors"), metadata=metadata)
    worst = max(float32_errors.items(), key=lambda item: item[1])
    progress(f"reference.safetensors: loss {loss.item():.6f} (Float32 {float32_loss.item():.6f}), "
             f"{len(reference)} gradients; PyTorch Float32 worst {worst[1]:.3g} of max |ref| ({worst[0]})")


if __name__ == "__main__":
    main()
