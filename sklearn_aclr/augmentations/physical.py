"""Physical augmentations: the positive views, symmetries and resolution effects of the detector.

An event and its physical view should share a representation: the physics did not change.
"""

import math

import torch

from sklearn_aclr.augmentations._base import (
    CLASS,
    ETA,
    PHI,
    PT,
    Augmentation,
    ReorderingAugmentation,
    carry_into_met,
    empty_slots,
    passes_selection,
    slot_table,
    uniform,
    wrap_phi,
)

__all__ = ["RotatePhi", "SmearEtaPhi", "SmearJetEnergy"]


class RotatePhi(Augmentation):
    """Rotate the whole event about the beam axis: one angle per event for every object.

    The azimuthal symmetry of the detector: every present object, MET included, is rotated by
    the same angle and phi is wrapped into [-pi, pi). Pairwise delta-phi and every pT are kept.

    Parameters
    ----------
    strength : float, default=1.0
        The angle is uniform in ``[-strength * pi, strength * pi)``; 1 is the full symmetry.
    layout : str or EventLayout, default="adc2021"
        Event layout.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import RotatePhi
    >>> events = torch.zeros(1, 19, 4)
    >>> events[0, 0] = torch.tensor([40.0, 0.0, 3.0, 1.0])   # MET
    >>> events[0, 1] = torch.tensor([30.0, 0.5, -3.0, 2.0])  # an electron
    >>> rotated = RotatePhi()(events, generator=torch.Generator().manual_seed(0))
    >>> dphi = rotated[0, 0, 2] - rotated[0, 1, 2]
    >>> round(float(torch.remainder(dphi, 2 * torch.pi)), 4)  # 6.0 wrapped
    6.0
    """

    def __init__(self, strength=1.0, layout="adc2021"):
        self.strength = strength
        self.layout = layout

    def __call__(self, events, *, generator):
        angle = uniform((len(events), 1), -math.pi, math.pi, generator=generator, like=events)
        columns = list(events.unbind(-1))
        rotated = wrap_phi(columns[PHI] + self.strength * angle)
        columns[PHI] = torch.where(columns[CLASS] != 0, rotated, columns[PHI])
        return torch.stack(columns, -1)


class SmearEtaPhi(ReorderingAugmentation):
    """Smear eta and phi of leptons and jets within the angular resolution; MET follows.

    ``eta' ~ N(eta, s)`` and ``phi' ~ N(phi, s)`` with
    ``s = strength * width * min(1, pt_ref / pT)``: ``width`` (0.028 by default, the value the
    AnomalyCLR authors use for soft objects) up to ``pt_ref``, falling as 1/pT above, where
    objects are measured more precisely. Objects pushed out of their acceptance
    (``|eta| >= eta_max``) are removed; phi is wrapped into [-pi, pi). The change of the
    objects' transverse momenta goes into MET, so the event stays balanced. An event whose view
    would fail the selection (its only lepton above 23 GeV smeared out of the acceptance)
    keeps its original angles.

    The events are already smeared once by the detector: a positive view is the same event as
    a second measurement could have seen it, not a new event.

    Parameters
    ----------
    strength : float, default=1.0
        Multiplies the width.
    width : float, default=0.028
        Resolution in eta and phi (radians) of objects below ``pt_ref``.
    pt_ref : float, default=25.0
        pT in GeV above which the resolution improves as ``pt_ref / pT``.
    layout : str or EventLayout, default="adc2021"
        Event layout, for the acceptance and the selection.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import SmearEtaPhi
    >>> events = torch.zeros(1000, 19, 4); events[:, 0, 3] = 1
    >>> events[:, 5] = torch.tensor([40.0, 0.0, 0.0, 3.0])     # a muon passing the selection
    >>> events[:, 1] = torch.tensor([10.0, 2.99, 0.0, 2.0])    # a soft electron at the edge
    >>> smeared = SmearEtaPhi()(events, generator=torch.Generator().manual_seed(0))
    >>> kept = smeared[:, 1, 3] > 0
    >>> abs(1 - float(kept.float().mean()) - 0.36) < 0.03  # removed: P(N(0, 0.028) > 0.01)
    True
    >>> bool((smeared[kept, 1, 1].abs() < 3.0).all())
    True
    """

    def __init__(self, strength=1.0, width=0.028, pt_ref=25.0, layout="adc2021"):
        self.strength = strength
        self.width = width
        self.pt_ref = pt_ref
        self.layout = layout

    def _view(self, events, *, generator):
        table = slot_table(self.layout, events)
        columns = list(events.unbind(-1))
        smeared = (columns[CLASS] != 0) & table.visible
        width = self.strength * self.width
        width = (width * self.pt_ref / columns[PT].clamp(min=1e-3)).clamp(max=width)
        noise = torch.randn(events.shape[:2] + (2,), generator=generator, device=events.device,
                            dtype=events.dtype) * width.unsqueeze(-1)
        d_eta, d_phi = noise.unbind(-1)
        eta = columns[ETA] + d_eta
        columns[ETA] = torch.where(smeared, eta, columns[ETA])
        columns[PHI] = torch.where(smeared, wrap_phi(columns[PHI] + d_phi), columns[PHI])
        out = torch.stack(columns, -1)
        gone = smeared & (eta.abs() >= table.eta_max)  # out of the acceptance
        out = carry_into_met(events, empty_slots(out, ~gone), table)
        keep = passes_selection(out, table) | ~passes_selection(events, table)
        return torch.where(keep.view(-1, 1, 1), out, events)


class SmearJetEnergy(ReorderingAugmentation):
    """Smear jet pT within the jet energy resolution; MET takes up the change.

    ``pT' ~ N(pT, strength * sigma)`` with the calorimeter resolution
    ``sigma = sqrt((constant * pT)^2 + stochastic^2 * pT)`` GeV. The defaults, 5% and
    150%/sqrt(pT), are the Delphes CMS jet resolution (sigma/pT = 0.084 at 500 GeV, 0.39 at
    15 GeV). The AnomalyCLR authors' code has ``sqrt(0.052 pT^2 + 1.502 pT)``, the same formula
    with the squares lost: ``constant=0.228, stochastic=1.226`` (sigma/pT = 0.235 at 500 GeV).
    Jets pushed below the jet threshold (15 GeV for ADC2021) are removed and the others
    re-ordered by pT; MET changes by minus the change of the jets' vector sum.

    The events are already smeared once by the detector: a positive view is the same event as
    a second measurement could have seen it.

    Parameters
    ----------
    strength : float, default=1.0
        Multiplies the resolution.
    constant : float, default=0.05
        Constant term of the relative resolution.
    stochastic : float, default=1.5
        Stochastic term, in sqrt(GeV).
    layout : str or EventLayout, default="adc2021"
        Event layout, for the jet slots and threshold.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aclr.augmentations import SmearJetEnergy
    >>> events = torch.zeros(10_000, 19, 4); events[:, 0, 3] = 1
    >>> events[:, 9] = torch.tensor([100.0, 0.0, 0.0, 4.0])
    >>> smeared = SmearJetEnergy()(events, generator=torch.Generator().manual_seed(0))
    >>> jet = smeared[:, 9]
    >>> sigma = float(jet[jet[:, 3] > 0, 0].std())  # sqrt(5^2 + 1.5^2 * 100) = 15.8 GeV
    >>> abs(sigma / 15.8 - 1) < 0.05
    True
    >>> float(smeared[0, 0, 0] - abs(jet[0, 0] - 100)) < 1e-3  # MET takes the difference
    True
    """

    def __init__(self, strength=1.0, constant=0.05, stochastic=1.5, layout="adc2021"):
        self.strength = strength
        self.constant = constant
        self.stochastic = stochastic
        self.layout = layout

    def _view(self, events, *, generator):
        table = slot_table(self.layout, events)
        columns = list(events.unbind(-1))
        jets = (columns[CLASS] != 0) & table.is_type("jet")
        pt = columns[PT]
        variance = (self.strength * self.constant) ** 2 * pt**2 + (
            self.strength * self.stochastic) ** 2 * pt
        noise = torch.randn(pt.shape, generator=generator, device=pt.device, dtype=pt.dtype)
        smeared = pt + torch.sqrt(variance) * noise
        columns[PT] = torch.where(jets, smeared, pt)
        out = torch.stack(columns, -1)
        gone = jets & (smeared < table.pt_min)  # below the jet threshold
        return carry_into_met(events, empty_slots(out, ~gone), table)
