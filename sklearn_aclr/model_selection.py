"""Cross-validation for anomaly detection: train on background, test on background and signal."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.model_selection import BaseCrossValidator, KFold
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, validate_params
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, column_or_1d

from sklearn_aclr._docs import DocLinkMixin
from sklearn_aclr._validation import check_signal_labels

__all__ = ["BackgroundKFold", "BackgroundOnly"]


class BackgroundKFold(BaseCrossValidator):
    """K-fold splits whose training folds hold background only.

    The background events (y == 0) are split into ``n_splits`` folds as by
    :class:`~sklearn.model_selection.KFold`. Each split trains on the other background folds and
    tests on the held-out background fold together with all signal events (y == 1), which are
    never trained on. With the anomaly scorers this makes model selection of an unsupervised
    detector right out of the box.

    Parameters
    ----------
    n_splits : int, default=3
        Number of folds of the background, at least 2.
    shuffle : bool, default=False
        Whether to shuffle the background before splitting it.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling; only allowed with ``shuffle=True``, as in KFold.

    See Also
    --------
    sklearn.model_selection.KFold : The background folds are KFold folds.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aclr.model_selection import BackgroundKFold
    >>> y = np.array([0, 0, 0, 1, 0, 0, 0, 1])
    >>> for train, test in BackgroundKFold(n_splits=3).split(np.zeros((8, 1)), y):
    ...     print(train, test)
    [2 4 5 6] [0 1 3 7]
    [0 1 5 6] [2 3 4 7]
    [0 1 2 4] [3 5 6 7]
    """

    @validate_params(
        {
            "n_splits": [Interval(Integral, 2, None, closed="left")],
            "shuffle": ["boolean"],
            "random_state": ["random_state"],
        },
        prefer_skip_nested_validation=True,
    )
    def __init__(self, n_splits=3, *, shuffle=False, random_state=None):
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def split(self, X, y, groups=None):
        """Generate (train, test) indices.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Events; only their number is used.
        y : array-like of shape (n_samples,)
            1 for signal, 0 for background.
        groups : None
            Ignored.

        Yields
        ------
        train : ndarray
            Indices of background events to train on.
        test : ndarray
            Indices of the held-out background fold and of all signal events, sorted.
        """
        if y is None:
            raise ValueError(
                "BackgroundKFold needs y (0 for background, 1 for signal) to keep signal out of "
                "training; pass y to fit, cross_validate or GridSearchCV.fit."
            )
        y = check_signal_labels(
            y, len(X), why="BackgroundKFold puts signal in the test folds only, for the "
            "anomaly scorers to measure anything.",
        )
        background = np.flatnonzero(y == 0)
        signal = np.flatnonzero(y == 1)
        if len(background) < self.n_splits:
            raise ValueError(
                f"n_splits={self.n_splits} background folds need at least {self.n_splits} "
                f"background events; got {len(background)}."
            )
        kfold = KFold(self.n_splits, shuffle=self.shuffle, random_state=self.random_state)
        for train, test in kfold.split(background):
            yield background[train], np.sort(np.concatenate([background[test], signal]))

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Ignored.

        Returns
        -------
        n_splits : int
        """
        return self.n_splits


def _anomaly_score_of(estimator, X):
    """The anomaly score (higher = more anomalous) of a fitted unsupervised detector: its
    ``anomaly_score``, or for a scikit-learn outlier detector (or a Pipeline ending in one),
    whose scores are higher for inliers, ``-score_samples(X)`` (or ``-decision_function(X)``).
    """
    for method, sign in (("anomaly_score", 1), ("score_samples", -1),
                         ("decision_function", -1)):
        if hasattr(estimator, method):
            return sign * np.asarray(getattr(estimator, method)(X))
    raise TypeError(f"{type(estimator).__name__} has no anomaly_score, score_samples or "
                    "decision_function to read an anomaly score from.")


def _wrapped_has(method):
    """For available_if: whether the wrapped (or fitted) estimator has ``method``."""
    def check(self):
        estimator = getattr(self, "estimator_", self.estimator)
        return hasattr(estimator, method)
    return check


def _delegated(name, summary, returns):
    """The method ``name(X)`` of BackgroundOnly: the fitted estimator's, where it has one."""

    def method(self, X):
        check_is_fitted(self)
        return getattr(self.estimator_, name)(X)

    method.__name__, method.__qualname__ = name, f"BackgroundOnly.{name}"
    method.__doc__ = f"""{summary}

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Events, as the fitted estimator takes them.

        Returns
        -------
        {returns}
        """
    return available_if(_wrapped_has(name))(method)


class BackgroundOnly(DocLinkMixin, MetaEstimatorMixin, BaseEstimator):
    """Fit an anomaly detector on the background events of ``(X, y)`` only.

    ``fit(X, y)`` trains a clone of ``estimator`` on the events with ``y == 0``; every other
    method is the fitted clone's. So that ``GridSearchCV(refit=True)`` gives a
    ``best_estimator_`` directly: with :class:`BackgroundKFold` the search trains on
    background folds and tests on background and signal, and the refit on all of ``(X, y)``
    trains on all of the background, never on signal. Without ``y`` every event counts as
    background.

    Parameters
    ----------
    estimator : estimator
        An unsupervised detector, or a Pipeline ending in one. Its parameters are searched as
        ``estimator__<name>``.

    Attributes
    ----------
    estimator_ : estimator
        The clone fitted on the background.
    n_background_ : int
        Number of background events it was fitted on.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_aclr import AutoEncoderScorer, EventScaler
    >>> from sklearn_aclr.datasets import make_adc_events
    >>> from sklearn_aclr.metrics import anomaly_auc_scorer
    >>> from sklearn_aclr.model_selection import BackgroundKFold, BackgroundOnly
    >>> X, y = make_adc_events(300, 60, signal="four_leptons", random_state=0)
    >>> detector = BackgroundOnly(make_pipeline(
    ...     EventScaler(), AutoEncoderScorer(max_epochs=2, random_state=0)))
    >>> search = GridSearchCV(detector, {"estimator__autoencoderscorer__latent_dim": [2, 4]},
    ...                       cv=BackgroundKFold(2), scoring=anomaly_auc_scorer).fit(X, y)
    >>> search.best_estimator_.n_background_
    300
    """

    _parameter_constraints = {"estimator": [HasMethods(["fit"])]}

    def __init__(self, estimator):
        self.estimator = estimator

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **fit_params):
        """Fit a clone of ``estimator`` on the events with ``y == 0``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Events, background and possibly signal.
        y : array-like of shape (n_samples,), default=None
            1 for signal, 0 for background; None means background only.
        **fit_params : dict
            Passed to the estimator's ``fit``.

        Returns
        -------
        self : BackgroundOnly
        """
        if y is None:
            background = np.arange(len(X))
        else:
            y = column_or_1d(y)
            if len(y) != len(X):
                raise ValueError(f"y and X have different lengths, {len(y)} and {len(X)}.")
            if not np.isin(y, (0, 1)).all():
                raise ValueError(f"y must hold 0 (background) and 1 (signal); got labels "
                                 f"{sorted(set(np.unique(y).tolist()))}.")
            background = np.flatnonzero(y == 0)
        if not len(background):
            raise ValueError("BackgroundOnly got no background events (y == 0) to fit on.")
        self.estimator_ = clone(self.estimator).fit(_safe_indexing(X, background),
                                                    **fit_params)
        self.n_background_ = len(background)
        return self

    def __sklearn_is_fitted__(self):
        return hasattr(self, "estimator_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.estimator_type = inner.estimator_type
        tags.input_tags = inner.input_tags
        return tags

    @available_if(lambda self: any(_wrapped_has(m)(self) for m in (
        "anomaly_score", "score_samples", "decision_function")))
    def anomaly_score(self, X):
        """Anomaly score, higher = more anomalous: the fitted estimator's ``anomaly_score``,
        or for a scikit-learn outlier detector (or a Pipeline ending in one), whose scores
        are higher for inliers, ``-score_samples(X)`` (or ``-decision_function(X)``)."""
        check_is_fitted(self)
        return _anomaly_score_of(self.estimator_, X)

    score_samples = _delegated(
        "score_samples", "The fitted estimator's ``score_samples(X)``: higher = more normal.",
        "scores : ndarray of shape (n_samples,)")
    decision_function = _delegated(
        "decision_function",
        "The fitted estimator's ``decision_function(X)``: negative for outliers.",
        "scores : ndarray of shape (n_samples,)")
    predict = _delegated("predict", "The fitted estimator's ``predict(X)``: +1 inliers, -1 "
                         "outliers.", "labels : ndarray of shape (n_samples,)")
    transform = _delegated("transform", "The fitted estimator's ``transform(X)``.",
                           "X_new : ndarray of shape (n_samples, n_features_out)")
