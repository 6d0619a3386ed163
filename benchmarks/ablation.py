"""The ablation harness: encoder configurations x detectors x seeds on the validation sample.

Every run trains on background only and is scored on the same held-out background and the
four signals of ``validation_data.py`` (never the demo data or the tests). One unit of work is
an encoder configuration and a seed: the encoder is trained once, and every representation
level (head, L2-normalised head, pooled, pooled and head together, pooled beside the
standardised raw features) goes through every detector: the package's AutoEncoderScorer on
the inputs as they are and standardised, and scikit-learn's kNN distance, Gaussian mixture,
Mahalanobis distance and IsolationForest. The raw-data baselines are units of their own: the
paper's scaling with the autoencoder, and the standardised raw features (presence, log pT,
eta, sin phi, cos phi) with every detector. A supervised classifier per signal
(gradient-boosted trees on the standardised raw features, two-fold cross-fitted on the test
events) is the upper bound.

Rows go to ``benchmarks/results/ablation.jsonl`` as each unit finishes; a unit already there
is skipped, so an interrupted grid resumes. ``--table`` prints mean +- std over seeds and the
paired difference of each AnomalyCLR row against the strongest raw baseline of each signal
(the raw model with the highest mean AUC for that signal), with its standard error.

``--confirm`` scores instead on events that took no part in choosing a configuration: the
validation background that neither trains nor tests above, and the confirmation signals of
``validation_data.py --confirmation`` (rows go to ``benchmarks/results/confirmation.jsonl``).
The encoders are the cached ones, trained on the same training background.

Seed ensembles, three members each, make both sides steadier: ``--detectors AE AEx3`` averages
three autoencoders on one input (raw features or one encoder's representation);
``--encoder-ensemble`` averages three encoders of a configuration (seeds s, s + 1000,
s + 2000), each with its own autoencoder on its pooled representation beside the raw features.
``--combine W ...`` adds scores instead of features: the ensembled autoencoder on the raw
(or pooled+raw) features plus W times a Mahalanobis distance or a Gaussian mixture on the
pooled representation, each score standardised on the training events.
``--fusions SPEC ...`` averages autoencoders on different inputs, each term's log
reconstruction error standardised on the training events: ``"raw:AE(latent_dim=2) + 0.5 x
pooled+raw:AE"``. A fusion of raw terms alone is a raw baseline (``raw fused | ...``), so that
the strongest raw model of a signal may be a fusion too.

``--detectors Flow`` adds a density to the detectors: the negative log-likelihood of a
normalising flow (needs ``zuko``). ``--raw standard`` runs the raw baselines on the
standardised features only (``--raw`` alone: on the paper's scaling too). ``--n-train`` above
32,120 continues the training set into the extra background of ``validation_data.py
--extra-background``; the test events stay the same, and each training size needs a log of its
own (``--log``).

Usage::

    python benchmarks/validation_data.py --n-jobs 2
    python benchmarks/ablation.py --configs default loss=simclr --seeds 0 1 2
    python benchmarks/ablation.py --table
    python benchmarks/ablation.py --encoder-ensemble --configs loss=anomclr_plus,layers=2 \
        --log benchmarks/results/ensembles_l2.jsonl
    python benchmarks/ablation.py --configs loss=anomclr_plus,layers=2 --log fusions.jsonl \
        --fusions "raw:AE(latent_dim=2)" "raw:AE + pooled+raw:AE"
"""

import argparse
import ast
import itertools
import json
import re
import time
import warnings
from pathlib import Path

import joblib
import numpy as np

from sklearn_aclr._ensemble import MEMBER_SEED_STEP
from sklearn_aclr.augmentations import (
    AddObjects,
    CollinearSplit,
    RotatePhi,
    ScalePT,
    ShiftMET,
    SmearEtaPhi,
    SmearJetEnergy,
    default_augmentations,
)
from sklearn_aclr.study import ISOLATION_FOREST, RAW_FEATURES

from _common import RESULTS, machine
from _views import TurnMET
from validation_data import (
    BACKGROUND,
    CONFIRMATION_FOLDER,
    EXTRA_BACKGROUND_FOLDER,
    FOLDER,
    SIGNALS,
    path_of,
)

LOG = RESULTS / "ablation.jsonl"
CONFIRMATION_LOG = RESULTS / "confirmation.jsonl"
ENCODERS = Path(__file__).parent / "data" / "encoders"
EB = (1e-2, 1e-3)
MIN_BACKGROUND_PASSING = 10  # as in the study: a working point needs 10 background events
AUTHORS_JER = [RotatePhi(), SmearEtaPhi(), SmearJetEnergy(constant=0.228, stochastic=1.226)]
# Harder negatives: MET and pT rescaled by factors closer to one (the defaults: 1.5 to 3), so
# that the AnomCLR+ loss, flat from the first epoch with the defaults, has something to learn.
GENTLE = [AddObjects(), CollinearSplit(), ShiftMET(factor_range=(1.2, 2.0)),
          ScalePT(factor_range=(1.1, 1.5))]

# name: AnomalyCLRTransformer parameters. The grid ran when the package's defaults trained with
# the AnomCLR loss and four encoder layers; "default" and the single-axis variations keep that
# loss and that depth explicitly, so that their names, the logged rows and the cached encoders
# keep their meaning. "loss=anomclr_plus" is the package's default loss since this ablation
# chose it; "loss=anomclr_plus,layers=2" is the package's default encoder since.
FOUR_LAYERS = {"n_layers": 4}
FORMER_DEFAULT = {"loss": "anomclr", **FOUR_LAYERS}
FORMER_PLUS = {"loss": "anomclr_plus", **FOUR_LAYERS}
CONFIGS = {
    "default": FORMER_DEFAULT,
    # The control: the encoder as initialised (no learning), to tell what training adds.
    "untrained": {**FORMER_DEFAULT, "lr": 1e-12, "patience": 1},
    "loss=anomclr_plus": FORMER_PLUS,
    # AnomCLR+ early-stops within a few epochs (its validation loss is flat): train it through.
    "loss=anomclr_plus,no_early_stopping": {**FORMER_PLUS, "early_stopping": False},
    "loss=anomclr_plus,anomalous=gentle": {**FORMER_PLUS, "anomalous": GENTLE},
    # Physical views without jet energy smearing, which moves momentum into MET: does the
    # invariance to MET changes it teaches cost h+ -> tau nu, whose signature is MET's shape?
    "loss=anomclr_plus,physical=rotate,eta_phi": {
        **FORMER_PLUS, "physical": ["rotate_phi", "smear_eta_phi"]},
    # A fifth negative view, an added invisible particle (MET turned as well as rescaled): a
    # heavier invisible system is what sets h+ -> tau nu apart from W -> l nu.
    "loss=anomclr_plus,anomalous=+invisible": {
        **FORMER_PLUS,
        "anomalous": [*default_augmentations("adc2021")[1], "add_invisible"]},
    # A sixth negative view at the default encoder: MET swapped with another event's, its
    # distribution kept and only its relation to the visible objects (the transverse mass, the
    # balance) broken, where h+ -> tau nu differs from W -> l nu.
    "loss=anomclr_plus,layers=2,anomalous=+swap_met": {
        "loss": "anomclr_plus", "n_layers": 2,
        "anomalous": [*default_augmentations("adc2021")[1], "swap_met"]},
    # A negative view that turns MET alone: what training leaves out of the representation
    # is the azimuth between MET and the lepton (probe.py).
    "loss=anomclr_plus,layers=2,anomalous=+turn_met": {
        "loss": "anomclr_plus", "n_layers": 2,
        "anomalous": [*default_augmentations("adc2021")[1], TurnMET()]},
    "loss=anomclr_plus,layers=2,anomalous=swap_met": {
        "loss": "anomclr_plus", "n_layers": 2, "anomalous": ["swap_met"]},
    # The physical views' strengths at the default encoder: the authors' jet resolution (their
    # constants as written) against the Delphes one, and the eta/phi smearing off or tripled.
    "loss=anomclr_plus,layers=2,jer=authors": {
        "loss": "anomclr_plus", "n_layers": 2, "physical": AUTHORS_JER},
    "loss=anomclr_plus,layers=2,eta_phi=off": {
        "loss": "anomclr_plus", "n_layers": 2, "physical": ["rotate_phi", "smear_jet_energy"]},
    "loss=anomclr_plus,layers=2,eta_phi=x3": {
        "loss": "anomclr_plus", "n_layers": 2,
        "physical": [RotatePhi(), SmearEtaPhi(strength=3.0), SmearJetEnergy()]},
    "loss=anomclr_plus,layers=2,anomalous=gentle": {
        "loss": "anomclr_plus", "n_layers": 2, "anomalous": GENTLE},
    "loss=anomclr_batch": {"loss": "anomclr_batch", **FOUR_LAYERS},
    "loss=simclr": {"loss": "simclr", **FOUR_LAYERS},
    "jer=authors": {**FORMER_DEFAULT, "physical": AUTHORS_JER},
    "temperature=0.5": {**FORMER_DEFAULT, "temperature": 0.5},
    "batch=1024": {**FORMER_DEFAULT, "batch_size": 1024},
    "width=128": {**FORMER_DEFAULT, "d_model": 128, "dim_feedforward": 512, "output_dim": 64},
    "eta_phi=off": {**FORMER_DEFAULT, "physical": ["rotate_phi", "smear_jet_energy"]},
    "anomalous=add,met": {**FORMER_DEFAULT, "anomalous": ["add_objects", "shift_met"]},
    # Batch size and width at the package's default loss (AnomCLR+).
    "loss=anomclr_plus,batch=1024": {**FORMER_PLUS, "batch_size": 1024},
    "loss=anomclr_plus,width=128": {**FORMER_PLUS, "d_model": 128,
                                    "dim_feedforward": 512, "output_dim": 64},
    # Depth at the default loss: half the layers halve the encoder's operations per step.
    "loss=anomclr_plus,layers=2": {"loss": "anomclr_plus", "n_layers": 2},
    # Its control: the default encoder as initialised.
    "loss=anomclr_plus,layers=2,untrained": {"loss": "anomclr_plus", "n_layers": 2,
                                             "lr": 1e-12, "patience": 1},
    # The other losses at the default depth, beside the raw features: does a loss with
    # negatives from the batch (or without anomalous views at all) learn more?
    "loss=anomclr_batch,layers=2": {"loss": "anomclr_batch", "n_layers": 2},
    "loss=simclr,layers=2": {"loss": "simclr", "n_layers": 2},
}
REPRESENTATIONS = ("head", "head_l2", "pooled", "pooled+head", "pooled+raw")
DETECTORS = ("AE", "AE+std", "kNN", "GMM", "Mahalanobis", "IForest")
# Not in the default grid (three autoencoders per cell): --detectors AE AEx3.
ENSEMBLES = ("AEx3",)
# Not in the default grid either, and it needs zuko (pip install zuko): --detectors Flow.
OPT_IN = ("Flow",)
ENSEMBLE_SIZE = 3  # members of a seed ensemble, of autoencoders (AEx3) or of encoders
DEFAULT_EPOCHS = 20  # the grid's budget; --epochs 50 is the package default
AE_LEVELS = ("head", "pooled", "pooled+raw", "pooled+canonical")


def _check_files(processes, folder):
    missing = [p for p in processes if not path_of(p, folder).exists()]
    if missing:
        option = {CONFIRMATION_FOLDER: " --confirmation",
                  EXTRA_BACKGROUND_FOLDER: " --extra-background"}.get(Path(folder), "")
        raise SystemExit(f"Missing files for {missing} in {folder}: run "
                         f"python benchmarks/validation_data.py{option} first.")


def _shuffled_background(folder, split_seed):
    from sklearn_aclr.datasets import load_adc2021

    background = np.concatenate([load_adc2021(path_of(p, folder)) for p in BACKGROUND])
    return background[np.random.default_rng(split_seed).permutation(len(background))]


def load_background(n_train, n_test, folder=FOLDER, split_seed=12345):
    """Training, test and held-back background of the validation sample, shuffled with a
    fixed seed: the first ``n_train`` events, the last ``n_test``, and those in between.

    A training set longer than the events before the test ones continues into the extra
    background (``validation_data.py --extra-background``), shuffled too: the test events, and
    the first events of every training set, stay the same at every size."""
    _check_files(BACKGROUND, folder)
    background = _shuffled_background(folder, split_seed)
    if n_test >= len(background):
        raise SystemExit(f"{n_test} test events asked for, {len(background)} simulated.")
    test, before_test = background[-n_test:], background[:-n_test]
    missing = n_train - len(before_test)
    if missing <= 0:
        return before_test[:n_train], test, before_test[n_train:]
    _check_files(BACKGROUND, EXTRA_BACKGROUND_FOLDER)
    extra = _shuffled_background(EXTRA_BACKGROUND_FOLDER, split_seed)
    if missing > len(extra):
        raise SystemExit(f"{n_train} training events asked for, {len(before_test)} + "
                         f"{len(extra)} simulated beside the {n_test} test events.")
    return np.concatenate([before_test, extra[:missing]]), test, before_test[:0]


def load_validation(n_train, n_test, folder=FOLDER, confirm=False):
    """Training background, test background and the signals of the validation sample; with
    ``confirm``, the held-back background and the confirmation signals are the test events."""
    from sklearn_aclr.datasets import load_adc2021

    signal_folder = CONFIRMATION_FOLDER if confirm else folder
    _check_files(SIGNALS, signal_folder)
    train, test, held_back = load_background(n_train, n_test, folder)
    if confirm and not len(held_back):
        raise SystemExit(f"--confirm tests on the background between the {n_train} training "
                         f"and the {n_test} test events, and none is left: train on fewer.")
    signals = {name: load_adc2021(path_of(name, signal_folder)) for name in SIGNALS}
    return train, held_back if confirm else test, signals


def member_seeds(seed):
    """The seeds of an ensemble's members: ``seed``, ``seed + 1000``, ``seed + 2000``, as
    ``SeedEnsemble(random_state=seed)`` seeds them."""
    return [seed + MEMBER_SEED_STEP * k for k in range(ENSEMBLE_SIZE)]


def standardised(train_score, test_score, log=True):
    """``test_score`` (its log where ``log``) standardised on ``train_score``: scores of
    different detectors then speak on one scale and can be averaged (as in ``SeedEnsemble``)."""
    if log:
        train_score, test_score = np.log(train_score), np.log(test_score)
    return (test_score - train_score.mean()) / train_score.std()


def standardised_score(scorer, train, test, log=True):
    """The anomaly score of ``test`` (its log where ``log``: reconstruction errors),
    standardised on that of the training events: for the encoder ensemble, whose members are
    cached encoders that ``SeedEnsemble`` cannot fit, and for the terms of a fusion."""
    return standardised(scorer.anomaly_score(train), scorer.anomaly_score(test), log=log)


def autoencoder(name, seed):
    """The unfitted autoencoder detector ``name``: ``"AE"``, one AutoEncoderScorer, or
    ``"AEx3"``, the seed ensemble of three (seeds seed, seed + 1000, seed + 2000, their
    standardised log reconstruction errors averaged). Either takes AutoEncoderScorer
    parameters in brackets: ``"AE(latent_dim=10)"``."""
    from sklearn_aclr import AutoEncoderScorer, SeedEnsemble

    base, params = _detector_parameters(name)
    if base == "AEx3":
        return SeedEnsemble(AutoEncoderScorer(**params), n_members=ENSEMBLE_SIZE,
                            random_state=seed)
    return AutoEncoderScorer(**params, random_state=seed)


def _detector_parameters(name):
    """``"AE(latent_dim=10, lr=3e-4)"`` -> ``("AE", {"latent_dim": 10, "lr": 0.0003})``."""
    if "(" not in name:
        return name, {}
    try:
        call = ast.parse(name, mode="eval").body
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.args:
            raise ValueError
        return call.func.id, {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    except (SyntaxError, ValueError):
        raise argparse.ArgumentTypeError(
            f"cannot read detector {name!r}: write AE(key=value, ...) with Python literals as "
            "values") from None


def _is_autoencoder(name):
    """Whether detector ``name`` is one of the autoencoders (``AE``, ``AEx3``, with or without
    parameters)."""
    return _detector_parameters(name)[0] in ("AE", *ENSEMBLES)


_FUSION_TERM = re.compile(
    r"(?:(?P<weight>\d+(?:\.\d*)?|\.\d+) x )?(?P<level>[^:\s]+):(?P<detector>.+)")


def _fusion(spec):
    """``"raw:AE(latent_dim=2) + 0.5 x pooled+raw:AE"`` -> ``[(1.0, "raw",
    "AE(latent_dim=2)"), (0.5, "pooled+raw", "AE")]``, for ``--fusions``: terms joined by
    " + ", each ``[W x ]LEVEL:AUTOENCODER``."""
    terms = []
    for term in spec.split(" + "):
        match = _FUSION_TERM.fullmatch(term.strip())
        if match is None or not _is_autoencoder(_detector(match["detector"])):
            raise argparse.ArgumentTypeError(
                f"cannot read the term {term!r} of fusion {spec!r}: write [W x ]LEVEL:AE, LEVEL "
                f"one of raw, {', '.join(REPRESENTATIONS)} or pooled*W+raw, the detector AE or "
                "AEx3 with or without parameters, and join terms with ' + '")
        level = match["level"]
        try:
            known = level == "raw" or _base_level(level) in REPRESENTATIONS and (
                level == "pooled+raw" or _pooled_weight(level) >= 0)
        except ValueError:
            known = False
        if not known:
            raise argparse.ArgumentTypeError(
                f"unknown level {level!r} in fusion {spec!r}: raw, {', '.join(REPRESENTATIONS)} "
                "or pooled*W+raw with a number W")
        weight = float(match["weight"] or 1)
        if weight <= 0:
            raise argparse.ArgumentTypeError(f"the weight of {term!r} in fusion {spec!r} must "
                                             "be positive")
        terms.append((weight, level, match["detector"]))
    return terms


def _fusion_spec(spec):
    """``spec`` if it reads as a fusion (for ``--fusions``)."""
    _fusion(spec)
    return spec


def _raw_only(terms):
    return all(level == "raw" for _, level, _ in terms)


def _detector(name):
    """``name`` if it is a detector this script knows (for ``--detectors``)."""
    base, params = _detector_parameters(name)
    if base not in (*DETECTORS, *ENSEMBLES, *OPT_IN) or (params and not _is_autoencoder(name)):
        raise argparse.ArgumentTypeError(
            f"unknown detector {name!r}: one of {', '.join((*DETECTORS, *ENSEMBLES, *OPT_IN))}; "
            "AE and AEx3 take AutoEncoderScorer parameters in brackets, as in "
            "AE(latent_dim=10)")
    return name


def detector_scores(name, train, test, seed):
    """Anomaly scores (higher = more anomalous) of ``test`` from a detector fit on ``train``."""
    from sklearn.covariance import EmpiricalCovariance
    from sklearn.ensemble import IsolationForest
    from sklearn.mixture import GaussianMixture
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import StandardScaler

    if _is_autoencoder(name):
        return autoencoder(name, seed).fit(train).anomaly_score(test)
    scaler = StandardScaler().fit(train)
    train, test = scaler.transform(train), scaler.transform(test)
    if name == "AE+std":  # the autoencoder on standardised inputs
        return autoencoder("AE", seed).fit(train).anomaly_score(test)
    if name == "kNN":
        distances, _ = NearestNeighbors(n_neighbors=16).fit(train).kneighbors(test)
        return distances.mean(axis=1)
    if name == "GMM":
        # Presence flags make some covariances nearly singular: regularise more if needed.
        for reg_covar in (1e-4, 1e-3, 1e-2):
            gmm = GaussianMixture(8, covariance_type="full", reg_covar=reg_covar,
                                  random_state=seed)
            try:
                return -gmm.fit(train).score_samples(test)
            except ValueError:
                continue
        raise RuntimeError("The Gaussian mixture did not fit even with reg_covar=1e-2.")
    if name == "Mahalanobis":
        return EmpiricalCovariance().fit(train).mahalanobis(test)
    if name == "IForest":
        forest = IsolationForest(**ISOLATION_FOREST, random_state=seed).fit(train)
        return -forest.score_samples(test)
    if name == "Flow":
        return flow_scores(train, test, seed)
    raise ValueError(f"Unknown detector {name!r}")


def flow_scores(train, test, seed, epochs=60, batch_size=512, patience=6, noise=0.02):
    """Negative log-density of ``test`` (standardised) under a normalising flow fit on
    ``train``: a masked autoregressive flow (``zuko``, four affine transforms, two hidden
    layers of 128) trained by maximum likelihood with Adam, early-stopped on a tenth of the
    training events. Gaussian noise of width ``noise`` (in standard deviations) dequantises the
    training events, whose presence flags and empty-slot values are discrete.

    A density, where the autoencoders measure a reconstruction error: an event in a sparse
    region of the background (the low transverse-mass side of W -> l nu, say) is anomalous to a
    density even when it is easy to reconstruct."""
    import torch

    try:
        import zuko
    except ImportError:
        raise SystemExit("The Flow detector needs zuko: pip install zuko") from None

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(train, dtype=torch.float32)
    order = torch.as_tensor(rng.permutation(len(x)))
    n_val = len(x) // 10
    x_val, x_fit = x[order[:n_val]], x[order[n_val:]]
    flow = zuko.flows.MAF(x.shape[1], transforms=4, hidden_features=(128, 128))
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-3)

    def nll(batch):
        return -flow().log_prob(batch).mean()

    best, best_state, waited = np.inf, None, 0
    for _ in range(epochs):
        flow.train()
        for idx in torch.as_tensor(rng.permutation(len(x_fit))).split(batch_size):
            batch = x_fit[idx]
            loss = nll(batch + noise * torch.randn_like(batch))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(flow.parameters(), 5.0)
            optimizer.step()
        flow.eval()
        with torch.no_grad():
            val = nll(x_val + noise * torch.randn_like(x_val)).item()
        if val < best:
            best, waited = val, 0
            best_state = {k: v.clone() for k, v in flow.state_dict().items()}
        else:
            waited += 1
            if waited >= patience:
                break
    if best_state is None:
        raise RuntimeError("The flow's validation loss was never finite: standardise the "
                           "inputs, or raise the dequantisation noise.")
    flow.load_state_dict(best_state)
    with torch.no_grad():
        test = torch.as_tensor(test, dtype=torch.float32)
        return -torch.cat([flow().log_prob(b) for b in test.split(8192)]).numpy()


def metrics(n_background, signals, score):
    """Per signal: AUC, eS at each eB, max SIC; ``score`` holds background, then signals."""
    from sklearn_aclr.metrics import anomaly_roc_auc, max_sic, signal_efficiency_at

    out, start = {}, n_background
    for name, n in signals.items():
        s = np.r_[score[:n_background], score[start : start + n]]
        y = np.r_[np.zeros(n_background), np.ones(n)]
        start += n
        row = {"auc": anomaly_roc_auc(y, s), "max_sic": max_sic(y, s)}
        for eb in EB:  # None where the test background cannot resolve the working point
            resolved = n_background * eb >= MIN_BACKGROUND_PASSING
            row[f"eS@{eb:g}"] = signal_efficiency_at(y, s, eb) if resolved else None
        out[name] = row
    return out


def _rows(unit, seed, model, scores, n_background, sizes, seconds):
    return [{"unit": unit, "seed": seed, "model": model, "signal": signal, **values,
             "seconds": round(seconds, 1)}
            for signal, values in metrics(n_background, sizes, scores).items()]


RAW_INPUTS = ("paper", "standard", "canonical")


def run_raw(seed, data, detectors, raw_inputs=RAW_INPUTS):
    from sklearn_aclr import EventScaler

    train, test, sizes, n_background = data
    rows = []
    inputs = {"raw paper": EventScaler(), "raw standard": EventScaler(**RAW_FEATURES),
              "raw canonical": EventScaler(**RAW_FEATURES, azimuth="relative")}
    for input_name, scaler in inputs.items():
        if input_name.removeprefix("raw ") not in raw_inputs:
            continue
        x_train = scaler.fit(train).transform(train)
        x_test = scaler.transform(test)
        # The paper's scaling with the autoencoders only (alone and ensembled, where asked):
        # the other detectors are weaker on every input.
        autoencoders = [d for d in detectors if _is_autoencoder(d)] or ["AE"]
        for detector in detectors if input_name == "raw standard" else autoencoders:
            start = time.perf_counter()
            scores = detector_scores(detector, x_train, x_test, seed)
            rows += _rows("raw", seed, f"{input_name} | {detector}", scores,
                          n_background, sizes, time.perf_counter() - start)
    return rows


def run_supervised(data, seed):
    """Gradient-boosted trees per signal, two-fold cross-fitted on the test events."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from sklearn_aclr import EventScaler

    train, test, sizes, n_background = data
    scaler = EventScaler(**RAW_FEATURES).fit(train)
    x = scaler.transform(test)
    rows, start = [], n_background
    for signal, n in sizes.items():
        idx = np.r_[np.arange(n_background), np.arange(start, start + n)]
        start += n
        y = np.r_[np.zeros(n_background), np.ones(n)]
        fold = np.random.default_rng(seed).permutation(len(idx)) % 2
        score = np.zeros(len(idx))
        for k in (0, 1):
            clf = HistGradientBoostingClassifier(random_state=seed)
            clf.fit(x[idx[fold != k]], y[fold != k])
            score[fold == k] = clf.predict_proba(x[idx[fold == k]])[:, 1]
        values = metrics(n_background, {signal: n}, np.r_[score[:n_background],
                                                            score[n_background:]])
        rows.append({"unit": "supervised", "seed": seed, "model": "supervised",
                     "signal": signal, **values[signal], "seconds": 0.0})
    return rows


def representations(transformer, events):
    """Every representation level of ``events`` from one pass through the encoder."""
    import torch

    from sklearn_aclr._torch_utils import apply_in_batches, unwrapped

    module = unwrapped(transformer.net_.module_)

    def both(module, x):
        pooled = module.pooled(x)
        return torch.cat([pooled, module.head(pooled)], dim=1)

    out = apply_in_batches(module, events, both, batch_size=1024, device=transformer.device_)
    pooled, head = out[:, : transformer.d_model], out[:, transformer.d_model :]
    norm = np.linalg.norm(head, axis=1, keepdims=True)
    return {"head": head, "head_l2": head / np.maximum(norm, 1e-12), "pooled": pooled,
            "pooled+head": out}


def trained_encoder(config, seed, train, args):
    """The encoder of ``config`` and ``seed``, trained on ``train`` or loaded from the cache.

    Training is the expensive part of a unit, so fitted encoders are kept (pickled) under
    ``benchmarks/data/encoders/``; returns the encoder and its training time in seconds.
    """
    from sklearn_aclr import AnomalyCLRTransformer

    path = ENCODERS / f"{config}-seed{seed}-n{len(train)}-e{args.epochs}.pkl"
    if path.exists():
        clr, seconds = joblib.load(path)
        return clr, seconds
    start = time.perf_counter()
    clr = AnomalyCLRTransformer(max_epochs=args.epochs, random_state=seed, device=args.device,
                                **CONFIGS[config]).fit(train)
    seconds = time.perf_counter() - start
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump((clr, seconds), path)
    return clr, seconds


def _unit(config, epochs):
    """The name of an encoder unit: the configuration, with the epochs where not the usual."""
    return config if epochs == DEFAULT_EPOCHS else f"{config} e{epochs}"


def _base_level(level):
    """``pooled*W+raw``, the pooled block weighted by W beside the raw features, is a variant
    of ``pooled+raw``; every other level is its own."""
    return "pooled+raw" if level.startswith("pooled*") else level


def _pooled_weight(level):
    """W of the level ``pooled*W+raw``."""
    return float(level.removeprefix("pooled*").removesuffix("+raw"))


def _level(reps, level):
    if not level.startswith("pooled*"):
        return reps[level]
    # The autoencoder's error sums over features: the weight sets the pooled block's share
    # (its variance is about 7 times that of the raw block at weight 1).
    weight = _pooled_weight(level)
    pooled = reps["pooled"].shape[1]
    return np.hstack([weight * reps["pooled+raw"][:, :pooled], reps["pooled+raw"][:, pooled:]])


def level_inputs(clr, train, test):
    """Every input level of ``train`` and of ``test``, as two dicts: the standardised raw
    features (``"raw"``) and, with an encoder ``clr`` (not None), its representation levels
    and the pooled one beside the raw features (``"pooled+raw"``) or beside those of the
    events turned to put the leading lepton at phi = 0 (``"pooled+canonical"``)."""
    from sklearn_aclr import EventScaler

    scaler = EventScaler(**RAW_FEATURES).fit(train)
    canonical = (None if clr is None
                 else EventScaler(**RAW_FEATURES, azimuth="relative").fit(train))
    inputs = []
    for events in (train, test):
        x = {"raw": scaler.transform(events)}
        if clr is not None:
            x.update(representations(clr, events))
            x["pooled+raw"] = np.hstack([x["pooled"], x["raw"]])
            x["pooled+canonical"] = np.hstack([x["pooled"], canonical.transform(events)])
        inputs.append(x)
    return inputs


def _add_encoder_info(rows, clr, fit_seconds):
    for row in rows:
        row["encoder_seconds"] = round(fit_seconds, 1)
        row["encoder_epochs"] = clr.n_epochs_
    return rows


def run_encoder(config, seed, data, args):
    train, test, sizes, n_background = data
    clr, fit_seconds = trained_encoder(config, seed, train, args)
    unit = _unit(config, args.epochs)
    reps_train, reps_test = level_inputs(clr, train, test)
    rows = []
    for level in args.representations:
        for detector in args.detectors:
            if detector.startswith("AE") and _base_level(level) not in AE_LEVELS:
                continue  # autoencoders cost minutes each: only where the package uses them
            start = time.perf_counter()
            scores = detector_scores(detector, _level(reps_train, level),
                                     _level(reps_test, level), seed)
            rows += _rows(unit, seed, f"ACLR {unit} | {level} | {detector}", scores,
                          n_background, sizes, time.perf_counter() - start)
    return _add_encoder_info(rows, clr, fit_seconds)


def run_encoder_ensemble(config, seed, data, args):
    """An ensemble of encoders: ``config`` trained with the seeds ``member_seeds(seed)``, each
    with its own autoencoder (the same seed) on its pooled representation beside the raw
    features, their standardised log errors averaged as in ``AEx3``. Three autoencoders, as
    in the ensembled raw baseline; what differs is that each sees other learned features."""
    from sklearn_aclr import EventScaler

    train, test, sizes, n_background = data
    unit = _unit(config, args.epochs) + f" x{ENSEMBLE_SIZE}"
    scaler = EventScaler(**RAW_FEATURES).fit(train)
    raw_train, raw_test = scaler.transform(train), scaler.transform(test)
    scores, fit_seconds, epochs = [], 0.0, []
    start = time.perf_counter()
    for member in member_seeds(seed):
        clr, seconds = trained_encoder(config, member, train, args)
        fit_seconds, epochs = fit_seconds + seconds, [*epochs, clr.n_epochs_]
        x_train = np.hstack([representations(clr, train)["pooled"], raw_train])
        x_test = np.hstack([representations(clr, test)["pooled"], raw_test])
        scorer = autoencoder("AE", member).fit(x_train)
        scores.append(standardised_score(scorer, x_train, x_test))
    rows = _rows(unit, seed, f"ACLR {unit} | pooled+raw | AE", np.mean(scores, axis=0),
                 n_background, sizes, time.perf_counter() - start)
    for row in rows:
        row["encoder_seconds"] = round(fit_seconds, 1)
        row["encoder_epochs"] = epochs
    return rows


def run_combinations(config, seed, data, args):
    """Score-level combinations: the ensembled autoencoder (``AEx3``) on the raw features, or
    on the pooled representation beside them, plus W times a detector on the pooled
    representation alone (Mahalanobis distance, Gaussian mixture), each score standardised on
    the training events (the log of the positive ones)."""
    from sklearn.covariance import EmpiricalCovariance
    from sklearn.mixture import GaussianMixture

    from sklearn_aclr import EventScaler

    train, test, sizes, n_background = data
    clr, fit_seconds = trained_encoder(config, seed, train, args)
    unit = _unit(config, args.epochs) + " combined"
    start = time.perf_counter()
    scaler = EventScaler(**RAW_FEATURES).fit(train)
    pooled = {"train": representations(clr, train)["pooled"],
              "test": representations(clr, test)["pooled"]}
    inputs = {"raw": {"train": scaler.transform(train), "test": scaler.transform(test)}}
    inputs["pooled+raw"] = {k: np.hstack([pooled[k], inputs["raw"][k]]) for k in pooled}
    ensembles = {}
    for name, x in inputs.items():
        ensembles[name] = autoencoder("AEx3", seed).fit(x["train"]).anomaly_score(x["test"])
    covariance = EmpiricalCovariance().fit(pooled["train"])
    gmm = GaussianMixture(8, covariance_type="full", reg_covar=1e-4, random_state=seed)
    gmm.fit(pooled["train"])
    detectors = {
        "Mahalanobis(pooled)": standardised(covariance.mahalanobis(pooled["train"]),
                                            covariance.mahalanobis(pooled["test"])),
        "GMM(pooled)": standardised(-gmm.score_samples(pooled["train"]),
                                    -gmm.score_samples(pooled["test"]), log=False),
    }
    rows = []
    for (name, ensemble), (detector, score) in itertools.product(ensembles.items(),
                                                                 detectors.items()):
        for weight in args.combine:
            rows += _rows(unit, seed, f"ACLR {unit} | {name} AEx3 + {weight:g} x {detector}",
                          ensemble + weight * score, n_background, sizes,
                          time.perf_counter() - start)
    return _add_encoder_info(rows, clr, fit_seconds)


def run_fusions(config, seed, data, fusions, args):
    """Score-level fusions (``--fusions``) of autoencoders on different inputs.

    Each term's autoencoder fits on its input level of the training events; its log
    reconstruction error on the test events (an ensemble's score as it is), standardised on
    the training events, is weighted and averaged over the terms. ``config`` None: raw terms
    only, no encoder; a term shared by several fusions is fitted once.
    """
    train, test, sizes, n_background = data
    clr, fit_seconds = (None, 0.0) if config is None else trained_encoder(config, seed,
                                                                          train, args)
    unit = "raw fused" if clr is None else _unit(config, args.epochs) + " fused"
    start = time.perf_counter()
    x_train, x_test = level_inputs(clr, train, test)
    scores, rows = {}, []
    for spec in fusions:
        terms = _fusion(spec)
        for _, level, detector in terms:
            if (level, detector) not in scores:
                train_input = _level(x_train, level)
                scorer = autoencoder(detector, seed).fit(train_input)
                log = _detector_parameters(detector)[0] == "AE"  # errors, not standardised
                scores[level, detector] = standardised_score(
                    scorer, train_input, _level(x_test, level), log=log)
        fused = sum(w * scores[level, detector] for w, level, detector in terms)
        fused /= sum(w for w, _, _ in terms)
        model = f"raw fused | {spec}" if clr is None else f"ACLR {unit} | {spec}"
        rows += _rows(unit, seed, model, fused, n_background, sizes, time.perf_counter() - start)
    return rows if clr is None else _add_encoder_info(rows, clr, fit_seconds)


def done_units(log, info):
    """The (unit, seed) pairs that ``log`` holds already; the log's rows must share the
    training size and test events of this run (``info``), as the table compares them."""
    if not log.exists():
        return set()
    rows = list(map(json.loads, log.read_text().splitlines()))
    for key in ("n_train", "confirm"):
        other = {row.get(key) for row in rows} - {info[key]}
        if other:
            raise SystemExit(f"{log} holds rows with {key}={other.pop()}, this run has "
                             f"{key}={info[key]}: give it a log of its own (--log), as the "
                             "table pairs every row of a log.")
    return {(row["unit"], row["seed"]) for row in rows}


def append(log, rows):
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def table(log, metric="auc"):
    """Mean +- std per model and signal, and paired differences against the best raw model."""
    return format_table([json.loads(line) for line in log.read_text().splitlines()], metric)


def format_table(rows, metric="auc", models=None):
    """The table of ``rows`` (dicts with model, signal, seed and ``metric``): per model and
    signal the mean +- std over seeds and the paired difference to the strongest raw model
    (``raw ...``) of the signal, with its standard error and t; the share of the gap to the
    ``supervised`` rows closed. ``models`` orders the rows (all, sorted, by default)."""
    by = {}
    for row in rows:
        by.setdefault((row["model"], row["signal"]), {})[row["seed"]] = row[metric]
    models = sorted({m for m, _ in by}) if models is None else [
        m for m in models if any(k[0] == m for k in by)]
    signals = [s for s in SIGNALS if any(k[1] == s for k in by)]
    mean = {k: np.mean([v for v in d.values() if v is not None]) if any(
        v is not None for v in d.values()) else np.nan for k, d in by.items()}
    raw_models = [m for m in models if m.startswith("raw")]
    best_raw = {s: max(raw_models, key=lambda m: mean.get((m, s), -np.inf), default=None)
                for s in signals}  # None: no raw rows in the log, no differences
    lines = [f"metric: {metric}; strongest raw baseline per signal: "
             + ", ".join(f"{s}: {best_raw[s]}" for s in signals), ""]
    header = f"{'model':58s}" + "".join(f"{s:>36s}" for s in signals) + f"{'gap closed':>12s}"
    lines.append(header)
    for model in models:
        cells, closed = [], []
        for s in signals:
            values = by.get((model, s), {})
            vals = [v for v in values.values() if v is not None]
            if not vals:
                cells.append(f"{'-':>36s}")
                continue
            cell = f"{np.mean(vals):.3f}+-{np.std(vals, ddof=1) if len(vals) > 1 else 0:.3f}"
            reference = by.get((best_raw[s], s), {})
            diffs = [values[k] - reference[k] for k in values
                     if k in reference and values[k] is not None and reference[k] is not None]
            if model != best_raw[s] and len(diffs) > 1:
                se = np.std(diffs, ddof=1) / np.sqrt(len(diffs))
                # The same difference on every seed (efficiencies are counts): se is 0 up to
                # rounding, and t is infinite, or undefined without a difference.
                t = np.mean(diffs) / se if se > 1e-12 else np.sign(np.mean(diffs)) * np.inf
                cell += f" {np.mean(diffs):+.3f}({se:.3f},t={t:.1f})"
            cells.append(f"{cell:>36s}")
            sup = mean.get(("supervised", s))
            base = mean.get((best_raw[s], s))
            if sup is not None and base is not None and sup > base:
                closed.append((np.mean(vals) - base) / (sup - base))
        gap = f"{np.mean(closed):+.2f}" if len(closed) == len(signals) else "-"
        lines.append(f"{model:58s}" + "".join(cells) + f"{gap:>12s}")
    lines.append("")
    lines.append("cell: mean+-std over seeds, then the paired difference to the strongest raw "
                 "baseline of the signal (standard error, t = difference / standard error); "
                 "gap closed: mean over signals of (model - baseline) / (supervised - baseline).")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="*", default=["default"], choices=sorted(CONFIGS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--raw", nargs="*", choices=RAW_INPUTS, default=None, metavar="INPUT",
                        help="run the raw baselines too: on the paper's scaling and on the "
                             "standardised features (log pT, eta, sin/cos phi), or on those "
                             f"named ({', '.join(RAW_INPUTS)}; canonical: the standardised "
                             "features with azimuth='relative', the leading lepton at phi = 0)")
    parser.add_argument("--supervised", action="store_true", help="run the supervised bound")
    parser.add_argument("--representations", nargs="*", default=list(REPRESENTATIONS),
                        help="levels; also pooled*W+raw, the pooled block weighted by W "
                             "beside the raw features (pooled*1+raw is pooled+raw)")
    parser.add_argument("--detectors", nargs="*", default=list(DETECTORS), type=_detector,
                        help=f"of {', '.join((*DETECTORS, *ENSEMBLES, *OPT_IN))}; AE and AEx3 take "
                             "AutoEncoderScorer parameters: AE(latent_dim=10)")
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--n-test", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="encoder max_epochs")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--log", default=str(LOG))
    parser.add_argument("--folder", default=str(FOLDER), help="the validation sample")
    parser.add_argument("--table", action="store_true", help="print the table and stop")
    parser.add_argument("--train-only", action="store_true",
                        help="train (and cache) the encoders, needs the background files only")
    parser.add_argument("--metric", default="auc")
    parser.add_argument("--encoder-ensemble", action="store_true",
                        help=f"score ensembles of {ENSEMBLE_SIZE} encoders per configuration "
                             "and seed (pooled beside raw, one autoencoder each) instead")
    parser.add_argument("--combine", nargs="*", type=float, default=None, metavar="W",
                        help="score-level combinations instead: the ensembled autoencoder on "
                             "raw (or pooled+raw) features plus W times a detector on the "
                             "pooled representation")
    parser.add_argument("--fusions", nargs="*", type=_fusion_spec, default=None, metavar="SPEC",
                        help="score-level fusions instead: terms [W x ]LEVEL:AE joined by ' + ', "
                             "as in 'raw:AE(latent_dim=2) + 0.5 x pooled+raw:AE'; fusions of "
                             "raw terms alone are raw baselines")
    parser.add_argument("--confirm", action="store_true",
                        help="score the held-back background and the confirmation signals")
    args = parser.parse_args()
    log = Path(args.log if args.log != str(LOG) or not args.confirm else CONFIRMATION_LOG)
    if args.table:
        print(table(log, args.metric))
        return

    from sklearn_aclr.exceptions import ExtrapolationWarning

    warnings.simplefilter("ignore", ExtrapolationWarning)  # signals are scored on purpose
    if args.train_only:
        train = load_background(args.n_train, args.n_test, args.folder)[0]
        for seed in args.seeds:
            for member in member_seeds(seed) if args.encoder_ensemble else [seed]:
                for config in args.configs:
                    _, seconds = trained_encoder(config, member, train, args)
                    print(f"encoder {config} seed {member}: {seconds:.0f} s", flush=True)
        return
    train, test_background, signals = load_validation(args.n_train, args.n_test, args.folder,
                                                      confirm=args.confirm)
    sizes = {name: len(events) for name, events in signals.items()}
    test = np.concatenate([test_background, *signals.values()])
    data = (train, test, sizes, len(test_background))
    info = {"machine": machine()["cpu"], "n_train": args.n_train,
            "n_test": len(test_background), "epochs": args.epochs, "confirm": args.confirm}
    done = done_units(log, info)
    for seed in args.seeds:
        units = [("supervised", run_supervised, (data, seed))] if args.supervised else []
        if args.raw is not None:
            units.append(("raw", run_raw, (seed, data, args.detectors,
                                           args.raw or RAW_INPUTS)))
        if args.encoder_ensemble:
            units += [(_unit(config, args.epochs) + f" x{ENSEMBLE_SIZE}", run_encoder_ensemble,
                       (config, seed, data, args)) for config in args.configs]
        elif args.fusions:
            raw_fusions = [spec for spec in args.fusions if _raw_only(_fusion(spec))]
            fusions = [spec for spec in args.fusions if spec not in raw_fusions]
            if raw_fusions:
                units.append(("raw fused", run_fusions, (None, seed, data, raw_fusions, args)))
            if fusions:
                units += [(_unit(config, args.epochs) + " fused", run_fusions,
                           (config, seed, data, fusions, args)) for config in args.configs]
        elif args.combine:
            units += [(_unit(config, args.epochs) + " combined", run_combinations,
                       (config, seed, data, args)) for config in args.configs]
        else:
            units += [(_unit(config, args.epochs), run_encoder, (config, seed, data, args))
                      for config in args.configs]
        for unit, work, work_args in units:
            if (unit, seed) in done:
                print(f"{unit} seed {seed}: done before, skipped")
                continue
            start = time.perf_counter()
            rows = work(*work_args)
            for row in rows:
                row.update(info)
            append(log, rows)
            print(f"{unit} seed {seed}: {len(rows)} rows in {time.perf_counter() - start:.0f} s",
                  flush=True)
    print(table(log, args.metric))


if __name__ == "__main__":
    main()
