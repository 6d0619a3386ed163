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
    >>> from sklearn_aclr.exceptions import ExtrapolationWarning
    >>> issubclass(ExtrapolationWarning, UserWarning)
    True
    """


class ModelVersionWarning(UserWarning):
    """A saved model was written by another version of sklearn-aclr than the one loading it.

    Examples
    --------
    >>> from sklearn_aclr.exceptions import ModelVersionWarning
    >>> issubclass(ModelVersionWarning, UserWarning)
    True
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
    >>> from sklearn_aclr.exceptions import InvalidEventsWarning
    >>> issubclass(InvalidEventsWarning, UserWarning)
    True
    """
