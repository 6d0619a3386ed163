"""Shared pieces of the augmentations: the calling convention, slot bookkeeping, combinators.

Every augmentation is a small picklable callable ``aug(events, *, generator)`` on a float tensor
of shape (batch, n_slots, n_features + 1) in canonical layout (for ADC2021: pT, eta, phi, class
id; class 0 marks an empty slot whose entries are all zero). It returns a new tensor of the same
shape and layout and never modifies its input. All randomness comes from ``generator``, a
``torch.Generator`` on the events' device, so the same generator state gives the same output.
"""

import functools
import math

import torch

from sklearn_aclr._layout import get_layout

PT, ETA, PHI, CLASS = 0, 1, 2, -1


class Augmentation:
    """Base class: parameters stored under their own names, a readable repr, equality.

    Subclasses store their parameters in ``__init__`` and implement
    ``__call__(events, *, generator)``. Subclassing is optional: any callable with that
    signature works as an augmentation.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import Augmentation
    >>> class DropMET(Augmentation):
    ...     def __init__(self, fraction=1.0):
    ...         self.fraction = fraction
    ...     def __call__(self, events, *, generator):
    ...         out = events.clone()
    ...         out[:, 0, 0] *= 1 - self.fraction
    ...         return out
    >>> DropMET(0.5)
    DropMET(fraction=0.5)
    """

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(map(repr, vars(self).items())))))


class ReorderingAugmentation(Augmentation):
    """Base of the augmentations that add, remove or rescale objects, and so re-order slots.

    Subclasses store a ``layout`` and implement ``_view(events, *, generator)``, which may
    leave the objects out of canonical slot order; calling the augmentation puts them back in
    order (:func:`sort_slots`). :class:`OneOf` sorts once, after each event has drawn its
    view, instead of once per candidate: the same views in fewer operations per step.
    """

    def __call__(self, events, *, generator):
        return sort_slots(self._view(events, generator=generator),
                          slot_table(self.layout, events))


def wrap_phi(phi):
    """Wrap angles into [-pi, pi), by multiples of 2 pi.

    Parameters
    ----------
    phi : Tensor
        Angles in radians.

    Returns
    -------
    Tensor
        The same angles in [-pi, pi).

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import wrap_phi
    >>> wrap_phi(torch.tensor([4.0, -4.0])).tolist()  # 4 - 2 pi, -4 + 2 pi
    [-2.2831852436065674, 2.2831852436065674]
    """
    return torch.remainder(phi + math.pi, 2 * math.pi) - math.pi


def uniform(shape, low, high, *, generator, like):
    """Uniform draws in [low, high) (tensors broadcast) on ``like``'s device and dtype."""
    u = torch.rand(shape, generator=generator, device=like.device, dtype=like.dtype)
    return low + (high - low) * u


def log_uniform_factor(shape, factor_range, *, generator, like):
    """Factors ``f`` with ``log f`` uniform in ``log(factor_range)``, inverted half the time.

    Used by the rescaling anomalies: an event is scaled up or down by between ``factor_range[0]``
    and ``factor_range[1]``, never by a factor near one.
    """
    low, high = (math.log(f) for f in factor_range)
    u, down = torch.rand(tuple(shape) + (2,), generator=generator, device=like.device,
                         dtype=like.dtype).unbind(-1)
    log_f = low + (high - low) * u
    return torch.exp(torch.where(down < 0.5, -log_f, log_f))  # down half of the time


def slot_table(layout, like):
    """The per-slot constants of ``layout`` on ``like``'s device and dtype, built once.

    Augmentations run on every batch; caching keeps the layout's constants from being rebuilt
    (and copied to the GPU) several times per training step. The tensors are read-only.

    Parameters
    ----------
    layout : str or EventLayout
        The layout.
    like : Tensor
        A tensor on the device and of the dtype wanted.

    Returns
    -------
    SlotTable
        Class id, acceptance, threshold, selection and MET masks per slot, as tensors.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import slot_table
    >>> table = slot_table("adc2021", torch.zeros(1))
    >>> table.trigger_pt, table.trigger.nonzero().squeeze(1).tolist()  # electrons and muons
    (23.0, [1, 2, 3, 4, 5, 6, 7, 8])
    """
    return _cached_slot_table(layout, like.device, like.dtype)


@functools.lru_cache(maxsize=32)
def _cached_slot_table(layout, device, dtype):
    return SlotTable(layout, device=device, dtype=dtype)


class SlotTable:
    """Per-slot constants of a layout as tensors on one device: class id, acceptance, threshold.

    ``trigger`` marks the slots whose objects can pass the event selection (ADC2021: electrons
    and muons), ``trigger_pt`` is its threshold, and ``met`` marks the MET slot (all False
    where the layout has none). The slots of one object type form a *block* (the slots of a
    type are contiguous); the methods below count and rank objects within blocks for all
    types at once, in a fixed number of operations whatever the layout.
    """

    def __init__(self, layout, *, device, dtype):
        layout = get_layout(layout)
        as_tensor = lambda a: torch.as_tensor(a, device=device, dtype=dtype)  # noqa: E731
        self.layout, self.device = layout, device
        self.slot_class = as_tensor(layout.slot_class)
        self.eta_max = as_tensor(layout.slot_attribute("eta_max"))
        self.pt_min = as_tensor(layout.slot_attribute("pt_min"))
        # Where new objects may be placed: |eta| below this (0 for slots without acceptance).
        self.eta_acceptance = torch.where(torch.isfinite(self.eta_max), self.eta_max, 0.0)
        slot_types = list(layout.slot_types)
        blocks = list(dict.fromkeys(slot_types))  # type names in slot order
        # For each slot, the rank of its type's block, and the first slot of that block.
        self.slot_block = torch.as_tensor([blocks.index(t) for t in slot_types], device=device)
        self.block_start = torch.as_tensor([slot_types.index(t) for t in slot_types],
                                           device=device)
        block = self.slot_block
        self.block_onehot = (block.unsqueeze(1) == torch.arange(len(blocks), device=device)).to(
            dtype)  # (N, T)
        slots = torch.arange(len(slot_types), device=device)
        self.earlier_block = (slots.unsqueeze(1) < self.block_start).to(dtype)  # (N, N)
        self.same_block = block.unsqueeze(1) == block  # (N, N)
        self._block_key = 3 * block.to(dtype)  # keeps the blocks apart when ranking
        self.trigger = torch.as_tensor([t in layout.trigger_types for t in slot_types],
                                       device=device)
        self.trigger_pt = float(layout.trigger_pt)
        self.met = torch.as_tensor([t == "met" for t in slot_types], device=device)
        self.visible = ~self.met
        # Momentum balance (see carry_into_met): +1 for every slot before a change, -1 for the
        # visible (non-MET) slots after it.
        self.balance = torch.cat([torch.ones_like(self.pt_min), -self.visible.to(dtype)])
        self._masks = {}
        self._cells = {}

    def is_type(self, *names):
        """Boolean mask over slots, True for the slots of the object types ``names``."""
        if names not in self._masks:
            self._masks[names] = torch.as_tensor(
                [t in names for t in self.layout.slot_types], device=self.device)
        return self._masks[names]

    def cells(self, slots, column, n_columns):
        """(N, n_columns) boolean mask: True at ``column`` of the slots where the table's mask
        named ``slots`` ("met", "visible") is True. Built once: replacing a column of fixed
        slots then takes one ``torch.where``."""
        key = (slots, column % n_columns, n_columns)
        if key not in self._cells:
            self._cells[key] = _column_mask(column, n_columns, self.device) & getattr(
                self, slots).unsqueeze(-1)
        return self._cells[key]

    def count_per_type(self, mask):
        """(B, T) integer counts of the True slots of ``mask`` (B, N) in each type's block."""
        return (mask.to(self.block_onehot.dtype) @ self.block_onehot).round().long()

    def per_slot(self, values):
        """(B, N): each slot gets its type's entry of ``values`` (B, T)."""
        return values[:, self.slot_block]

    def rank_in_type(self, mask, priority=None):
        """(B, N) rank of each True slot of ``mask`` among the True slots of its type's block.

        By slot order, or by ascending ``priority`` (B, N), values in [0, 1), where given.
        Entries where ``mask`` is False are meaningless.
        """
        if priority is None:
            before = mask.to(self.earlier_block.dtype) @ self.earlier_block  # earlier blocks
            return torch.cumsum(mask, dim=1) - 1 - before.round().long()
        key = torch.where(mask, priority, 2.0) + self._block_key  # priority in [0, 1)
        return torch.argsort(torch.argsort(key, dim=1), dim=1) - self.block_start


def passes_selection(events, table):
    """Which events pass the layout's selection (ADC2021: an electron or muon above 23 GeV).

    Parameters
    ----------
    events : Tensor of shape (B, n_slots, n_features + 1)
        Canonical events.
    table : SlotTable
        The layout's constants, from :func:`slot_table`.

    Returns
    -------
    Tensor of shape (B,), dtype bool
        True where the event passes; layouts without a selection pass every event.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import passes_selection, slot_table
    >>> events = torch.zeros(2, 19, 4); events[:, 0, 3] = 1
    >>> events[:, 5] = torch.tensor([[30.0, 0.0, 0.0, 3.0], [20.0, 0.0, 0.0, 3.0]])  # muons
    >>> passes_selection(events, slot_table("adc2021", events)).tolist()
    [True, False]
    """
    if not table.layout.trigger_types:
        return torch.ones(len(events), dtype=torch.bool, device=events.device)
    # Empty slots are all zero, below any threshold: no need to ask which slots are present.
    return (table.trigger & (events[..., PT] > table.trigger_pt)).any(dim=1)


def trigger_object(events, table):
    """(B, N) mask of the object that carries the selection: the hardest trigger-type object.

    All False in events without one; objects tied for the hardest are all marked. Anomalous
    augmentations keep this object above the selection threshold, so that no view is told
    apart by failing the selection.
    """
    candidates = (events[..., CLASS] != 0) & table.trigger
    pt = torch.where(candidates, events[..., PT], -1.0)
    return candidates & (pt >= pt.amax(dim=1, keepdim=True))  # ties: all of the hardest


def transverse_vector(events, selected):
    """(B, 2) vector sum (px, py) of the objects where ``selected`` (B, N) is True."""
    pt = torch.where(selected, events[..., PT], torch.zeros_like(events[..., PT]))
    return _vector_sum(pt, events[..., PHI])


def _vector_sum(pt, phi):
    """(B, 2) sum over slots of the transverse vectors of magnitudes ``pt`` (B, N), angles
    ``phi`` (B, N)."""
    return torch.stack([(pt * torch.cos(phi)).sum(1), (pt * torch.sin(phi)).sum(1)], 1)


def set_met(events, table, vector):
    """A copy of ``events`` whose MET slot holds the vector (B, 2), pT and phi both."""
    px, py = vector.view(-1, 1, 1, 2).unbind(-1)  # (B, 1, 1) each, to broadcast over slots
    n_columns = events.shape[-1]
    out = torch.where(table.cells("met", PT, n_columns), torch.hypot(px, py), events)
    return torch.where(table.cells("met", PHI, n_columns), torch.atan2(py, px), out)


def carry_into_met(before, after, table):
    """Rebalance MET: the change of the visible objects' vector sum goes into MET.

    ``after`` is ``before`` with objects moved, rescaled, added or removed (MET itself
    unchanged). MET is minus the vector sum of everything seen, so it becomes
    ``MET_before - (sum_after - sum_before)``; an object that is removed takes its whole
    momentum into MET, as an object that left the detector would. Computed as the vector sum
    of every slot of ``before`` (MET included) minus that of the visible slots of ``after``:
    empty slots are all zero and add nothing.
    """
    columns = torch.cat([before, after], dim=1).unbind(-1)
    return set_met(after, table, _vector_sum(columns[PT] * table.balance, columns[PHI]))


def empty_slots(events, keep):
    """Zero the slots where ``keep`` is False; returns a new tensor."""
    return events * keep.unsqueeze(-1)


@functools.lru_cache(maxsize=64)
def _column_mask(column, n_columns, device):
    return torch.arange(n_columns, device=device) == column % n_columns


def sort_slots(events, table):
    """Order the objects of each type by descending pT, empty slots last, as in ADC2021 files.

    Augmentations that drop or add objects call this so that slot order stays canonical. Two
    stable sorts over all slots at once (by pT, then by the slot's type block) give the order
    of a sort within each block, in a fixed number of operations whatever the layout.
    """
    present = events[..., CLASS] != 0
    key = torch.where(present, -events[..., PT], torch.inf)  # hardest first, empty last
    order = torch.argsort(key, dim=1, stable=True)
    block = table.slot_block.expand_as(order)
    order = torch.gather(order, 1, torch.argsort(torch.gather(block, 1, order), dim=1,
                                                 stable=True))
    return torch.gather(events, 1, order.unsqueeze(-1).expand_as(events))


def random_counts(capacity, *, generator):
    """Per-event, per-type counts uniform in [0, capacity], at least one per event if possible.

    ``capacity`` is (B, T) integer. An event whose draws are all zero gets one count in a type
    chosen at random among those with room, so every event is changed.
    """
    u = torch.rand(capacity.shape, generator=generator, device=capacity.device)
    counts = torch.floor(u * (capacity + 1)).long().clamp(max=capacity)
    none = (counts.sum(1) == 0) & (capacity.sum(1) > 0)  # (B,)
    # A type with room, uniformly at random (the largest of uniform keys among them); drawn
    # for every event and used where none was drawn, so that the host never has to look.
    keys = torch.rand(capacity.shape, generator=generator, device=capacity.device)
    pick = torch.where(capacity > 0, keys, -1.0).argmax(dim=1, keepdim=True)  # (B, 1)
    return counts.scatter_add(1, pick, none.long().unsqueeze(1))


class Compose(Augmentation):
    """Apply augmentations one after the other; the physical view uses all of them.

    Parameters
    ----------
    augmentations : list of callable
        Each called as ``aug(events, generator=generator)``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import Compose, RotatePhi, SmearJetEnergy
    >>> physical = Compose([RotatePhi(), SmearJetEnergy()])
    >>> events = torch.zeros(2, 19, 4); events[:, 0, 3] = 1
    >>> physical(events, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([2, 19, 4])
    """

    def __init__(self, augmentations):
        self.augmentations = list(augmentations)

    def __call__(self, events, *, generator):
        for augmentation in self.augmentations:
            events = augmentation(events, generator=generator)
        return events


class OneOf(Augmentation):
    """Give each event exactly one of the augmentations, chosen uniformly at random.

    Every augmentation runs on the whole batch and each event keeps the view it drew: fixed
    shapes and no data-dependent indexing, so that the step never waits for the device. Where
    candidates add, remove or rescale objects (the built-in ones, of one layout), the drawn
    views are put in canonical slot order once, together, rather than once per candidate.

    Parameters
    ----------
    augmentations : list of callable
        The candidates, each called on the whole batch as ``aug(events, generator=generator)``.

    Examples
    --------
    ShiftMET changes only MET and ScalePT only the muon here: each event shows one of them.

    >>> import torch
    >>> from sklearn_aclr.augmentations import OneOf, ScalePT, ShiftMET
    >>> events = torch.zeros(1000, 19, 4)
    >>> events[:, 0] = torch.tensor([50.0, 0.0, 1.0, 1.0])   # MET
    >>> events[:, 5] = torch.tensor([60.0, 0.3, -1.0, 3.0])  # a muon
    >>> views = OneOf([ShiftMET(), ScalePT()])(events, generator=torch.Generator().manual_seed(0))
    >>> met_changed, muon_changed = views[:, 0, 0] != 50.0, views[:, 5, 0] != 60.0
    >>> bool((met_changed ^ muon_changed).all()), round(float(met_changed.float().mean()), 1)
    (True, 0.5)
    """

    def __init__(self, augmentations):
        self.augmentations = list(augmentations)

    def __call__(self, events, *, generator):
        if len(self.augmentations) == 1:
            return self.augmentations[0](events, generator=generator)
        choice = torch.randint(len(self.augmentations), (len(events),), generator=generator,
                               device=events.device)
        layouts = {a.layout for a in self.augmentations if isinstance(a, ReorderingAugmentation)}
        sort_once = len(layouts) == 1
        views = torch.stack([
            augmentation._view(events, generator=generator)
            if sort_once and isinstance(augmentation, ReorderingAugmentation)
            else augmentation(events, generator=generator)
            for augmentation in self.augmentations
        ])  # (n_augmentations, B, N, C)
        out = views[choice, torch.arange(len(events), device=events.device)]  # drawn views
        return sort_slots(out, slot_table(layouts.pop(), events)) if sort_once else out
