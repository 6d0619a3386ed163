"""What the training background looked like, and the guard that compares new input with it.

``fit`` records a summary of its input: for every checked column the minimum, maximum and a
few quantiles (for collider events: each object type's pT and eta, and the number of objects
of each type). ``transform`` and the scoring methods then count the events whose values fall
outside the recorded ranges (widened by a tenth of their width) and warn once per call
(:class:`ExtrapolationWarning`). The summary is plain JSON, and is written into the card of a
saved model.
"""


import numpy as np

from sklearn_aclr._sources import iter_blocks
from sklearn_aclr._warnings import warn
from sklearn_aclr.exceptions import ExtrapolationWarning

QUANTILE_LEVELS = (0.001, 0.01, 0.5, 0.99, 0.999)
# Quantiles are taken on a strided subsample of at most this many events (min and max are
# exact), so that summarising a stream of any size reads it once, in bounded memory.
_QUANTILE_EVENTS = 100_000
# The guard's range is the training range widened by this fraction of its width on either
# side: values just beyond the largest training value are what a fresh sample of the same
# background gives (the chance is 2 / (n + 1) per feature), not an extrapolation.
_MARGIN = 0.1


def event_columns(layout):
    """``columns(block)`` for canonical events: (name, values, present) per checked column.

    Collider layouts give ``<type>_pt`` and ``<type>_eta`` (where the type has an acceptance)
    over the objects present, and ``n_<type>``, the number of objects of each type. phi is
    left out: every value in [-pi, pi) is physical. Other layouts give every slot's values.
    """

    def columns(block):
        present = block[..., -1] != 0
        for object_type in layout.object_types:
            slots = layout.slots_of(object_type.name)
            for f, feature in enumerate(layout.features):
                if feature == "phi" or (feature == "eta" and not np.isfinite(object_type.eta_max)):
                    continue
                name = (object_type.name if not layout.is_collider
                        else f"{object_type.name}_{feature}")
                yield name, block[:, slots, f], present[:, slots]
            if layout.is_collider and len(slots) > 1:
                count = present[:, slots].sum(1, keepdims=True)
                yield f"n_{object_type.name}", count, np.ones_like(count, dtype=bool)

    return columns


def feature_columns(names):
    """``columns(block)`` for 2D features: one column per feature, named ``names``."""

    def columns(block):
        present = np.ones((len(block), 1), dtype=bool)
        for i, name in enumerate(names):
            yield name, block[:, i : i + 1], present

    return columns


def summarize(X, columns):
    """The training summary of X, an array or an event source read in its blocks."""
    collector = SummaryCollector(columns, len(X))
    for block in iter_blocks(X):
        collector.update(block)
    return collector.result()


class SummaryCollector:
    """Builds a training summary batch by batch, in one pass and bounded memory.

    Parameters
    ----------
    columns : callable
        ``columns(block)``: yields ``(name, values, present)`` per checked column.
    n_events : int
        Events that will be passed, to choose the stride of the quantile subsample.
    """

    def __init__(self, columns, n_events):
        self.columns = columns
        self.n_events = n_events
        self.stride = max(1, -(-n_events // _QUANTILE_EVENTS))
        self.seen = 0
        self.low, self.high, self.samples = {}, {}, {}

    def update(self, block):
        block = np.asarray(block)
        offset = -self.seen % self.stride  # the subsample strides across block boundaries
        self.seen += len(block)
        for name, values, present in self.columns(block):
            kept = values[present]
            if kept.size:
                self.low[name] = min(self.low.get(name, np.inf), float(kept.min()))
                self.high[name] = max(self.high.get(name, -np.inf), float(kept.max()))
            sub = slice(offset, None, self.stride)
            self.samples.setdefault(name, []).append(
                values[sub][present[sub]].astype(np.float64)
            )

    def result(self):
        """The summary, a JSON-ready dict."""
        features = {}
        for name, parts in self.samples.items():
            sample = np.concatenate(parts)
            features[name] = {
                "min": self.low.get(name), "max": self.high.get(name),
                "quantiles": (np.quantile(sample, QUANTILE_LEVELS).tolist() if sample.size
                              else None),
            }
        return {"n_events": int(self.seen), "quantile_levels": list(QUANTILE_LEVELS),
                "features": features}


class ExtrapolationGuard:
    """Counts, batch by batch, the events outside the ranges of a training summary.

    Parameters
    ----------
    summary : dict or None
        From :func:`summarize`; None (a model fitted before summaries existed) checks nothing.
    columns : callable
        ``columns(block)``, as for :func:`summarize`.
    what : str
        The estimator and method, for the message.
    """

    def __init__(self, summary, columns, what):
        self.summary = summary
        self.columns = columns
        self.what = what
        self.n_events = 0
        self.n_outside = 0
        self.by_feature = {}

    def update(self, block):
        """Count the events of one batch (a numpy array) outside the training ranges."""
        block = np.asarray(block)
        self.n_events += len(block)
        if self.summary is None:
            return
        outside = np.zeros(len(block), dtype=bool)
        for name, values, present in self.columns(block):
            limits = self.summary["features"].get(name)
            if limits is None or limits["min"] is None:
                continue
            margin = _MARGIN * (limits["max"] - limits["min"])
            low, high = limits["min"] - margin, limits["max"] + margin
            bad = present & ((values < low) | (values > high))
            bad = bad.any(axis=1)
            if bad.any():
                self.by_feature[name] = self.by_feature.get(name, 0) + int(bad.sum())
                outside |= bad
        self.n_outside += int(outside.sum())

    def warn(self):
        """Warn once, with the counts, if any event was outside; at the user's line."""
        if not self.n_outside:
            return
        worst = sorted(self.by_feature.items(), key=lambda item: -item[1])[:4]
        detail = ", ".join(f"{name}: {count}" for name, count in worst)
        warn(
            f"{self.what}: {self.n_outside} of {self.n_events} events "
            f"({100 * self.n_outside / self.n_events:.3g}%) lie outside the feature ranges of "
            f"the training background (events per feature: {detail}). The output extrapolates "
            "there. A few such events are expected among anomalies; many suggest data unlike "
            "the training sample (another detector, selection or simulation). The ranges are "
            "in training_summary_; to silence this, warnings.simplefilter('ignore', "
            "sklearn_aclr.exceptions.ExtrapolationWarning).",
            ExtrapolationWarning,
        )
