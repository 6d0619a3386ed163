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
    ReorderingAugmentation,
    carry_into_met,
    empty_slots,
    log_uniform_factor,
    random_counts,
    set_met,
    slot_table,
    transverse_vector,
    trigger_object,
    uniform,
)

__all__ = ["AddInvisible", "AddObjects", "CollinearSplit", "ShiftMET", "ScalePT", "SwapMET"]

_VISIBLE = ("ele", "mu", "jet")


class _LayoutAugmentation(Augmentation):
    """Base of the augmentations whose only fixed parameter is the event layout."""

    def __init__(self, layout="adc2021"):
        self.layout = layout


class AddObjects(ReorderingAugmentation, _LayoutAugmentation):
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

    def _view(self, events, *, generator):
        table = slot_table(self.layout, events)
        visible = table.is_type(*_VISIBLE)
        free = (events[..., CLASS] == 0) & visible
        counts = random_counts(table.count_per_type(free), generator=generator)
        # A free slot is filled if it is among the first `count` free slots of its type.
        new = free & (table.rank_in_type(free) < table.per_slot(counts))

        max_pt = (events[..., PT] * visible).amax(dim=1, keepdim=True)  # (B, 1)
        low = table.pt_min
        u_pt, u_eta, u_phi = torch.rand(free.shape + (3,), generator=generator,
                                        device=events.device, dtype=events.dtype).unbind(-1)
        pt = low + (torch.maximum(max_pt, low) - low) * u_pt
        eta = table.eta_acceptance * (2 * u_eta - 1)
        phi = math.pi * (2 * u_phi - 1)
        added = torch.stack([pt, eta, phi, table.slot_class.expand_as(pt)], -1)
        return carry_into_met(events, events + empty_slots(added, new), table)


class CollinearSplit(ReorderingAugmentation, _LayoutAugmentation):
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

    def _view(self, events, *, generator):
        table = slot_table(self.layout, events)
        columns = events.unbind(-1)
        pt = columns[PT]
        visible = table.is_type(*_VISIBLE)
        present = columns[CLASS] != 0
        # What the parent must keep: the threshold, or for the selection lepton the selection
        # threshold (with a margin against rounding); the partner must pass the threshold.
        keep_min = torch.where(trigger_object(events, table),
                               table.pt_min.clamp(min=table.trigger_pt * (1 + 1e-3)),
                               table.pt_min)  # (B, N)
        splittable = present & visible & (pt >= keep_min + table.pt_min)
        free = ~present & visible
        capacity = torch.minimum(table.count_per_type(splittable), table.count_per_type(free))
        counts = table.per_slot(random_counts(capacity, generator=generator))  # (B, N)
        # Parents: a random choice among the splittable objects of each type; partners: the
        # first free slots of the type. The k-th parent of a type pairs with its k-th partner.
        u_parent, u_z = torch.rand(pt.shape + (2,), generator=generator, device=events.device,
                                   dtype=events.dtype).unbind(-1)
        parent_rank = table.rank_in_type(splittable, u_parent)
        free_rank = table.rank_in_type(free)
        parent = splittable & (parent_rank < counts)
        partner = free & (free_rank < counts)
        pairs = (parent.unsqueeze(2) & partner.unsqueeze(1) & table.same_block
                 & (parent_rank.unsqueeze(2) == free_rank.unsqueeze(1)))  # (B, parent, partner)

        # The parent keeps z of its pT, the partner takes 1 - z and the parent's direction.
        safe_pt = pt.clamp(min=1e-6)
        z_low = keep_min / safe_pt
        z_high = 1 - table.pt_min / safe_pt
        z = z_low + (torch.maximum(z_low, z_high) - z_low) * u_z
        z = torch.where(parent, z, 1.0)
        # pT is the first column (PT = 0)
        split_off = torch.stack([(1 - z) * pt, *columns[PT + 1:]], -1)  # (B, N, C)
        kept = torch.stack([z * pt, *columns[PT + 1:]], -1)
        # Each partner slot takes the split-off row of its parent: a sum with one term, exact
        # (a matrix product could round pT on GPUs that allow TF32).
        partners = (pairs.unsqueeze(-1) * split_off.unsqueeze(2)).sum(1)
        return kept + partners


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
        largest = (events[..., PT] * table.visible).amax(dim=1, keepdim=True)  # empty: pT 0
        shape = (len(events), 1)
        pt = uniform(shape, self.pt_min, largest.clamp(min=self.pt_min), generator=generator,
                     like=events)
        phi = uniform(shape, -math.pi, math.pi, generator=generator, like=events)
        invisible = torch.cat([pt * torch.cos(phi), pt * torch.sin(phi)], dim=1)
        met = transverse_vector(events, table.met.expand_as(events[..., PT]))
        return set_met(events, table, met + invisible)


class SwapMET(_LayoutAugmentation):
    """Give each event the missing transverse momentum of another event of the batch.

    The visible objects stay as they are and MET, magnitude and direction, is that of another
    background event. MET's distribution over the batch is unchanged, and so is every single
    object's: what the view breaks is only how MET goes with the visible objects (the
    balance of the event, the transverse mass of a lepton and MET, the angles between them).
    :class:`ShiftMET` and :class:`AddInvisible` change MET's size too, a cue that the encoder
    can learn from MET alone; this view can be told from the original only through the
    correlations, where W -> l nu and h+ -> tau nu differ. The donor is the event ``k`` places
    further on in the batch (cyclically), ``k`` drawn once per call between 1 and the batch
    size minus 1, so that no event keeps its own MET when the batch holds more than one.

    Parameters
    ----------
    layout : str or EventLayout, default="adc2021"
        Event layout: the slot of MET.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import SwapMET
    >>> events = torch.zeros(3, 19, 4)
    >>> events[:, 0] = torch.tensor([[10.0, 0.0, 1.0, 1.0], [20.0, 0.0, 2.0, 1.0],
    ...                              [30.0, 0.0, 3.0, 1.0]])
    >>> views = SwapMET()(events, generator=torch.Generator().manual_seed(0))
    >>> sorted(views[:, 0, 0].round().tolist()), bool((views[:, 0, 0] != events[:, 0, 0]).all())
    ([10.0, 20.0, 30.0], True)
    """

    def __call__(self, events, *, generator):
        table = slot_table(self.layout, events)
        n = len(events)
        # The shift k in [1, n - 1] stays on the device (no host synchronisation); a batch of
        # one event keeps its MET.
        u = torch.rand((), generator=generator, device=events.device, dtype=torch.float32)
        donor = (torch.arange(n, device=events.device) + 1 + (u * (n - 1)).long()) % n
        met = transverse_vector(events, table.met.expand_as(events[..., PT]))
        return set_met(events, table, met[donor])


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
        return _rescale_pt(events, table, "met", self._factor(events, generator))


class ScalePT(ReorderingAugmentation, _Rescale):
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

    def _view(self, events, *, generator):
        table = slot_table(self.layout, events)
        factor = self._factor(events, generator)
        columns = list(events.unbind(-1))
        pt = columns[PT]
        lead = (pt * table.trigger).amax(dim=1, keepdim=True)  # empty: pT 0
        fails = (factor < 1) & (lead * factor <= table.trigger_pt) & (lead > 0)
        factor = torch.where(fails, factor.reciprocal(), factor)
        columns[PT] = torch.where(table.visible, pt * factor, pt)
        gone = (columns[CLASS] != 0) & table.visible & (columns[PT] < table.pt_min)
        return empty_slots(torch.stack(columns, -1), ~gone)


def _rescale_pt(events, table, slots, factor):
    """Multiply the pT of the slots named ``slots`` ("met", "visible") by a factor (B, 1) per
    event."""
    return torch.where(table.cells(slots, PT, events.shape[-1]),
                       (events[..., PT] * factor).unsqueeze(-1), events)
