"""Anomalous augmentations: the negative views, generic departures from Standard Model events.

None of them models a particular signal. They change what a physicist would call the
event's content or its balance (more objects, split objects, different MET or pT scale), and
the contrastive loss pushes such views away from the original. Every view of an event that
passes the selection passes it too (ADC2021: an electron or muon above 23 GeV), and keeps the
thresholds and acceptance: a view that no real event could be would teach the encoder a
trivial cue instead of the physics.
"""

import math

import torch

from sklearn_aclr.augmentations._base import (
    CLASS,
    PT,
    Augmentation,
    carry_into_met,
    empty_slots,
    log_uniform_factor,
    random_counts,
    set_met,
    slot_table,
    sort_slots,
    transverse_vector,
    trigger_object,
    uniform,
)

__all__ = ["AddInvisible", "AddObjects", "CollinearSplit", "ShiftMET", "ScalePT"]

_VISIBLE = ("ele", "mu", "jet")


class _LayoutAugmentation(Augmentation):
    """Base of the augmentations whose only fixed parameter is the event layout."""

    def __init__(self, layout="adc2021"):
        self.layout = layout


class AddObjects(_LayoutAugmentation):
    """Add electrons, muons and jets to the free slots, rebalancing MET.

    For each type a random number of new objects between 0 and the number of free slots is
    drawn (at least one new object per event where any slot is free). A new object has pT
    uniform between the type's threshold and the event's largest visible pT, eta uniform within
    the acceptance and phi uniform. MET becomes the old MET minus the vector pT sum of the new
    objects, pT and phi, so the event's total transverse momentum balance is unchanged.

    Parameters
    ----------
    layout : str or EventLayout, default="adc2021"
        Event layout, for slots, acceptance and thresholds.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import AddObjects
    >>> events = torch.zeros(1, 19, 4)
    >>> events[0, 0] = torch.tensor([30.0, 0.0, 0.0, 1.0])
    >>> events[0, 1] = torch.tensor([30.0, 0.0, 3.14159, 2.0])
    >>> more = AddObjects()(events, generator=torch.Generator().manual_seed(0))
    >>> int((more[0, :, 3] > 0).sum()) > 2
    True
    """

    def __call__(self, events, *, generator):
        table = slot_table(self.layout, events)
        empty = events[..., CLASS] == 0
        masks = [table.is_type(name) for name in _VISIBLE]
        visible = torch.stack(masks).any(dim=0)  # (N,)
        capacity = torch.stack([(empty & m).sum(1) for m in masks], 1)  # (B, 3)
        counts = random_counts(capacity, generator=generator)
        # A free slot is filled if it is among the first `count` free slots of its type.
        new = torch.zeros_like(empty)
        for k, mask in enumerate(masks):
            free = empty & mask
            rank = torch.cumsum(free.long(), dim=1) - 1
            new |= free & (rank < counts[:, k : k + 1])

        max_pt = (events[..., PT] * visible).amax(dim=1, keepdim=True)  # (B, 1)
        low = table.pt_min.expand_as(events[..., PT])
        pt = uniform(empty.shape, low, torch.maximum(max_pt, low), generator=generator, like=events)
        eta_max = torch.where(torch.isfinite(table.eta_max), table.eta_max, 0.0)
        eta = uniform(empty.shape, -eta_max, eta_max, generator=generator, like=events)
        phi = uniform(empty.shape, -math.pi, math.pi, generator=generator, like=events)
        added = torch.stack([pt, eta, phi, table.slot_class.expand_as(pt)], -1)
        added = empty_slots(added, new)

        return sort_slots(carry_into_met(events, events + added, table), table)


class CollinearSplit(_LayoutAugmentation):
    """Split objects into two collinear objects of the same type, keeping each type's total pT.

    For each type a random number of objects between 0 and the number of free slots is split
    (at least one split per event where possible). A parent of pT ``p`` keeps ``z p`` and a
    partner with ``(1 - z) p`` takes its eta and phi in a free slot of the same type, with ``z``
    uniform such that both pass the type's threshold; objects below twice the threshold are
    not split. The lepton that carries the selection keeps more than the selection threshold
    (23 GeV for ADC2021), so the view still passes it. Occupied slots are never overwritten.

    Parameters
    ----------
    layout : str or EventLayout, default="adc2021"
        Event layout, for slots and thresholds.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import CollinearSplit
    >>> events = torch.zeros(1, 19, 4); events[0, 0, 3] = 1
    >>> events[0, 9] = torch.tensor([80.0, 1.0, 0.5, 4.0])
    >>> split = CollinearSplit()(events, generator=torch.Generator().manual_seed(0))
    >>> float(split[0, 9:, 0].sum()), int((split[0, 9:, 3] > 0).sum())
    (80.0, 2)
    """

    def __call__(self, events, *, generator):
        table = slot_table(self.layout, events)
        present = events[..., CLASS] != 0
        # What the parent must keep: the threshold, or for the selection lepton the selection
        # threshold (with a margin against rounding); the partner must pass the threshold.
        keep_min = torch.where(trigger_object(events, table),
                               table.pt_min.clamp(min=table.trigger_pt * (1 + 1e-3)),
                               table.pt_min)  # (B, N)
        splittable = present & (events[..., PT] >= keep_min + table.pt_min)
        kinds = [(name, slots) for name, slots in table.types if name in _VISIBLE]
        capacity = torch.stack(
            [torch.minimum(splittable[:, s].sum(1), (~present[:, s]).sum(1)) for _, s in kinds], 1
        )
        counts = random_counts(capacity, generator=generator)
        out = events.clone()
        for k, (_, slots) in enumerate(kinds):
            block = events[:, slots]  # (B, n, C)
            n = len(slots)
            # Parents: a random choice among splittable objects; partners: the first free slots.
            priority = torch.rand(block.shape[:2], generator=generator, device=events.device)
            priority = torch.where(splittable[:, slots], priority, 2.0)
            parent = torch.argsort(priority, dim=1)  # (B, n), splittable first
            free = torch.argsort((present[:, slots]).long(), dim=1, stable=True)  # free first
            active = torch.arange(n, device=events.device) < counts[:, k : k + 1]  # (B, n)
            to_parent = _one_hot(parent, n, events.dtype) * active.unsqueeze(-1)  # (B, j, s)
            to_free = _one_hot(free, n, events.dtype) * active.unsqueeze(-1)

            parent_rows = torch.gather(block, 1, parent.unsqueeze(-1).expand_as(block))
            parent_pt = parent_rows[..., PT].clamp(min=1e-6)
            z_low = torch.gather(keep_min[:, slots], 1, parent) / parent_pt
            z_high = 1 - table.pt_min[slots].unsqueeze(0) / parent_pt
            z = uniform(z_low.shape, z_low, torch.maximum(z_low, z_high), generator=generator,
                        like=events)
            partner_rows = parent_rows.clone()
            partner_rows[..., PT] = (1 - z) * parent_rows[..., PT]

            keep_fraction = 1 - torch.einsum("bjs,bj->bs", to_parent, 1 - z)  # z at parents
            new_block = block.clone()
            new_block[..., PT] = block[..., PT] * keep_fraction
            new_block = new_block + torch.einsum("bjs,bjc->bsc", to_free, partner_rows)
            out[:, slots] = new_block
        return sort_slots(out, table)


class AddInvisible(_LayoutAugmentation):
    """Add an invisible particle: MET gains a transverse momentum in a random direction.

    A new particle that leaves the detector unseen (a neutrino from a heavy decay, a dark
    matter candidate) adds its transverse momentum to the missing one. The visible objects are
    unchanged; MET becomes the vector sum of the old MET and the new particle's transverse
    momentum, which has pT uniform between ``pt_min`` and the event's largest visible pT (at
    least ``pt_min``) and a uniform azimuth. Unlike :class:`ShiftMET`, this turns MET as well as
    rescaling it, so the transverse mass of a lepton and MET changes too.

    Parameters
    ----------
    pt_min : float, default=15.0
        Smallest pT of the invisible particle, in GeV.
    layout : str or EventLayout, default="adc2021"
        Event layout; the new momentum goes into its MET slot.

    Examples
    --------
    Three copies of one event with a muon: each view has the muon as it was and MET turned.

    >>> import torch
    >>> from sklearn_aclr.augmentations import AddInvisible
    >>> events = torch.zeros(3, 19, 4)
    >>> events[:, 0] = torch.tensor([40.0, 0.0, 1.0, 1.0])
    >>> events[:, 5] = torch.tensor([60.0, 0.3, -1.0, 3.0])
    >>> views = AddInvisible()(events, generator=torch.Generator().manual_seed(0))
    >>> torch.equal(views[:, 1:], events[:, 1:]), bool((views[:, 0, 2] != 1.0).all())
    (True, True)
    """

    def __init__(self, pt_min=15.0, layout="adc2021"):
        self.pt_min = pt_min
        super().__init__(layout)

    def __call__(self, events, *, generator):
        table = slot_table(self.layout, events)
        visible = (events[..., CLASS] != 0) & ~table.met
        largest = torch.where(visible, events[..., PT], 0.0).amax(dim=1, keepdim=True)
        shape = (len(events), 1)
        pt = uniform(shape, self.pt_min, largest.clamp(min=self.pt_min), generator=generator,
                     like=events)
        phi = uniform(shape, -math.pi, math.pi, generator=generator, like=events)
        invisible = torch.cat([pt * torch.cos(phi), pt * torch.sin(phi)], dim=1)
        met = transverse_vector(events, table.met.expand_as(visible))
        return set_met(events, table, met + invisible)


class _Rescale(_LayoutAugmentation):
    """Base of the augmentations that rescale pT by one log-uniform factor per event."""

    def __init__(self, factor_range=(1.5, 3.0), layout="adc2021"):
        self.factor_range = factor_range
        super().__init__(layout)

    def _factor(self, events, generator):
        """A factor (B, 1) per event, drawn as :class:`ShiftMET` describes."""
        return log_uniform_factor((len(events), 1), self.factor_range, generator=generator,
                                  like=events)


class ShiftMET(_Rescale):
    """Rescale MET by a factor between ``factor_range[0]`` and ``[1]``, up or down.

    The factor's logarithm is uniform, and half of the events are scaled down by its inverse:
    too much and too little missing energy are both unlike the background.

    Parameters
    ----------
    factor_range : tuple of float, default=(1.5, 3.0)
        Smallest and largest factor.
    layout : str or EventLayout, default="adc2021"
        Event layout: the slot of MET.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import ShiftMET
    >>> events = torch.zeros(1, 19, 4); events[0, 0] = torch.tensor([40.0, 0.0, 1.0, 1.0])
    >>> factor = ShiftMET()(events, generator=torch.Generator().manual_seed(0))[0, 0, 0] / 40
    >>> bool(factor >= 1.5 or factor <= 1 / 1.5)
    True
    """

    def __call__(self, events, *, generator):
        table = slot_table(self.layout, events)
        met = table.met.expand_as(events[..., PT])
        return _rescale_pt(events, met, self._factor(events, generator))


class ScalePT(_Rescale):
    """Rescale the pT of every lepton and jet of an event by one factor, up or down.

    MET is left as it is, so the event's balance breaks; objects scaled below their threshold
    are removed. An event that a downward factor would push out of the selection (its hardest
    lepton below 23 GeV for ADC2021) is scaled up by the inverse factor instead.

    Parameters
    ----------
    factor_range : tuple of float, default=(1.5, 3.0)
        Smallest and largest factor; see :class:`ShiftMET`.
    layout : str or EventLayout, default="adc2021"
        Event layout: slots, thresholds and the selection.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import ScalePT
    >>> met, muon = [40.0, 0.0, 1.0, 1.0], [60.0, 0.3, -1.0, 3.0]
    >>> events = torch.zeros(1, 19, 4)
    >>> events[0, 0], events[0, 5] = torch.tensor(met), torch.tensor(muon)
    >>> scaled = ScalePT()(events, generator=torch.Generator().manual_seed(0))
    >>> float(scaled[0, 0, 0]), bool(scaled[0, 5, 0] != 60.0)  # MET kept, muon rescaled
    (40.0, True)
    """

    def __call__(self, events, *, generator):
        table = slot_table(self.layout, events)
        scaled = (events[..., CLASS] != 0) & ~table.met
        factor = self._factor(events, generator)
        candidates = (events[..., CLASS] != 0) & table.trigger
        lead = torch.where(candidates, events[..., PT], 0.0).amax(dim=1, keepdim=True)
        fails = (factor < 1) & (lead * factor <= table.trigger_pt) & (lead > 0)
        out = _rescale_pt(events, scaled, torch.where(fails, 1 / factor, factor))
        kept = ~scaled | (out[..., PT] >= table.pt_min)
        return sort_slots(empty_slots(out, kept), table)


def _one_hot(index, n, dtype):
    """``F.one_hot(index, n)`` as ``dtype``, without its range check, which reads the indices
    back to the host (they are argsort outputs, in range by construction)."""
    return (index.unsqueeze(-1) == torch.arange(n, device=index.device)).to(dtype)


def _rescale_pt(events, selected, factor):
    """Multiply the pT of the ``selected`` (B, N) slots by a factor (B, 1) per event."""
    out = events.clone()
    out[..., PT] = torch.where(selected, events[..., PT] * factor, events[..., PT])
    return out
