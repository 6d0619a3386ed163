"""Kernel launches and device busy fraction of AnomalyCLR training steps, under the profiler.

Where ``step_ops.py`` counts the operations a step dispatches (the same on every machine), this
script measures what they cost on the device at hand: one epoch of
``AnomalyCLRTransformer.fit`` (``--steps`` batches, after a warm-up epoch that also compiles
where ``--compile`` is given) runs under ``torch.profiler``, and the report gives per step

- ``kernels``: kernels (and device copies and fills) that ran on the GPU;
- ``launch_calls``: the host's calls that launch them (``cudaLaunchKernel`` and kin);
- ``device_busy``: the share of the step's wall time in which at least one kernel ran, from
  the union of the kernels' time intervals (issue 16's target: above 80% at batch 256);
- ``wall_ms``: the wall time of a step.

On a CPU there are no kernels: the script then reports the wall time and the aten operations
the profiler saw called from outside other aten operations (composite operations such as
``linear`` count once, where ``step_ops.py`` counts what they decompose into). That is how to
test the script anywhere before a GPU is lent.

Usage::

    python benchmarks/step_profile.py --device cuda --batch-size 256
    python benchmarks/step_profile.py --device cuda --batch-size 4096 --compile
    python benchmarks/step_profile.py --steps 4 --batch-size 64   # CPU, a few seconds
"""

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from _common import background, write_report

LAUNCHES = ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC", "cudaMemcpyAsync",
            "cudaMemsetAsync", "cudaGraphLaunch")


def busy_time(intervals):
    """Total length of the union of (start, end) intervals."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def _outermost_aten(event):
    """Whether ``event`` is an aten operation called from outside any other aten operation."""
    if not event.name.startswith("aten::"):
        return False
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith("aten::"):
            return False
        parent = parent.cpu_parent
    return True


def profile_epoch(args):
    """Fit one warm-up epoch, then profile one more; the measured figures per step."""
    from sklearn_aclr import AnomalyCLRTransformer

    X = background(args.steps * args.batch_size)
    clr = AnomalyCLRTransformer(batch_size=args.batch_size, max_epochs=1, early_stopping=False,
                                device=args.device, random_state=0, compile=args.compile)
    clr.fit(X)  # warm-up: allocations, kernels' autotuning, compilation
    cuda = torch.device(clr.device_).type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    clr.set_params(warm_start=True, max_epochs=2)
    if cuda:
        torch.cuda.synchronize()
    with profile(activities=activities) as prof:
        start = time.perf_counter()
        clr.fit(X)
        if cuda:
            torch.cuda.synchronize()
        wall = time.perf_counter() - start
    events = prof.events()
    row = {"batch_size": args.batch_size, "steps": args.steps, "compile": args.compile,
           "device": str(clr.device_), "wall_ms": 1e3 * wall / args.steps,
           "epoch_s_history": float(clr.net_.history[-1, "dur"])}
    if cuda:
        kernels = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
        intervals = [(e.time_range.start, e.time_range.end) for e in kernels]
        launches = sum(1 for e in events if e.name in LAUNCHES)
        row.update(kernels=len(kernels) / args.steps, launch_calls=launches / args.steps,
                   device_busy=busy_time(intervals) / 1e6 / wall)
    else:
        row.update(aten_ops=sum(map(_outermost_aten, events)) / args.steps)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20, help="batches in the profiled epoch")
    parser.add_argument("--compile", action="store_true", help="fit with compile=True")
    parser.add_argument("--output")
    args = parser.parse_args()
    row = profile_epoch(args)
    for key, value in row.items():
        print(f"{key:>16}: {value:.3f}" if isinstance(value, float) else f"{key:>16}: {value}")
    write_report("step_profile", row, args.output)


if __name__ == "__main__":
    main()
