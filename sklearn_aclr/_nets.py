"""skorch nets and the torch plumbing the estimators share (device, seeding, batched inference).

The nets override only skorch's documented hooks; the estimators build them in ``fit``.
"""

import math
import warnings
from contextlib import contextmanager
from copy import deepcopy

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, ProgressBar
from skorch.dataset import ValidSplit, unpack_data

from sklearn_aclr.exceptions import TrainingInterruptedWarning

PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


def to_device(x, device):
    """An array or tensor on ``device``; host memory is pinned and copied without blocking
    when the device is a GPU, so the copy overlaps with the work already queued there."""
    tensor = torch.as_tensor(x)
    if torch.device(device).type == "cuda":
        if not tensor.is_cuda:
            tensor = tensor.pin_memory()
        return tensor.to(device, non_blocking=True)
    return tensor.to(device)


def autocast(device, precision):
    """``torch.autocast`` for ``precision`` ("float32" disables it) on ``device``'s type."""
    dtype = PRECISIONS[precision]
    return torch.autocast(torch.device(device).type, dtype=dtype or torch.float32,
                          enabled=dtype is not None)


class MixedPrecisionMixin:
    """Forward passes under autocast, in ``precision``; float16 training adds a GradScaler.

    The nets' outputs, and so the losses, are float32 whatever the precision.
    """

    precision = "float32"

    def _device(self):
        """Where tensors go: the accelerator's device in distributed training."""
        accelerator = getattr(self, "accelerator", None)
        return accelerator.device if accelerator is not None else self.device

    def _autocast(self):
        return autocast(self._device(), self.precision)

    def _grad_scaler(self):
        if self.precision != "float16":
            return None
        if "grad_scaler_" not in self.__dict__:
            self.grad_scaler_ = torch.amp.GradScaler(torch.device(self._device()).type)
        return self.grad_scaler_

    def train_step_single(self, batch, **fit_params):
        scaler = self._grad_scaler()
        if scaler is None:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler.scale(loss).backward()
        return {"loss": loss, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        scaler = self._grad_scaler()
        if scaler is None:
            return super().train_step(batch, **fit_params)
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        scaler.step(self.optimizer_)
        scaler.update()
        return step


class AutoEncoderNet(MixedPrecisionMixin, NeuralNet):
    """A skorch net whose loss compares the module's output with its input.

    ``fit(X, None)`` trains a reconstruction model; the criterion (``MSELoss`` in
    :class:`~sklearn_aclr.AutoEncoderScorer`) receives ``(reconstruction, X)``.

    Parameters
    ----------
    precision : {"float32", "bfloat16", "float16"}, default="float32"
        Precision of the forward passes (autocast).
    """

    def __init__(self, *args, precision="float32", **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision

    def infer(self, x, **fit_params):
        with self._autocast():
            return self.module_(to_device(x, self._device()), **fit_params).float()

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred, to_device(X, self._device()))


def resolve_device(device):
    """Map ``"auto"`` to ``"cuda"`` when a GPU is visible, else ``"cpu"``; check the others."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but torch sees no CUDA device (torch "
            f"{torch.__version__}). Use device='auto' to fall back to the CPU."
        )
    return str(resolved)


def torch_seed(random_state):
    """One integer seed for torch, drawn from a scikit-learn ``random_state``."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextmanager
def seeded(seed, device, state=None):
    """Run a block under torch's global RNG seeded with ``seed``, restoring it afterwards.

    Weight initialisation and dropout draw from the global RNG; forking it keeps ``fit`` from
    changing the user's random stream and makes the same seed give the same model. ``state``
    (a ``final_state`` of an earlier block) continues that block's stream instead of seeding.
    Yields a dict whose ``"final_state"`` holds the RNG state at the end of the block.
    """
    cuda = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        if state is None:
            torch.manual_seed(seed)
        else:
            torch.set_rng_state(state["cpu"])
            if cuda and state.get("cuda") is not None:
                torch.cuda.set_rng_state(state["cuda"], cuda[0])
        box = {}
        yield box
        box["final_state"] = {
            "cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(cuda[0]) if cuda else None,
        }


class FiniteLoss(Callback):
    """Stop training with a clear error as soon as a batch's loss is NaN or infinite."""

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        if loss is not None and not torch.isfinite(loss).all():
            stage = "training" if training else "validation"
            raise FloatingPointError(
                f"The {stage} loss became {loss.item()} in epoch {len(net.history)}, so "
                f"training stopped. Try a lower lr (now {net.lr}), look for extreme values in "
                "the training events, or refit with another random_state."
            )


class ResumableEarlyStopping(EarlyStopping):
    """skorch's EarlyStopping, whose state survives a warm-started continuation.

    At the end of training it keeps the last weights (before restoring the best), so that a
    continued fit starts where the previous one stopped, and a continued fit keeps the best
    score and the count of epochs without improvement.
    """

    def on_train_begin(self, net, **kwargs):
        if getattr(net, "resuming_", False) and hasattr(self, "misses_"):
            if getattr(self, "last_weights_", None) is not None:
                # skorch leaves the best weights out of pickles, since the module holds them
                # at the end of training: take them back from the module before it moves on.
                if self.best_model_weights_ is None and self.load_best:
                    self.best_model_weights_ = deepcopy(net.module_.state_dict())
                net.module_.load_state_dict(self.last_weights_)
            return
        super().on_train_begin(net, **kwargs)

    def on_train_end(self, net, **kwargs):
        self.last_weights_ = deepcopy(net.module_.state_dict())
        super().on_train_end(net, **kwargs)

    @property
    def stopped(self):
        return getattr(self, "misses_", 0) >= self.patience


def train(estimator, make_net, data, seed):
    """Fit ``estimator.net_`` on ``data``; the training loop shared by the estimators.

    A new net comes from ``make_net()``. With ``estimator.warm_start`` and an earlier fit, the
    existing net continues instead, from its weights, optimiser state, random streams and
    early-stopping state, until ``max_epochs`` epochs in total: an interrupted fit that is
    continued reaches the result of an uninterrupted one. A KeyboardInterrupt ends training
    with a warning and the best weights so far. Returns the trained net.
    """
    net = getattr(estimator, "net_", None) if estimator.warm_start else None
    if net is None:
        net = make_net()
        with seeded(seed, estimator.device_) as rng:
            net.fit(data, None)
    else:
        remaining = estimator.max_epochs - len(net.history)
        if remaining < 0:
            raise ValueError(
                f"max_epochs={estimator.max_epochs} is below the {len(net.history)} epochs "
                "already trained; with warm_start=True raise max_epochs to train further."
            )
        stopper = dict(net.callbacks_).get("early_stopping")
        if remaining == 0 or (stopper is not None and stopper.stopped):
            return net
        net.max_epochs = remaining
        net.resuming_ = True
        try:
            with seeded(seed, estimator.device_, state=getattr(net, "rng_state_", None)) as rng:
                net.partial_fit(data, None)
        finally:
            net.resuming_ = False
    net.rng_state_ = rng["final_state"]
    _handle_interruption(net)
    return net


def _handle_interruption(net):
    """After a KeyboardInterrupt inside an epoch: drop its partial history row and warn."""
    if not len(net.history):
        return
    last = net.history[-1]
    validating = net.train_split is not None
    if "train_loss" in last and ("valid_loss" in last or not validating):
        return
    epoch = last["epoch"]
    del net.history[-1]
    stopper = dict(net.callbacks_).get("early_stopping")
    if stopper is not None and stopper.best_model_weights_ is not None:
        kept = f"the weights of epoch {stopper.best_epoch_}, the best validation loss so far"
    else:
        kept = "the weights reached at the interruption"
    warnings.warn(
        f"Training was interrupted during epoch {epoch}; the estimator keeps {kept}. "
        "Continue it with set_params(warm_start=True).fit(X).",
        TrainingInterruptedWarning,
        stacklevel=4,
    )


def training_kwargs(
    *, seed, device, lr, batch_size, max_epochs, early_stopping, validation_fraction,
    patience, verbose, callbacks=(),
):
    """Keyword arguments of a skorch net common to the package's estimators.

    Shuffling draws from a generator seeded with ``seed``, the validation split from
    ``seed`` as well; early stopping restores the weights of the best validation epoch. A
    NaN or infinite loss stops training with an error.
    """
    user_callbacks = list(callbacks)
    pin_memory = device is not None and torch.device(device).type == "cuda"
    # Early stopping comes before the user's callbacks, so that it has recorded an epoch
    # before any of theirs can end training there.
    callbacks = [("finite_loss", FiniteLoss())]
    if early_stopping:
        callbacks.append(
            ("early_stopping", ResumableEarlyStopping(monitor="valid_loss", patience=patience,
                                                      load_best=True))
        )
        train_split = ValidSplit(validation_fraction, stratified=False, random_state=seed)
    else:
        train_split = None
    callbacks.extend(user_callbacks)
    if verbose >= 2:
        callbacks.append(("progress_bar", ProgressBar()))
    return dict(
        lr=lr,
        batch_size=batch_size,
        max_epochs=max_epochs,
        train_split=train_split,
        callbacks=callbacks,
        iterator_train__shuffle=True,
        iterator_train__generator=torch.Generator().manual_seed(seed),
        iterator_train__pin_memory=pin_memory,
        iterator_valid__pin_memory=pin_memory,
        device=device,
        verbose=int(verbose),
    )


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


def unwrapped(module):
    """The module itself, out of a DistributedDataParallel wrapper (Accelerate's)."""
    return module.module if isinstance(module, torch.nn.parallel.DistributedDataParallel) \
        else module


def loss_curves(net):
    """Training and validation loss per epoch from a fitted net's history."""
    if not len(net.history):
        return np.zeros(0), None
    train = np.asarray(net.history[:, "train_loss"], dtype=np.float64)
    has_valid = "valid_loss" in net.history[-1]
    valid = np.asarray(net.history[:, "valid_loss"], dtype=np.float64) if has_valid else None
    return train, valid


class StreamDataset(torch.utils.data.Dataset):
    """An ADC2021Stream as skorch training data: ``(x, 0)`` pairs, like skorch's Dataset with
    ``y=None``. A batch is read with one ``__getitems__`` call, which skorch's validation
    split (a ``Subset``) and the DataLoader pass through.
    """

    def __init__(self, stream):
        self.stream = stream

    def __len__(self):
        return len(self.stream)

    def __getitem__(self, index):
        return self.stream[index], _NO_TARGET

    def __getitems__(self, indices):
        return [(x, _NO_TARGET) for x in self.stream.__getitems__(indices)]


_NO_TARGET = np.float32(0)


def apply_in_batches(module, X, fn, *, batch_size, device, on_batch=None, precision="float32"):
    """``fn(module, x_batch)`` over ``X`` in batches without autograd; returns a numpy array.

    ``X`` is an array or anything sliced like one, such as an ADC2021Stream. Memory stays
    bounded by ``batch_size`` whatever the size of ``X``. ``on_batch(batch)``, if given, sees
    each numpy batch first (to summarise or check the input in the same pass). The module
    runs under autocast in ``precision``; the output is float32.
    """
    module.eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(X), batch_size):
            batch = np.asarray(X[start : start + batch_size])
            if on_batch is not None:
                on_batch(batch)
            with autocast(device, precision):
                output = fn(module, to_device(batch, device))
            outputs.append(output.float().cpu().numpy())
    return np.concatenate(outputs)


class AnomalyCLRNet(MixedPrecisionMixin, NeuralNet):
    """A skorch net that trains an encoder contrastively on views it builds for each batch.

    For a batch of events, ``infer`` makes the physical view (``physical``) and, for the
    AnomCLR losses, the anomalous view (``anomalous``), runs each view through the module and
    returns the stacked representations, which the criterion
    (:class:`~sklearn_aclr.nn.losses.ContrastiveLoss`) turns into the loss. Building the views
    inside ``infer`` keeps skorch's own training steps, and those of its AccelerateMixin, in
    charge. Augmentations run on the net's device and draw from generators seeded with
    ``seed`` (one for training, one for validation; offset by the process index in
    distributed training).

    Parameters
    ----------
    physical : callable
        ``physical(events, generator=g)``, the positive view.
    anomalous : callable
        ``anomalous(events, generator=g)``, the negative view.
    seed : int, default=0
        Seed of the augmentation generators.
    precision : {"float32", "bfloat16", "float16"}, default="float32"
        Precision of the encoder's forward passes (autocast); augmentations stay float32.
    """

    def __init__(self, *args, physical, anomalous, seed=0, precision="float32", **kwargs):
        super().__init__(*args, **kwargs)
        self.physical = physical
        self.anomalous = anomalous
        self.seed = seed
        self.precision = precision

    def _generator(self, stage):
        generators = self.__dict__.setdefault("generators_", {})
        if stage not in generators:
            accelerator = getattr(self, "accelerator", None)
            process = accelerator.process_index if accelerator is not None else 0
            offset = {"train": 0, "valid": 1}[stage] + 2 * process
            generator = torch.Generator(device=self._device()).manual_seed(self.seed + offset)
            # A pickled net continues its augmentation streams where they were.
            saved = self.__dict__.get("generator_states_", {}).get(stage)
            if saved is not None and saved[0] == generator.device.type:
                generator.set_state(saved[1])
            generators[stage] = generator
        return generators[stage]

    def _views(self, Xi, stage):
        events = to_device(Xi, self._device())
        generator = self._generator(stage)
        views = [events, self.physical(events, generator=generator)]
        if self.criterion_.n_views == 3:
            views.append(self.anomalous(events, generator=generator))
        return views

    def infer(self, x, **fit_params):
        """Representations of the views of the events ``x``, stacked: (n_views * B, D).

        One pass per view: the encoder pads each pass to its fullest event, and anomalous
        views (with added objects) are much fuller than the others.
        """
        views = self._views(x, "train" if self.module_.training else "valid")
        with self._autocast():
            return torch.cat([self.module_(view, **fit_params).float() for view in views])

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred)

    def __getstate__(self):
        # Generators cannot be pickled; their states (CPU tensors) can, and are restored on a
        # device of the same type, so a model trained on CUDA still loads on a CPU machine.
        state = super().__getstate__()
        generators = state.pop("generators_", None) or {}
        state["generator_states_"] = {
            stage: (g.device.type, g.get_state()) for stage, g in generators.items()
        }
        return state
