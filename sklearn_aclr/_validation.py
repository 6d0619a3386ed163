"""Input validation shared by the estimators: sklearn's checks first, then the event physics."""

import os

import numpy as np
from scipy import sparse
from sklearn.utils.validation import column_or_1d, validate_data

from sklearn_aclr._layout import ADC2021, EventLayout, check_events, get_layout
from sklearn_aclr._sources import is_source

# n_features_in_ of ADC2021 events with class ids, as a stream serves them: 19 slots x 4.
_STREAM_FEATURES = ADC2021.n_slots * 4


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
        Or the event source itself, checked by :func:`validate_event_stream`.
    layout : EventLayout
    """
    if is_source(X):
        return X, validate_event_stream(estimator, X, reset=reset)
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


def validate_event_stream(estimator, stream, *, reset):
    """Check a stream handed to an estimator that takes events; returns the ADC2021 layout.

    A stream counts as ``n_features_in_ = 76`` inputs (19 slots x 4 columns), like the
    flattened ``Particles`` array.
    """
    name = type(estimator).__name__
    if stream.transform is not None:
        raise ValueError(
            f"{name} takes events, but this stream serves features through "
            f"transform={stream.transform!r}. Pass a stream of the events, such as "
            f"ADC2021Stream({getattr(stream, 'path', 'path')!r}), without "
            "transform."
        )
    layout = estimator.layout
    if not (layout == "adc2021" or (isinstance(layout, EventLayout) and layout == ADC2021)):
        raise ValueError(
            f"An event source serves events in the ADC2021 layout, but {name} has "
            f"layout={layout!r}. Set layout='adc2021'."
        )
    _check_stream_width(estimator, stream, _STREAM_FEATURES, reset=reset)
    return ADC2021


def validate_feature_stream(estimator, stream, *, reset):
    """Check a stream handed to an estimator that takes 2D features (its ``transform``'s)."""
    name = type(estimator).__name__
    if stream.transform is None:
        raise ValueError(
            f"{name} takes features, but this stream serves raw events. Give it a fitted "
            f"transformer: ADC2021Stream({getattr(stream, 'path', 'path')!r}, "
            "transform=fitted_scaler), with an "
            "EventScaler or AnomalyCLRTransformer fitted on the background."
        )
    _check_stream_width(estimator, stream, stream[:1].shape[1], reset=reset)
    return stream


def _check_stream_width(estimator, stream, n_features, *, reset):
    if len(stream) == 0:
        raise ValueError(f"{stream!r} serves no events; check its path, start and n_events.")
    if reset:
        estimator.n_features_in_ = n_features
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"The stream serves {n_features} features per event, but "
            f"{type(estimator).__name__} is expecting {estimator.n_features_in_} features as "
            "input, as in fit."
        )


def check_signal_labels(y, n_samples, *, names=("y", "X"), why):
    """``y`` as a 1D int64 array of 0 (background) and 1 (signal), both present.

    ``n_samples`` is the length ``y`` must have, that of the array named ``names[1]``;
    ``why`` ends the error message on labels: why both classes are needed.
    """
    y = column_or_1d(y)
    if len(y) != n_samples:
        raise ValueError(f"{names[0]} and {names[1]} have different lengths, {len(y)} and "
                         f"{n_samples}.")
    labels = set(np.unique(y).tolist())
    if labels != {0, 1}:
        raise ValueError(
            f"{names[0]} must hold both 0 (background) and 1 (signal), and nothing else; got "
            f"labels {sorted(labels)}. {why}"
        )
    return y.astype(np.int64)


def reject_awkward(X):
    """Point users who hand jagged awkward arrays to an estimator at the converter."""
    if type(X).__module__.split(".")[0] == "awkward":
        raise TypeError(
            "Got an awkward array: the estimators take fixed-size events. Convert jagged "
            "collections with sklearn_aclr.io.from_awkward(met=..., electrons=..., muons=..., "
            "jets=...).events, or ROOT files with sklearn_aclr.io.root_to_hdf5."
        )


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
    """X as a numpy array, except sparse matrices and DataFrames, which validate_data reads.

    A file path, or an array of strings or objects that are not numbers, gets an error that
    says what to pass instead.
    """
    if isinstance(X, (str, bytes, os.PathLike)):
        raise TypeError(
            f"Got the path {X!r} instead of events. Read the file first with "
            "sklearn_aclr.datasets.load_adc2021(path), or stream it with ADC2021Stream(path)."
        )
    reject_awkward(X)
    if sparse.issparse(X) or hasattr(X, "iloc"):
        return X
    X = np.asarray(X)
    if X.dtype.kind in "OUSV":
        try:
            return X.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise type(exc)(
                f"Events must be numbers, but this {X.dtype} array holds values that are not "
                f"({exc}). Convert it with np.asarray(X, dtype=np.float32) once it holds only "
                "numbers."
            ) from None
    return X
