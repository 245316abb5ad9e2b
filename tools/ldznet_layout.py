"""Key layouts: diffusers names -> CompVis names (SD v1 UNet, VAE encoder), the LD-ZNet
Lightning checkpoint (`model.diffusion_model.*` + the LitEma copy `model_ema.*`).

Tables are data: `UNET_BLOCKS` maps module prefixes, `RESNET_PARTS` the parts of a
res block; LD-ZNet's extra modules keep their names (`attentionpool2D`, `attn3`,
`norm_sd`, `concat_proj`, `final`). docs/ldznet-reference.md prints the same tables.
"""
from collections import OrderedDict

import torch


def _unet_blocks():
    """(diffusers prefix, CompVis prefix) for the SD v1 UNet: 4 levels, 2 res blocks each,
    attention on levels 0-2, down-samplers on levels 0-2, up-samplers on up levels 0-2."""
    table = [("conv_in", "input_blocks.0.0"),
             ("time_embedding.linear_1", "time_embed.0"),
             ("time_embedding.linear_2", "time_embed.2")]
    for k in range(4):
        for i in range(2):
            table.append((f"down_blocks.{k}.resnets.{i}", f"input_blocks.{3 * k + i + 1}.0"))
            if k < 3:
                table.append((f"down_blocks.{k}.attentions.{i}", f"input_blocks.{3 * k + i + 1}.1"))
        if k < 3:
            table.append((f"down_blocks.{k}.downsamplers.0.conv", f"input_blocks.{3 * k + 3}.0.op"))
    table += [("mid_block.resnets.0", "middle_block.0"),
              ("mid_block.attentions.0", "middle_block.1"),
              ("mid_block.resnets.1", "middle_block.2")]
    for k in range(4):
        for i in range(3):
            table.append((f"up_blocks.{k}.resnets.{i}", f"output_blocks.{3 * k + i}.0"))
            if k > 0:
                table.append((f"up_blocks.{k}.attentions.{i}", f"output_blocks.{3 * k + i}.1"))
        if k < 3:
            slot = 1 if k == 0 else 2  # up level 0 has no attention before its Upsample
            table.append((f"up_blocks.{k}.upsamplers.0.conv", f"output_blocks.{3 * k + 2}.{slot}.conv"))
    table += [("conv_norm_out", "out.0"), ("conv_out", "out.2")]
    return table


UNET_BLOCKS = _unet_blocks()

# Parts of a res block: diffusers `ResnetBlock2D` -> CompVis `ResBlock`.
RESNET_PARTS = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
                ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection")]


def compvis_unet_key(name):
    """diffusers UNet parameter name -> CompVis name (relative to `diffusion_model.`).
    Names outside the table (`final.*`) are kept."""
    for diffusers_prefix, compvis_prefix in UNET_BLOCKS:
        if name == diffusers_prefix or name.startswith(diffusers_prefix + "."):
            rest = name[len(diffusers_prefix):]
            if ".resnets." in diffusers_prefix:
                for part, compvis_part in RESNET_PARTS:
                    if rest.startswith("." + part + "."):
                        rest = "." + compvis_part + rest[len(part) + 1:]
                        break
            return compvis_prefix + rest
    return name


# SD v1 KL autoencoder, encoder side only: diffusers `AutoencoderKL` -> CompVis `first_stage_model`.
VAE_PARTS = [("conv_shortcut", "nin_shortcut"),
             ("attentions.0.group_norm", "attn_1.norm"), ("attentions.0.to_q", "attn_1.q"),
             ("attentions.0.to_k", "attn_1.k"), ("attentions.0.to_v", "attn_1.v"),
             ("attentions.0.to_out.0", "attn_1.proj_out")]


def compvis_vae_key(name):
    """diffusers VAE encoder / quant_conv name -> CompVis name (relative to `first_stage_model.`)."""
    name = name.replace("encoder.conv_norm_out", "encoder.norm_out")
    name = name.replace("encoder.mid_block.resnets.0", "encoder.mid.block_1")
    name = name.replace("encoder.mid_block.resnets.1", "encoder.mid.block_2")
    name = name.replace("encoder.mid_block.", "encoder.mid.")
    name = name.replace(".downsamplers.0.", ".downsample.")
    name = name.replace("encoder.down_blocks.", "encoder.down.").replace(".resnets.", ".block.")
    for diffusers_part, compvis_part in VAE_PARTS:
        name = name.replace("." + diffusers_part + ".", "." + compvis_part + ".")
    return name


def compvis_vae_state_dict(vae):
    """The encoder + quant_conv tensors of a diffusers AutoencoderKL in CompVis names;
    attention projections become 1x1 convs ([C, C] -> [C, C, 1, 1]) as CompVis stores them."""
    out = {}
    for name, tensor in vae.state_dict().items():
        if not (name.startswith("encoder.") or name.startswith("quant_conv.")):
            continue
        key = compvis_vae_key(name)
        if ".attn_1." in key and key.endswith(".weight") and tensor.dim() == 2:
            tensor = tensor[:, :, None, None]
        out[key] = tensor
    return out


def ema_key(compvis_name):
    """LitEma's name for `diffusion_model.<compvis_name>`: the dots removed, under `model_ema.`."""
    return "model_ema." + ("diffusion_model." + compvis_name).replace(".", "")


def lightning_checkpoint(ema, live, decay=0.9999, num_updates=1000, global_step=1000, epoch=3):
    """A Lightning-style checkpoint dict (state_dict an OrderedDict, empty optimizer/callback entries). `ema` and `live` map CompVis names (relative to
    `diffusion_model.`) to tensors: inference weights (model_ema.*) and training weights
    (model.diffusion_model.*). LitEma's buffers `decay` (f32) and `num_updates` (int32) too."""
    state = OrderedDict(("model.diffusion_model." + name, t.contiguous()) for name, t in live.items())
    state["model_ema.decay"] = torch.tensor(decay, dtype=torch.float32)
    state["model_ema.num_updates"] = torch.tensor(num_updates, dtype=torch.int32)
    for name, tensor in ema.items():
        state[ema_key(name)] = tensor.contiguous()
    return {"epoch": epoch, "global_step": global_step, "pytorch-lightning_version": "1.4.2",
            "state_dict": state, "callbacks": {}, "optimizer_states": [], "lr_schedulers": []}
