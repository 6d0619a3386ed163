"""Every GPU measurement of issue 16 in one run of a few minutes, into one JSON file.

GPU time is lent rarely and briefly, so the measurements are prepared as one script, tested on
a CPU (``--quick``), and run once where a GPU is lent. Each check is one of the benchmark
scripts in a subprocess with its own time limit, most important first; the summary is
rewritten after every check, so a run cut short keeps what it finished.

1. ``step_profile`` at batch 256: kernels per step and device busy fraction (target > 80%).
2. ``training_throughput`` at batch 256: the estimator, the bare loop and the published port
   on the same events (targets: >= 50,000 events/s; estimator >= 0.9x the bare loop and >= 2x
   the port).
3. ``inference_throughput`` at the default ``inference_batch_size="auto"`` and larger batches
   (target: >= 5,000,000 events/s with the defaults).
4. ``training_throughput`` at batch 4096, estimator and bare loop (target: >= 500,000
   events/s).
5. ``step_profile`` at batch 4096.
6. ``training_throughput`` at batch 256 with ``compile=True`` (compiling takes a minute or
   two; last, so that it cannot crowd out the others).

Usage::

    python benchmarks/gpu_checks.py --device cuda --output-dir "$OUT"   # at most 9 minutes
    python benchmarks/gpu_checks.py --quick                             # CPU, about a minute
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import RESULTS, machine

HERE = Path(__file__).parent


def checks(quick):
    """(name, script, arguments, time limit in seconds), most important first."""
    n, big, steps = (512, 1024, 2) if quick else (16384, 65536, 20)
    inference = ["--n-events", str(2048 if quick else 262144), "--batch-sizes", "auto"]
    inference += ["4096"] if quick else ["16384", "65536"]
    training = ["--epochs", "2" if quick else "3", "--rounds", "1"]
    return [
        ("step_profile_b256", "step_profile.py", ["--batch-size", "256", "--steps", str(steps)],
         120),
        ("training_b256", "training_throughput.py",
         ["--batch-size", "256", "--n-events", str(n), *training,
          "--methods", "estimator", "bare-loop", "published-port"], 240),
        ("inference", "inference_throughput.py", inference, 120),
        ("training_b4096", "training_throughput.py",
         ["--batch-size", "4096", "--n-events", str(big), *training,
          "--methods", "estimator", "bare-loop"], 120),
        ("step_profile_b4096", "step_profile.py",
         ["--batch-size", "4096", "--steps", str(steps)], 120),
        ("training_b256_compiled", "training_throughput.py",
         ["--batch-size", "256", "--n-events", str(n), *training,
          "--methods", "estimator-compiled"], 300),
    ]


def run_check(name, script, arguments, limit, device, folder):
    """Run one benchmark script; its report, exit status, time and the end of its output."""
    output = folder / f"{name}.json"
    command = [sys.executable, str(HERE / script), *arguments, "--device", device,
               "--output", str(output)]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit)
        status, text = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as error:
        # What the script printed before it was stopped; bytes here even with text=True.
        status, text = "timeout", error.stdout or ""
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
    report = json.loads(output.read_text()) if output.exists() else None
    return {"command": command[1:], "status": status,
            "seconds": round(time.perf_counter() - start, 1), "report": report,
            "output_tail": text[-2000:]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--output-dir", default=str(RESULTS / "gpu_checks"))
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, to test the script on a CPU")
    parser.add_argument("--only", nargs="*", help="names of the checks to run")
    parser.add_argument("--budget", type=float, default=540.0,
                        help="seconds for all checks; none starts with under 30 s left")
    args = parser.parse_args()
    if args.quick and args.device == "cuda":
        args.device = "cpu"
    folder = Path(args.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    summary_path = folder / "summary.json"
    summary = {"machine": machine(), "device": args.device, "quick": args.quick, "checks": {}}
    deadline = time.perf_counter() + args.budget
    for name, script, arguments, limit in checks(args.quick):
        if args.only and name not in args.only:
            continue
        limit = min(limit, deadline - time.perf_counter())
        if limit < 30:
            summary["checks"][name] = {"status": "not run: out of budget"}
            continue
        print(f"{name}: running (limit {limit:.0f} s)", flush=True)
        result = run_check(name, script, arguments, limit, args.device, folder)
        summary["checks"][name] = result
        summary_path.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"{name}: {result['status']} in {result['seconds']} s", flush=True)
    failed = [n for n, r in summary["checks"].items() if r["status"] != 0]
    print(f"wrote {summary_path}; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
