"""Full-size parity and timing reference for ZFlow's SD v1 UNet and VAE encoder (by hand, not CI).

The real SD v1.4 UNet and VAE architectures (diffusers configs of CompVis/stable-diffusion-v1-4,
written out below: no download) with seeded random weights.

  build  DIR   write DIR/unet, DIR/vae (diffusers folders, f32) and DIR/io.safetensors with the
               inputs and PyTorch's outputs at 384x384: VAE mean/logvar, eps, taps 1-16
  bench  DIR   time PyTorch (2 threads, warm-up + median of 3): VAE encode, UNet full forward,
               UNet stopped after tap 10
  one    DIR   component: run one component once (for /usr/bin/time -v peak memory)

Run: tools/.venv/bin/python tools/parity/sd_full.py build /tmp/sd-full
Then: .build/release/zflow-bench models --weights /tmp/sd-full
"""
import json
import os
import statistics
import sys
import time

sys.modules["torchvision"] = None  # the venv's torchvision build is broken; diffusers does not need it

import torch
from safetensors.torch import load_file, save_file
from diffusers import AutoencoderKL, UNet2DConditionModel

UNET_CONFIG = dict(
    sample_size=64, in_channels=4, out_channels=4, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32, norm_eps=1e-5,
    flip_sin_to_cos=True, freq_shift=0, downsample_padding=1, act_fn="silu", center_input_sample=False,
)
VAE_CONFIG = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    norm_num_groups=32, sample_size=512, act_fn="silu",
)
SIZE = 384
TIMESTEP = 400


def build_models():
    torch.manual_seed(1234)  # default PyTorch inits: GroupNorm/LayerNorm keep activations O(1)
    return UNet2DConditionModel(**UNET_CONFIG).eval(), AutoencoderKL(**VAE_CONFIG).eval()


def save_folder(model, folder):
    os.makedirs(folder, exist_ok=True)
    config = {k: v for k, v in dict(model.config).items() if not k.startswith("_")}
    config["_class_name"] = type(model).__name__
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              os.path.join(folder, "diffusion_pytorch_model.safetensors"))


def inputs():
    g = torch.Generator().manual_seed(7)
    image = torch.rand(1, 3, SIZE, SIZE, generator=g) * 2 - 1
    latent = torch.randn(1, 4, SIZE // 8, SIZE // 8, generator=g)
    context = torch.randn(1, 77, 768, generator=g)
    return image, latent, context


class StopAfterTap(Exception):
    pass


def transformer_modules(unet):
    modules = [a for b in unet.down_blocks for a in getattr(b, "attentions", [])]
    modules += list(unet.mid_block.attentions)
    modules += [a for b in unet.up_blocks for a in getattr(b, "attentions", []) or []]
    return modules


def run_unet(unet, latent, context, stop_after=None, keep=True):
    taps = []

    def hook(_module, _inputs, output):
        if keep:
            taps.append(output[0].detach().clone())
        else:
            taps.append(None)
        if stop_after is not None and len(taps) == stop_after:
            raise StopAfterTap()

    hooks = [m.register_forward_hook(hook) for m in transformer_modules(unet)]
    eps = None
    try:
        with torch.no_grad():
            eps = unet(latent, torch.tensor([TIMESTEP]), encoder_hidden_states=context).sample
    except StopAfterTap:
        pass
    finally:
        for h in hooks:
            h.remove()
    return eps, taps


def load(directory):
    unet = UNet2DConditionModel(**UNET_CONFIG)
    unet.load_state_dict(load_file(os.path.join(directory, "unet", "diffusion_pytorch_model.safetensors")))
    vae = AutoencoderKL(**VAE_CONFIG)
    vae.load_state_dict(load_file(os.path.join(directory, "vae", "diffusion_pytorch_model.safetensors")))
    return unet.eval(), vae.eval()


def build(directory):
    torch.set_num_threads(2)
    unet, vae = build_models()
    save_folder(unet, os.path.join(directory, "unet"))
    save_folder(vae, os.path.join(directory, "vae"))
    image, latent, context = inputs()
    with torch.no_grad():
        posterior = vae.encode(image).latent_dist
    eps, taps = run_unet(unet, latent, context)
    io = {"image": image, "latent": latent, "context": context[0], "timestep": torch.tensor([float(TIMESTEP)]),
          "vae_mean": posterior.mean, "vae_logvar": posterior.logvar, "eps": eps}
    for i, tap in enumerate(taps, start=1):
        io[f"tap.{i}"] = tap
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(directory, "io.safetensors"))
    print(f"wrote {directory}: {len(taps)} taps; max|eps| {eps.abs().max():.3f}, "
          f"max|mean| {posterior.mean.abs().max():.3f}, max|tap 10| {taps[9].abs().max():.3f}")


def timed(fn, runs=3):
    """Median wall and process-CPU seconds after a warm-up (CPU time is what compares on a shared machine)."""
    fn()
    walls, cpus = [], []
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu_start)
    return statistics.median(walls), statistics.median(cpus)


def bench(directory):
    torch.set_num_threads(2)
    unet, vae = load(directory)
    image, latent, context = inputs()
    with torch.no_grad():
        vae_time = timed(lambda: vae.encode(image).latent_dist.mean)
    full = timed(lambda: run_unet(unet, latent, context, keep=False))
    early = timed(lambda: run_unet(unet, latent, context, stop_after=10, keep=False))
    for name, (wall, cpu) in (("VAE encode", vae_time), ("UNet full forward", full),
                              ("UNet stopped after tap 10", early)):
        print(f"  pytorch {torch.__version__} threads=2 {SIZE}x{SIZE} {name}: {wall:.3f} s wall, {cpu:.3f} s CPU")


def one(directory, component):
    torch.set_num_threads(2)
    unet, vae = load(directory)
    image, latent, context = inputs()
    start = time.perf_counter()
    if component == "vae":
        del unet
        with torch.no_grad():
            vae.encode(image)
    else:
        del vae
        run_unet(unet, latent, context, stop_after=10 if component == "unet-tap10" else None, keep=False)
    print(f"{component}: {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    command, directory = sys.argv[1], sys.argv[2]
    if command == "build":
        build(directory)
    elif command == "bench":
        bench(directory)
    elif command == "one":
        one(directory, sys.argv[3])
    else:
        sys.exit(f"unknown command {command}")
