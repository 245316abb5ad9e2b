"""Whether the demo trunk's latents hold an object's colour (docs/training.md, "The bundled demo
model"): encodes each scene of a `zflow dataset synth` folder with the trunk's VAE encoder (the
latent means, as VAEEncode's `mean` mode), takes the mean latent under each "<colour> <shape>"
object's mask (area-weighted on the latent grid) and names its colour by leave-one-out nearest
centroid. Prints the accuracy and, per colour, what it was taken for.

    tools/.venv/bin/python tools/demo_latent_colours.py DATASET_DIR [--trunk models/demo/sd-v1-tiny-synth.safetensors]
"""
import argparse
import collections
import json
import pathlib
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

TOOLS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import ldznet_layout as layout  # noqa: E402
import ldznet_pipeline as pipeline  # noqa: E402


def load_encoder(trunk):
    config = json.loads(trunk.with_suffix(".json").read_text())
    tensors = load_file(trunk)
    vae = pipeline.vae_module(config)
    for part in ("encoder", "quant_conv"):  # CompVis stores the attention projections as 1x1 convs
        module = getattr(vae, part)
        module.load_state_dict({name: tensors["first_stage_model." + layout.compvis_vae_key(f"{part}.{name}")]
                                .reshape(tensor.shape).float() for name, tensor in module.state_dict().items()},
                               strict=True)
    return vae.eval()


def object_latents(vae, dataset):
    """(mean latent under the mask, colour) for every two-word phrase of the manifest."""
    lines = [json.loads(line) for line in (dataset / "manifest.jsonl").read_text().splitlines() if line.strip()]
    means, features, colours = {}, [], []
    for sample in lines:
        words = sample["phrase"].split()
        if len(words) != 2:
            continue
        if sample["image"] not in means:
            pixels = np.asarray(Image.open(dataset / sample["image"]).convert("RGB"), dtype=np.float32) / 127.5 - 1
            means[sample["image"]] = vae.quant_conv(vae.encoder(torch.from_numpy(pixels).permute(2, 0, 1)[None]))[0, :4]
        latent = means[sample["image"]]
        mask = np.asarray(Image.open(dataset / sample["mask"]).convert("L"), dtype=np.float32) / 255
        rows, columns = latent.shape[1:]
        coverage = torch.from_numpy(mask.reshape(rows, mask.shape[0] // rows, columns, mask.shape[1] // columns)
                                    .mean(axis=(1, 3)))
        if coverage.sum() < 0.5:
            continue
        features.append(((latent * coverage).sum(dim=(1, 2)) / coverage.sum()).numpy())
        colours.append(words[0])
    return np.stack(features), np.array(colours)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=pathlib.Path, help="a `zflow dataset synth` folder")
    parser.add_argument("--trunk", type=pathlib.Path, default=TOOLS.parent / "models/demo/sd-v1-tiny-synth.safetensors")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with torch.no_grad():
        features, colours = object_latents(load_encoder(args.trunk), args.dataset)
    names = sorted(set(colours))
    taken = collections.Counter()
    for i in range(len(features)):
        others = np.arange(len(features)) != i
        centroids = {name: features[(colours == name) & others].mean(axis=0) for name in names}
        taken[(colours[i], min(names, key=lambda name: np.sum((features[i] - centroids[name]) ** 2)))] += 1
    right = sum(count for (truth, guess), count in taken.items() if truth == guess)
    print(f"{len(features)} objects; nearest-centroid colour accuracy {right / len(features):.3f}")
    for name in names:
        print(f"  {name}: " + ", ".join(f"{guess} {taken[(name, guess)]}" for guess in names if taken[(name, guess)]))


if __name__ == "__main__":
    main()
