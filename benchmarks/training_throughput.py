"""Training throughput of AnomalyCLRTransformer against a bare PyTorch loop and a port of the
published approach, on the same events, at the paper's size (four encoder layers, ``PAPER_SIZE``;
the package's default is two).

- ``estimator``: ``AnomalyCLRTransformer(early_stopping=False).fit(X)``; epoch times from the
  skorch history (augmentations, loss, optimiser step and bookkeeping included).
- ``estimator-compiled``: the same with ``compile=True`` (``torch.compile`` of the encoder);
  not among the default methods, as compiling takes minutes on a CPU.
- ``bare-loop``: the same encoder module, augmentations, loss (the estimator's default) and
  AdamW in a hand-written loop over a shuffled in-memory tensor, the views encoded as the
  estimator does (one pass per view where the encoder packs, on CPUs; one pass for all three
  elsewhere): the floor for framework overhead. Target: the estimator reaches at least 0.9x
  of it.
- ``published-port``: numpy augmentations on the host for each batch and a sequence-first
  encoder with a (batch * heads, N, N) float mask (``_published_port.py``). Target: the
  estimator is at least 2x faster.

Each runs ``--epochs`` epochs in each of ``--rounds`` rounds (alternating the order of the
methods); events per second comes from the median epoch after the first, in the best round.

Usage::

    python benchmarks/training_throughput.py
    python benchmarks/training_throughput.py --n-events 4096 --epochs 2 --device cuda
"""

import argparse
import statistics
import time

import numpy as np
import torch

from _common import background, print_table, write_report
from _published_port import SeqFirstTransformer, anomalous_view, features, physical_view

# The published model's depth, which the port below has: all three methods train the same size.
PAPER_SIZE = {"n_layers": 4}


def estimator_epochs(X, args, compile=False):
    from sklearn_aclr import AnomalyCLRTransformer

    clr = AnomalyCLRTransformer(batch_size=args.batch_size, max_epochs=args.epochs,
                                early_stopping=False, device=args.device, random_state=0,
                                compile=compile, **PAPER_SIZE)
    clr.fit(X)
    return [float(d) for d in clr.net_.history[:, "dur"]]


def compiled_estimator_epochs(X, args):
    """The estimator with ``compile=True``; its first epoch, which compiles, is the warm-up."""
    return estimator_epochs(X, args, compile=True)


def bare_loop_epochs(X, args):
    from sklearn_aclr import AnomalyCLRTransformer
    from sklearn_aclr._layout import get_layout
    from sklearn_aclr.augmentations import (
        Compose,
        OneOf,
        default_augmentations,
        make_augmentation,
    )
    from sklearn_aclr.nn import AnomalyCLREncoder
    from sklearn_aclr.nn.losses import ContrastiveLoss
    from sklearn_aclr.preprocessing import fit_scaling

    layout = get_layout("adc2021")
    center, scale = fit_scaling(X, layout)
    torch.manual_seed(0)
    device = torch.device(args.device)
    module = AnomalyCLREncoder(center=center.tolist(), scale=scale.tolist(), collider=True,
                               n_types=5, **PAPER_SIZE).to(device)
    physical_names, anomalous_names = default_augmentations(layout)
    physical = Compose([make_augmentation(name, "adc2021") for name in physical_names])
    anomalous = OneOf([make_augmentation(name, "adc2021") for name in anomalous_names])
    defaults = AnomalyCLRTransformer()
    criterion = ContrastiveLoss(kind=defaults.loss, temperature=defaults.temperature)
    optimizer = torch.optim.AdamW(module.parameters(), lr=5e-4)
    events = torch.as_tensor(X, device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    durations = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        module.train()
        for idx in torch.randperm(len(events), device=device).split(args.batch_size):
            batch = events[idx]
            views = [batch, physical(batch, generator=generator),
                     anomalous(batch, generator=generator)]
            if module.packs(batch):
                z = torch.cat([module(view) for view in views])
            else:
                z = module(torch.cat(views))
            loss = criterion(z)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        _sync(device)
        durations.append(time.perf_counter() - start)
    return durations


def published_port_epochs(X, args):
    from sklearn_aclr.nn.losses import anomclr_loss

    torch.manual_seed(0)
    device = torch.device(args.device)
    module = SeqFirstTransformer().to(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=5e-4)
    rng = np.random.default_rng(0)
    X = X.astype(np.float64)
    durations = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        module.train()
        for idx in np.array_split(rng.permutation(len(X)), -(-len(X) // args.batch_size)):
            batch = X[idx]
            views = [batch, physical_view(batch, rng), anomalous_view(batch, rng)]
            z = [module(torch.from_numpy(features(v)).to(device)) for v in views]
            loss = anomclr_loss(*z, temperature=0.1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        _sync(device)
        durations.append(time.perf_counter() - start)
    return durations


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


METHODS = {
    "estimator": estimator_epochs,
    "estimator-compiled": compiled_estimator_epochs,
    "bare-loop": bare_loop_epochs,
    "published-port": published_port_epochs,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-events", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS),
                        default=[m for m in METHODS if m != "estimator-compiled"])
    parser.add_argument("--output")
    args = parser.parse_args()

    X = background(args.n_events)
    # Rounds alternate the order of the methods, so that warm-up and drifts of the machine
    # do not favour one of them; each method keeps its best round.
    epochs = {name: [] for name in args.methods}
    for round_ in range(args.rounds):
        order = args.methods if round_ % 2 == 0 else args.methods[::-1]
        for name in order:
            durations = METHODS[name](X, args)
            epochs[name].append(durations)
            print(f"round {round_ + 1}, {name}: {[round(d, 2) for d in durations]}", flush=True)
    rows = []
    for name in args.methods:
        # the median epoch after the first (warm-up) of each round; the best round counts
        seconds = min(statistics.median(d[1:] or d) for d in epochs[name])
        rows.append({"method": name, "epoch_s": seconds, "events_per_s": len(X) / seconds,
                     "epoch_seconds": epochs[name]})
    reference = {r["method"]: r["events_per_s"] for r in rows}
    for row in rows:
        if "estimator" in reference:
            row["estimator_speedup"] = reference["estimator"] / row["events_per_s"]
    print_table(rows, [("method", "method", ""), ("epoch_s", "epoch [s]", ".2f"),
                       ("events_per_s", "events/s", ".0f"),
                       ("estimator_speedup", "estimator / this", ".2f")],
                title=f"AnomalyCLR training, {len(X)} events, batch {args.batch_size}, "
                      f"{args.device}")
    write_report("training_throughput", {
        "n_events": len(X), "batch_size": args.batch_size, "epochs": args.epochs,
        "rounds": args.rounds,
        "device": args.device, "results": rows,
    }, args.output)


if __name__ == "__main__":
    main()
