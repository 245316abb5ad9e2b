"""Derives models/tiny/ldznet-concat-tiny.safetensors from models/tiny/ldznet-tiny.safetensors:
the same UNTRAINED ZNet body, with concat fusion weights instead of the attention pools and attn3
(docs/ldznet-reference.md, "concat fusion"). concat_proj starts as [I | 0] plus seeded noise, so
the concat model stays close to ZNet. Both copies (model.diffusion_model.* and the EMA copy
model_ema.*, names without dots) get the weights, as in the official layout.

Run: tools/.venv/bin/python tools/make_tiny_concat_model.py   (deterministic, seconds)
"""
import json
import pathlib
import shutil

import torch
from safetensors.torch import load_file, save_file

TINY = pathlib.Path(__file__).resolve().parent.parent / "models" / "tiny"
POSITIONS = ["input_blocks.8.1", "middle_block.1", "output_blocks.3.1", "output_blocks.4.1", "output_blocks.5.1"]
ATTENTION_FUSION_PARTS = ["attentionpool2D", "transformer_blocks.0.attn3", "transformer_blocks.0.norm_sd"]


def ema_name(training_key):
    return "model_ema." + training_key[len("model."):].replace(".", "")


def main():
    state = load_file(TINY / "ldznet-tiny.safetensors")
    dropped = [f"model.diffusion_model.{p}.{part}" for p in POSITIONS for part in ATTENTION_FUSION_PARTS]
    dropped += [ema_name(prefix + ".x")[:-1] for prefix in dropped]
    state = {k: v for k, v in state.items() if not any(k.startswith(prefix) for prefix in dropped)}
    generator = torch.Generator().manual_seed(15)
    for position in POSITIONS:
        embedding = f"model.diffusion_model.{position}.norm.weight"  # the transformer's GroupNorm: C channels
        channels = state[embedding].shape[0]
        weight = torch.cat([torch.eye(channels), torch.zeros(channels, channels)], dim=1)
        weight += 0.05 * torch.randn(channels, 2 * channels, generator=generator)
        bias = 0.01 * torch.randn(channels, generator=generator)
        for name, value in [("weight", weight[:, :, None, None]), ("bias", bias)]:
            key = f"model.diffusion_model.{position}.concat_proj.{name}"
            state[key] = value.half()
            state[ema_name(key)] = value.half()
    save_file(dict(sorted(state.items())), TINY / "ldznet-concat-tiny.safetensors")
    config = json.loads((TINY / "ldznet-tiny.json").read_text())
    config["fusion"] = "concat"
    config.pop("pool_grid_sizes", None)
    (TINY / "ldznet-concat-tiny.json").write_text(json.dumps(config, indent=2) + "\n")


if __name__ == "__main__":
    main()
