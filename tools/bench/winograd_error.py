#!/usr/bin/env python3
"""Rounding error of Winograd F(2x2,3x3) and F(4x4,3x3) in float32 against a direct float32 sum.

    tools/.venv/bin/python tools/bench/winograd_error.py [--channels 128,512,1280] [--trials 20]

One 3x3 convolution of C input channels (inputs N(0,1), weights N(0, 1/(9C)) as a trained layer's
output scale), 4 x 4 outputs of 8 output channels per trial, each algorithm in float32 against the
float64 sum; prints, per C, the median and the largest error over the trials in units of the
largest |output|. F(2x2,3x3) is ZFlow's (Sources/ZFlowTensor/Winograd.swift: Lavin & Gray's
matrices); F(4x4,3x3) uses their matrices with the points 0, +-1, +-2. docs/benchmarks.md (Zen 1,
"Why the whole run stays above 0.60") uses this to leave F(4x4,3x3) out. numpy only.
"""
import argparse

import numpy as np

F2 = (  # Bᵀ, G, Aᵀ
    [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
    [[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]],
    [[1, 1, 1, 0], [0, 1, -1, -1]],
)
F4 = (
    [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
     [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
    [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
     [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
    [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
)


def winograd_tile(matrices, patch, weight):
    """One output tile of every output channel, every step rounded to float32."""
    bt, g, at = (np.array(m, np.float32) for m in matrices)
    u = np.einsum("ij,ocjk,lk->ocil", g, weight, g).astype(np.float32)
    v = np.einsum("ij,cjk,lk->cil", bt, patch, bt).astype(np.float32)
    m = np.einsum("ocij,cij->oij", u, v).astype(np.float32)
    return np.einsum("ij,ojk,lk->oil", at, m, at).astype(np.float32)


def direct(patch, weight, dtype):
    out = np.zeros((weight.shape[0], 4, 4), dtype)
    for y in range(4):
        for x in range(4):
            out[:, y, x] = np.einsum("ocij,cij->o", weight.astype(dtype), patch[:, y:y + 3, x:x + 3].astype(dtype))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", default="128,512,1280")
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| input channels | direct f32, median [max] | F(2x2,3x3) | F(4x4,3x3) |")
    print("|---|---|---|---|")
    for channels in (int(c) for c in args.channels.split(",")):
        errors = {"direct": [], "f2": [], "f4": []}
        for _ in range(args.trials):
            patch = rng.standard_normal((channels, 6, 6)).astype(np.float32)
            weight = (rng.standard_normal((8, channels, 3, 3)) / np.sqrt(9 * channels)).astype(np.float32)
            exact = direct(patch, weight, np.float64)
            f2 = np.zeros_like(exact, dtype=np.float32)
            for ty in range(2):
                for tx in range(2):
                    f2[:, 2 * ty:2 * ty + 2, 2 * tx:2 * tx + 2] = winograd_tile(
                        F2, patch[:, 2 * ty:2 * ty + 4, 2 * tx:2 * tx + 4], weight)
            scale = np.abs(exact).max()
            for name, result in (("direct", direct(patch, weight, np.float32)), ("f2", f2),
                                 ("f4", winograd_tile(F4, patch, weight))):
                errors[name].append(np.abs(result - exact).max() / scale)
        cells = [f"{np.median(errors[k]):.1e} [{np.max(errors[k]):.1e}]" for k in ("direct", "f2", "f4")]
        print(f"| {channels} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
