"""PyTorch reference of LD-ZNet, written from docs/ldznet-spec.md (shared project spec).

The SD v1 UNet body is diffusers' `UNet2DConditionModel`; this module adds what
LD-ZNet changes, each class commented with the spec section it implements:

- `AttentionPool2d` (section 6): the pool over one raw SD feature map.
- `CrossAttentionFusionBlock` (section 7): the transformer block with `attn3` + `norm_sd`.
- `FusedSpatialTransformer` (section 7): the spatial transformer at an LD-ZNet position,
  holding `attentionpool2D` (cross_attention fusion) or `concat_proj` (concat fusion).
- `ZNet` (sections 7, 8): the SD v1 UNet with 1 output channel, timestep 0, a fusion
  strategy at the five positions, and the `out` + `final` head.
- `sd_taps` (section 5): the frozen SD UNet run once, capturing the transformer outputs.

Import with `tools/` on sys.path. torchvision in the shared venv does not match torch;
`import ldznet_reference` hides it so transformers/diffusers import cleanly.
"""
import sys

sys.modules.setdefault("torchvision", None)  # the installed torchvision is built for another torch

import torch
import torch.nn.functional as F
from torch import nn
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention

# Section 5: the LD-ZNet taps (1-indexed, CompVis numbering) as diffusers module paths
# of the spatial transformer whose output is the tap. The same paths are the ZNet
# positions where fusion happens (section 7).
LDZNET_POSITIONS = {
    6: "down_blocks.2.attentions.1",
    7: "mid_block.attentions.0",
    8: "up_blocks.1.attentions.0",
    9: "up_blocks.1.attentions.1",
    10: "up_blocks.1.attentions.2",
}

FUSIONS = ("cross_attention", "concat", "none")


def sd_v1_unet(block_out_channels, cross_attention_dim, heads, norm_groups, out_channels, sample_size=64):
    """The SD v1 UNet architecture (section 7) at any width: 4 levels, 2 res blocks
    per level, attention on the first three levels, 1x1-conv proj_in/proj_out."""
    return UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=4,
        out_channels=out_channels,
        block_out_channels=tuple(block_out_channels),
        layers_per_block=2,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        attention_head_dim=heads,  # diffusers' SD v1 quirk: this is the number of heads
        cross_attention_dim=cross_attention_dim,
        norm_num_groups=norm_groups,
    )


class AttentionPool2d(nn.Module):
    """Section 6. Input one raw SD feature [N, C, h, w]; output all h*w+1 tokens [N, h*w+1, C]."""

    def __init__(self, channels, grid_size, heads):
        super().__init__()
        self.heads = heads
        self.positional_embedding = nn.Parameter(torch.randn(channels, grid_size * grid_size + 1) / channels**0.5)
        self.qkv_proj = nn.Conv1d(channels, 3 * channels, 1)
        self.c_proj = nn.Conv1d(channels, channels, 1)

    def embedding_for(self, height, width):
        """The stored [C, S*S+1] embedding, its grid part resized to (height, width) with
        torch bicubic (align_corners=False) when the token count differs; token 0 kept."""
        stored = self.positional_embedding
        if height * width + 1 == stored.shape[1]:
            return stored
        channels = stored.shape[0]
        side = round((stored.shape[1] - 1) ** 0.5)
        grid = stored[:, 1:].reshape(1, channels, side, side)
        grid = F.interpolate(grid, size=(height, width), mode="bicubic", align_corners=False)
        return torch.cat([stored[:, :1], grid.reshape(channels, height * width)], dim=1)

    def forward(self, x):
        n, c, h, w = x.shape
        x = x.reshape(n, c, h * w)  # row-major flatten
        x = torch.cat([x.mean(dim=-1, keepdim=True), x], dim=-1)  # mean token first
        x = x + self.embedding_for(h, w)[None].to(x.dtype)
        qkv = self.qkv_proj(x)  # [N, 3C, T]
        q, k, v = qkv.chunk(3, dim=1)  # split q, k, v first, then heads
        head_dim = c // self.heads
        tokens = h * w + 1
        q, k, v = (t.reshape(n * self.heads, head_dim, tokens) for t in (q, k, v))
        scale = head_dim ** -0.25  # applied to q and to k
        weights = torch.einsum("bct,bcs->bts", q * scale, k * scale).softmax(dim=-1)
        out = torch.einsum("bts,bcs->bct", weights, v).reshape(n, c, tokens)
        return self.c_proj(out).transpose(1, 2)  # [N, h*w+1, C]


class CrossAttentionFusionBlock(nn.Module):
    """Section 7: diffusers' `BasicTransformerBlock` (SD v1 settings) plus `attn3`/`norm_sd`.
    Takes over the sub-modules of `block` under the same names, so keys stay
    `transformer_blocks.0.{norm1,attn1,norm2,attn2,norm3,ff}` and add `attn3`, `norm_sd`."""

    def __init__(self, block, heads):
        super().__init__()
        for name in ("norm1", "attn1", "norm2", "attn2", "norm3", "ff"):
            setattr(self, name, getattr(block, name))
        dim = block.norm1.normalized_shape[0]
        self.attn3 = Attention(query_dim=dim, cross_attention_dim=dim, heads=heads, dim_head=dim // heads,
                               bias=False, out_bias=True)
        self.norm_sd = nn.LayerNorm(dim)
        self.pool_tokens = None  # [N, h*w+1, C], set by the owning FusedSpatialTransformer

    def forward(self, hidden_states, encoder_hidden_states=None, **_):
        x = hidden_states
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), encoder_hidden_states=encoder_hidden_states) + x
        x = self.attn3(self.norm_sd(x), encoder_hidden_states=self.pool_tokens) + x
        return self.ff(self.norm3(x)) + x


class FusedSpatialTransformer(nn.Module):
    """Section 7: the spatial transformer (diffusers `Transformer2DModel`) at one LD-ZNet
    position with a fusion strategy. Its SD feature is set in `sd_feature` before a forward.

    - cross_attention: `attentionpool2D` pools the SD feature; the block attends to it (attn3).
    - concat (ours, the spec leaves it to us): x <- concat_proj(cat([x, sd_feature], channels)),
      a 1x1 conv C + C_sd -> C, applied to the transformer's input; the transformer then
      runs unchanged on the projected x (its residual is the projected x).
    """

    def __init__(self, transformer, fusion, heads, grid_size=None):
        super().__init__()
        self.transformer = transformer
        self.fusion = fusion
        channels = transformer.proj_in.in_channels
        if fusion == "cross_attention":
            self.attentionpool2D = AttentionPool2d(channels, grid_size, heads)
            transformer.transformer_blocks[0] = CrossAttentionFusionBlock(transformer.transformer_blocks[0], heads)
        elif fusion == "concat":
            self.concat_proj = nn.Conv2d(2 * channels, channels, 1)  # SD feature has the same C
        else:
            raise ValueError(f"unknown fusion {fusion!r}")
        self.sd_feature = None

    def forward(self, hidden_states, encoder_hidden_states=None, return_dict=True, **_):
        if self.sd_feature is None:
            raise RuntimeError("FusedSpatialTransformer needs its SD feature set before forward")
        if self.fusion == "cross_attention":
            self.transformer.transformer_blocks[0].pool_tokens = self.attentionpool2D(self.sd_feature)
        else:
            hidden_states = self.concat_proj(torch.cat([hidden_states, self.sd_feature], dim=1))
        out = self.transformer(hidden_states, encoder_hidden_states=encoder_hidden_states, return_dict=False)[0]
        return (out,) if not return_dict else out


def _unwrapped_name(name):
    """`FusedSpatialTransformer` keeps the diffusers transformer under `.transformer.`;
    parameter names drop that level so they read like the spec (`...attentions.1.norm`)."""
    return name.replace(".transformer.", ".")


def get_module(root, path):
    module = root
    for part in path.split("."):
        module = module[int(part)] if part.isdigit() else getattr(module, part)
    return module


def set_module(root, path, new):
    parent_path, _, last = path.rpartition(".")
    parent = get_module(root, parent_path)
    if last.isdigit():
        parent[int(last)] = new
    else:
        setattr(parent, last, new)


class ZNet(nn.Module):
    """Sections 7 and 8. Logits [N, 1, 8h, 8w] for a clean latent z [N, 4, h, w] and text [N, 77, D].

    `unet` is the SD v1 UNet with out_channels=1: its conv_norm_out / conv_act / conv_out are
    the head's `out.0` / `out.1` / `out.2`; then SiLU (`out.3`) and `final`."""

    def __init__(self, block_out_channels, cross_attention_dim, heads, norm_groups, fusion,
                 pool_grid_sizes=None):
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}")
        self.fusion = fusion
        self.unet = sd_v1_unet(block_out_channels, cross_attention_dim, heads, norm_groups, out_channels=1)
        if fusion != "none":
            for tap, path in LDZNET_POSITIONS.items():
                grid = pool_grid_sizes[tap] if fusion == "cross_attention" else None
                set_module(self.unet, path, FusedSpatialTransformer(get_module(self.unet, path), fusion, heads, grid))
        # final.{0..12}: Conv3x3, SiLU, ConvT(k2 s2), SiLU, ... , Conv3x3 (section 8)
        layers = []
        for _ in range(3):
            layers += [nn.Conv2d(1, 1, 3, padding=1), nn.SiLU(), nn.ConvTranspose2d(1, 1, 2, stride=2), nn.SiLU()]
        layers.append(nn.Conv2d(1, 1, 3, padding=1))
        self.final = nn.Sequential(*layers)

    def diffusers_state_dict(self):
        """Parameters under diffusers UNet names (plus attentionpool2D / attn3 / norm_sd /
        concat_proj) and `final.*`; see ldznet_layout for the CompVis names."""
        out = {}
        for name, tensor in self.state_dict().items():
            name = _unwrapped_name(name)
            out[name[len("unet."):] if name.startswith("unet.") else name] = tensor
        return out

    def load_diffusers_state_dict(self, tensors):
        own = {}
        for name in self.state_dict():
            short = _unwrapped_name(name)
            own[name] = tensors[short[len("unet."):] if short.startswith("unet.") else short]
        self.load_state_dict(own, strict=True)

    def forward(self, z, context, sd_features=None):
        if self.fusion != "none":
            for tap, path in LDZNET_POSITIONS.items():
                get_module(self.unet, path).sd_feature = sd_features[tap]
        timestep = torch.zeros((), dtype=torch.long)  # ZNet runs at timestep 0
        x = self.unet(z, timestep, encoder_hidden_states=context, return_dict=False)[0]
        return self.final(F.silu(x))


class _StopAfterLastTap(Exception):
    """Raised by the hook of the last tap when `sd_taps(stop_after_last_tap=True)`."""


def sd_taps(unet, z_t, timestep, context, taps=tuple(LDZNET_POSITIONS), stop_after_last_tap=False):
    """Section 5: run the frozen SD UNet once on (z_t, t, text); return ({tap: feature}, eps).
    A tap is the output of the spatial transformer at that position (before any Upsample).
    With stop_after_last_tap the forward hook of the last tap raises once it has its feature,
    so the rest of the UNet never runs (as ZFlow's UNetFeatures stops); eps is then None."""
    captured = {}
    hooks = []
    for tap in taps:
        def keep(_module, _inputs, output, tap=tap):
            captured[tap] = (output[0] if isinstance(output, tuple) else output.sample).detach()
            if stop_after_last_tap and tap == max(taps):  # taps are numbered in the order they run
                raise _StopAfterLastTap
        hooks.append(get_module(unet, LDZNET_POSITIONS[tap]).register_forward_hook(keep))
    try:
        eps = unet(z_t, torch.tensor(timestep), encoder_hidden_states=context, return_dict=False)[0]
    except _StopAfterLastTap:
        eps = None
    finally:
        for hook in hooks:
            hook.remove()
    return captured, eps


def randomize_for_tests(module, seed, final_std=0.8):
    """Seeded random weights with a scale that keeps activations O(1) (fixtures and tiny
    models only): linear/conv weights uniform with variance 1/fan_in, biases uniform
    +-0.1, norms 1 + 0.1 randn / 0.1 randn (so a swapped weight/bias shows), pool
    embeddings randn / sqrt(C), and the 1-channel `final` convs randn * final_std so the
    logits vary over the image. Values are rounded to f16 so f16 storage is exact."""
    generator = torch.Generator().manual_seed(seed)

    def fill(param, values):
        param.copy_(values.half().float())

    with torch.no_grad():
        for module_name, child in module.named_modules():
            params = dict(child.named_parameters(recurse=False))
            if not params:
                continue
            if isinstance(child, (nn.GroupNorm, nn.LayerNorm)):
                fill(params["weight"], 1 + 0.1 * torch.randn(params["weight"].shape, generator=generator))
                fill(params["bias"], 0.1 * torch.randn(params["bias"].shape, generator=generator))
            elif isinstance(child, AttentionPool2d):
                embedding = params["positional_embedding"]
                fill(embedding, torch.randn(embedding.shape, generator=generator) * embedding.shape[0] ** -0.5)
            elif module_name.startswith("final."):
                for param in params.values():
                    fill(param, final_std * torch.randn(param.shape, generator=generator))
            else:
                for leaf, param in params.items():
                    if leaf == "bias":
                        bound = 0.1
                    else:
                        fan_in = param.shape[1] * (param[0, 0].numel() if param.dim() > 2 else 1)
                        bound = (3.0 / fan_in) ** 0.5
                    fill(param, (torch.rand(param.shape, generator=generator) * 2 - 1) * bound)
    return module
