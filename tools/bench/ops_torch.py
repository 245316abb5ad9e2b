"""PyTorch CPU on the shapes of `zflow-bench ops` (2 threads, median after one warm-up).

Usage: tools/.venv/bin/python tools/bench/ops_torch.py [--runs N]
Each op's runs alternate with torch.mm 4096^3 runs, as in zflow-bench, so the ratio to the
matmul rate is measured under the same load.
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    torch.set_num_threads(2)
    torch.manual_seed(0)
    a, b = torch.randn(4096, 4096), torch.randn(4096, 4096)
    mm_flops = 2 * 4096**3

    def measure(name, flops, fn):
        with torch.inference_mode():
            fn()
            timed(lambda: torch.mm(a, b))
            times, ratios, refs = [], [], []
            for _ in range(runs):
                seconds = timed(fn)
                ref = mm_flops / timed(lambda: torch.mm(a, b)) / 1e9
                times.append(seconds)
                refs.append(ref)
                ratios.append(flops / seconds / 1e9 / ref)
        seconds = statistics.median(times)
        print(f"{name:44s} {flops / seconds / 1e9:8.1f} {seconds * 1e3:9.1f} {100 * statistics.median(ratios):8.0f}%  "
              f"({statistics.median(refs):.1f})")

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; medians of {runs} runs after one warm-up")
    print(f"{'name':44s}  GFLOP/s        ms  of torch.mm  (torch.mm 4096^3 GFLOP/s alongside)")
    for name, c, o, size, k in [
        ("conv 3x3 320->320 @48x48", 320, 320, 48, 3),
        ("conv 3x3 128->128 @384x384", 128, 128, 384, 3),
        ("conv 3x3 1280->1280 @12x12", 1280, 1280, 12, 3),
        ("conv 3x3 640->640 @24x24", 640, 640, 24, 3),
        ("conv 1x1 320->320 @48x48", 320, 320, 48, 1),
        ("conv 1x1 128->256 @192x192", 128, 256, 192, 1),
        ("conv 1x1 1280->1280 @12x12", 1280, 1280, 12, 1),
    ]:
        x, w, bias = torch.randn(1, c, size, size), torch.randn(o, c, k, k), torch.randn(o)
        measure(name, 2.0 * o * c * k * k * size * size, lambda: F.conv2d(x, w, bias, padding=k // 2))
    for tokens in (4096, 2304):
        heads, width = 8, 320
        q, kk, v = (torch.randn(tokens, width) for _ in range(3))

        def attend():
            split = lambda t: t.reshape(tokens, heads, -1).transpose(0, 1)
            out = F.scaled_dot_product_attention(split(q), split(kk), split(v))
            return out.transpose(0, 1).reshape(tokens, width)

        measure(f"attention {tokens} tok x {heads} heads x {width // heads}", 4.0 * tokens * tokens * width, attend)


if __name__ == "__main__":
    main()
