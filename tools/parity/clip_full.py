"""Full-size CLIP text encoder parity and timing, by hand (not run in CI).

Builds the real SD v1 text encoder architecture (openai/clip-vit-large-patch14 text
config: 12 layers, width 768, 12 heads, quick_gelu, vocabulary 49408) with random
weights (no download), writes it as a diffusers `text_encoder/` folder (transformers 4
key names, `text_model.*`), runs transformers and `zflow-bench clip` on the same
prompts, and prints max|a-b| / max|ref| per output and the median times.

Run (from the repository root, after `swift build -c release --product zflow-bench`):
  tools/.venv/bin/python tools/parity/clip_full.py [--zflow .build/release/zflow-bench]
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

sys.modules["torchvision"] = None  # the venv's torchvision build is broken; transformers does not need it
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from clip import write_vocabulary  # noqa: E402  (same vocabulary files as the fixtures)

PROMPTS = [
    "a photo of a cat.",
    "a photograph of an astronaut riding a horse on the moon, highly detailed, 8k",
    "",
    "the man in the red shirt standing next to a bicycle " * 8,
]
RUNS = 5
ROUNDS = 3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zflow", default=".build/release/zflow-bench")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads and OPENBLAS_NUM_THREADS for ZFlow")
    args = parser.parse_args()

    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                            num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
                            layer_norm_eps=1e-5, projection_dim=768)
    model = CLIPTextModel(config).eval()
    with torch.no_grad():  # the default init leaves LayerNorms at 1/0; make them do something
        for name, parameter in model.named_parameters():
            if "layer_norm" in name:
                parameter.add_(torch.randn_like(parameter) * 0.1)

    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        folder = root / "text_encoder"
        folder.mkdir()
        config.save_pretrained(str(folder))
        save_file({("text_model." + k.removeprefix("text_model.")): v.contiguous()
                   for k, v in model.state_dict().items() if "position_ids" not in k}, str(folder / "model.safetensors"))
        write_vocabulary(root / "tokenizer")
        tokenizer = CLIPTokenizer.from_pretrained(str(root / "tokenizer"))
        (root / "prompts.txt").write_text("\n".join(PROMPTS) + "\n", encoding="utf-8")

        reference = {}
        with torch.no_grad():
            for index, prompt in enumerate(PROMPTS):
                ids = tokenizer(prompt, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
                out = model(ids, output_hidden_states=True)
                reference[f"{index}.ids"] = ids[0].float()
                reference[f"{index}.last_hidden_state"] = out.last_hidden_state[0]
                reference[f"{index}.penultimate"] = out.hidden_states[-2][0]

        # Timing on a shared machine: alternate PyTorch and ZFlow rounds, take medians.
        torch_times, zflow_times, torch_cpu, zflow_cpu = [], [], [], []
        environment = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads))
        ids = reference["0.ids"].long().unsqueeze(0)
        command = [args.zflow, "clip", "--folder", str(root), "--prompts", str(root / "prompts.txt"),
                   "--out", str(root / "zflow.safetensors"), "--runs", str(RUNS)]
        print("$", " ".join(command))
        with torch.no_grad():
            model(ids)  # warm-up
            for _ in range(ROUNDS):
                for _ in range(RUNS):
                    start, cpu_start = time.perf_counter(), time.process_time()
                    model(ids)
                    torch_times.append(time.perf_counter() - start)
                    torch_cpu.append(time.process_time() - cpu_start)
                completed = subprocess.run(command, capture_output=True, text=True, env=environment)
                print(completed.stdout + completed.stderr, end="")
                if completed.returncode != 0:
                    sys.exit(completed.returncode)
                zflow_times.append(float(completed.stdout.rsplit(":", 1)[1].split()[0]) / 1000)
                zflow_cpu.append(float(completed.stdout.split("per encode, median:")[1].split()[0]) / 1000)
        ours = load_file(str(root / "zflow.safetensors"))

    worst = 0.0
    for key, ref in reference.items():
        mine = ours[key]
        if key.endswith(".ids"):
            status = "equal" if torch.equal(mine, ref) else "DIFFERENT"
            print(f"{key:24s} token ids {status}")
            worst = worst if status == "equal" else float("inf")
            continue
        assert mine.shape == ref.shape, f"{key}: shape {tuple(mine.shape)} != {tuple(ref.shape)}"
        error = (mine - ref).abs().max().item()
        peak = ref.abs().max().item()
        worst = max(worst, error / peak)
        print(f"{key:24s} max|a-b| = {error:.3e}  max|ref| = {peak:.3e}  ratio = {error / peak:.3e}")
    torch_ms = statistics.median(torch_times) * 1000
    zflow_ms = statistics.median(zflow_times) * 1000
    torch_cpu_ms = statistics.median(torch_cpu) * 1000
    zflow_cpu_ms = statistics.median(zflow_cpu) * 1000
    print(f"PyTorch {torch.__version__} ({args.threads} threads) median of {len(torch_times)} runs: "
          f"{torch_ms:.1f} ms wall, {torch_cpu_ms:.1f} ms process CPU")
    print(f"ZFlow median of {ROUNDS} rounds (each the median of {RUNS} runs): {zflow_ms:.1f} ms wall, "
          f"{zflow_cpu_ms:.1f} ms working CPU")
    print(f"ratio ZFlow/PyTorch: wall {zflow_ms / torch_ms:.2f}, CPU {zflow_cpu_ms / torch_cpu_ms:.2f} (floor 1.25); "
          f"load average {os.getloadavg()[0]:.1f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"PyTorch process peak RSS {peak:.0f} MB (includes building the model and writing the folder)")
    print(f"worst max|a-b|/max|ref| = {worst:.3e} (target <= 1e-3): {'PASS' if worst <= 1e-3 else 'FAIL'}")


if __name__ == "__main__":
    main()
