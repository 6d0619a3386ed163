"""What the representations know: probes of physics variables on the validation sample.

A probe is a regression from an input (the standardised raw features, an encoder's pooled
representation, its head) to one physics variable of the event (``signal_variables.py``:
MET, the leading lepton's pT, the transverse mass of that lepton and MET, the numbers of jets
and leptons, HT). It is fitted on the ablation's training background and its R^2 is measured
on the test background. A linear probe (ridge regression on the standardised input) asks
whether the variable is laid out along a direction of the input, which is what a detector on
the representation can use without learning it again; gradient-boosted trees ask whether the
information is there at all.

The transverse-mass probe is also scored as a detector: the AUC of its predicted mT, low side,
for each signal against the test background, beside that of the true mT. Every signal of the
validation sample sits below the W Jacobian peak, h+ -> tau nu nearly only there
(``signal_variables.py``); a representation that lays mT out linearly holds what separates it.

Encoders are the ablation's cached ones (``ablation.py``), trained on the same 20,000 events;
``loss=anomclr_plus,layers=2`` is the package's default encoder,
``loss=anomclr_plus,layers=2,untrained`` the same as initialised (the control), and
``loss=anomclr_plus,layers=2,anomalous=+turn_met`` the same with a fifth negative view that
turns MET alone (``_views.TurnMET``). ``--latent``
adds the two-dimensional code of the narrow raw autoencoder (``AE(latent_dim=2,
hidden_layer_sizes=(128, 64))`` on the standardised raw features, the strongest raw detector
of h+ -> tau nu): what its bottleneck keeps.

Usage::

    python benchmarks/probe.py --seeds 0 1 2 --latent
"""

import argparse
import time
from types import SimpleNamespace

import numpy as np
from ablation import (
    CONFIGS,
    DEFAULT_EPOCHS,
    SIGNALS,
    autoencoder,
    load_validation,
    representations,
    trained_encoder,
)
from signal_variables import CLASS, ELECTRON, MUON, PHI, PT, physics_variables

from sklearn_aclr.metrics import anomaly_roc_auc
from sklearn_aclr.study import RAW_FEATURES

from _common import write_report

# Variables with a long upper tail are probed on a log scale, so that R^2 is not the tail's.
LOG_SCALE = ("MET", "leading lepton pT", "HT")
MT = "mT(lepton, MET)"
NARROW_RAW_AE = "AE(latent_dim=2, hidden_layer_sizes=(128, 64))"
PROBES = ("linear", "trees")
LEPTONS = (ELECTRON, MUON)


def targets(events):
    """The probed variables of ``events``, long-tailed ones as log(1 + x), and the angles:
    cos of the azimuth between the leading lepton and MET (the balance of a W -> l nu
    event), and the leading lepton's azimuth itself as cos and sin (the event's orientation,
    which a rotation-invariant encoder does not see)."""
    out = {name: np.log1p(values) if name in LOG_SCALE else values.astype(float)
           for name, values in physics_variables(events).items()}
    phi = events[..., PHI]
    lepton = np.isin(events[..., CLASS], LEPTONS)
    lead_phi = phi[np.arange(len(events)), np.where(lepton, events[..., PT], 0.0).argmax(1)]
    out["cos dphi(lepton, MET)"] = np.cos(lead_phi - phi[:, 0])
    out["cos phi(lepton)"], out["sin phi(lepton)"] = np.cos(lead_phi), np.sin(lead_phi)
    return out


def probe(kind, seed):
    """An unfitted probe: ridge regression on the standardised input (its penalty chosen by
    leave-one-out), or gradient-boosted trees."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "linear":
        return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 7)))
    return HistGradientBoostingRegressor(random_state=seed)


def latent_code(scorer, x):
    """The bottleneck of a fitted AutoEncoderScorer for the rows of ``x``."""
    import torch

    from sklearn_aclr._torch_utils import unwrapped

    module = unwrapped(scorer.net_.module_).eval()
    with torch.no_grad():
        return module.encoder(torch.as_tensor(x, dtype=torch.float32)).numpy()


def inputs_of(config, seed, data, args):
    """``({name: (train, test, {signal: x})}, errors)`` for the raw features and, with
    ``config``, the encoder's pooled and head levels. ``--latent`` adds the narrow raw
    autoencoder's code, and ``errors`` is then where its reconstruction error grows on each
    signal (:func:`error_excess`); else None."""
    from sklearn_aclr import EventScaler

    train, test, signals = data
    events = {"train": train, "test": test, **signals}
    if config is not None:
        clr = trained_encoder(config, seed, train, args)[0]
        x = {key: representations(clr, values) for key, values in events.items()}
        return {level: _split({key: reps[level] for key, reps in x.items()})
                for level in ("pooled", "head")}, None
    scaler = EventScaler(**RAW_FEATURES).fit(train)
    raw = {key: scaler.transform(values) for key, values in events.items()}
    out = {"raw": _split(raw)}
    if not args.latent:
        return out, None
    scorer = autoencoder(NARROW_RAW_AE, seed).fit(raw["train"])
    out["narrow raw AE code"] = _split({k: latent_code(scorer, x) for k, x in raw.items()})
    return out, error_excess(scorer, scaler.get_feature_names_out(), raw)


def error_excess(scorer, names, raw):
    """``{signal: {feature: excess}}``: by how much each feature's mean squared
    reconstruction error on the signal exceeds that on the test background, the five largest
    per signal; and the total over features under ``"total"``."""
    def mean_errors(x):
        return ((scorer.reconstruct(x) - x) ** 2).mean(axis=0)

    background = mean_errors(raw["test"])
    out = {}
    for name in SIGNALS:
        excess = mean_errors(raw[name]) - background
        top = np.argsort(-excess)[:5]
        out[name] = {"total": float(excess.sum()),
                     **{str(names[i]): float(excess[i]) for i in top}}
    return out


def _split(x):
    """``{"train": a, "test": b, signal: c, ...}`` -> ``(a, b, {signal: c, ...})``."""
    return x["train"], x["test"], {name: x[name] for name in SIGNALS}


def run_unit(config, seed, data, args):
    """R^2 of every probe of every variable, and the AUC of the mT probes, for one input."""
    train, test, signals = data
    y_train, y_test = targets(train), targets(test)
    inputs, errors = inputs_of(config, seed, data, args)
    rows = [] if errors is None else [{"input": "narrow raw AE errors", "seed": seed,
                                        "error_excess": errors}]
    for name, (x_train, x_test, x_signals) in inputs.items():
        for kind in PROBES:
            start = time.perf_counter()
            row = {"input": name if config is None else f"{config} | {name}", "probe": kind,
                   "seed": seed, "r2": {}}
            for variable in y_train:
                model = probe(kind, seed).fit(x_train, y_train[variable])
                row["r2"][variable] = float(model.score(x_test, y_test[variable]))
                if variable == MT:
                    row["mT_auc"] = mt_aucs(model, x_test, x_signals)
            row["seconds"] = round(time.perf_counter() - start, 1)
            rows.append(row)
            print(f"{row['input']:50s} {kind:7s} seed {seed}  "
                  + "  ".join(f"{v[:10]} {r:.3f}" for v, r in row["r2"].items()), flush=True)
    return rows


def mt_aucs(model, x_test, x_signals):
    """The AUC, low side, of a fitted mT probe's prediction for each signal."""
    background = model.predict(x_test)
    out = {}
    for name, x in x_signals.items():
        signal = model.predict(x)
        y = np.r_[np.zeros(len(background)), np.ones(len(signal))]
        out[name] = float(anomaly_roc_auc(y, -np.r_[background, signal]))
    return out


def table(rows):
    """Mean +- std over seeds of every R^2 and mT AUC, per input and probe."""
    groups = {}
    for row in rows:
        if "probe" in row:
            groups.setdefault((row["input"], row["probe"]), []).append(row)
    summary = []
    for (name, kind), group in groups.items():
        r2 = {v: [g["r2"][v] for g in group] for v in group[0]["r2"]}
        auc = {s: [g["mT_auc"][s] for g in group] for s in group[0]["mT_auc"]}
        summary.append({
            "input": name, "probe": kind, "seeds": [g["seed"] for g in group],
            "r2": {v: [float(np.mean(x)), float(np.std(x))] for v, x in r2.items()},
            "mT_auc": {s: [float(np.mean(x)), float(np.std(x))] for s, x in auc.items()}})
    variables = list(summary[0]["r2"])
    print("\nR^2 on the test background, mean +- std over seeds")
    print(f"{'input':50s} {'probe':7s}" + "".join(f"{v[:14]:>16s}" for v in variables))
    for s in summary:
        print(f"{s['input']:50s} {s['probe']:7s}"
              + "".join(f"{m:>9.3f} +-{d:.3f}" for m, d in s["r2"].values()))
    print("\nAUC of the predicted mT (low side) per signal")
    print(f"{'input':50s} {'probe':7s}" + "".join(f"{n:>16s}" for n in SIGNALS))
    for s in summary:
        print(f"{s['input']:50s} {s['probe']:7s}"
              + "".join(f"{m:>9.3f} +-{d:.3f}" for m, d in s["mT_auc"].values()))
    errors = [row["error_excess"] for row in rows if "error_excess" in row]
    if errors:
        print("\nWhere the narrow raw autoencoder's error grows, seed by seed (feature: excess "
              "of its mean squared error over the test background's)")
        for name in SIGNALS:
            for seed_errors in errors:
                cells = [f"{k} {v:+.2f}" for k, v in seed_errors[name].items()]
                print(f"{name:12s} " + ", ".join(cells))
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="*", choices=sorted(CONFIGS),
                        default=["loss=anomclr_plus,layers=2",
                                 "loss=anomclr_plus,layers=2,untrained",
                                 "loss=anomclr_plus,layers=2,anomalous=+turn_met"])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--latent", action="store_true",
                        help="probe the narrow raw autoencoder's two-dimensional code too")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="encoder max_epochs")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--output")
    args = parser.parse_args()

    train, test, signals = load_validation(20_000, 20_000)
    data = (train, test, signals)
    true_mt = {name: float(anomaly_roc_auc(
        np.r_[np.zeros(len(test)), np.ones(len(events))],
        -np.r_[targets(test)[MT], targets(events)[MT]])) for name, events in signals.items()}
    rows = []
    for seed in args.seeds:
        for config in [None, *args.configs]:
            rows += run_unit(config, seed, data, SimpleNamespace(**vars(args)))
    summary = table(rows)
    print("true mT".ljust(58) + "".join(f"{true_mt[n]:>16.3f}" for n in SIGNALS))
    write_report("probe", {"n_train": len(train), "n_test": len(test), "epochs": args.epochs,
                           "true_mT_auc": true_mt, "summary": summary, "rows": rows},
                 args.output)


if __name__ == "__main__":
    main()
