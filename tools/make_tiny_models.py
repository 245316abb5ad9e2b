"""Generates models/tiny/: small UNTRAINED random-weight models for the README demo and the
Swift end-to-end test, plus the PyTorch reference outputs of the whole LD-ZNet pipeline.

Run: tools/.venv/bin/python tools/make_tiny_models.py   (deterministic, ~1 min CPU)

Files (all weights f16; see models/tiny/README.md and docs/ldznet-reference.md):
  sd-v1-tiny.safetensors    CompVis single-file layout: model.diffusion_model.* (UNet),
                            first_stage_model.{encoder,quant_conv}.* (VAE encoder side only),
                            cond_stage_model.transformer.text_model.* (CLIP text, vocab 49408)
  sd-v1-tiny.json           the architecture of each component as diffusers/transformers configs
  ldznet-tiny.ckpt          LD-ZNet Lightning checkpoint, official layout (model.diffusion_model.*
                            training copy + model_ema.* inference copy with different values)
  ldznet-tiny.safetensors   the same state_dict as safetensors
  ldznet-tiny.json          the ZNet architecture + stored pool grid sizes
  Tests/ZFlowModelsTests/Fixtures/ldznet/pipeline_tiny.safetensors
                            reference outputs for the bundled photo, prompt "a cat", t=400, seed 0
"""
import json
import pathlib
import sys

import torch

TOOLS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import ldznet_pipeline as pipeline  # noqa: E402

OUT = TOOLS.parent / "models" / "tiny"
PIPELINE_OUT = TOOLS.parent / "Tests" / "ZFlowModelsTests" / "Fixtures" / "ldznet" / "pipeline_tiny.safetensors"

TINY = {
    "unet": {"block_out_channels": [16, 16, 16, 32], "layers_per_block": 2, "attention_head_dim": 8,
             "norm_num_groups": 8, "cross_attention_dim": 24},
    "vae": {"block_out_channels": [16, 16, 32, 32], "layers_per_block": 2, "norm_num_groups": 8,
            "latent_channels": 4, "scaling_factor": 0.18215},
    "text_encoder": {"vocab_size": 49408, "hidden_size": 24, "intermediate_size": 96, "num_hidden_layers": 2,
                     "num_attention_heads": 4, "max_position_embeddings": 77, "hidden_act": "quick_gelu",
                     "layer_norm_eps": 1e-5},
    "pool_grid_sizes": {6: 12, 7: 6, 8: 12, 9: 12, 10: 12},  # as trained at 384^2 (latent 48)
    "seeds": {"unet": 11, "vae": 12, "clip": 13, "znet": 14},
}
NOTE = "untrained random weights for smoke tests (tools/make_tiny_models.py)"


def calibrate_head(znet, outputs):
    """Rescales the last conv (final.12) so that the bundled photo's logits have std ~2 and
    roughly half of the pixels pass the 0.5 threshold: a demo mask that is neither empty nor
    full, with few pixels near the threshold. Returns the logits of the rescaled model."""
    logits = outputs["logits"]
    scale = 2.0 / logits.std()
    last = znet.final[12]
    with torch.no_grad():
        last.weight.copy_((last.weight * scale).half().float())
        last.bias.copy_(((last.bias - torch.quantile(logits.flatten(), 0.5)) * scale).half().float())
    taps = {tap: outputs[f"sd_tap{tap}"] for tap in pipeline.ref.LDZNET_POSITIONS}
    return znet(outputs["z"], outputs["context"][None], taps)


def write_configs(config=TINY, out=OUT, sd_name="sd-v1-tiny", ldznet_name="ldznet-tiny"):
    """The sidecars `<sd_name>.json` and `<ldznet_name>.json` of models of `config`, in `out`."""
    unet = config["unet"]
    sd_config = {
        "unet": {**unet, "in_channels": 4, "out_channels": 4,
                 "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
                 "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3},
        "vae": {**config["vae"], "in_channels": 3, "down_block_types": ["DownEncoderBlock2D"] * 4,
                "stored_parts": ["encoder", "quant_conv"]},
        "text_encoder": config["text_encoder"],
        "note": NOTE,
    }
    (out / f"{sd_name}.json").write_text(json.dumps(sd_config, indent=2) + "\n")
    ldznet_config = {"unet": {**unet, "in_channels": 4, "out_channels": 1}, "fusion": "cross_attention",
                     "pool_grid_sizes": {str(k): v for k, v in config["pool_grid_sizes"].items()}, "note": NOTE}
    (out / f"{ldznet_name}.json").write_text(json.dumps(ldznet_config, indent=2) + "\n")


def main():
    torch.set_grad_enabled(False)
    OUT.mkdir(parents=True, exist_ok=True)
    models = pipeline.build_models(TINY)
    photo = pipeline.bundled_photo()
    outputs, metadata, _ = pipeline.run(models, TINY, photo)
    outputs["logits"] = calibrate_head(models["znet"], outputs)
    metadata["weights"] = "models/tiny/sd-v1-tiny.safetensors + models/tiny/ldznet-tiny.ckpt (model_ema)"
    pipeline.save_outputs(outputs, metadata, PIPELINE_OUT)
    pipeline.save_sd_single_file(models, OUT / "sd-v1-tiny.safetensors")
    pipeline.save_ldznet(models["znet"], OUT / "ldznet-tiny.ckpt", OUT / "ldznet-tiny.safetensors")
    write_configs()

    for key, value in outputs.items():
        print(f"{key:18s} {list(value.shape)} mean {value.float().mean():+.3f} std {value.float().std():.3f}")
    print("text:", metadata["text"])
    print("mask foreground fraction:", (torch.sigmoid(outputs["logits"]) > 0.5).float().mean().item())
    total = sum(path.stat().st_size for path in OUT.iterdir())
    print(f"models/tiny total {total / 1e6:.2f} MB, {PIPELINE_OUT.name} {PIPELINE_OUT.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
