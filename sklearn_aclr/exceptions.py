"""Warnings and errors of sklearn-aclr, as classes that can be filtered or caught.

Examples
--------
>>> import warnings
>>> from sklearn_aclr.exceptions import ExtrapolationWarning
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore", ExtrapolationWarning)  # scoring signal on purpose
"""

__all__ = ["ExtrapolationWarning", "InvalidEventsWarning", "ModelVersionWarning",
           "TrainingInterruptedWarning"]


class ExtrapolationWarning(UserWarning):
    """Events outside the feature ranges of the training background were transformed or scored.

    The model has never seen such values, so its output there is an extrapolation. A few such
    events are expected when scoring anomalies; many suggest data unlike the training sample
    (another detector, selection or simulation). The ranges are in the estimator's
    ``training_summary_`` and in the card of a saved model.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sklearn_aclr import AutoEncoderScorer
    >>> from sklearn_aclr.exceptions import ExtrapolationWarning
    >>> X = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    >>> scorer = AutoEncoderScorer(hidden_layer_sizes=(4,), latent_dim=2, max_epochs=1,
    ...                            random_state=0).fit(X)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = scorer.anomaly_score(X + 100.0)  # far outside the training ranges
    >>> caught[0].category.__name__
    'ExtrapolationWarning'
    """


class ModelVersionWarning(UserWarning):
    """A saved model was written by another version of sklearn-aclr than the one loading it.

    Examples
    --------
    A job that must run a model with the very version that saved it can make the warning an
    error before loading:

    >>> import warnings
    >>> from sklearn_aclr.exceptions import ModelVersionWarning
    >>> warnings.simplefilter("error", ModelVersionWarning)  # doctest: +SKIP
    """


class TrainingInterruptedWarning(UserWarning):
    """Training was interrupted (KeyboardInterrupt, or SIGTERM during a fit with a
    checkpoint) before its last epoch.

    Examples
    --------
    >>> from sklearn_aclr.exceptions import TrainingInterruptedWarning
    >>> issubclass(TrainingInterruptedWarning, UserWarning)
    True
    """


class InvalidEventsWarning(UserWarning):
    """Invalid events of a file were skipped, as ``ADC2021Stream(..., invalid="skip")`` asks.

    Examples
    --------
    >>> import os, tempfile, warnings
    >>> import h5py, numpy as np
    >>> from sklearn_aclr.datasets import ADC2021Stream, make_adc_events
    >>> X, _ = make_adc_events(20, random_state=0)
    >>> X[3, 0, 0] = np.nan  # one corrupt event
    >>> path = os.path.join(tempfile.mkdtemp(), "events.h5")
    >>> with h5py.File(path, "w") as f:  # written around the validation of write_adc2021
    ...     _ = f.create_dataset("Particles", data=X)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     stream = ADC2021Stream(path, invalid="skip")
    >>> caught[0].category.__name__, len(stream), stream.skipped_.tolist()
    ('InvalidEventsWarning', 19, [3])
    """
