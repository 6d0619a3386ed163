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


class FeatureColumns:
    """``columns(block)`` for 2D features: one column per feature, named ``names``.

    The guard checks the block as it is, without taking it apart column by column.
    """

    def __init__(self, names):
        self.names = tuple(names)

    def __call__(self, block):
        present = np.ones((len(block), 1), dtype=bool)
        for i, name in enumerate(self.names):
            yield name, block[:, i : i + 1], present


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
        self._ranges = None

    def update(self, block):
        """Count the events of one batch (a numpy array) outside the training ranges."""
        block = np.asarray(block)
        self.n_events += len(block)
        if self.summary is None:
            return
        names, outside = self._outside(block)
        for name, count in zip(names, outside.sum(axis=0)):
            if count:
                self.by_feature[name] = self.by_feature.get(name, 0) + int(count)
        self.n_outside += int(outside.any(axis=1).sum())

    def _outside(self, block):
        """The names of the checked columns that have a range, and (events, columns): whether
        each event lies outside each range."""
        if isinstance(self.columns, FeatureColumns):
            # Features: the whole block in one comparison (a loop over 159 columns took a
            # tenth of a pipeline's scoring time).
            if self._ranges is None:
                self._ranges = self._feature_ranges(block.dtype)
            names, positions, low, high = self._ranges
            x = block if positions is None else block[:, positions]
            return names, (x < low) | (x > high)
        names, outside = [], []
        for name, values, present in self.columns(block):
            bounds = self._range(name)
            if bounds is not None:
                names.append(name)
                outside.append((present & ((values < bounds[0]) | (values > bounds[1])))
                               .any(axis=1))
        return names, np.stack(outside, axis=1) if outside else np.zeros((len(block), 0), bool)

    def _range(self, name):
        """The guard's (low, high) for the column ``name``, or None where none was recorded."""
        limits = self.summary["features"].get(name)
        if limits is None or limits["min"] is None:
            return None
        margin = _MARGIN * (limits["max"] - limits["min"])
        return limits["min"] - margin, limits["max"] + margin

    def _feature_ranges(self, dtype):
        """The names of the features that have a range, their positions (None: all), and
        their low and high bounds in the block's dtype (as a Python float bound is compared)."""
        dtype = dtype if np.issubdtype(dtype, np.floating) else np.float64
        checked = [(i, name, self._range(name)) for i, name in enumerate(self.columns.names)]
        checked = [item for item in checked if item[2] is not None]
        positions = (None if len(checked) == len(self.columns.names)
                     else np.array([i for i, _, _ in checked], dtype=np.intp))
        return ([name for _, name, _ in checked], positions,
                np.array([bounds[0] for _, _, bounds in checked], dtype=dtype),
                np.array([bounds[1] for _, _, bounds in checked], dtype=dtype))

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
