"""What tools/ldznet_pipeline.py and tools/bench/alternate_pipeline.py share without importing
torch: the names of the weight files in the benchmark folder, the image area both sides run at,
and the CPU's model name."""
import pathlib

SD_FILE, LDZNET_FILE = "sd-v1-random.safetensors", "ldznet-random.ckpt"
# The released LD-ZNet's size (about 384^2 pixels, sides floored to multiples of 64): PyTorch's
# pipeline uses it, and ZFlow's graph gets it explicitly (graphs/ldznet.zflow defaults to the demo's 192).
AREA = 384


def cpu_model():
    """The `model name` of /proc/cpuinfo with its family, model and stepping, as ZFlow's tuning
    key names the CPU (hypervisors often say only "AMD EPYC", for Zen 1 and Zen 4 alike)."""
    fields = {}
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    if "model name" not in fields:
        return "unknown"
    return (f"{fields['model name']} (family {fields.get('cpu family', 'unknown')}, "
            f"model {fields.get('model', 'unknown')}, stepping {fields.get('stepping', 'unknown')})")
