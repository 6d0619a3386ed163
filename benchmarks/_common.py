"""Helpers the benchmark scripts share: the machine, the data, timing, the table, the JSON."""

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine():
    """What the figures were taken on: CPU, cores, torch threads, GPU, versions."""
    import sklearn
    import skorch
    import torch

    import sklearn_aclr

    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": {
            "sklearn_aclr": sklearn_aclr.__version__, "torch": torch.__version__,
            "skorch": skorch.__version__, "sklearn": sklearn.__version__,
        },
    }
    return info


def background(n_events, random_state=0):
    """``n_events`` background events of the embedded demo data, tiled if more are asked for."""
    from sklearn_aclr.datasets import load_demo

    demo = load_demo()
    events = demo.data[demo.target == 0]
    if n_events > len(events):
        events = np.concatenate([events] * (n_events // len(events) + 1))
    rng = np.random.default_rng(random_state)
    return np.ascontiguousarray(events[rng.permutation(len(events))[:n_events]])


def best_of(fn, repeat=3):
    """The shortest wall time of ``repeat`` calls of ``fn()``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def print_table(rows, columns, title=None):
    """Print ``rows`` (dicts) as a fixed-width table of ``columns`` (key, header, format)."""
    if title:
        print(f"\n{title}")
    widths = [max(len(header), 10) for _, header, _ in columns]
    print("  ".join(f"{header:>{w}}" for (_, header, _), w in zip(columns, widths)))
    for row in rows:
        cells = []
        for (key, _, fmt), w in zip(columns, widths):
            value = row.get(key)
            cells.append(f"{'-' if value is None else format(value, fmt):>{w}}")
        print("  ".join(cells))


def write_report(name, report, output=None):
    """Write ``report`` plus the machine to ``benchmarks/results/<name>.json``; return the path."""
    path = Path(output) if output else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {"benchmark": name, "machine": machine(), **report}
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {path}")
    return path
