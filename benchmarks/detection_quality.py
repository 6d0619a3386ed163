"""Detection quality at a fixed training budget on the demo data: AUC, signal efficiency at
eB = 1e-2 and the maximal SIC per signal, for the raw-data autoencoder, AnomalyCLR + AE, an
IsolationForest and the supervised bound (a classifier trained on each signal).

It runs the study of ``sklearn-aclr study`` (``sklearn_aclr.study.run_study``) with the
encoder trained for ``--epochs`` epochs; every autoencoder trains up to 100 epochs with early
stopping. Training times are in the JSON.

Usage::

    python benchmarks/detection_quality.py
    python benchmarks/detection_quality.py --epochs 50 --device cuda
"""

import argparse
import warnings

from _common import print_table, write_report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output")
    args = parser.parse_args()

    from sklearn_aclr.datasets import load_demo
    from sklearn_aclr.exceptions import ExtrapolationWarning
    from sklearn_aclr.study import default_models, run_study

    warnings.simplefilter("ignore", ExtrapolationWarning)  # signals are scored on purpose
    demo = load_demo()
    background = demo.data[demo.target == 0]
    signals = {name: demo.data[demo.process == name] for name in demo.signal_names}
    result = run_study(
        background, signals,
        models=default_models(max_epochs=args.epochs, device=args.device,
                              random_state=args.seed),
        random_state=args.seed,
    )
    rows = sorted(result.records, key=lambda r: (r["signal"], r["model"]))
    print_table(rows, [("signal", "signal", ""), ("model", "model", ""),
                       ("auc", "AUC", ".3f"), ("eS@eB=1e-2", "eS@eB=1e-2", ".3f"),
                       ("max_sic", "max SIC", ".2f")],
                title=f"Detection quality on load_demo(), encoder {args.epochs} epochs")
    write_report("detection_quality", {"epochs": args.epochs, "device": args.device,
                                       "results": rows, "info": result.info}, args.output)


if __name__ == "__main__":
    main()
