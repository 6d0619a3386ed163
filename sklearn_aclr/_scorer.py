"""AutoEncoderScorer: reconstruction error of an MLP autoencoder as an outlier score."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_aclr._base import BaseNetEstimator, check_validation_size
from sklearn_aclr._docs import fill_doc
from sklearn_aclr._nets import AutoEncoderNet
from sklearn_aclr._outlier import AnomalyScoreMixin
from sklearn_aclr._sources import is_source
from sklearn_aclr._summary import ExtrapolationGuard, FeatureColumns, SummaryCollector
from sklearn_aclr._validation import reject_3d, validate_feature_stream
from sklearn_aclr.nn import MLPAutoEncoder

__all__ = ["AutoEncoderScorer"]

def _squared_error(module, x):  # (B, F) -> (B,)
    return (module(x) - x).pow(2).mean(dim=1)


def _reconstruction(module, x):  # (B, F) -> (B, F)
    return module(x)


@fill_doc
class AutoEncoderScorer(AnomalyScoreMixin, BaseNetEstimator):
    """Anomaly detection by the reconstruction error of an MLP autoencoder.

    The autoencoder is trained, through skorch, to reproduce background events (scaled raw
    events or learned representations) through a narrow bottleneck. Events unlike the training
    data reconstruct badly: their mean squared error is the anomaly score.

    Follows scikit-learn's outlier-detector contract: :meth:`score_samples` is higher for more
    normal events (the negative reconstruction error), :meth:`decision_function` is
    ``score_samples - offset_`` and :meth:`predict` returns +1 for inliers and -1 for outliers.
    :meth:`anomaly_score` gives the reconstruction error itself (higher = more anomalous).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256, 128, 64, 32, 16)
        Encoder widths from the input down; the decoder mirrors them. With ``latent_dim=5`` and
        57 inputs this is the paper's raw-data baseline, 57-256-128-64-32-16-5 and back.
    latent_dim : int, default=5
        Width of the bottleneck: the fewer dimensions, the less the autoencoder can reproduce
        events unlike the background.
    lr : float, default=1e-3
        Learning rate of the AdamW optimiser.
    weight_decay : float, default=0.0
        Decoupled weight decay of AdamW.
    batch_size : int, default=256
        Events per training step.
    %(inference_batch_size)s
    max_epochs : int, default=100
        Upper bound on training epochs.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training events and stop when their loss has
        not improved for ``patience`` epochs, restoring the best weights.
    validation_fraction : float, default=0.1
        Fraction of training events held out for early stopping.
    patience : int, default=10
        Epochs without improvement of the validation loss before training stops.
    warm_start : bool, default=False
        If True and the scorer is fitted, ``fit`` continues that training (weights,
        optimiser, random streams, early-stopping state) until ``max_epochs`` epochs in all,
        instead of starting afresh; ``offset_`` is then recomputed.
    %(checkpoint)s
    contamination : "auto" or float, default=0.1
        The working point of :meth:`predict`: the fraction of the training background it
        calls outliers, that is the background efficiency eB of the cut, in (0, 0.5]. It sets
        ``offset_``, the ``contamination`` quantile of the training scores; the scores
        themselves do not depend on it. ``"auto"`` means eB = 1e-2, the first working point
        of the ADC2021 challenge.
    %(precision)s
    %(compile)s
    device : str, default="auto"
        Torch device; ``"auto"`` picks CUDA when available, else the CPU.
    %(verbose)s
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the shuffling and the validation split. The same
        value gives the same fit.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the :class:`~sklearn_aclr.nn.MLPAutoEncoder`.
    %(training_attributes)s
    offset_ : float
        Threshold on :meth:`score_samples`: the ``contamination`` quantile of the training
        scores.
    training_summary_ : dict
        The training features in numbers, JSON-ready: min, max and quantiles of each. The
        scoring methods warn when events fall outside these ranges; :meth:`save` writes them
        into the model card.
    n_features_in_ : int
        Number of features seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in,)
        Names of the features seen in fit, when X had string column names.

    See Also
    --------
    EventScaler : Scales raw events for this scorer (the paper's baseline).
    AnomalyCLRTransformer : Learns representations for this scorer.
    sklearn.ensemble.IsolationForest : A classic outlier detector with the same interface.

    References
    ----------
    .. [1] B. M. Dillon, L. Favaro, F. Feiden, T. Modak, T. Plehn, "Anomalies, Representations,
       and Self-Supervision", SciPost Phys. Core 7, 056 (2024), arXiv:2301.04660.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_aclr import AutoEncoderScorer, EventScaler
    >>> from sklearn_aclr.datasets import make_adc_events
    >>> from sklearn_aclr.metrics import anomaly_roc_auc
    >>> X_train, _ = make_adc_events(2000, random_state=0)
    >>> X_test, y_test = make_adc_events(500, 500, random_state=1)
    >>> pipe = make_pipeline(
    ...     EventScaler(), AutoEncoderScorer(max_epochs=5, random_state=0)
    ... ).fit(X_train)
    >>> float((pipe.predict(X_train) == -1).mean())  # -1 outlier: contamination=0.1
    0.1
    >>> anomaly_roc_auc(y_test, -pipe.score_samples(X_test)) > 0.8
    True
    """

    _parameter_constraints = {
        **BaseNetEstimator._parameter_constraints,
        "hidden_layer_sizes": ["array-like"],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
    }

    def __init__(
        self,
        *,
        hidden_layer_sizes=(256, 128, 64, 32, 16),
        latent_dim=5,
        lr=1e-3,
        weight_decay=0.0,
        batch_size=256,
        inference_batch_size="auto",
        max_epochs=100,
        early_stopping=True,
        validation_fraction=0.1,
        patience=10,
        warm_start=False,
        checkpoint=None,
        contamination=0.1,
        precision="float32",
        compile=False,
        device="auto",
        verbose=0,
        random_state=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.latent_dim = latent_dim
        self.contamination = contamination
        super().__init__(
            lr=lr, weight_decay=weight_decay, batch_size=batch_size,
            inference_batch_size=inference_batch_size, max_epochs=max_epochs,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            patience=patience, warm_start=warm_start, checkpoint=checkpoint,
            precision=precision, compile=compile, device=device, verbose=verbose,
            random_state=random_state,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder to reconstruct X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or ADC2021Stream
            Training data, background only: scaled events or representations. A stream
            must serve features (``ADC2021Stream(path, transform=fitted_transformer)``); it
            is read batch by batch, so memory is bounded by ``batch_size``.
        y : None
            Ignored; present for Pipeline and cross-validation compatibility.

        Returns
        -------
        self : AutoEncoderScorer
            The fitted scorer.
        """
        hidden = _check_hidden_layer_sizes(self.hidden_layer_sizes)
        X = self._validate(X, reset=not self._resuming())
        check_validation_size(len(X), self.early_stopping, self.validation_fraction)
        self._fit_net(X, lambda: dict(n_features=self.n_features_in_,
                                      hidden_layer_sizes=list(hidden),
                                      latent_dim=self.latent_dim))
        # One pass over the training data gives the threshold and the training summary.
        summary = SummaryCollector(FeatureColumns(self._feature_names()), len(X))
        errors = self._errors(X, on_batch=summary.update)
        self.training_summary_ = summary.result()
        self._set_offset(errors)
        return self

    _fitted_attributes = (*BaseNetEstimator._fitted_attributes, "offset_")

    def _make_net(self, module_kwargs, seed, n_events=None):
        """The skorch net that trains the autoencoder; ``module_kwargs`` are JSON-ready."""
        return AutoEncoderNet(
            module=MLPAutoEncoder,
            **{f"module__{key}": value for key, value in module_kwargs.items()},
            criterion=torch.nn.MSELoss,
            **self._training_kwargs(seed, device=self.device_),
        )

    def _feature_names(self):
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            return [f"x{i}" for i in range(self.n_features_in_)]
        return [str(name) for name in names]

    def _errors(self, X, on_batch=None):
        return self._apply(X, _squared_error, on_batch=on_batch).astype(np.float64)

    def _checked_errors(self, X):
        guard = ExtrapolationGuard(getattr(self, "training_summary_", None),
                                   FeatureColumns(self._feature_names()),
                                   f"{type(self).__name__} scoring")
        errors = self._errors(X, on_batch=guard.update)
        guard.warn()
        return errors

    def _validate(self, X, *, reset=False):
        """X checked as features: an array of float32, or an event source serving them."""
        if not reset:
            check_is_fitted(self)
        if is_source(X):
            return validate_feature_stream(self, X, reset=reset)
        return validate_data(self, reject_3d(self, X), dtype=np.float32, reset=reset)

    @fill_doc
    def anomaly_score(self, X):
        """Reconstruction error per event: higher means more anomalous.

        Parameters
        ----------
        %(features_to_score)s

        Returns
        -------
        score : ndarray of shape (n_samples,), dtype float64
            Mean squared reconstruction error, ``-score_samples(X)``.
        """
        return self._checked_errors(self._validate(X))

    def reconstruct(self, X):
        """The autoencoder's reconstruction of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or ADC2021Stream
            Events to reconstruct.

        Returns
        -------
        X_reconstructed : ndarray of shape (n_samples, n_features), dtype float32
        """
        return self._apply(self._validate(X), _reconstruction)


def _check_hidden_layer_sizes(sizes):
    sizes = np.atleast_1d(np.asarray(sizes))
    if sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer) or (sizes < 1).any():
        raise ValueError(
            f"hidden_layer_sizes must be a sequence of positive integers, such as "
            f"(256, 128, 64); got {sizes.tolist()!r}."
        )
    return tuple(int(s) for s in sizes)
