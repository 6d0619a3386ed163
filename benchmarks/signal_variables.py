"""How far single physics variables separate each signal from the background.

No model: each variable of the event (MET, the leading lepton's pT, the transverse mass of
that lepton and MET, the numbers of jets and leptons, HT) is taken as a score, and its ROC AUC
for background against each signal is reported with the side where the signal lies: "low"
where small values are signal-like (the AUC is then that of minus the variable). The events
are those the ablation tests on (``ablation.py``: the last 20,000 events of the shuffled
validation background and every signal event), or with ``--confirm`` the held-back background
and the confirmation signals.

It tells what kind of anomaly each signal is. A variable that separates a signal well on its
*low* side marks a signal that sits in the bulk of the background's range, where an
autoencoder's reconstruction error is small: a detector of unusual events cannot use that side
without knowing it is the interesting one.

Usage::

    python benchmarks/signal_variables.py
    python benchmarks/signal_variables.py --confirm
"""

import argparse

import numpy as np
from ablation import SIGNALS, load_validation

from sklearn_aclr import ADC2021
from sklearn_aclr.metrics import anomaly_roc_auc

from _common import write_report

PT, PHI, CLASS = 0, 2, 3
ELECTRON, MUON, JET = (ADC2021.object_type(name).class_id for name in ("ele", "mu", "jet"))


def physics_variables(events):
    """Per event: MET, leading lepton pT, transverse mass of that lepton and MET, numbers of
    jets and leptons, HT (scalar sum of jet pT)."""
    pt, phi, kind = events[..., PT], events[..., PHI], events[..., CLASS]
    lepton = (kind == ELECTRON) | (kind == MUON)
    lepton_pt = np.where(lepton, pt, 0.0)
    lead = lepton_pt.argmax(axis=1)
    lead_pt = lepton_pt.max(axis=1)
    lead_phi = phi[np.arange(len(events)), lead]
    met, met_phi = pt[:, 0], phi[:, 0]
    return {
        "MET": met,
        "leading lepton pT": lead_pt,
        "mT(lepton, MET)": np.sqrt(2 * lead_pt * met * (1 - np.cos(lead_phi - met_phi))),
        "jets": (kind == JET).sum(axis=1),
        "leptons": lepton.sum(axis=1),
        "HT": np.where(kind == JET, pt, 0.0).sum(axis=1),
    }


def separation(background, signal):
    """``(auc, side)``: the AUC of the variable on the side where the signal lies."""
    y = np.r_[np.zeros(len(background)), np.ones(len(signal))]
    auc = anomaly_roc_auc(y, np.r_[background, signal])
    return (auc, "high") if auc >= 0.5 else (1 - auc, "low")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--confirm", action="store_true",
                        help="the held-back background and the confirmation signals")
    parser.add_argument("--output")
    args = parser.parse_args()

    _, background, signals = load_validation(20_000, 20_000, confirm=args.confirm)
    reference = physics_variables(background)
    rows = {}
    for name in SIGNALS:
        variables = physics_variables(signals[name])
        rows[name] = {v: separation(reference[v], variables[v]) for v in reference}
    width = max(map(len, reference)) + 2
    print(f"{'variable':{width}s}" + "".join(f"{name:>16s}" for name in SIGNALS))
    for v in reference:
        cells = [f"{rows[name][v][0]:.3f} {rows[name][v][1]:>4s}" for name in SIGNALS]
        print(f"{v:{width}s}" + "".join(f"{cell:>16s}" for cell in cells))
    write_report("signal_variables_confirm" if args.confirm else "signal_variables", {
        "n_background": len(background), "confirm": args.confirm,
        "auc": {name: {v: {"auc": auc, "side": side} for v, (auc, side) in row.items()}
                for name, row in rows.items()},
    }, args.output)


if __name__ == "__main__":
    main()
