"""The paper's comparison end to end: AnomalyCLR against the baselines and the supervised bound.

:func:`run_study` trains every unsupervised model on the same background events and scores
the same held-out background and signal events; ``sklearn-aclr study`` is its command line.
The models, as in the paper plus the classic peer and the reference bound:

- ``raw AE``: ``Pipeline(EventScaler(features="standard"), AutoEncoderScorer)``: presence
  flags and standardised log pT, eta, sin phi, cos phi per slot. The paper's scaling
  (``EventScaler()``) gives a weaker baseline;
- ``raw AE (latent 2)``: the same with a two-dimensional bottleneck
  (``AutoEncoderScorer(latent_dim=2)``, :data:`RAW_NARROW`), among the strongest raw-data
  detectors measured on the validation sample (``benchmarks/defaults_check.py``, eighteen
  seeds; two hidden layers instead of five add a little, within 1.5 standard errors), ahead
  of the AnomalyCLR defaults on h+ -> tau nu;
- ``raw AE (relative phi)``: the ``raw AE`` on events turned about the beam so that the
  leading lepton has phi = 0 (``EventScaler(azimuth="relative")``), the strongest raw-data
  detector measured on A -> 4l (three seeds, ``benchmarks/ablation.py --raw canonical``) and
  weaker than the others on h0 -> tau tau and h+ -> tau nu;
- ``AnomalyCLR + AE``: ``Pipeline(AnomalyCLRTransformer, AutoEncoderScorer)``;
- with ``n_members > 1`` (``--members``), ``raw AE xN``, ``raw AE (latent 2) xN``,
  ``raw AE (relative phi) xN`` and ``AnomalyCLR + AE xN`` instead:
  the autoencoder of each is a :class:`~sklearn_aclr.SeedEnsemble` of N, the like-for-like
  comparison against the ensembled raw baselines;
- ``IsolationForest``: ``Pipeline(EventScaler, IsolationForest)``, what a scikit-learn user
  tries first;
- ``supervised``: a gradient-boosted classifier on the scaled events, trained with labels on
  half of each signal (one classifier per signal), the upper bound that no anomaly detector
  should beat.
"""

import csv
import json
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.pipeline import make_pipeline
from sklearn.utils import check_random_state

from sklearn_aclr import __version__
from sklearn_aclr._ensemble import SeedEnsemble
from sklearn_aclr._layout import ADC2021, check_events
from sklearn_aclr._scorer import AutoEncoderScorer
from sklearn_aclr._transformer import AnomalyCLRTransformer
from sklearn_aclr.exceptions import ExtrapolationWarning
from sklearn_aclr.metrics import (
    anomaly_roc_auc,
    get_anomaly_score,
    max_sic,
    signal_efficiency_at,
)
from sklearn_aclr.preprocessing import EventScaler

__all__ = ["StudyResult", "default_models", "run_study"]

BACKGROUND_EFFICIENCIES = (1e-2, 1e-3)
# A working point eB is reported only where at least this many test background events pass.
MIN_BACKGROUND_PASSING = 10
SUPERVISED = "supervised"
# The raw features of the strongest raw-data baselines (benchmarks/ablation.py).
RAW_FEATURES = {"features": "standard", "phi_encoding": "sincos"}
# The narrow raw autoencoder: a two-dimensional bottleneck makes the raw-data autoencoder
# stronger on every signal of the validation sample (on h+ -> tau nu by 0.04 in AUC).
RAW_NARROW = {"latent_dim": 2}
# The study's IsolationForest; the other autoencoders use AutoEncoderScorer's own defaults.
# The benchmarks take both from here.
ISOLATION_FOREST = {"n_estimators": 200}


def default_models(*, quick=False, max_epochs=None, device="auto", random_state=0, verbose=0,
                   n_members=1):
    """The unsupervised models of the study, unfitted.

    Parameters
    ----------
    quick : bool, default=False
        A smaller encoder and fewer epochs, for a first look in about a minute.
    max_epochs : int, default=None
        Epochs of the AnomalyCLR encoder; None means 10 (3 with ``quick``).
    device : str, default="auto"
        Torch device of the neural models.
    random_state : int, default=0
        Seed of every model.
    verbose : int, default=0
        Passed to the neural models; 2 shows progress bars.
    n_members : int, default=1
        Autoencoders per detector: above 1, each autoencoder is a
        :class:`~sklearn_aclr.SeedEnsemble` of that many, on the raw features and on the
        representations alike.

    Returns
    -------
    models : dict of str to estimator
        ``"raw AE"``, ``"raw AE (latent 2)"``, ``"raw AE (relative phi)"``,
        ``"AnomalyCLR + AE"`` (with three members ``"raw AE x3"`` and so on) and
        ``"IsolationForest"``. The autoencoders have
        :class:`~sklearn_aclr.AutoEncoderScorer`'s defaults (the narrow one
        :data:`RAW_NARROW`), the forest :data:`ISOLATION_FOREST`.

    Examples
    --------
    >>> from sklearn_aclr.study import default_models
    >>> list(default_models(quick=True))
    ['raw AE', 'raw AE (latent 2)', 'raw AE (relative phi)', 'AnomalyCLR + AE', 'IsolationForest']
    >>> list(default_models(quick=True, n_members=3))[:4]
    ['raw AE x3', 'raw AE (latent 2) x3', 'raw AE (relative phi) x3', 'AnomalyCLR + AE x3']
    """
    if n_members < 1:
        raise ValueError(f"n_members must be at least 1; got {n_members}.")
    epochs = max_epochs if max_epochs is not None else (3 if quick else 10)
    encoder = dict(d_model=32, n_layers=2, dim_feedforward=64) if quick else {}

    def scorer(**params):
        if n_members == 1:
            return AutoEncoderScorer(**params, device=device, random_state=random_state,
                                     verbose=verbose)
        return SeedEnsemble(AutoEncoderScorer(**params, device=device, verbose=verbose),
                            n_members=n_members, random_state=random_state)

    members = "" if n_members == 1 else f" x{n_members}"
    return {
        f"raw AE{members}": make_pipeline(EventScaler(**RAW_FEATURES), scorer()),
        f"raw AE (latent 2){members}": make_pipeline(EventScaler(**RAW_FEATURES),
                                                     scorer(**RAW_NARROW)),
        f"raw AE (relative phi){members}": make_pipeline(
            EventScaler(**RAW_FEATURES, azimuth="relative"), scorer()),
        f"AnomalyCLR + AE{members}": make_pipeline(
            AnomalyCLRTransformer(max_epochs=epochs, device=device, random_state=random_state,
                                  verbose=verbose, **encoder),
            scorer(),
        ),
        "IsolationForest": make_pipeline(
            EventScaler(**RAW_FEATURES),
            IsolationForest(**ISOLATION_FOREST, random_state=random_state),
        ),
    }


@dataclass
class StudyResult:
    """Metrics and curves of a study, as data: tables, a DataFrame, files and figures.

    Attributes
    ----------
    records : list of dict
        One per (model, signal): ``auc``, ``eS@eB=1e-2``, ``eS@eB=1e-3`` (None where the test
        background is too small for it) and ``max_sic``; ``pandas.DataFrame(records)`` makes
        a data frame of them.
    curves : dict
        ``(model, signal) -> (test labels, anomaly scores)``, for plots.
    info : dict
        Sample sizes, seed, timings and versions.

    Examples
    --------
    >>> from sklearn_aclr.study import StudyResult
    >>> result = StudyResult(records=[dict(model="raw AE", signal="Ato4l", auc=0.9,
    ...                                    max_sic=3.0)])
    >>> print(result.table())  # doctest: +NORMALIZE_WHITESPACE
    signal  model   AUC    eS@eB=1e-2  eS@eB=1e-3  max SIC
    Ato4l   raw AE  0.900  -           -           3.00
    """

    records: list
    curves: dict = field(default_factory=dict, repr=False)
    info: dict = field(default_factory=dict)

    def rows(self):
        """The results as rows of strings, a header first; one row per (signal, model)."""
        header = ["signal", "model", "AUC", *(_efficiency_key(e) for e in
                                            BACKGROUND_EFFICIENCIES), "max SIC"]
        rows = [header]
        for r in sorted(self.records, key=lambda r: r["signal"]):
            effs = [r.get(k) for k in header[3:-1]]
            rows.append([r["signal"], r["model"], f"{r['auc']:.3f}",
                         *("-" if e is None else f"{e:.3f}" for e in effs),
                         f"{r['max_sic']:.2f}"])
        return rows

    def table(self):
        """The results as a plain-text table, one row per (signal, model)."""
        rows = self.rows()
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
                         for row in rows)

    def markdown(self):
        """The results as a Markdown table, with the command and sizes above it."""
        lines = []
        if "command" in self.info:
            lines.append(f"`{self.info['command']}` ({self.info.get('data', '')}; "
                         f"{self.info['n_background_train']} background events for training, "
                         f"{self.info['n_background_test']} for testing):")
            lines.append("")
        header, *rows = self.rows()
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)

    def to_json(self, path):
        """Write records and info as JSON."""
        with open(path, "w") as f:
            json.dump({"records": self.records, "info": self.info}, f, indent=2)
            f.write("\n")

    def to_csv(self, path):
        """Write the records as CSV."""
        keys = list(dict.fromkeys(k for r in self.records for k in r))
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.records)

    def figures(self, style=None):
        """The ROC (1/eB against eS, log scale) and SIC figures, one panel per signal.

        Parameters
        ----------
        style : str, dict or path-like, default=None
            A matplotlib or mplhep style (``"CMS"``), see
            :func:`~sklearn_aclr.plotting.plot_style`; None keeps the current one.

        Returns
        -------
        roc, sic : matplotlib.figure.Figure
            Figures made without pyplot (the backend is left alone); needs matplotlib.
        """
        from sklearn_aclr.plotting import signal_figure

        return tuple(signal_figure(self.curves, kind=kind, style=style)
                     for kind in ("rejection", "sic"))

    def plot(self, roc_path, sic_path, style=None):
        """Save the ROC and SIC figures of :meth:`figures` (in ``style``) as images."""
        for figure, path in zip(self.figures(style), (roc_path, sic_path)):
            figure.savefig(path, dpi=120)


def run_study(background, signals, *, models=None, supervised=True, test_size=0.5,
              random_state=0, log=print):
    """Train every model on background and measure its anomaly detection on each signal.

    The background is split at random into a training and a test part; every signal is split
    in halves, the first for the supervised classifier only, the second for testing. All
    models are scored on the same test events.

    Parameters
    ----------
    background : array-like of shape (n_background, 19, 4)
        Background events in the ADC2021 layout.
    signals : dict of str to array-like of shape (n, 19, 4)
        Signal events by name.
    models : dict of str to estimator, default=None
        Unsupervised models, fitted on the training background; None means
        :func:`default_models`.
    supervised : bool, default=True
        Also train the supervised reference classifier, one per signal.
    test_size : float, default=0.5
        Fraction of the background held out for testing.
    random_state : int, default=0
        Seed of the splits and of the supervised classifier.
    log : callable, default=print
        Receives progress messages; ``None`` silences them.

    Returns
    -------
    result : StudyResult

    Examples
    --------
    >>> from sklearn_aclr.datasets import make_adc_events
    >>> from sklearn_aclr.study import run_study
    >>> from sklearn.ensemble import IsolationForest
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_aclr import EventScaler
    >>> X, y = make_adc_events(400, 100, random_state=0)
    >>> result = run_study(X[y == 0], {"4l": X[y == 1]}, log=None,
    ...                    models={"iforest": make_pipeline(EventScaler(),
    ...                                                     IsolationForest(random_state=0))})
    >>> [(r["model"], r["signal"]) for r in result.records]
    [('iforest', '4l'), ('supervised', '4l')]
    """
    log = log or (lambda *args, **kwargs: None)
    rng = check_random_state(random_state)
    background = check_events(background, ADC2021)
    signals = {name: check_events(events, ADC2021) for name, events in signals.items()}
    if not signals:
        raise ValueError("run_study needs at least one signal sample.")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1); got {test_size!r}.")
    order = rng.permutation(len(background))
    n_test = int(round(test_size * len(background)))
    bkg_train, bkg_test = background[order[n_test:]], background[order[:n_test]]
    halves = {}
    for name, events in signals.items():
        if len(events) < 2:
            raise ValueError(f"Signal {name!r} has {len(events)} events; at least 2 are needed.")
        perm = rng.permutation(len(events))
        halves[name] = events[perm[: len(events) // 2]], events[perm[len(events) // 2 :]]
    log(f"background: {len(bkg_train)} for training, {len(bkg_test)} for testing; signals: "
        + ", ".join(f"{name} {len(test)}" for name, (_, test) in halves.items()))

    models = default_models(random_state=random_state) if models is None else models
    records, curves, timings = [], {}, {}
    for model_name, model in models.items():
        log(f"training {model_name} ...")
        start = time.perf_counter()
        fitted = clone(model).fit(bkg_train)
        timings[model_name] = round(time.perf_counter() - start, 1)
        # Signal lies outside the training ranges by design: one line per model says how
        # often, instead of a warning per signal and step.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ExtrapolationWarning)
            bkg_score = get_anomaly_score(fitted, bkg_test)
            for signal_name, (_, sig_test) in halves.items():
                score = np.r_[bkg_score, get_anomaly_score(fitted, sig_test)]
                y = np.r_[np.zeros(len(bkg_test)), np.ones(len(sig_test))]
                records.append(_metrics(model_name, signal_name, y, score))
                curves[model_name, signal_name] = (y, score)
        for warning in caught:
            if not issubclass(warning.category, ExtrapolationWarning):
                warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                       warning.lineno)
        if any(issubclass(w.category, ExtrapolationWarning) for w in caught):
            log(f"  {model_name}: some test events lie outside the training ranges, as "
                "expected for signal; the output extrapolates there.")

    if supervised:
        log("training the supervised classifiers ...")
        start = time.perf_counter()
        for signal_name, (sig_train, sig_test) in halves.items():
            classifier = make_pipeline(
                EventScaler(), HistGradientBoostingClassifier(random_state=random_state)
            )
            X = np.concatenate([bkg_train, sig_train])
            y = np.r_[np.zeros(len(bkg_train)), np.ones(len(sig_train))]
            classifier.fit(X, y)
            y_test = np.r_[np.zeros(len(bkg_test)), np.ones(len(sig_test))]
            score = get_anomaly_score(classifier, np.concatenate([bkg_test, sig_test]))
            records.append(_metrics(SUPERVISED, signal_name, y_test, score))
            curves[SUPERVISED, signal_name] = (y_test, score)
        timings[SUPERVISED] = round(time.perf_counter() - start, 1)

    info = {
        "n_background_train": len(bkg_train),
        "n_background_test": len(bkg_test),
        "n_signal_test": {name: len(test) for name, (_, test) in halves.items()},
        "random_state": random_state,
        "fit_seconds": timings,
        "sklearn_aclr": __version__,
    }
    return StudyResult(records=records, curves=curves, info=info)


def _efficiency_key(efficiency):
    """The record key of the signal efficiency at a background efficiency: eS@eB=1e-2."""
    return f"eS@eB={efficiency:.0e}".replace("e-0", "e-")


def _metrics(model, signal, y, score):
    record = {"model": model, "signal": signal, "auc": float(anomaly_roc_auc(y, score))}
    n_background = int(np.sum(y == 0))
    for eff in BACKGROUND_EFFICIENCIES:
        key = _efficiency_key(eff)
        enough = n_background * eff >= MIN_BACKGROUND_PASSING
        record[key] = float(signal_efficiency_at(y, score, eff)) if enough else None
    record["max_sic"] = float(max_sic(y, score, min_background=MIN_BACKGROUND_PASSING))
    return record
