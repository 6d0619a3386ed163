"""Event sources: the one way the estimators read data, whether arrays or streams.

An array is read by slicing it; a stream (an :class:`EventSource`, such as
:class:`~sklearn_aclr.datasets.ADC2021Stream`) is read the same way, from disk, block by block.
The estimators go through :func:`iter_blocks` and slicing only, so that one code path serves
data of any size, and a stream is never loaded whole.

This module is the bottom of the data layer: it imports neither torch nor h5py.
"""

__all__ = ["EventSource", "is_source", "iter_blocks"]

BLOCK_SIZE = 65536  # events per block: a few MB of ADC2021 events


class EventSource:
    """Base class of data read on demand: ``len``, contiguous slices and index batches.

    Subclasses implement ``__len__``, ``__getitem__`` (an index or a contiguous slice) and
    ``__getitems__`` (a list of indices, read at once). A source serves raw events, or the
    features of a fitted ``transform`` when it has one; the attribute ``transform`` says which
    (None for events). Estimators take a source of ADC2021 events wherever they take events;
    :class:`~sklearn_aclr.datasets.ADC2021Stream` is the one for HDF5 files.

    Examples
    --------
    A source of events kept in a ``numpy.memmap``, or any store that reads by index:

    >>> import numpy as np
    >>> from sklearn_aclr import EventScaler
    >>> from sklearn_aclr.datasets import EventSource, make_adc_events
    >>> class ArraySource(EventSource):
    ...     def __init__(self, events):
    ...         self.events = events
    ...     def __len__(self):
    ...         return len(self.events)
    ...     def __getitem__(self, index):
    ...         return self.events[index]
    ...     def __getitems__(self, indices):
    ...         return list(self.events[np.asarray(indices)])
    >>> X, _ = make_adc_events(100, random_state=0)
    >>> scaler = EventScaler().fit(ArraySource(X))
    >>> bool(np.allclose(scaler.transform(ArraySource(X)), EventScaler().fit_transform(X)))
    True
    """

    transform = None

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError

    def __getitems__(self, indices):
        raise NotImplementedError

    def iter_blocks(self, block_size=BLOCK_SIZE):
        """Yield the served data in contiguous blocks of ``block_size`` events, in order."""
        return iter_blocks(self, block_size)


def is_source(X):
    """Whether X is an :class:`EventSource` (read on demand) rather than an array."""
    return isinstance(X, EventSource)


def iter_blocks(X, block_size=BLOCK_SIZE):
    """Contiguous blocks of ``block_size`` events of an array or an :class:`EventSource`."""
    for start in range(0, len(X), block_size):
        yield X[start : start + block_size]
