"""Checkpoints that let a fit killed on a cluster resume where it was.

With ``checkpoint=DIRECTORY`` an estimator writes its whole resumable training state (the
skorch net: weights, optimiser, history, early-stopping state, the augmentation and shuffling
generators, and torch's global random stream) to ``DIRECTORY/checkpoint.pkl`` after every
epoch. A file is written next to it and renamed over it, so a kill at any moment, even during
a write, leaves the previous checkpoint or the new one, never a broken one.

The file starts with a line of magic and a line of JSON: the estimator's class, its training
parameters and a fingerprint of the data. A fit resumes from it only when these match, and
says which parameter differs when they do not, without unpickling anything. The rest is a
pickle of the net, read only after the header matched: load checkpoints that your own jobs
wrote, as you would any pickle.

SIGTERM (what a batch system sends before it kills a preempted job) is handled during a fit
with a checkpoint: the current batch finishes, the checkpoint is written there, in the middle
of the epoch, training stops, and the signal then takes its usual course (the process ends,
or the handler that was installed before runs). A requeued job goes on from the next batch
and ends with the model an uninterrupted fit gives. A SIGKILL without warning loses the
epoch in progress: the checkpoint then holds the last completed epoch.
"""

import hashlib
import json
import os
import pickle
import signal
import threading
from contextlib import contextmanager
from copy import deepcopy
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback

from sklearn_aclr._sources import is_source
from sklearn_aclr._torch_utils import global_rng_state
from sklearn_aclr._version import __version__

__all__ = ["CheckpointStore", "EpochCheckpoint", "fingerprint", "sigterm_received",
           "sigterm_stops_training"]

FILENAME = "checkpoint.pkl"
MAGIC = b"sklearn-aclr checkpoint 1\n"
# Parameters that do not change the trained model: a job may resume with other values.
UNFINGERPRINTED = frozenset({"checkpoint", "verbose", "callbacks", "warm_start",
                             "inference_batch_size", "device", "max_epochs"})
_FINGERPRINT_EVENTS = 4096  # of a stream, the first and last events enter the fingerprint


def _describe(value):
    """A JSON-ready description of a parameter value that is the same in every process."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_describe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _describe(item) for key, item in sorted(value.items())}
    if isinstance(value, np.random.RandomState):
        state = value.get_state()
        return {"RandomState": hashlib.sha256(state[1].tobytes()).hexdigest()[:16],
                "position": int(state[2])}
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if hasattr(value, "get_params"):
        return {kind: _describe(value.get_params(deep=False))}
    if hasattr(value, "__qualname__"):  # a function or a class
        return f"{value.__module__}.{value.__qualname__}"
    if hasattr(value, "__dict__"):  # an augmentation, a layout: its parameters
        return {kind: _describe(vars(value))}
    return kind


def _data_digest(data):
    """A digest of the training data: every byte of an array; of a stream its length and its
    first and last events (reading it whole would cost an epoch)."""
    digest = hashlib.sha256()
    if is_source(data):
        n = len(data)
        digest.update(f"source {n}".encode())
        for part in (data[: min(n, _FINGERPRINT_EVENTS)], data[max(0, n - _FINGERPRINT_EVENTS):]):
            digest.update(np.ascontiguousarray(part).tobytes())
    else:
        array = np.ascontiguousarray(data)
        digest.update(f"array {array.shape} {array.dtype}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def fingerprint(estimator, data):
    """What a checkpoint must match to be resumed: the class, the parameters that shape the
    model and the data."""
    params = {name: _describe(value)
              for name, value in sorted(estimator.get_params(deep=False).items())
              if name not in UNFINGERPRINTED}
    return {"estimator": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
            "parameters": params, "data": _data_digest(data), "n_samples": len(data)}


class CheckpointStore:
    """The checkpoint file of one fit: ``directory/checkpoint.pkl`` with ``identity``
    (from :func:`fingerprint`) in its header; ``device`` is where the fit trains."""

    def __init__(self, directory, identity, device):
        self.directory = Path(directory)
        self.identity = identity
        self.device = device

    @property
    def path(self):
        return self.directory / FILENAME

    def load(self):
        """The net of the checkpoint, or None where there is none yet.

        Raises ValueError where the checkpoint belongs to another fit, naming what differs.
        Files left by a write that was killed half-way are removed.
        """
        for leftover in self.directory.glob(f".{FILENAME}.*.tmp"):
            leftover.unlink(missing_ok=True)
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return None
        with handle:
            if handle.readline() != MAGIC:
                raise ValueError(
                    f"{self.path} is not an sklearn-aclr checkpoint (or one of another "
                    "version). Pass an empty directory as checkpoint, or delete the file."
                )
            header = json.loads(handle.readline())
            self._check(header)
            try:
                return pickle.load(handle)
            except Exception as exc:  # a file damaged on disk after it was written
                raise ValueError(
                    f"The checkpoint {self.path} is damaged ({type(exc).__name__}: {exc}). "
                    "Delete it to train from the start."
                ) from exc

    def _check(self, header):
        saved, now = header.get("identity", {}), self.identity
        if saved == now:
            return
        if saved.get("estimator") != now["estimator"]:
            what = f"a {saved.get('estimator')}, not a {now['estimator']}"
        elif saved.get("parameters") != now["parameters"]:
            old, new = saved.get("parameters", {}), now["parameters"]
            names = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            what = "other parameters: " + ", ".join(
                f"{k}={old.get(k)!r} there, {new.get(k)!r} here" for k in names)
        else:
            what = (f"other training data ({saved.get('n_samples')} events there, "
                    f"{now['n_samples']} here, or the same number with other values)")
        raise ValueError(
            f"The checkpoint {self.path} was written by a fit with {what}. Resume with the "
            "parameters and data it was written with, or pass another checkpoint directory."
        )

    def save(self, net):
        """Write ``net`` atomically: to a file beside the checkpoint, renamed over it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        position = getattr(net, "resume_position_", None)
        header = {"identity": self.identity, "epochs": len(net.history),
                  "batches_into_last_epoch": position["batches"] if position else None,
                  "sklearn_aclr": __version__}
        tmp = self.directory / f".{FILENAME}.{os.getpid()}.tmp"
        store, net.checkpoint_store_ = _store(net), None  # the store stays out of the file
        try:
            with tmp.open("wb") as handle:
                handle.write(MAGIC)
                handle.write(json.dumps(header).encode() + b"\n")
                pickle.dump(net, handle, protocol=pickle.HIGHEST_PROTOCOL)
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            net.checkpoint_store_ = store
        os.replace(tmp, self.path)
        _fsync_directory(self.directory)


def _fsync_directory(directory):
    """Make a rename in ``directory`` durable (where the platform allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EpochCheckpoint(Callback):
    """Write the net's resumable state to its checkpoint at the end of every epoch, and in
    the middle of one when SIGTERM arrives, then stop training.

    Every net of the package carries one; it acts only while ``net.checkpoint_store_`` (a
    :class:`CheckpointStore`, set by :func:`sklearn_aclr._base.train` for a fit with a
    checkpoint) is not None. The state written is the one an interrupted fit leaves: with
    early stopping the module holds the best weights and the stopper the last ones, as after
    ``on_train_end``, so that the warm-start continuation takes it up unchanged.

    After SIGTERM the checkpoint is written at the end of the current training batch, with
    ``resume_position_`` (the batches of the epoch done): a resumed fit rebuilds the epoch's
    order of events from the generators' states at its start (``epoch_order_state_``, kept
    by :class:`~sklearn_aclr._callbacks.DeferredLossMixin`), skips the batches done and goes
    on from the next one, with the random streams where they were.
    """

    def on_epoch_begin(self, net, **kwargs):
        if getattr(net, "resume_position_", None) is not None:
            # Continuing an epoch cut short: its row of the history goes on, not a new one.
            del net.history[-1]

    def on_batch_end(self, net, training=None, **kwargs):
        store = _store(net)
        if not (training and _SIGTERM.received and store is not None):
            return
        batches = net.history[-1]["batches"]
        for row in batches:  # the losses read back so far, as the history holds them
            if isinstance(row.get("train_loss"), torch.Tensor):
                row["train_loss"] = row["train_loss"].item()
        net.resume_position_ = {"batches": len(batches)}
        try:
            _save_resumable(net, store)
        finally:
            net.resume_position_ = None
        raise KeyboardInterrupt  # skorch ends the fit cleanly, through on_train_end

    def on_epoch_end(self, net, **kwargs):
        store = _store(net)
        if store is not None:
            _save_resumable(net, store)


def _save_resumable(net, store):
    """``store.save(net)`` with the net as an interrupted fit leaves it (see above)."""
    stopper = dict(net.callbacks_).get("early_stopping")
    swap = stopper is not None and stopper.load_best and stopper.best_model_weights_
    current = deepcopy(net.module_.state_dict()) if swap else None
    kept = getattr(stopper, "last_weights_", None)
    net.rng_state_ = global_rng_state(store.device)
    try:
        if swap:
            stopper.last_weights_ = current
            net.module_.load_state_dict(stopper.best_model_weights_)
        store.save(net)
    finally:
        if swap:
            net.module_.load_state_dict(current)
            stopper.last_weights_ = kept


def _store(net):
    return getattr(net, "checkpoint_store_", None)


class _SigtermFlag:
    received = False


_SIGTERM = _SigtermFlag()


@contextmanager
def sigterm_stops_training():
    """Within the block, SIGTERM sets a flag that :class:`EpochCheckpoint` acts on, instead
    of ending the process at once. Yields a callable that, after the block, lets a signal
    that arrived take its usual course: it re-raises it under the previous handler.

    Outside the main thread (where Python cannot install signal handlers) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    _SIGTERM.received = False

    def handler(signum, frame):
        _SIGTERM.received = True

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield _deliver
    finally:
        signal.signal(signal.SIGTERM, previous)


def sigterm_received():
    """Whether SIGTERM arrived during the last :func:`sigterm_stops_training` block."""
    return _SIGTERM.received


def _deliver():
    if _SIGTERM.received:
        _SIGTERM.received = False
        os.kill(os.getpid(), signal.SIGTERM)
