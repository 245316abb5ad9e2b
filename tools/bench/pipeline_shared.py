"""What tools/ldznet_pipeline.py and tools/bench/alternate_pipeline.py share without importing
torch: the names of the weight files in the benchmark folder and the CPU's model name."""
import pathlib

SD_FILE, LDZNET_FILE = "sd-v1-random.safetensors", "ldznet-random.ckpt"


def cpu_model():
    """The `model name` of /proc/cpuinfo, as the CPU column of docs/benchmarks.md names it."""
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"
