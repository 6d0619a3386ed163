"""Anomaly-detection metrics in the form particle physicists quote them, and scorers for them.

Conventions: ``y_true`` is 1 for signal (anomalous) and 0 for background; ``score`` is an
anomaly score, higher for more anomalous events. The efficiencies are those of a cut
``score > threshold``: the signal efficiency eS (true positive rate) and the background
efficiency eB (false positive rate). The significance improvement is SIC = eS / sqrt(eB).

The scorers (:data:`anomaly_auc_scorer`, :func:`make_signal_efficiency_scorer`,
:data:`max_sic_scorer`) read the score off a fitted estimator with the right sign, so that
higher is always better in ``GridSearchCV`` and ``cross_validate``.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import is_classifier, is_outlier_detector
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import column_or_1d

from sklearn_aclr._docs import fill_doc
from sklearn_aclr._validation import check_signal_labels

__all__ = [
    "anomaly_roc_auc",
    "signal_efficiency_at",
    "hep_roc_curve",
    "sic_curve",
    "max_sic",
    "get_anomaly_score",
    "anomaly_auc_scorer",
    "max_sic_scorer",
    "make_signal_efficiency_scorer",
]


def _check_labels_and_score(y_true, score):
    score = column_or_1d(score).astype(np.float64)
    y_true = check_signal_labels(
        y_true, len(score), names=("y_true", "score"),
        why="Anomaly metrics compare signal with background, so evaluate on a sample that "
        "contains both.",
    )
    if not np.all(np.isfinite(score)):
        raise ValueError("score contains NaN or infinite values.")
    return y_true, score


@fill_doc
def anomaly_roc_auc(y_true, score):
    """Area under the ROC curve of signal against background.

    Parameters
    ----------
    %(labels_and_score)s

    Returns
    -------
    auc : float
        0.5 for a score that cannot tell signal from background, 1 for a perfect one.

    Examples
    --------
    >>> from sklearn_aclr.metrics import anomaly_roc_auc
    >>> anomaly_roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y_true, score = _check_labels_and_score(y_true, score)
    return float(roc_auc_score(y_true, score))


def _efficiencies(y_true, score, return_thresholds=False):
    """(eB, eS, n_background) along all thresholds, eB strictly increasing from 0 to 1, and
    with ``return_thresholds`` the thresholds (a cut is ``score >= threshold``) after them.

    Where several thresholds share one eB (signal events between two background events), only
    the best, highest eS is kept: it is the efficiency a cut at that eB achieves.
    """
    y_true, score = _check_labels_and_score(y_true, score)
    # Every threshold: roc_curve's default drops points on straight ROC segments, which can
    # hold the best SIC or the exact working point.
    fpr, tpr, thresholds = roc_curve(y_true, score, drop_intermediate=False)
    last_of_run = np.r_[fpr[1:] != fpr[:-1], True]
    out = fpr[last_of_run], tpr[last_of_run], int(np.sum(y_true == 0))
    return (*out, thresholds[last_of_run]) if return_thresholds else out


@fill_doc
def hep_roc_curve(y_true, score, *, return_thresholds=False):
    """The ROC curve in the HEP form: signal efficiency against background rejection 1/eB.

    Points with eB = 0 (infinite rejection) are left out.

    Parameters
    ----------
    %(labels_and_score)s
    %(return_thresholds)s

    Returns
    -------
    signal_efficiency : ndarray
        eS, increasing.
    background_rejection : ndarray
        1 / eB at the same thresholds, decreasing.
    thresholds : ndarray
        Only with ``return_thresholds``: the cut ``score >= threshold`` of each point,
        decreasing.

    Examples
    --------
    >>> from sklearn_aclr.metrics import hep_roc_curve
    >>> eS, rejection = hep_roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> eS.tolist(), rejection.tolist()
    ([0.5, 1.0, 1.0], [2.0, 2.0, 1.0])
    >>> hep_roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], return_thresholds=True)[2].tolist()
    [0.4, 0.35, 0.1]
    """
    y_true, score = _check_labels_and_score(y_true, score)
    # Every corner of the step curve, for plotting.
    fpr, tpr, thresholds = roc_curve(y_true, score)
    keep = fpr > 0
    out = tpr[keep], 1.0 / fpr[keep]
    return (*out, thresholds[keep]) if return_thresholds else out


@validate_params(
    {"background_efficiency": [Interval(Real, 0, 1, closed="neither")]},
    prefer_skip_nested_validation=True,
)
@fill_doc
def signal_efficiency_at(y_true, score, background_efficiency=1e-2):
    """Signal efficiency at a fixed background efficiency, eS(eB).

    The efficiency of the best cut on the score whose background efficiency does not exceed
    ``background_efficiency``: no interpolation, so the working point is never overstated.

    Parameters
    ----------
    %(labels_and_score)s
    background_efficiency : float, default=1e-2
        The working point eB, in (0, 1). At least one background event must pass it:
        ``background_efficiency * n_background >= 1``.

    Returns
    -------
    signal_efficiency : float

    Raises
    ------
    ValueError
        When the background sample is too small to resolve ``background_efficiency``.

    Examples
    --------
    >>> from sklearn_aclr.metrics import signal_efficiency_at
    >>> y = [0] * 100 + [1] * 4
    >>> score = list(range(100)) + [98.5, 99.5, 10, 20]
    >>> signal_efficiency_at(y, score, background_efficiency=0.01)  # cut at 98.5
    0.5
    """
    fpr, tpr, n_background = _efficiencies(y_true, score)
    if background_efficiency * n_background < 1:
        needed = int(np.ceil(1 / background_efficiency))
        raise ValueError(
            f"background_efficiency={background_efficiency:g} needs at least {needed} "
            f"background events to be resolved; got {n_background}. Evaluate on more background "
            "or use a larger background efficiency."
        )
    # The loosest cut that keeps eB <= background_efficiency; eS grows with eB along the curve.
    return float(tpr[np.searchsorted(fpr, background_efficiency, side="right") - 1])


@validate_params(
    {"min_background": [Interval(Integral, 1, None, closed="left")],
     "return_thresholds": ["boolean"]},
    prefer_skip_nested_validation=True,
)
@fill_doc
def sic_curve(y_true, score, *, min_background=10, return_thresholds=False):
    """The significance improvement curve, SIC = eS / sqrt(eB).

    Only thresholds passed by at least ``min_background`` background events are kept: at a
    handful of background events eB, and with it the SIC, is dominated by statistical noise.

    Parameters
    ----------
    %(labels_and_score)s
    min_background : int, default=10
        Least number of background events passing a threshold for it to be kept.
    %(return_thresholds)s

    Returns
    -------
    background_efficiency : ndarray
        eB, increasing.
    signal_efficiency : ndarray
        eS at the same thresholds.
    sic : ndarray
        eS / sqrt(eB).
    thresholds : ndarray
        Only with ``return_thresholds``: the cut ``score >= threshold`` of each point,
        decreasing.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aclr.metrics import sic_curve
    >>> y = np.r_[np.zeros(100), np.ones(10)]
    >>> score = np.r_[np.arange(100), np.full(10, 95.5)]
    >>> eB, eS, sic = sic_curve(y, score, min_background=4)
    >>> float(eB[0]), float(eS[0]), float(sic[0])
    (0.04, 1.0, 5.0)
    """
    fpr, tpr, n_background, thresholds = _efficiencies(y_true, score, return_thresholds=True)
    # Counts are exact integers divided by n_background; round away float noise.
    keep = np.rint(fpr * n_background) >= min_background
    if not keep.any():
        raise ValueError(
            f"No threshold is passed by min_background={min_background} background events; "
            f"the sample has {n_background}. Evaluate on more background or lower "
            "min_background."
        )
    fpr, tpr = fpr[keep], tpr[keep]
    out = fpr, tpr, tpr / np.sqrt(fpr)
    return (*out, thresholds[keep]) if return_thresholds else out


@fill_doc
def max_sic(y_true, score, *, min_background=10):
    """Largest significance improvement, max over thresholds of eS / sqrt(eB).

    Parameters
    ----------
    %(labels_and_score)s
    min_background : int, default=10
        Least number of background events passing a threshold for it to count; see
        :func:`sic_curve`.

    Returns
    -------
    max_sic : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aclr.metrics import max_sic, sic_curve
    >>> rng = np.random.default_rng(0)
    >>> y = np.r_[np.zeros(1000), np.ones(100)]
    >>> score = np.r_[rng.normal(size=1000), rng.normal(2.0, size=100)]
    >>> bool(max_sic(y, score) == sic_curve(y, score)[2].max())  # at least 10 background events
    True
    """
    return float(np.max(sic_curve(y_true, score, min_background=min_background)[2]))


def get_anomaly_score(estimator, X):
    """Anomaly score of a fitted estimator, higher for more anomalous events.

    - An estimator with an ``anomaly_score`` method (:class:`~sklearn_aclr.AutoEncoderScorer`)
      gives it directly.
    - An outlier detector, or a Pipeline ending in one, gives ``-score_samples(X)`` (or
      ``-decision_function(X)``), since scikit-learn's normality scores are higher for inliers.
    - A classifier trained with y = 1 for signal gives ``predict_proba(X)[:, 1]`` (or
      ``decision_function(X)``), the supervised reference.

    Parameters
    ----------
    estimator : estimator
        A fitted outlier detector, classifier or Pipeline ending in one.
    X : array-like
        Events to score.

    Returns
    -------
    score : ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> from sklearn_aclr.metrics import get_anomaly_score
    >>> background = np.random.default_rng(0).normal(size=(200, 2))
    >>> forest = IsolationForest(random_state=0).fit(background)
    >>> score = get_anomaly_score(forest, [[0.0, 0.0], [5.0, 5.0]])  # higher = more anomalous
    >>> bool(score[1] > score[0])
    True
    """
    if hasattr(estimator, "anomaly_score"):
        return np.asarray(estimator.anomaly_score(X))
    if is_outlier_detector(estimator):
        if hasattr(estimator, "score_samples"):
            return -np.asarray(estimator.score_samples(X))
        return -np.asarray(estimator.decision_function(X))
    if is_classifier(estimator):
        if hasattr(estimator, "predict_proba"):
            return np.asarray(estimator.predict_proba(X))[:, 1]
        return np.asarray(estimator.decision_function(X))
    raise TypeError(
        f"Cannot read an anomaly score off {type(estimator).__name__}: expected an outlier "
        "detector (such as AutoEncoderScorer), a classifier, or a Pipeline ending in one."
    )


class _AnomalyScorer:
    """Scorer ``(estimator, X, y) -> metric(y, anomaly score)``; higher is better.

    The anomaly score is read off the estimator by :func:`get_anomaly_score`, so the scorer
    works on outlier detectors, Pipelines ending in one, and classifiers alike.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, score, **kwargs)``, higher is better.
    name : str
        How the scorer is written in this package's public API, for its repr.
    **kwargs : dict
        Passed to ``metric``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> from sklearn_aclr.metrics import anomaly_auc_scorer
    >>> X = np.r_[np.zeros((20, 2)), [[5.0, 5.0]]]
    >>> y = np.r_[np.zeros(20), 1]
    >>> anomaly_auc_scorer(IsolationForest(random_state=0).fit(X), X, y)
    1.0
    """

    def __init__(self, metric, name, **kwargs):
        self.metric = metric
        self.name = name
        self.kwargs = kwargs

    def __call__(self, estimator, X, y_true, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(f"{self!r} does not support sample_weight.")
        return self.metric(y_true, get_anomaly_score(estimator, X), **self.kwargs)

    def __repr__(self):
        return self.name


anomaly_auc_scorer = _AnomalyScorer(anomaly_roc_auc, "anomaly_auc_scorer")
"""Scorer for model selection: ROC AUC of the estimator's anomaly score."""

max_sic_scorer = _AnomalyScorer(max_sic, "max_sic_scorer")
"""Scorer for model selection: maximum SIC (at least 10 background events passing)."""


@validate_params(
    {"background_efficiency": [Interval(Real, 0, 1, closed="neither")]},
    prefer_skip_nested_validation=True,
)
def make_signal_efficiency_scorer(background_efficiency=1e-2):
    """Scorer for model selection: signal efficiency at a fixed background efficiency.

    Parameters
    ----------
    background_efficiency : float, default=1e-2
        The working point eB; see :func:`signal_efficiency_at`.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` returns eS at ``background_efficiency``.

    Examples
    --------
    >>> from sklearn_aclr.metrics import make_signal_efficiency_scorer
    >>> make_signal_efficiency_scorer(1e-3)
    make_signal_efficiency_scorer(background_efficiency=0.001)
    """
    return _AnomalyScorer(
        signal_efficiency_at,
        f"make_signal_efficiency_scorer(background_efficiency={background_efficiency!r})",
        background_efficiency=background_efficiency,
    )
