"""The whole LD-ZNet pipeline in PyTorch (spec stages 1-8), at the tiny size or the full
SD v1.4 size, with seeded random weights: the reference for end-to-end parity and timing.

    tools/.venv/bin/python tools/ldznet_pipeline.py --out /tmp/ldznet-full [--image P] [--prompt T]

builds full-size SD v1 + LD-ZNet random weights (seeded, f16-exact), writes them in the
official layouts (sd-v1-random.safetensors: CompVis single file, ldznet-random.ckpt:
Lightning, both copies), runs the pipeline at 384^2 and writes reference.safetensors
(the keys of pipeline_tiny.safetensors, see docs/ldznet-reference.md) and timings.json
(seconds per stage, PyTorch CPU, torch.get_num_threads() threads). Needs ~12 GB RAM and
~6 GB disk. tools/make_tiny_models.py uses the same functions for models/tiny/.

Benchmarks (docs/benchmarks/ldznet.md; tools/bench/alternate_pipeline.py runs both sides):
`--time-only --runs N` times the pipeline on the same seeded models built in memory, with
the SD UNet stopped after tap 10 as ZFlow's UNetFeatures stops (`--full-unet`: run it to the
end); `--cold` is a user's single-image process: weights read from the files in --out, one run.
"""
import functools
import os
import pathlib
import time


def seconds_since_process_start():
    """From /proc: this process's start time and the system uptime (10 ms resolution)."""
    fields = pathlib.Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime
    return float(pathlib.Path("/proc/uptime").read_text().split()[0]) - started


# read before the heavy imports below: a cold run counts them, as a user's script pays them
PROCESS_AGE_AT_IMPORT, IMPORT_CLOCK = seconds_since_process_start(), time.perf_counter()

import argparse  # noqa: E402
import hashlib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

TOOLS = pathlib.Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))
import ldznet_layout as layout  # noqa: E402
import ldznet_reference as ref  # noqa: E402
from bench.pipeline_shared import AREA, LDZNET_FILE, SD_FILE, cpu_model  # noqa: E402
from diffusers import AutoencoderKL  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModel  # noqa: E402

# SD v1.4 architecture (spec sections 2, 4, 7) and the LD-ZNet pools trained at 384^2
FULL = {
    "unet": {"block_out_channels": [320, 640, 1280, 1280], "layers_per_block": 2, "attention_head_dim": 8,
             "norm_num_groups": 32, "cross_attention_dim": 768},
    "vae": {"block_out_channels": [128, 256, 512, 512], "layers_per_block": 2, "norm_num_groups": 32,
            "latent_channels": 4, "scaling_factor": 0.18215},
    "text_encoder": {"vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                     "num_attention_heads": 12, "max_position_embeddings": 77, "hidden_act": "quick_gelu",
                     "layer_norm_eps": 1e-5},
    "pool_grid_sizes": {6: 12, 7: 6, 8: 12, 9: 12, 10: 12},
    "seeds": {"unet": 21, "vae": 22, "clip": 23, "znet": 24},
}
PIPELINE = {"prompt": "a cat", "template": "a photo of a {}.", "timestep": 400, "seed": 0,
            "area": AREA, "multiple": 64, "vae_mode": "mean"}


def unet_args(config):
    u = config["unet"]
    return (u["block_out_channels"], u["cross_attention_dim"], u["attention_head_dim"], u["norm_num_groups"])


def sd_unet_module(config):
    return ref.sd_v1_unet(*unet_args(config), out_channels=4)


def vae_module(config):
    v = config["vae"]
    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                         up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=tuple(v["block_out_channels"]),
                         layers_per_block=v["layers_per_block"], latent_channels=v["latent_channels"],
                         norm_num_groups=v["norm_num_groups"], scaling_factor=v["scaling_factor"])


def clip_module(config):
    return CLIPTextModel(CLIPTextConfig(**config["text_encoder"]))


def znet_module(config):
    return ref.ZNet(*unet_args(config), "cross_attention", config["pool_grid_sizes"])


def build_vae(config):
    return ref.randomize_for_tests(vae_module(config), config["seeds"]["vae"]).eval()


def build_clip(config):
    torch.manual_seed(config["seeds"]["clip"])
    model = clip_module(config).eval()
    generator = torch.Generator().manual_seed(config["seeds"]["clip"])
    with torch.no_grad():  # embeddings ~ N(0, 1) so the text features are O(1) and token-dependent
        for name, param in model.named_parameters():
            if "embedding" in name:
                param.copy_(torch.randn(param.shape, generator=generator).half().float())
            else:
                param.copy_(param.half().float())
    return model


def build_models(config):
    seeds = config["seeds"]
    return {
        "unet": ref.randomize_for_tests(sd_unet_module(config), seeds["unet"]).eval(),
        "vae": build_vae(config),
        "clip": build_clip(config),
        "znet": ref.randomize_for_tests(znet_module(config), seeds["znet"]).eval(),
    }


def clip_file_key(name):
    """CLIPTextModel parameter name -> key in the CompVis single file (transformers 5 drops
    the `text_model.` level that the file keeps)."""
    return "cond_stage_model.transformer." + (name if name.startswith("text_model.") else "text_model." + name)


def load_models(config, folder):
    """What a user's script does with the two files: read them with safetensors / torch.load,
    build the modules and load_state_dict (strict, f16 -> f32). Modules are built on the meta
    device and given uninitialised memory, as diffusers' and transformers' loaders skip the
    random init; the VAE decoder (not in the file, never run) stays on meta."""
    sd = load_file(folder / SD_FILE)
    ckpt = torch.load(folder / LDZNET_FILE, map_location="cpu", mmap=True, weights_only=True)["state_dict"]
    with torch.device("meta"):
        unet, vae, clip, znet = sd_unet_module(config), vae_module(config), clip_module(config), znet_module(config)
    for module in (unet, vae.encoder, vae.quant_conv, clip, znet):
        module.to_empty(device="cpu")
    unet.load_state_dict({name: sd["model.diffusion_model." + layout.compvis_unet_key(name)]
                          for name in unet.state_dict()}, strict=True)
    for part in ("encoder", "quant_conv"):  # CompVis stores the attention projections as 1x1 convs
        getattr(vae, part).load_state_dict(
            {name: sd["first_stage_model." + layout.compvis_vae_key(f"{part}.{name}")].reshape(tensor.shape)
             for name, tensor in getattr(vae, part).state_dict().items()}, strict=True)
    clip.load_state_dict({name: sd[clip_file_key(name)] for name in clip.state_dict()}, strict=True)
    for name, buffer in clip.named_buffers():  # not in the file (non-persistent), so to_empty left it garbage
        if name.endswith("position_ids"):
            buffer.copy_(torch.arange(buffer.shape[-1]).expand_as(buffer))
    znet.load_diffusers_state_dict({name: ckpt[layout.ema_key(layout.compvis_unet_key(name))]
                                    for name in znet.diffusers_state_dict()})
    return {"unet": unet.eval(), "vae": vae.eval(), "clip": clip.eval(), "znet": znet.eval()}


@functools.cache
def open_clip_bpe():
    """open_clip's SimpleTokenizer, loaded from its file (importing open_clip pulls torchvision)."""
    spec = importlib.util.find_spec("open_clip")
    package = pathlib.Path(spec.origin).parent
    loader = importlib.util.spec_from_file_location("open_clip_tokenizer", package / "tokenizer.py")
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module.SimpleTokenizer()


def clip_tokens(text):
    """SD v1's CLIPTokenizer behaviour: BPE of the cleaned lower-cased text, <|startoftext|> ...
    <|endoftext|>, truncated to 77, padded with <|endoftext|> (49407). Uses open_clip's BPE file."""
    ids = [49406] + open_clip_bpe().encode(text)[:75] + [49407]
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


def prepare_image(path, params):
    """Returns the resized uint8 pixel values (as float32) [1, 3, H, W] and the model input in [-1, 1]."""
    image = Image.open(path).convert("RGB")
    h, w = prepared_size(image.height, image.width, params["area"], params["multiple"])
    pixels = np.asarray(image.resize((w, h), Image.LANCZOS), dtype=np.float32)
    pixels = torch.from_numpy(pixels).permute(2, 0, 1)[None].contiguous()
    return pixels, pixels / 255.0 * 2 - 1


def alphas_cumprod():
    """diffusers DDPMScheduler `scaled_linear` in float32."""
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float32) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


def add_noise(z, noise, t):
    abar = alphas_cumprod()[t]
    return abar ** 0.5 * z + (1 - abar) ** 0.5 * noise


def timed_pipeline(models, config, photo, params, stop_after_last_tap=False, around_stage=None):
    """The stages a user's pipeline runs on one photo, each timed (tokenising is not).
    Returns (values by name, seconds per stage). `around_stage(stage, fn)`, when given, runs each
    stage's fn and returns its value (tools/bench/op_times_torch.py reads its op clock there)."""
    timings = {}

    def timed(stage, fn):
        start = time.perf_counter()
        value = around_stage(stage, fn) if around_stage else fn()
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start
        return value

    unet, vae, clip, znet = models["unet"], models["vae"], models["clip"], models["znet"]
    pixels, image = timed("prepare_image", lambda: prepare_image(photo, params))
    moments = timed("vae_encode", lambda: vae.quant_conv(vae.encoder(image)))
    z = moments[:, :4] * config["vae"]["scaling_factor"]  # mode "mean"
    text = params["template"].format(params["prompt"])
    ids = clip_tokens(text)
    context = timed("clip_text", lambda: clip(torch.tensor([ids])).last_hidden_state)
    noise = torch.randn(z.shape, generator=torch.Generator().manual_seed(params["seed"]))
    t = params["timestep"]
    z_t = add_noise(z, noise, t)
    taps, eps = timed("sd_unet", lambda: ref.sd_taps(unet, z_t, t, context, stop_after_last_tap=stop_after_last_tap))
    logits = timed("znet", lambda: znet(z, context, taps))
    timings["total_timed"] = sum(timings.values())
    values = {"pixels": pixels, "moments": moments, "z": z, "text": text, "ids": ids, "context": context,
              "noise": noise, "z_t": z_t, "taps": taps, "eps": eps, "logits": logits}
    return values, timings


def run(models, config, photo, params=PIPELINE):
    """All stages on one photo, then the reference's untimed extras (the empty prompt's eps,
    the pool outputs). Returns (outputs, metadata, seconds per stage)."""
    v, timings = timed_pipeline(models, config, photo, params)
    unet, clip, znet, t = models["unet"], models["clip"], models["znet"], params["timestep"]
    pixels, moments, z, text, ids, context, noise, z_t, taps, eps, logits = (
        v[k] for k in ("pixels", "moments", "z", "text", "ids", "context", "noise", "z_t", "taps", "eps", "logits"))
    empty_ids = clip_tokens("")
    empty_context = clip(torch.tensor([empty_ids])).last_hidden_state
    _, eps_empty = ref.sd_taps(unet, z_t, t, empty_context, taps=())
    outputs = {"image_pixels": pixels.half(), "vae_moments": moments, "z": z,
               "token_ids": torch.tensor(ids, dtype=torch.float32), "context": context[0],
               "empty_token_ids": torch.tensor(empty_ids, dtype=torch.float32), "empty_context": empty_context[0],
               "noise": noise, "z_t": z_t, "sd_eps": eps, "sd_eps_empty": eps_empty,
               "noise_difference": (eps - eps_empty).norm(dim=1, keepdim=True), "logits": logits}
    for tap, feature in taps.items():
        outputs[f"sd_tap{tap}"] = feature
        outputs[f"pool{tap}"] = ref.get_module(znet.unet, ref.LDZNET_POSITIONS[tap]).attentionpool2D(feature)[0]
    metadata = {**{k: str(v) for k, v in params.items()}, "text": text, "image_file": photo.name,
                "image_sha256": hashlib.sha256(photo.read_bytes()).hexdigest(),
                "alphas_cumprod_t": repr(alphas_cumprod()[t].item())}
    return outputs, metadata, timings


def save_outputs(outputs, metadata, path):
    # one metadata key holding sorted JSON: safetensors writes several keys in random order
    save_file({k: v.contiguous() for k, v in outputs.items()}, path,
              metadata={"pipeline": json.dumps(metadata, sort_keys=True)})


def save_sd_single_file(models, path):
    """CompVis single file, f16: UNet, VAE encoder + quant_conv, CLIP text model (no position_ids)."""
    tensors = {"model.diffusion_model." + layout.compvis_unet_key(k): v.half()
               for k, v in models["unet"].state_dict().items()}
    tensors.update({"first_stage_model." + k: v.half() for k, v in layout.compvis_vae_state_dict(models["vae"]).items()})
    for name, tensor in models["clip"].state_dict().items():
        if not name.endswith("position_ids"):
            tensors[clip_file_key(name)] = tensor.half()
    save_file({k: v.contiguous() for k, v in tensors.items()}, path)


def training_copy(ema, seed=4, offset=0.05):
    """The `model.diffusion_model.*` values of our checkpoints: the EMA values plus a visible
    offset, 0.05 * randn * (mean |w| + 0.01), so a loader reading the wrong copy fails."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name, tensor in ema.items():
        noise = torch.randn(tensor.shape, generator=generator)
        out[name] = (tensor.float() + noise * (tensor.float().abs().mean() + 0.01) * offset).half()
    return out


def save_ldznet(znet, ckpt_path, safetensors_path=None):
    """The ZNet in the official layout (f16): Lightning .ckpt and optionally the same state_dict as safetensors."""
    ema = {layout.compvis_unet_key(k): v.half() for k, v in znet.diffusers_state_dict().items()}
    ckpt = layout.lightning_checkpoint(ema, training_copy(ema))
    torch.save(ckpt, ckpt_path)
    if safetensors_path:
        save_file(ckpt["state_dict"], safetensors_path)


def machine_report(timings, args, values):
    """The CPU, the threads, the prepared size, what the UNet ran and the process's peak RSS."""
    _, _, height, width = values["pixels"].shape
    return {**timings, "threads": torch.get_num_threads(), "cpu": cpu_model(), "size": f"{width}x{height}",
            "unet": "full forward" if args.full_unet else "stopped after tap 10",
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, required=True,
                        help=f"folder of the weights ({SD_FILE}, {LDZNET_FILE}): written, or read by --cold")
    parser.add_argument("--config", choices=["full", "tiny"], default="full",
                        help="tiny = the models/tiny architecture (a quick smoke run of this script)")
    parser.add_argument("--image", type=pathlib.Path, default=None,
                        help="photo (default examples/images/chelsea.png: 448x256; a square one gives 384x384)")
    parser.add_argument("--prompt", default=PIPELINE["prompt"])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--time-only", action="store_true",
                      help="rebuild the seeded models in memory but write no weights or reference; "
                           "print median seconds per stage over --runs runs after a warm-up (for benchmarks)")
    mode.add_argument("--cold", action="store_true",
                      help="a user's single-image process: read the weights in --out, one run; print process "
                           "start -> weights loaded -> end of the run")
    parser.add_argument("--full-unet", action="store_true",
                        help="with --time-only or --cold: run the SD UNet to the end instead of stopping after tap 10")
    parser.add_argument("--runs", type=int, default=1, help="timed runs after the warm-up (medians reported)")
    args = parser.parse_args()
    if args.full_unet and not (args.time_only or args.cold):
        parser.error("--full-unet needs --time-only or --cold (the reference always runs the full UNet)")
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    torch.set_grad_enabled(False)
    config = FULL if args.config == "full" else __import__("make_tiny_models").TINY
    params = {**PIPELINE, "prompt": args.prompt}
    photo = args.image or bundled_photo()
    if not photo.is_file():
        parser.error(f"--image {photo}: no such file")
    stop = not args.full_unet
    if args.cold:
        missing = [name for name in (SD_FILE, LDZNET_FILE) if not (args.out / name).is_file()]
        if missing:
            parser.error(f"--cold reads {', '.join(missing)} in {args.out}: not there "
                         f"(write them with: ldznet_pipeline.py --config {args.config} --out {args.out})")
        models = load_models(config, args.out)
        loaded = PROCESS_AGE_AT_IMPORT + time.perf_counter() - IMPORT_CLOCK
        values, timings = timed_pipeline(models, config, photo, params, stop_after_last_tap=stop)
        timings["process_start_to_loaded"] = loaded
        timings["cold_total"] = PROCESS_AGE_AT_IMPORT + time.perf_counter() - IMPORT_CLOCK
        timings["runs"] = 1
        print(json.dumps(machine_report(timings, args, values), indent=2))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    models = build_models(config)
    if not args.time_only:
        save_sd_single_file(models, args.out / SD_FILE)
        save_ldznet(models["znet"], args.out / LDZNET_FILE)
        outputs, metadata, _ = run(models, config, photo, params)  # warm-up (allocator, thread pool)
        runs = [run(models, config, photo, params)[2] for _ in range(args.runs)]
        save_outputs(outputs, metadata, args.out / "reference.safetensors")
    else:
        values, _ = timed_pipeline(models, config, photo, params, stop_after_last_tap=stop)  # warm-up
        runs = [timed_pipeline(models, config, photo, params, stop_after_last_tap=stop)[1] for _ in range(args.runs)]
    timings = {stage: statistics.median(r[stage] for r in runs) for stage in runs[0]}
    timings["runs"] = len(runs)
    if args.time_only:
        print(json.dumps(machine_report(timings, args, values), indent=2))
        return
    timings["threads"] = torch.get_num_threads()
    (args.out / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print(json.dumps(timings, indent=2))


if __name__ == "__main__":
    main()
