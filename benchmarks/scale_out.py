"""Scale-out, measured: data-parallel training over processes, and a grid search over Dask.

- Data-parallel: ``examples/distributed_training.py`` started by ``torchrun`` with 1, 2, ...
  processes (``--nproc``). On a CPU machine each process gets one thread (gloo backend), which
  simulates one device per process: the throughput of an epoch in events/s and the scaling
  efficiency, throughput(N) / (N x throughput(1)). On a GPU node pass ``--gpu`` to give each
  process its own GPU (NCCL).
- Model selection: ``GridSearchCV`` over background folds, serial (one process, one torch
  thread) against a Dask ``LocalCluster`` of as many single-threaded worker processes: the
  speed-up and whether the results agree.

Usage::

    python benchmarks/scale_out.py                 # 1 and 2 processes, about 5 minutes
    python benchmarks/scale_out.py --nproc 1 2 4 --gpu
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import print_table, write_report

ROOT = Path(__file__).resolve().parents[1]


def data_parallel(n_processes, n_events, epochs, gpu):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if not gpu:
        env["ACCELERATE_USE_CPU"] = "true"
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc_per_node", str(n_processes),
                   str(ROOT / "examples" / "distributed_training.py"),
                   "--n-events", str(n_events), "--epochs", str(epochs), "--output", folder]
        subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        reports = [json.loads((Path(folder) / f"process{i}.json").read_text())
                   for i in range(n_processes)]
    # The epochs after the first (which warms up), the slowest process of each.
    durations = np.max([r["epoch_seconds"][1:] for r in reports], axis=0)
    return {"processes": n_processes, "epoch_seconds": round(float(np.median(durations)), 2),
            "events_per_second": round(n_events / float(np.median(durations))),
            "same_model": len({r["weights_sum"] for r in reports}) == 1}


def _quiet():
    """Signal is scored on purpose: no extrapolation warnings (in this process or a worker)."""
    import warnings

    from sklearn_aclr.exceptions import ExtrapolationWarning

    warnings.simplefilter("ignore", ExtrapolationWarning)


def grid_search(n_workers):
    import joblib
    import torch
    from distributed import Client, LocalCluster
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from sklearn_aclr import AutoEncoderScorer, EventScaler
    from sklearn_aclr.datasets import load_demo
    from sklearn_aclr.distributed import TorchThreads
    from sklearn_aclr.metrics import anomaly_auc_scorer
    from sklearn_aclr.model_selection import BackgroundKFold

    X, y = load_demo(signal="Ato4l", return_X_y=True)
    pipe = make_pipeline(EventScaler(), AutoEncoderScorer(max_epochs=10, early_stopping=False,
                                                          random_state=0))
    search = GridSearchCV(pipe, {"autoencoderscorer__latent_dim": [2, 4, 6, 8]},
                          cv=BackgroundKFold(2), scoring=anomaly_auc_scorer, refit=False)
    torch.set_num_threads(1)
    _quiet()
    start = time.perf_counter()
    serial = search.set_params(n_jobs=1).fit(X, y).cv_results_["mean_test_score"]
    serial_seconds = time.perf_counter() - start
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.register_plugin(TorchThreads(1))
        client.run(_quiet)
        start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            parallel = search.set_params(n_jobs=-1).fit(X, y).cv_results_["mean_test_score"]
        parallel_seconds = time.perf_counter() - start
    return {"workers": n_workers, "fits": 8, "serial_seconds": round(serial_seconds, 1),
            "dask_seconds": round(parallel_seconds, 1),
            "speed_up": round(serial_seconds / parallel_seconds, 2),
            "same_results": bool(np.array_equal(serial, parallel))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", nargs="*", type=int, default=[1, 2])
    parser.add_argument("--n-events", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--gpu", action="store_true", help="one GPU per process")
    parser.add_argument("--output")
    args = parser.parse_args()

    rows = [data_parallel(n, args.n_events, args.epochs, args.gpu) for n in args.nproc]
    base = rows[0]["events_per_second"] / rows[0]["processes"]
    for row in rows:
        row["efficiency"] = round(row["events_per_second"] / (row["processes"] * base), 2)
    print_table(rows, [("processes", "processes", "d"), ("epoch_seconds", "epoch [s]", ""),
                       ("events_per_second", "events/s", "d"), ("efficiency", "efficiency", ""),
                       ("same_model", "same model", "")],
                title=f"data-parallel training, {args.n_events} demo events, default encoder")
    search = grid_search(max(args.nproc))
    print_table([search], [("workers", "workers", "d"), ("serial_seconds", "serial [s]", ""),
                           ("dask_seconds", "Dask [s]", ""), ("speed_up", "speed-up", ""),
                           ("same_results", "same results", "")],
                title="GridSearchCV, 4 candidates x 2 background folds")
    write_report("scale_out", {"n_events": args.n_events, "epochs": args.epochs, "gpu": args.gpu,
                               "data_parallel": rows, "grid_search": search}, args.output)


if __name__ == "__main__":
    main()
