"""skorch nets and the torch plumbing the estimators share (device, seeding, batched inference).

The nets override only skorch's documented hooks; the estimators build them in ``fit``.
"""

import math
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, ProgressBar
from skorch.dataset import ValidSplit, unpack_data
from skorch.utils import to_tensor


class AutoEncoderNet(NeuralNet):
    """A skorch net whose loss compares the module's output with its input.

    ``fit(X, None)`` trains a reconstruction model; the criterion (``MSELoss`` in
    :class:`~sklearn_aclr.AutoEncoderScorer`) receives ``(reconstruction, X)``.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred, to_tensor(X, device=self.device))


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
def seeded(seed, device):
    """Run a block under torch's global RNG seeded with ``seed``, restoring it afterwards.

    Weight initialisation and dropout draw from the global RNG; forking it keeps ``fit`` from
    changing the user's random stream and makes the same seed give the same model.
    """
    cuda = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


def training_kwargs(
    *, seed, device, lr, batch_size, max_epochs, early_stopping, validation_fraction,
    patience, verbose, callbacks=(),
):
    """Keyword arguments of a skorch net common to the package's estimators.

    Shuffling draws from a generator seeded with ``seed``, the validation split from
    ``seed`` as well; early stopping restores the weights of the best validation epoch.
    """
    callbacks = list(callbacks)
    if early_stopping:
        callbacks.append(
            ("early_stopping", EarlyStopping(monitor="valid_loss", patience=patience,
                                             load_best=True))
        )
        train_split = ValidSplit(validation_fraction, stratified=False, random_state=seed)
    else:
        train_split = None
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


def loss_curves(net):
    """Training and validation loss per epoch from a fitted net's history."""
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


def apply_in_batches(module, X, fn, *, batch_size, device):
    """``fn(module, x_batch)`` over ``X`` in batches without autograd; returns a numpy array.

    ``X`` is an array or anything sliced like one, such as an ADC2021Stream. Memory stays
    bounded by ``batch_size`` whatever the size of ``X``.
    """
    module.eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(X), batch_size):
            batch = torch.as_tensor(np.asarray(X[start : start + batch_size]), device=device)
            outputs.append(fn(module, batch).float().cpu().numpy())
    return np.concatenate(outputs)


class AnomalyCLRNet(NeuralNet):
    """A skorch net that trains an encoder contrastively on views it builds for each batch.

    For a batch of events it makes the physical view (``physical``) and, for the AnomCLR
    losses, the anomalous view (``anomalous``), runs all of them through the module in one
    pass and hands the stacked representations to the criterion
    (:class:`~sklearn_aclr.nn.losses.ContrastiveLoss`). Augmentations run on the net's device
    and draw from generators seeded with ``seed`` (one for training, one for validation).

    Parameters
    ----------
    physical : callable
        ``physical(events, generator=g)``, the positive view.
    anomalous : callable
        ``anomalous(events, generator=g)``, the negative view.
    seed : int, default=0
        Seed of the augmentation generators.
    """

    def __init__(self, *args, physical, anomalous, seed=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.physical = physical
        self.anomalous = anomalous
        self.seed = seed

    def _generator(self, stage):
        generators = self.__dict__.setdefault("generators_", {})
        if stage not in generators:
            offset = {"train": 0, "valid": 1}[stage]
            generators[stage] = torch.Generator(device=self.device).manual_seed(self.seed + offset)
        return generators[stage]

    def _views(self, Xi, stage):
        events = to_tensor(Xi, device=self.device)
        generator = self._generator(stage)
        views = [events, self.physical(events, generator=generator)]
        if self.criterion_.n_views == 3:
            views.append(self.anomalous(events, generator=generator))
        return torch.cat(views)  # (n_views * B, N, C)

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        views = self._views(Xi, "train")
        y_pred = self.infer(views, **fit_params)
        loss = self.get_loss(y_pred, yi, X=views, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        Xi, yi = unpack_data(batch)
        with torch.no_grad():
            views = self._views(Xi, "valid")
            y_pred = self.infer(views, **fit_params)
            loss = self.get_loss(y_pred, yi, X=views, training=False)
        return {"loss": loss, "y_pred": y_pred}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred)

    def __getstate__(self):
        # The augmentation generators live on the training device and only serve training;
        # leaving them out keeps a model trained on CUDA loadable on a CPU-only machine.
        state = super().__getstate__()
        state.pop("generators_", None)
        return state
