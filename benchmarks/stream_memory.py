"""Peak memory of fitting and scoring on a large HDF5 file: streamed versus loaded.

Writes a file of ``--n-events`` ADC2021-layout events (the parametric sampler
``make_adc_events``, which is fast; memory does not depend on the physics) and runs each
scenario in a fresh process, reporting its peak resident memory (``ru_maxrss``) and wall time:

- ``loaded``: the whole file read into memory, EventScaler + AutoEncoderScorer fitted and the
  events scored, as one would without streaming;
- ``stream-baseline``: the same fit and scoring on ``ADC2021Stream`` objects;
- ``loaded-anomalyclr``: the file read into memory, AnomalyCLRTransformer fitted for one epoch
  and the events transformed (a small encoder, so that an epoch over a million events takes
  minutes);
- ``stream-anomalyclr``: the same on the stream, read in shuffled blocks.

Besides the total time, each AnomalyCLR scenario reports the time of its training epoch
(``epoch_seconds``): the issue's target is a streamed epoch at >= 0.8x the speed of the
loaded one, with a peak RSS under 1.5 GB.

Usage::

    python benchmarks/stream_memory.py                 # 1,000,000 events
    python benchmarks/stream_memory.py --n-events 200000

Prints a table and writes ``benchmarks/results/stream_memory.json``.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from _common import print_table, write_report

SCENARIOS = ("loaded", "stream-baseline", "loaded-anomalyclr", "stream-anomalyclr")


def write_file(path, n_events, block=100_000):
    from sklearn_aclr.datasets import ADC2021Writer, make_adc_events

    with ADC2021Writer(path, attrs={"source": "make_adc_events"}) as writer:
        for i, start in enumerate(range(0, n_events, block)):
            events, _ = make_adc_events(min(block, n_events - start), random_state=i)
            writer.append(events)


def run(scenario, path):
    """One scenario in this process; returns what it measured."""
    import numpy as np

    from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer, EventScaler
    from sklearn_aclr.datasets import ADC2021Stream, load_adc2021

    scorer = AutoEncoderScorer(max_epochs=1, batch_size=1024, early_stopping=False,
                               random_state=0)
    start = time.perf_counter()
    if scenario == "loaded":
        events = load_adc2021(path)
        features = EventScaler().fit_transform(events)
        scores = scorer.fit(features).anomaly_score(features)
    elif scenario == "stream-baseline":
        scaler = EventScaler().fit(ADC2021Stream(path))
        features = ADC2021Stream(path, transform=scaler)
        scores = scorer.fit(features).anomaly_score(features)
    else:
        clr = AnomalyCLRTransformer(d_model=16, n_heads=2, n_layers=1, dim_feedforward=32,
                                    output_dim=8, max_epochs=1, batch_size=1024,
                                    early_stopping=False, random_state=0)
        data = load_adc2021(path) if scenario == "loaded-anomalyclr" else ADC2021Stream(path)
        scores = clr.fit(data).transform(data)
        epoch = float(clr.net_.history[-1, "dur"])
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    out = {"scenario": scenario, "peak_rss_mb": round(peak_mb), "seconds": round(seconds, 1),
           "n_scores": int(np.shape(scores)[0])}
    if scenario.endswith("anomalyclr"):
        out["epoch_seconds"] = round(epoch, 1)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-events", type=int, default=1_000_000)
    parser.add_argument("--scenario", choices=SCENARIOS, help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--output")
    args = parser.parse_args()
    if args.scenario:  # child process
        print(json.dumps(run(args.scenario, args.path)))
        return

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "events.h5")
        write_file(path, args.n_events)
        size_mb = os.path.getsize(path) / 2**20
        results = []
        for scenario in SCENARIOS:
            out = subprocess.run(
                [sys.executable, __file__, "--scenario", scenario, "--path", path],
                check=True, capture_output=True, text=True,
            ).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
            print(results[-1], flush=True)

    write_report("stream_memory", {"n_events": args.n_events, "file_mb": round(size_mb),
                                   "results": results}, args.output)
    print_table(results, [("scenario", "scenario", ""), ("peak_rss_mb", "peak RSS [MB]", "d"),
                          ("seconds", "time [s]", ""), ("epoch_seconds", "epoch [s]", "")],
                title=f"{args.n_events:,} events, HDF5 file {size_mb:.0f} MB")
    epochs = {r["scenario"]: r.get("epoch_seconds") for r in results}
    if epochs.get("loaded-anomalyclr") and epochs.get("stream-anomalyclr"):
        print(f"streamed epoch speed / loaded: "
              f"{epochs['loaded-anomalyclr'] / epochs['stream-anomalyclr']:.2f} (target >= 0.8)")

if __name__ == "__main__":
    main()
