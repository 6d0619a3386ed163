"""Scaling of AnomalyCLR training: time per epoch against the number of events (it should be
linear) and against the number of enabled anomalous augmentations.

Each point fits a default-size AnomalyCLRTransformer for ``--epochs`` epochs without early
stopping and takes the fastest epoch after the first; the per-event cost shows linearity.

Usage::

    python benchmarks/scaling.py
    python benchmarks/scaling.py --n-events 2048 4096 8192 16384 32768 --device cuda
"""

import argparse

from _common import background, print_table, write_report

ANOMALOUS = ["add_objects", "collinear_split", "shift_met", "scale_pt"]


def epoch_seconds(X, args, **params):
    from sklearn_aclr import AnomalyCLRTransformer

    clr = AnomalyCLRTransformer(max_epochs=args.epochs, early_stopping=False,
                                device=args.device, random_state=0, **params).fit(X)
    durations = [float(d) for d in clr.net_.history[:, "dur"]]
    return min(durations[1:] or durations)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-events", type=int, nargs="+", default=[1024, 2048, 4096, 8192,
                                                                       16384])
    parser.add_argument("--n-events-augmentations", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output")
    args = parser.parse_args()

    by_size = []
    for n in args.n_events:
        seconds = epoch_seconds(background(n), args)
        by_size.append({"n_events": n, "epoch_s": seconds, "us_per_event": 1e6 * seconds / n})
        print(by_size[-1], flush=True)
    by_augmentations = []
    X = background(args.n_events_augmentations)
    for k in range(1, len(ANOMALOUS) + 1):
        seconds = epoch_seconds(X, args, anomalous=ANOMALOUS[:k])
        by_augmentations.append({"n_anomalous": k, "augmentations": ", ".join(ANOMALOUS[:k]),
                                 "epoch_s": seconds, "us_per_event": 1e6 * seconds / len(X)})
        print(by_augmentations[-1], flush=True)

    print_table(by_size, [("n_events", "events", "d"), ("epoch_s", "epoch [s]", ".2f"),
                          ("us_per_event", "us/event", ".0f")],
                title=f"Epoch time against the number of events ({args.device})")
    print_table(by_augmentations, [("n_anomalous", "anomalous", "d"),
                                   ("epoch_s", "epoch [s]", ".2f"),
                                   ("us_per_event", "us/event", ".0f"),
                                   ("augmentations", "enabled", "")],
                title=f"Epoch time against the anomalous augmentations, {len(X)} events")
    write_report("scaling", {"epochs": args.epochs, "device": args.device,
                             "by_n_events": by_size, "by_n_anomalous": by_augmentations},
                 args.output)


if __name__ == "__main__":
    main()
