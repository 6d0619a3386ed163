"""Dispatched aten operations and host-synchronising operations per training step, on CPU.

A training step that launches few operations and never waits for the device is what makes a
GPU fast (issue "Performance at scale": at most 800 operations and 1 host synchronisation per
eager step). Both counts are properties of the code, not of the machine, so they can be
checked anywhere: this script runs ``AnomalyCLRTransformer.fit`` (and, for comparison,
``AutoEncoderScorer.fit``) on demo events under a ``TorchDispatchMode`` that records every
aten operation that reaches a kernel, forward and backward, and divides by the number of
steps. Host-synchronising operations are those whose output shape or value the host must
read before going on: ``item`` (``_local_scalar_dense``), ``nonzero``, boolean-mask indexing
and selection, ``unique``, and ``repeat_interleave`` with tensor repeats. Data loading (the
collation of each batch) is counted too: it is part of every step. Operations that only make
a view of existing memory (``select``, ``view``, ``expand``, ``transpose``, ``detach``, ...)
are counted, and reported apart: on a GPU they launch no kernel. One more step, taken by hand
after the fit, is counted phase by phase (views, encoder, loss, backward, optimiser).

``--gpu-path`` counts the step that runs on GPUs, on any machine: the fused AdamW kernel (on
CPUs the estimators keep the default kernel; see benchmarks/README.md) and the encoder with
fixed shapes (on CPUs it packs the objects of each batch, which needs the host to read the
largest object count). ``--fused`` switches the optimiser alone.

Usage::

    python benchmarks/step_ops.py            # about a minute
    python benchmarks/step_ops.py --gpu-path
    python benchmarks/step_ops.py --n-events 4096 --batch-size 512
"""

import argparse
import collections
from unittest import mock

import numpy as np
import torch
from skorch.callbacks import Callback
from torch.utils._python_dispatch import TorchDispatchMode

from _common import background, print_table, write_report

# Operations that only make a new view of existing memory (or unwrap one): they dispatch, but
# launch no kernel on a GPU. Counted apart from those that compute.
VIEWS = {"detach", "alias", "lift_fresh", "_unsafe_view"}

SYNCING = {"_local_scalar_dense", "nonzero", "masked_select", "unique", "_unique2",
           "unique_consecutive", "unique_dim", "masked_scatter"}


class OpCounter(TorchDispatchMode):
    """Counts the aten operations dispatched inside the ``with`` block, by name."""

    def __init__(self):
        super().__init__()
        self.counts = collections.Counter()
        self.views = collections.Counter()
        self.syncs = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.__name__.split(".")[0]
        self.counts[name] += 1
        if func.is_view or name in VIEWS:
            self.views[name] += 1
        if name in SYNCING or _boolean_index(name, args) or _tensor_repeats(name, args):
            self.syncs[name] += 1
        return func(*args, **(kwargs or {}))


def _boolean_index(name, args):
    """aten.index / index_put with a boolean mask: the result's size needs the mask's count."""
    if name not in ("index", "index_put", "index_put_", "_index_put_impl_"):
        return False
    indices = args[1] if len(args) > 1 else ()
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in indices or ())


def _tensor_repeats(name, args):
    return (name == "repeat_interleave" and len(args) > 1
            and isinstance(args[1], torch.Tensor) and args[1].numel() > 1)


class StepMarks(Callback):
    """Notes the counts of ``counter`` as each training batch begins."""

    def __init__(self, counter):
        self.counter = counter

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            self.counter.marks.append((sum(self.counter.counts.values()),
                                       sum(self.counter.syncs.values())))


def count_fit(make_estimator, X, n_steps):
    """Operations of ``fit``: averaged over its steps (everything ``fit`` dispatches, the
    building of the model and of the optimiser's state included), and per step in steady
    state (from the start of one training batch to the next, from the second batch on: the
    batch's collation, the step, the loop's bookkeeping)."""
    from sklearn_aclr._base import BaseNetEstimator

    counter = OpCounter()
    counter.marks = []
    training_kwargs = BaseNetEstimator._training_kwargs

    def marked(self, *args, **kwargs):  # the nets' callbacks, and StepMarks
        net_kwargs = training_kwargs(self, *args, **kwargs)
        return {**net_kwargs, "callbacks": [*net_kwargs["callbacks"],
                                            ("step_marks", StepMarks(counter))]}

    with mock.patch.object(BaseNetEstimator, "_training_kwargs", marked), counter:
        make_estimator().fit(X)
    total, syncs = sum(counter.counts.values()), sum(counter.syncs.values())
    views = sum(counter.views.values())
    steady = np.diff(np.array(counter.marks), axis=0)[1:]  # (steps - 2, [ops, syncs])
    return {"ops_per_step": total / n_steps, "syncs_per_step": syncs / n_steps,
            "view_ops_per_step": views / n_steps,
            "compute_ops_per_step": (total - views) / n_steps,
            "steady_ops_per_step": int(np.median(steady[:, 0])),
            "steady_ops_range": [int(steady[:, 0].min()), int(steady[:, 0].max())],
            "steady_syncs_per_step": int(np.median(steady[:, 1])),
            "top_ops": dict(counter.counts.most_common(15)),
            "sync_ops": dict(counter.syncs.most_common())}


def count_phases(transformer, X):
    """Operations of one more training step of a fitted ``transformer``, phase by phase.

    The step is taken by hand in the order of the net's ``train_step``: the views, the
    encoder on them (the net's ``encode``: one pass on the fixed-shape path, one per view
    where it packs), the loss, backward, the optimiser. A first step before the counted
    one builds the optimiser's state (its moments and step counts, about three operations per
    parameter), which ``count_fit`` spreads over the epoch.
    """
    net = transformer.net_
    events = torch.as_tensor(X[: transformer.batch_size])
    generator = net._generator("train")
    net.module_.train()

    def step():
        phases = {}

        def run(name, fn):
            counter = OpCounter()
            with counter:
                out = fn()
            phases[name] = sum(counter.counts.values())
            return out

        views = [events,
                 run("physical view", lambda: net.physical(events, generator=generator)),
                 run("anomalous view", lambda: net.anomalous(events, generator=generator))]
        z = run("encoder forward", lambda: net.encode(views))
        loss = run("loss", lambda: net.criterion_(z))
        run("backward", loss.backward)
        run("optimizer step", net.optimizer_.step)
        run("zero_grad", net.optimizer_.zero_grad)
        return phases

    step()
    return step()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-events", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--fused", action="store_true",
                        help="count with the fused AdamW kernel, as on a GPU")
    parser.add_argument("--gpu-path", action="store_true",
                        help="the step as on a GPU: fused AdamW and the fixed-shape encoder")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()

    from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer, EventScaler

    if args.gpu_path:
        from sklearn_aclr.nn import AnomalyCLREncoder

        AnomalyCLREncoder.packing = False
        args.fused = True
    if args.fused:
        from sklearn_aclr._base import BaseNetEstimator

        training_kwargs = BaseNetEstimator._training_kwargs

        def fused(self, *a, **k):
            return {**training_kwargs(self, *a, **k), "optimizer__fused": True}

        BaseNetEstimator._training_kwargs = fused

    torch.set_num_threads(1)  # counts do not depend on threads; timing is not measured here
    X = background(args.n_events)
    n_steps = -(-args.n_events // args.batch_size)  # one epoch, no validation split
    common = dict(batch_size=args.batch_size, max_epochs=1, early_stopping=False,
                  device="cpu", random_state=0)
    transformer = AnomalyCLRTransformer(**common)
    rows = [{"estimator": "AnomalyCLRTransformer", **count_fit(lambda: transformer, X, n_steps)}]
    phases = count_phases(transformer, X)
    features = EventScaler().fit_transform(X)
    rows.append({"estimator": "AutoEncoderScorer", **count_fit(
        lambda: AutoEncoderScorer(**common), features, n_steps)})
    print_table(rows, [("estimator", "estimator", "s"), ("ops_per_step", "aten ops/step", ".0f"),
                       ("view_ops_per_step", "of them views", ".0f"),
                       ("syncs_per_step", "host syncs/step", ".1f"),
                       ("steady_ops_per_step", "steady state: ops/step", "d"),
                       ("steady_syncs_per_step", "syncs/step", "d")],
                title=f"per training step, {args.n_events} demo events, batch {args.batch_size}, "
                      f"{'fused' if args.fused else 'default'} AdamW, "
                      f"{'fixed-shape' if args.gpu_path else 'packed'} encoder "
                      "(targets: <= 800 ops, <= 1 sync)")
    for row in rows:
        print(f"\n{row['estimator']}: synchronising ops {row['sync_ops']}")
        print(f"most frequent ops {row['top_ops']}")
    print("\nAnomalyCLRTransformer, one more step by phase (views included): "
          + ", ".join(f"{name} {n}" for name, n in phases.items())
          + f"; total {sum(phases.values())}")
    write_report("step_ops", {"n_events": args.n_events, "batch_size": args.batch_size,
                              "n_steps": n_steps, "fused": args.fused,
                              "gpu_path": args.gpu_path, "rows": rows,
                              "transformer_phases": phases},
                 args.output)


if __name__ == "__main__":
    main()
