"""The package's promise at its defaults, checked as a user would write the pipelines.

``make_pipeline(AnomalyCLRTransformer(), AutoEncoderScorer())`` with nothing but
``random_state`` set, and the same with an encoder that is never trained (``lr=1e-12``, the
control), against the raw-data autoencoders (``EventScaler`` with the paper's
scaling, and with standardised features), each trained on the 20,000 training background
events of the validation sample and scored on two test sets: the validation test events
(``validation``: the 20,000 test background events and the validation signals) and events
that took no part in choosing the defaults (``fresh``: the held-back background and the
confirmation signals of ``validation_data.py --confirmation``).

Rows go to ``benchmarks/results/defaults.jsonl`` as each (model, seed) finishes; a finished
one is skipped, so an interrupted run resumes. The table gives, per test set and signal, the
mean +- std over seeds and the paired difference to the strongest raw model of that signal
with its standard error; the gap closed uses the supervised bound of ``ablation.py``'s logs.

``--models`` also takes the seed ensembles of ``ablation.py`` (``AEx3``:
``SeedEnsemble(AutoEncoderScorer(), random_state=s)``, three autoencoders of seeds s, s + 1000,
s + 2000, their standardised log errors averaged) on the defaults, on the untrained control
and on both raw inputs: the like-for-like comparison against the ensembled raw baseline, and
what the training adds there. A seed's first stage
(encoder or scaler) is fitted once and shared by its detectors.

To check a change of the code against the earlier rows, rerun some models into a log of their
own; the table takes the (model, seed) pairs that log lacks from ``defaults.jsonl`` and says
so::

    python benchmarks/defaults_check.py --models "AnomalyCLR + AE (defaults)" \
        --log benchmarks/results/defaults_rerun.jsonl

Usage::

    python benchmarks/defaults_check.py --seeds 0 1 2
    python benchmarks/defaults_check.py --table
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from ablation import (
    CONFIRMATION_LOG,
    LOG,
    append,
    autoencoder,
    format_table,
    load_validation,
    metrics,
)

from _common import RESULTS
from validation_data import SIGNALS

OUT = RESULTS / "defaults.jsonl"
MODELS = ("AnomalyCLR + AE (defaults)", "untrained encoder + AE (control)", "raw standard + AE",
          "raw paper + AE",
          # The autoencoder sweep of ablation.py: a narrower bottleneck is stronger on the raw
          # features in AUC (h0 -> tau tau, h+ -> tau nu), two hidden layers in the tail.
          "raw standard + AE(latent_dim=2)", "raw standard + AE(hidden_layer_sizes=(128,64))",
          "raw standard + AE(latent_dim=2,hidden_layer_sizes=(128,64))")
# Not run unless asked for (three autoencoders each): the like-for-like seed ensembles.
ENSEMBLE_MODELS = ("AnomalyCLR + AEx3 (defaults)", "untrained encoder + AEx3 (control)",
                   "raw standard + AEx3", "raw paper + AEx3", "raw standard + AEx3(latent_dim=2)")


def first_stage(name, seed):
    """The unfitted step before the detector of model ``name``: "first stage + detector"."""
    from sklearn_aclr import AnomalyCLRTransformer, EventScaler

    return {
        "AnomalyCLR": lambda: AnomalyCLRTransformer(random_state=seed),
        # The control: the same encoder as initialised, to tell what the training adds.
        "untrained encoder": lambda: AnomalyCLRTransformer(
            random_state=seed, lr=1e-12, patience=1),
        "raw standard": lambda: EventScaler(features="standard", phi_encoding="sincos"),
        "raw paper": EventScaler,
    }[name.split(" + ")[0]]()


def _detector_of(name):
    """The detector of model ``name`` ("first stage + detector (note)"): ``"AEx3"``,
    ``"AE(latent_dim=2)"``."""
    return name.split(" + ")[1].split()[0]


def detector_scores(name, seed, x_train, x_tests):
    """Anomaly scores of each of ``x_tests`` (a dict) from the detector of model ``name``, fit
    on ``x_train``: one AutoEncoderScorer (``AE``), or the seed ensemble of three (``AEx3``),
    with the AutoEncoderScorer parameters in brackets where given."""
    detector = autoencoder(_detector_of(name), seed).fit(x_train)
    return {test: detector.anomaly_score(x) for test, x in x_tests.items()}


def run(args):
    from sklearn_aclr.exceptions import ExtrapolationWarning

    warnings.simplefilter("ignore", ExtrapolationWarning)  # signals are scored on purpose
    train, test_background, signals = load_validation(args.n_train, args.n_test)
    _, held_back, fresh = load_validation(args.n_train, args.n_test, confirm=True)
    tests = {"validation": (test_background, signals), "fresh": (held_back, fresh)}
    done = {(r["model"], r["seed"]) for r in _rows(args.log)}
    for seed in args.seeds:
        # first stage -> (fitted step, its training and test features, the seconds they took),
        # shared by the seed's detectors
        fitted = {}
        for name in args.models:
            if (name, seed) in done:
                continue
            first = name.split(" + ")[0]
            if first not in fitted:
                start = time.perf_counter()
                step = first_stage(name, seed).fit(train)
                x_tests = {test_name: step.transform(np.concatenate([b, *s.values()]))
                           for test_name, (b, s) in tests.items()}
                fitted[first] = (step, step.transform(train), x_tests,
                                 time.perf_counter() - start)
            step, x_train, x_tests, step_seconds = fitted[first]
            start = time.perf_counter()
            scores = detector_scores(name, seed, x_train, x_tests)
            fit_seconds = step_seconds + time.perf_counter() - start
            rows = []
            for test_name, (background, signal_events) in tests.items():
                sizes = {s: len(e) for s, e in signal_events.items()}
                for signal, values in metrics(len(background), sizes,
                                              scores[test_name]).items():
                    rows.append({"test": test_name, "model": name, "seed": seed,
                                 "signal": signal, **values,
                                 "fit_seconds": round(fit_seconds, 1),
                                 "encoder_epochs": getattr(step, "n_epochs_", None)})
            append(args.log, rows)
            print(f"{name} seed {seed}: {fit_seconds:.0f} s", flush=True)


def _rows(log):
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def table(metric="auc", log=OUT):
    """``ablation.format_table`` for each test set (the seed ensembles in a table of their own,
    against the strongest raw ensemble), the supervised bound from the ablation's logs of that
    test set, and what the training adds over the untrained control. The
    (model, seed) pairs that ``log`` lacks come from ``defaults.jsonl``."""
    rows = _rows(log)
    lines = []
    if Path(log).resolve() != OUT.resolve():
        have = {(row["model"], row["seed"]) for row in rows}
        rows += [row for row in _rows(OUT) if (row["model"], row["seed"]) not in have]
        lines.append(f"from {log.name}: " + ", ".join(
            f"{model} (seeds {', '.join(str(s) for m, s in sorted(have) if m == model)})"
            for model in sorted({m for m, _ in have}))
            + f"; the rest from {OUT.name}")
    bounds = {"validation": LOG, "fresh": CONFIRMATION_LOG}
    for test, bound_log in bounds.items():
        tested = [row for row in rows if row["test"] == test]
        if not tested:
            continue
        supervised = [row for row in _rows(bound_log) if row["model"] == "supervised"]
        lines += [f"{test} test events", format_table(tested + supervised, metric,
                                                       models=(*MODELS, "supervised"))]
        ensembled = [row for row in tested if row["model"] in ENSEMBLE_MODELS]
        if ensembled:  # like for like: against the strongest raw ensemble
            lines += [f"{test} test events, seed ensembles",
                      format_table(ensembled + supervised, metric,
                                   models=(*ENSEMBLE_MODELS, "supervised"))]
        by = {}
        for row in tested:
            by.setdefault((row["model"], row["signal"]), {})[row["seed"]] = row[metric]
        lines += [_what_training_adds(by, *MODELS[:2]),
                  _what_training_adds(by, *ENSEMBLE_MODELS[:2]), ""]
    return "\n".join(lines)


def _paired(a, b):
    """Mean and standard error of the paired differences a - b over the seeds of both."""
    diffs = [a[k] - b[k] for k in a if k in b and a[k] is not None and b[k] is not None]
    if len(diffs) < 2:
        return None
    return np.mean(diffs), np.std(diffs, ddof=1) / np.sqrt(len(diffs))


def _what_training_adds(by, trained, control):
    """A line: model ``trained`` minus the untrained ``control``, per signal (mean and
    standard error of the paired differences)."""
    cells = []
    for s in SIGNALS:
        paired = _paired(by.get((trained, s), {}), by.get((control, s), {}))
        cells.append("-" if paired is None else f"{paired[0]:+.3f} ({paired[1]:.3f})")
    return f"trained minus untrained encoder, {_detector_of(trained)}: " + ", ".join(
        f"{s} {c}" for s, c in zip(SIGNALS, cells))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--n-test", type=int, default=20_000)
    parser.add_argument("--table", action="store_true", help="print the table and stop")
    parser.add_argument("--metric", default="auc")
    parser.add_argument("--models", nargs="*", default=list(MODELS),
                        choices=MODELS + ENSEMBLE_MODELS)
    parser.add_argument("--log", type=Path, default=OUT)
    args = parser.parse_args()
    if not args.table:
        run(args)
    print(table(args.metric, args.log))


if __name__ == "__main__":
    main()
