"""LD-ZNet pipeline, ZFlow against PyTorch in alternating rounds (issue 11, "measure like a user").

    tools/.venv/bin/python tools/bench/alternate_pipeline.py --weights DIR [--image P] [--prompt T]
        [--rounds 3] [--runs 3] [--cold] [--drop-caches] [--raw FOLDER]

DIR holds sd-v1-random.safetensors and ldznet-random.ckpt (tools/ldznet_pipeline.py --out DIR).
Each round runs PyTorch (`ldznet_pipeline.py --time-only --runs R`, its UNet stopped after tap 10)
then ZFlow (`zflow-bench pipeline graphs/ldznet.zflow --runs R`), each a fresh process on the same
weights, image and prompt; `--cold` runs single-image processes instead (`--cold` on both sides:
process start, weights loaded, one run). The speed of a shared machine drifts within minutes, so
the result is the median of the per-round ratios ZFlow / PyTorch with their range, per stage.

stdout: a markdown section for docs/benchmarks.md. --raw: every process's command, load average,
date, exit code, stdout and stderr, and summary.json. A failed round is listed with its error and
left out of the medians (the count says so); the exit code is then 1.
"""
import argparse
import datetime
import json
import pathlib
import re
import shlex
import statistics
import subprocess
import sys
import time

from pipeline_shared import AREA, LDZNET_FILE, SD_FILE, cpu_model

ROOT = pathlib.Path(__file__).resolve().parents[2]

# (row, PyTorch JSON key, ZFlow node types summed, or the key of a ZFlow summary line)
STEADY_ROWS = [
    ("VAE encode", "vae_encode", ["VAEEncode"]),
    ("CLIP text", "clip_text", ["CLIPTextEncode"]),
    ("SD UNet to tap 10", "sd_unet", ["UNetFeatures"]),
    ("attention pools + ZNet + head", "znet", ["AttentionPool", "ZNet"]),
    ("**whole run**", "total_timed", "run"),
]
# No "run itself" row: ZFlow loads weights inside its first run, PyTorch before it; the
# PyTorch split is printed below the table instead.
COLD_ROWS = [
    ("**process start -> end of the run**", "cold_total", "cold"),
    ("process wall, measured outside (start to exit)", "outside_wall", "outside_wall"),
]
NODE_LINE = re.compile(r"^(?P<name>.+?)\s+(?P<type>[A-Za-z0-9_]+)\s+(?P<seconds>[0-9.]+)\s+(?P<cpus>[0-9.]+|nan)"
                       r"(?:\s+\(beside .+\))?\s*$")
SUMMARY_LINES = {
    "run": re.compile(r"^run \(wall, median of \d+\): ([0-9.]+) s"),
    "cold": re.compile(r"^cold process \(start, load, one run\): ([0-9.]+) s"),
    "peak_rss_gb": re.compile(r"^peak resident memory: ([0-9.]+) GB"),
}


class RoundFailed(Exception):
    pass


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def parse_pytorch(stdout):
    try:
        return json.loads(stdout[stdout.index("{"):])
    except ValueError as error:
        raise RoundFailed(f"PyTorch printed no timing JSON ({error})") from None


def parse_zflow(stdout):
    """The summary lines, the node table (seconds and CPUs by node) and the `CPU:` line."""
    result = {"nodes": [], "cpu_line": ""}
    table = False
    for line in stdout.splitlines():
        if line.startswith("CPU: "):
            result["cpu_line"] = line[len("CPU: "):]
        if line.startswith("params: "):
            result["params"] = shlex.split(line[len("params: "):])
        for key, pattern in SUMMARY_LINES.items():
            if match := pattern.match(line):
                result[key] = float(match.group(1))
        if line.startswith("node ") and "median s" in line:
            table = True
        elif table and (match := NODE_LINE.match(line)):
            result["nodes"].append({"name": match["name"], "type": match["type"], "seconds": float(match["seconds"]),
                                    "cpus": float(match["cpus"])})
        elif table:
            table = False
    # The sizes must match: graphs/ldznet.zflow's default area is the demo's (192), not PyTorch's.
    if f"area={AREA}" not in result.get("params", []):
        raise RoundFailed(f"ZFlow ran with params {result.get('params')}, not area={AREA} as PyTorch does")
    return result


def zflow_value(parsed, source):
    if isinstance(source, list):
        nodes = [node for node in parsed["nodes"] if node["type"] in source]
        missing = set(source) - {node["type"] for node in nodes}
        if missing:
            raise RoundFailed(f"ZFlow printed no node of type {', '.join(sorted(missing))}")
        return sum(node["seconds"] for node in nodes)
    if source not in parsed:
        raise RoundFailed(f"ZFlow printed no `{source}` line")
    return parsed[source]


def drop_page_caches():
    """Empties the kernel's page cache (root only), so that a cold process reads its weights from
    disk whichever process read them last: without it a cold round depends on which file pages the
    other side's process (PyTorch peaks at 12 GB) left cached."""
    subprocess.run(["sync"], check=True)
    try:
        pathlib.Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as error:
        raise SystemExit(f"--drop-caches: cannot write /proc/sys/vm/drop_caches ({error}); run as root or leave it out")


def run_process(command, label, raw, timeout, drop_caches=False):
    """Runs one benchmark process; writes its record to raw/label.txt. Returns the record."""
    if drop_caches:
        drop_page_caches()
    record = {"command": shlex.join(command), "loadavg_before": pathlib.Path("/proc/loadavg").read_text().strip(),
              "date": utc_now(), "page_caches_dropped": drop_caches}
    print(f"{label}: {record['command']}", file=sys.stderr)
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        record.update(returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)
    except subprocess.TimeoutExpired as expired:
        record.update(returncode=None, stdout=expired.stdout or "", stderr=f"timed out after {timeout} s")
        record["stdout"] = record["stdout"].decode() if isinstance(record["stdout"], bytes) else record["stdout"]
    record["outside_wall"] = time.perf_counter() - start
    (raw / f"{label}.txt").write_text(
        f"$ {record['command']}\n# {record['date']}, load average before: {record['loadavg_before']}"
        f"{', page caches dropped before' if drop_caches else ''}\n"
        f"# exit code {record['returncode']}, {record['outside_wall']:.2f} s measured outside\n"
        f"--- stdout\n{record['stdout']}--- stderr\n{record['stderr']}")
    if record["returncode"] != 0:
        lines = record["stderr"].strip().splitlines() or ["(no stderr)"]
        message = next((line for line in reversed(lines) if "error" in line.lower()), lines[-1])
        raise RoundFailed(f"{label} exited {record['returncode']}: {message}")
    return record


def shown(command, weights):
    """A command line for the docs: paths inside the repository relative to its root (the reader's
    checkout is elsewhere), the weights folder as $WEIGHTS."""
    words = [str(word).replace(str(pathlib.Path(weights).resolve()), "$WEIGHTS").replace(str(ROOT) + "/", "")
             for word in command]
    return " ".join(f'"{word}"' if "$WEIGHTS" in word else shlex.quote(word) for word in words)


def commands(args):
    common = ["--image", str(args.image), "--prompt", args.prompt]
    pytorch = [args.python, str(ROOT / "tools" / "ldznet_pipeline.py"), "--config", args.config,
               "--out", str(args.weights), *common]
    zflow = [str(args.zflow_bench), "pipeline", str(args.graph), "--set", f"sd={args.weights / SD_FILE}",
             "--set", f"ldznet={args.weights / LDZNET_FILE}", "--set", f"prompt={args.prompt}",
             "--set", f"image={args.image}", "--set", f"area={AREA}", "--set", f"mask_path={args.raw / 'mask.png'}",
             "--set", f"overlay_path={args.raw / 'overlay.png'}"]
    if args.cold:
        return pytorch + ["--cold"], zflow + ["--cold"]
    return pytorch + ["--time-only", "--runs", str(args.runs)], zflow + ["--runs", str(args.runs)]


def one_round(index, args, rows):
    """PyTorch then ZFlow. Returns the round's values, ratios and context; `error` if it failed."""
    pytorch_command, zflow_command = commands(args)
    result = {"round": index, "records": {}}
    try:
        record = run_process(pytorch_command, f"round{index}-pytorch", args.raw, args.timeout, args.drop_caches)
        result["records"]["pytorch"] = record
        pytorch = {**parse_pytorch(record["stdout"]), "outside_wall": record["outside_wall"]}
        record = run_process(zflow_command, f"round{index}-zflow", args.raw, args.timeout, args.drop_caches)
        result["records"]["zflow"] = record
        zflow = {**parse_zflow(record["stdout"]), "outside_wall": record["outside_wall"]}
        result["pytorch"] = {row: pytorch[key] for row, key, _ in rows}
        result["zflow"] = {row: zflow_value(zflow, source) for row, _, source in rows}
        result["pytorch"]["peak RSS (GB)"] = pytorch["peak_rss_gb"]
        result["zflow"]["peak RSS (GB)"] = zflow_value(zflow, "peak_rss_gb")
        result["ratio"] = {row: result["zflow"][row] / result["pytorch"][row] for row in result["pytorch"]}
        result["zflow_cpus"] = {node["name"]: node["cpus"] for node in zflow["nodes"]}
        result["zflow_cpu_line"], result["pytorch_cpu"] = zflow["cpu_line"], pytorch.get("cpu", "?")
        result["pytorch_threads"], result["size"] = pytorch.get("threads", "?"), pytorch.get("size", "?")
        result["pytorch_loaded"] = pytorch.get("process_start_to_loaded")
    except (RoundFailed, KeyError, ZeroDivisionError) as error:
        result["error"] = str(error) if isinstance(error, RoundFailed) else f"missing or zero value {error}"
    return result


def fmt(values, digits=3):
    return ", ".join(f"{value:.{digits}f}" for value in values)


def markdown(args, rows, rounds, started, finished, machine_cpu):
    good = [r for r in rounds if "error" not in r]
    kind = "cold single-image process (load + one run)" if args.cold else f"steady, median of {args.runs} runs after a warm-up"
    size = good[0]["size"] if good else "?"
    lines = [f"### {machine_cpu}: {size}, {kind} ({started} - {finished[11:]})", ""]
    lines.append(f"{len(rounds)} alternating rounds, each PyTorch then ZFlow in fresh processes; ratio ZFlow / PyTorch "
                 f"per round, then the median of the per-round ratios [range]. "
                 f"{len(good)} of {len(rounds)} rounds succeeded.")
    lines.append("")
    if good:
        lines.append("| | PyTorch (s, per round) | ZFlow (s, per round) | ZFlow / PyTorch per round | median ratio [range] |")
        lines.append("|---|---|---|---|---|")
        for row in [row for row, _, _ in rows] + ["peak RSS (GB)"]:
            ratios = [r["ratio"][row] for r in good]
            lines.append(f"| {row} | {fmt(r['pytorch'][row] for r in good)} | {fmt(r['zflow'][row] for r in good)} "
                         f"| {fmt(ratios, 2)} | **{statistics.median(ratios):.2f}** [{min(ratios):.2f}-{max(ratios):.2f}] |")
        lines.append("")
        if args.drop_caches:
            lines.append("The page cache was emptied before every process (`--drop-caches`): both sides read the "
                         "weights from disk.")
            lines.append("")
        if args.cold:
            lines.append("PyTorch process start -> weights loaded (s, per round): "
                         f"{fmt(r['pytorch_loaded'] for r in good)}; ZFlow loads each model inside its first run.")
            lines.append("")
        else:
            names = list(good[0]["zflow_cpus"])
            lines.append("ZFlow CPUs per node (working CPU time / wall time while the node ran; per round): "
                         + "; ".join(f"{name} {fmt((r['zflow_cpus'].get(name, float('nan')) for r in good), 2)}"
                                     for name in names) + ".")
            lines.append("")
        lines.append(f"PyTorch: {good[0]['pytorch_threads']} threads, UNet stopped after tap 10 (a forward hook raises); "
                     f"its whole run is the sum of its timed stages (image preparation included, tokenising not). "
                     f"ZFlow's whole run is the engine's wall time for the graph (image loading, threshold and the two "
                     f"saved PNGs included). ZFlow: `{good[0]['zflow_cpu_line']}`.")
        lines.append("")
    lines += round_notes(rounds)
    pytorch_command, zflow_command = commands(args)
    lines += ["Commands (each round, in this order; the driver: `" + shown(sys.argv, args.weights) + "`):", "",
              "```sh", shown(pytorch_command, args.weights), shown(zflow_command, args.weights), "```", "",
              f"Raw output: `{shown([str(args.raw)], args.weights)}`.", ""]
    return "\n".join(lines)


def round_notes(rounds):
    """Markdown lines on the rounds: the load average before each process, and the failed rounds."""
    failed = [r for r in rounds if "error" in r]
    return ["Load average before each process (1, 5, 15 min): " + "; ".join(
        f"round {r['round']}: " + ", ".join(f"{side} {' '.join(rec['loadavg_before'].split()[:3])}"
                                            for side, rec in r["records"].items()) for r in rounds) + ".", "",
            "Failed rounds: " + ("none." if not failed else "; ".join(f"round {r['round']}: {r['error']}" for r in failed)),
            ""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=pathlib.Path, required=True,
                        help=f"folder with {SD_FILE} and {LDZNET_FILE} (tools/ldznet_pipeline.py --out DIR)")
    parser.add_argument("--config", choices=["full", "tiny"], default="full",
                        help="the architecture of the weights, for PyTorch (tiny: a smoke run of this script)")
    parser.add_argument("--image", type=pathlib.Path, default=ROOT / "examples" / "images" / "chelsea.png",
                        help="chelsea.png gives 448x256; a square photo (astronaut.jpg) gives 384x384")
    parser.add_argument("--prompt", default="a cat")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per process after its warm-up (steady)")
    parser.add_argument("--cold", action="store_true", help="single-image processes: load + one run, both sides")
    parser.add_argument("--drop-caches", action="store_true",
                        help="empty the page cache before every process (root): both sides read the weights from disk")
    parser.add_argument("--raw", type=pathlib.Path, default=None,
                        help="folder for the raw outputs (default out/bench/pipeline-MODE-DATE, git-ignored)")
    parser.add_argument("--zflow-bench", type=pathlib.Path, default=ROOT / ".build" / "release" / "zflow-bench")
    parser.add_argument("--graph", type=pathlib.Path, default=ROOT / "graphs" / "ldznet.zflow")
    parser.add_argument("--python", default=sys.executable, help="the Python that runs ldznet_pipeline.py")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a process counts as failed")
    args = parser.parse_args()
    for name, value in (("--rounds", args.rounds), ("--runs", args.runs)):
        if value < 1:
            parser.error(f"{name} must be at least 1, got {value}")
    args.weights, args.image = args.weights.resolve(), args.image.resolve()
    for path in (args.weights / SD_FILE, args.weights / LDZNET_FILE, args.image, args.zflow_bench, args.graph):
        if not path.is_file():
            parser.error(f"{path}: no such file")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    args.raw = (args.raw or ROOT / "out" / "bench" / f"pipeline-{'cold' if args.cold else 'steady'}-{stamp}").resolve()
    args.raw.mkdir(parents=True, exist_ok=True)
    rows = COLD_ROWS if args.cold else STEADY_ROWS
    started, machine_cpu = utc_now(), cpu_model()
    rounds = []
    for index in range(1, args.rounds + 1):
        rounds.append(one_round(index, args, rows))
        if "error" in rounds[-1]:
            print(f"round {index} failed: {rounds[-1]['error']}", file=sys.stderr)
    section = markdown(args, rows, rounds, started, utc_now(), machine_cpu)
    summary = [{k: v for k, v in r.items() if k != "records"} | {"records": {
        side: {k: v for k, v in rec.items() if k not in ("stdout", "stderr")} for side, rec in r["records"].items()}}
        for r in rounds]
    (args.raw / "summary.json").write_text(
        json.dumps({"cpu": machine_cpu, "argv": sys.argv, "rounds": summary}, indent=2) + "\n")
    (args.raw / "section.md").write_text(section)
    print(section)
    sys.exit(1 if any("error" in r for r in rounds) else 0)


if __name__ == "__main__":
    main()
