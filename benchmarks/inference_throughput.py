"""Inference throughput: events per second of transform + score, against the batch size, with
the FLOPs per event and the achieved GFLOP/s next to the machine's measured matmul GFLOP/s.

A default-size AnomalyCLRTransformer and AutoEncoderScorer are fitted briefly (the weights do
not change the cost), then ``anomaly_score`` of the pipeline is timed on ``--n-events`` events
for each ``inference_batch_size``. FLOPs per event are counted by
``torch.utils.flop_counter.FlopCounterMode`` on one batch (matrix products, attention
included); the matmul reference is the best of a few (2048 x 2048) float32 products.

Usage::

    python benchmarks/inference_throughput.py
    python benchmarks/inference_throughput.py --device cuda --batch-sizes auto 16384 65536
"""

import argparse
import warnings

import torch
from torch.utils.flop_counter import FlopCounterMode

from _common import background, best_of, print_table, write_report


def flops_per_event(pipeline, events, device):
    """Forward FLOPs of encoder + autoencoder per event, counted on ``events``."""
    clr, scorer = pipeline[0], pipeline[-1]
    encoder, autoencoder = clr.net_.module_, scorer.net_.module_
    x = torch.as_tensor(events, device=device)
    counter = FlopCounterMode(display=False)
    # train() keeps PyTorch off its fused inference kernel, which the counter cannot see
    # through; under no_grad dropout only changes values, not the work.
    encoder.train(), autoencoder.train()
    from sklearn_aclr._transformer import _REPRESENTATIONS

    represent = _REPRESENTATIONS[clr.representation]  # what transform computes
    with torch.no_grad(), counter:
        autoencoder(represent(encoder, x))
    encoder.eval(), autoencoder.eval()
    return counter.get_total_flops() / len(events)


def matmul_gflops(device, n=2048, repeat=5):
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)

    def product():
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    product()
    return 2 * n**3 / best_of(product, repeat) / 1e9


def _batch_size(text):
    return text if text == "auto" else int(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-events", type=int, default=32768)
    parser.add_argument("--batch-sizes", type=_batch_size, nargs="+",
                        default=[128, 256, 512, 1024, 4096, 16384],
                        help='batch sizes, "auto" for the default choice by device')
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output")
    args = parser.parse_args()

    from sklearn.pipeline import make_pipeline

    from sklearn_aclr import AnomalyCLRTransformer, AutoEncoderScorer
    from sklearn_aclr.exceptions import ExtrapolationWarning
    from sklearn_aclr.metrics import get_anomaly_score

    # Scoring more background than was trained on finds a few events beyond the training
    # ranges; the guard's warning is expected here and says nothing about speed.
    warnings.simplefilter("ignore", ExtrapolationWarning)
    device = torch.device(args.device)
    train = background(2048, random_state=1)
    X = background(args.n_events)
    pipeline = make_pipeline(
        AnomalyCLRTransformer(max_epochs=1, early_stopping=False, device=args.device,
                              random_state=0),
        AutoEncoderScorer(max_epochs=1, early_stopping=False, device=args.device,
                          random_state=0),
    ).fit(train)
    flops = flops_per_event(pipeline, X[:512], device)
    reference = matmul_gflops(device)

    rows = []
    for batch_size in args.batch_sizes:
        pipeline.set_params(anomalyclrtransformer__inference_batch_size=batch_size,
                            autoencoderscorer__inference_batch_size=batch_size)
        seconds = best_of(lambda: get_anomaly_score(pipeline, X), repeat=2)
        rate = len(X) / seconds
        rows.append({"batch_size": batch_size, "seconds": seconds, "events_per_s": rate,
                     "gflops": rate * flops / 1e9,
                     "fraction_of_matmul": rate * flops / 1e9 / reference})
    print_table(rows, [("batch_size", "batch", ""), ("seconds", "time [s]", ".2f"),
                       ("events_per_s", "events/s", ".0f"), ("gflops", "GFLOP/s", ".1f"),
                       ("fraction_of_matmul", "of matmul", ".2f")],
                title=f"transform + score of {len(X)} events on {args.device}: "
                      f"{flops / 1e6:.2f} MFLOP per event, matmul {reference:.0f} GFLOP/s")
    write_report("inference_throughput", {
        "n_events": len(X), "device": args.device, "flops_per_event": flops,
        "matmul_gflops": reference, "results": rows,
    }, args.output)


if __name__ == "__main__":
    main()
