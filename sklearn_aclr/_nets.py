"""The package's skorch nets: an autoencoder and a contrastive trainer of the encoder.

The nets override only skorch's documented hooks (``infer``, ``get_loss``,
``run_single_epoch`` through :class:`~sklearn_aclr._callbacks.DeferredLossMixin`, and through
:class:`~sklearn_aclr._precision.MixedPrecisionMixin` the training step); the estimators
build them in ``fit``. The module also holds how training reads data: one batch at a time
from arrays, in shuffled blocks from large event sources.
"""

import collections
import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data

from sklearn_aclr._callbacks import (  # noqa: F401 - FiniteLoss, ResumableEarlyStopping: below
    DeferredLossMixin,
    FiniteLoss,
    PlainLogMixin,
    ResumableEarlyStopping,
)
from sklearn_aclr._precision import MixedPrecisionMixin
from sklearn_aclr._sources import is_source
from sklearn_aclr._torch_utils import to_device, unwrapped

__all__ = ["AnomalyCLRNet", "AutoEncoderNet", "BlockShuffleSampler", "BlockValidSplit",
           "EventDataset", "collate_events", "on_device"]

# FiniteLoss and ResumableEarlyStopping lived here until the callbacks got a module of their
# own: models pickled before then name them here, and still load.


class AutoEncoderNet(PlainLogMixin, DeferredLossMixin, MixedPrecisionMixin, NeuralNet):
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


class EventDataset(torch.utils.data.Dataset):
    """Training data of any size as skorch reads it: ``(x, 0)`` pairs, like skorch's Dataset
    with ``y=None``, from an array or an event source alike.

    A batch is read with one ``__getitems__`` call (one fancy index of an array), which
    skorch's validation split (a ``Subset``) and the DataLoader pass through, instead of one
    read per event. With ``cached_blocks`` (for large sources, see :func:`reads_in_blocks`)
    an event source is read in whole blocks of ``BLOCK`` contiguous events, of which the last
    ``cached_blocks`` used stay in memory: with :class:`BlockShuffleSampler` an epoch reads
    each block of the file about once, in one contiguous read.
    """

    def __init__(self, data, cached_blocks=None):
        self.data = data
        self.cached_blocks = cached_blocks
        self._blocks = collections.OrderedDict()

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        return self.data[index], _NO_TARGET

    def __getitems__(self, indices):
        indices = np.asarray(indices, dtype=np.int64)
        if isinstance(self.data, torch.Tensor):  # resident on the training device
            return EventBatch(self.data[torch.from_numpy(indices).to(self.data.device)])
        if not is_source(self.data):
            return EventBatch(self.data[indices])
        if self.cached_blocks is None:
            return EventBatch(np.asarray(self.data.__getitems__(indices)))
        block = indices // BLOCK
        rows = None
        for k in np.unique(block):
            chosen = block == k
            events = self._block(int(k))[indices[chosen] - k * BLOCK]
            if rows is None:
                rows = np.empty((len(indices), *events.shape[1:]), dtype=events.dtype)
            rows[chosen] = events
        return EventBatch(rows)

    def _block(self, k):
        """Block ``k`` of the source, read once while it stays among the last used."""
        if k in self._blocks:
            self._blocks.move_to_end(k)
        else:
            self._blocks[k] = np.asarray(self.data[k * BLOCK : (k + 1) * BLOCK])
            while len(self._blocks) > self.cached_blocks:
                self._blocks.popitem(last=False)
        return self._blocks[k]

    def __getstate__(self):  # the cache is not part of the data
        return {**self.__dict__, "_blocks": collections.OrderedDict()}


def on_device(data, device, *, share=0.25):
    """``data`` as a tensor on ``device`` where training is to read it from there; else as is.

    On a CUDA device an array in memory moves there once, if it takes at most ``share`` of the
    free device memory (a million ADC2021 events: 300 MB), so that a training step gathers its
    batch on the device instead of copying it from the host. Event sources, and any device
    that shares the host's memory, keep the data where it is.
    """
    device = torch.device(device)
    if device.type != "cuda" or is_source(data):
        return data
    data = np.asarray(data)
    free, _ = torch.cuda.mem_get_info(device)
    if data.nbytes > share * free:
        return data
    return torch.as_tensor(data, device=device)


BLOCK = 4096  # events per block of a streamed source: ~1.2 MB of ADC2021 events
BUFFER = 16  # blocks shuffled together, and kept in memory while their batches are read


def reads_in_blocks(data):
    """Whether training reads ``data`` in blocks: a source of more events than one shuffle
    buffer holds. A smaller source is read like an array, with the same shuffling and
    validation split, so that it trains to the same model as the array in memory."""
    return is_source(data) and len(data) > BUFFER * BLOCK


class BlockShuffleSampler(torch.utils.data.Sampler):
    """Shuffled order for reading a file: blocks in random order, events shuffled within a
    buffer of blocks.

    Each epoch permutes the ``BLOCK``-event blocks of ``0 .. n - 1``, takes them ``BUFFER``
    at a time and yields the events of each group in random order. A batch thus mixes events
    from up to ``BUFFER`` distant places of the file, and each block is read once per epoch
    (:class:`EventDataset` keeps the group's blocks while it is served).

    Parameters
    ----------
    n : int
        Number of events.
    generator : torch.Generator
        Source of the permutations; its state is part of a pickled net, so that a resumed
        fit continues the same order.
    """

    def __init__(self, n, generator):
        self.n = n
        self.generator = generator

    def __len__(self):
        return self.n

    def __iter__(self):
        n_blocks = -(-self.n // BLOCK)
        order = torch.randperm(n_blocks, generator=self.generator).tolist()
        for start in range(0, n_blocks, BUFFER):
            group = [torch.arange(k * BLOCK, min((k + 1) * BLOCK, self.n))
                     for k in order[start : start + BUFFER]]
            events = torch.cat(group)
            yield from events[torch.randperm(len(events), generator=self.generator)].tolist()


class BlockValidSplit:
    """skorch's ``train_split`` for streamed data: the validation events are whole blocks of
    contiguous events, chosen at random, so that both sides are read in large pieces.

    ``ceil(fraction * n)`` events are held out, as by skorch's ``ValidSplit``: the chosen
    blocks, the last of them cut to size.

    Parameters
    ----------
    fraction : float
        Share of the events held out.
    random_state : int
        Seed of the choice of blocks.
    """

    def __init__(self, fraction, random_state):
        self.fraction = fraction
        self.random_state = random_state

    def __call__(self, dataset, y=None, **kwargs):
        n = len(dataset)
        n_valid = math.ceil(self.fraction * n)
        blocks = np.random.default_rng(self.random_state).permutation(-(-n // BLOCK))
        chosen = np.concatenate([np.arange(k * BLOCK, min((k + 1) * BLOCK, n)) for k in blocks])
        valid = np.sort(chosen[:n_valid])
        train = np.setdiff1d(np.arange(n), valid, assume_unique=True)
        return (torch.utils.data.Subset(dataset, train.tolist()),
                torch.utils.data.Subset(dataset, valid.tolist()))


_NO_TARGET = np.float32(0)


class EventBatch:
    """The events of one batch as one array, as :meth:`EventDataset.__getitems__` reads
    them, for :func:`collate_events`."""

    def __init__(self, events):
        self.events = events

    def __len__(self):
        return len(self.events)


def collate_events(batch, pin_memory=False):
    """The DataLoader's ``collate_fn``: an :class:`EventBatch` becomes ``(X, y)`` with one
    conversion for the whole batch (the default collation converts every event on its own, a
    few hundred tensor operations per step); anything else goes to the default.

    ``pin_memory`` pins a batch read from host memory, so that its copy to a GPU does not
    block; a batch gathered on the device (see :func:`on_device`) stays there. (The
    DataLoader's own ``pin_memory`` would refuse such a batch.)
    """
    if not isinstance(batch, EventBatch):
        batch = torch.utils.data.default_collate(batch)
        return [t.pin_memory() for t in batch] if pin_memory else batch
    events = batch.events
    if not isinstance(events, torch.Tensor):
        events = torch.from_numpy(np.ascontiguousarray(events))
        if pin_memory:
            events = events.pin_memory()
    return events, torch.zeros(len(events), device=events.device)


class AnomalyCLRNet(PlainLogMixin, DeferredLossMixin, MixedPrecisionMixin, NeuralNet):
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
        """Representations of the views of the events ``x``, stacked: (n_views * B, D)."""
        views = self._views(x, "train" if self.module_.training else "valid")
        return self.encode(views, **fit_params)

    def encode(self, views, **fit_params):
        """Representations of ``views`` (a list of (B, N, F + 1) event tensors), stacked.

        Where the encoder packs objects (on CPUs), one pass per view: each pass is padded to
        its fullest event, and anomalous views (with added objects) are much fuller than the
        others. Where it computes every slot (on GPUs), the views go through in one pass.
        """
        packs = getattr(unwrapped(self.module_), "packs", lambda events: True)
        with self._autocast():
            if not packs(views[0]):
                return self.module_(torch.cat(views), **fit_params).float()
            return torch.cat([self.module_(view, **fit_params).float() for view in views])

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred)

    def evaluation_step(self, batch, training=False):
        """What ``forward`` and ``predict`` return: the head output of the events themselves
        (no views), (B, output_dim). Training and validation go through ``infer``."""
        self.check_is_fitted()
        Xi, _ = unpack_data(batch)
        with torch.set_grad_enabled(training), self._autocast():
            self._set_training(training)
            return self.module_(to_device(Xi, self._device())).float()

    def __getstate__(self):
        # Generators cannot be pickled; their states (CPU tensors) can, and are restored on a
        # device of the same type, so a model trained on CUDA still loads on a CPU machine.
        state = super().__getstate__()
        generators = state.pop("generators_", None) or {}
        state["generator_states_"] = {
            stage: (g.device.type, g.get_state()) for stage, g in generators.items()
        }
        return state
