"""Generates models/tiny/: small UNTRAINED random-weight models for the README demo and the
Swift end-to-end test, plus the PyTorch reference outputs of the whole LD-ZNet pipeline.

Run: /work/main/tools/.venv/bin/python tools/make_tiny_models.py   (deterministic, ~1 min CPU)

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
import hashlib
import importlib.util
import json
import pathlib
import sys

import numpy as np
import torch
from PIL import Image

TOOLS = pathlib.Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))
sys.path.insert(0, str(TOOLS / "fixtures"))
import ldznet_layout as layout  # noqa: E402
import ldznet_reference as ref  # noqa: E402
from ldznet import add_noise, alphas_cumprod, training_copy  # noqa: E402  (tools/fixtures/ldznet.py)
from safetensors.torch import save_file  # noqa: E402
from diffusers import AutoencoderKL  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModel  # noqa: E402

OUT = ROOT / "models" / "tiny"
PIPELINE_OUT = ROOT / "Tests" / "ZFlowModelsTests" / "Fixtures" / "ldznet" / "pipeline_tiny.safetensors"

UNET = {"block_out_channels": [16, 16, 16, 32], "layers_per_block": 2, "attention_head_dim": 8,
        "norm_num_groups": 8, "cross_attention_dim": 24}
VAE = {"block_out_channels": [16, 16, 32, 32], "layers_per_block": 2, "norm_num_groups": 8,
       "latent_channels": 4, "scaling_factor": 0.18215}
CLIP = {"vocab_size": 49408, "hidden_size": 24, "intermediate_size": 96, "num_hidden_layers": 2,
        "num_attention_heads": 4, "max_position_embeddings": 77, "hidden_act": "quick_gelu",
        "layer_norm_eps": 1e-5}
POOL_GRID_SIZES = {6: 12, 7: 6, 8: 12, 9: 12, 10: 12}  # as trained at 384^2 (latent 48)
SEEDS = {"unet": 11, "vae": 12, "clip": 13, "znet": 14}
PIPELINE = {"prompt": "a cat", "template": "a photo of a {}.", "timestep": 400, "seed": 0,
            "area": 384, "multiple": 64, "vae_mode": "mean"}


def unet_args():
    return (UNET["block_out_channels"], UNET["cross_attention_dim"], UNET["attention_head_dim"], UNET["norm_num_groups"])


def tiny_vae():
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=tuple(VAE["block_out_channels"]),
                        layers_per_block=VAE["layers_per_block"], latent_channels=4,
                        norm_num_groups=VAE["norm_num_groups"], scaling_factor=VAE["scaling_factor"])
    return ref.randomize_for_tests(vae, SEEDS["vae"]).eval()


def tiny_clip():
    torch.manual_seed(SEEDS["clip"])
    model = CLIPTextModel(CLIPTextConfig(**CLIP)).eval()
    generator = torch.Generator().manual_seed(SEEDS["clip"])
    with torch.no_grad():  # embeddings ~ N(0, 1) so the text features are O(1) and token-dependent
        for name, param in model.named_parameters():
            if "embedding" in name:
                param.copy_(torch.randn(param.shape, generator=generator).half().float())
            else:
                param.copy_(param.half().float())
    return model


def clip_tokens(text):
    """SD v1's CLIPTokenizer behaviour: BPE of the cleaned lower-cased text, <|startoftext|> ...
    <|endoftext|>, truncated to 77, padded with <|endoftext|> (49407). Uses open_clip's BPE file."""
    spec = importlib.util.find_spec("open_clip")
    package = pathlib.Path(spec.origin).parent
    loader = importlib.util.spec_from_file_location("open_clip_tokenizer", package / "tokenizer.py")
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    bpe = module.SimpleTokenizer()
    ids = [49406] + bpe.encode(text)[:75] + [49407]
    return ids + [49407] * (77 - len(ids))


def bundled_photo():
    """examples/images/chelsea.png if present, else the same photo from scikit-image."""
    local = ROOT / "examples" / "images" / "chelsea.png"
    if local.exists():
        return local
    import skimage
    return pathlib.Path(skimage.__file__).parent / "data" / "chelsea.png"


def prepared_size(height, width, area, multiple):
    """Spec section 1: keep the aspect ratio, area ~ area^2, sides floored to a multiple."""
    ratio = height / width
    new_w = int((area * area / ratio) ** 0.5)
    new_h = int(ratio * new_w)
    return new_h // multiple * multiple, new_w // multiple * multiple


def prepare_image(path):
    image = Image.open(path).convert("RGB")
    h, w = prepared_size(image.height, image.width, PIPELINE["area"], PIPELINE["multiple"])
    pixels = np.asarray(image.resize((w, h), Image.LANCZOS), dtype=np.float32)  # uint8 values
    pixels = torch.from_numpy(pixels).permute(2, 0, 1)[None].contiguous()
    return pixels, pixels / 255.0 * 2 - 1


def calibrated_logits(znet, z, context, taps):
    """Rescales the last conv (final.12) so that the bundled photo's logits have std ~2 and
    roughly half of the pixels pass the 0.5 threshold: a demo mask that is neither empty nor
    full, with few pixels near the threshold. Returns the logits of the rescaled model."""
    logits = znet(z, context, taps)
    scale = 2.0 / logits.std()
    last = znet.final[12]
    with torch.no_grad():
        last.weight.copy_((last.weight * scale).half().float())
        last.bias.copy_(((last.bias - torch.quantile(logits.flatten(), 0.5)) * scale).half().float())
    return znet(z, context, taps)


def sd_single_file(unet, vae, clip):
    tensors = {"model.diffusion_model." + layout.compvis_unet_key(k): v for k, v in unet.state_dict().items()}
    tensors.update({"first_stage_model." + k: v for k, v in layout.compvis_vae_state_dict(vae).items()})
    for name, tensor in clip.state_dict().items():  # transformers 5 drops the `text_model.` level
        if not name.endswith("position_ids"):
            name = name if name.startswith("text_model.") else "text_model." + name
            tensors["cond_stage_model.transformer." + name] = tensor
    return {k: v.half().contiguous() for k, v in tensors.items()}


def save_ldznet(znet):
    ema = {layout.compvis_unet_key(k): v for k, v in znet.diffusers_state_dict().items()}
    ckpt = layout.lightning_checkpoint({k: v.half() for k, v in ema.items()},
                                       {k: v.half() for k, v in training_copy(ema).items()})
    torch.save(ckpt, OUT / "ldznet-tiny.ckpt")
    save_file(ckpt["state_dict"], OUT / "ldznet-tiny.safetensors")
    config = {"unet": {**UNET, "in_channels": 4, "out_channels": 1}, "fusion": "cross_attention",
              "pool_grid_sizes": {str(k): v for k, v in POOL_GRID_SIZES.items()},
              "note": "untrained random weights for smoke tests (tools/make_tiny_models.py)"}
    (OUT / "ldznet-tiny.json").write_text(json.dumps(config, indent=2) + "\n")


def main():
    torch.set_grad_enabled(False)
    OUT.mkdir(parents=True, exist_ok=True)
    unet = ref.randomize_for_tests(ref.sd_v1_unet(*unet_args(), out_channels=4), SEEDS["unet"]).eval()
    vae, clip = tiny_vae(), tiny_clip()
    znet = ref.randomize_for_tests(ref.ZNet(*unet_args(), "cross_attention", POOL_GRID_SIZES), SEEDS["znet"]).eval()

    save_file(sd_single_file(unet, vae, clip), OUT / "sd-v1-tiny.safetensors")
    sd_config = {
        "unet": {**UNET, "in_channels": 4, "out_channels": 4,
                 "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
                 "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3},
        "vae": {**VAE, "in_channels": 3, "down_block_types": ["DownEncoderBlock2D"] * 4,
                "stored_parts": ["encoder", "quant_conv"]},
        "text_encoder": CLIP,
        "note": "untrained random weights for smoke tests (tools/make_tiny_models.py)",
    }
    (OUT / "sd-v1-tiny.json").write_text(json.dumps(sd_config, indent=2) + "\n")

    # the whole pipeline on the bundled photo
    photo = bundled_photo()
    pixels, image = prepare_image(photo)
    moments = vae.quant_conv(vae.encoder(image))
    z = moments[:, :4] * VAE["scaling_factor"]  # mode "mean"
    text = PIPELINE["template"].format(PIPELINE["prompt"])
    ids = clip_tokens(text)
    context = clip(torch.tensor([ids])).last_hidden_state
    empty_ids = clip_tokens("")
    empty_context = clip(torch.tensor([empty_ids])).last_hidden_state
    noise = torch.randn(z.shape, generator=torch.Generator().manual_seed(PIPELINE["seed"]))
    t = PIPELINE["timestep"]
    z_t = add_noise(z, noise, t)
    taps, eps = ref.sd_taps(unet, z_t, t, context)
    _, eps_empty = ref.sd_taps(unet, z_t, t, empty_context, taps=())
    logits = calibrated_logits(znet, z, context, taps)
    out = {"image_pixels": pixels.half(), "vae_moments": moments, "z": z,
           "token_ids": torch.tensor(ids, dtype=torch.float32), "context": context[0],
           "empty_token_ids": torch.tensor(empty_ids, dtype=torch.float32), "empty_context": empty_context[0],
           "noise": noise, "z_t": z_t, "sd_eps": eps, "sd_eps_empty": eps_empty,
           "noise_difference": (eps - eps_empty).norm(dim=1, keepdim=True),
           "logits": logits}
    for tap, feature in taps.items():
        out[f"sd_tap{tap}"] = feature
        out[f"pool{tap}"] = ref.get_module(znet.unet, ref.LDZNET_POSITIONS[tap]).attentionpool2D(feature)[0]
    metadata = {**{k: str(v) for k, v in PIPELINE.items()}, "text": text, "image_file": photo.name,
                "image_sha256": hashlib.sha256(photo.read_bytes()).hexdigest(),
                "alphas_cumprod_t": repr(alphas_cumprod()[t].item()),
                "weights": "models/tiny/sd-v1-tiny.safetensors + models/tiny/ldznet-tiny.ckpt (model_ema)"}
    # one metadata key holding sorted JSON: safetensors writes several keys in random order
    save_file({k: v.contiguous() for k, v in out.items()}, PIPELINE_OUT,
              metadata={"pipeline": json.dumps(metadata, sort_keys=True)})
    save_ldznet(znet)  # after calibrated_logits, which sets its last bias

    for key, value in out.items():
        print(f"{key:18s} {list(value.shape)} mean {value.float().mean():+.3f} std {value.float().std():.3f}")
    print("text:", text, "ids:", ids[:8], "...")
    print("mask foreground fraction:", (torch.sigmoid(logits) > 0.5).float().mean().item())
    total = 0
    for path in sorted(OUT.iterdir()) + [PIPELINE_OUT]:
        total += path.stat().st_size if path.parent == OUT else 0
        print(f"{path.name:32s} {path.stat().st_size / 1e6:.2f} MB")
    print(f"models/tiny total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
