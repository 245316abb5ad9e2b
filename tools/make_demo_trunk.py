"""Makes the demo's frozen trunk: the bundled tiny SD (models/tiny/sd-v1-tiny.safetensors: its
random UNet, unchanged) with a VAE encoder trained as an autoencoder on synthetic scenes, as SD's
own autoencoder was trained before SD, and its CLIP text encoder trained contrastively on the
scenes' phrases (tools/make_demo_text_encoder.py, run in a second process meanwhile), as CLIP was
trained before SD used it (docs/training.md, "The bundled demo model").

Why: a random VAE encoder's filters are mostly high-pass, so the flat colour of an object barely
reaches its latent, and the demo's phrases name colours. The trained encoder keeps colour; then
`zflow train` trains the tiny LD-ZNet on top of it (tools/train_demo.sh).

The autoencoder is diffusers' AutoencoderKL at the tiny size of models/tiny/sd-v1-tiny.json,
trained on random crops of the scenes as ZFlow's PrepareImage presents them (Lanczos-resized to
`--area`, values in [-1, 1]); loss: mean squared reconstruction error plus `--kl-weight` times
the mean KL of the diagonal Gaussian posterior (a sample is decoded, as in SD's training). Only
the encoder side is stored (ZFlow runs no decoder). `scaling_factor` is measured as SD's 0.18215
was: 1 / (standard deviation of the latent means over the training scenes).

Run: tools/.venv/bin/python tools/make_demo_trunk.py DATASET_DIR OUT.safetensors
     (DATASET_DIR from `zflow dataset synth`; deterministic for a seed on a given torch build)
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

TOOLS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import ldznet_layout as layout  # noqa: E402
import ldznet_pipeline as pipeline  # noqa: E402
from make_tiny_models import TINY  # noqa: E402

TINY_SD = TOOLS.parent / "models" / "tiny" / "sd-v1-tiny.safetensors"
TINY_SD_CONFIG = TOOLS.parent / "models" / "tiny" / "sd-v1-tiny.json"


def scene_pixels(dataset, area):
    """Every scene image of the dataset, Lanczos-resized to area x area, as [N, 3, area, area] in [-1, 1]."""
    paths = sorted((dataset / "images").glob("*.png"))
    if not paths:
        sys.exit(f"make_demo_trunk.py: no images in {dataset / 'images'} (make them with `zflow dataset synth`)")
    images = [np.asarray(Image.open(p).convert("RGB").resize((area, area), Image.LANCZOS)) for p in paths]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


def train(vae, pixels, args):
    generator = torch.Generator().manual_seed(args.seed)
    optimizer = torch.optim.Adam(vae.parameters(), lr=args.lr)
    if args.schedule == "cosine":  # to zero over the run: the reconstruction settles at the end of it
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps)
    count, _, height, width = pixels.shape
    start = time.time()
    for step in range(1, args.steps + 1):
        index = torch.randint(count, (args.batch,), generator=generator)
        top = torch.randint(height - args.crop + 1, (args.batch,), generator=generator)
        left = torch.randint(width - args.crop + 1, (args.batch,), generator=generator)
        batch = torch.stack([pixels[i, :, y:y + args.crop, x:x + args.crop] for i, y, x in zip(index, top, left)])
        posterior = vae.encode(batch).latent_dist
        latent = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=generator)
        reconstruction = vae.decode(latent).sample
        mse = (reconstruction - batch).square().mean()
        kl = posterior.kl().mean() / posterior.mean[0].numel()
        loss = mse + args.kl_weight * kl
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if args.schedule == "cosine":
            schedule.step()
        if step % 50 == 0 or step == args.steps:
            print(f"step {step}/{args.steps}: mse {mse.item():.5f} kl/element {kl.item():.3f} "
                  f"({time.time() - start:.0f} s)", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=pathlib.Path, help="a `zflow dataset synth` folder (its images/)")
    parser.add_argument("out", type=pathlib.Path, help="the trunk file to write (.safetensors; a .json sidecar beside it)")
    parser.add_argument("--area", type=int, default=192, help="the size PrepareImage gives the scenes (graph's area)")
    parser.add_argument("--crop", type=int, default=96)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--schedule", choices=["constant", "cosine"], default="constant")
    parser.add_argument("--kl-weight", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: the same numbers on any machine, and no OpenMP spinning on a busy one)")
    parser.add_argument("--text-steps", type=int, default=1500,
                        help="steps of tools/make_demo_text_encoder.py (its other options at their defaults, "
                             "the same --seed); 0 keeps the tiny SD's random text encoder")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    scratch = tempfile.TemporaryDirectory()
    text_encoder = pathlib.Path(scratch.name) / "text-encoder.safetensors"
    if args.text_steps > 0:
        text_training = subprocess.Popen([sys.executable, "-u", str(TOOLS / "make_demo_text_encoder.py"), str(TINY_SD),
                                          str(args.dataset), str(text_encoder), "--steps", str(args.text_steps),
                                          "--seed", str(args.seed)])
    pixels = scene_pixels(args.dataset, args.area)
    vae = pipeline.vae_module(TINY)
    train(vae, pixels, args)

    encoder = {k: v.half() for k, v in layout.compvis_vae_state_dict(vae).items()}
    vae.eval()
    for name, tensor in layout.compvis_vae_state_dict(vae).items():  # measure with the stored f16 values
        tensor.copy_(encoder[name].float().reshape(tensor.shape))
    with torch.no_grad():
        means = torch.cat([vae.encode(pixels[i:i + 16]).latent_dist.mean for i in range(0, len(pixels), 16)])
        shown = min(len(pixels), 200)  # how well the latent keeps the scene: whole scenes, decoded from the means
        mse = sum((vae.decode(means[i:i + 16]).sample - pixels[i:i + 16]).square().sum().item()
                  for i in range(0, shown, 16)) / pixels[:shown].numel()
    print(f"reconstruction mse of the latent means, {shown} whole scenes: {mse:.5f}", file=sys.stderr)
    scaling_factor = float(f"{1 / means.std().item():.5f}")

    tensors = {k: v for k, v in load_file(TINY_SD).items() if not k.startswith("first_stage_model.")}
    tensors.update({"first_stage_model." + k: v.contiguous() for k, v in encoder.items()})
    if args.text_steps > 0:
        if text_training.wait() != 0:
            sys.exit(f"make_demo_trunk.py: make_demo_text_encoder.py failed (exit code {text_training.returncode})")
        tensors.update(load_file(text_encoder))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, args.out)
    config = json.loads(TINY_SD_CONFIG.read_text())
    config["vae"]["scaling_factor"] = scaling_factor
    settings = {k: v for k, v in vars(args).items() if k not in ("dataset", "out")}
    text = ("its CLIP text encoder trained contrastively on the scenes' phrases by tools/make_demo_text_encoder.py"
            if args.text_steps > 0 else "its random CLIP text encoder")
    config["note"] = ("the bundled tiny SD's random UNet with a VAE encoder trained as an autoencoder on synthetic "
                      f"scenes by tools/make_demo_trunk.py, {json.dumps(settings)}, and {text}")
    args.out.with_suffix(".json").write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote {args.out}: latent std {means.std().item():.4f}, scaling_factor {scaling_factor}", file=sys.stderr)


if __name__ == "__main__":
    main()
