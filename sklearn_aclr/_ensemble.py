"""SeedEnsemble: one outlier detector fitted with several seeds, its scores averaged."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sklearn_aclr._docs import DocLinkMixin
from sklearn_aclr._outlier import AnomalyScoreMixin
from sklearn_aclr.model_selection import _anomaly_score_of
from sklearn_aclr.persistence import CompositeStepMixin

__all__ = ["SeedEnsemble"]

# Member k of SeedEnsemble(random_state=r) is seeded r + k * MEMBER_SEED_STEP: the first member
# is the single estimator of seed r, and the benchmarks' ensembles are these.
MEMBER_SEED_STEP = 1000


class SeedEnsemble(CompositeStepMixin, DocLinkMixin, MetaEstimatorMixin, AnomalyScoreMixin,
                   BaseEstimator):
    """An outlier detector fitted ``n_members`` times with different seeds, its scores averaged.

    A neural detector trained twice gives two different detectors: the spread of an
    autoencoder's AUC from seed to seed is as large as many of the differences one would like
    to see. Averaging a few members makes the score steadier and usually a little better. Each
    member's anomaly score (its ``anomaly_score``, or ``-score_samples`` for a scikit-learn
    outlier detector) is put on one scale before the average: its logarithm (reconstruction
    errors span decades) is standardised with the mean and standard deviation over the
    training events. The ensemble's anomaly score is the mean of the members' standardised
    scores.

    Every parameter named ``random_state`` of the estimator, nested ones included (the steps of
    a Pipeline), is set to the member's seed: ``SeedEnsemble(make_pipeline(
    AnomalyCLRTransformer(), AutoEncoderScorer()))`` is an ensemble of encoders, each with its
    own autoencoder.

    Compare an ensemble with the same ensemble on raw features, not with a single raw
    detector: on the validation sample of the documentation's "What works" page, three
    autoencoders on raw features do about as well as the AnomalyCLR pipeline with one.

    Parameters
    ----------
    estimator : estimator, default=None
        The outlier detector (or a Pipeline ending in one) to fit several times; it must have
        a ``random_state`` parameter, nested or not. None means
        ``AutoEncoderScorer()``. Its parameters are searched as ``estimator__<name>``.
    n_members : int, default=3
        Number of members, fitted one after the other on the same events.
    log_scores : bool, default=True
        Standardise the logarithm of the members' anomaly scores, which must then be
        positive on the training events (reconstruction errors, distances); False
        standardises the scores themselves (log-likelihoods, which can be negative).
    contamination : "auto" or float, default=0.1
        The working point of :meth:`predict`: the fraction of the training events it calls
        outliers, in (0, 0.5]. It sets ``offset_``; the scores do not depend on it. ``"auto"``
        means 1e-2, as for :class:`AutoEncoderScorer`.
    random_state : int, RandomState instance or None, default=None
        The members' seeds. An int ``r`` gives member ``k`` the seed ``r + 1000 k``, so that
        the first member is the estimator fitted with ``random_state=r``; otherwise the seeds
        are drawn from the RandomState. The same value gives the same ensemble.

    Attributes
    ----------
    estimators_ : list of estimator
        The fitted members.
    seeds_ : ndarray of shape (n_members,)
        The members' seeds.
    center_ : ndarray of shape (n_members,)
        Mean over the training events of each member's (log) anomaly score.
    scale_ : ndarray of shape (n_members,)
        Standard deviation of the same (1 where it is zero).
    offset_ : float
        Threshold on :meth:`score_samples`: the ``contamination`` quantile of the training
        scores.
    n_features_in_ : int
        Number of features seen in fit (where the members record it).
    feature_names_in_ : ndarray of shape (n_features_in,)
        Names of the features seen in fit, where the members record them.

    See Also
    --------
    AutoEncoderScorer : The default member.
    sklearn.ensemble.BaggingClassifier : Averages members fitted on resampled events.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_aclr import AutoEncoderScorer, EventScaler, SeedEnsemble
    >>> from sklearn_aclr.datasets import make_adc_events
    >>> from sklearn_aclr.metrics import anomaly_roc_auc, get_anomaly_score
    >>> X_train, _ = make_adc_events(2000, random_state=0)
    >>> X_test, y_test = make_adc_events(500, 500, random_state=1)
    >>> detector = make_pipeline(
    ...     EventScaler(), SeedEnsemble(AutoEncoderScorer(max_epochs=5), random_state=0)
    ... ).fit(X_train)
    >>> len(detector[-1].estimators_)
    3
    >>> anomaly_roc_auc(y_test, get_anomaly_score(detector, X_test)) > 0.8
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "n_members": [Interval(Integral, 1, None, closed="left")],
        "log_scores": ["boolean"],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, n_members=3, log_scores=True, contamination=0.1,
                 random_state=None):
        self.estimator = estimator
        self.n_members = n_members
        self.log_scores = log_scores
        self.contamination = contamination
        self.random_state = random_state

    def _estimator(self):
        if self.estimator is not None:
            return self.estimator
        from sklearn_aclr._scorer import AutoEncoderScorer

        return AutoEncoderScorer()

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit ``n_members`` clones of the estimator, each with its own seed, on X.

        Parameters
        ----------
        X : array-like or event source
            Training events, background only, as the estimator takes them.
        y : None
            Ignored; present for Pipeline and cross-validation compatibility.

        Returns
        -------
        self : SeedEnsemble
            The fitted ensemble.
        """
        estimator = self._estimator()
        seeded = _random_states(estimator)
        if not seeded:
            raise ValueError(
                f"SeedEnsemble needs an estimator with a random_state parameter, so that its "
                f"members differ; {type(estimator).__name__} has none. Average detectors of "
                "different kinds by hand instead.")
        if isinstance(self.random_state, Integral):
            self.seeds_ = (self.random_state + MEMBER_SEED_STEP * np.arange(self.n_members)
                           ) % 2**32
        else:
            rng = check_random_state(self.random_state)
            self.seeds_ = rng.randint(np.iinfo(np.int32).max, size=self.n_members)
        self.estimators_ = [
            clone(estimator).set_params(**dict.fromkeys(seeded, int(seed))).fit(X)
            for seed in self.seeds_]
        scores = np.stack([self._member_score(member, X, fitting=True)
                           for member in self.estimators_])  # (n_members, n_samples)
        self.center_ = scores.mean(axis=1)
        scale = scores.std(axis=1)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimators_[0], name):
                setattr(self, name, getattr(self.estimators_[0], name))
        self._set_offset(self._combine(scores))
        return self

    def _member_score(self, member, X, fitting=False):
        """A member's anomaly score of X, its logarithm where ``log_scores``."""
        score = _anomaly_score_of(member, X).astype(np.float64)
        if not self.log_scores:
            return score
        if fitting and not (score > 0).all():
            raise ValueError(
                f"log_scores=True needs positive anomaly scores, but {type(member).__name__} "
                f"gives {int((score <= 0).sum())} training events a score <= 0 (lowest "
                f"{score.min():.3g}). Set log_scores=False to standardise the scores "
                "themselves.")
        # A score of zero on new events would be an exact reconstruction: the most normal.
        return np.log(np.maximum(score, np.finfo(np.float64).tiny))

    def _combine(self, scores):
        return ((scores - self.center_[:, None]) / self.scale_[:, None]).mean(axis=0)

    def anomaly_score(self, X):
        """The mean of the members' standardised anomaly scores: higher = more anomalous.

        Parameters
        ----------
        X : array-like or event source
            Events to score, as the estimator takes them.

        Returns
        -------
        score : ndarray of shape (n_samples,), dtype float64
            ``-score_samples(X)``; 0 is the training events' mean.
        """
        check_is_fitted(self)
        return self._combine(np.stack([self._member_score(member, X)
                                       for member in self.estimators_]))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags = self._estimator().__sklearn_tags__().input_tags
        return tags

    def _pipeline_entry(self, write_step):
        """The fitted ensemble as JSON for ``save_pipeline``; each member is written as a
        pipeline step of its own by ``write_step``."""
        params = self.get_params(deep=False)
        estimator = params.pop("estimator")
        names = getattr(self, "feature_names_in_", None)
        return {
            "params": {**params, "random_state": _plain_seed(params["random_state"])},
            # The estimator's own random states (each member holds its seed in their place);
            # None: the default estimator.
            "estimator_random_states": None if estimator is None else {
                key: _plain_seed(value) for key, value in _random_states(estimator).items()},
            "members": [write_step(member, f"member{k}")
                        for k, member in enumerate(self.estimators_)],
            "seeds_": self.seeds_.tolist(),
            "center_": self.center_.tolist(),
            "scale_": self.scale_.tolist(),
            "offset_": float(self.offset_),
            "n_features_in_": getattr(self, "n_features_in_", None),
            "feature_names_in_": None if names is None else [str(n) for n in names],
        }

    @classmethod
    def _from_pipeline_entry(cls, entry, read_step):
        """The fitted ensemble that :meth:`_pipeline_entry` wrote."""
        members = [read_step(member) for member in entry["members"]]
        random_states = entry["estimator_random_states"]
        estimator = None if random_states is None else clone(members[0]).set_params(
            **random_states)
        ensemble = cls(estimator, **entry["params"])
        ensemble._validate_params()
        ensemble.estimators_ = members
        ensemble.seeds_ = np.asarray(entry["seeds_"])
        ensemble.center_ = np.asarray(entry["center_"], dtype=np.float64)
        ensemble.scale_ = np.asarray(entry["scale_"], dtype=np.float64)
        ensemble.offset_ = entry["offset_"]
        if entry["n_features_in_"] is not None:
            ensemble.n_features_in_ = entry["n_features_in_"]
        if entry["feature_names_in_"] is not None:
            ensemble.feature_names_in_ = np.asarray(entry["feature_names_in_"], dtype=object)
        return ensemble


def _random_states(estimator):
    """The parameters of ``estimator`` named ``random_state``, nested ones included, with
    their values."""
    return {key: value for key, value in estimator.get_params(deep=True).items()
            if key == "random_state" or key.endswith("__random_state")}


def _plain_seed(value):
    """A random_state as JSON: an int or None (a RandomState instance is not kept)."""
    return int(value) if isinstance(value, (Integral, np.integer)) else None
