"""Trains the demo trunk's CLIP text encoder on the synthetic scenes' phrases, contrastively against
a small image encoder, as CLIP was trained on image-text pairs before SD used it (docs/training.md,
"The bundled demo model").

Why: the bundled tiny SD's random text encoder gives every prompt nearly the same 77 outputs
(the padding and end-of-text positions, 70 of the 77 that ZNet's cross-attention reads, differ by
cos 0.999 between phrases), so a ZNet trained on it segments objects but not the one the phrase
names. Trained so, every output position carries the phrase.

Pairs: (the templated phrase, its scene with the phrase's mask). The image side is a small CNN on
the scene at 64 x 64 with the mask and two coordinate channels (so "left", "above" and "largest"
can be matched); the text side is the mean over CLIP's 77 last-hidden-state vectors (the final
LayerNorm's output, what CLIPTextEncode gives ZNet), then a linear projection. Loss: CLIP's
symmetric cross-entropy over the batch's cosine similarities with a learned temperature, where a
pair's targets are every pair with the same text or the same mask of the same scene. A batch holds
every phrase of `--scenes` scenes, so a scene's phrases are each other's negatives. Only the text
encoder is stored (f16, under the trunk's `cond_stage_model.transformer.text_model.*` keys, nothing
else); the image encoder and the projections are thrown away. tools/make_demo_trunk.py runs this
beside its autoencoder training and puts the result in the trunk.

Run: tools/.venv/bin/python tools/make_demo_text_encoder.py TRUNK.safetensors DATASET_DIR OUT.safetensors
     (TRUNK: the SD file whose text encoder starts the training, with its .json sidecar; DATASET_DIR
     from `zflow dataset synth`; deterministic for a seed on a given torch build)
"""
import argparse
import json
import pathlib
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file

TOOLS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import ldznet_pipeline as pipeline  # noqa: E402

IMAGE_SIZE = 64


class PairImageEncoder(torch.nn.Module):
    """Scene RGB + the phrase's mask + x and y coordinates -> an embedding."""

    def __init__(self, width, out):
        super().__init__()
        layers, channels = [], 6
        for _ in range(4):  # 64 -> 4
            layers += [torch.nn.Conv2d(channels, width, 3, stride=2, padding=1), torch.nn.GroupNorm(8, width),
                       torch.nn.SiLU()]
            channels = width
        self.body = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(width * 16, out)

    def forward(self, x):
        return self.head(self.body(x).flatten(1))


def load_pairs(dataset, template):
    """Every manifest line as (scene index, mask [64, 64], token ids), plus the scene pixels."""
    lines = [json.loads(line) for line in (dataset / "manifest.jsonl").read_text().splitlines() if line.strip()]
    if not lines:
        sys.exit(f"make_demo_text_encoder.py: {dataset / 'manifest.jsonl'} has no samples")
    scene_index, scenes = {}, []
    for line in lines:
        if line["image"] not in scene_index:
            scene_index[line["image"]] = len(scenes)
            image = Image.open(dataset / line["image"]).convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
            scenes.append(np.asarray(image, dtype=np.float32) / 127.5 - 1)
    masks = np.stack([np.asarray(Image.open(dataset / line["mask"]).convert("L").resize(
        (IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR), dtype=np.float32) / 255 for line in lines])
    tokens = torch.tensor([pipeline.clip_tokens(template.format(line["phrase"])) for line in lines])
    return {
        "scene": torch.tensor([scene_index[line["image"]] for line in lines]),
        "mask_id": [(line["image"], line["mask"]) for line in lines],
        "text": [line["phrase"] for line in lines],
        "pixels": torch.from_numpy(np.stack(scenes)).permute(0, 3, 1, 2),
        "masks": torch.from_numpy(masks)[:, None],
        "tokens": tokens,
    }


def image_inputs(pairs, rows):
    coordinates = torch.linspace(-1, 1, IMAGE_SIZE)
    y, x = torch.meshgrid(coordinates, coordinates, indexing="ij")
    grid = torch.stack([x, y])[None].expand(len(rows), -1, -1, -1)
    return torch.cat([pairs["pixels"][pairs["scene"][rows]], pairs["masks"][rows] * 2 - 1, grid], dim=1)


def targets(pairs, rows):
    """Row i's positives: the pairs with the same text, or the same mask of the same scene."""
    rows = rows.tolist()
    same = torch.tensor([[float(pairs["text"][i] == pairs["text"][j] or pairs["mask_id"][i] == pairs["mask_id"][j])
                          for j in rows] for i in rows])
    return same / same.sum(dim=1, keepdim=True)


def train(clip, pairs, args):
    generator = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    width = clip.config.hidden_size
    images = PairImageEncoder(args.image_width, width)
    text_projection = torch.nn.Linear(width, width, bias=False)
    log_scale = torch.nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))
    parameters = list(clip.parameters()) + list(images.parameters()) + list(text_projection.parameters()) + [log_scale]
    optimizer = torch.optim.Adam(parameters, lr=args.lr)
    by_scene = {}
    for row, scene in enumerate(pairs["scene"].tolist()):
        by_scene.setdefault(scene, []).append(row)
    scene_count = len(by_scene)
    start = time.time()
    for step in range(1, args.steps + 1):
        chosen = torch.randperm(scene_count, generator=generator)[:args.scenes].tolist()
        rows = torch.tensor([row for scene in chosen for row in by_scene[scene]])
        text = clip(input_ids=pairs["tokens"][rows]).last_hidden_state.mean(dim=1)
        text = F.normalize(text_projection(text), dim=-1)
        image = F.normalize(images(image_inputs(pairs, rows)), dim=-1)
        logits = log_scale.clamp(max=np.log(100)).exp() * image @ text.T
        target = targets(pairs, rows)
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0 or step == args.steps:
            accuracy = (target[torch.arange(len(rows)), logits.argmax(dim=1)] > 0).float().mean()
            print(f"step {step}/{args.steps}: loss {loss.item():.4f}, image->text top-1 {accuracy.item():.3f} "
                  f"({time.time() - start:.0f} s)", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trunk", type=pathlib.Path, help="the trunk whose text encoder starts the training (.safetensors + .json)")
    parser.add_argument("dataset", type=pathlib.Path, help="a `zflow dataset synth` folder (manifest.jsonl, images/, masks/)")
    parser.add_argument("out", type=pathlib.Path, help="the .safetensors file to write (the text encoder's keys only)")
    parser.add_argument("--template", default="a photo of a {}.", help="the graph's CLIPTextEncode template")
    parser.add_argument("--scenes", type=int, default=32, help="scenes per batch (each with all its phrases)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--image-width", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the same numbers on any machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = json.loads(args.trunk.with_suffix(".json").read_text())
    tensors = load_file(args.trunk)
    clip = pipeline.clip_module(config)
    names = [name for name in clip.state_dict() if not name.endswith("position_ids")]  # a buffer files lack
    absent = [pipeline.clip_file_key(name) for name in names if pipeline.clip_file_key(name) not in tensors]
    if absent:
        sys.exit(f"make_demo_text_encoder.py: {args.trunk} has no text encoder tensor {absent[0]} ({len(absent)} absent)")
    clip.load_state_dict({name: tensors[pipeline.clip_file_key(name)].float() for name in names}, strict=False)
    pairs = load_pairs(args.dataset, args.template)
    print(f"{len(pairs['text'])} phrases of {len(pairs['pixels'])} scenes", file=sys.stderr)
    clip.train()
    train(clip, pairs, args)

    trained = {pipeline.clip_file_key(name): tensor.half().contiguous()
               for name, tensor in clip.state_dict().items() if not name.endswith("position_ids")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(trained, args.out)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
