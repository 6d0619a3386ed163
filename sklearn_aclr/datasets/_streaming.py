"""Events streamed from an HDF5 file larger than memory."""

import contextlib
import os

import numpy as np

from sklearn_aclr._layout import ADC2021, check_events, invalid_events
from sklearn_aclr._sources import BLOCK_SIZE, EventSource
from sklearn_aclr._warnings import warn
from sklearn_aclr.datasets._adc2021 import open_adc2021
from sklearn_aclr.exceptions import InvalidEventsWarning

__all__ = ["ADC2021Stream"]


class ADC2021Stream(EventSource):
    """A map-style dataset over the events of an ADC2021 HDF5 file, read on demand.

    Pass it where an estimator takes events to fit on a file larger than memory: the
    estimators read it in batches, so memory is bounded by the batch size, not the file.
    ``AnomalyCLRTransformer``, ``EventScaler`` and ``AutoEncoderScorer`` accept it in ``fit``,
    ``transform`` and the scoring methods. ``AutoEncoderScorer`` takes features, not events:
    give the stream a fitted ``transform`` (an ``AnomalyCLRTransformer`` or ``EventScaler``),
    which is applied to every batch read. In a ``Pipeline`` the intermediate features are held
    in memory (for the default representation, 64 floats per event); fit the steps one by one
    on streams to avoid that, as in the example below.

    Works with ``torch.utils.data.DataLoader`` (including worker processes): the file is opened
    lazily, once per process, and a batch of indices is read in one sorted HDF5 read
    (``__getitems__``); a slice ``stream[a:b]`` is one contiguous read. Each batch is
    validated like :func:`load_adc2021`: an invalid event (NaN or infinite values, a class id
    that disagrees with its slot, negative pT, ``|phi| > pi``) ends the read with an error
    that names the file, the events read and the first offending one, unless
    ``invalid="skip"``.

    Parameters
    ----------
    path : str or path-like
        An HDF5 file with a ``Particles`` dataset of shape (N, 19, 4).
    start : int, default=0
        First event of the range served.
    n_events : int, default=None
        Number of events served; None serves to the end of the file.
    transform : fitted transformer, default=None
        If given, ``transform.transform(events)`` is served instead of the events.
    invalid : {"raise", "skip"}, default="raise"
        What to do with invalid events. ``"skip"`` reads the range once when the stream is
        made, serves only the valid events (``len`` counts them) and warns with the number
        skipped and the first of them (:class:`~sklearn_aclr.exceptions.InvalidEventsWarning`).

    Attributes
    ----------
    n_skipped_ : int
        Number of invalid events skipped (0 with ``invalid="raise"``).
    skipped_ : ndarray of int64
        Their event numbers in the file.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_aclr.datasets import ADC2021Stream, make_adc_events, write_adc2021
    >>> path = os.path.join(tempfile.mkdtemp(), "events.h5")
    >>> _ = write_adc2021(path, make_adc_events(50, random_state=0)[0])
    >>> stream = ADC2021Stream(path, start=10)
    >>> len(stream), stream[0].shape, stream[2:5].shape
    (40, (19, 4), (3, 19, 4))
    >>> [event.shape for event in stream.__getitems__([3, 1])]
    [(19, 4), (19, 4)]

    Fitting the raw-data baseline on a file, step by step:

    >>> from sklearn_aclr import AutoEncoderScorer, EventScaler
    >>> scaler = EventScaler().fit(ADC2021Stream(path))
    >>> features = ADC2021Stream(path, transform=scaler)
    >>> features[:2].shape
    (2, 57)
    >>> scorer = AutoEncoderScorer(max_epochs=2, random_state=0).fit(features)
    >>> scorer.anomaly_score(features).shape
    (50,)
    """

    def __init__(self, path, *, start=0, n_events=None, transform=None, invalid="raise"):
        if invalid not in ("raise", "skip"):
            raise ValueError(f"invalid must be 'raise' or 'skip'; got {invalid!r}.")
        self.path = os.fspath(path)
        self.transform = transform
        self.invalid = invalid
        with open_adc2021(self.path) as particles:
            total = len(particles)
        if not 0 <= start <= total:
            raise ValueError(f"start={start} is outside the {total} events of {self.path!r}.")
        self.start = start
        self.n_events = total - start if n_events is None else min(n_events, total - start)
        self._context = self._handle = self._pid = None
        # Positions in the range of the events served; None serves them all.
        self._kept = None
        self.skipped_ = np.zeros(0, dtype=np.int64)
        if invalid == "skip":
            self._skip_invalid()
        self.n_skipped_ = len(self.skipped_)

    def _skip_invalid(self):
        """One pass over the range: keep the valid events, warn about the others."""
        bad = np.zeros(self.n_events, dtype=bool)
        for first in range(0, self.n_events, BLOCK_SIZE):
            last = min(first + BLOCK_SIZE, self.n_events)
            where = f"events {self.start + first} to {self.start + last - 1}"
            with self._reading(where):
                block = self._particles()[self.start + first : self.start + last]
            bad[first:last] = invalid_events(np.asarray(block, dtype=np.float32))
        if not bad.any():
            return
        self._kept = np.flatnonzero(~bad)
        self.skipped_ = np.flatnonzero(bad) + self.start
        warn(
            f"Skipped {len(self.skipped_)} invalid event(s) of the {self.n_events} in "
            f"{self.path!r} (the first: event {self.skipped_[0]}; NaN or infinite values, "
            "class ids that disagree with their slot, negative pT or |phi| > pi). The stream "
            f"serves the other {len(self._kept)}.",
            InvalidEventsWarning,
        )

    def __len__(self):
        return self.n_events if self._kept is None else len(self._kept)

    def _file_positions(self, indices):
        """Event numbers in the file of served positions ``indices``."""
        return indices + self.start if self._kept is None else self._kept[indices] + self.start

    def _particles(self):
        # h5py handles do not survive fork or pickling: open one per process, on first use.
        if self._handle is None or self._pid != os.getpid():
            self._context = open_adc2021(self.path)
            self._handle = self._context.__enter__()
            self._pid = os.getpid()
        return self._handle

    def _read(self, indices):
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"Event index out of range for {len(self)} events.")
        order = np.argsort(indices, kind="stable")
        unique, inverse = np.unique(self._file_positions(indices[order]), return_inverse=True)
        where = (f"events {unique[0]} to {unique[-1]}" if len(unique)
                 else "no events")
        with self._reading(where):
            block = self._particles()[unique]  # one sorted read; h5py needs increasing indices
        events = np.empty((len(indices),) + block.shape[1:], dtype=np.float32)
        events[order] = block[inverse]
        return self._checked(events, where)

    @contextlib.contextmanager
    def _reading(self, where):
        """Name the file and the events when the disk or the file fails under a read."""
        try:
            yield
        except (OSError, RuntimeError, KeyError) as exc:  # h5py's errors for damaged files
            raise OSError(
                f"Reading {where} of {self.path!r} failed ({type(exc).__name__}: {exc}). The "
                "file is damaged or was truncated; check it (h5ls -r), or write it again."
            ) from exc

    def _checked(self, events, where):
        try:
            return check_events(events, ADC2021)
        except ValueError as exc:
            raise ValueError(f"{self.path!r}, {where} (event numbers in the message count "
                             f"from the first of them): {exc}") from None

    def _serve(self, events):
        return events if self.transform is None else self.transform.transform(events)

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("ADC2021Stream slices must be contiguous (step 1).")
            return self._serve(self._read_block(start, max(start, stop)))
        return self._serve(self._read([index + len(self) if index < 0 else index]))[0]

    def __getitems__(self, indices):
        return list(self._serve(self._read(indices)))

    def _read_block(self, start, stop):
        """Served positions ``start`` to ``stop``: one contiguous read of the file."""
        if stop <= start:
            first = last = self.start
        else:
            first, last = self._file_positions(np.array([start, stop - 1]))
            last += 1
        where = f"events {first} to {last - 1}"
        with self._reading(where):
            block = np.asarray(self._particles()[first:last], dtype=np.float32)
        if self._kept is not None and len(block):
            block = block[self._kept[start:stop] + self.start - first]
        return self._checked(block, where)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(_handle=None, _pid=None, _context=None)
        return state

    def __repr__(self):
        transform = "" if self.transform is None else f", transform={self.transform!r}"
        invalid = "" if self.invalid == "raise" else f", invalid={self.invalid!r}"
        return (f"ADC2021Stream({self.path!r}, start={self.start}, "
                f"n_events={self.n_events}{transform}{invalid})")
