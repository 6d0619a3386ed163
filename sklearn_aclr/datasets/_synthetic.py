"""A fast parametric sampler of ADC2021-layout events, for tests and quick experiments.

This is not a physics simulation: it draws W-like lepton + MET + jets events from simple
distributions, in the exact ADC2021 array layout, in milliseconds. Use it to exercise code;
use real ADC2021 files or simulated events for physics.
"""

import numpy as np
from sklearn.utils import check_random_state

from sklearn_aclr._layout import ADC2021

__all__ = ["make_adc_events"]

SIGNALS = ("four_leptons", "high_met")


def make_adc_events(n_background, n_signal=0, *, signal="four_leptons", random_state=None):
    """Draw ADC2021-layout events from a simple parametric model.

    Background events are W-like: one lepton (electron or muon) above the 23 GeV filter
    threshold, a neutrino roughly back to back in phi, a Poisson number of jets, sometimes a soft
    extra lepton; MET is the neutrino plus a resolution term. Signals differ clearly:

    - ``"four_leptons"``: four leptons in two same-flavour pairs and little MET, like A -> 4l;
    - ``"high_met"``: one lepton and a hard neutrino, like h+ -> tau nu.

    Objects are sorted by pT within their type and respect the ADC2021 acceptance and
    thresholds. The model is crude by design: it is a sampler for tests, examples and
    benchmarks, not a physics generator.

    Parameters
    ----------
    n_background : int
        Number of background events.
    n_signal : int, default=0
        Number of signal events, appended after the background.
    signal : {"four_leptons", "high_met"}, default="four_leptons"
        Which signal to draw.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible samples.

    Returns
    -------
    X : ndarray of shape (n_background + n_signal, 19, 4), dtype float32
        Events in the ADC2021 ``Particles`` layout (pT, eta, phi, class id).
    y : ndarray of shape (n_background + n_signal,), dtype int64
        0 for background, 1 for signal.

    Examples
    --------
    >>> from sklearn_aclr.datasets import make_adc_events
    >>> X, y = make_adc_events(100, 20, random_state=0)
    >>> X.shape, int(y.sum())
    ((120, 19, 4), 20)
    """
    if signal not in SIGNALS:
        raise ValueError(f"Unknown signal {signal!r}; expected one of {SIGNALS}.")
    for name, n in (("n_background", n_background), ("n_signal", n_signal)):
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"{name} must be a non-negative integer; got {n!r}.")
    rng = check_random_state(random_state)
    background = _draw(rng, n_background, n_leptons=1, nu_scale=(25.0, 10.0))
    if signal == "four_leptons":
        sig = _draw(rng, n_signal, n_leptons=4, nu_scale=(0.0, 0.0))
    else:
        sig = _draw(rng, n_signal, n_leptons=1, nu_scale=(80.0, 40.0))
    X = np.concatenate([background, sig]).astype(np.float32)
    y = np.r_[np.zeros(n_background, dtype=np.int64), np.ones(n_signal, dtype=np.int64)]
    return X, y


def _draw(rng, n, *, n_leptons, nu_scale):
    """Draw ``n`` events with ``n_leptons`` hard leptons and a neutrino of pT ~ a + Exp(b)."""
    events = np.zeros((n, ADC2021.n_slots, 4))
    counts = {"ele": np.zeros(n, dtype=int), "mu": np.zeros(n, dtype=int)}
    objects = {"ele": [], "mu": [], "jet": []}  # lists of (event_index, pt, eta, phi) arrays
    idx = np.arange(n)

    # Hard leptons: the leading one passes the 23 GeV filter; with four, they come in
    # same-flavour pairs (Z-like).
    flavour = rng.choice(["ele", "mu"], size=n)
    for k in range(n_leptons):
        pt = (23.0 if k == 0 else 5.0) + rng.gamma(2.0, 10.0 if k == 0 else 6.0, size=n)
        this = flavour if k < 2 else np.where(flavour == "ele", "mu", "ele")
        for name in ("ele", "mu"):
            sel = idx[this == name]
            objects[name].append(_kinematics(rng, sel, pt[sel], name))
            counts[name][sel] += 1
    # A soft extra lepton in 10% of events.
    extra = idx[rng.random(n) < 0.1]
    extra_flavour = rng.choice(["ele", "mu"], size=extra.size)
    for name in ("ele", "mu"):
        sel = extra[(extra_flavour == name) & (counts[name][extra] < 4)]
        objects[name].append(_kinematics(rng, sel, 3.0 + rng.exponential(8.0, sel.size), name))
    # Jets: Poisson(1.5) of them, capped at the 10 slots.
    n_jets = np.minimum(rng.poisson(1.5, size=n), 10)
    sel = np.repeat(idx, n_jets)
    objects["jet"].append(_kinematics(rng, sel, 15.0 + rng.exponential(25.0, sel.size), "jet"))

    for name, parts in objects.items():
        _fill(events, name, *map(np.concatenate, zip(*parts)))

    # MET: a neutrino roughly back to back with the leading lepton, plus resolution.
    lead_phi = events[idx, np.where(flavour == "ele", 1, 5), 2]
    a, b = nu_scale
    nu_pt = a + rng.exponential(b, n) if b > 0 else np.zeros(n)
    nu_phi = lead_phi + np.pi + rng.normal(0.0, 0.5, n)
    present = events[..., 3] > 0
    ht = (events[..., 0] * present).sum(axis=1)
    sigma = 3.0 + 0.05 * ht
    mex = nu_pt * np.cos(nu_phi) + rng.normal(0.0, sigma)
    mey = nu_pt * np.sin(nu_phi) + rng.normal(0.0, sigma)
    events[:, 0] = np.stack([np.hypot(mex, mey), np.zeros(n), np.arctan2(mey, mex), np.ones(n)], -1)
    return events


def _kinematics(rng, event_index, pt, name):
    """Eta from a Gaussian folded into the acceptance, phi uniform."""
    eta_max = ADC2021.object_type(name).eta_max
    eta = rng.normal(0.0, 0.5 * eta_max, event_index.size)
    eta = np.clip(eta, -0.99 * eta_max, 0.99 * eta_max)
    phi = rng.uniform(-np.pi, np.pi, event_index.size)
    return event_index, pt, eta, phi


def _fill(events, name, event_index, pt, eta, phi):
    """Write objects of one type into their slots, sorted by descending pT per event."""
    slots = ADC2021.slots_of(name)
    order = np.lexsort((-pt, event_index))
    event_index, pt, eta, phi = event_index[order], pt[order], eta[order], phi[order]
    # Rank of each object within its event: position minus the event's first position.
    first = np.searchsorted(event_index, event_index, side="left")
    rank = np.arange(event_index.size) - first
    keep = rank < slots.size
    ev, sl = event_index[keep], slots[rank[keep]]
    class_id = ADC2021.object_type(name).class_id
    events[ev, sl] = np.stack([pt[keep], eta[keep], phi[keep], np.full(keep.sum(), class_id)], -1)
