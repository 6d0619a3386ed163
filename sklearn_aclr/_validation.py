"""Input validation shared by the estimators: sklearn's checks first, then the event physics."""

import numpy as np
from scipy import sparse
from sklearn.utils.validation import validate_data

from sklearn_aclr._layout import check_events, get_layout


def validate_events(estimator, X, *, reset):
    """Validate events for ``estimator`` and return them in canonical 3D form.

    3D input ``(n, n_slots, n_columns)`` is flattened to 2D so that scikit-learn's
    ``validate_data`` sees one feature per column (``n_features_in_`` is then 76 or 57 for
    ADC2021 events, whichever form was passed). The physics checks of
    :func:`~sklearn_aclr._layout.check_events` follow.

    Parameters
    ----------
    estimator : BaseEstimator
        Has a ``layout`` parameter; after fit, ``layout_`` holds the resolved layout.
    X : array-like
        Events.
    reset : bool
        True in ``fit`` (sets ``n_features_in_``, ``layout_`` is resolved from ``layout``),
        False afterwards.

    Returns
    -------
    events : ndarray of shape (n_events, n_slots, n_features + 1), dtype float32
    layout : EventLayout
    """
    X = _as_array(X)
    if getattr(X, "ndim", None) == 3:
        if estimator.layout == "tabular":
            raise ValueError(
                f"The tabular layout takes 2D input (n_samples, n_features); got shape "
                f"{X.shape}. Flatten it with X.reshape(len(X), -1), or use an event layout "
                "such as layout='adc2021'."
            )
        X = X.reshape(X.shape[0], X.shape[1] * X.shape[2])
    X = validate_data(estimator, X, reset=reset, dtype=[np.float64, np.float32])
    layout = get_layout(estimator.layout, X.shape[1]) if reset else estimator.layout_
    return check_events(X, layout), layout


def reject_3d(estimator, X):
    """Point users who hand raw 3D events to a 2D-only estimator at the right pipeline.

    Returns X, as an array unless it is sparse or a DataFrame.
    """
    X = _as_array(X)
    if getattr(X, "ndim", None) == 3:
        name = type(estimator).__name__
        raise ValueError(
            f"{name} takes 2D features (n_samples, n_features); got an array of shape "
            f"{X.shape}, which looks like raw events. Put an EventScaler or an "
            f"AnomalyCLRTransformer in front: make_pipeline(EventScaler(), {name}())."
        )
    return X


def _as_array(X):
    """X as a numpy array, except sparse matrices and DataFrames, which validate_data reads."""
    if sparse.issparse(X) or hasattr(X, "iloc"):
        return X
    return np.asarray(X)
