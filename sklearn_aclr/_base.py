"""The scaffold shared by the package's estimators that train a torch module through skorch.

:class:`BaseNetEstimator` owns what :class:`~sklearn_aclr.AnomalyCLRTransformer` and
:class:`~sklearn_aclr.AutoEncoderScorer` have in common: the training parameters and their
validation, seeding, the device, early stopping, warm starts that resume bit-identically, the
skorch net's common arguments and batched inference. A subclass says what it trains
(``_make_net``) and what it does with the result, as scikit-learn's ``IsolationForest`` builds
on ``BaseBagging``.
"""

import functools
import math
import os
import sys
from contextlib import nullcontext
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from skorch.callbacks import ProgressBar
from skorch.dataset import ValidSplit

from sklearn_aclr import _nets
from sklearn_aclr._callbacks import FiniteLoss, ResumableEarlyStopping
from sklearn_aclr._checkpoint import (
    CheckpointStore,
    EpochCheckpoint,
    fingerprint,
    sigterm_received,
    sigterm_stops_training,
)
from sklearn_aclr._docs import DocLinkMixin
from sklearn_aclr._nets import (
    BlockShuffleSampler,
    BlockValidSplit,
    EventDataset,
    collate_events,
    on_device,
)
from sklearn_aclr._torch_utils import (
    apply_in_batches,
    resolve_device,
    seeded,
    torch_seed,
    unwrapped,
)
from sklearn_aclr._warnings import warn
from sklearn_aclr.exceptions import TrainingInterruptedWarning
from sklearn_aclr.persistence import PersistenceMixin

__all__ = ["BaseNetEstimator"]

# inference_batch_size="auto": {on a GPU: events per batch}.
AUTO_INFERENCE_BATCH = {False: 1024, True: 16384}


class BaseNetEstimator(DocLinkMixin, PersistenceMixin, BaseEstimator):
    """Base class of the estimators that own a skorch net, ``net_``, built in ``fit``.

    Subclasses store their parameters in ``__init__`` (passing the training ones on to this
    class), implement ``_make_net(module_kwargs, seed, n_events=None)`` and call
    :meth:`_fit_net` from ``fit``. Every subclass is registered with
    :mod:`sklearn_aclr.persistence`, so that ``save``/``load`` know it.
    """

    _parameter_constraints: dict = {
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "inference_batch_size": [Interval(Integral, 1, None, closed="left"),
                                 StrOptions({"auto"})],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "checkpoint": [str, os.PathLike, None],
        "precision": [StrOptions({"float32", "bfloat16", "float16"})],
        "compile": ["boolean", dict],
        "device": [str],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(self, *, lr, weight_decay, batch_size, inference_batch_size, max_epochs,
                 early_stopping, validation_fraction, patience, warm_start, checkpoint,
                 precision, compile, device, verbose, random_state):
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.inference_batch_size = inference_batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.warm_start = warm_start
        self.checkpoint = checkpoint
        self.precision = precision
        self.compile = compile
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def __sklearn_is_fitted__(self):
        """Fitted once ``fit`` has finished: a fit that failed half-way (a damaged file, an
        interrupt before the first epoch) leaves no usable estimator behind."""
        return all(hasattr(self, name) for name in self._fitted_attributes)

    # What a finished fit has set; subclasses add their own.
    _fitted_attributes = ("net_", "n_epochs_", "training_summary_")

    def _resuming(self):
        """Whether this ``fit`` continues an earlier one (``warm_start`` and fitted)."""
        return self.warm_start and hasattr(self, "net_")

    def _fit_net(self, data, module_kwargs, *, device=None):
        """Train ``net_`` on ``data`` (an array or an event source) and set the fitted
        training attributes: ``device_``, ``loss_curve_``, ``validation_loss_curve_``,
        ``n_epochs_``.

        ``module_kwargs()`` gives the module's constructor arguments; it is called only
        when a new net is built, not when a warm start or a checkpoint continues one.
        ``device`` overrides the resolved ``self.device`` (an accelerator's device).
        """
        seed = torch_seed(self.random_state)
        self.device_ = resolve_device(self.device) if device is None else device
        store = None
        if self.checkpoint is not None:
            store = CheckpointStore(self.checkpoint, fingerprint(self, data), self.device_)

        streamed = _nets.reads_in_blocks(data)

        def make_net():
            net = self._make_net(module_kwargs(), seed, len(data))
            if streamed:
                net.set_params(**self._streaming_kwargs(len(data), seed))
            return net

        if streamed:
            dataset = EventDataset(data, cached_blocks=_nets.BUFFER + 2)
        else:  # on a GPU, arrays move there once, unless an accelerator shards them
            dataset = EventDataset(data if device is not None else on_device(data, self.device_))
        self.net_ = train(self, make_net, dataset, seed, store)
        self.loss_curve_, self.validation_loss_curve_ = loss_curves(self.net_)
        self.n_epochs_ = len(self.loss_curve_)
        return self

    def _streaming_kwargs(self, n_events, seed):
        """Net arguments for training on a large event source: block-shuffled reading, and a
        validation split of whole blocks, so that an epoch reads the file in large pieces
        (see :func:`sklearn_aclr._nets.reads_in_blocks`)."""
        n_train, _ = split_sizes(n_events, self.early_stopping, self.validation_fraction)
        kwargs = dict(
            iterator_train__shuffle=False,
            iterator_train__sampler=BlockShuffleSampler(
                n_train, torch.Generator().manual_seed(seed)),
        )
        if self.early_stopping:
            kwargs["train_split"] = BlockValidSplit(self.validation_fraction, seed)
        return kwargs

    def _training_kwargs(self, seed, *, device, callbacks=()):
        """Keyword arguments of the skorch net that both estimators share.

        Shuffling draws from a generator seeded with ``seed``, the validation split from
        ``seed`` as well; early stopping restores the weights of the best validation epoch.
        A NaN or infinite loss stops training with an error. ``device=None`` leaves the
        placement to an accelerator.
        """
        # device=None: an accelerator places the tensors.
        placement = device if device is not None else self.accelerator.device
        cuda = torch.device(placement).type == "cuda"
        pin_memory = device is not None and cuda
        # Early stopping comes before the user's callbacks, so that it has recorded an epoch
        # before any of theirs can end training there; the checkpoint comes after all.
        net_callbacks = [("finite_loss", FiniteLoss())]
        if self.early_stopping:
            net_callbacks.append(("early_stopping", ResumableEarlyStopping(
                monitor="valid_loss", patience=self.patience, load_best=True)))
            train_split = ValidSplit(self.validation_fraction, stratified=False,
                                     random_state=seed)
        else:
            train_split = None
        net_callbacks.extend(callbacks)
        net_callbacks.append(("checkpoint_state", EpochCheckpoint()))
        if self.verbose >= 2 and sys.stderr.isatty():  # a bar in a log file is noise
            net_callbacks.append(("progress_bar", ProgressBar()))
        return dict(
            optimizer=torch.optim.AdamW,
            optimizer__weight_decay=self.weight_decay,
            # On GPUs the fused kernel updates every parameter in one launch, without reading
            # the step counts back to the host (the default implementation does, for each
            # parameter). On CPUs the default kernel stays: fused measured 1.5% faster per
            # epoch there, too little to change training's arithmetic without a defaults
            # check (benchmarks/README.md, "Operations per training step").
            optimizer__fused=cuda,
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            train_split=train_split,
            callbacks=net_callbacks,
            iterator_train__shuffle=True,
            iterator_train__generator=torch.Generator().manual_seed(seed),
            # Pinned in collate_events, which leaves batches gathered on the device alone.
            iterator_train__collate_fn=functools.partial(collate_events, pin_memory=pin_memory),
            iterator_valid__collate_fn=functools.partial(collate_events, pin_memory=pin_memory),
            device=device,
            precision=self.precision,
            **self._compile_kwargs(),
            verbose=int(self.verbose),
        )

    def _compile_kwargs(self):
        """skorch's ``compile`` and ``compile__<option>`` arguments for ``self.compile``."""
        if isinstance(self.compile, dict):
            return {"compile": True, **{f"compile__{k}": v for k, v in self.compile.items()}}
        return {"compile": bool(self.compile)}

    def _apply(self, X, fn, on_batch=None, sort_key=None):
        """``fn(module, batch)`` over X (an array or an event source) in batches of
        ``inference_batch_size``, without autograd; a numpy array. ``sort_key`` orders the
        events before batching (see :func:`~sklearn_aclr._torch_utils.apply_in_batches`).

        It runs where the module is: a net unpickled on a machine without the training
        device has moved there (skorch moves it, with a DeviceWarning).
        """
        return apply_in_batches(
            unwrapped(self.net_.module_), X, fn, batch_size=self._inference_batch(),
            device=self.net_._device(), precision=self.precision, on_batch=on_batch,
            sort_key=sort_key,
        )

    def _inference_batch(self):
        """``inference_batch_size``, with "auto" resolved by the device of the module: large
        batches keep a GPU busy; on a CPU 1,024 measured fastest (the packed encoder pads
        each batch to its fullest event)."""
        if self.inference_batch_size != "auto":
            return self.inference_batch_size
        return AUTO_INFERENCE_BATCH[torch.device(self.net_._device()).type == "cuda"]


def train(estimator, make_net, data, seed, store=None):
    """Fit ``estimator.net_`` on ``data``; the training loop shared by the estimators.

    A new net comes from ``make_net()``. With ``estimator.warm_start`` and an earlier fit, or
    with a checkpoint ``store`` that holds one, that net continues instead, from its weights,
    optimiser state, random streams and early-stopping state, until ``max_epochs`` epochs in
    total: an interrupted fit that is continued reaches the result of an uninterrupted one.
    With a store the state is written after every epoch and SIGTERM stops training after the
    current batch, then ends the process as it would have. A KeyboardInterrupt ends training
    with a warning and the best weights so far. Returns the trained net.
    """
    net = estimator.net_ if estimator._resuming() else None
    if net is None and store is not None:
        net = store.load()
    with sigterm_stops_training() if store is not None else nullcontext(lambda: None) as deliver:
        if net is None:
            net = make_net()
            net.checkpoint_store_ = store
            with seeded(seed, estimator.device_) as rng:
                net.fit(data, None)
            net.rng_state_ = rng["final_state"]
        else:
            net.checkpoint_store_ = store
            if not _continue(net, estimator, data, seed):
                net.checkpoint_store_ = None
                return net
        interrupted = _handle_interruption(net, store)
        if store is not None and not interrupted:
            store.save(net)
        net.checkpoint_store_ = None
    deliver()  # a SIGTERM that stopped training now ends the process
    return net


def _continue(net, estimator, data, seed):
    """Continue training ``net`` until ``max_epochs`` epochs in all; False where there is
    nothing left to train (the epochs are done, or early stopping has stopped)."""
    # An epoch cut short by SIGTERM is in the history already, and is trained to its end.
    cut_short = getattr(net, "resume_position_", None) is not None
    remaining = estimator.max_epochs - len(net.history) + cut_short
    if remaining < 0:
        raise ValueError(
            f"max_epochs={estimator.max_epochs} is below the {len(net.history)} epochs "
            "already trained; raise max_epochs to train further."
        )
    stopper = dict(net.callbacks_).get("early_stopping")
    if remaining == 0 or (stopper is not None and stopper.stopped):
        return False
    net.max_epochs = remaining
    net.resuming_ = True
    try:
        with seeded(seed, estimator.device_, state=getattr(net, "rng_state_", None)) as rng:
            net.partial_fit(data, None)
    finally:
        net.resuming_ = False
    net.rng_state_ = rng["final_state"]
    return True


def _handle_interruption(net, store=None):
    """After a KeyboardInterrupt (or SIGTERM) inside an epoch: drop its partial history row
    and warn. Returns whether an epoch was cut short."""
    if not len(net.history):
        return False
    last = net.history[-1]
    validating = net.train_split is not None
    if "train_loss" in last and ("valid_loss" in last or not validating):
        return False
    epoch = last["epoch"]
    del net.history[-1]
    if store is not None and sigterm_received():
        warn(
            f"SIGTERM arrived during epoch {epoch}: training stopped after batch "
            f"{len(last['batches'])} of it, and the checkpoint {store.path} holds the state "
            "there. Run the same fit again (same parameters, same data, same checkpoint) to "
            "resume from the next batch, for example from a requeued job.",
            TrainingInterruptedWarning,
        )
        return True
    stopper = dict(net.callbacks_).get("early_stopping")
    if stopper is not None and stopper.best_model_weights_ is not None:
        kept = f"the weights of epoch {stopper.best_epoch_}, the best validation loss so far"
    else:
        kept = "the weights reached at the interruption"
    warn(
        f"Training was interrupted during epoch {epoch}; the estimator keeps {kept}. "
        "Continue it with set_params(warm_start=True).fit(X).",
        TrainingInterruptedWarning,
    )
    return True


def split_sizes(n_samples, early_stopping, validation_fraction):
    """(n_train, n_valid) of the early-stopping split that ``training_kwargs`` sets up.

    skorch's ValidSplit holds out ``ceil(fraction * n)`` events, as ``train_test_split`` does.
    """
    n_valid = math.ceil(n_samples * validation_fraction) if early_stopping else 0
    return n_samples - n_valid, n_valid


def check_validation_size(n_samples, early_stopping, validation_fraction):
    """Fail early, and clearly, where the validation split would leave a side empty."""
    if not early_stopping:
        return
    n_train, _ = split_sizes(n_samples, early_stopping, validation_fraction)
    if n_train < 1:
        raise ValueError(
            f"Early stopping holds out validation_fraction={validation_fraction} of the "
            f"n_samples={n_samples} training events, which leaves no events on one side. "
            "Pass more events, or set early_stopping=False."
        )


def loss_curves(net):
    """Training and validation loss per epoch from a fitted net's history."""
    if not len(net.history):
        return np.zeros(0), None
    train = np.asarray(net.history[:, "train_loss"], dtype=np.float64)
    has_valid = "valid_loss" in net.history[-1]
    valid = np.asarray(net.history[:, "valid_loss"], dtype=np.float64) if has_valid else None
    return train, valid
