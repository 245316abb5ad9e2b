"""One full-size LD-ZNet training step, ZFlow against the official PyTorch module in alternating
rounds (issue 12).

    tools/.venv/bin/python tools/bench/alternate_train_step.py --repo LD-ZNET-CHECKOUT   # or $LDZNET_REPO
        --trainable all|fusion [--recompute] [--rounds 3] [--steps 3] [--seed 0] [--threads N]
        [--weights FILE] [--raw FOLDER]

Each round runs `train_step_torch.py --json` and `zflow-bench train-step --json` one after the
other, each in a fresh process (so that each peak RSS is one side's; the two never run at once:
each may need 10+ GB), PyTorch first in odd rounds and ZFlow first in even ones. `--recompute` is
ZFlow's --recompute and PyTorch's --checkpoint (the official `use_checkpoint: True`). The speed of
a shared machine drifts by tens of percent within minutes, so the result is the median of the
per-round ratios ZFlow / PyTorch of s/step (each process's median over its steps after the
warm-up) and of peak RSS, with their range. Both sides must train the same number of values, or
the round fails.

stdout: a markdown section for docs/benchmarks.md (the CPU as lscpu names it, UTC start and end).
--raw (default out/bench/train-step-SETTING-DATE, git-ignored): every process's command, load
average, exit code, stdout and stderr, and summary.json. A failed round is listed with its error and
left out of the medians; the exit code is then 1.
"""
import argparse
import datetime
import json
import os
import pathlib
import shlex
import statistics
import sys

from alternate_pipeline import RoundFailed, round_notes, run_process, utc_now
from pipeline_shared import cpu_model

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOALS = {"time": 1.0, "rss": 1.2}


def commands(args):
    common = ["--trainable", args.trainable, "--steps", str(args.steps), "--seed", str(args.seed), "--json"]
    weights = ["--weights", str(args.weights)] if args.weights else []
    pytorch = [args.python, str(ROOT / "tools" / "bench" / "train_step_torch.py"), "--repo", str(args.repo), *common,
               *weights, *(["--checkpoint"] if args.recompute else []),
               *(["--threads", str(args.threads)] if args.threads else [])]
    zflow = [str(args.zflow_bench), "train-step", *common, *weights, *(["--recompute"] if args.recompute else [])]
    return {"pytorch": pytorch, "zflow": zflow}


def parse(record, side):
    try:
        result = json.loads(record["stdout"].strip().splitlines()[-1])
    except (ValueError, IndexError) as error:
        raise RoundFailed(f"{side} printed no JSON ({error})") from None
    if result.get("median_step_s") is None:
        raise RoundFailed(f"{side} timed no step after its warm-up")
    return result


def one_round(index, args):
    order = ["pytorch", "zflow"] if index % 2 == 1 else ["zflow", "pytorch"]
    result = {"round": index, "order": order, "records": {}}
    try:
        for side in order:
            record = run_process(commands(args)[side], f"round{index}-{side}", args.raw, args.timeout)
            result["records"][side] = record
            result[side] = parse(record, side)
        pytorch, zflow = result["pytorch"], result["zflow"]
        if pytorch["trainable_parameters"] != zflow["trainable_parameters"]:
            raise RoundFailed(f"the sides train different parameter sets: PyTorch {pytorch['trainable_parameters']:,} "
                              f"values in {pytorch['trainable_tensors']} tensors, ZFlow {zflow['trainable_parameters']:,} "
                              f"in {zflow['trainable_tensors']}")
        result["ratio"] = {"time": zflow["median_step_s"] / pytorch["median_step_s"],
                           "rss": zflow["peak_rss_gb"] / pytorch["peak_rss_gb"]}
    except (RoundFailed, KeyError, ZeroDivisionError) as error:
        result["error"] = str(error) if isinstance(error, RoundFailed) else f"missing or zero value {error}"
    return result


def summary(values):
    return f"**{statistics.median(values):.2f}** [{min(values):.2f}-{max(values):.2f}]"


def markdown(args, rounds, started, finished, machine_cpu):
    good = [r for r in rounds if "error" not in r]
    mode = f"--trainable {args.trainable}, recompute {'on' if args.recompute else 'off'}"
    lines = [f"### {machine_cpu}: training step, 384x384, batch 1, {mode} ({started} - {finished[11:]})", "",
             f"{len(rounds)} rounds, each side a fresh process, PyTorch first in odd rounds and ZFlow first in even "
             f"ones; s/step is each process's median over its {args.steps - 1} step(s) after a warm-up; ratio ZFlow / "
             f"PyTorch per round, then the median of the per-round ratios [range]. {len(good)} of {len(rounds)} rounds "
             "succeeded.", ""]
    if good:
        lines += ["| round | PyTorch s/step (warm-up) | ZFlow s/step (warm-up) | time ratio | PyTorch peak RSS GB "
                  "| ZFlow peak RSS GB | RSS ratio |", "|---|---|---|---|---|---|---|"]
        for r in good:
            p, z = r["pytorch"], r["zflow"]
            lines.append(f"| {r['round']} ({' then '.join(r['order'])}) | {p['median_step_s']:.2f} ({p['warmup_step_s']:.2f}) "
                         f"| {z['median_step_s']:.2f} ({z['warmup_step_s']:.2f}) | {r['ratio']['time']:.2f} "
                         f"| {p['peak_rss_gb']:.2f} | {z['peak_rss_gb']:.2f} | {r['ratio']['rss']:.2f} |")
        times, rss = [r["ratio"]["time"] for r in good], [r["ratio"]["rss"] for r in good]
        lines += [f"| **median [range]** | | | {summary(times)} | | | {summary(rss)} |", ""]
        verdict = {key: "met" if statistics.median(values) <= GOALS[key] else "**not met**"
                   for key, values in (("time", times), ("rss", rss))}
        first = good[0]
        lines += [f"Issue 12's goal, by the median: time <= {GOALS['time']}x {verdict['time']}, peak RSS <= "
                  f"{GOALS['rss']}x {verdict['rss']}. Both sides train {first['zflow']['trainable_parameters']:,} values "
                  f"({first['zflow']['trainable_tensors']} tensors) of {first['zflow']['parameters']:,}. PyTorch: "
                  f"{first['pytorch']['threads']} threads, official code at {first['pytorch'].get('official_commit', '?')}; "
                  f"ZFlow: all {first['zflow']['threads']} cores.", ""]
    lines += round_notes(rounds)
    lines += ["Commands (each round, in the order above; the driver: `" + shown(sys.argv) + "`):", "", "```sh",
              *(shown(command) for command in commands(args).values()), "```", "",
              f"Raw output: `{shown([str(args.raw)])}`.", ""]
    return "\n".join(lines)


def shown(command):
    """A command line for the docs, with paths inside the repository relative to its root."""
    return " ".join(shlex.quote(str(word).replace(str(ROOT) + "/", "")) for word in command)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=pathlib.Path, default=os.environ.get("LDZNET_REPO"),
                        help="LD-ZNet checkout for the official module (default $LDZNET_REPO)")
    parser.add_argument("--trainable", choices=["all", "fusion"], required=True)
    parser.add_argument("--recompute", action="store_true", help="ZFlow --recompute, PyTorch --checkpoint")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3, help="steps per process, the first a warm-up (at least 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="PyTorch threads (default: its script's, the cores)")
    parser.add_argument("--weights", type=pathlib.Path, help="both sides start from this ZNet training copy (safetensors)")
    parser.add_argument("--raw", type=pathlib.Path, help="folder for the raw outputs (default out/bench/train-step-...)")
    parser.add_argument("--zflow-bench", type=pathlib.Path, default=ROOT / ".build" / "release" / "zflow-bench")
    parser.add_argument("--python", default=sys.executable, help="the Python that runs train_step_torch.py")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a process counts as failed")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.steps < 2:
        parser.error(f"--steps must be at least 2 (a warm-up and a timed step), got {args.steps}")
    if not args.repo:
        parser.error("--repo (or $LDZNET_REPO): the LD-ZNet checkout is needed for the official module")
    for path in [args.zflow_bench] + ([args.weights] if args.weights else []):
        if not path.is_file():
            parser.error(f"{path}: no such file")
    args.repo = args.repo.resolve()
    args.weights = args.weights.resolve() if args.weights else None
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    mode = f"{args.trainable}{'-recompute' if args.recompute else ''}"
    args.raw = (args.raw or ROOT / "out" / "bench" / f"train-step-{mode}-{stamp}").resolve()
    args.raw.mkdir(parents=True, exist_ok=True)
    started, machine_cpu = utc_now(), cpu_model()
    rounds = []
    for index in range(1, args.rounds + 1):
        rounds.append(one_round(index, args))
        if "error" in rounds[-1]:
            print(f"round {index} failed: {rounds[-1]['error']}", file=sys.stderr)
    section = markdown(args, rounds, started, utc_now(), machine_cpu)
    kept = [{k: v for k, v in r.items() if k != "records"} | {"records": {
        side: {k: v for k, v in rec.items() if k not in ("stdout", "stderr")} for side, rec in r["records"].items()}}
        for r in rounds]
    (args.raw / "summary.json").write_text(json.dumps({"cpu": machine_cpu, "argv": sys.argv, "rounds": kept}, indent=2) + "\n")
    (args.raw / "section.md").write_text(section)
    print(section)
    sys.exit(1 if any("error" in r for r in rounds) else 0)


if __name__ == "__main__":
    main()
